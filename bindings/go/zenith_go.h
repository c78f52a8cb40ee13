/* Declarations shared by the Go files' cgo preambles and zenith_impl.c. */
#ifndef ZENITH_GO_H
#define ZENITH_GO_H
#include <stdint.h>
#include "../../zenith.h"
#include "../../zenith_numa.h"
int zgo_set_callbacks(zenith_server *s, uintptr_t handle);
int zgo_int64_array(const int64_t *values, int64_t n, struct ArrowArray *a, struct ArrowSchema *s);
uint64_t zgo_released(int schemas);
int64_t zgo_int64_at(const struct ArrowArray *a, int64_t i);
int zgo_is_released(const struct ArrowArray *a, const struct ArrowSchema *s);
void zgo_release_now(struct ArrowArray *a, struct ArrowSchema *s);
#endif
