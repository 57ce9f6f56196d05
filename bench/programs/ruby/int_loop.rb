# An integer accumulator (immediate Fixnums): the interpreter loop alone.
x = 0
(ARGV[0] || 2_000_000).to_i.times { |i| x += i }
puts x
