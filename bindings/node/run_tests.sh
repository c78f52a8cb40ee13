#!/bin/sh
# run_tests.sh BUILD -- the Node.js binding's checks against BUILD (an absolute build directory
# with libzenith.so, loadgen and plugins/price_filter.wasm), run from the repository root by
# `make test-bindings`:
#   1. koffi into bindings/node/node_modules (npm ci, from the npm registry; git-ignored);
#   2. the suite in place: node --test test/ with ZENITH_LIB and ZENITH_BUILD;
#   3. examples/echo.js (the README's echo block, which test/example.test.js compares);
#   4. packaging: `npm pack` into a temporary directory, the tarball's file list checked,
#      `npm install <tarball>` into an empty project there, then the installed package's tests
#      and the example (copied into the project, so `require('zenith-node')` resolves as a
#      user's would) from that project, with ZENITH_LIB and ZENITH_BUILD.
# Prints `== bindings/node`, then one summary line; on a failure the log first, exit 1. Leaves
# nothing in the repository but node_modules (ignored) and removes its temp dir.
set -u
build=$1
here=$(cd "$(dirname "$0")" && pwd)
if ! command -v node > /dev/null || ! command -v npm > /dev/null; then
  echo "bindings/node: skipped: node/npm not found (Debian: nodejs npm)"; exit 0
fi
echo "== bindings/node"
log=$build/node.log
: > "$log"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/zenith-node.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
trap 'exit 130' INT TERM
fail() { cat "$log"; echo "bindings/node: FAILED: $1"; exit 1; }
counts() { sed -n 's/^# \(pass\|fail\) \([0-9]*\)$/\1 \2/p' "$1" | tr '\n' ' ' | sed 's/ $//'; }
passed() { sed -n 's/^# pass \([0-9]*\)$/\1/p' "$1" | tail -1; }
export ZENITH_LIB="$build/libzenith.so" ZENITH_BUILD="$build"
npmq() { npm --no-audit --no-fund --loglevel=error --prefer-offline "$@"; }

# 1. koffi
if [ ! -d "$here/node_modules/koffi" ]; then
  (cd "$here" && npmq ci) >> "$log" 2>&1 || fail "npm ci (koffi from the npm registry)"
fi

# 2. the suite in place
(cd "$here" && timeout 120 node --test test/) > "$tmp/unit.log" 2>&1
rc=$?
cat "$tmp/unit.log" >> "$log"
[ $rc -eq 0 ] || fail "the suite in place ($(counts "$tmp/unit.log"))"
n_unit=$(passed "$tmp/unit.log")

# 3. the README's example
(cd "$here" && timeout 30 node examples/echo.js) > "$tmp/example.log" 2>&1 || { cat "$tmp/example.log" >> "$log"; fail "examples/echo.js"; }
grep -q '^echoed: hello' "$tmp/example.log" || { cat "$tmp/example.log" >> "$log"; fail "examples/echo.js printed no echo"; }

# 4. packaging: npm pack, install the tarball into an empty project, run its tests there
(cd "$here" && npmq pack --pack-destination "$tmp") > "$tmp/pack.log" 2>&1 || { cat "$tmp/pack.log" >> "$log"; fail "npm pack"; }
tgz=$(ls "$tmp"/zenith-node-*.tgz 2> /dev/null | head -1)
[ -n "$tgz" ] || fail "npm pack made no tarball"
tar tzf "$tgz" | sort > "$tmp/files"
for f in package/package.json package/zenith.js package/README.md package/examples/echo.js \
  package/test/zenith.test.js package/test/reactor.test.js package/test/plugin.test.js \
  package/test/layout.test.js package/test/example.test.js; do
  grep -qx "$f" "$tmp/files" || { cat "$tmp/files" >> "$log"; fail "the tarball lacks $f"; }
done
if grep -q -e node_modules -e '\.tgz$' "$tmp/files"; then cat "$tmp/files" >> "$log"; fail "the tarball holds node_modules or a tarball"; fi
mkdir "$tmp/app"
echo '{ "name": "zenith-node-consumer", "version": "1.0.0", "private": true }' > "$tmp/app/package.json"
(cd "$tmp/app" && npmq install "$tgz") >> "$log" 2>&1 || fail "npm install $(basename "$tgz")"
pkg=$tmp/app/node_modules/zenith-node
[ -f "$pkg/zenith.js" ] && [ -d "$tmp/app/node_modules/koffi" ] || fail "the installed package or koffi is missing"
(cd "$tmp/app" && timeout 120 node --test "$pkg"/test/*.test.js) > "$tmp/pkg.log" 2>&1
rc=$?
cat "$tmp/pkg.log" >> "$log"
[ $rc -eq 0 ] || fail "the installed package's tests ($(counts "$tmp/pkg.log"))"
n_pkg=$(passed "$tmp/pkg.log")
[ "$n_pkg" = "$n_unit" ] || fail "the installed package ran $n_pkg tests, the source tree $n_unit"
cp "$pkg/examples/echo.js" "$tmp/app/echo.js"
(cd "$tmp/app" && timeout 30 node echo.js) > "$tmp/app-example.log" 2>&1 && grep -q '^echoed: hello' "$tmp/app-example.log" \
  || { cat "$tmp/app-example.log" >> "$log"; fail "the example from the installed package"; }

echo "bindings/node: $n_unit tests passed in place (node $(node --version)), examples/echo.js ok;" \
  "packaged $(basename "$tgz"): installed into an empty project, $n_pkg tests and the example passed"
