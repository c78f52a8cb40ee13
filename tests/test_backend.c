/* Backend selection: which event backend a reactor runs on (zenith_server_config.backend, the
   ZENITH_BACKEND environment variable, io_uring's refusal) and what zenith_server_backend_info
   says about it.

   - bad input: NULL, a too small struct_size (nothing written), backend out of range, a
     ZENITH_BACKEND value that means nothing;
   - who decides: the config over the environment, the environment over the default;
   - the fallback: in a forked child with a seccomp filter refusing io_uring_setup (EPERM as a
     container's default profile does, or ENOSYS as a kernel built without io_uring; also with
     epoll_pwait2 refused, as older profiles did), auto serves real traffic on epoll (every byte
     echoed and checked, a timer never early, the pool's in_use back where it was) and says why,
     while a reactor that insists on io_uring fails with ZENITH_E_URING_DISABLED;
   - the echo example, started unchanged under that filter, serves 1 MiB on epoll, prints why,
     and exits 0 on SIGTERM (ZENITH_BUILD_DIR/examples/echo_server must be built).
   One test is disabled: io_uring_register refused with io_uring_setup allowed (see there).

   A forked child cannot report through Criterion: it fills a child_report, writes it to a pipe
   and _exits; the parent asserts on it. */
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
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef ZENITH_BUILD_DIR
#define ZENITH_BUILD_DIR "build"
#endif
#define ECHO_SERVER ZENITH_BUILD_DIR "/examples/echo_server"

/* ---- helpers ---------------------------------------------------------------------------------- */

/* Every reactor of this suite starts from this config (small: these tests are about selection). */
static zenith_server_config backend_cfg(uint32_t backend) {
    zenith_server_config c;
    memset(&c, 0, sizeof c);
    c.buffer_count = 1024;
    c.recv_buffers = 256;
    c.max_connections = 64;
    c.backend = backend;
    return c;
}

/* Creates a server that must come up (the backend it lands on is what the caller checks). */
static zenith_server *must_create(uint32_t backend) {
    zenith_server_config c = backend_cfg(backend);
    int err = 12345;
    zenith_server *s = zenith_server_create(&c, &err);
    cr_assert_not_null(s, "zenith_server_create(backend %u) failed: %d %s", backend, err, zenith_errname(err));
    cr_assert_eq(err, 0);
    return s;
}

/* The create error for a config that must fail (no server). */
static int create_fails(uint32_t backend) {
    zenith_server_config c = backend_cfg(backend);
    int err = 0;
    zenith_server *s = zenith_server_create(&c, &err);
    if (s) zenith_server_destroy(s);
    cr_assert_null(s, "zenith_server_create(backend %u) succeeded, should fail", backend);
    return err;
}

/* Fills and checks the invariants every info has; returns it. */
static zenith_backend_info info_of_server(const zenith_server *s) {
    zenith_backend_info i;
    memset(&i, 0xa5, sizeof i);
    i.struct_size = 0;
    cr_assert_eq(zenith_server_backend_info(s, &i), 0);
    cr_assert_eq(i.struct_size, sizeof i);
    cr_assert(i.backend == ZENITH_BACKEND_IO_URING || i.backend == ZENITH_BACKEND_EPOLL, "backend %d", i.backend);
    cr_assert_not_null(i.name);
    cr_assert_str_eq(i.name, i.backend == ZENITH_BACKEND_EPOLL ? "epoll" : "io_uring");
    cr_assert_not_null(i.why);
    cr_assert_eq(strncmp(i.why, i.name, strlen(i.name)), 0, "why does not start with the name: \"%s\"", i.why);
    cr_assert_eq(i.why[strlen(i.name)], ':', "why: \"%s\"", i.why);
    cr_assert_eq(i.reserved_, 0u);
    if (i.reason != ZENITH_BACKEND_FALLBACK) {
        cr_assert_eq(i.uring_errno, 0, "uring_errno %d without a fallback", i.uring_errno);
        cr_assert_eq(i.uring_sysctl, 0, "uring_sysctl %d without a fallback", i.uring_sysctl);
    }
    return i;
}

/* 1 if this kernel (and this process's filters) let io_uring_setup make a ring. */
static int uring_allowed(void) {
    unsigned char params[120]; /* struct io_uring_params: 120 bytes */
    long fd;
    memset(params, 0, sizeof params);
    fd = syscall(__NR_io_uring_setup, 4u, params);
    if (fd < 0) return 0;
    close((int)fd);
    return 1;
}

/* kernel.io_uring_disabled, -1 if unreadable. */
static int uring_sysctl_now(void) {
    char b[8];
    ssize_t n;
    int fd = open("/proc/sys/kernel/io_uring_disabled", O_RDONLY | O_CLOEXEC);
    if (fd < 0) return -1;
    n = read(fd, b, sizeof b - 1u);
    close(fd);
    return n > 0 && b[0] >= '0' && b[0] <= '9' ? b[0] - '0' : -1;
}

static unsigned char pattern(uint64_t seed, size_t i) {
    return (unsigned char)((i * 131u + seed * 7u + (i >> 9) + (i >> 17)) & 0xffu);
}

/* ---- a client flow: patterned bytes out, the echo back and checked byte for byte ------------- */

typedef struct {
    int fd;
    uint64_t seed;
    size_t len, sent, got;
} flow;

/* A blocking connect to 127.0.0.1:port (the handshake completes in the kernel's backlog, so this
   works with the server on the same thread), then non-blocking. Returns the fd or -errno. No
   Criterion: used in forked children too. */
static int connect_loopback(uint16_t port) {
    struct sockaddr_in a;
    int one = 1, e, fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return -errno;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        e = errno;
        close(fd);
        return -e;
    }
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) != 0) {
        e = errno;
        close(fd);
        return -e;
    }
    return fd;
}

/* One non-blocking step: sends what the socket takes, reads what came back and checks every byte
   against what was sent. Returns 0, or -1 with the reason in msg. */
static int flow_step(flow *f, char *msg, size_t cap) {
    unsigned char buf[16384];
    size_t i, n;
    ssize_t r;
    while (f->sent < f->len) {
        n = f->len - f->sent < sizeof buf ? f->len - f->sent : sizeof buf;
        for (i = 0; i < n; i++) buf[i] = pattern(f->seed, f->sent + i);
        r = send(f->fd, buf, n, MSG_NOSIGNAL);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
        if (r < 0) {
            snprintf(msg, cap, "flow %llu: send after %zu bytes: %s", (unsigned long long)f->seed, f->sent,
                     strerror(errno));
            return -1;
        }
        f->sent += (size_t)r;
    }
    for (;;) {
        r = recv(f->fd, buf, sizeof buf, 0);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
        if (r < 0) {
            snprintf(msg, cap, "flow %llu: recv after %zu of %zu bytes: %s", (unsigned long long)f->seed, f->got,
                     f->len, strerror(errno));
            return -1;
        }
        if (r == 0) {
            snprintf(msg, cap, "flow %llu: EOF after %zu of %zu bytes echoed", (unsigned long long)f->seed, f->got,
                     f->len);
            return -1;
        }
        if (f->got + (size_t)r > f->len) {
            snprintf(msg, cap, "flow %llu: %zu bytes echoed, only %zu sent", (unsigned long long)f->seed,
                     f->got + (size_t)r, f->len);
            return -1;
        }
        for (i = 0; i < (size_t)r; i++)
            if (buf[i] != pattern(f->seed, f->got + i)) {
                snprintf(msg, cap, "flow %llu: echoed byte %zu is %#x, sent %#x", (unsigned long long)f->seed,
                         f->got + i, buf[i], pattern(f->seed, f->got + i));
                return -1;
            }
        f->got += (size_t)r;
    }
    return 0;
}

/* ---- forked children: a report through a pipe ------------------------------------------------- */

enum scenario {
    SC_AUTO_ECHO,    /* auto: create, then serve real traffic */
    SC_CONFIG_URING, /* config IO_URING: create must fail */
    SC_ENV_URING,    /* ZENITH_BACKEND=io_uring, config auto: create must fail */
    SC_ENV_EPOLL,    /* ZENITH_BACKEND=epoll, config auto */
    SC_CONFIG_EPOLL  /* config EPOLL, ZENITH_BACKEND=io_uring */
};

typedef struct {
    int done;       /* 1: the child got to the end (every check it made passed) */
    int line;       /* the child's failed check, if not done */
    char msg[200];  /* ... and what it saw */
    int create_err; /* zenith_server_create's *err */
    int have_server;
    int backend, reason, uring_errno, uring_sysctl;
    int ring_null; /* zenith_server_ring returned NULL */
    char name[16];
    char why[200];
    int flows_verified;
    unsigned long long bytes; /* sent by the clients (and echoed back) in all */
    unsigned long long bytes_in, bytes_out, accepted;
    int accepts, closes, peer_closes, send_errors;
    unsigned long long in_use_before, in_use_after; /* the pool's, around the traffic */
    int timer_fired;
    double timer_ms; /* a TIMER_MS one-shot armed before the traffic fired this long after */
} child_report;

typedef struct {
    zenith_server *s;
    int accepts, closes, peer_closes, send_errors;
    int timer_fired;
    double timer_at;
} echo_ctx;

#define TIMER_MS 25u

static void ec_timer(void *user, zenith_timer_id timer) {
    echo_ctx *e = (echo_ctx *)user;
    (void)timer;
    e->timer_fired++;
    e->timer_at = now_s();
}

static void ec_accept(void *user, zenith_conn_id conn) {
    (void)conn;
    ((echo_ctx *)user)->accepts++;
}

static void ec_data(void *user, zenith_conn_id conn, const uint8_t *data, size_t len) {
    echo_ctx *e = (echo_ctx *)user;
    if (zenith_server_send(e->s, conn, data, len) != 0) {
        e->send_errors++;
        zenith_server_close(e->s, conn, ZENITH_CLOSE_ABORT);
    }
}

static void ec_close(void *user, zenith_conn_id conn, int reason) {
    echo_ctx *e = (echo_ctx *)user;
    (void)conn;
    e->closes++;
    if (reason == ZENITH_CLOSE_PEER) e->peer_closes++;
}

#define CHILD_CHECK(cond, ...)                            \
    do {                                                  \
        if (!(cond)) {                                    \
            r->line = __LINE__;                           \
            snprintf(r->msg, sizeof r->msg, __VA_ARGS__); \
            return;                                       \
        }                                                 \
    } while (0)

#define ECHO_FLOWS 3
#define ECHO_FLOW_BYTES 20000u /* not a multiple of the buffer size */

/* Serves real traffic on s (single thread: the clients are non-blocking sockets stepped between
   bounded run_once calls), then closes the clients and waits for every on_close. */
static void child_echo(zenith_server *s, child_report *r) {
    echo_ctx e;
    flow f[ECHO_FLOWS];
    zenith_server_stats st;
    zenith_pool_stats ps;
    char msg[sizeof r->msg];
    double deadline, armed;
    int i, iter, rc, done = 0;
    uint16_t port = zenith_server_port(s);
    memset(&e, 0, sizeof e);
    e.s = s;
    CHILD_CHECK(port != 0, "no port");
    CHILD_CHECK(zenith_server_set_callbacks(s, ec_accept, ec_data, ec_close, &e) == 0, "set_callbacks");
    CHILD_CHECK((rc = zenith_server_start(s)) == 0, "start: %s", zenith_errname(rc));
    CHILD_CHECK(zenith_server_run_once(s, 0) >= 0, "first run_once");
    CHILD_CHECK(zenith_pool_get_stats(zenith_server_pool(s), &ps) == 0, "pool stats");
    r->in_use_before = ps.in_use;
    armed = now_s();
    CHILD_CHECK((rc = zenith_server_timer_start(s, TIMER_MS, 0, ec_timer, &e, NULL)) == 0, "timer_start: %s",
                zenith_errname(rc));
    for (i = 0; i < ECHO_FLOWS; i++) {
        f[i].fd = connect_loopback(port);
        CHILD_CHECK(f[i].fd >= 0, "connect to port %u: %s", (unsigned)port, strerror(-f[i].fd));
        f[i].seed = (uint64_t)i + 1u;
        f[i].len = ECHO_FLOW_BYTES + (size_t)i * 1111u;
        f[i].sent = f[i].got = 0;
        r->bytes += f[i].len;
    }
    deadline = now_s() + 15.0;
    for (iter = 0; iter < 5000 && done < ECHO_FLOWS && now_s() < deadline; iter++) {
        for (i = 0; i < ECHO_FLOWS; i++) CHILD_CHECK(flow_step(&f[i], msg, sizeof msg) == 0, "%s", msg);
        CHILD_CHECK((rc = zenith_server_run_once(s, 10)) >= 0, "run_once: %s", zenith_errname(rc));
        for (done = 0, i = 0; i < ECHO_FLOWS; i++) done += f[i].got == f[i].len;
    }
    for (i = 0; i < ECHO_FLOWS; i++)
        CHILD_CHECK(f[i].got == f[i].len, "flow %d: %zu of %zu bytes sent, %zu echoed after %d loops", i, f[i].sent,
                    f[i].len, f[i].got, iter);
    r->flows_verified = done;
    for (i = 0; i < ECHO_FLOWS; i++) close(f[i].fd);
    for (iter = 0; iter < 500 && (e.closes < ECHO_FLOWS || !e.timer_fired); iter++)
        CHILD_CHECK((rc = zenith_server_run_once(s, 10)) >= 0, "run_once: %s", zenith_errname(rc));
    r->timer_fired = e.timer_fired;
    r->timer_ms = e.timer_fired ? (e.timer_at - armed) * 1000.0 : -1.0;
    CHILD_CHECK(zenith_server_get_stats(s, &st) == 0, "stats");
    CHILD_CHECK(zenith_pool_get_stats(zenith_server_pool(s), &ps) == 0, "pool stats");
    r->in_use_after = ps.in_use;
    r->bytes_in = st.bytes_in;
    r->bytes_out = st.bytes_out;
    r->accepted = st.connections_accepted;
    r->accepts = e.accepts;
    r->closes = e.closes;
    r->peer_closes = e.peer_closes;
    r->send_errors = e.send_errors;
    CHILD_CHECK(zenith_server_shutdown(s, 1000) >= 0, "shutdown");
    r->done = 1;
}

/* The system calls a child refuses. */
typedef struct {
    int nrs[4];
    unsigned n;
    int err; /* the errno they fail with */
} denial;

static const denial DENY_SETUP_EPERM = { { __NR_io_uring_setup }, 1, EPERM };
static const denial DENY_SETUP_ENOSYS = { { __NR_io_uring_setup }, 1, ENOSYS };

/* The child's work: install the filter, set the environment, create. */
static void child_main(const denial *d, enum scenario sc, child_report *r) {
    zenith_server_config c;
    zenith_backend_info i;
    zenith_server *s;
    int rc;
    deny_syscalls(d->err, d->nrs, d->n);
    if (d->nrs[0] == __NR_io_uring_setup) CHILD_CHECK(!uring_allowed(), "io_uring_setup still works under the filter");
    unsetenv("ZENITH_BACKEND");
    if (sc == SC_ENV_URING || sc == SC_CONFIG_EPOLL) setenv("ZENITH_BACKEND", "io_uring", 1);
    if (sc == SC_ENV_EPOLL) setenv("ZENITH_BACKEND", "epoll", 1);
    c = backend_cfg(sc == SC_CONFIG_URING   ? ZENITH_BACKEND_IO_URING
                    : sc == SC_CONFIG_EPOLL ? ZENITH_BACKEND_EPOLL
                                            : ZENITH_BACKEND_AUTO);
    r->create_err = 12345;
    s = zenith_server_create(&c, &r->create_err);
    unsetenv("ZENITH_BACKEND");
    r->have_server = s != NULL;
    if (s == NULL) {
        r->done = 1;
        return;
    }
    memset(&i, 0, sizeof i);
    rc = zenith_server_backend_info(s, &i);
    CHILD_CHECK(rc == 0, "backend_info: %s", zenith_errname(rc));
    r->backend = i.backend;
    r->reason = i.reason;
    r->uring_errno = i.uring_errno;
    r->uring_sysctl = i.uring_sysctl;
    r->ring_null = zenith_server_ring(s) == NULL;
    snprintf(r->name, sizeof r->name, "%s", i.name ? i.name : "(null)");
    snprintf(r->why, sizeof r->why, "%s", i.why ? i.why : "(null)");
    if (sc == SC_AUTO_ECHO)
        child_echo(s, r);
    else
        r->done = 1;
    zenith_server_destroy(s);
}

/* Runs child_main in a forked child and returns its report (asserting it came, whole, and that
   the child exited 0 in time). */
static child_report run_child(const denial *d, enum scenario sc) {
    child_report r;
    int p[2], status = 0;
    size_t got = 0;
    pid_t pid, w;
    double deadline = now_s() + 30.0;
    pid_t parent = getpid();
    memset(&r, 0, sizeof r);
    cr_assert_leq(sizeof r, (size_t)PIPE_BUF, "the report must fit one atomic pipe write");
    cr_assert_eq(pipe(p), 0);
    pid = fork();
    cr_assert_geq(pid, 0, "fork: %s", strerror(errno));
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent) _exit(127);
        close(p[0]);
        child_main(d, sc, &r);
        _exit(write(p[1], &r, sizeof r) == (ssize_t)sizeof r ? 0 : 3);
    }
    close(p[1]);
    while (got < sizeof r && now_s() < deadline) {
        struct pollfd pf = { p[0], POLLIN, 0 };
        ssize_t n;
        if (poll(&pf, 1, 100) <= 0) continue;
        n = read(p[0], (char *)&r + got, sizeof r - got);
        if (n <= 0) break;
        got += (size_t)n;
    }
    close(p[0]);
    while ((w = waitpid(pid, &status, WNOHANG)) == 0 && now_s() < deadline) usleep(10000);
    if (w == 0) {
        kill(pid, SIGKILL); /* our own child, by its pid */
        waitpid(pid, &status, 0);
        cr_assert_fail("the child (pid %d) did not exit within 30 s", (int)pid);
    }
    cr_assert_eq(w, pid);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "the child ended with status %#x (signal %d)", status,
              WIFSIGNALED(status) ? WTERMSIG(status) : 0);
    cr_assert_eq(got, sizeof r, "the child's report: %zu of %zu bytes", got, sizeof r);
    cr_assert(r.done, "in the child, line %d: %s", r.line, r.msg);
    return r;
}

/* A report of a server that fell back to epoll because io_uring_setup failed with errno want. */
static void assert_fell_back(const child_report *r, int want) {
    int sysctl = uring_sysctl_now();
    cr_assert(r->have_server, "auto under the filter: create failed: %d %s", r->create_err,
              zenith_errname(r->create_err));
    cr_assert_eq(r->create_err, 0);
    cr_assert_eq(r->backend, ZENITH_BACKEND_EPOLL, "backend %d (%s)", r->backend, r->name);
    cr_assert_str_eq(r->name, "epoll");
    cr_assert_eq(r->reason, ZENITH_BACKEND_FALLBACK, "reason %d, why \"%s\"", r->reason, r->why);
    cr_assert_eq(r->uring_errno, want, "uring_errno %d (%s), want %d", r->uring_errno, strerror(r->uring_errno), want);
    cr_assert_eq(r->uring_sysctl, sysctl, "uring_sysctl %d, /proc says %d", r->uring_sysctl, sysctl);
    cr_assert(r->ring_null, "zenith_server_ring must be NULL on epoll");
    cr_assert_eq(strncmp(r->why, "epoll: io_uring refused by the kernel (", 39), 0, "why: \"%s\"", r->why);
    if (want == ENOSYS)
        cr_assert_not_null(strstr(r->why, "ENOSYS"), "why: \"%s\"", r->why);
    else if (sysctl <= 0)
        cr_assert_not_null(strstr(r->why, "EPERM: a seccomp filter"), "why: \"%s\"", r->why);
}

/* The traffic part of a report. */
static void assert_echoed(const child_report *r) {
    cr_assert_eq(r->flows_verified, ECHO_FLOWS);
    cr_assert_eq(r->accepts, ECHO_FLOWS, "on_accept ran %d times", r->accepts);
    cr_assert_eq(r->accepted, (unsigned long long)ECHO_FLOWS);
    cr_assert_eq(r->send_errors, 0, "zenith_server_send failed %d times", r->send_errors);
    cr_assert_eq(r->bytes_in, r->bytes, "bytes_in %llu, sent %llu", r->bytes_in, r->bytes);
    cr_assert_eq(r->bytes_out, r->bytes, "bytes_out %llu, echoed %llu", r->bytes_out, r->bytes);
    cr_assert_eq(r->closes, ECHO_FLOWS, "on_close ran %d times for %d closed clients", r->closes, ECHO_FLOWS);
    cr_assert_eq(r->peer_closes, ECHO_FLOWS, "%d of %d closes were ZENITH_CLOSE_PEER", r->peer_closes, ECHO_FLOWS);
    cr_assert_eq(r->in_use_after, r->in_use_before, "pool in_use %llu after the traffic, %llu before", r->in_use_after,
                 r->in_use_before);
    cr_assert_eq(r->timer_fired, 1, "the %u ms timer fired %d times", TIMER_MS, r->timer_fired);
    cr_assert_geq(r->timer_ms, (double)TIMER_MS, "the %u ms timer fired early: %.3f ms", TIMER_MS, r->timer_ms);
    cr_assert_lt(r->timer_ms, 2000.0, "the %u ms timer fired after %.3f ms", TIMER_MS, r->timer_ms);
}

/* ---- 1. bad input ------------------------------------------------------------------------------ */

Test(backend, info_bad_input, .timeout = 10) {
    zenith_server *s = must_create(ZENITH_BACKEND_EPOLL);
    zenith_backend_info i;
    unsigned char *raw = (unsigned char *)&i;
    size_t k;
    memset(&i, 0, sizeof i);
    cr_assert_eq(zenith_server_backend_info(NULL, &i), ZENITH_E_NULL);
    cr_assert_eq(zenith_server_backend_info(s, NULL), ZENITH_E_NULL);
    cr_assert_eq(zenith_server_backend_info(NULL, NULL), ZENITH_E_NULL);
    /* too small: refused, nothing written */
    memset(&i, 0xa5, sizeof i);
    i.struct_size = 4;
    cr_assert_eq(zenith_server_backend_info(s, &i), ZENITH_E_INVAL);
    cr_assert_eq(i.struct_size, 4u);
    for (k = sizeof i.struct_size; k < sizeof i; k++) cr_assert_eq(raw[k], 0xa5, "byte %zu written", k);
    i.struct_size = (uint32_t)sizeof i - 1u;
    cr_assert_eq(zenith_server_backend_info(s, &i), ZENITH_E_INVAL);
    for (k = sizeof i.struct_size; k < sizeof i; k++) cr_assert_eq(raw[k], 0xa5, "byte %zu written", k);
    /* exactly this layout, or a larger one (a newer caller): filled */
    i.struct_size = (uint32_t)sizeof i;
    cr_assert_eq(zenith_server_backend_info(s, &i), 0);
    cr_assert_eq(i.struct_size, sizeof i);
    cr_assert_eq(i.backend, ZENITH_BACKEND_EPOLL);
    memset(&i, 0xa5, sizeof i);
    i.struct_size = 0;
    cr_assert_eq(zenith_server_backend_info(s, &i), 0);
    cr_assert_eq(i.struct_size, sizeof i);
    cr_assert_eq(i.reason, ZENITH_BACKEND_BY_CONFIG);
    zenith_server_destroy(s);
}

Test(backend, config_backend_out_of_range, .timeout = 10) {
    unsetenv("ZENITH_BACKEND");
    cr_assert_eq(create_fails(3), ZENITH_E_INVAL);
    cr_assert_eq(create_fails(0xffffffffu), ZENITH_E_INVAL);
    /* the environment cannot rescue a bad config field */
    setenv("ZENITH_BACKEND", "epoll", 1);
    cr_assert_eq(create_fails(3), ZENITH_E_INVAL);
    unsetenv("ZENITH_BACKEND");
}

Test(backend, env_value_that_means_nothing, .timeout = 10) {
    static const char *const bad[] = { "bogus", "EPOLL", "uring", "epoll ", "io-uring" };
    size_t k;
    for (k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        setenv("ZENITH_BACKEND", bad[k], 1);
        cr_assert_eq(create_fails(ZENITH_BACKEND_AUTO), ZENITH_E_INVAL, "ZENITH_BACKEND=\"%s\"", bad[k]);
    }
    /* a config that names its backend never reads the environment */
    setenv("ZENITH_BACKEND", "bogus", 1);
    {
        zenith_server *s = must_create(ZENITH_BACKEND_EPOLL);
        zenith_backend_info i = info_of_server(s);
        cr_assert_eq(i.backend, ZENITH_BACKEND_EPOLL);
        cr_assert_eq(i.reason, ZENITH_BACKEND_BY_CONFIG);
        zenith_server_destroy(s);
    }
    unsetenv("ZENITH_BACKEND");
}

/* ---- 2. who decides --------------------------------------------------------------------------- */

Test(backend, config_wins_over_env, .timeout = 10) {
    zenith_server *s;
    zenith_backend_info i;
    setenv("ZENITH_BACKEND", "io_uring", 1);
    s = must_create(ZENITH_BACKEND_EPOLL);
    unsetenv("ZENITH_BACKEND");
    i = info_of_server(s);
    cr_assert_eq(i.backend, ZENITH_BACKEND_EPOLL);
    cr_assert_eq(i.reason, ZENITH_BACKEND_BY_CONFIG);
    cr_assert_str_eq(i.name, "epoll");
    cr_assert_not_null(strstr(i.why, "zenith_server_config.backend"), "why: \"%s\"", i.why);
    cr_assert_null(zenith_server_ring(s), "a ring on the epoll backend");
    cr_assert_not_null(zenith_server_pool(s));
    zenith_server_destroy(s);
}

Test(backend, env_epoll_with_config_auto, .timeout = 10) {
    zenith_server *s;
    zenith_backend_info i;
    setenv("ZENITH_BACKEND", "epoll", 1);
    s = must_create(ZENITH_BACKEND_AUTO);
    unsetenv("ZENITH_BACKEND");
    i = info_of_server(s);
    cr_assert_eq(i.backend, ZENITH_BACKEND_EPOLL);
    cr_assert_eq(i.reason, ZENITH_BACKEND_BY_ENV);
    cr_assert_str_eq(i.name, "epoll");
    cr_assert_not_null(strstr(i.why, "ZENITH_BACKEND=epoll"), "why: \"%s\"", i.why);
    cr_assert_null(zenith_server_ring(s));
    /* the environment is read at create: the info does not change with it afterwards */
    setenv("ZENITH_BACKEND", "io_uring", 1);
    i = info_of_server(s);
    cr_assert_eq(i.backend, ZENITH_BACKEND_EPOLL);
    cr_assert_eq(i.reason, ZENITH_BACKEND_BY_ENV);
    unsetenv("ZENITH_BACKEND");
    zenith_server_destroy(s);
}

Test(backend, env_unset_auto_is_io_uring_by_default, .timeout = 10) {
    static const char *const unset_like[] = { NULL, "", "auto" };
    size_t k;
    if (!uring_allowed()) cr_skip("io_uring_setup is refused in this environment: auto cannot pick io_uring");
    for (k = 0; k < sizeof unset_like / sizeof unset_like[0]; k++) {
        zenith_server *s;
        zenith_backend_info i;
        if (unset_like[k])
            setenv("ZENITH_BACKEND", unset_like[k], 1);
        else
            unsetenv("ZENITH_BACKEND");
        s = must_create(ZENITH_BACKEND_AUTO);
        unsetenv("ZENITH_BACKEND");
        i = info_of_server(s);
        cr_assert_eq(i.backend, ZENITH_BACKEND_IO_URING, "ZENITH_BACKEND=%s: backend %s", unset_like[k], i.name);
        cr_assert_eq(i.reason, ZENITH_BACKEND_BY_DEFAULT, "ZENITH_BACKEND=%s: reason %d", unset_like[k], i.reason);
        cr_assert_str_eq(i.name, "io_uring");
        cr_assert_not_null(zenith_server_ring(s), "no ring on the io_uring backend");
        zenith_server_destroy(s);
    }
}

Test(backend, config_io_uring_by_config, .timeout = 10) {
    zenith_server *s;
    zenith_backend_info i;
    if (!uring_allowed()) cr_skip("io_uring_setup is refused in this environment");
    setenv("ZENITH_BACKEND", "epoll", 1); /* the config wins over this too */
    s = must_create(ZENITH_BACKEND_IO_URING);
    unsetenv("ZENITH_BACKEND");
    i = info_of_server(s);
    cr_assert_eq(i.backend, ZENITH_BACKEND_IO_URING);
    cr_assert_eq(i.reason, ZENITH_BACKEND_BY_CONFIG);
    cr_assert_str_eq(i.name, "io_uring");
    cr_assert_not_null(strstr(i.why, "zenith_server_config.backend"), "why: \"%s\"", i.why);
    cr_assert_not_null(zenith_server_ring(s));
    zenith_server_destroy(s);
}

Test(backend, env_io_uring_by_env, .timeout = 10) {
    zenith_server *s;
    zenith_backend_info i;
    if (!uring_allowed()) cr_skip("io_uring_setup is refused in this environment");
    setenv("ZENITH_BACKEND", "io_uring", 1);
    s = must_create(ZENITH_BACKEND_AUTO);
    unsetenv("ZENITH_BACKEND");
    i = info_of_server(s);
    cr_assert_eq(i.backend, ZENITH_BACKEND_IO_URING);
    cr_assert_eq(i.reason, ZENITH_BACKEND_BY_ENV);
    cr_assert_not_null(strstr(i.why, "ZENITH_BACKEND=io_uring"), "why: \"%s\"", i.why);
    zenith_server_destroy(s);
}

/* ---- 3. io_uring refused: a seccomp filter in a forked child ----------------------------------- */

Test(backend, seccomp_eperm_auto_falls_back_and_serves, .timeout = 60) {
    child_report r = run_child(&DENY_SETUP_EPERM, SC_AUTO_ECHO);
    assert_fell_back(&r, EPERM);
    assert_echoed(&r);
}

Test(backend, seccomp_enosys_auto_falls_back_and_serves, .timeout = 60) {
    child_report r = run_child(&DENY_SETUP_ENOSYS, SC_AUTO_ECHO);
    assert_fell_back(&r, ENOSYS);
    assert_echoed(&r);
}

Test(backend, seccomp_config_io_uring_fails, .timeout = 30) {
    static const denial *const ds[] = { &DENY_SETUP_EPERM, &DENY_SETUP_ENOSYS };
    static const int errs[] = { EPERM, ENOSYS };
    size_t k;
    for (k = 0; k < 2; k++) {
        child_report r = run_child(ds[k], SC_CONFIG_URING);
        cr_assert_not(r.have_server, "config IO_URING under a filter (%s): created on %s", strerror(errs[k]), r.name);
        cr_assert_eq(r.create_err, ZENITH_E_URING_DISABLED, "%s: create failed with %d %s", strerror(errs[k]),
                     r.create_err, zenith_errname(r.create_err));
    }
}

Test(backend, seccomp_env_io_uring_fails, .timeout = 30) {
    child_report r = run_child(&DENY_SETUP_EPERM, SC_ENV_URING);
    cr_assert_not(r.have_server, "ZENITH_BACKEND=io_uring under a filter: created on %s (%s)", r.name, r.why);
    cr_assert_eq(r.create_err, ZENITH_E_URING_DISABLED, "create failed with %d %s", r.create_err,
                 zenith_errname(r.create_err));
}

Test(backend, seccomp_asked_for_epoll_is_no_fallback, .timeout = 30) {
    child_report r = run_child(&DENY_SETUP_EPERM, SC_ENV_EPOLL);
    cr_assert(r.have_server, "create failed: %s", zenith_errname(r.create_err));
    cr_assert_eq(r.backend, ZENITH_BACKEND_EPOLL);
    cr_assert_eq(r.reason, ZENITH_BACKEND_BY_ENV, "reason %d (%s)", r.reason, r.why);
    cr_assert_eq(r.uring_errno, 0);
    r = run_child(&DENY_SETUP_EPERM, SC_CONFIG_EPOLL);
    cr_assert(r.have_server, "create failed: %s", zenith_errname(r.create_err));
    cr_assert_eq(r.backend, ZENITH_BACKEND_EPOLL);
    cr_assert_eq(r.reason, ZENITH_BACKEND_BY_CONFIG, "reason %d (%s)", r.reason, r.why);
    cr_assert_eq(r.uring_errno, 0);
}

#ifdef __NR_epoll_pwait2
/* An older container profile (Docker before 20.10.x: EPERM for every system call it does not
   know) refuses epoll_pwait2 as well: the fallback must wait with epoll_wait, timers included. */
Test(backend, seccomp_old_profile_without_epoll_pwait2, .timeout = 60) {
    static const denial d = { { __NR_io_uring_setup, __NR_epoll_pwait2 }, 2, EPERM };
    child_report r = run_child(&d, SC_AUTO_ECHO);
    assert_fell_back(&r, EPERM);
    assert_echoed(&r);
}
#endif

/* io_uring_setup allowed but io_uring_register refused (a sandbox that filters only register,
   and what a kernel before 5.19 answers for provided-buffer rings: EINVAL): auto should still
   serve, on epoll. Today zenith_server_create fails with ZENITH_E_UNSUPPORTED (the fallback is
   taken for ZENITH_E_URING_DISABLED only). Disabled until zenith.h covers it. */
Test(backend, seccomp_register_refused_auto_falls_back, .timeout = 60) {
    static const denial d = { { __NR_io_uring_register }, 1, EPERM };
    child_report r = run_child(&d, SC_AUTO_ECHO);
    cr_assert(r.have_server, "auto with io_uring_register refused: create failed with %d %s", r.create_err,
              zenith_errname(r.create_err));
    cr_assert_eq(r.backend, ZENITH_BACKEND_EPOLL, "backend %s (%s)", r.name, r.why);
    cr_assert_eq(r.reason, ZENITH_BACKEND_FALLBACK, "reason %d (%s)", r.reason, r.why);
    cr_assert_neq(r.uring_errno, 0, "uring_errno %d (%s)", r.uring_errno,
                  r.why); /* EOPNOTSUPP: the step said "unsupported" */
    cr_assert_not_null(strstr(r.why, "io_uring unusable here"), "why: %s", r.why);
    assert_echoed(&r);
}

/* ---- 4. the echo example, unchanged, under the filter ----------------------------------------- */

typedef struct {
    int fd;         /* the example's stdout */
    char buf[8192]; /* everything it printed so far */
    size_t len;
    int eof;
} child_out;

/* Reads what is there within timeout_ms (one poll). */
static void out_read(child_out *o, int timeout_ms) {
    struct pollfd pf = { o->fd, POLLIN, 0 };
    ssize_t n;
    if (o->eof || poll(&pf, 1, timeout_ms) <= 0) return;
    n = read(o->fd, o->buf + o->len, sizeof o->buf - 1u - o->len);
    if (n <= 0)
        o->eof = 1;
    else
        o->len += (size_t)n;
    o->buf[o->len] = '\0';
}

/* The k-th (0-based) complete line into line, or 0 if not printed (yet). */
static int out_line(const child_out *o, int k, char *line, size_t cap) {
    const char *p = o->buf, *nl;
    while ((nl = memchr(p, '\n', (size_t)(o->buf + o->len - p))) != NULL) {
        if (k-- == 0) {
            snprintf(line, cap, "%.*s", (int)(nl - p), p);
            return 1;
        }
        p = nl + 1;
    }
    return 0;
}

/* The first complete line starting with prefix, or 0. */
static int out_find(const child_out *o, const char *prefix, char *line, size_t cap) {
    int k;
    for (k = 0; out_line(o, k, line, cap); k++)
        if (strncmp(line, prefix, strlen(prefix)) == 0) return 1;
    return 0;
}

/* What the example wrote to stderr (an unlinked temporary file), for failure messages. */
static const char *err_text(int fd, char *buf, size_t cap) {
    ssize_t n = pread(fd, buf, cap - 1u, 0);
    buf[n > 0 ? (size_t)n : 0u] = '\0';
    return buf;
}

#define EX_CLIENTS 8
#define EX_BYTES (1u << 20) /* in all, spread over the clients */

Test(backend, echo_example_under_seccomp_serves_on_epoll_and_says_why, .timeout = 90) {
    static const char *const argv[] = { ECHO_SERVER, "-p", "0", NULL };
    child_out o;
    flow f[EX_CLIENTS];
    char line[512], errs[2048], msg[256], err_path[] = "/tmp/zenith_backend_err.XXXXXX";
    const char *colon;
    unsigned long long acc = 0, closed = 0, rej = 0, bin = 0, bout = 0, exh = 0, cerr = 0, aerr = 0;
    int out[2], err_fd, status = 0, i, done = 0, backend_line = -1;
    pid_t pid, w, parent = getpid();
    uint16_t port;
    double deadline;
    if (access(ECHO_SERVER, X_OK) != 0)
        cr_skip("%s is not built: run `make %s` (or give build/*/test_backend a dependency on it)", ECHO_SERVER,
                ECHO_SERVER);
    cr_assert_geq(err_fd = mkstemp(err_path), 0);
    unlink(err_path); /* gone with the last descriptor, whatever happens to this test */
    cr_assert_eq(pipe(out), 0);
    pid = fork();
    cr_assert_geq(pid, 0, "fork: %s", strerror(errno));
    if (pid == 0) {
        const int nr = __NR_io_uring_setup;
        sigset_t none;
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent) _exit(127);
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        signal(SIGINT, SIG_DFL);
        signal(SIGTERM, SIG_DFL);
        dup2(out[1], 1);
        dup2(err_fd, 2);
        close(out[0]);
        close(out[1]);
        close(err_fd);
        unsetenv("ZENITH_BACKEND");   /* auto: the example's own default */
        deny_syscalls(EPERM, &nr, 1); /* as a container's default seccomp profile does */
        execv(ECHO_SERVER, (char *const *)argv);
        _exit(127);
    }
    close(out[1]);
    memset(&o, 0, sizeof o);
    o.fd = out[0];

    /* "listening on 127.0.0.1:PORT" */
    deadline = now_s() + 10.0;
    while (!out_find(&o, "listening on ", line, sizeof line) && !o.eof && now_s() < deadline) out_read(&o, 100);
    if (!out_find(&o, "listening on ", line, sizeof line)) {
        kill(pid, SIGKILL);
        waitpid(pid, &status, 0);
        cr_assert_fail("no \"listening on\" line from the echo example under seccomp (%s); it printed \"%s\", "
                       "stderr \"%s\"",
                       o.eof ? "it exited" : "10 s", o.buf, err_text(err_fd, errs, sizeof errs));
    }
    colon = strrchr(line, ':');
    cr_assert_not_null(colon, "\"%s\"", line);
    port = (uint16_t)strtoul(colon + 1, NULL, 10);
    cr_assert_neq(port, 0, "\"%s\"", line);
    {
        char want[64];
        snprintf(want, sizeof want, "listening on 127.0.0.1:%u", (unsigned)port);
        cr_assert_str_eq(line, want);
    }

    /* 1 MiB of patterned bytes through EX_CLIENTS connections at once, every byte checked */
    for (i = 0; i < EX_CLIENTS; i++) {
        f[i].fd = connect_loopback(port);
        cr_assert_geq(f[i].fd, 0, "connect to the example: %s", strerror(-f[i].fd));
        f[i].seed = 100u + (uint64_t)i;
        f[i].len = EX_BYTES / EX_CLIENTS;
        f[i].sent = f[i].got = 0;
    }
    deadline = now_s() + 30.0;
    while (done < EX_CLIENTS && now_s() < deadline) {
        struct pollfd pf[EX_CLIENTS];
        for (i = 0; i < EX_CLIENTS; i++) {
            pf[i].fd = f[i].fd;
            pf[i].events = (short)(POLLIN | (f[i].sent < f[i].len ? POLLOUT : 0));
            pf[i].revents = 0;
        }
        poll(pf, EX_CLIENTS, 100);
        for (done = 0, i = 0; i < EX_CLIENTS; i++) {
            cr_assert_eq(flow_step(&f[i], msg, sizeof msg), 0, "%s (example stderr: \"%s\")", msg,
                         err_text(err_fd, errs, sizeof errs));
            done += f[i].got == f[i].len;
        }
        out_read(&o, 0);
    }
    for (i = 0; i < EX_CLIENTS; i++)
        cr_assert_eq(f[i].got, f[i].len, "client %d: %zu of %zu bytes sent, %zu echoed within 30 s", i, f[i].sent,
                     f[i].len, f[i].got);
    for (i = 0; i < EX_CLIENTS; i++) close(f[i].fd);

    /* the second line says which backend and why (printed at start-up: it must be there by now) */
    deadline = now_s() + 2.0;
    while (!out_line(&o, 1, line, sizeof line) && !o.eof && now_s() < deadline) out_read(&o, 100);
    for (i = 0; i < 2; i++)
        if (out_line(&o, i, line, sizeof line) && strncmp(line, "backend ", 8) == 0) backend_line = i;
    cr_expect_neq(backend_line, -1, "no \"backend ...\" line among the first two lines the example printed: \"%s\"",
                  o.buf);
    if (backend_line >= 0) {
        out_line(&o, backend_line, line, sizeof line);
        cr_expect_eq(strncmp(line, "backend epoll:", 14), 0, "the example runs on: \"%s\"", line);
        cr_expect_not_null(strstr(line, "seccomp"), "the reason does not mention seccomp: \"%s\"", line);
    }

    /* SIGTERM: exit 0 within a few seconds, with stats that count every byte */
    cr_assert_eq(kill(pid, SIGTERM), 0);
    deadline = now_s() + 5.0;
    while ((w = waitpid(pid, &status, WNOHANG)) == 0 && now_s() < deadline) usleep(10000);
    if (w == 0) {
        kill(pid, SIGKILL); /* our child, by its pid */
        waitpid(pid, &status, 0);
        cr_assert_fail("the echo example did not exit within 5 s of SIGTERM");
    }
    cr_assert_eq(w, pid);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0,
              "the echo example ended with status %#x (signal %d); stderr \"%s\"", status,
              WIFSIGNALED(status) ? WTERMSIG(status) : 0, err_text(err_fd, errs, sizeof errs));
    deadline = now_s() + 2.0;
    while (!o.eof && now_s() < deadline) out_read(&o, 100);
    close(o.fd);
    cr_assert(out_find(&o, "stats: ", line, sizeof line), "no stats line: \"%s\"", o.buf);
    cr_assert_eq(sscanf(line,
                        "stats: accepted %llu closed %llu rejected %llu bytes_in %llu bytes_out %llu "
                        "buffer_exhausted %llu conn_errors %llu accept_errors %llu",
                        &acc, &closed, &rej, &bin, &bout, &exh, &cerr, &aerr),
                 8, "\"%s\"", line);
    cr_assert_eq(acc, (unsigned long long)EX_CLIENTS, "\"%s\"", line);
    cr_assert_eq(rej, 0ull, "\"%s\"", line);
    cr_assert_eq(bin, (unsigned long long)EX_BYTES, "\"%s\"", line);
    cr_assert_eq(bout, (unsigned long long)EX_BYTES, "\"%s\"", line);
    cr_assert_eq(cerr, 0ull, "\"%s\"", line);
    cr_assert_eq(aerr, 0ull, "\"%s\"", line);
    close(err_fd);
}
