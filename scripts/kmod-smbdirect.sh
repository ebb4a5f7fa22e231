#!/usr/bin/env bash
# kmod-smbdirect.sh - build the Linux kernel's own SMB Direct peers for the
# kernel the rxe VMs boot: cifs.ko with CONFIG_CIFS_SMB_DIRECT=y and ksmbd.ko
# with CONFIG_SMB_SERVER_SMBDIRECT=y (Debian builds both with SMB Direct off),
# plus Debian's ksmbd-tools unpacked (never installed: it conflicts with samba).
#
# Usage (root, Debian 12):  scripts/kmod-smbdirect.sh [--no-install]
#   eval "$(scripts/kmod-smbdirect.sh)"       # in another script
#
# The kernel is rxe-vm.sh's (its --print-kernel: the newest /boot/vmlinuz-*
# with /lib/modules).  The modules are built out of tree from Debian's
# linux-source-<major.minor> (its fs/smb, the fs/ layout kept) against
# linux-headers-<kver>, with the patches in scripts/kmod/patches/ applied
# (each says what it fixes).  The versions are pinned below; the script stops
# with a clear message if the image's upstream version differs from the
# pinned source's.
#
# Output: everything goes to target/kmod/<kver>-<hash>/ (hash of this script,
# the image's version and the patches applied), built once; a second run only
# prints.  build.log and versions stay there (a failed build's log is
# target/kmod/last-failed-build.log).  On stdout, KEY=VALUE lines (no spaces,
# safe to eval):
#   KMOD_KVER          kernel release, e.g. 6.1.0-57-amd64
#   KMOD_DIR           the cache directory
#   KMOD_CIFS_KO       .../cifs.ko          KMOD_KSMBD_KO  .../ksmbd.ko
#   KMOD_CIFS_DEPS     stock modules cifs.ko needs, in load order (comma list)
#   KMOD_KSMBD_DEPS    the same for ksmbd.ko
#   KMOD_KSMBD_TOOLS   root of the unpacked ksmbd-tools .deb (usr/sbin/ksmbd.*)
#   KMOD_PATCHES       the patches applied (comma list of their numbers)
#   KMOD_RXE_VM_ARGS   a file of rxe-vm.sh arguments, one per line, that put
#                      all of the above plus scripts/vm/kmod-peer.sh (as
#                      /usr/local/bin/kmod-peer) into the VM image:
#       mapfile -t args <"$KMOD_RXE_VM_ARGS"
#       scripts/rxe-vm.sh "${args[@]}" pair --server 'kmod-peer ksmbd && ...' ...
# Exits non-zero (with a message on stderr) on any failure.
#
# KMOD_SKIP_PATCHES=0002,0004 builds without those patches (into their own
# cache directory): how to check that a patch is still needed after a bump.
# KMOD_CACHE=DIR moves the cache.
set -euo pipefail

SCRIPT_PATH=$(readlink -f "${BASH_SOURCE[0]}")
REPO_ROOT=$(cd "$(dirname "$SCRIPT_PATH")/.." && pwd)
PATCH_DIR=$REPO_ROOT/scripts/kmod/patches
PEER_HELPER=$REPO_ROOT/scripts/vm/kmod-peer.sh

# ---------------------------------------------------------------- pinned versions
# The one place to change when Debian moves the kernel: the source package and
# its exact Debian version (its upstream part must equal the VM image's), and
# ksmbd-tools.  Check the patches still apply and are still needed after a bump.
LINUX_SOURCE_PKG=linux-source-6.1
LINUX_SOURCE_VERSION=6.1.192-3
KSMBD_TOOLS_VERSION=3.4.7-1
# Stock modules loaded before the rebuilt ones besides their declared
# dependencies: what they request at run time (crypto for signing and
# encryption, the NLS table), which the VM cannot modprobe (SOFTROCE.md).
EXTRA_DEPS=(ccm gcm cmac ghash_generic ctr seqiv sha512_generic ecb libarc4 nls_utf8)

CACHE=${KMOD_CACHE:-$REPO_ROOT/target/kmod}
INSTALL=1

log() { printf '[kmod] %s\n' "$*" >&2; }
die() { printf '[kmod] error: %s\n' "$*" >&2; exit 2; }
# A command that fails outside die() says where (the callers capture stdout only).
trap 'printf "[kmod] error: line %s failed: %s\n" "$LINENO" "$BASH_COMMAND" >&2' ERR

for arg in "$@"; do
    case "$arg" in
        --no-install) INSTALL=0 ;;
        -h|--help)    sed -n '2,/^set -e/{/^set -e/d;s/^# \{0,1\}//;p}' "$SCRIPT_PATH" >&2; exit 2 ;;
        *)            die "unknown argument: $arg (see --help)" ;;
    esac
done

upstream_of() { local v=${1#*:}; echo "${v%-*}"; }   # 1:6.1.192-3 -> 6.1.192

# Empty when not installed (dpkg-query fails then: not an error here, on a fresh machine).
installed_version() { { dpkg-query -W -f='${Status} ${Version}\n' "$1" 2>/dev/null || true; } \
    | sed -n 's/^install ok installed //p'; }

# Install PKG=VERSION (or PKG) unless that version is installed.
ensure_pkg() {
    local pkg=${1%%=*} want=""
    [[ $1 == *=* ]] && want=${1#*=}
    local have; have=$(installed_version "$pkg")
    if [[ -n $have && ( -z $want || $have == "$want" ) ]]; then return 0; fi
    [[ $INSTALL -eq 1 ]] || die "package $1 is not installed (have: ${have:-none}); run without --no-install"
    log "installing $1"
    if ! DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$1" >&2; then
        apt-get update -qq >&2
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$1" >&2 \
            || die "cannot install $1 (is that version still in the archive? see the pins in $SCRIPT_PATH)"
    fi
}

# ---------------------------------------------------------------- which kernel
KVER=""; VMLINUZ=""
rxe_args=(); [[ $INSTALL -eq 1 ]] || rxe_args=(--no-install)
eval "$("$REPO_ROOT/scripts/rxe-vm.sh" "${rxe_args[@]}" --print-kernel)"
[[ -n $KVER && -r $VMLINUZ ]] || die "rxe-vm.sh --print-kernel gave no kernel"

IMAGE_PKG=$(dpkg-query -S "$VMLINUZ" 2>/dev/null | cut -d: -f1) \
    || die "$VMLINUZ belongs to no Debian package; cannot tell its version"
IMAGE_VERSION=$(installed_version "$IMAGE_PKG")
[[ -n $IMAGE_VERSION ]] || die "cannot read the version of $IMAGE_PKG"
series=${LINUX_SOURCE_PKG#linux-source-}
if [[ $KVER != "$series".* || $(upstream_of "$IMAGE_VERSION") != "$(upstream_of "$LINUX_SOURCE_VERSION")" ]]; then
    die "the VMs boot $KVER from $IMAGE_PKG $IMAGE_VERSION (upstream $(upstream_of "$IMAGE_VERSION")),
    but the pinned source is $LINUX_SOURCE_PKG $LINUX_SOURCE_VERSION (upstream $(upstream_of "$LINUX_SOURCE_VERSION")).
    Modules must be built from the same upstream version as the image: update the pins at the
    top of $SCRIPT_PATH (and check scripts/kmod/patches/ still apply and are still needed)."
fi

# ---------------------------------------------------------------- the cache
PATCHES=()
for p in "$PATCH_DIR"/*.patch; do
    [[ -f $p ]] || continue
    n=$(basename "$p"); n=${n%%-*}
    [[ ,${KMOD_SKIP_PATCHES:-}, == *,"$n",* ]] && { log "skipping patch $(basename "$p") (KMOD_SKIP_PATCHES)"; continue; }
    PATCHES+=("$p")
done
HASH=$( { sha256sum "$SCRIPT_PATH"; echo "$IMAGE_PKG $IMAGE_VERSION";
          [[ ${#PATCHES[@]} -eq 0 ]] || sha256sum "${PATCHES[@]}"
        } | sed "s|$REPO_ROOT/||" | sha256sum | cut -c1-12)
DIR=$CACHE/$KVER-$HASH

print_result() {
    # The argument file for rxe-vm.sh is rewritten on each run (paths into
    # the repository may move; the build does not depend on them).
    local args=$DIR/rxe-vm.args t f all_deps
    all_deps=$(cat "$DIR/cifs.deps" "$DIR/ksmbd.deps" | awk '!seen[$0]++' | paste -sd,)
    {
        echo --ship-modules; echo "$all_deps"
        for f in cifs.ko ksmbd.ko cifs.deps ksmbd.deps; do echo --add; echo "$DIR/$f:/kmod/$f"; done
        echo --add; echo "$DIR/ksmbd-tools/usr/libexec/ksmbd.tools:/usr/libexec/ksmbd.tools"
        for t in "$DIR"/ksmbd-tools/usr/sbin/ksmbd.*; do
            echo --add; echo "$t:/usr/sbin/$(basename "$t")"
        done
        echo --add; echo "$PEER_HELPER:/usr/local/bin/kmod-peer"
    } >"$args.tmp"
    mv "$args.tmp" "$args"
    cat <<EOF
KMOD_KVER=$KVER
KMOD_DIR=$DIR
KMOD_CIFS_KO=$DIR/cifs.ko
KMOD_KSMBD_KO=$DIR/ksmbd.ko
KMOD_CIFS_DEPS=$(paste -sd, "$DIR/cifs.deps")
KMOD_KSMBD_DEPS=$(paste -sd, "$DIR/ksmbd.deps")
KMOD_KSMBD_TOOLS=$DIR/ksmbd-tools
KMOD_PATCHES=$(cat "$DIR/patches")
KMOD_RXE_VM_ARGS=$args
EOF
}

[[ -f $PEER_HELPER ]] || die "missing $PEER_HELPER"
if [[ -f $DIR/done ]]; then
    log "up to date: $DIR"
    print_result
    exit 0
fi

# ---------------------------------------------------------------- build
start=$SECONDS
ensure_pkg "$LINUX_SOURCE_PKG=$LINUX_SOURCE_VERSION"
ensure_pkg "linux-headers-$KVER=$IMAGE_VERSION"
for p in gcc make libc6-dev xz-utils patch kmod binutils \
         libglib2.0-0 libnl-3-200 libnl-genl-3-200; do   # the last three: ksmbd-tools' libraries
    ensure_pkg "$p"
done
HEADERS=/usr/src/linux-headers-$KVER
TARBALL=/usr/src/$LINUX_SOURCE_PKG.tar.xz
[[ -f $HEADERS/Makefile ]] || die "no $HEADERS/Makefile"
[[ -f $TARBALL ]] || die "no $TARBALL"

mkdir -p "$CACHE"
WORK=$(mktemp -d "$CACHE/.build-$KVER.XXXXXX")
BLOG=$WORK/build.log
: >"$BLOG"
run() { # run a build step, its output into the log; on failure show the tail
    if ! "$@" >>"$BLOG" 2>&1; then
        tail -n 40 "$BLOG" >&2
        die "failed: $* (full log: $BLOG, kept as $CACHE/last-failed-build.log)"
    fi
}
trap 'cp -f "$BLOG" "$CACHE/last-failed-build.log" 2>/dev/null; rm -rf "$WORK"' EXIT

top=$LINUX_SOURCE_PKG
log "extracting fs/smb from $TARBALL"
run tar -xf "$TARBALL" -C "$WORK" "$top/Makefile" "$top/fs/smb" "$top/fs/internal.h" \
    "$top/scripts/asn1_compiler.c" "$top/include/linux/asn1.h" \
    "$top/include/linux/asn1_ber_bytecode.h" "$top/include/linux/asn1_decoder.h"
SRC=$WORK/$top
src_ver=$(sed -n 's/^VERSION = //p;s/^PATCHLEVEL = //p;s/^SUBLEVEL = //p' "$SRC/Makefile" | paste -sd.)
[[ $src_ver == "$(upstream_of "$LINUX_SOURCE_VERSION")" ]] \
    || die "$TARBALL is upstream $src_ver, not $(upstream_of "$LINUX_SOURCE_VERSION")"

for p in "${PATCHES[@]}"; do
    log "applying $(basename "$p")"
    run patch -p1 -d "$SRC" --forward --batch --no-backup-if-mismatch -i "$p"
done

# The headers package has no scripts/asn1_compiler: build it and generate the
# *.asn1.[ch] files that kbuild would otherwise make with it.
run gcc -O2 -I"$SRC/include" -o "$WORK/asn1_compiler" "$SRC/scripts/asn1_compiler.c"
for a in "$SRC"/fs/smb/client/*.asn1 "$SRC"/fs/smb/server/*.asn1; do
    run "$WORK/asn1_compiler" "$a" "$a.c" "$a.h"
done

# Kbuild reads the image's configuration from the headers; the make variables
# switch the object lists on, and -D... the #ifdefs (autoconf.h says "not set").
jobs=$(nproc)
log "building cifs.ko (SMB Direct) against $HEADERS"
run make -C "$HEADERS" M="$SRC/fs/smb/client" -j"$jobs" \
    CONFIG_CIFS=m CONFIG_CIFS_SMB_DIRECT=y KCFLAGS=-DCONFIG_CIFS_SMB_DIRECT=1 modules
log "building ksmbd.ko (SMB Direct) against $HEADERS"
run make -C "$HEADERS" M="$SRC/fs/smb/server" -j"$jobs" \
    CONFIG_SMB_SERVER=m CONFIG_SMB_SERVER_SMBDIRECT=y KCFLAGS=-DCONFIG_SMB_SERVER_SMBDIRECT=1 modules

OUT=$WORK/out
mkdir -p "$OUT"
cp "$SRC/fs/smb/client/cifs.ko" "$SRC/fs/smb/server/ksmbd.ko" "$OUT/"
# As Debian's own modules: no debug info (30+ MB that would go into every VM
# image); the symbol table stays (kprobes, oops traces).
run strip --strip-debug "$OUT/cifs.ko" "$OUT/ksmbd.ko"

# Sanity: same vermagic as the image's own modules, and SMB Direct compiled in.
stock_magic=$(modinfo -k "$KVER" -F vermagic rdma_cm)
for m in cifs ksmbd; do
    [[ $(modinfo -F vermagic "$OUT/$m.ko") == "$stock_magic" ]] \
        || die "$m.ko vermagic '$(modinfo -F vermagic "$OUT/$m.ko")' != the image's '$stock_magic'"
done
has_symbol() { nm "$1" | awk -v s="$2" '$3 == s { found = 1 } END { exit !found }'; }
has_symbol "$OUT/cifs.ko" smbd_register_mr || die "cifs.ko has no SMB Direct code (smbd_register_mr)"
has_symbol "$OUT/ksmbd.ko" smb_direct_rdma_read || die "ksmbd.ko has no SMB Direct code (smb_direct_rdma_read)"

# Stock modules each needs, in load order (declared dependencies, recursively,
# then EXTRA_DEPS); built-in ones left out.
deps_of() {
    local -A seen=()
    local out=()
    visit() {
        local m=${1//-/_} d src
        [[ -n ${seen[$m]:-} ]] && return 0
        seen[$m]=1
        for d in $(modinfo -k "$KVER" -F depends "$m" | tr , ' '); do visit "$d"; done
        src=$(modinfo -k "$KVER" -F filename "$m") || die "stock module $m not found for $KVER"
        [[ $src == /* ]] && out+=("$m")
    }
    local d
    for d in $(modinfo -F depends "$1" | tr , ' ') "${EXTRA_DEPS[@]}"; do visit "$d"; done
    printf '%s\n' "${out[@]}"
}
deps_of "$OUT/cifs.ko" >"$OUT/cifs.deps"
deps_of "$OUT/ksmbd.ko" >"$OUT/ksmbd.deps"

log "fetching ksmbd-tools $KSMBD_TOOLS_VERSION (unpacked only: it conflicts with samba)"
(cd "$WORK" && run apt-get download "ksmbd-tools=$KSMBD_TOOLS_VERSION") \
    || die "apt-get download ksmbd-tools=$KSMBD_TOOLS_VERSION failed (see the pins in $SCRIPT_PATH)"
run dpkg-deb -x "$WORK"/ksmbd-tools_*.deb "$OUT/ksmbd-tools"
[[ -x $OUT/ksmbd-tools/usr/libexec/ksmbd.tools && -e $OUT/ksmbd-tools/usr/sbin/ksmbd.mountd ]] \
    || die "ksmbd-tools .deb has an unexpected layout"
missing=$(ldd "$OUT/ksmbd-tools/usr/libexec/ksmbd.tools" | grep 'not found' || true)
[[ -z $missing ]] || die "ksmbd-tools needs libraries that are missing here: $missing"


{
    echo "kernel $KVER ($IMAGE_PKG $IMAGE_VERSION)"
    echo "source $LINUX_SOURCE_PKG $(installed_version "$LINUX_SOURCE_PKG")"
    echo "headers linux-headers-$KVER $(installed_version "linux-headers-$KVER")"
    echo "ksmbd-tools $KSMBD_TOOLS_VERSION"
    echo "patches:"; [[ ${#PATCHES[@]} -eq 0 ]] || sha256sum "${PATCHES[@]}" | sed "s|$PATCH_DIR/||"
} >"$OUT/versions"
for p in "${PATCHES[@]}"; do n=$(basename "$p"); echo "${n%%-*}"; done | paste -sd, >"$OUT/patches"
cp "$BLOG" "$OUT/build.log"
touch "$OUT/done"
rm -rf "$DIR"
mv "$OUT" "$DIR"
trap - EXIT
rm -rf "$WORK"
# Keep the cache small: the 4 newest builds (other kernels' or patch sets').
ls -1dt "$CACHE"/*-*/ 2>/dev/null | tail -n +5 | xargs -r rm -rf
log "built in $((SECONDS - start))s: $DIR"
print_result
