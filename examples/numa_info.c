/* numa_info.c -- the machine's NUMA topology, printed the way `numactl --hardware` prints it.

   Everything comes from zenith_numa.h: the nodes and their CPUs, memory size and free memory
   per node, and the distance matrix, read with one zenith_numa_topology_get call into arrays
   this program owns (sized by a first call that only asks for the counts).

   Needs: libnuma (Debian: libnuma-dev).
   Build: cc -O2 examples/numa_info.c -I. -lnuma -pthread -o numa_info
   Run:   ./numa_info          (compare: numactl --hardware)
   Exit status: 0, or 1 if the topology cannot be read. Without NUMA in the kernel it prints
   the one-node view (node 0 with every CPU) and says so on its first line. */
#define ZENITH_NUMA_IMPLEMENTATION
#include "zenith_numa.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* "0", "0-3", "0,2-3": ranges of ascending ids, as numactl prints the node list. */
static void print_ranges(const zenith_numa_node_info *nodes, int n) {
    int i = 0;
    while (i < n) {
        int j = i;
        while (j + 1 < n && nodes[j + 1].id == nodes[j].id + 1) j++;
        printf("%s%d", i ? "," : "", nodes[i].id);
        if (j > i) printf("-%d", nodes[j].id);
        i = j + 1;
    }
}

int main(void) {
    zenith_numa_topology t;
    int i, j, rc, init = zenith_numa_init();

    memset(&t, 0, sizeof t);
    rc = zenith_numa_topology_get(&t); /* counts only */
    if (rc != ZENITH_NUMA_E_TOO_SMALL && rc != 0) {
        fprintf(stderr, "numa_info: %s\n", zenith_numa_strerror(rc));
        return 1;
    }
    t.nodes = calloc((size_t)t.node_count, sizeof *t.nodes);
    t.cpus = calloc((size_t)t.cpu_count + 1u, sizeof *t.cpus);
    t.distances = calloc((size_t)t.node_count * (size_t)t.node_count, sizeof *t.distances);
    t.nodes_cap = t.node_count;
    t.cpus_cap = t.cpu_count + 1;
    t.distances_cap = t.node_count * t.node_count;
    if (!t.nodes || !t.cpus || !t.distances || (rc = zenith_numa_topology_get(&t)) != 0) {
        fprintf(stderr, "numa_info: %s\n", rc ? zenith_numa_strerror(rc) : "out of memory");
        return 1;
    }

    if (init == ZENITH_NUMA_E_UNAVAILABLE) printf("(no NUMA in this kernel: the one-node view)\n");
    printf("available: %d nodes (", t.node_count);
    print_ranges(t.nodes, t.node_count);
    printf(")\n");
    for (i = 0; i < t.node_count; i++) {
        const zenith_numa_node_info *n = &t.nodes[i];
        printf("node %d cpus:", n->id);
        for (j = 0; j < n->cpu_count; j++) printf(" %d", t.cpus[n->cpu_first + j]);
        printf("\n");
        printf("node %d size: %llu MB\n", n->id, (unsigned long long)(n->mem_total >> 20));
        printf("node %d free: %llu MB\n", n->id, (unsigned long long)(n->mem_free >> 20));
    }
    printf("node distances:\n");
    printf("node ");
    for (i = 0; i < t.node_count; i++) printf("%3d ", t.nodes[i].id);
    printf("\n");
    for (i = 0; i < t.node_count; i++) {
        printf("%3d: ", t.nodes[i].id);
        for (j = 0; j < t.node_count; j++) printf("%3d ", t.distances[i * t.node_count + j]);
        printf("\n");
    }
    free(t.nodes);
    free(t.cpus);
    free(t.distances);
    zenith_numa_cleanup();
    return 0;
}
