#!/usr/bin/env bash
# The smbdx client against Samba's smbclient, and smbdx against itself, in one run (issue 4's
# benchmark). All encrypted with AES-128-GCM, loopback only, 1 GiB:
#   1. raw loopback TCP (the anchor; `smbdx bench` measures it beside its rows),
#   2. smbclient get/put of a 1 GiB file against a private Samba smbd (medians of REPEATS),
#   3. `smbdx bench` (1 MiB reads and writes, depth 8) against the same Samba, and `smbdx cp` of
#      the same file both ways (whole-file, like smbclient),
#   4. `smbdx bench` against two `smbdx serve`s, ROUNDS times: one shares a directory on the disk
#      (beside Samba's), one a directory in RAM (tmpfs, RAM_DIR). `smbdx bench` measures raw TCP
#      just before and just after each row; the ratio is taken per row and reported as the median
#      over the rounds with its range.
#   5. the disk's own O_DIRECT write rate (4 dd's overwriting files with 1 MiB writes at once, like
#      the server's 4 writer threads), before and after each disk round: large WRITEs reach the disk before they
#      are answered, so on a disk slower than 0.7x TCP the disk share's writes are the disk's
#      figure, and the RAM share is what shows the engine (TCP, AES-GCM on both sides, the file
#      layer) against raw TCP.
# Prints GB/s of each and the ratios the issue asks for, plus CPU-s/GB of client and server.
#
#   bench/client_vs_smbclient.sh                 # SIZE_MIB=1024 REPEATS=3 DURATION=10 ROUNDS=5
# Needs: smbclient, samba, root (Samba maps users to Unix accounts).
set -euo pipefail
cd "$(dirname "$0")/.."
SIZE_MIB=${SIZE_MIB:-1024}
REPEATS=${REPEATS:-3}
DURATION=${DURATION:-10}
DEPTH=${DEPTH:-8}
ROUNDS=${ROUNDS:-5}
USER_NAME=smbdxbench
PASS=bench-Pa55word
source bench/scripts/samba_env.sh

# SMBDX_BIN: measure another build (e.g. the commit before a change, for a before/after in one sitting).
if [ -n "${SMBDX_BIN:-}" ]; then BIN=$(readlink -f "$SMBDX_BIN"); else
  cargo build --release --quiet -p smbdx
  BIN=$PWD/target/release/smbdx
fi
WORK=$(mktemp -d)
RAM=$(mktemp -d -p "${RAM_DIR:-/dev/shm}")
[ "$(stat -f -c %T "$RAM")" = tmpfs ] || { echo "RAM_DIR must be on tmpfs" >&2; exit 1; }
stop_smbdx() { for p in ${SMBDX_PIDS:-}; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null || true; done; SMBDX_PIDS=; }
trap 'samba_stop; stop_smbdx; rm -rf "$WORK" "$RAM"' EXIT
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

serve() { # share_dir -> SERVE_PORT, SERVE_PID (also kept in SMBDX_PIDS for stop_smbdx)
  SERVE_PORT=$(free_port)
  "$BIN" serve --listen "127.0.0.1:$SERVE_PORT" --share "data=$1,encrypt-data" \
    --user "$USER_NAME:$PASS" --ciphers aes-128-gcm ${SMBDX_SERVE_ARGS:-} 2>>"$WORK/smbdx.log" &
  SERVE_PID=$!
  SMBDX_PIDS="${SMBDX_PIDS:-} $SERVE_PID"
  for _ in $(seq 100); do (exec 3<>/dev/tcp/127.0.0.1/"$SERVE_PORT") 2>/dev/null && break; sleep 0.1; done
}
# The disk's O_DIRECT rate, like for like with the benchmark's WRITEs, which overwrite a file that
# exists: 4 x 256 MiB of 1 MiB writes at once over files written beforehand (writing new blocks
# measured a third slower here), GB/s.
mkdir -p "$WORK/disk-anchor"
for i in 0 1 2 3; do head -c 256M /dev/zero >"$WORK/disk-anchor/dd$i"; done
disk_gbps() {
  local t0 t1 i pids=()
  sync
  t0=$(date +%s.%N)
  for i in 0 1 2 3; do
    dd if=/dev/zero of="$WORK/disk-anchor/dd$i" bs=1M count=256 oflag=direct conv=notrunc 2>/dev/null &
    pids+=($!)
  done
  wait "${pids[@]}"
  t1=$(date +%s.%N)
  echo "4 * 256 * 1048576 / 1000000000 / ($t1 - $t0)" | bc -l
}
with_disk() { # disk_gbps -> each JSON line on stdin with it added
  python3 -c 'import json,sys; [print(json.dumps(dict(json.loads(l), disk_gbps=float(sys.argv[1])))) for l in sys.stdin if l.strip()]' "$1"
}
serve "$WORK/smbdx-share"; XPORT=$SERVE_PORT; DISK_PID=$SERVE_PID
serve "$RAM"; RPORT=$SERVE_PORT; RAM_PID=$SERVE_PID
DISK_JSON=; RAM_JSON=
for _ in $(seq "$ROUNDS"); do
  d0=$(disk_gbps)
  j=$(bench_json "$XPORT" "$DISK_PID")
  d1=$(disk_gbps)
  j=$(with_disk "$(echo "($d0 + $d1) / 2" | bc -l)" <<<"$j")
  DISK_JSON+=$j$'\n'
  r=$(bench_json "$RPORT" "$RAM_PID")
  RAM_JSON+=$r$'\n'
  # Every round, so a reader sees the spread behind the medians.
  python3 -c '
import json, sys
for share, text in (("disk", sys.argv[1]), ("RAM", sys.argv[2])):
    for l in text.splitlines():
        r = json.loads(l)
        disk = " (disk O_DIRECT %.2f GB/s)" % r["disk_gbps"] if "disk_gbps" in r else ""
        print("round: %-4s %-5s %.2f GB/s, raw TCP %.2f-%.2f GB/s: %.2fx%s" % (share, r["op"], r["gbps"],
              r["anchor_tcp_gbps_before"], r["anchor_tcp_gbps_after"], r["vs_tcp"], disk))
' "$j" "$r"
done
stop_smbdx

# Per op over the rounds: median GB/s, CPU-s/GB, anchor, and the per-round ratio to the anchor.
rounds() { # json op key -> median (key: gbps, client, server, anchor, ratio, ratio_range, disk, disk_ratio)
  python3 -c '
import json, statistics, sys
op, key = sys.argv[1], sys.argv[2]
rows = [json.loads(l) for l in sys.stdin if l.strip() and json.loads(l)["op"] == op]
col = {"gbps": [r["gbps"] for r in rows], "client": [r["client_cpu_s_per_gb"] for r in rows],
       "server": [r["server_cpu_s_per_gb"] for r in rows], "anchor": [r["anchor_tcp_gbps"] for r in rows],
       "ratio": [r["gbps"] / r["anchor_tcp_gbps"] for r in rows],
       "disk": [r.get("disk_gbps", 0) for r in rows],
       "disk_ratio": [r["gbps"] / r["disk_gbps"] for r in rows if r.get("disk_gbps")]}
if key == "ratio_range":
    print("%.2f-%.2f" % (min(col["ratio"]), max(col["ratio"])))
else:
    print(statistics.median(col[key]))
' "$2" "$3" <<<"$1"
}
TCP=$(rounds "$RAM_JSON$DISK_JSON" read anchor)
row() { printf '%-40s %8.3f GB/s  client %5s CPU-s/GB  server %5s CPU-s/GB\n' "$1" "$2" "$3" "$4"; }
fmt() { printf '%.2f' "$1"; }
echo
echo "# AES-128-GCM, loopback, ${SIZE_MIB} MiB; smbdx bench: 1 MiB I/O, depth $DEPTH, ${DURATION}s (smbdx server: medians of $ROUNDS rounds); smbclient: medians of $REPEATS"
printf '%-34s %8.3f GB/s\n' "raw loopback TCP (anchor, median)" "$TCP"
printf '%-34s %8.3f GB/s\n' "disk O_DIRECT, 4 writers (median)" "$(rounds "$DISK_JSON" write disk)"
printf '%-34s %8.3f GB/s\n' "smbclient put -> Samba" "$SC_PUT"
printf '%-34s %8.3f GB/s\n' "smbclient get <- Samba" "$SC_GET"
printf '%-34s %8.3f GB/s\n' "smbdx cp put -> Samba" "$CP_PUT"
printf '%-34s %8.3f GB/s\n' "smbdx cp get <- Samba" "$CP_GET"
for op in write read; do
  row "smbdx bench $op, Samba server" "$(field "$SAMBA_JSON" $op gbps)" \
    "$(fmt "$(field "$SAMBA_JSON" $op client_cpu_s_per_gb)")" "$(fmt "$(field "$SAMBA_JSON" $op server_cpu_s_per_gb)")"
done
for share in disk RAM; do
  if [ $share = disk ]; then J=$DISK_JSON; else J=$RAM_JSON; fi
  for op in write read; do
    row "smbdx bench $op, smbdx server, $share" "$(rounds "$J" $op gbps)" \
      "$(fmt "$(rounds "$J" $op client)")" "$(fmt "$(rounds "$J" $op server)")"
  done
done
ratio() { printf '%.2f' "$(echo "$1 / $2" | bc -l)"; }
SW=$(field "$SAMBA_JSON" write gbps); SR=$(field "$SAMBA_JSON" read gbps)
XW=$(rounds "$DISK_JSON" write gbps); XR=$(rounds "$DISK_JSON" read gbps)
echo
echo "ratios (goal):"
echo "  smbdx client vs smbclient, same Samba:   write $(ratio "$SW" "$SC_PUT")x  read $(ratio "$SR" "$SC_GET")x  (>= 1.5)"
echo "    (whole-file smbdx cp vs smbclient:      put $(ratio "$CP_PUT" "$SC_PUT")x  get $(ratio "$CP_GET" "$SC_GET")x)"
echo "  smbdx<->smbdx vs Samba<->smbclient (both on the disk): write $(ratio "$XW" "$SC_PUT")x  read $(ratio "$XR" "$SC_GET")x  (>= 2)"
for share in RAM disk; do
  if [ $share = disk ]; then J=$DISK_JSON; else J=$RAM_JSON; fi
  printf '  smbdx<->smbdx vs raw loopback TCP, %-4s share: write %.2fx (%s)  read %.2fx (%s)  (>= 0.7; median of %s rounds, each row against its own anchor)\n' \
    $share "$(rounds "$J" write ratio)" "$(rounds "$J" write ratio_range)" "$(rounds "$J" read ratio)" "$(rounds "$J" read ratio_range)" "$ROUNDS"
done
printf '  smbdx<->smbdx writes, disk share, vs the disk O_DIRECT rate of the same round: %.2fx\n' "$(rounds "$DISK_JSON" write disk_ratio)"
# The rows behind the figures (medians over rounds: smbdx bench against smbd, against smbdx with
# the share on disk and in RAM) and their plot: target/bench/client_vs_smbclient.{json,svg}.
. bench/scripts/plot-rows.sh
{ sed 's/^{/smbd {/' <<<"$SAMBA_JSON"; sed 's/^{/smbdx-disk {/' <<<"$DISK_JSON"
  sed 's/^{/smbdx-ram {/' <<<"$RAM_JSON"; } | python3 bench/scripts/median_rows.py >"$WORK/rows.json"
plot_rows client_vs_smbclient "$WORK/rows.json" "$BIN"
