/* criterion_compat.h -- the test suites include this instead of <criterion/criterion.h>.

   Normally it is Criterion. Under ThreadSanitizer Criterion cannot start (its BoxFort arena maps
   memory where TSan reserves its shadow: "Could not initialize inheritable arena", Criterion
   issue #274), so the TSan build of the threaded suites (ZENITH_TEST_SHIM) uses this small
   runner with the same API subset: Test(suite, name, .timeout = N, .disabled, .init, .fini,
   .description), cr_assert*, cr_expect*, cr_skip, cr_log_*. Each test runs in a forked child
   with an alarm() for its timeout; the report is TAP in Criterion's format (--tap=FILE), so
   tools/run-tests.sh counts both the same way. */
#ifndef ZENITH_CRITERION_COMPAT_H
#define ZENITH_CRITERION_COMPAT_H

#ifndef ZENITH_TEST_SHIM
#include <criterion/criterion.h>
#else

#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1 /* clock_gettime, fork, alarm under -std=c11 */
#endif
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

struct zt_test {
    const char *suite, *name, *description;
    void (*fn)(void);
    void (*init)(void);
    void (*fini)(void);
    double timeout;
    int disabled;
    int exit_code;
    int signal;
};

#define ZT_MAX_TESTS 256
static struct zt_test *zt_tests[ZT_MAX_TESTS];
static int zt_ntests;
static int zt_failed_expect;
static FILE *zt_report;

static void zt_register(struct zt_test *t) {
    if (zt_ntests < ZT_MAX_TESTS) zt_tests[zt_ntests++] = t;
}

#define Test(S, N, ...)                                                                                    \
    static void S##_##N##_impl(void);                                                                      \
    static struct zt_test S##_##N##_desc = { .suite = #S, .name = #N, .fn = S##_##N##_impl, __VA_ARGS__ }; \
    __attribute__((constructor)) static void S##_##N##_reg(void) { zt_register(&S##_##N##_desc); }         \
    static void S##_##N##_impl(void)

#define TestSuite(...) struct zt_unused_suite_

/* Writes to the pipe the parent reads: "F file:line: message" or "S reason". */
static int zt_pipe = -1;

/* kind file:line: text: message (fmt may be followed by one extra "" argument: ignored). */
static void zt_note(char kind, const char *file, int line, const char *text, const char *fmt, ...) {
    char buf[1024];
    int n = snprintf(buf, sizeof buf, "%c %s:%d: %s%s", kind, file, line, text, *text && *fmt ? ": " : "");
    va_list ap;
    va_start(ap, fmt);
    if (n > 0 && (size_t)n < sizeof buf) n += vsnprintf(buf + n, sizeof buf - (size_t)n, fmt, ap);
    va_end(ap);
    if (n < 0) return;
    if ((size_t)n >= sizeof buf - 1) n = (int)sizeof buf - 2;
    buf[n++] = '\n';
    if (zt_pipe >= 0 && write(zt_pipe, buf, (size_t)n) < 0) _exit(3);
}

#define ZT_CHECK_(fatal, cond, text, ...)                        \
    do {                                                         \
        if (!(cond)) {                                           \
            zt_note('F', __FILE__, __LINE__, text, __VA_ARGS__); \
            if (fatal) _exit(1);                                 \
            zt_failed_expect = 1;                                \
        }                                                        \
    } while (0)

#define ZT_ONE_(fatal, cond, ...) ZT_CHECK_(fatal, cond, "expected " #cond, __VA_ARGS__)
#define ZT_TWO_(fatal, op, a, b, ...) ZT_CHECK_(fatal, (a)op(b), "expected " #a " " #op " " #b, __VA_ARGS__)
#define ZT_STR2_(fatal, op, a, b, ...) \
    ZT_CHECK_(fatal, strcmp((a), (b)) op 0, "expected strings " #a " " #op " " #b, __VA_ARGS__)

#define cr_assert(...) ZT_ONE_(1, __VA_ARGS__, "")
#define cr_assert_not(...) ZT_NOT_(1, __VA_ARGS__, "")
#define ZT_NOT_(fatal, cond, ...) ZT_CHECK_(fatal, !(cond), "expected !(" #cond ")", __VA_ARGS__)
#define cr_assert_eq(...) ZT_TWO_(1, ==, __VA_ARGS__, "")
#define cr_assert_neq(...) ZT_TWO_(1, !=, __VA_ARGS__, "")
#define cr_assert_lt(...) ZT_TWO_(1, <, __VA_ARGS__, "")
#define cr_assert_leq(...) ZT_TWO_(1, <=, __VA_ARGS__, "")
#define cr_assert_gt(...) ZT_TWO_(1, >, __VA_ARGS__, "")
#define cr_assert_geq(...) ZT_TWO_(1, >=, __VA_ARGS__, "")
#define cr_assert_null(...) ZT_NULL_(1, ==, __VA_ARGS__, "")
#define cr_assert_not_null(...) ZT_NULL_(1, !=, __VA_ARGS__, "")
#define ZT_NULL_(fatal, op, p, ...) \
    ZT_CHECK_(fatal, (const void *)(p)op NULL, "expected " #p " " #op " NULL", __VA_ARGS__)
#define cr_assert_str_eq(...) ZT_STR2_(1, ==, __VA_ARGS__, "")
#define cr_assert_str_neq(...) ZT_STR2_(1, !=, __VA_ARGS__, "")
#define cr_expect(...) ZT_ONE_(0, __VA_ARGS__, "")
#define cr_expect_not(...) ZT_NOT_(0, __VA_ARGS__, "")
#define cr_expect_eq(...) ZT_TWO_(0, ==, __VA_ARGS__, "")
#define cr_expect_neq(...) ZT_TWO_(0, !=, __VA_ARGS__, "")
#define cr_expect_lt(...) ZT_TWO_(0, <, __VA_ARGS__, "")
#define cr_expect_leq(...) ZT_TWO_(0, <=, __VA_ARGS__, "")
#define cr_expect_gt(...) ZT_TWO_(0, >, __VA_ARGS__, "")
#define cr_expect_geq(...) ZT_TWO_(0, >=, __VA_ARGS__, "")
#define cr_expect_null(...) ZT_NULL_(0, ==, __VA_ARGS__, "")
#define cr_expect_not_null(...) ZT_NULL_(0, !=, __VA_ARGS__, "")
#define cr_expect_str_eq(...) ZT_STR2_(0, ==, __VA_ARGS__, "")
#define cr_fail(...) ZT_CHECK_(0, 0, "failed", __VA_ARGS__)
#define cr_assert_fail(...) ZT_CHECK_(1, 0, "failed", __VA_ARGS__, "")
#define cr_skip(...)                                                 \
    do {                                                             \
        zt_note('S', __FILE__, __LINE__, "skipped", "" __VA_ARGS__); \
        _exit(2);                                                    \
    } while (0)
#define cr_skip_test(...) cr_skip(__VA_ARGS__)
#define cr_log_info(...) ((void)fprintf(stderr, __VA_ARGS__), (void)fputc('\n', stderr))
#define cr_log_warn(...) cr_log_info(__VA_ARGS__)
#define cr_log_error(...) cr_log_info(__VA_ARGS__)
#define cr_log(level, ...) cr_log_info(__VA_ARGS__)

static int zt_cmp(const void *a, const void *b) {
    const struct zt_test *x = *(struct zt_test *const *)a, *y = *(struct zt_test *const *)b;
    int c = strcmp(x->suite, y->suite);
    return c ? c : strcmp(x->name, y->name);
}

/* Runs one test in a child. Returns 0 pass, 1 fail, 2 skip; msg gets the child's notes. */
static int zt_run(const struct zt_test *t, char *msg, size_t cap, double *secs) {
    int fd[2], status = 0;
    size_t len = 0;
    struct timespec a, b;
    pid_t pid;
    msg[0] = 0;
    if (pipe(fd) != 0) return 1;
    clock_gettime(CLOCK_MONOTONIC, &a);
    /* nothing buffered may be inherited: a child that flushes stdio at exit (valgrind runs
       libc's freeres, which does) would write the parent's pending report lines again */
    if (zt_report) fflush(zt_report);
    fflush(stdout);
    fflush(stderr);
    pid = fork();
    if (pid < 0) return 1;
    if (pid == 0) {
        close(fd[0]);
        zt_pipe = fd[1];
        alarm((unsigned)(t->timeout > 0 ? t->timeout + 0.999 : 60));
        if (t->init) t->init();
        t->fn();
        if (t->fini) t->fini();
        _exit(zt_failed_expect ? 1 : 0);
    }
    close(fd[1]);
    for (;;) {
        ssize_t n = read(fd[0], msg + len, cap - 1 - len);
        if (n <= 0) break;
        len += (size_t)n;
        if (len >= cap - 1) break;
    }
    msg[len] = 0;
    close(fd[0]);
    waitpid(pid, &status, 0);
    clock_gettime(CLOCK_MONOTONIC, &b);
    *secs = (double)(b.tv_sec - a.tv_sec) + (double)(b.tv_nsec - a.tv_nsec) / 1e9;
    if (WIFSIGNALED(status)) {
        snprintf(msg + len, cap - len, "%s", WTERMSIG(status) == SIGALRM ? "timed out" : "crashed");
        return 1;
    }
    if (WEXITSTATUS(status) == 2) return 2;
    return WEXITSTATUS(status) == 0 ? 0 : 1;
}

int main(int argc, char **argv) {
    int i, pass = 0, fail = 0, verbose = 0;
    static char msg[8192];
    for (i = 1; i < argc; i++) {
        if (strncmp(argv[i], "--tap=", 6) == 0) zt_report = fopen(argv[i] + 6, "w");
        if (strcmp(argv[i], "--verbose") == 0) verbose = 1;
    }
    qsort(zt_tests, (size_t)zt_ntests, sizeof zt_tests[0], zt_cmp);
    if (zt_report) fprintf(zt_report, "TAP version 13\n1..%d\n# zenith test shim (Criterion API)\n", zt_ntests);
    for (i = 0; i < zt_ntests; i++) {
        const struct zt_test *t = zt_tests[i];
        double secs = 0;
        int rc = t->disabled ? 2 : zt_run(t, msg, sizeof msg, &secs);
        if (t->disabled) snprintf(msg, sizeof msg, "S disabled");
        if (rc == 0) pass++;
        if (rc == 1) {
            fail++;
            fprintf(stderr, "[FAIL] %s::%s: %s\n", t->suite, t->name, msg);
        } else if (verbose) {
            fprintf(stderr, "[%s] %s::%s: (%.2fs) %s\n", rc == 2 ? "SKIP" : "PASS", t->suite, t->name, secs,
                    rc == 2 ? msg : "");
        }
        if (zt_report)
            fprintf(zt_report, "%s - %s::%s %s(%.2fs)\n", rc == 1 ? "not ok" : "ok", t->suite, t->name,
                    rc == 2 ? "# SKIP " : "", secs);
    }
    fprintf(stderr, "[====] Synthesis: Tested: %d | Passing: %d | Failing: %d | Crashing: 0\n", pass + fail, pass,
            fail);
    if (zt_report) fclose(zt_report);
    return fail ? 1 : 0;
}

#endif /* ZENITH_TEST_SHIM */
#endif /* ZENITH_CRITERION_COMPAT_H */
