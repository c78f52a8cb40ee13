#!/bin/sh
# vendor.sh -- copies the C sources the crate compiles (zenith.c and the three headers) from the
# repository into bindings/rust/csrc/, so that `cargo package` makes a .crate that builds
# anywhere (build.rs uses csrc/ when the crate is not inside a Zenith checkout). csrc/ is
# git-ignored: run this right before packaging, from any directory.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
mkdir -p "$here/csrc"
for f in zenith.c zenith.h zenith_numa.h zenith_wasm.h; do cp "$root/$f" "$here/csrc/$f"; done
