#!/bin/sh
# Client role of scripts/smbdirect-vm-tests.sh, inside the client VM (10.9.0.2, rxe0): the smbdx
# client over SMB Direct against the server VM's `smbdx serve`: cp both ways with SHA-256, directory
# commands, an encrypted share through the RDMA transform with every cipher and without it (inline),
# a signed session, a RoCE capture that finds no plaintext of the encrypted share, a short `smbdx bench`, the demo's
# SMB Direct rows, the server restarted mid-copy (a clean error, no file under the target name), and
# the hostile cases (smbdx-hostile-peer) against a second server.
# Prints "SMBD-CHECK ok|FAIL <what>"; leaves DONE in the share at the end.
set -u
fails=0
check() { # what, then the command
  what=$1; shift
  if "$@" >/tmp/check.out 2>&1; then echo "SMBD-CHECK ok $what"; else
    echo "SMBD-CHECK FAIL $what"; sed 's/^/    /' /tmp/check.out | tail -n 20; fails=$((fails + 1)); fi
}
same() { [ "$(sha256sum <"$1")" = "$(sha256sum <"$2")" ]; }
export SMBDX_PASSWORD=Rdma-Pa55word
U=smb://alice@10.9.0.1
R="--transport rdma"
for _ in $(seq 60); do smbdx ls $U/data $R >/dev/null 2>&1 && break; sleep 1; done
dd if=/dev/urandom of=/tmp/data.bin bs=1M count=64 2>/dev/null
check "cp 64 MiB in over SMB Direct" smbdx cp -q /tmp/data.bin $U/data/data.bin $R
check "cp 64 MiB out over SMB Direct" smbdx cp -q $U/data/data.bin /tmp/back.bin $R
check "SHA-256 equal both ways" same /tmp/data.bin /tmp/back.bin
check "ls" sh -c "smbdx ls $U/data $R | grep -q data.bin"
check "stat size" sh -c "smbdx stat $U/data/data.bin $R | grep -q 67108864"
check "mkdir" smbdx mkdir $U/data/dir $R
check "mv" smbdx mv $U/data/data.bin dir/moved.bin $R
check "rm" smbdx rm $U/data/dir/moved.bin $R
check "rmdir" smbdx rm -d $U/data/dir $R
dd if=/dev/urandom of=/tmp/small.bin bs=1M count=8 2>/dev/null
# An encrypted share through the RDMA transform, every cipher: the data is sealed before it is
# placed and moves by RDMA (cp's summary counts the RDMA I/Os; the server refuses plain RDMA there).
rdma_ios() { # pattern of cp's SMB Direct summary, then the cp command
  pattern=$1; shift
  "$@" 2>/tmp/cp.err || { cat /tmp/cp.err; return 1; }
  grep -qE "$pattern" /tmp/cp.err || { cat /tmp/cp.err; false; }
}
WROTE='and [1-9][0-9]* WRITEs by RDMA'
READ='SMB Direct: [1-9][0-9]* READs'
for c in aes-128-gcm aes-256-gcm aes-128-ccm aes-256-ccm; do
  check "sealed share, $c: cp in by RDMA, sealed" rdma_ios "$WROTE" smbdx cp /tmp/small.bin $U/sealed/s-$c.bin $R --ciphers $c
  check "sealed share, $c: cp out by RDMA, sealed" rdma_ios "$READ" smbdx cp $U/sealed/s-$c.bin /tmp/s-back.bin $R --ciphers $c
  check "sealed share, $c: SHA-256 equal" same /tmp/small.bin /tmp/s-back.bin
done
# Without the transform (what Linux's client does with `seal`): inline, sealed, no RDMA I/O.
check "sealed share, transform off: cp in inline" sh -c "smbdx cp /tmp/small.bin $U/sealed/s.bin $R --rdma-transform off 2>&1 | grep -q 'SMB Direct: 0 READs and 0 WRITEs'"
check "sealed share, transform off: cp out inline" sh -c "smbdx cp $U/sealed/s.bin /tmp/s-back.bin $R --rdma-transform off 2>&1 | grep -q 'SMB Direct: 0 READs and 0 WRITEs'"
check "sealed share, transform off: SHA-256 equal" same /tmp/small.bin /tmp/s-back.bin
# A signed session (the client requires signing): by RDMA through the SIGNING transform.
check "signed session: cp in by RDMA, signed" rdma_ios "$WROTE" smbdx cp /tmp/small.bin $U/data/g.bin $R --require-signing
check "signed session: cp out by RDMA, signed" rdma_ios "$READ" smbdx cp $U/data/g.bin /tmp/g-back.bin $R --require-signing
check "signed session: SHA-256 equal" same /tmp/small.bin /tmp/g-back.bin
# Plaintext of an encrypted share is never on the wire: the RoCE traffic (UDP 4791) captured while
# a file made of a marker is copied each way shows the marker for the plain share (so the check can
# fail) and never for the sealed one.
yes SMBDX-CANARY-5e1f | head -c 4194304 >/tmp/marker.bin
# tcpdump looks its user up (the VM has no account database of its own).
[ -e /etc/passwd ] || { echo 'root:x:0:0:root:/root:/bin/sh' >/etc/passwd; echo 'root:x:0:' >/etc/group; }
captured() { # share: copies the marker file in and out of it by SMB Direct; prints how many
  # captured lines hold the marker
  tcpdump -Z root -i eth0 -n -s 0 -U -w /tmp/cap.pcap udp port 4791 >/tmp/tcpdump.log 2>&1 &
  td=$!
  sleep 1
  smbdx cp -q /tmp/marker.bin $U/$1/m.bin $R && smbdx cp -q $U/$1/m.bin /tmp/m-back.bin $R
  sleep 1
  kill "$td"; wait "$td"
  same /tmp/marker.bin /tmp/m-back.bin || echo "copy failed" >&2
  grep -ac SMBDX-CANARY /tmp/cap.pcap
}
plain_hits=$(captured data); sealed_hits=$(captured sealed)
echo "SMBD-INFO RoCE capture: marker on ${plain_hits:-?} captured lines (plain share), ${sealed_hits:-?} (sealed share)"
check "RoCE capture: the plain share's marker is on the wire" test "${plain_hits:-0}" -gt 100
check "RoCE capture: the sealed share's marker is not" test "${sealed_hits:-1}" -eq 0
check "bench over SMB Direct" sh -c "smbdx bench $U/data $R --op write,read --size 64k,1m --depth 8 \
  --duration 2 --cipher none --file-size 32m --json > /tmp/bench.json && grep -c '\"transport\":\"rdma\"' /tmp/bench.json | grep -q 4"
sed 's/^/SMBD-INFO bench /' /tmp/bench.json
# The bench through the transform, every cipher (rows of an encrypted session over SMB Direct).
check "bench through the RDMA transform, every cipher" sh -c "smbdx bench $U/data $R --op write,read --size 1m --depth 4 \
  --duration 1 --cipher aes-128-gcm,aes-256-gcm,aes-128-ccm,aes-256-ccm --file-size 16m --no-anchor --json > /tmp/tbench.json \
  && [ \$(grep -c '\"transport\":\"rdma\"' /tmp/tbench.json) -eq 8 ] || { cat /tmp/tbench.json; false; }"
sed 's/^/SMBD-INFO transform bench /' /tmp/tbench.json
# The server restarting mid-copy over SMB Direct (the server role SIGKILLs its restart target on
# 4460 and starts it again): the copy fails with a clean error (exit 3, the connection lost), and
# no file is left under the target's name, on the share (upload) or here (download).
RT="smb://alice@10.9.0.1:4460/r"
dd if=/dev/urandom of=/tmp/big.bin bs=1M count=64 2>/dev/null
cut_short() { # cp arguments: the copy must fail with exit 3, no panic
  smbdx cp -q "$@" $R --timeout 20 2>/tmp/cut.err; code=$?
  echo "exit $code: $(head -c 300 /tmp/cut.err)"
  [ $code -eq 3 ] && ! grep -q panicked /tmp/cut.err
}
rt_back() { # the restarted server answers, and has nothing under the name $1 (stat: 6, not found)
  for _ in $(seq 60); do smbdx ls $RT $R >/dev/null 2>&1 && break; sleep 1; done
  smbdx stat "$RT/$1" $R >/dev/null 2>&1; [ $? -eq 6 ]
}
whole_copy() {
  smbdx cp -q /tmp/big.bin $RT/whole.bin $R && smbdx cp -q $RT/whole.bin /tmp/whole-back.bin $R \
    && same /tmp/big.bin /tmp/whole-back.bin
}
check "server killed mid-upload over SMB Direct: clean error" cut_short /tmp/big.bin $RT/up.bin
check "restarted server: nothing under the upload's name" rt_back up.bin
check "restarted server: a whole copy each way, SHA-256 equal" whole_copy
rm -f /tmp/whole-back.bin
# The download: the server role, armed by ARM-DL in the data share, kills its restart target once
# 8 MiB of the READ data has been placed here.
mkdir -p /tmp/dl
: >/tmp/ARM-DL
arm() {
  smbdx cp -q /tmp/ARM-DL $U/data/ARM-DL $R || return 1
  for _ in $(seq 100); do smbdx stat $U/data/ARM-DL $R >/dev/null 2>&1 || return 0; sleep 0.2; done
  return 1
}
check "the server role armed for the download" arm
check "server killed mid-download over SMB Direct: clean error" cut_short $RT/whole.bin /tmp/dl/got.bin
check "nothing left under the download's name" sh -c "[ ! -e /tmp/dl/got.bin ] && [ -z \"\$(ls -A /tmp/dl)\" ]"
rm -rf /tmp/dl /tmp/big.bin /tmp/ARM-DL
# The VM's memory holds its root file system and /tmp: make room for the demo's 256 MiB file.
rm -f /tmp/data.bin /tmp/back.bin /tmp/small.bin /tmp/s-back.bin /tmp/g-back.bin /tmp/marker.bin /tmp/m-back.bin /tmp/cap.pcap
# The demo finds this VM's RDMA device and adds SMB Direct rows (its own server, over rxe0).
check "demo has SMB Direct rows" sh -c "{ smbdx demo --seconds 0.5 >/tmp/demo.out 2>&1 && grep -c '^rdma ' /tmp/demo.out | grep -q 4 && grep -q 'SoftRoCE' /tmp/demo.out; } || { tail -n 30 /tmp/demo.out; false; }"
grep -E '^(# SMB Direct|rdma )' /tmp/demo.out | sed 's/^/SMBD-INFO demo /'
# Hostile cases against the second server (TCP 4450, SMB Direct 4451): replayed tokens, bad buffer
# descriptors, RDMA on an encrypted share, an RDMA channel over TCP, malformed SMBD headers. The
# binary prints its own SMBD-CHECK line per case.
smbdx-hostile-peer --rdma 10.9.0.1:4451 --tcp 10.9.0.1:4450 --user alice --share hdata \
  --encrypted-share hsealed >/tmp/hostile.out 2>&1
grep "SMBD-CHECK" /tmp/hostile.out
fails=$((fails + $(grep -c "SMBD-CHECK FAIL" /tmp/hostile.out)))
check "hostile peer ran all 6 cases" sh -c "[ \$(grep -c 'SMBD-CHECK ok' /tmp/hostile.out) -eq 6 ] || { cat /tmp/hostile.out; false; }"
touch /tmp/DONE
smbdx cp -q /tmp/DONE $U/data/DONE $R || smbdx cp -q /tmp/DONE $U/data/DONE
if dmesg | grep -qE "WARNING|BUG|Oops"; then echo "SMBD-CHECK FAIL guest kernel log clean"; dmesg | grep -E -A30 "WARNING|BUG|Oops" | head -n 60; fails=$((fails + 1)); else echo "SMBD-CHECK ok guest kernel log clean"; fi
exit "$fails"
