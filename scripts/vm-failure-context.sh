#!/usr/bin/env bash
# vm-failure-context.sh LOG - what a failed `scripts/rxe-vm.sh pair` run needs to be understood, from
# its combined output: rxe-vm's verdict on each VM, then for each role the guest kernel's alarms
# (warnings, oopses, hung tasks, NIC transmit timeouts, OOM kills, panics) and the last lines of its
# output. A plain `tail` of the combined output shows only the role printed last (the client), so a
# server that died or a VM link that stopped passing frames left no trace in the CI log.
set -euo pipefail
log=${1:?usage: vm-failure-context.sh LOG}
tr -d '\r' <"$log" | awk '
    function flush(r) {
        if (r == "") return
        printf "---- %s: kernel alarms\n%s", r, (alarms[r] == "" ? "    (none)\n" : alarms[r])
        printf "---- %s: the last %d lines of its output\n", r, (n[r] < 40 ? n[r] : 40)
        for (i = (n[r] > 40 ? n[r] - 39 : 1); i <= n[r]; i++) print "    " last[r, i]
    }
    /^----- [a-z0-9_-]+ output/ { flush(role); role = $2; next }
    /^\[rxe-vm\] / { verdicts = verdicts $0 "\n"; next }
    role != "" {
        n[role]++; last[role, n[role]] = $0
        if ($0 ~ /WARNING|BUG|Oops|[Pp]anic|TX timeout|NETDEV WATCHDOG|transmit queue|blocked for more than|soft lockup|Out of memory|Killed process|segfault/)
            alarms[role] = alarms[role] "    " $0 "\n"
    }
    END { flush(role); printf "---- rxe-vm verdicts\n%s", verdicts }'
