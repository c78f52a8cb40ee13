/* arrow_helpers.h -- Arrow C Data Interface arrays and schemas built by hand for the engine
   tests (after zenith.h and criterion_compat.h). Every struct made here owns what it points to
   and frees it in its release callback, which also counts itself in a caller's counter, so a
   test can check each callback ran exactly once. */
#ifndef ZENITH_TEST_ARROW_HELPERS_H
#define ZENITH_TEST_ARROW_HELPERS_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define TA_MAX_KIDS 4

typedef struct ta_counts {
    int arrays;  /* release callbacks run on top-level arrays made with this counter */
    int schemas; /* ... and schemas */
} ta_counts;

typedef struct ta_array_priv {
    ta_counts *counts; /* NULL for children (their parent's release frees them) */
    void *mem[3];
    const void *bufs[3];
    struct ArrowArray *kids[TA_MAX_KIDS];
    struct ArrowArray *dict;
} ta_array_priv;

typedef struct ta_schema_priv {
    ta_counts *counts;
    char format[64];
    struct ArrowSchema *kids[TA_MAX_KIDS];
    struct ArrowSchema *dict;
} ta_schema_priv;

static void ta_array_release(struct ArrowArray *a) {
    ta_array_priv *p = (ta_array_priv *)a->private_data;
    int i;
    cr_assert(a->release != NULL, "release of a released array");
    for (i = 0; i < TA_MAX_KIDS; i++)
        if (p->kids[i]) {
            if (p->kids[i]->release) p->kids[i]->release(p->kids[i]);
            free(p->kids[i]);
        }
    if (p->dict) {
        if (p->dict->release) p->dict->release(p->dict);
        free(p->dict);
    }
    for (i = 0; i < 3; i++) free(p->mem[i]);
    if (p->counts) p->counts->arrays++;
    free(p);
    a->release = NULL;
}

static void ta_schema_release(struct ArrowSchema *s) {
    ta_schema_priv *p = (ta_schema_priv *)s->private_data;
    int i;
    cr_assert(s->release != NULL, "release of a released schema");
    for (i = 0; i < TA_MAX_KIDS; i++)
        if (p->kids[i]) {
            if (p->kids[i]->release) p->kids[i]->release(p->kids[i]);
            free(p->kids[i]);
        }
    if (p->dict) {
        if (p->dict->release) p->dict->release(p->dict);
        free(p->dict);
    }
    if (p->counts) p->counts->schemas++;
    free(p);
    s->release = NULL;
}

/* An array of `length` values with buffers copied from b0..b2 (sizes in bytes; NULL/0 = a NULL
   buffer), n_buffers buffers, no children yet. */
static inline struct ArrowArray ta_array(ta_counts *counts, int64_t length, int64_t null_count, int64_t offset,
                                         int n_buffers, const void *b0, size_t s0, const void *b1, size_t s1,
                                         const void *b2, size_t s2) {
    struct ArrowArray a;
    ta_array_priv *p = (ta_array_priv *)calloc(1, sizeof *p);
    const void *src[3] = { b0, b1, b2 };
    size_t sz[3] = { s0, s1, s2 };
    int i;
    cr_assert_not_null(p);
    memset(&a, 0, sizeof a);
    for (i = 0; i < 3; i++)
        if (src[i]) {
            p->mem[i] = malloc(sz[i] ? sz[i] : 1);
            cr_assert_not_null(p->mem[i]);
            memcpy(p->mem[i], src[i], sz[i]);
            p->bufs[i] = p->mem[i];
        }
    p->counts = counts;
    a.length = length;
    a.null_count = null_count;
    a.offset = offset;
    a.n_buffers = n_buffers;
    a.buffers = p->bufs;
    a.children = p->kids;
    a.release = ta_array_release;
    a.private_data = p;
    return a;
}

static inline struct ArrowSchema ta_schema(ta_counts *counts, const char *format) {
    struct ArrowSchema s;
    ta_schema_priv *p = (ta_schema_priv *)calloc(1, sizeof *p);
    cr_assert_not_null(p);
    cr_assert_lt(strlen(format), sizeof p->format);
    strcpy(p->format, format);
    memset(&s, 0, sizeof s);
    p->counts = counts;
    s.format = p->format;
    s.name = "";
    s.flags = ARROW_FLAG_NULLABLE;
    s.children = p->kids;
    s.release = ta_schema_release;
    s.private_data = p;
    return s;
}

/* Moves child into parent's children (heap copies owned by the parent). */
static inline void ta_add_child(struct ArrowArray *parent, struct ArrowSchema *parent_schema, struct ArrowArray child,
                                struct ArrowSchema child_schema) {
    ta_array_priv *pa = (ta_array_priv *)parent->private_data;
    ta_schema_priv *ps = (ta_schema_priv *)parent_schema->private_data;
    int64_t k = parent->n_children;
    cr_assert_lt(k, TA_MAX_KIDS);
    pa->kids[k] = (struct ArrowArray *)malloc(sizeof child);
    ps->kids[k] = (struct ArrowSchema *)malloc(sizeof child_schema);
    cr_assert(pa->kids[k] && ps->kids[k]);
    ((ta_array_priv *)child.private_data)->counts = NULL;
    ((ta_schema_priv *)child_schema.private_data)->counts = NULL;
    *pa->kids[k] = child;
    *ps->kids[k] = child_schema;
    parent->n_children = parent_schema->n_children = k + 1;
}

static inline void ta_set_dictionary(struct ArrowArray *a, struct ArrowSchema *s, struct ArrowArray dict,
                                     struct ArrowSchema dict_schema) {
    ta_array_priv *pa = (ta_array_priv *)a->private_data;
    ta_schema_priv *ps = (ta_schema_priv *)s->private_data;
    pa->dict = (struct ArrowArray *)malloc(sizeof dict);
    ps->dict = (struct ArrowSchema *)malloc(sizeof dict_schema);
    cr_assert(pa->dict && ps->dict);
    ((ta_array_priv *)dict.private_data)->counts = NULL;
    ((ta_schema_priv *)dict_schema.private_data)->counts = NULL;
    *pa->dict = dict;
    *ps->dict = dict_schema;
    a->dictionary = pa->dict;
    s->dictionary = ps->dict;
}

/* int32 values 0..n-1 (no nulls) */
static inline struct ArrowArray ta_int32(ta_counts *c, int64_t n) {
    int32_t v[256];
    int64_t i;
    cr_assert_leq(n, 256);
    for (i = 0; i < n; i++) v[i] = (int32_t)i;
    return ta_array(c, n, 0, 0, 2, NULL, 0, v, (size_t)n * 4, NULL, 0);
}

/* utf8 of the given strings */
static inline struct ArrowArray ta_utf8(ta_counts *c, const char *const *strs, int n) {
    int32_t off[65];
    char data[1024];
    int i;
    cr_assert_leq(n, 64);
    off[0] = 0;
    for (i = 0; i < n; i++) {
        size_t l = strlen(strs[i]);
        cr_assert_lt((size_t)off[i] + l, sizeof data);
        memcpy(data + off[i], strs[i], l);
        off[i + 1] = off[i] + (int32_t)l;
    }
    return ta_array(c, n, 0, 0, 3, NULL, 0, off, (size_t)(n + 1) * 4, data, (size_t)off[n]);
}

/* Releases an array and schema the caller still owns (after a refused publish). */
static inline void ta_release(struct ArrowArray *a, struct ArrowSchema *s) {
    if (a->release) a->release(a);
    if (s->release) s->release(s);
}

#endif
