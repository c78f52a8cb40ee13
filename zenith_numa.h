/* zenith_numa.h v0.1.0 -- NUMA helpers for Zenith on libnuma. MIT licence, see end of file.

QUICK START
    In exactly one C or C++ file:

        #define ZENITH_NUMA_IMPLEMENTATION   // or ZENITH_IMPLEMENTATION, which also compiles zenith.h
        #include "zenith_numa.h"

    Usable on its own, without zenith.h. Link with -lnuma once the NUMA calls land (this
    release holds only the skeleton: version, error codes and their strings, which need no
    library).

CONFIGURATION (define before including)
    macro                        default   where   meaning
    ZENITH_NUMA_IMPLEMENTATION   -         impl    compile this header's implementation here
    ZENITH_IMPLEMENTATION        -         impl    the same, for zenith.h and this header at once
    ZENITH_STATIC                -         every   all functions static
    ZENITH_SHARED                -         every   default visibility for a -fvisibility=hidden .so
    ZENITH_NUMA_API              extern    every   linkage of every public function

OVERVIEW
    Allocation on a node, thread binding, topology and memory policies, and (with zenith.h)
    pools whose slab lives on a node. Coming in the next releases; see docs/ROADMAP.md.

ERRORS
    The design's own table (kept apart from zenith.h's codes): 0 success, -1 NUMA unavailable,
    -2 invalid node, -3 allocation failed, -4 bind failed, -5 null pointer.

THREADING
    zenith_numa_strerror, zenith_numa_errname, zenith_numa_version: any thread.
*/
#ifndef ZENITH_NUMA_H_INCLUDED
#define ZENITH_NUMA_H_INCLUDED

#define ZENITH_NUMA_VERSION_MAJOR 0
#define ZENITH_NUMA_VERSION_MINOR 1
#define ZENITH_NUMA_VERSION_PATCH 0
#define ZENITH_NUMA_VERSION_STRING "0.1.0"
#define ZENITH_NUMA_VERSION \
    (ZENITH_NUMA_VERSION_MAJOR * 1000000L + ZENITH_NUMA_VERSION_MINOR * 1000L + ZENITH_NUMA_VERSION_PATCH)

#include <stddef.h>

#ifndef ZENITH_NUMA_API
#if defined(ZENITH_STATIC)
#if defined(__GNUC__)
#define ZENITH_NUMA_API static __attribute__((unused))
#else
#define ZENITH_NUMA_API static
#endif
#elif defined(ZENITH_SHARED) && defined(__GNUC__)
#define ZENITH_NUMA_API extern __attribute__((visibility("default")))
#else
#define ZENITH_NUMA_API extern
#endif
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* X(name, value, description) */
#define ZENITH_NUMA_ERROR_LIST(X)                        \
    X(ZENITH_NUMA_OK, 0, "success")                      \
    X(ZENITH_NUMA_E_UNAVAILABLE, -1, "NUMA unavailable") \
    X(ZENITH_NUMA_E_INVALID_NODE, -2, "invalid node")    \
    X(ZENITH_NUMA_E_ALLOC, -3, "allocation failed")      \
    X(ZENITH_NUMA_E_BIND, -4, "bind failed")             \
    X(ZENITH_NUMA_E_NULL, -5, "null pointer")

enum zenith_numa_error {
#define ZENITH_NUMA__ENUM(name, value, text) name = value,
    ZENITH_NUMA_ERROR_LIST(ZENITH_NUMA__ENUM)
#undef ZENITH_NUMA__ENUM
        ZENITH_NUMA_E_LAST_ = -6
};

/* Description of a zenith_numa code. Never NULL; static; any thread. */
ZENITH_NUMA_API const char *zenith_numa_strerror(int code);
/* Name of a zenith_numa code ("ZENITH_NUMA_E_INVALID_NODE"), "ZENITH_NUMA_E_UNKNOWN" otherwise. */
ZENITH_NUMA_API const char *zenith_numa_errname(int code);
/* ZENITH_NUMA_VERSION of the compiled implementation. Any thread. */
ZENITH_NUMA_API long zenith_numa_version(void);

#ifdef __cplusplus
}
#endif

#endif /* ZENITH_NUMA_H_INCLUDED */

#if (defined(ZENITH_NUMA_IMPLEMENTATION) || defined(ZENITH_IMPLEMENTATION)) && \
    !defined(ZENITH_NUMA_IMPLEMENTATION_INCLUDED)
#define ZENITH_NUMA_IMPLEMENTATION_INCLUDED

#ifdef __cplusplus
extern "C" {
#endif

ZENITH_NUMA_API const char *zenith_numa_strerror(int code) {
    switch (code) {
#define ZENITH_NUMA__CASE(name, value, text) \
    case value: return text;
        ZENITH_NUMA_ERROR_LIST(ZENITH_NUMA__CASE)
#undef ZENITH_NUMA__CASE
        default: return "unknown error code";
    }
}

ZENITH_NUMA_API const char *zenith_numa_errname(int code) {
    switch (code) {
#define ZENITH_NUMA__CASE(name, value, text) \
    case value: return #name;
        ZENITH_NUMA_ERROR_LIST(ZENITH_NUMA__CASE)
#undef ZENITH_NUMA__CASE
        default: return "ZENITH_NUMA_E_UNKNOWN";
    }
}

ZENITH_NUMA_API long zenith_numa_version(void) { return ZENITH_NUMA_VERSION; }

#ifdef __cplusplus
}
#endif

#endif /* ZENITH_NUMA_IMPLEMENTATION */

/*
MIT License

Copyright (c) 2026 The Zenith authors

Permission is hereby granted, free of charge, to any person obtaining a copy of this software and
associated documentation files (the "Software"), to deal in the Software without restriction,
including without limitation the rights to use, copy, modify, merge, publish, distribute,
sublicense, and/or sell copies of the Software, and to permit persons to whom the Software is
furnished to do so, subject to the following conditions:

The above copyright notice and this permission notice shall be included in all copies or
substantial portions of the Software.

THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR IMPLIED, INCLUDING BUT
NOT LIMITED TO THE WARRANTIES OF MERCHANTABILITY, FITNESS FOR A PARTICULAR PURPOSE AND
NONINFRINGEMENT. IN NO EVENT SHALL THE AUTHORS OR COPYRIGHT HOLDERS BE LIABLE FOR ANY CLAIM,
DAMAGES OR OTHER LIABILITY, WHETHER IN AN ACTION OF CONTRACT, TORT OR OTHERWISE, ARISING FROM, OUT
OF OR IN CONNECTION WITH THE SOFTWARE OR THE USE OR OTHER DEALINGS IN THE SOFTWARE.
*/
