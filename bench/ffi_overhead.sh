#!/bin/sh
# ffi_overhead.sh BUILD -- the cost of Zenith from each language, side by side in one run:
# ns per zenith_version() (a bare call), per pool acquire+release pair (two calls), per 64-byte
# echo round trip through a reactor driven from the language (client and echo server on one
# loop, both through the language's callbacks) and per message posted from another thread of
# the language; through libzenith.so from C, Python (ctypes), Node.js (koffi; posts from a
# worker thread), through the Go package (cgo) and the Rust crate (static, std only).
# Languages whose toolchain is missing are skipped.
set -eu
build=${1:-build}
root=$(cd "$(dirname "$0")/.." && pwd)
export ZENITH_LIB="$root/$build/libzenith.so"
cc -O2 -std=c11 "$root/bench/ffi_overhead.c" -I"$root" -L"$root/$build" -lzenith -Wl,-rpath,"$root/$build" \
    -pthread -o "$root/$build/ffi_overhead"
echo "ffi_overhead: ns; 'pair' = zenith_pool_acquire + zenith_pool_release, 'echo' = one 64-byte round trip"
echo "through a reactor driven from the language, 'post' = one message posted from another thread"
printf '%-8s %10s %10s %10s %10s\n' language version pair echo post
# shellcheck disable=SC2086 # split the line into its five fields on purpose
out() { set -- $1; printf '%-8s %10s %10s %10s %10s\n' "$1" "$2" "$3" "$4" "$5"; }
out "$("$root/$build/ffi_overhead")"
if command -v python3 > /dev/null; then out "$(python3 "$root/bindings/python/overhead.py")"; fi
if command -v node > /dev/null && [ -d "$root/bindings/node/node_modules/koffi" ]; then
    out "$(node "$root/bindings/node/overhead.js")"
fi
if command -v go > /dev/null; then
    # go's build cache does not see edits to the C files outside the package: key it by their sum
    sum=$(cat "$root"/zenith*.h "$root/zenith.c" | cksum | cut -d' ' -f1)
    r=$(cd "$root/bindings/go" && GOCACHE="$root/$build/go-cache" CGO_CFLAGS="-O2 -g -DZGO_SOURCES=$sum" \
        go test -run '^$' -bench . 2>/dev/null)
    v=$(echo "$r" | awk '/^BenchmarkVersion/ { print $3 }')
    p=$(echo "$r" | awk '/^BenchmarkPoolPair/ { print $3 }')
    e=$(echo "$r" | awk '/^BenchmarkEchoRoundTrip/ { print $3 }')
    q=$(echo "$r" | awk '/^BenchmarkPost-/ { print $3 }')
    out "go $v $p $e $q"
fi
if command -v cargo > /dev/null; then
    out "$(cd "$root/bindings/rust" && CARGO_TARGET_DIR="$root/$build/rust" cargo run -q --release --offline --example overhead)"
fi
