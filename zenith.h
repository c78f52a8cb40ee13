/* zenith.h v0.2.0 -- zero-copy networking for Linux on io_uring (or epoll where io_uring is
   refused): buffer pool, ring, reactor (TCP listeners, outbound connections, UDP and multicast,
   timers, cross-thread messages), Arrow engine. MIT licence, see
   end of file.

CONTENTS (search for the quoted text)
    Documentation          QUICK START, CONFIGURATION, OVERVIEW, STEP BY STEP, MEMORY & OWNERSHIP,
                           ERRORS, THREADING, LIMITS, ZENITH DOES NOT
    Public API             "Errors" (codes, zenith_strerror) -> "Buffer pool" -> "io_uring ring"
                           (and a pool's fixed buffers) -> "Provided-buffer ring" -> "The reactor"
                           (zenith_server: listeners, connections, connects, timers, posts) ->
                           "UDP sockets" (zenith_udp_*, multicast, zenith_addr) ->
                           "the data-plane engine" (Arrow C Data Interface) -> "ABI layout
                           table" (zenith_layout_*: what bindings check their struct copies against)
    Inline fast path       "Inline fast path": pool acquire/release and ring twins (private layout)
    Implementation         "---- errors" -> "---- common helpers" -> "---- buffer pool: layout" and
                           the pool's sections -> "---- ring" -> "---- ring: a pool's buffers" ->
                           "---- provided-buffer ring" -> "---- reactor: layout" (state machine,
                           the backend seam) -> "reactor: small helpers" -> "reactor: the send
                           reserve" -> "reactor: timers" -> "reactor: messages from other
                           threads" -> "reactor: connections" -> "reactor: events from the
                           backend" -> "reactor: connection calls" -> "reactor: UDP sockets
                           (common" -> "reactor: the io_uring backend" -> "reactor: the epoll
                           backend" -> "UDP sockets: the API" -> "reactor: life cycle" (the
                           backend's choice) -> "data-plane engine". Each part
                           uses only the parts before it.

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
    ZENITH_NO_TSC               -                impl    time every timer start with clock_gettime,
                                                         never from the TSC (see "reactor: the clock")
    ZENITH_NO_INLINE            -                every   leave out the inline fast path (for FFI
                                                         header parsers; C/C++ users keep it)
    ZENITH_PLUGINS              -                impl    WebAssembly plugins on the engine: compiles
                                                         a private (static) copy of zenith_wasm.h's
                                                         interpreter in; keep zenith_wasm.h next to
                                                         zenith.h, link -lm, compile that file as C

OVERVIEW
    The buffer pool (zenith_pool): fixed-size buffers carved from one contiguous mmap'd slab,
    page-aligned, index-addressed, optionally on huge pages, on a NUMA node
    (ZENITH_POOL_NUMA_NODE: mbind by raw syscall, no libnuma) or on memory you provide,
    optionally pre-faulted. Acquire and release are O(1) for any number of
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

    The reactor (zenith_server): one object, one thread, one run_once(timeout) loop for TCP
    listeners (IPv4 and IPv6, zenith_server_listen), accepted connections, outbound connections
    (zenith_server_connect: numeric addresses, a timeout, local bind, keep-alive,
    TCP_USER_TIMEOUT; on_connect exactly once), timers (zenith_server_timer_start/stop: a
    hierarchical timing wheel, O(1), 40 B per timer, one kernel timeout for the nearest
    deadline) and messages posted from any thread (zenith_server_post: lock-free, bounded, one
    wake per batch). Received data lands in pool buffers and is lent to on_data; keep and
    send_buffer hand buffers over without a copy; send queues are bounded, with backpressure,
    pause/resume and a drain callback; a send reserve keeps the obvious copying echo from ever
    starving for buffers. The event backend sits behind one internal seam: io_uring, or
    edge-triggered epoll where io_uring is refused (a container's seccomp profile, ENOSYS,
    kernel.io_uring_disabled) or asked for (zenith_server_config.backend, or the environment
    variable ZENITH_BACKEND=epoll|io_uring|auto read at create). Same API, callbacks, ownership
    and counters on both; zenith_server_backend_info says which one runs and why.
    UDP sockets join the same loop (zenith_udp_open: bound, optionally connected, IPv4 and IPv6,
    SO_REUSEPORT): each datagram is one borrowed, keepable on_recv with its sender, its
    kernel receive timestamp (SO_TIMESTAMPING) and the kernel's drop counter; a datagram
    longer than a buffer is flagged cut, never passed off as whole; sends are queued, in order,
    several per system call (sendmmsg, from the loop), copied or
    zero-copy from a pool buffer, with UDP GSO, and GRO split back on receive; multicast joins
    any-source and source-specific on a chosen interface (zenith_udp_join). docs/UDP.md.
    A plain server is create / set_callbacks / start / run_once / destroy, as in STEP BY STEP;
    docs/SERVER.md has the rest. A reactor pinned to a CPU (ZENITH_SERVER_PIN_CPU) keeps its
    pool and connection table on that CPU's NUMA node. zenith_numa.h holds the NUMA helpers
    (docs/NUMA.md); included after this header it adds the pool/server glue.

    The data-plane engine (zenith_engine_create / _publish / _poll / zenith_batch_release /
    zenith_engine_destroy; the design's zenith_init / zenith_publish / zenith_poll /
    zenith_load_plugin / zenith_free are aliases that behave identically): Arrow C Data Interface batches, validated, moved in without a copy, taken out
    in publish order by any number of consumers; a bounded lock-free ring, no allocation after
    zenith_init. docs/FFI.md covers it and the C ABI the Python, Rust, Go and Node.js bindings
    use (extensible configs: struct_size). With ZENITH_PLUGINS, zenith_load_plugin attaches
    WebAssembly plugins (validated and sandboxed by zenith_wasm.h: fuel, memory cap, no
    imports but the host's column kernels: a range select, a sum, a dot product) that run inside zenith_publish on the publishing thread, on instances of their own
    (one CAS, no lock): they pass a batch, drop it, or select its rows (zenith_poll_selection
    reads the selection; the Arrow buffers are never modified), and keep running results
    (zenith_plugin_result). A plugin that traps never loses a batch. docs/PLUGINS.md.

STEP BY STEP
    A zero-copy echo server (examples/echo_server.c is the full program):

        static zenith_server *srv;
        static void on_data(void *user, zenith_conn_id conn, const uint8_t *data, size_t len) {
            void *buf = zenith_server_keep(srv);          // the received pool buffer is ours
            (void)user; (void)data;
            if (zenith_server_send_buffer(srv, conn, buf, len) < 0)   // ...and goes back out
                zenith_server_close(srv, conn, ZENITH_CLOSE_ABORT);
        }
        static void on_signal(int sig) { (void)sig; zenith_server_stop(srv); }  // signal-safe

        int main(void) {
            zenith_server_config cfg = {0};               // zero = defaults; port 0 = any
            int err;
            cfg.port = 9090;
            srv = zenith_server_create(&cfg, &err);
            if (!srv) return printf("%s\n", zenith_strerror(err)), 1;
            zenith_server_set_callbacks(srv, NULL, on_data, NULL, NULL);
            signal(SIGINT, on_signal);
            zenith_server_start(srv);                     // this thread is the server's now
            while (!zenith_server_stopped(srv)) zenith_server_run_once(srv, -1);
            zenith_server_shutdown(srv, 1000);            // flush, close everyone
            zenith_server_destroy(srv);
            return 0;
        }

    The pool alone: fill a zenith_pool_config, zenith_pool_create; zenith_pool_acquire on any
    thread (NULL = exhausted, never blocks); zenith_pool_release from any thread (0, or a
    negative code for a foreign, misaligned or already-free pointer: the pool is untouched);
    zenith_pool_register(pool, &ring) for READ_FIXED/WRITE_FIXED with buf_index =
    zenith_pool_index(pool, p); zenith_pool_destroy when no thread uses it any more.

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
    - zenith_ring_create and zenith_buf_ring_create allocate their own small structs; the ring's
      memory is the kernel's mmap. Nothing per operation.
    - The reactor allocates in create only (one block: connection table, per-buffer arrays,
      timer nodes (40 B each), post queue cells (64 B each), plus its pool and ring). run_once,
      send, close, connect, the timer calls, post and the callbacks never allocate: receives
      land in pool buffers, send queues are chains of pool buffers. data given to on_data is
      borrowed for the call; zenith_server_keep makes it yours until zenith_pool_release; a
      buffer passed to zenith_server_send_buffer becomes the server's. A post's payload is
      copied into the queue; the user pointers given to connect, timers and posts are passed
      back untouched and never freed. docs/SERVER.md has the full table. UDP: the socket table,
      each socket's send queue (udp_queue entries of 160 B) and memberships are part of the
      server's block; a datagram in on_recv is borrowed as on_data's bytes (zenith_udp_keep
      keeps it); zenith_udp_send copies, zenith_udp_send_buffer takes the buffer.
    - The engine allocates in zenith_init only. zenith_publish moves the caller's ArrowArray and
      ArrowSchema in on success (the caller's read as released; the buffers never move) and
      leaves them with the caller on any error; zenith_poll moves them out into a zenith_batch
      the consumer owns until zenith_batch_release, which runs their release callbacks once.
      zenith_free releases what is still queued. A batch a plugin drops is released inside
      zenith_publish (which returns 1). Plugins allocate at load (module, instances, and at the
      first load the plugin table and the selection area, capacity * max_rows / 8 bytes) and
      when a batch needs more room in an instance's memory than any before it; zenith_free and
      zenith_unload_plugin free them.

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
    - A zenith_server (the reactor) runs on the thread that called zenith_server_start; its
      callbacks run there, inside run_once, one at a time, never nested. zenith_server_stop /
      zenith_server_stopped: any thread and signal handlers. zenith_server_post: any thread,
      concurrently (lock-free). Everything else: the reactor's thread. Kept buffers may be
      released to the server's pool from any thread. Inside a callback, run_once, start,
      shutdown, set_callbacks return ZENITH_E_STATE and destroy is refused (counted):
      docs/SERVER.md lists what callbacks may call. zenith_server_create reads the environment
      (ZENITH_BACKEND, getenv): do not setenv on another thread meanwhile.
      zenith_server_backend_info: any thread. Every zenith_udp_* call: the reactor's thread
      (also before start), callbacks included; zenith_addr_set / format / port: any thread.
    - The engine: zenith_publish, zenith_poll, zenith_poll_selection, zenith_batch_release,
      zenith_engine_get_stats: any thread, concurrently, lock-free (plugins run inside
      zenith_publish, each publish on a plugin instance of its own). zenith_load_plugin(_ex),
      zenith_unload_plugin, zenith_plugin_get_stats/_result/_last_error: any thread, also while
      others publish and poll, serialised among themselves by a spin flag publish and poll never
      take. zenith_engine_create (zenith_init): any thread; zenith_engine_destroy (zenith_free):
      one thread, once no other thread uses the engine.
    - zenith_strerror, zenith_errname, zenith_errno, zenith_version*: any thread, signal-safe.
      zenith_layout_*: any thread, no allocation.

LIMITS
    - buffer_size: multiple of 64, from 64 B to 1 GiB; buffers are page-aligned when the size
      is a multiple of the page size (4096), else 64-byte aligned.
    - buffer_count: 1 .. 2^31-1 (and the slab must fit the address space).
    - At most ZENITH_POOL_MAX_THREADS threads per process hold a cache at once (thread slots are
      recycled on thread exit); further threads use the lock-free shared path.
    - Per-thread caches park up to cache_size buffers each; give the pool at least
      threads * cache_size buffers beyond your working set, or set ZENITH_POOL_NO_CACHE.
    - zenith_pool_register: at most 16384 buffers of at most 1 GiB (kernel limits).
    - Provided-buffer rings and the server: buffer ids are 16 bits, so a server's pool holds at
      most 65536 buffers; a buffer ring at most 32768 entries; a server at most 2^24-1
      connections (88 bytes each), 2^23 timers (40 bytes each),
      16 listeners, a post queue of 2^20 messages of ZENITH_POST_MAX (40) bytes.
    - Timers: millisecond ticks, delays and periods up to ZENITH_TIMER_MAX_MS (about 12.4 days).
    - UDP: max_udp sockets per reactor (at most 1024), udp_queue datagrams queued per socket
      (at most 4096), datagrams received whole up to buffer_size - ZENITH_UDP_RECV_HEADROOM
      (176), sent up to ZENITH_UDP_MAX_DATAGRAM and 16 buffers, 64 GSO segments, 20
      multicast memberships per socket.
    - Plugins: ZENITH_MAX_PLUGINS (8) per engine, 64 instances each, 16 columns, 8 results,
      max_rows up to 2^24 (default 16384), fuel per call fuel + fuel_per_row * rows (default
      100000 + 200 per row), 256 pages (16 MiB) of memory per instance by default; plugin ABI 1
      (docs/PLUGINS.md).

ZENITH DOES NOT
    print anything, abort on bad input, allocate after create (pool, ring, server, engine; plugins
    allocate at load, and when a batch needs more room in a plugin's memory than any before), raise
    SIGPIPE (MSG_NOSIGNAL), resolve host names (it would block the loop: numeric addresses
    only), or take a lock anywhere but zenith_pool_create, zenith_pool_destroy and a thread's
    exit (one mutex guarding the process-wide pool list) and the engine's plugin administration
    (a spin flag serialising plugin loads, unloads, stats and results, never publish or poll).

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
#define ZENITH_VERSION_MINOR 2
#define ZENITH_VERSION_PATCH 0
#define ZENITH_VERSION_STRING "0.2.0"
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
#define ZENITH_ERROR_LIST(X)                                                                       \
    X(ZENITH_OK, 0, "success")                                                                     \
    X(ZENITH_E_NULL, -1, "null pointer")                                                           \
    X(ZENITH_E_FULL, -2, "buffer full (pool empty, ring full or send queue full)")                 \
    X(ZENITH_E_PLUGIN, -3, "plugin load error")                                                    \
    X(ZENITH_E_FFI, -4, "FFI conversion error")                                                    \
    X(ZENITH_E_INVAL, -5, "invalid argument")                                                      \
    X(ZENITH_E_NOMEM, -6, "out of memory")                                                         \
    X(ZENITH_E_UNSUPPORTED, -7, "not supported by this kernel or build")                           \
    X(ZENITH_E_STALE, -8, "closed or stale id")                                                    \
    X(ZENITH_E_EXIST, -9, "already exists")                                                        \
    X(ZENITH_E_TIMEDOUT, -10, "timed out")                                                         \
    X(ZENITH_E_FOREIGN, -11, "pointer is not from this pool")                                      \
    X(ZENITH_E_MISALIGNED, -12, "pointer is not at a buffer boundary")                             \
    X(ZENITH_E_DOUBLE_RELEASE, -13, "buffer is already free (double release)")                     \
    X(ZENITH_E_MEMLOCK, -14, "locked-memory limit (RLIMIT_MEMLOCK) too low to register buffers")   \
    X(ZENITH_E_RANGE, -15, "value out of range")                                                   \
    X(ZENITH_E_URING_DISABLED, -16, "io_uring unavailable (ENOSYS, seccomp or io_uring_disabled)") \
    X(ZENITH_E_STATE, -17, "not allowed in the object's current state (or inside a callback)")     \
    X(ZENITH_E_CANCELED, -18, "cancelled: closed or destroyed before it completed")                \
    X(ZENITH_E_NOT_FOUND, -19, "not found (no such interface, or nothing of that name joined)")

enum zenith_error {
#define ZENITH__ENUM(name, value, text) name = value,
    ZENITH_ERROR_LIST(ZENITH__ENUM)
#undef ZENITH__ENUM
        ZENITH_E_LAST_ = -20
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
/* "0.2.0". Static; any thread. */
ZENITH_API const char *zenith_version_string(void);

/* ---------------------------------------------------------------------------------------------
   ABI layout table: size and offset of every field of every public struct, for bindings that
   copy these structs into another language (ctypes, koffi, repr(C)) and must notice drift.
   Types are named as in C without "struct" ("zenith_server_config", "ArrowArray"); the row with
   field "" is the whole struct (offset 0, its sizeof). The zenith_numa.h structs are listed
   when zenith_numa.h was included before this implementation (as in zenith.c, the shared
   library). docs/FFI.md, "Layout check". All: any thread, no allocation, static strings.
   ------------------------------------------------------------------------------------------ */

/* Rows in the table. */
ZENITH_API size_t zenith_layout_count(void);
/* Row `index` (0 .. count-1). Params: type, field (out, nullable: static strings), offset, size
   (out, nullable: bytes). Returns 0 or ZENITH_E_INVAL (index out of range, nothing written). */
ZENITH_API int zenith_layout_get(size_t index, const char **type, const char **field, size_t *offset, size_t *size);
/* The row of `type`.`field` (field NULL or "": the whole struct). Params: type, field (in,
   borrowed); offset, size (out, nullable). Returns 0, ZENITH_E_NULL (type NULL) or
   ZENITH_E_NOT_FOUND (no such struct or field; nothing written). */
ZENITH_API int zenith_layout_find(const char *type, const char *field, size_t *offset, size_t *size);
/* FNV-1a 64 of every row as "type.field:offset:size;" in table order: equal hashes, equal
   layouts (a quick check for a binding that mirrors the whole table). */
ZENITH_API uint64_t zenith_layout_hash(void);

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
    ZENITH_POOL_NO_CACHE = 1u << 3,
    /* Place the slab and the metadata on NUMA node cfg.numa_node: mbind(MPOL_BIND) before any
       page is touched, so every page lands there whichever thread touches it first (add
       PREFAULT to have them all resident at create). Raw syscalls, no libnuma needed. On a
       kernel without NUMA only node 0 is accepted (the one node). Not with cfg.memory. */
    ZENITH_POOL_NUMA_NODE = 1u << 4
};

/* Zero means default in every field. Borrowed for the call. Extensible (see struct_size). */
typedef struct zenith_pool_config {
    uint32_t struct_size;       /* sizeof(zenith_pool_config) as you compiled it; 0 = this layout */
    uint32_t buffer_count;      /* 0 = 1024 */
    size_t buffer_size;         /* bytes per buffer, a multiple of 64; 0 = 4096 */
    uint32_t cache_size;        /* per-thread cache capacity; 0 = min(256, max(2, buffer_count / 8)),
                               at most ZENITH_POOL_MAX_CACHE */
    uint32_t flags;             /* enum zenith_pool_flags */
    int32_t numa_node;          /* with ZENITH_POOL_NUMA_NODE (else must be 0) */
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
    ZENITH_POOL_INFO_DEBUG = 1u << 4,         /* implementation built with ZENITH_POOL_DEBUG */
    ZENITH_POOL_INFO_NUMA_BOUND = 1u << 5     /* slab bound to info.numa_node (and the metadata,
                                                 unless cfg.allocator gave it) */
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
    int32_t numa_node;    /* node asked for with ZENITH_POOL_NUMA_NODE, else -1 */
    uint32_t reserved_;
} zenith_pool_info;

/* Creates a pool.
   Params: cfg (in, borrowed, nullable = all defaults); err (out, nullable): 0 or the code.
   Returns: the pool, or NULL with *err =
     ZENITH_E_INVAL: buffer_size not a multiple of 64 or > 1 GiB, buffer_count > 2^31-1,
                     cache_size > ZENITH_POOL_MAX_CACHE, unknown flags, numa_node without
                     ZENITH_POOL_NUMA_NODE, cfg.memory not page-aligned or smaller than the
                     slab, half an allocator; with NUMA_NODE: cfg.memory given, or a node that
                     does not exist or is not allowed (cpuset)
     ZENITH_E_RANGE: buffer_size * buffer_count overflows
     ZENITH_E_NOMEM: metadata allocation failed
     ZENITH_ESYS(e): mmap failed (e.g. ENOMEM; with HUGE_PAGES_REQUIRED, no huge pages);
                     mbind refused (EPERM: a container's seccomp profile without CAP_SYS_NICE)
   Thread safety: any thread. Lifetime: until zenith_pool_destroy. */
ZENITH_API zenith_pool *zenith_pool_create(const zenith_pool_config *cfg, int *err);

/* Extensible configs (zenith_pool_config, zenith_ring_config, zenith_server_config): the first
   field, struct_size, is the size of the struct as the caller's header declared it (0 = the
   layout of this release). A library newer than the caller reads only that many bytes and
   defaults the rest; a library older than the caller accepts the fields it does not know only
   if they are zero (else ZENITH_E_UNSUPPORTED). A struct_size below 8 or above 4096 is
   ZENITH_E_INVAL. So a binding compiled against one release keeps working with the next. */

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
    uint32_t struct_size;    /* sizeof(zenith_ring_config) as you compiled it; 0 = this layout */
    uint32_t sq_entries;     /* 0 = 256; a power of two, 1 .. 32768 */
    uint32_t cq_entries;     /* 0 = 4 x sq_entries; a power of two, 2 x to 4 x sq_entries */
    uint32_t flags;          /* enum zenith_ring_flags */
    uint32_t sqpoll_idle_ms; /* with SQPOLL: idle time before the poller sleeps; 0 = 1000 */
    uint32_t sqpoll_cpu;     /* with ZENITH_RING_SQPOLL_CPU */
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
     ZENITH_E_INVAL: sizes not powers of two or out of range, unknown flags, a bad struct_size
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

/* ---- a pool's buffers as the ring's fixed buffers ---- */

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

/* ---------------------------------------------------------------------------------------------
   The reactor (zenith_server): one object = one event backend = one thread, driven by
   zenith_server_run_once. It serves TCP listeners (IPv4 and IPv6), accepted and outbound
   connections, timers and messages posted from other threads, all on the same loop. The name
   is the design's: a plain server is its most common use, and a server-only program is as
   short as ever (create / set_callbacks / start / run_once / destroy).
   ------------------------------------------------------------------------------------------ */

typedef struct zenith_server zenith_server;

/* A connection: slot (low 32 bits) and generation (high 32 bits). 0 is never a live connection.
   After close the id is stale for ever: calls with it return ZENITH_E_STALE, never reach another
   connection that reuses the slot. Accepted and outbound connections share the id space. */
typedef uint64_t zenith_conn_id;

/* A timer: slot and generation, like a connection id. 0 is never a live timer. */
typedef uint64_t zenith_timer_id;

enum zenith_server_flags {
    ZENITH_SERVER_REUSEPORT = 1u << 0,         /* SO_REUSEPORT: one server per thread on one port */
    ZENITH_SERVER_NO_NODELAY = 1u << 1,        /* leave Nagle on (TCP_NODELAY is on by default) */
    ZENITH_SERVER_PIN_CPU = 1u << 2,           /* pin the thread that calls zenith_server_start to cfg.cpu */
    ZENITH_SERVER_SQPOLL = 1u << 3,            /* ring with a kernel SQ polling thread */
    ZENITH_SERVER_NO_ZEROCOPY = 1u << 4,       /* never use IORING_OP_SEND_ZC */
    ZENITH_SERVER_ZEROCOPY_LOOPBACK = 1u << 5, /* use SEND_ZC on loopback connections too */
    /* Put the server's memory (pool slab and metadata, connection table) on cfg.numa_node.
       Without it, ZENITH_SERVER_PIN_CPU puts it on cfg.cpu's node when the system says which
       (silently unplaced if the kernel refuses). */
    ZENITH_SERVER_NUMA_NODE = 1u << 6,
    /* No listener at create (address, port, backlog and REUSEPORT must be 0): a reactor for
       outbound connections, timers and posted work; add listeners with zenith_server_listen. */
    ZENITH_SERVER_NO_LISTEN = 1u << 7,
    /* Keep reading a connection whose own send queue reached send_queue_max (by default reading
       pauses until it drains: right for a server whose replies answer what it reads, and what
       keeps an echo from ever meeting ZENITH_E_FULL). For relays, whose input goes to another
       connection: there the rule couples the two directions, and two relays (or a relay and an
       echo) that both fill their queues wait for each other for ever. Pause the source
       yourself (zenith_server_pause / on_drain), as examples/proxy.c does. on_drain still
       fires when a queue that reached send_queue_max is below half again. */
    ZENITH_SERVER_NO_QUEUE_PAUSE = 1u << 8
};

/* Zero means default in every field. Borrowed for the call (address is copied). Extensible. */
typedef struct zenith_server_config {
    uint32_t struct_size;     /* sizeof(zenith_server_config) as you compiled it; 0 = this layout */
    uint16_t port;            /* 0 = the kernel picks one (zenith_server_port tells which) */
    uint16_t reserved_;       /* must be 0 */
    const char *address;      /* IPv4 or IPv6 literal to bind; NULL = "127.0.0.1" */
    uint32_t flags;           /* enum zenith_server_flags */
    uint32_t max_connections; /* 0 = 16384 (accepted and outbound together); beyond it, accepted
                                 connections are closed and counted, connects get ZENITH_E_FULL */
    uint32_t buffer_size;     /* receive/send buffer size, a multiple of 64; 0 = 4096 */
    uint32_t buffer_count;    /* buffers in the server's pool; 0 = 8192 (at most 65536) */
    uint32_t recv_buffers;    /* buffers lent to the kernel for receives; 0 = buffer_count / 2 */
    uint32_t send_queue_max;  /* per connection: at this many queued bytes the server stops reading
                                 from it until the queue drains below half (TCP backpressure; what
                                 was already received waits, in order, undelivered). A send that
                                 would queue over twice this returns ZENITH_E_FULL. 0 = 256 KiB */
    uint32_t zerocopy_min;    /* sends of a buffer this large or larger use SEND_ZC; 0 = 16384.
                                 Never on loopback connections, where SEND_ZC still copies and
                                 only adds a notification (measured: 0.80x at 16 KiB) */
    uint32_t idle_timeout_ms; /* close connections idle this long (nothing received, nothing sent,
                                 not paused, nothing held back); also gives up a close that
                                 cannot flush for that long (the peer reads nothing); 0 = never */
    uint32_t sq_entries;      /* 0 = 1024 (io_uring only; epoll ignores it and zerocopy_min) */
    uint32_t backlog;         /* listen backlog; 0 = 4096 */
    uint32_t cpu;             /* with ZENITH_SERVER_PIN_CPU; below CPU_SETSIZE (1024) */
    int32_t numa_node;        /* with ZENITH_SERVER_NUMA_NODE (else must be 0) */
    /* ---- 0.2.0 ---- */
    uint32_t max_timers;   /* user timers armed at once; 0 = 4096; at most 2^23 */
    uint32_t post_queue;   /* messages the cross-thread queue holds; 0 = 4096; a power of two,
                              at most 2^20 */
    uint32_t send_reserve; /* pool buffers receives never take: copying sends (zenith_server_send)
                              draw on them when the rest of the pool is lent out, so a reply
                              never starves for buffers while the pool feeds receives;
                              0 = max(16, buffer_count / 16), less if recv_buffers leaves less
                              room (none at all if recv_buffers = buffer_count: then a copying
                              send may find the pool empty); recv_buffers + send_reserve must
                              not exceed buffer_count */
    uint32_t backend;      /* enum zenith_backend: 0 = auto (io_uring where the kernel allows it, else
                              epoll; the ZENITH_BACKEND environment variable decides first) */
    uint32_t max_udp;      /* UDP sockets open at once; 0 = 16; at most 1024 */
    uint32_t udp_queue;    /* datagrams queued per UDP socket (sends waiting or in flight); 0 = 256;
                           a power of two, at most 4096. 160 bytes each, allocated at create
                              (max_udp x udp_queue: 640 KiB at the defaults) */
} zenith_server_config;

/* The event backend (zenith_server_config.backend, zenith_backend_info.backend). Both serve the
   same API with the same guarantees; docs/SERVER.md "Two backends" says what differs in cost. */
enum zenith_backend {
    ZENITH_BACKEND_AUTO = 0,     /* io_uring when it works; epoll when io_uring is refused (ENOSYS,
                                    EPERM from a seccomp filter or kernel.io_uring_disabled) or
                                    cannot be set up (io_uring_register refused, a kernel without
                                    provided-buffer rings, the memlock limit). The
                                    environment variable ZENITH_BACKEND=epoll|io_uring|auto, read at
                                    create, decides first (another value: ZENITH_E_INVAL) */
    ZENITH_BACKEND_IO_URING = 1, /* io_uring or nothing: create fails with ZENITH_E_URING_DISABLED */
    ZENITH_BACKEND_EPOLL = 2     /* epoll (edge-triggered), whatever the kernel offers */
};

/* Why the backend in use was taken (zenith_backend_info.reason). */
enum zenith_backend_reason {
    ZENITH_BACKEND_BY_DEFAULT = 0, /* auto, and io_uring works */
    ZENITH_BACKEND_BY_CONFIG = 1,  /* zenith_server_config.backend asked for it */
    ZENITH_BACKEND_BY_ENV = 2,     /* the ZENITH_BACKEND environment variable asked for it */
    ZENITH_BACKEND_FALLBACK = 3    /* auto, and the kernel refused io_uring: see uring_errno */
};

/* Which backend a reactor runs on, and why (zenith_server_backend_info). */
typedef struct zenith_backend_info {
    uint32_t struct_size; /* 0 or sizeof(zenith_backend_info) as you compiled it */
    int32_t backend;      /* ZENITH_BACKEND_IO_URING or ZENITH_BACKEND_EPOLL */
    int32_t reason;       /* enum zenith_backend_reason */
    int32_t uring_errno;  /* FALLBACK: how io_uring_setup was refused (ENOSYS, EPERM), or, when
                             setup worked and a later step failed, that step's errno where known
                             (ENOMEM), else EOPNOTSUPP (a refused io_uring_register, a kernel
                             without provided-buffer rings); else 0 */
    int32_t uring_sysctl; /* FALLBACK: kernel.io_uring_disabled as read then (0-2; -1 unreadable) */
    uint32_t reserved_;
    const char *name; /* "io_uring" or "epoll" (static storage) */
    const char *why;  /* one line for people, e.g. "io_uring refused by the kernel (EPERM: a
                              seccomp filter, as in a container's default profile)"; owned by the
                              reactor, valid until zenith_server_destroy */
} zenith_backend_info;

/* Why a connection closed (the reason argument of the close callback). */
enum zenith_close_reason {
    ZENITH_CLOSE_PEER = 0,    /* the peer closed (EOF) after its data and our queued sends */
    ZENITH_CLOSE_LOCAL = 1,   /* zenith_server_close */
    ZENITH_CLOSE_IDLE = 2,    /* idle timeout */
    ZENITH_CLOSE_SHUTDOWN = 3 /* zenith_server_shutdown / destroy */
    /* negative: an error code, e.g. ZENITH_ESYS(ECONNRESET), ZENITH_ESYS(EPIPE) */
};

enum zenith_close_flags {
    ZENITH_CLOSE_FLUSH = 0, /* send what is queued, then close */
    ZENITH_CLOSE_ABORT = 1, /* drop what is queued, close now */
    /* Half-close: send what is queued, then shut down our sending side (the peer reads EOF);
       receiving goes on. Once the peer's EOF has come too, the connection closes by itself
       (on_close with ZENITH_CLOSE_PEER). */
    ZENITH_CLOSE_WRITE = 2
};

/* Callbacks run on the thread calling zenith_server_run_once, one at a time, never nested.
   Inside any of them you may call: zenith_server_send / send_buffer / close / connect / listen,
   zenith_server_keep (on_data only), the conn_user calls, the timer calls, zenith_server_post,
   zenith_server_stop, the stats and port calls. Refused there with ZENITH_E_STATE and no side
   effect: zenith_server_run_once, zenith_server_start, zenith_server_shutdown,
   zenith_server_set_callbacks; zenith_server_destroy is refused too (it returns nothing: it is
   counted in zenith_reactor_stats.misuse_refused and the server stays as it was). */
typedef void (*zenith_accept_fn)(void *user_data, zenith_conn_id conn);
/* data is borrowed for the call (pool memory, reused after it returns unless you call
   zenith_server_keep). Bytes arrive in order; a connection's data never interleaves.
   on_data is called from run_once while it handles a receive, and also when the connection's
   held-back data is released: after a send completion drains a paused queue, after the pool
   refills, after on_connect -- always from the loop, never from inside a send or close call. */
typedef void (*zenith_data_fn)(void *user_data, zenith_conn_id conn, const uint8_t *data, size_t len);
/* Called once per connection that was accepted (on_accept) or connected (on_connect with 0),
   last; the id is stale from then on. A connect that failed gets no on_close. */
typedef void (*zenith_close_fn)(void *user_data, zenith_conn_id conn, int reason);
/* The connection may send again: its queue went from full (a send returned ZENITH_E_FULL, or
   the queue reached send_queue_max) to below half of send_queue_max, or the pool that a
   refused copying send found empty has buffers again. Reading from the connection, paused by
   that ZENITH_E_FULL, resumes with it. */
typedef void (*zenith_drain_fn)(void *user_data, zenith_conn_id conn);
/* The peer shut down its sending side (EOF) and everything it sent before has been delivered.
   Without an on_eof callback the server then sends what is queued and closes (the default);
   with one, the connection stays open for sending: half-close it (ZENITH_CLOSE_WRITE) or close
   it when you are done. */
typedef void (*zenith_eof_fn)(void *user_data, zenith_conn_id conn);
/* An outbound connection's outcome, exactly once per successful zenith_server_connect: status 0
   (connected: the connection is now like an accepted one), ZENITH_ESYS(ECONNREFUSED) (nothing
   listens), ZENITH_E_TIMEDOUT (no answer within timeout_ms), ZENITH_E_CANCELED (closed or the
   reactor shut down first), or another ZENITH_ESYS code (ENETUNREACH, EHOSTUNREACH, ...).
   user is the connect config's user. After a failure the id is stale. */
typedef void (*zenith_connect_fn)(void *user, zenith_conn_id conn, int status);
/* A timer expired. user is what zenith_server_timer_start was given. A one-shot timer is over
   when its callback runs (its id is stale inside it); a periodic one stays armed until
   zenith_server_timer_stop, which may be called from its own callback. */
typedef void (*zenith_timer_fn)(void *user, zenith_timer_id timer);
/* A message posted with zenith_server_post, run on the loop thread. data (len bytes, at most
   ZENITH_POST_MAX, 16-byte aligned; NULL when len is 0) is borrowed for the call. */
typedef void (*zenith_post_fn)(void *user, void *data, size_t len);

/* Bytes a posted message can carry by value. */
#define ZENITH_POST_MAX 40u
/* Longest timer delay or period, in milliseconds (about 12.4 days). */
#define ZENITH_TIMER_MAX_MS ((1u << 30) - 1u)

typedef struct zenith_server_stats {
    uint64_t connections_open, connections_accepted, connections_closed, connections_rejected;
    uint64_t bytes_in, bytes_out;
    uint64_t recv_buffer_exhausted; /* receives that found no buffer (ENOBUFS), re-armed later */
    uint64_t send_queue_full;       /* sends refused with ZENITH_E_FULL (queue or pool) */
    uint64_t stale_completions;     /* completions for connections already closed */
    uint64_t accept_errors;         /* EMFILE, ENFILE, ... (accepting resumes) */
    uint64_t connection_errors;     /* connections closed by ECONNRESET, EPIPE, ... */
    uint64_t zerocopy_sends;        /* sends that went out with SEND_ZC */
    uint64_t cq_overflow;           /* CQ overflow events seen (completions kept by the kernel) */
} zenith_server_stats;

/* The reactor's own counters (zenith_server_stats keeps its released layout; new counters come
   here). */
typedef struct zenith_reactor_stats {
    uint64_t listeners;          /* listening sockets */
    uint64_t connects_started;   /* zenith_server_connect calls that returned 0 */
    uint64_t connects_succeeded; /* on_connect with 0 */
    uint64_t connects_failed;    /* on_connect with an error (refused, unreachable, ...) */
    uint64_t connects_timed_out; /* on_connect with ZENITH_E_TIMEDOUT */
    uint64_t connects_canceled;  /* on_connect with ZENITH_E_CANCELED */
    uint64_t timers_armed;       /* user timers armed now */
    uint64_t timers_fired;       /* user timer callbacks run */
    uint64_t timers_skipped;     /* periods a periodic timer skipped, being later than a period */
    uint64_t posts_run;          /* posted messages run */
    uint64_t posts_refused;      /* zenith_server_post calls that returned ZENITH_E_FULL */
    uint64_t wakeups;            /* eventfd writes by posters and stop (at most one per batch) */
    uint64_t send_pool_empty;    /* copying sends refused for want of buffers (in send_queue_full too) */
    uint64_t deliveries_held;    /* times a connection's data was held back (reserve low) */
    uint64_t misuse_refused;     /* calls refused inside callbacks (ZENITH_E_STATE, and destroy) */
    uint64_t loop_iterations;    /* run_once calls that ran */
} zenith_reactor_stats;

/* How to reach a peer. Zero means default in every field. Borrowed for the call. Extensible. */
enum zenith_connect_flags {
    ZENITH_CONNECT_NO_NODELAY = 1u << 0, /* leave Nagle on (TCP_NODELAY is on by default) */
    ZENITH_CONNECT_KEEPALIVE = 1u << 1   /* SO_KEEPALIVE, tuned by the keepalive_* fields */
};

typedef struct zenith_connect_config {
    uint32_t struct_size;         /* sizeof(zenith_connect_config) as you compiled it; 0 = this layout */
    uint16_t port;                /* the peer's port, 1..65535 */
    uint16_t local_port;          /* with local_address: 0 = any */
    const char *address;          /* numeric IPv4 or IPv6 literal ("10.0.0.7", "::1"). No names: a
                                   resolver would block the loop; resolve on another thread */
    const char *local_address;    /* nullable: bind to this local address first (pick the NIC) */
    uint32_t flags;               /* enum zenith_connect_flags */
    uint32_t timeout_ms;          /* give up after this long; 0 = 10000; at most ZENITH_TIMER_MAX_MS */
    uint32_t keepalive_idle_s;    /* with KEEPALIVE: TCP_KEEPIDLE; 0 = the kernel's */
    uint32_t keepalive_intvl_s;   /* with KEEPALIVE: TCP_KEEPINTVL; 0 = the kernel's */
    uint32_t keepalive_count;     /* with KEEPALIVE: TCP_KEEPCNT; 0 = the kernel's */
    uint32_t user_timeout_ms;     /* TCP_USER_TIMEOUT: unacknowledged data older than this closes
                                   the connection (ZENITH_ESYS(ETIMEDOUT)); 0 = the kernel's */
    zenith_connect_fn on_connect; /* nullable */
    void *user;                   /* passed to on_connect; also the connection's user pointer */
} zenith_connect_config;

/* Creates a server: its pool, ring, provided-buffer ring, timer wheel, post queue and (unless
   ZENITH_SERVER_NO_LISTEN) its listening socket (bound and listening on return, so
   zenith_server_port is known). Nothing runs until zenith_server_start. All memory is
   allocated here: nothing on the loop allocates.
   Returns NULL with *err = ZENITH_E_INVAL (bad sizes, flags, address, cpu, numa_node; a node
   that does not exist or is not allowed; NO_LISTEN with listener fields), ZENITH_E_URING_DISABLED,
   ZENITH_ESYS(EADDRINUSE) (port in use), ZENITH_E_NOMEM, ZENITH_ESYS(e), or a pool/ring code.
   NUMA: the pool and the connection table go on the node (NUMA_NODE, or PIN_CPU's node); the
   ring's own memory goes where the kernel puts it for the creating thread, so for full
   locality create the server on the thread that will run it, already on its CPU.
   Thread safety: any thread. */
ZENITH_API zenith_server *zenith_server_create(const zenith_server_config *cfg, int *err);

/* Sets the callbacks (on_data required; others nullable) and the user_data passed to them.
   Returns 0, ZENITH_E_NULL, ZENITH_E_STATE (already started, or inside a callback).
   Thread safety: before start. */
ZENITH_API int zenith_server_set_callbacks(zenith_server *s, zenith_accept_fn on_accept, zenith_data_fn on_data,
                                           zenith_close_fn on_close, void *user_data);

/* Sets the drain callback (nullable). Returns 0 or ZENITH_E_NULL. Thread safety: owner thread.
   Callback safety: yes. */
ZENITH_API int zenith_server_set_drain_callback(zenith_server *s, zenith_drain_fn on_drain);

/* Sets the EOF callback (nullable: then a peer's EOF closes the connection after the queue is
   sent). Returns 0 or ZENITH_E_NULL. Thread safety: owner thread. Callback safety: yes. */
ZENITH_API int zenith_server_set_eof_callback(zenith_server *s, zenith_eof_fn on_eof);

/* Starts the loop: accepting on every listener, timers, posts. The calling thread becomes the
   server's thread (pinned to cfg.cpu with ZENITH_SERVER_PIN_CPU). Returns 0, ZENITH_E_NULL,
   ZENITH_E_STATE (no on_data, already started, inside a callback), ZENITH_ESYS(e). */
ZENITH_API int zenith_server_start(zenith_server *s);

/* Processes what is ready, waiting up to timeout_ms (< 0: until something happens; 0: never
   sleeps, for busy polling) for the first event, or less when a timer is due sooner; runs the
   callbacks: completions, expired timers, posted messages. Returns the number of events
   handled (0 on timeout or once stopped), or ZENITH_E_NULL, ZENITH_E_STATE (not started, or
   called inside one of this server's callbacks: nothing is handled twice), ZENITH_ESYS(e).
   Thread safety: the server's thread. Callback safety: no (ZENITH_E_STATE). */
ZENITH_API int zenith_server_run_once(zenith_server *s, int timeout_ms);

/* Asks the loop to stop: run_once returns promptly from now on and zenith_server_stopped
   reports 1. Any thread, and async-signal-safe (an atomic store and an eventfd write).
   Callback safety: yes. Lifetime: the server must outlive the call -- it writes the server's
   eventfd after setting the flag the loop sees, so destroy only once every stop call (on any
   thread) has returned, e.g. after joining the thread that called it. */
ZENITH_API void zenith_server_stop(zenith_server *s);

/* 1 once zenith_server_stop was called, else 0 (0 for NULL). Any thread. */
ZENITH_API int zenith_server_stopped(const zenith_server *s);

/* Graceful shutdown on the server's thread: stops accepting, cancels connects in flight
   (on_connect with ZENITH_E_CANCELED), sends what is queued, closes every connection (on_close
   with ZENITH_CLOSE_SHUTDOWN), waiting at most deadline_ms (< 0: no limit) before aborting the
   rest. Timers and posted messages not yet run are dropped. Returns the connections closed, or
   ZENITH_E_NULL, ZENITH_E_STATE (inside a callback: nothing done).
   Callback safety: no (ZENITH_E_STATE). */
ZENITH_API int zenith_server_shutdown(zenith_server *s, int deadline_ms);

/* Closes everything (as shutdown with deadline 0 if still running) and frees every fd, buffer
   and allocation. Accepts NULL. Thread safety: the server's thread. Callback safety: no --
   inside a callback it is refused (nothing happens; counted in misuse_refused): destroy after
   run_once returns. */
ZENITH_API void zenith_server_destroy(zenith_server *s);

/* Adds a TCP listener on an IPv4 or IPv6 literal (port 0 = the kernel picks), accepting into the
   same callbacks as the first. flags: 0 or ZENITH_SERVER_REUSEPORT. At most 16 listeners.
   Returns the bound port (1..65535), or ZENITH_E_NULL, ZENITH_E_INVAL (address, flags),
   ZENITH_E_FULL (16 listeners), ZENITH_ESYS(e) (EADDRINUSE, ...).
   Thread safety: the server's thread (or any thread before start). Callback safety: yes. */
ZENITH_API int zenith_server_listen(zenith_server *s, const char *address, uint16_t port, uint32_t flags);

/* Starts an outbound TCP connection and returns its id at once through *out; on_connect fires
   exactly once, from run_once, with the outcome (see zenith_connect_fn). Until then the id is
   valid for zenith_server_send / send_buffer (queued, sent once connected), close (cancels:
   on_connect with ZENITH_E_CANCELED) and the conn_user calls. After on_connect(0) it is a
   connection like an accepted one: on_data, sends, keep, backpressure and drain, close, idle
   timeout, stats, on_close.
   Params: cfg (in, borrowed); out (out): the id (0 on error).
   Returns 0, or ZENITH_E_NULL, ZENITH_E_INVAL (address not a numeric literal, port 0, a bad
   local_address, flags, timeout over ZENITH_TIMER_MAX_MS, struct_size), ZENITH_E_FULL
   (max_connections in use), ZENITH_E_STATE (not started, stopped or shutting down),
   ZENITH_ESYS(e) (socket, bind or setsockopt refused: EMFILE, EADDRNOTAVAIL, ...). On error
   on_connect never fires.
   Thread safety: the server's thread. Callback safety: yes. */
ZENITH_API int zenith_server_connect(zenith_server *s, const zenith_connect_config *cfg, zenith_conn_id *out);

/* Arms a timer: fn(user, id) runs delay_ms from now, then every period_ms if period_ms > 0.
   Never early: it runs on the first loop iteration at or after its deadline (without load
   within 1 ms plus one loop iteration of it, with millisecond ticks). A periodic timer's
   deadlines are first + k x period (no drift); one running later than a whole period skips
   the periods it missed (counted in timers_skipped) rather than firing in a burst. O(1), no
   system call, no allocation: a hierarchical timing wheel; the loop arms one kernel timeout
   for the nearest deadline. 40 bytes per timer, allocated at create (max_timers).
   Params: fn (required); user (borrowed, passed back); out (out, nullable): the timer's id.
   Returns 0, or ZENITH_E_NULL (s or fn), ZENITH_E_RANGE (delay or period over
   ZENITH_TIMER_MAX_MS), ZENITH_E_FULL (max_timers armed).
   Cost: no system call; the start is timed from the TSC when the kernel's clocksource is the
   TSC and the loop read the clock less than 1 ms ago, else by one clock_gettime (vDSO).
   Thread safety: the server's thread (or any thread before start). Callback safety: yes. */
ZENITH_API int zenith_server_timer_start(zenith_server *s, uint32_t delay_ms, uint32_t period_ms, zenith_timer_fn fn,
                                         void *user, zenith_timer_id *out);

/* Disarms a timer: its callback will not run again. O(1). Safe inside any callback, a timer's
   own included. Returns 0, or ZENITH_E_NULL, ZENITH_E_STALE (already fired (one-shot), stopped,
   or not a timer of this server). Thread safety: the server's thread. Callback safety: yes. */
ZENITH_API int zenith_server_timer_stop(zenith_server *s, zenith_timer_id timer);

/* Posts fn(user, copy of data, len) to run on the loop thread, from any thread. Lock-free
   (one CAS), bounded, never blocks, never allocates; data (at most ZENITH_POST_MAX bytes) is
   copied into the queue. Messages from one thread run in the order it posted them. A sleeping
   loop is woken at most once per batch (one eventfd write). Posts made before start run once
   the loop runs; those still queued at shutdown or destroy are dropped unrun.
   Params: fn (required); user (borrowed, passed back); data (in, copied; nullable if len 0).
   Returns 0, or ZENITH_E_NULL (s or fn, or data NULL with len), ZENITH_E_INVAL (len over
   ZENITH_POST_MAX), ZENITH_E_FULL (post_queue messages waiting: nothing queued; counted).
   Thread safety: any thread, concurrently, while the server exists. Callback safety: yes. */
ZENITH_API int zenith_server_post(zenith_server *s, zenith_post_fn fn, void *user, const void *data, size_t len);

/* Queues a copy of data[0..len) for the connection (chunks of buffer_size from the pool).
   Returns 0, or ZENITH_E_NULL, ZENITH_E_STALE (connection closed or id unknown),
   ZENITH_E_STATE (our sending side was half-closed: ZENITH_CLOSE_WRITE),
   ZENITH_E_FULL: nothing was queued, because the queue would pass 2 x send_queue_max or the
   pool has no buffer left for the copy. Then reading from that connection pauses, and
   on_drain fires once it may send again: keep what you wanted to send (or drop the
   connection) and send it from on_drain. len 0 returns 0.
   What makes ZENITH_E_FULL rare: no data is delivered to a connection while its queue is at
   send_queue_max or more, and no data is delivered at all while the send reserve is low, so a
   reply of at most the size of each received buffer (an echo) never meets either limit.
   Thread safety: the server's thread. Callback safety: yes. */
ZENITH_API int zenith_server_send(zenith_server *s, zenith_conn_id conn, const void *data, size_t len);

/* Zero-copy send of a buffer of the server's pool (zenith_server_pool) that you filled: ownership
   moves to the server, which releases it after the kernel is done (after the SEND_ZC notification
   when zero-copy is used) -- also on every error return. Returns as zenith_server_send, or
   ZENITH_E_FOREIGN / ZENITH_E_MISALIGNED (not a buffer of the pool), ZENITH_E_INVAL (len 0 or
   over buffer_size). Thread safety: the server's thread. Callback safety: yes. */
ZENITH_API int zenith_server_send_buffer(zenith_server *s, zenith_conn_id conn, void *buf, size_t len);

/* Inside on_data only: keeps the buffer that holds data beyond the callback (zero-copy hand-off).
   Returns it (its start; data is at its start), owned by the caller until released with
   zenith_pool_release(zenith_server_pool(s), buf) from any thread; the server lends the kernel a
   fresh buffer instead. Returns NULL outside on_data or if called twice in one call. */
ZENITH_API void *zenith_server_keep(zenith_server *s);

/* Closes a connection (ZENITH_CLOSE_FLUSH or ZENITH_CLOSE_ABORT); for a connect in flight,
   cancels it (on_connect with ZENITH_E_CANCELED). on_close follows, from run_once (for
   connections that were open). Returns 0, ZENITH_E_NULL, ZENITH_E_STALE, ZENITH_E_INVAL (flags).
   Thread safety: the server's thread. Callback safety: yes. */
ZENITH_API int zenith_server_close(zenith_server *s, zenith_conn_id conn, int flags);

/* Stops delivering on_data for a connection (reading from its socket stops; what was already
   received waits, in order) until zenith_server_resume. For relaying: pause the source while
   the destination's queue is at send_queue_max, resume it from the destination's on_drain.
   Idempotent: one resume undoes any number of pauses.
   Returns 0, ZENITH_E_NULL, ZENITH_E_STALE. Thread safety: the server's thread.
   Callback safety: yes (resume never calls on_data from inside itself: held data is delivered
   from the loop). */
ZENITH_API int zenith_server_pause(zenith_server *s, zenith_conn_id conn);
ZENITH_API int zenith_server_resume(zenith_server *s, zenith_conn_id conn);

/* Bytes queued for sending on the connection (in flight included), at most INT_MAX, or
   ZENITH_E_NULL, ZENITH_E_STALE. A connection whose queue reaches send_queue_max gets on_drain
   once it is below half again, whether or not a send was refused.
   Thread safety: the server's thread. Callback safety: yes. */
ZENITH_API int zenith_server_queued(zenith_server *s, zenith_conn_id conn);

/* Per-connection user pointer (borrowed both ways). set returns 0, ZENITH_E_NULL, ZENITH_E_STALE;
   get returns NULL for a stale id -- except inside on_close (and an on_connect reporting a
   failure), where it still returns the pointer of the connection the callback is about, so you
   can free your state there. The slot (the id's low 32 bits) is below max_connections, if you
   prefer tables of your own. Thread safety: the server's thread. Callback safety: yes. */
ZENITH_API int zenith_server_set_conn_user(zenith_server *s, zenith_conn_id conn, void *user);
ZENITH_API void *zenith_server_get_conn_user(zenith_server *s, zenith_conn_id conn);

/* The first listener's bound port, or 0 (NULL, or no listener). Any thread. */
ZENITH_API uint16_t zenith_server_port(const zenith_server *s);
/* Counters. Returns 0 or ZENITH_E_NULL. Thread safety: the server's thread (others: approximate).
   Callback safety: yes. */
ZENITH_API int zenith_server_get_stats(const zenith_server *s, zenith_server_stats *out);
ZENITH_API int zenith_server_get_reactor_stats(const zenith_server *s, zenith_reactor_stats *out);
/* The backend the reactor runs on and why, into *out (out->struct_size: 0 or at least this
   layout's size). Returns 0, ZENITH_E_NULL, or ZENITH_E_INVAL (a smaller struct_size). The
   examples print it at start-up. Thread safety: any
   thread (it never changes after create). Callback safety: yes. */
ZENITH_API int zenith_server_backend_info(const zenith_server *s, zenith_backend_info *out);
/* The server's pool and ring (borrowed; valid until destroy). NULL for NULL. The ring is NULL on
   the epoll backend. */
ZENITH_API zenith_pool *zenith_server_pool(zenith_server *s);
ZENITH_API zenith_ring *zenith_server_ring(zenith_server *s);

/* ---- UDP sockets on the reactor ----------------------------------------------------------------

   Datagram sockets on the same loop as the TCP connections, on both backends: io_uring receives
   with one multishot recvmsg per socket into the provided-buffer ring, epoll with recvmmsg(2) in
   batches of up to 64 into pool buffers. Each datagram is one on_recv call, borrowed (keepable
   without a copy); boundaries are always kept; one longer than the receive capacity is cut and
   flagged ZENITH_UDP_TRUNC with its real length, never passed off as whole. Sends are queued
   (a copy, or a pool buffer you filled) and leave from the loop, several per system call
   (sendmmsg(2) of up to 64, on both backends), in the order they were queued.
   Multicast: any-source and source-specific joins (IPv4 and IPv6, on a chosen interface) and
   the sender's interface, TTL/hops and loopback. docs/UDP.md has the whole story. */

/* A UDP socket of a reactor: slot (low 32 bits) and generation (high 32 bits), like a
   connection id but a space of its own. 0 is never a live socket; after zenith_udp_close the
   id is stale for ever (ZENITH_E_STALE). */
typedef uint64_t zenith_udp_id;

/* An IPv4 or IPv6 socket address: sa holds a struct sockaddr_in or sockaddr_in6 exactly as the
   kernel takes it (C callers may cast a->sa to const struct sockaddr *), len its length (16
   or 28; 0 = no address). 32 bytes, 4-byte aligned. Fill it with zenith_addr_set. */
typedef struct zenith_addr {
    uint8_t sa[28];
    uint32_t len;
} zenith_addr;

/* Fills *out from an IPv4 or IPv6 literal ("10.0.0.1", "::1"; a scope such as "fe80::1%eth0"
   is refused: give the interface to the join call) and a port. Returns 0, ZENITH_E_NULL,
   ZENITH_E_INVAL (not a numeric address; *out is then cleared). Any thread; no system call. */
ZENITH_API int zenith_addr_set(zenith_addr *out, const char *ip, uint16_t port);
/* Writes "a.b.c.d:port" or "[v6]:port" into buf (cap bytes with the NUL; 56 always suffice).
   Returns the length written, or ZENITH_E_NULL, ZENITH_E_INVAL (not an address),
   ZENITH_E_RANGE (cap too small: nothing written). Any thread. */
ZENITH_API int zenith_addr_format(const zenith_addr *a, char *buf, size_t cap);
/* The port of an address (host order), 0 for NULL or no address. Any thread. */
ZENITH_API uint16_t zenith_addr_port(const zenith_addr *a);

enum zenith_udp_flags {
    ZENITH_UDP_REUSEADDR = 1u << 0, /* SO_REUSEADDR (several sockets on one multicast port) */
    ZENITH_UDP_REUSEPORT = 1u << 1, /* SO_REUSEPORT (one socket per reactor on one port: the
                                       kernel spreads unicast datagrams by flow; every socket of
                                       a multicast group gets every datagram) */
    ZENITH_UDP_V6ONLY = 1u << 2,    /* an IPv6 socket that takes no IPv4 (IPV6_V6ONLY) */
    /* UDP_GRO: the kernel may hand several datagrams of one flow over in one receive; they are
       split back, each one on_recv as if it came alone (ZENITH_UDP_GRO_SEGMENT set). A
       coalesced receive can be 64 KiB: needs buffer_size >= ZENITH_UDP_GRO_BUFFER (else
       ZENITH_E_INVAL). Silently off where the kernel lacks it (zenith_udp_info.features). */
    ZENITH_UDP_GRO = 1u << 3,
    ZENITH_UDP_NO_TIMESTAMPS = 1u << 4, /* no SO_TIMESTAMPING (receive timestamps are on by default) */
    ZENITH_UDP_HW_TIMESTAMPS = 1u << 5, /* ask for hardware receive timestamps too (the NIC must
                                           stamp: SIOCSHWTSTAMP, e.g. hwstamp_ctl; else none come) */
    ZENITH_UDP_BROADCAST = 1u << 6      /* SO_BROADCAST */
};

/* Bytes of each receive buffer that hold the sender's address and the kernel's ancillary data
   (io_uring puts them in the buffer; epoll keeps the same capacity): a datagram longer than
   buffer_size - this is cut (ZENITH_UDP_TRUNC). 3,920 bytes of payload at 4096-byte buffers. */
#define ZENITH_UDP_RECV_HEADROOM 176u
/* The smallest buffer_size that takes a whole coalesced (GRO) receive: 64 KiB of payload plus
   ZENITH_UDP_RECV_HEADROOM, rounded up to 64. */
#define ZENITH_UDP_GRO_BUFFER 65728u
/* Longest datagram zenith_udp_send copies (the IPv4 limit; an IPv6 socket's is 65527). */
#define ZENITH_UDP_MAX_DATAGRAM 65507u

enum zenith_udp_datagram_flags {
    ZENITH_UDP_TRUNC = 1u << 0,      /* longer than the receive capacity: len bytes of orig_len */
    ZENITH_UDP_GRO_SEGMENT = 1u << 1 /* one of several the kernel coalesced (GRO), split back */
};

/* One received datagram, lent to on_recv for the call (everything it points to included). */
typedef struct zenith_udp_datagram {
    const uint8_t *data;     /* the payload (pool memory; keep it with zenith_udp_keep) */
    uint32_t len;            /* bytes at data */
    uint32_t orig_len;       /* its length as sent (len, unless ZENITH_UDP_TRUNC) */
    uint32_t flags;          /* enum zenith_udp_datagram_flags */
    uint32_t kernel_drops;   /* the kernel's drop counter for the socket when this datagram was
                                queued (SO_RXQ_OVFL; 0 until the first drop): a rise between two
                                datagrams means the kernel dropped that many in between */
    const zenith_addr *from; /* the sender */
    int64_t ts_ns;           /* kernel software receive timestamp, ns since the epoch
                                (CLOCK_REALTIME, as clock_gettime); 0 if none */
    int64_t hw_ts_ns;        /* the NIC's raw hardware timestamp, ns; 0 if none */
} zenith_udp_datagram;

/* A datagram arrived. user is the socket's user pointer. Runs on the loop thread; the same
   calls are allowed inside it as inside on_data (zenith_udp_keep instead of zenith_server_keep). */
typedef void (*zenith_udp_recv_fn)(void *user, zenith_udp_id sock, const zenith_udp_datagram *d);
/* The socket's send queue, which refused a send with ZENITH_E_FULL, has room again (below half
   of udp_queue, and the pool has buffers). */
typedef void (*zenith_udp_writable_fn)(void *user, zenith_udp_id sock);

/* Zero means default in every field. Borrowed for the call (strings are read, not kept). */
typedef struct zenith_udp_config {
    uint32_t struct_size;               /* sizeof(zenith_udp_config) as you compiled it; 0 = this layout */
    uint32_t flags;                     /* enum zenith_udp_flags */
    const char *address;                /* IPv4 or IPv6 literal to bind; NULL = "0.0.0.0". A multicast
                                 receiver binds the group itself (only its datagrams) or any */
    uint16_t port;                      /* 0 = the kernel picks (zenith_udp_port tells which) */
    uint16_t peer_port;                 /* with peer_address */
    uint32_t rcvbuf;                    /* SO_RCVBUF bytes (SO_RCVBUFFORCE when allowed); 0 = the kernel's */
    const char *peer_address;           /* nullable: connect(2) to it; sends without an address go there
                                 and only its datagrams are received */
    uint32_t sndbuf;                    /* SO_SNDBUF bytes (SO_SNDBUFFORCE when allowed); 0 = the kernel's */
    uint32_t reserved_;                 /* must be 0 */
    zenith_udp_recv_fn on_recv;         /* nullable: a send-only socket (nothing is read) */
    zenith_udp_writable_fn on_writable; /* nullable */
    void *user;                         /* passed to the callbacks; zenith_udp_get_user */
} zenith_udp_config;

enum zenith_udp_features {                             /* zenith_udp_info.features: what is on for this socket */
                           ZENITH_UDP_F_GSO = 1u << 0, /* UDP_SEGMENT works (else zenith_udp_send_gso queues each
                                           segment as its own datagram: the same datagrams) */
                           ZENITH_UDP_F_GRO = 1u << 1, /* UDP_GRO is on (asked for, and the kernel took it) */
                           ZENITH_UDP_F_TS_SOFTWARE = 1u << 2, /* software receive timestamps */
                           ZENITH_UDP_F_TS_HARDWARE = 1u << 3, /* hardware receive timestamps asked for and accepted */
                           ZENITH_UDP_F_CONNECTED = 1u << 4,   /* connected to peer_address */
                           ZENITH_UDP_F_IPV6 = 1u << 5         /* an IPv6 socket */
};

/* One socket's state and counters (zenith_udp_get_info). */
typedef struct zenith_udp_info {
    uint32_t struct_size;              /* 0 or sizeof(zenith_udp_info) as you compiled it */
    uint32_t features;                 /* enum zenith_udp_features */
    zenith_addr local;                 /* the bound address and port */
    zenith_addr peer;                  /* the connected peer (len 0 if none) */
    uint32_t recv_capacity;            /* longest datagram received whole: buffer_size -
                                          ZENITH_UDP_RECV_HEADROOM */
    uint32_t queued;                   /* datagrams waiting to be sent or in flight */
    uint64_t datagrams_in, bytes_in;   /* delivered to on_recv (GRO segments one by one) */
    uint64_t datagrams_out, bytes_out; /* sent (a GSO send counts its segments) */
    uint64_t truncated;                /* delivered cut (ZENITH_UDP_TRUNC) */
    uint64_t gro_batches;              /* coalesced receives split back */
    uint64_t gso_sends;                /* sends the kernel cut into segments (UDP_SEGMENT) */
    uint64_t recv_stalls;              /* receives that found the reactor's receive buffers all out (kept by
                              the application, or a burst outran the loop): reading waits until
                              buffers return; datagrams wait in the socket's receive buffer and
                              what overflows it is in kernel_drops. Zenith itself never drops a
                              received datagram */
    uint64_t kernel_drops;             /* datagrams the kernel dropped for this socket (receive buffer full),
                              read now (SO_MEMINFO): nothing is lost uncounted */
    uint64_t recv_errors;              /* receive errors (ICMP errors on a connected socket: ECONNREFUSED) */
    uint64_t send_full;                /* sends refused with ZENITH_E_FULL (queue or pool) */
    uint64_t send_errors;              /* datagrams the kernel refused to send (dropped, counted) */
    int32_t last_error;                /* the last send or receive error (a ZENITH_ESYS code), 0 if none */
    uint32_t reserved_;
} zenith_udp_info;

/* Opens a UDP socket on the reactor (bound; connected if cfg->peer_address) and starts receiving
   at once if the loop runs (else at zenith_server_start).
   Params: cfg (in, borrowed); out (out): the id (0 on error).
   Returns 0, or ZENITH_E_NULL, ZENITH_E_INVAL (address, peer, flags, struct_size, reserved,
   GRO with buffers smaller than ZENITH_UDP_GRO_BUFFER), ZENITH_E_FULL (max_udp sockets open),
   ZENITH_E_STATE (stopped or shutting down), ZENITH_ESYS(e) (EADDRINUSE, EADDRNOTAVAIL,
   EMFILE, ...). On error nothing is left open.
   Thread safety: the server's thread (or any thread before start). Callback safety: yes. */
ZENITH_API int zenith_udp_open(zenith_server *s, const zenith_udp_config *cfg, zenith_udp_id *out);

/* Closes a socket: receiving stops now (nothing more is delivered, not even the rest of a batch
   being delivered), what is queued is still sent, then the fd is closed and the slot reused.
   Memberships end with the fd. Returns 0, ZENITH_E_NULL, ZENITH_E_STALE.
   Thread safety: the server's thread. Callback safety: yes (its own on_recv included). */
ZENITH_API int zenith_udp_close(zenith_server *s, zenith_udp_id sock);

/* Queues a copy of data[0..len) as one datagram to `to` (NULL: the connected peer). It leaves
   from the loop, after the callback or call that queued it, in queue order with the socket's
   other sends. len 0 sends an empty datagram.
   Returns 0, or ZENITH_E_NULL, ZENITH_E_STALE, ZENITH_E_INVAL (to NULL on an unconnected
   socket, to given on a connected one, to of another family or not an address),
   ZENITH_E_RANGE (len over ZENITH_UDP_MAX_DATAGRAM or 16 buffers), ZENITH_E_FULL (udp_queue
   datagrams queued, or the pool has no buffer: nothing queued; on_writable follows).
   A datagram the kernel refuses later (EMSGSIZE, ENETUNREACH, ...) is dropped and counted
   (send_errors, last_error). Thread safety: the server's thread. Callback safety: yes. */
ZENITH_API int zenith_udp_send(zenith_server *s, zenith_udp_id sock, const void *data, size_t len,
                               const zenith_addr *to);

/* Zero-copy send from a pool buffer you own: data points into it (its start when you filled a
   buffer from zenith_server_pool, or where zenith_udp_keep said a received datagram is: an echo
   is keep + send_buffer, no copy) and the datagram is data[0..len), which must end inside that
   buffer. Ownership of the whole buffer moves to the reactor, which releases it once the kernel
   has the datagram -- also on every error return. Returns as zenith_udp_send, or
   ZENITH_E_FOREIGN (not inside a buffer of the pool), ZENITH_E_RANGE (runs past its end).
   Thread safety: the server's thread. Callback safety: yes. */
ZENITH_API int zenith_udp_send_buffer(zenith_server *s, zenith_udp_id sock, void *data, size_t len,
                                      const zenith_addr *to);

/* Many datagrams of one size to one peer in one send: data[0..len) is cut into segments of
   seg_size bytes (the last may be shorter), each its own datagram on the wire. With
   UDP_SEGMENT (GSO) the kernel cuts it: one system call, one pass through the stack; without
   it the segments are queued one by one (the same datagrams; zenith_udp_info.features says
   which). At most 64 segments; len at most ZENITH_UDP_MAX_DATAGRAM and 16 buffers.
   Returns as zenith_udp_send, or ZENITH_E_INVAL (seg_size 0), ZENITH_E_RANGE (over the limits).
   Thread safety: the server's thread. Callback safety: yes. */
ZENITH_API int zenith_udp_send_gso(zenith_server *s, zenith_udp_id sock, const void *data, size_t len,
                                   uint32_t seg_size, const zenith_addr *to);

/* Inside on_recv only: keeps the buffer holding the datagram beyond the callback (zero-copy
   hand-off). Returns that buffer (a pool buffer: release it with zenith_pool_release(
   zenith_server_pool(s), buf) from any thread) and sets *data (nullable) to where the
   datagram's bytes are in it: d->data itself, unless the datagram was one GRO segment of
   several -- then it is copied into a buffer of its own, at its start. NULL outside on_recv, if
   called twice in one call, or (GRO segment) when the pool is empty. */
ZENITH_API void *zenith_udp_keep(zenith_server *s, const uint8_t **data);

/* Joins a multicast group on the socket: any-source (source NULL) or source-specific (only
   datagrams from source: IGMPv3 / MLDv2), on interface ifname (NULL: the one the routing table
   gives for the group). group and source are literals of the socket's family (RFC 3678
   MCAST_JOIN_GROUP / MCAST_JOIN_SOURCE_GROUP, the protocol-independent form of
   IP_ADD_MEMBERSHIP / IP_ADD_SOURCE_MEMBERSHIP and IPV6_JOIN_GROUP). At most 20 memberships
   per socket.
   Returns 0, or ZENITH_E_NULL, ZENITH_E_STALE, ZENITH_E_INVAL (group not a multicast address,
   source not a unicast one, a family that is not the socket's), ZENITH_E_NOT_FOUND (no
   interface of that name), ZENITH_E_EXIST (this group, source and interface already joined;
   or an any-source and a source-specific join of one group on one interface), ZENITH_E_FULL
   (20 memberships), ZENITH_ESYS(e) (the kernel refused: ENODEV for an interface without
   multicast, ENOBUFS past net.ipv4.igmp_max_memberships, ...). Nothing changes on error.
   Thread safety: the server's thread. Callback safety: yes. */
ZENITH_API int zenith_udp_join(zenith_server *s, zenith_udp_id sock, const char *group, const char *source,
                               const char *ifname);
/* Leaves what zenith_udp_join joined (the same arguments). Returns 0, or the codes of join, with
   ZENITH_E_NOT_FOUND also for a membership this socket does not have. */
ZENITH_API int zenith_udp_leave(zenith_server *s, zenith_udp_id sock, const char *group, const char *source,
                                const char *ifname);

/* Sender options for multicast: the outgoing interface (ifname; NULL leaves it), the TTL / hop
   limit (0-255; -1 leaves it; the kernel's default is 1: the local network) and whether this
   host's own sockets receive what it sends (loop 0 or 1; -1 leaves it; on by default).
   Returns 0, or ZENITH_E_NULL, ZENITH_E_STALE, ZENITH_E_INVAL (ttl or loop out of range),
   ZENITH_E_NOT_FOUND (no such interface), ZENITH_ESYS(e). Checked before anything is set.
   Thread safety: the server's thread. Callback safety: yes. */
ZENITH_API int zenith_udp_multicast_send_opts(zenith_server *s, zenith_udp_id sock, const char *ifname, int ttl,
                                              int loop);

/* The socket's state and counters into *out (out->struct_size: 0 or at least this layout's
   size). kernel_drops is read from the kernel (one getsockopt). Returns 0, ZENITH_E_NULL,
   ZENITH_E_STALE, ZENITH_E_INVAL (a smaller struct_size).
   Thread safety: the server's thread. Callback safety: yes. */
ZENITH_API int zenith_udp_get_info(zenith_server *s, zenith_udp_id sock, zenith_udp_info *out);
/* The bound port (host order), or 0 for NULL or a stale id. Thread safety: the server's thread.
   Callback safety: yes. */
ZENITH_API uint16_t zenith_udp_port(zenith_server *s, zenith_udp_id sock);
/* The socket's user pointer (borrowed both ways; starts as cfg->user). set returns 0,
   ZENITH_E_NULL, ZENITH_E_STALE; get returns NULL for a stale id.
   Thread safety: the server's thread. Callback safety: yes. */
ZENITH_API int zenith_udp_set_user(zenith_server *s, zenith_udp_id sock, void *user);
ZENITH_API void *zenith_udp_get_user(zenith_server *s, zenith_udp_id sock);

/* ---- the data-plane engine (Arrow C Data Interface) ------------------------------------------

   Producers on any thread publish Arrow record batches (or any Arrow array) with a source id and
   a sequence number; consumers on any thread poll them in publish order and release them.
   Nothing is copied: the structs move in by the C Data Interface's move semantics (the
   producer's structs are marked released; the buffers stay where they are) and move out to
   the consumer the same way. Publish and poll are lock-free (a bounded ring of slots, one CAS
   each) and never allocate. */

/* The Arrow C Data Interface, as its specification writes it (same guard, so it coexists with
   Arrow's own headers, nanoarrow and others). */
#ifndef ARROW_C_DATA_INTERFACE
#define ARROW_C_DATA_INTERFACE

#define ARROW_FLAG_DICTIONARY_ORDERED 1
#define ARROW_FLAG_NULLABLE 2
#define ARROW_FLAG_MAP_KEYS_SORTED 4

struct ArrowSchema {
    /* Array type description */
    const char *format;
    const char *name;
    const char *metadata;
    int64_t flags;
    int64_t n_children;
    struct ArrowSchema **children;
    struct ArrowSchema *dictionary;

    /* Release callback */
    void (*release)(struct ArrowSchema *);
    /* Opaque producer-specific data */
    void *private_data;
};

struct ArrowArray {
    /* Array data description */
    int64_t length;
    int64_t null_count;
    int64_t offset;
    int64_t n_buffers;
    int64_t n_children;
    const void **buffers;
    struct ArrowArray **children;
    struct ArrowArray *dictionary;

    /* Release callback */
    void (*release)(struct ArrowArray *);
    /* Opaque producer-specific data */
    void *private_data;
};

#endif /* ARROW_C_DATA_INTERFACE */

/* The design's handle type (the one public name without the zenith_ prefix, as the design
   writes it); zenith_engine is the same struct. */
typedef struct zenith_engine zenith_engine;
typedef zenith_engine *ZenithEngine;

/* A polled batch: the consumer owns array and schema until zenith_batch_release. */
typedef struct zenith_batch {
    uint64_t source_id;
    uint64_t seq_no;
    struct ArrowArray array;
    struct ArrowSchema schema;
} zenith_batch;

typedef struct zenith_engine_stats {
    uint64_t capacity;          /* batches the engine holds at once */
    uint64_t published;         /* accepted by zenith_publish */
    uint64_t polled;            /* taken by zenith_poll */
    uint64_t released;          /* given back through zenith_batch_release (or by zenith_free) */
    uint64_t rejected_full;     /* zenith_publish returned ZENITH_E_FULL */
    uint64_t rejected_invalid;  /* zenith_publish returned ZENITH_E_FFI (malformed) */
    uint64_t seq_gaps;          /* sequence numbers skipped, summed over sources */
    uint64_t seq_duplicates;    /* batches whose seq_no was not above the source's last one */
    uint64_t sources;           /* distinct source ids tracked */
    uint64_t sources_untracked; /* batches from sources beyond the tracking table */
} zenith_engine_stats;

/* Creates an engine holding up to `capacity` batches in flight (rounded up to a power of two, 2 at least;
   zenith_engine_get_stats tells the result). All memory is allocated here.
   Returns the engine, or NULL: capacity 0 or above 2^24, or out of memory.
   Thread safety: any thread. Lifetime: until zenith_free. */
ZENITH_API ZenithEngine zenith_engine_create(uint32_t capacity);

/* Publishes one batch. The array and schema are validated first (docs/FFI.md lists the checks:
   not released, a supported format, buffer and child counts, lengths, offsets, null counts,
   offsets monotonic and inside their child, dictionary indices inside the dictionary).
   Returns 0: accepted; ownership moved in (array->release and schema->release are now NULL
     in the caller's structs, the engine will release them once).
   1: accepted and dropped by a plugin (see "plugins" below): ownership moved in and the
     release callbacks already ran, on this thread, before the call returned.
   ZENITH_E_NULL (-1): engine, array or schema is NULL.
   ZENITH_E_FULL (-2): the engine holds `capacity` batches; the caller keeps ownership.
   ZENITH_E_FFI (-4): malformed or unsupported; the caller keeps ownership.
   Sequence numbers are tracked per source: gaps and duplicates are counted, never rejected.
   Thread safety: any thread, concurrently; lock-free, no allocation. A source published from
   several threads at once has no defined order, so count its gaps loosely. With plugins
   attached, each runs here, on this thread, on an instance of its own (a publish waits only
   when more threads publish at once than the plugin has instances); a plugin's memory grows
   (an allocation) only when a batch needs more room than any before it.
   Callback safety: the batch's release callbacks may run inside this call (a dropped batch). */
ZENITH_API int zenith_engine_publish(ZenithEngine engine, struct ArrowArray *array, struct ArrowSchema *schema,
                                     uint64_t source_id, uint64_t seq_no);

/* Takes the oldest batch. Returns 1 (out filled: the caller owns its array and schema),
   0 (nothing to take), ZENITH_E_NULL. Batches come out in the order their publishes took effect;
   each producer's batches in the order it published them.
   Thread safety: any thread, concurrently; lock-free, no allocation. */
ZENITH_API int zenith_engine_poll(ZenithEngine engine, zenith_batch *out);

/* Runs the batch's Arrow release callbacks (array, then schema), exactly once: a second call
   returns ZENITH_E_DOUBLE_RELEASE and calls nothing. engine may be NULL (then not counted).
   Returns 0, ZENITH_E_NULL (batch NULL), ZENITH_E_DOUBLE_RELEASE. Thread safety: any thread. */
ZENITH_API int zenith_batch_release(ZenithEngine engine, zenith_batch *batch);

/* ---- plugins: WebAssembly filters and aggregates on the engine (docs/PLUGINS.md) --------------

   A plugin is a WebAssembly module (plugin ABI 1: plugins/zenith_plugin.h) that runs on every
   batch published after it is loaded, in the publishing thread, after the batch has its place
   in the ring and before consumers can see it. It is given copies of the primitive columns it
   asked for and passes the batch, drops it, or selects the rows that pass (a bitmap the
   consumer reads with zenith_poll_selection; the batch itself is never modified); it may keep
   a running result (zenith_plugin_result). Up to ZENITH_MAX_PLUGINS run in load order: a drop
   by one ends the chain, selections are ANDed. A trap, exhausted fuel or an undefined verdict
   never loses or corrupts a batch: the batch goes on as if the plugin had passed it (or is
   dropped, with ZENITH_PLUGIN_FAIL_REJECT), the failure is counted, and max_failures failures
   in a row disable the plugin. Plugins need the implementation compiled with ZENITH_PLUGINS
   (and -lm); without it zenith_load_plugin returns ZENITH_E_UNSUPPORTED and says why. */

#define ZENITH_MAX_PLUGINS 8 /* plugins attached to one engine at once */
#define ZENITH_PLUGIN_MAX_INSTANCES 64
#define ZENITH_PLUGIN_MAX_RESULTS 8  /* result values per plugin */
#define ZENITH_PLUGIN_REASON_MAX 256 /* bytes of a load failure's reason, NUL included */

enum zenith_plugin_flags {
    /* A failed call (trap, fuel, undefined verdict) drops the batch instead of passing it on
       unfiltered; batches the plugin cannot read (a column missing or of another type, more
       than max_rows rows) too. */
    ZENITH_PLUGIN_FAIL_REJECT = 1u << 0
};

/* Zero means default in every field. Borrowed for the call. Extensible (see struct_size). */
typedef struct zenith_plugin_config {
    uint32_t struct_size;      /* sizeof(zenith_plugin_config) as you compiled it; 0 = this layout */
    uint32_t flags;            /* enum zenith_plugin_flags */
    uint32_t instances;        /* copies of the plugin, each with its own memory and state, so
                                  that as many threads can publish through it at once; 0 = the
                                  CPUs the process may run on, at most 16; at most 64 */
    uint32_t max_failures;     /* failed calls in a row that disable the plugin; 0 = 3 */
    uint64_t fuel;             /* fuel per call: fuel + fuel_per_row * rows (a unit is about one
                                  wasm instruction); 0 = 100000 */
    uint64_t fuel_per_row;     /* 0 = 200 */
    uint32_t max_rows;         /* the largest batch the plugin sees (larger ones: as a failure,
                                  not counted towards disabling); 0 = 16384; at most 2^24. The
                                  engine's selection area (capacity * max_rows / 8 bytes) is sized
                                  by the first plugin loaded: a later one may not ask for more */
    uint32_t max_memory_pages; /* cap on each instance's memory, 64 KiB pages; 0 = 256 (16 MiB) */
    const void *params;        /* nullable: bytes copied into each instance for its init */
    size_t params_len;         /* at most 65536 */
} zenith_plugin_config;

/* A plugin's counters (zenith_plugin_get_stats): sums over its instances, exact when no
   publish is in flight. */
typedef struct zenith_plugin_stats {
    uint32_t struct_size;          /* in: 0 or sizeof(zenith_plugin_stats) as you compiled it; out: bytes written */
    uint32_t disabled;             /* 1 once max_failures calls in a row failed: the plugin no longer runs */
    uint32_t instances;            /* as loaded */
    int32_t last_trap;             /* the last trap's code (zenith_wasm.h's ZENITH_WASM_TRAP_*, e.g.
                                 -109 for fuel), 0 if none */
    uint64_t calls;                /* batches the plugin ran on */
    uint64_t rows_in;              /* rows of those batches */
    uint64_t rows_out;             /* rows that passed it (all rows of a passed or failed batch, the
                                 selected rows of a selection, none of a drop) */
    uint64_t passed;               /* batches passed whole (ZP_PASS, or a selection of every row) */
    uint64_t rejected;             /* batches dropped (ZP_REJECT, or a selection of no row) */
    uint64_t selected;             /* batches with a selection of some of their rows */
    uint64_t failures;             /* calls that failed: traps + errors */
    uint64_t traps;                /* calls that trapped, fuel exhaustion included */
    uint64_t fuel_exhausted;       /* calls that ran out of fuel */
    uint64_t errors;               /* calls that returned an undefined verdict, or the host could
                                 not give the batch to the plugin (its alloc failed) */
    uint64_t skipped;              /* batches the plugin could not read (column missing or of
                                 another type, more than max_rows rows): not run */
    uint64_t fuel_used;            /* fuel consumed by all calls */
    uint64_t waits;                /* publishes that found every instance busy and waited */
    uint64_t consecutive_failures; /* failed calls since the last good one */
} zenith_plugin_stats;

/* Loads, validates and instantiates a plugin and attaches it to the engine, with the default
   configuration: the design's call, zenith_load_plugin_ex(engine, bytes, len, NULL, NULL, 0).
   Returns a plugin id (>= 0) or a negative code, ZENITH_E_PLUGIN (-3) when the module is not a
   valid plugin; the reason of any failure but ZENITH_E_NULL is kept for
   zenith_plugin_last_error. Params, ownership, thread and callback safety: as
   zenith_load_plugin_ex. */
ZENITH_API int zenith_engine_load_plugin(ZenithEngine engine, const uint8_t *wasm_bytes, size_t wasm_len);

/* Loads a plugin: decodes and fully validates the module (zenith_wasm.h), checks the plugin
   ABI (exports, imports only of the host kernels of module "zenith", a memory), instantiates it `instances` times and runs each
   instance's zenith_plugin_init; then attaches it: every batch published from then on runs it.
   Params: engine; wasm_bytes, wasm_len (in, borrowed for the call: copied); cfg (in, borrowed,
   nullable: defaults); reason, reason_cap (out, nullable: the reason of a failure, one line,
   NUL-terminated, truncated to reason_cap; also kept for zenith_plugin_last_error).
   Returns the plugin's id (>= 0: for unload, stats, result), or
     ZENITH_E_NULL: engine or wasm_bytes NULL, or wasm_len 0 (no reason kept);
     ZENITH_E_PLUGIN (-3): the module is malformed, invalid, or not a plugin (a missing or
       mistyped export, an import, no memory, ABI version, init refused or trapped, column names
       or results out of its memory);
     ZENITH_E_INVAL: a bad cfg field (struct_size, instances, max_rows, params_len, flags),
       or max_rows above the engine's selection area;
     ZENITH_E_UNSUPPORTED: the implementation was compiled without ZENITH_PLUGINS, or unknown
       non-zero fields beyond this layout;
     ZENITH_E_FULL: ZENITH_MAX_PLUGINS are attached;
     ZENITH_E_NOMEM: out of memory.
   On failure the engine is unchanged: nothing attached, nothing kept but the reason.
   Ownership: the engine owns the loaded plugin until zenith_unload_plugin or zenith_free.
   Thread safety: any thread, also while other threads publish and poll (a publish that runs
   at the same time may or may not see the new plugin); loads, unloads, stats and results of
   one engine are serialised among themselves (a short spin lock, never taken by publish or
   poll). Callback safety: yes: also from an Arrow release callback (the engine runs none while
   it holds a plugin instance or the administration flag).
   Allocates: the module, the instances' stores and memories, and at the first load the plugin
   table and the selection area. */
ZENITH_API int zenith_load_plugin_ex(ZenithEngine engine, const uint8_t *wasm_bytes, size_t wasm_len,
                                     const zenith_plugin_config *cfg, char *reason, size_t reason_cap);

/* The reason of the engine's last failed zenith_load_plugin(_ex) (ZENITH_E_NULL failures
   excluded), NUL-terminated and truncated to cap, into buf (nullable when cap is 0).
   Returns that failure's code (negative), or 0 if no load has failed (buf gets "").
   ZENITH_E_NULL if engine is NULL. Thread safety: any thread (serialised with loads).
   Callback safety: yes. */
ZENITH_API int zenith_plugin_last_error(ZenithEngine engine, char *buf, size_t cap);

/* Detaches a plugin and frees it: waits until no publish runs it (publishes that start
   afterwards do not), then destroys its instances. Its id becomes stale; selections it already
   made stay with their batches. Returns 0, ZENITH_E_NULL, ZENITH_E_STALE (no such plugin).
   Thread safety: any thread, also while others publish and poll. Callback safety: yes (a
   release callback that zenith_publish runs for a dropped batch runs after its instances are
   given back). */
ZENITH_API int zenith_unload_plugin(ZenithEngine engine, int plugin_id);

/* The plugin's counters into *out (set out->struct_size to sizeof *out or 0 first; the call
   writes at most that many bytes and sets it to the bytes written). Returns 0, ZENITH_E_NULL,
   ZENITH_E_STALE, ZENITH_E_INVAL (struct_size below 8). Any thread; a snapshot while others
   publish. Callback safety: yes. */
ZENITH_API int zenith_plugin_get_stats(ZenithEngine engine, int plugin_id, zenith_plugin_stats *out);

/* The plugin's result values (as its init declared: zp_init.nresults, .results, .result_ops),
   combined over its instances (sum, min or max each), into out[0 .. n). Each instance is read
   between two of its calls, so every value is one the plugin wrote after a whole batch.
   Returns the number of values the plugin has (0 .. ZENITH_PLUGIN_MAX_RESULTS; at most n of
   them written), ZENITH_E_NULL (engine NULL, or out NULL with n > 0), ZENITH_E_STALE.
   Thread safety: any thread, while others publish (it waits for each instance to be free).
   Callback safety: yes. */
ZENITH_API int zenith_plugin_result(ZenithEngine engine, int plugin_id, double *out, size_t n);

/* zenith_poll, plus the batch's selection: *selected (nullable) gets -1 when every row passes
   (no plugin selected rows), else the number of rows that pass; bits (nullable) gets the
   selection bitmap, bit i (LSB first, as Arrow validity) set when row i passes, rows counted
   from the array's offset, (length + 7) / 8 bytes, bits past length zero; bits is untouched
   when *selected is -1. zenith_poll itself leaves the selection out (a consumer of a filtered
   engine must use this call to see which rows passed).
   Returns 1 (a batch: out filled), 0 (none), ZENITH_E_NULL (engine or out NULL),
   ZENITH_E_RANGE (bits is not NULL and bits_cap is smaller than the next batch's selection:
   nothing taken; (max_rows + 7) / 8 bytes always suffice).
   Ownership: as zenith_poll (out's structs are the caller's); bits and selected are the
   caller's, written only on 1. Thread safety: any thread, concurrently; lock-free, no
   allocation. Callback safety: yes. */
ZENITH_API int zenith_poll_selection(ZenithEngine engine, zenith_batch *out, uint8_t *bits, size_t bits_cap,
                                     int64_t *selected);

/* Counters. Returns 0 or ZENITH_E_NULL. Any thread (a snapshot while others publish). */
ZENITH_API int zenith_engine_get_stats(ZenithEngine engine, zenith_engine_stats *out);

/* Releases every batch still queued (their callbacks run), then frees the engine. Batches
   already polled are the consumer's: release them before or after, with engine NULL after.
   NULL is a no-op. Thread safety: one thread, when no other thread uses the engine. */
ZENITH_API void zenith_engine_destroy(ZenithEngine engine);

/* The design's names (ARCHITECTURE.md: zenith_init / zenith_publish / zenith_load_plugin /
   zenith_free, and zenith_poll), kept for good: each is an alias that behaves identically to
   the zenith_engine_* call it names (same parameters, codes, ownership, thread safety). */
ZENITH_API ZenithEngine zenith_init(uint32_t capacity); /* = zenith_engine_create */
ZENITH_API int zenith_publish(ZenithEngine engine, struct ArrowArray *array, struct ArrowSchema *schema,
                              uint64_t source_id, uint64_t seq_no); /* = zenith_engine_publish */
ZENITH_API int zenith_poll(ZenithEngine engine, zenith_batch *out); /* = zenith_engine_poll */
ZENITH_API int zenith_load_plugin(ZenithEngine engine, const uint8_t *wasm_bytes,
                                  size_t wasm_len); /* = zenith_engine_load_plugin */
ZENITH_API void zenith_free(ZenithEngine engine);   /* = zenith_engine_destroy */

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

#include <dirent.h>
#include <errno.h>
#if defined(ZENITH_PLUGINS) && defined(__SSE2__)
#include <emmintrin.h> /* the plugins' host kernels */
#endif
#include <fcntl.h>
#include <stdio.h>
#include <limits.h>
#include <pthread.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/epoll.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <netinet/udp.h>
#include <net/if.h>
#include <sched.h>
#include <time.h>
#include <unistd.h>

#if defined(__GLIBC__) && !defined(__USE_MISC)
#error \
    "zenith.h: the implementation needs glibc's default/GNU declarations: #define _GNU_SOURCE before the first #include of this file, or include zenith.h with ZENITH_IMPLEMENTATION first"
#endif
/* <liburing.h> came in with the inline fast path above, which the implementation always has. */

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

/* ---- common helpers: sizes, configs, metadata memory, NUMA placement --------------------- */

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

static void zenith__meta_release(const zenith_allocator *a, void *ptr, size_t size, int mapped) {
    if (mapped)
        munmap(ptr, size);
    else
        zenith__meta_free(a, ptr, size);
}

/* ---- NUMA placement, by raw syscalls (zenith.h needs no libnuma) -------------------------- */

#define ZENITH__NUMA_MAX_NODES 1024
#define ZENITH__MPOL_BIND 2

/* Binds [addr, addr + len) to `node` (MPOL_BIND). Returns 1 bound, 0 nothing to bind (a kernel
   without NUMA and node 0, its one node), or a code: ZENITH_E_INVAL (no such node, or not
   allowed here), ZENITH_ESYS(e) (mbind refused, e.g. EPERM under a container profile). */
static int zenith__bind_node(void *addr, size_t len, int node) {
    unsigned long mask[ZENITH__NUMA_MAX_NODES / (8 * sizeof(unsigned long))];
    const size_t bits = 8 * sizeof(unsigned long);
    if (node < 0 || node >= ZENITH__NUMA_MAX_NODES) return ZENITH_E_INVAL;
    memset(mask, 0, sizeof mask);
    mask[(size_t)node / bits] = 1ul << ((size_t)node % bits);
    /* maxnode is one more than the bits passed: the kernel drops one (a historic off-by-one) */
    if (syscall(SYS_mbind, addr, len, ZENITH__MPOL_BIND, mask, (unsigned long)ZENITH__NUMA_MAX_NODES + 1u, 0u) == 0)
        return 1;
    if (errno == ENOSYS) return node == 0 ? 0 : ZENITH_E_INVAL;
    return errno == EINVAL ? ZENITH_E_INVAL : ZENITH_ESYS(errno);
}

/* The NUMA node of a CPU from sysfs (cpuN/nodeM), or -1 if the system does not say. */
static int zenith__cpu_node(uint32_t cpu) {
    char path[64];
    DIR *d;
    struct dirent *e;
    int node = -1;
    snprintf(path, sizeof path, "/sys/devices/system/cpu/cpu%u", (unsigned)cpu);
    if ((d = opendir(path)) == NULL) return -1;
    while ((e = readdir(d)) != NULL) {
        const char *n = e->d_name;
        if (n[0] == 'n' && n[1] == 'o' && n[2] == 'd' && n[3] == 'e' && n[4] >= '0' && n[4] <= '9') {
            node = atoi(n + 4);
            break;
        }
    }
    closedir(d);
    return node;
}

/* Memory for metadata: the allocator's, or with a node, a private mapping bound to it (malloc'd
   memory cannot be bound without binding its neighbours). *mapped tells which free to use. */
static void *zenith__meta_alloc_on(const zenith_allocator *a, size_t size, int node, int *mapped, int *code) {
    void *m;
    *mapped = 0;
    *code = 0;
    if (node < 0 || a->alloc) return a->alloc ? a->alloc(size, a->user) : ZENITH_MALLOC(size);
    m = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (m == MAP_FAILED) return NULL;
    if ((*code = zenith__bind_node(m, size, node)) < 0) {
        munmap(m, size);
        return NULL;
    }
    *code = 0;
    *mapped = 1;
    return m;
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

/* Reads a caller's extensible config (first field: uint32_t struct_size) into dst, the current
   layout of `cur` bytes; `v1` is the size of the first layout (what struct_size 0 means).
   Returns 0, ZENITH_E_INVAL (size out of range), ZENITH_E_UNSUPPORTED (non-zero fields this
   library does not know). */
static int zenith__config_in(void *dst, size_t cur, size_t v1, const void *src) {
    uint32_t size;
    size_t n, i;
    memset(dst, 0, cur);
    if (src == NULL) return 0;
    memcpy(&size, src, sizeof size);
    n = size ? size : v1;
    if (n < 8 || n > 4096) return ZENITH_E_INVAL;
    for (i = cur; i < n; i++)
        if (((const unsigned char *)src)[i]) return ZENITH_E_UNSUPPORTED;
    memcpy(dst, src, n < cur ? n : cur);
    return 0;
}

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
    int32_t numa_node; /* -1: none asked */
    int meta_mapped;   /* metadata is our own node-bound mapping, not the allocator's */
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
    out->numa_node = pool->numa_node;
    out->reserved_ = 0;
    return 0;
}

/* ---- buffer pool: create / destroy ----------------------------------------------------------- */

ZENITH_API zenith_pool *zenith_pool_create(const zenith_pool_config *cfg_in, int *err) {
    zenith_pool_config cfg;
    zenith_pool *p;
    size_t page = (size_t)sysconf(_SC_PAGESIZE), size, span, off_caches, off_state, off_single, off_mdata, mstride,
           total;
    uint32_t count, cache, batch, mags, i,
        known = ZENITH_POOL_HUGE_PAGES | ZENITH_POOL_HUGE_PAGES_REQUIRED | ZENITH_POOL_PREFAULT | ZENITH_POOL_NO_CACHE |
                ZENITH_POOL_NUMA_NODE;
    uint64_t inv, odd;
    unsigned char *raw, *meta, *slab;
    size_t map_size = 0;
    uint32_t info = 0;
    int node = -1, meta_mapped = 0, code = 0;

    if (err) *err = 0;
    if ((code = zenith__config_in(&cfg, sizeof cfg, sizeof cfg, cfg_in)) != 0) {
        zenith__fail(err, code);
        return NULL;
    }
    size = cfg.buffer_size ? cfg.buffer_size : 4096u;
    count = cfg.buffer_count ? cfg.buffer_count : 1024u;
    if (size % ZENITH__LINE || size > ZENITH__MAX_BUFFER_SIZE || count > (uint32_t)INT_MAX ||
        cfg.cache_size > ZENITH_POOL_MAX_CACHE || (cfg.flags & ~known) || cfg.reserved_ ||
        (!(cfg.flags & ZENITH_POOL_NUMA_NODE) && cfg.numa_node) ||
        ((cfg.flags & ZENITH_POOL_NUMA_NODE) &&
         (cfg.memory || cfg.numa_node < 0 || cfg.numa_node >= ZENITH__NUMA_MAX_NODES)) ||
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
    if (cfg.flags & ZENITH_POOL_NUMA_NODE) node = cfg.numa_node;
    raw = (unsigned char *)zenith__meta_alloc_on(&cfg.allocator, total, node, &meta_mapped, &code);
    if (raw == NULL) {
        zenith__fail(err, code ? code : ZENITH_E_NOMEM);
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
                zenith__meta_release(&cfg.allocator, raw, total, meta_mapped);
                return NULL;
            }
        }
        if (m == MAP_FAILED) {
            map_size = zenith__align_up(span, page);
            m = mmap(NULL, map_size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
            if (m == MAP_FAILED) {
                zenith__fail(err, ZENITH_ESYS(errno));
                zenith__meta_release(&cfg.allocator, raw, total, meta_mapped);
                return NULL;
            }
            if ((cfg.flags & ZENITH_POOL_HUGE_PAGES) && madvise(m, map_size, MADV_HUGEPAGE) == 0)
                info |= ZENITH_POOL_INFO_THP_ADVISED;
        }
        slab = (unsigned char *)m;
        if (node >= 0) { /* before the first touch */
            if ((code = zenith__bind_node(slab, map_size, node)) < 0) {
                munmap(slab, map_size);
                zenith__fail(err, code);
                zenith__meta_release(&cfg.allocator, raw, total, meta_mapped);
                return NULL;
            }
            if (code == 1) info |= ZENITH_POOL_INFO_NUMA_BOUND;
        }
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
    p->meta_mapped = meta_mapped;
    p->numa_node = node;
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
    zenith__meta_release(&a, pool->meta_raw, pool->meta_size, pool->meta_mapped);
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

    if (err) *err = 0;
    if ((rc = zenith__config_in(&cfg, sizeof cfg, sizeof cfg, cfg_in)) != 0) {
        zenith__fail(err, rc);
        return NULL;
    }
    sq = cfg.sq_entries ? cfg.sq_entries : 256u;
    cq = cfg.cq_entries ? cfg.cq_entries : 4u * sq;
    if (!zenith__is_pow2(sq) || sq > 32768u || !zenith__is_pow2(cq) || cq < 2u * sq || cq > 4u * sq ||
        (cfg.flags & ~known) || ((cfg.flags & ZENITH_RING_SQPOLL_CPU) && !(cfg.flags & ZENITH_RING_SQPOLL))) {
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

/* ---- ring: a pool's buffers as fixed buffers ------------------------------------------------- */

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

/* Creates the buffer ring and lends it up to `fill` (<= entries) pool buffers. */
static zenith_buf_ring *zenith__buf_ring_create_n(zenith_ring *ring, zenith_pool *pool, uint16_t group,
                                                  uint32_t entries, uint32_t fill, int *err) {
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
    for (i = 0; i < fill && i < entries; i++) {
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

ZENITH_API zenith_buf_ring *zenith_buf_ring_create(zenith_ring *ring, zenith_pool *pool, uint16_t group,
                                                   uint32_t entries, int *err) {
    return zenith__buf_ring_create_n(ring, pool, group, entries, entries, err);
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

/* The pool index of the buffer a completion carries (taken out of the ring), or ZENITH__NONE. */
static uint32_t zenith__buf_ring_claim_idx(zenith_buf_ring *br, uint32_t cqe_flags) {
    uint32_t idx;
    if (!(cqe_flags & IORING_CQE_F_BUFFER)) return ZENITH__NONE;
    idx = cqe_flags >> IORING_CQE_BUFFER_SHIFT;
    if (idx >= br->pool->count || !br->in_ring[idx]) return ZENITH__NONE;
    br->in_ring[idx] = 0;
    br->available--;
    return idx;
}

/* Puts pool buffer idx (owned by the caller) into the ring: 0, ZENITH_E_EXIST, ZENITH_E_FULL. */
static int zenith__buf_ring_give_idx(zenith_buf_ring *br, uint32_t idx) {
    if (br->in_ring[idx]) return ZENITH_E_EXIST;
    if (br->available == br->entries) return ZENITH_E_FULL;
    zenith__buf_ring_put(br, idx);
    return 0;
}

ZENITH_API void *zenith_buf_ring_claim(zenith_buf_ring *br, uint32_t cqe_flags) {
    uint32_t idx;
    if (br == NULL) return NULL;
    idx = zenith__buf_ring_claim_idx(br, cqe_flags);
    return idx == ZENITH__NONE ? NULL : zenith_pool_at(br->pool, idx);
}

ZENITH_API int zenith_buf_ring_give(zenith_buf_ring *br, void *buf) {
    int idx;
    if (br == NULL || buf == NULL) return ZENITH_E_NULL;
    idx = zenith_pool_index(br->pool, buf);
    if (idx < 0) return idx;
    return zenith__buf_ring_give_idx(br, (uint32_t)idx);
}

ZENITH_API uint32_t zenith_buf_ring_available(const zenith_buf_ring *br) { return br ? br->available : 0; }

/* ---- reactor: layout --------------------------------------------------------------------------

   One reactor (struct zenith_server) = one event backend = one thread. The common layer below
   owns the connection table, the per-buffer chains, the send reserve, the timer wheel and the
   post queue; everything it asks of the kernel about events goes through one ops table
   (zenith__backend, "the seam"): io_uring, or epoll where io_uring is refused or asked for.

   Connections (zenith__conn, one slot each, named by slot + generation) move through one state
   machine, and zenith__settle is the one place that moves them on and finishes them:

       FREE -> CONNECTING -(on_connect 0)-> OPEN -(close: flush)-> FLUSHING -> ENDING -> FREE
       FREE -> OPEN (accepted)                  \-(abort, error, EOF+half-close)--^
       CONNECTING -(refused, timeout, cancel)-> ENDING -> FREE (on_connect with the code)

   ENDING means "shutdown(2) done or connect cancelled: waiting for the kernel to give back
   what it holds" (an armed receive, a send, SEND_ZC notifications, the connect); once nothing
   is in flight the slot is freed and on_close (or on_connect with the failure) runs.

   Calls from the application (send, close, pause, resume, ...) never run a callback: they change
   state and put the connection on the dirty list, which the loop settles after the event that
   is being handled. So callbacks run one at a time and never nest.

   Per pool buffer: bnext/blen/boff chain it on at most one list -- a connection's send queue or
   its receive backlog (received, not yet delivered) -- as pool index + 1 (0 ends a chain);
   krefs counts kernel references that outlive a send's completion (SEND_ZC notifications). */

enum zenith__conn_state {
    ZENITH__S_FREE = 0,
    ZENITH__S_CONNECTING, /* outbound connect in flight */
    ZENITH__S_OPEN,
    ZENITH__S_FLUSHING, /* closing: sending what is queued; nothing is delivered any more */
    ZENITH__S_ENDING    /* shut down: waiting for in-flight kernel operations, then freed */
};
enum {                                  /* zenith__conn.flags */
       ZENITH__C_OPENED = 1u << 0,      /* accepted, or connected (on_close owed, not on_connect) */
       ZENITH__C_PEER_EOF = 1u << 1,    /* the peer shut down its side */
       ZENITH__C_EOF_SEEN = 1u << 2,    /* ... and the application was told (or the close began) */
       ZENITH__C_WANT_WR = 1u << 3,     /* ZENITH_CLOSE_WRITE asked: shut our side once sent */
       ZENITH__C_WR_SHUT = 1u << 4,     /* shutdown(SHUT_WR) done */
       ZENITH__C_NEED_DRAIN = 1u << 5,  /* on_drain owed (a refused send, or the queue reached max) */
       ZENITH__C_BUF_WAIT = 1u << 6,    /* a copying send found no buffer: waiting for the reserve */
       ZENITH__C_LOOPBACK = 1u << 7,    /* loopback: SEND_ZC only costs there (measured) */
       ZENITH__C_CANCELING = 1u << 8,   /* a receive cancel is in flight */
       ZENITH__C_CONNECTING = 1u << 9,  /* the connect operation is in flight */
       ZENITH__C_CONN_CANCEL = 1u << 10 /* the connect was cancelled (timeout, close, shutdown) */
};
enum {                            /* zenith__conn.pause: why reading is paused (any bit) */
       ZENITH__P_QUEUE = 1u << 0, /* the send queue reached send_queue_max */
       ZENITH__P_FULL = 1u << 1,  /* a send returned ZENITH_E_FULL: until on_drain */
       ZENITH__P_USER = 1u << 2   /* zenith_server_pause */
};
enum {                             /* zenith__conn.lists: list memberships, kept across slot reuse */
       ZENITH__L_DIRTY = 1u << 0,  /* on the dirty list (dnext) */
       ZENITH__L_PARKED = 1u << 1, /* on the parked list (pnext): receive waits for ring buffers */
       ZENITH__L_WAIT = 1u << 2,   /* on the reserve-wait list (wnext) */
       ZENITH__L_READY = 1u << 3   /* epoll: on the ready list (rnext) */
};

typedef struct zenith__chain {
    uint32_t head, tail; /* pool index + 1; 0 = empty */
} zenith__chain;

typedef struct zenith__conn {
    int fd;
    uint32_t gen;                 /* generation of the live id; bumped when the slot is freed */
    uint8_t state;                /* enum zenith__conn_state */
    uint8_t pause;                /* ZENITH__P_* */
    uint8_t send_inflight;        /* queue buffers the send in flight covers (0 = none) */
    uint8_t recv_armed;           /* a (multishot) receive is armed */
    uint16_t flags;               /* ZENITH__C_* */
    uint8_t lists;                /* ZENITH__L_* */
    uint8_t bflags;               /* the backend's own (epoll: ZENITH__E_*) */
    int status;                   /* close reason, or the connect outcome owed */
    uint32_t zc_pending;          /* SEND_ZC notifications outstanding */
    zenith__chain sq;             /* send queue */
    zenith__chain rb;             /* receive backlog: received, not yet delivered, in order */
    uint32_t queued;              /* bytes queued, in flight included */
    uint32_t next;                /* free list: slot + 1 */
    uint32_t dnext, pnext, wnext; /* dirty, parked, reserve-wait lists: slot + 1 */
    uint32_t last_active;         /* ms tick of the last delivery (idle timeout) */
    uint32_t rnext;               /* epoll: the ready list (slot + 1) */
    int32_t berr;                 /* epoll: an errno to report from the loop (ZENITH__E_ERR, _CDONE) */
    void *user;
    zenith_connect_fn on_connect;
} zenith__conn;

/* A timer: 40 bytes. next/prev link it into a circular list through a wheel slot's sentinel
   (node numbers). A 32-bit generation makes a stale id stale for ever in practice (a 16-bit one,
   packed to fit 32 bytes, came back to life after 65,535 reuses of a slot: a few ms of
   add+cancel). */
typedef struct zenith__tnode {
    zenith_timer_fn fn; /* user timers: NULL when free */
    void *user;
    uint32_t next, prev;
    uint32_t expires; /* ms tick of the deadline */
    uint32_t period;  /* ms; 0 = one-shot */
    uint32_t gen;     /* generation of the id (never 0) */
    uint32_t reserved_;
} zenith__tnode;

#define ZENITH__WHEEL_BITS 6u
#define ZENITH__WHEEL_SLOTS 64u
#define ZENITH__WHEEL_LEVELS 5u /* 30 bits of ms: ZENITH_TIMER_MAX_MS */
#define ZENITH__T_SENTINELS (ZENITH__WHEEL_SLOTS * ZENITH__WHEEL_LEVELS)
#define ZENITH__T_FIRING ZENITH__T_SENTINELS /* sentinel of the list being fired */
#define ZENITH__T_FIRST (ZENITH__T_FIRING + 1u)
#define ZENITH__MAX_LISTENERS 16u

/* One posted message: 64 bytes, one cache line. */
typedef struct zenith__post_cell {
    uint32_t seq; /* Vyukov: pos when free for the producer of pos, pos + 1 once written */
    uint32_t len;
    zenith_post_fn fn;
    unsigned char data[ZENITH_POST_MAX]; /* 16-byte aligned */
    void *user;
} zenith__post_cell;

typedef struct zenith__listener {
    int fd;
    uint16_t port;
    uint8_t armed;
    uint8_t reserved_;
} zenith__listener;

/* ---- reactor: UDP sockets (state) ------------------------------------------------------------------

   A UDP socket (zenith__udp, one slot each, named by slot + generation like a connection):
   FREE -> OPEN -(zenith_udp_close)-> CLOSING -> FREE. CLOSING delivers nothing more, sends what
   is queued, waits for an armed receive to end (io_uring: its cancel), then closes the fd.

   Sends are a ring of udp_queue entries per socket (zenith__udp_tx, 160 bytes, in the server's
   block: nothing is allocated after create): each one datagram (or one GSO send), its msghdr, its destination, its
   buffers (a chain through the per-buffer bnext, as pool index + 1) and the UDP_SEGMENT control
   message. [qhead, qtail) waits to be sent; the loop sends it with sendmmsg(2) on both backends
   (see "UDP sockets (common" for why not linked SENDMSGs on io_uring). Receives use the
   reactor's receive buffers: the provided-buffer ring on io_uring (its recvmsg header, name and
   control data at the start of the buffer: ZENITH_UDP_RECV_HEADROOM), recvmmsg into pool
   buffers on epoll (the payload at the start, the same capacity). */

enum zenith__udp_state { ZENITH__U_FREE = 0, ZENITH__U_OPEN, ZENITH__U_CLOSING };
enum {                                /* zenith__udp.flags */
       ZENITH__U_CONNECTED = 1u << 0, /* connect(2)ed to the peer */
       ZENITH__U_V6 = 1u << 1,        /* AF_INET6 */
       ZENITH__U_GRO = 1u << 2,       /* UDP_GRO on */
       ZENITH__U_GSO = 1u << 3,       /* UDP_SEGMENT works */
       ZENITH__U_TS = 1u << 4,        /* software receive timestamps on */
       ZENITH__U_HWTS = 1u << 5,      /* hardware receive timestamps asked for and accepted */
       ZENITH__U_RD = 1u << 6,        /* epoll: may have data (an edge came; no EAGAIN since) */
       ZENITH__U_WBLOCK = 1u << 7,    /* epoll: a send found the socket full: wait for EPOLLOUT */
       ZENITH__U_NEED_WR = 1u << 8,   /* a send was refused (ZENITH_E_FULL): on_writable owed */
       ZENITH__U_POLLING = 1u << 9,   /* io_uring: a POLLOUT poll is armed (the socket was full) */
       ZENITH__U_REG = 1u << 10,      /* epoll: in the set */
       ZENITH__U_CANCELING = 1u << 11 /* io_uring: the receive's cancel is in flight */
};
enum { ZENITH__UL_DIRTY = 1u, ZENITH__UL_PARKED = 2u, ZENITH__UL_READY = 4u }; /* zenith__udp.lists */
#define ZENITH__UDP_NAME 32u     /* sender address room in a receive buffer (sockaddr_in6: 28) */
#define ZENITH__UDP_CTL 128u     /* control data room: SCM_TIMESTAMPING 64 + SO_RXQ_OVFL 20 + UDP_GRO 20 */
#define ZENITH__UDP_MEMB 20u     /* memberships per socket */
#define ZENITH__UDP_BATCH 64u    /* datagrams per recvmmsg / sendmmsg / linked chain */
#define ZENITH__UDP_MAX_BUFS 16u /* pool buffers per queued datagram */
#define ZENITH__UDP_SENDS 4u     /* sendmmsg calls per socket per settle */

typedef struct zenith__udp_tx {
    struct msghdr msg;
    struct iovec iov[2]; /* a datagram of up to two buffers; more: iovecs in buffer iovbuf */
    zenith_addr to;      /* the destination (msg.msg_name), unless connected */
    uint32_t head;       /* its buffers: pool index + 1, chained by bnext (0: none, an empty datagram) */
    uint32_t iovbuf;     /* pool index + 1 of the buffer holding the iovecs (0: inline) */
    uint32_t len;        /* bytes */
    uint16_t nseg;       /* datagrams on the wire (UDP_SEGMENT), else 1 */
    uint8_t reserved_;
    uint8_t retried; /* resent once after a connected socket's pending ECONNREFUSED */
    union {
        size_t align; /* a cmsghdr's alignment (it ends in a flexible array: no member of its type) */
        unsigned char b[CMSG_SPACE(sizeof(uint16_t))]; /* UDP_SEGMENT */
    } ctl;
} zenith__udp_tx;

typedef struct zenith__udp_memb {
    uint32_t ifindex;
    uint8_t ssm; /* source-specific */
    uint8_t reserved_[3];
    uint8_t group[16], source[16];
} zenith__udp_memb;

typedef struct zenith__udp {
    int fd;
    uint32_t gen; /* generation of the live id; bumped when the slot is freed */
    uint8_t state;
    uint8_t recv_armed; /* io_uring: a multishot recvmsg is armed; epoll: reading is on */
    uint8_t lists;      /* ZENITH__UL_*: kept across slot reuse */
    uint8_t nmemb;
    uint32_t flags;                     /* ZENITH__U_* */
    uint32_t next, dnext, pnext, rnext; /* free list, dirty, parked, ready (epoll): slot + 1 */
    uint32_t qmask, qhead, qtail;
    zenith__udp_tx *tx; /* udp_queue entries, then the memberships: one allocation */
    zenith__udp_memb *memb;
    struct msghdr rmsg; /* io_uring: the multishot recvmsg's layout (name and control lengths) */
    zenith_udp_recv_fn on_recv;
    zenith_udp_writable_fn on_writable;
    void *user;
    zenith_addr local, peer;
    uint64_t datagrams_in, bytes_in, datagrams_out, bytes_out, truncated, gro_batches, gso_sends;
    uint64_t recv_stalls, recv_errors, send_full, send_errors;
    int32_t last_error;
} zenith__udp;

struct zenith__backend;

struct zenith_server {
    zenith_server_config cfg;
    const struct zenith__backend *be;
    int be_ready;     /* the backend's init succeeded (fini owed) */
    int be_reason;    /* enum zenith_backend_reason */
    int uring_code;   /* fallback: the code io_uring's init failed with */
    int uring_errno;  /* fallback: how io_uring_setup was refused, or the errno of what failed */
    int uring_sysctl; /* fallback: kernel.io_uring_disabled then */
    char be_why[160];
    char address[64];
    zenith_pool *pool;
    zenith_ring *ring;
    zenith_buf_ring *br;
    int wake_fd;
    /* the epoll backend */
    int ep_fd;
    int ep_hold;      /* sends wait: a read is handing its buffers out (one sendmsg after it) */
    int ep_no_pwait2; /* epoll_pwait2 refused (ENOSYS, seccomp): epoll_wait, ms rounded up */
    uint32_t ep_lent; /* received buffers not given back yet (at most recv_buffers, as the ring) */
    uint32_t ready_head, ready_tail;
    uint32_t ep_spare_n;
    uint32_t ep_spare[8]; /* pool buffers taken for reads and not filled: the next read's */
    void *block_raw;      /* the allocation this 64-byte aligned block lies in */
    int block_mapped;     /* this block is a node-bound mapping (else ZENITH_MALLOC) */
    size_t block_size;
    int started, in_data, kept, shutting_down;
    int in_cb;     /* callbacks on the stack (0 or 1): the re-entrancy guard */
    int stop_flag; /* written by zenith_server_stop on any thread: atomics only */
    uint64_t wake_value;
    zenith_accept_fn on_accept;
    zenith_data_fn on_data;
    zenith_close_fn on_close;
    zenith_drain_fn on_drain;
    zenith_eof_fn on_eof;
    void *user_data;
    zenith__listener lst[ZENITH__MAX_LISTENERS];
    uint32_t listeners;
    /* UDP sockets */
    zenith__udp *udp;
    uint32_t max_udp, udp_free_head, udp_live, udp_need_wr;
    uint32_t udp_dirty_head, udp_dirty_tail, udp_parked_head, udp_parked_tail, udp_ready_head, udp_ready_tail;
    int udp_in, udp_kept, udp_kept_buf, udp_cur_seg; /* on_recv: the datagram being delivered */
    int udp_retry; /* sends left over (a settle's share sent, a full SQ): again before the next wait */
    uint32_t udp_cur_idx, udp_cur_len;
    const uint8_t *udp_cur_data;
    uint32_t udp_spare_n;
    uint32_t udp_spare[ZENITH__UDP_BATCH]; /* epoll: buffers taken for the next recvmmsg */
    zenith__conn *conns;
    zenith_conn_id closing_id; /* the connection on_close (or a failed on_connect) is about */
    void *closing_user;
    uint32_t max_conns, free_head;
    uint32_t dirty_head, dirty_tail, parked_head, parked_tail, wait_head, wait_tail;
    uint32_t ring_short; /* buffers owed to the provided-buffer ring (the application kept them) */
    uint64_t queue_hard; /* 2 x send_queue_max: the E_FULL line */
    uint32_t cur_idx;    /* the buffer on_data is looking at */
    /* the send reserve: pool buffers receives never take */
    uint32_t *reserve, reserve_n, reserve_cap, reserve_low, reserve_high;
    int holding; /* deliveries held: the reserve fell below reserve_low, until reserve_high */
    /* per pool buffer */
    uint32_t *bnext, *blen, *boff;
    unsigned char *krefs;
    /* timers: nodes [0, T_SENTINELS) wheel-slot sentinels, T_FIRING, then user timers, then one
       per connection (idle and connect timeouts), then one for accept retries */
    zenith__tnode *tn;
    uint32_t tn_conn, tn_retry, tn_total, tfree_head, timers_armed, timers_linked;
    uint32_t wheel_now; /* the next tick to process */
    uint64_t occupied[ZENITH__WHEEL_LEVELS];
    uint64_t epoch_ns;                                             /* CLOCK_MONOTONIC at create: tick 0 */
    uint64_t clock_ns;                                             /* the last real reading, ns since the epoch */
    uint64_t tsc_base, tsc_ref, tsc_mult, tsc_limit, tsc_cal_next; /* see "reactor: the clock" */
    int tsc_ok;
    uint32_t now_ms; /* tick at the last clock read of the loop */
    /* the post queue (producers: any thread) */
    zenith__post_cell *cells;
    uint32_t post_mask, post_head;
    __attribute__((aligned(64))) uint32_t post_tail;
    __attribute__((aligned(64))) int wake_pending;
    uint64_t posts_refused, wakeups; /* atomics: written by producers */
    __attribute__((aligned(64))) zenith_server_stats st;
    zenith_reactor_stats rst;
};

/* user_data of an SQE: op (8 bits) | slot (24 bits) | tag (32 bits). The tag is the
   connection's generation (RECV, CONNECT: an older generation's completion is stale) or a pool
   index (SEND: the buffer sent; SENDMSG: the msghdr buffer). For ACCEPT the slot is the
   listener. */
#define ZENITH__UD(op, slot, tag) (((uint64_t)(tag) << 32) | ((uint64_t)(slot) << 8) | (uint64_t)(op))
#define ZENITH__UD_OP(ud) ((unsigned)((ud)&0xffu))
#define ZENITH__UD_SLOT(ud) ((uint32_t)((ud) >> 8) & 0xffffffu)
#define ZENITH__UD_TAG(ud) ((uint32_t)((ud) >> 32))

/* The seam: everything the loop asks of the event backend. Buffers are pool indices. */
typedef struct zenith__backend {
    const char *name;
    int (*init)(zenith_server *s);                          /* after the pool: ring, buffer ring */
    void (*fini)(zenith_server *s);                         /* cancels what is in flight, frees */
    int (*start)(zenith_server *s);                         /* on the loop thread: wake-up reads */
    void (*listen_arm)(zenith_server *s, uint32_t li);      /* start accepting on listener li */
    void (*recv_arm)(zenith_server *s, zenith__conn *c);    /* start receiving (pool buffers) */
    void (*recv_cancel)(zenith_server *s, zenith__conn *c); /* stop receiving (pause) */
    uint32_t (*recv_room)(zenith_server *s);                /* buffers receives can take now */
    void (*recv_done)(zenith_server *s, uint32_t idx);      /* a received buffer is free again */
    void (*recv_kept)(zenith_server *s);                    /* one was kept by the application */
    void (*buf_put)(zenith_server *s, uint32_t idx);        /* a free buffer: where it helps */
    void (*send_kick)(zenith_server *s, zenith__conn *c);   /* send the queue if nothing is in flight */
    int (*connect_start)(zenith_server *s, zenith__conn *c, const struct sockaddr *sa, socklen_t len);
    void (*connect_cancel)(zenith_server *s, zenith__conn *c);
    void (*shut)(zenith_server *s, zenith__conn *c, int how); /* shutdown(2) */
    void (*prepare)(zenith_server *s);                        /* before waiting: refill, unpark */
    int (*wait)(zenith_server *s, int64_t timeout_ns);        /* wait (<0: no limit), dispatch events */
    /* settle wants the queue sent now (send_kick: an API call queued data). epoll sends here,
       from the loop, never inside an API call: a failure is reported from the loop too */
    void (*send_now)(zenith_server *s, zenith__conn *c);
    void (*listen_stop)(zenith_server *s, uint32_t li); /* before the listener is closed */
    int sock_flags;                                     /* for socket(2) and accept4(2): SOCK_NONBLOCK on epoll */
    /* UDP sockets */
    int (*udp_open)(zenith_server *s, zenith__udp *u);     /* a new socket (epoll: joins the set) */
    void (*udp_close)(zenith_server *s, zenith__udp *u);   /* before its fd is closed */
    void (*udp_arm)(zenith_server *s, zenith__udp *u);     /* start receiving */
    void (*udp_cancel)(zenith_server *s, zenith__udp *u);  /* stop receiving (close) */
    void (*udp_wait_wr)(zenith_server *s, zenith__udp *u); /* the socket is full: mark it when writable */
    void (*udp_done)(zenith_server *s, uint32_t idx);      /* a received buffer is free again */
} zenith__backend;

/* ---- reactor: small helpers ------------------------------------------------------------------ */

static uint64_t zenith__mono_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

/* ---- reactor: the clock ----------------------------------------------------------------------
   The loop reads CLOCK_MONOTONIC (vDSO, ~30 ns here) when it needs the time. Starting a timer
   needs "now" too (a timer must never fire early), and that read was most of what a timer start
   cost. Where the kernel itself keeps time with the TSC (current_clocksource "tsc": invariant,
   synchronised across CPUs), a start within 1 ms of the last real reading is timed from it plus
   the TSC ticks since, scaled by a rate measured against CLOCK_MONOTONIC and rounded up (0.4 %
   and 2 us of margin): never below the true time, at most a few us above it. Otherwise, and
   with ZENITH_NO_TSC, every start reads the clock. */
#if defined(__x86_64__) && !defined(ZENITH_NO_TSC)
#define ZENITH__HAVE_TSC 1
static uint64_t zenith__rdtsc(void) {
    uint32_t lo, hi;
    __asm__ __volatile__("rdtsc" : "=a"(lo), "=d"(hi));
    return ((uint64_t)hi << 32) | lo;
}
#endif

/* Whether the kernel's clocksource is the TSC (then so may we). */
static int zenith__tsc_trusted(void) {
#ifdef ZENITH__HAVE_TSC
    char buf[16];
    ssize_t n;
    int fd = open("/sys/devices/system/clocksource/clocksource0/current_clocksource", O_RDONLY | O_CLOEXEC);
    if (fd < 0) return 0;
    n = read(fd, buf, sizeof buf - 1u);
    close(fd);
    return n >= 3 && memcmp(buf, "tsc", 3) == 0 && (n == 3 || buf[3] == '\n');
#else
    return 0;
#endif
}

/* A real reading: ns since the reactor's epoch (also the new base for TSC estimates). */
static uint64_t zenith__clock_read(zenith_server *s) {
#ifdef ZENITH__HAVE_TSC
    uint64_t tsc = s->tsc_ok ? zenith__rdtsc() : 0; /* before the clock: the pair never over-counts */
#endif
    uint64_t ns = zenith__mono_ns() - s->epoch_ns;
    s->clock_ns = ns;
#ifdef ZENITH__HAVE_TSC
    if (s->tsc_ok) {
        s->tsc_ref = tsc;
        if (ns >= s->tsc_cal_next && tsc > s->tsc_base) { /* rate over the whole life: ns per tick, rounded up */
            double rate = (double)ns / (double)(tsc - s->tsc_base);
            s->tsc_mult = (uint64_t)(rate * 4294967296.0 * (1.0 + 1.0 / 256.0)) + 1u;
            s->tsc_limit = (uint64_t)(1000000.0 / rate); /* ticks in 1 ms */
            s->tsc_cal_next = ns < 60000000000ull ? 2u * ns : ns + 60000000000ull;
        }
    }
#endif
    return ns;
}

/* Now, in ns since the epoch, never below the true time (see above). */
static uint64_t zenith__clock_upper(zenith_server *s) {
#ifdef ZENITH__HAVE_TSC
    if (s->tsc_mult) {
        uint64_t d = zenith__rdtsc() - s->tsc_ref; /* huge if the TSC went backwards: then read */
        if (d < s->tsc_limit) return s->clock_ns + ((d * s->tsc_mult) >> 32) + 2000u;
    }
#endif
    return zenith__clock_read(s);
}

/* The ms tick now (floor), relative to the reactor's epoch: a real reading. */
static uint32_t zenith__tick_now(zenith_server *s) { return (uint32_t)(zenith__clock_read(s) / 1000000u); }

static zenith_conn_id zenith__conn_id(const zenith_server *s, const zenith__conn *c) {
    return ((zenith_conn_id)c->gen << 32) | (zenith_conn_id)(uint32_t)(c - s->conns);
}

static uint32_t zenith__slot(const zenith_server *s, const zenith__conn *c) { return (uint32_t)(c - s->conns); }

/* The live connection an id names (connecting or open), or NULL (stale, closing, unknown). */
static zenith__conn *zenith__conn_of(zenith_server *s, zenith_conn_id id) {
    uint32_t slot = (uint32_t)id;
    zenith__conn *c;
    if (s == NULL || slot >= s->max_conns) return NULL;
    c = &s->conns[slot];
    if (c->gen != (uint32_t)(id >> 32)) return NULL;
    return (c->state == ZENITH__S_OPEN || c->state == ZENITH__S_CONNECTING) ? c : NULL;
}

static void *zenith__buf(const zenith_server *s, uint32_t idx) { return zenith_pool_at(s->pool, idx); }

/* The re-entrancy guard: a call that is not allowed inside a callback. */
static int zenith__refuse_in_cb(zenith_server *s) {
    if (!s->in_cb) return 0;
    s->rst.misuse_refused++;
    return 1;
}

/* Appends buffer idx (len bytes) to a chain. */
static void zenith__chain_push(zenith_server *s, zenith__chain *ch, uint32_t idx, uint32_t len) {
    s->blen[idx] = len;
    s->boff[idx] = 0;
    s->bnext[idx] = 0;
    if (ch->tail)
        s->bnext[ch->tail - 1u] = idx + 1u;
    else
        ch->head = idx + 1u;
    ch->tail = idx + 1u;
}

/* Takes the first buffer off a chain (which must not be empty); returns its index. */
static uint32_t zenith__chain_pop(zenith_server *s, zenith__chain *ch) {
    uint32_t idx = ch->head - 1u;
    ch->head = s->bnext[idx];
    if (ch->head == 0) ch->tail = 0;
    return idx;
}

/* Intrusive FIFO lists of connections (dirty, parked, reserve-wait), linked by slot + 1. */
#define ZENITH__LIST_PUSH(s, headf, tailf, linkf, c)        \
    do {                                                    \
        uint32_t zenith__sl = zenith__slot((s), (c)) + 1u;  \
        (c)->linkf = 0;                                     \
        if ((s)->tailf)                                     \
            (s)->conns[(s)->tailf - 1u].linkf = zenith__sl; \
        else                                                \
            (s)->headf = zenith__sl;                        \
        (s)->tailf = zenith__sl;                            \
    } while (0)

static zenith__conn *zenith__list_pop(zenith_server *s, uint32_t *head, uint32_t *tail, size_t link_off) {
    zenith__conn *c;
    if (*head == 0) return NULL;
    c = &s->conns[*head - 1u];
    memcpy(head, (unsigned char *)c + link_off, sizeof *head);
    if (*head == 0) *tail = 0;
    return c;
}

/* Puts a connection on the dirty list: the loop settles it after the current event. */
static void zenith__mark(zenith_server *s, zenith__conn *c) {
    if (c->lists & ZENITH__L_DIRTY) return;
    c->lists |= ZENITH__L_DIRTY;
    ZENITH__LIST_PUSH(s, dirty_head, dirty_tail, dnext, c);
}

static void zenith__park(zenith_server *s, zenith__conn *c) {
    if (c->lists & ZENITH__L_PARKED) return;
    c->lists |= ZENITH__L_PARKED;
    ZENITH__LIST_PUSH(s, parked_head, parked_tail, pnext, c);
}

static void zenith__wait_reserve(zenith_server *s, zenith__conn *c) {
    if (c->lists & ZENITH__L_WAIT) return;
    c->lists |= ZENITH__L_WAIT;
    ZENITH__LIST_PUSH(s, wait_head, wait_tail, wnext, c);
}

/* Whether a connected socket's local address is loopback (127/8, ::1, v4-mapped 127/8). */
static int zenith__is_loopback(int fd) {
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    if (getsockname(fd, (struct sockaddr *)&ss, &len) != 0) return 0;
    if (ss.ss_family == AF_INET) return (ntohl(((struct sockaddr_in *)(void *)&ss)->sin_addr.s_addr) >> 24) == 127u;
    if (ss.ss_family == AF_INET6) {
        const struct in6_addr *a = &((struct sockaddr_in6 *)(void *)&ss)->sin6_addr;
        return IN6_IS_ADDR_LOOPBACK(a) || (IN6_IS_ADDR_V4MAPPED(a) && a->s6_addr[12] == 127u);
    }
    return 0;
}

static int zenith__parse_addr(const char *a, uint16_t port, struct sockaddr_storage *ss, socklen_t *len) {
    struct sockaddr_in *v4 = (struct sockaddr_in *)(void *)ss;
    struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)(void *)ss;
    memset(ss, 0, sizeof *ss);
    if (a == NULL) return ZENITH_E_INVAL;
    if (inet_pton(AF_INET, a, &v4->sin_addr) == 1) {
        v4->sin_family = AF_INET;
        v4->sin_port = htons(port);
        *len = sizeof *v4;
        return 0;
    }
    if (inet_pton(AF_INET6, a, &v6->sin6_addr) == 1) {
        v6->sin6_family = AF_INET6;
        v6->sin6_port = htons(port);
        *len = sizeof *v6;
        return 0;
    }
    return ZENITH_E_INVAL;
}

/* ---- reactor: the send reserve ------------------------------------------------------------------

   Receives and copying sends draw on one pool. The provided-buffer ring would take the pool down
   to empty under load, and a copying send would then fail with no way to recover. So a reserve
   of send_reserve buffers is held apart: receives never take from it; copying sends take from
   the pool first and from the reserve when the pool is empty; a freed buffer refills the
   reserve before anything else. While the reserve is below a quarter, no data is delivered (it
   waits, in order, in each connection's backlog; the ring then runs dry and receiving pauses:
   the kernel's ENOBUFS flow control), until it is back above half. So an on_data that replies
   with at most what it received always finds a buffer. */

static void zenith__reserve_update(zenith_server *s) {
    if (!s->reserve_cap) return; /* no reserve (every buffer lent to receives): nothing is held */
    if (!s->holding && s->reserve_n < s->reserve_low) {
        s->holding = 1;
    } else if (s->holding && s->reserve_n >= s->reserve_high) {
        zenith__conn *c;
        s->holding = 0;
        while ((c = zenith__list_pop(s, &s->wait_head, &s->wait_tail, offsetof(zenith__conn, wnext))) != NULL) {
            c->lists &= (uint8_t)~ZENITH__L_WAIT;
            c->flags &= (uint16_t)~ZENITH__C_BUF_WAIT;
            zenith__mark(s, c);
        }
    }
}

/* A buffer the reactor is done with: the reserve first, then where the backend wants it. */
static void zenith__buf_free(zenith_server *s, uint32_t idx) {
    if (s->reserve_n < s->reserve_cap) {
        s->reserve[s->reserve_n++] = idx;
        if (s->holding) zenith__reserve_update(s);
        return;
    }
    s->be->buf_put(s, idx);
}

/* Tops the reserve up from the pool (buffers the application released on other threads). */
static void zenith__reserve_refill(zenith_server *s) {
    while (s->reserve_n < s->reserve_cap) {
        void *b = zenith_pool_acquire(s->pool);
        if (b == NULL) break;
        s->reserve[s->reserve_n++] = (uint32_t)zenith_pool_index(s->pool, b);
    }
    zenith__reserve_update(s);
}

/* n buffers for a copy, all or nothing: the pool first, then the reserve. */
static int zenith__take_bufs(zenith_server *s, uint32_t *idx, unsigned n) {
    void *bufs[64];
    unsigned got = 0, i;
    if (zenith_pool_acquire_bulk(s->pool, bufs, n) == (int)n) {
        for (i = 0; i < n; i++) idx[i] = (uint32_t)zenith_pool_index(s->pool, bufs[i]);
        return 1;
    }
    while (got < n) {
        void *b = zenith_pool_acquire(s->pool);
        if (b != NULL)
            idx[got++] = (uint32_t)zenith_pool_index(s->pool, b);
        else if (s->reserve_n)
            idx[got++] = s->reserve[--s->reserve_n];
        else
            break;
    }
    if (got < n) {
        while (got) zenith__buf_free(s, idx[--got]);
        return 0;
    }
    zenith__reserve_update(s);
    return 1;
}

/* ---- reactor: timers ------------------------------------------------------------------------------

   A hierarchical timing wheel (Varghese & Lauck; the shape of Linux's pre-4.8 timer wheel): five
   levels of 64 slots over millisecond ticks. A timer due in delta ticks sits at level
   floor(log64(delta)), in the slot its deadline's bits of that level name; when the wheel's tick
   reaches the start of a level-L slot's range, that slot's timers move down (each timer moves at
   most four times). Add and stop are O(1) list operations; a per-level occupancy bitmap finds
   the next tick at which anything happens, so idle stretches are skipped in one step and the
   loop arms one kernel timeout (the wait's own timeout: no SQE, no system call per timer) for
   it. Deadlines round up to the next tick, so a timer never fires early. */

/* Retires a user timer's id: the next one from this node is different, and never 0. */
static void zenith__tn_retire(zenith__tnode *n) { n->gen = n->gen + 1u ? n->gen + 1u : 1u; }
/* A node is linked when its links point somewhere else than itself. */
static int zenith__tn_linked(const zenith_server *s, uint32_t i) { return s->tn[i].next != i; }

static void zenith__tn_unlink(zenith_server *s, uint32_t i) {
    zenith__tnode *n = &s->tn[i];
    uint32_t nx = n->next, pv = n->prev;
    s->tn[pv].next = nx;
    s->tn[nx].prev = pv;
    n->next = i;
    n->prev = i;
    if (nx == pv && nx < ZENITH__T_SENTINELS) /* the slot is empty now */
        s->occupied[nx / ZENITH__WHEEL_SLOTS] &= ~((uint64_t)1 << (nx % ZENITH__WHEEL_SLOTS));
    s->timers_linked--;
}

/* Links node i before sentinel `head` (at the tail of its list). */
static void zenith__tn_link(zenith_server *s, uint32_t head, uint32_t i) {
    zenith__tnode *h = &s->tn[head], *n = &s->tn[i];
    uint32_t last = h->prev;
    n->next = head;
    n->prev = last;
    s->tn[last].next = i;
    h->prev = i;
    s->timers_linked++;
}

/* Files node i (expires set) in its wheel slot. */
static void zenith__wheel_add(zenith_server *s, uint32_t i) {
    uint32_t e = s->tn[i].expires, delta, level, slot;
    /* an empty wheel may have stood still (the loop reads no clock without timers): catch up
       first, so levels are chosen from the present */
    if (!s->timers_linked && (int32_t)(s->now_ms + 1u - s->wheel_now) > 0) s->wheel_now = s->now_ms + 1u;
    if ((int32_t)(e - s->wheel_now) < 0) e = s->tn[i].expires = s->wheel_now; /* due: the next tick */
    delta = e - s->wheel_now;
    level = delta ? (31u - (uint32_t)__builtin_clz(delta)) / ZENITH__WHEEL_BITS : 0u;
    if (level >= ZENITH__WHEEL_LEVELS) level = ZENITH__WHEEL_LEVELS - 1u; /* cannot happen: delay < 2^30 */
    slot = (e >> (level * ZENITH__WHEEL_BITS)) & (ZENITH__WHEEL_SLOTS - 1u);
    zenith__tn_link(s, level * ZENITH__WHEEL_SLOTS + slot, i);
    s->occupied[level] |= (uint64_t)1 << slot;
}

/* The ms tick at which the deadline now + delay_ms falls, rounded up (never early). */
static uint32_t zenith__deadline(zenith_server *s, uint32_t delay_ms) {
    uint64_t t = zenith__clock_upper(s) + (uint64_t)delay_ms * 1000000u;
    uint32_t known = (uint32_t)(s->clock_ns / 1000000u);     /* the last real reading: never ahead */
    if ((int32_t)(known - s->now_ms) > 0) s->now_ms = known; /* fresh for wheel_add */
    return (uint32_t)((t + 999999u) / 1000000u);
}

/* The first tick at or after wheel_now at which the wheel has something to do (fire level 0, or
   move a higher slot down), or wheel_now - 1 (i.e. "never") when it holds nothing. */
static uint32_t zenith__wheel_next(const zenith_server *s) {
    uint32_t best = 0, l;
    int found = 0;
    for (l = 0; l < ZENITH__WHEEL_LEVELS; l++) {
        uint64_t occ = s->occupied[l];
        uint32_t shift = l * ZENITH__WHEEL_BITS, k0, off, t;
        if (!occ) continue;
        /* k0: the first level-l slot boundary at or after wheel_now, in units of 2^shift */
        k0 = s->wheel_now >> shift;
        if (l && (s->wheel_now & ((1u << shift) - 1u))) k0++;
        off = (k0 & 63u) ? (uint32_t)__builtin_ctzll((occ >> (k0 & 63u)) | (occ << (64u - (k0 & 63u))))
                         : (uint32_t)__builtin_ctzll(occ);
        t = (k0 + off) << shift;
        if (!found || (int32_t)(t - best) < 0) best = t;
        found = 1;
    }
    return found ? best : s->wheel_now - 1u;
}

static void zenith__conn_timer_fired(zenith_server *s, zenith__conn *c);

/* Processes every tick up to and including `now`: moves slots down and fires what is due, in
   deadline order per tick. Callbacks may start and stop timers (any, their own included). */
static int zenith__wheel_run(zenith_server *s, uint32_t now) {
    int fired = 0;
    while (s->timers_linked) {
        uint32_t t = zenith__wheel_next(s), l, fl = ZENITH__T_FIRING;
        if ((int32_t)(t - now) > 0) break;
        s->wheel_now = t;
        if ((t & (ZENITH__WHEEL_SLOTS - 1u)) == 0) { /* move higher slots down */
            for (l = 1; l < ZENITH__WHEEL_LEVELS; l++) {
                uint32_t slot = (t >> (l * ZENITH__WHEEL_BITS)) & (ZENITH__WHEEL_SLOTS - 1u);
                uint32_t head = l * ZENITH__WHEEL_SLOTS + slot, i;
                while ((i = s->tn[head].next) != head) {
                    zenith__tn_unlink(s, i);
                    zenith__wheel_add(s, i);
                }
                if (slot) break;
            }
        }
        s->wheel_now = t + 1u; /* timers started from callbacks go after this tick */
        {                      /* the due slot becomes the firing list */
            uint32_t head = t & (ZENITH__WHEEL_SLOTS - 1u), i;
            while ((i = s->tn[head].next) != head) {
                zenith__tn_unlink(s, i);
                zenith__tn_link(s, fl, i);
            }
        }
        for (;;) {
            uint32_t i = s->tn[fl].next;
            zenith__tnode *n = &s->tn[i];
            if (i == fl) break;
            zenith__tn_unlink(s, i);
            if (i >= s->tn_conn && i < s->tn_conn + s->max_conns) {
                zenith__conn_timer_fired(s, &s->conns[i - s->tn_conn]);
            } else if (i == s->tn_retry) {
                uint32_t li;
                for (li = 0; li < s->listeners; li++)
                    if (!s->lst[li].armed && !s->shutting_down && !zenith_server_stopped(s)) s->be->listen_arm(s, li);
            } else {
                zenith_timer_fn fn = n->fn;
                void *user = n->user;
                zenith_timer_id id = ((zenith_timer_id)n->gen << 32) | i;
                if (n->period) { /* stays on its grid: first + k x period */
                    uint32_t e = n->expires + n->period;
                    while ((int32_t)(e - now) <= 0) {
                        e += n->period;
                        s->rst.timers_skipped++;
                    }
                    n->expires = e;
                    zenith__wheel_add(s, i);
                } else { /* over: free before the call, so the callback may reuse the slot */
                    n->fn = NULL;
                    n->user = NULL;
                    zenith__tn_retire(n);
                    n->next = s->tfree_head;
                    s->tfree_head = i;
                    s->timers_armed--;
                }
                s->rst.timers_fired++;
                fired++;
                s->in_cb++;
                fn(user, id);
                s->in_cb--;
            }
        }
    }
    /* nothing is due up to now, so the wheel may stand at now + 1 (new timers are filed
       relative to it; no occupied slot's turn lies before it) */
    if ((int32_t)(now + 1u - s->wheel_now) > 0) s->wheel_now = now + 1u;
    return fired;
}

/* Arms a connection's own timer (idle or connect timeout) for tick `at`. */
static void zenith__conn_timer_at(zenith_server *s, zenith__conn *c, uint32_t at) {
    uint32_t i = s->tn_conn + zenith__slot(s, c);
    if (zenith__tn_linked(s, i)) zenith__tn_unlink(s, i);
    s->tn[i].expires = at;
    zenith__wheel_add(s, i);
}

static void zenith__conn_timer_stop(zenith_server *s, zenith__conn *c) {
    uint32_t i = s->tn_conn + zenith__slot(s, c);
    if (zenith__tn_linked(s, i)) zenith__tn_unlink(s, i);
}

ZENITH_API int zenith_server_timer_start(zenith_server *s, uint32_t delay_ms, uint32_t period_ms, zenith_timer_fn fn,
                                         void *user, zenith_timer_id *out) {
    uint32_t i;
    zenith__tnode *n;
    if (out) *out = 0;
    if (s == NULL || fn == NULL) return ZENITH_E_NULL;
    if (delay_ms > ZENITH_TIMER_MAX_MS || period_ms > ZENITH_TIMER_MAX_MS) return ZENITH_E_RANGE;
    if (s->tfree_head == 0) return ZENITH_E_FULL;
    i = s->tfree_head;
    n = &s->tn[i];
    s->tfree_head = n->next;
    n->fn = fn;
    n->user = user;
    n->period = period_ms;
    n->expires = zenith__deadline(s, delay_ms);
    zenith__wheel_add(s, i);
    s->timers_armed++;
    if (out) *out = ((zenith_timer_id)n->gen << 32) | i;
    return 0;
}

ZENITH_API int zenith_server_timer_stop(zenith_server *s, zenith_timer_id timer) {
    uint32_t i = (uint32_t)timer;
    zenith__tnode *n;
    if (s == NULL) return ZENITH_E_NULL;
    if (i < ZENITH__T_FIRST || i >= s->tn_conn) return ZENITH_E_STALE;
    n = &s->tn[i];
    if (n->fn == NULL || n->gen != (uint32_t)(timer >> 32)) return ZENITH_E_STALE;
    if (zenith__tn_linked(s, i)) zenith__tn_unlink(s, i);
    n->fn = NULL;
    n->user = NULL;
    zenith__tn_retire(n);
    n->next = s->tfree_head;
    s->tfree_head = i;
    s->timers_armed--;
    return 0;
}

/* ---- reactor: messages from other threads ---------------------------------------------------------

   A bounded MPSC queue (Vyukov's array queue): a producer claims a cell with one CAS on the tail,
   fills it and publishes it with a release store of its sequence; the loop takes cells in
   order. A producer's messages occupy increasing positions, so they run in the order it posted
   them. The first post after the loop last looked writes the eventfd (wake_pending): one wake
   per batch, whatever the batch's size. */

ZENITH_API int zenith_server_post(zenith_server *s, zenith_post_fn fn, void *user, const void *data, size_t len) {
    uint32_t pos;
    zenith__post_cell *cell;
    if (s == NULL || fn == NULL || (data == NULL && len)) return ZENITH_E_NULL;
    if (len > ZENITH_POST_MAX) return ZENITH_E_INVAL;
    pos = __atomic_load_n(&s->post_tail, __ATOMIC_RELAXED);
    for (;;) {
        int32_t dif;
        cell = &s->cells[pos & s->post_mask];
        dif = (int32_t)(__atomic_load_n(&cell->seq, __ATOMIC_ACQUIRE) - pos);
        if (dif == 0) {
            if (__atomic_compare_exchange_n(&s->post_tail, &pos, pos + 1u, 1, __ATOMIC_RELAXED, __ATOMIC_RELAXED))
                break;
        } else if (dif < 0) {
            __atomic_fetch_add(&s->posts_refused, 1u, __ATOMIC_RELAXED);
            return ZENITH_E_FULL;
        } else {
            pos = __atomic_load_n(&s->post_tail, __ATOMIC_RELAXED);
        }
    }
    cell->fn = fn;
    cell->user = user;
    cell->len = (uint32_t)len;
    if (len) memcpy(cell->data, data, len);
    /* seq_cst: ordered before the load of wake_pending (Dekker with zenith__run_posts) */
    __atomic_store_n(&cell->seq, pos + 1u, __ATOMIC_SEQ_CST);
    if (!__atomic_load_n(&s->wake_pending, __ATOMIC_SEQ_CST) &&
        !__atomic_exchange_n(&s->wake_pending, 1, __ATOMIC_SEQ_CST)) {
        uint64_t one = 1;
        __atomic_fetch_add(&s->wakeups, 1u, __ATOMIC_RELAXED);
        if (write(s->wake_fd, &one, sizeof one) < 0) { /* the counter is full: a wake is pending anyway */
        }
    }
    return 0;
}

static int zenith__posts_pending(const zenith_server *s) {
    const zenith__post_cell *cell = &s->cells[s->post_head & s->post_mask];
    return __atomic_load_n(&cell->seq, __ATOMIC_ACQUIRE) == s->post_head + 1u;
}

/* Runs the messages posted so far (at most one queue's worth: posts from inside wait a turn).
   `rearm`: before the loop may sleep: let the next post wake it (clear wake_pending first, then
   look, so a post the loop does not see here has written the eventfd). Once per turn only, so
   a loop that is busy anyway is written to at most once per turn. */
static int zenith__run_posts(zenith_server *s, int rearm) {
    uint32_t budget = s->post_mask + 1u;
    int ran = 0;
    if (rearm && __atomic_load_n(&s->wake_pending, __ATOMIC_RELAXED))
        __atomic_store_n(&s->wake_pending, 0, __ATOMIC_SEQ_CST);
    while (budget-- && zenith__posts_pending(s)) {
        zenith__post_cell *cell = &s->cells[s->post_head & s->post_mask];
        s->in_cb++;
        cell->fn(cell->user, cell->len ? cell->data : NULL, cell->len);
        s->in_cb--;
        __atomic_store_n(&cell->seq, s->post_head + s->post_mask + 1u, __ATOMIC_RELEASE);
        s->post_head++;
        s->rst.posts_run++;
        ran++;
    }
    return ran;
}

/* ---- reactor: connections -------------------------------------------------------------------------- */

static zenith__conn *zenith__conn_alloc(zenith_server *s, int fd, uint8_t state) {
    zenith__conn *c;
    if (s->free_head == 0) return NULL;
    c = &s->conns[s->free_head - 1u];
    s->free_head = c->next;
    c->fd = fd;
    c->state = state;
    c->pause = 0;
    c->send_inflight = 0;
    c->recv_armed = 0;
    c->flags = 0;
    c->status = 0;
    c->zc_pending = 0;
    c->sq.head = c->sq.tail = 0;
    c->rb.head = c->rb.tail = 0;
    c->queued = 0;
    c->next = 0;
    c->last_active = s->now_ms;
    c->bflags = 0;
    c->berr = 0;
    c->user = NULL;
    c->on_connect = NULL;
    return c; /* c->lists stays: the slot may still sit on a list from its last life */
}

/* Releases the queued buffers the kernel is not sending right now (all of them once nothing is
   in flight). A buffer still referenced by a SEND_ZC notification is released by it. */
static void zenith__drop_queue(zenith_server *s, zenith__conn *c) {
    uint32_t it = c->sq.head, k = 0, last = 0;
    c->queued = 0;
    while (it && k < c->send_inflight) { /* keep these: the kernel reads them */
        c->queued += s->blen[it - 1u] - s->boff[it - 1u];
        last = it;
        it = s->bnext[it - 1u];
        k++;
    }
    while (it) {
        uint32_t idx = it - 1u;
        it = s->bnext[idx];
        if (s->krefs[idx] == 0) zenith__buf_free(s, idx);
    }
    if (last)
        s->bnext[last - 1u] = 0;
    else
        c->sq.head = 0;
    c->sq.tail = last;
}

/* The connection is done: shut it down; settle frees it once the kernel gave everything back. */
static void zenith__begin_end(zenith_server *s, zenith__conn *c, int status) {
    if (c->state == ZENITH__S_ENDING || c->state == ZENITH__S_FREE) return;
    if (c->state == ZENITH__S_CONNECTING) {
        c->flags |= ZENITH__C_CONN_CANCEL;
        c->status = status;
        c->state = ZENITH__S_ENDING;
        if (c->flags & ZENITH__C_CONNECTING) s->be->connect_cancel(s, c);
        return;
    }
    if (c->state == ZENITH__S_OPEN) c->status = status;
    c->state = ZENITH__S_ENDING;
    s->be->shut(s, c, SHUT_RDWR); /* ends an armed receive */
    if (c->recv_armed && !(c->flags & ZENITH__C_CANCELING)) {
        c->flags |= ZENITH__C_CANCELING;
        s->be->recv_cancel(s, c);
    }
}

/* Begins a close: abort (or nothing queued) ends it now; else FLUSHING sends the queue first. */
static void zenith__begin_close(zenith_server *s, zenith__conn *c, int reason, int abort_now) {
    if (c->state == ZENITH__S_CONNECTING) {
        zenith__begin_end(s, c, reason);
        return;
    }
    if (c->state == ZENITH__S_OPEN) {
        c->state = ZENITH__S_FLUSHING;
        c->status = reason;
    }
    if (c->state != ZENITH__S_FLUSHING) return;
    if (abort_now) zenith__drop_queue(s, c);
    if (abort_now || c->queued == 0) zenith__begin_end(s, c, c->status);
}

/* Frees the slot (nothing is in flight any more), then tells the application. */
static void zenith__finish(zenith_server *s, zenith__conn *c) {
    zenith_conn_id id = zenith__conn_id(s, c);
    int opened = (c->flags & ZENITH__C_OPENED) != 0, status = c->status, fd = c->fd;
    zenith_connect_fn on_connect = c->on_connect;
    void *cuser = c->user;
    uint32_t li, g;
    zenith__conn_timer_stop(s, c);
    c->send_inflight = 0;
    zenith__drop_queue(s, c);
    while (c->rb.head) s->be->recv_done(s, zenith__chain_pop(s, &c->rb)); /* received: the ring's */
    if (fd >= 0) close(fd);
    c->fd = -1;
    c->state = ZENITH__S_FREE;
    g = c->gen + 1u;
    c->gen = g ? g : 1u; /* id 0 is never live */
    c->user = NULL;
    c->on_connect = NULL;
    c->next = s->free_head;
    s->free_head = zenith__slot(s, c) + 1u;
    for (li = 0; li < s->listeners; li++) /* an fd came free: EMFILE may have stopped accepting */
        if (!s->lst[li].armed && !s->shutting_down && !zenith_server_stopped(s)) s->be->listen_arm(s, li);
    s->closing_id = id; /* zenith_server_get_conn_user still answers for it in the callback */
    s->closing_user = cuser;
    s->in_cb++;
    if (opened) {
        s->st.connections_open--;
        s->st.connections_closed++;
        if (s->on_close) s->on_close(s->user_data, id, status);
    } else {
        if (status == ZENITH_E_TIMEDOUT)
            s->rst.connects_timed_out++;
        else if (status == ZENITH_E_CANCELED)
            s->rst.connects_canceled++;
        else
            s->rst.connects_failed++;
        if (on_connect) on_connect(cuser, id, status);
    }
    s->in_cb--;
    s->closing_id = 0;
    s->closing_user = NULL;
}

/* Hands one received buffer to on_data, then gives it back (or not, if the callback kept it). */
static void zenith__deliver(zenith_server *s, zenith__conn *c, uint32_t idx, uint32_t len) {
    s->st.bytes_in += len;
    c->last_active = s->now_ms + 1u; /* the tick after the loop's clock: idle never ends early */
    s->cur_idx = idx;
    s->in_data = 1;
    s->kept = 0;
    s->in_cb++;
    s->on_data(s->user_data, zenith__conn_id(s, c), (const uint8_t *)zenith__buf(s, idx), len);
    s->in_cb--;
    s->in_data = 0;
    if (s->kept)
        s->be->recv_kept(s);
    else
        s->be->recv_done(s, idx);
}

static int zenith__may_deliver(const zenith_server *s, const zenith__conn *c) {
    return c->state == ZENITH__S_OPEN && !c->pause && !s->holding;
}

/* Moves a connection on, as far as it can go now: delivers held data, passes EOF on, sends,
   half-closes, owes on_drain, (re)arms or pauses receiving, and frees an ENDING slot once the
   kernel holds nothing of it. The one place where connections change state after an event. */
static void zenith__settle(zenith_server *s, zenith__conn *c) {
    uint32_t half = s->cfg.send_queue_max / 2u;
    for (;;) {
        switch (c->state) {
            case ZENITH__S_FREE:
            case ZENITH__S_CONNECTING: return;
            case ZENITH__S_ENDING:
                if (!c->recv_armed && !c->send_inflight && !c->zc_pending && !(c->flags & ZENITH__C_CONNECTING))
                    zenith__finish(s, c);
                return;
            case ZENITH__S_FLUSHING:
                s->be->send_now(s, c);
                if (c->queued == 0 && !c->send_inflight) {
                    zenith__begin_end(s, c, c->status);
                    continue;
                }
                return;
            default: break;
        }
        /* OPEN */
        while (c->rb.head && zenith__may_deliver(s, c)) {
            uint32_t idx = zenith__chain_pop(s, &c->rb);
            zenith__deliver(s, c, idx, s->blen[idx]);
        }
        if (c->state != ZENITH__S_OPEN) continue;
        if ((c->flags & ZENITH__C_PEER_EOF) && !c->rb.head && !(c->flags & ZENITH__C_EOF_SEEN)) {
            c->flags |= ZENITH__C_EOF_SEEN;
            if (s->on_eof) {
                s->in_cb++;
                s->on_eof(s->user_data, zenith__conn_id(s, c));
                s->in_cb--;
            } else {
                zenith__begin_close(s, c, ZENITH_CLOSE_PEER, 0);
            }
            continue;
        }
        s->be->send_now(s, c);
        if ((c->flags & ZENITH__C_WANT_WR) && !(c->flags & ZENITH__C_WR_SHUT) && c->queued == 0 && !c->send_inflight) {
            c->flags |= ZENITH__C_WR_SHUT;
            s->be->shut(s, c, SHUT_WR);
        }
        if ((c->flags & ZENITH__C_WR_SHUT) && (c->flags & ZENITH__C_EOF_SEEN)) { /* both ways done */
            zenith__begin_end(s, c, ZENITH_CLOSE_PEER);
            continue;
        }
        if ((c->pause & ZENITH__P_QUEUE) && c->queued <= half) c->pause &= (uint8_t)~ZENITH__P_QUEUE;
        if ((c->flags & ZENITH__C_NEED_DRAIN) && c->queued <= half && !(c->flags & ZENITH__C_BUF_WAIT)) {
            c->flags &= (uint16_t)~ZENITH__C_NEED_DRAIN;
            c->pause &= (uint8_t)~ZENITH__P_FULL;
            if (s->on_drain) {
                s->in_cb++;
                s->on_drain(s->user_data, zenith__conn_id(s, c));
                s->in_cb--;
            }
            if (c->state != ZENITH__S_OPEN || (c->rb.head && zenith__may_deliver(s, c))) continue;
        }
        if (c->pause) {
            if (c->recv_armed && !(c->flags & ZENITH__C_CANCELING)) {
                c->flags |= ZENITH__C_CANCELING;
                s->be->recv_cancel(s, c);
            }
        } else if (!c->recv_armed && !(c->flags & ZENITH__C_PEER_EOF) && !(c->lists & ZENITH__L_PARKED) &&
                   !(c->rb.head && s->holding)) {
            if (s->be->recv_room(s))
                s->be->recv_arm(s, c);
            else
                zenith__park(s, c); /* the ring is dry: re-armed once buffers are back */
        }
        /* data held back for the reserve: settled again when the reserve is back (whether or
           not the connection is also paused now: its pause may end first) */
        if (c->rb.head && s->holding && !(c->lists & ZENITH__L_WAIT)) {
            s->rst.deliveries_held++;
            zenith__wait_reserve(s, c);
        }
        return;
    }
}

static void zenith__udp_settle_all(zenith_server *s);

/* Settles every connection (and UDP socket) put on the dirty list (more may join while it runs). */
static void zenith__settle_dirty(zenith_server *s) {
    zenith__conn *c;
    while ((c = zenith__list_pop(s, &s->dirty_head, &s->dirty_tail, offsetof(zenith__conn, dnext))) != NULL) {
        c->lists &= (uint8_t)~ZENITH__L_DIRTY;
        zenith__settle(s, c);
    }
    if (s->udp_dirty_head) zenith__udp_settle_all(s);
}

/* The queue reached send_queue_max: on_drain is owed once it is below half, and (unless the
   reactor relays: ZENITH_SERVER_NO_QUEUE_PAUSE) reading from the connection pauses till then. */
static void zenith__queue_full(zenith_server *s, zenith__conn *c) {
    c->flags |= ZENITH__C_NEED_DRAIN;
    if (!(s->cfg.flags & ZENITH_SERVER_NO_QUEUE_PAUSE)) c->pause |= ZENITH__P_QUEUE;
}

/* Queues buffer idx (len bytes) for sending; pauses reading at send_queue_max. */
static void zenith__enqueue(zenith_server *s, zenith__conn *c, uint32_t idx, uint32_t len) {
    zenith__chain_push(s, &c->sq, idx, len);
    c->queued += len;
    if (c->queued >= s->cfg.send_queue_max) zenith__queue_full(s, c);
}

/* ---- reactor: events from the backend ------------------------------------------------------------ */

static void zenith__conn_opened(zenith_server *s, zenith__conn *c) {
    c->state = ZENITH__S_OPEN;
    c->flags |= ZENITH__C_OPENED;
    if (!(s->cfg.flags & ZENITH_SERVER_ZEROCOPY_LOOPBACK) && zenith__is_loopback(c->fd)) c->flags |= ZENITH__C_LOOPBACK;
    s->st.connections_open++;
    c->last_active = s->now_ms + 1u;
    if (s->cfg.idle_timeout_ms) zenith__conn_timer_at(s, c, c->last_active + s->cfg.idle_timeout_ms);
}

static void zenith__ev_accept(zenith_server *s, uint32_t li, int res, int more) {
    zenith__listener *l = &s->lst[li];
    if (!more) l->armed = 0;
    if (res >= 0) {
        int one = 1;
        zenith__conn *c =
            (zenith_server_stopped(s) || s->shutting_down) ? NULL : zenith__conn_alloc(s, res, ZENITH__S_OPEN);
        if (c == NULL) {
            close(res);
            s->st.connections_rejected++;
        } else {
            if (!(s->cfg.flags & ZENITH_SERVER_NO_NODELAY)) setsockopt(res, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
            s->now_ms = zenith__tick_now(s);
            zenith__conn_opened(s, c);
            s->st.connections_accepted++;
            if (s->on_accept) {
                s->in_cb++;
                s->on_accept(s->user_data, zenith__conn_id(s, c));
                s->in_cb--;
            }
            zenith__settle(s, c);
        }
    } else if (res != -ECANCELED) {
        s->st.accept_errors++; /* EMFILE, ENFILE, ENOBUFS, ...: retry after a short pause */
    }
    if (!l->armed && l->fd >= 0 && !s->shutting_down && !zenith_server_stopped(s)) {
        if (res >= 0)
            s->be->listen_arm(s, li);
        else if (res != -ECANCELED && !zenith__tn_linked(s, s->tn_retry)) {
            s->tn[s->tn_retry].expires = zenith__deadline(s, 20);
            zenith__wheel_add(s, s->tn_retry);
        }
    }
}

/* A receive completed: res bytes in buffer idx (ZENITH__NONE: none), res 0 = EOF, < 0 = error. */
static void zenith__ev_recv(zenith_server *s, uint32_t slot, uint32_t gen, uint32_t idx, int res, int more) {
    zenith__conn *c = &s->conns[slot];
    if (!more && c->gen == gen) {
        c->recv_armed = 0;
        c->flags &= (uint16_t)~ZENITH__C_CANCELING;
    }
    if (c->gen != gen || c->state != ZENITH__S_OPEN) { /* closing or closed: nothing is delivered */
        if (idx != ZENITH__NONE) s->be->recv_done(s, idx);
        s->st.stale_completions++;
        zenith__settle(s, c);
        return;
    }
    if (res > 0 && idx != ZENITH__NONE) {
        if (!c->rb.head && zenith__may_deliver(s, c))
            zenith__deliver(s, c, idx, (uint32_t)res);
        else
            zenith__chain_push(s, &c->rb, idx, (uint32_t)res); /* held: delivered in order later */
    } else {
        if (idx != ZENITH__NONE) s->be->recv_done(s, idx);
        if (res == -ENOBUFS) { /* flow control: the data waits in the socket */
            s->st.recv_buffer_exhausted++;
            if (!more) zenith__park(s, c);
        } else if (res == 0) {
            c->flags |= ZENITH__C_PEER_EOF;
        } else if (res < 0 && res != -ECANCELED) {
            s->st.connection_errors++;
            zenith__begin_close(s, c, ZENITH_ESYS(-res), 1);
        }
    }
    zenith__settle(s, c);
}

/* n bytes of the head of the queue went out: the buffers sent in full are free again. */
static void zenith__sent_bytes(zenith_server *s, zenith__conn *c, uint32_t n) {
    uint32_t left;
    s->st.bytes_out += n;
    if (n > 0) c->last_active = s->now_ms + 1u; /* sending is activity too (idle timeout) */
    for (left = n; left && c->sq.head;) {
        uint32_t idx = c->sq.head - 1u, part = s->blen[idx] - s->boff[idx];
        if (part > left) part = left;
        s->boff[idx] += part;
        c->queued -= part;
        left -= part;
        if (s->boff[idx] == s->blen[idx]) {
            zenith__chain_pop(s, &c->sq);
            /* a SEND_ZC of this buffer may still be referenced by the kernel (on loopback until
               the peer reads it): its notification frees it then */
            if (s->krefs[idx] == 0) zenith__buf_free(s, idx);
        }
    }
}

/* res bytes of the head of the queue went out (or the send failed with res < 0). */
static void zenith__ev_sent(zenith_server *s, zenith__conn *c, int res) {
    c->send_inflight = 0;
    if (res < 0) {
        if (c->state == ZENITH__S_OPEN || c->state == ZENITH__S_FLUSHING) {
            if (c->state == ZENITH__S_OPEN) s->st.connection_errors++;
            c->state = ZENITH__S_OPEN; /* the error is the reason now */
            zenith__begin_close(s, c, ZENITH_ESYS(-res), 1);
        } else {
            zenith__drop_queue(s, c);
        }
        zenith__settle(s, c);
        return;
    }
    zenith__sent_bytes(s, c, (uint32_t)res);
    zenith__settle(s, c);
}

/* A SEND_ZC notification: the kernel let go of buffer idx. */
static void zenith__ev_kref_done(zenith_server *s, zenith__conn *c, uint32_t idx) {
    c->zc_pending--;
    /* a SEND_ZC buffer is the head of its queue while it is sent and only leaves the queue by
       being sent in full or dropped: not the head any more means not queued any more */
    if (--s->krefs[idx] == 0 && c->sq.head != idx + 1u) zenith__buf_free(s, idx);
    zenith__settle(s, c);
}

static void zenith__ev_connect(zenith_server *s, uint32_t slot, uint32_t gen, int res) {
    zenith__conn *c = &s->conns[slot];
    if (c->gen != gen) {
        s->st.stale_completions++;
        return;
    }
    c->flags &= (uint16_t)~ZENITH__C_CONNECTING;
    if (c->state == ZENITH__S_CONNECTING && res == 0) {
        zenith_connect_fn fn = c->on_connect;
        zenith__conn_timer_stop(s, c);
        s->now_ms = zenith__tick_now(s);
        zenith__conn_opened(s, c);
        s->rst.connects_succeeded++;
        if (fn) {
            s->in_cb++;
            fn(c->user, zenith__conn_id(s, c), 0);
            s->in_cb--;
        }
    } else if (c->state == ZENITH__S_CONNECTING) {
        zenith__begin_end(s, c, res == -ECANCELED ? ZENITH_E_CANCELED : ZENITH_ESYS(-res));
    }
    /* ENDING: cancelled (timeout, close, shutdown) -- its status is already set */
    zenith__settle(s, c);
}

/* A connection's own timer: the connect timeout, then the idle timeout. */
static void zenith__conn_timer_fired(zenith_server *s, zenith__conn *c) {
    if (c->state == ZENITH__S_CONNECTING) {
        zenith__begin_end(s, c, ZENITH_E_TIMEDOUT);
    } else if ((c->state == ZENITH__S_OPEN || c->state == ZENITH__S_FLUSHING) && s->cfg.idle_timeout_ms) {
        /* idle = nothing received and nothing sent; a connection held back on purpose (paused,
           or with received data waiting for its turn) is not idle */
        int32_t idle = (int32_t)(s->now_ms - c->last_active);
        if (c->state == ZENITH__S_OPEN && (c->pause || c->rb.head)) {
            c->last_active = s->now_ms;
            idle = 0;
        }
        if (idle < (int32_t)s->cfg.idle_timeout_ms)
            zenith__conn_timer_at(s, c, c->last_active + s->cfg.idle_timeout_ms);
        else if (c->state == ZENITH__S_OPEN)
            zenith__begin_close(s, c, ZENITH_CLOSE_IDLE, 0);
        else /* a flush the peer has not read from for a whole idle timeout: give it up */
            zenith__begin_close(s, c, c->status, 1);
    }
    zenith__settle(s, c);
}

/* ---- reactor: connection calls ---------------------------------------------------------------------- */

static int zenith__send_refused(zenith_server *s, zenith__conn *c, int no_buffers) {
    s->st.send_queue_full++;
    c->flags |= ZENITH__C_NEED_DRAIN;
    c->pause |= ZENITH__P_FULL; /* reading pauses until on_drain */
    if (no_buffers) {
        s->rst.send_pool_empty++;
        c->flags |= ZENITH__C_BUF_WAIT;
        if (!s->holding && s->reserve_cap) s->holding = 1; /* refill the reserve before delivering more */
        zenith__wait_reserve(s, c);
    }
    zenith__mark(s, c);
    return ZENITH_E_FULL;
}

static int zenith__send_check(zenith_server *s, zenith__conn *c, size_t len) {
    if (c->flags & (ZENITH__C_WANT_WR | ZENITH__C_WR_SHUT)) return ZENITH_E_STATE;
    if ((uint64_t)c->queued + len > s->queue_hard) return zenith__send_refused(s, c, 0);
    return 0;
}

ZENITH_API int zenith_server_send(zenith_server *s, zenith_conn_id conn, const void *data, size_t len) {
    zenith__conn *c;
    uint32_t idx[64];
    size_t done = 0, size;
    uint32_t first_tail;
    uint32_t queued0;
    int rc;
    if (s == NULL || (data == NULL && len)) return ZENITH_E_NULL;
    if ((c = zenith__conn_of(s, conn)) == NULL) return ZENITH_E_STALE;
    if (len == 0) return 0;
    if ((rc = zenith__send_check(s, c, len)) != 0) return rc;
    size = s->cfg.buffer_size;
    first_tail = c->sq.tail;
    queued0 = c->queued;
    while (done < len) { /* 64 buffers at a time, all or nothing overall */
        size_t left = len - done;
        unsigned n = (unsigned)((left + size - 1u) / size > 64u ? 64u : (left + size - 1u) / size), i;
        if (!zenith__take_bufs(s, idx, n)) {
            /* no buffer: take back what this call queued, nothing of it is sent yet */
            uint32_t it = first_tail ? s->bnext[first_tail - 1u] : c->sq.head;
            while (it) {
                uint32_t b = it - 1u;
                it = s->bnext[b];
                zenith__buf_free(s, b);
            }
            if (first_tail)
                s->bnext[first_tail - 1u] = 0;
            else
                c->sq.head = 0;
            c->sq.tail = first_tail;
            c->queued = queued0;
            return zenith__send_refused(s, c, 1);
        }
        for (i = 0; i < n; i++) {
            uint32_t chunk = (uint32_t)(left - (size_t)i * size < size ? left - (size_t)i * size : size);
            memcpy(zenith__buf(s, idx[i]), (const unsigned char *)data + done + (size_t)i * size, chunk);
            zenith__chain_push(s, &c->sq, idx[i], chunk);
            c->queued += chunk;
        }
        done += left < (size_t)n * size ? left : (size_t)n * size;
    }
    if (c->queued >= s->cfg.send_queue_max) zenith__queue_full(s, c);
    if (c->state == ZENITH__S_OPEN) s->be->send_kick(s, c);
    if (c->pause) zenith__mark(s, c);
    return 0;
}

ZENITH_API int zenith_server_send_buffer(zenith_server *s, zenith_conn_id conn, void *buf, size_t len) {
    zenith__conn *c;
    int idx, rc;
    if (s == NULL || buf == NULL) return ZENITH_E_NULL;
    idx = zenith_pool_index(s->pool, buf);
    if (idx < 0) return idx; /* not ours: we cannot take it */
    c = zenith__conn_of(s, conn);
    rc = c == NULL                                ? ZENITH_E_STALE
         : (len == 0 || len > s->cfg.buffer_size) ? ZENITH_E_INVAL
                                                  : zenith__send_check(s, c, len);
    if (rc != 0) {
        zenith__buf_free(s, (uint32_t)idx); /* ownership moved to us on every return */
        return rc;
    }
    zenith__enqueue(s, c, (uint32_t)idx, (uint32_t)len);
    if (c->state == ZENITH__S_OPEN) s->be->send_kick(s, c);
    if (c->pause) zenith__mark(s, c);
    return 0;
}

ZENITH_API void *zenith_server_keep(zenith_server *s) {
    if (s == NULL || !s->in_data || s->kept) return NULL;
    s->kept = 1;
    return zenith__buf(s, s->cur_idx);
}

ZENITH_API int zenith_server_close(zenith_server *s, zenith_conn_id conn, int flags) {
    zenith__conn *c;
    if (s == NULL) return ZENITH_E_NULL;
    if (flags != ZENITH_CLOSE_FLUSH && flags != ZENITH_CLOSE_ABORT && flags != ZENITH_CLOSE_WRITE)
        return ZENITH_E_INVAL;
    if ((c = zenith__conn_of(s, conn)) == NULL) return ZENITH_E_STALE;
    if (c->state == ZENITH__S_CONNECTING)
        zenith__begin_end(s, c, ZENITH_E_CANCELED);
    else if (flags == ZENITH_CLOSE_WRITE)
        c->flags |= ZENITH__C_WANT_WR;
    else
        zenith__begin_close(s, c, ZENITH_CLOSE_LOCAL, flags == ZENITH_CLOSE_ABORT);
    zenith__mark(s, c);
    return 0;
}

ZENITH_API int zenith_server_pause(zenith_server *s, zenith_conn_id conn) {
    zenith__conn *c;
    if (s == NULL) return ZENITH_E_NULL;
    if ((c = zenith__conn_of(s, conn)) == NULL) return ZENITH_E_STALE;
    c->pause |= ZENITH__P_USER;
    zenith__mark(s, c);
    return 0;
}

ZENITH_API int zenith_server_resume(zenith_server *s, zenith_conn_id conn) {
    zenith__conn *c;
    if (s == NULL) return ZENITH_E_NULL;
    if ((c = zenith__conn_of(s, conn)) == NULL) return ZENITH_E_STALE;
    c->pause &= (uint8_t)~ZENITH__P_USER;
    zenith__mark(s, c);
    return 0;
}

ZENITH_API int zenith_server_queued(zenith_server *s, zenith_conn_id conn) {
    zenith__conn *c;
    if (s == NULL) return ZENITH_E_NULL;
    if ((c = zenith__conn_of(s, conn)) == NULL) return ZENITH_E_STALE;
    return c->queued > (uint32_t)INT_MAX ? INT_MAX : (int)c->queued;
}

ZENITH_API int zenith_server_set_conn_user(zenith_server *s, zenith_conn_id conn, void *user) {
    zenith__conn *c;
    if (s == NULL) return ZENITH_E_NULL;
    if ((c = zenith__conn_of(s, conn)) == NULL) return ZENITH_E_STALE;
    c->user = user;
    return 0;
}

ZENITH_API void *zenith_server_get_conn_user(zenith_server *s, zenith_conn_id conn) {
    zenith__conn *c = zenith__conn_of(s, conn);
    if (c == NULL && s != NULL && conn != 0 && conn == s->closing_id) return s->closing_user; /* in on_close */
    return c ? c->user : NULL;
}

static int zenith__sockopt(int fd, int level, int name, int value) {
    return setsockopt(fd, level, name, &value, sizeof value) < 0 ? ZENITH_ESYS(errno) : 0;
}

ZENITH_API int zenith_server_connect(zenith_server *s, const zenith_connect_config *cfg_in, zenith_conn_id *out) {
    zenith_connect_config cfg;
    struct sockaddr_storage peer, local;
    socklen_t plen = 0, llen = 0;
    zenith__conn *c;
    int fd, rc;
    if (out) *out = 0;
    if (s == NULL || cfg_in == NULL || out == NULL) return ZENITH_E_NULL;
    if ((rc = zenith__config_in(&cfg, sizeof cfg, sizeof cfg, cfg_in)) != 0) return rc;
    if (cfg.address == NULL) return ZENITH_E_NULL;
    if (!cfg.timeout_ms) cfg.timeout_ms = 10000u;
    if (cfg.port == 0 || (cfg.flags & ~(uint32_t)(ZENITH_CONNECT_NO_NODELAY | ZENITH_CONNECT_KEEPALIVE)) ||
        cfg.timeout_ms > ZENITH_TIMER_MAX_MS || cfg.user_timeout_ms > (uint32_t)INT_MAX ||
        cfg.keepalive_idle_s > 32767u || cfg.keepalive_intvl_s > 32767u || cfg.keepalive_count > 127u ||
        (!cfg.local_address && cfg.local_port) || zenith__parse_addr(cfg.address, cfg.port, &peer, &plen) != 0 ||
        (cfg.local_address && zenith__parse_addr(cfg.local_address, cfg.local_port, &local, &llen) != 0) ||
        (cfg.local_address && local.ss_family != peer.ss_family))
        return ZENITH_E_INVAL;
    if (!s->started || s->shutting_down || zenith_server_stopped(s)) return ZENITH_E_STATE;
    if (s->free_head == 0) return ZENITH_E_FULL;
    fd = socket(peer.ss_family, SOCK_STREAM | SOCK_CLOEXEC | s->be->sock_flags, 0);
    if (fd < 0) return ZENITH_ESYS(errno);
    rc = 0;
    if (!(cfg.flags & ZENITH_CONNECT_NO_NODELAY)) rc = zenith__sockopt(fd, IPPROTO_TCP, TCP_NODELAY, 1);
    if (rc == 0 && (cfg.flags & ZENITH_CONNECT_KEEPALIVE)) {
        rc = zenith__sockopt(fd, SOL_SOCKET, SO_KEEPALIVE, 1);
        if (rc == 0 && cfg.keepalive_idle_s)
            rc = zenith__sockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, (int)cfg.keepalive_idle_s);
        if (rc == 0 && cfg.keepalive_intvl_s)
            rc = zenith__sockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, (int)cfg.keepalive_intvl_s);
        if (rc == 0 && cfg.keepalive_count)
            rc = zenith__sockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, (int)cfg.keepalive_count);
    }
    if (rc == 0 && cfg.user_timeout_ms)
        rc = zenith__sockopt(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, (int)cfg.user_timeout_ms);
    if (rc == 0 && cfg.local_address && bind(fd, (struct sockaddr *)&local, llen) < 0) rc = ZENITH_ESYS(errno);
    if (rc != 0) {
        close(fd);
        return rc;
    }
    c = zenith__conn_alloc(s, fd, ZENITH__S_CONNECTING);
    c->user = cfg.user;
    c->on_connect = cfg.on_connect;
    c->flags |= ZENITH__C_CONNECTING;
    if ((rc = s->be->connect_start(s, c, (struct sockaddr *)&peer, plen)) != 0) {
        c->flags = 0;
        c->state = ZENITH__S_FREE; /* never seen by the application: back on the free list */
        c->fd = -1;
        c->next = s->free_head;
        s->free_head = zenith__slot(s, c) + 1u;
        close(fd);
        return rc;
    }
    zenith__conn_timer_at(s, c, zenith__deadline(s, cfg.timeout_ms));
    s->rst.connects_started++;
    *out = zenith__conn_id(s, c);
    return 0;
}

/* A listening socket on address:port. Returns the listener's index or a code. */
static int zenith__listen_on(zenith_server *s, const char *address, uint16_t port, uint32_t flags) {
    struct sockaddr_storage ss;
    socklen_t len;
    zenith__listener *l;
    int rc, fd, one = 1;
    if (s->listeners >= ZENITH__MAX_LISTENERS) return ZENITH_E_FULL;
    if ((rc = zenith__parse_addr(address, port, &ss, &len)) < 0) return rc;
    fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC | s->be->sock_flags, 0);
    if (fd < 0) return ZENITH_ESYS(errno);
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (ss.ss_family == AF_INET6) setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
    if ((flags & ZENITH_SERVER_REUSEPORT) && setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) < 0) goto fail;
    if (bind(fd, (struct sockaddr *)&ss, len) < 0 || listen(fd, (int)s->cfg.backlog) < 0) goto fail;
    len = sizeof ss;
    if (getsockname(fd, (struct sockaddr *)&ss, &len) < 0) goto fail;
    l = &s->lst[s->listeners];
    l->fd = fd;
    l->armed = 0;
    l->port = ntohs(ss.ss_family == AF_INET ? ((struct sockaddr_in *)(void *)&ss)->sin_port
                                            : ((struct sockaddr_in6 *)(void *)&ss)->sin6_port);
    s->rst.listeners++;
    return (int)s->listeners++;
fail:
    rc = ZENITH_ESYS(errno);
    close(fd);
    return rc;
}

ZENITH_API int zenith_server_listen(zenith_server *s, const char *address, uint16_t port, uint32_t flags) {
    int li;
    if (s == NULL || address == NULL) return ZENITH_E_NULL;
    if (flags & ~(uint32_t)ZENITH_SERVER_REUSEPORT) return ZENITH_E_INVAL;
    if (s->shutting_down) return ZENITH_E_STATE;
    if ((li = zenith__listen_on(s, address, port, flags)) < 0) return li;
    if (s->started && !zenith_server_stopped(s)) s->be->listen_arm(s, (uint32_t)li);
    return s->lst[li].port;
}

/* Every backend calls this when its wait returns, before dispatching: what happens next is
   stamped with the time it happened, not with the time the loop went to sleep. */
static void zenith__woke(zenith_server *s) {
    if (s->timers_linked || s->cfg.idle_timeout_ms) s->now_ms = zenith__tick_now(s);
}

/* ---- reactor: UDP sockets (common to both backends) ------------------------------------------------ */

/* <linux/net_tstamp.h>'s SOF_TIMESTAMPING_* (enumerators there: a program may include it after us) */
#define ZENITH__SOF_RX_HARDWARE (1u << 2)
#define ZENITH__SOF_RX_SOFTWARE (1u << 3)
#define ZENITH__SOF_SOFTWARE (1u << 4)
#define ZENITH__SOF_RAW_HARDWARE (1u << 6)
#ifndef SO_MEMINFO
#define SO_MEMINFO 55
#endif
#define ZENITH__SK_MEMINFO_DROPS 8 /* <linux/sock_diag.h> SK_MEMINFO_DROPS */
#ifndef IPV6_MULTICAST_ALL
#define IPV6_MULTICAST_ALL 29 /* <linux/in6.h>; kernel 4.20 */
#endif

static zenith_udp_id zenith__udp_id(const zenith_server *s, const zenith__udp *u) {
    return ((zenith_udp_id)u->gen << 32) | (zenith_udp_id)(uint32_t)(u - s->udp);
}

/* The open socket an id names, or NULL (stale, closing, unknown). */
static zenith__udp *zenith__udp_at(zenith_server *s, zenith_udp_id id) {
    uint32_t slot = (uint32_t)id;
    zenith__udp *u;
    if (s == NULL || slot >= s->max_udp) return NULL;
    u = &s->udp[slot];
    return u->gen == (uint32_t)(id >> 32) && u->state == ZENITH__U_OPEN ? u : NULL;
}

/* Intrusive FIFO lists of UDP sockets (dirty, parked, ready), linked by slot + 1. */
static void zenith__ulist_push(zenith_server *s, uint32_t *head, uint32_t *tail, size_t link_off, zenith__udp *u) {
    uint32_t sl = (uint32_t)(u - s->udp) + 1u, zero = 0;
    memcpy((unsigned char *)u + link_off, &zero, sizeof zero);
    if (*tail)
        memcpy((unsigned char *)&s->udp[*tail - 1u] + link_off, &sl, sizeof sl);
    else
        *head = sl;
    *tail = sl;
}

static zenith__udp *zenith__ulist_pop(zenith_server *s, uint32_t *head, uint32_t *tail, size_t link_off) {
    zenith__udp *u;
    if (*head == 0) return NULL;
    u = &s->udp[*head - 1u];
    memcpy(head, (unsigned char *)u + link_off, sizeof *head);
    if (*head == 0) *tail = 0;
    return u;
}

/* Settled after the current event: its sends go out, on_writable, the end of a close. */
static void zenith__udp_mark(zenith_server *s, zenith__udp *u) {
    if (u->lists & ZENITH__UL_DIRTY) return;
    u->lists |= ZENITH__UL_DIRTY;
    zenith__ulist_push(s, &s->udp_dirty_head, &s->udp_dirty_tail, offsetof(zenith__udp, dnext), u);
}

/* Receiving waits for buffers: re-armed before a wait once the receive buffers are back. */
static void zenith__udp_park(zenith_server *s, zenith__udp *u) {
    if (u->lists & ZENITH__UL_PARKED) return;
    u->lists |= ZENITH__UL_PARKED;
    zenith__ulist_push(s, &s->udp_parked_head, &s->udp_parked_tail, offsetof(zenith__udp, pnext), u);
}

/* A send was refused: on_writable once the queue is below half and the pool has buffers. */
static int zenith__udp_refused(zenith_server *s, zenith__udp *u) {
    u->send_full++;
    if (!(u->flags & ZENITH__U_NEED_WR)) {
        u->flags |= ZENITH__U_NEED_WR;
        s->udp_need_wr++;
    }
    return ZENITH_E_FULL;
}

/* The buffers of a queued datagram go back (reserve first, as every freed send buffer). */
static void zenith__udp_tx_release(zenith_server *s, zenith__udp_tx *e) {
    uint32_t it = e->head;
    while (it) {
        uint32_t b = it - 1u;
        it = s->bnext[b];
        zenith__buf_free(s, b);
    }
    if (e->iovbuf) zenith__buf_free(s, e->iovbuf - 1u);
    e->head = e->iovbuf = 0;
}

/* A queued datagram is done: sent (res >= 0) or refused by the kernel (dropped, counted). */
static void zenith__udp_tx_done(zenith_server *s, zenith__udp *u, zenith__udp_tx *e, int res) {
    if (res >= 0) {
        u->datagrams_out += e->nseg;
        u->bytes_out += e->len;
        if (e->nseg > 1) u->gso_sends++;
    } else {
        u->send_errors += e->nseg;
        u->last_error = ZENITH_ESYS(-res);
    }
    zenith__udp_tx_release(s, e);
}

/* A connected socket's pending ICMP error (ECONNREFUSED) fails the next send, which the kernel
   did not send: counted as a receive error, and that datagram is tried once more. */
static int zenith__udp_retry(zenith__udp *u, zenith__udp_tx *e, int e_no) {
    if (e_no != ECONNREFUSED || e->retried || !(u->flags & ZENITH__U_CONNECTED)) return 0;
    e->retried = 1;
    u->recv_errors++;
    u->last_error = ZENITH_ESYS(e_no);
    return 1;
}

static void zenith__udp_cmsgs(struct msghdr *mh, zenith_udp_datagram *d, uint32_t *gro) {
    struct cmsghdr *c;
    for (c = CMSG_FIRSTHDR(mh); c != NULL; c = CMSG_NXTHDR(mh, c)) {
        if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_TIMESTAMPING &&
            c->cmsg_len >= CMSG_LEN(3 * sizeof(struct timespec))) {
            struct timespec ts[3];
            memcpy(ts, CMSG_DATA(c), sizeof ts);
            d->ts_ns = (int64_t)ts[0].tv_sec * 1000000000 + ts[0].tv_nsec;
            d->hw_ts_ns = (int64_t)ts[2].tv_sec * 1000000000 + ts[2].tv_nsec;
        } else if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SO_RXQ_OVFL &&
                   c->cmsg_len >= CMSG_LEN(sizeof(uint32_t))) {
            memcpy(&d->kernel_drops, CMSG_DATA(c), sizeof(uint32_t));
        } else if (c->cmsg_level == SOL_UDP && c->cmsg_type == UDP_GRO && c->cmsg_len >= CMSG_LEN(sizeof(int))) {
            int g;
            memcpy(&g, CMSG_DATA(c), sizeof g);
            *gro = g > 0 ? (uint32_t)g : 0u;
        }
    }
}

/* Hands one received buffer to on_recv: one datagram, or the datagrams a GRO receive
   coalesced, one call each. `payload` (inbuf bytes of a datagram orig bytes long) lies in
   buffer idx; ctl (nullable) holds the control data. Then the buffer goes back, or stays with
   the application (zenith_udp_keep). */
static void zenith__udp_deliver(zenith_server *s, zenith__udp *u, uint32_t idx, const uint8_t *payload, uint32_t inbuf,
                                uint32_t orig, int mflags, const void *name, uint32_t namelen, struct msghdr *ctl) {
    zenith_udp_datagram d;
    zenith_addr from;
    uint32_t gro = 0, gen = u->gen, off = 0;
    int trunc, segmented;
    zenith_udp_id id = zenith__udp_id(s, u);
    if (u->state != ZENITH__U_OPEN || u->on_recv == NULL) { /* closed meanwhile: nothing more is delivered */
        s->be->udp_done(s, idx);
        return;
    }
    memset(&d, 0, sizeof d);
    memset(&from, 0, sizeof from);
    if (namelen > sizeof from.sa) namelen = sizeof from.sa;
    if (name != NULL && namelen) memcpy(from.sa, name, namelen);
    from.len = namelen;
    if (ctl != NULL && ctl->msg_controllen) zenith__udp_cmsgs(ctl, &d, &gro);
    d.from = &from;
    trunc = orig > inbuf || (mflags & MSG_TRUNC);
    segmented = !trunc && gro && gro < inbuf;
    if (segmented) u->gro_batches++;
    s->udp_in = 1;
    s->udp_kept_buf = 0;
    s->udp_cur_idx = idx;
    s->udp_cur_seg = segmented;
    do {
        uint32_t seg = segmented ? (inbuf - off < gro ? inbuf - off : gro) : inbuf;
        d.data = payload + off;
        d.len = seg;
        d.orig_len = trunc ? (orig > inbuf ? orig : inbuf) : seg;
        d.flags = (trunc ? (uint32_t)ZENITH_UDP_TRUNC : 0u) | (segmented ? (uint32_t)ZENITH_UDP_GRO_SEGMENT : 0u);
        u->datagrams_in++;
        u->bytes_in += seg;
        if (trunc) u->truncated++;
        s->udp_cur_data = d.data;
        s->udp_cur_len = seg;
        s->udp_kept = 0;
        s->in_cb++;
        u->on_recv(u->user, id, &d);
        s->in_cb--;
        off += seg;
    } while (segmented && off < inbuf && u->gen == gen && u->state == ZENITH__U_OPEN);
    s->udp_in = 0;
    if (s->udp_kept_buf)
        s->be->recv_kept(s);
    else
        s->be->udp_done(s, idx);
}

/* The slot is free again: the fd closed, the queue's memory freed. */
static void zenith__udp_finish(zenith_server *s, zenith__udp *u) {
    s->be->udp_close(s, u);
    if (u->fd >= 0) close(u->fd);
    u->fd = -1;
    if (u->flags & ZENITH__U_NEED_WR) s->udp_need_wr--;
    u->nmemb = 0;
    u->flags = 0;
    u->state = ZENITH__U_FREE;
    u->gen = u->gen + 1u ? u->gen + 1u : 1u;
    u->next = s->udp_free_head;
    s->udp_free_head = (uint32_t)(u - s->udp) + 1u;
    s->udp_live--;
}

/* Sends the queue, in order: sendmmsg(2) of up to ZENITH__UDP_BATCH datagrams, at most
   ZENITH__UDP_SENDS calls per settle (the rest before the next wait). On both backends: on
   io_uring a chain of linked SENDMSG operations (the only way to keep their order there) moved
   one link per io_uring_enter under DEFER_TASKRUN -- measured: one system call per datagram,
   3.5 us each -- and unlinked ones may pass one another when one finds the socket full. A full
   socket (EAGAIN) waits for the backend to say it is writable (epoll: the EPOLLOUT edge;
   io_uring: a POLL_ADD). A datagram the kernel refuses is dropped and counted; the rest go. */
static void zenith__udp_flush(zenith_server *s, zenith__udp *u) {
    struct mmsghdr v[ZENITH__UDP_BATCH];
    uint32_t round;
    for (round = 0; round < ZENITH__UDP_SENDS && u->qhead != u->qtail; round++) {
        uint32_t n = u->qtail - u->qhead, i;
        int r;
        if (n > ZENITH__UDP_BATCH) n = ZENITH__UDP_BATCH;
        for (i = 0; i < n; i++) {
            v[i].msg_hdr = u->tx[(u->qhead + i) & u->qmask].msg;
            v[i].msg_len = 0;
        }
        r = sendmmsg(u->fd, v, n, MSG_DONTWAIT);
        if (r < 0) {
            int e = errno;
            zenith__udp_tx *h = &u->tx[u->qhead & u->qmask];
            if (e == EINTR || zenith__udp_retry(u, h, e)) continue;
            if (e == EAGAIN || e == EWOULDBLOCK) { /* the socket is full: until it is writable */
                u->flags |= ZENITH__U_WBLOCK;
                s->be->udp_wait_wr(s, u);
                return;
            }
            zenith__udp_tx_done(s, u, h, -e); /* this datagram cannot go: dropped, counted */
            u->qhead++;
            continue;
        }
        for (i = 0; i < (uint32_t)r; i++) {
            zenith__udp_tx_done(s, u, &u->tx[u->qhead & u->qmask], (int)v[i].msg_len);
            u->qhead++;
        }
    }
    if (u->qhead != u->qtail) s->udp_retry = 1; /* more than a settle sends: before the next wait */
}

/* Moves a socket on: sends what waits, ends a close. */
static void zenith__udp_settle(zenith_server *s, zenith__udp *u) {
    if (u->state == ZENITH__U_FREE) return;
    if (u->qhead != u->qtail && !(u->flags & ZENITH__U_WBLOCK)) zenith__udp_flush(s, u);
    if (u->state == ZENITH__U_CLOSING && !u->recv_armed && u->qhead == u->qtail && !(u->flags & ZENITH__U_POLLING))
        zenith__udp_finish(s, u);
}

static void zenith__udp_settle_all(zenith_server *s) {
    zenith__udp *u;
    while ((u = zenith__ulist_pop(s, &s->udp_dirty_head, &s->udp_dirty_tail, offsetof(zenith__udp, dnext))) != NULL) {
        u->lists &= (uint8_t)~ZENITH__UL_DIRTY;
        zenith__udp_settle(s, u);
    }
}

/* Before waiting: re-arm receives parked on dry buffers (one per buffer there is, oldest
   first); on_writable for sockets owed it whose queue is below half while the pool has buffers
   (here, once per turn: a send that fails again inside it waits for the next turn, never
   loops); sends the ring had no room for. */
static void zenith__udp_prepare(zenith_server *s, uint32_t budget) {
    uint32_t i;
    int retry = s->udp_retry;
    while (s->udp_parked_head && budget) {
        zenith__udp *u = zenith__ulist_pop(s, &s->udp_parked_head, &s->udp_parked_tail, offsetof(zenith__udp, pnext));
        u->lists &= (uint8_t)~ZENITH__UL_PARKED;
        if (u->state == ZENITH__U_OPEN && u->on_recv && !u->recv_armed) {
            s->be->udp_arm(s, u);
            budget--;
        }
    }
    s->udp_retry = 0;
    if (!s->udp_need_wr && !retry) return;
    for (i = 0; i < s->max_udp; i++) {
        zenith__udp *u = &s->udp[i];
        if (u->state == ZENITH__U_FREE) continue;
        if (retry && u->qhead != u->qtail) zenith__udp_mark(s, u);
        if ((u->flags & ZENITH__U_NEED_WR) && u->qtail - u->qhead <= (u->qmask + 1u) / 2u && !s->holding &&
            (s->reserve_n || !s->reserve_cap)) {
            u->flags &= ~(uint32_t)ZENITH__U_NEED_WR;
            s->udp_need_wr--;
            if (u->state == ZENITH__U_OPEN && u->on_writable) {
                s->in_cb++;
                u->on_writable(u->user, zenith__udp_id(s, u));
                s->in_cb--;
            }
        }
    }
}

/* ---- reactor: the io_uring backend -------------------------------------------------------------------

   Multishot accept per listener; one multishot receive per connection on one provided-buffer
   ring (buffer id = pool index; idle connections hold no buffer); sends of the queue head
   (SEND, or SEND_ZC for large non-loopback buffers) or of up to ZENITH__GATHER_MAX queued
   buffers at once (SENDMSG, its msghdr and iovecs in a pool buffer borrowed until the
   completion: no allocation); CONNECT; ASYNC_CANCEL for pauses and cancelled connects; an
   eventfd read for wake-ups (stop, posts). The kernel timeout of a wait is the wait's own
   (IORING_ENTER_EXT_ARG): no timeout SQE. */

enum {
    ZENITH__OP_ACCEPT = 1,
    ZENITH__OP_RECV,
    ZENITH__OP_SEND,    /* one buffer (SEND or SEND_ZC); tag = its pool index */
    ZENITH__OP_SENDMSG, /* several queued buffers gathered; tag = pool index of the msghdr buffer */
    ZENITH__OP_CONNECT,
    ZENITH__OP_WAKE,
    ZENITH__OP_IGNORE,
    ZENITH__OP_UDP_RECV, /* a UDP socket's multishot RECVMSG (tag: its generation); epoll: its events */
    ZENITH__OP_UDP_SEND  /* a full UDP socket's POLLOUT poll (tag: its generation) */
};
#define ZENITH__GATHER_MAX 64u /* buffers per SENDMSG */
#define ZENITH__BUF_GROUP 0x5a5a

static struct io_uring_sqe *zenith__ur_sqe(zenith_server *s) {
    return zenith_ring_get_sqe(s->ring); /* NULL only if the ring is broken */
}

static int zenith__ur_init(zenith_server *s) {
    zenith_ring_config rc_cfg;
    uint32_t entries = 1;
    int e = 0;
    memset(&rc_cfg, 0, sizeof rc_cfg);
    rc_cfg.sq_entries = s->cfg.sq_entries;
    rc_cfg.flags = (s->cfg.flags & ZENITH_SERVER_SQPOLL) ? ZENITH_RING_SQPOLL : 0;
    s->ring = zenith_ring_create(&rc_cfg, &e);
    if (s->ring == NULL) return e;
    while (entries < s->cfg.recv_buffers) entries <<= 1;
    s->br = zenith__buf_ring_create_n(s->ring, s->pool, ZENITH__BUF_GROUP, entries, s->cfg.recv_buffers, &e);
    return s->br ? 0 : e;
}

static void zenith__ur_fini(zenith_server *s) { /* cancels whatever is still in flight */
    zenith_buf_ring_destroy(s->br);
    zenith_ring_destroy(s->ring);
    s->br = NULL;
    s->ring = NULL;
}

static void zenith__ur_arm_wake(zenith_server *s) {
    struct io_uring_sqe *sqe = zenith__ur_sqe(s);
    if (sqe == NULL) return;
    io_uring_prep_read(sqe, s->wake_fd, &s->wake_value, sizeof s->wake_value, 0);
    io_uring_sqe_set_data64(sqe, ZENITH__UD(ZENITH__OP_WAKE, 0, 0));
}

static int zenith__ur_start(zenith_server *s) {
    int rc;
    zenith__ur_arm_wake(s);
    rc = zenith_ring_submit(s->ring); /* e.g. EPERM: a filter that refuses io_uring_enter alone */
    return rc < 0 ? rc : 0;
}

static void zenith__ur_listen_arm(zenith_server *s, uint32_t li) {
    struct io_uring_sqe *sqe;
    if (s->lst[li].armed || s->lst[li].fd < 0 || (sqe = zenith__ur_sqe(s)) == NULL) return;
    io_uring_prep_multishot_accept(sqe, s->lst[li].fd, NULL, NULL, SOCK_CLOEXEC);
    io_uring_sqe_set_data64(sqe, ZENITH__UD(ZENITH__OP_ACCEPT, li, 0));
    s->lst[li].armed = 1;
}

static void zenith__ur_recv_arm(zenith_server *s, zenith__conn *c) {
    struct io_uring_sqe *sqe = zenith__ur_sqe(s);
    if (sqe == NULL) return;
    io_uring_prep_recv_multishot(sqe, c->fd, NULL, 0, 0);
    sqe->flags |= IOSQE_BUFFER_SELECT;
    sqe->buf_group = ZENITH__BUF_GROUP;
    io_uring_sqe_set_data64(sqe, ZENITH__UD(ZENITH__OP_RECV, zenith__slot(s, c), c->gen));
    c->recv_armed = 1;
}

static void zenith__ur_recv_cancel(zenith_server *s, zenith__conn *c) {
    struct io_uring_sqe *sqe = zenith__ur_sqe(s);
    if (sqe == NULL) return;
    io_uring_prep_cancel64(sqe, ZENITH__UD(ZENITH__OP_RECV, zenith__slot(s, c), c->gen), 0);
    io_uring_sqe_set_data64(sqe, ZENITH__UD(ZENITH__OP_IGNORE, 0, 0));
}

static uint32_t zenith__ur_recv_room(zenith_server *s) { return zenith_buf_ring_available(s->br); }

/* A received buffer is free again: back into the ring it came from. */
static void zenith__ur_recv_done(zenith_server *s, uint32_t idx) {
    if (zenith__buf_ring_give_idx(s->br, idx) != 0) zenith_pool_release(s->pool, zenith__buf(s, idx));
}

/* Lends the ring the buffers it is owed (the application kept some), from the pool, while the
   pool has them. The one refill: after a keep, and before every wait. */
static void zenith__ur_refill(zenith_server *s) {
    while (s->ring_short) {
        void *fresh = zenith_pool_acquire(s->pool);
        if (fresh == NULL) break;
        if (zenith__buf_ring_give_idx(s->br, (uint32_t)zenith_pool_index(s->pool, fresh)) != 0) {
            zenith_pool_release(s->pool, fresh);
            break;
        }
        s->ring_short--;
    }
}

/* The application kept a received buffer: the ring is one short. */
static void zenith__ur_recv_kept(zenith_server *s) {
    s->ring_short++;
    zenith__ur_refill(s);
}

/* A free buffer: straight into the ring if the ring is short, else back to the pool. */
static void zenith__ur_buf_put(zenith_server *s, uint32_t idx) {
    if (s->ring_short && zenith__buf_ring_give_idx(s->br, idx) == 0) {
        s->ring_short--;
        return;
    }
    zenith_pool_release(s->pool, zenith__buf(s, idx));
}

/* Starts a send if none is in flight: the head buffer alone (SEND, or SEND_ZC when large), or
   up to ZENITH__GATHER_MAX queued buffers in one SENDMSG. */
static void zenith__ur_send_kick(zenith_server *s, zenith__conn *c) {
    struct io_uring_sqe *sqe;
    uint32_t idx, len, n = 0, it;
    unsigned char *p;
    if (c->send_inflight || c->sq.head == 0 || (c->flags & ZENITH__C_WR_SHUT)) return;
    idx = c->sq.head - 1u;
    p = (unsigned char *)zenith__buf(s, idx) + s->boff[idx];
    len = s->blen[idx] - s->boff[idx];
    for (it = c->sq.head; it && n < 2u; it = s->bnext[it - 1u]) n++;
    if (n > 1 && len < s->cfg.zerocopy_min) {
        size_t room = (s->cfg.buffer_size - sizeof(struct msghdr)) / sizeof(struct iovec);
        unsigned char *mb = room >= 2 ? (unsigned char *)zenith_pool_acquire(s->pool) : NULL;
        if (mb) {
            struct msghdr *msg = (struct msghdr *)(void *)mb;
            struct iovec *iov = (struct iovec *)(void *)(mb + sizeof *msg);
            uint32_t k = 0;
            if (room > ZENITH__GATHER_MAX) room = ZENITH__GATHER_MAX;
            for (it = c->sq.head; it && k < room; it = s->bnext[it - 1u], k++) {
                iov[k].iov_base = (unsigned char *)zenith__buf(s, it - 1u) + s->boff[it - 1u];
                iov[k].iov_len = s->blen[it - 1u] - s->boff[it - 1u];
            }
            memset(msg, 0, sizeof *msg);
            msg->msg_iov = iov;
            msg->msg_iovlen = k;
            if ((sqe = zenith__ur_sqe(s)) == NULL) {
                zenith_pool_release(s->pool, mb);
                return;
            }
            io_uring_prep_sendmsg(sqe, c->fd, msg, MSG_NOSIGNAL);
            io_uring_sqe_set_data64(
                sqe, ZENITH__UD(ZENITH__OP_SENDMSG, zenith__slot(s, c), (uint32_t)zenith_pool_index(s->pool, mb)));
            c->send_inflight = (uint8_t)k;
            return;
        }
    }
    if ((sqe = zenith__ur_sqe(s)) == NULL) return;
    if (len >= s->cfg.zerocopy_min && !(s->cfg.flags & ZENITH_SERVER_NO_ZEROCOPY) && !(c->flags & ZENITH__C_LOOPBACK)) {
        io_uring_prep_send_zc(sqe, c->fd, p, len, MSG_NOSIGNAL, 0);
        s->st.zerocopy_sends++;
    } else {
        io_uring_prep_send(sqe, c->fd, p, len, MSG_NOSIGNAL);
    }
    io_uring_sqe_set_data64(sqe, ZENITH__UD(ZENITH__OP_SEND, zenith__slot(s, c), idx));
    c->send_inflight = 1;
}

/* The address is read when the SQE is submitted: submit now, while it is on the caller's stack. */
static int zenith__ur_connect_start(zenith_server *s, zenith__conn *c, const struct sockaddr *sa, socklen_t len) {
    struct io_uring_sqe *sqe = zenith__ur_sqe(s);
    int rc;
    if (sqe == NULL) return ZENITH_E_STATE;
    io_uring_prep_connect(sqe, c->fd, sa, len);
    io_uring_sqe_set_data64(sqe, ZENITH__UD(ZENITH__OP_CONNECT, zenith__slot(s, c), c->gen));
    rc = zenith_ring_submit(s->ring);
    return rc < 0 ? rc : 0;
}

static void zenith__ur_connect_cancel(zenith_server *s, zenith__conn *c) {
    struct io_uring_sqe *sqe = zenith__ur_sqe(s);
    if (sqe == NULL) return;
    io_uring_prep_cancel64(sqe, ZENITH__UD(ZENITH__OP_CONNECT, zenith__slot(s, c), c->gen), 0);
    io_uring_sqe_set_data64(sqe, ZENITH__UD(ZENITH__OP_IGNORE, 0, 0));
}

static void zenith__sock_shut(zenith_server *s, zenith__conn *c, int how) {
    (void)s;
    if (c->fd >= 0) shutdown(c->fd, how);
}

static void zenith__ur_listen_stop(zenith_server *s, uint32_t li) {
    shutdown(s->lst[li].fd, SHUT_RDWR); /* ends the multishot accept */
}

/* Before waiting: lend the ring the buffers it is owed, re-arm receives parked on an empty ring
   (oldest first, one per buffer the ring has: re-arming on every returned buffer turned into
   millions of receives failing with ENOBUFS, measured). */
static void zenith__ur_prepare(zenith_server *s) {
    uint32_t budget;
    zenith__ur_refill(s);
    budget = zenith_buf_ring_available(s->br);
    while (s->parked_head && budget) {
        zenith__conn *c = zenith__list_pop(s, &s->parked_head, &s->parked_tail, offsetof(zenith__conn, pnext));
        c->lists &= (uint8_t)~ZENITH__L_PARKED;
        if (c->state == ZENITH__S_OPEN && !c->recv_armed && !c->pause) budget--;
        zenith__settle(s, c);
    }
    zenith__udp_prepare(s, budget);
}

/* UDP on io_uring: one multishot RECVMSG per socket on the provided-buffer ring (the kernel
   writes struct io_uring_recvmsg_out, the sender's address and the control data at the start
   of each buffer, the payload after them; MSG_TRUNC so a cut datagram reports its length).
   Sends: sendmmsg(2) from the loop (zenith__udp_flush), a POLL_ADD when the socket is full. */
static int zenith__ur_udp_open(zenith_server *s, zenith__udp *u) {
    (void)s;
    memset(&u->rmsg, 0, sizeof u->rmsg);
    u->rmsg.msg_namelen = ZENITH__UDP_NAME;
    u->rmsg.msg_controllen = ZENITH__UDP_CTL;
    return 0;
}

static void zenith__ur_udp_close(zenith_server *s, zenith__udp *u) { (void)s, (void)u; }

static void zenith__ur_udp_arm(zenith_server *s, zenith__udp *u) {
    struct io_uring_sqe *sqe = zenith__ur_sqe(s);
    if (sqe == NULL) return;
    io_uring_prep_recvmsg_multishot(sqe, u->fd, &u->rmsg, MSG_TRUNC);
    sqe->flags |= IOSQE_BUFFER_SELECT;
    sqe->buf_group = ZENITH__BUF_GROUP;
    io_uring_sqe_set_data64(sqe, ZENITH__UD(ZENITH__OP_UDP_RECV, (uint32_t)(u - s->udp), u->gen));
    u->recv_armed = 1;
}

static void zenith__ur_udp_cancel(zenith_server *s, zenith__udp *u) {
    struct io_uring_sqe *sqe;
    if (u->flags & ZENITH__U_CANCELING) return;
    if ((sqe = zenith__ur_sqe(s)) == NULL) return;
    io_uring_prep_cancel64(sqe, ZENITH__UD(ZENITH__OP_UDP_RECV, (uint32_t)(u - s->udp), u->gen), 0);
    io_uring_sqe_set_data64(sqe, ZENITH__UD(ZENITH__OP_IGNORE, 0, 0));
    u->flags |= ZENITH__U_CANCELING;
}

/* The socket is full: one POLL_ADD for POLLOUT; its completion sends the rest. */
static void zenith__ur_udp_wait_wr(zenith_server *s, zenith__udp *u) {
    struct io_uring_sqe *sqe;
    if (u->flags & ZENITH__U_POLLING) return;
    if ((sqe = zenith__ur_sqe(s)) == NULL) { /* the ring cannot take it: try again next turn */
        u->flags &= ~(uint32_t)ZENITH__U_WBLOCK;
        s->udp_retry = 1;
        return;
    }
    io_uring_prep_poll_add(sqe, u->fd, POLLOUT);
    io_uring_sqe_set_data64(sqe, ZENITH__UD(ZENITH__OP_UDP_SEND, (uint32_t)(u - s->udp), u->gen));
    u->flags |= ZENITH__U_POLLING;
}

static void zenith__ur_udp_writable(zenith_server *s, uint32_t slot, uint32_t gen) {
    zenith__udp *u;
    if (slot >= s->max_udp || (u = &s->udp[slot])->gen != gen || u->state == ZENITH__U_FREE) {
        s->st.stale_completions++;
        return;
    }
    u->flags &= ~(uint32_t)(ZENITH__U_POLLING | ZENITH__U_WBLOCK);
    zenith__udp_mark(s, u);
}

/* A multishot RECVMSG completion: one datagram in buffer idx, or the end of the receive. */
static void zenith__ur_udp_recv(zenith_server *s, uint32_t slot, uint32_t gen, struct io_uring_cqe *cqe) {
    zenith__udp *u;
    int res = cqe->res, more = (cqe->flags & IORING_CQE_F_MORE) != 0;
    uint32_t idx = zenith__buf_ring_claim_idx(s->br, cqe->flags);
    if (slot >= s->max_udp || (u = &s->udp[slot])->gen != gen) {
        if (idx != ZENITH__NONE) s->be->recv_done(s, idx);
        s->st.stale_completions++;
        return;
    }
    if (!more) {
        u->recv_armed = 0;
        u->flags &= ~(uint32_t)ZENITH__U_CANCELING;
    }
    if (res >= 0 && idx != ZENITH__NONE) {
        unsigned char *b = (unsigned char *)zenith__buf(s, idx);
        struct io_uring_recvmsg_out *o = io_uring_recvmsg_validate(b, res, &u->rmsg);
        if (o == NULL) { /* cannot happen with a buffer of at least the headroom */
            s->be->recv_done(s, idx);
            u->recv_errors++;
        } else {
            struct msghdr ctl;
            memset(&ctl, 0, sizeof ctl);
            ctl.msg_control = b + sizeof *o + u->rmsg.msg_namelen;
            ctl.msg_controllen = o->controllen;
            zenith__udp_deliver(s, u, idx, (const uint8_t *)io_uring_recvmsg_payload(o, &u->rmsg),
                                io_uring_recvmsg_payload_length(o, res, &u->rmsg), o->payloadlen, (int)o->flags,
                                io_uring_recvmsg_name(o), o->namelen, &ctl);
        }
    } else {
        if (idx != ZENITH__NONE) s->be->recv_done(s, idx);
        if (res == -ENOBUFS) { /* every receive buffer is out: the datagrams wait in the socket */
            u->recv_stalls++;
            s->st.recv_buffer_exhausted++;
        } else if (res < 0 && res != -ECANCELED) {
            u->recv_errors++;
            u->last_error = ZENITH_ESYS(-res);
        }
    }
    if (!u->recv_armed) {
        if (u->state == ZENITH__U_OPEN) zenith__udp_park(s, u); /* re-armed when buffers are there */
        zenith__udp_mark(s, u);
    }
}

static void zenith__ur_on_send(zenith_server *s, struct io_uring_cqe *cqe) {
    uint64_t ud = cqe->user_data;
    zenith__conn *c = &s->conns[ZENITH__UD_SLOT(ud)];
    uint32_t idx = ZENITH__UD_TAG(ud);
    if (cqe->flags & IORING_CQE_F_NOTIF) { /* SEND_ZC: the kernel is done with the buffer */
        zenith__ev_kref_done(s, c, idx);
        return;
    }
    if (cqe->flags & IORING_CQE_F_MORE) { /* a SEND_ZC notification follows */
        c->zc_pending++;
        s->krefs[idx]++;
    }
    zenith__ev_sent(s, c, cqe->res);
}

static void zenith__ur_handle(zenith_server *s, struct io_uring_cqe *cqe) {
    uint64_t ud = cqe->user_data;
    int more = (cqe->flags & IORING_CQE_F_MORE) != 0;
    switch (ZENITH__UD_OP(ud)) {
        case ZENITH__OP_ACCEPT: zenith__ev_accept(s, ZENITH__UD_SLOT(ud), cqe->res, more); break;
        case ZENITH__OP_RECV: /* the buffer id the kernel reports is the pool index */
            zenith__ev_recv(s, ZENITH__UD_SLOT(ud), ZENITH__UD_TAG(ud), zenith__buf_ring_claim_idx(s->br, cqe->flags),
                            cqe->res, more);
            break;
        case ZENITH__OP_SEND: zenith__ur_on_send(s, cqe); break;
        case ZENITH__OP_SENDMSG:
            zenith__buf_free(s, ZENITH__UD_TAG(ud)); /* the msghdr buffer */
            zenith__ev_sent(s, &s->conns[ZENITH__UD_SLOT(ud)], cqe->res);
            break;
        case ZENITH__OP_CONNECT: zenith__ev_connect(s, ZENITH__UD_SLOT(ud), ZENITH__UD_TAG(ud), cqe->res); break;
        case ZENITH__OP_WAKE:
            if (!zenith_server_stopped(s)) zenith__ur_arm_wake(s);
            break;
        case ZENITH__OP_UDP_RECV: zenith__ur_udp_recv(s, ZENITH__UD_SLOT(ud), ZENITH__UD_TAG(ud), cqe); break;
        case ZENITH__OP_UDP_SEND: zenith__ur_udp_writable(s, ZENITH__UD_SLOT(ud), ZENITH__UD_TAG(ud)); break;
        default: break;
    }
}

static int zenith__ur_wait(zenith_server *s, int64_t timeout_ns) {
    struct io_uring *r = zenith_ring_raw(s->ring);
    struct io_uring_cqe *batch[64], *cqe;
    unsigned k, i;
    int rc, total = 0;
    if ((rc = zenith__ring_enable(s->ring)) < 0) return rc;
    if (timeout_ns < 0) {
        rc = io_uring_submit_and_wait(r, 1);
    } else if (timeout_ns == 0) { /* busy polling: run task work, post what is ready, never sleep
                                     (a zero timeout would still arm a timer in the kernel) */
        rc = io_uring_submit_and_get_events(r);
    } else {
        struct __kernel_timespec ts;
        ts.tv_sec = (long long)(timeout_ns / 1000000000);
        ts.tv_nsec = (long long)(timeout_ns % 1000000000);
        rc = io_uring_submit_and_wait_timeout(r, &cqe, 1, &ts, NULL);
    }
    if (rc < 0 && rc != -ETIME && rc != -EINTR && rc != -EAGAIN && rc != -EBUSY) return ZENITH_ESYS(-rc);
    zenith__woke(s);
    if (__atomic_load_n(r->sq.kflags, __ATOMIC_RELAXED) & IORING_SQ_CQ_OVERFLOW) s->st.cq_overflow++;
    while ((k = io_uring_peek_batch_cqe(r, batch, 64)) > 0) {
        for (i = 0; i < k; i++) zenith__ur_handle(s, batch[i]);
        io_uring_cq_advance(r, k);
        total += (int)k;
        zenith__settle_dirty(s);
    }
    return total;
}

static const zenith__backend zenith__backend_uring = { "io_uring",
                                                       zenith__ur_init,
                                                       zenith__ur_fini,
                                                       zenith__ur_start,
                                                       zenith__ur_listen_arm,
                                                       zenith__ur_recv_arm,
                                                       zenith__ur_recv_cancel,
                                                       zenith__ur_recv_room,
                                                       zenith__ur_recv_done,
                                                       zenith__ur_recv_kept,
                                                       zenith__ur_buf_put,
                                                       zenith__ur_send_kick,
                                                       zenith__ur_connect_start,
                                                       zenith__ur_connect_cancel,
                                                       zenith__sock_shut,
                                                       zenith__ur_prepare,
                                                       zenith__ur_wait,
                                                       zenith__ur_send_kick,
                                                       zenith__ur_listen_stop,
                                                       0,
                                                       zenith__ur_udp_open,
                                                       zenith__ur_udp_close,
                                                       zenith__ur_udp_arm,
                                                       zenith__ur_udp_cancel,
                                                       zenith__ur_udp_wait_wr,
                                                       zenith__ur_recv_done };

/* ---- reactor: the epoll backend ---------------------------------------------------------------

   Where io_uring is refused (ENOSYS, a seccomp filter, kernel.io_uring_disabled) or asked for.
   The common layer above is the same -- connections, chains, reserve, timers, posts, every
   rule and counter; what changes is who moves the bytes: the loop's own system calls.

   - One epoll set. A connection is registered once, edge-triggered for both directions
     (EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET), when it first reads or first finds its socket
     full, and never modified again: pausing, resuming and a full socket cost no epoll_ctl, where
     level-triggered needs one per change of interest (a paused socket with data, or a writable
     one, would otherwise be reported on every wait). Chosen by counting system calls; the echo
     benchmark compares it with a level-triggered server (docs/PERFORMANCE.md). The event
     data is ZENITH__UD(RECV, slot, generation): an event about a closed slot is stale. The loop
     remembers what the edges said: ZENITH__E_RD "may have data" until a read comes back short or
     with EAGAIN (data arriving after that raises a new edge), ZENITH__E_WBLOCK "the socket was
     full" until EPOLLOUT.
   - Receives: readv(2) into 2 pool buffers, or up to ZENITH__EP_IOV once a read filled more than
     one -- a 16 KiB message at 4 KiB buffers is one system call, as for a server reading into
     one large buffer -- then
     each filled buffer is one on_data, borrowed and keepable exactly as on io_uring. At most
     recv_buffers buffers are out at once, like the provided-buffer ring; with none left the
     connection parks (recv_buffer_exhausted, as ENOBUFS) and is re-armed when buffers return.
     At most ZENITH__EP_READS reads per connection per event: a fast sender cannot starve the
     others (the rest waits on the ready list).
   - Sends: sendmsg(2) with MSG_NOSIGNAL of up to ZENITH__GATHER_MAX queued buffers, from the
     loop only (settle): what one callback or one read queued leaves in one system call. A partial
     send waits for EPOLLOUT. No MSG_ZEROCOPY: on loopback it copies anyway and adds an error-
     queue read per send, and this machine has no NIC to show it paying (docs/SERVER.md).
   - Listeners: level-triggered; accept4 until EAGAIN, at most ZENITH__EP_ACCEPTS per event. On
     EMFILE, ENFILE, ENOBUFS or ENOMEM the listener leaves the set and the common layer retries
     (a timer, or the next connection to close), as on io_uring.
   - Connects: a non-blocking connect(2), registered at once; the first EPOLLOUT / EPOLLERR says
     how it went (SO_ERROR). A result connect(2) gives at once waits on the ready list.
   - The ready list: connections with work no kernel event will announce (a read to go on with,
     a connect result, a send or registration failure). Served after the events; a wait with it
     non-empty does not sleep.
   - The wake-up eventfd is in the set (level-triggered) and drained when it fires.
   Nothing is reported from inside an API call: every result enters the common layer through the
   zenith__ev_* entry points from the loop, exactly as the io_uring backend's completions do. */

enum {                             /* zenith__conn.bflags on the epoll backend */
       ZENITH__E_REG = 1u << 0,    /* in the epoll set */
       ZENITH__E_RD = 1u << 1,     /* may have data (an edge came; no short read since) */
       ZENITH__E_WBLOCK = 1u << 2, /* a send found the socket full: waiting for EPOLLOUT */
       ZENITH__E_ERR = 1u << 3,    /* a send or the registration failed with errno berr */
       ZENITH__E_CDONE = 1u << 4,  /* connect(2) answered at once (berr): to report */
       ZENITH__E_HUP = 1u << 5,    /* the peer's FIN (or an error) came: read to the end, a short
                                      read is not the end (the edge for it is already spent) */
       ZENITH__E_BIG = 1u << 6     /* the last read filled more than one buffer: offer up to 8 (a
                                      16 KiB message at 4 KiB buffers: one readv); else 2, so a
                                      message that fills one buffer exactly still comes back short
                                      and needs no second read to find EAGAIN (measured: 1.5 reads
                                      per 16 KiB message at 16 KiB buffers when 1 was offered) */
};
#define ZENITH__EP_IOV 8u      /* pool buffers per readv */
#define ZENITH__EP_READS 4u    /* readv calls per connection per event */
#define ZENITH__EP_SENDS 4u    /* sendmsg calls per connection per settle */
#define ZENITH__EP_EVENTS 128  /* events per epoll_wait */
#define ZENITH__EP_ACCEPTS 64u /* accept4 calls per listener event */

static void zenith__ep_ready(zenith_server *s, zenith__conn *c) {
    if (c->lists & ZENITH__L_READY) return;
    c->lists |= ZENITH__L_READY;
    ZENITH__LIST_PUSH(s, ready_head, ready_tail, rnext, c);
}

/* Something to report from the loop: errno e (a send, a registration). */
static void zenith__ep_fail(zenith_server *s, zenith__conn *c, int e) {
    c->berr = e;
    c->bflags |= ZENITH__E_ERR;
    zenith__ep_ready(s, c);
}

static int zenith__ep_register(zenith_server *s, zenith__conn *c) {
    struct epoll_event ev;
    if (c->bflags & ZENITH__E_REG) return 0;
    memset(&ev, 0, sizeof ev);
    ev.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
    ev.data.u64 = ZENITH__UD(ZENITH__OP_RECV, zenith__slot(s, c), c->gen);
    if (epoll_ctl(s->ep_fd, EPOLL_CTL_ADD, c->fd, &ev) < 0) return errno;
    c->bflags |= ZENITH__E_REG;
    return 0;
}

/* The read buffers: up to ZENITH__EP_IOV pool buffers a read can fill (never more than
   recv_buffers). Held for the reactor's life like the ring's buffers on io_uring, topped up from
   the pool before a read that lacks one and before every wait, so the pool's in_use does not
   wander with the traffic. A freed buffer refills them first: an echo that keeps its buffer and
   sends it back touches the pool not at all (it did twice per message when every read topped up
   at once and the send's buffer went back to the pool). */
static uint32_t zenith__ep_spare_cap(const zenith_server *s) {
    return s->cfg.recv_buffers < ZENITH__EP_IOV ? s->cfg.recv_buffers : ZENITH__EP_IOV;
}

static void zenith__ep_top_up(zenith_server *s) {
    uint32_t cap = zenith__ep_spare_cap(s);
    while (s->ep_spare_n < cap) {
        void *b = zenith_pool_acquire(s->pool);
        if (b == NULL) break;
        s->ep_spare[s->ep_spare_n++] = (uint32_t)zenith_pool_index(s->pool, b);
    }
}

static int zenith__ep_init(zenith_server *s) {
    s->ep_fd = epoll_create1(EPOLL_CLOEXEC);
    if (s->ep_fd < 0) return ZENITH_ESYS(errno);
    zenith__ep_top_up(s);
    return 0;
}

static void zenith__ep_fini(zenith_server *s) {
    if (s->ep_fd >= 0) close(s->ep_fd);
    s->ep_fd = -1;
    while (s->ep_spare_n) zenith_pool_release(s->pool, zenith__buf(s, s->ep_spare[--s->ep_spare_n]));
}

static int zenith__ep_start(zenith_server *s) {
    struct epoll_event ev;
    memset(&ev, 0, sizeof ev);
    ev.events = EPOLLIN;
    ev.data.u64 = ZENITH__UD(ZENITH__OP_WAKE, 0, 0);
    return epoll_ctl(s->ep_fd, EPOLL_CTL_ADD, s->wake_fd, &ev) < 0 ? ZENITH_ESYS(errno) : 0;
}

static void zenith__ep_listen_arm(zenith_server *s, uint32_t li) {
    struct epoll_event ev;
    zenith__listener *l = &s->lst[li];
    if (l->armed || l->fd < 0) return;
    memset(&ev, 0, sizeof ev);
    ev.events = EPOLLIN; /* level-triggered: a backlog left after a burst is reported again */
    ev.data.u64 = ZENITH__UD(ZENITH__OP_ACCEPT, li, 0);
    if (epoll_ctl(s->ep_fd, EPOLL_CTL_ADD, l->fd, &ev) == 0 || errno == EEXIST)
        l->armed = 1;
    else
        zenith__ev_accept(s, li, -errno, 0); /* counted; the common layer retries */
}

/* Out of the set before the close: a forked child that still holds the socket would otherwise
   keep it reported (level-triggered) with nothing left to accept it. */
static void zenith__ep_listen_stop(zenith_server *s, uint32_t li) {
    if (s->lst[li].armed) epoll_ctl(s->ep_fd, EPOLL_CTL_DEL, s->lst[li].fd, NULL);
    s->lst[li].armed = 0;
}

static void zenith__ep_recv_arm(zenith_server *s, zenith__conn *c) {
    int e;
    c->recv_armed = 1;
    if ((e = zenith__ep_register(s, c)) != 0) {
        zenith__ep_fail(s, c, e);
        return;
    }
    if (c->bflags & ZENITH__E_RD) zenith__ep_ready(s, c); /* data came while paused: read it */
}

static void zenith__ep_recv_cancel(zenith_server *s, zenith__conn *c) {
    (void)s; /* nothing in flight: done at once */
    c->recv_armed = 0;
    c->flags &= (uint16_t)~ZENITH__C_CANCELING;
}

/* Buffers reads can take now: within recv_buffers, and only with a read buffer at hand (a read
   on a dry pool would only find it dry: ENOBUFS again and again, measured as 460,000 of them
   in 0.75 s). */
static uint32_t zenith__ep_recv_room(zenith_server *s) {
    return s->ep_spare_n && s->cfg.recv_buffers > s->ep_lent ? s->cfg.recv_buffers - s->ep_lent : 0u;
}

/* A free buffer: kept for the next read while there is room, else back to the pool. */
static void zenith__ep_buf_put(zenith_server *s, uint32_t idx) {
    if (s->ep_spare_n < zenith__ep_spare_cap(s))
        s->ep_spare[s->ep_spare_n++] = idx;
    else
        zenith_pool_release(s->pool, zenith__buf(s, idx));
}

static void zenith__ep_recv_done(zenith_server *s, uint32_t idx) {
    s->ep_lent--;
    zenith__ep_buf_put(s, idx);
}

static void zenith__ep_recv_kept(zenith_server *s) { /* the application's now (replaced lazily) */
    s->ep_lent--;
}

/* An API call queued data: sent when the loop settles the connection, never inside the call. */
static void zenith__ep_send_kick(zenith_server *s, zenith__conn *c) { zenith__mark(s, c); }

/* The socket is full: wait for EPOLLOUT (registering the connection if it never read). */
static void zenith__ep_block(zenith_server *s, zenith__conn *c) {
    int e;
    c->bflags |= ZENITH__E_WBLOCK;
    if ((e = zenith__ep_register(s, c)) != 0) zenith__ep_fail(s, c, e);
}

/* Sends the queue (settle calls this): up to ZENITH__GATHER_MAX buffers per sendmsg. */
static void zenith__ep_send_now(zenith_server *s, zenith__conn *c) {
    struct iovec iov[ZENITH__GATHER_MAX];
    struct msghdr msg;
    uint32_t round;
    if (c->sq.head == 0 || c->fd < 0 || (c->flags & ZENITH__C_WR_SHUT) ||
        (c->bflags & (ZENITH__E_WBLOCK | ZENITH__E_ERR)))
        return;
    if (s->ep_hold) { /* a read is handing out its buffers: one send after all of them */
        zenith__mark(s, c);
        return;
    }
    for (round = 0; round < ZENITH__EP_SENDS && c->sq.head; round++) {
        uint32_t it, k = 0;
        size_t total = 0;
        ssize_t r;
        for (it = c->sq.head; it && k < ZENITH__GATHER_MAX; it = s->bnext[it - 1u], k++) {
            iov[k].iov_base = (unsigned char *)zenith__buf(s, it - 1u) + s->boff[it - 1u];
            iov[k].iov_len = s->blen[it - 1u] - s->boff[it - 1u];
            total += iov[k].iov_len;
        }
        if (k == 1) {
            r = send(c->fd, iov[0].iov_base, iov[0].iov_len, MSG_NOSIGNAL | MSG_DONTWAIT);
        } else {
            memset(&msg, 0, sizeof msg);
            msg.msg_iov = iov;
            msg.msg_iovlen = k;
            r = sendmsg(c->fd, &msg, MSG_NOSIGNAL | MSG_DONTWAIT);
        }
        if (r < 0) {
            if (errno == EINTR) continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                zenith__ep_block(s, c);
            else
                zenith__ep_fail(s, c, errno); /* EPIPE, ECONNRESET, ...: reported from the loop */
            return;
        }
        zenith__sent_bytes(s, c, (uint32_t)r);
        if ((size_t)r < total) {
            zenith__ep_block(s, c);
            return;
        }
    }
    if (c->sq.head) zenith__mark(s, c); /* more: after the others had their turn */
}

/* Non-blocking connect; the result comes from the loop. Fails only if the socket cannot join
   the epoll set (the caller then frees the slot: the application never saw it). */
static int zenith__ep_connect_start(zenith_server *s, zenith__conn *c, const struct sockaddr *sa, socklen_t len) {
    int e;
    if ((e = zenith__ep_register(s, c)) != 0) return ZENITH_ESYS(e);
    if (connect(c->fd, sa, len) == 0)
        e = 0;
    else if (errno == EINPROGRESS || errno == EINTR) /* the usual: the first edge tells */
        return 0;
    else
        e = errno; /* refused at once (loopback may): still reported by on_connect, from the loop */
    c->berr = e;
    c->bflags |= ZENITH__E_CDONE;
    zenith__ep_ready(s, c);
    return 0;
}

static void zenith__ep_connect_cancel(zenith_server *s, zenith__conn *c) {
    (void)s; /* closing the socket (finish) ends the attempt */
    c->flags &= (uint16_t)~ZENITH__C_CONNECTING;
    c->bflags &= (uint8_t)~ZENITH__E_CDONE;
}

/* Before waiting: re-arm parked receives, one per buffer the reads can take (as io_uring). */
static void zenith__ep_udp_top_up(zenith_server *s, uint32_t want);

static void zenith__ep_prepare(zenith_server *s) {
    uint32_t budget;
    if (s->ep_spare_n < zenith__ep_spare_cap(s)) zenith__ep_top_up(s); /* the pool was dry */
    budget = zenith__ep_recv_room(s);
    if (s->ep_spare_n < zenith__ep_spare_cap(s) && budget > s->ep_spare_n) budget = s->ep_spare_n; /* still dry */
    while (s->parked_head && budget) {
        zenith__conn *c = zenith__list_pop(s, &s->parked_head, &s->parked_tail, offsetof(zenith__conn, pnext));
        c->lists &= (uint8_t)~ZENITH__L_PARKED;
        if (c->state == ZENITH__S_OPEN && !c->recv_armed && !c->pause) budget--;
        zenith__settle(s, c);
    }
    if (s->udp_parked_head || s->udp_need_wr || s->udp_retry) {
        /* a parked UDP read goes again only with a buffer in hand: kept buffers leave ep_lent,
           so room alone would re-arm on an empty pool, stall again and never let the loop sleep */
        uint32_t room = s->cfg.recv_buffers > s->ep_lent ? s->cfg.recv_buffers - s->ep_lent : 0u;
        if (s->udp_parked_head) zenith__ep_udp_top_up(s, room);
        zenith__udp_prepare(s, room < s->udp_spare_n ? room : s->udp_spare_n);
    }
}

/* Reads what the socket has (bounded), each filled buffer one delivery. */
static void zenith__ep_read(zenith_server *s, zenith__conn *c) {
    uint32_t slot = zenith__slot(s, c), gen = c->gen, round, size = s->cfg.buffer_size;
    for (round = 0; round < ZENITH__EP_READS; round++) {
        struct iovec iov[ZENITH__EP_IOV];
        uint32_t got[ZENITH__EP_IOV], room, k, i, n;
        ssize_t r;
        if (c->gen != gen || !c->recv_armed || !(c->bflags & ZENITH__E_RD) ||
            (c->state != ZENITH__S_OPEN && c->state != ZENITH__S_FLUSHING))
            return;
        if (s->ep_spare_n < zenith__ep_spare_cap(s)) zenith__ep_top_up(s); /* after a keep, a dry pool */
        room = zenith__ep_recv_room(s);
        if (room > 2u && !(c->bflags & ZENITH__E_BIG)) room = 2u;
        k = s->ep_spare_n < room ? s->ep_spare_n : room;
        if (k == 0) { /* every receive buffer is out: wait for some (as ENOBUFS on io_uring) */
            zenith__ev_recv(s, slot, gen, ZENITH__NONE, -ENOBUFS, 0);
            return;
        }
        for (i = 0; i < k; i++) {
            iov[i].iov_base = zenith__buf(s, s->ep_spare[s->ep_spare_n - 1u - i]);
            iov[i].iov_len = size;
        }
        r = k == 1 ? recv(c->fd, iov[0].iov_base, size, MSG_DONTWAIT) : readv(c->fd, iov, (int)k);
        if (r < 0) {
            if (errno == EINTR) continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK) {
                c->bflags &= (uint8_t)~ZENITH__E_RD;
            } else {
                c->bflags &= (uint8_t)~ZENITH__E_RD;
                zenith__ev_recv(s, slot, gen, ZENITH__NONE, -errno, 0); /* ECONNRESET, ... */
            }
            return;
        }
        if (r == 0) { /* the peer's EOF */
            c->bflags &= (uint8_t)~ZENITH__E_RD;
            zenith__ev_recv(s, slot, gen, ZENITH__NONE, 0, 0);
            return;
        }
        if ((size_t)r > size || (size_t)r == (size_t)k * size) /* bulk: offer 8 next time */
            c->bflags |= ZENITH__E_BIG;
        else
            c->bflags &= (uint8_t)~ZENITH__E_BIG;
        if ((size_t)r < (size_t)k * size && !(c->bflags & ZENITH__E_HUP))
            c->bflags &= (uint8_t)~ZENITH__E_RD; /* drained: what comes later raises a new edge */
        n = (uint32_t)(((size_t)r + size - 1u) / size);
        for (i = 0; i < n; i++) got[i] = s->ep_spare[--s->ep_spare_n]; /* before a callback frees one */
        s->ep_lent += n; /* not topped up here: the buffer a send frees refills the spares, not the pool */
        s->ep_hold = 1;
        for (i = 0; i < n; i++) {
            uint32_t len = (size_t)r > size ? size : (uint32_t)r;
            r -= (ssize_t)len;
            zenith__ev_recv(s, slot, gen, got[i], (int)len, 1); /* stale (closed meanwhile): given back */
        }
        s->ep_hold = 0;
    }
    if (c->gen == gen && c->recv_armed && (c->bflags & ZENITH__E_RD)) zenith__ep_ready(s, c); /* more: next turn */
}

static void zenith__ep_accept(zenith_server *s, uint32_t li) {
    uint32_t k;
    for (k = 0; k < ZENITH__EP_ACCEPTS; k++) {
        int fd, e;
        if (li >= s->listeners || s->lst[li].fd < 0 || !s->lst[li].armed) return;
        if (zenith_server_stopped(s) || s->shutting_down) return; /* leave them in the backlog */
        fd = accept4(s->lst[li].fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd >= 0) {
            zenith__ev_accept(s, li, fd, 1);
            zenith__settle_dirty(s);
            continue;
        }
        e = errno;
        if (e == EAGAIN || e == EWOULDBLOCK) return;
        if (e == EINTR) continue;
        if (e != EMFILE && e != ENFILE && e != ENOBUFS && e != ENOMEM) { /* this one failed, not the listener */
            s->st.accept_errors++;
            continue;
        }
        /* out of descriptors or memory: stop listening until a descriptor frees or the timer */
        epoll_ctl(s->ep_fd, EPOLL_CTL_DEL, s->lst[li].fd, NULL);
        zenith__ev_accept(s, li, -e, 0);
        return;
    }
}

/* A connection's event. */
static void zenith__ep_conn_event(zenith_server *s, uint32_t slot, uint32_t gen, uint32_t ev) {
    zenith__conn *c;
    if (slot >= s->max_conns || (c = &s->conns[slot])->gen != gen || c->state == ZENITH__S_FREE) {
        s->st.stale_completions++;
        return;
    }
    if (ev & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) c->bflags |= ZENITH__E_RD;
    if (ev & (EPOLLRDHUP | EPOLLHUP | EPOLLERR)) c->bflags |= ZENITH__E_HUP;
    if (c->flags & ZENITH__C_CONNECTING) {
        int err = 0;
        socklen_t l = sizeof err;
        if (!(ev & (EPOLLOUT | EPOLLERR | EPOLLHUP)) || (c->bflags & ZENITH__E_CDONE)) return;
        if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &l) < 0) err = errno;
        if (err == 0 && !(ev & EPOLLOUT)) err = ECONNREFUSED; /* hung up without an error: refused */
        zenith__ev_connect(s, slot, gen, -err);
        if (c->gen != gen) return;
    }
    if ((ev & (EPOLLOUT | EPOLLERR | EPOLLHUP)) && (c->bflags & ZENITH__E_WBLOCK)) {
        c->bflags &= (uint8_t)~ZENITH__E_WBLOCK;
        zenith__settle(s, c); /* sends what is queued */
        if (c->gen != gen) return;
    }
    if (c->recv_armed && (c->bflags & ZENITH__E_RD)) zenith__ep_read(s, c);
}

/* Work from the ready list (what stands there now; what joins meanwhile waits for the next turn). */
static int zenith__ep_serve_ready(zenith_server *s) {
    uint32_t last = s->ready_tail;
    int n = 0;
    while (s->ready_head) {
        uint32_t sl = s->ready_head, gen;
        zenith__conn *c = zenith__list_pop(s, &s->ready_head, &s->ready_tail, offsetof(zenith__conn, rnext));
        c->lists &= (uint8_t)~ZENITH__L_READY;
        gen = c->gen;
        n++;
        if (c->state != ZENITH__S_FREE) {
            if (c->bflags & ZENITH__E_ERR) {
                c->bflags &= (uint8_t)~ZENITH__E_ERR;
                zenith__ev_sent(s, c, -c->berr);
            } else {
                if (c->bflags & ZENITH__E_CDONE) {
                    c->bflags &= (uint8_t)~ZENITH__E_CDONE;
                    if (c->flags & ZENITH__C_CONNECTING) zenith__ev_connect(s, sl - 1u, gen, -c->berr);
                }
                if (c->gen == gen && c->recv_armed && (c->bflags & ZENITH__E_RD)) zenith__ep_read(s, c);
            }
            zenith__settle_dirty(s);
        }
        if (sl == last) break;
    }
    return n;
}

/* UDP on epoll: the socket is registered once, edge-triggered (EPOLLIN | EPOLLOUT); reads are
   recvmmsg(2) batches of up to ZENITH__UDP_BATCH into pool buffers (MSG_TRUNC: a cut datagram
   reports its length), at most ZENITH__EP_READS batches per event (the rest waits on the ready
   list), within recv_buffers buffers out at once as on io_uring; sends are sendmmsg(2) of up to
   ZENITH__UDP_BATCH queued datagrams, from the loop. */
static void zenith__ep_udp_ready(zenith_server *s, zenith__udp *u) {
    if (u->lists & ZENITH__UL_READY) return;
    u->lists |= ZENITH__UL_READY;
    zenith__ulist_push(s, &s->udp_ready_head, &s->udp_ready_tail, offsetof(zenith__udp, rnext), u);
}

static int zenith__ep_udp_open(zenith_server *s, zenith__udp *u) {
    struct epoll_event ev;
    memset(&ev, 0, sizeof ev);
    ev.events = EPOLLOUT | EPOLLET | (u->on_recv ? (uint32_t)EPOLLIN : 0u);
    ev.data.u64 = ZENITH__UD(ZENITH__OP_UDP_RECV, (uint32_t)(u - s->udp), u->gen);
    if (epoll_ctl(s->ep_fd, EPOLL_CTL_ADD, u->fd, &ev) < 0) return ZENITH_ESYS(errno);
    u->flags |= ZENITH__U_REG;
    return 0;
}

static void zenith__ep_udp_close(zenith_server *s, zenith__udp *u) {
    if (u->flags & ZENITH__U_REG) epoll_ctl(s->ep_fd, EPOLL_CTL_DEL, u->fd, NULL);
    u->flags &= ~(uint32_t)ZENITH__U_REG;
}

static void zenith__ep_udp_arm(zenith_server *s, zenith__udp *u) {
    u->recv_armed = 1;
    if (u->flags & ZENITH__U_RD) zenith__ep_udp_ready(s, u); /* data came meanwhile: read it */
}

static void zenith__ep_udp_cancel(zenith_server *s, zenith__udp *u) {
    (void)s;
    u->recv_armed = 0;
}

static uint32_t zenith__ep_udp_spare_cap(const zenith_server *s) {
    return s->cfg.recv_buffers < ZENITH__UDP_BATCH ? s->cfg.recv_buffers : ZENITH__UDP_BATCH;
}

/* Takes pool buffers for the next recvmmsg, up to `want` in hand (fewer if the pool is dry). */
static void zenith__ep_udp_top_up(zenith_server *s, uint32_t want) {
    uint32_t cap = zenith__ep_udp_spare_cap(s);
    if (want > cap) want = cap;
    while (s->udp_spare_n < want) {
        void *b = zenith_pool_acquire(s->pool);
        if (b == NULL) break;
        s->udp_spare[s->udp_spare_n++] = (uint32_t)zenith_pool_index(s->pool, b);
    }
}

static void zenith__ep_udp_done(zenith_server *s, uint32_t idx) {
    s->ep_lent--;
    if (s->udp_spare_n < zenith__ep_udp_spare_cap(s))
        s->udp_spare[s->udp_spare_n++] = idx;
    else
        zenith__ep_buf_put(s, idx);
}

/* The socket is full: its EPOLLOUT edge (registered from the start) marks it. */
static void zenith__ep_udp_wait_wr(zenith_server *s, zenith__udp *u) { (void)s, (void)u; }

/* Reads what the socket has (bounded), each datagram one delivery. */
static void zenith__ep_udp_read(zenith_server *s, zenith__udp *u) {
    uint32_t gen = u->gen, round, cap = s->cfg.buffer_size - ZENITH_UDP_RECV_HEADROOM;
    for (round = 0; round < ZENITH__EP_READS; round++) {
        struct mmsghdr v[ZENITH__UDP_BATCH];
        struct iovec iov[ZENITH__UDP_BATCH];
        struct sockaddr_in6 names[ZENITH__UDP_BATCH];
        union {
            size_t align;
            unsigned char b[ZENITH__UDP_CTL];
        } ctl[ZENITH__UDP_BATCH];
        uint32_t got[ZENITH__UDP_BATCH], room, k, i, want = zenith__ep_udp_spare_cap(s);
        int r;
        if (u->gen != gen || !u->recv_armed || !(u->flags & ZENITH__U_RD) || u->state != ZENITH__U_OPEN) return;
        room = s->cfg.recv_buffers > s->ep_lent ? s->cfg.recv_buffers - s->ep_lent : 0u;
        if (want > room) want = room;
        zenith__ep_udp_top_up(s, want);
        k = s->udp_spare_n < want ? s->udp_spare_n : want;
        if (k == 0) { /* every receive buffer is out: wait for some (as ENOBUFS on io_uring) */
            u->recv_stalls++;
            s->st.recv_buffer_exhausted++;
            u->recv_armed = 0;
            zenith__udp_park(s, u);
            return;
        }
        for (i = 0; i < k; i++) {
            iov[i].iov_base = zenith__buf(s, s->udp_spare[s->udp_spare_n - 1u - i]);
            iov[i].iov_len = cap;
            memset(&v[i].msg_hdr, 0, sizeof v[i].msg_hdr);
            v[i].msg_hdr.msg_iov = &iov[i];
            v[i].msg_hdr.msg_iovlen = 1;
            v[i].msg_hdr.msg_name = &names[i];
            v[i].msg_hdr.msg_namelen = sizeof names[i];
            v[i].msg_hdr.msg_control = ctl[i].b;
            v[i].msg_hdr.msg_controllen = sizeof ctl[i].b;
            v[i].msg_len = 0;
        }
        r = recvmmsg(u->fd, v, k, MSG_DONTWAIT | MSG_TRUNC, NULL);
        if (r < 0) {
            int e = errno;
            if (e == EINTR) continue;
            if (e == EAGAIN || e == EWOULDBLOCK) {
                u->flags &= ~(uint32_t)ZENITH__U_RD;
                return;
            }
            u->recv_errors++; /* ECONNREFUSED (an ICMP error on a connected socket): reported once */
            u->last_error = ZENITH_ESYS(e);
            continue;
        }
        for (i = 0; i < (uint32_t)r; i++) got[i] = s->udp_spare[--s->udp_spare_n]; /* before a callback frees one */
        s->ep_lent += (uint32_t)r;
        for (i = 0; i < (uint32_t)r; i++) {
            uint32_t len = v[i].msg_len, inbuf = len < cap ? len : cap;
            zenith__udp_deliver(s, u, got[i], (const uint8_t *)zenith__buf(s, got[i]), inbuf, len,
                                v[i].msg_hdr.msg_flags, &names[i], v[i].msg_hdr.msg_namelen, &v[i].msg_hdr);
        }
        zenith__udp_settle_all(s); /* what the callbacks queued leaves before the next batch */
        if ((uint32_t)r < k) {     /* drained: what comes later raises a new edge */
            if (u->gen == gen) u->flags &= ~(uint32_t)ZENITH__U_RD;
            return;
        }
    }
    if (u->gen == gen && u->recv_armed && (u->flags & ZENITH__U_RD)) zenith__ep_udp_ready(s, u); /* more: next turn */
}

static void zenith__ep_udp_event(zenith_server *s, uint32_t slot, uint32_t gen, uint32_t ev) {
    zenith__udp *u;
    if (slot >= s->max_udp || (u = &s->udp[slot])->gen != gen || u->state == ZENITH__U_FREE) {
        s->st.stale_completions++;
        return;
    }
    if (ev & (EPOLLIN | EPOLLERR)) u->flags |= ZENITH__U_RD;
    if ((ev & (EPOLLOUT | EPOLLERR)) && (u->flags & ZENITH__U_WBLOCK)) {
        u->flags &= ~(uint32_t)ZENITH__U_WBLOCK;
        zenith__udp_mark(s, u);
    }
    if (u->recv_armed && (u->flags & ZENITH__U_RD)) zenith__ep_udp_read(s, u);
}

/* UDP sockets with work no edge will announce: more to read, more to send. */
static int zenith__ep_udp_serve_ready(zenith_server *s) {
    uint32_t last = s->udp_ready_tail;
    int n = 0;
    while (s->udp_ready_head) {
        uint32_t sl = s->udp_ready_head;
        zenith__udp *u = zenith__ulist_pop(s, &s->udp_ready_head, &s->udp_ready_tail, offsetof(zenith__udp, rnext));
        u->lists &= (uint8_t)~ZENITH__UL_READY;
        n++;
        if (u->state != ZENITH__U_FREE) {
            if (u->recv_armed && (u->flags & ZENITH__U_RD)) zenith__ep_udp_read(s, u);
            if (u->state != ZENITH__U_FREE && u->qhead != u->qtail) zenith__udp_mark(s, u);
            zenith__settle_dirty(s);
        }
        if (sl == last) break;
    }
    return n;
}

static int zenith__ep_pwait(zenith_server *s, struct epoll_event *ev, int64_t timeout_ns) {
    int ms;
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 35))
    if (timeout_ns > 0 && !s->ep_no_pwait2) { /* ns: a timer is never early, and not late by a ms */
        struct timespec ts;
        int n;
        ts.tv_sec = (time_t)(timeout_ns / 1000000000);
        ts.tv_nsec = (long)(timeout_ns % 1000000000);
        n = epoll_pwait2(s->ep_fd, ev, ZENITH__EP_EVENTS, &ts, NULL);
        if (n >= 0 || (errno != ENOSYS && errno != EPERM)) return n;
        s->ep_no_pwait2 = 1; /* an older kernel, or a seccomp profile that predates it */
    }
#endif
    ms = timeout_ns < 0                             ? -1
         : timeout_ns >= (int64_t)INT_MAX * 1000000 ? INT_MAX
                                                    : (int)((timeout_ns + 999999) / 1000000); /* up: never early */
    return epoll_wait(s->ep_fd, ev, ZENITH__EP_EVENTS, ms);
}

static int zenith__ep_wait(zenith_server *s, int64_t timeout_ns) {
    struct epoll_event ev[ZENITH__EP_EVENTS];
    int n, i;
    if (s->ready_head || s->udp_ready_head) timeout_ns = 0; /* work is waiting: look, do not sleep */
    n = zenith__ep_pwait(s, ev, timeout_ns);
    if (n < 0) {
        if (errno != EINTR) return ZENITH_ESYS(errno);
        n = 0;
    }
    zenith__woke(s);
    for (i = 0; i < n; i++) {
        uint64_t ud = ev[i].data.u64;
        switch (ZENITH__UD_OP(ud)) {
            case ZENITH__OP_ACCEPT: zenith__ep_accept(s, ZENITH__UD_SLOT(ud)); break;
            case ZENITH__OP_WAKE: {
                uint64_t v;
                if (read(s->wake_fd, &v, sizeof v) < 0) { /* EAGAIN: already drained */
                }
                break;
            }
            case ZENITH__OP_UDP_RECV:
                zenith__ep_udp_event(s, ZENITH__UD_SLOT(ud), ZENITH__UD_TAG(ud), ev[i].events);
                break;
            default: zenith__ep_conn_event(s, ZENITH__UD_SLOT(ud), ZENITH__UD_TAG(ud), ev[i].events); break;
        }
        zenith__settle_dirty(s);
    }
    n += zenith__ep_serve_ready(s);
    return s->udp_ready_head ? n + zenith__ep_udp_serve_ready(s) : n;
}

static const zenith__backend zenith__backend_epoll = { "epoll",
                                                       zenith__ep_init,
                                                       zenith__ep_fini,
                                                       zenith__ep_start,
                                                       zenith__ep_listen_arm,
                                                       zenith__ep_recv_arm,
                                                       zenith__ep_recv_cancel,
                                                       zenith__ep_recv_room,
                                                       zenith__ep_recv_done,
                                                       zenith__ep_recv_kept,
                                                       zenith__ep_buf_put,
                                                       zenith__ep_send_kick,
                                                       zenith__ep_connect_start,
                                                       zenith__ep_connect_cancel,
                                                       zenith__sock_shut,
                                                       zenith__ep_prepare,
                                                       zenith__ep_wait,
                                                       zenith__ep_send_now,
                                                       zenith__ep_listen_stop,
                                                       SOCK_NONBLOCK,
                                                       zenith__ep_udp_open,
                                                       zenith__ep_udp_close,
                                                       zenith__ep_udp_arm,
                                                       zenith__ep_udp_cancel,
                                                       zenith__ep_udp_wait_wr,
                                                       zenith__ep_udp_done };

/* ---- UDP sockets: the API ------------------------------------------------------------------------------ */

ZENITH_API int zenith_addr_set(zenith_addr *out, const char *ip, uint16_t port) {
    struct sockaddr_storage ss;
    socklen_t len;
    if (out == NULL || ip == NULL) return ZENITH_E_NULL;
    memset(out, 0, sizeof *out);
    if (zenith__parse_addr(ip, port, &ss, &len) != 0) return ZENITH_E_INVAL;
    memcpy(out->sa, &ss, len);
    out->len = (uint32_t)len;
    return 0;
}

/* The family of an address (AF_INET, AF_INET6), or 0 when it is not one. */
static int zenith__addr_family(const zenith_addr *a) {
    sa_family_t f;
    if (a == NULL) return 0;
    memcpy(&f, a->sa, sizeof f);
    if (f == AF_INET && a->len == sizeof(struct sockaddr_in)) return AF_INET;
    if (f == AF_INET6 && a->len == sizeof(struct sockaddr_in6)) return AF_INET6;
    return 0;
}

ZENITH_API int zenith_addr_format(const zenith_addr *a, char *buf, size_t cap) {
    char ip[INET6_ADDRSTRLEN], tmp[64];
    int fam, n;
    if (a == NULL || buf == NULL) return ZENITH_E_NULL;
    if ((fam = zenith__addr_family(a)) == 0) return ZENITH_E_INVAL;
    if (fam == AF_INET) {
        struct sockaddr_in v4;
        memcpy(&v4, a->sa, sizeof v4);
        inet_ntop(AF_INET, &v4.sin_addr, ip, sizeof ip);
        n = snprintf(tmp, sizeof tmp, "%s:%u", ip, (unsigned)ntohs(v4.sin_port));
    } else {
        struct sockaddr_in6 v6;
        memcpy(&v6, a->sa, sizeof v6);
        inet_ntop(AF_INET6, &v6.sin6_addr, ip, sizeof ip);
        n = snprintf(tmp, sizeof tmp, "[%s]:%u", ip, (unsigned)ntohs(v6.sin6_port));
    }
    if (n < 0 || (size_t)n >= cap) return ZENITH_E_RANGE;
    memcpy(buf, tmp, (size_t)n + 1u);
    return n;
}

ZENITH_API uint16_t zenith_addr_port(const zenith_addr *a) {
    int fam = zenith__addr_family(a);
    if (fam == AF_INET) {
        struct sockaddr_in v4;
        memcpy(&v4, a->sa, sizeof v4);
        return ntohs(v4.sin_port);
    }
    if (fam == AF_INET6) {
        struct sockaddr_in6 v6;
        memcpy(&v6, a->sa, sizeof v6);
        return ntohs(v6.sin6_port);
    }
    return 0;
}

/* SO_RCVBUF / SO_SNDBUF: the FORCE variant first (root: past net.core.rmem_max). */
static void zenith__bufsize(int fd, int force, int plain, uint32_t bytes) {
    int v = bytes > (uint32_t)INT_MAX / 2u ? INT_MAX / 2 : (int)bytes;
    if (bytes == 0) return;
    if (setsockopt(fd, SOL_SOCKET, force, &v, sizeof v) != 0) setsockopt(fd, SOL_SOCKET, plain, &v, sizeof v);
}

ZENITH_API int zenith_udp_open(zenith_server *s, const zenith_udp_config *cfg_in, zenith_udp_id *out) {
    zenith_udp_config cfg;
    struct sockaddr_storage ss, ps;
    socklen_t sl = 0, pl = 0;
    zenith__udp *u;
    int fd, e, one = 1, fam;
    uint32_t known = ZENITH_UDP_REUSEADDR | ZENITH_UDP_REUSEPORT | ZENITH_UDP_V6ONLY | ZENITH_UDP_GRO |
                     ZENITH_UDP_NO_TIMESTAMPS | ZENITH_UDP_HW_TIMESTAMPS | ZENITH_UDP_BROADCAST,
             flags = 0, qn;
    if (out) *out = 0;
    if (s == NULL || cfg_in == NULL || out == NULL) return ZENITH_E_NULL;
    if ((e = zenith__config_in(&cfg, sizeof cfg, sizeof cfg, cfg_in)) != 0) return e;
    if ((cfg.flags & ~known) || cfg.reserved_ ||
        ((cfg.flags & ZENITH_UDP_GRO) && s->cfg.buffer_size < ZENITH_UDP_GRO_BUFFER) ||
        s->cfg.buffer_size < ZENITH_UDP_RECV_HEADROOM + 64u || (cfg.peer_address == NULL && cfg.peer_port) ||
        (cfg.peer_address != NULL && cfg.peer_port == 0) ||
        zenith__parse_addr(cfg.address ? cfg.address : "0.0.0.0", cfg.port, &ss, &sl) != 0 ||
        (cfg.peer_address &&
         (zenith__parse_addr(cfg.peer_address, cfg.peer_port, &ps, &pl) != 0 || ps.ss_family != ss.ss_family)) ||
        ((cfg.flags & ZENITH_UDP_V6ONLY) && ss.ss_family != AF_INET6))
        return ZENITH_E_INVAL;
    if (s->shutting_down || zenith_server_stopped(s)) return ZENITH_E_STATE;
    if (s->udp_free_head == 0) return ZENITH_E_FULL;
    fam = ss.ss_family;
    qn = s->cfg.udp_queue;
    fd = socket(fam, SOCK_DGRAM | SOCK_CLOEXEC | s->be->sock_flags, 0);
    if (fd < 0) return ZENITH_ESYS(errno);
    if (fam == AF_INET6) {
        int v6only = (cfg.flags & ZENITH_UDP_V6ONLY) != 0;
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &v6only, sizeof v6only);
        flags |= ZENITH__U_V6;
    }
    { /* only the groups this socket joined (Linux's default delivers any group some socket of
         the host joined to every socket bound to the wildcard and port) */
        int all = 0;
        setsockopt(fd, IPPROTO_IP, IP_MULTICAST_ALL, &all, sizeof all);
        if (fam == AF_INET6) setsockopt(fd, IPPROTO_IPV6, IPV6_MULTICAST_ALL, &all, sizeof all);
    }
    e = 0;
    if ((cfg.flags & ZENITH_UDP_REUSEADDR) && setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0)
        e = errno;
    if ((cfg.flags & ZENITH_UDP_REUSEPORT) && setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) != 0)
        e = errno;
    if ((cfg.flags & ZENITH_UDP_BROADCAST) && setsockopt(fd, SOL_SOCKET, SO_BROADCAST, &one, sizeof one) != 0)
        e = errno;
    zenith__bufsize(fd, SO_RCVBUFFORCE, SO_RCVBUF, cfg.rcvbuf);
    zenith__bufsize(fd, SO_SNDBUFFORCE, SO_SNDBUF, cfg.sndbuf);
    if (cfg.on_recv) {
        if (!(cfg.flags & ZENITH_UDP_NO_TIMESTAMPS)) {
            int ts = (int)(ZENITH__SOF_RX_SOFTWARE | ZENITH__SOF_SOFTWARE);
            int hw = (int)(ZENITH__SOF_RX_SOFTWARE | ZENITH__SOF_SOFTWARE | ZENITH__SOF_RX_HARDWARE |
                           ZENITH__SOF_RAW_HARDWARE);
            if ((cfg.flags & ZENITH_UDP_HW_TIMESTAMPS) &&
                setsockopt(fd, SOL_SOCKET, SO_TIMESTAMPING, &hw, sizeof hw) == 0)
                flags |= ZENITH__U_TS | ZENITH__U_HWTS;
            else if (setsockopt(fd, SOL_SOCKET, SO_TIMESTAMPING, &ts, sizeof ts) == 0)
                flags |= ZENITH__U_TS;
        }
        setsockopt(fd, SOL_SOCKET, SO_RXQ_OVFL, &one, sizeof one); /* the kernel's drop counter */
        if ((cfg.flags & ZENITH_UDP_GRO) && setsockopt(fd, SOL_UDP, UDP_GRO, &one, sizeof one) == 0)
            flags |= ZENITH__U_GRO;
    }
    {
        int seg = 0;
        socklen_t l = sizeof seg;
        if (getsockopt(fd, SOL_UDP, UDP_SEGMENT, &seg, &l) == 0) flags |= ZENITH__U_GSO; /* kernel 4.18+ */
    }
    if (e == 0 && bind(fd, (struct sockaddr *)&ss, sl) != 0) e = errno;
    if (e == 0 && cfg.peer_address) {
        if (connect(fd, (struct sockaddr *)&ps, pl) != 0)
            e = errno;
        else
            flags |= ZENITH__U_CONNECTED;
    }
    if (e != 0) {
        close(fd);
        return ZENITH_ESYS(e);
    }
    u = &s->udp[s->udp_free_head - 1u];
    s->udp_free_head = u->next;
    u->fd = fd;
    u->flags = flags;
    u->state = ZENITH__U_OPEN;
    u->recv_armed = 0;
    u->nmemb = 0;
    u->qmask = qn - 1u;
    u->qhead = u->qtail = 0;
    u->on_recv = cfg.on_recv;
    u->on_writable = cfg.on_writable;
    u->user = cfg.user;
    memset(&u->local, 0, sizeof u->local);
    memset(&u->peer, 0, sizeof u->peer);
    {
        socklen_t l = sizeof ss;
        if (getsockname(fd, (struct sockaddr *)&ss, &l) == 0 && l <= sizeof u->local.sa) {
            memcpy(u->local.sa, &ss, l);
            u->local.len = l;
        }
    }
    if (cfg.peer_address) {
        memcpy(u->peer.sa, &ps, pl);
        u->peer.len = pl;
    }
    u->datagrams_in = u->bytes_in = u->datagrams_out = u->bytes_out = u->truncated = u->gro_batches = u->gso_sends = 0;
    u->recv_stalls = u->recv_errors = u->send_full = u->send_errors = 0;
    u->last_error = 0;
    s->udp_live++;
    if ((e = s->be->udp_open(s, u)) != 0) {
        zenith__udp_finish(s, u);
        return e;
    }
    if (cfg.on_recv && s->started) s->be->udp_arm(s, u);
    *out = zenith__udp_id(s, u);
    return 0;
}

ZENITH_API int zenith_udp_close(zenith_server *s, zenith_udp_id sock) {
    zenith__udp *u = zenith__udp_at(s, sock);
    if (s == NULL) return ZENITH_E_NULL;
    if (u == NULL) return ZENITH_E_STALE;
    u->state = ZENITH__U_CLOSING;
    if (u->recv_armed) s->be->udp_cancel(s, u);
    zenith__udp_mark(s, u);
    if (!s->started) zenith__udp_settle_all(s); /* nothing in flight: closed now */
    return 0;
}

/* Whether `to` suits the socket: NULL on a connected one, an address of its family otherwise. */
static int zenith__udp_to_ok(const zenith__udp *u, const zenith_addr *to) {
    if (u->flags & ZENITH__U_CONNECTED) return to == NULL ? 0 : ZENITH_E_INVAL;
    if (to == NULL) return ZENITH_E_INVAL;
    return zenith__addr_family(to) == ((u->flags & ZENITH__U_V6) ? AF_INET6 : AF_INET) ? 0 : ZENITH_E_INVAL;
}

/* A new entry at the tail of the queue (not counted in until the caller moves qtail). */
static zenith__udp_tx *zenith__udp_tx_new(zenith__udp *u, uint32_t at, const zenith_addr *to) {
    zenith__udp_tx *e = &u->tx[at & u->qmask];
    memset(&e->msg, 0, sizeof e->msg);
    e->head = e->iovbuf = 0;
    e->len = 0;
    e->nseg = 1;
    e->retried = 0;
    if (to != NULL) {
        e->to = *to;
        e->msg.msg_name = e->to.sa;
        e->msg.msg_namelen = to->len;
    }
    return e;
}

/* Copies data[0..len) into fresh buffers for entry e: all or nothing. */
static int zenith__udp_tx_copy(zenith_server *s, zenith__udp_tx *e, const void *data, size_t len) {
    uint32_t size = s->cfg.buffer_size, n = (uint32_t)((len + size - 1u) / size), idx[ZENITH__UDP_MAX_BUFS + 1u], i;
    uint32_t extra = n > 2u;
    struct iovec *iov = e->iov;
    if (n > ZENITH__UDP_MAX_BUFS || (extra && n * sizeof(struct iovec) > size)) return ZENITH_E_RANGE;
    if (n + extra && !zenith__take_bufs(s, idx, n + extra)) return ZENITH_E_FULL;
    if (extra) {
        iov = (struct iovec *)zenith__buf(s, idx[n]);
        e->iovbuf = idx[n] + 1u;
    }
    for (i = 0; i < n; i++) {
        size_t chunk = len - (size_t)i * size < size ? len - (size_t)i * size : size;
        unsigned char *b = (unsigned char *)zenith__buf(s, idx[i]);
        memcpy(b, (const unsigned char *)data + (size_t)i * size, chunk);
        iov[i].iov_base = b;
        iov[i].iov_len = chunk;
        s->bnext[idx[i]] = i + 1u < n ? idx[i + 1u] + 1u : 0u;
    }
    e->head = n ? idx[0] + 1u : 0u;
    e->msg.msg_iov = iov;
    e->msg.msg_iovlen = n;
    e->len = (uint32_t)len;
    return 0;
}

static void zenith__udp_tx_gso(zenith__udp_tx *e, uint32_t seg, uint32_t nseg) {
    struct cmsghdr *c = (struct cmsghdr *)(void *)e->ctl.b;
    uint16_t v = (uint16_t)seg;
    e->msg.msg_control = e->ctl.b;
    e->msg.msg_controllen = sizeof e->ctl.b;
    c->cmsg_level = SOL_UDP;
    c->cmsg_type = UDP_SEGMENT;
    c->cmsg_len = CMSG_LEN(sizeof v);
    memcpy(CMSG_DATA(c), &v, sizeof v);
    e->nseg = (uint16_t)nseg;
}

static size_t zenith__udp_max(const zenith__udp *u) {
    return (u->flags & ZENITH__U_V6) ? 65527u : ZENITH_UDP_MAX_DATAGRAM;
}

ZENITH_API int zenith_udp_send(zenith_server *s, zenith_udp_id sock, const void *data, size_t len,
                               const zenith_addr *to) {
    zenith__udp *u;
    zenith__udp_tx *e;
    int rc;
    if (s == NULL || (data == NULL && len)) return ZENITH_E_NULL;
    if ((u = zenith__udp_at(s, sock)) == NULL) return ZENITH_E_STALE;
    if ((rc = zenith__udp_to_ok(u, to)) != 0) return rc;
    if (len > zenith__udp_max(u)) return ZENITH_E_RANGE;
    if (u->qtail - u->qhead > u->qmask) return zenith__udp_refused(s, u);
    e = zenith__udp_tx_new(u, u->qtail, to);
    if ((rc = zenith__udp_tx_copy(s, e, data, len)) != 0) return rc == ZENITH_E_FULL ? zenith__udp_refused(s, u) : rc;
    u->qtail++;
    zenith__udp_mark(s, u);
    return 0;
}

ZENITH_API int zenith_udp_send_buffer(zenith_server *s, zenith_udp_id sock, void *data, size_t len,
                                      const zenith_addr *to) {
    zenith__udp *u;
    zenith__udp_tx *e;
    uintptr_t base, off;
    uint32_t idx, in;
    size_t size;
    int rc;
    if (s == NULL || data == NULL) return ZENITH_E_NULL;
    base = (uintptr_t)zenith_pool_at(s->pool, 0);
    size = s->cfg.buffer_size;
    off = (uintptr_t)data - base;
    if ((uintptr_t)data < base || off >= (uintptr_t)s->cfg.buffer_count * size)
        return ZENITH_E_FOREIGN; /* not ours to free */
    idx = (uint32_t)(off / size);
    in = (uint32_t)(off % size);
    u = zenith__udp_at(s, sock);
    rc = u == NULL                                     ? ZENITH_E_STALE
         : (rc = zenith__udp_to_ok(u, to)) != 0        ? rc
         : len > size - in || len > zenith__udp_max(u) ? ZENITH_E_RANGE
         : u->qtail - u->qhead > u->qmask              ? zenith__udp_refused(s, u)
                                                       : 0;
    if (rc != 0) {
        zenith__buf_free(s, idx); /* ownership moved to us on every return */
        return rc;
    }
    e = zenith__udp_tx_new(u, u->qtail, to);
    e->iov[0].iov_base = data;
    e->iov[0].iov_len = len;
    e->msg.msg_iov = e->iov;
    e->msg.msg_iovlen = 1;
    s->bnext[idx] = 0;
    e->head = idx + 1u;
    e->len = (uint32_t)len;
    u->qtail++;
    zenith__udp_mark(s, u);
    return 0;
}

ZENITH_API int zenith_udp_send_gso(zenith_server *s, zenith_udp_id sock, const void *data, size_t len,
                                   uint32_t seg_size, const zenith_addr *to) {
    zenith__udp *u;
    zenith__udp_tx *e;
    size_t nseg;
    uint32_t t0, i;
    int rc;
    if (s == NULL || (data == NULL && len)) return ZENITH_E_NULL;
    if ((u = zenith__udp_at(s, sock)) == NULL) return ZENITH_E_STALE;
    if ((rc = zenith__udp_to_ok(u, to)) != 0) return rc;
    if (seg_size == 0) return ZENITH_E_INVAL;
    nseg = (len + seg_size - 1u) / seg_size;
    if (len > zenith__udp_max(u) || nseg > 64u || seg_size > zenith__udp_max(u)) return ZENITH_E_RANGE;
    if (nseg <= 1u) return zenith_udp_send(s, sock, data, len, to);
    if (u->flags & ZENITH__U_GSO) {
        if (u->qtail - u->qhead > u->qmask) return zenith__udp_refused(s, u);
        e = zenith__udp_tx_new(u, u->qtail, to);
        if ((rc = zenith__udp_tx_copy(s, e, data, len)) != 0)
            return rc == ZENITH_E_FULL ? zenith__udp_refused(s, u) : rc;
        zenith__udp_tx_gso(e, seg_size, (uint32_t)nseg);
        u->qtail++;
        zenith__udp_mark(s, u);
        return 0;
    }
    /* no UDP_SEGMENT: the same datagrams, queued one by one (all or nothing) */
    if ((u->qmask + 1u) - (u->qtail - u->qhead) < nseg) return zenith__udp_refused(s, u);
    t0 = u->qtail;
    for (i = 0; i < (uint32_t)nseg; i++) {
        size_t at = (size_t)i * seg_size, n = len - at < seg_size ? len - at : seg_size;
        e = zenith__udp_tx_new(u, t0 + i, to);
        if ((rc = zenith__udp_tx_copy(s, e, (const unsigned char *)data + at, n)) != 0) {
            while (i-- > 0) zenith__udp_tx_release(s, &u->tx[(t0 + i) & u->qmask]);
            return rc == ZENITH_E_FULL ? zenith__udp_refused(s, u) : rc;
        }
    }
    u->qtail = t0 + (uint32_t)nseg;
    zenith__udp_mark(s, u);
    return 0;
}

ZENITH_API void *zenith_udp_keep(zenith_server *s, const uint8_t **data) {
    void *b;
    if (s == NULL || !s->udp_in || s->udp_kept) return NULL;
    if (s->udp_cur_seg) { /* one GRO segment of several: a buffer of its own */
        if ((b = zenith_pool_acquire(s->pool)) == NULL) return NULL;
        memcpy(b, s->udp_cur_data, s->udp_cur_len);
        s->udp_kept = 1;
        if (data) *data = (const uint8_t *)b;
        return b;
    }
    s->udp_kept = 1;
    s->udp_kept_buf = 1;
    if (data) *data = s->udp_cur_data;
    return zenith__buf(s, s->udp_cur_idx);
}

/* Parses a join's arguments into a membership record and the request for the kernel. */
static int zenith__udp_group(const zenith__udp *u, const char *group, const char *source, const char *ifname,
                             zenith__udp_memb *m, struct group_source_req *req) {
    struct sockaddr_storage gs, srcs;
    socklen_t gl, sl;
    int fam = (u->flags & ZENITH__U_V6) ? AF_INET6 : AF_INET;
    memset(m, 0, sizeof *m);
    memset(req, 0, sizeof *req);
    if (zenith__parse_addr(group, 0, &gs, &gl) != 0 || gs.ss_family != fam) return ZENITH_E_INVAL;
    if (fam == AF_INET) {
        const struct sockaddr_in *g = (const struct sockaddr_in *)(const void *)&gs;
        if (!IN_MULTICAST(ntohl(g->sin_addr.s_addr))) return ZENITH_E_INVAL;
        memcpy(m->group, &g->sin_addr, 4);
    } else {
        const struct sockaddr_in6 *g = (const struct sockaddr_in6 *)(const void *)&gs;
        if (!IN6_IS_ADDR_MULTICAST(&g->sin6_addr)) return ZENITH_E_INVAL;
        memcpy(m->group, &g->sin6_addr, 16);
    }
    if (source != NULL) {
        if (zenith__parse_addr(source, 0, &srcs, &sl) != 0 || srcs.ss_family != fam) return ZENITH_E_INVAL;
        if (fam == AF_INET) {
            const struct sockaddr_in *a = (const struct sockaddr_in *)(const void *)&srcs;
            uint32_t h = ntohl(a->sin_addr.s_addr);
            if (IN_MULTICAST(h) || h == 0 || h == 0xffffffffu) return ZENITH_E_INVAL;
            memcpy(m->source, &a->sin_addr, 4);
        } else {
            const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)(const void *)&srcs;
            if (IN6_IS_ADDR_MULTICAST(&a->sin6_addr) || IN6_IS_ADDR_UNSPECIFIED(&a->sin6_addr)) return ZENITH_E_INVAL;
            memcpy(m->source, &a->sin6_addr, 16);
        }
        m->ssm = 1;
        memcpy(&req->gsr_source, &srcs, sl);
    }
    if (ifname != NULL) {
        if (strlen(ifname) >= IF_NAMESIZE || (m->ifindex = if_nametoindex(ifname)) == 0) return ZENITH_E_NOT_FOUND;
    }
    req->gsr_interface = m->ifindex;
    memcpy(&req->gsr_group, &gs, gl);
    return 0;
}

static int zenith__udp_memb_find(const zenith__udp *u, const zenith__udp_memb *m, int *clash) {
    uint32_t i;
    *clash = 0;
    for (i = 0; i < u->nmemb; i++) {
        const zenith__udp_memb *x = &u->memb[i];
        if (x->ifindex != m->ifindex || memcmp(x->group, m->group, 16) != 0) continue;
        if (x->ssm != m->ssm)
            *clash = 1; /* any-source and source-specific on one group */
        else if (!m->ssm || memcmp(x->source, m->source, 16) == 0)
            return (int)i;
    }
    return -1;
}

static int zenith__udp_membership(zenith_server *s, zenith_udp_id sock, const char *group, const char *source,
                                  const char *ifname, int join) {
    zenith__udp *u;
    zenith__udp_memb m;
    struct group_source_req req;
    int rc, at, clash, level, opt;
    if (s == NULL || group == NULL) return ZENITH_E_NULL;
    if ((u = zenith__udp_at(s, sock)) == NULL) return ZENITH_E_STALE;
    if ((rc = zenith__udp_group(u, group, source, ifname, &m, &req)) != 0) return rc;
    at = zenith__udp_memb_find(u, &m, &clash);
    if (join) {
        if (at >= 0 || clash) return ZENITH_E_EXIST;
        if (u->nmemb >= ZENITH__UDP_MEMB) return ZENITH_E_FULL;
    } else if (at < 0) {
        return ZENITH_E_NOT_FOUND;
    }
    level = (u->flags & ZENITH__U_V6) ? IPPROTO_IPV6 : IPPROTO_IP;
    if (m.ssm) {
        opt = join ? MCAST_JOIN_SOURCE_GROUP : MCAST_LEAVE_SOURCE_GROUP;
        rc = setsockopt(u->fd, level, opt, &req, sizeof req);
    } else {
        struct group_req g;
        memset(&g, 0, sizeof g);
        g.gr_interface = req.gsr_interface;
        memcpy(&g.gr_group, &req.gsr_group, sizeof g.gr_group);
        opt = join ? MCAST_JOIN_GROUP : MCAST_LEAVE_GROUP;
        rc = setsockopt(u->fd, level, opt, &g, sizeof g);
    }
    if (rc != 0) return errno == EADDRINUSE ? ZENITH_E_EXIST : ZENITH_ESYS(errno);
    if (join) {
        u->memb[u->nmemb++] = m;
    } else {
        u->memb[at] = u->memb[u->nmemb - 1u];
        u->nmemb--;
    }
    return 0;
}

ZENITH_API int zenith_udp_join(zenith_server *s, zenith_udp_id sock, const char *group, const char *source,
                               const char *ifname) {
    return zenith__udp_membership(s, sock, group, source, ifname, 1);
}

ZENITH_API int zenith_udp_leave(zenith_server *s, zenith_udp_id sock, const char *group, const char *source,
                                const char *ifname) {
    return zenith__udp_membership(s, sock, group, source, ifname, 0);
}

ZENITH_API int zenith_udp_multicast_send_opts(zenith_server *s, zenith_udp_id sock, const char *ifname, int ttl,
                                              int loop) {
    zenith__udp *u;
    unsigned ifindex = 0;
    int v6;
    if (s == NULL) return ZENITH_E_NULL;
    if ((u = zenith__udp_at(s, sock)) == NULL) return ZENITH_E_STALE;
    if (ttl < -1 || ttl > 255 || loop < -1 || loop > 1) return ZENITH_E_INVAL;
    if (ifname != NULL && (strlen(ifname) >= IF_NAMESIZE || (ifindex = if_nametoindex(ifname)) == 0))
        return ZENITH_E_NOT_FOUND;
    v6 = (u->flags & ZENITH__U_V6) != 0;
    if (ifname != NULL) {
        int rc;
        if (v6) {
            int i = (int)ifindex;
            rc = setsockopt(u->fd, IPPROTO_IPV6, IPV6_MULTICAST_IF, &i, sizeof i);
        } else {
            struct ip_mreqn r;
            memset(&r, 0, sizeof r);
            r.imr_ifindex = (int)ifindex;
            rc = setsockopt(u->fd, IPPROTO_IP, IP_MULTICAST_IF, &r, sizeof r);
        }
        if (rc != 0) return ZENITH_ESYS(errno);
    }
    if (ttl >= 0 && setsockopt(u->fd, v6 ? IPPROTO_IPV6 : IPPROTO_IP, v6 ? IPV6_MULTICAST_HOPS : IP_MULTICAST_TTL, &ttl,
                               sizeof ttl) != 0)
        return ZENITH_ESYS(errno);
    if (loop >= 0 && setsockopt(u->fd, v6 ? IPPROTO_IPV6 : IPPROTO_IP, v6 ? IPV6_MULTICAST_LOOP : IP_MULTICAST_LOOP,
                                &loop, sizeof loop) != 0)
        return ZENITH_ESYS(errno);
    return 0;
}

ZENITH_API int zenith_udp_get_info(zenith_server *s, zenith_udp_id sock, zenith_udp_info *out) {
    zenith__udp *u;
    zenith_udp_info i;
    uint32_t mem[16];
    socklen_t ml = sizeof mem;
    if (s == NULL || out == NULL) return ZENITH_E_NULL;
    if ((u = zenith__udp_at(s, sock)) == NULL) return ZENITH_E_STALE;
    if (out->struct_size != 0 && out->struct_size < sizeof *out) return ZENITH_E_INVAL;
    memset(&i, 0, sizeof i);
    i.struct_size = sizeof i;
    i.features = ((u->flags & ZENITH__U_GSO) ? (uint32_t)ZENITH_UDP_F_GSO : 0u) |
                 ((u->flags & ZENITH__U_GRO) ? (uint32_t)ZENITH_UDP_F_GRO : 0u) |
                 ((u->flags & ZENITH__U_TS) ? (uint32_t)ZENITH_UDP_F_TS_SOFTWARE : 0u) |
                 ((u->flags & ZENITH__U_HWTS) ? (uint32_t)ZENITH_UDP_F_TS_HARDWARE : 0u) |
                 ((u->flags & ZENITH__U_CONNECTED) ? (uint32_t)ZENITH_UDP_F_CONNECTED : 0u) |
                 ((u->flags & ZENITH__U_V6) ? (uint32_t)ZENITH_UDP_F_IPV6 : 0u);
    i.local = u->local;
    i.peer = u->peer;
    i.recv_capacity = s->cfg.buffer_size - ZENITH_UDP_RECV_HEADROOM;
    i.queued = u->qtail - u->qhead;
    i.datagrams_in = u->datagrams_in;
    i.bytes_in = u->bytes_in;
    i.datagrams_out = u->datagrams_out;
    i.bytes_out = u->bytes_out;
    i.truncated = u->truncated;
    i.gro_batches = u->gro_batches;
    i.gso_sends = u->gso_sends;
    i.recv_stalls = u->recv_stalls;
    memset(mem, 0, sizeof mem);
    if (getsockopt(u->fd, SOL_SOCKET, SO_MEMINFO, mem, &ml) == 0 && ml > ZENITH__SK_MEMINFO_DROPS * sizeof(uint32_t))
        i.kernel_drops = mem[ZENITH__SK_MEMINFO_DROPS];
    i.recv_errors = u->recv_errors;
    i.send_full = u->send_full;
    i.send_errors = u->send_errors;
    i.last_error = u->last_error;
    *out = i;
    return 0;
}

ZENITH_API uint16_t zenith_udp_port(zenith_server *s, zenith_udp_id sock) {
    zenith__udp *u = zenith__udp_at(s, sock);
    return u ? zenith_addr_port(&u->local) : 0;
}

ZENITH_API int zenith_udp_set_user(zenith_server *s, zenith_udp_id sock, void *user) {
    zenith__udp *u;
    if (s == NULL) return ZENITH_E_NULL;
    if ((u = zenith__udp_at(s, sock)) == NULL) return ZENITH_E_STALE;
    u->user = user;
    return 0;
}

ZENITH_API void *zenith_udp_get_user(zenith_server *s, zenith_udp_id sock) {
    zenith__udp *u = zenith__udp_at(s, sock);
    return u ? u->user : NULL;
}

/* ---- reactor: life cycle ----------------------------------------------------------------------------- */

/* The backend asked for: the config's, else the environment's (ZENITH_BACKEND), else auto.
   -1 for a ZENITH_BACKEND value that means nothing (a typo must not pass unnoticed). */
static int zenith__backend_pick(uint32_t configured, int *reason) {
    const char *env;
    if (configured != ZENITH_BACKEND_AUTO) {
        *reason = ZENITH_BACKEND_BY_CONFIG;
        return (int)configured;
    }
    *reason = ZENITH_BACKEND_BY_DEFAULT;
    env = getenv("ZENITH_BACKEND");
    if (env == NULL || *env == '\0' || strcmp(env, "auto") == 0) return ZENITH_BACKEND_AUTO;
    *reason = ZENITH_BACKEND_BY_ENV;
    if (strcmp(env, "epoll") == 0) return ZENITH_BACKEND_EPOLL;
    if (strcmp(env, "io_uring") == 0) return ZENITH_BACKEND_IO_URING;
    return -1;
}

/* io_uring was refused (code e from its init): how. Setup refused: ENOSYS or EPERM (asked again
   with a call that cannot succeed: no ring is made), and whether kernel.io_uring_disabled says
   why. A later step failed (a filter that refuses io_uring_register, a kernel without
   provided-buffer rings, the memlock limit of kernels before 5.12): its errno. */
static void zenith__uring_refusal(zenith_server *s, int e) {
    char b[8];
    ssize_t n;
    int fd;
    s->uring_code = e;
    if (e == ZENITH_E_URING_DISABLED) {
        long r = syscall(__NR_io_uring_setup, 0u, NULL);
        s->uring_errno = r < 0 && errno == ENOSYS ? ENOSYS : EPERM;
        if (r >= 0) close((int)r);
    } else {
        s->uring_errno = zenith_errno(e) ? zenith_errno(e) : e == ZENITH_E_NOMEM ? ENOMEM : EOPNOTSUPP;
    }
    s->uring_sysctl = -1;
    fd = open("/proc/sys/kernel/io_uring_disabled", O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
        n = read(fd, b, sizeof b - 1u);
        if (n > 0 && b[0] >= '0' && b[0] <= '9') s->uring_sysctl = b[0] - '0';
        close(fd);
    }
    s->be_reason = ZENITH_BACKEND_FALLBACK;
}

static void zenith__backend_why(zenith_server *s) {
    const char *name = s->be->name;
    switch (s->be_reason) {
        case ZENITH_BACKEND_BY_CONFIG:
            snprintf(s->be_why, sizeof s->be_why, "%s: asked for by zenith_server_config.backend", name);
            break;
        case ZENITH_BACKEND_BY_ENV:
            snprintf(s->be_why, sizeof s->be_why, "%s: asked for by ZENITH_BACKEND=%s", name, name);
            break;
        case ZENITH_BACKEND_FALLBACK:
            if (s->uring_code != ZENITH_E_URING_DISABLED)
                snprintf(s->be_why, sizeof s->be_why, "%s: io_uring unusable here (set up, then %s: %s)", name,
                         zenith_errname(s->uring_code), zenith_strerror(s->uring_code));
            else if (s->uring_errno == ENOSYS)
                snprintf(s->be_why, sizeof s->be_why, "%s: io_uring refused by the kernel (ENOSYS: built without it)",
                         name);
            else if (s->uring_sysctl > 0)
                snprintf(s->be_why, sizeof s->be_why,
                         "%s: io_uring refused by the kernel (EPERM: kernel.io_uring_disabled=%d)", name,
                         s->uring_sysctl);
            else
                snprintf(
                    s->be_why, sizeof s->be_why,
                    "%s: io_uring refused by the kernel (EPERM: a seccomp filter, as in a container's default profile)",
                    name);
            break;
        default: snprintf(s->be_why, sizeof s->be_why, "%s: the default (the kernel allows io_uring)", name); break;
    }
}

ZENITH_API zenith_server *zenith_server_create(const zenith_server_config *cfg_in, int *err) {
    zenith_server_config cfg;
    zenith_server *s;
    zenith_pool_config pc;
    zenith_allocator none;
    void *raw;
    size_t conns_bytes, per_buf, tn_bytes, cells_bytes, reserve_bytes, udp_bytes, block, off;
    uint32_t i, tn_total,
        known = ZENITH_SERVER_REUSEPORT | ZENITH_SERVER_NO_NODELAY | ZENITH_SERVER_PIN_CPU | ZENITH_SERVER_SQPOLL |
                ZENITH_SERVER_NO_ZEROCOPY | ZENITH_SERVER_ZEROCOPY_LOOPBACK | ZENITH_SERVER_NUMA_NODE |
                ZENITH_SERVER_NO_LISTEN | ZENITH_SERVER_NO_QUEUE_PAUSE;
    int e = 0, node = -1, mapped = 0, no_listen, want, reason;
    if (err) *err = 0;
    if ((e = zenith__config_in(&cfg, sizeof cfg, sizeof cfg, cfg_in)) != 0) {
        zenith__fail(err, e);
        return NULL;
    }
    no_listen = (cfg.flags & ZENITH_SERVER_NO_LISTEN) != 0;
    if (no_listen && (cfg.address || cfg.port || cfg.backlog || (cfg.flags & ZENITH_SERVER_REUSEPORT))) {
        zenith__fail(err, ZENITH_E_INVAL);
        return NULL;
    }
    if (!cfg.max_connections) cfg.max_connections = 16384u;
    if (!cfg.buffer_size) cfg.buffer_size = 4096u;
    if (!cfg.buffer_count) cfg.buffer_count = 8192u;
    if (!cfg.send_reserve) { /* default: what fits beside the receive buffers asked for */
        cfg.send_reserve = cfg.buffer_count / 16u > 16u ? cfg.buffer_count / 16u : 16u;
        if (cfg.send_reserve >= cfg.buffer_count) cfg.send_reserve = cfg.buffer_count / 2u; /* tiny pools */
        if (cfg.recv_buffers && cfg.recv_buffers <= cfg.buffer_count &&
            cfg.recv_buffers + cfg.send_reserve > cfg.buffer_count)
            cfg.send_reserve = cfg.buffer_count - cfg.recv_buffers; /* possibly 0: no reserve */
    }
    if (!cfg.recv_buffers) {
        cfg.recv_buffers = cfg.buffer_count / 2u;
        if (cfg.recv_buffers + cfg.send_reserve > cfg.buffer_count)
            cfg.recv_buffers = cfg.buffer_count - cfg.send_reserve;
        if (!cfg.recv_buffers) cfg.recv_buffers = 1u;
    }
    if (!cfg.send_queue_max) cfg.send_queue_max = 256u * 1024u;
    if (!cfg.zerocopy_min) cfg.zerocopy_min = 16384u;
    if (!cfg.sq_entries) cfg.sq_entries = 1024u;
    if (!cfg.backlog) cfg.backlog = 4096u;
    if (!cfg.max_timers) cfg.max_timers = 4096u;
    if (!cfg.post_queue) cfg.post_queue = 4096u;
    if (!cfg.max_udp) cfg.max_udp = 16u;
    if (!cfg.udp_queue) cfg.udp_queue = 256u;
    if ((cfg.flags & ~known) || cfg.reserved_ || cfg.backend > ZENITH_BACKEND_EPOLL ||
        cfg.max_connections > (1u << 24) - 1u || cfg.buffer_count > 65536u || cfg.recv_buffers > cfg.buffer_count ||
        cfg.recv_buffers > 32768u || cfg.buffer_size % 64u || cfg.backlog > (uint32_t)INT_MAX ||
        (cfg.address && strlen(cfg.address) >= 64) || ((cfg.flags & ZENITH_SERVER_PIN_CPU) && cfg.cpu >= CPU_SETSIZE) ||
        (!(cfg.flags & ZENITH_SERVER_NUMA_NODE) && cfg.numa_node) ||
        ((cfg.flags & ZENITH_SERVER_NUMA_NODE) && (cfg.numa_node < 0 || cfg.numa_node >= ZENITH__NUMA_MAX_NODES)) ||
        cfg.max_timers > (1u << 23) || !zenith__is_pow2(cfg.post_queue) || cfg.post_queue > (1u << 20) ||
        cfg.recv_buffers + cfg.send_reserve > cfg.buffer_count || cfg.send_queue_max > (1u << 30) ||
        cfg.max_udp > 1024u || !zenith__is_pow2(cfg.udp_queue) || cfg.udp_queue > 4096u) {
        zenith__fail(err, ZENITH_E_INVAL);
        return NULL;
    }
    if ((want = zenith__backend_pick(cfg.backend, &reason)) < 0) { /* ZENITH_BACKEND=nonsense */
        zenith__fail(err, ZENITH_E_INVAL);
        return NULL;
    }
    /* one block: the server, connections, per-buffer arrays, timer nodes, post cells, reserve */
    tn_total = ZENITH__T_FIRST + cfg.max_timers + cfg.max_connections + 1u;
    conns_bytes = zenith__align_up((size_t)cfg.max_connections * sizeof(zenith__conn), 64u);
    per_buf = zenith__align_up((size_t)cfg.buffer_count * (3u * sizeof(uint32_t) + 1u), 64u);
    tn_bytes = zenith__align_up((size_t)tn_total * sizeof(zenith__tnode), 64u);
    cells_bytes = (size_t)cfg.post_queue * sizeof(zenith__post_cell);
    reserve_bytes = zenith__align_up((size_t)cfg.send_reserve * sizeof(uint32_t), 64u);
    udp_bytes = (size_t)cfg.max_udp * (sizeof(zenith__udp) + (size_t)cfg.udp_queue * sizeof(zenith__udp_tx) +
                                       ZENITH__UDP_MEMB * sizeof(zenith__udp_memb));
    block =
        zenith__align_up(sizeof *s, 64u) + conns_bytes + per_buf + tn_bytes + cells_bytes + reserve_bytes + udp_bytes;
    memset(&none, 0, sizeof none);
    if (cfg.flags & ZENITH_SERVER_NUMA_NODE)
        node = cfg.numa_node;
    else if (cfg.flags & ZENITH_SERVER_PIN_CPU)
        node = zenith__cpu_node(cfg.cpu);
    raw = zenith__meta_alloc_on(&none, block + 64u, node, &mapped, &e);
    if (raw == NULL && node >= 0 && !(cfg.flags & ZENITH_SERVER_NUMA_NODE)) { /* automatic: unplaced then */
        node = -1;
        raw = zenith__meta_alloc_on(&none, block + 64u, node, &mapped, &e);
    }
    if (raw == NULL) {
        zenith__fail(err, e ? e : ZENITH_E_NOMEM);
        return NULL;
    }
    /* 64-byte aligned: the producer-written fields sit on lines of their own */
    s = (zenith_server *)(void *)((unsigned char *)raw + ((64u - ((uintptr_t)raw & 63u)) & 63u));
    memset((void *)s, 0, block);
    s->block_raw = raw;
    s->block_mapped = mapped;
    s->block_size = block + 64u;
    s->cfg = cfg;
    s->be = want == ZENITH_BACKEND_EPOLL ? &zenith__backend_epoll : &zenith__backend_uring;
    s->be_reason = reason;
    s->ep_fd = -1;
    s->queue_hard = 2u * (uint64_t)cfg.send_queue_max;
    strcpy(s->address, cfg.address ? cfg.address : "127.0.0.1");
    s->cfg.address = s->address;
    s->wake_fd = -1;
    for (i = 0; i < ZENITH__MAX_LISTENERS; i++) s->lst[i].fd = -1;
    s->max_conns = cfg.max_connections;
    off = zenith__align_up(sizeof *s, 64u);
    s->conns = (zenith__conn *)(void *)((unsigned char *)s + off);
    off += conns_bytes;
    s->bnext = (uint32_t *)(void *)((unsigned char *)s + off);
    s->blen = s->bnext + cfg.buffer_count;
    s->boff = s->blen + cfg.buffer_count;
    s->krefs = (unsigned char *)(s->boff + cfg.buffer_count);
    off += per_buf;
    s->tn = (zenith__tnode *)(void *)((unsigned char *)s + off);
    off += tn_bytes;
    s->cells = (zenith__post_cell *)(void *)((unsigned char *)s + off);
    off += cells_bytes;
    s->reserve = (uint32_t *)(void *)((unsigned char *)s + off);
    off += reserve_bytes;
    s->udp = (zenith__udp *)(void *)((unsigned char *)s + off);
    s->max_udp = cfg.max_udp;
    off += (size_t)cfg.max_udp * sizeof(zenith__udp);
    for (i = s->max_udp; i-- > 0;) { /* free list, slot 0 first; each slot's queue and memberships */
        s->udp[i].tx =
            (zenith__udp_tx *)(void *)((unsigned char *)s + off + (size_t)i * cfg.udp_queue * sizeof(zenith__udp_tx));
        s->udp[i].memb = (zenith__udp_memb *)(void *)((unsigned char *)s + off +
                                                      (size_t)cfg.max_udp * cfg.udp_queue * sizeof(zenith__udp_tx) +
                                                      (size_t)i * ZENITH__UDP_MEMB * sizeof(zenith__udp_memb));
        s->udp[i].fd = -1;
        s->udp[i].gen = 1;
        s->udp[i].next = s->udp_free_head;
        s->udp_free_head = i + 1u;
    }
    for (i = s->max_conns; i-- > 0;) { /* free list, slot 0 first */
        s->conns[i].fd = -1;
        s->conns[i].gen = 1;
        s->conns[i].next = s->free_head;
        s->free_head = i + 1u;
    }
    /* timers: every node self-linked (unlinked); user nodes on the free list, generation 1 */
    s->tn_conn = ZENITH__T_FIRST + cfg.max_timers;
    s->tn_retry = s->tn_conn + cfg.max_connections;
    s->tn_total = tn_total;
    for (i = 0; i < tn_total; i++) {
        s->tn[i].next = s->tn[i].prev = i;
        s->tn[i].gen = 1u;
    }
    for (i = s->tn_conn; i-- > ZENITH__T_FIRST;) {
        s->tn[i].next = s->tfree_head;
        s->tfree_head = i;
    }
    s->post_mask = cfg.post_queue - 1u;
    for (i = 0; i < cfg.post_queue; i++) s->cells[i].seq = i;
    s->tsc_ok = zenith__tsc_trusted();
#ifdef ZENITH__HAVE_TSC
    if (s->tsc_ok) s->tsc_base = s->tsc_ref = zenith__rdtsc();
#endif
    s->epoch_ns = zenith__mono_ns();
    s->tsc_cal_next = 64000000u; /* the first rate once 64 ms have passed */
    s->wheel_now = 1;
    s->reserve_cap = cfg.send_reserve;
    s->reserve_low = cfg.send_reserve / 4u ? cfg.send_reserve / 4u : 1u;
    s->reserve_high = cfg.send_reserve / 2u ? cfg.send_reserve / 2u : 1u;

    memset(&pc, 0, sizeof pc);
    pc.buffer_size = cfg.buffer_size;
    pc.buffer_count = cfg.buffer_count;
    if (node >= 0) {
        pc.flags |= ZENITH_POOL_NUMA_NODE;
        pc.numa_node = node;
    }
    s->pool = zenith_pool_create(&pc, &e);
    if (s->pool) {
        for (i = 0; i < cfg.send_reserve; i++) { /* the reserve first: receives never see it */
            void *b = zenith_pool_acquire(s->pool);
            if (b == NULL) break;
            s->reserve[s->reserve_n++] = (uint32_t)zenith_pool_index(s->pool, b);
        }
        e = s->be->init(s);
        if (e != 0 && want == ZENITH_BACKEND_AUTO) { /* refused or unusable: serve on epoll */
            s->be->fini(s);
            zenith__uring_refusal(s, e);
            s->be = &zenith__backend_epoll;
            e = s->be->init(s);
        }
        s->be_ready = e == 0;
        zenith__backend_why(s);
    }
    if (e == 0 && !no_listen) {
        int li = zenith__listen_on(s, s->address, cfg.port, cfg.flags & ZENITH_SERVER_REUSEPORT);
        if (li < 0) e = li;
    }
    if (e == 0) {
        s->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        if (s->wake_fd < 0) e = ZENITH_ESYS(errno);
    }
    if (e != 0) {
        zenith__fail(err, e);
        zenith_server_destroy(s);
        return NULL;
    }
    return s;
}

ZENITH_API int zenith_server_set_callbacks(zenith_server *s, zenith_accept_fn on_accept, zenith_data_fn on_data,
                                           zenith_close_fn on_close, void *user_data) {
    if (s == NULL || on_data == NULL) return ZENITH_E_NULL;
    if (zenith__refuse_in_cb(s) || s->started) return ZENITH_E_STATE;
    s->on_accept = on_accept;
    s->on_data = on_data;
    s->on_close = on_close;
    s->user_data = user_data;
    return 0;
}

ZENITH_API int zenith_server_set_drain_callback(zenith_server *s, zenith_drain_fn on_drain) {
    if (s == NULL) return ZENITH_E_NULL;
    s->on_drain = on_drain;
    return 0;
}

ZENITH_API int zenith_server_set_eof_callback(zenith_server *s, zenith_eof_fn on_eof) {
    if (s == NULL) return ZENITH_E_NULL;
    s->on_eof = on_eof;
    return 0;
}

ZENITH_API int zenith_server_start(zenith_server *s) {
    uint32_t li;
    int rc;
    if (s == NULL) return ZENITH_E_NULL;
    if (zenith__refuse_in_cb(s) || s->started || s->on_data == NULL) return ZENITH_E_STATE;
    if (s->cfg.flags & ZENITH_SERVER_PIN_CPU) {
        cpu_set_t set;
        CPU_ZERO(&set);
        CPU_SET(s->cfg.cpu, &set);
        if ((rc = pthread_setaffinity_np(pthread_self(), sizeof set, &set)) != 0) return ZENITH_ESYS(rc);
    }
    s->started = 1;
    for (li = 0; li < s->listeners; li++) s->be->listen_arm(s, li);
    for (li = 0; li < s->max_udp; li++) { /* UDP sockets opened before the start */
        zenith__udp *u = &s->udp[li];
        if (u->state == ZENITH__U_OPEN && u->on_recv && !u->recv_armed) s->be->udp_arm(s, u);
    }
    return s->be->start(s);
}

/* One turn of the loop. `wait_ns` < 0: until something happens. */
static int zenith__turn(zenith_server *s, int64_t wait_ns) {
    int n, handled = 0, clocked = s->timers_linked || s->cfg.idle_timeout_ms;
    uint32_t next;
    /* the clock only when something needs it (busy polling without timers reads none) */
    if (clocked) s->now_ms = zenith__tick_now(s);
    if (s->timers_linked) handled += zenith__wheel_run(s, s->now_ms);
    if (s->reserve_n < s->reserve_cap || s->holding) zenith__reserve_refill(s);
    s->be->prepare(s);
    zenith__settle_dirty(s);
    handled += zenith__run_posts(s, 1);
    zenith__settle_dirty(s);
    if (handled || s->dirty_head || s->udp_retry || zenith__posts_pending(s) || zenith_server_stopped(s)) wait_ns = 0;
    if (wait_ns != 0 && s->timers_linked) { /* sleep no longer than the next tick with work */
        int64_t until;
        next = zenith__wheel_next(s);
        until = (int64_t)((uint64_t)next * 1000000u) - (int64_t)(zenith__mono_ns() - s->epoch_ns);
        if (until < 0) until = 0;
        if (wait_ns < 0 || until < wait_ns) wait_ns = until;
    }
    n = s->be->wait(s, wait_ns);
    if (n < 0) return n;
    handled += n; /* the backend read the clock when it woke (zenith__woke) */
    if (s->timers_linked) handled += zenith__wheel_run(s, s->now_ms);
    handled += zenith__run_posts(s, 0);
    zenith__settle_dirty(s);
    return handled;
}

ZENITH_API int zenith_server_run_once(zenith_server *s, int timeout_ms) {
    if (s == NULL) return ZENITH_E_NULL;
    if (zenith__refuse_in_cb(s) || !s->started) return ZENITH_E_STATE;
    if (zenith_server_stopped(s)) return 0;
    s->rst.loop_iterations++;
    return zenith__turn(s, timeout_ms < 0 ? -1 : (int64_t)timeout_ms * 1000000);
}

ZENITH_API void zenith_server_stop(zenith_server *s) {
    uint64_t one = 1;
    if (s == NULL) return;
    __atomic_store_n(&s->stop_flag, 1, __ATOMIC_RELEASE);
    if (s->wake_fd >= 0 && write(s->wake_fd, &one, sizeof one) < 0) { /* already signalled: fine */
    }
}

ZENITH_API int zenith_server_stopped(const zenith_server *s) {
    return s ? __atomic_load_n(&s->stop_flag, __ATOMIC_ACQUIRE) : 0;
}

static int zenith__busy(const zenith_server *s) {
    uint32_t i;
    if (s->udp_live) return 1;
    for (i = 0; i < s->max_conns; i++)
        if (s->conns[i].state != ZENITH__S_FREE) return 1;
    return 0;
}

ZENITH_API int zenith_server_shutdown(zenith_server *s, int deadline_ms) {
    uint64_t start, closed0;
    uint32_t i;
    int aborted = 0;
    if (s == NULL) return ZENITH_E_NULL;
    if (zenith__refuse_in_cb(s)) return ZENITH_E_STATE;
    start = zenith__mono_ns();
    closed0 = s->st.connections_closed;
    s->shutting_down = 1;
    for (i = 0; i < s->listeners; i++) {
        if (s->lst[i].fd >= 0) {
            s->be->listen_stop(s, i); /* io_uring: ends the multishot accept; epoll: leaves the set */
            close(s->lst[i].fd);
            s->lst[i].fd = -1;
        }
    }
    for (i = 0; i < s->max_udp; i++) /* UDP sockets: what is queued is still sent */
        if (s->udp[i].state == ZENITH__U_OPEN) zenith_udp_close(s, zenith__udp_id(s, &s->udp[i]));
    if (!s->started) return 0;
    for (i = 0; i < s->max_conns; i++) {
        zenith__conn *c = &s->conns[i];
        if (c->state == ZENITH__S_CONNECTING)
            zenith__begin_end(s, c, ZENITH_E_CANCELED);
        else if (c->state == ZENITH__S_OPEN)
            zenith__begin_close(s, c, ZENITH_CLOSE_SHUTDOWN, 0);
        if (c->state != ZENITH__S_FREE) zenith__mark(s, c);
    }
    zenith__settle_dirty(s);
    for (;;) {
        uint64_t elapsed = (zenith__mono_ns() - start) / 1000000u;
        if (!zenith__busy(s)) break;
        if (!aborted && deadline_ms >= 0 && elapsed >= (uint64_t)deadline_ms) {
            for (i = 0; i < s->max_conns; i++) {
                zenith__conn *c = &s->conns[i];
                if (c->state == ZENITH__S_FLUSHING || c->state == ZENITH__S_OPEN) {
                    if (c->state == ZENITH__S_OPEN) c->status = ZENITH_CLOSE_SHUTDOWN;
                    c->state = ZENITH__S_FLUSHING;
                    zenith__begin_close(s, c, ZENITH_CLOSE_SHUTDOWN, 1);
                }
                if (c->state != ZENITH__S_FREE) zenith__mark(s, c);
            }
            zenith__settle_dirty(s);
            aborted = 1;
            start = zenith__mono_ns();
            deadline_ms = 1000; /* what is left now is in flight in the kernel: give it a second */
        } else if (aborted && elapsed >= (uint64_t)deadline_ms) {
            break; /* the backend's teardown in destroy cancels the rest */
        }
        if (s->be->wait(s, 10000000) < 0) break;
        s->now_ms = zenith__tick_now(s);
        zenith__settle_dirty(s);
    }
    return (int)(s->st.connections_closed - closed0);
}

ZENITH_API void zenith_server_destroy(zenith_server *s) {
    uint32_t i;
    if (s == NULL) return;
    if (zenith__refuse_in_cb(s)) return; /* refused inside a callback: counted, nothing done */
    if (s->be_ready) zenith_server_shutdown(s, 0);
    for (i = 0; i < s->listeners; i++)
        if (s->lst[i].fd >= 0) close(s->lst[i].fd);
    s->be->fini(s); /* cancels whatever is still in flight; then nothing refers to our memory */
    memset(s->krefs, 0, s->cfg.buffer_count);
    for (i = 0; i < s->max_conns; i++) { /* connections the kernel never let go of in time */
        zenith__conn *c = &s->conns[i];
        if (c->state == ZENITH__S_FREE) continue;
        c->send_inflight = 0;
        zenith__drop_queue(s, c);
        while (c->rb.head) zenith_pool_release(s->pool, zenith__buf(s, zenith__chain_pop(s, &c->rb)));
        if (c->fd >= 0) close(c->fd);
    }
    for (i = 0; i < s->max_udp; i++) { /* UDP sockets the kernel never let go of in time */
        zenith__udp *u = &s->udp[i];
        if (u->state == ZENITH__U_FREE) continue;
        for (; u->qhead != u->qtail; u->qhead++) { /* straight to the pool: the backend is gone */
            zenith__udp_tx *e = &u->tx[u->qhead & u->qmask];
            uint32_t it = e->head;
            while (it) {
                zenith_pool_release(s->pool, zenith__buf(s, it - 1u));
                it = s->bnext[it - 1u];
            }
            if (e->iovbuf) zenith_pool_release(s->pool, zenith__buf(s, e->iovbuf - 1u));
        }
        if (u->fd >= 0) close(u->fd);
    }
    if (s->wake_fd >= 0) close(s->wake_fd);
    zenith_pool_destroy(s->pool);
    {
        zenith_allocator none;
        memset(&none, 0, sizeof none);
        zenith__meta_release(&none, s->block_raw, s->block_size, s->block_mapped);
    }
}

ZENITH_API uint16_t zenith_server_port(const zenith_server *s) { return s && s->listeners ? s->lst[0].port : 0; }

ZENITH_API int zenith_server_get_stats(const zenith_server *s, zenith_server_stats *out) {
    if (s == NULL || out == NULL) return ZENITH_E_NULL;
    *out = s->st;
    return 0;
}

ZENITH_API int zenith_server_get_reactor_stats(const zenith_server *s, zenith_reactor_stats *out) {
    if (s == NULL || out == NULL) return ZENITH_E_NULL;
    *out = s->rst;
    out->timers_armed = s->timers_armed;
    out->posts_refused = __atomic_load_n(&s->posts_refused, __ATOMIC_RELAXED);
    out->wakeups = __atomic_load_n(&s->wakeups, __ATOMIC_RELAXED);
    return 0;
}

ZENITH_API int zenith_server_backend_info(const zenith_server *s, zenith_backend_info *out) {
    if (s == NULL || out == NULL) return ZENITH_E_NULL;
    if (out->struct_size != 0 && out->struct_size < sizeof *out) return ZENITH_E_INVAL;
    memset(out, 0, sizeof *out);
    out->struct_size = (uint32_t)sizeof *out;
    out->backend = s->be == &zenith__backend_epoll ? ZENITH_BACKEND_EPOLL : ZENITH_BACKEND_IO_URING;
    out->reason = s->be_reason;
    out->uring_errno = s->be_reason == ZENITH_BACKEND_FALLBACK ? s->uring_errno : 0;
    out->uring_sysctl = s->be_reason == ZENITH_BACKEND_FALLBACK ? s->uring_sysctl : 0;
    out->name = s->be->name;
    out->why = s->be_why;
    return 0;
}

ZENITH_API zenith_pool *zenith_server_pool(zenith_server *s) { return s ? s->pool : NULL; }

ZENITH_API zenith_ring *zenith_server_ring(zenith_server *s) { return s ? s->ring : NULL; }

/* ---- data-plane engine: Arrow validation ----------------------------------------------------- */

#define ZENITH__ARROW_MAX_DEPTH 64

/* What a format string asks for. */
typedef struct zenith__arrow_type {
    int bits;       /* fixed width of one value in bits (0: none) */
    int buffers;    /* buffers the format requires */
    int validity;   /* buffer 0 is a validity bitmap */
    int offsets;    /* 32 or 64: buffer 1 holds length + 1 offsets */
    int var_data;   /* offsets index a data buffer (buffer 2): binary / utf8 */
    int list;       /* offsets index the one child (list, large list, map) */
    int fixed_list; /* fixed-size list of this many child values */
    int is_struct;  /* struct: children match the parent's length */
    int is_map;     /* map: one struct child of two children */
    int is_integer; /* an integer type (valid dictionary index) */
} zenith__arrow_type;

/* Parses a positive decimal number at *p, advancing it. -1 if none or too large. */
static long zenith__arrow_num(const char **p) {
    long v = 0;
    if (**p < '0' || **p > '9') return -1;
    while (**p >= '0' && **p <= '9') {
        v = v * 10 + (**p - '0');
        if (v > (1L << 30)) return -1;
        (*p)++;
    }
    return v;
}

/* 0 and *t filled, or -1 for an unknown / unsupported / malformed format. */
static int zenith__arrow_parse(const char *f, zenith__arrow_type *t) {
    const char *p;
    long n;
    memset(t, 0, sizeof *t);
    t->buffers = 2;
    t->validity = 1;
    if (f[0] && !f[1]) {
        switch (f[0]) {
            case 'n':
                t->buffers = 0;
                t->validity = 0;
                return 0;
            case 'b': t->bits = 1; return 0;
            case 'c':
            case 'C':
                t->bits = 8;
                t->is_integer = 1;
                return 0;
            case 's':
            case 'S':
                t->bits = 16;
                t->is_integer = 1;
                return 0;
            case 'i':
            case 'I':
                t->bits = 32;
                t->is_integer = 1;
                return 0;
            case 'l':
            case 'L':
                t->bits = 64;
                t->is_integer = 1;
                return 0;
            case 'e': t->bits = 16; return 0;
            case 'f': t->bits = 32; return 0;
            case 'g': t->bits = 64; return 0;
            case 'z':
            case 'u':
                t->buffers = 3;
                t->offsets = 32;
                t->var_data = 1;
                return 0;
            case 'Z':
            case 'U':
                t->buffers = 3;
                t->offsets = 64;
                t->var_data = 1;
                return 0;
            default: return -1;
        }
    }
    switch (f[0]) {
        case 'w': /* w:N fixed-size binary */
            p = f + 1;
            if (*p++ != ':' || (n = zenith__arrow_num(&p)) <= 0 || *p || n > (1L << 27)) return -1;
            t->bits = (int)n * 8;
            return 0;
        case 'd': /* d:P,S or d:P,S,W decimal */
            p = f + 1;
            if (*p++ != ':' || zenith__arrow_num(&p) <= 0 || *p++ != ',') return -1;
            if (*p == '-') p++;
            if (zenith__arrow_num(&p) < 0) return -1;
            t->bits = 128;
            if (*p == ',') {
                p++;
                n = zenith__arrow_num(&p);
                if (n != 32 && n != 64 && n != 128 && n != 256) return -1;
                t->bits = (int)n;
            }
            return *p ? -1 : 0;
        case 't':
            if (f[1] == 'd' && (f[2] == 'D' || f[2] == 'm') && !f[3]) { /* date32, date64 */
                t->bits = f[2] == 'D' ? 32 : 64;
                return 0;
            }
            if (f[1] == 't' && f[2] && !f[3]) { /* time32 s/ms, time64 us/ns */
                if (f[2] == 's' || f[2] == 'm')
                    t->bits = 32;
                else if (f[2] == 'u' || f[2] == 'n')
                    t->bits = 64;
                else
                    return -1;
                return 0;
            }
            if (f[1] == 's' && (f[2] == 's' || f[2] == 'm' || f[2] == 'u' || f[2] == 'n') && f[3] == ':') {
                t->bits = 64; /* timestamp, any time zone text after the colon */
                return 0;
            }
            if (f[1] == 'D' && (f[2] == 's' || f[2] == 'm' || f[2] == 'u' || f[2] == 'n') && !f[3]) {
                t->bits = 64; /* duration */
                return 0;
            }
            if (f[1] == 'i' && f[2] && !f[3]) { /* intervals: months, days+ms, months+days+ns */
                if (f[2] == 'M')
                    t->bits = 32;
                else if (f[2] == 'D')
                    t->bits = 64;
                else if (f[2] == 'n')
                    t->bits = 128;
                else
                    return -1;
                return 0;
            }
            return -1;
        case '+':
            if ((f[1] == 'l' || f[1] == 'L') && !f[2]) { /* list, large list */
                t->offsets = f[1] == 'l' ? 32 : 64;
                t->list = 1;
                return 0;
            }
            if (f[1] == 'm' && !f[2]) { /* map: a list of struct<key, value> */
                t->offsets = 32;
                t->list = 1;
                t->is_map = 1;
                return 0;
            }
            if (f[1] == 's' && !f[2]) {
                t->buffers = 1;
                t->is_struct = 1;
                return 0;
            }
            if (f[1] == 'w' && f[2] == ':') { /* fixed-size list */
                p = f + 3;
                if ((n = zenith__arrow_num(&p)) <= 0 || *p) return -1;
                t->buffers = 1;
                t->fixed_list = (int)n;
                return 0;
            }
            return -1; /* unions, run-end encoded, views: not supported */
        default: return -1;
    }
}

static int64_t zenith__arrow_offset(const void *buf, int width, int64_t i) {
    return width == 32 ? (int64_t)((const int32_t *)buf)[i] : ((const int64_t *)buf)[i];
}

/* Zero bits of a validity bitmap over [from, from + n). */
static int64_t zenith__arrow_nulls(const uint8_t *bits, int64_t from, int64_t n) {
    int64_t i, set = 0;
    for (i = from; i < from + n && (i & 7); i++) set += (bits[i >> 3] >> (i & 7)) & 1;
    for (; i + 64 <= from + n; i += 64) { /* SWAR popcount: no libgcc call without -mpopcnt */
        uint64_t w;
        memcpy(&w, bits + (i >> 3), sizeof w);
        w = w - ((w >> 1) & 0x5555555555555555ull);
        w = (w & 0x3333333333333333ull) + ((w >> 2) & 0x3333333333333333ull);
        w = (w + (w >> 4)) & 0x0f0f0f0f0f0f0f0full;
        set += (int64_t)((w * 0x0101010101010101ull) >> 56);
    }
    for (; i < from + n; i++) set += (bits[i >> 3] >> (i & 7)) & 1;
    return n - set;
}

static int zenith__arrow_check(const struct ArrowArray *a, const struct ArrowSchema *s, int depth);

/* 1 if any of o[from + 1 .. to] is below its predecessor. Four at a time with GNU vector
   extensions (SSE2 on x86-64, NEON on arm64): ~4x the scalar loop. */
static int zenith__arrow_offsets32_decrease(const int32_t *o, int64_t from, int64_t to) {
    typedef int32_t zenith__v4 __attribute__((vector_size(16)));
    zenith__v4 acc = { 0, 0, 0, 0 };
    int64_t i = from;
    int bad = 0;
    for (; i + 4 <= to; i += 4) {
        zenith__v4 lo, hi;
        memcpy(&lo, o + i, sizeof lo);
        memcpy(&hi, o + i + 1, sizeof hi);
        acc |= (zenith__v4)(hi < lo);
    }
    {
        int32_t lanes[4];
        memcpy(lanes, &acc, sizeof lanes);
        bad = (lanes[0] | lanes[1] | lanes[2] | lanes[3]) != 0;
    }
    for (; i < to; i++) bad |= o[i + 1] < o[i];
    return bad;
}

/* Dictionary indices [offset, offset + length) of a valid entry must be inside [0, dict_len). */
static int zenith__arrow_check_indices(const struct ArrowArray *a, int bits, int is_signed, int64_t dict_len) {
    const uint8_t *valid = (const uint8_t *)a->buffers[0];
    const void *d = a->buffers[1];
    int64_t i;
    for (i = a->offset; i < a->offset + a->length; i++) {
        int64_t v;
        uint64_t u;
        if (valid && !((valid[i >> 3] >> (i & 7)) & 1)) continue;
        switch (bits) {
            case 8: v = is_signed ? (int64_t)((const int8_t *)d)[i] : (int64_t)((const uint8_t *)d)[i]; break;
            case 16: v = is_signed ? (int64_t)((const int16_t *)d)[i] : (int64_t)((const uint16_t *)d)[i]; break;
            case 32: v = is_signed ? (int64_t)((const int32_t *)d)[i] : (int64_t)((const uint32_t *)d)[i]; break;
            default:
                if (!is_signed) {
                    u = ((const uint64_t *)d)[i];
                    if (u >= (uint64_t)dict_len) return -1;
                    continue;
                }
                v = ((const int64_t *)d)[i];
        }
        if (v < 0 || v >= dict_len) return -1;
    }
    return 0;
}

static int zenith__arrow_check(const struct ArrowArray *a, const struct ArrowSchema *s, int depth) {
    zenith__arrow_type t;
    int64_t i, end;
    if (a == NULL || s == NULL || a->release == NULL || s->release == NULL || s->format == NULL ||
        depth > ZENITH__ARROW_MAX_DEPTH)
        return -1;
    if (a->length < 0 || a->offset < 0 || a->null_count < -1 || a->null_count > a->length ||
        a->length > INT64_MAX - a->offset || a->n_buffers < 0 || a->n_children < 0 || s->n_children < 0 ||
        a->n_children != s->n_children || (a->n_buffers > 0 && a->buffers == NULL) ||
        (a->n_children > 0 && (a->children == NULL || s->children == NULL)))
        return -1;
    if (zenith__arrow_parse(s->format, &t) != 0 || a->n_buffers != t.buffers) return -1;
    end = a->offset + a->length;
    if ((t.list || t.fixed_list) && a->n_children != 1) return -1;
    if (!t.list && !t.fixed_list && !t.is_struct && a->n_children != 0) return -1;
    if ((s->dictionary == NULL) != (a->dictionary == NULL)) return -1;
    if (s->dictionary && !t.is_integer) return -1; /* dictionary indices are integers */
    /* validity */
    if (t.validity) {
        const uint8_t *valid = (const uint8_t *)a->buffers[0];
        if (valid == NULL && a->null_count > 0) return -1;
        if (valid != NULL && a->null_count >= 0 && zenith__arrow_nulls(valid, a->offset, a->length) != a->null_count)
            return -1;
    } else if (t.buffers == 0 && a->null_count != a->length && a->null_count != -1) {
        return -1; /* the null type: every value is null */
    }
    /* fixed-width values */
    if (t.bits && a->length > 0 && a->buffers[1] == NULL) return -1;
    /* offsets: length + 1 of them, non-negative, monotonic, inside what they index */
    if (t.offsets && a->length > 0) {
        const void *off = a->buffers[1];
        int64_t first, last;
        if (off == NULL) return -1;
        int bad = 0;
        first = zenith__arrow_offset(off, t.offsets, a->offset);
        last = zenith__arrow_offset(off, t.offsets, end);
        if (first < 0) return -1;
        if (t.offsets == 32) {
            bad = zenith__arrow_offsets32_decrease((const int32_t *)off, a->offset, end);
        } else {
            const int64_t *o = (const int64_t *)off;
            for (i = a->offset; i < end; i++) bad |= o[i + 1] < o[i];
        }
        if (bad) return -1;
        if (t.var_data && last > first && a->buffers[2] == NULL) return -1;
        if (t.list && (a->children[0] == NULL || last > a->children[0]->length)) return -1;
    }
    /* children */
    if (t.is_map) {
        const struct ArrowSchema *kv = s->children[0];
        if (kv == NULL || kv->format == NULL || strcmp(kv->format, "+s") != 0 || kv->n_children != 2) return -1;
    }
    for (i = 0; i < a->n_children; i++) {
        const struct ArrowArray *c = a->children[i];
        if (zenith__arrow_check(c, s->children[i], depth + 1) != 0) return -1;
        if (t.is_struct && c->length < end) return -1;
        if (t.fixed_list && c->length / t.fixed_list < end) return -1;
    }
    /* dictionary */
    if (s->dictionary) {
        if (zenith__arrow_check(a->dictionary, s->dictionary, depth + 1) != 0) return -1;
        if (a->length > 0 && zenith__arrow_check_indices(a, t.bits, s->format[0] >= 'a', a->dictionary->length) != 0)
            return -1;
    }
    return 0;
}

/* ---- data-plane engine: the ring ----------------------------------------------------------------- */

/* A bounded MPMC ring (Vyukov): slot i's sequence says whose turn it is. A producer claims
   position p when seq == p (one CAS on tail), fills the slot, then stores seq = p + 1; a consumer
   claims p when seq == p + 1 (one CAS on head), empties it, then stores seq = p + capacity.
   Plugins run between the producer's claim and its store: a batch refused for a full ring never
   reaches a plugin (a retried publish is not counted twice by an aggregate), and order is kept.
   A batch a plugin drops still fills its slot, marked dropped (its structs already released):
   consumers step over it. */
typedef struct zenith__eslot {
    uint64_t seq;
    uint64_t source_id, seq_no;
    struct ArrowArray array;
    struct ArrowSchema schema;
    int64_t sel_count;  /* rows that pass when sel_bytes > 0 */
    uint32_t sel_bytes; /* bytes of the slot's selection bitmap (plugins), 0 = none; atomic: poll peeks */
    uint32_t dropped;   /* 1: a plugin dropped the batch; the structs are released */
} zenith__eslot;        /* 192 bytes: three whole lines, so neighbouring slots never share one */
typedef char zenith__eslot_is_three_lines[sizeof(zenith__eslot) == 192 ? 1 : -1];

#define ZENITH__SOURCES 4096u /* sources tracked for sequence gaps and duplicates */
#define ZENITH__SEQ_NONE UINT64_MAX

typedef struct zenith__esource {
    uint64_t key;  /* source_id + 1; 0 = empty (source UINT64_MAX has its own entry) */
    uint64_t last; /* last seq_no, ZENITH__SEQ_NONE before the first */
} zenith__esource;

struct zenith__plugins; /* the plugin table ("data-plane engine: plugins"), with ZENITH_PLUGINS */

struct zenith_engine {
    __attribute__((aligned(64))) uint64_t tail; /* producers */
    __attribute__((aligned(64))) uint64_t head; /* consumers */
    __attribute__((aligned(64))) uint64_t mask;
    zenith__eslot *slots;
    zenith__esource *sources;        /* ZENITH__SOURCES + 1 entries */
    struct zenith__plugins *plugins; /* NULL until the first plugin load; then until zenith_free */
    void *raw;                       /* the one allocation (engine, slots, sources), before alignment */
    /* counters off the hot path: errors, releases, sequence anomalies, drops by plugins */
    __attribute__((aligned(64))) uint64_t released;
    uint64_t rejected_full, rejected_invalid, seq_gaps, seq_duplicates, sources_used, sources_untracked;
    uint64_t dropped, dropped_polled; /* batches dropped by plugins; their slots stepped over by poll */
    /* plugin administration: a spin flag serialising loads, unloads, stats and results (never
       taken by publish or poll), and the last failed load */
    __attribute__((aligned(64))) uint32_t padmin;
    int plast_code;
    char plast_reason[ZENITH_PLUGIN_REASON_MAX];
};

#define ZENITH__RELAXED __ATOMIC_RELAXED
#define ZENITH__ACQUIRE __ATOMIC_ACQUIRE
#define ZENITH__RELEASE __ATOMIC_RELEASE

ZENITH_API ZenithEngine zenith_engine_create(uint32_t capacity) {
    zenith_engine *e;
    unsigned char *raw;
    uint64_t cap = 2, i; /* at least two slots: in a ring of one, a slot's "full" and "free for the
                            next lap" marks are the same number, and a second publish overwrote the first */
    size_t off_slots, off_sources, total;
    if (capacity == 0 || capacity > (1u << 24)) return NULL;
    while (cap < capacity) cap <<= 1;
    /* one block, every part on its own cache lines: engine, slots, the source table */
    off_slots = zenith__align_up(sizeof *e, ZENITH__LINE);
    off_sources = off_slots + (size_t)cap * sizeof(zenith__eslot);
    total = off_sources + (ZENITH__SOURCES + 1u) * sizeof(zenith__esource) + ZENITH__LINE;
    raw = (unsigned char *)ZENITH_MALLOC(total);
    if (raw == NULL) return NULL;
    e = (zenith_engine *)(void *)(raw +
                                  (zenith__align_up((size_t)(uintptr_t)raw, ZENITH__LINE) - (size_t)(uintptr_t)raw));
    memset(e, 0, sizeof *e);
    e->raw = raw;
    e->slots = (zenith__eslot *)(void *)((unsigned char *)e + off_slots);
    e->sources = (zenith__esource *)(void *)((unsigned char *)e + off_sources);
    memset(e->slots, 0, (size_t)cap * sizeof(zenith__eslot));
    for (i = 0; i < cap; i++) e->slots[i].seq = i;
    for (i = 0; i <= ZENITH__SOURCES; i++) {
        e->sources[i].key = 0;
        e->sources[i].last = ZENITH__SEQ_NONE;
    }
    e->mask = cap - 1u;
    return e;
}

/* Counts a gap or a duplicate against the source's previous sequence number. Lock-free.
   Inlined into both of publish's exits (kept and dropped). */
static inline __attribute__((always_inline)) void zenith__track_seq(zenith_engine *e, uint64_t source, uint64_t seq) {
    zenith__esource *src = NULL;
    uint64_t h, i, prev;
    if (source == UINT64_MAX) {
        src = &e->sources[ZENITH__SOURCES];
        if (__atomic_load_n(&src->key, ZENITH__RELAXED) == 0) {
            uint64_t zero = 0;
            if (__atomic_compare_exchange_n(&src->key, &zero, 1u, 0, ZENITH__RELAXED, ZENITH__RELAXED))
                __atomic_fetch_add(&e->sources_used, 1u, ZENITH__RELAXED);
        }
    } else {
        h = (source + 1u) * 0x9E3779B97F4A7C15ull;
        for (i = 0; i < 16u && src == NULL; i++) { /* 16 probes, then untracked */
            zenith__esource *c = &e->sources[((h >> 52) + i) & (ZENITH__SOURCES - 1u)];
            uint64_t k = __atomic_load_n(&c->key, ZENITH__ACQUIRE);
            if (k == 0) {
                uint64_t zero = 0;
                if (__atomic_compare_exchange_n(&c->key, &zero, source + 1u, 0, __ATOMIC_ACQ_REL, ZENITH__ACQUIRE)) {
                    __atomic_fetch_add(&e->sources_used, 1u, ZENITH__RELAXED);
                    src = c;
                    break;
                }
                k = zero;
            }
            if (k == source + 1u) src = c;
        }
        if (src == NULL) {
            __atomic_fetch_add(&e->sources_untracked, 1u, ZENITH__RELAXED);
            return;
        }
    }
    prev = __atomic_exchange_n(&src->last, seq, ZENITH__RELAXED);
    if (prev == ZENITH__SEQ_NONE || seq == prev + 1u) return;
    if (seq > prev)
        __atomic_fetch_add(&e->seq_gaps, seq - prev - 1u, ZENITH__RELAXED);
    else
        __atomic_fetch_add(&e->seq_duplicates, 1u, ZENITH__RELAXED);
}

/* ---- data-plane engine: plugins ------------------------------------------------------------------

   With ZENITH_PLUGINS, zenith.h carries a private copy of zenith_wasm.h's interpreter (static
   functions: a program may use zenith_wasm.h itself as well). The plugin table is allocated at
   the first load and lives until zenith_free; a publish reads it without a lock:

   - a plugin is a table entry with `instances` instances, each a wasm store of its own with an
     input area in its memory. An instance's state is FREE, BUSY or GONE: a publish takes one
     with one CAS (FREE -> BUSY; its thread's home instance first, so one publisher thread keeps
     using the same instance and its memory stays in that core's cache), runs the plugin, and
     stores FREE with release. It spins (counted in waits) only when every instance is busy.
   - load fills an empty entry, then stores FREE into each instance (release) and live = 1;
     unload stores live = 0, then CASes each instance FREE -> GONE, waiting for a publish that
     holds one, and only then destroys the stores: a publish that read live == 1 either holds
     an instance (and unload waits for it) or finds GONE (and skips the plugin).
   - an instance's counters are written only by its holder (relaxed stores, no read-modify-
     write) and summed by zenith_plugin_get_stats.
   - the selection area: one bitmap of sel_rows bits per ring slot, written by the publisher that
     claimed the slot and copied out by zenith_poll_selection before the slot is given back. */

#define ZENITH__PI_FREE 0u
#define ZENITH__PI_BUSY 1u
#define ZENITH__PI_GONE 2u

static void zenith__spin_pause(uint32_t n) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ __volatile__("yield");
#endif
    if (n > 64u) sched_yield();
}

static void zenith__padmin_lock(zenith_engine *e) {
    uint32_t n = 0;
    while (__atomic_exchange_n(&e->padmin, 1u, ZENITH__ACQUIRE) != 0) zenith__spin_pause(++n);
}

static void zenith__padmin_unlock(zenith_engine *e) { __atomic_store_n(&e->padmin, 0u, ZENITH__RELEASE); }

/* Records a failed load's code and reason (under the admin flag) and copies the reason out. */
static int zenith__plugin_failed(zenith_engine *e, char *reason, size_t cap, int code, const char *why) {
    size_t n = strlen(why);
    if (n >= sizeof e->plast_reason) n = sizeof e->plast_reason - 1u;
    memcpy(e->plast_reason, why, n);
    e->plast_reason[n] = 0;
    e->plast_code = code;
    if (reason && cap) {
        if (n >= cap) n = cap - 1u;
        memcpy(reason, why, n);
        reason[n] = 0;
    }
    return code;
}

#if defined(ZENITH_PLUGINS)
#if defined(__cplusplus)
#error "zenith.h: ZENITH_PLUGINS needs the implementation compiled as C (zenith_wasm.h's implementation is C)"
#endif
#ifndef ZENITH_WASM_H_INCLUDED
#define ZENITH_WASM_STATIC /* a private copy; zenith_wasm.h included before this is used as it is */
#endif
#ifndef ZENITH_WASM_IMPLEMENTATION
#define ZENITH_WASM_IMPLEMENTATION
#endif
#include "zenith_wasm.h"

#define ZENITH__PCOLS 16u   /* columns a plugin may ask for */
#define ZENITH__PNAME 64u   /* bytes of a column name, NUL included */
#define ZENITH__P_INIT 112u /* sizeof(zp_init) */
#define ZENITH__P_HDR 48u   /* sizeof(zp_batch) */
#define ZENITH__P_COL 24u   /* sizeof(zp_column) */
#define ZENITH__P_SELECT_MAX (1u << 24)

/* One instance: a store with the plugin instantiated in it, on its own cache lines. */
typedef struct zenith__pinst {
    __attribute__((aligned(64))) uint32_t state; /* ZENITH__PI_*: taken with one CAS */
    uint32_t area;                               /* the input area in the instance's memory */
    uint32_t area_size;
    uint32_t results; /* address of the result values */
    zenith_wasm_store *store;
    zenith_wasm_extern *mem, *fn_batch, *fn_alloc;
    /* counters: written by the instance's holder only (relaxed), summed by get_stats */
    uint64_t calls, rows_in, rows_out, passed, rejected, selected, traps, fuel_exhausted, errors, skipped;
    uint64_t fuel_used;
    int32_t last_trap;
} zenith__pinst;

typedef struct zenith__plugin {
    uint32_t live;        /* 1 while attached (atomic) */
    uint32_t ninst;       /* instances (atomic: read before an instance is held) */
    uint32_t disabled;    /* atomic */
    uint32_t consecutive; /* failed calls in a row (atomic) */
    uint32_t gen;         /* bumped by unload: a plugin id is gen * ZENITH_MAX_PLUGINS + entry */
    uint32_t flags, max_failures, max_rows, ncols, nresults;
    uint64_t fuel, fuel_per_row;
    uint64_t waits; /* atomic */
    zenith_wasm_module *module;
    char cols[ZENITH__PCOLS][ZENITH__PNAME];
    uint8_t ops[ZENITH_PLUGIN_MAX_RESULTS];
    zenith__pinst inst[ZENITH_PLUGIN_MAX_INSTANCES];
} zenith__plugin;

struct zenith__plugins {
    uint32_t nlive;    /* attached plugins (atomic): 0 = a publish skips all of this */
    uint32_t sel_rows; /* rows of the selection area's bitmaps (the first plugin's max_rows) */
    size_t sel_stride; /* bytes per slot */
    uint8_t *sel;      /* capacity * sel_stride bytes; NULL before the first successful load */
    void *raw;         /* this block's allocation, before alignment */
    zenith__plugin p[ZENITH_MAX_PLUGINS];
};

static __thread uint32_t zenith__ptid; /* this thread's number + 1: picks its home instance */
static uint32_t zenith__ptid_next;

/* Holds a free instance of p (home first), or NULL once p is being unloaded. */
static zenith__pinst *zenith__pinst_take(zenith__plugin *p) {
    uint32_t n = __atomic_load_n(&p->ninst, ZENITH__RELAXED), k, start, spins = 0;
    if (n == 0) return NULL;
    if (zenith__ptid == 0) zenith__ptid = __atomic_add_fetch(&zenith__ptid_next, 1u, ZENITH__RELAXED);
    start = (zenith__ptid - 1u) % n;
    for (;;) {
        for (k = 0; k < n; k++) {
            zenith__pinst *in = &p->inst[(start + k) % n];
            uint32_t st = __atomic_load_n(&in->state, ZENITH__RELAXED), fr = ZENITH__PI_FREE;
            if (st == ZENITH__PI_GONE) return NULL;
            if (st == ZENITH__PI_FREE &&
                __atomic_compare_exchange_n(&in->state, &fr, ZENITH__PI_BUSY, 0, ZENITH__ACQUIRE, ZENITH__RELAXED))
                return in;
        }
        if (spins++ == 0) __atomic_fetch_add(&p->waits, 1u, ZENITH__RELAXED);
        zenith__spin_pause(spins);
    }
}

/* Holder-only counter: a relaxed load and store, no read-modify-write. */
#define ZENITH__PADD(field, v) \
    __atomic_store_n(&(field), __atomic_load_n(&(field), ZENITH__RELAXED) + (v), ZENITH__RELAXED)

/* Plugin ABI 1 column types (plugins/zenith_plugin.h: ZP_*). */
enum {
    ZENITH__ZP_BOOL = 1,
    ZENITH__ZP_INT8,
    ZENITH__ZP_UINT8,
    ZENITH__ZP_INT16,
    ZENITH__ZP_UINT16,
    ZENITH__ZP_INT32,
    ZENITH__ZP_UINT32,
    ZENITH__ZP_INT64,
    ZENITH__ZP_UINT64,
    ZENITH__ZP_FLOAT32,
    ZENITH__ZP_FLOAT64,
    ZENITH__ZP_TIMESTAMP,
    ZENITH__ZP_DATE32,
    ZENITH__ZP_DATE64,
    ZENITH__ZP_TIME32,
    ZENITH__ZP_TIME64,
    ZENITH__ZP_DURATION
};

/* One column resolved for a call. */
typedef struct zenith__pcol {
    const struct ArrowArray *arr; /* the column's array */
    int64_t off;                  /* index of row 0 in its buffers (parent offset included) */
    const uint8_t *pvalid;        /* the parent struct's validity, or NULL */
    int64_t poff;                 /* index of row 0 in it */
    uint32_t type, unit, bits;
    int has_validity;
} zenith__pcol;

static int zenith__punit(char c) { return c == 's' ? 0 : c == 'm' ? 1 : c == 'u' ? 2 : c == 'n' ? 3 : -1; }

/* The ABI type of an Arrow format, or 0 when the ABI has none (strings, nested, float16...). */
static uint32_t zenith__ptype(const char *f, uint32_t *unit, uint32_t *bits) {
    static const char one[] = "bcCsSiIlLfg";
    static const uint8_t width[] = { 1, 8, 8, 16, 16, 32, 32, 64, 64, 32, 64 };
    const char *q;
    int u;
    *unit = 0;
    if (f[0] && !f[1] && (q = strchr(one, f[0])) != NULL) {
        *bits = width[q - one];
        return (uint32_t)(ZENITH__ZP_BOOL + (q - one));
    }
    if (f[0] != 't' || !f[1] || !f[2]) return 0;
    if (f[1] == 'd' && !f[3]) {
        *bits = f[2] == 'D' ? 32u : 64u;
        return f[2] == 'D' ? ZENITH__ZP_DATE32 : f[2] == 'm' ? ZENITH__ZP_DATE64 : 0u;
    }
    if ((u = zenith__punit(f[2])) < 0) return 0;
    *unit = (uint32_t)u;
    *bits = 64;
    if (f[1] == 't' && !f[3]) {
        if (u <= 1) *bits = 32;
        return u <= 1 ? ZENITH__ZP_TIME32 : ZENITH__ZP_TIME64;
    }
    if (f[1] == 's' && f[3] == ':') return ZENITH__ZP_TIMESTAMP;
    if (f[1] == 'D' && !f[3]) return ZENITH__ZP_DURATION;
    return 0;
}

/* Finds the plugin's columns in a batch: a struct's children by name, or a non-struct array as
   one column named by its schema. 0 when one is missing or of a type outside the ABI. */
static int zenith__pcols_find(const zenith__plugin *p, const struct ArrowArray *a, const struct ArrowSchema *s,
                              zenith__pcol *cols) {
    uint32_t c;
    int is_struct = s->format[0] == '+' && s->format[1] == 's' && !s->format[2];
    for (c = 0; c < p->ncols; c++) {
        const struct ArrowArray *ca = NULL;
        const struct ArrowSchema *cs = NULL;
        zenith__pcol *pc = &cols[c];
        if (is_struct) {
            int64_t j;
            for (j = 0; j < s->n_children; j++)
                if (s->children[j]->name && strcmp(s->children[j]->name, p->cols[c]) == 0) {
                    ca = a->children[j];
                    cs = s->children[j];
                    break;
                }
            if (ca == NULL) return 0;
            pc->off = ca->offset + a->offset;
            pc->pvalid = a->null_count != 0 && a->buffers[0] ? (const uint8_t *)a->buffers[0] : NULL;
            pc->poff = a->offset;
        } else {
            if (s->name == NULL || strcmp(s->name, p->cols[c]) != 0) return 0;
            ca = a;
            cs = s;
            pc->off = a->offset;
            pc->pvalid = NULL;
            pc->poff = 0;
        }
        if (cs->dictionary || (pc->type = zenith__ptype(cs->format, &pc->unit, &pc->bits)) == 0) return 0;
        pc->arr = ca;
        pc->has_validity = (ca->null_count != 0 && ca->buffers[0] != NULL) || pc->pvalid != NULL;
    }
    return 1;
}

/* n bits of src from bit `off` into dst from bit 0 (op 0: copy, 1: AND into dst); the bits of
   the last byte past n are cleared. */
static void zenith__bits_move(uint8_t *dst, const uint8_t *src, int64_t off, uint32_t n, int op) {
    uint32_t nbytes = (n + 7u) / 8u, j;
    const uint8_t *p = src + (off >> 3);
    unsigned sh = (unsigned)(off & 7);
    if (n == 0) return;
    if (sh == 0 && op == 0) {
        memcpy(dst, p, nbytes);
    } else {
        size_t have = ((size_t)sh + n + 7u) / 8u; /* source bytes the bits span */
        for (j = 0; j < nbytes; j++) {
            unsigned v = (unsigned)p[j] >> sh;
            if (sh && j + 1u < have) v |= (unsigned)p[j + 1u] << (8u - sh);
            if (op)
                dst[j] &= (uint8_t)v;
            else
                dst[j] = (uint8_t)v;
        }
    }
    if (n & 7u) dst[nbytes - 1u] &= (uint8_t)((1u << (n & 7u)) - 1u);
}

static uint32_t zenith__pad8(uint64_t v) { return (uint32_t)((v + 7u) & ~(uint64_t)7u); }

static void zenith__put32(uint8_t *p, uint32_t v) { memcpy(p, &v, 4); }
static void zenith__put64(uint8_t *p, uint64_t v) { memcpy(p, &v, 8); }
static uint32_t zenith__get32(const uint8_t *p) {
    uint32_t v;
    memcpy(&v, p, 4);
    return v;
}

/* Bytes of the input area for `rows` rows of the plugin's columns. */
static uint64_t zenith__parea_size(const zenith__plugin *p, const zenith__pcol *cols, uint32_t rows) {
    uint64_t bm = zenith__pad8(((uint64_t)rows + 7u) / 8u), n;
    uint32_t c;
    n = zenith__pad8(ZENITH__P_HDR + (uint64_t)ZENITH__P_COL * p->ncols) + bm;
    for (c = 0; c < p->ncols; c++) {
        uint32_t bits = cols ? cols[c].bits : 64u;
        n += (cols == NULL || cols[c].has_validity) ? bm : 0u;
        n += bits == 1u ? bm : zenith__pad8((uint64_t)rows * (bits / 8u));
    }
    return n;
}

/* Calls an (i32) -> i32 export with the plugin's base fuel. 0 and *out, or a code. */
static int zenith__pcall1(zenith_wasm_extern *fn, zenith_wasm_store *st, uint64_t fuel, uint32_t arg, int32_t *out) {
    zenith_wasm_value a, r;
    int rc;
    a.type = ZENITH_WASM_I32;
    a.of.u32 = arg;
    zenith_wasm_store_set_fuel(st, fuel);
    rc = zenith_wasm_call(fn, &a, 1, &r, 1);
    if (rc == 0) *out = r.of.i32;
    return rc;
}

/* Asks the instance for an input area of at least `need` bytes. 0, or -1. */
static int zenith__parea_grow(zenith__plugin *p, zenith__pinst *in, uint64_t need) {
    uint64_t ask = need < (uint64_t)in->area_size * 2u ? (uint64_t)in->area_size * 2u : need;
    int32_t ptr;
    size_t msize = 0;
    if (ask > 0xffff0000u) ask = need;
    if (ask > 0xffff0000u) return -1;
    if (zenith__pcall1(in->fn_alloc, in->store, p->fuel, (uint32_t)ask, &ptr) != 0) return -1;
    zenith_wasm_memory_data(in->mem, &msize);
    if (ptr == 0 || ((uint32_t)ptr & 7u) || (uint64_t)(uint32_t)ptr + ask > msize) return -1;
    in->area = (uint32_t)ptr;
    in->area_size = (uint32_t)ask;
    return 0;
}

#define ZENITH__PV_PASS 0
#define ZENITH__PV_DROP 1
#define ZENITH__PV_SELECT 2

/* Counts a failed call: disables the plugin after max_failures in a row. */
static void zenith__pfailed(zenith__plugin *p) {
    if (__atomic_add_fetch(&p->consecutive, 1u, ZENITH__RELAXED) >= p->max_failures)
        __atomic_store_n(&p->disabled, 1u, ZENITH__RELAXED);
}

/* Runs plugin p on instance `in` over the batch. With a selection, ANDs it into sel (copies it
   when have_sel is 0) and updates *count. Returns ZENITH__PV_*. */
static int zenith__plugin_run(zenith__plugin *p, zenith__pinst *in, const struct ArrowArray *a,
                              const struct ArrowSchema *s, uint64_t src, uint64_t seq, uint8_t *sel, int have_sel,
                              int64_t *count) {
    zenith__pcol cols[ZENITH__PCOLS];
    int fail = (p->flags & ZENITH_PLUGIN_FAIL_REJECT) ? ZENITH__PV_DROP : ZENITH__PV_PASS;
    uint32_t rows, c, bm, hdr, at, verdict_bytes;
    uint64_t need;
    uint8_t *mem, *base;
    size_t msize = 0;
    int32_t verdict;
    int rc;
    if (a->length > (int64_t)p->max_rows || !zenith__pcols_find(p, a, s, cols)) {
        ZENITH__PADD(in->skipped, 1u);
        if (fail == ZENITH__PV_PASS) ZENITH__PADD(in->rows_out, (uint64_t)a->length);
        return fail;
    }
    rows = (uint32_t)a->length;
    need = zenith__parea_size(p, cols, rows);
    if (need > in->area_size && zenith__parea_grow(p, in, need) != 0) goto error;
    mem = zenith_wasm_memory_data(in->mem, &msize);
    if (mem == NULL || (uint64_t)in->area + need > msize) goto error;
    /* the copy-in: header, columns, a zeroed selection, then each column's validity and values */
    base = mem + in->area;
    bm = zenith__pad8(((uint64_t)rows + 7u) / 8u);
    hdr = zenith__pad8(ZENITH__P_HDR + (uint64_t)ZENITH__P_COL * p->ncols);
    zenith__put32(base + 0, 1u);
    zenith__put32(base + 4, rows);
    zenith__put32(base + 8, p->ncols);
    zenith__put32(base + 12, in->area + hdr);
    zenith__put64(base + 16, src);
    zenith__put64(base + 24, seq);
    zenith__put32(base + 32, in->area + ZENITH__P_HDR);
    zenith__put32(base + 36, 0);
    zenith__put64(base + 40, 0);
    memset(base + hdr, 0, bm);
    at = hdr + bm;
    for (c = 0; c < p->ncols; c++) {
        const zenith__pcol *pc = &cols[c];
        uint8_t *cd = base + ZENITH__P_HDR + ZENITH__P_COL * c;
        uint32_t valid_at = 0, nulls = 0, bytes;
        const uint8_t *data = (const uint8_t *)pc->arr->buffers[1];
        if (pc->has_validity) {
            const uint8_t *cv = pc->arr->null_count != 0 ? (const uint8_t *)pc->arr->buffers[0] : NULL;
            if (cv)
                zenith__bits_move(base + at, cv, pc->off, rows, 0);
            else
                memset(base + at, 0xff, bm);
            if (pc->pvalid) zenith__bits_move(base + at, pc->pvalid, pc->poff, rows, 1);
            if (rows & 7u) base[at + (rows - 1u) / 8u] &= (uint8_t)((1u << (rows & 7u)) - 1u);
            nulls = (uint32_t)zenith__arrow_nulls(base + at, 0, rows);
            if (nulls) valid_at = in->area + at;
            at += bm;
        }
        if (pc->bits == 1u) {
            bytes = bm;
            if (rows) zenith__bits_move(base + at, data, pc->off, rows, 0);
        } else {
            bytes = zenith__pad8((uint64_t)rows * (pc->bits / 8u));
            if (rows) memcpy(base + at, data + (size_t)pc->off * (pc->bits / 8u), (size_t)rows * (pc->bits / 8u));
        }
        zenith__put32(cd + 0, pc->type);
        zenith__put32(cd + 4, pc->unit);
        zenith__put32(cd + 8, in->area + at);
        zenith__put32(cd + 12, valid_at);
        zenith__put32(cd + 16, nulls);
        zenith__put32(cd + 20, pc->bits);
        at += bytes;
    }
    /* the call */
    {
        uint64_t fuel = p->fuel + p->fuel_per_row * rows; /* saturated: a huge budget stays huge */
        if (p->fuel_per_row && (fuel < p->fuel || (fuel - p->fuel) / p->fuel_per_row != rows)) fuel = UINT64_MAX;
        rc = zenith__pcall1(in->fn_batch, in->store, fuel, in->area, &verdict);
    }
    ZENITH__PADD(in->calls, 1u);
    ZENITH__PADD(in->rows_in, rows);
    ZENITH__PADD(in->fuel_used, zenith_wasm_store_fuel_used(in->store));
    if (rc != 0) {
        ZENITH__PADD(in->traps, 1u);
        if (rc == ZENITH_WASM_TRAP_FUEL) ZENITH__PADD(in->fuel_exhausted, 1u);
        __atomic_store_n(&in->last_trap, rc, ZENITH__RELAXED);
        goto failed;
    }
    if (verdict == 0) {
        ZENITH__PADD(in->passed, 1u);
        ZENITH__PADD(in->rows_out, rows);
        goto good;
    }
    if (verdict == 1) {
        ZENITH__PADD(in->rejected, 1u);
        verdict = ZENITH__PV_DROP;
        goto good_verdict;
    }
    if (verdict != 2) goto error;
    /* a selection: read back from the memory (the call may have grown it) */
    mem = zenith_wasm_memory_data(in->mem, &msize);
    if (mem == NULL || (uint64_t)in->area + need > msize) goto error;
    {
        uint8_t *bits = mem + in->area + hdr;
        int64_t n;
        verdict_bytes = (rows + 7u) / 8u;
        if (rows & 7u) bits[verdict_bytes - 1u] &= (uint8_t)((1u << (rows & 7u)) - 1u);
        n = (int64_t)rows - zenith__arrow_nulls(bits, 0, rows);
        if (n == (int64_t)rows) {
            ZENITH__PADD(in->passed, 1u);
            ZENITH__PADD(in->rows_out, rows);
            goto good;
        }
        if (n == 0) {
            ZENITH__PADD(in->rejected, 1u);
            verdict = ZENITH__PV_DROP;
            goto good_verdict;
        }
        ZENITH__PADD(in->selected, 1u);
        ZENITH__PADD(in->rows_out, (uint64_t)n);
        if (have_sel) {
            zenith__bits_move(sel, bits, 0, rows, 1);
            n = (int64_t)rows - zenith__arrow_nulls(sel, 0, rows);
        } else {
            memcpy(sel, bits, verdict_bytes);
        }
        *count = n;
        verdict = n == 0 ? ZENITH__PV_DROP : ZENITH__PV_SELECT;
        goto good_verdict;
    }
good:
    verdict = ZENITH__PV_PASS;
good_verdict:
    if (__atomic_load_n(&p->consecutive, ZENITH__RELAXED) != 0) __atomic_store_n(&p->consecutive, 0u, ZENITH__RELAXED);
    return verdict;
error:
    ZENITH__PADD(in->errors, 1u);
failed:
    if (fail == ZENITH__PV_PASS) ZENITH__PADD(in->rows_out, rows);
    zenith__pfailed(p);
    return fail;
}

/* Runs every attached plugin on a batch that holds ring position pos. Returns ZENITH__PV_DROP,
   ZENITH__PV_SELECT (the slot's bitmap written, *count rows pass) or ZENITH__PV_PASS. */
static int zenith__plugins_apply(zenith_engine *e, struct zenith__plugins *ps, uint64_t pos, const struct ArrowArray *a,
                                 const struct ArrowSchema *s, uint64_t src, uint64_t seq, int64_t *count) {
    uint8_t *sel = ps->sel + (size_t)(pos & e->mask) * ps->sel_stride;
    int have_sel = 0;
    uint32_t i;
    for (i = 0; i < ZENITH_MAX_PLUGINS; i++) {
        zenith__plugin *p = &ps->p[i];
        zenith__pinst *in;
        int v;
        if (!__atomic_load_n(&p->live, ZENITH__RELAXED) || __atomic_load_n(&p->disabled, ZENITH__RELAXED)) continue;
        if ((in = zenith__pinst_take(p)) == NULL) continue; /* being unloaded */
        if (__atomic_load_n(&p->disabled, ZENITH__RELAXED))
            v = ZENITH__PV_PASS; /* disabled while this publish waited for the instance */
        else
            v = zenith__plugin_run(p, in, a, s, src, seq, sel, have_sel, count);
        __atomic_store_n(&in->state, ZENITH__PI_FREE, ZENITH__RELEASE);
        if (v == ZENITH__PV_DROP) return v;
        if (v == ZENITH__PV_SELECT) have_sel = 1;
    }
    return have_sel ? ZENITH__PV_SELECT : ZENITH__PV_PASS;
}

/* Destroys a plugin's instances and module (no publish holds any). */
static void zenith__plugin_clear(zenith__plugin *p) {
    uint32_t k;
    for (k = 0; k < ZENITH_PLUGIN_MAX_INSTANCES; k++) { /* state stays GONE: a late publish may read it */
        zenith__pinst *in = &p->inst[k];
        zenith_wasm_store_destroy(in->store);
        memset(&in->area, 0, sizeof *in - offsetof(zenith__pinst, area));
    }
    zenith_wasm_module_destroy(p->module);
    p->module = NULL;
    __atomic_store_n(&p->ninst, 0u, ZENITH__RELAXED);
    __atomic_store_n(&p->disabled, 0u, ZENITH__RELAXED);
    __atomic_store_n(&p->consecutive, 0u, ZENITH__RELAXED);
    __atomic_store_n(&p->waits, 0u, ZENITH__RELAXED);
}

/* The number of CPUs this process may run on (1 if unknown). */
static uint32_t zenith__pcpus(void) {
    cpu_set_t set;
    int n;
    if (sched_getaffinity(0, sizeof set, &set) != 0) return 1;
    n = CPU_COUNT(&set);
    return n > 0 ? (uint32_t)n : 1u;
}

/* Finds export `name` of the module: 0 and checks it is a function (i32 x nparams) -> i32. */
static int zenith__pexport(const zenith_wasm_module *m, const char *name, uint32_t nparams, int *found) {
    uint32_t i, n = zenith_wasm_module_export_count(m);
    size_t len = strlen(name);
    *found = 0;
    for (i = 0; i < n; i++) {
        zenith_wasm_extern_info x;
        memset(&x, 0, sizeof x);
        if (zenith_wasm_module_export(m, i, &x) != 0 || x.name_len != len || memcmp(x.name, name, len) != 0) continue;
        *found = 1;
        if (x.kind != ZENITH_WASM_EXTERN_FUNC || x.func.nparams != nparams || x.func.nresults != 1 ||
            x.func.results[0] != ZENITH_WASM_I32 || (nparams == 1 && x.func.params[0] != ZENITH_WASM_I32))
            return -1;
        return 0;
    }
    return 0;
}

/* Instance k of p: store, instantiation, ABI, init, columns and results, the first input area.
   0, or a code with why[] filled. */
/* ---- host kernels: the plugin ABI's optional imports (module "zenith"; docs/PLUGINS.md) ----
   Whole-column loops run natively on the plugin's own memory: every range is bounds-checked
   against that memory (a trap, ZENITH_WASM_TRAP_MEMORY_OOB, when out), and each call charges
   1 + n/8 fuel (zenith_wasm_charge), so a plugin cannot buy unbounded host work. */

/* The bytes [off, off + len) of the caller's memory, or NULL (out of bounds). */
static uint8_t *zenith__pk_span(zenith_wasm_instance *caller, uint32_t off, uint64_t len) {
    size_t size = 0;
    uint8_t *mem = zenith_wasm_memory_data(zenith_wasm_instance_memory(caller), &size);
    if (mem == NULL || (uint64_t)off + len > size) return NULL;
    return mem + off;
}

/* data, validity (0: none), n -> the spans, after charging the fuel. 0 or a trap code. */
static int zenith__pk_in(zenith_wasm_instance *caller, uint32_t data, uint32_t width, uint32_t validity, uint32_t n,
                         const uint8_t **d, const uint8_t **v) {
    int rc = zenith_wasm_charge(caller, 1u + n / 8u);
    if (rc != 0) return rc;
    *d = zenith__pk_span(caller, data, (uint64_t)n * width);
    *v = validity ? zenith__pk_span(caller, validity, ((uint64_t)n + 7u) / 8u) : NULL;
    if (*d == NULL || (validity && *v == NULL)) return ZENITH_WASM_TRAP_MEMORY_OOB;
    return 0;
}

/* Bits set in a byte (no popcount instruction in baseline x86-64: the builtin is a call). */
static uint32_t zenith__pc8(uint32_t b) {
    b = b - ((b >> 1) & 0x55u);
    b = (b & 0x33u) + ((b >> 2) & 0x33u);
    return (b + (b >> 4)) & 0x0fu;
}

/* Eight rows' bits, lo <= x <= hi (NaN never): SSE2 for doubles where there is SSE2. */
static uint32_t zenith__pk8_f64(const uint8_t *p, double lo, double hi) {
#if defined(__SSE2__)
    const __m128d l = _mm_set1_pd(lo), h = _mm_set1_pd(hi);
    const double *q = (const double *)(const void *)p;
    const __m128d a = _mm_loadu_pd(q), b = _mm_loadu_pd(q + 2), c = _mm_loadu_pd(q + 4), d = _mm_loadu_pd(q + 6);
    return (uint32_t)_mm_movemask_pd(_mm_and_pd(_mm_cmpge_pd(a, l), _mm_cmple_pd(a, h))) |
           (uint32_t)_mm_movemask_pd(_mm_and_pd(_mm_cmpge_pd(b, l), _mm_cmple_pd(b, h))) << 2 |
           (uint32_t)_mm_movemask_pd(_mm_and_pd(_mm_cmpge_pd(c, l), _mm_cmple_pd(c, h))) << 4 |
           (uint32_t)_mm_movemask_pd(_mm_and_pd(_mm_cmpge_pd(d, l), _mm_cmple_pd(d, h))) << 6;
#else
    double x[8];
    uint32_t k, bits = 0;
    memcpy(x, p, sizeof x);
    for (k = 0; k < 8; k++) bits |= (uint32_t)((x[k] >= lo) & (x[k] <= hi)) << k;
    return bits;
#endif
}
static uint32_t zenith__pk8_i64(const uint8_t *p, int64_t lo, int64_t hi) {
    int64_t x[8];
    uint32_t k, bits = 0;
    memcpy(x, p, sizeof x);
    for (k = 0; k < 8; k++) bits |= (uint32_t)((x[k] >= lo) & (x[k] <= hi)) << k;
    return bits;
}

/* Selection bits of rows lo <= x <= hi (NaN never), valid rows only; whole bytes written. */
#define ZENITH__PK_RANGE(name, T, eight, lo_of, hi_of)                                                            \
    static int name(void *user, zenith_wasm_instance *caller, const zenith_wasm_value *a, zenith_wasm_value *r) { \
        const uint32_t n = a[2].of.u32;                                                                           \
        const T lo = lo_of, hi = hi_of;                                                                           \
        const uint8_t *d, *v;                                                                                     \
        uint8_t *sel;                                                                                             \
        uint32_t i, count = 0, bits;                                                                              \
        int rc = zenith__pk_in(caller, a[0].of.u32, (uint32_t)sizeof(T), a[1].of.u32, n, &d, &v);                 \
        (void)user;                                                                                               \
        if (rc != 0) return rc;                                                                                   \
        sel = zenith__pk_span(caller, a[5].of.u32, ((uint64_t)n + 7u) / 8u);                                      \
        if (sel == NULL) return ZENITH_WASM_TRAP_MEMORY_OOB;                                                      \
        for (i = 0; i + 8u <= n; i += 8u) { /* eight rows a byte, no branch */                                    \
            bits = eight(d + (size_t)i * sizeof(T), lo, hi);                                                      \
            if (v) bits &= v[i >> 3];                                                                             \
            sel[i >> 3] = (uint8_t)bits;                                                                          \
            count += zenith__pc8(bits);                                                                           \
        }                                                                                                         \
        if (i < n) {                                                                                              \
            uint32_t k;                                                                                           \
            for (bits = 0, k = 0; i + k < n; k++) {                                                               \
                T x;                                                                                              \
                memcpy(&x, d + ((size_t)i + k) * sizeof(T), sizeof(T));                                           \
                bits |= (uint32_t)((x >= lo) & (x <= hi)) << k;                                                   \
            }                                                                                                     \
            if (v) bits &= v[i >> 3];                                                                             \
            sel[i >> 3] = (uint8_t)bits;                                                                          \
            count += zenith__pc8(bits);                                                                           \
        }                                                                                                         \
        r[0].of.u32 = count;                                                                                      \
        return 0;                                                                                                 \
    }
ZENITH__PK_RANGE(zenith__pk_range_f64, double, zenith__pk8_f64, a[3].of.f64, a[4].of.f64)
ZENITH__PK_RANGE(zenith__pk_range_i64, int64_t, zenith__pk8_i64, a[3].of.i64, a[4].of.i64)
#undef ZENITH__PK_RANGE

/* sum_f64(data, validity, n): the valid values summed in row order. */
static int zenith__pk_sum_f64(void *user, zenith_wasm_instance *caller, const zenith_wasm_value *a,
                              zenith_wasm_value *r) {
    const uint32_t n = a[2].of.u32;
    const uint8_t *d, *v;
    double sum = 0;
    uint32_t i;
    int rc = zenith__pk_in(caller, a[0].of.u32, 8u, a[1].of.u32, n, &d, &v);
    (void)user;
    if (rc != 0) return rc;
    for (i = 0; i < n; i++) {
        double x;
        if (v && !((v[i >> 3] >> (i & 7u)) & 1u)) continue;
        memcpy(&x, d + (size_t)i * 8u, 8);
        sum += x;
    }
    r[0].of.f64 = sum;
    return 0;
}

/* dot_f64(a, a_validity, b, b_validity, n): sum of a[i] * b[i] over rows valid in both, in
   row order. */
static int zenith__pk_dot_f64(void *user, zenith_wasm_instance *caller, const zenith_wasm_value *a,
                              zenith_wasm_value *r) {
    const uint32_t n = a[4].of.u32;
    const uint8_t *x, *xv, *y, *yv;
    double sum = 0;
    uint32_t i;
    int rc = zenith__pk_in(caller, a[0].of.u32, 8u, a[1].of.u32, n, &x, &xv);
    (void)user;
    if (rc != 0) return rc;
    y = zenith__pk_span(caller, a[2].of.u32, (uint64_t)n * 8u);
    yv = a[3].of.u32 ? zenith__pk_span(caller, a[3].of.u32, ((uint64_t)n + 7u) / 8u) : NULL;
    if (y == NULL || (a[3].of.u32 && yv == NULL)) return ZENITH_WASM_TRAP_MEMORY_OOB;
    if (xv == NULL && yv == NULL) {
        for (i = 0; i < n; i++) {
            double p, q;
            memcpy(&p, x + (size_t)i * 8u, 8);
            memcpy(&q, y + (size_t)i * 8u, 8);
            sum += p * q;
        }
    } else {
        for (i = 0; i < n; i++) {
            double p, q;
            if ((xv && !((xv[i >> 3] >> (i & 7u)) & 1u)) || (yv && !((yv[i >> 3] >> (i & 7u)) & 1u))) continue;
            memcpy(&p, x + (size_t)i * 8u, 8);
            memcpy(&q, y + (size_t)i * 8u, 8);
            sum += p * q;
        }
    }
    r[0].of.f64 = sum;
    return 0;
}

/* The kernels a plugin may import from module "zenith": name, type ("params:results", i = i32,
   I = i64, d = f64), function. */
static const struct zenith__pkernel {
    const char *name, *sig;
    zenith_wasm_host_fn fn;
} zenith__pkernels[] = {
    { "select_range_f64", "iiiddi:i", zenith__pk_range_f64 },
    { "select_range_i64", "iiiIIi:i", zenith__pk_range_i64 },
    { "sum_f64", "iii:d", zenith__pk_sum_f64 },
    { "dot_f64", "iiiii:d", zenith__pk_dot_f64 },
};
#define ZENITH__PKERNELS (sizeof zenith__pkernels / sizeof zenith__pkernels[0])

static uint8_t zenith__pk_vt(char c) {
    return c == 'i' ? ZENITH_WASM_I32 : c == 'I' ? ZENITH_WASM_I64 : c == 'f' ? ZENITH_WASM_F32 : ZENITH_WASM_F64;
}

/* Import i of the module: its kernel, or NULL with the reason. */
static const struct zenith__pkernel *zenith__pk_match(const zenith_wasm_module *m, uint32_t i, char *why, size_t wn) {
    zenith_wasm_extern_info x;
    uint32_t k, j;
    memset(&x, 0, sizeof x);
    zenith_wasm_module_import(m, i, &x);
    for (k = 0; k < ZENITH__PKERNELS; k++) {
        const struct zenith__pkernel *pk = &zenith__pkernels[k];
        const char *colon = strchr(pk->sig, ':');
        uint32_t np = (uint32_t)(colon - pk->sig), nr = (uint32_t)strlen(colon + 1);
        int ok;
        if (x.module_len != 6 || memcmp(x.module, "zenith", 6) != 0 || x.name_len != strlen(pk->name) ||
            memcmp(x.name, pk->name, x.name_len) != 0)
            continue;
        ok = x.kind == ZENITH_WASM_EXTERN_FUNC && x.func.nparams == np && x.func.nresults == nr;
        for (j = 0; ok && j < np; j++) ok = x.func.params[j] == zenith__pk_vt(pk->sig[j]);
        for (j = 0; ok && j < nr; j++) ok = x.func.results[j] == zenith__pk_vt(colon[1 + j]);
        if (ok) return pk;
        snprintf(why, wn, "the module imports zenith.%s with another type: plugin ABI 1 has it as %s (%s)", pk->name,
                 pk->sig, "i = i32, I = i64, d = f64; params:results");
        return NULL;
    }
    snprintf(why, wn,
             "the module imports \"%.*s\" \"%.*s\": plugin ABI 1 provides only functions of module \"zenith\" "
             "(select_range_f64, select_range_i64, sum_f64, dot_f64)",
             (int)x.module_len, x.module, (int)x.name_len, x.name);
    return NULL;
}

static int zenith__pinst_make(zenith__plugin *p, uint32_t k, const zenith_plugin_config *cfg, char *why, size_t wn) {
    zenith__pinst *in = &p->inst[k];
    zenith_wasm_config wc;
    zenith_wasm_error we;
    zenith_wasm_instance *wi;
    zenith_wasm_extern *fn_abi, *fn_init;
    int32_t r;
    int rc;
    uint32_t initp, c, nres;
    uint8_t *mem;
    size_t msize = 0;
    memset(&wc, 0, sizeof wc);
    wc.max_memory_pages = cfg->max_memory_pages;
    wc.max_call_depth = 1000;
    wc.value_stack_bytes = 256u * 1024u;
    wc.fuel = cfg->fuel;
    in->store = zenith_wasm_store_create(&wc, &rc);
    if (in->store == NULL) {
        snprintf(why, wn, "could not create a store for instance %u: %s", k, zenith_wasm_strerror(rc));
        return ZENITH_E_NOMEM;
    }
    {
        zenith_wasm_extern *ext[ZENITH__PKERNELS];
        uint32_t ni = zenith_wasm_module_import_count(p->module), i;
        for (i = 0; i < ni; i++) { /* load checked every import: each is one of the kernels */
            const struct zenith__pkernel *pk = zenith__pk_match(p->module, i, why, wn);
            zenith_wasm_extern_info x;
            memset(&x, 0, sizeof x);
            if (pk == NULL || i >= ZENITH__PKERNELS) return ZENITH_E_PLUGIN;
            zenith_wasm_module_import(p->module, i, &x);
            ext[i] = zenith_wasm_func_new(in->store, &x.func, pk->fn, NULL, &rc);
            if (ext[i] == NULL) {
                snprintf(why, wn, "could not create host function %s: %s", pk->name, zenith_wasm_strerror(rc));
                return ZENITH_E_NOMEM;
            }
        }
        memset(&we, 0, sizeof we);
        wi = zenith_wasm_instantiate_ordered(in->store, p->module, ext, ni, &we);
    }
    if (wi == NULL) {
        snprintf(why, wn, "instantiation failed: %s: %.150s", zenith_wasm_errname(we.code), we.message);
        return we.code == ZENITH_WASM_E_NOMEM ? ZENITH_E_NOMEM : ZENITH_E_PLUGIN;
    }
    in->mem = zenith_wasm_instance_memory(wi);
    in->fn_alloc = zenith_wasm_instance_export(wi, "zenith_plugin_alloc");
    in->fn_batch = zenith_wasm_instance_export(wi, "zenith_plugin_batch");
    fn_abi = zenith_wasm_instance_export(wi, "zenith_plugin_abi");
    fn_init = zenith_wasm_instance_export(wi, "zenith_plugin_init");
    if (in->mem == NULL) {
        snprintf(why, wn, "the module has no memory (plugin ABI 1 needs memory 0, exported as \"memory\")");
        return ZENITH_E_PLUGIN;
    }
    {
        zenith_wasm_value res;
        zenith_wasm_store_set_fuel(in->store, cfg->fuel);
        rc = zenith_wasm_call(fn_abi, NULL, 0, &res, 1);
        if (rc != 0) {
            snprintf(why, wn, "zenith_plugin_abi trapped: %s", zenith_wasm_strerror(rc));
            return ZENITH_E_PLUGIN;
        }
        if (res.of.i32 != 1) {
            snprintf(why, wn, "zenith_plugin_abi returned %d: this engine speaks plugin ABI 1", (int)res.of.i32);
            return ZENITH_E_PLUGIN;
        }
    }
    rc = zenith__pcall1(in->fn_alloc, in->store, cfg->fuel, ZENITH__P_INIT + (uint32_t)cfg->params_len, &r);
    zenith_wasm_memory_data(in->mem, &msize);
    if (rc != 0 || r == 0 || ((uint32_t)r & 7u) || (uint64_t)(uint32_t)r + ZENITH__P_INIT + cfg->params_len > msize) {
        snprintf(why, wn, "zenith_plugin_alloc(%u) %s %s", ZENITH__P_INIT + (unsigned)cfg->params_len,
                 rc ? "trapped:" : "returned no 8-byte aligned room inside its memory",
                 rc ? zenith_wasm_strerror(rc) : "");
        return ZENITH_E_PLUGIN;
    }
    initp = (uint32_t)r;
    mem = zenith_wasm_memory_data(in->mem, &msize);
    memset(mem + initp, 0, ZENITH__P_INIT);
    zenith__put32(mem + initp + 0, 1u);
    zenith__put32(mem + initp + 4, k);
    zenith__put32(mem + initp + 8, cfg->instances);
    zenith__put32(mem + initp + 12, cfg->max_rows);
    if (cfg->params_len) {
        memcpy(mem + initp + ZENITH__P_INIT, cfg->params, cfg->params_len);
        zenith__put32(mem + initp + 16, initp + ZENITH__P_INIT);
        zenith__put32(mem + initp + 20, (uint32_t)cfg->params_len);
    }
    if (fn_init) {
        rc = zenith__pcall1(fn_init, in->store, cfg->fuel, initp, &r);
        if (rc != 0) {
            snprintf(why, wn, "zenith_plugin_init trapped (instance %u): %s", k, zenith_wasm_strerror(rc));
            return ZENITH_E_PLUGIN;
        }
        if (r != 0) {
            snprintf(why, wn, "zenith_plugin_init refused the load (instance %u): it returned %d", k, (int)r);
            return ZENITH_E_PLUGIN;
        }
    }
    mem = zenith_wasm_memory_data(in->mem, &msize);
    /* what init asked for: columns, results */
    c = zenith__get32(mem + initp + 24);
    nres = zenith__get32(mem + initp + 28);
    if (c > ZENITH__PCOLS) {
        snprintf(why, wn, "zenith_plugin_init asked for %u columns (at most %u)", c, ZENITH__PCOLS);
        return ZENITH_E_PLUGIN;
    }
    if (nres > ZENITH_PLUGIN_MAX_RESULTS) {
        snprintf(why, wn, "zenith_plugin_init declared %u results (at most %u)", nres, ZENITH_PLUGIN_MAX_RESULTS);
        return ZENITH_E_PLUGIN;
    }
    if (k == 0) {
        p->ncols = c;
        p->nresults = nres;
    } else if (c != p->ncols || nres != p->nresults) {
        snprintf(why, wn, "instance %u of zenith_plugin_init declared other columns or results than instance 0", k);
        return ZENITH_E_PLUGIN;
    }
    {
        uint32_t j;
        for (j = 0; j < c; j++) {
            uint32_t at = zenith__get32(mem + initp + 48 + 4 * j);
            size_t len = 0;
            while (at != 0 && (uint64_t)at + len < msize && len < ZENITH__PNAME && mem[at + len]) len++;
            if (at == 0 || (uint64_t)at + len >= msize || len >= ZENITH__PNAME) {
                snprintf(why, wn,
                         "column %u's name is not a NUL-terminated string of at most %u bytes inside its memory", j,
                         ZENITH__PNAME - 1u);
                return ZENITH_E_PLUGIN;
            }
            if (k == 0)
                memcpy(p->cols[j], mem + at, len + 1u);
            else if (memcmp(p->cols[j], mem + at, len + 1u) != 0) {
                snprintf(why, wn, "instance %u asked for other columns than instance 0", k);
                return ZENITH_E_PLUGIN;
            }
        }
        in->results = zenith__get32(mem + initp + 32);
        if (nres && (in->results == 0 || (in->results & 7u) || (uint64_t)in->results + 8u * nres > msize)) {
            snprintf(why, wn,
                     "zenith_plugin_init's results (%u doubles at %#x) are not 8-byte aligned inside its memory", nres,
                     in->results);
            return ZENITH_E_PLUGIN;
        }
        for (j = 0; j < nres; j++) {
            uint8_t op = mem[initp + 36 + j];
            if (op > 2u) {
                snprintf(why, wn, "result %u's operation is %u (0 sum, 1 min, 2 max)", j, op);
                return ZENITH_E_PLUGIN;
            }
            if (k == 0) p->ops[j] = op;
        }
    }
    /* the first input area: up to 1024 rows of 64-bit columns with nulls */
    if (zenith__parea_grow(p, in, zenith__parea_size(p, NULL, cfg->max_rows < 1024u ? cfg->max_rows : 1024u)) != 0) {
        snprintf(why, wn, "zenith_plugin_alloc gave no room for the input area (instance %u)", k);
        return ZENITH_E_PLUGIN;
    }
    return 0;
}

/* The load itself, under the admin flag. */
static int zenith__plugin_load(zenith_engine *e, const uint8_t *bytes, size_t len, const zenith_plugin_config *cfg_in,
                               char *why, size_t wn) {
    zenith_plugin_config cfg;
    struct zenith__plugins *ps = e->plugins;
    zenith__plugin *p = NULL;
    zenith_wasm_error we;
    uint32_t i, k;
    int rc, found;
    rc = zenith__config_in(&cfg, sizeof cfg, sizeof cfg, cfg_in);
    if (rc != 0) {
        snprintf(why, wn, "%s",
                 rc == ZENITH_E_INVAL ? "cfg->struct_size is below 8 or above 4096"
                                      : "cfg has non-zero fields this library does not know");
        return rc;
    }
    if ((cfg.flags & ~(uint32_t)ZENITH_PLUGIN_FAIL_REJECT) || cfg.instances > ZENITH_PLUGIN_MAX_INSTANCES ||
        cfg.max_rows > ZENITH__P_SELECT_MAX || cfg.params_len > 65536u || (cfg.params == NULL && cfg.params_len) ||
        cfg.max_memory_pages > 65536u) {
        snprintf(why, wn,
                 "a bad config: flags %#x, instances %u (at most %u), max_rows %u (at most 2^24), params_len %zu "
                 "(at most 65536, params not NULL), max_memory_pages %u (at most 65536)",
                 cfg.flags, cfg.instances, ZENITH_PLUGIN_MAX_INSTANCES, cfg.max_rows, cfg.params_len,
                 cfg.max_memory_pages);
        return ZENITH_E_INVAL;
    }
    if (cfg.instances == 0) cfg.instances = zenith__pcpus() < 16u ? zenith__pcpus() : 16u;
    if (cfg.max_failures == 0) cfg.max_failures = 3;
    if (cfg.fuel == 0) cfg.fuel = 100000;
    if (cfg.fuel_per_row == 0) cfg.fuel_per_row = 200;
    if (cfg.max_rows == 0) cfg.max_rows = 16384;
    if (cfg.max_memory_pages == 0) cfg.max_memory_pages = 256;
    if (ps && ps->sel && cfg.max_rows > ps->sel_rows) {
        snprintf(why, wn,
                 "max_rows %u is above the engine's selection area (%u rows, sized by the first plugin loaded)",
                 cfg.max_rows, ps->sel_rows);
        return ZENITH_E_INVAL;
    }
    if (ps == NULL) { /* the plugin table, once per engine */
        void *raw = ZENITH_MALLOC(sizeof *ps + 64u);
        if (raw == NULL) {
            snprintf(why, wn, "out of memory for the plugin table");
            return ZENITH_E_NOMEM;
        }
        ps = (struct zenith__plugins *)(void *)((unsigned char *)raw + (zenith__align_up((size_t)(uintptr_t)raw, 64u) -
                                                                        (size_t)(uintptr_t)raw));
        memset(ps, 0, sizeof *ps);
        ps->raw = raw;
        for (i = 0; i < ZENITH_MAX_PLUGINS; i++)
            for (k = 0; k < ZENITH_PLUGIN_MAX_INSTANCES; k++) ps->p[i].inst[k].state = ZENITH__PI_GONE;
        __atomic_store_n(&e->plugins, ps, ZENITH__RELEASE);
    }
    for (i = 0; i < ZENITH_MAX_PLUGINS && p == NULL; i++)
        if (!__atomic_load_n(&ps->p[i].live, ZENITH__RELAXED)) p = &ps->p[i];
    if (p == NULL) {
        snprintf(why, wn, "the engine already holds %u plugins (ZENITH_MAX_PLUGINS): unload one first",
                 ZENITH_MAX_PLUGINS);
        return ZENITH_E_FULL;
    }
    /* decode, validate, translate; then the ABI's exports */
    memset(&we, 0, sizeof we);
    p->module = zenith_wasm_module_load(bytes, len, &we);
    if (p->module == NULL) {
        if (we.section == 0xffffffffu)
            snprintf(why, wn, "not a valid WebAssembly module: %s at offset %llu: %.150s", zenith_wasm_errname(we.code),
                     (unsigned long long)we.offset, we.message);
        else
            snprintf(why, wn, "not a valid WebAssembly module: %s in section %u at offset %llu: %.150s",
                     zenith_wasm_errname(we.code), we.section, (unsigned long long)we.offset, we.message);
        rc = we.code == ZENITH_WASM_E_NOMEM ? ZENITH_E_NOMEM : ZENITH_E_PLUGIN;
        goto fail;
    }
    {
        uint32_t ni = zenith_wasm_module_import_count(p->module);
        if (ni > ZENITH__PKERNELS) {
            snprintf(why, wn, "the module has %u imports: plugin ABI 1 provides %u (module \"zenith\")", ni,
                     (unsigned)ZENITH__PKERNELS);
            rc = ZENITH_E_PLUGIN;
            goto fail;
        }
        for (i = 0; i < ni; i++)
            if (zenith__pk_match(p->module, i, why, wn) == NULL) {
                rc = ZENITH_E_PLUGIN;
                goto fail;
            }
    }
    {
        static const char *const need[4] = { "zenith_plugin_abi", "zenith_plugin_alloc", "zenith_plugin_batch",
                                             "zenith_plugin_init" };
        static const uint32_t nparams[4] = { 0, 1, 1, 1 };
        for (i = 0; i < 4; i++) {
            if (zenith__pexport(p->module, need[i], nparams[i], &found) != 0) {
                snprintf(why, wn, "export %s is not a function %s -> i32", need[i], nparams[i] ? "(i32)" : "()");
                rc = ZENITH_E_PLUGIN;
                goto fail;
            }
            if (!found && i < 3) {
                snprintf(why, wn, "no export %s (a function %s -> i32): not a plugin (plugins/zenith_plugin.h)",
                         need[i], nparams[i] ? "(i32)" : "()");
                rc = ZENITH_E_PLUGIN;
                goto fail;
            }
        }
    }
    p->flags = cfg.flags;
    p->max_failures = cfg.max_failures;
    p->max_rows = cfg.max_rows;
    p->fuel = cfg.fuel;
    p->fuel_per_row = cfg.fuel_per_row;
    for (k = 0; k < cfg.instances; k++)
        if ((rc = zenith__pinst_make(p, k, &cfg, why, wn)) != 0) goto fail;
    if (ps->sel == NULL) { /* the selection area, sized by the first plugin */
        size_t stride = zenith__align_up(((size_t)cfg.max_rows + 7u) / 8u, 64u);
        ps->sel = (uint8_t *)ZENITH_MALLOC(stride * (size_t)(e->mask + 1u));
        if (ps->sel == NULL) {
            snprintf(why, wn, "out of memory for the selection area (%zu bytes)", stride * (size_t)(e->mask + 1u));
            rc = ZENITH_E_NOMEM;
            goto fail;
        }
        ps->sel_stride = stride;
        ps->sel_rows = cfg.max_rows;
    }
    /* attach: the instances become free, then the plugin live */
    for (k = 0; k < cfg.instances; k++) __atomic_store_n(&p->inst[k].state, ZENITH__PI_FREE, ZENITH__RELEASE);
    __atomic_store_n(&p->ninst, cfg.instances, ZENITH__RELEASE);
    __atomic_store_n(&p->live, 1u, ZENITH__RELEASE);
    __atomic_fetch_add(&ps->nlive, 1u, ZENITH__RELEASE);
    return (int)(p->gen * ZENITH_MAX_PLUGINS + (uint32_t)(p - ps->p));
fail:
    zenith__plugin_clear(p);
    return rc;
}

/* The attached plugin an id names, or NULL. Under the admin flag. */
static zenith__plugin *zenith__plugin_of(zenith_engine *e, int id) {
    zenith__plugin *p;
    if (id < 0 || e->plugins == NULL) return NULL;
    p = &e->plugins->p[(uint32_t)id % ZENITH_MAX_PLUGINS];
    if (!p->live || p->gen != (uint32_t)id / ZENITH_MAX_PLUGINS) return NULL;
    return p;
}
#endif /* ZENITH_PLUGINS */

ZENITH_API int zenith_engine_publish(ZenithEngine e, struct ArrowArray *array, struct ArrowSchema *schema,
                                     uint64_t source_id, uint64_t seq_no) {
    zenith__eslot *slot;
    uint64_t pos;
#if defined(ZENITH_PLUGINS)
    int64_t sel_count = -1;
    uint32_t sel_bytes = 0;
#endif
    if (e == NULL || array == NULL || schema == NULL) return ZENITH_E_NULL;
    if (zenith__arrow_check(array, schema, 0) != 0) {
        __atomic_fetch_add(&e->rejected_invalid, 1u, ZENITH__RELAXED);
        return ZENITH_E_FFI;
    }
    pos = __atomic_load_n(&e->tail, ZENITH__RELAXED);
    for (;;) {
        int64_t dif;
        slot = &e->slots[pos & e->mask];
        dif = (int64_t)(__atomic_load_n(&slot->seq, ZENITH__ACQUIRE) - pos);
        if (dif == 0) {
            if (__atomic_compare_exchange_n(&e->tail, &pos, pos + 1u, 1, ZENITH__RELAXED, ZENITH__RELAXED)) break;
        } else if (dif < 0) {
            __atomic_fetch_add(&e->rejected_full, 1u, ZENITH__RELAXED);
            return ZENITH_E_FULL;
        } else {
            pos = __atomic_load_n(&e->tail, ZENITH__RELAXED);
        }
    }
#if defined(ZENITH_PLUGINS)
    {
        struct zenith__plugins *ps = __atomic_load_n(&e->plugins, ZENITH__ACQUIRE);
        if (ps != NULL && __atomic_load_n(&ps->nlive, ZENITH__ACQUIRE) != 0) { /* acquire: ps->sel */
            int v = zenith__plugins_apply(e, ps, pos, array, schema, source_id, seq_no, &sel_count);
            if (v == ZENITH__PV_DROP) { /* the slot goes out marked dropped; then the release callbacks */
                slot->dropped = 1;
                __atomic_store_n(&slot->sel_bytes, 0u, ZENITH__RELAXED);
                zenith__track_seq(e, source_id, seq_no);
                __atomic_fetch_add(&e->dropped, 1u, ZENITH__RELAXED);
                __atomic_store_n(&slot->seq, pos + 1u, ZENITH__RELEASE);
                array->release(array);
                array->release = NULL;
                schema->release(schema);
                schema->release = NULL;
                return 1;
            }
            if (v == ZENITH__PV_SELECT)
                sel_bytes = (uint32_t)((array->length + 7) / 8);
            else
                sel_count = -1;
        }
    }
#endif
    slot->source_id = source_id;
    slot->seq_no = seq_no;
    slot->array = *array; /* the move: the engine has the structs, the caller's are released */
    slot->schema = *schema;
#if defined(ZENITH_PLUGINS) /* without plugins they stay as zenith_init left them: no selection, not dropped */
    slot->sel_count = sel_count;
    slot->dropped = 0;
    __atomic_store_n(&slot->sel_bytes, sel_bytes, ZENITH__RELAXED);
#endif
    array->release = NULL;
    schema->release = NULL;
    zenith__track_seq(e, source_id, seq_no);
    __atomic_store_n(&slot->seq, pos + 1u, ZENITH__RELEASE);
    return 0;
}

/* Takes the oldest batch, stepping over dropped ones; with bits, also its selection. Inlined,
   so zenith_poll's copy has no selection code. */
static inline __attribute__((always_inline)) int zenith__poll(zenith_engine *e, zenith_batch *out, uint8_t *bits,
                                                              size_t bits_cap, int64_t *selected) {
    zenith__eslot *slot;
    uint64_t pos;
    for (;;) {
        pos = __atomic_load_n(&e->head, ZENITH__RELAXED);
        for (;;) {
            int64_t dif;
            slot = &e->slots[pos & e->mask];
            dif = (int64_t)(__atomic_load_n(&slot->seq, ZENITH__ACQUIRE) - (pos + 1u));
            if (dif == 0) {
#if defined(ZENITH_PLUGINS)
                if (bits && __atomic_load_n(&slot->sel_bytes, ZENITH__RELAXED) > bits_cap) return ZENITH_E_RANGE;
#endif
                if (__atomic_compare_exchange_n(&e->head, &pos, pos + 1u, 1, ZENITH__RELAXED, ZENITH__RELAXED)) break;
            } else if (dif < 0) {
                return 0;
            } else {
                pos = __atomic_load_n(&e->head, ZENITH__RELAXED);
            }
        }
#if defined(ZENITH_PLUGINS)
        if (!slot->dropped) break;
        __atomic_fetch_add(&e->dropped_polled, 1u, ZENITH__RELAXED);
        __atomic_store_n(&slot->seq, pos + e->mask + 1u, ZENITH__RELEASE);
#else
        break;
#endif
    }
    out->source_id = slot->source_id;
    out->seq_no = slot->seq_no;
    out->array = slot->array;
    out->schema = slot->schema;
#if defined(ZENITH_PLUGINS)
    if (selected) *selected = slot->sel_bytes ? slot->sel_count : -1;
    if (bits && slot->sel_bytes)
        memcpy(bits, e->plugins->sel + (size_t)(pos & e->mask) * e->plugins->sel_stride, slot->sel_bytes);
#else
    (void)bits;
    (void)bits_cap;
    if (selected) *selected = -1;
#endif
    __atomic_store_n(&slot->seq, pos + e->mask + 1u, ZENITH__RELEASE);
    return 1;
}

ZENITH_API int zenith_engine_poll(ZenithEngine e, zenith_batch *out) {
    if (e == NULL || out == NULL) return ZENITH_E_NULL;
    return zenith__poll(e, out, NULL, 0, NULL);
}

ZENITH_API int zenith_poll_selection(ZenithEngine e, zenith_batch *out, uint8_t *bits, size_t bits_cap,
                                     int64_t *selected) {
    if (e == NULL || out == NULL) return ZENITH_E_NULL;
    return zenith__poll(e, out, bits, bits_cap, selected);
}

ZENITH_API int zenith_batch_release(ZenithEngine e, zenith_batch *b) {
    if (b == NULL) return ZENITH_E_NULL;
    if (b->array.release == NULL && b->schema.release == NULL) return ZENITH_E_DOUBLE_RELEASE;
    if (b->array.release) {
        b->array.release(&b->array);
        b->array.release = NULL; /* the callback should have; make sure */
    }
    if (b->schema.release) {
        b->schema.release(&b->schema);
        b->schema.release = NULL;
    }
    if (e) __atomic_fetch_add(&e->released, 1u, ZENITH__RELAXED);
    return 0;
}

ZENITH_API int zenith_load_plugin_ex(ZenithEngine e, const uint8_t *wasm_bytes, size_t wasm_len,
                                     const zenith_plugin_config *cfg, char *reason, size_t reason_cap) {
    char why[ZENITH_PLUGIN_REASON_MAX];
    int rc;
    if (e == NULL || wasm_bytes == NULL || wasm_len == 0) return ZENITH_E_NULL;
    zenith__padmin_lock(e);
#if defined(ZENITH_PLUGINS)
    why[0] = 0;
    rc = zenith__plugin_load(e, wasm_bytes, wasm_len, cfg, why, sizeof why);
#else
    (void)cfg;
    snprintf(why, sizeof why,
             "plugins are not compiled in: build the zenith.h implementation with -DZENITH_PLUGINS "
             "(zenith_wasm.h next to zenith.h) and link -lm");
    rc = ZENITH_E_UNSUPPORTED;
#endif
    if (rc < 0)
        zenith__plugin_failed(e, reason, reason_cap, rc, why);
    else if (reason && reason_cap)
        reason[0] = 0;
    zenith__padmin_unlock(e);
    return rc;
}

ZENITH_API int zenith_engine_load_plugin(ZenithEngine e, const uint8_t *wasm_bytes, size_t wasm_len) {
    return zenith_load_plugin_ex(e, wasm_bytes, wasm_len, NULL, NULL, 0);
}

ZENITH_API int zenith_plugin_last_error(ZenithEngine e, char *buf, size_t cap) {
    int code;
    if (e == NULL || (buf == NULL && cap)) return ZENITH_E_NULL;
    zenith__padmin_lock(e);
    code = e->plast_code;
    if (cap) {
        size_t n = strlen(e->plast_reason);
        if (n >= cap) n = cap - 1u;
        memcpy(buf, e->plast_reason, n);
        buf[n] = 0;
    }
    zenith__padmin_unlock(e);
    return code;
}

ZENITH_API int zenith_unload_plugin(ZenithEngine e, int plugin_id) {
#if defined(ZENITH_PLUGINS)
    zenith__plugin *p;
    uint32_t k, n;
    if (e == NULL) return ZENITH_E_NULL;
    zenith__padmin_lock(e);
    if ((p = zenith__plugin_of(e, plugin_id)) == NULL) {
        zenith__padmin_unlock(e);
        return ZENITH_E_STALE;
    }
    __atomic_store_n(&p->live, 0u, ZENITH__RELEASE);
    __atomic_fetch_sub(&e->plugins->nlive, 1u, ZENITH__RELAXED);
    n = __atomic_load_n(&p->ninst, ZENITH__RELAXED);
    for (k = 0; k < n; k++) { /* wait for each instance's publish, then mark it gone */
        uint32_t spins = 0, fr = ZENITH__PI_FREE;
        while (!__atomic_compare_exchange_n(&p->inst[k].state, &fr, ZENITH__PI_GONE, 0, ZENITH__ACQUIRE,
                                            ZENITH__RELAXED)) {
            fr = ZENITH__PI_FREE;
            zenith__spin_pause(++spins);
        }
    }
    __atomic_store_n(&p->ninst, 0u, ZENITH__RELAXED);
    zenith__plugin_clear(p);
    p->gen = (p->gen + 1u) & 0x0fffffffu;
    zenith__padmin_unlock(e);
    return 0;
#else
    (void)plugin_id;
    return e == NULL ? ZENITH_E_NULL : ZENITH_E_STALE;
#endif
}

ZENITH_API int zenith_plugin_get_stats(ZenithEngine e, int plugin_id, zenith_plugin_stats *out) {
#if defined(ZENITH_PLUGINS)
    zenith_plugin_stats st;
    zenith__plugin *p;
    uint32_t k, n, size;
    if (e == NULL || out == NULL) return ZENITH_E_NULL;
    size = out->struct_size ? out->struct_size : (uint32_t)sizeof st;
    if (size < 8u) return ZENITH_E_INVAL;
    zenith__padmin_lock(e);
    if ((p = zenith__plugin_of(e, plugin_id)) == NULL) {
        zenith__padmin_unlock(e);
        return ZENITH_E_STALE;
    }
    memset(&st, 0, sizeof st);
    n = __atomic_load_n(&p->ninst, ZENITH__RELAXED);
    st.instances = n;
    st.disabled = __atomic_load_n(&p->disabled, ZENITH__RELAXED);
    st.waits = __atomic_load_n(&p->waits, ZENITH__RELAXED);
    st.consecutive_failures = __atomic_load_n(&p->consecutive, ZENITH__RELAXED);
    for (k = 0; k < n; k++) {
        const zenith__pinst *in = &p->inst[k];
        int32_t t = __atomic_load_n(&in->last_trap, ZENITH__RELAXED);
        st.calls += __atomic_load_n(&in->calls, ZENITH__RELAXED);
        st.rows_in += __atomic_load_n(&in->rows_in, ZENITH__RELAXED);
        st.rows_out += __atomic_load_n(&in->rows_out, ZENITH__RELAXED);
        st.passed += __atomic_load_n(&in->passed, ZENITH__RELAXED);
        st.rejected += __atomic_load_n(&in->rejected, ZENITH__RELAXED);
        st.selected += __atomic_load_n(&in->selected, ZENITH__RELAXED);
        st.traps += __atomic_load_n(&in->traps, ZENITH__RELAXED);
        st.fuel_exhausted += __atomic_load_n(&in->fuel_exhausted, ZENITH__RELAXED);
        st.errors += __atomic_load_n(&in->errors, ZENITH__RELAXED);
        st.skipped += __atomic_load_n(&in->skipped, ZENITH__RELAXED);
        st.fuel_used += __atomic_load_n(&in->fuel_used, ZENITH__RELAXED);
        if (t) st.last_trap = t;
    }
    st.failures = st.traps + st.errors;
    zenith__padmin_unlock(e);
    if (size > sizeof st) size = (uint32_t)sizeof st;
    st.struct_size = size;
    memcpy(out, &st, size);
    return 0;
#else
    (void)plugin_id;
    return e == NULL || out == NULL ? ZENITH_E_NULL : ZENITH_E_STALE;
#endif
}

ZENITH_API int zenith_plugin_result(ZenithEngine e, int plugin_id, double *out, size_t n) {
#if defined(ZENITH_PLUGINS)
    double acc[ZENITH_PLUGIN_MAX_RESULTS];
    zenith__plugin *p;
    uint32_t k, j, ninst, nres;
    if (e == NULL || (out == NULL && n)) return ZENITH_E_NULL;
    zenith__padmin_lock(e);
    if ((p = zenith__plugin_of(e, plugin_id)) == NULL) {
        zenith__padmin_unlock(e);
        return ZENITH_E_STALE;
    }
    ninst = __atomic_load_n(&p->ninst, ZENITH__RELAXED);
    nres = p->nresults;
    for (k = 0; k < ninst; k++) {
        zenith__pinst *in = &p->inst[k];
        uint32_t spins = 0, fr = ZENITH__PI_FREE;
        uint8_t *mem;
        size_t msize = 0;
        while (!__atomic_compare_exchange_n(&in->state, &fr, ZENITH__PI_BUSY, 0, ZENITH__ACQUIRE, ZENITH__RELAXED)) {
            fr = ZENITH__PI_FREE;
            zenith__spin_pause(++spins);
        }
        mem = zenith_wasm_memory_data(in->mem, &msize);
        for (j = 0; j < nres; j++) {
            double v;
            memcpy(&v, mem + in->results + 8u * j, 8);
            if (k == 0 || (p->ops[j] == 0 ? 1 : 0))
                acc[j] = k == 0 ? v : acc[j] + v;
            else if (p->ops[j] == 1)
                acc[j] = v < acc[j] ? v : acc[j];
            else
                acc[j] = v > acc[j] ? v : acc[j];
        }
        __atomic_store_n(&in->state, ZENITH__PI_FREE, ZENITH__RELEASE);
    }
    zenith__padmin_unlock(e);
    for (j = 0; j < nres && j < n; j++) out[j] = acc[j];
    return (int)nres;
#else
    (void)plugin_id;
    return e == NULL || (out == NULL && n) ? ZENITH_E_NULL : ZENITH_E_STALE;
#endif
}

ZENITH_API int zenith_engine_get_stats(ZenithEngine e, zenith_engine_stats *out) {
    if (e == NULL || out == NULL) return ZENITH_E_NULL;
    memset(out, 0, sizeof *out);
    out->capacity = e->mask + 1u;
    /* batches dropped by plugins were never delivered: they count in neither */
    out->published = __atomic_load_n(&e->tail, ZENITH__RELAXED) - __atomic_load_n(&e->dropped, ZENITH__RELAXED);
    out->polled = __atomic_load_n(&e->head, ZENITH__RELAXED) - __atomic_load_n(&e->dropped_polled, ZENITH__RELAXED);
    out->released = __atomic_load_n(&e->released, ZENITH__RELAXED);
    out->rejected_full = __atomic_load_n(&e->rejected_full, ZENITH__RELAXED);
    out->rejected_invalid = __atomic_load_n(&e->rejected_invalid, ZENITH__RELAXED);
    out->seq_gaps = __atomic_load_n(&e->seq_gaps, ZENITH__RELAXED);
    out->seq_duplicates = __atomic_load_n(&e->seq_duplicates, ZENITH__RELAXED);
    out->sources = __atomic_load_n(&e->sources_used, ZENITH__RELAXED);
    out->sources_untracked = __atomic_load_n(&e->sources_untracked, ZENITH__RELAXED);
    return 0;
}

ZENITH_API void zenith_engine_destroy(ZenithEngine e) {
    zenith_batch b;
    if (e == NULL) return;
    while (zenith_engine_poll(e, &b) == 1) zenith_batch_release(e, &b);
#if defined(ZENITH_PLUGINS)
    if (e->plugins) {
        uint32_t i;
        for (i = 0; i < ZENITH_MAX_PLUGINS; i++) zenith__plugin_clear(&e->plugins->p[i]);
        ZENITH_FREE(e->plugins->sel);
        ZENITH_FREE(e->plugins->raw);
    }
#endif
    ZENITH_FREE(e->raw);
}

/* the design's names */
ZENITH_API ZenithEngine zenith_init(uint32_t capacity) { return zenith_engine_create(capacity); }
ZENITH_API int zenith_publish(ZenithEngine e, struct ArrowArray *array, struct ArrowSchema *schema, uint64_t source_id,
                              uint64_t seq_no) {
    return zenith_engine_publish(e, array, schema, source_id, seq_no);
}
ZENITH_API int zenith_poll(ZenithEngine e, zenith_batch *out) { return zenith_engine_poll(e, out); }
ZENITH_API int zenith_load_plugin(ZenithEngine e, const uint8_t *wasm_bytes, size_t wasm_len) {
    return zenith_engine_load_plugin(e, wasm_bytes, wasm_len);
}
ZENITH_API void zenith_free(ZenithEngine e) { zenith_engine_destroy(e); }

/* ---- layout table ------------------------------------------------------------------------- */

#define ZENITH__LAYOUT_LIST(X)                                                                                         \
    X(zenith_allocator, "zenith_allocator", "", 0, sizeof(zenith_allocator))                                           \
    X(zenith_allocator, "zenith_allocator", "alloc", offsetof(zenith_allocator, alloc),                                \
      sizeof(((zenith_allocator *)0)->alloc))                                                                          \
    X(zenith_allocator, "zenith_allocator", "free", offsetof(zenith_allocator, free),                                  \
      sizeof(((zenith_allocator *)0)->free))                                                                           \
    X(zenith_allocator, "zenith_allocator", "user", offsetof(zenith_allocator, user),                                  \
      sizeof(((zenith_allocator *)0)->user))                                                                           \
    X(zenith_pool_config, "zenith_pool_config", "", 0, sizeof(zenith_pool_config))                                     \
    X(zenith_pool_config, "zenith_pool_config", "struct_size", offsetof(zenith_pool_config, struct_size),              \
      sizeof(((zenith_pool_config *)0)->struct_size))                                                                  \
    X(zenith_pool_config, "zenith_pool_config", "buffer_count", offsetof(zenith_pool_config, buffer_count),            \
      sizeof(((zenith_pool_config *)0)->buffer_count))                                                                 \
    X(zenith_pool_config, "zenith_pool_config", "buffer_size", offsetof(zenith_pool_config, buffer_size),              \
      sizeof(((zenith_pool_config *)0)->buffer_size))                                                                  \
    X(zenith_pool_config, "zenith_pool_config", "cache_size", offsetof(zenith_pool_config, cache_size),                \
      sizeof(((zenith_pool_config *)0)->cache_size))                                                                   \
    X(zenith_pool_config, "zenith_pool_config", "flags", offsetof(zenith_pool_config, flags),                          \
      sizeof(((zenith_pool_config *)0)->flags))                                                                        \
    X(zenith_pool_config, "zenith_pool_config", "numa_node", offsetof(zenith_pool_config, numa_node),                  \
      sizeof(((zenith_pool_config *)0)->numa_node))                                                                    \
    X(zenith_pool_config, "zenith_pool_config", "reserved_", offsetof(zenith_pool_config, reserved_),                  \
      sizeof(((zenith_pool_config *)0)->reserved_))                                                                    \
    X(zenith_pool_config, "zenith_pool_config", "memory", offsetof(zenith_pool_config, memory),                        \
      sizeof(((zenith_pool_config *)0)->memory))                                                                       \
    X(zenith_pool_config, "zenith_pool_config", "memory_size", offsetof(zenith_pool_config, memory_size),              \
      sizeof(((zenith_pool_config *)0)->memory_size))                                                                  \
    X(zenith_pool_config, "zenith_pool_config", "allocator", offsetof(zenith_pool_config, allocator),                  \
      sizeof(((zenith_pool_config *)0)->allocator))                                                                    \
    X(zenith_pool_stats, "zenith_pool_stats", "", 0, sizeof(zenith_pool_stats))                                        \
    X(zenith_pool_stats, "zenith_pool_stats", "total", offsetof(zenith_pool_stats, total),                             \
      sizeof(((zenith_pool_stats *)0)->total))                                                                         \
    X(zenith_pool_stats, "zenith_pool_stats", "in_use", offsetof(zenith_pool_stats, in_use),                           \
      sizeof(((zenith_pool_stats *)0)->in_use))                                                                        \
    X(zenith_pool_stats, "zenith_pool_stats", "free", offsetof(zenith_pool_stats, free),                               \
      sizeof(((zenith_pool_stats *)0)->free))                                                                          \
    X(zenith_pool_stats, "zenith_pool_stats", "acquires", offsetof(zenith_pool_stats, acquires),                       \
      sizeof(((zenith_pool_stats *)0)->acquires))                                                                      \
    X(zenith_pool_stats, "zenith_pool_stats", "releases", offsetof(zenith_pool_stats, releases),                       \
      sizeof(((zenith_pool_stats *)0)->releases))                                                                      \
    X(zenith_pool_stats, "zenith_pool_stats", "failed_acquires", offsetof(zenith_pool_stats, failed_acquires),         \
      sizeof(((zenith_pool_stats *)0)->failed_acquires))                                                               \
    X(zenith_pool_stats, "zenith_pool_stats", "rejected_releases", offsetof(zenith_pool_stats, rejected_releases),     \
      sizeof(((zenith_pool_stats *)0)->rejected_releases))                                                             \
    X(zenith_pool_stats, "zenith_pool_stats", "rejected_foreign", offsetof(zenith_pool_stats, rejected_foreign),       \
      sizeof(((zenith_pool_stats *)0)->rejected_foreign))                                                              \
    X(zenith_pool_stats, "zenith_pool_stats", "rejected_misaligned", offsetof(zenith_pool_stats, rejected_misaligned), \
      sizeof(((zenith_pool_stats *)0)->rejected_misaligned))                                                           \
    X(zenith_pool_stats, "zenith_pool_stats", "rejected_double", offsetof(zenith_pool_stats, rejected_double),         \
      sizeof(((zenith_pool_stats *)0)->rejected_double))                                                               \
    X(zenith_pool_info, "zenith_pool_info", "", 0, sizeof(zenith_pool_info))                                           \
    X(zenith_pool_info, "zenith_pool_info", "base", offsetof(zenith_pool_info, base),                                  \
      sizeof(((zenith_pool_info *)0)->base))                                                                           \
    X(zenith_pool_info, "zenith_pool_info", "buffer_size", offsetof(zenith_pool_info, buffer_size),                    \
      sizeof(((zenith_pool_info *)0)->buffer_size))                                                                    \
    X(zenith_pool_info, "zenith_pool_info", "buffer_count", offsetof(zenith_pool_info, buffer_count),                  \
      sizeof(((zenith_pool_info *)0)->buffer_count))                                                                   \
    X(zenith_pool_info, "zenith_pool_info", "cache_size", offsetof(zenith_pool_info, cache_size),                      \
      sizeof(((zenith_pool_info *)0)->cache_size))                                                                     \
    X(zenith_pool_info, "zenith_pool_info", "slab_size", offsetof(zenith_pool_info, slab_size),                        \
      sizeof(((zenith_pool_info *)0)->slab_size))                                                                      \
    X(zenith_pool_info, "zenith_pool_info", "metadata_size", offsetof(zenith_pool_info, metadata_size),                \
      sizeof(((zenith_pool_info *)0)->metadata_size))                                                                  \
    X(zenith_pool_info, "zenith_pool_info", "flags", offsetof(zenith_pool_info, flags),                                \
      sizeof(((zenith_pool_info *)0)->flags))                                                                          \
    X(zenith_pool_info, "zenith_pool_info", "registered", offsetof(zenith_pool_info, registered),                      \
      sizeof(((zenith_pool_info *)0)->registered))                                                                     \
    X(zenith_pool_info, "zenith_pool_info", "numa_node", offsetof(zenith_pool_info, numa_node),                        \
      sizeof(((zenith_pool_info *)0)->numa_node))                                                                      \
    X(zenith_pool_info, "zenith_pool_info", "reserved_", offsetof(zenith_pool_info, reserved_),                        \
      sizeof(((zenith_pool_info *)0)->reserved_))                                                                      \
    X(zenith_ring_config, "zenith_ring_config", "", 0, sizeof(zenith_ring_config))                                     \
    X(zenith_ring_config, "zenith_ring_config", "struct_size", offsetof(zenith_ring_config, struct_size),              \
      sizeof(((zenith_ring_config *)0)->struct_size))                                                                  \
    X(zenith_ring_config, "zenith_ring_config", "sq_entries", offsetof(zenith_ring_config, sq_entries),                \
      sizeof(((zenith_ring_config *)0)->sq_entries))                                                                   \
    X(zenith_ring_config, "zenith_ring_config", "cq_entries", offsetof(zenith_ring_config, cq_entries),                \
      sizeof(((zenith_ring_config *)0)->cq_entries))                                                                   \
    X(zenith_ring_config, "zenith_ring_config", "flags", offsetof(zenith_ring_config, flags),                          \
      sizeof(((zenith_ring_config *)0)->flags))                                                                        \
    X(zenith_ring_config, "zenith_ring_config", "sqpoll_idle_ms", offsetof(zenith_ring_config, sqpoll_idle_ms),        \
      sizeof(((zenith_ring_config *)0)->sqpoll_idle_ms))                                                               \
    X(zenith_ring_config, "zenith_ring_config", "sqpoll_cpu", offsetof(zenith_ring_config, sqpoll_cpu),                \
      sizeof(((zenith_ring_config *)0)->sqpoll_cpu))                                                                   \
    X(zenith_ring_info, "zenith_ring_info", "", 0, sizeof(zenith_ring_info))                                           \
    X(zenith_ring_info, "zenith_ring_info", "mode", offsetof(zenith_ring_info, mode),                                  \
      sizeof(((zenith_ring_info *)0)->mode))                                                                           \
    X(zenith_ring_info, "zenith_ring_info", "sq_entries", offsetof(zenith_ring_info, sq_entries),                      \
      sizeof(((zenith_ring_info *)0)->sq_entries))                                                                     \
    X(zenith_ring_info, "zenith_ring_info", "cq_entries", offsetof(zenith_ring_info, cq_entries),                      \
      sizeof(((zenith_ring_info *)0)->cq_entries))                                                                     \
    X(zenith_ring_info, "zenith_ring_info", "setup_flags", offsetof(zenith_ring_info, setup_flags),                    \
      sizeof(((zenith_ring_info *)0)->setup_flags))                                                                    \
    X(zenith_ring_info, "zenith_ring_info", "features", offsetof(zenith_ring_info, features),                          \
      sizeof(((zenith_ring_info *)0)->features))                                                                       \
    X(zenith_ring_info, "zenith_ring_info", "reserved_", offsetof(zenith_ring_info, reserved_),                        \
      sizeof(((zenith_ring_info *)0)->reserved_))                                                                      \
    X(zenith_ring_info, "zenith_ring_info", "cq_overflow", offsetof(zenith_ring_info, cq_overflow),                    \
      sizeof(((zenith_ring_info *)0)->cq_overflow))                                                                    \
    X(zenith_server_config, "zenith_server_config", "", 0, sizeof(zenith_server_config))                               \
    X(zenith_server_config, "zenith_server_config", "struct_size", offsetof(zenith_server_config, struct_size),        \
      sizeof(((zenith_server_config *)0)->struct_size))                                                                \
    X(zenith_server_config, "zenith_server_config", "port", offsetof(zenith_server_config, port),                      \
      sizeof(((zenith_server_config *)0)->port))                                                                       \
    X(zenith_server_config, "zenith_server_config", "reserved_", offsetof(zenith_server_config, reserved_),            \
      sizeof(((zenith_server_config *)0)->reserved_))                                                                  \
    X(zenith_server_config, "zenith_server_config", "address", offsetof(zenith_server_config, address),                \
      sizeof(((zenith_server_config *)0)->address))                                                                    \
    X(zenith_server_config, "zenith_server_config", "flags", offsetof(zenith_server_config, flags),                    \
      sizeof(((zenith_server_config *)0)->flags))                                                                      \
    X(zenith_server_config, "zenith_server_config", "max_connections",                                                 \
      offsetof(zenith_server_config, max_connections), sizeof(((zenith_server_config *)0)->max_connections))           \
    X(zenith_server_config, "zenith_server_config", "buffer_size", offsetof(zenith_server_config, buffer_size),        \
      sizeof(((zenith_server_config *)0)->buffer_size))                                                                \
    X(zenith_server_config, "zenith_server_config", "buffer_count", offsetof(zenith_server_config, buffer_count),      \
      sizeof(((zenith_server_config *)0)->buffer_count))                                                               \
    X(zenith_server_config, "zenith_server_config", "recv_buffers", offsetof(zenith_server_config, recv_buffers),      \
      sizeof(((zenith_server_config *)0)->recv_buffers))                                                               \
    X(zenith_server_config, "zenith_server_config", "send_queue_max", offsetof(zenith_server_config, send_queue_max),  \
      sizeof(((zenith_server_config *)0)->send_queue_max))                                                             \
    X(zenith_server_config, "zenith_server_config", "zerocopy_min", offsetof(zenith_server_config, zerocopy_min),      \
      sizeof(((zenith_server_config *)0)->zerocopy_min))                                                               \
    X(zenith_server_config, "zenith_server_config", "idle_timeout_ms",                                                 \
      offsetof(zenith_server_config, idle_timeout_ms), sizeof(((zenith_server_config *)0)->idle_timeout_ms))           \
    X(zenith_server_config, "zenith_server_config", "sq_entries", offsetof(zenith_server_config, sq_entries),          \
      sizeof(((zenith_server_config *)0)->sq_entries))                                                                 \
    X(zenith_server_config, "zenith_server_config", "backlog", offsetof(zenith_server_config, backlog),                \
      sizeof(((zenith_server_config *)0)->backlog))                                                                    \
    X(zenith_server_config, "zenith_server_config", "cpu", offsetof(zenith_server_config, cpu),                        \
      sizeof(((zenith_server_config *)0)->cpu))                                                                        \
    X(zenith_server_config, "zenith_server_config", "numa_node", offsetof(zenith_server_config, numa_node),            \
      sizeof(((zenith_server_config *)0)->numa_node))                                                                  \
    X(zenith_server_config, "zenith_server_config", "max_timers", offsetof(zenith_server_config, max_timers),          \
      sizeof(((zenith_server_config *)0)->max_timers))                                                                 \
    X(zenith_server_config, "zenith_server_config", "post_queue", offsetof(zenith_server_config, post_queue),          \
      sizeof(((zenith_server_config *)0)->post_queue))                                                                 \
    X(zenith_server_config, "zenith_server_config", "send_reserve", offsetof(zenith_server_config, send_reserve),      \
      sizeof(((zenith_server_config *)0)->send_reserve))                                                               \
    X(zenith_server_config, "zenith_server_config", "backend", offsetof(zenith_server_config, backend),                \
      sizeof(((zenith_server_config *)0)->backend))                                                                    \
    X(zenith_server_config, "zenith_server_config", "max_udp", offsetof(zenith_server_config, max_udp),                \
      sizeof(((zenith_server_config *)0)->max_udp))                                                                    \
    X(zenith_server_config, "zenith_server_config", "udp_queue", offsetof(zenith_server_config, udp_queue),            \
      sizeof(((zenith_server_config *)0)->udp_queue))                                                                  \
    X(zenith_backend_info, "zenith_backend_info", "", 0, sizeof(zenith_backend_info))                                  \
    X(zenith_backend_info, "zenith_backend_info", "struct_size", offsetof(zenith_backend_info, struct_size),           \
      sizeof(((zenith_backend_info *)0)->struct_size))                                                                 \
    X(zenith_backend_info, "zenith_backend_info", "backend", offsetof(zenith_backend_info, backend),                   \
      sizeof(((zenith_backend_info *)0)->backend))                                                                     \
    X(zenith_backend_info, "zenith_backend_info", "reason", offsetof(zenith_backend_info, reason),                     \
      sizeof(((zenith_backend_info *)0)->reason))                                                                      \
    X(zenith_backend_info, "zenith_backend_info", "uring_errno", offsetof(zenith_backend_info, uring_errno),           \
      sizeof(((zenith_backend_info *)0)->uring_errno))                                                                 \
    X(zenith_backend_info, "zenith_backend_info", "uring_sysctl", offsetof(zenith_backend_info, uring_sysctl),         \
      sizeof(((zenith_backend_info *)0)->uring_sysctl))                                                                \
    X(zenith_backend_info, "zenith_backend_info", "reserved_", offsetof(zenith_backend_info, reserved_),               \
      sizeof(((zenith_backend_info *)0)->reserved_))                                                                   \
    X(zenith_backend_info, "zenith_backend_info", "name", offsetof(zenith_backend_info, name),                         \
      sizeof(((zenith_backend_info *)0)->name))                                                                        \
    X(zenith_backend_info, "zenith_backend_info", "why", offsetof(zenith_backend_info, why),                           \
      sizeof(((zenith_backend_info *)0)->why))                                                                         \
    X(zenith_server_stats, "zenith_server_stats", "", 0, sizeof(zenith_server_stats))                                  \
    X(zenith_server_stats, "zenith_server_stats", "connections_open", offsetof(zenith_server_stats, connections_open), \
      sizeof(((zenith_server_stats *)0)->connections_open))                                                            \
    X(zenith_server_stats, "zenith_server_stats", "connections_accepted",                                              \
      offsetof(zenith_server_stats, connections_accepted), sizeof(((zenith_server_stats *)0)->connections_accepted))   \
    X(zenith_server_stats, "zenith_server_stats", "connections_closed",                                                \
      offsetof(zenith_server_stats, connections_closed), sizeof(((zenith_server_stats *)0)->connections_closed))       \
    X(zenith_server_stats, "zenith_server_stats", "connections_rejected",                                              \
      offsetof(zenith_server_stats, connections_rejected), sizeof(((zenith_server_stats *)0)->connections_rejected))   \
    X(zenith_server_stats, "zenith_server_stats", "bytes_in", offsetof(zenith_server_stats, bytes_in),                 \
      sizeof(((zenith_server_stats *)0)->bytes_in))                                                                    \
    X(zenith_server_stats, "zenith_server_stats", "bytes_out", offsetof(zenith_server_stats, bytes_out),               \
      sizeof(((zenith_server_stats *)0)->bytes_out))                                                                   \
    X(zenith_server_stats, "zenith_server_stats", "recv_buffer_exhausted",                                             \
      offsetof(zenith_server_stats, recv_buffer_exhausted), sizeof(((zenith_server_stats *)0)->recv_buffer_exhausted)) \
    X(zenith_server_stats, "zenith_server_stats", "send_queue_full", offsetof(zenith_server_stats, send_queue_full),   \
      sizeof(((zenith_server_stats *)0)->send_queue_full))                                                             \
    X(zenith_server_stats, "zenith_server_stats", "stale_completions",                                                 \
      offsetof(zenith_server_stats, stale_completions), sizeof(((zenith_server_stats *)0)->stale_completions))         \
    X(zenith_server_stats, "zenith_server_stats", "accept_errors", offsetof(zenith_server_stats, accept_errors),       \
      sizeof(((zenith_server_stats *)0)->accept_errors))                                                               \
    X(zenith_server_stats, "zenith_server_stats", "connection_errors",                                                 \
      offsetof(zenith_server_stats, connection_errors), sizeof(((zenith_server_stats *)0)->connection_errors))         \
    X(zenith_server_stats, "zenith_server_stats", "zerocopy_sends", offsetof(zenith_server_stats, zerocopy_sends),     \
      sizeof(((zenith_server_stats *)0)->zerocopy_sends))                                                              \
    X(zenith_server_stats, "zenith_server_stats", "cq_overflow", offsetof(zenith_server_stats, cq_overflow),           \
      sizeof(((zenith_server_stats *)0)->cq_overflow))                                                                 \
    X(zenith_reactor_stats, "zenith_reactor_stats", "", 0, sizeof(zenith_reactor_stats))                               \
    X(zenith_reactor_stats, "zenith_reactor_stats", "listeners", offsetof(zenith_reactor_stats, listeners),            \
      sizeof(((zenith_reactor_stats *)0)->listeners))                                                                  \
    X(zenith_reactor_stats, "zenith_reactor_stats", "connects_started",                                                \
      offsetof(zenith_reactor_stats, connects_started), sizeof(((zenith_reactor_stats *)0)->connects_started))         \
    X(zenith_reactor_stats, "zenith_reactor_stats", "connects_succeeded",                                              \
      offsetof(zenith_reactor_stats, connects_succeeded), sizeof(((zenith_reactor_stats *)0)->connects_succeeded))     \
    X(zenith_reactor_stats, "zenith_reactor_stats", "connects_failed",                                                 \
      offsetof(zenith_reactor_stats, connects_failed), sizeof(((zenith_reactor_stats *)0)->connects_failed))           \
    X(zenith_reactor_stats, "zenith_reactor_stats", "connects_timed_out",                                              \
      offsetof(zenith_reactor_stats, connects_timed_out), sizeof(((zenith_reactor_stats *)0)->connects_timed_out))     \
    X(zenith_reactor_stats, "zenith_reactor_stats", "connects_canceled",                                               \
      offsetof(zenith_reactor_stats, connects_canceled), sizeof(((zenith_reactor_stats *)0)->connects_canceled))       \
    X(zenith_reactor_stats, "zenith_reactor_stats", "timers_armed", offsetof(zenith_reactor_stats, timers_armed),      \
      sizeof(((zenith_reactor_stats *)0)->timers_armed))                                                               \
    X(zenith_reactor_stats, "zenith_reactor_stats", "timers_fired", offsetof(zenith_reactor_stats, timers_fired),      \
      sizeof(((zenith_reactor_stats *)0)->timers_fired))                                                               \
    X(zenith_reactor_stats, "zenith_reactor_stats", "timers_skipped", offsetof(zenith_reactor_stats, timers_skipped),  \
      sizeof(((zenith_reactor_stats *)0)->timers_skipped))                                                             \
    X(zenith_reactor_stats, "zenith_reactor_stats", "posts_run", offsetof(zenith_reactor_stats, posts_run),            \
      sizeof(((zenith_reactor_stats *)0)->posts_run))                                                                  \
    X(zenith_reactor_stats, "zenith_reactor_stats", "posts_refused", offsetof(zenith_reactor_stats, posts_refused),    \
      sizeof(((zenith_reactor_stats *)0)->posts_refused))                                                              \
    X(zenith_reactor_stats, "zenith_reactor_stats", "wakeups", offsetof(zenith_reactor_stats, wakeups),                \
      sizeof(((zenith_reactor_stats *)0)->wakeups))                                                                    \
    X(zenith_reactor_stats, "zenith_reactor_stats", "send_pool_empty",                                                 \
      offsetof(zenith_reactor_stats, send_pool_empty), sizeof(((zenith_reactor_stats *)0)->send_pool_empty))           \
    X(zenith_reactor_stats, "zenith_reactor_stats", "deliveries_held",                                                 \
      offsetof(zenith_reactor_stats, deliveries_held), sizeof(((zenith_reactor_stats *)0)->deliveries_held))           \
    X(zenith_reactor_stats, "zenith_reactor_stats", "misuse_refused", offsetof(zenith_reactor_stats, misuse_refused),  \
      sizeof(((zenith_reactor_stats *)0)->misuse_refused))                                                             \
    X(zenith_reactor_stats, "zenith_reactor_stats", "loop_iterations",                                                 \
      offsetof(zenith_reactor_stats, loop_iterations), sizeof(((zenith_reactor_stats *)0)->loop_iterations))           \
    X(zenith_connect_config, "zenith_connect_config", "", 0, sizeof(zenith_connect_config))                            \
    X(zenith_connect_config, "zenith_connect_config", "struct_size", offsetof(zenith_connect_config, struct_size),     \
      sizeof(((zenith_connect_config *)0)->struct_size))                                                               \
    X(zenith_connect_config, "zenith_connect_config", "port", offsetof(zenith_connect_config, port),                   \
      sizeof(((zenith_connect_config *)0)->port))                                                                      \
    X(zenith_connect_config, "zenith_connect_config", "local_port", offsetof(zenith_connect_config, local_port),       \
      sizeof(((zenith_connect_config *)0)->local_port))                                                                \
    X(zenith_connect_config, "zenith_connect_config", "address", offsetof(zenith_connect_config, address),             \
      sizeof(((zenith_connect_config *)0)->address))                                                                   \
    X(zenith_connect_config, "zenith_connect_config", "local_address", offsetof(zenith_connect_config, local_address), \
      sizeof(((zenith_connect_config *)0)->local_address))                                                             \
    X(zenith_connect_config, "zenith_connect_config", "flags", offsetof(zenith_connect_config, flags),                 \
      sizeof(((zenith_connect_config *)0)->flags))                                                                     \
    X(zenith_connect_config, "zenith_connect_config", "timeout_ms", offsetof(zenith_connect_config, timeout_ms),       \
      sizeof(((zenith_connect_config *)0)->timeout_ms))                                                                \
    X(zenith_connect_config, "zenith_connect_config", "keepalive_idle_s",                                              \
      offsetof(zenith_connect_config, keepalive_idle_s), sizeof(((zenith_connect_config *)0)->keepalive_idle_s))       \
    X(zenith_connect_config, "zenith_connect_config", "keepalive_intvl_s",                                             \
      offsetof(zenith_connect_config, keepalive_intvl_s), sizeof(((zenith_connect_config *)0)->keepalive_intvl_s))     \
    X(zenith_connect_config, "zenith_connect_config", "keepalive_count",                                               \
      offsetof(zenith_connect_config, keepalive_count), sizeof(((zenith_connect_config *)0)->keepalive_count))         \
    X(zenith_connect_config, "zenith_connect_config", "user_timeout_ms",                                               \
      offsetof(zenith_connect_config, user_timeout_ms), sizeof(((zenith_connect_config *)0)->user_timeout_ms))         \
    X(zenith_connect_config, "zenith_connect_config", "on_connect", offsetof(zenith_connect_config, on_connect),       \
      sizeof(((zenith_connect_config *)0)->on_connect))                                                                \
    X(zenith_connect_config, "zenith_connect_config", "user", offsetof(zenith_connect_config, user),                   \
      sizeof(((zenith_connect_config *)0)->user))                                                                      \
    X(zenith_addr, "zenith_addr", "", 0, sizeof(zenith_addr))                                                          \
    X(zenith_addr, "zenith_addr", "sa", offsetof(zenith_addr, sa), sizeof(((zenith_addr *)0)->sa))                     \
    X(zenith_addr, "zenith_addr", "len", offsetof(zenith_addr, len), sizeof(((zenith_addr *)0)->len))                  \
    X(zenith_udp_datagram, "zenith_udp_datagram", "", 0, sizeof(zenith_udp_datagram))                                  \
    X(zenith_udp_datagram, "zenith_udp_datagram", "data", offsetof(zenith_udp_datagram, data),                         \
      sizeof(((zenith_udp_datagram *)0)->data))                                                                        \
    X(zenith_udp_datagram, "zenith_udp_datagram", "len", offsetof(zenith_udp_datagram, len),                           \
      sizeof(((zenith_udp_datagram *)0)->len))                                                                         \
    X(zenith_udp_datagram, "zenith_udp_datagram", "orig_len", offsetof(zenith_udp_datagram, orig_len),                 \
      sizeof(((zenith_udp_datagram *)0)->orig_len))                                                                    \
    X(zenith_udp_datagram, "zenith_udp_datagram", "flags", offsetof(zenith_udp_datagram, flags),                       \
      sizeof(((zenith_udp_datagram *)0)->flags))                                                                       \
    X(zenith_udp_datagram, "zenith_udp_datagram", "kernel_drops", offsetof(zenith_udp_datagram, kernel_drops),         \
      sizeof(((zenith_udp_datagram *)0)->kernel_drops))                                                                \
    X(zenith_udp_datagram, "zenith_udp_datagram", "from", offsetof(zenith_udp_datagram, from),                         \
      sizeof(((zenith_udp_datagram *)0)->from))                                                                        \
    X(zenith_udp_datagram, "zenith_udp_datagram", "ts_ns", offsetof(zenith_udp_datagram, ts_ns),                       \
      sizeof(((zenith_udp_datagram *)0)->ts_ns))                                                                       \
    X(zenith_udp_datagram, "zenith_udp_datagram", "hw_ts_ns", offsetof(zenith_udp_datagram, hw_ts_ns),                 \
      sizeof(((zenith_udp_datagram *)0)->hw_ts_ns))                                                                    \
    X(zenith_udp_config, "zenith_udp_config", "", 0, sizeof(zenith_udp_config))                                        \
    X(zenith_udp_config, "zenith_udp_config", "struct_size", offsetof(zenith_udp_config, struct_size),                 \
      sizeof(((zenith_udp_config *)0)->struct_size))                                                                   \
    X(zenith_udp_config, "zenith_udp_config", "flags", offsetof(zenith_udp_config, flags),                             \
      sizeof(((zenith_udp_config *)0)->flags))                                                                         \
    X(zenith_udp_config, "zenith_udp_config", "address", offsetof(zenith_udp_config, address),                         \
      sizeof(((zenith_udp_config *)0)->address))                                                                       \
    X(zenith_udp_config, "zenith_udp_config", "port", offsetof(zenith_udp_config, port),                               \
      sizeof(((zenith_udp_config *)0)->port))                                                                          \
    X(zenith_udp_config, "zenith_udp_config", "peer_port", offsetof(zenith_udp_config, peer_port),                     \
      sizeof(((zenith_udp_config *)0)->peer_port))                                                                     \
    X(zenith_udp_config, "zenith_udp_config", "rcvbuf", offsetof(zenith_udp_config, rcvbuf),                           \
      sizeof(((zenith_udp_config *)0)->rcvbuf))                                                                        \
    X(zenith_udp_config, "zenith_udp_config", "peer_address", offsetof(zenith_udp_config, peer_address),               \
      sizeof(((zenith_udp_config *)0)->peer_address))                                                                  \
    X(zenith_udp_config, "zenith_udp_config", "sndbuf", offsetof(zenith_udp_config, sndbuf),                           \
      sizeof(((zenith_udp_config *)0)->sndbuf))                                                                        \
    X(zenith_udp_config, "zenith_udp_config", "reserved_", offsetof(zenith_udp_config, reserved_),                     \
      sizeof(((zenith_udp_config *)0)->reserved_))                                                                     \
    X(zenith_udp_config, "zenith_udp_config", "on_recv", offsetof(zenith_udp_config, on_recv),                         \
      sizeof(((zenith_udp_config *)0)->on_recv))                                                                       \
    X(zenith_udp_config, "zenith_udp_config", "on_writable", offsetof(zenith_udp_config, on_writable),                 \
      sizeof(((zenith_udp_config *)0)->on_writable))                                                                   \
    X(zenith_udp_config, "zenith_udp_config", "user", offsetof(zenith_udp_config, user),                               \
      sizeof(((zenith_udp_config *)0)->user))                                                                          \
    X(zenith_udp_info, "zenith_udp_info", "", 0, sizeof(zenith_udp_info))                                              \
    X(zenith_udp_info, "zenith_udp_info", "struct_size", offsetof(zenith_udp_info, struct_size),                       \
      sizeof(((zenith_udp_info *)0)->struct_size))                                                                     \
    X(zenith_udp_info, "zenith_udp_info", "features", offsetof(zenith_udp_info, features),                             \
      sizeof(((zenith_udp_info *)0)->features))                                                                        \
    X(zenith_udp_info, "zenith_udp_info", "local", offsetof(zenith_udp_info, local),                                   \
      sizeof(((zenith_udp_info *)0)->local))                                                                           \
    X(zenith_udp_info, "zenith_udp_info", "peer", offsetof(zenith_udp_info, peer),                                     \
      sizeof(((zenith_udp_info *)0)->peer))                                                                            \
    X(zenith_udp_info, "zenith_udp_info", "recv_capacity", offsetof(zenith_udp_info, recv_capacity),                   \
      sizeof(((zenith_udp_info *)0)->recv_capacity))                                                                   \
    X(zenith_udp_info, "zenith_udp_info", "queued", offsetof(zenith_udp_info, queued),                                 \
      sizeof(((zenith_udp_info *)0)->queued))                                                                          \
    X(zenith_udp_info, "zenith_udp_info", "datagrams_in", offsetof(zenith_udp_info, datagrams_in),                     \
      sizeof(((zenith_udp_info *)0)->datagrams_in))                                                                    \
    X(zenith_udp_info, "zenith_udp_info", "bytes_in", offsetof(zenith_udp_info, bytes_in),                             \
      sizeof(((zenith_udp_info *)0)->bytes_in))                                                                        \
    X(zenith_udp_info, "zenith_udp_info", "datagrams_out", offsetof(zenith_udp_info, datagrams_out),                   \
      sizeof(((zenith_udp_info *)0)->datagrams_out))                                                                   \
    X(zenith_udp_info, "zenith_udp_info", "bytes_out", offsetof(zenith_udp_info, bytes_out),                           \
      sizeof(((zenith_udp_info *)0)->bytes_out))                                                                       \
    X(zenith_udp_info, "zenith_udp_info", "truncated", offsetof(zenith_udp_info, truncated),                           \
      sizeof(((zenith_udp_info *)0)->truncated))                                                                       \
    X(zenith_udp_info, "zenith_udp_info", "gro_batches", offsetof(zenith_udp_info, gro_batches),                       \
      sizeof(((zenith_udp_info *)0)->gro_batches))                                                                     \
    X(zenith_udp_info, "zenith_udp_info", "gso_sends", offsetof(zenith_udp_info, gso_sends),                           \
      sizeof(((zenith_udp_info *)0)->gso_sends))                                                                       \
    X(zenith_udp_info, "zenith_udp_info", "recv_stalls", offsetof(zenith_udp_info, recv_stalls),                       \
      sizeof(((zenith_udp_info *)0)->recv_stalls))                                                                     \
    X(zenith_udp_info, "zenith_udp_info", "kernel_drops", offsetof(zenith_udp_info, kernel_drops),                     \
      sizeof(((zenith_udp_info *)0)->kernel_drops))                                                                    \
    X(zenith_udp_info, "zenith_udp_info", "recv_errors", offsetof(zenith_udp_info, recv_errors),                       \
      sizeof(((zenith_udp_info *)0)->recv_errors))                                                                     \
    X(zenith_udp_info, "zenith_udp_info", "send_full", offsetof(zenith_udp_info, send_full),                           \
      sizeof(((zenith_udp_info *)0)->send_full))                                                                       \
    X(zenith_udp_info, "zenith_udp_info", "send_errors", offsetof(zenith_udp_info, send_errors),                       \
      sizeof(((zenith_udp_info *)0)->send_errors))                                                                     \
    X(zenith_udp_info, "zenith_udp_info", "last_error", offsetof(zenith_udp_info, last_error),                         \
      sizeof(((zenith_udp_info *)0)->last_error))                                                                      \
    X(zenith_udp_info, "zenith_udp_info", "reserved_", offsetof(zenith_udp_info, reserved_),                           \
      sizeof(((zenith_udp_info *)0)->reserved_))                                                                       \
    X(struct ArrowSchema, "ArrowSchema", "", 0, sizeof(struct ArrowSchema))                                            \
    X(struct ArrowSchema, "ArrowSchema", "format", offsetof(struct ArrowSchema, format),                               \
      sizeof(((struct ArrowSchema *)0)->format))                                                                       \
    X(struct ArrowSchema, "ArrowSchema", "name", offsetof(struct ArrowSchema, name),                                   \
      sizeof(((struct ArrowSchema *)0)->name))                                                                         \
    X(struct ArrowSchema, "ArrowSchema", "metadata", offsetof(struct ArrowSchema, metadata),                           \
      sizeof(((struct ArrowSchema *)0)->metadata))                                                                     \
    X(struct ArrowSchema, "ArrowSchema", "flags", offsetof(struct ArrowSchema, flags),                                 \
      sizeof(((struct ArrowSchema *)0)->flags))                                                                        \
    X(struct ArrowSchema, "ArrowSchema", "n_children", offsetof(struct ArrowSchema, n_children),                       \
      sizeof(((struct ArrowSchema *)0)->n_children))                                                                   \
    X(struct ArrowSchema, "ArrowSchema", "children", offsetof(struct ArrowSchema, children),                           \
      sizeof(((struct ArrowSchema *)0)->children))                                                                     \
    X(struct ArrowSchema, "ArrowSchema", "dictionary", offsetof(struct ArrowSchema, dictionary),                       \
      sizeof(((struct ArrowSchema *)0)->dictionary))                                                                   \
    X(struct ArrowSchema, "ArrowSchema", "release", offsetof(struct ArrowSchema, release),                             \
      sizeof(((struct ArrowSchema *)0)->release))                                                                      \
    X(struct ArrowSchema, "ArrowSchema", "private_data", offsetof(struct ArrowSchema, private_data),                   \
      sizeof(((struct ArrowSchema *)0)->private_data))                                                                 \
    X(struct ArrowArray, "ArrowArray", "", 0, sizeof(struct ArrowArray))                                               \
    X(struct ArrowArray, "ArrowArray", "length", offsetof(struct ArrowArray, length),                                  \
      sizeof(((struct ArrowArray *)0)->length))                                                                        \
    X(struct ArrowArray, "ArrowArray", "null_count", offsetof(struct ArrowArray, null_count),                          \
      sizeof(((struct ArrowArray *)0)->null_count))                                                                    \
    X(struct ArrowArray, "ArrowArray", "offset", offsetof(struct ArrowArray, offset),                                  \
      sizeof(((struct ArrowArray *)0)->offset))                                                                        \
    X(struct ArrowArray, "ArrowArray", "n_buffers", offsetof(struct ArrowArray, n_buffers),                            \
      sizeof(((struct ArrowArray *)0)->n_buffers))                                                                     \
    X(struct ArrowArray, "ArrowArray", "n_children", offsetof(struct ArrowArray, n_children),                          \
      sizeof(((struct ArrowArray *)0)->n_children))                                                                    \
    X(struct ArrowArray, "ArrowArray", "buffers", offsetof(struct ArrowArray, buffers),                                \
      sizeof(((struct ArrowArray *)0)->buffers))                                                                       \
    X(struct ArrowArray, "ArrowArray", "children", offsetof(struct ArrowArray, children),                              \
      sizeof(((struct ArrowArray *)0)->children))                                                                      \
    X(struct ArrowArray, "ArrowArray", "dictionary", offsetof(struct ArrowArray, dictionary),                          \
      sizeof(((struct ArrowArray *)0)->dictionary))                                                                    \
    X(struct ArrowArray, "ArrowArray", "release", offsetof(struct ArrowArray, release),                                \
      sizeof(((struct ArrowArray *)0)->release))                                                                       \
    X(struct ArrowArray, "ArrowArray", "private_data", offsetof(struct ArrowArray, private_data),                      \
      sizeof(((struct ArrowArray *)0)->private_data))                                                                  \
    X(zenith_batch, "zenith_batch", "", 0, sizeof(zenith_batch))                                                       \
    X(zenith_batch, "zenith_batch", "source_id", offsetof(zenith_batch, source_id),                                    \
      sizeof(((zenith_batch *)0)->source_id))                                                                          \
    X(zenith_batch, "zenith_batch", "seq_no", offsetof(zenith_batch, seq_no), sizeof(((zenith_batch *)0)->seq_no))     \
    X(zenith_batch, "zenith_batch", "array", offsetof(zenith_batch, array), sizeof(((zenith_batch *)0)->array))        \
    X(zenith_batch, "zenith_batch", "schema", offsetof(zenith_batch, schema), sizeof(((zenith_batch *)0)->schema))     \
    X(zenith_engine_stats, "zenith_engine_stats", "", 0, sizeof(zenith_engine_stats))                                  \
    X(zenith_engine_stats, "zenith_engine_stats", "capacity", offsetof(zenith_engine_stats, capacity),                 \
      sizeof(((zenith_engine_stats *)0)->capacity))                                                                    \
    X(zenith_engine_stats, "zenith_engine_stats", "published", offsetof(zenith_engine_stats, published),               \
      sizeof(((zenith_engine_stats *)0)->published))                                                                   \
    X(zenith_engine_stats, "zenith_engine_stats", "polled", offsetof(zenith_engine_stats, polled),                     \
      sizeof(((zenith_engine_stats *)0)->polled))                                                                      \
    X(zenith_engine_stats, "zenith_engine_stats", "released", offsetof(zenith_engine_stats, released),                 \
      sizeof(((zenith_engine_stats *)0)->released))                                                                    \
    X(zenith_engine_stats, "zenith_engine_stats", "rejected_full", offsetof(zenith_engine_stats, rejected_full),       \
      sizeof(((zenith_engine_stats *)0)->rejected_full))                                                               \
    X(zenith_engine_stats, "zenith_engine_stats", "rejected_invalid", offsetof(zenith_engine_stats, rejected_invalid), \
      sizeof(((zenith_engine_stats *)0)->rejected_invalid))                                                            \
    X(zenith_engine_stats, "zenith_engine_stats", "seq_gaps", offsetof(zenith_engine_stats, seq_gaps),                 \
      sizeof(((zenith_engine_stats *)0)->seq_gaps))                                                                    \
    X(zenith_engine_stats, "zenith_engine_stats", "seq_duplicates", offsetof(zenith_engine_stats, seq_duplicates),     \
      sizeof(((zenith_engine_stats *)0)->seq_duplicates))                                                              \
    X(zenith_engine_stats, "zenith_engine_stats", "sources", offsetof(zenith_engine_stats, sources),                   \
      sizeof(((zenith_engine_stats *)0)->sources))                                                                     \
    X(zenith_engine_stats, "zenith_engine_stats", "sources_untracked",                                                 \
      offsetof(zenith_engine_stats, sources_untracked), sizeof(((zenith_engine_stats *)0)->sources_untracked))         \
    X(zenith_plugin_config, "zenith_plugin_config", "", 0, sizeof(zenith_plugin_config))                               \
    X(zenith_plugin_config, "zenith_plugin_config", "struct_size", offsetof(zenith_plugin_config, struct_size),        \
      sizeof(((zenith_plugin_config *)0)->struct_size))                                                                \
    X(zenith_plugin_config, "zenith_plugin_config", "flags", offsetof(zenith_plugin_config, flags),                    \
      sizeof(((zenith_plugin_config *)0)->flags))                                                                      \
    X(zenith_plugin_config, "zenith_plugin_config", "instances", offsetof(zenith_plugin_config, instances),            \
      sizeof(((zenith_plugin_config *)0)->instances))                                                                  \
    X(zenith_plugin_config, "zenith_plugin_config", "max_failures", offsetof(zenith_plugin_config, max_failures),      \
      sizeof(((zenith_plugin_config *)0)->max_failures))                                                               \
    X(zenith_plugin_config, "zenith_plugin_config", "fuel", offsetof(zenith_plugin_config, fuel),                      \
      sizeof(((zenith_plugin_config *)0)->fuel))                                                                       \
    X(zenith_plugin_config, "zenith_plugin_config", "fuel_per_row", offsetof(zenith_plugin_config, fuel_per_row),      \
      sizeof(((zenith_plugin_config *)0)->fuel_per_row))                                                               \
    X(zenith_plugin_config, "zenith_plugin_config", "max_rows", offsetof(zenith_plugin_config, max_rows),              \
      sizeof(((zenith_plugin_config *)0)->max_rows))                                                                   \
    X(zenith_plugin_config, "zenith_plugin_config", "max_memory_pages",                                                \
      offsetof(zenith_plugin_config, max_memory_pages), sizeof(((zenith_plugin_config *)0)->max_memory_pages))         \
    X(zenith_plugin_config, "zenith_plugin_config", "params", offsetof(zenith_plugin_config, params),                  \
      sizeof(((zenith_plugin_config *)0)->params))                                                                     \
    X(zenith_plugin_config, "zenith_plugin_config", "params_len", offsetof(zenith_plugin_config, params_len),          \
      sizeof(((zenith_plugin_config *)0)->params_len))                                                                 \
    X(zenith_plugin_stats, "zenith_plugin_stats", "", 0, sizeof(zenith_plugin_stats))                                  \
    X(zenith_plugin_stats, "zenith_plugin_stats", "struct_size", offsetof(zenith_plugin_stats, struct_size),           \
      sizeof(((zenith_plugin_stats *)0)->struct_size))                                                                 \
    X(zenith_plugin_stats, "zenith_plugin_stats", "disabled", offsetof(zenith_plugin_stats, disabled),                 \
      sizeof(((zenith_plugin_stats *)0)->disabled))                                                                    \
    X(zenith_plugin_stats, "zenith_plugin_stats", "instances", offsetof(zenith_plugin_stats, instances),               \
      sizeof(((zenith_plugin_stats *)0)->instances))                                                                   \
    X(zenith_plugin_stats, "zenith_plugin_stats", "last_trap", offsetof(zenith_plugin_stats, last_trap),               \
      sizeof(((zenith_plugin_stats *)0)->last_trap))                                                                   \
    X(zenith_plugin_stats, "zenith_plugin_stats", "calls", offsetof(zenith_plugin_stats, calls),                       \
      sizeof(((zenith_plugin_stats *)0)->calls))                                                                       \
    X(zenith_plugin_stats, "zenith_plugin_stats", "rows_in", offsetof(zenith_plugin_stats, rows_in),                   \
      sizeof(((zenith_plugin_stats *)0)->rows_in))                                                                     \
    X(zenith_plugin_stats, "zenith_plugin_stats", "rows_out", offsetof(zenith_plugin_stats, rows_out),                 \
      sizeof(((zenith_plugin_stats *)0)->rows_out))                                                                    \
    X(zenith_plugin_stats, "zenith_plugin_stats", "passed", offsetof(zenith_plugin_stats, passed),                     \
      sizeof(((zenith_plugin_stats *)0)->passed))                                                                      \
    X(zenith_plugin_stats, "zenith_plugin_stats", "rejected", offsetof(zenith_plugin_stats, rejected),                 \
      sizeof(((zenith_plugin_stats *)0)->rejected))                                                                    \
    X(zenith_plugin_stats, "zenith_plugin_stats", "selected", offsetof(zenith_plugin_stats, selected),                 \
      sizeof(((zenith_plugin_stats *)0)->selected))                                                                    \
    X(zenith_plugin_stats, "zenith_plugin_stats", "failures", offsetof(zenith_plugin_stats, failures),                 \
      sizeof(((zenith_plugin_stats *)0)->failures))                                                                    \
    X(zenith_plugin_stats, "zenith_plugin_stats", "traps", offsetof(zenith_plugin_stats, traps),                       \
      sizeof(((zenith_plugin_stats *)0)->traps))                                                                       \
    X(zenith_plugin_stats, "zenith_plugin_stats", "fuel_exhausted", offsetof(zenith_plugin_stats, fuel_exhausted),     \
      sizeof(((zenith_plugin_stats *)0)->fuel_exhausted))                                                              \
    X(zenith_plugin_stats, "zenith_plugin_stats", "errors", offsetof(zenith_plugin_stats, errors),                     \
      sizeof(((zenith_plugin_stats *)0)->errors))                                                                      \
    X(zenith_plugin_stats, "zenith_plugin_stats", "skipped", offsetof(zenith_plugin_stats, skipped),                   \
      sizeof(((zenith_plugin_stats *)0)->skipped))                                                                     \
    X(zenith_plugin_stats, "zenith_plugin_stats", "fuel_used", offsetof(zenith_plugin_stats, fuel_used),               \
      sizeof(((zenith_plugin_stats *)0)->fuel_used))                                                                   \
    X(zenith_plugin_stats, "zenith_plugin_stats", "waits", offsetof(zenith_plugin_stats, waits),                       \
      sizeof(((zenith_plugin_stats *)0)->waits))                                                                       \
    X(zenith_plugin_stats, "zenith_plugin_stats", "consecutive_failures",                                              \
      offsetof(zenith_plugin_stats, consecutive_failures), sizeof(((zenith_plugin_stats *)0)->consecutive_failures))

#if defined(ZENITH_NUMA_H_INCLUDED)
#define ZENITH__LAYOUT_NUMA_LIST(X)                                                                                 \
    X(zenith_numa_nodeset, "zenith_numa_nodeset", "", 0, sizeof(zenith_numa_nodeset))                               \
    X(zenith_numa_nodeset, "zenith_numa_nodeset", "bits", offsetof(zenith_numa_nodeset, bits),                      \
      sizeof(((zenith_numa_nodeset *)0)->bits))                                                                     \
    X(zenith_numa_node_info, "zenith_numa_node_info", "", 0, sizeof(zenith_numa_node_info))                         \
    X(zenith_numa_node_info, "zenith_numa_node_info", "id", offsetof(zenith_numa_node_info, id),                    \
      sizeof(((zenith_numa_node_info *)0)->id))                                                                     \
    X(zenith_numa_node_info, "zenith_numa_node_info", "cpu_count", offsetof(zenith_numa_node_info, cpu_count),      \
      sizeof(((zenith_numa_node_info *)0)->cpu_count))                                                              \
    X(zenith_numa_node_info, "zenith_numa_node_info", "cpu_first", offsetof(zenith_numa_node_info, cpu_first),      \
      sizeof(((zenith_numa_node_info *)0)->cpu_first))                                                              \
    X(zenith_numa_node_info, "zenith_numa_node_info", "reserved_", offsetof(zenith_numa_node_info, reserved_),      \
      sizeof(((zenith_numa_node_info *)0)->reserved_))                                                              \
    X(zenith_numa_node_info, "zenith_numa_node_info", "mem_total", offsetof(zenith_numa_node_info, mem_total),      \
      sizeof(((zenith_numa_node_info *)0)->mem_total))                                                              \
    X(zenith_numa_node_info, "zenith_numa_node_info", "mem_free", offsetof(zenith_numa_node_info, mem_free),        \
      sizeof(((zenith_numa_node_info *)0)->mem_free))                                                               \
    X(zenith_numa_topology, "zenith_numa_topology", "", 0, sizeof(zenith_numa_topology))                            \
    X(zenith_numa_topology, "zenith_numa_topology", "nodes", offsetof(zenith_numa_topology, nodes),                 \
      sizeof(((zenith_numa_topology *)0)->nodes))                                                                   \
    X(zenith_numa_topology, "zenith_numa_topology", "cpus", offsetof(zenith_numa_topology, cpus),                   \
      sizeof(((zenith_numa_topology *)0)->cpus))                                                                    \
    X(zenith_numa_topology, "zenith_numa_topology", "distances", offsetof(zenith_numa_topology, distances),         \
      sizeof(((zenith_numa_topology *)0)->distances))                                                               \
    X(zenith_numa_topology, "zenith_numa_topology", "nodes_cap", offsetof(zenith_numa_topology, nodes_cap),         \
      sizeof(((zenith_numa_topology *)0)->nodes_cap))                                                               \
    X(zenith_numa_topology, "zenith_numa_topology", "cpus_cap", offsetof(zenith_numa_topology, cpus_cap),           \
      sizeof(((zenith_numa_topology *)0)->cpus_cap))                                                                \
    X(zenith_numa_topology, "zenith_numa_topology", "distances_cap", offsetof(zenith_numa_topology, distances_cap), \
      sizeof(((zenith_numa_topology *)0)->distances_cap))                                                           \
    X(zenith_numa_topology, "zenith_numa_topology", "node_count", offsetof(zenith_numa_topology, node_count),       \
      sizeof(((zenith_numa_topology *)0)->node_count))                                                              \
    X(zenith_numa_topology, "zenith_numa_topology", "cpu_count", offsetof(zenith_numa_topology, cpu_count),         \
      sizeof(((zenith_numa_topology *)0)->cpu_count))                                                               \
    X(zenith_numa_topology, "zenith_numa_topology", "reserved_", offsetof(zenith_numa_topology, reserved_),         \
      sizeof(((zenith_numa_topology *)0)->reserved_))                                                               \
    X(zenith_numa_placement, "zenith_numa_placement", "", 0, sizeof(zenith_numa_placement))                         \
    X(zenith_numa_placement, "zenith_numa_placement", "pages", offsetof(zenith_numa_placement, pages),              \
      sizeof(((zenith_numa_placement *)0)->pages))                                                                  \
    X(zenith_numa_placement, "zenith_numa_placement", "on_node", offsetof(zenith_numa_placement, on_node),          \
      sizeof(((zenith_numa_placement *)0)->on_node))                                                                \
    X(zenith_numa_placement, "zenith_numa_placement", "elsewhere", offsetof(zenith_numa_placement, elsewhere),      \
      sizeof(((zenith_numa_placement *)0)->elsewhere))                                                              \
    X(zenith_numa_placement, "zenith_numa_placement", "absent", offsetof(zenith_numa_placement, absent),            \
      sizeof(((zenith_numa_placement *)0)->absent))

#else
#define ZENITH__LAYOUT_NUMA_LIST(X)
#endif

typedef struct zenith__layout_entry {
    const char *type, *field;
    size_t offset, size;
} zenith__layout_entry;

#define ZENITH__LAYOUT_ROW(ctype, tname, fname, off, sz) { tname, fname, (size_t)(off), (size_t)(sz) },
static const zenith__layout_entry zenith__layout[] = { ZENITH__LAYOUT_LIST(ZENITH__LAYOUT_ROW)
                                                           ZENITH__LAYOUT_NUMA_LIST(ZENITH__LAYOUT_ROW) };
#undef ZENITH__LAYOUT_ROW
#undef ZENITH__LAYOUT_LIST
#undef ZENITH__LAYOUT_NUMA_LIST

ZENITH_API size_t zenith_layout_count(void) { return sizeof zenith__layout / sizeof zenith__layout[0]; }

ZENITH_API int zenith_layout_get(size_t index, const char **type, const char **field, size_t *offset, size_t *size) {
    const zenith__layout_entry *r;
    if (index >= zenith_layout_count()) return ZENITH_E_INVAL;
    r = &zenith__layout[index];
    if (type) *type = r->type;
    if (field) *field = r->field;
    if (offset) *offset = r->offset;
    if (size) *size = r->size;
    return 0;
}

ZENITH_API int zenith_layout_find(const char *type, const char *field, size_t *offset, size_t *size) {
    size_t i, n = zenith_layout_count();
    if (type == NULL) return ZENITH_E_NULL;
    if (field == NULL) field = "";
    for (i = 0; i < n; i++) {
        const zenith__layout_entry *r = &zenith__layout[i];
        if (strcmp(r->type, type) == 0 && strcmp(r->field, field) == 0) {
            if (offset) *offset = r->offset;
            if (size) *size = r->size;
            return 0;
        }
    }
    return ZENITH_E_NOT_FOUND;
}

ZENITH_API uint64_t zenith_layout_hash(void) {
    uint64_t h = 1469598103934665603ull; /* FNV-1a, 64 bits */
    size_t i, n = zenith_layout_count();
    for (i = 0; i < n; i++) {
        const zenith__layout_entry *r = &zenith__layout[i];
        char line[160];
        const char *c;
        snprintf(line, sizeof line, "%s.%s:%zu:%zu;", r->type, r->field, r->offset, r->size);
        for (c = line; *c; c++) h = (h ^ (uint8_t)*c) * 1099511628211ull;
    }
    return h;
}

#if defined(ZENITH_PLUGINS)
#undef ZENITH__PADD
#endif

#undef ZENITH__RELAXED
#undef ZENITH__ACQUIRE
#undef ZENITH__RELEASE

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
