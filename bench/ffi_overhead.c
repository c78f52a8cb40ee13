/* ffi_overhead.c -- the C baseline for bench/ffi_overhead.sh: ns per zenith_version() call
   (through libzenith.so, as the bindings call it) and per exported pool acquire+release pair.
   Build: cc -O2 bench/ffi_overhead.c -I. -Lbuild -lzenith -o build/ffi_overhead */
#include "zenith.h"

#include <stdio.h>
#include <time.h>

static double now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

int main(void) {
    const int n = 20000000;
    volatile long sink = 0;
    zenith_pool_config cfg = { 0 };
    zenith_pool *p;
    double t, v;
    int i;
    t = now_ns();
    for (i = 0; i < n; i++) sink += zenith_version();
    v = (now_ns() - t) / n;
    cfg.buffer_count = 1024;
    p = zenith_pool_create(&cfg, NULL);
    if (p == NULL) return 1;
    t = now_ns();
    for (i = 0; i < n; i++) zenith_pool_release(p, zenith_pool_acquire(p));
    printf("c %.1f %.1f\n", v, (now_ns() - t) / n);
    zenith_pool_destroy(p);
    return (int)(sink & 0);
}
