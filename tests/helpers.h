/* helpers.h -- pool helpers shared by the test suites (after zenith.h and criterion_compat.h).
   Every helper asserts what it relies on, so a failure points at the caller's line of intent. */
#ifndef ZENITH_TEST_HELPERS_H
#define ZENITH_TEST_HELPERS_H

#include <errno.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>

#define PAGE 4096u

/* 1 when running under valgrind (its preload is in the environment of every traced process). */
static inline int under_valgrind(void) {
    const char *p = getenv("LD_PRELOAD");
    return p != NULL && strstr(p, "vgpreload") != NULL;
}

/* Makes the listed system calls fail with errno `err` in this process from now on (a seccomp
   filter, as a container profile would): tests run each in its own process, so this stays in
   the test. At most 8 calls. */
static inline void deny_syscalls(int err, const int *nrs, unsigned n) {
    struct sock_filter f[2 + 8 + 2];
    unsigned i, k = 0;
    cr_assert(n >= 1 && n <= 8);
    f[k++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr));
    for (i = 0; i < n; i++) /* match: jump to the ERRNO return, n - i steps ahead */
        f[k++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (unsigned)nrs[i], (unsigned char)(n - i), 0);
    f[k++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
    f[k++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | ((unsigned)err & SECCOMP_RET_DATA));
    {
        struct sock_fprog prog = { (unsigned short)k, f };
        cr_assert_eq(prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), 0);
        cr_assert_eq(prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog, 0, 0), 0, "seccomp: %s", strerror(errno));
    }
}

static inline zenith_pool_config mkcfg(size_t size, uint32_t count, uint32_t cache, uint32_t flags) {
    zenith_pool_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.buffer_size = size;
    cfg.buffer_count = count;
    cfg.cache_size = cache;
    cfg.flags = flags;
    return cfg;
}

static inline zenith_pool *mkpool_cfg(const zenith_pool_config *cfg) {
    int err = 12345;
    zenith_pool *p = zenith_pool_create(cfg, &err);
    cr_assert_not_null(p, "zenith_pool_create(%zu x %u, cache %u, flags %#x) failed: %d %s", cfg->buffer_size,
                       cfg->buffer_count, cfg->cache_size, cfg->flags, err, zenith_errname(err));
    cr_assert_eq(err, 0, "err = %d on success", err);
    return p;
}

static inline zenith_pool *mkpool(size_t size, uint32_t count, uint32_t cache, uint32_t flags) {
    zenith_pool_config cfg = mkcfg(size, count, cache, flags);
    return mkpool_cfg(&cfg);
}

static inline zenith_pool_stats stats_of(const zenith_pool *p) {
    zenith_pool_stats s;
    memset(&s, 0xa5, sizeof s);
    cr_assert_eq(zenith_pool_get_stats(p, &s), 0);
    cr_assert_eq(s.rejected_releases, s.rejected_foreign + s.rejected_misaligned + s.rejected_double,
                 "rejected_releases %llu != foreign %llu + misaligned %llu + double %llu",
                 (unsigned long long)s.rejected_releases, (unsigned long long)s.rejected_foreign,
                 (unsigned long long)s.rejected_misaligned, (unsigned long long)s.rejected_double);
    cr_assert_eq(s.free, s.total - s.in_use);
    return s;
}

static inline zenith_pool_info info_of(const zenith_pool *p) {
    zenith_pool_info i;
    memset(&i, 0xa5, sizeof i);
    cr_assert_eq(zenith_pool_get_info(p, &i), 0);
    return i;
}

static inline size_t expected_alignment(size_t size) { return size % PAGE == 0 ? PAGE : 64u; }

/* Acquires until NULL on the calling thread: must get every buffer exactly once (the pool must be
   fully free and nothing parked in other threads' caches). Checks pointer/index/alignment of
   each, then releases them all. Leaves in_use == 0. */
static inline void acquire_all_exactly_once(zenith_pool *p) {
    zenith_pool_info inf = info_of(p);
    zenith_pool_stats before = stats_of(p);
    uint32_t n = inf.buffer_count, got = 0, i;
    unsigned char *seen = calloc(n, 1);
    void **bufs = malloc((size_t)n * sizeof(void *));
    void *b;
    cr_assert(seen && bufs);
    cr_assert_eq(before.in_use, 0, "acquire_all_exactly_once needs an idle pool (in_use %llu)",
                 (unsigned long long)before.in_use);
    while ((b = zenith_pool_acquire(p)) != NULL) {
        int idx = zenith_pool_index(p, b);
        cr_assert_lt(got, n, "more than %u buffers handed out", n);
        cr_assert_geq(idx, 0, "acquired pointer %p has index code %d (%s)", b, idx, zenith_errname(idx));
        cr_assert_lt((uint32_t)idx, n);
        cr_assert_eq(seen[idx], 0, "buffer %d handed out twice", idx);
        seen[idx] = 1;
        cr_assert_eq(b, (void *)((unsigned char *)inf.base + (size_t)idx * inf.buffer_size));
        cr_assert_eq(zenith_pool_at(p, (uint32_t)idx), b);
        cr_assert_eq((uintptr_t)b % expected_alignment(inf.buffer_size), 0, "buffer %d at %p misaligned", idx, b);
        bufs[got++] = b;
    }
    cr_assert_eq(got, n, "only %u of %u buffers could be acquired", got, n);
    {
        zenith_pool_stats s = stats_of(p);
        cr_assert_eq(s.in_use, n);
        cr_assert_eq(s.free, 0);
        cr_assert_eq(s.acquires, before.acquires + n);
        cr_assert_eq(s.failed_acquires, before.failed_acquires + 1);
    }
    for (i = 0; i < got; i++) cr_assert_eq(zenith_pool_release(p, bufs[i]), 0, "release of buffer %u", i);
    {
        zenith_pool_stats s = stats_of(p);
        cr_assert_eq(s.in_use, 0);
        cr_assert_eq(s.free, n);
        cr_assert_eq(s.releases, before.releases + n);
        cr_assert_eq(s.rejected_releases, before.rejected_releases);
    }
    free(seen);
    free(bufs);
}

#endif
