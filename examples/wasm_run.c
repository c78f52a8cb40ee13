/* wasm_run.c -- runs one exported function of a WebAssembly module from the command line.

   Shows: zenith_wasm.h end to end: load (decode + validate + translate) with the refusal's reason
   and offset, a store with a fuel budget, a memory cap and a call-depth cap, instantiation
   (imports refused, or satisfied by stubs that print their calls), an export found by name, its
   type read back to parse the arguments, a typed call, and every trap reported by name.

   Needs: a C11 compiler, libm; nothing else (no zenith.h, no liburing).
   Build: cc -O2 examples/wasm_run.c -I. -lm -o wasm_run
   Run:   ./wasm_run FILE.wasm FUNC [ARG...]       e.g. ./wasm_run add.wasm add 2 40   -> 42
          (a module: printf '(module (func (export "add") (param i32 i32) (result i32)
           local.get 0 local.get 1 i32.add))' > add.wat && wat2wasm add.wat, Debian's wabt)
   Flags (before FILE):
          --fuel N        fuel per call, in wasm instructions (default 1000000000, about a second
                          or two; 0 = unlimited): a runaway module stops with "trap: fuel exhausted"
          --max-pages N   cap on linear memory, 64 KiB pages (default 16384 = 1 GiB)
          --max-depth N   cap on wasm call depth, frames (default 10000)
          --stub-imports  satisfy every import with a stub instead of refusing the module: an
                          imported function prints "MODULE.NAME(ARG, ...)" on stdout and returns
                          zeros; an imported memory or table gets its minimum size, a global zero
          --stats         print the fuel the call used on stderr
          -h, --help
   Arguments are decimal literals typed by FUNC's parameters: i32 takes -2147483648..4294967295,
   i64 -2^63..2^64-1 (above the signed maximum: the same bits), f32 and f64 any strtod form
   (1.5, -0, 1e300, inf, nan). Each result is printed on its own line: integers as signed
   decimals, floats with %.17g (so they read back exactly).
   Exit status: 0 the call returned; 1 usage; 2 a trap ("trap: REASON" on stderr, also from the
   start function); 3 the file cannot be read or the module is refused (the reason, section and
   byte offset on stderr); 4 the module cannot be instantiated (it has imports and no
   --stub-imports, or a segment does not fit, or its memory is over --max-pages); 5 no exported
   function of that name (the exported functions are listed); 6 wrong number of arguments or an
   argument that is not a literal of its type. */
#define ZENITH_WASM_IMPLEMENTATION
#include "zenith_wasm.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { EXIT_USAGE = 1, EXIT_TRAP = 2, EXIT_LOAD = 3, EXIT_INSTANTIATE = 4, EXIT_EXPORT = 5, EXIT_ARGS = 6 };

#define DEFAULT_FUEL 1000000000ull
#define DEFAULT_MAX_PAGES 16384u
#define MAX_VALUES 64 /* arguments and results of one call */

static void usage(FILE *to) {
    fprintf(to, "usage: wasm_run [--fuel N] [--max-pages N] [--max-depth N] [--stub-imports] [--stats]\n"
                "                FILE.wasm FUNC [ARG...]\n");
}

static const char *type_name(uint32_t t) {
    switch (t) {
        case ZENITH_WASM_I32: return "i32";
        case ZENITH_WASM_I64: return "i64";
        case ZENITH_WASM_F32: return "f32";
        case ZENITH_WASM_F64: return "f64";
        default: return "?";
    }
}

static void print_value(FILE *to, const zenith_wasm_value *v) {
    switch (v->type) {
        case ZENITH_WASM_I32: fprintf(to, "%" PRId32, v->of.i32); break;
        case ZENITH_WASM_I64: fprintf(to, "%" PRId64, v->of.i64); break;
        case ZENITH_WASM_F32: fprintf(to, "%.17g", (double)v->of.f32); break;
        default: fprintf(to, "%.17g", v->of.f64); break;
    }
}

/* Parses s as a literal of type t into *v; 0 or -1. */
static int parse_value(const char *s, uint32_t t, zenith_wasm_value *v) {
    char *end = NULL;
    v->type = t;
    errno = 0;
    if (t == ZENITH_WASM_I32 || t == ZENITH_WASM_I64) {
        int neg = s[0] == '-';
        const char *digits = (s[0] == '-' || s[0] == '+') ? s + 1 : s;
        unsigned long long mag;
        if (*digits < '0' || *digits > '9') return -1; /* strtoull accepts spaces and a sign */
        mag = strtoull(digits, &end, 10);
        if (errno != 0 || *end != '\0') return -1;
        if (t == ZENITH_WASM_I32) {
            if (neg ? mag > 2147483648ull : mag > 4294967295ull) return -1;
            v->of.u32 = neg ? (uint32_t)(0u - (uint32_t)mag) : (uint32_t)mag;
        } else {
            if (neg && mag > 9223372036854775808ull) return -1;
            v->of.u64 = neg ? 0u - (uint64_t)mag : (uint64_t)mag;
        }
        return 0;
    }
    if (s[0] == '\0' || s[0] == ' ' || s[0] == '\t' || s[0] == '\n') return -1;
    if (t == ZENITH_WASM_F32) {
        v->of.f32 = strtof(s, &end); /* not (float)strtod: that rounds twice */
    } else {
        v->of.f64 = strtod(s, &end);
    }
    return *end == '\0' ? 0 : -1; /* ERANGE (overflow to inf, underflow) is the literal's value */
}

/* Parses an unsigned decimal option value; 0 or -1. */
static int parse_u64(const char *s, uint64_t *out) {
    char *end = NULL;
    if (s == NULL || *s < '0' || *s > '9') return -1;
    errno = 0;
    *out = strtoull(s, &end, 10);
    return errno == 0 && *end == '\0' ? 0 : -1;
}

static int bad_number(const char *option, const char *range) {
    fprintf(stderr, "wasm_run: %s needs a number (%s)\n", option, range);
    return EXIT_USAGE;
}

/* The whole file (or stdin for "-"), malloc'ed; NULL with errno set. */
static uint8_t *read_file(const char *path, size_t *len) {
    FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
    uint8_t *buf = NULL;
    size_t cap = 0, n = 0;
    if (f == NULL) return NULL;
    for (;;) {
        size_t got;
        if (n == cap) {
            uint8_t *bigger;
            cap = cap ? cap * 2 : 65536;
            bigger = (uint8_t *)realloc(buf, cap);
            if (bigger == NULL) {
                free(buf);
                if (f != stdin) fclose(f);
                errno = ENOMEM;
                return NULL;
            }
            buf = bigger;
        }
        got = fread(buf + n, 1, cap - n, f);
        n += got;
        if (got == 0) break;
    }
    if (ferror(f)) {
        int e = errno ? errno : EIO;
        free(buf);
        if (f != stdin) fclose(f);
        errno = e;
        return NULL;
    }
    if (f != stdin) fclose(f);
    *len = n;
    return buf;
}

/* --stub-imports: one stub per imported function. */
typedef struct stub {
    const char *module, *name;
    size_t module_len, name_len;
    uint32_t nparams, nresults;
} stub;

static int stub_call(void *user, zenith_wasm_instance *caller, const zenith_wasm_value *args,
                     zenith_wasm_value *results) {
    const stub *st = (const stub *)user;
    uint32_t i;
    (void)caller;
    printf("%.*s.%.*s(", (int)st->module_len, st->module, (int)st->name_len, st->name);
    for (i = 0; i < st->nparams; i++) {
        if (i) printf(", ");
        print_value(stdout, &args[i]);
    }
    printf(")\n");
    for (i = 0; i < st->nresults; i++) results[i].of.u64 = 0; /* types are preset */
    return 0;
}

/* Creates an extern for each import (stubs) into externs[]; 0 or the exit status. */
static int stub_imports(zenith_wasm_store *store, const zenith_wasm_module *m, zenith_wasm_extern **externs,
                        stub *stubs) {
    uint32_t i, n = zenith_wasm_module_import_count(m);
    for (i = 0; i < n; i++) {
        zenith_wasm_extern_info info;
        zenith_wasm_value zero;
        int err = 0;
        memset(&info, 0, sizeof info);
        zenith_wasm_module_import(m, i, &info);
        switch (info.kind) {
            case ZENITH_WASM_EXTERN_FUNC:
                stubs[i].module = info.module;
                stubs[i].module_len = info.module_len;
                stubs[i].name = info.name;
                stubs[i].name_len = info.name_len;
                stubs[i].nparams = info.func.nparams;
                stubs[i].nresults = info.func.nresults;
                externs[i] = zenith_wasm_func_new(store, &info.func, stub_call, &stubs[i], &err);
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
            fprintf(stderr, "wasm_run: cannot stub import %u (%.*s.%.*s): %s\n", i, (int)info.module_len, info.module,
                    (int)info.name_len, info.name, zenith_wasm_strerror(err));
            return EXIT_INSTANTIATE;
        }
    }
    return 0;
}

/* Lists the exported functions on stderr (after "no export"). */
static void list_functions(const zenith_wasm_module *m) {
    uint32_t i, n = zenith_wasm_module_export_count(m), shown = 0;
    fprintf(stderr, "wasm_run: exported functions:");
    for (i = 0; i < n; i++) {
        zenith_wasm_extern_info info;
        memset(&info, 0, sizeof info);
        if (zenith_wasm_module_export(m, i, &info) != 0 || info.kind != ZENITH_WASM_EXTERN_FUNC) continue;
        fprintf(stderr, " %.*s", (int)info.name_len, info.name);
        shown++;
    }
    fprintf(stderr, "%s\n", shown ? "" : " none");
}

static int run(const char *path, const char *fname, char **argv, int argc, const zenith_wasm_config *cfg,
               int stubs_wanted, int stats) {
    static const char *const kinds[] = { "function", "table", "memory", "global" };
    zenith_wasm_error e;
    zenith_wasm_module *m = NULL;
    zenith_wasm_store *store = NULL;
    zenith_wasm_instance *in = NULL;
    zenith_wasm_extern **externs = NULL;
    zenith_wasm_extern *fn;
    zenith_wasm_functype type;
    zenith_wasm_value args[MAX_VALUES], results[MAX_VALUES];
    stub *stubs = NULL;
    uint32_t nimports, i;
    size_t len = 0;
    int rc, status = 0, err = 0;
    uint8_t *bytes = read_file(path, &len);

    if (bytes == NULL) {
        fprintf(stderr, "wasm_run: %s: %s\n", path, strerror(errno));
        return EXIT_LOAD;
    }
    memset(&e, 0, sizeof e);
    m = zenith_wasm_module_load(bytes, len, &e);
    free(bytes);
    if (m == NULL) {
        fprintf(stderr, "wasm_run: %s: %s: %s", path, zenith_wasm_errname(e.code), e.message);
        if (e.section != 0xffffffffu)
            fprintf(stderr, " (section %u", e.section);
        else
            fprintf(stderr, " (");
        fprintf(stderr, "%soffset %" PRIu64 " = 0x%" PRIx64 ")\n", e.section != 0xffffffffu ? ", " : "", e.offset,
                e.offset);
        return EXIT_LOAD;
    }

    nimports = zenith_wasm_module_import_count(m);
    if (nimports > 0 && !stubs_wanted) {
        zenith_wasm_extern_info info;
        memset(&info, 0, sizeof info);
        zenith_wasm_module_import(m, 0, &info);
        fprintf(stderr,
                "wasm_run: %s has %u import%s (the first: %s %.*s.%.*s); wasm_run provides none "
                "(--stub-imports: stubs that print their calls)\n",
                path, nimports, nimports == 1 ? "" : "s", kinds[info.kind & 3], (int)info.module_len, info.module,
                (int)info.name_len, info.name);
        status = EXIT_INSTANTIATE;
        goto out;
    }

    store = zenith_wasm_store_create(cfg, &err);
    if (store == NULL) {
        fprintf(stderr, "wasm_run: cannot create a store: %s\n", zenith_wasm_strerror(err));
        status = EXIT_INSTANTIATE;
        goto out;
    }
    if (nimports > 0) {
        externs = (zenith_wasm_extern **)calloc(nimports, sizeof *externs);
        stubs = (stub *)calloc(nimports, sizeof *stubs);
        if (externs == NULL || stubs == NULL) {
            fprintf(stderr, "wasm_run: out of memory\n");
            status = EXIT_INSTANTIATE;
            goto out;
        }
        status = stub_imports(store, m, externs, stubs);
        if (status != 0) goto out;
    }
    memset(&e, 0, sizeof e);
    in = zenith_wasm_instantiate_ordered(store, m, externs, nimports, &e);
    if (in == NULL) {
        if (ZENITH_WASM_IS_TRAP(e.code)) {
            fprintf(stderr, "trap: %s (in the start function)\n", zenith_wasm_strerror(e.code));
            status = EXIT_TRAP;
        } else {
            fprintf(stderr, "wasm_run: %s: cannot instantiate: %s: %s\n", path, zenith_wasm_errname(e.code),
                    e.message[0] ? e.message : zenith_wasm_strerror(e.code));
            status = EXIT_INSTANTIATE;
        }
        goto out;
    }

    fn = zenith_wasm_instance_export(in, fname);
    if (fn == NULL || zenith_wasm_extern_kind(fn) != ZENITH_WASM_EXTERN_FUNC) {
        if (fn == NULL)
            fprintf(stderr, "wasm_run: %s: no export \"%s\"\n", path, fname);
        else
            fprintf(stderr, "wasm_run: %s: export \"%s\" is a %s, not a function\n", path, fname,
                    kinds[zenith_wasm_extern_kind(fn) & 3]);
        list_functions(m);
        status = EXIT_EXPORT;
        goto out;
    }
    zenith_wasm_func_type(fn, &type);
    if ((uint32_t)argc != type.nparams || type.nparams > MAX_VALUES || type.nresults > MAX_VALUES) {
        fprintf(stderr, "wasm_run: %s takes %u argument%s (", fname, type.nparams, type.nparams == 1 ? "" : "s");
        for (i = 0; i < type.nparams; i++) fprintf(stderr, "%s%s", i ? " " : "", type_name(type.params[i]));
        fprintf(stderr, "), got %d\n", argc);
        status = EXIT_ARGS;
        goto out;
    }
    for (i = 0; i < type.nparams; i++) {
        if (parse_value(argv[i], type.params[i], &args[i]) != 0) {
            fprintf(stderr, "wasm_run: argument %u: \"%s\" is not an %s literal (%s)\n", i + 1, argv[i],
                    type_name(type.params[i]),
                    type.params[i] == ZENITH_WASM_I32   ? "a decimal integer, -2147483648..4294967295"
                    : type.params[i] == ZENITH_WASM_I64 ? "a decimal integer, -2^63..2^64-1"
                                                        : "a decimal number, inf or nan");
            status = EXIT_ARGS;
            goto out;
        }
    }

    rc = zenith_wasm_call(fn, args, type.nparams, results, type.nresults);
    fflush(stdout); /* stub output first */
    if (stats) fprintf(stderr, "fuel used: %" PRIu64 "\n", zenith_wasm_store_fuel_used(store));
    if (rc != 0) {
        if (ZENITH_WASM_IS_TRAP(rc)) {
            fprintf(stderr, "trap: %s\n", zenith_wasm_strerror(rc));
            status = EXIT_TRAP;
        } else {
            fprintf(stderr, "wasm_run: call failed: %s\n", zenith_wasm_strerror(rc));
            status = EXIT_ARGS;
        }
        goto out;
    }
    for (i = 0; i < type.nresults; i++) {
        print_value(stdout, &results[i]);
        putchar('\n');
    }

out:
    zenith_wasm_store_destroy(store);
    zenith_wasm_module_destroy(m);
    free(externs);
    free(stubs);
    return status;
}

int main(int argc, char **argv) {
    zenith_wasm_config cfg;
    int i, stubs = 0, stats = 0;
    uint64_t v;

    memset(&cfg, 0, sizeof cfg);
    cfg.fuel = DEFAULT_FUEL;
    cfg.max_memory_pages = DEFAULT_MAX_PAGES;
    for (i = 1; i < argc && argv[i][0] == '-' && argv[i][1] != '\0'; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--") == 0) {
            i++;
            break;
        } else if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            usage(stdout);
            return 0;
        } else if (strcmp(a, "--stub-imports") == 0) {
            stubs = 1;
        } else if (strcmp(a, "--stats") == 0) {
            stats = 1;
        } else if (strcmp(a, "--fuel") == 0) {
            if (parse_u64(i + 1 < argc ? argv[i + 1] : NULL, &v) != 0) return bad_number(a, "0 = unlimited");
            cfg.fuel = v;
            i++;
        } else if (strcmp(a, "--max-pages") == 0) {
            if (parse_u64(i + 1 < argc ? argv[i + 1] : NULL, &v) != 0 || v == 0 || v > 65536)
                return bad_number(a, "1..65536");
            cfg.max_memory_pages = (uint32_t)v;
            i++;
        } else if (strcmp(a, "--max-depth") == 0) {
            if (parse_u64(i + 1 < argc ? argv[i + 1] : NULL, &v) != 0 || v == 0 || v > 0xffffffffu)
                return bad_number(a, "1..4294967295");
            cfg.max_call_depth = (uint32_t)v;
            i++;
        } else {
            fprintf(stderr, "wasm_run: unknown option %s\n", a);
            usage(stderr);
            return EXIT_USAGE;
        }
    }
    if (argc - i < 2) {
        usage(stderr);
        return EXIT_USAGE;
    }
    return run(argv[i], argv[i + 1], argv + i + 2, argc - i - 2, &cfg, stubs, stats);
}
