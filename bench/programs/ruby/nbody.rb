# N-body: the Jovian planets, symplectic Euler steps; prints the energy before and after.
SOLAR_MASS = 4 * 3.14159265358979323**2
DAYS_PER_YEAR = 365.24

bodies = [
  [0.0, 0.0, 0.0, 0.0, 0.0, 0.0, SOLAR_MASS],
  [4.84143144246472090e+00, -1.16032004402742839e+00, -1.03622044471123109e-01,
   1.66007664274403694e-03 * DAYS_PER_YEAR, 7.69901118419740425e-03 * DAYS_PER_YEAR,
   -6.90460016972063023e-05 * DAYS_PER_YEAR, 9.54791938424326609e-04 * SOLAR_MASS],
  [8.34336671824457987e+00, 4.12479856412430479e+00, -4.03523417114321381e-01,
   -2.76742510726862411e-03 * DAYS_PER_YEAR, 4.99852801234917238e-03 * DAYS_PER_YEAR,
   2.30417297573763929e-05 * DAYS_PER_YEAR, 2.85885980666130812e-04 * SOLAR_MASS],
  [1.28943695621391310e+01, -1.51111514016986312e+01, -2.23307578892655734e-01,
   2.96460137564761618e-03 * DAYS_PER_YEAR, 2.37847173959480950e-03 * DAYS_PER_YEAR,
   -2.96589568540237556e-05 * DAYS_PER_YEAR, 4.36624404335156298e-05 * SOLAR_MASS],
  [1.53796971148509165e+01, -2.59193146099879641e+01, 1.79258772950371181e-01,
   2.68067772490389322e-03 * DAYS_PER_YEAR, 1.62824170038242295e-03 * DAYS_PER_YEAR,
   -9.51592254519715870e-05 * DAYS_PER_YEAR, 5.15138902046611451e-05 * SOLAR_MASS],
]

def energy(bodies)
  e = 0.0
  bodies.each_with_index do |a, i|
    e += 0.5 * a[6] * (a[3] * a[3] + a[4] * a[4] + a[5] * a[5])
    bodies[(i + 1)..].each do |b|
      dx = a[0] - b[0]; dy = a[1] - b[1]; dz = a[2] - b[2]
      e -= a[6] * b[6] / Math.sqrt(dx * dx + dy * dy + dz * dz)
    end
  end
  e
end

px = py = pz = 0.0
bodies.each { |b| px += b[3] * b[6]; py += b[4] * b[6]; pz += b[5] * b[6] }
bodies[0][3] = -px / SOLAR_MASS; bodies[0][4] = -py / SOLAR_MASS; bodies[0][5] = -pz / SOLAR_MASS
printf("%.9f\n", energy(bodies))
steps = (ARGV[0] || 1000).to_i
dt = 0.01
pairs = []
bodies.each_with_index { |a, i| bodies[(i + 1)..].each { |b| pairs << [a, b] } }
steps.times do
  pairs.each do |a, b|
    dx = a[0] - b[0]; dy = a[1] - b[1]; dz = a[2] - b[2]
    d2 = dx * dx + dy * dy + dz * dz
    mag = dt / (d2 * Math.sqrt(d2))
    bm = b[6] * mag; am = a[6] * mag
    a[3] -= dx * bm; a[4] -= dy * bm; a[5] -= dz * bm
    b[3] += dx * am; b[4] += dy * am; b[5] += dz * am
  end
  bodies.each { |b| b[0] += dt * b[3]; b[1] += dt * b[4]; b[2] += dt * b[5] }
end
printf("%.9f\n", energy(bodies))
