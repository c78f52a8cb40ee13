/* The C side of the Go package: the whole library (zenith.c: both headers, implementation on,
   plugins compiled in), plus small helpers cgo needs (callback casts, Arrow arrays in C memory,
   socket addresses). zenith.c is found on the include path: csrc/ (vendored) or ../.. (the
   repository), see zenith.go's #cgo CFLAGS. */
#include "zenith.c"

#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "zenith_go.h"

/* ---- callbacks: the exported Go functions, cast to the C callback types ------------------------ */
extern void goZenithAccept(void *user, uint64_t conn);
extern void goZenithData(void *user, uint64_t conn, uint8_t *data, size_t len);
extern void goZenithClose(void *user, uint64_t conn, int reason);
extern void goZenithConnect(void *user, uint64_t conn, int status);
extern void goZenithTimer(void *user, uint64_t timer);
extern void goZenithPostFunc(void *user, void *data, size_t len);
extern void goZenithPostData(void *user, void *data, size_t len);
extern void goZenithUDPRecv(void *user, uint64_t sock, zgo_dgram *d);
extern void goZenithUDPWritable(void *user, uint64_t sock);

int zgo_set_callbacks(zenith_server *s, uintptr_t handle) {
    return zenith_server_set_callbacks(s, (zenith_accept_fn)goZenithAccept, (zenith_data_fn)goZenithData,
                                       (zenith_close_fn)goZenithClose, (void *)handle);
}

int zgo_connect(zenith_server *s, zenith_connect_config *cfg, uintptr_t handle, zenith_conn_id *out) {
    cfg->on_connect = (zenith_connect_fn)goZenithConnect;
    cfg->user = (void *)handle;
    return zenith_server_connect(s, cfg, out);
}

int zgo_timer_start(zenith_server *s, uint32_t delay_ms, uint32_t period_ms, uintptr_t handle, zenith_timer_id *out) {
    return zenith_server_timer_start(s, delay_ms, period_ms, (zenith_timer_fn)goZenithTimer, (void *)handle, out);
}

/* A closure post carries the key of the closure in the server's table (8 bytes by value). */
int zgo_post_func(zenith_server *s, uintptr_t handle, uint64_t key) {
    return zenith_server_post(s, goZenithPostFunc, (void *)handle, &key, sizeof key);
}

int zgo_post_data(zenith_server *s, uintptr_t handle, const uint8_t *data, size_t len) {
    return zenith_server_post(s, goZenithPostData, (void *)handle, data, len);
}

int zgo_addr_decode(const zenith_addr *a, uint8_t ip[16], uint16_t *port) {
    const struct sockaddr *sa = (const struct sockaddr *)(const void *)a->sa;
    if (a->len >= sizeof(struct sockaddr_in) && sa->sa_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)(const void *)a->sa;
        memcpy(ip, &in->sin_addr, 4);
        *port = ntohs(in->sin_port);
        return 4;
    }
    if (a->len >= sizeof(struct sockaddr_in6) && sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)(const void *)a->sa;
        memcpy(ip, &in6->sin6_addr, 16);
        *port = ntohs(in6->sin6_port);
        return 6;
    }
    return 0;
}

/* Byte pointers rather than void *: cgo checks every unsafe.Pointer argument for Go pointers
   (about 100 ns), never a pointer to bytes. */
int zgo_send(zenith_server *s, zenith_conn_id conn, const uint8_t *data, size_t len) {
    return zenith_server_send(s, conn, data, len);
}

int zgo_udp_send(zenith_server *s, zenith_udp_id sock, const uint8_t *data, size_t len, const zenith_addr *to) {
    return zenith_udp_send(s, sock, data, len, to);
}

static void zgo_udp_recv(void *user, zenith_udp_id sock, const zenith_udp_datagram *d) {
    zgo_dgram g;
    memset(&g, 0, sizeof g);
    g.data = d->data;
    g.len = d->len;
    g.orig_len = d->orig_len;
    g.flags = d->flags;
    g.kernel_drops = d->kernel_drops;
    g.ts_ns = d->ts_ns;
    g.hw_ts_ns = d->hw_ts_ns;
    if (d->from != NULL) g.family = (uint8_t)zgo_addr_decode(d->from, g.ip, &g.port);
    goZenithUDPRecv(user, sock, &g);
}

int zgo_udp_open(zenith_server *s, zenith_udp_config *cfg, uintptr_t handle, int recv, int writable, zenith_udp_id *out) {
    cfg->on_recv = recv ? zgo_udp_recv : NULL;
    cfg->on_writable = writable ? (zenith_udp_writable_fn)goZenithUDPWritable : NULL;
    cfg->user = (void *)handle;
    return zenith_udp_open(s, cfg, out);
}

/* A zenith_addr from raw address bytes (family 4: 4 bytes, 6: 16 bytes) and a port. */
int zgo_addr(zenith_addr *out, const uint8_t *ip, int family, uint16_t port) {
    memset(out, 0, sizeof *out);
    if (family == 4) {
        struct sockaddr_in in;
        memset(&in, 0, sizeof in);
        in.sin_family = AF_INET;
        in.sin_port = htons(port);
        memcpy(&in.sin_addr, ip, 4);
        memcpy(out->sa, &in, sizeof in);
        out->len = sizeof in;
        return 0;
    }
    if (family == 6) {
        struct sockaddr_in6 in6;
        memset(&in6, 0, sizeof in6);
        in6.sin6_family = AF_INET6;
        in6.sin6_port = htons(port);
        memcpy(&in6.sin6_addr, ip, 16);
        memcpy(out->sa, &in6, sizeof in6);
        out->len = sizeof in6;
        return 0;
    }
    return ZENITH_E_INVAL;
}

/* ---- Arrow primitive arrays in C memory (cgo forbids C keeping Go pointers) --------------------- */
static uint64_t zgo_released_arrays, zgo_released_schemas;

/* One allocation holds the buffers array, the schema's name and the values; the array and the
   schema each hold a reference (they may be released in either order, on any thread). */
typedef struct {
    int refs;
    const void *buffers[2];
    char name[64];
    _Alignas(16) unsigned char values[];
} zgo_prim;

static void zgo_unref(zgo_prim *p) {
    if (p != NULL && __atomic_sub_fetch(&p->refs, 1, __ATOMIC_ACQ_REL) == 0) free(p);
}

static void zgo_release_array(struct ArrowArray *a) {
    zgo_prim *p = (zgo_prim *)a->private_data;
    a->release = NULL;
    __atomic_fetch_add(&zgo_released_arrays, 1u, __ATOMIC_RELAXED);
    zgo_unref(p);
}

static void zgo_release_schema(struct ArrowSchema *s) {
    zgo_prim *p = (zgo_prim *)s->private_data;
    s->release = NULL;
    __atomic_fetch_add(&zgo_released_schemas, 1u, __ATOMIC_RELAXED);
    zgo_unref(p);
}

int zgo_prim_array(const void *values, int64_t n, int width, const char *format, const char *name,
                   struct ArrowArray *a, struct ArrowSchema *s) {
    size_t bytes = (size_t)(n > 0 ? n : 1) * (size_t)width;
    zgo_prim *p = (zgo_prim *)calloc(1, sizeof *p + bytes);
    if (p == NULL) return ZENITH_E_NOMEM;
    if (n > 0) memcpy(p->values, values, (size_t)n * (size_t)width);
    if (name != NULL) strncpy(p->name, name, sizeof p->name - 1);
    p->refs = 2;
    p->buffers[0] = NULL;
    p->buffers[1] = p->values;
    memset(a, 0, sizeof *a);
    memset(s, 0, sizeof *s);
    a->length = n;
    a->n_buffers = 2;
    a->buffers = p->buffers;
    a->release = zgo_release_array;
    a->private_data = p;
    s->format = format; /* a static string */
    s->name = p->name;
    s->flags = ARROW_FLAG_NULLABLE;
    s->release = zgo_release_schema;
    s->private_data = p;
    return 0;
}

int zgo_int64_array(const int64_t *values, int64_t n, struct ArrowArray *a, struct ArrowSchema *s) {
    return zgo_prim_array(values, n, 8, "l", NULL, a, s);
}

uint64_t zgo_released(int schemas) {
    return __atomic_load_n(schemas ? &zgo_released_schemas : &zgo_released_arrays, __ATOMIC_RELAXED);
}

int64_t zgo_int64_at(const struct ArrowArray *a, int64_t i) { return ((const int64_t *)a->buffers[1])[a->offset + i]; }
double zgo_float64_at(const struct ArrowArray *a, int64_t i) { return ((const double *)a->buffers[1])[a->offset + i]; }

int zgo_is_released(const struct ArrowArray *a, const struct ArrowSchema *s) {
    return (a->release == NULL) | ((s->release == NULL) << 1);
}

/* Runs the release callbacks still pending (the structs are ours: never published, or refused). */
void zgo_release_now(struct ArrowArray *a, struct ArrowSchema *s) {
    if (a->release) a->release(a);
    if (s->release) s->release(s);
}
