#!/bin/sh
# Runs inside a throw-away VM (scripts/rxe-vm.sh single, with the cifs module): `smbdx serve` on
# loopback, mounted by the Linux kernel's SMB3 client (cifs.ko), exercised the way people use a
# mount: cp, ls, stat, truncate, mkdir, mv, rm, rmdir; data checked by SHA-256 on both sides.
# Prints "CIFS-CHECK ok|FAIL <what>" per check; exits non-zero if any failed.
set -u
fails=0
check() { # what, then the command
  what=$1; shift
  if "$@" >/tmp/check.out 2>&1; then echo "CIFS-CHECK ok $what"; else
    echo "CIFS-CHECK FAIL $what"; sed 's/^/    /' /tmp/check.out | tail -n 20; fails=$((fails + 1)); fi
}
same() { [ "$(sha256sum <"$1")" = "$(sha256sum <"$2")" ]; }
size_is() { [ "$(stat -c %s "$1")" = "$2" ]; }

mkdir -p /srv/enc /srv/plain /mnt/enc /mnt/plain
ip link set lo up 2>/dev/null || /bin/ip link set lo up
smbdx serve --listen 127.0.0.1:445 --share enc=/srv/enc,encrypt-data --share plain=/srv/plain \
  --user alice:Kernel-Cl1ent --reactors 1 >/tmp/serve.log 2>&1 &
SERVE=$!
for _ in $(seq 50); do grep -q "listen=" /tmp/serve.log && break; sleep 0.2; done

dd if=/dev/urandom of=/tmp/data.bin bs=1M count=24 2>/dev/null
opts=username=alice,password=Kernel-Cl1ent,vers=3.1.1,cache=none,uid=0,gid=0
# The encrypted share: the server sets SMB2_SHAREFLAG_ENCRYPT_DATA and the kernel client follows.
check "mount enc (vers=3.1.1)" mount -t cifs //127.0.0.1/enc /mnt/enc -o "$opts"
# The plain share with the client's own RequirePrivacy: `seal`.
check "mount plain (seal)" mount -t cifs //127.0.0.1/plain /mnt/plain -o "$opts,seal"
# The kernel's own view: each tree connection marked Encrypted (the line after the share's name).
encrypted() { grep -A1 "127.0.0.1\\\\$1 " /proc/fs/cifs/DebugData | grep -q Encrypted; }
check "enc: the kernel encrypts it" encrypted enc
check "plain+seal: the kernel encrypts it" encrypted plain
for m in enc plain; do
  d=/mnt/$m; s=/srv/$m
  check "$m: cp in" cp /tmp/data.bin "$d/data.bin"
  check "$m: server has the bytes" same /tmp/data.bin "$s/data.bin"
  check "$m: cp out" cp "$d/data.bin" /tmp/back-$m.bin
  check "$m: read back equal" same /tmp/data.bin /tmp/back-$m.bin
  check "$m: ls" sh -c "ls -l $d | grep -q data.bin"
  check "$m: stat size" size_is "$d/data.bin" 25165824
  check "$m: truncate down" truncate -s 1000 "$d/data.bin"
  check "$m: size after truncate" size_is "$s/data.bin" 1000
  check "$m: truncate up" truncate -s 5000000 "$d/data.bin"
  check "$m: size after extend" size_is "$d/data.bin" 5000000
  check "$m: mkdir" mkdir "$d/dir"
  check "$m: mv into dir" mv "$d/data.bin" "$d/dir/moved.bin"
  check "$m: moved on server" test -f "$s/dir/moved.bin" -a ! -e "$s/data.bin"
  check "$m: rm" rm "$d/dir/moved.bin"
  check "$m: rmdir" rmdir "$d/dir"
  check "$m: share empty" sh -c "[ -z \"\$(ls -A $s)\" ]"
done
check "umount enc" umount /mnt/enc
check "umount plain" umount /mnt/plain
kill "$SERVE"; wait "$SERVE"
if grep -q "ERROR\|panicked" /tmp/serve.log; then echo "CIFS-CHECK FAIL server log has errors"; fails=$((fails + 1)); fi
echo "CIFS-CHECK summary failures=$fails"
[ "$fails" = 0 ] || { echo "--- server log"; tail -n 40 /tmp/serve.log; dmesg | grep -i cifs | tail -n 20; }
[ "$fails" = 0 ]
