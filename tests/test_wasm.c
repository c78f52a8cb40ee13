/* test_wasm.c -- zenith_wasm.h's C API: load errors with their reason and offset, host imports,
   typed calls, every trap code, fuel, the memory, call-depth and nesting caps, memory
   accessors, NULL and bad-input codes, linking between instances, a module shared by threads.
   The spec suite itself runs in tools/wasm_spec.sh. Modules are embedded as bytes (built once
   with wat2wasm from the text beside them; nothing here needs wabt). */
#define _GNU_SOURCE 1
#define ZENITH_WASM_IMPLEMENTATION
#include "zenith_wasm.h"

#include "criterion_compat.h"

#include <pthread.h>
#include <stdint.h>
#include <string.h>

/* main.wat:
   (module
     (type $t_i32 (func (result i32)))
     (type $t_i64 (func (result i64)))
     (import "env" "add" (func $hadd (param i32 i32) (result i32)))
     (import "env" "fail" (func $hfail))
     (import "env" "reenter" (func $hre (param i32) (result i32)))
     (memory (export "mem") 1 4)
     (table 2 funcref)
     (elem (i32.const 0) $answer)
     (global $g (export "g") (mut i32) (i32.const 7))
     (global (export "k") i64 (i64.const -5))
     (func $answer (result i32) (i32.const 42))
     (func (export "call_host") (param i32 i32) (result i32) (call $hadd (local.get 0) (local.get 1)))
     (func (export "host_trap") (call $hfail))
     (func (export "reenter") (param i32) (result i32) (call $hre (local.get 0)))
     (func (export "double") (param i32) (result i32) (i32.mul (local.get 0) (i32.const 2)))
     (func (export "mix") (param i32 i64 f32 f64) (result f64 i64)
       (f64.add (f64.convert_i32_s (local.get 0)) (local.get 3))
       (i64.add (local.get 1) (i64.trunc_f32_s (local.get 2))))
     (func (export "unreachable") unreachable)
     (func (export "load") (param i32) (result i32) (i32.load (local.get 0)))
     (func (export "store") (param i32 i32) (i32.store (local.get 0) (local.get 1)))
     (func (export "div_s") (param i32 i32) (result i32) (i32.div_s (local.get 0) (local.get 1)))
     (func (export "trunc") (param f32) (result i32) (i32.trunc_f32_s (local.get 0)))
     (func (export "call_ind") (param i32) (result i32) (call_indirect (type $t_i32) (local.get 0)))
     (func (export "call_ind_i64") (param i32) (result i64) (call_indirect (type $t_i64) (local.get 0)))
     (func (export "spin") (loop $l (br $l)))
     (func $rec (export "recurse") (param i32) (result i32)
       (i32.add (call $rec (i32.add (local.get 0) (i32.const 1))) (i32.const 1)))
     (func (export "grow") (param i32) (result i32) (memory.grow (local.get 0)))
     (func (export "size") (result i32) (memory.size))
     (func (export "sum") (param $n i32) (result i64) (local $i i32) (local $acc i64)
       (block $done
         (loop $l
           (br_if $done (i32.ge_u (local.get $i) (local.get $n)))
           (local.set $acc (i64.add (local.get $acc) (i64.extend_i32_u (local.get $i))))
           (local.set $i (i32.add (local.get $i) (i32.const 1)))
           (br $l)))
       (local.get $acc))
     (func (export "nan") (result f32) (f32.const nan:0x200001))
     (func (export "pass_f64") (param f64) (result f64) (local.get 0))
     (func (export "bump") (result i32) (global.set $g (i32.add (global.get $g) (i32.const 1))) (global.get $g))
   )
*/
/* user.wat:
   (module
     (import "main" "double" (func $d (param i32) (result i32)))
     (import "main" "mem" (memory 1))
     (import "main" "g" (global $g (mut i32)))
     (func (export "quad") (param i32) (result i32) (call $d (call $d (local.get 0))))
     (func (export "peek") (param i32) (result i32) (i32.load (local.get 0)))
     (func (export "getg") (result i32) (global.get $g))
   )
*/
/* bigmem.wat: (module (memory 3))
   start.wat:  (module (memory 1) (data (i32.const 0) "\2a") (func $s unreachable) (start $s))
   invalid.wat (wat2wasm --no-check): (module (func (result i32) (i64.const 1))) */
static const uint8_t main_wasm[] = {
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, 0x01, 0x38, 0x0b, 0x60, 0x00, 0x01, 0x7f, 0x60, 0x00, 0x01, 0x7e,
    0x60, 0x02, 0x7f, 0x7f, 0x01, 0x7f, 0x60, 0x00, 0x00, 0x60, 0x01, 0x7f, 0x01, 0x7f, 0x60, 0x04, 0x7f, 0x7e, 0x7d,
    0x7c, 0x02, 0x7c, 0x7e, 0x60, 0x02, 0x7f, 0x7f, 0x00, 0x60, 0x01, 0x7d, 0x01, 0x7f, 0x60, 0x01, 0x7f, 0x01, 0x7e,
    0x60, 0x00, 0x01, 0x7d, 0x60, 0x01, 0x7c, 0x01, 0x7c, 0x02, 0x24, 0x03, 0x03, 0x65, 0x6e, 0x76, 0x03, 0x61, 0x64,
    0x64, 0x00, 0x02, 0x03, 0x65, 0x6e, 0x76, 0x04, 0x66, 0x61, 0x69, 0x6c, 0x00, 0x03, 0x03, 0x65, 0x6e, 0x76, 0x07,
    0x72, 0x65, 0x65, 0x6e, 0x74, 0x65, 0x72, 0x00, 0x04, 0x03, 0x16, 0x15, 0x00, 0x02, 0x03, 0x04, 0x04, 0x05, 0x03,
    0x04, 0x06, 0x02, 0x07, 0x04, 0x08, 0x03, 0x04, 0x04, 0x00, 0x08, 0x09, 0x0a, 0x00, 0x04, 0x04, 0x01, 0x70, 0x00,
    0x02, 0x05, 0x04, 0x01, 0x01, 0x01, 0x04, 0x06, 0x0b, 0x02, 0x7f, 0x01, 0x41, 0x07, 0x0b, 0x7e, 0x00, 0x42, 0x7b,
    0x0b, 0x07, 0xc4, 0x01, 0x17, 0x03, 0x6d, 0x65, 0x6d, 0x02, 0x00, 0x01, 0x67, 0x03, 0x00, 0x01, 0x6b, 0x03, 0x01,
    0x09, 0x63, 0x61, 0x6c, 0x6c, 0x5f, 0x68, 0x6f, 0x73, 0x74, 0x00, 0x04, 0x09, 0x68, 0x6f, 0x73, 0x74, 0x5f, 0x74,
    0x72, 0x61, 0x70, 0x00, 0x05, 0x07, 0x72, 0x65, 0x65, 0x6e, 0x74, 0x65, 0x72, 0x00, 0x06, 0x06, 0x64, 0x6f, 0x75,
    0x62, 0x6c, 0x65, 0x00, 0x07, 0x03, 0x6d, 0x69, 0x78, 0x00, 0x08, 0x0b, 0x75, 0x6e, 0x72, 0x65, 0x61, 0x63, 0x68,
    0x61, 0x62, 0x6c, 0x65, 0x00, 0x09, 0x04, 0x6c, 0x6f, 0x61, 0x64, 0x00, 0x0a, 0x05, 0x73, 0x74, 0x6f, 0x72, 0x65,
    0x00, 0x0b, 0x05, 0x64, 0x69, 0x76, 0x5f, 0x73, 0x00, 0x0c, 0x05, 0x74, 0x72, 0x75, 0x6e, 0x63, 0x00, 0x0d, 0x08,
    0x63, 0x61, 0x6c, 0x6c, 0x5f, 0x69, 0x6e, 0x64, 0x00, 0x0e, 0x0c, 0x63, 0x61, 0x6c, 0x6c, 0x5f, 0x69, 0x6e, 0x64,
    0x5f, 0x69, 0x36, 0x34, 0x00, 0x0f, 0x04, 0x73, 0x70, 0x69, 0x6e, 0x00, 0x10, 0x07, 0x72, 0x65, 0x63, 0x75, 0x72,
    0x73, 0x65, 0x00, 0x11, 0x04, 0x67, 0x72, 0x6f, 0x77, 0x00, 0x12, 0x04, 0x73, 0x69, 0x7a, 0x65, 0x00, 0x13, 0x03,
    0x73, 0x75, 0x6d, 0x00, 0x14, 0x03, 0x6e, 0x61, 0x6e, 0x00, 0x15, 0x08, 0x70, 0x61, 0x73, 0x73, 0x5f, 0x66, 0x36,
    0x34, 0x00, 0x16, 0x04, 0x62, 0x75, 0x6d, 0x70, 0x00, 0x17, 0x09, 0x07, 0x01, 0x00, 0x41, 0x00, 0x0b, 0x01, 0x03,
    0x0a, 0xc7, 0x01, 0x15, 0x04, 0x00, 0x41, 0x2a, 0x0b, 0x08, 0x00, 0x20, 0x00, 0x20, 0x01, 0x10, 0x00, 0x0b, 0x04,
    0x00, 0x10, 0x01, 0x0b, 0x06, 0x00, 0x20, 0x00, 0x10, 0x02, 0x0b, 0x07, 0x00, 0x20, 0x00, 0x41, 0x02, 0x6c, 0x0b,
    0x0e, 0x00, 0x20, 0x00, 0xb7, 0x20, 0x03, 0xa0, 0x20, 0x01, 0x20, 0x02, 0xae, 0x7c, 0x0b, 0x03, 0x00, 0x00, 0x0b,
    0x07, 0x00, 0x20, 0x00, 0x28, 0x02, 0x00, 0x0b, 0x09, 0x00, 0x20, 0x00, 0x20, 0x01, 0x36, 0x02, 0x00, 0x0b, 0x07,
    0x00, 0x20, 0x00, 0x20, 0x01, 0x6d, 0x0b, 0x05, 0x00, 0x20, 0x00, 0xa8, 0x0b, 0x07, 0x00, 0x20, 0x00, 0x11, 0x00,
    0x00, 0x0b, 0x07, 0x00, 0x20, 0x00, 0x11, 0x01, 0x00, 0x0b, 0x07, 0x00, 0x03, 0x40, 0x0c, 0x00, 0x0b, 0x0b, 0x0c,
    0x00, 0x20, 0x00, 0x41, 0x01, 0x6a, 0x10, 0x11, 0x41, 0x01, 0x6a, 0x0b, 0x06, 0x00, 0x20, 0x00, 0x40, 0x00, 0x0b,
    0x04, 0x00, 0x3f, 0x00, 0x0b, 0x26, 0x02, 0x01, 0x7f, 0x01, 0x7e, 0x02, 0x40, 0x03, 0x40, 0x20, 0x01, 0x20, 0x00,
    0x4f, 0x0d, 0x01, 0x20, 0x02, 0x20, 0x01, 0xad, 0x7c, 0x21, 0x02, 0x20, 0x01, 0x41, 0x01, 0x6a, 0x21, 0x01, 0x0c,
    0x00, 0x0b, 0x0b, 0x20, 0x02, 0x0b, 0x07, 0x00, 0x43, 0x01, 0x00, 0xa0, 0x7f, 0x0b, 0x04, 0x00, 0x20, 0x00, 0x0b,
    0x0b, 0x00, 0x23, 0x00, 0x41, 0x01, 0x6a, 0x24, 0x00, 0x23, 0x00, 0x0b,
};
static const uint8_t user_wasm[] = {
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, 0x01, 0x0a, 0x02, 0x60, 0x01, 0x7f, 0x01, 0x7f, 0x60, 0x00, 0x01,
    0x7f, 0x02, 0x25, 0x03, 0x04, 0x6d, 0x61, 0x69, 0x6e, 0x06, 0x64, 0x6f, 0x75, 0x62, 0x6c, 0x65, 0x00, 0x00, 0x04,
    0x6d, 0x61, 0x69, 0x6e, 0x03, 0x6d, 0x65, 0x6d, 0x02, 0x00, 0x01, 0x04, 0x6d, 0x61, 0x69, 0x6e, 0x01, 0x67, 0x03,
    0x7f, 0x01, 0x03, 0x04, 0x03, 0x00, 0x00, 0x01, 0x07, 0x16, 0x03, 0x04, 0x71, 0x75, 0x61, 0x64, 0x00, 0x01, 0x04,
    0x70, 0x65, 0x65, 0x6b, 0x00, 0x02, 0x04, 0x67, 0x65, 0x74, 0x67, 0x00, 0x03, 0x0a, 0x17, 0x03, 0x08, 0x00, 0x20,
    0x00, 0x10, 0x00, 0x10, 0x00, 0x0b, 0x07, 0x00, 0x20, 0x00, 0x28, 0x02, 0x00, 0x0b, 0x04, 0x00, 0x23, 0x00, 0x0b,
};
static const uint8_t bigmem_wasm[] = {
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, 0x05, 0x03, 0x01, 0x00, 0x03,
};
static const uint8_t start_wasm[] = {
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, 0x01, 0x04, 0x01, 0x60, 0x00, 0x00,
    0x03, 0x02, 0x01, 0x00, 0x05, 0x03, 0x01, 0x00, 0x01, 0x08, 0x01, 0x00, 0x0a, 0x05,
    0x01, 0x03, 0x00, 0x00, 0x0b, 0x0b, 0x07, 0x01, 0x00, 0x41, 0x00, 0x0b, 0x01, 0x2a,
};
static const uint8_t invalid_wasm[] = {
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, 0x01, 0x05, 0x01, 0x60, 0x00, 0x01,
    0x7f, 0x03, 0x02, 0x01, 0x00, 0x0a, 0x06, 0x01, 0x04, 0x00, 0x42, 0x01, 0x0b,
};

/* ---- helpers ------------------------------------------------------------------------------- */

typedef struct {
    int adds, fails, reenters;
    zenith_wasm_extern *double_fn; /* what "reenter" calls back */
} host_state;

static int h_add(void *user, zenith_wasm_instance *caller, const zenith_wasm_value *args, zenith_wasm_value *results) {
    host_state *st = (host_state *)user;
    cr_assert_not_null(caller, "called from wasm: the caller is set");
    cr_assert_eq(args[0].type, ZENITH_WASM_I32);
    cr_assert_eq(results[0].type, ZENITH_WASM_I32, "result types are preset");
    st->adds++;
    results[0].of.i32 = args[0].of.i32 + args[1].of.i32;
    return 0;
}

static int h_fail(void *user, zenith_wasm_instance *caller, const zenith_wasm_value *args, zenith_wasm_value *results) {
    host_state *st = (host_state *)user;
    (void)caller, (void)args, (void)results;
    st->fails++;
    return -12345; /* not a trap code: becomes ZENITH_WASM_TRAP_HOST */
}

static int h_reenter(void *user, zenith_wasm_instance *caller, const zenith_wasm_value *args,
                     zenith_wasm_value *results) {
    host_state *st = (host_state *)user;
    zenith_wasm_value a = args[0], r;
    int rc;
    (void)caller;
    st->reenters++;
    rc = zenith_wasm_call(st->double_fn, &a, 1, &r, 1); /* nested: back into the same store */
    if (rc != 0) return rc;
    results[0].of.i32 = r.of.i32 + 1;
    return 0;
}

static zenith_wasm_module *load_ok(const uint8_t *bytes, size_t len) {
    zenith_wasm_error e;
    zenith_wasm_module *m;
    memset(&e, 0, sizeof e);
    m = zenith_wasm_module_load(bytes, len, &e);
    cr_assert_not_null(m, "load: %s %s", zenith_wasm_errname(e.code), e.message);
    return m;
}

static zenith_wasm_store *store_with(uint64_t fuel, uint32_t max_pages, uint32_t max_depth) {
    zenith_wasm_config cfg;
    int err = 1;
    zenith_wasm_store *s;
    memset(&cfg, 0, sizeof cfg);
    cfg.fuel = fuel;
    cfg.max_memory_pages = max_pages;
    cfg.max_call_depth = max_depth;
    s = zenith_wasm_store_create(&cfg, &err);
    cr_assert_not_null(s, "store: %s", zenith_wasm_errname(err));
    cr_assert_eq(err, 0);
    return s;
}

/* Instantiates main.wasm with the three host functions. */
static zenith_wasm_instance *main_instance(zenith_wasm_store *s, const zenith_wasm_module *m, host_state *st) {
    static const uint8_t ii[2] = { ZENITH_WASM_I32, ZENITH_WASM_I32 }, i1[1] = { ZENITH_WASM_I32 };
    zenith_wasm_functype add_t = { ii, 2, i1, 1 }, fail_t = { NULL, 0, NULL, 0 }, re_t = { i1, 1, i1, 1 };
    zenith_wasm_import imp[3];
    zenith_wasm_error e;
    zenith_wasm_instance *in;
    int err;
    imp[0].module = "env", imp[0].name = "add", imp[0].ext = zenith_wasm_func_new(s, &add_t, h_add, st, &err);
    imp[1].module = "env", imp[1].name = "fail", imp[1].ext = zenith_wasm_func_new(s, &fail_t, h_fail, st, &err);
    imp[2].module = "env", imp[2].name = "reenter", imp[2].ext = zenith_wasm_func_new(s, &re_t, h_reenter, st, &err);
    cr_assert(imp[0].ext && imp[1].ext && imp[2].ext);
    memset(&e, 0, sizeof e);
    in = zenith_wasm_instantiate(s, m, imp, 3, &e);
    cr_assert_not_null(in, "instantiate: %s %s", zenith_wasm_errname(e.code), e.message);
    st->double_fn = zenith_wasm_instance_export(in, "double");
    cr_assert_not_null(st->double_fn);
    return in;
}

static zenith_wasm_value vi32(int32_t v) {
    zenith_wasm_value x;
    memset(&x, 0, sizeof x);
    x.type = ZENITH_WASM_I32;
    x.of.i32 = v;
    return x;
}

/* Calls export `name` of `in` with one i32 (or none if nargs is 0) and one result or none. */
static int call1(zenith_wasm_instance *in, const char *name, size_t nargs, int32_t arg, size_t nres,
                 zenith_wasm_value *res) {
    zenith_wasm_extern *f = zenith_wasm_instance_export(in, name);
    zenith_wasm_value a = vi32(arg), dummy;
    cr_assert_not_null(f, "export %s", name);
    return zenith_wasm_call(f, &a, nargs, res ? res : &dummy, nres);
}

typedef struct {
    zenith_wasm_module *m;
    zenith_wasm_store *s;
    zenith_wasm_instance *in;
    host_state st;
} fixture;

static void fx_open(fixture *fx, uint64_t fuel, uint32_t max_pages, uint32_t max_depth) {
    memset(fx, 0, sizeof *fx);
    fx->m = load_ok(main_wasm, sizeof main_wasm);
    fx->s = store_with(fuel, max_pages, max_depth);
    fx->in = main_instance(fx->s, fx->m, &fx->st);
}

static void fx_close(fixture *fx) {
    zenith_wasm_store_destroy(fx->s);
    zenith_wasm_module_destroy(fx->m);
}

/* ---- load ---------------------------------------------------------------------------------- */

Test(wasm, load_refuses_bad_magic_as_malformed_at_offset_0, .timeout = 10) {
    static const uint8_t bad[8] = { 0x00, 'a', 's', 'n', 1, 0, 0, 0 };
    zenith_wasm_error e;
    memset(&e, 0, sizeof e);
    cr_assert_null(zenith_wasm_module_load(bad, sizeof bad, &e));
    cr_assert_eq(e.code, ZENITH_WASM_E_MALFORMED);
    cr_assert_eq(e.offset, 0);
    cr_assert(strstr(e.message, "magic") != NULL, "message: %s", e.message);
}

Test(wasm, load_refuses_truncated_module_as_malformed_in_its_section, .timeout = 10) {
    zenith_wasm_error e;
    size_t cut;
    for (cut = 9; cut < sizeof main_wasm; cut += 7) { /* every prefix that ends inside a section */
        memset(&e, 0, sizeof e);
        cr_assert_null(zenith_wasm_module_load(main_wasm, cut, &e), "a %zu-byte prefix loaded", cut);
        cr_assert_eq(e.code, ZENITH_WASM_E_MALFORMED, "cut %zu: %s %s", cut, zenith_wasm_errname(e.code), e.message);
        cr_assert(e.offset <= cut, "offset %llu beyond %zu", (unsigned long long)e.offset, cut);
        cr_assert(e.message[0] != 0);
    }
}

Test(wasm, load_refuses_invalid_body_with_section_and_offset, .timeout = 10) {
    zenith_wasm_error e;
    memset(&e, 0, sizeof e);
    cr_assert_null(zenith_wasm_module_load(invalid_wasm, sizeof invalid_wasm, &e));
    cr_assert_eq(e.code, ZENITH_WASM_E_INVALID, "%s", zenith_wasm_errname(e.code));
    cr_assert_eq(e.section, 10, "the code section");
    cr_assert_eq(e.index, 0, "function 0");
    cr_assert(e.offset >= 22 && e.offset <= sizeof invalid_wasm, "offset %llu is in the body",
              (unsigned long long)e.offset);
    cr_assert(strstr(e.message, "type mismatch") != NULL, "message: %s", e.message);
}

Test(wasm, load_refuses_a_function_beyond_the_slot_limit, .timeout = 10) {
    /* (func (local i32 x 70000)): valid WebAssembly, beyond this engine's 65535 value slots */
    static const uint8_t many[] = {
        0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, 0x01, 0x04, 0x01, 0x60, 0x00, 0x00,
        0x03, 0x02, 0x01, 0x00, 0x0a, 0x08, 0x01, 0x06, 0x01, 0xf0, 0xa2, 0x04, 0x7f, 0x0b
    };
    zenith_wasm_error e;
    memset(&e, 0, sizeof e);
    cr_assert_null(zenith_wasm_module_load(many, sizeof many, &e));
    cr_assert_eq(e.code, ZENITH_WASM_E_LIMIT, "%s: %s", zenith_wasm_errname(e.code), e.message);
    cr_assert_eq(e.section, 10);
    cr_assert_eq(e.index, 0);
    cr_assert(strstr(e.message, "70000") != NULL, "message: %s", e.message);
}

Test(wasm, load_null_and_empty, .timeout = 10) {
    zenith_wasm_error e;
    memset(&e, 0, sizeof e);
    cr_assert_null(zenith_wasm_module_load(NULL, 8, &e));
    cr_assert_eq(e.code, ZENITH_WASM_E_NULL);
    cr_assert_null(zenith_wasm_module_load(main_wasm, 0, &e));
    cr_assert_eq(e.code, ZENITH_WASM_E_MALFORMED);
    cr_assert_null(zenith_wasm_module_load(NULL, 0, NULL), "no error struct: still refused, no crash");
    zenith_wasm_module_destroy(NULL);
    zenith_wasm_store_destroy(NULL);
}

Test(wasm, introspection_lists_imports_and_exports, .timeout = 10) {
    zenith_wasm_module *m = load_ok(main_wasm, sizeof main_wasm);
    zenith_wasm_extern_info info;
    uint32_t i, found = 0;
    cr_assert_eq(zenith_wasm_module_import_count(m), 3);
    memset(&info, 0, sizeof info);
    cr_assert_eq(zenith_wasm_module_import(m, 0, &info), 0);
    cr_assert_eq(info.kind, ZENITH_WASM_EXTERN_FUNC);
    cr_assert(info.module_len == 3 && memcmp(info.module, "env", 3) == 0);
    cr_assert(info.name_len == 3 && memcmp(info.name, "add", 3) == 0);
    cr_assert_eq(info.func.nparams, 2);
    cr_assert_eq(info.func.nresults, 1);
    cr_assert_eq(zenith_wasm_module_import(m, 3, &info), ZENITH_WASM_E_RANGE);
    cr_assert_eq(zenith_wasm_module_import(NULL, 0, &info), ZENITH_WASM_E_NULL);
    for (i = 0; i < zenith_wasm_module_export_count(m); i++) {
        memset(&info, 0, sizeof info);
        cr_assert_eq(zenith_wasm_module_export(m, i, &info), 0);
        if (info.name_len == 3 && memcmp(info.name, "mem", 3) == 0) {
            cr_assert_eq(info.kind, ZENITH_WASM_EXTERN_MEMORY);
            cr_assert_eq(info.limits.min, 1);
            cr_assert_eq(info.limits.max, 4);
            found++;
        }
        if (info.name_len == 1 && info.name[0] == 'g') {
            cr_assert_eq(info.kind, ZENITH_WASM_EXTERN_GLOBAL);
            cr_assert_eq(info.global_type, ZENITH_WASM_I32);
            cr_assert_eq(info.global_mutable, 1);
            found++;
        }
    }
    cr_assert_eq(found, 2);
    zenith_wasm_module_destroy(m);
}

/* ---- instantiate and call ------------------------------------------------------------------ */

Test(wasm, instantiate_refuses_missing_and_mistyped_imports, .timeout = 10) {
    zenith_wasm_module *m = load_ok(main_wasm, sizeof main_wasm);
    zenith_wasm_store *s = store_with(0, 0, 0);
    static const uint8_t i1[1] = { ZENITH_WASM_I32 };
    zenith_wasm_functype wrong = { i1, 1, NULL, 0 };
    zenith_wasm_import imp[1];
    zenith_wasm_error e;
    host_state st;
    memset(&st, 0, sizeof st);
    memset(&e, 0, sizeof e);
    cr_assert_null(zenith_wasm_instantiate(s, m, NULL, 0, &e));
    cr_assert_eq(e.code, ZENITH_WASM_E_UNLINKABLE);
    cr_assert_eq(e.index, 0, "import 0 is the first missing");
    cr_assert(strstr(e.message, "unknown import") != NULL, "%s", e.message);
    imp[0].module = "env", imp[0].name = "add";
    imp[0].ext = zenith_wasm_func_new(s, &wrong, h_add, &st, NULL);
    cr_assert_null(zenith_wasm_instantiate(s, m, imp, 1, &e));
    cr_assert_eq(e.code, ZENITH_WASM_E_UNLINKABLE);
    cr_assert(strstr(e.message, "incompatible import type") != NULL, "%s", e.message);
    zenith_wasm_store_destroy(s);
    zenith_wasm_module_destroy(m);
}

Test(wasm, call_with_typed_arguments_and_results, .timeout = 10) {
    fixture fx;
    zenith_wasm_value args[4], res[2];
    fx_open(&fx, 0, 0, 0);
    memset(args, 0, sizeof args);
    args[0].type = ZENITH_WASM_I32, args[0].of.i32 = -3;
    args[1].type = ZENITH_WASM_I64, args[1].of.i64 = 1000000000000ll;
    args[2].type = ZENITH_WASM_F32, args[2].of.f32 = 2.75f;
    args[3].type = ZENITH_WASM_F64, args[3].of.f64 = 0.5;
    cr_assert_eq(zenith_wasm_call(zenith_wasm_instance_export(fx.in, "mix"), args, 4, res, 2), 0);
    cr_assert_eq(res[0].type, ZENITH_WASM_F64);
    cr_assert(res[0].of.f64 == -2.5, "%g", res[0].of.f64);
    cr_assert_eq(res[1].type, ZENITH_WASM_I64);
    cr_assert_eq(res[1].of.i64, 1000000000002ll);
    cr_assert_eq(call1(fx.in, "sum", 1, 100000, 1, res), 0);
    cr_assert_eq(res[0].of.i64, 4999950000ll);
    /* NaN bits come back exactly, both ways */
    cr_assert_eq(call1(fx.in, "nan", 0, 0, 1, res), 0);
    cr_assert_eq(res[0].of.u32, 0x7fa00001u, "bits %#x", res[0].of.u32);
    args[0].type = ZENITH_WASM_F64, args[0].of.u64 = 0xfff0000000000123ull;
    cr_assert_eq(zenith_wasm_call(zenith_wasm_instance_export(fx.in, "pass_f64"), args, 1, res, 1), 0);
    cr_assert_eq(res[0].of.u64, 0xfff0000000000123ull);
    fx_close(&fx);
}

Test(wasm, host_functions_are_called_with_their_user_pointer, .timeout = 10) {
    fixture fx;
    zenith_wasm_value args[2], res[1];
    fx_open(&fx, 0, 0, 0);
    args[0] = vi32(40), args[1] = vi32(2);
    cr_assert_eq(zenith_wasm_call(zenith_wasm_instance_export(fx.in, "call_host"), args, 2, res, 1), 0);
    cr_assert_eq(res[0].of.i32, 42);
    cr_assert_eq(fx.st.adds, 1);
    /* a host function re-entering its store (nested call) */
    cr_assert_eq(call1(fx.in, "reenter", 1, 20, 1, res), 0);
    cr_assert_eq(res[0].of.i32, 41);
    cr_assert_eq(fx.st.reenters, 1);
    fx_close(&fx);
}

Test(wasm, host_re_entry_is_bounded, .timeout = 10) {
    fixture fx;
    zenith_wasm_value res[1];
    fx_open(&fx, 0, 0, 0);
    fx.st.double_fn = zenith_wasm_instance_export(fx.in, "reenter"); /* wasm -> host -> wasm -> host ... */
    cr_assert_eq(call1(fx.in, "reenter", 1, 1, 1, res), ZENITH_WASM_TRAP_STACK_EXHAUSTED);
    cr_assert(fx.st.reenters >= 2 && fx.st.reenters <= ZENITH_WASM_MAX_NESTING, "%d re-entries", fx.st.reenters);
    fx.st.double_fn = zenith_wasm_instance_export(fx.in, "double");
    cr_assert_eq(call1(fx.in, "reenter", 1, 5, 1, res), 0, "the store recovers");
    cr_assert_eq(res[0].of.i32, 11);
    fx_close(&fx);
}

Test(wasm, call_rejects_null_and_mismatched_arguments, .timeout = 10) {
    fixture fx;
    zenith_wasm_value args[2], res[2];
    zenith_wasm_extern *dbl, *g;
    fx_open(&fx, 0, 0, 0);
    dbl = zenith_wasm_instance_export(fx.in, "double");
    args[0] = vi32(1), args[1] = vi32(2);
    cr_assert_eq(zenith_wasm_call(NULL, args, 1, res, 1), ZENITH_WASM_E_NULL);
    cr_assert_eq(zenith_wasm_call(dbl, NULL, 1, res, 1), ZENITH_WASM_E_NULL);
    cr_assert_eq(zenith_wasm_call(dbl, args, 2, res, 1), ZENITH_WASM_E_TYPE, "too many arguments");
    cr_assert_eq(zenith_wasm_call(dbl, args, 1, res, 2), ZENITH_WASM_E_TYPE, "too many results");
    args[0].type = ZENITH_WASM_I64;
    cr_assert_eq(zenith_wasm_call(dbl, args, 1, res, 1), ZENITH_WASM_E_TYPE, "wrong argument type");
    g = zenith_wasm_instance_export(fx.in, "g");
    cr_assert_eq(zenith_wasm_call(g, args, 0, res, 0), ZENITH_WASM_E_TYPE, "not a function");
    cr_assert_null(zenith_wasm_instance_export(fx.in, "nope"));
    cr_assert_null(zenith_wasm_instance_export(NULL, "double"));
    cr_assert_null(zenith_wasm_instance_export(fx.in, NULL));
    cr_assert_eq(zenith_wasm_extern_kind(NULL), -1);
    fx_close(&fx);
}

/* ---- traps --------------------------------------------------------------------------------- */

Test(wasm, every_trap_has_its_code_and_message, .timeout = 20) {
    fixture fx;
    zenith_wasm_value args[2], res[1];
    zenith_wasm_extern *f;
    fx_open(&fx, 0, 0, 0);
    cr_assert_eq(call1(fx.in, "unreachable", 0, 0, 0, NULL), ZENITH_WASM_TRAP_UNREACHABLE);
    cr_assert_eq(call1(fx.in, "load", 1, 65533, 1, res), ZENITH_WASM_TRAP_MEMORY_OOB, "straddles the end");
    cr_assert_eq(call1(fx.in, "load", 1, -1, 1, res), ZENITH_WASM_TRAP_MEMORY_OOB, "4 GiB - 1");
    cr_assert_eq(call1(fx.in, "load", 1, 65532, 1, res), 0, "the last word is fine");
    cr_assert_eq(call1(fx.in, "call_ind", 1, 0, 1, res), 0);
    cr_assert_eq(res[0].of.i32, 42);
    cr_assert_eq(call1(fx.in, "call_ind", 1, 2, 1, res), ZENITH_WASM_TRAP_UNDEFINED_ELEMENT);
    cr_assert_eq(call1(fx.in, "call_ind", 1, 1, 1, res), ZENITH_WASM_TRAP_UNINITIALIZED_ELEMENT);
    cr_assert_eq(call1(fx.in, "call_ind_i64", 1, 0, 1, res), ZENITH_WASM_TRAP_INDIRECT_TYPE);
    f = zenith_wasm_instance_export(fx.in, "div_s");
    args[0] = vi32(7), args[1] = vi32(0);
    cr_assert_eq(zenith_wasm_call(f, args, 2, res, 1), ZENITH_WASM_TRAP_DIV_ZERO);
    args[0] = vi32(INT32_MIN), args[1] = vi32(-1);
    cr_assert_eq(zenith_wasm_call(f, args, 2, res, 1), ZENITH_WASM_TRAP_INT_OVERFLOW);
    f = zenith_wasm_instance_export(fx.in, "trunc");
    memset(args, 0, sizeof args);
    args[0].type = ZENITH_WASM_F32, args[0].of.u32 = 0x7fc00000u;
    cr_assert_eq(zenith_wasm_call(f, args, 1, res, 1), ZENITH_WASM_TRAP_INVALID_CONVERSION);
    args[0].of.f32 = 3e9f;
    cr_assert_eq(zenith_wasm_call(f, args, 1, res, 1), ZENITH_WASM_TRAP_INT_OVERFLOW);
    cr_assert_eq(call1(fx.in, "recurse", 1, 0, 1, res), ZENITH_WASM_TRAP_STACK_EXHAUSTED);
    cr_assert_eq(call1(fx.in, "host_trap", 0, 0, 0, NULL), ZENITH_WASM_TRAP_HOST);
    cr_assert_eq(fx.st.fails, 1);
    /* the store is still usable after every trap */
    cr_assert_eq(call1(fx.in, "double", 1, 21, 1, res), 0);
    cr_assert_eq(res[0].of.i32, 42);
    {
        static const int codes[] = { ZENITH_WASM_TRAP_UNREACHABLE,
                                     ZENITH_WASM_TRAP_MEMORY_OOB,
                                     ZENITH_WASM_TRAP_UNDEFINED_ELEMENT,
                                     ZENITH_WASM_TRAP_UNINITIALIZED_ELEMENT,
                                     ZENITH_WASM_TRAP_INDIRECT_TYPE,
                                     ZENITH_WASM_TRAP_DIV_ZERO,
                                     ZENITH_WASM_TRAP_INT_OVERFLOW,
                                     ZENITH_WASM_TRAP_INVALID_CONVERSION,
                                     ZENITH_WASM_TRAP_STACK_EXHAUSTED,
                                     ZENITH_WASM_TRAP_FUEL,
                                     ZENITH_WASM_TRAP_HOST };
        size_t i, j;
        for (i = 0; i < sizeof codes / sizeof codes[0]; i++) {
            cr_assert(ZENITH_WASM_IS_TRAP(codes[i]));
            cr_assert(strncmp(zenith_wasm_errname(codes[i]), "ZENITH_WASM_TRAP_", 17) == 0);
            for (j = 0; j < i; j++) cr_assert_str_neq(zenith_wasm_strerror(codes[i]), zenith_wasm_strerror(codes[j]));
        }
        cr_assert_str_eq(zenith_wasm_errname(-9999), "ZENITH_WASM_E_UNKNOWN");
        cr_assert_not_null(zenith_wasm_strerror(12345));
        cr_assert(!ZENITH_WASM_IS_TRAP(ZENITH_WASM_E_INVALID));
    }
    fx_close(&fx);
}

Test(wasm, fuel_stops_an_infinite_loop, .timeout = 20) {
    fixture fx;
    zenith_wasm_value res[1];
    uint64_t used;
    fx_open(&fx, 100000, 0, 0);
    cr_assert_eq(call1(fx.in, "spin", 0, 0, 0, NULL), ZENITH_WASM_TRAP_FUEL);
    used = zenith_wasm_store_fuel_used(fx.s);
    cr_assert(used >= 100000 && used <= 100010, "used %llu", (unsigned long long)used);
    /* a bounded loop within budget runs; the same loop beyond it traps */
    cr_assert_eq(call1(fx.in, "sum", 1, 1000, 1, res), 0);
    cr_assert_eq(res[0].of.i64, 499500);
    used = zenith_wasm_store_fuel_used(fx.s);
    cr_assert(used > 1000 && used < 100000, "used %llu", (unsigned long long)used);
    cr_assert_eq(call1(fx.in, "sum", 1, 1000000, 1, res), ZENITH_WASM_TRAP_FUEL);
    /* unlimited again */
    cr_assert_eq(zenith_wasm_store_set_fuel(fx.s, 0), 0);
    cr_assert_eq(call1(fx.in, "sum", 1, 1000000, 1, res), 0);
    cr_assert_eq(res[0].of.i64, 499999500000ll);
    cr_assert_eq(zenith_wasm_store_set_fuel(NULL, 1), ZENITH_WASM_E_NULL);
    fx_close(&fx);
}

Test(wasm, memory_cap_bounds_grow_and_instantiation, .timeout = 10) {
    fixture fx;
    zenith_wasm_value res[1];
    zenith_wasm_module *big;
    zenith_wasm_error e;
    fx_open(&fx, 0, 2, 0); /* 2 pages, below the module's own maximum of 4 */
    cr_assert_eq(call1(fx.in, "grow", 1, 1, 1, res), 0);
    cr_assert_eq(res[0].of.i32, 1, "the old size");
    cr_assert_eq(call1(fx.in, "grow", 1, 1, 1, res), 0);
    cr_assert_eq(res[0].of.i32, -1, "beyond the store's cap");
    cr_assert_eq(call1(fx.in, "size", 0, 0, 1, res), 0);
    cr_assert_eq(res[0].of.i32, 2);
    cr_assert_eq(call1(fx.in, "load", 1, 2 * 65536 - 4, 1, res), 0, "the grown page is addressable");
    cr_assert_eq(call1(fx.in, "load", 1, 2 * 65536 - 3, 1, res), ZENITH_WASM_TRAP_MEMORY_OOB);
    cr_assert_eq(zenith_wasm_memory_grow(zenith_wasm_instance_memory(fx.in), 1), ZENITH_WASM_E_RANGE);
    big = load_ok(bigmem_wasm, sizeof bigmem_wasm);
    memset(&e, 0, sizeof e);
    cr_assert_null(zenith_wasm_instantiate(fx.s, big, NULL, 0, &e));
    cr_assert_eq(e.code, ZENITH_WASM_E_RANGE, "%s: %s", zenith_wasm_errname(e.code), e.message);
    fx_close(&fx);
    zenith_wasm_module_destroy(big);
}

Test(wasm, call_depth_cap_traps_deep_recursion, .timeout = 10) {
    fixture fx;
    zenith_wasm_value res[1];
    fx_open(&fx, 0, 0, 50);
    cr_assert_eq(call1(fx.in, "recurse", 1, 0, 1, res), ZENITH_WASM_TRAP_STACK_EXHAUSTED);
    cr_assert_eq(call1(fx.in, "double", 1, 4, 1, res), 0, "usable afterwards");
    cr_assert_eq(res[0].of.i32, 8);
    fx_close(&fx);
}

Test(wasm, start_function_trap_fails_instantiation, .timeout = 10) {
    zenith_wasm_module *m = load_ok(start_wasm, sizeof start_wasm);
    zenith_wasm_store *s = store_with(0, 0, 0);
    zenith_wasm_error e;
    memset(&e, 0, sizeof e);
    cr_assert_null(zenith_wasm_instantiate(s, m, NULL, 0, &e));
    cr_assert_eq(e.code, ZENITH_WASM_TRAP_UNREACHABLE, "%s", zenith_wasm_errname(e.code));
    cr_assert_eq(e.section, 8, "the start section");
    zenith_wasm_store_destroy(s);
    zenith_wasm_module_destroy(m);
}

/* ---- memory, globals, linking -------------------------------------------------------------- */

Test(wasm, memory_accessors_are_bounds_checked, .timeout = 10) {
    fixture fx;
    zenith_wasm_value args[2], res[1];
    zenith_wasm_extern *mem;
    uint8_t buf[8], *data;
    size_t size = 0;
    fx_open(&fx, 0, 0, 0);
    mem = zenith_wasm_instance_memory(fx.in);
    cr_assert_eq(mem, zenith_wasm_instance_export(fx.in, "mem"));
    cr_assert_eq(zenith_wasm_extern_kind(mem), ZENITH_WASM_EXTERN_MEMORY);
    data = zenith_wasm_memory_data(mem, &size);
    cr_assert_not_null(data);
    cr_assert_eq(size, 65536);
    cr_assert_eq(zenith_wasm_memory_pages(mem), 1);
    cr_assert_eq(zenith_wasm_memory_write(mem, 100, "\x78\x56\x34\x12", 4), 0);
    cr_assert_eq(call1(fx.in, "load", 1, 100, 1, res), 0);
    cr_assert_eq(res[0].of.u32, 0x12345678u, "the module sees what the host wrote");
    args[0] = vi32(200), args[1] = vi32(0x0a0b0c0d);
    cr_assert_eq(zenith_wasm_call(zenith_wasm_instance_export(fx.in, "store"), args, 2, res, 0), 0);
    cr_assert_eq(zenith_wasm_memory_read(mem, 200, buf, 4), 0);
    cr_assert(buf[0] == 0x0d && buf[3] == 0x0a, "little-endian");
    cr_assert_eq(data[200], 0x0d);
    cr_assert_eq(zenith_wasm_memory_read(mem, 65533, buf, 4), ZENITH_WASM_E_RANGE);
    cr_assert_eq(zenith_wasm_memory_write(mem, 65536, buf, 1), ZENITH_WASM_E_RANGE);
    cr_assert_eq(zenith_wasm_memory_write(mem, UINT64_MAX, buf, 2), ZENITH_WASM_E_RANGE, "no wrap-around");
    cr_assert_eq(zenith_wasm_memory_read(mem, 65536, buf, 0), 0, "empty at the end is fine");
    cr_assert_eq(zenith_wasm_memory_read(NULL, 0, buf, 1), ZENITH_WASM_E_NULL);
    cr_assert_eq(zenith_wasm_memory_read(zenith_wasm_instance_export(fx.in, "g"), 0, buf, 1), ZENITH_WASM_E_TYPE);
    cr_assert_eq(zenith_wasm_memory_grow(mem, 1), 1);
    data = zenith_wasm_memory_data(mem, &size);
    cr_assert_eq(size, 131072);
    cr_assert_eq(data[200], 0x0d, "contents kept across growth");
    fx_close(&fx);
}

Test(wasm, globals_from_host_and_module, .timeout = 10) {
    fixture fx;
    zenith_wasm_value v, res[1];
    zenith_wasm_extern *g, *k;
    fx_open(&fx, 0, 0, 0);
    g = zenith_wasm_instance_export(fx.in, "g");
    k = zenith_wasm_instance_export(fx.in, "k");
    cr_assert_eq(zenith_wasm_global_get(g, &v), 0);
    cr_assert_eq(v.type, ZENITH_WASM_I32);
    cr_assert_eq(v.of.i32, 7);
    cr_assert_eq(call1(fx.in, "bump", 0, 0, 1, res), 0);
    cr_assert_eq(res[0].of.i32, 8);
    v = vi32(100);
    cr_assert_eq(zenith_wasm_global_set(g, &v), 0);
    cr_assert_eq(call1(fx.in, "bump", 0, 0, 1, res), 0);
    cr_assert_eq(res[0].of.i32, 101);
    cr_assert_eq(zenith_wasm_global_get(k, &v), 0);
    cr_assert_eq(v.of.i64, -5);
    v.type = ZENITH_WASM_I64;
    cr_assert_eq(zenith_wasm_global_set(k, &v), ZENITH_WASM_E_TYPE, "immutable");
    v = vi32(1);
    cr_assert_eq(zenith_wasm_global_set(g, NULL), ZENITH_WASM_E_NULL);
    v.type = ZENITH_WASM_F32;
    cr_assert_eq(zenith_wasm_global_set(g, &v), ZENITH_WASM_E_TYPE, "wrong type");
    fx_close(&fx);
}

Test(wasm, an_instance_imports_another_instances_exports, .timeout = 10) {
    fixture fx;
    zenith_wasm_module *um;
    zenith_wasm_instance *user;
    zenith_wasm_import imp[3];
    zenith_wasm_error e;
    zenith_wasm_value res[1];
    zenith_wasm_store *other;
    fx_open(&fx, 0, 0, 0);
    um = load_ok(user_wasm, sizeof user_wasm);
    imp[0].module = "main", imp[0].name = "double", imp[0].ext = zenith_wasm_instance_export(fx.in, "double");
    imp[1].module = "main", imp[1].name = "mem", imp[1].ext = zenith_wasm_instance_export(fx.in, "mem");
    imp[2].module = "main", imp[2].name = "g", imp[2].ext = zenith_wasm_instance_export(fx.in, "g");
    memset(&e, 0, sizeof e);
    user = zenith_wasm_instantiate(fx.s, um, imp, 3, &e);
    cr_assert_not_null(user, "%s", e.message);
    cr_assert_eq(call1(user, "quad", 1, 5, 1, res), 0);
    cr_assert_eq(res[0].of.i32, 20);
    cr_assert_eq(zenith_wasm_memory_write(zenith_wasm_instance_memory(fx.in), 8, "\x2a\0\0\0", 4), 0);
    cr_assert_eq(call1(user, "peek", 1, 8, 1, res), 0);
    cr_assert_eq(res[0].of.i32, 42, "the memory is shared, not copied");
    cr_assert_eq(call1(fx.in, "bump", 0, 0, 1, NULL), 0);
    cr_assert_eq(call1(user, "getg", 0, 0, 1, res), 0);
    cr_assert_eq(res[0].of.i32, 8, "the global is shared");
    /* an extern of another store is refused */
    other = store_with(0, 0, 0);
    cr_assert_null(zenith_wasm_instantiate(other, um, imp, 3, &e));
    cr_assert_eq(e.code, ZENITH_WASM_E_STATE);
    zenith_wasm_store_destroy(other);
    fx_close(&fx);
    zenith_wasm_module_destroy(um);
}

Test(wasm, store_config_is_checked, .timeout = 10) {
    zenith_wasm_config cfg;
    int err = 0;
    unsigned char big[sizeof cfg + 8];
    memset(&cfg, 0, sizeof cfg);
    cfg.value_stack_bytes = 1024;
    cr_assert_null(zenith_wasm_store_create(&cfg, &err));
    cr_assert_eq(err, ZENITH_WASM_E_INVAL);
    cfg.value_stack_bytes = 0;
    cfg.struct_size = 4;
    cr_assert_null(zenith_wasm_store_create(&cfg, &err));
    cr_assert_eq(err, ZENITH_WASM_E_INVAL);
    memset(big, 0, sizeof big);
    big[0] = (unsigned char)sizeof big; /* a newer caller's layout: zero tail accepted */
    {
        zenith_wasm_store *s = zenith_wasm_store_create((const zenith_wasm_config *)(void *)big, &err);
        cr_assert_not_null(s);
        zenith_wasm_store_destroy(s);
    }
    big[sizeof big - 1] = 1; /* ...a field this library does not know, refused */
    cr_assert_null(zenith_wasm_store_create((const zenith_wasm_config *)(void *)big, &err));
    cr_assert_eq(err, ZENITH_WASM_E_UNSUPPORTED);
}

/* ---- one module, two threads --------------------------------------------------------------- */

typedef struct {
    const zenith_wasm_module *m;
    int ok;
    int64_t last;
} thread_arg;

static void *thread_run(void *p) {
    thread_arg *a = (thread_arg *)p;
    zenith_wasm_config cfg;
    zenith_wasm_store *s;
    zenith_wasm_instance *in;
    host_state st;
    int i;
    memset(&cfg, 0, sizeof cfg);
    memset(&st, 0, sizeof st);
    s = zenith_wasm_store_create(&cfg, NULL);
    if (!s) return NULL;
    in = main_instance(s, a->m, &st);
    a->ok = 1;
    for (i = 0; i < 200 && a->ok; i++) {
        zenith_wasm_value arg = vi32(10000 + i), res;
        if (zenith_wasm_call(zenith_wasm_instance_export(in, "sum"), &arg, 1, &res, 1) != 0) a->ok = 0;
        if (res.of.i64 != (int64_t)(10000 + i) * (10000 + i - 1) / 2) a->ok = 0;
        a->last = res.of.i64;
        arg = vi32(i);
        if (zenith_wasm_call(zenith_wasm_instance_export(in, "store"), (zenith_wasm_value[2]){ vi32(64), arg }, 2, &res,
                             0) != 0)
            a->ok = 0;
    }
    zenith_wasm_store_destroy(s);
    return NULL;
}

Test(wasm, a_module_is_shared_by_two_threads_with_their_own_instances, .timeout = 30) {
    zenith_wasm_module *m = load_ok(main_wasm, sizeof main_wasm);
    pthread_t th[2];
    thread_arg a[2];
    int i;
    for (i = 0; i < 2; i++) {
        memset(&a[i], 0, sizeof a[i]);
        a[i].m = m;
        cr_assert_eq(pthread_create(&th[i], NULL, thread_run, &a[i]), 0);
    }
    for (i = 0; i < 2; i++) cr_assert_eq(pthread_join(th[i], NULL), 0);
    for (i = 0; i < 2; i++) {
        cr_assert(a[i].ok, "thread %d", i);
        cr_assert_eq(a[i].last, (int64_t)10199 * 10198 / 2);
    }
    zenith_wasm_module_destroy(m);
}

/* ---- translation: constants kept in slots, `x + K` folded into loads and stores ------------- */

/* (memory 1) ld(x) = i32.load offset=4 (x + 8); st(x, v) = i32.store offset=4 (x + 8) v;
   hoist(n): a loop over n whose body uses three f64 constants and a select (tools: wat2wasm) */
static const uint8_t fold_wasm[] = {
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, 0x01, 0x10, 0x03, 0x60, 0x01, 0x7f, 0x01, 0x7f, 0x60, 0x02, 0x7f,
    0x7f, 0x00, 0x60, 0x01, 0x7f, 0x01, 0x7c, 0x03, 0x04, 0x03, 0x00, 0x01, 0x02, 0x05, 0x03, 0x01, 0x00, 0x01, 0x07,
    0x1c, 0x04, 0x06, 0x6d, 0x65, 0x6d, 0x6f, 0x72, 0x79, 0x02, 0x00, 0x02, 0x6c, 0x64, 0x00, 0x00, 0x02, 0x73, 0x74,
    0x00, 0x01, 0x05, 0x68, 0x6f, 0x69, 0x73, 0x74, 0x00, 0x02, 0x0a, 0x5e, 0x03, 0x0a, 0x00, 0x20, 0x00, 0x41, 0x08,
    0x6a, 0x28, 0x02, 0x04, 0x0b, 0x0c, 0x00, 0x20, 0x00, 0x41, 0x08, 0x6a, 0x20, 0x01, 0x36, 0x02, 0x04, 0x0b, 0x44,
    0x01, 0x01, 0x7c, 0x02, 0x40, 0x03, 0x40, 0x20, 0x00, 0x45, 0x0d, 0x01, 0x20, 0x01, 0x44, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0xf8, 0x3f, 0xa0, 0x44, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xe0, 0x3f, 0xa2, 0x20, 0x01, 0x44, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0xd0, 0x3f, 0xa0, 0x20, 0x00, 0x41, 0x01, 0x71, 0x1b, 0x21, 0x01, 0x20, 0x00, 0x41,
    0x01, 0x6b, 0x21, 0x00, 0x0c, 0x00, 0x0b, 0x0b, 0x20, 0x01, 0x0b
};

static double hoist_ref(int32_t n) {
    double x = 0;
    for (; n != 0; n--) x = (n & 1) ? (x + 1.5) * 0.5 : x + 0.25;
    return x;
}

Test(wasm, folded_address_wraps_at_32_bits_before_the_offset, .timeout = 10) {
    zenith_wasm_module *m = load_ok(fold_wasm, sizeof fold_wasm);
    zenith_wasm_store *s = store_with(1000000, 4, 100);
    zenith_wasm_error e;
    zenith_wasm_instance *in;
    zenith_wasm_value r, args[2];
    zenith_wasm_extern *mem;
    uint8_t *data;
    size_t size = 0;
    uint32_t got;
    memset(&e, 0, sizeof e);
    in = zenith_wasm_instantiate(s, m, NULL, 0, &e);
    cr_assert_not_null(in, "%s", e.message);
    mem = zenith_wasm_instance_memory(in);
    data = zenith_wasm_memory_data(mem, &size);
    cr_assert_eq(size, 65536u);
    /* x = 0xfffffffc: x + 8 wraps to 4, + offset 4 = 8 (a fold into the offset would trap) */
    args[0] = vi32((int32_t)0xfffffffcu);
    args[1] = vi32(0x12345678);
    cr_assert_eq(zenith_wasm_call(zenith_wasm_instance_export(in, "st"), args, 2, NULL, 0), 0);
    memcpy(&got, data + 8, 4);
    cr_assert_eq(got, 0x12345678u, "the store landed at 8");
    cr_assert_eq(call1(in, "ld", 1, (int32_t)0xfffffffcu, 1, &r), 0);
    cr_assert_eq((uint32_t)r.of.i32, 0x12345678u, "the load read 8");
    memcpy(data + 65532, "\x01\x02\x03\x04", 4);
    cr_assert_eq(call1(in, "ld", 1, 65520, 1, &r), 0, "the last four bytes");
    cr_assert_eq((uint32_t)r.of.i32, 0x04030201u);
    /* no wrap: 0xfffffff0 + 8 + 4 is past the memory; 65524 + 12 = 65536 too */
    cr_assert_eq(call1(in, "ld", 1, (int32_t)0xfffffff0u, 1, &r), ZENITH_WASM_TRAP_MEMORY_OOB);
    cr_assert_eq(call1(in, "ld", 1, 65524, 1, &r), ZENITH_WASM_TRAP_MEMORY_OOB);
    args[0] = vi32(65524);
    cr_assert_eq(zenith_wasm_call(zenith_wasm_instance_export(in, "st"), args, 2, NULL, 0),
                 ZENITH_WASM_TRAP_MEMORY_OOB);
    memcpy(&got, data + 65532, 4);
    cr_assert_eq(got, 0x04030201u, "a trapped store writes nothing");
    zenith_wasm_store_destroy(s);
    zenith_wasm_module_destroy(m);
}

Test(wasm, constants_of_a_loop_keep_their_values_across_calls, .timeout = 10) {
    zenith_wasm_module *m = load_ok(fold_wasm, sizeof fold_wasm);
    zenith_wasm_store *s = store_with(100000000, 4, 100);
    zenith_wasm_error e;
    zenith_wasm_instance *in;
    zenith_wasm_value r;
    int32_t n;
    memset(&e, 0, sizeof e);
    in = zenith_wasm_instantiate(s, m, NULL, 0, &e);
    cr_assert_not_null(in, "%s", e.message);
    for (n = 0; n < 200; n += 7) {
        cr_assert_eq(call1(in, "hoist", 1, n, 1, &r), 0);
        cr_assert_eq(r.type, ZENITH_WASM_F64);
        cr_assert(r.of.f64 == hoist_ref(n), "hoist(%d) = %.17g, expected %.17g", n, r.of.f64, hoist_ref(n));
    }
    zenith_wasm_store_destroy(s);
    zenith_wasm_module_destroy(m);
}

/* compare + select fused (one op): every type, signed/unsigned, NaN (tools: wat2wasm) */
static const uint8_t cmpsel_wasm[] = {
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, 0x01, 0x25, 0x06, 0x60, 0x02, 0x7f, 0x7f, 0x01, 0x7f, 0x60, 0x02,
    0x7e, 0x7e, 0x01, 0x7f, 0x60, 0x02, 0x7d, 0x7d, 0x01, 0x7f, 0x60, 0x02, 0x7c, 0x7c, 0x01, 0x7f, 0x60, 0x02, 0x7c,
    0x7c, 0x01, 0x7c, 0x60, 0x02, 0x7c, 0x7c, 0x01, 0x7e, 0x03, 0x09, 0x08, 0x00, 0x00, 0x01, 0x01, 0x02, 0x03, 0x04,
    0x05, 0x07, 0x51, 0x08, 0x08, 0x69, 0x33, 0x32, 0x5f, 0x6c, 0x74, 0x5f, 0x73, 0x00, 0x00, 0x08, 0x69, 0x33, 0x32,
    0x5f, 0x67, 0x65, 0x5f, 0x75, 0x00, 0x01, 0x08, 0x69, 0x36, 0x34, 0x5f, 0x67, 0x74, 0x5f, 0x73, 0x00, 0x02, 0x08,
    0x69, 0x36, 0x34, 0x5f, 0x6c, 0x65, 0x5f, 0x75, 0x00, 0x03, 0x06, 0x66, 0x33, 0x32, 0x5f, 0x6e, 0x65, 0x00, 0x04,
    0x06, 0x66, 0x36, 0x34, 0x5f, 0x6c, 0x74, 0x00, 0x05, 0x06, 0x66, 0x36, 0x34, 0x5f, 0x67, 0x65, 0x00, 0x06, 0x06,
    0x66, 0x36, 0x34, 0x5f, 0x65, 0x71, 0x00, 0x07, 0x0a, 0x80, 0x01, 0x08, 0x0c, 0x00, 0x41, 0x0b, 0x41, 0x16, 0x20,
    0x00, 0x20, 0x01, 0x48, 0x1b, 0x0b, 0x0c, 0x00, 0x41, 0x0b, 0x41, 0x16, 0x20, 0x00, 0x20, 0x01, 0x4f, 0x1b, 0x0b,
    0x0c, 0x00, 0x41, 0x0b, 0x41, 0x16, 0x20, 0x00, 0x20, 0x01, 0x55, 0x1b, 0x0b, 0x0c, 0x00, 0x41, 0x0b, 0x41, 0x16,
    0x20, 0x00, 0x20, 0x01, 0x58, 0x1b, 0x0b, 0x0c, 0x00, 0x41, 0x0b, 0x41, 0x16, 0x20, 0x00, 0x20, 0x01, 0x5c, 0x1b,
    0x0b, 0x0c, 0x00, 0x41, 0x0b, 0x41, 0x16, 0x20, 0x00, 0x20, 0x01, 0x63, 0x1b, 0x0b, 0x1a, 0x00, 0x44, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0xf8, 0x3f, 0x44, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x04, 0xc0, 0x20, 0x00, 0x20, 0x01,
    0x66, 0x1b, 0x0b, 0x15, 0x00, 0x42, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x00, 0x42, 0x7f, 0x20,
    0x00, 0x20, 0x01, 0x61, 0x1b, 0x0b
};

static int64_t cmpsel_call(zenith_wasm_instance *in, const char *fn, zenith_wasm_value x, zenith_wasm_value y) {
    zenith_wasm_value args[2], r;
    args[0] = x;
    args[1] = y;
    memset(&r, 0, sizeof r);
    cr_assert_eq(zenith_wasm_call(zenith_wasm_instance_export(in, fn), args, 2, &r, 1), 0, "%s", fn);
    if (r.type == ZENITH_WASM_F64) return (int64_t)(r.of.f64 * 10);
    return r.type == ZENITH_WASM_I64 ? r.of.i64 : r.of.i32;
}

static zenith_wasm_value vtyped(uint32_t type, double v, int64_t i) {
    zenith_wasm_value x;
    memset(&x, 0, sizeof x);
    x.type = type;
    if (type == ZENITH_WASM_I32) x.of.i32 = (int32_t)i;
    if (type == ZENITH_WASM_I64) x.of.i64 = i;
    if (type == ZENITH_WASM_F32) x.of.f32 = (float)v;
    if (type == ZENITH_WASM_F64) x.of.f64 = v;
    return x;
}

Test(wasm, compare_feeding_select_keeps_every_types_semantics, .timeout = 10) {
    zenith_wasm_module *m = load_ok(cmpsel_wasm, sizeof cmpsel_wasm);
    zenith_wasm_store *s = store_with(1000000, 1, 100);
    zenith_wasm_error e;
    zenith_wasm_instance *in;
    const double nan = 0.0 / 0.0;
    memset(&e, 0, sizeof e);
    in = zenith_wasm_instantiate(s, m, NULL, 0, &e);
    cr_assert_not_null(in, "%s", e.message);
    cr_assert_eq(cmpsel_call(in, "i32_lt_s", vtyped(ZENITH_WASM_I32, 0, -1), vtyped(ZENITH_WASM_I32, 0, 1)), 11);
    cr_assert_eq(cmpsel_call(in, "i32_lt_s", vtyped(ZENITH_WASM_I32, 0, 1), vtyped(ZENITH_WASM_I32, 0, -1)), 22);
    cr_assert_eq(cmpsel_call(in, "i32_ge_u", vtyped(ZENITH_WASM_I32, 0, -1), vtyped(ZENITH_WASM_I32, 0, 1)), 11,
                 "0xffffffff >= 1 unsigned");
    cr_assert_eq(cmpsel_call(in, "i32_ge_u", vtyped(ZENITH_WASM_I32, 0, 1), vtyped(ZENITH_WASM_I32, 0, 2)), 22);
    cr_assert_eq(cmpsel_call(in, "i64_gt_s", vtyped(ZENITH_WASM_I64, 0, INT64_MIN), vtyped(ZENITH_WASM_I64, 0, 0)), 22);
    cr_assert_eq(cmpsel_call(in, "i64_gt_s", vtyped(ZENITH_WASM_I64, 0, 5), vtyped(ZENITH_WASM_I64, 0, 4)), 11);
    cr_assert_eq(cmpsel_call(in, "i64_le_u", vtyped(ZENITH_WASM_I64, 0, -1), vtyped(ZENITH_WASM_I64, 0, 0)), 22,
                 "2^64-1 <= 0 unsigned is false");
    cr_assert_eq(cmpsel_call(in, "i64_le_u", vtyped(ZENITH_WASM_I64, 0, 7), vtyped(ZENITH_WASM_I64, 0, 7)), 11);
    cr_assert_eq(cmpsel_call(in, "f32_ne", vtyped(ZENITH_WASM_F32, nan, 0), vtyped(ZENITH_WASM_F32, nan, 0)), 11,
                 "NaN != NaN");
    cr_assert_eq(cmpsel_call(in, "f32_ne", vtyped(ZENITH_WASM_F32, 2, 0), vtyped(ZENITH_WASM_F32, 2, 0)), 22);
    cr_assert_eq(cmpsel_call(in, "f64_lt", vtyped(ZENITH_WASM_F64, -0.0, 0), vtyped(ZENITH_WASM_F64, 0.0, 0)), 22,
                 "-0 < 0 is false");
    cr_assert_eq(cmpsel_call(in, "f64_lt", vtyped(ZENITH_WASM_F64, 1, 0), vtyped(ZENITH_WASM_F64, 2, 0)), 11);
    cr_assert_eq(cmpsel_call(in, "f64_ge", vtyped(ZENITH_WASM_F64, nan, 0), vtyped(ZENITH_WASM_F64, 1, 0)), -25,
                 "NaN >= 1 is false");
    cr_assert_eq(cmpsel_call(in, "f64_ge", vtyped(ZENITH_WASM_F64, 3, 0), vtyped(ZENITH_WASM_F64, 3, 0)), 15);
    cr_assert_eq(cmpsel_call(in, "f64_eq", vtyped(ZENITH_WASM_F64, 0.0, 0), vtyped(ZENITH_WASM_F64, -0.0, 0)),
                 INT64_MAX, "0 == -0, a 64-bit value selected whole");
    cr_assert_eq(cmpsel_call(in, "f64_eq", vtyped(ZENITH_WASM_F64, nan, 0), vtyped(ZENITH_WASM_F64, 1, 0)), -1);
    zenith_wasm_store_destroy(s);
    zenith_wasm_module_destroy(m);
}
