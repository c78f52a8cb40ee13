/* A user TU: declarations only, linked against impl.c. A misspelled define fails at link time. */
#include "zenith.h"
#include "zenith_numa.h"

#include "check.h"

int main(void) {
    int err = 0;
    zenith_pool *pool = zenith_pool_create(NULL, &err);
    void *buf = zenith_pool_acquire(pool);
    int rc = zenith_pool_release(pool, buf);
    zenith_pool_destroy(pool);
    return (pool && buf && rc == 0 && zenith_check_impl() == ZENITH_VERSION + ZENITH_NUMA_VERSION &&
            zenith_strerror(err)[0] && zenith_numa_strerror(ZENITH_NUMA_E_BIND)[0])
               ? 0
               : 1;
}
