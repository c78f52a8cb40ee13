/* wasm_bench.c -- zenith_wasm.h's interpreter against native C and against wasm3 on the same
   kernels (bench/wasm/kernels.c: CRC-32, a tree-insert sort, a matrix multiply, SHA-256, the
   price-range filter), and the load (decode + validate + translate) time per KiB of module.

   wasm_bench [-r REPS] [-l LOAD_REPS] KERNELS.wasm [MORE.wasm ...]

   Each engine instantiates KERNELS.wasm, calls bench_init, then each kernel once to warm up and
   REPS times (default 7) timed one by one; the median is printed, with the kernel's checksum
   checked against the native build's. Load time: each .wasm file given is loaded LOAD_REPS times
   (default 50); the median per KiB is printed. One line per measurement:
       kernel NAME ENGINE MEDIAN_MS [min MIN_MS]
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

static double now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double median(double *v, int n) {
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
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

static void report(const kernel *k, const char *engine, double *t, int reps, uint64_t got) {
    double min;
    int i;
    for (min = t[0], i = 1; i < reps; i++)
        if (t[i] < min) min = t[i];
    printf("kernel %s %s %.3f min %.3f%s\n", k->name + 6, engine, median(t, reps), min,
           got == k->expect ? "" : " CHECKSUM-MISMATCH");
    if (got != k->expect)
        fprintf(stderr, "wasm_bench: %s on %s returned %#llx, native %#llx\n", k->name, engine, (unsigned long long)got,
                (unsigned long long)k->expect);
    fflush(stdout);
}

/* ---- native ------------------------------------------------------------------------------- */

static void run_native(int reps) {
    double t[MAX_REPS];
    size_t i;
    int r;
    bench_init();
    for (i = 0; i < NKERNELS; i++) {
        uint64_t got = kernels[i].native();
        kernels[i].expect = got;
        for (r = 0; r < reps; r++) {
            double t0 = now_ms();
            got = kernels[i].native();
            t[r] = now_ms() - t0;
        }
        report(&kernels[i], "native", t, reps, got);
    }
}

/* ---- zenith ------------------------------------------------------------------------------- */

static void run_zenith(const uint8_t *bytes, size_t len, int reps) {
    zenith_wasm_error e;
    zenith_wasm_module *m;
    zenith_wasm_store *s;
    zenith_wasm_instance *in;
    double t[MAX_REPS];
    size_t i;
    int r, err = 0;

    memset(&e, 0, sizeof e);
    m = zenith_wasm_module_load(bytes, len, &e);
    if (m == NULL) {
        fprintf(stderr, "wasm_bench: zenith refused the kernels: %s\n", e.message);
        exit(1);
    }
    s = zenith_wasm_store_create(NULL, &err); /* defaults: no fuel limit */
    in = s ? zenith_wasm_instantiate(s, m, NULL, 0, &e) : NULL;
    if (in == NULL || zenith_wasm_call(zenith_wasm_instance_export(in, "bench_init"), NULL, 0, NULL, 0) != 0) {
        fprintf(stderr, "wasm_bench: zenith cannot instantiate the kernels: %s\n", e.message);
        exit(1);
    }
    for (i = 0; i < NKERNELS; i++) {
        zenith_wasm_extern *fn = zenith_wasm_instance_export(in, kernels[i].name);
        zenith_wasm_value res;
        int rc = zenith_wasm_call(fn, NULL, 0, &res, 1);
        for (r = 0; r < reps && rc == 0; r++) {
            double t0 = now_ms();
            rc = zenith_wasm_call(fn, NULL, 0, &res, 1);
            t[r] = now_ms() - t0;
        }
        if (rc != 0) {
            fprintf(stderr, "wasm_bench: zenith: %s: %s\n", kernels[i].name, zenith_wasm_strerror(rc));
            exit(1);
        }
        report(&kernels[i], "zenith", t, reps, kernels[i].is_f64 ? res.of.u64 : res.of.u32);
    }
    zenith_wasm_store_destroy(s);
    zenith_wasm_module_destroy(m);
}

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

/* ---- wasm3 -------------------------------------------------------------------------------- */

#ifdef WASM_BENCH_WASM3
static void m3_check(M3Result res, const char *what) {
    if (res != m3Err_none) {
        fprintf(stderr, "wasm_bench: wasm3: %s: %s\n", what, res);
        exit(1);
    }
}

static void run_wasm3(const uint8_t *bytes, size_t len, int reps) {
    IM3Environment env = m3_NewEnvironment();
    IM3Runtime rt = m3_NewRuntime(env, 1u << 20, NULL);
    IM3Module mod;
    IM3Function fn;
    double t[MAX_REPS];
    size_t i;
    int r;

    m3_check(m3_ParseModule(env, &mod, bytes, (uint32_t)len), "parse");
    m3_check(m3_LoadModule(rt, mod), "load");
    m3_check(m3_FindFunction(&fn, rt, "bench_init"), "bench_init");
    m3_check(m3_CallV(fn), "bench_init");
    for (i = 0; i < NKERNELS; i++) {
        uint32_t u32 = 0;
        double f64 = 0;
        uint64_t got;
        m3_check(m3_FindFunction(&fn, rt, kernels[i].name), kernels[i].name);
        m3_check(m3_CallV(fn), kernels[i].name); /* also compiles it (lazily) */
        for (r = 0; r < reps; r++) {
            double t0 = now_ms();
            m3_check(m3_CallV(fn), kernels[i].name);
            t[r] = now_ms() - t0;
        }
        if (kernels[i].is_f64) {
            m3_check(m3_GetResultsV(fn, &f64), "results");
            memcpy(&got, &f64, 8);
        } else {
            m3_check(m3_GetResultsV(fn, &u32), "results");
            got = u32;
        }
        report(&kernels[i], "wasm3", t, reps, got);
    }
    m3_FreeRuntime(rt);
    m3_FreeEnvironment(env);
}

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
        else
            break;
    }
    if (i >= argc || reps < 1 || reps > MAX_REPS || load_reps < 1) {
        fprintf(stderr, "usage: wasm_bench [-r REPS (1..%d)] [-l LOAD_REPS] KERNELS.wasm [MORE.wasm ...]\n", MAX_REPS);
        return 1;
    }
    bytes = read_file(argv[i], &len);
    run_native(reps);
    run_zenith(bytes, len, reps);
#ifdef WASM_BENCH_WASM3
    run_wasm3(bytes, len, reps);
#endif
    free(bytes);
    for (; i < argc; i++) run_load(argv[i], load_reps);
    return 0;
}
