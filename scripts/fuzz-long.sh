#!/usr/bin/env bash
# fuzz-long.sh - every fuzz target of crates/smb-wire/fuzz for SECONDS each (default 600), then the
# corpus it grew merged (libFuzzer -merge=1: only inputs that add coverage) into the target's
# `seeds/` directory, which the repository keeps and the CI fuzz smoke starts from. Prints per
# target the executions reached and the seeds kept; stops at the first crash, leaving the input in
# fuzz/artifacts/<target>/ (add a regression test for it, fix, run again).
#
#   scripts/fuzz-long.sh [SECONDS] [TARGET...]
# Needs cargo-fuzz (`cargo install cargo-fuzz`); RUSTC_BOOTSTRAP lets the stable toolchain take
# the sanitizer flags. The issue 15 goal: >= 1 M executions per target.
set -euo pipefail
cd "$(dirname "$0")/../crates/smb-wire"
SECS=${1:-600}
shift || true
export RUSTC_BOOTSTRAP=1
cargo fuzz build 2>&1 | tail -n 1
targets=("$@")
[ ${#targets[@]} -gt 0 ] || mapfile -t targets < <(cargo fuzz list)
for t in "${targets[@]}"; do
  mkdir -p "fuzz/corpus/$t" "fuzz/seeds/$t"
  log="fuzz/$t.long.log"
  if ! cargo fuzz run "$t" "fuzz/corpus/$t" "fuzz/seeds/$t" -- -max_total_time="$SECS" -max_len=16384 -rss_limit_mb=2048 \
      -print_final_stats=1 >"$log" 2>&1; then
    tail -n 40 "$log"
    echo "fuzz-long: $t crashed; the input is in crates/smb-wire/fuzz/artifacts/$t/" >&2
    exit 1
  fi
  runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' | tail -n1)
  # Keep only what adds coverage: merge the grown corpus into the seeds.
  merged=$(mktemp -d)
  cargo fuzz run "$t" "$merged" "fuzz/seeds/$t" "fuzz/corpus/$t" -- -merge=1 -rss_limit_mb=2048 >/dev/null 2>&1 || true
  if [ -n "$(ls -A "$merged")" ]; then
    rm -rf "fuzz/seeds/$t"
    mv "$merged" "fuzz/seeds/$t"
  else
    rm -rf "$merged"
  fi
  echo "fuzz-long $t: ${runs:-?} executions in ${SECS}s; seeds kept: $(ls "fuzz/seeds/$t" | wc -l) ($(du -sh "fuzz/seeds/$t" | cut -f1))"
done
