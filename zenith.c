/* The whole library as one translation unit: the shared library (make shared), the Rust crate
   and the Go package compile this file. Both headers' declarations come first, so that the
   implementation's layout table (zenith_layout_*) lists zenith_numa.h's structs too. */
#include "zenith.h"
#include "zenith_numa.h"
#define ZENITH_IMPLEMENTATION
#include "zenith.h"
#include "zenith_numa.h"
