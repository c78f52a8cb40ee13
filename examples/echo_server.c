/* echo_server.c -- a zero-copy TCP echo server on Zenith, one reactor per thread.

   Shows: zenith_server on one thread per core (SO_REUSEPORT; with -c each thread pins itself to
   its CPU first and then creates its server there, so the pool and the connection table live on
   that CPU's NUMA node and the ring is set up from that CPU), the zero-copy echo (the received
   pool buffer is kept and sent back as is: no memcpy), and a clean stop on SIGINT/SIGTERM from
   another thread.

   Needs: Linux 6.0+ (multishot accept and receive, provided-buffer rings), liburing >= 2.3.
   Build: cc -O2 examples/echo_server.c -I. -luring -pthread -o echo_server
   Run:   ./echo_server -p 9090            then (bash, no netcat needed):
          bash -c 'exec 3<>/dev/tcp/127.0.0.1/9090; echo hello >&3; head -n1 <&3'
   Flags: -a ADDR (127.0.0.1)  -p PORT (9090; 0 = any)  -t THREADS (1)  -c CPU (first CPU to pin)
          -b BYTES (buffer size, a multiple of 64; 16384: one buffer holds a 16 KiB message)
          --backend io_uring|epoll|auto (auto: io_uring where the kernel allows it, else epoll;
          the ZENITH_BACKEND environment variable decides first)  -h, --help
   Prints "listening on ADDR:PORT" once ready, then "backend NAME: why" (zenith_backend_info);
   on SIGINT or SIGTERM prints its stats, exits 0. */
#define ZENITH_IMPLEMENTATION
#include "zenith.h"

#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_THREADS 64

typedef struct reactor {
    zenith_server_config cfg;
    zenith_server *server;
    int err; /* zenith_server_create's code if server is NULL */
    pthread_t thread;
    int started; /* 1 ok, -1 failed (written before the barrier) */
    zenith_server_stats stats;
} reactor;

static pthread_barrier_t created, ready;

static void on_data(void *user, zenith_conn_id conn, const uint8_t *data, size_t len) {
    zenith_server *s = (zenith_server *)user;
    void *buf = zenith_server_keep(s);                          /* the buffer data lives in becomes ours... */
    int rc = buf ? zenith_server_send_buffer(s, conn, buf, len) /* ...and goes straight back out */
                 : zenith_server_send(s, conn, data, len);
    if (rc < 0) zenith_server_close(s, conn, ZENITH_CLOSE_ABORT); /* cannot echo: drop, never garble */
}

static void *run(void *arg) {
    reactor *r = (reactor *)arg;
    if (r->cfg.flags & ZENITH_SERVER_PIN_CPU) { /* on our CPU before anything is allocated */
        cpu_set_t one;
        CPU_ZERO(&one);
        CPU_SET(r->cfg.cpu, &one);
        pthread_setaffinity_np(pthread_self(), sizeof one, &one);
    }
    r->server = zenith_server_create(&r->cfg, &r->err);
    if (r->server) zenith_server_set_callbacks(r->server, NULL, on_data, NULL, r->server);
    pthread_barrier_wait(&created);
    if (r->server == NULL) return NULL;
    r->started = zenith_server_start(r->server) == 0 ? 1 : -1;
    pthread_barrier_wait(&ready);
    while (r->started == 1 && !zenith_server_stopped(r->server)) {
        if (zenith_server_run_once(r->server, -1) < 0) break;
    }
    zenith_server_shutdown(r->server, 1000); /* finish what is queued, close everyone */
    zenith_server_get_stats(r->server, &r->stats);
    /* not destroyed here: main may still be inside zenith_server_stop on this server (it
       writes the server's eventfd); main destroys it after joining this thread */
    return NULL;
}

static void usage(const char *argv0, int status) { /* status 0 (--help): on stdout */
    fprintf(status ? stderr : stdout,
            "usage: %s [-a ADDR] [-p PORT] [-t THREADS] [-c CPU] [-b BYTES] [--backend io_uring|epoll|auto]\n", argv0);
    exit(status);
}

/* --backend NAME into zenith_server_config.backend; -1 for a name that means nothing */
static long backend_of(const char *name) {
    if (strcmp(name, "io_uring") == 0) return ZENITH_BACKEND_IO_URING;
    if (strcmp(name, "epoll") == 0) return ZENITH_BACKEND_EPOLL;
    if (strcmp(name, "auto") == 0) return ZENITH_BACKEND_AUTO; /* ZENITH_BACKEND still decides */
    return -1;
}

int main(int argc, char **argv) {
    const char *addr = "127.0.0.1";
    long port = 9090, threads = 1, cpu = -1, bufsize = 16384, backend = ZENITH_BACKEND_AUTO;
    static const struct option longopts[] = { { "backend", required_argument, NULL, 'B' },
                                              { "help", no_argument, NULL, 'h' },
                                              { NULL, 0, NULL, 0 } };
    zenith_backend_info bi;
    static reactor rs[MAX_THREADS];
    zenith_server_stats total;
    sigset_t sigs;
    int opt, sig, i, failed = 0;

    while ((opt = getopt_long(argc, argv, "a:p:t:c:b:h", longopts, NULL)) != -1) {
        switch (opt) {
            case 'a': addr = optarg; break;
            case 'p': port = strtol(optarg, NULL, 10); break;
            case 't': threads = strtol(optarg, NULL, 10); break;
            case 'c': cpu = strtol(optarg, NULL, 10); break;
            case 'b': bufsize = strtol(optarg, NULL, 10); break;
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
    if (optind != argc || port < 0 || port > 65535 || threads < 1 || threads > MAX_THREADS || cpu < -1 ||
        bufsize < 64 || bufsize > (1L << 20))
        usage(argv[0], 2);

    /* every thread inherits the blocked signals; main waits for them with sigwait */
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);

    /* one reactor at a time: each creates its server on its own thread (and CPU); the first
       one's port is everyone's */
    pthread_barrier_init(&created, NULL, 2u);
    pthread_barrier_init(&ready, NULL, (unsigned)threads + 1u);
    for (i = 0; i < threads; i++) {
        zenith_server_config *cfg = &rs[i].cfg;
        memset(cfg, 0, sizeof *cfg);
        cfg->address = addr;
        cfg->port = (uint16_t)(i == 0 ? port : zenith_server_port(rs[0].server)); /* all on one port */
        cfg->flags = threads > 1 ? ZENITH_SERVER_REUSEPORT : 0;
        cfg->buffer_size = (uint32_t)bufsize;
        cfg->buffer_count = 4096; /* address space: 4096 x buffer size; pages are touched as used */
        cfg->backend = (uint32_t)backend;
        if (cpu >= 0) { /* pinned, and the server's memory on that CPU's node */
            cfg->flags |= ZENITH_SERVER_PIN_CPU;
            cfg->cpu = (uint32_t)(cpu + i);
        }
        pthread_create(&rs[i].thread, NULL, run, &rs[i]);
        pthread_barrier_wait(&created);
        if (rs[i].server == NULL) {
            fprintf(stderr, "echo_server: %s:%ld: %s (%s)\n", addr, port, zenith_strerror(rs[i].err),
                    zenith_errname(rs[i].err));
            return 1; /* the reactors already running end with the process */
        }
    }
    pthread_barrier_wait(&ready);
    for (i = 0; i < threads; i++) failed |= rs[i].started != 1;
    if (!failed) {
        printf("listening on %s:%u\n", addr, (unsigned)zenith_server_port(rs[0].server));
        memset(&bi, 0, sizeof bi); /* every reactor has the same config: the same backend */
        bi.struct_size = sizeof bi;
        if (zenith_server_backend_info(rs[0].server, &bi) == 0) printf("backend %s\n", bi.why);
        fflush(stdout);
        sigwait(&sigs, &sig);
    } else {
        fprintf(stderr, "echo_server: a reactor failed to start\n");
    }
    for (i = 0; i < threads; i++) zenith_server_stop(rs[i].server); /* any thread may call stop */
    memset(&total, 0, sizeof total);
    for (i = 0; i < threads; i++) {
        pthread_join(rs[i].thread, NULL);
        zenith_server_destroy(rs[i].server); /* every stop call has returned, the thread is gone */
        total.connections_accepted += rs[i].stats.connections_accepted;
        total.connections_closed += rs[i].stats.connections_closed;
        total.connections_rejected += rs[i].stats.connections_rejected;
        total.bytes_in += rs[i].stats.bytes_in;
        total.bytes_out += rs[i].stats.bytes_out;
        total.recv_buffer_exhausted += rs[i].stats.recv_buffer_exhausted;
        total.connection_errors += rs[i].stats.connection_errors;
        total.accept_errors += rs[i].stats.accept_errors;
    }
    printf("stats: accepted %llu closed %llu rejected %llu bytes_in %llu bytes_out %llu buffer_exhausted %llu "
           "conn_errors %llu accept_errors %llu\n",
           (unsigned long long)total.connections_accepted, (unsigned long long)total.connections_closed,
           (unsigned long long)total.connections_rejected, (unsigned long long)total.bytes_in,
           (unsigned long long)total.bytes_out, (unsigned long long)total.recv_buffer_exhausted,
           (unsigned long long)total.connection_errors, (unsigned long long)total.accept_errors);
    return failed;
}
