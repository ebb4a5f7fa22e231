#!/usr/bin/env bash
# rdma_vs_perftest.sh - raw RDMA WRITE/READ throughput of smbdx's verbs layer (rdma-bench) beside
# perftest's ib_write_bw/ib_read_bw, in the same two SoftRoCE VMs, same sizes, iterations and
# queue depth, one right after the other, REPEAT times interleaved. Prints, per op and size, the
# median MiB/s of each, the median of the per-round ratios, and CPU seconds per GiB moved on each
# side (user + system of the whole process, measured with `time -p` for both tools alike).
#
# Usage (root, Debian 12):  bench/rdma_vs_perftest.sh
# Environment: SIZES (bytes, default "4096 65536 1048576"), TOTAL (bytes per run, default 32 MiB;
#              iterations = TOTAL / size, at least 32), DEPTH (work requests in flight, default 128),
#              REPEAT (rounds, default 3).
#
# SoftRoCE under qemu's software emulation moves tens of MB/s and these machines are shared:
# compare the ratio, not the MiB/s. On a host with a real device, run the pair directly instead,
# e.g. on the server
#   ib_write_bw -d rxe0 -x 1 -F -s 65536 -n 1000 -t 128 ; rdma-bench --role server --addr IP:7472 --op write …
# and the same with the server's IP (and --role client) on the client.
set -euo pipefail
cd "$(dirname "$0")/.."

SIZES=${SIZES:-"4096 65536 1048576"}
TOTAL=${TOTAL:-$((32 << 20))}
REPEAT=${REPEAT:-3}
DEPTH=${DEPTH:-128}

cargo build --release --quiet -p rdma-verbs --features rdma --bin rdma-bench
cargo build --release --quiet -p smbdx --features rdma --bin smbdx   # draws the plot (plot-rows.sh)

# Loops run inside the VMs (busybox sh). Markers name each run so the host can attribute the
# `time -p` lines that follow.
common="D=$DEPTH; T=$TOTAL; for r in $(seq -s " " "$REPEAT"); do for s in $SIZES; do n=\$((T / s)); [ \$n -ge 32 ] || n=32; for op in write read; do"
server="$common
echo \"== perftest \$op \$s \$r\"; time -p ib_\${op}_bw -d rxe0 -x 1 -F -s \$s -n \$n -t \$D -p 18515;
echo \"== smbdx \$op \$s \$r\"; time -p rdma-bench --role server --addr 10.9.0.1:7472 --op \$op --size \$s --iters \$n --depth \$D;
done; done; done"
client="$common
sleep 3; echo \"== perftest \$op \$s \$r\"; time -p ib_\${op}_bw -d rxe0 -x 1 -F -s \$s -n \$n -t \$D -p 18515 10.9.0.1;
echo \"== smbdx \$op \$s \$r\"; time -p rdma-bench --role client --addr 10.9.0.1:7472 --op \$op --size \$s --iters \$n --depth \$D;
done; done; done"

out=$(mktemp)
trap 'rm -f "$out" "$out.rows"' EXIT
scripts/rxe-vm.sh --timeout 1800 --add target/release/rdma-bench pair --server "$server" --client "$client" >"$out" 2>&1 \
    || { cat "$out"; echo "rdma_vs_perftest: the VM run failed" >&2; exit 1; }

# Per (tool, op, size, round): client MiB/s, bytes and each side's CPU seconds; then medians (also
# kept as rows for the plot).
awk -v rowsfile="$out.rows" '
    function median(list,    a, n, i, j, t) {
        n = split(list, a, " ")
        for (i = 2; i <= n; i++) for (j = i; j > 1 && a[j - 1] + 0 > a[j] + 0; j--) { t = a[j]; a[j] = a[j - 1]; a[j - 1] = t }
        return n == 0 ? 0 : (n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2)
    }
    /^----- server output/ { role = "server" }
    /^----- client output/ { role = "client" }
    /^== (perftest|smbdx) / { key = $2 " " $3 " " $4 " " $5; keys[key] = 1; sizes[$4] = 1; rounds[$5] = 1; next }
    role == "client" && key ~ /^perftest/ && $1 ~ /^[0-9]+$/ && NF >= 5 && $2 ~ /^[0-9]+$/ { mibs[key] = $4; bytes[key] = $1 * $2 }
    role == "client" && /^rdma-bench op=/ {
        for (i = 1; i <= NF; i++) { split($i, kv, "="); if (kv[1] == "MiB/s") mibs[key] = kv[2]; if (kv[1] == "size") sz = kv[2]; if (kv[1] == "iters") it = kv[2] }
        bytes[key] = sz * it
    }
    /^user / { cpu[role, key] += $2 }
    /^sys /  { cpu[role, key] += $2 }
    END {
        printf "%-5s %8s %14s %14s %12s %22s %22s\n", "op", "size", "perftest MiB/s", "smbdx MiB/s", "ratio (med)", "CPU s/GiB cli/srv pt", "CPU s/GiB cli/srv smbdx"
        n = split("write read", ops, " ")
        for (s in sizes) for (o = 1; o <= n; o++) {
            mp = mm = rr = ""; cp["client"] = cp["server"] = cm["client"] = cm["server"] = ""
            for (r in rounds) {
                p = "perftest " ops[o] " " s " " r; m = "smbdx " ops[o] " " s " " r
                if (!(p in keys) || !(m in keys)) continue
                if (mibs[p] == 0 || mibs[m] == 0) { missing = 1; continue }
                mp = mp " " mibs[p]; mm = mm " " mibs[m]; rr = rr " " mibs[m] / mibs[p]
                for (side in cp) {
                    cp[side] = cp[side] " " cpu[side, p] / (bytes[p] / 1073741824)
                    cm[side] = cm[side] " " cpu[side, m] / (bytes[m] / 1073741824)
                }
            }
            if (rr == "") continue
            printf "{\"transport\":\"perftest\",\"cipher\":\"\",\"op\":\"%s\",\"size\":%d,\"gbps\":%.6f}\n", ops[o], s, median(mp) * 1048576 / 1e9 > rowsfile
            printf "{\"transport\":\"rdma-verbs\",\"cipher\":\"\",\"op\":\"%s\",\"size\":%d,\"gbps\":%.6f}\n", ops[o], s, median(mm) * 1048576 / 1e9 > rowsfile
            printf "%-5s %8d %14.2f %14.2f %12.3f %10.2f /%10.2f %10.2f /%10.2f   ratios:%s\n", ops[o], s, median(mp), median(mm), median(rr),
                median(cp["client"]), median(cp["server"]), median(cm["client"]), median(cm["server"]), rr
        }
        if (missing) { print "rdma_vs_perftest: some runs reported no throughput (see the VM logs)"; exit 1 }
    }' "$out" | sort -k2,2n -k1,1r
echo
. bench/scripts/plot-rows.sh
plot_rows rdma_vs_perftest "$out.rows"
