#!/bin/sh
# Server role of scripts/smbdirect-vm-tests.sh, inside the server VM (10.9.0.1, rxe0): `smbdx serve`
# with SMB Direct on rxe0, until the client role leaves a DONE file in the share (or 900 s pass);
# then its RDMA byte counters and the guest kernel log are checked. A second `smbdx serve` (TCP 4450,
# SMB Direct 4451) is the hostile peer's target, so the first one's log stays free of the warnings
# hostile cases cause; its counters and log are checked too. A third one (TCP and SMB Direct 4460,
# share r) is killed (SIGKILL) and started again in the middle of the client's copies: once an
# upload's partial file there has 8 MiB, and, after the client leaves ARM-DL in the data share, once
# its /metrics count 8 MiB of READ data placed by RDMA WRITE (a download under way).
# Prints "SMBD-CHECK ok|FAIL <what>" and "SMBD-INFO <what>" lines.
set -u
fails=0
ok() { echo "SMBD-CHECK ok $1"; }
fail() { echo "SMBD-CHECK FAIL $1"; fails=$((fails + 1)); }
mkdir -p /srv/data /srv/sealed /srv/hdata /srv/hsealed /srv/r
chmod 755 / /srv /srv/data /srv/sealed /srv/hdata /srv/hsealed /srv/r
smbdx serve --listen 10.9.0.1:445 --rdma 10.9.0.1 --share data=/srv/data \
  --share sealed=/srv/sealed,encrypt-data --user alice:Rdma-Pa55word --reactors 1 \
  >/tmp/serve.log 2>&1 &
SERVE=$!
smbdx serve --listen 10.9.0.1:4450 --rdma 10.9.0.1:4451 --share hdata=/srv/hdata \
  --share hsealed=/srv/hsealed,encrypt-data --user alice:Rdma-Pa55word --reactors 1 \
  >/tmp/hostile-serve.log 2>&1 &
HOSTILE=$!
# The restart target, and what kills it: each trigger once.
(
  start_rt() {
    smbdx serve --listen 10.9.0.1:4460 --rdma 10.9.0.1:4460 --share r=/srv/r \
      --user alice:Rdma-Pa55word --reactors 1 --admin 127.0.0.1:9460 >>/tmp/restart-serve.log 2>&1 &
    RT=$!
  }
  placed() { # READ data the restart target has placed by RDMA WRITE so far
    wget -qO- http://127.0.0.1:9460/metrics 2>/dev/null | grep '^smbdx_rdma_bytes_total' \
      | grep 'direction="write"' | awk '{ s += $2 } END { print s + 0 }'
  }
  armed=
  start_rt
  upload_killed=0
  for _ in $(seq 9000); do
    [ -e /srv/data/DONE ] && break
    why=
    p=$(ls /srv/r/*.smbdx-partial 2>/dev/null | head -n 1)
    if [ $upload_killed = 0 ] && [ -n "$p" ] && [ "$(stat -c %s "$p")" -ge 8388608 ]; then
      why="upload at $(stat -c %s "$p") bytes"; upload_killed=1
    fi
    if [ -e /srv/data/ARM-DL ]; then armed=$(placed); rm -f /srv/data/ARM-DL; fi
    if [ -n "$armed" ] && [ "$(placed)" -ge $((armed + 8388608)) ]; then
      why="download, $(( $(placed) - armed )) bytes placed"; armed=""
    fi
    if [ -n "$why" ]; then
      kill -9 "$RT"; wait "$RT" 2>/dev/null
      echo "SMBD-INFO restart target killed mid-copy ($why) and started again"
      start_rt
    fi
    sleep 0.1
  done
  kill -TERM "$RT" 2>/dev/null; wait "$RT" 2>/dev/null
) &
RESTARTER=$!
for _ in $(seq 100); do grep -q "serving SMB Direct" /tmp/serve.log && break; sleep 0.2; done
if grep -q "rdma=10.9.0.1:445" /tmp/serve.log && grep -q "rdma=10.9.0.1:5445" /tmp/serve.log; then
  ok "serve listens for SMB Direct on 445 and 5445"
else
  fail "serve listens for SMB Direct on 445 and 5445"; cat /tmp/serve.log
fi
for _ in $(seq 900); do [ -e /srv/data/DONE ] && break; sleep 1; done
[ -e /srv/data/DONE ] && ok "the client finished" || fail "the client finished (timed out)"
wait "$RESTARTER"
if grep -q "panicked" /tmp/restart-serve.log; then fail "restart target: nothing panicked"; else ok "restart target: nothing panicked"; fi
kill -TERM "$SERVE"; wait "$SERVE"
line=$(grep "stopped" /tmp/serve.log | tail -n 1)
w=$(echo "$line" | sed -n 's/.*rdma_write_bytes=\([0-9]*\).*/\1/p')
r=$(echo "$line" | sed -n 's/.*rdma_read_bytes=\([0-9]*\).*/\1/p')
echo "SMBD-INFO server RDMA bytes: write (READ data placed) ${w:-?}, read (WRITE data pulled) ${r:-?}"
# The client moves 64 MiB each way by RDMA (plus its bench): at least that much must have gone so.
[ "${w:-0}" -ge 67108864 ] && ok "READ data went by RDMA WRITE" || fail "READ data went by RDMA WRITE"
[ "${r:-0}" -ge 67108864 ] && ok "WRITE data went by RDMA READ" || fail "WRITE data went by RDMA READ"
# The hostile target: alive to the end, two replayed tokens seen as remote access errors (one
# READ's RDMA WRITE, one WRITE's RDMA READ), nothing panicked.
if kill -TERM "$HOSTILE" && wait "$HOSTILE"; then ok "hostile target still up at the end"; else fail "hostile target still up at the end"; fi
hline=$(grep "stopped" /tmp/hostile-serve.log | tail -n 1)
e=$(echo "$hline" | sed -n 's/.*rdma_access_errors=\([0-9]*\).*/\1/p')
echo "SMBD-INFO hostile target: remote access errors ${e:-?}, connections closed for errors $(grep -c 'closing connection' /tmp/hostile-serve.log)"
[ "${e:-0}" -eq 2 ] && ok "hostile target: replayed tokens got remote access errors" || fail "hostile target: replayed tokens got remote access errors"
if grep -q "panicked" /tmp/hostile-serve.log; then fail "hostile target: nothing panicked"; grep "panicked" /tmp/hostile-serve.log | head; else ok "hostile target: nothing panicked"; fi
# Warnings, errors and panics (level words as tracing prints them; not field names like rdma_access_errors).
if grep -qE "panicked| WARN | ERROR " /tmp/serve.log; then fail "server log clean"; grep -E "panicked| WARN | ERROR " /tmp/serve.log | head; else ok "server log clean"; fi
if dmesg | grep -qE "WARNING|BUG|Oops|rxe.*err"; then fail "guest kernel log clean"; dmesg | grep -E "WARNING|BUG|Oops|rxe.*err" | head; else ok "guest kernel log clean"; fi
exit "$fails"
