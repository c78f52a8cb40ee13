/* zenith_numa.h on its own, with only its own implementation switch. */
#define ZENITH_NUMA_IMPLEMENTATION
#include "zenith_numa.h"

int main(void) { return zenith_numa_errname(ZENITH_NUMA_E_INVALID_NODE)[0] == 'Z' ? 0 : 1; }
