#!/bin/sh
# wasm3_build.sh -- builds wasm3 (the interpreter bench/wasm_bench.c compares against) from a
# fetched copy of its repository, outside this tree. Nothing of wasm3 is ever committed here.
#
#   bench/wasm3_build.sh [WASM3_SRC] [OUT_DIR]
#
# WASM3_SRC: a wasm3 checkout, or a bare git directory of one (a mirror: its HEAD is used);
# default $WASM3_SRC, else /work/.mirror/wasm3+wasm3/repo. OUT_DIR: default /tmp/wasm3-build.
# Builds OUT_DIR/libm3.a from wasm3's source/*.c with wasm3's own release flags (-O3
# -fomit-frame-pointer -fno-stack-check -fno-stack-protector) and its preferred compiler, clang
# (WASM3_CC to change), and prints the two lines bench/wasm_compare.sh reads:
#     WASM3_INC=OUT_DIR/source
#     WASM3_LIB=OUT_DIR/libm3.a
# Where no copy is found it prints one line, "wasm3: not found at ... (skipped)", and exits 0.
set -u

SRC=${1:-${WASM3_SRC:-/work/.mirror/wasm3+wasm3/repo}}
OUT=${2:-/tmp/wasm3-build}
CC=${WASM3_CC:-clang}
command -v "$CC" >/dev/null 2>&1 || CC=cc

mkdir -p "$OUT" || exit 1
if [ -f "$SRC/source/wasm3.h" ]; then
    rm -rf "$OUT/source" && cp -r "$SRC/source" "$OUT/source" || exit 1
    rev=$(git -C "$SRC" rev-parse --short HEAD 2>/dev/null || echo unknown)
elif git --git-dir="$SRC" rev-parse --verify -q HEAD >/dev/null 2>&1; then
    rm -rf "$OUT/source" && git --git-dir="$SRC" archive HEAD source | tar -x -C "$OUT" || exit 1
    rev=$(git --git-dir="$SRC" rev-parse --short HEAD)
else
    echo "wasm3: not found at $SRC (skipped; fetch github:wasm3/wasm3 and pass its path)"
    exit 0
fi

rm -f "$OUT"/*.o "$OUT/libm3.a"
for c in "$OUT"/source/*.c; do
    case $(basename "$c") in m3_api_uvwasi.c) continue ;; esac
    "$CC" -std=gnu11 -O3 -fomit-frame-pointer -fno-stack-check -fno-stack-protector -w \
        -I"$OUT/source" -c "$c" -o "$OUT/$(basename "$c" .c).o" || exit 1
done
ar rcs "$OUT/libm3.a" "$OUT"/*.o || exit 1
echo "$rev" >"$OUT/REVISION"
echo "WASM3_INC=$OUT/source"
echo "WASM3_LIB=$OUT/libm3.a"
