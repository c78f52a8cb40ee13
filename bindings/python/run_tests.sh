#!/bin/sh
# run_tests.sh BUILD -- the Python binding's checks against BUILD (an absolute build directory with
# libzenith.so, loadgen, py_consumer.so, plugins/price_filter.wasm), run from the repository root
# by `make test-bindings`:
#   1. the unit suite (tests/) against the source tree and BUILD/libzenith.so;
#   2. the README's examples: its echo block is examples/echo.py, which runs; its plugin block runs;
#   3. packaging: a venv in a temporary directory, `pip install --no-build-isolation
#      ./bindings/python` into it (the README's line: builds libzenith.so from zenith.c into the
#      package), then the whole suite and the example from an empty directory against the
#      installed copy (ZENITH_TEST_INSTALLED=1; ZENITH_LIB unset).
# Prints `== bindings/python`, then one summary line; on a failure the log first, exit 1. Leaves
# nothing in the repository (no bytecode, setuptools builds out of tree) and removes its temp dir.
set -u
build=$1
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
if ! command -v python3 > /dev/null; then echo "bindings/python: skipped: python3 not found (Debian: python3)"; exit 0; fi
echo "== bindings/python"
log=$build/python.log
: > "$log"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/zenith-python.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
trap 'exit 130' INT TERM
export PYTHONDONTWRITEBYTECODE=1
fail() { cat "$log"; echo "bindings/python: FAILED: $1"; exit 1; }
ran() { sed -n 's/^Ran \([0-9]*\) tests\{0,1\} in .*/\1/p' "$1" | tail -1; }

# 1. the unit suite, from the source tree
ZENITH_BUILD=$build ZENITH_LIB=$build/libzenith.so \
  python3 -m unittest discover -s "$here/tests" -t "$here/tests" > "$tmp/unit.log" 2>&1
rc=$?
cat "$tmp/unit.log" >> "$log"
[ $rc = 0 ] || fail "unit tests"
unit=$(ran "$tmp/unit.log")

# 2. the README's examples
awk '/^```python$/ { n++; if (n == 1) { inb = 1; next } } /^```$/ { inb = 0 } inb' "$here/README.md" > "$tmp/readme_echo.py"
cmp "$tmp/readme_echo.py" "$here/examples/echo.py" >> "$log" 2>&1 || fail "README.md's echo example differs from examples/echo.py"
out=$(cd "$tmp" && ZENITH_LIB=$build/libzenith.so PYTHONPATH=$here python3 "$here/examples/echo.py" 2>> "$log")
echo "examples/echo.py: $out" >> "$log"
case "$out" in "hello, zenith via "*) ;; *) fail "examples/echo.py printed '$out'" ;; esac
awk '/^```python$/ { n++; if (n == 2) { inb = 1; next } } /^```$/ { inb = 0 } inb' "$here/README.md" \
  | sed "s|\"build/plugins/|\"$build/plugins/|" > "$tmp/readme_plugin.py"
out=$(cd "$tmp" && ZENITH_LIB=$build/libzenith.so PYTHONPATH=$here python3 "$tmp/readme_plugin.py" 2>> "$log")
echo "README plugin example: $out" >> "$log"
[ "$out" = "[1] 1" ] || fail "README.md's plugin example printed '$out', not '[1] 1'"

# 3. packaging. A Python that can build offline: a venv (ensurepip) seeing setuptools and wheel.
pick() {
    for py in python3 /usr/bin/python3; do
        if command -v "$py" > /dev/null && "$py" -c 'import ensurepip, setuptools, wheel' 2> /dev/null; then
            command -v "$py"; return 0
        fi
    done
    return 1
}
py=$(pick)
if [ -z "$py" ] && [ "$(id -u)" = 0 ]; then  # as root (make test-bindings, CI): install Debian's
    "$root/tools/deps.sh" python3-venv python3-pip >> "$log" 2>&1
    py=$(pick)
fi
[ -n "$py" ] || fail "no python3 here can build the package offline: install Debian's python3-venv python3-pip"
pyver=$("$py" -c 'import platform; print(platform.python_version())')
echo "packaging with $py ($pyver)" >> "$log"
"$py" -m venv --system-site-packages "$tmp/venv" >> "$log" 2>&1 || fail "$py -m venv"
find "$here" | sort > "$tmp/files.before"
(cd "$root" && env -u ZENITH_LIB "$tmp/venv/bin/pip" install --no-build-isolation ./bindings/python) >> "$log" 2>&1 \
  || fail "pip install --no-build-isolation ./bindings/python"
find "$here" | sort > "$tmp/files.after"
cmp -s "$tmp/files.before" "$tmp/files.after" \
  || { diff "$tmp/files.before" "$tmp/files.after" >> "$log"; fail "the install left files in bindings/python"; }
cp -R "$here/tests" "$tmp/tests"
mkdir "$tmp/empty"
(cd "$tmp/empty" && env -u ZENITH_LIB ZENITH_TEST_INSTALLED=1 ZENITH_BUILD=$build \
  "$tmp/venv/bin/python" -m unittest discover -s "$tmp/tests" -t "$tmp/tests") > "$tmp/pkg.log" 2>&1
rc=$?
cat "$tmp/pkg.log" >> "$log"
[ $rc = 0 ] || fail "the suite against the installed package"
pkg=$(ran "$tmp/pkg.log")
out=$(cd "$tmp/empty" && env -u ZENITH_LIB "$tmp/venv/bin/python" "$here/examples/echo.py" 2>> "$log")
case "$out" in "hello, zenith via "*) ;; *) fail "examples/echo.py with the installed package printed '$out'" ;; esac
[ -z "$(ls -A "$tmp/empty")" ] || fail "the installed suite left files in its working directory"

echo "bindings/python: $unit tests OK (python3 $(python3 -c 'import platform; print(platform.python_version())')), README examples OK; packaged: pip install --no-build-isolation into a venv of $py $pyver, $pkg tests + example OK from an empty dir"
