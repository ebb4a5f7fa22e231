# plot-rows.sh - sourced by the bench scripts: keeps what a run measured as JSON and draws it.
#
# plot_rows NAME ROWS [SMBDX]: copies ROWS (`smbdx bench --json` lines: transport, cipher, op, size,
# gbps, and anchor_tcp_gbps when the run measured raw loopback TCP) to $BENCH_OUT/NAME.json
# (default target/bench) and draws NAME.svg beside it with `SMBDX plot` (default target/release/
# smbdx, or `smbdx` on PATH); prints both paths. A plot that cannot be drawn is reported, never
# fatal: the figures printed above it stand on their own.
#
# runs_to_rows: reads the "RUN <tool> <op> <size> <round> bytes= secs=" lines of an in-VM bench
# (vm-bench-lib.sh) on stdin and prints one row per tool, op and size: the median over rounds, with
# the tool (perftest, a variant, smbdx-rdma ...) as the transport, so the anchor is a line of its own.
plot_rows() {
    local name=$1 rows=$2 bin=${3:-} dir=${BENCH_OUT:-target/bench}
    if [ -z "$bin" ]; then
        if [ -x target/release/smbdx ]; then bin=target/release/smbdx; else bin=smbdx; fi
    fi
    mkdir -p "$dir"
    grep '^{' "$rows" >"$dir/$name.json" || true
    if "$bin" plot "$dir/$name.json" "$dir/$name.svg" 2>"$dir/$name.plot.err"; then
        rm -f "$dir/$name.plot.err"
        echo "# rows: $dir/$name.json; plot: $dir/$name.svg"
    else
        echo "# rows: $dir/$name.json; no plot ($(head -n 1 "$dir/$name.plot.err"))"
    fi
}

runs_to_rows() {
    awk "$(cat bench/scripts/runs.awk)"'
        END {
            for (k in bytes) {
                split(k, f, " ")
                if (secs[k] <= 0 || bytes[k] <= 0) continue
                g = f[1] " " f[2] " " f[3]
                list[g] = list[g] " " bytes[k] / secs[k] / 1e9
            }
            for (g in list) {
                split(g, f, " ")
                printf "{\"transport\":\"%s\",\"cipher\":\"\",\"op\":\"%s\",\"size\":%d,\"gbps\":%.6f}\n", f[1], f[2], f[3], median(list[g])
            }
        }'
}
