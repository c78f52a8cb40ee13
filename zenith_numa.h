/* zenith_numa.h v0.2.0 -- NUMA helpers for Zenith on libnuma. MIT licence, see end of file.

QUICK START
    In exactly one C or C++ file, before any system header:

        #define ZENITH_NUMA_IMPLEMENTATION   // or ZENITH_IMPLEMENTATION, which also compiles zenith.h
        #include "zenith_numa.h"

    Link with -lnuma (Debian: libnuma-dev). Usable on its own, without zenith.h:

        zenith_numa_init();                              // 0, or -1: no NUMA (one-node mode)
        void *ptr = zenith_numa_alloc_onnode(4096, 0);   // on node 0, once touched
        zenith_numa_bind_thread_to_node(0);              // this thread on node 0's CPUs
        zenith_numa_free(ptr, 4096);
        zenith_numa_cleanup();

CONFIGURATION (define before including)
    macro                        default   where   meaning
    ZENITH_NUMA_IMPLEMENTATION   -         impl    compile this header's implementation here
    ZENITH_IMPLEMENTATION        -         impl    the same, for zenith.h and this header at once
    ZENITH_STATIC                -         every   all functions static
    ZENITH_SHARED                -         every   default visibility for a -fvisibility=hidden .so
    ZENITH_NUMA_API              extern    every   linkage of every public function

OVERVIEW
    Topology (nodes, their CPUs and memory, distances; into caller memory), allocation on a node /
    local / interleaved, binding the calling thread to a node or a CPU and back, the calling
    thread's memory policy set and read back, and where memory really is (per address, or page
    counts for a range) so placement can be verified. docs/NUMA.md has the long version.
    With zenith.h: a pool's slab on a node is zenith.h's own ZENITH_POOL_NUMA_NODE (no libnuma
    needed); this header adds zenith_numa_pool_config_on_node (checks the node first),
    zenith_numa_pool_placement (verifies, page by page) and zenith_numa_server_config_on_cpu
    (a reactor pinned to a CPU with its memory on that CPU's node). They are declared (and,
    with an implementation define, compiled) when this header is included after zenith.h;
    zenith.h knows nothing of this header. With zenith_numa.h first, include it once more
    after zenith.h to get them (its glue part is outside the include guard for that).

WITHOUT NUMA
    A kernel without NUMA (numa_available() < 0): init returns ZENITH_NUMA_E_UNAVAILABLE and the
    library runs in one-node mode: node 0 is the one node with every CPU and all memory;
    allocation gives ordinary page-aligned memory; binding to node 0 succeeds; other nodes are
    ZENITH_NUMA_E_INVALID_NODE; policies other than DEFAULT/LOCAL are ZENITH_NUMA_E_UNAVAILABLE.
    Nothing prints, ever (libnuma calls that print are not used on failure paths).

MEMORY & OWNERSHIP
    zenith_numa_alloc_* returns memory the caller owns; free it with zenith_numa_free and the same
    size. Topology goes into arrays the caller owns (two-call sizing: ZENITH_NUMA_E_TOO_SMALL
    fills the counts). The library's own state (built once by init) is freed by the last cleanup.

ERRORS
    The design's table: 0 success, -1 NUMA unavailable, -2 invalid node, -3 allocation failed,
    -4 bind failed, -5 null pointer; and -6 invalid CPU, -7 invalid size (0 or > SIZE_MAX / 2),
    -8 invalid argument, -9 caller's array too small, -10 page not faulted in, -11 not mapped.
    Allocators return NULL and leave the code in zenith_numa_last_error() (per thread). Bad
    input never has a side effect.

THREADING
    init and cleanup: any thread, serialised by a mutex; cleanup not while other threads are in
    the library. Everything else: any thread, concurrently (it reads the state init built; no
    lock). Binding and policy calls act on the calling thread only. Calls before any init
    initialise implicitly (thread-safe). libnuma's own lazily-built caches are only touched
    inside init.
*/
/* The implementation uses GNU interfaces (CPU_ALLOC, pthread_setaffinity_np): like zenith.h,
   the implementing file includes this header before any system header, or defines _GNU_SOURCE. */
#if (defined(ZENITH_NUMA_IMPLEMENTATION) || defined(ZENITH_IMPLEMENTATION)) && !defined(_GNU_SOURCE)
#define _GNU_SOURCE
#endif

#ifndef ZENITH_NUMA_H_INCLUDED
#define ZENITH_NUMA_H_INCLUDED

#define ZENITH_NUMA_VERSION_MAJOR 0
#define ZENITH_NUMA_VERSION_MINOR 2
#define ZENITH_NUMA_VERSION_PATCH 0
#define ZENITH_NUMA_VERSION_STRING "0.2.0"
#define ZENITH_NUMA_VERSION \
    (ZENITH_NUMA_VERSION_MAJOR * 1000000L + ZENITH_NUMA_VERSION_MINOR * 1000L + ZENITH_NUMA_VERSION_PATCH)

#include <stddef.h>
#include <stdint.h>

#ifndef ZENITH_NUMA_API
#if defined(ZENITH_STATIC)
#if defined(__GNUC__)
#define ZENITH_NUMA_API static __attribute__((unused))
#else
#define ZENITH_NUMA_API static
#endif
#elif defined(ZENITH_SHARED) && defined(__GNUC__)
#define ZENITH_NUMA_API extern __attribute__((visibility("default")))
#else
#define ZENITH_NUMA_API extern
#endif
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* X(name, value, description). 0 and -1..-5 are the design's; -6.. say more precisely what a
   bad argument was. */
#define ZENITH_NUMA_ERROR_LIST(X)                                                              \
    X(ZENITH_NUMA_OK, 0, "success")                                                            \
    X(ZENITH_NUMA_E_UNAVAILABLE, -1, "NUMA unavailable")                                       \
    X(ZENITH_NUMA_E_INVALID_NODE, -2, "invalid node")                                          \
    X(ZENITH_NUMA_E_ALLOC, -3, "allocation failed")                                            \
    X(ZENITH_NUMA_E_BIND, -4, "bind failed")                                                   \
    X(ZENITH_NUMA_E_NULL, -5, "null pointer")                                                  \
    X(ZENITH_NUMA_E_INVALID_CPU, -6, "invalid CPU (out of range or not allowed)")              \
    X(ZENITH_NUMA_E_INVALID_SIZE, -7, "invalid size (zero or too large)")                      \
    X(ZENITH_NUMA_E_INVALID_ARG, -8, "invalid argument")                                       \
    X(ZENITH_NUMA_E_TOO_SMALL, -9, "caller's array too small (the counts say what is needed)") \
    X(ZENITH_NUMA_E_NOT_PRESENT, -10, "page not faulted in yet (touch it first)")              \
    X(ZENITH_NUMA_E_NOT_MAPPED, -11, "address not mapped")

enum zenith_numa_error {
#define ZENITH_NUMA__ENUM(name, value, text) name = value,
    ZENITH_NUMA_ERROR_LIST(ZENITH_NUMA__ENUM)
#undef ZENITH_NUMA__ENUM
        ZENITH_NUMA_E_LAST_ = -12
};

/* Node ids 0 .. ZENITH_NUMA_MAX_NODES - 1 (Linux on x86-64 allows at most 1024). */
#define ZENITH_NUMA_MAX_NODES 1024

/* A set of nodes: bit n of bits[n / 64]. Plain data: zero it to empty it. */
typedef struct zenith_numa_nodeset {
    uint64_t bits[ZENITH_NUMA_MAX_NODES / 64];
} zenith_numa_nodeset;

/* Memory policies (the kernel's MPOL_* numbers). */
enum zenith_numa_policy {
    ZENITH_NUMA_POLICY_DEFAULT = 0,       /* the process default (usually local) */
    ZENITH_NUMA_POLICY_PREFERRED = 1,     /* one node first, others when it is full */
    ZENITH_NUMA_POLICY_BIND = 2,          /* only these nodes (membind) */
    ZENITH_NUMA_POLICY_INTERLEAVE = 3,    /* pages round-robin over these nodes */
    ZENITH_NUMA_POLICY_LOCAL = 4,         /* the node of the CPU that first touches */
    ZENITH_NUMA_POLICY_PREFERRED_MANY = 5 /* any of these nodes first (kernel 5.15+) */
};

/* One node of a topology. */
typedef struct zenith_numa_node_info {
    int32_t id;         /* node number (ids can be sparse) */
    int32_t cpu_count;  /* CPUs on the node */
    int32_t cpu_first;  /* index of its first CPU in zenith_numa_topology.cpus */
    int32_t reserved_;  /* 0 */
    uint64_t mem_total; /* bytes */
    uint64_t mem_free;  /* bytes, when the call ran */
} zenith_numa_node_info;

/* Topology, written into caller-owned arrays. Set the three pointers and capacities (in
   elements), call zenith_numa_topology_get. If a capacity is too small it returns
   ZENITH_NUMA_E_TOO_SMALL with node_count and cpu_count filled in, so the caller can size the
   arrays (nodes: node_count, cpus: cpu_count, distances: node_count * node_count) and call
   again. Capacities of 0 with NULL pointers ask for the counts only. */
typedef struct zenith_numa_topology {
    zenith_numa_node_info *nodes; /* in: nodes_cap entries; out: node_count of them, by id */
    int32_t *cpus;                /* in: cpus_cap entries; out: every node's CPUs, node by node */
    int32_t *distances;           /* in: distances_cap entries; out: distances[i * node_count + j]
                                     between nodes[i] and nodes[j] (10 = local, as the ACPI SLIT) */
    int32_t nodes_cap, cpus_cap, distances_cap;
    int32_t node_count; /* out */
    int32_t cpu_count;  /* out: CPUs listed in cpus */
    int32_t reserved_;  /* 0 */
} zenith_numa_topology;

/* Where the pages of a range live (zenith_numa_placement_of). */
typedef struct zenith_numa_placement {
    uint64_t pages;     /* pages in the range */
    uint64_t on_node;   /* faulted in on the node asked about */
    uint64_t elsewhere; /* faulted in on another node */
    uint64_t absent;    /* not faulted in (or only the shared zero page) */
} zenith_numa_placement;

/* ---- set-up --------------------------------------------------------------------------------- */

/* Reads the topology once (nodes, CPUs, allowed sets, distances) into this library's state.
   Returns 0, or ZENITH_NUMA_E_UNAVAILABLE when the kernel has no NUMA (numa_available() < 0):
   that is information, not failure -- every call then works in one-node mode as each says
   below. Counted: each init needs one cleanup. Calls made before any init initialise
   implicitly. Thread safety: any thread (a mutex, not a hot path). */
ZENITH_NUMA_API int zenith_numa_init(void);
/* Undoes one init; the last frees the state. Not while other threads are inside this library. */
ZENITH_NUMA_API void zenith_numa_cleanup(void);

/* ---- topology (after init: any thread, lock-free reads of the state init built) ------------ */

/* 1 if the kernel has NUMA, 0 if not. */
ZENITH_NUMA_API int zenith_numa_available(void);
/* Configured nodes (>= 1; 1 without NUMA). */
ZENITH_NUMA_API int zenith_numa_node_count(void);
/* Highest node id (0 without NUMA). */
ZENITH_NUMA_API int zenith_numa_max_node(void);
/* Configured CPUs: CPU ids are 0 .. zenith_numa_cpu_count() - 1. */
ZENITH_NUMA_API int zenith_numa_cpu_count(void);
/* Node of a CPU, or ZENITH_NUMA_E_INVALID_CPU. */
ZENITH_NUMA_API int zenith_numa_node_of_cpu(int cpu);
/* The CPU and the node the calling thread runs on now (may change unless bound). */
ZENITH_NUMA_API int zenith_numa_current_cpu(void);
ZENITH_NUMA_API int zenith_numa_current_node(void);
/* Distance between two nodes (10 = local), or ZENITH_NUMA_E_INVALID_NODE. */
ZENITH_NUMA_API int zenith_numa_distance(int node_a, int node_b);
/* Total and free bytes of a node (either pointer nullable); 0 or ZENITH_NUMA_E_INVALID_NODE. */
ZENITH_NUMA_API int zenith_numa_node_memory(int node, uint64_t *total, uint64_t *free_bytes);
/* Everything above at once, into caller-owned memory (see zenith_numa_topology).
   Returns 0, ZENITH_NUMA_E_NULL, ZENITH_NUMA_E_TOO_SMALL. */
ZENITH_NUMA_API int zenith_numa_topology_get(zenith_numa_topology *topo);

/* ---- allocation (any thread) ---------------------------------------------------------------
   Page-aligned private anonymous mappings, size rounded up to whole pages; nothing is faulted
   in until first touched (touch them on the thread that will use them, or any thread for
   _onnode, whose policy is strict). Free with zenith_numa_free and the same size. On failure
   NULL, and zenith_numa_last_error() on the same thread says why:
     ZENITH_NUMA_E_INVALID_SIZE (0, or more than SIZE_MAX / 2), ZENITH_NUMA_E_INVALID_NODE (out
     of range, not a node, or not allowed by the cpuset), ZENITH_NUMA_E_NULL (no node set),
     ZENITH_NUMA_E_ALLOC (mmap failed), ZENITH_NUMA_E_BIND (mbind refused, e.g. EPERM under a
     container profile without CAP_SYS_NICE). Without NUMA: ordinary memory; node 0 only. */
ZENITH_NUMA_API void *zenith_numa_alloc_onnode(size_t size, int node); /* MPOL_BIND to node */
ZENITH_NUMA_API void *zenith_numa_alloc_local(size_t size);            /* MPOL_LOCAL */
ZENITH_NUMA_API void *zenith_numa_alloc_interleaved(size_t size);      /* over every allowed node */
ZENITH_NUMA_API void *zenith_numa_alloc_interleaved_nodes(size_t size, const zenith_numa_nodeset *nodes);
/* Unmaps. NULL is a no-op (0). Returns 0, ZENITH_NUMA_E_INVALID_SIZE (size 0),
   ZENITH_NUMA_E_INVALID_ARG (ptr not page-aligned). */
ZENITH_NUMA_API int zenith_numa_free(void *ptr, size_t size);
/* Code of this thread's last allocation call: 0 after a success. */
ZENITH_NUMA_API int zenith_numa_last_error(void);

/* ---- thread binding (the calling thread; any thread) ---------------------------------------- */

/* Runs the calling thread only on the node's CPUs (those allowed). Memory then comes from that
   node under the default (local) policy. Returns 0, ZENITH_NUMA_E_INVALID_NODE (no such node,
   or none of its CPUs allowed), ZENITH_NUMA_E_BIND (sched_setaffinity refused). */
ZENITH_NUMA_API int zenith_numa_bind_thread_to_node(int node);
/* Runs the calling thread only on one CPU. Returns 0, ZENITH_NUMA_E_INVALID_CPU, ZENITH_NUMA_E_BIND. */
ZENITH_NUMA_API int zenith_numa_bind_thread_to_cpu(int cpu);
/* Back to every CPU the process was allowed when init ran (its taskset / cpuset then).
   Returns 0 or ZENITH_NUMA_E_BIND. */
ZENITH_NUMA_API int zenith_numa_unbind_thread(void);

/* ---- memory policy of the calling thread ---------------------------------------------------- */

/* Sets the policy for the calling thread's future allocations. nodes: NULL or empty for
   DEFAULT and LOCAL; exactly one node for PREFERRED; one or more for BIND, INTERLEAVE,
   PREFERRED_MANY; all allowed. Returns 0, ZENITH_NUMA_E_INVALID_ARG (unknown policy, wrong node
   count), ZENITH_NUMA_E_NULL (nodes NULL where needed), ZENITH_NUMA_E_INVALID_NODE,
   ZENITH_NUMA_E_BIND (the kernel refused), ZENITH_NUMA_E_UNAVAILABLE (no NUMA: only DEFAULT and
   LOCAL are accepted there, as no-ops). */
ZENITH_NUMA_API int zenith_numa_set_policy(int policy, const zenith_numa_nodeset *nodes);
/* PREFERRED on one node: zenith_numa_set_policy's codes. */
ZENITH_NUMA_API int zenith_numa_set_preferred(int node);
/* Reads the calling thread's policy back (nodes nullable). Without NUMA: DEFAULT, no nodes.
   Returns 0, ZENITH_NUMA_E_NULL, ZENITH_NUMA_E_BIND (the kernel refused the query). */
ZENITH_NUMA_API int zenith_numa_get_policy(int *policy, zenith_numa_nodeset *nodes);

/* ---- where memory is -------------------------------------------------------------------------- */

/* The node the page holding addr lives on (get_mempolicy MPOL_F_NODE|MPOL_F_ADDR), without
   faulting it in. Returns the node, ZENITH_NUMA_E_NULL, ZENITH_NUMA_E_NOT_MAPPED,
   ZENITH_NUMA_E_NOT_PRESENT (never touched). Without NUMA: 0 for a present page. */
ZENITH_NUMA_API int zenith_numa_node_of_address(const void *addr);
/* Counts the pages of [addr, addr + len) on `node`, elsewhere, and not faulted in
   (move_pages(2) queries, nothing moves). Returns 0, ZENITH_NUMA_E_NULL,
   ZENITH_NUMA_E_INVALID_SIZE (len 0), ZENITH_NUMA_E_INVALID_NODE, ZENITH_NUMA_E_NOT_MAPPED. */
ZENITH_NUMA_API int zenith_numa_placement_of(const void *addr, size_t len, int node, zenith_numa_placement *out);

/* ---- node sets ---------------------------------------------------------------------------------- */

ZENITH_NUMA_API void zenith_numa_nodeset_clear(zenith_numa_nodeset *set);              /* NULL: no-op */
ZENITH_NUMA_API int zenith_numa_nodeset_add(zenith_numa_nodeset *set, int node);       /* 0, -5, -2 */
ZENITH_NUMA_API int zenith_numa_nodeset_remove(zenith_numa_nodeset *set, int node);    /* 0, -5, -2 */
ZENITH_NUMA_API int zenith_numa_nodeset_has(const zenith_numa_nodeset *set, int node); /* 1 or 0 */
ZENITH_NUMA_API int zenith_numa_nodeset_count(const zenith_numa_nodeset *set);         /* nodes in it */
/* The nodes memory may come from (the cpuset's mems). 0 or ZENITH_NUMA_E_NULL. */
ZENITH_NUMA_API int zenith_numa_allowed_nodes(zenith_numa_nodeset *out);

/* ---- errors and version --------------------------------------------------------------------- */

/* Description of a zenith_numa code. Never NULL; static; any thread. */
ZENITH_NUMA_API const char *zenith_numa_strerror(int code);
/* Name of a zenith_numa code ("ZENITH_NUMA_E_INVALID_NODE"), "ZENITH_NUMA_E_UNKNOWN" otherwise. */
ZENITH_NUMA_API const char *zenith_numa_errname(int code);
/* ZENITH_NUMA_VERSION of the compiled implementation. Any thread. */
ZENITH_NUMA_API long zenith_numa_version(void);

#ifdef __cplusplus
}
#endif

#endif /* ZENITH_NUMA_H_INCLUDED */

/* ---- with zenith.h: glue (declared when zenith.h came first) ----------------------------------- */
#if defined(ZENITH_H_INCLUDED) && !defined(ZENITH_NUMA_GLUE_DECLARED)
#define ZENITH_NUMA_GLUE_DECLARED
#ifdef __cplusplus
extern "C" {
#endif
/* Where a pool's slab lives, page by page (see zenith_numa_placement_of): a pool made with
   ZENITH_POOL_NUMA_NODE on node n has every page on n. Returns 0, ZENITH_NUMA_E_NULL,
   ZENITH_NUMA_E_INVALID_NODE. Any thread. Compiled where zenith_numa.h's implementation is
   compiled with zenith.h included (zenith.c does). */
ZENITH_NUMA_API int zenith_numa_pool_placement(const zenith_pool *pool, int node, zenith_numa_placement *out);
/* Fills cfg to put a pool on `node` (ZENITH_POOL_NUMA_NODE) after checking the node exists and
   is allowed here. Returns 0, ZENITH_NUMA_E_NULL, ZENITH_NUMA_E_INVALID_NODE. */
ZENITH_NUMA_API int zenith_numa_pool_config_on_node(zenith_pool_config *cfg, int node);
/* Fills cfg to pin a server to `cpu` with its memory on that CPU's node. Returns 0,
   ZENITH_NUMA_E_NULL, ZENITH_NUMA_E_INVALID_CPU. */
ZENITH_NUMA_API int zenith_numa_server_config_on_cpu(zenith_server_config *cfg, int cpu);
#ifdef __cplusplus
}
#endif
#endif

#if (defined(ZENITH_NUMA_IMPLEMENTATION) || defined(ZENITH_IMPLEMENTATION)) && \
    !defined(ZENITH_NUMA_IMPLEMENTATION_INCLUDED)
#define ZENITH_NUMA_IMPLEMENTATION_INCLUDED

#include <errno.h>
#include <numa.h>
#include <numaif.h>
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/sysinfo.h>
#include <unistd.h>

#ifdef __cplusplus
extern "C" {
#endif

/* State built by init, read-only until cleanup: readers need no lock once `ready` is set. */
typedef struct zenith_numa__state {
    int available; /* kernel NUMA */
    int max_node, node_count, ncpus;
    int *cpu_node;             /* [ncpus]: node of each CPU, -1 if none */
    int *dist;                 /* [(max_node + 1)^2] */
    zenith_numa_nodeset nodes; /* configured nodes */
    zenith_numa_nodeset mems;  /* nodes memory may come from (cpuset mems) */
    cpu_set_t *allowed;        /* CPUs allowed when init ran */
    size_t allowed_size;       /* bytes of allowed */
} zenith_numa__state;

static pthread_mutex_t zenith_numa__lock = PTHREAD_MUTEX_INITIALIZER;
static zenith_numa__state zenith_numa__g;
static int zenith_numa__refs;  /* under the lock */
static int zenith_numa__ready; /* atomic: 1 while zenith_numa__g is valid */
static __thread int zenith_numa__last;

static int zenith_numa__in_set(const zenith_numa_nodeset *s, int node) {
    return node >= 0 && node < ZENITH_NUMA_MAX_NODES && ((s->bits[node / 64] >> (node % 64)) & 1u);
}

static void zenith_numa__free_state(zenith_numa__state *g) {
    free(g->cpu_node);
    free(g->dist);
    if (g->allowed) CPU_FREE(g->allowed);
    memset(g, 0, sizeof *g);
}

/* Builds the state; 0 or ZENITH_NUMA_E_ALLOC. */
static int zenith_numa__build(zenith_numa__state *g) {
    long conf = sysconf(_SC_NPROCESSORS_CONF);
    int cpus = conf > 0 ? (int)conf : 1, n, c;
    size_t setcpus;
    memset(g, 0, sizeof *g);
    g->available = numa_available() >= 0;
    if (g->available) {
        struct bitmask *cm = numa_allocate_cpumask();
        int i;
        g->max_node = numa_max_node();
        if (g->max_node < 0 || g->max_node >= ZENITH_NUMA_MAX_NODES) g->max_node = 0;
        if (cm == NULL) return ZENITH_NUMA_E_ALLOC;
        /* CPU ids can run past the configured count (sparse or offline CPUs): size by both */
        for (n = 0; n <= g->max_node; n++) {
            if (!numa_bitmask_isbitset(numa_nodes_ptr, (unsigned)n)) continue;
            if (numa_node_to_cpus(n, cm) != 0) continue;
            for (i = 0; i < (int)cm->size; i++)
                if (numa_bitmask_isbitset(cm, (unsigned)i) && i + 1 > cpus) cpus = i + 1;
        }
        g->cpu_node = (int *)malloc((size_t)cpus * sizeof(int));
        g->dist = (int *)calloc((size_t)(g->max_node + 1) * (size_t)(g->max_node + 1), sizeof(int));
        if (g->cpu_node == NULL || g->dist == NULL) {
            numa_free_cpumask(cm);
            return ZENITH_NUMA_E_ALLOC;
        }
        for (c = 0; c < cpus; c++) g->cpu_node[c] = -1;
        for (n = 0; n <= g->max_node; n++) {
            int m;
            if (!numa_bitmask_isbitset(numa_nodes_ptr, (unsigned)n)) continue;
            g->nodes.bits[n / 64] |= (uint64_t)1 << (n % 64);
            g->node_count++;
            if (numa_node_to_cpus(n, cm) == 0)
                for (i = 0; i < cpus && i < (int)cm->size; i++)
                    if (numa_bitmask_isbitset(cm, (unsigned)i)) g->cpu_node[i] = n;
            for (m = 0; m <= g->max_node; m++)
                if (numa_bitmask_isbitset(numa_nodes_ptr, (unsigned)m))
                    g->dist[n * (g->max_node + 1) + m] = numa_distance(n, m);
        }
        numa_free_cpumask(cm);
        {
            struct bitmask *mems = numa_get_mems_allowed();
            if (mems) {
                for (n = 0; n <= g->max_node && n < (int)mems->size; n++)
                    if (numa_bitmask_isbitset(mems, (unsigned)n)) g->mems.bits[n / 64] |= (uint64_t)1 << (n % 64);
                numa_bitmask_free(mems);
            } else {
                g->mems = g->nodes;
            }
        }
        if (g->node_count == 0) { /* sysfs without nodes: one node */
            g->node_count = 1;
            g->nodes.bits[0] = g->mems.bits[0] = 1;
            for (c = 0; c < cpus; c++) g->cpu_node[c] = 0;
            g->dist[0] = 10;
        }
    } else { /* one node: 0, with every CPU */
        g->max_node = 0;
        g->node_count = 1;
        g->cpu_node = (int *)malloc((size_t)cpus * sizeof(int));
        g->dist = (int *)malloc(sizeof(int));
        if (g->cpu_node == NULL || g->dist == NULL) return ZENITH_NUMA_E_ALLOC;
        for (c = 0; c < cpus; c++) g->cpu_node[c] = 0;
        g->dist[0] = 10;
        g->nodes.bits[0] = g->mems.bits[0] = 1;
    }
    g->ncpus = cpus;
    /* the allowed CPUs: the kernel wants a mask at least as wide as its own */
    for (setcpus = cpus < 1024 ? 1024u : (size_t)cpus;; setcpus *= 2) {
        g->allowed = CPU_ALLOC(setcpus);
        if (g->allowed == NULL) return ZENITH_NUMA_E_ALLOC;
        g->allowed_size = CPU_ALLOC_SIZE(setcpus);
        if (sched_getaffinity(getpid(), g->allowed_size, g->allowed) == 0) break;
        CPU_FREE(g->allowed);
        g->allowed = NULL;
        if (errno != EINVAL || setcpus > ((size_t)1 << 20)) return ZENITH_NUMA_E_ALLOC;
    }
    return 0;
}

ZENITH_NUMA_API int zenith_numa_init(void) {
    int rc = 0;
    pthread_mutex_lock(&zenith_numa__lock);
    if (!__atomic_load_n(&zenith_numa__ready, __ATOMIC_RELAXED)) {
        rc = zenith_numa__build(&zenith_numa__g);
        if (rc != 0) {
            zenith_numa__free_state(&zenith_numa__g);
            pthread_mutex_unlock(&zenith_numa__lock);
            return rc;
        }
        __atomic_store_n(&zenith_numa__ready, 1, __ATOMIC_RELEASE);
    }
    zenith_numa__refs++;
    rc = zenith_numa__g.available ? 0 : ZENITH_NUMA_E_UNAVAILABLE;
    pthread_mutex_unlock(&zenith_numa__lock);
    return rc;
}

ZENITH_NUMA_API void zenith_numa_cleanup(void) {
    pthread_mutex_lock(&zenith_numa__lock);
    if (zenith_numa__refs > 0 && --zenith_numa__refs == 0) {
        __atomic_store_n(&zenith_numa__ready, 0, __ATOMIC_RELEASE);
        zenith_numa__free_state(&zenith_numa__g);
    }
    pthread_mutex_unlock(&zenith_numa__lock);
}

/* The state, built on first use if no init ran (kept until a matching init/cleanup pair ends it
   or the process exits). NULL only if building it failed (out of memory). */
static const zenith_numa__state *zenith_numa__get(void) {
    if (__atomic_load_n(&zenith_numa__ready, __ATOMIC_ACQUIRE)) return &zenith_numa__g;
    pthread_mutex_lock(&zenith_numa__lock);
    if (!__atomic_load_n(&zenith_numa__ready, __ATOMIC_RELAXED)) {
        if (zenith_numa__build(&zenith_numa__g) == 0)
            __atomic_store_n(&zenith_numa__ready, 1, __ATOMIC_RELEASE);
        else
            zenith_numa__free_state(&zenith_numa__g);
    }
    pthread_mutex_unlock(&zenith_numa__lock);
    return __atomic_load_n(&zenith_numa__ready, __ATOMIC_ACQUIRE) ? &zenith_numa__g : NULL;
}

static int zenith_numa__is_node(const zenith_numa__state *g, int node) {
    return node >= 0 && node <= g->max_node && zenith_numa__in_set(&g->nodes, node);
}

ZENITH_NUMA_API int zenith_numa_available(void) {
    const zenith_numa__state *g = zenith_numa__get();
    return g ? g->available : 0;
}

ZENITH_NUMA_API int zenith_numa_node_count(void) {
    const zenith_numa__state *g = zenith_numa__get();
    return g ? g->node_count : 1;
}

ZENITH_NUMA_API int zenith_numa_max_node(void) {
    const zenith_numa__state *g = zenith_numa__get();
    return g ? g->max_node : 0;
}

ZENITH_NUMA_API int zenith_numa_cpu_count(void) {
    const zenith_numa__state *g = zenith_numa__get();
    return g ? g->ncpus : 1;
}

ZENITH_NUMA_API int zenith_numa_node_of_cpu(int cpu) {
    const zenith_numa__state *g = zenith_numa__get();
    if (g == NULL || cpu < 0 || cpu >= g->ncpus || g->cpu_node[cpu] < 0) return ZENITH_NUMA_E_INVALID_CPU;
    return g->cpu_node[cpu];
}

ZENITH_NUMA_API int zenith_numa_current_cpu(void) {
    unsigned cpu = 0;
    if (syscall(SYS_getcpu, &cpu, NULL, NULL) != 0) return ZENITH_NUMA_E_INVALID_CPU;
    return (int)cpu;
}

ZENITH_NUMA_API int zenith_numa_current_node(void) {
    const zenith_numa__state *g = zenith_numa__get();
    unsigned cpu = 0, node = 0;
    if (g == NULL || !g->available) return 0;
    if (syscall(SYS_getcpu, &cpu, &node, NULL) != 0) return zenith_numa_node_of_cpu((int)cpu);
    return (int)node;
}

ZENITH_NUMA_API int zenith_numa_distance(int a, int b) {
    const zenith_numa__state *g = zenith_numa__get();
    if (g == NULL || !zenith_numa__is_node(g, a) || !zenith_numa__is_node(g, b)) return ZENITH_NUMA_E_INVALID_NODE;
    return g->dist[a * (g->max_node + 1) + b];
}

ZENITH_NUMA_API int zenith_numa_node_memory(int node, uint64_t *total, uint64_t *free_bytes) {
    const zenith_numa__state *g = zenith_numa__get();
    long long t, f = 0;
    if (g == NULL || !zenith_numa__is_node(g, node)) return ZENITH_NUMA_E_INVALID_NODE;
    if (g->available) {
        t = numa_node_size64(node, &f);
        if (t < 0) t = f = 0; /* a node without memory */
    } else {
        struct sysinfo si;
        if (sysinfo(&si) != 0) return ZENITH_NUMA_E_UNAVAILABLE;
        t = (long long)si.totalram * (long long)si.mem_unit;
        f = (long long)si.freeram * (long long)si.mem_unit;
    }
    if (total) *total = (uint64_t)t;
    if (free_bytes) *free_bytes = (uint64_t)(f < 0 ? 0 : f);
    return 0;
}

ZENITH_NUMA_API int zenith_numa_topology_get(zenith_numa_topology *t) {
    const zenith_numa__state *g = zenith_numa__get();
    int n, c, i = 0, k = 0, cpus = 0;
    if (t == NULL) return ZENITH_NUMA_E_NULL;
    if (g == NULL) return ZENITH_NUMA_E_ALLOC;
    for (c = 0; c < g->ncpus; c++) cpus += g->cpu_node[c] >= 0;
    t->node_count = g->node_count;
    t->cpu_count = cpus;
    t->reserved_ = 0;
    if (t->nodes_cap < g->node_count || t->cpus_cap < cpus || t->distances_cap < g->node_count * g->node_count ||
        t->nodes == NULL || t->cpus == NULL || t->distances == NULL)
        return ZENITH_NUMA_E_TOO_SMALL;
    for (n = 0; n <= g->max_node; n++) {
        zenith_numa_node_info *ni;
        if (!zenith_numa__in_set(&g->nodes, n)) continue;
        ni = &t->nodes[i++];
        memset(ni, 0, sizeof *ni);
        ni->id = n;
        ni->cpu_first = k;
        for (c = 0; c < g->ncpus; c++)
            if (g->cpu_node[c] == n) t->cpus[k++] = c;
        ni->cpu_count = k - ni->cpu_first;
        zenith_numa_node_memory(n, &ni->mem_total, &ni->mem_free);
    }
    for (i = 0; i < g->node_count; i++)
        for (k = 0; k < g->node_count; k++)
            t->distances[i * g->node_count + k] = zenith_numa_distance(t->nodes[i].id, t->nodes[k].id);
    return 0;
}

/* ---- allocation ---------------------------------------------------------------------------------- */

static void *zenith_numa__fail(int code) {
    zenith_numa__last = code;
    return NULL;
}

/* Maps size bytes and applies policy mode over set (mode < 0: none). */
static void *zenith_numa__map(size_t size, int mode, const zenith_numa_nodeset *set) {
    size_t page = (size_t)sysconf(_SC_PAGESIZE), len;
    void *m;
    if (size == 0 || size > SIZE_MAX / 2) return zenith_numa__fail(ZENITH_NUMA_E_INVALID_SIZE);
    len = (size + page - 1) & ~(page - 1);
    m = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (m == MAP_FAILED) return zenith_numa__fail(ZENITH_NUMA_E_ALLOC);
    if (mode >= 0 && mbind(m, len, mode, set ? (const unsigned long *)(const void *)set->bits : NULL,
                           set ? (unsigned long)ZENITH_NUMA_MAX_NODES + 1u : 0u, 0u) != 0) {
        munmap(m, len);
        return zenith_numa__fail(ZENITH_NUMA_E_BIND);
    }
    zenith_numa__last = 0;
    return m;
}

/* Checks a node set for allocation: non-empty, every node allowed. */
static int zenith_numa__check_mems(const zenith_numa__state *g, const zenith_numa_nodeset *set) {
    int w, any = 0;
    for (w = 0; w < ZENITH_NUMA_MAX_NODES / 64; w++) {
        if (set->bits[w] & ~g->mems.bits[w]) return ZENITH_NUMA_E_INVALID_NODE;
        any |= set->bits[w] != 0;
    }
    return any ? 0 : ZENITH_NUMA_E_INVALID_NODE;
}

ZENITH_NUMA_API void *zenith_numa_alloc_onnode(size_t size, int node) {
    const zenith_numa__state *g = zenith_numa__get();
    zenith_numa_nodeset one;
    if (g == NULL) return zenith_numa__fail(ZENITH_NUMA_E_ALLOC);
    if (!zenith_numa__is_node(g, node) || !zenith_numa__in_set(&g->mems, node))
        return zenith_numa__fail(ZENITH_NUMA_E_INVALID_NODE);
    if (!g->available) return zenith_numa__map(size, -1, NULL);
    memset(&one, 0, sizeof one);
    one.bits[node / 64] = (uint64_t)1 << (node % 64);
    return zenith_numa__map(size, MPOL_BIND, &one);
}

ZENITH_NUMA_API void *zenith_numa_alloc_local(size_t size) {
    const zenith_numa__state *g = zenith_numa__get();
    if (g == NULL) return zenith_numa__fail(ZENITH_NUMA_E_ALLOC);
    return zenith_numa__map(size, g->available ? MPOL_LOCAL : -1, NULL);
}

ZENITH_NUMA_API void *zenith_numa_alloc_interleaved(size_t size) {
    const zenith_numa__state *g = zenith_numa__get();
    if (g == NULL) return zenith_numa__fail(ZENITH_NUMA_E_ALLOC);
    return zenith_numa__map(size, g->available ? MPOL_INTERLEAVE : -1, &g->mems);
}

ZENITH_NUMA_API void *zenith_numa_alloc_interleaved_nodes(size_t size, const zenith_numa_nodeset *nodes) {
    const zenith_numa__state *g = zenith_numa__get();
    int rc;
    if (nodes == NULL) return zenith_numa__fail(ZENITH_NUMA_E_NULL);
    if (g == NULL) return zenith_numa__fail(ZENITH_NUMA_E_ALLOC);
    if ((rc = zenith_numa__check_mems(g, nodes)) != 0) return zenith_numa__fail(rc);
    return zenith_numa__map(size, g->available ? MPOL_INTERLEAVE : -1, nodes);
}

ZENITH_NUMA_API int zenith_numa_free(void *ptr, size_t size) {
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    if (ptr == NULL) return 0;
    if (size == 0 || size > SIZE_MAX / 2) return ZENITH_NUMA_E_INVALID_SIZE;
    if ((uintptr_t)ptr % page) return ZENITH_NUMA_E_INVALID_ARG;
    return munmap(ptr, (size + page - 1) & ~(page - 1)) == 0 ? 0 : ZENITH_NUMA_E_INVALID_ARG;
}

ZENITH_NUMA_API int zenith_numa_last_error(void) { return zenith_numa__last; }

/* ---- thread binding ------------------------------------------------------------------------------ */

static int zenith_numa__set_affinity(const zenith_numa__state *g, cpu_set_t *set) {
    int rc = pthread_setaffinity_np(pthread_self(), g->allowed_size, set);
    CPU_FREE(set);
    return rc == 0 ? 0 : ZENITH_NUMA_E_BIND;
}

ZENITH_NUMA_API int zenith_numa_bind_thread_to_node(int node) {
    const zenith_numa__state *g = zenith_numa__get();
    cpu_set_t *set;
    int c, any = 0;
    if (g == NULL) return ZENITH_NUMA_E_BIND;
    if (!zenith_numa__is_node(g, node)) return ZENITH_NUMA_E_INVALID_NODE;
    if ((set = CPU_ALLOC(g->allowed_size * 8)) == NULL) return ZENITH_NUMA_E_BIND;
    CPU_ZERO_S(g->allowed_size, set);
    for (c = 0; c < g->ncpus; c++)
        if (g->cpu_node[c] == node && CPU_ISSET_S((size_t)c, g->allowed_size, g->allowed)) {
            CPU_SET_S((size_t)c, g->allowed_size, set);
            any = 1;
        }
    if (!any) {
        CPU_FREE(set);
        return ZENITH_NUMA_E_INVALID_NODE;
    }
    return zenith_numa__set_affinity(g, set);
}

ZENITH_NUMA_API int zenith_numa_bind_thread_to_cpu(int cpu) {
    const zenith_numa__state *g = zenith_numa__get();
    cpu_set_t *set;
    if (g == NULL) return ZENITH_NUMA_E_BIND;
    if (cpu < 0 || (size_t)cpu >= g->allowed_size * 8 || !CPU_ISSET_S((size_t)cpu, g->allowed_size, g->allowed))
        return ZENITH_NUMA_E_INVALID_CPU;
    if ((set = CPU_ALLOC(g->allowed_size * 8)) == NULL) return ZENITH_NUMA_E_BIND;
    CPU_ZERO_S(g->allowed_size, set);
    CPU_SET_S((size_t)cpu, g->allowed_size, set);
    return zenith_numa__set_affinity(g, set);
}

ZENITH_NUMA_API int zenith_numa_unbind_thread(void) {
    const zenith_numa__state *g = zenith_numa__get();
    if (g == NULL) return ZENITH_NUMA_E_BIND;
    return pthread_setaffinity_np(pthread_self(), g->allowed_size, g->allowed) == 0 ? 0 : ZENITH_NUMA_E_BIND;
}

/* ---- memory policy ----------------------------------------------------------------------------------- */

ZENITH_NUMA_API int zenith_numa_set_policy(int policy, const zenith_numa_nodeset *nodes) {
    const zenith_numa__state *g = zenith_numa__get();
    int count = nodes ? zenith_numa_nodeset_count(nodes) : 0, rc;
    if (policy < ZENITH_NUMA_POLICY_DEFAULT || policy > ZENITH_NUMA_POLICY_PREFERRED_MANY)
        return ZENITH_NUMA_E_INVALID_ARG;
    if (g == NULL) return ZENITH_NUMA_E_BIND;
    if (policy == ZENITH_NUMA_POLICY_DEFAULT || policy == ZENITH_NUMA_POLICY_LOCAL) {
        if (count) return ZENITH_NUMA_E_INVALID_ARG;
        if (!g->available) return 0;
        return set_mempolicy(policy, NULL, 0) == 0 ? 0 : ZENITH_NUMA_E_BIND;
    }
    if (nodes == NULL) return ZENITH_NUMA_E_NULL;
    if (policy == ZENITH_NUMA_POLICY_PREFERRED && count != 1) return ZENITH_NUMA_E_INVALID_ARG;
    if ((rc = zenith_numa__check_mems(g, nodes)) != 0) return rc;
    if (!g->available) return ZENITH_NUMA_E_UNAVAILABLE;
    return set_mempolicy(policy, (const unsigned long *)(const void *)nodes->bits,
                         (unsigned long)ZENITH_NUMA_MAX_NODES + 1u) == 0
               ? 0
               : ZENITH_NUMA_E_BIND;
}

ZENITH_NUMA_API int zenith_numa_set_preferred(int node) {
    zenith_numa_nodeset one;
    if (node < 0 || node >= ZENITH_NUMA_MAX_NODES) return ZENITH_NUMA_E_INVALID_NODE;
    memset(&one, 0, sizeof one);
    one.bits[node / 64] = (uint64_t)1 << (node % 64);
    return zenith_numa_set_policy(ZENITH_NUMA_POLICY_PREFERRED, &one);
}

ZENITH_NUMA_API int zenith_numa_get_policy(int *policy, zenith_numa_nodeset *nodes) {
    const zenith_numa__state *g = zenith_numa__get();
    zenith_numa_nodeset got;
    int mode = 0;
    if (policy == NULL) return ZENITH_NUMA_E_NULL;
    memset(&got, 0, sizeof got);
    if (g != NULL && g->available &&
        get_mempolicy(&mode, (unsigned long *)(void *)got.bits, (unsigned long)ZENITH_NUMA_MAX_NODES + 1u, NULL, 0) !=
            0)
        return ZENITH_NUMA_E_BIND;
    mode &= ~((1 << 15) | (1 << 14) | (1 << 13)); /* MPOL_F_STATIC_NODES, _RELATIVE_NODES, _NUMA_BALANCING */
    /* older kernels report LOCAL as PREFERRED with no node */
    if (mode == ZENITH_NUMA_POLICY_PREFERRED && zenith_numa_nodeset_count(&got) == 0) mode = ZENITH_NUMA_POLICY_LOCAL;
    *policy = mode;
    if (nodes) *nodes = got;
    return 0;
}

/* ---- where memory is ------------------------------------------------------------------------------------- */

/* Residency of `pages` pages from page-aligned base into vec: 0 or ZENITH_NUMA_E_NOT_MAPPED. */
static int zenith_numa__resident(const void *base, size_t pages, size_t page, unsigned char *vec) {
    if (mincore((void *)(uintptr_t)base, pages * page, vec) == 0) return 0;
    return ZENITH_NUMA_E_NOT_MAPPED;
}

ZENITH_NUMA_API int zenith_numa_node_of_address(const void *addr) {
    const zenith_numa__state *g = zenith_numa__get();
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    const void *base = (const void *)((uintptr_t)addr & ~(uintptr_t)(page - 1));
    unsigned char vec = 0;
    int node = -1, rc;
    if (addr == NULL) return ZENITH_NUMA_E_NULL;
    if ((rc = zenith_numa__resident(base, 1, page, &vec)) != 0) return rc;
    if (!(vec & 1)) return ZENITH_NUMA_E_NOT_PRESENT;
    if (g == NULL || !g->available) return 0;
    if (get_mempolicy(&node, NULL, 0, (void *)(uintptr_t)addr, MPOL_F_NODE | MPOL_F_ADDR) != 0)
        return ZENITH_NUMA_E_NOT_MAPPED;
    return node;
}

ZENITH_NUMA_API int zenith_numa_placement_of(const void *addr, size_t len, int node, zenith_numa_placement *out) {
    enum { CHUNK = 256 };
    const zenith_numa__state *g = zenith_numa__get();
    size_t page = (size_t)sysconf(_SC_PAGESIZE), pages, done = 0;
    uintptr_t base;
    void *ptrs[CHUNK];
    int status[CHUNK];
    unsigned char vec[CHUNK];
    if (addr == NULL || out == NULL) return ZENITH_NUMA_E_NULL;
    if (len == 0 || len > SIZE_MAX / 2) return ZENITH_NUMA_E_INVALID_SIZE;
    if (g == NULL || !zenith_numa__is_node(g, node)) return ZENITH_NUMA_E_INVALID_NODE;
    base = (uintptr_t)addr & ~(uintptr_t)(page - 1);
    pages = ((uintptr_t)addr + len - base + page - 1) / page;
    memset(out, 0, sizeof *out);
    out->pages = pages;
    while (done < pages) {
        size_t n = pages - done < (size_t)CHUNK ? pages - done : (size_t)CHUNK, i;
        int rc = zenith_numa__resident((const void *)(base + done * page), n, page, vec);
        if (rc != 0) return rc;
        for (i = 0; i < n; i++) {
            ptrs[i] = (void *)(base + (done + i) * page);
            status[i] = (vec[i] & 1) ? 0 : -ENOENT;
        }
        if (g->available && numa_move_pages(0, n, ptrs, NULL, status, 0) != 0) return ZENITH_NUMA_E_NOT_MAPPED;
        for (i = 0; i < n; i++) {
            if (status[i] < 0)
                out->absent++;
            else if (status[i] == node)
                out->on_node++;
            else
                out->elsewhere++;
        }
        done += n;
    }
    return 0;
}

/* ---- node sets -------------------------------------------------------------------------------------------- */

ZENITH_NUMA_API void zenith_numa_nodeset_clear(zenith_numa_nodeset *set) {
    if (set) memset(set, 0, sizeof *set);
}

ZENITH_NUMA_API int zenith_numa_nodeset_add(zenith_numa_nodeset *set, int node) {
    if (set == NULL) return ZENITH_NUMA_E_NULL;
    if (node < 0 || node >= ZENITH_NUMA_MAX_NODES) return ZENITH_NUMA_E_INVALID_NODE;
    set->bits[node / 64] |= (uint64_t)1 << (node % 64);
    return 0;
}

ZENITH_NUMA_API int zenith_numa_nodeset_remove(zenith_numa_nodeset *set, int node) {
    if (set == NULL) return ZENITH_NUMA_E_NULL;
    if (node < 0 || node >= ZENITH_NUMA_MAX_NODES) return ZENITH_NUMA_E_INVALID_NODE;
    set->bits[node / 64] &= ~((uint64_t)1 << (node % 64));
    return 0;
}

ZENITH_NUMA_API int zenith_numa_nodeset_has(const zenith_numa_nodeset *set, int node) {
    return set != NULL && zenith_numa__in_set(set, node);
}

ZENITH_NUMA_API int zenith_numa_nodeset_count(const zenith_numa_nodeset *set) {
    int w, n = 0;
    if (set == NULL) return 0;
    for (w = 0; w < ZENITH_NUMA_MAX_NODES / 64; w++) n += __builtin_popcountll(set->bits[w]);
    return n;
}

ZENITH_NUMA_API int zenith_numa_allowed_nodes(zenith_numa_nodeset *out) {
    const zenith_numa__state *g = zenith_numa__get();
    if (out == NULL) return ZENITH_NUMA_E_NULL;
    if (g == NULL) return ZENITH_NUMA_E_ALLOC;
    *out = g->mems;
    return 0;
}

/* ---- errors and version ----------------------------------------------------------------------------------- */

ZENITH_NUMA_API const char *zenith_numa_strerror(int code) {
    switch (code) {
#define ZENITH_NUMA__CASE(name, value, text) \
    case value: return text;
        ZENITH_NUMA_ERROR_LIST(ZENITH_NUMA__CASE)
#undef ZENITH_NUMA__CASE
        default: return "unknown error code";
    }
}

ZENITH_NUMA_API const char *zenith_numa_errname(int code) {
    switch (code) {
#define ZENITH_NUMA__CASE(name, value, text) \
    case value: return #name;
        ZENITH_NUMA_ERROR_LIST(ZENITH_NUMA__CASE)
#undef ZENITH_NUMA__CASE
        default: return "ZENITH_NUMA_E_UNKNOWN";
    }
}

ZENITH_NUMA_API long zenith_numa_version(void) { return ZENITH_NUMA_VERSION; }

#ifdef __cplusplus
}
#endif

#endif /* ZENITH_NUMA_IMPLEMENTATION */

/* ---- glue implementation: where zenith_numa.h is implemented and zenith.h is included -------- */
#if (defined(ZENITH_NUMA_IMPLEMENTATION) || defined(ZENITH_IMPLEMENTATION)) && defined(ZENITH_H_INCLUDED) && \
    !defined(ZENITH_NUMA_GLUE_IMPLEMENTED)
#define ZENITH_NUMA_GLUE_IMPLEMENTED
#ifdef __cplusplus
extern "C" {
#endif

ZENITH_NUMA_API int zenith_numa_pool_placement(const zenith_pool *pool, int node, zenith_numa_placement *out) {
    zenith_pool_info info;
    if (pool == NULL || out == NULL) return ZENITH_NUMA_E_NULL;
    if (zenith_pool_get_info(pool, &info) != 0) return ZENITH_NUMA_E_NULL;
    return zenith_numa_placement_of(info.base, info.slab_size, node, out);
}

ZENITH_NUMA_API int zenith_numa_pool_config_on_node(zenith_pool_config *cfg, int node) {
    zenith_numa_nodeset allowed;
    if (cfg == NULL) return ZENITH_NUMA_E_NULL;
    if (zenith_numa_allowed_nodes(&allowed) != 0 || !zenith_numa_nodeset_has(&allowed, node))
        return ZENITH_NUMA_E_INVALID_NODE;
    cfg->flags |= ZENITH_POOL_NUMA_NODE;
    cfg->numa_node = node;
    return 0;
}

ZENITH_NUMA_API int zenith_numa_server_config_on_cpu(zenith_server_config *cfg, int cpu) {
    int node;
    if (cfg == NULL) return ZENITH_NUMA_E_NULL;
    if ((node = zenith_numa_node_of_cpu(cpu)) < 0) return node;
    cfg->flags |= ZENITH_SERVER_PIN_CPU | ZENITH_SERVER_NUMA_NODE;
    cfg->cpu = (uint32_t)cpu;
    cfg->numa_node = node;
    return 0;
}

#ifdef __cplusplus
}
#endif
#endif /* glue implementation */

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
