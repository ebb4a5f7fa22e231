#!/bin/sh
# The roles of scripts/cifs-smbdirect-vm-test.sh inside the rxe VM pair: `smbdx serve --rdma` in the
# server VM (10.9.0.1), the Linux kernel's SMB Direct client (cifs.ko rebuilt by
# scripts/kmod-smbdirect.sh, `mount -t cifs -o rdma,vers=3.1.1`) in the client VM (10.9.0.2).
#   cifs-rdma-smbdx server | client
# Prints "CIFSD-CHECK ok|FAIL <what>", "CIFSD-SHA <role> <name> <sha256>" (compared by the host) and
# "CIFSD-INFO ..." lines; exits non-zero if a check failed.
set -u
role=${1:?server or client}
fails=0
ok() { echo "CIFSD-CHECK ok $1"; }
fail() { echo "CIFSD-CHECK FAIL $1"; fails=$((fails + 1)); }
check() { # what, then the command (given ${CHECK_TIMEOUT:-180} s at most: a stall fails, never hangs)
  what=$1; shift
  if timeout "${CHECK_TIMEOUT:-180}" "$@" >/tmp/check.out 2>&1; then ok "$what"; else
    fail "$what"; sed 's/^/    /' /tmp/check.out | tail -n 20; fi
}
sha() { sha256sum <"$1" | cut -d' ' -f1; }
user=${KPAIR_USER:-kpair} pass=${KPAIR_PASS:-Kpair-Passw0rd}

# Each guest's kernel log: no warnings, oopses or SMB Direct errors (cifs's expected first try on
# port 5445, the unsigned module's taint and "RDMA transport established" excepted).
dmesg_clean() {
  dmesg | grep -E 'WARNING|BUG|Oops|general protection|Call Trace|corruption|blocked for more than|smbd_|smb_direct|CIFS: VFS' \
    | grep -vE 'port=5445|RDMA_CM_EVENT_(REJECTED|UNREACHABLE|CONNECT_ERROR|ADDR_ERROR) |module verification failed|CIFS: VFS: RDMA transport established' >/tmp/dmesg.bad
  [ ! -s /tmp/dmesg.bad ] || { cat /tmp/dmesg.bad; return 1; }
}

if [ "$role" = server ]; then
  mkdir -p /srv/data /srv/sealed
  chmod 755 / /srv /srv/data /srv/sealed
  SMBDX_LOG=${SMBDX_LOG:-debug} smbdx serve --listen 10.9.0.1:445 --rdma 10.9.0.1 --share data=/srv/data \
    --share sealed=/srv/sealed,encrypt-data --user "$user:$pass" --reactors 1 >/tmp/serve.log 2>&1 &
  SERVE=$!
  for _ in $(seq 100); do grep -q "serving SMB Direct" /tmp/serve.log && break; sleep 0.2; done
  grep -q "rdma=10.9.0.1:445" /tmp/serve.log && ok "serve listens for SMB Direct" || fail "serve listens for SMB Direct"
  # The client says it is done by connecting here (or it is given up on).
  timeout 900 nc -l -p 7100 >/dev/null || fail "the client finished in time"
  [ -f /srv/data/up.bin ] && echo "CIFSD-SHA server up.bin $(sha /srv/data/up.bin)"
  [ -f /srv/data/down.bin ] && echo "CIFSD-SHA server down.bin $(sha /srv/data/down.bin)"
  kill -TERM "$SERVE"; wait "$SERVE"
  line=$(grep "stopped" /tmp/serve.log | tail -n 1)
  w=$(echo "$line" | sed -n 's/.*rdma_write_bytes=\([0-9]*\).*/\1/p')
  r=$(echo "$line" | sed -n 's/.*rdma_read_bytes=\([0-9]*\).*/\1/p')
  echo "CIFSD-INFO server RDMA bytes: write (READ data placed) ${w:-?}, read (WRITE data pulled) ${r:-?}"
  # 64 MiB went each way through the mount, in I/O of 4 KiB and more: RDMA bytes ~ data bytes.
  [ "${w:-0}" -ge 60000000 ] && ok "READ data placed by RDMA WRITE (~64 MiB)" || fail "READ data placed by RDMA WRITE (~64 MiB)"
  [ "${r:-0}" -ge 60000000 ] && ok "WRITE data pulled by RDMA READ (~64 MiB)" || fail "WRITE data pulled by RDMA READ (~64 MiB)"
  if grep -qiE "panicked| ERROR " /tmp/serve.log; then fail "server log clean"; grep -iE "panicked| ERROR " /tmp/serve.log | head; else ok "server log clean"; fi
  [ "$fails" -eq 0 ] || { echo "---- the end of the server's log"; tail -n 80 /tmp/serve.log; }
  check "server dmesg clean" dmesg_clean
  exit "$fails"
fi

# client
kmod-peer load cifs >/tmp/load.log 2>&1 || { cat /tmp/load.log; fail "load cifs.ko"; }
# Few receive credits, so that 32 outstanding 1 MiB READs need credits to come back in time.
echo 16 >/proc/fs/cifs/smbd_receive_credit_max 2>/dev/null && ok "receive credits lowered to 16" || fail "receive credits lowered to 16"
for _ in $(seq 30); do nc -z 10.9.0.1 445 2>/dev/null && break; sleep 1; done
check "mount -o rdma,vers=3.1.1" kmod-peer mount //10.9.0.1/data /mnt/data
smbdirect() { grep -q "SMBDirect" /proc/fs/cifs/DebugData && grep -q "transport status: 2" /proc/fs/cifs/DebugData; }
check "the mount is SMB Direct (DebugData)" smbdirect
dd if=/dev/urandom of=/tmp/up.bin bs=1M count=64 2>/dev/null
echo "CIFSD-SHA client up.bin $(sha /tmp/up.bin)"
check "cp 64 MiB to the server" cp /tmp/up.bin /mnt/data/up.bin
check "sync" sync
dd if=/dev/urandom of=/tmp/down.bin bs=1M count=64 2>/dev/null
check "cp a second file up" cp /tmp/down.bin /mnt/data/down.bin
sync; echo 3 >/proc/sys/vm/drop_caches
check "cp 64 MiB back from the server" cp /mnt/data/down.bin /tmp/back.bin
echo "CIFSD-SHA client down.bin $(sha /tmp/back.bin)"
check "read back equal to what was written" sh -c "[ $(sha /tmp/down.bin) = $(sha /tmp/back.bin) ]"
check "small file (inline I/O) round trip" sh -c "echo hello-smbdx > /mnt/data/small.txt && sync && echo 3 > /proc/sys/vm/drop_caches && grep -q hello-smbdx /mnt/data/small.txt"
check "ls" sh -c "ls -l /mnt/data | grep -q up.bin"
check "stat size" sh -c "[ $(stat -c %s /mnt/data/up.bin) = 67108864 ]"
check "mkdir" mkdir /mnt/data/dir
check "mv" mv /mnt/data/small.txt /mnt/data/dir/moved.txt
check "rm" rm /mnt/data/dir/moved.txt
check "rmdir" rmdir /mnt/data/dir
# 32 READs of 1 MiB outstanding at once on 16 receive credits: none may stall.
echo 3 >/proc/sys/vm/drop_caches
check "32 x 1 MiB outstanding READs complete (no stall)" timeout 120 sh -c \
  'for i in $(seq 0 31); do dd if=/mnt/data/up.bin of=/dev/null bs=1M count=1 skip=$i iflag=direct 2>/dev/null & done; wait'
grep -E "SMBDirect|receive_credit|send_credit|mr_" /proc/fs/cifs/DebugData | head -n 12 | sed 's/^/CIFSD-INFO client /'
check "client dmesg clean" dmesg_clean
[ "$fails" -eq 0 ] || { echo "---- client DebugData"; cat /proc/fs/cifs/DebugData; dmesg | tail -n 30; }
echo | nc 10.9.0.1 7100
exit "$fails"
