#!/bin/sh
# The two roles of bench/rdma_transform_vs_plain.sh inside the rxe VM pair (busybox sh):
#   vmbench server | client
# Server (10.9.0.1): `smbdx serve` on port 4445 (TCP and SMB Direct) and perftest's ib_write_bw /
# ib_read_bw servers, one per client run, in the client's order.
# Client (10.9.0.2): per round, size and wire operation, one after the other: perftest, then
# `smbdx bench --transport rdma` in each variant:
#   plain      no encryption, no signing: data placed as it is (the anchor of the transform rows)
#   gcm128     AES-128-GCM session: data sealed by the RDMA transform before placement
#   gcm256     AES-256-GCM, the same
#   gmac       signed session (AES-GMAC): data MAC'd by the SIGNING transform
#   cmac       signed session (AES-CMAC)
#   inline128  AES-128-GCM with the transform off: sealed data inline in the messages (what Linux's
#              client does with `seal`), 4 KiB less per I/O from 1 MiB on (an inline I/O and its
#              headers must fit one 1 MiB message)
# and, once per round, the cipher itself on this VM's CPU: `smbdx bench crypto` (aws-lc-rs, 1 MiB),
# printed as "CIPHER <round> <name>=<MiB/s> ...". Under TCG the AES instructions are emulated, so a
# cipher costs far more than on the host: the transform rows are to be read against these.
# Prints per run "RUN <variant> <wire-op> <size> <round> bytes=B secs=S busy=J" (client CPU jiffies)
# and, on the server, "SRVCPU <label> begin|end J" (marks sent by the client over TCP port 7200).
# Environment (both roles): SIZES, DEPTH, REPEAT, DURATION, OPS, VARIANTS, TOTAL (perftest bytes).
set -u
role=${1:?server or client}
# Every setting comes from bench/rdma_transform_vs_plain.sh, which sets them all.
for v in SIZES DEPTH REPEAT TOTAL DURATION OPS VARIANTS; do
  eval "[ -n \"\${$v:-}\" ]" || { echo "BENCH-FAIL $v is not set"; exit 1; }
done
. /usr/local/bin/vm-bench-lib.sh

if [ "$role" = server ]; then
  mkdir -p /srv/data && chmod 755 / /srv /srv/data
  SMBDX_LOG=warn smbdx serve --listen $SERVER:4445 --rdma $SERVER:4445 --share data=/srv/data \
    --user "$user:$pass" --reactors 1 >/tmp/serve.log 2>&1 &
  serve_marks_and_perftest
  timeout 3000 nc -l -p 7100 </dev/null >/dev/null
  grep -iE "panicked| ERROR | WARN " /tmp/serve.log && echo "BENCH-FAIL smbdx serve logged errors or warnings"
  dmesg | grep -qE "BUG|Oops|WARNING" && { echo "BENCH-FAIL server kernel log"; dmesg | grep -E "BUG|Oops|WARNING" | head -n 5; }
  exit 0
fi

args_of() { # variant -> smbdx bench options
  case $1 in
    plain) echo "--cipher none" ;;
    gcm128) echo "--cipher aes-128-gcm" ;;
    gcm256) echo "--cipher aes-256-gcm" ;;
    gmac) echo "--cipher none --require-signing --signing aes-gmac" ;;
    cmac) echo "--cipher none --require-signing --signing aes-cmac" ;;
    inline128) echo "--cipher aes-128-gcm --rdma-transform off" ;;
  esac
}

export SMBDX_PASSWORD=$pass
U=smb://$user@$SERVER:4445/data
for _ in $(seq 60); do smbdx ls $U --transport rdma >/dev/null 2>&1 && break; sleep 1; done
bench="smbdx bench $U --transport rdma --depth $DEPTH --duration $DURATION --no-anchor --json --file-size 64m"
cipher_speeds() { # round: one CIPHER line, MiB/s of seal (GCM) and sign (GMAC, CMAC) at 1 MiB
  smbdx bench crypto --sizes 1m --backend aws-lc-rs --json --windows 1 --window-ms 500 >/tmp/crypto.json 2>&1
  line="CIPHER $1"
  for pair in gcm128:seal:aes-128-gcm gcm256:seal:aes-256-gcm gmac:sign:aes-gmac cmac:sign:aes-cmac; do
    name=${pair%%:*} rest=${pair#*:}; op=${rest%%:*} c=${rest#*:}
    g=$(grep "\"op\":\"$op\"" /tmp/crypto.json | grep "\"cipher\":\"$c\"" | sed -n 's/.*"gbps":\([0-9.e-]*\).*/\1/p' | head -n 1)
    line="$line $name=$(awk "BEGIN { print ${g:-0} * 1e9 / 1048576 }")"
  done
  echo "$line"
}
for r in $(seq "$REPEAT"); do
  cipher_speeds "$r"
  for s in $SIZES; do for op in $OPS; do
    smb=read; [ "$op" = read ] && smb=write
    sleep 2 # the server's perftest is listening by now
    run perftest $op "$s" "$r" perftest ib_${op}_bw -d rxe0 -x 1 -F -s "$s" -n "$(iters "$s")" -t "$DEPTH" -p 18515 $SERVER
    for v in $VARIANTS; do
      sz=$s
      [ "$v" = inline128 ] && [ "$s" -ge 1048576 ] && sz=$((s - 4096))
      run "$v" $op "$s" "$r" json $bench --op $smb --size "$sz" $(args_of "$v")
    done
  done; done
done
echo done | nc $SERVER 7100
dmesg | grep -qE "BUG|Oops|WARNING" && { echo "BENCH-FAIL client kernel log"; dmesg | grep -E "BUG|Oops|WARNING" | head -n 5; }
exit 0
