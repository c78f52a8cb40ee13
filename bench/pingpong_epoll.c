/* pingpong_epoll -- one TCP connection, ping-pong round-trip latency over loopback, plain epoll,
 * both sides busy-polling: the baseline for bench/latency_compare.sh (bench/pingpong_zenith.c is
 * the same measurement on Zenith).
 *
 *   cc -std=gnu11 -O2 -g -Wall -Wextra -Wpedantic -Werror bench/pingpong_epoll.c -o build/pingpong_epoll -pthread
 *   build/pingpong_epoll [-n ROUNDS] [-w WARMUP] [-s SIZE] [-S CPU] [-C CPU] [-m epoll|recv] [-j]
 *
 *   -n ROUNDS  measured round trips (default 100000)
 *   -w WARMUP  round trips before them, not measured (default 10000)
 *   -s SIZE    message bytes, 1..65536 (default 64)
 *   -S CPU     pin the server thread to CPU (default 0; -1 = not pinned)
 *   -C CPU     pin the client thread to CPU (default 1; -1 = not pinned)
 *   -m MODE    epoll: epoll_wait(timeout 0) in a spin loop, then recv (default);
 *              recv: recv(MSG_DONTWAIT) in a spin loop
 *   -j         one JSON line instead of the table
 *
 * Two threads in one process, each on its own CPU: the server accepts one connection and echoes
 * whatever arrives; the client sends SIZE bytes, spins until all SIZE bytes of the echo are back
 * (each byte checked), takes the time, sends the next. Non-blocking sockets, TCP_NODELAY, no
 * sleeping anywhere: the round trip is the kernel's TCP loopback path plus two wake-ups of
 * already-running threads. Round-trip times (CLOCK_MONOTONIC, from before the send to after the
 * recv that completes the echo) are kept one by one and sorted: exact percentiles.
 *
 * Exit status: 0 = every echo verified, 1 = an error (mismatch, EOF, socket error), 2 = usage. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_SIZE 65536

static long g_rounds = 100000, g_warmup = 10000, g_size = 64;
static int g_srv_cpu = 0, g_cli_cpu = 1, g_json, g_recv_spin;
static int g_lfd;
static uint16_t g_port;
static volatile int g_server_failed;

static void die(const char *what) {
    fprintf(stderr, "pingpong_epoll: %s: %s\n", what, strerror(errno));
    exit(1);
}

static uint64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void pin(int cpu, const char *who) {
    if (cpu < 0) return;
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET((unsigned)cpu, &set);
    int e = pthread_setaffinity_np(pthread_self(), sizeof set, &set);
    if (e) {
        errno = e;
        fprintf(stderr, "pingpong_epoll: pinning the %s to CPU %d: %s\n", who, cpu, strerror(errno));
        exit(2);
    }
}

static void tune(int fd) {
    int one = 1;
    if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) < 0) die("TCP_NODELAY");
}

/* Waits (spinning) until fd is readable: epoll_wait with timeout 0 in a loop, or nothing in recv
   mode (the recv itself spins). */
static void spin_readable(int ep) {
    struct epoll_event ev;
    if (ep < 0) return;
    for (;;) {
        int n = epoll_wait(ep, &ev, 1, 0);
        if (n > 0) return;
        if (n < 0 && errno != EINTR) die("epoll_wait");
    }
}

/* Sends all of buf, spinning on EAGAIN. */
static int send_all(int fd, const unsigned char *buf, size_t len) {
    while (len > 0) {
        ssize_t w = send(fd, buf, len, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (w > 0) {
            buf += w, len -= (size_t)w;
        } else if (w < 0 && errno != EAGAIN && errno != EINTR) {
            return -1;
        }
    }
    return 0;
}

static int make_epoll(int fd) {
    if (g_recv_spin) return -1;
    int ep = epoll_create1(EPOLL_CLOEXEC);
    if (ep < 0) die("epoll_create1");
    struct epoll_event ev = { .events = EPOLLIN, .data.fd = fd };
    if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) < 0) die("epoll_ctl");
    return ep;
}

static void *server_main(void *arg) {
    (void)arg;
    static unsigned char buf[MAX_SIZE];
    pin(g_srv_cpu, "server");
    int fd = accept4(g_lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC); /* blocking listener: once */
    if (fd < 0) die("accept4");
    tune(fd);
    int ep = make_epoll(fd);
    for (;;) {
        spin_readable(ep);
        ssize_t r = recv(fd, buf, sizeof buf, MSG_DONTWAIT);
        if (r > 0) {
            if (send_all(fd, buf, (size_t)r) < 0) {
                fprintf(stderr, "pingpong_epoll: server send: %s\n", strerror(errno));
                g_server_failed = 1;
                break;
            }
        } else if (r == 0) {
            break; /* the client is done */
        } else if (errno != EAGAIN && errno != EINTR) {
            fprintf(stderr, "pingpong_epoll: server recv: %s\n", strerror(errno));
            g_server_failed = 1;
            break;
        }
    }
    if (ep >= 0) close(ep);
    close(fd);
    return NULL;
}

static int cmp_u64(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static double pct(const uint64_t *v, long n, double p) { /* nearest rank, in microseconds */
    long rank = (long)(p * (double)n);
    if ((double)rank < p * (double)n) rank++;
    if (rank < 1) rank = 1;
    if (rank > n) rank = n;
    return (double)v[rank - 1] / 1e3;
}

static long parse_long(const char *s, long lo, long hi, const char *what) {
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || *end || end == s || v < lo || v > hi) {
        fprintf(stderr, "pingpong_epoll: %s must be an integer in [%ld, %ld], got '%s'\n", what, lo, hi, s);
        exit(2);
    }
    return v;
}

static void usage(void) {
    fprintf(stderr, "usage: pingpong_epoll [-n ROUNDS] [-w WARMUP] [-s SIZE] [-S CPU] [-C CPU] [-m epoll|recv] [-j]\n");
    exit(2);
}

int main(int argc, char **argv) {
    int opt;
    while ((opt = getopt(argc, argv, "n:w:s:S:C:m:jh")) != -1) {
        switch (opt) {
            case 'n': g_rounds = parse_long(optarg, 1, 100000000, "-n ROUNDS"); break;
            case 'w': g_warmup = parse_long(optarg, 0, 100000000, "-w WARMUP"); break;
            case 's': g_size = parse_long(optarg, 1, MAX_SIZE, "-s SIZE"); break;
            case 'S': g_srv_cpu = (int)parse_long(optarg, -1, CPU_SETSIZE - 1, "-S CPU"); break;
            case 'C': g_cli_cpu = (int)parse_long(optarg, -1, CPU_SETSIZE - 1, "-C CPU"); break;
            case 'm':
                if (strcmp(optarg, "epoll") == 0)
                    g_recv_spin = 0;
                else if (strcmp(optarg, "recv") == 0)
                    g_recv_spin = 1;
                else
                    usage();
                break;
            case 'j': g_json = 1; break;
            default: usage();
        }
    }
    if (optind != argc) usage();

    uint64_t *rtt = malloc((size_t)g_rounds * sizeof *rtt);
    unsigned char *out = malloc((size_t)g_size), *in = malloc((size_t)g_size);
    if (!rtt || !out || !in) die("malloc");

    /* listener on 127.0.0.1, a port the kernel picks */
    g_lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (g_lfd < 0) die("socket");
    struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    socklen_t slen = sizeof sa;
    if (bind(g_lfd, (struct sockaddr *)&sa, sizeof sa) < 0 || listen(g_lfd, 1) < 0) die("bind/listen");
    if (getsockname(g_lfd, (struct sockaddr *)&sa, &slen) < 0) die("getsockname");
    g_port = ntohs(sa.sin_port);

    pthread_t th;
    int e = pthread_create(&th, NULL, server_main, NULL);
    if (e) {
        errno = e;
        die("pthread_create");
    }

    /* the client: this thread */
    pin(g_cli_cpu, "client");
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) die("socket");
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0) die("connect");
    tune(fd);
    int fl = fcntl(fd, F_GETFL);
    if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0) die("fcntl O_NONBLOCK");
    int ep = make_epoll(fd);

    int status = 0;
    uint64_t t_begin = 0;
    for (long i = 0; i < g_warmup + g_rounds && !status; i++) {
        for (long k = 0; k < g_size; k++) out[k] = (unsigned char)(i * 131 + k * 7 + (k >> 8));
        if (i == g_warmup) t_begin = now_ns();
        uint64_t t0 = now_ns();
        if (send_all(fd, out, (size_t)g_size) < 0) {
            fprintf(stderr, "pingpong_epoll: client send: %s\n", strerror(errno));
            status = 1;
            break;
        }
        long got = 0;
        while (got < g_size) {
            spin_readable(ep);
            ssize_t r = recv(fd, in + got, (size_t)(g_size - got), MSG_DONTWAIT);
            if (r > 0) {
                got += r;
            } else if (r == 0) {
                fprintf(stderr, "pingpong_epoll: client: unexpected EOF from the server\n");
                status = 1;
                break;
            } else if (errno != EAGAIN && errno != EINTR) {
                fprintf(stderr, "pingpong_epoll: client recv: %s\n", strerror(errno));
                status = 1;
                break;
            }
        }
        uint64_t t1 = now_ns();
        if (status) break;
        if (memcmp(in, out, (size_t)g_size) != 0) {
            fprintf(stderr, "pingpong_epoll: MISMATCH in the echo of round trip %ld\n", i);
            status = 1;
            break;
        }
        if (i >= g_warmup) rtt[i - g_warmup] = t1 - t0;
    }
    uint64_t t_end = now_ns();
    shutdown(fd, SHUT_WR); /* the server reads EOF and stops */
    pthread_join(th, NULL);
    if (ep >= 0) close(ep);
    close(fd);
    close(g_lfd);
    if (g_server_failed) status = 1;
    if (status) return 1;

    qsort(rtt, (size_t)g_rounds, sizeof *rtt, cmp_u64);
    double sum = 0;
    for (long i = 0; i < g_rounds; i++) sum += (double)rtt[i];
    double mean = sum / (double)g_rounds / 1e3, secs = (double)(t_end - t_begin) / 1e9;
    double p50 = pct(rtt, g_rounds, 0.50), p99 = pct(rtt, g_rounds, 0.99), p999 = pct(rtt, g_rounds, 0.999);
    double mn = (double)rtt[0] / 1e3, mx = (double)rtt[g_rounds - 1] / 1e3;
    const char *mode = g_recv_spin ? "recv" : "epoll";
    if (g_json)
        printf("{\"impl\":\"epoll\",\"mode\":\"%s\",\"size\":%ld,\"rounds\":%ld,\"warmup\":%ld,\"duration_s\":%.3f,"
               "\"rtt_per_s\":%.1f,\"min_us\":%.2f,\"mean_us\":%.2f,\"p50_us\":%.2f,\"p99_us\":%.2f,\"p999_us\":%.2f,"
               "\"max_us\":%.2f,\"errors\":0}\n",
               mode, g_size, g_rounds, g_warmup, secs, (double)g_rounds / secs, mn, mean, p50, p99, p999, mx);
    else {
        printf("pingpong_epoll (%s spin): %ld round trips x %ld B after %ld warm-up, server CPU %d, client CPU %d\n",
               mode, g_rounds, g_size, g_warmup, g_srv_cpu, g_cli_cpu);
        printf("%10s %9s %9s %9s %9s %9s %10s\n", "rtt/s", "min us", "mean us", "p50 us", "p99 us", "p99.9 us",
               "max us");
        printf("%10.0f %9.2f %9.2f %9.2f %9.2f %9.2f %10.2f\n", (double)g_rounds / secs, mn, mean, p50, p99, p999, mx);
    }
    free(rtt), free(out), free(in);
    return 0;
}
