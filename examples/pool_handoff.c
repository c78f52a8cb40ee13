/* pool_handoff.c -- zero-copy hand-off of pool buffers between two threads.

   Shows: a producer thread acquires page-aligned buffers, fills them and passes the *pointer*
   (never the bytes) to a consumer thread through a small lock-free ring; the consumer reads
   each message and releases the buffer on its own thread. Then the pool's stats, and what a
   double release or a foreign pointer gets back.

   Needs: Linux, liburing >= 2.3 (for linking only; no io_uring call is made here).
   Build: cc -O2 examples/pool_handoff.c -I. -luring -pthread -o pool_handoff
   Run:   ./pool_handoff            (prints the checksum of what was sent and received) */
#define ZENITH_IMPLEMENTATION
#include "zenith.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>

#define MESSAGES 200000u
#define RING 256u /* power of two */

static zenith_pool *pool;
static void *ring[RING];
static unsigned head, tail; /* head: written by producer, tail: by consumer (atomics below) */

static void *producer(void *arg) {
    unsigned long long *sent = (unsigned long long *)arg;
    for (unsigned i = 0; i < MESSAGES; i++) {
        char *buf;
        while ((buf = (char *)zenith_pool_acquire(pool)) == NULL) /* pool empty: consumer behind */
            ;
        int n = snprintf(buf, 64, "message %u", i);
        *sent += (unsigned long long)n;
        unsigned h = __atomic_load_n(&head, __ATOMIC_RELAXED);
        while (h - __atomic_load_n(&tail, __ATOMIC_ACQUIRE) == RING) /* ring full */
            ;
        ring[h % RING] = buf;
        __atomic_store_n(&head, h + 1, __ATOMIC_RELEASE);
    }
    return NULL;
}

static void *consumer(void *arg) {
    unsigned long long *received = (unsigned long long *)arg;
    for (unsigned i = 0; i < MESSAGES; i++) {
        unsigned t = __atomic_load_n(&tail, __ATOMIC_RELAXED);
        while (__atomic_load_n(&head, __ATOMIC_ACQUIRE) == t) /* ring empty */
            ;
        char *buf = (char *)ring[t % RING];
        __atomic_store_n(&tail, t + 1, __ATOMIC_RELEASE);
        *received += strlen(buf);
        int rc = zenith_pool_release(pool, buf); /* released on another thread than acquired */
        if (rc != 0) fprintf(stderr, "release: %s\n", zenith_strerror(rc));
    }
    return NULL;
}

int main(void) {
    zenith_pool_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.buffer_size = 4096;
    cfg.buffer_count = 4096;
    int err;
    pool = zenith_pool_create(&cfg, &err);
    if (!pool) {
        fprintf(stderr, "zenith_pool_create: %s (%s)\n", zenith_strerror(err), zenith_errname(err));
        return 1;
    }

    unsigned long long sent = 0, received = 0;
    pthread_t p, c;
    pthread_create(&c, NULL, consumer, &received);
    pthread_create(&p, NULL, producer, &sent);
    pthread_join(p, NULL);
    pthread_join(c, NULL);

    zenith_pool_stats st;
    zenith_pool_get_stats(pool, &st);
    printf("sent %llu bytes in %u buffers, received %llu bytes: %s\n", sent, MESSAGES, received,
           sent == received ? "match" : "MISMATCH");
    printf("pool: %llu buffers, %llu in use, %llu acquires, %llu releases\n", (unsigned long long)st.total,
           (unsigned long long)st.in_use, (unsigned long long)st.acquires, (unsigned long long)st.releases);

    void *buf = zenith_pool_acquire(pool);
    zenith_pool_release(pool, buf);
    int twice = zenith_pool_release(pool, buf);
    int foreign = zenith_pool_release(pool, &cfg);
    printf("double release: %s; foreign pointer: %s\n", zenith_errname(twice), zenith_errname(foreign));

    zenith_pool_destroy(pool);
    return sent == received && st.in_use == 0 ? 0 : 1;
}
