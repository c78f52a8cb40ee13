/* wasm_spec.c -- runs the WebAssembly spec suite, as converted by wast2json, on zenith_wasm.h.

   wasm_spec [-v] FILE.json...   (tools/wasm_spec.sh converts the .wast files and runs this)

   Executes every command of each file against one store per file with a `spectest` host
   module: module, register, action, assert_return (nan:canonical, nan:arithmetic),
   assert_trap, assert_exhaustion, assert_invalid, assert_malformed (binary; text ones are
   counted as skipped: a binary engine cannot take .wat), assert_unlinkable,
   assert_uninstantiable. Prints one line per file and a total line; exits 1 on any failure.
   -v prints every failure (otherwise the first 5 per file) on stderr.

   Build: cc -std=c11 -O2 -I. tools/wasm_spec.c -o wasm_spec -lm */
#define ZENITH_WASM_IMPLEMENTATION
#include "zenith_wasm.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- a minimal JSON reader ---------------------------------------------------------------- */

enum { J_NULL, J_BOOL, J_NUM, J_STR, J_ARR, J_OBJ };

typedef struct jnode {
    int type;
    char *str; /* J_STR: decoded UTF-8 (may hold NUL: see len); J_NUM: the literal */
    size_t len;
    char *key; /* member name inside an object */
    struct jnode *kids;
    size_t nkids;
} jnode;

typedef struct {
    const char *p, *end;
    int err;
} jreader;

static void jskip(jreader *r) {
    while (r->p < r->end && (*r->p == ' ' || *r->p == '\n' || *r->p == '\r' || *r->p == '\t')) r->p++;
}

static void put_utf8(char *out, size_t *n, unsigned long cp) {
    if (cp < 0x80) {
        out[(*n)++] = (char)cp;
    } else if (cp < 0x800) {
        out[(*n)++] = (char)(0xc0 | (cp >> 6));
        out[(*n)++] = (char)(0x80 | (cp & 0x3f));
    } else if (cp < 0x10000) {
        out[(*n)++] = (char)(0xe0 | (cp >> 12));
        out[(*n)++] = (char)(0x80 | ((cp >> 6) & 0x3f));
        out[(*n)++] = (char)(0x80 | (cp & 0x3f));
    } else {
        out[(*n)++] = (char)(0xf0 | (cp >> 18));
        out[(*n)++] = (char)(0x80 | ((cp >> 12) & 0x3f));
        out[(*n)++] = (char)(0x80 | ((cp >> 6) & 0x3f));
        out[(*n)++] = (char)(0x80 | (cp & 0x3f));
    }
}

static unsigned long hex4(jreader *r) {
    unsigned long v = 0;
    int i;
    for (i = 0; i < 4; i++) {
        char c;
        if (r->p >= r->end) {
            r->err = 1;
            return 0;
        }
        c = *r->p++;
        v <<= 4;
        if (c >= '0' && c <= '9')
            v |= (unsigned long)(c - '0');
        else if (c >= 'a' && c <= 'f')
            v |= (unsigned long)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F')
            v |= (unsigned long)(c - 'A' + 10);
        else
            r->err = 1;
    }
    return v;
}

static char *jstring(jreader *r, size_t *len) {
    const char *s = ++r->p; /* after the quote */
    size_t cap = 16, n = 0;
    char *out;
    while (r->p < r->end && *r->p != '"') r->p += (*r->p == '\\') ? 2 : 1;
    cap = (size_t)(r->p - s) * 2 + 8;
    out = (char *)malloc(cap);
    if (!out) {
        r->err = 1;
        return NULL;
    }
    r->p = s;
    while (r->p < r->end && *r->p != '"') {
        char c = *r->p++;
        if (c != '\\') {
            out[n++] = c;
            continue;
        }
        if (r->p >= r->end) break;
        c = *r->p++;
        switch (c) {
            case 'n': out[n++] = '\n'; break;
            case 't': out[n++] = '\t'; break;
            case 'r': out[n++] = '\r'; break;
            case 'b': out[n++] = '\b'; break;
            case 'f': out[n++] = '\f'; break;
            case 'u': {
                unsigned long cp = hex4(r);
                if (cp >= 0xd800 && cp < 0xdc00 && r->end - r->p >= 6 && r->p[0] == '\\' && r->p[1] == 'u') {
                    unsigned long lo;
                    r->p += 2;
                    lo = hex4(r);
                    cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
                }
                put_utf8(out, &n, cp);
                break;
            }
            default: out[n++] = c; break;
        }
    }
    if (r->p >= r->end) r->err = 1;
    r->p++;
    out[n] = 0;
    *len = n;
    return out;
}

static void jparse(jreader *r, jnode *out);

static void jpush(jreader *r, jnode *parent, size_t *cap, jnode **slot) {
    if (parent->nkids == *cap) {
        size_t nc = *cap ? *cap * 2 : 4;
        jnode *k = (jnode *)realloc(parent->kids, nc * sizeof *k);
        if (!k) {
            r->err = 1;
            *slot = NULL;
            return;
        }
        parent->kids = k;
        *cap = nc;
    }
    *slot = &parent->kids[parent->nkids++];
    memset(*slot, 0, sizeof **slot);
}

static void jparse(jreader *r, jnode *out) {
    memset(out, 0, sizeof *out);
    jskip(r);
    if (r->p >= r->end) {
        r->err = 1;
        return;
    }
    if (*r->p == '{' || *r->p == '[') {
        int obj = *r->p == '{';
        size_t cap = 0;
        out->type = obj ? J_OBJ : J_ARR;
        r->p++;
        jskip(r);
        if (r->p < r->end && *r->p == (obj ? '}' : ']')) {
            r->p++;
            return;
        }
        while (!r->err) {
            jnode *k;
            char *key = NULL;
            size_t kl;
            jskip(r);
            if (obj) {
                if (r->p >= r->end || *r->p != '"') {
                    r->err = 1;
                    return;
                }
                key = jstring(r, &kl);
                jskip(r);
                if (r->p >= r->end || *r->p != ':') {
                    free(key);
                    r->err = 1;
                    return;
                }
                r->p++;
            }
            jpush(r, out, &cap, &k);
            if (!k) {
                free(key);
                return;
            }
            jparse(r, k);
            k->key = key;
            jskip(r);
            if (r->p < r->end && *r->p == ',') {
                r->p++;
                continue;
            }
            if (r->p < r->end && *r->p == (obj ? '}' : ']')) {
                r->p++;
                return;
            }
            r->err = 1;
        }
        return;
    }
    if (*r->p == '"') {
        out->type = J_STR;
        out->str = jstring(r, &out->len);
        return;
    }
    if (r->end - r->p >= 4 && memcmp(r->p, "true", 4) == 0) {
        out->type = J_BOOL;
        r->p += 4;
        return;
    }
    if (r->end - r->p >= 5 && memcmp(r->p, "false", 5) == 0) {
        out->type = J_BOOL;
        r->p += 5;
        return;
    }
    if (r->end - r->p >= 4 && memcmp(r->p, "null", 4) == 0) {
        out->type = J_NULL;
        r->p += 4;
        return;
    }
    {
        const char *s = r->p;
        while (r->p < r->end && strchr("+-0123456789.eE", *r->p)) r->p++;
        if (r->p == s) {
            r->err = 1;
            return;
        }
        out->type = J_NUM;
        out->len = (size_t)(r->p - s);
        out->str = (char *)malloc(out->len + 1);
        if (!out->str) {
            r->err = 1;
            return;
        }
        memcpy(out->str, s, out->len);
        out->str[out->len] = 0;
    }
}

static void jfree(jnode *n) {
    size_t i;
    for (i = 0; i < n->nkids; i++) jfree(&n->kids[i]);
    free(n->kids);
    free(n->str);
    free(n->key);
}

static const jnode *jget(const jnode *obj, const char *key) {
    size_t i;
    if (!obj || obj->type != J_OBJ) return NULL;
    for (i = 0; i < obj->nkids; i++)
        if (obj->kids[i].key && strcmp(obj->kids[i].key, key) == 0) return &obj->kids[i];
    return NULL;
}

static const char *jstr(const jnode *obj, const char *key) {
    const jnode *n = jget(obj, key);
    return n && (n->type == J_STR || n->type == J_NUM) ? n->str : NULL;
}

/* ---- the run ------------------------------------------------------------------------------ */

enum {
    K_MODULE,
    K_REGISTER,
    K_ACTION,
    K_RETURN,
    K_TRAP,
    K_EXHAUSTION,
    K_INVALID,
    K_MALFORMED,
    K_UNLINKABLE,
    K_UNINSTANTIABLE,
    K_COUNT
};
static const char *const kind_names[K_COUNT] = { "module",
                                                 "register",
                                                 "action",
                                                 "assert_return",
                                                 "assert_trap",
                                                 "assert_exhaustion",
                                                 "assert_invalid",
                                                 "assert_malformed",
                                                 "assert_unlinkable",
                                                 "assert_uninstantiable" };

typedef struct {
    long pass[K_COUNT], fail[K_COUNT], skip[K_COUNT];
} tally;

#define MAX_NAMED 256

typedef struct {
    const char *dir;
    const char *file;
    zenith_wasm_store *store;
    zenith_wasm_instance *current;
    struct {
        char *name;
        zenith_wasm_instance *in;
    } named[MAX_NAMED], registered[MAX_NAMED];
    int nnamed, nregistered;
    zenith_wasm_module *modules[4096];
    int nmodules;
    struct {
        const char *name;
        zenith_wasm_extern *ext;
    } spectest[16];
    int nspectest;
    tally t;
    int verbose, shown;
} runner;

static void failf(runner *r, int kind, long line, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 4, 5)))
#endif
    ;
static void failf(runner *r, int kind, long line, const char *fmt, ...) {
    va_list ap;
    r->t.fail[kind]++;
    if (!r->verbose && r->shown >= 5) return;
    r->shown++;
    fprintf(stderr, "  %s:%ld: %s: ", r->file, line, kind_names[kind]);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

static int print_host(void *user, zenith_wasm_instance *caller, const zenith_wasm_value *args,
                      zenith_wasm_value *results) {
    (void)user;
    (void)caller;
    (void)args;
    (void)results;
    return 0;
}

static void spectest_add(runner *r, const char *name, zenith_wasm_extern *e) {
    if (!e) {
        fprintf(stderr, "wasm_spec: cannot create spectest.%s\n", name);
        exit(2);
    }
    r->spectest[r->nspectest].name = name;
    r->spectest[r->nspectest].ext = e;
    r->nspectest++;
}

static void spectest_func(runner *r, const char *name, const uint8_t *params, uint32_t np) {
    zenith_wasm_functype ft;
    ft.params = params;
    ft.nparams = np;
    ft.results = NULL;
    ft.nresults = 0;
    spectest_add(r, name, zenith_wasm_func_new(r->store, &ft, print_host, NULL, NULL));
}

static void spectest_global(runner *r, const char *name, uint32_t type, uint64_t bits) {
    zenith_wasm_value v;
    memset(&v, 0, sizeof v);
    v.type = type;
    v.of.u64 = bits;
    spectest_add(r, name, zenith_wasm_global_new(r->store, &v, 0, NULL));
}

static void spectest_init(runner *r) {
    static const uint8_t i32[1] = { ZENITH_WASM_I32 }, i64[1] = { ZENITH_WASM_I64 }, f32[1] = { ZENITH_WASM_F32 },
                         f64[1] = { ZENITH_WASM_F64 }, i32f32[2] = { ZENITH_WASM_I32, ZENITH_WASM_F32 },
                         f64f64[2] = { ZENITH_WASM_F64, ZENITH_WASM_F64 };
    zenith_wasm_limits tl = { 10, 20, 1 }, ml = { 1, 2, 1 };
    float f = 666.6f;
    double d = 666.6;
    uint32_t fb;
    uint64_t db;
    memcpy(&fb, &f, 4);
    memcpy(&db, &d, 8);
    spectest_func(r, "print", NULL, 0);
    spectest_func(r, "print_i32", i32, 1);
    spectest_func(r, "print_i64", i64, 1);
    spectest_func(r, "print_f32", f32, 1);
    spectest_func(r, "print_f64", f64, 1);
    spectest_func(r, "print_i32_f32", i32f32, 2);
    spectest_func(r, "print_f64_f64", f64f64, 2);
    spectest_global(r, "global_i32", ZENITH_WASM_I32, 666);
    spectest_global(r, "global_i64", ZENITH_WASM_I64, 666);
    spectest_global(r, "global_f32", ZENITH_WASM_F32, fb);
    spectest_global(r, "global_f64", ZENITH_WASM_F64, db);
    spectest_add(r, "table", zenith_wasm_table_new(r->store, &tl, NULL));
    spectest_add(r, "memory", zenith_wasm_memory_new(r->store, &ml, NULL));
}

static zenith_wasm_instance *find_named(runner *r, const char *name) {
    int i;
    if (!name) return r->current;
    for (i = r->nnamed - 1; i >= 0; i--)
        if (strcmp(r->named[i].name, name) == 0) return r->named[i].in;
    return NULL;
}

static unsigned char *read_file(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    unsigned char *buf = NULL;
    long n;
    if (!f) return NULL;
    if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) >= 0 && fseek(f, 0, SEEK_SET) == 0) {
        buf = (unsigned char *)malloc((size_t)n + 1);
        if (buf && fread(buf, 1, (size_t)n, f) != (size_t)n) {
            free(buf);
            buf = NULL;
        }
        *len = (size_t)n;
    }
    fclose(f);
    return buf;
}

/* Loads a command's module file: the module, or NULL with err filled. */
static zenith_wasm_module *load(runner *r, const jnode *cmd, zenith_wasm_error *err) {
    char path[4096];
    const char *fn = jstr(cmd, "filename");
    unsigned char *bytes;
    size_t len = 0;
    zenith_wasm_module *m;
    memset(err, 0, sizeof *err);
    if (!fn) {
        err->code = -9999;
        snprintf(err->message, sizeof err->message, "no filename");
        return NULL;
    }
    snprintf(path, sizeof path, "%s/%s", r->dir, fn);
    bytes = read_file(path, &len);
    if (!bytes) {
        err->code = -9999;
        snprintf(err->message, sizeof err->message, "cannot read %.100s: %.100s", fn, strerror(errno));
        return NULL;
    }
    m = zenith_wasm_module_load(bytes, len, err);
    free(bytes);
    return m;
}

static zenith_wasm_instance *instantiate(runner *r, zenith_wasm_module *m, zenith_wasm_error *err) {
    uint32_t n = zenith_wasm_module_import_count(m), i;
    zenith_wasm_extern **ext = (zenith_wasm_extern **)calloc(n + 1, sizeof *ext);
    zenith_wasm_instance *in;
    if (!ext) return NULL;
    for (i = 0; i < n; i++) {
        zenith_wasm_extern_info info;
        int k;
        memset(&info, 0, sizeof info);
        zenith_wasm_module_import(m, i, &info);
        if (info.module_len == 8 && memcmp(info.module, "spectest", 8) == 0) {
            for (k = 0; k < r->nspectest; k++)
                if (strlen(r->spectest[k].name) == info.name_len &&
                    memcmp(r->spectest[k].name, info.name, info.name_len) == 0)
                    ext[i] = r->spectest[k].ext;
        } else {
            for (k = r->nregistered - 1; k >= 0; k--)
                if (strlen(r->registered[k].name) == info.module_len &&
                    memcmp(r->registered[k].name, info.module, info.module_len) == 0) {
                    ext[i] = zenith_wasm_instance_export_n(r->registered[k].in, info.name, info.name_len);
                    break;
                }
        }
    }
    in = zenith_wasm_instantiate_ordered(r->store, m, ext, n, err);
    free(ext);
    return in;
}

static char *dupstr(const char *s) {
    size_t n = strlen(s) + 1;
    char *d = (char *)malloc(n);
    if (!d) exit(2);
    memcpy(d, s, n);
    return d;
}

static void keep_module(runner *r, zenith_wasm_module *m) {
    if (r->nmodules < (int)(sizeof r->modules / sizeof r->modules[0]))
        r->modules[r->nmodules++] = m;
    else
        fprintf(stderr, "wasm_spec: too many modules in %s (leaking one)\n", r->file);
}

static uint32_t type_of(const char *s) {
    if (!s) return 0;
    if (strcmp(s, "i32") == 0) return ZENITH_WASM_I32;
    if (strcmp(s, "i64") == 0) return ZENITH_WASM_I64;
    if (strcmp(s, "f32") == 0) return ZENITH_WASM_F32;
    if (strcmp(s, "f64") == 0) return ZENITH_WASM_F64;
    return 0;
}

static int parse_value(const jnode *v, zenith_wasm_value *out) {
    const char *val = jstr(v, "value");
    memset(out, 0, sizeof *out);
    out->type = type_of(jstr(v, "type"));
    if (!out->type || !val) return -1;
    out->of.u64 = strtoull(val, NULL, 10);
    return 0;
}

/* Runs an action: 0 or a negative code; results in res (count in *nres). */
static int act(runner *r, const jnode *action, zenith_wasm_value *res, size_t *nres, char *why, size_t whylen) {
    const char *type = jstr(action, "type"), *mod = jstr(action, "module");
    const jnode *field = jget(action, "field");
    zenith_wasm_instance *in = find_named(r, mod);
    zenith_wasm_extern *e;
    *nres = 0;
    if (!in || !field || field->type != J_STR) {
        snprintf(why, whylen, "no instance %s", mod ? mod : "(current)");
        return -9999;
    }
    e = zenith_wasm_instance_export_n(in, field->str, field->len);
    if (!e) {
        snprintf(why, whylen, "no export \"%s\"", field->str);
        return -9999;
    }
    if (type && strcmp(type, "get") == 0) {
        *nres = 1;
        return zenith_wasm_global_get(e, &res[0]);
    } else {
        const jnode *args = jget(action, "args");
        zenith_wasm_value argv[64];
        zenith_wasm_functype ft;
        size_t n = args ? args->nkids : 0, i;
        if (n > 64 || zenith_wasm_func_type(e, &ft) != 0 || ft.nresults > 64) {
            snprintf(why, whylen, "bad invoke");
            return -9999;
        }
        for (i = 0; i < n; i++)
            if (parse_value(&args->kids[i], &argv[i]) != 0) {
                snprintf(why, whylen, "bad argument %zu", i);
                return -9999;
            }
        *nres = ft.nresults;
        return zenith_wasm_call(e, argv, n, res, ft.nresults);
    }
}

static int value_matches(const jnode *exp, const zenith_wasm_value *got) {
    uint32_t type = type_of(jstr(exp, "type"));
    const char *val = jstr(exp, "value");
    if (!type || !val || got->type != type) return 0;
    if (strcmp(val, "nan:canonical") == 0) {
        if (type == ZENITH_WASM_F32) return (got->of.u32 & 0x7fffffffu) == 0x7fc00000u;
        return (got->of.u64 & 0x7fffffffffffffffull) == 0x7ff8000000000000ull;
    }
    if (strcmp(val, "nan:arithmetic") == 0) {
        if (type == ZENITH_WASM_F32) return (got->of.u32 & 0x7fc00000u) == 0x7fc00000u;
        return (got->of.u64 & 0x7ff8000000000000ull) == 0x7ff8000000000000ull;
    }
    if (type == ZENITH_WASM_I32 || type == ZENITH_WASM_F32) return got->of.u32 == (uint32_t)strtoull(val, NULL, 10);
    return got->of.u64 == strtoull(val, NULL, 10);
}

static void run_command(runner *r, const jnode *cmd) {
    const char *type = jstr(cmd, "type");
    const jnode *ln = jget(cmd, "line");
    long line = ln && ln->str ? atol(ln->str) : 0;
    zenith_wasm_error err;
    zenith_wasm_module *m;
    zenith_wasm_instance *in;
    zenith_wasm_value res[64];
    size_t nres;
    char why[256] = "";
    int rc;
    if (!type) return;
    if (strcmp(type, "module") == 0) {
        const char *name = jstr(cmd, "name");
        r->current = NULL;
        m = load(r, cmd, &err);
        if (!m) {
            failf(r, K_MODULE, line, "load: %s: %s", zenith_wasm_errname(err.code), err.message);
            return;
        }
        keep_module(r, m);
        in = instantiate(r, m, &err);
        if (!in) {
            failf(r, K_MODULE, line, "instantiate: %s: %s", zenith_wasm_errname(err.code), err.message);
            return;
        }
        r->current = in;
        if (name && r->nnamed < MAX_NAMED) {
            r->named[r->nnamed].name = dupstr(name);
            r->named[r->nnamed].in = in;
            r->nnamed++;
        }
        r->t.pass[K_MODULE]++;
    } else if (strcmp(type, "register") == 0) {
        const char *as = jstr(cmd, "as");
        in = find_named(r, jstr(cmd, "name"));
        if (!in || !as || r->nregistered >= MAX_NAMED) {
            failf(r, K_REGISTER, line, "nothing to register");
            return;
        }
        r->registered[r->nregistered].name = dupstr(as);
        r->registered[r->nregistered].in = in;
        r->nregistered++;
        r->t.pass[K_REGISTER]++;
    } else if (strcmp(type, "action") == 0) {
        rc = act(r, jget(cmd, "action"), res, &nres, why, sizeof why);
        if (rc != 0 && !ZENITH_WASM_IS_TRAP(rc)) {
            failf(r, K_ACTION, line, "%s %s", zenith_wasm_errname(rc), why);
            return;
        }
        r->t.pass[K_ACTION]++;
    } else if (strcmp(type, "assert_return") == 0) {
        const jnode *exp = jget(cmd, "expected");
        size_t i, nexp = exp ? exp->nkids : 0;
        rc = act(r, jget(cmd, "action"), res, &nres, why, sizeof why);
        if (rc != 0) {
            failf(r, K_RETURN, line, "%s %s", zenith_wasm_errname(rc), why);
            return;
        }
        if (nres != nexp) {
            failf(r, K_RETURN, line, "%zu results, expected %zu", nres, nexp);
            return;
        }
        for (i = 0; i < nexp; i++)
            if (!value_matches(&exp->kids[i], &res[i])) {
                failf(r, K_RETURN, line, "result %zu: got 0x%llx (type 0x%x), expected %s %s", i,
                      (unsigned long long)res[i].of.u64, res[i].type, jstr(&exp->kids[i], "type"),
                      jstr(&exp->kids[i], "value"));
                return;
            }
        r->t.pass[K_RETURN]++;
    } else if (strcmp(type, "assert_trap") == 0 || strcmp(type, "assert_exhaustion") == 0) {
        int kind = type[7] == 't' ? K_TRAP : K_EXHAUSTION;
        const char *text = jstr(cmd, "text");
        if (jget(cmd, "filename")) { /* a module whose start traps */
            m = load(r, cmd, &err);
            if (!m) {
                failf(r, kind, line, "load: %s", err.message);
                return;
            }
            keep_module(r, m);
            in = instantiate(r, m, &err);
            rc = in ? 0 : err.code;
        } else {
            rc = act(r, jget(cmd, "action"), res, &nres, why, sizeof why);
        }
        if (!ZENITH_WASM_IS_TRAP(rc)) {
            failf(r, kind, line, "expected a trap (%s), got %s %s", text ? text : "", zenith_wasm_errname(rc), why);
            return;
        }
        if (kind == K_EXHAUSTION && rc != ZENITH_WASM_TRAP_STACK_EXHAUSTED) {
            failf(r, kind, line, "expected exhaustion, got %s", zenith_wasm_errname(rc));
            return;
        }
        if (text) { /* the trap must be the one the suite names */
            static const struct {
                const char *text;
                int code;
            } map[] = { { "unreachable", ZENITH_WASM_TRAP_UNREACHABLE },
                        { "out of bounds memory access", ZENITH_WASM_TRAP_MEMORY_OOB },
                        { "undefined element", ZENITH_WASM_TRAP_UNDEFINED_ELEMENT },
                        { "uninitialized element", ZENITH_WASM_TRAP_UNINITIALIZED_ELEMENT },
                        { "indirect call type mismatch", ZENITH_WASM_TRAP_INDIRECT_TYPE },
                        { "integer divide by zero", ZENITH_WASM_TRAP_DIV_ZERO },
                        { "integer overflow", ZENITH_WASM_TRAP_INT_OVERFLOW },
                        { "invalid conversion to integer", ZENITH_WASM_TRAP_INVALID_CONVERSION },
                        { "call stack exhausted", ZENITH_WASM_TRAP_STACK_EXHAUSTED } };
            size_t i;
            for (i = 0; i < sizeof map / sizeof map[0]; i++)
                if (strncmp(text, map[i].text, strlen(map[i].text)) == 0 && rc != map[i].code) {
                    failf(r, kind, line, "expected \"%s\", got %s", text, zenith_wasm_errname(rc));
                    return;
                }
        }
        r->t.pass[kind]++;
    } else if (strcmp(type, "assert_invalid") == 0 || strcmp(type, "assert_malformed") == 0) {
        int kind = type[7] == 'i' ? K_INVALID : K_MALFORMED;
        int want = kind == K_INVALID ? ZENITH_WASM_E_INVALID : ZENITH_WASM_E_MALFORMED;
        const char *mt = jstr(cmd, "module_type");
        if (mt && strcmp(mt, "text") == 0) {
            r->t.skip[kind]++;
            return;
        }
        m = load(r, cmd, &err);
        if (m) {
            zenith_wasm_module_destroy(m);
            failf(r, kind, line, "loaded, expected \"%s\"", jstr(cmd, "text"));
            return;
        }
        if (err.code != want) {
            failf(r, kind, line, "%s (%s) instead of \"%s\"", zenith_wasm_errname(err.code), err.message,
                  jstr(cmd, "text"));
            return;
        }
        if (r->verbose > 1)
            fprintf(stderr, "  %s:%ld: ok: %s <- \"%s\"\n", r->file, line, err.message, jstr(cmd, "text"));
        r->t.pass[kind]++;
    } else if (strcmp(type, "assert_unlinkable") == 0 || strcmp(type, "assert_uninstantiable") == 0) {
        int kind = type[7] == 'u' && type[9] == 'l' ? K_UNLINKABLE : K_UNINSTANTIABLE;
        m = load(r, cmd, &err);
        if (!m) {
            failf(r, kind, line, "load: %s: %s", zenith_wasm_errname(err.code), err.message);
            return;
        }
        keep_module(r, m);
        in = instantiate(r, m, &err);
        if (in) {
            failf(r, kind, line, "instantiated, expected \"%s\"", jstr(cmd, "text"));
            return;
        }
        if (kind == K_UNLINKABLE && err.code != ZENITH_WASM_E_UNLINKABLE && err.code != ZENITH_WASM_E_SEGMENT) {
            failf(r, kind, line, "%s (%s) instead of \"%s\"", zenith_wasm_errname(err.code), err.message,
                  jstr(cmd, "text"));
            return;
        }
        if (kind == K_UNINSTANTIABLE && !ZENITH_WASM_IS_TRAP(err.code)) {
            failf(r, kind, line, "%s (%s) instead of a trap", zenith_wasm_errname(err.code), err.message);
            return;
        }
        r->t.pass[kind]++;
    } else {
        fprintf(stderr, "  %s:%ld: unknown command %s\n", r->file, line, type);
    }
}

static void print_tally(const char *name, const tally *t) {
    long p = 0, f = 0, s = 0;
    int k;
    for (k = 0; k < K_COUNT; k++) p += t->pass[k], f += t->fail[k], s += t->skip[k];
    printf("%-28s %6ld passed %5ld failed %5ld skipped |", name, p, f, s);
    for (k = 0; k < K_COUNT; k++) {
        if (!t->pass[k] && !t->fail[k] && !t->skip[k]) continue;
        printf(" %s %ld/%ld", kind_names[k], t->pass[k], t->pass[k] + t->fail[k]);
        if (t->fail[k]) printf(" (%ld FAILED)", t->fail[k]);
        if (t->skip[k]) printf(" (%ld skipped%s)", t->skip[k], k == K_MALFORMED ? ": text" : "");
    }
    printf("\n");
}

static int run_file(const char *path, int verbose, tally *total) {
    size_t len = 0;
    unsigned char *text = read_file(path, &len);
    jreader jr;
    jnode root;
    const jnode *cmds;
    runner *r;
    char dir[4096], *slash;
    const char *base;
    size_t i;
    int k, failed = 0;
    if (!text) {
        printf("%s: cannot read: %s\n", path, strerror(errno));
        return 1;
    }
    jr.p = (const char *)text;
    jr.end = (const char *)text + len;
    jr.err = 0;
    jparse(&jr, &root);
    free(text);
    cmds = jget(&root, "commands");
    if (jr.err || !cmds || cmds->type != J_ARR) {
        printf("%s: malformed JSON\n", path);
        jfree(&root);
        return 1;
    }
    r = (runner *)calloc(1, sizeof *r);
    if (!r) exit(2);
    snprintf(dir, sizeof dir, "%s", path);
    slash = strrchr(dir, '/');
    if (slash)
        *slash = 0;
    else
        snprintf(dir, sizeof dir, ".");
    base = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
    r->dir = dir;
    r->file = base;
    r->verbose = verbose;
    {
        zenith_wasm_config cfg;
        memset(&cfg, 0, sizeof cfg);
        cfg.fuel = 20000000000ull; /* a runaway loop is a failure, not a hang */
        r->store = zenith_wasm_store_create(&cfg, NULL);
    }
    if (!r->store) exit(2);
    spectest_init(r);
    for (i = 0; i < cmds->nkids; i++) run_command(r, &cmds->kids[i]);
    {
        char name[256];
        snprintf(name, sizeof name, "%s", base);
        if (strlen(name) > 5 && strcmp(name + strlen(name) - 5, ".json") == 0) name[strlen(name) - 5] = 0;
        print_tally(name, &r->t);
    }
    for (k = 0; k < K_COUNT; k++) {
        total->pass[k] += r->t.pass[k];
        total->fail[k] += r->t.fail[k];
        total->skip[k] += r->t.skip[k];
        failed |= r->t.fail[k] != 0;
    }
    zenith_wasm_store_destroy(r->store);
    for (k = 0; k < r->nmodules; k++) zenith_wasm_module_destroy(r->modules[k]);
    for (k = 0; k < r->nnamed; k++) free(r->named[k].name);
    for (k = 0; k < r->nregistered; k++) free(r->registered[k].name);
    free(r);
    jfree(&root);
    return failed;
}

int main(int argc, char **argv) {
    tally total;
    int i, verbose = 0, failed = 0, files = 0;
    memset(&total, 0, sizeof total);
    for (i = 1; i < argc; i++) {
        if (strcmp(argv[i], "-v") == 0) {
            verbose++;
            continue;
        }
        files++;
        failed |= run_file(argv[i], verbose, &total);
    }
    if (files == 0) {
        fprintf(stderr, "usage: wasm_spec [-v] FILE.json...\n");
        return 2;
    }
    print_tally("total", &total);
    return failed ? 1 : 0;
}
