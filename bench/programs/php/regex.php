<?php
// Regular expressions (PCRE): scan a generated log for dates, addresses and key=value pairs, then rewrite it.
$lines = [];
for ($i = 0; $i < 2000; $i++) {
    $lines[] = sprintf("2024-%02d-%02d host%d.example.org user=u%d status=%d bytes=%d path=/a/b%d/c%d.html",
        $i % 12 + 1, $i % 28 + 1, $i % 17, $i % 97, 200 + $i % 5 * 100, $i * 37 % 100000, $i % 13, $i);
}
$log = implode("\n", $lines);
$rounds = (int)($argv[1] ?? 10);
$found = 0;
for ($r = 0; $r < $rounds; $r++) {
    $found += preg_match_all('/(\d{4})-(\d{2})-(\d{2})/', $log) + preg_match_all('/(\w+)=([^\s]+)/', $log);
    preg_match_all('/\bhost(\d+)\.example\.org\b/', $log, $m);
    foreach ($m[1] as $h) if ((int)$h % 2) $found++;
    $rewritten = preg_replace('/(\d{4})-(\d{2})-(\d{2})/', '$3/$2/$1', $log);
}
echo $found, " ", strlen($rewritten), " ", substr($rewritten, 0, 40), "\n";
