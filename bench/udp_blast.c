/* udp_blast -- UDP sender for bench/udp_compare.sh: sequenced datagrams of one size to ADDR:PORT
 * as fast as it can, by plain sendmmsg(2), by raw UDP GSO, or through Zenith's sends.
 *
 *   cc -O2 -g -std=gnu11 -Wall -Wextra -Wpedantic -Werror -I. bench/udp_blast.c -o build/udp_blast \
 *      $(pkg-config --libs liburing) -lnuma -pthread
 *   build/udp_blast -p PORT [-a ADDR] [-s SIZE] [-T SECS] [-n COUNT] [-R RATE] [-b BATCH]
 *                   [-m sendmmsg|gso|gso-mmsg|zenith-gso|zenith-send] [--backend io_uring|epoll|auto] [-j]
 *
 *   -a ADDR     IPv4 destination (default 127.0.0.1); -p PORT its port (required)
 *   -s SIZE     datagram payload bytes, 8..65507 (default 64)
 *   -T SECS     send for this long (default 2); -n COUNT: or stop after COUNT datagrams
 *   -R RATE     at most RATE datagrams/s (checked per batch; default: as fast as it can)
 *   -b BATCH    datagrams per system call (default 64). gso modes: segments per send, at most
 *               65507 / SIZE (54 at 1,200 B) -- the kernel's limit for one GSO send
 *   -m MODE     sendmmsg (default): plain sockets, one sendmmsg of BATCH datagrams per call.
 *               gso: plain sockets, UDP_SEGMENT=SIZE on the socket and one send(2) of BATCH
 *               segments per call (the kernel cuts them: one pass through the stack).
 *               gso-mmsg: the same GSO messages, 8 per sendmmsg(2) (what zenith-gso does on
 *               epoll: 8 GSO sends per loop turn go out as one sendmmsg).
 *               zenith-gso: zenith_udp_send_gso of BATCH segments per call on a zenith_server;
 *               the loop queues sends until ZENITH_E_FULL (or 8 per turn), then run_once.
 *               zenith-send: zenith_udp_send of single datagrams, BATCH per loop turn (they
 *               leave together, by sendmmsg from the loop on both backends).
 *   --backend   zenith modes: the backend (default: ZENITH_BACKEND, else auto)
 *   -j          one JSON line instead of the text line
 *
 * Every socket is connected to ADDR:PORT (sends carry no address). Datagram k starts with k as a
 * 64-bit little-endian sequence number (bench/udp_sink.c and bench/uv_udp.c check them); the rest
 * of the payload is constant. Reported: datagrams sent (for Zenith: zenith_udp_info.datagrams_out
 * once its queue is empty), datagrams/s, the sender's CPU per datagram (getrusage RUSAGE_SELF,
 * all threads, from the first send to the last completion), system calls or loop turns, errors.
 * On loopback the sender's CPU also carries the receive path up to the receiver's socket queue
 * (softirq runs on the sending CPU), the same for every mode.
 *
 * Exit status: 0 = sent, 1 = error, 2 = usage. */
#define ZENITH_IMPLEMENTATION
#include "zenith.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#ifndef UDP_SEGMENT
#define UDP_SEGMENT 103
#endif

#define MAX_BATCH 1024
#define MAX_DGRAM 65507u

enum { M_SENDMMSG, M_GSO, M_GSOMM, M_ZGSO, M_ZSEND, M_COUNT };
static const char *mode_names[] = { "sendmmsg", "gso", "gso-mmsg", "zenith-gso", "zenith-send" };
#define GSO_PER_MMSG 8 /* gso-mmsg: GSO messages per sendmmsg; zenith-gso: GSO sends queued per loop turn */

static const char *prog = "udp_blast";
static int g_mode = M_SENDMMSG, g_json;
static const char *g_addr = "127.0.0.1", *g_backend;
static unsigned g_port, g_size = 64, g_batch = 64;
static double g_secs = 2.0, g_rate;
static uint64_t g_count;

static uint64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static uint64_t cpu_ns(void) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ((uint64_t)ru.ru_utime.tv_sec + (uint64_t)ru.ru_stime.tv_sec) * 1000000000ull +
           ((uint64_t)ru.ru_utime.tv_usec + (uint64_t)ru.ru_stime.tv_usec) * 1000ull;
}

/* Writes sequence numbers seq, seq+1, ... into n datagrams of g_size bytes at buf. */
static inline void stamp(uint8_t *buf, unsigned n, uint64_t seq) {
    for (unsigned i = 0; i < n; i++, seq++) memcpy(buf + (size_t)i * g_size, &seq, 8);
}

struct result {
    uint64_t sent, calls, errors, t0, t1, cpu0, cpu1;
    int last_errno;
    const char *backend;
    unsigned segs;
};

/* Pacing: sleeps until `sent` datagrams are due at g_rate. */
static void pace(uint64_t t0, uint64_t sent) {
    if (g_rate <= 0) return;
    uint64_t due = t0 + (uint64_t)((double)sent * 1e9 / g_rate);
    uint64_t now = now_ns();
    if (due > now + 20000) {
        struct timespec ts = { (time_t)((due - now) / 1000000000ull), (long)((due - now) % 1000000000ull) };
        nanosleep(&ts, NULL);
    }
}

static int done(uint64_t t0, uint64_t now, uint64_t sent) {
    if (g_count) return sent >= g_count;
    return now - t0 >= (uint64_t)(g_secs * 1e9);
}

static int connect_plain(void) {
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return -1;
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)g_port);
    if (inet_pton(AF_INET, g_addr, &sa.sin_addr) != 1) {
        errno = EINVAL;
        close(fd);
        return -1;
    }
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

static int run_plain(struct result *r) {
    int fd = connect_plain();
    if (fd < 0) {
        fprintf(stderr, "%s: socket/connect to %s:%u: %s\n", prog, g_addr, g_port, strerror(errno));
        return -1;
    }
    unsigned n = g_batch, nmsg = g_mode == M_GSOMM ? GSO_PER_MMSG : 1;
    if (g_mode == M_GSO || g_mode == M_GSOMM) {
        int seg = (int)g_size;
        if (setsockopt(fd, SOL_UDP, UDP_SEGMENT, &seg, sizeof seg) != 0) {
            fprintf(stderr, "%s: UDP_SEGMENT: %s\n", prog, strerror(errno));
            return -1;
        }
    }
    size_t bytes = (size_t)n * nmsg * g_size;
    uint8_t *buf = aligned_alloc(4096, (bytes + 4095) & ~(size_t)4095);
    static struct mmsghdr msgs[MAX_BATCH];
    static struct iovec iov[MAX_BATCH];
    if (!buf) return -1;
    memset(buf, 0xa5, bytes);
    if (g_mode == M_GSOMM) { /* nmsg messages of n segments each */
        for (unsigned j = 0; j < nmsg; j++) {
            iov[j].iov_base = buf + (size_t)j * n * g_size;
            iov[j].iov_len = (size_t)n * g_size;
            memset(&msgs[j], 0, sizeof msgs[j]);
            msgs[j].msg_hdr.msg_iov = &iov[j];
            msgs[j].msg_hdr.msg_iovlen = 1;
        }
    } else {
        for (unsigned i = 0; i < n; i++) {
            iov[i].iov_base = buf + (size_t)i * g_size;
            iov[i].iov_len = g_size;
            memset(&msgs[i], 0, sizeof msgs[i]);
            msgs[i].msg_hdr.msg_iov = &iov[i];
            msgs[i].msg_hdr.msg_iovlen = 1;
        }
    }
    r->segs = n * nmsg; /* datagrams per system call */
    r->t0 = now_ns();
    r->cpu0 = cpu_ns();
    uint64_t seq = 0, now = r->t0;
    while (!done(r->t0, now, seq)) {
        unsigned k = n * nmsg;
        if (g_count && g_count - seq < k) k = (unsigned)(g_count - seq);
        stamp(buf, k, seq);
        int got;
        if (g_mode == M_SENDMMSG) {
            got = sendmmsg(fd, msgs, k, 0);
        } else if (g_mode == M_GSOMM) {
            unsigned m = (k + n - 1) / n; /* the last message may be shorter (-n) */
            iov[m - 1].iov_len = (size_t)(k - (m - 1) * n) * g_size;
            got = sendmmsg(fd, msgs, m, 0);
            iov[m - 1].iov_len = (size_t)n * g_size;
            if (got > 0) got = got == (int)m ? (int)k : got * (int)n;
        } else {
            ssize_t w = send(fd, buf, (size_t)k * g_size, 0);
            got = w < 0 ? -1 : (int)k;
        }
        r->calls++;
        if (got > 0) {
            seq += (unsigned)got;
        } else {
            r->errors++;
            r->last_errno = errno;
            if (errno == ECONNREFUSED && r->errors > 1000) break; /* nobody listens */
        }
        now = now_ns();
        pace(r->t0, seq);
    }
    r->t1 = now_ns();
    r->cpu1 = cpu_ns();
    r->sent = seq;
    close(fd);
    free(buf);
    return 0;
}

/* ---- Zenith ------------------------------------------------------------------------------------ */
static void z_data(void *user, zenith_conn_id c, const uint8_t *data, size_t len) {
    (void)user;
    (void)c;
    (void)data;
    (void)len;
}

static int run_zenith(struct result *r) {
    zenith_server_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.struct_size = sizeof cfg;
    cfg.flags = ZENITH_SERVER_NO_LISTEN;
    cfg.udp_queue = 1024;
    if (g_backend) {
        if (!strcmp(g_backend, "io_uring"))
            cfg.backend = ZENITH_BACKEND_IO_URING;
        else if (!strcmp(g_backend, "epoll"))
            cfg.backend = ZENITH_BACKEND_EPOLL;
        else if (strcmp(g_backend, "auto") != 0) {
            fprintf(stderr, "%s: --backend io_uring|epoll|auto\n", prog);
            return -1;
        }
    }
    int err = 0;
    zenith_server *s = zenith_server_create(&cfg, &err);
    if (!s) {
        fprintf(stderr, "%s: zenith_server_create: %s\n", prog, zenith_strerror(err));
        return -1;
    }
    zenith_server_set_callbacks(s, NULL, z_data, NULL, NULL);
    zenith_udp_config uc;
    memset(&uc, 0, sizeof uc);
    uc.struct_size = sizeof uc;
    uc.address = "0.0.0.0";
    uc.peer_address = g_addr;
    uc.peer_port = (uint16_t)g_port;
    zenith_udp_id sock;
    if ((err = zenith_udp_open(s, &uc, &sock)) != 0) {
        fprintf(stderr, "%s: zenith_udp_open: %s\n", prog, zenith_strerror(err));
        zenith_server_destroy(s);
        return -1;
    }
    if ((err = zenith_server_start(s)) != 0) {
        fprintf(stderr, "%s: zenith_server_start: %s\n", prog, zenith_strerror(err));
        zenith_server_destroy(s);
        return -1;
    }
    zenith_backend_info bi;
    memset(&bi, 0, sizeof bi);
    bi.struct_size = sizeof bi;
    zenith_server_backend_info(s, &bi);
    r->backend = bi.name;
    zenith_udp_info info;
    memset(&info, 0, sizeof info);
    info.struct_size = sizeof info;
    zenith_udp_get_info(s, sock, &info);
    if (g_mode == M_ZGSO && !(info.features & ZENITH_UDP_F_GSO))
        fprintf(stderr, "%s: warning: zenith reports no UDP_SEGMENT: segments go one by one\n", prog);

    unsigned n = g_mode == M_ZGSO ? g_batch : 1;
    uint8_t *buf = malloc((size_t)g_batch * g_size);
    if (!buf) return -1;
    memset(buf, 0xa5, (size_t)g_batch * g_size);
    r->segs = n; /* datagrams per zenith call */
    r->t0 = now_ns();
    r->cpu0 = cpu_ns();
    uint64_t seq = 0, now = r->t0, full = 0;
    int rc = 0;
    while (!done(r->t0, now, seq)) {
        /* queue a turn's worth: 8 GSO sends, or BATCH single datagrams; stop at ZENITH_E_FULL */
        unsigned per_turn = g_mode == M_ZGSO ? GSO_PER_MMSG : g_batch;
        for (unsigned q = 0; q < per_turn; q++) {
            unsigned k = n;
            if (g_count && g_count - seq < k) k = (unsigned)(g_count - seq);
            if (k == 0) break;
            stamp(buf, k, seq);
            int e = g_mode == M_ZGSO ? zenith_udp_send_gso(s, sock, buf, (size_t)k * g_size, g_size, NULL)
                                     : zenith_udp_send(s, sock, buf, g_size, NULL);
            if (e == ZENITH_E_FULL) {
                full++;
                break;
            }
            if (e != 0) {
                fprintf(stderr, "%s: send: %s\n", prog, zenith_strerror(e));
                rc = -1;
                goto out;
            }
            seq += k;
        }
        int e = zenith_server_run_once(s, 0);
        r->calls++;
        if (e < 0) {
            fprintf(stderr, "%s: zenith_server_run_once: %s\n", prog, zenith_strerror(e));
            rc = -1;
            goto out;
        }
        now = now_ns();
        pace(r->t0, seq);
    }
    /* let the queue drain: everything queued is counted once the kernel has it */
    for (int i = 0; i < 10000; i++) {
        zenith_udp_get_info(s, sock, &info);
        if (info.queued == 0) break;
        zenith_server_run_once(s, 1);
        r->calls++;
    }
out:
    r->t1 = now_ns();
    r->cpu1 = cpu_ns();
    zenith_udp_get_info(s, sock, &info);
    r->sent = info.datagrams_out;
    r->errors = info.send_errors;
    r->last_errno = zenith_errno(info.last_error);
    if (info.queued) fprintf(stderr, "%s: %u datagrams still queued at the end\n", prog, info.queued);
    if (seq != info.datagrams_out + info.send_errors)
        fprintf(stderr, "%s: queued %llu datagrams, zenith counts %llu sent + %llu errors\n", prog,
                (unsigned long long)seq, (unsigned long long)info.datagrams_out, (unsigned long long)info.send_errors);
    if (!g_json)
        fprintf(stderr, "%s: zenith %s: %llu GSO sends, %llu refused (ZENITH_E_FULL)\n", prog, bi.name,
                (unsigned long long)info.gso_sends, (unsigned long long)full);
    zenith_server_destroy(s);
    free(buf);
    return rc;
}

static void usage(void) {
    fprintf(stderr,
            "usage: %s -p PORT [-a ADDR] [-s SIZE] [-T SECS] [-n COUNT] [-R RATE] [-b BATCH] "
            "[-m sendmmsg|gso|gso-mmsg|zenith-gso|zenith-send] [--backend io_uring|epoll|auto] [-j]\n",
            prog);
    exit(2);
}

static unsigned long long num(const char *s, unsigned long long lo, unsigned long long hi) {
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || end == s || *end || v < lo || v > hi) {
        fprintf(stderr, "%s: bad number %s (%llu..%llu)\n", prog, s, lo, hi);
        exit(2);
    }
    return v;
}

static double dnum(const char *s) {
    char *end;
    double v = strtod(s, &end);
    if (end == s || *end || !(v > 0) || v > 1e12) {
        fprintf(stderr, "%s: bad value %s\n", prog, s);
        exit(2);
    }
    return v;
}

int main(int argc, char **argv) {
    int have_port = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "-j")) {
            g_json = 1;
            continue;
        }
        if (!v) usage();
        if (!strcmp(a, "-m")) {
            int m = -1;
            for (int k = 0; k < M_COUNT; k++)
                if (!strcmp(v, mode_names[k])) m = k;
            if (m < 0) usage();
            g_mode = m;
        } else if (!strcmp(a, "-a"))
            g_addr = v;
        else if (!strcmp(a, "-p"))
            g_port = (unsigned)num(v, 1, 65535), have_port = 1;
        else if (!strcmp(a, "-s"))
            g_size = (unsigned)num(v, 8, MAX_DGRAM);
        else if (!strcmp(a, "-T"))
            g_secs = dnum(v);
        else if (!strcmp(a, "-n"))
            g_count = num(v, 1, 1ull << 50);
        else if (!strcmp(a, "-R"))
            g_rate = dnum(v);
        else if (!strcmp(a, "-b"))
            g_batch = (unsigned)num(v, 1, MAX_BATCH);
        else if (!strcmp(a, "--backend"))
            g_backend = v;
        else
            usage();
        i++;
    }
    if (!have_port) usage();
    if (g_mode == M_GSO || g_mode == M_GSOMM || g_mode == M_ZGSO) {
        unsigned max = MAX_DGRAM / g_size;
        if (max > 64) max = 64; /* UDP_MAX_SEGMENTS on older kernels; Zenith's limit */
        if (g_batch > max) g_batch = max;
    }
    struct result r;
    memset(&r, 0, sizeof r);
    r.backend = "-";
    int rc = g_mode < M_ZGSO ? run_plain(&r) : run_zenith(&r);
    if (rc != 0) return 1;
    double secs = (double)(r.t1 - r.t0) / 1e9;
    double rate = secs > 0 ? (double)r.sent / secs : 0;
    double cpu = r.sent ? (double)(r.cpu1 - r.cpu0) / (double)r.sent : 0;
    double busy = secs > 0 ? (double)(r.cpu1 - r.cpu0) / 1e9 / secs : 0;
    if (g_json)
        printf("{\"tx\":\"%s\",\"backend\":\"%s\",\"size\":%u,\"segs\":%u,\"sent\":%llu,\"secs\":%.3f,"
               "\"dgrams_per_s\":%.0f,\"cpu_ns_per_dgram\":%.1f,\"busy\":%.3f,\"calls\":%llu,\"errors\":%llu,"
               "\"last_errno\":%d}\n",
               mode_names[g_mode], r.backend, g_size, r.segs, (unsigned long long)r.sent, secs, rate, cpu, busy,
               (unsigned long long)r.calls, (unsigned long long)r.errors, r.last_errno);
    else
        printf("%s%s%s: %llu datagrams of %u B in %.3f s: %.0f/s, CPU %.1f ns/datagram (busy %.2f), %llu calls "
               "(%u per call), %llu errors%s%s\n",
               mode_names[g_mode], g_mode >= M_ZGSO ? " " : "", g_mode >= M_ZGSO ? r.backend : "",
               (unsigned long long)r.sent, g_size, secs, rate, cpu, busy, (unsigned long long)r.calls, r.segs,
               (unsigned long long)r.errors, r.errors ? ", last: " : "", r.errors ? strerror(r.last_errno) : "");
    return 0;
}
