#!/usr/bin/env bash
# soak.sh - a long run of `smbdx serve` (20 minutes by default; not in CI) under CLIENTS client loops
# that keep connecting, doing mixed I/O and disconnecting, to show that nothing piles up: open
# descriptors, threads and memory (and, over SMB Direct, queue pairs and registered memory regions)
# are the same at the end as after warm-up.
#
# Each client loop runs the `smbdx` CLI over and over, every command a connection of its own (connect,
# log on, I/O, disconnect), in a fixed rotation: upload and download of files of 0 B to 8 MiB on the
# encrypt-data share (tree encryption, all four ciphers in turn), on the plain share with
# --require-privacy (session encryption) and with --ciphers none --require-signing (signed, each
# signing algorithm in turn), a directory tree up and down with mkdir/mv/ls/stat/rm around it, a
# one-second `smbdx bench --op mixed` (pipelined READs and WRITEs, 64 KiB or 1 MiB, depth 8), a
# 128 MiB upload or download killed with SIGKILL 5-44 ms in (a client that vanishes mid-transfer),
# and an unencrypted tree connect to the encrypt-data share, which must be refused (exit 5). Every
# byte is checked: each upload against the file on the share's disk, each download against the
# source. A command that exits otherwise than expected, hangs for 120 s or moves wrong data is an
# error; so is a server log line at ERROR level or a panic.
#
# "After warm-up" and "end" are quiesced states: at WARMUP seconds the clients pause between two
# commands (at the end they stop), the script waits for the server's connection, session and open
# file gauges (admin /metrics) to reach 0, lets SETTLE (35) seconds pass (every connection leaves a
# logon-deadline wake with the server's delay thread, holding its handle until the deadline, 30 s
# after it connected, even when it closed long before; tiny_http's spare admin workers exit after
# 5 s idle), then samples /proc/PID: open descriptors, Threads, VmRSS and RssAnon, and the heap's
# live bytes as glibc counts them (malloc_stats(), called in the server by gdb when gdb is there;
# HEAP=0 skips it), and over SMB Direct the server's QPs, MRs, CQs and PDs from the kernel's
# `rdma resource` tracking.
# Descriptors, threads, QPs, CQs and PDs must be equal; MRs too (the engine registers its buffer
# pools' batches once per reactor and never frees them, so a stationary load has registered all it
# will within warm-up); RssAnon may grow by RSS_TOL_MIB (16) at most, not 0: glibc malloc keeps
# freed memory in its per-thread arenas (reactors, helper threads, admin workers) and trims a heap
# only past a threshold that itself grows with the largest freed blocks, so a quiesced server holds
# anywhere between its idle floor and its working peak (on the 2-core development machine RssAnon
# ran at 4-30 MiB under load and sat at 3-11 MiB quiesced, up or down from one quiesced sample to
# the next). 16 MiB over the 9,000 connections of a 5-minute run is 1.8 KiB per connection, over the
# ~30,000 of 20 minutes about 550 B. The heap's live bytes are the finer check: they may grow by
# HEAP_TOL_KIB (512) at most, not 0, because glibc counts the chunks its per-thread caches hold
# (tcache: up to 7 free chunks of each size up to 1 KiB, per thread) as in use, and those fill as
# the threads meet more sizes: in a 15-minute run (QUIESCE_EVERY=120) the live heap grew by 120, 75,
# 38, 29, 19, 19 and 13 KiB per ~3,000 connections, 313 KiB in all, flattening, where anything kept
# per connection or per session (hundreds of bytes at least) would grow it by the same amount each
# time. The table prints both growths per connection. VmRSS (which adds mapped page cache: READs
# sealed from the page cache map the files) is reported, not checked. Exits 1 on a leak or any error.
#
#   bench/soak.sh                       # SOAK_SECS=1200 WARMUP=120 CLIENTS=4 INTERVAL=10
#   SOAK_SECS=300 WARMUP=60 bench/soak.sh
#   RDMA=1 bench/soak.sh                # SMB Direct: needs an RDMA device (rxe or an RNIC), root
#                                       # (per-process `rdma resource` listing), and builds
#                                       # --features rdma; RDMA_DEVICE, RDMA_ADDR pick the device
#                                       # and its IPv4 address (default: the first device's)
# Knobs: RSS_TOL_MIB=16, HEAP_TOL_KIB=512, SETTLE=35, QUIESCE_EVERY=0 (seconds between more quiesced
# samples after warm-up, for the trend), BIG_MIB=128, SOAK_DIR (where the shares and client files live;
# default /dev/shm), SMBDX (the binary), SMBDX_SERVE_ARGS (more `serve` options).
# Samples every INTERVAL seconds (not quiesced, for the trend): target/bench/soak.tsv.
set -euo pipefail
cd "$(dirname "$0")/.."
SOAK_SECS=${SOAK_SECS:-1200} WARMUP=${WARMUP:-120} CLIENTS=${CLIENTS:-4} INTERVAL=${INTERVAL:-10}
RSS_TOL_MIB=${RSS_TOL_MIB:-16} HEAP_TOL_KIB=${HEAP_TOL_KIB:-512} SETTLE=${SETTLE:-35} BIG_MIB=${BIG_MIB:-128}
RDMA=${RDMA:-0} QUIESCE_EVERY=${QUIESCE_EVERY:-0} HEAP=${HEAP:-$(command -v gdb >/dev/null && echo 1 || echo 0)}
[ "$WARMUP" -lt "$SOAK_SECS" ] || { echo "soak.sh: WARMUP ($WARMUP) must be below SOAK_SECS ($SOAK_SECS)" >&2; exit 2; }
BIN=${SMBDX:-target/release/smbdx}
PASS=soak-Pa55word

HOST=127.0.0.1 CONN=()
if [ "$RDMA" = 1 ]; then
  RDMA_DEVICE=${RDMA_DEVICE:-$(find /sys/class/infiniband -mindepth 1 -maxdepth 1 -printf '%f\n' 2>/dev/null | sort | head -n 1 || true)}
  if [ -z "$RDMA_DEVICE" ]; then
    echo "soak.sh: RDMA=1 but this host has no RDMA device (/sys/class/infiniband is empty); SoftRoCE:" \
      "modprobe rdma_rxe && rdma link add rxe0 type rxe netdev <nic>" >&2
    exit 2
  fi
  rdma -j res show qp >/dev/null || { echo "soak.sh: RDMA=1 needs the rdma tool (iproute2) and the kernel's resource tracking" >&2; exit 2; }
  [ "$(id -u)" = 0 ] || { echo "soak.sh: RDMA=1 needs root (the kernel lists other processes' QPs and MRs to root)" >&2; exit 2; }
  if [ -z "${RDMA_ADDR:-}" ]; then
    ndev=$(cat "/sys/class/infiniband/$RDMA_DEVICE/ports/1/gid_attrs/ndevs/0" 2>/dev/null || true)
    RDMA_ADDR=$(ip -4 -o addr show dev "$ndev" 2>/dev/null | awk '{sub("/.*", "", $4); print $4; exit}')
  fi
  [ -n "$RDMA_ADDR" ] || { echo "soak.sh: no IPv4 address on $RDMA_DEVICE's netdev; set RDMA_ADDR" >&2; exit 2; }
  HOST=$RDMA_ADDR
  if ! { [ -x "$BIN" ] && "$BIN" devices >/dev/null 2>&1; }; then
    cargo build --release -q -p smbdx --features rdma
    BIN=target/release/smbdx
  fi
else
  [ -x "$BIN" ] || cargo build --release -q -p smbdx
fi

W=$(mktemp -d "${SOAK_DIR:-/dev/shm}/smbdx-soak.XXXXXX")
SRV='' CLIENT_PIDS=()
cleanup() {
  touch "$W/stop" 2>/dev/null || true
  for p in "${CLIENT_PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  [ -n "$SRV" ] && kill "$SRV" 2>/dev/null && wait "$SRV" 2>/dev/null
  rm -rf "$W"
}
trap cleanup EXIT
mkdir -p "$W"/share/{enc,plain} target/bench

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
PORT=$(free_port) APORT=$(free_port)
SERVE=(--listen "$HOST:$PORT")
if [ "$RDMA" = 1 ]; then
  RPORT=${RDMA_PORT:-$(free_port)}
  SERVE+=(--rdma "$HOST:$RPORT" --rdma-device "$RDMA_DEVICE")
  CONN=(--transport rdma --rdma-port "$RPORT" --rdma-device "$RDMA_DEVICE")
fi
# The 128 MiB file the killed transfers move, on both shares (downloads) and locally (uploads).
head -c "$((BIG_MIB << 20))" /dev/urandom >"$W/big.bin"
cp "$W/big.bin" "$W/share/enc/big.bin"; cp "$W/big.bin" "$W/share/plain/big.bin"

# shellcheck disable=SC2086 # SMBDX_SERVE_ARGS is a list of options
"$BIN" serve "${SERVE[@]}" --share "enc=$W/share/enc,encrypt-data" --share "plain=$W/share/plain" \
  --user "soak:$PASS" --admin "127.0.0.1:$APORT" ${SMBDX_SERVE_ARGS:-} >"$W/server.log" 2>&1 &
SRV=$!
metrics() { curl -sf --max-time 10 "http://127.0.0.1:$APORT/metrics"; }
for _ in $(seq 100); do metrics >/dev/null 2>&1 && break; sleep 0.1; done
metrics >/dev/null || { echo "soak.sh: the server did not come up:" >&2; cat "$W/server.log" >&2; exit 1; }

# ------------------------------------------------------------------------------------------ clients
CIPHERS=(aes-128-gcm aes-256-gcm aes-128-ccm aes-256-ccm)
SIGNING=(aes-gmac aes-cmac hmac-sha256)
SIZES=(0 1 4095 65536 65537 1048579 4194303 8392705)

client() { # ID: runs until $W/stop exists; its totals in $W/cID/stats
  local id=$1 n=0 runs=0 bytes=0 errors=0 aborts=0 bench=0 kind size src url rc c
  local d=$W/c$id base="smb://soak@$HOST:$PORT"
  RANDOM=$((id * 7919 + BASHPID))
  mkdir -p "$d/tree/a" "$d/tree/b"
  for size in "${SIZES[@]}"; do head -c "$size" /dev/urandom >"$d/src.$size"; done
  for k in $(seq 24); do head -c $((RANDOM % 20000)) /dev/urandom >"$d/tree/$([ $((k % 2)) = 0 ] && echo a || echo b)/f$k"; done
  stats() { echo "$runs $bytes $errors $aborts $n $bench" >"$d/stats"; }
  fail() { errors=$((errors + 1)); echo "client $id, iteration $n: $*" >>"$W/errors.log"; }
  run() { # WANT_RC ARGS...: one smbdx command (one connection at least)
    local want=$1 rc=0
    shift
    runs=$((runs + 1))
    SMBDX_PASSWORD=$PASS timeout 120 "$BIN" "$@" "${CONN[@]}" >"$d/out" 2>"$d/err" || rc=$?
    [ "$rc" = "$want" ] && return 0
    fail "smbdx $* -> exit $rc (wanted $want): $(head -c 600 "$d/err")"
    return 1
  }
  updown() { # SHARE SIZE CONNARGS...: upload, check on disk, download, check, remove
    local share=$1 size=$2 name="c$id-$n.bin"
    shift 2
    src=$d/src.$size
    # A fresh stamp at the head of each file, so that stale data cannot pass for this iteration's.
    [ "$size" -ge 16 ] && printf '%016x' "$((id << 40 | n))" | dd of="$src" bs=16 count=1 conv=notrunc status=none
    run 0 cp -q "$src" "$base/$share/$name" "$@" || return 0
    cmp -s "$src" "$W/share/$share/$name" || fail "upload of $size B to $share differs on the share's disk"
    run 0 cp -q "$base/$share/$name" "$d/down" "$@" || return 0
    cmp -s "$src" "$d/down" || fail "download of $size B from $share differs from what was uploaded"
    bytes=$((bytes + 2 * size))
    rm -f "$d/down"
    run 0 rm "$base/$share/$name" "$@" || true
  }
  while [ ! -e "$W/stop" ]; do
    if [ -e "$W/pause" ]; then
      touch "$d/paused"
      while [ -e "$W/pause" ] && [ ! -e "$W/stop" ]; do sleep 0.1; done
      rm -f "$d/paused"
      continue
    fi
    n=$((n + 1))
    kind=$(((n + id) % 8))
    size=${SIZES[$(((n / 8 + id) % ${#SIZES[@]}))]}
    c=${CIPHERS[$((n % 4))]}
    case $kind in
      0|6) updown enc "$size" --ciphers "$c" ;;                      # tree encryption (EncryptData share)
      1) updown plain "$size" --require-privacy --ciphers "$c" ;;    # session encryption
      2|7) updown plain "$size" --ciphers none --require-signing --signing "${SIGNING[$((n % 3))]}" ;;
      3) # one session, many opens: a tree up, renamed, listed, down, removed
        url=$base/plain/c$id-tree-$n
        if run 0 cp -r -q "$d/tree" "$url" && run 0 mv "$url" "c$id-moved-$n" &&
          run 0 ls "$base/plain/c$id-moved-$n/a" && run 0 stat "$base/plain/c$id-moved-$n/b" &&
          run 0 cp -r -q "$base/plain/c$id-moved-$n" "$d/treedown"; then
          diff -r -q "$d/tree" "$d/treedown" >/dev/null || fail "tree downloaded differs"
          bytes=$((bytes + 2 * $(du -sb --apparent-size "$d/tree" | cut -f1)))
          if run 0 mkdir "$base/plain/c$id-moved-$n/new"; then run 0 rm -r "$base/plain/c$id-moved-$n" || true; fi
        fi
        rm -rf "$d/treedown" ;;
      4) # pipelined READs and WRITEs, encrypted or signed
        if [ $((n % 2)) = 0 ]; then url=$base/enc/c$id-bench; c=aes-128-gcm; else url=$base/plain/c$id-bench; c=none; fi
        if run 0 bench "$url" --op mixed --size "$([ $((n % 4)) -lt 2 ] && echo 64k || echo 1m)" --depth 8 \
          --duration 1 --file-size 16m --no-anchor --json --cipher "$c"; then
          k=$(sed -n 's/.*"bytes":\([0-9]*\).*/\1/p' "$d/out" | head -n 1)
          bench=$((bench + ${k:-0}))
        fi ;;
      5) # a client that vanishes mid-transfer; then the unencrypted tree connect that must be refused
        if [ $((n % 2)) = 0 ]; then
          SMBDX_PASSWORD=$PASS "$BIN" cp -q "$W/big.bin" "$base/enc/c$id-killed.bin" "${CONN[@]}" >/dev/null 2>&1 &
        else
          SMBDX_PASSWORD=$PASS "$BIN" cp -q "$base/plain/big.bin" "$d/killed.bin" "${CONN[@]}" >/dev/null 2>&1 &
        fi
        local p=$!
        runs=$((runs + 1))
        sleep "$(printf '0.%03d' $((RANDOM % 40 + 5)))"
        kill -9 "$p" 2>/dev/null && aborts=$((aborts + 1))
        wait "$p" 2>/dev/null || true
        rm -f "$d/killed.bin" "$d"/killed.bin.smbdx-partial
        # What a killed upload left: the file, or (killed before the end) the client's partial file.
        for k in c$id-killed.bin c$id-killed.bin.smbdx-partial; do
          rc=0; SMBDX_PASSWORD=$PASS "$BIN" rm "$base/enc/$k" "${CONN[@]}" >/dev/null 2>&1 || rc=$?
          runs=$((runs + 1))
          [ "$rc" = 0 ] || [ "$rc" = 6 ] || fail "rm $k after a killed upload: exit $rc"
        done
        run 5 ls "$base/enc/" --ciphers none || true ;;
    esac
    stats
  done
  stats
}

for i in $(seq "$CLIENTS"); do client "$i" & CLIENT_PIDS+=($!); done

# ------------------------------------------------------------------------------------------ samples
gauge() { awk -v m="$1" '$1 ~ "^" m "([{]|$)" {s += $2} END {printf "%.0f", s}'; } # sums a metric's series
rdma_count() { # KIND: the server's resources of that kind (qp, mr, cq, pd) in the kernel's tracking
  rdma -j res show "$1" 2>/dev/null | python3 -c '
import json, sys
def walk(v):
    if isinstance(v, dict):
        if "pid" in v: yield v["pid"]
        else:
            for x in v.values(): yield from walk(x)
    elif isinstance(v, list):
        for x in v: yield from walk(x)
print(sum(1 for p in walk(json.load(sys.stdin)) if p == int(sys.argv[1])))' "$SRV"
}
# One sample: fds threads vmrss_kib rssanon_kib conns sessions opens accepted rx_bytes tx_bytes qp mr cq pd
# ("-" for the last four over TCP). The metrics are read first, so that the admin request's own
# socket is closed when /proc is read.
sample() {
  local m fds
  m=$(metrics)
  sleep 0.2
  fds=$(find "/proc/$SRV/fd" -mindepth 1 -maxdepth 1 | wc -l)
  printf '%s %s %s %s %s %s %s %s' "$fds" \
    "$(awk '/^Threads:/ {t = $2} /^VmRSS:/ {r = $2} /^RssAnon:/ {a = $2} END {print t, r, a}' "/proc/$SRV/status")" \
    "$(gauge smbdx_connections <<<"$m")" "$(gauge smbdx_sessions <<<"$m")" "$(gauge smbdx_open_files <<<"$m")" \
    "$(gauge smbdx_connections_accepted_total <<<"$m")" "$(gauge smbdx_reactor_received_bytes_total <<<"$m")" \
    "$(gauge smbdx_reactor_sent_bytes_total <<<"$m")"
  if [ "$RDMA" = 1 ]; then
    printf ' %s %s %s %s\n' "$(rdma_count qp)" "$(rdma_count mr)" "$(rdma_count cq)" "$(rdma_count pd)"
  else
    echo ' - - - -'
  fi
}
# The heap's live bytes and the bytes malloc holds from the system, both in KiB, from glibc's own
# totals: gdb has the server call malloc_stats(), which writes them to its stderr (the server log).
# Unlike RssAnon this does not move with what the allocator retains. "- -" without gdb or ptrace.
heap() {
  local n
  n=$(grep -c '^Total (incl. mmap):' "$W/server.log" || true)
  if [ "$HEAP" = 1 ]; then
    timeout 60 gdb -p "$SRV" -batch -nx -ex 'call (void)malloc_stats()' >/dev/null 2>&1 || true
  fi
  awk -v n="${n:-0}" '/^Total \(incl. mmap\):/ {t = 1; k++; next}
    t && /^system bytes/ {sys = $4} t && /^in use bytes/ {use = $5; t = 0}
    END {if (k > n) printf "%.0f %.0f\n", use / 1024, sys / 1024; else print "- -"}' "$W/server.log"
}
T0=$(date +%s)
TSV=target/bench/soak.tsv
echo "t_s phase fds threads vmrss_kib rssanon_kib connections sessions open_files accepted rx_bytes tx_bytes qp mr cq pd heap_in_use_kib heap_system_kib" | tr ' ' '\t' >"$TSV"
record() { echo "$(($(date +%s) - T0)) $1 $2" | tr ' ' '\t' >>"$TSV"; }
alive() { kill -0 "$SRV" 2>/dev/null || { echo "soak.sh: the server died:" >&2; tail -n 20 "$W/server.log" >&2; exit 1; }; }
run_until() { # SECS: periodic samples until SECS after the start
  local next
  while [ $(($(date +%s) - T0)) -lt "$1" ]; do
    alive
    record run "$(sample) - -"
    next=$(($(date +%s) + INTERVAL)); [ "$next" -gt $((T0 + $1)) ] && next=$((T0 + $1))
    while [ "$(date +%s)" -lt "$next" ]; do sleep 1; done
  done
}
# Waits until every client has paused (or exited) and the server holds no connection, session or
# open file; then SETTLE seconds; then the quiesced sample.
quiesced() { # PHASE
  local i s
  for _ in $(seq 600); do
    s=0
    for i in $(seq "$CLIENTS"); do
      [ -e "$W/c$i/paused" ] || ! kill -0 "${CLIENT_PIDS[$((i - 1))]}" 2>/dev/null || s=1
    done
    [ "$s" = 0 ] && break
    sleep 0.2
  done
  for _ in $(seq 600); do
    s=$(sample)
    read -r _ _ _ _ c1 c2 c3 _ <<<"$s"
    [ "$c1$c2$c3" = 000 ] && break
    sleep 0.1
  done
  [ "$c1$c2$c3" = 000 ] || echo "soak.sh: $1: the server still holds connections/sessions/opens $c1/$c2/$c3 after 60 s" >&2
  sleep "$SETTLE"
  s="$(sample) $(heap)"
  record "$1" "$s"
  echo "$s"
}

echo "soak: ${SOAK_SECS} s, warm-up ${WARMUP} s, $CLIENTS clients, $([ "$RDMA" = 1 ] && echo "SMB Direct on $RDMA_DEVICE ($HOST)" || echo "TCP loopback"), server pid $SRV" >&2
run_until "$WARMUP"
touch "$W/pause"
WARM=$(quiesced warm-up)
WARM_T=$(($(date +%s) - T0))
rm -f "$W/pause"
# QUIESCE_EVERY: more quiesced samples between warm-up and the end, for the trend.
at=$WARMUP
while [ "$QUIESCE_EVERY" -gt 0 ] && [ $((at += QUIESCE_EVERY)) -lt $((SOAK_SECS - QUIESCE_EVERY / 2)) ]; do
  run_until "$at"
  touch "$W/pause"
  quiesced quiesced >/dev/null
  rm -f "$W/pause"
done
run_until "$SOAK_SECS"
touch "$W/stop"
for p in "${CLIENT_PIDS[@]}"; do wait "$p" || echo "client exited with $?" >>"$W/errors.log"; done
alive
END=$(quiesced end)

# ------------------------------------------------------------------------------------------ verdict
read -r runs bytes errors aborts iters bench < <(cat "$W"/c*/stats | awk '{for (i = 1; i <= 6; i++) s[i] += $i} END {printf "%.0f %.0f %.0f %.0f %.0f %.0f\n", s[1], s[2], s[3], s[4], s[5], s[6]}')
died=$(grep -c '^client exited' "$W/errors.log" 2>/dev/null || true)
errors=$((errors + ${died:-0}))
slog=$(grep -E -c ' ERROR |panicked' "$W/server.log" || true)
read -r wf wt wr wa wc ws wo wacc _ _ wq wm wcq wpd wh whs <<<"$WARM"
read -r ef et er ea ec es eo eacc erx etx eq em ecq epd eh ehs <<<"$END"
FAIL=()
row() { printf '%-34s %14s %14s %10s  %s\n' "$@"; }
check_eq() { # NAME WARM END
  local v=ok
  [ "$2" = "$3" ] || { v=LEAK; FAIL+=("$1 $2 -> $3"); }
  row "$1" "$2" "$3" "$(($3 - $2))" "equal: $v"
}
mib() { awk -v k="$1" 'BEGIN {printf "%.1f", k / 1024}'; }
echo
echo "soak of smbdx serve: ${SOAK_SECS} s, $CLIENTS clients, $([ "$RDMA" = 1 ] && echo "SMB Direct on $RDMA_DEVICE" || echo "TCP loopback"); quiesced samples at ${WARM_T} s (after warm-up) and at the end"
row "" "after warm-up" "end" "change" "check"
check_eq "open file descriptors" "$wf" "$ef"
check_eq "threads" "$wt" "$et"
row "VmRSS (MiB)" "$(mib "$wr")" "$(mib "$er")" "$(mib $((er - wr)))" "reported (includes mapped page cache)"
v=ok; [ $((ea - wa)) -le $((RSS_TOL_MIB * 1024)) ] || { v=LEAK; FAIL+=("RssAnon grew $(mib $((ea - wa))) MiB"); }
row "RssAnon (MiB)" "$(mib "$wa")" "$(mib "$ea")" "$(mib $((ea - wa)))" "growth <= $RSS_TOL_MIB MiB: $v ($(awk -v k=$((ea - wa)) -v n=$((eacc - wacc)) 'BEGIN {printf "%.0f", k * 1024 / (n > 0 ? n : 1)}') B per connection since)"
if [ "$wh" != - ] && [ "$eh" != - ]; then
  v=ok; [ $((eh - wh)) -le "$HEAP_TOL_KIB" ] || { v=LEAK; FAIL+=("heap in use grew $((eh - wh)) KiB"); }
  row "heap in use (KiB, malloc_stats)" "$wh" "$eh" "$((eh - wh))" "growth <= $HEAP_TOL_KIB KiB: $v ($(awk -v k=$((eh - wh)) -v n=$((eacc - wacc)) 'BEGIN {printf "%.0f", k * 1024 / (n > 0 ? n : 1)}') B per connection since)"
  row "heap from the system (KiB)" "$whs" "$ehs" "$((ehs - whs))" "reported (what malloc retains)"
fi
[ "$HEAP" = 1 ] && [ "$eh" = - ] && echo "(heap in use not measured: gdb could not make the server call malloc_stats)"
v=ok; [ "$wc$ws$wo$ec$es$eo" = 000000 ] || { v=HELD; FAIL+=("connections/sessions/opens not 0 when quiesced"); }
row "connections/sessions/open files" "$wc/$ws/$wo" "$ec/$es/$eo" "" "all 0: $v"
if [ "$RDMA" = 1 ]; then
  check_eq "queue pairs" "$wq" "$eq"
  check_eq "memory regions" "$wm" "$em"
  check_eq "completion queues" "$wcq" "$ecq"
  check_eq "protection domains" "$wpd" "$epd"
fi
peak=$(awk -F'\t' 'NR > 1 {if ($3 > f) f = $3; if ($4 > t) t = $4; if ($5 > r) r = $5} END {printf "%d fds, %d threads, VmRSS %.1f MiB", f, t, r / 1024}' "$TSV")
row "connections accepted (server)" "$wacc" "$eacc" "$((eacc - wacc))" "after warm-up: +$((eacc - wacc))"
gib() { awk -v b="$1" 'BEGIN {printf "%.2f GiB", b / 2^30}'; }
echo "client commands run: $runs in $iters iterations; file data moved: $(gib "$bytes") by cp (every byte" \
  "checked), $(gib "$bench") by bench (READ+WRITE); transport bytes at the server: $(gib "$erx") in, $(gib "$etx") out"
if [ "$QUIESCE_EVERY" -gt 0 ]; then
  echo "quiesced samples: t (s), connections accepted, fds, threads, RssAnon (MiB), heap in use (KiB)"
  awk -F'\t' 'NR > 1 && $2 != "run" {printf "  %5s %-9s %7s %4s %4s %6.1f %8s\n", $1, $2, $10, $3, $4, $6 / 1024, $17}' "$TSV"
fi
echo "files left on the shares (besides big.bin): $(find "$W/share" -type f ! -name big.bin | wc -l)"
echo "clients killed mid-transfer: $aborts; peak while running: $peak; samples: $TSV"
echo "errors: $errors client, $slog server (ERROR lines or panics)"
if [ "$errors" != 0 ]; then head -n 20 "$W/errors.log"; FAIL+=("$errors client errors"); fi
if [ "$slog" != 0 ]; then grep -E ' ERROR |panicked' "$W/server.log" | head -n 10; FAIL+=("$slog server errors"); fi
if [ "$RDMA" = 1 ] && [ "$wm" != "$em" ]; then
  echo "(more MRs at the end: if RssAnon grew with them, the buffer pools were still growing into their bound; a longer WARMUP tells)"
fi
if [ ${#FAIL[@]} -gt 0 ]; then
  printf 'FAIL: %s\n' "$(IFS=';'; echo "${FAIL[*]}")"
  exit 1
fi
echo PASS
