#!/usr/bin/env bash
# smbdirect_vs_perftest.sh - SMB over SMB Direct (smbdx bench --transport rdma against smbdx serve)
# beside its anchors, all measured in one SoftRoCE VM pair, in interleaved rounds:
#   perftest  ib_write_bw (the wire operation of an SMB READ) / ib_read_bw (of a WRITE), same size
#             and depth: what the link can do;
#   SMB/TCP   smbdx bench over TCP against the same server on the same pair;
#   kernel    Linux's own SMB Direct pair, cifs.ko -o rdma against ksmbd (both rebuilt with SMB Direct
#             by scripts/kmod-smbdirect.sh), DEPTH concurrent O_DIRECT dd of the same block size.
# Prints per wire operation and size the median MiB/s of each over the rounds, the medians of the
# per-round ratios smbdx/perftest and smbdx/kernel, and CPU seconds per GiB moved on each side
# (whole-VM busy time during the run: kernel threads count, so the kernel pair is measured alike).
#
# Usage (root, Debian 12):  bench/smbdirect_vs_perftest.sh
# Environment: SIZES (bytes, default "65536 1048576"), DEPTH (I/Os in flight, default 8), REPEAT
#              (rounds, default 3), TOTAL (bytes per perftest and kernel run, default 32 MiB),
#              DURATION (seconds per smbdx bench run, default 4), OPS (wire operations, default
#              "write read"), SERVE_ARGS / BENCH_ARGS (extra options for smbdx serve / smbdx bench,
#              e.g. "--poll busy": how a setting is compared in the same VM pair), SMBDX_BIN (an
#              smbdx binary built with the rdma feature to run instead of building this tree's:
#              how two builds are compared, run after run).
#
# Under qemu's software emulation (TCG) SoftRoCE moves tens of MB/s and the two vCPUs share these
# machines' two cores: only the ratios mean anything, never the MiB/s. On hosts with RNICs run
# `smbdx serve --rdma` and `smbdx bench --transport rdma` there, beside ib_write_bw / ib_read_bw.
# The loopback RDMA provider is never used here: it says nothing about RDMA performance.
set -euo pipefail
cd "$(dirname "$0")/.."

export SIZES=${SIZES:-"65536 1048576"} DEPTH=${DEPTH:-8} REPEAT=${REPEAT:-3}
export TOTAL=${TOTAL:-$((32 << 20))} DURATION=${DURATION:-4} OPS=${OPS:-"write read"}
export SERVE_ARGS=${SERVE_ARGS:-} BENCH_ARGS=${BENCH_ARGS:-}

bin=${SMBDX_BIN:-}
if [ -z "$bin" ]; then
    cargo build --release --quiet -p smbdx --features rdma --bin smbdx
    bin=target/release/smbdx
fi
kmod_env=$(scripts/kmod-smbdirect.sh)
eval "$kmod_env"
mapfile -t kargs <"$KMOD_RXE_VM_ARGS"
env="SIZES='$SIZES' DEPTH=$DEPTH REPEAT=$REPEAT TOTAL=$TOTAL DURATION=$DURATION OPS='$OPS'"
env="$env SERVE_ARGS='$SERVE_ARGS' BENCH_ARGS='$BENCH_ARGS'"
out=$(mktemp)
trap 'rm -f "$out" "$out.rows"' EXIT
. bench/scripts/vm-pair.sh
run_vm_pair smbdirect_vs_perftest "$bin" bench/scripts/smbdirect-bench-vm.sh "$env" "$out" "${kargs[@]}"

echo "# SMB Direct (smbdx) vs perftest, SMB over TCP (smbdx) and the kernel pair (cifs.ko + ksmbd), rdma_rxe in"
echo "# two qemu VMs; depth $DEPTH, $REPEAT interleaved rounds; medians [ranges]; under TCG only ratios mean anything."
[ -z "$SERVE_ARGS$BENCH_ARGS" ] || echo "# smbdx serve $SERVE_ARGS; smbdx bench $BENCH_ARGS"
echo "# CPU: seconds of whole-VM busy time per GiB moved, client/server; perftest's is what the link itself costs."
awk "$(cat bench/scripts/runs.awk)"'
    END {
        hz = 100
        printf "%-5s %8s %16s %16s %16s %16s %8s %8s %15s %15s %15s %15s\n", "wire", "size", "perftest MiB/s", "smbdx-rdma MiB/s", "smbdx-tcp MiB/s", "kernel MiB/s", "x perf", "x kernel", "CPU perf c/s", "CPU rdma c/s", "CPU tcp c/s", "CPU kernel c/s"
        for (o in ops) for (s in sizes) {
            delete m; delete cc; delete cs; rp = rk = ""
            for (r in rounds) {
                for (t = 1; t <= 4; t++) {
                    tool = t == 1 ? "perftest" : t == 2 ? "smbdx-rdma" : t == 3 ? "smbdx-tcp" : "kernel"
                    k = tool " " o " " s " " r
                    if (!(k in bytes) || secs[k] <= 0 || bytes[k] <= 0) continue
                    mibs[k] = bytes[k] / secs[k] / 1048576
                    m[tool] = m[tool] " " mibs[k]
                    gib = bytes[k] / 1073741824
                    cc[tool] = cc[tool] " " cbusy[k] / hz / gib
                    if ((k in sb) && (k in se)) cs[tool] = cs[tool] " " (se[k] - sb[k]) / hz / gib
                }
                p = "perftest " o " " s " " r; q = "smbdx-rdma " o " " s " " r; kk = "kernel " o " " s " " r
                if ((p in mibs) && (q in mibs)) rp = rp " " mibs[q] / mibs[p]
                if ((kk in mibs) && (q in mibs)) rk = rk " " mibs[q] / mibs[kk]
            }
            printf "%-5s %8d %16s %16s %16s %16s %8.2f %8.2f %7.2f/%-7.2f %7.2f/%-7.2f %7.2f/%-7.2f %7.2f/%-7.2f\n", o, s,
                sprintf("%.1f", median(m["perftest"])), sprintf("%.1f", median(m["smbdx-rdma"])),
                sprintf("%.1f", median(m["smbdx-tcp"])), sprintf("%.1f", median(m["kernel"])),
                median(rp), median(rk), median(cc["perftest"]), median(cs["perftest"]),
                median(cc["smbdx-rdma"]), median(cs["smbdx-rdma"]), median(cc["smbdx-tcp"]), median(cs["smbdx-tcp"]),
                median(cc["kernel"]), median(cs["kernel"])
            printf "      ranges: perftest %s smbdx-rdma %s smbdx-tcp %s kernel %s; ratios x perf %s x kernel %s\n",
                range(m["perftest"]), range(m["smbdx-rdma"]), range(m["smbdx-tcp"]), range(m["kernel"]), range(rp), range(rk)
        }
    }' "$out"
echo
. bench/scripts/plot-rows.sh
runs_to_rows <"$out" >"$out.rows"
plot_rows smbdirect_vs_perftest "$out.rows" "$bin"
