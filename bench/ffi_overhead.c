/* ffi_overhead.c -- the C baseline for bench/ffi_overhead.sh, one line
   `c VERSION_NS PAIR_NS ECHO_NS POST_NS`: ns per zenith_version() call (through libzenith.so,
   as the bindings call it), per exported pool acquire+release pair, per 64-byte echo round
   trip (a client connection to an echo server on the same reactor, both driven by run_once;
   mean over 20,000 after 2,000 of warm-up) and per message posted from another thread
   (200,000 messages, retried on ZENITH_E_FULL, while this thread runs run_once until all ran;
   wall time / messages). The bindings' overhead programs measure the same four things.
   Build: cc -O2 bench/ffi_overhead.c -I. -Lbuild -lzenith -pthread -o build/ffi_overhead */
#include "zenith.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static double now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static zenith_server *srv;
static zenith_conn_id client;
static int connected, back;
static size_t got;
static long posts_run;

static void on_connect(void *user, zenith_conn_id conn, int status) {
    (void)user;
    (void)conn;
    connected = status == 0 ? 1 : -1;
}
static void on_data(void *user, zenith_conn_id conn, const uint8_t *data, size_t len) {
    (void)user;
    if (conn == client) { /* the client: count the echo */
        got += len;
        if (got >= 64) {
            got -= 64;
            back = 1;
        }
    } else {
        zenith_server_send(srv, conn, data, len); /* the server: echo */
    }
}
static void on_post(void *user, void *data, size_t len) {
    (void)user;
    (void)data;
    (void)len;
    posts_run++;
}

#define POSTS 200000
static void *poster(void *arg) {
    long i;
    char msg[8] = { 0 };
    (void)arg;
    for (i = 0; i < POSTS; i++)
        while (zenith_server_post(srv, on_post, NULL, msg, sizeof msg) == ZENITH_E_FULL) {
        }
    return NULL;
}

static int reactor(double *echo, double *post) {
    zenith_server_config cfg;
    zenith_connect_config cc;
    uint8_t msg[64];
    pthread_t th;
    double t = 0;
    int i, err = 0;
    memset(&cfg, 0, sizeof cfg);
    cfg.address = "127.0.0.1";
    srv = zenith_server_create(&cfg, &err);
    if (srv == NULL || zenith_server_set_callbacks(srv, NULL, on_data, NULL, NULL) != 0 ||
        zenith_server_start(srv) != 0)
        return 1;
    memset(&cc, 0, sizeof cc);
    cc.address = "127.0.0.1";
    cc.port = zenith_server_port(srv);
    cc.on_connect = on_connect;
    if (zenith_server_connect(srv, &cc, &client) != 0) return 1;
    while (connected == 0) zenith_server_run_once(srv, 100);
    if (connected < 0) return 1;
    memset(msg, 'z', sizeof msg);
    for (i = -2000; i < 20000; i++) {
        if (i == 0) t = now_ns();
        back = 0;
        if (zenith_server_send(srv, client, msg, sizeof msg) != 0) return 1;
        while (!back) zenith_server_run_once(srv, -1);
    }
    *echo = (now_ns() - t) / 20000;
    t = now_ns();
    if (pthread_create(&th, NULL, poster, NULL) != 0) return 1;
    while (posts_run < POSTS) zenith_server_run_once(srv, 100);
    *post = (now_ns() - t) / POSTS;
    pthread_join(th, NULL);
    zenith_server_destroy(srv);
    return 0;
}

int main(void) {
    const int n = 20000000;
    volatile long sink = 0;
    zenith_pool_config cfg = { 0 };
    zenith_pool *p;
    double t, v, pair, echo = 0, post = 0;
    int i;
    t = now_ns();
    for (i = 0; i < n; i++) sink += zenith_version();
    v = (now_ns() - t) / n;
    cfg.buffer_count = 1024;
    p = zenith_pool_create(&cfg, NULL);
    if (p == NULL) return 1;
    t = now_ns();
    for (i = 0; i < n; i++) zenith_pool_release(p, zenith_pool_acquire(p));
    pair = (now_ns() - t) / n;
    zenith_pool_destroy(p);
    if (reactor(&echo, &post) != 0) {
        fprintf(stderr, "ffi_overhead: the reactor part failed\n");
        return 1;
    }
    printf("c %.1f %.1f %.1f %.1f\n", v, pair, echo, post);
    return (int)(sink & 0);
}
