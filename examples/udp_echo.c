/* udp_echo.c -- a zero-copy UDP echo server on Zenith.

   Shows: a UDP socket on the reactor (zenith_udp_open on a server made with
   ZENITH_SERVER_NO_LISTEN: no TCP at all), the zero-copy echo of a datagram (zenith_udp_keep takes
   the pool buffer the datagram was received into, zenith_udp_send_buffer sends the same bytes
   back to the sender: no memcpy; a copy with zenith_udp_send only if keep says no), truncated
   datagrams (ZENITH_UDP_TRUNC: longer than the receive capacity) counted and never echoed cut,
   the socket's counters (zenith_udp_get_info: what came in and went out, and every drop, ours
   and the kernel's), IPv4 and IPv6, and a clean stop on SIGINT/SIGTERM.

   Needs: Linux 6.0+ (multishot recvmsg, provided-buffer rings; or the epoll backend anywhere),
          liburing >= 2.3.
   Build: cc -O2 examples/udp_echo.c -I. -luring -pthread -o udp_echo
   Run:   ./udp_echo -p 9091           then (bash, no netcat needed):
          bash -c 'exec 3<>/dev/udp/127.0.0.1/9091; echo hello >&3; head -n1 <&3'
          (IPv6: ./udp_echo -a ::1 -p 9091, and /dev/udp/::1/9091)
   Flags: -a ADDR (127.0.0.1; an IPv4 or IPv6 literal, 0.0.0.0 or :: for every address)
          -p PORT (9091; 0 = any)  -b BYTES (buffer size, a multiple of 64; 4096: datagrams of up
          to 4096 - 176 = 3920 bytes are echoed, longer ones are counted as truncated; 65728 takes
          any datagram)  --backend io_uring|epoll|auto (auto: io_uring where the kernel allows it,
          else epoll; the ZENITH_BACKEND environment variable decides first)  -h, --help
   Prints "listening on ADDR:PORT" once ready (the port actually bound, so -p 0 works), then
   "backend NAME: why" (zenith_backend_info); on SIGINT or SIGTERM prints its stats, exits 0. */
#define ZENITH_IMPLEMENTATION
#include "zenith.h"

#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static zenith_server *server;
static uint64_t truncated, copied, refused; /* not echoed: cut; echoed by a copy; send refused */

static void on_signal(int sig) {
    (void)sig;
    zenith_server_stop(server); /* async-signal-safe */
}

/* never called: the server has no TCP listener, but start wants an on_data */
static void on_data(void *user, zenith_conn_id conn, const uint8_t *data, size_t len) {
    (void)user, (void)conn, (void)data, (void)len;
}

static void on_recv(void *user, zenith_udp_id sock, const zenith_udp_datagram *d) {
    const uint8_t *data = NULL;
    int rc;
    (void)user;
    if (d->flags & ZENITH_UDP_TRUNC) { /* only the first len of orig_len bytes: never echo a part */
        truncated++;
        return;
    }
    if (zenith_udp_keep(server, &data) != NULL) /* the pool buffer holding the datagram is ours... */
        rc = zenith_udp_send_buffer(server, sock, (void *)(uintptr_t)data, d->len, d->from); /* ...and goes back */
    else {
        copied++;
        rc = zenith_udp_send(server, sock, d->data, d->len, d->from);
    }
    if (rc < 0) refused++; /* ZENITH_E_FULL: the send queue is full; UDP may drop, we count it */
}

static void usage(const char *argv0, int status) { /* status 0 (--help): on stdout */
    fprintf(status ? stderr : stdout, "usage: %s [-a ADDR] [-p PORT] [-b BYTES] [--backend io_uring|epoll|auto]\n",
            argv0);
    exit(status);
}

/* --backend NAME into zenith_server_config.backend; -1 for a name that means nothing */
static long backend_of(const char *name) {
    if (strcmp(name, "io_uring") == 0) return ZENITH_BACKEND_IO_URING;
    if (strcmp(name, "epoll") == 0) return ZENITH_BACKEND_EPOLL;
    if (strcmp(name, "auto") == 0) return ZENITH_BACKEND_AUTO; /* ZENITH_BACKEND still decides */
    return -1;
}

/* a whole decimal number in [lo, hi], else -1 */
static long number(const char *s, long lo, long hi) {
    char *end;
    long v = strtol(s, &end, 10);
    if (end == s || *end != '\0' || v < lo || v > hi) {
        fprintf(stderr, "udp_echo: bad number '%s' (%ld to %ld)\n", s, lo, hi);
        return -1;
    }
    return v;
}

int main(int argc, char **argv) {
    static const struct option longopts[] = { { "backend", required_argument, NULL, 'B' },
                                              { "help", no_argument, NULL, 'h' },
                                              { NULL, 0, NULL, 0 } };
    zenith_server_config cfg;
    zenith_udp_config ucfg;
    zenith_udp_info info;
    zenith_backend_info bi;
    zenith_udp_id sock = 0;
    const char *addr = "127.0.0.1";
    long port = 9091, bufsize = 4096, backend = ZENITH_BACKEND_AUTO;
    int opt, err, rc;

    while ((opt = getopt_long(argc, argv, "a:p:b:h", longopts, NULL)) != -1) {
        switch (opt) {
            case 'a': addr = optarg; break;
            case 'p':
                if ((port = number(optarg, 0, 65535)) < 0) usage(argv[0], 2);
                break;
            case 'b':
                if ((bufsize = number(optarg, 256, 1L << 20)) < 0) usage(argv[0], 2);
                if (bufsize % 64) {
                    fprintf(stderr, "%s: -b %ld is not a multiple of 64\n", argv[0], bufsize);
                    usage(argv[0], 2);
                }
                break;
            case 'B':
                if ((backend = backend_of(optarg)) < 0) {
                    fprintf(stderr, "%s: unknown backend '%s' (io_uring, epoll or auto)\n", argv[0], optarg);
                    usage(argv[0], 2);
                }
                break;
            case 'h': usage(argv[0], 0); break;
            default: usage(argv[0], 2);
        }
    }
    if (optind != argc) usage(argv[0], 2);

    memset(&cfg, 0, sizeof cfg);
    cfg.flags = ZENITH_SERVER_NO_LISTEN; /* UDP only */
    cfg.buffer_size = (uint32_t)bufsize;
    cfg.buffer_count = 4096; /* address space: 4096 x buffer size; pages are touched as used */
    cfg.backend = (uint32_t)backend;
    server = zenith_server_create(&cfg, &err);
    if (server == NULL) {
        fprintf(stderr, "udp_echo: %s (%s)\n", zenith_strerror(err), zenith_errname(err));
        return 1;
    }
    zenith_server_set_callbacks(server, NULL, on_data, NULL, NULL);

    memset(&ucfg, 0, sizeof ucfg);
    ucfg.address = addr;
    ucfg.port = (uint16_t)port;
    ucfg.on_recv = on_recv;
    rc = zenith_udp_open(server, &ucfg, &sock);
    if (rc == 0) rc = zenith_server_start(server);
    if (rc != 0) {
        fprintf(stderr, "udp_echo: %s:%ld: %s (%s)\n", addr, port, zenith_strerror(rc), zenith_errname(rc));
        zenith_server_destroy(server);
        return 1;
    }
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    printf("listening on %s:%u\n", addr, (unsigned)zenith_udp_port(server, sock));
    memset(&bi, 0, sizeof bi);
    bi.struct_size = sizeof bi;
    if (zenith_server_backend_info(server, &bi) == 0) printf("backend %s\n", bi.why);
    fflush(stdout);

    while (!zenith_server_stopped(server))
        if (zenith_server_run_once(server, -1) < 0) break;

    memset(&info, 0, sizeof info);
    info.struct_size = sizeof info;
    zenith_udp_get_info(server, sock, &info);
    zenith_udp_close(server, sock);       /* what is still queued is sent... */
    zenith_server_shutdown(server, 1000); /* ...within a second */
    printf("stats: datagrams_in %llu datagrams_out %llu bytes_in %llu bytes_out %llu truncated %llu "
           "copied %llu send_refused %llu recv_stalls %llu kernel_drops %llu send_errors %llu\n",
           (unsigned long long)info.datagrams_in, (unsigned long long)info.datagrams_out,
           (unsigned long long)info.bytes_in, (unsigned long long)info.bytes_out, (unsigned long long)truncated,
           (unsigned long long)copied, (unsigned long long)refused, (unsigned long long)info.recv_stalls,
           (unsigned long long)info.kernel_drops, (unsigned long long)info.send_errors);
    zenith_server_destroy(server);
    return 0;
}
