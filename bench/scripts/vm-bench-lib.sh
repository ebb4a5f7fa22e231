# vm-bench-lib.sh - what the in-VM bench roles share (sourced by busybox sh in the rxe VM pair, from
# /usr/local/bin/vm-bench-lib.sh): CPU and time counters, perftest's server side, and one measured
# run with its marks to the server.
# Needs SIZES, OPS, REPEAT, DEPTH, TOTAL set by the caller.

# The server VM, and the account both roles use.
SERVER=10.9.0.1
user=bench pass=Bench-Passw0rd

# Busy jiffies of all CPUs (user+nice+system+irq+softirq) and seconds since boot.
busy() { awk '/^cpu /{ print $2 + $3 + $4 + $7 + $8 }' /proc/stat; }
now() { cut -d' ' -f1 /proc/uptime; }
# perftest iterations for TOTAL bytes of SIZE (at least 32).
iters() { n=$((TOTAL / $1)); [ "$n" -ge 32 ] || n=32; echo "$n"; }

# Server side: answers the client's marks with "SRVCPU <label> <busy>" and runs one ib_write_bw /
# ib_read_bw server per client run, in the client's order (rounds, sizes, wire operations).
serve_marks_and_perftest() {
  ( while :; do l=$(nc -l -p 7200 </dev/null 2>/dev/null); [ -n "$l" ] && echo "SRVCPU $l $(busy)"; done ) &
  for r in $(seq "$REPEAT"); do for s in $SIZES; do for op in $OPS; do
    ib_${op}_bw -d rxe0 -x 1 -F -s "$s" -n "$(iters "$s")" -t "$DEPTH" -p 18515 >/dev/null 2>&1 \
      || echo "BENCH-FAIL perftest server $op $s $r"
  done; done; done
}

mark() { until echo "$1" | nc $SERVER 7200 2>/dev/null; do sleep 0.2; done; }

# run TOOL WIREOP SIZE ROUND FROM CMD...: runs CMD between two marks and prints
# "RUN <tool> <wire-op> <size> <round> bytes=B secs=S busy=J". FROM says where the bytes come from:
# a number, "json" (smbdx bench's row: its own bytes and seconds, warm-up excluded) or "perftest"
# (the average bandwidth perftest reports over the bytes it moved).
run() {
  label="$1 $2 $3 $4" from=$5; shift 5
  mark "$label begin"
  b0=$(busy); t0=$(now)
  if ! "$@" >/tmp/run.out 2>&1; then echo "BENCH-FAIL $label"; tail -n 5 /tmp/run.out; fi
  t1=$(now); b1=$(busy)
  mark "$label end"
  secs=$(awk "BEGIN { print $t1 - $t0 }")
  case $from in
    json)
      bytes=$(sed -n 's/.*"bytes":\([0-9]*\).*/\1/p' /tmp/run.out | head -n 1)
      secs=$(sed -n 's/.*"seconds":\([0-9.e-]*\).*/\1/p' /tmp/run.out | head -n 1) ;;
    perftest)
      set -- $(awk '$1 ~ /^[0-9]+$/ && $2 ~ /^[0-9]+$/ && NF >= 5 { print $1 * $2, $4 }' /tmp/run.out | tail -n 1)
      bytes=${1:-0}; secs=$(awk "BEGIN { print (${2:-0} > 0) ? $bytes / (${2:-1} * 1048576) : 0 }") ;;
    *) bytes=$from ;;
  esac
  echo "RUN $label bytes=${bytes:-0} secs=$secs busy=$((b1 - b0))"
}
