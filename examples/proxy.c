/* proxy.c -- a zero-copy TCP proxy on Zenith, one reactor per thread.

   Shows: outbound connections (zenith_server_connect, on_connect) next to accepted ones on one
   reactor; a per-connection user pointer linking each client to its upstream (a pair table
   allocated up front: nothing is allocated per connection); zero-copy relaying (the received
   pool buffer is kept and sent on as is, both ways); backpressure both ways (pause the source
   while the destination's queue is at send_queue_max, resume it from the destination's
   on_drain); half-close passed through (on_eof -> ZENITH_CLOSE_WRITE on the other side); the
   idle timeout; a periodic timer (a stats line every 10 s on stderr, one per reactor); and
   several reactors on one port (SO_REUSEPORT) stopped cleanly on SIGINT/SIGTERM.

   Needs: Linux 6.0+ (multishot accept and receive, provided-buffer rings), liburing >= 2.3.
   Build: cc -O2 examples/proxy.c -I. -luring -pthread -o proxy
   Run:   ./proxy -l 127.0.0.1:9000 -u 127.0.0.1:9090     (an upstream: ./echo_server -p 9090)
          then: bash -c 'exec 3<>/dev/tcp/127.0.0.1/9000; echo hello >&3; head -n1 <&3'
          (IPv6: -l [::1]:9000 -u [::1]:9090, and /dev/tcp/::1/9000)
   Flags: -l ADDR:PORT (listen; port 0 = any)  -u ADDR:PORT (upstream)  -t THREADS (1)
          --backend io_uring|epoll|auto (auto: io_uring where the kernel allows it, else epoll;
          the ZENITH_BACKEND environment variable decides first)  -h, --help
          Numeric addresses only: a name lookup would block the loop.
   Prints "listening on ADDR:PORT" once every reactor is ready, then "backend NAME: why"
   (zenith_backend_info); on SIGINT or SIGTERM shuts down gracefully, prints each reactor's
   stats line on stderr a last time, exits 0.
   Memory: per reactor a pool of 2048 x 16 KiB buffers (touched as used) and a pair table. */
#define ZENITH_IMPLEMENTATION
#include "zenith.h"

#include <arpa/inet.h>
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_THREADS 64
#define MAX_PAIRS 4096u             /* client/upstream pairs per reactor */
#define SEND_QUEUE_MAX (256u << 10) /* bytes queued toward one side before its source pauses */
#define IDLE_MS 60000u              /* a connection with no traffic either way for this long closes */
#define CONNECT_MS 5000u            /* upstream connect timeout */
#define STATS_MS 10000u

typedef struct reactor reactor;

/* One proxied connection: a client and its upstream. An id is 0 once that side is gone. */
typedef struct pair {
    zenith_conn_id client, upstream;
    reactor *r;
    int connected;  /* the upstream's on_connect(0) came */
    int client_eof; /* the client sent EOF before the upstream was connected */
    struct pair *next_free;
} pair;

struct reactor {
    int index;
    zenith_server_config cfg;
    zenith_server *server;
    int err; /* zenith_server_create's code if server is NULL */
    pthread_t thread;
    int started; /* 1 ok, -1 failed (written before the barrier) */
    pair *pairs, *free_pairs;
    pair **by_slot; /* a connection id's low 32 bits are its slot: on_close finds its pair here */
    uint64_t open, total, refused, failed, bytes_up, bytes_down, pauses;
};

static char up_addr[64];
static uint16_t up_port;
static pthread_barrier_t created, ready;

static pair *pair_of(reactor *r, zenith_conn_id conn) {
    pair *p = r->by_slot[(uint32_t)conn];
    return p && (p->client == conn || p->upstream == conn) ? p : NULL;
}

static zenith_conn_id peer_of(const pair *p, zenith_conn_id conn) {
    return conn == p->client ? p->upstream : p->client;
}

/* A side is gone: forget its id; the pair is free once both are. */
static void side_gone(reactor *r, pair *p, zenith_conn_id conn) {
    r->by_slot[(uint32_t)conn] = NULL;
    if (conn == p->client) p->client = 0;
    if (conn == p->upstream) p->upstream = 0;
    if (p->client == 0 && p->upstream == 0) {
        p->next_free = r->free_pairs;
        r->free_pairs = p;
        r->open--;
    }
}

/* The upstream connect's outcome. Until now the client was paused: its data waited in order. */
static void on_upstream(void *user, zenith_conn_id conn, int status) {
    pair *p = (pair *)user;
    reactor *r = p->r;
    if (status < 0) { /* refused, timed out, unreachable, or canceled because the client left */
        r->failed += status != ZENITH_E_CANCELED;
        if (p->client) zenith_server_close(r->server, p->client, ZENITH_CLOSE_ABORT);
        side_gone(r, p, conn);
        return;
    }
    p->connected = 1;
    zenith_server_resume(r->server, p->client);
    if (p->client_eof) zenith_server_close(r->server, conn, ZENITH_CLOSE_WRITE);
}

static void on_accept(void *user, zenith_conn_id conn) {
    reactor *r = (reactor *)user;
    zenith_connect_config cc;
    pair *p = r->free_pairs;
    if (p == NULL) { /* table full (max_connections keeps this rare): turn the client away */
        r->refused++;
        zenith_server_close(r->server, conn, ZENITH_CLOSE_ABORT);
        return;
    }
    r->free_pairs = p->next_free;
    memset(p, 0, sizeof *p);
    p->r = r;
    p->client = conn;
    r->by_slot[(uint32_t)conn] = p;
    r->open++;
    r->total++;
    zenith_server_set_conn_user(r->server, conn, p);
    zenith_server_pause(r->server, conn); /* nothing is read from the client until upstream is up */

    memset(&cc, 0, sizeof cc);
    cc.address = up_addr;
    cc.port = up_port;
    cc.timeout_ms = CONNECT_MS;
    cc.on_connect = on_upstream;
    cc.user = p; /* also the upstream connection's user pointer */
    if (zenith_server_connect(r->server, &cc, &p->upstream) != 0) {
        r->failed++;
        zenith_server_close(r->server, conn, ZENITH_CLOSE_ABORT);
        return;
    }
    r->by_slot[(uint32_t)p->upstream] = p;
}

/* Bytes from one side go to the other without a copy: the pool buffer changes hands. */
static void on_data(void *user, zenith_conn_id conn, const uint8_t *data, size_t len) {
    reactor *r = (reactor *)user;
    pair *p = (pair *)zenith_server_get_conn_user(r->server, conn);
    zenith_conn_id to;
    void *buf;
    int rc;
    if (p == NULL || (to = peer_of(p, conn)) == 0) return; /* the other side is gone: drop */
    buf = zenith_server_keep(r->server);
    rc = buf ? zenith_server_send_buffer(r->server, to, buf, len) : zenith_server_send(r->server, to, data, len);
    if (rc < 0) { /* the other side is already closing (STALE), or a bug: the source pauses long
                     before the queue limit, so ZENITH_E_FULL is not expected */
        if (rc != ZENITH_E_STALE) fprintf(stderr, "proxy: relay failed: %s\n", zenith_errname(rc));
        zenith_server_close(r->server, conn, ZENITH_CLOSE_ABORT);
        zenith_server_close(r->server, to, ZENITH_CLOSE_ABORT);
        return;
    }
    if (conn == p->client)
        r->bytes_up += len;
    else
        r->bytes_down += len;
    if (zenith_server_queued(r->server, to) >= (int)SEND_QUEUE_MAX) { /* backpressure */
        zenith_server_pause(r->server, conn);
        r->pauses++;
    }
}

/* The destination's queue is below half again: read from its source again. */
static void on_drain(void *user, zenith_conn_id conn) {
    reactor *r = (reactor *)user;
    pair *p = (pair *)zenith_server_get_conn_user(r->server, conn);
    zenith_conn_id from = p ? peer_of(p, conn) : 0;
    if (from && p->connected) zenith_server_resume(r->server, from);
}

/* One side shut its sending half, after all its data: shut ours toward the other side once
   what is queued there has gone out. Each connection closes by itself once both ways are done. */
static void on_eof(void *user, zenith_conn_id conn) {
    reactor *r = (reactor *)user;
    pair *p = (pair *)zenith_server_get_conn_user(r->server, conn);
    zenith_conn_id to = p ? peer_of(p, conn) : 0;
    if (to == 0) return;
    if (to == p->upstream && !p->connected)
        p->client_eof = 1; /* closing a connecting id would cancel it: half-close once connected */
    else
        zenith_server_close(r->server, to, ZENITH_CLOSE_WRITE);
}

/* One side is gone (the id is stale now, so the pair comes from the slot table): end the other,
   sending what is queued after an orderly end, dropping it after an error. */
static void on_close(void *user, zenith_conn_id conn, int reason) {
    reactor *r = (reactor *)user;
    pair *p = pair_of(r, conn);
    zenith_conn_id other;
    if (p == NULL) return; /* a client turned away in on_accept */
    other = peer_of(p, conn);
    if (other) zenith_server_close(r->server, other, reason < 0 ? ZENITH_CLOSE_ABORT : ZENITH_CLOSE_FLUSH);
    side_gone(r, p, conn);
}

static void on_stats(void *user, zenith_timer_id timer) {
    reactor *r = (reactor *)user;
    (void)timer;
    fprintf(stderr,
            "proxy[%d]: %llu pairs open, %llu total, %llu refused, %llu upstream failures; "
            "%llu B up, %llu B down; %llu pauses\n",
            r->index, (unsigned long long)r->open, (unsigned long long)r->total, (unsigned long long)r->refused,
            (unsigned long long)r->failed, (unsigned long long)r->bytes_up, (unsigned long long)r->bytes_down,
            (unsigned long long)r->pauses);
}

static void *run(void *arg) {
    reactor *r = (reactor *)arg;
    uint32_t i;
    r->pairs = calloc(MAX_PAIRS, sizeof *r->pairs); /* all the per-connection memory, up front */
    r->by_slot = calloc(2u * MAX_PAIRS, sizeof *r->by_slot);
    if (r->pairs && r->by_slot)
        r->server = zenith_server_create(&r->cfg, &r->err);
    else
        r->err = ZENITH_E_NOMEM;
    if (r->server) {
        for (i = MAX_PAIRS; i-- > 0;) {
            r->pairs[i].next_free = r->free_pairs;
            r->free_pairs = &r->pairs[i];
        }
        zenith_server_set_callbacks(r->server, on_accept, on_data, on_close, r);
        zenith_server_set_drain_callback(r->server, on_drain);
        zenith_server_set_eof_callback(r->server, on_eof); /* half-close instead of close on EOF */
        zenith_server_timer_start(r->server, STATS_MS, STATS_MS, on_stats, r, NULL);
    }
    pthread_barrier_wait(&created);
    if (r->server == NULL) return NULL;
    r->started = zenith_server_start(r->server) == 0 ? 1 : -1;
    pthread_barrier_wait(&ready);
    while (r->started == 1 && !zenith_server_stopped(r->server)) {
        if (zenith_server_run_once(r->server, -1) < 0) break;
    }
    zenith_server_shutdown(r->server, 1000); /* cancel connects, flush queues, close everyone */
    on_stats(r, 0);                          /* the last line: 0 pairs open */
    /* main destroys the server after joining this thread: its zenith_server_stop call may still
       be using the server when this loop sees the stop */
    return NULL;
}

/* "127.0.0.1:9000" or "[::1]:9000" into a numeric address and a port. Returns 0 or -1. */
static int parse_addr_port(const char *arg, char *addr, size_t cap, uint16_t *port) {
    const char *host = arg, *colon;
    unsigned char bin[16];
    size_t n;
    char *end;
    long v;
    int v6 = arg[0] == '[';
    if (v6) {
        colon = strchr(arg, ']');
        if (colon == NULL || colon[1] != ':') return -1;
        host++;
        n = (size_t)(colon - host);
        colon++;
    } else {
        if ((colon = strrchr(arg, ':')) == NULL) return -1;
        n = (size_t)(colon - host);
    }
    if (n == 0 || n >= cap) return -1;
    memcpy(addr, host, n);
    addr[n] = '\0';
    v = strtol(colon + 1, &end, 10);
    if (end == colon + 1 || *end != '\0' || v < 0 || v > 65535) return -1;
    if (inet_pton(v6 ? AF_INET6 : AF_INET, addr, bin) != 1) return -1;
    *port = (uint16_t)v;
    return 0;
}

static void usage(const char *argv0, int status) { /* status 0 (--help): on stdout */
    fprintf(status ? stderr : stdout,
            "usage: %s -l ADDR:PORT -u ADDR:PORT [-t threads] [--backend io_uring|epoll|auto]   (IPv6: [::1]:9000)\n",
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

int main(int argc, char **argv) {
    static reactor rs[MAX_THREADS];
    char addr[64];
    const char *listen_arg = NULL;
    uint16_t port = 0;
    long threads = 1, backend = ZENITH_BACKEND_AUTO;
    static const struct option longopts[] = { { "backend", required_argument, NULL, 'B' },
                                              { "help", no_argument, NULL, 'h' },
                                              { NULL, 0, NULL, 0 } };
    zenith_backend_info bi;
    sigset_t sigs;
    int opt, sig, i, failed = 0;

    while ((opt = getopt_long(argc, argv, "l:u:t:h", longopts, NULL)) != -1) {
        switch (opt) {
            case 'l':
                listen_arg = optarg;
                if (parse_addr_port(optarg, addr, sizeof addr, &port) != 0) usage(argv[0], 2);
                break;
            case 'u':
                if (parse_addr_port(optarg, up_addr, sizeof up_addr, &up_port) != 0 || up_port == 0) usage(argv[0], 2);
                break;
            case 't': threads = strtol(optarg, NULL, 10); break;
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
    if (optind != argc || listen_arg == NULL || up_port == 0 || threads < 1 || threads > MAX_THREADS) usage(argv[0], 2);

    /* every thread inherits the blocked signals; main waits for them with sigwait */
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);

    /* one reactor at a time, each created on its own thread; the first one's port is everyone's */
    pthread_barrier_init(&created, NULL, 2u);
    pthread_barrier_init(&ready, NULL, (unsigned)threads + 1u);
    for (i = 0; i < threads; i++) {
        zenith_server_config *cfg = &rs[i].cfg;
        rs[i].index = i;
        memset(cfg, 0, sizeof *cfg);
        cfg->address = addr;
        cfg->port = i == 0 ? port : zenith_server_port(rs[0].server); /* all on one port */
        /* a relay pauses the source itself: the reactor must not also stop reading a
           connection whose own queue is full (that couples the directions: deadlock) */
        cfg->flags = ZENITH_SERVER_NO_QUEUE_PAUSE | (threads > 1 ? ZENITH_SERVER_REUSEPORT : 0);
        cfg->max_connections = 2u * MAX_PAIRS; /* a client and its upstream per pair */
        cfg->buffer_size = 16384;
        cfg->buffer_count = 2048;
        cfg->send_queue_max = SEND_QUEUE_MAX;
        cfg->idle_timeout_ms = IDLE_MS;
        cfg->backend = (uint32_t)backend;
        pthread_create(&rs[i].thread, NULL, run, &rs[i]);
        pthread_barrier_wait(&created);
        if (rs[i].server == NULL) {
            fprintf(stderr, "proxy: %s: %s (%s)\n", listen_arg, zenith_strerror(rs[i].err), zenith_errname(rs[i].err));
            return 1; /* the reactors already running end with the process */
        }
    }
    pthread_barrier_wait(&ready);
    for (i = 0; i < threads; i++) failed |= rs[i].started != 1;
    if (!failed) {
        printf(listen_arg[0] == '[' ? "listening on [%s]:%u\n" : "listening on %s:%u\n", addr,
               (unsigned)zenith_server_port(rs[0].server));
        memset(&bi, 0, sizeof bi); /* every reactor has the same config: the same backend */
        bi.struct_size = sizeof bi;
        if (zenith_server_backend_info(rs[0].server, &bi) == 0) printf("backend %s\n", bi.why);
        fflush(stdout);
        sigwait(&sigs, &sig);
    } else {
        fprintf(stderr, "proxy: a reactor failed to start\n");
    }
    for (i = 0; i < threads; i++) zenith_server_stop(rs[i].server); /* any thread may call stop */
    for (i = 0; i < threads; i++) {
        pthread_join(rs[i].thread, NULL); /* after the join this thread may destroy the server */
        zenith_server_destroy(rs[i].server);
        free(rs[i].pairs);
        free(rs[i].by_slot);
    }
    return failed;
}
