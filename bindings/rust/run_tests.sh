#!/bin/sh
# run_tests.sh BUILD -- the Rust crate's suite (run from the repository root by `make
# test-bindings`). The crate has no dependencies: its lock file is removed first, as one written
# by a newer cargo stops an older one (Debian's). One summary line; exit 1 on a failure.
set -u
build=$1
if ! command -v cargo > /dev/null; then echo "bindings/rust: skipped: cargo not found (Debian: cargo)"; exit 0; fi
echo "== bindings/rust"
rm -f bindings/rust/Cargo.lock
(cd bindings/rust && CARGO_TARGET_DIR=$build/rust cargo test --offline) > "$build/rust.log" 2>&1 \
  || { cat "$build/rust.log"; echo "bindings/rust: FAILED"; exit 1; }
echo "bindings/rust: $(grep -h '^test result' "$build/rust.log" | sed -n 2p)"
