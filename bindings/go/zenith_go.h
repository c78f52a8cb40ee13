/* Declarations shared by the Go files' cgo preambles and zenith_impl.c. The C sources are found
   through the package's include path (zenith.go's #cgo CFLAGS): csrc/ first (a vendored copy,
   see vendor.sh), then the repository root (../..). */
#ifndef ZENITH_GO_H
#define ZENITH_GO_H
#include <stdint.h>
#include "zenith.h"
#include "zenith_numa.h"

/* A received datagram as Go reads it: zenith_udp_datagram plus the sender decoded in C (the
   sockaddr layout never crosses into Go). family: 4, 6, or 0 (no address). */
typedef struct {
    const uint8_t *data;
    uint32_t len, orig_len, flags, kernel_drops;
    int64_t ts_ns, hw_ts_ns;
    uint8_t ip[16];
    uint16_t port;
    uint8_t family;
} zgo_dgram;

int zgo_set_callbacks(zenith_server *s, uintptr_t handle);
int zgo_connect(zenith_server *s, zenith_connect_config *cfg, uintptr_t handle, zenith_conn_id *out);
int zgo_timer_start(zenith_server *s, uint32_t delay_ms, uint32_t period_ms, uintptr_t handle, zenith_timer_id *out);
int zgo_post_func(zenith_server *s, uintptr_t handle, uint64_t key);
int zgo_post_data(zenith_server *s, uintptr_t handle, const uint8_t *data, size_t len);
int zgo_send(zenith_server *s, zenith_conn_id conn, const uint8_t *data, size_t len);
int zgo_udp_send(zenith_server *s, zenith_udp_id sock, const uint8_t *data, size_t len, const zenith_addr *to);
int zgo_udp_open(zenith_server *s, zenith_udp_config *cfg, uintptr_t handle, int recv, int writable, zenith_udp_id *out);
int zgo_addr(zenith_addr *out, const uint8_t *ip, int family, uint16_t port);
int zgo_addr_decode(const zenith_addr *a, uint8_t ip[16], uint16_t *port);
int zgo_int64_array(const int64_t *values, int64_t n, struct ArrowArray *a, struct ArrowSchema *s);
int zgo_prim_array(const void *values, int64_t n, int width, const char *format, const char *name,
                   struct ArrowArray *a, struct ArrowSchema *s);
uint64_t zgo_released(int schemas);
int64_t zgo_int64_at(const struct ArrowArray *a, int64_t i);
double zgo_float64_at(const struct ArrowArray *a, int64_t i);
int zgo_is_released(const struct ArrowArray *a, const struct ArrowSchema *s);
void zgo_release_now(struct ArrowArray *a, struct ArrowSchema *s);
#endif
