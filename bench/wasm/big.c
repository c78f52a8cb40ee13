/* big.c -- a large module for the load benchmark (decode + validate + translate per KiB): 256
   distinct functions of the shapes compilers emit (loops, a switch that becomes br_table, calls,
   loads and stores of every width, i64 and f64 arithmetic, selects), none of them run. About
   93 KiB at -O2.

   wasm32: clang --target=wasm32 -O2 -nostdlib -ffreestanding -Wl,--no-entry -Wl,--export-all
           bench/wasm/big.c -o big.wasm   (bench/wasm_compare.sh) */
#include <stdint.h>

static uint8_t heap[65536];

__attribute__((noinline)) static uint32_t mix(uint32_t x, uint32_t y) { return (x ^ (y << 7)) * 0x9e3779b1u + y; }

#define FN(n)                                                                    \
    uint32_t big_##n(uint32_t a, uint32_t b, double d);                          \
    uint32_t big_##n(uint32_t a, uint32_t b, double d) {                         \
        uint32_t i, acc = (n)*2654435761u;                                       \
        uint64_t w = (uint64_t)a << 32 | b;                                      \
        for (i = 0; i < (b & 63u); i++) {                                        \
            switch ((acc + i) % 7u) {                                            \
                case 0: acc += heap[(a + i) & 65535u]; break;                    \
                case 1: acc ^= *(uint16_t *)&heap[(a + 2 * i) & 65534u]; break;  \
                case 2: w = w * 6364136223846793005ull + (n); break;             \
                case 3: d = d * 1.0000001 + (double)i; break;                    \
                case 4: acc = mix(acc, i + (n)); break;                          \
                case 5: *(uint32_t *)&heap[(acc + 4 * i) & 65532u] = acc; break; \
                default: acc = acc < (uint32_t)d ? acc + (n) : acc - 1u; break;  \
            }                                                                    \
            *(uint64_t *)&heap[(b + 8 * i) & 65528u] ^= w;                       \
        }                                                                        \
        return acc + (uint32_t)(w >> 17) + (d > 0.5 ? 1u : 0u);                  \
    }
#define FN4(n) FN(n##0) FN(n##1) FN(n##2) FN(n##3)
#define FN16(n) FN4(n##0) FN4(n##1) FN4(n##2) FN4(n##3)
#define FN64(n) FN16(n##0) FN16(n##1) FN16(n##2) FN16(n##3)

FN64(1) FN64(2) FN64(3) FN64(4)
