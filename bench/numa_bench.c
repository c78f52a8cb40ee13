/* numa_bench.c -- cost of zenith_numa's allocation calls next to malloc+mbind and libnuma, and
   memory read bandwidth on node-local vs interleaved memory.

   Allocation: alloc + free (untouched) and alloc + first touch of every page + free, for 4 KiB,
   64 KiB and 2 MiB, median of 15 rounds of N operations, side by side in one run; ratios
   against malloc+mbind (aligned_alloc, then mbind MPOL_BIND of its pages, then free), which is
   what a program without a NUMA allocator writes.
   Bandwidth: 256 MiB read with 8-byte loads, median of 7 passes, on memory bound to the
   current node vs interleaved over every allowed node. With one node both are the same
   memory; the numbers are printed with that said.

   Build: make bench-build (or: cc -O2 bench/numa_bench.c -I. -lnuma -pthread -o numa_bench)
   Run:   build/numa_bench [--quick] */
#define ZENITH_NUMA_IMPLEMENTATION
#include "zenith_numa.h"

#include <numa.h>
#include <numaif.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, int n) {
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return v[n / 2];
}

enum { ZN_ONNODE, ZN_LOCAL, ZN_INTERLEAVED, LIBNUMA_ONNODE, MALLOC_MBIND, KINDS };
static const char *kind_name[KINDS] = { "zenith_numa_alloc_onnode", "zenith_numa_alloc_local",
                                        "zenith_numa_alloc_interleaved", "libnuma numa_alloc_onnode", "malloc+mbind" };

static volatile unsigned char sink;

static void *do_alloc(int kind, size_t size, int node) {
    switch (kind) {
        case ZN_ONNODE: return zenith_numa_alloc_onnode(size, node);
        case ZN_LOCAL: return zenith_numa_alloc_local(size);
        case ZN_INTERLEAVED: return zenith_numa_alloc_interleaved(size);
        case LIBNUMA_ONNODE: return numa_alloc_onnode(size, node);
        default: {
            unsigned long mask = 1ul << node;
            void *p = aligned_alloc(4096, size);
            if (p && mbind(p, size, MPOL_BIND, &mask, sizeof mask * 8 + 1, 0) != 0) {
                free(p);
                return NULL;
            }
            return p;
        }
    }
}

static void do_free(int kind, void *p, size_t size) {
    if (kind == LIBNUMA_ONNODE)
        numa_free(p, size);
    else if (kind == MALLOC_MBIND)
        free(p);
    else
        zenith_numa_free(p, size);
}

/* ns per alloc+free (touch: and every page written once in between) */
static double alloc_cost(int kind, size_t size, int touch, int ops, int rounds, int node) {
    double v[32];
    int r, i;
    for (r = 0; r < rounds; r++) {
        double t0 = now_ns();
        for (i = 0; i < ops; i++) {
            unsigned char *p = (unsigned char *)do_alloc(kind, size, node);
            size_t off;
            if (p == NULL) {
                fprintf(stderr, "numa_bench: %s failed\n", kind_name[kind]);
                exit(1);
            }
            if (touch)
                for (off = 0; off < size; off += 4096) p[off] = (unsigned char)i;
            sink = p[0];
            do_free(kind, p, size);
        }
        v[r] = (now_ns() - t0) / ops;
    }
    return median(v, rounds);
}

/* GB/s reading `size` bytes at p, median of passes */
static double read_bandwidth(const uint64_t *p, size_t size, int passes) {
    double v[16];
    int r;
    for (r = 0; r < passes; r++) {
        size_t i, n = size / 8;
        uint64_t a = 0, b = 0, c = 0, d = 0;
        double t0 = now_ns();
        for (i = 0; i < n; i += 4) {
            a += p[i];
            b += p[i + 1];
            c += p[i + 2];
            d += p[i + 3];
        }
        v[r] = (double)size / (now_ns() - t0);
        sink = (unsigned char)(a + b + c + d);
    }
    return median(v, passes);
}

int main(int argc, char **argv) {
    static const size_t sizes[] = { 4096, 65536, 2u << 20 };
    int quick = argc > 1 && strcmp(argv[1], "--quick") == 0;
    int rounds = quick ? 5 : 15, node, k, t;
    size_t s, bw_size = quick ? (64u << 20) : (256u << 20);
    int init = zenith_numa_init();

    node = zenith_numa_current_node();
    printf("numa_bench: %d node(s), %d CPU(s), NUMA %s; allocations on node %d (the current one)\n",
           zenith_numa_node_count(), zenith_numa_cpu_count(), init == 0 ? "available" : "unavailable", node);
    if (init != 0 || numa_available() < 0) {
        printf("numa_bench: the kernel has no NUMA: mbind and libnuma's allocator do not apply\n");
        return 0;
    }
    printf("\nallocation, ns per alloc+free (median of %d rounds); ratio = malloc+mbind / this\n", rounds);
    printf("%-32s %8s %12s %7s %14s %7s\n", "call", "size", "untouched", "ratio", "touched pages", "ratio");
    for (s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
        double base[2], cost[KINDS][2];
        int ops = sizes[s] >= (2u << 20) ? 200 : 2000;
        if (quick) ops /= 4;
        for (t = 0; t < 2; t++)
            for (k = 0; k < KINDS; k++) cost[k][t] = alloc_cost(k, sizes[s], t, ops, rounds, node);
        base[0] = cost[MALLOC_MBIND][0];
        base[1] = cost[MALLOC_MBIND][1];
        for (k = 0; k < KINDS; k++)
            printf("%-32s %7zuK %12.0f %6.2fx %14.0f %6.2fx\n", kind_name[k], sizes[s] / 1024, cost[k][0],
                   base[0] / cost[k][0], cost[k][1], base[1] / cost[k][1]);
    }

    {
        uint64_t *local = (uint64_t *)zenith_numa_alloc_onnode(bw_size, node);
        uint64_t *inter = (uint64_t *)zenith_numa_alloc_interleaved(bw_size);
        double bl, bi;
        if (!local || !inter) {
            fprintf(stderr, "numa_bench: %zu MiB for the bandwidth test: %s\n", bw_size >> 20,
                    zenith_numa_strerror(zenith_numa_last_error()));
            return 1;
        }
        memset(local, 1, bw_size);
        memset(inter, 1, bw_size);
        bl = read_bandwidth(local, bw_size, 7);
        bi = read_bandwidth(inter, bw_size, 7);
        printf("\nread bandwidth, %zu MiB, median of 7 passes\n", bw_size >> 20);
        printf("  on node %d (local)            %6.2f GB/s\n", node, bl);
        printf("  interleaved over %d node(s)   %6.2f GB/s   (local / interleaved = %.2fx)\n", zenith_numa_node_count(),
               bi, bl / bi);
        if (zenith_numa_node_count() < 2)
            printf("  one node: local and interleaved are the same memory here; the ratio means something"
                   " only with two or more nodes\n");
        zenith_numa_free(local, bw_size);
        zenith_numa_free(inter, bw_size);
    }
    zenith_numa_cleanup();
    return 0;
}
