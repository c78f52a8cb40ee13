#!/bin/sh
# vendor.sh [SRC] [DEST] -- copies the C sources the package compiles (zenith.c, zenith.h,
# zenith_numa.h, zenith_wasm.h) from SRC (default: the repository root, two directories up)
# into DEST (default: csrc/ next to this script). The package's include path looks in csrc/
# before ../.., so a module directory with csrc/ builds anywhere: outside the repository, in a
# module cache (go get), or vendored into another project. `go generate` runs it.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
src=${1:-$here/../..}
dest=${2:-$here/csrc}
mkdir -p "$dest"
for f in zenith.c zenith.h zenith_numa.h zenith_wasm.h; do
    cp "$src/$f" "$dest/$f"
done
