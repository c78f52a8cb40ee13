#!/bin/sh
# wasm_compare.sh -- zenith_wasm.h's interpreter against native C and wasm3 on the kernels of
# bench/wasm/kernels.c, and the load time per KiB; prints a Markdown table.
#
#   bench/wasm_compare.sh [OUT_DIR]        (from the repository's root; default build/bench/wasm)
#
# Builds bench/wasm/kernels.c and bench/wasm/big.c to wasm32 with Debian's clang and wasm-ld
# (packages clang, lld; no libc), builds bench/wasm_bench.c (Zenith + the same kernels compiled
# natively) with BENCH_CC (default cc) -O2, and with wasm3 when bench/wasm3_build.sh finds a
# fetched copy (WASM3_SRC; wasm3 is built with clang -O3, its release flags). Then runs the
# runner RUNS times (default 2; REPS timed calls per kernel and engine, interleaved, default 9)
# and prints, per kernel, each run's median CPU time and the mean of the runs' medians, and the
# ratios Zenith/wasm3 and Zenith/native (per run: the median of the call-by-call ratios); then
# the load (decode + validate + translate) time per KiB. Any checksum mismatch is printed.
# With CALLGRIND=1 (and valgrind), it also counts the instructions of one call of each kernel
# per engine (callgrind: a run with -r 2 minus a run with -r 1; exact and repeatable).
# Without clang's wasm32 target or wasm-ld it prints one line and exits 0.
set -u

OUT=${1:-build/bench/wasm}
RUNS=${RUNS:-2}
REPS=${REPS:-9}
BENCH_CC=${BENCH_CC:-cc}
CLANG=${CLANG:-clang}
EXPORTS="-Wl,--export=bench_init -Wl,--export=bench_crc32 -Wl,--export=bench_sort -Wl,--export=bench_matmul"
EXPORTS="$EXPORTS -Wl,--export=bench_sha256 -Wl,--export=bench_filter"

mkdir -p "$OUT" || exit 1
if ! command -v "$CLANG" >/dev/null 2>&1 || ! { command -v wasm-ld >/dev/null 2>&1 || command -v wasm-ld-14 >/dev/null 2>&1; }; then
    echo "wasm_compare: clang or wasm-ld missing (Debian packages clang, lld): skipped"
    exit 0
fi
# shellcheck disable=SC2086
"$CLANG" --target=wasm32 -O2 -nostdlib -ffreestanding -Wall -Wextra -Werror -Wl,--no-entry $EXPORTS \
    -Wl,-z,stack-size=65536 bench/wasm/kernels.c -o "$OUT/kernels.wasm" || exit 1
"$CLANG" --target=wasm32 -O2 -nostdlib -ffreestanding -Wall -Wextra -Werror -Wl,--no-entry -Wl,--export-all \
    bench/wasm/big.c -o "$OUT/big.wasm" || exit 1

W3=$(bench/wasm3_build.sh "${WASM3_SRC:-/work/.mirror/wasm3+wasm3/repo}" "$OUT/wasm3")
W3_INC=$(echo "$W3" | sed -n 's/^WASM3_INC=//p')
W3_LIB=$(echo "$W3" | sed -n 's/^WASM3_LIB=//p')
if [ -n "$W3_LIB" ]; then
    "$BENCH_CC" -O2 -Wall -Wextra -Werror -DWASM_BENCH_WASM3 -I. -I"$W3_INC" bench/wasm_bench.c "$W3_LIB" -lm \
        -o "$OUT/wasm_bench" || exit 1
    W3_DESC="wasm3 $(cat "$OUT/wasm3/REVISION") (clang -O3)"
else
    echo "$W3"
    "$BENCH_CC" -O2 -Wall -Wextra -Werror -I. bench/wasm_bench.c -lm -o "$OUT/wasm_bench" || exit 1
    W3_DESC="wasm3: not built"
fi

run=1
while [ $run -le "$RUNS" ]; do
    "$OUT/wasm_bench" -r "$REPS" -l 50 "$OUT/kernels.wasm" "$OUT/big.wasm" \
        >"$OUT/run$run.txt" || exit 1
    run=$((run + 1))
done

echo "WebAssembly kernels: $RUNS runs x $REPS interleaved calls; per run the median CPU time (ms) and the median"
echo "of the per-call ratios; the table gives each run's value and their mean. Runner $BENCH_CC -O2; $W3_DESC"
cat "$OUT"/run*.txt | awk -v runs="$RUNS" '
    $1 == "kernel" && $4 == "CHECKSUM-MISMATCH" { bad = bad " " $2 "/" $3; next }
    $1 == "kernel" { k = $2; e = $3; v[k, e] = v[k, e] (v[k, e] == "" ? "" : " / ") $4; s[k, e] += $4;
                     if (!(k in seen)) { seen[k] = 1; order[n++] = k } }
    $1 == "ratio" { k = $2; e = $3; rv[k, e] = rv[k, e] (rv[k, e] == "" ? "" : " / ") $4; rs[k, e] += $4 }
    $1 == "load" { f = $2; sub(".*/", "", f); le = $3; l[f, le] = l[f, le] (l[f, le] == "" ? "" : " / ") $5;
                   ls[f, le] += $5; kib[f] = $4; if (!(f in lseen)) { lseen[f] = 1; lorder[m++] = f } }
    function cell(a, b, k, e, fmt) { return ((k, e) in b) ? sprintf(fmt " (%s)", b[k, e] / runs, a[k, e]) : "-" }
    END {
        print "| kernel | native ms | Zenith ms | wasm3 ms | Zenith/wasm3 | Zenith/native |"
        print "|---|---|---|---|---|---|"
        for (i = 0; i < n; i++) {
            k = order[i]
            printf "| %s | %s | %s | %s | %s | %s |\n", k, cell(v, s, k, "native", "%.3f"), cell(v, s, k, "zenith", "%.2f"),
                   cell(v, s, k, "wasm3", "%.2f"), cell(rv, rs, k, "zenith/wasm3", "**%.2f**"),
                   cell(rv, rs, k, "zenith/native", "%.1f")
        }
        if (bad != "") print "CHECKSUM MISMATCH:" bad
        print ""
        print "| module | KiB | Zenith us/KiB (load+validate+translate) | wasm3 us/KiB (parse+compile) |"
        print "|---|---|---|---|"
        for (i = 0; i < m; i++) {
            f = lorder[i]
            printf "| %s | %s | %s | %s |\n", f, kib[f], cell(l, ls, f, "zenith", "%.2f"), cell(l, ls, f, "wasm3", "%.2f")
        }
    }'

if [ "${CALLGRIND:-0}" = 1 ] && command -v valgrind >/dev/null 2>&1; then
    ir() { valgrind --tool=callgrind --callgrind-out-file=/dev/null "$OUT/wasm_bench" -r "$1" -e "$2" -k "$3" \
        "$OUT/kernels.wasm" 2>&1 | sed -n 's/.*Collected : //p'; }
    echo ""
    echo "| kernel | native Ir | Zenith Ir | wasm3 Ir | Zenith/wasm3 | Zenith/native |"
    echo "|---|---|---|---|---|---|"
    for k in crc32 sort matmul sha256 filter; do
        line="| $k"
        for e in native zenith wasm3; do
            if [ "$e" = wasm3 ] && [ -z "$W3_LIB" ]; then eval "ir_$e=0"; line="$line | -"; continue; fi
            a=$(ir 1 $e $k); b=$(ir 2 $e $k)
            eval "ir_$e=$((b - a))"
            line="$line | $(echo "$b $a" | awk '{printf "%.1f M", ($1 - $2) / 1e6}')"
        done
        # shellcheck disable=SC2154
        echo "$line | $(echo "$ir_zenith $ir_wasm3 $ir_native" | awk '{ r = ($2 > 0) ? sprintf("%.2f", $1 / $2) : "-"; printf "%s | %.1f", r, $1 / $3 }') |"
    done
fi
