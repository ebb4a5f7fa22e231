#!/usr/bin/env bash
# cifs-smbdirect-vm-test.sh - the Linux kernel's SMB Direct client against `smbdx serve --rdma` over
# SoftRoCE: cifs.ko rebuilt with CONFIG_CIFS_SMB_DIRECT (scripts/kmod-smbdirect.sh, cached in
# target/kmod/) mounts `-o rdma,vers=3.1.1` in the client VM; smbdx serves in the server VM
# (scripts/rxe-vm.sh pair; scripts/vm/cifs-rdma-smbdx.sh is both roles).
#
# Usage (root, Debian 12):  scripts/cifs-smbdirect-vm-test.sh
# Then, in the same VMs, the kernel's SMB Direct server (ksmbd.ko, same build) and the smbdx client.
#
# Checks (cifs.ko -> smbdx): the mount is SMB Direct; cp of 64 MiB both ways, SHA-256 equal on both
# sides (compared here); ls, stat, mkdir, mv, rm, rmdir; a small file inline; the server's RDMA byte
# counters about equal to the data moved; `sign` and `seal` mounts (inline) with data intact; 32
# outstanding 1 MiB READs on 16 receive credits complete; clean guest kernel logs and server log.
# (smbdx -> ksmbd): cp of 64 MiB both ways by RDMA, SHA-256 equal (and equal on ksmbd's disk), every
# window invalidated by ksmbd; a signed session inline within ksmbd's MaxFragmentedSize; ls, stat,
# mkdir, rm; clean guest kernel logs. Prints the checks and
#   test result: kernel client over SMB Direct (rxe VMs). N passed; M failed
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --quiet -p smbdx --features rdma --bin smbdx
kmod_env=$(scripts/kmod-smbdirect.sh)
eval "$kmod_env"
mapfile -t kargs <"$KMOD_RXE_VM_ARGS"
log=$(mktemp)
trap 'rm -f "$log"' EXIT
status=0
scripts/rxe-vm.sh --timeout "${SMBDX_VM_TIMEOUT:-1200}" --mem 1536 --client-delay 3 "${kargs[@]}" \
    --add target/release/smbdx --add scripts/vm/cifs-rdma-smbdx.sh:/usr/local/bin/cifs-rdma-smbdx \
    pair --server 'cifs-rdma-smbdx server' --client 'cifs-rdma-smbdx client' \
    >"$log" 2>&1 || status=$?
out=$(tr -d '\r' <"$log")
checks=$(grep -E '^CIFSD-CHECK (ok|FAIL) ' <<<"$out" || true)
sha_of() { sed -n "s/^CIFSD-SHA $1 $2 \([0-9a-f]\{64\}\)\$/\1/p" <<<"$out" | tail -n 1; }
cross() {
    if [[ -n $2 && $2 == "$3" ]]; then checks+=$'\n'"CIFSD-CHECK ok host: $1"
    else checks+=$'\n'"CIFSD-CHECK FAIL host: $1 (${2:-none} vs ${3:-none})"; fi
}
cross "the 64 MiB the client wrote is what the server has" "$(sha_of client up.bin)" "$(sha_of server up.bin)"
cross "the 64 MiB the client read is what the server has" "$(sha_of server down.bin)" "$(sha_of client down.bin)"
cross "ksmbd has the 64 MiB the smbdx client wrote" "$(sha_of client kup.bin)" "$(sha_of server kup.bin)"
for role in server client; do
    if grep -q "^RXE-RESULT role=$role rc=0\$" <<<"$out"; then checks+=$'\n'"CIFSD-CHECK ok host: $role VM finished cleanly"
    else checks+=$'\n'"CIFSD-CHECK FAIL host: $role VM finished cleanly"; fi
done
echo "$checks" | sed '/^$/d'
grep -E '^CIFSD-INFO ' <<<"$out" || true
passed=$(grep -c '^CIFSD-CHECK ok ' <<<"$checks" || true)
failed=$(grep -c '^CIFSD-CHECK FAIL ' <<<"$checks" || true)
if [[ $failed -ne 0 || $status -ne 0 ]]; then scripts/vm-failure-context.sh "$log"; status=1; fi
echo "test result: kernel client over SMB Direct (rxe VMs). $passed passed; $failed failed"
exit "$status"
