# A float accumulator: on wasm32 every Float is a heap object (no flonums), so this measures allocation and GC.
x = 0.0
(ARGV[0] || 2_000_000).to_i.times { x += 0.1 }
printf("%.3f\n", x)
