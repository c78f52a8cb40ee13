/* The implementation TU of the link test: both headers, implementation on. */
#define ZENITH_IMPLEMENTATION
#include "zenith.h"
#include "zenith_numa.h"

#include "check.h"

long zenith_check_impl(void) { return zenith_version() + zenith_numa_version(); }
