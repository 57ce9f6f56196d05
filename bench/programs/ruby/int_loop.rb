# An integer accumulator that stays a Fixnum: the interpreter loop alone. On wasm32 a Fixnum
# holds 31 bits, so the sum of the indices themselves (2e12 for 2M) would turn into a Bignum
# after 46,000 iterations and time Bignum arithmetic and its garbage instead; the masked
# index keeps the sum of 2M iterations below 2^28 on every platform.
x = 0
(ARGV[0] || 2_000_000).to_i.times { |i| x += i & 255 }
puts x
