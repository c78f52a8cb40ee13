/* UDP across threads (issue 11; also run under TSan), one body for both backends:
   - two reactors on two threads, each with a UDP socket on one port (ZENITH_UDP_REUSEPORT), and a
     sender thread spraying 64 flows at it: every datagram arrives once, intact, on one of the
     two; each flow stays on one socket; both get some; nothing dropped;
   - zenith_server_post from three other threads, each message turned into a UDP send on the
     loop thread: every datagram arrives, in each poster's order;
   - zero-copy hand-off: on_recv keeps each buffer and passes it to a worker thread, which checks
     it and releases it to the server's pool from there; reception never stops for want of
     buffers and every buffer comes back.
   The loops run on their own threads (created there, or before start, as zenith.h allows);
   everything the main thread asserts was written before a join, or read through atomics. */
#define ZENITH_IMPLEMENTATION
#include "zenith.h"

#include "criterion_compat.h" /* Criterion (or its TSan stand-in) */
#include "net_helpers.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#if defined(ZENITH_TEST_SHIM) || defined(__SANITIZE_THREAD__)
#define UNDER_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define UNDER_TSAN 1
#endif
#endif
#ifndef UNDER_TSAN
#define UNDER_TSAN 0
#endif

/* ---- common -------------------------------------------------------------------------------------- */

static zenith_server_config thr_cfg(void) {
    zenith_server_config c;
    memset(&c, 0, sizeof c);
    c.flags = ZENITH_SERVER_NO_LISTEN;
    c.max_connections = 16;
    c.buffer_count = 1024;
    return c;
}

static void no_data(void *user, zenith_conn_id conn, const uint8_t *data, size_t len) {
    (void)user;
    (void)conn;
    (void)data;
    (void)len;
}

/* Created here, started by the thread that runs it. */
static zenith_server *mkserver(const zenith_server_config *c) {
    int err = 12345;
    zenith_server *s = zenith_server_create(c, &err);
    if (s == NULL && err == ZENITH_E_URING_DISABLED) cr_skip("io_uring is disabled here");
    cr_assert_not_null(s, "zenith_server_create: %d %s", err, zenith_errname(err));
    cr_assert_eq(zenith_server_set_callbacks(s, NULL, no_data, NULL, NULL), 0);
    return s;
}

static zenith_udp_id open_ok(zenith_server *s, const zenith_udp_config *c) {
    zenith_udp_id id = 0;
    int rc = zenith_udp_open(s, c, &id);
    cr_assert_eq(rc, 0, "zenith_udp_open: %d %s", rc, zenith_errname(rc));
    cr_assert_neq(id, 0u);
    return id;
}

static uint8_t pat(uint32_t a, uint32_t b, uint32_t i) {
    return (uint8_t)(((a * 2654435761u) >> 24) ^ (b * 40503u) ^ (i * 31u) ^ (i >> 8));
}

static void sleep_ms(int ms) {
    struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

/* A first failure seen on a thread that is not the test's: kept for the main thread to assert. */
typedef struct {
    int failed; /* atomic */
    char why[256];
} fail_t;

static void fail_once(fail_t *f, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void fail_once(fail_t *f, const char *fmt, ...) {
    va_list ap;
    int expect = 0;
    if (!__atomic_compare_exchange_n(&f->failed, &expect, 1, 0, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) return;
    va_start(ap, fmt);
    vsnprintf(f->why, sizeof f->why, fmt, ap);
    va_end(ap);
    __atomic_store_n(&f->failed, 2, __ATOMIC_RELEASE);
}

static int failed(fail_t *f) { return __atomic_load_n(&f->failed, __ATOMIC_ACQUIRE) != 0; }

/* A plain non-blocking UDP socket on 127.0.0.1:0 with a big receive buffer. */
static int plain_udp(void) {
    struct sockaddr_in a;
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0), buf = 4 << 20;
    cr_assert_geq(fd, 0);
    if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &buf, sizeof buf) != 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &buf, sizeof buf);
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    cr_assert_eq(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    return fd;
}

static uint16_t fd_port(int fd) {
    struct sockaddr_in a;
    socklen_t len = sizeof a;
    cr_assert_eq(getsockname(fd, (struct sockaddr *)&a, &len), 0);
    return ntohs(a.sin_port);
}

/* A reactor thread: starts the loop, runs it until stopped, then reads the socket's info. */
typedef struct {
    zenith_server *s;
    zenith_udp_id id;
    int start_rc, run_rc;
    zenith_udp_info info; /* read on the loop thread after the loop */
    int info_rc;
    int started;    /* atomic */
    pthread_t self; /* the loop thread, written by it before `started` */
} loop_t;

static void *loop_main(void *arg) {
    loop_t *l = (loop_t *)arg;
    l->self = pthread_self();
    l->start_rc = zenith_server_start(l->s);
    __atomic_store_n(&l->started, 1, __ATOMIC_RELEASE);
    if (l->start_rc != 0) return NULL;
    while (!zenith_server_stopped(l->s)) {
        int r = zenith_server_run_once(l->s, 20);
        if (r < 0 && r != ZENITH_ESYS(EINTR)) {
            l->run_rc = r;
            break;
        }
    }
    memset(&l->info, 0, sizeof l->info);
    l->info_rc = l->id ? zenith_udp_get_info(l->s, l->id, &l->info) : 0;
    return NULL;
}

static void loop_start(loop_t *l, pthread_t *t) {
    cr_assert_eq(pthread_create(t, NULL, loop_main, l), 0);
    while (!__atomic_load_n(&l->started, __ATOMIC_ACQUIRE)) sched_yield();
    cr_assert_eq(l->start_rc, 0, "zenith_server_start on the loop thread: %s", zenith_errname(l->start_rc));
}

static void loop_stop(loop_t *l, pthread_t t) {
    zenith_server_stop(l->s);
    cr_assert_eq(pthread_join(t, NULL), 0);
    cr_assert_eq(l->run_rc, 0, "run_once on the loop thread: %s", zenith_errname(l->run_rc));
    cr_assert_eq(l->info_rc, 0);
}

/* ---- 1. two reactors, one port (REUSEPORT), many flows ------------------------------------------ */

#define FLOWS 64u
#define PER_FLOW (UNDER_TSAN ? 300u : 2000u)
#define WINDOW 256u

typedef struct {
    zenith_server *s;
    zenith_udp_id id;
    int which;
    uint8_t (*seen)[PER_FLOW]; /* [flow][seq], loop thread only */
    uint64_t delivered;        /* atomic: the sender paces on it */
    fail_t *fail;
} spread_rx;

static uint32_t dgram_len(uint32_t flow, uint32_t seq) { return 12u + (flow * 37u + seq * 11u) % 500u; }

static void spread_recv(void *user, zenith_udp_id sock, const zenith_udp_datagram *d) {
    spread_rx *r = (spread_rx *)user;
    uint32_t flow, seq, i;
    if (sock != r->id) fail_once(r->fail, "reactor %d: on_recv for another socket", r->which);
    if (d->len < 12 || d->flags != 0) {
        fail_once(r->fail, "reactor %d: a datagram of %u bytes, flags %#x", r->which, d->len, d->flags);
        return;
    }
    memcpy(&flow, d->data, 4);
    memcpy(&seq, d->data + 4, 4);
    if (flow >= FLOWS || seq >= PER_FLOW || d->len != dgram_len(flow, seq)) {
        fail_once(r->fail, "reactor %d: flow %u seq %u of %u bytes", r->which, flow, seq, d->len);
        return;
    }
    for (i = 8; i < d->len; i++)
        if (d->data[i] != pat(flow, seq, i)) {
            fail_once(r->fail, "reactor %d: flow %u seq %u: byte %u corrupted", r->which, flow, seq, i);
            return;
        }
    if (r->seen[flow][seq]++) fail_once(r->fail, "reactor %d: flow %u seq %u twice", r->which, flow, seq);
    __atomic_fetch_add(&r->delivered, 1, __ATOMIC_RELEASE);
}

typedef struct {
    uint16_t port;
    spread_rx *rx[2];
    uint64_t sent; /* written by the sender, read after join */
    fail_t *fail;
    int fds[FLOWS];
} spray_t;

static uint64_t delivered_both(spread_rx *const *rx) {
    return __atomic_load_n(&rx[0]->delivered, __ATOMIC_ACQUIRE) + __atomic_load_n(&rx[1]->delivered, __ATOMIC_ACQUIRE);
}

static void *spray_main(void *arg) {
    spray_t *p = (spray_t *)arg;
    uint8_t d[512];
    uint32_t seq, flow, i;
    double last = now_s();
    uint64_t seen_before = 0;
    for (seq = 0; seq < PER_FLOW; seq++)
        for (flow = 0; flow < FLOWS; flow++) {
            uint32_t len = dgram_len(flow, seq);
            ssize_t r;
            while (p->sent - delivered_both(p->rx) >= WINDOW) {
                uint64_t now_seen = delivered_both(p->rx);
                if (now_seen != seen_before) {
                    seen_before = now_seen;
                    last = now_s();
                }
                if (now_s() - last > 5.0 || failed(p->fail)) {
                    fail_once(p->fail, "no progress for 5 s: %llu sent, %llu delivered", (unsigned long long)p->sent,
                              (unsigned long long)now_seen);
                    return NULL;
                }
                sched_yield();
            }
            memcpy(d, &flow, 4);
            memcpy(d + 4, &seq, 4);
            for (i = 8; i < len; i++) d[i] = pat(flow, seq, i);
            r = send(p->fds[flow], d, len, 0);
            if (r != (ssize_t)len) {
                fail_once(p->fail, "flow %u send: %zd %s", flow, r, strerror(errno));
                return NULL;
            }
            p->sent++;
        }
    return NULL;
}

Test(udp_threads, two_reactors_reuseport_many_flows_every_datagram_once, .timeout = 120) {
    zenith_server_config c = thr_cfg();
    spread_rx rx[2];
    loop_t lp[2];
    pthread_t lt[2], st;
    spray_t sp;
    fail_t fail;
    uint16_t port = 0;
    uint32_t flow, seq, per[2] = { 0, 0 };
    int i;
    memset(&fail, 0, sizeof fail);
    memset(&sp, 0, sizeof sp);
    for (i = 0; i < 2; i++) {
        zenith_udp_config u;
        memset(&rx[i], 0, sizeof rx[i]);
        memset(&lp[i], 0, sizeof lp[i]);
        rx[i].which = i;
        rx[i].fail = &fail;
        rx[i].seen = calloc(FLOWS, sizeof *rx[i].seen);
        cr_assert_not_null(rx[i].seen);
        rx[i].s = mkserver(&c);
        memset(&u, 0, sizeof u);
        u.address = "127.0.0.1";
        u.port = port;
        u.flags = ZENITH_UDP_REUSEPORT;
        u.rcvbuf = 4u << 20;
        u.on_recv = spread_recv;
        u.user = &rx[i];
        rx[i].id = open_ok(rx[i].s, &u); /* before start: any thread */
        if (i == 0) port = zenith_udp_port(rx[0].s, rx[0].id);
        cr_assert_eq(zenith_udp_port(rx[i].s, rx[i].id), port);
        lp[i].s = rx[i].s;
        lp[i].id = rx[i].id;
    }
    for (i = 0; i < 2; i++) loop_start(&lp[i], &lt[i]);
    sp.port = port;
    sp.rx[0] = &rx[0];
    sp.rx[1] = &rx[1];
    sp.fail = &fail;
    for (flow = 0; flow < FLOWS; flow++) {
        struct sockaddr_in a;
        sp.fds[flow] = plain_udp();
        memset(&a, 0, sizeof a);
        a.sin_family = AF_INET;
        a.sin_port = htons(port);
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        cr_assert_eq(connect(sp.fds[flow], (struct sockaddr *)&a, sizeof a), 0);
    }
    cr_assert_eq(pthread_create(&st, NULL, spray_main, &sp), 0);
    cr_assert_eq(pthread_join(st, NULL), 0);
    {
        double end = now_s() + 10.0;
        while (delivered_both(sp.rx) < sp.sent && now_s() < end && !failed(&fail)) sleep_ms(1);
    }
    for (i = 0; i < 2; i++) loop_stop(&lp[i], lt[i]);
    cr_assert_not(failed(&fail), "%s", fail.why);
    cr_assert_eq(sp.sent, (uint64_t)FLOWS * PER_FLOW);
    cr_assert_eq(rx[0].delivered + rx[1].delivered, sp.sent, "%llu + %llu delivered of %llu sent (drops %llu + %llu)",
                 (unsigned long long)rx[0].delivered, (unsigned long long)rx[1].delivered, (unsigned long long)sp.sent,
                 (unsigned long long)lp[0].info.kernel_drops, (unsigned long long)lp[1].info.kernel_drops);
    for (flow = 0; flow < FLOWS; flow++) {
        uint32_t on[2] = { 0, 0 };
        for (seq = 0; seq < PER_FLOW; seq++) {
            cr_assert_eq(rx[0].seen[flow][seq] + rx[1].seen[flow][seq], 1, "flow %u seq %u delivered %d times", flow,
                         seq, rx[0].seen[flow][seq] + rx[1].seen[flow][seq]);
            on[0] += rx[0].seen[flow][seq];
            on[1] += rx[1].seen[flow][seq];
        }
        cr_assert(on[0] == 0 || on[1] == 0, "flow %u split across the sockets (%u / %u): REUSEPORT spreads by flow",
                  flow, on[0], on[1]);
        per[on[0] ? 0 : 1]++;
    }
    cr_log_info("REUSEPORT (%s): %u flows on the first reactor, %u on the second",
                on_epoll(rx[0].s) ? "epoll" : "io_uring", per[0], per[1]);
    cr_assert(per[0] > 0 && per[1] > 0, "all %u flows on one reactor", FLOWS);
    for (i = 0; i < 2; i++) {
        cr_assert_eq(lp[i].info.datagrams_in, rx[i].delivered);
        cr_assert_eq(lp[i].info.kernel_drops, 0u);
        cr_assert_eq(lp[i].info.truncated, 0u);
        zenith_server_destroy(rx[i].s); /* its thread is gone: nothing else touches it */
        free(rx[i].seen);
    }
    for (flow = 0; flow < FLOWS; flow++) close(sp.fds[flow]);
}

/* ---- 2. posts from other threads become UDP sends on the loop thread ---------------------------- */

#define POSTERS 3
#define PER_POSTER (UNDER_TSAN ? 3000u : 20000u)
#define POST_WINDOW 64u

typedef struct {
    zenith_server *s;
    zenith_udp_id id;
    const loop_t *loop; /* loop->self: the thread posts must run on */
    fail_t *fail;
    uint64_t sends; /* loop thread only */
} sender_t;

typedef struct {
    uint16_t port;
    uint16_t poster;
    uint32_t seq;
    uint32_t len;
} post_msg;

static void post_send(void *user, void *data, size_t len) {
    sender_t *sd = (sender_t *)user;
    post_msg m;
    zenith_addr to;
    uint8_t d[600];
    uint32_t i;
    int rc;
    if (!pthread_equal(pthread_self(), sd->loop->self)) fail_once(sd->fail, "a posted message ran off the loop thread");
    if (len != sizeof m) {
        fail_once(sd->fail, "a posted message of %zu bytes", len);
        return;
    }
    memcpy(&m, data, sizeof m);
    memcpy(d, &m.seq, 4);
    for (i = 4; i < m.len; i++) d[i] = pat(m.poster, m.seq, i);
    if (zenith_addr_set(&to, "127.0.0.1", m.port) != 0) fail_once(sd->fail, "zenith_addr_set");
    rc = zenith_udp_send(sd->s, sd->id, d, m.len, &to);
    if (rc != 0) fail_once(sd->fail, "zenith_udp_send on the loop thread: %d %s", rc, zenith_errname(rc));
    sd->sends++;
}

typedef struct {
    sender_t *sd;
    uint16_t poster, port; /* port: of fd */
    int fd;
    uint32_t posted, got, retries;
} poster_t;

static void *poster_main(void *arg) {
    poster_t *p = (poster_t *)arg;
    fail_t *fail = p->sd->fail;
    uint8_t in[1024];
    double last = now_s();
    while (p->got < PER_POSTER && !failed(fail)) {
        while (p->posted < PER_POSTER && p->posted - p->got < POST_WINDOW) {
            post_msg m;
            int rc;
            m.port = p->port;
            m.poster = p->poster;
            m.seq = p->posted;
            m.len = 4u + (p->posted * 7u + p->poster * 101u) % 500u;
            while ((rc = zenith_server_post(p->sd->s, post_send, p->sd, &m, sizeof m)) == ZENITH_E_FULL) {
                p->retries++;
                sched_yield();
            }
            if (rc != 0) {
                fail_once(fail, "poster %u: zenith_server_post: %d %s", p->poster, rc, zenith_errname(rc));
                return NULL;
            }
            p->posted++;
        }
        for (;;) {
            ssize_t r = recv(p->fd, in, sizeof in, MSG_DONTWAIT | MSG_TRUNC);
            uint32_t seq, want, i;
            if (r < 0) break;
            memcpy(&seq, in, 4);
            want = 4u + (seq * 7u + p->poster * 101u) % 500u;
            if (r < 4 || seq >= p->posted || (uint32_t)r != want) {
                fail_once(fail, "poster %u: a datagram of %zd bytes, seq %u (%u posted)", p->poster, r, seq, p->posted);
                return NULL;
            }
            for (i = 4; i < want; i++)
                if (in[i] != pat(p->poster, seq, i)) {
                    fail_once(fail, "poster %u: seq %u byte %u corrupted", p->poster, seq, i);
                    return NULL;
                }
            if (seq != p->got) {
                fail_once(fail, "poster %u: got seq %u, expected %u (posts run in order, sends leave in order)",
                          p->poster, seq, p->got);
                return NULL;
            }
            p->got++;
            last = now_s();
        }
        if (now_s() - last > 5.0) {
            fail_once(fail, "poster %u: nothing for 5 s: %u posted, %u received", p->poster, p->posted, p->got);
            return NULL;
        }
        sched_yield();
    }
    return NULL;
}

Test(udp_threads, posts_from_other_threads_send_udp_on_the_loop, .timeout = 120) {
    zenith_server_config c = thr_cfg();
    zenith_udp_config u;
    sender_t sd;
    loop_t lp;
    pthread_t lt, pt[POSTERS];
    poster_t ps[POSTERS];
    fail_t fail;
    int i;
    memset(&fail, 0, sizeof fail);
    memset(&sd, 0, sizeof sd);
    memset(&lp, 0, sizeof lp);
    sd.fail = &fail;
    sd.s = mkserver(&c);
    memset(&u, 0, sizeof u);
    u.address = "127.0.0.1";
    sd.id = open_ok(sd.s, &u); /* send-only */
    lp.s = sd.s;
    lp.id = sd.id;
    sd.loop = &lp;
    loop_start(&lp, &lt);
    for (i = 0; i < POSTERS; i++) {
        memset(&ps[i], 0, sizeof ps[i]);
        ps[i].sd = &sd;
        ps[i].poster = (uint16_t)i;
        ps[i].fd = plain_udp();
        ps[i].port = fd_port(ps[i].fd);
    }
    for (i = 0; i < POSTERS; i++) cr_assert_eq(pthread_create(&pt[i], NULL, poster_main, &ps[i]), 0);
    for (i = 0; i < POSTERS; i++) cr_assert_eq(pthread_join(pt[i], NULL), 0);
    loop_stop(&lp, lt);
    cr_assert_not(failed(&fail), "%s", fail.why);
    for (i = 0; i < POSTERS; i++) {
        cr_assert_eq(ps[i].posted, PER_POSTER);
        cr_assert_eq(ps[i].got, PER_POSTER, "poster %d: %u of %u", i, ps[i].got, PER_POSTER);
        close(ps[i].fd);
    }
    cr_assert_eq(sd.sends, (uint64_t)POSTERS * PER_POSTER);
    cr_assert_eq(lp.info.datagrams_out, (uint64_t)POSTERS * PER_POSTER);
    cr_assert_eq(lp.info.send_errors, 0u);
    zenith_server_destroy(sd.s);
}

/* ---- 3. keep on the loop thread, release on another ---------------------------------------------- */

#define HANDOFF_N (UNDER_TSAN ? 5000u : 50000u)
#define HANDOFF_CAP 4096u

typedef struct {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct {
        void *buf;
        const uint8_t *data;
        uint32_t len;
    } q[HANDOFF_CAP];
    uint32_t head, tail; /* under mu */
    int done;            /* under mu */
    zenith_server *s;
    zenith_udp_id id;
    zenith_pool *pool;
    fail_t *fail;
    uint64_t kept;              /* loop thread */
    uint64_t checked, released; /* worker thread; read after join */
    uint32_t next_seq;          /* worker thread */
    uint64_t delivered_atomic;  /* atomic */
} handoff_t;

static void handoff_recv(void *user, zenith_udp_id sock, const zenith_udp_datagram *d) {
    handoff_t *h = (handoff_t *)user;
    const uint8_t *p = NULL;
    void *buf;
    (void)sock;
    buf = zenith_udp_keep(h->s, &p);
    if (buf == NULL || p != d->data) {
        fail_once(h->fail, "zenith_udp_keep: %p, data %p (datagram at %p)", buf, (const void *)p,
                  (const void *)d->data);
        return;
    }
    pthread_mutex_lock(&h->mu);
    if (h->tail - h->head >= HANDOFF_CAP) {
        pthread_mutex_unlock(&h->mu);
        fail_once(h->fail, "the hand-off queue overflowed (more kept than the pool has?)");
        zenith_pool_release(zenith_server_pool(h->s), buf);
        return;
    }
    h->q[h->tail % HANDOFF_CAP].buf = buf;
    h->q[h->tail % HANDOFF_CAP].data = p;
    h->q[h->tail % HANDOFF_CAP].len = d->len;
    h->tail++;
    pthread_cond_signal(&h->cv);
    pthread_mutex_unlock(&h->mu);
    h->kept++;
    __atomic_fetch_add(&h->delivered_atomic, 1, __ATOMIC_RELEASE);
}

static void *handoff_worker(void *arg) {
    handoff_t *h = (handoff_t *)arg;
    for (;;) {
        void *buf;
        const uint8_t *p;
        uint32_t len, seq, i;
        int rc;
        pthread_mutex_lock(&h->mu);
        while (h->head == h->tail && !h->done) pthread_cond_wait(&h->cv, &h->mu);
        if (h->head == h->tail && h->done) {
            pthread_mutex_unlock(&h->mu);
            return NULL;
        }
        buf = h->q[h->head % HANDOFF_CAP].buf;
        p = h->q[h->head % HANDOFF_CAP].data;
        len = h->q[h->head % HANDOFF_CAP].len;
        h->head++;
        pthread_mutex_unlock(&h->mu);
        if (len < 4) {
            fail_once(h->fail, "a kept datagram of %u bytes", len);
            continue;
        }
        memcpy(&seq, p, 4);
        if (len != 4u + seq % 700u) fail_once(h->fail, "seq %u: %u bytes", seq, len);
        for (i = 4; i < len; i++)
            if (p[i] != pat(seq, 9, i)) {
                fail_once(h->fail, "kept seq %u: byte %u corrupted (on the worker thread)", seq, i);
                break;
            }
        if (seq != h->next_seq) fail_once(h->fail, "kept seq %u, expected %u", seq, h->next_seq);
        h->next_seq = seq + 1u;
        h->checked++;
        rc = zenith_pool_release(h->pool, buf);
        if (rc != 0) fail_once(h->fail, "zenith_pool_release from the worker: %d %s", rc, zenith_errname(rc));
        h->released++;
    }
}

Test(udp_threads, keep_on_the_loop_release_on_a_worker, .timeout = 120) {
    zenith_server_config c = thr_cfg();
    zenith_udp_config u;
    handoff_t *h = calloc(1, sizeof *h);
    loop_t lp;
    pthread_t lt, wt;
    fail_t fail;
    uint8_t d[1024];
    uint32_t sent = 0, i;
    uint64_t in_use_before, in_use_after;
    int fd = plain_udp();
    double last;
    cr_assert_not_null(h);
    memset(&fail, 0, sizeof fail);
    memset(&lp, 0, sizeof lp);
    c.buffer_count = 512; /* few buffers: they must come back from the worker for reception to go on */
    c.recv_buffers = 128;
    pthread_mutex_init(&h->mu, NULL);
    pthread_cond_init(&h->cv, NULL);
    h->fail = &fail;
    h->s = mkserver(&c);
    h->pool = zenith_server_pool(h->s);
    memset(&u, 0, sizeof u);
    u.address = "127.0.0.1";
    u.rcvbuf = 4u << 20;
    u.on_recv = handoff_recv;
    u.user = h;
    h->id = open_ok(h->s, &u);
    {
        struct sockaddr_in a;
        memset(&a, 0, sizeof a);
        a.sin_family = AF_INET;
        a.sin_port = htons(zenith_udp_port(h->s, h->id));
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        cr_assert_eq(connect(fd, (struct sockaddr *)&a, sizeof a), 0);
    }
    lp.s = h->s;
    lp.id = h->id;
    {
        zenith_pool_stats st;
        cr_assert_eq(zenith_pool_get_stats(h->pool, &st), 0);
        in_use_before = st.in_use;
    }
    cr_assert_eq(pthread_create(&wt, NULL, handoff_worker, h), 0);
    loop_start(&lp, &lt);
    last = now_s();
    while (sent < HANDOFF_N && !failed(&fail)) {
        uint32_t len = 4u + sent % 700u;
        /* at most 64 in flight (the kernel's queue never overflows), however slow the worker */
        if (sent - __atomic_load_n(&h->delivered_atomic, __ATOMIC_ACQUIRE) >= 64u) {
            if (now_s() - last > 5.0) {
                fail_once(&fail, "no delivery for 5 s: %u sent, %llu delivered", sent,
                          (unsigned long long)__atomic_load_n(&h->delivered_atomic, __ATOMIC_ACQUIRE));
                break;
            }
            sched_yield();
            continue;
        }
        memcpy(d, &sent, 4);
        for (i = 4; i < len; i++) d[i] = pat(sent, 9, i);
        cr_assert_eq(send(fd, d, len, 0), (ssize_t)len);
        sent++;
        last = now_s();
    }
    {
        double end = now_s() + 10.0;
        while (__atomic_load_n(&h->delivered_atomic, __ATOMIC_ACQUIRE) < sent && now_s() < end && !failed(&fail))
            sleep_ms(1);
    }
    loop_stop(&lp, lt);
    pthread_mutex_lock(&h->mu);
    h->done = 1;
    pthread_cond_signal(&h->cv);
    pthread_mutex_unlock(&h->mu);
    cr_assert_eq(pthread_join(wt, NULL), 0);
    cr_assert_not(failed(&fail), "%s", fail.why);
    cr_assert_eq(h->kept, sent, "%llu kept of %u sent", (unsigned long long)h->kept, sent);
    cr_assert_eq(h->checked, sent);
    cr_assert_eq(h->released, sent);
    cr_assert_eq(lp.info.datagrams_in, sent);
    cr_assert_eq(lp.info.kernel_drops, 0u);
    {
        zenith_pool_stats st;
        cr_assert_eq(zenith_pool_get_stats(h->pool, &st), 0);
        in_use_after = st.in_use;
    }
    cr_log_info("hand-off (%s): %u datagrams kept on the loop, released on the worker; recv_stalls %llu; pool in use "
                "%llu before, %llu after",
                on_epoll(h->s) ? "epoll" : "io_uring", sent, (unsigned long long)lp.info.recv_stalls,
                (unsigned long long)in_use_before, (unsigned long long)in_use_after);
    cr_assert_leq(in_use_after, in_use_before + 64u, "buffers released on the worker did not come back");
    zenith_server_destroy(h->s);
    pthread_mutex_destroy(&h->mu);
    pthread_cond_destroy(&h->cv);
    close(fd);
    free(h);
}
