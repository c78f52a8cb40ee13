/* Criterion suite for zenith.h: the buffer pool under concurrency. Meant to run under TSan too.
   Under TSan it runs on tests/criterion_compat.h (Criterion cannot start there).
   ZENITH_STRESS_OPS (env) raises the total operation count of the stress tests (default and
   minimum 1,000,000); ZENITH_HANDOFF_ITEMS raises the hand-off item count (default 100,000). */
#define ZENITH_IMPLEMENTATION
#include "zenith.h"

/* Criterion, or under ThreadSanitizer (where Criterion cannot start, Criterion #274) the
   runner with the same API in tests/criterion_compat.h; the Makefile's TSan build defines
   ZENITH_TEST_SHIM, and a TSan build by hand gets it here. */
#if !defined(ZENITH_TEST_SHIM) && defined(__SANITIZE_THREAD__)
#define ZENITH_TEST_SHIM 1
#endif
#if !defined(ZENITH_TEST_SHIM) && defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define ZENITH_TEST_SHIM 1
#endif
#endif
#include "criterion_compat.h"
#include "helpers.h"

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define THREADS 8

/* ---- helpers -------------------------------------------------------------------------------- */

static long env_long(const char *name, long def, long min) {
    const char *s = getenv(name);
    long v = def;
    if (s && *s) {
        char *end;
        long x = strtol(s, &end, 10);
        if (*end == '\0' && x > 0) v = x;
    }
    return v < min ? min : v;
}

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static uint64_t xorshift(uint64_t *s) {
    uint64_t x = *s;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return *s = x;
}

/* Ownership table shared by all threads: owner[idx] = thread id + 1 while a thread holds buffer
   idx. Claimed with a CAS on acquire: a buffer handed out twice fails the CAS. */
typedef struct {
    zenith_pool *pool;
    uint32_t *owner;
    uint32_t count;
    size_t size;
} shared_t;

/* a stamp covering the first and the last 16 bytes of the buffer (the whole of a 64 B one is
   covered with size 64) */
static void stamp(unsigned char *b, size_t size, uint32_t id, uint64_t seq) {
    uint64_t w[2] = { ((uint64_t)id << 32) | 0x5a5aa5a5u, seq };
    size_t off;
    for (off = 0; off + 16 <= size && off < 64; off += 16) memcpy(b + off, w, 16);
    memcpy(b + size - 16, w, 16);
}

static int stamp_ok(const unsigned char *b, size_t size, uint32_t id, uint64_t seq) {
    uint64_t w[2] = { ((uint64_t)id << 32) | 0x5a5aa5a5u, seq };
    size_t off;
    for (off = 0; off + 16 <= size && off < 64; off += 16)
        if (memcmp(b + off, w, 16) != 0) return 0;
    return memcmp(b + size - 16, w, 16) == 0;
}

#define FAIL(w, ...)                                                    \
    do {                                                                \
        if (!(w)->err) snprintf((w)->msg, sizeof(w)->msg, __VA_ARGS__); \
        (w)->err = 1;                                                   \
    } while (0)

/* ---- stress: 8 threads, random acquire/release, stamps ------------------------------------------ */

typedef struct {
    shared_t *sh;
    uint32_t id;
    uint32_t max_hold;
    long ops;              /* acquire + release calls to make */
    int api;               /* 0 exported, 1 inline twins, 2 alternate per call */
    const int *keep_going; /* nullable: after ops, go on while *keep_going */
    pthread_barrier_t *start;
    /* results */
    uint64_t acquires, releases, failed, flushed_calls;
    int err;
    char msg[256];
} stress_worker;

typedef struct {
    unsigned char *buf;
    uint64_t seq;
} held_t;

static int take_one(stress_worker *w, held_t *h, uint64_t seq) {
    shared_t *sh = w->sh;
    int use_inline = w->api == 1 || (w->api == 2 && (seq & 1));
    unsigned char *b = use_inline ? zenith_pool_acquire_inline(sh->pool) : zenith_pool_acquire(sh->pool);
    uint32_t expect = 0;
    int idx;
    if (b == NULL) {
        w->failed++;
        return 0;
    }
    w->acquires++;
    idx = zenith_pool_index(sh->pool, b);
    if (idx < 0 || (uint32_t)idx >= sh->count) {
        FAIL(w, "thread %u: acquire returned %p with index code %d", w->id, (void *)b, idx);
        return -1;
    }
    if (!__atomic_compare_exchange_n(&sh->owner[idx], &expect, w->id + 1u, 0, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
        FAIL(w, "thread %u: buffer %d handed out while thread %u holds it", w->id, idx, expect - 1u);
        return -1;
    }
    stamp(b, sh->size, w->id, seq);
    h->buf = b;
    h->seq = seq;
    return 1;
}

static int give_one(stress_worker *w, held_t *h) {
    shared_t *sh = w->sh;
    int idx = zenith_pool_index(sh->pool, h->buf), rc;
    uint32_t expect = w->id + 1u;
    if (!stamp_ok(h->buf, sh->size, w->id, h->seq)) {
        FAIL(w, "thread %u: buffer %d was written by someone else while held", w->id, idx);
        return -1;
    }
    if (!__atomic_compare_exchange_n(&sh->owner[idx], &expect, 0u, 0, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
        FAIL(w, "thread %u: buffer %d owned by %u at release", w->id, idx, expect);
        return -1;
    }
    rc = (w->api == 1 || (w->api == 2 && !(h->seq & 1))) ? zenith_pool_release_inline(sh->pool, h->buf)
                                                         : zenith_pool_release(sh->pool, h->buf);
    if (rc != 0) {
        FAIL(w, "thread %u: release of buffer %d: %s", w->id, idx, zenith_errname(rc));
        return -1;
    }
    w->releases++;
    return 0;
}

static void *stress_thread(void *v) {
    stress_worker *w = v;
    held_t *held = calloc(w->max_hold, sizeof(held_t));
    uint32_t n = 0;
    uint64_t rng = 0x9e3779b97f4a7c15ull * (w->id + 1u), seq = 0;
    long op;
    if (held == NULL) {
        FAIL(w, "calloc");
        return NULL;
    }
    pthread_barrier_wait(w->start);
    for (op = 0; (op < w->ops || (w->keep_going && __atomic_load_n(w->keep_going, __ATOMIC_ACQUIRE))) && !w->err;
         op++) {
        uint64_t r = xorshift(&rng);
        /* random walk of the number held, biased towards the middle of 0..max_hold */
        int acquire = n == 0 || (n < w->max_hold && (r % (w->max_hold + 1u)) >= n);
        if (acquire) {
            int rc = take_one(w, &held[n], ++seq);
            if (rc < 0) break;
            if (rc > 0)
                n++;
            else if (n > 0) { /* pool empty for us: give one back instead */
                uint32_t j = (uint32_t)((r >> 32) % n);
                if (give_one(w, &held[j]) < 0) break;
                held[j] = held[--n];
                op++;
            } else
                sched_yield();
        } else {
            uint32_t j = (uint32_t)((r >> 32) % n);
            if (give_one(w, &held[j]) < 0) break;
            held[j] = held[--n];
        }
        if ((op & 8191) == 8191) {
            int f = zenith_pool_flush(w->sh->pool);
            if (f < 0) FAIL(w, "flush: %s", zenith_errname(f));
            w->flushed_calls++;
        }
    }
    while (n > 0 && !w->err)
        if (give_one(w, &held[--n]) < 0) break;
    free(held);
    return NULL;
}

static void stress(uint32_t count, uint32_t cache, uint32_t flags, size_t size, int api) {
    static const uint32_t hold[THREADS] = { 1, 2, 3, 8, 16, 33, 64, 100 };
    long total = env_long("ZENITH_STRESS_OPS", 1000000, 1000000);
    zenith_pool *p = mkpool(size, count, cache, flags);
    shared_t sh = { p, calloc(count, sizeof(uint32_t)), count, size };
    stress_worker w[THREADS];
    pthread_t t[THREADS];
    pthread_barrier_t start;
    uint64_t acq = 0, rel = 0, failed = 0, ops = 0;
    zenith_pool_stats s;
    double t0;
    int i;
    uint32_t k;
    cr_assert_not_null(sh.owner);
    cr_assert_eq(pthread_barrier_init(&start, NULL, THREADS + 1), 0);
    for (i = 0; i < THREADS; i++) {
        memset(&w[i], 0, sizeof w[i]);
        w[i].sh = &sh;
        w[i].id = (uint32_t)i;
        w[i].max_hold = hold[i];
        w[i].api = api;
        w[i].ops = (total + THREADS - 1) / THREADS;
        w[i].start = &start;
        cr_assert_eq(pthread_create(&t[i], NULL, stress_thread, &w[i]), 0);
    }
    t0 = now_s();
    pthread_barrier_wait(&start);
    for (i = 0; i < THREADS; i++) cr_assert_eq(pthread_join(t[i], NULL), 0);
    for (i = 0; i < THREADS; i++) {
        cr_assert_eq(w[i].err, 0, "%s", w[i].msg);
        acq += w[i].acquires;
        rel += w[i].releases;
        failed += w[i].failed;
    }
    ops = acq + rel + failed;
    cr_log_info("stress %u x %zu B, cache %u, flags %#x: %llu ops (%llu acquires, %llu failed) in %.2f s", count, size,
                cache, flags, (unsigned long long)ops, (unsigned long long)acq, (unsigned long long)failed,
                now_s() - t0);
    cr_assert_geq(ops, 1000000, "only %llu operations", (unsigned long long)ops);
    cr_assert_eq(acq, rel);
    for (k = 0; k < count; k++) cr_assert_eq(sh.owner[k], 0, "buffer %u still owned", k);
    s = stats_of(p);
    cr_assert_eq(s.in_use, 0);
    cr_assert_eq(s.free, count);
    cr_assert_eq(s.acquires, acq, "stats acquires %llu, threads counted %llu", (unsigned long long)s.acquires,
                 (unsigned long long)acq);
    cr_assert_eq(s.releases, rel);
    cr_assert_eq(s.failed_acquires, failed);
    cr_assert_eq(s.rejected_releases, 0);
    acquire_all_exactly_once(p);
    pthread_barrier_destroy(&start);
    free(sh.owner);
    zenith_pool_destroy(p);
}

/* room for every cache and every holding: acquires should not fail */
Test(pool_threads, stress_8_threads_cached, .timeout = 10) { stress(4096, 128, 0, 64, 0); }
/* fewer buffers than the threads could park and hold: exhaustion, refills, flushes all the time */
Test(pool_threads, stress_8_threads_cached_tight, .timeout = 10) { stress(160, 16, 0, 64, 0); }
Test(pool_threads, stress_8_threads_cached_192, .timeout = 10) { stress(2048, 0, 0, 192, 0); }
Test(pool_threads, stress_8_threads_no_cache, .timeout = 10) { stress(1024, 0, ZENITH_POOL_NO_CACHE, 64, 0); }
Test(pool_threads, stress_8_threads_no_cache_tight, .timeout = 10) { stress(120, 0, ZENITH_POOL_NO_CACHE, 64, 0); }
/* the header-inline twins, alone and mixed call by call with the exported functions */
Test(pool_threads, stress_8_threads_inline, .timeout = 10) { stress(160, 16, 0, 64, 1); }
Test(pool_threads, stress_8_threads_mixed_apis, .timeout = 10) { stress(4096, 64, 0, 64, 2); }
Test(pool_threads, stress_8_threads_mixed_apis_no_cache, .timeout = 10) { stress(120, 0, ZENITH_POOL_NO_CACHE, 64, 2); }

/* ---- hand-off: acquired on one thread, released on another --------------------------------------- */

#define QCAP 128
typedef struct {
    pthread_mutex_t mu;
    pthread_cond_t not_empty, not_full;
    void *items[QCAP];
    unsigned head, len;
} queue_t;

static void q_init(queue_t *q) {
    memset(q, 0, sizeof *q);
    pthread_mutex_init(&q->mu, NULL);
    pthread_cond_init(&q->not_empty, NULL);
    pthread_cond_init(&q->not_full, NULL);
}

static void q_destroy(queue_t *q) {
    pthread_mutex_destroy(&q->mu);
    pthread_cond_destroy(&q->not_empty);
    pthread_cond_destroy(&q->not_full);
}

static void q_push(queue_t *q, void *item) {
    pthread_mutex_lock(&q->mu);
    while (q->len == QCAP) pthread_cond_wait(&q->not_full, &q->mu);
    q->items[(q->head + q->len++) % QCAP] = item;
    pthread_cond_signal(&q->not_empty);
    pthread_mutex_unlock(&q->mu);
}

static void *q_pop(queue_t *q) {
    void *item;
    pthread_mutex_lock(&q->mu);
    while (q->len == 0) pthread_cond_wait(&q->not_empty, &q->mu);
    item = q->items[q->head];
    q->head = (q->head + 1) % QCAP;
    q->len--;
    pthread_cond_signal(&q->not_full);
    pthread_mutex_unlock(&q->mu);
    return item;
}

#define PRODUCERS 2
#define CONSUMERS 2
#define BATCH 8

typedef struct {
    shared_t *sh;
    queue_t *q;
    uint32_t id;
    long items;
    int bulk;
    uint64_t done, retries;
    uint64_t last_seq[PRODUCERS];
    int err;
    char msg[256];
} handoff_worker;

/* the payload of a handed-off buffer */
typedef struct {
    uint32_t magic, producer;
    uint64_t seq;
} msg_t;

static int hand_acquire(handoff_worker *w, void **bufs, unsigned n) {
    double deadline = 0;
    for (;;) {
        if (w->bulk) {
            int rc = zenith_pool_acquire_bulk(w->sh->pool, bufs, n);
            if (rc == (int)n) return 0;
            if (rc != ZENITH_E_FULL) {
                FAIL(w, "producer %u: acquire_bulk: %d %s", w->id, rc, zenith_errname(rc));
                return -1;
            }
        } else if ((bufs[0] = zenith_pool_acquire(w->sh->pool)) != NULL)
            return 0;
        /* consumers' caches may hold buffers for a moment: retry, but do not hang */
        w->retries++;
        if (deadline == 0)
            deadline = now_s() + 5.0;
        else if (now_s() > deadline) {
            FAIL(w, "producer %u: pool starved for 5 s (buffers lost?)", w->id);
            return -1;
        }
        sched_yield();
    }
}

static void *producer_thread(void *v) {
    handoff_worker *w = v;
    unsigned n = w->bulk ? BATCH : 1;
    long i = 0;
    while (i < w->items && !w->err) {
        void *bufs[BATCH];
        unsigned k;
        if (hand_acquire(w, bufs, n) < 0) break;
        for (k = 0; k < n; k++) {
            msg_t m = { 0xfeedf00du, w->id, (uint64_t)i + k + 1 };
            int idx = zenith_pool_index(w->sh->pool, bufs[k]);
            uint32_t expect = 0;
            if (idx < 0)
                FAIL(w, "producer %u: index %d", w->id, idx);
            else if (!__atomic_compare_exchange_n(&w->sh->owner[idx], &expect, 1u, 0, __ATOMIC_ACQ_REL,
                                                  __ATOMIC_ACQUIRE))
                FAIL(w, "producer %u: buffer %d handed out while in flight", w->id, idx);
            memset(bufs[k], 0x77, w->sh->size);
            memcpy(bufs[k], &m, sizeof m);
            q_push(w->q, bufs[k]);
        }
        i += n;
        w->done += n;
    }
    return NULL;
}

static int check_msg(handoff_worker *w, void *b) {
    msg_t m;
    const unsigned char *bytes = b;
    int idx = zenith_pool_index(w->sh->pool, b);
    uint32_t expect = 1;
    size_t k;
    memcpy(&m, b, sizeof m);
    if (idx < 0) {
        FAIL(w, "consumer %u: got %p, index %d", w->id, b, idx);
        return -1;
    }
    if (m.magic != 0xfeedf00du || m.producer >= PRODUCERS) {
        FAIL(w, "consumer %u: buffer %d has a corrupt stamp", w->id, idx);
        return -1;
    }
    if (m.seq <= w->last_seq[m.producer]) {
        FAIL(w, "consumer %u: producer %u seq %llu after %llu", w->id, m.producer, (unsigned long long)m.seq,
             (unsigned long long)w->last_seq[m.producer]);
        return -1;
    }
    w->last_seq[m.producer] = m.seq;
    for (k = sizeof m; k < w->sh->size; k++)
        if (bytes[k] != 0x77) {
            FAIL(w, "consumer %u: buffer %d byte %zu overwritten in flight", w->id, idx, k);
            return -1;
        }
    if (!__atomic_compare_exchange_n(&w->sh->owner[idx], &expect, 0u, 0, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
        FAIL(w, "consumer %u: buffer %d not in flight", w->id, idx);
        return -1;
    }
    return 0;
}

static void *consumer_thread(void *v) {
    handoff_worker *w = v;
    void *batch[BATCH];
    unsigned nb = 0, k;
    for (;;) {
        void *b = q_pop(w->q);
        if (b == NULL) break; /* poison pill */
        if (check_msg(w, b) < 0) continue;
        if (!w->bulk) {
            int rc = zenith_pool_release(w->sh->pool, b);
            if (rc != 0)
                FAIL(w, "consumer %u: release: %s", w->id, zenith_errname(rc));
            else
                w->done++;
            continue;
        }
        batch[nb++] = b;
        if (nb == BATCH) {
            int rc = zenith_pool_release_bulk(w->sh->pool, batch, nb);
            if (rc != (int)nb)
                FAIL(w, "consumer %u: release_bulk: %d %s", w->id, rc, zenith_errname(rc));
            else
                w->done += nb;
            nb = 0;
        }
    }
    for (k = 0; k < nb; k++) {
        int rc = zenith_pool_release(w->sh->pool, batch[k]);
        if (rc != 0)
            FAIL(w, "consumer %u: release: %s", w->id, zenith_errname(rc));
        else
            w->done++;
    }
    return NULL;
}

static void handoff(uint32_t flags, int bulk) {
    enum { COUNT = 1024 };
    long items = env_long("ZENITH_HANDOFF_ITEMS", 100000, 1000);
    zenith_pool *p = mkpool(256, COUNT, 64, flags);
    shared_t sh = { p, calloc(COUNT, sizeof(uint32_t)), COUNT, 256 };
    queue_t q;
    handoff_worker prod[PRODUCERS], cons[CONSUMERS];
    pthread_t tp[PRODUCERS], tc[CONSUMERS];
    uint64_t produced = 0, consumed = 0, retries = 0;
    zenith_pool_stats s;
    double t0 = now_s();
    int i;
    cr_assert_not_null(sh.owner);
    q_init(&q);
    for (i = 0; i < CONSUMERS; i++) {
        memset(&cons[i], 0, sizeof cons[i]);
        cons[i].sh = &sh;
        cons[i].q = &q;
        cons[i].id = (uint32_t)i;
        cons[i].bulk = bulk;
        cr_assert_eq(pthread_create(&tc[i], NULL, consumer_thread, &cons[i]), 0);
    }
    for (i = 0; i < PRODUCERS; i++) {
        memset(&prod[i], 0, sizeof prod[i]);
        prod[i].sh = &sh;
        prod[i].q = &q;
        prod[i].id = (uint32_t)i;
        prod[i].items = (items / PRODUCERS + BATCH - 1) / BATCH * BATCH;
        prod[i].bulk = bulk;
        cr_assert_eq(pthread_create(&tp[i], NULL, producer_thread, &prod[i]), 0);
    }
    for (i = 0; i < PRODUCERS; i++) cr_assert_eq(pthread_join(tp[i], NULL), 0);
    for (i = 0; i < CONSUMERS; i++) q_push(&q, NULL);
    for (i = 0; i < CONSUMERS; i++) cr_assert_eq(pthread_join(tc[i], NULL), 0);
    for (i = 0; i < PRODUCERS; i++) {
        cr_assert_eq(prod[i].err, 0, "%s", prod[i].msg);
        cr_assert_eq(prod[i].done, (uint64_t)prod[i].items);
        produced += prod[i].done;
        retries += prod[i].retries;
    }
    for (i = 0; i < CONSUMERS; i++) {
        cr_assert_eq(cons[i].err, 0, "%s", cons[i].msg);
        consumed += cons[i].done;
    }
    cr_log_info("handoff flags %#x bulk %d: %llu buffers, %llu producer retries, %.2f s", flags, bulk,
                (unsigned long long)produced, (unsigned long long)retries, now_s() - t0);
    cr_assert_eq(consumed, produced, "produced %llu, released %llu", (unsigned long long)produced,
                 (unsigned long long)consumed);
    for (i = 0; i < COUNT; i++) cr_assert_eq(sh.owner[i], 0);
    s = stats_of(p);
    cr_assert_eq(s.in_use, 0, "in_use %llu after the hand-off", (unsigned long long)s.in_use);
    cr_assert_eq(s.acquires, produced);
    cr_assert_eq(s.releases, produced);
    cr_assert_eq(s.rejected_releases, 0);
    acquire_all_exactly_once(p);
    q_destroy(&q);
    free(sh.owner);
    zenith_pool_destroy(p);
}

Test(pool_threads, handoff_cross_thread, .timeout = 10) { handoff(0, 0); }
Test(pool_threads, handoff_cross_thread_bulk, .timeout = 10) { handoff(0, 1); }
Test(pool_threads, handoff_cross_thread_no_cache, .timeout = 10) { handoff(ZENITH_POOL_NO_CACHE, 0); }
Test(pool_threads, handoff_cross_thread_bulk_no_cache, .timeout = 10) { handoff(ZENITH_POOL_NO_CACHE, 1); }

/* ---- concurrent get_stats / get_info ----------------------------------------------------------- */

typedef struct {
    zenith_pool *pool;
    const int *stop;
    uint32_t count, bound; /* in_use can never exceed what the workers hold at most */
    uint64_t snapshots;
    /* violations seen: counted, with the first example, so one run shows the whole picture */
    uint64_t backwards, over, above_bound, other;
    char first_backwards[160], first_over[160], first_above[160];
    int err;
    char msg[256];
} reader_t;

/* Each counter is a sum of per-thread event counters ("exact when nothing is in flight, a close
   snapshot otherwise"): a later snapshot by the same reader can never show fewer events than an
   earlier one (per-location coherence). On x86 (TSO), where the reads are not reordered, a
   snapshot cannot count more releases than the next snapshot counts acquires (every release
   here follows its acquire on the same thread), and in_use can never exceed what the workers
   hold at most. */
static void *stats_reader(void *v) {
    reader_t *r = v;
    zenith_pool_stats prev, s;
    zenith_pool_info inf0, inf;
    memset(&prev, 0, sizeof prev);
    if (zenith_pool_get_info(r->pool, &inf0) != 0) FAIL(r, "get_info");
    while (!__atomic_load_n(r->stop, __ATOMIC_ACQUIRE) && !r->err) {
        if (zenith_pool_get_stats(r->pool, &s) != 0) {
            FAIL(r, "get_stats failed");
            break;
        }
        __atomic_store_n(&r->snapshots, r->snapshots + 1, __ATOMIC_RELAXED);
        if (s.total != r->count || s.in_use > s.total || s.free != s.total - s.in_use || s.rejected_releases != 0) {
            if (!r->other++)
                FAIL(r, "total %llu in_use %llu free %llu rejected %llu", (unsigned long long)s.total,
                     (unsigned long long)s.in_use, (unsigned long long)s.free, (unsigned long long)s.rejected_releases);
        }
        if (s.acquires < prev.acquires || s.releases < prev.releases || s.failed_acquires < prev.failed_acquires) {
            if (!r->backwards++)
                snprintf(r->first_backwards, sizeof r->first_backwards, "acquires %llu -> %llu, releases %llu -> %llu",
                         (unsigned long long)prev.acquires, (unsigned long long)s.acquires,
                         (unsigned long long)prev.releases, (unsigned long long)s.releases);
        }
#if defined(__x86_64__) || defined(__i386__)
        if (r->snapshots > 1 && prev.releases > s.acquires) {
            if (!r->over++)
                snprintf(r->first_over, sizeof r->first_over,
                         "a snapshot counted %llu releases, the next one only %llu acquires",
                         (unsigned long long)prev.releases, (unsigned long long)s.acquires);
        }
        if (s.in_use > r->bound) {
            if (!r->above_bound++)
                snprintf(r->first_above, sizeof r->first_above, "in_use %llu, workers hold at most %u",
                         (unsigned long long)s.in_use, r->bound);
        }
#endif
        prev = s;
        if (zenith_pool_get_info(r->pool, &inf) != 0 || inf.base != inf0.base || inf.buffer_count != r->count ||
            inf.buffer_size != inf0.buffer_size || inf.cache_size != inf0.cache_size)
            FAIL(r, "get_info changed under load");
    }
    return NULL;
}

static void concurrent_stats(uint32_t flags) {
    enum { WORKERS = 6, READERS = 2, COUNT = 2048 };
    static const uint32_t hold[WORKERS] = { 1, 4, 16, 32, 64, 128 };
    long ops = env_long("ZENITH_STRESS_OPS", 1000000, 1000000) / 2;
    zenith_pool *p = mkpool(64, COUNT, 8, flags); /* small cache: many refills and flushes */
    shared_t sh = { p, calloc(COUNT, sizeof(uint32_t)), COUNT, 64 };
    stress_worker w[WORKERS];
    reader_t r[READERS];
    pthread_t tw[WORKERS], tr[READERS];
    pthread_barrier_t start;
    int stop = 0, keep_going = 1, i;
    uint32_t bound = 0;
    uint64_t acq = 0, rel = 0, failed = 0;
    zenith_pool_stats s;
    double t0;
    cr_assert_not_null(sh.owner);
    cr_assert_eq(pthread_barrier_init(&start, NULL, WORKERS + 1), 0);
    for (i = 0; i < WORKERS; i++) bound += hold[i];
    for (i = 0; i < READERS; i++) {
        memset(&r[i], 0, sizeof r[i]);
        r[i].pool = p;
        r[i].stop = &stop;
        r[i].count = COUNT;
        r[i].bound = bound;
        cr_assert_eq(pthread_create(&tr[i], NULL, stats_reader, &r[i]), 0);
    }
    for (i = 0; i < WORKERS; i++) {
        memset(&w[i], 0, sizeof w[i]);
        w[i].sh = &sh;
        w[i].id = (uint32_t)i;
        w[i].max_hold = hold[i];
        w[i].ops = ops / WORKERS;
        w[i].keep_going = &keep_going;
        w[i].start = &start;
        cr_assert_eq(pthread_create(&tw[i], NULL, stress_thread, &w[i]), 0);
    }
    pthread_barrier_wait(&start);
    /* keep the workers going until the readers have taken enough snapshots (at most 3 s) */
    t0 = now_s();
    while (now_s() - t0 < 3.0) {
        uint64_t n = 0;
        for (i = 0; i < READERS; i++) n += __atomic_load_n(&r[i].snapshots, __ATOMIC_RELAXED);
        if (n >= 150000) break;
        usleep(2000);
    }
    __atomic_store_n(&keep_going, 0, __ATOMIC_RELEASE);
    for (i = 0; i < WORKERS; i++) cr_assert_eq(pthread_join(tw[i], NULL), 0);
    __atomic_store_n(&stop, 1, __ATOMIC_RELEASE);
    for (i = 0; i < READERS; i++) cr_assert_eq(pthread_join(tr[i], NULL), 0);
    for (i = 0; i < WORKERS; i++) {
        cr_assert_eq(w[i].err, 0, "%s", w[i].msg);
        acq += w[i].acquires;
        rel += w[i].releases;
        failed += w[i].failed;
    }
    for (i = 0; i < READERS; i++) {
        cr_assert_eq(r[i].err, 0, "%s", r[i].msg);
        cr_assert_gt(r[i].snapshots, 0);
        cr_expect_eq(r[i].over, 0,
                     "reader %d: %llu of %llu snapshots count more releases than acquires; "
                     "first: %s",
                     i, (unsigned long long)r[i].over, (unsigned long long)r[i].snapshots, r[i].first_over);
        cr_expect_eq(r[i].backwards, 0, "reader %d: %llu of %llu snapshots went backwards; first: %s", i,
                     (unsigned long long)r[i].backwards, (unsigned long long)r[i].snapshots, r[i].first_backwards);
        cr_expect_eq(r[i].above_bound, 0, "reader %d: %llu of %llu snapshots with in_use above the bound; first: %s", i,
                     (unsigned long long)r[i].above_bound, (unsigned long long)r[i].snapshots, r[i].first_above);
    }
    cr_log_info("concurrent stats flags %#x: %llu + %llu snapshots", flags, (unsigned long long)r[0].snapshots,
                (unsigned long long)r[1].snapshots);
    s = stats_of(p);
    cr_assert_eq(s.in_use, 0);
    cr_assert_eq(s.acquires, acq);
    cr_assert_eq(s.releases, rel);
    cr_assert_eq(s.failed_acquires, failed);
    acquire_all_exactly_once(p);
    pthread_barrier_destroy(&start);
    free(sh.owner);
    zenith_pool_destroy(p);
}

Test(pool_threads, concurrent_get_stats, .timeout = 10) { concurrent_stats(0); }
Test(pool_threads, concurrent_get_stats_no_cache, .timeout = 10) { concurrent_stats(ZENITH_POOL_NO_CACHE); }

/* ---- thread churn: slots recycled while other threads run, more threads than slots ------------- */

typedef struct {
    shared_t *sh;
    uint32_t id;
    int rounds;
    pthread_barrier_t *all_alive; /* nullable */
    int err;
    char msg[256];
} churn_t;

static void *churn_thread(void *v) {
    churn_t *c = v;
    stress_worker w;
    pthread_barrier_t one;
    memset(&w, 0, sizeof w);
    w.sh = c->sh;
    w.id = c->id;
    w.max_hold = 4;
    w.ops = c->rounds;
    pthread_barrier_init(&one, NULL, 1);
    w.start = &one;
    if (c->all_alive) pthread_barrier_wait(c->all_alive); /* every thread exists at once */
    stress_thread(&w);
    pthread_barrier_destroy(&one);
    if (w.err) {
        c->err = 1;
        memcpy(c->msg, w.msg, sizeof c->msg);
    }
    return NULL;
}

static void many_threads(uint32_t flags, int nthreads, int waves, int all_at_once) {
    enum { COUNT = 4096 };
    zenith_pool *p = mkpool(64, COUNT, 16, flags);
    shared_t sh = { p, calloc(COUNT, sizeof(uint32_t)), COUNT, 64 };
    churn_t *c = calloc((size_t)nthreads, sizeof(churn_t));
    pthread_t *t = calloc((size_t)nthreads, sizeof(pthread_t));
    pthread_barrier_t alive;
    zenith_pool_stats s;
    int wave, i;
    cr_assert(sh.owner && c && t);
    if (all_at_once) cr_assert_eq(pthread_barrier_init(&alive, NULL, (unsigned)nthreads), 0);
    for (wave = 0; wave < waves; wave++) {
        for (i = 0; i < nthreads; i++) {
            memset(&c[i], 0, sizeof c[i]);
            c[i].sh = &sh;
            c[i].id = (uint32_t)(wave * nthreads + i);
            c[i].rounds = 400;
            c[i].all_alive = all_at_once ? &alive : NULL;
            cr_assert_eq(pthread_create(&t[i], NULL, churn_thread, &c[i]), 0);
        }
        /* other pools come and go (the process-wide pool list) while threads exit */
        for (i = 0; i < 20; i++) {
            zenith_pool *tmp = mkpool(64, 64, 0, 0);
            void *b = zenith_pool_acquire(tmp);
            cr_assert_not_null(b);
            cr_assert_eq(zenith_pool_release(tmp, b), 0);
            zenith_pool_destroy(tmp);
        }
        for (i = 0; i < nthreads; i++) {
            cr_assert_eq(pthread_join(t[i], NULL), 0);
            cr_assert_eq(c[i].err, 0, "%s", c[i].msg);
        }
    }
    s = stats_of(p);
    cr_assert_eq(s.in_use, 0);
    cr_assert_eq(s.acquires, s.releases);
    cr_assert_eq(s.rejected_releases, 0);
    for (i = 0; i < COUNT; i++) cr_assert_eq(sh.owner[i], 0);
    acquire_all_exactly_once(p); /* every exited thread's cache came back */
    if (all_at_once) pthread_barrier_destroy(&alive);
    free(c);
    free(t);
    free(sh.owner);
    zenith_pool_destroy(p);
}

/* 8 at a time, 16 waves: 128 threads over time, slots recycled while others still run */
Test(pool_threads, thread_churn_slots_recycled, .timeout = 10) { many_threads(0, THREADS, 16, 0); }
/* 72 threads alive at once: more than ZENITH_POOL_MAX_THREADS (64), the rest go uncached */
Test(pool_threads, more_threads_than_cache_slots, .timeout = 10) { many_threads(0, 72, 1, 1); }
Test(pool_threads, thread_churn_no_cache, .timeout = 10) { many_threads(ZENITH_POOL_NO_CACHE, THREADS, 16, 0); }
