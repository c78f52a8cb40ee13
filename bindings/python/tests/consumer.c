/* consumer.c -- the C side of the Python engine test: polls what Python published and checks
   it value by value. Built as a shared object against libzenith.so (declarations only here).

   int consumer_check(ZenithEngine e, int batches): polls `batches` batches; batch k must be
   source 1, seq_no k; an int64 array ("l") of k + 1 values v[i] = 3 * i + k when k is even, a
   utf8 array ("u") of k + 1 strings "s<i>" when k is odd. Releases each one. Returns batches
   checked, or -(100 + k) for the first batch k that is wrong, -1 if one is missing. */
#include "zenith.h"

#include <stdio.h>
#include <string.h>

int consumer_check(ZenithEngine e, int batches);

static int check(const zenith_batch *b, int k) {
    const struct ArrowArray *a = &b->array;
    int64_t i;
    if (b->source_id != 1 || b->seq_no != (uint64_t)k || a->length != k + 1 || a->offset != 0) return 0;
    if (k % 2 == 0) {
        const int64_t *v = (const int64_t *)a->buffers[1];
        if (strcmp(b->schema.format, "l") != 0 || a->n_buffers != 2) return 0;
        for (i = 0; i < a->length; i++)
            if (v[i] != 3 * i + k) return 0;
    } else {
        const int32_t *off = (const int32_t *)a->buffers[1];
        const char *data = (const char *)a->buffers[2];
        if (strcmp(b->schema.format, "u") != 0 || a->n_buffers != 3) return 0;
        for (i = 0; i < a->length; i++) {
            char want[32];
            int n = snprintf(want, sizeof want, "s%lld", (long long)i);
            if (off[i + 1] - off[i] != n || memcmp(data + off[i], want, (size_t)n) != 0) return 0;
        }
    }
    return 1;
}

int consumer_check(ZenithEngine e, int batches) {
    int k;
    for (k = 0; k < batches; k++) {
        zenith_batch b;
        int ok;
        if (zenith_poll(e, &b) != 1) return -1;
        ok = check(&b, k);
        zenith_batch_release(e, &b);
        if (!ok) return -(100 + k);
    }
    return k;
}
