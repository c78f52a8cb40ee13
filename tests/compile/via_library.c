/* Linked with main.c against the installed libzenith: declarations only, no implementation. */
#include "zenith.h"
#include "zenith_numa.h"

#include "check.h"

long zenith_check_impl(void) { return zenith_version() + zenith_numa_version(); }
