#!/bin/sh
# Side-by-side UDP benchmark over loopback: receivers, then senders (issue 11).
#
#   sh bench/udp_compare.sh [BUILD]        (BUILD: the build directory, else $BUILD, else build)
#
# Builds nothing: it runs BUILD/udp_sink (bench/udp_sink.c), BUILD/udp_blast (bench/udp_blast.c)
# and, when present, BUILD/uv_udp (bench/uv_udp.c). Every receiver binds 127.0.0.1 port 0 (the
# kernel picks a free one) and runs alone on RX_CPU (0), the sender on TX_CPU (1), both pinned
# with taskset. ROUNDS (3) rounds, each running every row once, the receivers in reverse order
# every other round; the tables give the median of the rounds, and each ratio is the median of
# the ratios within each round (so every ratio compares runs minutes apart at most).
#
# 1. Receive. For each load, each size (64 B, 1,200 B) and each receiver in turn -- the plain
#    recvmmsg loop (batches of 64), Zenith on io_uring, Zenith on epoll, libuv, and (max load
#    only) "uring": a multishot RECVMSG on a provided-buffer ring written straight on liburing,
#    what Zenith's io_uring backend does without Zenith -- the sender sends sequenced datagrams
#    for SECS + 0.3 s. Loads:
#      max     udp_blast -m gso: UDP_SEGMENT sends of 64 datagrams (54 at 1,200 B), as fast as
#              one CPU goes (~1 M/s here): about what a receiver takes at full batches, so each
#              runs near or at saturation and the kernel drops what it cannot take;
#      paced   udp_blast -m sendmmsg -R PACED_RATE (200,000/s): batches of 64 at a fixed rate
#              that every receiver keeps up with; there the cost of waking up is in the figure.
#    The receiver measures SECS s from its first datagram: datagrams/s, CPU ns per datagram
#    (utime+stime of the receiving process), busy (CPU / wall), loop turns per datagram (system
#    calls for the recvmmsg loop, run_once returns for Zenith, uv_run turns for libuv). Then it
#    receives until the sender has exited (SIGUSR1) and nothing came for 0.2 s; the loss check:
#      sent == received + kernel drops (SO_MEMINFO) and gaps + tail == kernel drops
#    (tail: the last datagrams sent, none of which arrived): "ok" = no datagram lost that the
#    kernel did not report, in every round. Every receiver has the same SO_RCVBUF (RCVBUF,
#    default 4 MiB; the kernel doubles it), read back from `ss -m` (rb) for each row. Zenith:
#    buffer_size 2048, buffer_count 8192, recv_buffers 4096, timestamps on (its default); the
#    plain loop uses 64 buffers of 2048 bytes, uring 4096 of 2048 bytes; libuv 20 slices of
#    64 KiB (its recvmmsg width).
# 2. Send. For each size, the sender alone, sending to udp_sink -m none (a socket nobody reads:
#    the kernel drops what does not fit, after the whole receive path, which on loopback runs on
#    the sending CPU -- the same per datagram for every sender, and no wake-ups) for SEND_SECS s:
#    plain sendmmsg (batches of 64); raw UDP GSO, one send(2) of 64 segments (54 at 1,200 B: the
#    64 KiB limit) per call, and 8 such messages per sendmmsg(2); Zenith's zenith_udp_send_gso
#    (same segments, 8 sends queued per loop turn) and zenith_udp_send (single datagrams, 64 per
#    loop turn), each on io_uring and on epoll. Datagrams/s and the sender's CPU ns per datagram.
# Ratios: Zenith's receive CPU per datagram / the recvmmsg loop's (goal: <= 0.8 on io_uring,
# <= 1.0 on epoll), send rate and CPU per datagram / plain sendmmsg's.
#
# Environment: RX_CPU (0), TX_CPU (1), ROUNDS (3), SECS (1), SEND_SECS (0.8), RCVBUF (4194304),
# PACED_RATE (200000), LOADS ("max paced"), SIZES ("64 1200"). About 2.7 minutes. Only
# processes this script started are stopped, by PID. Exit status: 0 if every row ran and every
# loss check passed.
set -u

BUILD=${1:-${BUILD:-build}}
RX_CPU=${RX_CPU:-0}
TX_CPU=${TX_CPU:-1}
ROUNDS=${ROUNDS:-3}
SECS=${SECS:-1}
SEND_SECS=${SEND_SECS:-0.8}
RCVBUF=${RCVBUF:-4194304}
LOADS=${LOADS:-max paced}
PACED_RATE=${PACED_RATE:-200000}
SIZES=${SIZES:-64 1200}
SINK=$BUILD/udp_sink
BLAST=$BUILD/udp_blast
UV=$BUILD/uv_udp

for b in "$SINK" "$BLAST"; do
    if [ ! -x "$b" ]; then
        echo "udp_compare: $b is missing (build it first: see bench/udp_sink.c and bench/udp_blast.c)" >&2
        exit 2
    fi
done
RECEIVERS="recvmmsg uring zenith-io_uring zenith-epoll"
[ -x "$UV" ] && RECEIVERS="$RECEIVERS libuv"
REVERSED=$(echo "$RECEIVERS" | awk '{ for (i = NF; i > 0; i--) printf "%s%s", $i, (i > 1 ? " " : "") }')
TXMODES="sendmmsg gso gso-mmsg zenith-gso:io_uring zenith-gso:epoll zenith-send:io_uring zenith-send:epoll"

TX_SECS=$(awk -v s="$SECS" 'BEGIN { printf "%.2f", s + 0.3 }')
MAX_SECS=$(awk -v s="$SECS" 'BEGIN { printf "%d", s + 10 }')

tmp=$(mktemp -d "${TMPDIR:-/tmp}/udp_compare.XXXXXX") || exit 2
rpid=""
# shellcheck disable=SC2317 # called by the trap
cleanup() { # only the process this script started, by PID
    if [ -n "$rpid" ] && alive "$rpid"; then kill "$rpid" 2> /dev/null; fi
    rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
RX=$tmp/rx # round load size receiver <TAB> fields
TX=$tmp/tx # round size sender <TAB> fields
NOTES=$tmp/notes
: > "$RX"
: > "$TX"
: > "$NOTES"
status=0

note() {
    echo "$*" >> "$NOTES"
    echo "udp_compare: $*" >&2
}

# Process state letter, or nothing once it is gone (a zombie counts as gone).
alive() {
    st=$(awk '{ sub(/.*\) /, ""); print $1 }' "/proc/$1/stat" 2> /dev/null)
    [ -n "$st" ] && [ "$st" != Z ]
}

jget() { # jget KEY FILE: a value from a JSON line (numbers and simple strings)
    sed -n "s/.*\"$1\":\"*\([^,}\"]*\).*/\1/p" "$2" | head -n 1
}

# start_rx OUT ARGS...: a receiver on RX_CPU in the background (rpid), its port in rport.
start_rx() {
    sr_out=$1
    shift
    : > "$sr_out"
    taskset -c "$RX_CPU" "$@" -T "$SECS" -M "$MAX_SECS" -r "$RCVBUF" -q 200 -S -j > "$sr_out" 2> "$sr_out.err" &
    rpid=$!
    rport=""
    i=0
    while [ $i -lt 100 ]; do
        rport=$(sed -n '1s/^listening on .*:\([0-9][0-9]*\)$/\1/p' "$sr_out")
        [ -n "$rport" ] && break
        alive "$rpid" || break
        sleep 0.05
        i=$((i + 1))
    done
    [ -n "$rport" ]
}

# wait_rx: tells the receiver that the sender has exited (SIGUSR1: it stops once nothing came for
# 0.2 s) and waits for it to stop, at most MAX_SECS + 3 s, then kills it. Returns its exit status.
wait_rx() {
    alive "$rpid" && kill -USR1 "$rpid" 2> /dev/null
    i=0
    while [ $i -lt $(((MAX_SECS + 3) * 20)) ] && alive "$rpid"; do
        sleep 0.05
        i=$((i + 1))
    done
    if alive "$rpid"; then
        kill "$rpid" 2> /dev/null
        note "a receiver (pid $rpid) did not stop by itself: killed"
    fi
    wait "$rpid"
    wr=$?
    rpid=""
    return $wr
}

rcvbuf_of() { # the rb of the socket bound to port $1, from ss -m
    ss -uamnH "sport = :$1" 2> /dev/null | sed -n 's/.*rb\([0-9][0-9]*\).*/\1/p' | head -n 1
}

# rx_row ROUND LOAD SIZE RECEIVER: one receive row, appended to $RX.
rx_row() {
    round=$1 load=$2 size=$3 rx=$4
    out=$tmp/rx.$round.$load.$size.$rx
    case $load in
        max) sargs="-m gso" ;;
        *) sargs="-m sendmmsg -R $PACED_RATE" ;;
    esac
    case $rx in
        recvmmsg) set -- "$SINK" -m recvmmsg ;;
        uring) set -- "$SINK" -m uring ;;
        zenith-io_uring) set -- "$SINK" -m zenith --backend io_uring ;;
        zenith-epoll) set -- "$SINK" -m zenith --backend epoll ;;
        libuv) set -- "$UV" ;;
    esac
    echo "udp_compare: round $round: receive, $load load, $size B, $rx" >&2
    if ! start_rx "$out" "$@"; then
        wait_rx
        note "round $round: $rx ($load, $size B): failed to start: $(head -c 300 "$out.err" | tr '\n' ' ')"
        printf '%s\t%s\t%s\t%s\t-\n' "$round" "$load" "$size" "$rx" >> "$RX"
        status=1
        return
    fi
    rb=$(rcvbuf_of "$rport")
    # shellcheck disable=SC2086 # sargs: words
    taskset -c "$TX_CPU" "$BLAST" $sargs -p "$rport" -s "$size" -T "$TX_SECS" -j > "$out.tx" 2> "$out.tx.err"
    trc=$?
    [ "$trc" != 0 ] && kill "$rpid" 2> /dev/null # nothing more will come
    wait_rx
    rrc=$?
    if [ "$trc" != 0 ] || [ "$rrc" != 0 ]; then
        note "round $round: $rx ($load, $size B): sender exit $trc, receiver exit $rrc:" \
            "$(cat "$out.tx.err" "$out.err" | head -c 300 | tr '\n' ' ')"
        status=1
    fi
    sed -n '2p' "$out" > "$out.json"
    f=$out.json
    sent=$(jget sent "$out.tx")
    if [ -z "$sent" ] || [ ! -s "$f" ]; then
        printf '%s\t%s\t%s\t%s\t-\n' "$round" "$load" "$size" "$rx" >> "$RX"
        status=1
        return
    fi
    printf '%s\t%s\t%s\t%s\t%s %s %s %s %s %s %s %s %s %s %s %s %s %s %s %s\n' "$round" "$load" "$size" "$rx" \
        "$(jget dgrams_per_s "$f")" "$(jget cpu_ns_per_dgram "$f")" "$(jget busy "$f")" \
        "$(jget turns_per_dgram "$f")" "$sent" "$(jget received "$f")" "$(jget kernel_drops "$f")" \
        "$(jget gaps "$f")" "$(jget next_seq "$f")" "$(jget late "$f")" "$(jget short "$f")" \
        "$(jget truncated "$f")" "$(jget stalls "$f")" "${rb:--}" "$(jget window_cut "$f")" \
        "$(jget dgrams_per_s "$out.tx")" >> "$RX"
}

# tx_row ROUND SIZE MODE[:BACKEND]: one send row, appended to $TX.
tx_row() {
    round=$1 size=$2 m=$3
    mode=${m%%:*}
    be=""
    [ "$mode" != "$m" ] && be=${m#*:}
    name=$mode
    [ -n "$be" ] && name="$mode $be"
    out=$tmp/tx.$round.$size.$mode.$be
    echo "udp_compare: round $round: send, $size B, $name" >&2
    if ! start_rx "$out" "$SINK" -m none; then
        wait_rx
        note "round $round: send $name ($size B): the sink failed to start"
        printf '%s\t%s\t%s\t-\n' "$round" "$size" "$name" >> "$TX"
        status=1
        return
    fi
    set -- -m "$mode" -p "$rport" -s "$size" -T "$SEND_SECS" -j
    [ -n "$be" ] && set -- "$@" --backend "$be"
    taskset -c "$TX_CPU" "$BLAST" "$@" > "$out.tx" 2> "$out.tx.err"
    trc=$?
    [ "$trc" != 0 ] && kill "$rpid" 2> /dev/null
    wait_rx
    if [ "$trc" != 0 ]; then
        note "round $round: send $name ($size B): sender exit $trc: $(head -c 300 "$out.tx.err" | tr '\n' ' ')"
        status=1
    elif [ -s "$out.tx.err" ]; then
        note "round $round: send $name ($size B): $(head -c 300 "$out.tx.err" | tr '\n' ' ')"
    fi
    sed -n '2p' "$out" > "$out.json"
    sent=$(jget sent "$out.tx")
    if [ -z "$sent" ]; then
        printf '%s\t%s\t%s\t-\n' "$round" "$size" "$name" >> "$TX"
        status=1
        return
    fi
    printf '%s\t%s\t%s\t%s %s %s %s %s %s\n' "$round" "$size" "$name" "$(jget dgrams_per_s "$out.tx")" \
        "$(jget cpu_ns_per_dgram "$out.tx")" "$(jget segs "$out.tx")" "$sent" \
        "$(jget kernel_drops "$out.json")" "$(jget errors "$out.tx")" >> "$TX"
}

[ -x "$UV" ] || note "$UV missing: no libuv row (Debian libuv1-dev, then build bench/uv_udp.c)"
t_start=$(date +%s)
round=1
while [ "$round" -le "$ROUNDS" ]; do
    order=$RECEIVERS
    [ $((round % 2)) = 0 ] && order=$REVERSED
    for load in $LOADS; do
        case $load in
            max | paced) ;;
            *)
                echo "udp_compare: LOADS: max and/or paced" >&2
                exit 2
                ;;
        esac
        for size in $SIZES; do
            for rx in $order; do
                [ "$rx" = uring ] && [ "$load" != max ] && continue # the diagnostic row: max load only
                rx_row "$round" "$load" "$size" "$rx"
            done
        done
    done
    for size in $SIZES; do
        for m in $TXMODES; do tx_row "$round" "$size" "$m"; done
    done
    round=$((round + 1))
done

# ---- the tables -----------------------------------------------------------------------------------
echo
echo "udp_compare: loopback, receiver on CPU $RX_CPU, sender on CPU $TX_CPU, $ROUNDS rounds in $(($(date +%s) - t_start)) s;" \
    "receive window $SECS s from the first datagram; SO_RCVBUF $RCVBUF for every receiver (rb: what the kernel" \
    "set); loads: max = GSO sender unpaced, paced = sendmmsg at $PACED_RATE/s. Medians of the rounds."
echo
awk -F '\t' -v rounds="$ROUNDS" '
function num(x) { return x != "" && x != "-" }
function median(list,    a, n, i, j, t) { # of the numbers in a space-separated list
    n = split(list, a, " ")
    if (n == 0) return ""
    for (i = 2; i <= n; i++) { t = a[i] + 0; for (j = i - 1; j >= 1 && a[j] + 0 > t; j--) a[j + 1] = a[j]; a[j + 1] = t }
    return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
}
{
    key = $2 SUBSEP $3
    if (!(key in seen)) { seen[key] = 1; keys[++nk] = key; ld[nk] = $2; sz[nk] = $3 }
    if (!((key, $4) in have)) { have[key, $4] = 1; rxs[key, ++nrx[key]] = $4 }
    if ($5 == "-") { bad[key, $4]++; next }
    split($5, v, " ")
    for (k = 1; k <= 4; k++) col[key, $4, k] = col[key, $4, k] " " v[k]
    col[key, $4, 16] = col[key, $4, 16] " " v[16]
    cpu[$1, key, $4] = v[2]
    sent[key, $4] += v[5]; rcvd[key, $4] += v[6]; kd[key, $4] += v[7]; gt[key, $4] += v[8] + v[5] - v[9]
    stalls[key, $4] += v[13]; rb[key, $4] = v[14]
    if (!(v[6] + v[7] == v[5] && v[8] + v[5] - v[9] == v[7] && v[10] == 0 && v[11] == 0 && v[12] == 0)) lossbad[key, $4]++
    if (v[15] == 1) cut[key, $4]++
}
END {
    printf "%-6s %-6s %-16s %9s %10s %9s %5s %9s  %-22s %10s %10s %9s %9s %6s %7s %s\n", "load", "size", "receiver", \
        "sent/s", "rcvd/s", "CPU ns/dg", "busy", "turns/dg", "(CPU ns/dg each round)", "sent", "received", "k.drops", \
        "gaps+tail", "stalls", "rb", "loss check"
    failed = 0
    for (i = 1; i <= nk; i++) {
        key = keys[i]
        for (j = 1; j <= nrx[key]; j++) {
            x = rxs[key, j]
            lab1 = j == 1 ? ld[i] : ""; lab2 = j == 1 ? sz[i] " B" : ""
            if (bad[key, x] == rounds) { printf "%-6s %-6s %-16s (failed)\n", lab1, lab2, x; failed = 1; continue }
            chk = lossbad[key, x] ? "FAILED" : "ok"
            if (chk != "ok" || bad[key, x]) failed = 1
            extra = (bad[key, x] ? sprintf(" (%d rounds failed)", bad[key, x]) : "") (cut[key, x] ? sprintf(" (window cut short %dx)", cut[key, x]) : "")
            each = col[key, x, 2]; sub(/^ /, "", each); gsub(/ /, ",", each)
            printf "%-6s %-6s %-16s %9.0f %10.0f %9.1f %5.2f %9.4f  %-22s %10d %10d %9d %9d %6d %7s %s%s\n", lab1, lab2, x, \
                median(col[key, x, 16]), median(col[key, x, 1]), median(col[key, x, 2]), median(col[key, x, 3]), \
                median(col[key, x, 4]), "(" each ")", sent[key, x], rcvd[key, x], kd[key, x], gt[key, x], \
                stalls[key, x], rb[key, x], chk, extra
        }
    }
    print ""
    print "receiver CPU per datagram / the recvmmsg loop'"'"'s in the same round: median (each round)"
    print "goal: zenith io_uring <= 0.80, zenith epoll <= 1.00"
    for (i = 1; i <= nk; i++) {
        key = keys[i]
        line = sprintf("%-6s %-6s", ld[i], sz[i] " B")
        for (j = 1; j <= nrx[key]; j++) {
            x = rxs[key, j]
            if (x == "recvmmsg") continue
            list = ""
            for (r = 1; r <= rounds; r++) {
                b = cpu[r, key, "recvmmsg"]; c = cpu[r, key, x]
                if (num(b) && num(c) && b > 0) list = list " " sprintf("%.2f", c / b)
            }
            m = median(list)
            each = list; sub(/^ /, "", each); gsub(/ /, ",", each)
            verdict = ""
            if (m != "" && x == "zenith-io_uring") verdict = m <= 0.8 ? " met" : " missed"
            if (m != "" && x == "zenith-epoll") verdict = m <= 1.0 ? " met" : " missed"
            line = line sprintf("  %s %s (%s)%s", x, m == "" ? "-" : sprintf("%.2f", m), each, verdict)
        }
        print line
    }
    exit failed
}' "$RX" || status=1

echo
awk -F '\t' -v rounds="$ROUNDS" '
function median(list,    a, n, i, j, t) {
    n = split(list, a, " ")
    if (n == 0) return ""
    for (i = 2; i <= n; i++) { t = a[i] + 0; for (j = i - 1; j >= 1 && a[j] + 0 > t; j--) a[j + 1] = a[j]; a[j + 1] = t }
    return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
}
{
    if (!($2 in seen)) { seen[$2] = 1; sizes[++ns] = $2 }
    if (!(($2, $3) in have)) { have[$2, $3] = 1; names[$2, ++nn[$2]] = $3 }
    if ($4 == "-") { bad[$2, $3]++; next }
    split($4, v, " ")
    rate[$2, $3] = rate[$2, $3] " " v[1]; cpu[$2, $3] = cpu[$2, $3] " " v[2]
    rr[$1, $2, $3] = v[1]; rc[$1, $2, $3] = v[2]
    per[$2, $3] = v[3]; sent[$2, $3] += v[4]; kd[$2, $3] += v[5]; err[$2, $3] += v[6]
}
END {
    printf "%-6s %-20s %11s %10s %8s  %-24s %11s %11s %7s %11s %10s\n", "size", "sender", "dgrams/s", "CPU ns/dg", \
        "dg/call", "(CPU ns/dg each round)", "sent", "k.drops", "errors", "rate ratio", "CPU ratio"
    for (i = 1; i <= ns; i++) {
        s = sizes[i]
        for (j = 1; j <= nn[s]; j++) {
            x = names[s, j]
            lab = j == 1 ? s " B" : ""
            if (bad[s, x] == rounds) { printf "%-6s %-20s (failed)\n", lab, x; continue }
            lr = ""; lc = ""
            for (r = 1; r <= rounds; r++) {
                if (rr[r, s, "sendmmsg"] > 0 && rr[r, s, x] != "") lr = lr " " rr[r, s, x] / rr[r, s, "sendmmsg"]
                if (rc[r, s, "sendmmsg"] > 0 && rc[r, s, x] != "") lc = lc " " rc[r, s, x] / rc[r, s, "sendmmsg"]
            }
            each = cpu[s, x]; sub(/^ /, "", each); gsub(/ /, ",", each)
            printf "%-6s %-20s %11.0f %10.1f %8d  %-24s %11d %11d %7d %11s %10s\n", lab, x, median(rate[s, x]), \
                median(cpu[s, x]), per[s, x], "(" each ")", sent[s, x], kd[s, x], err[s, x], \
                (lr == "" ? "-" : sprintf("%.2f", median(lr))), (lc == "" ? "-" : sprintf("%.2f", median(lc)))
        }
    }
    print "(ratios against plain sendmmsg in the same round, median: rate above 1 is faster, CPU below 1 is cheaper;"
    print " dg/call: datagrams per system call, for Zenith per send call; the sink reads nothing: k.drops = sent less"
    print " what its receive buffer holds)"
}' "$TX"

if [ -s "$NOTES" ]; then
    echo
    sed 's/^/note: /' "$NOTES"
fi
exit $status
