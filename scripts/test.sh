#!/usr/bin/env bash
# The one test command (README "Run all tests"; .ci/run and ci/ call it).
# On a fresh Debian machine, run as root, it installs what it needs, then runs: rustfmt check, clippy
# with warnings as errors, the whole workspace's tests, and a short fuzz smoke run of every decoder.
#
# Then, in pairs of SoftRoCE (rdma_rxe) VMs under qemu: the RDMA conformance suite
# (scripts/rdma-vm-tests.sh), smbdx over SMB Direct both ways (scripts/smbdirect-vm-tests.sh), and
# Linux's kernel SMB Direct client and server against smbdx (scripts/cifs-smbdirect-vm-test.sh).
#
# Environment: SMBDX_FUZZ_SECONDS (per fuzz target, default 4; 0 skips fuzzing);
#              SMBDX_RDMA_VM=0 skips the SoftRoCE VM tests (they need root, qemu and a Debian kernel;
#              the kernel-peer test also builds cifs.ko and ksmbd.ko from linux-source, cached).
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"
FUZZ_SECONDS="${SMBDX_FUZZ_SECONDS:-4}"

step() { printf '\n== %s (%s)\n' "$*" "$(date +%T)"; }

# --- system dependencies -------------------------------------------------------------------------
need_pkgs=()
command -v cc >/dev/null 2>&1 || need_pkgs+=(gcc)
command -v c++ >/dev/null 2>&1 || need_pkgs+=(g++)   # libFuzzer is C++
command -v make >/dev/null 2>&1 || need_pkgs+=(make)
command -v pkg-config >/dev/null 2>&1 || need_pkgs+=(pkg-config)
command -v smbclient >/dev/null 2>&1 || need_pkgs+=(smbclient)     # real-client interop tests
command -v smbd >/dev/null 2>&1 || need_pkgs+=(samba)               # real-server tests of the client
python3 -c 'import venv, ensurepip' >/dev/null 2>&1 || need_pkgs+=(python3-venv)
command -v systemd-analyze >/dev/null 2>&1 || need_pkgs+=(systemd)  # checks deploy/smbdx.service
command -v tcpdump >/dev/null 2>&1 || need_pkgs+=(tcpdump)          # the RoCE capture in the SMB Direct VM test
command -v chromium >/dev/null 2>&1 || need_pkgs+=(chromium)  # the admin page in a headless browser
command -v mkfs.ext4 >/dev/null 2>&1 || need_pkgs+=(e2fsprogs)     # disk_errors: an ext4 share on a loop device
command -v xfs_io >/dev/null 2>&1 || need_pkgs+=(xfsprogs)         # disk_errors: its shutdown ioctl (EIO)
# rdma-core headers and libclang for the `rdma` feature (bindgen); the VM packages are rxe-vm.sh's.
for p in libibverbs-dev librdmacm-dev libclang-dev; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || need_pkgs+=("$p")
done
if [ ${#need_pkgs[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    step "installing ${need_pkgs[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_pkgs[@]}" >/dev/null
  else
    echo "missing: ${need_pkgs[*]} (run as root on Debian to install them automatically)" >&2
    exit 1
  fi
fi
if [ "$FUZZ_SECONDS" != 0 ] && ! cargo fuzz --version >/dev/null 2>&1; then
  step "installing cargo-fuzz"
  cargo install cargo-fuzz --locked --quiet
fi

# Python's smbprotocol (PyPI) in a project-local venv, for the real-client interop tests.
if [ ! -x .venv/bin/python ] || ! .venv/bin/python -c 'import smbprotocol' >/dev/null 2>&1; then
  step "installing smbprotocol into .venv"
  python3 -m venv .venv
  .venv/bin/pip install --quiet --disable-pip-version-check smbprotocol
fi
export SMBDX_INTEROP=1 SMBDX_PYTHON="$PWD/.venv/bin/python"
# The client suite's private smbd maps its SMB user onto a Unix account it creates: root only.
if [ "$(id -u)" = 0 ] && command -v smbd >/dev/null 2>&1; then
  export SMBDX_SAMBA=1
else
  echo "note: not root or no smbd: the client tests against Samba will be skipped" >&2
fi

# --- static checks -------------------------------------------------------------------------------
step "cargo fmt --check"
cargo fmt --all -- --check
step "cargo clippy --all-targets -- -D warnings"
cargo clippy --workspace --all-targets --quiet -- -D warnings
(cd crates/smb-wire/fuzz && cargo clippy --quiet --bins -- -D warnings)
step "cargo clippy --features rdma (rdma crates, smbdx)"
cargo clippy --quiet -p rdma-core-sys -p rdma-verbs -p smbdx --all-targets \
  --features rdma-core-sys/rdma,rdma-verbs/rdma,smbdx/rdma -- -D warnings

# --- tests ---------------------------------------------------------------------------------------
step "cargo test --workspace"
test_log=$(mktemp)
trap 'rm -f "$test_log"' EXIT
cargo test --workspace 2>&1 | tee "$test_log"

# --- the systemd unit (deploy/smbdx.service) ----------------------------------------------------------
# verify: its syntax and that ExecStart runs (pointed at the binary just built: the unit names the
# install path); security: the sandbox's exposure stays at 3.0 or below ("OK"; 1.9 when written).
step "systemd-analyze verify / security deploy/smbdx.service"
unit_dir=$(mktemp -d)
sed "s|^ExecStart=/usr/local/bin/smbdx |ExecStart=$PWD/target/debug/smbdx |" deploy/smbdx.service \
  >"$unit_dir/smbdx.service"
# Unknown or misspelt keys are only warnings to systemd: any output fails the check.
unit_out=$(systemd-analyze verify "$unit_dir/smbdx.service" 2>&1) || { echo "$unit_out"; exit 1; }
[ -z "$unit_out" ] || { echo "$unit_out"; echo "systemd-analyze verify: warnings (above)" >&2; exit 1; }
systemd-analyze security --offline=true --threshold=30 "$unit_dir/smbdx.service" | tail -n 1
rm -rf "$unit_dir"

# --- the Linux kernel client, in a VM ---------------------------------------------------------------
# cifs.ko against smbdx serve (scripts/cifs-vm-test.sh); the VM needs root to install qemu and a kernel.
if [ "$(id -u)" = 0 ] && [ "${SMBDX_VM_TESTS:-1}" != 0 ]; then
  step "Linux kernel SMB3 client (cifs.ko in a qemu VM) against smbdx serve"
  vm_log=$(mktemp)
  if scripts/cifs-vm-test.sh >"$vm_log" 2>&1; then vm_rc=0; else vm_rc=$?; fi
  vm_run_log=$(sed -n 's/.*single: .* (log: \(.*\))$/\1/p' "$vm_log" | tail -n1)
  [ -n "$vm_run_log" ] && grep -a "CIFS-CHECK" "$vm_run_log" | sed 's/^/  /' || cat "$vm_log"
  ok=$(grep -ac "CIFS-CHECK ok" "$vm_run_log" 2>/dev/null) || true
  bad=$(grep -ac "CIFS-CHECK FAIL" "$vm_run_log" 2>/dev/null) || true
  printf 'test result: kernel client. %d passed; %d failed\n' "${ok:-0}" "${bad:-0}" >>"$test_log"
  if [ "$vm_rc" != 0 ] || [ "${ok:-0}" = 0 ]; then tail -n 40 "$vm_log"; echo "kernel client VM test failed" >&2; exit 1; fi
  rm -f "$vm_log"
else
  echo "note: not root (or SMBDX_VM_TESTS=0): the VM tests are skipped" >&2
fi

# --- RDMA on SoftRoCE ------------------------------------------------------------------------------
if [ "${SMBDX_RDMA_VM:-1}" != 0 ]; then
  # Each prints "test result:" lines that join the totals below.
  step "RDMA conformance in two SoftRoCE VMs"
  scripts/rdma-vm-tests.sh 2>&1 | tee -a "$test_log"
  step "SMB over SMB Direct in two SoftRoCE VMs: smbdx serve <-> smbdx client"
  scripts/smbdirect-vm-tests.sh 2>&1 | tee -a "$test_log"
  # cifs.ko and ksmbd.ko rebuilt with SMB Direct (scripts/kmod-smbdirect.sh, cached in target/kmod/).
  step "SMB Direct against Linux's own client and server (cifs.ko -> smbdx serve, smbdx -> ksmbd)"
  scripts/cifs-smbdirect-vm-test.sh 2>&1 | tee -a "$test_log"
fi

# --- fuzz smoke ----------------------------------------------------------------------------------
if [ "$FUZZ_SECONDS" != 0 ]; then
  step "fuzz smoke: ${FUZZ_SECONDS}s per decoder"
  # cargo-fuzz needs nightly-only flags (sanitizers); the machine has one stable toolchain, and
  # RUSTC_BOOTSTRAP lets that toolchain accept them.
  export RUSTC_BOOTSTRAP=1
  (
    cd crates/smb-wire
    cargo fuzz build 2>&1 | tail -n 1
    for t in $(cargo fuzz list); do
      mkdir -p "fuzz/corpus/$t"
      seeds=(); [ -d "fuzz/seeds/$t" ] && seeds=("fuzz/seeds/$t")
      cargo fuzz run "$t" "fuzz/corpus/$t" "${seeds[@]}" -- -max_total_time="$FUZZ_SECONDS" -rss_limit_mb=2048 -print_final_stats=0 \
        2>"fuzz/$t.log" || { tail -n 40 "fuzz/$t.log"; echo "fuzz target $t failed" >&2; exit 1; }
      echo "fuzz $t: $(grep -o 'Done [0-9]* runs' "fuzz/$t.log" | tail -n1 || echo ok)"
    done
  )
fi
step "all checks passed"
# One closing line with the totals of every cargo test binary above.
awk '/^test result:/ { for (i = 1; i <= NF; i++) { if ($(i+1) ~ /^passed/) p += $i; if ($(i+1) ~ /^failed/) f += $i } }
     END { printf "tests: %d passed, %d failed\n", p, f }' "$test_log"
