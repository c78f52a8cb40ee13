/* The engine under concurrency: 4 producers x 1 M batches (fewer under TSan) against one and two
   consumers. Each producer's batches come out in its order, every release callback runs
   exactly once, nothing is lost, nothing allocated per batch (the batches here are static
   structs: the engine copies the structs, never the data). Also runs under TSan. */
#define ZENITH_IMPLEMENTATION
#include "zenith.h"

#include "criterion_compat.h" /* Criterion (or its TSan stand-in) */

#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>

#if defined(__SANITIZE_THREAD__)
#define PER_PRODUCER 100000u
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define PER_PRODUCER 100000u
#endif
#endif
#ifndef PER_PRODUCER
#define PER_PRODUCER 1000000u
#endif
#define PRODUCERS 4u

/* released[p][i]: how many times batch i of producer p had its array / schema released */
static unsigned char *array_released[PRODUCERS], *schema_released[PRODUCERS];
static const int64_t payload[1] = { 42 };
static const void *payload_buffers[2] = { NULL, payload };

/* private_data carries producer << 32 | index: no allocation per batch */
static void release_array(struct ArrowArray *a) {
    uintptr_t id = (uintptr_t)a->private_data;
    __atomic_fetch_add(&array_released[id >> 32][id & 0xffffffffu], 1, __ATOMIC_RELAXED);
    a->release = NULL;
}

static void release_schema(struct ArrowSchema *s) {
    uintptr_t id = (uintptr_t)s->private_data;
    __atomic_fetch_add(&schema_released[id >> 32][id & 0xffffffffu], 1, __ATOMIC_RELAXED);
    s->release = NULL;
}

typedef struct {
    ZenithEngine e;
    uint32_t producer;
    uint64_t full; /* publishes that met a full engine and retried */
} producer_t;

static void *produce(void *arg) {
    producer_t *p = (producer_t *)arg;
    uint32_t i;
    for (i = 0; i < PER_PRODUCER; i++) {
        struct ArrowArray a;
        struct ArrowSchema s;
        int rc;
        memset(&a, 0, sizeof a);
        memset(&s, 0, sizeof s);
        a.length = 1;
        a.n_buffers = 2;
        a.buffers = payload_buffers;
        a.release = release_array;
        a.private_data = (void *)((uintptr_t)p->producer << 32 | i);
        s.format = "l";
        s.release = release_schema;
        s.private_data = a.private_data;
        while ((rc = zenith_publish(p->e, &a, &s, p->producer, i)) == ZENITH_E_FULL) {
            p->full++;
            sched_yield();
        }
        if (rc != 0 || a.release != NULL) return (void *)1; /* checked by the joiner */
    }
    return NULL;
}

typedef struct {
    ZenithEngine e;
    uint64_t got;
    uint64_t next[PRODUCERS]; /* next index expected from each producer, in this consumer's stream */
    int out_of_order;
    volatile int *producers_done;
} consumer_t;

static void *consume(void *arg) {
    consumer_t *c = (consumer_t *)arg;
    zenith_batch b;
    for (;;) {
        int rc = zenith_poll(c->e, &b);
        if (rc == 1) {
            uint64_t p = b.source_id;
            if (p >= PRODUCERS || b.seq_no < c->next[p] || b.array.buffers[1] != payload) c->out_of_order = 1;
            c->next[p] = b.seq_no + 1;
            zenith_batch_release(c->e, &b);
            c->got++;
        } else if (__atomic_load_n(c->producers_done, __ATOMIC_ACQUIRE)) {
            if (zenith_poll(c->e, &b) == 0) return NULL; /* drained after the last publish */
            /* one more arrived between the two looks: put it through the same checks */
            {
                uint64_t p = b.source_id;
                if (p >= PRODUCERS || b.seq_no < c->next[p]) c->out_of_order = 1;
                c->next[p] = b.seq_no + 1;
                zenith_batch_release(c->e, &b);
                c->got++;
            }
        } else {
            sched_yield();
        }
    }
}

static void run(uint32_t capacity, int consumers) {
    ZenithEngine e = zenith_init(capacity);
    pthread_t pt[PRODUCERS], ct[2];
    producer_t prod[PRODUCERS];
    consumer_t cons[2];
    volatile int done = 0;
    zenith_engine_stats st;
    uint64_t got = 0, full = 0;
    uint32_t p, i;
    int k;
    cr_assert_not_null(e);
    for (p = 0; p < PRODUCERS; p++) {
        array_released[p] = calloc(PER_PRODUCER, 1);
        schema_released[p] = calloc(PER_PRODUCER, 1);
        cr_assert(array_released[p] && schema_released[p]);
    }
    memset(cons, 0, sizeof cons);
    for (k = 0; k < consumers; k++) {
        cons[k].e = e;
        cons[k].producers_done = &done;
        cr_assert_eq(pthread_create(&ct[k], NULL, consume, &cons[k]), 0);
    }
    for (p = 0; p < PRODUCERS; p++) {
        prod[p].e = e;
        prod[p].producer = p;
        prod[p].full = 0;
        cr_assert_eq(pthread_create(&pt[p], NULL, produce, &prod[p]), 0);
    }
    for (p = 0; p < PRODUCERS; p++) {
        void *rv = NULL;
        cr_assert_eq(pthread_join(pt[p], &rv), 0);
        cr_assert_null(rv, "producer %u: a publish failed with something other than FULL", p);
        full += prod[p].full;
    }
    __atomic_store_n(&done, 1, __ATOMIC_RELEASE);
    for (k = 0; k < consumers; k++) {
        cr_assert_eq(pthread_join(ct[k], NULL), 0);
        cr_assert_eq(cons[k].out_of_order, 0, "consumer %d saw a producer's batches out of order", k);
        got += cons[k].got;
    }
    cr_assert_eq(got, (uint64_t)PRODUCERS * PER_PRODUCER, "lost or duplicated: got %llu", (unsigned long long)got);
    for (p = 0; p < PRODUCERS; p++)
        for (i = 0; i < PER_PRODUCER; i++)
            if (array_released[p][i] != 1 || schema_released[p][i] != 1)
                cr_assert_fail("producer %u batch %u released %d/%d times", p, i, array_released[p][i],
                               schema_released[p][i]);
    cr_assert_eq(zenith_engine_get_stats(e, &st), 0);
    cr_assert_eq(st.published, (uint64_t)PRODUCERS * PER_PRODUCER);
    cr_assert_eq(st.polled, st.published);
    cr_assert_eq(st.released, st.published);
    cr_assert_eq(st.rejected_full, full);
    cr_assert_eq(st.seq_gaps, 0, "one producer per source, consecutive numbers");
    cr_assert_eq(st.seq_duplicates, 0);
    cr_assert_eq(st.sources, PRODUCERS);
    zenith_free(e);
    for (p = 0; p < PRODUCERS; p++) {
        free(array_released[p]);
        free(schema_released[p]);
    }
}

Test(engine_threads, four_producers_one_consumer, .timeout = 120) { run(1024, 1); }

Test(engine_threads, four_producers_two_consumers_small_ring, .timeout = 120) { run(64, 2); }
