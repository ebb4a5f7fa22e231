#!/usr/bin/env bash
# crypto_vs_openssl.sh - the library smbdx chose ('auto') against the fastest one measured in the same
# run: every library smbdx links (aws-lc-rs, ring, RustCrypto), from `smbdx bench crypto`, and
# OpenSSL's `openssl speed -evp` as the outside reference, in interleaved rounds on one pinned core.
# Prints per cipher and size the median seal GB/s of each with its range, and chosen / fastest
# (issue 18's goal: >= 0.95 for AES-128/256-GCM at 64 KiB and 1 MiB; CCM likewise). GMAC has no
# `openssl speed -evp` form, so its rows compare the linked libraries only.
#
#   bench/crypto_vs_openssl.sh            # ROUNDS=5 SIZES="65536 1048576" CORE=1
#   NO_AVX512=1 bench/crypto_vs_openssl.sh  # aws-lc and OpenSSL as on a CPU without AVX-512
# NO_AVX512=1 sets OPENSSL_ia32cap=":~0x10000" (CPUID.7 EBX bit 16, AVX512F, masked), which aws-lc
# and OpenSSL honour and ring does not: on an AVX-512 machine it shows the choice a CPU with VAES and
# AVX2 but no AVX-512 (AMD Zen 3, say) gets.
# Rows (medians; the library as the transport, cipher, op=seal, size) are left in
# target/bench/crypto_vs_openssl.json ($BENCH_OUT).
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${ROUNDS:-5} SIZES=${SIZES:-"65536 1048576"} CORE=${CORE:-1}
BIN=${SMBDX:-target/release/smbdx}
[ "${NO_AVX512:-0}" = 1 ] && export OPENSSL_ia32cap=":~0x10000"
[ -x "$BIN" ] || cargo build --release -q -p smbdx
command -v openssl >/dev/null || { echo "openssl is needed for the outside reference (apt-get install openssl)"; exit 2; }
. bench/scripts/plot-rows.sh
out=$(mktemp)
trap 'rm -f "$out" "$out.rows"' EXIT
sizes_csv=$(echo "$SIZES" | tr ' ' ',')
for r in $(seq "$ROUNDS"); do
  # smbdx's libraries, then OpenSSL, each round: a burst of load lands on both sides alike.
  "$BIN" bench crypto --json --core "$CORE" --sizes "$sizes_csv" --windows 3 --window-ms 100 \
    | sed -n 's/^{/R {/p' >>"$out"
  for c in aes-128-gcm aes-256-gcm aes-128-ccm aes-256-ccm; do
    for s in $SIZES; do
      # "AES-128-GCM  5875236.86k": thousands of bytes per second.
      k=$(taskset -c "$CORE" openssl speed -evp "$c" -bytes "$s" -seconds 1 2>/dev/null \
        | awk -v C="${c^^}" '$1 == C { sub(/k$/, "", $2); print $2 }')
      [ -n "$k" ] && echo "R {\"op\": \"seal\", \"cipher\": \"$c\", \"backend\": \"openssl\", \"size\": $s, \"gbps\": $(awk -v k="$k" 'BEGIN { printf "%.3f", k * 1000 / 1e9 }')}" >>"$out"
    done
  done
done
python3 - "$out" "$ROUNDS" "$out.rows" <<'PY'
import json, statistics, sys
rows = [json.loads(l.split(" ", 1)[1]) for l in open(sys.argv[1]) if l.startswith("R {")]
choice = next((r["choice"] for r in rows if r.get("op") == "auto"), "?")
groups, chosen = {}, {}
for r in rows:
    if r.get("op") not in ("seal", "sign"):
        continue
    key = (r["op"], r["cipher"], r["size"])
    groups.setdefault(key, {}).setdefault(r["backend"], []).append(r["gbps"])
    if r.get("chosen"):
        chosen[key] = r["backend"]
print(f"# {sys.argv[2]} interleaved rounds, one pinned core; medians [min-max] GB/s; auto: {choice}")
print(f"{'op':<5} {'cipher':<12} {'size':>8}  {'chosen':<11} {'GB/s':>7}  {'fastest':<11} {'GB/s':>7}  {'chosen/fastest':>14}   all")
json_rows = open(sys.argv[3], "w")
for (op, cipher, size), libs in sorted(groups.items()):
    med = {b: statistics.median(v) for b, v in libs.items()}
    fast = max(med, key=med.get)
    c = chosen.get((op, cipher, size), "?")
    ratio = med[c] / med[fast] if c in med else float("nan")
    every = ", ".join(f"{b} {med[b]:.2f} [{min(v):.2f}-{max(v):.2f}]" for b, v in sorted(libs.items()))
    print(f"{op:<5} {cipher:<12} {size:>8}  {c:<11} {med.get(c, 0):>7.2f}  {fast:<11} {med[fast]:>7.2f}  {ratio:>14.2f}   {every}")
    for b in med:
        print(json.dumps({"transport": b, "cipher": cipher, "op": op, "size": size, "gbps": med[b]}), file=json_rows)
PY
plot_rows crypto_vs_openssl "$out.rows" "$BIN"
echo "# OPENSSL_ia32cap=${OPENSSL_ia32cap:-unset}"
echo "# CPU: $(lscpu | sed -n 's/^Model name: *//p' | head -n 1); flags: $(grep -o -w 'avx512f\|vaes\|vpclmulqdq\|avx2' /proc/cpuinfo | sort -u | tr '\n' ' ')"
