#!/bin/sh
# kpair.sh server|client - inside the rxe-vm.sh VM pair (scripts/kernel-smbdirect-pair.sh): the
# Linux kernel's own SMB Direct peers against each other, ksmbd in the server VM (10.9.0.1) and
# cifs.ko `mount -o rdma` in the client VM (10.9.0.2), brought up with kmod-peer.
# Prints "KPAIR-CHECK ok|FAIL <role>: <what>" per check, "KPAIR-SHA <role> <file> <sha256>" for
# the host to compare across the VMs, "KPAIR-RATE op=write|read bytes=N secs=S" (client) and
# "KPAIR-INFO ..." lines; exits non-zero if a check failed.
#
# The VMs talk over TCP with busybox nc: the server says "ready" (port 7102) once ksmbd listens,
# the client says "done" (7100) after its I/O, the server answers "ack" (7101) once it has
# checked its side.  The client never unmounts: closing an RDMA mount sometimes hangs cifs 6.1
# (SOFTROCE.md), so the VM is powered off with the mount still up (one RDMA mount per boot).
#
# Environment: KPAIR_SIZE_MB (64: each cp file), KPAIR_RATE_MB (256: the timed dd),
# KPAIR_MOUNT_OPTS (extra mount options; default none, i.e. cache=strict: cp goes through the page
# cache in wsize/rsize requests, while the timed dd opens with O_DIRECT, which cifs serves like
# cache=none: each 1 MiB block is one SMB2 WRITE or READ on the wire).  With `seal` (then also
# rsize=131072,wsize=131072, SOFTROCE.md) the RDMA checks expect no RDMA reads/writes.  Sealed
# I/O is not part of the default run: with 6.1.192-3 + these patches, 4 KiB sealed writes crawl
# (cache=none cp of 1 MiB: 12.6 s) and 128 KiB ones hang (page-cache writeback of a 2 MiB cp, or
# a 1 MiB O_DIRECT dd: blocked for minutes, nothing in either dmesg); sealed reads and metadata
# work.
set -u
role=${1:?usage: kpair.sh server|client}
SERVER=10.9.0.1 CLIENT=10.9.0.2
size_mb=${KPAIR_SIZE_MB:-64}
rate_mb=${KPAIR_RATE_MB:-256}
mount_opts=${KPAIR_MOUNT_OPTS:-}
share=/srv/kpair mnt=/mnt/kpair
fails=0
T=/sys/kernel/tracing
# With `seal` cifs 6.1 sends encrypted data inline and never uses RDMA reads/writes (3891f6c7),
# and ksmbd has no RDMA transform either: then the checks expect no memory registrations.
rdma_rw=yes
case ",$mount_opts," in *,seal,*) rdma_rw=no ;; esac

check() { # what, then the command
    what=$1; shift
    if "$@" >/tmp/check.out 2>&1; then echo "KPAIR-CHECK ok $role: $what"; else
        echo "KPAIR-CHECK FAIL $role: $what"; sed 's/^/    /' /tmp/check.out | tail -n 20
        fails=$((fails + 1)); return 1; fi
}
now() { cut -d' ' -f1 /proc/uptime; }
sha() { sha256sum "$1" | cut -d' ' -f1; }
size_is() { [ "$(stat -c %s "$1")" = "$2" ]; }
same() { [ "$(sha "$1")" = "$(sha "$2")" ]; }

# notify HOST PORT MSG: deliver MSG, retrying until the peer listens (up to 5 min).
notify() {
    i=0
    until echo "$3" | nc "$1" "$2" 2>/dev/null; do
        i=$((i + 1)); [ $i -lt 300 ] || return 1; sleep 1
    done
}
# await PORT SECS WANT: wait for a peer's message WANT.
await() {
    got=$(timeout "$2" nc -l -p "$1" </dev/null 2>/dev/null)
    [ "$got" = "$3" ] || { echo "expected '$3' on port $1 within $2 s, got '$got'"; return 1; }
}

# Count calls of a kernel function with a kprobe (tracefs kprobe_profile keeps hit counts even
# with tracing off): proof that the RDMA read/write paths ran.
kprobe_add() { # name MODULE:SYMBOL
    [ -d $T/events ] || mount -t tracefs nodev $T || return 1
    echo 0 >$T/tracing_on
    echo "p:kpair/$1 $2" >>$T/kprobe_events || return 1
    echo 1 >$T/events/kpair/$1/enable
}
kprobe_hits() { awk -v n="$1" '$1 == n || $1 == "kpair/" n { print $2 }' $T/kprobe_profile; }
positive() { [ "${1:-0}" -gt 0 ] 2>/dev/null; }

# The kernel log since boot must have no warning, bug, oops or SMB Direct error.  Allowed: cifs'
# first RDMA CM attempt on port 5445, which a RoCE server (ksmbd listens on 445 for IB/RoCE)
# rejects before cifs falls back to 445.
dmesg_clean() {
    dmesg >/tmp/dmesg.txt
    grep -E 'WARNING|BUG|Oops|general protection|Call Trace|corruption|blocked for more than|segfault|smbd_|smb_direct|CIFS: VFS|ksmbd: .*([Ee]rror|[Ff]ail|[Cc]an.t)' /tmp/dmesg.txt \
        | grep -vE "$dmesg_allowed" >/tmp/dmesg.bad
    [ ! -s /tmp/dmesg.bad ] || { cat /tmp/dmesg.bad; return 1; }
}
dmesg_allowed='port=5445|RDMA_CM_EVENT_(REJECTED|UNREACHABLE|CONNECT_ERROR|ADDR_ERROR) |module verification failed|CIFS: VFS: RDMA transport established'

server() {
    mkdir -p $share
    dd if=/dev/urandom of=$share/down.bin bs=1M count="$size_mb" 2>/dev/null
    echo "KPAIR-SHA server down.bin $(sha $share/down.bin)"
    ready=ready
    check "ksmbd up (TCP and RDMA CM on 445)" kmod-peer ksmbd kpair=$share || ready=ksmbd-failed
    chown -R 1000:1000 $share
    check "kprobe on ksmbd smb_direct_rdma_read" kprobe_add rdma_read ksmbd:smb_direct_rdma_read
    check "kprobe on ksmbd smb_direct_rdma_write" kprobe_add rdma_write ksmbd:smb_direct_rdma_write
    check "client told $ready" notify $CLIENT 7102 $ready
    check "client done (its I/O finished)" await 7100 1200 done
    if [ -f $share/up.bin ]; then echo "KPAIR-SHA server up.bin $(sha $share/up.bin)"; fi
    check "share holds what the client left" sh -c "[ \"\$(ls $share | tr '\n' ' ')\" = 'down.bin up.bin ' ]"
    r=$(kprobe_hits rdma_read) w=$(kprobe_hits rdma_write)
    echo "KPAIR-INFO server smb_direct_rdma_read=$r smb_direct_rdma_write=$w"
    if [ $rdma_rw = yes ]; then
        check "ksmbd did RDMA reads (client writes by RDMA): $r" positive "$r"
        check "ksmbd did RDMA writes (client reads by RDMA): $w" positive "$w"
    else
        check "no RDMA reads/writes with seal: $r, $w" [ "$r" = 0 -a "$w" = 0 ]
    fi
    check "dmesg clean" dmesg_clean
    check "client told ack" notify $CLIENT 7101 ack
}

client() {
    dd if=/dev/urandom of=/tmp/up.bin bs=1M count="$size_mb" 2>/dev/null
    echo "KPAIR-SHA client up.bin $(sha /tmp/up.bin)"
    check "cifs.ko (SMB Direct) loaded" kmod-peer cifs
    check "kprobe on cifs smbd_register_mr" kprobe_add reg_mr cifs:smbd_register_mr
    check "server ready" await 7102 900 ready
    check "mount -t cifs -o rdma,vers=3.1.1${mount_opts:+,$mount_opts}" kmod-peer mount //$SERVER/kpair $mnt "$mount_opts"
    if grep -q " $mnt cifs " /proc/mounts; then client_io; else
        echo "KPAIR-CHECK FAIL $role: no cifs mount on $mnt: I/O checks skipped"; fails=$((fails + 1)); fi
    check "server told done" notify $SERVER 7100 done
    check "server ack" await 7101 600 ack
    check "dmesg clean" dmesg_clean
}

client_io() {
    d=/proc/fs/cifs/DebugData
    check "DebugData: SMBDirect transport connected" grep -q 'SMBDirect (in hex) protocol version: 100 transport status: 2' $d
    check "DebugData: dialect 3.1.1 over RDMA" sh -c "grep -q 'Dialect 0x311' $d && grep -q '^RDMA' $d"

    t0=$(now); check "cp ${size_mb} MiB to the server" cp /tmp/up.bin $mnt/up.bin; t1=$(now)
    echo "KPAIR-INFO client cp-write secs=$(awk "BEGIN{print $t1 - $t0}")"
    t0=$(now); check "cp ${size_mb} MiB from the server" cp $mnt/down.bin /tmp/down.bin; t1=$(now)
    echo "KPAIR-INFO client cp-read secs=$(awk "BEGIN{print $t1 - $t0}")"
    [ -f /tmp/down.bin ] && echo "KPAIR-SHA client down.bin $(sha /tmp/down.bin)"
    rm -f /tmp/down.bin

    bytes=$((size_mb * 1048576))
    check "ls lists both files" sh -c "ls -l $mnt | grep -q ' up.bin\$' && ls -l $mnt | grep -q ' down.bin\$'"
    check "stat size up.bin" size_is $mnt/up.bin $bytes
    check "stat size down.bin" size_is $mnt/down.bin $bytes
    check "mkdir" mkdir $mnt/dir
    check "write a small file" sh -c "echo kpair-small >$mnt/dir/small.txt"
    check "mv within the share" mv $mnt/dir/small.txt $mnt/dir/moved.txt
    check "read it back" sh -c "[ \"\$(cat $mnt/dir/moved.txt)\" = kpair-small ] && [ ! -e $mnt/dir/small.txt ]"
    check "mv a directory" mv $mnt/dir $mnt/dir2
    check "rm" rm $mnt/dir2/moved.txt
    check "rmdir" rmdir $mnt/dir2
    check "gone" sh -c "[ ! -e $mnt/dir2 ] && [ \"\$(ls $mnt | tr '\n' ' ')\" = 'down.bin up.bin ' ]"

    # The benchmark anchor: sequential 1 MiB I/O through the mount, each way, O_DIRECT (no page
    # cache: one SMB2 WRITE/READ per block).
    rbytes=$((rate_mb * 1048576))
    t0=$(now); check "dd write ${rate_mb} MiB (bs=1M, O_DIRECT)" dd if=/dev/zero of=$mnt/rate.bin bs=1M count="$rate_mb" oflag=direct; t1=$(now)
    echo "KPAIR-RATE op=write bytes=$rbytes secs=$(awk "BEGIN{print $t1 - $t0}")"
    check "rate file size" size_is $mnt/rate.bin $rbytes
    t0=$(now); check "dd read ${rate_mb} MiB (bs=1M, O_DIRECT)" dd if=$mnt/rate.bin of=/dev/null bs=1M iflag=direct; t1=$(now)
    echo "KPAIR-RATE op=read bytes=$rbytes secs=$(awk "BEGIN{print $t1 - $t0}")"
    check "rm rate file" rm $mnt/rate.bin

    n=$(kprobe_hits reg_mr)
    echo "KPAIR-INFO client smbd_register_mr=$n"
    if [ $rdma_rw = yes ]; then
        check "memory registrations (RDMA reads/writes used): $n" positive "$n"
    else
        check "no memory registrations with seal: $n" [ "$n" = 0 ]
        check "DebugData: the share is encrypted" sh -c "grep -A1 '10.9.0.1.kpair ' $d | grep -q Encrypted"
    fi
    echo "---- /proc/fs/cifs/DebugData"; cat $d
    check "DebugData: transport still connected" grep -q 'transport status: 2' $d
}

case "$role" in
    server) server ;;
    client) client ;;
    *) echo "usage: kpair.sh server|client" >&2; exit 2 ;;
esac
echo "KPAIR-INFO $role kernel log (SMB Direct related):"
grep -iE 'cifs|ksmbd|smbd|smb_direct|rdma|taint' /tmp/dmesg.txt 2>/dev/null | tail -n 30 | sed 's/^/    /'
echo "KPAIR-CHECK summary $role failures=$fails"
[ "$fails" = 0 ]
