/* The C side of the Go package: the whole library (zenith.c: both headers, implementation
   on), plus small helpers cgo needs (callback casts, Arrow arrays in C memory). */
#include "../../zenith.c"

#include <stdlib.h>
#include <string.h>

#include "zenith_go.h"

/* ---- server callbacks: the exported Go functions, cast to the C callback types ---------------- */
extern void goZenithAccept(void *user, uint64_t conn);
extern void goZenithData(void *user, uint64_t conn, uint8_t *data, size_t len);
extern void goZenithClose(void *user, uint64_t conn, int reason);

int zgo_set_callbacks(zenith_server *s, uintptr_t handle) {
    return zenith_server_set_callbacks(s, (zenith_accept_fn)goZenithAccept, (zenith_data_fn)goZenithData,
                                       (zenith_close_fn)goZenithClose, (void *)handle);
}

/* ---- Arrow int64 arrays in C memory (cgo forbids C keeping Go pointers) ------------------------- */
static uint64_t zgo_released_arrays, zgo_released_schemas;

typedef struct {
    const void *buffers[2];
    int64_t values[];
} zgo_int64;

static void zgo_release_array(struct ArrowArray *a) {
    free(a->private_data);
    a->release = NULL;
    __atomic_fetch_add(&zgo_released_arrays, 1u, __ATOMIC_RELAXED);
}

static void zgo_release_schema(struct ArrowSchema *s) {
    s->release = NULL;
    __atomic_fetch_add(&zgo_released_schemas, 1u, __ATOMIC_RELAXED);
}

int zgo_int64_array(const int64_t *values, int64_t n, struct ArrowArray *a, struct ArrowSchema *s) {
    zgo_int64 *p = (zgo_int64 *)malloc(sizeof *p + (size_t)(n > 0 ? n : 1) * sizeof(int64_t));
    if (p == NULL) return ZENITH_E_NOMEM;
    if (n > 0) memcpy(p->values, values, (size_t)n * sizeof(int64_t));
    p->buffers[0] = NULL;
    p->buffers[1] = p->values;
    memset(a, 0, sizeof *a);
    memset(s, 0, sizeof *s);
    a->length = n;
    a->n_buffers = 2;
    a->buffers = p->buffers;
    a->release = zgo_release_array;
    a->private_data = p;
    s->format = "l";
    s->flags = ARROW_FLAG_NULLABLE;
    s->release = zgo_release_schema;
    return 0;
}

uint64_t zgo_released(int schemas) {
    return __atomic_load_n(schemas ? &zgo_released_schemas : &zgo_released_arrays, __ATOMIC_RELAXED);
}

int64_t zgo_int64_at(const struct ArrowArray *a, int64_t i) { return ((const int64_t *)a->buffers[1])[a->offset + i]; }

int zgo_is_released(const struct ArrowArray *a, const struct ArrowSchema *s) {
    return (a->release == NULL) | ((s->release == NULL) << 1);
}

/* A release callback that frees nothing, for "undo" in tests. */
void zgo_release_now(struct ArrowArray *a, struct ArrowSchema *s) {
    if (a->release) a->release(a);
    if (s->release) s->release(s);
}
