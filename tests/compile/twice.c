/* Declarations first, then the implementation, in one TU. _GNU_SOURCE comes first because the
   first include already pulls in system headers (see QUICK START in zenith.h). */
#define _GNU_SOURCE 1
#include "zenith.h"
#include "zenith_numa.h"
#define ZENITH_IMPLEMENTATION
#include "zenith.h"
#include "zenith_numa.h"

int main(void) { return zenith_version() == ZENITH_VERSION && zenith_numa_version() == ZENITH_NUMA_VERSION ? 0 : 1; }
