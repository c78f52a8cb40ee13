#define ZENITH_IMPLEMENTATION
#include "zenith.h"
#include "zenith_numa.h"
