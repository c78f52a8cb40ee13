/* zenith_numa.h on its own, with only its own implementation switch. */
#define ZENITH_NUMA_IMPLEMENTATION
#include "zenith_numa.h"

int main(void) {
    int rc = zenith_numa_init(), ok;
    void *p = zenith_numa_alloc_onnode(4096, 0);
    ok = (rc == 0 || rc == ZENITH_NUMA_E_UNAVAILABLE) && p != NULL && zenith_numa_free(p, 4096) == 0 &&
         zenith_numa_errname(ZENITH_NUMA_E_INVALID_NODE)[0] == 'Z';
    zenith_numa_cleanup();
    return ok ? 0 : 1;
}
