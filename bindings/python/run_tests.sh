#!/bin/sh
# run_tests.sh BUILD -- the Python binding's suite against BUILD/libzenith.so (run from the
# repository root by `make test-bindings`). Prints one summary line; exit 1 on a failure.
set -u
build=$1
if ! command -v python3 > /dev/null; then echo "bindings/python: skipped: python3 not found (Debian: python3)"; exit 0; fi
echo "== bindings/python"
ZENITH_BUILD=$build ZENITH_LIB=$build/libzenith.so \
  python3 -m unittest discover -s bindings/python/tests -t bindings/python/tests > "$build/python.log" 2>&1 \
  || { cat "$build/python.log"; echo "bindings/python: FAILED"; exit 1; }
echo "bindings/python: $(grep '^Ran ' "$build/python.log"), OK"
