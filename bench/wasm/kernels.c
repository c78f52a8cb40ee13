/* kernels.c -- the WebAssembly benchmark's kernels, compiled to wasm32 for the interpreters and
   natively for the baseline (bench/wasm_bench.c includes this file). No libc.

   Each kernel is an exported function of no argument that works on static data and returns a
   checksum, so the runner can check that every engine computed the same thing:
     bench_init     fills the data (xorshift); call once before the others
     bench_crc32    CRC-32 (IEEE, table-driven, a byte at a time) over 1 MiB
     bench_sort     100,000 pseudo-random ints inserted one by one into a binary search tree
                    (insertion-heavy: ~20 compares and a pointer chase per insert), then read
                    back in order; returns a weighted sum of the sorted values (0 if unsorted)
     bench_matmul   C = A x B, 128 x 128 doubles; returns the sum of C
     bench_sha256   SHA-256 over 1 MiB; returns the digest's words xor-ed together
     bench_filter   the price-range filter of plugins/price_filter.c (lo <= price <= hi, a
                    selection bitmap, eight rows per byte, no branch) over 256 batches of 4,096
                    float64 prices; returns the rows that passed

   wasm32: clang --target=wasm32 -O2 -nostdlib -ffreestanding -Wl,--no-entry -Wl,--export=bench_init ...
           (bench/wasm_compare.sh has the whole line)
   native: #include "wasm/kernels.c" (bench/wasm_bench.c) */
#include <stdint.h>

#if defined(__wasm__)
#define KERNEL __attribute__((visibility("default")))
/* clang may turn loops into calls to these */
void *memset(void *d, int c, unsigned long n);
void *memcpy(void *d, const void *s, unsigned long n);
void *memset(void *d, int c, unsigned long n) {
    unsigned char *p = (unsigned char *)d;
    while (n--) *p++ = (unsigned char)c;
    return d;
}
void *memcpy(void *d, const void *s, unsigned long n) {
    unsigned char *p = (unsigned char *)d;
    const unsigned char *q = (const unsigned char *)s;
    while (n--) *p++ = *q++;
    return d;
}
#else
#define KERNEL static
#endif
extern uint8_t kernels_selection[256][4096 / 8];

#define DATA_BYTES (1u << 20)
#define SORT_N 100000u
#define MAT_N 128u
#define BATCH_ROWS 4096u
#define BATCHES 256u

KERNEL void bench_init(void);
KERNEL uint32_t bench_crc32(void);
KERNEL uint32_t bench_sort(void);
KERNEL double bench_matmul(void);
KERNEL uint32_t bench_sha256(void);
KERNEL uint32_t bench_filter(void);

static uint8_t data[DATA_BYTES];
static uint32_t crc_table[256];
static uint32_t keys[SORT_N];
static struct node { uint32_t key, left, right; /* children: node index + 1, 0 = none */ } nodes[SORT_N];
static uint32_t sorted[SORT_N], stack[SORT_N];
static double ma[MAT_N * MAT_N], mb[MAT_N * MAT_N], mc[MAT_N * MAT_N];
static double prices[BATCHES * BATCH_ROWS];
uint8_t kernels_selection[BATCHES][BATCH_ROWS / 8]; /* not static: every batch's stores stay */

static uint64_t xorshift(uint64_t *s) {
    uint64_t x = *s;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return *s = x;
}

KERNEL void bench_init(void) {
    uint64_t s = 0x9e3779b97f4a7c15ull;
    uint32_t i, k;
    for (i = 0; i < DATA_BYTES; i += 8) {
        uint64_t x = xorshift(&s);
        for (k = 0; k < 8; k++) data[i + k] = (uint8_t)(x >> (8 * k));
    }
    for (i = 0; i < 256; i++) {
        uint32_t c = i;
        for (k = 0; k < 8; k++) c = c & 1 ? 0xedb88320u ^ (c >> 1) : c >> 1;
        crc_table[i] = c;
    }
    for (i = 0; i < SORT_N; i++) keys[i] = (uint32_t)(xorshift(&s) >> 32);
    for (i = 0; i < MAT_N * MAT_N; i++) {
        ma[i] = (double)(xorshift(&s) % 2001) / 1000.0 - 1.0;
        mb[i] = (double)(xorshift(&s) % 2001) / 1000.0 - 1.0;
    }
    for (i = 0; i < BATCHES * BATCH_ROWS; i++) prices[i] = 90.0 + (double)(xorshift(&s) % 200001) / 10000.0;
}

KERNEL uint32_t bench_crc32(void) {
    uint32_t c = 0xffffffffu, i;
    for (i = 0; i < DATA_BYTES; i++) c = crc_table[(c ^ data[i]) & 0xff] ^ (c >> 8);
    return c ^ 0xffffffffu;
}

KERNEL uint32_t bench_sort(void) {
    uint32_t i, n = 0, sp = 0, cur, sum = 0;
    for (i = 0; i < SORT_N; i++) { /* insert keys[i] */
        uint32_t k = keys[i], *link;
        nodes[i].key = k;
        nodes[i].left = nodes[i].right = 0;
        if (i == 0) continue;
        cur = 1;
        for (;;) {
            link = k < nodes[cur - 1].key ? &nodes[cur - 1].left : &nodes[cur - 1].right;
            if (*link == 0) break;
            cur = *link;
        }
        *link = i + 1;
    }
    cur = 1; /* in-order walk with an explicit stack */
    while (cur != 0 || sp != 0) {
        while (cur != 0) {
            stack[sp++] = cur;
            cur = nodes[cur - 1].left;
        }
        cur = stack[--sp];
        sorted[n++] = nodes[cur - 1].key;
        cur = nodes[cur - 1].right;
    }
    for (i = 0; i < n; i++) {
        if (i > 0 && sorted[i] < sorted[i - 1]) return 0;
        sum += sorted[i] * (i + 1);
    }
    return n == SORT_N ? sum : 0;
}

KERNEL double bench_matmul(void) {
    uint32_t i, j, k;
    double sum = 0;
    for (i = 0; i < MAT_N; i++) {
        for (j = 0; j < MAT_N; j++) mc[i * MAT_N + j] = 0;
        for (k = 0; k < MAT_N; k++) {
            double a = ma[i * MAT_N + k];
            for (j = 0; j < MAT_N; j++) mc[i * MAT_N + j] += a * mb[k * MAT_N + j];
        }
    }
    for (i = 0; i < MAT_N * MAT_N; i++) sum += mc[i];
    return sum;
}

#define ROR(x, n) ((x) >> (n) | (x) << (32 - (n)))

static void sha256_block(uint32_t h[8], const uint8_t *p) {
    static const uint32_t K[64] = { 0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4,
                                    0xab1c5ed5, 0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe,
                                    0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f,
                                    0x4a7484aa, 0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7,
                                    0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc,
                                    0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b,
                                    0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070, 0x19a4c116,
                                    0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
                                    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7,
                                    0xc67178f2 };
    uint32_t w[64], a, b, c, d, e, f, g, hh, i;
    for (i = 0; i < 16; i++)
        w[i] = (uint32_t)p[4 * i] << 24 | (uint32_t)p[4 * i + 1] << 16 | (uint32_t)p[4 * i + 2] << 8 | p[4 * i + 3];
    for (i = 16; i < 64; i++) {
        uint32_t s0 = ROR(w[i - 15], 7) ^ ROR(w[i - 15], 18) ^ (w[i - 15] >> 3);
        uint32_t s1 = ROR(w[i - 2], 17) ^ ROR(w[i - 2], 19) ^ (w[i - 2] >> 10);
        w[i] = w[i - 16] + s0 + w[i - 7] + s1;
    }
    a = h[0], b = h[1], c = h[2], d = h[3], e = h[4], f = h[5], g = h[6], hh = h[7];
    for (i = 0; i < 64; i++) {
        uint32_t t1 = hh + (ROR(e, 6) ^ ROR(e, 11) ^ ROR(e, 25)) + ((e & f) ^ (~e & g)) + K[i] + w[i];
        uint32_t t2 = (ROR(a, 2) ^ ROR(a, 13) ^ ROR(a, 22)) + ((a & b) ^ (a & c) ^ (b & c));
        hh = g, g = f, f = e, e = d + t1, d = c, c = b, b = a, a = t1 + t2;
    }
    h[0] += a, h[1] += b, h[2] += c, h[3] += d, h[4] += e, h[5] += f, h[6] += g, h[7] += hh;
}

KERNEL uint32_t bench_sha256(void) {
    uint32_t h[8] = { 0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19 };
    uint8_t last[64];
    uint64_t bits = (uint64_t)DATA_BYTES * 8;
    uint32_t i;
    for (i = 0; i < DATA_BYTES; i += 64) sha256_block(h, data + i);
    for (i = 0; i < 64; i++) last[i] = 0; /* 1 MiB is a whole number of blocks: padding only */
    last[0] = 0x80;
    for (i = 0; i < 8; i++) last[63 - i] = (uint8_t)(bits >> (8 * i));
    sha256_block(h, last);
    return h[0] ^ h[1] ^ h[2] ^ h[3] ^ h[4] ^ h[5] ^ h[6] ^ h[7];
}

KERNEL uint32_t bench_filter(void) {
    const double lo = 95.0, hi = 105.0;
    uint32_t batch, i, count = 0;
    for (batch = 0; batch < BATCHES; batch++) {
        const double *p = prices + batch * BATCH_ROWS;
        for (i = 0; i < BATCH_ROWS; i += 8) {
            uint32_t m =
                (uint32_t)(p[i] >= lo && p[i] <= hi) | (uint32_t)(p[i + 1] >= lo && p[i + 1] <= hi) << 1 |
                (uint32_t)(p[i + 2] >= lo && p[i + 2] <= hi) << 2 | (uint32_t)(p[i + 3] >= lo && p[i + 3] <= hi) << 3 |
                (uint32_t)(p[i + 4] >= lo && p[i + 4] <= hi) << 4 | (uint32_t)(p[i + 5] >= lo && p[i + 5] <= hi) << 5 |
                (uint32_t)(p[i + 6] >= lo && p[i + 6] <= hi) << 6 | (uint32_t)(p[i + 7] >= lo && p[i + 7] <= hi) << 7;
            kernels_selection[batch][i >> 3] = (uint8_t)m;
            count += (uint32_t)__builtin_popcount(m);
        }
    }
    return count;
}
