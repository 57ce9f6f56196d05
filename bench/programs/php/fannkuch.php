<?php
// Fannkuch-redux: the maximum number of pancake flips over all permutations of 1..n, and a checksum.
function fannkuch(int $n): array {
    $perm1 = range(0, $n - 1); $count = array_fill(0, $n, 0);
    $maxFlips = 0; $checksum = 0; $sign = 1; $r = $n;
    while (true) {
        while ($r != 1) { $count[$r - 1] = $r; $r--; }
        $perm = $perm1; $flips = 0;
        while (($k = $perm[0]) != 0) {
            for ($i = 0, $j = $k; $i < $j; $i++, $j--) { $t = $perm[$i]; $perm[$i] = $perm[$j]; $perm[$j] = $t; }
            $flips++;
        }
        if ($flips > $maxFlips) $maxFlips = $flips;
        $checksum += $flips * $sign;
        while (true) {
            if ($r == $n) return [$checksum, $maxFlips];
            $first = $perm1[0];
            for ($i = 0; $i < $r; $i++) $perm1[$i] = $perm1[$i + 1];
            $perm1[$r] = $first;
            $count[$r]--;
            if ($count[$r] > 0) break;
            $r++;
        }
        $sign = -$sign;
    }
}
$n = (int)($argv[1] ?? 7);
[$checksum, $flips] = fannkuch($n);
echo "$checksum\nPfannkuchen($n) = $flips\n";
