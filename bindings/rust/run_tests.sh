#!/bin/sh
# run_tests.sh BUILD -- the Rust crate's checks (run from the repository root by `make
# test-bindings`; BUILD is the build directory, absolute):
#   1. `cargo test` in place (the whole suite; ZENITH_BUILD=BUILD locates the example plugins);
#   2. the README's example: examples/echo.rs runs and prints "hello, zenith", and the README's
#      rust block is that file, byte for byte;
#   3. packaging: the committed crate (git archive HEAD) with the C sources vendored into csrc/
#      (what vendor.sh does), `cargo package --no-verify --offline` there -- which must print no
#      warning -- then the .crate unpacked into a temporary directory outside the repository and
#      `cargo test --offline` there (build.rs then compiles csrc/).
# The crate has no dependencies: lock files are removed, as one written by a newer cargo stops
# an older one (Debian's). One summary line; exit 1 on a failure, after the log.
set -u
build=$1
if ! command -v cargo > /dev/null; then echo "bindings/rust: skipped: cargo not found (Debian: cargo)"; exit 0; fi
echo "== bindings/rust"
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
log=$build/rust.log
tmp=$(mktemp -d "${TMPDIR:-/tmp}/zenith-rust.XXXXXX")
trap 'rm -rf "$tmp"; rm -f "$here/Cargo.lock"' EXIT INT TERM
export ZENITH_BUILD="$build"
: > "$log"
fail() {
    cat "$log"
    echo "bindings/rust: FAILED: $1"
    exit 1
}
passed() { grep -h '^test result: ok' "$1" | awk '{ n += $4 } END { print n + 0 }'; }

# 1. the suite in place
rm -f "$here/Cargo.lock"
(cd "$here" && CARGO_TARGET_DIR="$build/rust" cargo test --offline) >> "$log" 2>&1 || fail "cargo test"
n_here=$(passed "$log")

# 2. the README's example
(cd "$here" && CARGO_TARGET_DIR="$build/rust" cargo run -q --offline --example echo) > "$tmp/echo.out" 2>> "$log" \
    || fail "cargo run --example echo"
grep -qx 'hello, zenith' "$tmp/echo.out" || { cat "$tmp/echo.out" >> "$log"; fail "the echo example printed something else"; }
awk '/^```rust$/ { on = 1; next } /^```$/ { on = 0 } on' "$here/README.md" > "$tmp/readme.rs"
cmp -s "$here/examples/echo.rs" "$tmp/readme.rs" || fail "README.md's rust block is not examples/echo.rs"

# 3. packaging, from the committed crate
crate="$tmp/crate"
mkdir -p "$crate/csrc" "$tmp/unpacked"
note=""
if git -C "$root" rev-parse --verify -q HEAD > /dev/null 2>&1; then
    git -C "$root" archive HEAD:bindings/rust | tar -x -C "$crate" || fail "git archive of bindings/rust"
    git -C "$root" archive HEAD zenith.c zenith.h zenith_numa.h zenith_wasm.h | tar -x -C "$crate/csrc" \
        || fail "git archive of the C sources"
    [ -z "$(git -C "$root" status --porcelain -- bindings/rust)" ] || note=" (of HEAD: bindings/rust has uncommitted changes)"
else # not a git checkout: the files as they are
    (cd "$here" && tar -cf - --exclude=./csrc --exclude=./target --exclude=./Cargo.lock .) | tar -x -C "$crate"
    for f in zenith.c zenith.h zenith_numa.h zenith_wasm.h; do cp "$root/$f" "$crate/csrc/"; done
fi
rm -rf "$build/rust-package/package"
(cd "$crate" && CARGO_TARGET_DIR="$build/rust-package" cargo package --no-verify --offline) > "$tmp/package.out" 2>&1
rc=$?
cat "$tmp/package.out" >> "$log"
[ $rc -eq 0 ] || fail "cargo package"
if grep -qi 'warning' "$tmp/package.out"; then fail "cargo package is not clean (a warning above)"; fi
file=$(ls "$build/rust-package/package/"zenith-*.crate 2> /dev/null | head -n 1)
[ -n "$file" ] || fail "no .crate in $build/rust-package/package"
tar -xzf "$file" -C "$tmp/unpacked" || fail "unpacking $file"
dir=$(ls -d "$tmp/unpacked"/zenith-* | head -n 1)
rm -f "$dir/Cargo.lock"
[ -f "$dir/csrc/zenith.c" ] || fail "the .crate carries no csrc/zenith.c"
echo "== packaged copy: $dir" >> "$log"
(cd "$dir" && CARGO_TARGET_DIR="$build/rust-packaged" cargo test --offline) > "$tmp/packaged.log" 2>&1
rc=$?
cat "$tmp/packaged.log" >> "$log"
[ $rc -eq 0 ] || fail "cargo test in the unpacked $(basename "$file")"
n_pkg=$(passed "$tmp/packaged.log")
echo "bindings/rust: $n_here passed in place, echo example ok; $(basename "$file") packaged clean$note, $n_pkg passed from an unpacked copy"
