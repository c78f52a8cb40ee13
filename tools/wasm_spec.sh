#!/bin/sh
# wasm_spec.sh -- holds zenith_wasm.h to the WebAssembly spec suite.
#
#   tools/wasm_spec.sh [BUILD_DIR]    (default build/wasm-spec; run from the repository's root)
#
# Converts every ../shared/wasm-spec/src/*.wast with wast2json (Debian's wabt) into BUILD_DIR,
# builds tools/wasm_spec.c, and runs it on every .json: one line per file, then a total line.
# Exits non-zero on any failure. Where the suite is missing it says so in one line and exits 0.
# Environment: CC (default cc), CFLAGS (default -O2 -g), WASM_SPEC_DIR (default
# ../shared/wasm-spec), WASM_SPEC_RUN (a wrapper, e.g. "valgrind -q --error-exitcode=9"),
# WASM_SPEC_ONLY (a file name pattern, e.g. "i32*").
set -u

SUITE=${WASM_SPEC_DIR:-../shared/wasm-spec}
OUT=${1:-build/wasm-spec}
CC=${CC:-cc}
CFLAGS=${CFLAGS:--O2 -g}
ONLY=${WASM_SPEC_ONLY:-*}

if [ ! -d "$SUITE/src" ]; then
    echo "wasm-spec: suite not found at $SUITE (skipped)"
    exit 0
fi
if ! command -v wast2json >/dev/null 2>&1; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        apt-get install -y wabt >/dev/null 2>&1 || true
    fi
    if ! command -v wast2json >/dev/null 2>&1; then
        echo "wasm-spec: wast2json missing (Debian package wabt)"
        exit 1
    fi
fi

mkdir -p "$OUT/json" || exit 1
# shellcheck disable=SC2086
$CC -std=c11 $CFLAGS -Wall -Wextra -Wpedantic -Werror -I. tools/wasm_spec.c -o "$OUT/wasm_spec" -lm || exit 1

set --
for wast in "$SUITE"/src/$ONLY.wast; do
    [ -f "$wast" ] || continue
    name=$(basename "$wast" .wast)
    json="$OUT/json/$name.json"
    if [ ! -f "$json" ] || [ "$wast" -nt "$json" ]; then
        if ! wast2json --disable-bulk-memory --disable-reference-types "$wast" -o "$json" 2>"$OUT/json/$name.err"; then
            echo "wasm-spec: wast2json failed on $name.wast: $(head -n 1 "$OUT/json/$name.err")"
            exit 1
        fi
    fi
    set -- "$@" "$json"
done
if [ $# -eq 0 ]; then
    echo "wasm-spec: no .wast files in $SUITE/src"
    exit 1
fi
# shellcheck disable=SC2086
exec ${WASM_SPEC_RUN:-} "$OUT/wasm_spec" "$@"
