#!/bin/sh
# Round-trip latency of one TCP connection over loopback, 64 B ping-pong, both sides busy-polling,
# each side pinned to its own CPU:
#   sockperf  the floor: `sockperf server --nonblocked --timeout 0` (busy epoll) on SERVER_CPU,
#             `sockperf ping-pong --tcp -m 64 --full-rtt --nonblocked` (busy recvfrom) on
#             CLIENT_CPU; its round-trip percentiles (Debian: sockperf)
#   epoll     build/pingpong_epoll (bench/pingpong_epoll.c): non-blocking sockets, epoll_wait(0)
#             spin on both sides
#   zenith    build/pingpong_zenith (bench/pingpong_zenith.c): a zenith_server echoing, a
#             ZENITH_SERVER_NO_LISTEN zenith_server connecting to it, both spinning on
#             zenith_server_run_once(s, 0)
# One table (round trips, min, mean, p50, p99, p99.9, max, in us), then each one's p50 and p99
# against the sockperf floor (goal: within 10 %, ratio <= 1.10).
#
#   sh bench/latency_compare.sh [--quick]
#
# Full: 200000 measured round trips after 20000 warm-up ones (sockperf: 5 s after its own
# warm-up). --quick: 20000 after 2000 (sockperf: 1 s).
# The two programs are built here (into BUILD, default build/) when missing or older than their
# sources; one that cannot be built, or a missing sockperf, is skipped with one line.
# Environment: SERVER_CPU (0), CLIENT_CPU (1), BUILD (build), SOCKPERF (sockperf), CC (cc).
# Exit status: 0 if every run that was attempted completed and verified its echoes, else 1;
# 2 on a usage error. Missing goals do not fail.
set -u

usage() {
    echo "usage: sh bench/latency_compare.sh [--quick]" >&2
    exit 2
}

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${BUILD:-$ROOT/build}
case $BUILD in /*) ;; *) BUILD=$(pwd)/$BUILD ;; esac # the build runs from ROOT
SERVER_CPU=${SERVER_CPU:-0}
CLIENT_CPU=${CLIENT_CPU:-1}
SIZE=64
quick=0
while [ $# -gt 0 ]; do
    case $1 in
        --quick) quick=1 ;;
        -h | --help) usage ;;
        *) echo "latency_compare: unknown argument $1" >&2; usage ;;
    esac
    shift
done
if [ "$quick" = 1 ]; then
    ROUNDS=20000
    WARMUP=2000
    SP_SECS=1
else
    ROUNDS=200000
    WARMUP=20000
    SP_SECS=5
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/latency_compare.XXXXXX") || exit 2
spid=""
cpid=""
# shellcheck disable=SC2317 # called by the trap
cleanup() { # only the processes this script started, by PID
    if [ -n "$cpid" ] && alive "$cpid"; then kill "$cpid" 2> /dev/null; fi
    if [ -n "$spid" ] && alive "$spid"; then kill "$spid" 2> /dev/null; fi
    rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
RES=$tmp/results # name <TAB> rounds min mean p50 p99 p999 max  (or name <TAB> "-" reason)
NOTES=$tmp/notes
: > "$RES"
: > "$NOTES"
status=0

note() {
    echo "$*" >> "$NOTES"
    echo "latency_compare: $*"
}

proc_state() {
    awk '{ sub(/.*\) /, ""); print $1 }' "/proc/$1/stat" 2> /dev/null
}

alive() {
    st=$(proc_state "$1")
    [ -n "$st" ] && [ "$st" != Z ]
}

listening() { # is something listening on local port $1?
    hex=$(printf '%04X' "$1")
    awk -v p=":$hex" '$4 == "0A" && substr($2, length($2) - 4) == p { found = 1 } END { exit !found }' \
        /proc/net/tcp /proc/net/tcp6 2> /dev/null
}

port_used() {
    hex=$(printf '%04X' "$1")
    awk -v p=":$hex" 'substr($2, length($2) - 4) == p { found = 1 } END { exit !found }' \
        /proc/net/tcp /proc/net/tcp6 2> /dev/null
}

jget() { # jget KEY FILE: a number from a JSON line
    sed -n "s/.*\"$1\":\([^,}]*\).*/\1/p" "$2"
}

# build NAME EXTRA_DEPS... : BUILD/NAME from bench/NAME.c when missing or older; 0 if usable
build() {
    bname=$1
    shift
    bin=$BUILD/$bname
    src=$ROOT/bench/$bname.c
    stale=0
    [ -x "$bin" ] || stale=1
    for dep in "$src" "$@"; do
        [ -n "$(find "$dep" -newer "$bin" 2> /dev/null)" ] && stale=1
    done
    [ "$stale" = 0 ] && return 0
    mkdir -p "$BUILD"
    echo "latency_compare: building $bin"
    libs=-pthread
    [ "$bname" = pingpong_zenith ] && libs="-luring -pthread"
    # shellcheck disable=SC2086 # CFLAGS and libs hold several flags
    if ! (cd "$ROOT" && ${CC:-cc} -std=gnu11 ${CFLAGS:--O2 -g} -Wall -Wextra -Wpedantic -Werror -I. "$src" -o "$bin" \
        $libs) > "$tmp/build.log" 2>&1; then
        rm -f "$bin"
        note "$bname: could not be built: $(grep -m 2 -E 'error|undefined' "$tmp/build.log" | tr '\n' ' ' | head -c 300)"
        return 1
    fi
    return 0
}

# ---- sockperf: the floor -----------------------------------------------------------------------
SOCKPERF_BIN=$(command -v "${SOCKPERF:-sockperf}" 2> /dev/null) || SOCKPERF_BIN=""
if [ -z "$SOCKPERF_BIN" ]; then
    note "sockperf: not installed (Debian: sockperf), skipped: no floor, no ratios"
else
    echo "latency_compare: sockperf ping-pong, $SP_SECS s"
    port=$((20000 + $$ % 9000))
    while port_used "$port"; do port=$((port + 1)); done
    taskset -c "$SERVER_CPU" "$SOCKPERF_BIN" server --tcp -i 127.0.0.1 -p "$port" --nonblocked --timeout 0 \
        > "$tmp/sps.out" 2>&1 &
    spid=$!
    i=0
    while [ $i -lt 50 ] && alive "$spid" && ! listening "$port"; do
        sleep 0.1
        i=$((i + 1))
    done
    if ! listening "$port"; then
        note "sockperf: server failed to start: $(grep -m 2 -iE 'error|usage' "$tmp/sps.out" | tr '\n' ' ' | head -c 300)"
        printf 'sockperf\t- failed to start\n' >> "$RES"
        status=1
    else
        taskset -c "$CLIENT_CPU" "$SOCKPERF_BIN" ping-pong --tcp -i 127.0.0.1 -p "$port" -m "$SIZE" -t "$SP_SECS" \
            --full-rtt --nonblocked > "$tmp/spc.out" 2>&1
        rc=$?
        # sed strips the colour escapes; the "percentile" lines are round trips in usec (--full-rtt)
        vals=$(sed 's/\x1b\[[0-9;]*m//g' "$tmp/spc.out" | awk '
            /\[Valid Duration\]/ { for (i = 1; i <= NF; i++) if ($i ~ /^ReceivedMessages=/) { sub(/.*=/, "", $i); n = $i } }
            /avg-rtt=/ { s = $0; sub(/.*avg-rtt=/, "", s); sub(/[^0-9.].*/, "", s); mean = s }
            /<MIN> observation/ { mn = $NF }
            /<MAX> observation/ { mx = $NF }
            /percentile 50\.000/ { p50 = $NF }
            /percentile 99\.000/ { p99 = $NF }
            /percentile 99\.900/ { p999 = $NF }
            END { if (n != "" && p50 != "" && p99 != "") print n, mn, mean, p50, p99, p999, mx }')
        if [ "$rc" != 0 ] || [ -z "$vals" ]; then
            note "sockperf: ping-pong exit $rc, no percentiles: $(grep -m 2 -iE 'error|warn' "$tmp/spc.out" | tr '\n' ' ' | head -c 300)"
            printf 'sockperf\t- failed\n' >> "$RES"
            status=1
        else
            if grep -qE 'dropped messages = [1-9]|duplicated messages = [1-9]|out-of-order messages = [1-9]' "$tmp/spc.out"; then
                note "sockperf: $(grep -m 1 'dropped messages' "$tmp/spc.out" | sed 's/^sockperf: //')"
                status=1
            fi
            printf 'sockperf\t%s\n' "$vals" >> "$RES"
        fi
    fi
    if [ -n "$spid" ] && alive "$spid"; then kill "$spid" 2> /dev/null; fi
    wait "$spid" 2> /dev/null # SIGTERM is how sockperf's server ends (exit 143): not an error
    spid=""
fi

# ---- the two ping-pong programs ----------------------------------------------------------------
for name in epoll zenith; do
    prog=pingpong_$name
    deps=""
    [ "$name" = zenith ] && deps=$ROOT/zenith.h
    # shellcheck disable=SC2086 # deps: zero or one path
    if ! build "$prog" $deps; then
        printf '%s\t- not built\n' "$name" >> "$RES"
        status=1
        continue
    fi
    echo "latency_compare: $prog, $ROUNDS round trips after $WARMUP"
    "$BUILD/$prog" -n "$ROUNDS" -w "$WARMUP" -s "$SIZE" -S "$SERVER_CPU" -C "$CLIENT_CPU" -j \
        > "$tmp/$name.json" 2> "$tmp/$name.err" &
    cpid=$!
    wait "$cpid"
    rc=$?
    cpid=""
    p50=$(jget p50_us "$tmp/$name.json")
    if [ "$rc" != 0 ] || [ -z "$p50" ]; then
        note "$name: $prog exit $rc: $(tr '\n' ' ' < "$tmp/$name.err" | head -c 300)"
        printf '%s\t- failed\n' "$name" >> "$RES"
        status=1
        continue
    fi
    printf '%s\t%s %s %s %s %s %s %s\n' "$name" "$(jget rounds "$tmp/$name.json")" "$(jget min_us "$tmp/$name.json")" \
        "$(jget mean_us "$tmp/$name.json")" "$p50" "$(jget p99_us "$tmp/$name.json")" \
        "$(jget p999_us "$tmp/$name.json")" "$(jget max_us "$tmp/$name.json")" >> "$RES"
done

echo
echo "latency_compare: one TCP connection, $SIZE B ping-pong over loopback, both sides busy-polling," \
    "server on CPU $SERVER_CPU, client on CPU $CLIENT_CPU; round trips in us"
awk -F '\t' '
{
    names[++n] = $1
    split($2, v, " ")
    if (v[1] == "-") { bad[n] = substr($2, 3); next }
    for (k = 1; k <= 7; k++) r[n, k] = v[k]
    if ($1 == "sockperf") floor = n
}
function ratio(a, b) { return (b + 0 > 0) ? sprintf("%.2f", a / b) : "-" }
END {
    printf "%-9s %9s %8s %8s %8s %8s %9s %9s\n", "", "rtts", "min", "mean", "p50", "p99", "p99.9", "max"
    for (i = 1; i <= n; i++) {
        if (i in bad) { printf "%-9s %s\n", names[i], bad[i]; continue }
        printf "%-9s %9d %8.2f %8.2f %8.2f %8.2f %9.2f %9.2f\n", names[i], r[i, 1], r[i, 2], r[i, 3], r[i, 4], r[i, 5], r[i, 6], r[i, 7]
    }
    if (!floor) exit
    print ""
    print "vs the sockperf floor (goal: p50 and p99 ratios <= 1.10)"
    printf "%-9s %8s %8s %s\n", "", "p50", "p99", "verdict"
    for (i = 1; i <= n; i++) {
        if (i == floor || (i in bad)) continue
        a = ratio(r[i, 4], r[floor, 4]); b = ratio(r[i, 5], r[floor, 5])
        printf "%-9s %8s %8s %s\n", names[i], a, b, (a != "-" && b != "-" && a + 0 <= 1.10 && b + 0 <= 1.10) ? "ok" : "MISS"
    }
}' "$RES"
if [ -s "$NOTES" ]; then
    echo
    sed 's/^/note: /' "$NOTES"
fi
exit $status
