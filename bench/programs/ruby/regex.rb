# Regular expressions (Onigmo): scan a generated log for dates, addresses and key=value pairs, then rewrite it.
lines = (0...2000).map do |i|
  format("2024-%02d-%02d host%d.example.org user=u%d status=%d bytes=%d path=/a/b%d/c%d.html",
         i % 12 + 1, i % 28 + 1, i % 17, i % 97, 200 + i % 5 * 100, i * 37 % 100000, i % 13, i)
end
log = lines.join("\n")
found = 0
rewritten = nil
(ARGV[0] || 10).to_i.times do
  found += log.scan(/(\d{4})-(\d{2})-(\d{2})/).size + log.scan(/(\w+)=([^\s]+)/).size
  log.scan(/\bhost(\d+)\.example\.org\b/) { |(h)| found += 1 if h.to_i.odd? }
  rewritten = log.gsub(/(\d{4})-(\d{2})-(\d{2})/, '\3/\2/\1')
end
puts "#{found} #{rewritten.bytesize} #{rewritten[0, 40]}"
