"""JSON round trip: build a nested document of records, encode and decode it repeatedly, print a digest."""
import json
import sys


def document(n):
    return {"records": [{"id": i, "name": f"item-{i}", "price": i * 0.25, "tags": ["a", "b", str(i % 7)],
                         "active": i % 3 == 0, "parent": None if i % 5 else i // 5,
                         "dims": {"w": i % 11, "h": i % 13, "d": [i, i + 1, i + 2]}} for i in range(n)]}


rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 20
doc = document(1000)
total = 0
for _ in range(rounds):
    text = json.dumps(doc, sort_keys=True)
    doc = json.loads(text)
    total += len(text)
print(total, sum(r["dims"]["w"] for r in doc["records"]))
