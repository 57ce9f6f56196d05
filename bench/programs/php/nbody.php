<?php
// N-body: the Jovian planets, symplectic Euler steps; prints the energy before and after.
const PI = 3.14159265358979323;
const SOLAR_MASS = 4 * PI * PI;
const DAYS_PER_YEAR = 365.24;

function bodies(): array {
    return [
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
    ];
}

function energy(array $b): float {
    $e = 0.0;
    $n = count($b);
    for ($i = 0; $i < $n; $i++) {
        $e += 0.5 * $b[$i][6] * ($b[$i][3] ** 2 + $b[$i][4] ** 2 + $b[$i][5] ** 2);
        for ($j = $i + 1; $j < $n; $j++) {
            $dx = $b[$i][0] - $b[$j][0]; $dy = $b[$i][1] - $b[$j][1]; $dz = $b[$i][2] - $b[$j][2];
            $e -= $b[$i][6] * $b[$j][6] / sqrt($dx * $dx + $dy * $dy + $dz * $dz);
        }
    }
    return $e;
}

$b = bodies();
$px = $py = $pz = 0.0;
foreach ($b as $body) { $px += $body[3] * $body[6]; $py += $body[4] * $body[6]; $pz += $body[5] * $body[6]; }
$b[0][3] = -$px / SOLAR_MASS; $b[0][4] = -$py / SOLAR_MASS; $b[0][5] = -$pz / SOLAR_MASS;
printf("%.9f\n", energy($b));
$steps = (int)($argv[1] ?? 1000);
$n = count($b);
$dt = 0.01;
for ($s = 0; $s < $steps; $s++) {
    for ($i = 0; $i < $n; $i++) {
        for ($j = $i + 1; $j < $n; $j++) {
            $dx = $b[$i][0] - $b[$j][0]; $dy = $b[$i][1] - $b[$j][1]; $dz = $b[$i][2] - $b[$j][2];
            $d2 = $dx * $dx + $dy * $dy + $dz * $dz;
            $mag = $dt / ($d2 * sqrt($d2));
            $bm = $b[$j][6] * $mag; $am = $b[$i][6] * $mag;
            $b[$i][3] -= $dx * $bm; $b[$i][4] -= $dy * $bm; $b[$i][5] -= $dz * $bm;
            $b[$j][3] += $dx * $am; $b[$j][4] += $dy * $am; $b[$j][5] += $dz * $am;
        }
    }
    for ($i = 0; $i < $n; $i++) {
        $b[$i][0] += $dt * $b[$i][3]; $b[$i][1] += $dt * $b[$i][4]; $b[$i][2] += $dt * $b[$i][5];
    }
}
printf("%.9f\n", energy($b));
