/* The proxy example (examples/proxy.c) as a process: every byte through it in order, both ways,
   half-close passed through, bounded memory behind slow readers on either side, a dead upstream,
   a clean exit on SIGINT/SIGTERM. The upstreams are in this process: a zero-copy echo reactor
   on its own thread, or plain-socket servers that read slowly or answer after EOF. */
#define ZENITH_IMPLEMENTATION
#include "zenith.h"

#include "criterion_compat.h" /* Criterion (or its TSan stand-in) */
#include "net_helpers.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifndef ZENITH_BUILD_DIR
#define ZENITH_BUILD_DIR "build"
#endif
#define PROXY ZENITH_BUILD_DIR "/examples/proxy"

/* The proxy's pool (examples/proxy.c): its data memory, pages touched as used. */
#define PROXY_POOL_BYTES (2048u * 16384u)

/* recv and send, retried when a signal interrupts them (a socket with SO_RCVTIMEO is never
   restarted by SA_RESTART). */
static ssize_t xrecv(int fd, void *buf, size_t n, int flags) {
    ssize_t r;
    while ((r = recv(fd, buf, n, flags)) < 0 && errno == EINTR) {
    }
    return r;
}
static ssize_t xsend(int fd, const void *buf, size_t n, int flags) {
    ssize_t r;
    while ((r = send(fd, buf, n, flags)) < 0 && errno == EINTR) {
    }
    return r;
}

static int xaccept(int lfd) {
    int fd;
    while ((fd = accept(lfd, NULL, NULL)) < 0 && errno == EINTR) {
    }
    return fd;
}

/* ---- the proxy process ------------------------------------------------------------------------ */

typedef struct {
    pid_t pid;
    uint16_t port;
    int err_fd; /* its stderr (an unlinked temporary file): the stats lines */
} proxy_t;

/* Per-reactor stats lines summed (printed every 10 s and once at exit). */
typedef struct {
    int lines;
    unsigned long long open, total, refused, failed, up, down, pauses;
} proxy_stats;

/* Starts the proxy (args after argv[0], NULL-terminated) and reads its "listening on" line.
   The child dies with this process (PR_SET_PDEATHSIG), so a failed assertion leaves nothing. */
static void proxy_start_argv(proxy_t *p, const char *const *args) {
    const char *argv[16];
    char line[256], *colon;
    size_t len = 0, i;
    int out[2];
    char err_path[] = "/tmp/zenith_proxy_err.XXXXXX";
    pid_t parent = getpid();
    double deadline = now_s() + 10.0;
    cr_assert(access(PROXY, X_OK) == 0, "%s is not built (make %s)", PROXY, PROXY);
    memset(p, 0, sizeof *p);
    cr_assert_geq(p->err_fd = mkstemp(err_path), 0);
    unlink(err_path); /* gone with the last descriptor, whatever happens to this test */
    argv[0] = PROXY;
    for (i = 0; args[i] && i < 14; i++) argv[i + 1] = args[i];
    argv[i + 1] = NULL;
    cr_assert_eq(pipe(out), 0);
    p->pid = fork();
    cr_assert_geq(p->pid, 0);
    if (p->pid == 0) {
        sigset_t none;
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent) _exit(127);
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        signal(SIGINT, SIG_DFL);
        signal(SIGTERM, SIG_DFL);
        dup2(out[1], 1);
        dup2(p->err_fd, 2);
        close(out[0]);
        close(out[1]);
        close(p->err_fd);
        execv(PROXY, (char *const *)argv);
        _exit(127);
    }
    close(out[1]);
    while (len < sizeof line - 1 && (len == 0 || line[len - 1] != '\n')) {
        struct pollfd pf = { out[0], POLLIN, 0 };
        ssize_t n;
        cr_assert_lt(now_s(), deadline, "no \"listening on\" line from the proxy");
        if (poll(&pf, 1, 100) <= 0) continue;
        n = read(out[0], line + len, sizeof line - 1 - len);
        cr_assert_gt(n, 0, "the proxy exited before listening");
        len += (size_t)n;
    }
    close(out[0]);
    line[len] = '\0';
    line[strcspn(line, "\n") + (strchr(line, '\n') != NULL)] = '\0'; /* the first line (a "backend" line follows) */
    cr_assert_eq(strncmp(line, "listening on ", 13), 0, "proxy printed: %s", line);
    cr_assert_not_null(colon = strrchr(line, ':'));
    p->port = (uint16_t)strtoul(colon + 1, NULL, 10);
    cr_assert_neq(p->port, 0, "proxy printed: %s", line);
    for (i = 0; args[i] && args[i + 1]; i++) /* exactly "listening on " + the -l address + ":PORT" */
        if (strcmp(args[i], "-l") == 0) {
            char want[256];
            int alen = (int)(strrchr(args[i + 1], ':') - args[i + 1]);
            snprintf(want, sizeof want, "listening on %.*s:%u\n", alen, args[i + 1], (unsigned)p->port);
            cr_assert_str_eq(line, want);
        }
}

static void proxy_start(proxy_t *p, uint16_t upstream_port, const char *threads) {
    char up[32];
    const char *args[] = { "-l", "127.0.0.1:0", "-u", up, "-t", threads, NULL };
    snprintf(up, sizeof up, "127.0.0.1:%u", (unsigned)upstream_port);
    proxy_start_argv(p, args);
}

/* Waits up to timeout_s for the child; kills it (and fails) if it does not exit. Returns the
   wait status. */
static int wait_exit(pid_t pid, double timeout_s) {
    double deadline = now_s() + timeout_s;
    int status = 0;
    pid_t r;
    while ((r = waitpid(pid, &status, WNOHANG)) == 0 && now_s() < deadline) usleep(10000);
    if (r == 0) {
        kill(pid, SIGKILL);
        waitpid(pid, &status, 0);
        cr_assert_fail("pid %d did not exit within %.1f s", (int)pid, timeout_s);
    }
    cr_assert_eq(r, pid);
    return status;
}

/* The final line of each reactor (printed after its shutdown), summed. */
static proxy_stats final_stats(int fd, int reactors) {
    proxy_stats st;
    char line[512];
    unsigned long long last[8][7];
    int seen[8] = { 0 }, i;
    FILE *f;
    memset(&st, 0, sizeof st);
    memset(last, 0, sizeof last);
    cr_assert_eq(lseek(fd, 0, SEEK_SET), 0);
    cr_assert_not_null(f = fdopen(fd, "r"));
    while (fgets(line, sizeof line, f)) {
        unsigned long long v[7];
        int idx;
        if (sscanf(line,
                   "proxy[%d]: %llu pairs open, %llu total, %llu refused, %llu upstream failures; %llu B up, %llu B "
                   "down; %llu pauses",
                   &idx, &v[0], &v[1], &v[2], &v[3], &v[4], &v[5], &v[6]) != 8)
            continue;
        cr_assert(idx >= 0 && idx < 8);
        memcpy(last[idx], v, sizeof v);
        seen[idx] = 1;
    }
    fclose(f);
    for (i = 0; i < reactors; i++) {
        cr_assert(seen[i], "no stats line from reactor %d", i);
        st.lines++;
        st.open += last[i][0];
        st.total += last[i][1];
        st.refused += last[i][2];
        st.failed += last[i][3];
        st.up += last[i][4];
        st.down += last[i][5];
        st.pauses += last[i][6];
    }
    return st;
}

/* Stops the proxy with sig, checks exit 0, returns the final stats of its `reactors`. */
static proxy_stats proxy_stop(proxy_t *p, int sig, int reactors) {
    proxy_stats st;
    int status;
    cr_assert_eq(kill(p->pid, sig), 0);
    status = wait_exit(p->pid, 5.0);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "proxy ended with status %#x", status);
    st = final_stats(p->err_fd, reactors);
    return st;
}

/* The proxy's resident set, in bytes (0 if it is gone). */
static size_t rss_of(pid_t pid) {
    char path[64], line[256];
    size_t kb = 0;
    FILE *f;
    snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
    if ((f = fopen(path, "r")) == NULL) return 0;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "VmRSS: %zu kB", &kb) == 1) break;
    fclose(f);
    return kb * 1024u;
}

/* The proxy's open sockets (its listeners included), from /proc/PID/fd. */
static int sockets_of(pid_t pid) {
    char path[64], link[64];
    struct dirent *d;
    int n = 0;
    DIR *dir;
    snprintf(path, sizeof path, "/proc/%d/fd", (int)pid);
    cr_assert_not_null(dir = opendir(path));
    while ((d = readdir(dir)) != NULL) {
        ssize_t len = readlinkat(dirfd(dir), d->d_name, link, sizeof link - 1);
        if (len > 0 && (link[len] = '\0', strncmp(link, "socket:", 7) == 0)) n++;
    }
    closedir(dir);
    return n;
}

/* Waits (5 s) until the proxy holds only its `listeners` listening sockets: every pair closed
   itself. */
static void wait_pairs_closed(pid_t pid, int listeners) {
    double deadline = now_s() + 5.0;
    int n;
    while ((n = sockets_of(pid)) != listeners) {
        cr_assert_lt(now_s(), deadline, "the proxy still holds %d sockets (listeners: %d)", n, listeners);
        usleep(5000);
    }
}

/* ---- the upstream: a zero-copy echo reactor on its own thread -------------------------------- */

typedef struct {
    zenith_server *s;
    pthread_t thread;
    int accepts, closes, peer_closes; /* written by the server thread, read with __atomic */
} echo_t;

static void echo_data(void *user, zenith_conn_id conn, const uint8_t *data, size_t len) {
    echo_t *t = (echo_t *)user;
    void *buf = zenith_server_keep(t->s);
    int rc;
    (void)data;
    cr_assert_not_null(buf);
    rc = zenith_server_send_buffer(t->s, conn, buf, len);
    cr_assert_eq(rc, 0, "echo send: %s", zenith_errname(rc));
}
static void echo_accept(void *user, zenith_conn_id conn) {
    (void)conn;
    __atomic_fetch_add(&((echo_t *)user)->accepts, 1, __ATOMIC_RELAXED);
}
/* Without an on_eof callback the echo closes after the peer's EOF (ZENITH_CLOSE_PEER). */
static void echo_close(void *user, zenith_conn_id conn, int reason) {
    echo_t *t = (echo_t *)user;
    (void)conn;
    if (reason == ZENITH_CLOSE_PEER) __atomic_fetch_add(&t->peer_closes, 1, __ATOMIC_RELAXED);
    __atomic_fetch_add(&t->closes, 1, __ATOMIC_RELEASE);
}
static void *echo_loop(void *arg) {
    echo_t *t = (echo_t *)arg;
    cr_assert_eq(zenith_server_start(t->s), 0);
    while (!zenith_server_stopped(t->s)) cr_assert_geq(zenith_server_run_once(t->s, 100), 0);
    return NULL;
}
static void echo_start(echo_t *t, const char *address) {
    zenith_server_config cfg;
    int err = 0;
    memset(t, 0, sizeof *t);
    memset(&cfg, 0, sizeof cfg);
    cfg.address = address;
    cfg.buffer_count = 4096;
    cfg.recv_buffers = 512;
    cfg.max_connections = 256;
    t->s = zenith_server_create(&cfg, &err);
    if (t->s == NULL && err == ZENITH_E_URING_DISABLED) cr_skip("io_uring is disabled here");
    cr_assert_not_null(t->s, "zenith_server_create: %s", zenith_errname(err));
    cr_assert_eq(zenith_server_set_callbacks(t->s, echo_accept, echo_data, echo_close, t), 0);
    cr_assert_eq(pthread_create(&t->thread, NULL, echo_loop, t), 0);
}
static void echo_stop(echo_t *t) {
    zenith_server_stop(t->s);
    cr_assert_eq(pthread_join(t->thread, NULL), 0);
    cr_assert_geq(zenith_server_shutdown(t->s, 2000), 0);
    zenith_server_destroy(t->s);
}
/* Waits until the echo counted n closes by peer EOF (5 s). */
static void echo_wait_peer_closes(echo_t *t, int n) {
    double deadline = now_s() + 5.0;
    while (__atomic_load_n(&t->peer_closes, __ATOMIC_RELAXED) < n) {
        cr_assert_lt(now_s(), deadline, "the upstream saw %d EOFs of %d", t->peer_closes, n);
        usleep(5000);
    }
}

/* ---- streams: non-blocking clients checking every byte ---------------------------------------- */

/* Byte i of stream `seed`: splitmix64 of (seed, i / 8), so no shift or reordering goes unseen. */
static unsigned char pat(uint64_t seed, size_t i) {
    uint64_t z = seed * 0x9E3779B97F4A7C15ull + (uint64_t)(i >> 3) + 1u;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    z ^= z >> 31;
    return (unsigned char)(z >> ((i & 7u) * 8u));
}
static void fill(unsigned char *out, uint64_t seed, size_t from, size_t n) {
    size_t i;
    for (i = 0; i < n; i++) out[i] = pat(seed, from + i);
}
static size_t check(const unsigned char *in, uint64_t seed, size_t from, size_t n) {
    size_t i;
    for (i = 0; i < n; i++)
        if (in[i] != pat(seed, from + i)) return i;
    return n;
}

typedef struct {
    int fd;
    uint64_t seed;
    size_t total, sent, got; /* send total bytes, expect them back (an echo) */
    int shut_wr;             /* shutdown(SHUT_WR) once all is sent; then expect EOF after the echo */
    int eof;
} stream_t;

typedef struct {
    double timeout_s;
    double read_rate; /* bytes per second over all streams; 0 = as fast as they come */
    pid_t watch;      /* sample this process's RSS every 50 ms into max_rss */
    size_t max_rss;
} pump_opts;

static void stream_open(stream_t *st, uint16_t port, uint64_t seed, size_t total, int rcvbuf) {
    memset(st, 0, sizeof *st);
    st->fd = dial_rcvbuf(port, rcvbuf);
    st->seed = seed;
    st->total = total;
    cr_assert_eq(fcntl(st->fd, F_SETFL, fcntl(st->fd, F_GETFL) | O_NONBLOCK), 0);
}

/* Drives every stream until each got its total back (and its EOF, if it half-closed). */
static void pump(stream_t *sts, int n, pump_opts *o) {
    static unsigned char out[65536], in[65536];
    struct pollfd pf[64];
    double t0 = now_s(), deadline = t0 + o->timeout_s, next_sample = 0;
    size_t read_total = 0, progress = 0;
    int i, done = 0;
    cr_assert_leq(n, 64);
    while (done < n) {
        double now = now_s();
        int may_read = o->read_rate <= 0 || (double)read_total < o->read_rate * (now - t0);
        size_t p = 0;
        /* a stall is timeout_s without a byte moving either way (a loaded CI machine may be
           slow, never stuck); the test's own .timeout bounds the whole */
        for (i = 0; i < n; i++) p += sts[i].sent + sts[i].got;
        if (p != progress) {
            progress = p;
            deadline = now + o->timeout_s;
        }
        cr_assert_lt(now, deadline, "streams stalled: %d of %d done (first open: sent %zu got %zu of %zu)", done, n,
                     sts[0].sent, sts[0].got, sts[0].total);
        if (o->watch && now >= next_sample) {
            size_t r = rss_of(o->watch);
            if (r > o->max_rss) o->max_rss = r;
            next_sample = now + 0.05;
        }
        for (i = 0; i < n; i++) {
            stream_t *st = &sts[i];
            int want_in = !(st->got == st->total && (!st->shut_wr || st->eof));
            pf[i].fd = want_in || st->sent < st->total ? st->fd : -1;
            pf[i].events = (short)((may_read && want_in ? POLLIN : 0) | (st->sent < st->total ? POLLOUT : 0));
            pf[i].revents = 0;
        }
        if (poll(pf, (nfds_t)n, may_read ? 50 : 1) <= 0) continue;
        for (i = 0; i < n; i++) {
            stream_t *st = &sts[i];
            int was_done = st->got == st->total && (!st->shut_wr || st->eof);
            if (was_done) continue;
            if ((pf[i].revents & POLLOUT) && st->sent < st->total) {
                size_t k = st->total - st->sent < sizeof out ? st->total - st->sent : sizeof out;
                ssize_t w;
                fill(out, st->seed, st->sent, k);
                w = xsend(st->fd, out, k, MSG_NOSIGNAL);
                if (w > 0) st->sent += (size_t)w;
                cr_assert(w > 0 || errno == EAGAIN || errno == EINTR, "send: %s", strerror(errno));
                if (st->sent == st->total && st->shut_wr) cr_assert_eq(shutdown(st->fd, SHUT_WR), 0);
            }
            if (pf[i].revents & (POLLIN | POLLHUP | POLLERR)) {
                size_t cap = sizeof in;
                ssize_t r;
                if (o->read_rate > 0 && cap > 16384) cap = 16384; /* a slow reader takes small bites */
                r = xrecv(st->fd, in, cap, 0);
                if (r < 0 && (errno == EAGAIN || errno == EINTR)) continue;
                cr_assert_geq(r, 0, "stream %d: recv after %zu of %zu: %s", i, st->got, st->total, strerror(errno));
                if (r == 0) {
                    cr_assert_eq(st->got, st->total, "stream %d: EOF after %zu of %zu bytes", i, st->got, st->total);
                    cr_assert(st->shut_wr, "stream %d: EOF though it never half-closed", i);
                    st->eof = 1;
                } else {
                    size_t ok;
                    cr_assert_leq(st->got + (size_t)r, st->total, "stream %d: more bytes than sent", i);
                    ok = check(in, st->seed, st->got, (size_t)r);
                    cr_assert_eq(ok, (size_t)r, "stream %d: byte %zu differs", i, st->got + ok);
                    st->got += (size_t)r;
                    read_total += (size_t)r;
                }
            }
            if (st->got == st->total && (!st->shut_wr || st->eof)) done++;
        }
    }
}

/* ---- plain-socket upstreams ------------------------------------------------------------------- */

/* Accepts one connection, reads it to EOF (at read_rate bytes/s if > 0), checking the pattern of
   `seed`; then answers with the 8-byte count and `reply` pattern bytes, and closes. */
typedef struct {
    int lfd;
    uint16_t port;
    pthread_t thread;
    uint64_t seed;
    double read_rate;
    size_t reply;
    size_t got;   /* bytes read before EOF */
    int bad;      /* first mismatch + 1, or 0 */
    int finished; /* 1 once the answer is sent and the socket closed */
} sink_t;

static void *sink_loop(void *arg) {
    sink_t *k = (sink_t *)arg;
    static unsigned char buf[65536];
    int fd = xaccept(k->lfd);
    double t0 = now_s();
    uint64_t n;
    size_t off;
    if (fd < 0) return NULL;
    for (;;) {
        size_t cap = k->read_rate > 0 ? 16384 : sizeof buf;
        ssize_t r;
        if (k->read_rate > 0 && (double)k->got > k->read_rate * (now_s() - t0)) {
            usleep(1000);
            continue;
        }
        r = xrecv(fd, buf, cap, 0);
        if (r <= 0) break;
        if (!k->bad && check(buf, k->seed, k->got, (size_t)r) != (size_t)r) k->bad = 1;
        k->got += (size_t)r;
    }
    n = k->got;
    if (xsend(fd, &n, sizeof n, MSG_NOSIGNAL) != (ssize_t)sizeof n) k->bad = 2;
    for (off = 0; off < k->reply && !k->bad;) {
        size_t c = k->reply - off < sizeof buf ? k->reply - off : sizeof buf;
        ssize_t w;
        fill(buf, k->seed + 1u, off, c);
        w = xsend(fd, buf, c, MSG_NOSIGNAL);
        if (w <= 0)
            k->bad = 3;
        else
            off += (size_t)w;
    }
    close(fd);
    __atomic_store_n(&k->finished, 1, __ATOMIC_RELEASE);
    return NULL;
}

static int listen_any(uint16_t *port) {
    struct sockaddr_in a;
    socklen_t len = sizeof a;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;
    cr_assert_geq(fd, 0);
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    cr_assert_eq(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    cr_assert_eq(getsockname(fd, (struct sockaddr *)&a, &len), 0);
    *port = ntohs(a.sin_port);
    return fd;
}

static void sink_start(sink_t *k, uint64_t seed, double read_rate, size_t reply, int rcvbuf) {
    memset(k, 0, sizeof *k);
    k->lfd = listen_any(&k->port);
    /* set before listen: accepted sockets inherit it, and the window stays that small */
    if (rcvbuf > 0) cr_assert_eq(setsockopt(k->lfd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf), 0);
    cr_assert_eq(listen(k->lfd, 16), 0);
    k->seed = seed;
    k->read_rate = read_rate;
    k->reply = reply;
    cr_assert_eq(pthread_create(&k->thread, NULL, sink_loop, k), 0);
}

static void sink_join(sink_t *k) {
    cr_assert_eq(pthread_join(k->thread, NULL), 0);
    close(k->lfd);
}

/* Reads exactly n bytes (blocking fd) within the deadline. */
static void read_exact(int fd, void *buf, size_t n) {
    size_t got = 0;
    while (got < n) {
        ssize_t r = xrecv(fd, (char *)buf + got, n - got, 0);
        cr_assert_gt(r, 0, "read %zu of %zu: %s", got, n, r < 0 ? strerror(errno) : "EOF");
        got += (size_t)r;
    }
}

static void set_rcvtimeo(int fd, int ms) {
    struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };
    cr_assert_eq(setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv), 0);
}

/* ---- tests ------------------------------------------------------------------------------------ */

/* (a) 32 connections through two reactors at once, 1 B to 1 MiB each, every byte in order. */
Test(proxy, many_connections_every_byte_in_order, .timeout = 60) {
    enum { N = 32 };
    static stream_t sts[N];
    pump_opts o = { 30.0, 0, 0, 0 };
    unsigned seed = 12345;
    size_t sum = 0;
    proxy_stats st;
    echo_t e;
    proxy_t p;
    int i;
    echo_start(&e, NULL);
    proxy_start(&p, zenith_server_port(e.s), "2");
    for (i = 0; i < N; i++) {
        size_t total = i == 0 ? 1 : i == 1 ? (1u << 20) : 1u + (size_t)rand_r(&seed) % (1u << 20);
        stream_open(&sts[i], p.port, (uint64_t)i + 1u, total, 0);
        sum += total;
    }
    pump(sts, N, &o);
    for (i = 0; i < N; i++) close(sts[i].fd);
    echo_wait_peer_closes(&e, N); /* each client's FIN went through to the upstream */
    wait_pairs_closed(p.pid, 2);  /* and every pair closed itself: two listeners left */
    st = proxy_stop(&p, SIGINT, 2);
    cr_assert_eq(__atomic_load_n(&e.accepts, __ATOMIC_RELAXED), N);
    echo_stop(&e);
    cr_assert_eq(st.total, N, "pairs: %llu", st.total);
    cr_assert_eq(st.open, 0);
    cr_assert_eq(st.failed, 0);
    cr_assert_eq(st.refused, 0);
    cr_assert_eq(st.up, sum);
    cr_assert_eq(st.down, sum);
}

/* (b) The client sends N bytes and shuts its sending side: the EOF goes on to the upstream echo,
   which closes after echoing everything; that EOF comes back, after every byte. */
Test(proxy, half_close_passed_through_both_ways, .timeout = 30) {
    static const size_t sizes[] = { 1, 4096, 300000, 3u << 20 };
    pump_opts o = { 10.0, 0, 0, 0 };
    proxy_stats st;
    echo_t e;
    proxy_t p;
    size_t k, sum = 0;
    echo_start(&e, NULL);
    proxy_start(&p, zenith_server_port(e.s), "1");
    for (k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
        stream_t s;
        stream_open(&s, p.port, 100u + k, sizes[k], 0);
        s.shut_wr = 1;
        pump(&s, 1, &o);
        cr_assert(s.eof, "no EOF after %zu bytes", sizes[k]);
        close(s.fd);
        echo_wait_peer_closes(&e, (int)k + 1); /* the upstream closed on the EOF we passed on */
        wait_pairs_closed(p.pid, 1);           /* both connections closed themselves */
        sum += sizes[k];
    }
    st = proxy_stop(&p, SIGINT, 1);
    echo_stop(&e);
    cr_assert_eq(st.total, 4);
    cr_assert_eq(st.open, 0);
    cr_assert_eq(st.up, sum);
    cr_assert_eq(st.down, sum);
}

/* (b') Request, EOF, then the response: an upstream that answers only after the client's EOF.
   The half-closed client must stay open for the answer, and get EOF after it. */
Test(proxy, answer_after_client_eof, .timeout = 30) {
    const size_t n = 1000000, reply = 2000000;
    static unsigned char buf[65536];
    uint64_t count = 0;
    size_t off = 0, got = 0;
    proxy_stats st;
    sink_t k;
    proxy_t p;
    int fd;
    ssize_t r;
    sink_start(&k, 77, 0, reply, 0);
    proxy_start(&p, k.port, "1");
    fd = dial(p.port);
    set_rcvtimeo(fd, 10000);
    while (off < n) { /* nothing comes back before our EOF, so a blocking send cannot deadlock */
        size_t c = n - off < sizeof buf ? n - off : sizeof buf;
        ssize_t w;
        fill(buf, 77, off, c);
        w = xsend(fd, buf, c, MSG_NOSIGNAL);
        cr_assert_gt(w, 0, "send: %s", strerror(errno));
        off += (size_t)w;
    }
    cr_assert_eq(shutdown(fd, SHUT_WR), 0);
    read_exact(fd, &count, sizeof count);
    cr_assert_eq(count, n, "the upstream read %llu bytes before EOF", (unsigned long long)count);
    while ((r = xrecv(fd, buf, sizeof buf, 0)) > 0) {
        cr_assert_eq(check(buf, 78, got, (size_t)r), (size_t)r, "reply byte differs near %zu", got);
        got += (size_t)r;
    }
    cr_assert_eq(r, 0, "after %zu reply bytes: %s", got, strerror(errno));
    cr_assert_eq(got, reply);
    close(fd);
    sink_join(&k);
    cr_assert_eq(k.bad, 0);
    cr_assert_eq(k.got, n);
    wait_pairs_closed(p.pid, 1);
    st = proxy_stop(&p, SIGINT, 1);
    cr_assert_eq(st.open, 0);
    cr_assert_eq(st.up, n);
    cr_assert_eq(st.down, sizeof count + reply);
}

/* Bound on the proxy's resident memory while it streams far more than it could hold. Its data
   memory is its pool (PROXY_POOL_BYTES = 32 MiB per reactor, pages touched as used, never
   more: the proxy allocates nothing after start); everything else -- code, libc, the ring,
   the pair and connection tables, two thread stacks -- is in the baseline measured once it
   listens. 8 MiB covers page tables and libc's arenas growing. Without backpressure the proxy
   would have to hold the stream (96 MiB, three pools): sends past 2 x send_queue_max fail, and
   the stream would break. */
#define RSS_SLACK (8u << 20)

/* (c) The client sends 96 MiB and reads its echo at ~24 MiB/s through a 64 KiB receive
   buffer: the proxy pauses the upstream, the echo stops reading, the proxy pauses the client. */
Test(proxy, slow_client_reader_memory_bounded, .timeout = 60) {
    const size_t total = 96u << 20;
    pump_opts o = { 40.0, 24e6, 0, 0 };
    size_t base;
    proxy_stats st;
    stream_t s;
    echo_t e;
    proxy_t p;
    echo_start(&e, NULL);
    proxy_start(&p, zenith_server_port(e.s), "1");
    base = rss_of(p.pid);
    cr_assert_gt(base, 0);
    o.watch = p.pid;
    stream_open(&s, p.port, 5, total, 65536);
    pump(&s, 1, &o);
    close(s.fd);
    echo_wait_peer_closes(&e, 1);
    cr_log_info("slow client reader: proxy RSS %zu KiB at start, %zu KiB at most", base >> 10, o.max_rss >> 10);
    cr_assert_lt(o.max_rss, base + PROXY_POOL_BYTES + RSS_SLACK, "RSS %zu KiB (start %zu KiB)", o.max_rss >> 10,
                 base >> 10);
    st = proxy_stop(&p, SIGINT, 1);
    echo_stop(&e);
    cr_assert_eq(st.up, total);
    cr_assert_eq(st.down, total);
    cr_assert_gt(st.pauses, 0, "the slow reader never made the proxy pause a source");
}

/* (d) An upstream that reads slowly (~24 MiB/s, 64 KiB receive buffer): the client sends 96 MiB
   as fast as it can, half-closes, and gets the upstream's count of bytes, then EOF. */
Test(proxy, slow_upstream_reader_memory_bounded, .timeout = 60) {
    const size_t total = 96u << 20;
    static unsigned char buf[65536];
    double deadline = now_s() + 15.0, next_sample = 0; /* no progress for 15 s: stalled */
    size_t base, max_rss = 0, sent = 0;
    uint64_t count = 0;
    proxy_stats st;
    sink_t k;
    proxy_t p;
    int fd;
    sink_start(&k, 9, 24e6, 0, 65536);
    proxy_start(&p, k.port, "1");
    base = rss_of(p.pid);
    cr_assert_gt(base, 0);
    fd = dial(p.port);
    cr_assert_eq(fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK), 0);
    while (sent < total) {
        struct pollfd pf = { fd, POLLOUT, 0 };
        cr_assert_lt(now_s(), deadline, "stalled after %zu of %zu bytes", sent, total);
        if (now_s() >= next_sample) {
            size_t r = rss_of(p.pid);
            if (r > max_rss) max_rss = r;
            next_sample = now_s() + 0.05;
        }
        if (poll(&pf, 1, 50) > 0) {
            size_t c = total - sent < sizeof buf ? total - sent : sizeof buf;
            ssize_t w;
            fill(buf, 9, sent, c);
            w = xsend(fd, buf, c, MSG_NOSIGNAL);
            cr_assert(w > 0 || errno == EAGAIN, "send: %s", strerror(errno));
            if (w > 0) {
                sent += (size_t)w;
                deadline = now_s() + 15.0;
            }
        }
    }
    cr_assert_eq(shutdown(fd, SHUT_WR), 0);
    cr_assert_eq(fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK), 0);
    set_rcvtimeo(fd, 20000);
    read_exact(fd, &count, sizeof count);
    cr_assert_eq(count, total, "the upstream got %llu of %zu bytes", (unsigned long long)count, total);
    cr_assert_eq(xrecv(fd, buf, sizeof buf, 0), 0, "EOF after the answer");
    close(fd);
    sink_join(&k);
    cr_assert_eq(k.bad, 0, "the upstream saw bytes out of order (%d)", k.bad);
    wait_pairs_closed(p.pid, 1);
    cr_log_info("slow upstream reader: proxy RSS %zu KiB at start, %zu KiB at most", base >> 10, max_rss >> 10);
    cr_assert_lt(max_rss, base + PROXY_POOL_BYTES + RSS_SLACK, "RSS %zu KiB (start %zu KiB)", max_rss >> 10,
                 base >> 10);
    st = proxy_stop(&p, SIGINT, 1);
    cr_assert_eq(st.open, 0);
    cr_assert_eq(st.up, total);
    cr_assert_eq(st.down, sizeof count);
    cr_assert_gt(st.pauses, 0, "the slow upstream never made the proxy pause the client");
}

/* (e) Nothing listens upstream (a port bound but not listening: connects are refused): every
   client is closed at once, and the proxy stays healthy. */
Test(proxy, upstream_down_closes_clients_promptly, .timeout = 30) {
    enum { N = 8 };
    uint16_t dead;
    int hold = listen_any(&dead), fds[N], i;
    char c;
    proxy_stats st;
    proxy_t p;
    double t0;
    proxy_start(&p, dead, "1");
    t0 = now_s();
    for (i = 0; i < N; i++) {
        fds[i] = dial(p.port);
        xsend(fds[i], "hello", 5, MSG_NOSIGNAL); /* may already fail: the proxy may have closed */
        set_rcvtimeo(fds[i], 3000);
    }
    for (i = 0; i < N; i++) {
        ssize_t r = xrecv(fds[i], &c, 1, 0);
        cr_assert(r == 0 || (r < 0 && errno == ECONNRESET), "client %d: recv %zd (%s)", i, r, strerror(errno));
        close(fds[i]);
    }
    cr_assert_lt(now_s() - t0, 2.0, "closing the clients took %.2f s", now_s() - t0);
    wait_pairs_closed(p.pid, 1);
    st = proxy_stop(&p, SIGINT, 1);
    close(hold);
    cr_assert_eq(st.total, N);
    cr_assert_eq(st.failed, N);
    cr_assert_eq(st.open, 0);
    cr_assert_eq(st.up, 0, "nothing was read from a client without an upstream");
}

static void reset_close(int fd) { /* close with RST: SO_LINGER 0 */
    struct linger l = { 1, 0 };
    cr_assert_eq(setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof l), 0);
    close(fd);
}

/* An upstream that accepts one connection, reads 4 bytes, and resets it. */
static void *resetter_loop(void *arg) {
    int lfd = *(int *)arg, fd = xaccept(lfd);
    char buf[4];
    if (fd < 0) return NULL;
    if (xrecv(fd, buf, sizeof buf, MSG_WAITALL) == (ssize_t)sizeof buf)
        reset_close(fd);
    else
        close(fd);
    return NULL;
}

/* A reset on either side ends the other side promptly (not after the idle timeout). */
Test(proxy, reset_on_one_side_ends_the_other, .timeout = 30) {
    char buf[4];
    uint16_t port;
    pthread_t th;
    proxy_stats st;
    proxy_t p;
    echo_t e;
    double t0;
    ssize_t r;
    int fd, lfd;
    /* the client resets: the upstream echo's connection is closed */
    echo_start(&e, NULL);
    proxy_start(&p, zenith_server_port(e.s), "1");
    fd = dial(p.port);
    set_rcvtimeo(fd, 5000);
    cr_assert_eq(xsend(fd, "ping", 4, MSG_NOSIGNAL), 4);
    read_exact(fd, buf, 4);
    t0 = now_s();
    reset_close(fd);
    while (__atomic_load_n(&e.closes, __ATOMIC_ACQUIRE) < 1) {
        cr_assert_lt(now_s() - t0, 3.0, "the upstream connection outlived the client's reset");
        usleep(2000);
    }
    wait_pairs_closed(p.pid, 1);
    st = proxy_stop(&p, SIGINT, 1);
    echo_stop(&e);
    cr_assert_eq(st.total, 1);
    /* the upstream resets: the client is closed */
    lfd = listen_any(&port);
    cr_assert_eq(listen(lfd, 4), 0);
    cr_assert_eq(pthread_create(&th, NULL, resetter_loop, &lfd), 0);
    proxy_start(&p, port, "1");
    fd = dial(p.port);
    set_rcvtimeo(fd, 3000);
    cr_assert_eq(xsend(fd, "ping", 4, MSG_NOSIGNAL), 4);
    r = xrecv(fd, buf, sizeof buf, 0);
    cr_assert(r == 0 || (r < 0 && errno == ECONNRESET), "client after the upstream's reset: %zd (%s)", r,
              r < 0 ? strerror(errno) : "data");
    close(fd);
    cr_assert_eq(pthread_join(th, NULL), 0);
    close(lfd);
    wait_pairs_closed(p.pid, 1);
    st = proxy_stop(&p, SIGINT, 1);
    cr_assert_eq(st.total, 1);
    cr_assert_eq(st.up, 4);
    cr_assert_eq(st.down, 0);
}

/* (f) SIGINT (and SIGTERM) with connections open: exit 0 within a few seconds; the clients are
   closed by the shutdown. */
Test(proxy, sigint_and_sigterm_exit_zero, .timeout = 30) {
    static const int sigs[] = { SIGINT, SIGTERM };
    size_t k;
    echo_t e;
    echo_start(&e, NULL);
    for (k = 0; k < 2; k++) {
        proxy_t p;
        proxy_stats st;
        char buf[4];
        int fds[3], i;
        double t0;
        proxy_start(&p, zenith_server_port(e.s), "2");
        for (i = 0; i < 3; i++) { /* three idle pairs, known to be through to the upstream */
            fds[i] = dial(p.port);
            set_rcvtimeo(fds[i], 5000);
            cr_assert_eq(xsend(fds[i], "ping", 4, MSG_NOSIGNAL), 4);
            read_exact(fds[i], buf, 4);
            cr_assert_eq(memcmp(buf, "ping", 4), 0);
        }
        t0 = now_s();
        st = proxy_stop(&p, sigs[k], 2);
        cr_assert_lt(now_s() - t0, 3.0, "exit took %.2f s", now_s() - t0);
        cr_assert_eq(st.total, 3);
        cr_assert_eq(st.open, 0);
        for (i = 0; i < 3; i++) {
            ssize_t r = xrecv(fds[i], buf, sizeof buf, 0);
            cr_assert(r == 0 || (r < 0 && errno == ECONNRESET), "client %d after exit: %zd", i, r);
            close(fds[i]);
        }
    }
    echo_stop(&e);
}

/* IPv6: "[::1]:0" to listen, "[::1]:port" upstream; the line names the address as given. */
Test(proxy, ipv6_both_sides, .timeout = 30) {
    struct sockaddr_in6 a;
    char up[64], buf[5];
    const char *args[] = { "-l", "[::1]:0", "-u", up, NULL };
    proxy_t p;
    echo_t e;
    int fd = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
    cr_assert_geq(fd, 0);
    memset(&a, 0, sizeof a);
    a.sin6_family = AF_INET6;
    a.sin6_addr = in6addr_loopback;
    if (bind(fd, (struct sockaddr *)&a, sizeof a) != 0) cr_skip("no IPv6 loopback here: %s", strerror(errno));
    close(fd);
    echo_start(&e, "::1");
    snprintf(up, sizeof up, "[::1]:%u", (unsigned)zenith_server_port(e.s));
    proxy_start_argv(&p, args);
    fd = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
    a.sin6_port = htons(p.port);
    cr_assert_eq(connect(fd, (struct sockaddr *)&a, sizeof a), 0, "connect: %s", strerror(errno));
    set_rcvtimeo(fd, 5000);
    cr_assert_eq(xsend(fd, "hello", 5, MSG_NOSIGNAL), 5);
    read_exact(fd, buf, 5);
    cr_assert_eq(memcmp(buf, "hello", 5), 0);
    close(fd);
    echo_wait_peer_closes(&e, 1);
    proxy_stop(&p, SIGINT, 1);
    echo_stop(&e);
}

/* Names, missing flags, bad ports: usage, exit 2, before anything listens. */
Test(proxy, bad_arguments_exit_2, .timeout = 20) {
    static const char *const cases[][7] = {
        { "-l", "localhost:9000", "-u", "127.0.0.1:1", NULL },
        { "-l", "127.0.0.1:0", "-u", "127.0.0.1:0", NULL },
        { "-l", "127.0.0.1:0", NULL },
        { "-l", "127.0.0.1", "-u", "127.0.0.1:1", NULL },
        { "-l", "::1:0", "-u", "127.0.0.1:1", NULL },
        { "-l", "127.0.0.1:70000", "-u", "127.0.0.1:1", NULL },
        { "-l", "127.0.0.1:0", "-u", "127.0.0.1:1", "-t", "0", NULL },
    };
    size_t i;
    cr_assert(access(PROXY, X_OK) == 0, "%s is not built", PROXY);
    for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char *argv[9];
        int status, j, devnull;
        pid_t pid;
        argv[0] = PROXY;
        for (j = 0; cases[i][j]; j++) argv[j + 1] = cases[i][j];
        argv[j + 1] = NULL;
        pid = fork();
        cr_assert_geq(pid, 0);
        if (pid == 0) {
            prctl(PR_SET_PDEATHSIG, SIGKILL);
            devnull = open("/dev/null", O_WRONLY);
            dup2(devnull, 1);
            dup2(devnull, 2);
            execv(PROXY, (char *const *)argv);
            _exit(127);
        }
        status = wait_exit(pid, 5.0);
        cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 2, "case %zu: status %#x", i, status);
    }
}
