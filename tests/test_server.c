/* The TCP server (zenith_server): echo round trips over loopback on kernel-chosen ports. */
#define ZENITH_IMPLEMENTATION
#include "zenith.h"

#include "criterion_compat.h" /* Criterion (or its TSan stand-in) */
#include "helpers.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/* ---- a server on its own thread ----------------------------------------------------------- */

typedef struct {
    zenith_server *s;
    pthread_t thread;
    int echo_mode; /* 0 copy (zenith_server_send), 1 zero-copy (keep + send_buffer) */
    int accepts, closes, last_close_reason;
    uint64_t data_calls;
} srv_t;

static void echo_data(void *user, zenith_conn_id conn, const uint8_t *data, size_t len) {
    srv_t *t = (srv_t *)user;
    int rc;
    t->data_calls++;
    if (t->echo_mode) {
        void *buf = zenith_server_keep(t->s);
        cr_assert_not_null(buf);
        cr_assert_eq(buf, (const void *)data, "data starts at the start of its pool buffer");
        rc = zenith_server_send_buffer(t->s, conn, buf, len);
    } else {
        rc = zenith_server_send(t->s, conn, data, len);
    }
    cr_assert_eq(rc, 0, "echo send: %d %s", rc, zenith_errname(rc));
}

static void count_accept(void *user, zenith_conn_id conn) {
    srv_t *t = (srv_t *)user;
    cr_assert_neq(conn, 0);
    t->accepts++;
}

static void count_close(void *user, zenith_conn_id conn, int reason) {
    srv_t *t = (srv_t *)user;
    (void)conn;
    t->closes++;
    t->last_close_reason = reason;
}

static void *srv_loop(void *arg) {
    srv_t *t = (srv_t *)arg;
    cr_assert_eq(zenith_server_start(t->s), 0);
    while (!zenith_server_stopped(t->s)) cr_assert_geq(zenith_server_run_once(t->s, 100), 0);
    return NULL;
}

static void srv_start(srv_t *t, const zenith_server_config *cfg, int echo_mode) {
    int err = 0;
    memset(t, 0, sizeof *t);
    t->echo_mode = echo_mode;
    t->s = zenith_server_create(cfg, &err);
    if (t->s == NULL && err == ZENITH_E_URING_DISABLED) cr_skip("io_uring is disabled here");
    cr_assert_not_null(t->s, "zenith_server_create: %d %s", err, zenith_errname(err));
    cr_assert_neq(zenith_server_port(t->s), 0);
    cr_assert_eq(zenith_server_set_callbacks(t->s, count_accept, echo_data, count_close, t), 0);
    cr_assert_eq(pthread_create(&t->thread, NULL, srv_loop, t), 0);
}

/* Stops from this (another) thread, then shuts down and destroys on the server's... the
   server thread has exited, so this thread may drive it now. */
static void srv_stop(srv_t *t, zenith_server_stats *out) {
    zenith_server_stop(t->s);
    cr_assert_eq(pthread_join(t->thread, NULL), 0);
    cr_assert_geq(zenith_server_shutdown(t->s, 2000), 0);
    if (out) cr_assert_eq(zenith_server_get_stats(t->s, out), 0);
    zenith_server_destroy(t->s);
}

/* A copying echo holds each burst twice (the received buffers and their copies), so the pool
   has room for the receive ring plus a full send queue beyond it. */
static zenith_server_config default_cfg(void) {
    zenith_server_config c;
    memset(&c, 0, sizeof c);
    c.buffer_count = 4096;
    c.recv_buffers = 512;
    c.max_connections = 256;
    return c;
}

/* ---- a client: non-blocking, sends and receives at once, checks every byte ------------------ */

static int dial(uint16_t port) {
    struct sockaddr_in a;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;
    cr_assert_geq(fd, 0);
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    cr_assert_eq(connect(fd, (struct sockaddr *)&a, sizeof a), 0, "connect: %s", strerror(errno));
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    return fd;
}

static double now_s(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static unsigned char pattern(uint64_t seed, size_t i) { return (unsigned char)((i * 131u + seed * 7u + (i >> 9)) & 0xffu); }

/* Sends total bytes in writes of `chunk`, reading the echo at the same time; every echoed byte
   must match in order. Returns the bytes verified. */
static size_t echo_stream(int fd, size_t total, size_t chunk, uint64_t seed, double timeout_s) {
    unsigned char *out = malloc(chunk), in[65536];
    size_t sent = 0, got = 0, i;
    double deadline = now_s() + timeout_s;
    cr_assert_not_null(out);
    cr_assert_eq(fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK), 0);
    while (got < total) {
        struct pollfd p = { fd, (short)(POLLIN | (sent < total ? POLLOUT : 0)), 0 };
        cr_assert_lt(now_s(), deadline, "echo stalled: sent %zu of %zu, got %zu", sent, total, got);
        if (poll(&p, 1, 100) <= 0) continue;
        if (sent < total && (p.revents & POLLOUT)) {
            size_t n = total - sent < chunk ? total - sent : chunk;
            ssize_t w;
            for (i = 0; i < n; i++) out[i] = pattern(seed, sent + i);
            w = send(fd, out, n, MSG_NOSIGNAL);
            if (w > 0) sent += (size_t)w;
            else cr_assert(w < 0 && (errno == EAGAIN || errno == EINTR), "send: %s", strerror(errno));
        }
        if (p.revents & (POLLIN | POLLHUP | POLLERR)) {
            ssize_t r = recv(fd, in, sizeof in, 0);
            if (r < 0 && (errno == EAGAIN || errno == EINTR)) continue;
            cr_assert_gt(r, 0, "echo ended early at %zu of %zu: %s", got, total, r < 0 ? strerror(errno) : "EOF");
            for (i = 0; i < (size_t)r; i++)
                if (in[i] != pattern(seed, got + i)) cr_assert_fail("byte %zu differs", got + i);
            got += (size_t)r;
        }
    }
    free(out);
    return got;
}

/* ---- tests ----------------------------------------------------------------------------------- */

Test(server, echo_round_trip, .timeout = 15) {
    zenith_server_config cfg = default_cfg();
    zenith_server_stats st;
    srv_t t;
    int fd;
    char buf[64];
    srv_start(&t, &cfg, 0);
    fd = dial(zenith_server_port(t.s));
    cr_assert_eq(send(fd, "hello zenith", 12, 0), 12);
    cr_assert_eq(recv(fd, buf, 12, MSG_WAITALL), 12);
    cr_assert_eq(memcmp(buf, "hello zenith", 12), 0);
    close(fd);
    srv_stop(&t, &st);
    cr_assert_eq(st.connections_accepted, 1);
    cr_assert_eq(st.bytes_in, 12);
    cr_assert_eq(st.bytes_out, 12);
}

Test(server, echo_stream_copy_and_zerocopy, .timeout = 30) {
    static const size_t totals[] = { 1, 4096, 100000, 600000, 3u << 20 };
    int mode;
    for (mode = 0; mode < 2; mode++) {
        zenith_server_config cfg = default_cfg();
        srv_t t;
        size_t k;
        srv_start(&t, &cfg, mode);
        for (k = 0; k < sizeof totals / sizeof totals[0]; k++) {
            int fd = dial(zenith_server_port(t.s));
            cr_assert_eq(echo_stream(fd, totals[k], 65536, k, 10.0), totals[k], "mode %d, %zu bytes", mode, totals[k]);
            close(fd);
        }
        srv_stop(&t, NULL);
    }
}
