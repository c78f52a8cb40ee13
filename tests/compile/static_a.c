/* Two ZENITH_STATIC TUs with private copies of the implementation link into one program. */
#define ZENITH_STATIC
#define ZENITH_IMPLEMENTATION
#include "zenith.h"
#include "zenith_numa.h"

#include "check.h"

int main(void) {
    zenith_pool *pool = zenith_pool_create(NULL, NULL);
    int ok = pool != NULL && zenith_pool_release(pool, zenith_pool_acquire(pool)) == 0;
    zenith_pool_destroy(pool);
    return ok && zenith_check_impl() == ZENITH_VERSION + ZENITH_NUMA_VERSION ? 0 : 1;
}
