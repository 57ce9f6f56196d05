<?php
// JSON round trip: build a nested document of records, encode and decode it repeatedly, print a digest.
$records = [];
for ($i = 0; $i < 1000; $i++) {
    $records[] = ["id" => $i, "name" => "item-$i", "price" => $i * 0.25, "tags" => ["a", "b", (string)($i % 7)],
                  "active" => $i % 3 == 0, "parent" => $i % 5 ? null : intdiv($i, 5),
                  "dims" => ["w" => $i % 11, "h" => $i % 13, "d" => [$i, $i + 1, $i + 2]]];
}
$doc = ["records" => $records];
$rounds = (int)($argv[1] ?? 20);
$total = 0;
for ($r = 0; $r < $rounds; $r++) {
    $text = json_encode($doc);
    $doc = json_decode($text, true);
    $total += strlen($text);
}
$w = 0;
foreach ($doc["records"] as $rec) $w += $rec["dims"]["w"];
echo "$total $w\n";
