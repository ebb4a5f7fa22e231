#!/usr/bin/env bash
# The Linux kernel SMB3 client (cifs.ko) against `smbdx serve`, inside a throw-away qemu VM (this
# machine's own kernel has no cifs module to load): scripts/vm/cifs-kernel-client.sh mounts an
# encrypted share and a `seal`ed plain share and does cp, ls, stat, truncate, mkdir, mv, rm, rmdir.
# Needs root on Debian (rxe-vm.sh installs qemu and the kernel). Exits non-zero if a check failed.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --quiet -p smbdx --features rdma  # the build the SMB Direct VM tests use too
exec scripts/rxe-vm.sh --quiet --timeout "${SMBDX_VM_TIMEOUT:-600}" \
  --modules cifs,nls_utf8,ccm,gcm,cmac,ghash_generic,ctr,seqiv,sha512_generic,ecb,libarc4 \
  --add target/release/smbdx --add scripts/vm/cifs-kernel-client.sh \
  single 'sh /usr/local/bin/cifs-kernel-client.sh'
