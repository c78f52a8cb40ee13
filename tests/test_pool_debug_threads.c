/* The checked build (ZENITH_POOL_DEBUG): double releases that race on two threads are caught. */
#define ZENITH_POOL_DEBUG
#define ZENITH_IMPLEMENTATION
#include "zenith.h"

#include "criterion_compat.h"
#include <pthread.h>
#include <sched.h>
#include <string.h>

#define ROUNDS 2000

struct race {
    zenith_pool *pool;
    void *volatile buf;
    unsigned go;   /* round number both threads wait for */
    unsigned done; /* threads finished with the round */
    int rc[2][ROUNDS];
};

static void *racer(void *arg) {
    struct race *r = (struct race *)((void **)arg)[0];
    int me = (int)(uintptr_t)((void **)arg)[1];
    for (unsigned i = 0; i < ROUNDS; i++) {
        while (__atomic_load_n(&r->go, __ATOMIC_ACQUIRE) != i + 1) /* wait for round i */
            sched_yield();
        r->rc[me][i] = zenith_pool_release(r->pool, r->buf);
        __atomic_fetch_add(&r->done, 1, __ATOMIC_ACQ_REL);
    }
    return NULL;
}

Test(pool_debug, info_says_checked, .timeout = 10) {
    zenith_pool *p = zenith_pool_create(NULL, NULL);
    zenith_pool_info info;
    cr_assert_not_null(p);
    cr_assert_eq(zenith_pool_get_info(p, &info), 0);
    cr_assert(info.flags & ZENITH_POOL_INFO_DEBUG);
    cr_assert_eq(info.cache_size, 0, "the checked build has no per-thread caches");
    zenith_pool_destroy(p);
}

Test(pool_debug, racing_double_release_caught, .timeout = 30) {
    static struct race r;
    memset(&r, 0, sizeof r);
    zenith_pool_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.buffer_count = 64;
    r.pool = zenith_pool_create(&cfg, NULL);
    cr_assert_not_null(r.pool);

    pthread_t t[2];
    void *args[2][2] = { { &r, (void *)0 }, { &r, (void *)1 } };
    for (int i = 0; i < 2; i++) cr_assert_eq(pthread_create(&t[i], NULL, racer, args[i]), 0);
    for (unsigned i = 0; i < ROUNDS; i++) {
        r.buf = zenith_pool_acquire(r.pool);
        cr_assert_not_null(r.buf);
        __atomic_store_n(&r.go, i + 1, __ATOMIC_RELEASE); /* both release it at once */
        while (__atomic_load_n(&r.done, __ATOMIC_ACQUIRE) != 2 * (i + 1)) sched_yield();
    }
    for (int i = 0; i < 2; i++) pthread_join(t[i], NULL);

    for (unsigned i = 0; i < ROUNDS; i++) {
        int a = r.rc[0][i], b = r.rc[1][i];
        cr_assert((a == 0 && b == ZENITH_E_DOUBLE_RELEASE) || (b == 0 && a == ZENITH_E_DOUBLE_RELEASE),
                  "round %u: exactly one release must win (got %d and %d)", i, a, b);
    }
    zenith_pool_stats st;
    cr_assert_eq(zenith_pool_get_stats(r.pool, &st), 0);
    cr_assert_eq(st.rejected_double, ROUNDS);
    cr_assert_eq(st.in_use, 0);

    /* every buffer is still handed out exactly once */
    void *all[64];
    cr_assert_eq(zenith_pool_acquire_bulk(r.pool, all, 64), 64);
    for (int i = 0; i < 64; i++)
        for (int j = i + 1; j < 64; j++) cr_assert_neq(all[i], all[j]);
    cr_assert_null(zenith_pool_acquire(r.pool));
    cr_assert_eq(zenith_pool_release_bulk(r.pool, all, 64), 64);
    zenith_pool_destroy(r.pool);
}

Test(pool_debug, inline_twins_checked_too, .timeout = 10) {
    zenith_pool *p = zenith_pool_create(NULL, NULL);
    cr_assert_not_null(p);
    void *b = zenith_pool_acquire_inline(p);
    cr_assert_not_null(b);
    cr_assert_eq(zenith_pool_release_inline(p, b), 0);
    cr_assert_eq(zenith_pool_release_inline(p, b), ZENITH_E_DOUBLE_RELEASE);
    cr_assert_eq(zenith_pool_release_inline(p, (char *)b + 64), ZENITH_E_MISALIGNED);
    cr_assert_eq(zenith_pool_release_inline(p, NULL), ZENITH_E_NULL);
    zenith_pool_stats st;
    zenith_pool_get_stats(p, &st);
    cr_assert_eq(st.acquires, 1);
    cr_assert_eq(st.releases, 1);
    cr_assert_eq(st.rejected_releases, 2);
    zenith_pool_destroy(p);
}
