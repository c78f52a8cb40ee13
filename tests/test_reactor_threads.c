/* The reactor's cross-thread messages (also run under TSan): zenith_server_post from many
   threads into one loop that sleeps in run_once(-1) and must be woken -- nothing lost, nothing
   run twice, each producer's order kept; a full queue refuses (ZENITH_E_FULL, counted) and the
   poster retries; wakeups coalesce; post and stop from other threads while the loop sleeps; a
   "strategy thread" that drives sends on a connection through posted messages.
   The server's config comes from reactor_cfg() alone, so a later backend can run the same
   suite. Under TSan (and the test shim) the message counts are scaled down, the threads are not. */
#define ZENITH_IMPLEMENTATION
#include "zenith.h"

#include "criterion_compat.h" /* Criterion (or its TSan stand-in) */
#include "net_helpers.h"

#include <errno.h>
#include <pthread.h>
#include <sched.h>
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

#define PRODUCERS 4
#define PER_PRODUCER (UNDER_TSAN ? 100000u : 1000000u)

/* The one place the reactor's config comes from (a later backend field goes here). */
static zenith_server_config reactor_cfg(void) {
    zenith_server_config c;
    memset(&c, 0, sizeof c);
    c.buffer_count = 1024;
    c.max_connections = 64;
    c.send_queue_max = 64 * 1024;
    return c;
}

static void no_data(void *user, zenith_conn_id conn, const uint8_t *data, size_t len) {
    (void)user;
    (void)conn;
    (void)data;
    (void)len;
}

static zenith_server *mkreactor(const zenith_server_config *cfg, zenith_data_fn on_data, void *user) {
    int err = 0;
    zenith_server *s = zenith_server_create(cfg, &err);
    if (s == NULL && err == ZENITH_E_URING_DISABLED) cr_skip("io_uring is disabled here");
    cr_assert_not_null(s, "zenith_server_create: %d %s", err, zenith_errname(err));
    cr_assert_eq(zenith_server_set_callbacks(s, NULL, on_data ? on_data : no_data, NULL, user), 0);
    return s;
}

static zenith_reactor_stats rstats(const zenith_server *s) {
    zenith_reactor_stats r;
    memset(&r, 0xa5, sizeof r);
    cr_assert_eq(zenith_server_get_reactor_stats(s, &r), 0);
    return r;
}

static void sleep_ms(int ms) {
    struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

/* ---- many producers, one sleeping loop ---------------------------------------------------------- */

typedef struct {
    uint32_t producer, pad;
    uint64_t seq;
} msg_t;

typedef struct {
    zenith_server *s;
    uint64_t next[PRODUCERS]; /* loop thread only */
    uint64_t received, bad;   /* loop thread only */
    char why[160];
} sink_t;

typedef struct {
    sink_t *k;
    uint32_t id;
    uint64_t n, retries, posted;
    int last_rc;
} producer_t;

static void sink_cb(void *user, void *data, size_t len) {
    sink_t *k = (sink_t *)user;
    msg_t m;
    if (len != sizeof m || data == NULL) {
        if (!k->bad++) snprintf(k->why, sizeof k->why, "message of %zu bytes", len);
        return;
    }
    memcpy(&m, data, sizeof m);
    if (m.producer >= PRODUCERS || m.seq != k->next[m.producer]) {
        if (!k->bad++)
            snprintf(k->why, sizeof k->why, "producer %u: got #%llu, expected #%llu (lost, duplicated or reordered)",
                     m.producer, (unsigned long long)m.seq,
                     (unsigned long long)(m.producer < PRODUCERS ? k->next[m.producer] : 0));
        if (m.producer < PRODUCERS) k->next[m.producer] = m.seq + 1u;
    } else {
        k->next[m.producer]++;
    }
    k->received++;
}

/* Posts n messages; on ZENITH_E_FULL, yields and retries the same message. */
static void *producer_main(void *arg) {
    producer_t *p = (producer_t *)arg;
    msg_t m;
    memset(&m, 0, sizeof m);
    m.producer = p->id;
    for (m.seq = 0; m.seq < p->n; m.seq++) {
        int rc;
        while ((rc = zenith_server_post(p->k->s, sink_cb, p->k, &m, sizeof m)) == ZENITH_E_FULL) {
            p->retries++;
            sched_yield();
        }
        if (rc != 0) {
            p->last_rc = rc;
            return NULL;
        }
        p->posted++;
    }
    return NULL;
}

/* Producers (already running or not) into a loop on this thread that sleeps in run_once(-1). */
static void run_producers(sink_t *k, producer_t *p, uint64_t per, int start_loop_after_ms) {
    pthread_t th[PRODUCERS];
    uint64_t total = (uint64_t)PRODUCERS * per, retries = 0;
    zenith_reactor_stats r;
    double t0 = now_s(), dt;
    int i;
    for (i = 0; i < PRODUCERS; i++) {
        p[i].k = k;
        p[i].id = (uint32_t)i;
        p[i].n = per;
        cr_assert_eq(pthread_create(&th[i], NULL, producer_main, &p[i]), 0);
    }
    if (start_loop_after_ms) sleep_ms(start_loop_after_ms); /* the queue fills up: producers see E_FULL */
    cr_assert_eq(zenith_server_start(k->s), 0);
    while (k->received < total) cr_assert_geq(zenith_server_run_once(k->s, -1), 0);
    dt = now_s() - t0;
    for (i = 0; i < PRODUCERS; i++) {
        cr_assert_eq(pthread_join(th[i], NULL), 0);
        cr_assert_eq(p[i].last_rc, 0, "producer %d: post returned %s", i, zenith_errname(p[i].last_rc));
        cr_assert_eq(p[i].posted, per);
        retries += p[i].retries;
    }
    cr_assert_eq(k->bad, 0, "%llu bad messages, first: %s", (unsigned long long)k->bad, k->why);
    cr_assert_eq(k->received, total);
    for (i = 0; i < PRODUCERS; i++)
        cr_assert_eq(k->next[i], per, "producer %d: %llu of %llu delivered", i, (unsigned long long)k->next[i],
                     (unsigned long long)per);
    {
        int j; /* nothing more comes: no message ran twice */
        for (j = 0; j < 3; j++) cr_assert_geq(zenith_server_run_once(k->s, 10), 0);
        cr_assert_eq(k->received, total, "messages after the last one");
    }
    r = rstats(k->s);
    cr_assert_eq(r.posts_run, total);
    cr_assert_eq(r.posts_refused, retries, "posts_refused %llu, refusals the producers saw %llu",
                 (unsigned long long)r.posts_refused, (unsigned long long)retries);
    cr_assert_gt(r.wakeups, 0, "the sleeping loop was never woken");
    cr_assert_leq(r.wakeups, total, "more wakeups than posts");
    cr_log_info("%d x %llu posts in %.2f s: %.0f ns/msg, %llu refusals, %llu wakeups (%.4f per post), %llu turns",
                PRODUCERS, (unsigned long long)per, dt, dt * 1e9 / (double)total, (unsigned long long)retries,
                (unsigned long long)r.wakeups, (double)r.wakeups / (double)total,
                (unsigned long long)r.loop_iterations);
}

Test(reactor_threads, four_producers_posts_exactly_once_in_order_into_a_sleeping_loop, .timeout = 240) {
    zenith_server_config cfg = reactor_cfg();
    static sink_t k;
    producer_t p[PRODUCERS];
    memset(&k, 0, sizeof k);
    memset(p, 0, sizeof p);
    cfg.flags = ZENITH_SERVER_NO_LISTEN;
    k.s = mkreactor(&cfg, NULL, NULL);
    run_producers(&k, p, PER_PRODUCER, 0);
    cr_assert_geq(zenith_server_shutdown(k.s, 1000), 0);
    zenith_server_destroy(k.s);
}

/* ---- a full queue -------------------------------------------------------------------------------- */

static int order_ran;
static void count_cb(void *user, void *data, size_t len) {
    int *expect = (int *)user;
    int v;
    cr_assert_eq(len, sizeof v);
    memcpy(&v, data, sizeof v);
    cr_assert_eq(v, *expect, "message %d ran in place of %d", v, *expect);
    (*expect)++;
    order_ran++;
}

Test(reactor_threads, full_queue_refuses_and_retrying_posters_lose_nothing, .timeout = 120) {
    zenith_server_config cfg = reactor_cfg();
    static sink_t k;
    producer_t p[PRODUCERS];
    zenith_server *s;
    zenith_reactor_stats r;
    int i, expect = 0, rc;

    /* one thread: a queue of 16 takes 16 messages before start, refuses the 17th, counted */
    cfg.flags = ZENITH_SERVER_NO_LISTEN;
    cfg.post_queue = 16;
    s = mkreactor(&cfg, NULL, NULL);
    for (i = 0; i < 16; i++) cr_assert_eq(zenith_server_post(s, count_cb, &expect, &i, sizeof i), 0, "post %d", i);
    rc = zenith_server_post(s, count_cb, &expect, &i, sizeof i);
    cr_assert_eq(rc, ZENITH_E_FULL, "a 17th post into a queue of 16: %s", zenith_errname(rc));
    r = rstats(s);
    cr_assert_eq(r.posts_refused, 1);
    cr_assert_eq(r.posts_run, 0, "nothing runs before the loop does");
    cr_assert_eq(zenith_server_start(s), 0);
    cr_assert_geq(zenith_server_run_once(s, 0), 16);
    cr_assert_eq(order_ran, 16);
    cr_assert_eq(rstats(s).posts_run, 16);
    cr_assert_eq(zenith_server_post(s, count_cb, &expect, &i, sizeof i), 0, "room again: the refused one, retried");
    cr_assert_geq(zenith_server_run_once(s, 0), 1);
    cr_assert_eq(order_ran, 17);
    i = 1000; /* posted, never run: dropped by destroy */
    cr_assert_eq(zenith_server_post(s, count_cb, &expect, &i, sizeof i), 0);
    zenith_server_destroy(s);
    cr_assert_eq(order_ran, 17, "a message queued at destroy ran");

    /* four producers into a queue of 64 that nobody drains for 50 ms: they must see E_FULL,
       retry, and every message still arrives once, in order */
    memset(&k, 0, sizeof k);
    memset(p, 0, sizeof p);
    cfg.post_queue = 64;
    k.s = mkreactor(&cfg, NULL, NULL);
    run_producers(&k, p, UNDER_TSAN ? 20000u : 200000u, 50);
    r = rstats(k.s);
    cr_assert_gt(r.posts_refused, 0, "a queue of 64 before the loop ran never refused");
    zenith_server_destroy(k.s);
}

/* ---- post and stop from other threads while the loop sleeps ---------------------------------------- */

typedef struct {
    zenith_server *s;
    int ran;             /* atomic: messages run */
    uint64_t iterations; /* loop thread's own count, read after join */
    double returned_at;
} sleeper_t;

static void *sleeping_loop(void *arg) {
    sleeper_t *l = (sleeper_t *)arg;
    cr_assert_eq(zenith_server_start(l->s), 0);
    while (!zenith_server_stopped(l->s)) {
        cr_assert_geq(zenith_server_run_once(l->s, -1), 0);
        l->iterations++;
    }
    l->returned_at = now_s();
    return NULL;
}

static void mark_ran(void *user, void *data, size_t len) {
    sleeper_t *l = (sleeper_t *)user;
    cr_assert_eq(len, 0);
    cr_assert_null(data, "data is NULL when len is 0");
    __atomic_fetch_add(&l->ran, 1, __ATOMIC_RELEASE);
}

static void *stopper(void *arg) {
    zenith_server_stop((zenith_server *)arg);
    return NULL;
}

Test(reactor_threads, post_and_stop_from_other_threads_wake_a_sleeping_loop, .timeout = 30) {
    zenith_server_config cfg = reactor_cfg();
    sleeper_t l;
    pthread_t loop, st;
    zenith_reactor_stats r;
    double asked;
    int k;
    enum { K = 5 };
    memset(&l, 0, sizeof l);
    cfg.flags = ZENITH_SERVER_NO_LISTEN;
    l.s = mkreactor(&cfg, NULL, NULL);
    cr_assert_eq(pthread_create(&loop, NULL, sleeping_loop, &l), 0);
    sleep_ms(200); /* the loop is asleep in run_once(-1): nothing to do, no timeout */
    for (k = 1; k <= K; k++) {
        double t0 = now_s();
        cr_assert_eq(zenith_server_post(l.s, mark_ran, &l, NULL, 0), 0);
        while (__atomic_load_n(&l.ran, __ATOMIC_ACQUIRE) < k) {
            cr_assert_lt(now_s() - t0, 2.0, "message %d posted to a sleeping loop never ran", k);
            sleep_ms(1);
        }
        cr_assert_lt(now_s() - t0, 1.0, "message %d: the loop woke late", k);
        sleep_ms(50); /* asleep again */
    }
    asked = now_s();
    cr_assert_eq(pthread_create(&st, NULL, stopper, l.s), 0);
    cr_assert_eq(pthread_join(st, NULL), 0);
    cr_assert_eq(pthread_join(loop, NULL), 0);
    cr_assert_lt(l.returned_at - asked, 1.0, "run_once(-1) did not return promptly after stop from another thread");
    r = rstats(l.s);
    cr_assert_eq(r.posts_run, K);
    cr_assert_eq(__atomic_load_n(&l.ran, __ATOMIC_ACQUIRE), K);
    cr_assert_geq(r.wakeups, 1, "posts into a sleeping loop without a wakeup");
    cr_assert_leq(r.wakeups, K, "more wakeups than posts");
    /* it slept: a handful of turns per message, not a spinning loop */
    cr_assert_leq(l.iterations, 4u * K + 8u, "%llu turns for %d messages: the loop does not sleep",
                  (unsigned long long)l.iterations, K);
    cr_log_info("%d posts to a sleeping loop: %llu wakeups, %llu turns", K, (unsigned long long)r.wakeups,
                (unsigned long long)l.iterations);
    cr_assert_geq(zenith_server_shutdown(l.s, 1000), 0);
    zenith_server_destroy(l.s);
}

/* ---- wakeups coalesce: a batch posted while the loop is busy costs at most one ------------------- */

typedef struct {
    zenith_server *s;
    int in_first, batch_posted, done; /* atomics */
    uint64_t w_first, w_last;         /* wakeups seen in the first and the last message */
    int next;                         /* loop thread */
} batch_t;

#define BATCH 1000

static void batch_first(void *user, void *data, size_t len) {
    batch_t *b = (batch_t *)user;
    double t0 = now_s();
    (void)data;
    (void)len;
    b->w_first = rstats(b->s).wakeups;
    __atomic_store_n(&b->in_first, 1, __ATOMIC_RELEASE);
    while (!__atomic_load_n(&b->batch_posted, __ATOMIC_ACQUIRE)) { /* the loop is busy in here */
        cr_assert_lt(now_s() - t0, 10.0, "the batch was never posted");
        sched_yield();
    }
}

static void batch_item(void *user, void *data, size_t len) {
    batch_t *b = (batch_t *)user;
    int v;
    cr_assert_eq(len, sizeof v);
    memcpy(&v, data, sizeof v);
    cr_assert_eq(v, b->next, "batch message %d ran in place of %d", v, b->next);
    b->next++;
    if (v == BATCH - 1) {
        b->w_last = rstats(b->s).wakeups;
        __atomic_store_n(&b->done, 1, __ATOMIC_RELEASE);
    }
}

static void *batch_loop(void *arg) {
    batch_t *b = (batch_t *)arg;
    cr_assert_eq(zenith_server_start(b->s), 0);
    while (!zenith_server_stopped(b->s)) cr_assert_geq(zenith_server_run_once(b->s, -1), 0);
    return NULL;
}

Test(reactor_threads, wakeups_coalesce_for_a_batch_posted_while_the_loop_is_busy, .timeout = 30) {
    zenith_server_config cfg = reactor_cfg();
    batch_t b;
    pthread_t loop;
    zenith_reactor_stats r;
    double t0;
    int i;
    memset(&b, 0, sizeof b);
    cfg.flags = ZENITH_SERVER_NO_LISTEN;
    b.s = mkreactor(&cfg, NULL, NULL);
    cr_assert_eq(pthread_create(&loop, NULL, batch_loop, &b), 0);
    sleep_ms(100);
    cr_assert_eq(zenith_server_post(b.s, batch_first, &b, NULL, 0), 0);
    t0 = now_s();
    while (!__atomic_load_n(&b.in_first, __ATOMIC_ACQUIRE)) {
        cr_assert_lt(now_s() - t0, 5.0, "the first message never ran");
        sched_yield();
    }
    for (i = 0; i < BATCH; i++) cr_assert_eq(zenith_server_post(b.s, batch_item, &b, &i, sizeof i), 0);
    __atomic_store_n(&b.batch_posted, 1, __ATOMIC_RELEASE);
    t0 = now_s();
    while (!__atomic_load_n(&b.done, __ATOMIC_ACQUIRE)) {
        cr_assert_lt(now_s() - t0, 5.0, "the batch never ran through");
        sleep_ms(1);
    }
    zenith_server_stop(b.s);
    cr_assert_eq(pthread_join(loop, NULL), 0);
    r = rstats(b.s);
    cr_assert_eq(r.posts_run, BATCH + 1);
    cr_assert_eq(b.next, BATCH);
    cr_assert_geq(b.w_first, 1, "the first message woke the sleeping loop");
    cr_assert_leq(b.w_last - b.w_first, 1, "%llu wakeups for a batch of %d posted while the loop was busy",
                  (unsigned long long)(b.w_last - b.w_first), BATCH);
    cr_assert_leq(r.wakeups, BATCH + 1);
    zenith_server_destroy(b.s);
}

/* ---- a strategy thread: "send these bytes on connection X" ------------------------------------------ */

typedef struct {
    zenith_conn_id conn;
    uint32_t seq;
    uint8_t len;
    uint8_t bytes[27];
} order_t; /* 40 bytes: ZENITH_POST_MAX */

typedef struct {
    zenith_server *s;
    zenith_conn_id conn;
    uint32_t n;
    /* loop thread */
    order_t *backlog; /* orders refused with E_FULL, sent from on_drain, in order */
    uint32_t bl_head, bl_tail, bl_max;
    uint32_t next_seq, sent, full, drains, bad;
    /* strategy thread */
    uint64_t retries;
    /* client thread */
    int fd;
    uint64_t verified, expected;
    char why[160];
    int abort; /* atomic */
} strat_t;

static uint8_t order_len(uint32_t k) { return (uint8_t)(5u + k % 23u); }
static uint8_t order_byte(uint32_t k, uint32_t i) {
    if (i < 4) return (uint8_t)(k >> (8u * i));
    if (i == 4) return order_len(k);
    return (uint8_t)((k * 31u + i * 7u) & 0xffu);
}

static int flush_backlog(strat_t *g) {
    while (g->bl_head != g->bl_tail) {
        order_t *o = &g->backlog[g->bl_head];
        int rc = zenith_server_send(g->s, o->conn, o->bytes, o->len);
        if (rc == ZENITH_E_FULL) {
            g->full++;
            return 0;
        }
        if (rc != 0) return rc;
        g->bl_head++;
        g->sent++;
    }
    return 0;
}

static void backlog_push(strat_t *g, const order_t *o) {
    cr_assert_lt(g->bl_tail, g->n);
    g->backlog[g->bl_tail++] = *o;
    if (g->bl_tail - g->bl_head > g->bl_max) g->bl_max = g->bl_tail - g->bl_head;
}

/* Runs on the loop thread: sends the order's bytes on its connection. Refused (E_FULL): kept,
   in order, for on_drain; behind refused ones: queued behind them, then as many sent as fit. */
static void order_cb(void *user, void *data, size_t len) {
    strat_t *g = (strat_t *)user;
    order_t o;
    int rc;
    cr_assert_eq(len, sizeof o);
    memcpy(&o, data, sizeof o);
    if (o.seq != g->next_seq) g->bad++;
    g->next_seq = o.seq + 1u;
    if (g->bl_head == g->bl_tail) {
        rc = zenith_server_send(g->s, o.conn, o.bytes, o.len);
        if (rc == 0) {
            g->sent++;
            return;
        }
        cr_assert_eq(rc, ZENITH_E_FULL, "send order #%u: %s", o.seq, zenith_errname(rc));
        g->full++;
        backlog_push(g, &o); /* on_drain sends it */
        return;
    }
    backlog_push(g, &o);
    rc = flush_backlog(g);
    cr_assert_eq(rc, 0, "send from the posted message: %s", zenith_errname(rc));
}

static void strat_drain(void *user, zenith_conn_id conn) {
    strat_t *g = (strat_t *)user;
    int rc;
    cr_assert_eq(conn, g->conn);
    g->drains++;
    rc = flush_backlog(g);
    cr_assert_eq(rc, 0, "send from on_drain: %s", zenith_errname(rc));
}

static void strat_accept(void *user, zenith_conn_id conn) {
    strat_t *g = (strat_t *)user;
    g->conn = conn;
}

static void *strategy_main(void *arg) {
    strat_t *g = (strat_t *)arg;
    order_t o;
    uint32_t k, i;
    memset(&o, 0, sizeof o);
    o.conn = g->conn;
    for (k = 0; k < g->n; k++) {
        int rc;
        o.seq = k;
        o.len = order_len(k);
        for (i = 0; i < o.len; i++) o.bytes[i] = order_byte(k, i);
        while ((rc = zenith_server_post(g->s, order_cb, g, &o, sizeof o)) == ZENITH_E_FULL) {
            if (__atomic_load_n(&g->abort, __ATOMIC_ACQUIRE)) return NULL;
            g->retries++;
            sched_yield();
        }
        if (rc != 0) {
            __atomic_store_n(&g->abort, 1, __ATOMIC_RELEASE);
            return NULL;
        }
    }
    return NULL;
}

/* Reads the whole stream, checking every byte of every order in order; then stops the loop. */
static void *client_main(void *arg) {
    strat_t *g = (strat_t *)arg;
    static unsigned char buf[65536];
    uint32_t k = 0, off = 0;
    struct timeval tv = { 10, 0 };
    setsockopt(g->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    while (g->verified < g->expected) {
        ssize_t r = recv(g->fd, buf, sizeof buf, 0), i;
        if (r <= 0) {
            snprintf(g->why, sizeof g->why, "recv after %llu of %llu bytes: %s", (unsigned long long)g->verified,
                     (unsigned long long)g->expected, r == 0 ? "EOF" : strerror(errno));
            break;
        }
        for (i = 0; i < r; i++) {
            if (buf[i] != order_byte(k, off)) {
                snprintf(g->why, sizeof g->why, "order #%u byte %u: got %u, expected %u", k, off, buf[i],
                         order_byte(k, off));
                goto out;
            }
            if (++off == order_len(k)) {
                k++;
                off = 0;
            }
        }
        g->verified += (uint64_t)r;
    }
out:
    if (g->verified != g->expected) __atomic_store_n(&g->abort, 1, __ATOMIC_RELEASE);
    zenith_server_stop(g->s); /* from this thread, while the loop sleeps or works */
    return NULL;
}

Test(reactor_threads, strategy_thread_sends_through_posts_arrive_complete_and_in_order, .timeout = 120) {
    zenith_server_config cfg = reactor_cfg();
    strat_t g;
    pthread_t strategy, client;
    zenith_reactor_stats r;
    zenith_server_stats st;
    double deadline, t0;
    uint32_t k;
    memset(&g, 0, sizeof g);
    g.n = UNDER_TSAN ? 20000u : 300000u;
    for (k = 0; k < g.n; k++) g.expected += order_len(k);
    g.backlog = calloc(g.n, sizeof(order_t));
    cr_assert_not_null(g.backlog);
    g.s = mkreactor(&cfg, NULL, &g);
    cr_assert_eq(zenith_server_set_callbacks(g.s, strat_accept, no_data, NULL, &g), 0);
    cr_assert_eq(zenith_server_set_drain_callback(g.s, strat_drain), 0);
    cr_assert_eq(zenith_server_start(g.s), 0);
    g.fd = dial(zenith_server_port(g.s));
    deadline = now_s() + 5.0;
    while (g.conn == 0) { /* X: the connection's id, known before the strategy thread starts */
        cr_assert_lt(now_s(), deadline, "no accept");
        cr_assert_geq(zenith_server_run_once(g.s, 20), 0);
    }
    t0 = now_s();
    cr_assert_eq(pthread_create(&client, NULL, client_main, &g), 0);
    cr_assert_eq(pthread_create(&strategy, NULL, strategy_main, &g), 0);
    while (!zenith_server_stopped(g.s)) cr_assert_geq(zenith_server_run_once(g.s, -1), 0);
    cr_assert_eq(pthread_join(strategy, NULL), 0);
    cr_assert_eq(pthread_join(client, NULL), 0);
    cr_assert_eq(g.verified, g.expected, "the client: %s", g.why);
    cr_assert_eq(g.bad, 0, "orders ran out of sequence");
    cr_assert_eq(g.next_seq, g.n);
    cr_assert_eq(g.sent, g.n, "orders sent %u of %u", g.sent, g.n);
    cr_assert_eq(g.bl_head, g.bl_tail, "orders left in the backlog");
    r = rstats(g.s);
    cr_assert_eq(zenith_server_get_stats(g.s, &st), 0);
    cr_assert_eq(r.posts_run, g.n);
    cr_assert_eq(r.posts_refused, g.retries);
    cr_assert_eq(st.bytes_out, g.expected);
    cr_assert_gt(r.wakeups, 0);
    cr_assert_leq(r.wakeups, g.n);
    cr_assert(g.full == 0 || g.drains >= 1, "E_FULL %u times, on_drain %u times", g.full, g.drains);
    cr_log_info("strategy: %u orders (%llu bytes) in %.2f s; %llu post refusals, %u send refusals, %u drains, "
                "backlog max %u, %llu wakeups",
                g.n, (unsigned long long)g.expected, now_s() - t0, (unsigned long long)g.retries, g.full, g.drains,
                g.bl_max, (unsigned long long)r.wakeups);
    close(g.fd);
    cr_assert_geq(zenith_server_shutdown(g.s, 1000), 0);
    zenith_server_destroy(g.s);
    free(g.backlog);
}

/* ---- stop while producers post ------------------------------------------------------------------- */

typedef struct {
    sink_t *k;
    uint32_t id;
    uint64_t posted;
} racer_t;

/* Posts until the loop has stopped and the queue is full (then the rest would never run). */
static void *racer_main(void *arg) {
    racer_t *p = (racer_t *)arg;
    msg_t m;
    memset(&m, 0, sizeof m);
    m.producer = p->id;
    for (;;) {
        int rc;
        m.seq = p->posted;
        rc = zenith_server_post(p->k->s, sink_cb, p->k, &m, sizeof m);
        if (rc == 0) {
            p->posted++;
        } else {
            if (rc != ZENITH_E_FULL || zenith_server_stopped(p->k->s)) return NULL;
            sched_yield();
        }
    }
}

static void *stop_later(void *arg) {
    sleep_ms(100);
    zenith_server_stop((zenith_server *)arg);
    return NULL;
}

Test(reactor_threads, stop_while_four_threads_post_leaves_an_in_order_prefix, .timeout = 60) {
    zenith_server_config cfg = reactor_cfg();
    static sink_t k;
    racer_t p[PRODUCERS];
    pthread_t th[PRODUCERS], st;
    zenith_reactor_stats r;
    uint64_t posted = 0, ran = 0;
    double asked;
    int i;
    memset(&k, 0, sizeof k);
    memset(p, 0, sizeof p);
    cfg.flags = ZENITH_SERVER_NO_LISTEN;
    cfg.post_queue = 1024;
    k.s = mkreactor(&cfg, NULL, NULL);
    cr_assert_eq(zenith_server_start(k.s), 0);
    for (i = 0; i < PRODUCERS; i++) {
        p[i].k = &k;
        p[i].id = (uint32_t)i;
        cr_assert_eq(pthread_create(&th[i], NULL, racer_main, &p[i]), 0);
    }
    cr_assert_eq(pthread_create(&st, NULL, stop_later, k.s), 0);
    asked = now_s() + 0.1;
    while (!zenith_server_stopped(k.s)) cr_assert_geq(zenith_server_run_once(k.s, -1), 0);
    cr_assert_lt(now_s() - asked, 1.0, "the loop went on long after stop");
    cr_assert_eq(zenith_server_run_once(k.s, -1), 0, "run_once after stop");
    cr_assert_eq(pthread_join(st, NULL), 0);
    for (i = 0; i < PRODUCERS; i++) {
        cr_assert_eq(pthread_join(th[i], NULL), 0);
        posted += p[i].posted;
    }
    /* what ran is, per producer, its first messages in order, none twice, none skipped */
    cr_assert_eq(k.bad, 0, "%llu bad messages, first: %s", (unsigned long long)k.bad, k.why);
    for (i = 0; i < PRODUCERS; i++) {
        cr_assert_leq(k.next[i], p[i].posted, "producer %d: more ran than were posted", i);
        ran += k.next[i];
    }
    r = rstats(k.s);
    cr_assert_eq(r.posts_run, ran);
    cr_assert_eq(k.received, ran);
    cr_assert_gt(ran, 0);
    cr_assert_leq(posted - ran, cfg.post_queue, "more queued than the queue holds");
    cr_log_info("stop while posting: %llu posted, %llu ran, %llu dropped at destroy", (unsigned long long)posted,
                (unsigned long long)ran, (unsigned long long)(posted - ran));
    zenith_server_destroy(k.s); /* drops the rest, unrun */
    cr_assert_eq(k.received, ran);
}
