/* fuzz_arrow.c -- libFuzzer target for zenith_publish's Arrow validation.

   The input is read as a recipe for an ArrowArray/ArrowSchema tree: formats (from a table of
   valid and broken ones, or raw bytes), lengths, offsets, null counts, buffer and child counts,
   NULL pointers, released children, dictionaries, and buffer contents (fuzz bytes, or offsets
   made monotonic so the deeper checks are reached). Every buffer is large enough for anything
   the validator may read for lengths and offsets up to 64, which is as far as the C Data
   Interface lets any validator go: it carries no buffer sizes. The engine must never crash, and
   whatever it accepts must poll and release cleanly.

   Build and run: make fuzz (FUZZ_SECONDS=60 by default); needs clang with libFuzzer. */
#define ZENITH_IMPLEMENTATION
#include "zenith.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define MAX_NODES 32
#define MAX_KIDS 3
#define MAX_DEPTH 6
#define REGION 2048 /* bytes per buffer: 129 offsets of 8 bytes, bitmaps, 64 indices of 8 bytes */

typedef struct {
    const uint8_t *p;
    size_t n;
} reader;

static uint8_t byte(reader *r) {
    if (r->n == 0) return 0;
    r->n--;
    return *r->p++;
}

typedef struct node {
    struct ArrowArray a;
    struct ArrowSchema s;
    const void *bufs[4];
    struct ArrowArray *akids[MAX_KIDS];
    struct ArrowSchema *skids[MAX_KIDS];
    char format[16];
    uint8_t region[4][REGION];
} node;

static node nodes[MAX_NODES];
static int used;

static void release_array(struct ArrowArray *a) { a->release = NULL; }
static void release_schema(struct ArrowSchema *s) { s->release = NULL; }

static const char *const formats[] = { "n",   "b",     "c",        "C",    "s",   "S",    "i",   "I",   "l",
                                       "L",   "e",     "f",        "g",    "z",   "Z",    "u",   "U",   "w:4",
                                       "w:0", "d:9,2", "d:9,2,32", "d:1,", "tdD", "tdm",  "tts", "ttn", "tsu:UTC",
                                       "tDs", "tiM",   "tin",      "+l",   "+L",  "+w:2", "+s",  "+m",  "+us:0",
                                       "+",   "x",     "",         "ii",   "tsx:" };

static node *build(reader *r, int depth) {
    node *nd;
    uint8_t ctl, k;
    int i, kids;
    if (used >= MAX_NODES) return NULL;
    nd = &nodes[used++];
    memset(&nd->a, 0, sizeof nd->a);
    memset(&nd->s, 0, sizeof nd->s);
    k = byte(r);
    if (k < 0xf0) {
        strcpy(nd->format, formats[k % (sizeof formats / sizeof formats[0])]);
    } else { /* raw format bytes */
        for (i = 0; i < 8; i++) nd->format[i] = (char)byte(r);
        nd->format[8] = 0;
    }
    nd->s.format = nd->format;
    nd->s.release = release_schema;
    nd->a.release = release_array;
    nd->a.length = byte(r) % 65;
    nd->a.offset = byte(r) % 65;
    nd->a.null_count = (int64_t)(byte(r) % (nd->a.length + 3)) - 1; /* -1 .. length + 1 */
    ctl = byte(r);
    nd->a.n_buffers = ctl & 3;
    if ((ctl >> 2 & 7) == 7) nd->a.n_buffers = 3; /* most formats want 2 or 3: reach them often */
    for (i = 0; i < 4; i++) {
        uint8_t how = byte(r);
        uint8_t *reg = nd->region[i];
        memset(reg, 0, REGION);
        if (how % 5 == 0) {
            nd->bufs[i] = NULL;
            continue;
        }
        if (how % 5 == 1) { /* monotonic 32-bit offsets */
            int32_t *o = (int32_t *)(void *)reg, v = 0;
            int j;
            for (j = 0; j < 130; j++) o[j] = v += byte(r) % 3;
        } else if (how % 5 == 2) { /* monotonic 64-bit offsets */
            int64_t *o = (int64_t *)(void *)reg, v = 0;
            int j;
            for (j = 0; j < 130; j++) o[j] = v += byte(r) % 3;
        } else if (how % 5 == 3) { /* all-valid bitmap */
            memset(reg, 0xff, REGION);
        } else {
            size_t j;
            for (j = 0; j < 64; j++) reg[j] = byte(r);
        }
        nd->bufs[i] = reg;
    }
    nd->a.buffers = (ctl & 0x20) ? NULL : nd->bufs;
    kids = depth < MAX_DEPTH ? byte(r) % (MAX_KIDS + 1) : 0;
    for (i = 0; i < kids; i++) {
        node *c = build(r, depth + 1);
        if (c == NULL) break;
        nd->akids[i] = &c->a;
        nd->skids[i] = &c->s;
        k = byte(r);
        if (k == 0xee) c->a.release = NULL; /* a released child */
        if (k == 0xed) nd->akids[i] = NULL; /* a NULL child pointer */
        if (k == 0xec) nd->skids[i] = NULL;
        nd->a.n_children = nd->s.n_children = i + 1;
    }
    nd->a.children = nd->akids;
    nd->s.children = nd->skids;
    if (ctl & 0x40) nd->s.n_children = byte(r) % (MAX_KIDS + 1); /* disagreeing counts */
    if ((ctl & 0x80) && depth < MAX_DEPTH) {                     /* dictionary */
        node *d = build(r, depth + 1);
        if (d) {
            uint8_t which = byte(r);
            if (which % 4 != 1) nd->a.dictionary = &d->a;
            if (which % 4 != 2) nd->s.dictionary = &d->s;
        }
    }
    return nd;
}

static ZenithEngine engine;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    reader r = { data, size };
    node *root;
    zenith_batch b;
    int rc;
    if (engine == NULL) engine = zenith_init(1);
    used = 0;
    root = build(&r, 0);
    rc = zenith_publish(engine, &root->a, &root->s, byte(&r), byte(&r));
    if (rc == 0) {
        if (root->a.release != NULL || root->s.release != NULL) abort(); /* accepted: moved */
        if (zenith_poll(engine, &b) != 1) abort();
        if (zenith_batch_release(engine, &b) != 0) abort();
    } else if (rc != ZENITH_E_FFI || root->a.release == NULL || root->s.release == NULL) {
        abort(); /* refused: only with -4, and the caller keeps both structs */
    }
    return 0;
}
