/* Re-entrancy and misuse: what a callback may call on its own reactor.

   Table-driven. For every kind of callback (on_accept, on_data, on_close, on_drain, on_eof,
   on_connect, a timer, a posted message) one driver provokes exactly that callback, and a probe
   runs inside it, in one of three modes:
     forbidden  every call the docs forbid inside a callback (run_once, start, shutdown,
                set_callbacks, destroy) must be refused -- ZENITH_E_STATE, destroy returns
                nothing -- with no side effect: every counter unchanged but misuse_refused, which
                counts each refusal exactly; then the server keeps serving (no data twice, the
                connection still open, the listener still accepting);
     allowed    the calls the docs allow (send, close, timer start/stop, post, connect, listen,
                pause/resume, keep, conn_user, stats) work there and take effect;
     stop       zenith_server_stop works there: run_once returns 0 from then on, and a
                shutdown after the loop closes everything.
   The server's config comes from reactor_cfg() alone, so a later backend can run the same
   suite. */
#define ZENITH_IMPLEMENTATION
#include "zenith.h"

#include "criterion_compat.h" /* Criterion (or its TSan stand-in) */
#include "net_helpers.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* The one place the reactor's config comes from (a later backend field goes here). */
static zenith_server_config reactor_cfg(void) {
    zenith_server_config c;
    memset(&c, 0, sizeof c);
    c.buffer_count = 1024;
    c.max_connections = 64;
    c.send_queue_max = 64 * 1024;
    return c;
}

static zenith_server *mkreactor(const zenith_server_config *cfg) {
    int err = 0;
    zenith_server *s = zenith_server_create(cfg, &err);
    if (s == NULL && err == ZENITH_E_URING_DISABLED) cr_skip("io_uring is disabled here");
    cr_assert_not_null(s, "zenith_server_create: %d %s", err, zenith_errname(err));
    return s;
}

/* ---- the harness -------------------------------------------------------------------------------- */

typedef enum { K_ACCEPT, K_DATA, K_CLOSE, K_DRAIN, K_EOF, K_CONNECT, K_TIMER, K_POST, K_COUNT } kind_t;
static const char *const kind_name[K_COUNT] = { "on_accept", "on_data",    "on_close",         "on_drain",
                                                "on_eof",    "on_connect", "a timer callback", "a posted message" };

typedef enum { M_FORBIDDEN, M_ALLOWED, M_STOP } probe_mode;

typedef struct rt rt_t;
typedef struct {
    rt_t *t;
} tag_t; /* user pointer of outbound connections: marks them in on_data */

struct rt {
    zenith_server *s;
    zenith_server_config cfg;
    uint16_t port;
    kind_t kind;
    probe_mode mode;
    int armed; /* the probe runs in callbacks of `kind` from now on */
    int depth, max_depth;
    int probes, forbidden_made, poison;
    /* plain counts */
    int dials, accepts, closes, connects_ok, connects_failed, drains, timer_fires, post_runs;
    int eofs; /* on_eof for the subject */
    zenith_conn_id last_accept, witness, victim, subject, ob;
    int subject_reason, victim_reason, subject_closed, victim_closed;
    int w_fd, v_fd, s_fd;
    /* on_drain: the fill */
    int fill_started;
    size_t fill_total;
    /* on_connect */
    tag_t ob_tag, ob2_tag;
    char ob_buf[64];
    size_t ob_len;
    /* a timer, a post */
    zenith_timer_id subject_timer;
    /* allowed mode */
    int w_marker;
    void *kept;
    int witness_paused, paused_violation;
    int a_timer_fired, a_never_fired, a_post_ran, a_connect_done, a_connect_status;
    uint16_t port2;
};

static const char post_payload[40] = "a posted message, forty bytes by value!";

/* Runs the loop on this thread until cond holds or 5 s pass. */
#define RUN_UNTIL(t, cond)                                                    \
    do {                                                                      \
        double deadline_ = now_s() + 5.0;                                     \
        while (!(cond)) {                                                     \
            cr_assert_lt(now_s(), deadline_, "timed out waiting for " #cond); \
            cr_assert_geq(zenith_server_run_once((t)->s, 20), 0);             \
        }                                                                     \
    } while (0)

static void enter(rt_t *t, const char *where) {
    t->depth++;
    if (t->depth > t->max_depth) t->max_depth = t->depth;
    cr_assert_eq(t->depth, 1, "%s ran nested inside another callback", where);
}
static void leave(rt_t *t) { t->depth--; }

static int should_probe(const rt_t *t, kind_t k) {
    return t->armed && t->kind == k && (t->mode == M_FORBIDDEN || t->probes == 0);
}

/* ---- the forbidden calls: one table ----------------------------------------------------------- */

static void poison_accept(void *u, zenith_conn_id c) {
    (void)c;
    ((rt_t *)u)->poison++;
}
static void poison_data(void *u, zenith_conn_id c, const uint8_t *d, size_t n) {
    (void)c;
    (void)d;
    (void)n;
    ((rt_t *)u)->poison++;
}
static void poison_close(void *u, zenith_conn_id c, int r) {
    (void)c;
    (void)r;
    ((rt_t *)u)->poison++;
}

static int f_run_once(rt_t *t) { return zenith_server_run_once(t->s, 0); }
static int f_start(rt_t *t) { return zenith_server_start(t->s); }
static int f_shutdown(rt_t *t) { return zenith_server_shutdown(t->s, 0); }
static int f_set_callbacks(rt_t *t) {
    return zenith_server_set_callbacks(t->s, poison_accept, poison_data, poison_close, t);
}
static int f_destroy(rt_t *t) {
    zenith_server_destroy(t->s); /* returns nothing: the refusal shows in misuse_refused */
    return ZENITH_E_STATE;
}

static const struct {
    const char *name;
    int (*call)(rt_t *t);
} forbidden[] = {
    { "zenith_server_run_once", f_run_once }, { "zenith_server_start", f_start },
    { "zenith_server_shutdown", f_shutdown }, { "zenith_server_set_callbacks", f_set_callbacks },
    { "zenith_server_destroy", f_destroy },
};
#define NFORBIDDEN ((int)(sizeof forbidden / sizeof forbidden[0]))

static zenith_reactor_stats rstats(const rt_t *t) {
    zenith_reactor_stats r;
    memset(&r, 0xa5, sizeof r);
    cr_assert_eq(zenith_server_get_reactor_stats(t->s, &r), 0);
    return r;
}
static zenith_server_stats sstats(const rt_t *t) {
    zenith_server_stats st;
    memset(&st, 0xa5, sizeof st);
    cr_assert_eq(zenith_server_get_stats(t->s, &st), 0);
    return st;
}

/* Both stats structs are all uint64_t: the index of the first field that differs, or -1. */
static int first_diff(const void *a, const void *b, size_t size) {
    const uint64_t *x = (const uint64_t *)a, *y = (const uint64_t *)b;
    size_t i;
    for (i = 0; i < size / sizeof(uint64_t); i++)
        if (x[i] != y[i]) return (int)i;
    return -1;
}

static void probe_forbidden(rt_t *t, zenith_conn_id conn, const char *where) {
    zenith_server_stats st0 = sstats(t), st1;
    zenith_reactor_stats r0 = rstats(t), r1;
    int i, d;
    for (i = 0; i < NFORBIDDEN; i++) {
        int rc = forbidden[i].call(t);
        t->forbidden_made++;
        cr_assert_eq(rc, ZENITH_E_STATE, "%s inside %s returned %d (%s), expected ZENITH_E_STATE", forbidden[i].name,
                     where, rc, zenith_errname(rc));
        r1 = rstats(t);
        cr_assert_eq(r1.misuse_refused, r0.misuse_refused + (uint64_t)i + 1u,
                     "misuse_refused after %s inside %s: %llu, expected %llu", forbidden[i].name, where,
                     (unsigned long long)r1.misuse_refused, (unsigned long long)(r0.misuse_refused + (uint64_t)i + 1u));
        cr_assert_eq(zenith_server_stopped(t->s), 0, "%s inside %s stopped the server", forbidden[i].name, where);
    }
    st1 = sstats(t);
    r1 = rstats(t);
    d = first_diff(&st0, &st1, sizeof st0);
    cr_assert_eq(d, -1, "refused calls inside %s changed zenith_server_stats field #%d", where, d);
    r1.misuse_refused -= (uint64_t)NFORBIDDEN;
    d = first_diff(&r0, &r1, sizeof r0);
    cr_assert_eq(d, -1, "refused calls inside %s changed zenith_reactor_stats field #%d (besides misuse_refused)",
                 where, d);
    cr_assert_eq(zenith_server_port(t->s), t->port, "the listener is gone after refused calls inside %s", where);
    if (conn != 0 && t->kind != K_CLOSE)
        cr_assert_geq(zenith_server_queued(t->s, conn), 0, "the connection was closed by refused calls inside %s",
                      where);
    cr_assert_geq(zenith_server_queued(t->s, t->witness), 0, "the witness connection was closed inside %s", where);
}

/* ---- allowed calls ------------------------------------------------------------------------------ */

static void a_timer_cb(void *user, zenith_timer_id id) { /* 50 ms after the probe: resumes the witness */
    rt_t *t = (rt_t *)user;
    enter(t, "allowed timer");
    cr_assert_eq(zenith_server_timer_stop(t->s, id), ZENITH_E_STALE, "a one-shot timer is over in its callback");
    t->a_timer_fired++;
    t->witness_paused = 0;
    cr_assert_eq(zenith_server_resume(t->s, t->witness), 0);
    leave(t);
}
static void a_never_cb(void *user, zenith_timer_id id) {
    rt_t *t = (rt_t *)user;
    (void)id;
    t->a_never_fired++;
}
static void a_post_cb(void *user, void *data, size_t len) {
    rt_t *t = (rt_t *)user;
    enter(t, "allowed post");
    cr_assert_eq(len, 13);
    cr_assert_not_null(data);
    cr_assert_eq(memcmp(data, "posted-in-cb", 13), 0);
    t->a_post_ran++;
    leave(t);
}
static void a_connect_cb(void *user, zenith_conn_id conn, int status) {
    rt_t *t = ((tag_t *)user)->t;
    enter(t, "allowed on_connect");
    t->a_connect_done++;
    t->a_connect_status = status;
    if (status == 0) {
        t->connects_ok++;
        cr_assert_eq(zenith_server_close(t->s, conn, ZENITH_CLOSE_FLUSH), 0, "close inside on_connect");
    } else {
        t->connects_failed++;
    }
    leave(t);
}

static void rt_drain(void *u, zenith_conn_id conn);
static void rt_eof(void *u, zenith_conn_id conn);

static void probe_allowed(rt_t *t, zenith_conn_id conn, const char *where) {
    zenith_server_stats st;
    zenith_reactor_stats r;
    zenith_timer_id a = 0, b = 0;
    zenith_connect_config cc;
    zenith_conn_id ob2 = 0;
    int rc;
    cr_assert_eq(zenith_server_get_stats(t->s, &st), 0, "get_stats inside %s", where);
    cr_assert_eq(zenith_server_get_reactor_stats(t->s, &r), 0, "get_reactor_stats inside %s", where);
    cr_assert_eq(zenith_server_port(t->s), t->port);
    if (t->kind == K_DATA) {
        t->kept = zenith_server_keep(t->s);
        cr_assert_not_null(t->kept, "keep inside on_data");
        cr_assert_null(zenith_server_keep(t->s), "keep twice in one on_data");
    } else {
        cr_assert_null(zenith_server_keep(t->s), "keep outside on_data (inside %s) must return NULL", where);
    }
    rc = zenith_server_send(t->s, t->witness, "allowed", 7);
    cr_assert_eq(rc, 0, "send inside %s: %s", where, zenith_errname(rc));
    cr_assert_eq(zenith_server_set_conn_user(t->s, t->witness, &t->w_marker), 0);
    cr_assert_eq(zenith_server_get_conn_user(t->s, t->witness), &t->w_marker);
    cr_assert_eq(zenith_server_pause(t->s, t->witness), 0, "pause inside %s", where);
    cr_assert_eq(zenith_server_pause(t->s, t->witness), 0, "pause twice");
    t->witness_paused = 1;
    rc = zenith_server_timer_start(t->s, 50, 0, a_timer_cb, t, &a);
    cr_assert_eq(rc, 0, "timer_start inside %s: %s", where, zenith_errname(rc));
    cr_assert_neq(a, 0);
    cr_assert_eq(zenith_server_timer_start(t->s, 1, 0, a_never_cb, t, &b), 0);
    cr_assert_eq(zenith_server_timer_stop(t->s, b), 0, "timer_stop inside %s", where);
    cr_assert_eq(zenith_server_timer_stop(t->s, b), ZENITH_E_STALE);
    rc = zenith_server_post(t->s, a_post_cb, t, "posted-in-cb", 13);
    cr_assert_eq(rc, 0, "post inside %s: %s", where, zenith_errname(rc));
    memset(&cc, 0, sizeof cc);
    cc.address = "127.0.0.1";
    cc.port = t->port;
    cc.on_connect = a_connect_cb;
    cc.user = &t->ob2_tag;
    rc = zenith_server_connect(t->s, &cc, &ob2);
    cr_assert_eq(rc, 0, "connect inside %s: %s", where, zenith_errname(rc));
    cr_assert_neq(ob2, 0);
    rc = zenith_server_listen(t->s, "127.0.0.1", 0, 0);
    cr_assert_gt(rc, 0, "listen inside %s: %s", where, zenith_errname(rc));
    t->port2 = (uint16_t)rc;
    rc = zenith_server_close(t->s, t->victim, ZENITH_CLOSE_FLUSH);
    cr_assert_eq(rc, 0, "close inside %s: %s", where, zenith_errname(rc));
    cr_assert_eq(zenith_server_set_drain_callback(t->s, rt_drain), 0);
    cr_assert_eq(zenith_server_set_eof_callback(t->s, t->kind == K_EOF ? rt_eof : NULL), 0);
    if (conn != 0 && t->kind != K_CLOSE) cr_assert_geq(zenith_server_queued(t->s, conn), 0);
    r = rstats(t);
    cr_assert_eq(r.misuse_refused, 0, "allowed calls inside %s were counted as misuse", where);
    cr_assert_eq(zenith_server_stopped(t->s), 0);
}

static void probe(rt_t *t, zenith_conn_id conn) {
    const char *where = kind_name[t->kind];
    t->probes++;
    switch (t->mode) {
        case M_FORBIDDEN: probe_forbidden(t, conn, where); break;
        case M_ALLOWED: probe_allowed(t, conn, where); break;
        case M_STOP:
            zenith_server_stop(t->s);
            cr_assert_eq(zenith_server_stopped(t->s), 1, "stop inside %s", where);
            break;
    }
}

/* ---- the server's callbacks ---------------------------------------------------------------------- */

static unsigned char fill_byte(size_t i) { return (unsigned char)((i * 7u + (i >> 12)) & 0xffu); }

/* on_drain's driver: sends until the queue reaches send_queue_max (the client is not reading). */
static void fill(rt_t *t, zenith_conn_id conn) {
    unsigned char chunk[4096];
    size_t i;
    int q;
    t->fill_started = 1;
    while ((q = zenith_server_queued(t->s, conn)) < (int)t->cfg.send_queue_max) {
        int rc;
        cr_assert_geq(q, 0);
        for (i = 0; i < sizeof chunk; i++) chunk[i] = fill_byte(t->fill_total + i);
        rc = zenith_server_send(t->s, conn, chunk, sizeof chunk);
        cr_assert_eq(rc, 0, "fill send at %zu: %s", t->fill_total, zenith_errname(rc));
        t->fill_total += sizeof chunk;
    }
}

static void rt_accept(void *u, zenith_conn_id conn) {
    rt_t *t = (rt_t *)u;
    enter(t, "on_accept");
    cr_assert_neq(conn, 0);
    if (should_probe(t, K_ACCEPT)) probe(t, conn);
    t->accepts++;
    t->last_accept = conn;
    leave(t);
}

static void rt_data(void *u, zenith_conn_id conn, const uint8_t *data, size_t len) {
    rt_t *t = (rt_t *)u;
    void *cu;
    enter(t, "on_data");
    if (conn == t->witness && t->witness_paused) t->paused_violation++;
    t->kept = NULL;
    if (should_probe(t, K_DATA)) probe(t, conn);
    cu = zenith_server_get_conn_user(t->s, conn);
    if (cu == &t->ob_tag || cu == &t->ob2_tag) { /* an outbound connection: collect */
        cr_assert_leq(t->ob_len + len, sizeof t->ob_buf);
        memcpy(t->ob_buf + t->ob_len, data, len);
        t->ob_len += len;
    } else if (t->kind == K_DRAIN && conn == t->subject && !t->fill_started) {
        fill(t, conn);
    } else { /* echo */
        int rc = zenith_server_send(t->s, conn, data, len);
        cr_assert_eq(rc, 0, "echo: %s", zenith_errname(rc));
    }
    if (t->kept) {
        cr_assert_eq(t->kept, (const void *)data);
        cr_assert_eq(zenith_pool_release(zenith_server_pool(t->s), t->kept), 0);
        t->kept = NULL;
    }
    leave(t);
}

static void rt_close(void *u, zenith_conn_id conn, int reason) {
    rt_t *t = (rt_t *)u;
    enter(t, "on_close");
    if (should_probe(t, K_CLOSE)) probe(t, conn);
    cr_assert_eq(zenith_server_queued(t->s, conn), ZENITH_E_STALE, "the id is stale in on_close");
    t->closes++;
    if (conn == t->subject) {
        t->subject_closed++;
        t->subject_reason = reason;
    }
    if (conn == t->victim) {
        t->victim_closed++;
        t->victim_reason = reason;
    }
    leave(t);
}

static void rt_drain(void *u, zenith_conn_id conn) {
    rt_t *t = (rt_t *)u;
    enter(t, "on_drain");
    if (should_probe(t, K_DRAIN)) probe(t, conn);
    t->drains++;
    leave(t);
}

static void rt_eof(void *u, zenith_conn_id conn) {
    rt_t *t = (rt_t *)u;
    int rc;
    enter(t, "on_eof");
    if (should_probe(t, K_EOF)) probe(t, conn);
    if (conn == t->subject) { /* still open for sending after the peer's EOF */
        t->eofs++;
        rc = zenith_server_send(t->s, conn, "bye", 3);
        cr_assert_eq(rc, 0, "send after on_eof: %s", zenith_errname(rc));
    }
    cr_assert_eq(zenith_server_close(t->s, conn, ZENITH_CLOSE_FLUSH), 0);
    leave(t);
}

static void rt_connect(void *user, zenith_conn_id conn, int status) {
    rt_t *t = ((tag_t *)user)->t;
    enter(t, "on_connect");
    if (should_probe(t, K_CONNECT)) probe(t, conn);
    if (status == 0) {
        t->connects_ok++;
        t->ob = conn;
    } else {
        t->connects_failed++;
    }
    leave(t);
}

static void rt_timer(void *user, zenith_timer_id id) {
    rt_t *t = (rt_t *)user;
    enter(t, "timer");
    cr_assert_eq(id, t->subject_timer);
    if (should_probe(t, K_TIMER)) probe(t, 0);
    cr_assert_eq(zenith_server_timer_stop(t->s, id), ZENITH_E_STALE, "a one-shot timer is over in its callback");
    t->timer_fires++;
    leave(t);
}

static void rt_post(void *user, void *data, size_t len) {
    rt_t *t = (rt_t *)user;
    enter(t, "post");
    if (should_probe(t, K_POST)) probe(t, 0);
    cr_assert_eq(len, sizeof post_payload);
    cr_assert_not_null(data);
    cr_assert_eq((uintptr_t)data % 16u, 0, "posted data is 16-byte aligned");
    cr_assert_eq(memcmp(data, post_payload, len), 0, "the posted bytes, intact after the probe");
    t->post_runs++;
    leave(t);
}

/* ---- client side ------------------------------------------------------------------------------------ */

/* A client connection, accepted before this returns (t->last_accept is its id). */
static int client(rt_t *t, uint16_t port, int rcvbuf) {
    int n = t->accepts, fd = dial_rcvbuf(port, rcvbuf);
    t->dials++;
    RUN_UNTIL(t, t->accepts >= n + 1);
    return fd;
}

/* Runs the loop a few turns; then fd must have nothing more (nothing delivered twice). */
static void expect_quiet(rt_t *t, int fd, const char *what) {
    char c;
    int i;
    ssize_t r;
    for (i = 0; i < 3; i++) cr_assert_geq(zenith_server_run_once(t->s, 10), 0);
    r = recv(fd, &c, 1, MSG_DONTWAIT);
    cr_assert(r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK), "%s: more bytes than sent (recv %zd: %s)", what, r,
              r < 0    ? strerror(errno)
              : r == 0 ? "EOF"
                       : "a byte");
}

/* Runs the loop until fd has received len bytes, which must be want; then (quiet) nothing more. */
static void expect_bytes_q(rt_t *t, int fd, const void *want, size_t len, int quiet, const char *what) {
    char buf[256];
    size_t got = 0;
    double deadline = now_s() + 5.0;
    cr_assert_leq(len, sizeof buf);
    while (got < len) {
        ssize_t r;
        cr_assert_lt(now_s(), deadline, "%s: got %zu of %zu bytes", what, got, len);
        cr_assert_geq(zenith_server_run_once(t->s, 5), 0);
        r = recv(fd, buf + got, len - got, MSG_DONTWAIT);
        if (r < 0) {
            cr_assert(errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR, "%s: %s", what, strerror(errno));
            continue;
        }
        cr_assert_gt(r, 0, "%s: EOF after %zu of %zu bytes", what, got, len);
        got += (size_t)r;
    }
    cr_assert_eq(memcmp(buf, want, len), 0, "%s: wrong bytes", what);
    if (quiet) expect_quiet(t, fd, what);
}

static void expect_bytes(rt_t *t, int fd, const void *want, size_t len, const char *what) {
    expect_bytes_q(t, fd, want, len, 1, what);
}

static void round_trip(rt_t *t, int fd, const char *msg, const char *what) {
    size_t n = strlen(msg);
    cr_assert_eq(send(fd, msg, n, MSG_NOSIGNAL), (ssize_t)n, "%s: send", what);
    expect_bytes(t, fd, msg, n, what);
}

/* Until fd reads EOF (running the loop when `run`, else just waiting). */
static void expect_eof(rt_t *t, int fd, int run, const char *what) {
    double deadline = now_s() + 5.0;
    for (;;) {
        char c;
        ssize_t r;
        cr_assert_lt(now_s(), deadline, "%s: no EOF", what);
        if (run) {
            cr_assert_geq(zenith_server_run_once(t->s, 5), 0);
        } else {
            struct pollfd p = { fd, POLLIN, 0 };
            poll(&p, 1, 10);
        }
        r = recv(fd, &c, 1, MSG_DONTWAIT);
        if (r == 0) return;
        if (r < 0 && errno == ECONNRESET) return; /* also the end */
        cr_assert(r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK), "%s: data instead of EOF", what);
    }
}

/* ---- drivers: one per kind of callback ---------------------------------------------------------- */

static void provoke_accept(rt_t *t) {
    t->armed = 1;
    t->s_fd = client(t, t->port, 0);
    t->subject = t->last_accept;
    cr_assert_eq(t->probes, 1);
}
static void finish_accept(rt_t *t) {
    round_trip(t, t->s_fd, "accepted-and-alive", "the connection accepted in the probe");
}

static void provoke_data(rt_t *t) {
    t->s_fd = client(t, t->port, 0);
    t->subject = t->last_accept;
    t->armed = 1;
    cr_assert_eq(send(t->s_fd, "hello-data", 10, 0), 10);
    RUN_UNTIL(t, t->probes >= 1);
}
static void finish_data(rt_t *t) {
    expect_bytes(t, t->s_fd, "hello-data", 10, "the data of the probed on_data, echoed once");
    round_trip(t, t->s_fd, "second-message", "the next message on the same connection");
}

static void provoke_close(rt_t *t) {
    t->s_fd = client(t, t->port, 0);
    t->subject = t->last_accept;
    t->armed = 1;
    close(t->s_fd);
    t->s_fd = -1;
    RUN_UNTIL(t, t->probes >= 1);
}
static void finish_close(rt_t *t) {
    cr_assert_eq(t->subject_closed, 1);
    cr_assert_eq(t->subject_reason, ZENITH_CLOSE_PEER);
}

/* The server's own socket for a client connection (same process): the fd whose peer is the
   client's local address. */
static int server_side_fd(int client_fd) {
    struct sockaddr_in me, a, b;
    socklen_t len = sizeof me;
    int fd;
    cr_assert_eq(getsockname(client_fd, (struct sockaddr *)&me, &len), 0);
    for (fd = 0; fd < 65536; fd++) {
        socklen_t la = sizeof a, lb = sizeof b;
        if (fd == client_fd || getpeername(fd, (struct sockaddr *)&a, &la) != 0 || a.sin_family != AF_INET) continue;
        if (a.sin_port == me.sin_port && getsockname(fd, (struct sockaddr *)&b, &lb) == 0) return fd;
    }
    cr_assert_fail("no server-side socket found for the client");
    return -1;
}

static void provoke_drain(rt_t *t) {
    unsigned char buf[4096];
    size_t got = 0, i;
    double deadline;
    int small = 4096;
    t->s_fd = client(t, t->port, 4096); /* a small window */
    t->subject = t->last_accept;
    /* and a small send buffer on the server's side (else the kernel autotunes it up to tcp_wmem's
       4 MiB and takes the whole queue without the client reading) */
    cr_assert_eq(setsockopt(server_side_fd(t->s_fd), SOL_SOCKET, SO_SNDBUF, &small, sizeof small), 0);
    t->armed = 1;
    cr_assert_eq(send(t->s_fd, "F", 1, 0), 1);
    RUN_UNTIL(t, t->fill_started);
    cr_assert_geq(t->fill_total, (size_t)t->cfg.send_queue_max);
    deadline = now_s() + 0.1; /* not reading yet */
    while (now_s() < deadline) cr_assert_geq(zenith_server_run_once(t->s, 10), 0);
    cr_assert_eq(t->drains, 0, "on_drain before the client read (queue %d of %zu filled)",
                 zenith_server_queued(t->s, t->subject), t->fill_total);
    deadline = now_s() + 5.0;
    while (t->probes == 0) { /* now read, until on_drain */
        ssize_t r;
        cr_assert_lt(now_s(), deadline, "no on_drain: read %zu of %zu", got, t->fill_total);
        cr_assert_geq(zenith_server_run_once(t->s, 5), 0);
        r = recv(t->s_fd, buf, sizeof buf, MSG_DONTWAIT);
        if (r > 0) {
            for (i = 0; i < (size_t)r; i++)
                if (buf[i] != fill_byte(got + i)) cr_assert_fail("fill byte %zu differs", got + i);
            got += (size_t)r;
        }
    }
    t->fill_total -= got; /* what finish_drain still has to read */
    t->ob_len = got;      /* (reused: the offset already read) */
}
static void finish_drain(rt_t *t) {
    unsigned char buf[4096];
    size_t got = t->ob_len, end = t->ob_len + t->fill_total, i;
    double deadline = now_s() + 5.0;
    t->ob_len = 0;
    while (got < end) {
        ssize_t r;
        cr_assert_lt(now_s(), deadline, "fill: read %zu of %zu", got, end);
        cr_assert_geq(zenith_server_run_once(t->s, 5), 0);
        r = recv(t->s_fd, buf, sizeof buf, MSG_DONTWAIT);
        if (r > 0) {
            for (i = 0; i < (size_t)r; i++)
                if (buf[i] != fill_byte(got + i)) cr_assert_fail("fill byte %zu differs", got + i);
            got += (size_t)r;
        }
    }
    cr_assert_eq(got, end, "more bytes than the fill");
    cr_assert_eq(t->drains, 1, "one fill, one on_drain");
    round_trip(t, t->s_fd, "after-drain", "the drained connection");
}

static void provoke_eof(rt_t *t) {
    t->s_fd = client(t, t->port, 0);
    t->subject = t->last_accept;
    t->armed = 1;
    cr_assert_eq(shutdown(t->s_fd, SHUT_WR), 0);
    RUN_UNTIL(t, t->probes >= 1);
}
static void finish_eof(rt_t *t) {
    expect_bytes_q(t, t->s_fd, "bye", 3, 0, "sent after on_eof");
    expect_eof(t, t->s_fd, 1, "close after on_eof");
    RUN_UNTIL(t, t->subject_closed == 1);
    cr_assert_eq(t->subject_reason, ZENITH_CLOSE_LOCAL);
    cr_assert_eq(t->eofs, 1);
}

static void provoke_connect(rt_t *t) {
    zenith_connect_config cc;
    int rc;
    memset(&cc, 0, sizeof cc);
    cc.address = "127.0.0.1";
    cc.port = t->port; /* the reactor's own listener */
    cc.on_connect = rt_connect;
    cc.user = &t->ob_tag;
    t->armed = 1;
    rc = zenith_server_connect(t->s, &cc, &t->subject);
    cr_assert_eq(rc, 0, "connect: %s", zenith_errname(rc));
    RUN_UNTIL(t, t->probes >= 1);
}
static void finish_connect(rt_t *t) {
    int rc;
    cr_assert_eq(t->connects_failed, 0);
    cr_assert_eq(t->ob, t->subject, "on_connect's id is the one connect returned");
    RUN_UNTIL(t, t->accepts == t->dials + t->connects_ok); /* its peer, accepted */
    rc = zenith_server_send(t->s, t->ob, "ob-ping", 7);
    cr_assert_eq(rc, 0, "send on the connected connection: %s", zenith_errname(rc));
    RUN_UNTIL(t, t->ob_len >= 7);
    {
        int i;
        for (i = 0; i < 3; i++) cr_assert_geq(zenith_server_run_once(t->s, 10), 0);
    }
    cr_assert_eq(t->ob_len, 7, "the echo arrived once");
    cr_assert_eq(memcmp(t->ob_buf, "ob-ping", 7), 0);
}

static void provoke_timer(rt_t *t) {
    t->armed = 1;
    cr_assert_eq(zenith_server_timer_start(t->s, 5, 0, rt_timer, t, &t->subject_timer), 0);
    RUN_UNTIL(t, t->probes >= 1);
}
static void finish_timer(rt_t *t) {
    int i;
    for (i = 0; i < 3; i++) cr_assert_geq(zenith_server_run_once(t->s, 10), 0);
    cr_assert_eq(t->timer_fires, 1);
    cr_assert_eq(rstats(t).timers_fired, (uint64_t)(1 + t->a_timer_fired));
}

static void provoke_post(rt_t *t) {
    t->armed = 1;
    cr_assert_eq(zenith_server_post(t->s, rt_post, t, post_payload, sizeof post_payload), 0);
    RUN_UNTIL(t, t->probes >= 1);
}
static void finish_post(rt_t *t) {
    int i;
    for (i = 0; i < 3; i++) cr_assert_geq(zenith_server_run_once(t->s, 10), 0);
    cr_assert_eq(t->post_runs, 1, "the message ran once");
    cr_assert_eq(rstats(t).posts_run, (uint64_t)(1 + t->a_post_ran));
}

static const struct {
    void (*provoke)(rt_t *t); /* arms the probe and runs the loop until it ran */
    void (*finish)(rt_t *t);  /* what is particular to the kind, afterwards (not after stop) */
} driver[K_COUNT] = {
    [K_ACCEPT] = { provoke_accept, finish_accept }, [K_DATA] = { provoke_data, finish_data },
    [K_CLOSE] = { provoke_close, finish_close },    [K_DRAIN] = { provoke_drain, finish_drain },
    [K_EOF] = { provoke_eof, finish_eof },          [K_CONNECT] = { provoke_connect, finish_connect },
    [K_TIMER] = { provoke_timer, finish_timer },    [K_POST] = { provoke_post, finish_post },
};

/* ---- one case: setup, provoke, check, tear down ---------------------------------------------------- */

static void finish_allowed(rt_t *t) {
    char want[32];
    int fd2;
    /* the witness: "allowed" (sent in the probe), then, once the timer resumed it, an echo */
    cr_assert_eq(send(t->w_fd, "after-pause", 11, 0), 11);
    RUN_UNTIL(t, t->a_timer_fired == 1);
    memcpy(want, "allowedafter-pause", 18);
    expect_bytes(t, t->w_fd, want, 18, "the witness after send, pause and resume inside the callback");
    cr_assert_eq(t->paused_violation, 0, "on_data for a paused connection");
    RUN_UNTIL(t, t->a_post_ran == 1 && t->a_connect_done == 1 && t->victim_closed == 1);
    cr_assert_eq(t->a_connect_status, 0, "connect inside %s: on_connect %s", kind_name[t->kind],
                 zenith_errname(t->a_connect_status));
    cr_assert_eq(t->victim_reason, ZENITH_CLOSE_LOCAL);
    expect_eof(t, t->v_fd, 1, "the connection closed inside the callback");
    cr_assert_eq(t->a_never_fired, 0, "a timer stopped inside the callback fired");
    fd2 = client(t, t->port2, 0);
    round_trip(t, fd2, "second-listener", "the listener added inside the callback");
    close(fd2);
    cr_assert_eq(rstats(t).listeners, 2);
}

static void teardown(rt_t *t, int stopped) {
    zenith_server_stats st;
    if (t->w_fd >= 0) close(t->w_fd);
    if (t->v_fd >= 0) close(t->v_fd);
    if (t->s_fd >= 0) close(t->s_fd);
    if (!stopped) {
        if (t->ob && zenith_server_queued(t->s, t->ob) >= 0) cr_assert_eq(zenith_server_close(t->s, t->ob, 0), 0);
        RUN_UNTIL(t, (st = sstats(t), st.connections_open == 0));
        cr_assert_eq(zenith_server_shutdown(t->s, 1000), 0, "nothing left for shutdown");
        cr_assert_eq(t->accepts, t->dials + t->connects_ok, "accepts %d, dials %d, connects %d", t->accepts, t->dials,
                     t->connects_ok);
    }
    st = sstats(t);
    cr_assert_eq(st.connections_open, 0);
    cr_assert_eq(st.connections_rejected, 0);
    cr_assert_eq((int)st.connections_closed, t->closes);
    cr_assert_eq(t->closes, t->accepts + t->connects_ok,
                 "every connection closed exactly once (closes %d, accepts %d, "
                 "connects %d)",
                 t->closes, t->accepts, t->connects_ok);
    cr_assert_eq(t->connects_failed, 0);
    cr_assert_eq(t->poison, 0, "callbacks replaced by a refused set_callbacks ran");
    cr_assert_eq(t->max_depth, 1, "callbacks nested");
    cr_assert_eq(rstats(t).misuse_refused, (uint64_t)t->forbidden_made);
    zenith_server_destroy(t->s);
}

static void run_case(kind_t kind, probe_mode mode) {
    rt_t t;
    memset(&t, 0, sizeof t);
    t.w_fd = t.v_fd = t.s_fd = -1;
    t.kind = kind;
    t.mode = mode;
    t.ob_tag.t = t.ob2_tag.t = &t;
    t.cfg = reactor_cfg();
    t.s = mkreactor(&t.cfg);
    t.port = zenith_server_port(t.s);
    cr_assert_neq(t.port, 0);
    cr_assert_eq(zenith_server_set_callbacks(t.s, rt_accept, rt_data, rt_close, &t), 0);
    cr_assert_eq(zenith_server_set_drain_callback(t.s, rt_drain), 0);
    if (kind == K_EOF) cr_assert_eq(zenith_server_set_eof_callback(t.s, rt_eof), 0);
    cr_assert_eq(zenith_server_start(t.s), 0);
    t.w_fd = client(&t, t.port, 0);
    t.witness = t.last_accept;
    t.v_fd = client(&t, t.port, 0);
    t.victim = t.last_accept;
    round_trip(&t, t.w_fd, "warm-up", "the witness before the probe");

    driver[kind].provoke(&t);
    cr_assert_geq(t.probes, 1, "the driver did not provoke %s", kind_name[kind]);

    if (mode == M_STOP) {
        zenith_reactor_stats r0 = rstats(&t), r1;
        zenith_server_stats st;
        double t0;
        int rc;
        cr_assert_eq(t.probes, 1);
        cr_assert_eq(zenith_server_stopped(t.s), 1, "stop inside %s did not stick", kind_name[kind]);
        cr_assert_eq(zenith_server_run_once(t.s, 0), 0, "run_once after stop inside %s", kind_name[kind]);
        t0 = now_s();
        cr_assert_eq(zenith_server_run_once(t.s, -1), 0);
        cr_assert_lt(now_s() - t0, 1.0, "run_once(-1) after stop did not return at once");
        r1 = rstats(&t);
        cr_assert_eq(r1.loop_iterations, r0.loop_iterations, "run_once ran after stop");
        cr_assert_eq(r1.misuse_refused, 0, "stop inside %s counted as misuse", kind_name[kind]);
        st = sstats(&t);
        t.armed = 0;
        rc = zenith_server_shutdown(t.s, 200); /* (outside any callback: allowed) */
        cr_assert_eq(rc, (int)st.connections_open, "shutdown after stop inside %s: %d of %llu closed", kind_name[kind],
                     rc, (unsigned long long)st.connections_open);
        expect_eof(&t, t.w_fd, 0, "the witness after shutdown");
        cr_assert_geq(t.accepts, t.dials);
        cr_assert_leq(t.accepts, t.dials + t.connects_ok);
        teardown(&t, 1);
        return;
    }

    cr_assert_eq(zenith_server_stopped(t.s), 0);
    driver[kind].finish(&t);
    if (mode == M_ALLOWED) {
        cr_assert_eq(t.probes, 1);
        finish_allowed(&t);
    } else {
        cr_assert_eq(t.forbidden_made, t.probes * NFORBIDDEN);
        round_trip(&t, t.v_fd, "victim-alive", "another connection after the refused calls");
    }
    cr_assert_eq(rstats(&t).misuse_refused, (uint64_t)t.forbidden_made, "misuse_refused %llu, forbidden calls made %d",
                 (unsigned long long)rstats(&t).misuse_refused, t.forbidden_made);
    round_trip(&t, t.w_fd, "still-serving", "the witness afterwards");
    {
        int fd = client(&t, t.port, 0); /* the listener still accepts */
        round_trip(&t, fd, "new-connection", "a connection made afterwards");
        close(fd);
    }
    t.armed = 0;
    teardown(&t, 0);
}

/* ---- the table: every kind of callback, each mode --------------------------------------------------- */

#define REENTRANCY_CASES(K, name)                                                                    \
    Test(reentrancy, forbidden_calls_refused_in_##name, .timeout = 30) { run_case(K, M_FORBIDDEN); } \
    Test(reentrancy, allowed_calls_work_in_##name, .timeout = 30) { run_case(K, M_ALLOWED); }        \
    Test(reentrancy, stop_works_in_##name, .timeout = 30) { run_case(K, M_STOP); }

REENTRANCY_CASES(K_ACCEPT, on_accept)
REENTRANCY_CASES(K_DATA, on_data)
REENTRANCY_CASES(K_CLOSE, on_close)
REENTRANCY_CASES(K_DRAIN, on_drain)
REENTRANCY_CASES(K_EOF, on_eof)
REENTRANCY_CASES(K_CONNECT, on_connect)
REENTRANCY_CASES(K_TIMER, timer_callback)
REENTRANCY_CASES(K_POST, posted_message)

/* ---- the case, head on; and another reactor's loop inside a callback ------------------------ */

typedef struct {
    zenith_server *s;
    int calls, refused, depth;
    double slowest;
    size_t bytes;
} rec_t;

/* on_data that tries run_once again and again (the recursion the issue saw), with every kind of
   timeout: each must be refused at once, and the data must come once. */
static void recursing_data(void *u, zenith_conn_id conn, const uint8_t *data, size_t len) {
    rec_t *r = (rec_t *)u;
    static const int timeouts[] = { 0, 1, 100, -1 };
    int i;
    r->depth++;
    cr_assert_eq(r->depth, 1, "on_data nested");
    r->calls++;
    for (i = 0; i < 1000; i++) {
        double t0 = now_s(), dt;
        int rc = zenith_server_run_once(r->s, timeouts[i % 4]);
        dt = now_s() - t0;
        if (dt > r->slowest) r->slowest = dt;
        cr_assert_eq(rc, ZENITH_E_STATE, "run_once(%d) inside on_data, call %d: %d %s", timeouts[i % 4], i, rc,
                     zenith_errname(rc));
        r->refused++;
    }
    r->bytes += len;
    cr_assert_eq(zenith_server_send(r->s, conn, data, len), 0);
    r->depth--;
}

Test(reentrancy, run_once_inside_on_data_refused_a_thousand_times_data_once, .timeout = 30) {
    zenith_server_config cfg = reactor_cfg();
    rec_t r;
    rt_t t; /* for the client helpers: only s is used */
    int fd;
    memset(&r, 0, sizeof r);
    memset(&t, 0, sizeof t);
    r.s = t.s = mkreactor(&cfg);
    cr_assert_eq(zenith_server_set_callbacks(r.s, NULL, recursing_data, NULL, &r), 0);
    cr_assert_eq(zenith_server_start(r.s), 0);
    fd = dial(zenith_server_port(r.s));
    round_trip(&t, fd, "deliver me once", "data through an on_data that calls run_once");
    cr_assert_eq(r.bytes, 15);
    cr_assert_eq(r.refused, 1000 * r.calls);
    cr_assert_lt(r.slowest, 0.05, "a refused run_once waited (%.3f s)", r.slowest);
    cr_assert_eq(rstats(&t).misuse_refused, (uint64_t)r.refused);
    round_trip(&t, fd, "and again", "the next message");
    cr_assert_eq(rstats(&t).misuse_refused, (uint64_t)r.refused);
    close(fd);
    zenith_server_destroy(r.s);
}

typedef struct {
    zenith_server *a, *b;
    int a_ran, b_ran, b_rc;
} pair_t;

static void b_post(void *user, void *data, size_t len) {
    pair_t *p = (pair_t *)user;
    int rc;
    (void)data;
    (void)len;
    p->b_ran++;
    rc = zenith_server_run_once(p->a, 0); /* A is inside its callback (which runs this one) */
    cr_assert_eq(rc, ZENITH_E_STATE, "A's run_once inside a B callback run from an A callback: %s", zenith_errname(rc));
    rc = zenith_server_run_once(p->b, 0);
    cr_assert_eq(rc, ZENITH_E_STATE, "B's run_once inside B's callback: %s", zenith_errname(rc));
}

static void a_post(void *user, void *data, size_t len) {
    pair_t *p = (pair_t *)user;
    (void)data;
    (void)len;
    p->a_ran++;
    /* another reactor's loop is not this one's: allowed ("one of this server's callbacks") */
    cr_assert_eq(zenith_server_post(p->b, b_post, p, NULL, 0), 0);
    p->b_rc = zenith_server_run_once(p->b, 0);
}

static void ignore_data(void *u, zenith_conn_id c, const uint8_t *d, size_t n) {
    (void)u;
    (void)c;
    (void)d;
    (void)n;
}

Test(reentrancy, another_reactors_run_once_inside_a_callback_is_not_this_ones, .timeout = 15) {
    zenith_server_config cfg = reactor_cfg();
    pair_t p;
    zenith_reactor_stats ra, rb;
    memset(&p, 0, sizeof p);
    cfg.flags = ZENITH_SERVER_NO_LISTEN;
    p.a = mkreactor(&cfg);
    p.b = mkreactor(&cfg);
    cr_assert_eq(zenith_server_set_callbacks(p.a, NULL, ignore_data, NULL, &p), 0);
    cr_assert_eq(zenith_server_set_callbacks(p.b, NULL, ignore_data, NULL, &p), 0);
    cr_assert_eq(zenith_server_start(p.a), 0);
    cr_assert_eq(zenith_server_start(p.b), 0);
    cr_assert_eq(zenith_server_post(p.a, a_post, &p, NULL, 0), 0);
    cr_assert_geq(zenith_server_run_once(p.a, 0), 1);
    cr_assert_eq(p.a_ran, 1);
    cr_assert_geq(p.b_rc, 1, "B's run_once inside A's callback: %d %s", p.b_rc, zenith_errname(p.b_rc));
    cr_assert_eq(p.b_ran, 1);
    cr_assert_eq(zenith_server_get_reactor_stats(p.a, &ra), 0);
    cr_assert_eq(zenith_server_get_reactor_stats(p.b, &rb), 0);
    cr_assert_eq(ra.misuse_refused, 1, "A refused its own run_once once");
    cr_assert_eq(rb.misuse_refused, 1, "B refused its own run_once once");
    cr_assert_eq(ra.posts_run, 1);
    cr_assert_eq(rb.posts_run, 1);
    zenith_server_destroy(p.b);
    zenith_server_destroy(p.a);
}
