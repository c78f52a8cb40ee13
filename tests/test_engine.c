/* The data-plane engine: zenith_init / zenith_publish / zenith_poll / zenith_batch_release /
   zenith_free on hand-built Arrow C Data Interface structs. Every malformed shape gets -4 and
   leaves ownership with the caller; full gets -2; NULL gets -1. */
#define ZENITH_IMPLEMENTATION
#include "zenith.h"

#include "criterion_compat.h" /* Criterion (or its TSan stand-in) */
#include "arrow_helpers.h"

#include <stdint.h>
#include <string.h>

static ZenithEngine mkengine(uint32_t capacity) {
    ZenithEngine e = zenith_init(capacity);
    cr_assert_not_null(e, "zenith_init(%u)", capacity);
    return e;
}

static zenith_engine_stats estats(ZenithEngine e) {
    zenith_engine_stats st;
    memset(&st, 0xa5, sizeof st);
    cr_assert_eq(zenith_engine_get_stats(e, &st), 0);
    return st;
}

/* ---- the round trip ------------------------------------------------------------------------ */

Test(engine, publish_poll_release_moves_without_copying, .timeout = 10) {
    ta_counts c = { 0, 0 };
    ZenithEngine e = mkengine(1024);
    struct ArrowArray a = ta_int32(&c, 100);
    struct ArrowSchema s = ta_schema(&c, "i");
    const void *data = a.buffers[1];
    zenith_batch b;
    int i;
    cr_assert_eq(zenith_publish(e, &a, &s, 7, 0), 0);
    cr_assert(a.release == NULL, "the caller's array is marked released (moved)");
    cr_assert(s.release == NULL, "the caller's schema is marked released (moved)");
    cr_assert_eq(c.arrays + c.schemas, 0, "nothing released yet");
    memset(&b, 0, sizeof b);
    cr_assert_eq(zenith_poll(e, &b), 1);
    cr_assert_eq(b.source_id, 7);
    cr_assert_eq(b.seq_no, 0);
    cr_assert_eq(b.array.length, 100);
    cr_assert_str_eq(b.schema.format, "i");
    cr_assert_eq(b.array.buffers[1], data, "the consumer sees the producer's buffer itself");
    for (i = 0; i < 100; i++) cr_assert_eq(((const int32_t *)b.array.buffers[1])[i], i);
    cr_assert_eq(zenith_poll(e, &b) == 0 ? 0 : 1, 0, "empty now");
    cr_assert_eq(zenith_batch_release(e, &b), 0);
    cr_assert_eq(c.arrays, 1);
    cr_assert_eq(c.schemas, 1);
    cr_assert_eq(zenith_batch_release(e, &b), ZENITH_E_DOUBLE_RELEASE, "exactly once");
    cr_assert_eq(c.arrays + c.schemas, 2);
    {
        zenith_engine_stats st = estats(e);
        cr_assert_eq(st.capacity, 1024);
        cr_assert_eq(st.published, 1);
        cr_assert_eq(st.polled, 1);
        cr_assert_eq(st.released, 1);
        cr_assert_eq(st.sources, 1);
        cr_assert_eq(st.rejected_full + st.rejected_invalid + st.seq_gaps + st.seq_duplicates, 0);
    }
    zenith_free(e);
}

Test(engine, batches_come_out_in_publish_order, .timeout = 10) {
    ta_counts c = { 0, 0 };
    ZenithEngine e = mkengine(128);
    zenith_batch b;
    uint64_t i;
    for (i = 0; i < 100; i++) {
        struct ArrowArray a = ta_int32(&c, (int64_t)(i % 7));
        struct ArrowSchema s = ta_schema(&c, "i");
        cr_assert_eq(zenith_publish(e, &a, &s, i % 3, i / 3), 0);
    }
    for (i = 0; i < 100; i++) {
        cr_assert_eq(zenith_poll(e, &b), 1);
        cr_assert_eq(b.source_id, i % 3);
        cr_assert_eq(b.seq_no, i / 3);
        cr_assert_eq(b.array.length, (int64_t)(i % 7));
        cr_assert_eq(zenith_batch_release(e, &b), 0);
    }
    cr_assert_eq(zenith_poll(e, &b), 0);
    cr_assert_eq(c.arrays, 100);
    cr_assert_eq(c.schemas, 100);
    cr_assert_eq(estats(e).seq_gaps, 0);
    zenith_free(e);
}

/* ---- -2, -1 ------------------------------------------------------------------------------------ */

Test(engine, full_returns_minus_2_and_the_caller_keeps_ownership, .timeout = 10) {
    ta_counts c = { 0, 0 };
    ZenithEngine e = mkengine(3); /* rounded up to 4 */
    struct ArrowArray a;
    struct ArrowSchema s;
    zenith_batch b;
    int i;
    cr_assert_eq(estats(e).capacity, 4);
    for (i = 0; i < 4; i++) {
        a = ta_int32(&c, 1);
        s = ta_schema(&c, "i");
        cr_assert_eq(zenith_publish(e, &a, &s, 1, (uint64_t)i), 0);
    }
    a = ta_int32(&c, 1);
    s = ta_schema(&c, "i");
    cr_assert_eq(zenith_publish(e, &a, &s, 1, 4), ZENITH_E_FULL);
    cr_assert_eq(ZENITH_E_FULL, -2);
    cr_assert(a.release != NULL, "still the caller's");
    cr_assert(s.release != NULL);
    cr_assert_eq(estats(e).rejected_full, 1);
    cr_assert_eq(zenith_poll(e, &b), 1);
    cr_assert_eq(zenith_batch_release(e, &b), 0);
    cr_assert_eq(zenith_publish(e, &a, &s, 1, 4), 0, "room again: the same structs go in");
    cr_assert_eq(estats(e).seq_gaps + estats(e).seq_duplicates, 0, "a refused publish is not tracked");
    zenith_free(e);
    cr_assert_eq(c.arrays, 5, "zenith_free released the four still queued");
    cr_assert_eq(c.schemas, 5);
}

Test(engine, null_pointers_return_minus_1, .timeout = 10) {
    ta_counts c = { 0, 0 };
    ZenithEngine e = mkengine(8);
    struct ArrowArray a = ta_int32(&c, 4);
    struct ArrowSchema s = ta_schema(&c, "i");
    zenith_batch b;
    zenith_engine_stats st;
    cr_assert_eq(ZENITH_E_NULL, -1);
    cr_assert_eq(zenith_publish(NULL, &a, &s, 0, 0), ZENITH_E_NULL);
    cr_assert_eq(zenith_publish(e, NULL, &s, 0, 0), ZENITH_E_NULL);
    cr_assert_eq(zenith_publish(e, &a, NULL, 0, 0), ZENITH_E_NULL);
    cr_assert(a.release != NULL);
    cr_assert(s.release != NULL);
    cr_assert_eq(zenith_poll(NULL, &b), ZENITH_E_NULL);
    cr_assert_eq(zenith_poll(e, NULL), ZENITH_E_NULL);
    cr_assert_eq(zenith_batch_release(e, NULL), ZENITH_E_NULL);
    cr_assert_eq(zenith_engine_get_stats(NULL, &st), ZENITH_E_NULL);
    cr_assert_eq(zenith_engine_get_stats(e, NULL), ZENITH_E_NULL);
    cr_assert_null(zenith_init(0));
    cr_assert_null(zenith_init((1u << 24) + 1u));
    zenith_free(NULL);
    st = estats(e);
    cr_assert_eq(st.published + st.rejected_invalid + st.rejected_full, 0, "no side effect");
    ta_release(&a, &s);
    zenith_free(e);
}

Test(engine, plugins_are_not_loaded_in_this_release, .timeout = 10) {
    static const uint8_t wasm[] = { 0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00 };
    ZenithEngine e = mkengine(8);
    ta_counts c = { 0, 0 }; /* outlives the engine: zenith_free releases into it */
    cr_assert_eq(zenith_load_plugin(NULL, wasm, sizeof wasm), ZENITH_E_NULL);
    cr_assert_eq(zenith_load_plugin(e, NULL, 8), ZENITH_E_NULL);
    cr_assert_eq(zenith_load_plugin(e, wasm, 0), ZENITH_E_NULL);
    cr_assert_eq(zenith_load_plugin(e, wasm, sizeof wasm), ZENITH_E_UNSUPPORTED);
    {
        struct ArrowArray a = ta_int32(&c, 1);
        struct ArrowSchema s = ta_schema(&c, "i");
        cr_assert_eq(zenith_publish(e, &a, &s, 0, 0), 0, "the engine is unchanged");
    }
    zenith_free(e);
    cr_assert_eq(c.arrays, 1);
}

/* ---- sequence tracking ---------------------------------------------------------------------------- */

Test(engine, gaps_and_duplicates_are_counted_per_source, .timeout = 10) {
    static const struct {
        uint64_t source, seq;
    } in[] = { { 1, 0 },          { 1, 1 },          { 2, 10 },
               { 1, 2 },          { 1, 5 },                                    /* gap of 2 (3, 4) */
               { 2, 11 },         { 1, 5 },          /* duplicate */ { 1, 4 }, /* backwards: counted as a duplicate */
               { 2, 15 },                                                      /* gap of 3 */
               { UINT64_MAX, 0 }, { UINT64_MAX, 1 }, { UINT64_MAX, 1 } };      /* the largest id works too */
    ta_counts c = { 0, 0 };
    ZenithEngine e = mkengine(64);
    zenith_engine_stats st;
    size_t i;
    for (i = 0; i < sizeof in / sizeof in[0]; i++) {
        struct ArrowArray a = ta_int32(&c, 1);
        struct ArrowSchema s = ta_schema(&c, "i");
        cr_assert_eq(zenith_publish(e, &a, &s, in[i].source, in[i].seq), 0, "gaps and duplicates are accepted");
    }
    st = estats(e);
    cr_assert_eq(st.seq_gaps, 5, "gaps %llu", (unsigned long long)st.seq_gaps);
    cr_assert_eq(st.seq_duplicates, 3, "duplicates %llu", (unsigned long long)st.seq_duplicates);
    cr_assert_eq(st.sources, 3);
    cr_assert_eq(st.sources_untracked, 0);
    zenith_free(e);
    cr_assert_eq(c.arrays, (int)(sizeof in / sizeof in[0]));
}

Test(engine, sources_beyond_the_table_are_counted_untracked, .timeout = 20) {
    ta_counts c = { 0, 0 };
    ZenithEngine e = mkengine(8);
    zenith_batch b;
    zenith_engine_stats st;
    uint64_t src;
    for (src = 0; src < 6000; src++) {
        struct ArrowArray a = ta_int32(&c, 0);
        struct ArrowSchema s = ta_schema(&c, "i");
        cr_assert_eq(zenith_publish(e, &a, &s, src * 7919u, 0), 0);
        cr_assert_eq(zenith_poll(e, &b), 1);
        cr_assert_eq(zenith_batch_release(e, &b), 0);
    }
    st = estats(e);
    cr_assert_leq(st.sources, 4097);
    cr_assert_eq(st.sources + st.sources_untracked, 6000);
    cr_assert_gt(st.sources_untracked, 0);
    zenith_free(e);
}

/* ---- every supported format is accepted ----------------------------------------------------------- */

static void must_accept(ZenithEngine e, struct ArrowArray a, struct ArrowSchema s, const char *what) {
    zenith_batch b;
    int rc = zenith_publish(e, &a, &s, 99, 0);
    cr_assert_eq(rc, 0, "%s: %d %s", what, rc, zenith_errname(rc));
    cr_assert_eq(zenith_poll(e, &b), 1);
    cr_assert_eq(zenith_batch_release(e, &b), 0);
}

Test(engine, every_supported_format_is_accepted, .timeout = 10) {
    static const struct {
        const char *format;
        size_t width; /* bytes per value; 0 = bits (boolean) */
    } fixed[] = { { "b", 0 },        { "c", 1 },   { "C", 1 },     { "s", 2 },       { "S", 2 },
                  { "i", 4 },        { "I", 4 },   { "l", 8 },     { "L", 8 },       { "e", 2 },
                  { "f", 4 },        { "g", 8 },   { "w:16", 16 }, { "d:10,2", 16 }, { "d:38,-3,256", 32 },
                  { "d:9,2,32", 4 }, { "tdD", 4 }, { "tdm", 8 },   { "tts", 4 },     { "ttm", 4 },
                  { "ttu", 8 },      { "ttn", 8 }, { "tss:", 8 },  { "tsu:UTC", 8 }, { "tsn:Europe/Paris", 8 },
                  { "tDs", 8 },      { "tDn", 8 }, { "tiM", 4 },   { "tiD", 8 },     { "tin", 16 } };
    static const char *const words[] = { "zero", "", "copy", "\xc3\xa9t\xc3\xa9" };
    ta_counts c = { 0, 0 };
    ZenithEngine e = mkengine(16);
    uint8_t data[16 * 8 * 32], bits[8];
    size_t i;
    memset(data, 0x11, sizeof data);
    memset(bits, 0xff, sizeof bits);
    for (i = 0; i < sizeof fixed / sizeof fixed[0]; i++) {
        /* 8 values; the first null (validity bit 0 clear) */
        uint8_t valid = 0xfe;
        size_t n = fixed[i].width ? 8 * fixed[i].width : 1;
        must_accept(e, ta_array(&c, 8, 1, 0, 2, &valid, 1, data, n, NULL, 0), ta_schema(&c, fixed[i].format),
                    fixed[i].format);
    }
    /* null type: no buffers, every value null */
    must_accept(e, ta_array(&c, 5, 5, 0, 0, NULL, 0, NULL, 0, NULL, 0), ta_schema(&c, "n"), "n");
    /* variable length, 32- and 64-bit offsets */
    must_accept(e, ta_utf8(&c, words, 4), ta_schema(&c, "u"), "u");
    must_accept(e, ta_utf8(&c, words, 4), ta_schema(&c, "z"), "z");
    {
        int64_t off[3] = { 0, 3, 3 };
        must_accept(e, ta_array(&c, 2, 0, 0, 3, NULL, 0, off, sizeof off, "abc", 3), ta_schema(&c, "U"), "U");
        must_accept(e, ta_array(&c, 2, 0, 0, 3, NULL, 0, off, sizeof off, "abc", 3), ta_schema(&c, "Z"), "Z");
    }
    /* list<int32>, large list, fixed-size list */
    {
        int32_t off[4] = { 0, 2, 2, 5 };
        int64_t loff[4] = { 0, 2, 2, 5 };
        struct ArrowArray l = ta_array(&c, 3, 0, 0, 2, NULL, 0, off, sizeof off, NULL, 0);
        struct ArrowSchema ls = ta_schema(&c, "+l");
        ta_add_child(&l, &ls, ta_int32(&c, 5), ta_schema(&c, "i"));
        must_accept(e, l, ls, "+l");
        l = ta_array(&c, 3, 0, 0, 2, NULL, 0, loff, sizeof loff, NULL, 0);
        ls = ta_schema(&c, "+L");
        ta_add_child(&l, &ls, ta_int32(&c, 5), ta_schema(&c, "i"));
        must_accept(e, l, ls, "+L");
        l = ta_array(&c, 3, 0, 0, 1, NULL, 0, NULL, 0, NULL, 0);
        ls = ta_schema(&c, "+w:2");
        ta_add_child(&l, &ls, ta_int32(&c, 6), ta_schema(&c, "i"));
        must_accept(e, l, ls, "+w:2");
    }
    /* struct<int32, utf8> and map<utf8, int32> */
    {
        struct ArrowArray st = ta_array(&c, 4, 0, 0, 1, NULL, 0, NULL, 0, NULL, 0), m, kv;
        struct ArrowSchema sts = ta_schema(&c, "+s"), ms, kvs;
        int32_t off[3] = { 0, 1, 4 };
        ta_add_child(&st, &sts, ta_int32(&c, 4), ta_schema(&c, "i"));
        ta_add_child(&st, &sts, ta_utf8(&c, words, 4), ta_schema(&c, "u"));
        must_accept(e, st, sts, "+s");
        kv = ta_array(&c, 4, 0, 0, 1, NULL, 0, NULL, 0, NULL, 0);
        kvs = ta_schema(&c, "+s");
        ta_add_child(&kv, &kvs, ta_utf8(&c, words, 4), ta_schema(&c, "u"));
        ta_add_child(&kv, &kvs, ta_int32(&c, 4), ta_schema(&c, "i"));
        m = ta_array(&c, 2, 0, 0, 2, NULL, 0, off, sizeof off, NULL, 0);
        ms = ta_schema(&c, "+m");
        ta_add_child(&m, &ms, kv, kvs);
        must_accept(e, m, ms, "+m");
    }
    /* dictionary-encoded: int8 indices into utf8 */
    {
        int8_t idx[6] = { 0, 1, 3, 3, 2, 0 };
        struct ArrowArray d = ta_array(&c, 6, 0, 0, 2, NULL, 0, idx, sizeof idx, NULL, 0);
        struct ArrowSchema ds = ta_schema(&c, "c");
        ta_set_dictionary(&d, &ds, ta_utf8(&c, words, 4), ta_schema(&c, "u"));
        must_accept(e, d, ds, "dictionary");
    }
    /* zero-length arrays may have NULL buffers; an offset into a longer array */
    must_accept(e, ta_array(&c, 0, 0, 0, 2, NULL, 0, NULL, 0, NULL, 0), ta_schema(&c, "l"), "empty l");
    must_accept(e, ta_array(&c, 0, 0, 0, 3, NULL, 0, NULL, 0, NULL, 0), ta_schema(&c, "u"), "empty u");
    {
        uint8_t valid[2] = { 0xff, 0x0f }; /* bits 0-11 set: window [3, 3 + 10) has 1 null (bit 12) */
        must_accept(e, ta_array(&c, 10, 1, 3, 2, valid, 2, data, 13 * 8, NULL, 0), ta_schema(&c, "l"), "offset 3");
        must_accept(e, ta_array(&c, 10, -1, 3, 2, valid, 2, data, 13 * 8, NULL, 0), ta_schema(&c, "l"),
                    "null_count -1");
    }
    zenith_free(e);
    cr_assert_eq(c.arrays, c.schemas);
    cr_assert_gt(c.arrays, 40);
}

/* ---- every malformed shape: -4, the caller keeps it, nothing released ---------------------------- */

typedef struct {
    struct ArrowArray a;
    struct ArrowSchema s;
} pair;

static pair good_int32(ta_counts *c) {
    pair p;
    p.a = ta_int32(c, 8);
    p.s = ta_schema(c, "i");
    return p;
}

static pair good_list(ta_counts *c) {
    int32_t off[4] = { 0, 2, 2, 5 };
    pair p;
    p.a = ta_array(c, 3, 0, 0, 2, NULL, 0, off, sizeof off, NULL, 0);
    p.s = ta_schema(c, "+l");
    ta_add_child(&p.a, &p.s, ta_int32(c, 5), ta_schema(c, "i"));
    return p;
}

static pair good_utf8(ta_counts *c) {
    static const char *const w[] = { "ab", "", "cde" };
    pair p;
    p.a = ta_utf8(c, w, 3);
    p.s = ta_schema(c, "u");
    return p;
}

static pair good_struct(ta_counts *c) {
    pair p;
    p.a = ta_array(c, 4, 0, 0, 1, NULL, 0, NULL, 0, NULL, 0);
    p.s = ta_schema(c, "+s");
    ta_add_child(&p.a, &p.s, ta_int32(c, 4), ta_schema(c, "i"));
    return p;
}

static pair good_dict(ta_counts *c) {
    static const char *const w[] = { "x", "y", "z" };
    int16_t idx[4] = { 0, 2, 1, 2 };
    pair p;
    p.a = ta_array(c, 4, 0, 0, 2, NULL, 0, idx, sizeof idx, NULL, 0);
    p.s = ta_schema(c, "s");
    ta_set_dictionary(&p.a, &p.s, ta_utf8(c, w, 3), ta_schema(c, "u"));
    return p;
}

static void set_format(struct ArrowSchema *s, const char *f) {
    ta_schema_priv *p = (ta_schema_priv *)s->private_data;
    strcpy(p->format, f);
}

static void no_release(struct ArrowArray *a) { a->release = NULL; }
static const uint8_t two_nulls_bits = 0xfc; /* bits 0, 1 clear */
static int32_t bad_offsets_decreasing[4] = { 0, 3, 2, 5 };
static int32_t bad_offsets_negative[4] = { -1, 2, 2, 5 };
static int32_t bad_offsets_past_child[4] = { 0, 2, 2, 6 };
static const int16_t bad_index[4] = { 0, 3, 1, 2 };
static const int16_t negative_index[4] = { 0, -1, 1, 2 };

static void reject(ZenithEngine e, pair p, const char *what) {
    ta_counts *c = ((ta_array_priv *)p.a.private_data)->counts;
    int before = c->arrays + c->schemas, rc;
    zenith_engine_stats st0 = estats(e), st1;
    void (*arel)(struct ArrowArray *) = p.a.release;
    void (*srel)(struct ArrowSchema *) = p.s.release;
    rc = zenith_publish(e, &p.a, &p.s, 5, 0);
    cr_assert_eq(rc, ZENITH_E_FFI, "%s: %d %s", what, rc, zenith_errname(rc));
    cr_assert(p.a.release == arel && p.s.release == srel, "%s: ownership stays with the caller", what);
    cr_assert_eq(c->arrays + c->schemas, before, "%s: a release callback ran", what);
    st1 = estats(e);
    cr_assert_eq(st1.rejected_invalid, st0.rejected_invalid + 1, "%s", what);
    cr_assert_eq(st1.published, st0.published, "%s", what);
    if (p.a.release == NULL) p.a.release = ta_array_release; /* the "released" cases: undo to free */
    ta_release(&p.a, &p.s);
}

Test(engine, every_malformed_shape_returns_minus_4_and_keeps_ownership, .timeout = 10) {
    ta_counts c = { 0, 0 };
    ZenithEngine e = mkengine(16);
    pair p;
    static const char *const bad_formats[] = { "",    "x",    "ii",    "w:",    "w:0",      "w:-1",    "w:4x",
                                               "d:",  "d:10", "d:10,", "d:0,2", "d:10,2,7", "d:10,2,", "t",
                                               "td",  "tdX",  "tt",    "ttx",   "tsu",      "tsx:",    "tDx",
                                               "tiX", "+",    "+x",    "+w:",   "+w:0",     "+us:0,1", "+ud:0",
                                               "+r",  "vu",   "vz",    "+ll",   "+s1",      "+m+",     "nn" };
    size_t i;
    cr_assert_eq(ZENITH_E_FFI, -4);
    for (i = 0; i < sizeof bad_formats / sizeof bad_formats[0]; i++) {
        p = good_int32(&c);
        set_format(&p.s, bad_formats[i]);
        reject(e, p, bad_formats[i]);
    }
    /* released structs */
    p = good_int32(&c);
    p.a.release = NULL;
    reject(e, p, "array released");
    p = good_int32(&c);
    {
        struct ArrowSchema keep = p.s;
        p.s.release = NULL;
        cr_assert_eq(zenith_publish(e, &p.a, &p.s, 0, 0), ZENITH_E_FFI, "schema released");
        p.s = keep;
        ta_release(&p.a, &p.s);
    }
    p = good_list(&c);
    no_release(p.a.children[0]);
    cr_assert_eq(zenith_publish(e, &p.a, &p.s, 0, 0), ZENITH_E_FFI, "child released");
    cr_assert(p.a.release != NULL);
    p.a.children[0]->release = ta_array_release; /* undo, to free it */
    ta_release(&p.a, &p.s);
    p = good_int32(&c);
    p.s.format = NULL;
    reject(e, p, "NULL format");
    /* lengths, offsets, counts */
    p = good_int32(&c);
    p.a.length = -1;
    reject(e, p, "length -1");
    p = good_int32(&c);
    p.a.offset = -1;
    reject(e, p, "offset -1");
    p = good_int32(&c);
    p.a.offset = INT64_MAX;
    reject(e, p, "offset + length overflows");
    p = good_int32(&c);
    p.a.null_count = -2;
    reject(e, p, "null_count -2");
    p = good_int32(&c);
    p.a.null_count = 9;
    reject(e, p, "null_count > length");
    p = good_int32(&c);
    p.a.null_count = 2;
    reject(e, p, "null_count 2 without a validity bitmap");
    p = good_int32(&c);
    ((ta_array_priv *)p.a.private_data)->bufs[0] = &two_nulls_bits;
    p.a.null_count = 1;
    reject(e, p, "null_count 1, bitmap says 2");
    p = good_int32(&c);
    p.a.n_buffers = 3;
    reject(e, p, "3 buffers for int32");
    p = good_int32(&c);
    p.a.n_buffers = 1;
    reject(e, p, "1 buffer for int32");
    p = good_int32(&c);
    p.a.buffers = NULL;
    reject(e, p, "buffers NULL");
    p = good_int32(&c);
    ((ta_array_priv *)p.a.private_data)->bufs[1] = NULL;
    reject(e, p, "data NULL with length 8");
    p = good_int32(&c);
    p.a.n_children = 1;
    reject(e, p, "array has a child the schema has not");
    /* variable length */
    p = good_utf8(&c);
    ((ta_array_priv *)p.a.private_data)->bufs[1] = NULL;
    reject(e, p, "utf8 offsets NULL");
    p = good_utf8(&c);
    ((ta_array_priv *)p.a.private_data)->bufs[1] = bad_offsets_decreasing;
    reject(e, p, "utf8 offsets decreasing");
    p = good_utf8(&c);
    ((ta_array_priv *)p.a.private_data)->bufs[1] = bad_offsets_negative;
    reject(e, p, "utf8 first offset negative");
    p = good_utf8(&c);
    ((ta_array_priv *)p.a.private_data)->bufs[2] = NULL;
    reject(e, p, "utf8 data NULL with bytes to point at");
    p = good_utf8(&c);
    p.a.n_buffers = 2;
    reject(e, p, "utf8 with 2 buffers");
    /* nested */
    p = good_list(&c);
    ((ta_array_priv *)p.a.private_data)->bufs[1] = bad_offsets_past_child;
    reject(e, p, "list offset past the child");
    p = good_list(&c);
    ((ta_array_priv *)p.a.private_data)->bufs[1] = bad_offsets_decreasing;
    reject(e, p, "list offsets decreasing");
    p = good_list(&c);
    p.a.children[0]->length = -1;
    reject(e, p, "child length -1");
    p = good_list(&c);
    p.s.children[0]->format = "+q";
    reject(e, p, "child format unknown");
    p = good_list(&c);
    p.a.n_children = p.s.n_children = 0;
    reject(e, p, "list without a child");
    p = good_list(&c);
    p.a.children = NULL;
    reject(e, p, "children NULL");
    {
        struct ArrowArray *kid;
        struct ArrowSchema *skid;
        p = good_list(&c);
        kid = p.a.children[0];
        p.a.children[0] = NULL;
        cr_assert_eq(zenith_publish(e, &p.a, &p.s, 0, 0), ZENITH_E_FFI, "a NULL child pointer (found by fuzz_arrow)");
        p.a.children[0] = kid;
        skid = p.s.children[0];
        p.s.children[0] = NULL;
        cr_assert_eq(zenith_publish(e, &p.a, &p.s, 0, 0), ZENITH_E_FFI, "a NULL child schema pointer");
        p.s.children[0] = skid;
        ta_release(&p.a, &p.s);
    }
    p = good_struct(&c);
    p.a.children[0]->length = 3;
    reject(e, p, "struct child shorter than the struct");
    p = good_struct(&c);
    set_format(&p.s, "+w:1");
    p.a.children[0]->length = 3;
    reject(e, p, "fixed-size list child too short");
    p = good_list(&c);
    set_format(&p.s, "+m");
    reject(e, p, "map whose child is not a struct of two");
    p = good_int32(&c);
    set_format(&p.s, "+s");
    p.a.n_buffers = 1;
    ta_add_child(&p.a, &p.s, ta_int32(&c, 8), ta_schema(&c, "i"));
    p.a.n_children = 1;
    p.s.n_children = 2;
    reject(e, p, "schema and array disagree on children");
    /* dictionaries */
    p = good_dict(&c);
    ((ta_array_priv *)p.a.private_data)->bufs[1] = bad_index;
    reject(e, p, "dictionary index past the dictionary");
    p = good_dict(&c);
    ((ta_array_priv *)p.a.private_data)->bufs[1] = negative_index;
    reject(e, p, "negative dictionary index");
    p = good_dict(&c);
    set_format(&p.s, "f");
    reject(e, p, "float dictionary indices");
    p = good_dict(&c);
    p.a.dictionary = NULL;
    reject(e, p, "schema has a dictionary, array none");
    p = good_dict(&c);
    p.s.dictionary->format = "+q";
    reject(e, p, "dictionary malformed");
    p = good_dict(&c);
    p.a.dictionary->release = NULL;
    cr_assert_eq(zenith_publish(e, &p.a, &p.s, 0, 0), ZENITH_E_FFI, "dictionary released");
    p.a.dictionary->release = ta_array_release;
    ta_release(&p.a, &p.s);
    /* the null type must be all null */
    p.a = ta_array(&c, 5, 2, 0, 0, NULL, 0, NULL, 0, NULL, 0);
    p.s = ta_schema(&c, "n");
    reject(e, p, "null type with non-null values");
    cr_assert_eq(estats(e).published, 0);
    zenith_free(e);
    cr_assert_eq(c.arrays, c.schemas);
}

/* Nesting deeper than the validator walks (64) is refused, never a stack overflow. */
Test(engine, nesting_deeper_than_64_is_refused, .timeout = 10) {
    ta_counts c = { 0, 0 };
    ZenithEngine e = mkengine(4);
    pair p;
    int depth;
    p.a = ta_int32(&c, 1);
    p.s = ta_schema(&c, "i");
    for (depth = 0; depth < 70; depth++) {
        pair up;
        up.a = ta_array(&c, 1, 0, 0, 1, NULL, 0, NULL, 0, NULL, 0);
        up.s = ta_schema(&c, "+s");
        ta_add_child(&up.a, &up.s, p.a, p.s);
        p = up;
    }
    reject(e, p, "70 levels of struct");
    zenith_free(e);
}

/* The offsets check runs four at a time: a decrease at every position, for every length and
   start, in the vector part and in the tail, is found; monotonic offsets pass. */
Test(engine, every_offset_decrease_is_found_at_every_position, .timeout = 20) {
    ta_counts c = { 0, 0 };
    ZenithEngine e = mkengine(4);
    int32_t off[48];
    int len, start, bad;
    for (len = 1; len <= 40; len++)
        for (start = 0; start <= 3; start++) {
            int k;
            for (k = 0; k <= start + len; k++) off[k] = 10 * k; /* monotonic */
            {
                pair p;
                zenith_batch b;
                p.a = ta_array(&c, len, 0, start, 3, NULL, 0, off, (size_t)(start + len + 1) * 4, "x", 1);
                p.s = ta_schema(&c, "u");
                cr_assert_eq(zenith_publish(e, &p.a, &p.s, 0, 0), 0, "len %d start %d", len, start);
                cr_assert_eq(zenith_poll(e, &b), 1);
                zenith_batch_release(e, &b);
            }
            for (bad = start + 1; bad <= start + len; bad++) {
                pair p;
                for (k = 0; k <= start + len; k++) off[k] = 10 * k;
                off[bad] = off[bad - 1] - 1; /* one decrease, at position bad */
                p.a = ta_array(&c, len, 0, start, 3, NULL, 0, off, (size_t)(start + len + 1) * 4, "x", 1);
                p.s = ta_schema(&c, "u");
                cr_assert_eq(zenith_publish(e, &p.a, &p.s, 0, 0), ZENITH_E_FFI, "len %d start %d bad %d", len, start,
                             bad);
                ta_release(&p.a, &p.s);
            }
        }
    zenith_free(e);
    cr_assert_eq(c.arrays, c.schemas);
}

/* ---- the engine's own names, and the design's aliases ---------------------------------------- */

Test(engine, engine_names_and_design_aliases_behave_alike, .timeout = 10) {
    ta_counts c = { 0, 0 };
    ZenithEngine e = zenith_engine_create(4), f = zenith_init(4);
    struct ArrowArray a = ta_int32(&c, 10), a2 = ta_int32(&c, 10);
    struct ArrowSchema s = ta_schema(&c, "i"), s2 = ta_schema(&c, "i");
    zenith_batch b;
    cr_assert_not_null(e);
    cr_assert_not_null(f);
    cr_assert_null(zenith_engine_create(0), "capacity 0 refused by the new name");
    cr_assert_null(zenith_init(0), "and by the alias");
    cr_assert_eq(zenith_engine_publish(e, &a, &s, 1, 0), 0);
    cr_assert_eq(zenith_publish(e, &a2, &s2, 1, 1), 0, "the alias publishes to the same engine");
    cr_assert_eq(zenith_engine_publish(e, NULL, &s, 1, 2), ZENITH_E_NULL);
    cr_assert_eq(zenith_publish(e, NULL, &s, 1, 2), ZENITH_E_NULL);
    cr_assert_eq(zenith_engine_poll(e, &b), 1);
    cr_assert_eq(b.seq_no, 0u);
    cr_assert_eq(zenith_batch_release(e, &b), 0);
    cr_assert_eq(zenith_poll(e, &b), 1, "the alias polls what the new name published");
    cr_assert_eq(b.seq_no, 1u);
    cr_assert_eq(zenith_batch_release(e, &b), 0);
    cr_assert_eq(zenith_engine_poll(e, &b), 0);
    cr_assert_eq(zenith_engine_poll(NULL, &b), ZENITH_E_NULL);
    cr_assert_eq(zenith_poll(NULL, &b), ZENITH_E_NULL);
    cr_assert_eq(zenith_engine_load_plugin(e, NULL, 0), ZENITH_E_NULL);
    cr_assert_eq(zenith_load_plugin(e, NULL, 0), ZENITH_E_NULL);
    cr_assert_eq(c.arrays, 2);
    cr_assert_eq(c.schemas, 2);
    zenith_engine_destroy(e);
    zenith_free(f);
    zenith_engine_destroy(NULL);
    zenith_free(NULL);
}

/* ---- the ABI layout table ------------------------------------------------------------------- */

Test(engine, layout_table_matches_the_compiler, .timeout = 10) {
    size_t n = zenith_layout_count(), i, off = 0, sz = 0, whole = 0;
    const char *t = NULL, *fld = NULL;
    cr_assert_gt(n, 200u, "every public struct's fields are listed (%zu rows)", n);
    for (i = 0; i < n; i++) {
        cr_assert_eq(zenith_layout_get(i, &t, &fld, &off, &sz), 0);
        cr_assert(t && fld && t[0], "row %zu named", i);
        cr_assert_gt(sz, 0u, "%s.%s has a size", t, fld);
        if (fld[0] == 0) {
            whole = sz;
            cr_assert_eq(off, 0u);
        } else {
            cr_assert_leq(off + sz, whole, "%s.%s inside its struct", t, fld);
        }
    }
    cr_assert_eq(zenith_layout_get(n, &t, &fld, &off, &sz), ZENITH_E_INVAL);
    cr_assert_eq(zenith_layout_find("zenith_server_config", "max_udp", &off, &sz), 0);
    cr_assert_eq(off, offsetof(zenith_server_config, max_udp));
    cr_assert_eq(sz, sizeof(((zenith_server_config *)0)->max_udp));
    cr_assert_eq(zenith_layout_find("zenith_batch", NULL, &off, &sz), 0);
    cr_assert_eq(sz, sizeof(zenith_batch));
    cr_assert_eq(zenith_layout_find("ArrowArray", "release", &off, &sz), 0);
    cr_assert_eq(off, offsetof(struct ArrowArray, release));
    cr_assert_eq(zenith_layout_find("zenith_udp_info", "kernel_drops", &off, &sz), 0);
    cr_assert_eq(off, offsetof(zenith_udp_info, kernel_drops));
    off = 12345;
    cr_assert_eq(zenith_layout_find("zenith_server_config", "no_such_field", &off, &sz), ZENITH_E_NOT_FOUND);
    cr_assert_eq(zenith_layout_find("no_such_struct", "", &off, &sz), ZENITH_E_NOT_FOUND);
    cr_assert_eq(off, 12345u, "nothing written on a miss");
    cr_assert_eq(zenith_layout_find(NULL, "x", &off, &sz), ZENITH_E_NULL);
    cr_assert_eq(zenith_layout_hash(), zenith_layout_hash());
    cr_assert_neq(zenith_layout_hash(), 0u);
}

/* A capacity of 1 is a ring of two: each batch keeps its place (a ring of one let the second
   publish overwrite the first, whose release never ran, and the next poll spun). */
Test(engine, capacity_one_holds_two_batches_and_never_overwrites, .timeout = 10) {
    ta_counts c = { 0, 0 };
    ZenithEngine e = mkengine(1);
    struct ArrowArray a[3];
    struct ArrowSchema s[3];
    zenith_batch b;
    int i;
    cr_assert_eq(estats(e).capacity, 2u);
    for (i = 0; i < 3; i++) {
        a[i] = ta_int32(&c, 4);
        s[i] = ta_schema(&c, "i");
    }
    cr_assert_eq(zenith_engine_publish(e, &a[0], &s[0], 1, 0), 0);
    cr_assert_eq(zenith_engine_publish(e, &a[1], &s[1], 1, 1), 0);
    cr_assert_eq(zenith_engine_publish(e, &a[2], &s[2], 1, 2), ZENITH_E_FULL, "two held: full");
    cr_assert(a[2].release != NULL, "the caller keeps the refused batch");
    for (i = 0; i < 2; i++) {
        cr_assert_eq(zenith_engine_poll(e, &b), 1);
        cr_assert_eq(b.seq_no, (uint64_t)i, "in order, nothing overwritten");
        cr_assert_eq(zenith_batch_release(e, &b), 0);
    }
    cr_assert_eq(zenith_engine_poll(e, &b), 0, "empty: returns at once");
    cr_assert_eq(c.arrays, 2);
    ta_release(&a[2], &s[2]);
    zenith_engine_destroy(e);
    cr_assert_eq(c.arrays, 3);
}
