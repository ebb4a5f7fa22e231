#!/bin/sh
# The roles of scripts/cifs-smbdirect-vm-test.sh inside the rxe VM pair, in two phases:
# 1. `smbdx serve --rdma` in the server VM (10.9.0.1), the Linux kernel's SMB Direct client (cifs.ko
#    rebuilt by scripts/kmod-smbdirect.sh, `mount -t cifs -o rdma,vers=3.1.1`) in the client VM
#    (10.9.0.2);
# 2. the kernel's SMB Direct server (ksmbd.ko, same build) in the server VM, the smbdx client
#    (--transport rdma) in the client VM.
# The client tells the server when a phase is done over TCP (ports 7100 and 7102); the server says
# smbdx, then ksmbd, is up by accepting on port 7099, then 7101.
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
  ( "$@" ) >/tmp/check.out 2>&1 &
  pid=$!
  ( sleep "${CHECK_TIMEOUT:-180}"; kill -9 "$pid" 2>/dev/null && echo "timed out" >>/tmp/check.out ) &
  watchdog=$!
  if wait "$pid"; then rc=0; ok "$what"; else rc=1; fail "$what"; sed 's/^/    /' /tmp/check.out | tail -n 20; fi
  kill "$watchdog" 2>/dev/null
  return $rc
}
sha() { sha256sum <"$1" | cut -d' ' -f1; }
user=${KPAIR_USER:-kpair} pass=${KPAIR_PASS:-Kpair-Passw0rd}

# Each guest's kernel log: no warnings, oopses or SMB Direct errors. Excepted: cifs's expected first
# try on port 5445, the unsigned module's taint, "RDMA transport established", the notice that a
# signed mount moves its data inline, and sends flushed (status 5, WR_FLUSH_ERR) when an unmount
# takes its connection down.
dmesg_clean() {
  dmesg | grep -E 'WARNING|BUG|Oops|general protection|Call Trace|corruption|blocked for more than|smbd_|smb_direct|CIFS: VFS' \
    | grep -vE 'port=5445|RDMA_CM_EVENT_(REJECTED|UNREACHABLE|CONNECT_ERROR|ADDR_ERROR) |module verification failed|CIFS: VFS: RDMA transport established|Signing is enabled, and RDMA read/write will be disabled|send_done:[0-9]+ wc->status=5 ' >/tmp/dmesg.bad
  [ ! -s /tmp/dmesg.bad ] || { cat /tmp/dmesg.bad; return 1; }
}
# Phase 2: the client's mounts of phase 1 may still be tearing down (and retrying against a
# server that went away): only warnings, oopses and hangs count.
kernel_clean() {
  dmesg | grep -E 'WARNING|BUG|Oops|general protection|Call Trace|blocked for more than' >/tmp/dmesg.bad
  [ ! -s /tmp/dmesg.bad ] || { cat /tmp/dmesg.bad; return 1; }
}
# Closing an RDMA mount sometimes hangs cifs 6.1 (docs/SOFTROCE.md): unmount in the background,
# never waiting for it.
unmount() { umount "$1" >/dev/null 2>&1 & sleep 2; }

if [ "$role" = server ]; then
  mkdir -p /srv/data /srv/sealed
  chmod 755 / /srv /srv/data /srv/sealed
  # The server's log goes to the console as it happens (the host keeps it) and to /tmp/serve.log.
  # (SMBDX_LOG=info,engine=debug,server=debug logs every message and RDMA transfer.)
  ( SMBDX_LOG=${SMBDX_LOG:-info} smbdx serve --listen 10.9.0.1:445 --rdma 10.9.0.1 --share data=/srv/data \
    --share sealed=/srv/sealed,encrypt-data --user "$user:$pass" --reactors 1 2>&1 | tee /tmp/serve.log | sed 's/^/SERVE: /' ) &
  for _ in $(seq 100); do grep -q "serving SMB Direct" /tmp/serve.log 2>/dev/null && break; sleep 0.2; done
  SERVE=$(pidof smbdx)
  grep -q "rdma=10.9.0.1:445" /tmp/serve.log && ok "serve listens for SMB Direct" || fail "serve listens for SMB Direct"
  timeout 120 nc -l -p 7099 </dev/null >/dev/null || fail "the client saw smbdx up"
  # The client says it is done by connecting here (or it is given up on).
  timeout 900 nc -l -p 7100 >/dev/null || fail "the client finished in time"
  [ -f /srv/data/up.bin ] && echo "CIFSD-SHA server up.bin $(sha /srv/data/up.bin)"
  [ -f /srv/data/down.bin ] && echo "CIFSD-SHA server down.bin $(sha /srv/data/down.bin)"
  kill -TERM "$SERVE"
  for _ in $(seq 100); do pidof smbdx >/dev/null || break; sleep 0.2; done
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
  # Phase 2: ksmbd serves; the smbdx client copies through it.
  if kmod-peer ksmbd kdata=/srv/kdata >/tmp/ksmbd.up 2>&1; then ok "ksmbd up (TCP and RDMA 445)"; else
    fail "ksmbd up (TCP and RDMA 445)"; cat /tmp/ksmbd.up; fi
  timeout 120 nc -l -p 7101 </dev/null >/dev/null || fail "the client saw ksmbd up"
  timeout 900 nc -l -p 7102 >/dev/null || fail "the client finished with ksmbd in time"
  [ -f /srv/kdata/up.bin ] && echo "CIFSD-SHA server kup.bin $(sha /srv/kdata/up.bin)"
  check "server kernel log clean (ksmbd)" kernel_clean
  exit "$fails"
fi

# client
kmod-peer load cifs >/tmp/load.log 2>&1 || { cat /tmp/load.log; fail "load cifs.ko"; }
# Few receive credits, so that 32 outstanding 1 MiB READs need credits to come back in time.
echo 16 >/proc/fs/cifs/smbd_receive_credit_max 2>/dev/null && ok "receive credits lowered to 16" || fail "receive credits lowered to 16"
for _ in $(seq 60); do echo up | nc 10.9.0.1 7099 2>/dev/null && break; sleep 1; done
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
# Signed (cifs.ko moves signed I/O inline: it does not offload signed data) and sealed (the
# `sealed` share is EncryptData; encrypted I/O is inline too) mounts: data intact both ways.
# Linux 6.1 sizes sealed inline I/O to its rsize and asks 1 MiB, whose response cannot fit its own
# 1 MiB reassembly limit (smbdx answers STATUS_INVALID_PARAMETER): sealed mounts set 128 KiB.
dd if=/dev/urandom of=/tmp/mid.bin bs=1M count=8 2>/dev/null
for variant in "data sign" "sealed seal,rsize=131072,wsize=131072"; do
  set -- $variant
  mkdir -p "/mnt/$1-$2"
  if check "mount $1 -o $2" kmod-peer mount "//10.9.0.1/$1" "/mnt/$1-$2" "$2"; then
    check "$2: cp 8 MiB up" cp /tmp/mid.bin "/mnt/$1-$2/mid-$1.bin"
    sync; echo 3 >/proc/sys/vm/drop_caches
    check "$2: cp 8 MiB back, equal" sh -c "cp /mnt/$1-$2/mid-$1.bin /tmp/mid-back.bin && [ $(sha /tmp/mid.bin) = \$(sha256sum </tmp/mid-back.bin | cut -d' ' -f1) ]"
    check "$2: ls, mkdir, rm" sh -c "ls /mnt/$1-$2 | grep -q mid-$1.bin && mkdir /mnt/$1-$2/d && rmdir /mnt/$1-$2/d && rm /mnt/$1-$2/mid-$1.bin"
    unmount "/mnt/$1-$2"
  fi
done
# 32 READs of 1 MiB outstanding at once on 16 receive credits: none may stall.
echo 3 >/proc/sys/vm/drop_caches
check "32 x 1 MiB outstanding READs complete (no stall)" timeout 120 sh -c \
  'for i in $(seq 0 31); do dd if=/mnt/data/up.bin of=/dev/null bs=1M count=1 skip=$i iflag=direct 2>/dev/null & done; wait'
grep -E "SMBDirect|receive_credit|send_credit|mr_" /proc/fs/cifs/DebugData | head -n 12 | sed 's/^/CIFSD-INFO client /'
check "client dmesg clean" dmesg_clean
[ "$fails" -eq 0 ] || { echo "---- client DebugData"; cat /proc/fs/cifs/DebugData; dmesg | tail -n 30; }
unmount /mnt/data
echo | nc 10.9.0.1 7100

# Phase 2: the smbdx client against ksmbd over SMB Direct.
# (The server accepts on 7101 once ksmbd listens; busybox's nc has no -z.)
for _ in $(seq 120); do echo up | nc 10.9.0.1 7101 2>/dev/null && break; sleep 1; done
export SMBDX_PASSWORD=$pass
K=smb://$user@10.9.0.1/kdata
R="--transport rdma"
# One line per cp: "SMB Direct: N READs and M WRITEs by RDMA (B bytes); windows invalidated by
# the server I, revoked here V". Every window must be the server's to invalidate.
rdma_used() { # the cp's stderr, READs or WRITEs
  line=$(grep "^SMB Direct:" "$1") || return 1
  n=$(echo "$line" | sed -n "s/.*[^0-9]\([0-9][0-9]*\) $2 .*/\1/p")
  rev=$(echo "$line" | sed -n 's/.*revoked here \([0-9]*\).*/\1/p')
  [ "${n:-0}" -gt 0 ] && [ "$rev" = 0 ]
}
check "ksmbd: cp 64 MiB up by RDMA (smbdx client)" smbdx cp /tmp/up.bin $K/up.bin $R
cp /tmp/check.out /tmp/kup.err
grep "^SMB Direct:" /tmp/kup.err | sed 's/^/CIFSD-INFO ksmbd up: /'
check "ksmbd: the server pulled the data from our windows and invalidated them" rdma_used /tmp/kup.err WRITEs
echo 3 >/proc/sys/vm/drop_caches
check "ksmbd: cp 64 MiB back by RDMA" smbdx cp $K/up.bin /tmp/kback.bin $R
cp /tmp/check.out /tmp/kback.err
grep "^SMB Direct:" /tmp/kback.err | sed 's/^/CIFSD-INFO ksmbd back: /'
check "ksmbd: the server placed the data in our windows and invalidated them" rdma_used /tmp/kback.err READs
check "ksmbd: read back equal to what was written" sh -c "[ $(sha /tmp/up.bin) = \$(sha256sum </tmp/kback.bin | cut -d' ' -f1) ]"
echo "CIFSD-SHA client kup.bin $(sha /tmp/up.bin)"
# Signed: inline I/O, each message within ksmbd's 173,910-byte MaxFragmentedSize.
check "ksmbd: signed session, 8 MiB inline up and back" sh -c "smbdx cp -q /tmp/mid.bin $K/mid.bin $R --require-signing \
  && smbdx cp -q $K/mid.bin /tmp/kmid.bin $R --require-signing && [ $(sha /tmp/mid.bin) = \$(sha256sum </tmp/kmid.bin | cut -d' ' -f1) ]"
check "ksmbd: ls, stat, mkdir, rm" sh -c "smbdx ls $K $R | grep -q up.bin && smbdx stat $K/up.bin $R | grep -q 67108864 \
  && smbdx mkdir $K/d $R && smbdx rm -d $K/d $R && smbdx rm $K/mid.bin $R"
check "client kernel log clean (ksmbd phase)" kernel_clean
echo | nc 10.9.0.1 7102
exit "$fails"
