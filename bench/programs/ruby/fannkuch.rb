# Fannkuch-redux: the maximum number of pancake flips over all permutations of 1..n, and a checksum.
def fannkuch(n)
  perm1 = (0...n).to_a
  count = Array.new(n, 0)
  max_flips = checksum = 0
  sign = 1
  r = n
  loop do
    while r != 1
      count[r - 1] = r
      r -= 1
    end
    perm = perm1.dup
    flips = 0
    while (k = perm[0]) != 0
      perm[0..k] = perm[0..k].reverse!
      flips += 1
    end
    max_flips = flips if flips > max_flips
    checksum += flips * sign
    loop do
      return [checksum, max_flips] if r == n
      first = perm1[0]
      perm1[0, r] = perm1[1, r]
      perm1[r] = first
      count[r] -= 1
      break if count[r] > 0
      r += 1
    end
    sign = -sign
  end
end

n = (ARGV[0] || 7).to_i
checksum, flips = fannkuch(n)
puts checksum
puts "Pfannkuchen(#{n}) = #{flips}"
