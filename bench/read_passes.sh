#!/usr/bin/env bash
# read_passes.sh - encrypted READs sealed straight from the page cache (`--read-path map`, one pass
# over the data) against read into the response and sealed there (`--read-path copy`, two), with raw
# loopback TCP as the anchor, in interleaved rounds: each round runs `smbdx serve` (RAM share,
# EncryptData, one reactor, aws-lc-rs) and `smbdx bench` once per read path. Prints per path the
# median GB/s, server and client CPU-s/GB with ranges, the map/copy ratios, and each path against
# the raw TCP anchor measured in the same rows.
#
#   bench/read_passes.sh        # ROUNDS=4 SIZE=1m DEPTH=8 DURATION=4 CIPHER=aes-128-gcm
# Rows (medians, the read path as the transport) and their plot: target/bench/read_passes.{json,svg}.
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${ROUNDS:-4} SIZE=${SIZE:-1m} DEPTH=${DEPTH:-8} DURATION=${DURATION:-4} CIPHER=${CIPHER:-aes-128-gcm}
BIN=${SMBDX:-target/release/smbdx}
[ -x "$BIN" ] || cargo build --release -q -p smbdx
. bench/scripts/plot-rows.sh
dir=$(mktemp -d /dev/shm/smbdx-passes.XXXXXX)
out=$(mktemp)
trap 'rm -rf "$dir" "$out" "$out.rows"' EXIT
for r in $(seq "$ROUNDS"); do
  for path in copy map; do
    "$BIN" serve --listen 127.0.0.1:4556 --share "p=$dir,encrypt-data" --user u:p --reactors 1 \
      --crypto-backend aws-lc-rs --read-path "$path" >/dev/null 2>&1 &
    srv=$!
    for _ in $(seq 50); do (exec 3<>/dev/tcp/127.0.0.1/4556) 2>/dev/null && break; sleep 0.1; done
    SMBDX_PASSWORD=p "$BIN" bench smb://u@127.0.0.1:4556/p --op read --size "$SIZE" --depth "$DEPTH" \
      --duration "$DURATION" --cipher "$CIPHER" --file-size 256m --server-pid "$srv" --json 2>/dev/null \
      | sed -n "s/^{/$path {/p" >>"$out" || true
    kill "$srv"; wait "$srv" 2>/dev/null || true
  done
done
python3 - "$out" "$ROUNDS" >"$out.rows" <<'PY'
import json, statistics, sys
rows = [(l.split(" ", 1)[0], json.loads(l.split(" ", 1)[1])) for l in open(sys.argv[1]) if l.strip()]
print(f"# encrypted {rows[0][1]['cipher']} READs of {rows[0][1]['size']} bytes, loopback, RAM share; "
      f"{sys.argv[2]} interleaved rounds, medians [ranges]", file=sys.stderr)
med = {}
for path in ("copy", "map"):
    r = [d for p, d in rows if p == path]
    if not r:
        continue
    def m(k):
        v = [d[k] for d in r if isinstance(d.get(k), (int, float))]
        return (statistics.median(v), min(v), max(v)) if v else (float("nan"),) * 3
    g, s, c, t = m("gbps"), m("server_cpu_s_per_gb"), m("client_cpu_s_per_gb"), m("anchor_tcp_gbps")
    vs = statistics.median(d["gbps"] / d["anchor_tcp_gbps"] for d in r if d.get("anchor_tcp_gbps"))
    med[path] = (g[0], s[0])
    print(f"{path:<5} {g[0]:.2f} GB/s [{g[1]:.2f}-{g[2]:.2f}]  server {s[0]:.3f} CPU-s/GB [{s[1]:.3f}-{s[2]:.3f}]  "
          f"client {c[0]:.3f} [{c[1]:.3f}-{c[2]:.3f}]  raw TCP {t[0]:.2f} GB/s  vs TCP {vs:.2f}", file=sys.stderr)
    print(json.dumps({"transport": path, "cipher": r[0]["cipher"], "op": "read", "size": r[0]["size"],
                      "gbps": g[0], "anchor_tcp_gbps": t[0]}))
if len(med) == 2:
    print(f"map/copy: {med['map'][0] / med['copy'][0]:.2f}x GB/s, {med['map'][1] / med['copy'][1]:.2f}x server CPU-s/GB",
          file=sys.stderr)
PY
plot_rows read_passes "$out.rows" "$BIN"
echo "# CPU: $(lscpu | sed -n 's/^Model name: *//p' | head -n 1)"
