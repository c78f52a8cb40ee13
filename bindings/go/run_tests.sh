#!/bin/sh
# run_tests.sh BUILD -- the Go package's suite (run from the repository root by `make
# test-bindings`). One summary line; exit 1 on a failure.
set -u
build=$1
if ! command -v go > /dev/null; then echo "bindings/go: skipped: go not found (Debian: golang-go)"; exit 0; fi
echo "== bindings/go"
(cd bindings/go && GOCACHE=$build/go-cache GOFLAGS=-mod=mod go test -count=1 ./...) > "$build/go.log" 2>&1 \
  || { cat "$build/go.log"; echo "bindings/go: FAILED"; exit 1; }
echo "bindings/go: $(tail -1 "$build/go.log")"
