/* feed.c -- a market-data style multicast feed on Zenith: a publisher and a subscriber that
   measures what it got (gaps, duplicates, reordering, payload), what was lost and where, and the
   one-way latency from the kernel's receive timestamps.

   Shows: UDP multicast on the reactor: the sender's options (zenith_udp_multicast_send_opts:
   interface, TTL, loopback), any-source and source-specific joins (zenith_udp_join), sends paced
   from the loop with backpressure (zenith_udp_send, ZENITH_E_FULL, on_writable), the kernel's
   software receive timestamp of each datagram (zenith_udp_datagram.ts_ns), and every counter of
   loss there is: ours (sequence numbers never seen), Zenith's (recv_stalls: receive buffers all
   out) and the kernel's (zenith_udp_info.kernel_drops, and the datagram's own SO_RXQ_OVFL count).

   Needs: Linux 6.0+ (multishot recvmsg, provided-buffer rings; or the epoll backend anywhere),
          liburing >= 2.3.
   Build: cc -O2 examples/feed.c -I. -luring -pthread -o feed
   Run:   ./feed sub -i lo &     then: ./feed pub -i lo -n 10000 -r 50000
          (sub prints "listening on 239.1.2.3:5001" once joined, and stops by itself at the end
          of the feed with one line "summary received=N expected=N lost=N ... max_us=N")
          Between two hosts (or two network namespaces joined by a veth pair): ./feed sub -i IF
          on one, ./feed pub -i IF on the other (--ttl N to cross routers). IPv6 groups work
          between hosts; Linux does not carry IPv6 multicast over lo (use an IPv4 group there).
   Flags (pub and sub):
          -g GROUP (239.1.2.3; an IPv4 224.0.0.0/4 or IPv6 ff00::/8 literal)  -p PORT (5001)
          -i IFNAME (sub: the interface to join on; pub: the interface to send from; without it
          the routing table picks one, and a host with no route for the group refuses: then give
          -i, e.g. -i lo on one host, or add a route: ip route add 224.0.0.0/4 dev IFNAME)
          -n COUNT (pub: datagrams to send, 0 = no limit; sub: stop after COUNT received)
          -d SECONDS (stop after that long; 0 = no limit)
          --backend io_uring|epoll|auto (auto: io_uring where the kernel allows it, else epoll;
          the ZENITH_BACKEND environment variable decides first)  -h, --help
   Flags (pub): -r RATE (datagrams per second, 10000; 0 = as fast as the loop can send)
          -s SIZE (bytes per datagram, 64; from 32, the header, to 1472, one Ethernet frame for
          IPv4; IPv6 fragments above 1452)  --ttl N (0-255; the kernel's default is 1: this
          link)  --no-loop (this host's own sockets do not receive what pub sends; but sent on
          lo, lo itself brings it back)
   Flags (sub): -S SOURCE (source-specific join: only datagrams from SOURCE)  --rcvbuf BYTES
          (SO_RCVBUF, 4 MiB; 0 = the kernel's)  -q (no progress line every second)

   The datagram: a 32-byte header (host byte order, both ends are assumed alike) -- magic "ZFD1",
   flags (1 = END), sequence number (u64, from 1), send timestamp (ns, CLOCK_REALTIME, taken when
   pub queues it), the datagram's length, a session number (random per pub run) -- then SIZE - 32
   bytes of a pattern that depends on the sequence number, checked byte for byte by sub.
   pub ends (after COUNT, SECONDS or SIGINT) by sending 5 END datagrams 20 ms apart whose sequence
   field is the number of datagrams sent: sub then knows exactly what it should have received,
   waits 250 ms at most for stragglers, and stops. sub also stops after -d SECONDS, -n COUNT or
   on SIGINT/SIGTERM. sub locks onto the first session it sees; datagrams of another session,
   and anything that is not a feed datagram, are counted as foreign and otherwise ignored.

   sub's numbers: received (distinct sequence numbers), expected (END's count; before END, the
   highest sequence number seen), lost = expected - received (so start sub before pub: what was
   sent before it joined counts as lost), gaps (jumps forward in the sequence), dup, reordered
   (arrived after a higher sequence number), corrupt (bad length or payload, or truncated),
   kernel_drops (the socket's drop counter, SO_MEMINFO), rxq_ovfl (the highest SO_RXQ_OVFL count a
   datagram carried), stalls (zenith_udp_info.recv_stalls), rate (datagrams per second from the
   first to the last), and the one-way latency, kernel receive timestamp minus send timestamp, in
   microseconds: p50 p90 p99 p99.9 max. It includes the time a datagram waited in pub's send
   queue behind the rest of its burst (pub sends what is due once per loop turn, at least every
   millisecond: at -r 50000, bursts of 50; at -r 0, up to 4096 queued), and across two hosts
   their clock offset. The percentiles come from up to 1,048,576 samples (8 MiB, allocated at
   start): beyond that a uniform random sample of them (reservoir sampling); max is over every
   datagram. sub exits 0, or 1 if it received nothing or saw a corrupt datagram (2: bad
   arguments). pub ends with "summary sent=N datagrams_out=N ... send_errors=N" and exits 0, or 1
   if the kernel refused datagrams (no route, interface down: it says so and stops at once if
   none could be sent). */
#define ZENITH_IMPLEMENTATION
#include "zenith.h"

#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define FEED_MAGIC 0x3144465au /* "ZFD1" in memory on little-endian hosts */
#define FEED_F_END 1u
#define FEED_HDR 32u
#define FEED_MAX 1472u
#define FEED_END_REPEAT 5
#define FEED_END_GAP_MS 20
#define FEED_GRACE_MS 250
#define FEED_SAMPLES (1u << 20) /* latency samples kept (8 MiB) */
#define FEED_WINDOW 65536u      /* sequence numbers remembered for dup/reorder detection */

typedef struct feed_hdr {
    uint32_t magic;
    uint32_t flags;
    uint64_t seq; /* data: from 1; END: the number of data datagrams sent */
    int64_t send_ns;
    uint32_t len; /* the whole datagram, header included */
    uint32_t session;
} feed_hdr;
typedef char feed_hdr_is_32_bytes[sizeof(feed_hdr) == FEED_HDR ? 1 : -1];

/* The payload of datagram seq is pattern[seq % 256 ...]: a datagram's bytes depend on its
   sequence number (167 is odd, so two offsets never give the same bytes). */
static uint8_t pattern[256 + FEED_MAX];

static void pattern_init(void) {
    unsigned i;
    for (i = 0; i < sizeof pattern; i++) pattern[i] = (uint8_t)(i * 167u + 13u + (i >> 8));
}

static int64_t now_ns(clockid_t clock) {
    struct timespec ts;
    clock_gettime(clock, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* ---- options ---------------------------------------------------------------------------------- */

static struct {
    int pub;
    const char *group, *ifname, *source;
    long port, size, ttl, backend;
    uint64_t rate, count, seconds, rcvbuf;
    int loop, quiet;
} opt;

static int group_v6;        /* -g is an IPv6 group */
static char group_text[80]; /* "239.1.2.3:5001", "[ff05::1]:5001" */

static void usage(int status) { /* status 0 (--help): all of it, on stdout; else the synopsis */
    FILE *f = status ? stderr : stdout;
    fputs("usage: feed pub [-g GROUP] [-p PORT] [-i IFNAME] [-r RATE] [-s SIZE] [-n COUNT] [-d SECONDS]\n"
          "                [--ttl N] [--no-loop] [--backend io_uring|epoll|auto]\n"
          "       feed sub [-g GROUP] [-p PORT] [-i IFNAME] [-S SOURCE] [-n COUNT] [-d SECONDS]\n"
          "                [--rcvbuf BYTES] [-q] [--backend io_uring|epoll|auto]\n",
          f);
    if (status)
        fputs("       feed -h for what they mean\n", f);
    else
        printf("  -g GROUP    multicast group, IPv4 or IPv6 (239.1.2.3)\n"
               "  -p PORT     UDP port (5001)\n"
               "  -i IFNAME   sub: interface to join on; pub: interface to send from (default: the route's)\n"
               "  -r RATE     pub: datagrams per second (10000; 0 = as fast as possible)\n"
               "  -s SIZE     pub: bytes per datagram, %u..%u (64)\n"
               "  -n COUNT    pub: datagrams to send; sub: stop after COUNT received (0 = no limit)\n"
               "  -d SECONDS  stop after SECONDS (0 = no limit)\n"
               "  -S SOURCE   sub: source-specific join, only datagrams from SOURCE\n"
               "  --ttl N     pub: multicast TTL / hop limit, 0-255 (the kernel's: 1)\n"
               "  --no-loop   pub: this host's own sockets do not receive the feed\n"
               "  --rcvbuf B  sub: SO_RCVBUF bytes (4194304; 0 = the kernel's)\n"
               "  -q          sub: no progress line every second\n"
               "  --backend   io_uring, epoll or auto (auto; ZENITH_BACKEND decides first)\n"
               "Start sub first: it prints \"listening on GROUP:PORT\" once joined, and stops by itself when\n"
               "pub's feed ends, with one line: summary received=N expected=N lost=N ... max_us=N\n",
               FEED_HDR, FEED_MAX);
    exit(status);
}

/* a whole decimal number in [0, max], else usage */
static uint64_t number(const char *what, const char *s, uint64_t max) {
    char *end;
    unsigned long long v;
    errno = 0;
    v = strtoull(s, &end, 10);
    if (*s < '0' || *s > '9' || *end != '\0' || errno != 0 || v > max) {
        fprintf(stderr, "feed: bad %s '%s' (a number from 0 to %llu)\n", what, s, (unsigned long long)max);
        usage(2);
    }
    return (uint64_t)v;
}

static void parse(int argc, char **argv) {
    static const struct option longopts[] = { { "group", required_argument, NULL, 'g' },
                                              { "port", required_argument, NULL, 'p' },
                                              { "interface", required_argument, NULL, 'i' },
                                              { "rate", required_argument, NULL, 'r' },
                                              { "size", required_argument, NULL, 's' },
                                              { "count", required_argument, NULL, 'n' },
                                              { "duration", required_argument, NULL, 'd' },
                                              { "source", required_argument, NULL, 'S' },
                                              { "ttl", required_argument, NULL, 'T' },
                                              { "no-loop", no_argument, NULL, 'L' },
                                              { "rcvbuf", required_argument, NULL, 'R' },
                                              { "quiet", no_argument, NULL, 'q' },
                                              { "backend", required_argument, NULL, 'B' },
                                              { "help", no_argument, NULL, 'h' },
                                              { NULL, 0, NULL, 0 } };
    int c, pub_only = 0, sub_only = 0, mcast = 0;
    unsigned char a[16];
    opt.group = "239.1.2.3";
    opt.port = 5001;
    opt.size = 64;
    opt.ttl = -1;
    opt.loop = -1;
    opt.rate = 10000;
    opt.rcvbuf = 4u << 20;
    opt.backend = ZENITH_BACKEND_AUTO;
    if (argc < 2) usage(2);
    if (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0) usage(0);
    if (strcmp(argv[1], "pub") == 0)
        opt.pub = 1;
    else if (strcmp(argv[1], "sub") != 0) {
        fprintf(stderr, "feed: the first argument is pub or sub, not '%s'\n", argv[1]);
        usage(2);
    }
    argc--, argv++; /* getopt from the mode on */
    opterr = 0;
    while ((c = getopt_long(argc, argv, "g:p:i:r:s:n:d:S:qh", longopts, NULL)) != -1) {
        switch (c) {
            case 'g': opt.group = optarg; break;
            case 'p': opt.port = (long)number("port", optarg, 65535); break;
            case 'i': opt.ifname = optarg; break;
            case 'r': opt.rate = number("rate", optarg, 100000000), pub_only = c; break;
            case 's': opt.size = (long)number("size", optarg, FEED_MAX), pub_only = c; break;
            case 'n': opt.count = number("count", optarg, UINT64_MAX / 2); break;
            case 'd': opt.seconds = number("seconds", optarg, 1000000); break;
            case 'S': opt.source = optarg, sub_only = c; break;
            case 'T': opt.ttl = (long)number("ttl", optarg, 255), pub_only = c; break;
            case 'L': opt.loop = 0, pub_only = c; break;
            case 'R': opt.rcvbuf = number("rcvbuf", optarg, 1u << 30), sub_only = c; break;
            case 'q': opt.quiet = 1, sub_only = c; break;
            case 'B':
                if (strcmp(optarg, "io_uring") == 0)
                    opt.backend = ZENITH_BACKEND_IO_URING;
                else if (strcmp(optarg, "epoll") == 0)
                    opt.backend = ZENITH_BACKEND_EPOLL;
                else if (strcmp(optarg, "auto") == 0)
                    opt.backend = ZENITH_BACKEND_AUTO;
                else {
                    fprintf(stderr, "feed: unknown backend '%s' (io_uring, epoll or auto)\n", optarg);
                    usage(2);
                }
                break;
            case 'h': usage(0); break;
            default: fprintf(stderr, "feed: unknown option or missing value: %s\n", argv[optind - 1]); usage(2);
        }
    }
    if (optind != argc) {
        fprintf(stderr, "feed: unexpected argument '%s'\n", argv[optind]);
        usage(2);
    }
    if (opt.pub && sub_only) {
        fprintf(stderr, "feed: that option is sub's (-S, --rcvbuf, -q)\n");
        usage(2);
    }
    if (!opt.pub && pub_only) {
        fprintf(stderr, "feed: that option is pub's (-r, -s, --ttl, --no-loop)\n");
        usage(2);
    }
    if (opt.port == 0) {
        fprintf(stderr, "feed: the port must not be 0\n");
        usage(2);
    }
    if (opt.size < (long)FEED_HDR) {
        fprintf(stderr, "feed: -s SIZE is at least %u (the header)\n", FEED_HDR);
        usage(2);
    }
    if (inet_pton(AF_INET, opt.group, a) == 1)
        mcast = (a[0] & 0xf0) == 0xe0; /* 224.0.0.0/4 */
    else if (inet_pton(AF_INET6, opt.group, a) == 1)
        mcast = a[0] == 0xff, group_v6 = 1; /* ff00::/8 */
    else {
        fprintf(stderr, "feed: -g '%s' is not an IPv4 or IPv6 address\n", opt.group);
        usage(2);
    }
    if (!mcast) {
        fprintf(stderr, "feed: -g %s is not a multicast group (224.0.0.0/4, ff00::/8)\n", opt.group);
        usage(2);
    }
    snprintf(group_text, sizeof group_text, group_v6 ? "[%s]:%ld" : "%s:%ld", opt.group, opt.port);
}

/* Explains a multicast call's failure; the usual one is a host with no route for the group. */
static void explain(const char *what, int rc) {
    int route = rc == ZENITH_ESYS(ENODEV) || rc == ZENITH_ESYS(ENETUNREACH);
    fprintf(stderr, "feed %s: %s %s%s%s: %s (%s)\n", opt.pub ? "pub" : "sub", what, group_text,
            opt.ifname ? " on " : "", opt.ifname ? opt.ifname : "", zenith_strerror(rc), zenith_errname(rc));
    if (rc == ZENITH_E_NOT_FOUND && opt.ifname)
        fprintf(stderr, "  there is no interface named %s (ip link lists them)\n", opt.ifname);
    else if (rc == ZENITH_E_INVAL && opt.source)
        fprintf(stderr, "  -S %s is not a unicast address of the group's family\n", opt.source);
    else if (route && !opt.ifname)
        fprintf(stderr,
                "  no route for %s: this host has no route to pick an interface from; give the\n"
                "  interface with -i IFNAME (on one host: -i lo), or add a multicast route:\n"
                "  ip %sroute add %s dev IFNAME\n",
                opt.group, group_v6 ? "-6 " : "", group_v6 ? "ff00::/8" : "224.0.0.0/4");
    else if (route && group_v6 && strcmp(opt.ifname, "lo") == 0)
        fprintf(stderr, "  Linux does not carry IPv6 multicast over lo: use an IPv4 group on lo, or another\n"
                        "  interface (a veth pair, for one host)\n");
    else if (route)
        fprintf(stderr, "  %s cannot carry multicast for %s (is it up? ip link set %s up)\n", opt.ifname, opt.group,
                opt.ifname);
}

static void on_data(void *user, zenith_conn_id conn, const uint8_t *data, size_t len) {
    (void)user, (void)conn, (void)data, (void)len; /* never called: no TCP here */
}

static zenith_server *create_server(uint32_t udp_queue) {
    zenith_server_config cfg;
    zenith_server *s;
    int err;
    memset(&cfg, 0, sizeof cfg);
    cfg.flags = ZENITH_SERVER_NO_LISTEN;
    cfg.buffer_size = 2048; /* 1872 bytes of datagram: anything up to FEED_MAX whole */
    cfg.buffer_count = 8192;
    cfg.udp_queue = udp_queue;
    cfg.backend = (uint32_t)opt.backend;
    s = zenith_server_create(&cfg, &err);
    if (s == NULL) {
        fprintf(stderr, "feed: %s (%s)\n", zenith_strerror(err), zenith_errname(err));
        exit(1);
    }
    zenith_server_set_callbacks(s, NULL, on_data, NULL, NULL);
    if ((err = zenith_server_start(s)) != 0) {
        fprintf(stderr, "feed: start: %s (%s)\n", zenith_strerror(err), zenith_errname(err));
        exit(1);
    }
    return s;
}

static void print_backend(zenith_server *s) {
    zenith_backend_info bi;
    memset(&bi, 0, sizeof bi);
    bi.struct_size = sizeof bi;
    if (zenith_server_backend_info(s, &bi) == 0) printf("backend %s\n", bi.why);
}

static zenith_udp_info get_info(zenith_server *s, zenith_udp_id sock) {
    zenith_udp_info info;
    memset(&info, 0, sizeof info);
    info.struct_size = sizeof info;
    zenith_udp_get_info(s, sock, &info);
    return info;
}

/* ---- pub -------------------------------------------------------------------------------------- */

static volatile sig_atomic_t interrupted;
static int pub_blocked; /* a send met ZENITH_E_FULL: wait for on_writable */

static void pub_on_signal(int sig) {
    (void)sig;
    interrupted = 1; /* the loop wakes within a few ms and ends the feed with its END datagrams */
}

static void pub_on_writable(void *user, zenith_udp_id sock) {
    (void)user, (void)sock;
    pub_blocked = 0;
}

/* Queues one datagram (copied by zenith_udp_send: buf is reused at once). */
static int pub_send(zenith_server *s, zenith_udp_id sock, const zenith_addr *to, uint8_t *buf, uint32_t session,
                    uint32_t flags, uint64_t seq, uint32_t len) {
    feed_hdr h;
    h.magic = FEED_MAGIC;
    h.flags = flags;
    h.seq = seq;
    h.send_ns = now_ns(CLOCK_REALTIME);
    h.len = len;
    h.session = session;
    memcpy(buf, &h, sizeof h);
    if (len > FEED_HDR) memcpy(buf + FEED_HDR, pattern + (seq & 255u), len - FEED_HDR);
    return zenith_udp_send(s, sock, buf, len, to);
}

/* One loop turn; a failing loop ends the program. */
static void pub_run(zenith_server *s, int timeout_ms) {
    int rc = zenith_server_run_once(s, timeout_ms);
    if (rc < 0 && rc != ZENITH_ESYS(EINTR)) {
        fprintf(stderr, "feed pub: run_once: %s (%s)\n", zenith_strerror(rc), zenith_errname(rc));
        exit(1);
    }
}

/* A sender that cannot send at all (no route, interface down) is told so at once, not after
   COUNT datagrams. */
static void pub_check(zenith_server *s, zenith_udp_id sock) {
    zenith_udp_info info = get_info(s, sock);
    if (info.send_errors > 0 && info.datagrams_out == 0) {
        explain("cannot send to", info.last_error ? info.last_error : ZENITH_ESYS(EIO));
        exit(1);
    }
}

static int run_pub(void) {
    static uint8_t buf[FEED_MAX];
    zenith_udp_config ucfg;
    zenith_udp_info info;
    zenith_udp_id sock = 0;
    zenith_addr to;
    zenith_server *s;
    uint64_t sent = 0, due, full = 0;
    uint32_t session = (uint32_t)now_ns(CLOCK_REALTIME) ^ ((uint32_t)getpid() << 16);
    int64_t t0, t_end, now, next_check;
    double secs;
    int rc, k;

    zenith_addr_set(&to, opt.group, (uint16_t)opt.port); /* checked by parse */
    s = create_server(4096); /* a deep send queue: bursts of up to 4096 datagrams per loop turn */
    memset(&ucfg, 0, sizeof ucfg);
    ucfg.address = group_v6 ? "::" : "0.0.0.0";
    ucfg.flags = ZENITH_UDP_NO_TIMESTAMPS; /* a sender: nothing to stamp */
    ucfg.on_writable = pub_on_writable;    /* no on_recv: a send-only socket */
    if ((rc = zenith_udp_open(s, &ucfg, &sock)) != 0) {
        explain("cannot open a socket for", rc);
        return 1;
    }
    if ((rc = zenith_udp_multicast_send_opts(s, sock, opt.ifname, (int)opt.ttl, opt.loop)) != 0) {
        explain("cannot set the sender's options for", rc);
        return 1;
    }
    signal(SIGINT, pub_on_signal);
    signal(SIGTERM, pub_on_signal);
    printf("sending to %s%s%s: %ld-byte datagrams, ", group_text, opt.ifname ? " from " : "",
           opt.ifname ? opt.ifname : "", opt.size);
    if (opt.rate)
        printf("%llu/s, ", (unsigned long long)opt.rate);
    else
        printf("as fast as possible, ");
    if (opt.count)
        printf("%llu of them", (unsigned long long)opt.count);
    else
        printf("no count limit");
    if (opt.seconds) printf(", for %llu s at most", (unsigned long long)opt.seconds);
    if (opt.ttl < 0)
        printf(" (ttl: the kernel's, ");
    else
        printf(" (ttl %ld, ", opt.ttl);
    printf("loop %s, session %08x)\n", opt.loop == 0 ? "off" : "on", (unsigned)session);
    print_backend(s);
    fflush(stdout);

    t0 = now_ns(CLOCK_MONOTONIC);
    t_end = opt.seconds ? t0 + (int64_t)opt.seconds * 1000000000 : INT64_MAX;
    next_check = t0 + 20000000;
    now = t0;
    while (!interrupted && (opt.count == 0 || sent < opt.count) && now < t_end) {
        int timeout = 0;
        if (!pub_blocked) {
            if (opt.rate) /* due: datagrams that should have left by now (the first at t0) */
                due = (uint64_t)((now - t0) / 1000) * opt.rate / 1000000u + 1u;
            else
                due = sent + 4096; /* as fast as possible: until the queue is full */
            if (opt.count && due > opt.count) due = opt.count;
            while (sent < due) {
                rc = pub_send(s, sock, &to, buf, session, 0, sent + 1, (uint32_t)opt.size);
                if (rc == ZENITH_E_FULL) { /* the queue (4096) or the pool: the loop sends, on_writable */
                    pub_blocked = 1;
                    full++;
                    break;
                }
                if (rc != 0) {
                    explain("cannot send to", rc);
                    return 1;
                }
                sent++;
            }
            if (opt.rate && sent >= due) { /* ahead: sleep until the next one is due (at least 1 ms) */
                int64_t next = t0 + (int64_t)(sent * 1000000000.0 / (double)opt.rate);
                int64_t ms = (next - now) / 1000000;
                timeout = ms < 1 ? 1 : ms > 100 ? 100 : (int)ms;
            }
        } else
            timeout = 10; /* on_writable ends the wait */
        pub_run(s, timeout);
        now = now_ns(CLOCK_MONOTONIC);
        if (now >= next_check) {
            pub_check(s, sock);
            next_check = now + 100000000;
        }
    }
    secs = (double)(now_ns(CLOCK_MONOTONIC) - t0) / 1e9;

    /* the END datagrams, 20 ms apart: sub learns the count and stops */
    for (k = 0; k < FEED_END_REPEAT; k++) {
        int64_t until = now_ns(CLOCK_MONOTONIC) + 2000000000;
        while ((rc = pub_send(s, sock, &to, buf, session, FEED_F_END, sent, FEED_HDR)) == ZENITH_E_FULL &&
               now_ns(CLOCK_MONOTONIC) < until)
            pub_run(s, 10);
        if (rc != 0) {
            explain("cannot send the END datagram to", rc);
            break;
        }
        until = now_ns(CLOCK_MONOTONIC) + FEED_END_GAP_MS * 1000000;
        while (now_ns(CLOCK_MONOTONIC) < until) pub_run(s, 5);
    }
    for (k = 0; k < 100; k++) { /* what is still queued leaves (1 s at most) */
        info = get_info(s, sock);
        if (info.queued == 0) break;
        pub_run(s, 10);
    }
    pub_check(s, sock);
    info = get_info(s, sock);
    printf("sent %llu datagrams (%llu bytes) in %.3f s: %.0f/s; queue full %llu times\n", (unsigned long long)sent,
           (unsigned long long)(sent * (uint64_t)opt.size), secs, secs > 0 ? (double)sent / secs : 0.0,
           (unsigned long long)full);
    if (info.send_errors)
        fprintf(stderr, "feed pub: the kernel refused %llu datagrams, the last with %s (%s)\n",
                (unsigned long long)info.send_errors, zenith_strerror(info.last_error),
                zenith_errname(info.last_error));
    printf("summary sent=%llu datagrams_out=%llu bytes_out=%llu seconds=%.3f rate=%.0f send_full=%llu "
           "send_errors=%llu\n",
           (unsigned long long)sent, (unsigned long long)info.datagrams_out, (unsigned long long)info.bytes_out, secs,
           secs > 0 ? (double)sent / secs : 0.0, (unsigned long long)info.send_full,
           (unsigned long long)info.send_errors);
    fflush(stdout);
    zenith_udp_close(s, sock);
    zenith_server_shutdown(s, 1000);
    zenith_server_destroy(s);
    return info.send_errors ? 1 : 0;
}

/* ---- sub -------------------------------------------------------------------------------------- */

static struct {
    zenith_server *s;
    zenith_udp_id sock;
    uint32_t session;
    int locked, ended;
    uint64_t received, bytes, dup, reordered, stale, corrupt, truncated, foreign, gaps;
    uint64_t top, first_seq, end_count;
    uint32_t rxq_ovfl;
    int64_t first_rx, last_rx;
    int64_t *lat;         /* FEED_SAMPLES latency samples, ns */
    uint64_t nlat, no_ts; /* latencies seen (all of them); datagrams without a kernel timestamp */
    int64_t lat_max;
    uint64_t rng;
    uint64_t seen[FEED_WINDOW / 64]; /* bit seq % FEED_WINDOW: seq seen (for seq in (top - WINDOW, top]) */
    uint64_t last_received;          /* progress line */
    unsigned ticks;
} sub;

static void sub_on_signal(int sig) {
    (void)sig;
    zenith_server_stop(sub.s); /* async-signal-safe */
}

static void sub_stop(void *user, zenith_timer_id t) {
    (void)user, (void)t;
    zenith_server_stop(sub.s);
}

static uint64_t expected(void) { return sub.ended ? sub.end_count : sub.top; }

static void sub_progress(void *user, zenith_timer_id t) {
    zenith_udp_info info;
    uint64_t exp = expected();
    (void)user, (void)t;
    sub.ticks++;
    if (sub.received == sub.last_received) return; /* quiet while nothing comes */
    info = get_info(sub.s, sub.sock);
    printf("t=%us received=%llu (+%llu) lost=%llu dup=%llu reordered=%llu corrupt=%llu kernel_drops=%llu "
           "stalls=%llu\n",
           sub.ticks, (unsigned long long)sub.received, (unsigned long long)(sub.received - sub.last_received),
           (unsigned long long)(exp > sub.received ? exp - sub.received : 0), (unsigned long long)sub.dup,
           (unsigned long long)sub.reordered, (unsigned long long)sub.corrupt, (unsigned long long)info.kernel_drops,
           (unsigned long long)info.recv_stalls);
    fflush(stdout);
    sub.last_received = sub.received;
}

static void sub_done_if_complete(void) {
    if ((sub.ended && sub.received >= sub.end_count) || (opt.count && sub.received >= opt.count))
        zenith_server_stop(sub.s);
}

static void sub_latency(int64_t lat) {
    uint64_t n = sub.nlat++;
    if (lat > sub.lat_max || n == 0) sub.lat_max = lat;
    if (n < FEED_SAMPLES)
        sub.lat[n] = lat;
    else { /* reservoir: keep each of the n + 1 with probability FEED_SAMPLES / (n + 1) */
        uint64_t j;
        sub.rng ^= sub.rng << 13, sub.rng ^= sub.rng >> 7, sub.rng ^= sub.rng << 17;
        j = sub.rng % (n + 1);
        if (j < FEED_SAMPLES) sub.lat[j] = lat;
    }
}

static int seen_test_set(uint64_t seq) {
    uint64_t bit = 1ull << (seq % 64), *w = &sub.seen[(seq % FEED_WINDOW) / 64];
    int was = (*w & bit) != 0;
    *w |= bit;
    return was;
}

static void sub_sequence(uint64_t seq, uint32_t len) {
    if (seq > sub.top) {
        uint64_t q;
        if (sub.top && seq > sub.top + 1) sub.gaps++;
        if (seq - sub.top >= FEED_WINDOW)
            memset(sub.seen, 0, sizeof sub.seen);
        else /* forget what the window slides past (each sequence number once: O(1) amortised) */
            for (q = sub.top + 1; q <= seq; q++) sub.seen[(q % FEED_WINDOW) / 64] &= ~(1ull << (q % 64));
        seen_test_set(seq);
        if (!sub.first_seq) sub.first_seq = seq;
        sub.top = seq;
        sub.received++;
        sub.bytes += len;
    } else if (sub.top - seq < FEED_WINDOW) {
        if (seen_test_set(seq))
            sub.dup++;
        else {
            sub.reordered++;
            sub.received++;
            sub.bytes += len;
        }
    } else
        sub.stale++; /* older than the window: cannot tell a duplicate from a late one */
}

static void sub_on_recv(void *user, zenith_udp_id sock, const zenith_udp_datagram *d) {
    int64_t rx = d->ts_ns;
    feed_hdr h;
    (void)user, (void)sock;
    if (zenith_server_stopped(sub.s)) return; /* the rest of a batch after -n COUNT or END: not counted */
    if (rx == 0) {                            /* no kernel timestamp: the time we see it */
        rx = now_ns(CLOCK_REALTIME);
        sub.no_ts++;
    }
    if (d->len < FEED_HDR) {
        sub.foreign++;
        return;
    }
    memcpy(&h, d->data, sizeof h); /* the data may sit at any alignment */
    if (h.magic != FEED_MAGIC) {
        sub.foreign++;
        return;
    }
    if (!sub.locked) {
        if (h.flags & FEED_F_END) { /* the tail of an earlier run: not ours */
            sub.foreign++;
            return;
        }
        sub.session = h.session;
        sub.locked = 1;
    } else if (h.session != sub.session) {
        sub.foreign++;
        return;
    }
    if (d->kernel_drops > sub.rxq_ovfl) sub.rxq_ovfl = d->kernel_drops;
    if (h.flags & FEED_F_END) {
        if (!sub.ended) {
            sub.ended = 1;
            sub.end_count = h.seq;
            if (sub.received < sub.end_count) /* stragglers may still come: wait a little */
                zenith_server_timer_start(sub.s, FEED_GRACE_MS, 0, sub_stop, NULL, NULL);
        }
        sub_done_if_complete();
        return;
    }
    if (d->flags & ZENITH_UDP_TRUNC) {
        sub.truncated++;
        sub.corrupt++;
        return;
    }
    if (h.len != d->len || h.seq == 0 ||
        (d->len > FEED_HDR && memcmp(d->data + FEED_HDR, pattern + (h.seq & 255u), d->len - FEED_HDR) != 0)) {
        sub.corrupt++;
        return;
    }
    sub_latency(rx - h.send_ns);
    if (!sub.first_rx) sub.first_rx = rx;
    sub.last_rx = rx;
    sub_sequence(h.seq, d->len);
    sub_done_if_complete();
}

static int cmp_i64(const void *a, const void *b) {
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* nearest rank: the smallest sample with at least per100k / 100000 of them at or below it */
static double pct_us(const int64_t *v, uint64_t n, uint64_t per100k) {
    uint64_t rank = (per100k * n + 99999u) / 100000u;
    if (n == 0) return 0.0;
    if (rank < 1) rank = 1;
    return (double)v[rank - 1] / 1000.0;
}

static int run_sub(void) {
    zenith_udp_config ucfg;
    zenith_udp_info info;
    uint64_t exp, lost, n;
    double secs, rate, p50, p90, p99, p999, mx;
    const char *bind_to = opt.group;
    unsigned char a6[16];
    int rc;

    /* bind the group itself (only its datagrams reach the socket), except an IPv6 group of
       interface or link scope (ff01::, ff02::), which cannot be bound without a scope: any */
    if (group_v6 && inet_pton(AF_INET6, opt.group, a6) == 1 && (a6[1] & 0x0f) <= 2) bind_to = "::";
    sub.lat = (int64_t *)malloc(FEED_SAMPLES * sizeof *sub.lat);
    if (sub.lat == NULL) {
        fprintf(stderr, "feed sub: no memory for the latency samples\n");
        return 1;
    }
    sub.rng = (uint64_t)now_ns(CLOCK_MONOTONIC) | 1u;
    sub.s = create_server(0);
    memset(&ucfg, 0, sizeof ucfg);
    ucfg.address = bind_to;
    ucfg.port = (uint16_t)opt.port;
    ucfg.flags = ZENITH_UDP_REUSEADDR; /* several subscribers on one host share the port */
    ucfg.rcvbuf = (uint32_t)opt.rcvbuf;
    ucfg.on_recv = sub_on_recv;
    if ((rc = zenith_udp_open(sub.s, &ucfg, &sub.sock)) != 0) {
        explain("cannot bind", rc);
        return 1;
    }
    if ((rc = zenith_udp_join(sub.s, sub.sock, opt.group, opt.source, opt.ifname)) != 0) {
        explain(opt.source ? "cannot join (source-specific)" : "cannot join", rc);
        return 1;
    }
    signal(SIGINT, sub_on_signal);
    signal(SIGTERM, sub_on_signal);
    if (opt.seconds) zenith_server_timer_start(sub.s, (uint32_t)(opt.seconds * 1000), 0, sub_stop, NULL, NULL);
    if (!opt.quiet) zenith_server_timer_start(sub.s, 1000, 1000, sub_progress, NULL, NULL);
    printf("listening on %s:%ld\n", opt.group, opt.port);
    info = get_info(sub.s, sub.sock);
    printf("joined %s%s%s%s%s; receive timestamps: %s\n", opt.group, opt.source ? " from " : "",
           opt.source ? opt.source : "", opt.ifname ? " on " : "", opt.ifname ? opt.ifname : "",
           info.features & ZENITH_UDP_F_TS_SOFTWARE ? "kernel (software)" : "none (the time sub sees them)");
    print_backend(sub.s);
    fflush(stdout);
    if (group_v6 && opt.ifname && strcmp(opt.ifname, "lo") == 0)
        fprintf(stderr, "feed sub: note: Linux does not carry IPv6 multicast over lo; nothing may come\n");

    while (!zenith_server_stopped(sub.s)) {
        rc = zenith_server_run_once(sub.s, -1);
        if (rc < 0 && rc != ZENITH_ESYS(EINTR)) {
            fprintf(stderr, "feed sub: run_once: %s (%s)\n", zenith_strerror(rc), zenith_errname(rc));
            break;
        }
    }

    info = get_info(sub.s, sub.sock);
    exp = expected();
    lost = exp > sub.received ? exp - sub.received : 0;
    n = sub.nlat < FEED_SAMPLES ? sub.nlat : FEED_SAMPLES;
    qsort(sub.lat, (size_t)n, sizeof *sub.lat, cmp_i64);
    p50 = pct_us(sub.lat, n, 50000);
    p90 = pct_us(sub.lat, n, 90000);
    p99 = pct_us(sub.lat, n, 99000);
    p999 = pct_us(sub.lat, n, 99900);
    mx = sub.nlat ? (double)sub.lat_max / 1000.0 : 0.0;
    secs = sub.last_rx > sub.first_rx ? (double)(sub.last_rx - sub.first_rx) / 1e9 : 0.0;
    rate = secs > 0 && sub.received > 1 ? (double)(sub.received - 1) / secs : 0.0;

    printf("received %llu datagrams (%llu bytes) in %.3f s: %.0f/s%s\n", (unsigned long long)sub.received,
           (unsigned long long)sub.bytes, secs, rate, sub.ended ? "" : " (no END seen)");
    printf("loss: ours %llu of %llu (%.3f%%; %llu gaps), zenith recv_stalls %llu, kernel drops %llu "
           "(SO_RXQ_OVFL %u)\n",
           (unsigned long long)lost, (unsigned long long)exp, exp ? 100.0 * (double)lost / (double)exp : 0.0,
           (unsigned long long)sub.gaps, (unsigned long long)info.recv_stalls, (unsigned long long)info.kernel_drops,
           (unsigned)sub.rxq_ovfl);
    printf("order: dup %llu, reordered %llu, too late to tell %llu; corrupt %llu (truncated %llu); foreign %llu\n",
           (unsigned long long)sub.dup, (unsigned long long)sub.reordered, (unsigned long long)sub.stale,
           (unsigned long long)sub.corrupt, (unsigned long long)sub.truncated, (unsigned long long)sub.foreign);
    printf("latency (%s receive - send, us, %llu samples of %llu): p50 %.1f p90 %.1f p99 %.1f p99.9 %.1f max %.1f\n",
           sub.no_ts ? "user-space" : "kernel", (unsigned long long)n, (unsigned long long)sub.nlat, p50, p90, p99,
           p999, mx);
    printf("summary received=%llu expected=%llu lost=%llu gaps=%llu dup=%llu reordered=%llu corrupt=%llu "
           "foreign=%llu kernel_drops=%llu rxq_ovfl=%u stalls=%llu rate=%.0f samples=%llu p50_us=%.1f p90_us=%.1f "
           "p99_us=%.1f p999_us=%.1f max_us=%.1f end=%d\n",
           (unsigned long long)sub.received, (unsigned long long)exp, (unsigned long long)lost,
           (unsigned long long)sub.gaps, (unsigned long long)sub.dup, (unsigned long long)sub.reordered,
           (unsigned long long)sub.corrupt, (unsigned long long)sub.foreign, (unsigned long long)info.kernel_drops,
           (unsigned)sub.rxq_ovfl, (unsigned long long)info.recv_stalls, rate, (unsigned long long)n, p50, p90, p99,
           p999, mx, sub.ended);
    fflush(stdout);
    zenith_udp_close(sub.s, sub.sock);
    zenith_server_shutdown(sub.s, 1000);
    zenith_server_destroy(sub.s);
    free(sub.lat);
    return (sub.corrupt || sub.received == 0) ? 1 : 0;
}

int main(int argc, char **argv) {
    parse(argc, argv);
    pattern_init();
    return opt.pub ? run_pub() : run_sub();
}
