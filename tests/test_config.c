/* Extensible configs: struct_size lets a caller built against an older or a newer zenith.h use
   this library (pool, ring and server configs). */
#define ZENITH_IMPLEMENTATION
#include "zenith.h"

#include "criterion_compat.h" /* Criterion (or its TSan stand-in) */

#include <stddef.h>
#include <string.h>

/* A caller from a newer release: our struct followed by fields we do not know. */
typedef struct {
    zenith_pool_config known;
    uint64_t future[4];
} newer_pool_config;

Test(config, pool_struct_size_zero_current_older_newer, .timeout = 10) {
    newer_pool_config n;
    zenith_pool_config c;
    zenith_pool *p;
    zenith_pool_info inf;
    int err = 1;
    memset(&c, 0, sizeof c);
    c.buffer_count = 16;
    c.buffer_size = 128;
    c.struct_size = 0; /* this layout */
    cr_assert_not_null(p = zenith_pool_create(&c, &err));
    zenith_pool_destroy(p);
    c.struct_size = (uint32_t)sizeof c;
    cr_assert_not_null(p = zenith_pool_create(&c, &err));
    zenith_pool_destroy(p);
    /* older caller: its struct ends before cache_size; what follows is not read (garbage here) */
    c.struct_size = (uint32_t)offsetof(zenith_pool_config, cache_size);
    c.cache_size = 0xdeadbeef;
    c.flags = 0xffffffffu;
    cr_assert_not_null(p = zenith_pool_create(&c, &err), "the unknown-to-it tail is not read: %s", zenith_errname(err));
    cr_assert_eq(zenith_pool_get_info(p, &inf), 0);
    cr_assert_eq(inf.buffer_count, 16);
    cr_assert_eq(inf.buffer_size, 128);
    zenith_pool_destroy(p);
    /* newer caller: fields we do not know are fine when zero, refused otherwise */
    memset(&n, 0, sizeof n);
    n.known.struct_size = (uint32_t)sizeof n;
    n.known.buffer_count = 8;
    cr_assert_not_null(p = zenith_pool_create(&n.known, &err), "%s", zenith_errname(err));
    zenith_pool_destroy(p);
    n.future[2] = 1;
    cr_assert_null(zenith_pool_create(&n.known, &err));
    cr_assert_eq(err, ZENITH_E_UNSUPPORTED, "%s", zenith_errname(err));
    /* nonsense sizes */
    c.struct_size = 4;
    cr_assert_null(zenith_pool_create(&c, &err));
    cr_assert_eq(err, ZENITH_E_INVAL);
    c.struct_size = 1u << 20;
    cr_assert_null(zenith_pool_create(&c, &err));
    cr_assert_eq(err, ZENITH_E_INVAL);
}

Test(config, ring_and_server_struct_size, .timeout = 10) {
    struct {
        zenith_ring_config known;
        uint32_t future[2];
    } rn;
    struct {
        zenith_server_config known;
        uint64_t future;
    } sn;
    zenith_ring *r;
    zenith_server *s;
    int err = 1;
    memset(&rn, 0, sizeof rn);
    rn.known.struct_size = (uint32_t)sizeof rn;
    r = zenith_ring_create(&rn.known, &err);
    if (r == NULL && err == ZENITH_E_URING_DISABLED) cr_skip("io_uring is disabled here");
    cr_assert_not_null(r, "%s", zenith_errname(err));
    zenith_ring_destroy(r);
    rn.future[1] = 7;
    cr_assert_null(zenith_ring_create(&rn.known, &err));
    cr_assert_eq(err, ZENITH_E_UNSUPPORTED);
    rn.known.struct_size = 3;
    cr_assert_null(zenith_ring_create(&rn.known, &err));
    cr_assert_eq(err, ZENITH_E_INVAL);

    memset(&sn, 0, sizeof sn);
    sn.known.struct_size = (uint32_t)sizeof sn;
    sn.known.buffer_count = 64;
    sn.known.max_connections = 8;
    cr_assert_not_null(s = zenith_server_create(&sn.known, &err), "%s", zenith_errname(err));
    zenith_server_destroy(s);
    sn.future = 1;
    cr_assert_null(zenith_server_create(&sn.known, &err));
    cr_assert_eq(err, ZENITH_E_UNSUPPORTED);
    /* an older server config: up to the address only; the rest defaults */
    sn.known.struct_size = (uint32_t)offsetof(zenith_server_config, flags);
    sn.known.flags = 0xffffffffu; /* past its end: not read */
    cr_assert_not_null(s = zenith_server_create(&sn.known, &err), "%s", zenith_errname(err));
    zenith_server_destroy(s);
}
