<?php
// String building: concatenation, formatting, joining, splitting and case changes.
$rounds = (int)($argv[1] ?? 20);
$total = 0;
for ($r = 0; $r < $rounds; $r++) {
    $parts = []; $s = "";
    for ($i = 0; $i < 5000; $i++) { $parts[] = sprintf("%d:%s", $i, str_repeat("x", $i % 10)); $s .= (string)($i % 10); }
    $joined = implode(",", $parts);
    $words = explode(",", $joined);
    $upper = str_replace("X", "y", strtoupper($joined));
    $total += strlen($joined) + count($words) + substr_count($upper, "y") + strlen($s);
}
echo $total, "\n";
