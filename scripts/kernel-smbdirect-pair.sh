#!/usr/bin/env bash
# kernel-smbdirect-pair.sh - smoke test of the kernel SMB Direct harness: the Linux kernel's own
# SMB Direct peers against each other over SoftRoCE in the rxe-vm.sh VM pair.  ksmbd.ko + ksmbd-tools
# in the server VM (10.9.0.1), cifs.ko `mount -t cifs -o rdma,vers=3.1.1` in the client
# VM (10.9.0.2), both rebuilt with SMB Direct by scripts/kmod-smbdirect.sh (cached in target/kmod/).
#
# Usage (root, Debian 12; installs qemu, the kernel, its source and headers with apt as needed):
#   scripts/kernel-smbdirect-pair.sh
# Checks (scripts/vm/kpair.sh): the mount is SMB Direct (/proc/fs/cifs/DebugData), cp of 64 MiB
# each way with SHA-256 equal in both VMs (compared here), ls/stat/mkdir/mv/rm, RDMA reads and
# writes really used (kprobe hit counts: cifs smbd_register_mr, ksmbd smb_direct_rdma_read/write),
# each guest's dmesg free of WARN/BUG/Oops/SMB Direct errors; then a timed sequential dd of
# 256 MiB with 1 MiB blocks (O_DIRECT) each way through the mount, the "kernel pair" benchmark anchor.
# Prints "KPAIR-CHECK ok|FAIL <what>" lines, "KPAIR-RATE op=write|read bytes=N secs=S" lines and
#   kernel smbdirect pair: N passed, M failed
# and exits non-zero on any failure.  One RDMA mount per VM boot (remounting can hang cifs 6.1).
#
# Environment: KPAIR_TIMEOUT (1500 s for the VM pair), KPAIR_MEM (1536 MiB per VM: the server
# keeps the files in RAM), KPAIR_SIZE_MB, KPAIR_RATE_MB, KPAIR_MOUNT_OPTS (see scripts/vm/kpair.sh;
# passed on the kernel command line), KMOD_SKIP_PATCHES (see scripts/kmod-smbdirect.sh).
# Logs: target/kpair/<stamp>.log (this run's output) and the serial consoles in target/rxe-vm/logs/.
set -euo pipefail
cd "$(dirname "$0")/.."
start=$SECONDS

kmod_env=$(scripts/kmod-smbdirect.sh)
eval "$kmod_env"
mapfile -t kargs <"$KMOD_RXE_VM_ARGS"

mkdir -p target/kpair
log=target/kpair/$(date +%Y%m%d-%H%M%S)-$$.log
env_prefix=""
for v in KPAIR_SIZE_MB KPAIR_RATE_MB KPAIR_MOUNT_OPTS; do
    [[ -n ${!v:-} ]] && env_prefix+="$v=${!v} "
done
vm_status=0
echo "[kpair] booting the VM pair (kernel $KMOD_KVER, modules $KMOD_DIR; log $log)" >&2
scripts/rxe-vm.sh --timeout "${KPAIR_TIMEOUT:-1500}" --mem "${KPAIR_MEM:-1536}" --client-delay 0 \
    "${kargs[@]}" --add scripts/vm/kpair.sh:/usr/local/bin/kpair \
    pair --server "${env_prefix}kpair server" --client "${env_prefix}kpair client" \
    >"$log" 2>&1 || vm_status=$?

out=$(tr -d '\r' <"$log")
# The VMs' own checks, then the ones only the host can make (across the two VMs).
checks=$(grep -E '^KPAIR-CHECK (ok|FAIL) ' <<<"$out" || true)
sha_of() { sed -n "s/^KPAIR-SHA $1 $2 \([0-9a-f]\{64\}\)\$/\1/p" <<<"$out" | tail -n 1; }
cross() { # what, sha A, sha B
    if [[ -n $2 && $2 == "$3" ]]; then checks+=$'\n'"KPAIR-CHECK ok host: $1"
    else checks+=$'\n'"KPAIR-CHECK FAIL host: $1 (${2:-none} vs ${3:-none})"; fi
}
cross "SHA-256 of the ${KPAIR_SIZE_MB:-64} MiB written by the client, equal on the server" \
    "$(sha_of client up.bin)" "$(sha_of server up.bin)"
cross "SHA-256 of the ${KPAIR_SIZE_MB:-64} MiB read by the client, equal to the server's" \
    "$(sha_of server down.bin)" "$(sha_of client down.bin)"
rates=$(grep -E '^KPAIR-RATE op=(read|write) bytes=[0-9]+ secs=[0-9.]+$' <<<"$out" || true)
for op in write read; do
    if grep -q "op=$op " <<<"$rates"; then checks+=$'\n'"KPAIR-CHECK ok host: timed $op"
    else checks+=$'\n'"KPAIR-CHECK FAIL host: timed $op (no KPAIR-RATE line)"; fi
done
for role in server client; do
    if grep -q "^RXE-RESULT role=$role rc=0\$" <<<"$out"; then checks+=$'\n'"KPAIR-CHECK ok host: $role VM finished cleanly"
    else checks+=$'\n'"KPAIR-CHECK FAIL host: $role VM finished cleanly (see $log)"; fi
done

passed=$(grep -c '^KPAIR-CHECK ok ' <<<"$checks" || true)
failed=$(grep -c '^KPAIR-CHECK FAIL ' <<<"$checks" || true)
if [[ $failed -ne 0 || $vm_status -ne 0 ]]; then
    # Everything the VMs said, for the failure's context.
    sed -n '/^----- server output/,$p' <<<"$out" >&2
fi
echo "$checks" | sed '/^$/d'
grep -E '^KPAIR-INFO (client|server) [a-z_-]+' <<<"$out" | grep -v 'kernel log' || true
echo "$rates" | sed '/^$/d'
echo "$rates" | sed '/^$/d' | while read -r _ op bytes secs; do
    awk -v o="${op#op=}" -v b="${bytes#bytes=}" -v s="${secs#secs=}" \
        'BEGIN { if (s > 0) printf "[kpair] %s: %.1f MB/s\n", o, b / s / 1e6 }' >&2
done
echo "[kpair] finished in $((SECONDS - start))s; log $log" >&2
echo "kernel smbdirect pair: $passed passed, $failed failed"
[[ $failed -eq 0 && $vm_status -eq 0 ]]
