/* wasm_run.c -- libFuzzer target for zenith_wasm.h's instantiation and interpreter.

   Every input is loaded as a module; one the loader accepts is instantiated in a small sandbox
   (fuel FUEL per call, MAX_PAGES pages of memory, MAX_DEPTH frames, the smallest value stack)
   with a stub for each of its imports: a function that returns values derived from its
   arguments and, when the input's last byte says so, calls back into the instance (nested
   calls, up to NEST_MAX deep); a memory or table of its minimum size; a zero global. Then every
   exported function is called twice: with zero arguments, then with edge values (-1, INT_MIN,
   NaN, -0.0, ...). A call may trap (any trap is fine); it must never crash, leak, hang, or come
   back with a code that is not a trap. After the calls, the instance's memory, globals and table
   are read through the host API.

   Build and run (seed corpus: tests/fuzz/wasm_seeds.sh, from the spec suite's modules):
     clang -std=c11 -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
       -Wall -Wextra -Wpedantic -Werror -I. tests/fuzz/wasm_run.c -o build/fuzz/wasm_run -lm
     build/fuzz/wasm_run -max_total_time=60 -timeout=10 build/fuzz/wasm_corpus/run */
#define ZENITH_WASM_IMPLEMENTATION
#include "zenith_wasm.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define FUEL 20000u
#define MAX_PAGES 16u
#define MAX_DEPTH 256u
#define NEST_MAX 4
#define MAX_IMPORTS 64u
#define MAX_CALLS 64u /* exported functions called per input */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

typedef struct ctx {
    uint32_t nparams, nresults;
    int reenter; /* nested calls allowed */
} ctx;

static int nesting;

static void edge_value(zenith_wasm_value *v, uint32_t type, unsigned k) {
    static const uint32_t e32[] = { 0xffffffffu, 0x80000000u, 0x7fffffffu, 1u, 0x7fc00000u, 0x80000000u, 65536u };
    static const uint64_t e64[] = { ~0ull,
                                    0x8000000000000000ull,
                                    0x7fffffffffffffffull,
                                    1ull,
                                    0x7ff8000000000001ull,
                                    0x8000000000000000ull,
                                    0x43e0000000000000ull };
    v->type = type;
    if (type == ZENITH_WASM_I32 || type == ZENITH_WASM_F32)
        v->of.u64 = e32[k % 7];
    else
        v->of.u64 = e64[k % 7];
}

/* Calls export i of the instance with zero (kind 0) or edge (kind 1) arguments. */
static void call_export(zenith_wasm_instance *in, const zenith_wasm_module *m, uint32_t i, int kind) {
    zenith_wasm_extern_info info;
    zenith_wasm_extern *fn;
    zenith_wasm_value args[32], results[32];
    uint32_t j;
    int rc;

    memset(&info, 0, sizeof info);
    if (zenith_wasm_module_export(m, i, &info) != 0) abort();
    if (info.kind != ZENITH_WASM_EXTERN_FUNC || info.func.nparams > 32 || info.func.nresults > 32) return;
    fn = zenith_wasm_instance_export_n(in, info.name, info.name_len);
    if (fn == NULL) abort();
    for (j = 0; j < info.func.nparams; j++) {
        if (kind == 0) {
            memset(&args[j], 0, sizeof args[j]);
            args[j].type = info.func.params[j];
        } else {
            edge_value(&args[j], info.func.params[j], j + i);
        }
    }
    rc = zenith_wasm_call(fn, args, info.func.nparams, results, info.func.nresults);
    if (rc == 0) {
        for (j = 0; j < info.func.nresults; j++)
            if (results[j].type != info.func.results[j]) abort();
    } else if (!ZENITH_WASM_IS_TRAP(rc) && !(nesting > 0 && rc == ZENITH_WASM_E_STATE)) {
        abort();
    }
}

/* The module of the current input, for stubs that re-enter (set during the calls). */
static const zenith_wasm_module *current;

static int stub(void *user, zenith_wasm_instance *caller, const zenith_wasm_value *args, zenith_wasm_value *results) {
    const ctx *c = (const ctx *)user;
    uint32_t i;
    for (i = 0; i < c->nresults; i++)
        results[i].of.u64 = ((c->nparams > 0 ? args[0].of.u64 : 0) + 0x5a5a5a5a5a5a5a5aull) * (i + 1);
    if (caller == NULL || !c->reenter || nesting >= NEST_MAX || current == NULL) return 0;
    {
        zenith_wasm_extern *mem = zenith_wasm_instance_memory(caller);
        if (mem != NULL) { /* the host writes the memory's last bytes, then one byte past it */
            static const uint8_t b[8] = { 1, 2, 3, 4, 5, 6, 7, 8 };
            size_t sz = 0;
            zenith_wasm_memory_data(mem, &sz);
            if (sz >= 8 && zenith_wasm_memory_write(mem, sz - 8, b, 8) != 0) abort();
            if (zenith_wasm_memory_write(mem, sz, b, 1) != ZENITH_WASM_E_RANGE) abort();
        }
    }
    if (zenith_wasm_module_export_count(current) > 0) { /* nested call into the caller */
        nesting++;
        call_export(caller, current, (uint32_t)nesting % zenith_wasm_module_export_count(current), 0);
        nesting--;
    }
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    zenith_wasm_error e;
    zenith_wasm_module *m;
    zenith_wasm_store *store;
    zenith_wasm_instance *in;
    zenith_wasm_config cfg;
    zenith_wasm_extern *externs[MAX_IMPORTS];
    ctx ctxs[MAX_IMPORTS];
    uint32_t i, n, nexp;
    int err = 0, reenter = size > 0 && (data[size - 1] & 7) == 0;

    memset(&e, 0, sizeof e);
    m = zenith_wasm_module_load(data, size, &e);
    if (m == NULL) return 0;
    n = zenith_wasm_module_import_count(m);
    if (n > MAX_IMPORTS) {
        zenith_wasm_module_destroy(m);
        return 0;
    }
    memset(&cfg, 0, sizeof cfg);
    cfg.fuel = FUEL;
    cfg.max_memory_pages = MAX_PAGES;
    cfg.max_call_depth = MAX_DEPTH;
    cfg.value_stack_bytes = 65536;
    store = zenith_wasm_store_create(&cfg, &err);
    if (store == NULL) abort();

    for (i = 0; i < n; i++) {
        zenith_wasm_extern_info info;
        zenith_wasm_value zero;
        memset(&info, 0, sizeof info);
        if (zenith_wasm_module_import(m, i, &info) != 0) abort();
        err = 0;
        switch (info.kind) {
            case ZENITH_WASM_EXTERN_FUNC:
                ctxs[i].nparams = info.func.nparams;
                ctxs[i].nresults = info.func.nresults;
                ctxs[i].reenter = reenter;
                externs[i] = zenith_wasm_func_new(store, &info.func, stub, &ctxs[i], &err);
                break;
            case ZENITH_WASM_EXTERN_MEMORY: externs[i] = zenith_wasm_memory_new(store, &info.limits, &err); break;
            case ZENITH_WASM_EXTERN_TABLE: externs[i] = zenith_wasm_table_new(store, &info.limits, &err); break;
            default:
                memset(&zero, 0, sizeof zero);
                zero.type = info.global_type;
                externs[i] = zenith_wasm_global_new(store, &zero, (int)info.global_mutable, &err);
                break;
        }
        if (externs[i] == NULL) {
            /* only a memory or table over the caps (or huge) may be refused */
            if (info.kind == ZENITH_WASM_EXTERN_FUNC || info.kind == ZENITH_WASM_EXTERN_GLOBAL) abort();
            zenith_wasm_store_destroy(store);
            zenith_wasm_module_destroy(m);
            return 0;
        }
    }

    memset(&e, 0, sizeof e);
    in = zenith_wasm_instantiate_ordered(store, m, externs, n, &e);
    if (in != NULL) {
        zenith_wasm_extern *mem;
        int64_t old;
        current = m;
        nexp = zenith_wasm_module_export_count(m);
        for (i = 0; i < nexp && i < MAX_CALLS; i++) {
            call_export(in, m, i, 0);
            call_export(in, m, i, 1);
        }
        current = NULL;
        for (i = 0; i < nexp; i++) { /* the host's view of every export */
            zenith_wasm_extern_info info;
            zenith_wasm_extern *x;
            zenith_wasm_value v;
            memset(&info, 0, sizeof info);
            zenith_wasm_module_export(m, i, &info);
            x = zenith_wasm_instance_export_n(in, info.name, info.name_len);
            if (x == NULL || zenith_wasm_extern_kind(x) != (int)info.kind) abort();
            if (info.kind == ZENITH_WASM_EXTERN_GLOBAL) {
                if (zenith_wasm_global_get(x, &v) != 0 || v.type != info.global_type) abort();
            } else if (info.kind == ZENITH_WASM_EXTERN_TABLE) {
                zenith_wasm_extern *f = NULL;
                uint32_t ts = zenith_wasm_table_size(x);
                if (ts > 0 && zenith_wasm_table_get(x, ts - 1, &f) != 0) abort();
                if (zenith_wasm_table_get(x, ts, &f) != ZENITH_WASM_E_RANGE) abort();
            }
        }
        mem = zenith_wasm_instance_memory(in);
        if (mem != NULL) {
            size_t sz = 0;
            uint8_t *p = zenith_wasm_memory_data(mem, &sz);
            volatile uint8_t sink = 0;
            if (sz != (size_t)zenith_wasm_memory_pages(mem) * ZENITH_WASM_PAGE_SIZE) abort();
            if (sz > 0) sink ^= p[0] ^ p[sz - 1]; /* ASan checks the ends */
            (void)sink;
            old = zenith_wasm_memory_grow(mem, 1);
            if (old >= 0 ? zenith_wasm_memory_pages(mem) != (uint32_t)old + 1 : old != ZENITH_WASM_E_RANGE) abort();
        }
    } else if (e.code != ZENITH_WASM_E_SEGMENT && e.code != ZENITH_WASM_E_RANGE && e.code != ZENITH_WASM_E_NOMEM &&
               !ZENITH_WASM_IS_TRAP(e.code)) {
        abort(); /* stubs match every import: UNLINKABLE would be a bug */
    }
    zenith_wasm_store_destroy(store);
    zenith_wasm_module_destroy(m);
    return 0;
}
