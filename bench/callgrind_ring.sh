#!/bin/sh
# Instructions (user space, callgrind) per NOP: zenith_ring against raw liburing, same setup.
#   sh bench/callgrind_ring.sh        (N = 2000 and 4000 rounds of 32 NOPs)
# Counts only round_raw / round_zenith and what they call; per NOP = (Ir(2N) - Ir(N)) / (32 N).
# The kernel's share of io_uring_enter is not counted by callgrind, so this is the library cost.
set -eu
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
N=${N:-2000}
N2=$((N * 2))
if ! command -v valgrind > /dev/null 2>&1; then
    echo "callgrind_ring: valgrind is not installed"
    exit 0
fi
mkdir -p "$BUILD/callgrind"
# shellcheck disable=SC2046 # the pkg-config flags are meant to split
${CC:-cc} -O2 -g -std=gnu11 -I. bench/ring_nop.c -o "$BUILD/ring_nop" $(pkg-config --libs liburing 2> /dev/null || echo -luring) -pthread
count() { # variant rounds
    f="$BUILD/callgrind/ring_$1.$2.out"
    valgrind --tool=callgrind --toggle-collect="round_$1" --callgrind-out-file="$f" "$BUILD/ring_nop" "$1" "$2" > /dev/null 2>&1
    awk '/^(summary|totals):/ { print $2; exit }' "$f"
}
echo "callgrind_ring: user-space instructions per NOP, batches of 32, N = $N and $N2 rounds"
for v in raw zenith; do
    a=$(count "$v" "$N")
    b=$(count "$v" "$N2")
    echo "$v $a $b" | awk -v n="$N" '{ printf "  %-8s %8.2f Ir per NOP\n", $1, ($3 - $2) / (n * 32) }'
done
