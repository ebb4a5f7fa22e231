#!/bin/sh
# kmod-peer.sh - inside an rxe-vm.sh VM (busybox sh): bring up the Linux kernel's own SMB Direct
# peers that scripts/kmod-smbdirect.sh built, in one line.  Its rxe-vm.args put this script in
# the image as /usr/local/bin/kmod-peer, the modules under /kmod/, the stock modules they need
# under /modules/ (--ship-modules) and ksmbd-tools in /usr/sbin.
#
#   kmod-peer load cifs|ksmbd      stock dependencies (/kmod/NAME.deps, in order, each unless
#                                  loaded), then insmod /kmod/NAME.ko
#   kmod-peer ksmbd [NAME=DIR]...  load ksmbd and start it: the user, one share per NAME=DIR
#                                  (default kpair=/srv/kpair), ksmbd.mountd; waits until it
#                                  listens on TCP 445 and RDMA CM 445
#   kmod-peer cifs                 load cifs
#   kmod-peer mount //HOST/SHARE DIR [OPTS]
#                                  load cifs if needed and mount over SMB Direct:
#                                  -o rdma,vers=3.1.1,username=..,password=..[,OPTS]
#
# Environment: KPAIR_USER (kpair), KPAIR_PASS (Kpair-Passw0rd), KPAIR_UID (1000: the share
# directories' owner, the Unix user ksmbd acts as), KSMBD_GLOBAL (extra [global] lines for
# ksmbd.conf, e.g. "smb3 encryption = mandatory"), KSMBD_DEBUG (e.g. "rdma": ksmbd.control -d).
# Exits non-zero with a "kmod-peer: ..." message on failure.
set -u
user=${KPAIR_USER:-kpair}
pass=${KPAIR_PASS:-Kpair-Passw0rd}
uid=${KPAIR_UID:-1000}

die() { echo "kmod-peer: $*" >&2; exit 1; }

# Load NAME's stock dependencies, then the rebuilt module (no-op if loaded).
load() {
    name=$1
    [ -f /kmod/$name.ko ] || die "no /kmod/$name.ko (image built without kmod-smbdirect.sh's rxe-vm.args?)"
    [ -d /sys/module/$name ] && return 0
    for m in $(cat /kmod/$name.deps); do
        [ -d /sys/module/$m ] && continue
        [ -f /modules/$m.ko ] || die "stock module $m is not in the image (--ship-modules)"
        insmod /modules/$m.ko || die "insmod $m failed"
    done
    insmod /kmod/$name.ko || die "insmod /kmod/$name.ko failed (dmesg: $(dmesg | tail -n 3))"
}

# A Unix user for ksmbd to act as, and directories it may enter: the initramfs root is 0700.
unix_user() {
    [ -f /etc/passwd ] || echo "root:x:0:0:root:/root:/bin/sh" >/etc/passwd
    [ -f /etc/group ] || echo "root:x:0:" >/etc/group
    grep -q "^$user:" /etc/passwd || echo "$user:x:$uid:$uid::/tmp:/bin/sh" >>/etc/passwd
    grep -q "^$user:" /etc/group || echo "$user:x:$uid:" >>/etc/group
    chmod 755 /
}

listening_tcp_445() { netstat -ltn 2>/dev/null | grep -q ':445 '; }
listening_rdma_445() { /usr/bin/rdma resource show cm_id 2>/dev/null | grep -q 'state LISTEN .*:445 '; }

start_ksmbd() {
    load ksmbd
    unix_user
    [ $# -gt 0 ] || set -- kpair=/srv/kpair
    mkdir -p /etc/ksmbd
    {
        echo "[global]"
        echo "	netbios name = KPAIR"
        echo "	server multi channel support = no"
        [ -n "${KSMBD_GLOBAL:-}" ] && printf '\t%s\n' "$KSMBD_GLOBAL"
        for s in "$@"; do
            n=${s%%=*} d=${s#*=}
            mkdir -p "$d" || die "mkdir $d"
            chown "$uid:$uid" "$d"
            chmod 755 "$(dirname "$d")"
            echo "[$n]"
            echo "	path = $d"
            echo "	read only = no"
            echo "	valid users = $user"
        done
    } >/etc/ksmbd/ksmbd.conf
    # ksmbd-tools 3.4 syntax (3.5 takes the user last); -u if the user is there already.
    ksmbd.adduser -a "$user" -p "$pass" >/tmp/ksmbd.adduser.log 2>&1 \
        || ksmbd.adduser -u "$user" -p "$pass" >>/tmp/ksmbd.adduser.log 2>&1 \
        || die "ksmbd.adduser failed: $(cat /tmp/ksmbd.adduser.log)"
    # Its lock file is /run/ksmbd.lock; -n keeps it in the foreground (here: in the background
    # of this shell) so that its log goes to a file rather than to a syslog the VM lacks.
    mkdir -p /run
    if ! [ -f /run/ksmbd.lock ] || ! kill -0 "$(cat /run/ksmbd.lock)" 2>/dev/null; then
        ksmbd.mountd -n >/tmp/ksmbd.mountd.log 2>&1 &
    fi
    [ -n "${KSMBD_DEBUG:-}" ] && ksmbd.control -d "$KSMBD_DEBUG" >/dev/null
    i=0
    until listening_tcp_445 && listening_rdma_445; do
        i=$((i + 1))
        [ $i -lt 100 ] || die "ksmbd does not listen on TCP 445 and RDMA 445 after 20 s: $(tail -n 5 /tmp/ksmbd.mountd.log; dmesg | grep -i ksmbd | tail -n 5)"
        sleep 0.2
    done
    echo "kmod-peer: ksmbd up (user $user, shares: $*)"
}

do_mount() {
    [ $# -ge 2 ] || die "mount needs //HOST/SHARE DIR [OPTS]"
    load cifs
    mkdir -p "$2"
    opts=rdma,vers=3.1.1,username=$user,password=$pass
    [ -n "${3:-}" ] && opts=$opts,$3
    mount -t cifs "$1" "$2" -o "$opts" || die "mount -t cifs $1 $2 -o rdma,... failed: $(dmesg | grep -i cifs | tail -n 5)"
}

[ $# -ge 1 ] || die "usage: kmod-peer load cifs|ksmbd | ksmbd [NAME=DIR]... | cifs | mount //HOST/SHARE DIR [OPTS]"
cmd=$1; shift
case "$cmd" in
    load)  [ $# -eq 1 ] || die "load needs cifs or ksmbd"
           case "$1" in cifs|ksmbd) load "$1" ;; *) die "load: unknown module $1" ;; esac ;;
    ksmbd) start_ksmbd "$@" ;;
    cifs)  load cifs ;;
    mount) do_mount "$@" ;;
    *)     die "unknown command $cmd" ;;
esac
