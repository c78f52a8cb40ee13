/* pingpong_zenith -- one TCP connection, ping-pong round-trip latency over loopback, Zenith on both
 * sides, both busy-polling: bench/pingpong_epoll.c's measurement on the reactor (zenith_server).
 *
 *   cc -std=gnu11 -O2 -g -Wall -Wextra -Wpedantic -Werror -I. bench/pingpong_zenith.c -o build/pingpong_zenith -luring -pthread
 *   build/pingpong_zenith [-n ROUNDS] [-w WARMUP] [-s SIZE] [-S CPU] [-C CPU] [-k] [-j]
 *
 *   -n ROUNDS  measured round trips (default 100000)
 *   -w WARMUP  round trips before them, not measured (default 10000)
 *   -s SIZE    message bytes, 1..65536 (default 64)
 *   -S CPU     pin the server thread to CPU (default 0; -1 = not pinned)
 *   -C CPU     pin the client thread to CPU (default 1; -1 = not pinned)
 *   -k         the server echoes zero-copy (zenith_server_keep + zenith_server_send_buffer)
 *              instead of copying the borrowed data (zenith_server_send)
 *   -j         one JSON line instead of the table
 *
 * Two threads, each pinned to its CPU before it creates its reactor there:
 *   server  a zenith_server listening on 127.0.0.1 (port picked by the kernel); on_data echoes.
 *   client  a zenith_server created with ZENITH_SERVER_NO_LISTEN; zenith_server_connect to the
 *           server; on_connect sends the first SIZE bytes; on_data checks the echo byte by byte
 *           and, once all SIZE bytes are back, takes the time and sends the next message.
 * Both loops call zenith_server_run_once(s, 0) in a spin loop: nothing sleeps. The round trip is
 * timed (CLOCK_MONOTONIC) from before zenith_server_send to the on_data that completes the echo,
 * so it includes whatever the reactor adds on both sides. Times are kept one by one and sorted:
 * exact percentiles. Same output (table or -j JSON) as pingpong_epoll.
 *
 * Exit status: 0 = every echo verified, 1 = an error (connect, mismatch, close, stall), 2 = usage. */
#define ZENITH_IMPLEMENTATION
#include "zenith.h"

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define MAX_SIZE 65536
#define STALL_NS 5000000000ull /* no progress this long: give up */

static long g_rounds = 100000, g_warmup = 10000, g_size = 64;
static int g_srv_cpu = 0, g_cli_cpu = 1, g_json, g_keep;

/* server thread */
static zenith_server *g_srv;
static int g_srv_err;
static atomic_int g_srv_failed;
static pthread_barrier_t g_ready, g_done;

/* client state, touched only by the client thread (its callbacks run on it) */
struct client {
    zenith_server *s;
    zenith_conn_id conn;
    long round;  /* message being timed */
    long got;    /* echo bytes of it received */
    uint64_t t0; /* its send time */
    uint64_t last_progress;
    int done, failed, closed;
    unsigned char *out;
    uint64_t *rtt;
};

static uint64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static int pin(int cpu, const char *who) {
    if (cpu < 0) return 0;
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET((unsigned)cpu, &set);
    int e = pthread_setaffinity_np(pthread_self(), sizeof set, &set);
    if (e) fprintf(stderr, "pingpong_zenith: pinning the %s to CPU %d: %s\n", who, cpu, strerror(e));
    return e ? -1 : 0;
}

/* ---- server ------------------------------------------------------------------------------- */
static void srv_on_data(void *user, zenith_conn_id conn, const uint8_t *data, size_t len) {
    zenith_server *s = (zenith_server *)user;
    void *buf = g_keep ? zenith_server_keep(s) : NULL;
    int rc = buf ? zenith_server_send_buffer(s, conn, buf, len) : zenith_server_send(s, conn, data, len);
    if (rc < 0) {
        fprintf(stderr, "pingpong_zenith: server: echo of %zu bytes refused: %s\n", len, zenith_strerror(rc));
        atomic_store(&g_srv_failed, 1);
        zenith_server_close(s, conn, ZENITH_CLOSE_ABORT);
    }
}

static void srv_on_close(void *user, zenith_conn_id conn, int reason) {
    (void)conn;
    if (reason < 0) {
        fprintf(stderr, "pingpong_zenith: server: connection closed: %s\n", zenith_strerror(reason));
        atomic_store(&g_srv_failed, 1);
    }
    zenith_server_stop((zenith_server *)user); /* one connection: its end is the server's end */
}

static void *server_main(void *arg) {
    (void)arg;
    int started = -1;
    if (pin(g_srv_cpu, "server") == 0) { /* on its CPU before anything is allocated */
        zenith_server_config cfg;
        memset(&cfg, 0, sizeof cfg);
        cfg.struct_size = sizeof cfg;
        cfg.address = "127.0.0.1";
        cfg.port = 0;
        cfg.max_connections = 16;
        cfg.buffer_size = 4096;
        cfg.buffer_count = 256;
        g_srv = zenith_server_create(&cfg, &g_srv_err);
        if (g_srv && zenith_server_set_callbacks(g_srv, NULL, srv_on_data, srv_on_close, g_srv) == 0 &&
            zenith_server_start(g_srv) == 0)
            started = 0;
    }
    if (started != 0) atomic_store(&g_srv_failed, 1);
    pthread_barrier_wait(&g_ready); /* the port is known (or the failure) */
    while (started == 0 && !zenith_server_stopped(g_srv)) {
        int rc = zenith_server_run_once(g_srv, 0);
        if (rc < 0) {
            fprintf(stderr, "pingpong_zenith: server: run_once: %s\n", zenith_strerror(rc));
            atomic_store(&g_srv_failed, 1);
            break;
        }
    }
    if (started == 0) zenith_server_shutdown(g_srv, 1000);
    pthread_barrier_wait(&g_done); /* main is done with g_srv (its last call: zenith_server_stop) */
    zenith_server_destroy(g_srv);  /* on its own thread; accepts NULL */
    return NULL;
}

/* ---- client ------------------------------------------------------------------------------- */
static void fill(unsigned char *out, long round) {
    for (long k = 0; k < g_size; k++) out[k] = (unsigned char)(round * 131 + k * 7 + (k >> 8));
}

static void cli_send(struct client *c) {
    fill(c->out, c->round);
    c->got = 0;
    c->t0 = now_ns();
    int rc = zenith_server_send(c->s, c->conn, c->out, (size_t)g_size);
    if (rc < 0) {
        fprintf(stderr, "pingpong_zenith: client: send: %s\n", zenith_strerror(rc));
        c->failed = c->done = 1;
    }
}

static void cli_on_connect(void *user, zenith_conn_id conn, int status) {
    struct client *c = (struct client *)user;
    if (status != 0) {
        fprintf(stderr, "pingpong_zenith: client: connect: %s (%s)\n", zenith_strerror(status), zenith_errname(status));
        c->failed = c->done = 1;
        return;
    }
    c->conn = conn;
    c->round = 0;
    c->last_progress = now_ns();
    cli_send(c);
}

static void cli_on_data(void *user, zenith_conn_id conn, const uint8_t *data, size_t len) {
    struct client *c = (struct client *)user;
    (void)conn;
    if (c->done || (long)len > g_size - c->got || memcmp(data, c->out + c->got, len) != 0) {
        if (!c->failed)
            fprintf(stderr, "pingpong_zenith: client: MISMATCH in the echo of round trip %ld (%zu bytes at %ld)\n",
                    c->round, len, c->got);
        c->failed = c->done = 1;
        return;
    }
    c->got += (long)len;
    if (c->got < g_size) return;
    uint64_t t1 = now_ns();
    c->last_progress = t1;
    if (c->round >= g_warmup) c->rtt[c->round - g_warmup] = t1 - c->t0;
    if (++c->round == g_warmup + g_rounds) {
        c->done = 1;
        return;
    }
    cli_send(c);
}

static void cli_on_close(void *user, zenith_conn_id conn, int reason) {
    struct client *c = (struct client *)user;
    (void)conn;
    c->closed = 1;
    if (!c->done) {
        fprintf(stderr, "pingpong_zenith: client: connection closed early: %s\n",
                reason < 0 ? zenith_strerror(reason) : "by the server");
        c->failed = c->done = 1;
    }
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
        fprintf(stderr, "pingpong_zenith: %s must be an integer in [%ld, %ld], got '%s'\n", what, lo, hi, s);
        exit(2);
    }
    return v;
}

static void usage(void) {
    fprintf(stderr, "usage: pingpong_zenith [-n ROUNDS] [-w WARMUP] [-s SIZE] [-S CPU] [-C CPU] [-k] [-j]\n");
    exit(2);
}

int main(int argc, char **argv) {
    int opt;
    while ((opt = getopt(argc, argv, "n:w:s:S:C:kjh")) != -1) {
        switch (opt) {
            case 'n': g_rounds = parse_long(optarg, 1, 100000000, "-n ROUNDS"); break;
            case 'w': g_warmup = parse_long(optarg, 0, 100000000, "-w WARMUP"); break;
            case 's': g_size = parse_long(optarg, 1, MAX_SIZE, "-s SIZE"); break;
            case 'S': g_srv_cpu = (int)parse_long(optarg, -1, CPU_SETSIZE - 1, "-S CPU"); break;
            case 'C': g_cli_cpu = (int)parse_long(optarg, -1, CPU_SETSIZE - 1, "-C CPU"); break;
            case 'k': g_keep = 1; break;
            case 'j': g_json = 1; break;
            default: usage();
        }
    }
    if (optind != argc) usage();

    struct client cl;
    memset(&cl, 0, sizeof cl);
    cl.rtt = malloc((size_t)g_rounds * sizeof *cl.rtt);
    cl.out = malloc((size_t)g_size);
    if (!cl.rtt || !cl.out) {
        fprintf(stderr, "pingpong_zenith: out of memory\n");
        return 1;
    }

    pthread_t th;
    pthread_barrier_init(&g_ready, NULL, 2);
    pthread_barrier_init(&g_done, NULL, 2);
    int e = pthread_create(&th, NULL, server_main, NULL);
    if (e) {
        fprintf(stderr, "pingpong_zenith: pthread_create: %s\n", strerror(e));
        return 1;
    }
    pthread_barrier_wait(&g_ready);
    if (atomic_load(&g_srv_failed)) {
        if (!g_srv && g_srv_err != 0)
            fprintf(stderr, "pingpong_zenith: server: create: %s (%s)\n", zenith_strerror(g_srv_err),
                    zenith_errname(g_srv_err));
        else if (g_srv)
            fprintf(stderr, "pingpong_zenith: server failed to start\n");
        pthread_barrier_wait(&g_done);
        pthread_join(th, NULL);
        return 1;
    }
    uint16_t port = zenith_server_port(g_srv);

    /* the client: this thread, on its CPU, then its reactor */
    int status = 0, err = 0;
    uint64_t t_begin = 0, t_end = 0;
    if (pin(g_cli_cpu, "client") < 0) status = 2;
    if (!status) {
        zenith_server_config cfg;
        memset(&cfg, 0, sizeof cfg);
        cfg.struct_size = sizeof cfg;
        cfg.flags = ZENITH_SERVER_NO_LISTEN;
        cfg.max_connections = 16;
        cfg.buffer_size = 4096;
        cfg.buffer_count = 256;
        cl.s = zenith_server_create(&cfg, &err);
        if (!cl.s) {
            fprintf(stderr, "pingpong_zenith: client: create: %s (%s)\n", zenith_strerror(err), zenith_errname(err));
            status = 1;
        }
    }
    if (!status && (zenith_server_set_callbacks(cl.s, NULL, cli_on_data, cli_on_close, &cl) != 0 ||
                    (err = zenith_server_start(cl.s)) != 0)) {
        fprintf(stderr, "pingpong_zenith: client: start: %s\n", zenith_strerror(err));
        status = 1;
    }
    if (!status) {
        zenith_connect_config cc;
        zenith_conn_id id = 0;
        memset(&cc, 0, sizeof cc);
        cc.struct_size = sizeof cc;
        cc.address = "127.0.0.1";
        cc.port = port;
        cc.timeout_ms = 5000;
        cc.on_connect = cli_on_connect;
        cc.user = &cl;
        err = zenith_server_connect(cl.s, &cc, &id);
        if (err != 0) {
            fprintf(stderr, "pingpong_zenith: client: connect: %s (%s)\n", zenith_strerror(err), zenith_errname(err));
            status = 1;
        }
    }
    if (!status) {
        cl.last_progress = now_ns();
        unsigned spins = 0;
        while (!cl.done) {
            int rc = zenith_server_run_once(cl.s, 0);
            if (rc < 0) {
                fprintf(stderr, "pingpong_zenith: client: run_once: %s\n", zenith_strerror(rc));
                cl.failed = 1;
                break;
            }
            if (t_begin == 0 && cl.round == g_warmup && cl.conn) t_begin = cl.t0;
            if ((++spins & 1023u) == 0 && now_ns() - cl.last_progress > STALL_NS) {
                fprintf(stderr, "pingpong_zenith: client: no echo for %.0f s (round trip %ld, %ld of %ld bytes)\n",
                        STALL_NS / 1e9, cl.round, cl.got, g_size);
                cl.failed = 1;
                break;
            }
            if (atomic_load(&g_srv_failed)) {
                cl.failed = 1;
                break;
            }
        }
        t_end = now_ns();
        if (t_begin == 0) t_begin = t_end;
        cl.done = 1;
        if (cl.conn && !cl.closed) { /* close ours: the server sees EOF, closes and stops */
            zenith_server_close(cl.s, cl.conn, ZENITH_CLOSE_FLUSH);
            uint64_t until = now_ns() + 2000000000ull;
            while (!cl.closed && now_ns() < until)
                if (zenith_server_run_once(cl.s, 1) < 0) break;
        }
        if (cl.failed) status = 1;
    }
    zenith_server_stop(g_srv); /* in case it is still running (any thread may stop it) */
    pthread_barrier_wait(&g_done);
    pthread_join(th, NULL);
    if (cl.s) zenith_server_destroy(cl.s);
    if (atomic_load(&g_srv_failed)) status = status ? status : 1;
    pthread_barrier_destroy(&g_ready);
    pthread_barrier_destroy(&g_done);
    if (status) {
        free(cl.rtt), free(cl.out);
        return status;
    }

    qsort(cl.rtt, (size_t)g_rounds, sizeof *cl.rtt, cmp_u64);
    double sum = 0;
    for (long i = 0; i < g_rounds; i++) sum += (double)cl.rtt[i];
    double mean = sum / (double)g_rounds / 1e3, secs = (double)(t_end - t_begin) / 1e9;
    double p50 = pct(cl.rtt, g_rounds, 0.50), p99 = pct(cl.rtt, g_rounds, 0.99), p999 = pct(cl.rtt, g_rounds, 0.999);
    double mn = (double)cl.rtt[0] / 1e3, mx = (double)cl.rtt[g_rounds - 1] / 1e3;
    const char *mode = g_keep ? "keep" : "copy";
    if (secs <= 0) secs = 1e-9;
    if (g_json)
        printf("{\"impl\":\"zenith\",\"mode\":\"%s\",\"size\":%ld,\"rounds\":%ld,\"warmup\":%ld,\"duration_s\":%.3f,"
               "\"rtt_per_s\":%.1f,\"min_us\":%.2f,\"mean_us\":%.2f,\"p50_us\":%.2f,\"p99_us\":%.2f,\"p999_us\":%.2f,"
               "\"max_us\":%.2f,\"errors\":0}\n",
               mode, g_size, g_rounds, g_warmup, secs, (double)g_rounds / secs, mn, mean, p50, p99, p999, mx);
    else {
        printf("pingpong_zenith (run_once(0) spin, %s echo): %ld round trips x %ld B after %ld warm-up, server CPU %d,"
               " client CPU %d\n",
               mode, g_rounds, g_size, g_warmup, g_srv_cpu, g_cli_cpu);
        printf("%10s %9s %9s %9s %9s %9s %10s\n", "rtt/s", "min us", "mean us", "p50 us", "p99 us", "p99.9 us",
               "max us");
        printf("%10.0f %9.2f %9.2f %9.2f %9.2f %9.2f %10.2f\n", (double)g_rounds / secs, mn, mean, p50, p99, p999, mx);
    }
    free(cl.rtt), free(cl.out);
    return 0;
}
