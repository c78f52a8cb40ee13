#!/bin/sh
# Side-by-side TCP echo benchmark over loopback.
#
#   sh bench/echo_compare.sh [--quick] SERVER...
#   e.g. sh bench/echo_compare.sh build/epoll_echo build/uv_echo
#        sh bench/echo_compare.sh "build/examples/echo_server --backend io_uring" \
#            "build/examples/echo_server --backend epoll" build/epoll_echo build/uv_echo
#
# A SERVER is a binary, or ONE word holding a binary and its arguments separated by spaces (the
# word is split on blanks, no quoting or globbing inside it); it is named in the table by the
# binary's basename and those arguments, e.g. "echo_server --backend epoll". Every server follows
# bench/epoll_echo.c's contract: started as `BIN -p 0 -c 0 [ARGS...]` it prints "listening on
# ADDR:PORT" as its first line, serves until SIGTERM, then exits 0. The server runs on CPU 0,
# build/loadgen (built from bench/loadgen.c if missing or older) on CPU 1, one row after another:
#   idle    10000 idle connections held 2 s: the server's VmRSS growth per connection. It runs
#           first, on the fresh server, so that memory freed by earlier rows is not reused.
#   1, 50, 1000, 10000 connections x 64 B, then the same x 16 KiB; depth 1, 5 s each after
#           a 0.5 s warm-up: msgs/s, p50/p99/p99.9 latency (us), server CPU (utime+stime from
#           /proc/PID/stat, over the whole loadgen run, connects included) per echoed message.
#           10000 x 16 KiB keeps about 160 MiB in flight in the kernel's socket buffers.
# then the peak RSS (VmHWM), SIGTERM and a check that the server exits 0 within 5 s (else
# SIGKILL, reported). One table, then ratios against the FIRST server.
# --quick: only rows 1 and 50 connections, 1 s each (0.2 s warm-up), no idle row.
# Environment: SERVER_CPU (0), CLIENT_CPU (1), LOADGEN (build/loadgen), CC (cc).
# Exit status: 0 if every server started, ran every row without loadgen errors and exited 0.
set -u

usage() {
    echo "usage: sh bench/echo_compare.sh [--quick] SERVER...   (SERVER: BIN, or \"BIN ARGS...\" as one word)" >&2
    exit 2
}

ROOT=$(cd "$(dirname "$0")/.." && pwd)
LOADGEN=${LOADGEN:-$ROOT/build/loadgen}
SERVER_CPU=${SERVER_CPU:-0}
CLIENT_CPU=${CLIENT_CPU:-1}
quick=0
while [ $# -gt 0 ]; do
    case $1 in
        --quick) quick=1 ;;
        -h | --help) usage ;;
        --) shift; break ;;
        -*) echo "echo_compare: unknown option $1" >&2; usage ;;
        *) break ;;
    esac
    shift
done
[ $# -ge 1 ] || usage

if [ "$quick" = 1 ]; then
    SECS=1
    WARM=0.2
    ROWS="1:64 50:64"
else
    SECS=5
    WARM=0.5
    ROWS="1:64 50:64 1000:64 10000:64 1:16384 50:16384 1000:16384 10000:16384"
fi
IDLE_CONNS=10000
IDLE_SECS=2

# Build the load generator when it is missing or older than its source.
src=$ROOT/bench/loadgen.c
if [ ! -x "$LOADGEN" ] || [ -n "$(find "$src" -newer "$LOADGEN" 2> /dev/null)" ]; then
    mkdir -p "$(dirname "$LOADGEN")"
    echo "echo_compare: building $LOADGEN"
    ${CC:-cc} -O2 -std=gnu11 -Wall -Wextra -Wpedantic -Werror "$src" -o "$LOADGEN" -pthread || exit 2
fi

# 10,000 connections need about 10,100 descriptors in the server and in loadgen (each): raise the
# limit here, before starting anything (with CAP_SYS_RESOURCE the hard limit can go up too).
# shellcheck disable=SC3045 # ulimit -n/-H: not POSIX, but in dash, bash, busybox and ksh
ulimit -n 65536 2> /dev/null || ulimit -n "$(ulimit -Hn)" 2> /dev/null
# shellcheck disable=SC3045
nofile=$(ulimit -n)
if [ "$nofile" != unlimited ] && [ "$nofile" -lt 10200 ] && [ "$quick" = 0 ]; then
    echo "echo_compare: warning: ulimit -n is $nofile, the 10000-connection rows may fail"
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/echo_compare.XXXXXX") || exit 2
spid=""
lpid=""
# shellcheck disable=SC2317 # called by the trap
cleanup() { # only the processes this script started, by PID
    if [ -n "$lpid" ] && alive "$lpid"; then kill "$lpid" 2> /dev/null; fi
    if [ -n "$spid" ] && alive "$spid"; then kill "$spid" 2> /dev/null; fi
    rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
RES=$tmp/results # server_index <TAB> row <TAB> msgs/s p50 p99 p999 cpu_us errors
SRV=$tmp/servers # server_index <TAB> name <TAB> status <TAB> idle B/conn <TAB> peak RSS KiB <TAB> RSS KiB at idle
NOTES=$tmp/notes
: > "$RES"
: > "$SRV"
: > "$NOTES"
TCK=$(getconf CLK_TCK)
status=0

note() {
    echo "$*" >> "$NOTES"
    echo "echo_compare: $*"
}

# Process state letter, or nothing once it is gone (a zombie counts as gone).
proc_state() {
    awk '{ sub(/.*\) /, ""); print $1 }' "/proc/$1/stat" 2> /dev/null
}

alive() {
    st=$(proc_state "$1")
    [ -n "$st" ] && [ "$st" != Z ]
}

cpu_ticks() { # utime + stime, all threads
    awk '{ sub(/.*\) /, ""); print $12 + $13 }' "/proc/$1/stat" 2> /dev/null
}

vm_kib() { # VmRSS or VmHWM in KiB
    awk -v k="$2:" '$1 == k { print $2 }' "/proc/$1/status" 2> /dev/null
}

jget() { # jget KEY FILE: a number from loadgen's JSON line
    sed -n "s/.*\"$1\":\([^,}]*\).*/\1/p" "$2"
}

row_label() {
    c=${1%%:*}
    s=${1#*:}
    if [ "$s" -ge 1024 ]; then echo "$c x $((s / 1024)) KiB"; else echo "$c x $s B"; fi
}

# start_server OUT ERR BIN [ARGS...]: BIN -p 0 -c SERVER_CPU ARGS... in the background; spid.
start_server() {
    ss_out=$1
    ss_err=$2
    ss_bin=$3
    shift 3
    : > "$ss_out" # there before the first look at it (the child opens it after the fork)
    : > "$ss_err"
    "$ss_bin" -p 0 -c "$SERVER_CPU" "$@" > "$ss_out" 2> "$ss_err" &
    spid=$!
}

idx=0
for spec in "$@"; do
    idx=$((idx + 1))
    # the spec's words: the binary, then its arguments (split on blanks, never globbed)
    set -f
    # shellcheck disable=SC2086 # splitting the spec is the point
    set -- $spec
    set +f
    if [ $# -eq 0 ]; then
        note "[$idx]: an empty server spec, skipped"
        printf '%s\t%s\t%s\t-\t-\t-\n' "$idx" "(empty)" "empty spec" >> "$SRV"
        status=1
        continue
    fi
    bin=$1
    shift
    name=$(basename "$bin")
    [ $# -gt 0 ] && name="$name $*"
    out=$tmp/srv$idx.out
    err=$tmp/srv$idx.err
    echo "echo_compare: [$idx] $name"
    if [ ! -x "$bin" ] || [ -d "$bin" ]; then
        note "$name: $bin is not an executable file, skipped"
        printf '%s\t%s\t%s\t-\t-\t-\n' "$idx" "$name" "not executable" >> "$SRV"
        status=1
        continue
    fi
    start_server "$out" "$err" "$bin" "$@"
    line=""
    i=0
    while [ $i -lt 50 ]; do # 5 s to come up
        line=$(sed -n '1{/^listening on .*:[0-9][0-9]*$/p;}' "$out")
        [ -n "$line" ] && break
        alive "$spid" || break
        sleep 0.1
        i=$((i + 1))
    done
    if [ -z "$line" ]; then
        alive "$spid" && kill "$spid" 2> /dev/null
        wait "$spid"
        rc=$?
        spid=""
        note "$name: failed to start (exit $rc): $(head -c 300 "$err" | head -n 2 | tr '\n' ' ')"
        printf '%s\t%s\t%s\t-\t-\t-\n' "$idx" "$name" "failed to start" >> "$SRV"
        status=1
        continue
    fi
    hostport=${line#listening on }
    port=${hostport##*:}
    addr=${hostport%:*}
    addr=${addr#[}
    addr=${addr%]}

    # Idle row first, on the fresh server.
    idle_bpc="-"
    rss1=""
    if [ "$quick" = 0 ]; then
        rss0=$(vm_kib "$spid" VmRSS)
        "$LOADGEN" -a "$addr" -p "$port" -c $IDLE_CONNS -i -T $IDLE_SECS -C "$CLIENT_CPU" -j \
            > "$tmp/idle.json" 2> "$tmp/idle.err" &
        lpid=$!
        i=0
        while [ $i -lt 300 ] && alive "$lpid" && ! grep -q "connections established" "$tmp/idle.err"; do
            sleep 0.1
            i=$((i + 1))
        done
        rss1=0
        for _ in 1 2 3; do # the server may still be accepting: take the largest of 3 samples
            sleep 0.4
            alive "$lpid" || break
            r=$(vm_kib "$spid" VmRSS)
            [ -n "$r" ] && [ "$r" -gt "$rss1" ] && rss1=$r
        done
        wait "$lpid"
        lrc=$?
        lpid=""
        est=$(jget established "$tmp/idle.json")
        if [ "$lrc" != 0 ] || [ -z "$est" ] || [ "$est" = 0 ] || [ "$rss1" = 0 ]; then
            note "$name: idle row: loadgen exit $lrc: $(tr '\n' ' ' < "$tmp/idle.err" | head -c 300)"
            status=1
        fi
        if [ -n "$est" ] && [ "$est" != 0 ] && [ "$rss1" != 0 ]; then
            idle_bpc=$(((rss1 - rss0) * 1024 / est))
        fi
    fi

    for row in $ROWS; do
        label=$(row_label "$row")
        if ! alive "$spid"; then
            note "$name: server died before row $label"
            status=1
            break
        fi
        t0=$(cpu_ticks "$spid")
        "$LOADGEN" -a "$addr" -p "$port" -c "${row%%:*}" -s "${row#*:}" -d 1 -T "$SECS" -w "$WARM" \
            -C "$CLIENT_CPU" -j > "$tmp/row.json" 2> "$tmp/row.err"
        lrc=$?
        t1=$(cpu_ticks "$spid")
        if [ "$lrc" != 0 ]; then
            note "$name: $label: loadgen exit $lrc: $(tr '\n' ' ' < "$tmp/row.err" | head -c 300)"
            status=1
        fi
        total=$(jget msgs_total "$tmp/row.json")
        if [ -z "$total" ]; then
            printf '%s\t%s\t- - - - - -\n' "$idx" "$label" >> "$RES"
            continue
        fi
        cpu=$(awk -v a="${t0:-0}" -v b="${t1:-0}" -v n="$total" -v hz="$TCK" \
            'BEGIN { if (n > 0 && b >= a) printf "%.2f", (b - a) * 1e6 / hz / n; else print "-" }')
        printf '%s\t%s\t%s %s %s %s %s %s\n' "$idx" "$label" "$(jget msgs_per_s "$tmp/row.json")" \
            "$(jget p50_us "$tmp/row.json")" "$(jget p99_us "$tmp/row.json")" "$(jget p999_us "$tmp/row.json")" \
            "$cpu" "$(jget errors "$tmp/row.json")" >> "$RES"
    done

    hwm=$(vm_kib "$spid" VmHWM)
    kill -TERM "$spid" 2> /dev/null
    i=0
    while [ $i -lt 50 ] && alive "$spid"; do
        sleep 0.1
        i=$((i + 1))
    done
    if alive "$spid"; then
        kill -KILL "$spid" 2> /dev/null
        { wait "$spid"; } 2> /dev/null
        spid=""
        shut="KILLED: still running 5 s after SIGTERM"
        status=1
    else
        wait "$spid"
        rc=$?
        spid=""
        shut="exit $rc after SIGTERM ($((i * 100)) ms)"
        [ "$rc" = 0 ] || status=1
    fi
    note "$name: $shut; $(tail -n 1 "$out")"
    printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$idx" "$name" "ok" "$idle_bpc" "${hwm:--}" "${rss1:--}" >> "$SRV"
done

echo
echo "echo_compare: server on CPU $SERVER_CPU, loadgen on CPU $CLIENT_CPU, loopback, depth 1," \
    "$SECS s per row after $WARM s warm-up"
awk -F '\t' -v quick="$quick" -v idle="$IDLE_CONNS" '
FILENAME == ARGV[1] { name[$1] = $2; st[$1] = $3; bpc[$1] = $4; hwm[$1] = $5; irss[$1] = $6; n = $1 > n ? $1 : n; next }
{
    if (!($2 in seen)) { seen[$2] = 1; rows[++nr] = $2 }
    split($3, v, " ")
    for (k = 1; k <= 6; k++) r[$1, $2, k] = v[k]
    have[$1, $2] = 1
}
function num(x) { return x != "" && x != "-" }
function ratio(a, b) { return (num(a) && num(b) && b + 0 > 0) ? sprintf("%.2f", a / b) : "-" }
END {
    w = 14 # the server column: as wide as the longest name
    for (s = 1; s <= n; s++) if (length(name[s]) > w) w = length(name[s])
    L = "%-14s %-" w "s"
    hdr = sprintf(L " %10s %9s %9s %9s %11s %7s", "row", "server", "msgs/s", "p50 us", "p99 us", "p99.9 us", "CPU us/msg", "errors")
    print hdr
    for (i = 1; i <= nr; i++)
        for (s = 1; s <= n; s++) {
            lab = (s == 1 || n == 1) ? rows[i] : ""
            if (st[s] != "ok" && !have[s, rows[i]]) { printf L " %s\n", lab, name[s], st[s]; continue }
            if (!have[s, rows[i]]) { printf L " %s\n", lab, name[s], "(not run)"; continue }
            printf L " %10s %9s %9s %9s %11s %7s\n", lab, name[s], \
                num(r[s, rows[i], 1]) ? sprintf("%.0f", r[s, rows[i], 1]) : "-", \
                r[s, rows[i], 2], r[s, rows[i], 3], r[s, rows[i], 4], r[s, rows[i], 5], r[s, rows[i], 6]
        }
    for (s = 1; s <= n; s++) {
        lab = s == 1 ? "peak RSS" : ""
        printf L " %s\n", lab, name[s], num(hwm[s]) ? sprintf("%.1f MiB (VmHWM)", hwm[s] / 1024) : "-"
    }
    if (!quick)
        for (s = 1; s <= n; s++) {
            lab = s == 1 ? ("idle " idle) : ""
            printf L " %s%s\n", lab, name[s], num(bpc[s]) ? sprintf("%d B/conn (VmRSS growth)", bpc[s]) : "-", \
                num(irss[s]) ? sprintf(", RSS %.1f MiB holding them", irss[s] / 1024) : ""
        }
    if (n < 2) exit
    print ""
    printf "ratios vs %s (msgs/s: >1 is faster; latency, CPU, memory: <1 is better)\n", name[1]
    printf L " %10s %9s %9s %9s %11s\n", "row", "server", "msgs/s", "p50", "p99", "p99.9", "CPU/msg"
    for (i = 1; i <= nr; i++)
        for (s = 2; s <= n; s++) {
            lab = s == 2 ? rows[i] : ""
            printf L, lab, name[s]
            for (k = 1; k <= 5; k++) printf(" %" (k == 1 ? 10 : k == 5 ? 11 : 9) "s", ratio(r[s, rows[i], k], r[1, rows[i], k]))
            printf "\n"
        }
    for (s = 2; s <= n; s++) printf L " %10s\n", s == 2 ? "peak RSS" : "", name[s], ratio(hwm[s], hwm[1])
    if (!quick)
        for (s = 2; s <= n; s++) printf L " %10s\n", s == 2 ? ("idle " idle) : "", name[s], ratio(bpc[s], bpc[1])
}' "$SRV" "$RES"
if [ -s "$NOTES" ]; then
    echo
    sed 's/^/note: /' "$NOTES"
fi
exit $status
