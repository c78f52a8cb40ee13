#!/bin/sh
# plugins/build.sh DIR -- builds the example plugins (price_filter.wasm, vwap.wasm, and their
# _loop variants without host kernels) into DIR with
# Debian's clang for --target=wasm32 and wasm-ld (Debian packages clang and lld), no libc.
# CLANG=clang-14 etc. to choose the compiler; clang finds wasm-ld (or wasm-ld-14) itself.
set -e
out=${1:?usage: plugins/build.sh DIR}
here=$(cd "$(dirname "$0")" && pwd)
CLANG=${CLANG:-clang}
command -v "$CLANG" > /dev/null || { echo "plugins/build.sh: $CLANG not found (Debian: clang)" >&2; exit 1; }
command -v wasm-ld > /dev/null || command -v wasm-ld-14 > /dev/null ||
  { echo "plugins/build.sh: wasm-ld not found (Debian: lld)" >&2; exit 1; }
mkdir -p "$out"
# NAME.wasm uses the host kernels (module "zenith"); NAME_loop.wasm is the same plugin with
# -DZP_NO_KERNELS, every row interpreted (bench/plugin_bench.c compares the two).
for p in price_filter vwap; do
  for v in "" _loop; do
    "$CLANG" --target=wasm32 -O2 -nostdlib -ffreestanding -Wall -Wextra -Werror \
      -Wl,--no-entry -Wl,-z,stack-size=16384 -Wl,--strip-all ${v:+-DZP_NO_KERNELS} \
      -I "$here" "$here/$p.c" -o "$out/$p$v.wasm.tmp"
    mv "$out/$p$v.wasm.tmp" "$out/$p$v.wasm"
  done
done
