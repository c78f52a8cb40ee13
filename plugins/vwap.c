/* vwap.c -- a Zenith plugin: the volume-weighted average price over every batch seen, a running
   aggregate. It filters nothing (every batch passes).

   Columns "price" and "quantity" (any numeric types). A row where either is null is left out.
   Results (each ZP_SUM over instances): 0 = sum of price * quantity, 1 = sum of quantity,
   2 = rows counted. VWAP = result[0] / result[1] (zenith_plugin_result). Within a batch the
   sums run in row order, then add to the running totals.

   Build: clang --target=wasm32 -O2 -nostdlib -ffreestanding -Wl,--no-entry -Wl,-z,stack-size=16384
          -I plugins plugins/vwap.c -o vwap.wasm   (or plugins/build.sh DIR) */
#include "zenith_plugin.h"

#define CHUNK 256u

static double acc[3]; /* sum(p * q), sum(q), rows */
static double pbuf[CHUNK], qbuf[CHUNK];

ZP_EXPORT(zenith_plugin_init) int32_t zenith_plugin_init(zp_init *init) {
    init->ncolumns = 2;
    init->columns[0] = "price";
    init->columns[1] = "quantity";
    init->nresults = 3;
    init->results = acc;
    init->result_ops[0] = init->result_ops[1] = init->result_ops[2] = ZP_SUM;
    return 0;
}

ZP_EXPORT(zenith_plugin_batch) int32_t zenith_plugin_batch(const zp_batch *b) {
    const zp_column *p = &b->columns[0], *q = &b->columns[1];
    double pq = 0, sq = 0, rows = 0;
    uint32_t i, n = b->rows, base;
#ifndef ZP_NO_KERNELS
    if (p->type == ZP_FLOAT64 && q->type == ZP_FLOAT64 && !p->validity) { /* the host's kernels */
        pq = zp_dot_f64((const double *)p->data, 0, (const double *)q->data, q->validity, n);
        sq = zp_sum_f64((const double *)q->data, q->validity, n);
        rows = (double)(n - q->null_count);
    } else
#endif
        if (p->type == ZP_FLOAT64 && q->type == ZP_FLOAT64 && !p->validity && !q->validity) {
        const double *pv = (const double *)p->data, *qv = (const double *)q->data;
        for (i = 0; i < n; i++) {
            pq += pv[i] * qv[i];
            sq += qv[i];
        }
        rows = (double)n;
    } else {
        for (base = 0; base < n; base += CHUNK) {
            uint32_t m = n - base < CHUNK ? n - base : CHUNK;
            zp_load_f64(p, base, m, pbuf);
            zp_load_f64(q, base, m, qbuf);
            if (!p->validity && !q->validity) {
                for (i = 0; i < m; i++) {
                    pq += pbuf[i] * qbuf[i];
                    sq += qbuf[i];
                }
                rows += (double)m;
            } else {
                for (i = 0; i < m; i++) {
                    if (!zp_valid(p, base + i) || !zp_valid(q, base + i)) continue;
                    pq += pbuf[i] * qbuf[i];
                    sq += qbuf[i];
                    rows += 1;
                }
            }
        }
    }
    acc[0] += pq;
    acc[1] += sq;
    acc[2] += rows;
    return ZP_PASS;
}
