#!/bin/sh
# demo.sh -- the main job (make demo): start the zero-copy echo server, drive it with the load
# generator for a few seconds, print throughput and latency percentiles, stop the server.
#   sh bench/demo.sh [BUILD_DIR]        (make demo builds what it needs first)
set -eu
cd "$(dirname "$0")/.."
BUILD=${1:-build}
SERVER="$BUILD/examples/echo_server"
LOADGEN="$BUILD/loadgen"
CONNS=${DEMO_CONNECTIONS:-50}
SECS=${DEMO_SECONDS:-3}
out=$(mktemp)
trap 'rm -f "$out"' EXIT

cpus=$(nproc)
if [ "$cpus" -ge 2 ]; then pin_server="-c 0"; pin_client="-C 1"; else pin_server=""; pin_client=""; fi
# shellcheck disable=SC2086 # the pin options are meant to split
"$SERVER" -p 0 $pin_server > "$out" 2>&1 &
pid=$!
port=""
i=0
while [ $i -lt 50 ] && [ -z "$port" ]; do
    port=$(sed -n 's/^listening on .*:\([0-9]*\)$/\1/p' "$out")
    [ -n "$port" ] || sleep 0.1
    i=$((i + 1))
done
if [ -z "$port" ]; then
    echo "demo: the echo server did not start:"
    cat "$out"
    kill "$pid" 2> /dev/null || true
    exit 1
fi
echo "demo: $(head -1 "$out") (examples/echo_server.c, pinned to CPU 0); $CONNS connections x 64-byte messages for $SECS s from CPU 1"
rc=0
# shellcheck disable=SC2086
"$LOADGEN" -p "$port" -c "$CONNS" -s 64 -T "$SECS" -w 0.5 $pin_client || rc=$?
kill -TERM "$pid"
wait "$pid" || rc=$?
echo "demo: server $(tail -1 "$out")"
[ $rc -eq 0 ] && echo "demo: every echoed byte verified; server stopped cleanly" || echo "demo: FAILED ($rc)"
exit $rc
