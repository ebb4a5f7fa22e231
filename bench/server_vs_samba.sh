#!/usr/bin/env bash
# smbdx serve vs a private Samba smbd, same file, same client (Samba's smbclient), same run.
# Both require encryption with AES-128-GCM; loopback only. Reports medians over REPEATS of throughput
# and of the server's CPU seconds per GiB, and the smbdx/Samba ratios.
#
#   bench/server_vs_samba.sh            # SIZE_MIB=1024 REPEATS=3
#   SIZE_MIB=256 REPEATS=5 bench/server_vs_samba.sh
# Needs: smbclient, samba (apt-get install smbclient samba), root (Samba maps users to Unix accounts).
set -euo pipefail
cd "$(dirname "$0")/.."
SIZE_MIB=${SIZE_MIB:-1024}
REPEATS=${REPEATS:-3}
USER_NAME=smbdxbench
PASS=bench-Pa55word
source bench/scripts/samba_env.sh

# SMBDX_BIN: measure another build (e.g. the commit before a change, for a before/after in one sitting).
if [ -n "${SMBDX_BIN:-}" ]; then BIN=$(readlink -f "$SMBDX_BIN"); else
  cargo build --release --quiet
  BIN=$PWD/target/release/smbdx
fi
WORK=$(mktemp -d)
trap 'samba_stop; [ -n "${SMBDX_PID:-}" ] && kill "$SMBDX_PID" 2>/dev/null; rm -rf "$WORK"' EXIT
mkdir -p "$WORK"/{samba-share,smbdx-share,local}
head -c "$((SIZE_MIB << 20))" /dev/urandom >"$WORK/local/file.bin"
WANT=$(sha256sum "$WORK/local/file.bin" | cut -d' ' -f1)

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# One transfer; prints "seconds cpu_seconds".
transfer() { # port server_pid op
  local port=$1 pid=$2 op=$3 cmd c0 c1 t0 t1
  # Downloads go to /dev/null: the client's local disk would pace the server otherwise (measured:
  # the same server's CPU-s/GiB spread from 0.32 to 1.7 with downloads to a file). One download
  # to a file, untimed, checks the data afterwards.
  if [ "$op" = put ]; then cmd="put file.bin up.bin"; else cmd="get up.bin /dev/null"; fi
  # Dirty pages left by the previous transfer would throttle this one's writes.
  sync
  c0=$(cpu_seconds "$pid"); t0=$(date +%s.%N)
  (cd "$WORK/local" && smbclient //127.0.0.1/data -p "$port" -U "$USER_NAME%$PASS" -m SMB3 \
     --option='client smb encrypt=required' -c "$cmd" >/dev/null)
  t1=$(date +%s.%N); sleep 0.2; c1=$(cpu_seconds "$pid")
  echo "$(echo "$t1 - $t0" | bc -l) $(echo "$c1 - $c0" | bc -l)"
}

median() { sort -g | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }

declare -A GBPS CPU
run_server() { # name port pid
  local name=$1 port=$2 pid=$3 op r out secs cpu
  for op in put get; do
    : >"$WORK/$name.$op"
    for r in $(seq "$REPEATS"); do
      out=$(transfer "$port" "$pid" "$op"); secs=${out% *}; cpu=${out#* }
      echo "$(echo "$SIZE_MIB / 1024 * 1.073741824 / $secs" | bc -l) $(echo "$cpu / ($SIZE_MIB / 1024)" | bc -l)" >>"$WORK/$name.$op"
    done
    if [ "$op" = get ]; then
      (cd "$WORK/local" && smbclient //127.0.0.1/data -p "$port" -U "$USER_NAME%$PASS" -m SMB3 \
         --option='client smb encrypt=required' -c "get up.bin down.bin" >/dev/null)
      [ "$(sha256sum "$WORK/local/down.bin" | cut -d' ' -f1)" = "$WANT" ] || { echo "$name: downloaded file differs" >&2; exit 1; }
      rm -f "$WORK/local/down.bin"
    fi
    GBPS[$name.$op]=$(cut -d' ' -f1 "$WORK/$name.$op" | median)
    CPU[$name.$op]=$(cut -d' ' -f2 "$WORK/$name.$op" | median)
  done
}

SPORT=$(free_port)
samba_start "$WORK/samba" "$SPORT" "$WORK/samba-share" "$USER_NAME" "$PASS" required
run_server samba "$SPORT" "$SAMBA_PID"
samba_stop

XPORT=$(free_port)
"$BIN" serve --listen "127.0.0.1:$XPORT" --share "data=$WORK/smbdx-share,encrypt-data" --encrypt-data \
  --ciphers aes-128-gcm --user "$USER_NAME:$PASS" ${SMBDX_SERVE_ARGS:-} 2>"$WORK/smbdx.log" &
SMBDX_PID=$!
for _ in $(seq 100); do (exec 3<>/dev/tcp/127.0.0.1/"$XPORT") 2>/dev/null && break; sleep 0.1; done
run_server smbdx "$XPORT" "$SMBDX_PID"

printf '\nsmbclient get/put of %d MiB, AES-128-GCM required, loopback, median of %d (same run)\n' "$SIZE_MIB" "$REPEATS"
printf '%-6s %-7s %10s %14s\n' op server 'GB/s' 'server CPU-s/GiB'
for op in put get; do
  for s in samba smbdx; do printf '%-6s %-7s %10.3f %14.3f\n' "$op" "$s" "${GBPS[$s.$op]}" "${CPU[$s.$op]}"; done
  printf '%-6s %-7s %10.2fx %13.2fx\n' "$op" ratio "$(echo "${GBPS[smbdx.$op]} / ${GBPS[samba.$op]}" | bc -l)" \
    "$(echo "${CPU[smbdx.$op]} / ${CPU[samba.$op]}" | bc -l)"
done
echo
echo "each run (GB/s, server CPU-s/GiB), in order:"
for op in put get; do
  for s in samba smbdx; do
    printf '  %-4s %-6s %s\n' "$op" "$s" "$(awk '{printf "%.2f/%.2f  ", $1, $2}' "$WORK/$s.$op")"
  done
done
# The medians as rows (smbclient's put is a WRITE, get a READ; one size, the whole file) and their
# plot: target/bench/server_vs_samba.{json,svg}.
. bench/scripts/plot-rows.sh
for s in samba smbdx; do for op in put get; do
  printf '{"transport":"smbclient to %s","cipher":"aes-128-gcm","op":"%s","size":%d,"gbps":%.6f}\n' \
    "$s" "$([ $op = put ] && echo write || echo read)" "$((SIZE_MIB << 20))" "${GBPS[$s.$op]}"
done; done >"$WORK/rows.json"
echo
plot_rows server_vs_samba "$WORK/rows.json" "$BIN"
