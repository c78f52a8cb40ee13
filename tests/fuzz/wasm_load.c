/* wasm_load.c -- libFuzzer target for zenith_wasm.h's decoder, validator and translator.

   Every input is handed to zenith_wasm_module_load as a module's bytes. The loader must never
   crash, leak, read outside the input or hang, whatever the bytes: it either refuses them with
   a code among MALFORMED / INVALID / LIMIT / NOMEM and a NUL-terminated one-line message, or
   returns a module whose imports and exports can all be listed (their names inside the module,
   their types of known value types), and that frees cleanly.

   Build and run (seed corpus: tests/fuzz/wasm_seeds.sh, from the spec suite's modules):
     clang -std=c11 -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
       -Wall -Wextra -Wpedantic -Werror -I. tests/fuzz/wasm_load.c -o build/fuzz/wasm_load -lm
     build/fuzz/wasm_load -max_total_time=60 build/fuzz/wasm_corpus/load */
#define ZENITH_WASM_IMPLEMENTATION
#include "zenith_wasm.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_type(const zenith_wasm_functype *t) {
    uint32_t i;
    for (i = 0; i < t->nparams; i++)
        if (t->params[i] < ZENITH_WASM_F64 || t->params[i] > ZENITH_WASM_I32) abort();
    for (i = 0; i < t->nresults; i++)
        if (t->results[i] < ZENITH_WASM_F64 || t->results[i] > ZENITH_WASM_I32) abort();
}

static void check_info(const zenith_wasm_extern_info *info) {
    volatile uint8_t sink = 0;
    size_t i;
    if (info->kind > ZENITH_WASM_EXTERN_GLOBAL) abort();
    for (i = 0; i < info->module_len; i++) sink ^= (uint8_t)info->module[i]; /* ASan checks the reads */
    for (i = 0; i < info->name_len; i++) sink ^= (uint8_t)info->name[i];
    if (info->kind == ZENITH_WASM_EXTERN_FUNC) check_type(&info->func);
    if (info->kind == ZENITH_WASM_EXTERN_GLOBAL &&
        (info->global_type < ZENITH_WASM_F64 || info->global_type > ZENITH_WASM_I32 || info->global_mutable > 1))
        abort();
    (void)sink;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    zenith_wasm_error e;
    zenith_wasm_module *m;
    uint32_t i, n;

    memset(&e, 0, sizeof e);
    m = zenith_wasm_module_load(data, size, &e);
    if (m == NULL) {
        if (e.code != ZENITH_WASM_E_MALFORMED && e.code != ZENITH_WASM_E_INVALID && e.code != ZENITH_WASM_E_LIMIT &&
            e.code != ZENITH_WASM_E_NOMEM)
            abort();
        if (memchr(e.message, '\0', sizeof e.message) == NULL || e.message[0] == '\0') abort();
        if (e.offset > size) abort();
        return 0;
    }
    n = zenith_wasm_module_import_count(m);
    for (i = 0; i < n; i++) {
        zenith_wasm_extern_info info;
        memset(&info, 0, sizeof info);
        if (zenith_wasm_module_import(m, i, &info) != 0) abort();
        check_info(&info);
    }
    n = zenith_wasm_module_export_count(m);
    for (i = 0; i < n; i++) {
        zenith_wasm_extern_info info;
        memset(&info, 0, sizeof info);
        if (zenith_wasm_module_export(m, i, &info) != 0) abort();
        check_info(&info);
    }
    zenith_wasm_module_destroy(m);
    return 0;
}
