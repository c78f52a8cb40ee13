/* Plugins under concurrency: several publisher threads run the example plugins on their own
   instances (fewer instances than publishers too, so publishes wait for one), consumers check
   every selection against the batch's own data, and a thread loads and unloads a plugin while
   batches flow. Every batch is released exactly once; the plugin's counters and results add up.
   Also runs under TSan (criterion_compat.h). Needs ZENITH_BUILD_DIR "/plugins/" built by
   plugins/build.sh, the implementation with ZENITH_PLUGINS (defined here), and -lm. */
#define ZENITH_PLUGINS
#define ZENITH_IMPLEMENTATION
#include "zenith.h"

#include "criterion_compat.h" /* Criterion (or its TSan stand-in) */

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef ZENITH_BUILD_DIR
#define ZENITH_BUILD_DIR "build"
#endif

#if defined(__SANITIZE_THREAD__)
#define PER_PUBLISHER 1500u
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define PER_PUBLISHER 1500u
#endif
#endif
#ifndef PER_PUBLISHER
#define PER_PUBLISHER 20000u
#endif
#define PUBLISHERS 4u
#define MAX_ROWS 300u
#define LO 99.0
#define HI 101.0

static uint8_t *plugin_file(const char *name, size_t *len) {
    char path[256];
    FILE *f;
    uint8_t *buf = (uint8_t *)malloc(1u << 20);
    snprintf(path, sizeof path, "%s/plugins/%s", ZENITH_BUILD_DIR, name);
    f = fopen(path, "rb");
    cr_assert_not_null(f, "%s is missing: build it with plugins/build.sh %s/plugins (Debian: clang, lld)", path,
                       ZENITH_BUILD_DIR);
    cr_assert_not_null(buf);
    *len = fread(buf, 1, 1u << 20, f);
    fclose(f);
    return buf;
}

static int load(ZenithEngine e, const char *name, uint32_t instances) {
    static const double range[2] = { LO, HI };
    size_t len;
    uint8_t *w = plugin_file(name, &len);
    zenith_plugin_config cfg;
    char why[ZENITH_PLUGIN_REASON_MAX];
    int id;
    memset(&cfg, 0, sizeof cfg);
    cfg.instances = instances;
    cfg.max_rows = 1024;
    if (strcmp(name, "price_filter.wasm") == 0) {
        cfg.params = range;
        cfg.params_len = sizeof range;
    }
    id = zenith_load_plugin_ex(e, w, len, &cfg, why, sizeof why);
    cr_assert_geq(id, 0, "%s: %d %s", name, id, why);
    free(w);
    return id;
}

/* ---- batches: one allocation each, released exactly once (counted) ------------------------- */

static uint64_t releases; /* atomic: array + schema release callbacks run */

typedef struct tbatch {
    struct ArrowArray kid_a[2];
    struct ArrowSchema kid_s[2];
    struct ArrowArray *kids_a[2];
    struct ArrowSchema *kids_s[2];
    const void *sbufs[1], *pbufs[2], *qbufs[2];
    int refs;
    uint8_t *pvalid;
    double *price, *qty;
} tbatch;

static void tb_unref(tbatch *t) {
    if (__atomic_sub_fetch(&t->refs, 1, __ATOMIC_ACQ_REL) == 0) free(t);
}
static void kid_array_release(struct ArrowArray *a) { a->release = NULL; }
static void kid_schema_release(struct ArrowSchema *s) { s->release = NULL; }
static void tb_array_release(struct ArrowArray *a) {
    __atomic_fetch_add(&releases, 1u, __ATOMIC_RELAXED);
    a->release = NULL;
    tb_unref((tbatch *)a->private_data);
}
static void tb_schema_release(struct ArrowSchema *s) {
    __atomic_fetch_add(&releases, 1u, __ATOMIC_RELAXED);
    s->release = NULL;
    tb_unref((tbatch *)s->private_data);
}

static uint64_t xs(uint64_t *s) {
    *s ^= *s >> 12;
    *s ^= *s << 25;
    *s ^= *s >> 27;
    return *s * 0x2545F4914F6CDD1Dull;
}

/* struct<price: double (nulls), quantity: double> of n rows; *want: rows whose price is in range. */
static void mk(uint64_t *rng, uint32_t n, struct ArrowArray *a, struct ArrowSchema *s, int64_t *want) {
    size_t vb = (n + 7u) / 8u + 1u;
    tbatch *t = (tbatch *)calloc(1, sizeof *t + vb + 2u * (size_t)(n + 1u) * sizeof(double) + 8u);
    uint32_t i, nulls = 0;
    cr_assert_not_null(t);
    t->price = (double *)(void *)(t + 1);
    t->qty = t->price + n + 1u;
    t->pvalid = (uint8_t *)(t->qty + n + 1u);
    *want = 0;
    for (i = 0; i < n; i++) {
        int valid = xs(rng) % 8u != 0;
        t->price[i] = 98.0 + (double)(xs(rng) % 401u) / 100.0;
        t->qty[i] = (double)(xs(rng) % 100u + 1u);
        if (valid) t->pvalid[i >> 3] = (uint8_t)(t->pvalid[i >> 3] | (1u << (i & 7u)));
        nulls += !valid;
        *want += valid && t->price[i] >= LO && t->price[i] <= HI;
    }
    t->refs = 2;
    t->pbufs[0] = t->pvalid;
    t->pbufs[1] = t->price;
    t->qbufs[0] = NULL;
    t->qbufs[1] = t->qty;
    for (i = 0; i < 2; i++) {
        memset(&t->kid_a[i], 0, sizeof t->kid_a[i]);
        memset(&t->kid_s[i], 0, sizeof t->kid_s[i]);
        t->kid_a[i].length = n;
        t->kid_a[i].n_buffers = 2;
        t->kid_a[i].buffers = i == 0 ? t->pbufs : t->qbufs;
        t->kid_a[i].release = kid_array_release;
        t->kid_s[i].format = "g";
        t->kid_s[i].name = i == 0 ? "price" : "quantity";
        t->kid_s[i].release = kid_schema_release;
        t->kids_a[i] = &t->kid_a[i];
        t->kids_s[i] = &t->kid_s[i];
    }
    t->kid_a[0].null_count = nulls;
    memset(a, 0, sizeof *a);
    memset(s, 0, sizeof *s);
    a->length = n;
    a->n_buffers = 1;
    a->buffers = t->sbufs;
    a->n_children = 2;
    a->children = t->kids_a;
    a->release = tb_array_release;
    a->private_data = t;
    s->format = "+s";
    s->name = "";
    s->n_children = 2;
    s->children = t->kids_s;
    s->release = tb_schema_release;
    s->private_data = t;
}

/* ---- threads --------------------------------------------------------------------------------- */

typedef struct run {
    ZenithEngine e;
    uint64_t seed;
    int vwap;  /* 1: the plugin is the VWAP, sums kept in C */
    int churn; /* 1: the plugin may come and go: a batch may pass without a selection */
    uint32_t count;
    /* publisher results */
    uint64_t rows_passed, dropped, published;
    double pq, sq, rows;
    /* consumer results */
    uint64_t polled, checked_rows;
} run_t;

static volatile int publishers_done; /* atomic */

static void *publisher(void *arg) {
    run_t *r = (run_t *)arg;
    uint64_t rng = r->seed;
    uint32_t i;
    for (i = 0; i < r->count; i++) {
        struct ArrowArray a;
        struct ArrowSchema s;
        uint32_t n = (uint32_t)(xs(&rng) % MAX_ROWS) + 1u;
        int64_t want;
        int rc;
        mk(&rng, n, &a, &s, &want);
        if (r->vwap) {
            const tbatch *t = (const tbatch *)a.private_data;
            double bpq = 0, bsq = 0, brows = 0;
            uint32_t k;
            for (k = 0; k < n; k++) {
                if (!((t->pvalid[k >> 3] >> (k & 7u)) & 1u)) continue;
                bpq += t->price[k] * t->qty[k];
                bsq += t->qty[k];
                brows += 1;
            }
            r->pq += bpq;
            r->sq += bsq;
            r->rows += brows;
        }
        while ((rc = zenith_publish(r->e, &a, &s, 1, i)) == ZENITH_E_FULL) sched_yield();
        cr_assert(rc == 0 || rc == 1, "publish: %d", rc);
        r->published++;
        if (rc == 1) {
            cr_assert_eq(want, 0, "dropped: nothing in range");
            r->dropped++;
        } else {
            r->rows_passed += (uint64_t)want;
        }
    }
    return NULL;
}

/* Checks each polled batch's selection against its own price column. */
static void *consumer(void *arg) {
    run_t *r = (run_t *)arg;
    uint8_t bits[1024 / 8];
    for (;;) {
        zenith_batch b;
        int64_t sel, want = 0, i;
        int rc = zenith_poll_selection(r->e, &b, bits, sizeof bits, &sel);
        cr_assert_geq(rc, 0);
        if (rc == 0) {
            if (__atomic_load_n(&publishers_done, __ATOMIC_ACQUIRE)) {
                if (zenith_poll_selection(r->e, &b, bits, sizeof bits, &sel) == 0) return NULL;
            } else {
                sched_yield();
                continue;
            }
        }
        {
            const struct ArrowArray *p = b.array.children[0];
            const double *price = (const double *)p->buffers[1];
            const uint8_t *valid = (const uint8_t *)p->buffers[0];
            for (i = 0; i < b.array.length; i++) {
                int ok = ((valid[i >> 3] >> (i & 7)) & 1) && price[i] >= LO && price[i] <= HI;
                want += ok;
                if (!r->vwap && sel >= 0)
                    cr_assert_eq((bits[i >> 3] >> (i & 7)) & 1, ok, "row %lld: selection disagrees", (long long)i);
            }
            if (!r->vwap && !r->churn) cr_assert_eq(sel, want == b.array.length ? -1 : want);
            if (!r->vwap && sel >= 0) cr_assert_eq(sel, want);
            if (r->vwap) cr_assert_eq(sel, -1);
            r->checked_rows += (uint64_t)b.array.length;
        }
        r->polled++;
        cr_assert_eq(zenith_batch_release(r->e, &b), 0);
    }
}

static void run_threads(ZenithEngine e, int vwap, int churn, run_t *pubs, run_t *cons, uint32_t ncons) {
    pthread_t pt[PUBLISHERS], ct[2];
    uint32_t i;
    __atomic_store_n(&publishers_done, 0, __ATOMIC_RELEASE);
    for (i = 0; i < ncons; i++) {
        memset(&cons[i], 0, sizeof cons[i]);
        cons[i].e = e;
        cons[i].vwap = vwap;
        cons[i].churn = churn;
        cr_assert_eq(pthread_create(&ct[i], NULL, consumer, &cons[i]), 0);
    }
    for (i = 0; i < PUBLISHERS; i++) {
        memset(&pubs[i], 0, sizeof pubs[i]);
        pubs[i].e = e;
        pubs[i].seed = 0x1234567ull * (i + 1u);
        pubs[i].vwap = vwap;
        pubs[i].churn = churn;
        pubs[i].count = PER_PUBLISHER;
        cr_assert_eq(pthread_create(&pt[i], NULL, publisher, &pubs[i]), 0);
    }
    for (i = 0; i < PUBLISHERS; i++) cr_assert_eq(pthread_join(pt[i], NULL), 0);
    __atomic_store_n(&publishers_done, 1, __ATOMIC_RELEASE);
    for (i = 0; i < ncons; i++) cr_assert_eq(pthread_join(ct[i], NULL), 0);
}

Test(plugin_threads, four_publishers_share_two_filter_instances, .timeout = 120) {
    ZenithEngine e = zenith_init(256);
    run_t pubs[PUBLISHERS], cons[2];
    uint64_t passed = 0, dropped = 0, polled = 0;
    zenith_plugin_stats st;
    double r[1];
    uint32_t i;
    int id;
    cr_assert_not_null(e);
    __atomic_store_n(&releases, 0u, __ATOMIC_RELAXED);
    id = load(e, "price_filter.wasm", 2);
    run_threads(e, 0, 0, pubs, cons, 2);
    for (i = 0; i < PUBLISHERS; i++) {
        passed += pubs[i].rows_passed;
        dropped += pubs[i].dropped;
    }
    polled = cons[0].polled + cons[1].polled;
    cr_assert_eq(polled + dropped, PUBLISHERS * PER_PUBLISHER, "every batch polled or dropped");
    memset(&st, 0, sizeof st);
    cr_assert_eq(zenith_plugin_get_stats(e, id, &st), 0);
    cr_assert_eq(st.calls, PUBLISHERS * PER_PUBLISHER);
    cr_assert_eq(st.rows_out, passed, "rows_out %llu, C %llu", (unsigned long long)st.rows_out,
                 (unsigned long long)passed);
    cr_assert_eq(st.rejected, dropped);
    cr_assert_eq(st.failures, 0);
    cr_assert_eq(st.instances, 2);
    cr_assert_eq(zenith_plugin_result(e, id, r, 1), 1);
    cr_assert_eq(r[0], (double)passed, "result: %g rows passed, C %llu", r[0], (unsigned long long)passed);
    cr_log_info("4 publishers, 2 instances: %llu waits for an instance", (unsigned long long)st.waits);
    zenith_free(e);
    cr_assert_eq(__atomic_load_n(&releases, __ATOMIC_RELAXED), 2u * PUBLISHERS * PER_PUBLISHER,
                 "every array and schema released once");
}

Test(plugin_threads, vwap_over_four_instances_adds_up, .timeout = 120) {
    ZenithEngine e = zenith_init(256);
    run_t pubs[PUBLISHERS], cons[1];
    double pq = 0, sq = 0, rows = 0, r[3];
    uint32_t i;
    int id;
    cr_assert_not_null(e);
    __atomic_store_n(&releases, 0u, __ATOMIC_RELAXED);
    id = load(e, "vwap.wasm", 4);
    run_threads(e, 1, 0, pubs, cons, 1);
    for (i = 0; i < PUBLISHERS; i++) {
        pq += pubs[i].pq;
        sq += pubs[i].sq;
        rows += pubs[i].rows;
    }
    cr_assert_eq(zenith_plugin_result(e, id, r, 3), 3);
    cr_assert_eq(r[2], rows, "rows %g, C %g", r[2], rows);
    cr_assert_eq(r[1], sq, "sum(q) %g, C %g (integers: exact)", r[1], sq);
    cr_assert(fabs(r[0] - pq) <= 1e-12 * pq, "sum(p * q) %.17g, C %.17g", r[0], pq);
    cr_assert(fabs(r[0] / r[1] - pq / sq) <= 1e-12 * (pq / sq), "VWAP %.17g, C %.17g", r[0] / r[1], pq / sq);
    zenith_free(e);
    cr_assert_eq(__atomic_load_n(&releases, __ATOMIC_RELAXED), 2u * PUBLISHERS * PER_PUBLISHER);
}

static void *churner(void *arg) {
    ZenithEngine e = (ZenithEngine)arg;
    int k;
    for (k = 0; k < 40 && !__atomic_load_n(&publishers_done, __ATOMIC_ACQUIRE); k++) {
        int id = load(e, "price_filter.wasm", 1 + (uint32_t)k % 3u);
        zenith_plugin_stats st;
        double r;
        sched_yield();
        memset(&st, 0, sizeof st);
        cr_assert_eq(zenith_plugin_get_stats(e, id, &st), 0);
        cr_assert_eq(zenith_plugin_result(e, id, &r, 1), 1);
        cr_assert_eq(zenith_unload_plugin(e, id), 0);
        cr_assert_eq(zenith_unload_plugin(e, id), ZENITH_E_STALE);
    }
    return NULL;
}

Test(plugin_threads, load_and_unload_while_batches_flow, .timeout = 120) {
    ZenithEngine e = zenith_init(128);
    run_t pubs[PUBLISHERS], cons[2];
    pthread_t ch;
    cr_assert_not_null(e);
    __atomic_store_n(&releases, 0u, __ATOMIC_RELAXED);
    __atomic_store_n(&publishers_done, 0, __ATOMIC_RELEASE);
    cr_assert_eq(pthread_create(&ch, NULL, churner, e), 0);
    run_threads(e, 0, 1, pubs, cons, 2);
    cr_assert_eq(pthread_join(ch, NULL), 0);
    zenith_free(e);
    cr_assert_eq(__atomic_load_n(&releases, __ATOMIC_RELAXED), 2u * PUBLISHERS * PER_PUBLISHER);
}
