/* The io_uring ring (zenith_ring) and the provided-buffer ring (zenith_buf_ring). */
#define ZENITH_IMPLEMENTATION
#include "zenith.h"

#include "criterion_compat.h" /* Criterion (or its TSan stand-in) */
#include "helpers.h"

#include <errno.h>
#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static zenith_ring *mkring_cfg(const zenith_ring_config *cfg) {
    int err = 12345;
    zenith_ring *r = zenith_ring_create(cfg, &err);
    if (r == NULL && err == ZENITH_E_URING_DISABLED) cr_skip("io_uring is disabled here (%s)", zenith_strerror(err));
    cr_assert_not_null(r, "zenith_ring_create: %d %s", err, zenith_errname(err));
    cr_assert_eq(err, 0);
    return r;
}

static zenith_ring *mkring(uint32_t sq, uint32_t flags) {
    zenith_ring_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.sq_entries = sq;
    cfg.flags = flags;
    return mkring_cfg(&cfg);
}

static zenith_ring_info ring_info(const zenith_ring *r) {
    zenith_ring_info i;
    cr_assert_eq(zenith_ring_get_info(r, &i), 0);
    return i;
}

static double now_ms(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e3 + (double)t.tv_nsec / 1e6;
}

/* Queues n NOPs with user_data base..base+n-1 (through the inline or the exported get_sqe). */
static void queue_nops(zenith_ring *r, unsigned n, uint64_t base, int use_inline) {
    unsigned i;
    for (i = 0; i < n; i++) {
        struct io_uring_sqe *sqe = use_inline ? zenith_ring_get_sqe_inline(r) : zenith_ring_get_sqe(r);
        cr_assert_not_null(sqe, "no SQE for NOP %u", i);
        io_uring_prep_nop(sqe);
        io_uring_sqe_set_data64(sqe, base + i);
    }
}

typedef struct {
    unsigned char *seen;
    unsigned n, calls;
    int bad_res;
} reap_state;

static void on_cqe(void *user, struct io_uring_cqe *cqe) {
    reap_state *s = (reap_state *)user;
    uint64_t d = io_uring_cqe_get_data64(cqe);
    s->calls++;
    if (cqe->res != 0) s->bad_res++;
    cr_assert_lt(d, s->n, "unexpected user_data %llu", (unsigned long long)d);
    cr_assert_eq(s->seen[d], 0, "completion %llu seen twice", (unsigned long long)d);
    s->seen[d] = 1;
}

/* Waits for and reaps exactly n NOP completions 0..n-1. */
static void reap_all(zenith_ring *r, unsigned n) {
    reap_state s;
    double deadline = now_ms() + 5000;
    memset(&s, 0, sizeof s);
    s.n = n;
    s.seen = calloc(n, 1);
    cr_assert_not_null(s.seen);
    while (s.calls < n) {
        int ready = zenith_ring_wait(r, 1, 1000);
        cr_assert_geq(ready, 0, "zenith_ring_wait: %d %s", ready, zenith_errname(ready));
        cr_assert_geq(zenith_ring_reap(r, on_cqe, &s, 0), 0);
        cr_assert_lt(now_ms(), deadline, "only %u of %u completions after 5 s", s.calls, n);
    }
    cr_assert_eq(s.calls, n);
    cr_assert_eq(s.bad_res, 0);
    free(s.seen);
}

/* ---- create ----------------------------------------------------------------------------------- */

Test(ring, create_default_takes_the_best_mode, .timeout = 10) {
    zenith_ring *r = mkring_cfg(NULL);
    zenith_ring_info i = ring_info(r);
    cr_assert_eq(i.mode, ZENITH_RING_MODE_DEFER_TASKRUN, "kernel 6.x accepts DEFER_TASKRUN, got mode %d", i.mode);
    cr_assert(i.setup_flags & IORING_SETUP_SINGLE_ISSUER);
    cr_assert(i.setup_flags & IORING_SETUP_DEFER_TASKRUN);
    cr_assert_eq(i.sq_entries, 256);
    cr_assert_eq(i.cq_entries, 1024, "CQ is 4 x SQ by default");
    cr_assert(i.features & IORING_FEAT_NODROP);
    cr_assert_not_null(zenith_ring_raw(r));
    cr_assert_eq(zenith_ring_raw(r)->ring_fd >= 0, 1);
    zenith_ring_destroy(r);
    zenith_ring_destroy(NULL);
}

Test(ring, fallback_modes_on_request, .timeout = 10) {
    zenith_ring *coop = mkring(64, ZENITH_RING_NO_DEFER), *plain = mkring(64, ZENITH_RING_PLAIN);
    cr_assert_eq(ring_info(coop).mode, ZENITH_RING_MODE_COOP_TASKRUN);
    cr_assert(ring_info(coop).setup_flags & IORING_SETUP_COOP_TASKRUN);
    cr_assert_eq(ring_info(plain).mode, ZENITH_RING_MODE_PLAIN);
    cr_assert_eq(ring_info(plain).setup_flags & (IORING_SETUP_COOP_TASKRUN | IORING_SETUP_DEFER_TASKRUN), 0);
    queue_nops(coop, 10, 0, 0);
    reap_all(coop, 10);
    queue_nops(plain, 10, 0, 1);
    reap_all(plain, 10);
    zenith_ring_destroy(coop);
    zenith_ring_destroy(plain);
}

Test(ring, sqpoll_on_request, .timeout = 10) {
    zenith_ring *r = mkring(32, ZENITH_RING_SQPOLL);
    cr_assert_eq(ring_info(r).mode, ZENITH_RING_MODE_SQPOLL);
    cr_assert(ring_info(r).setup_flags & IORING_SETUP_SQPOLL);
    queue_nops(r, 20, 0, 1);
    reap_all(r, 20);
    zenith_ring_destroy(r);
}

Test(ring, invalid_configs, .timeout = 10) {
    static const struct {
        uint32_t sq, cq, flags, struct_size;
    } bad[] = {
        { 3, 0, 0, 0 },                       /* not a power of two */
        { 65536, 0, 0, 0 },                   /* over 32768 */
        { 64, 64, 0, 0 },                     /* CQ under 2 x SQ */
        { 64, 512, 0, 0 },                    /* CQ over 4 x SQ */
        { 64, 200, 0, 0 },                    /* CQ not a power of two */
        { 64, 0, 1u << 20, 0 },               /* unknown flag */
        { 64, 0, 0, 4 },                      /* struct_size too small */
        { 64, 0, 0, 8192 },                   /* struct_size absurd */
        { 64, 0, ZENITH_RING_SQPOLL_CPU, 0 }, /* SQPOLL_CPU without SQPOLL */
    };
    size_t i;
    for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        zenith_ring_config cfg;
        int err = 0;
        memset(&cfg, 0, sizeof cfg);
        cfg.sq_entries = bad[i].sq;
        cfg.cq_entries = bad[i].cq;
        cfg.flags = bad[i].flags;
        cfg.struct_size = bad[i].struct_size;
        cr_assert_null(zenith_ring_create(&cfg, &err), "config %zu accepted", i);
        cr_assert_eq(err, ZENITH_E_INVAL, "config %zu: %d %s", i, err, zenith_errname(err));
        cr_assert_null(zenith_ring_create(&cfg, NULL));
    }
}

Test(ring, null_arguments, .timeout = 10) {
    zenith_ring_info i;
    struct io_uring_cqe *c[4];
    cr_assert_eq(zenith_ring_get_info(NULL, &i), ZENITH_E_NULL);
    cr_assert_null(zenith_ring_raw(NULL));
    cr_assert_null(zenith_ring_get_sqe(NULL));
    cr_assert_eq(zenith_ring_submit(NULL), ZENITH_E_NULL);
    cr_assert_eq(zenith_ring_wait(NULL, 1, 0), ZENITH_E_NULL);
    cr_assert_eq(zenith_ring_peek(NULL, c, 4), 0);
    zenith_ring_advance(NULL, 1);
    cr_assert_eq(zenith_ring_reap(NULL, on_cqe, NULL, 0), ZENITH_E_NULL);
    cr_assert_eq(zenith_ring_probe(NULL, IORING_OP_NOP), ZENITH_E_NULL);
    {
        zenith_ring *r = mkring(8, 0);
        cr_assert_eq(zenith_ring_get_info(r, NULL), ZENITH_E_NULL);
        cr_assert_eq(zenith_ring_reap(r, NULL, NULL, 0), ZENITH_E_NULL);
        cr_assert_eq(zenith_ring_peek(r, NULL, 4), 0);
        zenith_ring_destroy(r);
    }
}

/* io_uring refused by a seccomp filter (as Docker's default profile does): a distinct code. */
static void deny_io_uring_setup(int err) {
    const int nr = __NR_io_uring_setup;
    deny_syscalls(err, &nr, 1);
}

Test(ring, refused_by_seccomp_eperm, .timeout = 10) {
    int err = 0;
    deny_io_uring_setup(EPERM);
    cr_assert_null(zenith_ring_create(NULL, &err));
    cr_assert_eq(err, ZENITH_E_URING_DISABLED, "%d %s", err, zenith_errname(err));
}

Test(ring, refused_by_seccomp_enosys, .timeout = 10) {
    int err = 0;
    deny_io_uring_setup(ENOSYS);
    cr_assert_null(zenith_ring_create(NULL, &err));
    cr_assert_eq(err, ZENITH_E_URING_DISABLED, "%d %s", err, zenith_errname(err));
}

/* ---- submit, wait, reap ----------------------------------------------------------------------- */

Test(ring, nop_round_trip_batch_reap, .timeout = 10) {
    zenith_ring *r = mkring(64, 0);
    struct io_uring_cqe *cqes[64];
    unsigned got = 0, i, k;
    unsigned char seen[40] = { 0 };
    queue_nops(r, 40, 0, 1);
    cr_assert_eq(zenith_ring_submit(r), 40);
    while (got < 40) {
        cr_assert_geq(zenith_ring_wait(r, 40 - got, 2000), 0);
        k = zenith_ring_peek(r, cqes, 64);
        cr_assert_gt(k, 0, "wait returned with nothing to peek");
        for (i = 0; i < k; i++) {
            uint64_t d = io_uring_cqe_get_data64(cqes[i]);
            cr_assert_lt(d, 40);
            cr_assert_eq(seen[d], 0);
            seen[d] = 1;
        }
        zenith_ring_advance(r, k); /* one CQ head store for the batch */
        got += k;
    }
    cr_assert_eq(zenith_ring_peek(r, cqes, 64), 0, "nothing left");
    zenith_ring_destroy(r);
}

Test(ring, get_sqe_flushes_a_full_sq, .timeout = 10) {
    zenith_ring *r = mkring(8, 0); /* 8 SQEs, 32 CQEs */
    queue_nops(r, 30, 0, 0);       /* no explicit submit: get_sqe submits every 8 */
    reap_all(r, 30);
    queue_nops(r, 30, 0, 1);
    reap_all(r, 30);
    zenith_ring_destroy(r);
}

Test(ring, cq_overflow_loses_nothing, .timeout = 10) {
    zenith_ring *r = mkring(8, 0); /* CQ 32: 200 NOPs overflow it, NODROP keeps the rest */
    unsigned i;
    for (i = 0; i < 25; i++) {
        queue_nops(r, 8, (uint64_t)i * 8, 1);
        cr_assert_geq(zenith_ring_submit(r), 0);
    }
    reap_all(r, 200);
    cr_assert_eq(ring_info(r).cq_overflow, 0, "with NODROP nothing is dropped");
    zenith_ring_destroy(r);
}

Test(ring, wait_times_out, .timeout = 10) {
    zenith_ring *r = mkring(8, 0);
    double t0 = now_ms();
    cr_assert_eq(zenith_ring_wait(r, 1, 50), 0, "nothing in flight: 0 ready after the timeout");
    cr_assert_geq(now_ms() - t0, 40.0, "returned after %.1f ms", now_ms() - t0);
    t0 = now_ms();
    cr_assert_eq(zenith_ring_wait(r, 1, 0), 0, "timeout 0 does not sleep");
    cr_assert_lt(now_ms() - t0, 40.0);
    zenith_ring_destroy(r);
}

Test(ring, reap_respects_max, .timeout = 10) {
    zenith_ring *r = mkring(16, 0);
    reap_state s;
    memset(&s, 0, sizeof s);
    s.n = 10;
    s.seen = calloc(10, 1);
    queue_nops(r, 10, 0, 1);
    cr_assert_eq(zenith_ring_wait(r, 10, 2000), 10);
    cr_assert_eq(zenith_ring_reap(r, on_cqe, &s, 3), 3);
    cr_assert_eq(zenith_ring_reap(r, on_cqe, &s, 0), 7);
    cr_assert_eq(zenith_ring_reap(r, on_cqe, &s, 0), 0);
    cr_assert_eq(s.calls, 10);
    free(s.seen);
    zenith_ring_destroy(r);
}

Test(ring, probe, .timeout = 10) {
    zenith_ring *r = mkring(8, 0);
    cr_assert_eq(zenith_ring_probe(r, IORING_OP_NOP), 1);
    cr_assert_eq(zenith_ring_probe(r, IORING_OP_RECV), 1);
    cr_assert_eq(zenith_ring_probe(r, IORING_OP_SEND_ZC), 1, "kernel 6.0+ has SEND_ZC");
    cr_assert_eq(zenith_ring_probe(r, 250), 0, "op 250 does not exist");
    cr_assert_eq(zenith_ring_probe(r, -1), ZENITH_E_INVAL);
    cr_assert_eq(zenith_ring_probe(r, 256), ZENITH_E_INVAL);
    zenith_ring_destroy(r);
}

/* A SINGLE_ISSUER ring created on one thread is driven by another (a reactor thread). */
static void *drive_ring(void *arg) {
    zenith_ring *r = (zenith_ring *)arg;
    queue_nops(r, 16, 0, 1);
    reap_all(r, 16);
    return NULL;
}

Test(ring, created_here_driven_there, .timeout = 10) {
    zenith_ring *r = mkring(32, 0);
    pthread_t t;
    cr_assert_eq(ring_info(r).mode, ZENITH_RING_MODE_DEFER_TASKRUN);
    cr_assert_eq(pthread_create(&t, NULL, drive_ring, r), 0);
    cr_assert_eq(pthread_join(t, NULL), 0);
    zenith_ring_destroy(r);
}

/* ---- provided-buffer ring ---------------------------------------------------------------------- */

/* Reads from fd with buffer selection from group; returns the CQE's res and flags. */
static int read_select(zenith_ring *r, int fd, uint16_t group, uint32_t *flags) {
    struct io_uring_sqe *sqe = zenith_ring_get_sqe(r);
    struct io_uring_cqe *cqe;
    int res;
    cr_assert_not_null(sqe);
    io_uring_prep_read(sqe, fd, NULL, 4096, 0);
    sqe->flags |= IOSQE_BUFFER_SELECT;
    sqe->buf_group = group;
    cr_assert_geq(zenith_ring_wait(r, 1, 2000), 1);
    cr_assert_eq(zenith_ring_peek(r, &cqe, 1), 1);
    res = cqe->res;
    *flags = cqe->flags;
    zenith_ring_advance(r, 1);
    return res;
}

Test(buf_ring, kernel_picks_pool_buffers, .timeout = 10) {
    zenith_ring *r = mkring(16, 0);
    zenith_pool *p = mkpool(4096, 16, 0, 0);
    int fds[2], err = 0, round;
    zenith_buf_ring *br = zenith_buf_ring_create(r, p, 7, 8, &err);
    cr_assert_not_null(br, "zenith_buf_ring_create: %s", zenith_errname(err));
    cr_assert_eq(zenith_buf_ring_available(br), 8);
    cr_assert_eq(stats_of(p).in_use, 8, "the ring holds 8 pool buffers");
    cr_assert_eq(pipe(fds), 0);
    for (round = 0; round < 20; round++) {
        char msg[64];
        uint32_t flags = 0;
        int n = snprintf(msg, sizeof msg, "round %d of the provided-buffer test", round), res;
        unsigned char *buf;
        cr_assert_eq(write(fds[1], msg, (size_t)n), n);
        res = read_select(r, fds[0], 7, &flags);
        cr_assert_eq(res, n, "read: %d (%s)", res, res < 0 ? strerror(-res) : "short");
        cr_assert(flags & IORING_CQE_F_BUFFER);
        buf = (unsigned char *)zenith_buf_ring_claim(br, flags);
        cr_assert_not_null(buf);
        cr_assert_eq(zenith_pool_index(p, buf), (int)(flags >> IORING_CQE_BUFFER_SHIFT), "buffer id = pool index");
        cr_assert_eq(memcmp(buf, msg, (size_t)n), 0);
        cr_assert_eq(zenith_buf_ring_available(br), 7);
        cr_assert_null(zenith_buf_ring_claim(br, flags), "claimed twice");
        if (round % 2) {
            cr_assert_eq(zenith_buf_ring_give(br, buf), 0); /* recycle the same buffer */
        } else {                                            /* keep it; a fresh one takes its place */
            void *fresh = zenith_pool_acquire(p);
            cr_assert_not_null(fresh);
            cr_assert_eq(zenith_buf_ring_give(br, fresh), 0);
            cr_assert_eq(zenith_pool_release(p, buf), 0);
        }
        cr_assert_eq(zenith_buf_ring_available(br), 8);
    }
    zenith_buf_ring_destroy(br);
    cr_assert_eq(stats_of(p).in_use, 0, "destroy gave the ring's buffers back");
    close(fds[0]);
    close(fds[1]);
    zenith_ring_destroy(r);
    acquire_all_exactly_once(p);
    zenith_pool_destroy(p);
}

Test(buf_ring, empty_ring_is_enobufs_then_recovers, .timeout = 10) {
    zenith_ring *r = mkring(16, 0);
    zenith_pool *p = mkpool(4096, 4, 0, 0);
    int fds[2], err = 0, res;
    uint32_t flags = 0;
    void *held[2];
    zenith_buf_ring *br = zenith_buf_ring_create(r, p, 1, 2, &err);
    cr_assert_not_null(br);
    cr_assert_eq(pipe(fds), 0);
    cr_assert_eq(write(fds[1], "abcdef", 6), 6);
    cr_assert_eq(read_select(r, fds[0], 1, &flags), 6);
    held[0] = zenith_buf_ring_claim(br, flags);
    cr_assert_eq(write(fds[1], "ghij", 4), 4);
    cr_assert_eq(read_select(r, fds[0], 1, &flags), 4);
    held[1] = zenith_buf_ring_claim(br, flags);
    cr_assert(held[0] && held[1]);
    cr_assert_eq(zenith_buf_ring_available(br), 0);
    cr_assert_eq(write(fds[1], "k", 1), 1);
    res = read_select(r, fds[0], 1, &flags);
    cr_assert_eq(res, -ENOBUFS, "empty ring: %d", res);
    cr_assert_eq(zenith_buf_ring_give(br, held[0]), 0);
    res = read_select(r, fds[0], 1, &flags);
    cr_assert_eq(res, 1, "data waited in the pipe: %d", res);
    cr_assert_eq(((char *)zenith_buf_ring_claim(br, flags))[0], 'k');
    cr_assert_eq(zenith_pool_release(p, held[0]), 0);
    cr_assert_eq(zenith_pool_release(p, held[1]), 0);
    zenith_buf_ring_destroy(br);
    cr_assert_eq(stats_of(p).in_use, 0);
    close(fds[0]);
    close(fds[1]);
    zenith_ring_destroy(r);
    zenith_pool_destroy(p);
}

Test(buf_ring, bad_input, .timeout = 10) {
    zenith_ring *r = mkring(16, 0);
    zenith_pool *p = mkpool(4096, 8, 0, 0), *big = mkpool(64, 65537, 0, 0), *other = mkpool(4096, 8, 0, 0);
    zenith_buf_ring *br;
    int err = 0, stack;
    void *b;
    cr_assert_null(zenith_buf_ring_create(NULL, p, 0, 8, &err));
    cr_assert_eq(err, ZENITH_E_NULL);
    cr_assert_null(zenith_buf_ring_create(r, NULL, 0, 8, &err));
    cr_assert_eq(err, ZENITH_E_NULL);
    cr_assert_null(zenith_buf_ring_create(r, p, 0, 6, &err));
    cr_assert_eq(err, ZENITH_E_INVAL, "entries not a power of two");
    cr_assert_null(zenith_buf_ring_create(r, p, 0, 65536, &err));
    cr_assert_eq(err, ZENITH_E_INVAL, "entries over 32768");
    cr_assert_null(zenith_buf_ring_create(r, big, 0, 8, &err));
    cr_assert_eq(err, ZENITH_E_RANGE, "buffer ids are 16 bits");
    cr_assert_eq(stats_of(p).in_use, 0, "failed creates took no buffer");

    br = zenith_buf_ring_create(r, p, 3, 4, &err);
    cr_assert_not_null(br);
    cr_assert_null(zenith_buf_ring_create(r, p, 3, 4, &err), "group 3 is taken");
    cr_assert_eq(err, ZENITH_E_EXIST, "%s", zenith_errname(err));
    cr_assert_eq(stats_of(p).in_use, 4, "the failed create gave its buffers back");

    b = zenith_pool_acquire(p);
    cr_assert_eq(zenith_buf_ring_give(br, b), ZENITH_E_FULL, "4 of 4 slots used");
    cr_assert_eq(zenith_buf_ring_give(br, &stack), ZENITH_E_FOREIGN);
    cr_assert_eq(zenith_buf_ring_give(br, (char *)b + 1), ZENITH_E_MISALIGNED);
    cr_assert_eq(zenith_buf_ring_give(br, zenith_pool_at(p, 0)), ZENITH_E_EXIST, "buffer 0 is in the ring");
    cr_assert_eq(zenith_buf_ring_give(br, NULL), ZENITH_E_NULL);
    cr_assert_eq(zenith_buf_ring_give(NULL, b), ZENITH_E_NULL);
    cr_assert_null(zenith_buf_ring_claim(br, 0), "no F_BUFFER flag");
    cr_assert_null(zenith_buf_ring_claim(br, IORING_CQE_F_BUFFER | (5u << IORING_CQE_BUFFER_SHIFT)),
                   "buffer 5 is not in the ring");
    cr_assert_eq(zenith_buf_ring_available(NULL), 0);
    cr_assert_eq(zenith_pool_release(p, b), 0);
    zenith_buf_ring_destroy(br);
    zenith_buf_ring_destroy(NULL);
    cr_assert_eq(stats_of(p).in_use, 0);

    { /* an exhausted pool cannot fill a ring */
        void *all[8];
        cr_assert_eq(zenith_pool_acquire_bulk(other, all, 8), 8);
        cr_assert_null(zenith_buf_ring_create(r, other, 4, 4, &err));
        cr_assert_eq(err, ZENITH_E_FULL);
        cr_assert_eq(zenith_pool_release_bulk(other, all, 8), 8);
    }
    zenith_ring_destroy(r);
    zenith_pool_destroy(p);
    zenith_pool_destroy(big);
    zenith_pool_destroy(other);
}
