/* uv_udp -- bench/udp_sink.c's receiver written on libuv (uv_udp_recv_start with recvmmsg), for
 * bench/udp_compare.sh. Same command line subset, same measurement, same report.
 *
 *   cc -O2 -g -std=gnu11 -Wall -Wextra -Wpedantic -Werror bench/uv_udp.c -o build/uv_udp \
 *      $(pkg-config --cflags --libs libuv)
 *   build/uv_udp [-a ADDR] [-p PORT] [-T SECS] [-q MS] [-S] [-M SECS] [-r RCVBUF] [-j]
 *
 * The handle is made with uv_udp_init_ex(loop, h, AF_INET | UV_UDP_RECVMMSG): libuv (1.44 here)
 * then reads with recvmmsg(2), one 64 KiB slice of the buffer alloc_cb returns per datagram, at
 * most 20 slices (UV__MMSG_MAXWIDTH), and up to 32 datagrams per readiness event before it goes
 * back to epoll_wait (level-triggered). alloc_cb returns one static 20 x 64 KiB buffer, so libuv
 * batches as wide as it can and nothing is allocated per datagram. recv_cb checks each datagram
 * exactly as udp_sink does. The socket's SO_RCVBUF is set on the fd (SO_RCVBUFFORCE, as
 * udp_sink) after the bind, so every receiver gets the same -r (default 4194304).
 *
 * The loop is uv_run(UV_RUN_ONCE) with a 100 ms repeating timer (it only wakes the loop when
 * nothing comes); after each turn the clock is read, as udp_sink does after each system call or
 * run_once. Output: "listening on ADDR:PORT", then the report (see bench/udp_sink.c). */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>

#define SLICE (64 * 1024) /* libuv's UV__UDP_DGRAM_MAXSIZE */
#define SLICES 20         /* libuv's UV__MMSG_MAXWIDTH */

static const char *prog = "uv_udp";
static int g_json;
static const char *g_addr = "127.0.0.1";
static unsigned g_port;
static unsigned long g_rcvbuf = 4194304;
static double g_secs = 2.0, g_max_secs = 30.0;
static unsigned g_quiet_ms = 300;
static int g_wait_signal;                   /* -S: the quiet rule waits for SIGUSR1 */
static volatile sig_atomic_t g_sender_done; /* SIGUSR1 came */

static void on_usr1(int sig) {
    (void)sig;
    g_sender_done = 1;
}

/* -S: SIGUSR1 says the sender has exited (bench/udp_compare.sh sends it): only then may a quiet
   spell end the run, so a receiver starved of CPU for a while by other processes does not stop
   while datagrams are still coming. No SA_RESTART: a blocked receive returns at once. */
static void catch_usr1(void) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_usr1;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGUSR1, &sa, NULL);
}
static int g_fd = -1;
static uint64_t g_recv_errors, g_callbacks;

struct meas {
    uint64_t count, bytes, next, gaps, late, shorts, max_len;
    uint64_t turns;
    uint64_t t_start;
    uint64_t t_first, cpu_first, csw_first, turns_first;
    int window_done, window_cut;
    uint64_t w_count, w_ns, w_cpu, w_csw, w_turns, w_drops;
    uint64_t last_count, last_rx;
    uint64_t drops_first;
};
static struct meas M;

static uint64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static uint64_t cpu_ns(uint64_t *csw) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    if (csw) *csw = (uint64_t)ru.ru_nvcsw + (uint64_t)ru.ru_nivcsw;
    return ((uint64_t)ru.ru_utime.tv_sec + (uint64_t)ru.ru_stime.tv_sec) * 1000000000ull +
           ((uint64_t)ru.ru_utime.tv_usec + (uint64_t)ru.ru_stime.tv_usec) * 1000ull;
}

static uint64_t kernel_drops(void) {
    uint32_t mi[SK_MEMINFO_VARS];
    socklen_t len = sizeof mi;
    memset(mi, 0, sizeof mi);
    if (getsockopt(g_fd, SOL_SOCKET, SO_MEMINFO, mi, &len) != 0 || len <= SK_MEMINFO_DROPS * sizeof mi[0])
        return UINT64_MAX;
    return mi[SK_MEMINFO_DROPS];
}

static void first_datagram(void) {
    M.t_first = now_ns();
    M.cpu_first = cpu_ns(&M.csw_first);
    M.turns_first = M.turns;
    M.last_rx = M.t_first;
    M.drops_first = kernel_drops();
}

static inline void on_datagram(const uint8_t *p, size_t len) {
    if (M.count == 0) first_datagram();
    M.count++;
    M.bytes += len;
    if (len > M.max_len) M.max_len = len;
    if (len < 8) {
        M.shorts++;
        return;
    }
    uint64_t seq;
    memcpy(&seq, p, 8);
    if (seq == M.next)
        M.next++;
    else if (seq > M.next) {
        M.gaps += seq - M.next;
        M.next = seq + 1;
    } else
        M.late++;
}

static void take_window(uint64_t now) {
    uint64_t csw;
    M.w_cpu = cpu_ns(&csw) - M.cpu_first;
    M.w_csw = csw - M.csw_first;
    M.w_count = M.count;
    M.w_ns = now - M.t_first;
    M.w_turns = M.turns - M.turns_first;
    uint64_t d = kernel_drops();
    M.w_drops = (d == UINT64_MAX || M.drops_first == UINT64_MAX) ? UINT64_MAX : d - M.drops_first;
    M.window_done = 1;
}

static int tick(void) {
    uint64_t now = now_ns();
    if (M.count == 0) return now - M.t_start >= (uint64_t)(g_max_secs * 1e9);
    if (M.count != M.last_count) {
        M.last_count = M.count;
        M.last_rx = now;
    }
    if (!M.window_done && now - M.t_first >= (uint64_t)(g_secs * 1e9)) take_window(now);
    if ((!g_wait_signal || g_sender_done) && now - M.last_rx >= (uint64_t)g_quiet_ms * 1000000ull) {
        if (!M.window_done) {
            take_window(M.last_rx);
            M.window_cut = 1;
        }
        return 1;
    }
    return now - M.t_start >= (uint64_t)(g_max_secs * 1e9);
}

static char *g_buf;

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf) {
    (void)h;
    (void)suggested;
    *buf = uv_buf_init(g_buf, SLICE * SLICES);
}

static void on_recv(uv_udp_t *h, ssize_t nread, const uv_buf_t *buf, const struct sockaddr *addr, unsigned flags) {
    (void)h;
    g_callbacks++;
    if (nread < 0) {
        g_recv_errors++;
        return;
    }
    if (flags & UV_UDP_MMSG_FREE) return;   /* the end of a recvmmsg batch: the buffer is ours anyway */
    if (nread == 0 && addr == NULL) return; /* nothing more to read (EAGAIN) */
    if (flags & UV_UDP_PARTIAL) M.shorts++;
    on_datagram((const uint8_t *)buf->base, (size_t)nread);
}

static void on_timer(uv_timer_t *t) { (void)t; }

static void usage(void) {
    fprintf(stderr, "usage: %s [-a ADDR] [-p PORT] [-T SECS] [-q MS] [-S] [-M SECS] [-r RCVBUF] [-j]\n", prog);
    exit(2);
}

static unsigned long num(const char *s, unsigned long lo, unsigned long hi) {
    char *end;
    errno = 0;
    unsigned long v = strtoul(s, &end, 10);
    if (errno || end == s || *end || v < lo || v > hi) {
        fprintf(stderr, "%s: bad number %s (%lu..%lu)\n", prog, s, lo, hi);
        exit(2);
    }
    return v;
}

static double dnum(const char *s) {
    char *end;
    double v = strtod(s, &end);
    if (end == s || *end || !(v > 0) || v > 3600) {
        fprintf(stderr, "%s: bad duration %s\n", prog, s);
        exit(2);
    }
    return v;
}

static void uv_fail(const char *what, int r) {
    fprintf(stderr, "%s: %s: %s\n", prog, what, uv_strerror(r));
    exit(1);
}

int main(int argc, char **argv) {
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "-j") || !strcmp(a, "-S")) {
            if (a[1] == 'j')
                g_json = 1;
            else
                g_wait_signal = 1;
            continue;
        }
        if (!v) usage();
        if (!strcmp(a, "-a"))
            g_addr = v;
        else if (!strcmp(a, "-p"))
            g_port = (unsigned)num(v, 0, 65535);
        else if (!strcmp(a, "-T"))
            g_secs = dnum(v);
        else if (!strcmp(a, "-q"))
            g_quiet_ms = (unsigned)num(v, 1, 60000);
        else if (!strcmp(a, "-M"))
            g_max_secs = dnum(v);
        else if (!strcmp(a, "-r"))
            g_rcvbuf = num(v, 0, 1ul << 30);
        else
            usage();
        i++;
    }
    if (g_wait_signal) catch_usr1();
    g_buf = aligned_alloc(4096, (size_t)SLICE * SLICES);
    if (!g_buf) return 1;
    memset(g_buf, 0, (size_t)SLICE * SLICES);

    uv_loop_t loop;
    uv_udp_t udp;
    uv_timer_t timer;
    int r;
    if ((r = uv_loop_init(&loop)) < 0) uv_fail("uv_loop_init", r);
    if ((r = uv_udp_init_ex(&loop, &udp, AF_INET | UV_UDP_RECVMMSG)) < 0) uv_fail("uv_udp_init_ex", r);
    struct sockaddr_in sa;
    if ((r = uv_ip4_addr(g_addr, (int)g_port, &sa)) < 0) uv_fail("uv_ip4_addr", r);
    if ((r = uv_udp_bind(&udp, (const struct sockaddr *)&sa, 0)) < 0) uv_fail("uv_udp_bind", r);
    uv_os_fd_t fd;
    if ((r = uv_fileno((uv_handle_t *)&udp, &fd)) < 0) uv_fail("uv_fileno", r);
    g_fd = fd;
    if (g_rcvbuf) {
        int v = (int)g_rcvbuf;
        if (setsockopt(g_fd, SOL_SOCKET, SO_RCVBUFFORCE, &v, sizeof v) != 0 &&
            setsockopt(g_fd, SOL_SOCKET, SO_RCVBUF, &v, sizeof v) != 0) {
            fprintf(stderr, "%s: SO_RCVBUF: %s\n", prog, strerror(errno));
            return 1;
        }
    }
    int namelen = sizeof sa;
    uv_udp_getsockname(&udp, (struct sockaddr *)&sa, &namelen);
    g_port = ntohs(sa.sin_port);
    if ((r = uv_udp_recv_start(&udp, on_alloc, on_recv)) < 0) uv_fail("uv_udp_recv_start", r);
    uv_timer_init(&loop, &timer);
    uv_timer_start(&timer, on_timer, 100, 100);
    if (!uv_udp_using_recvmmsg(&udp)) fprintf(stderr, "%s: warning: libuv does not use recvmmsg\n", prog);

    printf("listening on %s:%u\n", g_addr, g_port);
    fflush(stdout);
    M.t_start = now_ns();
    for (;;) {
        uv_run(&loop, UV_RUN_ONCE);
        M.turns++;
        if (tick()) break;
    }

    uint64_t drops = kernel_drops();
    double secs = (double)M.w_ns / 1e9;
    double rate = secs > 0 ? (double)M.w_count / secs : 0;
    double cpu = M.w_count ? (double)M.w_cpu / (double)M.w_count : 0;
    double busy = M.w_ns ? (double)M.w_cpu / (double)M.w_ns : 0;
    double turns = M.w_count ? (double)M.w_turns / (double)M.w_count : 0;
    double csw = M.w_count ? (double)M.w_csw * 1000.0 / (double)M.w_count : 0;
    long long dr = drops == UINT64_MAX ? -1 : (long long)drops;
    long long wdr = M.w_drops == UINT64_MAX ? -1 : (long long)M.w_drops;
    if (M.count == 0) {
        fprintf(stderr, "%s: no datagram came in %.0f s\n", prog, g_max_secs);
        return 1;
    }
    if (g_json)
        printf("{\"rx\":\"libuv\",\"backend\":\"-\",\"ts\":0,\"max_len\":%llu,\"window_s\":%.3f,\"window_cut\":%d,"
               "\"window_dgrams\":%llu,\"dgrams_per_s\":%.0f,\"cpu_ns_per_dgram\":%.1f,\"busy\":%.3f,"
               "\"turns_per_dgram\":%.4f,\"csw_per_kdgram\":%.2f,\"window_drops\":%lld,\"received\":%llu,"
               "\"next_seq\":%llu,\"gaps\":%llu,\"late\":%llu,\"short\":%llu,\"kernel_drops\":%lld,"
               "\"ovfl_seen\":0,\"ts_seen\":0,\"truncated\":0,\"stalls\":0,\"recv_errors\":%llu,"
               "\"bufsz\":%d,\"rcvbuf\":%lu}\n",
               (unsigned long long)M.max_len, secs, M.window_cut, (unsigned long long)M.w_count, rate, cpu, busy, turns,
               csw, wdr, (unsigned long long)M.count, (unsigned long long)M.next, (unsigned long long)M.gaps,
               (unsigned long long)M.late, (unsigned long long)M.shorts, dr, (unsigned long long)g_recv_errors, SLICE,
               g_rcvbuf);
    else {
        printf("libuv: %llu datagrams in %.3f s%s: %.0f/s, CPU %.1f ns/datagram (busy %.2f), %.4f loop turns per "
               "datagram, %.2f context switches per 1000\n",
               (unsigned long long)M.w_count, secs, M.window_cut ? " (cut short: the sender stopped)" : "", rate, cpu,
               busy, turns, csw);
        printf("total %llu received, next seq %llu, gaps %llu, late %llu, short %llu; kernel drops %lld (window "
               "%lld); receive errors %llu; %llu callbacks\n",
               (unsigned long long)M.count, (unsigned long long)M.next, (unsigned long long)M.gaps,
               (unsigned long long)M.late, (unsigned long long)M.shorts, dr, wdr, (unsigned long long)g_recv_errors,
               (unsigned long long)g_callbacks);
    }
    fflush(stdout);
    uv_udp_recv_stop(&udp);
    uv_close((uv_handle_t *)&udp, NULL);
    uv_close((uv_handle_t *)&timer, NULL);
    uv_run(&loop, UV_RUN_DEFAULT);
    uv_loop_close(&loop);
    free(g_buf);
    return 0;
}
