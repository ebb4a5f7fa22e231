# runs.awk - prepended to the bench scripts' awk programs: median and range of a space-separated
# list, and the lines every in-VM bench role prints (vm-bench-lib.sh): "RUN <tool> <op> <size>
# <round> bytes= secs= busy=" into bytes[], secs[], cbusy[] (keyed "tool op size round") and ops[],
# sizes[], rounds[]; "SRVCPU <label> begin|end J" into sb[] and se[].
function median(list,    a, n, i, j, t) {
    n = split(list, a, " ")
    for (i = 2; i <= n; i++) for (j = i; j > 1 && a[j - 1] + 0 > a[j] + 0; j--) { t = a[j]; a[j] = a[j - 1]; a[j - 1] = t }
    return n == 0 ? 0 : (n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2)
}
function range(list,    a, n, i, lo, hi) {
    n = split(list, a, " "); if (n == 0) return "[-]"; lo = hi = a[1]
    for (i = 2; i <= n; i++) { if (a[i] + 0 < lo + 0) lo = a[i]; if (a[i] + 0 > hi + 0) hi = a[i] }
    return sprintf("[%.2f-%.2f]", lo, hi)
}
/^RUN / {
    key = $2 " " $3 " " $4 " " $5
    for (i = 6; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
    bytes[key] = v["bytes"]; secs[key] = v["secs"]; cbusy[key] = v["busy"]
    ops[$3] = 1; sizes[$4] = 1; rounds[$5] = 1
}
/^SRVCPU / { k = $2 " " $3 " " $4 " " $5; if ($6 == "begin") sb[k] = $7; else se[k] = $7 }
