/* callgrind_pair.c -- N acquire+release pairs of one contender, for instruction counting.

   usage: callgrind_pair zenith|zenith-call|zenith-inline|dpdk|empty N
     zenith         zenith_pool_acquire/release called directly (this TU holds the implementation,
                    so the compiler may inline them)
     zenith-call    the same exported functions through function pointers: what a program whose
                    implementation lives in another TU or in libzenith.so executes (call + ret)
     zenith-inline  zenith_pool_acquire_inline/release_inline, when this zenith.h has them
   Only the loop_* functions (and what they call) are meant to be counted:
     valgrind --tool=callgrind --toggle-collect='loop_*' build/callgrind_pair zenith 100000
   bench/callgrind.sh runs every contender with N and 2N and prints
   (Ir(2N) - Ir(N)) / N minus the same figure for the empty loop.
   The loop is the one of pool_bench.c row 1: acquire, NULL check, compiler barrier, release. */
#define ZENITH_IMPLEMENTATION
#include "zenith.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

#define SINK(p) __asm__ volatile("" : : "r"(p) : "memory")
#define NOINLINE __attribute__((noinline))

static NOINLINE int loop_empty(void *ctx, long n) {
    int bad = 0;
    long i;
    for (i = 0; i < n; i++) {
        void *p = ctx;
        if (p == NULL) return -1;
        SINK(p);
        bad |= 0;
    }
    return bad;
}

static NOINLINE int loop_zenith(zenith_pool *pool, long n) {
    int bad = 0;
    long i;
    for (i = 0; i < n; i++) {
        void *p = zenith_pool_acquire(pool);
        if (p == NULL) return -1;
        SINK(p);
        bad |= zenith_pool_release(pool, p);
    }
    return bad;
}

/* Read once, so the calls cannot be inlined: the body is the exported function's. */
static void *(*volatile g_acquire)(zenith_pool *) = zenith_pool_acquire;
static int (*volatile g_release)(zenith_pool *, void *) = zenith_pool_release;

static NOINLINE int loop_zenith_call(zenith_pool *pool, long n) {
    void *(*acquire)(zenith_pool *) = g_acquire;
    int (*release)(zenith_pool *, void *) = g_release;
    int bad = 0;
    long i;
    for (i = 0; i < n; i++) {
        void *p = acquire(pool);
        if (p == NULL) return -1;
        SINK(p);
        bad |= release(pool, p);
    }
    return bad;
}

#ifdef ZENITH_INLINE_INCLUDED
static NOINLINE int loop_zenith_inline(zenith_pool *pool, long n) {
    int bad = 0;
    long i;
    for (i = 0; i < n; i++) {
        void *p = zenith_pool_acquire_inline(pool);
        if (p == NULL) return -1;
        SINK(p);
        bad |= zenith_pool_release_inline(pool, p);
    }
    return bad;
}
#endif

#ifdef ZENITH_BENCH_DPDK
static NOINLINE int loop_dpdk(struct rte_mempool *mp, long n) {
    long i;
    for (i = 0; i < n; i++) {
        void *p;
        if (rte_mempool_get(mp, &p) != 0) return -1;
        SINK(p);
        rte_mempool_put(mp, p);
    }
    return 0;
}

static struct rte_mempool *dpdk_make(void) {
    static const char *args[] = { "callgrind_pair", "--no-huge",      "--no-pci",     "-l", "0", "-m", "128",
                                  "--no-shconf",    "--no-telemetry", "--log-level=1" };
    char *argv[sizeof(args) / sizeof(args[0])];
    int argc = (int)(sizeof(args) / sizeof(args[0])), i;
    struct rte_mempool *mp;
    for (i = 0; i < argc; i++) argv[i] = (char *)(uintptr_t)args[i];
    if (rte_eal_init(argc, argv) < 0) {
        fprintf(stderr, "callgrind_pair: rte_eal_init: %s\n", rte_strerror(rte_errno));
        return NULL;
    }
    mp = rte_mempool_create("cg", 8191, 4096, 256, 0, NULL, NULL, NULL, NULL, SOCKET_ID_ANY, 0);
    if (mp == NULL) fprintf(stderr, "callgrind_pair: rte_mempool_create: %s\n", rte_strerror(rte_errno));
    return mp;
}
#endif

int main(int argc, char **argv) {
    zenith_pool_config cfg;
    zenith_pool *pool;
    long n;
    int rc = -1, err;
    if (argc != 3 || (n = atol(argv[2])) <= 0) {
        fprintf(stderr, "usage: %s zenith|zenith-call|zenith-inline|dpdk|empty N\n", argv[0]);
        return 2;
    }
    memset(&cfg, 0, sizeof(cfg)); /* the benchmark's pool: defaults, 8192 buffers of 4 KiB */
    cfg.buffer_size = 4096;
    cfg.buffer_count = 8192;
    pool = zenith_pool_create(&cfg, &err);
    if (pool == NULL) {
        fprintf(stderr, "callgrind_pair: zenith_pool_create: %s\n", zenith_strerror(err));
        return 1;
    }
    if (!strcmp(argv[1], "empty"))
        rc = loop_empty(pool, n);
    else if (!strcmp(argv[1], "zenith"))
        rc = loop_zenith(pool, n);
    else if (!strcmp(argv[1], "zenith-call"))
        rc = loop_zenith_call(pool, n);
#ifdef ZENITH_INLINE_INCLUDED
    else if (!strcmp(argv[1], "zenith-inline"))
        rc = loop_zenith_inline(pool, n);
#endif
#ifdef ZENITH_BENCH_DPDK
    else if (!strcmp(argv[1], "dpdk")) {
        struct rte_mempool *mp = dpdk_make();
        if (mp == NULL) return 3;
        rc = loop_dpdk(mp, n);
    }
#endif
    else {
        fprintf(stderr, "callgrind_pair: %s: not compiled in\n", argv[1]);
        return 4;
    }
    zenith_pool_destroy(pool);
    if (rc) fprintf(stderr, "callgrind_pair: %s: an acquire or a release failed\n", argv[1]);
    return rc ? 1 : 0;
}
