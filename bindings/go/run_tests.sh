#!/bin/sh
# run_tests.sh BUILD -- the Go module's checks, run from the repository root by `make
# test-bindings` (BUILD: the absolute build directory, holding plugins/price_filter.wasm):
#   1. go vet and the whole test suite (go test -v ./...), against the repository's C sources;
#      no test may be skipped;
#   2. the README's example is examples/echo/main.go, and it runs (prints "hello zenith");
#   3. packaging: the module copied outside the repository with its C sources vendored into
#      csrc/ (vendor.sh), vetted and tested there, and used from a throwaway main module
#      through a `replace` directive (go run prints "hello zenith").
# Offline (GOPROXY=off), temp files in one mktemp dir removed on exit, nothing written to the
# repository (the Go build cache goes to BUILD/go-cache). One summary line; exit 1 on failure,
# after the log.
set -u
build=$1
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
if ! command -v go > /dev/null; then echo "bindings/go: skipped: go not found (Debian: golang-go)"; exit 0; fi
echo "== bindings/go"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/zenith-go.XXXXXX") || exit 1
trap 'chmod -R u+w "$tmp" 2> /dev/null; rm -rf "$tmp"' EXIT
trap 'exit 1' INT TERM
log=$tmp/log
: > "$log"
fail() {
    cat "$log"
    echo "bindings/go: FAILED: $1"
    exit 1
}
export ZENITH_BUILD=$build GOPROXY=off GOFLAGS=-mod=mod GOWORK=off GOPATH=$tmp/gopath GOCACHE=$build/go-cache
export HOME=${HOME:-$tmp}
[ -f "$build/plugins/price_filter.wasm" ] || fail "no $build/plugins/price_filter.wasm (make $build/plugins/price_filter.wasm)"
[ -e "$here/csrc" ] && fail "bindings/go/csrc/ exists (a vendored copy, vendor.sh) and would shadow the repository's C sources: remove it"
# Go's build cache does not track C files included from outside the package directory
# (../../zenith.h): key the cgo build on their contents so an edited header is recompiled.
sources() { cat "$1/zenith.c" "$1/zenith.h" "$1/zenith_numa.h" "$1/zenith_wasm.h" | cksum | cut -d' ' -f1; }
export CGO_CFLAGS="-O2 -g -DZGO_SOURCES=$(sources "$root")"

# ---- 1. vet, the suite ----------------------------------------------------------------------------
cd "$here" || exit 1
go vet ./... >> "$log" 2>&1 || fail "go vet"
go test -count=1 -v ./... > "$tmp/test.log" 2>&1
rc=$?
cat "$tmp/test.log" >> "$log"
[ $rc = 0 ] || fail "go test"
tests=$(grep -c '^--- PASS' "$tmp/test.log")
subtests=$(grep -c '^ \+--- PASS' "$tmp/test.log")
skipped=$(grep -c -- '--- SKIP' "$tmp/test.log")
[ "$skipped" = 0 ] || fail "$skipped tests skipped"
[ "$tests" -ge 20 ] || fail "only $tests tests ran"

# ---- 2. the example, and the README's copy of it ------------------------------------------------------
out=$(go run ./examples/echo 2>> "$log")
echo "example: $out" >> "$log"
[ "$out" = "hello zenith" ] || fail "examples/echo printed '$out'"
awk '/<!-- example: examples\/echo\/main.go -->/ { on = 1; next } on && /^```go$/ { inside = 1; next }
     inside && /^```$/ { exit } inside { print }' README.md > "$tmp/readme.go"
cmp -s "$tmp/readme.go" examples/echo/main.go || { diff "$tmp/readme.go" examples/echo/main.go >> "$log"; fail "README.md's example differs from examples/echo/main.go"; }

# ---- 3. packaging: the module outside the repository, used through `replace` --------------------------
mod=$tmp/out/of/tree/zenith-go # ../.. of it is empty: only csrc/ can provide the C sources
mkdir -p "$mod/examples/echo" "$tmp/app"
cp go.mod ./*.go ./*.c ./*.h vendor.sh README.md "$mod/" && cp examples/echo/main.go "$mod/examples/echo/" || fail "copy"
sh "$mod/vendor.sh" "$root" >> "$log" 2>&1 || fail "vendor.sh"
[ -f "$mod/csrc/zenith.c" ] || fail "vendor.sh made no csrc/zenith.c"
export GOCACHE=$tmp/go-cache # a cache of its own: the copy's cgo files are compiled from csrc/ only
(cd "$mod" && go vet ./... && go test -count=1 ./...) > "$tmp/pkg.log" 2>&1
rc=$?
cat "$tmp/pkg.log" >> "$log"
[ $rc = 0 ] || fail "go test in the module copy"
modpath=$(sed -n 's/^module //p' go.mod)
cat > "$tmp/app/go.mod" << EOF2
module example.com/zenithapp

go 1.19

require $modpath v0.0.0

replace $modpath => $mod
EOF2
cp examples/echo/main.go "$tmp/app/main.go"
out=$(cd "$tmp/app" && go vet . 2>> "$log" && go run . 2>> "$log")
echo "app: $out" >> "$log"
[ "$out" = "hello zenith" ] || fail "the replace-using main module printed '$out'"

echo "bindings/go: ok: $tests tests ($subtests subtests) passed, 0 skipped, go vet clean; example and README in sync; module copy outside the repository (vendored csrc/): vet + tests ok, used via replace: ok"
