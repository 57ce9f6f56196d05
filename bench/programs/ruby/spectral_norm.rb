# Spectral norm of A(i, j) = 1 / ((i + j)(i + j + 1) / 2 + i + 1), by power iteration.
def a(i, j) = 1.0 / ((i + j) * (i + j + 1) / 2 + i + 1)

def times(v)
  n = v.size
  Array.new(n) { |i| s = 0.0; n.times { |j| s += a(i, j) * v[j] }; s }
end

def times_transposed(v)
  n = v.size
  Array.new(n) { |i| s = 0.0; n.times { |j| s += a(j, i) * v[j] }; s }
end

n = (ARGV[0] || 100).to_i
u = Array.new(n, 1.0)
v = nil
10.times { v = times_transposed(times(u)); u = times_transposed(times(v)) }
vbv = vv = 0.0
n.times { |i| vbv += u[i] * v[i]; vv += v[i] * v[i] }
printf("%.9f\n", Math.sqrt(vbv / vv))
