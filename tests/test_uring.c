/* Criterion suite for zenith.h: registering the pool with io_uring as fixed buffers, and real
   READ_FIXED / WRITE_FIXED I/O with buf_index = zenith_pool_index(). Tests that need a ring skip
   when io_uring_queue_init fails with ENOSYS or EPERM (io_uring disabled or filtered). */
#define ZENITH_IMPLEMENTATION
#include "zenith.h"

#include "criterion_compat.h" /* Criterion (or its TSan stand-in) */
#include "helpers.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <liburing.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

/* ---- helpers -------------------------------------------------------------------------------- */

static void ring_init_or_skip(struct io_uring *ring) {
    int rc = io_uring_queue_init(8, ring, 0);
    if (rc == -ENOSYS || rc == -EPERM) cr_skip("io_uring unavailable: io_uring_queue_init: %s", strerror(-rc));
    cr_assert_eq(rc, 0, "io_uring_queue_init: %s", strerror(-rc));
}

static int temp_fd(void) {
    char path[] = "/tmp/zenith_uring_XXXXXX";
    int fd = mkstemp(path);
    cr_assert_geq(fd, 0, "mkstemp: %s", strerror(errno));
    cr_assert_eq(unlink(path), 0);
    return fd;
}

/* Submits the prepared SQE and waits for its completion. Returns cqe->res. */
static int submit_wait(struct io_uring *ring) {
    struct io_uring_cqe *cqe;
    int rc = io_uring_submit(ring), res;
    cr_assert_eq(rc, 1, "io_uring_submit: %d", rc);
    rc = io_uring_wait_cqe(ring, &cqe);
    cr_assert_eq(rc, 0, "io_uring_wait_cqe: %s", strerror(-rc));
    res = cqe->res;
    io_uring_cqe_seen(ring, cqe);
    return res;
}

static int write_fixed(struct io_uring *ring, int fd, const void *buf, unsigned len, uint64_t off, int idx) {
    struct io_uring_sqe *sqe = io_uring_get_sqe(ring);
    cr_assert_not_null(sqe);
    io_uring_prep_write_fixed(sqe, fd, buf, len, off, idx);
    return submit_wait(ring);
}

static int read_fixed(struct io_uring *ring, int fd, void *buf, unsigned len, uint64_t off, int idx) {
    struct io_uring_sqe *sqe = io_uring_get_sqe(ring);
    cr_assert_not_null(sqe);
    io_uring_prep_read_fixed(sqe, fd, buf, len, off, idx);
    return submit_wait(ring);
}

/* Takes every buffer of the pool, bufs[i] = buffer with index i. */
static void acquire_all_by_index(zenith_pool *p, unsigned char **bufs, uint32_t n) {
    uint32_t k;
    memset(bufs, 0, n * sizeof *bufs);
    for (k = 0; k < n; k++) {
        unsigned char *b = zenith_pool_acquire(p);
        int idx;
        cr_assert_not_null(b, "acquire %u of %u", k, n);
        idx = zenith_pool_index(p, b);
        cr_assert(idx >= 0 && (uint32_t)idx < n && bufs[idx] == NULL, "index %d", idx);
        bufs[idx] = b;
    }
    cr_assert_null(zenith_pool_acquire(p));
}

static void release_all(zenith_pool *p, unsigned char **bufs, uint32_t n) {
    zenith_pool_stats s;
    uint32_t k;
    for (k = 0; k < n; k++) cr_assert_eq(zenith_pool_release(p, bufs[k]), 0);
    cr_assert_eq(zenith_pool_get_stats(p, &s), 0);
    cr_assert_eq(s.in_use, 0);
}

/* ---- fixed-buffer I/O ---------------------------------------------------------------------------- */

Test(uring, register_then_write_fixed_read_fixed, .timeout = 10) {
    enum { N = 64, SZ = 4096 };
    struct io_uring ring;
    zenith_pool *p = mkpool(SZ, N, 0, 0);
    unsigned char *bufs[N];
    int fd, rc, k;
    ring_init_or_skip(&ring);
    rc = zenith_pool_register(p, &ring);
    cr_assert_eq(rc, 0, "zenith_pool_register: %d %s", rc, zenith_errname(rc));
    cr_assert_eq(info_of(p).registered, 1);
    fd = temp_fd();
    acquire_all_by_index(p, bufs, N);

    /* the last buffer out, the first one in: buf_index = zenith_pool_index */
    for (k = 0; k < SZ; k++) bufs[N - 1][k] = (unsigned char)(k * 7 + 3);
    memset(bufs[0], 0, SZ);
    rc = write_fixed(&ring, fd, bufs[N - 1], SZ, 0, zenith_pool_index(p, bufs[N - 1]));
    cr_assert_eq(rc, SZ, "WRITE_FIXED from buffer %d: %d (%s)", N - 1, rc, rc < 0 ? strerror(-rc) : "short");
    rc = read_fixed(&ring, fd, bufs[0], SZ, 0, zenith_pool_index(p, bufs[0]));
    cr_assert_eq(rc, SZ, "READ_FIXED into buffer 0: %d (%s)", rc, rc < 0 ? strerror(-rc) : "short");
    cr_assert_eq(memcmp(bufs[0], bufs[N - 1], SZ), 0, "bytes differ after the round trip");

    /* every buffer once, each at its own file offset, read back into its neighbour */
    for (k = 0; k < N; k++) {
        memset(bufs[k], 0x40 + k, SZ);
        rc = write_fixed(&ring, fd, bufs[k], SZ, (uint64_t)k * SZ, zenith_pool_index(p, bufs[k]));
        cr_assert_eq(rc, SZ, "WRITE_FIXED buffer %d: %d", k, rc);
    }
    for (k = 0; k < N; k++) {
        unsigned char *dst = bufs[(k + 1) % N];
        int j;
        memset(dst, 0, SZ);
        rc = read_fixed(&ring, fd, dst, SZ, (uint64_t)k * SZ, zenith_pool_index(p, dst));
        cr_assert_eq(rc, SZ, "READ_FIXED into buffer %d: %d", (k + 1) % N, rc);
        for (j = 0; j < SZ; j++)
            if (dst[j] != (unsigned char)(0x40 + k)) cr_assert_fail("buffer %d byte %d: %#x", (k + 1) % N, j, dst[j]);
    }

    /* a part of a buffer: the address may point inside the registered buffer */
    memset(bufs[5], 0, SZ);
    rc = read_fixed(&ring, fd, bufs[5] + 300, 100, (uint64_t)9 * SZ + 50, zenith_pool_index(p, bufs[5]));
    cr_assert_eq(rc, 100);
    for (k = 0; k < SZ; k++) cr_assert_eq(bufs[5][k], (k >= 300 && k < 400) ? 0x40 + 9 : 0, "byte %d", k);

    /* buffer index i really is pool buffer i: a neighbour's index is refused by the kernel */
    rc = write_fixed(&ring, fd, bufs[5], SZ, 0, zenith_pool_index(p, bufs[5]) + 1);
    cr_assert_eq(rc, -EFAULT, "WRITE_FIXED with the wrong buf_index: %d", rc);

    cr_assert_eq(zenith_pool_unregister(p, &ring), 0);
    cr_assert_eq(info_of(p).registered, 0);
    rc = read_fixed(&ring, fd, bufs[0], SZ, 0, 0);
    cr_assert_lt(rc, 0, "READ_FIXED after unregister succeeded");
    rc = zenith_pool_unregister(p, &ring);
    cr_assert_eq(rc, ZENITH_ESYS(ENXIO), "second unregister: %d %s", rc, zenith_errname(rc));

    release_all(p, bufs, N);
    close(fd);
    io_uring_queue_exit(&ring);
    zenith_pool_destroy(p);
}

Test(uring, write_fixed_to_pipe, .timeout = 10) {
    enum { N = 16, SZ = 65536 };
    struct io_uring ring;
    zenith_pool *p = mkpool(SZ, N, 0, 0);
    unsigned char *a, *b;
    int fds[2], rc, k;
    ring_init_or_skip(&ring);
    cr_assert_eq(zenith_pool_register(p, &ring), 0);
    cr_assert_eq(pipe(fds), 0);
    cr_assert_geq(fcntl(fds[1], F_SETPIPE_SZ, SZ), SZ);
    a = zenith_pool_acquire(p);
    b = zenith_pool_acquire(p);
    cr_assert(a && b);
    for (k = 0; k < SZ; k++) a[k] = (unsigned char)(k ^ (k >> 8));
    memset(b, 0, SZ);
    rc = write_fixed(&ring, fds[1], a, 4096, 0, zenith_pool_index(p, a));
    cr_assert_eq(rc, 4096, "WRITE_FIXED to a pipe: %d", rc);
    rc = read_fixed(&ring, fds[0], b, 4096, 0, zenith_pool_index(p, b));
    cr_assert_eq(rc, 4096, "READ_FIXED from a pipe: %d", rc);
    cr_assert_eq(memcmp(a, b, 4096), 0);
    cr_assert_eq(zenith_pool_unregister(p, &ring), 0);
    cr_assert_eq(zenith_pool_release(p, a), 0);
    cr_assert_eq(zenith_pool_release(p, b), 0);
    close(fds[0]);
    close(fds[1]);
    io_uring_queue_exit(&ring);
    zenith_pool_destroy(p);
}

/* ---- registration errors ------------------------------------------------------------------------ */

Test(uring, null_arguments, .timeout = 10) {
    struct io_uring ring; /* never initialised: must not be touched */
    zenith_pool *p = mkpool(4096, 4, 0, 0);
    memset(&ring, 0, sizeof ring);
    cr_assert_eq(zenith_pool_register(NULL, &ring), ZENITH_E_NULL);
    cr_assert_eq(zenith_pool_register(p, NULL), ZENITH_E_NULL);
    cr_assert_eq(zenith_pool_register(NULL, NULL), ZENITH_E_NULL);
    cr_assert_eq(zenith_pool_unregister(NULL, &ring), ZENITH_E_NULL);
    cr_assert_eq(zenith_pool_unregister(p, NULL), ZENITH_E_NULL);
    cr_assert_eq(info_of(p).registered, 0);
    zenith_pool_destroy(p);
}

Test(uring, too_many_buffers_is_range, .timeout = 10) {
    struct io_uring ring;
    zenith_pool *p = mkpool(64, 16385, 0, 0);
    unsigned char *b;
    int rc;
    /* no ring needed to refuse: the limit is checked first */
    memset(&ring, 0, sizeof ring);
    rc = zenith_pool_register(p, &ring);
    cr_assert_eq(rc, ZENITH_E_RANGE, "16385 buffers: %d %s", rc, zenith_errname(rc));
    cr_assert_eq(info_of(p).registered, 0);
    b = zenith_pool_acquire(p); /* the pool keeps working */
    cr_assert_not_null(b);
    cr_assert_eq(zenith_pool_release(p, b), 0);
    zenith_pool_destroy(p);
}

Test(uring, max_buffers_16384_register, .timeout = 10) {
    struct io_uring ring;
    zenith_pool *p = mkpool(64, 16384, 0, 0);
    int rc;
    ring_init_or_skip(&ring);
    rc = zenith_pool_register(p, &ring);
    cr_assert_eq(rc, 0, "16384 buffers (the kernel limit): %d %s", rc, zenith_errname(rc));
    cr_assert_eq(zenith_pool_unregister(p, &ring), 0);
    io_uring_queue_exit(&ring);
    zenith_pool_destroy(p);
}

Test(uring, register_twice_is_ebusy, .timeout = 10) {
    struct io_uring ring;
    zenith_pool *p = mkpool(4096, 8, 0, 0), *q = mkpool(4096, 8, 0, 0);
    int rc;
    ring_init_or_skip(&ring);
    cr_assert_eq(zenith_pool_register(p, &ring), 0);
    rc = zenith_pool_register(p, &ring);
    cr_assert(ZENITH_IS_ESYS(rc), "second register: %d %s", rc, zenith_errname(rc));
    cr_assert_eq(zenith_errno(rc), EBUSY, "second register: %s", zenith_errname(rc));
    rc = zenith_pool_register(q, &ring);
    cr_assert_eq(rc, ZENITH_ESYS(EBUSY), "another pool on the same ring: %d %s", rc, zenith_errname(rc));
    cr_assert_eq(info_of(p).registered, 1);
    cr_assert_eq(info_of(q).registered, 0);
    cr_assert_eq(zenith_pool_unregister(p, &ring), 0);
    /* now the other pool can take the ring */
    cr_assert_eq(zenith_pool_register(q, &ring), 0);
    cr_assert_eq(zenith_pool_unregister(q, &ring), 0);
    io_uring_queue_exit(&ring);
    zenith_pool_destroy(q);
    zenith_pool_destroy(p);
}

Test(uring, one_pool_two_rings, .timeout = 10) {
    struct io_uring r1, r2;
    zenith_pool *p = mkpool(4096, 8, 0, 0);
    ring_init_or_skip(&r1);
    ring_init_or_skip(&r2);
    cr_assert_eq(zenith_pool_register(p, &r1), 0);
    cr_assert_eq(zenith_pool_register(p, &r2), 0);
    cr_assert_eq(info_of(p).registered, 2);
    cr_assert_eq(zenith_pool_unregister(p, &r1), 0);
    cr_assert_eq(info_of(p).registered, 1);
    cr_assert_eq(zenith_pool_unregister(p, &r2), 0);
    cr_assert_eq(info_of(p).registered, 0);
    io_uring_queue_exit(&r2);
    io_uring_queue_exit(&r1);
    zenith_pool_destroy(p);
}

/* ---- RLIMIT_MEMLOCK ----------------------------------------------------------------------------- */

/* Drops CAP_IPC_LOCK from the effective set of this (forked, per-test) process with the raw
   capget/capset syscalls: without it, io_uring charges pinned buffers to RLIMIT_MEMLOCK. */
static void drop_cap_ipc_lock(void) {
    struct __user_cap_header_struct hdr;
    struct __user_cap_data_struct data[2];
    memset(&hdr, 0, sizeof hdr);
    memset(data, 0, sizeof data);
    hdr.version = _LINUX_CAPABILITY_VERSION_3;
    hdr.pid = 0;
    cr_assert_eq(syscall(SYS_capget, &hdr, data), 0, "capget: %s", strerror(errno));
    data[CAP_IPC_LOCK / 32].effective &= ~(1u << (CAP_IPC_LOCK % 32));
    cr_assert_eq(syscall(SYS_capset, &hdr, data), 0, "capset: %s", strerror(errno));
    memset(data, 0, sizeof data);
    cr_assert_eq(syscall(SYS_capget, &hdr, data), 0);
    cr_assert_eq(data[CAP_IPC_LOCK / 32].effective & (1u << (CAP_IPC_LOCK % 32)), 0, "CAP_IPC_LOCK still effective");
}

static void set_memlock(rlim_t bytes) {
    struct rlimit rl = { bytes, bytes };
    cr_assert_eq(setrlimit(RLIMIT_MEMLOCK, &rl), 0, "setrlimit: %s", strerror(errno));
}

Test(uring, memlock_limit_too_low, .timeout = 10) {
    struct io_uring ring;
    zenith_pool *big, *small;
    void *b;
    int rc;
    drop_cap_ipc_lock();
    ring_init_or_skip(&ring);
    set_memlock(64 * 1024);
    big = mkpool(4096, 1024, 0, 0); /* 4 MiB */
    rc = zenith_pool_register(big, &ring);
    cr_assert_eq(rc, ZENITH_E_MEMLOCK, "4 MiB with RLIMIT_MEMLOCK 64 KiB: %d %s", rc, zenith_errname(rc));
    cr_assert_eq(info_of(big).registered, 0);
    /* the pool keeps working unregistered */
    {
        zenith_pool_stats s;
        uint32_t k, n = 0;
        void *all[1024];
        while ((b = zenith_pool_acquire(big)) != NULL) {
            cr_assert_lt(n, 1024);
            all[n++] = b;
        }
        cr_assert_eq(n, 1024);
        for (k = 0; k < n; k++) cr_assert_eq(zenith_pool_release(big, all[k]), 0);
        cr_assert_eq(zenith_pool_get_stats(big, &s), 0);
        cr_assert_eq(s.in_use, 0);
    }
    /* and under the limit registration works on the same ring: it is the limit, not the ring */
    small = mkpool(4096, 4, 0, 0); /* 16 KiB */
    rc = zenith_pool_register(small, &ring);
    cr_assert_eq(rc, 0, "16 KiB with RLIMIT_MEMLOCK 64 KiB: %d %s", rc, zenith_errname(rc));
    cr_assert_eq(zenith_pool_unregister(small, &ring), 0);
    io_uring_queue_exit(&ring);
    zenith_pool_destroy(small);
    zenith_pool_destroy(big);
}

/* ---- the iovec array goes through the pool's allocator ------------------------------------------ */

typedef struct {
    int allocs, frees, fail_from; /* fail_from: the allocation number that starts failing, -1 never */
    size_t last_size;
} alloc_count;

static void *count_alloc(size_t size, void *user) {
    alloc_count *c = user;
    if (c->fail_from >= 0 && c->allocs >= c->fail_from) {
        c->allocs++;
        return NULL;
    }
    c->allocs++;
    c->last_size = size;
    return malloc(size);
}

static void count_free(void *ptr, size_t size, void *user) {
    alloc_count *c = user;
    (void)size;
    c->frees++;
    free(ptr);
}

static zenith_pool *mkpool_alloc(alloc_count *c) {
    zenith_pool_config cfg;
    zenith_pool *p;
    memset(&cfg, 0, sizeof cfg);
    cfg.buffer_size = 4096;
    cfg.buffer_count = 32;
    cfg.allocator.alloc = count_alloc;
    cfg.allocator.free = count_free;
    cfg.allocator.user = c;
    p = zenith_pool_create(&cfg, NULL);
    cr_assert_not_null(p);
    return p;
}

Test(uring, register_uses_pool_allocator, .timeout = 10) {
    struct io_uring ring;
    alloc_count c = { 0, 0, -1, 0 };
    zenith_pool *p = mkpool_alloc(&c);
    ring_init_or_skip(&ring);
    cr_assert_eq(c.allocs, 1);
    cr_assert_eq(zenith_pool_register(p, &ring), 0);
    cr_assert_eq(c.allocs, 2, "register: %d allocator calls in all", c.allocs);
    cr_assert_eq(c.frees, 1, "the temporary iovec array was not freed");
    cr_assert_eq(c.last_size, 32 * sizeof(struct iovec));
    cr_assert_eq(zenith_pool_unregister(p, &ring), 0);
    io_uring_queue_exit(&ring);
    zenith_pool_destroy(p);
    cr_assert_eq(c.frees, 2);
}

Test(uring, register_allocation_failure_is_nomem, .timeout = 10) {
    struct io_uring ring;
    alloc_count c = { 0, 0, 1, 0 }; /* create's allocation works, the next one fails */
    zenith_pool *p = mkpool_alloc(&c);
    void *b;
    int rc;
    ring_init_or_skip(&ring);
    rc = zenith_pool_register(p, &ring);
    cr_assert_eq(rc, ZENITH_E_NOMEM, "%d %s", rc, zenith_errname(rc));
    cr_assert_eq(info_of(p).registered, 0);
    b = zenith_pool_acquire(p);
    cr_assert_not_null(b);
    cr_assert_eq(zenith_pool_release(p, b), 0);
    io_uring_queue_exit(&ring);
    zenith_pool_destroy(p);
    cr_assert_eq(c.frees, 1);
}
