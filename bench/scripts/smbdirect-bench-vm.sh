#!/bin/sh
# The two roles of bench/smbdirect_vs_perftest.sh inside the rxe VM pair (busybox sh):
#   vmbench server | client
# Server (10.9.0.1): `smbdx serve` on port 4445 (TCP and SMB Direct), ksmbd (kmod-peer) on 445, and
# perftest's ib_write_bw / ib_read_bw servers, one per client run, in the client's order.
# Client (10.9.0.2): per round, size and direction, one after the other:
#   perftest   ib_write_bw (SMB READ's wire operation: the server RDMA-writes) or ib_read_bw (WRITE's)
#   smbdx-rdma smbdx bench --transport rdma, the SMB op at that size and depth
#   smbdx-tcp  smbdx bench over TCP, same pair, same server
#   kernel     cifs.ko -o rdma against ksmbd: DEPTH concurrent O_DIRECT dd of that block size
# Prints per run "RUN <tool> <wire-op> <size> <round> bytes=B secs=S busy=J" (client CPU jiffies,
# all CPUs, user+nice+system+irq+softirq, during the run) and, on the server, "SRVCPU <label>
# begin|end J": the client marks the start and end of each run over TCP port 7200.
# Environment (both roles, same values): SIZES, DEPTH, REPEAT, TOTAL (bytes per perftest and kernel
# run), DURATION (seconds per smbdx bench run), OPS (wire operations), SERVE_ARGS / BENCH_ARGS (extra
# options of smbdx serve / smbdx bench).
set -u
role=${1:?server or client}
SIZES=${SIZES:-"65536 1048576"}
DEPTH=${DEPTH:-8}
REPEAT=${REPEAT:-3}
TOTAL=${TOTAL:-33554432}
DURATION=${DURATION:-4}
OPS=${OPS:-"write read"}
SERVE_ARGS=${SERVE_ARGS:-}
BENCH_ARGS=${BENCH_ARGS:-}
. /usr/local/bin/vm-bench-lib.sh

if [ "$role" = server ]; then
  mkdir -p /srv/data && chmod 755 / /srv /srv/data
  SMBDX_LOG=warn smbdx serve --listen $SERVER:4445 --rdma $SERVER:4445 --share data=/srv/data \
    --user "$user:$pass" --reactors 1 $SERVE_ARGS >/tmp/serve.log 2>&1 &
  KPAIR_USER=$user KPAIR_PASS=$pass kmod-peer ksmbd kpair=/srv/kpair || echo "BENCH-FAIL ksmbd did not start"
  serve_marks_and_perftest
  timeout 3000 nc -l -p 7100 </dev/null >/dev/null
  grep -iE "panicked| ERROR " /tmp/serve.log && echo "BENCH-FAIL smbdx serve logged errors"
  dmesg | grep -qE "BUG|Oops|WARNING" && { echo "BENCH-FAIL server kernel log"; dmesg | grep -E "BUG|Oops|WARNING" | head -n 5; }
  exit 0
fi

# DEPTH dd processes at once, each on a file of its own, O_DIRECT: one SMB2 READ or WRITE of the
# block size per dd block (cifs serves O_DIRECT like cache=none). Files of their own because Debian
# 6.1's ksmbd corrupts a list in smb2_open when eight clients open one file at once (kernel BUG at
# lib/list_debug.c:27, seen in this bench's first run).
kernel_io() { # read|write size
  n=$(iters "$2"); per=$((n / DEPTH)); [ "$per" -ge 1 ] || per=1
  for i in $(seq 0 $((DEPTH - 1))); do
    if [ "$1" = read ]; then timeout 300 dd if=/mnt/k/f$i.bin of=/dev/null bs="$2" count=$per iflag=direct 2>/dev/null &
    else timeout 300 dd if=/dev/zero of=/mnt/k/f$i.bin bs="$2" count=$per oflag=direct conv=notrunc 2>/dev/null &
    fi
  done
  wait
}

export SMBDX_PASSWORD=$pass
U=smb://$user@$SERVER:4445/data
for _ in $(seq 60); do smbdx ls $U --transport rdma >/dev/null 2>&1 && break; sleep 1; done
KPAIR_USER=$user KPAIR_PASS=$pass kmod-peer mount //$SERVER/kpair /mnt/k || echo "BENCH-FAIL cifs mount"
for i in $(seq 0 $((DEPTH - 1))); do
  dd if=/dev/zero of=/mnt/k/f$i.bin bs=64k count=$((TOTAL / DEPTH / 65536)) oflag=direct 2>/dev/null
done
bench="smbdx bench $U --depth $DEPTH --duration $DURATION --cipher none --no-anchor --json --file-size $((TOTAL * 2)) $BENCH_ARGS"
for r in $(seq "$REPEAT"); do for s in $SIZES; do for op in $OPS; do
  # The SMB operation whose data moves by RDMA `op`: READ by the server's RDMA WRITE, WRITE by its
  # RDMA READ.
  smb=read; [ "$op" = read ] && smb=write
  n=$(iters "$s")
  sleep 2 # the server's perftest is listening by now
  run perftest $op "$s" "$r" perftest ib_${op}_bw -d rxe0 -x 1 -F -s "$s" -n "$n" -t "$DEPTH" -p 18515 $SERVER
  run smbdx-rdma $op "$s" "$r" json $bench --transport rdma --op $smb --size "$s"
  run smbdx-tcp $op "$s" "$r" json $bench --transport tcp --op $smb --size "$s"
  per=$((n / DEPTH)); [ "$per" -ge 1 ] || per=1
  run kernel $op "$s" "$r" $((per * DEPTH * s)) kernel_io $smb "$s"
done; done; done
echo done | nc $SERVER 7100
dmesg | grep -qE "BUG|Oops|WARNING" && { echo "BENCH-FAIL client kernel log"; dmesg | grep -E "BUG|Oops|WARNING" | head -n 5; }
exit 0
