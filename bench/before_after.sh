#!/usr/bin/env bash
# before_after.sh - two smbdx builds against each other in one sitting, interleaved rounds: each
# round runs `smbdx serve` (RAM share, EncryptData) and `smbdx bench` from build A, then from build
# B, on loopback. Prints per build and op the median GB/s and client CPU-s/GB with ranges, and the
# B/A ratio of the medians: the before/after figure a change to the TCP path reports.
#
#   bench/before_after.sh OLD_SMBDX NEW_SMBDX      # ROUNDS=4 SIZE=1m DEPTH=8 DURATION=4 CIPHER=aes-128-gcm
# Build the old one from a worktree of the commit before the change (cargo build --release).
# The anchor each row prints (raw loopback TCP) is measured by each build's own bench; compare GB/s,
# not the vs-TCP ratios, when the two builds measure their anchors differently.
# The rows (medians, build A's and B's as transports "A tcp" and "B tcp") and their plot are left in
# target/bench/before_after.{json,svg} ($BENCH_OUT).
set -euo pipefail
[ $# -eq 2 ] || { sed -n '2,12p' "$0"; exit 2; }
A=$(realpath "$1") B=$(realpath "$2")
cd "$(dirname "$0")/.."
ROUNDS=${ROUNDS:-4} SIZE=${SIZE:-1m} DEPTH=${DEPTH:-8} DURATION=${DURATION:-4} CIPHER=${CIPHER:-aes-128-gcm}
dir=$(mktemp -d /dev/shm/smbdx-ab.XXXXXX)
out=$(mktemp)
trap 'rm -rf "$dir" "$out" "$out.rows"' EXIT
for r in $(seq "$ROUNDS"); do
  for side in A B; do
    bin=$A; [ "$side" = B ] && bin=$B
    "$bin" serve --listen 127.0.0.1:4555 --share "ab=$dir,encrypt-data" --user u:p --reactors 1 >/dev/null 2>&1 &
    srv=$!
    for _ in $(seq 50); do (exec 3<>/dev/tcp/127.0.0.1/4555) 2>/dev/null && break; sleep 0.1; done
    SMBDX_PASSWORD=p "$bin" bench smb://u@127.0.0.1:4555/ab --op read,write --size "$SIZE" --depth "$DEPTH" \
      --duration "$DURATION" --cipher "$CIPHER" --file-size 256m --json 2>/dev/null \
      | sed -n "s/^{/$side {/p" >>"$out" || true
    kill "$srv"; wait "$srv" 2>/dev/null || true
  done
done
python3 - "$out" "$A" "$B" <<'PY'
import json, statistics, sys
rows = [(l.split(" ", 1)[0], json.loads(l.split(" ", 1)[1])) for l in open(sys.argv[1]) if l.strip()]
print(f"# A = {sys.argv[2]}\n# B = {sys.argv[3]}")
print("# loopback, RAM share, EncryptData; medians over interleaved rounds [ranges]")
for op in ("read", "write"):
    med = {}
    for side in ("A", "B"):
        g = [j["gbps"] for s, j in rows if s == side and j["op"] == op]
        c = [j["client_cpu_s_per_gb"] for s, j in rows if s == side and j["op"] == op and j["client_cpu_s_per_gb"]]
        if not g:
            print(f"{op:5} {side}: no rows"); continue
        med[side] = statistics.median(g)
        print(f"{op:5} {side}: {med[side]:.3f} GB/s [{min(g):.3f}-{max(g):.3f}] over {len(g)} rounds, "
              f"client {statistics.median(c):.2f} CPU-s/GB [{min(c):.2f}-{max(c):.2f}]")
    if len(med) == 2:
        print(f"{op:5} B/A: {med['B'] / med['A']:.2f}x")
PY
. bench/scripts/plot-rows.sh
python3 bench/scripts/median_rows.py <"$out" >"$out.rows"
plot_rows before_after "$out.rows" "$B"
