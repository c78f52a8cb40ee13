/* Criterion suite for zenith.h: error codes, names, descriptions, ESYS range, version macros. */
#define ZENITH_IMPLEMENTATION
#include "zenith.h"

#include "criterion_compat.h" /* Criterion (or its TSan stand-in) */

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>

/* ---- the code table, straight from ZENITH_ERROR_LIST -------------------------------------- */

typedef struct {
    int value;
    const char *name;
    const char *text;
} code_entry;

static const code_entry codes[] = {
#define ENTRY(name, value, text) { name, #name, text },
    ZENITH_ERROR_LIST(ENTRY)
#undef ENTRY
};
#define NCODES (sizeof(codes) / sizeof(codes[0]))

/* Compile-time checks: the macros are usable in constant expressions and #if. */
#if !ZENITH_VERSION_AT_LEAST(0, 0, 0)
#error "ZENITH_VERSION_AT_LEAST(0,0,0) must hold"
#endif
#if ZENITH_VERSION_AT_LEAST(ZENITH_VERSION_MAJOR + 1, 0, 0)
#error "ZENITH_VERSION_AT_LEAST(next major) must not hold"
#endif
_Static_assert(ZENITH_VERSION_AT_LEAST(ZENITH_VERSION_MAJOR, ZENITH_VERSION_MINOR, ZENITH_VERSION_PATCH),
               "own version");
_Static_assert(ZENITH_E_NULL == -1 && ZENITH_E_FULL == -2 && ZENITH_E_PLUGIN == -3 && ZENITH_E_FFI == -4,
               "design's fixed values");

static int is_known_own_code(int v) {
    size_t i;
    for (i = 0; i < NCODES; i++)
        if (codes[i].value == v) return 1;
    return 0;
}

static void assert_nonempty(const char *s, const char *what, int code) {
    cr_assert_not_null(s, "%s(%d) returned NULL", what, code);
    cr_assert_neq(s[0], '\0', "%s(%d) returned an empty string", what, code);
}

/* ---- Zenith's own codes ---------------------------------------------------------------------- */

Test(errors, fixed_values, .timeout = 10) {
    cr_assert_eq(ZENITH_OK, 0);
    cr_assert_eq(ZENITH_E_NULL, -1);
    cr_assert_eq(ZENITH_E_FULL, -2);
    cr_assert_eq(ZENITH_E_PLUGIN, -3);
    cr_assert_eq(ZENITH_E_FFI, -4);
    cr_assert_eq(codes[0].value, 0, "the list starts with ZENITH_OK");
}

Test(errors, list_values_distinct_and_in_range, .timeout = 10) {
    size_t i, j;
    cr_assert_geq(NCODES, 17u, "ZENITH_ERROR_LIST lost entries (%zu)", NCODES);
    for (i = 0; i < NCODES; i++) {
        cr_assert_leq(codes[i].value, 0, "%s is positive", codes[i].name);
        cr_assert_gt(codes[i].value, (int)ZENITH_E_LAST_, "%s is not above ZENITH_E_LAST_", codes[i].name);
        cr_assert(!ZENITH_IS_ESYS(codes[i].value), "%s falls in the ESYS range", codes[i].name);
        cr_assert_eq(zenith_errno(codes[i].value), 0, "zenith_errno(%s) != 0", codes[i].name);
        for (j = i + 1; j < NCODES; j++) {
            cr_assert_neq(codes[i].value, codes[j].value, "%s and %s share the value %d", codes[i].name, codes[j].name,
                          codes[i].value);
            cr_assert_str_neq(codes[i].name, codes[j].name);
        }
    }
}

Test(errors, list_is_dense_down_to_last, .timeout = 10) {
    /* every value from 0 down to ZENITH_E_LAST_+1 is a listed code (new codes are appended) */
    int v;
    for (v = 0; v > (int)ZENITH_E_LAST_; v--) cr_assert(is_known_own_code(v), "code %d is not in ZENITH_ERROR_LIST", v);
    cr_assert(!is_known_own_code((int)ZENITH_E_LAST_));
}

Test(errors, strerror_and_errname_of_every_code, .timeout = 10) {
    size_t i, j;
    for (i = 0; i < NCODES; i++) {
        const char *name = zenith_errname(codes[i].value);
        const char *text = zenith_strerror(codes[i].value);
        assert_nonempty(name, "zenith_errname", codes[i].value);
        assert_nonempty(text, "zenith_strerror", codes[i].value);
        cr_assert_str_eq(name, codes[i].name, "zenith_errname(%d) = \"%s\", want \"%s\"", codes[i].value, name,
                         codes[i].name);
        cr_assert_str_eq(text, codes[i].text, "zenith_strerror(%s) = \"%s\", want \"%s\"", codes[i].name, text,
                         codes[i].text);
        /* static strings: the same pointer every time */
        cr_assert_eq(zenith_errname(codes[i].value), name);
        cr_assert_eq(zenith_strerror(codes[i].value), text);
        for (j = 0; j < i; j++)
            cr_assert_str_neq(text, zenith_strerror(codes[j].value), "%s and %s have the same description",
                              codes[i].name, codes[j].name);
    }
}

Test(errors, named_examples, .timeout = 10) {
    cr_assert_str_eq(zenith_errname(ZENITH_E_FULL), "ZENITH_E_FULL");
    cr_assert_str_eq(zenith_errname(ZENITH_OK), "ZENITH_OK");
    cr_assert_str_eq(zenith_errname(ZENITH_E_NULL), "ZENITH_E_NULL");
    cr_assert_str_eq(zenith_errname(ZENITH_E_URING_DISABLED), "ZENITH_E_URING_DISABLED");
    cr_assert_str_eq(zenith_strerror(ZENITH_OK), "success");
    cr_assert_str_eq(zenith_strerror(ZENITH_E_NULL), "null pointer");
}

/* ---- kernel errors: ZENITH_ESYS ------------------------------------------------------------ */

Test(errors, esys_macros, .timeout = 10) {
    cr_assert_eq(ZENITH_ESYS_BASE, 1000);
    cr_assert_eq(ZENITH_ESYS(1), -1001);
    cr_assert_eq(ZENITH_ESYS(ECONNRESET), -(1000 + ECONNRESET));
    cr_assert(ZENITH_IS_ESYS(ZENITH_ESYS(1)));
    cr_assert(ZENITH_IS_ESYS(ZENITH_ESYS(4095)));
    cr_assert(!ZENITH_IS_ESYS(ZENITH_ESYS(0)));
    cr_assert(!ZENITH_IS_ESYS(ZENITH_ESYS(4096)));
    cr_assert(!ZENITH_IS_ESYS(0));
    cr_assert(!ZENITH_IS_ESYS(-1));
    cr_assert(!ZENITH_IS_ESYS(-999));
    cr_assert(!ZENITH_IS_ESYS(1001));
    cr_assert(!ZENITH_IS_ESYS(INT_MIN));
}

Test(errors, esys_roundtrip_every_errno, .timeout = 10) {
    int e;
    for (e = 1; e <= 133; e++) {
        int code = ZENITH_ESYS(e);
        cr_assert_lt(code, 0);
        cr_assert(ZENITH_IS_ESYS(code), "ZENITH_ESYS(%d) not in the ESYS range", e);
        cr_assert(!is_known_own_code(code), "ZENITH_ESYS(%d) collides with an own code", e);
        cr_assert_eq(zenith_errno(code), e, "zenith_errno(ZENITH_ESYS(%d)) = %d", e, zenith_errno(code));
        assert_nonempty(zenith_strerror(code), "zenith_strerror", code);
        assert_nonempty(zenith_errname(code), "zenith_errname", code);
        cr_assert_str_neq(zenith_errname(code), "ZENITH_E_UNKNOWN", "ESYS(%d) named like a non-ESYS code", e);
    }
    /* the whole range round-trips, not just the named part */
    for (e = 1; e <= 4095; e++) cr_assert_eq(zenith_errno(ZENITH_ESYS(e)), e);
}

/* "zenith_strerror() and zenith_errname() name every code of both ranges": every errno that
   glibc has a name for must get that name and a real (non-fallback) description. */
Test(errors, esys_names_match_libc, .timeout = 10) {
    const char *unknown_sys_text = zenith_strerror(ZENITH_ESYS(4095));
    const char *unknown_sys_name = zenith_errname(ZENITH_ESYS(4095));
    int e, missing = 0;
    char first[256] = "";
    for (e = 1; e <= 133; e++) {
        const char *libc_name = strerrorname_np(e);
        const char *name = zenith_errname(ZENITH_ESYS(e));
        const char *text = zenith_strerror(ZENITH_ESYS(e));
        if (libc_name == NULL) continue; /* 41, 58: no such errno on Linux */
        if (strcmp(name, libc_name) != 0 || strcmp(text, unknown_sys_text) == 0 ||
            strcmp(name, unknown_sys_name) == 0) {
            if (!missing++)
                snprintf(first, sizeof first, "errno %d (%s): zenith_errname=\"%s\" zenith_strerror=\"%s\"", e,
                         libc_name, name, text);
        }
    }
    cr_assert_eq(missing, 0, "%d errno(s) 1..133 not named by zenith.h; first: %s", missing, first);
}

Test(errors, econnreset_by_name, .timeout = 10) {
    cr_assert_str_eq(zenith_errname(ZENITH_ESYS(ECONNRESET)), "ECONNRESET");
    cr_assert_str_eq(zenith_strerror(ZENITH_ESYS(ECONNRESET)), "Connection reset by peer");
    cr_assert_str_eq(zenith_errname(ZENITH_ESYS(ENOMEM)), "ENOMEM");
    cr_assert_str_eq(zenith_errname(ZENITH_ESYS(EAGAIN)), "EAGAIN");
    cr_assert_str_eq(zenith_errname(ZENITH_ESYS(EPERM)), "EPERM");
    cr_assert_eq(zenith_errno(ZENITH_ESYS(ECONNRESET)), ECONNRESET);
}

Test(errors, errno_of_non_esys_is_zero, .timeout = 10) {
    static const int others[] = { 0,     -1,      -2, -4, -16,  -17,  -100,    -999,    -1000,      -5096,
                                  -5097, -100000, 1,  2,  1001, 5000, INT_MAX, INT_MIN, INT_MIN + 1 };
    size_t i;
    for (i = 0; i < sizeof others / sizeof others[0]; i++)
        cr_assert_eq(zenith_errno(others[i]), 0, "zenith_errno(%d) = %d", others[i], zenith_errno(others[i]));
}

/* ---- fallbacks ------------------------------------------------------------------------------ */

/* docs/ERRORS.md: unknown codes give "ZENITH_E_UNKNOWN" / "unknown error code", or
   "ZENITH_ESYS_UNKNOWN" / "unknown kernel error" inside the kernel range. */
Test(errors, unknown_codes_fallback, .timeout = 10) {
    static const int unknown[] = {
        1, 2, 42, (int)ZENITH_E_LAST_, (int)ZENITH_E_LAST_ - 1, -100, -999, -1000, -5096, -100000, INT_MAX, INT_MIN
    };
    size_t i, j;
    for (i = 0; i < sizeof unknown / sizeof unknown[0]; i++) {
        int c = unknown[i];
        const char *name = zenith_errname(c), *text = zenith_strerror(c);
        assert_nonempty(name, "zenith_errname", c);
        assert_nonempty(text, "zenith_strerror", c);
        cr_assert_str_eq(name, "ZENITH_E_UNKNOWN", "zenith_errname(%d) = \"%s\"", c, name);
        cr_assert_str_eq(text, "unknown error code", "zenith_strerror(%d) = \"%s\"", c, text);
        for (j = 0; j < NCODES; j++) cr_assert_str_neq(text, codes[j].text);
    }
}

Test(errors, unknown_errno_in_esys_range, .timeout = 10) {
    /* errnos Linux does not define: still ESYS codes, with the kernel-range fallbacks */
    static const int unassigned[] = { 41, 58, 134, 200, 4095 };
    size_t i;
    for (i = 0; i < sizeof unassigned / sizeof unassigned[0]; i++) {
        int c = ZENITH_ESYS(unassigned[i]);
        const char *name = zenith_errname(c), *text = zenith_strerror(c);
        assert_nonempty(name, "zenith_errname", c);
        assert_nonempty(text, "zenith_strerror", c);
        cr_assert_eq(zenith_errno(c), unassigned[i]);
        cr_assert_str_eq(name, "ZENITH_ESYS_UNKNOWN", "zenith_errname(ZENITH_ESYS(%d)) = \"%s\"", unassigned[i], name);
        cr_assert_str_eq(text, "unknown kernel error", "zenith_strerror(ZENITH_ESYS(%d)) = \"%s\"", unassigned[i],
                         text);
    }
}

/* ---- version ---------------------------------------------------------------------------------- */

Test(version, runtime_matches_macros, .timeout = 10) {
    char buf[64];
    cr_assert_eq(zenith_version(), ZENITH_VERSION);
    cr_assert_eq(ZENITH_VERSION, ZENITH_MAKE_VERSION(ZENITH_VERSION_MAJOR, ZENITH_VERSION_MINOR, ZENITH_VERSION_PATCH));
    cr_assert_eq(ZENITH_VERSION, ZENITH_VERSION_MAJOR * 1000000L + ZENITH_VERSION_MINOR * 1000L + ZENITH_VERSION_PATCH);
    cr_assert_not_null(zenith_version_string());
    cr_assert_str_eq(zenith_version_string(), ZENITH_VERSION_STRING);
    snprintf(buf, sizeof buf, "%d.%d.%d", ZENITH_VERSION_MAJOR, ZENITH_VERSION_MINOR, ZENITH_VERSION_PATCH);
    cr_assert_str_eq(ZENITH_VERSION_STRING, buf);
    cr_assert_eq(zenith_version_string(), zenith_version_string(), "static string");
    cr_assert_eq(ZENITH_MAKE_VERSION(0, 1, 0), 1000L);
    cr_assert_eq(ZENITH_MAKE_VERSION(1, 2, 3), 1002003L);
}

Test(version, at_least_natural_direction, .timeout = 10) {
    const int M = ZENITH_VERSION_MAJOR, m = ZENITH_VERSION_MINOR, p = ZENITH_VERSION_PATCH;
    /* older or equal: true */
    cr_assert(ZENITH_VERSION_AT_LEAST(M, m, p));
    cr_assert(ZENITH_VERSION_AT_LEAST(0, 0, 0));
    cr_assert(ZENITH_VERSION_AT_LEAST(0, 0, 1) || ZENITH_VERSION == 0);
    if (p > 0) cr_assert(ZENITH_VERSION_AT_LEAST(M, m, p - 1));
    if (m > 0) cr_assert(ZENITH_VERSION_AT_LEAST(M, m - 1, 999));
    if (M > 0) cr_assert(ZENITH_VERSION_AT_LEAST(M - 1, 999, 999));
    /* newer: false */
    cr_assert(!ZENITH_VERSION_AT_LEAST(M, m, p + 1));
    cr_assert(!ZENITH_VERSION_AT_LEAST(M, m + 1, 0));
    cr_assert(!ZENITH_VERSION_AT_LEAST(M + 1, 0, 0));
    cr_assert(!ZENITH_VERSION_AT_LEAST(M + 1, m, p));
    cr_assert(!ZENITH_VERSION_AT_LEAST(99, 0, 0));
    /* minor and patch weigh less than the next field up */
    cr_assert(ZENITH_VERSION_AT_LEAST(M, m, 0));
    cr_assert(ZENITH_VERSION_AT_LEAST(M, 0, 0));
}
