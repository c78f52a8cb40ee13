/* post_bench.c -- messages posted from other threads into one reactor loop: zenith_server_post
   against the queue users would write themselves, a mutex-protected ring + an eventfd wake,
   side by side in one run.

   Flows (default: 10 M messages in total each):
     1 producer  -> the loop thread
     4 producers -> the loop thread (2.5 M each)
   Each message carries 16 bytes by value: the producer's number and a sequence number. The
   callback (the same function on both sides) checks that every message runs exactly once and,
   per producer, in order; anything else fails the run (exit 1).

   Zenith: one server (ZENITH_SERVER_NO_LISTEN, post_queue = --queue, 4096 by default), started
   on this thread, which then calls zenith_server_run_once(s, 1000) until every message ran. A
   producer that gets ZENITH_E_FULL yields (sched_yield) and retries; the retries are counted and
   must equal the reactor's posts_refused. Also reported, from zenith_reactor_stats: wakeups
   (eventfd writes by posters) per message -- at most one per batch the loop takes -- and
   messages per loop turn. A run_once that sleeps its whole second while messages were queued
   before it started would be a lost wake-up: counted, and it fails the run.

   Baseline (what a user writes without the reactor): the same capacity, a ring of 64-byte slots
   (fn, user, len, 40 bytes of data) under one pthread mutex; the consumer takes up to 64
   messages per lock, runs them outside it, and when it finds the ring empty marks itself
   sleeping (under the lock) and blocks in read(2) on an eventfd; a producer that finds the
   consumer marked sleeping clears the mark and writes the eventfd (one wake per sleep, no lost
   wake-ups). A full ring: the producer yields and retries, counted the same way.

   Method: wall time (CLOCK_MONOTONIC) from releasing the producers to the last message run,
   per flow and side, repeated --reps times (5), the two sides interleaved (rep 1 of each, then
   rep 2 of each ...); printed: median (min..max) ns per message, M messages/s from the median,
   ratio = baseline / Zenith (above 1 = Zenith faster). The loop (consumer) thread is pinned to
   the first CPU of the process's affinity set, the producers to the second (all four share it,
   as in engine_bench), best effort. The machine's load is printed: on a shared machine the
   spread says how much to trust a row.

     build/post_bench                     the full run (about 10 s on an idle machine)
     build/post_bench --quick             a smoke run: 400,000 messages per flow, 3 reps
     build/post_bench --n 10000000 --reps 5 --queue 4096

   Build: cc -O2 -g -std=gnu11 -Wall -Wextra -Wpedantic -Werror -I. bench/post_bench.c -o build/post_bench \
              -luring -pthread */
#define ZENITH_IMPLEMENTATION
#include "zenith.h"

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#define MAX_REPS 31
#define MAX_PRODUCERS 4
#define MSG_MAGIC 0x7a656e69u /* "zeni" */
#define WAIT_MS 1000
#define BATCH 64 /* baseline: messages taken per lock */

static double now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static double coarse_ms(void) { /* cheap (no TSC read): only to tell a one-second sleep */
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static void die(const char *what, int code) {
    fprintf(stderr, "post_bench: %s", what);
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

static int g_cpu[2] = { -1, -1 }; /* loop thread's CPU, producers' CPU */

static void find_cpus(void) {
    cpu_set_t set;
    int c, k = 0;
    if (sched_getaffinity(0, sizeof set, &set) != 0) return;
    for (c = 0; c < CPU_SETSIZE && k < 2; c++)
        if (CPU_ISSET(c, &set)) g_cpu[k++] = c;
    if (k == 1) g_cpu[1] = g_cpu[0];
}

static void pin(int cpu) {
    cpu_set_t set;
    if (cpu < 0) return;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    (void)pthread_setaffinity_np(pthread_self(), sizeof set, &set); /* best effort */
}

/* ---- the message and its check (the same callback on both sides) ---------------------------------- */

typedef struct msg {
    uint32_t producer, magic;
    uint64_t seq;
} msg;

typedef struct sink {
    uint64_t expected[MAX_PRODUCERS]; /* next sequence number per producer */
    uint64_t done, bad;
    uint32_t np;
    char first_error[200];
} sink;

static void sink_reset(sink *k, uint32_t np) {
    memset(k, 0, sizeof *k);
    k->np = np;
}

static void on_msg(void *user, void *data, size_t len) {
    sink *k = (sink *)user;
    msg m;
    k->done++;
    if (data == NULL || len != sizeof m) {
        if (!k->bad++)
            snprintf(k->first_error, sizeof k->first_error, "message %llu: len %zu, data %p",
                     (unsigned long long)k->done, len, data);
        return;
    }
    memcpy(&m, data, sizeof m);
    if (m.magic != MSG_MAGIC || m.producer >= k->np) {
        if (!k->bad++)
            snprintf(k->first_error, sizeof k->first_error, "message %llu: garbage (producer %u, magic %08x)",
                     (unsigned long long)k->done, m.producer, m.magic);
        return;
    }
    if (m.seq != k->expected[m.producer]) {
        if (!k->bad++)
            snprintf(k->first_error, sizeof k->first_error, "producer %u: sequence %llu ran where %llu was due (%s)",
                     m.producer, (unsigned long long)m.seq, (unsigned long long)k->expected[m.producer],
                     m.seq < k->expected[m.producer] ? "duplicate or reordered" : "lost or reordered");
        k->expected[m.producer] = m.seq + 1u;
        return;
    }
    k->expected[m.producer]++;
}

/* ---- the baseline: a mutex-protected ring + eventfd ------------------------------------------------ */

typedef struct mr_slot {
    zenith_post_fn fn;
    void *user;
    uint32_t len, pad_;
    _Alignas(8) unsigned char data[ZENITH_POST_MAX];
} mr_slot;

typedef struct mr_queue {
    pthread_mutex_t lock;
    uint64_t head, tail; /* under lock */
    uint32_t cap, mask;
    int sleeping; /* under lock: the consumer is (about to be) blocked in read(efd) */
    int efd;
    uint64_t wakeups; /* under lock: eventfd writes */
    uint64_t refused; /* under lock: posts that found the ring full */
    uint64_t sleeps;  /* consumer only */
    mr_slot *slots;
} mr_queue;

static void mr_init(mr_queue *q, uint32_t cap) {
    memset(q, 0, sizeof *q);
    pthread_mutex_init(&q->lock, NULL);
    q->cap = cap;
    q->mask = cap - 1u;
    q->slots = (mr_slot *)aligned_alloc(64, (size_t)cap * sizeof(mr_slot));
    if (q->slots == NULL) die("out of memory", 0);
    memset(q->slots, 0, (size_t)cap * sizeof(mr_slot));
    q->efd = eventfd(0, EFD_CLOEXEC); /* blocking: the consumer sleeps in read(2) */
    if (q->efd < 0) die("eventfd", ZENITH_ESYS(errno));
}

static void mr_free(mr_queue *q) {
    close(q->efd);
    free(q->slots);
    pthread_mutex_destroy(&q->lock);
}

static int mr_post(mr_queue *q, zenith_post_fn fn, void *user, const void *data, size_t len) {
    int wake;
    mr_slot *slot;
    if (fn == NULL || (data == NULL && len)) return ZENITH_E_NULL;
    if (len > ZENITH_POST_MAX) return ZENITH_E_INVAL;
    pthread_mutex_lock(&q->lock);
    if (q->tail - q->head == q->cap) {
        q->refused++;
        pthread_mutex_unlock(&q->lock);
        return ZENITH_E_FULL;
    }
    slot = &q->slots[q->tail & q->mask];
    slot->fn = fn;
    slot->user = user;
    slot->len = (uint32_t)len;
    if (len) memcpy(slot->data, data, len);
    q->tail++;
    wake = q->sleeping;
    if (wake) {
        q->sleeping = 0;
        q->wakeups++;
    }
    pthread_mutex_unlock(&q->lock);
    if (wake) {
        uint64_t one = 1;
        if (write(q->efd, &one, sizeof one) != (ssize_t)sizeof one) die("eventfd write", ZENITH_ESYS(errno));
    }
    return 0;
}

/* Runs messages until `total` ran; returns the consumer's loop turns. */
static uint64_t mr_consume(mr_queue *q, sink *k, uint64_t total) {
    mr_slot batch[BATCH];
    uint64_t turns = 0;
    while (k->done < total) {
        int n = 0, i;
        pthread_mutex_lock(&q->lock);
        while (q->head != q->tail && n < BATCH) batch[n++] = q->slots[q->head++ & q->mask];
        if (n == 0) q->sleeping = 1;
        pthread_mutex_unlock(&q->lock);
        turns++;
        if (n == 0) {
            uint64_t v;
            q->sleeps++;
            while (read(q->efd, &v, sizeof v) < 0)
                if (errno != EINTR) die("eventfd read", ZENITH_ESYS(errno));
            continue;
        }
        for (i = 0; i < n; i++) batch[i].fn(batch[i].user, batch[i].len ? batch[i].data : NULL, batch[i].len);
    }
    return turns;
}

/* ---- producers ----------------------------------------------------------------------------------- */

typedef struct prod {
    _Alignas(64) uint32_t id;
    uint64_t n;
    zenith_server *s; /* one of s, q */
    mr_queue *q;
    sink *k;
    int *go, *finished;
    pthread_t th;
    uint64_t retries;
    _Alignas(64) uint64_t posted; /* read by the loop only when it slept a whole WAIT_MS */
} prod;

static void *producer(void *arg) {
    prod *p = (prod *)arg;
    uint64_t i, retries = 0;
    msg m;
    pin(g_cpu[1]);
    while (!__atomic_load_n(p->go, __ATOMIC_ACQUIRE)) sched_yield();
    m.producer = p->id;
    m.magic = MSG_MAGIC;
    for (i = 0; i < p->n; i++) {
        int rc;
        m.seq = i;
        for (;;) {
            rc =
                p->s ? zenith_server_post(p->s, on_msg, p->k, &m, sizeof m) : mr_post(p->q, on_msg, p->k, &m, sizeof m);
            if (rc != ZENITH_E_FULL) break;
            retries++;
            sched_yield();
        }
        if (rc != 0) die(p->s ? "zenith_server_post" : "mutex ring post", rc);
        __atomic_store_n(&p->posted, i + 1u, __ATOMIC_RELAXED);
    }
    p->retries = retries;
    __atomic_fetch_add(p->finished, 1, __ATOMIC_RELEASE);
    return NULL;
}

typedef struct result {
    double ns_per_msg;
    double retries, wakeups, turns; /* totals for the rep */
    uint64_t stalls, empty_turns;
    int ok;
} result;

/* One rep of one flow on one side: np producers x per messages. */
static result run_flow(zenith_server *s, mr_queue *q, uint32_t np, uint64_t per, sink *k) {
    prod p[MAX_PRODUCERS];
    int go = 0, finished = 0, idle_after = 0;
    uint64_t total = (uint64_t)np * per, i;
    zenith_reactor_stats st0, st1;
    result r;
    double t0;
    memset(&r, 0, sizeof r);
    memset(p, 0, sizeof p);
    sink_reset(k, np);
    if (s && zenith_server_get_reactor_stats(s, &st0) != 0) die("zenith_server_get_reactor_stats", 0);
    if (q) q->wakeups = q->refused = q->sleeps = 0;
    for (i = 0; i < np; i++) {
        p[i].id = (uint32_t)i;
        p[i].n = per;
        p[i].s = s;
        p[i].q = q;
        p[i].k = k;
        p[i].go = &go;
        p[i].finished = &finished;
        if (pthread_create(&p[i].th, NULL, producer, &p[i]) != 0) die("pthread_create", 0);
    }
    t0 = now_ns();
    __atomic_store_n(&go, 1, __ATOMIC_RELEASE);
    if (s) {
        while (k->done < total) {
            double c0 = coarse_ms();
            int rc = zenith_server_run_once(s, WAIT_MS);
            if (rc < 0) die("zenith_server_run_once", rc);
            if (rc == 0) {
                uint64_t posted = 0;
                r.empty_turns++;
                for (i = 0; i < np; i++) posted += __atomic_load_n(&p[i].posted, __ATOMIC_RELAXED);
                if (coarse_ms() - c0 >= WAIT_MS * 0.9 && posted > k->done) r.stalls++; /* slept with work queued */
                if (__atomic_load_n(&finished, __ATOMIC_ACQUIRE) == (int)np && k->done < total && ++idle_after >= 3)
                    break; /* every producer is done, nothing comes: messages are missing */
            } else {
                idle_after = 0;
            }
        }
    } else {
        r.turns = (double)mr_consume(q, k, total);
    }
    r.ns_per_msg = (now_ns() - t0) / (double)total;
    for (i = 0; i < np; i++) {
        pthread_join(p[i].th, NULL);
        r.retries += (double)p[i].retries;
    }
    r.ok = k->bad == 0 && k->done == total;
    for (i = 0; i < np; i++)
        if (k->expected[i] != per) r.ok = 0;
    if (!r.ok && !k->first_error[0])
        snprintf(k->first_error, sizeof k->first_error, "%llu of %llu messages ran", (unsigned long long)k->done,
                 (unsigned long long)total);
    if (s) {
        if (zenith_server_get_reactor_stats(s, &st1) != 0) die("zenith_server_get_reactor_stats", 0);
        r.wakeups = (double)(st1.wakeups - st0.wakeups);
        r.turns = (double)(st1.loop_iterations - st0.loop_iterations);
        if (st1.posts_run - st0.posts_run != k->done) {
            fprintf(stderr, "post_bench: zenith posts_run grew by %llu, the callback ran %llu times\n",
                    (unsigned long long)(st1.posts_run - st0.posts_run), (unsigned long long)k->done);
            r.ok = 0;
        }
        if ((double)(st1.posts_refused - st0.posts_refused) != r.retries) {
            fprintf(stderr, "post_bench: zenith posts_refused grew by %llu, the producers retried %.0f times\n",
                    (unsigned long long)(st1.posts_refused - st0.posts_refused), r.retries);
            r.ok = 0;
        }
        if (r.stalls) r.ok = 0;
    } else {
        r.wakeups = (double)q->wakeups;
        if ((double)q->refused != r.retries) r.ok = 0;
    }
    if (!r.ok && !k->first_error[0]) snprintf(k->first_error, sizeof k->first_error, "a counter check failed");
    return r;
}

static void z_on_data(void *user_data, zenith_conn_id conn, const uint8_t *data, size_t len) {
    (void)user_data; /* no connections: required by zenith_server_start */
    (void)conn;
    (void)data;
    (void)len;
}

/* ---- main ---------------------------------------------------------------------------------------- */

static void usage(const char *argv0) {
    printf("usage: %s [--quick] [--n TOTAL] [--reps R] [--queue Q]\n"
           "  defaults: --n 10000000 (per flow: 1 x N, 4 x N/4) --reps 5 --queue 4096 (a power of two)\n"
           "  --quick (or ZENITH_BENCH_QUICK=1): --n 400000 --reps 3\n",
           argv0);
}

int main(int argc, char **argv) {
    static const uint32_t flows[2] = { 1u, 4u };
    uint64_t total = 10000000u;
    uint32_t queue = 4096u;
    int reps = 5, i, f, r, failed = 0;
    const char *q_env = getenv("ZENITH_BENCH_QUICK");
    result res[2][2][MAX_REPS]; /* flow, side (0 zenith, 1 mutex), rep */
    zenith_server_config cfg;
    zenith_server *s;
    mr_queue mq;
    static sink k;
    char load[64];
    double mach0, own0, mach1, own1, t_start = now_ns();
    int err = 0;

    if (q_env && *q_env && strcmp(q_env, "0") != 0) {
        total = 400000u;
        reps = 3;
    }
    for (i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--quick") == 0) {
            total = 400000u;
            reps = 3;
        } else if (strcmp(argv[i], "--n") == 0 && i + 1 < argc) {
            total = strtoull(argv[++i], NULL, 10);
        } else if (strcmp(argv[i], "--reps") == 0 && i + 1 < argc) {
            reps = atoi(argv[++i]);
        } else if (strcmp(argv[i], "--queue") == 0 && i + 1 < argc) {
            queue = (uint32_t)strtoul(argv[++i], NULL, 10);
        } else {
            usage(argv[0]);
            return strcmp(argv[i], "--help") == 0 ? 0 : 2;
        }
    }
    if (reps < 1 || reps > MAX_REPS || total < 4 || queue < 2 || (queue & (queue - 1u)) || queue > (1u << 20)) {
        usage(argv[0]);
        return 2;
    }
    total -= total % 4u;

    find_cpus();
    pin(g_cpu[0]);
    memset(&cfg, 0, sizeof cfg);
    cfg.flags = ZENITH_SERVER_NO_LISTEN;
    cfg.post_queue = queue;
    cfg.max_connections = 16;
    cfg.buffer_count = 64;
    s = zenith_server_create(&cfg, &err);
    if (s == NULL) die("zenith_server_create", err);
    mr_init(&mq, queue);

    cpu_times(&mach0, &own0);
    printf("post_bench: messages posted to one loop thread: zenith_server_post vs a mutex ring + eventfd\n");
    printf("  16-byte payload (producer, sequence) copied by value; queue of %u messages on both sides; %d reps,\n"
           "  interleaved; loop thread on CPU %d, producers on CPU %d; load average at start: %s\n",
           queue, reps, g_cpu[0], g_cpu[1], loadavg(load, sizeof load));
    fflush(stdout);
    {
        int rc = zenith_server_set_callbacks(s, NULL, z_on_data, NULL, NULL);
        if (rc != 0) die("zenith_server_set_callbacks", rc);
        if ((rc = zenith_server_start(s)) != 0) die("zenith_server_start", rc);
    }

    /* warm-up, not counted: threads, page faults, the queues' memory, the eventfd paths */
    {
        uint64_t w = total < 400000u ? total : 400000u;
        if (!run_flow(s, NULL, 1, w, &k).ok || !run_flow(NULL, &mq, 1, w, &k).ok) {
            fprintf(stderr, "post_bench: warm-up: %s\n", k.first_error);
            failed = 1;
        }
    }
    for (f = 0; f < 2; f++) {
        uint32_t np = flows[f];
        for (r = 0; r < reps; r++) {
            res[f][0][r] = run_flow(s, NULL, np, total / np, &k);
            if (!res[f][0][r].ok) {
                fprintf(stderr, "post_bench: zenith, %u producer(s), rep %d: %s\n", np, r + 1, k.first_error);
                failed = 1;
            }
            res[f][1][r] = run_flow(NULL, &mq, np, total / np, &k);
            if (!res[f][1][r].ok) {
                fprintf(stderr, "post_bench: mutex ring, %u producer(s), rep %d: %s\n", np, r + 1, k.first_error);
                failed = 1;
            }
        }
    }
    cpu_times(&mach1, &own1);

    printf("\n%-13s %9s  %-24s %8s  %-24s %8s  %8s\n", "flow", "messages", "zenith ns/msg (min..max)", "M msg/s",
           "mutex ns/msg (min..max)", "M msg/s", "mutex/z");
    for (f = 0; f < 2; f++) {
        double zv[MAX_REPS], mv[MAX_REPS];
        stat3 z, m;
        char zb[64], mb[64], label[32], nb[32];
        for (r = 0; r < reps; r++) {
            zv[r] = res[f][0][r].ns_per_msg;
            mv[r] = res[f][1][r].ns_per_msg;
        }
        z = summarize(zv, reps);
        m = summarize(mv, reps);
        snprintf(zb, sizeof zb, "%.1f (%.1f..%.1f)", z.med, z.min, z.max);
        snprintf(mb, sizeof mb, "%.1f (%.1f..%.1f)", m.med, m.min, m.max);
        snprintf(label, sizeof label, "%u producer%s", flows[f], flows[f] > 1 ? "s" : "");
        if (flows[f] > 1)
            snprintf(nb, sizeof nb, "%ux%.2gM", flows[f], (double)(total / flows[f]) / 1e6);
        else
            snprintf(nb, sizeof nb, "%.3gM", (double)total / 1e6);
        printf("%-13s %9s  %-24s %8.2f  %-24s %8.2f  %7.2fx\n", label, nb, zb, 1e3 / z.med, mb, 1e3 / m.med,
               m.med / z.med);
    }
    printf("\nmedians over the reps                 retries (FULL)   wakeups   messages    wakeups\n"
           "                                          per message  per msg   per turn   per turn\n");
    for (f = 0; f < 2; f++) {
        int side;
        for (side = 0; side < 2; side++) {
            double a[MAX_REPS], b[MAX_REPS], c[MAX_REPS], d[MAX_REPS];
            char label[64];
            for (r = 0; r < reps; r++) {
                a[r] = res[f][side][r].retries / (double)total;
                b[r] = res[f][side][r].wakeups / (double)total;
                c[r] = res[f][side][r].turns > 0 ? (double)total / res[f][side][r].turns : 0;
                d[r] = res[f][side][r].turns > 0 ? res[f][side][r].wakeups / res[f][side][r].turns : 0;
            }
            snprintf(label, sizeof label, "  %u producer%s, %s", flows[f], flows[f] > 1 ? "s" : "",
                     side ? "mutex ring + eventfd" : "zenith");
            printf("%-40s %12.4f  %8.4f  %9.1f  %9.2f\n", label, summarize(a, reps).med, summarize(b, reps).med,
                   summarize(c, reps).med, summarize(d, reps).med);
        }
    }
    printf("  (zenith: wakeups = reactor stats' eventfd writes by posters, loop turns = its loop_iterations;\n"
           "   mutex ring: wakeups = eventfd writes, one per consumer sleep, loop turns = lock-and-take rounds)\n");

    printf("\nchecks:\n");
    {
        uint64_t stalls = 0, empty = 0;
        for (f = 0; f < 2; f++)
            for (r = 0; r < reps; r++) {
                stalls += res[f][0][r].stalls;
                empty += res[f][0][r].empty_turns;
            }
        printf("  every message ran exactly once, in order per producer, on both sides: %s\n", failed ? "NO" : "yes");
        printf("  zenith posts_run == callbacks run, posts_refused == producers' retries: %s\n",
               failed ? "see above" : "yes");
        printf("  zenith run_once calls that slept %d ms with messages queued (lost wake-ups): %llu; "
               "run_once calls that handled nothing: %llu\n",
               WAIT_MS, (unsigned long long)stalls, (unsigned long long)empty);
    }
    {
        double wall = (now_ns() - t_start) / 1e9, ncpu = (double)sysconf(_SC_NPROCESSORS_ONLN);
        double other = ((mach1 - mach0) - (own1 - own0)) / (wall * (ncpu > 0 ? ncpu : 1)) * 100.0;
        printf("  CPU time other processes took during the run: %.0f%% of %.0f CPUs; load average at end: %s\n",
               other < 0 ? 0 : other, ncpu, loadavg(load, sizeof load));
        printf("  total run time %.1f s\n", wall);
    }
    zenith_server_destroy(s);
    mr_free(&mq);
    if (failed) {
        fprintf(stderr, "post_bench: a check failed (see above)\n");
        return 1;
    }
    return 0;
}
