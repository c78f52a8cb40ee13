#!/bin/sh
# ffi_overhead.sh BUILD -- ns per Zenith call from each language, side by side in one run:
# zenith_version() (a bare call) and a pool acquire+release pair (two calls), through
# libzenith.so from C, Python (ctypes), Node.js (koffi), through the Go package (cgo) and the
# Rust crate (static, std only). Languages whose toolchain is missing are skipped.
set -eu
build=${1:-build}
root=$(cd "$(dirname "$0")/.." && pwd)
export ZENITH_LIB="$root/$build/libzenith.so"
cc -O2 -std=c11 "$root/bench/ffi_overhead.c" -I"$root" -L"$root/$build" -lzenith -Wl,-rpath,"$root/$build" \
    -o "$root/$build/ffi_overhead"
echo "ffi_overhead: ns per call; 'pair' = zenith_pool_acquire + zenith_pool_release"
printf '%-8s %10s %10s\n' language version pair
# shellcheck disable=SC2086 # split the line into its three fields on purpose
out() { set -- $1; printf '%-8s %10s %10s\n' "$1" "$2" "$3"; }
out "$("$root/$build/ffi_overhead")"
if command -v python3 > /dev/null; then out "$(python3 "$root/bindings/python/overhead.py")"; fi
if command -v node > /dev/null && [ -d "$root/bindings/node/node_modules/koffi" ]; then
    out "$(node "$root/bindings/node/overhead.js")"
fi
if command -v go > /dev/null; then
    r=$(cd "$root/bindings/go" && GOCACHE="$root/$build/go-cache" go test -run '^$' -bench . 2>/dev/null)
    v=$(echo "$r" | awk '/^BenchmarkVersion/ { print $3 }')
    p=$(echo "$r" | awk '/^BenchmarkPoolPair/ { print $3 }')
    out "go $v $p"
fi
if command -v cargo > /dev/null; then
    out "$(cd "$root/bindings/rust" && CARGO_TARGET_DIR="$root/$build/rust" cargo run -q --release --offline --example overhead)"
fi
