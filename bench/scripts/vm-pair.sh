# vm-pair.sh - sourced by the host bench scripts: runs one bench role script in the rxe VM pair.
#
# run_vm_pair NAME BIN ROLE-SCRIPT ENV OUT [rxe-vm.sh options...]: boots the pair with BIN as
# /usr/local/bin/smbdx, ROLE-SCRIPT as /usr/local/bin/vmbench and the shared vm-bench-lib.sh, runs
# "ENV vmbench server" and "ENV vmbench client", and leaves both VMs' output in OUT (CRs removed).
# Exits the calling script, naming NAME, when the run or any of its measurements failed.
run_vm_pair() {
    local name=$1 bin=$2 script=$3 env=$4 out=$5
    shift 5
    scripts/rxe-vm.sh --timeout 3600 --mem 1536 --client-delay 5 "$@" \
        --add "$bin:/usr/local/bin/smbdx" --add "$script:/usr/local/bin/vmbench" \
        --add bench/scripts/vm-bench-lib.sh:/usr/local/bin/vm-bench-lib.sh \
        pair --server "$env vmbench server" --client "$env vmbench client" >"$out" 2>&1 \
        || { tail -n 80 "$out"; echo "$name: the VM run failed" >&2; exit 1; }
    tr -d '\r' <"$out" >"$out.clean" && mv "$out.clean" "$out"
    if grep -q "BENCH-FAIL" "$out"; then
        grep -A5 "BENCH-FAIL" "$out" | head -n 40
        echo "$name: some runs failed (above)" >&2
        exit 1
    fi
}
