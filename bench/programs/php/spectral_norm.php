<?php
// Spectral norm of A(i, j) = 1 / ((i + j)(i + j + 1) / 2 + i + 1), by power iteration.
function a(int $i, int $j): float { return 1.0 / (intdiv(($i + $j) * ($i + $j + 1), 2) + $i + 1); }
function times(array $v): array {
    $n = count($v); $out = [];
    for ($i = 0; $i < $n; $i++) { $s = 0.0; for ($j = 0; $j < $n; $j++) $s += a($i, $j) * $v[$j]; $out[] = $s; }
    return $out;
}
function times_transposed(array $v): array {
    $n = count($v); $out = [];
    for ($i = 0; $i < $n; $i++) { $s = 0.0; for ($j = 0; $j < $n; $j++) $s += a($j, $i) * $v[$j]; $out[] = $s; }
    return $out;
}
$n = (int)($argv[1] ?? 100);
$u = array_fill(0, $n, 1.0);
for ($k = 0; $k < 10; $k++) { $v = times_transposed(times($u)); $u = times_transposed(times($v)); }
$vbv = 0.0; $vv = 0.0;
for ($i = 0; $i < $n; $i++) { $vbv += $u[$i] * $v[$i]; $vv += $v[$i] * $v[$i]; }
printf("%.9f\n", sqrt($vbv / $vv));
