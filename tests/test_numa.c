/* zenith_numa.h: topology against sysfs and numactl, placement, bad input, policies, binding,
   one-node mode (a kernel without NUMA, by seccomp), and the glue with zenith.h. Tests that
   need two nodes skip here with their reason and run where two exist (tools/numa-qemu). */
#define ZENITH_IMPLEMENTATION
#include "zenith.h"
#include "zenith_numa.h"

#include "criterion_compat.h" /* Criterion (or its TSan stand-in) */
#include "helpers.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <numaif.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef ZENITH_BUILD_DIR
#define ZENITH_BUILD_DIR "build"
#endif

/* ---- sysfs, read independently of the library ------------------------------------------------- */

static int read_file(const char *path, char *buf, size_t cap) {
    FILE *f = fopen(path, "r");
    size_t n;
    if (f == NULL) return -1;
    n = fread(buf, 1, cap - 1, f);
    buf[n] = 0;
    fclose(f);
    return (int)n;
}

/* Parses a sysfs list ("0-3,8,10-11") into flags[0..cap). Returns how many are set. */
static int parse_list(const char *s, unsigned char *flags, int cap) {
    int count = 0;
    memset(flags, 0, (size_t)cap);
    while (*s && *s != '\n') {
        char *end;
        long a = strtol(s, &end, 10), b = a, i;
        if (end == s) break;
        s = end;
        if (*s == '-') b = strtol(s + 1, (char **)&s, 10);
        for (i = a; i <= b && i < cap; i++) count += !flags[i], flags[i] = 1;
        if (*s == ',') s++;
    }
    return count;
}

/* The nodes sysfs lists (node/online), as flags; returns the count. */
static int sysfs_nodes(unsigned char *flags, int cap) {
    char buf[4096];
    cr_assert_gt(read_file("/sys/devices/system/node/online", buf, sizeof buf), 0, "no /sys/devices/system/node");
    return parse_list(buf, flags, cap);
}

static int two_nodes_or_skip(void) {
    int n = zenith_numa_node_count();
    if (n < 2) cr_skip("needs two NUMA nodes; this machine has %d (run it under tools/numa-qemu)", n);
    return n;
}

static int affinity_equals(const cpu_set_t *want) {
    cpu_set_t now;
    CPU_ZERO(&now);
    cr_assert_eq(sched_getaffinity(0, sizeof now, &now), 0);
    return CPU_EQUAL(&now, want);
}

/* ---- set-up and topology ------------------------------------------------------------------------ */

Test(numa, init_counts_and_cleanup, .timeout = 10) {
    cr_assert_eq(zenith_numa_init(), 0, "this kernel has NUMA");
    cr_assert_eq(zenith_numa_init(), 0, "init is counted");
    cr_assert_eq(zenith_numa_available(), 1);
    zenith_numa_cleanup();
    cr_assert_geq(zenith_numa_node_count(), 1, "still initialised after one of two cleanups");
    zenith_numa_cleanup();
    zenith_numa_cleanup(); /* one too many: a no-op */
    cr_assert_geq(zenith_numa_node_count(), 1, "a call after cleanup initialises again");
    cr_assert_eq(zenith_numa_version(), ZENITH_NUMA_VERSION);
}

Test(numa, counts_match_sysfs, .timeout = 10) {
    unsigned char nodes[ZENITH_NUMA_MAX_NODES];
    int n = sysfs_nodes(nodes, ZENITH_NUMA_MAX_NODES), max = 0, i, cpu;
    for (i = 0; i < ZENITH_NUMA_MAX_NODES; i++)
        if (nodes[i]) max = i;
    cr_assert_eq(zenith_numa_init(), 0);
    cr_assert_eq(zenith_numa_node_count(), n);
    cr_assert_eq(zenith_numa_max_node(), max);
    cr_assert_eq(zenith_numa_cpu_count(), (int)sysconf(_SC_NPROCESSORS_CONF));
    for (cpu = 0; cpu < zenith_numa_cpu_count(); cpu++) {
        char path[128];
        int node, want = -1;
        for (node = 0; node <= max; node++) {
            snprintf(path, sizeof path, "/sys/devices/system/cpu/cpu%d/node%d", cpu, node);
            if (access(path, F_OK) == 0) want = node;
        }
        cr_assert_eq(zenith_numa_node_of_cpu(cpu), want, "cpu %d", cpu);
    }
    cr_assert_eq(zenith_numa_node_of_cpu(-1), ZENITH_NUMA_E_INVALID_CPU);
    cr_assert_eq(zenith_numa_node_of_cpu(zenith_numa_cpu_count()), ZENITH_NUMA_E_INVALID_CPU);
    cr_assert_eq(zenith_numa_distance(0, 0), 10);
    cr_assert_eq(zenith_numa_distance(0, max + 1), ZENITH_NUMA_E_INVALID_NODE);
    cr_assert_eq(zenith_numa_distance(-1, 0), ZENITH_NUMA_E_INVALID_NODE);
    cr_assert_eq(zenith_numa_node_memory(max + 1, NULL, NULL), ZENITH_NUMA_E_INVALID_NODE);
    cr_assert_eq(zenith_numa_node_memory(0, NULL, NULL), 0, "both outputs nullable");
    zenith_numa_cleanup();
}

Test(numa, topology_matches_sysfs, .timeout = 10) {
    zenith_numa_node_info ni[64];
    int32_t cpus[4096], dist[64 * 64];
    zenith_numa_topology t;
    unsigned char nodes[ZENITH_NUMA_MAX_NODES], flags[4096];
    int n = sysfs_nodes(nodes, ZENITH_NUMA_MAX_NODES), i, j, total_cpus = 0;
    char path[128], buf[8192];

    memset(&t, 0, sizeof t);
    cr_assert_eq(zenith_numa_topology_get(NULL), ZENITH_NUMA_E_NULL);
    cr_assert_eq(zenith_numa_topology_get(&t), ZENITH_NUMA_E_TOO_SMALL, "counts only");
    cr_assert_eq(t.node_count, n);
    cr_assert_gt(t.cpu_count, 0);
    t.nodes = ni;
    t.cpus = cpus;
    t.distances = dist;
    t.nodes_cap = n;
    t.cpus_cap = t.cpu_count - 1;
    t.distances_cap = n * n;
    cr_assert_eq(zenith_numa_topology_get(&t), ZENITH_NUMA_E_TOO_SMALL, "one CPU short");
    t.cpus_cap = 4096;
    t.distances_cap = n * n - 1;
    cr_assert_eq(zenith_numa_topology_get(&t), ZENITH_NUMA_E_TOO_SMALL, "one distance short");
    t.distances_cap = 64 * 64;
    t.nodes_cap = 64;
    cr_assert_eq(zenith_numa_topology_get(&t), 0);

    for (i = 0; i < t.node_count; i++) {
        const zenith_numa_node_info *x = &ni[i];
        unsigned long long kb = 0;
        const char *m;
        cr_assert(nodes[x->id], "node %d is not in sysfs", x->id);
        cr_assert(i == 0 || x->id > ni[i - 1].id, "nodes in id order");
        /* CPUs: the node's cpulist */
        snprintf(path, sizeof path, "/sys/devices/system/node/node%d/cpulist", x->id);
        cr_assert_geq(read_file(path, buf, sizeof buf), 0);
        cr_assert_eq(x->cpu_count, parse_list(buf, flags, 4096), "node %d CPU count", x->id);
        for (j = 0; j < x->cpu_count; j++) cr_assert(flags[cpus[x->cpu_first + j]], "node %d cpu %d", x->id, j);
        total_cpus += x->cpu_count;
        /* memory: MemTotal of the node's meminfo, which libnuma reads too */
        snprintf(path, sizeof path, "/sys/devices/system/node/node%d/meminfo", x->id);
        cr_assert_gt(read_file(path, buf, sizeof buf), 0);
        m = strstr(buf, "MemTotal:");
        cr_assert_not_null(m);
        cr_assert_eq(sscanf(m, "MemTotal: %llu kB", &kb), 1);
        cr_assert_eq(x->mem_total, kb * 1024u, "node %d: %llu vs %llu", x->id, (unsigned long long)x->mem_total,
                     kb * 1024u);
        cr_assert_leq(x->mem_free, x->mem_total);
        cr_assert_gt(x->mem_free, 0);
        /* distances: the node's distance row */
        snprintf(path, sizeof path, "/sys/devices/system/node/node%d/distance", x->id);
        cr_assert_gt(read_file(path, buf, sizeof buf), 0);
        {
            char *s = buf;
            for (j = 0; j < t.node_count; j++) {
                long d = strtol(s, &s, 10);
                cr_assert_eq(dist[i * t.node_count + j], d, "distance %d -> %d", x->id, ni[j].id);
            }
        }
    }
    cr_assert_eq(total_cpus, t.cpu_count);
}

/* examples/numa_info prints what `numactl --hardware` prints: every line equal but the free
   memory, which moves between the two runs (within 5 %). */
Test(numa, numa_info_example_matches_numactl, .timeout = 20) {
    char a[8192], b[8192];
    FILE *f;
    size_t na, nb;
    char *la, *lb, *sa, *sb;
    int lines = 0;
    if (system("command -v numactl > /dev/null 2>&1") != 0)
        cr_skip("numactl is not installed (Debian: numactl; .ci/run installs it)");
    cr_assert_not_null(f = popen(ZENITH_BUILD_DIR "/examples/numa_info", "r"));
    na = fread(a, 1, sizeof a - 1, f);
    a[na] = 0;
    cr_assert_eq(pclose(f), 0, "numa_info failed (is it built? make examples)");
    cr_assert_not_null(f = popen("numactl --hardware", "r"));
    nb = fread(b, 1, sizeof b - 1, f);
    b[nb] = 0;
    cr_assert_eq(pclose(f), 0);
    la = strtok_r(a, "\n", &sa);
    lb = strtok_r(b, "\n", &sb);
    while (la && lb) {
        unsigned long long fa, fb;
        int node_a, node_b;
        if (sscanf(la, "node %d free: %llu MB", &node_a, &fa) == 2 &&
            sscanf(lb, "node %d free: %llu MB", &node_b, &fb) == 2) {
            cr_assert_eq(node_a, node_b);
            cr_assert_leq(fa > fb ? fa - fb : fb - fa, (fb + 1) / 20 + 16, "free: %llu vs %llu MB", fa, fb);
        } else {
            cr_assert_str_eq(la, lb);
        }
        lines++;
        la = strtok_r(NULL, "\n", &sa);
        lb = strtok_r(NULL, "\n", &sb);
    }
    cr_assert(la == NULL && lb == NULL, "line counts differ after %d lines", lines);
    cr_assert_geq(lines, 7);
}

/* ---- allocation and placement ------------------------------------------------------------------------ */

Test(numa, alloc_onnode_lands_on_the_node_after_first_touch, .timeout = 10) {
    const size_t size = 1u << 20;
    unsigned char *p;
    zenith_numa_placement pl;
    int mode = -1;
    unsigned long mask[ZENITH_NUMA_MAX_NODES / 64] = { 0 };
    cr_assert_eq(zenith_numa_init(), 0);
    p = (unsigned char *)zenith_numa_alloc_onnode(size, 0);
    cr_assert_not_null(p, "%s", zenith_numa_strerror(zenith_numa_last_error()));
    cr_assert_eq(zenith_numa_last_error(), 0);
    cr_assert_eq((uintptr_t)p % PAGE, 0, "page-aligned");
    cr_assert_eq(zenith_numa_node_of_address(p), ZENITH_NUMA_E_NOT_PRESENT, "nothing faulted in before the touch");
    cr_assert_eq(zenith_numa_placement_of(p, size, 0, &pl), 0);
    cr_assert_eq(pl.pages, size / PAGE);
    cr_assert_eq(pl.absent, size / PAGE);
    /* the policy of the mapping is a strict bind to node 0 */
    cr_assert_eq(get_mempolicy(&mode, mask, ZENITH_NUMA_MAX_NODES + 1, p, MPOL_F_ADDR), 0);
    cr_assert_eq(mode, MPOL_BIND);
    cr_assert_eq(mask[0], 1u);
    memset(p, 0x5a, size);
    cr_assert_eq(zenith_numa_node_of_address(p), 0);
    cr_assert_eq(zenith_numa_node_of_address(p + size - 1), 0);
    cr_assert_eq(zenith_numa_placement_of(p, size, 0, &pl), 0);
    cr_assert_eq(pl.on_node, size / PAGE, "%llu of %llu pages on node 0", (unsigned long long)pl.on_node,
                 (unsigned long long)pl.pages);
    cr_assert_eq(pl.elsewhere + pl.absent, 0);
    cr_assert_eq(zenith_numa_free(p, size), 0);
    zenith_numa_cleanup();
}

Test(numa, alloc_local_and_interleaved_policies, .timeout = 10) {
    const size_t size = 64 * PAGE;
    zenith_numa_nodeset allowed, one;
    unsigned long mask[ZENITH_NUMA_MAX_NODES / 64];
    int mode = -1;
    unsigned char *l, *i, *s;
    zenith_numa_placement pl;
    cr_assert_eq(zenith_numa_allowed_nodes(&allowed), 0);
    cr_assert(zenith_numa_nodeset_has(&allowed, 0));
    l = (unsigned char *)zenith_numa_alloc_local(size);
    i = (unsigned char *)zenith_numa_alloc_interleaved(size);
    zenith_numa_nodeset_clear(&one);
    cr_assert_eq(zenith_numa_nodeset_add(&one, 0), 0);
    s = (unsigned char *)zenith_numa_alloc_interleaved_nodes(size, &one);
    cr_assert(l && i && s);
    cr_assert_eq(get_mempolicy(&mode, NULL, 0, l, MPOL_F_ADDR), 0);
    cr_assert_eq(mode, MPOL_LOCAL);
    memset(mask, 0, sizeof mask);
    cr_assert_eq(get_mempolicy(&mode, mask, ZENITH_NUMA_MAX_NODES + 1, i, MPOL_F_ADDR), 0);
    cr_assert_eq(mode, MPOL_INTERLEAVE);
    cr_assert_eq(memcmp(mask, allowed.bits, sizeof mask), 0, "interleaved over every allowed node");
    memset(mask, 0, sizeof mask);
    cr_assert_eq(get_mempolicy(&mode, mask, ZENITH_NUMA_MAX_NODES + 1, s, MPOL_F_ADDR), 0);
    cr_assert_eq(mode, MPOL_INTERLEAVE);
    cr_assert_eq(mask[0], 1u);
    memset(l, 1, size);
    memset(i, 2, size);
    memset(s, 3, size);
    cr_assert_eq(zenith_numa_placement_of(s, size, 0, &pl), 0);
    cr_assert_eq(pl.on_node, size / PAGE);
    cr_assert_eq(zenith_numa_free(l, size), 0);
    cr_assert_eq(zenith_numa_free(i, size), 0);
    cr_assert_eq(zenith_numa_free(s, size), 0);
}

Test(numa, bad_allocations_get_their_codes, .timeout = 10) {
    static const int nodes[] = { -1, 1023, 1024, 4096, 0x7fffffff };
    static const size_t sizes[] = { 0, SIZE_MAX, SIZE_MAX / 2 + 1 };
    zenith_numa_nodeset set;
    size_t k;
    int max = zenith_numa_max_node();
    void *p;
    for (k = 0; k < sizeof nodes / sizeof nodes[0]; k++) {
        cr_assert_null(zenith_numa_alloc_onnode(4096, nodes[k]), "node %d", nodes[k]);
        cr_assert_eq(zenith_numa_last_error(), ZENITH_NUMA_E_INVALID_NODE, "node %d", nodes[k]);
    }
    cr_assert_null(zenith_numa_alloc_onnode(4096, max + 1));
    cr_assert_eq(zenith_numa_last_error(), ZENITH_NUMA_E_INVALID_NODE);
    for (k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
        cr_assert_null(zenith_numa_alloc_onnode(sizes[k], 0), "size %zu", sizes[k]);
        cr_assert_eq(zenith_numa_last_error(), ZENITH_NUMA_E_INVALID_SIZE);
        cr_assert_null(zenith_numa_alloc_local(sizes[k]));
        cr_assert_eq(zenith_numa_last_error(), ZENITH_NUMA_E_INVALID_SIZE);
        cr_assert_null(zenith_numa_alloc_interleaved(sizes[k]));
        cr_assert_eq(zenith_numa_last_error(), ZENITH_NUMA_E_INVALID_SIZE);
    }
    /* SIZE_MAX / 2 passes the size check but no mapping that large exists */
    cr_assert_null(zenith_numa_alloc_local(SIZE_MAX / 2));
    cr_assert_eq(zenith_numa_last_error(), ZENITH_NUMA_E_ALLOC);
    cr_assert_null(zenith_numa_alloc_interleaved_nodes(4096, NULL));
    cr_assert_eq(zenith_numa_last_error(), ZENITH_NUMA_E_NULL);
    zenith_numa_nodeset_clear(&set);
    cr_assert_null(zenith_numa_alloc_interleaved_nodes(4096, &set), "empty set");
    cr_assert_eq(zenith_numa_last_error(), ZENITH_NUMA_E_INVALID_NODE);
    cr_assert_eq(zenith_numa_nodeset_add(&set, max + 1), 0);
    cr_assert_null(zenith_numa_alloc_interleaved_nodes(4096, &set), "a node that is not allowed");
    cr_assert_eq(zenith_numa_last_error(), ZENITH_NUMA_E_INVALID_NODE);
    /* a success clears the code */
    p = zenith_numa_alloc_onnode(1, 0);
    cr_assert_not_null(p);
    cr_assert_eq(zenith_numa_last_error(), 0);
    /* free */
    cr_assert_eq(zenith_numa_free(NULL, 4096), 0, "NULL is a no-op");
    cr_assert_eq(zenith_numa_free(NULL, 0), 0);
    cr_assert_eq(zenith_numa_free(p, 0), ZENITH_NUMA_E_INVALID_SIZE);
    cr_assert_eq(zenith_numa_free((char *)p + 64, 4096), ZENITH_NUMA_E_INVALID_ARG);
    ((char *)p)[0] = 1; /* still mapped after the refused frees */
    cr_assert_eq(zenith_numa_free(p, 1), 0, "size 1 frees the whole page it was rounded to");
}

Test(numa, where_is_memory_bad_input, .timeout = 10) {
    zenith_numa_placement pl;
    int local = 7;
    void *gone = mmap(NULL, 4 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    cr_assert_neq(gone, MAP_FAILED);
    cr_assert_eq(munmap(gone, 4 * PAGE), 0);
    cr_assert_eq(zenith_numa_node_of_address(NULL), ZENITH_NUMA_E_NULL);
    cr_assert_eq(zenith_numa_node_of_address(gone), ZENITH_NUMA_E_NOT_MAPPED);
    cr_assert_geq(zenith_numa_node_of_address(&local), 0, "the stack is present");
    cr_assert_eq(zenith_numa_placement_of(NULL, 1, 0, &pl), ZENITH_NUMA_E_NULL);
    cr_assert_eq(zenith_numa_placement_of(&local, 1, 0, NULL), ZENITH_NUMA_E_NULL);
    cr_assert_eq(zenith_numa_placement_of(&local, 0, 0, &pl), ZENITH_NUMA_E_INVALID_SIZE);
    cr_assert_eq(zenith_numa_placement_of(&local, 1, -1, &pl), ZENITH_NUMA_E_INVALID_NODE);
    cr_assert_eq(zenith_numa_placement_of(&local, 1, zenith_numa_max_node() + 1, &pl), ZENITH_NUMA_E_INVALID_NODE);
    cr_assert_eq(zenith_numa_placement_of(gone, 4 * PAGE, 0, &pl), ZENITH_NUMA_E_NOT_MAPPED);
    cr_assert_eq(zenith_numa_placement_of(&local, sizeof local, 0, &pl), 0);
    cr_assert_eq(pl.pages, 1 + (((uintptr_t)&local % PAGE) + sizeof local > PAGE));
}

/* ---- memory policy ----------------------------------------------------------------------------------- */

Test(numa, policies_round_trip_through_get_mempolicy, .timeout = 10) {
    static const int policies[] = { ZENITH_NUMA_POLICY_PREFERRED,  ZENITH_NUMA_POLICY_BIND,
                                    ZENITH_NUMA_POLICY_INTERLEAVE, ZENITH_NUMA_POLICY_PREFERRED_MANY,
                                    ZENITH_NUMA_POLICY_LOCAL,      ZENITH_NUMA_POLICY_DEFAULT };
    zenith_numa_nodeset zero, got;
    unsigned long mask[ZENITH_NUMA_MAX_NODES / 64];
    size_t k;
    int policy, raw;
    zenith_numa_nodeset_clear(&zero);
    zenith_numa_nodeset_add(&zero, 0);
    cr_assert_eq(zenith_numa_get_policy(&policy, &got), 0);
    cr_assert_eq(policy, ZENITH_NUMA_POLICY_DEFAULT);
    for (k = 0; k < sizeof policies / sizeof policies[0]; k++) {
        int p = policies[k], with_nodes = p != ZENITH_NUMA_POLICY_LOCAL && p != ZENITH_NUMA_POLICY_DEFAULT;
        cr_assert_eq(zenith_numa_set_policy(p, with_nodes ? &zero : NULL), 0, "policy %d", p);
        cr_assert_eq(zenith_numa_get_policy(&policy, &got), 0);
        cr_assert_eq(policy, p);
        cr_assert_eq(zenith_numa_nodeset_count(&got), with_nodes, "policy %d", p);
        /* and the kernel agrees, asked directly */
        memset(mask, 0, sizeof mask);
        cr_assert_eq(get_mempolicy(&raw, mask, ZENITH_NUMA_MAX_NODES + 1, NULL, 0), 0);
        cr_assert_eq(raw, p);
        cr_assert_eq(mask[0], (unsigned long)with_nodes);
    }
    cr_assert_eq(zenith_numa_set_preferred(0), 0);
    cr_assert_eq(zenith_numa_get_policy(&policy, NULL), 0, "nodes nullable");
    cr_assert_eq(policy, ZENITH_NUMA_POLICY_PREFERRED);
}

Test(numa, bad_policies_refused_without_side_effect, .timeout = 10) {
    zenith_numa_nodeset zero, two, empty, far;
    int policy, max = zenith_numa_max_node();
    zenith_numa_nodeset_clear(&zero);
    zenith_numa_nodeset_add(&zero, 0);
    zenith_numa_nodeset_clear(&empty);
    zenith_numa_nodeset_clear(&two);
    zenith_numa_nodeset_add(&two, 0);
    zenith_numa_nodeset_add(&two, 1);
    zenith_numa_nodeset_clear(&far);
    zenith_numa_nodeset_add(&far, max + 1);
    cr_assert_eq(zenith_numa_set_policy(ZENITH_NUMA_POLICY_BIND, &zero), 0);
    cr_assert_eq(zenith_numa_set_policy(6, &zero), ZENITH_NUMA_E_INVALID_ARG);
    cr_assert_eq(zenith_numa_set_policy(-1, NULL), ZENITH_NUMA_E_INVALID_ARG);
    cr_assert_eq(zenith_numa_set_policy(ZENITH_NUMA_POLICY_DEFAULT, &zero), ZENITH_NUMA_E_INVALID_ARG);
    cr_assert_eq(zenith_numa_set_policy(ZENITH_NUMA_POLICY_LOCAL, &zero), ZENITH_NUMA_E_INVALID_ARG);
    cr_assert_eq(zenith_numa_set_policy(ZENITH_NUMA_POLICY_PREFERRED, &two), ZENITH_NUMA_E_INVALID_ARG);
    cr_assert_eq(zenith_numa_set_policy(ZENITH_NUMA_POLICY_BIND, NULL), ZENITH_NUMA_E_NULL);
    cr_assert_eq(zenith_numa_set_policy(ZENITH_NUMA_POLICY_INTERLEAVE, &empty), ZENITH_NUMA_E_INVALID_NODE);
    cr_assert_eq(zenith_numa_set_policy(ZENITH_NUMA_POLICY_INTERLEAVE, &far), ZENITH_NUMA_E_INVALID_NODE);
    cr_assert_eq(zenith_numa_set_preferred(-1), ZENITH_NUMA_E_INVALID_NODE);
    cr_assert_eq(zenith_numa_set_preferred(max + 1), ZENITH_NUMA_E_INVALID_NODE);
    cr_assert_eq(zenith_numa_get_policy(NULL, NULL), ZENITH_NUMA_E_NULL);
    cr_assert_eq(zenith_numa_get_policy(&policy, NULL), 0);
    cr_assert_eq(policy, ZENITH_NUMA_POLICY_BIND, "the refused calls changed nothing");
}

/* ---- thread binding -------------------------------------------------------------------------------------- */

Test(numa, binding_shows_in_sched_getaffinity_and_unbinding_restores, .timeout = 10) {
    cpu_set_t before, one, node0;
    int last = zenith_numa_cpu_count() - 1, c;
    CPU_ZERO(&before);
    cr_assert_eq(sched_getaffinity(0, sizeof before, &before), 0);
    cr_assert_eq(zenith_numa_init(), 0);
    cr_assert(CPU_ISSET(last, &before), "test needs CPU %d allowed", last);

    cr_assert_eq(zenith_numa_bind_thread_to_cpu(last), 0);
    CPU_ZERO(&one);
    CPU_SET(last, &one);
    cr_assert(affinity_equals(&one));
    sched_yield();
    cr_assert_eq(zenith_numa_current_cpu(), last);
    cr_assert_eq(zenith_numa_current_node(), zenith_numa_node_of_cpu(last));

    cr_assert_eq(zenith_numa_unbind_thread(), 0);
    cr_assert(affinity_equals(&before), "unbind restores the full allowed set");

    cr_assert_eq(zenith_numa_bind_thread_to_node(0), 0);
    CPU_ZERO(&node0);
    for (c = 0; c < zenith_numa_cpu_count(); c++)
        if (zenith_numa_node_of_cpu(c) == 0 && CPU_ISSET(c, &before)) CPU_SET(c, &node0);
    cr_assert(affinity_equals(&node0));
    cr_assert_eq(zenith_numa_current_node(), 0);

    /* bad input: codes, and the affinity stays as it was */
    cr_assert_eq(zenith_numa_bind_thread_to_node(-1), ZENITH_NUMA_E_INVALID_NODE);
    cr_assert_eq(zenith_numa_bind_thread_to_node(zenith_numa_max_node() + 1), ZENITH_NUMA_E_INVALID_NODE);
    cr_assert_eq(zenith_numa_bind_thread_to_node(1023), ZENITH_NUMA_E_INVALID_NODE);
    cr_assert_eq(zenith_numa_bind_thread_to_cpu(-1), ZENITH_NUMA_E_INVALID_CPU);
    cr_assert_eq(zenith_numa_bind_thread_to_cpu(4096), ZENITH_NUMA_E_INVALID_CPU);
    cr_assert_eq(zenith_numa_bind_thread_to_cpu(1 << 30), ZENITH_NUMA_E_INVALID_CPU);
    cr_assert(affinity_equals(&node0));
    cr_assert_eq(zenith_numa_unbind_thread(), 0);
    cr_assert(affinity_equals(&before));
    zenith_numa_cleanup();
}

/* A CPU outside the process's allowed set (taskset) is refused, and unbind goes back to the
   set allowed when init ran, not to every CPU. */
Test(numa, cpus_outside_the_allowed_set_are_refused, .timeout = 10) {
    cpu_set_t only0;
    if (sysconf(_SC_NPROCESSORS_ONLN) < 2) cr_skip("needs two CPUs"); /* not the library: no snapshot yet */
    CPU_ZERO(&only0);
    CPU_SET(0, &only0);
    /* as `taskset -c 0` would: the process (its main thread) and this thread */
    cr_assert_eq(sched_setaffinity(getpid(), sizeof only0, &only0), 0);
    cr_assert_eq(sched_setaffinity(0, sizeof only0, &only0), 0);
    cr_assert_eq(zenith_numa_init(), 0); /* snapshot: CPU 0 only */
    cr_assert_eq(zenith_numa_bind_thread_to_cpu(1), ZENITH_NUMA_E_INVALID_CPU);
    cr_assert_eq(zenith_numa_bind_thread_to_cpu(0), 0);
    cr_assert_eq(zenith_numa_unbind_thread(), 0);
    cr_assert(affinity_equals(&only0));
    zenith_numa_cleanup();
}

/* ---- a kernel without NUMA ---------------------------------------------------------------------------------- */

/* get_mempolicy, set_mempolicy, mbind and move_pages fail with ENOSYS, as on a kernel built
   without NUMA: the one-node mode, nothing printed. */
Test(numa, kernel_without_numa_degrades_as_documented, .timeout = 10) {
    const int nrs[] = { SYS_get_mempolicy, SYS_set_mempolicy, SYS_mbind, SYS_move_pages, SYS_migrate_pages };
    zenith_numa_nodeset zero;
    zenith_numa_node_info ni[2];
    int32_t cpus[4096], dist[4];
    zenith_numa_topology t;
    FILE *err = tmpfile();
    int saved = dup(2), policy = -1;
    unsigned char *p;
    cr_assert_not_null(err);
    cr_assert(saved >= 0 && dup2(fileno(err), 2) == 2);
    deny_syscalls(ENOSYS, nrs, 5);

    cr_assert_eq(zenith_numa_init(), ZENITH_NUMA_E_UNAVAILABLE);
    cr_assert_eq(zenith_numa_available(), 0);
    cr_assert_eq(zenith_numa_node_count(), 1);
    cr_assert_eq(zenith_numa_max_node(), 0);
    cr_assert_eq(zenith_numa_node_of_cpu(0), 0);
    cr_assert_eq(zenith_numa_current_node(), 0);
    cr_assert_eq(zenith_numa_distance(0, 0), 10);
    cr_assert_eq(zenith_numa_distance(0, 1), ZENITH_NUMA_E_INVALID_NODE);
    /* allocation still works, as ordinary page-aligned memory; node 0 only */
    p = (unsigned char *)zenith_numa_alloc_onnode(3 * PAGE, 0);
    cr_assert_not_null(p);
    cr_assert_eq((uintptr_t)p % PAGE, 0);
    memset(p, 1, 3 * PAGE);
    cr_assert_eq(zenith_numa_node_of_address(p), 0);
    cr_assert_eq(zenith_numa_free(p, 3 * PAGE), 0);
    cr_assert_null(zenith_numa_alloc_onnode(PAGE, 1));
    cr_assert_eq(zenith_numa_last_error(), ZENITH_NUMA_E_INVALID_NODE);
    p = (unsigned char *)zenith_numa_alloc_interleaved(PAGE);
    cr_assert_not_null(p);
    cr_assert_eq(zenith_numa_free(p, PAGE), 0);
    p = (unsigned char *)zenith_numa_alloc_local(PAGE);
    cr_assert_not_null(p);
    cr_assert_eq(zenith_numa_free(p, PAGE), 0);
    /* binding: node 0 is every CPU */
    cr_assert_eq(zenith_numa_bind_thread_to_node(0), 0);
    cr_assert_eq(zenith_numa_bind_thread_to_node(1), ZENITH_NUMA_E_INVALID_NODE);
    cr_assert_eq(zenith_numa_unbind_thread(), 0);
    /* policies */
    zenith_numa_nodeset_clear(&zero);
    zenith_numa_nodeset_add(&zero, 0);
    cr_assert_eq(zenith_numa_set_policy(ZENITH_NUMA_POLICY_DEFAULT, NULL), 0);
    cr_assert_eq(zenith_numa_set_policy(ZENITH_NUMA_POLICY_LOCAL, NULL), 0);
    cr_assert_eq(zenith_numa_set_policy(ZENITH_NUMA_POLICY_BIND, &zero), ZENITH_NUMA_E_UNAVAILABLE);
    cr_assert_eq(zenith_numa_get_policy(&policy, NULL), 0);
    cr_assert_eq(policy, ZENITH_NUMA_POLICY_DEFAULT);
    /* topology: one node with every CPU */
    memset(&t, 0, sizeof t);
    t.nodes = ni;
    t.cpus = cpus;
    t.distances = dist;
    t.nodes_cap = 2;
    t.cpus_cap = 4096;
    t.distances_cap = 4;
    cr_assert_eq(zenith_numa_topology_get(&t), 0);
    cr_assert_eq(t.node_count, 1);
    cr_assert_eq(t.cpu_count, zenith_numa_cpu_count());
    cr_assert_gt(ni[0].mem_total, 0);
    cr_assert_eq(dist[0], 10);

    fflush(stderr);
    cr_assert_eq(dup2(saved, 2), 2);
    cr_assert_eq(ftell(err) == 0 ? 0 : (fseek(err, 0, SEEK_END), ftell(err)), 0, "nothing printed");
    fclose(err);
    zenith_numa_cleanup();
}

/* A container profile without CAP_SYS_NICE refuses mbind and set_mempolicy (EPERM), and a
   cpuset can refuse an affinity: each is ZENITH_NUMA_E_BIND, with no side effect. */
Test(numa, kernel_refusals_are_bind_failed, .timeout = 10) {
    const int nrs[] = { SYS_mbind, SYS_set_mempolicy, SYS_sched_setaffinity };
    zenith_numa_nodeset zero;
    cpu_set_t before;
    int policy = -1;
    cr_assert_eq(zenith_numa_init(), 0);
    CPU_ZERO(&before);
    cr_assert_eq(sched_getaffinity(0, sizeof before, &before), 0);
    deny_syscalls(EPERM, nrs, 3);
    cr_assert_null(zenith_numa_alloc_onnode(PAGE, 0));
    cr_assert_eq(zenith_numa_last_error(), ZENITH_NUMA_E_BIND);
    cr_assert_null(zenith_numa_alloc_interleaved(PAGE));
    cr_assert_eq(zenith_numa_last_error(), ZENITH_NUMA_E_BIND);
    zenith_numa_nodeset_clear(&zero);
    zenith_numa_nodeset_add(&zero, 0);
    cr_assert_eq(zenith_numa_set_policy(ZENITH_NUMA_POLICY_BIND, &zero), ZENITH_NUMA_E_BIND);
    cr_assert_eq(zenith_numa_set_policy(ZENITH_NUMA_POLICY_DEFAULT, NULL), ZENITH_NUMA_E_BIND);
    cr_assert_eq(zenith_numa_get_policy(&policy, NULL), 0, "reading still works");
    cr_assert_eq(policy, ZENITH_NUMA_POLICY_DEFAULT, "nothing changed");
    cr_assert_eq(zenith_numa_bind_thread_to_cpu(0), ZENITH_NUMA_E_BIND);
    cr_assert_eq(zenith_numa_bind_thread_to_node(0), ZENITH_NUMA_E_BIND);
    cr_assert_eq(zenith_numa_unbind_thread(), ZENITH_NUMA_E_BIND);
    cr_assert(affinity_equals(&before), "the affinity is as it was");
    zenith_numa_cleanup();
}

/* ---- with zenith.h -------------------------------------------------------------------------------------- */

Test(numa, pool_on_node_verified_page_by_page, .timeout = 10) {
    zenith_pool_config cfg;
    zenith_pool *p;
    zenith_numa_placement pl;
    int err = 1;
    memset(&cfg, 0, sizeof cfg);
    cfg.buffer_size = 16384;
    cfg.buffer_count = 256;
    cfg.flags = ZENITH_POOL_PREFAULT;
    cr_assert_eq(zenith_numa_pool_config_on_node(NULL, 0), ZENITH_NUMA_E_NULL);
    cr_assert_eq(zenith_numa_pool_config_on_node(&cfg, zenith_numa_max_node() + 1), ZENITH_NUMA_E_INVALID_NODE);
    cr_assert_eq(cfg.flags, ZENITH_POOL_PREFAULT, "no side effect");
    cr_assert_eq(zenith_numa_pool_config_on_node(&cfg, 0), 0);
    p = zenith_pool_create(&cfg, &err);
    cr_assert_not_null(p, "%s", zenith_errname(err));
    cr_assert_eq(zenith_numa_pool_placement(p, 0, &pl), 0);
    cr_assert_eq(pl.pages, 16384u * 256u / PAGE);
    cr_assert_eq(pl.on_node, pl.pages, "first-touched on node 0 at create");
    cr_assert_eq(zenith_numa_pool_placement(NULL, 0, &pl), ZENITH_NUMA_E_NULL);
    cr_assert_eq(zenith_numa_pool_placement(p, -1, &pl), ZENITH_NUMA_E_INVALID_NODE);
    zenith_pool_destroy(p);
}

Test(numa, server_config_on_cpu_places_the_reactor, .timeout = 15) {
    zenith_server_config cfg;
    zenith_server *s;
    zenith_pool_info inf;
    zenith_numa_placement pl;
    int cpu = zenith_numa_cpu_count() - 1, err = 1;
    memset(&cfg, 0, sizeof cfg);
    cfg.buffer_count = 256;
    cfg.max_connections = 16;
    cr_assert_eq(zenith_numa_server_config_on_cpu(NULL, 0), ZENITH_NUMA_E_NULL);
    cr_assert_eq(zenith_numa_server_config_on_cpu(&cfg, -1), ZENITH_NUMA_E_INVALID_CPU);
    cr_assert_eq(zenith_numa_server_config_on_cpu(&cfg, zenith_numa_cpu_count()), ZENITH_NUMA_E_INVALID_CPU);
    cr_assert_eq(cfg.flags, 0, "no side effect");
    cr_assert_eq(zenith_numa_server_config_on_cpu(&cfg, cpu), 0);
    cr_assert_eq(cfg.cpu, (uint32_t)cpu);
    cr_assert_eq(cfg.numa_node, zenith_numa_node_of_cpu(cpu));
    s = zenith_server_create(&cfg, &err);
    if (s == NULL && err == ZENITH_E_URING_DISABLED) cr_skip("io_uring is disabled here");
    cr_assert_not_null(s, "%s", zenith_errname(err));
    cr_assert_eq(zenith_pool_get_info(zenith_server_pool(s), &inf), 0);
    cr_assert_eq(inf.numa_node, cfg.numa_node);
    cr_assert_eq(zenith_numa_pool_placement(zenith_server_pool(s), cfg.numa_node, &pl), 0);
    cr_assert_eq(pl.elsewhere, 0, "no page of the server's pool on another node");
    zenith_server_destroy(s);
}

/* ---- two nodes (skip here; run under tools/numa-qemu) --------------------------------------------------- */

Test(numa_two_nodes, alloc_and_pool_on_node_1, .timeout = 20) {
    const size_t size = 256 * PAGE;
    unsigned char *p;
    zenith_numa_placement pl;
    zenith_pool_config cfg;
    zenith_pool *pool;
    int err = 1;
    two_nodes_or_skip();
    p = (unsigned char *)zenith_numa_alloc_onnode(size, 1);
    cr_assert_not_null(p, "%s", zenith_numa_strerror(zenith_numa_last_error()));
    memset(p, 1, size); /* touched on whatever CPU we are: the bind policy still puts it on 1 */
    cr_assert_eq(zenith_numa_node_of_address(p), 1);
    cr_assert_eq(zenith_numa_placement_of(p, size, 1, &pl), 0);
    cr_assert_eq(pl.on_node, size / PAGE);
    cr_assert_eq(zenith_numa_free(p, size), 0);
    memset(&cfg, 0, sizeof cfg);
    cfg.buffer_count = 128;
    cfg.flags = ZENITH_POOL_PREFAULT;
    cr_assert_eq(zenith_numa_pool_config_on_node(&cfg, 1), 0);
    pool = zenith_pool_create(&cfg, &err);
    cr_assert_not_null(pool, "%s", zenith_errname(err));
    cr_assert_eq(zenith_numa_pool_placement(pool, 1, &pl), 0);
    cr_assert_eq(pl.on_node, pl.pages);
    zenith_pool_destroy(pool);
}

Test(numa_two_nodes, interleave_spreads_and_binding_moves_the_thread, .timeout = 20) {
    const size_t size = 64 * PAGE;
    zenith_numa_nodeset both;
    zenith_numa_placement pl0, pl1;
    unsigned char *p;
    two_nodes_or_skip();
    zenith_numa_nodeset_clear(&both);
    zenith_numa_nodeset_add(&both, 0);
    zenith_numa_nodeset_add(&both, 1);
    p = (unsigned char *)zenith_numa_alloc_interleaved_nodes(size, &both);
    cr_assert_not_null(p);
    memset(p, 1, size);
    cr_assert_eq(zenith_numa_placement_of(p, size, 0, &pl0), 0);
    cr_assert_eq(zenith_numa_placement_of(p, size, 1, &pl1), 0);
    cr_assert_eq(pl0.on_node + pl1.on_node, size / PAGE);
    cr_assert_geq(pl0.on_node, size / PAGE / 4, "interleaved: node 0 has %llu", (unsigned long long)pl0.on_node);
    cr_assert_geq(pl1.on_node, size / PAGE / 4, "interleaved: node 1 has %llu", (unsigned long long)pl1.on_node);
    cr_assert_eq(zenith_numa_free(p, size), 0);
    cr_assert_eq(zenith_numa_bind_thread_to_node(1), 0);
    sched_yield();
    cr_assert_eq(zenith_numa_current_node(), 1);
    cr_assert_eq(zenith_numa_node_of_cpu(zenith_numa_current_cpu()), 1);
    cr_assert_gt(zenith_numa_distance(0, 1), 10);
    cr_assert_eq(zenith_numa_distance(0, 1), zenith_numa_distance(1, 0));
}

/* ---- codes ---------------------------------------------------------------------------------------------- */

Test(numa, every_code_has_a_distinct_name_and_text, .timeout = 10) {
    int a, b;
    for (a = ZENITH_NUMA_E_LAST_ + 1; a <= 0; a++) {
        cr_assert_neq(strcmp(zenith_numa_errname(a), "ZENITH_NUMA_E_UNKNOWN"), 0, "code %d", a);
        for (b = a + 1; b <= 0; b++) {
            cr_assert_neq(strcmp(zenith_numa_errname(a), zenith_numa_errname(b)), 0);
            cr_assert_neq(strcmp(zenith_numa_strerror(a), zenith_numa_strerror(b)), 0);
        }
    }
    cr_assert_str_eq(zenith_numa_errname(ZENITH_NUMA_E_LAST_), "ZENITH_NUMA_E_UNKNOWN");
    cr_assert_str_eq(zenith_numa_errname(1), "ZENITH_NUMA_E_UNKNOWN");
    cr_assert_str_eq(zenith_numa_strerror(-2), "invalid node");
    cr_assert_eq(ZENITH_NUMA_E_UNAVAILABLE, -1);
    cr_assert_eq(ZENITH_NUMA_E_INVALID_NODE, -2);
    cr_assert_eq(ZENITH_NUMA_E_ALLOC, -3);
    cr_assert_eq(ZENITH_NUMA_E_BIND, -4);
    cr_assert_eq(ZENITH_NUMA_E_NULL, -5);
    {
        zenith_numa_nodeset set;
        zenith_numa_nodeset_clear(&set);
        cr_assert_eq(zenith_numa_nodeset_add(&set, 5), 0);
        cr_assert_eq(zenith_numa_nodeset_add(&set, 1023), 0);
        cr_assert_eq(zenith_numa_nodeset_add(&set, 1024), ZENITH_NUMA_E_INVALID_NODE);
        cr_assert_eq(zenith_numa_nodeset_add(&set, -1), ZENITH_NUMA_E_INVALID_NODE);
        cr_assert(zenith_numa_nodeset_has(&set, 5) && zenith_numa_nodeset_has(&set, 1023));
        cr_assert_eq(zenith_numa_nodeset_count(&set), 2);
        cr_assert_eq(zenith_numa_nodeset_remove(&set, 5), 0);
        cr_assert_eq(zenith_numa_nodeset_remove(&set, 1024), ZENITH_NUMA_E_INVALID_NODE);
        cr_assert(!zenith_numa_nodeset_has(&set, 5) && !zenith_numa_nodeset_has(&set, -1));
        cr_assert_eq(zenith_numa_nodeset_count(&set), 1);
    }
    cr_assert_eq(zenith_numa_nodeset_add(NULL, 0), ZENITH_NUMA_E_NULL);
    cr_assert_eq(zenith_numa_nodeset_remove(NULL, 0), ZENITH_NUMA_E_NULL);
    cr_assert_eq(zenith_numa_nodeset_has(NULL, 0), 0);
    cr_assert_eq(zenith_numa_nodeset_count(NULL), 0);
    cr_assert_eq(zenith_numa_allowed_nodes(NULL), ZENITH_NUMA_E_NULL);
    zenith_numa_nodeset_clear(NULL);
}
