/* Criterion suite for zenith.h: the buffer pool (single-threaded behaviour, configs, placement,
   thread caches and thread exit). The concurrent stress tests are in test_pool_threads.c. */
#define ZENITH_IMPLEMENTATION
#include "zenith.h"

#include "criterion_compat.h" /* Criterion (or its TSan stand-in) */
#include "helpers.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

/* The exported functions and their header-inline twins have the same contract: the acquire /
   release tests run through both. */
typedef struct {
    void *(*acquire)(zenith_pool *);
    int (*release)(zenith_pool *, void *);
} api_t;
static const api_t EXPORTED = { zenith_pool_acquire, zenith_pool_release };
static const api_t INLINE = { zenith_pool_acquire_inline, zenith_pool_release_inline };

/* ---- helpers -------------------------------------------------------------------------------- */

typedef struct {
    uint64_t in_use, acquires, releases, failed, foreign, misaligned, dbl;
} expect_t;

#define EXPECT_STATS(p, ...) expect_stats_at(__LINE__, (p), (expect_t){ __VA_ARGS__ })
static void expect_stats_at(int line, const zenith_pool *p, expect_t e) {
    zenith_pool_stats s = stats_of(p);
    zenith_pool_info inf = info_of(p);
    cr_assert_eq(s.total, inf.buffer_count, "line %d: total", line);
    cr_assert_eq(s.in_use, e.in_use, "line %d: in_use %llu, want %llu", line, (unsigned long long)s.in_use,
                 (unsigned long long)e.in_use);
    cr_assert_eq(s.free, s.total - e.in_use, "line %d: free", line);
    cr_assert_eq(s.acquires, e.acquires, "line %d: acquires %llu, want %llu", line, (unsigned long long)s.acquires,
                 (unsigned long long)e.acquires);
    cr_assert_eq(s.releases, e.releases, "line %d: releases %llu, want %llu", line, (unsigned long long)s.releases,
                 (unsigned long long)e.releases);
    cr_assert_eq(s.failed_acquires, e.failed, "line %d: failed_acquires %llu, want %llu", line,
                 (unsigned long long)s.failed_acquires, (unsigned long long)e.failed);
    cr_assert_eq(s.rejected_foreign, e.foreign, "line %d: rejected_foreign %llu, want %llu", line,
                 (unsigned long long)s.rejected_foreign, (unsigned long long)e.foreign);
    cr_assert_eq(s.rejected_misaligned, e.misaligned, "line %d: rejected_misaligned %llu, want %llu", line,
                 (unsigned long long)s.rejected_misaligned, (unsigned long long)e.misaligned);
    cr_assert_eq(s.rejected_double, e.dbl, "line %d: rejected_double %llu, want %llu", line,
                 (unsigned long long)s.rejected_double, (unsigned long long)e.dbl);
    cr_assert_eq(s.rejected_releases, e.foreign + e.misaligned + e.dbl, "line %d: rejected_releases", line);
}

static void run_thread(void *(*fn)(void *), void *arg) {
    pthread_t t;
    cr_assert_eq(pthread_create(&t, NULL, fn, arg), 0);
    cr_assert_eq(pthread_join(t, NULL), 0);
}

/* number of resident pages in [addr, addr+len) */
static size_t resident_pages(const void *addr, size_t len, size_t *total) {
    size_t pages = (len + PAGE - 1) / PAGE, i, n = 0;
    unsigned char *vec = malloc(pages);
    cr_assert_not_null(vec);
    cr_assert_eq((uintptr_t)addr % PAGE, 0);
    cr_assert_eq(mincore((void *)(uintptr_t)addr, len, vec), 0, "mincore: %s", strerror(errno));
    for (i = 0; i < pages; i++) n += vec[i] & 1u;
    free(vec);
    *total = pages;
    return n;
}

/* ---- create / destroy ------------------------------------------------------------------------ */

Test(pool_create, null_cfg_means_defaults, .timeout = 10) {
    int err = 12345;
    zenith_pool *p = zenith_pool_create(NULL, &err);
    zenith_pool_info inf;
    cr_assert_not_null(p, "create(NULL) failed: %s", zenith_errname(err));
    cr_assert_eq(err, 0);
    inf = info_of(p);
    cr_assert_eq(inf.buffer_size, 4096);
    cr_assert_eq(inf.buffer_count, 1024);
    cr_assert_eq(inf.cache_size, 128, "default cache = min(256, 1024 / 8)");
    cr_assert_eq(inf.slab_size, (size_t)4096 * 1024);
    cr_assert_eq((uintptr_t)inf.base % PAGE, 0);
    cr_assert_eq(inf.flags & (ZENITH_POOL_INFO_HUGETLB | ZENITH_POOL_INFO_THP_ADVISED | ZENITH_POOL_INFO_PREFAULTED |
                              ZENITH_POOL_INFO_CALLER_MEMORY),
                 0);
    cr_assert_eq(inf.registered, 0);
    cr_assert_gt(inf.metadata_size, 0);
    EXPECT_STATS(p, .in_use = 0);
    zenith_pool_destroy(p);
}

Test(pool_create, zero_cfg_means_defaults, .timeout = 10) {
    zenith_pool_config cfg;
    zenith_pool *p;
    zenith_pool_info inf;
    memset(&cfg, 0, sizeof cfg);
    p = mkpool_cfg(&cfg);
    inf = info_of(p);
    cr_assert_eq(inf.buffer_size, 4096);
    cr_assert_eq(inf.buffer_count, 1024);
    cr_assert_eq(inf.cache_size, 128);
    zenith_pool_destroy(p);
}

Test(pool_create, err_pointer_may_be_null, .timeout = 10) {
    zenith_pool_config bad = mkcfg(100, 16, 0, 0);
    zenith_pool *p = zenith_pool_create(NULL, NULL);
    cr_assert_not_null(p);
    zenith_pool_destroy(p);
    cr_assert_null(zenith_pool_create(&bad, NULL));
}

Test(pool_create, destroy_null_is_fine, .timeout = 10) {
    /* a no-op: the process-wide pool list and a live pool are untouched */
    zenith_pool *p = mkpool(64, 32, 0, 0);
    zenith_pool_destroy(NULL);
    zenith_pool_destroy(NULL);
    acquire_all_exactly_once(p);
    EXPECT_STATS(p, .acquires = 32, .releases = 32, .failed = 1);
    zenith_pool_destroy(p);
}

Test(pool_create, cache_size_default_and_explicit, .timeout = 10) {
    static const struct {
        uint32_t count, cache, flags, want;
    } cases[] = {
        { 16, 0, 0, 2 },
        { 64, 0, 0, 8 },
        { 1024, 0, 0, 128 },
        { 2048, 0, 0, 256 },
        { 100000, 0, 0, 256 },
        { 1024, 64, 0, 64 },
        { 1024, 1024, 0, 1024 },
        { 64, 1024, 0, 1024 },
        { 1024, 0, ZENITH_POOL_NO_CACHE, 0 },
        { 1024, 100, ZENITH_POOL_NO_CACHE, 0 },
    };
    size_t i;
    for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        zenith_pool *p = mkpool(64, cases[i].count, cases[i].cache, cases[i].flags);
        zenith_pool_info inf = info_of(p);
        cr_assert_eq(inf.cache_size, cases[i].want, "count %u cache %u flags %#x: cache_size %u, want %u",
                     cases[i].count, cases[i].cache, cases[i].flags, inf.cache_size, cases[i].want);
        cr_assert_eq(inf.buffer_count, cases[i].count);
        zenith_pool_destroy(p);
    }
}

static void *counting_alloc(size_t size, void *user);
static void counting_free(void *ptr, size_t size, void *user);

Test(pool_create, invalid_configs_rejected, .timeout = 10) {
    static char region[3 * PAGE] __attribute__((aligned(PAGE)));
    struct {
        const char *what;
        zenith_pool_config cfg;
        int want;
    } cases[32];
    size_t n = 0, i;
#define CASE(desc, code, ...)                      \
    do {                                           \
        cases[n].what = desc;                      \
        cases[n].cfg = mkcfg(4096, 16, 0, 0);      \
        {                                          \
            zenith_pool_config *c = &cases[n].cfg; \
            __VA_ARGS__;                           \
        }                                          \
        cases[n++].want = code;                    \
    } while (0)
    CASE("buffer_size 1", ZENITH_E_INVAL, c->buffer_size = 1);
    CASE("buffer_size 32", ZENITH_E_INVAL, c->buffer_size = 32);
    CASE("buffer_size 100", ZENITH_E_INVAL, c->buffer_size = 100);
    CASE("buffer_size 4097", ZENITH_E_INVAL, c->buffer_size = 4097);
    CASE("buffer_size 4096+32", ZENITH_E_INVAL, c->buffer_size = 4096 + 32);
    CASE("buffer_size 1 GiB + 64", ZENITH_E_INVAL, c->buffer_size = ((size_t)1 << 30) + 64);
    CASE("buffer_size 2 GiB", ZENITH_E_INVAL, c->buffer_size = (size_t)2 << 30);
    CASE("buffer_size SIZE_MAX", ZENITH_E_INVAL, c->buffer_size = SIZE_MAX);
    CASE("buffer_count 2^31", ZENITH_E_INVAL, c->buffer_count = 0x80000000u);
    CASE("buffer_count UINT32_MAX", ZENITH_E_INVAL, c->buffer_count = UINT32_MAX);
    CASE("cache_size MAX_CACHE+1", ZENITH_E_INVAL, c->cache_size = ZENITH_POOL_MAX_CACHE + 1);
    CASE("cache_size UINT32_MAX", ZENITH_E_INVAL, c->cache_size = UINT32_MAX);
    CASE("unknown flag 1<<5", ZENITH_E_INVAL, c->flags = 1u << 5);
    CASE("unknown flag 1<<31", ZENITH_E_INVAL, c->flags = ZENITH_POOL_PREFAULT | (1u << 31));
    CASE("numa_node 1 without NUMA_NODE", ZENITH_E_INVAL, c->numa_node = 1);
    CASE("NUMA_NODE node -1", ZENITH_E_INVAL, c->flags = ZENITH_POOL_NUMA_NODE; c->numa_node = -1);
    CASE("NUMA_NODE node 1024", ZENITH_E_INVAL, c->flags = ZENITH_POOL_NUMA_NODE; c->numa_node = 1024);
    CASE("NUMA_NODE node 1023 (absent)", ZENITH_E_INVAL, c->flags = ZENITH_POOL_NUMA_NODE; c->numa_node = 1023);
    CASE("NUMA_NODE with caller memory", ZENITH_E_INVAL, c->flags = ZENITH_POOL_NUMA_NODE; c->memory = region;
         c->memory_size = 2 * PAGE; c->buffer_size = 64);
    CASE("memory not page-aligned", ZENITH_E_INVAL, c->buffer_size = 64; c->memory = region + 64;
         c->memory_size = 2 * PAGE);
    CASE("memory 1 byte too small", ZENITH_E_INVAL, c->buffer_size = 64; c->memory = region;
         c->memory_size = 64 * 16 - 1);
    CASE("memory with size 0", ZENITH_E_INVAL, c->memory = region; c->memory_size = 0);
    CASE("allocator: alloc only", ZENITH_E_INVAL, c->allocator.alloc = counting_alloc);
    CASE("allocator: free only", ZENITH_E_INVAL, c->allocator.free = counting_free);
#undef CASE
    for (i = 0; i < n; i++) {
        int err = 12345;
        zenith_pool *p = zenith_pool_create(&cases[i].cfg, &err);
        cr_assert_null(p, "%s: create succeeded", cases[i].what);
        cr_assert_eq(err, cases[i].want, "%s: err %d (%s), want %d (%s)", cases[i].what, err, zenith_errname(err),
                     cases[i].want, zenith_errname(cases[i].want));
        cr_assert_null(zenith_pool_create(&cases[i].cfg, NULL), "%s: create with err=NULL succeeded", cases[i].what);
    }
}

Test(pool_create, valid_boundaries, .timeout = 10) {
    /* smallest buffers, one buffer, the largest buffer size, the largest cache */
    zenith_pool *p = mkpool(64, 1, 0, 0);
    acquire_all_exactly_once(p);
    zenith_pool_destroy(p);
    p = mkpool((size_t)1 << 30, 1, 0, 0);
    {
        unsigned char *b = zenith_pool_acquire(p);
        cr_assert_not_null(b);
        b[0] = 1;
        b[((size_t)1 << 30) - 1] = 2;
        cr_assert_eq(zenith_pool_release(p, b), 0);
    }
    EXPECT_STATS(p, .acquires = 1, .releases = 1);
    zenith_pool_destroy(p);
    p = mkpool(4096, 3000, ZENITH_POOL_MAX_CACHE, 0);
    cr_assert_eq(info_of(p).cache_size, ZENITH_POOL_MAX_CACHE);
    acquire_all_exactly_once(p);
    zenith_pool_destroy(p);
}

Test(pool_create, slab_mmap_failure_is_esys, .timeout = 10) {
    /* 1 GiB x 2^20 = 1 PiB: valid config, but no address space for it */
    zenith_pool_config cfg = mkcfg((size_t)1 << 30, 1u << 20, 0, 0);
    int err = 12345;
    zenith_pool *p = zenith_pool_create(&cfg, &err);
    cr_assert_null(p);
    cr_assert(ZENITH_IS_ESYS(err), "err %d (%s), want a ZENITH_ESYS code", err, zenith_errname(err));
    /* the kernel says ENOMEM; valgrind's own address-space manager says EINVAL */
    cr_assert(zenith_errno(err) == ENOMEM || (under_valgrind() && zenith_errno(err) == EINVAL), "errno %d",
              zenith_errno(err));
}

Test(pool_api, null_arguments, .timeout = 10) {
    zenith_pool *p = mkpool(64, 16, 0, 0);
    zenith_pool_stats s;
    zenith_pool_info inf;
    void *arr[2] = { NULL, NULL };
    void *b;
    cr_assert_null(zenith_pool_acquire(NULL));
    cr_assert_eq(zenith_pool_release(NULL, zenith_pool_at(p, 0)), ZENITH_E_NULL);
    cr_assert_eq(zenith_pool_release(p, NULL), ZENITH_E_NULL);
    cr_assert_eq(zenith_pool_acquire_bulk(NULL, arr, 2), ZENITH_E_NULL);
    cr_assert_eq(zenith_pool_acquire_bulk(p, NULL, 2), ZENITH_E_NULL);
    cr_assert_eq(zenith_pool_acquire_bulk(p, NULL, 0), 0);
    cr_assert_eq(zenith_pool_acquire_bulk(p, arr, 0), 0);
    cr_assert_eq(zenith_pool_release_bulk(NULL, arr, 2), ZENITH_E_NULL);
    cr_assert_eq(zenith_pool_release_bulk(p, NULL, 2), ZENITH_E_NULL);
    cr_assert_eq(zenith_pool_release_bulk(p, NULL, 0), 0);
    cr_assert_eq(zenith_pool_release_bulk(p, arr, 0), 0);
    cr_assert_eq(zenith_pool_release_bulk(p, arr, 2), ZENITH_E_NULL, "NULL entries");
    cr_assert_eq(zenith_pool_index(NULL, zenith_pool_at(p, 0)), ZENITH_E_NULL);
    cr_assert_eq(zenith_pool_index(p, NULL), ZENITH_E_NULL);
    cr_assert_null(zenith_pool_at(NULL, 0));
    cr_assert_eq(zenith_pool_flush(NULL), ZENITH_E_NULL);
    cr_assert_eq(zenith_pool_get_stats(NULL, &s), ZENITH_E_NULL);
    cr_assert_eq(zenith_pool_get_stats(p, NULL), ZENITH_E_NULL);
    cr_assert_eq(zenith_pool_get_info(NULL, &inf), ZENITH_E_NULL);
    cr_assert_eq(zenith_pool_get_info(p, NULL), ZENITH_E_NULL);
    cr_assert_eq(zenith_pool_register(NULL, NULL), ZENITH_E_NULL);
    cr_assert_eq(zenith_pool_unregister(NULL, NULL), ZENITH_E_NULL);
    /* nothing above touched the pool */
    EXPECT_STATS(p, .in_use = 0);
    b = zenith_pool_acquire(p);
    cr_assert_not_null(b);
    cr_assert_eq(zenith_pool_release(NULL, b), ZENITH_E_NULL);
    cr_assert_eq(zenith_pool_release(p, b), 0);
    EXPECT_STATS(p, .acquires = 1, .releases = 1);
    zenith_pool_destroy(p);
}

Test(pool_inline, null_arguments, .timeout = 10) {
    zenith_pool *p = mkpool(64, 16, 0, 0);
    void *b;
    cr_assert_null(zenith_pool_acquire_inline(NULL));
    cr_assert_eq(zenith_pool_release_inline(NULL, zenith_pool_at(p, 0)), ZENITH_E_NULL);
    cr_assert_eq(zenith_pool_release_inline(p, NULL), ZENITH_E_NULL);
    EXPECT_STATS(p, .in_use = 0);
    b = zenith_pool_acquire_inline(p);
    cr_assert_not_null(b);
    cr_assert_eq(zenith_pool_release_inline(NULL, b), ZENITH_E_NULL);
    cr_assert_eq(zenith_pool_release_inline(p, b), 0);
    EXPECT_STATS(p, .acquires = 1, .releases = 1);
    zenith_pool_destroy(p);
}

/* inline and exported calls mix freely on one pool: same buffers, same counters */
static void mixed_apis(uint32_t flags) {
    enum { N = 128 };
    zenith_pool *p = mkpool(192, N, 16, flags);
    void *held[N];
    int n = 0, step;
    uint64_t acq = 0, rel = 0, failed = 0, dbl = 0, rng = 12345;
    for (step = 0; step < 20000; step++) {
        uint64_t r;
        rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
        r = rng;
        if (n == 0 || (n < N + 2 && (r & 1))) {
            void *b = (r & 2) ? zenith_pool_acquire_inline(p) : zenith_pool_acquire(p);
            if (b == NULL) {
                cr_assert_eq(n, N, "NULL with %d of %d held", n, N);
                failed++;
                continue;
            }
            acq++;
            held[n++] = b;
        } else {
            int j = (int)((r >> 8) % (uint64_t)n);
            void *b = held[j];
            cr_assert_eq((r & 4) ? zenith_pool_release_inline(p, b) : zenith_pool_release(p, b), 0);
            rel++;
            held[j] = held[--n];
            if ((r & 0x30) == 0x30) { /* and once more: rejected either way */
                cr_assert_eq((r & 8) ? zenith_pool_release_inline(p, b) : zenith_pool_release(p, b),
                             ZENITH_E_DOUBLE_RELEASE);
                dbl++;
            }
        }
    }
    EXPECT_STATS(p, .in_use = (uint64_t)n, .acquires = acq, .releases = rel, .failed = failed, .dbl = dbl);
    while (n > 0) cr_assert_eq(zenith_pool_release_inline(p, held[--n]), 0);
    EXPECT_STATS(p, .acquires = acq, .releases = acq, .failed = failed, .dbl = dbl);
    acquire_all_exactly_once(p);
    zenith_pool_destroy(p);
}

Test(pool_inline, mixed_with_exported, .timeout = 10) { mixed_apis(0); }
Test(pool_inline, mixed_with_exported_no_cache, .timeout = 10) { mixed_apis(ZENITH_POOL_NO_CACHE); }

/* ---- buffer sizes ------------------------------------------------------------------------------ */

static void size_roundtrip(size_t size, uint32_t count) {
    zenith_pool *p = mkpool(size, count, 0, 0);
    zenith_pool_info inf = info_of(p);
    unsigned char **bufs = malloc((size_t)count * sizeof(*bufs));
    uint32_t i;
    size_t k;
    cr_assert_not_null(bufs);
    cr_assert_eq(inf.buffer_size, size);
    cr_assert_eq(inf.buffer_count, count);
    cr_assert_eq(inf.slab_size, size * count);
    cr_assert_eq((uintptr_t)inf.base % PAGE, 0);
    for (i = 0; i < count; i++) {
        bufs[i] = zenith_pool_acquire(p);
        cr_assert_not_null(bufs[i], "acquire %u of %u", i, count);
        cr_assert_eq((uintptr_t)bufs[i] % expected_alignment(size), 0);
    }
    cr_assert_null(zenith_pool_acquire(p));
    /* fill every buffer completely with its own pattern, then check none overlaps another */
    for (i = 0; i < count; i++) memset(bufs[i], (int)(0x5au ^ (i & 0xffu)), size);
    for (i = 0; i < count; i++)
        for (k = 0; k < size; k++)
            if (bufs[i][k] != (unsigned char)(0x5au ^ (i & 0xffu)))
                cr_assert_fail("buffer %u byte %zu overwritten (buffers overlap)", i, k);
    for (i = 0; i < count; i++) cr_assert_eq(zenith_pool_release(p, bufs[i]), 0);
    EXPECT_STATS(p, .acquires = count, .releases = count, .failed = 1);
    acquire_all_exactly_once(p);
    free(bufs);
    zenith_pool_destroy(p);
}

Test(pool_sizes, size_64, .timeout = 10) { size_roundtrip(64, 256); }
Test(pool_sizes, size_192_not_power_of_two, .timeout = 10) { size_roundtrip(192, 256); }
Test(pool_sizes, size_4096, .timeout = 10) { size_roundtrip(4096, 128); }
Test(pool_sizes, size_65536, .timeout = 10) { size_roundtrip(65536, 64); }
Test(pool_sizes, size_4160_not_page_multiple, .timeout = 10) { size_roundtrip(4160, 64); }
Test(pool_sizes, size_12288_page_multiple, .timeout = 10) { size_roundtrip(12288, 32); }

/* ---- acquire / release --------------------------------------------------------------------------- */

Test(pool_basic, single_acquire_release, .timeout = 10) {
    zenith_pool *p = mkpool(4096, 64, 0, 0);
    void *b = zenith_pool_acquire(p);
    int idx;
    cr_assert_not_null(b);
    idx = zenith_pool_index(p, b);
    cr_assert(idx >= 0 && idx < 64, "index %d", idx);
    cr_assert_eq((uintptr_t)b % PAGE, 0);
    memset(b, 0xcd, 4096);
    EXPECT_STATS(p, .in_use = 1, .acquires = 1);
    cr_assert_eq(zenith_pool_release(p, b), 0);
    EXPECT_STATS(p, .in_use = 0, .acquires = 1, .releases = 1);
    zenith_pool_destroy(p);
}

static void exhaustion_and_recovery(uint32_t flags, const api_t *api) {
    enum { N = 32 };
    zenith_pool *p = mkpool(256, N, 0, flags);
    void *b[N], *again;
    int i;
    for (i = 0; i < N; i++) {
        b[i] = api->acquire(p);
        cr_assert_not_null(b[i], "acquire %d of %d", i, N);
    }
    cr_assert_null(api->acquire(p));
    cr_assert_null(api->acquire(p));
    cr_assert_null(api->acquire(p));
    EXPECT_STATS(p, .in_use = N, .acquires = N, .failed = 3);
    cr_assert_eq(api->release(p, b[7]), 0);
    EXPECT_STATS(p, .in_use = N - 1, .acquires = N, .releases = 1, .failed = 3);
    again = api->acquire(p);
    cr_assert_eq(again, b[7], "the only free buffer is b[7]");
    cr_assert_null(api->acquire(p));
    EXPECT_STATS(p, .in_use = N, .acquires = N + 1, .releases = 1, .failed = 4);
    for (i = 0; i < N; i++) cr_assert_eq(api->release(p, b[i]), 0);
    EXPECT_STATS(p, .in_use = 0, .acquires = N + 1, .releases = N + 1, .failed = 4);
    acquire_all_exactly_once(p);
    zenith_pool_destroy(p);
}

Test(pool_basic, exhaustion_then_recovery, .timeout = 10) { exhaustion_and_recovery(0, &EXPORTED); }
Test(pool_basic, exhaustion_then_recovery_no_cache, .timeout = 10) {
    exhaustion_and_recovery(ZENITH_POOL_NO_CACHE, &EXPORTED);
}
Test(pool_inline, exhaustion_then_recovery, .timeout = 10) { exhaustion_and_recovery(0, &INLINE); }
Test(pool_inline, exhaustion_then_recovery_no_cache, .timeout = 10) {
    exhaustion_and_recovery(ZENITH_POOL_NO_CACHE, &INLINE);
}

static void double_release(uint32_t flags, const api_t *api) {
    zenith_pool *p = mkpool(4096, 32, 0, flags);
    void *a = api->acquire(p), *b = api->acquire(p);
    void *never = NULL;
    uint32_t i;
    cr_assert(a && b);
    for (i = 0; i < 32 && !never; i++) /* a buffer nobody acquired */
        if (zenith_pool_at(p, i) != a && zenith_pool_at(p, i) != b) never = zenith_pool_at(p, i);
    cr_assert_eq(api->release(p, a), 0);
    cr_assert_eq(api->release(p, a), ZENITH_E_DOUBLE_RELEASE);
    cr_assert_eq(api->release(p, a), ZENITH_E_DOUBLE_RELEASE);
    cr_assert_eq(api->release(p, never), ZENITH_E_DOUBLE_RELEASE, "a never-acquired buffer is free");
    EXPECT_STATS(p, .in_use = 1, .acquires = 2, .releases = 1, .dbl = 3);
    cr_assert_eq(api->release(p, b), 0);
    cr_assert_eq(api->release(p, b), ZENITH_E_DOUBLE_RELEASE);
    EXPECT_STATS(p, .in_use = 0, .acquires = 2, .releases = 2, .dbl = 4);
    acquire_all_exactly_once(p);
    zenith_pool_destroy(p);
}

Test(pool_reject, double_release, .timeout = 10) { double_release(0, &EXPORTED); }
Test(pool_reject, double_release_no_cache, .timeout = 10) { double_release(ZENITH_POOL_NO_CACHE, &EXPORTED); }
Test(pool_inline, double_release, .timeout = 10) { double_release(0, &INLINE); }
Test(pool_inline, double_release_no_cache, .timeout = 10) { double_release(ZENITH_POOL_NO_CACHE, &INLINE); }

static void foreign_pointers(size_t size, uint32_t flags, const api_t *api) {
    enum { N = 32 };
    zenith_pool *p = mkpool(size, N, 0, flags), *other = mkpool(size, N, 0, flags);
    zenith_pool_info inf = info_of(p);
    uintptr_t base = (uintptr_t)inf.base, end = base + (uintptr_t)size * N;
    int local = 0;
    void *heap = malloc(size);
    void *held = api->acquire(p), *other_buf = zenith_pool_acquire(other);
    void *foreign[12];
    size_t nf = 0, i;
    cr_assert(heap && held && other_buf);
    foreign[nf++] = &local;                               /* stack */
    foreign[nf++] = heap;                                 /* heap */
    foreign[nf++] = (void *)end;                          /* just past the slab */
    foreign[nf++] = (void *)(end + size);                 /* one buffer past */
    foreign[nf++] = (void *)(end + 1);                    /* past, unaligned */
    foreign[nf++] = (void *)(base - size);                /* one buffer before */
    foreign[nf++] = (void *)(base - 1);                   /* one byte before */
    foreign[nf++] = (void *)(base - PAGE);                /* one page before */
    foreign[nf++] = other_buf;                            /* another pool's buffer */
    foreign[nf++] = (void *)(uintptr_t)size;              /* tiny address */
    foreign[nf++] = (void *)(UINTPTR_MAX - size + 1u);    /* top of the address space, "aligned" */
    foreign[nf++] = (void *)(base - (uintptr_t)size * N); /* a whole slab before */
    for (i = 0; i < nf; i++) {
        int rc = api->release(p, foreign[i]);
        cr_assert_eq(rc, ZENITH_E_FOREIGN, "size %zu: pointer #%zu (%p): %s", size, i, foreign[i], zenith_errname(rc));
        rc = zenith_pool_index(p, foreign[i]);
        cr_assert_eq(rc, ZENITH_E_FOREIGN, "size %zu: index of pointer #%zu: %s", size, i, zenith_errname(rc));
    }
    EXPECT_STATS(p, .in_use = 1, .acquires = 1, .foreign = nf);
    EXPECT_STATS(other, .in_use = 1, .acquires = 1);
    cr_assert_eq(api->release(other, held), ZENITH_E_FOREIGN);
    cr_assert_eq(api->release(p, held), 0);
    cr_assert_eq(api->release(other, other_buf), 0);
    EXPECT_STATS(other, .acquires = 1, .releases = 1, .foreign = 1);
    EXPECT_STATS(p, .acquires = 1, .releases = 1, .foreign = nf);
    acquire_all_exactly_once(p);
    acquire_all_exactly_once(other);
    free(heap);
    zenith_pool_destroy(other);
    zenith_pool_destroy(p);
}

Test(pool_reject, foreign_64, .timeout = 10) { foreign_pointers(64, 0, &EXPORTED); }
Test(pool_reject, foreign_192, .timeout = 10) { foreign_pointers(192, 0, &EXPORTED); }
Test(pool_reject, foreign_4096, .timeout = 10) { foreign_pointers(4096, 0, &EXPORTED); }
Test(pool_reject, foreign_4096_no_cache, .timeout = 10) { foreign_pointers(4096, ZENITH_POOL_NO_CACHE, &EXPORTED); }
Test(pool_inline, foreign_64, .timeout = 10) { foreign_pointers(64, 0, &INLINE); }
Test(pool_inline, foreign_192, .timeout = 10) { foreign_pointers(192, 0, &INLINE); }
Test(pool_inline, foreign_4096, .timeout = 10) { foreign_pointers(4096, 0, &INLINE); }
Test(pool_inline, foreign_4096_no_cache, .timeout = 10) { foreign_pointers(4096, ZENITH_POOL_NO_CACHE, &INLINE); }

static void misaligned_pointers(size_t size, uint32_t flags, const api_t *api) {
    enum { N = 16 };
    zenith_pool *p = mkpool(size, N, 0, flags);
    zenith_pool_info inf = info_of(p);
    uintptr_t base = (uintptr_t)inf.base, last = base + (uintptr_t)size * (N - 1);
    unsigned char *held = api->acquire(p);
    uintptr_t offs[] = { 1, 63, 64, 65, 128, 191, 2048, 4095, 4096 + 64, 60000 };
    size_t nm = 0, i;
    cr_assert_not_null(held);
    for (i = 0; i < sizeof offs / sizeof offs[0]; i++) {
        uintptr_t ptrs[3];
        size_t j;
        if (offs[i] % size == 0 || offs[i] >= size * N) continue;
        ptrs[0] = base + offs[i];
        ptrs[1] = last + (offs[i] % size);
        ptrs[2] = (uintptr_t)held + (offs[i] % size);
        for (j = 0; j < 3; j++) {
            cr_assert_eq(api->release(p, (void *)ptrs[j]), ZENITH_E_MISALIGNED, "size %zu: base + %#lx", size,
                         (unsigned long)(ptrs[j] - base));
            cr_assert_eq(zenith_pool_index(p, (void *)ptrs[j]), ZENITH_E_MISALIGNED);
            nm++;
        }
    }
    /* the last byte of the slab */
    cr_assert_eq(api->release(p, (void *)(base + size * N - 1)), ZENITH_E_MISALIGNED);
    nm++;
    cr_assert_geq(nm, 4);
    EXPECT_STATS(p, .in_use = 1, .acquires = 1, .misaligned = nm);
    /* the held buffer is still in use and still releasable */
    cr_assert_eq(api->release(p, held), 0);
    EXPECT_STATS(p, .acquires = 1, .releases = 1, .misaligned = nm);
    acquire_all_exactly_once(p);
    zenith_pool_destroy(p);
}

Test(pool_reject, misaligned_4096, .timeout = 10) { misaligned_pointers(4096, 0, &EXPORTED); }
Test(pool_reject, misaligned_192, .timeout = 10) { misaligned_pointers(192, 0, &EXPORTED); }
Test(pool_reject, misaligned_64, .timeout = 10) { misaligned_pointers(64, 0, &EXPORTED); }
Test(pool_reject, misaligned_65536, .timeout = 10) { misaligned_pointers(65536, 0, &EXPORTED); }
Test(pool_reject, misaligned_4096_no_cache, .timeout = 10) {
    misaligned_pointers(4096, ZENITH_POOL_NO_CACHE, &EXPORTED);
}
Test(pool_inline, misaligned_4096, .timeout = 10) { misaligned_pointers(4096, 0, &INLINE); }
Test(pool_inline, misaligned_192, .timeout = 10) { misaligned_pointers(192, 0, &INLINE); }
Test(pool_inline, misaligned_64, .timeout = 10) { misaligned_pointers(64, 0, &INLINE); }
Test(pool_inline, misaligned_4096_no_cache, .timeout = 10) { misaligned_pointers(4096, ZENITH_POOL_NO_CACHE, &INLINE); }

Test(pool_reject, base_plus_1_and_64_for_4096, .timeout = 10) {
    zenith_pool *p = mkpool(4096, 8, 0, 0);
    unsigned char *base = zenith_pool_at(p, 0);
    cr_assert_eq(zenith_pool_release(p, base + 1), ZENITH_E_MISALIGNED);
    cr_assert_eq(zenith_pool_release(p, base + 64), ZENITH_E_MISALIGNED);
    EXPECT_STATS(p, .misaligned = 2);
    acquire_all_exactly_once(p);
    zenith_pool_destroy(p);
}

/* ---- alignment, index / at -------------------------------------------------------------------- */

Test(pool_layout, alignment_of_every_buffer, .timeout = 10) {
    static const size_t sizes[] = { 64, 128, 192, 320, 4032, 4160, 4096, 8192, 12288, 65536 };
    size_t s;
    for (s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
        zenith_pool *p = mkpool(sizes[s], 100, 0, 0);
        uint32_t i;
        cr_assert_eq((uintptr_t)info_of(p).base % PAGE, 0);
        for (i = 0; i < 100; i++) {
            uintptr_t a = (uintptr_t)zenith_pool_at(p, i);
            cr_assert_eq(a % expected_alignment(sizes[s]), 0, "size %zu buffer %u at %#lx", sizes[s], i,
                         (unsigned long)a);
        }
        acquire_all_exactly_once(p); /* checks the alignment of every acquired pointer too */
        zenith_pool_destroy(p);
    }
}

static void index_at_roundtrip(size_t size, uint32_t count) {
    zenith_pool *p = mkpool(size, count, 0, 0);
    unsigned char *base = zenith_pool_at(p, 0);
    uint32_t i;
    cr_assert_not_null(base);
    cr_assert_eq((void *)base, info_of(p).base);
    for (i = 0; i < count; i++) {
        unsigned char *b = zenith_pool_at(p, i);
        cr_assert_eq(b, base + (size_t)i * size, "at(%u)", i);
        cr_assert_eq(zenith_pool_index(p, b), (int)i, "index(at(%u)) = %d", i, zenith_pool_index(p, b));
        if (size > 64) cr_assert_eq(zenith_pool_index(p, b + 64), ZENITH_E_MISALIGNED);
        cr_assert_eq(zenith_pool_index(p, b + 1), ZENITH_E_MISALIGNED);
        cr_assert_eq(zenith_pool_index(p, b + size - 1), ZENITH_E_MISALIGNED);
    }
    cr_assert_null(zenith_pool_at(p, count));
    cr_assert_null(zenith_pool_at(p, count + 1));
    cr_assert_null(zenith_pool_at(p, UINT32_MAX));
    cr_assert_null(zenith_pool_at(p, 0x80000000u));
    cr_assert_eq(zenith_pool_index(p, base + (size_t)count * size), ZENITH_E_FOREIGN);
    cr_assert_eq(zenith_pool_index(p, (void *)((uintptr_t)base - size)), ZENITH_E_FOREIGN);
    cr_assert_eq(zenith_pool_index(p, (void *)((uintptr_t)base - 1)), ZENITH_E_FOREIGN);
    cr_assert_eq(zenith_pool_index(p, &i), ZENITH_E_FOREIGN);
    cr_assert_eq(zenith_pool_index(p, NULL), ZENITH_E_NULL);
    cr_assert_eq(zenith_pool_index(NULL, base), ZENITH_E_NULL);
    /* index does not care whether the buffer is in use */
    {
        void *b = zenith_pool_acquire(p);
        int idx = zenith_pool_index(p, b);
        cr_assert_geq(idx, 0);
        cr_assert_eq(zenith_pool_at(p, (uint32_t)idx), b);
        cr_assert_eq(zenith_pool_release(p, b), 0);
        cr_assert_eq(zenith_pool_index(p, b), idx);
    }
    /* none of the queries counted anything */
    EXPECT_STATS(p, .acquires = 1, .releases = 1);
    zenith_pool_destroy(p);
}

Test(pool_layout, index_at_64, .timeout = 10) { index_at_roundtrip(64, 1000); }
Test(pool_layout, index_at_192, .timeout = 10) { index_at_roundtrip(192, 1000); }
Test(pool_layout, index_at_4096, .timeout = 10) { index_at_roundtrip(4096, 300); }
Test(pool_layout, index_at_65536, .timeout = 10) { index_at_roundtrip(65536, 40); }

/* ---- stats ------------------------------------------------------------------------------------------ */

Test(pool_stats, exact_after_known_sequence, .timeout = 10) {
    enum { N = 16 };
    zenith_pool *p = mkpool(64, N, 0, 0);
    unsigned char *a[5];
    void *bulk[4], *rest[N], *many[100];
    int local, i, nrest = 0;
    EXPECT_STATS(p, .in_use = 0);
    for (i = 0; i < 5; i++) cr_assert_not_null(a[i] = zenith_pool_acquire(p));
    EXPECT_STATS(p, .in_use = 5, .acquires = 5);
    cr_assert_eq(zenith_pool_release(p, a[0]), 0);
    cr_assert_eq(zenith_pool_release(p, a[1]), 0);
    EXPECT_STATS(p, .in_use = 3, .acquires = 5, .releases = 2);
    cr_assert_eq(zenith_pool_release(p, a[0]), ZENITH_E_DOUBLE_RELEASE);
    cr_assert_eq(zenith_pool_release(p, &local), ZENITH_E_FOREIGN);
    cr_assert_eq(zenith_pool_release(p, a[2] + 1), ZENITH_E_MISALIGNED);
    cr_assert_eq(zenith_pool_release(p, a[2] + 32), ZENITH_E_MISALIGNED);
    EXPECT_STATS(p, .in_use = 3, .acquires = 5, .releases = 2, .dbl = 1, .foreign = 1, .misaligned = 2);
    cr_assert_eq(zenith_pool_release(p, NULL), ZENITH_E_NULL);
    EXPECT_STATS(p, .in_use = 3, .acquires = 5, .releases = 2, .dbl = 1, .foreign = 1, .misaligned = 2);
    cr_assert_eq(zenith_pool_acquire_bulk(p, bulk, 4), 4);
    EXPECT_STATS(p, .in_use = 7, .acquires = 9, .releases = 2, .dbl = 1, .foreign = 1, .misaligned = 2);
    cr_assert_eq(zenith_pool_acquire_bulk(p, many, 100), ZENITH_E_FULL);
    EXPECT_STATS(p, .in_use = 7, .acquires = 9, .releases = 2, .failed = 1, .dbl = 1, .foreign = 1, .misaligned = 2);
    while ((rest[nrest] = zenith_pool_acquire(p)) != NULL) cr_assert_lt(++nrest, N);
    cr_assert_eq(nrest, N - 7);
    EXPECT_STATS(p, .in_use = N, .acquires = N + 2, .releases = 2, .failed = 2, .dbl = 1, .foreign = 1,
                 .misaligned = 2);
    cr_assert_eq(zenith_pool_release_bulk(p, bulk, 4), 4);
    EXPECT_STATS(p, .in_use = N - 4, .acquires = N + 2, .releases = 6, .failed = 2, .dbl = 1, .foreign = 1,
                 .misaligned = 2);
    cr_assert_eq(zenith_pool_release_bulk(p, bulk, 4), ZENITH_E_DOUBLE_RELEASE);
    EXPECT_STATS(p, .in_use = N - 4, .acquires = N + 2, .releases = 6, .failed = 2, .dbl = 2, .foreign = 1,
                 .misaligned = 2);
    for (i = 2; i < 5; i++) cr_assert_eq(zenith_pool_release(p, a[i]), 0);
    for (i = 0; i < nrest; i++) cr_assert_eq(zenith_pool_release(p, rest[i]), 0);
    EXPECT_STATS(p, .in_use = 0, .acquires = N + 2, .releases = N + 2, .failed = 2, .dbl = 2, .foreign = 1,
                 .misaligned = 2);
    zenith_pool_destroy(p);
}

/* ---- bulk ---------------------------------------------------------------------------------------- */

static void bulk_basic(uint32_t flags) {
    enum { N = 64 };
    zenith_pool *p = mkpool(4096, N, 0, flags);
    void *b[N];
    unsigned char seen[N] = { 0 };
    int i;
    cr_assert_eq(zenith_pool_acquire_bulk(p, b, 10), 10);
    for (i = 0; i < 10; i++) {
        int idx = zenith_pool_index(p, b[i]);
        cr_assert(idx >= 0 && idx < N, "bulk entry %d: %d", i, idx);
        cr_assert_eq(seen[idx], 0, "bulk returned buffer %d twice", idx);
        seen[idx] = 1;
    }
    EXPECT_STATS(p, .in_use = 10, .acquires = 10);
    cr_assert_eq(zenith_pool_release_bulk(p, b, 10), 10);
    EXPECT_STATS(p, .in_use = 0, .acquires = 10, .releases = 10);
    /* the whole pool in one call, then one more fails */
    cr_assert_eq(zenith_pool_acquire_bulk(p, b, N), N);
    memset(seen, 0, sizeof seen);
    for (i = 0; i < N; i++) {
        int idx = zenith_pool_index(p, b[i]);
        cr_assert(idx >= 0 && idx < N);
        cr_assert_eq(seen[idx], 0);
        seen[idx] = 1;
    }
    cr_assert_null(zenith_pool_acquire(p));
    cr_assert_eq(zenith_pool_release_bulk(p, b, N), N);
    EXPECT_STATS(p, .in_use = 0, .acquires = 10 + N, .releases = 10 + N, .failed = 1);
    acquire_all_exactly_once(p);
    zenith_pool_destroy(p);
}

Test(pool_bulk, acquire_release_basic, .timeout = 10) { bulk_basic(0); }
Test(pool_bulk, acquire_release_basic_no_cache, .timeout = 10) { bulk_basic(ZENITH_POOL_NO_CACHE); }

static void bulk_acquire_more_than_free(uint32_t flags) {
    enum { N = 32 };
    zenith_pool *p = mkpool(4096, N, 0, flags);
    void *held[N], *b[N + 8], *x;
    zenith_pool_stats before, after;
    int i, k;
    for (i = 0; i < 20; i++) cr_assert_not_null(held[i] = zenith_pool_acquire(p));
    before = stats_of(p);
    for (k = 13; k <= N + 8; k += 7) {
        memset(b, 0, sizeof b);
        cr_assert_eq(zenith_pool_acquire_bulk(p, b, (unsigned)k), ZENITH_E_FULL, "bulk %d with 12 free", k);
    }
    cr_assert_eq(zenith_pool_acquire_bulk(p, b, 13), ZENITH_E_FULL);
    after = stats_of(p);
    cr_assert_eq(after.in_use, before.in_use);
    cr_assert_eq(after.free, before.free);
    cr_assert_eq(after.acquires, before.acquires);
    cr_assert_eq(after.releases, before.releases);
    cr_assert_eq(after.failed_acquires, before.failed_acquires + 5, "one failure per failed bulk call");
    /* all 12 are still there: exactly 12 in one bulk call, then none */
    cr_assert_eq(zenith_pool_acquire_bulk(p, b, 12), 12);
    cr_assert_null(x = zenith_pool_acquire(p));
    for (i = 0; i < 12; i++) {
        int j;
        for (j = 0; j < 20; j++) cr_assert_neq(b[i], held[j], "bulk handed out a buffer that is in use");
    }
    EXPECT_STATS(p, .in_use = N, .acquires = N, .failed = 6);
    cr_assert_eq(zenith_pool_release_bulk(p, b, 12), 12);
    cr_assert_eq(zenith_pool_release_bulk(p, held, 20), 20);
    EXPECT_STATS(p, .in_use = 0, .acquires = N, .releases = N, .failed = 6);
    acquire_all_exactly_once(p);
    zenith_pool_destroy(p);
}

Test(pool_bulk, acquire_more_than_free_takes_nothing, .timeout = 10) { bulk_acquire_more_than_free(0); }
Test(pool_bulk, acquire_more_than_free_takes_nothing_no_cache, .timeout = 10) {
    bulk_acquire_more_than_free(ZENITH_POOL_NO_CACHE);
}

static void bulk_release_bad(uint32_t flags) {
    enum { N = 64, K = 8 };
    zenith_pool *p = mkpool(4096, N, 0, flags);
    void *b[K], *arr[K + 1], *free_buf = NULL, *rest[N];
    int local, i, pos, nrest = 0;
    uint64_t foreign = 0, misaligned = 0, dbl = 0;
    uint32_t j;
    cr_assert_eq(zenith_pool_acquire_bulk(p, b, K), K);
    for (j = 0; j < N && !free_buf; j++) {
        void *c = zenith_pool_at(p, j);
        int used = 0;
        for (i = 0; i < K; i++) used |= c == b[i];
        if (!used) free_buf = c;
    }
    cr_assert_not_null(free_buf);
    for (pos = 0; pos < K; pos += K - 1) { /* bad pointer first, then last */
        memcpy(arr, b, sizeof b);
        arr[pos] = &local;
        cr_assert_eq(zenith_pool_release_bulk(p, arr, K), ZENITH_E_FOREIGN);
        foreign++;
        arr[pos] = (unsigned char *)zenith_pool_at(p, N - 1) + 4096; /* just past the slab */
        cr_assert_eq(zenith_pool_release_bulk(p, arr, K), ZENITH_E_FOREIGN);
        foreign++;
        arr[pos] = (unsigned char *)b[pos] + 64;
        cr_assert_eq(zenith_pool_release_bulk(p, arr, K), ZENITH_E_MISALIGNED);
        misaligned++;
        arr[pos] = free_buf;
        cr_assert_eq(zenith_pool_release_bulk(p, arr, K), ZENITH_E_DOUBLE_RELEASE);
        dbl++;
        arr[pos] = NULL;
        cr_assert_eq(zenith_pool_release_bulk(p, arr, K), ZENITH_E_NULL);
        EXPECT_STATS(p, .in_use = K, .acquires = K, .foreign = foreign, .misaligned = misaligned, .dbl = dbl);
    }
    /* the same pointer twice: at the end, in the middle, adjacent at the start */
    memcpy(arr, b, sizeof b);
    arr[K] = b[2];
    cr_assert_eq(zenith_pool_release_bulk(p, arr, K + 1), ZENITH_E_DOUBLE_RELEASE);
    dbl++;
    arr[K] = b[K - 1];
    cr_assert_eq(zenith_pool_release_bulk(p, arr, K + 1), ZENITH_E_DOUBLE_RELEASE);
    dbl++;
    arr[0] = b[0];
    arr[1] = b[0];
    cr_assert_eq(zenith_pool_release_bulk(p, arr, 2), ZENITH_E_DOUBLE_RELEASE);
    dbl++;
    EXPECT_STATS(p, .in_use = K, .acquires = K, .foreign = foreign, .misaligned = misaligned, .dbl = dbl);
    /* nothing was released: the other buffers are exactly N - K, none of them one of b[] */
    while ((rest[nrest] = zenith_pool_acquire(p)) != NULL) {
        for (i = 0; i < K; i++) cr_assert_neq(rest[nrest], b[i], "a rejected bulk release freed buffer %d", i);
        cr_assert_lt(++nrest, N);
    }
    cr_assert_eq(nrest, N - K);
    cr_assert_eq(zenith_pool_release_bulk(p, rest, (unsigned)nrest), nrest);
    /* every b[] is still in use: each releases fine exactly once */
    cr_assert_eq(zenith_pool_release_bulk(p, b, K), K);
    cr_assert_eq(zenith_pool_release_bulk(p, b, K), ZENITH_E_DOUBLE_RELEASE);
    dbl++;
    EXPECT_STATS(p, .in_use = 0, .acquires = N, .releases = N, .failed = 1, .foreign = foreign,
                 .misaligned = misaligned, .dbl = dbl);
    acquire_all_exactly_once(p);
    zenith_pool_destroy(p);
}

Test(pool_bulk, release_with_bad_pointer_releases_nothing, .timeout = 10) { bulk_release_bad(0); }
Test(pool_bulk, release_with_bad_pointer_releases_nothing_no_cache, .timeout = 10) {
    bulk_release_bad(ZENITH_POOL_NO_CACHE);
}

/* ---- per-thread caches: flush and thread exit -------------------------------------------------- */

typedef struct {
    zenith_pool *pool;
    uint32_t got;
    int rounds, per_round;
    int flush_rc;
} grab_arg;

/* acquires everything it can see, releases it all, exits (its cache is drained at exit) */
static void *grab_all_thread(void *v) {
    grab_arg *a = v;
    void **bufs = malloc(sizeof(void *) * (info_of(a->pool).buffer_count + 1u));
    uint32_t i;
    void *b;
    a->got = 0;
    while ((b = zenith_pool_acquire(a->pool)) != NULL) bufs[a->got++] = b;
    for (i = 0; i < a->got; i++)
        if (zenith_pool_release(a->pool, bufs[i]) != 0) a->got = UINT32_MAX;
    free(bufs);
    return NULL;
}

Test(pool_cache, flush_returns_cached_count, .timeout = 10) {
    enum { N = 256 };
    zenith_pool *p = mkpool(64, N, 32, 0);
    grab_arg g = { p, 0, 0, 0, 0 };
    void *b[10];
    int i, flushed;
    cr_assert_eq(zenith_pool_flush(p), 0, "nothing cached yet");
    for (i = 0; i < 10; i++) cr_assert_not_null(b[i] = zenith_pool_acquire(p));
    for (i = 0; i < 10; i++) cr_assert_eq(zenith_pool_release(p, b[i]), 0);
    /* another thread sees everything but this thread's cache */
    run_thread(grab_all_thread, &g);
    cr_assert_neq(g.got, UINT32_MAX, "release failed in the helper thread");
    cr_assert_leq(g.got, N);
    flushed = zenith_pool_flush(p);
    cr_assert_geq(flushed, 0, "flush: %s", zenith_errname(flushed));
    cr_assert_gt(flushed, 0, "released buffers should sit in this thread's cache");
    cr_assert_leq(flushed, 32, "more than cache_size cached");
    cr_assert_eq((uint32_t)flushed, N - g.got, "flush moved %d buffers but %u were invisible to another thread",
                 flushed, N - g.got);
    /* after the flush another thread sees all of them */
    run_thread(grab_all_thread, &g);
    cr_assert_eq(g.got, N, "after flush another thread got %u of %d", g.got, N);
    cr_assert_eq(zenith_pool_flush(p), 0, "cache is empty after a flush");
    EXPECT_STATS(p, .acquires = 10 + (N - flushed) + N, .releases = 10 + (N - flushed) + N, .failed = 2);
    acquire_all_exactly_once(p);
    zenith_pool_destroy(p);
}

Test(pool_cache, flush_no_cache_is_zero, .timeout = 10) {
    zenith_pool *p = mkpool(64, 64, 0, ZENITH_POOL_NO_CACHE);
    grab_arg g = { p, 0, 0, 0, 0 };
    void *b[10];
    int i;
    for (i = 0; i < 10; i++) cr_assert_not_null(b[i] = zenith_pool_acquire(p));
    for (i = 0; i < 10; i++) cr_assert_eq(zenith_pool_release(p, b[i]), 0);
    cr_assert_eq(zenith_pool_flush(p), 0);
    run_thread(grab_all_thread, &g);
    cr_assert_eq(g.got, 64);
    EXPECT_STATS(p, .acquires = 74, .releases = 74, .failed = 1);
    zenith_pool_destroy(p);
}

static void *churn_thread(void *v) {
    grab_arg *a = v;
    void *bufs[512];
    int r, i, n;
    for (r = 0; r < a->rounds; r++) {
        for (n = 0; n < a->per_round && n < 512; n++)
            if ((bufs[n] = zenith_pool_acquire(a->pool)) == NULL) break;
        for (i = 0; i < n; i++)
            if (zenith_pool_release(a->pool, bufs[i]) != 0) a->got = UINT32_MAX;
    }
    return NULL;
}

Test(pool_cache, thread_exit_returns_cached_buffers, .timeout = 10) {
    enum { N = 1024 };
    zenith_pool *p = mkpool(64, N, 0, 0);
    grab_arg g = { p, 0, 10, 300, 0 };
    zenith_pool_stats s;
    run_thread(churn_thread, &g);
    cr_assert_neq(g.got, UINT32_MAX);
    s = stats_of(p);
    cr_assert_eq(s.in_use, 0);
    cr_assert_eq(s.acquires, 3000);
    /* the exited thread's cache went back: this thread gets every buffer */
    acquire_all_exactly_once(p);
    zenith_pool_destroy(p);
}

typedef struct {
    grab_arg *g;
    int n;
} multi_arg;

static void *churn_many_thread(void *v) {
    multi_arg *m = v;
    int i;
    for (i = 0; i < m->n; i++) churn_thread(&m->g[i]);
    return NULL;
}

Test(pool_cache, thread_exit_drains_every_pool, .timeout = 10) {
    zenith_pool *p[3];
    grab_arg g[3];
    multi_arg m = { g, 3 };
    int i;
    for (i = 0; i < 3; i++) {
        p[i] = mkpool((size_t)64 << i, 512, 64, 0);
        g[i] = (grab_arg){ p[i], 0, 5, 200, 0 };
    }
    run_thread(churn_many_thread, &m);
    for (i = 0; i < 3; i++) {
        cr_assert_neq(g[i].got, UINT32_MAX);
        cr_assert_eq(stats_of(p[i]).in_use, 0);
        acquire_all_exactly_once(p[i]);
    }
    for (i = 0; i < 3; i++) zenith_pool_destroy(p[i]);
}

Test(pool_cache, thread_slots_recycled_after_exit, .timeout = 10) {
    /* more threads over time than ZENITH_POOL_MAX_THREADS (64), one after another */
    enum { N = 1024, THREADS = 100 };
    zenith_pool *p = mkpool(64, N, 16, 0);
    grab_arg g = { p, 0, 3, 40, 0 };
    int t;
    for (t = 0; t < THREADS; t++) {
        run_thread(churn_thread, &g);
        cr_assert_neq(g.got, UINT32_MAX);
    }
    EXPECT_STATS(p, .acquires = THREADS * 3 * 40, .releases = THREADS * 3 * 40);
    acquire_all_exactly_once(p);
    zenith_pool_destroy(p);
}

typedef struct {
    zenith_pool *pool;
    pthread_barrier_t *bar;
    int bad;
} wait_arg;

static void *churn_then_wait_thread(void *v) {
    wait_arg *w = v;
    grab_arg g = { w->pool, 0, 4, 100, 0 };
    churn_thread(&g);
    if (g.got == UINT32_MAX) w->bad = 1;
    pthread_barrier_wait(w->bar); /* 1: done with the pool, still alive */
    pthread_barrier_wait(w->bar); /* 2: main is done, exit */
    return NULL;
}

Test(pool_cache, destroy_while_a_thread_still_caches, .timeout = 10) {
    /* a live thread holds cached buffers of P; P is destroyed; the thread exits later: its
       exit must not touch P (ASan catches it) and must leave a new pool Q intact */
    pthread_barrier_t bar;
    pthread_t t;
    wait_arg w;
    zenith_pool *q;
    cr_assert_eq(pthread_barrier_init(&bar, NULL, 2), 0);
    w.pool = mkpool(4096, 256, 0, 0);
    w.bar = &bar;
    w.bad = 0;
    cr_assert_eq(pthread_create(&t, NULL, churn_then_wait_thread, &w), 0);
    pthread_barrier_wait(&bar);
    cr_assert_eq(w.bad, 0);
    zenith_pool_destroy(w.pool);
    q = mkpool(4096, 256, 0, 0);
    pthread_barrier_wait(&bar);
    cr_assert_eq(pthread_join(t, NULL), 0);
    EXPECT_STATS(q, .in_use = 0);
    acquire_all_exactly_once(q);
    zenith_pool_destroy(q);
    pthread_barrier_destroy(&bar);
}

Test(pool_cache, no_cache_parks_nothing_in_live_threads, .timeout = 10) {
    pthread_barrier_t bar;
    pthread_t t;
    wait_arg w;
    cr_assert_eq(pthread_barrier_init(&bar, NULL, 2), 0);
    w.pool = mkpool(4096, 256, 0, ZENITH_POOL_NO_CACHE);
    w.bar = &bar;
    w.bad = 0;
    cr_assert_eq(info_of(w.pool).cache_size, 0);
    cr_assert_eq(pthread_create(&t, NULL, churn_then_wait_thread, &w), 0);
    pthread_barrier_wait(&bar);
    cr_assert_eq(w.bad, 0);
    /* the other thread is alive and has used the pool: still every buffer is here */
    acquire_all_exactly_once(w.pool);
    cr_assert_eq(zenith_pool_flush(w.pool), 0);
    pthread_barrier_wait(&bar);
    cr_assert_eq(pthread_join(t, NULL), 0);
    EXPECT_STATS(w.pool, .acquires = 400 + 256, .releases = 400 + 256, .failed = 1);
    zenith_pool_destroy(w.pool);
    pthread_barrier_destroy(&bar);
}

/* ---- caller-provided memory -------------------------------------------------------------------- */

static void *map_region(size_t len) {
    void *m = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    cr_assert_neq(m, MAP_FAILED, "mmap: %s", strerror(errno));
    return m;
}

Test(pool_memory, caller_memory_is_used, .timeout = 10) {
    enum { N = 64 };
    size_t len = (size_t)N * 4096;
    unsigned char *mem = map_region(len + PAGE);
    zenith_pool_config cfg = mkcfg(4096, N, 0, 0);
    zenith_pool *p;
    zenith_pool_info inf;
    unsigned char *b;
    uint32_t i;
    memset(mem, 0x11, len + PAGE);
    cfg.memory = mem;
    cfg.memory_size = len;
    p = mkpool_cfg(&cfg);
    inf = info_of(p);
    cr_assert_eq(zenith_pool_at(p, 0), (void *)mem);
    cr_assert_eq(inf.base, (void *)mem);
    cr_assert(inf.flags & ZENITH_POOL_INFO_CALLER_MEMORY);
    cr_assert_eq(inf.flags & (ZENITH_POOL_INFO_HUGETLB | ZENITH_POOL_INFO_THP_ADVISED), 0);
    cr_assert_eq(inf.slab_size, len);
    for (i = 0; i < N; i++) cr_assert_eq(zenith_pool_at(p, i), (void *)(mem + (size_t)i * 4096));
    b = zenith_pool_acquire(p);
    cr_assert_not_null(b);
    cr_assert(b >= mem && b < mem + len);
    cr_assert_eq(b[0], 0x11, "the pool must not clear caller memory");
    memcpy(b, "zenith", 6);
    cr_assert_eq(memcmp(mem + (size_t)zenith_pool_index(p, b) * 4096, "zenith", 6), 0);
    cr_assert_eq(zenith_pool_release(p, b), 0);
    acquire_all_exactly_once(p);
    cr_assert_eq(zenith_pool_release(p, mem + len), ZENITH_E_FOREIGN, "past the configured slab");
    zenith_pool_destroy(p);
    /* still ours, still mapped, contents kept */
    cr_assert_eq(memcmp(mem + (size_t)(b - mem), "zenith", 6), 0);
    mem[len - 1] = 0x22;
    mem[len] = 0x33;
    cr_assert_eq(munmap(mem, len + PAGE), 0);
}

Test(pool_memory, caller_memory_exact_size_not_page_multiple, .timeout = 10) {
    /* 192 x 10 = 1920 bytes in a one-page region; memory_size exactly the slab */
    unsigned char *mem = map_region(PAGE);
    zenith_pool_config cfg = mkcfg(192, 10, 0, 0);
    zenith_pool *p;
    cfg.memory = mem;
    cfg.memory_size = 1920;
    p = mkpool_cfg(&cfg);
    cr_assert_eq(zenith_pool_at(p, 0), (void *)mem);
    cr_assert_eq(zenith_pool_at(p, 9), (void *)(mem + 9 * 192));
    cr_assert_null(zenith_pool_at(p, 10));
    acquire_all_exactly_once(p);
    zenith_pool_destroy(p);
    cr_assert_eq(munmap(mem, PAGE), 0);
}

Test(pool_memory, caller_memory_offset_page_in_region, .timeout = 10) {
    unsigned char *mem = map_region(4 * PAGE);
    zenith_pool_config cfg = mkcfg(64, 64, 0, 0);
    zenith_pool *p;
    cfg.memory = mem + PAGE;
    cfg.memory_size = 3 * PAGE;
    p = mkpool_cfg(&cfg);
    cr_assert_eq(zenith_pool_at(p, 0), (void *)(mem + PAGE));
    cr_assert_eq(zenith_pool_release(p, mem), ZENITH_E_FOREIGN, "before the configured slab");
    acquire_all_exactly_once(p);
    zenith_pool_destroy(p);
    cr_assert_eq(munmap(mem, 4 * PAGE), 0);
}

Test(pool_memory, caller_memory_too_small_or_misaligned, .timeout = 10) {
    unsigned char *mem = map_region(16 * PAGE);
    static const size_t offsets[] = { 1, 64, 2048, PAGE - 64 };
    zenith_pool_config cfg = mkcfg(4096, 8, 0, 0);
    size_t i;
    int err;
    cfg.memory = mem;
    cfg.memory_size = 8 * 4096 - 1;
    err = 0;
    cr_assert_null(zenith_pool_create(&cfg, &err));
    cr_assert_eq(err, ZENITH_E_INVAL, "too small: %s", zenith_errname(err));
    cfg.memory_size = 4096;
    err = 0;
    cr_assert_null(zenith_pool_create(&cfg, &err));
    cr_assert_eq(err, ZENITH_E_INVAL);
    cfg.memory_size = 0;
    err = 0;
    cr_assert_null(zenith_pool_create(&cfg, &err));
    cr_assert_eq(err, ZENITH_E_INVAL);
    for (i = 0; i < sizeof offsets / sizeof offsets[0]; i++) {
        cfg.memory = mem + offsets[i];
        cfg.memory_size = 15 * PAGE;
        err = 0;
        cr_assert_null(zenith_pool_create(&cfg, &err), "memory at page + %zu accepted", offsets[i]);
        cr_assert_eq(err, ZENITH_E_INVAL);
    }
    /* exactly enough is fine */
    cfg.memory = mem;
    cfg.memory_size = 8 * 4096;
    {
        zenith_pool *p = mkpool_cfg(&cfg);
        acquire_all_exactly_once(p);
        zenith_pool_destroy(p);
    }
    cr_assert_eq(munmap(mem, 16 * PAGE), 0);
}

Test(pool_memory, caller_memory_ignores_huge_pages, .timeout = 10) {
    unsigned char *mem = map_region(16 * PAGE);
    zenith_pool_config cfg = mkcfg(4096, 16, 0, ZENITH_POOL_HUGE_PAGES);
    zenith_pool *p;
    zenith_pool_info inf;
    cfg.memory = mem;
    cfg.memory_size = 16 * PAGE;
    p = mkpool_cfg(&cfg);
    inf = info_of(p);
    cr_assert_eq(inf.base, (void *)mem);
    cr_assert(inf.flags & ZENITH_POOL_INFO_CALLER_MEMORY);
    cr_assert_eq(inf.flags & ZENITH_POOL_INFO_HUGETLB, 0);
    acquire_all_exactly_once(p);
    zenith_pool_destroy(p);
    cr_assert_eq(munmap(mem, 16 * PAGE), 0);
}

/* ---- prefault, huge pages ------------------------------------------------------------------------ */

Test(pool_placement, prefault_makes_every_page_resident, .timeout = 10) {
    static const struct {
        size_t size;
        uint32_t count;
    } cases[] = { { 4096, 512 }, { 192, 1000 }, { 65536, 33 } };
    size_t c, total, res;
    for (c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        zenith_pool *p = mkpool(cases[c].size, cases[c].count, 0, ZENITH_POOL_PREFAULT);
        zenith_pool_info inf = info_of(p);
        cr_assert(inf.flags & ZENITH_POOL_INFO_PREFAULTED);
        res = resident_pages(inf.base, inf.slab_size, &total);
        cr_assert_eq(res, total, "size %zu x %u: %zu of %zu pages resident", cases[c].size, cases[c].count, res, total);
        acquire_all_exactly_once(p);
        zenith_pool_destroy(p);
    }
}

Test(pool_placement, no_prefault_control, .timeout = 10) {
    /* without the flag a fresh slab is not resident: shows the mincore check above means something */
    zenith_pool *p = mkpool(4096, 512, 0, 0);
    zenith_pool_info inf = info_of(p);
    size_t total, res = resident_pages(inf.base, inf.slab_size, &total);
    cr_assert_eq(inf.flags & ZENITH_POOL_INFO_PREFAULTED, 0);
    cr_assert_lt(res, total, "%zu of %zu pages resident without PREFAULT", res, total);
    zenith_pool_destroy(p);
}

Test(pool_placement, prefault_caller_memory, .timeout = 10) {
    size_t len = 64 * PAGE, total, res;
    unsigned char *mem = map_region(len);
    zenith_pool_config cfg = mkcfg(4096, 64, 0, ZENITH_POOL_PREFAULT);
    zenith_pool *p;
    cfg.memory = mem;
    cfg.memory_size = len;
    p = mkpool_cfg(&cfg);
    cr_assert(info_of(p).flags & ZENITH_POOL_INFO_PREFAULTED);
    cr_assert(info_of(p).flags & ZENITH_POOL_INFO_CALLER_MEMORY);
    res = resident_pages(mem, len, &total);
    cr_assert_eq(res, total, "%zu of %zu pages resident", res, total);
    zenith_pool_destroy(p);
    cr_assert_eq(munmap(mem, len), 0);
}

static long read_long_file(const char *path) {
    FILE *f = fopen(path, "r");
    long v = -1;
    if (f) {
        if (fscanf(f, "%ld", &v) != 1) v = -1;
        fclose(f);
    }
    return v;
}

Test(pool_placement, huge_pages_fall_back, .timeout = 10) {
    zenith_pool *p = mkpool(4096, 1024, 0, ZENITH_POOL_HUGE_PAGES);
    zenith_pool_info inf = info_of(p);
    uint32_t hp = inf.flags & (ZENITH_POOL_INFO_HUGETLB | ZENITH_POOL_INFO_THP_ADVISED);
    cr_assert(hp == ZENITH_POOL_INFO_HUGETLB || hp == ZENITH_POOL_INFO_THP_ADVISED,
              "info flags %#x: want exactly one of HUGETLB / THP_ADVISED", inf.flags);
    if (read_long_file("/proc/sys/vm/nr_hugepages") == 0 && read_long_file("/proc/sys/vm/nr_overcommit_hugepages") == 0)
        cr_assert_eq(hp, ZENITH_POOL_INFO_THP_ADVISED, "no hugetlb pages reserved, yet HUGETLB reported");
    cr_assert_eq(inf.slab_size, (size_t)4096 * 1024);
    cr_assert_eq((uintptr_t)inf.base % PAGE, 0);
    acquire_all_exactly_once(p);
    zenith_pool_destroy(p);
    /* with prefault too */
    p = mkpool(192, 5000, 0, ZENITH_POOL_HUGE_PAGES | ZENITH_POOL_PREFAULT);
    inf = info_of(p);
    cr_assert(inf.flags & ZENITH_POOL_INFO_PREFAULTED);
    cr_assert(inf.flags & (ZENITH_POOL_INFO_HUGETLB | ZENITH_POOL_INFO_THP_ADVISED));
    acquire_all_exactly_once(p);
    zenith_pool_destroy(p);
}

Test(pool_placement, huge_pages_required, .timeout = 10) {
    zenith_pool_config cfg = mkcfg(4096, 1024, 0, ZENITH_POOL_HUGE_PAGES | ZENITH_POOL_HUGE_PAGES_REQUIRED);
    int err = 12345;
    zenith_pool *p = zenith_pool_create(&cfg, &err);
    int none_reserved =
        read_long_file("/proc/sys/vm/nr_hugepages") == 0 && read_long_file("/proc/sys/vm/nr_overcommit_hugepages") == 0;
    if (p) {
        zenith_pool_info inf = info_of(p);
        cr_assert_eq(err, 0);
        cr_assert_not(none_reserved, "hugetlb mapping succeeded with no huge pages reserved");
        cr_assert(inf.flags & ZENITH_POOL_INFO_HUGETLB, "REQUIRED pool without HUGETLB: flags %#x", inf.flags);
        cr_assert_eq(inf.flags & ZENITH_POOL_INFO_THP_ADVISED, 0);
        acquire_all_exactly_once(p);
        zenith_pool_destroy(p);
    } else {
        cr_assert(ZENITH_IS_ESYS(err), "err %d (%s), want ZENITH_ESYS(e)", err, zenith_errname(err));
        cr_assert_gt(zenith_errno(err), 0);
    }
}

/* ---- custom allocator ------------------------------------------------------------------------------ */

typedef struct {
    int allocs, frees, fail_after;
    size_t alloc_size, free_size;
    void *alloc_ptr, *free_ptr;
    int bad_user;
} alloc_count;

static alloc_count *g_counter; /* for counting_alloc used without user data */

static void *counting_alloc(size_t size, void *user) {
    alloc_count *c = user ? user : g_counter;
    void *ptr;
    if (c == NULL) return malloc(size);
    if (c->fail_after >= 0 && c->allocs >= c->fail_after) {
        c->allocs++;
        return NULL;
    }
    ptr = malloc(size);
    c->allocs++;
    c->alloc_size = size;
    c->alloc_ptr = ptr;
    return ptr;
}

static void counting_free(void *ptr, size_t size, void *user) {
    alloc_count *c = user ? user : g_counter;
    if (c) {
        c->frees++;
        c->free_size = size;
        c->free_ptr = ptr;
    }
    free(ptr);
}

Test(pool_alloc, custom_allocator_used, .timeout = 10) {
    alloc_count c;
    zenith_pool_config cfg = mkcfg(4096, 256, 0, 0);
    zenith_pool *p;
    zenith_pool_info inf;
    int i;
    memset(&c, 0, sizeof c);
    c.fail_after = -1;
    cfg.allocator.alloc = counting_alloc;
    cfg.allocator.free = counting_free;
    cfg.allocator.user = &c;
    p = mkpool_cfg(&cfg);
    inf = info_of(p);
    cr_assert_eq(c.allocs, 1, "create: %d allocator calls", c.allocs);
    cr_assert_eq(c.frees, 0);
    cr_assert_eq(c.alloc_size, inf.metadata_size, "alloc size %zu vs metadata_size %zu", c.alloc_size,
                 inf.metadata_size);
    /* acquire / release / bulk / flush / stats never allocate */
    for (i = 0; i < 1000; i++) {
        void *b[16];
        void *x = zenith_pool_acquire(p);
        cr_assert_not_null(x);
        cr_assert_eq(zenith_pool_acquire_bulk(p, b, 16), 16);
        cr_assert_eq(zenith_pool_release_bulk(p, b, 16), 16);
        cr_assert_eq(zenith_pool_release(p, x), 0);
    }
    cr_assert_geq(zenith_pool_flush(p), 0);
    acquire_all_exactly_once(p);
    cr_assert_eq(c.allocs, 1, "the pool allocated after create");
    cr_assert_eq(c.frees, 0);
    zenith_pool_destroy(p);
    cr_assert_eq(c.allocs, 1);
    cr_assert_eq(c.frees, 1);
    cr_assert_eq(c.free_ptr, c.alloc_ptr, "destroy freed another pointer");
    cr_assert_eq(c.free_size, c.alloc_size, "free got size %zu, alloc was asked %zu", c.free_size, c.alloc_size);
}

Test(pool_alloc, custom_allocator_failure_is_nomem, .timeout = 10) {
    alloc_count c;
    zenith_pool_config cfg = mkcfg(4096, 256, 0, 0);
    int err = 12345;
    memset(&c, 0, sizeof c);
    c.fail_after = 0;
    cfg.allocator.alloc = counting_alloc;
    cfg.allocator.free = counting_free;
    cfg.allocator.user = &c;
    cr_assert_null(zenith_pool_create(&cfg, &err));
    cr_assert_eq(err, ZENITH_E_NOMEM, "err %d (%s)", err, zenith_errname(err));
    cr_assert_eq(c.allocs, 1);
    cr_assert_eq(c.frees, 0, "freed something it never got");
}

Test(pool_alloc, allocator_both_or_neither, .timeout = 10) {
    alloc_count c;
    zenith_pool_config cfg = mkcfg(4096, 16, 0, 0);
    int err;
    memset(&c, 0, sizeof c);
    c.fail_after = -1;
    cfg.allocator.user = &c;
    cfg.allocator.alloc = counting_alloc;
    err = 0;
    cr_assert_null(zenith_pool_create(&cfg, &err));
    cr_assert_eq(err, ZENITH_E_INVAL);
    cfg.allocator.alloc = NULL;
    cfg.allocator.free = counting_free;
    err = 0;
    cr_assert_null(zenith_pool_create(&cfg, &err));
    cr_assert_eq(err, ZENITH_E_INVAL);
    cr_assert_eq(c.allocs, 0);
    cr_assert_eq(c.frees, 0);
    /* neither (user pointer alone is ignored) */
    cfg.allocator.free = NULL;
    {
        zenith_pool *p = mkpool_cfg(&cfg);
        zenith_pool_destroy(p);
    }
    cr_assert_eq(c.allocs, 0);
    cr_assert_eq(c.frees, 0);
}

/* ---- scale -------------------------------------------------------------------------------------------- */

Test(pool_scale, million_buffers_of_64, .timeout = 10) {
    zenith_pool *p = mkpool(64, 1000000, 0, 0);
    zenith_pool_info inf = info_of(p);
    cr_assert_eq(inf.buffer_count, 1000000);
    cr_assert_eq(inf.slab_size, (size_t)64 * 1000000);
    cr_assert_eq(zenith_pool_index(p, zenith_pool_at(p, 999999)), 999999);
    cr_assert_null(zenith_pool_at(p, 1000000));
    acquire_all_exactly_once(p);
    EXPECT_STATS(p, .acquires = 1000000, .releases = 1000000, .failed = 1);
    /* and again, in bulk */
    {
        void **b = malloc(1000000 * sizeof(void *));
        cr_assert_not_null(b);
        cr_assert_eq(zenith_pool_acquire_bulk(p, b, 1000000), 1000000);
        cr_assert_null(zenith_pool_acquire(p));
        cr_assert_eq(zenith_pool_release_bulk(p, b, 1000000), 1000000);
        free(b);
    }
    EXPECT_STATS(p, .acquires = 2000000, .releases = 2000000, .failed = 2);
    zenith_pool_destroy(p);
}

/* ---- NUMA placement (ZENITH_POOL_NUMA_NODE: raw syscalls, no libnuma) --------------------------- */

/* Node of every page in [base, base + len) by move_pages(2) with no target nodes (a query):
   returns how many pages are on `node`; *absent gets the pages not faulted in. */
static size_t pages_on_node(const void *base, size_t len, int node, size_t *absent) {
    enum { CHUNK = 256 };
    void *pages[CHUNK];
    int status[CHUNK];
    size_t off = 0, on = 0;
    *absent = 0;
    while (off < len) {
        unsigned long n = 0, i;
        for (; n < CHUNK && off < len; n++, off += PAGE) pages[n] = (char *)(uintptr_t)base + off;
        cr_assert_eq(syscall(SYS_move_pages, 0, n, pages, NULL, status, 0), 0, "move_pages: %s", strerror(errno));
        for (i = 0; i < n; i++) {
            if (status[i] == node) on++;
            if (status[i] == -ENOENT) ++*absent;
        }
    }
    return on;
}

Test(pool_numa, slab_faulted_in_on_node_0, .timeout = 10) {
    zenith_pool_config cfg = mkcfg(4096, 512, 0, ZENITH_POOL_NUMA_NODE | ZENITH_POOL_PREFAULT);
    zenith_pool *p;
    zenith_pool_info inf;
    size_t absent, on;
    cfg.numa_node = 0;
    p = mkpool_cfg(&cfg);
    inf = info_of(p);
    cr_assert_eq(inf.numa_node, 0);
    cr_assert(inf.flags & ZENITH_POOL_INFO_NUMA_BOUND, "flags %#x", inf.flags);
    cr_assert(inf.flags & ZENITH_POOL_INFO_PREFAULTED);
    on = pages_on_node(inf.base, inf.slab_size, 0, &absent);
    cr_assert_eq(absent, 0, "%zu pages not faulted in", absent);
    cr_assert_eq(on, inf.slab_size / PAGE, "%zu of %zu pages on node 0", on, inf.slab_size / PAGE);
    acquire_all_exactly_once(p);
    zenith_pool_destroy(p);
}

/* Without PREFAULT nothing is resident at create; pages land on the node as they are touched,
   here by whatever CPU this thread runs on. */
Test(pool_numa, untouched_pages_land_on_the_node_when_touched, .timeout = 10) {
    zenith_pool_config cfg = mkcfg(4096, 64, 0, ZENITH_POOL_NUMA_NODE);
    zenith_pool *p = mkpool_cfg(&cfg);
    zenith_pool_info inf = info_of(p);
    size_t absent, i;
    cr_assert_eq(inf.flags & ZENITH_POOL_INFO_PREFAULTED, 0);
    cr_assert_eq(pages_on_node(inf.base, inf.slab_size, 0, &absent), 0);
    cr_assert_eq(absent, 64, "nothing resident before use");
    for (i = 0; i < 64; i++) {
        unsigned char *b = zenith_pool_acquire(p);
        cr_assert_not_null(b);
        b[0] = 1;
    }
    cr_assert_eq(pages_on_node(inf.base, inf.slab_size, 0, &absent), 64);
    zenith_pool_destroy(p);
}

Test(pool_numa, without_the_flag_numa_node_is_minus_one, .timeout = 10) {
    zenith_pool *p = mkpool(4096, 8, 0, 0);
    zenith_pool_info inf = info_of(p);
    cr_assert_eq(inf.numa_node, -1);
    cr_assert_eq(inf.flags & ZENITH_POOL_INFO_NUMA_BOUND, 0);
    zenith_pool_destroy(p);
}

Test(pool_numa, huge_pages_and_a_custom_allocator_on_node_0, .timeout = 10) {
    alloc_count c = { 0, 0, -1, 0, 0, NULL, NULL, 0 };
    zenith_pool_config cfg =
        mkcfg(4096, 1024, 0, ZENITH_POOL_NUMA_NODE | ZENITH_POOL_HUGE_PAGES | ZENITH_POOL_PREFAULT);
    zenith_pool *p;
    zenith_pool_info inf;
    size_t absent;
    cfg.allocator.alloc = counting_alloc;
    cfg.allocator.free = counting_free;
    cfg.allocator.user = &c;
    p = mkpool_cfg(&cfg);
    cr_assert_eq(c.allocs, 1, "the caller's allocator still gives the metadata");
    inf = info_of(p);
    cr_assert(inf.flags & ZENITH_POOL_INFO_NUMA_BOUND);
    cr_assert_eq(pages_on_node(inf.base, inf.slab_size, 0, &absent), inf.slab_size / PAGE);
    acquire_all_exactly_once(p);
    zenith_pool_destroy(p);
    cr_assert_eq(c.frees, 1);
}

/* A kernel without NUMA (mbind and the policy calls give ENOSYS): node 0 is the one node and is
   accepted, unbound; any other node does not exist. */
Test(pool_numa, kernel_without_numa_node_0_only, .timeout = 10) {
    const int nrs[] = { SYS_mbind, SYS_set_mempolicy, SYS_get_mempolicy, SYS_move_pages };
    zenith_pool_config cfg = mkcfg(4096, 64, 0, ZENITH_POOL_NUMA_NODE);
    zenith_pool *p;
    int err = 12345;
    deny_syscalls(ENOSYS, nrs, 4);
    cfg.numa_node = 0;
    p = mkpool_cfg(&cfg);
    cr_assert_eq(info_of(p).numa_node, 0);
    cr_assert_eq(info_of(p).flags & ZENITH_POOL_INFO_NUMA_BOUND, 0, "nothing was bound");
    acquire_all_exactly_once(p);
    zenith_pool_destroy(p);
    cfg.numa_node = 1;
    cr_assert_null(zenith_pool_create(&cfg, &err));
    cr_assert_eq(err, ZENITH_E_INVAL, "%d %s", err, zenith_errname(err));
}

/* A container profile that refuses mbind (EPERM): a clear system code, nothing leaked. */
Test(pool_numa, mbind_refused_gives_esys_eperm, .timeout = 10) {
    const int nr = SYS_mbind;
    alloc_count c = { 0, 0, -1, 0, 0, NULL, NULL, 0 };
    zenith_pool_config cfg = mkcfg(4096, 64, 0, ZENITH_POOL_NUMA_NODE);
    int err = 12345;
    cfg.allocator.alloc = counting_alloc;
    cfg.allocator.free = counting_free;
    cfg.allocator.user = &c;
    deny_syscalls(EPERM, &nr, 1);
    cr_assert_null(zenith_pool_create(&cfg, &err));
    cr_assert_eq(err, ZENITH_ESYS(EPERM), "%d %s", err, zenith_errname(err));
    cr_assert_eq(c.allocs, c.frees, "metadata freed on the error path");
}
