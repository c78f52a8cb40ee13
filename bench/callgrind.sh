#!/bin/sh
# Instructions per acquire+release pair, counted by callgrind (deterministic, unlike ns).
#
#   sh bench/callgrind.sh            # N = 100000 and 2N; override with N=..., CC=..., BUILD=...
#
# Builds build/callgrind_pair (bench/callgrind_pair.c, with DPDK when pkg-config knows libdpdk),
# runs each contender under `valgrind --tool=callgrind --toggle-collect='loop_*'` (only the
# measured loop and what it calls are counted) with N and 2N pairs, and prints
#   per pair = (Ir(2N) - Ir(N)) / N          (start-up and warm-up cancel out)
#   net      = per pair - the same figure for the empty loop (counter, compare, branch)
# The loops are those of pool_bench.c row 1, so "net" still holds what the caller's code costs
# around the calls: zenith's `if (p == NULL)` (1 Ir: a je on the flags of the address add) and,
# for DPDK, the store/reload of its out-parameter around the compiler barrier (about 3 Ir).
# then the per-function split of the 2N run of zenith-call (callgrind_annotate).
set -eu
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
CC=${CC:-cc}
N=${N:-100000}
N2=$((N * 2))
OUT=$BUILD/callgrind
mkdir -p "$OUT"

if ! command -v valgrind > /dev/null 2>&1; then
    echo "callgrind: valgrind is not installed"
    exit 0
fi

dpdk_flags=""
dpdk_libs=""
if pkg-config --exists libdpdk 2> /dev/null; then
    dpdk_flags="-DZENITH_BENCH_DPDK $(pkg-config --cflags libdpdk)"
    dpdk_libs=$(pkg-config --libs libdpdk)
fi
uring_libs=$(pkg-config --libs liburing 2> /dev/null || echo -luring)
# shellcheck disable=SC2086 # word splitting of the flag lists is intended
$CC -std=gnu11 -O2 -g -Wall -Wextra -Wpedantic -Werror -I. $dpdk_flags bench/callgrind_pair.c \
    -o "$BUILD/callgrind_pair" $dpdk_libs $uring_libs -pthread

# Ir of one run: callgrind's "summary:" (or "totals:") line; empty when the run failed.
count() { # contender n
    f="$OUT/$1.$2.out"
    rm -f "$f"
    if valgrind --tool=callgrind --toggle-collect='loop_*' --callgrind-out-file="$f" \
        "$BUILD/callgrind_pair" "$1" "$2" > "$OUT/$1.$2.log" 2>&1; then
        awk '/^(summary|totals):/ { print $2; exit }' "$f"
    fi
}

echo "callgrind: instructions (Ir) per acquire+release pair, N = $N and $N2 pairs, 4 KiB buffers"
e1=$(count empty "$N")
e2=$(count empty "$N2")
if [ -z "$e1" ] || [ -z "$e2" ]; then
    echo "callgrind: the empty loop did not run, see $OUT/empty.$N.log"
    exit 1
fi
empty=$(awk -v a="$e1" -v b="$e2" -v n="$N" 'BEGIN { printf "%.2f", (b - a) / n }')
printf '  %-14s %8s Ir per iteration (counter, compare, branch; its NULL test is loop-invariant)\n' "empty loop" "$empty"
printf '  %-14s %8s %8s  %s\n' "contender" "per pair" "net" "what"
for c in zenith zenith-call zenith-inline dpdk; do
    case $c in
        zenith) what="zenith_pool_acquire/release, implementation in this TU (may be inlined)" ;;
        zenith-call) what="the exported functions through pointers (a separate TU or libzenith.so)" ;;
        zenith-inline) what="zenith_pool_acquire_inline/release_inline" ;;
        dpdk) what="rte_mempool_get/put, cache 256, lcore 0 (EAL --no-huge --no-pci -l 0 under valgrind)" ;;
    esac
    a=$(count "$c" "$N" || true)
    b=$(count "$c" "$N2" || true)
    if [ -z "$a" ] || [ -z "$b" ]; then
        printf '  %-14s %8s %8s  %s\n' "$c" "-" "-" "not available: $(grep -m 1 'callgrind_pair:' "$OUT/$c.$N.log" 2> /dev/null || echo "see $OUT/$c.$N.log")"
        continue
    fi
    awk -v a="$a" -v b="$b" -v n="$N" -v e="$empty" -v c="$c" -v w="$what" \
        'BEGIN { p = (b - a) / n; printf "  %-14s %8.2f %8.2f  %s\n", c, p, p - e, w }'
done

f="$OUT/zenith-call.$N2.out"
if [ -s "$f" ] && command -v callgrind_annotate > /dev/null 2>&1; then
    echo "per function, zenith-call, $N2 pairs (Ir / pair; includes the one-time warm-up):"
    callgrind_annotate --inclusive=no --auto=no "$f" 2> /dev/null |
        awk -v n="$N2" '/file:function/ { on = 1; next }
            on && $1 ~ /^[0-9,]+$/ {
                ir = $1; gsub(",", "", ir)
                fn = $0; sub(/ \[.*$/, "", fn); sub(/^.*:/, "", fn)
                if (ir / n >= 0.01) printf "  %-32s %8.2f\n", fn, ir / n }'
fi
echo "files: $OUT/*.out (callgrind_annotate <file>), $OUT/*.log"
