#!/usr/bin/env bash
# rdma_vs_perftest.sh - raw RDMA WRITE/READ throughput of smbdx's verbs layer (rdma-bench) beside
# perftest's ib_write_bw/ib_read_bw, in the same two SoftRoCE VMs, same sizes, iterations and
# queue depth, one right after the other. Prints both, the ratio, and CPU seconds per GiB moved on
# each side (user + system of the whole process, measured with `time -p` for both tools alike).
#
# Usage (root, Debian 12):  bench/rdma_vs_perftest.sh
# Environment: SIZES (bytes, default "4096 65536 1048576"), TOTAL (bytes per run, default 64 MiB;
#              iterations = TOTAL / size), DEPTH (work requests in flight, default 128).
#
# SoftRoCE under qemu's software emulation moves tens of MB/s: compare the ratio, not the MiB/s.
# On a host with a real device, run the pair directly instead, e.g. on the server
#   ib_write_bw -d rxe0 -x 1 -F -s 65536 -n 1000 -t 128 ; rdma-bench --role server --addr IP:7472 --op write …
# and the same with the server's IP (and --role client) on the client.
set -euo pipefail
cd "$(dirname "$0")/.."

SIZES=${SIZES:-"4096 65536 1048576"}
TOTAL=${TOTAL:-$((64 << 20))}
DEPTH=${DEPTH:-128}

cargo build --release --quiet -p rdma-verbs --features rdma --bin rdma-bench

# Loops run inside the VMs (busybox sh). Markers name each run so the host can attribute the
# `time -p` lines that follow.
common="D=$DEPTH; T=$TOTAL; for s in $SIZES; do n=\$((T / s)); [ \$n -ge 100 ] || n=100; for op in write read; do"
server="$common
echo \"== perftest \$op \$s\"; time -p ib_\${op}_bw -d rxe0 -x 1 -F -s \$s -n \$n -t \$D -p 18515;
echo \"== smbdx \$op \$s\"; time -p rdma-bench --role server --addr 10.9.0.1:7472 --op \$op --size \$s --iters \$n --depth \$D;
done; done"
client="$common
sleep 3; echo \"== perftest \$op \$s\"; time -p ib_\${op}_bw -d rxe0 -x 1 -F -s \$s -n \$n -t \$D -p 18515 10.9.0.1;
echo \"== smbdx \$op \$s\"; time -p rdma-bench --role client --addr 10.9.0.1:7472 --op \$op --size \$s --iters \$n --depth \$D;
done; done"

out=$(mktemp)
trap 'rm -f "$out"' EXIT
scripts/rxe-vm.sh --timeout 1800 --add target/release/rdma-bench pair --server "$server" --client "$client" >"$out" 2>&1 \
    || { cat "$out"; echo "rdma_vs_perftest: the VM run failed" >&2; exit 1; }

# Per (tool, op, size): client MiB/s, and CPU seconds of each side.
awk -v total="$TOTAL" '
    /^----- server output/ { role = "server" }
    /^----- client output/ { role = "client" }
    /^== (perftest|smbdx) / { key = $2 " " $3 " " $4; keys[key] = 1; sizes[$4] = 1; next }
    role == "client" && key ~ /^perftest/ && $1 ~ /^[0-9]+$/ && NF >= 5 && $2 ~ /^[0-9]+$/ { mibs[key] = $4; bytes[key] = $1 * $2 }
    role == "client" && /^rdma-bench op=/ {
        for (i = 1; i <= NF; i++) { split($i, kv, "="); if (kv[1] == "MiB/s") mibs[key] = kv[2]; if (kv[1] == "size") sz = kv[2]; if (kv[1] == "iters") it = kv[2] }
        bytes[key] = sz * it
    }
    /^user / { cpu[role, key] += $2 }
    /^sys /  { cpu[role, key] += $2 }
    END {
        printf "%-5s %8s %14s %14s %7s %22s %22s\n", "op", "size", "perftest MiB/s", "smbdx MiB/s", "ratio", "CPU s/GiB cli/srv pt", "CPU s/GiB cli/srv smbdx"
        n = split("write read", ops, " ")
        for (s in sizes) for (o = 1; o <= n; o++) {
            p = "perftest " ops[o] " " s; m = "smbdx " ops[o] " " s
            if (!(p in keys)) continue
            gib_p = bytes[p] / 1073741824; gib_m = bytes[m] / 1073741824
            ratio = (mibs[p] > 0) ? mibs[m] / mibs[p] : 0
            printf "%-5s %8d %14.2f %14.2f %7.3f %10.2f /%10.2f %10.2f /%10.2f\n", ops[o], s, mibs[p], mibs[m], ratio,
                (gib_p > 0 ? cpu["client", p] / gib_p : 0), (gib_p > 0 ? cpu["server", p] / gib_p : 0),
                (gib_m > 0 ? cpu["client", m] / gib_m : 0), (gib_m > 0 ? cpu["server", m] / gib_m : 0)
            if (mibs[p] == 0 || mibs[m] == 0) missing = 1
        }
        if (missing) { print "rdma_vs_perftest: some runs reported no throughput (see the VM logs)"; exit 1 }
    }' "$out" | sort -k2,2n -k1,1r
