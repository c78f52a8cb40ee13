/* The reactor (zenith_server as one loop for listeners, outbound connections and timers):
   connect (success, refused, timeout, cancel, bad input, local bind, IPv6, early sends, 1,000 at
   once), extra listeners, timers (never early, lateness, no drift, stop inside callbacks, limits,
   a million of them), the idle timeout, pause/resume/queued/drain and half-close.

   Every reactor's config comes from reactor_cfg(): a later backend (epoll) sets its field there
   and runs this whole suite again. */
#define ZENITH_IMPLEMENTATION
#include "zenith.h"

#include "criterion_compat.h" /* Criterion (or its TSan stand-in) */
#include "net_helpers.h"
#include "helpers.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/* Under a sanitizer the scale tests run smaller (never below 100k timers). */
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define UNDER_SANITIZER 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define UNDER_SANITIZER 1
#endif
#endif
#ifndef UNDER_SANITIZER
#define UNDER_SANITIZER 0
#endif

/* ---- the one place the reactor's config comes from ------------------------------------------ */

/* Every reactor of this suite starts from this config (a later backend field goes here, so the
   whole suite can run once per backend). */
static zenith_server_config reactor_cfg(void) {
    zenith_server_config c;
    memset(&c, 0, sizeof c);
    c.buffer_count = 4096;
    c.recv_buffers = 512;
    c.max_connections = 256;
    return c;
}

/* The same, without a listener: a reactor for outbound connections and timers. */
static zenith_server_config reactor_cfg_no_listen(void) {
    zenith_server_config c = reactor_cfg();
    c.flags |= ZENITH_SERVER_NO_LISTEN;
    return c;
}

static uint64_t mono_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

static unsigned char pattern(uint64_t seed, size_t i) {
    return (unsigned char)((i * 131u + seed * 7u + (i >> 9)) & 0xffu);
}

static unsigned char *make_pattern(uint64_t seed, size_t n) {
    unsigned char *p = malloc(n ? n : 1);
    size_t i;
    cr_assert_not_null(p);
    for (i = 0; i < n; i++) p[i] = pattern(seed, i);
    return p;
}

static uint64_t xorshift(uint64_t *s) {
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

/* ---- a reactor and a record per connection ----------------------------------------------------

   Each connection (accepted, or outbound once on_connect(0) ran) has a crec, found by the slot
   of its id; the record checks that the id matches, so a callback for a stale id fails. */

typedef struct rx rx_t;

typedef struct crec {
    rx_t *owner;
    zenith_conn_id id;
    int connects, status; /* on_connect calls, last status */
    uint64_t connect_ns;  /* when on_connect ran */
    int closes, reason, eofs, drains;
    size_t eof_at;                /* bytes received when on_eof ran */
    unsigned char *in;            /* received bytes (in_cap of them at most) */
    size_t in_len, in_cap, bytes; /* bytes: received in all */
    uint64_t data_calls;
    int echo;                 /* send back what arrives */
    const unsigned char *out; /* outbound: sent in on_connect(0) if send_on_connect */
    size_t out_len;           /* ... and expected back (echo) */
    int send_on_connect;      /* send out[0..out_len) from on_connect(0) */
    int close_when_echoed;    /* close (FLUSH) once out_len bytes came back, equal to out */
    int verified;             /* the echo came back and matched */
    uint64_t close_ns, accept_ns, last_data_ns;
    int drain_queued; /* zenith_server_queued inside the last on_drain */
} crec;

struct rx {
    zenith_server *s;
    uint32_t max_conns;
    pthread_t thread;
    int threaded;
    crec **slot; /* live connections by slot */
    crec *acc;   /* accepted connections' records, in accept order */
    int nacc, acc_cap;
    int echo_accepted;   /* accepted connections echo */
    size_t acc_in_cap;   /* bytes each accepted connection records */
    int pause_on_accept; /* zenith_server_pause in on_accept */
    /* counters (atomic: a threaded reactor's are read from the test thread) */
    int accepts, closes, eofs, drains, verified, connect_calls;
    uint64_t data_calls;
};

static crec *rec_of(rx_t *t, zenith_conn_id conn) {
    crec *r;
    cr_assert_lt((uint32_t)conn, t->max_conns, "slot of id %#llx out of range", (unsigned long long)conn);
    r = t->slot[(uint32_t)conn];
    cr_assert_not_null(r, "callback for id %#llx, which is not a live connection", (unsigned long long)conn);
    cr_assert_eq(r->id, conn, "callback for id %#llx, the slot's connection is %#llx", (unsigned long long)conn,
                 (unsigned long long)r->id);
    return r;
}

static void rx_accept(void *user, zenith_conn_id conn) {
    rx_t *t = (rx_t *)user;
    crec *r;
    cr_assert_neq(conn, 0);
    cr_assert_lt(t->nacc, t->acc_cap, "more accepts than records");
    cr_assert_lt((uint32_t)conn, t->max_conns);
    cr_assert_null(t->slot[(uint32_t)conn], "accepted into a slot that is live");
    r = &t->acc[t->nacc++];
    memset(r, 0, sizeof *r);
    r->owner = t;
    r->id = conn;
    r->echo = t->echo_accepted;
    r->accept_ns = mono_ns();
    if (t->acc_in_cap) {
        r->in = malloc(t->acc_in_cap);
        cr_assert_not_null(r->in);
        r->in_cap = t->acc_in_cap;
    }
    t->slot[(uint32_t)conn] = r;
    cr_assert_null(zenith_server_get_conn_user(t->s, conn), "an accepted connection starts with no user pointer");
    cr_assert_eq(zenith_server_set_conn_user(t->s, conn, r), 0);
    if (t->pause_on_accept) cr_assert_eq(zenith_server_pause(t->s, conn), 0);
    __atomic_fetch_add(&t->accepts, 1, __ATOMIC_RELEASE);
}

static void rx_data(void *user, zenith_conn_id conn, const uint8_t *data, size_t len) {
    rx_t *t = (rx_t *)user;
    crec *r = rec_of(t, conn);
    cr_assert_gt(len, 0);
    cr_assert_eq(zenith_server_get_conn_user(t->s, conn), r, "the connection's user pointer");
    r->data_calls++;
    r->last_data_ns = mono_ns();
    __atomic_fetch_add(&t->data_calls, 1, __ATOMIC_RELEASE);
    if (r->in_cap) {
        cr_assert_leq(r->in_len + len, r->in_cap, "connection %#llx received more than %zu bytes",
                      (unsigned long long)conn, r->in_cap);
        memcpy(r->in + r->in_len, data, len);
        r->in_len += len;
    }
    r->bytes += len;
    if (r->echo) {
        int rc = zenith_server_send(t->s, conn, data, len);
        cr_assert_eq(rc, 0, "echo send: %d %s", rc, zenith_errname(rc));
    }
    if (r->close_when_echoed && r->in_len == r->out_len) {
        cr_assert_eq(memcmp(r->in, r->out, r->out_len), 0, "the echo of %#llx differs", (unsigned long long)conn);
        r->verified = 1;
        __atomic_fetch_add(&t->verified, 1, __ATOMIC_RELEASE);
        cr_assert_eq(zenith_server_close(t->s, conn, ZENITH_CLOSE_FLUSH), 0);
    }
}

static void rx_close(void *user, zenith_conn_id conn, int reason) {
    rx_t *t = (rx_t *)user;
    crec *r = rec_of(t, conn);
    /* the id is stale in on_close (calls on it are refused), but its user pointer is still
       readable there, so the application can free its state */
    cr_assert_eq(zenith_server_send(t->s, conn, "x", 1), ZENITH_E_STALE, "the id is stale in on_close");
    cr_assert_eq(zenith_server_get_conn_user(t->s, conn), r, "the user pointer, readable in on_close");
    r->closes++;
    r->reason = reason;
    r->close_ns = mono_ns();
    t->slot[(uint32_t)conn] = NULL;
    __atomic_fetch_add(&t->closes, 1, __ATOMIC_RELEASE);
}

static void rx_eof(void *user, zenith_conn_id conn) {
    rx_t *t = (rx_t *)user;
    crec *r = rec_of(t, conn);
    r->eofs++;
    r->eof_at = r->bytes;
    __atomic_fetch_add(&t->eofs, 1, __ATOMIC_RELEASE);
}

static void rx_drain(void *user, zenith_conn_id conn) {
    rx_t *t = (rx_t *)user;
    crec *r = rec_of(t, conn);
    r->drains++;
    r->drain_queued = zenith_server_queued(t->s, conn);
    __atomic_fetch_add(&t->drains, 1, __ATOMIC_RELEASE);
}

/* on_connect: user is the connection's crec (the connect config's user). */
static void rx_connected(void *user, zenith_conn_id conn, int status) {
    crec *r = (crec *)user;
    rx_t *t = r->owner;
    cr_assert_eq(conn, r->id, "on_connect with id %#llx, connect gave %#llx", (unsigned long long)conn,
                 (unsigned long long)r->id);
    r->connects++;
    r->status = status;
    r->connect_ns = mono_ns();
    __atomic_fetch_add(&t->connect_calls, 1, __ATOMIC_RELEASE);
    if (status != 0) {
        cr_assert_eq(zenith_server_send(t->s, conn, "x", 1), ZENITH_E_STALE, "after a failed connect the id is stale");
        cr_assert_eq(zenith_server_get_conn_user(t->s, conn), r, "its user pointer, readable in on_connect");
        return;
    }
    cr_assert_eq(zenith_server_get_conn_user(t->s, conn), r, "the connect config's user is the connection's");
    cr_assert_lt((uint32_t)conn, t->max_conns);
    cr_assert_null(t->slot[(uint32_t)conn]);
    t->slot[(uint32_t)conn] = r;
    if (r->send_on_connect) {
        int rc = zenith_server_send(t->s, conn, r->out, r->out_len);
        cr_assert_eq(rc, 0, "send from on_connect: %s", zenith_errname(rc));
    }
}

/* Creates a reactor (skips the test where io_uring is refused) with the rx callbacks. */
static void rx_init(rx_t *t, const zenith_server_config *cfg) {
    int err = 12345;
    memset(t, 0, sizeof *t);
    t->s = zenith_server_create(cfg, &err);
    if (t->s == NULL && err == ZENITH_E_URING_DISABLED) cr_skip("io_uring is disabled here");
    cr_assert_not_null(t->s, "zenith_server_create: %d %s", err, zenith_errname(err));
    cr_assert_eq(err, 0);
    t->max_conns = cfg->max_connections ? cfg->max_connections : 16384u;
    t->slot = calloc(t->max_conns, sizeof *t->slot);
    t->acc_cap = (int)t->max_conns * 2 + 16;
    t->acc = calloc((size_t)t->acc_cap, sizeof *t->acc);
    cr_assert(t->slot && t->acc);
    cr_assert_eq(zenith_server_set_callbacks(t->s, rx_accept, rx_data, rx_close, t), 0);
    cr_assert_eq(zenith_server_set_drain_callback(t->s, rx_drain), 0);
}

static void rx_start(rx_t *t) { cr_assert_eq(zenith_server_start(t->s), 0); }

static void *rx_loop(void *arg) {
    rx_t *t = (rx_t *)arg;
    cr_assert_eq(zenith_server_start(t->s), 0);
    while (!zenith_server_stopped(t->s)) cr_assert_geq(zenith_server_run_once(t->s, 100), 0);
    return NULL;
}

/* Runs the reactor on a thread of its own (it starts there). */
static void rx_start_thread(rx_t *t) {
    t->threaded = 1;
    cr_assert_eq(pthread_create(&t->thread, NULL, rx_loop, t), 0);
}

/* Frees the records (the reactor must be destroyed already). */
static void rx_free(rx_t *t) {
    int i;
    for (i = 0; i < t->nacc; i++) free(t->acc[i].in);
    free(t->acc);
    free(t->slot);
    t->acc = NULL;
    t->slot = NULL;
}

/* Stops a threaded reactor, joins it, shuts it down and destroys it from this thread. */
static void rx_stop_thread(rx_t *t, zenith_server_stats *st) {
    zenith_server_stop(t->s);
    cr_assert_eq(pthread_join(t->thread, NULL), 0);
    cr_assert_geq(zenith_server_shutdown(t->s, 2000), 0);
    if (st) cr_assert_eq(zenith_server_get_stats(t->s, st), 0);
    zenith_server_destroy(t->s);
    rx_free(t);
}

static void rx_destroy(rx_t *t) {
    zenith_server_destroy(t->s);
    rx_free(t);
}

static zenith_reactor_stats rstats(zenith_server *s) {
    zenith_reactor_stats r;
    memset(&r, 0xa5, sizeof r);
    cr_assert_eq(zenith_server_get_reactor_stats(s, &r), 0);
    return r;
}

static zenith_server_stats sstats(zenith_server *s) {
    zenith_server_stats r;
    memset(&r, 0xa5, sizeof r);
    cr_assert_eq(zenith_server_get_stats(s, &r), 0);
    return r;
}

static void crec_init(crec *r, rx_t *owner, size_t in_cap) {
    memset(r, 0, sizeof *r);
    r->owner = owner;
    if (in_cap) {
        r->in = malloc(in_cap);
        cr_assert_not_null(r->in);
        r->in_cap = in_cap;
    }
}

static zenith_connect_config connect_cfg(const char *address, uint16_t port, crec *r) {
    zenith_connect_config c;
    memset(&c, 0, sizeof c);
    c.address = address;
    c.port = port;
    c.on_connect = rx_connected;
    c.user = r;
    return c;
}

/* Starts a connect that must be accepted (returns 0, an id, and nothing called yet). */
static zenith_conn_id start_connect(rx_t *t, const zenith_connect_config *c, crec *r) {
    zenith_conn_id id = 0;
    int rc = zenith_server_connect(t->s, c, &id);
    cr_assert_eq(rc, 0, "zenith_server_connect(%s:%u): %d %s", c->address, c->port, rc, zenith_errname(rc));
    cr_assert_neq(id, 0);
    cr_assert_eq(r->connects, 0, "on_connect ran inside zenith_server_connect");
    r->id = id;
    return id;
}

/* Runs the reactor loop on this thread until cond holds or `secs` pass. */
#define RUN_UNTIL_FOR(s, cond, secs)                                          \
    do {                                                                      \
        double deadline_ = now_s() + (secs);                                  \
        while (!(cond)) {                                                     \
            cr_assert_lt(now_s(), deadline_, "timed out waiting for " #cond); \
            cr_assert_geq(zenith_server_run_once((s), 10), 0);                \
        }                                                                     \
    } while (0)
#define RUN_UNTIL(s, cond) RUN_UNTIL_FOR(s, cond, 5.0)

/* Runs the loop for `secs` seconds. */
static void run_for(zenith_server *s, double secs) {
    double end = now_s() + secs;
    while (now_s() < end) cr_assert_geq(zenith_server_run_once(s, 5), 0);
}

static int aload(const int *p) { return __atomic_load_n(p, __ATOMIC_ACQUIRE); }

/* ---- raw sockets ------------------------------------------------------------------------------ */

static uint16_t port_of(int fd) {
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    cr_assert_eq(getsockname(fd, (struct sockaddr *)&ss, &len), 0);
    return ntohs(ss.ss_family == AF_INET ? ((struct sockaddr_in *)(void *)&ss)->sin_port
                                         : ((struct sockaddr_in6 *)(void *)&ss)->sin6_port);
}

static int raw_socket_on(const char *address, uint16_t port) {
    struct sockaddr_storage ss;
    socklen_t len;
    int fd, one = 1;
    memset(&ss, 0, sizeof ss);
    if (inet_pton(AF_INET, address, &((struct sockaddr_in *)(void *)&ss)->sin_addr) == 1) {
        ((struct sockaddr_in *)(void *)&ss)->sin_family = AF_INET;
        ((struct sockaddr_in *)(void *)&ss)->sin_port = htons(port);
        len = sizeof(struct sockaddr_in);
    } else {
        cr_assert_eq(inet_pton(AF_INET6, address, &((struct sockaddr_in6 *)(void *)&ss)->sin6_addr), 1);
        ((struct sockaddr_in6 *)(void *)&ss)->sin6_family = AF_INET6;
        ((struct sockaddr_in6 *)(void *)&ss)->sin6_port = htons(port);
        len = sizeof(struct sockaddr_in6);
    }
    fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    cr_assert_geq(fd, 0);
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    cr_assert_eq(bind(fd, (struct sockaddr *)&ss, len), 0, "bind %s:%u: %s", address, port, strerror(errno));
    return fd;
}

/* A port on 127.0.0.1 where nothing listens (bound to port 0, read, closed). */
static uint16_t dead_port(void) {
    int fd = raw_socket_on("127.0.0.1", 0);
    uint16_t p = port_of(fd);
    close(fd);
    return p;
}

static int raw_listener(const char *address, int backlog) {
    int fd = raw_socket_on(address, 0);
    cr_assert_eq(listen(fd, backlog), 0);
    return fd;
}

/* A blocking TCP connection to address:port (IPv4 or IPv6 literal). */
static int dial_addr(const char *address, uint16_t port) {
    struct sockaddr_storage ss;
    socklen_t len;
    int fd, one = 1;
    memset(&ss, 0, sizeof ss);
    if (inet_pton(AF_INET, address, &((struct sockaddr_in *)(void *)&ss)->sin_addr) == 1) {
        ((struct sockaddr_in *)(void *)&ss)->sin_family = AF_INET;
        ((struct sockaddr_in *)(void *)&ss)->sin_port = htons(port);
        len = sizeof(struct sockaddr_in);
    } else {
        cr_assert_eq(inet_pton(AF_INET6, address, &((struct sockaddr_in6 *)(void *)&ss)->sin6_addr), 1);
        ((struct sockaddr_in6 *)(void *)&ss)->sin6_family = AF_INET6;
        ((struct sockaddr_in6 *)(void *)&ss)->sin6_port = htons(port);
        len = sizeof(struct sockaddr_in6);
    }
    fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    cr_assert_geq(fd, 0);
    cr_assert_eq(connect(fd, (struct sockaddr *)&ss, len), 0, "connect %s:%u: %s", address, port, strerror(errno));
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    return fd;
}

static int have_ipv6_loopback(void) {
    int fd = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0), ok;
    struct sockaddr_in6 a;
    if (fd < 0) return 0;
    memset(&a, 0, sizeof a);
    a.sin6_family = AF_INET6;
    a.sin6_addr = in6addr_loopback;
    ok = bind(fd, (struct sockaddr *)&a, sizeof a) == 0;
    close(fd);
    return ok;
}

/* A listener that drops SYNs: listen(fd, 0) with its accept queue filled by raw non-blocking
   connects that are never accepted, until one of them does not complete (its SYN was dropped:
   the queue is full). Connects to it then get no answer at all. */
typedef struct {
    int lfd;
    uint16_t port;
    int fds[64];
    int n;
} syn_sink;

static void syn_sink_open(syn_sink *k) {
    struct sockaddr_in a;
    int dropped = 0;
    memset(k, 0, sizeof *k);
    k->lfd = raw_listener("127.0.0.1", 0);
    k->port = port_of(k->lfd);
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_port = htons(k->port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    while (!dropped) {
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0), rc;
        struct pollfd p;
        cr_assert_geq(fd, 0);
        cr_assert_lt(k->n, 64, "the accept queue of listen(fd, 0) never filled");
        k->fds[k->n++] = fd;
        rc = connect(fd, (struct sockaddr *)&a, sizeof a);
        cr_assert(rc == 0 || errno == EINPROGRESS, "connect: %s", strerror(errno));
        if (rc == 0) continue;
        p.fd = fd;
        p.events = POLLOUT;
        p.revents = 0;
        if (poll(&p, 1, 200) == 0) {
            dropped = 1; /* no SYN-ACK within 200 ms: the SYN was dropped */
        } else {
            int e = 0;
            socklen_t el = sizeof e;
            cr_assert_eq(getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &el), 0);
            cr_assert_eq(e, 0, "raw connect to the sink: %s", strerror(e));
        }
    }
}

static void syn_sink_close(syn_sink *k) {
    int i;
    for (i = 0; i < k->n; i++) close(k->fds[i]);
    close(k->lfd);
}

/* ---- outbound connections ------------------------------------------------------------------- */

static void check_bytes(const unsigned char *got, size_t n, uint64_t seed, const char *what) {
    size_t i;
    for (i = 0; i < n; i++)
        if (got[i] != pattern(seed, i)) cr_assert_fail("%s: byte %zu of %zu differs", what, i, n);
}

Test(reactor, connect_to_own_listener, .timeout = 20) {
    zenith_server_config cfg = reactor_cfg();
    zenith_reactor_stats rs;
    zenith_server_stats st;
    rx_t t;
    crec cli;
    zenith_connect_config c;
    zenith_conn_id id;
    const size_t n = 100000;
    unsigned char *out = make_pattern(1, n);
    rx_init(&t, &cfg);
    t.echo_accepted = 1;
    t.acc_in_cap = n;
    rx_start(&t);
    crec_init(&cli, &t, n);
    c = connect_cfg("127.0.0.1", zenith_server_port(t.s), &cli);
    id = start_connect(&t, &c, &cli);
    cr_assert_eq(zenith_server_get_conn_user(t.s, id), &cli, "the user pointer is set while connecting");
    RUN_UNTIL(t.s, cli.connects == 1 && t.accepts == 1);
    cr_assert_eq(cli.status, 0, "on_connect status %d %s", cli.status, zenith_errname(cli.status));
    cr_assert_eq(zenith_server_send(t.s, id, out, n), 0);
    RUN_UNTIL(t.s, cli.in_len == n);
    cr_assert_eq(t.acc[0].in_len, n);
    check_bytes(t.acc[0].in, n, 1, "client -> server");
    check_bytes(cli.in, n, 1, "server -> client (echo)");
    cr_assert_eq(zenith_server_close(t.s, id, ZENITH_CLOSE_FLUSH), 0);
    RUN_UNTIL(t.s, cli.closes == 1 && t.acc[0].closes == 1);
    run_for(t.s, 0.05); /* nothing more may come */
    cr_assert_eq(cli.connects, 1, "on_connect exactly once");
    cr_assert_eq(cli.closes, 1);
    cr_assert_eq(cli.reason, ZENITH_CLOSE_LOCAL);
    cr_assert_eq(t.acc[0].closes, 1);
    cr_assert_eq(t.acc[0].reason, ZENITH_CLOSE_PEER);
    cr_assert_eq(t.accepts, 1);
    cr_assert_eq(t.closes, 2);
    cr_assert_eq(zenith_server_send(t.s, id, "x", 1), ZENITH_E_STALE, "the id is stale after on_close");
    rs = rstats(t.s);
    cr_assert_eq(rs.connects_started, 1);
    cr_assert_eq(rs.connects_succeeded, 1);
    cr_assert_eq(rs.connects_failed + rs.connects_timed_out + rs.connects_canceled, 0);
    cr_assert_eq(rs.listeners, 1);
    st = sstats(t.s);
    cr_assert_eq(st.connections_accepted, 1, "outbound connections are not counted as accepted");
    cr_assert_eq(st.connections_closed, 2);
    cr_assert_eq(st.connections_open, 0);
    cr_assert_eq(st.bytes_in, 2 * n);
    cr_assert_eq(st.bytes_out, 2 * n);
    rx_destroy(&t);
    free(cli.in);
    free(out);
}

Test(reactor, connect_to_reactor_on_another_thread, .timeout = 20) {
    zenith_server_config scfg = reactor_cfg(), ccfg = reactor_cfg_no_listen();
    zenith_server_stats st;
    rx_t srv, cl;
    crec cli;
    zenith_connect_config c;
    zenith_conn_id id;
    const size_t n = 300000;
    unsigned char *out = make_pattern(2, n);
    rx_init(&srv, &scfg);
    srv.echo_accepted = 1;
    srv.acc_in_cap = n;
    rx_start_thread(&srv);
    rx_init(&cl, &ccfg);
    rx_start(&cl);
    crec_init(&cli, &cl, n);
    cli.out = out;
    cli.out_len = n;
    cli.send_on_connect = 1;
    c = connect_cfg("127.0.0.1", zenith_server_port(srv.s), &cli);
    id = start_connect(&cl, &c, &cli);
    RUN_UNTIL(cl.s, cli.in_len == n);
    cr_assert_eq(cli.connects, 1);
    cr_assert_eq(cli.status, 0);
    check_bytes(cli.in, n, 2, "echo");
    cr_assert_eq(zenith_server_close(cl.s, id, ZENITH_CLOSE_FLUSH), 0);
    RUN_UNTIL(cl.s, cli.closes == 1 && aload(&srv.closes) == 1);
    run_for(cl.s, 0.05);
    cr_assert_eq(cli.connects, 1);
    cr_assert_eq(cli.closes, 1);
    cr_assert_eq(cli.reason, ZENITH_CLOSE_LOCAL);
    rx_stop_thread(&srv, &st); /* srv.acc is freed there: check it first */
    cr_assert_eq(st.connections_accepted, 1);
    cr_assert_eq(st.connections_closed, 1);
    cr_assert_eq(st.bytes_in, n);
    cr_assert_eq(st.bytes_out, n);
    st = sstats(cl.s);
    cr_assert_eq(st.connections_accepted, 0);
    cr_assert_eq(st.connections_closed, 1);
    cr_assert_eq(st.bytes_in, n);
    cr_assert_eq(st.bytes_out, n);
    cr_assert_eq(zenith_server_port(cl.s), 0, "a NO_LISTEN reactor has no port");
    rx_destroy(&cl);
    free(cli.in);
    free(out);
}

Test(reactor, connect_refused, .timeout = 15) {
    zenith_server_config cfg = reactor_cfg_no_listen();
    zenith_reactor_stats rs;
    rx_t t;
    crec cli;
    zenith_connect_config c;
    zenith_conn_id id;
    rx_init(&t, &cfg);
    rx_start(&t);
    crec_init(&cli, &t, 0);
    c = connect_cfg("127.0.0.1", dead_port(), &cli);
    id = start_connect(&t, &c, &cli);
    RUN_UNTIL(t.s, cli.connects == 1);
    run_for(t.s, 0.1);
    cr_assert_eq(cli.connects, 1, "on_connect exactly once");
    cr_assert_eq(cli.status, ZENITH_ESYS(ECONNREFUSED), "status %d %s", cli.status, zenith_errname(cli.status));
    cr_assert_eq(t.closes, 0, "a failed connect gets no on_close");
    cr_assert_eq(t.data_calls, 0);
    cr_assert_eq(zenith_server_send(t.s, id, "x", 1), ZENITH_E_STALE, "after a failure the id is stale");
    cr_assert_eq(zenith_server_close(t.s, id, ZENITH_CLOSE_FLUSH), ZENITH_E_STALE);
    rs = rstats(t.s);
    cr_assert_eq(rs.connects_started, 1);
    cr_assert_eq(rs.connects_failed, 1);
    cr_assert_eq(rs.connects_succeeded + rs.connects_timed_out + rs.connects_canceled, 0);
    cr_assert_eq(sstats(t.s).connections_open, 0);
    rx_destroy(&t);
}

Test(reactor, connect_timeout, .timeout = 20) {
    zenith_server_config cfg = reactor_cfg_no_listen();
    zenith_reactor_stats rs;
    syn_sink k;
    rx_t t;
    crec cli;
    zenith_connect_config c;
    uint64_t t0;
    double took_ms;
    syn_sink_open(&k);
    rx_init(&t, &cfg);
    rx_start(&t);
    crec_init(&cli, &t, 0);
    c = connect_cfg("127.0.0.1", k.port, &cli);
    c.timeout_ms = 200;
    t0 = mono_ns();
    start_connect(&t, &c, &cli);
    RUN_UNTIL(t.s, cli.connects == 1);
    took_ms = (double)(cli.connect_ns - t0) / 1e6;
    run_for(t.s, 0.1);
    cr_assert_eq(cli.connects, 1);
    cr_assert_eq(cli.status, ZENITH_E_TIMEDOUT, "status %d %s after %.1f ms", cli.status, zenith_errname(cli.status),
                 took_ms);
    cr_assert_geq(took_ms, 200.0, "timed out early: after %.3f ms", took_ms);
    /* the bound: a 1 ms tick, one loop iteration and this shared VM's scheduling */
    cr_assert_lt(took_ms, 200.0 + 100.0, "timed out late: after %.3f ms", took_ms);
    cr_assert_eq(t.closes, 0);
    rs = rstats(t.s);
    cr_assert_eq(rs.connects_timed_out, 1);
    cr_assert_eq(rs.connects_failed + rs.connects_succeeded + rs.connects_canceled, 0);
    cr_log_info("connect timeout 200 ms: on_connect after %.2f ms", took_ms);
    rx_destroy(&t);
    syn_sink_close(&k);
}

Test(reactor, connect_canceled_by_close, .timeout = 20) {
    zenith_server_config cfg = reactor_cfg_no_listen();
    zenith_pool_stats p0, p1;
    zenith_reactor_stats rs;
    syn_sink k;
    rx_t t;
    crec cli;
    zenith_connect_config c;
    zenith_conn_id id;
    unsigned char *out = make_pattern(3, 50000);
    syn_sink_open(&k);
    rx_init(&t, &cfg);
    rx_start(&t);
    cr_assert_eq(zenith_pool_get_stats(zenith_server_pool(t.s), &p0), 0);
    crec_init(&cli, &t, 0);
    c = connect_cfg("127.0.0.1", k.port, &cli);
    id = start_connect(&t, &c, &cli);
    cr_assert_eq(zenith_server_send(t.s, id, out, 50000), 0, "sends on a connecting id are queued");
    cr_assert_eq(zenith_server_queued(t.s, id), 50000);
    run_for(t.s, 0.05);
    cr_assert_eq(cli.connects, 0, "no answer from the sink yet");
    cr_assert_eq(zenith_server_close(t.s, id, ZENITH_CLOSE_FLUSH), 0);
    cr_assert_eq(cli.connects, 0, "on_connect comes from run_once, not from close");
    RUN_UNTIL(t.s, cli.connects == 1);
    run_for(t.s, 0.05);
    cr_assert_eq(cli.connects, 1);
    cr_assert_eq(cli.status, ZENITH_E_CANCELED, "status %d %s", cli.status, zenith_errname(cli.status));
    cr_assert_eq(t.closes, 0);
    cr_assert_eq(zenith_server_close(t.s, id, ZENITH_CLOSE_FLUSH), ZENITH_E_STALE);
    cr_assert_eq(zenith_pool_get_stats(zenith_server_pool(t.s), &p1), 0);
    cr_assert_eq(p1.in_use, p0.in_use, "the queued bytes' buffers came back (%llu in use, was %llu)",
                 (unsigned long long)p1.in_use, (unsigned long long)p0.in_use);
    rs = rstats(t.s);
    cr_assert_eq(rs.connects_canceled, 1);
    cr_assert_eq(rs.connects_started, 1);
    rx_destroy(&t);
    syn_sink_close(&k);
    free(out);
}

/* Connects in flight to the sink, plus one open connection to the reactor's own listener. */
static void connects_in_flight(rx_t *t, syn_sink *k, crec *cli, int n, crec *open_one) {
    int i;
    for (i = 0; i < n; i++) {
        zenith_connect_config c;
        crec_init(&cli[i], t, 0);
        c = connect_cfg("127.0.0.1", k->port, &cli[i]);
        start_connect(t, &c, &cli[i]);
    }
    {
        zenith_connect_config c;
        crec_init(open_one, t, 0);
        c = connect_cfg("127.0.0.1", zenith_server_port(t->s), open_one);
        start_connect(t, &c, open_one);
        RUN_UNTIL(t->s, open_one->connects == 1 && t->accepts == 1);
        cr_assert_eq(open_one->status, 0);
    }
    run_for(t->s, 0.05);
    for (i = 0; i < n; i++) cr_assert_eq(cli[i].connects, 0, "connect %d answered", i);
}

Test(reactor, connects_canceled_by_shutdown, .timeout = 20) {
    zenith_server_config cfg = reactor_cfg();
    zenith_reactor_stats rs;
    syn_sink k;
    rx_t t;
    crec cli[5], open_one;
    int i, rc;
    syn_sink_open(&k);
    rx_init(&t, &cfg);
    rx_start(&t);
    connects_in_flight(&t, &k, cli, 5, &open_one);
    rc = zenith_server_shutdown(t.s, 1000);
    cr_assert_eq(rc, 2, "shutdown closed %d connections (the open pair is 2)", rc);
    for (i = 0; i < 5; i++) {
        cr_assert_eq(cli[i].connects, 1, "connect %d: on_connect %d times", i, cli[i].connects);
        cr_assert_eq(cli[i].status, ZENITH_E_CANCELED, "connect %d: %s", i, zenith_errname(cli[i].status));
    }
    cr_assert_eq(open_one.connects, 1);
    cr_assert_eq(open_one.closes, 1);
    cr_assert_eq(open_one.reason, ZENITH_CLOSE_SHUTDOWN);
    cr_assert_eq(t.acc[0].closes, 1);
    cr_assert_eq(t.acc[0].reason, ZENITH_CLOSE_SHUTDOWN);
    cr_assert_eq(t.closes, 2);
    rs = rstats(t.s);
    cr_assert_eq(rs.connects_canceled, 5);
    cr_assert_eq(rs.connects_succeeded, 1);
    cr_assert_eq(rs.connects_started, 6);
    {
        zenith_connect_config c = connect_cfg("127.0.0.1", k.port, &cli[0]);
        zenith_conn_id id = 99;
        cr_assert_eq(zenith_server_connect(t.s, &c, &id), ZENITH_E_STATE, "connect after shutdown");
        cr_assert_eq(id, 0);
    }
    rx_destroy(&t);
    for (i = 0; i < 5; i++) cr_assert_eq(cli[i].connects, 1, "destroy called on_connect again");
    syn_sink_close(&k);
}

Test(reactor, connects_canceled_by_destroy, .timeout = 20) {
    zenith_server_config cfg = reactor_cfg();
    syn_sink k;
    rx_t t;
    crec cli[5], open_one;
    int i;
    syn_sink_open(&k);
    rx_init(&t, &cfg);
    rx_start(&t);
    connects_in_flight(&t, &k, cli, 5, &open_one);
    zenith_server_destroy(t.s);
    for (i = 0; i < 5; i++) {
        cr_assert_eq(cli[i].connects, 1, "connect %d: on_connect %d times", i, cli[i].connects);
        cr_assert_eq(cli[i].status, ZENITH_E_CANCELED, "connect %d: %s", i, zenith_errname(cli[i].status));
    }
    cr_assert_eq(open_one.closes, 1);
    cr_assert_eq(open_one.reason, ZENITH_CLOSE_SHUTDOWN);
    cr_assert_eq(t.acc[0].closes, 1);
    cr_assert_eq(t.closes, 2);
    rx_free(&t);
    syn_sink_close(&k);
}

static int never_connect_calls;
static void never_connect(void *user, zenith_conn_id conn, int status) {
    (void)user;
    (void)conn;
    (void)status;
    never_connect_calls++;
}

Test(reactor, connect_bad_input, .timeout = 15) {
    zenith_server_config cfg = reactor_cfg();
    rx_t t;
    zenith_connect_config good, bad;
    zenith_conn_id id;
    static const char *addrs[] = { "localhost", "", "300.1.2.3", "::g", "127.0.0.1:80", " 127.0.0.1" };
    static const char *locals[] = { "localhost", "", "1.2.3.4.5", "::1" /* other family than the peer */ };
    size_t i;
    rx_init(&t, &cfg);
    memset(&good, 0, sizeof good);
    good.address = "127.0.0.1";
    good.port = zenith_server_port(t.s);
    good.on_connect = never_connect;
    /* not started */
    id = 77;
    cr_assert_eq(zenith_server_connect(t.s, &good, &id), ZENITH_E_STATE, "connect before start");
    cr_assert_eq(id, 0, "*out is 0 on error");
    rx_start(&t);
    id = 77;
    cr_assert_eq(zenith_server_connect(NULL, &good, &id), ZENITH_E_NULL);
    cr_assert_eq(zenith_server_connect(t.s, NULL, &id), ZENITH_E_NULL);
    cr_assert_eq(id, 0);
    cr_assert_eq(zenith_server_connect(t.s, &good, NULL), ZENITH_E_NULL);
    for (i = 0; i < sizeof addrs / sizeof addrs[0]; i++) {
        bad = good;
        bad.address = addrs[i];
        id = 77;
        cr_assert_eq(zenith_server_connect(t.s, &bad, &id), ZENITH_E_INVAL, "address \"%s\"", addrs[i]);
        cr_assert_eq(id, 0);
    }
    bad = good;
    bad.port = 0;
    cr_assert_eq(zenith_server_connect(t.s, &bad, &id), ZENITH_E_INVAL, "port 0");
    for (i = 0; i < sizeof locals / sizeof locals[0]; i++) {
        bad = good;
        bad.local_address = locals[i];
        cr_assert_eq(zenith_server_connect(t.s, &bad, &id), ZENITH_E_INVAL, "local_address \"%s\"", locals[i]);
    }
    bad = good;
    bad.flags = 1u << 7;
    cr_assert_eq(zenith_server_connect(t.s, &bad, &id), ZENITH_E_INVAL, "unknown flag bit");
    bad.flags = 1u << 31;
    cr_assert_eq(zenith_server_connect(t.s, &bad, &id), ZENITH_E_INVAL, "unknown flag bit 31");
    bad = good;
    bad.timeout_ms = ZENITH_TIMER_MAX_MS + 1u;
    cr_assert_eq(zenith_server_connect(t.s, &bad, &id), ZENITH_E_INVAL, "timeout over ZENITH_TIMER_MAX_MS");
    bad = good;
    bad.struct_size = 4;
    cr_assert_eq(zenith_server_connect(t.s, &bad, &id), ZENITH_E_INVAL, "struct_size 4");
    run_for(t.s, 0.1);
    cr_assert_eq(never_connect_calls, 0, "on_connect fired for a refused connect");
    cr_assert_eq(rstats(t.s).connects_started, 0);
    cr_assert_eq(t.accepts, 0, "nothing was connected");
    /* stopped */
    zenith_server_stop(t.s);
    cr_assert_eq(zenith_server_connect(t.s, &good, &id), ZENITH_E_STATE, "connect once stopped");
    rx_destroy(&t);
    cr_assert_eq(never_connect_calls, 0);
}

/* Returns 1 if 127.0.0.2 can be bound here (all of 127/8 is loopback on Linux). */
static int have_127_0_0_2(void) {
    struct sockaddr_in a;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), ok;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(0x7f000002u);
    ok = fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof a) == 0;
    if (fd >= 0) close(fd);
    return ok;
}

Test(reactor, connect_from_local_address, .timeout = 15) {
    zenith_server_config cfg = reactor_cfg_no_listen();
    rx_t t;
    crec cli[2];
    int lfd, k;
    uint16_t lport = dead_port();
    if (!have_127_0_0_2()) cr_skip("127.0.0.2 cannot be bound here");
    lfd = raw_listener("127.0.0.1", 16);
    rx_init(&t, &cfg);
    rx_start(&t);
    for (k = 0; k < 2; k++) { /* any local port, then a given one */
        zenith_connect_config c;
        struct sockaddr_in peer;
        socklen_t len = sizeof peer;
        char ip[INET_ADDRSTRLEN];
        int afd;
        crec_init(&cli[k], &t, 0);
        c = connect_cfg("127.0.0.1", port_of(lfd), &cli[k]);
        c.local_address = "127.0.0.2";
        c.local_port = k ? lport : 0;
        start_connect(&t, &c, &cli[k]);
        RUN_UNTIL(t.s, cli[k].connects == 1);
        cr_assert_eq(cli[k].status, 0, "%s", zenith_errname(cli[k].status));
        afd = accept(lfd, (struct sockaddr *)&peer, &len);
        cr_assert_geq(afd, 0);
        len = sizeof peer;
        cr_assert_eq(getpeername(afd, (struct sockaddr *)&peer, &len), 0);
        cr_assert_eq(peer.sin_family, AF_INET);
        inet_ntop(AF_INET, &peer.sin_addr, ip, sizeof ip);
        cr_assert_str_eq(ip, "127.0.0.2", "the peer is %s", ip);
        if (k)
            cr_assert_eq(ntohs(peer.sin_port), lport, "local_port %u, the peer sees %u", lport, ntohs(peer.sin_port));
        cr_assert_eq(send(afd, "hi", 2, 0), 2);
        RUN_UNTIL(t.s, cli[k].bytes == 2);
        close(afd);
        RUN_UNTIL(t.s, cli[k].closes == 1);
        cr_assert_eq(cli[k].reason, ZENITH_CLOSE_PEER);
    }
    {
        zenith_connect_config c;
        zenith_conn_id id;
        c = connect_cfg("127.0.0.1", port_of(lfd), &cli[0]);
        c.local_port = lport; /* a local port without a local address */
        cr_assert_eq(zenith_server_connect(t.s, &c, &id), ZENITH_E_INVAL);
        c.local_address = "10.255.255.254"; /* not an address of this host */
        cr_assert_eq(zenith_server_connect(t.s, &c, &id), ZENITH_ESYS(EADDRNOTAVAIL), "bind to a foreign address");
        cr_assert_eq(id, 0);
        run_for(t.s, 0.05);
        cr_assert_eq(cli[0].connects, 1, "on_connect for a refused connect");
        cr_assert_eq(rstats(t.s).connects_started, 2);
    }
    cr_assert_eq(t.closes, 2);
    rx_destroy(&t);
    close(lfd);
}

Test(reactor, ipv6_listener_and_connect, .timeout = 15) {
    zenith_server_config cfg = reactor_cfg();
    rx_t t;
    crec cli;
    zenith_connect_config c;
    zenith_conn_id id;
    const size_t n = 20000;
    unsigned char *out = make_pattern(6, n);
    if (!have_ipv6_loopback()) cr_skip("no IPv6 loopback here");
    cfg.address = "::1";
    rx_init(&t, &cfg);
    t.echo_accepted = 1;
    t.acc_in_cap = n;
    rx_start(&t);
    cr_assert_neq(zenith_server_port(t.s), 0);
    crec_init(&cli, &t, n);
    cli.out = out;
    cli.out_len = n;
    cli.send_on_connect = 1;
    c = connect_cfg("::1", zenith_server_port(t.s), &cli);
    id = start_connect(&t, &c, &cli);
    RUN_UNTIL(t.s, cli.in_len == n);
    cr_assert_eq(cli.status, 0);
    check_bytes(cli.in, n, 6, "IPv6 echo");
    check_bytes(t.acc[0].in, n, 6, "IPv6 received");
    c = connect_cfg("127.0.0.1", zenith_server_port(t.s), &cli);
    c.local_address = "::1";
    cr_assert_eq(zenith_server_connect(t.s, &c, &id), ZENITH_E_INVAL, "local address of another family");
    cr_assert_eq(zenith_server_close(t.s, cli.id, ZENITH_CLOSE_FLUSH), 0);
    RUN_UNTIL(t.s, t.closes == 2);
    cr_assert_eq(cli.connects, 1);
    rx_destroy(&t);
    free(cli.in);
    free(out);
}

Test(reactor, sends_on_connecting_id_go_out_in_order, .timeout = 15) {
    zenith_server_config cfg = reactor_cfg();
    rx_t t;
    crec cli;
    zenith_connect_config c;
    zenith_conn_id id;
    const size_t n = 200000, parts = 7;
    unsigned char *out = make_pattern(7, n);
    size_t off = 0, k;
    rx_init(&t, &cfg);
    t.acc_in_cap = n;
    rx_start(&t);
    crec_init(&cli, &t, 0);
    c = connect_cfg("127.0.0.1", zenith_server_port(t.s), &cli);
    id = start_connect(&t, &c, &cli);
    for (k = 0; k < parts; k++) { /* uneven pieces, all before on_connect */
        size_t len = k + 1 == parts ? n - off : (n / parts) + k * 13;
        cr_assert_eq(zenith_server_send(t.s, id, out + off, len), 0, "send %zu on a connecting id", k);
        off += len;
        cr_assert_eq(zenith_server_queued(t.s, id), (int)off, "queued while connecting");
    }
    cr_assert_eq(cli.connects, 0);
    RUN_UNTIL(t.s, t.nacc == 1 && t.acc[0].in_len == n);
    cr_assert_eq(cli.connects, 1);
    cr_assert_eq(cli.status, 0);
    check_bytes(t.acc[0].in, n, 7, "bytes sent while connecting");
    cr_assert_eq(zenith_server_queued(t.s, id), 0);
    cr_assert_eq(zenith_server_close(t.s, id, ZENITH_CLOSE_FLUSH), 0);
    RUN_UNTIL(t.s, t.closes == 2);
    rx_destroy(&t);
    free(out);
}

/* Raises the RLIMIT_NOFILE soft limit to the hard limit; returns the soft limit now. */
static rlim_t raise_nofile(void) {
    struct rlimit rl;
    cr_assert_eq(getrlimit(RLIMIT_NOFILE, &rl), 0);
    if (rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        cr_assert_eq(setrlimit(RLIMIT_NOFILE, &rl), 0);
    }
    return rl.rlim_cur;
}

Test(reactor, thousand_outbound_connections_to_echo_reactor, .timeout = 90) {
    zenith_server_config scfg = reactor_cfg(), ccfg = reactor_cfg_no_listen();
    zenith_server_stats st;
    zenith_reactor_stats rs;
    rx_t srv, cl;
    enum { N = 1000 };
    crec *cli = calloc(N, sizeof *cli);
    unsigned char **outs = calloc(N, sizeof *outs);
    uint64_t rng = 12345, total = 0;
    int i;
    cr_assert(cli && outs);
    if (raise_nofile() < 2 * N + 200) cr_skip("RLIMIT_NOFILE too low for %d connections each side", N);
    scfg.max_connections = N + 100;
    scfg.buffer_count = 8192;
    ccfg.max_connections = N + 100;
    ccfg.buffer_count = 8192;
    rx_init(&srv, &scfg);
    srv.echo_accepted = 1;
    rx_start_thread(&srv);
    rx_init(&cl, &ccfg);
    rx_start(&cl);
    for (i = 0; i < N; i++) {
        size_t len = 2048 + (size_t)(xorshift(&rng) % 6144); /* 2..8 KiB */
        zenith_connect_config c;
        zenith_conn_id id;
        outs[i] = make_pattern((uint64_t)i + 100, len);
        crec_init(&cli[i], &cl, len);
        cli[i].out = outs[i];
        cli[i].out_len = len;
        cli[i].close_when_echoed = 1;
        cli[i].send_on_connect = i % 2; /* half send from on_connect, half while connecting */
        c = connect_cfg("127.0.0.1", zenith_server_port(srv.s), &cli[i]);
        id = start_connect(&cl, &c, &cli[i]);
        if (!cli[i].send_on_connect) cr_assert_eq(zenith_server_send(cl.s, id, outs[i], len), 0);
        total += len;
        if (i % 64 == 63) cr_assert_geq(zenith_server_run_once(cl.s, 0), 0); /* let some finish meanwhile */
    }
    RUN_UNTIL_FOR(cl.s, cl.closes == N, 60.0);
    RUN_UNTIL(cl.s, aload(&srv.closes) == N);
    for (i = 0; i < N; i++) {
        cr_assert_eq(cli[i].connects, 1, "connection %d: on_connect %d times", i, cli[i].connects);
        cr_assert_eq(cli[i].status, 0, "connection %d: %s", i, zenith_errname(cli[i].status));
        cr_assert(cli[i].verified, "connection %d: echo not verified", i);
        cr_assert_eq(cli[i].closes, 1);
        cr_assert_eq(cli[i].reason, ZENITH_CLOSE_LOCAL);
    }
    rs = rstats(cl.s);
    cr_assert_eq(rs.connects_started, N);
    cr_assert_eq(rs.connects_succeeded, N);
    st = sstats(cl.s);
    cr_assert_eq(st.bytes_out, total);
    cr_assert_eq(st.bytes_in, total);
    cr_assert_eq(st.connections_open, 0);
    rx_destroy(&cl);
    cr_assert_eq(aload(&srv.accepts), N);
    rx_stop_thread(&srv, &st);
    cr_assert_eq(st.connections_accepted, N);
    cr_assert_eq(st.bytes_in, total);
    cr_assert_eq(st.bytes_out, total);
    for (i = 0; i < N; i++) {
        free(cli[i].in);
        free(outs[i]);
    }
    free(cli);
    free(outs);
}

/* ---- listeners ---------------------------------------------------------------------------------- */

/* One echo round trip through a raw client on address:port. */
static void echo_once(zenith_server *s, const char *address, uint16_t port, const char *msg) {
    int fd = dial_addr(address, port);
    size_t n = strlen(msg), got = 0;
    char buf[256];
    cr_assert_eq(send(fd, msg, n, 0), (ssize_t)n);
    cr_assert_eq(fcntl(fd, F_SETFL, O_NONBLOCK), 0);
    {
        double deadline = now_s() + 5.0;
        while (got < n) {
            ssize_t r = recv(fd, buf + got, sizeof buf - got, 0);
            if (r > 0) got += (size_t)r;
            cr_assert(r != 0, "EOF from %s:%u before the echo", address, port);
            cr_assert_lt(now_s(), deadline, "no echo through %s:%u", address, port);
            cr_assert_geq(zenith_server_run_once(s, 5), 0);
        }
    }
    cr_assert_eq(got, n);
    cr_assert_eq(memcmp(buf, msg, n), 0);
    close(fd);
}

Test(reactor, second_and_third_listener_serve, .timeout = 15) {
    zenith_server_config cfg = reactor_cfg();
    rx_t t;
    int p4, p6 = 0, ipv6 = have_ipv6_loopback();
    uint16_t first;
    rx_init(&t, &cfg);
    t.echo_accepted = 1;
    first = zenith_server_port(t.s);
    p4 = zenith_server_listen(t.s, "127.0.0.1", 0, 0); /* before start */
    cr_assert_gt(p4, 0, "listen: %d %s", p4, zenith_errname(p4));
    cr_assert_neq(p4, first);
    cr_assert_eq(zenith_server_port(t.s), first, "the first listener's port stays the port");
    rx_start(&t);
    if (ipv6) { /* after start, from the loop's thread */
        p6 = zenith_server_listen(t.s, "::1", 0, 0);
        cr_assert_gt(p6, 0, "listen ::1: %d %s", p6, zenith_errname(p6));
    }
    echo_once(t.s, "127.0.0.1", zenith_server_port(t.s), "through the first");
    echo_once(t.s, "127.0.0.1", (uint16_t)p4, "through the second");
    if (ipv6) echo_once(t.s, "::1", (uint16_t)p6, "through the third (IPv6)");
    RUN_UNTIL(t.s, t.closes == (ipv6 ? 3 : 2));
    cr_assert_eq(t.accepts, ipv6 ? 3 : 2);
    cr_assert_eq(rstats(t.s).listeners, ipv6 ? 3u : 2u);
    cr_assert_eq(sstats(t.s).connections_accepted, ipv6 ? 3u : 2u);
    rx_destroy(&t);
    if (!ipv6) cr_log_warn("no IPv6 loopback: the IPv6 listener was not tested");
}

Test(reactor, listen_bad_input_and_limit, .timeout = 15) {
    zenith_server_config cfg = reactor_cfg();
    rx_t t;
    int i, rc, fd;
    static const char *addrs[] = { "localhost", "", "300.1.2.3", "::g", "1.2.3.4.5" };
    rx_init(&t, &cfg);
    for (i = 0; i < (int)(sizeof addrs / sizeof addrs[0]); i++)
        cr_assert_eq(zenith_server_listen(t.s, addrs[i], 0, 0), ZENITH_E_INVAL, "address \"%s\"", addrs[i]);
    cr_assert_eq(zenith_server_listen(t.s, NULL, 0, 0), ZENITH_E_NULL);
    cr_assert_eq(zenith_server_listen(NULL, "127.0.0.1", 0, 0), ZENITH_E_NULL);
    cr_assert_eq(zenith_server_listen(t.s, "127.0.0.1", 0, 1u << 9), ZENITH_E_INVAL, "unknown flag");
    cr_assert_eq(zenith_server_listen(t.s, "127.0.0.1", 0, ZENITH_SERVER_NO_NODELAY), ZENITH_E_INVAL,
                 "a server flag that is not a listener's");
    rc = zenith_server_listen(t.s, "127.0.0.1", zenith_server_port(t.s), 0);
    cr_assert_eq(rc, ZENITH_ESYS(EADDRINUSE), "the first listener's port again: %s", zenith_errname(rc));
    cr_assert_eq(rstats(t.s).listeners, 1, "failed listens add nothing");
    rx_start(&t);
    for (i = 1; i < 16; i++) { /* the first listener is one of the 16 */
        rc = zenith_server_listen(t.s, "127.0.0.1", 0, 0);
        cr_assert_gt(rc, 0, "listener %d: %d %s", i + 1, rc, zenith_errname(rc));
    }
    rc = zenith_server_listen(t.s, "127.0.0.1", 0, 0);
    cr_assert_eq(rc, ZENITH_E_FULL, "the 17th listener: %d %s", rc, zenith_errname(rc));
    cr_assert_eq(rstats(t.s).listeners, 16);
    fd = dial(zenith_server_port(t.s)); /* still serving */
    RUN_UNTIL(t.s, t.accepts == 1);
    close(fd);
    RUN_UNTIL(t.s, t.closes == 1);
    rx_destroy(&t);
}

Test(reactor, no_listen_reactor, .timeout = 15) {
    zenith_server_config cfg = reactor_cfg_no_listen(), bad;
    rx_t t;
    int err = 0, port;
    zenith_server *s;
    bad = cfg;
    bad.port = 12345;
    cr_assert_null(s = zenith_server_create(&bad, &err), "NO_LISTEN with a port");
    cr_assert_eq(err, ZENITH_E_INVAL, "%s", zenith_errname(err));
    bad = cfg;
    bad.address = "127.0.0.1";
    cr_assert_null(s = zenith_server_create(&bad, &err), "NO_LISTEN with an address");
    cr_assert_eq(err, ZENITH_E_INVAL);
    bad = cfg;
    bad.backlog = 16;
    cr_assert_null(s = zenith_server_create(&bad, &err), "NO_LISTEN with a backlog");
    cr_assert_eq(err, ZENITH_E_INVAL);
    bad = cfg;
    bad.flags |= ZENITH_SERVER_REUSEPORT;
    cr_assert_null(s = zenith_server_create(&bad, &err), "NO_LISTEN with REUSEPORT");
    cr_assert_eq(err, ZENITH_E_INVAL);

    rx_init(&t, &cfg);
    t.echo_accepted = 1;
    cr_assert_eq(zenith_server_port(t.s), 0, "no listener, no port");
    cr_assert_eq(rstats(t.s).listeners, 0);
    rx_start(&t);
    run_for(t.s, 0.02);
    cr_assert_eq(zenith_server_port(t.s), 0);
    port = zenith_server_listen(t.s, "127.0.0.1", 0, 0);
    cr_assert_gt(port, 0, "%d %s", port, zenith_errname(port));
    cr_assert_eq(zenith_server_port(t.s), port, "the first listener's port");
    echo_once(t.s, "127.0.0.1", (uint16_t)port, "no-listen reactor, listening now");
    RUN_UNTIL(t.s, t.closes == 1);
    cr_assert_eq(t.accepts, 1);
    rx_destroy(&t);
}

/* ---- half-close ------------------------------------------------------------------------------------ */

Test(reactor, peer_eof_with_on_eof_then_reply_then_close_write, .timeout = 15) {
    zenith_server_config cfg = reactor_cfg();
    rx_t t;
    int fd;
    const size_t n = 50000, reply = 70000;
    unsigned char *out = make_pattern(8, n), *back = make_pattern(9, reply), *got = malloc(reply + 1);
    size_t have = 0;
    ssize_t r;
    crec *a;
    cr_assert_not_null(got);
    rx_init(&t, &cfg);
    cr_assert_eq(zenith_server_set_eof_callback(t.s, rx_eof), 0);
    t.acc_in_cap = n;
    rx_start(&t);
    fd = dial(zenith_server_port(t.s));
    cr_assert_eq(send(fd, out, n, 0), (ssize_t)n);
    cr_assert_eq(shutdown(fd, SHUT_WR), 0);
    RUN_UNTIL(t.s, t.eofs == 1);
    a = &t.acc[0];
    cr_assert_eq(a->eof_at, n, "on_eof after all %zu bytes (it came after %zu)", n, a->eof_at);
    check_bytes(a->in, n, 8, "before EOF");
    run_for(t.s, 0.1);
    cr_assert_eq(a->eofs, 1, "on_eof exactly once");
    cr_assert_eq(a->closes, 0, "with on_eof the connection stays open");
    cr_assert_eq(zenith_server_send(t.s, a->id, back, reply), 0, "the server can still send");
    cr_assert_eq(zenith_server_close(t.s, a->id, ZENITH_CLOSE_WRITE), 0);
    cr_assert_eq(zenith_server_send(t.s, a->id, "x", 1), ZENITH_E_STATE, "send after ZENITH_CLOSE_WRITE");
    cr_assert_eq(fcntl(fd, F_SETFL, O_NONBLOCK), 0);
    {
        double deadline = now_s() + 5.0;
        for (;;) {
            r = recv(fd, got + have, reply + 1 - have, 0);
            if (r == 0) break;
            if (r > 0) have += (size_t)r;
            cr_assert_lt(now_s(), deadline, "no EOF: %zu of %zu bytes", have, reply);
            cr_assert_geq(zenith_server_run_once(t.s, 5), 0);
        }
    }
    cr_assert_eq(have, reply, "the peer read %zu of %zu bytes, then EOF", have, reply);
    check_bytes(got, reply, 9, "sent after EOF");
    RUN_UNTIL(t.s, t.closes == 1);
    run_for(t.s, 0.05);
    cr_assert_eq(a->closes, 1);
    cr_assert_eq(a->reason, ZENITH_CLOSE_PEER, "reason %d", a->reason);
    cr_assert_eq(a->eofs, 1);
    close(fd);
    rx_destroy(&t);
    free(out);
    free(back);
    free(got);
}

Test(reactor, close_write_first_then_peer_closes, .timeout = 15) {
    zenith_server_config cfg = reactor_cfg();
    rx_t t;
    int fd;
    const size_t n = 120000;
    unsigned char *out = make_pattern(10, n), *got = malloc(n + 1);
    size_t have = 0;
    ssize_t r;
    crec *a;
    cr_assert_not_null(got);
    rx_init(&t, &cfg);
    cr_assert_eq(zenith_server_set_eof_callback(t.s, rx_eof), 0);
    rx_start(&t);
    fd = dial(zenith_server_port(t.s));
    RUN_UNTIL(t.s, t.accepts == 1);
    a = &t.acc[0];
    cr_assert_eq(zenith_server_send(t.s, a->id, out, n), 0);
    cr_assert_eq(zenith_server_close(t.s, a->id, ZENITH_CLOSE_WRITE), 0);
    cr_assert_eq(zenith_server_send(t.s, a->id, "x", 1), ZENITH_E_STATE);
    cr_assert_eq(fcntl(fd, F_SETFL, O_NONBLOCK), 0);
    {
        double deadline = now_s() + 5.0;
        for (;;) {
            r = recv(fd, got + have, n + 1 - have, 0);
            if (r == 0) break;
            if (r > 0) have += (size_t)r;
            cr_assert_lt(now_s(), deadline, "no EOF: %zu of %zu bytes", have, n);
            cr_assert_geq(zenith_server_run_once(t.s, 5), 0);
        }
    }
    cr_assert_eq(have, n);
    check_bytes(got, n, 10, "before our EOF");
    cr_assert_eq(send(fd, "still talking", 13, 0), 13, "receiving goes on after ZENITH_CLOSE_WRITE");
    RUN_UNTIL(t.s, a->bytes == 13);
    cr_assert_eq(a->closes, 0);
    close(fd);
    RUN_UNTIL(t.s, t.closes == 1);
    run_for(t.s, 0.05);
    cr_assert_eq(a->eofs, 1);
    cr_assert_eq(a->closes, 1);
    cr_assert_eq(a->reason, ZENITH_CLOSE_PEER);
    rx_destroy(&t);
    free(out);
    free(got);
}

/* ---- timers ------------------------------------------------------------------------------------ */

typedef struct tctx tctx;
typedef struct tmr {
    tctx *ctx;
    zenith_timer_id id;
    uint64_t start_ns, delay_ns; /* start: read before zenith_server_timer_start */
    uint64_t fired_ns;
    int fired;
    int stop_self_at;   /* a periodic timer stops itself at this firing (0: never) */
    struct tmr *victim; /* stops this one from its callback */
    int victim_rc;      /* what that stop returned */
    int own_stop_rc;    /* one-shot: stop of its own id inside the callback */
    uint64_t *times;    /* periodic: firing times */
    int ntimes, cap;
} tmr;

struct tctx {
    zenith_server *s;
    int fired; /* callbacks run */
    int early; /* callbacks that ran before their deadline */
    uint64_t worst_early_ns;
};

/* A reactor for timers: no listener, started on this thread. */
static void timer_reactor(rx_t *t, tctx *ctx, uint32_t max_timers) {
    zenith_server_config cfg = reactor_cfg_no_listen();
    cfg.max_timers = max_timers;
    rx_init(t, &cfg);
    rx_start(t);
    memset(ctx, 0, sizeof *ctx);
    ctx->s = t->s;
}

static void tmr_fire(void *user, zenith_timer_id id) {
    tmr *r = (tmr *)user;
    tctx *c = r->ctx;
    uint64_t now = mono_ns();
    cr_assert_eq(id, r->id, "timer callback with id %#llx, armed as %#llx", (unsigned long long)id,
                 (unsigned long long)r->id);
    if (r->times) {
        cr_assert_lt(r->ntimes, r->cap, "periodic timer fired after it should have stopped");
        r->times[r->ntimes++] = now;
    }
    if (r->fired == 0) r->fired_ns = now;
    if (now < r->start_ns + r->delay_ns) {
        c->early++;
        if (r->start_ns + r->delay_ns - now > c->worst_early_ns) c->worst_early_ns = r->start_ns + r->delay_ns - now;
    }
    r->fired++;
    c->fired++;
    if (r->stop_self_at && r->fired == r->stop_self_at) {
        cr_assert_eq(zenith_server_timer_stop(c->s, id), 0, "a periodic timer stops itself");
        cr_assert_eq(zenith_server_timer_stop(c->s, id), ZENITH_E_STALE, "and then its id is stale");
    } else if (!r->times) {
        r->own_stop_rc = zenith_server_timer_stop(c->s, id); /* a one-shot's id is stale in its callback */
    }
    if (r->victim) r->victim_rc = zenith_server_timer_stop(c->s, r->victim->id);
}

static void tmr_arm(tctx *c, tmr *r, uint32_t delay_ms, uint32_t period_ms) {
    int rc;
    r->ctx = c;
    r->delay_ns = (uint64_t)delay_ms * 1000000u;
    r->start_ns = mono_ns();
    rc = zenith_server_timer_start(c->s, delay_ms, period_ms, tmr_fire, r, &r->id);
    cr_assert_eq(rc, 0, "timer_start(%u, %u): %d %s", delay_ms, period_ms, rc, zenith_errname(rc));
    cr_assert_neq(r->id, 0);
}

/* Runs the loop with run_once(-1) (it must wake for the timers by itself) until cond. */
#define RUN_BLOCKING_UNTIL(s, cond)                                           \
    do {                                                                      \
        double deadline_ = now_s() + 10.0;                                    \
        while (!(cond)) {                                                     \
            cr_assert_lt(now_s(), deadline_, "timed out waiting for " #cond); \
            cr_assert_geq(zenith_server_run_once((s), -1), 0);                \
        }                                                                     \
    } while (0)

Test(reactor, timers_never_early, .timeout = 20) {
    rx_t t;
    tctx c;
    tmr r[100];
    uint64_t rng = 77;
    int i;
    zenith_reactor_stats rs;
    timer_reactor(&t, &c, 0);
    memset(r, 0, sizeof r);
    for (i = 0; i < 100; i++) tmr_arm(&c, &r[i], (uint32_t)(xorshift(&rng) % 51), 0);
    cr_assert_eq(rstats(t.s).timers_armed, 100);
    RUN_BLOCKING_UNTIL(t.s, c.fired == 100);
    run_for(t.s, 0.06); /* past every deadline: nothing fires twice */
    cr_assert_eq(c.fired, 100);
    cr_assert_eq(c.early, 0, "%d timers fired early (worst by %llu ns)", c.early, (unsigned long long)c.worst_early_ns);
    for (i = 0; i < 100; i++) {
        cr_assert_eq(r[i].fired, 1, "timer %d fired %d times", i, r[i].fired);
        cr_assert_eq(r[i].own_stop_rc, ZENITH_E_STALE, "a one-shot's id is stale inside its callback");
        cr_assert_eq(zenith_server_timer_stop(t.s, r[i].id), ZENITH_E_STALE, "stop of a fired one-shot");
    }
    rs = rstats(t.s);
    cr_assert_eq(rs.timers_armed, 0);
    cr_assert_eq(rs.timers_fired, 100);
    rx_destroy(&t);
}

/* Timers started at every distance from the loop's last clock reading (0 to 1.5 ms of busy time
   after a turn), once the reactor has run long enough to time starts from the TSC where the
   kernel does: none fires before its start + delay. */
Test(reactor, timers_started_between_loop_turns_never_early, .timeout = 20) {
    rx_t t;
    tctx c;
    enum { N = 300 };
    static tmr r[N];
    uint64_t rng = 4242;
    int i;
    timer_reactor(&t, &c, 0);
    memset(r, 0, sizeof r);
    run_for(t.s, 0.1); /* the clock's TSC rate is measured after 64 ms */
    for (i = 0; i < N; i++) {
        uint64_t spin_until;
        cr_assert_geq(zenith_server_run_once(t.s, 0), 0);
        spin_until = mono_ns() + xorshift(&rng) % 1500000u;
        while (mono_ns() < spin_until) {
        }
        tmr_arm(&c, &r[i], (uint32_t)(xorshift(&rng) % 4), 0);
    }
    RUN_BLOCKING_UNTIL(t.s, c.fired == N);
    cr_assert_eq(c.early, 0, "%d timers fired early (worst by %llu ns)", c.early, (unsigned long long)c.worst_early_ns);
    for (i = 0; i < N; i++) cr_assert_eq(r[i].fired, 1, "timer %d fired %d times", i, r[i].fired);
    rx_destroy(&t);
}

static int cmp_u64(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* A chain: each callback arms the next timer (delay 0..9 ms) until n ran. */
typedef struct {
    tctx *c;
    tmr *r;
    int n, next;
    uint64_t rng;
} chain_t;
static chain_t *the_chain;
static void chain_fire(void *user, zenith_timer_id id) {
    chain_t *ch = the_chain;
    tmr_fire(user, id);
    if (ch->next < ch->n) {
        tmr *nx = &ch->r[ch->next++];
        uint32_t d = (uint32_t)(xorshift(&ch->rng) % 10);
        int rc;
        nx->ctx = ch->c;
        nx->delay_ns = (uint64_t)d * 1000000u;
        nx->start_ns = mono_ns();
        rc = zenith_server_timer_start(ch->c->s, d, 0, chain_fire, nx, &nx->id);
        cr_assert_eq(rc, 0, "a timer started inside a timer callback: %s", zenith_errname(rc));
    }
}

Test(reactor, timer_lateness_without_load, .timeout = 30) {
    rx_t t;
    tctx c;
    enum { A = 100, B = 100 };
    tmr ra[A], rb[B];
    uint64_t late[A + B], rng = 5;
    chain_t ch;
    int i, k, worst;
    const char *worst_what;
    double median_ms, max_ms, worst_delay_ms;
    timer_reactor(&t, &c, 0);
    memset(ra, 0, sizeof ra);
    memset(rb, 0, sizeof rb);
    /* A: 100 at once, delays 1..100 ms in a shuffled order */
    {
        uint32_t d[A];
        for (i = 0; i < A; i++) d[i] = (uint32_t)i + 1u;
        for (i = A - 1; i > 0; i--) {
            int j = (int)(xorshift(&rng) % (uint64_t)(i + 1));
            uint32_t x = d[i];
            d[i] = d[j];
            d[j] = x;
        }
        for (i = 0; i < A; i++) tmr_arm(&c, &ra[i], d[i], 0);
    }
    RUN_BLOCKING_UNTIL(t.s, c.fired == A);
    /* B: one after the other, each armed from the previous one's callback */
    memset(&ch, 0, sizeof ch);
    ch.c = &c;
    ch.r = rb;
    ch.n = B;
    ch.next = 1;
    ch.rng = 9;
    the_chain = &ch;
    rb[0].ctx = &c;
    rb[0].delay_ns = 3000000u;
    rb[0].start_ns = mono_ns();
    cr_assert_eq(zenith_server_timer_start(t.s, 3, 0, chain_fire, &rb[0], &rb[0].id), 0);
    RUN_BLOCKING_UNTIL(t.s, c.fired == A + B);
    cr_assert_eq(c.early, 0, "%d timers fired early (worst by %llu ns)", c.early, (unsigned long long)c.worst_early_ns);
    for (i = 0, k = 0; i < A; i++) late[k++] = ra[i].fired_ns - (ra[i].start_ns + ra[i].delay_ns);
    for (i = 0; i < B; i++) late[k++] = rb[i].fired_ns - (rb[i].start_ns + rb[i].delay_ns);
    for (i = 0, worst = 0; i < A + B; i++)
        if (late[i] > late[worst]) worst = i;
    worst_what = worst < A ? "at once" : "chained";
    worst_delay_ms = (double)(worst < A ? ra[worst].delay_ns : rb[worst - A].delay_ns) / 1e6;
    qsort(late, A + B, sizeof late[0], cmp_u64);
    median_ms = (double)late[(A + B) / 2] / 1e6;
    max_ms = (double)late[A + B - 1] / 1e6;
    cr_log_info("timer lateness over %d timers: median %.3f ms, p90 %.3f ms, max %.3f ms", A + B, median_ms,
                (double)late[(A + B) * 9 / 10] / 1e6, max_ms);
    /* The contract: within 1 ms (deadlines round up to the next millisecond tick) plus one loop
       iteration. This VM has 2 cores shared with other agents' builds and test runs, so a single
       wake-up can be delayed by the scheduler for several ms: the median shows the reactor's own
       lateness (under 1 ms + a wake-up), the max only catches the pathological (a missed wake-up
       or a whole-tick error costs 10 ms and more). */
    cr_assert_lt(median_ms, 1.5, "median lateness %.3f ms", median_ms);
    cr_assert_lt((double)late[(A + B) * 9 / 10] / 1e6, 5.0, "p90 lateness %.3f ms",
                 (double)late[(A + B) * 9 / 10] / 1e6);
    /* one stall of the whole VM (seen once here: 163 ms, while other agents loaded both cores)
       delays one wake-up, never several: at most 2 of 200 timers may be later than 20 ms */
    cr_assert_lt((double)late[A + B - 3] / 1e6, 20.0,
                 "3rd-worst lateness %.3f ms; max %.3f ms (timer %d, armed %s, delay %.0f ms; median %.3f ms)",
                 (double)late[A + B - 3] / 1e6, max_ms, worst, worst_what, worst_delay_ms, median_ms);
    rx_destroy(&t);
}

Test(reactor, periodic_timer_no_drift, .timeout = 20) {
    rx_t t;
    tctx c;
    tmr r;
    uint64_t times[100], skipped;
    double mean_ms;
    int k;
    timer_reactor(&t, &c, 0);
    memset(&r, 0, sizeof r);
    r.times = times;
    r.cap = 100;
    r.stop_self_at = 100;
    tmr_arm(&c, &r, 10, 10);
    RUN_BLOCKING_UNTIL(t.s, r.fired == 100);
    run_for(t.s, 0.05);
    cr_assert_eq(r.fired, 100, "fired %d times after stopping itself at 100", r.fired);
    skipped = rstats(t.s).timers_skipped;
    for (k = 0; k < 100; k++) /* the k-th deadline is the first (start + 10 ms) + k x 10 ms */
        cr_assert_geq(times[k], r.start_ns + 10000000u + (uint64_t)k * 10000000u,
                      "firing %d at %.3f ms, before its deadline %d ms", k, (double)(times[k] - r.start_ns) / 1e6,
                      10 + k * 10);
    mean_ms = (double)(times[99] - times[0]) / 1e6 / (99.0 + (double)skipped);
    cr_log_info("periodic 10 ms: mean period %.4f ms over 100 firings, %llu skipped", mean_ms,
                (unsigned long long)skipped);
    cr_assert(mean_ms >= 9.8 && mean_ms <= 10.2, "mean period %.4f ms (skipped %llu)", mean_ms,
              (unsigned long long)skipped);
    cr_assert_eq(rstats(t.s).timers_armed, 0);
    cr_assert_eq(rstats(t.s).timers_fired, 100);
    rx_destroy(&t);
}

/* Starts timers from inside a callback: one-shot `b` in 5 ms and `c0` at once. */
typedef struct {
    tctx *c;
    tmr *b, *c0;
    uint64_t cb_ns;
} spawn_t;
static spawn_t *the_spawn;
static void spawn_fire(void *user, zenith_timer_id id) {
    spawn_t *sp = the_spawn;
    tmr_fire(user, id);
    sp->cb_ns = mono_ns();
    sp->b->ctx = sp->c0->ctx = sp->c;
    sp->b->delay_ns = 5000000u;
    sp->b->start_ns = sp->cb_ns;
    cr_assert_eq(zenith_server_timer_start(sp->c->s, 5, 0, tmr_fire, sp->b, &sp->b->id), 0);
    sp->c0->delay_ns = 0;
    sp->c0->start_ns = mono_ns();
    cr_assert_eq(zenith_server_timer_start(sp->c->s, 0, 0, tmr_fire, sp->c0, &sp->c0->id), 0);
}

Test(reactor, timers_stopped_and_started_inside_callbacks, .timeout = 20) {
    rx_t t;
    tctx c;
    tmr per, pair[20], a, b, c0, later, stopper;
    spawn_t sp;
    int i, fired_pairs = 0;
    timer_reactor(&t, &c, 0);
    memset(&per, 0, sizeof per);
    memset(pair, 0, sizeof pair);
    memset(&a, 0, sizeof a);
    memset(&b, 0, sizeof b);
    memset(&c0, 0, sizeof c0);
    memset(&later, 0, sizeof later);
    memset(&stopper, 0, sizeof stopper);
    { /* a periodic timer stops itself at its third firing */
        uint64_t times[3];
        per.times = times;
        per.cap = 3;
        per.stop_self_at = 3;
        tmr_arm(&c, &per, 2, 5);
        RUN_BLOCKING_UNTIL(t.s, per.fired == 3);
        run_for(t.s, 0.05);
        cr_assert_eq(per.fired, 3, "a periodic timer that stopped itself fired again");
    }
    /* pairs due at the same time (the same tick, but for a millisecond boundary between the two
       calls): each stops the other; exactly one of each pair may fire */
    for (i = 0; i < 20; i += 2) {
        pair[i].victim = &pair[i + 1];
        pair[i + 1].victim = &pair[i];
        tmr_arm(&c, &pair[i], 20, 0);
        tmr_arm(&c, &pair[i + 1], 20, 0);
    }
    /* one stops another due much later */
    stopper.victim = &later;
    tmr_arm(&c, &later, 60, 0);
    tmr_arm(&c, &stopper, 10, 0);
    /* one starts two more from its callback */
    sp.c = &c;
    sp.b = &b;
    sp.c0 = &c0;
    the_spawn = &sp;
    a.ctx = &c;
    a.start_ns = mono_ns();
    a.delay_ns = 3000000u;
    cr_assert_eq(zenith_server_timer_start(t.s, 3, 0, spawn_fire, &a, &a.id), 0);
    run_for(t.s, 0.15);
    for (i = 0; i < 20; i += 2) {
        int f = pair[i].fired + pair[i + 1].fired;
        cr_assert_eq(f, 1, "pair %d: %d + %d firings (each stops the other)", i / 2, pair[i].fired, pair[i + 1].fired);
        cr_assert_eq((pair[i].fired ? pair[i] : pair[i + 1]).victim_rc, 0, "pair %d: the stop of the other", i / 2);
        fired_pairs++;
    }
    cr_assert_eq(fired_pairs, 10);
    cr_assert_eq(stopper.fired, 1);
    cr_assert_eq(stopper.victim_rc, 0);
    cr_assert_eq(later.fired, 0, "a timer stopped by another's callback fired");
    cr_assert_eq(a.fired, 1);
    cr_assert_eq(b.fired, 1, "the timer started inside a callback (5 ms)");
    cr_assert_eq(c0.fired, 1, "the timer started inside a callback (0 ms)");
    cr_assert_geq(b.fired_ns, sp.cb_ns + 5000000u, "started inside a callback, fired early");
    cr_assert_eq(c.early, 0);
    cr_assert_eq(rstats(t.s).timers_armed, 0);
    cr_assert_eq(rstats(t.s).timers_fired, (uint64_t)(3 + 10 + 1 + 3));
    rx_destroy(&t);
}

static void noop_timer(void *user, zenith_timer_id id) {
    (void)user;
    (void)id;
    cr_assert_fail("this timer must never fire");
}

Test(reactor, timer_stale_ids_and_bad_input, .timeout = 15) {
    rx_t t;
    tctx c;
    tmr r;
    zenith_timer_id id = 5, live;
    timer_reactor(&t, &c, 0);
    memset(&r, 0, sizeof r);
    tmr_arm(&c, &r, 0, 0);
    RUN_BLOCKING_UNTIL(t.s, r.fired == 1);
    cr_assert_eq(zenith_server_timer_stop(t.s, r.id), ZENITH_E_STALE, "stop of a fired one-shot");
    cr_assert_eq(zenith_server_timer_start(t.s, 1000, 0, noop_timer, NULL, &live), 0);
    cr_assert_eq(zenith_server_timer_stop(t.s, 0), ZENITH_E_STALE, "id 0");
    cr_assert_eq(zenith_server_timer_stop(t.s, ~(zenith_timer_id)0), ZENITH_E_STALE, "all ones");
    cr_assert_eq(zenith_server_timer_stop(t.s, ((zenith_timer_id)1 << 32) | 0xfffffff0u), ZENITH_E_STALE,
                 "slot out of range");
    cr_assert_eq(zenith_server_timer_stop(t.s, (zenith_timer_id)(uint32_t)live), ZENITH_E_STALE, "generation 0");
    cr_assert_eq(zenith_server_timer_stop(t.s, live + ((zenith_timer_id)1 << 32)), ZENITH_E_STALE,
                 "a live slot, the next generation");
    cr_assert_eq(zenith_server_timer_stop(t.s, live - ((zenith_timer_id)1 << 32)), ZENITH_E_STALE,
                 "a live slot, the previous generation");
    cr_assert_eq(zenith_server_timer_stop(t.s, live + 1), ZENITH_E_STALE, "the next slot, never armed");
    cr_assert_eq(zenith_server_timer_stop(t.s, r.id & 0xffffffffu), ZENITH_E_STALE);
    cr_assert_eq(zenith_server_timer_stop(NULL, live), ZENITH_E_NULL);
    cr_assert_eq(rstats(t.s).timers_armed, 1, "garbage stops disarmed nothing");
    cr_assert_eq(zenith_server_timer_stop(t.s, live), 0);
    cr_assert_eq(zenith_server_timer_stop(t.s, live), ZENITH_E_STALE, "stopped twice");
    cr_assert_eq(zenith_server_timer_start(NULL, 1, 0, noop_timer, NULL, &id), ZENITH_E_NULL);
    cr_assert_eq(id, 0, "*out is 0 on error");
    id = 5;
    cr_assert_eq(zenith_server_timer_start(t.s, 1, 0, NULL, NULL, &id), ZENITH_E_NULL);
    cr_assert_eq(id, 0);
    id = 5;
    cr_assert_eq(zenith_server_timer_start(t.s, ZENITH_TIMER_MAX_MS + 1u, 0, noop_timer, NULL, &id), ZENITH_E_RANGE);
    cr_assert_eq(id, 0);
    cr_assert_eq(zenith_server_timer_start(t.s, 1, ZENITH_TIMER_MAX_MS + 1u, noop_timer, NULL, &id), ZENITH_E_RANGE);
    cr_assert_eq(zenith_server_timer_start(t.s, UINT32_MAX, 0, noop_timer, NULL, &id), ZENITH_E_RANGE);
    cr_assert_eq(zenith_server_timer_start(t.s, ZENITH_TIMER_MAX_MS, ZENITH_TIMER_MAX_MS, noop_timer, NULL, &id), 0,
                 "the longest delay and period");
    cr_assert_eq(zenith_server_timer_start(t.s, 5, 0, noop_timer, NULL, NULL), 0, "out is nullable");
    cr_assert_eq(rstats(t.s).timers_armed, 2);
    cr_assert_eq(zenith_server_timer_stop(t.s, id), 0);
    rx_destroy(&t); /* destroy drops the armed 5 ms timer (noop_timer fails if it ran) */
}

Test(reactor, max_timers_full_and_slots_reused, .timeout = 15) {
    rx_t t;
    tctx c;
    tmr r[8], more[4];
    zenith_timer_id extra = 7;
    int i;
    timer_reactor(&t, &c, 8);
    memset(r, 0, sizeof r);
    memset(more, 0, sizeof more);
    for (i = 0; i < 8; i++) tmr_arm(&c, &r[i], 30 + (uint32_t)i, 0);
    cr_assert_eq(zenith_server_timer_start(t.s, 1, 0, noop_timer, NULL, &extra), ZENITH_E_FULL, "the 9th of 8");
    cr_assert_eq(extra, 0);
    cr_assert_eq(rstats(t.s).timers_armed, 8);
    for (i = 0; i < 3; i++) cr_assert_eq(zenith_server_timer_stop(t.s, r[i].id), 0);
    cr_assert_eq(rstats(t.s).timers_armed, 5);
    for (i = 0; i < 3; i++) {
        tmr_arm(&c, &more[i], 10, 0);
        cr_assert_neq(more[i].id, r[0].id);
        cr_assert_neq(more[i].id, r[1].id);
        cr_assert_neq(more[i].id, r[2].id);
    }
    cr_assert_eq(zenith_server_timer_start(t.s, 1, 0, noop_timer, NULL, &extra), ZENITH_E_FULL);
    for (i = 0; i < 3; i++)
        cr_assert_eq(zenith_server_timer_stop(t.s, r[i].id), ZENITH_E_STALE, "an old id of a reused slot");
    RUN_BLOCKING_UNTIL(t.s, c.fired == 8);
    for (i = 0; i < 3; i++) cr_assert_eq(r[i].fired, 0, "stopped timer %d fired", i);
    for (i = 3; i < 8; i++) cr_assert_eq(r[i].fired, 1);
    for (i = 0; i < 3; i++) cr_assert_eq(more[i].fired, 1);
    cr_assert_eq(rstats(t.s).timers_armed, 0);
    cr_assert_eq(rstats(t.s).timers_fired, 8);
    for (i = 0; i < 8; i++) { /* fired one-shots free their slots too */
        memset(&r[i], 0, sizeof r[i]);
        tmr_arm(&c, &r[i], 1, 0);
    }
    cr_assert_eq(zenith_server_timer_start(t.s, 1, 0, noop_timer, NULL, &extra), ZENITH_E_FULL);
    RUN_BLOCKING_UNTIL(t.s, c.fired == 16);
    cr_assert_eq(c.early, 0);
    rx_destroy(&t);
}

/* ---- a million timers ------------------------------------------------------------------------- */

static uint32_t million(void) { return UNDER_SANITIZER ? 250000u : 1000000u; }

static void count_timer(void *user, zenith_timer_id id) {
    (void)id;
    (*(uint64_t *)user)++;
}

Test(reactor, million_timers_armed_then_all_stopped, .timeout = 60) {
    rx_t t;
    tctx c;
    uint32_t n = million(), i;
    zenith_timer_id *ids = malloc((size_t)n * sizeof *ids);
    uint64_t rng = 3, fired = 0, t0, t1, t2;
    zenith_reactor_stats rs;
    cr_assert_not_null(ids);
    timer_reactor(&t, &c, 1u << 20);
    t0 = mono_ns();
    for (i = 0; i < n; i++) { /* every level of the wheel: 1 ms .. ZENITH_TIMER_MAX_MS */
        uint64_t x = xorshift(&rng);
        uint32_t d = (x & 3) == 0 ? (uint32_t)(x >> 8) % 1000u + 1u : (uint32_t)((x >> 8) % ZENITH_TIMER_MAX_MS) + 1u;
        int rc = zenith_server_timer_start(t.s, d, (x & 16) ? d : 0, count_timer, &fired, &ids[i]);
        if (rc != 0) cr_assert_fail("timer %u: %d %s", i, rc, zenith_errname(rc));
    }
    t1 = mono_ns();
    rs = rstats(t.s);
    cr_assert_eq(rs.timers_armed, n);
    for (i = 0; i < n; i++) { /* in a scattered order */
        uint32_t j = (uint32_t)(((uint64_t)i * 2654435761u) % n);
        int rc = zenith_server_timer_stop(t.s, ids[j]);
        if (rc != 0) cr_assert_fail("stop of timer %u: %d %s", j, rc, zenith_errname(rc));
    }
    t2 = mono_ns();
    rs = rstats(t.s);
    cr_assert_eq(rs.timers_armed, 0);
    run_for(t.s, 0.02);
    cr_assert_eq(fired, 0);
    cr_assert_eq(rstats(t.s).timers_fired, 0);
    for (i = 0; i < n; i += n / 97) cr_assert_eq(zenith_server_timer_stop(t.s, ids[i]), ZENITH_E_STALE);
    cr_log_info("%u timers: arm %.1f ns, stop %.1f ns each", n, (double)(t1 - t0) / n, (double)(t2 - t1) / n);
    for (i = 0; i < n; i++) { /* every slot is free again */
        int rc = zenith_server_timer_start(t.s, 100000, 0, count_timer, &fired, &ids[i]);
        if (rc != 0) cr_assert_fail("re-arm %u: %d %s", i, rc, zenith_errname(rc));
    }
    cr_assert_eq(rstats(t.s).timers_armed, n);
    rx_destroy(&t);
    free(ids);
}

typedef struct {
    uint8_t *fired;
    uint64_t *due_ns; /* start + delay */
    uint64_t count, early;
} mass_t;
static mass_t *the_mass;
static void mass_fire(void *user, zenith_timer_id id) {
    uint32_t i = (uint32_t)(uintptr_t)user;
    (void)id;
    the_mass->fired[i]++;
    the_mass->count++;
    if (mono_ns() < the_mass->due_ns[i]) the_mass->early++;
}

Test(reactor, million_timers_half_stopped_half_fire_once, .timeout = 60) {
    rx_t t;
    tctx c;
    uint32_t n = million(), i;
    zenith_timer_id *ids = malloc((size_t)n * sizeof *ids);
    mass_t m;
    uint64_t rng = 11, last_due = 0, t0;
    zenith_reactor_stats rs;
    memset(&m, 0, sizeof m);
    m.fired = calloc(n, 1);
    m.due_ns = malloc((size_t)n * sizeof *m.due_ns);
    cr_assert(ids && m.fired && m.due_ns);
    the_mass = &m;
    timer_reactor(&t, &c, 1u << 20);
    t0 = mono_ns();
    for (i = 0; i < n; i++) {
        uint32_t d = (uint32_t)(xorshift(&rng) % 500u) + 1u; /* 1..500 ms */
        int rc;
        m.due_ns[i] = mono_ns() + (uint64_t)d * 1000000u;
        if (m.due_ns[i] > last_due) last_due = m.due_ns[i];
        rc = zenith_server_timer_start(t.s, d, 0, mass_fire, (void *)(uintptr_t)i, &ids[i]);
        if (rc != 0) cr_assert_fail("timer %u: %d %s", i, rc, zenith_errname(rc));
    }
    cr_assert_eq(rstats(t.s).timers_armed, n);
    for (i = 0; i < n; i += 2) {
        int rc = zenith_server_timer_stop(t.s, ids[i]);
        if (rc != 0) cr_assert_fail("stop %u: %d %s", i, rc, zenith_errname(rc));
    }
    cr_assert_eq(rstats(t.s).timers_armed, n / 2);
    cr_log_info("%u timers armed and half stopped in %.1f ms", n, (double)(mono_ns() - t0) / 1e6);
    {
        double deadline = now_s() + 20.0;
        while (m.count < n / 2) {
            cr_assert_lt(now_s(), deadline, "only %llu of %u timers fired", (unsigned long long)m.count, n / 2);
            cr_assert_geq(zenith_server_run_once(t.s, -1), 0);
        }
    }
    while (mono_ns() < last_due + 20000000u) cr_assert_geq(zenith_server_run_once(t.s, 5), 0);
    for (i = 0; i < n; i++) {
        if (m.fired[i] != (i % 2 ? 1 : 0))
            cr_assert_fail("timer %u (%s) fired %u times", i, i % 2 ? "armed" : "stopped", m.fired[i]);
    }
    cr_assert_eq(m.count, n / 2);
    cr_assert_eq(m.early, 0, "%llu timers fired early", (unsigned long long)m.early);
    rs = rstats(t.s);
    cr_assert_eq(rs.timers_fired, n / 2);
    cr_assert_eq(rs.timers_armed, 0);
    rx_destroy(&t);
    free(ids);
    free(m.fired);
    free(m.due_ns);
}

/* ---- idle timeout ------------------------------------------------------------------------------ */

Test(reactor, idle_timeout_closes_idle_not_busy, .timeout = 20) {
    zenith_server_config cfg = reactor_cfg();
    rx_t t;
    int idle_fd, busy_fd, sends = 0;
    crec *idle, *busy;
    uint64_t start, next_send;
    double idle_ms, busy_ms;
    char ch;
    cfg.idle_timeout_ms = 300;
    rx_init(&t, &cfg);
    rx_start(&t);
    idle_fd = dial(zenith_server_port(t.s));
    RUN_UNTIL(t.s, t.accepts == 1);
    busy_fd = dial(zenith_server_port(t.s));
    RUN_UNTIL(t.s, t.accepts == 2);
    idle = &t.acc[0];
    busy = &t.acc[1];
    start = mono_ns();
    next_send = start;
    while (mono_ns() < start + 1000000000u) { /* 1 s: one byte every 100 ms on the busy one */
        if (mono_ns() >= next_send) {
            cr_assert_eq(send(busy_fd, "k", 1, 0), 1);
            sends++;
            next_send += 100000000u;
        }
        cr_assert_geq(zenith_server_run_once(t.s, 2), 0);
    }
    cr_assert_eq(idle->closes, 1, "the idle connection was not closed within 1 s");
    cr_assert_eq(idle->reason, ZENITH_CLOSE_IDLE, "reason %d", idle->reason);
    idle_ms = (double)(idle->close_ns - idle->accept_ns) / 1e6;
    cr_log_info("idle timeout 300 ms: closed %.3f ms after the accept", idle_ms);
    cr_assert_geq(idle_ms, 300.0, "closed %.3f ms after the accept: before the idle timeout", idle_ms);
    cr_assert_lt(idle_ms, 300.0 + 100.0, "closed %.3f ms after the accept", idle_ms);
    cr_assert_eq(recv(idle_fd, &ch, 1, 0), 0, "the idle peer sees EOF");
    cr_assert_eq(busy->closes, 0, "the busy connection was closed (reason %d)", busy->reason);
    RUN_UNTIL(t.s, busy->bytes == (size_t)sends);
    /* now the busy one goes quiet: it is closed 300 ms after its last data */
    RUN_UNTIL(t.s, busy->closes == 1);
    cr_assert_eq(busy->reason, ZENITH_CLOSE_IDLE);
    busy_ms = (double)(busy->close_ns - busy->last_data_ns) / 1e6;
    cr_log_info("the busy one went quiet: closed %.3f ms after its last data", busy_ms);
    cr_assert_geq(busy_ms, 300.0, "closed %.3f ms after its last data", busy_ms);
    cr_assert_lt(busy_ms, 300.0 + 100.0, "closed %.3f ms after its last data", busy_ms);
    cr_assert_eq(t.closes, 2);
    close(idle_fd);
    close(busy_fd);
    rx_destroy(&t);
}

Test(reactor, idle_timeout_applies_to_outbound_connections, .timeout = 20) {
    zenith_server_config cfg = reactor_cfg();
    rx_t t;
    crec cli;
    zenith_connect_config c;
    double ms;
    cfg.idle_timeout_ms = 300;
    rx_init(&t, &cfg);
    rx_start(&t);
    crec_init(&cli, &t, 0);
    c = connect_cfg("127.0.0.1", zenith_server_port(t.s), &cli);
    start_connect(&t, &c, &cli);
    RUN_UNTIL(t.s, cli.connects == 1);
    cr_assert_eq(cli.status, 0);
    RUN_UNTIL(t.s, t.closes == 2);
    cr_assert_eq(cli.closes, 1);
    cr_assert_eq(t.acc[0].closes, 1);
    /* one side is closed by its idle timer; the other by that (PEER) or its own timer (IDLE) */
    cr_assert(cli.reason == ZENITH_CLOSE_IDLE || t.acc[0].reason == ZENITH_CLOSE_IDLE, "reasons %d and %d", cli.reason,
              t.acc[0].reason);
    ms = (double)(cli.close_ns - cli.connect_ns) / 1e6;
    cr_assert_geq(ms, 290.0, "the outbound connection closed %.3f ms after on_connect", ms);
    rx_destroy(&t);
}

/* ---- pause / resume / queued / drain --------------------------------------------------------- */

/* Non-blocking send of pattern(seed) bytes [*sent, total) as far as TCP takes them. */
static void push_pattern(int fd, uint64_t seed, size_t *sent, size_t total) {
    unsigned char buf[65536];
    while (*sent < total) {
        size_t n = total - *sent < sizeof buf ? total - *sent : sizeof buf, i;
        ssize_t w;
        for (i = 0; i < n; i++) buf[i] = pattern(seed, *sent + i);
        w = send(fd, buf, n, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (w <= 0) {
            cr_assert(w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK), "send: %s", strerror(errno));
            return;
        }
        *sent += (size_t)w;
    }
}

Test(reactor, pause_holds_data_resume_delivers_in_order, .timeout = 30) {
    zenith_server_config cfg = reactor_cfg();
    rx_t t;
    int fd;
    const size_t total = 8u << 20;
    size_t sent = 0, sent_at_pause;
    uint64_t calls_at_pause;
    crec *a;
    rx_init(&t, &cfg);
    t.acc_in_cap = total;
    rx_start(&t);
    fd = dial(zenith_server_port(t.s));
    RUN_UNTIL(t.s, t.accepts == 1);
    a = &t.acc[0];
    push_pattern(fd, 12, &sent, 10000);
    RUN_UNTIL(t.s, a->bytes == 10000);
    cr_assert_eq(zenith_server_pause(t.s, a->id), 0);
    cr_assert_eq(zenith_server_pause(t.s, a->id), 0, "pause twice");
    calls_at_pause = a->data_calls;
    {
        double end = now_s() + 0.4; /* the peer keeps sending: nothing may be delivered */
        while (now_s() < end) {
            push_pattern(fd, 12, &sent, total);
            cr_assert_geq(zenith_server_run_once(t.s, 2), 0);
            cr_assert_eq(a->data_calls, calls_at_pause, "on_data while paused (%zu bytes sent)", sent);
        }
    }
    sent_at_pause = sent;
    cr_log_info("paused: the peer could send %zu bytes before TCP pushed back", sent_at_pause - 10000);
    cr_assert_lt(sent, total, "TCP took all %zu bytes of a paused connection: reading did not stop", total);
    cr_assert_eq(zenith_server_resume(t.s, a->id), 0, "one resume undoes both pauses");
    cr_assert_eq(a->data_calls, calls_at_pause, "resume delivers from the loop, not from inside itself");
    {
        double deadline = now_s() + 20.0;
        while (a->bytes < total) {
            cr_assert_lt(now_s(), deadline, "after resume: %zu of %zu bytes (sent %zu)", a->bytes, total, sent);
            push_pattern(fd, 12, &sent, total);
            cr_assert_geq(zenith_server_run_once(t.s, 2), 0);
        }
    }
    cr_assert_eq(a->in_len, total);
    check_bytes(a->in, total, 12, "paused stream");
    cr_assert_eq(zenith_server_pause(NULL, a->id), ZENITH_E_NULL);
    cr_assert_eq(zenith_server_resume(NULL, a->id), ZENITH_E_NULL);
    cr_assert_eq(zenith_server_pause(t.s, a->id + ((zenith_conn_id)1 << 32)), ZENITH_E_STALE);
    cr_assert_eq(zenith_server_resume(t.s, 0), ZENITH_E_STALE);
    close(fd);
    RUN_UNTIL(t.s, t.closes == 1);
    cr_assert_eq(zenith_server_pause(t.s, a->id), ZENITH_E_STALE, "pause of a closed connection");
    cr_assert_eq(zenith_server_resume(t.s, a->id), ZENITH_E_STALE);
    rx_destroy(&t);
}

Test(reactor, paused_from_accept_gets_nothing_until_resume, .timeout = 20) {
    zenith_server_config cfg = reactor_cfg();
    rx_t t;
    int fd;
    const size_t total = 300000;
    size_t sent = 0;
    rx_init(&t, &cfg);
    t.acc_in_cap = total;
    t.pause_on_accept = 1;
    rx_start(&t);
    fd = dial(zenith_server_port(t.s));
    RUN_UNTIL(t.s, t.accepts == 1);
    push_pattern(fd, 13, &sent, total);
    run_for(t.s, 0.2);
    cr_assert_eq(t.acc[0].data_calls, 0, "on_data for a connection paused in on_accept");
    cr_assert_eq(zenith_server_resume(t.s, t.acc[0].id), 0);
    {
        double deadline = now_s() + 10.0;
        while (t.acc[0].bytes < total) {
            cr_assert_lt(now_s(), deadline, "%zu of %zu", t.acc[0].bytes, total);
            push_pattern(fd, 13, &sent, total);
            cr_assert_geq(zenith_server_run_once(t.s, 2), 0);
        }
    }
    check_bytes(t.acc[0].in, total, 13, "paused from on_accept");
    close(fd);
    RUN_UNTIL(t.s, t.closes == 1);
    rx_destroy(&t);
}

Test(reactor, queued_counts_what_the_peer_has_not_taken, .timeout = 20) {
    zenith_server_config cfg = reactor_cfg();
    rx_t t;
    int fd, q = 0;
    char chunk[4096], sink[65536];
    size_t total = 0, got = 0;
    crec *a;
    rx_init(&t, &cfg);
    rx_start(&t);
    fd = dial_rcvbuf(zenith_server_port(t.s), 16 * 1024);
    RUN_UNTIL(t.s, t.accepts == 1);
    a = &t.acc[0];
    cr_assert_eq(zenith_server_queued(t.s, a->id), 0);
    memset(chunk, 'q', sizeof chunk);
    while (total < (64u << 20)) { /* the peer does not read: the queue builds up */
        zenith_server_stats st;
        cr_assert_eq(zenith_server_send(t.s, a->id, chunk, sizeof chunk), 0);
        total += sizeof chunk;
        cr_assert_geq(zenith_server_run_once(t.s, 0), 0);
        st = sstats(t.s);
        q = zenith_server_queued(t.s, a->id);
        cr_assert_geq(q, 0);
        cr_assert_eq((uint64_t)q + st.bytes_out, total, "queued %d + sent %llu != %zu handed over", q,
                     (unsigned long long)st.bytes_out, total);
        if (q >= 100000) break;
    }
    cr_assert_geq(q, 100000, "the queue never built up (%zu bytes went out)", total);
    run_for(t.s, 0.1);
    cr_assert_eq(zenith_server_queued(t.s, a->id), q, "nothing moves while the peer does not read");
    cr_assert_eq(zenith_server_queued(NULL, a->id), ZENITH_E_NULL);
    cr_assert_eq(zenith_server_queued(t.s, a->id ^ ((zenith_conn_id)1 << 40)), ZENITH_E_STALE);
    cr_assert_eq(fcntl(fd, F_SETFL, O_NONBLOCK), 0);
    {
        double deadline = now_s() + 10.0;
        while (got < total) {
            ssize_t r = recv(fd, sink, sizeof sink, 0);
            if (r > 0) got += (size_t)r;
            cr_assert_lt(now_s(), deadline, "read %zu of %zu", got, total);
            cr_assert_geq(zenith_server_run_once(t.s, 1), 0);
        }
    }
    RUN_UNTIL(t.s, zenith_server_queued(t.s, a->id) == 0);
    cr_assert_eq(sstats(t.s).bytes_out, total);
    close(fd);
    RUN_UNTIL(t.s, t.closes == 1);
    cr_assert_eq(zenith_server_queued(t.s, a->id), ZENITH_E_STALE);
    rx_destroy(&t);
}

Test(reactor, drain_after_queue_reached_max_without_a_refused_send, .timeout = 20) {
    zenith_server_config cfg = reactor_cfg();
    rx_t t;
    int fd, q = 0;
    char chunk[4096], sink[65536];
    size_t total = 0, got = 0;
    crec *a;
    cfg.send_queue_max = 64 * 1024;
    rx_init(&t, &cfg);
    rx_start(&t);
    fd = dial_rcvbuf(zenith_server_port(t.s), 16 * 1024);
    RUN_UNTIL(t.s, t.accepts == 1);
    a = &t.acc[0];
    memset(chunk, 'd', sizeof chunk);
    while ((q = zenith_server_queued(t.s, a->id)) < 64 * 1024) { /* to send_queue_max, never over 2x */
        cr_assert_lt(total, 64u << 20, "the queue never reached send_queue_max");
        cr_assert_eq(zenith_server_send(t.s, a->id, chunk, sizeof chunk), 0);
        total += sizeof chunk;
        cr_assert_geq(zenith_server_run_once(t.s, 0), 0);
    }
    cr_assert_eq(sstats(t.s).send_queue_full, 0, "no send was refused");
    run_for(t.s, 0.1);
    cr_assert_eq(a->drains, 0, "on_drain while the queue is still full");
    cr_assert_eq(fcntl(fd, F_SETFL, O_NONBLOCK), 0);
    {
        double deadline = now_s() + 10.0;
        while (got < total) {
            ssize_t r = recv(fd, sink, sizeof sink, 0);
            if (r > 0) got += (size_t)r;
            cr_assert_lt(now_s(), deadline, "read %zu of %zu", got, total);
            cr_assert_geq(zenith_server_run_once(t.s, 1), 0);
        }
    }
    RUN_UNTIL(t.s, a->drains >= 1);
    run_for(t.s, 0.05);
    cr_assert_eq(a->drains, 1, "on_drain exactly once");
    cr_assert_leq(a->drain_queued, 32 * 1024, "on_drain with %d bytes still queued (half is 32 KiB)", a->drain_queued);
    cr_assert_eq(zenith_server_queued(t.s, a->id), 0);
    close(fd);
    RUN_UNTIL(t.s, t.closes == 1);
    rx_destroy(&t);
}

/* ZENITH_SERVER_NO_QUEUE_PAUSE (relays): a connection whose own queue is at send_queue_max is
   still read from (by default it would not be), and on_drain still fires once it drains. */
Test(reactor, no_queue_pause_keeps_reading_a_full_connection, .timeout = 20) {
    zenith_server_config cfg = reactor_cfg();
    rx_t t;
    int fd;
    char chunk[4096], sink[65536];
    size_t total = 0, got = 0;
    crec *a;
    cfg.send_queue_max = 64 * 1024;
    cfg.flags |= ZENITH_SERVER_NO_QUEUE_PAUSE;
    rx_init(&t, &cfg);
    rx_start(&t);
    fd = dial_rcvbuf(zenith_server_port(t.s), 16 * 1024);
    RUN_UNTIL(t.s, t.accepts == 1);
    a = &t.acc[0];
    memset(chunk, 'q', sizeof chunk);
    while (zenith_server_queued(t.s, a->id) < 64 * 1024) {
        cr_assert_lt(total, 64u << 20, "the queue never reached send_queue_max");
        cr_assert_eq(zenith_server_send(t.s, a->id, chunk, sizeof chunk), 0);
        total += sizeof chunk;
        cr_assert_geq(zenith_server_run_once(t.s, 0), 0);
    }
    /* the queue is full and the peer reads nothing: its bytes are still delivered */
    cr_assert_eq(send(fd, "hello", 5, 0), 5);
    RUN_UNTIL(t.s, a->bytes == 5);
    cr_assert_eq(a->drains, 0, "on_drain while the queue is still full");
    cr_assert_eq(fcntl(fd, F_SETFL, O_NONBLOCK), 0);
    {
        double deadline = now_s() + 10.0;
        while (got < total) {
            ssize_t r = recv(fd, sink, sizeof sink, 0);
            if (r > 0) got += (size_t)r;
            cr_assert_lt(now_s(), deadline, "read %zu of %zu", got, total);
            cr_assert_geq(zenith_server_run_once(t.s, 1), 0);
        }
    }
    RUN_UNTIL(t.s, a->drains >= 1);
    cr_assert_eq(zenith_server_queued(t.s, a->id), 0);
    close(fd);
    RUN_UNTIL(t.s, t.closes == 1);
    rx_destroy(&t);
}

static void never_posted(void *user, void *data, size_t len) {
    (void)user;
    (void)data;
    (void)len;
    cr_assert_fail("a refused post ran");
}

/* The 0.2.0 config fields and zenith_server_post refuse bad input with their codes, and nothing
   refused is ever run. */
Test(reactor, new_config_fields_and_post_bad_input, .timeout = 15) {
    zenith_server_config cfg;
    zenith_server *s;
    char big[ZENITH_POST_MAX + 1];
    int err;
    const struct {
        uint32_t post_queue, max_timers, recv_buffers, send_reserve, backend;
    } bad[] = {
        { 3, 0, 0, 0, 0 },               /* post_queue not a power of two */
        { 1u << 21, 0, 0, 0, 0 },        /* post_queue over 2^20 */
        { 0, (1u << 23) + 1u, 0, 0, 0 }, /* max_timers over 2^23 */
        { 0, 0, 200, 100, 0 },           /* recv_buffers + send_reserve > buffer_count (256) */
        { 0, 0, 0, 0, 3 },               /* backend: no such backend */
    };
    size_t i;
    for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        cfg = reactor_cfg();
        cfg.buffer_count = 256;
        cfg.post_queue = bad[i].post_queue;
        cfg.max_timers = bad[i].max_timers;
        cfg.recv_buffers = bad[i].recv_buffers;
        cfg.send_reserve = bad[i].send_reserve;
        cfg.backend = bad[i].backend;
        err = 0;
        cr_assert_null(zenith_server_create(&cfg, &err), "bad config %zu accepted", i);
        cr_assert_eq(err, ZENITH_E_INVAL, "bad config %zu: %d %s", i, err, zenith_errname(err));
    }
    cfg = reactor_cfg();
    cfg.post_queue = 4;
    s = zenith_server_create(&cfg, &err);
    cr_assert_not_null(s, "create: %d %s", err, zenith_errname(err));
    memset(big, 'p', sizeof big);
    cr_assert_eq(zenith_server_post(NULL, never_posted, NULL, NULL, 0), ZENITH_E_NULL);
    cr_assert_eq(zenith_server_post(s, NULL, NULL, NULL, 0), ZENITH_E_NULL);
    cr_assert_eq(zenith_server_post(s, never_posted, NULL, NULL, 3), ZENITH_E_NULL, "data NULL with a length");
    cr_assert_eq(zenith_server_post(s, never_posted, NULL, big, sizeof big), ZENITH_E_INVAL, "over ZENITH_POST_MAX");
    cr_assert_eq(rstats(s).posts_refused, 0, "bad input is not a full queue");
    zenith_server_destroy(s);
}

/* ---- more connect paths ------------------------------------------------------------------------ */

Test(reactor, refused_connect_drops_its_queued_bytes, .timeout = 15) {
    zenith_server_config cfg = reactor_cfg_no_listen();
    zenith_pool_stats p0, p1;
    rx_t t;
    crec cli;
    zenith_connect_config c;
    zenith_conn_id id;
    unsigned char *out = make_pattern(14, 100000);
    rx_init(&t, &cfg);
    rx_start(&t);
    cr_assert_eq(zenith_pool_get_stats(zenith_server_pool(t.s), &p0), 0);
    crec_init(&cli, &t, 0);
    c = connect_cfg("127.0.0.1", dead_port(), &cli);
    id = start_connect(&t, &c, &cli);
    cr_assert_eq(zenith_server_send(t.s, id, out, 100000), 0);
    RUN_UNTIL(t.s, cli.connects == 1);
    cr_assert_eq(cli.status, ZENITH_ESYS(ECONNREFUSED));
    cr_assert_eq(zenith_pool_get_stats(zenith_server_pool(t.s), &p1), 0);
    cr_assert_eq(p1.in_use, p0.in_use, "the queued bytes' buffers came back");
    cr_assert_eq(sstats(t.s).bytes_out, 0);
    cr_assert_eq(t.closes, 0);
    rx_destroy(&t);
    free(out);
}

Test(reactor, connect_canceled_by_abort_close, .timeout = 15) {
    zenith_server_config cfg = reactor_cfg_no_listen();
    syn_sink k;
    rx_t t;
    crec cli;
    zenith_connect_config c;
    zenith_conn_id id;
    syn_sink_open(&k);
    rx_init(&t, &cfg);
    rx_start(&t);
    crec_init(&cli, &t, 0);
    c = connect_cfg("127.0.0.1", k.port, &cli);
    id = start_connect(&t, &c, &cli);
    cr_assert_eq(zenith_server_close(t.s, id, ZENITH_CLOSE_ABORT), 0);
    RUN_UNTIL(t.s, cli.connects == 1);
    run_for(t.s, 0.05);
    cr_assert_eq(cli.connects, 1);
    cr_assert_eq(cli.status, ZENITH_E_CANCELED);
    cr_assert_eq(t.closes, 0);
    cr_assert_eq(rstats(t.s).connects_canceled, 1);
    rx_destroy(&t);
    syn_sink_close(&k);
}

Test(reactor, connect_full_at_max_connections, .timeout = 15) {
    zenith_server_config cfg = reactor_cfg_no_listen();
    syn_sink k;
    rx_t t;
    crec cli[3];
    zenith_connect_config c;
    zenith_conn_id id = 5;
    int i;
    cfg.max_connections = 2;
    syn_sink_open(&k);
    rx_init(&t, &cfg);
    rx_start(&t);
    for (i = 0; i < 2; i++) {
        crec_init(&cli[i], &t, 0);
        c = connect_cfg("127.0.0.1", k.port, &cli[i]);
        start_connect(&t, &c, &cli[i]);
    }
    crec_init(&cli[2], &t, 0);
    c = connect_cfg("127.0.0.1", k.port, &cli[2]);
    cr_assert_eq(zenith_server_connect(t.s, &c, &id), ZENITH_E_FULL, "a third connect with max_connections 2");
    cr_assert_eq(id, 0);
    cr_assert_eq(zenith_server_close(t.s, cli[0].id, ZENITH_CLOSE_FLUSH), 0);
    RUN_UNTIL(t.s, cli[0].connects == 1);
    start_connect(&t, &c, &cli[2]); /* a slot came free */
    cr_assert_eq(zenith_server_close(t.s, cli[1].id, ZENITH_CLOSE_FLUSH), 0);
    cr_assert_eq(zenith_server_close(t.s, cli[2].id, ZENITH_CLOSE_FLUSH), 0);
    RUN_UNTIL(t.s, cli[1].connects == 1 && cli[2].connects == 1);
    run_for(t.s, 0.05);
    for (i = 0; i < 3; i++) {
        cr_assert_eq(cli[i].connects, 1);
        cr_assert_eq(cli[i].status, ZENITH_E_CANCELED);
    }
    cr_assert_eq(rstats(t.s).connects_started, 3);
    rx_destroy(&t);
    syn_sink_close(&k);
}

/* A timer callback connects and adds a listener (both allowed inside callbacks). */
typedef struct {
    rx_t *t;
    crec *cli;
    int port;
} from_cb_t;
static void connect_from_timer(void *user, zenith_timer_id id) {
    from_cb_t *f = (from_cb_t *)user;
    zenith_connect_config c;
    zenith_conn_id cid = 0;
    (void)id;
    f->port = zenith_server_listen(f->t->s, "127.0.0.1", 0, 0);
    cr_assert_gt(f->port, 0, "listen inside a callback: %s", zenith_errname(f->port));
    c = connect_cfg("127.0.0.1", (uint16_t)f->port, f->cli);
    c.flags = ZENITH_CONNECT_KEEPALIVE | ZENITH_CONNECT_NO_NODELAY;
    c.keepalive_idle_s = 30;
    c.keepalive_intvl_s = 5;
    c.keepalive_count = 3;
    c.user_timeout_ms = 5000;
    cr_assert_eq(zenith_server_connect(f->t->s, &c, &cid), 0, "connect inside a callback");
    f->cli->id = cid;
}

Test(reactor, connect_and_listen_from_a_callback, .timeout = 15) {
    zenith_server_config cfg = reactor_cfg_no_listen();
    rx_t t;
    crec cli;
    from_cb_t f;
    const size_t n = 30000;
    unsigned char *out = make_pattern(15, n);
    rx_init(&t, &cfg);
    t.echo_accepted = 1;
    rx_start(&t);
    crec_init(&cli, &t, n);
    cli.out = out;
    cli.out_len = n;
    cli.send_on_connect = 1;
    cli.close_when_echoed = 1;
    f.t = &t;
    f.cli = &cli;
    f.port = 0;
    cr_assert_eq(zenith_server_timer_start(t.s, 1, 0, connect_from_timer, &f, NULL), 0);
    RUN_UNTIL(t.s, t.closes == 2);
    cr_assert_eq(cli.connects, 1);
    cr_assert_eq(cli.status, 0);
    cr_assert(cli.verified, "echo through a connection made inside a callback");
    cr_assert_eq(zenith_server_port(t.s), f.port);
    rx_destroy(&t);
    free(cli.in);
    free(out);
}
