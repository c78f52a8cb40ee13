#!/bin/sh
# wasm_seeds.sh -- a seed corpus for the zenith_wasm.h fuzz targets (tests/fuzz/wasm_load.c,
# tests/fuzz/wasm_run.c): every distinct module of the WebAssembly spec suite, valid, invalid
# and malformed alike, one file per content (named by its SHA-1).
#
#   tests/fuzz/wasm_seeds.sh [OUT_DIR]      (default build/fuzz/wasm_seeds; from the repository's root)
#
# The modules come from tools/wasm_spec.sh's conversion (build/wasm-spec/json, or WASM_SPEC_OUT);
# when it has not run yet, this runs it first. Where the suite is missing (no ../shared/wasm-spec,
# no wast2json) it says so in one line and leaves a corpus of three hand-made modules, so the
# targets still start from something valid. Prints one line: how many seeds.
set -u

OUT=${1:-build/fuzz/wasm_seeds}
SPEC=${WASM_SPEC_OUT:-build/wasm-spec}

mkdir -p "$OUT" || exit 1
if ! ls "$SPEC"/json/*.wasm >/dev/null 2>&1; then
    tools/wasm_spec.sh "$SPEC" >"$OUT.spec.log" 2>&1
    ls "$SPEC"/json/*.wasm >/dev/null 2>&1 || echo "wasm_seeds: no spec modules ($(tail -n 1 "$OUT.spec.log")); hand-made seeds only"
fi

# Hand-made: the empty module; (func (export "f") (result i32) i32.const 42); an imported
# env.log, a memory, a loop that stores and calls it, a call_indirect through a table.
printf '\000asm\001\000\000\000' >"$OUT/empty.wasm"
printf '\000asm\001\000\000\000\001\005\001\140\000\001\177\003\002\001\000\007\005\001\001f\000\000\012\006\001\004\000\101\052\013' >"$OUT/const.wasm"
printf '\000asm\001\000\000\000\001\010\002\140\001\177\000\140\000\000\002\013\001\003env\003log\000\000\003\003\002\001\001\004\004\001p\000\001\005\003\001\000\001\007\011\002\001f\000\001\001g\000\002\011\007\001\000A\000\013\001\001\012\050\002\036\001\001\177\003\100\040\000\040\000\066\002\000\040\000\020\000\040\000A\001j\042\000A\020I\015\000\013\013\007\000A\000\021\001\000\013' >"$OUT/loop.wasm"

n=0
for f in "$SPEC"/json/*.wasm; do
    [ -f "$f" ] || continue
    sum=$(sha1sum "$f" | cut -c1-40)
    [ -f "$OUT/$sum" ] || { cp "$f" "$OUT/$sum" && n=$((n + 1)); }
done
echo "wasm_seeds: $(find "$OUT" -type f | wc -l) seeds in $OUT ($n new from $SPEC/json)"
