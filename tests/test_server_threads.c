/* The server's cross-thread contracts (also run under TSan): stop from another thread and from a
   signal handler while the loop is blocked, and kept buffers released on another thread while
   traffic flows. */
#define ZENITH_IMPLEMENTATION
#include "zenith.h"

#include "criterion_compat.h" /* Criterion (or its TSan stand-in) */
#include "net_helpers.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static void echo(void *user, zenith_conn_id conn, const uint8_t *data, size_t len) {
    cr_assert_eq(zenith_server_send((zenith_server *)user, conn, data, len), 0);
}

static zenith_server *mkserver(zenith_data_fn on_data, void *user) {
    zenith_server_config cfg;
    zenith_server *s;
    int err;
    memset(&cfg, 0, sizeof cfg);
    cfg.buffer_count = 1024;
    cfg.max_connections = 64;
    s = zenith_server_create(&cfg, &err);
    if (s == NULL && err == ZENITH_E_URING_DISABLED) cr_skip("io_uring is disabled here");
    cr_assert_not_null(s, "create: %s", zenith_errname(err));
    cr_assert_eq(zenith_server_set_callbacks(s, NULL, on_data, NULL, user ? user : s), 0);
    return s;
}

typedef struct {
    zenith_server *s;
    double returned_at;
    int loops;
} loop_t;

/* The server's thread: start, then block in run_once(-1) until stopped. */
static void *blocking_loop(void *arg) {
    loop_t *l = (loop_t *)arg;
    cr_assert_eq(zenith_server_start(l->s), 0);
    while (!zenith_server_stopped(l->s)) {
        cr_assert_geq(zenith_server_run_once(l->s, -1), 0);
        l->loops++;
    }
    l->returned_at = now_s();
    cr_assert_geq(zenith_server_shutdown(l->s, 1000), 0);
    return NULL; /* the creator destroys it after joining (stop may still be called until then) */
}

Test(server_threads, stop_from_another_thread_wakes_a_blocked_loop, .timeout = 15) {
    loop_t l;
    pthread_t t;
    double asked;
    memset(&l, 0, sizeof l);
    l.s = mkserver(echo, NULL);
    cr_assert_eq(pthread_create(&t, NULL, blocking_loop, &l), 0);
    usleep(200 * 1000); /* the loop is asleep in io_uring_enter with no timeout */
    asked = now_s();
    zenith_server_stop(l.s);
    zenith_server_stop(l.s); /* calls coalesce */
    cr_assert_eq(pthread_join(t, NULL), 0);
    cr_assert_lt(l.returned_at - asked, 1.0, "run_once(-1) did not return promptly after stop");
    zenith_server_destroy(l.s);
}

static zenith_server *signalled;
static void on_usr1(int sig) {
    (void)sig;
    zenith_server_stop(signalled); /* async-signal-safe */
}

Test(server_threads, stop_from_a_signal_handler, .timeout = 15) {
    loop_t l;
    pthread_t t;
    struct sigaction sa;
    memset(&l, 0, sizeof l);
    l.s = signalled = mkserver(echo, NULL);
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_usr1;
    sigemptyset(&sa.sa_mask);
    cr_assert_eq(sigaction(SIGUSR1, &sa, NULL), 0);
    cr_assert_eq(pthread_create(&t, NULL, blocking_loop, &l), 0);
    usleep(200 * 1000);
    cr_assert_eq(pthread_kill(t, SIGUSR1), 0); /* the handler runs on the server's own thread */
    cr_assert_eq(pthread_join(t, NULL), 0);
    cr_assert_gt(l.returned_at, 0.0);
    zenith_server_destroy(l.s);
}

/* Kept buffers go to a consumer thread through a small locked queue and are released there. */
typedef struct {
    zenith_server *s;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    void *q[256];
    size_t qlen[256];
    unsigned head, tail, done;
    uint64_t bytes_seen;
} handoff_t;

static void keep_and_hand_off(void *user, zenith_conn_id conn, const uint8_t *data, size_t len) {
    handoff_t *h = (handoff_t *)user;
    void *buf = zenith_server_keep(h->s);
    (void)conn;
    (void)data;
    cr_assert_not_null(buf);
    pthread_mutex_lock(&h->mu);
    while (h->tail - h->head == 256) pthread_cond_wait(&h->cv, &h->mu);
    h->q[h->tail % 256] = buf;
    h->qlen[h->tail % 256] = len;
    h->tail++;
    pthread_cond_broadcast(&h->cv);
    pthread_mutex_unlock(&h->mu);
}

static void *consumer(void *arg) {
    handoff_t *h = (handoff_t *)arg;
    for (;;) {
        void *buf;
        size_t len, i;
        pthread_mutex_lock(&h->mu);
        while (h->head == h->tail && !h->done) pthread_cond_wait(&h->cv, &h->mu);
        if (h->head == h->tail && h->done) {
            pthread_mutex_unlock(&h->mu);
            return NULL;
        }
        buf = h->q[h->head % 256];
        len = h->qlen[h->head % 256];
        h->head++;
        pthread_cond_broadcast(&h->cv);
        pthread_mutex_unlock(&h->mu);
        for (i = 0; i < len; i++) cr_assert_eq(((unsigned char *)buf)[i], (unsigned char)'z');
        h->bytes_seen += len;
        cr_assert_eq(zenith_pool_release(zenith_server_pool(h->s), buf), 0); /* another thread */
    }
}

Test(server_threads, kept_buffers_released_on_another_thread_under_traffic, .timeout = 30) {
    handoff_t h;
    pthread_t c;
    zenith_pool_stats ps;
    int fd, i;
    char buf[8192];
    uint64_t sent = 0;
    double deadline;
    memset(&h, 0, sizeof h);
    pthread_mutex_init(&h.mu, NULL);
    pthread_cond_init(&h.cv, NULL);
    h.s = mkserver(keep_and_hand_off, &h);
    cr_assert_eq(zenith_server_start(h.s), 0);
    cr_assert_eq(pthread_create(&c, NULL, consumer, &h), 0);
    fd = dial(zenith_server_port(h.s));
    memset(buf, 'z', sizeof buf);
    for (i = 0; i < 500; i++) {
        cr_assert_eq(send(fd, buf, sizeof buf, 0), (ssize_t)sizeof buf);
        sent += sizeof buf;
        cr_assert_geq(zenith_server_run_once(h.s, 0), 0);
    }
    deadline = now_s() + 10.0;
    for (;;) { /* until every byte has reached the consumer */
        zenith_server_stats st;
        cr_assert_geq(zenith_server_run_once(h.s, 10), 0);
        cr_assert_eq(zenith_server_get_stats(h.s, &st), 0);
        if (st.bytes_in == sent) break;
        cr_assert_lt(now_s(), deadline, "not all data arrived");
    }
    pthread_mutex_lock(&h.mu);
    h.done = 1;
    pthread_cond_broadcast(&h.cv);
    pthread_mutex_unlock(&h.mu);
    cr_assert_eq(pthread_join(c, NULL), 0);
    cr_assert_eq(h.bytes_seen, sent, "every kept byte reached the other thread");
    close(fd);
    cr_assert_geq(zenith_server_shutdown(h.s, 1000), 0);
    cr_assert_eq(zenith_pool_get_stats(zenith_server_pool(h.s), &ps), 0);
    cr_assert_eq(ps.releases + 0, ps.releases); /* consumer releases were counted by the pool */
    cr_assert_geq(ps.releases, 500u * sizeof buf / 4096u, "the consumer's releases reached the pool");
    zenith_server_destroy(h.s);
    pthread_mutex_destroy(&h.mu);
    pthread_cond_destroy(&h.cv);
}
