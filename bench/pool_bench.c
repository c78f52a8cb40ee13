/* pool_bench.c -- zenith_pool against other allocators/pools, side by side, 4 KiB buffers.

   Rows (one program, one run):
     1  single thread: acquire + release pair                     ns per pair
     2  single thread: burst of 64 acquires, then 64 releases     ns per op
     3  two threads doing pairs on ONE shared pool                M pairs/s in total
     4  producer thread -> SPSC ring -> consumer thread releases  ns per buffer
   Contenders: zenith_pool (default cache; NO_CACHE), DPDK rte_mempool with per-lcore cache
   (-DZENITH_BENCH_DPDK), mimalloc (-DZENITH_BENCH_MIMALLOC), glibc malloc/free, and a
   mutex-protected free list (reference row, always compiled).

   Method: every cell is calibrated to ~--ms milliseconds per repetition, then repeated --reps
   times; repetitions of the contenders are interleaved (rep 1 of each, rep 2 of each, ...) so
   that the machine's noise spreads evenly. Printed: median and best. Threads are pinned to the
   first two CPUs of the process's affinity set (CPUs 0 and 1 here); failures are ignored.

   Build (from the repository root):
     gcc -O2 -g -std=c11 -Wall -Wextra -Wpedantic -Werror -I. bench/pool_bench.c \
         -o build/pool_bench -luring -pthread
     gcc -O2 -g -std=gnu11 -Wall -Wextra -Wpedantic -Werror -I. \
         -DZENITH_BENCH_DPDK -DZENITH_BENCH_MIMALLOC bench/pool_bench.c -o build/pool_bench_all \
         $(pkg-config --cflags --libs libdpdk) -lmimalloc -luring -pthread
   Run: build/pool_bench [--quick] [--reps N] [--ms N] [--dpdk-cache N] [--no-dpdk]
        (ZENITH_BENCH_QUICK=1 in the environment = --quick)

   Note: Debian's libmimalloc.so overrides malloc/free (and __libc_malloc) for the whole process
   when linked, so the glibc contender calls glibc's malloc/free looked up with dlsym() in
   libc.so.6 itself. */
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
#define RING_SIZE 1024u /* SPSC ring slots, power of two */
#define MAX_CONTENDERS 8
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

static void die(const char *what) {
    fprintf(stderr, "pool_bench: %s\n", what);
    exit(1);
}

/* ---- SPSC ring of pointers (Lamport, with cached opposite index) ---------------------------- */

typedef struct spsc {
    _Alignas(64) size_t head; /* next slot to read; written by the consumer */
    size_t tail_seen;         /* consumer's last view of tail */
    _Alignas(64) size_t tail; /* next slot to write; written by the producer */
    size_t head_seen;         /* producer's last view of head */
    _Alignas(64) void *slot[RING_SIZE];
} spsc;

static inline void spsc_push(spsc *r, void *p) {
    size_t t = r->tail; /* only the producer writes tail */
    if (t - r->head_seen == RING_SIZE) {
        for (;;) {
            r->head_seen = __atomic_load_n(&r->head, __ATOMIC_ACQUIRE);
            if (t - r->head_seen != RING_SIZE) break;
            cpu_relax();
        }
    }
    r->slot[t & (RING_SIZE - 1u)] = p;
    __atomic_store_n(&r->tail, t + 1u, __ATOMIC_RELEASE);
}

static inline void *spsc_pop(spsc *r) {
    size_t h = r->head; /* only the consumer writes head */
    void *p;
    if (h == r->tail_seen) {
        for (;;) {
            r->tail_seen = __atomic_load_n(&r->tail, __ATOMIC_ACQUIRE);
            if (r->tail_seen != h) break;
            cpu_relax();
        }
    }
    p = r->slot[h & (RING_SIZE - 1u)];
    __atomic_store_n(&r->head, h + 1u, __ATOMIC_RELEASE);
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
#define DEFINE_KERNELS(tag, ACQ, REL)                                                              \
    static int tag##_pair(void *ctx, long n) {                                                     \
        int bad = 0;                                                                               \
        long i;                                                                                    \
        for (i = 0; i < n; i++) {                                                                  \
            void *p = ACQ(ctx);                                                                    \
            if (UNLIKELY(p == NULL)) bad_acquire(#tag);                                            \
            SINK(p);                                                                               \
            bad |= REL(ctx, p);                                                                    \
        }                                                                                          \
        return bad ? -1 : 0;                                                                       \
    }                                                                                              \
    static int tag##_burst(void *ctx, long n) {                                                    \
        void *b[BURST];                                                                            \
        int bad = 0, j;                                                                            \
        long i;                                                                                    \
        for (i = 0; i < n; i++) {                                                                  \
            for (j = 0; j < BURST; j++) {                                                          \
                b[j] = ACQ(ctx);                                                                   \
                if (UNLIKELY(b[j] == NULL)) bad_acquire(#tag);                                     \
            }                                                                                      \
            SINK(b);                                                                               \
            for (j = 0; j < BURST; j++) bad |= REL(ctx, b[j]);                                     \
        }                                                                                          \
        return bad ? -1 : 0;                                                                       \
    }                                                                                              \
    static int tag##_produce(void *ctx, spsc *r, long n) {                                         \
        long i, spins = 0;                                                                         \
        for (i = 0; i < n; i++) {                                                                  \
            void *p = ACQ(ctx);                                                                    \
            while (UNLIKELY(p == NULL)) { /* pool momentarily empty: wait for the consumer */      \
                if (++spins > 100000000L) bad_acquire(#tag);                                       \
                cpu_relax();                                                                       \
                p = ACQ(ctx);                                                                      \
            }                                                                                      \
            spsc_push(r, p);                                                                       \
        }                                                                                          \
        return 0;                                                                                  \
    }                                                                                              \
    static int tag##_consume(void *ctx, spsc *r, long n) {                                         \
        int bad = 0;                                                                               \
        long i;                                                                                    \
        for (i = 0; i < n; i++) bad |= REL(ctx, spsc_pop(r));                                      \
        return bad ? -1 : 0;                                                                       \
    }

/* ---- contender: zenith_pool ----------------------------------------------------------------- */

#define ZN_ACQ(ctx) zenith_pool_acquire((zenith_pool *)(ctx))
#define ZN_REL(ctx, p) zenith_pool_release((zenith_pool *)(ctx), (p))
DEFINE_KERNELS(zenith, ZN_ACQ, ZN_REL)

static void zenith_report(void *ctx, FILE *out) {
    zenith_pool_stats st;
    zenith_pool_info info;
    zenith_pool_get_stats((zenith_pool *)ctx, &st);
    zenith_pool_get_info((zenith_pool *)ctx, &info);
    fprintf(out, "  zenith check (cache_size %u): acquires %llu releases %llu in_use %llu failed %llu rejected %llu\n",
            info.cache_size, (unsigned long long)st.acquires, (unsigned long long)st.releases,
            (unsigned long long)st.in_use, (unsigned long long)st.failed_acquires,
            (unsigned long long)st.rejected_releases);
}

static zenith_pool *zenith_make(uint32_t flags) {
    zenith_pool_config cfg;
    zenith_pool *p;
    int err;
    memset(&cfg, 0, sizeof(cfg)); /* all defaults (cache_size 0 = min(256, count / 8) = 256) */
    cfg.buffer_size = BUF_SIZE;
    cfg.buffer_count = POOL_COUNT;
    cfg.flags = flags | ZENITH_POOL_PREFAULT;
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
    fprintf(out, "  dpdk check: avail %u in_use %u (of %u) cache_size %u, ops %s%s\n", rte_mempool_avail_count(mp),
            rte_mempool_in_use_count(mp), mp->size, mp->cache_size, rte_mempool_get_ops(mp->ops_index)->name,
            dpdk_unregistered ? ", WARNING: rte_thread_register failed (no per-lcore cache)" : "");
}

static const char *dpdk_eal_args[] = {"pool_bench", "--no-huge", "--no-pci", "-l", "0-1", "-m", "256",
                                      "--no-shconf", "--no-telemetry", "--log-level=1"};

static struct rte_mempool *dpdk_make(unsigned cache, char *why, size_t len) {
    char *argv[sizeof(dpdk_eal_args) / sizeof(dpdk_eal_args[0]) + 1];
    int argc = (int)(sizeof(dpdk_eal_args) / sizeof(dpdk_eal_args[0])), i;
    struct rte_mempool *mp;
    for (i = 0; i < argc; i++) argv[i] = (char *)(uintptr_t)dpdk_eal_args[i];
    argv[argc] = NULL;
    if (rte_eal_init(argc, argv) < 0) {
        snprintf(why, len, "rte_eal_init: %s", rte_strerror(rte_errno));
        return NULL;
    }
    mp = rte_mempool_create("zenith_bench", POOL_COUNT - 1u, BUF_SIZE, cache, 0, NULL, NULL, NULL, NULL,
                            SOCKET_ID_ANY, 0);
    if (mp == NULL) snprintf(why, len, "rte_mempool_create: %s", rte_strerror(rte_errno));
    return mp;
}
#endif

/* ---- threads -------------------------------------------------------------------------------- */

static int g_cpu[2] = {-1, -1};

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
    if (j->kind == JOB_BURST) j->rc |= c->burst(c->ctx, j->warm);
    else j->rc |= c->pair(c->ctx, j->warm);
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
    int rate;         /* print as M per second (higher is better) */
    long n_cal;       /* calibration size */
    double target;    /* project target for zenith (in printed units) */
} rowdef;

static const rowdef g_rows[NROWS] = {
    {"1 pair (1 thread)", "ns/pair", JOB_PAIR, 1.0, 0, 100000, 4.0},
    {"2 burst 64+64 (1 thr)", "ns/op", JOB_BURST, 2.0 * BURST, 0, 1000, 2.5},
    {"3 pairs, 2 thr, 1 pool", "Mpairs/s", JOB_PAIRS_MT, 2.0, 1, 100000, 350.0},
    {"4 prod->SPSC->cons", "ns/buf", JOB_PC, 1.0, 0, 100000, 7.0},
};

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double unit_value(const rowdef *r, double ns_per_unit) { return r->rate ? 1e3 / ns_per_unit : ns_per_unit; }

int main(int argc, char **argv) {
    contender cs[MAX_CONTENDERS];
    int nc = 0, reps = 11, quick = 0, no_dpdk = 0, i, k, rep;
    double ms = 40.0;
    unsigned dpdk_cache = 256;
    double med[NROWS][MAX_CONTENDERS], best[NROWS][MAX_CONTENDERS];
    long nsz[NROWS][MAX_CONTENDERS];
    double *samples;
    char glibc_where[256] = "?", note[512] = "";
    const char *q = getenv("ZENITH_BENCH_QUICK");
    cpu_set_t orig;
    double t_start = now_ns();

    if (q && *q && strcmp(q, "0") != 0) quick = 1;
    for (i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--quick")) quick = 1;
        else if (!strcmp(argv[i], "--no-dpdk")) no_dpdk = 1;
        else if (!strcmp(argv[i], "--reps") && i + 1 < argc) reps = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--ms") && i + 1 < argc) ms = atof(argv[++i]);
        else if (!strcmp(argv[i], "--dpdk-cache") && i + 1 < argc) dpdk_cache = (unsigned)atoi(argv[++i]);
        else {
            printf("usage: %s [--quick] [--reps N] [--ms MS_PER_REP] [--dpdk-cache N] [--no-dpdk]\n"
                   "       ZENITH_BENCH_QUICK=1 = --quick (5 reps, 4 ms per rep)\n",
                   argv[0]);
            return strcmp(argv[i], "-h") && strcmp(argv[i], "--help") ? 2 : 0;
        }
    }
    if (quick) {
        reps = 5;
        ms = 4.0;
    }
    if (reps < 1) reps = 1;
    if (ms < 0.5) ms = 0.5;
    (void)no_dpdk;
    (void)dpdk_cache;

    /* CPUs: the first two the process may run on */
    CPU_ZERO(&orig);
    if (sched_getaffinity(0, sizeof(orig), &orig) == 0) {
        int found = 0;
        for (i = 0; i < CPU_SETSIZE && found < 2; i++)
            if (CPU_ISSET(i, &orig)) g_cpu[found++] = i;
        if (found == 1) g_cpu[1] = g_cpu[0];
    }

    /* contenders */
    memset(cs, 0, sizeof(cs));
    cs[nc].name = "zenith";
    cs[nc].desc = "zenith_pool, defaults (cache_size 0 -> 256), 8192 x 4 KiB, PREFAULT";
    cs[nc].ctx = zenith_make(0);
    cs[nc].pair = zenith_pair, cs[nc].burst = zenith_burst, cs[nc].produce = zenith_produce;
    cs[nc].consume = zenith_consume, cs[nc].report = zenith_report;
    nc++;
    cs[nc] = cs[0];
    cs[nc].name = "zen-nocache";
    cs[nc].desc = "zenith_pool, ZENITH_POOL_NO_CACHE (one CAS per op)";
    cs[nc].ctx = zenith_make(ZENITH_POOL_NO_CACHE);
    nc++;
#ifdef ZENITH_BENCH_DPDK
    if (!no_dpdk) {
        char why[256] = "";
        struct rte_mempool *mp = dpdk_make(dpdk_cache, why, sizeof(why));
        /* rte_eal_init pinned this thread to lcore 0's CPU: undo, the workers pin themselves */
        (void)sched_setaffinity(0, sizeof(orig), &orig);
        if (mp) {
            static char dname[32];
            snprintf(dname, sizeof(dname), "DPDK c%u", dpdk_cache);
            cs[nc].name = dname;
            cs[nc].desc = "rte_mempool ring_mp_mc + per-lcore cache, threads rte_thread_register()ed";
            cs[nc].ctx = mp;
            cs[nc].thread_init = dpdk_thread_init, cs[nc].thread_fini = dpdk_thread_fini;
            cs[nc].pair = dpdk_pair, cs[nc].burst = dpdk_burst, cs[nc].produce = dpdk_produce;
            cs[nc].consume = dpdk_consume, cs[nc].report = dpdk_report;
            nc++;
        } else {
            snprintf(note, sizeof(note), "DPDK unavailable (%s): see the mutex-list row instead", why);
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
        cs[nc].desc = "glibc malloc(4096) / free";
        cs[nc].pair = glibc_pair, cs[nc].burst = glibc_burst, cs[nc].produce = glibc_produce;
        cs[nc].consume = glibc_consume;
        nc++;
    }
    cs[nc].name = "mutex-list";
    cs[nc].desc = "pthread_mutex + LIFO array of 8192 x 4 KiB";
    cs[nc].ctx = mlist_make();
    cs[nc].pair = mutexlist_pair, cs[nc].burst = mutexlist_burst, cs[nc].produce = mutexlist_produce;
    cs[nc].consume = mutexlist_consume;
    nc++;

    samples = (double *)malloc(sizeof(double) * (size_t)reps * MAX_CONTENDERS);
    if (samples == NULL) die("out of memory");

    printf("zenith pool benchmark: %u-byte buffers; %d reps per cell of ~%.0f ms each%s; threads on CPUs %d,%d\n",
           BUF_SIZE, reps, ms, quick ? " (quick)" : "", g_cpu[0], g_cpu[1]);
    for (k = 0; k < nc; k++) printf("  %-12s %s\n", cs[k].name, cs[k].desc);
    printf("  (glibc malloc/free resolved in %s)\n", glibc_where);
    if (note[0]) printf("  note: %s\n", note);
    fflush(stdout);

    for (i = 0; i < NROWS; i++) {
        const rowdef *r = &g_rows[i];
        for (k = 0; k < nc; k++) { /* calibrate: also a warm-up repetition */
            double t = run_job(&cs[k], r->kind, r->n_cal), per_n = t / (double)r->n_cal;
            long n = (long)(ms * 1e6 / per_n);
            if (n < r->n_cal / 10) n = r->n_cal / 10;
            if (n < 1) n = 1;
            nsz[i][k] = n;
        }
        for (rep = 0; rep < reps; rep++)
            for (k = 0; k < nc; k++) {
                double t = run_job(&cs[k], r->kind, nsz[i][k]);
                samples[k * reps + rep] = t / ((double)nsz[i][k] * r->ops_per_n); /* ns per unit */
            }
        for (k = 0; k < nc; k++) {
            double *s = samples + k * reps;
            qsort(s, (size_t)reps, sizeof(double), cmp_double);
            med[i][k] = reps % 2 ? s[reps / 2] : 0.5 * (s[reps / 2 - 1] + s[reps / 2]);
            best[i][k] = s[0];
        }
    }

    /* table */
    printf("\nmedian (best) of %d; rows 1, 2, 4: ns, lower is better; row 3: M pairs/s, higher is better\n", reps);
    printf("%-23s %-9s", "row", "unit");
    for (k = 0; k < nc; k++) printf(" %17s", cs[k].name);
    printf("\n");
    for (i = 0; i < NROWS; i++) {
        const rowdef *r = &g_rows[i];
        printf("%-23s %-9s", r->label, r->unit);
        for (k = 0; k < nc; k++) {
            char cell[64];
            const char *fmt = r->rate ? "%.0f (%.0f)" : "%.2f (%.2f)";
            double m = unit_value(r, med[i][k]), b = unit_value(r, best[i][k]);
            if (!r->rate && m >= 100.0) fmt = "%.1f (%.1f)";
            snprintf(cell, sizeof(cell), fmt, m, b);
            printf(" %17s", cell);
        }
        printf("\n");
    }

    printf("\nratio to zenith, by median (time per op / zenith's; > 1.00x = zenith faster):\n");
    for (i = 0; i < NROWS; i++) {
        printf("  %-23s", g_rows[i].label);
        for (k = 1; k < nc; k++) printf("  %s/zenith = %.2fx", cs[k].name, med[i][k] / med[i][0]);
        printf("\n");
    }

    printf("\nzenith vs project targets (median):\n");
    for (i = 0; i < NROWS; i++) {
        const rowdef *r = &g_rows[i];
        double v = unit_value(r, med[i][0]);
        int ok = r->rate ? v >= r->target : v <= r->target;
        int ahead = 1;
        for (k = 1; k < nc; k++)
            if (!strncmp(cs[k].name, "DPDK", 4) && med[i][k] < med[i][0]) ahead = 0;
        printf("  %-23s %8.2f %-9s target %s %-6g %s%s\n", r->label, v, r->unit, r->rate ? ">=" : "<=", r->target,
               ok ? "MET" : "MISSED", ahead ? "" : "  (behind DPDK)");
    }

    printf("\n");
    for (k = 0; k < nc; k++)
        if (cs[k].report) cs[k].report(cs[k].ctx, stdout);
    printf("iterations per rep:");
    for (i = 0; i < NROWS; i++) {
        printf(" row%d[", i + 1);
        for (k = 0; k < nc; k++) printf("%s%ld", k ? " " : "", nsz[i][k]);
        printf("]");
    }
    printf("\ntotal run time %.1f s\n", (now_ns() - t_start) / 1e9);

    free(samples);
    zenith_pool_destroy((zenith_pool *)cs[0].ctx);
    zenith_pool_destroy((zenith_pool *)cs[1].ctx);
    return 0;
}
