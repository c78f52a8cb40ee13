/* ring_nop.c -- zenith_ring against raw liburing on batches of NOPs: the wrapper's cost.

   Both rings get the same setup flags (whatever zenith_ring_create chose here) and do the same
   work: a round queues BATCH NOPs (get_sqe, submitting first if the SQ is full, + prep_nop),
   submits them and waits for all BATCH completions in one io_uring_enter, peeks them as a batch
   and advances the CQ once. zenith uses its inline twins; raw liburing does the same by hand.

     build/ring_nop                 time per NOP, both variants interleaved, medians of 11 runs
     build/ring_nop raw|zenith N    N rounds of one variant (for callgrind: sh bench/callgrind_ring.sh)

   Build: cc -O2 -std=gnu11 bench/ring_nop.c -I. -luring -pthread -o build/ring_nop */
#define ZENITH_IMPLEMENTATION
#include "zenith.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define BATCH 32u
#define REPS 11

/* Both rings are reached through a pointer, as a server holds its ring in a context struct
   (a global struct io_uring would get absolute addressing that no real program has). */
static struct io_uring *raw;
static zenith_ring *zr;

/* The loops callgrind measures (toggle-collect='round_*'). */
__attribute__((noinline)) static unsigned round_raw(void) {
    struct io_uring_cqe *cqes[BATCH];
    unsigned i, n;
    for (i = 0; i < BATCH; i++) {
        struct io_uring_sqe *sqe = io_uring_get_sqe(raw);
        if (sqe == NULL) { /* SQ full: what a correct liburing program does (zenith does it for you) */
            io_uring_submit(raw);
            if ((sqe = io_uring_get_sqe(raw)) == NULL) abort();
        }
        io_uring_prep_nop(sqe);
        io_uring_sqe_set_data64(sqe, i);
    }
    if (io_uring_submit_and_wait(raw, BATCH) < 0) abort();
    n = io_uring_peek_batch_cqe(raw, cqes, BATCH);
    io_uring_cq_advance(raw, n);
    return n;
}

__attribute__((noinline)) static unsigned round_zenith(void) {
    struct io_uring_cqe *cqes[BATCH];
    unsigned i, n;
    for (i = 0; i < BATCH; i++) {
        struct io_uring_sqe *sqe = zenith_ring_get_sqe_inline(zr);
        if (sqe == NULL) abort();
        io_uring_prep_nop(sqe);
        io_uring_sqe_set_data64(sqe, i);
    }
    if (zenith_ring_submit_and_wait_inline(zr, BATCH) < 0) abort();
    n = zenith_ring_peek_inline(zr, cqes, BATCH);
    zenith_ring_advance_inline(zr, n);
    return n;
}

static double now_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e9 + (double)t.tv_nsec;
}

static int cmp(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double run(unsigned (*round)(void), long rounds) {
    double t0 = now_ns();
    long i;
    unsigned total = 0;
    for (i = 0; i < rounds; i++) total += round();
    if (total != (unsigned)rounds * BATCH) {
        fprintf(stderr, "ring_nop: lost completions\n");
        exit(1);
    }
    return (now_ns() - t0) / ((double)rounds * BATCH);
}

int main(int argc, char **argv) {
    zenith_ring_config cfg;
    zenith_ring_info info;
    struct io_uring_params p;
    int err, rc = 0;
    memset(&cfg, 0, sizeof cfg);
    cfg.sq_entries = 64;
    zr = zenith_ring_create(&cfg, &err);
    if (zr == NULL) {
        fprintf(stderr, "ring_nop: zenith_ring_create: %s\n", zenith_strerror(err));
        return err == ZENITH_E_URING_DISABLED ? 0 : 1;
    }
    zenith_ring_get_info(zr, &info);
    memset(&p, 0, sizeof p);
    p.flags = info.setup_flags & ~(unsigned)IORING_SETUP_R_DISABLED; /* the same setup, enabled */
    p.cq_entries = info.cq_entries;
    raw = (struct io_uring *)calloc(1, sizeof *raw);
    if (raw == NULL || (rc = io_uring_queue_init_params(64, raw, &p)) < 0) {
        fprintf(stderr, "ring_nop: io_uring_queue_init_params: %s\n", raw ? strerror(-rc) : "out of memory");
        return 1;
    }
    if (argc == 3) { /* one variant, for callgrind */
        long n = atol(argv[2]);
        run(strcmp(argv[1], "raw") == 0 ? round_raw : round_zenith, n);
    } else {
        double tr[REPS], tz[REPS];
        long rounds = argc == 2 && strcmp(argv[1], "--quick") == 0 ? 2000 : 20000;
        int k;
        run(round_raw, rounds / 10); /* warm-up */
        run(round_zenith, rounds / 10);
        for (k = 0; k < REPS; k++) { /* interleaved, alternating which goes first: same noise for both */
            if (k % 2) {
                tz[k] = run(round_zenith, rounds);
                tr[k] = run(round_raw, rounds);
            } else {
                tr[k] = run(round_raw, rounds);
                tz[k] = run(round_zenith, rounds);
            }
        }
        qsort(tr, REPS, sizeof tr[0], cmp);
        qsort(tz, REPS, sizeof tz[0], cmp);
        printf("ring_nop: %u NOPs per io_uring_enter, %ld rounds x %d reps, setup flags %#x (mode %d)\n", BATCH, rounds,
               REPS, info.setup_flags, info.mode);
        printf("  raw liburing   %7.2f ns/NOP (median)  %7.2f (best)\n", tr[REPS / 2], tr[0]);
        printf("  zenith_ring    %7.2f ns/NOP (median)  %7.2f (best)\n", tz[REPS / 2], tz[0]);
        printf("  zenith / raw   %7.3fx (median)\n", tz[REPS / 2] / tr[REPS / 2]);
    }
    io_uring_queue_exit(raw);
    free(raw);
    zenith_ring_destroy(zr);
    return 0;
}
