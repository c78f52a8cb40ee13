/* zenith_plugin.h -- the C SDK for Zenith engine plugins (WebAssembly, plugin ABI 1). MIT licence.

   A plugin is a WebAssembly module that zenith_load_plugin attaches to a data-plane engine: it
   sees every published batch (the columns it asked for, copied into its memory) and passes it,
   rejects it, or selects the rows that pass; it may keep a small running result the host reads
   with zenith_plugin_result. docs/PLUGINS.md is the exact ABI; this header is that ABI in C,
   plus the two exports every plugin needs (zenith_plugin_abi, zenith_plugin_alloc).

   Build (no libc, no wasi):

       clang --target=wasm32 -O2 -nostdlib -ffreestanding -Wl,--no-entry -Wl,-z,stack-size=16384 \
             -I plugins my_plugin.c -o my_plugin.wasm

   (-ffreestanding keeps clang from turning loops into calls to memcpy/memset, which a plugin
   without libc does not have: wasm-ld would refuse the undefined symbol.)

   (plugins/build.sh builds the examples that way.) In the plugin's one C file:

       #include "zenith_plugin.h"

       ZP_EXPORT(zenith_plugin_init) int32_t zenith_plugin_init(zp_init *init) {
           init->ncolumns = 1;
           init->columns[0] = "price";                  // what the host copies in per batch
           return 0;                                    // non-zero refuses the load
       }
       ZP_EXPORT(zenith_plugin_batch) int32_t zenith_plugin_batch(const zp_batch *b) {
           const zp_column *price = &b->columns[0];
           for (uint32_t i = 0; i < b->rows; i++)
               if (zp_valid(price, i) && zp_f64(price, i) > 100.0) zp_select(b, i);
           return ZP_SELECT;                            // or ZP_PASS, ZP_REJECT
       }

   Rules a plugin lives by (the host enforces them): no imports but the host kernels below
   (module "zenith"); a memory (memory 0); every call
   has a fuel budget and traps when it runs out; the memory has a cap; a trap or an undefined
   verdict never loses a batch (the engine's failure rule applies, docs/PLUGINS.md). The column
   data, validity bitmaps and the batch header are the host's copies: read them, do not keep
   pointers into them across calls (the host rewrites that area for the next batch).

   Define ZP_NO_RUNTIME before the include to write zenith_plugin_abi and zenith_plugin_alloc
   yourself (e.g. over your own allocator). */
#ifndef ZENITH_PLUGIN_H
#define ZENITH_PLUGIN_H

#if !defined(__wasm32__)
#error "zenith_plugin.h is for plugins compiled to WebAssembly: clang --target=wasm32"
#endif

typedef signed char int8_t;
typedef unsigned char uint8_t;
typedef short int16_t;
typedef unsigned short uint16_t;
typedef int int32_t;
typedef unsigned int uint32_t;
typedef long long int64_t;
typedef unsigned long long uint64_t;

#define ZP_ABI_VERSION 1

/* Marks a function as exported under its own name. */
#define ZP_EXPORT(name) __attribute__((export_name(#name), visibility("default")))

/* Verdicts: what zenith_plugin_batch returns. Anything else counts as a failure. */
#define ZP_PASS 0   /* the batch goes on whole */
#define ZP_REJECT 1 /* the batch is dropped (the publisher's zenith_publish returns 1) */
#define ZP_SELECT 2 /* the rows whose selection bit is set pass; none set = rejected, all = passed */

/* Column types (zp_column.type). Fixed-width values, row i at data[i]; ZP_BOOL is bit-packed
   (bit i of the bytes, least significant bit first, as Arrow). */
#define ZP_BOOL 1
#define ZP_INT8 2
#define ZP_UINT8 3
#define ZP_INT16 4
#define ZP_UINT16 5
#define ZP_INT32 6
#define ZP_UINT32 7
#define ZP_INT64 8
#define ZP_UINT64 9
#define ZP_FLOAT32 10
#define ZP_FLOAT64 11
#define ZP_TIMESTAMP 12 /* int64 since the epoch, in zp_column.unit (zone not carried) */
#define ZP_DATE32 13    /* int32 days */
#define ZP_DATE64 14    /* int64 milliseconds */
#define ZP_TIME32 15    /* int32, unit ZP_SECOND or ZP_MILLI */
#define ZP_TIME64 16    /* int64, unit ZP_MICRO or ZP_NANO */
#define ZP_DURATION 17  /* int64, in unit */

/* Time units (zp_column.unit). */
#define ZP_SECOND 0
#define ZP_MILLI 1
#define ZP_MICRO 2
#define ZP_NANO 3

/* How the host combines one result value over the plugin's instances (zp_init.result_ops). */
#define ZP_SUM 0
#define ZP_MIN 1
#define ZP_MAX 2

#define ZP_MAX_COLUMNS 16
#define ZP_MAX_RESULTS 8
#define ZP_MAX_NAME 63

/* Given to zenith_plugin_init once per instance, at load (112 bytes). "in": the host wrote it;
   "out": the plugin may write it (zeroed by the host before the call). */
typedef struct zp_init {
    uint32_t abi;                        /* in: the host's ABI version (1) */
    uint32_t instance;                   /* in: this instance's number, 0 .. instances - 1 */
    uint32_t instances;                  /* in: instances of the plugin (each has its own memory and state) */
    uint32_t max_rows;                   /* in: the largest batch the plugin will be given */
    const uint8_t *params;               /* in: a copy of zenith_plugin_config.params (NULL when none) */
    uint32_t params_len;                 /* in: its length in bytes */
    uint32_t ncolumns;                   /* out: columns wanted per batch, at most ZP_MAX_COLUMNS */
    uint32_t nresults;                   /* out: result values, at most ZP_MAX_RESULTS */
    const double *results;               /* out: where they live (8-byte aligned); read by zenith_plugin_result */
    uint8_t result_ops[ZP_MAX_RESULTS];  /* out: ZP_SUM, ZP_MIN or ZP_MAX per result */
    uint32_t flags;                      /* out: 0 (reserved) */
    const char *columns[ZP_MAX_COLUMNS]; /* out: their names, NUL-terminated, at most 63 bytes */
} zp_init;

/* One column of a batch (24 bytes): the host's copy of the Arrow buffers, offset removed. */
typedef struct zp_column {
    uint32_t type;           /* ZP_INT8 ... */
    uint32_t unit;           /* ZP_SECOND ... for the time types, else 0 */
    const void *data;        /* rows values, 8-byte aligned (bool: bits) */
    const uint8_t *validity; /* bit i set = row i is valid; NULL when no row is null */
    uint32_t null_count;     /* rows that are null */
    uint32_t bit_width;      /* 1 (bool), 8, 16, 32 or 64 */
} zp_column;

/* Given to zenith_plugin_batch once per batch (48 bytes, then the columns). */
typedef struct zp_batch {
    uint32_t abi;       /* 1 */
    uint32_t rows;      /* rows in the batch (at most max_rows) */
    uint32_t ncolumns;  /* the columns asked for at init, in that order */
    uint8_t *selection; /* (rows + 7) / 8 zeroed bytes: set bit i to let row i pass (ZP_SELECT) */
    uint64_t source_id; /* as given to zenith_publish */
    uint64_t seq_no;
    const zp_column *columns;
    uint32_t flags; /* 0 (reserved) */
    uint64_t reserved_;
} zp_batch;

_Static_assert(sizeof(zp_init) == 112, "zp_init is 112 bytes in ABI 1");
_Static_assert(sizeof(zp_column) == 24, "zp_column is 24 bytes in ABI 1");
_Static_assert(sizeof(zp_batch) == 48, "zp_batch is 48 bytes in ABI 1");

/* 1 if row i of c is valid (not null). */
static inline int zp_valid(const zp_column *c, uint32_t i) {
    return c->validity == 0 || ((c->validity[i >> 3] >> (i & 7)) & 1);
}

/* Lets row i pass (for ZP_SELECT). */
static inline void zp_select(const zp_batch *b, uint32_t i) { b->selection[i >> 3] |= (uint8_t)(1u << (i & 7)); }

/* Row i of any numeric column as a double (bool: 0 or 1; a null row's value is whatever the
   producer left there: check zp_valid). */
static inline double zp_f64(const zp_column *c, uint32_t i) {
    switch (c->type) {
        case ZP_BOOL: return (double)((((const uint8_t *)c->data)[i >> 3] >> (i & 7)) & 1);
        case ZP_INT8: return (double)((const int8_t *)c->data)[i];
        case ZP_UINT8: return (double)((const uint8_t *)c->data)[i];
        case ZP_INT16: return (double)((const int16_t *)c->data)[i];
        case ZP_UINT16: return (double)((const uint16_t *)c->data)[i];
        case ZP_INT32:
        case ZP_DATE32:
        case ZP_TIME32: return (double)((const int32_t *)c->data)[i];
        case ZP_UINT32: return (double)((const uint32_t *)c->data)[i];
        case ZP_UINT64: return (double)((const uint64_t *)c->data)[i];
        case ZP_FLOAT32: return (double)((const float *)c->data)[i];
        case ZP_FLOAT64: return ((const double *)c->data)[i];
        default: return (double)((const int64_t *)c->data)[i]; /* int64 and the 64-bit times */
    }
}

/* Row i of any integer or time column as an int64 (floats truncated toward zero). */
static inline int64_t zp_i64(const zp_column *c, uint32_t i) {
    switch (c->type) {
        case ZP_FLOAT32: return (int64_t)((const float *)c->data)[i];
        case ZP_FLOAT64: return (int64_t)((const double *)c->data)[i];
        case ZP_UINT64: return (int64_t)((const uint64_t *)c->data)[i];
        case ZP_INT64:
        case ZP_TIMESTAMP:
        case ZP_DATE64:
        case ZP_TIME64:
        case ZP_DURATION: return ((const int64_t *)c->data)[i];
        default: return (int64_t)zp_f64(c, i);
    }
}

/* Rows [from, from + n) of any column as doubles into out[0 .. n): one tight loop per type, so
   the type is decided once per call, not per row (fuel is charged per loop iteration for the
   whole loop body: a per-row switch costs every case's instructions on every row). Convert in
   chunks (e.g. 256 rows into a static buffer) and run your loop over the doubles. */
static inline void zp_load_f64(const zp_column *c, uint32_t from, uint32_t n, double *out) {
    uint32_t i;
    switch (c->type) {
        case ZP_BOOL:
            for (i = 0; i < n; i++)
                out[i] = (double)((((const uint8_t *)c->data)[(from + i) >> 3] >> ((from + i) & 7)) & 1);
            break;
        case ZP_INT8:
            for (i = 0; i < n; i++) out[i] = (double)((const int8_t *)c->data)[from + i];
            break;
        case ZP_UINT8:
            for (i = 0; i < n; i++) out[i] = (double)((const uint8_t *)c->data)[from + i];
            break;
        case ZP_INT16:
            for (i = 0; i < n; i++) out[i] = (double)((const int16_t *)c->data)[from + i];
            break;
        case ZP_UINT16:
            for (i = 0; i < n; i++) out[i] = (double)((const uint16_t *)c->data)[from + i];
            break;
        case ZP_INT32:
        case ZP_DATE32:
        case ZP_TIME32:
            for (i = 0; i < n; i++) out[i] = (double)((const int32_t *)c->data)[from + i];
            break;
        case ZP_UINT32:
            for (i = 0; i < n; i++) out[i] = (double)((const uint32_t *)c->data)[from + i];
            break;
        case ZP_UINT64:
            for (i = 0; i < n; i++) out[i] = (double)((const uint64_t *)c->data)[from + i];
            break;
        case ZP_FLOAT32:
            for (i = 0; i < n; i++) out[i] = (double)((const float *)c->data)[from + i];
            break;
        case ZP_FLOAT64:
            for (i = 0; i < n; i++) out[i] = ((const double *)c->data)[from + i];
            break;
        default:
            for (i = 0; i < n; i++) out[i] = (double)((const int64_t *)c->data)[from + i];
            break;
    }
}

/* ---- host kernels: optional imports of module "zenith" ----------------------------------------
   Whole-column loops the host runs natively on this plugin's own memory, for the per-row work
   an interpreter is slowest at (a range filter, a sum, a dot product: ~0.3 ns per row instead of
   ~5). A plugin imports only those it calls (wasm-ld drops the rest); every range is checked
   against the plugin's memory (a trap when out, the failure rule applies) and each call costs
   1 + n/8 fuel. Rows are 0 .. n-1; validity is a column's bitmap or NULL (all valid). */
#define ZP_IMPORT(name) __attribute__((import_module("zenith"), import_name(#name)))

/* Sets selection bit i (whole bytes written: (n + 7) / 8 of them, bits past n cleared) when row
   i is valid and lo <= data[i] <= hi (NaN never). Returns the rows selected. */
ZP_IMPORT(select_range_f64)
uint32_t zp_select_range_f64(const double *data, const uint8_t *validity, uint32_t n, double lo, double hi,
                             uint8_t *selection);
/* The same over int64 values (ZP_INT64, ZP_TIMESTAMP, ZP_DATE64, ZP_TIME64, ZP_DURATION). */
ZP_IMPORT(select_range_i64)
uint32_t zp_select_range_i64(const int64_t *data, const uint8_t *validity, uint32_t n, int64_t lo, int64_t hi,
                             uint8_t *selection);
/* The valid values summed in row order. */
ZP_IMPORT(sum_f64) double zp_sum_f64(const double *data, const uint8_t *validity, uint32_t n);
/* a[i] * b[i] summed in row order over the rows valid in both. */
ZP_IMPORT(dot_f64)
double zp_dot_f64(const double *a, const uint8_t *a_validity, const double *b, const uint8_t *b_validity, uint32_t n);

#ifndef ZP_NO_RUNTIME
/* The two exports every plugin needs. zenith_plugin_alloc hands the host 16-byte aligned memory
   above the plugin's data and stack (a bump allocator: the host asks at load and when a batch
   needs more than any before; nothing is ever freed), growing the memory as needed. */
extern unsigned char __heap_base;
static uint32_t zp__brk;

ZP_EXPORT(zenith_plugin_abi) int32_t zenith_plugin_abi(void) { return ZP_ABI_VERSION; }

ZP_EXPORT(zenith_plugin_alloc) void *zenith_plugin_alloc(uint32_t size) {
    uint32_t p, end, have;
    if (zp__brk == 0) zp__brk = (uint32_t)(unsigned long)&__heap_base;
    p = (zp__brk + 15u) & ~15u;
    end = p + size;
    if (end < p) return 0;
    have = (uint32_t)__builtin_wasm_memory_size(0) * 65536u;
    if (end > have && __builtin_wasm_memory_grow(0, (end - have + 65535u) / 65536u) == (unsigned long)-1) return 0;
    zp__brk = end;
    return (void *)(unsigned long)p;
}
#endif

#endif /* ZENITH_PLUGIN_H */
