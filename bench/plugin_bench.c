/* plugin_bench.c -- what a plugin adds to zenith_publish (issue 12's goal: the price filter at
   most 1 us + 1 ns per row). One thread publishes a struct<price: double, quantity: double>
   batch of 1, 64 and 4,096 rows (no nulls; half the prices in the filter's range, so the
   filter returns a selection) to an engine with no plugin, with plugins/price_filter.wasm,
   and with plugins/vwap.wasm; publishes are timed in runs of 64 (clock_gettime around the run),
   the batches polled and released between runs, untimed. Prints ns per publish (median of the
   runs) and the plugin's cost over the bare publish, per publish and per row.

   Build: cc -std=gnu11 -O2 -I. bench/plugin_bench.c -o plugin_bench -luring -lm -pthread
   Run:   plugin_bench [DIR with price_filter.wasm and vwap.wasm [ROWS...]] (default
          build/plugins and 1 64 4096; plugins/build.sh DIR builds them; at most 16384 rows) */
#define ZENITH_PLUGINS
#define ZENITH_IMPLEMENTATION
#include "zenith.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define RUN 64
#define RUNS 400

static void nop_array(struct ArrowArray *a) { a->release = NULL; }
static void nop_schema(struct ArrowSchema *s) { s->release = NULL; }

static double now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static unsigned char *slurp(const char *dir, const char *name, size_t *len) {
    char path[512];
    FILE *f;
    unsigned char *buf = (unsigned char *)malloc(1u << 20);
    snprintf(path, sizeof path, "%s/%s", dir, name);
    f = fopen(path, "rb");
    if (f == NULL || buf == NULL) {
        fprintf(stderr, "plugin_bench: cannot read %s (plugins/build.sh %s builds it)\n", path, dir);
        exit(1);
    }
    *len = fread(buf, 1, 1u << 20, f);
    fclose(f);
    return buf;
}

/* A plugin that asks for the "price" column and passes every batch without reading it: what
   the host's copy-in and the call cost without the plugin's own work.
     (module (memory (export "memory") 16) (global $brk (mut i32) (i32.const 4096))
       (data (i32.const 1024) "price\00")
       (func (export "zenith_plugin_abi") (result i32) (i32.const 1))
       (func (export "zenith_plugin_alloc") (param $n i32) (result i32) ...bump from 4096, 0 past 1 MiB...)
       (func (export "zenith_plugin_init") (param $i i32) (result i32)
         (i32.store offset=24 (local.get $i) (i32.const 1)) (i32.store offset=48 (local.get $i) (i32.const 1024))
         (i32.const 0))
       (func (export "zenith_plugin_batch") (param i32) (result i32) (i32.const 0))) */
static const unsigned char copyin_wasm[] = {
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, 0x01, 0x0a, 0x02, 0x60, 0x00, 0x01, 0x7f, 0x60, 0x01, 0x7f, 0x01,
    0x7f, 0x03, 0x05, 0x04, 0x00, 0x01, 0x01, 0x01, 0x05, 0x03, 0x01, 0x00, 0x10, 0x06, 0x07, 0x01, 0x7f, 0x01, 0x41,
    0x80, 0x20, 0x0b, 0x07, 0x5f, 0x05, 0x06, 0x6d, 0x65, 0x6d, 0x6f, 0x72, 0x79, 0x02, 0x00, 0x11, 0x7a, 0x65, 0x6e,
    0x69, 0x74, 0x68, 0x5f, 0x70, 0x6c, 0x75, 0x67, 0x69, 0x6e, 0x5f, 0x61, 0x62, 0x69, 0x00, 0x00, 0x13, 0x7a, 0x65,
    0x6e, 0x69, 0x74, 0x68, 0x5f, 0x70, 0x6c, 0x75, 0x67, 0x69, 0x6e, 0x5f, 0x61, 0x6c, 0x6c, 0x6f, 0x63, 0x00, 0x01,
    0x12, 0x7a, 0x65, 0x6e, 0x69, 0x74, 0x68, 0x5f, 0x70, 0x6c, 0x75, 0x67, 0x69, 0x6e, 0x5f, 0x69, 0x6e, 0x69, 0x74,
    0x00, 0x02, 0x13, 0x7a, 0x65, 0x6e, 0x69, 0x74, 0x68, 0x5f, 0x70, 0x6c, 0x75, 0x67, 0x69, 0x6e, 0x5f, 0x62, 0x61,
    0x74, 0x63, 0x68, 0x00, 0x03, 0x0a, 0x48, 0x04, 0x04, 0x00, 0x41, 0x01, 0x0b, 0x28, 0x01, 0x01, 0x7f, 0x23, 0x00,
    0x21, 0x01, 0x20, 0x01, 0x20, 0x00, 0x6a, 0x41, 0x80, 0x80, 0xc0, 0x00, 0x4b, 0x04, 0x40, 0x41, 0x00, 0x0f, 0x0b,
    0x20, 0x01, 0x20, 0x00, 0x6a, 0x41, 0x0f, 0x6a, 0x41, 0x70, 0x71, 0x24, 0x00, 0x20, 0x01, 0x0b, 0x13, 0x00, 0x20,
    0x00, 0x41, 0x01, 0x36, 0x02, 0x18, 0x20, 0x00, 0x41, 0x80, 0x08, 0x36, 0x02, 0x30, 0x41, 0x00, 0x0b, 0x04, 0x00,
    0x41, 0x00, 0x0b, 0x0b, 0x0d, 0x01, 0x00, 0x41, 0x80, 0x08, 0x0b, 0x06, 0x70, 0x72, 0x69, 0x63, 0x65, 0x00,
};

/* The batch: templates copied in before each publish (publish marks the caller's released). */
static struct ArrowArray kid_a[2], top_a;
static struct ArrowSchema kid_s[2], top_s;
static struct ArrowArray *kids_a[2] = { &kid_a[0], &kid_a[1] };
static struct ArrowSchema *kids_s[2] = { &kid_s[0], &kid_s[1] };
static const void *top_bufs[1], *price_bufs[2], *qty_bufs[2];

static void make_batch(int64_t rows) {
    double *price = (double *)malloc((size_t)rows * 8), *qty = (double *)malloc((size_t)rows * 8);
    int64_t i;
    unsigned x = 12345;
    for (i = 0; i < rows; i++) {
        x = x * 1103515245u + 12345u;
        price[i] = 90.0 + (double)((x >> 16) % 2000u) / 100.0; /* 90..110: half in [95, 105) */
        qty[i] = (double)((x >> 8) % 100 + 1);
    }
    price_bufs[1] = price;
    qty_bufs[1] = qty;
    for (i = 0; i < 2; i++) {
        memset(&kid_a[i], 0, sizeof kid_a[i]);
        memset(&kid_s[i], 0, sizeof kid_s[i]);
        kid_a[i].length = rows;
        kid_a[i].n_buffers = 2;
        kid_a[i].buffers = i == 0 ? price_bufs : qty_bufs;
        kid_a[i].release = nop_array;
        kid_s[i].format = "g";
        kid_s[i].name = i == 0 ? "price" : "quantity";
        kid_s[i].release = nop_schema;
    }
    memset(&top_a, 0, sizeof top_a);
    memset(&top_s, 0, sizeof top_s);
    top_a.length = rows;
    top_a.n_buffers = 1;
    top_a.buffers = top_bufs;
    top_a.n_children = 2;
    top_a.children = kids_a;
    top_a.release = nop_array;
    top_s.format = "+s";
    top_s.name = "";
    top_s.n_children = 2;
    top_s.children = kids_s;
    top_s.release = nop_schema;
}

/* Median ns per publish over RUNS runs of RUN publishes. */
static double measure(ZenithEngine e) {
    static double t[RUNS];
    static uint8_t bits[16384 / 8];
    int r, k;
    for (r = -20; r < RUNS; r++) { /* 20 warm-up runs */
        double t0, t1;
        zenith_batch b;
        int64_t sel;
        struct ArrowArray a[RUN];
        struct ArrowSchema s[RUN];
        for (k = 0; k < RUN; k++) {
            a[k] = top_a;
            s[k] = top_s;
        }
        t0 = now_ns();
        for (k = 0; k < RUN; k++)
            if (zenith_publish(e, &a[k], &s[k], 1, (uint64_t)k) < 0) {
                fprintf(stderr, "plugin_bench: publish failed\n");
                exit(1);
            }
        t1 = now_ns();
        while (zenith_poll_selection(e, &b, bits, sizeof bits, &sel) == 1) zenith_batch_release(e, &b);
        if (r >= 0) t[r] = (t1 - t0) / RUN;
    }
    qsort(t, RUNS, sizeof t[0], cmp_double);
    return t[RUNS / 2];
}

int main(int argc, char **argv) {
    int64_t sizes[16] = { 1, 64, 4096 };
    unsigned nsizes = 3;
    const char *dir = argc > 1 ? argv[1] : "build/plugins";
    size_t flen, vlen;
    static const double range[2] = { 95.0, 104.99 };
    unsigned i, variant;
    unsigned char *fw = NULL, *vw = NULL;
    if (argc > 2) {
        for (nsizes = 0; nsizes < 16 && (int)nsizes + 2 < argc; nsizes++) sizes[nsizes] = atoll(argv[nsizes + 2]);
        for (i = 0; i < nsizes; i++)
            if (sizes[i] < 1 || sizes[i] > 16384) {
                fprintf(stderr, "plugin_bench: rows 1 .. 16384\n");
                return 1;
            }
    }
    printf("plugin_bench: zenith_publish of a struct<price: double, quantity: double> batch, one thread, "
           "median of %d runs of %d publishes\n",
           RUNS, RUN);
    for (variant = 0; variant < 2; variant++) {
        free(fw);
        free(vw);
        fw = slurp(dir, variant ? "price_filter_loop.wasm" : "price_filter.wasm", &flen);
        vw = slurp(dir, variant ? "vwap_loop.wasm" : "vwap.wasm", &vlen);
        printf("%s\n", variant
                           ? "every row interpreted (price_filter_loop.wasm, vwap_loop.wasm: -DZP_NO_KERNELS)"
                           : "with the host kernels (price_filter.wasm, vwap.wasm: zenith.select_range_f64, dot_f64, "
                             "sum_f64)");
        printf("%6s  %11s  %11s %9s  %11s %9s %9s  %11s %9s %9s\n", "rows", "bare ns/pub", "copy ns/pub", "+ns/row",
               "filter ns", "+ns/pub", "+ns/row", "vwap ns", "+ns/pub", "+ns/row");
        for (i = 0; i < nsizes; i++) {
            zenith_plugin_config cfg;
            ZenithEngine bare = zenith_init(RUN), filt = zenith_init(RUN), vw_e = zenith_init(RUN),
                         cp = zenith_init(RUN);
            double tb, tf, tv, tc;
            int idf, idv, idc;
            char why[ZENITH_PLUGIN_REASON_MAX];
            make_batch(sizes[i]);
            memset(&cfg, 0, sizeof cfg);
            cfg.instances = 1;
            cfg.params = range;
            cfg.params_len = sizeof range;
            idf = zenith_load_plugin_ex(filt, fw, flen, &cfg, why, sizeof why);
            cfg.params = NULL;
            cfg.params_len = 0;
            idv = zenith_load_plugin_ex(vw_e, vw, vlen, &cfg, why, sizeof why);
            idc = zenith_load_plugin_ex(cp, copyin_wasm, sizeof copyin_wasm, &cfg, why, sizeof why);
            if (idf < 0 || idv < 0 || idc < 0) {
                fprintf(stderr, "plugin_bench: load: %s\n", why);
                return 1;
            }
            tb = measure(bare);
            tc = measure(cp);
            tf = measure(filt);
            tv = measure(vw_e);
            printf("%6lld  %11.1f  %11.1f %9.3f  %11.1f %9.1f %9.3f  %11.1f %9.1f %9.3f\n", (long long)sizes[i], tb, tc,
                   (tc - tb) / (double)sizes[i], tf, tf - tb, (tf - tb) / (double)sizes[i], tv, tv - tb,
                   (tv - tb) / (double)sizes[i]);
            {
                zenith_plugin_stats st;
                memset(&st, 0, sizeof st);
                zenith_plugin_get_stats(filt, idf, &st);
                if (st.failures)
                    fprintf(stderr, "plugin_bench: the filter failed %llu times\n", (unsigned long long)st.failures);
                printf("        filter: %.1f fuel per row, %llu selections of %llu calls\n",
                       (double)st.fuel_used / (double)st.rows_in, (unsigned long long)st.selected,
                       (unsigned long long)st.calls);
            }
            zenith_free(bare);
            zenith_free(filt);
            zenith_free(vw_e);
            zenith_free(cp);
            free((void *)price_bufs[1]);
            free((void *)qty_bufs[1]);
        }
    }
    { /* load (decode, validate, translate, instantiate, init) + unload, one instance */
        ZenithEngine e = zenith_init(RUN);
        zenith_plugin_config cfg;
        double t0, t1;
        int k;
        memset(&cfg, 0, sizeof cfg);
        cfg.instances = 1;
        cfg.params = range;
        cfg.params_len = sizeof range;
        t0 = now_ns();
        for (k = 0; k < 200; k++) zenith_unload_plugin(e, zenith_load_plugin_ex(e, fw, flen, &cfg, NULL, 0));
        t1 = now_ns();
        printf("load + unload of price_filter_loop.wasm (%zu bytes), one instance: %.1f us\n", flen,
               (t1 - t0) / 200 / 1000);
        zenith_free(e);
    }
    printf("goal (issue 12): the filter adds at most 1000 ns + 1 ns per row to a publish\n");
    free(fw);
    free(vw);
    return 0;
}
