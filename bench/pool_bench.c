/* pool_bench.c -- zenith_pool against other pools and allocators, side by side, 4 KiB buffers.

   Rows (one program, one run):
     1  one thread: acquire + release pair                          ns per pair
     2  one thread: burst of 64 acquires, then 64 releases          ns per operation
     3  two threads doing pairs on ONE shared pool                  M pairs/s, both threads together
     4  producer thread -> SPSC ring -> consumer thread releases    ns per buffer
   Columns: zenith (exported functions, called), zen-inline (the header's inline fast path, when
   zenith.h has one), zen-nocache (ZENITH_POOL_NO_CACHE), DPDK rte_mempool with its per-lcore cache
   (-DZENITH_BENCH_DPDK), mimalloc (-DZENITH_BENCH_MIMALLOC), glibc malloc/free, and a
   mutex-protected free list (always built: the reference when DPDK is absent).

   Method: each cell is calibrated to about --ms milliseconds per repetition and repeated --reps
   times (default 11 x 40 ms; --quick or ZENITH_BENCH_QUICK=1: 5 x 4 ms). Repetitions of the
   contenders are interleaved (rep 1 of each, then rep 2 of each, ...) so that the machine's noise
   spreads over all of them. Printed: median and best, ratios to zenith, the project's targets.
   Every repetition runs in fresh threads pinned to the first two CPUs of the process's affinity
   set (failure to pin is ignored); a warm-up precedes the timed part. Timing: CLOCK_MONOTONIC.

   Build (from the repository root; `make bench-build` does the second when the packages exist):
     gcc -O2 -g -std=c11 -Wall -Wextra -Wpedantic -Werror -I. bench/pool_bench.c \
         -o build/pool_bench -luring -pthread
     gcc -O2 -g -std=gnu11 -Wall -Wextra -Wpedantic -Werror -I. -DZENITH_BENCH_DPDK \
         -DZENITH_BENCH_MIMALLOC bench/pool_bench.c -o build/pool_bench \
         $(pkg-config --cflags --libs libdpdk) -lmimalloc -luring -pthread
   (DPDK's headers need -std=gnu11.) Run: build/pool_bench --help.

   DPDK: rte_eal_init with --no-huge --no-pci -l <cpu0>,<cpu1> -m 256 --no-shconf --no-telemetry
   --log-level=1 (no hugepages needed), then rte_mempool_create(8191 x 4096 B, cache 256, flags 0:
   ring_mp_mc). The benchmark threads call rte_thread_register(), so each has an lcore id and
   thus a per-lcore cache. If EAL cannot start, the DPDK column is left out and a note says why.

   mimalloc: Debian's libmimalloc.so overrides malloc/free (even __libc_malloc) for the whole
   process once linked, so the glibc column calls the malloc/free that dlsym() finds in libc.so.6
   itself; the header line of the output names the library they were resolved in. */
#define ZENITH_IMPLEMENTATION
#include "zenith.h"

#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#ifdef ZENITH_BENCH_MIMALLOC
#include <mimalloc.h>
#endif

#ifdef ZENITH_BENCH_DPDK
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wpedantic"
#pragma GCC diagnostic ignored "-Wcast-align"
#pragma GCC diagnostic ignored "-Wsign-compare"
#pragma GCC diagnostic ignored "-Wunused-parameter"
#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_lcore.h>
#include <rte_mempool.h>
#pragma GCC diagnostic pop
#endif

#define BUF_SIZE 4096u
#define POOL_COUNT 8192u /* buffers per pool (DPDK: POOL_COUNT - 1, the ring-friendly 2^n - 1) */
#define BURST 64
#define RING_SIZE 1024u  /* SPSC ring slots, power of two */
#define MAX_CONTENDERS 8 /* zenith, inline, no-cache, DPDK, mimalloc, glibc, mutex list */
#define NROWS 4

#define UNLIKELY(x) __builtin_expect(!!(x), 0)
/* Keeps p (and everything before it) alive without emitting an instruction. */
#define SINK(p) __asm__ volatile("" : : "r"(p) : "memory")

static inline void cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#else
    __asm__ volatile("" ::: "memory");
#endif
}

static double now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

/* "0.12 0.30 0.25" from /proc/loadavg: a busy machine explains a noisy table. */
static const char *loadavg(char *buf, size_t len) {
    FILE *f = fopen("/proc/loadavg", "r");
    snprintf(buf, len, "?");
    if (f) {
        double a, b, c;
        if (fscanf(f, "%lf %lf %lf", &a, &b, &c) == 3) snprintf(buf, len, "%.2f %.2f %.2f", a, b, c);
        fclose(f);
    }
    return buf;
}

/* CPU time of the whole machine (/proc/stat) and of this process, to tell how much of the two
   CPUs other processes (or the hypervisor: steal) took while a row ran. */
typedef struct cpusnap {
    double busy, steal, own, wall; /* seconds */
} cpusnap;

static void cpu_snap(cpusnap *s) {
    FILE *f = fopen("/proc/stat", "r");
    unsigned long long v[8] = { 0 };
    struct timespec ts;
    double hz = (double)sysconf(_SC_CLK_TCK);
    memset(s, 0, sizeof(*s));
    if (f) {
        if (fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2], &v[3], &v[4], &v[5], &v[6],
                   &v[7]) == 8) {
            s->busy = (double)(v[0] + v[1] + v[2] + v[5] + v[6]) / hz; /* user nice system irq softirq */
            s->steal = (double)v[7] / hz;
        }
        fclose(f);
    }
    if (clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts) == 0) s->own = (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
    s->wall = now_ns() * 1e-9;
}

static void die(const char *what) {
    fprintf(stderr, "pool_bench: %s\n", what);
    exit(1);
}

/* ---- SPSC ring of pointers -------------------------------------------------------------------
   Lamport ring with cached opposite index and batched index publication (MCRingBuffer style):
   each side publishes its index every RING_BATCH items, so the two index lines cross between
   the cores once per RING_BATCH buffers instead of once per buffer; the slots themselves
   cross once per 8 pointers (a cache line). The producer calls spsc_flush() when done.
   No deadlock as long as RING_SIZE >= 2 * RING_BATCH. */

#define RING_BATCH 32u

typedef struct spsc {
    _Alignas(64) size_t tail;   /* published by the producer: slots [.., tail) are filled */
    _Alignas(64) size_t head;   /* published by the consumer: slots [.., head) are free */
    _Alignas(64) size_t p_next; /* producer private: next slot to fill */
    size_t p_pub;               /* last tail published */
    size_t p_head_seen;         /* last head read */
    _Alignas(64) size_t c_next; /* consumer private: next slot to read */
    size_t c_pub;               /* last head published */
    size_t c_tail_seen;         /* last tail read */
    _Alignas(64) void *slot[RING_SIZE];
} spsc;

static inline void spsc_push(spsc *r, void *p) {
    size_t t = r->p_next;
    if (UNLIKELY(t - r->p_head_seen == RING_SIZE)) {
        for (;;) {
            r->p_head_seen = __atomic_load_n(&r->head, __ATOMIC_ACQUIRE);
            if (t - r->p_head_seen != RING_SIZE) break;
            cpu_relax();
        }
    }
    r->slot[t & (RING_SIZE - 1u)] = p;
    r->p_next = ++t;
    if (t - r->p_pub >= RING_BATCH) {
        __atomic_store_n(&r->tail, t, __ATOMIC_RELEASE);
        r->p_pub = t;
    }
}

static inline void spsc_flush(spsc *r) {
    __atomic_store_n(&r->tail, r->p_next, __ATOMIC_RELEASE);
    r->p_pub = r->p_next;
}

static inline void *spsc_pop(spsc *r) {
    size_t h = r->c_next;
    void *p;
    if (UNLIKELY(h == r->c_tail_seen)) {
        for (;;) {
            r->c_tail_seen = __atomic_load_n(&r->tail, __ATOMIC_ACQUIRE);
            if (r->c_tail_seen != h) break;
            cpu_relax();
        }
    }
    p = r->slot[h & (RING_SIZE - 1u)];
    r->c_next = ++h;
    if (h - r->c_pub >= RING_BATCH) {
        __atomic_store_n(&r->head, h, __ATOMIC_RELEASE);
        r->c_pub = h;
    }
    return p;
}

/* ---- kernels, instantiated per contender with direct calls ---------------------------------- */

typedef struct contender {
    const char *name;
    const char *desc;
    void *ctx;
    void (*thread_init)(void *ctx);
    void (*thread_fini)(void *ctx);
    int (*pair)(void *ctx, long n);  /* n acquire+release pairs; 0 or -1 on a failed op */
    int (*burst)(void *ctx, long n); /* n bursts of BURST acquires then BURST releases */
    int (*produce)(void *ctx, spsc *r, long n);
    int (*consume)(void *ctx, spsc *r, long n);
    void (*report)(void *ctx, FILE *out); /* optional sanity line after the run */
} contender;

static void bad_acquire(const char *who) {
    fprintf(stderr, "pool_bench: %s: acquire returned NULL\n", who);
    exit(1);
}

/* ACQ(ctx) -> void *, REL(ctx, p) -> int (0 = ok). */
#define DEFINE_KERNELS(tag, ACQ, REL)                                                         \
    static int tag##_pair(void *ctx, long n) {                                                \
        int bad = 0;                                                                          \
        long i;                                                                               \
        for (i = 0; i < n; i++) {                                                             \
            void *p = ACQ(ctx);                                                               \
            if (UNLIKELY(p == NULL)) bad_acquire(#tag);                                       \
            SINK(p);                                                                          \
            bad |= REL(ctx, p);                                                               \
        }                                                                                     \
        return bad ? -1 : 0;                                                                  \
    }                                                                                         \
    static int tag##_burst(void *ctx, long n) {                                               \
        void *b[BURST];                                                                       \
        int bad = 0, j;                                                                       \
        long i;                                                                               \
        for (i = 0; i < n; i++) {                                                             \
            for (j = 0; j < BURST; j++) {                                                     \
                b[j] = ACQ(ctx);                                                              \
                if (UNLIKELY(b[j] == NULL)) bad_acquire(#tag);                                \
            }                                                                                 \
            SINK(b);                                                                          \
            for (j = 0; j < BURST; j++) bad |= REL(ctx, b[j]);                                \
        }                                                                                     \
        return bad ? -1 : 0;                                                                  \
    }                                                                                         \
    static int tag##_produce(void *ctx, spsc *r, long n) {                                    \
        long i, spins = 0;                                                                    \
        for (i = 0; i < n; i++) {                                                             \
            void *p = ACQ(ctx);                                                               \
            while (UNLIKELY(p == NULL)) { /* pool momentarily empty: wait for the consumer */ \
                if (++spins > 100000000L) bad_acquire(#tag);                                  \
                cpu_relax();                                                                  \
                p = ACQ(ctx);                                                                 \
            }                                                                                 \
            spsc_push(r, p);                                                                  \
        }                                                                                     \
        spsc_flush(r);                                                                        \
        return 0;                                                                             \
    }                                                                                         \
    static int tag##_consume(void *ctx, spsc *r, long n) {                                    \
        int bad = 0;                                                                          \
        long i;                                                                               \
        for (i = 0; i < n; i++) bad |= REL(ctx, spsc_pop(r));                                 \
        return bad ? -1 : 0;                                                                  \
    }

/* ---- contender: zenith_pool ----------------------------------------------------------------- */

/* The exported functions, called through pointers so that the compiler cannot inline them even
   though the implementation is in this TU: what a program linking libzenith (or keeping the
   implementation in another TU) executes. */
static void *(*volatile zn_acquire)(zenith_pool *) = zenith_pool_acquire;
static int (*volatile zn_release)(zenith_pool *, void *) = zenith_pool_release;
#define ZN_ACQ(ctx) zn_acquire((zenith_pool *)(ctx))
#define ZN_REL(ctx, p) zn_release((zenith_pool *)(ctx), (p))
DEFINE_KERNELS(zenith, ZN_ACQ, ZN_REL)

/* The header's inline fast path, when this zenith.h has one (the same code without the call). */
#ifdef ZENITH_INLINE_INCLUDED
#define ZENITH_BENCH_INLINE 1
#define ZI_ACQ(ctx) zenith_pool_acquire_inline((zenith_pool *)(ctx))
#define ZI_REL(ctx, p) zenith_pool_release_inline((zenith_pool *)(ctx), (p))
DEFINE_KERNELS(zenith_inline, ZI_ACQ, ZI_REL)
#endif

static void zenith_report(void *ctx, FILE *out) {
    zenith_pool_stats st;
    zenith_pool_info info;
    zenith_pool_get_stats((zenith_pool *)ctx, &st);
    zenith_pool_get_info((zenith_pool *)ctx, &info);
    fprintf(out, "  zenith (cache_size %u): acquires %llu releases %llu in_use %llu failed %llu rejected %llu\n",
            info.cache_size, (unsigned long long)st.acquires, (unsigned long long)st.releases,
            (unsigned long long)st.in_use, (unsigned long long)st.failed_acquires,
            (unsigned long long)st.rejected_releases);
}

static uint32_t g_zenith_cache; /* --zenith-cache: 0 = library default */

static zenith_pool *zenith_make(uint32_t flags) {
    zenith_pool_config cfg;
    zenith_pool *p;
    int err;
    memset(&cfg, 0, sizeof(cfg)); /* all defaults (cache_size 0 = min(256, count / 8) = 256) */
    cfg.buffer_size = BUF_SIZE;
    cfg.buffer_count = POOL_COUNT;
    cfg.flags = flags;
    if (!(flags & ZENITH_POOL_NO_CACHE)) cfg.cache_size = g_zenith_cache;
    p = zenith_pool_create(&cfg, &err);
    if (p == NULL) {
        fprintf(stderr, "pool_bench: zenith_pool_create: %s\n", zenith_strerror(err));
        exit(1);
    }
    return p;
}

/* ---- contender: glibc malloc (looked up in libc.so.6: libmimalloc overrides malloc) -------- */

static void *(*glibc_malloc)(size_t);
static void (*glibc_free)(void *);

static inline int glibc_rel(void *ctx, void *p) {
    (void)ctx;
    glibc_free(p);
    return 0;
}
#define GL_ACQ(ctx) ((void)(ctx), glibc_malloc(BUF_SIZE))
DEFINE_KERNELS(glibc, GL_ACQ, glibc_rel)

static int glibc_setup(char *where, size_t len) {
    Dl_info di;
    void *h = dlopen("libc.so.6", RTLD_NOW | RTLD_NOLOAD);
    union {
        void *p;
        void *(*m)(size_t);
        void (*f)(void *);
    } u;
    if (h == NULL) return -1;
    u.p = dlsym(h, "malloc");
    glibc_malloc = u.m;
    u.p = dlsym(h, "free");
    glibc_free = u.f;
    if (glibc_malloc == NULL || glibc_free == NULL) return -1;
    u.m = glibc_malloc;
    if (dladdr(u.p, &di) && di.dli_fname) snprintf(where, len, "%s", di.dli_fname);
    return 0;
}

/* ---- contender: mimalloc -------------------------------------------------------------------- */

#ifdef ZENITH_BENCH_MIMALLOC
static inline int mi_rel(void *ctx, void *p) {
    (void)ctx;
    mi_free(p);
    return 0;
}
#define MI_ACQ(ctx) ((void)(ctx), mi_malloc(BUF_SIZE))
DEFINE_KERNELS(mimalloc, MI_ACQ, mi_rel)
#endif

/* ---- contender: mutex-protected free list (reference) --------------------------------------- */

typedef struct mlist {
    pthread_mutex_t lock;
    void **stack;
    size_t top;
    unsigned char *slab;
} mlist;

static inline void *ml_acq(void *ctx) {
    mlist *m = (mlist *)ctx;
    void *p = NULL;
    pthread_mutex_lock(&m->lock);
    if (m->top) p = m->stack[--m->top];
    pthread_mutex_unlock(&m->lock);
    return p;
}

static inline int ml_rel(void *ctx, void *p) {
    mlist *m = (mlist *)ctx;
    pthread_mutex_lock(&m->lock);
    m->stack[m->top++] = p;
    pthread_mutex_unlock(&m->lock);
    return 0;
}
DEFINE_KERNELS(mutexlist, ml_acq, ml_rel)

static mlist *mlist_make(void) {
    mlist *m = (mlist *)calloc(1, sizeof(*m));
    size_t i;
    if (m == NULL) die("out of memory");
    pthread_mutex_init(&m->lock, NULL);
    m->stack = (void **)calloc(POOL_COUNT, sizeof(void *));
    m->slab = (unsigned char *)mmap(NULL, (size_t)POOL_COUNT * BUF_SIZE, PROT_READ | PROT_WRITE,
                                    MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
    if (m->stack == NULL || m->slab == MAP_FAILED) die("mutex list: out of memory");
    for (i = POOL_COUNT; i-- > 0;) m->stack[m->top++] = m->slab + i * BUF_SIZE;
    return m;
}

/* ---- contender: DPDK rte_mempool with per-lcore cache --------------------------------------- */

#ifdef ZENITH_BENCH_DPDK
static inline void *dp_acq(void *ctx) {
    void *p;
    return rte_mempool_get((struct rte_mempool *)ctx, &p) == 0 ? p : NULL;
}
static inline int dp_rel(void *ctx, void *p) {
    rte_mempool_put((struct rte_mempool *)ctx, p);
    return 0;
}
DEFINE_KERNELS(dpdk, dp_acq, dp_rel)

static int dpdk_unregistered;
static void dpdk_thread_init(void *ctx) {
    (void)ctx;
    if (rte_lcore_id() == LCORE_ID_ANY && rte_thread_register() != 0)
        __atomic_store_n(&dpdk_unregistered, 1, __ATOMIC_RELAXED);
}
static void dpdk_thread_fini(void *ctx) {
    (void)ctx;
    if (rte_lcore_id() != LCORE_ID_ANY) rte_thread_unregister();
}
static void dpdk_report(void *ctx, FILE *out) {
    struct rte_mempool *mp = (struct rte_mempool *)ctx;
    fprintf(out, "  dpdk: avail %u in_use %u (of %u) cache_size %u, ops %s%s\n", rte_mempool_avail_count(mp),
            rte_mempool_in_use_count(mp), mp->size, mp->cache_size, rte_mempool_get_ops(mp->ops_index)->name,
            dpdk_unregistered ? ", WARNING: rte_thread_register failed (no per-lcore cache)" : "");
}

static struct rte_mempool *dpdk_make(int cpu0, int cpu1, unsigned cache, char *why, size_t len) {
    char lcores[32], *argv[16];
    int argc = 0;
    struct rte_mempool *mp;
    if (cpu0 < 0) cpu0 = 0;
    if (cpu1 < 0 || cpu1 == cpu0)
        snprintf(lcores, sizeof(lcores), "%d", cpu0);
    else
        snprintf(lcores, sizeof(lcores), "%d,%d", cpu0, cpu1);
    argv[argc++] = (char *)(uintptr_t) "pool_bench";
    argv[argc++] = (char *)(uintptr_t) "--no-huge"; /* malloc'd memory instead of hugetlbfs */
    argv[argc++] = (char *)(uintptr_t) "--no-pci";
    argv[argc++] = (char *)(uintptr_t) "-l";
    argv[argc++] = lcores;
    argv[argc++] = (char *)(uintptr_t) "-m";
    argv[argc++] = (char *)(uintptr_t) "256";
    argv[argc++] = (char *)(uintptr_t) "--no-shconf"; /* no shared config files, no multi-process */
    argv[argc++] = (char *)(uintptr_t) "--no-telemetry";
    argv[argc++] = (char *)(uintptr_t) "--log-level=1";
    argv[argc] = NULL;
    if (rte_eal_init(argc, argv) < 0) {
        snprintf(why, len, "rte_eal_init: %s", rte_strerror(rte_errno));
        return NULL;
    }
    mp = rte_mempool_create("zenith_bench", POOL_COUNT - 1u, BUF_SIZE, cache, 0, NULL, NULL, NULL, NULL, SOCKET_ID_ANY,
                            0);
    if (mp == NULL) snprintf(why, len, "rte_mempool_create: %s", rte_strerror(rte_errno));
    return mp;
}
#endif

/* ---- threads -------------------------------------------------------------------------------- */

static int g_cpu[2] = { -1, -1 };

static void pin_self(int cpu) {
    cpu_set_t set;
    if (cpu < 0) return;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    (void)pthread_setaffinity_np(pthread_self(), sizeof(set), &set); /* failure ignored */
}

enum { JOB_PAIR, JOB_BURST, JOB_PAIRS_MT, JOB_PC };

typedef struct job {
    const contender *c;
    int kind, role; /* role: thread number; for JOB_PC 0 = producer, 1 = consumer */
    long n, warm;
    spsc *ring;
    int *ready, *go;
    double t0, t1;
    int rc;
} job;

static void *job_thread(void *arg) {
    job *j = (job *)arg;
    const contender *c = j->c;
    pin_self(g_cpu[j->role]);
    if (c->thread_init) c->thread_init(c->ctx);
    /* warm-up: thread slot / thread cache / lcore registration, page faults */
    if (j->kind == JOB_BURST)
        j->rc |= c->burst(c->ctx, j->warm);
    else
        j->rc |= c->pair(c->ctx, j->warm);
    __atomic_add_fetch(j->ready, 1, __ATOMIC_ACQ_REL);
    while (!__atomic_load_n(j->go, __ATOMIC_ACQUIRE)) sched_yield();
    j->t0 = now_ns();
    switch (j->kind) {
        case JOB_PAIR:
        case JOB_PAIRS_MT: j->rc |= c->pair(c->ctx, j->n); break;
        case JOB_BURST: j->rc |= c->burst(c->ctx, j->n); break;
        default: j->rc |= j->role == 0 ? c->produce(c->ctx, j->ring, j->n) : c->consume(c->ctx, j->ring, j->n); break;
    }
    j->t1 = now_ns();
    if (c->thread_fini) c->thread_fini(c->ctx);
    return NULL;
}

/* Runs one repetition; returns the wall time in ns (first start to last end). */
static double run_job(const contender *c, int kind, long n) {
    job jobs[2];
    pthread_t th[2];
    int ready = 0, go = 0, nth = (kind == JOB_PAIR || kind == JOB_BURST) ? 1 : 2, i;
    spsc *ring = NULL;
    double t0, t1;
    if (kind == JOB_PC) {
        ring = (spsc *)aligned_alloc(64, sizeof(spsc));
        if (ring == NULL) die("out of memory");
        memset(ring, 0, sizeof(*ring));
    }
    for (i = 0; i < nth; i++) {
        memset(&jobs[i], 0, sizeof(jobs[i]));
        jobs[i].c = c;
        jobs[i].kind = kind;
        jobs[i].role = i;
        jobs[i].n = n;
        jobs[i].warm = kind == JOB_BURST ? 64 : 4096;
        jobs[i].ring = ring;
        jobs[i].ready = &ready;
        jobs[i].go = &go;
        if (pthread_create(&th[i], NULL, job_thread, &jobs[i]) != 0) die("pthread_create failed");
    }
    while (__atomic_load_n(&ready, __ATOMIC_ACQUIRE) < nth) sched_yield();
    __atomic_store_n(&go, 1, __ATOMIC_RELEASE);
    for (i = 0; i < nth; i++) pthread_join(th[i], NULL);
    t0 = jobs[0].t0;
    t1 = jobs[0].t1;
    for (i = 1; i < nth; i++) {
        if (jobs[i].t0 < t0) t0 = jobs[i].t0;
        if (jobs[i].t1 > t1) t1 = jobs[i].t1;
    }
    for (i = 0; i < nth; i++)
        if (jobs[i].rc) {
            fprintf(stderr, "pool_bench: %s: a release failed\n", c->name);
            exit(1);
        }
    free(ring);
    return t1 - t0;
}

/* ---- rows, statistics, output ---------------------------------------------------------------- */

typedef struct rowdef {
    const char *label, *unit;
    int kind;
    double ops_per_n; /* unit operations per n: pairs, ops, buffers */
    int rate;         /* printed as M per second (higher is better) */
    long n_cal;       /* calibration size */
    double target;    /* the project's target for zenith, in printed units */
} rowdef;

static const rowdef g_rows[NROWS] = {
    { "1 pair, 1 thread", "ns/pair", JOB_PAIR, 1.0, 0, 100000, 4.0 },
    { "2 burst 64+64", "ns/op", JOB_BURST, 2.0 * BURST, 0, 1000, 2.5 },
    { "3 pairs, 2 threads", "Mpair/s", JOB_PAIRS_MT, 2.0, 1, 100000, 350.0 },
    { "4 prod->ring->cons", "ns/buf", JOB_PC, 1.0, 0, 100000, 7.0 },
};

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* Values are kept as ns per unit; rate rows print M units per second. */
static double shown(const rowdef *r, double ns_per_unit) { return r->rate ? 1e3 / ns_per_unit : ns_per_unit; }

static void print_table(const char *title, const contender *cs, int nc, const int *row_on,
                        double v[NROWS][MAX_CONTENDERS]) {
    int i, k;
    printf("\n%-28s", title);
    for (k = 0; k < nc; k++) printf(" %11s", cs[k].name);
    printf("\n");
    for (i = 0; i < NROWS; i++) {
        const rowdef *r = &g_rows[i];
        char label[64];
        if (!row_on[i]) continue;
        snprintf(label, sizeof(label), "%s, %s", r->label, r->unit);
        printf("%-28s", label);
        for (k = 0; k < nc; k++) {
            double x = shown(r, v[i][k]);
            if (r->rate || x >= 100.0)
                printf(" %11.1f", x);
            else
                printf(" %11.2f", x);
        }
        printf("\n");
    }
}

static void usage(const char *prog) {
    printf("usage: %s [--quick] [--reps N] [--ms MS] [--rows 1234] [--only NAME,...]\n"
           "          [--zenith-cache N] [--dpdk-cache N] [--no-dpdk]\n"
           "  --quick         5 reps of ~4 ms per cell (also ZENITH_BENCH_QUICK=1); default 11 x 40 ms\n"
           "  --rows          rows to run, e.g. --rows 14 (default all four)\n"
           "  --only          also run only the contenders whose name contains one of the words;\n"
           "                  zenith itself always runs (it is the reference of the ratios)\n"
           "  --zenith-cache  cache_size for the zenith pools (default 0 = library default)\n"
           "  --dpdk-cache    rte_mempool cache_size (default 256)\n",
           prog);
}

int main(int argc, char **argv) {
    contender cs[MAX_CONTENDERS];
    int nc = 0, reps = 11, quick = 0, no_dpdk = 0, i, k, rep;
    int row_on[NROWS];
    double ms = 40.0;
    unsigned dpdk_cache = 256;
    static double med[NROWS][MAX_CONTENDERS], best[NROWS][MAX_CONTENDERS];
    double other[NROWS], steal[NROWS];
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    long nsz[NROWS][MAX_CONTENDERS];
    double *samples;
    char glibc_where[256] = "?", note[512] = "", load[64];
    const char *q = getenv("ZENITH_BENCH_QUICK"), *rows_sel = "1234", *only = NULL;
    zenith_pool *zn_default, *zn_nocache;
    zenith_pool_info zinfo;
    cpu_set_t orig;
    double t_start = now_ns();

    if (q && *q && strcmp(q, "0") != 0) quick = 1;
    for (i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--quick"))
            quick = 1;
        else if (!strcmp(argv[i], "--no-dpdk"))
            no_dpdk = 1;
        else if (!strcmp(argv[i], "--reps") && i + 1 < argc)
            reps = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--ms") && i + 1 < argc)
            ms = atof(argv[++i]);
        else if (!strcmp(argv[i], "--rows") && i + 1 < argc)
            rows_sel = argv[++i];
        else if (!strcmp(argv[i], "--only") && i + 1 < argc)
            only = argv[++i];
        else if (!strcmp(argv[i], "--zenith-cache") && i + 1 < argc)
            g_zenith_cache = (uint32_t)atoi(argv[++i]);
        else if (!strcmp(argv[i], "--dpdk-cache") && i + 1 < argc)
            dpdk_cache = (unsigned)atoi(argv[++i]);
        else {
            usage(argv[0]);
            return strcmp(argv[i], "-h") && strcmp(argv[i], "--help") ? 2 : 0;
        }
    }
    if (quick) {
        reps = 5;
        ms = 4.0;
    }
    if (reps < 1) reps = 1;
    if (ms < 0.5) ms = 0.5;
    for (i = 0; i < NROWS; i++) row_on[i] = strchr(rows_sel, '1' + i) != NULL;
    (void)no_dpdk;
    (void)dpdk_cache;

    /* CPUs: the first two this process may run on */
    CPU_ZERO(&orig);
    if (sched_getaffinity(0, sizeof(orig), &orig) == 0) {
        int found = 0;
        for (i = 0; i < CPU_SETSIZE && found < 2; i++)
            if (CPU_ISSET(i, &orig)) g_cpu[found++] = i;
        if (found == 1) g_cpu[1] = g_cpu[0];
    }

    /* contenders; zenith first: the reference of the ratios */
    memset(cs, 0, sizeof(cs));
    zn_default = zenith_make(0);
    zn_nocache = zenith_make(ZENITH_POOL_NO_CACHE);
    zenith_pool_get_info(zn_default, &zinfo);
    cs[nc].name = "zenith";
    cs[nc].desc = "zenith_pool_acquire/release, exported functions (called, not inlined), defaults but 8192 buffers";
    cs[nc].ctx = zn_default;
    cs[nc].pair = zenith_pair, cs[nc].burst = zenith_burst;
    cs[nc].produce = zenith_produce, cs[nc].consume = zenith_consume, cs[nc].report = zenith_report;
    nc++;
#ifdef ZENITH_BENCH_INLINE
    cs[nc] = cs[0];
    cs[nc].name = "zen-inline";
    cs[nc].desc = "zenith_pool_acquire_inline/release_inline (the header's inline fast path), same pool";
    cs[nc].pair = zenith_inline_pair, cs[nc].burst = zenith_inline_burst;
    cs[nc].produce = zenith_inline_produce, cs[nc].consume = zenith_inline_consume, cs[nc].report = NULL;
    nc++;
#endif
    cs[nc] = cs[0];
    cs[nc].name = "zen-nocache";
    cs[nc].desc = "zenith_pool_acquire/release, ZENITH_POOL_NO_CACHE (lock-free shared stack only)";
    cs[nc].ctx = zn_nocache;
    nc++;
#ifdef ZENITH_BENCH_DPDK
    if (!no_dpdk) {
        char why[256] = "";
        struct rte_mempool *mp = dpdk_make(g_cpu[0], g_cpu[1], dpdk_cache, why, sizeof(why));
        /* rte_eal_init pinned this thread to lcore 0's CPU: undo; the workers pin themselves */
        (void)sched_setaffinity(0, sizeof(orig), &orig);
        if (mp) {
            static char dname[32];
            snprintf(dname, sizeof(dname), "dpdk-c%u", dpdk_cache);
            cs[nc].name = dname;
            cs[nc].desc = "rte_mempool_get/put, ring_mp_mc + per-lcore cache, workers rte_thread_register()ed";
            cs[nc].ctx = mp;
            cs[nc].thread_init = dpdk_thread_init, cs[nc].thread_fini = dpdk_thread_fini;
            cs[nc].pair = dpdk_pair, cs[nc].burst = dpdk_burst, cs[nc].produce = dpdk_produce;
            cs[nc].consume = dpdk_consume, cs[nc].report = dpdk_report;
            nc++;
        } else {
            snprintf(note, sizeof(note), "DPDK unavailable (%s): the mutex-list column is the reference", why);
        }
    } else {
        snprintf(note, sizeof(note), "DPDK disabled by --no-dpdk");
    }
#else
    snprintf(note, sizeof(note), "DPDK not compiled in (build with -DZENITH_BENCH_DPDK)");
#endif
#ifdef ZENITH_BENCH_MIMALLOC
    cs[nc].name = "mimalloc";
    cs[nc].desc = "mi_malloc(4096) / mi_free";
    cs[nc].pair = mimalloc_pair, cs[nc].burst = mimalloc_burst, cs[nc].produce = mimalloc_produce;
    cs[nc].consume = mimalloc_consume;
    nc++;
#endif
    if (glibc_setup(glibc_where, sizeof(glibc_where)) == 0) {
        cs[nc].name = "glibc";
        cs[nc].desc = "malloc(4096) / free of glibc";
        cs[nc].pair = glibc_pair, cs[nc].burst = glibc_burst, cs[nc].produce = glibc_produce;
        cs[nc].consume = glibc_consume;
        nc++;
    }
    cs[nc].name = "mutex-list";
    cs[nc].desc = "pthread_mutex + LIFO array of 8192 x 4 KiB (reference)";
    cs[nc].ctx = mlist_make();
    cs[nc].pair = mutexlist_pair, cs[nc].burst = mutexlist_burst, cs[nc].produce = mutexlist_produce;
    cs[nc].consume = mutexlist_consume;
    nc++;

    if (only) { /* keep zenith (index 0) and the contenders named in --only */
        int kept = 1;
        for (k = 1; k < nc; k++) {
            char list[256], *tok, *save = NULL;
            int keep = 0;
            snprintf(list, sizeof(list), "%s", only);
            for (tok = strtok_r(list, ",", &save); tok; tok = strtok_r(NULL, ",", &save))
                if (strstr(cs[k].name, tok)) keep = 1;
            if (keep) cs[kept++] = cs[k];
        }
        nc = kept;
    }

    printf(
        "zenith pool benchmark (zenith %s): %u-byte buffers; %d reps per cell of ~%.0f ms%s; threads on CPUs %d,%d\n",
        zenith_version_string(), BUF_SIZE, reps, ms, quick ? " (quick)" : "", g_cpu[0], g_cpu[1]);
    for (k = 0; k < nc; k++) printf("  %-11s %s\n", cs[k].name, cs[k].desc);
    printf("  zenith pools: %u x %zu B, cache_size %u; glibc malloc/free resolved in %s\n", zinfo.buffer_count,
           zinfo.buffer_size, zinfo.cache_size, glibc_where);
    printf("  row 4: producer acquires -> SPSC ring (%u slots, indices published every %u) -> consumer releases\n",
           RING_SIZE, RING_BATCH);
    if (note[0]) printf("  note: %s\n", note);
    printf("  load average at start: %s (other processes steal time from the two CPUs)\n", loadavg(load, sizeof(load)));
    fflush(stdout);

    samples = (double *)malloc(sizeof(double) * (size_t)reps * MAX_CONTENDERS);
    if (samples == NULL) die("out of memory");
    for (i = 0; i < NROWS; i++) {
        const rowdef *r = &g_rows[i];
        cpusnap s0, s1;
        double cap;
        if (!row_on[i]) continue;
        cpu_snap(&s0);
        for (k = 0; k < nc; k++) { /* calibration, which is also a warm-up repetition */
            double t = run_job(&cs[k], r->kind, r->n_cal), per_n = t / (double)r->n_cal;
            long n = (long)(ms * 1e6 / per_n);
            if (n < r->n_cal / 10) n = r->n_cal / 10;
            if (n < 1) n = 1;
            nsz[i][k] = n;
        }
        for (rep = 0; rep < reps; rep++) /* interleaved: the machine's noise hits all alike */
            for (k = 0; k < nc; k++) {
                double t = run_job(&cs[k], r->kind, nsz[i][k]);
                samples[k * reps + rep] = t / ((double)nsz[i][k] * r->ops_per_n);
            }
        for (k = 0; k < nc; k++) {
            double *sm = samples + k * reps;
            qsort(sm, (size_t)reps, sizeof(double), cmp_double);
            med[i][k] = reps % 2 ? sm[reps / 2] : 0.5 * (sm[reps / 2 - 1] + sm[reps / 2]);
            best[i][k] = sm[0];
        }
        cpu_snap(&s1);
        cap = (s1.wall - s0.wall) * (double)(ncpu < 1 ? 1 : ncpu);
        other[i] = cap > 0 ? 100.0 * ((s1.busy - s0.busy) - (s1.own - s0.own)) / cap : 0;
        steal[i] = cap > 0 ? 100.0 * (s1.steal - s0.steal) / cap : 0;
        if (other[i] < 0) other[i] = 0;
    }
    free(samples);

    printf("\nrows 1, 2, 4: ns, lower is better; row 3: M pairs/s in total, higher is better");
    print_table("median", cs, nc, row_on, med);
    print_table("best", cs, nc, row_on, best);

    printf("\nratio to zenith (median time per op / zenith's; above 1.00x = zenith faster):\n");
    for (i = 0; i < NROWS; i++) {
        if (!row_on[i]) continue;
        printf("  %-19s", g_rows[i].label);
        for (k = 1; k < nc; k++) printf("  %s/zenith %.2fx", cs[k].name, med[i][k] / med[i][0]);
        printf("\n");
    }

    printf("\nproject targets (median):\n");
    for (k = 0; k < nc; k++) {
        if (strncmp(cs[k].name, "zen", 3) || strstr(cs[k].name, "nocache")) continue;
        for (i = 0; i < NROWS; i++) {
            const rowdef *r = &g_rows[i];
            double x = shown(r, med[i][k]);
            int ok = r->rate ? x >= r->target : x <= r->target, d, ahead = 1;
            if (!row_on[i]) continue;
            for (d = 0; d < nc; d++)
                if (!strncmp(cs[d].name, "dpdk", 4) && med[i][d] < med[i][k]) ahead = 0;
            printf("  %-11s %-19s %8.2f %-8s target %s %-5g %-6s %s\n", cs[k].name, r->label, x, r->unit,
                   r->rate ? ">=" : "<=", r->target, ok ? "met" : "MISSED", ahead ? "" : "behind DPDK");
        }
    }

    printf("\nchecks:\n");
    for (k = 0; k < nc; k++)
        if (cs[k].report) cs[k].report(cs[k].ctx, stdout);
    printf("  CPU time taken by other processes while each row ran (%% of %ld CPUs; steal = hypervisor):", ncpu);
    for (i = 0; i < NROWS; i++)
        if (row_on[i]) printf(" row %d %.0f%% (steal %.0f%%)", i + 1, other[i], steal[i]);
    printf("\n  iterations per repetition:");
    for (i = 0; i < NROWS; i++) {
        if (!row_on[i]) continue;
        printf(" row %d [", i + 1);
        for (k = 0; k < nc; k++) printf("%s%ld", k ? " " : "", nsz[i][k]);
        printf("]");
    }
    printf("\n  total run time %.1f s; load average at end: %s\n", (now_ns() - t_start) / 1e9,
           loadavg(load, sizeof(load)));

    zenith_pool_destroy(zn_default);
    zenith_pool_destroy(zn_nocache);
    return 0;
}
