#!/bin/sh
# User-space instructions and system calls per echoed message, per echo server (deterministic
# counts instead of CPU time, which swings +-15 % on a shared machine).
#
#   sh bench/callgrind_echo.sh       # N = 2000 messages (64 B rows), N16 = 2000 (16 KiB row)
#
# Servers: Zenith's echo example on each backend (--backend epoll, --backend io_uring),
# bench/epoll_echo.c (plain level-triggered epoll) and bench/uv_echo.c (libuv; if built). Each
# is started as `SERVER -p 0 -c SERVER_CPU` and must print "listening on ADDR:PORT". The client,
# build/echo_count_client (bench/echo_count_client.c, built here), is never under valgrind: it
# runs on CLIENT_CPU, opens C connections and does a fixed number of verified round trips at
# depth 1. Rows: 1 x 64 B, 50 x 64 B (N messages in all), 50 x 16 KiB (N16 messages).
#   Ir/msg        the server under `valgrind --tool=callgrind` (collection on from the start),
#                 once with n and once with 2n messages; when the client is done the counts are
#                 dumped (callgrind_control --dump, by PID): (Ir(2n) - Ir(n)) / n, so start-up and
#                 connects cancel out and the stop is not counted. User space only, all threads;
#                 the kernel's side of each system call is not counted.
#   syscalls/msg  the server under `strace -f -c` with the same two loads: (calls(2n) - calls(n)) / n
#                 (the stop is in both and cancels), and the 3 system calls with most calls per message.
# then the ratios Zenith-epoll / epoll_echo, and per function the Ir per message of Zenith-epoll
# in the 64 B rows (self and inclusive; the same difference, function by function, from
# callgrind_annotate on the two dumps).
# Each connection does n / C messages (40 and 80 in the 16 KiB row): enough that a pattern spanning
# two messages (a read that fills its buffer costs one more read) shows at its steady-state rate.
# Under valgrind a 50-connection row sees larger batches per wake-up than a native run (the server
# is ~50x slower, so every connection has its next message waiting), and strace slows it too: both
# columns are exact for what the server did under that load, not the native batch size. io_uring's
# system calls per message at 50 connections depend on how many completions each wait finds, so
# that figure moves from run to run (the others do not).
# io_uring under valgrind 3.19: io_uring_enter runs without valgrind's thread lock released (it is
# not treated as a blocking call), so while the reactor waits in it no other thread runs: main's
# sigwait has the SIGTERM but cannot act on it. One more connection with one message (a "nudge",
# after the dump) wakes the reactor; one to three have been enough. The same can happen at start
# before main has printed its line: then the server is started again (at most 3 times).
# Servers are stopped by PID (SIGTERM, bounded waits; SIGKILL only if that fails).
# Environment: N, N16, SERVER_CPU (0), CLIENT_CPU (1), BUILD (build), CC (cc); SERVERS (a subset
# of the four names above), ROWS (CONNS:SIZE:N ..., e.g. "1:16384:2000").
# Keeps the callgrind dumps in BUILD/callgrind/echo_SERVER.CONNS-SIZE.MSGS.out (callgrind_annotate).
set -eu
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
CC=${CC:-cc}
N=${N:-2000}
N16=${N16:-2000}
SERVER_CPU=${SERVER_CPU:-0}
CLIENT_CPU=${CLIENT_CPU:-1}
CLIENT=$BUILD/echo_count_client
KEEP=$BUILD/callgrind
ROWS=${ROWS:-"1:64:$N 50:64:$N 50:16384:$N16"}
SERVERS=${SERVERS:-"zenith-epoll zenith-io_uring epoll_echo uv_echo"}
mkdir -p "$KEEP"
rm -f "$KEEP"/echo_*.out

have_valgrind=1
command -v valgrind > /dev/null 2>&1 || have_valgrind=0
have_strace=1
command -v strace > /dev/null 2>&1 || have_strace=0
if [ $have_valgrind = 0 ] && [ $have_strace = 0 ]; then
    echo "callgrind_echo: neither valgrind nor strace is installed (Debian: valgrind, strace)"
    exit 0
fi
$CC -O2 -g -std=gnu11 -Wall -Wextra -Wpedantic -Werror bench/echo_count_client.c -o "$CLIENT"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/callgrind_echo.XXXXXX")
spid=""   # the process started: the server under valgrind (same process), or strace
target="" # the server: $spid, or strace's child
# shellcheck disable=SC2317 # called by the trap
cleanup() { # only what this script started, by PID
    for p in $target $spid; do
        if alive "$p"; then kill -KILL "$p" 2> /dev/null || true; fi
    done
    rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
RES=$tmp/results # label <TAB> row <TAB> Ir/msg <TAB> syscalls/msg <TAB> top 3
NOTES=$tmp/notes
: > "$RES"
: > "$NOTES"

note() {
    echo "$*" >> "$NOTES"
    echo "callgrind_echo: $*"
}

alive() { # running (a zombie is gone)
    st=$(awk '{ sub(/.*\) /, ""); print $1 }' "/proc/$1/stat" 2> /dev/null || true)
    [ -n "$st" ] && [ "$st" != Z ]
}

child_of() { # the process whose parent is $1 (the first one)
    for f in /proc/[0-9]*/stat; do
        cat "$f" 2> /dev/null || true
    done | awk -v p="$1" '{ pid = $1; sub(/.*\) /, ""); if ($2 == p) { print pid; exit } }'
}

# Waits up to $2 tenths of a second for PID $1 to end; status 0 if it did.
gone_within() {
    i=0
    while [ "$i" -lt "$2" ]; do
        alive "$1" || return 0
        sleep 0.1
        i=$((i + 1))
    done
    ! alive "$1"
}

# run TOOL LABEL ROW N: one server process (TOOL = cg or st) serving N messages of ROW; sets
# run_ok (1 if the client verified every echo), run_nudges, run_rc (the server's exit status) and
# leaves the tool's output in $tmp/TOOL.LABEL.ROWTAG.N.out.
run() {
    r_tool=$1 r_label=$2 r_row=$3 r_n=$4
    r_conns=${r_row%%:*}
    r_size=${r_row#*:}
    r_size=${r_size%%:*}
    r_base=$tmp/$r_tool.$r_label.$r_conns-$r_size.$r_n
    run_ok=0 run_nudges=0 run_rc=- run_dumped=0
    attempt=0
    while :; do
        attempt=$((attempt + 1))
        rm -f "$r_base.out" "$r_base.out".*
        : > "$r_base.stdout" # before the background job opens it
        # shellcheck disable=SC2086 # $cmd is a command line
        case $r_tool in
            cg) valgrind --tool=callgrind --vgdb-prefix="$tmp/vgdb" --callgrind-out-file="$r_base.out" \
                $cmd -p 0 -c "$SERVER_CPU" > "$r_base.stdout" 2> "$r_base.stderr" &
                ;;
            st) strace -f -c -o "$r_base.out" $cmd -p 0 -c "$SERVER_CPU" > "$r_base.stdout" 2> "$r_base.stderr" & ;;
        esac
        spid=$!
        line=""
        i=0
        while [ $i -lt 300 ]; do # 30 s to come up (valgrind on a busy machine)
            line=$(sed -n '1{/^listening on .*:[0-9][0-9]*$/p;}' "$r_base.stdout")
            [ -n "$line" ] && break
            alive "$spid" || break
            sleep 0.1
            i=$((i + 1))
        done
        target=$spid # valgrind runs the server in its own process, strace as its child
        if [ "$r_tool" = st ]; then target=$(child_of "$spid"); fi
        [ -n "$line" ] && [ -n "$target" ] && break
        # Not up. Under valgrind an io_uring reactor can block in io_uring_enter before main has
        # printed its line, and then main never runs again (see above): start it once more.
        why="exited"
        alive "$spid" && why="no \"listening on\" line in 30 s"
        for p in $target $spid; do kill -TERM "$p" 2> /dev/null || true; done
        gone_within "$spid" 30 || for p in $target $spid; do kill -KILL "$p" 2> /dev/null || true; done
        rc=0
        wait "$spid" 2> /dev/null || rc=$?
        spid="" target=""
        if [ $attempt -lt 3 ] && [ "$why" != exited ]; then
            note "$r_label under $r_tool: $why (stuck at start), started again"
            continue
        fi
        note "$r_label under $r_tool: did not start: $why, status $rc: $(grep -v '^==' "$r_base.stderr" | head -n 2 | tr '\n' ' ')"
        return 0
    done
    hostport=${line#listening on }
    port=${hostport##*:}
    addr=${hostport%:*}
    r_per_conn=$((r_n / r_conns))
    if timeout 600 "$CLIENT" -a "$addr" -p "$port" -c "$r_conns" -m "$r_per_conn" -s "$r_size" -C "$CLIENT_CPU" -t 60 \
        > "$r_base.client" 2>&1; then
        run_ok=1
        # under valgrind: the counts now, before the stop (vgdb reaches a thread blocked in a
        # system call too); the part after it (shutdown, nudges) goes to the exit file
        case $target in
            *[!0-9]* | "") ;;
            *)
                if [ "$r_tool" = cg ] && timeout 60 callgrind_control --vgdb-prefix="$tmp/vgdb" --dump "$target" \
                    > "$r_base.dump" 2>&1; then
                    i=0
                    while [ $i -lt 50 ] && [ ! -s "$r_base.out.1" ]; do
                        sleep 0.1
                        i=$((i + 1))
                    done
                    [ -s "$r_base.out.1" ] && run_dumped=1
                fi
                ;;
        esac
    else
        note "$r_label under $r_tool, $r_conns x $r_size B x $r_per_conn: $(tr '\n' ' ' < "$r_base.client")"
    fi
    kill -TERM "$target" 2> /dev/null || true
    if ! gone_within "$target" 30; then # 3 s (valgrind writes its file on the way out), then nudge
        while [ "$run_nudges" -lt 5 ] && alive "$target"; do
            run_nudges=$((run_nudges + 1))
            timeout 10 "$CLIENT" -a "$addr" -p "$port" -c 1 -m 1 -s 64 -t 5 > /dev/null 2>&1 || true
            gone_within "$target" 50 || true
        done
    fi
    if alive "$target"; then
        note "$r_label under $r_tool: still running after SIGTERM and $run_nudges nudges: SIGKILL"
        kill -KILL "$target" 2> /dev/null || true
    fi
    gone_within "$spid" 100 || kill -KILL "$spid" 2> /dev/null || true
    run_rc=0
    wait "$spid" || run_rc=$?
    spid="" target=""
    if [ "$run_rc" != 0 ]; then
        note "$r_label under $r_tool: exit status $run_rc: $(grep -v '^==' "$r_base.stderr" | tail -n 2 | tr '\n' ' ')"
    fi
    if grep -q 'unhandled syscall' "$r_base.stderr" 2> /dev/null; then
        note "$r_label under $r_tool: valgrind: $(grep -m 1 -o 'unhandled syscall.*' "$r_base.stderr")"
    fi
    return 0
}

ir_of() { # Ir total of a callgrind file, empty if none
    [ -s "$1" ] && awk '/^(summary|totals):/ { print $2; exit }' "$1"
}

calls_of() { # "syscall calls" lines of an strace -c file
    awk '$1 ~ /^[0-9.]+$/ && $4 ~ /^[0-9]+$/ && $NF != "total" { print $NF, $4 }' "$1"
}

# measure LABEL ROW: both columns for one server and one row, appended to $RES.
measure() {
    label=$1 row=$2
    n=${row##*:}
    conns=${row%%:*}
    size=${row#*:}
    size=${size%%:*}
    n=$((n / conns * conns)) # whole messages per connection
    n2=$((n * 2))
    tag=$conns-$size
    irm="-"
    scm="-"
    top="-"
    if [ $have_valgrind = 1 ]; then
        run cg "$label" "$conns:$size" "$n"
        ok1=$run_ok nudge1=$run_nudges dump1=$run_dumped
        run cg "$label" "$conns:$size" "$n2"
        ok2=$run_ok nudge2=$run_nudges dump2=$run_dumped
        # the dump taken when the client was done; without it the totals at exit (shutdown included)
        sfx=""
        if [ "$dump1$dump2" = 11 ]; then
            sfx=.1
        else
            note "$label, $conns x $size B: no callgrind_control dump ($dump1$dump2), the totals at exit are used"
        fi
        a=$(ir_of "$tmp/cg.$label.$tag.$n.out$sfx" || true)
        b=$(ir_of "$tmp/cg.$label.$tag.$n2.out$sfx" || true)
        if [ "$ok1$ok2" = 11 ] && [ -n "$a" ] && [ -n "$b" ]; then
            irm=$(awk -v a="$a" -v b="$b" -v n="$n" 'BEGIN { printf "%.0f", (b - a) / n }')
            if [ "$nudge1$nudge2" != 00 ]; then
                nudged="$nudged $nudge1+$nudge2"
            fi
        else
            irm="n/a"
        fi
        for k in "$n" "$n2"; do
            f=$tmp/cg.$label.$tag.$k.out$sfx
            if [ -s "$f" ]; then cp "$f" "$KEEP/echo_$label.$tag.$k.out"; fi
        done
    fi
    if [ $have_strace = 1 ]; then
        run st "$label" "$conns:$size" "$n"
        ok1=$run_ok
        run st "$label" "$conns:$size" "$n2"
        ok2=$run_ok
        f1=$tmp/st.$label.$tag.$n.out
        f2=$tmp/st.$label.$tag.$n2.out
        if [ "$ok1$ok2" = 11 ] && [ -s "$f1" ] && [ -s "$f2" ]; then
            calls_of "$f1" > "$tmp/calls1"
            calls_of "$f2" > "$tmp/calls2"
            awk -v n="$n" 'FILENAME == ARGV[1] { a[$1] = $2; next } { d[$1] = $2 - a[$1]; delete a[$1] }
                END { for (s in a) d[s] = -a[s]; t = 0; for (s in d) t += d[s]; t /= n; if (t > -0.005 && t < 0.005) t = 0
                      printf "%.2f\t", t
                      for (s in d) if (d[s] != 0) printf "%s %.2f\n", s, d[s] / n > "/dev/stderr" }' \
                "$tmp/calls1" "$tmp/calls2" > "$tmp/sc" 2> "$tmp/per"
            scm=$(cut -f 1 "$tmp/sc")
            top=$(sort -k 2,2 -g -r "$tmp/per" | head -n 3 | awk '{ printf "%s%s %s", (NR > 1 ? ", " : ""), $1, $2 }')
            [ -n "$top" ] || top="-"
        else
            scm="n/a"
        fi
    fi
    printf '%s\t%s\t%s\t%s\t%s\n' "$label" "$(row_label "$conns" "$size")" "$irm" "$scm" "$top" >> "$RES"
}

row_label() { # conns size
    if [ "$2" -ge 1024 ]; then echo "$1 x $(($2 / 1024)) KiB"; else echo "$1 x $2 B"; fi
}

# Ir per message of each function (2n run minus n run, divided by n): top 10 self and inclusive.
per_function() { # file_n file_2n n title
    if ! command -v callgrind_annotate > /dev/null 2>&1 || [ ! -s "$1" ] || [ ! -s "$2" ]; then return 0; fi
    for incl in no yes; do
        for f in "$1" "$2"; do
            # one line per function: its name (file path and object dropped) and Ir, summed over
            # its source files; the inclusive listing names each function once more without its
            # [object] (about the same count): those lines are left out there
            callgrind_annotate --inclusive=$incl --threshold=100 --auto=no "$f" 2> /dev/null |
                awk -v incl=$incl '/file:function/ { on = 1; next }
                    on && $1 ~ /^[0-9,]+$/ && (incl == "no" || / \[[^]]*\]$/) {
                        ir = $1; gsub(",", "", ir)
                        fn = $0; sub(/ \[[^]]*\]$/, "", fn); sub(/^.*:/, "", fn)
                        s[fn] += ir }
                    END { for (k in s) print k, s[k] }'
            echo "--"
        done > "$tmp/fn"
        if [ $incl = no ]; then what=self; else what=inclusive; fi
        echo "  $4: Ir per message, $what (top 10)"
        awk -v n="$3" '/^--$/ { part++; next } part == 0 { a[$1] = $2; next } { d[$1] = $2 - a[$1] }
            END { for (k in d) if (d[k] / n >= 0.5) printf "%.1f %s\n", d[k] / n, k }' "$tmp/fn" |
            sort -g -r | head -n 10 | awk '{ printf "    %8.1f  %s\n", $1, $2 }'
    done
}

echo "callgrind_echo: user-space Ir and system calls per echoed message, depth 1, server on CPU $SERVER_CPU," \
    "client on CPU $CLIENT_CPU; n and 2n messages per row (n = $N for 64 B, $N16 for 16 KiB)"
[ $have_valgrind = 1 ] || note "valgrind is not installed (Debian: valgrind): no Ir column"
[ $have_strace = 1 ] || note "strace is not installed (Debian: strace): no syscalls column"
for s in $SERVERS; do
    case $s in
        zenith-epoll) cmd="$BUILD/examples/echo_server --backend epoll" ;;
        zenith-io_uring) cmd="$BUILD/examples/echo_server --backend io_uring" ;;
        epoll_echo) cmd="$BUILD/epoll_echo" ;;
        uv_echo) cmd="$BUILD/uv_echo" ;;
        *)
            note "$s: unknown server (zenith-epoll, zenith-io_uring, epoll_echo, uv_echo)"
            continue
            ;;
    esac
    if [ ! -x "${cmd%% *}" ]; then
        note "$s: ${cmd%% *} is not built (make ${cmd%% *}), skipped"
        continue
    fi
    echo "callgrind_echo: $s"
    nudged=""
    for row in $ROWS; do
        measure "$s" "$row"
    done
    if [ -n "$nudged" ]; then
        note "$s: under valgrind it needed nudges to stop (n+2n runs, per row:$nudged); they come after the dump"
    fi
done

echo
awk -F '\t' '
{ if (!($1 in seen)) { seen[$1] = 1; srv[++ns] = $1 }
  if (!($2 in rseen)) { rseen[$2] = 1; rows[++nr] = $2 }
  ir[$1, $2] = $3; sc[$1, $2] = $4; top[$1, $2] = $5; have[$1, $2] = 1 }
function num(x) { return x != "" && x != "-" && x != "n/a" }
function ratio(a, b) { return (num(a) && num(b) && b + 0 > 0) ? sprintf("%.2f", a / b) : "-" }
END {
    printf "%-16s %-13s %9s %12s  %s\n", "server", "row", "Ir/msg", "syscalls/msg", "top 3 system calls per msg"
    for (s = 1; s <= ns; s++)
        for (r = 1; r <= nr; r++) {
            if (!have[srv[s], rows[r]]) continue
            printf "%-16s %-13s %9s %12s  %s\n", r == 1 ? srv[s] : "", rows[r], ir[srv[s], rows[r]], \
                sc[srv[s], rows[r]], top[srv[s], rows[r]]
        }
    if (!("epoll_echo" in seen) || !("zenith-epoll" in seen)) exit
    print ""
    print "zenith-epoll / epoll_echo (<= 1.00: Zenith costs no more)"
    printf "%-13s %9s %12s\n", "row", "Ir", "syscalls"
    for (r = 1; r <= nr; r++)
        printf "%-13s %9s %12s\n", rows[r], ratio(ir["zenith-epoll", rows[r]], ir["epoll_echo", rows[r]]), \
            ratio(sc["zenith-epoll", rows[r]], sc["epoll_echo", rows[r]])
}' "$RES"

if [ $have_valgrind = 1 ]; then
    echo
    echo "per function, zenith-epoll ((Ir(2n) - Ir(n)) / n; functions under 0.5 Ir/msg left out):"
    for row in $ROWS; do
        conns=${row%%:*}
        size=${row#*:}
        size=${size%%:*}
        [ "$size" = 64 ] || continue # the 64 B rows
        n=${row##*:}
        n=$((n / conns * conns))
        per_function "$KEEP/echo_zenith-epoll.$conns-$size.$n.out" "$KEEP/echo_zenith-epoll.$conns-$size.$((n * 2)).out" \
            "$n" "$(row_label "$conns" "$size")"
    done
    echo "files: $KEEP/echo_SERVER.CONNS-SIZE.MSGS.out (callgrind_annotate <file>)"
fi
if [ -s "$NOTES" ]; then
    echo
    sed 's/^/note: /' "$NOTES"
fi
