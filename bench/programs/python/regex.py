"""Regular expressions: scan a generated log for dates, addresses and key=value pairs, then rewrite it."""
import re
import sys

lines = []
for i in range(2000):
    lines.append(f"2024-{i % 12 + 1:02d}-{i % 28 + 1:02d} host{i % 17}.example.org user=u{i % 97} "
                 f"status={200 + i % 5 * 100} bytes={i * 37 % 100000} path=/a/b{i % 13}/c{i}.html")
log = "\n".join(lines)
rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 10
date = re.compile(r"(\d{4})-(\d{2})-(\d{2})")
pair = re.compile(r"(\w+)=([^\s]+)")
host = re.compile(r"\bhost(\d+)\.example\.org\b")
found = 0
for _ in range(rounds):
    found += len(date.findall(log)) + len(pair.findall(log))
    found += sum(1 for m in host.finditer(log) if int(m.group(1)) % 2)
    rewritten = date.sub(r"\3/\2/\1", log)
print(found, len(rewritten), rewritten[:40])
