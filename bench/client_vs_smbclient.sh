#!/usr/bin/env bash
# The smbdx client against Samba's smbclient, and smbdx against itself, in one run (issue 4's
# benchmark). All encrypted with AES-128-GCM, loopback only, 1 GiB:
#   1. raw loopback TCP (the anchor; `smbdx bench` measures it beside its rows),
#   2. smbclient get/put of a 1 GiB file against a private Samba smbd (medians of REPEATS),
#   3. `smbdx bench` (1 MiB reads and writes, depth 8) against the same Samba, and `smbdx cp` of
#      the same file both ways (whole-file, like smbclient),
#   4. `smbdx bench` against `smbdx serve`, ROUNDS times, each round with its own anchor: the
#      ratio to raw TCP is taken per round and reported as the median with its range.
# Prints GB/s of each and the ratios the issue asks for, plus CPU-s/GB of client and server.
#
#   bench/client_vs_smbclient.sh                 # SIZE_MIB=1024 REPEATS=3 DURATION=10 ROUNDS=3
# Needs: smbclient, samba, root (Samba maps users to Unix accounts).
set -euo pipefail
cd "$(dirname "$0")/.."
SIZE_MIB=${SIZE_MIB:-1024}
REPEATS=${REPEATS:-3}
DURATION=${DURATION:-10}
DEPTH=${DEPTH:-8}
ROUNDS=${ROUNDS:-3}
USER_NAME=smbdxbench
PASS=bench-Pa55word
source bench/scripts/samba_env.sh

cargo build --release --quiet -p smbdx
BIN=$PWD/target/release/smbdx
WORK=$(mktemp -d)
trap 'samba_stop; [ -n "${SMBDX_PID:-}" ] && kill "$SMBDX_PID" 2>/dev/null; rm -rf "$WORK"' EXIT
mkdir -p "$WORK"/{samba-share,smbdx-share,local}
head -c "$((SIZE_MIB << 20))" /dev/urandom >"$WORK/local/file.bin"
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
median() { sort -g | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
gb=$(echo "$SIZE_MIB * 1048576 / 1000000000" | bc -l)

smbclient_gbps() { # port op -> median GB/s
  local port=$1 op=$2 cmd t0 t1 r
  for r in $(seq "$REPEATS"); do
    if [ "$op" = put ]; then cmd="put file.bin up.bin"; else cmd="get up.bin down.bin"; fi
    # Dirty pages left by the previous transfer would throttle this one's writes.
    sync
    t0=$(date +%s.%N)
    (cd "$WORK/local" && smbclient //127.0.0.1/data -p "$port" -U "$USER_NAME%$PASS" -m SMB3 \
       --option='client smb encrypt=required' -c "$cmd" >/dev/null)
    t1=$(date +%s.%N)
    echo "$gb / ($t1 - $t0)" | bc -l
  done | median
}

smbdx_cp_gbps() { # port op -> median GB/s of `smbdx cp` of the same file, the same way round
  local port=$1 op=$2 t0 t1 r
  for r in $(seq "$REPEATS"); do
    # Dirty pages left by the previous transfer would throttle this one's writes.
    sync
    t0=$(date +%s.%N)
    if [ "$op" = put ]; then
      SMBDX_PASSWORD=$PASS "$BIN" cp -q "$WORK/local/file.bin" "smb://$USER_NAME@127.0.0.1:$port/data/cp.bin" \
        --require-privacy --ciphers aes-128-gcm
    else
      SMBDX_PASSWORD=$PASS "$BIN" cp -q "smb://$USER_NAME@127.0.0.1:$port/data/cp.bin" "$WORK/local/cp-down.bin" \
        --require-privacy --ciphers aes-128-gcm
    fi
    t1=$(date +%s.%N)
    echo "$gb / ($t1 - $t0)" | bc -l
  done | median
}

bench_json() { # port server_pid -> JSON lines of smbdx bench
  sync
  SMBDX_PASSWORD=$PASS "$BIN" bench "smb://$USER_NAME@127.0.0.1:$1/data" --op read,write --size 1m \
    --depth "$DEPTH" --cipher aes-128-gcm --file-size "${SIZE_MIB}m" --duration "$DURATION" \
    --server-pid "$2" --json
}
field() { # json op key
  grep "\"op\":\"$2\"" <<<"$1" | python3 -c "import json,sys; print(json.loads(sys.stdin.readline())['$3'])"
}

SPORT=$(free_port)
samba_start "$WORK/samba" "$SPORT" "$WORK/samba-share" "$USER_NAME" "$PASS" required
SC_PUT=$(smbclient_gbps "$SPORT" put)
SC_GET=$(smbclient_gbps "$SPORT" get)
CP_PUT=$(smbdx_cp_gbps "$SPORT" put)
CP_GET=$(smbdx_cp_gbps "$SPORT" get)
cmp -s "$WORK/local/file.bin" "$WORK/local/cp-down.bin" || { echo "smbdx cp: downloaded file differs" >&2; exit 1; }
SAMBA_JSON=$(bench_json "$SPORT" "$SAMBA_PID")
samba_stop

XPORT=$(free_port)
"$BIN" serve --listen "127.0.0.1:$XPORT" --share "data=$WORK/smbdx-share,encrypt-data" \
  --user "$USER_NAME:$PASS" --ciphers aes-128-gcm ${SMBDX_SERVE_ARGS:-} 2>"$WORK/smbdx.log" &
SMBDX_PID=$!
for _ in $(seq 100); do (exec 3<>/dev/tcp/127.0.0.1/"$XPORT") 2>/dev/null && break; sleep 0.1; done
SMBDX_JSON=$(for _ in $(seq "$ROUNDS"); do bench_json "$XPORT" "$SMBDX_PID"; done)
kill "$SMBDX_PID"; wait "$SMBDX_PID" 2>/dev/null || true; SMBDX_PID=

# Per op over the rounds: median GB/s, CPU-s/GB, anchor, and the per-round ratio to the anchor.
rounds() { # op key -> median (key: gbps, client, server, anchor, ratio, ratio_range)
  python3 -c '
import json, statistics, sys
op, key = sys.argv[1], sys.argv[2]
rows = [json.loads(l) for l in sys.stdin if l.strip() and json.loads(l)["op"] == op]
col = {"gbps": [r["gbps"] for r in rows], "client": [r["client_cpu_s_per_gb"] for r in rows],
       "server": [r["server_cpu_s_per_gb"] for r in rows], "anchor": [r["anchor_tcp_gbps"] for r in rows],
       "ratio": [r["gbps"] / r["anchor_tcp_gbps"] for r in rows]}
if key == "ratio_range":
    print("%.2f-%.2f" % (min(col["ratio"]), max(col["ratio"])))
else:
    print(statistics.median(col[key]))
' "$1" "$2" <<<"$SMBDX_JSON"
}
TCP=$(rounds read anchor)
row() { printf '%-34s %8.3f GB/s  client %5s CPU-s/GB  server %5s CPU-s/GB\n' "$1" "$2" "$3" "$4"; }
fmt() { printf '%.2f' "$1"; }
echo
echo "# AES-128-GCM, loopback, ${SIZE_MIB} MiB; smbdx bench: 1 MiB I/O, depth $DEPTH, ${DURATION}s (smbdx server: medians of $ROUNDS rounds); smbclient: medians of $REPEATS"
printf '%-34s %8.3f GB/s\n' "raw loopback TCP (anchor, median)" "$TCP"
printf '%-34s %8.3f GB/s\n' "smbclient put -> Samba" "$SC_PUT"
printf '%-34s %8.3f GB/s\n' "smbclient get <- Samba" "$SC_GET"
printf '%-34s %8.3f GB/s\n' "smbdx cp put -> Samba" "$CP_PUT"
printf '%-34s %8.3f GB/s\n' "smbdx cp get <- Samba" "$CP_GET"
for op in write read; do
  row "smbdx bench $op, Samba server" "$(field "$SAMBA_JSON" $op gbps)" \
    "$(fmt "$(field "$SAMBA_JSON" $op client_cpu_s_per_gb)")" "$(fmt "$(field "$SAMBA_JSON" $op server_cpu_s_per_gb)")"
done
for op in write read; do
  row "smbdx bench $op, smbdx server" "$(rounds $op gbps)" \
    "$(fmt "$(rounds $op client)")" "$(fmt "$(rounds $op server)")"
done
ratio() { printf '%.2f' "$(echo "$1 / $2" | bc -l)"; }
SW=$(field "$SAMBA_JSON" write gbps); SR=$(field "$SAMBA_JSON" read gbps)
XW=$(rounds write gbps); XR=$(rounds read gbps)
echo
echo "ratios (goal):"
echo "  smbdx client vs smbclient, same Samba:   write $(ratio "$SW" "$SC_PUT")x  read $(ratio "$SR" "$SC_GET")x  (>= 1.5)"
echo "    (whole-file smbdx cp vs smbclient:      put $(ratio "$CP_PUT" "$SC_PUT")x  get $(ratio "$CP_GET" "$SC_GET")x)"
echo "  smbdx<->smbdx vs Samba<->smbclient:      write $(ratio "$XW" "$SC_PUT")x  read $(ratio "$XR" "$SC_GET")x  (>= 2)"
printf '  smbdx<->smbdx vs raw loopback TCP:       write %.2fx (%s)  read %.2fx (%s)  (>= 0.7; median of %s rounds, each against its own anchor)\n' \
  "$(rounds write ratio)" "$(rounds write ratio_range)" "$(rounds read ratio)" "$(rounds read ratio_range)" "$ROUNDS"
