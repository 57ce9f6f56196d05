# String building: concatenation, formatting, joining, splitting and case changes.
total = 0
(ARGV[0] || 20).to_i.times do
  parts = []
  s = +""
  5000.times { |i| parts << format("%d:%s", i, "x" * (i % 10)); s << (i % 10).to_s }
  joined = parts.join(",")
  words = joined.split(",")
  upper = joined.upcase.tr("X", "y")
  total += joined.bytesize + words.size + upper.count("y") + s.bytesize
end
puts total
