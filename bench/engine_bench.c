/* engine_bench.c -- the data-plane engine: publish + poll + release per batch.

   Rows, side by side in one run (medians of 11 repetitions):
   - one thread: publish, poll, release of a 1-value int64 batch; of a 4096-value int64 batch
     with a validity bitmap (the null count is checked against it); of a 4096-value utf8 batch
     (4097 offsets checked)
   - 1 and 2 producers (pinned to CPU 1) + this thread consuming (CPU 0): ns per batch of the flow
   - the same flows through a mutex-protected ring of the same capacity (the baseline a
     hand-rolled queue would be): ratio = baseline / engine.
   The batches are static structs (no allocation in the loop on either side): the cost is the
   engine's, not malloc's.

     build/engine_bench               all rows
     build/engine_bench one N         N single-thread 1-value round trips (for callgrind)

   Build: cc -O2 -std=gnu11 bench/engine_bench.c -I. -luring -pthread -o build/engine_bench */
#define ZENITH_IMPLEMENTATION
#include "zenith.h"

#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define REPS 11
#define CAPACITY 1024u

static double now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, int n) {
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return v[n / 2];
}

static void release_array(struct ArrowArray *a) { a->release = NULL; }
static void release_schema(struct ArrowSchema *s) { s->release = NULL; }

/* ---- the batches ----------------------------------------------------------------------------- */

static int64_t values[4096];
static uint8_t bitmap[512];
static int32_t offsets[4097];
static char text[4096 * 4];
static const void *one_bufs[2] = { NULL, values };
static const void *big_bufs[2] = { bitmap, values };
static const void *utf8_bufs[3] = { NULL, offsets, text };

typedef struct {
    const char *format;
    int64_t length, null_count, n_buffers;
    const void **buffers;
} shape;

static const shape one = { "l", 1, 0, 2, one_bufs };
static const shape big = { "l", 4096, 64, 2, big_bufs };
static const shape utf8 = { "u", 4096, 0, 3, utf8_bufs };

static void make(const shape *sh, struct ArrowArray *a, struct ArrowSchema *s) {
    memset(a, 0, sizeof *a);
    memset(s, 0, sizeof *s);
    a->length = sh->length;
    a->null_count = sh->null_count;
    a->n_buffers = sh->n_buffers;
    a->buffers = sh->buffers;
    a->release = release_array;
    s->format = sh->format;
    s->release = release_schema;
}

/* ---- the baseline: a mutex around a ring of the same structs ------------------------------------ */

typedef struct {
    pthread_mutex_t lock;
    uint64_t head, tail;
    zenith_batch slots[CAPACITY];
} mutex_ring;

static int mr_publish(mutex_ring *r, struct ArrowArray *a, struct ArrowSchema *s, uint64_t src, uint64_t seq) {
    pthread_mutex_lock(&r->lock);
    if (r->tail - r->head == CAPACITY) {
        pthread_mutex_unlock(&r->lock);
        return ZENITH_E_FULL;
    }
    {
        zenith_batch *b = &r->slots[r->tail++ % CAPACITY];
        b->source_id = src;
        b->seq_no = seq;
        b->array = *a;
        b->schema = *s;
        a->release = NULL;
        s->release = NULL;
    }
    pthread_mutex_unlock(&r->lock);
    return 0;
}

static int mr_poll(mutex_ring *r, zenith_batch *out) {
    pthread_mutex_lock(&r->lock);
    if (r->head == r->tail) {
        pthread_mutex_unlock(&r->lock);
        return 0;
    }
    *out = r->slots[r->head++ % CAPACITY];
    pthread_mutex_unlock(&r->lock);
    return 1;
}

static void mr_release(zenith_batch *b) {
    b->array.release(&b->array);
    b->schema.release(&b->schema);
}

/* ---- one thread --------------------------------------------------------------------------------- */

__attribute__((noinline)) static void round_zenith(ZenithEngine e, const shape *sh, uint64_t i) {
    struct ArrowArray a;
    struct ArrowSchema s;
    zenith_batch b;
    make(sh, &a, &s);
    if (zenith_publish(e, &a, &s, 1, i) != 0 || zenith_poll(e, &b) != 1 || zenith_batch_release(e, &b) != 0) abort();
}

__attribute__((noinline)) static void round_mutex(mutex_ring *r, const shape *sh, uint64_t i) {
    struct ArrowArray a;
    struct ArrowSchema s;
    zenith_batch b;
    make(sh, &a, &s);
    if (mr_publish(r, &a, &s, 1, i) != 0 || mr_poll(r, &b) != 1) abort();
    mr_release(&b);
}

static void one_thread(const char *label, const shape *sh, uint64_t n, ZenithEngine e, mutex_ring *r) {
    double z[REPS], m[REPS];
    uint64_t i;
    int k;
    for (k = 0; k < REPS; k++) {
        double t0 = now_ns();
        for (i = 0; i < n; i++) round_zenith(e, sh, i);
        z[k] = (now_ns() - t0) / (double)n;
        t0 = now_ns();
        for (i = 0; i < n; i++) round_mutex(r, sh, i);
        m[k] = (now_ns() - t0) / (double)n;
    }
    printf("%-44s %9.1f %9.1f %7.2fx\n", label, median(z, REPS), median(m, REPS), median(m, REPS) / median(z, REPS));
}

/* ---- two producers, this thread consuming ------------------------------------------------------------ */

typedef struct {
    ZenithEngine e;
    mutex_ring *r;
    uint64_t n, source;
} prod_arg;

static void pin(int cpu) {
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    pthread_setaffinity_np(pthread_self(), sizeof set, &set); /* best effort */
}

static void *produce(void *arg) {
    prod_arg *p = (prod_arg *)arg;
    uint64_t i;
    pin(1); /* producers on CPU 1, the consumer on CPU 0: the same placement every run */
    for (i = 0; i < p->n; i++) {
        struct ArrowArray a;
        struct ArrowSchema s;
        make(&one, &a, &s);
        for (;;) {
            int rc = p->e ? zenith_publish(p->e, &a, &s, p->source, i) : mr_publish(p->r, &a, &s, p->source, i);
            if (rc == 0) break;
            sched_yield();
        }
    }
    return NULL;
}

static double flow(ZenithEngine e, mutex_ring *r, int producers, uint64_t per_producer) {
    pthread_t t[2];
    prod_arg args[2];
    uint64_t got = 0, total = (uint64_t)producers * per_producer;
    double t0 = now_ns();
    int i;
    for (i = 0; i < producers; i++) {
        args[i].e = e;
        args[i].r = r;
        args[i].n = per_producer;
        args[i].source = (uint64_t)i;
        pthread_create(&t[i], NULL, produce, &args[i]);
    }
    while (got < total) {
        zenith_batch b;
        if (e ? zenith_poll(e, &b) == 1 : mr_poll(r, &b) == 1) {
            if (e)
                zenith_batch_release(e, &b);
            else
                mr_release(&b);
            got++;
        }
    }
    for (i = 0; i < producers; i++) pthread_join(t[i], NULL);
    return (now_ns() - t0) / (double)total;
}

int main(int argc, char **argv) {
    ZenithEngine e = zenith_init(CAPACITY);
    static mutex_ring r;
    double z[REPS], m[REPS];
    int i, k;
    if (e == NULL) return 1;
    pin(0);
    pthread_mutex_init(&r.lock, NULL);
    for (i = 0; i < 4096; i++) {
        values[i] = i;
        offsets[i + 1] = offsets[i] + (i % 7);
    }
    memset(bitmap, 0xff, sizeof bitmap);
    for (i = 0; i < 64; i++) bitmap[i * 8] = 0xfe; /* 64 nulls */
    if (argc == 3 && strcmp(argv[1], "one") == 0) {
        uint64_t n = strtoull(argv[2], NULL, 10), j;
        for (j = 0; j < n; j++) round_zenith(e, &one, j);
        zenith_free(e);
        return 0;
    }
    printf("engine_bench: ns per batch (publish + poll + release), medians of %d; ratio = mutex ring / engine\n", REPS);
    printf("%-44s %9s %9s %8s\n", "flow", "engine", "mutex", "ratio");
    one_thread("1 thread, int64 x 1", &one, 1000000, e, &r);
    one_thread("1 thread, int64 x 4096 + validity (64 nulls)", &big, 100000, e, &r);
    one_thread("1 thread, utf8 x 4096 (offsets checked)", &utf8, 100000, e, &r);
    for (i = 1; i <= 2; i++) {
        for (k = 0; k < REPS; k++) {
            z[k] = flow(e, NULL, i, 500000);
            m[k] = flow(NULL, &r, i, 500000);
        }
        printf("%d producer%s -> 1 consumer, int64 x 1%*s %9.1f %9.1f %7.2fx\n", i, i > 1 ? "s" : "", i > 1 ? 9 : 10,
               "", median(z, REPS), median(m, REPS), median(m, REPS) / median(z, REPS));
    }
    printf("(consumer pinned to CPU 0, producers to CPU 1: with 2 producers they share that core)\n");
    zenith_free(e);
    return 0;
}
