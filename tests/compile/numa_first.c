/* zenith_numa.h first, then zenith.h, implementation on: zenith.h does not include zenith_numa.h,
   so the glue comes from including zenith_numa.h once more after zenith.h. */
#define ZENITH_IMPLEMENTATION
#include "zenith_numa.h"
#include "zenith.h"
#include "zenith_numa.h"

int main(void) {
    zenith_pool_config cfg;
    memset(&cfg, 0, sizeof cfg);
    if (zenith_numa_pool_config_on_node(&cfg, 0) != 0) return 1;
    return (cfg.flags & ZENITH_POOL_NUMA_NODE) && cfg.numa_node == 0 ? 0 : 2;
}
