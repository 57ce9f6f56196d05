# JSON round trip: build a nested document of records, encode and decode it repeatedly, print a digest.
require "json"

records = (0...1000).map do |i|
  { "id" => i, "name" => "item-#{i}", "price" => i * 0.25, "tags" => ["a", "b", (i % 7).to_s],
    "active" => (i % 3).zero?, "parent" => (i % 5).zero? ? i / 5 : nil,
    "dims" => { "w" => i % 11, "h" => i % 13, "d" => [i, i + 1, i + 2] } }
end
doc = { "records" => records }
total = 0
(ARGV[0] || 20).to_i.times do
  text = JSON.generate(doc)
  doc = JSON.parse(text)
  total += text.bytesize
end
puts "#{total} #{doc["records"].sum { |r| r["dims"]["w"] }}"
