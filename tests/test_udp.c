/* UDP sockets on the reactor (issue 11), one body for both backends (make test runs it with
   ZENITH_BACKEND=io_uring and =epoll): a unicast echo of 100,000 datagrams of random sizes
   1-1,472 B with every byte and boundary checked (copying and zero-copy keep + send_buffer
   echoes, IPv4 and IPv6), truncation, empty datagrams, connected and unconnected sockets, the
   documented code of every bad input (and that it changes nothing), a full send queue and
   on_writable, receive timestamps, the counters, GSO and GRO round trips, a flood that empties
   the pool (everything counted, nothing corrupted, reception resumes), close inside on_recv and
   close flushing what is queued.

   The peer of a Zenith socket is a plain socket of this process (non-blocking, driven between
   run_once calls on the same thread): what it sees is what the wire carried. Every socket binds
   port 0 (zenith_udp_port says which). Datagrams carry their sequence number in their first
   bytes and a pattern of (sequence, offset) in the rest, so a byte out of place, a datagram cut
   or two datagrams run together are all seen. */
#define ZENITH_IMPLEMENTATION
#include "zenith.h"

#include "criterion_compat.h" /* Criterion (or its TSan stand-in) */
#include "net_helpers.h"
#include "helpers.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#ifndef UDP_SEGMENT
#define UDP_SEGMENT 103
#endif
#ifndef UDP_GRO
#define UDP_GRO 104
#endif
#ifndef SOL_UDP
#define SOL_UDP 17
#endif

/* ---- the reactor ------------------------------------------------------------------------------ */

/* Every reactor of this suite starts from this config (NO_LISTEN: UDP only). */
static zenith_server_config udp_cfg(void) {
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

/* A reactor with callbacks set, not started. */
static zenith_server *mkserver_unstarted(const zenith_server_config *c) {
    int err = 12345;
    zenith_server *s = zenith_server_create(c, &err);
    if (s == NULL && err == ZENITH_E_URING_DISABLED) cr_skip("io_uring is disabled here");
    cr_assert_not_null(s, "zenith_server_create: %d %s", err, zenith_errname(err));
    cr_assert_eq(err, 0);
    cr_assert_eq(zenith_server_set_callbacks(s, NULL, no_data, NULL, NULL), 0);
    return s;
}

static zenith_server *mkserver_cfg(const zenith_server_config *c) {
    zenith_server *s = mkserver_unstarted(c);
    cr_assert_eq(zenith_server_start(s), 0);
    return s;
}

static zenith_server *mkserver(void) {
    zenith_server_config c = udp_cfg();
    return mkserver_cfg(&c);
}

static void run1(zenith_server *s, int ms) {
    int r = zenith_server_run_once(s, ms);
    cr_assert_geq(r, 0, "run_once: %d %s", r, zenith_errname(r));
}

/* Runs the loop for about ms milliseconds. */
static void spin(zenith_server *s, int ms) {
    double end = now_s() + ms / 1000.0;
    while (now_s() < end) run1(s, 1);
}

/* Runs the loop until cond holds or secs pass (the caller asserts cond after). */
#define RUN_UNTIL(s, cond, secs)                                \
    do {                                                        \
        double run_until_end_ = now_s() + (secs);               \
        while (!(cond) && now_s() < run_until_end_) run1(s, 1); \
    } while (0)

static zenith_udp_config ucfg(const char *address, uint32_t flags, zenith_udp_recv_fn on_recv, void *user) {
    zenith_udp_config c;
    memset(&c, 0, sizeof c);
    c.address = address;
    c.flags = flags;
    c.on_recv = on_recv;
    c.user = user;
    return c;
}

static zenith_udp_id open_ok(zenith_server *s, const zenith_udp_config *c) {
    zenith_udp_id id = 12345;
    int rc = zenith_udp_open(s, c, &id);
    cr_assert_eq(rc, 0, "zenith_udp_open(%s): %d %s", c->address ? c->address : "NULL", rc, zenith_errname(rc));
    cr_assert_neq(id, 0u);
    cr_assert_neq(zenith_udp_port(s, id), 0, "a socket bound to port 0 has a port");
    return id;
}

static zenith_udp_info info_of_udp(zenith_server *s, zenith_udp_id id) {
    zenith_udp_info i;
    int rc;
    memset(&i, 0xa5, sizeof i);
    i.struct_size = sizeof i;
    rc = zenith_udp_get_info(s, id, &i);
    cr_assert_eq(rc, 0, "zenith_udp_get_info: %d %s", rc, zenith_errname(rc));
    return i;
}

static zenith_addr addr_of(const char *ip, uint16_t port) {
    zenith_addr a;
    int rc = zenith_addr_set(&a, ip, port);
    cr_assert_eq(rc, 0, "zenith_addr_set(%s): %d %s", ip, rc, zenith_errname(rc));
    return a;
}

/* Descriptors open in this process (a failed call must leave none behind). */
static int count_fds(void) {
    DIR *d = opendir("/proc/self/fd");
    struct dirent *e;
    int n = 0;
    cr_assert_not_null(d);
    while ((e = readdir(d)) != NULL)
        if (e->d_name[0] != '.') n++;
    closedir(d);
    return n - 1; /* the directory's own */
}

/* ---- plain sockets: the other end ------------------------------------------------------------- */

static void fill_sa(struct sockaddr_storage *ss, socklen_t *len, const char *ip, uint16_t port) {
    memset(ss, 0, sizeof *ss);
    if (strchr(ip, ':')) {
        struct sockaddr_in6 *a = (struct sockaddr_in6 *)ss;
        a->sin6_family = AF_INET6;
        a->sin6_port = htons(port);
        cr_assert_eq(inet_pton(AF_INET6, ip, &a->sin6_addr), 1);
        *len = sizeof *a;
    } else {
        struct sockaddr_in *a = (struct sockaddr_in *)ss;
        a->sin_family = AF_INET;
        a->sin_port = htons(port);
        cr_assert_eq(inet_pton(AF_INET, ip, &a->sin_addr), 1);
        *len = sizeof *a;
    }
}

/* A non-blocking UDP socket bound to ip:port (port 0: any), with room for bursts. */
static int plain_udp(const char *ip, uint16_t port) {
    struct sockaddr_storage ss;
    socklen_t len;
    int buf = 4 << 20;
    int fd;
    fill_sa(&ss, &len, ip, port);
    fd = socket(ss.ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    cr_assert_geq(fd, 0, "socket: %s", strerror(errno));
    if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &buf, sizeof buf) != 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &buf, sizeof buf);
    cr_assert_eq(bind(fd, (struct sockaddr *)&ss, len), 0, "bind %s:%u: %s", ip, port, strerror(errno));
    return fd;
}

static uint16_t fd_port(int fd) {
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    cr_assert_eq(getsockname(fd, (struct sockaddr *)&ss, &len), 0);
    return ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
                                          : ((struct sockaddr_in *)&ss)->sin_port);
}

static void plain_connect(int fd, const char *ip, uint16_t port) {
    struct sockaddr_storage ss;
    socklen_t len;
    fill_sa(&ss, &len, ip, port);
    cr_assert_eq(connect(fd, (struct sockaddr *)&ss, len), 0, "connect: %s", strerror(errno));
}

static void plain_sendto(int fd, const void *p, size_t n, const char *ip, uint16_t port) {
    struct sockaddr_storage ss;
    socklen_t len;
    ssize_t r;
    fill_sa(&ss, &len, ip, port);
    r = sendto(fd, p, n, 0, (struct sockaddr *)&ss, len);
    cr_assert_eq(r, (ssize_t)n, "sendto %s:%u of %zu bytes: %zd %s", ip, port, n, r, strerror(errno));
}

/* One datagram if there is one: its real length (MSG_TRUNC), -1 if none; *from_port if asked. */
static ssize_t plain_recv(int fd, void *buf, size_t cap, uint16_t *from_port) {
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    ssize_t r = recvfrom(fd, buf, cap, MSG_DONTWAIT | MSG_TRUNC, (struct sockaddr *)&ss, &len);
    if (r < 0) {
        cr_assert(errno == EAGAIN || errno == EWOULDBLOCK, "recvfrom: %s", strerror(errno));
        return -1;
    }
    if (from_port)
        *from_port = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
                                                    : ((struct sockaddr_in *)&ss)->sin_port);
    return r;
}

/* Waits (running the loop) up to secs for a datagram on fd; -1 if none came. */
static ssize_t plain_recv_wait(zenith_server *s, int fd, void *buf, size_t cap, uint16_t *from_port, double secs) {
    double end = now_s() + secs;
    ssize_t r;
    while ((r = plain_recv(fd, buf, cap, from_port)) < 0 && now_s() < end) run1(s, 1);
    return r;
}

/* ---- datagram contents ------------------------------------------------------------------------- */

static uint64_t xorshift(uint64_t *x) {
    *x ^= *x << 13;
    *x ^= *x >> 7;
    *x ^= *x << 17;
    return *x;
}

static uint8_t pat(uint32_t seq, uint32_t i) {
    return (uint8_t)(((seq * 2654435761u) >> 24) ^ (i * 31u) ^ (i >> 8) ^ 0x5a);
}

/* The first min(4, len) bytes are seq (little-endian), the rest the pattern. */
static void fill(uint8_t *p, uint32_t seq, uint32_t len) {
    uint32_t i;
    for (i = 0; i < len; i++) p[i] = i < 4 ? (uint8_t)(seq >> (8 * i)) : pat(seq, i);
}

/* The first byte that differs from fill(seq, len), or -1. */
static long check(const uint8_t *p, uint32_t seq, uint32_t len) {
    uint32_t i;
    for (i = 0; i < len; i++)
        if (p[i] != (i < 4 ? (uint8_t)(seq >> (8 * i)) : pat(seq, i))) return (long)i;
    return -1;
}

static uint32_t seq_of(const uint8_t *p, uint32_t len) {
    uint32_t s = 0, i;
    for (i = 0; i < 4 && i < len; i++) s |= (uint32_t)p[i] << (8 * i);
    return s;
}

/* ---- a collecting receiver --------------------------------------------------------------------- */

typedef struct {
    uint32_t len, orig_len, flags, kernel_drops;
    int64_t ts, hw_ts;
    zenith_addr from;
    uint8_t *data;
} got_t;

typedef struct coll {
    zenith_server *s;
    zenith_udp_id id;
    uint32_t n, cap;
    got_t *g;
    uint64_t bytes;
    int close_on_first; /* zenith_udp_close from inside the first on_recv */
    int closed_rc;
} coll;

static void coll_init(coll *c, zenith_server *s, uint32_t cap) {
    memset(c, 0, sizeof *c);
    c->s = s;
    c->cap = cap;
    c->g = calloc(cap, sizeof *c->g);
    cr_assert_not_null(c->g);
}

static void coll_free(coll *c) {
    uint32_t i;
    for (i = 0; i < c->n; i++) free(c->g[i].data);
    free(c->g);
    c->g = NULL;
}

static void coll_recv(void *user, zenith_udp_id sock, const zenith_udp_datagram *d) {
    coll *c = (coll *)user;
    got_t *g;
    cr_assert_eq(sock, c->id, "on_recv for %#llx, the socket is %#llx", (unsigned long long)sock,
                 (unsigned long long)c->id);
    cr_assert_eq(zenith_udp_get_user(c->s, sock), c, "the socket's user pointer in on_recv");
    cr_assert_not_null(d);
    cr_assert_not_null(d->from);
    cr_assert(d->from->len == sizeof(struct sockaddr_in) || d->from->len == sizeof(struct sockaddr_in6), "from->len %u",
              d->from->len);
    cr_assert_leq(d->len, d->orig_len);
    if (!(d->flags & ZENITH_UDP_TRUNC))
        cr_assert_eq(d->len, d->orig_len, "len %u, orig_len %u without TRUNC", d->len, d->orig_len);
    cr_assert(d->len == 0 || d->data != NULL);
    cr_assert_lt(c->n, c->cap, "more than the %u datagrams expected", c->cap);
    g = &c->g[c->n++];
    g->len = d->len;
    g->orig_len = d->orig_len;
    g->flags = d->flags;
    g->kernel_drops = d->kernel_drops;
    g->ts = d->ts_ns;
    g->hw_ts = d->hw_ts_ns;
    g->from = *d->from;
    g->data = malloc(d->len ? d->len : 1);
    cr_assert_not_null(g->data);
    if (d->len) memcpy(g->data, d->data, d->len);
    c->bytes += d->len;
    if (c->close_on_first) {
        c->close_on_first = 0;
        c->closed_rc = zenith_udp_close(c->s, sock);
        cr_assert_eq(c->closed_rc, 0);
        cr_assert_eq(zenith_udp_close(c->s, sock), ZENITH_E_STALE, "a second close inside on_recv");
        cr_assert_eq(zenith_udp_port(c->s, sock), 0, "the port of a closed socket");
        cr_assert_null(zenith_udp_get_user(c->s, sock));
        cr_assert_eq(zenith_udp_send(c->s, sock, "x", 1, d->from), ZENITH_E_STALE);
    }
}

/* ---- 1. the echo: 100,000 datagrams, every byte and boundary ----------------------------------- */

#define ECHO_WINDOW 64u

typedef struct {
    zenith_server *s;
    zenith_udp_id id;
    int zero_copy;
    uint32_t buffer_size;
    uint64_t n;
} echo_t;

static void echo_recv(void *user, zenith_udp_id sock, const zenith_udp_datagram *d) {
    echo_t *e = (echo_t *)user;
    int rc;
    cr_assert_eq(sock, e->id);
    cr_assert_eq(d->flags, 0u, "flags %#x on a whole datagram", d->flags);
    cr_assert_eq(d->len, d->orig_len);
    e->n++;
    if (e->zero_copy) {
        const uint8_t *p = NULL;
        uint8_t *buf = (uint8_t *)zenith_udp_keep(e->s, &p);
        cr_assert_not_null(buf, "zenith_udp_keep in on_recv");
        cr_assert_eq(p, d->data, "keep says the datagram is elsewhere than d->data");
        cr_assert(p >= buf && p + d->len <= buf + e->buffer_size, "the datagram is not inside the kept buffer");
        cr_assert_null(zenith_udp_keep(e->s, NULL), "a second keep in one on_recv");
        rc = zenith_udp_send_buffer(e->s, sock, (void *)(uintptr_t)p, d->len, d->from);
    } else {
        rc = zenith_udp_send(e->s, sock, d->data, d->len, d->from);
    }
    cr_assert_eq(rc, 0, "echo send of %u bytes: %d %s", d->len, rc, zenith_errname(rc));
}

/* n datagrams of seeded random sizes 1..1472 through an echo socket bound to ip, at most
   ECHO_WINDOW in flight, each checked byte for byte and exactly once. */
static void echo_run(const char *ip, int zero_copy, uint32_t n, uint64_t seed) {
    zenith_server *s = mkserver();
    zenith_pool *pool = zenith_server_pool(s);
    uint64_t in_use_before = stats_of(pool).in_use;
    echo_t e;
    zenith_udp_config c;
    zenith_udp_info inf;
    uint32_t *sizes = malloc((size_t)n * sizeof *sizes);
    uint8_t *seen = calloc(n, 1);
    uint32_t sent = 0, got = 0, lowest = 0, maxseq = 0, reordered = 0, i;
    uint64_t total = 0, x = seed, spare;
    uint8_t out[1472], in[4096];
    double last = now_s(), t0 = now_s();
    int fd;
    cr_assert(sizes && seen);
    for (i = 0; i < n; i++) {
        sizes[i] = 1u + (uint32_t)(xorshift(&x) % 1472u);
        total += sizes[i];
    }
    memset(&e, 0, sizeof e);
    e.s = s;
    e.zero_copy = zero_copy;
    e.buffer_size = 4096;
    c = ucfg(ip, 0, echo_recv, &e);
    c.rcvbuf = 4u << 20;
    e.id = open_ok(s, &c);
    inf = info_of_udp(s, e.id);
    cr_assert_eq(inf.recv_capacity, 4096u - ZENITH_UDP_RECV_HEADROOM);
    cr_assert_eq(!!(inf.features & ZENITH_UDP_F_IPV6), strchr(ip, ':') != NULL);
    fd = plain_udp(ip, 0);
    plain_connect(fd, ip, zenith_udp_port(s, e.id));
    while (got < n) {
        while (sent < n && sent - got < ECHO_WINDOW) {
            ssize_t r;
            fill(out, sent, sizes[sent]);
            r = send(fd, out, sizes[sent], 0);
            if (r < 0 && (errno == EAGAIN || errno == ENOBUFS)) break;
            cr_assert_eq(r, (ssize_t)sizes[sent], "send of datagram %u: %s", sent, strerror(errno));
            sent++;
        }
        run1(s, 0);
        for (;;) {
            ssize_t r = recv(fd, in, sizeof in, MSG_DONTWAIT | MSG_TRUNC);
            uint32_t len, seq;
            long bad;
            if (r < 0) {
                cr_assert(errno == EAGAIN || errno == EWOULDBLOCK, "recv: %s", strerror(errno));
                break;
            }
            len = (uint32_t)r;
            cr_assert(len >= 1 && len <= 1472, "an echoed datagram of %u bytes", len);
            if (len >= 4) {
                seq = seq_of(in, len);
                cr_assert_lt(seq, sent, "an echo of datagram %u, only %u sent", seq, sent);
                cr_assert_eq(len, sizes[seq], "datagram %u came back with %u bytes, sent %u (boundary lost)", seq, len,
                             sizes[seq]);
            } else { /* too short to carry the whole sequence: the oldest outstanding that fits */
                for (seq = lowest; seq < sent; seq++)
                    if (!seen[seq] && sizes[seq] == len && check(in, seq, len) < 0) break;
                cr_assert_lt(seq, sent, "a %u-byte echo matching no outstanding datagram", len);
            }
            bad = check(in, seq, len);
            cr_assert_lt(bad, 0, "datagram %u (%u bytes): byte %ld is %#x, sent %#x", seq, len, bad,
                         bad >= 0 ? in[bad] : 0,
                         bad >= 0 ? (bad < 4 ? (uint8_t)(seq >> (8 * bad)) : pat(seq, (uint32_t)bad)) : 0);
            cr_assert_eq(seen[seq], 0, "datagram %u echoed twice", seq);
            seen[seq] = 1;
            if (seq < maxseq) reordered++;
            if (seq > maxseq) maxseq = seq;
            got++;
            last = now_s();
            while (lowest < sent && seen[lowest]) lowest++;
        }
        if (now_s() - last > 5.0) {
            inf = info_of_udp(s, e.id);
            cr_assert_fail("no echo for 5 s: %u sent, %u back; echo socket: in %llu out %llu kernel_drops %llu "
                           "recv_stalls %llu send_errors %llu send_full %llu queued %u last_error %s",
                           sent, got, (unsigned long long)inf.datagrams_in, (unsigned long long)inf.datagrams_out,
                           (unsigned long long)inf.kernel_drops, (unsigned long long)inf.recv_stalls,
                           (unsigned long long)inf.send_errors, (unsigned long long)inf.send_full, inf.queued,
                           zenith_errname(inf.last_error));
        }
    }
    cr_log_info("%s echo (%s, %s): %u datagrams, %llu bytes, in %.2f s, %u reordered", zero_copy ? "zero-copy" : "copy",
                ip, on_epoll(s) ? "epoll" : "io_uring", n, (unsigned long long)total, now_s() - t0, reordered);
    RUN_UNTIL(s, info_of_udp(s, e.id).queued == 0, 2.0);
    inf = info_of_udp(s, e.id);
    cr_assert_eq(e.n, n);
    cr_assert_eq(inf.datagrams_in, n);
    cr_assert_eq(inf.bytes_in, total);
    cr_assert_eq(inf.datagrams_out, n);
    cr_assert_eq(inf.bytes_out, total);
    cr_assert_eq(inf.queued, 0u);
    cr_assert_eq(inf.truncated, 0u);
    cr_assert_eq(inf.kernel_drops, 0u, "loopback with a window of %u dropped", ECHO_WINDOW);
    cr_assert_eq(inf.send_errors, 0u);
    cr_assert_eq(inf.send_full, 0u);
    cr_assert_eq(inf.recv_errors, 0u);
    cr_assert_eq(inf.last_error, 0);
    cr_assert_eq(plain_recv(fd, in, sizeof in, NULL), -1, "nothing more than the echoes");
    /* every buffer the socket took (receives, the kept and sent ones) goes back; the epoll
       backend keeps a spare batch for its next recvmmsg (server-wide, at most 64 buffers) */
    cr_assert_eq(zenith_udp_close(s, e.id), 0);
    spare = on_epoll(s) ? 64u : 0u;
    RUN_UNTIL(s, stats_of(pool).in_use <= in_use_before + spare, 2.0);
    cr_assert_leq(stats_of(pool).in_use, in_use_before + spare,
                  "pool buffers in use: %llu before the socket, %llu after close (%s)",
                  (unsigned long long)in_use_before, (unsigned long long)stats_of(pool).in_use,
                  on_epoll(s) ? "epoll" : "io_uring");
    close(fd);
    free(sizes);
    free(seen);
    zenith_server_destroy(s);
}

Test(udp, echo_100k_random_sizes_copy, .timeout = 120) {
    echo_run("127.0.0.1", 0, under_valgrind() ? 5000u : 100000u, 0x5eed0001u);
}

Test(udp, echo_100k_random_sizes_zero_copy_keep_send_buffer, .timeout = 120) {
    echo_run("127.0.0.1", 1, under_valgrind() ? 5000u : 100000u, 0x5eed0002u);
}

Test(udp, echo_ipv6_loopback, .timeout = 60) {
    echo_run("::1", 0, 5000u, 0x5eed0003u);
    echo_run("::1", 1, 5000u, 0x5eed0004u);
}

/* ---- 2. what on_recv is told -------------------------------------------------------------------- */

static int all_have(const coll *c, int k, uint32_t n) {
    int i;
    for (i = 0; i < k; i++)
        if (c[i].n != n) return 0;
    return 1;
}

Test(udp, datagram_source_user_pointer_and_several_sockets, .timeout = 30) {
    enum { K = 8 };
    zenith_server *s = mkserver();
    coll c[K];
    int fds[K], i, j;
    char buf[64];
    for (i = 0; i < K; i++) {
        zenith_udp_config u;
        coll_init(&c[i], s, 16);
        u = ucfg("127.0.0.1", 0, coll_recv, &c[i]);
        c[i].id = open_ok(s, &u);
        cr_assert_eq(zenith_udp_get_user(s, c[i].id), &c[i], "the user pointer starts as cfg->user");
        for (j = 0; j < i; j++) {
            cr_assert_neq(c[j].id, c[i].id);
            cr_assert_neq(zenith_udp_port(s, c[j].id), zenith_udp_port(s, c[i].id));
        }
        fds[i] = plain_udp("127.0.0.1", 0);
    }
    /* each sender writes its index to its own socket, twice */
    for (j = 0; j < 2; j++)
        for (i = 0; i < K; i++) {
            uint8_t d[8];
            fill(d, (uint32_t)(i * 10 + j), sizeof d);
            plain_sendto(fds[i], d, sizeof d, "127.0.0.1", zenith_udp_port(s, c[i].id));
        }
    RUN_UNTIL(s, all_have(c, K, 2), 5.0);
    for (i = 0; i < K; i++) {
        const struct sockaddr_in *a;
        cr_assert_eq(c[i].n, 2u, "socket %d got %u datagrams", i, c[i].n);
        for (j = 0; j < 2; j++) {
            cr_assert_eq(c[i].g[j].len, 8u);
            cr_assert_lt(check(c[i].g[j].data, (uint32_t)(i * 10 + j), 8), 0, "socket %d datagram %d", i, j);
            cr_assert_eq(c[i].g[j].flags, 0u);
            cr_assert_eq(c[i].g[j].from.len, sizeof(struct sockaddr_in));
            a = (const struct sockaddr_in *)(const void *)c[i].g[j].from.sa;
            cr_assert_eq(a->sin_family, AF_INET);
            cr_assert_eq(ntohl(a->sin_addr.s_addr), INADDR_LOOPBACK);
            cr_assert_eq(ntohs(a->sin_port), fd_port(fds[i]));
            cr_assert_eq(zenith_addr_port(&c[i].g[j].from), fd_port(fds[i]));
            cr_assert_eq(zenith_addr_format(&c[i].g[j].from, buf, sizeof buf), (int)strlen(buf));
            {
                char want[64];
                snprintf(want, sizeof want, "127.0.0.1:%u", fd_port(fds[i]));
                cr_assert_str_eq(buf, want);
            }
        }
    }
    /* set_user: the next on_recv gets the new pointer (and a socket's stays its own) */
    {
        coll other;
        coll_init(&other, s, 4);
        other.id = c[0].id;
        cr_assert_eq(zenith_udp_set_user(s, c[0].id, &other), 0);
        cr_assert_eq(zenith_udp_get_user(s, c[0].id), &other);
        plain_sendto(fds[0], "abcd", 4, "127.0.0.1", zenith_udp_port(s, c[0].id));
        RUN_UNTIL(s, other.n == 1, 5.0);
        cr_assert_eq(other.n, 1u);
        cr_assert_eq(c[0].n, 2u);
        cr_assert_eq(memcmp(other.g[0].data, "abcd", 4), 0);
        coll_free(&other);
    }
    for (i = 0; i < K; i++) {
        zenith_udp_info inf = info_of_udp(s, c[i].id);
        cr_assert_eq(inf.datagrams_in, i == 0 ? 3u : 2u);
        cr_assert_eq(inf.bytes_in, i == 0 ? 20u : 16u);
        cr_assert_eq(zenith_addr_port(&inf.local), zenith_udp_port(s, c[i].id));
        cr_assert_eq(inf.peer.len, 0u, "an unconnected socket has no peer");
        cr_assert_eq(inf.features & ZENITH_UDP_F_CONNECTED, 0u);
        cr_assert_eq(inf.features & ZENITH_UDP_F_IPV6, 0u);
        close(fds[i]);
        coll_free(&c[i]);
    }
    zenith_server_destroy(s); /* with the sockets still open: everything freed */
}

Test(udp, open_before_start_receives_from_start, .timeout = 30) {
    zenith_server_config sc = udp_cfg();
    zenith_server *s = mkserver_unstarted(&sc);
    coll c;
    zenith_udp_config u;
    int fd = plain_udp("127.0.0.1", 0);
    coll_init(&c, s, 8);
    u = ucfg("127.0.0.1", 0, coll_recv, &c);
    c.id = open_ok(s, &u);
    plain_sendto(fd, "early", 5, "127.0.0.1", zenith_udp_port(s, c.id));
    cr_assert_eq(c.n, 0u);
    cr_assert_eq(zenith_server_start(s), 0);
    RUN_UNTIL(s, c.n == 1, 5.0);
    cr_assert_eq(c.n, 1u, "a datagram that came before start is delivered once the loop runs");
    cr_assert_eq(c.g[0].len, 5u);
    cr_assert_eq(memcmp(c.g[0].data, "early", 5), 0);
    close(fd);
    coll_free(&c);
    zenith_server_destroy(s);
}

Test(udp, truncation_flagged_with_the_real_length, .timeout = 30) {
    zenith_server_config sc = udp_cfg();
    zenith_server *s;
    coll c;
    zenith_udp_config u;
    zenith_udp_info inf;
    uint32_t cap = 1024u - ZENITH_UDP_RECV_HEADROOM;
    uint32_t sizes[] = { 1, cap - 1, cap, cap + 1, 5000, 65507 };
    uint8_t *big = malloc(65507);
    int fd = plain_udp("127.0.0.1", 0);
    uint64_t bytes = 0;
    unsigned i;
    sc.buffer_size = 1024;
    s = mkserver_cfg(&sc);
    coll_init(&c, s, 16);
    u = ucfg("127.0.0.1", 0, coll_recv, &c);
    c.id = open_ok(s, &u);
    inf = info_of_udp(s, c.id);
    cr_assert_eq(inf.recv_capacity, cap, "recv_capacity %u at 1024-byte buffers", inf.recv_capacity);
    cr_assert_not_null(big);
    for (i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        fill(big, i, sizes[i]);
        plain_sendto(fd, big, sizes[i], "127.0.0.1", zenith_udp_port(s, c.id));
        RUN_UNTIL(s, c.n == i + 1, 5.0);
        cr_assert_eq(c.n, i + 1, "datagram %u (%u bytes) not delivered", i, sizes[i]);
    }
    for (i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        got_t *g = &c.g[i];
        int cut = sizes[i] > cap;
        cr_assert_eq(g->orig_len, sizes[i], "datagram %u: orig_len %u, sent %u", i, g->orig_len, sizes[i]);
        cr_assert_eq(g->len, cut ? cap : sizes[i], "datagram %u of %u bytes delivered with %u", i, sizes[i], g->len);
        cr_assert_eq(g->flags, cut ? (uint32_t)ZENITH_UDP_TRUNC : 0u, "datagram %u of %u bytes: flags %#x", i, sizes[i],
                     g->flags);
        cr_assert_lt(check(g->data, i, g->len), 0, "datagram %u: the bytes delivered are its first ones", i);
        bytes += g->len;
    }
    inf = info_of_udp(s, c.id);
    cr_assert_eq(inf.truncated, 3u, "truncated %llu", (unsigned long long)inf.truncated);
    cr_assert_eq(inf.datagrams_in, 6u);
    cr_assert_eq(inf.bytes_in, bytes, "bytes_in %llu, delivered %llu", (unsigned long long)inf.bytes_in,
                 (unsigned long long)bytes);
    /* after a cut one, reception goes on with whole datagrams */
    fill(big, 99, 100);
    plain_sendto(fd, big, 100, "127.0.0.1", zenith_udp_port(s, c.id));
    RUN_UNTIL(s, c.n == 7, 5.0);
    cr_assert_eq(c.n, 7u);
    cr_assert_eq(c.g[6].len, 100u);
    cr_assert_eq(c.g[6].flags, 0u);
    cr_assert_lt(check(c.g[6].data, 99, 100), 0);
    free(big);
    close(fd);
    coll_free(&c);
    zenith_server_destroy(s);
}

Test(udp, default_capacity_and_zero_length_datagrams, .timeout = 30) {
    zenith_server *s = mkserver();
    coll c;
    zenith_udp_config u;
    zenith_udp_info inf;
    zenith_addr to;
    uint8_t buf[16];
    uint16_t from = 0;
    int fd = plain_udp("127.0.0.1", 0);
    coll_init(&c, s, 8);
    u = ucfg("127.0.0.1", 0, coll_recv, &c);
    c.id = open_ok(s, &u);
    inf = info_of_udp(s, c.id);
    cr_assert_eq(inf.recv_capacity, 4096u - ZENITH_UDP_RECV_HEADROOM, "3,920 bytes at 4096-byte buffers");
    /* in: an empty datagram is one on_recv of length 0 */
    plain_sendto(fd, "", 0, "127.0.0.1", zenith_udp_port(s, c.id));
    plain_sendto(fd, "z", 1, "127.0.0.1", zenith_udp_port(s, c.id));
    RUN_UNTIL(s, c.n == 2, 5.0);
    cr_assert_eq(c.n, 2u);
    cr_assert_eq(c.g[0].len, 0u);
    cr_assert_eq(c.g[0].orig_len, 0u);
    cr_assert_eq(c.g[0].flags, 0u);
    cr_assert_eq(c.g[1].len, 1u);
    cr_assert_eq(c.g[1].data[0], 'z');
    /* out: zenith_udp_send of 0 bytes sends an empty datagram */
    to = addr_of("127.0.0.1", fd_port(fd));
    cr_assert_eq(zenith_udp_send(s, c.id, NULL, 0, &to), 0, "an empty send needs no data");
    cr_assert_eq(zenith_udp_send(s, c.id, "y", 1, &to), 0);
    cr_assert_eq(plain_recv_wait(s, fd, buf, sizeof buf, &from, 5.0), 0, "an empty datagram");
    cr_assert_eq(from, zenith_udp_port(s, c.id));
    cr_assert_eq(plain_recv_wait(s, fd, buf, sizeof buf, &from, 5.0), 1);
    cr_assert_eq(buf[0], 'y');
    RUN_UNTIL(s, info_of_udp(s, c.id).datagrams_out == 2, 2.0);
    inf = info_of_udp(s, c.id);
    cr_assert_eq(inf.datagrams_in, 2u);
    cr_assert_eq(inf.bytes_in, 1u);
    cr_assert_eq(inf.datagrams_out, 2u);
    cr_assert_eq(inf.bytes_out, 1u);
    close(fd);
    coll_free(&c);
    zenith_server_destroy(s);
}

Test(udp, largest_datagrams_both_ways, .timeout = 30) {
    zenith_server *s = mkserver();
    coll c;
    zenith_udp_config u;
    zenith_addr to;
    uint8_t *big = malloc(65536), *in = malloc(65536);
    int fd = plain_udp("127.0.0.1", 0);
    cr_assert(big && in);
    coll_init(&c, s, 4);
    u = ucfg("127.0.0.1", 0, coll_recv, &c);
    c.id = open_ok(s, &u);
    to = addr_of("127.0.0.1", fd_port(fd));
    fill(big, 7, ZENITH_UDP_MAX_DATAGRAM);
    cr_assert_eq(zenith_udp_send(s, c.id, big, ZENITH_UDP_MAX_DATAGRAM, &to), 0, "the largest datagram");
    cr_assert_eq(plain_recv_wait(s, fd, in, 65536, NULL, 5.0), (ssize_t)ZENITH_UDP_MAX_DATAGRAM);
    cr_assert_lt(check(in, 7, ZENITH_UDP_MAX_DATAGRAM), 0, "65,507 bytes out of 16 buffers, in order");
    cr_assert_eq(zenith_udp_send(s, c.id, big, ZENITH_UDP_MAX_DATAGRAM + 1u, &to), ZENITH_E_RANGE);
    close(fd);
    coll_free(&c);
    free(big);
    free(in);
    zenith_server_destroy(s);
}

/* sends of up to 16 buffers: at 1024-byte buffers 16,384 bytes go, 16,385 are refused */
Test(udp, send_limit_is_sixteen_buffers, .timeout = 30) {
    zenith_server_config sc = udp_cfg();
    zenith_server *s;
    zenith_udp_config u;
    zenith_udp_id id;
    zenith_addr to;
    uint8_t *big = malloc(20000), *in = malloc(20000);
    int fd = plain_udp("127.0.0.1", 0);
    cr_assert(big && in);
    sc.buffer_size = 1024;
    s = mkserver_cfg(&sc);
    u = ucfg("127.0.0.1", 0, NULL, NULL); /* send-only */
    id = open_ok(s, &u);
    to = addr_of("127.0.0.1", fd_port(fd));
    fill(big, 3, 16384);
    cr_assert_eq(zenith_udp_send(s, id, big, 16385, &to), ZENITH_E_RANGE, "over 16 buffers");
    cr_assert_eq(info_of_udp(s, id).queued, 0u, "a refused send queues nothing");
    cr_assert_eq(zenith_udp_send(s, id, big, 16384, &to), 0);
    cr_assert_eq(plain_recv_wait(s, fd, in, 20000, NULL, 5.0), 16384);
    cr_assert_lt(check(in, 3, 16384), 0);
    cr_assert_eq(plain_recv(fd, in, 20000, NULL), -1, "the refused send never left");
    close(fd);
    free(big);
    free(in);
    zenith_server_destroy(s);
}

/* ---- 3. IPv6, dual stack ---------------------------------------------------------------------- */

Test(udp, ipv6_source_address_and_v6only, .timeout = 30) {
    zenith_server *s = mkserver();
    coll c6, cany;
    zenith_udp_config u;
    zenith_udp_info inf;
    char buf[64], want[64];
    int fd6 = plain_udp("::1", 0), fd4 = plain_udp("127.0.0.1", 0);
    uint16_t p6, pany;
    coll_init(&c6, s, 8);
    coll_init(&cany, s, 8);
    u = ucfg("::", ZENITH_UDP_V6ONLY, coll_recv, &c6);
    c6.id = open_ok(s, &u);
    u = ucfg("::", 0, coll_recv, &cany);
    cany.id = open_ok(s, &u);
    p6 = zenith_udp_port(s, c6.id);
    pany = zenith_udp_port(s, cany.id);
    inf = info_of_udp(s, c6.id);
    cr_assert(inf.features & ZENITH_UDP_F_IPV6);
    cr_assert_eq(inf.local.len, sizeof(struct sockaddr_in6));
    /* V6ONLY: the IPv4 datagram goes nowhere, the IPv6 one arrives */
    plain_sendto(fd4, "four", 4, "127.0.0.1", p6);
    plain_sendto(fd6, "six", 3, "::1", p6);
    /* dual stack: both arrive, the IPv4 sender as a mapped address */
    plain_sendto(fd4, "four", 4, "127.0.0.1", pany);
    plain_sendto(fd6, "six", 3, "::1", pany);
    RUN_UNTIL(s, c6.n >= 1 && cany.n >= 2, 5.0);
    spin(s, 50);
    cr_assert_eq(c6.n, 1u, "the V6ONLY socket got %u datagrams", c6.n);
    cr_assert_eq(c6.g[0].len, 3u);
    cr_assert_eq(memcmp(c6.g[0].data, "six", 3), 0);
    cr_assert_eq(c6.g[0].from.len, sizeof(struct sockaddr_in6));
    cr_assert_eq(zenith_addr_port(&c6.g[0].from), fd_port(fd6));
    cr_assert_eq(zenith_addr_format(&c6.g[0].from, buf, sizeof buf), (int)strlen(buf));
    snprintf(want, sizeof want, "[::1]:%u", fd_port(fd6));
    cr_assert_str_eq(buf, want);
    cr_assert_eq(cany.n, 2u);
    {
        int i, saw4 = 0, saw6 = 0;
        for (i = 0; i < 2; i++) {
            if (cany.g[i].len == 4) {
                saw4 = 1;
                cr_assert_eq(zenith_addr_port(&cany.g[i].from), fd_port(fd4));
                cr_assert_eq(zenith_addr_format(&cany.g[i].from, buf, sizeof buf), (int)strlen(buf));
                snprintf(want, sizeof want, "[::ffff:127.0.0.1]:%u", fd_port(fd4));
                cr_assert_str_eq(buf, want, "an IPv4 sender on a dual-stack socket: %s", buf);
            } else {
                saw6 = 1;
                cr_assert_eq(zenith_addr_port(&cany.g[i].from), fd_port(fd6));
            }
        }
        cr_assert(saw4 && saw6);
    }
    /* replies to the IPv6 source and (dual stack) to the mapped IPv4 one */
    {
        zenith_addr to6 = addr_of("::1", fd_port(fd6)), to4 = addr_of("127.0.0.1", fd_port(fd4));
        uint8_t in[16];
        uint16_t from = 0;
        cr_assert_eq(zenith_udp_send(s, c6.id, "r6", 2, &to6), 0);
        cr_assert_eq(zenith_udp_send(s, c6.id, "r4", 2, &to4), ZENITH_E_INVAL, "an IPv4 to on an IPv6 socket");
        cr_assert_eq(plain_recv_wait(s, fd6, in, sizeof in, &from, 5.0), 2);
        cr_assert_eq(from, p6);
        cr_assert_eq(memcmp(in, "r6", 2), 0);
        /* the datagram's own from (mapped) is a valid destination on the dual-stack socket */
        {
            int i;
            for (i = 0; i < 2; i++)
                if (cany.g[i].len == 4) cr_assert_eq(zenith_udp_send(s, cany.id, "m4", 2, &cany.g[i].from), 0);
        }
        cr_assert_eq(plain_recv_wait(s, fd4, in, sizeof in, &from, 5.0), 2);
        cr_assert_eq(from, pany);
        cr_assert_eq(memcmp(in, "m4", 2), 0);
    }
    close(fd4);
    close(fd6);
    coll_free(&c6);
    coll_free(&cany);
    zenith_server_destroy(s);
}

/* ---- 4. connected and unconnected sockets ------------------------------------------------------ */

Test(udp, connected_socket, .timeout = 30) {
    zenith_server *s = mkserver();
    coll c;
    zenith_udp_config u;
    zenith_udp_info inf;
    zenith_addr to;
    uint8_t in[64];
    uint16_t from = 0, port;
    int peer = plain_udp("127.0.0.1", 0), other = plain_udp("127.0.0.1", 0);
    coll_init(&c, s, 16);
    u = ucfg("127.0.0.1", 0, coll_recv, &c);
    u.peer_address = "127.0.0.1";
    u.peer_port = fd_port(peer);
    c.id = open_ok(s, &u);
    port = zenith_udp_port(s, c.id);
    inf = info_of_udp(s, c.id);
    cr_assert(inf.features & ZENITH_UDP_F_CONNECTED, "features %#x", inf.features);
    cr_assert_eq(inf.peer.len, sizeof(struct sockaddr_in));
    cr_assert_eq(zenith_addr_port(&inf.peer), fd_port(peer));
    cr_assert_eq(zenith_addr_port(&inf.local), port);
    /* to NULL: the peer */
    cr_assert_eq(zenith_udp_send(s, c.id, "hello", 5, NULL), 0);
    cr_assert_eq(plain_recv_wait(s, peer, in, sizeof in, &from, 5.0), 5);
    cr_assert_eq(from, port);
    cr_assert_eq(memcmp(in, "hello", 5), 0);
    /* to given on a connected socket: refused, whatever it is (the peer itself too) */
    to = addr_of("127.0.0.1", fd_port(peer));
    cr_assert_eq(zenith_udp_send(s, c.id, "x", 1, &to), ZENITH_E_INVAL);
    to = addr_of("127.0.0.1", fd_port(other));
    cr_assert_eq(zenith_udp_send(s, c.id, "x", 1, &to), ZENITH_E_INVAL);
    cr_assert_eq(info_of_udp(s, c.id).queued, 0u);
    /* only the peer's datagrams are received: the other's is not, the peer's after it is */
    plain_sendto(other, "not me", 6, "127.0.0.1", port);
    plain_sendto(peer, "from peer", 9, "127.0.0.1", port);
    RUN_UNTIL(s, c.n == 1, 5.0);
    spin(s, 50);
    cr_assert_eq(c.n, 1u, "a connected socket received %u datagrams (one from another source)", c.n);
    cr_assert_eq(c.g[0].len, 9u);
    cr_assert_eq(memcmp(c.g[0].data, "from peer", 9), 0);
    cr_assert_eq(zenith_addr_port(&c.g[0].from), fd_port(peer));
    cr_assert_eq(plain_recv(peer, in, sizeof in, NULL), -1);
    cr_assert_eq(plain_recv(other, in, sizeof in, NULL), -1, "the refused sends never left");
    RUN_UNTIL(s, info_of_udp(s, c.id).datagrams_out == 1, 2.0);
    inf = info_of_udp(s, c.id);
    cr_assert_eq(inf.datagrams_out, 1u);
    cr_assert_eq(inf.datagrams_in, 1u);
    close(peer);
    close(other);
    coll_free(&c);
    zenith_server_destroy(s);
}

/* ICMP port unreachable on a connected socket: counted as a receive error, and receiving goes on */
Test(udp, connected_socket_refused_then_receives_again, .timeout = 30) {
    zenith_server *s = mkserver();
    coll c;
    zenith_udp_config u;
    zenith_udp_info inf;
    uint16_t gone;
    int fd = plain_udp("127.0.0.1", 0);
    gone = fd_port(fd);
    close(fd); /* nothing listens on `gone` now */
    coll_init(&c, s, 8);
    u = ucfg("127.0.0.1", 0, coll_recv, &c);
    u.peer_address = "127.0.0.1";
    u.peer_port = gone;
    c.id = open_ok(s, &u);
    cr_assert_eq(zenith_udp_send(s, c.id, "ping", 4, NULL), 0);
    RUN_UNTIL(s, info_of_udp(s, c.id).recv_errors >= 1, 5.0);
    inf = info_of_udp(s, c.id);
    cr_assert_geq(inf.recv_errors, 1u, "the ICMP error on a connected socket is counted");
    cr_assert_eq(inf.last_error, ZENITH_ESYS(ECONNREFUSED), "last_error %d %s", inf.last_error,
                 zenith_errname(inf.last_error));
    cr_assert_eq(c.n, 0u);
    /* the port comes back: the socket still receives */
    fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    {
        struct sockaddr_in a;
        memset(&a, 0, sizeof a);
        a.sin_family = AF_INET;
        a.sin_port = htons(gone);
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        if (bind(fd, (struct sockaddr *)&a, sizeof a) != 0) {
            cr_log_info("port %u was taken meanwhile: the receive-after-error part is skipped", gone);
        } else {
            plain_sendto(fd, "back", 4, "127.0.0.1", zenith_udp_port(s, c.id));
            RUN_UNTIL(s, c.n == 1, 5.0);
            cr_assert_eq(c.n, 1u, "after a receive error the socket receives again");
            cr_assert_eq(memcmp(c.g[0].data, "back", 4), 0);
        }
    }
    close(fd);
    coll_free(&c);
    zenith_server_destroy(s);
}

Test(udp, unconnected_send_needs_a_destination, .timeout = 30) {
    zenith_server *s = mkserver();
    zenith_udp_config u = ucfg(NULL, 0, NULL, NULL); /* NULL address: 0.0.0.0 */
    zenith_udp_id id = open_ok(s, &u);
    zenith_udp_info inf = info_of_udp(s, id);
    cr_assert_eq(inf.local.len, sizeof(struct sockaddr_in));
    cr_assert_eq(((const struct sockaddr_in *)(const void *)inf.local.sa)->sin_addr.s_addr, htonl(INADDR_ANY));
    cr_assert_eq(zenith_udp_send(s, id, "x", 1, NULL), ZENITH_E_INVAL);
    cr_assert_eq(zenith_udp_send_gso(s, id, "xx", 2, 1, NULL), ZENITH_E_INVAL);
    {
        zenith_pool *pool = zenith_server_pool(s);
        uint64_t before = stats_of(pool).in_use;
        void *b = zenith_pool_acquire(pool);
        cr_assert_not_null(b);
        cr_assert_eq(zenith_udp_send_buffer(s, id, b, 1, NULL), ZENITH_E_INVAL);
        cr_assert_eq(stats_of(pool).in_use, before, "the buffer of a refused send_buffer is released");
    }
    inf = info_of_udp(s, id);
    cr_assert_eq(inf.queued, 0u);
    cr_assert_eq(inf.features & ZENITH_UDP_F_CONNECTED, 0u);
    zenith_server_destroy(s);
}

/* ---- 5. every bad input: its code, and nothing changed ----------------------------------------- */

Test(udp, server_config_udp_limits, .timeout = 30) {
    zenith_server_config c = udp_cfg();
    zenith_server *s;
    int err = 0;
    c.max_udp = 1025;
    s = zenith_server_create(&c, &err);
    cr_assert_null(s, "max_udp 1025 accepted");
    cr_assert_eq(err, ZENITH_E_INVAL, "max_udp 1025: %s", zenith_errname(err));
    c = udp_cfg();
    c.udp_queue = 3;
    err = 0;
    s = zenith_server_create(&c, &err);
    cr_assert_null(s, "udp_queue 3 (not a power of two) accepted");
    cr_assert_eq(err, ZENITH_E_INVAL);
    c = udp_cfg();
    c.udp_queue = 8192;
    err = 0;
    s = zenith_server_create(&c, &err);
    cr_assert_null(s, "udp_queue 8192 accepted");
    cr_assert_eq(err, ZENITH_E_INVAL);
    c = udp_cfg();
    c.max_udp = 1024;
    c.udp_queue = 4096;
    s = mkserver_cfg(&c);
    zenith_server_destroy(s);
}

Test(udp, open_bad_input, .timeout = 30) {
    zenith_server *s = mkserver();
    zenith_udp_config u;
    zenith_udp_id id;
    int fds = count_fds(), rc;
    struct {
        const char *what;
        zenith_udp_config cfg;
        int want;
    } bad[16];
    unsigned i, n = 0;
    coll dummy;
    coll_init(&dummy, s, 1);
#define BAD(w, code, ...)                                     \
    do {                                                      \
        bad[n].what = w;                                      \
        bad[n].cfg = ucfg("127.0.0.1", 0, coll_recv, &dummy); \
        __VA_ARGS__;                                          \
        bad[n].want = code;                                   \
        n++;                                                  \
    } while (0)
    BAD("struct_size 4", ZENITH_E_INVAL, bad[n].cfg.struct_size = 4);
    BAD("struct_size 4097", ZENITH_E_INVAL, bad[n].cfg.struct_size = 4097);
    BAD("reserved_", ZENITH_E_INVAL, bad[n].cfg.reserved_ = 1);
    BAD("unknown flag", ZENITH_E_INVAL, bad[n].cfg.flags = 1u << 20);
    BAD("address not a literal", ZENITH_E_INVAL, bad[n].cfg.address = "localhost");
    BAD("address 1.2.3", ZENITH_E_INVAL, bad[n].cfg.address = "1.2.3");
    BAD("address 256.0.0.1", ZENITH_E_INVAL, bad[n].cfg.address = "256.0.0.1");
    BAD("address empty", ZENITH_E_INVAL, bad[n].cfg.address = "");
    BAD("peer not a literal", ZENITH_E_INVAL, bad[n].cfg.peer_address = "peer.example"; bad[n].cfg.peer_port = 9);
    BAD("GRO at 4096-byte buffers", ZENITH_E_INVAL, bad[n].cfg.flags = ZENITH_UDP_GRO);
    BAD("an address not of this host", ZENITH_ESYS(EADDRNOTAVAIL), bad[n].cfg.address = "192.0.2.123");
#undef BAD
    for (i = 0; i < n; i++) {
        id = 0xdeadbeefu;
        rc = zenith_udp_open(s, &bad[i].cfg, &id);
        cr_assert_eq(rc, bad[i].want, "%s: %d %s, documented %s", bad[i].what, rc, zenith_errname(rc),
                     zenith_errname(bad[i].want));
        cr_assert_eq(id, 0u, "%s: the id is 0 on error", bad[i].what);
        cr_assert_eq(count_fds(), fds, "%s: a descriptor left open", bad[i].what);
    }
    /* NULL arguments */
    u = ucfg("127.0.0.1", 0, coll_recv, &dummy);
    id = 77;
    cr_assert_eq(zenith_udp_open(NULL, &u, &id), ZENITH_E_NULL);
    cr_assert_eq(zenith_udp_open(s, NULL, &id), ZENITH_E_NULL);
    cr_assert_eq(id, 0u);
    cr_assert_eq(zenith_udp_open(s, &u, NULL), ZENITH_E_NULL);
    cr_assert_eq(count_fds(), fds);
    /* extensible config: a newer caller's bigger struct is taken if the fields unknown here are
       zero, else ZENITH_E_UNSUPPORTED */
    {
        struct {
            zenith_udp_config c;
            uint64_t newer;
        } big;
        memset(&big, 0, sizeof big);
        big.c = ucfg("127.0.0.1", 0, coll_recv, &dummy);
        big.c.struct_size = (uint32_t)sizeof big;
        big.newer = 1;
        id = 77;
        rc = zenith_udp_open(s, &big.c, &id);
        cr_assert_eq(rc, ZENITH_E_UNSUPPORTED, "a field this library does not know, set: %d %s", rc,
                     zenith_errname(rc));
        cr_assert_eq(id, 0u);
        cr_assert_eq(count_fds(), fds);
        big.newer = 0;
        id = open_ok(s, &big.c);
        cr_assert_eq(zenith_udp_close(s, id), 0);
        spin(s, 10);
        cr_assert_eq(count_fds(), fds);
    }
    /* a port in use (no REUSE flags) */
    {
        int fd = plain_udp("127.0.0.1", 0);
        u.port = fd_port(fd);
        id = 77;
        rc = zenith_udp_open(s, &u, &id);
        cr_assert_eq(rc, ZENITH_ESYS(EADDRINUSE), "a port in use: %d %s", rc, zenith_errname(rc));
        cr_assert_eq(id, 0u);
        cr_assert_eq(count_fds(), fds + 1);
        close(fd);
    }
    /* struct_size 0 and sizeof are this layout; after all of the above, max_udp sockets still open */
    {
        zenith_udp_id ids[16];
        u = ucfg("127.0.0.1", 0, coll_recv, &dummy);
        for (i = 0; i < 16; i++) {
            u.struct_size = i % 2 ? (uint32_t)sizeof u : 0u;
            ids[i] = open_ok(s, &u);
        }
        id = 77;
        cr_assert_eq(zenith_udp_open(s, &u, &id), ZENITH_E_FULL, "the 17th socket (max_udp 0 = 16)");
        cr_assert_eq(id, 0u);
        for (i = 0; i < 16; i++) cr_assert_eq(zenith_udp_close(s, ids[i]), 0);
    }
    coll_free(&dummy);
    zenith_server_destroy(s);
}

Test(udp, max_udp_full_and_slot_reuse_with_stale_ids, .timeout = 30) {
    zenith_server_config sc = udp_cfg();
    zenith_server *s;
    zenith_udp_config u;
    zenith_udp_id ids[4], id, again;
    int i, rc;
    sc.max_udp = 4;
    s = mkserver_cfg(&sc);
    u = ucfg("127.0.0.1", 0, NULL, NULL);
    for (i = 0; i < 4; i++) ids[i] = open_ok(s, &u);
    id = 5;
    rc = zenith_udp_open(s, &u, &id);
    cr_assert_eq(rc, ZENITH_E_FULL, "a fifth socket at max_udp 4: %d %s", rc, zenith_errname(rc));
    cr_assert_eq(id, 0u);
    cr_assert_eq(zenith_udp_close(s, ids[2]), 0);
    RUN_UNTIL(s, (rc = zenith_udp_open(s, &u, &again)) == 0, 2.0);
    cr_assert_eq(rc, 0, "a slot freed by close is reused: %s", zenith_errname(rc));
    cr_assert_neq(again, ids[2], "a reused slot has a new id");
    /* the closed id stays stale, for every call */
    {
        zenith_udp_info inf;
        zenith_addr to = addr_of("127.0.0.1", 9);
        memset(&inf, 0, sizeof inf);
        cr_assert_eq(zenith_udp_close(s, ids[2]), ZENITH_E_STALE);
        cr_assert_eq(zenith_udp_send(s, ids[2], "x", 1, &to), ZENITH_E_STALE);
        cr_assert_eq(zenith_udp_send_gso(s, ids[2], "xx", 2, 1, &to), ZENITH_E_STALE);
        cr_assert_eq(zenith_udp_get_info(s, ids[2], &inf), ZENITH_E_STALE);
        cr_assert_eq(zenith_udp_port(s, ids[2]), 0);
        cr_assert_eq(zenith_udp_set_user(s, ids[2], &inf), ZENITH_E_STALE);
        cr_assert_null(zenith_udp_get_user(s, ids[2]));
        cr_assert_eq(zenith_udp_join(s, ids[2], "239.1.1.1", NULL, "lo"), ZENITH_E_STALE);
        cr_assert_eq(zenith_udp_leave(s, ids[2], "239.1.1.1", NULL, "lo"), ZENITH_E_STALE);
        cr_assert_eq(zenith_udp_multicast_send_opts(s, ids[2], NULL, 1, 1), ZENITH_E_STALE);
        /* ids that never were */
        cr_assert_eq(zenith_udp_close(s, 0), ZENITH_E_STALE);
        cr_assert_eq(zenith_udp_close(s, ((uint64_t)99 << 32) | 1u), ZENITH_E_STALE);
        cr_assert_eq(zenith_udp_close(s, 4000), ZENITH_E_STALE);
        cr_assert_eq(zenith_udp_port(s, 0), 0);
        cr_assert_null(zenith_udp_get_user(s, 0));
        cr_assert_eq(zenith_udp_send(s, 0, "x", 1, &to), ZENITH_E_STALE);
    }
    id = 5;
    cr_assert_eq(zenith_udp_open(s, &u, &id), ZENITH_E_FULL);
    for (i = 0; i < 4; i++)
        if (i != 2) cr_assert_eq(zenith_udp_close(s, ids[i]), 0);
    cr_assert_eq(zenith_udp_close(s, again), 0);
    zenith_server_destroy(s);
}

static void count_writable(void *user, zenith_udp_id sock) {
    (void)sock;
    (*(int *)user)++;
}

Test(udp, send_bad_input, .timeout = 30) {
    zenith_server *s = mkserver();
    zenith_udp_config u = ucfg("127.0.0.1", 0, NULL, NULL);
    zenith_udp_id id = open_ok(s, &u);
    zenith_addr to = addr_of("127.0.0.1", 9), bad;
    zenith_udp_info inf;
    int fd = plain_udp("127.0.0.1", 0);
    uint8_t big[65600], in[64];
    memset(big, 'b', sizeof big);
    to = addr_of("127.0.0.1", fd_port(fd));
    cr_assert_eq(zenith_udp_send(NULL, id, "x", 1, &to), ZENITH_E_NULL);
    cr_assert_eq(zenith_udp_send(s, id, NULL, 1, &to), ZENITH_E_NULL);
    cr_assert_eq(zenith_udp_send(s, id, big, ZENITH_UDP_MAX_DATAGRAM + 1u, &to), ZENITH_E_RANGE);
    cr_assert_eq(zenith_udp_send(s, id, big, sizeof big, &to), ZENITH_E_RANGE);
    cr_assert_eq(zenith_udp_send(s, id, big, (size_t)1 << 33, &to), ZENITH_E_RANGE);
    memset(&bad, 0, sizeof bad); /* no address */
    cr_assert_eq(zenith_udp_send(s, id, "x", 1, &bad), ZENITH_E_INVAL);
    bad = to;
    bad.len = 3;
    cr_assert_eq(zenith_udp_send(s, id, "x", 1, &bad), ZENITH_E_INVAL, "an address of length 3");
    bad = to;
    ((struct sockaddr_in *)(void *)bad.sa)->sin_family = AF_UNIX;
    cr_assert_eq(zenith_udp_send(s, id, "x", 1, &bad), ZENITH_E_INVAL, "family AF_UNIX");
    bad = addr_of("::1", fd_port(fd));
    cr_assert_eq(zenith_udp_send(s, id, "x", 1, &bad), ZENITH_E_INVAL, "an IPv6 to on an IPv4 socket");
    /* gso */
    cr_assert_eq(zenith_udp_send_gso(NULL, id, "xx", 2, 1, &to), ZENITH_E_NULL);
    cr_assert_eq(zenith_udp_send_gso(s, id, NULL, 2, 1, &to), ZENITH_E_NULL);
    cr_assert_eq(zenith_udp_send_gso(s, id, "xx", 2, 0, &to), ZENITH_E_INVAL, "seg_size 0");
    cr_assert_eq(zenith_udp_send_gso(s, id, big, 65 * 100, 100, &to), ZENITH_E_RANGE, "65 segments");
    cr_assert_eq(zenith_udp_send_gso(s, id, big, 64 * 1100, 1100, &to), ZENITH_E_RANGE, "over 65,507 bytes");
    cr_assert_eq(zenith_udp_send_gso(s, id, "xx", 2, 1, &bad), ZENITH_E_INVAL);
    /* keep outside on_recv */
    cr_assert_null(zenith_udp_keep(s, NULL));
    {
        const uint8_t *p = (const uint8_t *)&p;
        cr_assert_null(zenith_udp_keep(s, &p));
    }
    cr_assert_null(zenith_udp_keep(NULL, NULL));
    /* info, port, user */
    cr_assert_eq(zenith_udp_get_info(NULL, id, &inf), ZENITH_E_NULL);
    cr_assert_eq(zenith_udp_get_info(s, id, NULL), ZENITH_E_NULL);
    memset(&inf, 0, sizeof inf);
    inf.struct_size = 8;
    cr_assert_eq(zenith_udp_get_info(s, id, &inf), ZENITH_E_INVAL, "a smaller struct_size");
    inf.struct_size = 0;
    cr_assert_eq(zenith_udp_get_info(s, id, &inf), 0, "struct_size 0: this layout");
    cr_assert_eq(zenith_udp_port(NULL, id), 0);
    cr_assert_eq(zenith_udp_set_user(NULL, id, &inf), ZENITH_E_NULL);
    cr_assert_null(zenith_udp_get_user(NULL, id));
    cr_assert_eq(zenith_udp_close(NULL, id), ZENITH_E_NULL);
    cr_assert_eq(zenith_udp_join(NULL, id, "239.1.1.1", NULL, "lo"), ZENITH_E_NULL);
    cr_assert_eq(zenith_udp_leave(NULL, id, "239.1.1.1", NULL, "lo"), ZENITH_E_NULL);
    cr_assert_eq(zenith_udp_multicast_send_opts(NULL, id, NULL, 1, 1), ZENITH_E_NULL);
    /* nothing of the above was queued, counted as sent, or left */
    inf = info_of_udp(s, id);
    cr_assert_eq(inf.queued, 0u);
    cr_assert_eq(inf.send_full, 0u);
    spin(s, 50);
    inf = info_of_udp(s, id);
    cr_assert_eq(inf.datagrams_out, 0u);
    cr_assert_eq(inf.send_errors, 0u);
    cr_assert_eq(plain_recv(fd, in, sizeof in, NULL), -1, "a refused send left");
    /* and the socket works */
    cr_assert_eq(zenith_udp_send(s, id, "ok", 2, &to), 0);
    cr_assert_eq(plain_recv_wait(s, fd, in, sizeof in, NULL, 5.0), 2);
    close(fd);
    zenith_server_destroy(s);
}

Test(udp, send_buffer_codes_and_ownership, .timeout = 30) {
    zenith_server *s = mkserver();
    zenith_pool *pool = zenith_server_pool(s);
    zenith_pool *other = mkpool(4096, 4, 0, 0);
    zenith_udp_config u = ucfg("127.0.0.1", 0, NULL, NULL);
    zenith_udp_id id = open_ok(s, &u), gone;
    zenith_addr to, bad;
    uint64_t base;
    uint8_t local[64], *b, in[8192];
    uint16_t from = 0;
    int fd = plain_udp("127.0.0.1", 0);
    struct {
        const char *what;
        size_t off, len;
        int dest; /* 0 to, 1 NULL, 2 bad, 3 stale id */
        int want;
    } cases[] = {
        { "past the buffer's end", 0, 4097, 0, ZENITH_E_RANGE },
        { "from inside, past the end", 100, 3997, 0, ZENITH_E_RANGE },
        { "over the largest datagram", 0, ZENITH_UDP_MAX_DATAGRAM + 1u, 0, ZENITH_E_RANGE },
        { "to NULL on an unconnected socket", 0, 10, 1, ZENITH_E_INVAL },
        { "an IPv6 to on an IPv4 socket", 0, 10, 2, ZENITH_E_INVAL },
        { "a closed socket", 0, 10, 3, ZENITH_E_STALE },
    };
    unsigned i;
    to = addr_of("127.0.0.1", fd_port(fd));
    bad = addr_of("::1", 9);
    gone = open_ok(s, &u);
    cr_assert_eq(zenith_udp_close(s, gone), 0);
    spin(s, 20);
    base = stats_of(pool).in_use;
    /* NULL, and not pool memory: nothing to release */
    cr_assert_eq(zenith_udp_send_buffer(NULL, id, local, 10, &to), ZENITH_E_NULL);
    cr_assert_eq(zenith_udp_send_buffer(s, id, NULL, 10, &to), ZENITH_E_NULL);
    cr_assert_eq(zenith_udp_send_buffer(s, id, local, 10, &to), ZENITH_E_FOREIGN, "stack memory");
    b = zenith_pool_acquire(other);
    cr_assert_not_null(b);
    cr_assert_eq(zenith_udp_send_buffer(s, id, b, 10, &to), ZENITH_E_FOREIGN, "a buffer of another pool");
    cr_assert_eq(stats_of(other).in_use, 1u, "another pool's buffer is not released by a refused send");
    cr_assert_eq(zenith_pool_release(other, b), 0);
    cr_assert_eq(stats_of(pool).in_use, base);
    /* pool buffers: every error return releases the buffer */
    for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int rc;
        b = zenith_pool_acquire(pool);
        cr_assert_not_null(b);
        cr_assert_eq(stats_of(pool).in_use, base + 1);
        rc = zenith_udp_send_buffer(s, cases[i].dest == 3 ? gone : id, b + cases[i].off, cases[i].len,
                                    cases[i].dest == 0   ? &to
                                    : cases[i].dest == 1 ? NULL
                                    : cases[i].dest == 2 ? &bad
                                                         : &to);
        cr_assert_eq(rc, cases[i].want, "%s: %d %s, documented %s", cases[i].what, rc, zenith_errname(rc),
                     zenith_errname(cases[i].want));
        cr_assert_eq(stats_of(pool).in_use, base, "%s: the buffer is released on the error return", cases[i].what);
    }
    cr_assert_eq(info_of_udp(s, id).queued, 0u);
    spin(s, 20);
    cr_assert_eq(plain_recv(fd, in, sizeof in, NULL), -1, "a refused send_buffer left");
    /* from inside a buffer to its very end: sent, then released */
    b = zenith_pool_acquire(pool);
    cr_assert_not_null(b);
    fill(b + 100, 42, 3996);
    cr_assert_eq(zenith_udp_send_buffer(s, id, b + 100, 3996, &to), 0);
    cr_assert_eq(info_of_udp(s, id).queued, 1u);
    cr_assert_eq(plain_recv_wait(s, fd, in, sizeof in, &from, 5.0), 3996);
    cr_assert_eq(from, zenith_udp_port(s, id));
    cr_assert_lt(check(in, 42, 3996), 0);
    RUN_UNTIL(s, stats_of(pool).in_use == base, 2.0);
    cr_assert_eq(stats_of(pool).in_use, base, "the sent buffer goes back to the pool");
    /* a whole buffer */
    b = zenith_pool_acquire(pool);
    cr_assert_not_null(b);
    fill(b, 43, 4096);
    cr_assert_eq(zenith_udp_send_buffer(s, id, b, 4096, &to), 0);
    cr_assert_eq(plain_recv_wait(s, fd, in, sizeof in, NULL, 5.0), 4096);
    cr_assert_lt(check(in, 43, 4096), 0);
    RUN_UNTIL(s, stats_of(pool).in_use == base, 2.0);
    cr_assert_eq(stats_of(pool).in_use, base);
    close(fd);
    zenith_pool_destroy(other);
    zenith_server_destroy(s);
}

Test(udp, open_refused_once_stopped, .timeout = 30) {
    zenith_server *s = mkserver();
    zenith_udp_config u = ucfg("127.0.0.1", 0, NULL, NULL);
    zenith_udp_id id = 9;
    int fds = count_fds(), rc;
    zenith_server_stop(s);
    rc = zenith_udp_open(s, &u, &id);
    cr_assert_eq(rc, ZENITH_E_STATE, "open on a stopped reactor: %d %s", rc, zenith_errname(rc));
    cr_assert_eq(id, 0u);
    cr_assert_eq(count_fds(), fds);
    zenith_server_destroy(s);
}

/* ---- 6. zenith_addr ------------------------------------------------------------------------------ */

Test(udp, addr_set_format_port, .timeout = 30) {
    zenith_addr a;
    char buf[64];
    int n;
    /* IPv4 */
    cr_assert_eq(zenith_addr_set(&a, "10.0.0.1", 80), 0);
    cr_assert_eq(a.len, sizeof(struct sockaddr_in));
    cr_assert_eq(((const struct sockaddr_in *)(const void *)a.sa)->sin_family, AF_INET);
    cr_assert_eq(ntohs(((const struct sockaddr_in *)(const void *)a.sa)->sin_port), 80);
    cr_assert_eq(zenith_addr_port(&a), 80);
    n = zenith_addr_format(&a, buf, sizeof buf);
    cr_assert_eq(n, 11);
    cr_assert_str_eq(buf, "10.0.0.1:80");
    /* the exact room: length + NUL; one less is RANGE and nothing written */
    memset(buf, 'Z', sizeof buf);
    cr_assert_eq(zenith_addr_format(&a, buf, 12), 11);
    cr_assert_str_eq(buf, "10.0.0.1:80");
    memset(buf, 'Z', sizeof buf);
    cr_assert_eq(zenith_addr_format(&a, buf, 11), ZENITH_E_RANGE);
    cr_assert_eq(buf[0], 'Z', "nothing written when cap is too small");
    cr_assert_eq(buf[10], 'Z');
    cr_assert_eq(zenith_addr_format(&a, buf, 0), ZENITH_E_RANGE);
    cr_assert_eq(zenith_addr_format(&a, buf, 1), ZENITH_E_RANGE);
    cr_assert_eq(buf[0], 'Z');
    /* IPv6 */
    cr_assert_eq(zenith_addr_set(&a, "::1", 443), 0);
    cr_assert_eq(a.len, sizeof(struct sockaddr_in6));
    cr_assert_eq(((const struct sockaddr_in6 *)(const void *)a.sa)->sin6_family, AF_INET6);
    cr_assert_eq(zenith_addr_port(&a), 443);
    cr_assert_eq(zenith_addr_format(&a, buf, sizeof buf), 9);
    cr_assert_str_eq(buf, "[::1]:443");
    /* the longest: 56 bytes always suffice */
    cr_assert_eq(zenith_addr_set(&a, "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", 65535), 0);
    n = zenith_addr_format(&a, buf, 56);
    cr_assert_eq(n, 47, "%d: %s", n, buf);
    cr_assert_str_eq(buf, "[ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff]:65535");
    cr_assert_eq(zenith_addr_format(&a, buf, 47), ZENITH_E_RANGE);
    cr_assert_eq(zenith_addr_set(&a, "255.255.255.255", 65535), 0);
    cr_assert_eq(zenith_addr_format(&a, buf, sizeof buf), 21);
    cr_assert_str_eq(buf, "255.255.255.255:65535");
    cr_assert_eq(zenith_addr_set(&a, "::ffff:192.0.2.1", 0), 0);
    cr_assert_eq(a.len, sizeof(struct sockaddr_in6), "a mapped address is IPv6");
    cr_assert_eq(zenith_addr_port(&a), 0);
    cr_assert_eq(zenith_addr_format(&a, buf, sizeof buf), (int)strlen("[::ffff:192.0.2.1]:0"));
    cr_assert_str_eq(buf, "[::ffff:192.0.2.1]:0");
    cr_assert_eq(zenith_addr_set(&a, "0.0.0.0", 1), 0);
    cr_assert_eq(zenith_addr_port(&a), 1);
    /* refused: *out cleared */
    {
        const char *no[] = { "",      "1.2.3",      "1.2.3.4.5", "256.1.1.1", "localhost", "::1%lo", "fe80::1%eth0",
                             "[::1]", "1.2.3.4:80", " 1.2.3.4",  "::g",       "1.2.3.4 " };
        unsigned i;
        for (i = 0; i < sizeof no / sizeof no[0]; i++) {
            memset(&a, 0xa5, sizeof a);
            cr_assert_eq(zenith_addr_set(&a, no[i], 80), ZENITH_E_INVAL, "\"%s\" accepted", no[i]);
            cr_assert_eq(a.len, 0u, "\"%s\": *out is cleared", no[i]);
            cr_assert_eq(zenith_addr_port(&a), 0);
            cr_assert_eq(zenith_addr_format(&a, buf, sizeof buf), ZENITH_E_INVAL, "formatting no address");
        }
    }
    cr_assert_eq(zenith_addr_set(NULL, "1.2.3.4", 1), ZENITH_E_NULL);
    cr_assert_eq(zenith_addr_set(&a, NULL, 1), ZENITH_E_NULL);
    /* format: NULLs, not an address */
    cr_assert_eq(zenith_addr_set(&a, "1.2.3.4", 5), 0);
    cr_assert_eq(zenith_addr_format(NULL, buf, sizeof buf), ZENITH_E_NULL);
    cr_assert_eq(zenith_addr_format(&a, NULL, 64), ZENITH_E_NULL);
    a.len = 3;
    cr_assert_eq(zenith_addr_format(&a, buf, sizeof buf), ZENITH_E_INVAL, "length 3");
    cr_assert_eq(zenith_addr_set(&a, "1.2.3.4", 5), 0);
    ((struct sockaddr_in *)(void *)a.sa)->sin_family = AF_UNIX;
    cr_assert_eq(zenith_addr_format(&a, buf, sizeof buf), ZENITH_E_INVAL, "family AF_UNIX");
    cr_assert_eq(zenith_addr_set(&a, "::1", 5), 0);
    a.len = sizeof(struct sockaddr_in); /* an IPv6 family with an IPv4 length */
    cr_assert_eq(zenith_addr_format(&a, buf, sizeof buf), ZENITH_E_INVAL, "AF_INET6 with length 16");
    cr_assert_eq(zenith_addr_port(NULL), 0);
    memset(&a, 0, sizeof a);
    cr_assert_eq(zenith_addr_port(&a), 0, "no address");
}

/* ---- 7. a full send queue, on_writable ---------------------------------------------------------- */

Test(udp, full_send_queue_then_on_writable, .timeout = 30) {
    zenith_server_config sc = udp_cfg();
    zenith_server *s;
    zenith_udp_config u;
    zenith_udp_id id;
    zenith_udp_info inf;
    zenith_addr to;
    int writable = 0, fd = plain_udp("127.0.0.1", 0), i, rc;
    uint8_t d[32], in[64];
    sc.udp_queue = 8;
    s = mkserver_cfg(&sc);
    u = ucfg("127.0.0.1", 0, NULL, &writable);
    u.on_writable = count_writable;
    id = open_ok(s, &u);
    to = addr_of("127.0.0.1", fd_port(fd));
    for (i = 0; i < 8; i++) {
        fill(d, (uint32_t)i, sizeof d);
        rc = zenith_udp_send(s, id, d, sizeof d, &to);
        cr_assert_eq(rc, 0, "send %d of 8: %s", i, zenith_errname(rc));
    }
    inf = info_of_udp(s, id);
    cr_assert_eq(inf.queued, 8u, "queued %u: sends leave from the loop", inf.queued);
    fill(d, 8, sizeof d);
    rc = zenith_udp_send(s, id, d, sizeof d, &to);
    cr_assert_eq(rc, ZENITH_E_FULL, "the 9th send at udp_queue 8: %d %s", rc, zenith_errname(rc));
    cr_assert_eq(zenith_udp_send_gso(s, id, d, sizeof d, 8, &to), ZENITH_E_FULL);
    inf = info_of_udp(s, id);
    cr_assert_eq(inf.queued, 8u, "a refused send queues nothing");
    cr_assert_eq(inf.send_full, 2u);
    cr_assert_eq(writable, 0);
    RUN_UNTIL(s, writable > 0, 5.0);
    cr_assert_eq(writable, 1, "on_writable once after ZENITH_E_FULL (got %d)", writable);
    for (i = 0; i < 8; i++) {
        cr_assert_eq(plain_recv_wait(s, fd, in, sizeof in, NULL, 5.0), 32, "datagram %d of the full queue", i);
        cr_assert_lt(check(in, (uint32_t)i, 32), 0, "datagram %d in queue order", i);
    }
    cr_assert_eq(plain_recv(fd, in, sizeof in, NULL), -1);
    /* room again: sends go */
    cr_assert_eq(zenith_udp_send(s, id, d, sizeof d, &to), 0);
    cr_assert_eq(plain_recv_wait(s, fd, in, sizeof in, NULL, 5.0), 32);
    cr_assert_lt(check(in, 8, 32), 0);
    spin(s, 20);
    cr_assert_eq(writable, 1, "no on_writable without a refused send");
    inf = info_of_udp(s, id);
    cr_assert_eq(inf.datagrams_out, 9u);
    cr_assert_eq(inf.bytes_out, 9u * 32u);
    close(fd);
    zenith_server_destroy(s);
}

/* The pool and the server's send reserve both empty: a copying send is refused (nothing queued)
   and on_writable follows once buffers are back. */
Test(udp, pool_empty_send_is_full_then_on_writable, .timeout = 30) {
    zenith_server_config sc = udp_cfg();
    zenith_server *s;
    zenith_pool *pool;
    zenith_udp_config u;
    zenith_udp_id id;
    zenith_udp_info inf;
    zenith_addr to;
    void **held;
    uint32_t n = 0, i, k = 0;
    int writable = 0, fd = plain_udp("127.0.0.1", 0), rc;
    uint8_t in[64], d[64];
    sc.buffer_count = 256;
    sc.recv_buffers = 64;
    sc.udp_queue = 4096;
    s = mkserver_cfg(&sc);
    pool = zenith_server_pool(s);
    u = ucfg("127.0.0.1", 0, NULL, &writable);
    u.on_writable = count_writable;
    id = open_ok(s, &u);
    to = addr_of("127.0.0.1", fd_port(fd));
    held = calloc(256, sizeof *held);
    cr_assert_not_null(held);
    while ((held[n] = zenith_pool_acquire(pool)) != NULL) n++;
    cr_assert_gt(n, 0u);
    /* what the reactor still holds (its send reserve) carries a few sends, then FULL */
    for (;;) {
        fill(d, k, sizeof d);
        rc = zenith_udp_send(s, id, d, sizeof d, &to);
        if (rc != 0) break;
        k++;
        cr_assert_lt(k, 256u, "256 copying sends with the pool held empty");
    }
    cr_assert_eq(rc, ZENITH_E_FULL, "a copying send with no buffer left: %d %s", rc, zenith_errname(rc));
    inf = info_of_udp(s, id);
    cr_assert_eq(inf.queued, k, "the refused send queued nothing");
    cr_assert_lt(inf.queued, 4096u, "refused by the pool, not by udp_queue");
    cr_assert_eq(inf.send_full, 1u);
    cr_log_info("pool held empty: %u sends went on the reserve, then ZENITH_E_FULL", k);
    for (i = 0; i < n; i++) cr_assert_eq(zenith_pool_release(pool, held[i]), 0);
    RUN_UNTIL(s, writable > 0, 5.0);
    cr_assert_eq(writable, 1, "on_writable once the pool has buffers again (got %d)", writable);
    for (i = 0; i < k; i++) {
        cr_assert_eq(plain_recv_wait(s, fd, in, sizeof in, NULL, 5.0), 64, "datagram %u of %u queued", i, k);
        cr_assert_lt(check(in, i, 64), 0);
    }
    cr_assert_eq(zenith_udp_send(s, id, "y", 1, &to), 0);
    cr_assert_eq(plain_recv_wait(s, fd, in, sizeof in, NULL, 5.0), 1);
    cr_assert_eq(in[0], 'y');
    cr_assert_eq(plain_recv(fd, in, sizeof in, NULL), -1, "the refused send never left");
    free(held);
    close(fd);
    zenith_server_destroy(s);
}

/* ---- 8. timestamps and counters ---------------------------------------------------------------- */

static int64_t realtime_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_REALTIME, &t);
    return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

Test(udp, receive_timestamps_on_by_default_off_on_request, .timeout = 30) {
    zenith_server *s = mkserver();
    coll on, off;
    zenith_udp_config u;
    zenith_udp_info inf;
    int fd = plain_udp("127.0.0.1", 0), i;
    int64_t t0, t1;
    coll_init(&on, s, 256);
    coll_init(&off, s, 16);
    u = ucfg("127.0.0.1", 0, coll_recv, &on);
    on.id = open_ok(s, &u);
    u = ucfg("127.0.0.1", ZENITH_UDP_NO_TIMESTAMPS, coll_recv, &off);
    off.id = open_ok(s, &u);
    inf = info_of_udp(s, on.id);
    cr_assert(inf.features & ZENITH_UDP_F_TS_SOFTWARE, "software timestamps by default (features %#x)", inf.features);
    cr_assert_eq(inf.features & ZENITH_UDP_F_TS_HARDWARE, 0u, "no hardware timestamps unless asked");
    inf = info_of_udp(s, off.id);
    cr_assert_eq(inf.features & (ZENITH_UDP_F_TS_SOFTWARE | ZENITH_UDP_F_TS_HARDWARE), 0u,
                 "NO_TIMESTAMPS: features %#x", inf.features);
    /* The kernel switches receive timestamping on system-wide lazily (a static key flipped from a
       workqueue when the first timestamping socket of the system opens): the first datagrams
       after that may come without one (ts_ns 0, as documented). Wait until they carry one. */
    for (i = 0; i < 200; i++) {
        uint32_t n0 = on.n;
        plain_sendto(fd, "w", 1, "127.0.0.1", zenith_udp_port(s, on.id));
        RUN_UNTIL(s, on.n > n0, 5.0);
        if (on.g[on.n - 1u].ts != 0) break;
        usleep(5000);
    }
    cr_assert_lt(i, 200, "the kernel never timestamped a datagram");
    {
        zenith_udp_id keep_id = on.id;
        coll_free(&on);
        coll_init(&on, s, 16);
        on.id = keep_id;
    }
    t0 = realtime_ns();
    for (i = 0; i < 10; i++) {
        plain_sendto(fd, "t", 1, "127.0.0.1", zenith_udp_port(s, on.id));
        plain_sendto(fd, "u", 1, "127.0.0.1", zenith_udp_port(s, off.id));
        if (i == 4) usleep(20000);
    }
    RUN_UNTIL(s, on.n == 10 && off.n == 10, 5.0);
    t1 = realtime_ns();
    cr_assert_eq(on.n, 10u);
    cr_assert_eq(off.n, 10u);
    for (i = 0; i < 10; i++) {
        cr_assert_geq(on.g[i].ts, t0 - 1000000000, "datagram %d: ts_ns %lld, sent after %lld", i, (long long)on.g[i].ts,
                      (long long)t0);
        cr_assert_leq(on.g[i].ts, t1 + 1000000000, "datagram %d: ts_ns %lld, received by %lld", i,
                      (long long)on.g[i].ts, (long long)t1);
        if (i > 0) cr_assert_geq(on.g[i].ts, on.g[i - 1].ts, "timestamps in arrival order");
        cr_assert_eq(on.g[i].hw_ts, 0, "no hardware timestamp on loopback");
        cr_assert_eq(off.g[i].ts, 0, "NO_TIMESTAMPS: ts_ns %lld", (long long)off.g[i].ts);
        cr_assert_eq(off.g[i].hw_ts, 0);
    }
    cr_assert_geq(on.g[5].ts - on.g[4].ts, 15000000, "the 20 ms pause shows in the timestamps (%lld ns)",
                  (long long)(on.g[5].ts - on.g[4].ts));
    /* HW_TIMESTAMPS asked for on loopback: accepted or not, no hardware stamp, software still */
    {
        coll hw;
        coll_init(&hw, s, 4);
        u = ucfg("127.0.0.1", ZENITH_UDP_HW_TIMESTAMPS, coll_recv, &hw);
        hw.id = open_ok(s, &u);
        plain_sendto(fd, "h", 1, "127.0.0.1", zenith_udp_port(s, hw.id));
        RUN_UNTIL(s, hw.n == 1, 5.0);
        cr_assert_eq(hw.n, 1u);
        cr_assert_eq(hw.g[0].hw_ts, 0);
        cr_assert_gt(hw.g[0].ts, 0, "software timestamps stay on with HW_TIMESTAMPS");
        coll_free(&hw);
    }
    close(fd);
    coll_free(&on);
    coll_free(&off);
    zenith_server_destroy(s);
}

Test(udp, counters_add_up, .timeout = 30) {
    zenith_server *s = mkserver();
    coll a, b;
    zenith_udp_config u;
    zenith_udp_info ia, ib;
    zenith_addr to_b, to_a;
    uint64_t bytes_ab = 0, bytes_ba = 0;
    uint8_t d[1000];
    uint32_t i;
    coll_init(&a, s, 64);
    coll_init(&b, s, 64);
    u = ucfg("127.0.0.1", 0, coll_recv, &a);
    a.id = open_ok(s, &u);
    u = ucfg("127.0.0.1", 0, coll_recv, &b);
    b.id = open_ok(s, &u);
    to_b = addr_of("127.0.0.1", zenith_udp_port(s, b.id));
    to_a = addr_of("127.0.0.1", zenith_udp_port(s, a.id));
    for (i = 0; i < 40; i++) {
        uint32_t len = 1 + i * 23;
        fill(d, i, len);
        cr_assert_eq(zenith_udp_send(s, a.id, d, len, &to_b), 0);
        bytes_ab += len;
        if (i % 2 == 0) {
            cr_assert_eq(zenith_udp_send(s, b.id, d, len, &to_a), 0);
            bytes_ba += len;
        }
    }
    RUN_UNTIL(s, b.n == 40 && a.n == 20, 5.0);
    cr_assert_eq(b.n, 40u);
    cr_assert_eq(a.n, 20u);
    for (i = 0; i < 40; i++) {
        cr_assert_eq(b.g[i].len, 1 + i * 23);
        cr_assert_lt(check(b.g[i].data, i, b.g[i].len), 0, "datagram %u between two Zenith sockets", i);
        cr_assert_eq(zenith_addr_port(&b.g[i].from), zenith_udp_port(s, a.id));
    }
    RUN_UNTIL(s, info_of_udp(s, a.id).queued == 0 && info_of_udp(s, b.id).queued == 0, 2.0);
    ia = info_of_udp(s, a.id);
    ib = info_of_udp(s, b.id);
    cr_assert_eq(ia.struct_size, sizeof ia);
    cr_assert_eq(ia.datagrams_out, 40u);
    cr_assert_eq(ia.bytes_out, bytes_ab);
    cr_assert_eq(ib.datagrams_in, 40u);
    cr_assert_eq(ib.bytes_in, bytes_ab);
    cr_assert_eq(ib.bytes_in, b.bytes);
    cr_assert_eq(ib.datagrams_out, 20u);
    cr_assert_eq(ib.bytes_out, bytes_ba);
    cr_assert_eq(ia.datagrams_in, 20u);
    cr_assert_eq(ia.bytes_in, bytes_ba);
    cr_assert_eq(ia.queued + ib.queued, 0u);
    cr_assert_eq(ia.truncated + ib.truncated + ia.kernel_drops + ib.kernel_drops + ia.recv_stalls + ib.recv_stalls, 0u);
    cr_assert_eq(ia.send_errors + ib.send_errors + ia.recv_errors + ib.recv_errors + ia.send_full + ib.send_full, 0u);
    cr_assert_eq(ia.gso_sends + ia.gro_batches, 0u);
    cr_assert_eq(ia.last_error, 0);
    cr_assert_eq(ia.reserved_, 0u);
    /* a send the kernel refuses (a broadcast without ZENITH_UDP_BROADCAST: EACCES) is dropped,
       counted, and the next ones go */
    {
        zenith_addr bcast = addr_of("127.255.255.255", 9);
        cr_assert_eq(zenith_udp_send(s, a.id, "bad", 3, &bcast), 0, "queued; the kernel decides");
        cr_assert_eq(zenith_udp_send(s, a.id, "good", 4, &to_b), 0);
        RUN_UNTIL(s, b.n == 41, 5.0);
        cr_assert_eq(b.n, 41u, "the send after a refused one");
        cr_assert_eq(memcmp(b.g[40].data, "good", 4), 0);
        RUN_UNTIL(s, info_of_udp(s, a.id).send_errors == 1, 2.0);
        ia = info_of_udp(s, a.id);
        cr_assert_eq(ia.send_errors, 1u, "a broadcast without SO_BROADCAST: send_errors %llu",
                     (unsigned long long)ia.send_errors);
        cr_assert_eq(ia.last_error, ZENITH_ESYS(EACCES), "last_error %d %s", ia.last_error,
                     zenith_errname(ia.last_error));
        cr_assert_eq(ia.datagrams_out, 41u, "the refused one is not counted as sent");
        cr_assert_eq(ia.queued, 0u);
    }
    coll_free(&a);
    coll_free(&b);
    zenith_server_destroy(s);
}

Test(udp, broadcast_flag, .timeout = 30) {
    zenith_server *s = mkserver();
    coll c;
    zenith_udp_config u;
    zenith_udp_id tx;
    zenith_addr bcast;
    coll_init(&c, s, 4);
    u = ucfg("0.0.0.0", 0, coll_recv, &c);
    c.id = open_ok(s, &u);
    bcast = addr_of("127.255.255.255", zenith_udp_port(s, c.id));
    u = ucfg("127.0.0.1", ZENITH_UDP_BROADCAST, NULL, NULL);
    tx = open_ok(s, &u);
    cr_assert_eq(zenith_udp_send(s, tx, "bc", 2, &bcast), 0);
    RUN_UNTIL(s, c.n == 1, 5.0);
    cr_assert_eq(c.n, 1u, "a loopback broadcast with ZENITH_UDP_BROADCAST");
    cr_assert_eq(memcmp(c.g[0].data, "bc", 2), 0);
    cr_assert_eq(zenith_addr_port(&c.g[0].from), zenith_udp_port(s, tx));
    cr_assert_eq(info_of_udp(s, tx).send_errors, 0u);
    coll_free(&c);
    zenith_server_destroy(s);
}

/* ---- 9. GSO and GRO ------------------------------------------------------------------------------ */

static int kernel_at_least(int major, int minor) {
    struct utsname u;
    int a = 0, b = 0;
    cr_assert_eq(uname(&u), 0);
    cr_assert_geq(sscanf(u.release, "%d.%d", &a, &b), 1);
    return a > major || (a == major && b >= minor);
}

/* data for a GSO burst: segment k is fill(base + k, its length) */
static size_t gso_payload(uint8_t *p, uint32_t base, uint32_t nseg, uint32_t seg, uint32_t last) {
    uint32_t k;
    size_t off = 0;
    for (k = 0; k < nseg; k++) {
        uint32_t len = k + 1 == nseg ? last : seg;
        fill(p + off, base + k, len);
        off += len;
    }
    return off;
}

Test(udp, gso_send_arrives_as_separate_datagrams, .timeout = 30) {
    zenith_server *s = mkserver();
    zenith_udp_config u = ucfg("127.0.0.1", 0, NULL, NULL);
    zenith_udp_id id = open_ok(s, &u), conn;
    zenith_udp_info inf;
    zenith_addr to;
    static uint8_t data[65536], in[65536];
    int fd = plain_udp("127.0.0.1", 0);
    struct {
        uint32_t nseg, seg, last;
    } cases[] = { { 11, 1000, 337 }, { 8, 1472, 1472 }, { 1, 500, 200 }, { 64, 1000, 1000 }, { 44, 1472, 1439 } };
    uint32_t base = 0, total_dg = 0, k;
    uint64_t total_bytes = 0;
    unsigned c;
    to = addr_of("127.0.0.1", fd_port(fd));
    inf = info_of_udp(s, id);
    cr_log_info("GSO on %s: features %#x", on_epoll(s) ? "epoll" : "io_uring", inf.features);
    if (kernel_at_least(4, 18))
        cr_assert(inf.features & ZENITH_UDP_F_GSO, "UDP_SEGMENT is in this kernel (4.18+): features %#x", inf.features);
    for (c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        size_t len = gso_payload(data, base, cases[c].nseg, cases[c].seg, cases[c].last);
        int rc = zenith_udp_send_gso(s, id, data, len, cases[c].seg, &to);
        cr_assert_eq(rc, 0, "send_gso of %u x %u: %d %s", cases[c].nseg, cases[c].seg, rc, zenith_errname(rc));
        for (k = 0; k < cases[c].nseg; k++) {
            uint32_t want = k + 1 == cases[c].nseg ? cases[c].last : cases[c].seg;
            ssize_t r = plain_recv_wait(s, fd, in, sizeof in, NULL, 5.0);
            cr_assert_eq(r, (ssize_t)want, "case %u segment %u of %u: %zd bytes, want %u", c, k, cases[c].nseg, r,
                         want);
            cr_assert_lt(check(in, base + k, want), 0, "case %u segment %u: its bytes", c, k);
        }
        base += cases[c].nseg;
        total_dg += cases[c].nseg;
        total_bytes += len;
    }
    cr_assert_eq(plain_recv(fd, in, sizeof in, NULL), -1, "nothing more than the segments");
    RUN_UNTIL(s, info_of_udp(s, id).queued == 0, 2.0);
    inf = info_of_udp(s, id);
    cr_assert_eq(inf.datagrams_out, total_dg, "a GSO send counts its segments");
    cr_assert_eq(inf.bytes_out, total_bytes);
    cr_assert_eq(inf.send_errors, 0u);
    if (inf.features & ZENITH_UDP_F_GSO)
        cr_assert_geq(inf.gso_sends, 4u, "gso_sends %llu (the one-segment send may go plain)",
                      (unsigned long long)inf.gso_sends);
    else
        cr_assert_eq(inf.gso_sends, 0u);
    /* on a connected socket, to NULL */
    u = ucfg("127.0.0.1", 0, NULL, NULL);
    u.peer_address = "127.0.0.1";
    u.peer_port = fd_port(fd);
    conn = open_ok(s, &u);
    {
        size_t len = gso_payload(data, 1000, 5, 300, 1);
        cr_assert_eq(zenith_udp_send_gso(s, conn, data, len, 300, NULL), 0);
        cr_assert_eq(zenith_udp_send_gso(s, conn, data, len, 300, &to), ZENITH_E_INVAL);
        for (k = 0; k < 5; k++) {
            ssize_t r = plain_recv_wait(s, fd, in, sizeof in, NULL, 5.0);
            cr_assert_eq(r, k == 4 ? 1 : 300);
            cr_assert_lt(check(in, 1000 + k, (uint32_t)r), 0);
        }
    }
    close(fd);
    zenith_server_destroy(s);
}

typedef struct {
    coll c;
    int keep_at;       /* keep the datagram with this index (-1: none) */
    uint8_t *kept;     /* where keep said the datagram is */
    void *kept_buf;    /* the buffer keep returned */
    uint32_t kept_len; /* its length */
    uint32_t kept_seq;
    uint32_t gro_flagged;
} gro_rx;

static void gro_recv(void *user, zenith_udp_id sock, const zenith_udp_datagram *d) {
    gro_rx *g = (gro_rx *)user;
    int idx = (int)g->c.n;
    if (d->flags & ZENITH_UDP_GRO_SEGMENT) g->gro_flagged++;
    if (idx == g->keep_at) {
        const uint8_t *p = NULL;
        uint8_t *buf = (uint8_t *)zenith_udp_keep(g->c.s, &p);
        cr_assert_not_null(buf, "keep of datagram %d (flags %#x)", idx, d->flags);
        cr_assert_not_null(p);
        if (d->flags & ZENITH_UDP_GRO_SEGMENT)
            cr_assert_eq(p, buf, "a kept GRO segment is a copy at the start of its own buffer");
        else
            cr_assert_eq(p, d->data);
        cr_assert_eq(memcmp(p, d->data, d->len), 0, "the kept copy holds the datagram");
        g->kept = (uint8_t *)(uintptr_t)p;
        g->kept_buf = buf;
        g->kept_len = d->len;
        g->kept_seq = seq_of(d->data, d->len);
        cr_assert_null(zenith_udp_keep(g->c.s, NULL), "a second keep in one on_recv");
    }
    coll_recv(&g->c, sock, d);
}

Test(udp, gro_burst_split_back_into_its_datagrams, .timeout = 30) {
    zenith_server_config sc = udp_cfg();
    zenith_server *s;
    zenith_udp_config u;
    zenith_udp_info inf;
    zenith_udp_id tx;
    zenith_addr to;
    gro_rx g;
    static uint8_t data[65536];
    uint32_t k, nexp = 0;
    int fd = plain_udp("127.0.0.1", 0), seg = 1200;
    size_t len;
    sc.buffer_size = ZENITH_UDP_GRO_BUFFER;
    sc.buffer_count = 64;
    sc.recv_buffers = 32;
    s = mkserver_cfg(&sc);
    memset(&g, 0, sizeof g);
    coll_init(&g.c, s, 256);
    g.keep_at = 2;
    u = ucfg("127.0.0.1", ZENITH_UDP_GRO, gro_recv, &g);
    g.c.id = open_ok(s, &u);
    inf = info_of_udp(s, g.c.id);
    cr_log_info("GRO on %s: features %#x", on_epoll(s) ? "epoll" : "io_uring", inf.features);
    if (kernel_at_least(5, 0)) cr_assert(inf.features & ZENITH_UDP_F_GRO, "UDP_GRO (5.0+): features %#x", inf.features);
    cr_assert_eq(inf.recv_capacity, ZENITH_UDP_GRO_BUFFER - ZENITH_UDP_RECV_HEADROOM);
    /* a plain sender with UDP_SEGMENT: 40 x 1200 + 500 in one send */
    plain_connect(fd, "127.0.0.1", zenith_udp_port(s, g.c.id));
    len = gso_payload(data, 0, 41, 1200, 500);
    if (setsockopt(fd, SOL_UDP, UDP_SEGMENT, &seg, sizeof seg) == 0) {
        cr_assert_eq(send(fd, data, len, 0), (ssize_t)len, "GSO send: %s", strerror(errno));
    } else {
        cr_log_info("UDP_SEGMENT refused (%s): the burst goes one by one", strerror(errno));
        for (k = 0; k < 41; k++)
            cr_assert_eq(send(fd, data + k * 1200u, k == 40 ? 500 : 1200, 0), k == 40 ? 500 : 1200);
    }
    nexp += 41;
    RUN_UNTIL(s, g.c.n == nexp, 5.0);
    cr_assert_eq(g.c.n, nexp, "%u of %u datagrams of the burst", g.c.n, nexp);
    /* a Zenith sender's GSO burst: 21 x 1000 + 1 */
    u = ucfg("127.0.0.1", 0, NULL, NULL);
    tx = open_ok(s, &u);
    to = addr_of("127.0.0.1", zenith_udp_port(s, g.c.id));
    len = gso_payload(data, 41, 22, 1000, 1);
    cr_assert_eq(zenith_udp_send_gso(s, tx, data, len, 1000, &to), 0);
    nexp += 22;
    /* and a lone datagram: not a segment */
    fill(data, 63, 77);
    cr_assert_eq(zenith_udp_send(s, tx, data, 77, &to), 0);
    nexp += 1;
    RUN_UNTIL(s, g.c.n == nexp, 5.0);
    cr_assert_eq(g.c.n, nexp, "%u of %u datagrams", g.c.n, nexp);
    for (k = 0; k < nexp; k++) {
        uint32_t want = k < 41 ? (k == 40 ? 500u : 1200u) : k < 63 ? (k == 62 ? 1u : 1000u) : 77u;
        cr_assert_eq(g.c.g[k].len, want, "datagram %u: %u bytes, sent %u (boundary)", k, g.c.g[k].len, want);
        cr_assert_eq(g.c.g[k].orig_len, want);
        cr_assert_eq(g.c.g[k].flags & ZENITH_UDP_TRUNC, 0u);
        cr_assert_lt(check(g.c.g[k].data, k, want), 0, "datagram %u: its bytes", k);
        if (k > 0 && g.c.g[k].ts && g.c.g[k - 1].ts && (g.c.g[k].flags & ZENITH_UDP_GRO_SEGMENT))
            cr_assert_geq(g.c.g[k].ts, g.c.g[k - 1].ts);
    }
    cr_assert_eq(g.c.g[nexp - 1].flags & ZENITH_UDP_GRO_SEGMENT, 0u, "a lone datagram is no GRO segment");
    inf = info_of_udp(s, g.c.id);
    cr_log_info("GRO: %llu batches, %u datagrams flagged as segments", (unsigned long long)inf.gro_batches,
                g.gro_flagged);
    cr_assert_eq(inf.datagrams_in, nexp, "GRO segments count one by one");
    if (inf.features & ZENITH_UDP_F_GRO) {
        cr_assert_geq(inf.gro_batches, 1u, "a GSO burst on loopback reaches a GRO socket coalesced");
        cr_assert_gt(g.gro_flagged, 0u);
    } else {
        cr_assert_eq(inf.gro_batches, 0u);
        cr_assert_eq(g.gro_flagged, 0u);
    }
    /* the kept one (a GRO segment when coalesced) is intact after everything that followed */
    cr_assert_not_null(g.kept);
    cr_assert_eq(g.kept_len, 1200u);
    cr_assert_eq(g.kept_seq, 2u);
    cr_assert_lt(check(g.kept, 2, 1200), 0, "the kept datagram was overwritten");
    cr_assert_eq(zenith_pool_release(zenith_server_pool(s), g.kept_buf), 0, "the kept buffer goes back to the pool");
    close(fd);
    coll_free(&g.c);
    zenith_server_destroy(s);
}

/* ---- 10. a flood that empties the pool ---------------------------------------------------------- */

typedef struct {
    zenith_server *s;
    zenith_udp_id id;
    int keeping;
    uint32_t nkept, cap;
    struct {
        uint8_t *buf;
        const uint8_t *data;
        uint32_t len, seq;
    } * kept;
    uint8_t *seen;
    uint32_t nseq;
    uint32_t delivered, max_drops_seen;
    uint32_t drops_went_down;
} flood_rx;

static void flood_recv(void *user, zenith_udp_id sock, const zenith_udp_datagram *d) {
    flood_rx *f = (flood_rx *)user;
    uint32_t seq;
    cr_assert_eq(sock, f->id);
    cr_assert_eq(d->flags, 0u);
    cr_assert_geq(d->len, 4u);
    seq = seq_of(d->data, d->len);
    cr_assert_lt(seq, f->nseq, "a datagram with sequence %u", seq);
    cr_assert_eq(d->len, 300u + seq % 200u, "datagram %u: %u bytes", seq, d->len);
    cr_assert_lt(check(d->data, seq, d->len), 0, "datagram %u corrupted", seq);
    cr_assert_eq(f->seen[seq], 0, "datagram %u delivered twice", seq);
    f->seen[seq] = 1;
    f->delivered++;
    if (d->kernel_drops < f->max_drops_seen) f->drops_went_down++;
    if (d->kernel_drops > f->max_drops_seen) f->max_drops_seen = d->kernel_drops;
    if (f->keeping) {
        const uint8_t *p = NULL;
        uint8_t *buf = (uint8_t *)zenith_udp_keep(f->s, &p);
        cr_assert_not_null(buf, "keep of datagram %u (%u kept so far)", seq, f->nkept);
        cr_assert_eq(p, d->data);
        cr_assert_lt(f->nkept, f->cap);
        f->kept[f->nkept].buf = buf;
        f->kept[f->nkept].data = p;
        f->kept[f->nkept].len = d->len;
        f->kept[f->nkept].seq = seq;
        f->nkept++;
    }
}

Test(udp, flood_exhausting_the_pool_counts_drops_and_resumes, .timeout = 60) {
    zenith_server_config sc = udp_cfg();
    zenith_server *s;
    zenith_pool *pool;
    zenith_udp_config u;
    zenith_udp_info inf;
    flood_rx f;
    uint32_t flood = 20000, extra = 100, sent = 0, i, j, before;
    uint8_t d[600];
    int fd = plain_udp("127.0.0.1", 0);
    sc.buffer_count = 128;
    sc.recv_buffers = 64;
    s = mkserver_cfg(&sc);
    pool = zenith_server_pool(s);
    memset(&f, 0, sizeof f);
    f.s = s;
    f.keeping = 1;
    f.cap = 256;
    f.nseq = flood + extra;
    f.kept = calloc(f.cap, sizeof *f.kept);
    f.seen = calloc(f.nseq, 1);
    cr_assert(f.kept && f.seen);
    u = ucfg("127.0.0.1", 0, flood_recv, &f);
    u.rcvbuf = 65536;
    f.id = open_ok(s, &u);
    plain_connect(fd, "127.0.0.1", zenith_udp_port(s, f.id));
    /* the flood, with the loop running between bursts */
    while (sent < flood) {
        for (j = 0; j < 200 && sent < flood; j++) {
            uint32_t len = 300u + sent % 200u;
            ssize_t r;
            fill(d, sent, len);
            r = send(fd, d, len, 0);
            if (r < 0 && (errno == EAGAIN || errno == ENOBUFS)) break;
            cr_assert_eq(r, (ssize_t)len, "flood send: %s", strerror(errno));
            sent++;
        }
        run1(s, 0);
    }
    spin(s, 200);
    inf = info_of_udp(s, f.id);
    cr_log_info(
        "flood on %s: %u sent, %u delivered (all kept), recv_stalls %llu, kernel_drops %llu, pool in use %llu/%llu",
        on_epoll(s) ? "epoll" : "io_uring", sent, f.delivered, (unsigned long long)inf.recv_stalls,
        (unsigned long long)inf.kernel_drops, (unsigned long long)stats_of(pool).in_use,
        (unsigned long long)stats_of(pool).total);
    cr_assert(inf.recv_stalls > 0 || inf.kernel_drops > 0, "a flood into a pool held empty: no stall, no drop counted");
    cr_assert_lt(f.delivered, sent, "all %u datagrams delivered although every buffer was kept", sent);
    cr_assert_eq(f.nkept, f.delivered);
    cr_assert_leq(f.max_drops_seen, inf.kernel_drops, "a datagram's kernel_drops above the socket's");
    cr_assert_eq(f.drops_went_down, 0u, "kernel_drops went down between two datagrams");
    /* what was kept was never touched, and no buffer was handed out twice */
    for (i = 0; i < f.nkept; i++) {
        cr_assert_lt(check(f.kept[i].data, f.kept[i].seq, f.kept[i].len), 0,
                     "kept datagram %u (seq %u) overwritten while kept", i, f.kept[i].seq);
        for (j = 0; j < i; j++) cr_assert_neq(f.kept[i].buf, f.kept[j].buf, "buffer kept twice");
    }
    /* give the buffers back: what waits in the socket comes, and everything is accounted */
    f.keeping = 0;
    for (i = 0; i < f.nkept; i++) cr_assert_eq(zenith_pool_release(pool, f.kept[i].buf), 0);
    RUN_UNTIL(s, f.delivered + info_of_udp(s, f.id).kernel_drops >= sent, 10.0);
    inf = info_of_udp(s, f.id);
    cr_assert_eq(f.delivered + inf.kernel_drops, sent,
                 "%u sent = %u delivered + %llu dropped by the kernel: nothing may be lost uncounted", sent,
                 f.delivered, (unsigned long long)inf.kernel_drops);
    cr_assert_eq(inf.datagrams_in, f.delivered);
    /* and reception goes on: new datagrams, paced, all arrive */
    before = f.delivered;
    for (i = 0; i < extra; i++) {
        uint32_t len = 300u + sent % 200u;
        fill(d, sent, len);
        cr_assert_eq(send(fd, d, len, 0), (ssize_t)len);
        sent++;
        RUN_UNTIL(s, f.delivered == before + i + 1, 5.0);
        cr_assert_eq(f.delivered, before + i + 1, "after the buffers came back, datagram %u of %u did not arrive", i,
                     extra);
    }
    cr_assert_eq(info_of_udp(s, f.id).kernel_drops, inf.kernel_drops, "paced datagrams dropped");
    close(fd);
    free(f.kept);
    free(f.seen);
    zenith_server_destroy(s);
}

/* While the application holds every receive buffer, the loop waits (it does not spin re-trying the
   receive): over 300 ms of run_once(s, 50) with nothing else to do, a handful of iterations and
   stalls, not thousands. Then the buffers come back and reception resumes. */
Test(udp, held_buffers_do_not_spin_the_loop, .timeout = 30) {
    zenith_server_config sc = udp_cfg();
    zenith_server *s;
    zenith_pool *pool;
    zenith_udp_config u;
    zenith_udp_info inf;
    zenith_reactor_stats rs0, rs1;
    flood_rx f;
    uint32_t sent = 0, i, iters = 0;
    uint64_t stalls0;
    uint8_t d[600];
    double t0;
    int fd = plain_udp("127.0.0.1", 0);
    sc.buffer_count = 128;
    sc.recv_buffers = 64;
    s = mkserver_cfg(&sc);
    pool = zenith_server_pool(s);
    memset(&f, 0, sizeof f);
    f.s = s;
    f.keeping = 1;
    f.cap = 256;
    f.nseq = 2000;
    f.kept = calloc(f.cap, sizeof *f.kept);
    f.seen = calloc(f.nseq, 1);
    cr_assert(f.kept && f.seen);
    u = ucfg("127.0.0.1", 0, flood_recv, &f);
    f.id = open_ok(s, &u);
    plain_connect(fd, "127.0.0.1", zenith_udp_port(s, f.id));
    /* send until the socket stalls (every buffer kept), a few at a time */
    while (sent < 1000 && info_of_udp(s, f.id).recv_stalls == 0) {
        for (i = 0; i < 20; i++, sent++) {
            uint32_t len = 300u + sent % 200u;
            fill(d, sent, len);
            cr_assert_eq(send(fd, d, len, 0), (ssize_t)len);
        }
        spin(s, 5);
    }
    cr_assert_gt(info_of_udp(s, f.id).recv_stalls, 0u, "no stall after %u datagrams with every buffer kept", sent);
    spin(s, 20);
    /* held: the loop has nothing to do but wait */
    stalls0 = info_of_udp(s, f.id).recv_stalls;
    memset(&rs0, 0, sizeof rs0);
    memset(&rs1, 0, sizeof rs1);
    cr_assert_eq(zenith_server_get_reactor_stats(s, &rs0), 0);
    t0 = now_s();
    while (now_s() - t0 < 0.3) {
        run1(s, 50);
        iters++;
    }
    cr_assert_eq(zenith_server_get_reactor_stats(s, &rs1), 0);
    inf = info_of_udp(s, f.id);
    cr_log_info("buffers held (%s): %u run_once(50 ms) calls in 300 ms, recv_stalls +%llu, loop_iterations +%llu",
                on_epoll(s) ? "epoll" : "io_uring", iters, (unsigned long long)(inf.recv_stalls - stalls0),
                (unsigned long long)(rs1.loop_iterations - rs0.loop_iterations));
    cr_assert_leq(iters, 30u, "run_once(50 ms) returned %u times in 300 ms with nothing to do: the loop spins", iters);
    cr_assert_leq(inf.recv_stalls - stalls0, 30u, "recv_stalls rose by %llu while nothing arrived",
                  (unsigned long long)(inf.recv_stalls - stalls0));
    /* released: what waits comes, and new datagrams too */
    f.keeping = 0;
    for (i = 0; i < f.nkept; i++) cr_assert_eq(zenith_pool_release(pool, f.kept[i].buf), 0);
    RUN_UNTIL(s, f.delivered + info_of_udp(s, f.id).kernel_drops >= sent, 5.0);
    cr_assert_eq(f.delivered + info_of_udp(s, f.id).kernel_drops, sent);
    fill(d, sent, 300u + sent % 200u);
    cr_assert_eq(send(fd, d, 300u + sent % 200u, 0), (ssize_t)(300u + sent % 200u));
    sent++;
    RUN_UNTIL(s, f.delivered + info_of_udp(s, f.id).kernel_drops >= sent, 5.0);
    cr_assert_eq(f.seen[sent - 1], 1, "a datagram after the buffers came back");
    close(fd);
    free(f.kept);
    free(f.seen);
    zenith_server_destroy(s);
}

/* ---- 11. close ----------------------------------------------------------------------------------- */

Test(udp, close_inside_own_on_recv_stops_delivery, .timeout = 30) {
    zenith_server *s = mkserver();
    coll c;
    zenith_udp_config u;
    uint16_t port;
    int fd = plain_udp("127.0.0.1", 0), i, rebound = -1;
    coll_init(&c, s, 16);
    c.close_on_first = 1;
    u = ucfg("127.0.0.1", 0, coll_recv, &c);
    c.id = open_ok(s, &u);
    port = zenith_udp_port(s, c.id);
    /* ten waiting before the loop runs: one batch (recvmmsg) or several completions at once */
    for (i = 0; i < 10; i++) {
        uint8_t d[16];
        fill(d, (uint32_t)i, sizeof d);
        plain_sendto(fd, d, sizeof d, "127.0.0.1", port);
    }
    spin(s, 100);
    cr_assert_eq(c.n, 1u, "after close inside on_recv, %u datagrams were delivered", c.n);
    cr_assert_lt(check(c.g[0].data, 0, 16), 0);
    /* the descriptor is closed: the port can be bound again */
    {
        double end = now_s() + 2.0;
        struct sockaddr_in a;
        memset(&a, 0, sizeof a);
        a.sin_family = AF_INET;
        a.sin_port = htons(port);
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        while (now_s() < end) {
            int t = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
            if (bind(t, (struct sockaddr *)&a, sizeof a) == 0) {
                rebound = t;
                break;
            }
            close(t);
            run1(s, 1);
        }
    }
    cr_assert_geq(rebound, 0, "port %u still bound after close", port);
    close(rebound);
    close(fd);
    coll_free(&c);
    zenith_server_destroy(s);
}

Test(udp, close_flushes_queued_sends, .timeout = 30) {
    zenith_server *s = mkserver();
    zenith_pool *pool = zenith_server_pool(s);
    zenith_udp_config u = ucfg("127.0.0.1", 0, NULL, NULL);
    zenith_udp_id id;
    zenith_addr to;
    uint64_t base;
    uint8_t d[512], in[1024];
    int fd = plain_udp("127.0.0.1", 0), i;
    spin(s, 10);
    base = stats_of(pool).in_use;
    id = open_ok(s, &u);
    to = addr_of("127.0.0.1", fd_port(fd));
    for (i = 0; i < 100; i++) {
        fill(d, (uint32_t)i, 100u + (uint32_t)i);
        if (i % 3 == 2) {
            uint8_t *b = zenith_pool_acquire(pool);
            cr_assert_not_null(b);
            memcpy(b, d, 100u + (uint32_t)i);
            cr_assert_eq(zenith_udp_send_buffer(s, id, b, 100u + (uint32_t)i, &to), 0);
        } else {
            cr_assert_eq(zenith_udp_send(s, id, d, 100u + (uint32_t)i, &to), 0);
        }
    }
    cr_assert_eq(info_of_udp(s, id).queued, 100u);
    cr_assert_eq(zenith_udp_close(s, id), 0);
    cr_assert_eq(zenith_udp_send(s, id, d, 1, &to), ZENITH_E_STALE, "sends after close");
    for (i = 0; i < 100; i++) {
        ssize_t r = plain_recv_wait(s, fd, in, sizeof in, NULL, 5.0);
        cr_assert_eq(r, 100 + i, "queued datagram %d after close: %zd bytes", i, r);
        cr_assert_lt(check(in, (uint32_t)i, (uint32_t)r), 0, "datagram %d, in queue order", i);
    }
    RUN_UNTIL(s, stats_of(pool).in_use == base, 2.0);
    cr_assert_eq(stats_of(pool).in_use, base, "the queued buffers return to the pool after close");
    close(fd);
    zenith_server_destroy(s);
}

Test(udp, destroy_with_queued_sends_and_kept_buffers, .timeout = 30) {
    zenith_server *s = mkserver();
    zenith_udp_config u = ucfg("127.0.0.1", 0, NULL, NULL);
    zenith_udp_id id = open_ok(s, &u), id2;
    zenith_addr to = addr_of("127.0.0.1", 9);
    int i;
    u = ucfg("::1", 0, NULL, NULL);
    id2 = open_ok(s, &u);
    for (i = 0; i < 50; i++) cr_assert_eq(zenith_udp_send(s, id, "queued", 6, &to), 0);
    {
        zenith_pool *pool = zenith_server_pool(s);
        void *b = zenith_pool_acquire(pool);
        cr_assert_not_null(b);
        cr_assert_eq(zenith_udp_send_buffer(s, id, b, 100, &to), 0);
    }
    (void)id2;
    zenith_server_destroy(s); /* sanitizers and valgrind: nothing leaked */
}
