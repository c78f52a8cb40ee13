/* The obvious copying echo under load: on_data does exactly zenith_server_send(s, conn, data,
   len) of the borrowed data -- the design's shape and what every binding does -- and nothing
   else (no on_drain, no keep, no pause). Receives and copied sends draw on one pool; the send
   reserve and the held deliveries must keep such an echo from ever meeting ZENITH_E_FULL, with
   the default config, with slow readers pushing back, and through a tiny pool. 64 connections
   each time, every byte verified in order, every connection closed by its peer. */
#define ZENITH_IMPLEMENTATION
#include "zenith.h"

#include "criterion_compat.h" /* Criterion (or its TSan stand-in) */
#include "net_helpers.h"
#include "helpers.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* The same sizes under ASan (+UBSan): the bytes are the kernel's to move and memcpy/memcmp's to
   check, so the sanitized build runs these at about the plain build's speed (measured: 1-2 s a
   test either way). */
#define NCONN 64
#define MIB (1024u * 1024u)
#define IO_CHUNK (64u * 1024u) /* a client's largest write and read */
#define TBL_PERIOD 1048573u    /* prime: the pattern never lines up with a buffer or a chunk */

/* ---- the pattern: stream byte k of connection i is tbl[(base_i + k) % TBL_PERIOD] ---------- */

static unsigned char *g_tbl; /* TBL_PERIOD + IO_CHUNK bytes: any IO_CHUNK from an offset < P */

static void tbl_init(void) {
    uint64_t x = 0x9E3779B97F4A7C15ull;
    uint32_t i;
    if (g_tbl) return;
    g_tbl = malloc(TBL_PERIOD + IO_CHUNK);
    cr_assert_not_null(g_tbl);
    for (i = 0; i < TBL_PERIOD; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        g_tbl[i] = (unsigned char)(x >> 32);
    }
    for (i = TBL_PERIOD; i < TBL_PERIOD + IO_CHUNK; i++) g_tbl[i] = g_tbl[i - TBL_PERIOD];
}

static const unsigned char *pat(uint64_t base, uint64_t off) { return g_tbl + (base + off) % TBL_PERIOD; }

/* ---- the server: the obvious echo on its own thread ------------------------------------------- */

typedef struct {
    zenith_server *s;
    pthread_t thread;
    atomic_int accepts, closes, started;
    int closes_not_peer, first_bad_reason; /* on_close reasons other than ZENITH_CLOSE_PEER */
    uint64_t sends, send_errors, full_errors, bytes_echoed;
    int first_err;
    zenith_pool_stats pool0; /* just after start: the receive ring and the reserve lent out */
    int epoll;               /* the reactor runs on the epoll backend */
} echo_srv;

static void echo_on_data(void *user, zenith_conn_id conn, const uint8_t *data, size_t len) {
    echo_srv *e = (echo_srv *)user;
    int rc = zenith_server_send(e->s, conn, data, len);
    e->sends++;
    if (rc == 0) {
        e->bytes_echoed += len;
        return;
    }
    /* counted, not asserted here: the test thread reports how many and which */
    if (e->send_errors++ == 0) e->first_err = rc;
    if (rc == ZENITH_E_FULL) e->full_errors++;
}

static void echo_on_accept(void *user, zenith_conn_id conn) {
    echo_srv *e = (echo_srv *)user;
    (void)conn;
    atomic_fetch_add(&e->accepts, 1);
}

static void echo_on_close(void *user, zenith_conn_id conn, int reason) {
    echo_srv *e = (echo_srv *)user;
    (void)conn;
    if (reason != ZENITH_CLOSE_PEER && e->closes_not_peer++ == 0) e->first_bad_reason = reason;
    atomic_fetch_add(&e->closes, 1);
}

static void *echo_loop(void *arg) {
    echo_srv *e = (echo_srv *)arg;
    int rc = zenith_server_start(e->s);
    cr_assert_eq(rc, 0, "zenith_server_start: %d %s", rc, zenith_errname(rc));
    cr_assert_eq(zenith_pool_get_stats(zenith_server_pool(e->s), &e->pool0), 0);
    atomic_store(&e->started, 1);
    while (!zenith_server_stopped(e->s)) {
        rc = zenith_server_run_once(e->s, 100);
        cr_assert_geq(rc, 0, "run_once: %d %s", rc, zenith_errname(rc));
    }
    return NULL;
}

static void echo_start(echo_srv *e, const zenith_server_config *cfg) {
    int err = 0;
    memset(e, 0, sizeof *e);
    e->s = zenith_server_create(cfg, &err);
    if (e->s == NULL && err == ZENITH_E_URING_DISABLED) cr_skip("io_uring is disabled here");
    cr_assert_not_null(e->s, "zenith_server_create: %d %s", err, zenith_errname(err));
    e->epoll = on_epoll(e->s);
    cr_assert_eq(zenith_server_set_callbacks(e->s, echo_on_accept, echo_on_data, echo_on_close, e), 0);
    cr_assert_eq(pthread_create(&e->thread, NULL, echo_loop, e), 0);
    while (!atomic_load(&e->started)) usleep(1000);
}

/* ---- the clients: every connection writes and reads at once, checks every byte --------------- */

typedef struct {
    int fd;
    int slow;      /* reads in small chunks with sleeps (its echo queue fills: backpressure) */
    int wr_shut;   /* everything sent, SHUT_WR done */
    int done;      /* everything verified, then the server's EOF */
    uint64_t base; /* pattern offset */
    uint64_t total, sent, got;
} cli_conn;

typedef struct {
    cli_conn *c;
    int n;
    double deadline;
    size_t slow_chunk; /* a slow reader's read size */
    unsigned slow_sleep_us;
    char err[256]; /* the first failure, empty if none */
} cli_job;

static void job_fail(cli_job *j, cli_conn *c, const char *what, int e) {
    if (j->err[0]) return;
    snprintf(j->err, sizeof j->err, "conn fd %d (%s): %s%s%s: sent %llu, verified %llu of %llu", c->fd,
             c->slow ? "slow" : "fast", what, e ? ": " : "", e ? strerror(e) : "", (unsigned long long)c->sent,
             (unsigned long long)c->got, (unsigned long long)c->total);
}

/* The deadline passed: names the first unfinished connection and how many there are. */
static void job_stalled(cli_job *j) {
    int i, n = 0, first = -1;
    char what[96];
    for (i = 0; i < j->n; i++)
        if (!j->c[i].done && n++ == 0) first = i;
    snprintf(what, sizeof what, "stalled (%d of %d connections unfinished; the first)", n, j->n);
    if (first >= 0) job_fail(j, &j->c[first], what, 0);
}

static int cli_write(cli_job *j, cli_conn *c) {
    while (c->sent < c->total) {
        size_t n = c->total - c->sent < IO_CHUNK ? (size_t)(c->total - c->sent) : IO_CHUNK;
        ssize_t w = send(c->fd, pat(c->base, c->sent), n, MSG_NOSIGNAL);
        if (w < 0) {
            if (errno == EINTR) continue;
            if (errno == EAGAIN) return 0;
            job_fail(j, c, "send", errno);
            return -1;
        }
        c->sent += (uint64_t)w;
        if ((size_t)w < n || c->slow) break; /* socket buffer full; a slow one writes one chunk per turn */
    }
    if (c->sent == c->total && !c->wr_shut) {
        /* the peer's EOF: the server sends what is queued, then closes (ZENITH_CLOSE_PEER) */
        if (shutdown(c->fd, SHUT_WR) != 0) {
            job_fail(j, c, "shutdown", errno);
            return -1;
        }
        c->wr_shut = 1;
    }
    return 0;
}

/* One read of at most max bytes: -1 failed, 0 nothing there, 1 progress. */
static int cli_read(cli_job *j, cli_conn *c, unsigned char *buf, size_t max) {
    ssize_t r = recv(c->fd, buf, max, 0);
    if (r < 0) {
        if (errno == EAGAIN || errno == EINTR) return 0;
        job_fail(j, c, "recv", errno);
        return -1;
    }
    if (r == 0) {
        if (c->got != c->total || !c->wr_shut) {
            job_fail(j, c, "closed early (EOF before the whole echo)", 0);
            return -1;
        }
        c->done = 1;
        return 1;
    }
    if (c->got + (uint64_t)r > c->sent) {
        job_fail(j, c, "more bytes echoed than sent", 0);
        return -1;
    }
    if (memcmp(buf, pat(c->base, c->got), (size_t)r) != 0) {
        size_t k = 0;
        while (buf[k] == pat(c->base, c->got)[k]) k++;
        snprintf(j->err, sizeof j->err, "conn fd %d (%s): stream byte %llu differs (0x%02x, want 0x%02x)", c->fd,
                 c->slow ? "slow" : "fast", (unsigned long long)(c->got + k), buf[k], pat(c->base, c->got)[k]);
        return -1;
    }
    c->got += (uint64_t)r;
    return 1;
}

/* Full-speed clients: one poll loop over all of them. */
static void *fast_clients(void *arg) {
    cli_job *j = (cli_job *)arg;
    struct pollfd *p = calloc((size_t)j->n, sizeof *p);
    unsigned char *buf = malloc(IO_CHUNK);
    int left = j->n, i;
    cr_assert(p != NULL && buf != NULL);
    while (left > 0 && !j->err[0]) {
        int np = 0;
        if (now_s() > j->deadline) {
            job_stalled(j);
            break;
        }
        for (i = 0; i < j->n; i++) {
            cli_conn *c = &j->c[i];
            if (c->done) continue;
            p[np].fd = c->fd;
            p[np].events = (short)(POLLIN | (c->sent < c->total ? POLLOUT : 0));
            p[np].revents = 0;
            np++;
        }
        if (poll(p, (nfds_t)np, 100) <= 0) continue;
        for (i = 0, np = 0; i < j->n; i++) {
            cli_conn *c = &j->c[i];
            short rev;
            if (c->done) continue;
            rev = p[np++].revents;
            if ((rev & POLLOUT) && cli_write(j, c) < 0) break;
            if (rev & (POLLIN | POLLHUP | POLLERR)) {
                if (cli_read(j, c, buf, IO_CHUNK) < 0) break;
                if (c->done) left--;
            }
        }
    }
    free(buf);
    free(p);
    return NULL;
}

/* Slow readers: each turn, one write of up to IO_CHUNK and one read of slow_chunk per
   connection, then a sleep. Their writes outrun their reads, so the server's queues for them
   reach send_queue_max and the server stops reading from them (and, through the shared pool,
   the reserve is what the rest of the echo lives on). */
static void *slow_clients(void *arg) {
    cli_job *j = (cli_job *)arg;
    unsigned char *buf = malloc(j->slow_chunk);
    int left = j->n, i;
    cr_assert_not_null(buf);
    while (left > 0 && !j->err[0]) {
        if (now_s() > j->deadline) {
            job_stalled(j);
            break;
        }
        for (i = 0; i < j->n; i++) {
            cli_conn *c = &j->c[i];
            if (c->done) continue;
            if (cli_write(j, c) < 0 || cli_read(j, c, buf, j->slow_chunk) < 0) break;
            if (c->done) left--;
        }
        usleep(j->slow_sleep_us);
    }
    free(buf);
    return NULL;
}

/* ---- one run ------------------------------------------------------------------------------------ */

typedef struct {
    int nslow;              /* of NCONN */
    uint64_t bytes_fast;    /* per full-speed connection */
    uint64_t bytes_slow;    /* per slow reader */
    int slow_rcvbuf;        /* SO_RCVBUF of a slow reader (small: its echo backs up fast) */
    size_t slow_chunk;      /* bytes per read */
    unsigned slow_sleep_us; /* between turns */
    double timeout_s;       /* the clients' deadline */
    int pool_must_run_dry;  /* the pool must have been found empty (the reserve is what sends live on),
                               on io_uring, whose ring holds recv_buffers all the time; epoll takes
                               receive buffers only when data is there, and the same load leaves
                               the pool some in one run of two (the reserve path is common code) */
} load_spec;

static void run_echo_load(const zenith_server_config *cfg, const load_spec *ls, const char *name) {
    echo_srv e;
    cli_conn *conns = calloc(NCONN, sizeof *conns);
    cli_job fast, slow;
    pthread_t tf, tsl;
    zenith_server_stats st;
    zenith_reactor_stats rs;
    zenith_pool_stats ps;
    uint64_t total = 0;
    double t0, took;
    int i, nfast = NCONN - ls->nslow;
    uint16_t port;

    cr_assert_not_null(conns);
    tbl_init();
    echo_start(&e, cfg);
    port = zenith_server_port(e.s);

    /* connections: the slow ones last, with a small receive buffer set before the handshake */
    for (i = 0; i < NCONN; i++) {
        cli_conn *c = &conns[i];
        c->slow = i >= nfast;
        c->fd = dial_rcvbuf(port, c->slow ? ls->slow_rcvbuf : 0);
        cr_assert_eq(fcntl(c->fd, F_SETFL, fcntl(c->fd, F_GETFL) | O_NONBLOCK), 0);
        c->base = (uint64_t)i * 104729u % TBL_PERIOD;
        c->total = c->slow ? ls->bytes_slow : ls->bytes_fast;
        total += c->total;
    }

    t0 = now_s();
    memset(&fast, 0, sizeof fast);
    memset(&slow, 0, sizeof slow);
    fast.c = conns;
    fast.n = nfast;
    fast.deadline = t0 + ls->timeout_s;
    slow.c = conns + nfast;
    slow.n = ls->nslow;
    slow.deadline = t0 + ls->timeout_s;
    slow.slow_chunk = ls->slow_chunk;
    slow.slow_sleep_us = ls->slow_sleep_us;
    cr_assert_eq(pthread_create(&tf, NULL, fast_clients, &fast), 0);
    if (ls->nslow) cr_assert_eq(pthread_create(&tsl, NULL, slow_clients, &slow), 0);
    cr_assert_eq(pthread_join(tf, NULL), 0);
    if (ls->nslow) cr_assert_eq(pthread_join(tsl, NULL), 0);
    took = now_s() - t0;

    /* every connection ended by its peer: wait for the server's on_close of each */
    if (!fast.err[0] && !slow.err[0]) {
        double end = now_s() + 10.0;
        while (atomic_load(&e.closes) < NCONN && now_s() < end) usleep(1000);
    }
    zenith_server_stop(e.s);
    cr_assert_eq(pthread_join(e.thread, NULL), 0);
    /* the server's thread has exited: this one drives it from here */
    cr_assert_eq(zenith_server_get_stats(e.s, &st), 0);
    cr_assert_eq(zenith_server_get_reactor_stats(e.s, &rs), 0);
    cr_assert_eq(zenith_pool_get_stats(zenith_server_pool(e.s), &ps), 0);

    cr_log_info("%s: %d connections (%d slow), %.1f MiB each way in %.2f s (%.0f MiB/s); sends %llu, "
                "send errors %llu; send_queue_full %llu, send_pool_empty %llu, deliveries_held %llu, "
                "recv_buffer_exhausted %llu; pool: %llu acquires found it empty, in use %llu at start, %llu at the end",
                name, NCONN, ls->nslow, (double)total / MIB, took, (double)total / MIB / took,
                (unsigned long long)e.sends, (unsigned long long)e.send_errors, (unsigned long long)st.send_queue_full,
                (unsigned long long)rs.send_pool_empty, (unsigned long long)rs.deliveries_held,
                (unsigned long long)st.recv_buffer_exhausted,
                (unsigned long long)(ps.failed_acquires - e.pool0.failed_acquires), (unsigned long long)e.pool0.in_use,
                (unsigned long long)ps.in_use);

    cr_assert_eq(e.send_errors, 0,
                 "%s: the echo's zenith_server_send failed %llu times of %llu (%llu ZENITH_E_FULL; first %d %s)", name,
                 (unsigned long long)e.send_errors, (unsigned long long)e.sends, (unsigned long long)e.full_errors,
                 e.first_err, zenith_errname(e.first_err));
    cr_assert_eq(fast.err[0], 0, "%s: full-speed client: %s", name, fast.err);
    cr_assert_eq(slow.err[0], 0, "%s: slow reader: %s", name, slow.err);
    for (i = 0; i < NCONN; i++) {
        cr_assert(conns[i].done, "%s: connection %d not finished", name, i);
        cr_assert_eq(conns[i].got, conns[i].total, "%s: connection %d: %llu of %llu verified", name, i,
                     (unsigned long long)conns[i].got, (unsigned long long)conns[i].total);
        close(conns[i].fd);
    }
    cr_assert_eq(st.send_queue_full, 0, "%s: send_queue_full %llu", name, (unsigned long long)st.send_queue_full);
    cr_assert_eq(atomic_load(&e.accepts), NCONN, "%s: accepted %d", name, atomic_load(&e.accepts));
    cr_assert_eq(atomic_load(&e.closes), NCONN, "%s: on_close %d times", name, atomic_load(&e.closes));
    cr_assert_eq(e.closes_not_peer, 0, "%s: %d connections closed otherwise than by their peer (first reason %d %s)",
                 name, e.closes_not_peer, e.first_bad_reason,
                 e.first_bad_reason < 0 ? zenith_errname(e.first_bad_reason) : "");
    cr_assert_eq(st.connections_accepted, NCONN);
    cr_assert_eq(st.connections_closed, NCONN);
    cr_assert_eq(st.connections_open, 0);
    cr_assert_eq(st.connection_errors, 0, "%s: connection_errors %llu", name, (unsigned long long)st.connection_errors);
    cr_assert_eq(st.bytes_in, total, "%s: bytes_in %llu of %llu", name, (unsigned long long)st.bytes_in,
                 (unsigned long long)total);
    cr_assert_eq(st.bytes_out, total, "%s: bytes_out %llu of %llu", name, (unsigned long long)st.bytes_out,
                 (unsigned long long)total);
    cr_assert_eq(e.bytes_echoed, total);
    cr_assert_eq(rs.send_pool_empty, 0);
    if (ls->pool_must_run_dry && !e.epoll) /* the load reached the path this test is for */
        cr_assert_gt(ps.failed_acquires - e.pool0.failed_acquires, 0, "%s: the pool never ran empty", name);
    /* every buffer the echo took came back: what is out is what was out at start (the receive
       ring and the send reserve, both full again) */
    cr_assert_eq(ps.in_use, e.pool0.in_use, "%s: pool in use %llu, %llu at start", name, (unsigned long long)ps.in_use,
                 (unsigned long long)e.pool0.in_use);

    cr_assert_geq(zenith_server_shutdown(e.s, 2000), 0);
    cr_assert_eq(zenith_pool_get_stats(zenith_server_pool(e.s), &ps), 0);
    cr_assert_eq(ps.in_use, e.pool0.in_use, "%s: after shutdown, pool in use %llu, %llu at start", name,
                 (unsigned long long)ps.in_use, (unsigned long long)e.pool0.in_use);
    zenith_server_destroy(e.s);
    free(conns);
}

/* Every field 0: the defaults (buffer_count 8192, recv_buffers 4096, send_reserve 512,
   send_queue_max 256 KiB) are what must survive. */
static zenith_server_config echo_cfg(void) {
    zenith_server_config c;
    memset(&c, 0, sizeof c);
    return c;
}

/* ---- tests ----------------------------------------------------------------------------------- */

/* (a) 64 connections x 8 MiB (512 MiB each way), all at full speed, the default config. */
Test(echo_load, default_config_64_connections_bulk, .timeout = 90) {
    zenith_server_config cfg = echo_cfg();
    load_spec ls;
    memset(&ls, 0, sizeof ls);
    ls.bytes_fast = 8u * MIB;
    ls.timeout_s = 50.0;
    run_echo_load(&cfg, &ls, "default pool, 64 full-speed");
}

/* (b) the same, a quarter of the clients reading 4 KiB at a time with sleeps: their queues
   fill, the server stops reading from them, the pool is shared with the 48 full-speed ones. */
Test(echo_load, default_config_with_slow_readers, .timeout = 90) {
    zenith_server_config cfg = echo_cfg();
    load_spec ls;
    memset(&ls, 0, sizeof ls);
    ls.nslow = NCONN / 4;
    ls.bytes_fast = 8u * MIB;
    ls.bytes_slow = 4u * MIB;
    ls.slow_rcvbuf = 16 * 1024;
    ls.slow_chunk = 4096;
    ls.slow_sleep_us = 1000;
    ls.timeout_s = 50.0;
    run_echo_load(&cfg, &ls, "default pool, 48 full-speed + 16 slow readers");
}

/* (c) a pool of 256 buffers (128 for receives) for 64 connections: the reserve (16) is what
   every reply lives on, deliveries are held again and again. */
Test(echo_load, small_pool_64_connections, .timeout = 90) {
    zenith_server_config cfg = echo_cfg();
    load_spec ls;
    cfg.buffer_count = 256;
    cfg.recv_buffers = 128;
    memset(&ls, 0, sizeof ls);
    ls.bytes_fast = 8u * MIB;
    ls.pool_must_run_dry = 1;
    ls.timeout_s = 50.0;
    run_echo_load(&cfg, &ls, "pool 256 / recv 128, 64 full-speed");
}

/* (d) the small pool with slow readers too: their full queues can hold every buffer the pool
   has; the echo must still lose nothing and refuse nothing, only go slower. */
Test(echo_load, small_pool_with_slow_readers, .timeout = 90) {
    zenith_server_config cfg = echo_cfg();
    load_spec ls;
    cfg.buffer_count = 256;
    cfg.recv_buffers = 128;
    memset(&ls, 0, sizeof ls);
    ls.nslow = NCONN / 4;
    ls.bytes_fast = 4u * MIB;
    ls.bytes_slow = 2u * MIB;
    ls.slow_rcvbuf = 16 * 1024;
    ls.slow_chunk = 4096;
    ls.slow_sleep_us = 1000;
    ls.pool_must_run_dry = 1;
    ls.timeout_s = 50.0;
    run_echo_load(&cfg, &ls, "pool 256 / recv 128, 48 full-speed + 16 slow readers");
}
