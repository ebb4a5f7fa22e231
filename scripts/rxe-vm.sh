#!/usr/bin/env bash
# rxe-vm.sh - run commands against a real kernel RDMA stack (SoftRoCE, rdma_rxe)
# inside throw-away qemu VMs, on hosts whose own kernel has no RDMA support.
#
# Why VMs: the build hosts' kernel has no rdma_rxe/ib_uverbs and cannot load
# modules, and /dev/kvm only accepts specially built guests.  So we boot the
# stock Debian kernel under qemu's software emulation (TCG) from a tiny
# initramfs we build ourselves.  It is slow (tens of MB/s) but it is the real
# kernel RDMA stack, the real rxe driver and the real rdma-core userspace.
# docs/SOFTROCE.md has the facts this script is built on.
#
# Usage (as root on Debian 12):
#   scripts/rxe-vm.sh [OPTIONS] pair --server 'CMD' --client 'CMD'
#   scripts/rxe-vm.sh [OPTIONS] single 'CMD'      (or: --single 'CMD')
#   scripts/rxe-vm.sh --print-kernel                (KVER=... and VMLINUZ=... of
#                       the kernel the VMs boot, on stdout; installs packages)
#
#   pair:   two VMs joined by one Ethernet link (--link).
#           server VM: eth0 10.9.0.1/24, client VM: eth0 10.9.0.2/24.
#           Both have an rxe device "rxe0" on eth0 (GID index 1 = RoCEv2 IPv4).
#           The client waits until it can ping the server, then waits
#           --client-delay seconds more (so the server command is listening).
#   single: one VM (eth0 10.9.0.1/24 on an isolated qemu user network), rxe0.
#
# Options:
#   --modules LIST      extra kernel modules to load in the VM, comma separated
#                       (their dependencies come too), e.g. cifs for an SMB mount.
#   --ship-modules LIST stock kernel modules to put in the image (as
#                       /modules/NAME.ko, with their dependencies) WITHOUT
#                       loading them at boot; a command loads them itself
#                       (e.g. before insmod of a rebuilt module that needs
#                       them).  /modules/shipped lists them in load order.
#   --add PATH[:DEST]   put an extra file (e.g. a test binary) in the VM image,
#                       at DEST (default /usr/local/bin/NAME, which is on PATH);
#                       its shared libraries (per ldd) are added too. Repeatable.
#   --timeout SEC       give up after SEC seconds of wall time (default 600).
#   --client-delay SEC  pair mode: extra wait in the client VM after the server
#                       answers ping, before running its command (default 3).
#   --mem MB            VM memory (default 768).
#   --link tap|socket   pair mode: the VMs' link.  tap (the default when root
#                       with /dev/net/tun): a tap device per VM on a private
#                       host bridge with no address, made for the run and
#                       deleted after it.  socket: qemu's socket netdev over
#                       127.0.0.1 (no privileges; see "the link" below for
#                       why it is not the default).
#   --cache DIR         where initramfs images and logs go (default
#                       <repo>/target/rxe-vm).
#   --no-install        do not apt-get missing packages; fail instead.
#   -q, --quiet         do not echo the commands' output sections at the end.
#
# Output: each VM's serial console is saved in $CACHE/logs/; the VM's /init
# prints "RXE-RESULT role=<role> rc=<rc>" there.  The script exits 0 only if
# every role printed rc=0; a VM that timed out or died without a result counts
# as failed.  Commands run as root in the VM with cwd /tmp; stdin is /dev/null.
#
# Commands are passed base64-encoded on the kernel command line, so any shell
# text works, but the whole kernel command line is limited to 2048 bytes.

set -euo pipefail

SCRIPT_PATH=$(readlink -f "${BASH_SOURCE[0]}")
REPO_ROOT=$(cd "$(dirname "$SCRIPT_PATH")/.." && pwd)

# Debian packages needed on the host (kernel + userspace copied into the VM).
PACKAGES=(qemu-system-x86 linux-image-amd64 busybox-static rdma-core
          ibverbs-providers ibverbs-utils perftest iproute2 cpio gzip kmod
          gcc libc6-dev)   # the last two build the link's TCP_NODELAY shim (below)

# Kernel modules to load in the VM (docs/SOFTROCE.md).  Their dependencies are
# resolved with modinfo and loaded first, so order here only matters for
# modules without a declared dependency (crc32_generic: needed by rxe's ICRC,
# "rdma link add" fails with ENOENT without it).
MODULES=(crc32_generic configfs ib_core ib_uverbs udp_tunnel ip6_udp_tunnel
         rdma_rxe iw_cm ib_cm rdma_cm rdma_ucm
         virtio_ring virtio virtio_pci_modern_dev virtio_pci_legacy_dev
         virtio_pci failover net_failover virtio_net)

# Host binaries copied into the VM (with their libraries).
BINARIES=(/usr/sbin/ip /usr/bin/rdma
          /usr/bin/ib_write_bw /usr/bin/ib_read_bw /usr/bin/ib_send_bw
          /usr/bin/ib_write_lat /usr/bin/ib_read_lat /usr/bin/ib_send_lat
          /usr/bin/ibv_devices /usr/bin/ibv_devinfo /usr/bin/ibv_rc_pingpong)

SERVER_IP=10.9.0.1
CLIENT_IP=10.9.0.2

# Defaults for options.
TIMEOUT=600
CLIENT_DELAY=3
MEM=768
LINK=${SMBDX_VM_LINK:-auto}
CACHE="$REPO_ROOT/target/rxe-vm"
INSTALL=1
QUIET=0
MODE=""
SERVER_CMD=""
CLIENT_CMD=""
SINGLE_CMD=""
ADDS=()          # "SRC:DEST" pairs from --add
SHIP_MODULES=()  # --ship-modules: in the image, not loaded by /init
PRINT_KERNEL=0

# Filled in later.
KVER=""
VMLINUZ=""
INITRD=""
QEMU_PIDS=()

log()  { printf '[rxe-vm] %s\n' "$*" >&2; }
die()  { printf '[rxe-vm] error: %s\n' "$*" >&2; exit 2; }

usage() {
    sed -n '2,/^$/{s/^# \{0,1\}//;p}' "$SCRIPT_PATH" >&2
    exit 2
}

# ---------------------------------------------------------------- arguments
parse_args() {
    [[ $# -gt 0 ]] || usage
    while [[ $# -gt 0 ]]; do
        case "$1" in
            pair)            MODE=pair ;;
            single|--single)
                MODE=single
                [[ $# -ge 2 ]] || die "single needs a command"
                SINGLE_CMD=$2; shift ;;
            --server)        [[ $# -ge 2 ]] || die "--server needs a command"; SERVER_CMD=$2; shift ;;
            --client)        [[ $# -ge 2 ]] || die "--client needs a command"; CLIENT_CMD=$2; shift ;;
            --add)           [[ $# -ge 2 ]] || die "--add needs a path"; add_file_arg "$2"; shift ;;
            --modules)       [[ $# -ge 2 ]] || die "--modules needs a list"; MODULES+=(${2//,/ }); shift ;;
            --ship-modules)  [[ $# -ge 2 ]] || die "--ship-modules needs a list"; SHIP_MODULES+=(${2//,/ }); shift ;;
            --print-kernel)  PRINT_KERNEL=1 ;;
            --timeout)       TIMEOUT=${2:?}; shift ;;
            --client-delay)  CLIENT_DELAY=${2:?}; shift ;;
            --mem)           MEM=${2:?}; shift ;;
            --link)          LINK=${2:?}; shift ;;
            --cache)         CACHE=${2:?}; shift ;;
            --no-install)    INSTALL=0 ;;
            -q|--quiet)      QUIET=1 ;;
            -h|--help)       usage ;;
            *)               die "unknown argument: $1 (see --help)" ;;
        esac
        shift
    done
    [[ $PRINT_KERNEL -eq 1 ]] && return 0
    case "$MODE" in
        pair)   [[ -n $SERVER_CMD && -n $CLIENT_CMD ]] || die "pair needs --server CMD and --client CMD" ;;
        single) ;;
        *)      usage ;;
    esac
    [[ $TIMEOUT =~ ^[0-9]+$ && $CLIENT_DELAY =~ ^[0-9]+$ && $MEM =~ ^[0-9]+$ ]] \
        || die "--timeout, --client-delay and --mem take whole numbers"
}

# --add SRC or --add SRC:DEST; the file must exist now (it goes in the image).
add_file_arg() {
    local src=${1%%:*} dest
    if [[ $1 == *:* ]]; then dest=${1#*:}; else dest=/usr/local/bin/$(basename "$src"); fi
    [[ -f $src ]] || die "--add: no such file: $src"
    [[ $dest == /* ]] || die "--add: destination must be absolute: $dest"
    ADDS+=("$(readlink -f "$src"):$dest")
}

# ---------------------------------------------------------------- host setup
# Install missing Debian packages (one apt-get update, only if something is missing).
ensure_packages() {
    local missing=() p
    for p in "${PACKAGES[@]}"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' \
            || missing+=("$p")
    done
    [[ ${#missing[@]} -eq 0 ]] && return 0
    [[ $INSTALL -eq 1 ]] || die "missing packages: ${missing[*]} (run without --no-install)"
    [[ $(id -u) -eq 0 ]] || die "missing packages: ${missing[*]}; run as root to install them"
    log "installing: ${missing[*]}"
    apt-get update -qq >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
}

# Pick the newest kernel that has both a vmlinuz and its modules (the host's
# running kernel is irrelevant: the VM boots the Debian kernel).
pick_kernel() {
    local v
    for v in $(ls /lib/modules 2>/dev/null | sort -V -r); do
        if [[ -r /boot/vmlinuz-$v && -d /lib/modules/$v/kernel ]]; then
            KVER=$v; VMLINUZ=/boot/vmlinuz-$v; return 0
        fi
    done
    die "no kernel with /boot/vmlinuz-\$KVER and /lib/modules/\$KVER (is linux-image-amd64 installed?)"
}

# ---------------------------------------------------------------- the link
# The pair's Ethernet link is qemu's socket netdev: one TCP connection between
# the two qemu processes on 127.0.0.1, each frame written to it as it leaves
# the guest.  qemu leaves Nagle's algorithm on for it (qemu 7.2: the socket
# netdev never sets TCP_NODELAY; the stream netdev sets it on the connecting
# side only), so a small frame sent while an earlier one is unacknowledged
# waits for the peer's delayed ACK, up to 40 ms.  Seen as every SMB Direct
# request taking 48 ms at depth 1 (an RDMA READ of 64 KiB: 44 ms of it), and
# 64 KiB SMB WRITEs over SMB Direct at 0.35x ib_read_bw at depth 8; with
# TCP_NODELAY 2.9 ms and 2.6x the throughput (bench/smbdirect_vs_perftest.sh).
# A lossless link is what RoCE expects, so the link stays TCP (a UDP netdev
# could drop frames under a burst) and qemu runs with this preloaded shim,
# which sets TCP_NODELAY on the TCP sockets qemu connects or accepts.
NODELAY_SO=""
build_nodelay_shim() {
    local src hash
    src=$(cat <<'C'
#define _GNU_SOURCE
#include <dlfcn.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

/* TCP_NODELAY on an IPv4/IPv6 stream socket; anything else is left alone. */
static void nodelay(int fd) {
    int v = 0, one = 1;
    socklen_t l = sizeof v;
    if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &v, &l) != 0 || v != SOCK_STREAM) return;
    l = sizeof v;
    if (getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &v, &l) != 0 || (v != AF_INET && v != AF_INET6)) return;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

int connect(int fd, const struct sockaddr *a, socklen_t l) {
    static int (*real)(int, const struct sockaddr *, socklen_t);
    if (!real) real = (int (*)(int, const struct sockaddr *, socklen_t))dlsym(RTLD_NEXT, "connect");
    nodelay(fd);
    return real(fd, a, l);
}

int accept(int fd, struct sockaddr *a, socklen_t *l) {
    static int (*real)(int, struct sockaddr *, socklen_t *);
    if (!real) real = (int (*)(int, struct sockaddr *, socklen_t *))dlsym(RTLD_NEXT, "accept");
    int c = real(fd, a, l);
    if (c >= 0) nodelay(c);
    return c;
}

int accept4(int fd, struct sockaddr *a, socklen_t *l, int flags) {
    static int (*real)(int, struct sockaddr *, socklen_t *, int);
    if (!real) real = (int (*)(int, struct sockaddr *, socklen_t *, int))dlsym(RTLD_NEXT, "accept4");
    int c = real(fd, a, l, flags);
    if (c >= 0) nodelay(c);
    return c;
}
C
)
    hash=$(printf '%s' "$src" | sha256sum | cut -c1-12)
    NODELAY_SO="$CACHE/nodelay-$hash.so"
    [[ -f $NODELAY_SO ]] && return 0
    mkdir -p "$CACHE"
    printf '%s\n' "$src" >"$CACHE/nodelay-$hash.c"
    cc -shared -fPIC -O2 -o "$NODELAY_SO.tmp" "$CACHE/nodelay-$hash.c" -ldl \
        || die "cannot build the TCP_NODELAY shim for the VMs' link ($CACHE/nodelay-$hash.c)"
    mv "$NODELAY_SO.tmp" "$NODELAY_SO"
}

# ---------------------------------------------------------------- image contents
# Print the given modules (default: MODULES) plus their dependencies, each
# after what it depends on.
resolve_modules() {
    local -A seen=()
    local out=()
    local want=("$@")
    [[ $# -gt 0 ]] || want=("${MODULES[@]}")
    visit() {
        local m=${1//-/_} d deps
        [[ -n ${seen[$m]:-} ]] && return 0
        seen[$m]=1
        deps=$(modinfo -k "$KVER" -F depends "$m") || die "module $m not found for $KVER"
        for d in ${deps//,/ }; do visit "$d"; done
        out+=("$m")
    }
    local m
    for m in "${want[@]}"; do visit "$m"; done
    printf '%s\n' "${out[@]}"
}

# Print the --ship-modules closure (load order), less what /init loads anyway.
shipped_modules() {
    [[ ${#SHIP_MODULES[@]} -gt 0 ]] || return 0
    local -A boot=()
    local m src
    for m in $(resolve_modules); do boot[$m]=1; done
    for m in $(resolve_modules "${SHIP_MODULES[@]}"); do
        [[ -n ${boot[$m]:-} ]] && continue
        src=$(modinfo -k "$KVER" -F filename "$m")
        [[ $src == /* ]] && echo "$m"    # "(builtin)": nothing to ship
    done
}

# Print the shared libraries (resolved paths, incl. the dynamic loader) that
# the given ELF files need.  Static binaries and non-ELF files give nothing.
libs_of() {
    local f
    for f in "$@"; do
        ldd "$f" 2>/dev/null | awk '
            /=> \// { print $3; next }          # libfoo.so => /path (addr)
            /^[ \t]*\// { print $1 }            # /lib64/ld-linux-x86-64.so.2 (addr)
        ' || true
    done | sort -u
}

# All host files that go into the image, one per line as "SRC DEST" (DEST
# relative to the image root).  Also used to fingerprint the image.
image_manifest() {
    local provider f m src
    local providers=(/usr/lib/x86_64-linux-gnu/libibverbs/librxe-rdmav*.so)
    [[ -e ${providers[0]} ]] || die "rxe provider library not found (ibverbs-providers)"
    [[ -x /bin/busybox ]] || die "/bin/busybox missing (busybox-static)"
    echo "/bin/busybox bin/busybox"
    for f in "${BINARIES[@]}"; do
        [[ -x $f ]] || die "missing $f"
        echo "$f usr/bin/$(basename "$f")"
    done
    for provider in "${providers[@]}"; do echo "$provider ${provider#/}"; done
    echo "/etc/libibverbs.d/rxe.driver etc/libibverbs.d/rxe.driver"
    local add_srcs=()
    for f in "${ADDS[@]}"; do
        m=${f#*:}                      # absolute DEST -> image-relative
        echo "${f%%:*} ${m#/}"
        add_srcs+=("${f%%:*}")
    done
    # Libraries keep their host path, so the loader's default search paths and
    # libibverbs' provider directory work unchanged in the VM.
    for f in $(libs_of "${BINARIES[@]}" "${providers[@]}" "${add_srcs[@]}"); do
        echo "$f ${f#/}"
    done
    for m in $(resolve_modules) $(shipped_modules); do
        src=$(modinfo -k "$KVER" -F filename "$m")
        [[ $src == /* ]] || continue   # "(builtin)": nothing to load
        echo "$src modules/$m.ko${src##*.ko}"
    done
}

# Build (or reuse) the initramfs; sets INITRD.  The file name carries a hash of
# everything that goes in (this script, which holds /init; and each input
# file's path, size and mtime), so a changed input makes a new image and
# concurrent runs with different --add files do not clobber each other.
build_initramfs() {
    local manifest hash
    mkdir -p "$CACHE"
    manifest=$(image_manifest | sort -u)
    hash=$( {
        sha256sum "$SCRIPT_PATH"
        echo "$KVER"
        echo "load: $(resolve_modules | tr '\n' ' ')"
        echo "ship: $(shipped_modules | tr '\n' ' ')"
        while read -r src dest; do
            stat -L -c "%n %s %Y $dest" "$src"
        done <<<"$manifest"
    } | sha256sum | cut -c1-16)
    INITRD="$CACHE/initrd-$hash.gz"
    if [[ -s $INITRD ]]; then
        log "initramfs up to date: $INITRD"
        return 0
    fi
    log "building initramfs for kernel $KVER -> $INITRD"

    local root tmp
    root=$(mktemp -d "$CACHE/root.XXXXXX")
    tmp="$INITRD.tmp.$$"
    # Mirror Debian's merged /usr so library paths from ldd (/lib/...,
    # /lib64/...) and the compiled-in ones (/usr/lib/...) all resolve.
    mkdir -p "$root"/{bin,dev,proc,sys,tmp,etc,modules,usr/bin,usr/sbin,usr/lib,usr/lib64,usr/local/bin}
    ln -s usr/lib "$root/lib"
    ln -s usr/lib64 "$root/lib64"
    ln -s usr/sbin "$root/sbin"
    # So the kernel can give /init a console before devtmpfs is mounted.
    mknod -m 600 "$root/dev/console" c 5 1 2>/dev/null || true

    local src dest
    while read -r src dest; do
        mkdir -p "$(dirname "$root/$dest")"
        case "$src" in
            *.ko.xz)  xz -dc "$src" >"$root/${dest%.xz}" ;;     # busybox insmod
            *.ko.zst) zstd -qdc "$src" >"$root/${dest%.zst}" ;; # wants plain .ko
            *)        cp -L "$src" "$root/$dest" ;;
        esac
    done <<<"$manifest"

    # Busybox applets as symlinks in /bin; real iproute2 tools live in
    # /usr/bin and come first on PATH (but busybox sh still prefers its own
    # applets for names it knows, hence full paths in /init).
    local applet
    for applet in $(/bin/busybox --list); do
        [[ -e $root/bin/$applet ]] || ln -s busybox "$root/bin/$applet"
    done

    # Module load order for /init, and the shipped (not loaded) ones.
    resolve_modules >"$root/modules/order"
    shipped_modules >"$root/modules/shipped"
    write_init >"$root/init"
    chmod 755 "$root/init"

    (cd "$root" && find . | LC_ALL=C sort | cpio --quiet -o -H newc -R 0:0 | gzip -1 >"$tmp")
    mv "$tmp" "$INITRD"
    rm -rf "$root"
    # Keep the cache small: drop all but the 4 newest images.
    ls -1t "$CACHE"/initrd-*.gz 2>/dev/null | tail -n +5 | xargs -r rm -f
}

# The VM's /init (busybox sh).  Reads role=, cmd= (base64) and delay= from
# /proc/cmdline, sets up rxe0, runs the command and reports on the console.
write_init() {
    cat <<'INIT'
#!/bin/busybox sh
export PATH=/usr/local/bin:/usr/bin:/usr/sbin:/bin HOME=/tmp
/bin/busybox mount -t proc proc /proc
/bin/busybox mount -t sysfs sysfs /sys
/bin/busybox mount -t devtmpfs devtmpfs /dev
exec </dev/null >/dev/console 2>&1

role=single; cmd64=; delay=0; peer=
for arg in $(cat /proc/cmdline); do
    case "$arg" in
        role=*)  role=${arg#role=} ;;
        cmd=*)   cmd64=${arg#cmd=} ;;
        delay=*) delay=${arg#delay=} ;;
    esac
done

# Report and stop.  The leading newline keeps the marker on its own line even
# if the command's output did not end with one.
finish() {
    echo
    echo "RXE-RESULT role=$role rc=$1"
    sync
    poweroff -f
}
fail_setup() { echo "RXE-SETUP-ERROR role=$role: $*"; finish 200; }

for m in $(cat /modules/order); do
    # virtio_net without TX NAPI: see "the link" in rxe-vm.sh on the host.
    params=""; [ "$m" = virtio_net ] && params="napi_tx=0"
    insmod /modules/$m.ko $params || fail_setup "insmod $m"
done

case "$role" in
    server|single) addr=10.9.0.1 ;;
    client)        addr=10.9.0.2; peer=10.9.0.1 ;;
    *)             fail_setup "unknown role '$role'" ;;
esac
/usr/bin/ip link set lo up
/usr/bin/ip addr add $addr/24 dev eth0 || fail_setup "no eth0"
/usr/bin/ip link set eth0 up || fail_setup "eth0 up"
/usr/bin/rdma link add rxe0 type rxe netdev eth0 || fail_setup "rdma link add"

if [ -n "$peer" ]; then
    # The client must not start before the server VM is on the wire.
    i=0
    until ping -c 1 -W 1 $peer >/dev/null 2>&1; do
        i=$((i + 1))
        [ $i -lt 120 ] || fail_setup "peer $peer does not answer ping"
    done
    sleep $delay
fi

cmd=$(echo "$cmd64" | base64 -d) || fail_setup "bad cmd= encoding"
echo "RXE-READY role=$role addr=$addr $(/usr/bin/rdma link show 2>&1)"
echo "==== RXE-CMD-BEGIN role=$role: $cmd"
cd /tmp
sh -c "$cmd" </dev/null
finish $?
INIT
}

# ---------------------------------------------------------------- running VMs
# A TCP port on 127.0.0.1 that nothing listens on.  (Do not probe by
# connecting: qemu's socket netdev accepts exactly one connection.)
free_port() {
    local p
    for _ in $(seq 50); do
        p=$((20000 + RANDOM % 40000))
        if ! ss -Htln "sport = :$p" | grep -q .; then echo "$p"; return 0; fi
    done
    die "no free TCP port found"
}

# Wait (up to 30 s) until qemu pid $1 listens on port $2.
wait_listen() {
    local pid=$1 port=$2
    for _ in $(seq 300); do
        ss -Htln "sport = :$port" | grep -q . && return 0
        kill -0 "$pid" 2>/dev/null || return 1
        sleep 0.1
    done
    return 1
}

# The socket netdev also stops passing frames for good under a sustained
# stream of small frames in both directions (an SMB Direct inline sealed
# copy by cifs.ko, 8 MiB at a time, with the host busy): the guest reports
# "NETDEV WATCHDOG: transmit queue 0 timed out" every 5 s from then on, its
# peer's RDMA CM gets no ARP answer (rdma_resolve_addr -110/-113), and every
# later check fails.  Seen once in CI and reproduced here within two copies
# (qemu 7.2).  A tap device per VM on a host bridge carries the same frames
# through the host kernel instead, with no stream in between to stall, so
# it is the link wherever we may make one (root, /dev/net/tun, iproute2).
# On the tap link the guest's own TX queue stalled once the same way (the
# smbdx client's inline sealed READ stream, client VM); the guests therefore
# load virtio_net with napi_tx=0, its older TX path that reclaims sent
# buffers on every transmit and re-arms the completion interrupt itself
# rather than waiting on a TX NAPI poll.  That it was the cause is not
# proven: no stall since, in the runs listed in docs/SOFTROCE.md.
TAP_BRIDGE="" TAP_DEVS=()
setup_tap_link() {
    TAP_BRIDGE="smbdx$$b" TAP_DEVS=("smbdx$$s" "smbdx$$c")
    ip link add "$TAP_BRIDGE" type bridge || die "ip link add $TAP_BRIDGE type bridge"
    # Bridged frames skip the host's iptables (a FORWARD DROP policy, as
    # container engines set, would eat RoCE's UDP); the bridge has no
    # address, so the host never talks on the link, and no IPv6 chatter.
    ip link set "$TAP_BRIDGE" type bridge nf_call_iptables 0 nf_call_ip6tables 0 nf_call_arptables 0 \
        2>/dev/null || true
    sysctl -qw "net.ipv6.conf.$TAP_BRIDGE.disable_ipv6=1" 2>/dev/null || true
    local t
    for t in "${TAP_DEVS[@]}"; do
        ip tuntap add dev "$t" mode tap || die "ip tuntap add dev $t"
        sysctl -qw "net.ipv6.conf.$t.disable_ipv6=1" 2>/dev/null || true
        ip link set "$t" master "$TAP_BRIDGE" up || die "ip link set $t master $TAP_BRIDGE"
    done
    ip link set "$TAP_BRIDGE" up || die "ip link set $TAP_BRIDGE up"
}
teardown_tap_link() {
    local t
    for t in "${TAP_DEVS[@]}"; do ip link del "$t" 2>/dev/null || true; done
    [[ -z $TAP_BRIDGE ]] || ip link del "$TAP_BRIDGE" 2>/dev/null || true
    TAP_BRIDGE="" TAP_DEVS=()
}
pick_link() {
    if [[ $LINK == auto ]]; then
        if [[ $(id -u) -eq 0 && -c /dev/net/tun ]] && command -v ip >/dev/null; then LINK=tap; else LINK=socket; fi
    fi
    [[ $LINK == tap || $LINK == socket ]] || die "--link takes tap or socket, not $LINK"
}

# boot_vm ROLE CMD LOGFILE NETDEV-ARGS MAC: start one VM in the background and
# record its pid.  TCG only: /dev/kvm here refuses stock guests.
boot_vm() {
    local role=$1 cmd=$2 logf=$3 netdev=$4 mac=$5 append
    append="console=ttyS0 loglevel=5 panic=-1 rdinit=/init role=$role delay=$CLIENT_DELAY cmd=$(printf '%s' "$cmd" | base64 -w0)"
    [[ ${#append} -lt 2000 ]] || die "command for $role too long for the kernel command line"
    : >"$logf"
    LD_PRELOAD="$NODELAY_SO${LD_PRELOAD:+:$LD_PRELOAD}" qemu-system-x86_64 -accel tcg -m "$MEM" -smp 1 \
        -display none -monitor none -serial stdio -no-reboot \
        -kernel "$VMLINUZ" -initrd "$INITRD" -append "$append" \
        -netdev "$netdev" -device "virtio-net-pci,netdev=n0,mac=$mac" \
        </dev/null >"$logf" 2>&1 &
    QEMU_PIDS+=("$!")
}

cleanup() {
    local pid
    for pid in "${QEMU_PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
    for pid in "${QEMU_PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
    teardown_tap_link
}

# Result of ROLE from its log: the rc, or "" if there is none (yet).
result_of() {
    [[ -f $1 ]] || return 0     # qemu's job may not have created it yet
    tr -d '\r' <"$1" | sed -n "s/^RXE-RESULT role=$2 rc=\([0-9]*\)\$/\1/p" | tail -1
}

# Wait for all VMs to exit.  Stop early when the deadline passes, or when one
# role has failed (its peer would usually wait forever for it) - after giving
# the peer 15 s to finish on its own.
# Args: pairs of ROLE LOGFILE, in the same order as QEMU_PIDS.
wait_vms() {
    local deadline=$((SECONDS + TIMEOUT)) failed_at="" i alive rc
    local -a roles=() logs=()
    while [[ $# -gt 0 ]]; do roles+=("$1"); logs+=("$2"); shift 2; done
    while :; do
        alive=0
        for i in "${!QEMU_PIDS[@]}"; do
            kill -0 "${QEMU_PIDS[$i]}" 2>/dev/null && alive=1
            rc=$(result_of "${logs[$i]}" "${roles[$i]}")
            if [[ -n $rc && $rc != 0 && -z $failed_at ]]; then failed_at=$SECONDS; fi
        done
        [[ $alive -eq 0 ]] && break
        if (( SECONDS >= deadline )); then
            log "timeout after ${TIMEOUT}s; stopping VMs"; TIMED_OUT=1; cleanup; break
        fi
        if [[ -n $failed_at ]] && (( SECONDS - failed_at >= 15 )); then
            log "a role failed; stopping the remaining VM"; cleanup; break
        fi
        sleep 1
    done
    for i in "${!QEMU_PIDS[@]}"; do wait "${QEMU_PIDS[$i]}" 2>/dev/null || true; done
}

# Print one role's command output (between the BEGIN marker and its result).
show_output() {
    local role=$1 logf=$2
    echo "----- $role output ($logf)"
    tr -d '\r' <"$logf" | sed -n "/^==== RXE-CMD-BEGIN role=$role/,/^RXE-RESULT role=$role/p"
}

# Summarise; return non-zero if any role has no result or a non-zero rc.
report() {
    local status=0 role logf rc
    while [[ $# -gt 0 ]]; do
        role=$1 logf=$2; shift 2
        rc=$(result_of "$logf" "$role")
        [[ $QUIET -eq 1 ]] || show_output "$role" "$logf" >&2
        if [[ -z $rc ]]; then
            if [[ $TIMED_OUT -eq 1 ]]; then
                log "$role: TIMED OUT after ${TIMEOUT}s; last console lines:"
            else
                log "$role: NO RESULT (VM died or was stopped); last console lines:"
            fi
            tr -d '\r' <"$logf" | tail -n 15 | sed 's/^/    /' >&2
            status=1
        elif [[ $rc != 0 ]]; then
            log "$role: FAILED rc=$rc (log: $logf)"; status=1
        else
            log "$role: ok (log: $logf)"
        fi
    done
    return $status
}

main() {
    parse_args "$@"
    [[ $(id -u) -eq 0 ]] || log "warning: not root; package install and mknod may fail"
    ensure_packages
    pick_kernel
    if [[ $PRINT_KERNEL -eq 1 ]]; then
        printf 'KVER=%s\nVMLINUZ=%s\n' "$KVER" "$VMLINUZ"
        return 0
    fi
    build_initramfs
    build_nodelay_shim

    local logdir stamp start
    logdir="$CACHE/logs"; mkdir -p "$logdir"
    stamp=$(date +%Y%m%d-%H%M%S)-$$
    TIMED_OUT=0
    trap cleanup EXIT
    trap 'cleanup; exit 130' INT TERM
    start=$SECONDS

    if [[ $MODE == single ]]; then
        local slog="$logdir/$stamp-single.log"
        log "booting single VM (log: $slog)"
        # Isolated user-mode NIC: rxe needs a netdev; restrict=on keeps the VM
        # off the host network.
        boot_vm single "$SINGLE_CMD" "$slog" "user,id=n0,restrict=on" 52:54:00:00:00:01
        wait_vms single "$slog"
        log "finished in $((SECONDS - start))s"
        report single "$slog"
    else
        local port slog clog
        slog="$logdir/$stamp-server.log"; clog="$logdir/$stamp-client.log"
        local snet cnet link
        pick_link
        if [[ $LINK == tap ]]; then
            setup_tap_link
            snet="tap,id=n0,ifname=${TAP_DEVS[0]},script=no,downscript=no"
            cnet="tap,id=n0,ifname=${TAP_DEVS[1]},script=no,downscript=no"
            link="tap on bridge $TAP_BRIDGE"
        else
            port=$(free_port)
            snet="socket,id=n0,listen=127.0.0.1:$port" cnet="socket,id=n0,connect=127.0.0.1:$port"
            link="socket, port $port"
        fi
        log "booting server VM (link: $link, log: $slog)"
        boot_vm server "$SERVER_CMD" "$slog" "$snet" 52:54:00:00:00:01
        # The client's qemu fails at once if the server's socket is not listening yet.
        if [[ $LINK == socket ]]; then
            wait_listen "${QEMU_PIDS[0]}" "$port" || { cat "$slog" >&2; die "server qemu did not listen on $port"; }
        fi
        log "booting client VM (log: $clog)"
        boot_vm client "$CLIENT_CMD" "$clog" "$cnet" 52:54:00:00:00:02
        wait_vms server "$slog" client "$clog"
        log "finished in $((SECONDS - start))s"
        report server "$slog" client "$clog"
    fi
}

main "$@"
