#!/usr/bin/env bash
# rdma_transform_vs_plain.sh - SMB over SMB Direct with the SMB 3.1.1 RDMA transform (data sealed or
# signed before it is placed) beside plain SMB Direct, an encrypted inline session and perftest, all
# measured in one SoftRoCE VM pair in interleaved rounds (bench/scripts/rdma-transform-bench-vm.sh
# runs them; its header lists the variants).
# Prints per wire operation and size the median MiB/s of each variant over the rounds, the median
# per-round ratios (each variant / plain; gcm128 / inline128; plain / perftest), with their ranges,
# and CPU seconds of whole-VM busy time per GiB moved, client/server.
#
# Usage (root, Debian 12):  bench/rdma_transform_vs_plain.sh
# Environment: SIZES (bytes, default 1048576), DEPTH (default 8), REPEAT (rounds, default 3),
#              DURATION (seconds per smbdx bench run, default 4), OPS (default "write read"),
#              VARIANTS (default "plain gcm128 gcm256 gmac cmac inline128"), SMBDX_BIN (a prebuilt
#              smbdx with the rdma feature).
#
# Under qemu's software emulation (TCG) only the ratios mean anything, never the MiB/s. The loopback
# RDMA provider is never used here.
set -euo pipefail
cd "$(dirname "$0")/.."

export SIZES=${SIZES:-"1048576"} DEPTH=${DEPTH:-8} REPEAT=${REPEAT:-3} DURATION=${DURATION:-4}
export OPS=${OPS:-"write read"} VARIANTS=${VARIANTS:-"plain gcm128 gcm256 gmac cmac inline128"}
export TOTAL=${TOTAL:-$((32 << 20))}

bin=${SMBDX_BIN:-}
if [ -z "$bin" ]; then
    cargo build --release --quiet -p smbdx --features rdma --bin smbdx
    bin=target/release/smbdx
fi
env="SIZES='$SIZES' DEPTH=$DEPTH REPEAT=$REPEAT TOTAL=$TOTAL DURATION=$DURATION OPS='$OPS' VARIANTS='$VARIANTS'"
out=$(mktemp)
trap 'rm -f "$out" "$out.rows"' EXIT
. bench/scripts/vm-pair.sh
run_vm_pair rdma_transform_vs_plain "$bin" bench/scripts/rdma-transform-bench-vm.sh "$env" "$out"

echo "# SMB Direct with the RDMA transform vs plain SMB Direct, inline encryption and perftest; smbdx serve and"
echo "# smbdx bench in two rdma_rxe qemu VMs; depth $DEPTH, $REPEAT interleaved rounds; medians [ranges]; under TCG"
echo "# only ratios mean anything. CPU: seconds of whole-VM busy time per GiB moved, client/server. x cipher: the"
echo "# variant against its cipher's own speed on the same VM CPU in the same round (TCG emulates AES, so there"
echo "# the cipher, not the transport, bounds an encrypted transfer; on hardware AES-GCM runs at GB/s per core)."
awk -v variants="perftest $VARIANTS" "$(cat bench/scripts/runs.awk)"'
    /^CIPHER / { for (i = 3; i <= NF; i++) { split($i, kv, "="); cipher[kv[1] " " $2] = kv[2] } }
    END {
        nv = split(variants, vs, " ")
        for (o in ops) for (s in sizes) {
            printf "\n%s (SMB %s) %d bytes:\n", o == "write" ? "RDMA WRITE" : "RDMA READ", o == "write" ? "READ" : "WRITE", s
            printf "  %-10s %10s %-15s %8s %-13s %9s %-13s %15s\n", "variant", "MiB/s", "range", "x plain", "range", "x cipher", "range", "CPU c/s"
            for (i = 1; i <= nv; i++) {
                t = vs[i]; m = ""; rp = ""; cc = ""; cs = ""; rc = ""
                for (r in rounds) {
                    k = t " " o " " s " " r; p = "plain " o " " s " " r
                    if (!(k in bytes) || secs[k] <= 0 || bytes[k] <= 0) continue
                    mib = bytes[k] / secs[k] / 1048576; m = m " " mib; mibs[k] = mib
                    gib = bytes[k] / 1073741824
                    cc = cc " " cbusy[k] / 100 / gib
                    if ((k in sb) && (k in se)) cs = cs " " (se[k] - sb[k]) / 100 / gib
                }
                for (r in rounds) {
                    k = t " " o " " s " " r; p = "plain " o " " s " " r
                    if ((k in mibs) && (p in mibs)) rp = rp " " mibs[k] / mibs[p]
                    ck = (t == "inline128" ? "gcm128" : t) " " r
                    if ((k in mibs) && (ck in cipher) && cipher[ck] > 0) rc = rc " " mibs[k] / cipher[ck]
                }
                printf "  %-10s %10.1f %-15s %8.2f %-13s %9s %-13s %7.2f/%-7.2f\n", t, median(m), range(m), median(rp), range(rp), rc == "" ? "-" : sprintf("%.2f", median(rc)), range(rc), median(cc), median(cs)
            }
            ri = ""; pp = ""
            for (r in rounds) {
                g = "gcm128 " o " " s " " r; n = "inline128 " o " " s " " r; p = "plain " o " " s " " r; f = "perftest " o " " s " " r
                if ((g in mibs) && (n in mibs)) ri = ri " " mibs[g] / mibs[n]
                if ((p in mibs) && (f in mibs)) pp = pp " " mibs[p] / mibs[f]
            }
            printf "  gcm128 / inline128 (transform vs inline encryption): %.2f %s; plain / perftest: %.2f %s\n", median(ri), range(ri), median(pp), range(pp)
            cs2 = ""; for (r in rounds) if (("gcm128 " r) in cipher) cs2 = cs2 " " cipher["gcm128 " r]
            printf "  the cipher on a VM CPU (aws-lc-rs AES-128-GCM seal, 1 MiB): %.1f MiB/s %s\n", median(cs2), range(cs2)
        }
    }' "$out"
echo
. bench/scripts/plot-rows.sh
runs_to_rows <"$out" >"$out.rows"
plot_rows rdma_transform_vs_plain "$out.rows" "$bin"
