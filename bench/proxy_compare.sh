#!/bin/sh
# Side-by-side TCP proxy benchmark over loopback: build/loadgen -> proxy -> upstream echo server.
#
#   sh bench/proxy_compare.sh [--quick] [ZENITH_PROXY_BIN]
#   e.g. sh bench/proxy_compare.sh build/examples/proxy
#
# Proxies, one after another, each alone on CPU PROXY_CPU (0):
#   zenith   ZENITH_PROXY_BIN (examples/proxy.c), run as `BIN -l 127.0.0.1:PORT -u 127.0.0.1:UPORT
#            -t 1` under taskset; ready once it prints "listening on ADDR:PORT"; must exit 0 on
#            SIGTERM. Without the argument only the peers run (no ratios).
#   haproxy  HAProxy (Debian haproxy, 2.6): mode tcp, nbthread 1, cpu-map and taskset, foreground
#            (-db), a private config in a temp dir; stopped with SIGUSR1 (its soft stop).
#   nginx    nginx (Debian nginx + libnginx-mod-stream, 1.22) stream module: worker_processes 1,
#            worker_cpu_affinity, daemon off, private prefix/config/pid/error log in a temp dir;
#            its CPU is the master's plus the worker's.
# A peer that is not installed is skipped with one line saying which Debian package is missing;
# nothing is installed here, and the system's haproxy/nginx services are never touched: only
# the processes this script started are signalled, by PID.
# The upstream is build/epoll_echo (one for the whole run), pinned on CLIENT_CPU (1) like
# build/loadgen. Rows: 50 and 1000 connections x 64 B, 50 and 1000 connections x 16 KiB; depth
# 1, 5 s each after a 1.5 s warm-up: msgs/s, p50/p99/p99.9 latency (us, from loadgen), and the
# proxy's CPU (utime+stime from /proc/PID/stat over the whole loadgen run, connects included)
# per echoed message. One table, then Zenith's ratios against the better of HAProxy and nginx
# per row and metric (goals: CPU/msg <= 0.8, p99 <= 1.0).
# --quick: the same rows, 1 s each after a 0.2 s warm-up.
# Environment: PROXY_CPU (0), CLIENT_CPU (1), LOADGEN (build/loadgen), UPSTREAM (build/epoll_echo),
# HAPROXY (haproxy), NGINX (nginx), NGINX_STREAM_MODULE (found under /usr/lib/nginx/modules), CC (cc).
# Exit status: 0 if every proxy that ran started, served every row without loadgen errors and
# exited 0 when stopped; 1 otherwise; 2 on a usage or setup error. Missing goals do not fail.
set -u

usage() {
    echo "usage: sh bench/proxy_compare.sh [--quick] [ZENITH_PROXY_BIN]" >&2
    exit 2
}

ROOT=$(cd "$(dirname "$0")/.." && pwd)
LOADGEN=${LOADGEN:-$ROOT/build/loadgen}
UPSTREAM=${UPSTREAM:-$ROOT/build/epoll_echo}
PROXY_CPU=${PROXY_CPU:-0}
CLIENT_CPU=${CLIENT_CPU:-1}
quick=0
while [ $# -gt 0 ]; do
    case $1 in
        --quick) quick=1 ;;
        -h | --help) usage ;;
        --) shift; break ;;
        -*) echo "proxy_compare: unknown option $1" >&2; usage ;;
        *) break ;;
    esac
    shift
done
[ $# -le 1 ] || usage
ZENITH=${1:-}

if [ "$quick" = 1 ]; then
    SECS=1
    WARM=0.2
else
    SECS=5
    WARM=1.5 # past the 1 s SYN retransmit of a proxy-to-upstream connect, should one be dropped
fi
ROWS="50:64 1000:64 50:16384 1000:16384"

# Build the load generator and the upstream when missing or older than their sources.
for pair in "$LOADGEN:loadgen" "$UPSTREAM:epoll_echo"; do
    bin=${pair%:*}
    src=$ROOT/bench/${pair##*:}.c
    if [ ! -x "$bin" ] || [ -n "$(find "$src" -newer "$bin" 2> /dev/null)" ]; then
        mkdir -p "$(dirname "$bin")"
        echo "proxy_compare: building $bin"
        ${CC:-cc} -O2 -std=gnu11 -Wall -Wextra -Wpedantic -Werror "$src" -o "$bin" -pthread || exit 2
    fi
done

# 1000 connections through a proxy: 2000+ descriptors in it. Children inherit the raised limit.
# shellcheck disable=SC3045 # ulimit -n/-H: not POSIX, but in dash, bash, busybox and ksh
ulimit -n 65536 2> /dev/null || ulimit -n "$(ulimit -Hn)" 2> /dev/null
# shellcheck disable=SC3045
NOFILE=$(ulimit -n)
[ "$NOFILE" = unlimited ] && NOFILE=65536
if [ "$NOFILE" -lt 4200 ]; then
    echo "proxy_compare: warning: ulimit -n is $NOFILE, the 1000-connection rows may fail"
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/proxy_compare.XXXXXX") || exit 2
chmod 755 "$tmp" # nginx's worker runs as nobody: it must reach its error log's directory
ppid_=""  # the proxy (haproxy, zenith, or nginx's master)
pkids=""  # nginx's workers
upid=""   # the upstream
lpid=""
# shellcheck disable=SC2317 # called by the trap
cleanup() { # only the processes this script started, by PID
    if [ -n "$lpid" ] && alive "$lpid"; then kill "$lpid" 2> /dev/null; fi
    if [ -n "$ppid_" ] && alive "$ppid_"; then kill "$ppid_" 2> /dev/null; fi
    for k in $pkids; do alive "$k" && kill "$k" 2> /dev/null; done
    if [ -n "$upid" ] && alive "$upid"; then kill "$upid" 2> /dev/null; fi
    rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
RES=$tmp/results # proxy_index <TAB> row <TAB> msgs/s p50 p99 p999 cpu_us errors
PRX=$tmp/proxies # proxy_index <TAB> name <TAB> status
NOTES=$tmp/notes
: > "$RES"
: > "$PRX"
: > "$NOTES"
TCK=$(getconf CLK_TCK)
status=0

note() {
    echo "$*" >> "$NOTES"
    echo "proxy_compare: $*"
}

# Process state letter, or nothing once it is gone (a zombie counts as gone).
proc_state() {
    awk '{ sub(/.*\) /, ""); print $1 }' "/proc/$1/stat" 2> /dev/null
}

alive() {
    st=$(proc_state "$1")
    [ -n "$st" ] && [ "$st" != Z ]
}

cpu_ticks() { # utime + stime, all threads, summed over the PIDs given
    sum=0
    for p in "$@"; do
        t=$(awk '{ sub(/.*\) /, ""); print $12 + $13 }' "/proc/$p/stat" 2> /dev/null)
        sum=$((sum + ${t:-0}))
    done
    echo "$sum"
}

children() { # PIDs whose parent is $1
    for f in /proc/[0-9]*/stat; do
        { read -r sline < "$f"; } 2> /dev/null || continue
        rest=${sline##*) }
        # shellcheck disable=SC2086 # split the stat fields on purpose
        set -- $rest
        [ "${2:-}" = "$pid_of_parent" ] || continue
        f=${f#/proc/}
        echo "${f%/stat}"
    done
}

listening() { # is something listening on 127.0.0.1:$1 (or any address)?
    hex=$(printf '%04X' "$1")
    awk -v p=":$hex" '$4 == "0A" && substr($2, length($2) - 4) == p { found = 1 } END { exit !found }' \
        /proc/net/tcp /proc/net/tcp6 2> /dev/null
}

port_used() { # any socket, in any state, on local port $1
    hex=$(printf '%04X' "$1")
    awk -v p=":$hex" 'substr($2, length($2) - 4) == p { found = 1 } END { exit !found }' \
        /proc/net/tcp /proc/net/tcp6 2> /dev/null
}

# A free port below the ephemeral range (no connect can take it meanwhile), from a per-run base.
next_port=$((20000 + $$ % 9000))
free_port() {
    while port_used "$next_port"; do next_port=$((next_port + 1)); done
    echo "$next_port"
    next_port=$((next_port + 1))
}

jget() { # jget KEY FILE: a number from loadgen's JSON line
    sed -n "s/.*\"$1\":\([^,}]*\).*/\1/p" "$2"
}

row_label() {
    c=${1%%:*}
    s=${1#*:}
    if [ "$s" -ge 1024 ]; then echo "$c x $((s / 1024)) KiB"; else echo "$c x $s B"; fi
}

find_tool() { # a command in PATH or in the sbin directories root's PATH has
    command -v "$1" 2> /dev/null && return 0
    for d in /usr/sbin /sbin /usr/local/sbin; do
        [ -x "$d/$1" ] && { echo "$d/$1"; return 0; }
    done
    return 1
}

# ---- the upstream echo server ----------------------------------------------------------------
"$UPSTREAM" -p 0 -c "$CLIENT_CPU" > "$tmp/upstream.out" 2> "$tmp/upstream.err" &
upid=$!
uline=""
i=0
while [ $i -lt 50 ]; do
    uline=$(sed -n '1{/^listening on .*:[0-9][0-9]*$/p;}' "$tmp/upstream.out")
    [ -n "$uline" ] && break
    alive "$upid" || break
    sleep 0.1
    i=$((i + 1))
done
if [ -z "$uline" ]; then
    echo "proxy_compare: upstream $UPSTREAM failed to start: $(head -c 300 "$tmp/upstream.err")" >&2
    exit 2
fi
UPORT=${uline##*:}
UADDR=127.0.0.1

# ---- the proxies: which ones, and how each starts ----------------------------------------------
PROXIES=""
if [ -n "$ZENITH" ]; then
    PROXIES="zenith"
else
    note "no Zenith proxy given (sh bench/proxy_compare.sh [--quick] build/examples/proxy): peers only"
fi
HAPROXY_BIN=$(find_tool "${HAPROXY:-haproxy}") || HAPROXY_BIN=""
if [ -n "$HAPROXY_BIN" ]; then
    PROXIES="$PROXIES haproxy"
else
    note "haproxy: not installed (Debian: haproxy), skipped"
fi
NGINX_BIN=$(find_tool "${NGINX:-nginx}") || NGINX_BIN=""
NGINX_LOAD=""
if [ -z "$NGINX_BIN" ]; then
    note "nginx: not installed (Debian: nginx libnginx-mod-stream), skipped"
elif "$NGINX_BIN" -V 2>&1 | tr ' ' '\n' | grep -qx -- '--with-stream'; then
    PROXIES="$PROXIES nginx" # stream built in
else
    mod=${NGINX_STREAM_MODULE:-}
    if [ -z "$mod" ]; then
        for d in /usr/lib/nginx/modules /usr/share/nginx/modules /usr/lib64/nginx/modules /usr/local/nginx/modules; do
            [ -f "$d/ngx_stream_module.so" ] && { mod=$d/ngx_stream_module.so; break; }
        done
    fi
    if [ -n "$mod" ] && [ -f "$mod" ]; then
        NGINX_LOAD="load_module $mod;"
        PROXIES="$PROXIES nginx"
    else
        note "nginx: no stream module (Debian: libnginx-mod-stream), skipped"
    fi
fi

cpu_mask() { # nginx's worker_cpu_affinity bit mask for CPU $1
    m=1
    n=0
    while [ $n -lt "$1" ]; do m="${m}0"; n=$((n + 1)); done
    echo "$m"
}

# start_proxy NAME PORT: starts it in the background; sets ppid_, the readiness line in $tmp/ready
start_proxy() {
    out=$tmp/$1.out
    err=$tmp/$1.err
    case $1 in
        zenith)
            taskset -c "$PROXY_CPU" "$ZENITH" -l "127.0.0.1:$2" -u "$UADDR:$UPORT" -t 1 > "$out" 2> "$err" &
            ppid_=$!
            ;;
        haproxy)
            cat > "$tmp/haproxy.cfg" << EOF
global
    nbthread 1
    cpu-map 1/1 $PROXY_CPU
    maxconn 4096
defaults
    mode tcp
    timeout connect 5s
    timeout client 60s
    timeout server 60s
    maxconn 4096
frontend fe
    bind 127.0.0.1:$2
    default_backend be
backend be
    server echo $UADDR:$UPORT
EOF
            taskset -c "$PROXY_CPU" "$HAPROXY_BIN" -db -f "$tmp/haproxy.cfg" > "$out" 2> "$err" &
            ppid_=$!
            ;;
        nginx)
            mkdir -p "$tmp/nginx"
            cat > "$tmp/nginx.conf" << EOF
$NGINX_LOAD
daemon off;
master_process on;
worker_processes 1;
worker_cpu_affinity $(cpu_mask "$PROXY_CPU");
worker_rlimit_nofile $NOFILE;
pid $tmp/nginx/nginx.pid;
error_log $tmp/nginx/error.log warn;
events {
    worker_connections 4096;
}
stream {
    upstream echo {
        server $UADDR:$UPORT;
    }
    server {
        listen 127.0.0.1:$2 backlog=4096;
        proxy_pass echo;
        proxy_connect_timeout 5s;
        proxy_timeout 60s;
    }
}
EOF
            taskset -c "$PROXY_CPU" "$NGINX_BIN" -p "$tmp/nginx/" -e "$tmp/nginx/error.log" -c "$tmp/nginx.conf" \
                > "$out" 2> "$err" &
            ppid_=$!
            ;;
    esac
}

# wait_ready NAME PORT: 0 once it serves (Zenith: its "listening on" line; the peers: the port
# listens, and nginx has its worker), else 1. Sets pkids: nginx's workers (the proxy's children,
# whose CPU counts as the proxy's).
wait_ready() {
    i=0
    while [ $i -lt 50 ]; do # 5 s to come up
        alive "$ppid_" || return 1
        case $1 in
            zenith)
                line=$(sed -n '1{/^listening on .*:[0-9][0-9]*$/p;}' "$tmp/zenith.out")
                if [ -n "$line" ]; then
                    pid_of_parent=$ppid_ # none expected; a wrapper's children count as the proxy
                    pkids=$(children | tr '\n' ' ')
                    return 0
                fi
                ;;
            haproxy) listening "$2" && return 0 ;;
            nginx)
                if listening "$2"; then
                    pid_of_parent=$ppid_
                    pkids=$(children | tr '\n' ' ')
                    [ -n "$pkids" ] && return 0
                fi
                ;;
        esac
        sleep 0.1
        i=$((i + 1))
    done
    return 1
}

idx=0
for name in $PROXIES; do
    idx=$((idx + 1))
    echo "proxy_compare: [$idx] $name"
    if [ "$name" = zenith ] && [ ! -x "$ZENITH" ]; then
        note "zenith: $ZENITH is not an executable file, skipped"
        printf '%s\t%s\t%s\n' "$idx" "$name" "not executable" >> "$PRX"
        status=1
        continue
    fi
    port=$(free_port)
    pkids=""
    start_proxy "$name" "$port"
    if ! wait_ready "$name" "$port"; then
        alive "$ppid_" && kill "$ppid_" 2> /dev/null
        for k in $pkids; do alive "$k" && kill "$k" 2> /dev/null; done
        wait "$ppid_"
        rc=$?
        ppid_=""
        pkids=""
        msg=$(cat "$tmp/$name.err" "$tmp/nginx/error.log" 2> /dev/null | grep -v '^\[NOTICE\]' | head -n 2 |
            tr '\n' ' ' | head -c 300)
        note "$name: failed to start (exit $rc): $msg"
        printf '%s\t%s\t%s\n' "$idx" "$name" "failed to start" >> "$PRX"
        status=1
        continue
    fi
    if [ "$name" = zenith ]; then # the address it says it listens on
        hostport=${line#listening on }
        paddr=${hostport%:*}
        paddr=${paddr#[}
        paddr=${paddr%]}
        port=${hostport##*:}
    else
        paddr=127.0.0.1
    fi

    for row in $ROWS; do
        label=$(row_label "$row")
        dead=""
        for k in $ppid_ $pkids; do alive "$k" || dead="$dead $k"; done
        if [ -n "$dead" ] || ! alive "$upid"; then
            note "$name: proxy process(es)${dead:- (upstream)} gone before row $label"
            status=1
            break
        fi
        # shellcheck disable=SC2086 # the PID list
        t0=$(cpu_ticks $ppid_ $pkids)
        "$LOADGEN" -a "$paddr" -p "$port" -c "${row%%:*}" -s "${row#*:}" -d 1 -T "$SECS" -w "$WARM" \
            -C "$CLIENT_CPU" -j > "$tmp/row.json" 2> "$tmp/row.err"
        lrc=$?
        # shellcheck disable=SC2086
        t1=$(cpu_ticks $ppid_ $pkids)
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

    sig=TERM
    [ "$name" = haproxy ] && sig=USR1 # its soft stop (exit 0); SIGTERM kills it (exit 143)
    kill -$sig "$ppid_" 2> /dev/null
    i=0
    while [ $i -lt 50 ] && alive "$ppid_"; do
        sleep 0.1
        i=$((i + 1))
    done
    if alive "$ppid_"; then
        kill -KILL "$ppid_" 2> /dev/null
        { wait "$ppid_"; } 2> /dev/null
        shut="KILLED: still running 5 s after SIG$sig"
        status=1
    else
        wait "$ppid_"
        rc=$?
        shut="exit $rc after SIG$sig ($((i * 100)) ms)"
        [ "$rc" = 0 ] || status=1
    fi
    for k in $pkids; do # nginx's master stops its workers; any child left over is ours to end
        if alive "$k"; then
            kill -KILL "$k" 2> /dev/null
            shut="$shut; worker $k outlived the master (killed)"
            status=1
        fi
    done
    ppid_=""
    pkids=""
    last=$(tail -n 1 "$tmp/$name.out" 2> /dev/null)
    note "$name: $shut${last:+; $last}"
    printf '%s\t%s\t%s\n' "$idx" "$name" "ok" >> "$PRX"
done

kill -TERM "$upid" 2> /dev/null
wait "$upid"
urc=$?
upid=""
[ "$urc" = 0 ] || note "upstream $(basename "$UPSTREAM"): exit $urc after SIGTERM"

echo
echo "proxy_compare: loadgen -> proxy (CPU $PROXY_CPU) -> $(basename "$UPSTREAM") (CPU $CLIENT_CPU), loadgen on CPU" \
    "$CLIENT_CPU, loopback, depth 1, $SECS s per row after $WARM s warm-up"
awk -F '\t' '
FILENAME == ARGV[1] { name[$1] = $2; st[$1] = $3; n = $1 > n ? $1 : n; next }
{
    if (!($2 in seen)) { seen[$2] = 1; rows[++nr] = $2 }
    split($3, v, " ")
    for (k = 1; k <= 6; k++) r[$1, $2, k] = v[k]
    have[$1, $2] = 1
}
function num(x) { return x != "" && x != "-" }
function ratio(a, b) { return (num(a) && num(b) && b + 0 > 0) ? sprintf("%.2f", a / b) : "-" }
END {
    printf "%-14s %-9s %10s %9s %9s %9s %11s %7s\n", "row", "proxy", "msgs/s", "p50 us", "p99 us", "p99.9 us", "CPU us/msg", "errors"
    if (nr == 0) for (s = 1; s <= n; s++) printf "%-14s %-9s %s\n", "", name[s], st[s]
    for (i = 1; i <= nr; i++)
        for (s = 1; s <= n; s++) {
            lab = s == 1 ? rows[i] : ""
            if (st[s] != "ok" && !have[s, rows[i]]) { printf "%-14s %-9s %s\n", lab, name[s], st[s]; continue }
            if (!have[s, rows[i]]) { printf "%-14s %-9s %s\n", lab, name[s], "(not run)"; continue }
            printf "%-14s %-9s %10s %9s %9s %9s %11s %7s\n", lab, name[s], \
                num(r[s, rows[i], 1]) ? sprintf("%.0f", r[s, rows[i], 1]) : "-", \
                r[s, rows[i], 2], r[s, rows[i], 3], r[s, rows[i], 4], r[s, rows[i], 5], r[s, rows[i], 6]
        }
    z = 0
    for (s = 1; s <= n; s++) if (name[s] == "zenith") z = s
    if (!z || n < 2) exit
    print ""
    print "zenith vs the better of haproxy and nginx, per row and metric (msgs/s: >1 is faster; p50, p99, CPU/msg: <1 is better)"
    printf "%-14s %17s %17s %17s %17s %s\n", "row", "msgs/s", "p50", "p99 (goal<=1.0)", "CPU/msg (<=0.8)", "verdict"
    for (i = 1; i <= nr; i++) {
        # best peer per metric: k = 1 msgs/s (highest), 2 p50, 3 p99, 5 CPU/msg (lowest)
        split("1 2 3 5", ks, " ")
        line = sprintf("%-14s", rows[i])
        verdict = ""
        for (j = 1; j <= 4; j++) {
            k = ks[j]; best = ""; bn = ""
            for (s = 1; s <= n; s++) {
                if (s == z || !have[s, rows[i]] || !num(r[s, rows[i], k])) continue
                if (r[s, rows[i], 6] + 0 > 0) continue # a peer with errors is no reference
                x = r[s, rows[i], k] + 0
                if (best == "" || (k == 1 ? x > best : x < best)) { best = x; bn = name[s] }
            }
            q = ratio(r[z, rows[i], k], best)
            line = line sprintf(" %17s", q == "-" ? "-" : q " " bn)
            if (k == 3 && q != "-") verdict = verdict (q + 0 <= 1.0 ? "p99 ok" : "p99 MISS")
            if (k == 5 && q != "-") verdict = verdict (q + 0 <= 0.8 ? ", CPU ok" : ", CPU MISS")
        }
        if (have[z, rows[i]] && r[z, rows[i], 6] + 0 > 0) verdict = "zenith had errors"
        print line " " (verdict == "" ? "-" : verdict)
    }
}' "$PRX" "$RES"
if [ -s "$NOTES" ]; then
    echo
    sed 's/^/note: /' "$NOTES"
fi
exit $status
