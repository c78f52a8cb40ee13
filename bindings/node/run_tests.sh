#!/bin/sh
# run_tests.sh BUILD -- the Node.js binding's suite against BUILD/libzenith.so (run from the
# repository root by `make test-bindings`). koffi comes from the npm registry. One summary
# line; exit 1 on a failure.
set -u
build=$1
if ! command -v node > /dev/null || ! command -v npm > /dev/null; then
  echo "bindings/node: skipped: node/npm not found (Debian: nodejs npm)"; exit 0
fi
if ! (cd bindings/node && { [ -d node_modules/koffi ] || npm ci --no-audit --no-fund; }) > "$build/npm.log" 2>&1; then
  echo "bindings/node: skipped: koffi could not be installed from the npm registry ($build/npm.log)"; exit 0
fi
echo "== bindings/node"
(cd bindings/node && ZENITH_LIB=$build/libzenith.so ZENITH_BUILD=$build node --test test/) \
  > "$build/node.log" 2>&1 || { cat "$build/node.log"; echo "bindings/node: FAILED"; exit 1; }
echo "bindings/node: $(grep -E '^# (pass|fail)' "$build/node.log" | tr '\n' ' ')"
