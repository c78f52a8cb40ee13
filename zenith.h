/* zenith.h v0.1.0 -- zero-copy networking for Linux on io_uring: buffer pool (this release). MIT licence, see end of file.

QUICK START
    In exactly one C or C++ file:

        #define ZENITH_IMPLEMENTATION
        #include "zenith.h"

    and include "zenith.h" without the define everywhere else. Link with -luring -pthread.
    Include zenith.h before any other header of the file, or define _GNU_SOURCE yourself: the
    implementation and the inline fast path (which includes <liburing.h>, as liburing users do)
    need glibc's GNU/POSIX declarations, which can only be switched on before the first system
    header. gcc's and clang's default modes (gnu11, gnu17) have them anyway; strict -std=c99 or
    -std=c11 needs this order. Define ZENITH_NO_INLINE to get a header with no system
    dependency beyond <stddef.h> and <stdint.h> (for FFI generators).

    Requirements: Linux, gcc or clang (C99 or later, or C++11 or later), liburing >= 2.3.
    Kernel: the pool needs nothing special; fixed-buffer registration needs io_uring (5.1+).

    Smallest program (cc quick.c -I. -luring -pthread):

        #define ZENITH_IMPLEMENTATION
        #include "zenith.h"
        #include <stdio.h>

        int main(void) {
            zenith_pool_config cfg = {0};            // zero means default: 4096 B x 1024
            int err;
            zenith_pool *pool = zenith_pool_create(&cfg, &err);
            if (!pool) { printf("pool: %s\n", zenith_strerror(err)); return 1; }
            char *buf = (char *)zenith_pool_acquire(pool);  // page-aligned, 4096 B
            buf[0] = 'z';
            zenith_pool_release(pool, buf);          // 0, or a negative code
            zenith_pool_destroy(pool);
            return 0;
        }

CONFIGURATION (define before including; "impl" = only the ZENITH_IMPLEMENTATION file)
    macro                       default          where   meaning
    ZENITH_IMPLEMENTATION       -                impl    compile the implementation here
    ZENITH_STATIC               -                every   all functions static (private copy per TU)
    ZENITH_SHARED               -                every   default visibility for a -fvisibility=hidden .so
    ZENITH_API                  extern           every   linkage of every public function
    ZENITH_ASSERT(c)            assert(c)        impl    internal invariants only; bad input is
                                                         always a negative code, never an assert
    ZENITH_MALLOC(sz)/ZENITH_FREE(p)  malloc/free impl   metadata allocator (both or neither)
    ZENITH_POOL_MAX_THREADS     64               impl    threads that get a per-thread cache in each
                                                         pool; further threads use the shared path
    ZENITH_POOL_MAX_CACHE       1024             impl    largest per-thread cache (buffers)
    ZENITH_POOL_DEBUG           off              impl    checked pool: no per-thread caches, every
                                                         acquire/release swaps the state byte
                                                         atomically, so racing double releases are
                                                         caught too (see ERRORS)
    ZENITH_NO_INLINE            -                every   leave out the inline fast path (for FFI
                                                         header parsers; C/C++ users keep it)

OVERVIEW
    The buffer pool (zenith_pool): fixed-size buffers carved from one contiguous mmap'd slab,
    page-aligned, index-addressed, optionally on huge pages or on memory you provide (e.g. a
    NUMA node's), optionally pre-faulted. Acquire and release are O(1) for any number of
    threads: a per-thread cache in front of a lock-free, ABA-safe shared backend. The common
    path has no atomic read-modify-write, no fence and no syscall. All buffers can be registered
    with an io_uring instance as fixed buffers, buffer index = pool index.

    The io_uring ring (zenith_ring): created with the best setup the kernel accepts
    (SINGLE_ISSUER|DEFER_TASKRUN, else COOP_TASKRUN, else plain; SQPOLL on request), with a
    distinct code when io_uring is refused (ZENITH_E_URING_DISABLED) so the caller can fall
    back. get_sqe flushes a full SQ; wait submits and waits with a timeout; completions are
    reaped in batches with one CQ advance. Provided-buffer rings (zenith_buf_ring) are filled
    from a pool, buffer id = pool index. The raw struct io_uring stays reachable.

    Inline twins: zenith_pool_acquire_inline / _release_inline, zenith_ring_get_sqe_inline,
    zenith_ring_submit_and_wait_inline, zenith_ring_peek_inline, zenith_ring_advance_inline are
    header-inline versions of the exported calls for C and C++ callers (the ring twins skip the
    NULL check, as liburing's helpers do); FFI callers use the exported functions.

    The TCP server and the FFI data-plane API follow in later releases; zenith_numa.h holds the
    NUMA helpers.

STEP BY STEP
    1. Fill a zenith_pool_config (zero = default in every field) and zenith_pool_create() it.
    2. On any thread: p = zenith_pool_acquire(pool); NULL means exhausted (never blocks).
    3. Use the buffer; pass it to another thread if you like; any thread may release it.
    4. zenith_pool_release(pool, p) returns 0, or a negative code for a pointer that is foreign,
       not at a buffer boundary, or already free (the pool is left untouched then).
    5. Optional: zenith_pool_register(pool, &ring) for READ_FIXED/WRITE_FIXED with
       buf_index = zenith_pool_index(pool, p).
    6. zenith_pool_destroy(pool) when no thread uses it any more.

MEMORY & OWNERSHIP
    - zenith_pool_create: the config is borrowed for the call. The pool owns the slab (unless
      you passed cfg.memory: then you own it and must keep it alive until destroy returns).
    - zenith_pool_acquire hands you the buffer: you own it until you release it. Release moves
      it back to the pool; touching it afterwards is a use-after-release.
    - Pointers returned by zenith_pool_at / zenith_pool_get_info are borrowed from the pool: valid
      until zenith_pool_destroy.
    - Strings from zenith_strerror / zenith_errname / zenith_version_string are static.
    - The pool mallocs only in create (metadata, through ZENITH_MALLOC or cfg.allocator) and
      in zenith_pool_register (a temporary iovec array). Acquire and release never do.

ERRORS
    Every fallible call returns int: 0 (or a count) on success, a negative code on failure.
    Creators return a handle, or NULL with the code stored through an optional int *err.
    Zenith's own codes are small negatives (ZENITH_E_*, listed below; -1..-4 are the design's
    fixed values). A kernel error is carried, not flattened: ZENITH_ESYS(errno) = -(1000+errno);
    zenith_errno(code) gives the errno back. zenith_strerror() and zenith_errname() name every
    code of both ranges.

    Double releases. The fast path keeps one state byte per buffer and checks it with a plain
    (relaxed) load and store: every double release that is ordered with the first release --
    same thread, or a thread that learned of the buffer through any synchronisation -- is
    rejected with ZENITH_E_DOUBLE_RELEASE. Two releases of the same buffer that *race* on two
    threads with no ordering between them can both pass the check; that is a data race in the
    caller. Build the implementation with ZENITH_POOL_DEBUG to catch those too: the state byte is
    then swapped atomically on every acquire and release, and per-thread caches are off (every
    operation is one CAS on the shared backend) -- for tests and staging, not production.

THREADING
    - zenith_pool_acquire / release (and their _inline twins) / acquire_bulk / release_bulk /
      index / at / get_stats / get_info / flush: any thread, concurrently, no lock. A buffer may be released on another thread
      than the one that acquired it.
    - Each thread keeps up to cache_size buffers in its own cache. Its cached buffers return
      to the shared pool when the thread exits, or when it calls zenith_pool_flush(). Buffers
      cached by thread A are not visible to thread B: size the pool for that (see LIMITS).
    - zenith_pool_create: any thread. zenith_pool_destroy: one thread, once no other thread
      uses the pool (the caller synchronises).
    - zenith_pool_register / unregister: the thread that owns the ring.
    - A zenith_ring belongs to one thread: the first that submits or waits on it (a SINGLE_ISSUER
      ring is bound to it then). All zenith_ring_* and zenith_buf_ring_* calls on it must come
      from that thread; zenith_ring_get_info and zenith_ring_probe from any thread.
    - zenith_strerror, zenith_errname, zenith_errno, zenith_version*: any thread, signal-safe.

LIMITS
    - buffer_size: multiple of 64, from 64 B to 1 GiB; buffers are page-aligned when the size
      is a multiple of the page size (4096), else 64-byte aligned.
    - buffer_count: 1 .. 2^31-1 (and the slab must fit the address space).
    - At most ZENITH_POOL_MAX_THREADS threads per process hold a cache at once (thread slots are
      recycled on thread exit); further threads use the lock-free shared path.
    - Per-thread caches park up to cache_size buffers each; give the pool at least
      threads * cache_size buffers beyond your working set, or set ZENITH_POOL_NO_CACHE.
    - zenith_pool_register: at most 16384 buffers of at most 1 GiB (kernel limits).

ZENITH DOES NOT
    print anything, abort on bad input, allocate on acquire/release, or take a lock on any path
    but create, destroy, thread exit and zenith_pool_flush (a mutex guarding the pool list).

CHANGELOG: see CHANGELOG.md. No ABI promise before 1.0.
*/
#ifndef ZENITH_H_INCLUDED
#define ZENITH_H_INCLUDED

/* The implementation and the inline fast path (which includes <liburing.h>) want glibc's GNU/POSIX
   declarations, as liburing.h itself does; this only helps if zenith.h comes before any other
   system header of the file, or the file defines _GNU_SOURCE itself (see QUICK START). */
#if (defined(ZENITH_IMPLEMENTATION) || !defined(ZENITH_NO_INLINE)) && !defined(_GNU_SOURCE)
#define _GNU_SOURCE 1
#endif

#define ZENITH_VERSION_MAJOR 0
#define ZENITH_VERSION_MINOR 1
#define ZENITH_VERSION_PATCH 0
#define ZENITH_VERSION_STRING "0.1.0"
/* Packed: major * 1000000 + minor * 1000 + patch. */
#define ZENITH_MAKE_VERSION(major, minor, patch) ((major)*1000000L + (minor)*1000L + (patch))
#define ZENITH_VERSION ZENITH_MAKE_VERSION(ZENITH_VERSION_MAJOR, ZENITH_VERSION_MINOR, ZENITH_VERSION_PATCH)
/* True when this header is version a.b.c or newer. */
#define ZENITH_VERSION_AT_LEAST(a, b, c) (ZENITH_VERSION >= ZENITH_MAKE_VERSION(a, b, c))

#include <stddef.h>
#include <stdint.h>

#ifndef ZENITH_API
#if defined(ZENITH_STATIC)
#if defined(__GNUC__)
#define ZENITH_API static __attribute__((unused))
#else
#define ZENITH_API static
#endif
#elif defined(ZENITH_SHARED) && defined(__GNUC__)
#define ZENITH_API extern __attribute__((visibility("default")))
#else
#define ZENITH_API extern
#endif
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* ---------------------------------------------------------------------------------------------
   Errors
   ------------------------------------------------------------------------------------------ */

/* X(name, value, description). -1..-4 are fixed by the design; new codes are appended. */
#define ZENITH_ERROR_LIST(X)                                                                     \
    X(ZENITH_OK, 0, "success")                                                                   \
    X(ZENITH_E_NULL, -1, "null pointer")                                                         \
    X(ZENITH_E_FULL, -2, "buffer full (pool empty, ring full or send queue full)")               \
    X(ZENITH_E_PLUGIN, -3, "plugin load error")                                                  \
    X(ZENITH_E_FFI, -4, "FFI conversion error")                                                  \
    X(ZENITH_E_INVAL, -5, "invalid argument")                                                    \
    X(ZENITH_E_NOMEM, -6, "out of memory")                                                       \
    X(ZENITH_E_UNSUPPORTED, -7, "not supported by this kernel or build")                         \
    X(ZENITH_E_STALE, -8, "closed or stale id")                                                  \
    X(ZENITH_E_EXIST, -9, "already exists")                                                      \
    X(ZENITH_E_TIMEDOUT, -10, "timed out")                                                       \
    X(ZENITH_E_FOREIGN, -11, "pointer is not from this pool")                                    \
    X(ZENITH_E_MISALIGNED, -12, "pointer is not at a buffer boundary")                           \
    X(ZENITH_E_DOUBLE_RELEASE, -13, "buffer is already free (double release)")                   \
    X(ZENITH_E_MEMLOCK, -14, "locked-memory limit (RLIMIT_MEMLOCK) too low to register buffers") \
    X(ZENITH_E_RANGE, -15, "value out of range")                                                 \
    X(ZENITH_E_URING_DISABLED, -16, "io_uring unavailable (ENOSYS, seccomp or io_uring_disabled)")

enum zenith_error {
#define ZENITH__ENUM(name, value, text) name = value,
    ZENITH_ERROR_LIST(ZENITH__ENUM)
#undef ZENITH__ENUM
        ZENITH_E_LAST_ = -17
};

/* Kernel errors: one code per errno, in a range of their own, never colliding with the above. */
#define ZENITH_ESYS_BASE 1000
#define ZENITH_ESYS(e) (-(ZENITH_ESYS_BASE + (e)))
#define ZENITH_IS_ESYS(code) ((code) <= -ZENITH_ESYS_BASE - 1 && (code) >= -ZENITH_ESYS_BASE - 4095)

/* Description of any code (Zenith's or ZENITH_ESYS). Never NULL; static; any thread. */
ZENITH_API const char *zenith_strerror(int code);
/* Name of any code: "ZENITH_E_FULL", "ECONNRESET" for ZENITH_ESYS(ECONNRESET), "ZENITH_E_UNKNOWN"
   for a code that is neither. Never NULL; static; any thread. */
ZENITH_API const char *zenith_errname(int code);
/* The errno carried by a ZENITH_ESYS code, or 0 for any other code. Any thread. */
ZENITH_API int zenith_errno(int code);

/* Version of the compiled implementation (ZENITH_VERSION packing), to catch a header/.so
   mismatch: compare with ZENITH_VERSION. Any thread. */
ZENITH_API long zenith_version(void);
/* "0.1.0". Static; any thread. */
ZENITH_API const char *zenith_version_string(void);

/* ---------------------------------------------------------------------------------------------
   Buffer pool
   ------------------------------------------------------------------------------------------ */

struct io_uring; /* liburing's ring; only a pointer crosses this API */
typedef struct zenith_pool zenith_pool;

/* Optional runtime allocator for metadata (FFI callers cannot define macros). Both functions or
   neither. free gets the size that alloc was asked for. */
typedef struct zenith_allocator {
    void *(*alloc)(size_t size, void *user);
    void (*free)(void *ptr, size_t size, void *user);
    void *user;
} zenith_allocator;

enum zenith_pool_flags {
    /* Try a hugetlb mapping (2 MiB pages); if none are reserved, fall back to normal pages with
       transparent-huge-page advice. zenith_pool_get_info tells which was taken. */
    ZENITH_POOL_HUGE_PAGES = 1u << 0,
    /* With ZENITH_POOL_HUGE_PAGES: fail with ZENITH_ESYS(errno) instead of falling back. */
    ZENITH_POOL_HUGE_PAGES_REQUIRED = 1u << 1,
    /* Fault every page of the slab in at create, so no acquire ever meets a first-touch fault. */
    ZENITH_POOL_PREFAULT = 1u << 2,
    /* No per-thread caches: every acquire and release goes to the lock-free shared backend
       (one CAS each). Nothing is ever parked in a thread. */
    ZENITH_POOL_NO_CACHE = 1u << 3
};

/* Zero means default in every field. Borrowed for the call. */
typedef struct zenith_pool_config {
    size_t buffer_size;         /* bytes per buffer, a multiple of 64; 0 = 4096 */
    uint32_t buffer_count;      /* 0 = 1024 */
    uint32_t cache_size;        /* per-thread cache capacity; 0 = min(256, max(2, buffer_count / 8)),
                               at most ZENITH_POOL_MAX_CACHE */
    uint32_t flags;             /* enum zenith_pool_flags */
    uint32_t reserved_;         /* must be 0 */
    void *memory;               /* nullable: caller-owned slab, page-aligned; ignored flags:
                               HUGE_PAGES. Must outlive the pool. */
    size_t memory_size;         /* bytes at memory: at least buffer_size * buffer_count */
    zenith_allocator allocator; /* nullable functions: metadata allocator */
} zenith_pool_config;

/* Counters are sums of per-thread counters: exact when no acquire or release is in flight,
   a close snapshot otherwise. */
typedef struct zenith_pool_stats {
    uint64_t total;             /* buffer_count */
    uint64_t in_use;            /* acquired and not yet released */
    uint64_t free;              /* total - in_use (includes buffers parked in thread caches) */
    uint64_t acquires;          /* successful acquires (bulk: one per buffer) */
    uint64_t releases;          /* successful releases (bulk: one per buffer) */
    uint64_t failed_acquires;   /* acquires that returned NULL / bulk calls that failed */
    uint64_t rejected_releases; /* = rejected_foreign + rejected_misaligned + rejected_double */
    uint64_t rejected_foreign;
    uint64_t rejected_misaligned;
    uint64_t rejected_double;
} zenith_pool_stats;

enum zenith_pool_info_flags {
    ZENITH_POOL_INFO_HUGETLB = 1u << 0,       /* slab is on hugetlb pages */
    ZENITH_POOL_INFO_THP_ADVISED = 1u << 1,   /* slab advised MADV_HUGEPAGE */
    ZENITH_POOL_INFO_PREFAULTED = 1u << 2,    /* every page was faulted in at create */
    ZENITH_POOL_INFO_CALLER_MEMORY = 1u << 3, /* slab is cfg.memory */
    ZENITH_POOL_INFO_DEBUG = 1u << 4          /* implementation built with ZENITH_POOL_DEBUG */
};

typedef struct zenith_pool_info {
    void *base; /* first buffer (borrowed; valid until destroy) */
    size_t buffer_size;
    uint32_t buffer_count;
    uint32_t cache_size;  /* effective per-thread cache capacity (0 with NO_CACHE) */
    size_t slab_size;     /* bytes mapped or used for buffers */
    size_t metadata_size; /* bytes allocated for bookkeeping */
    uint32_t flags;       /* enum zenith_pool_info_flags */
    uint32_t registered;  /* rings this pool is registered with (zenith_pool_register) */
} zenith_pool_info;

/* Creates a pool.
   Params: cfg (in, borrowed, nullable = all defaults); err (out, nullable): 0 or the code.
   Returns: the pool, or NULL with *err =
     ZENITH_E_INVAL: buffer_size not a multiple of 64 or > 1 GiB, buffer_count > 2^31-1,
                     cache_size > ZENITH_POOL_MAX_CACHE, unknown flags, reserved_ != 0,
                     cfg.memory not page-aligned or smaller than the slab, half an allocator
     ZENITH_E_RANGE: buffer_size * buffer_count overflows
     ZENITH_E_NOMEM: metadata allocation failed
     ZENITH_ESYS(e): mmap failed (e.g. ENOMEM; with HUGE_PAGES_REQUIRED, no huge pages)
   Thread safety: any thread. Lifetime: until zenith_pool_destroy. */
ZENITH_API zenith_pool *zenith_pool_create(const zenith_pool_config *cfg, int *err);

/* Destroys the pool: unmaps the slab (unless caller-provided) and frees metadata. Buffers still
   out, and buffers cached by other live threads, become invalid. Accepts NULL.
   Thread safety: one thread, when no other thread uses the pool. Not while registered with a
   ring that is still alive if the kernel may still access the buffers (unregister first). */
ZENITH_API void zenith_pool_destroy(zenith_pool *pool);

/* Takes one buffer. O(1); never blocks, never allocates, no atomic RMW on the cached path.
   Returns: the buffer (owned by the caller until released), or NULL if pool is NULL or no buffer
   is free to this thread (counted in failed_acquires).
   Thread safety: any thread. */
ZENITH_API void *zenith_pool_acquire(zenith_pool *pool);

/* Gives a buffer back. O(1); never blocks.
   Params: buf (in, ownership moves to the pool).
   Returns: 0, or (pool untouched, counted in rejected_releases)
     ZENITH_E_NULL: pool or buf is NULL
     ZENITH_E_FOREIGN: buf is not inside this pool's slab
     ZENITH_E_MISALIGNED: buf is inside the slab but not at the start of a buffer
     ZENITH_E_DOUBLE_RELEASE: buf is already free (see ERRORS for which races need the debug build)
   Thread safety: any thread, including one that did not acquire the buffer. */
ZENITH_API int zenith_pool_release(zenith_pool *pool, void *buf);

/* Takes n buffers, all or nothing. Params: bufs (out, n entries).
   Returns: n, or ZENITH_E_NULL (pool or bufs NULL), ZENITH_E_FULL (fewer than n free to this
   thread; nothing taken). n == 0 returns 0. Thread safety: any thread. */
ZENITH_API int zenith_pool_acquire_bulk(zenith_pool *pool, void **bufs, unsigned n);

/* Gives n buffers back, all or nothing: every pointer is checked first (including the same
   pointer twice in bufs); on any bad pointer nothing is released and its code is returned.
   Returns: n, or a code of zenith_pool_release. Thread safety: any thread. */
ZENITH_API int zenith_pool_release_bulk(zenith_pool *pool, void *const *bufs, unsigned n);

/* Buffer index of a pointer at a buffer boundary (0 .. buffer_count-1), the kernel's buf_index.
   Returns: the index, or ZENITH_E_NULL, ZENITH_E_FOREIGN, ZENITH_E_MISALIGNED. Does not check
   whether the buffer is in use. Thread safety: any thread. */
ZENITH_API int zenith_pool_index(const zenith_pool *pool, const void *buf);

/* Pointer to buffer number index, or NULL if pool is NULL or index is out of range.
   Does not acquire it. Thread safety: any thread. */
ZENITH_API void *zenith_pool_at(const zenith_pool *pool, uint32_t index);

/* Returns this thread's cached buffers to the shared pool, so other threads can take them.
   Returns: the number of buffers moved, or ZENITH_E_NULL. Thread safety: any thread (acts on
   the calling thread's cache only). */
ZENITH_API int zenith_pool_flush(zenith_pool *pool);

/* Fills *out with the counters. Returns 0 or ZENITH_E_NULL. Cost: one pass over the thread
   caches (ZENITH_POOL_MAX_THREADS + 1 cache lines). Thread safety: any thread. */
ZENITH_API int zenith_pool_get_stats(const zenith_pool *pool, zenith_pool_stats *out);

/* Fills *out with the pool's geometry and placement. Returns 0 or ZENITH_E_NULL.
   Thread safety: any thread. */
ZENITH_API int zenith_pool_get_info(const zenith_pool *pool, zenith_pool_info *out);

/* Registers every buffer with the ring as a fixed buffer, buffer index = pool index, so
   IORING_OP_READ_FIXED / WRITE_FIXED take buf_index = zenith_pool_index(pool, buf).
   The pool keeps working whether or not this succeeds.
   Returns: 0, or
     ZENITH_E_NULL: pool or ring is NULL
     ZENITH_E_RANGE: more than 16384 buffers, or buffers over 1 GiB (kernel limits)
     ZENITH_E_MEMLOCK: RLIMIT_MEMLOCK is too low to pin the slab (raise it, e.g.
                       `ulimit -l`, or grant CAP_IPC_LOCK); the pool stays usable unregistered
     ZENITH_E_NOMEM: the temporary iovec array could not be allocated
     ZENITH_ESYS(e): the kernel refused (EBUSY: the ring already has fixed buffers, ...)
   Thread safety: the thread that owns the ring. */
ZENITH_API int zenith_pool_register(zenith_pool *pool, struct io_uring *ring);

/* Unregisters the ring's fixed buffers (registered by zenith_pool_register).
   Returns: 0, ZENITH_E_NULL, ZENITH_ESYS(e) (ENXIO: nothing registered).
   Thread safety: the thread that owns the ring. */
ZENITH_API int zenith_pool_unregister(zenith_pool *pool, struct io_uring *ring);

/* ---------------------------------------------------------------------------------------------
   io_uring ring
   ------------------------------------------------------------------------------------------ */

struct io_uring_sqe;
struct io_uring_cqe;
typedef struct zenith_ring zenith_ring;
typedef struct zenith_buf_ring zenith_buf_ring;

enum zenith_ring_flags {
    ZENITH_RING_SQPOLL = 1u << 0,     /* a kernel thread polls the SQ: no submit syscalls, one busy CPU */
    ZENITH_RING_SQPOLL_CPU = 1u << 1, /* with SQPOLL: pin that thread to cfg.sqpoll_cpu */
    ZENITH_RING_NO_DEFER = 1u << 2,   /* do not try SINGLE_ISSUER|DEFER_TASKRUN (start at COOP_TASKRUN) */
    ZENITH_RING_PLAIN = 1u << 3       /* no task-run flags at all (for comparisons and old kernels) */
};

/* Which setup zenith_ring_create took, best first. */
enum zenith_ring_mode {
    ZENITH_RING_MODE_DEFER_TASKRUN = 1, /* SINGLE_ISSUER | DEFER_TASKRUN: completions run only in wait */
    ZENITH_RING_MODE_COOP_TASKRUN = 2,  /* COOP_TASKRUN | TASKRUN_FLAG: no IPIs for task work */
    ZENITH_RING_MODE_PLAIN = 3,
    ZENITH_RING_MODE_SQPOLL = 4
};

/* Zero means default in every field. Borrowed for the call. */
typedef struct zenith_ring_config {
    uint32_t sq_entries;     /* 0 = 256; a power of two, 1 .. 32768 */
    uint32_t cq_entries;     /* 0 = 4 x sq_entries; a power of two, 2 x to 4 x sq_entries */
    uint32_t flags;          /* enum zenith_ring_flags */
    uint32_t sqpoll_idle_ms; /* with SQPOLL: idle time before the poller sleeps; 0 = 1000 */
    uint32_t sqpoll_cpu;     /* with ZENITH_RING_SQPOLL_CPU */
    uint32_t reserved_;      /* must be 0 */
} zenith_ring_config;

typedef struct zenith_ring_info {
    int mode;            /* enum zenith_ring_mode */
    uint32_t sq_entries; /* as the kernel sized them */
    uint32_t cq_entries;
    uint32_t setup_flags; /* IORING_SETUP_* in effect */
    uint32_t features;    /* IORING_FEAT_* the kernel reported */
    uint32_t reserved_;
    uint64_t cq_overflow; /* completions the kernel could not post (0 with IORING_FEAT_NODROP) */
} zenith_ring_info;

/* Called by zenith_ring_reap for each completion; cqe is borrowed for the call. */
typedef void (*zenith_cqe_fn)(void *user, struct io_uring_cqe *cqe);

/* Creates a ring with the best setup the kernel accepts: SINGLE_ISSUER|DEFER_TASKRUN, else
   COOP_TASKRUN|TASKRUN_FLAG, else plain (SQPOLL only when asked). A SINGLE_ISSUER ring belongs to
   the first thread that submits or waits on it (not necessarily the creating thread).
   Params: cfg (in, borrowed, nullable = defaults); err (out, nullable).
   Returns: the ring, or NULL with *err =
     ZENITH_E_INVAL: sizes not powers of two or out of range, unknown flags, reserved_ != 0
     ZENITH_E_URING_DISABLED: the kernel refuses io_uring (ENOSYS; EPERM from seccomp or
                              kernel.io_uring_disabled): fall back to another backend
     ZENITH_E_NOMEM: allocation failed
     ZENITH_ESYS(e): io_uring_setup failed otherwise (EMFILE, ENOMEM for locked memory, ...)
   Thread safety: any thread. */
ZENITH_API zenith_ring *zenith_ring_create(const zenith_ring_config *cfg, int *err);

/* Closes the ring (pending operations are cancelled by the kernel) and frees it. Accepts NULL.
   Destroy buffer rings created on it first. Thread safety: the owner thread. */
ZENITH_API void zenith_ring_destroy(zenith_ring *ring);

/* Fills *out. Returns 0 or ZENITH_E_NULL. Thread safety: any thread. */
ZENITH_API int zenith_ring_get_info(const zenith_ring *ring, zenith_ring_info *out);

/* liburing's ring, for what Zenith does not wrap (borrowed; valid until destroy). Returns NULL
   for NULL. Submitting on it directly is fine once the ring has been submitted or waited on
   through Zenith at least once (which binds a SINGLE_ISSUER ring to its thread). */
ZENITH_API struct io_uring *zenith_ring_raw(zenith_ring *ring);

/* Next free SQE (borrowed until the next submit). When the SQ is full it submits what is
   queued first, so it only returns NULL if ring is NULL or that submit failed (e.g. EBUSY with
   the CQ backlog full: reap, then retry). The SQE is zeroed by the io_uring_prep_* helpers, not
   here. Thread safety: the owner thread. */
ZENITH_API struct io_uring_sqe *zenith_ring_get_sqe(zenith_ring *ring);

/* Submits the queued SQEs. Returns the number submitted, or ZENITH_E_NULL, ZENITH_ESYS(e).
   Thread safety: the owner thread. */
ZENITH_API int zenith_ring_submit(zenith_ring *ring);

/* Submits what is queued, then waits until at least min_complete completions are ready or
   timeout_ms passes (< 0: no timeout; 0: do not sleep, but do run pending task work, which a
   DEFER_TASKRUN ring needs to post its completions). Returns the number of completions ready
   (possibly 0 on timeout or signal), or ZENITH_E_NULL, ZENITH_ESYS(e).
   Thread safety: the owner thread. */
ZENITH_API int zenith_ring_wait(zenith_ring *ring, unsigned min_complete, int timeout_ms);

/* Up to max ready completions into cqes[] (borrowed until zenith_ring_advance). Returns the count.
   Thread safety: the owner thread. */
ZENITH_API unsigned zenith_ring_peek(zenith_ring *ring, struct io_uring_cqe **cqes, unsigned max);

/* Marks n completions seen (one CQ head store for the batch). Thread safety: the owner thread. */
ZENITH_API void zenith_ring_advance(zenith_ring *ring, unsigned n);

/* Calls fn(user, cqe) for up to max ready completions (0 = all ready), then advances the CQ once.
   fn may queue new SQEs but must not reap. Returns the number handled, or ZENITH_E_NULL.
   Thread safety: the owner thread. Callback safety: not re-entrant. */
ZENITH_API int zenith_ring_reap(zenith_ring *ring, zenith_cqe_fn fn, void *user, unsigned max);

/* Whether the kernel supports opcode (IORING_OP_*), from a probe taken at create.
   Returns 1, 0, or ZENITH_E_NULL, ZENITH_E_INVAL (opcode out of 0..255). Thread safety: any. */
ZENITH_API int zenith_ring_probe(const zenith_ring *ring, int opcode);

/* ---------------------------------------------------------------------------------------------
   Provided-buffer ring (IOSQE_BUFFER_SELECT): the kernel picks a pool buffer per receive
   ------------------------------------------------------------------------------------------ */

/* Registers a provided-buffer ring of `entries` slots (a power of two, 1 .. 32768) as buffer
   group `group` on ring, and fills it with up to `entries` buffers acquired from pool. The
   buffer id the kernel reports is the pool index, so the pool may hold at most 65536 buffers.
   Params: ring, pool (in, borrowed; must outlive the buffer ring); err (out, nullable).
   Returns: the buffer ring, or NULL with *err = ZENITH_E_NULL, ZENITH_E_INVAL (entries),
     ZENITH_E_RANGE (pool over 65536 buffers), ZENITH_E_FULL (the pool gave no buffer at all),
     ZENITH_E_UNSUPPORTED (kernel without provided-buffer rings), ZENITH_E_EXIST (group taken),
     ZENITH_E_NOMEM, ZENITH_ESYS(e). Thread safety: the ring's owner thread. */
ZENITH_API zenith_buf_ring *zenith_buf_ring_create(zenith_ring *ring, zenith_pool *pool, uint16_t group,
                                                   uint32_t entries, int *err);

/* Unregisters the buffer ring and releases the buffers it still holds to the pool (buffers the
   application claimed stay the application's). Accepts NULL. Thread safety: the owner thread. */
ZENITH_API void zenith_buf_ring_destroy(zenith_buf_ring *br);

/* The buffer a completion carries (IORING_CQE_F_BUFFER in cqe_flags): ownership moves to the
   caller, who gives it back with zenith_buf_ring_give or zenith_pool_release. Returns the buffer,
   or NULL if cqe_flags carries none (or br is NULL, or the id is not one this ring handed out).
   Thread safety: the owner thread. */
ZENITH_API void *zenith_buf_ring_claim(zenith_buf_ring *br, uint32_t cqe_flags);

/* Puts a pool buffer (any buffer of the ring's pool, owned by the caller) into the ring.
   Returns 0, or ZENITH_E_NULL, ZENITH_E_FOREIGN / ZENITH_E_MISALIGNED (not a buffer of the pool),
   ZENITH_E_EXIST (already in the ring), ZENITH_E_FULL (ring full: keep or release it).
   Thread safety: the owner thread. */
ZENITH_API int zenith_buf_ring_give(zenith_buf_ring *br, void *buf);

/* Buffers currently in the ring (available to the kernel). Thread safety: the owner thread. */
ZENITH_API uint32_t zenith_buf_ring_available(const zenith_buf_ring *br);

#ifdef __cplusplus
}
#endif

#endif /* ZENITH_H_INCLUDED */

/* ---------------------------------------------------------------------------------------------
   Inline fast path (C and C++ only; define ZENITH_NO_INLINE to leave it out, e.g. for FFI
   header parsers). zenith_pool_acquire_inline / zenith_pool_release_inline behave exactly like
   zenith_pool_acquire / zenith_pool_release (same checks, codes, counters and thread safety) and
   save the call. The layout below is private and may change in any release: use the functions.
   ------------------------------------------------------------------------------------------ */
#if (!defined(ZENITH_NO_INLINE) || defined(ZENITH_IMPLEMENTATION)) && !defined(ZENITH_INLINE_INCLUDED)
#define ZENITH_INLINE_INCLUDED

#ifdef __cplusplus
extern "C" {
#endif

typedef struct zenith__pool_hot { /* first member of struct zenith_pool; read-only after create */
    unsigned char *base;          /* buffer i at base + i * buffer_size */
    unsigned char *state;         /* one byte per buffer: 0 free, 1 in use */
    unsigned char *caches;        /* per-thread cache headers, ZENITH__POOL_CACHE_STRIDE apart */
    size_t buffer_size;
    uint64_t inv;           /* inverse of the odd part of buffer_size, mod 2^64 */
    uint64_t release_limit; /* buffer_count (0 in a ZENITH_POOL_DEBUG build: all releases checked) */
    uint32_t tz;            /* trailing zero bits of buffer_size */
    uint32_t reserved_;
} zenith__pool_hot;

/* One per thread slot, written by its owner thread only (get_stats reads the counters). */
/* Magazines (Bonwick): the thread holds a loaded magazine, which the fast path pops and pushes,
   and a previous one; objs points into the loaded magazine's slots, so trading magazines with
   the shared depot swaps ids, never copies indices. */
typedef struct zenith__pool_cache {
    uint64_t len;      /* rounds in the loaded magazine */
    uint64_t cap;      /* magazine size; 0 = not armed (no magazine yet, slot 0, NO_CACHE, debug) */
    uint32_t *objs;    /* the loaded magazine's slots, top = objs[len - 1] */
    uint64_t acquires; /* acquires through this cache */
    uint64_t releases; /* releases through this cache */
    uint32_t loaded;   /* magazine ids, or UINT32_MAX */
    uint32_t previous;
    uint32_t previous_len; /* rounds in the previous magazine */
    uint32_t reserved_;
    unsigned char pad_[72]; /* 128 bytes: no false sharing, even with adjacent-line prefetch */
} zenith__pool_cache;

#define ZENITH__POOL_CACHE_STRIDE 128u
#define ZENITH__POOL_OBJS(c) ((c)->objs)

/* The calling thread's cache slot times ZENITH__POOL_CACHE_STRIDE (0 = no slot yet), shared by
   all pools: a thread's cache in any pool is at pool caches + this offset. TLS model
   initial-exec: one %fs-relative load even in PIC code (no __tls_get_addr call). */
#if defined(ZENITH_STATIC)
static __thread size_t zenith__tls_cache_off __attribute__((unused, tls_model("initial-exec")));
#elif defined(ZENITH_SHARED)
extern __thread size_t zenith__tls_cache_off __attribute__((visibility("default"), tls_model("initial-exec")));
#else
extern __thread size_t zenith__tls_cache_off __attribute__((tls_model("initial-exec")));
#endif

ZENITH_API void *zenith__pool_acquire_slow(zenith_pool *pool);
ZENITH_API int zenith__pool_release_slow(zenith_pool *pool, void *buf);
ZENITH_API int zenith__pool_release_other(zenith_pool *pool, void *buf);

static inline zenith__pool_cache *zenith__pool_my_cache(const zenith__pool_hot *h) {
    return (zenith__pool_cache *)(void *)(h->caches + zenith__tls_cache_off);
}

/* Owner-only counter, read by zenith_pool_get_stats on other threads. No atomic RMW: on x86-64
   one plain `add` to memory (its 8-byte aligned store is single-copy atomic, so a concurrent
   reader sees the old or the new value); elsewhere, and under TSan, a relaxed load and store. */
#if defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define ZENITH__TSAN 1
#endif
#endif
#if defined(__SANITIZE_THREAD__)
#define ZENITH__TSAN 1
#endif
static inline void zenith__counter_add(uint64_t *counter, uint64_t n) {
#if defined(__x86_64__) && !defined(ZENITH__TSAN)
    __asm__("addq %1, %0" : "+m"(*counter) : "er"(n));
#else
    __atomic_store_n(counter, __atomic_load_n(counter, __ATOMIC_RELAXED) + n, __ATOMIC_RELAXED);
#endif
}

/* Same contract as zenith_pool_acquire. */
static inline void *zenith_pool_acquire_inline(zenith_pool *pool) {
    const zenith__pool_hot *h = (const zenith__pool_hot *)(const void *)pool;
    zenith__pool_cache *c;
    uint64_t n;
    uint32_t idx;
    if (__builtin_expect(pool == NULL, 0)) return NULL;
    c = zenith__pool_my_cache(h);
    if (__builtin_expect(__builtin_sub_overflow(c->len, 1u, &n), 0)) /* empty: refill, or no cache */
        return zenith__pool_acquire_slow(pool);
    idx = c->objs[n];
    c->len = n;
    h->state[idx] = 1u;
    zenith__counter_add(&c->acquires, 1u);
    return h->base + (size_t)idx * h->buffer_size;
}

/* Same contract as zenith_pool_release. */
static inline int zenith_pool_release_inline(zenith_pool *pool, void *buf) {
    const zenith__pool_hot *h = (const zenith__pool_hot *)(const void *)pool;
    zenith__pool_cache *c;
    uint64_t q, n;
    if (__builtin_expect(pool == NULL, 0)) return ZENITH_E_NULL;
    /* Exact division test (Granlund-Montgomery): with buffer_size = odd << tz and inv = 1/odd
       mod 2^64, rotr((buf - base) * inv, tz) is the buffer index when buf is at a buffer start,
       and >= buffer_count otherwise (stray low bits rotate to the top). One compare sends
       foreign, misaligned and NULL pointers to the checked path. */
    q = (uint64_t)((uintptr_t)buf - (uintptr_t)h->base) * h->inv;
    q = (q >> h->tz) | (q << ((64u - h->tz) & 63u));
    if (__builtin_expect(q >= h->release_limit, 0)) return zenith__pool_release_other(pool, buf);
    /* in use (1) -> free (0) in one step; an already-free buffer (0) wraps to 255, which the
       checked path sees, puts back to 0 and reports as a double release */
    if (__builtin_expect(--h->state[q] != 0u, 0)) return zenith__pool_release_other(pool, buf);
    c = zenith__pool_my_cache(h);
    n = c->len;
    if (__builtin_expect(n == c->cap, 0)) return zenith__pool_release_slow(pool, buf); /* flush, or no cache */
    c->objs[n] = (uint32_t)q;
    c->len = n + 1u;
    zenith__counter_add(&c->releases, 1u);
    return 0;
}

#ifdef __cplusplus
}
#endif

/* ---- ring: the per-operation calls inline (liburing's own helpers are inline too) ---------- */

#if defined(__GNUC__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wpedantic"
#pragma GCC diagnostic ignored "-Wsign-conversion"
#pragma GCC diagnostic ignored "-Wconversion"
#pragma GCC diagnostic ignored "-Wcast-align"
#endif
#include <liburing.h>
#if defined(__GNUC__)
#pragma GCC diagnostic pop
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* The start of struct zenith_ring (private; may change): what the inline twins read. */
typedef struct zenith__ring_head {
    struct io_uring ring;
    int enabled; /* a SINGLE_ISSUER ring starts disabled; the first submit or wait enables it */
    int reserved_;
} zenith__ring_head;

ZENITH_API __attribute__((cold)) struct io_uring_sqe *zenith__ring_get_sqe_slow(zenith_ring *ring);
ZENITH_API int zenith__ring_wait_slow(zenith_ring *ring, unsigned min_complete);

/* zenith_ring_get_sqe without the NULL check, as liburing's own inline helpers: ring must be a
   live ring (a zenith_ring starts with its struct io_uring). Use zenith_ring_get_sqe for a
   checked call. */
static inline struct io_uring_sqe *zenith_ring_get_sqe_inline(zenith_ring *ring) {
    struct io_uring_sqe *sqe = io_uring_get_sqe((struct io_uring *)(void *)ring);
    return __builtin_expect(sqe != NULL, 1) ? sqe : zenith__ring_get_sqe_slow(ring); /* SQ full: submit */
}

/* Submits what is queued and blocks until min_complete completions are ready, with no timeout:
   zenith_ring_wait(ring, min_complete, -1) without the NULL check, returning what
   io_uring_submit_and_wait does (the number submitted) or ZENITH_ESYS(e). */
static inline int zenith_ring_submit_and_wait_inline(zenith_ring *ring, unsigned min_complete) {
    zenith__ring_head *h = (zenith__ring_head *)(void *)ring;
    int rc;
    if (__builtin_expect(!h->enabled, 0)) return zenith__ring_wait_slow(ring, min_complete); /* first use */
    rc = io_uring_submit_and_wait(&h->ring, min_complete);
    return rc < 0 ? ZENITH_ESYS(-rc) : rc;
}

/* zenith_ring_peek without the NULL checks (ring and cqes must be valid). */
static inline unsigned zenith_ring_peek_inline(zenith_ring *ring, struct io_uring_cqe **cqes, unsigned max) {
    return io_uring_peek_batch_cqe(&((zenith__ring_head *)(void *)ring)->ring, cqes, max);
}

/* zenith_ring_advance without the NULL check (ring must be a live ring). */
static inline void zenith_ring_advance_inline(zenith_ring *ring, unsigned n) {
    io_uring_cq_advance((struct io_uring *)(void *)ring, n);
}

#ifdef __cplusplus
}
#endif

#endif /* ZENITH_INLINE_INCLUDED */

/* =============================================================================================
   Implementation
   ========================================================================================== */
#if defined(ZENITH_IMPLEMENTATION) && !defined(ZENITH_IMPLEMENTATION_INCLUDED)
#define ZENITH_IMPLEMENTATION_INCLUDED

#if defined(ZENITH_MALLOC) != defined(ZENITH_FREE)
#error "zenith.h: define both ZENITH_MALLOC and ZENITH_FREE, or neither"
#endif
#if !defined(__linux__)
#error "zenith.h: Linux only"
#endif
#if !defined(__GNUC__)
#error "zenith.h: needs gcc or clang (__atomic builtins)"
#endif

#ifndef ZENITH_MALLOC
#include <stdlib.h>
#define ZENITH_MALLOC(sz) malloc(sz)
#define ZENITH_FREE(p) free(p)
#endif
#ifndef ZENITH_ASSERT
#include <assert.h>
#define ZENITH_ASSERT(c) assert(c)
#endif
#ifndef ZENITH_POOL_MAX_THREADS
#define ZENITH_POOL_MAX_THREADS 64
#endif
#ifndef ZENITH_POOL_MAX_CACHE
#define ZENITH_POOL_MAX_CACHE 1024
#endif
#if ZENITH_POOL_MAX_THREADS < 1 || ZENITH_POOL_MAX_THREADS > 4096
#error "zenith.h: ZENITH_POOL_MAX_THREADS must be 1..4096"
#endif

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#if defined(__GLIBC__) && !defined(__USE_MISC)
#error \
    "zenith.h: the implementation needs glibc's default/GNU declarations: #define _GNU_SOURCE before the first #include of this file, or include zenith.h with ZENITH_IMPLEMENTATION first"
#endif

#if defined(__GNUC__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wpedantic"
#pragma GCC diagnostic ignored "-Wsign-conversion"
#pragma GCC diagnostic ignored "-Wconversion"
#pragma GCC diagnostic ignored "-Wcast-align"
#endif
#include <liburing.h>
#if defined(__GNUC__)
#pragma GCC diagnostic pop
#endif

#ifdef __cplusplus
extern "C" {
#endif

#define ZENITH__LIKELY(x) __builtin_expect(!!(x), 1)
#define ZENITH__UNLIKELY(x) __builtin_expect(!!(x), 0)
#define ZENITH__NOINLINE __attribute__((noinline))
#define ZENITH__LINE 64u
#define ZENITH__NONE UINT32_MAX
#define ZENITH__FREE_STATE 0u
#define ZENITH__USED_STATE 1u
#define ZENITH__MAX_REG_BUFFERS 16384u
#define ZENITH__MAX_BUFFER_SIZE ((size_t)1 << 30)
#define ZENITH__HUGE_PAGE ((size_t)2 << 20)

/* ---- errors ------------------------------------------------------------------------------ */

#define ZENITH__ERRNO_LIST(X)                                      \
    X(EPERM, "Operation not permitted")                            \
    X(ENOENT, "No such file or directory")                         \
    X(ESRCH, "No such process")                                    \
    X(EINTR, "Interrupted system call")                            \
    X(EIO, "Input/output error")                                   \
    X(ENXIO, "No such device or address")                          \
    X(E2BIG, "Argument list too long")                             \
    X(ENOEXEC, "Exec format error")                                \
    X(EBADF, "Bad file descriptor")                                \
    X(ECHILD, "No child processes")                                \
    X(EAGAIN, "Resource temporarily unavailable")                  \
    X(ENOMEM, "Cannot allocate memory")                            \
    X(EACCES, "Permission denied")                                 \
    X(EFAULT, "Bad address")                                       \
    X(ENOTBLK, "Block device required")                            \
    X(EBUSY, "Device or resource busy")                            \
    X(EEXIST, "File exists")                                       \
    X(EXDEV, "Invalid cross-device link")                          \
    X(ENODEV, "No such device")                                    \
    X(ENOTDIR, "Not a directory")                                  \
    X(EISDIR, "Is a directory")                                    \
    X(EINVAL, "Invalid argument")                                  \
    X(ENFILE, "Too many open files in system")                     \
    X(EMFILE, "Too many open files")                               \
    X(ENOTTY, "Inappropriate ioctl for device")                    \
    X(ETXTBSY, "Text file busy")                                   \
    X(EFBIG, "File too large")                                     \
    X(ENOSPC, "No space left on device")                           \
    X(ESPIPE, "Illegal seek")                                      \
    X(EROFS, "Read-only file system")                              \
    X(EMLINK, "Too many links")                                    \
    X(EPIPE, "Broken pipe")                                        \
    X(EDOM, "Numerical argument out of domain")                    \
    X(ERANGE, "Numerical result out of range")                     \
    X(EDEADLK, "Resource deadlock avoided")                        \
    X(ENAMETOOLONG, "File name too long")                          \
    X(ENOLCK, "No locks available")                                \
    X(ENOSYS, "Function not implemented")                          \
    X(ENOTEMPTY, "Directory not empty")                            \
    X(ELOOP, "Too many levels of symbolic links")                  \
    X(ENOMSG, "No message of desired type")                        \
    X(EIDRM, "Identifier removed")                                 \
    X(ECHRNG, "Channel number out of range")                       \
    X(EL2NSYNC, "Level 2 not synchronized")                        \
    X(EL3HLT, "Level 3 halted")                                    \
    X(EL3RST, "Level 3 reset")                                     \
    X(ELNRNG, "Link number out of range")                          \
    X(EUNATCH, "Protocol driver not attached")                     \
    X(ENOCSI, "No CSI structure available")                        \
    X(EL2HLT, "Level 2 halted")                                    \
    X(EBADE, "Invalid exchange")                                   \
    X(EBADR, "Invalid request descriptor")                         \
    X(EXFULL, "Exchange full")                                     \
    X(ENOANO, "No anode")                                          \
    X(EBADRQC, "Invalid request code")                             \
    X(EBADSLT, "Invalid slot")                                     \
    X(EBFONT, "Bad font file format")                              \
    X(ENOSTR, "Device not a stream")                               \
    X(ENODATA, "No data available")                                \
    X(ETIME, "Timer expired")                                      \
    X(ENOSR, "Out of streams resources")                           \
    X(ENONET, "Machine is not on the network")                     \
    X(ENOPKG, "Package not installed")                             \
    X(EREMOTE, "Object is remote")                                 \
    X(ENOLINK, "Link has been severed")                            \
    X(EADV, "Advertise error")                                     \
    X(ESRMNT, "Srmount error")                                     \
    X(ECOMM, "Communication error on send")                        \
    X(EPROTO, "Protocol error")                                    \
    X(EMULTIHOP, "Multihop attempted")                             \
    X(EDOTDOT, "RFS specific error")                               \
    X(EBADMSG, "Bad message")                                      \
    X(EOVERFLOW, "Value too large for defined data type")          \
    X(ENOTUNIQ, "Name not unique on network")                      \
    X(EBADFD, "File descriptor in bad state")                      \
    X(EREMCHG, "Remote address changed")                           \
    X(ELIBACC, "Can not access a needed shared library")           \
    X(ELIBBAD, "Accessing a corrupted shared library")             \
    X(ELIBSCN, ".lib section in a.out corrupted")                  \
    X(ELIBMAX, "Attempting to link in too many shared libraries")  \
    X(ELIBEXEC, "Cannot exec a shared library directly")           \
    X(EILSEQ, "Invalid or incomplete multibyte or wide character") \
    X(ERESTART, "Interrupted system call should be restarted")     \
    X(ESTRPIPE, "Streams pipe error")                              \
    X(EUSERS, "Too many users")                                    \
    X(ENOTSOCK, "Socket operation on non-socket")                  \
    X(EDESTADDRREQ, "Destination address required")                \
    X(EMSGSIZE, "Message too long")                                \
    X(EPROTOTYPE, "Protocol wrong type for socket")                \
    X(ENOPROTOOPT, "Protocol not available")                       \
    X(EPROTONOSUPPORT, "Protocol not supported")                   \
    X(ESOCKTNOSUPPORT, "Socket type not supported")                \
    X(EOPNOTSUPP, "Operation not supported")                       \
    X(EPFNOSUPPORT, "Protocol family not supported")               \
    X(EAFNOSUPPORT, "Address family not supported by protocol")    \
    X(EADDRINUSE, "Address already in use")                        \
    X(EADDRNOTAVAIL, "Cannot assign requested address")            \
    X(ENETDOWN, "Network is down")                                 \
    X(ENETUNREACH, "Network is unreachable")                       \
    X(ENETRESET, "Network dropped connection on reset")            \
    X(ECONNABORTED, "Software caused connection abort")            \
    X(ECONNRESET, "Connection reset by peer")                      \
    X(ENOBUFS, "No buffer space available")                        \
    X(EISCONN, "Transport endpoint is already connected")          \
    X(ENOTCONN, "Transport endpoint is not connected")             \
    X(ESHUTDOWN, "Cannot send after transport endpoint shutdown")  \
    X(ETOOMANYREFS, "Too many references: cannot splice")          \
    X(ETIMEDOUT, "Connection timed out")                           \
    X(ECONNREFUSED, "Connection refused")                          \
    X(EHOSTDOWN, "Host is down")                                   \
    X(EHOSTUNREACH, "No route to host")                            \
    X(EALREADY, "Operation already in progress")                   \
    X(EINPROGRESS, "Operation now in progress")                    \
    X(ESTALE, "Stale file handle")                                 \
    X(EUCLEAN, "Structure needs cleaning")                         \
    X(ENOTNAM, "Not a XENIX named type file")                      \
    X(ENAVAIL, "No XENIX semaphores available")                    \
    X(EISNAM, "Is a named type file")                              \
    X(EREMOTEIO, "Remote I/O error")                               \
    X(EDQUOT, "Disk quota exceeded")                               \
    X(ENOMEDIUM, "No medium found")                                \
    X(EMEDIUMTYPE, "Wrong medium type")                            \
    X(ECANCELED, "Operation canceled")                             \
    X(ENOKEY, "Required key not available")                        \
    X(EKEYEXPIRED, "Key has expired")                              \
    X(EKEYREVOKED, "Key has been revoked")                         \
    X(EKEYREJECTED, "Key was rejected by service")                 \
    X(EOWNERDEAD, "Owner died")                                    \
    X(ENOTRECOVERABLE, "State not recoverable")                    \
    X(ERFKILL, "Operation not possible due to RF-kill")            \
    X(EHWPOISON, "Memory page has hardware error")

ZENITH_API const char *zenith_strerror(int code) {
    switch (code) {
#define ZENITH__CASE(name, value, text) \
    case value: return text;
        ZENITH_ERROR_LIST(ZENITH__CASE)
#undef ZENITH__CASE
        default: break;
    }
    if (ZENITH_IS_ESYS(code)) {
        switch (-code - ZENITH_ESYS_BASE) {
#define ZENITH__CASE(name, text) \
    case name: return text;
            ZENITH__ERRNO_LIST(ZENITH__CASE)
#undef ZENITH__CASE
            default: return "unknown kernel error";
        }
    }
    return "unknown error code";
}

ZENITH_API const char *zenith_errname(int code) {
    switch (code) {
#define ZENITH__CASE(name, value, text) \
    case value: return #name;
        ZENITH_ERROR_LIST(ZENITH__CASE)
#undef ZENITH__CASE
        default: break;
    }
    if (ZENITH_IS_ESYS(code)) {
        switch (-code - ZENITH_ESYS_BASE) {
#define ZENITH__CASE(name, text) \
    case name: return #name;
            ZENITH__ERRNO_LIST(ZENITH__CASE)
#undef ZENITH__CASE
            default: return "ZENITH_ESYS_UNKNOWN";
        }
    }
    return "ZENITH_E_UNKNOWN";
}

ZENITH_API int zenith_errno(int code) { return ZENITH_IS_ESYS(code) ? -code - ZENITH_ESYS_BASE : 0; }

ZENITH_API long zenith_version(void) { return ZENITH_VERSION; }

ZENITH_API const char *zenith_version_string(void) { return ZENITH_VERSION_STRING; }

/* ---- buffer pool: layout ------------------------------------------------------------------

   slab      buffer_count * buffer_size bytes, one mmap (or cfg.memory). Buffer i at base + i*size.
   state[i]  one byte per buffer: FREE or USED. Checked on release (double release).
   caches    ZENITH_POOL_MAX_THREADS + 1 cache headers (struct zenith__pool_cache, 128 bytes
             apart) at caches + slot * 128, each holding a loaded and a previous magazine
             (Bonwick). Slot 0, and any slot not armed yet, has capacity 0: the fast path falls
             through to the slow path, which arms it or goes uncached. A cache is written by its
             owner thread only (the counters are read by zenith_pool_get_stats).
   depot     three lock-free stacks with (tag << 32 | id + 1) heads, one CAS per push/pop:
             full magazines, empty magazines, and single buffers (linked through single_next).
             A magazine (batch = cache_size / 2 slots) carries its link and count in its first
             line. A thread trades an empty loaded magazine for a full one (or a full for an
             empty) with one pop and one push: ids move, indices are never copied.
             The 32-bit tag makes the stacks ABA-safe. */

struct zenith_pool {
    zenith__pool_hot hot; /* first: read by the inline fast path */
    uint64_t count;       /* buffer_count */
    /* cold, read-only after create */
    uint32_t *single_next;
    uint32_t *mag_data;  /* magazine m at mag_data + m * mag_stride: link, count, then batch slots */
    uint32_t mag_stride; /* uint32 words per magazine, a whole number of cache lines */
    uint32_t mag_total;
    uint32_t batch;
    uint32_t cache_size;
    uint32_t flags;
    uint32_t info_flags;
    uint32_t registered;
    size_t slab_size;
    size_t map_size; /* 0 when the slab is caller memory */
    size_t meta_size;
    void *meta_raw;
    zenith_allocator alloc;
    zenith_pool *reg_prev, *reg_next; /* process-wide pool list, under zenith__reg_lock */
    /* shared, each on its own line */
    /* full and empty heads share a line: a thread trading magazines pops one and pushes the
       other, so the line crosses between cores once per trade, not twice */
    __attribute__((aligned(64))) uint64_t full_head;
    uint64_t empty_head;
    __attribute__((aligned(64))) uint64_t single_head;
    __attribute__((aligned(64))) uint64_t shared_acquires; /* threads without a cache */
    uint64_t shared_releases;
    uint64_t failed_acquires;
    uint64_t rejected_foreign;
    uint64_t rejected_misaligned;
    uint64_t rejected_double;
};

/* ---- threads: slots, exit hook, pool list -------------------------------------------------- */

#if !defined(ZENITH_STATIC)
__thread size_t zenith__tls_cache_off __attribute__((tls_model("initial-exec"))); /* see the inline fast path */
#endif
static uint64_t zenith__slot_bits[(ZENITH_POOL_MAX_THREADS + 63) / 64];
static pthread_once_t zenith__key_once = PTHREAD_ONCE_INIT;
static pthread_key_t zenith__key;
static int zenith__key_ok;
static pthread_mutex_t zenith__reg_lock = PTHREAD_MUTEX_INITIALIZER;
static zenith_pool *zenith__reg_head;

static zenith__pool_cache *zenith__cache_at(const zenith_pool *p, size_t slot) {
    return (zenith__pool_cache *)(void *)(p->hot.caches + slot * ZENITH__POOL_CACHE_STRIDE);
}

static void zenith__bump(uint64_t *counter, uint64_t n) { zenith__counter_add(counter, n); }

/* Treiber stack over items whose link word is next[item * stride]. */
static uint32_t zenith__pop(uint64_t *head, uint32_t *next, size_t stride) {
    uint64_t old = __atomic_load_n(head, __ATOMIC_ACQUIRE), nw;
    for (;;) {
        uint32_t top = (uint32_t)old;
        if (top == 0) return ZENITH__NONE;
        nw = (((old >> 32) + 1u) << 32) | __atomic_load_n(&next[(top - 1u) * stride], __ATOMIC_RELAXED);
        if (__atomic_compare_exchange_n(head, &old, nw, 1, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) return top - 1u;
    }
}

/* Pushes the chain first..last (already linked through next) in one CAS. */
static void zenith__push_chain(uint64_t *head, uint32_t *next, size_t stride, uint32_t first, uint32_t last) {
    uint64_t old = __atomic_load_n(head, __ATOMIC_RELAXED), nw;
    do {
        __atomic_store_n(&next[last * stride], (uint32_t)old, __ATOMIC_RELAXED);
        nw = (((old >> 32) + 1u) << 32) | (uint64_t)(first + 1u);
    } while (!__atomic_compare_exchange_n(head, &old, nw, 1, __ATOMIC_RELEASE, __ATOMIC_RELAXED));
}

/* ---- the depot: full and empty magazines, and single buffers --------------------------------- */

/* A magazine's link and count share its first cache line with its first slots, so they travel
   between cores with the data instead of on lines of their own. */
static uint32_t *zenith__mag(const zenith_pool *p, uint32_t m) { return p->mag_data + (size_t)m * p->mag_stride + 2; }
static uint32_t *zenith__mag_count(const zenith_pool *p, uint32_t m) {
    return p->mag_data + (size_t)m * p->mag_stride + 1;
}

static uint32_t zenith__mag_pop(zenith_pool *p, uint64_t *head) {
    return zenith__pop(head, p->mag_data, p->mag_stride);
}
static void zenith__mag_push(zenith_pool *p, uint64_t *head, uint32_t m) {
    zenith__push_chain(head, p->mag_data, p->mag_stride, m, m);
}
static uint32_t zenith__single_pop(zenith_pool *p) { return zenith__pop(&p->single_head, p->single_next, 1); }
static void zenith__single_push(zenith_pool *p, uint32_t i) {
    zenith__push_chain(&p->single_head, p->single_next, 1, i, i);
}

/* Puts a magazine back: full list if it holds rounds, else empty list. */
static void zenith__depot_put(zenith_pool *p, uint32_t m, uint32_t rounds) {
    *zenith__mag_count(p, m) = rounds;
    zenith__mag_push(p, rounds ? &p->full_head : &p->empty_head, m);
}

/* One index from the depot, for threads without a cache: a single, else a round of a magazine. */
static uint32_t zenith__get_shared(zenith_pool *p) {
    uint32_t i = zenith__single_pop(p), m, k;
    if (i != ZENITH__NONE || !p->mag_total) return i;
    m = zenith__mag_pop(p, &p->full_head);
    if (m == ZENITH__NONE) return ZENITH__NONE;
    k = *zenith__mag_count(p, m);
    i = zenith__mag(p, m)[k - 1u];
    zenith__depot_put(p, m, k - 1u);
    return i;
}

static void zenith__load(zenith_pool *p, zenith__pool_cache *c, uint32_t m, uint32_t rounds) {
    c->loaded = m;
    c->objs = zenith__mag(p, m);
    c->len = rounds;
}

/* Gives a thread's cache in this pool its first (empty) magazine. 0 if the depot has none. */
static int zenith__arm(zenith_pool *p, zenith__pool_cache *c) {
    uint32_t m = zenith__mag_pop(p, &p->empty_head);
    if (m == ZENITH__NONE) return 0;
    zenith__load(p, c, m, 0);
    c->previous = ZENITH__NONE;
    c->previous_len = 0;
    c->cap = p->batch;
    return 1;
}

/* The loaded magazine is empty: make it not. Returns 0 when nothing is free to this thread. */
static int zenith__reload(zenith_pool *p, zenith__pool_cache *c) {
    uint32_t m, k = 0, i, empty = c->loaded;
    if (c->previous != ZENITH__NONE && c->previous_len) { /* swap with the previous one */
        zenith__load(p, c, c->previous, c->previous_len);
        c->previous = empty;
        c->previous_len = 0;
        return 1;
    }
    m = zenith__mag_pop(p, &p->full_head);
    if (m != ZENITH__NONE) { /* trade: a full one from the depot; keep one empty as previous */
        if (c->previous != ZENITH__NONE) zenith__mag_push(p, &p->empty_head, c->previous);
        c->previous = empty;
        c->previous_len = 0;
        zenith__load(p, c, m, *zenith__mag_count(p, m));
        return 1;
    }
    while (k < c->cap && (i = zenith__single_pop(p)) != ZENITH__NONE) c->objs[k++] = i;
    c->len = k;
    return k != 0;
}

/* The loaded magazine is full: make room. Returns 0 when no empty magazine can be had (the
   caller then releases to the singles list). */
static int zenith__unload(zenith_pool *p, zenith__pool_cache *c) {
    uint32_t m, full = c->loaded;
    if (c->previous != ZENITH__NONE && c->previous_len == 0) { /* swap with the previous one */
        zenith__load(p, c, c->previous, 0);
        c->previous = full;
        c->previous_len = (uint32_t)c->cap;
        return 1;
    }
    m = zenith__mag_pop(p, &p->empty_head);
    if (m == ZENITH__NONE) return 0;
    if (c->previous != ZENITH__NONE) zenith__depot_put(p, c->previous, c->previous_len); /* full one out */
    c->previous = full;
    c->previous_len = (uint32_t)c->cap;
    zenith__load(p, c, m, 0);
    return 1;
}

/* Returns all of a cache's magazines to the depot and disarms it. Returns the rounds moved. */
static uint32_t zenith__cache_drain(zenith_pool *p, zenith__pool_cache *c) {
    uint32_t n = 0;
    if (c->cap == 0) return 0;
    if (c->previous != ZENITH__NONE) {
        n += c->previous_len;
        zenith__depot_put(p, c->previous, c->previous_len);
    }
    n += (uint32_t)c->len;
    zenith__depot_put(p, c->loaded, (uint32_t)c->len);
    c->cap = 0; /* the fast path now goes to the slow path, which re-arms */
    c->len = 0;
    c->objs = NULL;
    c->loaded = c->previous = ZENITH__NONE;
    c->previous_len = 0;
    return n;
}

static void zenith__thread_exit(void *value) {
    uint32_t slot = (uint32_t)(uintptr_t)value;
    zenith_pool *p;
    pthread_mutex_lock(&zenith__reg_lock);
    for (p = zenith__reg_head; p; p = p->reg_next) zenith__cache_drain(p, zenith__cache_at(p, slot));
    pthread_mutex_unlock(&zenith__reg_lock);
    zenith__tls_cache_off = 0;
    __atomic_fetch_and(&zenith__slot_bits[(slot - 1u) / 64u], ~((uint64_t)1 << ((slot - 1u) % 64u)), __ATOMIC_RELEASE);
}

static void zenith__key_init(void) { zenith__key_ok = pthread_key_create(&zenith__key, zenith__thread_exit) == 0; }

/* Gives the calling thread a cache slot; 0 when all are taken (the thread then goes uncached). */
static uint32_t zenith__thread_slot(void) {
    uint32_t w, slot;
    if (zenith__tls_cache_off) return (uint32_t)(zenith__tls_cache_off / ZENITH__POOL_CACHE_STRIDE);
    pthread_once(&zenith__key_once, zenith__key_init);
    if (!zenith__key_ok) return 0;
    for (w = 0; w < (ZENITH_POOL_MAX_THREADS + 63) / 64; w++) {
        uint64_t bits = __atomic_load_n(&zenith__slot_bits[w], __ATOMIC_RELAXED);
        while (~bits) {
            uint32_t b = (uint32_t)__builtin_ctzll(~bits);
            slot = w * 64u + b + 1u;
            if (slot > ZENITH_POOL_MAX_THREADS) break;
            if (__atomic_compare_exchange_n(&zenith__slot_bits[w], &bits, bits | ((uint64_t)1 << b), 0,
                                            __ATOMIC_ACQUIRE, __ATOMIC_RELAXED)) {
                if (pthread_setspecific(zenith__key, (void *)(uintptr_t)slot) != 0) {
                    __atomic_fetch_and(&zenith__slot_bits[w], ~((uint64_t)1 << b), __ATOMIC_RELEASE);
                    return 0;
                }
                zenith__tls_cache_off = (size_t)slot * ZENITH__POOL_CACHE_STRIDE;
                return slot;
            }
        }
    }
    return 0;
}

/* ---- buffer pool: slow paths --------------------------------------------------------------- */

static void zenith__count_shared(uint64_t *counter, uint64_t n) { __atomic_fetch_add(counter, n, __ATOMIC_RELAXED); }

/* The calling thread's cache, taking a slot if it has none yet. Its cap is 0 for uncached. */
static zenith__pool_cache *zenith__own_cache(zenith_pool *p) {
    if (!(p->flags & ZENITH_POOL_NO_CACHE) && !zenith__tls_cache_off) zenith__thread_slot();
    return zenith__pool_my_cache(&p->hot);
}

/* The calling thread's cache armed with a magazine if it can be; cap 0 means go uncached. */
static zenith__pool_cache *zenith__ready_cache(zenith_pool *p) {
    zenith__pool_cache *c = zenith__own_cache(p);
    if (c->cap == 0 && p->batch && zenith__tls_cache_off) zenith__arm(p, c);
    return c;
}

/* Takes one index without counting; ZENITH__NONE when nothing is free to this thread. */
static uint32_t zenith__take(zenith_pool *p, zenith__pool_cache *c) {
    if (c->cap == 0) return zenith__get_shared(p);
    if (c->len == 0 && !zenith__reload(p, c)) return ZENITH__NONE;
    return c->objs[--c->len];
}

/* Gives one index back without counting; its state is already FREE. */
static void zenith__give(zenith_pool *p, zenith__pool_cache *c, uint32_t idx) {
    if (c->cap == 0 || (c->len == c->cap && !zenith__unload(p, c))) {
        zenith__single_push(p, idx);
        return;
    }
    c->objs[c->len++] = idx;
}

static void zenith__mark_used(zenith_pool *p, uint32_t idx) {
#ifdef ZENITH_POOL_DEBUG
    unsigned char old = __atomic_exchange_n(&p->hot.state[idx], (unsigned char)ZENITH__USED_STATE, __ATOMIC_ACQ_REL);
    ZENITH_ASSERT(old == ZENITH__FREE_STATE);
    (void)old;
#else
    __atomic_store_n(&p->hot.state[idx], (unsigned char)ZENITH__USED_STATE, __ATOMIC_RELAXED);
#endif
}

ZENITH_API ZENITH__NOINLINE void *zenith__pool_acquire_slow(zenith_pool *p) {
    zenith__pool_cache *c = zenith__ready_cache(p);
    uint32_t idx = zenith__take(p, c);
    if (idx == ZENITH__NONE) {
        zenith__count_shared(&p->failed_acquires, 1);
        return NULL;
    }
    zenith__mark_used(p, idx);
    if (c->cap)
        zenith__bump(&c->acquires, 1);
    else
        zenith__count_shared(&p->shared_acquires, 1);
    return p->hot.base + (size_t)idx * p->hot.buffer_size;
}

/* Classifies a pointer. Returns its index, or a negative code. Does not look at the state. */
static int zenith__locate(const zenith_pool *p, const void *buf) {
    uint64_t off = (uint64_t)((uintptr_t)buf - (uintptr_t)p->hot.base);
    if ((uintptr_t)buf < (uintptr_t)p->hot.base || off >= p->count * p->hot.buffer_size) return ZENITH_E_FOREIGN;
    if (off % p->hot.buffer_size) return ZENITH_E_MISALIGNED;
    return (int)(off / p->hot.buffer_size);
}

static ZENITH__NOINLINE int zenith__release_reject(zenith_pool *p, const void *buf) {
    int rc;
    if (buf == NULL) return ZENITH_E_NULL;
    rc = zenith__locate(p, buf);
    if (rc == ZENITH_E_FOREIGN)
        zenith__count_shared(&p->rejected_foreign, 1);
    else if (rc == ZENITH_E_MISALIGNED)
        zenith__count_shared(&p->rejected_misaligned, 1);
    else {
        rc = ZENITH_E_DOUBLE_RELEASE;
        zenith__count_shared(&p->rejected_double, 1);
    }
    return rc;
}

/* Everything the inline release does not finish: NULL, foreign, misaligned and already-free
   pointers; and in a ZENITH_POOL_DEBUG build every release (release_limit is 0 there), checked
   with an atomic swap of the state byte. Cold: counts and classifies. */
ZENITH_API ZENITH__NOINLINE int zenith__pool_release_other(zenith_pool *p, void *buf) {
    int idx = buf ? zenith__locate(p, buf) : ZENITH_E_NULL;
#ifdef ZENITH_POOL_DEBUG
    if (idx >= 0 && __atomic_exchange_n(&p->hot.state[idx], (unsigned char)ZENITH__FREE_STATE, __ATOMIC_ACQ_REL) ==
                        ZENITH__USED_STATE)
        return zenith__pool_release_slow(p, buf);
#else
    /* the inline release decremented a free buffer's state (0 -> 255): put it back */
    if (idx >= 0 && p->hot.state[idx] == (unsigned char)(ZENITH__FREE_STATE - 1u))
        p->hot.state[idx] = (unsigned char)ZENITH__FREE_STATE;
#endif
    return zenith__release_reject(p, buf);
}

/* The inline release's path when the cache is full or absent; buf is valid and already FREE. */
ZENITH_API ZENITH__NOINLINE int zenith__pool_release_slow(zenith_pool *p, void *buf) {
    zenith__pool_cache *c = zenith__ready_cache(p);
    uint32_t idx = (uint32_t)zenith__locate(p, buf);
    zenith__give(p, c, idx);
    if (c->cap)
        zenith__bump(&c->releases, 1);
    else
        zenith__count_shared(&p->shared_releases, 1);
    return 0;
}

/* ---- buffer pool: exported twins of the inline fast paths ------------------------------------ */

ZENITH_API void *zenith_pool_acquire(zenith_pool *pool) { return zenith_pool_acquire_inline(pool); }

ZENITH_API int zenith_pool_release(zenith_pool *pool, void *buf) { return zenith_pool_release_inline(pool, buf); }

/* ---- buffer pool: bulk, queries -------------------------------------------------------------- */

ZENITH_API int zenith_pool_acquire_bulk(zenith_pool *pool, void **bufs, unsigned n) {
    zenith__pool_cache *c;
    unsigned i, j;
    if (pool == NULL || (bufs == NULL && n)) return ZENITH_E_NULL;
    if (n > (unsigned)INT_MAX) return ZENITH_E_INVAL;
    if (n == 0) return 0;
    c = zenith__ready_cache(pool);
    for (i = 0; i < n; i++) {
        uint32_t idx = zenith__take(pool, c);
        if (idx == ZENITH__NONE) { /* all or nothing: put back what was taken */
            for (j = i; j-- > 0;) zenith__give(pool, c, (uint32_t)zenith__locate(pool, bufs[j]));
            zenith__count_shared(&pool->failed_acquires, 1);
            return ZENITH_E_FULL;
        }
        bufs[i] = pool->hot.base + (size_t)idx * pool->hot.buffer_size;
    }
    for (i = 0; i < n; i++) zenith__mark_used(pool, (uint32_t)zenith__locate(pool, bufs[i]));
    if (c->cap)
        zenith__bump(&c->acquires, n);
    else
        zenith__count_shared(&pool->shared_acquires, n);
    return (int)n;
}

ZENITH_API int zenith_pool_release_bulk(zenith_pool *pool, void *const *bufs, unsigned n) {
    zenith__pool_cache *c;
    unsigned i, j;
    if (pool == NULL || (bufs == NULL && n)) return ZENITH_E_NULL;
    if (n > (unsigned)INT_MAX) return ZENITH_E_INVAL;
    for (i = 0; i < n; i++) { /* pass 1: every pointer is a buffer of this pool, in use */
        int idx = bufs[i] ? zenith__locate(pool, bufs[i]) : ZENITH_E_NULL;
        if (idx == ZENITH_E_NULL) return ZENITH_E_NULL;
        if (idx < 0 || __atomic_load_n(&pool->hot.state[idx], __ATOMIC_RELAXED) != ZENITH__USED_STATE)
            return zenith__release_reject(pool, bufs[i]);
    }
    for (i = 0; i < n; i++) { /* pass 2: flip states; a repeat within bufs rolls everything back */
        uint32_t idx = (uint32_t)zenith__locate(pool, bufs[i]);
        if (__atomic_exchange_n(&pool->hot.state[idx], (unsigned char)ZENITH__FREE_STATE, __ATOMIC_RELAXED) !=
            ZENITH__USED_STATE) {
            for (j = 0; j < i; j++)
                __atomic_store_n(&pool->hot.state[zenith__locate(pool, bufs[j])], (unsigned char)ZENITH__USED_STATE,
                                 __ATOMIC_RELAXED);
            return zenith__release_reject(pool, bufs[i]);
        }
    }
    c = zenith__ready_cache(pool);
    for (i = 0; i < n; i++) zenith__give(pool, c, (uint32_t)zenith__locate(pool, bufs[i]));
    if (c->cap)
        zenith__bump(&c->releases, n);
    else
        zenith__count_shared(&pool->shared_releases, n);
    return (int)n;
}

ZENITH_API int zenith_pool_index(const zenith_pool *pool, const void *buf) {
    if (pool == NULL || buf == NULL) return ZENITH_E_NULL;
    return zenith__locate(pool, buf);
}

ZENITH_API void *zenith_pool_at(const zenith_pool *pool, uint32_t index) {
    if (pool == NULL || index >= pool->count) return NULL;
    return pool->hot.base + (size_t)index * pool->hot.buffer_size;
}

ZENITH_API int zenith_pool_flush(zenith_pool *pool) {
    zenith__pool_cache *c;
    uint32_t n;
    if (pool == NULL) return ZENITH_E_NULL;
    c = zenith__pool_my_cache(&pool->hot);
    n = zenith__cache_drain(pool, c);
    return (int)n;
}

ZENITH_API int zenith_pool_get_stats(const zenith_pool *pool, zenith_pool_stats *out) {
    uint64_t acq, rel;
    uint32_t s;
    if (pool == NULL || out == NULL) return ZENITH_E_NULL;
    acq = __atomic_load_n(&pool->shared_acquires, __ATOMIC_RELAXED);
    rel = __atomic_load_n(&pool->shared_releases, __ATOMIC_RELAXED);
    for (s = 0; s <= ZENITH_POOL_MAX_THREADS; s++) {
        zenith__pool_cache *c = zenith__cache_at(pool, s);
        acq += __atomic_load_n(&c->acquires, __ATOMIC_RELAXED);
        rel += __atomic_load_n(&c->releases, __ATOMIC_RELAXED);
    }
    memset(out, 0, sizeof(*out));
    out->total = pool->count;
    out->acquires = acq;
    out->releases = rel;
    out->in_use = acq > rel ? acq - rel : 0; /* a racing snapshot may see a release first */
    if (out->in_use > out->total) out->in_use = out->total;
    out->free = out->total - out->in_use;
    out->failed_acquires = __atomic_load_n(&pool->failed_acquires, __ATOMIC_RELAXED);
    out->rejected_foreign = __atomic_load_n(&pool->rejected_foreign, __ATOMIC_RELAXED);
    out->rejected_misaligned = __atomic_load_n(&pool->rejected_misaligned, __ATOMIC_RELAXED);
    out->rejected_double = __atomic_load_n(&pool->rejected_double, __ATOMIC_RELAXED);
    out->rejected_releases = out->rejected_foreign + out->rejected_misaligned + out->rejected_double;
    return 0;
}

ZENITH_API int zenith_pool_get_info(const zenith_pool *pool, zenith_pool_info *out) {
    if (pool == NULL || out == NULL) return ZENITH_E_NULL;
    memset(out, 0, sizeof(*out));
    out->base = pool->hot.base;
    out->buffer_size = pool->hot.buffer_size;
    out->buffer_count = (uint32_t)pool->count;
    out->cache_size = pool->cache_size;
    out->slab_size = pool->slab_size;
    out->metadata_size = pool->meta_size;
    out->flags = pool->info_flags;
    out->registered = __atomic_load_n(&pool->registered, __ATOMIC_RELAXED);
    return 0;
}

/* ---- buffer pool: create / destroy ----------------------------------------------------------- */

static size_t zenith__align_up(size_t v, size_t a) { return (v + a - 1u) & ~(a - 1u); }

static void *zenith__meta_alloc(const zenith_allocator *a, size_t size) {
    return a->alloc ? a->alloc(size, a->user) : ZENITH_MALLOC(size);
}

static void zenith__meta_free(const zenith_allocator *a, void *ptr, size_t size) {
    if (a->free)
        a->free(ptr, size, a->user);
    else {
        (void)size;
        ZENITH_FREE(ptr);
    }
}

/* Faults every page in (write access, contents kept). */
static void zenith__prefault(unsigned char *base, size_t size, size_t page) {
    size_t off;
#ifdef MADV_POPULATE_WRITE
    if (madvise(base, size, MADV_POPULATE_WRITE) == 0) return;
#endif
    for (off = 0; off < size; off += page) {
        volatile unsigned char *b = base + off;
        *b = *b;
    }
}

static int zenith__fail(int *err, int code) {
    if (err) *err = code;
    return code;
}

ZENITH_API zenith_pool *zenith_pool_create(const zenith_pool_config *cfg_in, int *err) {
    zenith_pool_config cfg;
    zenith_pool *p;
    size_t page = (size_t)sysconf(_SC_PAGESIZE), size, span, off_caches, off_state, off_single, off_mdata, mstride,
           total;
    uint32_t count, cache, batch, mags, i,
        known = ZENITH_POOL_HUGE_PAGES | ZENITH_POOL_HUGE_PAGES_REQUIRED | ZENITH_POOL_PREFAULT | ZENITH_POOL_NO_CACHE;
    uint64_t inv, odd;
    unsigned char *raw, *meta, *slab;
    size_t map_size = 0;
    uint32_t info = 0;

    if (cfg_in)
        cfg = *cfg_in;
    else
        memset(&cfg, 0, sizeof(cfg));
    if (err) *err = 0;
    size = cfg.buffer_size ? cfg.buffer_size : 4096u;
    count = cfg.buffer_count ? cfg.buffer_count : 1024u;
    if (size % ZENITH__LINE || size > ZENITH__MAX_BUFFER_SIZE || count > (uint32_t)INT_MAX ||
        cfg.cache_size > ZENITH_POOL_MAX_CACHE || (cfg.flags & ~known) || cfg.reserved_ ||
        ((cfg.flags & ZENITH_POOL_HUGE_PAGES_REQUIRED) && !(cfg.flags & ZENITH_POOL_HUGE_PAGES)) ||
        (!cfg.allocator.alloc != !cfg.allocator.free) || (cfg.memory && ((uintptr_t)cfg.memory % page)) ||
        (!cfg.memory && cfg.memory_size)) {
        zenith__fail(err, ZENITH_E_INVAL);
        return NULL;
    }
    if (size > SIZE_MAX / count || size * count > SIZE_MAX - ZENITH__HUGE_PAGE) {
        zenith__fail(err, ZENITH_E_RANGE);
        return NULL;
    }
    span = size * count;
    if (cfg.memory && cfg.memory_size < span) {
        zenith__fail(err, ZENITH_E_INVAL);
        return NULL;
    }

    /* per-thread caches: capacity `cache`, refill/flush in batches of cache / 2 */
    if (cfg.flags & ZENITH_POOL_NO_CACHE)
        cache = 0;
    else if (cfg.cache_size)
        cache = cfg.cache_size < 2u ? 2u : cfg.cache_size;
    else
        cache = count / 8u < 2u ? 2u : (count / 8u > 256u ? 256u : count / 8u);
#ifdef ZENITH_POOL_DEBUG
    cache = 0; /* checked build: no per-thread caches, every acquire and release is checked */
#endif
    batch = cache / 2u; /* magazine size: a thread holds two */
    /* magazines: enough for every buffer, plus two per thread slot so a thread can always trade
       a full magazine for an empty one (the singles list is the fallback if not) */
    mags = batch ? (count + batch - 1u) / batch + 2u * (ZENITH_POOL_MAX_THREADS + 1u) : 0;

    /* metadata: one block, every part 64-byte aligned */
    off_caches = zenith__align_up(sizeof(zenith_pool), ZENITH__LINE);
    off_state = off_caches + (size_t)ZENITH__POOL_CACHE_STRIDE * (ZENITH_POOL_MAX_THREADS + 1u);
    off_single = zenith__align_up(off_state + count, ZENITH__LINE);
    off_mdata = zenith__align_up(off_single + (size_t)count * sizeof(uint32_t), ZENITH__LINE);
    mstride = zenith__align_up((2u + (size_t)batch) * sizeof(uint32_t), ZENITH__LINE) / sizeof(uint32_t);
    total = off_mdata + (size_t)mags * mstride * sizeof(uint32_t) + ZENITH__LINE; /* + room to align */
    raw = (unsigned char *)zenith__meta_alloc(&cfg.allocator, total);
    if (raw == NULL) {
        zenith__fail(err, ZENITH_E_NOMEM);
        return NULL;
    }
    meta = (unsigned char *)zenith__align_up((size_t)(uintptr_t)raw, ZENITH__LINE);
    memset(meta, 0, total - (size_t)(meta - raw));

    /* slab */
    if (cfg.memory) {
        slab = (unsigned char *)cfg.memory;
        info |= ZENITH_POOL_INFO_CALLER_MEMORY;
    } else {
        void *m = MAP_FAILED;
        if (cfg.flags & ZENITH_POOL_HUGE_PAGES) {
            map_size = zenith__align_up(span, ZENITH__HUGE_PAGE);
            m = mmap(NULL, map_size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB, -1, 0);
            if (m != MAP_FAILED)
                info |= ZENITH_POOL_INFO_HUGETLB;
            else if (cfg.flags & ZENITH_POOL_HUGE_PAGES_REQUIRED) {
                zenith__fail(err, ZENITH_ESYS(errno));
                zenith__meta_free(&cfg.allocator, raw, total);
                return NULL;
            }
        }
        if (m == MAP_FAILED) {
            map_size = zenith__align_up(span, page);
            m = mmap(NULL, map_size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
            if (m == MAP_FAILED) {
                zenith__fail(err, ZENITH_ESYS(errno));
                zenith__meta_free(&cfg.allocator, raw, total);
                return NULL;
            }
            if ((cfg.flags & ZENITH_POOL_HUGE_PAGES) && madvise(m, map_size, MADV_HUGEPAGE) == 0)
                info |= ZENITH_POOL_INFO_THP_ADVISED;
        }
        slab = (unsigned char *)m;
    }
    if (cfg.flags & ZENITH_POOL_PREFAULT) {
        /* our mapping whole; caller memory up to the last page the buffers touch */
        size_t touch = map_size ? map_size : zenith__align_up(span, page);
        zenith__prefault(slab, touch < span || (!map_size && touch > cfg.memory_size) ? span : touch, page);
        info |= ZENITH_POOL_INFO_PREFAULTED;
    }
#ifdef ZENITH_POOL_DEBUG
    info |= ZENITH_POOL_INFO_DEBUG;
#endif

    p = (zenith_pool *)(void *)meta;
    p->hot.base = slab;
    p->hot.caches = meta + off_caches;
    p->hot.state = meta + off_state;
    p->single_next = (uint32_t *)(void *)(meta + off_single);
    p->mag_data = (uint32_t *)(void *)(meta + off_mdata);
    p->mag_stride = (uint32_t)mstride;
    p->hot.buffer_size = size;
    p->count = count;
#ifdef ZENITH_POOL_DEBUG
    p->hot.release_limit = 0; /* every release takes the checked path */
#else
    p->hot.release_limit = count;
#endif
    p->hot.tz = (uint32_t)__builtin_ctzll((unsigned long long)size);
    odd = (uint64_t)size >> p->hot.tz;
    for (inv = odd, i = 0; i < 5; i++) inv *= 2u - odd * inv; /* Newton: 3 -> 96 correct bits */
    p->hot.inv = inv;
    p->mag_total = mags;
    p->batch = batch;
    p->cache_size = cache;
    p->flags = cfg.flags;
    p->info_flags = info;
    p->slab_size = span;
    p->map_size = map_size;
    p->meta_size = total;
    p->meta_raw = raw;
    p->alloc = cfg.allocator;
    for (i = 0; i <= ZENITH_POOL_MAX_THREADS; i++) { /* unarmed: the first slow path arms them */
        zenith__pool_cache *c = zenith__cache_at(p, i);
        c->loaded = c->previous = ZENITH__NONE;
    }
    /* Every buffer starts free. With magazines: buffers in index order, buffer 0 on top of the
       first full magazine, the rest of the magazines empty. Without: all in the singles list. */
    if (batch) {
        uint32_t fulls = (count + batch - 1u) / batch;
        for (i = mags; i-- > 0;) {
            uint32_t j, first = i * batch, k = i < fulls ? (count - first < batch ? count - first : batch) : 0;
            uint32_t *slots = zenith__mag(p, i);
            for (j = 0; j < k; j++) slots[j] = first + (k - 1u - j);
            *zenith__mag_count(p, i) = k;
            slots[-2] = (uint32_t)(k ? p->full_head : p->empty_head); /* the link word */
            if (k)
                p->full_head = (uint64_t)i + 1u;
            else
                p->empty_head = (uint64_t)i + 1u;
        }
    } else {
        for (i = count; i-- > 0;) {
            p->single_next[i] = (uint32_t)p->single_head;
            p->single_head = (uint64_t)i + 1u;
        }
    }

    pthread_mutex_lock(&zenith__reg_lock);
    p->reg_next = zenith__reg_head;
    if (zenith__reg_head) zenith__reg_head->reg_prev = p;
    zenith__reg_head = p;
    pthread_mutex_unlock(&zenith__reg_lock);
    return p;
}

ZENITH_API void zenith_pool_destroy(zenith_pool *pool) {
    zenith_allocator a;
    if (pool == NULL) return;
    pthread_mutex_lock(&zenith__reg_lock);
    if (pool->reg_prev)
        pool->reg_prev->reg_next = pool->reg_next;
    else
        zenith__reg_head = pool->reg_next;
    if (pool->reg_next) pool->reg_next->reg_prev = pool->reg_prev;
    pthread_mutex_unlock(&zenith__reg_lock);
    if (pool->map_size) munmap(pool->hot.base, pool->map_size);
    a = pool->alloc;
    zenith__meta_free(&a, pool->meta_raw, pool->meta_size);
}

/* ---- buffer pool: io_uring fixed buffers ---------------------------------------------------- */

ZENITH_API int zenith_pool_register(zenith_pool *pool, struct io_uring *ring) {
    struct iovec *iov;
    size_t bytes;
    uint32_t i;
    int rc;
    if (pool == NULL || ring == NULL) return ZENITH_E_NULL;
    if (pool->count > ZENITH__MAX_REG_BUFFERS || pool->hot.buffer_size > ZENITH__MAX_BUFFER_SIZE) return ZENITH_E_RANGE;
    bytes = (size_t)pool->count * sizeof(*iov);
    iov = (struct iovec *)zenith__meta_alloc(&pool->alloc, bytes);
    if (iov == NULL) return ZENITH_E_NOMEM;
    for (i = 0; i < pool->count; i++) {
        iov[i].iov_base = pool->hot.base + (size_t)i * pool->hot.buffer_size;
        iov[i].iov_len = pool->hot.buffer_size;
    }
    rc = io_uring_register_buffers(ring, iov, (unsigned)pool->count);
    zenith__meta_free(&pool->alloc, iov, bytes);
    if (rc == -ENOMEM) {
        struct rlimit rl;
        if (getrlimit(RLIMIT_MEMLOCK, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY) return ZENITH_E_MEMLOCK;
    }
    if (rc < 0) return ZENITH_ESYS(-rc);
    __atomic_fetch_add(&pool->registered, 1u, __ATOMIC_RELAXED);
    return 0;
}

ZENITH_API int zenith_pool_unregister(zenith_pool *pool, struct io_uring *ring) {
    int rc;
    if (pool == NULL || ring == NULL) return ZENITH_E_NULL;
    rc = io_uring_unregister_buffers(ring);
    if (rc < 0) return ZENITH_ESYS(-rc);
    if (__atomic_load_n(&pool->registered, __ATOMIC_RELAXED))
        __atomic_fetch_sub(&pool->registered, 1u, __ATOMIC_RELAXED);
    return 0;
}

/* ---- ring ------------------------------------------------------------------------------------ */

struct zenith_ring {
    zenith__ring_head h; /* first: the inline twins cast a zenith_ring * to it */
    int mode;
    uint32_t setup_flags;
    uint32_t features;
    unsigned char ops[32]; /* probe: bit n set if IORING_OP n is supported */
};

static int zenith__is_pow2(uint32_t v) { return v && !(v & (v - 1u)); }

/* One io_uring_setup attempt. Returns 0 or -errno. */
static int zenith__ring_try(zenith_ring *r, uint32_t sq, uint32_t cq, uint32_t flags, const zenith_ring_config *cfg) {
    struct io_uring_params p;
    memset(&p, 0, sizeof p);
    p.flags = flags | IORING_SETUP_CQSIZE;
    p.cq_entries = cq;
    if (flags & IORING_SETUP_SQPOLL) {
        p.sq_thread_idle = cfg->sqpoll_idle_ms ? cfg->sqpoll_idle_ms : 1000u;
        if (cfg->flags & ZENITH_RING_SQPOLL_CPU) {
            p.flags |= IORING_SETUP_SQ_AFF;
            p.sq_thread_cpu = cfg->sqpoll_cpu;
        }
    }
    int rc = io_uring_queue_init_params(sq, &r->h.ring, &p); /* liburing returns -errno */
    if (rc < 0) return rc;
    r->setup_flags = p.flags;
    r->features = p.features;
    return 0;
}

ZENITH_API zenith_ring *zenith_ring_create(const zenith_ring_config *cfg_in, int *err) {
    zenith_ring_config cfg;
    zenith_ring *r;
    struct io_uring_probe *probe;
    uint32_t sq, cq, known = ZENITH_RING_SQPOLL | ZENITH_RING_SQPOLL_CPU | ZENITH_RING_NO_DEFER | ZENITH_RING_PLAIN;
    int rc = -EINVAL, i;
    /* the setups to try, best first: {setup flags, mode} */
    static const struct {
        uint32_t flags;
        int mode;
    } tries[] = {
        { IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN | IORING_SETUP_TASKRUN_FLAG |
              IORING_SETUP_R_DISABLED | IORING_SETUP_SUBMIT_ALL,
          ZENITH_RING_MODE_DEFER_TASKRUN },
        { IORING_SETUP_COOP_TASKRUN | IORING_SETUP_TASKRUN_FLAG | IORING_SETUP_SUBMIT_ALL,
          ZENITH_RING_MODE_COOP_TASKRUN },
        { IORING_SETUP_SUBMIT_ALL, ZENITH_RING_MODE_PLAIN },
        { 0, ZENITH_RING_MODE_PLAIN },
    };

    if (cfg_in)
        cfg = *cfg_in;
    else
        memset(&cfg, 0, sizeof cfg);
    if (err) *err = 0;
    sq = cfg.sq_entries ? cfg.sq_entries : 256u;
    cq = cfg.cq_entries ? cfg.cq_entries : 4u * sq;
    if (!zenith__is_pow2(sq) || sq > 32768u || !zenith__is_pow2(cq) || cq < 2u * sq || cq > 4u * sq ||
        (cfg.flags & ~known) || cfg.reserved_ ||
        ((cfg.flags & ZENITH_RING_SQPOLL_CPU) && !(cfg.flags & ZENITH_RING_SQPOLL))) {
        zenith__fail(err, ZENITH_E_INVAL);
        return NULL;
    }
    r = (zenith_ring *)ZENITH_MALLOC(sizeof *r);
    if (r == NULL) {
        zenith__fail(err, ZENITH_E_NOMEM);
        return NULL;
    }
    memset(r, 0, sizeof *r);
    if (cfg.flags & ZENITH_RING_SQPOLL) {
        rc = zenith__ring_try(r, sq, cq, IORING_SETUP_SQPOLL | IORING_SETUP_SINGLE_ISSUER, &cfg);
        if (rc == -EINVAL) rc = zenith__ring_try(r, sq, cq, IORING_SETUP_SQPOLL, &cfg);
        r->mode = ZENITH_RING_MODE_SQPOLL;
    } else {
        for (i = (cfg.flags & ZENITH_RING_PLAIN) ? 2 : (cfg.flags & ZENITH_RING_NO_DEFER) ? 1 : 0; i < 4; i++) {
            rc = zenith__ring_try(r, sq, cq, tries[i].flags, &cfg);
            r->mode = tries[i].mode;
            if (rc != -EINVAL) break; /* EINVAL: this kernel does not know a flag; try the next */
        }
    }
    if (rc < 0) {
        ZENITH_FREE(r);
        zenith__fail(err, (rc == -ENOSYS || rc == -EPERM) ? ZENITH_E_URING_DISABLED : ZENITH_ESYS(-rc));
        return NULL;
    }
    r->h.enabled = !(r->setup_flags & IORING_SETUP_R_DISABLED);
    probe = io_uring_get_probe_ring(&r->h.ring);
    if (probe) {
        for (i = 0; i < probe->ops_len && i < 256; i++)
            if (probe->ops[i].flags & IO_URING_OP_SUPPORTED) r->ops[i / 8] |= (unsigned char)(1u << (i % 8));
        io_uring_free_probe(probe);
    }
    return r;
}

ZENITH_API void zenith_ring_destroy(zenith_ring *ring) {
    if (ring == NULL) return;
    io_uring_queue_exit(&ring->h.ring);
    ZENITH_FREE(ring);
}

ZENITH_API int zenith_ring_get_info(const zenith_ring *ring, zenith_ring_info *out) {
    if (ring == NULL || out == NULL) return ZENITH_E_NULL;
    memset(out, 0, sizeof *out);
    out->mode = ring->mode;
    out->sq_entries = ring->h.ring.sq.ring_entries;
    out->cq_entries = ring->h.ring.cq.ring_entries;
    out->setup_flags = ring->setup_flags;
    out->features = ring->features;
    out->cq_overflow = ring->h.ring.cq.koverflow ? __atomic_load_n(ring->h.ring.cq.koverflow, __ATOMIC_RELAXED) : 0;
    return 0;
}

ZENITH_API struct io_uring *zenith_ring_raw(zenith_ring *ring) { return ring ? &ring->h.ring : NULL; }

/* A SINGLE_ISSUER ring is created disabled and enabled by the first thread that drives it, which
   becomes its submitter task (DEFER_TASKRUN work then runs on that thread). */
static int zenith__ring_enable(zenith_ring *r) {
    int rc;
    if (r->h.enabled) return 0;
    /* io_uring_register(IORING_REGISTER_ENABLE_RINGS) by hand: liburing 2.3 declares
       io_uring_enable_rings but does not export it (fixed in 2.4) */
    rc = (int)syscall(__NR_io_uring_register, r->h.ring.ring_fd, IORING_REGISTER_ENABLE_RINGS, NULL, 0);
    if (rc < 0) return ZENITH_ESYS(errno);
    r->h.enabled = 1;
    return 0;
}

ZENITH_API int zenith_ring_submit(zenith_ring *ring) {
    int rc;
    if (ring == NULL) return ZENITH_E_NULL;
    if ((rc = zenith__ring_enable(ring)) < 0) return rc;
    rc = io_uring_submit(&ring->h.ring);
    return rc < 0 ? ZENITH_ESYS(-rc) : rc;
}

ZENITH_API ZENITH__NOINLINE __attribute__((cold)) struct io_uring_sqe *zenith__ring_get_sqe_slow(zenith_ring *ring) {
    if (ring == NULL || zenith_ring_submit(ring) < 0) return NULL;
    return io_uring_get_sqe(&ring->h.ring);
}

ZENITH_API struct io_uring_sqe *zenith_ring_get_sqe(zenith_ring *ring) {
    return ring ? zenith_ring_get_sqe_inline(ring) : NULL;
}

ZENITH_API int zenith_ring_wait(zenith_ring *ring, unsigned min_complete, int timeout_ms) {
    struct io_uring_cqe *cqe;
    struct __kernel_timespec ts;
    int rc;
    if (ring == NULL) return ZENITH_E_NULL;
    if ((rc = zenith__ring_enable(ring)) < 0) return rc;
    if (timeout_ms < 0) {
        rc = io_uring_submit_and_wait(&ring->h.ring, min_complete);
    } else {
        ts.tv_sec = timeout_ms / 1000;
        ts.tv_nsec = (long long)(timeout_ms % 1000) * 1000000;
        rc = io_uring_submit_and_wait_timeout(&ring->h.ring, &cqe, min_complete, &ts, NULL);
    }
    if (rc < 0 && rc != -ETIME && rc != -EINTR && rc != -EAGAIN) return ZENITH_ESYS(-rc);
    return (int)io_uring_cq_ready(&ring->h.ring);
}

ZENITH_API ZENITH__NOINLINE int zenith__ring_wait_slow(zenith_ring *ring, unsigned min_complete) {
    int rc = zenith__ring_enable(ring);
    if (rc < 0) return rc;
    rc = io_uring_submit_and_wait(&ring->h.ring, min_complete);
    return rc < 0 ? ZENITH_ESYS(-rc) : rc;
}

ZENITH_API unsigned zenith_ring_peek(zenith_ring *ring, struct io_uring_cqe **cqes, unsigned max) {
    if (ring == NULL || cqes == NULL) return 0;
    return zenith_ring_peek_inline(ring, cqes, max);
}

ZENITH_API void zenith_ring_advance(zenith_ring *ring, unsigned n) {
    if (ring) zenith_ring_advance_inline(ring, n);
}

ZENITH_API int zenith_ring_reap(zenith_ring *ring, zenith_cqe_fn fn, void *user, unsigned max) {
    struct io_uring_cqe *batch[256];
    unsigned total = 0, k, i, want;
    if (ring == NULL || fn == NULL) return ZENITH_E_NULL;
    do { /* one CQ head store per 256 completions */
        want = max && max - total < 256u ? max - total : 256u;
        k = io_uring_peek_batch_cqe(&ring->h.ring, batch, want);
        for (i = 0; i < k; i++) fn(user, batch[i]);
        io_uring_cq_advance(&ring->h.ring, k);
        total += k;
    } while (k == 256u && (!max || total < max));
    return (int)total;
}

ZENITH_API int zenith_ring_probe(const zenith_ring *ring, int opcode) {
    if (ring == NULL) return ZENITH_E_NULL;
    if (opcode < 0 || opcode > 255) return ZENITH_E_INVAL;
    return (ring->ops[opcode / 8] >> (opcode % 8)) & 1;
}

/* ---- provided-buffer ring ------------------------------------------------------------------- */

/* liburing 2.4 added io_uring_setup_buf_ring (and the version macros); 2.3 (Debian 12) has only
   io_uring_register_buf_ring, so the ring memory is mapped and registered by hand there. */
#if defined(IO_URING_VERSION_MAJOR) && defined(IO_URING_VERSION_MINOR)
#if IO_URING_VERSION_MAJOR > 2 || (IO_URING_VERSION_MAJOR == 2 && IO_URING_VERSION_MINOR >= 4)
#define ZENITH__HAVE_SETUP_BUF_RING 1
#endif
#endif

struct zenith_buf_ring {
    zenith_ring *ring;
    zenith_pool *pool;
    struct io_uring_buf_ring *br;
    size_t map_size; /* 0 when liburing mapped it (io_uring_setup_buf_ring) */
    uint32_t entries;
    uint32_t available; /* buffers in the ring */
    uint16_t group;
    unsigned char *in_ring; /* per pool index: 1 while the buffer is in the ring */
};

static void zenith__buf_ring_put(zenith_buf_ring *b, uint32_t idx) {
    io_uring_buf_ring_add(b->br, zenith_pool_at(b->pool, idx), (unsigned)b->pool->hot.buffer_size, (unsigned short)idx,
                          io_uring_buf_ring_mask(b->entries), 0);
    io_uring_buf_ring_advance(b->br, 1);
    b->in_ring[idx] = 1;
    b->available++;
}

ZENITH_API zenith_buf_ring *zenith_buf_ring_create(zenith_ring *ring, zenith_pool *pool, uint16_t group,
                                                   uint32_t entries, int *err) {
    zenith_buf_ring *b;
    uint32_t i;
    int rc;
    if (err) *err = 0;
    if (ring == NULL || pool == NULL) {
        zenith__fail(err, ZENITH_E_NULL);
        return NULL;
    }
    if (!zenith__is_pow2(entries) || entries > 32768u) {
        zenith__fail(err, ZENITH_E_INVAL);
        return NULL;
    }
    if (pool->count > 65536u || pool->hot.buffer_size > UINT32_MAX) {
        zenith__fail(err, ZENITH_E_RANGE);
        return NULL;
    }
    if (!zenith_ring_probe(ring, IORING_OP_PROVIDE_BUFFERS)) { /* buffer rings came in 5.19, after it */
        zenith__fail(err, ZENITH_E_UNSUPPORTED);
        return NULL;
    }
    b = (zenith_buf_ring *)ZENITH_MALLOC(sizeof *b + (size_t)pool->count);
    if (b == NULL) {
        zenith__fail(err, ZENITH_E_NOMEM);
        return NULL;
    }
    memset(b, 0, sizeof *b + (size_t)pool->count);
    b->ring = ring;
    b->pool = pool;
    b->entries = entries;
    b->group = group;
    b->in_ring = (unsigned char *)(b + 1);
#ifdef ZENITH__HAVE_SETUP_BUF_RING
    b->br = io_uring_setup_buf_ring(&ring->h.ring, entries, group, 0, &rc);
    if (b->br == NULL)
        rc = rc < 0 ? rc : -ENOMEM;
    else
        rc = 0;
#else
    {
        struct io_uring_buf_reg reg;
        void *m;
        b->map_size = zenith__align_up((size_t)entries * sizeof(struct io_uring_buf), (size_t)sysconf(_SC_PAGESIZE));
        m = mmap(NULL, b->map_size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (m == MAP_FAILED) {
            rc = -errno;
            b->map_size = 0;
        } else {
            b->br = (struct io_uring_buf_ring *)m;
            memset(&reg, 0, sizeof reg);
            reg.ring_addr = (uint64_t)(uintptr_t)m;
            reg.ring_entries = entries;
            reg.bgid = group;
            rc = io_uring_register_buf_ring(&ring->h.ring, &reg, 0);
            if (rc == 0) io_uring_buf_ring_init(b->br);
        }
    }
#endif
    if (rc < 0) {
        if (b->map_size) munmap(b->br, b->map_size);
        ZENITH_FREE(b);
        zenith__fail(err, rc == -EEXIST ? ZENITH_E_EXIST : rc == -EINVAL ? ZENITH_E_UNSUPPORTED : ZENITH_ESYS(-rc));
        return NULL;
    }
    for (i = 0; i < entries; i++) {
        void *buf = zenith_pool_acquire(pool);
        if (buf == NULL) break;
        zenith__buf_ring_put(b, (uint32_t)zenith_pool_index(pool, buf));
    }
    if (b->available == 0) {
        zenith_buf_ring_destroy(b);
        zenith__fail(err, ZENITH_E_FULL);
        return NULL;
    }
    return b;
}

ZENITH_API void zenith_buf_ring_destroy(zenith_buf_ring *br) {
    uint32_t i;
    if (br == NULL) return;
#ifdef ZENITH__HAVE_SETUP_BUF_RING
    if (br->map_size == 0) io_uring_free_buf_ring(&br->ring->h.ring, br->br, br->entries, br->group);
#endif
    if (br->map_size) {
        io_uring_unregister_buf_ring(&br->ring->h.ring, br->group);
        munmap(br->br, br->map_size);
    }
    for (i = 0; i < (uint32_t)br->pool->count && br->available; i++)
        if (br->in_ring[i]) {
            zenith_pool_release(br->pool, zenith_pool_at(br->pool, i));
            br->available--;
        }
    ZENITH_FREE(br);
}

ZENITH_API void *zenith_buf_ring_claim(zenith_buf_ring *br, uint32_t cqe_flags) {
    uint32_t idx;
    if (br == NULL || !(cqe_flags & IORING_CQE_F_BUFFER)) return NULL;
    idx = cqe_flags >> IORING_CQE_BUFFER_SHIFT;
    if (idx >= br->pool->count || !br->in_ring[idx]) return NULL;
    br->in_ring[idx] = 0;
    br->available--;
    return zenith_pool_at(br->pool, idx);
}

ZENITH_API int zenith_buf_ring_give(zenith_buf_ring *br, void *buf) {
    int idx;
    if (br == NULL || buf == NULL) return ZENITH_E_NULL;
    idx = zenith_pool_index(br->pool, buf);
    if (idx < 0) return idx;
    if (br->in_ring[idx]) return ZENITH_E_EXIST;
    if (br->available == br->entries) return ZENITH_E_FULL;
    zenith__buf_ring_put(br, (uint32_t)idx);
    return 0;
}

ZENITH_API uint32_t zenith_buf_ring_available(const zenith_buf_ring *br) { return br ? br->available : 0; }

#undef ZENITH__LIKELY
#undef ZENITH__UNLIKELY
#undef ZENITH__NOINLINE

#undef ZENITH__ERRNO_LIST
#undef ZENITH__HAVE_SETUP_BUF_RING

#ifdef __cplusplus
}
#endif

#endif /* ZENITH_IMPLEMENTATION */

/*
MIT License

Copyright (c) 2026 The Zenith authors

Permission is hereby granted, free of charge, to any person obtaining a copy of this software and
associated documentation files (the "Software"), to deal in the Software without restriction,
including without limitation the rights to use, copy, modify, merge, publish, distribute,
sublicense, and/or sell copies of the Software, and to permit persons to whom the Software is
furnished to do so, subject to the following conditions:

The above copyright notice and this permission notice shall be included in all copies or
substantial portions of the Software.

THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR IMPLIED, INCLUDING BUT
NOT LIMITED TO THE WARRANTIES OF MERCHANTABILITY, FITNESS FOR A PARTICULAR PURPOSE AND
NONINFRINGEMENT. IN NO EVENT SHALL THE AUTHORS OR COPYRIGHT HOLDERS BE LIABLE FOR ANY CLAIM,
DAMAGES OR OTHER LIABILITY, WHETHER IN AN ACTION OF CONTRACT, TORT OR OTHERWISE, ARISING FROM, OUT
OF OR IN CONNECTION WITH THE SOFTWARE OR THE USE OR OTHER DEALINGS IN THE SOFTWARE.
*/
