/* udp_sink -- UDP receivers for bench/udp_compare.sh: a plain recvmmsg loop (the baseline), the
 * same loop driven by epoll, Zenith's zenith_udp_open on either backend, a bare liburing multishot
 * receiver, and a sink that reads nothing. Same measurement and report in each (bench/uv_udp.c is
 * the libuv one).
 *
 *   cc -O2 -g -std=gnu11 -Wall -Wextra -Wpedantic -Werror -I. bench/udp_sink.c -o build/udp_sink \
 *      $(pkg-config --libs liburing) -lnuma -pthread
 *   build/udp_sink [-m recvmmsg|epoll|zenith|uring|none] [-a ADDR] [-p PORT] [-T SECS] [-q MS] [-S] [-M SECS]
 *                  [-r RCVBUF] [-B BUFSZ] [-b BATCH] [--backend io_uring|epoll|auto] [--no-ts]
 *                  [--ts] [--buffers N] [--recv-buffers N] [-j]
 *
 *   -m MODE        recvmmsg (default): a blocking socket, recvmmsg(2) with MSG_WAITFORONE into
 *                  BATCH buffers of BUFSZ bytes: one system call per batch, sleeping in it when
 *                  the socket is empty (what high-rate receivers such as Solana's use).
 *                  epoll: the same buffers on a non-blocking socket, level-triggered epoll_wait,
 *                  then recvmmsg until a batch comes back short.
 *                  zenith: zenith_udp_open on a zenith_server (ZENITH_SERVER_NO_LISTEN); on_recv
 *                  checks each datagram; the loop is zenith_server_run_once(s, 100).
 *                  uring: io_uring without Zenith, on liburing: one multishot RECVMSG into a
 *                  provided-buffer ring of --recv-buffers x BUFSZ (SINGLE_ISSUER|DEFER_TASKRUN),
 *                  each buffer given back after its datagram: Zenith's io_uring receive path
 *                  with nothing of Zenith around it (--ts works here too).
 *                  none: never reads (the kernel drops all that does not fit): a sink for
 *                  measuring a sender alone; reports only the kernel's drop count.
 *   -a ADDR        IPv4 address to bind (default 127.0.0.1); -p PORT (default 0: the kernel's)
 *   -T SECS        the measured window, from the first datagram (default 2)
 *   -q MS          after the window, receive on until nothing came for MS ms (default 300): the
 *                  sender has stopped and every datagram it sent was received or dropped
 *   -S             ... and only once SIGUSR1 came (bench/udp_compare.sh sends it when the sender
 *                  has exited), so that a receiver starved of CPU by other processes for longer
 *                  than MS does not stop early
 *   -M SECS        give up this long after start whatever happens (default 30)
 *   -r RCVBUF      SO_RCVBUFFORCE (else SO_RCVBUF) bytes; the kernel doubles it (default 4194304;
 *                  0 = the kernel's default). Zenith: zenith_udp_config.rcvbuf, the same call
 *   -B BUFSZ       bytes per datagram buffer (default 2048). Zenith: buffer_size, of which
 *                  ZENITH_UDP_RECV_HEADROOM (176) hold the address and ancillary data
 *   -b BATCH       recvmmsg batch (default 64, at most 1024)
 *   --ts           recvmmsg/epoll: ask for what Zenith delivers by default and read it for each
 *                  datagram: SO_TIMESTAMPING software receive timestamps and SO_RXQ_OVFL
 *   --no-ts        zenith: ZENITH_UDP_NO_TIMESTAMPS (SO_RXQ_OVFL stays: Zenith always asks for it)
 *   --backend B    zenith: the backend (default: ZENITH_BACKEND, else auto)
 *   --buffers N    zenith: buffer_count (default 8192); --recv-buffers N: recv_buffers (4096),
 *                  also the buffer ring of -m uring
 *   -j             one JSON line instead of the text report
 *
 * Prints "listening on ADDR:PORT" (the bound port) first, then receives. Every datagram must
 * start with a 64-bit little-endian sequence number (bench/udp_blast.c sends 0, 1, 2, ...); the
 * receiver counts gaps (sequence numbers skipped: lost), late ones (below the next expected:
 * reordered or duplicated; never on loopback) and short ones (under 8 bytes).
 *
 * Measured over the window [first datagram, first + SECS], the batch that crosses its end
 * included: datagrams, datagrams/s, CPU (getrusage RUSAGE_SELF utime+stime, all threads of the
 * process, io_uring workers included) per datagram, busy = CPU / wall time, loop turns (system
 * calls for recvmmsg, run_once returns for Zenith) per datagram, context switches. Then, at the
 * end: every datagram received, the kernel's drop counter for the socket (SO_MEMINFO
 * SK_MEMINFO_DROPS; Zenith: zenith_udp_info.kernel_drops), the gaps. A sender that sent N
 * datagrams lost none uncounted when received + kernel_drops == N and gaps + (N - next_seq) ==
 * kernel_drops (bench/udp_compare.sh checks both).
 *
 * Exit status: 0 = datagrams came and the report was printed, 1 = none came or an error, 2 = usage. */
#define ZENITH_IMPLEMENTATION
#include "zenith.h"

#include <arpa/inet.h>
#include <errno.h>
#include <linux/net_tstamp.h>
#include <linux/sock_diag.h>
#include <liburing.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_BATCH 1024
#define CMSG_SPACE_RX 256 /* ancillary data per datagram with --ts */

enum { M_RECVMMSG, M_EPOLL, M_ZENITH, M_NONE, M_URING };
static const char *mode_names[] = { "recvmmsg", "epoll", "zenith", "none", "uring" };

static const char *prog = "udp_sink";
static int g_mode = M_RECVMMSG, g_json, g_ts, g_no_ts;
static const char *g_addr = "127.0.0.1", *g_backend;
static unsigned g_port, g_batch = 64, g_bufsz = 2048, g_buffers = 8192, g_recv_buffers = 4096;
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

/* ---- the measurement, the same for every mode ------------------------------------------------- */
struct meas {
    uint64_t count, bytes, next, gaps, late, shorts, max_len;
    uint64_t turns;   /* system calls (recvmmsg, epoll_wait) or loop turns (run_once) */
    uint64_t t_start; /* process ready */
    uint64_t t_first, cpu_first, csw_first, turns_first;
    int window_done; /* the window's figures are taken */
    int window_cut;  /* the window ended early (the sender stopped before SECS) */
    uint64_t w_count, w_ns, w_cpu, w_csw, w_turns, w_drops;
    uint64_t last_count, last_rx; /* quiet detection, at turn granularity */
    uint64_t drops_first;         /* the kernel's drop counter at the first datagram */
    uint64_t ts_seen, ovfl_max;
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

static void first_datagram(void);

/* One datagram: the same check in every receiver. */
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

/* The kernel's drop counter of the socket: SO_MEMINFO for the plain modes, zenith_udp_info for
   Zenith. Returns UINT64_MAX when it cannot be read. */
static int g_fd = -1;
static zenith_server *g_srv;
static zenith_udp_id g_sock;

static uint64_t kernel_drops(void) {
    if (g_mode == M_ZENITH) {
        zenith_udp_info info;
        memset(&info, 0, sizeof info);
        info.struct_size = sizeof info;
        if (zenith_udp_get_info(g_srv, g_sock, &info) != 0) return UINT64_MAX;
        return info.kernel_drops;
    }
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

/* After each turn of a receive loop. Returns 1 when the run is over. */
static int tick(void) {
    uint64_t now = now_ns();
    if (M.count == 0) return now - M.t_start >= (uint64_t)(g_max_secs * 1e9);
    if (M.count != M.last_count) {
        M.last_count = M.count;
        M.last_rx = now;
    }
    if (!M.window_done && now - M.t_first >= (uint64_t)(g_secs * 1e9)) take_window(now);
    if ((!g_wait_signal || g_sender_done) && now - M.last_rx >= (uint64_t)g_quiet_ms * 1000000ull) {
        if (!M.window_done) { /* the sender stopped before the window ended: up to the last datagram */
            take_window(M.last_rx);
            M.window_cut = 1;
        }
        return 1;
    }
    return now - M.t_start >= (uint64_t)(g_max_secs * 1e9);
}

/* ---- the plain receivers ----------------------------------------------------------------------- */
static struct mmsghdr g_msgs[MAX_BATCH];
static struct iovec g_iov[MAX_BATCH];
static struct sockaddr_in g_from[MAX_BATCH];
static uint8_t *g_bufs, *g_ctrl;
static uint64_t g_recv_errors;

static int fail(const char *what) {
    fprintf(stderr, "%s: %s: %s\n", prog, what, strerror(errno));
    return -1;
}

static void prepare_batch(void) {
    for (unsigned i = 0; i < g_batch; i++) {
        g_msgs[i].msg_hdr.msg_name = &g_from[i];
        g_msgs[i].msg_hdr.msg_namelen = sizeof g_from[i];
        g_msgs[i].msg_hdr.msg_iov = &g_iov[i];
        g_msgs[i].msg_hdr.msg_iovlen = 1;
        g_msgs[i].msg_hdr.msg_control = g_ts ? g_ctrl + (size_t)i * CMSG_SPACE_RX : NULL;
        g_msgs[i].msg_hdr.msg_controllen = g_ts ? CMSG_SPACE_RX : 0;
        g_msgs[i].msg_hdr.msg_flags = 0;
        g_iov[i].iov_base = g_bufs + (size_t)i * g_bufsz;
        g_iov[i].iov_len = g_bufsz;
    }
}

/* What Zenith does with each datagram's ancillary data, for --ts: the timestamp and the drop
   counter. */
static inline void read_cmsgs(struct msghdr *h) {
    for (struct cmsghdr *c = CMSG_FIRSTHDR(h); c; c = CMSG_NXTHDR(h, c)) {
        if (c->cmsg_level != SOL_SOCKET) continue;
        if (c->cmsg_type == SCM_TIMESTAMPING) {
            struct timespec ts[3];
            memcpy(ts, CMSG_DATA(c), sizeof ts);
            if (ts[0].tv_sec || ts[0].tv_nsec) M.ts_seen++;
        } else if (c->cmsg_type == SO_RXQ_OVFL) {
            uint32_t o;
            memcpy(&o, CMSG_DATA(c), sizeof o);
            if (o > M.ovfl_max) M.ovfl_max = o;
        }
    }
}

/* Handles n received messages and resets the headers recvmmsg wrote. */
static inline void handle_batch(int n) {
    for (int i = 0; i < n; i++) {
        struct msghdr *h = &g_msgs[i].msg_hdr;
        if (g_ts) {
            read_cmsgs(h);
            h->msg_controllen = CMSG_SPACE_RX;
        }
        if (h->msg_flags & MSG_TRUNC) M.shorts++; /* never with BUFSZ >= the datagrams */
        on_datagram(g_iov[i].iov_base, g_msgs[i].msg_len);
        h->msg_namelen = sizeof g_from[i];
    }
}

static int open_plain(int nonblock) {
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC | (nonblock ? SOCK_NONBLOCK : 0), 0);
    if (fd < 0) return fail("socket");
    if (g_rcvbuf) {
        int v = (int)g_rcvbuf;
        if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &v, sizeof v) != 0 &&
            setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &v, sizeof v) != 0)
            return fail("SO_RCVBUF");
    }
    if (g_ts) {
        int one = 1;
        unsigned tsf = SOF_TIMESTAMPING_RX_SOFTWARE | SOF_TIMESTAMPING_SOFTWARE;
        if (setsockopt(fd, SOL_SOCKET, SO_TIMESTAMPING, &tsf, sizeof tsf) != 0) return fail("SO_TIMESTAMPING");
        if (setsockopt(fd, SOL_SOCKET, SO_RXQ_OVFL, &one, sizeof one) != 0) return fail("SO_RXQ_OVFL");
    }
    if (!nonblock) { /* wake up every 100 ms to watch the clock when nothing comes */
        struct timeval tv = { 0, 100000 };
        if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv) != 0) return fail("SO_RCVTIMEO");
    }
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)g_port);
    if (inet_pton(AF_INET, g_addr, &sa.sin_addr) != 1) {
        fprintf(stderr, "%s: not an IPv4 address: %s\n", prog, g_addr);
        return -1;
    }
    if (bind(fd, (struct sockaddr *)&sa, sizeof sa) != 0) return fail("bind");
    socklen_t sl = sizeof sa;
    getsockname(fd, (struct sockaddr *)&sa, &sl);
    g_port = ntohs(sa.sin_port);
    g_bufs = aligned_alloc(4096, (size_t)g_batch * g_bufsz);
    g_ctrl = calloc(g_batch, CMSG_SPACE_RX);
    if (!g_bufs || !g_ctrl) return fail("malloc");
    memset(g_bufs, 0, (size_t)g_batch * g_bufsz);
    prepare_batch();
    return fd;
}

static int run_recvmmsg(void) {
    for (;;) {
        int n = recvmmsg(g_fd, g_msgs, g_batch, MSG_WAITFORONE, NULL);
        M.turns++;
        if (n > 0)
            handle_batch(n);
        else if (n < 0 && errno != EAGAIN && errno != EINTR)
            g_recv_errors++;
        if (tick()) return 0;
    }
}

static int run_epoll(void) {
    int ep = epoll_create1(EPOLL_CLOEXEC);
    if (ep < 0) return fail("epoll_create1");
    struct epoll_event ev = { .events = EPOLLIN, .data.u64 = 0 };
    if (epoll_ctl(ep, EPOLL_CTL_ADD, g_fd, &ev) != 0) return fail("epoll_ctl");
    for (;;) {
        int ne = epoll_wait(ep, &ev, 1, 100);
        M.turns++;
        if (ne > 0) {
            for (;;) {
                int n = recvmmsg(g_fd, g_msgs, g_batch, 0, NULL);
                M.turns++;
                if (n > 0) handle_batch(n);
                if (n < (int)g_batch) {
                    if (n < 0 && errno != EAGAIN && errno != EINTR) g_recv_errors++;
                    break;
                }
            }
        }
        if (tick()) break;
    }
    close(ep);
    return 0;
}

/* -m none: never reads. Everything past the receive buffer is dropped by the kernel, after the
   whole receive path (on loopback: on the sender's CPU), so a sender measured against it pays
   the same per datagram whatever it is, and no wake-up. Watches the drop counter every 20 ms
   and stops once it has not moved for the quiet time. */
static int run_none(void) {
    uint64_t last = 0;
    for (;;) {
        struct timespec ts = { 0, 20000000 };
        nanosleep(&ts, NULL);
        uint64_t d = kernel_drops();
        if (d == UINT64_MAX) return fail("SO_MEMINFO");
        uint64_t now = now_ns();
        if (d != last) {
            if (last == 0) M.t_first = now;
            last = d;
            M.last_rx = now;
        }
        if (last && (!g_wait_signal || g_sender_done) && now - M.last_rx >= (uint64_t)g_quiet_ms * 1000000ull) return 0;
        if (now - M.t_start >= (uint64_t)(g_max_secs * 1e9)) return last ? 0 : -1;
    }
}

/* -m uring: io_uring without Zenith -- what Zenith's io_uring backend does at its core, written
   straight on liburing: a ring with SINGLE_ISSUER | DEFER_TASKRUN, one multishot RECVMSG into a
   provided-buffer ring of --recv-buffers buffers of BUFSZ bytes, each buffer put back into the
   ring right after its datagram is checked. Separates io_uring's own cost per datagram from
   Zenith's. */
#define URING_BGID 7
static uint64_t g_uring_stalls, g_uring_rearms;

static int run_uring(void) {
    struct io_uring ring;
    struct io_uring_params p;
    memset(&p, 0, sizeof p);
    p.flags = IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN | IORING_SETUP_CQSIZE;
    p.cq_entries = 4096;
    int r = io_uring_queue_init_params(256, &ring, &p);
    if (r < 0) {
        errno = -r;
        return fail("io_uring_queue_init_params");
    }
    unsigned n = 1;
    while (n < g_recv_buffers) n <<= 1; /* a power of two */
    size_t rsz = ((size_t)n * sizeof(struct io_uring_buf) + 4095) & ~(size_t)4095;
    struct io_uring_buf_ring *br = aligned_alloc(4096, rsz);
    uint8_t *bufs = aligned_alloc(4096, (size_t)n * g_bufsz);
    if (!br || !bufs) return fail("malloc");
    memset(bufs, 0, (size_t)n * g_bufsz);
    io_uring_buf_ring_init(br);
    struct io_uring_buf_reg reg;
    memset(&reg, 0, sizeof reg);
    reg.ring_addr = (uint64_t)(uintptr_t)br;
    reg.ring_entries = n;
    reg.bgid = URING_BGID;
    if ((r = io_uring_register_buf_ring(&ring, &reg, 0)) < 0) {
        errno = -r;
        return fail("io_uring_register_buf_ring");
    }
    int mask = io_uring_buf_ring_mask(n);
    for (unsigned i = 0; i < n; i++)
        io_uring_buf_ring_add(br, bufs + (size_t)i * g_bufsz, g_bufsz, (uint16_t)i, mask, (int)i);
    io_uring_buf_ring_advance(br, (int)n);
    struct msghdr mh;
    memset(&mh, 0, sizeof mh);
    mh.msg_namelen = sizeof(struct sockaddr_in);
    mh.msg_controllen = g_ts ? CMSG_SPACE_RX : 0;
    int armed = 0;
    for (;;) {
        if (!armed) {
            struct io_uring_sqe *sqe = io_uring_get_sqe(&ring);
            io_uring_prep_recvmsg_multishot(sqe, g_fd, &mh, MSG_TRUNC);
            sqe->flags |= IOSQE_BUFFER_SELECT;
            sqe->buf_group = URING_BGID;
            armed = 1;
            g_uring_rearms++;
        }
        struct __kernel_timespec ts = { 0, 100000000 };
        struct io_uring_cqe *cqe;
        r = io_uring_submit_and_wait_timeout(&ring, &cqe, 1, &ts, NULL);
        M.turns++;
        if (r < 0 && r != -ETIME && r != -EINTR) {
            errno = -r;
            return fail("io_uring_submit_and_wait_timeout");
        }
        unsigned head, seen = 0;
        int added = 0;
        io_uring_for_each_cqe(&ring, head, cqe) {
            seen++;
            if (!(cqe->flags & IORING_CQE_F_MORE)) armed = 0;
            if (cqe->res >= 0 && (cqe->flags & IORING_CQE_F_BUFFER)) {
                unsigned bid = cqe->flags >> IORING_CQE_BUFFER_SHIFT;
                uint8_t *b = bufs + (size_t)bid * g_bufsz;
                struct io_uring_recvmsg_out *o = io_uring_recvmsg_validate(b, cqe->res, &mh);
                if (o) {
                    if (g_ts) {
                        for (struct cmsghdr *c = io_uring_recvmsg_cmsg_firsthdr(o, &mh); c;
                             c = io_uring_recvmsg_cmsg_nexthdr(o, &mh, c)) {
                            if (c->cmsg_level != SOL_SOCKET) continue;
                            if (c->cmsg_type == SCM_TIMESTAMPING) {
                                struct timespec t[3];
                                memcpy(t, CMSG_DATA(c), sizeof t);
                                if (t[0].tv_sec || t[0].tv_nsec) M.ts_seen++;
                            } else if (c->cmsg_type == SO_RXQ_OVFL) {
                                uint32_t v;
                                memcpy(&v, CMSG_DATA(c), sizeof v);
                                if (v > M.ovfl_max) M.ovfl_max = v;
                            }
                        }
                    }
                    if (o->flags & MSG_TRUNC) M.shorts++;
                    on_datagram(io_uring_recvmsg_payload(o, &mh), io_uring_recvmsg_payload_length(o, cqe->res, &mh));
                }
                io_uring_buf_ring_add(br, b, g_bufsz, (uint16_t)bid, mask, added++);
            } else if (cqe->res == -ENOBUFS) {
                g_uring_stalls++;
            } else if (cqe->res < 0) {
                g_recv_errors++;
            }
        }
        io_uring_buf_ring_advance(br, added);
        io_uring_cq_advance(&ring, seen);
        if (tick()) break;
    }
    io_uring_queue_exit(&ring);
    return 0;
}

/* ---- Zenith ------------------------------------------------------------------------------------ */
static uint64_t g_trunc, g_zdrops_seen;

static void z_recv(void *user, zenith_udp_id sock, const zenith_udp_datagram *d) {
    (void)user;
    (void)sock;
    if (d->flags & ZENITH_UDP_TRUNC) g_trunc++;
    if (d->kernel_drops > g_zdrops_seen) g_zdrops_seen = d->kernel_drops;
    if (d->ts_ns) M.ts_seen++;
    on_datagram(d->data, d->len);
}

static void z_data(void *user, zenith_conn_id c, const uint8_t *data, size_t len) {
    (void)user;
    (void)c;
    (void)data;
    (void)len;
}

static zenith_udp_info g_info;
static zenith_server_stats g_sstats;

static int run_zenith(void) {
    zenith_server_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.struct_size = sizeof cfg;
    cfg.flags = ZENITH_SERVER_NO_LISTEN;
    cfg.buffer_size = g_bufsz;
    cfg.buffer_count = g_buffers;
    cfg.recv_buffers = g_recv_buffers;
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
    g_srv = zenith_server_create(&cfg, &err);
    if (!g_srv) {
        fprintf(stderr, "%s: zenith_server_create: %s\n", prog, zenith_strerror(err));
        return -1;
    }
    zenith_server_set_callbacks(g_srv, NULL, z_data, NULL, NULL);
    zenith_udp_config uc;
    memset(&uc, 0, sizeof uc);
    uc.struct_size = sizeof uc;
    uc.address = g_addr;
    uc.port = (uint16_t)g_port;
    uc.rcvbuf = (uint32_t)g_rcvbuf;
    uc.flags = g_no_ts ? ZENITH_UDP_NO_TIMESTAMPS : 0;
    uc.on_recv = z_recv;
    if ((err = zenith_udp_open(g_srv, &uc, &g_sock)) != 0) {
        fprintf(stderr, "%s: zenith_udp_open: %s\n", prog, zenith_strerror(err));
        return -1;
    }
    if ((err = zenith_server_start(g_srv)) != 0) {
        fprintf(stderr, "%s: zenith_server_start: %s\n", prog, zenith_strerror(err));
        return -1;
    }
    g_port = zenith_udp_port(g_srv, g_sock);
    zenith_backend_info bi;
    memset(&bi, 0, sizeof bi);
    bi.struct_size = sizeof bi;
    zenith_server_backend_info(g_srv, &bi);
    g_backend = bi.name;
    printf("listening on %s:%u\n", g_addr, g_port);
    fflush(stdout);
    M.t_start = now_ns();
    for (;;) {
        int r = zenith_server_run_once(g_srv, 100);
        M.turns++;
        if (r < 0) {
            fprintf(stderr, "%s: zenith_server_run_once: %s\n", prog, zenith_strerror(r));
            return -1;
        }
        if (tick()) break;
    }
    g_info.struct_size = sizeof g_info;
    zenith_udp_get_info(g_srv, g_sock, &g_info);
    zenith_server_get_stats(g_srv, &g_sstats);
    return 0;
}

/* ---- report ------------------------------------------------------------------------------------ */
static void report(void) {
    uint64_t drops = kernel_drops();
    double secs = (double)M.w_ns / 1e9;
    double rate = secs > 0 ? (double)M.w_count / secs : 0;
    double cpu = M.w_count ? (double)M.w_cpu / (double)M.w_count : 0;
    double busy = M.w_ns ? (double)M.w_cpu / (double)M.w_ns : 0;
    double turns = M.w_count ? (double)M.w_turns / (double)M.w_count : 0;
    double csw = M.w_count ? (double)M.w_csw * 1000.0 / (double)M.w_count : 0;
    long long dr = drops == UINT64_MAX ? -1 : (long long)drops;
    long long wdr = M.w_drops == UINT64_MAX ? -1 : (long long)M.w_drops;
    uint64_t stalls = g_uring_stalls, rerr = g_recv_errors, trunc = g_trunc;
    if (g_mode == M_ZENITH) {
        stalls = g_info.recv_stalls;
        rerr += g_info.recv_errors;
        trunc += g_info.truncated;
    }
    const char *name = g_mode == M_ZENITH ? "zenith" : mode_names[g_mode];
    const char *be = g_mode == M_ZENITH ? g_backend : "-";
    if (g_json) {
        printf("{\"rx\":\"%s\",\"backend\":\"%s\",\"ts\":%d,\"max_len\":%llu,\"window_s\":%.3f,\"window_cut\":%d,"
               "\"window_dgrams\":%llu,\"dgrams_per_s\":%.0f,\"cpu_ns_per_dgram\":%.1f,\"busy\":%.3f,"
               "\"turns_per_dgram\":%.4f,\"csw_per_kdgram\":%.2f,\"window_drops\":%lld,\"received\":%llu,"
               "\"next_seq\":%llu,\"gaps\":%llu,\"late\":%llu,\"short\":%llu,\"kernel_drops\":%lld,"
               "\"ovfl_seen\":%llu,\"ts_seen\":%llu,\"truncated\":%llu,\"stalls\":%llu,\"recv_errors\":%llu,"
               "\"cq_overflow\":%llu,\"bufsz\":%u,\"rcvbuf\":%lu}\n",
               name, be, g_mode == M_ZENITH ? !g_no_ts : g_ts, (unsigned long long)M.max_len, secs, M.window_cut,
               (unsigned long long)M.w_count, rate, cpu, busy, turns, csw, wdr, (unsigned long long)M.count,
               (unsigned long long)M.next, (unsigned long long)M.gaps, (unsigned long long)M.late,
               (unsigned long long)M.shorts, dr, (unsigned long long)(g_mode == M_ZENITH ? g_zdrops_seen : M.ovfl_max),
               (unsigned long long)M.ts_seen, (unsigned long long)trunc, (unsigned long long)stalls,
               (unsigned long long)rerr, (unsigned long long)g_sstats.cq_overflow, g_bufsz, g_rcvbuf);
    } else {
        printf("%s%s%s: %llu datagrams in %.3f s%s: %.0f/s, CPU %.1f ns/datagram (busy %.2f), %.4f turns and "
               "%.2f context switches per datagram (x1000: %.2f)\n",
               name, g_mode == M_ZENITH ? " " : "", g_mode == M_ZENITH ? be : "", (unsigned long long)M.w_count, secs,
               M.window_cut ? " (cut short: the sender stopped)" : "", rate, cpu, busy, turns, csw / 1000.0, csw);
        printf("total %llu received, next seq %llu, gaps %llu, late %llu, short %llu; kernel drops %lld (window "
               "%lld); truncated %llu, receive stalls %llu, receive errors %llu, CQ overflows %llu\n",
               (unsigned long long)M.count, (unsigned long long)M.next, (unsigned long long)M.gaps,
               (unsigned long long)M.late, (unsigned long long)M.shorts, dr, wdr, (unsigned long long)trunc,
               (unsigned long long)stalls, (unsigned long long)rerr, (unsigned long long)g_sstats.cq_overflow);
    }
    fflush(stdout);
}

static void usage(void) {
    fprintf(stderr,
            "usage: %s [-m recvmmsg|epoll|zenith|uring|none] [-a ADDR] [-p PORT] [-T SECS] [-q MS] [-S] [-M SECS] [-r "
            "RCVBUF] "
            "[-B BUFSZ] [-b BATCH] [--backend io_uring|epoll|auto] [--ts] [--no-ts] [--buffers N] "
            "[--recv-buffers N] [-j]\n",
            prog);
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

int main(int argc, char **argv) {
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        int takes = 1;
        if (!strcmp(a, "-j"))
            g_json = 1, takes = 0;
        else if (!strcmp(a, "--ts"))
            g_ts = 1, takes = 0;
        else if (!strcmp(a, "--no-ts"))
            g_no_ts = 1, takes = 0;
        else if (!strcmp(a, "-S"))
            g_wait_signal = 1, takes = 0;
        else if (!v)
            usage();
        else if (!strcmp(a, "-m")) {
            if (!strcmp(v, "recvmmsg"))
                g_mode = M_RECVMMSG;
            else if (!strcmp(v, "epoll"))
                g_mode = M_EPOLL;
            else if (!strcmp(v, "zenith"))
                g_mode = M_ZENITH;
            else if (!strcmp(v, "none"))
                g_mode = M_NONE;
            else if (!strcmp(v, "uring"))
                g_mode = M_URING;
            else
                usage();
        } else if (!strcmp(a, "-a"))
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
        else if (!strcmp(a, "-B"))
            g_bufsz = (unsigned)num(v, 64, 1u << 20);
        else if (!strcmp(a, "-b"))
            g_batch = (unsigned)num(v, 1, MAX_BATCH);
        else if (!strcmp(a, "--backend"))
            g_backend = v;
        else if (!strcmp(a, "--buffers"))
            g_buffers = (unsigned)num(v, 1, 65536);
        else if (!strcmp(a, "--recv-buffers"))
            g_recv_buffers = (unsigned)num(v, 1, 65536);
        else
            usage();
        i += takes;
    }
    if (g_wait_signal) catch_usr1();
    if (g_bufsz % 64) {
        fprintf(stderr, "%s: -B must be a multiple of 64\n", prog);
        return 2;
    }
    if (g_mode == M_ZENITH) {
        if (g_ts) usage();
        if (run_zenith() != 0) return 1;
    } else {
        if (g_no_ts || g_backend) usage();
        g_fd = open_plain(g_mode == M_EPOLL || g_mode == M_URING);
        if (g_fd < 0) return 1;
        printf("listening on %s:%u\n", g_addr, g_port);
        fflush(stdout);
        M.t_start = now_ns();
        if (g_mode == M_NONE) {
            if (run_none() != 0) {
                fprintf(stderr, "%s: nothing came in %.0f s\n", prog, g_max_secs);
                return 1;
            }
            uint64_t d = kernel_drops();
            if (g_json)
                printf("{\"rx\":\"none\",\"received\":0,\"kernel_drops\":%llu,\"rcvbuf\":%lu}\n", (unsigned long long)d,
                       g_rcvbuf);
            else
                printf("none: 0 received, kernel drops %llu\n", (unsigned long long)d);
            close(g_fd);
            return 0;
        }
        int r = g_mode == M_RECVMMSG ? run_recvmmsg() : g_mode == M_EPOLL ? run_epoll() : run_uring();
        if (r != 0) return 1;
    }
    if (M.count == 0) {
        fprintf(stderr, "%s: no datagram came in %.0f s\n", prog, g_max_secs);
        return 1;
    }
    report();
    if (g_srv) zenith_server_destroy(g_srv);
    if (g_fd >= 0) close(g_fd);
    return 0;
}
