/* zenith_numa.h from many threads at once: the implicit first init races safely, the topology
   reads agree, the per-thread last error and binding stay per thread. Also runs under TSan. */
#define ZENITH_NUMA_IMPLEMENTATION
#include "zenith_numa.h"

#include "criterion_compat.h" /* Criterion (or its TSan stand-in) */

#include <pthread.h>
#include <sched.h>
#include <string.h>
#include <unistd.h>

#define THREADS 8

typedef struct {
    int node_count, max_node, cpu_count, dist00, node_of_cpu0;
    int fail_code, ok_code;
    int bound_cpu, seen_cpu;
    int allocs;
} result_t;

static pthread_barrier_t start;

/* Every thread makes its first call at the same moment, before any init. */
static void *reader(void *arg) {
    result_t *r = (result_t *)arg;
    pthread_barrier_wait(&start);
    r->node_count = zenith_numa_node_count();
    r->max_node = zenith_numa_max_node();
    r->cpu_count = zenith_numa_cpu_count();
    r->dist00 = zenith_numa_distance(0, 0);
    r->node_of_cpu0 = zenith_numa_node_of_cpu(0);
    return NULL;
}

Test(numa_threads, implicit_init_races_safely_and_all_agree, .timeout = 20) {
    pthread_t t[THREADS];
    result_t r[THREADS];
    int i;
    memset(r, 0, sizeof r);
    cr_assert_eq(pthread_barrier_init(&start, NULL, THREADS), 0);
    for (i = 0; i < THREADS; i++) cr_assert_eq(pthread_create(&t[i], NULL, reader, &r[i]), 0);
    for (i = 0; i < THREADS; i++) cr_assert_eq(pthread_join(t[i], NULL), 0);
    pthread_barrier_destroy(&start);
    for (i = 0; i < THREADS; i++) {
        cr_assert_geq(r[i].node_count, 1);
        cr_assert_eq(r[i].node_count, r[0].node_count, "thread %d", i);
        cr_assert_eq(r[i].max_node, r[0].max_node);
        cr_assert_eq(r[i].cpu_count, (int)sysconf(_SC_NPROCESSORS_CONF));
        cr_assert_eq(r[i].dist00, 10);
        cr_assert_eq(r[i].node_of_cpu0, 0);
    }
}

/* Half the threads fail their allocations, half succeed, all at once: each sees its own code;
   each binds itself to a different CPU and sees only that. */
static void *worker(void *arg) {
    result_t *r = (result_t *)arg;
    int k;
    pthread_barrier_wait(&start);
    for (k = 0; k < 2000; k++) {
        if (r->fail_code) {
            if (zenith_numa_alloc_onnode(0, 0) != NULL) return NULL;
            if (zenith_numa_last_error() != ZENITH_NUMA_E_INVALID_SIZE) return NULL;
        } else {
            unsigned char *p = (unsigned char *)zenith_numa_alloc_onnode(4096, 0);
            if (p == NULL || zenith_numa_last_error() != 0) return NULL;
            p[0] = (unsigned char)k;
            if (zenith_numa_free(p, 4096) != 0) return NULL;
        }
        r->allocs++;
    }
    if (zenith_numa_bind_thread_to_cpu(r->bound_cpu) != 0) return NULL;
    sched_yield();
    r->seen_cpu = zenith_numa_current_cpu();
    zenith_numa_unbind_thread();
    return NULL;
}

Test(numa_threads, last_error_and_binding_are_per_thread, .timeout = 30) {
    pthread_t t[THREADS];
    result_t r[THREADS];
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    int i;
    cr_assert_geq(zenith_numa_init(), ZENITH_NUMA_E_UNAVAILABLE);
    memset(r, 0, sizeof r);
    cr_assert_eq(pthread_barrier_init(&start, NULL, THREADS), 0);
    for (i = 0; i < THREADS; i++) {
        r[i].fail_code = i % 2;
        r[i].bound_cpu = (int)(i % cpus);
        r[i].seen_cpu = -1;
        cr_assert_eq(pthread_create(&t[i], NULL, worker, &r[i]), 0);
    }
    for (i = 0; i < THREADS; i++) cr_assert_eq(pthread_join(t[i], NULL), 0);
    pthread_barrier_destroy(&start);
    for (i = 0; i < THREADS; i++) {
        cr_assert_eq(r[i].allocs, 2000, "thread %d saw another thread's code after %d calls", i, r[i].allocs);
        cr_assert_eq(r[i].seen_cpu, r[i].bound_cpu, "thread %d", i);
    }
    zenith_numa_cleanup();
}
