"""median_rows.py: `smbdx bench --json` rows of several rounds -> one row per line and size, for a plot.

Reads lines "{json}" or "LABEL {json}" on stdin (other lines are skipped) and prints, per (LABEL,
transport, cipher, op, size), one row whose gbps and anchor_tcp_gbps are the medians over the rounds;
a LABEL becomes part of the transport ("A tcp"), so two builds or settings draw as two lines.
"""
import json
import statistics
import sys

groups = {}
for line in sys.stdin:
    label, _, rest = line.strip().partition(" {")
    text = "{" + rest if rest else (label if label.startswith("{") else "")
    if not text:
        continue
    try:
        row = json.loads(text)
    except ValueError:
        continue
    if not rest:
        label = ""
    transport = f"{label} {row.get('transport', '')}".strip()
    key = (transport, row.get("cipher", ""), row.get("op", ""), row.get("size", 0))
    groups.setdefault(key, []).append(row)
for (transport, cipher, op, size), rows in sorted(groups.items()):
    out = {"transport": transport, "cipher": cipher, "op": op, "size": size,
           "gbps": statistics.median(r["gbps"] for r in rows if "gbps" in r)}
    anchors = [r["anchor_tcp_gbps"] for r in rows if isinstance(r.get("anchor_tcp_gbps"), (int, float))]
    if anchors:
        out["anchor_tcp_gbps"] = statistics.median(anchors)
    print(json.dumps(out))
