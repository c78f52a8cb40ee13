/* wasm_bench.c -- zenith_wasm.h's interpreter against native C and against wasm3 on the same
   kernels (bench/wasm/kernels.c: CRC-32, a tree-insert sort, a matrix multiply, SHA-256, the
   price-range filter), and the load (decode + validate + translate) time per KiB of module.

   wasm_bench [-r REPS] [-l LOAD_REPS] [-e ENGINE] [-k KERNEL] KERNELS.wasm [MORE.wasm ...]

   Each engine instantiates KERNELS.wasm and calls bench_init. Then, kernel by kernel, each engine
   calls it once to warm up (its checksum checked against the native build's), and REPS times
   (default 7) interleaved: native, Zenith, wasm3, native, Zenith, wasm3... so that a change in
   the machine's load hits every engine alike. Times are the calling thread's CPU time
   (CLOCK_THREAD_CPUTIME_ID: time spent descheduled is not counted). Printed: each engine's
   median and minimum, and the median of the per-round ratios Zenith/wasm3 and Zenith/native. Load time: each .wasm file given is loaded LOAD_REPS times
   (default 50); the median per KiB is printed. -e native|zenith|wasm3 and -k crc32|sort|... run
   one engine or one kernel only (the native build still runs each kernel once for its checksum:
   with valgrind --tool=callgrind, the instructions of N calls are the difference between a run
   with -r N+1 and one with -r 1). One line per measurement:
       kernel NAME ENGINE MEDIAN_MS min MIN_MS
       ratio NAME zenith/OTHER MEDIAN_RATIO
       load FILE ENGINE KIB US_PER_KIB
   bench/wasm_compare.sh builds the kernels and this runner and prints the table.

   Build (Zenith and native): cc -O2 bench/wasm_bench.c -I. -lm -o wasm_bench
   With wasm3 (bench/wasm3_build.sh does it from a fetched wasm3 tree, never committed):
       CC -O2 -DWASM_BENCH_WASM3 -I. -IWASM3/source bench/wasm_bench.c LIBM3.a -lm -o wasm_bench */
#define _POSIX_C_SOURCE 200809L
#define ZENITH_WASM_IMPLEMENTATION
#include "zenith_wasm.h"

#include "wasm/kernels.c"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#ifdef WASM_BENCH_WASM3
#include "wasm3.h"
#endif

#define MAX_REPS 101

static const char *only_engine, *only_kernel; /* -e, -k: NULL = all */

typedef struct kernel {
    const char *name; /* export name */
    int is_f64;       /* result type: f64, else i32 */
    uint64_t (*native)(void);
    uint64_t expect; /* the native checksum (bits) */
} kernel;

static uint64_t n_crc32(void) { return bench_crc32(); }
static uint64_t n_sort(void) { return bench_sort(); }
static uint64_t n_matmul(void) {
    double d = bench_matmul();
    uint64_t u;
    memcpy(&u, &d, 8);
    return u;
}
static uint64_t n_sha256(void) { return bench_sha256(); }
static uint64_t n_filter(void) { return bench_filter(); }

static kernel kernels[] = {
    { "bench_crc32", 0, n_crc32, 0 },   { "bench_sort", 0, n_sort, 0 },     { "bench_matmul", 1, n_matmul, 0 },
    { "bench_sha256", 0, n_sha256, 0 }, { "bench_filter", 0, n_filter, 0 },
};
#define NKERNELS (sizeof kernels / sizeof kernels[0])

static int wanted(const char *engine, const kernel *k) {
    return (only_engine == NULL || strcmp(only_engine, engine) == 0) &&
           (k == NULL || only_kernel == NULL || strcmp(only_kernel, k->name + 6) == 0);
}

static double now_ms(void) { /* this thread's CPU time */
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double median(const double *v, int n) {
    double s[MAX_REPS * 4];
    memcpy(s, v, (size_t)n * sizeof *s);
    qsort(s, (size_t)n, sizeof *s, cmp_double);
    return n % 2 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
}

static uint8_t *read_file(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    uint8_t *buf;
    long n;
    if (f == NULL || fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) != 0) {
        fprintf(stderr, "wasm_bench: cannot read %s\n", path);
        exit(1);
    }
    buf = (uint8_t *)malloc((size_t)n + 1);
    if (buf == NULL || fread(buf, 1, (size_t)n, f) != (size_t)n) {
        fprintf(stderr, "wasm_bench: cannot read %s\n", path);
        exit(1);
    }
    fclose(f);
    *len = (size_t)n;
    return buf;
}

/* ---- the engines: set up once, then call kernel i and return its checksum ------------------- */

typedef struct engine {
    const char *name;
    int (*setup)(const uint8_t *bytes, size_t len); /* 0 or -1 (not available) */
    uint64_t (*call)(size_t i);
    void (*teardown)(void);
    int on;
} engine;

static int native_setup(const uint8_t *bytes, size_t len) {
    (void)bytes;
    (void)len;
    bench_init();
    return 0;
}
static uint64_t native_call(size_t i) { return kernels[i].native(); }
static void native_teardown(void) {}

static zenith_wasm_module *z_module;
static zenith_wasm_store *z_store;
static zenith_wasm_extern *z_fn[NKERNELS];

static int zenith_setup(const uint8_t *bytes, size_t len) {
    zenith_wasm_error e;
    zenith_wasm_instance *in;
    size_t i;
    int err = 0;
    memset(&e, 0, sizeof e);
    z_module = zenith_wasm_module_load(bytes, len, &e);
    if (z_module == NULL) {
        fprintf(stderr, "wasm_bench: zenith refused the kernels: %s\n", e.message);
        exit(1);
    }
    z_store = zenith_wasm_store_create(NULL, &err); /* defaults: no fuel limit */
    in = z_store ? zenith_wasm_instantiate(z_store, z_module, NULL, 0, &e) : NULL;
    if (in == NULL || zenith_wasm_call(zenith_wasm_instance_export(in, "bench_init"), NULL, 0, NULL, 0) != 0) {
        fprintf(stderr, "wasm_bench: zenith cannot instantiate the kernels: %s\n", e.message);
        exit(1);
    }
    for (i = 0; i < NKERNELS; i++) z_fn[i] = zenith_wasm_instance_export(in, kernels[i].name);
    return 0;
}
static uint64_t zenith_call(size_t i) {
    zenith_wasm_value res;
    int rc = zenith_wasm_call(z_fn[i], NULL, 0, &res, 1);
    if (rc != 0) {
        fprintf(stderr, "wasm_bench: zenith: %s: %s\n", kernels[i].name, zenith_wasm_strerror(rc));
        exit(1);
    }
    return kernels[i].is_f64 ? res.of.u64 : res.of.u32;
}
static void zenith_teardown(void) {
    zenith_wasm_store_destroy(z_store);
    zenith_wasm_module_destroy(z_module);
}

#ifdef WASM_BENCH_WASM3
static IM3Environment m3_env;
static IM3Runtime m3_rt;
static IM3Function m3_fn[NKERNELS];

static void m3_check(M3Result res, const char *what) {
    if (res != m3Err_none) {
        fprintf(stderr, "wasm_bench: wasm3: %s: %s\n", what, res);
        exit(1);
    }
}
static int wasm3_setup(const uint8_t *bytes, size_t len) {
    IM3Module mod;
    IM3Function init;
    size_t i;
    m3_env = m3_NewEnvironment();
    m3_rt = m3_NewRuntime(m3_env, 1u << 20, NULL);
    m3_check(m3_ParseModule(m3_env, &mod, bytes, (uint32_t)len), "parse"); /* bytes must outlive the module */
    m3_check(m3_LoadModule(m3_rt, mod), "load");
    m3_check(m3_FindFunction(&init, m3_rt, "bench_init"), "bench_init");
    m3_check(m3_CallV(init), "bench_init");
    for (i = 0; i < NKERNELS; i++) m3_check(m3_FindFunction(&m3_fn[i], m3_rt, kernels[i].name), kernels[i].name);
    return 0;
}
static uint64_t wasm3_call(size_t i) {
    uint32_t u32 = 0;
    double f64 = 0;
    uint64_t got;
    m3_check(m3_CallV(m3_fn[i]), kernels[i].name); /* the first call also compiles the function */
    if (kernels[i].is_f64) {
        m3_check(m3_GetResultsV(m3_fn[i], &f64), "results");
        memcpy(&got, &f64, 8);
    } else {
        m3_check(m3_GetResultsV(m3_fn[i], &u32), "results");
        got = u32;
    }
    return got;
}
static void wasm3_teardown(void) {
    m3_FreeRuntime(m3_rt);
    m3_FreeEnvironment(m3_env);
}
#endif

static engine engines[] = {
    { "native", native_setup, native_call, native_teardown, 0 },
    { "zenith", zenith_setup, zenith_call, zenith_teardown, 0 },
#ifdef WASM_BENCH_WASM3
    { "wasm3", wasm3_setup, wasm3_call, wasm3_teardown, 0 },
#endif
};
#define NENGINES (sizeof engines / sizeof engines[0])

static void run_kernels(const uint8_t *bytes, size_t len, int reps) {
    static double t[NENGINES][MAX_REPS];
    size_t i, e;
    int r;
    bench_init(); /* the native checksums first, whatever runs */
    for (i = 0; i < NKERNELS; i++) kernels[i].expect = kernels[i].native();
    for (e = 0; e < NENGINES; e++) engines[e].on = wanted(engines[e].name, NULL) && engines[e].setup(bytes, len) == 0;
    for (i = 0; i < NKERNELS; i++) {
        if (only_kernel != NULL && strcmp(only_kernel, kernels[i].name + 6) != 0) continue;
        for (e = 0; e < NENGINES; e++) {
            uint64_t got;
            if (!engines[e].on) continue;
            got = engines[e].call(i); /* warm-up and checksum */
            if (got != kernels[i].expect) {
                printf("kernel %s %s CHECKSUM-MISMATCH\n", kernels[i].name + 6, engines[e].name);
                fprintf(stderr, "wasm_bench: %s on %s returned %#llx, native %#llx\n", kernels[i].name, engines[e].name,
                        (unsigned long long)got, (unsigned long long)kernels[i].expect);
            }
        }
        for (r = 0; r < reps; r++)
            for (e = 0; e < NENGINES; e++) {
                double t0;
                if (!engines[e].on) continue;
                t0 = now_ms();
                (void)engines[e].call(i);
                t[e][r] = now_ms() - t0;
            }
        for (e = 0; e < NENGINES; e++) {
            double min = t[e][0];
            if (!engines[e].on) continue;
            for (r = 1; r < reps; r++)
                if (t[e][r] < min) min = t[e][r];
            printf("kernel %s %s %.3f min %.3f\n", kernels[i].name + 6, engines[e].name, median(t[e], reps), min);
        }
        for (e = 0; e < NENGINES; e++) { /* zenith (engine 1) against the others, round by round */
            double ratio[MAX_REPS];
            if (e == 1 || !engines[e].on || !engines[1].on) continue;
            for (r = 0; r < reps; r++) ratio[r] = t[1][r] / t[e][r];
            printf("ratio %s zenith/%s %.3f\n", kernels[i].name + 6, engines[e].name, median(ratio, reps));
        }
        fflush(stdout);
    }
    for (e = 0; e < NENGINES; e++)
        if (engines[e].on) engines[e].teardown();
}

/* ---- load time ---------------------------------------------------------------------------- */

static double load_zenith(const uint8_t *bytes, size_t len) {
    zenith_wasm_error e;
    zenith_wasm_module *m;
    double t0;
    memset(&e, 0, sizeof e);
    t0 = now_ms();
    m = zenith_wasm_module_load(bytes, len, &e);
    t0 = now_ms() - t0;
    if (m == NULL) return -1;
    zenith_wasm_module_destroy(m);
    return t0;
}

#ifdef WASM_BENCH_WASM3
/* parse + compile every function (wasm3 otherwise compiles each on its first call); not the
   load in between, which allocates the module's memory (Zenith's load allocates none either) */
static double load_wasm3(const uint8_t *bytes, size_t len) {
    IM3Environment env = m3_NewEnvironment();
    IM3Runtime rt = m3_NewRuntime(env, 1u << 16, NULL);
    IM3Module mod;
    M3Result res;
    double t0 = now_ms(), t1 = 0, t2 = 0;
    res = m3_ParseModule(env, &mod, bytes, (uint32_t)len);
    t0 = now_ms() - t0;
    if (res == m3Err_none) res = m3_LoadModule(rt, mod);
    if (res == m3Err_none) {
        t1 = now_ms();
        res = m3_CompileModule(mod);
        t2 = now_ms();
    }
    m3_FreeRuntime(rt);
    m3_FreeEnvironment(env);
    return res == m3Err_none ? t0 + (t2 - t1) : -1;
}
#endif

static void run_load(const char *path, int reps) {
    size_t len;
    uint8_t *bytes = read_file(path, &len);
    double t[MAX_REPS * 4];
    double kib = (double)len / 1024;
    int r;
    if (reps > MAX_REPS * 4) reps = MAX_REPS * 4;
    for (r = 0; r < reps; r++) t[r] = load_zenith(bytes, len);
    if (t[0] >= 0) printf("load %s zenith %.1f %.3f\n", path, kib, median(t, reps) * 1e3 / kib);
#ifdef WASM_BENCH_WASM3
    for (r = 0; r < reps; r++) t[r] = load_wasm3(bytes, len);
    if (t[0] >= 0) printf("load %s wasm3 %.1f %.3f\n", path, kib, median(t, reps) * 1e3 / kib);
#endif
    free(bytes);
}

int main(int argc, char **argv) {
    int reps = 7, load_reps = 50, i = 1;
    size_t len;
    uint8_t *bytes;
    for (; i + 1 < argc && argv[i][0] == '-'; i += 2) {
        if (strcmp(argv[i], "-r") == 0)
            reps = atoi(argv[i + 1]);
        else if (strcmp(argv[i], "-l") == 0)
            load_reps = atoi(argv[i + 1]);
        else if (strcmp(argv[i], "-e") == 0)
            only_engine = argv[i + 1];
        else if (strcmp(argv[i], "-k") == 0)
            only_kernel = argv[i + 1];
        else
            break;
    }
    if (i >= argc || reps < 1 || reps > MAX_REPS || load_reps < 1) {
        fprintf(
            stderr,
            "usage: wasm_bench [-r REPS (1..%d)] [-l LOAD_REPS] [-e ENGINE] [-k KERNEL] KERNELS.wasm [MORE.wasm...]\n",
            MAX_REPS);
        return 1;
    }
    bytes = read_file(argv[i], &len);
    run_kernels(bytes, len, reps);
    free(bytes);
    if (only_engine == NULL && only_kernel == NULL)
        for (; i < argc; i++) run_load(argv[i], load_reps);
    return 0;
}
