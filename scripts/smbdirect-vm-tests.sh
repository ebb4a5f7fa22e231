#!/usr/bin/env bash
# smbdirect-vm-tests.sh - smbdx over SMB Direct on the real kernel RDMA stack: `smbdx serve --rdma`
# in one SoftRoCE (rdma_rxe) VM, the smbdx client (--transport rdma) in the other
# (scripts/rxe-vm.sh pair; scripts/vm/smbdx-rdma-{server,client}.sh are the two roles).
#
# Usage (root, Debian 12):  scripts/smbdirect-vm-tests.sh
# Prints every SMBD-CHECK line of both roles, then one line:
#   smbdx SMB Direct (rxe VMs): N passed, M failed
# and exits non-zero if anything failed (a check, a VM, or no result).
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --quiet -p smbdx -p smbdx-hostile-peer --features smbdx/rdma,smbdx-hostile-peer/rdma
log=$(mktemp)
trap 'rm -f "$log"' EXIT
status=0
scripts/rxe-vm.sh --timeout "${SMBDX_VM_TIMEOUT:-1200}" --mem 1024 \
    --add target/release/smbdx --add target/release/smbdx-hostile-peer --add /usr/bin/tcpdump \
    --add scripts/vm/smbdx-rdma-server.sh --add scripts/vm/smbdx-rdma-client.sh \
    pair \
    --server 'sh /usr/local/bin/smbdx-rdma-server.sh' \
    --client 'sh /usr/local/bin/smbdx-rdma-client.sh' \
    >"$log" 2>&1 || status=$?
grep -a "SMBD-CHECK\|SMBD-INFO" "$log" || cat "$log"
passed=$(grep -ac "SMBD-CHECK ok" "$log") || true
failed=$(grep -ac "SMBD-CHECK FAIL" "$log") || true
if [ "${passed:-0}" -eq 0 ] || [ "${failed:-0}" -ne 0 ]; then status=1; scripts/vm-failure-context.sh "$log"; fi
echo "test result: smbdx SMB Direct (rxe VMs). ${passed:-0} passed; ${failed:-0} failed"
exit "$status"
