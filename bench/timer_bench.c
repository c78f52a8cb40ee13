/* timer_bench.c -- Zenith's timers (zenith_server_timer_start / _stop, a hierarchical timing
   wheel) against libuv's (uv_timer_start / uv_timer_stop, a binary min-heap), side by side in
   one run.

   Rows, for each N armed timers (default N = 1,000 and 1,000,000):
     arm         N timers, timeouts spread uniformly over 1..60 s             ns per start
     add+cancel  one extra timer (start + stop) among the N armed             ns per pair
     re-arm      one of the N, picked at random, to a new timeout: libuv's
                 uv_timer_start on an armed timer (what libuv users do for an
                 idle timeout); Zenith's stop + start (a new id)              ns per re-arm
     disarm      all N, in the order they were armed                          ns per stop
     fire        N timers due together (delay --fire-delay ms, 100 by
                 default): after sleeping past the deadline, the loop runs
                 (zenith_server_run_once(s, 0) / uv_run(UV_RUN_NOWAIT)) until
                 every callback ran                                           ns per callback
   and the memory per timer: Zenith's timer table (max_timers x 40 B per zenith.h, allocated at
   create) measured as the growth of the process's virtual size between a server created with
   max_timers = 2^21 and one with 4096, and as the resident growth while N timers are armed;
   libuv's as sizeof(uv_timer_t) and as the resident growth of N initialised handles. The
   timeouts come from the same pseudo-random sequence on both sides; nothing fires during the
   arm/add/re-arm/disarm rows (the loops do not run; a background timer that fires anyway is
   counted and fails the run).

   Method: each cell is a batch of --ops operations (arm/disarm/fire: N) timed with
   CLOCK_MONOTONIC, repeated --reps times (5), Zenith and libuv interleaved (rep 1 of each, then
   rep 2 of each...); printed: median (min..max), ratio = libuv / Zenith (above 1 = Zenith
   faster). The thread is pinned to the first CPU of its affinity set (best effort). The
   machine's load and the CPU share other processes took are printed: with other jobs on the
   CPUs, the spread (min..max) says how much to trust a row.

   Zenith: one server, ZENITH_SERVER_NO_LISTEN, max_timers = 2^21, started once; every timer call
   is made from this thread (the loop's). The user keeps one zenith_timer_id (8 B) per timer to
   stop it; libuv's handle is the user's memory.

     build/timer_bench                      the full run (about 20 s on an idle machine)
     build/timer_bench --quick              a smoke run: N = 1,000 and 100,000, 3 reps, 100k ops
     build/timer_bench --sizes 1000,1000000 --reps 5 --ops 1000000 --fire-delay 100

   Build: cc -O2 -g -std=gnu11 -Wall -Wextra -Werror -I. bench/timer_bench.c -o build/timer_bench \
              $(pkg-config --cflags --libs libuv) -luring -pthread */
#define ZENITH_IMPLEMENTATION
#include "zenith.h"

#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>

#define MAX_REPS 31
#define MAX_SIZES 8
#define MAX_TIMERS (1u << 21)
#define SPREAD_MIN_MS 1000u
#define SPREAD_MAX_MS 60000u
#define SEED 0x9e3779b97f4a7c15ull

enum { ROW_ARM, ROW_ADD, ROW_REARM, ROW_DISARM, ROW_FIRE, NROWS };
static const char *const row_label[NROWS] = { "arm N, ns per start", "add+cancel 1 among N, ns/pair",
                                              "re-arm 1 of N (random), ns", "disarm all N, ns per stop",
                                              "fire N due at once, ns/callback" };

static double now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static void die(const char *what, int code) {
    fprintf(stderr, "timer_bench: %s", what);
    if (code) fprintf(stderr, ": %d (%s)", code, zenith_strerror(code));
    fprintf(stderr, "\n");
    exit(1);
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

typedef struct stat3 {
    double med, min, max;
} stat3;

static stat3 summarize(const double *v, int n) {
    double t[MAX_REPS];
    stat3 r;
    memcpy(t, v, (size_t)n * sizeof *t);
    qsort(t, (size_t)n, sizeof *t, cmp_double);
    r.med = (n % 2) ? t[n / 2] : (t[n / 2 - 1] + t[n / 2]) / 2.0;
    r.min = t[0];
    r.max = t[n - 1];
    return r;
}

/* ---- the same pseudo-random timeouts and picks on both sides ---------------------------------- */

static uint64_t rng_state;

static void rng_seed(uint64_t s) { rng_state = s; }

static inline uint32_t rng32(void) { /* xorshift64*, high half */
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return (uint32_t)((rng_state * 0x2545f4914f6cdd1dull) >> 32);
}

/* uniform in [0, n), by multiply-shift (no division in the timed loops) */
static inline uint32_t rng_below(uint32_t n) { return (uint32_t)(((uint64_t)rng32() * n) >> 32); }

static inline uint32_t spread_ms(void) { return SPREAD_MIN_MS + rng_below(SPREAD_MAX_MS - SPREAD_MIN_MS + 1u); }

/* ---- the machine ------------------------------------------------------------------------------------ */

static const char *loadavg(char *buf, size_t len) {
    FILE *f = fopen("/proc/loadavg", "r");
    snprintf(buf, len, "?");
    if (f) {
        double a, b, c;
        if (fscanf(f, "%lf %lf %lf", &a, &b, &c) == 3) snprintf(buf, len, "%.2f %.2f %.2f", a, b, c);
        fclose(f);
    }
    return buf;
}

/* busy CPU seconds of the whole machine (user nice system irq softirq steal) and of this process */
static void cpu_times(double *machine, double *own) {
    FILE *f = fopen("/proc/stat", "r");
    unsigned long long v[8] = { 0 };
    struct timespec ts;
    double hz = (double)sysconf(_SC_CLK_TCK);
    *machine = *own = 0;
    if (f) {
        if (fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2], &v[3], &v[4], &v[5], &v[6],
                   &v[7]) == 8)
            *machine = (double)(v[0] + v[1] + v[2] + v[5] + v[6] + v[7]) / hz;
        fclose(f);
    }
    if (clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts) == 0) *own = (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* virtual size and resident set of this process, bytes (/proc/self/statm) */
static void statm(double *vsz, double *rss) {
    FILE *f = fopen("/proc/self/statm", "r");
    unsigned long a = 0, b = 0;
    double page = (double)sysconf(_SC_PAGESIZE);
    if (f) {
        if (fscanf(f, "%lu %lu", &a, &b) != 2) a = b = 0;
        fclose(f);
    }
    *vsz = (double)a * page;
    *rss = (double)b * page;
}

static void pin_first_cpu(void) {
    cpu_set_t set, one;
    int c;
    if (sched_getaffinity(0, sizeof set, &set) != 0) return;
    for (c = 0; c < CPU_SETSIZE; c++)
        if (CPU_ISSET(c, &set)) {
            CPU_ZERO(&one);
            CPU_SET(c, &one);
            (void)sched_setaffinity(0, sizeof one, &one); /* best effort */
            return;
        }
}

/* ns per clock_gettime(CLOCK_MONOTONIC) call on this machine (vDSO; more under some hypervisors) */
static double clock_cost_ns(void) {
    struct timespec ts;
    uint64_t sum = 0;
    double t0 = now_ns();
    int i;
    for (i = 0; i < 1000000; i++) {
        clock_gettime(CLOCK_MONOTONIC, &ts);
        sum += (uint64_t)ts.tv_nsec;
    }
    __asm__ volatile("" : : "r"(sum));
    return (now_ns() - t0) / 1e6;
}

static void sleep_until(double t_ns) {
    struct timespec ts;
    ts.tv_sec = (time_t)(t_ns / 1e9);
    ts.tv_nsec = (long)(t_ns - (double)ts.tv_sec * 1e9);
    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR) {
    }
}

/* ---- Zenith ------------------------------------------------------------------------------------------ */

static uint64_t g_fired;      /* the fire row's callbacks, both sides */
static uint64_t g_unexpected; /* background timers that fired: must stay 0 */

static void z_on_data(void *user_data, zenith_conn_id conn, const uint8_t *data, size_t len) {
    (void)user_data;
    (void)conn;
    (void)data;
    (void)len;
}

static void z_background_cb(void *user, zenith_timer_id timer) {
    (void)user;
    (void)timer;
    g_unexpected++;
}

static void z_fire_cb(void *user, zenith_timer_id timer) {
    (void)user;
    (void)timer;
    g_fired++;
}

static zenith_server *z_create(uint32_t max_timers) {
    zenith_server_config cfg;
    zenith_server *s;
    int err = 0;
    memset(&cfg, 0, sizeof cfg);
    cfg.flags = ZENITH_SERVER_NO_LISTEN;
    cfg.max_timers = max_timers;
    cfg.max_connections = 16;
    cfg.buffer_count = 64; /* a reactor for timers only: a small pool, so the memory row is the timers' */
    s = zenith_server_create(&cfg, &err);
    if (s == NULL) die("zenith_server_create", err);
    return s;
}

__attribute__((noinline)) static double z_arm(zenith_server *s, zenith_timer_id *ids, uint32_t n) {
    double t0;
    uint32_t i;
    int rc;
    rng_seed(SEED);
    t0 = now_ns();
    for (i = 0; i < n; i++)
        if ((rc = zenith_server_timer_start(s, spread_ms(), 0, z_background_cb, NULL, &ids[i])) != 0)
            die("zenith_server_timer_start (arm)", rc);
    return (now_ns() - t0) / (double)n;
}

__attribute__((noinline)) static double z_add_cancel(zenith_server *s, uint64_t ops, uint64_t seed) {
    double t0;
    uint64_t i;
    int rc;
    rng_seed(seed);
    t0 = now_ns();
    for (i = 0; i < ops; i++) {
        zenith_timer_id id;
        if ((rc = zenith_server_timer_start(s, spread_ms(), 0, z_background_cb, NULL, &id)) != 0)
            die("zenith_server_timer_start (add)", rc);
        if ((rc = zenith_server_timer_stop(s, id)) != 0) die("zenith_server_timer_stop (cancel)", rc);
    }
    return (now_ns() - t0) / (double)ops;
}

__attribute__((noinline)) static double z_rearm(zenith_server *s, zenith_timer_id *ids, uint32_t n, uint64_t ops,
                                                uint64_t seed) {
    double t0;
    uint64_t i;
    int rc;
    rng_seed(seed);
    t0 = now_ns();
    for (i = 0; i < ops; i++) {
        uint32_t k = rng_below(n);
        if ((rc = zenith_server_timer_stop(s, ids[k])) != 0) die("zenith_server_timer_stop (re-arm)", rc);
        if ((rc = zenith_server_timer_start(s, spread_ms(), 0, z_background_cb, NULL, &ids[k])) != 0)
            die("zenith_server_timer_start (re-arm)", rc);
    }
    return (now_ns() - t0) / (double)ops;
}

__attribute__((noinline)) static double z_disarm(zenith_server *s, zenith_timer_id *ids, uint32_t n) {
    double t0 = now_ns();
    uint32_t i;
    int rc;
    for (i = 0; i < n; i++)
        if ((rc = zenith_server_timer_stop(s, ids[i])) != 0) die("zenith_server_timer_stop (disarm)", rc);
    return (now_ns() - t0) / (double)n;
}

/* N timers due delay_ms from now; sleep past the last deadline; time the loop until all ran. */
__attribute__((noinline)) static double z_fire(zenith_server *s, uint32_t n, uint32_t delay_ms, uint64_t *iters) {
    double t_armed, t0, t;
    uint32_t i;
    int rc;
    uint64_t it = 0;
    g_fired = 0;
    for (i = 0; i < n; i++)
        if ((rc = zenith_server_timer_start(s, delay_ms, 0, z_fire_cb, NULL, NULL)) != 0)
            die("zenith_server_timer_start (fire)", rc);
    t_armed = now_ns();
    sleep_until(t_armed + (double)delay_ms * 1e6 + 3e6); /* +3 ms: past every deadline, tick included */
    t0 = now_ns();
    while (g_fired < n) {
        if ((rc = zenith_server_run_once(s, 0)) < 0) die("zenith_server_run_once", rc);
        it++;
        if ((it & 1023u) == 0 && now_ns() - t0 > 30e9) die("zenith: due timers not fired within 30 s", 0);
    }
    t = now_ns() - t0;
    if (g_fired != n) die("zenith: more callbacks than timers", 0);
    *iters = it;
    return t / (double)n;
}

/* ---- libuv ------------------------------------------------------------------------------------------- */

static void l_background_cb(uv_timer_t *h) {
    (void)h;
    g_unexpected++;
}

static void l_fire_cb(uv_timer_t *h) {
    (void)h;
    g_fired++;
}

__attribute__((noinline)) static double l_arm(uv_loop_t *loop, uv_timer_t *h, uint32_t n) {
    double t0;
    uint32_t i;
    rng_seed(SEED);
    uv_update_time(loop);
    t0 = now_ns();
    for (i = 0; i < n; i++)
        if (uv_timer_start(&h[i], l_background_cb, spread_ms(), 0) != 0) die("uv_timer_start (arm)", 0);
    return (now_ns() - t0) / (double)n;
}

__attribute__((noinline)) static double l_add_cancel(uv_timer_t *extra, uint64_t ops, uint64_t seed) {
    double t0;
    uint64_t i;
    rng_seed(seed);
    t0 = now_ns();
    for (i = 0; i < ops; i++) {
        if (uv_timer_start(extra, l_background_cb, spread_ms(), 0) != 0) die("uv_timer_start (add)", 0);
        if (uv_timer_stop(extra) != 0) die("uv_timer_stop (cancel)", 0);
    }
    return (now_ns() - t0) / (double)ops;
}

__attribute__((noinline)) static double l_rearm(uv_timer_t *h, uint32_t n, uint64_t ops, uint64_t seed) {
    double t0;
    uint64_t i;
    rng_seed(seed);
    t0 = now_ns();
    for (i = 0; i < ops; i++) {
        uint32_t k = rng_below(n);
        if (uv_timer_start(&h[k], l_background_cb, spread_ms(), 0) != 0) die("uv_timer_start (re-arm)", 0);
    }
    return (now_ns() - t0) / (double)ops;
}

__attribute__((noinline)) static double l_disarm(uv_timer_t *h, uint32_t n) {
    double t0 = now_ns();
    uint32_t i;
    for (i = 0; i < n; i++)
        if (uv_timer_stop(&h[i]) != 0) die("uv_timer_stop (disarm)", 0);
    return (now_ns() - t0) / (double)n;
}

__attribute__((noinline)) static double l_fire(uv_loop_t *loop, uv_timer_t *h, uint32_t n, uint32_t delay_ms,
                                               uint64_t *iters) {
    double t_armed, t0, t;
    uint32_t i;
    uint64_t it = 0;
    g_fired = 0;
    uv_update_time(loop);
    for (i = 0; i < n; i++)
        if (uv_timer_start(&h[i], l_fire_cb, delay_ms, 0) != 0) die("uv_timer_start (fire)", 0);
    t_armed = now_ns();
    sleep_until(t_armed + (double)delay_ms * 1e6 + 3e6);
    t0 = now_ns();
    while (g_fired < n) {
        uv_run(loop, UV_RUN_NOWAIT);
        it++;
        if ((it & 1023u) == 0 && now_ns() - t0 > 30e9) die("libuv: due timers not fired within 30 s", 0);
    }
    t = now_ns() - t0;
    if (g_fired != n) die("libuv: more callbacks than timers", 0);
    *iters = it;
    return t / (double)n;
}

static void l_close_cb(uv_handle_t *h) { (void)h; }

/* ---- main ---------------------------------------------------------------------------------------------- */

static void usage(const char *argv0) {
    printf("usage: %s [--quick] [--reps R] [--sizes N1,N2,...] [--ops M] [--fire-delay MS]\n"
           "  defaults: --reps 5 --sizes 1000,1000000 --ops 1000000 --fire-delay 100\n"
           "  --quick (or ZENITH_BENCH_QUICK=1): --reps 3 --sizes 1000,100000 --ops 100000\n"
           "  N at most %u (max_timers = %u, one extra timer for add+cancel)\n",
           argv0, MAX_TIMERS - 1u, MAX_TIMERS);
}

int main(int argc, char **argv) {
    int reps = 5, nsizes = 2, i, r, k, failed = 0;
    uint32_t sizes[MAX_SIZES] = { 1000u, 1000000u }, fire_delay = 100, nmax = 0;
    uint64_t ops = 1000000u;
    double res[MAX_SIZES][NROWS][2][MAX_REPS];
    uint64_t fire_iters[MAX_SIZES][2] = { { 0 } };
    double mem_z_vsz_slot = 0, mem_z_rss_slot = 0, mem_z_rss_armed = 0, mem_z_rss_create = 0, mem_l_rss = 0;
    double v0, r0, v1, r1, mach0, own0, mach1, own1, t_start = now_ns();
    char load[64];
    const char *q = getenv("ZENITH_BENCH_QUICK");
    zenith_server *s;
    zenith_timer_id *ids;
    zenith_reactor_stats st;
    uv_loop_t loop;
    uv_timer_t *handles, extra;
    uint32_t mem_n = 0;

    if (q && *q && strcmp(q, "0") != 0) {
        reps = 3;
        sizes[1] = 100000u;
        ops = 100000u;
    }
    for (i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--quick") == 0) {
            reps = 3;
            nsizes = 2;
            sizes[0] = 1000u;
            sizes[1] = 100000u;
            ops = 100000u;
        } else if (strcmp(argv[i], "--reps") == 0 && i + 1 < argc) {
            reps = atoi(argv[++i]);
        } else if (strcmp(argv[i], "--ops") == 0 && i + 1 < argc) {
            ops = strtoull(argv[++i], NULL, 10);
        } else if (strcmp(argv[i], "--fire-delay") == 0 && i + 1 < argc) {
            fire_delay = (uint32_t)strtoul(argv[++i], NULL, 10);
        } else if (strcmp(argv[i], "--sizes") == 0 && i + 1 < argc) {
            char *p = argv[++i];
            nsizes = 0;
            while (*p && nsizes < MAX_SIZES) {
                sizes[nsizes++] = (uint32_t)strtoul(p, &p, 10);
                if (*p == ',') p++;
            }
        } else {
            usage(argv[0]);
            return strcmp(argv[i], "--help") == 0 ? 0 : 2;
        }
    }
    if (reps < 1 || reps > MAX_REPS || ops == 0 || nsizes == 0 || fire_delay < 1 || fire_delay > 10000) {
        usage(argv[0]);
        return 2;
    }
    for (i = 0; i < nsizes; i++) {
        if (sizes[i] < 1 || sizes[i] >= MAX_TIMERS) {
            usage(argv[0]);
            return 2;
        }
        if (sizes[i] > nmax) nmax = sizes[i];
    }
    pin_first_cpu();
    cpu_times(&mach0, &own0);
    printf("timer_bench: Zenith timers (timing wheel) vs libuv %s timers (binary heap), one thread\n",
           uv_version_string());
    printf("  N = armed timers; timeouts uniform over %u..%u s (nothing fires in the arm/add/re-arm/disarm rows);\n",
           SPREAD_MIN_MS / 1000u, SPREAD_MAX_MS / 1000u);
    printf(
        "  fire: N timers due %u ms after arming, loop run after the deadline; %d reps, %llu ops per add/re-arm cell\n",
        fire_delay, reps, (unsigned long long)ops);
    printf("  load average at start: %s\n", loadavg(load, sizeof load));
    fflush(stdout);

    /* memory, Zenith: the timer table is allocated at create (virtual size); compare 2^21 slots
       with the default 4096 */
    statm(&v0, &r0);
    s = z_create(4096u);
    statm(&v1, &r1);
    zenith_server_destroy(s);
    mem_z_vsz_slot = -(v1 - v0);
    mem_z_rss_slot = -(r1 - r0);
    statm(&v0, &r0);
    s = z_create(MAX_TIMERS);
    statm(&v1, &r1);
    mem_z_vsz_slot = ((v1 - v0) + mem_z_vsz_slot) / (double)(MAX_TIMERS - 4096u);
    mem_z_rss_slot = ((r1 - r0) + mem_z_rss_slot) / (double)(MAX_TIMERS - 4096u);
    mem_z_rss_create = r1 - r0;
    if ((i = zenith_server_set_callbacks(s, NULL, z_on_data, NULL, NULL)) != 0) die("zenith_server_set_callbacks", i);
    if ((i = zenith_server_start(s)) != 0) die("zenith_server_start", i);
    ids = (zenith_timer_id *)malloc(nmax * sizeof *ids);
    if (ids == NULL) die("out of memory", 0);
    memset(ids, 0xff, nmax * sizeof *ids); /* touched now (not 0: malloc + memset 0 may become calloc),
                                              so the user's ids are not counted in the armed RSS */

    /* memory, libuv: the handles are the user's; initialised once, reused by every row */
    if (uv_loop_init(&loop) != 0) die("uv_loop_init", 0);
    statm(&v0, &r0);
    handles = (uv_timer_t *)malloc((size_t)nmax * sizeof *handles);
    if (handles == NULL) die("out of memory", 0);
    for (i = 0; i < (int)nmax; i++) uv_timer_init(&loop, &handles[i]);
    statm(&v1, &r1);
    mem_l_rss = (r1 - r0) / (double)nmax;
    uv_timer_init(&loop, &extra);

    for (i = 0; i < nsizes; i++) {
        uint32_t n = sizes[i];
        for (r = 0; r < reps; r++) {
            uint64_t seed = SEED + 7919u * (uint64_t)(r + 1);
            int measure_mem = (n == nmax && r == 0);
            /* Zenith: arm N (background), add+cancel, re-arm, disarm */
            if (measure_mem) statm(&v0, &r0);
            res[i][ROW_ARM][0][r] = z_arm(s, ids, n);
            if (measure_mem) {
                statm(&v1, &r1);
                mem_z_rss_armed = (r1 - r0) / (double)n;
                mem_n = n;
            }
            if (zenith_server_get_reactor_stats(s, &st) != 0) die("zenith_server_get_reactor_stats", 0);
            if (st.timers_armed != n) {
                fprintf(stderr, "timer_bench: zenith reactor stats: timers_armed %llu after arming %u\n",
                        (unsigned long long)st.timers_armed, n);
                failed = 1;
            }
            res[i][ROW_ADD][0][r] = z_add_cancel(s, ops, seed);
            res[i][ROW_REARM][0][r] = z_rearm(s, ids, n, ops, seed);
            res[i][ROW_DISARM][0][r] = z_disarm(s, ids, n);
            /* libuv: the same */
            res[i][ROW_ARM][1][r] = l_arm(&loop, handles, n);
            res[i][ROW_ADD][1][r] = l_add_cancel(&extra, ops, seed);
            res[i][ROW_REARM][1][r] = l_rearm(handles, n, ops, seed);
            res[i][ROW_DISARM][1][r] = l_disarm(handles, n);
            /* fire */
            res[i][ROW_FIRE][0][r] = z_fire(s, n, fire_delay, &fire_iters[i][0]);
            res[i][ROW_FIRE][1][r] = l_fire(&loop, handles, n, fire_delay, &fire_iters[i][1]);
            if (zenith_server_get_reactor_stats(s, &st) != 0) die("zenith_server_get_reactor_stats", 0);
            if (st.timers_armed != 0) {
                fprintf(stderr, "timer_bench: zenith reactor stats: timers_armed %llu after all fired/stopped\n",
                        (unsigned long long)st.timers_armed);
                failed = 1;
            }
        }
    }
    if (zenith_server_get_reactor_stats(s, &st) != 0) die("zenith_server_get_reactor_stats", 0);
    cpu_times(&mach1, &own1);

    printf("\n%-32s %8s  %-22s %-22s %8s\n", "row (median, min..max)", "N", "zenith", "libuv", "libuv/z");
    for (i = 0; i < nsizes; i++) {
        for (k = 0; k < NROWS; k++) {
            stat3 z = summarize(res[i][k][0], reps), l = summarize(res[i][k][1], reps);
            char zb[64], lb[64];
            snprintf(zb, sizeof zb, "%.1f (%.1f..%.1f)", z.med, z.min, z.max);
            snprintf(lb, sizeof lb, "%.1f (%.1f..%.1f)", l.med, l.min, l.max);
            printf("%-32s %8u  %-22s %-22s %7.2fx\n", row_label[k], sizes[i], zb, lb, l.med / z.med);
        }
        printf("%-32s %8u  %-22llu %-22llu\n", "  loop iterations to fire all N", sizes[i],
               (unsigned long long)fire_iters[i][0], (unsigned long long)fire_iters[i][1]);
    }
    printf("\nmemory per timer, bytes                      zenith    libuv  libuv/z\n");
    printf("  zenith.h's figure / sizeof(uv_timer_t)        %6u  %7zu  %6.2fx\n", 40u, sizeof(uv_timer_t),
           (double)sizeof(uv_timer_t) / 40.0);
    printf("  measured: virtual size per slot at create   %6.1f        -   (max_timers 2^21 minus 4096)\n",
           mem_z_vsz_slot);
    printf("  measured: resident per slot at create       %6.1f        -   (table touched at create: %.1f MiB)\n",
           mem_z_rss_slot, mem_z_rss_create / 1048576.0);
    printf("  measured: resident growth per timer armed   %6.1f  %7.1f   (N = %u; libuv: handles malloc'd + init)\n",
           mem_z_rss_armed, mem_l_rss, mem_n);
    printf("  (the user also keeps an 8 B zenith_timer_id per timer; libuv's handle is the user's memory)\n");
    printf("\nnotes: zenith's re-arm is timer_stop + timer_start (a new id); zenith_server_timer_start times\n"
           "  the start from the TSC within 1 ms of the loop's last clock read (where the kernel's clocksource\n"
           "  is the TSC), else by one CLOCK_MONOTONIC read (%.1f ns here); libuv's uv_timer_start uses the\n"
           "  loop's cached time (its timers may fire early by the age of that reading)\n",
           clock_cost_ns());

    printf("\nchecks:\n");
    printf("  background timers that fired during the measurement: %llu (must be 0)\n",
           (unsigned long long)g_unexpected);
    {
        uint64_t expect = 0;
        for (i = 0; i < nsizes; i++) expect += (uint64_t)sizes[i] * (uint64_t)reps;
        printf("  zenith reactor stats: timers_fired %llu (expected %llu: the fire rows' callbacks), timers_armed %llu"
               " at the end (expected 0)\n",
               (unsigned long long)st.timers_fired, (unsigned long long)expect, (unsigned long long)st.timers_armed);
        if (st.timers_fired != expect || st.timers_armed != 0 || g_unexpected != 0) failed = 1;
    }
    {
        double wall = (now_ns() - t_start) / 1e9, ncpu = (double)sysconf(_SC_NPROCESSORS_ONLN);
        double other = ((mach1 - mach0) - (own1 - own0)) / (wall * (ncpu > 0 ? ncpu : 1)) * 100.0;
        printf("  CPU time other processes took during the run: %.0f%% of %.0f CPUs; load average at end: %s\n",
               other < 0 ? 0 : other, ncpu, loadavg(load, sizeof load));
        printf("  total run time %.1f s\n", wall);
    }
    for (i = 0; i < nsizes; i++)
        if (sizes[i] == nmax) {
            stat3 z = summarize(res[i][ROW_ADD][0], reps), l = summarize(res[i][ROW_ADD][1], reps);
            double ratio = l.med / z.med;
            printf("\ntarget: add+cancel among %u armed, libuv/zenith >= 5x: %.2fx, %s%s\n", nmax, ratio,
                   ratio >= 5.0 ? "met" : "NOT met",
                   nmax < 1000000u ? " (N below 1,000,000: the target is set at 1 M)" : "");
        }

    zenith_server_destroy(s);
    for (i = 0; i < (int)nmax; i++) uv_close((uv_handle_t *)&handles[i], l_close_cb);
    uv_close((uv_handle_t *)&extra, l_close_cb);
    uv_run(&loop, UV_RUN_DEFAULT);
    if (uv_loop_close(&loop) != 0) die("uv_loop_close: handles left", 0);
    free(handles);
    free(ids);
    if (failed) {
        fprintf(stderr, "timer_bench: a check failed (see above)\n");
        return 1;
    }
    return 0;
}
