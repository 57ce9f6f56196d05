"""String building: concatenation, formatting, joining, splitting and case changes."""
import sys

rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 20
total = 0
for r in range(rounds):
    parts = []
    s = ""
    for i in range(5000):
        parts.append("%d:%s" % (i, "x" * (i % 10)))
        s += str(i % 10)
    joined = ",".join(parts)
    words = joined.split(",")
    upper = joined.upper().replace("X", "y")
    total += len(joined) + len(words) + upper.count("y") + len(s)
print(total)
