#!/usr/bin/env bash
# rdma-vm-tests.sh - the RDMA conformance suite on the real kernel RDMA stack: two SoftRoCE
# (rdma_rxe) VMs joined by a virtual wire (scripts/rxe-vm.sh), one role in each, plus
# `smbdx devices` in the server VM. One VM pair boot for everything.
#
# Usage (root, Debian 12):  scripts/rdma-vm-tests.sh [--release]
# Prints each case of each role, then one line:
#   rdma conformance (rxe VMs): N passed, M failed
# and exits non-zero if anything failed (a case, a VM, or `smbdx devices`).
#
# On a host with an RDMA device (rxe or an RNIC) run the same binary directly instead:
#   cargo build -p rdma-verbs --features rdma --bin rdma-conformance
#   target/debug/rdma-conformance --role server --addr <local-ip>:7471 --device rxe0     # one host
#   target/debug/rdma-conformance --role client --addr <server-ip>:7471 --device rxe0    # the other
set -euo pipefail
cd "$(dirname "$0")/.."

profile=debug
cargo_profile=()
if [ "${1:-}" = "--release" ]; then profile=release; cargo_profile=(--release); fi

cargo build "${cargo_profile[@]}" --quiet -p rdma-verbs --features rdma --bin rdma-conformance
cargo build "${cargo_profile[@]}" --quiet -p smbdx --features rdma --bin smbdx
bin=target/$profile

log=$(mktemp)
trap 'rm -f "$log"' EXIT
status=0
scripts/rxe-vm.sh --timeout 600 \
    --add "$bin/rdma-conformance" --add "$bin/smbdx" \
    pair \
    --server 'smbdx devices && rdma-conformance --role server --addr 10.9.0.1:7471 --device rxe0 --timeout 60' \
    --client 'rdma-conformance --role client --addr 10.9.0.1:7471 --device rxe0 --timeout 60' \
    >"$log" 2>&1 || status=$?
cat "$log"

# Each role checks its own side of every case (the server checks what was written into it, the
# client what it read and which errors it saw), so both roles' results count.
passed=$(sed -n 's/^test result: .*[^0-9]\([0-9][0-9]*\) passed; \([0-9][0-9]*\) failed.*(rdma-conformance.*/\1/p' "$log" | awk '{s += $1} END {print s + 0}')
failed=$(sed -n 's/^test result: .* \([0-9][0-9]*\) failed; .*(rdma-conformance.*/\1/p' "$log" | awk '{s += $1} END {print s + 0}')
grep -q '^  port 1 .*ACTIVE' "$log" || { echo "smbdx devices did not list an ACTIVE rxe0 port" >&2; status=1; }
if [ "$passed" -eq 0 ]; then status=1; fi
echo "rdma conformance (rxe VMs): $passed passed, $failed failed"
exit "$status"
