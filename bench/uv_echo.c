/* uv_echo -- the TCP echo server of bench/epoll_echo.c written on libuv, for bench/echo_compare.sh.
 *
 *   cc -O2 -std=gnu11 -Wall -Wextra -Werror bench/uv_echo.c -o build/uv_echo $(pkg-config --cflags --libs libuv) -pthread
 *   build/uv_echo [-a ADDR] [-p PORT] [-t THREADS] [-c CPU]
 *
 * Same command line and output contract as epoll_echo: "listening on ADDR:PORT" once ready,
 * nothing else on stdout until SIGINT/SIGTERM, then one stats line and exit 0.
 *
 * One uv loop per thread, each with its own SO_REUSEPORT listener. libuv 1.44 (Debian 12) has no
 * UV_TCP_REUSEPORT (it came in 1.49), so the listening socket is created, given SO_REUSEPORT and
 * bound here, then handed to libuv with uv_tcp_open. With port 0 the first bind picks the port and
 * the other threads bind that one.
 *
 * Buffers, chosen to be as fair to libuv as epoll_echo's are to epoll: alloc_cb hands out one
 * per-loop 64 KiB buffer (libuv reads, calls read_cb, and only then asks for a buffer again), and
 * read_cb echoes with uv_try_write, a direct write. Only if that is partial is the rest copied to
 * a per-connection pending buffer (allocated on first need, kept), reading stops and a uv_write
 * flushes it; its callback resumes reading. So: no malloc per read, 2 syscalls per echo, bounded
 * memory, the same back-pressure as epoll_echo. libuv does EMFILE (reserve fd) itself. */
#define _GNU_SOURCE
#include <errno.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>
#include <uv.h>

#define BUF_SIZE 65536

struct worker {
    int idx, cpu, fd;
    pthread_t th;
    uv_loop_t loop;
    uv_tcp_t server;
    uv_async_t stop;
    uint64_t accepted, echoed;
    char buf[BUF_SIZE];
};

struct conn {
    uv_tcp_t tcp; /* first: the handle pointer is the conn pointer */
    uv_write_t wreq;
    struct worker *w;
    char *pend;
    size_t plen; /* bytes of pend being written by wreq */
};

static const char *prog = "uv_echo";
static volatile sig_atomic_t g_failed;

static void fatal(const char *what, int err) {
    fprintf(stderr, "%s: %s: %s\n", prog, what, err < 0 ? uv_strerror(err) : strerror(err));
    exit(1);
}

static void on_close(uv_handle_t *h) {
    struct conn *c = (struct conn *)h;
    free(c->pend);
    free(c);
}

static void conn_close(struct conn *c) {
    if (!uv_is_closing((uv_handle_t *)&c->tcp)) uv_close((uv_handle_t *)&c->tcp, on_close);
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf) {
    (void)suggested;
    struct worker *w = ((struct conn *)h)->w;
    *buf = uv_buf_init(w->buf, BUF_SIZE);
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf);

static void on_written(uv_write_t *req, int status) {
    struct conn *c = req->data;
    if (status < 0) {
        conn_close(c);
        return;
    }
    c->w->echoed += c->plen;
    c->plen = 0;
    if (uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read) < 0) conn_close(c);
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf) {
    struct conn *c = (struct conn *)s;
    if (nread <= 0) {
        if (nread < 0) conn_close(c); /* UV_EOF, UV_ECONNRESET, ... ; 0 is EAGAIN */
        return;
    }
    uv_buf_t b = uv_buf_init(buf->base, (unsigned)nread);
    int r = uv_try_write(s, &b, 1);
    if (r == nread) {
        c->w->echoed += (uint64_t)r;
        return;
    }
    if (r < 0 && r != UV_EAGAIN) {
        conn_close(c);
        return;
    }
    size_t done = r > 0 ? (size_t)r : 0;
    c->w->echoed += done;
    if (!c->pend && !(c->pend = malloc(BUF_SIZE))) {
        conn_close(c);
        return;
    }
    memcpy(c->pend, buf->base + done, (size_t)nread - done);
    c->plen = (size_t)nread - done;
    b = uv_buf_init(c->pend, (unsigned)c->plen);
    uv_read_stop(s);
    c->wreq.data = c;
    if (uv_write(&c->wreq, s, &b, 1, on_written) < 0) conn_close(c);
}

static void on_connection(uv_stream_t *server, int status) {
    struct worker *w = server->data;
    if (status < 0) return;
    struct conn *c = calloc(1, sizeof *c);
    if (!c) return; /* libuv keeps the pending fd and calls again */
    c->w = w;
    uv_tcp_init(&w->loop, &c->tcp);
    if (uv_accept(server, (uv_stream_t *)&c->tcp) < 0) {
        uv_close((uv_handle_t *)&c->tcp, on_close);
        return;
    }
    uv_tcp_nodelay(&c->tcp, 1);
    if (uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read) < 0) {
        conn_close(c);
        return;
    }
    w->accepted++;
}

static void close_any(uv_handle_t *h, void *arg) {
    struct worker *w = arg;
    if (uv_is_closing(h)) return;
    if (h == (uv_handle_t *)&w->server || h == (uv_handle_t *)&w->stop)
        uv_close(h, NULL);
    else
        conn_close((struct conn *)h);
}

static void on_stop(uv_async_t *a) {
    struct worker *w = a->data;
    uv_walk(&w->loop, close_any, w);
}

static void *worker_main(void *arg) {
    struct worker *w = arg;
    if (w->cpu >= 0) {
        cpu_set_t set;
        CPU_ZERO(&set);
        CPU_SET((unsigned)w->cpu, &set);
        int e = pthread_setaffinity_np(pthread_self(), sizeof set, &set);
        if (e) {
            fprintf(stderr, "%s: pinning to -c CPU %d: %s\n", prog, w->cpu, strerror(e));
            g_failed = 1;
            kill(getpid(), SIGTERM);
        }
    }
    uv_run(&w->loop, UV_RUN_DEFAULT); /* returns when on_stop has closed every handle */
    return NULL;
}

static long parse_long(const char *s, long lo, long hi, const char *what) {
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || *end || end == s || v < lo || v > hi) {
        fprintf(stderr, "%s: %s must be an integer in [%ld, %ld], got '%s'\n", prog, what, lo, hi, s);
        exit(2);
    }
    return v;
}

static void usage(void) {
    fprintf(stderr, "usage: %s [-a ADDR] [-p PORT] [-t THREADS] [-c CPU]\n", prog);
    exit(2);
}

int main(int argc, char **argv) {
    const char *addr = "127.0.0.1";
    int port = 9090, nthreads = 1, cpu = -1, opt;
    while ((opt = getopt(argc, argv, "a:p:t:c:h")) != -1) {
        switch (opt) {
            case 'a': addr = optarg; break;
            case 'p': port = (int)parse_long(optarg, 0, 65535, "-p PORT"); break;
            case 't': nthreads = (int)parse_long(optarg, 1, 1024, "-t THREADS"); break;
            case 'c': cpu = (int)parse_long(optarg, 0, CPU_SETSIZE - 1, "-c CPU"); break;
            default: usage();
        }
    }
    if (optind != argc) usage();
    if (cpu >= 0) { /* refuse before "listening on" rather than fail in a worker */
        cpu_set_t allowed;
        if (sched_getaffinity(0, sizeof allowed, &allowed) < 0) return 2;
        for (int i = 0; i < nthreads; i++)
            if (cpu + i >= CPU_SETSIZE || !CPU_ISSET(cpu + i, &allowed)) {
                fprintf(stderr, "%s: -c %d with %d thread(s): CPU %d is not available\n", prog, cpu, nthreads, cpu + i);
                return 2;
            }
    }

    struct sockaddr_storage ss;
    socklen_t sslen;
    memset(&ss, 0, sizeof ss);
    struct sockaddr_in *a4 = (struct sockaddr_in *)&ss;
    struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)&ss;
    if (uv_ip4_addr(addr, port, a4) == 0) {
        sslen = sizeof *a4;
    } else if (uv_ip6_addr(addr, port, a6) == 0) {
        sslen = sizeof *a6;
    } else {
        fprintf(stderr, "%s: -a %s is not a numeric IPv4 or IPv6 address\n", prog, addr);
        return 2;
    }

    struct rlimit rl; /* as many connections as the hard limit allows */
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    signal(SIGPIPE, SIG_IGN);
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL); /* inherited by the workers; main takes them in sigwait */

    struct worker *ws = calloc((size_t)nthreads, sizeof *ws);
    if (!ws) fatal("calloc", errno);
    for (int i = 0; i < nthreads; i++) {
        struct worker *w = &ws[i];
        w->idx = i;
        w->cpu = cpu >= 0 ? cpu + i : -1;
        int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1, r;
        if (fd < 0) fatal("socket", errno);
        if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0) fatal("SO_REUSEADDR", errno);
        if (setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) < 0) fatal("SO_REUSEPORT", errno);
        if (bind(fd, (struct sockaddr *)&ss, sslen) < 0) fatal("bind", errno);
        if (i == 0 && port == 0) { /* the others bind the port the kernel gave the first */
            struct sockaddr_storage got;
            socklen_t gl = sizeof got;
            if (getsockname(fd, (struct sockaddr *)&got, &gl) < 0) fatal("getsockname", errno);
            port = ntohs(got.ss_family == AF_INET ? ((struct sockaddr_in *)&got)->sin_port
                                                  : ((struct sockaddr_in6 *)&got)->sin6_port);
            if (ss.ss_family == AF_INET)
                a4->sin_port = htons((uint16_t)port);
            else
                a6->sin6_port = htons((uint16_t)port);
        }
        if ((r = uv_loop_init(&w->loop)) < 0) fatal("uv_loop_init", r);
        if ((r = uv_tcp_init(&w->loop, &w->server)) < 0) fatal("uv_tcp_init", r);
        if ((r = uv_tcp_open(&w->server, fd)) < 0) fatal("uv_tcp_open", r);
        w->server.data = w;
        if ((r = uv_listen((uv_stream_t *)&w->server, 65535, on_connection)) < 0) fatal("uv_listen", r);
        if ((r = uv_async_init(&w->loop, &w->stop, on_stop)) < 0) fatal("uv_async_init", r);
        w->stop.data = w;
    }
    for (int i = 0; i < nthreads; i++) {
        int e = pthread_create(&ws[i].th, NULL, worker_main, &ws[i]);
        if (e) fatal("pthread_create", e);
    }
    printf("listening on %s:%d\n", addr, port);
    fflush(stdout);

    int sig;
    while (sigwait(&sigs, &sig) != 0) {
    }
    for (int i = 0; i < nthreads; i++) uv_async_send(&ws[i].stop);
    uint64_t accepted = 0, echoed = 0;
    for (int i = 0; i < nthreads; i++) {
        pthread_join(ws[i].th, NULL);
        uv_loop_close(&ws[i].loop);
        accepted += ws[i].accepted;
        echoed += ws[i].echoed;
    }
    printf("%s: stopped: %llu connections accepted, %llu bytes echoed\n", prog, (unsigned long long)accepted,
           (unsigned long long)echoed);
    fflush(stdout);
    free(ws);
    return g_failed ? 1 : 0;
}
