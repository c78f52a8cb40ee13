/* price_filter.c -- a Zenith plugin: the rows whose price is within [lo, hi] pass.

   Column "price" (any numeric type: float64 fastest; a null price never passes).
   Params (zenith_plugin_config.params): two little-endian doubles, lo then hi; without params,
   every non-null price passes ([-inf, +inf]). NaN never passes.
   Result 0 (ZP_SUM over instances): rows that passed, since load.

   Build: clang --target=wasm32 -O2 -nostdlib -ffreestanding -Wl,--no-entry -Wl,-z,stack-size=16384 -I plugins
          plugins/price_filter.c -o price_filter.wasm   (or plugins/build.sh DIR) */
#include "zenith_plugin.h"

static double lo = -__builtin_inf(), hi = __builtin_inf();
static double passed[1];
static double buf[256];

ZP_EXPORT(zenith_plugin_init) int32_t zenith_plugin_init(zp_init *init) {
    if (init->params_len != 0 && init->params_len != 16) return 1; /* refuse: bad params */
    if (init->params_len == 16) {
        __builtin_memcpy(&lo, init->params, 8);
        __builtin_memcpy(&hi, init->params + 8, 8);
    }
    init->ncolumns = 1;
    init->columns[0] = "price";
    init->nresults = 1;
    init->results = passed;
    init->result_ops[0] = ZP_SUM;
    return 0;
}

ZP_EXPORT(zenith_plugin_batch) int32_t zenith_plugin_batch(const zp_batch *b) {
    const zp_column *c = &b->columns[0];
    uint32_t n = b->rows, i, count = 0;
    uint8_t *sel = b->selection;
#ifndef ZP_NO_KERNELS
    if (c->type == ZP_FLOAT64) { /* the host's kernel: the loop below, native */
        passed[0] += (double)zp_select_range_f64((const double *)c->data, c->validity, n, lo, hi, sel);
        return ZP_SELECT;
    }
#endif
    if (c->type == ZP_FLOAT64 && lo > 0 && hi >= lo) {
        /* the fastest path: for lo > 0, p is in [lo, hi] exactly when its IEEE-754 bits minus
           lo's, as unsigned, are at most hi's minus lo's (positive doubles order as their bits;
           negatives, -0.0 and NaN land far above the range): one subtraction and one compare */
        const uint64_t *p = (const uint64_t *)c->data;
        uint64_t base, range;
        uint32_t full = n & ~7u;
        __builtin_memcpy(&base, &lo, 8);
        __builtin_memcpy(&range, &hi, 8);
        range -= base;
        for (i = 0; i < full; i += 8) {
            const uint64_t *q = p + i;
            uint32_t m = (uint32_t)(q[0] - base <= range) | (uint32_t)(q[1] - base <= range) << 1 |
                         (uint32_t)(q[2] - base <= range) << 2 | (uint32_t)(q[3] - base <= range) << 3 |
                         (uint32_t)(q[4] - base <= range) << 4 | (uint32_t)(q[5] - base <= range) << 5 |
                         (uint32_t)(q[6] - base <= range) << 6 | (uint32_t)(q[7] - base <= range) << 7;
            if (c->validity) m &= c->validity[i >> 3];
            sel[i >> 3] = (uint8_t)m;
            count += (uint32_t)__builtin_popcount(m);
        }
        for (; i < n; i++)
            if (zp_valid(c, i) && p[i] - base <= range) {
                zp_select(b, i);
                count++;
            }
    } else if (c->type == ZP_FLOAT64) { /* eight rows per selection byte, no branch */
        const double *p = (const double *)c->data;
        uint32_t full = n & ~7u;
        for (i = 0; i < full; i += 8) { /* & rather than &&: no branch, no select */
            const double *q = p + i;
            uint32_t m = ((uint32_t)(q[0] >= lo) & (uint32_t)(q[0] <= hi)) |
                         ((uint32_t)(q[1] >= lo) & (uint32_t)(q[1] <= hi)) << 1 |
                         ((uint32_t)(q[2] >= lo) & (uint32_t)(q[2] <= hi)) << 2 |
                         ((uint32_t)(q[3] >= lo) & (uint32_t)(q[3] <= hi)) << 3 |
                         ((uint32_t)(q[4] >= lo) & (uint32_t)(q[4] <= hi)) << 4 |
                         ((uint32_t)(q[5] >= lo) & (uint32_t)(q[5] <= hi)) << 5 |
                         ((uint32_t)(q[6] >= lo) & (uint32_t)(q[6] <= hi)) << 6 |
                         ((uint32_t)(q[7] >= lo) & (uint32_t)(q[7] <= hi)) << 7;
            if (c->validity) m &= c->validity[i >> 3];
            sel[i >> 3] = (uint8_t)m;
            count += (uint32_t)__builtin_popcount(m);
        }
        for (; i < n; i++)
            if (zp_valid(c, i) && p[i] >= lo && p[i] <= hi) {
                zp_select(b, i);
                count++;
            }
    } else { /* any other numeric type: converted 256 rows at a time */
        uint32_t base;
        for (base = 0; base < n; base += 256u) {
            uint32_t m = n - base < 256u ? n - base : 256u;
            zp_load_f64(c, base, m, buf);
            for (i = 0; i < m; i++)
                if (zp_valid(c, base + i) && buf[i] >= lo && buf[i] <= hi) {
                    zp_select(b, base + i);
                    count++;
                }
        }
    }
    passed[0] += (double)count;
    return ZP_SELECT;
}
