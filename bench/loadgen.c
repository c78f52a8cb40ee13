/* loadgen -- closed-loop TCP echo load generator with byte-exact verification (Linux, epoll).
 *
 *   cc -O2 -std=gnu11 -Wall -Wextra -Wpedantic -Werror bench/loadgen.c -o build/loadgen -pthread
 *   build/loadgen -p PORT [-a ADDR] [-c CONNS] [-d DEPTH] [-s SIZE] [-T SECS] [-w SECS] [-C CPU] [-t THREADS] [-i] [-j]
 *
 * Each connection keeps DEPTH messages of SIZE bytes in flight: when the last byte of a message's
 * echo arrives, the next message is sent. Byte k of a connection's stream is a pure function of
 * (connection, k): the first 8 bytes of message m are m xor a per-connection tag (little endian),
 * the rest come from a pseudo-random table read at (connection offset + k) mod a prime. So every
 * echoed byte is checked in order against what was sent, nothing sent is buffered (a partial write
 * regenerates the rest), and a lost, repeated, reordered or flipped byte is caught.
 *
 * Latency = from the write of a message to the read that completes its echo, in a log-linear
 * histogram (128 sub-buckets per power of two: <= 0.8% error, ns resolution). Messages completed
 * during the warm-up or after the end are verified but not counted. At the end no new message is
 * started, the ones in flight drain, then each connection shuts down its sending side, waits for
 * the server's EOF and closes.
 *
 * -i (idle): open CONNS connections, print "loadgen: idle: N connections established" on stderr,
 * keep them idle for -T seconds (any byte or EOF from the server is an error), close them.
 *
 * Exit status: 0 = everything verified, 1 = any error (mismatch, unexpected EOF, reset, connect
 * failure, echo not drained), 2 = usage or setup error. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_SIZE (1u << 20)     /* largest message */
#define MAX_CONNS 200000        /* largest -c */
#define MAX_INFLIGHT (1u << 22) /* largest -c x -d: 32 MiB of send timestamps */
#define MAX_DEPTH 4096          /* largest -d */
#define TBL_PERIOD 1048573u     /* prime: the table never lines up with a power-of-two message size */
#define IO_BUF (256u * 1024u)   /* per-thread read and write scratch */
#define CONNECT_WINDOW 256      /* connects in progress per thread */
#define CONNECT_ATTEMPTS 5      /* per connection */
#define CONNECT_TIMEOUT_NS 2000000000ull
#define DRAIN_TIMEOUT_NS 3000000000ull /* after the end: echoes still owed, then the server's EOF */
#define MAX_EVENTS 512

/* Histogram: values < 128 ns exact, then 64 sub-buckets per power of two up to 2^47 ns. */
#define H_SUB 64
#define H_MAX_SHIFT 41
#define H_BUCKETS (2 * H_SUB + H_MAX_SHIFT * H_SUB)

enum { C_IDLE, C_WAIT_RETRY, C_CONNECTING, C_OPEN, C_CLOSING, C_DONE, C_FAILED };

struct conn {
    int fd;
    uint8_t state;
    uint8_t want_out; /* EPOLLOUT in the interest set */
    uint8_t attempts;
    uint32_t id;
    uint64_t base;     /* offset into the pattern table */
    uint64_t tag;      /* xor-ed into message headers */
    uint64_t tx_off;   /* stream bytes written */
    uint64_t tx_goal;  /* stream bytes of the messages started */
    uint64_t rx_off;   /* stream bytes received and checked */
    uint64_t bad_msg;  /* 1 + last message counted as mismatched */
    uint64_t deadline; /* connect timeout or retry time */
    uint64_t *sent_ns; /* depth slots: send time of message m in slot m % depth */
};

struct stats {
    uint64_t msgs;       /* completed inside the measurement window */
    uint64_t msgs_total; /* completed at any time */
    uint64_t verified;   /* bytes received and checked */
    uint64_t mismatches; /* messages with at least one wrong byte */
    uint64_t eofs, resets, sock_errors, connect_failures, stalled, extra;
    uint64_t established;
    uint64_t max_ns;
    uint64_t hist[H_BUCKETS];
};

struct thread {
    int idx;
    pthread_t th;
    int ep;
    struct conn *conns;
    uint32_t nconns;
    uint32_t active; /* conns not DONE/FAILED after the connect phase */
    struct stats st;
    unsigned char *rbuf, *wbuf;
};

/* configuration */
static struct sockaddr_storage g_addr;
static socklen_t g_addrlen;
static const char *g_addr_str = "127.0.0.1";
static int g_port = -1;
static uint32_t g_conns = 50, g_depth = 1, g_size = 64, g_threads = 1;
static double g_duration = 5.0, g_warmup = 0.5;
static int g_cpu = -1, g_idle, g_json;

static unsigned char *g_tbl; /* TBL_PERIOD + MAX_SIZE bytes, tbl[i] == tbl[i % TBL_PERIOD] */
static pthread_barrier_t g_barrier;
static uint64_t g_t_start, g_t_meas, g_t_end; /* written by the serial thread between barriers */
static atomic_int g_reported;                 /* first mismatch / error details printed once */
static struct thread *g_ts;

static uint64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void die(const char *msg) {
    fprintf(stderr, "loadgen: %s: %s\n", msg, strerror(errno));
    exit(2);
}

/* ---- histogram ------------------------------------------------------------------------------ */
static unsigned h_index(uint64_t v) {
    if (v < 2 * H_SUB) return (unsigned)v;
    unsigned msb = 63u - (unsigned)__builtin_clzll(v);
    unsigned shift = msb - 6; /* v >> shift in [64, 128) */
    if (shift > H_MAX_SHIFT) return H_BUCKETS - 1;
    return 2 * H_SUB + (shift - 1) * H_SUB + (unsigned)((v >> shift) - H_SUB);
}

static double h_value(unsigned idx) { /* midpoint of the bucket */
    if (idx < 2 * H_SUB) return idx;
    unsigned shift = (idx - 2 * H_SUB) / H_SUB + 1;
    uint64_t mant = (idx - 2 * H_SUB) % H_SUB + H_SUB;
    return (double)(mant << shift) + (double)(1ull << shift) / 2.0;
}

static double h_percentile(const uint64_t *h, uint64_t total, uint64_t max_ns, double p) {
    if (total == 0) return 0;
    uint64_t rank = (uint64_t)(p * (double)total); /* ceil, without libm */
    if ((double)rank < p * (double)total) rank++;
    if (rank < 1) rank = 1;
    uint64_t seen = 0;
    for (unsigned i = 0; i < H_BUCKETS; i++) {
        seen += h[i];
        if (seen >= rank) {
            double v = h_value(i);
            return v > (double)max_ns ? (double)max_ns : v;
        }
    }
    return (double)max_ns;
}

/* ---- stream pattern ------------------------------------------------------------------------- */
static void tbl_init(void) {
    g_tbl = malloc(TBL_PERIOD + MAX_SIZE);
    if (!g_tbl) die("malloc");
    uint64_t x = 0x9E3779B97F4A7C15ull;
    for (uint32_t i = 0; i < TBL_PERIOD; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        g_tbl[i] = (unsigned char)(x >> 32);
    }
    for (uint32_t i = TBL_PERIOD; i < TBL_PERIOD + MAX_SIZE; i++) g_tbl[i] = g_tbl[i - TBL_PERIOD];
}

static inline unsigned char hdr_byte(const struct conn *c, uint64_t m, size_t j) {
    return (unsigned char)((m ^ c->tag) >> (8 * j));
}

/* Writes the stream bytes [off, off + len) of c into dst. */
static void gen(const struct conn *c, uint64_t off, unsigned char *dst, size_t len) {
    while (len > 0) {
        uint64_t m = off / g_size;
        size_t j = (size_t)(off % g_size);
        size_t n = g_size - j;
        if (n > len) n = len;
        memcpy(dst, g_tbl + (c->base + off) % TBL_PERIOD, n);
        for (size_t i = j; i < 8 && i < j + n; i++) dst[i - j] = hdr_byte(c, m, i);
        dst += n, off += n, len -= n;
    }
}

static void report_mismatch(const struct thread *t, const struct conn *c, uint64_t off, const unsigned char *got,
                            size_t len) {
    if (atomic_exchange(&g_reported, 1)) return;
    unsigned char exp[64];
    size_t n = len < sizeof exp ? len : sizeof exp;
    for (size_t i = 0; i < len; i += n) {
        n = len - i < sizeof exp ? len - i : sizeof exp;
        gen(c, off + i, exp, n);
        for (size_t k = 0; k < n; k++)
            if (exp[k] != got[i + k]) {
                fprintf(stderr,
                        "loadgen: MISMATCH thread %d conn %u stream byte %llu (message %llu, byte %llu):"
                        " expected 0x%02x, got 0x%02x\n",
                        t->idx, c->id, (unsigned long long)(off + i + k), (unsigned long long)((off + i + k) / g_size),
                        (unsigned long long)((off + i + k) % g_size), exp[k], got[i + k]);
                return;
            }
    }
}

/* Checks received bytes [off, off + len) of c; counts each wrong message once. */
static void verify(struct thread *t, struct conn *c, uint64_t off, const unsigned char *buf, size_t len) {
    while (len > 0) {
        uint64_t m = off / g_size;
        size_t j = (size_t)(off % g_size);
        size_t n = g_size - j;
        if (n > len) n = len;
        size_t hb = j < 8 ? (8 - j < n ? 8 - j : n) : 0;
        int bad = 0;
        for (size_t i = 0; i < hb; i++) bad |= buf[i] != hdr_byte(c, m, j + i);
        if (n > hb && memcmp(buf + hb, g_tbl + (c->base + off + hb) % TBL_PERIOD, n - hb) != 0) bad = 1;
        if (bad && c->bad_msg != m + 1) {
            c->bad_msg = m + 1;
            t->st.mismatches++;
            report_mismatch(t, c, off, buf, n);
        }
        buf += n, off += n, len -= n;
    }
}

/* ---- connections ---------------------------------------------------------------------------- */
static void set_interest(struct thread *t, struct conn *c, int want_out) {
    if (c->want_out == want_out) return;
    struct epoll_event ev = { .events = EPOLLIN | (want_out ? EPOLLOUT : 0u), .data.ptr = c };
    if (epoll_ctl(t->ep, EPOLL_CTL_MOD, c->fd, &ev) < 0) die("epoll_ctl");
    c->want_out = (uint8_t)want_out;
}

static void conn_close(struct thread *t, struct conn *c, int state) {
    if (c->fd >= 0) close(c->fd); /* also drops it from the epoll set */
    c->fd = -1;
    if ((c->state == C_OPEN || c->state == C_CLOSING) && t->active > 0) t->active--;
    c->state = (uint8_t)state;
}

static void conn_fail(struct thread *t, struct conn *c, int err, const char *what) {
    if (err == 0)
        t->st.eofs++;
    else if (err == ECONNRESET || err == EPIPE)
        t->st.resets++;
    else
        t->st.sock_errors++;
    if (!atomic_exchange(&g_reported, 1))
        fprintf(stderr, "loadgen: thread %d conn %u: %s: %s (sent %llu, verified %llu bytes)\n", t->idx, c->id, what,
                err ? strerror(err) : "unexpected EOF from server", (unsigned long long)c->tx_off,
                (unsigned long long)c->rx_off);
    conn_close(t, c, C_FAILED);
}

static void start_connect(struct thread *t, struct conn *c, uint64_t now) {
    c->fd = socket(g_addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (c->fd < 0) die("socket");
    c->attempts++;
    c->state = C_CONNECTING;
    c->deadline = now + CONNECT_TIMEOUT_NS;
    c->want_out = 1;
    if (connect(c->fd, (struct sockaddr *)&g_addr, g_addrlen) < 0 && errno != EINPROGRESS) {
        /* immediate failure (e.g. EADDRNOTAVAIL): retried from the connect loop */
        int e = errno;
        close(c->fd);
        c->fd = -1;
        c->state = C_WAIT_RETRY;
        c->deadline = now + (20000000ull << c->attempts);
        if (c->attempts >= CONNECT_ATTEMPTS) {
            c->state = C_FAILED;
            t->st.connect_failures++;
            if (!atomic_exchange(&g_reported, 1))
                fprintf(stderr, "loadgen: connect to %s:%d: %s\n", g_addr_str, g_port, strerror(e));
        }
        return;
    }
    struct epoll_event ev = { .events = EPOLLOUT, .data.ptr = c };
    if (epoll_ctl(t->ep, EPOLL_CTL_ADD, c->fd, &ev) < 0) die("epoll_ctl");
}

static void connect_failed(struct thread *t, struct conn *c, int err, uint64_t now) {
    close(c->fd);
    c->fd = -1;
    if (c->attempts >= CONNECT_ATTEMPTS) {
        c->state = C_FAILED;
        t->st.connect_failures++;
        if (!atomic_exchange(&g_reported, 1))
            fprintf(stderr, "loadgen: connect to %s:%d: %s (%d attempts)\n", g_addr_str, g_port, strerror(err),
                    CONNECT_ATTEMPTS);
        return;
    }
    c->state = C_WAIT_RETRY;
    c->deadline = now + (20000000ull << c->attempts); /* 40, 80, 160, 320 ms */
}

/* Opens all of t's connections, CONNECT_WINDOW at a time. Bounded: attempts x (timeout + backoff). */
static void connect_all(struct thread *t) {
    struct epoll_event evs[MAX_EVENTS];
    uint32_t next = 0, inflight = 0, settled = 0, lo = 0; /* conns below lo are all settled */
    while (settled < t->nconns) {
        uint64_t now = now_ns();
        while (inflight < CONNECT_WINDOW && next < t->nconns) {
            struct conn *c = &t->conns[next++];
            start_connect(t, c, now);
            if (c->state == C_FAILED)
                settled++;
            else
                inflight++;
        }
        /* timeouts and retries among the ones in flight (they are all below `next`) */
        uint64_t wake = now + 100000000ull;
        while (lo < next && (t->conns[lo].state == C_OPEN || t->conns[lo].state == C_FAILED)) lo++;
        for (uint32_t i = lo; i < next; i++) {
            struct conn *c = &t->conns[i];
            if (c->state == C_WAIT_RETRY && c->deadline <= now) {
                start_connect(t, c, now);
                if (c->state == C_FAILED) settled++, inflight--;
            } else if (c->state == C_CONNECTING && c->deadline <= now) {
                connect_failed(t, c, ETIMEDOUT, now);
                if (c->state == C_FAILED) settled++, inflight--;
            }
            if ((c->state == C_WAIT_RETRY || c->state == C_CONNECTING) && c->deadline < wake) wake = c->deadline;
        }
        if (settled >= t->nconns) break;
        int ms = wake > now ? (int)((wake - now + 999999) / 1000000) : 0;
        int n = epoll_wait(t->ep, evs, MAX_EVENTS, ms);
        if (n < 0 && errno != EINTR) die("epoll_wait");
        now = now_ns();
        for (int i = 0; i < n; i++) {
            struct conn *c = evs[i].data.ptr;
            if (c->state != C_CONNECTING) continue;
            int err = 0;
            socklen_t len = sizeof err;
            if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0) err = errno;
            if (err == 0 && !(evs[i].events & (EPOLLERR | EPOLLHUP))) {
                int one = 1;
                setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
                c->state = C_OPEN;
                set_interest(t, c, 0);
                t->active++;
                t->st.established++;
                settled++, inflight--;
            } else {
                connect_failed(t, c, err ? err : ECONNREFUSED, now);
                if (c->state == C_FAILED) settled++, inflight--;
            }
        }
    }
}

/* ---- traffic -------------------------------------------------------------------------------- */
static void begin_close(struct thread *t, struct conn *c) {
    shutdown(c->fd, SHUT_WR);
    c->state = C_CLOSING;
    set_interest(t, c, 0);
}

static void do_write(struct thread *t, struct conn *c) {
    while (c->tx_off < c->tx_goal) {
        size_t n = c->tx_goal - c->tx_off < IO_BUF ? (size_t)(c->tx_goal - c->tx_off) : IO_BUF;
        gen(c, c->tx_off, t->wbuf, n);
        ssize_t w = send(c->fd, t->wbuf, n, MSG_NOSIGNAL);
        if (w < 0) {
            if (errno == EINTR) continue;
            if (errno == EAGAIN) break;
            conn_fail(t, c, errno, "send");
            return;
        }
        c->tx_off += (uint64_t)w;
        if ((size_t)w < n) break; /* socket buffer full */
    }
    set_interest(t, c, c->tx_off < c->tx_goal);
}

static void do_read(struct thread *t, struct conn *c) {
    ssize_t r = recv(c->fd, t->rbuf, IO_BUF, 0);
    if (r < 0) {
        if (errno == EINTR || errno == EAGAIN) return;
        conn_fail(t, c, errno, "recv");
        return;
    }
    if (r == 0) {
        if (c->state == C_CLOSING && c->rx_off == c->tx_goal)
            conn_close(t, c, C_DONE); /* the clean end */
        else
            conn_fail(t, c, 0, "recv");
        return;
    }
    uint64_t now = now_ns();
    size_t len = (size_t)r;
    if (c->rx_off + len > c->tx_off) { /* more than was sent: check what was owed, then fail */
        size_t owed = (size_t)(c->tx_off - c->rx_off);
        verify(t, c, c->rx_off, t->rbuf, owed);
        t->st.verified += owed;
        c->rx_off += owed;
        t->st.extra++;
        if (!atomic_exchange(&g_reported, 1))
            fprintf(stderr, "loadgen: thread %d conn %u: server sent %zu bytes more than it was sent\n", t->idx, c->id,
                    len - owed);
        conn_close(t, c, C_FAILED);
        return;
    }
    verify(t, c, c->rx_off, t->rbuf, len);
    t->st.verified += len;
    uint64_t m = c->rx_off / g_size, m_end = (c->rx_off + len) / g_size;
    c->rx_off += len;
    int running = now < g_t_end && c->state == C_OPEN;
    int measure = running && now >= g_t_meas;
    for (; m < m_end; m++) { /* messages completed by this read */
        uint64_t *slot = &c->sent_ns[m % g_depth];
        uint64_t lat = now - *slot;
        t->st.msgs_total++;
        if (measure) {
            t->st.msgs++;
            t->st.hist[h_index(lat)]++;
            if (lat > t->st.max_ns) t->st.max_ns = lat;
        }
        if (running) {
            *slot = now; /* message m + depth reuses the slot */
            c->tx_goal += g_size;
        }
    }
    if (c->tx_off < c->tx_goal) {
        if (!c->want_out) do_write(t, c); /* else wait for EPOLLOUT */
    } else if (!running && c->state == C_OPEN && c->rx_off == c->tx_goal) {
        begin_close(t, c);
    }
}

static void run_traffic(struct thread *t) {
    struct epoll_event evs[MAX_EVENTS];
    uint64_t now = now_ns();
    if (!g_idle)
        for (uint32_t i = 0; i < t->nconns; i++) {
            struct conn *c = &t->conns[i];
            if (c->state != C_OPEN) continue;
            for (uint32_t k = 0; k < g_depth; k++) c->sent_ns[k] = now;
            c->tx_goal = (uint64_t)g_depth * g_size;
            do_write(t, c);
        }
    int stopping = 0;
    uint64_t drain_deadline = g_t_end + DRAIN_TIMEOUT_NS;
    for (;;) {
        now = now_ns();
        if (!stopping && now >= g_t_end) {
            stopping = 1;
            for (uint32_t i = 0; i < t->nconns; i++) {
                struct conn *c = &t->conns[i];
                if (c->state == C_OPEN && c->rx_off == c->tx_goal) begin_close(t, c);
            }
        }
        if (t->active == 0) break;
        if (now >= drain_deadline) break;
        uint64_t wake = stopping ? drain_deadline : g_t_end;
        int ms = (int)((wake - now + 999999) / 1000000);
        int n = epoll_wait(t->ep, evs, MAX_EVENTS, ms);
        if (n < 0 && errno != EINTR) die("epoll_wait");
        for (int i = 0; i < n; i++) {
            struct conn *c = evs[i].data.ptr;
            if (c->state != C_OPEN && c->state != C_CLOSING) continue; /* closed earlier in this batch */
            if (g_idle && c->state == C_OPEN) {
                if (evs[i].events & EPOLLIN) {
                    ssize_t r = recv(c->fd, t->rbuf, IO_BUF, 0);
                    if (r > 0) {
                        t->st.extra++;
                        if (!atomic_exchange(&g_reported, 1))
                            fprintf(stderr, "loadgen: idle conn %u received %zd unsolicited bytes\n", c->id, r);
                        conn_close(t, c, C_FAILED);
                    } else if (r == 0 || (errno != EAGAIN && errno != EINTR)) {
                        conn_fail(t, c, r == 0 ? 0 : errno, "recv");
                    }
                }
                continue;
            }
            if ((evs[i].events & EPOLLOUT) && c->state == C_OPEN) do_write(t, c);
            if ((evs[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR)) && (c->state == C_OPEN || c->state == C_CLOSING))
                do_read(t, c);
        }
    }
    /* whatever is left after the drain timeout */
    for (uint32_t i = 0; i < t->nconns; i++) {
        struct conn *c = &t->conns[i];
        if (c->state == C_OPEN && c->rx_off != c->tx_goal) {
            t->st.stalled++;
            if (!atomic_exchange(&g_reported, 1))
                fprintf(stderr, "loadgen: conn %u: echo incomplete after %.1f s drain (sent %llu, got %llu bytes)\n",
                        c->id, DRAIN_TIMEOUT_NS / 1e9, (unsigned long long)c->tx_goal, (unsigned long long)c->rx_off);
        }
        if (c->state == C_OPEN || c->state == C_CLOSING) conn_close(t, c, C_DONE); /* server kept it open */
    }
}

static void *thread_main(void *arg) {
    struct thread *t = arg;
    if (g_cpu >= 0) {
        cpu_set_t set;
        CPU_ZERO(&set);
        CPU_SET((unsigned)(g_cpu + t->idx), &set);
        int e = pthread_setaffinity_np(pthread_self(), sizeof set, &set);
        if (e) {
            errno = e;
            die("pinning to -C CPU");
        }
    }
    connect_all(t);
    if (pthread_barrier_wait(&g_barrier) == PTHREAD_BARRIER_SERIAL_THREAD) {
        /* every thread is past its connect phase: their `established` counts are final */
        g_t_start = now_ns();
        g_t_meas = g_t_start + (uint64_t)((g_idle ? 0 : g_warmup) * 1e9);
        g_t_end = g_t_meas + (uint64_t)(g_duration * 1e9);
        if (g_idle) {
            uint64_t est = 0;
            for (uint32_t i = 0; i < g_threads; i++) est += g_ts[i].st.established;
            fprintf(stderr, "loadgen: idle: %llu connections established, holding %.2f s\n", (unsigned long long)est,
                    g_duration);
        }
    }
    pthread_barrier_wait(&g_barrier);
    run_traffic(t);
    return NULL;
}

/* ---- setup ---------------------------------------------------------------------------------- */
static void usage(void) {
    fprintf(stderr, "usage: loadgen -p PORT [-a ADDR] [-c CONNS] [-d DEPTH] [-s SIZE] [-T SECS] [-w SECS] [-C CPU]"
                    " [-t THREADS] [-i] [-j]\n"
                    "  -a ADDR     server address, IPv4 or IPv6 (default 127.0.0.1)\n"
                    "  -p PORT     server port (required)\n"
                    "  -c CONNS    connections (default 50)\n"
                    "  -d DEPTH    messages in flight per connection (default 1)\n"
                    "  -s SIZE     message bytes, 1..1048576 (default 64)\n"
                    "  -T SECS     measured duration (default 5; fractions ok)\n"
                    "  -w SECS     warm-up before it, not counted (default 0.5)\n"
                    "  -C CPU      pin thread i to CPU+i\n"
                    "  -t THREADS  client threads, connections split among them (default 1)\n"
                    "  -i          idle: hold CONNS idle connections for -T seconds, then close\n"
                    "  -j          one JSON line instead of the table\n");
    exit(2);
}

static long parse_long(const char *s, long lo, long hi, const char *what) {
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || *end || end == s || v < lo || v > hi) {
        fprintf(stderr, "loadgen: %s must be an integer in [%ld, %ld], got '%s'\n", what, lo, hi, s);
        exit(2);
    }
    return v;
}

static double parse_secs(const char *s, const char *what) {
    char *end;
    double v = strtod(s, &end);
    if (*end || end == s || !(v >= 0 && v <= 86400)) {
        fprintf(stderr, "loadgen: %s must be seconds in [0, 86400], got '%s'\n", what, s);
        exit(2);
    }
    return v;
}

static void raise_nofile(uint64_t need) {
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) < 0) die("getrlimit");
    if (rl.rlim_max != RLIM_INFINITY && rl.rlim_max < need && geteuid() == 0) {
        struct rlimit r2 = { need, need };
        FILE *f = fopen("/proc/sys/fs/nr_open", "r");
        unsigned long long nr;
        if (f) {
            if (fscanf(f, "%llu", &nr) == 1 && nr >= need) r2.rlim_cur = r2.rlim_max = nr;
            fclose(f);
        }
        if (setrlimit(RLIMIT_NOFILE, &r2) == 0) rl = r2;
    }
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
    getrlimit(RLIMIT_NOFILE, &rl);
    if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < need) {
        fprintf(stderr, "loadgen: %u connections need about %llu file descriptors, the limit is %llu\n", g_conns,
                (unsigned long long)need, (unsigned long long)rl.rlim_cur);
        exit(2);
    }
}

int main(int argc, char **argv) {
    int opt;
    while ((opt = getopt(argc, argv, "a:p:c:d:s:T:w:C:t:ijh")) != -1) {
        switch (opt) {
            case 'a': g_addr_str = optarg; break;
            case 'p': g_port = (int)parse_long(optarg, 1, 65535, "-p PORT"); break;
            case 'c': g_conns = (uint32_t)parse_long(optarg, 1, MAX_CONNS, "-c CONNS"); break;
            case 'd': g_depth = (uint32_t)parse_long(optarg, 1, MAX_DEPTH, "-d DEPTH"); break;
            case 's': g_size = (uint32_t)parse_long(optarg, 1, MAX_SIZE, "-s SIZE"); break;
            case 'T': g_duration = parse_secs(optarg, "-T"); break;
            case 'w': g_warmup = parse_secs(optarg, "-w"); break;
            case 'C': g_cpu = (int)parse_long(optarg, 0, CPU_SETSIZE - 1, "-C CPU"); break;
            case 't': g_threads = (uint32_t)parse_long(optarg, 1, 1024, "-t THREADS"); break;
            case 'i': g_idle = 1; break;
            case 'j': g_json = 1; break;
            default: usage();
        }
    }
    if (optind != argc || g_port < 0) usage();
    if (g_threads > g_conns) g_threads = g_conns;
    if (g_duration <= 0) {
        fprintf(stderr, "loadgen: -T must be > 0\n");
        exit(2);
    }
    if (!g_idle && (uint64_t)g_conns * g_depth > MAX_INFLIGHT) {
        fprintf(stderr, "loadgen: -c x -d must be at most %u (one timestamp per message in flight)\n", MAX_INFLIGHT);
        exit(2);
    }
    if (g_cpu >= 0) { /* fail here rather than in a thread half-way through connecting */
        cpu_set_t allowed;
        if (sched_getaffinity(0, sizeof allowed, &allowed) < 0) die("sched_getaffinity");
        for (uint32_t i = 0; i < g_threads; i++)
            if (g_cpu + (int)i >= CPU_SETSIZE || !CPU_ISSET((unsigned)g_cpu + i, &allowed)) {
                fprintf(stderr, "loadgen: -C %d with %u thread(s): CPU %u is not available\n", g_cpu, g_threads,
                        (unsigned)g_cpu + i);
                exit(2);
            }
    }

    memset(&g_addr, 0, sizeof g_addr);
    struct sockaddr_in *a4 = (struct sockaddr_in *)&g_addr;
    struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)&g_addr;
    if (inet_pton(AF_INET, g_addr_str, &a4->sin_addr) == 1) {
        a4->sin_family = AF_INET;
        a4->sin_port = htons((uint16_t)g_port);
        g_addrlen = sizeof *a4;
    } else if (inet_pton(AF_INET6, g_addr_str, &a6->sin6_addr) == 1) {
        a6->sin6_family = AF_INET6;
        a6->sin6_port = htons((uint16_t)g_port);
        g_addrlen = sizeof *a6;
    } else {
        fprintf(stderr, "loadgen: -a %s is not a numeric IPv4 or IPv6 address\n", g_addr_str);
        exit(2);
    }

    raise_nofile((uint64_t)g_conns + 64 + 2 * g_threads);
    signal(SIGPIPE, SIG_IGN);
    if (!g_idle) tbl_init();

    struct thread *ts = g_ts = calloc(g_threads, sizeof *ts);
    struct conn *conns = calloc(g_conns, sizeof *conns);
    uint64_t *slots = g_idle ? NULL : calloc((size_t)g_conns * g_depth, sizeof *slots);
    if (!ts || !conns || (!g_idle && !slots)) die("calloc");
    for (uint32_t i = 0; i < g_conns; i++) {
        struct conn *c = &conns[i];
        c->fd = -1;
        c->id = i;
        c->base = ((uint64_t)i * 2654435761u) % TBL_PERIOD;
        c->tag = ((uint64_t)i + 1) * 0x9E3779B97F4A7C15ull;
        c->sent_ns = slots ? slots + (size_t)i * g_depth : NULL;
    }
    pthread_barrier_init(&g_barrier, NULL, g_threads);
    for (uint32_t i = 0; i < g_threads; i++) {
        struct thread *t = &ts[i];
        t->idx = (int)i;
        uint32_t lo = (uint32_t)((uint64_t)g_conns * i / g_threads);
        uint32_t hi = (uint32_t)((uint64_t)g_conns * (i + 1) / g_threads);
        t->conns = conns + lo;
        t->nconns = hi - lo;
        t->ep = epoll_create1(EPOLL_CLOEXEC);
        if (t->ep < 0) die("epoll_create1");
        t->rbuf = malloc(IO_BUF);
        t->wbuf = malloc(IO_BUF);
        if (!t->rbuf || !t->wbuf) die("malloc");
    }
    for (uint32_t i = 0; i < g_threads; i++) {
        int e = pthread_create(&ts[i].th, NULL, thread_main, &ts[i]);
        if (e) {
            errno = e;
            die("pthread_create");
        }
    }
    for (uint32_t i = 0; i < g_threads; i++) pthread_join(ts[i].th, NULL);

    struct stats *tot = calloc(1, sizeof *tot);
    if (!tot) die("calloc");
    for (uint32_t i = 0; i < g_threads; i++) {
        struct stats *s = &ts[i].st;
        tot->msgs += s->msgs, tot->msgs_total += s->msgs_total, tot->verified += s->verified;
        tot->mismatches += s->mismatches, tot->eofs += s->eofs, tot->resets += s->resets;
        tot->sock_errors += s->sock_errors, tot->connect_failures += s->connect_failures;
        tot->stalled += s->stalled, tot->extra += s->extra, tot->established += s->established;
        if (s->max_ns > tot->max_ns) tot->max_ns = s->max_ns;
        for (unsigned k = 0; k < H_BUCKETS; k++) tot->hist[k] += s->hist[k];
    }
    uint64_t errors = tot->mismatches + tot->eofs + tot->resets + tot->sock_errors + tot->connect_failures +
                      tot->stalled + tot->extra;
    double secs = g_duration;
    if (g_idle) {
        if (g_json)
            printf("{\"mode\":\"idle\",\"addr\":\"%s\",\"port\":%d,\"conns\":%u,\"established\":%llu,\"held_s\":%.3f,"
                   "\"errors\":%llu,\"eof\":%llu,\"resets\":%llu,\"sock_errors\":%llu,\"connect_failures\":%llu,"
                   "\"unsolicited\":%llu}\n",
                   g_addr_str, g_port, g_conns, (unsigned long long)tot->established, secs, (unsigned long long)errors,
                   (unsigned long long)tot->eofs, (unsigned long long)tot->resets, (unsigned long long)tot->sock_errors,
                   (unsigned long long)tot->connect_failures, (unsigned long long)tot->extra);
        else
            printf("loadgen: %s:%d idle: %llu of %u connections held %.2f s, errors %llu\n", g_addr_str, g_port,
                   (unsigned long long)tot->established, g_conns, secs, (unsigned long long)errors);
    } else {
        double mps = (double)tot->msgs / secs;
        double mbps = mps * g_size / 1e6;
        double p50 = h_percentile(tot->hist, tot->msgs, tot->max_ns, 0.50) / 1e3;
        double p90 = h_percentile(tot->hist, tot->msgs, tot->max_ns, 0.90) / 1e3;
        double p99 = h_percentile(tot->hist, tot->msgs, tot->max_ns, 0.99) / 1e3;
        double p999 = h_percentile(tot->hist, tot->msgs, tot->max_ns, 0.999) / 1e3;
        double mx = (double)tot->max_ns / 1e3;
        if (g_json)
            printf("{\"mode\":\"echo\",\"addr\":\"%s\",\"port\":%d,\"conns\":%u,\"established\":%llu,\"depth\":%u,"
                   "\"size\":%u,\"threads\":%u,\"duration_s\":%.3f,\"warmup_s\":%.3f,\"msgs\":%llu,"
                   "\"msgs_total\":%llu,\"msgs_per_s\":%.1f,\"mb_per_s\":%.3f,\"p50_us\":%.2f,\"p90_us\":%.2f,"
                   "\"p99_us\":%.2f,\"p999_us\":%.2f,\"max_us\":%.2f,\"errors\":%llu,\"mismatches\":%llu,\"eof\":%llu,"
                   "\"resets\":%llu,\"sock_errors\":%llu,\"connect_failures\":%llu,\"stalled\":%llu,\"extra\":%llu,"
                   "\"verified_bytes\":%llu}\n",
                   g_addr_str, g_port, g_conns, (unsigned long long)tot->established, g_depth, g_size, g_threads, secs,
                   g_warmup, (unsigned long long)tot->msgs, (unsigned long long)tot->msgs_total, mps, mbps, p50, p90,
                   p99, p999, mx, (unsigned long long)errors, (unsigned long long)tot->mismatches,
                   (unsigned long long)tot->eofs, (unsigned long long)tot->resets, (unsigned long long)tot->sock_errors,
                   (unsigned long long)tot->connect_failures, (unsigned long long)tot->stalled,
                   (unsigned long long)tot->extra, (unsigned long long)tot->verified);
        else {
            printf("loadgen: %s:%d, %u conns x depth %u x %u B, %u thread%s, %.2f s (+%.2f s warm-up)\n", g_addr_str,
                   g_port, g_conns, g_depth, g_size, g_threads, g_threads == 1 ? "" : "s", secs, g_warmup);
            printf("%12s %10s %9s %9s %9s %9s %10s %7s %16s\n", "msgs/s", "MB/s", "p50 us", "p90 us", "p99 us",
                   "p99.9 us", "max us", "errors", "verified bytes");
            printf("%12.0f %10.2f %9.1f %9.1f %9.1f %9.1f %10.1f %7llu %16llu\n", mps, mbps, p50, p90, p99, p999, mx,
                   (unsigned long long)errors, (unsigned long long)tot->verified);
        }
    }
    if (errors)
        fprintf(stderr,
                "loadgen: ERRORS: %llu mismatched messages, %llu unexpected EOF, %llu resets, %llu other socket errors,"
                " %llu connect failures, %llu stalled, %llu excess/unsolicited data\n",
                (unsigned long long)tot->mismatches, (unsigned long long)tot->eofs, (unsigned long long)tot->resets,
                (unsigned long long)tot->sock_errors, (unsigned long long)tot->connect_failures,
                (unsigned long long)tot->stalled, (unsigned long long)tot->extra);
    for (uint32_t i = 0; i < g_threads; i++) {
        close(ts[i].ep);
        free(ts[i].rbuf);
        free(ts[i].wbuf);
    }
    free(tot), free(slots), free(conns), free(ts), free(g_tbl);
    pthread_barrier_destroy(&g_barrier);
    return errors ? 1 : 0;
}
