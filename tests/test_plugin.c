/* Plugins on the data-plane engine (zenith_load_plugin, docs/PLUGINS.md): the two example plugins
   (plugins/price_filter.c, plugins/vwap.c, built by plugins/build.sh into ZENITH_BUILD_DIR
   "/plugins/") against the same computation in C over random batches with nulls and offsets;
   load failures (-3 with a reason, the engine unchanged); the failure rule (traps, fuel, bad
   verdicts: passed or dropped, counted, disabled after max_failures in a row) with a small
   hand-written module embedded below; unload, stats, results, selections, chains.
   Build: the implementation with ZENITH_PLUGINS (defined here), link -lm. */
#define ZENITH_PLUGINS
#define ZENITH_IMPLEMENTATION
#include "zenith.h"

#include "criterion_compat.h" /* Criterion (or its TSan stand-in) */
#include "arrow_helpers.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef ZENITH_BUILD_DIR
#define ZENITH_BUILD_DIR "build"
#endif

/* ---- helpers ------------------------------------------------------------------------------------- */

/* A built example plugin (plugins/build.sh ZENITH_BUILD_DIR/plugins). */
static uint8_t *plugin_file(const char *name, size_t *len) {
    char path[256];
    FILE *f;
    uint8_t *buf = (uint8_t *)malloc(1u << 20);
    snprintf(path, sizeof path, "%s/plugins/%s", ZENITH_BUILD_DIR, name);
    f = fopen(path, "rb");
    cr_assert_not_null(f, "%s is missing: build it with plugins/build.sh %s/plugins (Debian: clang, lld)", path,
                       ZENITH_BUILD_DIR);
    cr_assert_not_null(buf);
    *len = fread(buf, 1, 1u << 20, f);
    fclose(f);
    cr_assert_gt(*len, 8u, "%s is empty", path);
    return buf;
}

/* A module (written in WebAssembly text, assembled with wat2wasm, bytes below) whose
   zenith_plugin_batch does what its params' first int32 says: 0 pass, 1 trap (unreachable),
   2 loop forever (fuel), 3 return 7 (an undefined verdict), 4 trap when seq_no is odd (else
   pass), 5 drop. Memory 16 pages; zenith_plugin_alloc bumps from 1024, 0 beyond 1 MiB.

     (module
       (memory (export "memory") 16)
       (global $brk (mut i32) (i32.const 1024))
       (global $mode (mut i32) (i32.const 0))
       (func (export "zenith_plugin_abi") (result i32) (i32.const 1))
       (func (export "zenith_plugin_alloc") (param $n i32) (result i32) (local $p i32)
         (local.set $p (global.get $brk))
         (if (i32.gt_u (i32.add (local.get $p) (local.get $n)) (i32.const 1048576))
           (then (return (i32.const 0))))
         (global.set $brk (i32.and (i32.add (i32.add (local.get $p) (local.get $n)) (i32.const 15))
                                   (i32.const -16)))
         (local.get $p))
       (func (export "zenith_plugin_init") (param $init i32) (result i32)
         (if (i32.ge_u (i32.load offset=20 (local.get $init)) (i32.const 4))
           (then (global.set $mode (i32.load (i32.load offset=16 (local.get $init))))))
         (i32.const 0))
       (func (export "zenith_plugin_batch") (param $b i32) (result i32)
         (block $b5 (block $b4 (block $b3 (block $b2 (block $b1 (block $b0
           (br_table $b0 $b1 $b2 $b3 $b4 $b5 (global.get $mode)))
           (return (i32.const 0)))
           unreachable)
           (loop $forever (br $forever)) (return (i32.const 0)))
           (return (i32.const 7)))
           (if (i32.and (i32.wrap_i64 (i64.load offset=24 (local.get $b))) (i32.const 1))
             (then unreachable))
           (return (i32.const 0)))
         (i32.const 1))) */
static const uint8_t modes_wasm[] = {
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, 0x01, 0x0a, 0x02, 0x60, 0x00, 0x01, 0x7f, 0x60, 0x01, 0x7f, 0x01,
    0x7f, 0x03, 0x05, 0x04, 0x00, 0x01, 0x01, 0x01, 0x05, 0x03, 0x01, 0x00, 0x10, 0x06, 0x0c, 0x02, 0x7f, 0x01, 0x41,
    0x80, 0x08, 0x0b, 0x7f, 0x01, 0x41, 0x00, 0x0b, 0x07, 0x5f, 0x05, 0x06, 0x6d, 0x65, 0x6d, 0x6f, 0x72, 0x79, 0x02,
    0x00, 0x11, 0x7a, 0x65, 0x6e, 0x69, 0x74, 0x68, 0x5f, 0x70, 0x6c, 0x75, 0x67, 0x69, 0x6e, 0x5f, 0x61, 0x62, 0x69,
    0x00, 0x00, 0x13, 0x7a, 0x65, 0x6e, 0x69, 0x74, 0x68, 0x5f, 0x70, 0x6c, 0x75, 0x67, 0x69, 0x6e, 0x5f, 0x61, 0x6c,
    0x6c, 0x6f, 0x63, 0x00, 0x01, 0x12, 0x7a, 0x65, 0x6e, 0x69, 0x74, 0x68, 0x5f, 0x70, 0x6c, 0x75, 0x67, 0x69, 0x6e,
    0x5f, 0x69, 0x6e, 0x69, 0x74, 0x00, 0x02, 0x13, 0x7a, 0x65, 0x6e, 0x69, 0x74, 0x68, 0x5f, 0x70, 0x6c, 0x75, 0x67,
    0x69, 0x6e, 0x5f, 0x62, 0x61, 0x74, 0x63, 0x68, 0x00, 0x03, 0x0a, 0x89, 0x01, 0x04, 0x04, 0x00, 0x41, 0x01, 0x0b,
    0x28, 0x01, 0x01, 0x7f, 0x23, 0x00, 0x21, 0x01, 0x20, 0x01, 0x20, 0x00, 0x6a, 0x41, 0x80, 0x80, 0xc0, 0x00, 0x4b,
    0x04, 0x40, 0x41, 0x00, 0x0f, 0x0b, 0x20, 0x01, 0x20, 0x00, 0x6a, 0x41, 0x0f, 0x6a, 0x41, 0x70, 0x71, 0x24, 0x00,
    0x20, 0x01, 0x0b, 0x19, 0x00, 0x20, 0x00, 0x28, 0x02, 0x14, 0x41, 0x04, 0x4f, 0x04, 0x40, 0x20, 0x00, 0x28, 0x02,
    0x10, 0x28, 0x02, 0x00, 0x24, 0x01, 0x0b, 0x41, 0x00, 0x0b, 0x3f, 0x00, 0x02, 0x40, 0x02, 0x40, 0x02, 0x40, 0x02,
    0x40, 0x02, 0x40, 0x02, 0x40, 0x23, 0x01, 0x0e, 0x05, 0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x0b, 0x41, 0x00, 0x0f,
    0x0b, 0x00, 0x0b, 0x03, 0x40, 0x0c, 0x00, 0x0b, 0x41, 0x00, 0x0f, 0x0b, 0x41, 0x07, 0x0f, 0x0b, 0x20, 0x00, 0x29,
    0x03, 0x18, 0xa7, 0x41, 0x01, 0x71, 0x04, 0x40, 0x00, 0x0b, 0x41, 0x00, 0x0f, 0x0b, 0x41, 0x01, 0x0b
};

/* The same ABI exports plus an import (env.log): refused, ABI 1 provides only module "zenith". */
static const uint8_t import_wasm[] = {
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, 0x01, 0x0e, 0x03, 0x60, 0x01, 0x7f, 0x00, 0x60, 0x00, 0x01,
    0x7f, 0x60, 0x01, 0x7f, 0x01, 0x7f, 0x02, 0x0b, 0x01, 0x03, 0x65, 0x6e, 0x76, 0x03, 0x6c, 0x6f, 0x67, 0x00,
    0x00, 0x03, 0x04, 0x03, 0x01, 0x02, 0x02, 0x05, 0x03, 0x01, 0x00, 0x01, 0x07, 0x4a, 0x04, 0x06, 0x6d, 0x65,
    0x6d, 0x6f, 0x72, 0x79, 0x02, 0x00, 0x11, 0x7a, 0x65, 0x6e, 0x69, 0x74, 0x68, 0x5f, 0x70, 0x6c, 0x75, 0x67,
    0x69, 0x6e, 0x5f, 0x61, 0x62, 0x69, 0x00, 0x01, 0x13, 0x7a, 0x65, 0x6e, 0x69, 0x74, 0x68, 0x5f, 0x70, 0x6c,
    0x75, 0x67, 0x69, 0x6e, 0x5f, 0x61, 0x6c, 0x6c, 0x6f, 0x63, 0x00, 0x02, 0x13, 0x7a, 0x65, 0x6e, 0x69, 0x74,
    0x68, 0x5f, 0x70, 0x6c, 0x75, 0x67, 0x69, 0x6e, 0x5f, 0x62, 0x61, 0x74, 0x63, 0x68, 0x00, 0x03, 0x0a, 0x11,
    0x03, 0x04, 0x00, 0x41, 0x01, 0x0b, 0x05, 0x00, 0x41, 0x80, 0x08, 0x0b, 0x04, 0x00, 0x41, 0x00, 0x0b
};

/* The host kernels (module "zenith", docs/PLUGINS.md): a plugin whose zenith_plugin_batch does
   what its params' first int32 says: 0 selects price in [95, 105] with zenith.select_range_f64
   (column 0, "price"), 1 calls it on a range outside its memory, 2 asks zenith.sum_f64 for 2^31
   rows (fuel), 3 calls zenith.dot_f64 with its second column outside its memory. wat2wasm of:

     (module
       (import "zenith" "select_range_f64" (func $sel (param i32 i32 i32 f64 f64 i32) (result i32)))
       (import "zenith" "sum_f64" (func $sum (param i32 i32 i32) (result f64)))
       (import "zenith" "dot_f64" (func $dot (param i32 i32 i32 i32 i32) (result f64)))
       (memory (export "memory") 16)
       (data (i32.const 512) "price\00")
       (global $brk (mut i32) (i32.const 1024))
       (global $mode (mut i32) (i32.const 0))
       (func (export "zenith_plugin_abi") (result i32) (i32.const 1))
       (func (export "zenith_plugin_alloc") (param $n i32) (result i32) (local $p i32)
         (local.set $p (global.get $brk))
         (if (i32.gt_u (i32.add (local.get $p) (local.get $n)) (i32.const 1048576))
           (then (return (i32.const 0))))
         (global.set $brk (i32.and (i32.add (i32.add (local.get $p) (local.get $n)) (i32.const 15)) (i32.const -16)))
         (local.get $p))
       (func (export "zenith_plugin_init") (param $init i32) (result i32)
         (if (i32.ge_u (i32.load offset=20 (local.get $init)) (i32.const 4))
           (then (global.set $mode (i32.load (i32.load offset=16 (local.get $init))))))
         (i32.store offset=24 (local.get $init) (i32.const 1))
         (i32.store offset=48 (local.get $init) (i32.const 512))
         (i32.const 0))
       (func (export "zenith_plugin_batch") (param $b i32) (result i32) (local $c i32)
         (local.set $c (i32.load offset=32 (local.get $b)))
         (block $b3 (block $b2 (block $b1 (block $b0
           (br_table $b0 $b1 $b2 $b3 (global.get $mode)))
           (drop (call $sel (i32.load offset=8 (local.get $c)) (i32.load offset=12 (local.get $c))
                            (i32.load offset=4 (local.get $b)) (f64.const 95) (f64.const 105)
                            (i32.load offset=12 (local.get $b))))
           (return (i32.const 2)))
           (drop (call $sel (i32.const -256) (i32.const 0) (i32.load offset=4 (local.get $b)) (f64.const 0)
                            (f64.const 1) (i32.load offset=12 (local.get $b))))
           (return (i32.const 2)))
           (drop (call $sum (i32.const 0) (i32.const 0) (i32.const 0x7fffffff)))
           (return (i32.const 0)))
         (drop (call $dot (i32.load offset=8 (local.get $c)) (i32.const 0) (i32.const 0xfffff000) (i32.const 0)
                          (i32.load offset=4 (local.get $b))))
         (i32.const 0)))
*/
static const uint8_t kernels_wasm[] = {
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, 0x01, 0x24, 0x05, 0x60, 0x06, 0x7f, 0x7f, 0x7f, 0x7c, 0x7c, 0x7f,
    0x01, 0x7f, 0x60, 0x03, 0x7f, 0x7f, 0x7f, 0x01, 0x7c, 0x60, 0x05, 0x7f, 0x7f, 0x7f, 0x7f, 0x7f, 0x01, 0x7c, 0x60,
    0x00, 0x01, 0x7f, 0x60, 0x01, 0x7f, 0x01, 0x7f, 0x02, 0x3d, 0x03, 0x06, 0x7a, 0x65, 0x6e, 0x69, 0x74, 0x68, 0x10,
    0x73, 0x65, 0x6c, 0x65, 0x63, 0x74, 0x5f, 0x72, 0x61, 0x6e, 0x67, 0x65, 0x5f, 0x66, 0x36, 0x34, 0x00, 0x00, 0x06,
    0x7a, 0x65, 0x6e, 0x69, 0x74, 0x68, 0x07, 0x73, 0x75, 0x6d, 0x5f, 0x66, 0x36, 0x34, 0x00, 0x01, 0x06, 0x7a, 0x65,
    0x6e, 0x69, 0x74, 0x68, 0x07, 0x64, 0x6f, 0x74, 0x5f, 0x66, 0x36, 0x34, 0x00, 0x02, 0x03, 0x05, 0x04, 0x03, 0x04,
    0x04, 0x04, 0x05, 0x03, 0x01, 0x00, 0x10, 0x06, 0x0c, 0x02, 0x7f, 0x01, 0x41, 0x80, 0x08, 0x0b, 0x7f, 0x01, 0x41,
    0x00, 0x0b, 0x07, 0x5f, 0x05, 0x06, 0x6d, 0x65, 0x6d, 0x6f, 0x72, 0x79, 0x02, 0x00, 0x11, 0x7a, 0x65, 0x6e, 0x69,
    0x74, 0x68, 0x5f, 0x70, 0x6c, 0x75, 0x67, 0x69, 0x6e, 0x5f, 0x61, 0x62, 0x69, 0x00, 0x03, 0x13, 0x7a, 0x65, 0x6e,
    0x69, 0x74, 0x68, 0x5f, 0x70, 0x6c, 0x75, 0x67, 0x69, 0x6e, 0x5f, 0x61, 0x6c, 0x6c, 0x6f, 0x63, 0x00, 0x04, 0x12,
    0x7a, 0x65, 0x6e, 0x69, 0x74, 0x68, 0x5f, 0x70, 0x6c, 0x75, 0x67, 0x69, 0x6e, 0x5f, 0x69, 0x6e, 0x69, 0x74, 0x00,
    0x05, 0x13, 0x7a, 0x65, 0x6e, 0x69, 0x74, 0x68, 0x5f, 0x70, 0x6c, 0x75, 0x67, 0x69, 0x6e, 0x5f, 0x62, 0x61, 0x74,
    0x63, 0x68, 0x00, 0x06, 0x0a, 0xf2, 0x01, 0x04, 0x04, 0x00, 0x41, 0x01, 0x0b, 0x28, 0x01, 0x01, 0x7f, 0x23, 0x00,
    0x21, 0x01, 0x20, 0x01, 0x20, 0x00, 0x6a, 0x41, 0x80, 0x80, 0xc0, 0x00, 0x4b, 0x04, 0x40, 0x41, 0x00, 0x0f, 0x0b,
    0x20, 0x01, 0x20, 0x00, 0x6a, 0x41, 0x0f, 0x6a, 0x41, 0x70, 0x71, 0x24, 0x00, 0x20, 0x01, 0x0b, 0x28, 0x00, 0x20,
    0x00, 0x28, 0x02, 0x14, 0x41, 0x04, 0x4f, 0x04, 0x40, 0x20, 0x00, 0x28, 0x02, 0x10, 0x28, 0x02, 0x00, 0x24, 0x01,
    0x0b, 0x20, 0x00, 0x41, 0x01, 0x36, 0x02, 0x18, 0x20, 0x00, 0x41, 0x80, 0x04, 0x36, 0x02, 0x30, 0x41, 0x00, 0x0b,
    0x98, 0x01, 0x01, 0x01, 0x7f, 0x20, 0x00, 0x28, 0x02, 0x20, 0x21, 0x01, 0x02, 0x40, 0x02, 0x40, 0x02, 0x40, 0x02,
    0x40, 0x23, 0x01, 0x0e, 0x03, 0x00, 0x01, 0x02, 0x03, 0x0b, 0x20, 0x01, 0x28, 0x02, 0x08, 0x20, 0x01, 0x28, 0x02,
    0x0c, 0x20, 0x00, 0x28, 0x02, 0x04, 0x44, 0x00, 0x00, 0x00, 0x00, 0x00, 0xc0, 0x57, 0x40, 0x44, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x40, 0x5a, 0x40, 0x20, 0x00, 0x28, 0x02, 0x0c, 0x10, 0x00, 0x1a, 0x41, 0x02, 0x0f, 0x0b, 0x41, 0x80,
    0x7e, 0x41, 0x00, 0x20, 0x00, 0x28, 0x02, 0x04, 0x44, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x44, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0xf0, 0x3f, 0x20, 0x00, 0x28, 0x02, 0x0c, 0x10, 0x00, 0x1a, 0x41, 0x02, 0x0f, 0x0b,
    0x41, 0x00, 0x41, 0x00, 0x41, 0xff, 0xff, 0xff, 0xff, 0x07, 0x10, 0x01, 0x1a, 0x41, 0x00, 0x0f, 0x0b, 0x20, 0x01,
    0x28, 0x02, 0x08, 0x41, 0x00, 0x41, 0x80, 0x60, 0x41, 0x00, 0x20, 0x00, 0x28, 0x02, 0x04, 0x10, 0x02, 0x1a, 0x41,
    0x00, 0x0b, 0x0b, 0x0d, 0x01, 0x00, 0x41, 0x80, 0x04, 0x0b, 0x06, 0x70, 0x72, 0x69, 0x63, 0x65, 0x00
};

/* The same with zenith.sum_f64 imported as (i32 i32) -> f64: refused at load. */
static const uint8_t kernbad_wasm[] = {
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, 0x01, 0x23, 0x05, 0x60, 0x06, 0x7f, 0x7f, 0x7f, 0x7c, 0x7c, 0x7f,
    0x01, 0x7f, 0x60, 0x02, 0x7f, 0x7f, 0x01, 0x7c, 0x60, 0x05, 0x7f, 0x7f, 0x7f, 0x7f, 0x7f, 0x01, 0x7c, 0x60, 0x00,
    0x01, 0x7f, 0x60, 0x01, 0x7f, 0x01, 0x7f, 0x02, 0x3d, 0x03, 0x06, 0x7a, 0x65, 0x6e, 0x69, 0x74, 0x68, 0x10, 0x73,
    0x65, 0x6c, 0x65, 0x63, 0x74, 0x5f, 0x72, 0x61, 0x6e, 0x67, 0x65, 0x5f, 0x66, 0x36, 0x34, 0x00, 0x00, 0x06, 0x7a,
    0x65, 0x6e, 0x69, 0x74, 0x68, 0x07, 0x73, 0x75, 0x6d, 0x5f, 0x66, 0x36, 0x34, 0x00, 0x01, 0x06, 0x7a, 0x65, 0x6e,
    0x69, 0x74, 0x68, 0x07, 0x64, 0x6f, 0x74, 0x5f, 0x66, 0x36, 0x34, 0x00, 0x02, 0x03, 0x05, 0x04, 0x03, 0x04, 0x04,
    0x04, 0x05, 0x03, 0x01, 0x00, 0x10, 0x06, 0x0c, 0x02, 0x7f, 0x01, 0x41, 0x80, 0x08, 0x0b, 0x7f, 0x01, 0x41, 0x00,
    0x0b, 0x07, 0x5f, 0x05, 0x06, 0x6d, 0x65, 0x6d, 0x6f, 0x72, 0x79, 0x02, 0x00, 0x11, 0x7a, 0x65, 0x6e, 0x69, 0x74,
    0x68, 0x5f, 0x70, 0x6c, 0x75, 0x67, 0x69, 0x6e, 0x5f, 0x61, 0x62, 0x69, 0x00, 0x03, 0x13, 0x7a, 0x65, 0x6e, 0x69,
    0x74, 0x68, 0x5f, 0x70, 0x6c, 0x75, 0x67, 0x69, 0x6e, 0x5f, 0x61, 0x6c, 0x6c, 0x6f, 0x63, 0x00, 0x04, 0x12, 0x7a,
    0x65, 0x6e, 0x69, 0x74, 0x68, 0x5f, 0x70, 0x6c, 0x75, 0x67, 0x69, 0x6e, 0x5f, 0x69, 0x6e, 0x69, 0x74, 0x00, 0x05,
    0x13, 0x7a, 0x65, 0x6e, 0x69, 0x74, 0x68, 0x5f, 0x70, 0x6c, 0x75, 0x67, 0x69, 0x6e, 0x5f, 0x62, 0x61, 0x74, 0x63,
    0x68, 0x00, 0x06, 0x0a, 0xf0, 0x01, 0x04, 0x04, 0x00, 0x41, 0x01, 0x0b, 0x28, 0x01, 0x01, 0x7f, 0x23, 0x00, 0x21,
    0x01, 0x20, 0x01, 0x20, 0x00, 0x6a, 0x41, 0x80, 0x80, 0xc0, 0x00, 0x4b, 0x04, 0x40, 0x41, 0x00, 0x0f, 0x0b, 0x20,
    0x01, 0x20, 0x00, 0x6a, 0x41, 0x0f, 0x6a, 0x41, 0x70, 0x71, 0x24, 0x00, 0x20, 0x01, 0x0b, 0x28, 0x00, 0x20, 0x00,
    0x28, 0x02, 0x14, 0x41, 0x04, 0x4f, 0x04, 0x40, 0x20, 0x00, 0x28, 0x02, 0x10, 0x28, 0x02, 0x00, 0x24, 0x01, 0x0b,
    0x20, 0x00, 0x41, 0x01, 0x36, 0x02, 0x18, 0x20, 0x00, 0x41, 0x80, 0x04, 0x36, 0x02, 0x30, 0x41, 0x00, 0x0b, 0x96,
    0x01, 0x01, 0x01, 0x7f, 0x20, 0x00, 0x28, 0x02, 0x20, 0x21, 0x01, 0x02, 0x40, 0x02, 0x40, 0x02, 0x40, 0x02, 0x40,
    0x23, 0x01, 0x0e, 0x03, 0x00, 0x01, 0x02, 0x03, 0x0b, 0x20, 0x01, 0x28, 0x02, 0x08, 0x20, 0x01, 0x28, 0x02, 0x0c,
    0x20, 0x00, 0x28, 0x02, 0x04, 0x44, 0x00, 0x00, 0x00, 0x00, 0x00, 0xc0, 0x57, 0x40, 0x44, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x40, 0x5a, 0x40, 0x20, 0x00, 0x28, 0x02, 0x0c, 0x10, 0x00, 0x1a, 0x41, 0x02, 0x0f, 0x0b, 0x41, 0x80, 0x7e,
    0x41, 0x00, 0x20, 0x00, 0x28, 0x02, 0x04, 0x44, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x44, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0xf0, 0x3f, 0x20, 0x00, 0x28, 0x02, 0x0c, 0x10, 0x00, 0x1a, 0x41, 0x02, 0x0f, 0x0b, 0x41,
    0x00, 0x41, 0xff, 0xff, 0xff, 0xff, 0x07, 0x10, 0x01, 0x1a, 0x41, 0x00, 0x0f, 0x0b, 0x20, 0x01, 0x28, 0x02, 0x08,
    0x41, 0x00, 0x41, 0x80, 0x60, 0x41, 0x00, 0x20, 0x00, 0x28, 0x02, 0x04, 0x10, 0x02, 0x1a, 0x41, 0x00, 0x0b, 0x0b,
    0x0d, 0x01, 0x00, 0x41, 0x80, 0x04, 0x0b, 0x06, 0x70, 0x72, 0x69, 0x63, 0x65, 0x00
};

enum { KMODE_SELECT, KMODE_OOB, KMODE_FUEL, KMODE_DOT_OOB };

static int load_kernels(ZenithEngine e, int32_t mode) {
    zenith_plugin_config cfg;
    char why[ZENITH_PLUGIN_REASON_MAX];
    int id;
    memset(&cfg, 0, sizeof cfg);
    cfg.instances = 1;
    cfg.max_failures = 100;
    cfg.params = &mode;
    cfg.params_len = sizeof mode;
    id = zenith_load_plugin_ex(e, kernels_wasm, sizeof kernels_wasm, &cfg, why, sizeof why);
    cr_assert_geq(id, 0, "load of the kernels module: %d %s: %s", id, zenith_errname(id), why);
    return id;
}

enum { MODE_PASS, MODE_TRAP, MODE_LOOP, MODE_BAD_VERDICT, MODE_TRAP_ODD, MODE_DROP };

static int load_modes(ZenithEngine e, int32_t mode, uint32_t flags, uint32_t max_failures, uint64_t fuel) {
    zenith_plugin_config cfg;
    char why[ZENITH_PLUGIN_REASON_MAX];
    int id;
    memset(&cfg, 0, sizeof cfg);
    cfg.instances = 1;
    cfg.flags = flags;
    cfg.max_failures = max_failures;
    cfg.fuel = fuel;
    cfg.params = &mode;
    cfg.params_len = sizeof mode;
    id = zenith_load_plugin_ex(e, modes_wasm, sizeof modes_wasm, &cfg, why, sizeof why);
    cr_assert_geq(id, 0, "load of the modes module: %d %s: %s", id, zenith_errname(id), why);
    return id;
}

static ZenithEngine mkengine(uint32_t capacity) {
    ZenithEngine e = zenith_init(capacity);
    cr_assert_not_null(e, "zenith_init(%u)", capacity);
    return e;
}

static zenith_plugin_stats pstats(ZenithEngine e, int id) {
    zenith_plugin_stats st;
    memset(&st, 0xa5, sizeof st);
    st.struct_size = sizeof st;
    cr_assert_eq(zenith_plugin_get_stats(e, id, &st), 0, "stats of plugin %d", id);
    cr_assert_eq(st.struct_size, sizeof st);
    cr_assert_eq(st.failures, st.traps + st.errors);
    return st;
}

static uint64_t rng_state = 0x9E3779B97F4A7C15ull;
static uint64_t rnd(void) { /* xorshift64*: the same data on every run */
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 0x2545F4914F6CDD1Dull;
}

static int bit(const uint8_t *b, int64_t i) { return (b[i >> 3] >> (i & 7)) & 1; }
static void setbit(uint8_t *b, int64_t i, int v) {
    if (v)
        b[i >> 3] = (uint8_t)(b[i >> 3] | (1u << (i & 7)));
    else
        b[i >> 3] = (uint8_t)(b[i >> 3] & ~(1u << (i & 7)));
}

/* A record batch struct<price: double, quantity: int64> of n rows (struct offset soff, children
   offset coff), nulls in each column with probability 1/null_every (0: no validity buffer), and
   struct-level nulls with probability 1/struct_null_every (0: none). The values stay readable
   through the returned pointers until the batch is released. */
typedef struct batch_src {
    int64_t n, soff, coff;
    const double *price;
    const int64_t *qty;
    const uint8_t *pvalid, *qvalid, *svalid; /* NULL: no nulls */
} batch_src;

static void mk_batch(ta_counts *c, int64_t n, int64_t soff, int64_t coff, int null_every, int struct_null_every,
                     struct ArrowArray *a, struct ArrowSchema *s, batch_src *src) {
    int64_t m = coff + soff + n, i, pn = 0, qn = 0, sn = 0;
    size_t vb = (size_t)(m + 8) / 8 + 8;
    double *price = (double *)malloc((size_t)(m + 1) * 8);
    int64_t *qty = (int64_t *)malloc((size_t)(m + 1) * 8);
    uint8_t *pv = (uint8_t *)calloc(vb, 1), *qv = (uint8_t *)calloc(vb, 1), *sv = (uint8_t *)calloc(vb, 1);
    struct ArrowArray pa, qa;
    struct ArrowSchema ps, qs;
    cr_assert(price && qty && pv && qv && sv);
    for (i = 0; i < m; i++) {
        price[i] = 90.0 + (double)(rnd() % 2001) / 100.0; /* 90.00 .. 110.00 */
        qty[i] = (int64_t)(rnd() % 1000) + 1;
        setbit(pv, i, !(null_every && rnd() % (uint64_t)null_every == 0));
        setbit(qv, i, !(null_every && rnd() % (uint64_t)null_every == 0));
        if (i >= coff) { /* counted over each child's [offset, offset + length) */
            pn += !bit(pv, i);
            qn += !bit(qv, i);
        }
    }
    for (i = 0; i < soff + n; i++) {
        setbit(sv, i, !(struct_null_every && rnd() % (uint64_t)struct_null_every == 0));
        if (i >= soff) sn += !bit(sv, i);
    }
    pa = ta_array(c, soff + n, null_every ? pn : 0, coff, 2, null_every ? pv : NULL, vb, price, (size_t)m * 8, NULL, 0);
    qa = ta_array(c, soff + n, null_every ? qn : 0, coff, 2, null_every ? qv : NULL, vb, qty, (size_t)m * 8, NULL, 0);
    ps = ta_schema(c, "g");
    qs = ta_schema(c, "l");
    ps.name = "price";
    qs.name = "quantity";
    *a = ta_array(c, n, struct_null_every ? sn : 0, soff, 1, struct_null_every ? sv : NULL, vb, NULL, 0, NULL, 0);
    *s = ta_schema(c, "+s");
    ta_add_child(a, s, pa, ps);
    ta_add_child(a, s, qa, qs);
    /* what the batch holds now (ta_array copied the buffers) */
    src->n = n;
    src->soff = soff;
    src->coff = coff;
    src->price = (const double *)a->children[0]->buffers[1];
    src->qty = (const int64_t *)a->children[1]->buffers[1];
    src->pvalid = (const uint8_t *)a->children[0]->buffers[0];
    src->qvalid = (const uint8_t *)a->children[1]->buffers[0];
    src->svalid = (const uint8_t *)a->buffers[0];
    free(price);
    free(qty);
    free(pv);
    free(qv);
    free(sv);
}

/* Row i of the batch: its price and quantity, and whether each is valid (struct nulls too). */
static int row_price(const batch_src *b, int64_t i, double *p) {
    int64_t ci = b->coff + b->soff + i;
    *p = b->price[ci];
    return (b->pvalid == NULL || bit(b->pvalid, ci)) && (b->svalid == NULL || bit(b->svalid, b->soff + i));
}
static int row_qty(const batch_src *b, int64_t i, int64_t *q) {
    int64_t ci = b->coff + b->soff + i;
    *q = b->qty[ci];
    return (b->qvalid == NULL || bit(b->qvalid, ci)) && (b->svalid == NULL || bit(b->svalid, b->soff + i));
}

/* The example plugins as built: with the host kernels, or their _loop variants (every row
   interpreted, -DZP_NO_KERNELS); tests that hold for both run twice. */
static const char *price_filter_file = "price_filter.wasm";
static const char *vwap_file = "vwap.wasm";

static int load_price_filter(ZenithEngine e, double lo, double hi, uint32_t instances, uint32_t flags) {
    size_t len;
    uint8_t *w = plugin_file(price_filter_file, &len);
    double params[2] = { lo, hi };
    zenith_plugin_config cfg;
    char why[ZENITH_PLUGIN_REASON_MAX];
    int id;
    memset(&cfg, 0, sizeof cfg);
    cfg.instances = instances;
    cfg.flags = flags;
    cfg.params = params;
    cfg.params_len = sizeof params;
    id = zenith_load_plugin_ex(e, w, len, &cfg, why, sizeof why);
    cr_assert_geq(id, 0, "price_filter: %d %s: %s", id, zenith_errname(id), why);
    cr_assert_str_eq(why, "", "no reason on success");
    free(w);
    return id;
}

static int load_vwap(ZenithEngine e, uint32_t instances) {
    size_t len;
    uint8_t *w = plugin_file(vwap_file, &len);
    zenith_plugin_config cfg;
    char why[ZENITH_PLUGIN_REASON_MAX];
    int id;
    memset(&cfg, 0, sizeof cfg);
    cfg.instances = instances;
    id = zenith_load_plugin_ex(e, w, len, &cfg, why, sizeof why);
    cr_assert_geq(id, 0, "vwap: %d %s: %s", id, zenith_errname(id), why);
    free(w);
    return id;
}

/* Publishes a one-row struct<price, quantity> batch; returns zenith_publish's code. */
static int publish_one(ZenithEngine e, ta_counts *c, uint64_t seq) {
    struct ArrowArray a;
    struct ArrowSchema s;
    batch_src src;
    int rc;
    mk_batch(c, 1, 0, 0, 0, 0, &a, &s, &src);
    rc = zenith_publish(e, &a, &s, 1, seq);
    if (rc < 0) ta_release(&a, &s);
    return rc;
}

/* Polls one batch, checks it carries no selection, releases it. */
static void poll_whole(ZenithEngine e) {
    zenith_batch b;
    uint8_t bits[64];
    int64_t sel = 12345;
    cr_assert_eq(zenith_poll_selection(e, &b, bits, sizeof bits, &sel), 1, "a batch to poll");
    cr_assert_eq(sel, -1, "no selection: every row passes");
    cr_assert_eq(zenith_batch_release(e, &b), 0);
}

/* ---- the price filter against C ------------------------------------------------------------- */

/* Publishes `batches` random batches through a price filter [lo, hi] and checks every outcome
   (dropped, whole, selection bit by bit) against C. Returns the rows that passed. */
static uint64_t run_price_filter(ZenithEngine e, ta_counts *c, double lo, double hi, int batches, int null_every,
                                 int struct_null_every) {
    static const int64_t sizes[] = { 0, 1, 2, 7, 8, 9, 63, 64, 65, 100, 1000, 4096 };
    uint8_t *bits = (uint8_t *)malloc(16384 / 8);
    uint64_t passed_rows = 0;
    int k;
    cr_assert_not_null(bits);
    for (k = 0; k < batches; k++) {
        struct ArrowArray a;
        struct ArrowSchema s;
        batch_src src;
        int64_t n = sizes[k % (int)(sizeof sizes / sizeof sizes[0])], i, want = 0, sel;
        int64_t soff = (int64_t)(rnd() % 13), coff = (int64_t)(rnd() % 11);
        uint8_t *expect;
        zenith_batch b;
        int rc;
        if (k % 5 == 4) soff = coff = 0; /* aligned copies too */
        mk_batch(c, n, soff, coff, null_every, struct_null_every, &a, &s, &src);
        expect = (uint8_t *)calloc((size_t)(n + 8) / 8 + 1, 1);
        cr_assert_not_null(expect);
        for (i = 0; i < n; i++) {
            double p;
            int ok = row_price(&src, i, &p) && p >= lo && p <= hi;
            setbit(expect, i, ok);
            want += ok;
        }
        rc = zenith_publish(e, &a, &s, 3, (uint64_t)k);
        if (want == 0 && n > 0) { /* nothing passes: dropped, released already */
            cr_assert_eq(rc, 1, "batch %d (%lld rows, none in range): dropped", k, (long long)n);
            cr_assert(a.release == NULL && s.release == NULL, "moved in");
            cr_assert_eq(zenith_poll(e, &b), 0, "a dropped batch is never polled");
            free(expect);
            continue;
        }
        cr_assert_eq(rc, 0, "batch %d: publish %d", k, rc);
        memset(bits, 0xee, 16384 / 8);
        cr_assert_eq(zenith_poll_selection(e, &b, bits, 16384 / 8, &sel), 1);
        cr_assert_eq(b.seq_no, (uint64_t)k);
        cr_assert_eq(b.array.length, n);
        if (want == n) {
            cr_assert_eq(sel, -1, "batch %d: every row passes, no selection (%lld)", k, (long long)sel);
        } else {
            cr_assert_eq(sel, want, "batch %d (%lld rows, offsets %lld/%lld): %lld pass, selection says %lld", k,
                         (long long)n, (long long)soff, (long long)coff, (long long)want, (long long)sel);
            for (i = 0; i < n; i++)
                cr_assert_eq(bit(bits, i), bit(expect, i), "batch %d row %lld: selection %d, C says %d", k,
                             (long long)i, bit(bits, i), bit(expect, i));
            for (; i < (n + 7) / 8 * 8; i++) cr_assert_eq(bit(bits, i), 0, "bits past the length are zero");
            cr_assert_eq(bits[(n + 7) / 8], 0xee, "nothing written past (length + 7) / 8 bytes");
        }
        passed_rows += (uint64_t)want;
        cr_assert_eq(zenith_batch_release(e, &b), 0);
        free(expect);
    }
    free(bits);
    return passed_rows;
}

static void price_filter_matches_c(void) {
    ta_counts c = { 0, 0 };
    ZenithEngine e = mkengine(64);
    int id = load_price_filter(e, 95.0, 104.5, 1, 0);
    uint64_t passed = run_price_filter(e, &c, 95.0, 104.5, 240, 7, 0);
    double r[2] = { -1, -1 };
    zenith_plugin_stats st = pstats(e, id);
    cr_assert_eq(st.calls, 240, "one call per batch (%llu)", (unsigned long long)st.calls);
    cr_assert_eq(st.failures + st.skipped + st.disabled, 0);
    cr_assert_eq(st.rows_out, passed, "rows_out %llu, C %llu", (unsigned long long)st.rows_out,
                 (unsigned long long)passed);
    cr_assert_eq(st.passed + st.rejected + st.selected, st.calls);
    cr_assert_gt(st.rejected, 0, "the empty-in-range batches");
    cr_assert_gt(st.selected, 0);
    cr_assert_gt(st.fuel_used, 0);
    cr_assert_eq(st.instances, 1);
    cr_assert_eq(zenith_plugin_result(e, id, r, 2), 1, "one result");
    cr_assert_eq(r[0], (double)passed, "result 0: rows passed (%g vs %llu)", r[0], (unsigned long long)passed);
    cr_assert_eq(r[1], -1, "out[1] untouched");
    {
        zenith_engine_stats es;
        cr_assert_eq(zenith_engine_get_stats(e, &es), 0);
        cr_assert_eq(es.published, es.polled, "dropped batches count in neither");
        cr_assert_eq(es.released, es.polled);
    }
    zenith_free(e);
    cr_assert_eq(c.arrays, 240, "every batch released exactly once (%d)", c.arrays);
    cr_assert_eq(c.schemas, 240);
}

Test(plugin, price_filter_matches_c_with_nulls_and_offsets, .timeout = 60) { price_filter_matches_c(); }

Test(plugin, price_filter_loop_variant_matches_c_too, .timeout = 60) {
    price_filter_file = "price_filter_loop.wasm";
    price_filter_matches_c();
}

Test(plugin, price_filter_respects_struct_level_nulls, .timeout = 60) {
    ta_counts c = { 0, 0 };
    ZenithEngine e = mkengine(16);
    int id = load_price_filter(e, 92.0, 108.0, 1, 0);
    uint64_t passed = run_price_filter(e, &c, 92.0, 108.0, 120, 5, 4);
    cr_assert_eq(pstats(e, id).rows_out, passed);
    zenith_free(e);
    cr_assert_eq(c.arrays, 120);
}

Test(plugin, price_filter_without_nulls_takes_the_fast_path, .timeout = 60) {
    ta_counts c = { 0, 0 };
    ZenithEngine e = mkengine(16);
    int id = load_price_filter(e, 100.0, 100.5, 2, 0);
    uint64_t passed = run_price_filter(e, &c, 100.0, 100.5, 120, 0, 0);
    cr_assert_eq(pstats(e, id).rows_out, passed);
    cr_assert_eq(pstats(e, id).instances, 2);
    zenith_free(e);
}

/* Any numeric price type: the plugin's generic path (zp_f64). */
Test(plugin, price_filter_on_a_plain_int32_array_named_price, .timeout = 30) {
    ta_counts c = { 0, 0 };
    ZenithEngine e = mkengine(8);
    int32_t v[10] = { 94, 95, 96, 104, 105, 106, 100, -5, 1000, 99 };
    uint8_t valid[2] = { 0xff, 0x01 }; /* row 9 is null */
    struct ArrowArray a = ta_array(&c, 10, 1, 0, 2, valid, 2, v, sizeof v, NULL, 0);
    struct ArrowSchema s = ta_schema(&c, "i");
    zenith_batch b;
    uint8_t bits[8];
    int64_t sel;
    int id = load_price_filter(e, 95, 105, 1, 0);
    s.name = "price";
    cr_assert_eq(zenith_publish(e, &a, &s, 0, 0), 0);
    cr_assert_eq(zenith_poll_selection(e, &b, bits, sizeof bits, &sel), 1);
    cr_assert_eq(sel, 5, "95, 96, 104, 105, 100 (99 is null): %lld", (long long)sel);
    cr_assert_eq(bits[0], 0x5e, "rows 1, 2, 3, 4, 6 (%#x)", bits[0]);
    cr_assert_eq(bits[1], 0);
    cr_assert_eq(zenith_batch_release(e, &b), 0);
    cr_assert_eq(pstats(e, id).selected, 1);
    zenith_free(e);
}

/* ---- VWAP against C ----------------------------------------------------------------------------- */

static void vwap_matches_c(void) {
    ta_counts c = { 0, 0 };
    ZenithEngine e = mkengine(8);
    int id = load_vwap(e, 1);
    double pq = 0, sq = 0, rows = 0, r[3];
    int k;
    for (k = 0; k < 200; k++) {
        struct ArrowArray a;
        struct ArrowSchema s;
        batch_src src;
        zenith_batch b;
        int64_t n = (int64_t)(rnd() % 2000), i, sel = 0;
        double bpq = 0, bsq = 0, brows = 0; /* per batch, in row order: as the plugin sums */
        mk_batch(&c, n, (int64_t)(rnd() % 5), (int64_t)(rnd() % 5), k % 3 ? 6 : 0, k % 4 == 1 ? 9 : 0, &a, &s, &src);
        for (i = 0; i < n; i++) {
            double p;
            int64_t q;
            int pv = row_price(&src, i, &p), qv = row_qty(&src, i, &q);
            if (!pv || !qv) continue;
            bpq += p * (double)q;
            bsq += (double)q;
            brows += 1;
        }
        pq += bpq;
        sq += bsq;
        rows += brows;
        cr_assert_eq(zenith_publish(e, &a, &s, 9, (uint64_t)k), 0, "vwap passes every batch");
        cr_assert_eq(zenith_poll_selection(e, &b, NULL, 0, &sel), 1);
        cr_assert_eq(sel, -1);
        cr_assert_eq(zenith_batch_release(e, &b), 0);
    }
    cr_assert_eq(zenith_plugin_result(e, id, r, 3), 3);
    cr_assert_eq(pstats(e, id).failures, 0, "failures %llu (last trap %d)", (unsigned long long)pstats(e, id).failures,
                 pstats(e, id).last_trap);
    cr_assert_eq(r[0], pq, "sum(p * q): plugin %.17g, C %.17g", r[0], pq);
    cr_assert_eq(r[1], sq, "sum(q): plugin %.17g, C %.17g", r[1], sq);
    cr_assert_eq(r[2], rows, "rows: plugin %.17g, C %.17g", r[2], rows);
    cr_assert(fabs(r[0] / r[1] - pq / sq) == 0, "VWAP %.17g", r[0] / r[1]);
    {
        zenith_plugin_stats st = pstats(e, id);
        cr_assert_eq(st.calls, 200);
        cr_assert_eq(st.passed, 200);
        cr_assert_eq(st.rows_in, st.rows_out);
        cr_assert_eq(st.failures, 0);
    }
    zenith_free(e);
    cr_assert_eq(c.arrays, 200);
}

Test(plugin, vwap_matches_c_over_batches_with_nulls, .timeout = 60) { vwap_matches_c(); }

Test(plugin, vwap_loop_variant_matches_c_too, .timeout = 60) {
    vwap_file = "vwap_loop.wasm";
    vwap_matches_c();
}

/* struct<price: double, quantity: double>: the VWAP's kernel path (zenith.dot_f64, sum_f64)
   when price has no nulls, its loop when it has; quantity nulls either way. */
static void vwap_f64(const char *file) {
    ta_counts c = { 0, 0 };
    ZenithEngine e = mkengine(8);
    double pq = 0, sq = 0, rows = 0, r[3];
    int id, k;
    vwap_file = file;
    id = load_vwap(e, 1);
    for (k = 0; k < 120; k++) {
        int64_t n = (int64_t)(rnd() % 3000), i;
        double *p = (double *)malloc((size_t)n * 8 + 8), *q = (double *)malloc((size_t)n * 8 + 8);
        uint8_t *pv = (uint8_t *)calloc((size_t)n / 8 + 2, 1), *qv = (uint8_t *)calloc((size_t)n / 8 + 2, 1);
        int64_t pn = 0, qn = 0, sel = 0;
        double bpq = 0, bsq = 0, brows = 0;
        int pnulls = k % 3 == 2, qnulls = k % 2 == 1;
        struct ArrowArray a, pa, qa;
        struct ArrowSchema s, ps, qs;
        zenith_batch b;
        cr_assert(p && q && pv && qv);
        for (i = 0; i < n; i++) {
            int okp = !(pnulls && rnd() % 7 == 0), okq = !(qnulls && rnd() % 5 == 0);
            p[i] = 90.0 + (double)(rnd() % 2001) / 100.0;
            q[i] = (double)(rnd() % 1000) / 8.0;
            setbit(pv, i, okp);
            setbit(qv, i, okq);
            pn += !okp;
            qn += !okq;
            if (okp && okq) {
                bpq += p[i] * q[i];
                bsq += q[i];
                brows += 1;
            }
        }
        pq += bpq;
        sq += bsq;
        rows += brows;
        pa = ta_array(&c, n, pnulls ? pn : 0, 0, 2, pnulls ? pv : NULL, (size_t)n / 8 + 2, p, (size_t)n * 8, NULL, 0);
        qa = ta_array(&c, n, qnulls ? qn : 0, 0, 2, qnulls ? qv : NULL, (size_t)n / 8 + 2, q, (size_t)n * 8, NULL, 0);
        ps = ta_schema(&c, "g");
        qs = ta_schema(&c, "g");
        ps.name = "price";
        qs.name = "quantity";
        a = ta_array(&c, n, 0, 0, 1, NULL, 0, NULL, 0, NULL, 0);
        s = ta_schema(&c, "+s");
        ta_add_child(&a, &s, pa, ps);
        ta_add_child(&a, &s, qa, qs);
        cr_assert_eq(zenith_publish(e, &a, &s, 9, (uint64_t)k), 0);
        cr_assert_eq(zenith_poll_selection(e, &b, NULL, 0, &sel), 1);
        cr_assert_eq(zenith_batch_release(e, &b), 0);
        free(p);
        free(q);
        free(pv);
        free(qv);
    }
    cr_assert_eq(zenith_plugin_result(e, id, r, 3), 3);
    cr_assert_eq(pstats(e, id).failures, 0, "last trap %d", pstats(e, id).last_trap);
    cr_assert_eq(r[0], pq, "%s: sum(p * q): plugin %.17g, C %.17g", file, r[0], pq);
    cr_assert_eq(r[1], sq, "%s: sum(q): plugin %.17g, C %.17g", file, r[1], sq);
    cr_assert_eq(r[2], rows, "%s: rows: plugin %.17g, C %.17g", file, r[2], rows);
    zenith_free(e);
    cr_assert_eq(c.arrays, 120);
}

Test(plugin, vwap_on_float64_columns_matches_c_with_and_without_kernels, .timeout = 60) {
    vwap_f64("vwap.wasm");
    vwap_f64("vwap_loop.wasm");
}

/* Two plugins: each sees the whole batch; a drop by the first ends the chain. */
Test(plugin, a_chain_runs_in_load_order_and_a_drop_ends_it, .timeout = 60) {
    ta_counts c = { 0, 0 };
    ZenithEngine e = mkengine(8);
    int f = load_price_filter(e, 99.0, 101.0, 1, 0);
    int v = load_vwap(e, 1);
    double r[3];
    uint64_t seen_rows = 0;
    int k, dropped = 0;
    cr_assert_neq(f, v);
    for (k = 0; k < 100; k++) {
        struct ArrowArray a;
        struct ArrowSchema s;
        batch_src src;
        int64_t n = (int64_t)(rnd() % 6) + 1;
        int rc;
        mk_batch(&c, n, 0, 0, 0, 0, &a, &s, &src);
        rc = zenith_publish(e, &a, &s, 1, (uint64_t)k);
        cr_assert(rc == 0 || rc == 1, "rc %d", rc);
        if (rc == 1) { /* a dropped batch holds its slot until a poll steps over it */
            zenith_batch b;
            cr_assert_eq(zenith_poll(e, &b), 0);
            dropped++;
            continue;
        }
        seen_rows += (uint64_t)n;
        {
            zenith_batch b;
            cr_assert_eq(zenith_poll(e, &b), 1);
            cr_assert_eq(zenith_batch_release(e, &b), 0);
        }
    }
    cr_assert_gt(dropped, 0);
    cr_assert_eq(pstats(e, v).calls, (uint64_t)(100 - dropped), "vwap never saw a dropped batch");
    cr_assert_eq(zenith_plugin_result(e, v, r, 3), 3);
    cr_assert_eq(r[2], (double)seen_rows, "vwap counted every row of the batches it saw (not only selected ones)");
    zenith_free(e);
    cr_assert_eq(c.arrays, 100);
}

/* ---- load failures: -3 with a reason, the engine unchanged ---------------------------------- */

static void expect_refused(ZenithEngine e, const uint8_t *w, size_t len, int code, const char *needle) {
    char why[ZENITH_PLUGIN_REASON_MAX], last[ZENITH_PLUGIN_REASON_MAX];
    int rc = zenith_load_plugin_ex(e, w, len, NULL, why, sizeof why);
    cr_assert_eq(rc, code, "load: %d %s (%s), expected %d", rc, zenith_errname(rc), why, code);
    cr_assert(strstr(why, needle) != NULL, "reason \"%s\" should mention \"%s\"", why, needle);
    cr_assert_eq(zenith_plugin_last_error(e, last, sizeof last), code);
    cr_assert_str_eq(last, why, "zenith_plugin_last_error keeps the same reason");
    cr_assert_eq(zenith_load_plugin(e, w, len), code, "the design's call says the same");
}

Test(plugin, bad_bytes_are_refused_with_a_reason_and_the_engine_is_unchanged, .timeout = 30) {
    static const uint8_t garbage[] = { 'n', 'o', 't', ' ', 'w', 'a', 's', 'm' };
    static const uint8_t empty_module[] = { 0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00 };
    ta_counts c = { 0, 0 };
    ZenithEngine e = mkengine(8);
    size_t len;
    uint8_t *w = plugin_file("price_filter.wasm", &len);
    char small[8];
    zenith_batch b;
    cr_assert_eq(zenith_plugin_last_error(e, small, sizeof small), 0, "no failure yet");
    cr_assert_str_eq(small, "");
    expect_refused(e, garbage, sizeof garbage, ZENITH_E_PLUGIN, "not a valid WebAssembly module");
    cr_assert_eq(ZENITH_E_PLUGIN, -3);
    expect_refused(e, w, len / 2, ZENITH_E_PLUGIN, "not a valid WebAssembly module");
    expect_refused(e, empty_module, sizeof empty_module, ZENITH_E_PLUGIN, "no export zenith_plugin_abi");
    expect_refused(e, import_wasm, sizeof import_wasm, ZENITH_E_PLUGIN, "provides only functions of module \"zenith\"");
    expect_refused(e, kernbad_wasm, sizeof kernbad_wasm, ZENITH_E_PLUGIN, "imports zenith.sum_f64 with another type");
    cr_assert_eq(zenith_plugin_last_error(e, small, sizeof small), ZENITH_E_PLUGIN);
    cr_assert_eq(strlen(small), 7, "truncated to the buffer");
    { /* init refuses: the price filter wants 16 bytes of params */
        zenith_plugin_config cfg;
        char why[ZENITH_PLUGIN_REASON_MAX];
        double lo = 1;
        memset(&cfg, 0, sizeof cfg);
        cfg.params = &lo;
        cfg.params_len = sizeof lo;
        cr_assert_eq(zenith_load_plugin_ex(e, w, len, &cfg, why, sizeof why), ZENITH_E_PLUGIN);
        cr_assert(strstr(why, "zenith_plugin_init refused the load") != NULL, "%s", why);
        cfg.params_len = 0;
        cfg.instances = ZENITH_PLUGIN_MAX_INSTANCES + 1;
        cr_assert_eq(zenith_load_plugin_ex(e, w, len, &cfg, why, sizeof why), ZENITH_E_INVAL);
        cfg.instances = 0;
        cfg.struct_size = 4;
        cr_assert_eq(zenith_load_plugin_ex(e, w, len, &cfg, why, sizeof why), ZENITH_E_INVAL);
    }
    cr_assert_eq(zenith_load_plugin(NULL, w, len), ZENITH_E_NULL);
    cr_assert_eq(zenith_load_plugin(e, NULL, len), ZENITH_E_NULL);
    cr_assert_eq(zenith_load_plugin(e, w, 0), ZENITH_E_NULL);
    /* unchanged: a batch goes through untouched, no plugin id is live */
    cr_assert_eq(publish_one(e, &c, 0), 0);
    poll_whole(e);
    cr_assert_eq(zenith_unload_plugin(e, 0), ZENITH_E_STALE);
    {
        zenith_plugin_stats st;
        st.struct_size = 0;
        cr_assert_eq(zenith_plugin_get_stats(e, 0, &st), ZENITH_E_STALE);
    }
    cr_assert_eq(zenith_poll(e, &b), 0);
    free(w);
    zenith_free(e);
    cr_assert_eq(c.arrays, 1);
}

/* ---- the failure rule ------------------------------------------------------------------------- */

Test(plugin, a_trapping_plugin_passes_batches_on_and_is_disabled_after_three, .timeout = 30) {
    ta_counts c = { 0, 0 };
    ZenithEngine e = mkengine(8);
    int id = load_modes(e, MODE_TRAP, 0, 0, 0), k;
    zenith_plugin_stats st;
    for (k = 0; k < 5; k++) {
        cr_assert_eq(publish_one(e, &c, (uint64_t)k), 0, "batch %d passed on unfiltered", k);
        poll_whole(e);
        st = pstats(e, id);
        cr_assert_eq(st.disabled, k >= 2, "disabled after the third failure in a row (batch %d)", k);
    }
    cr_assert_eq(st.calls, 3, "a disabled plugin no longer runs");
    cr_assert_eq(st.traps, 3);
    cr_assert_eq(st.failures, 3);
    cr_assert_eq(st.consecutive_failures, 3);
    cr_assert_eq(st.last_trap, ZENITH_WASM_TRAP_UNREACHABLE);
    cr_assert_eq(st.rows_out, 3, "a failed call passes its rows on");
    zenith_free(e);
    cr_assert_eq(c.arrays, 5, "no batch lost");
}

Test(plugin, fail_reject_drops_what_a_failing_plugin_saw, .timeout = 30) {
    ta_counts c = { 0, 0 };
    ZenithEngine e = mkengine(8);
    int id = load_modes(e, MODE_TRAP, ZENITH_PLUGIN_FAIL_REJECT, 5, 0), k;
    zenith_batch b;
    for (k = 0; k < 5; k++) {
        cr_assert_eq(publish_one(e, &c, (uint64_t)k), 1, "dropped (batch %d)", k);
        cr_assert_eq(c.arrays, k + 1, "released inside zenith_publish");
        cr_assert_eq(zenith_poll(e, &b), 0);
    }
    cr_assert_eq(pstats(e, id).disabled, 1, "max_failures 5");
    cr_assert_eq(publish_one(e, &c, 5), 0, "disabled: the plugin is out of the chain");
    poll_whole(e);
    cr_assert_eq(pstats(e, id).rows_out, 0);
    zenith_free(e);
    cr_assert_eq(c.arrays, 6);
}

Test(plugin, an_infinite_loop_runs_out_of_fuel, .timeout = 30) {
    ta_counts c = { 0, 0 };
    ZenithEngine e = mkengine(8);
    int id = load_modes(e, MODE_LOOP, 0, 10, 50000), k;
    zenith_plugin_stats st;
    for (k = 0; k < 4; k++) {
        cr_assert_eq(publish_one(e, &c, (uint64_t)k), 0);
        poll_whole(e);
    }
    st = pstats(e, id);
    cr_assert_eq(st.traps, 4);
    cr_assert_eq(st.fuel_exhausted, 4);
    cr_assert_eq(st.last_trap, ZENITH_WASM_TRAP_FUEL);
    cr_assert_eq(st.disabled, 0, "max_failures 10");
    cr_assert_geq(st.fuel_used, 4u * 50000u, "each call spent its budget (%llu)", (unsigned long long)st.fuel_used);
    cr_assert_leq(st.fuel_used, 4u * 52000u, "and not much more (%llu)", (unsigned long long)st.fuel_used);
    zenith_free(e);
}

Test(plugin, an_undefined_verdict_is_an_error, .timeout = 30) {
    ta_counts c = { 0, 0 };
    ZenithEngine e = mkengine(8);
    int id = load_modes(e, MODE_BAD_VERDICT, 0, 0, 0);
    zenith_plugin_stats st;
    cr_assert_eq(publish_one(e, &c, 0), 0);
    poll_whole(e);
    st = pstats(e, id);
    cr_assert_eq(st.errors, 1);
    cr_assert_eq(st.traps, 0);
    cr_assert_eq(st.consecutive_failures, 1);
    zenith_free(e);
}

Test(plugin, a_good_call_resets_the_failure_count, .timeout = 30) {
    ta_counts c = { 0, 0 };
    ZenithEngine e = mkengine(8);
    int id = load_modes(e, MODE_TRAP_ODD, 0, 2, 0), k;
    zenith_plugin_stats st;
    for (k = 0; k < 20; k++) {
        cr_assert_eq(publish_one(e, &c, (uint64_t)k), 0);
        poll_whole(e);
    }
    st = pstats(e, id);
    cr_assert_eq(st.disabled, 0, "never two failures in a row");
    cr_assert_eq(st.traps, 10);
    cr_assert_eq(st.passed, 10);
    cr_assert_eq(st.consecutive_failures, 1, "the last (seq 19) trapped");
    zenith_free(e);
}

Test(plugin, a_batch_the_plugin_cannot_read_is_skipped, .timeout = 30) {
    ta_counts c = { 0, 0 };
    ZenithEngine e = mkengine(8);
    int id = load_price_filter(e, 0, 1000, 1, 0), id2;
    struct ArrowArray a = ta_int32(&c, 5);
    struct ArrowSchema s = ta_schema(&c, "i"); /* named "", no "price" */
    zenith_plugin_stats st;
    cr_assert_eq(zenith_publish(e, &a, &s, 0, 0), 0, "passed on");
    poll_whole(e);
    st = pstats(e, id);
    cr_assert_eq(st.skipped, 1);
    cr_assert_eq(st.calls, 0);
    cr_assert_eq(st.consecutive_failures, 0, "a skip is not a failure");
    cr_assert_eq(zenith_unload_plugin(e, id), 0);
    id2 = load_price_filter(e, 0, 1000, 1, ZENITH_PLUGIN_FAIL_REJECT);
    cr_assert_neq(id2, id, "a new id");
    a = ta_int32(&c, 5);
    s = ta_schema(&c, "i");
    cr_assert_eq(zenith_publish(e, &a, &s, 0, 1), 1, "FAIL_REJECT drops it");
    cr_assert_eq(pstats(e, id2).skipped, 1);
    zenith_free(e);
    cr_assert_eq(c.arrays, 2);
}

/* ---- unload, stats, results, selection buffer, full ring ------------------------------------ */

Test(plugin, unload_detaches_and_the_id_goes_stale, .timeout = 30) {
    ta_counts c = { 0, 0 };
    ZenithEngine e = mkengine(8);
    int id = load_modes(e, MODE_DROP, 0, 0, 0), again;
    double r;
    cr_assert_eq(publish_one(e, &c, 0), 1, "dropped while loaded");
    cr_assert_eq(zenith_unload_plugin(e, id), 0);
    cr_assert_eq(publish_one(e, &c, 1), 0, "gone: the batch goes through");
    poll_whole(e);
    cr_assert_eq(zenith_unload_plugin(e, id), ZENITH_E_STALE);
    cr_assert_eq(zenith_plugin_result(e, id, &r, 1), ZENITH_E_STALE);
    {
        zenith_plugin_stats st;
        st.struct_size = 0;
        cr_assert_eq(zenith_plugin_get_stats(e, id, &st), ZENITH_E_STALE);
    }
    again = load_modes(e, MODE_DROP, 0, 0, 0);
    cr_assert_neq(again, id, "the slot is reused under a new id");
    cr_assert_eq(zenith_unload_plugin(e, id), ZENITH_E_STALE, "the old id does not reach the new plugin");
    cr_assert_eq(pstats(e, again).calls, 0, "fresh counters");
    cr_assert_eq(zenith_plugin_result(e, again, NULL, 0), 0, "no results declared");
    cr_assert_eq(zenith_unload_plugin(e, -1), ZENITH_E_STALE);
    cr_assert_eq(zenith_unload_plugin(NULL, again), ZENITH_E_NULL);
    zenith_free(e); /* frees the attached one */
    cr_assert_eq(c.arrays, 2);
}

Test(plugin, at_most_eight_plugins, .timeout = 60) {
    ZenithEngine e = mkengine(8);
    int ids[ZENITH_MAX_PLUGINS], i;
    char why[ZENITH_PLUGIN_REASON_MAX];
    for (i = 0; i < ZENITH_MAX_PLUGINS; i++) ids[i] = load_modes(e, MODE_PASS, 0, 0, 0);
    cr_assert_eq(zenith_load_plugin_ex(e, modes_wasm, sizeof modes_wasm, NULL, why, sizeof why), ZENITH_E_FULL);
    cr_assert(strstr(why, "unload one") != NULL, "%s", why);
    cr_assert_eq(zenith_unload_plugin(e, ids[3]), 0);
    cr_assert_geq(load_modes(e, MODE_PASS, 0, 0, 0), 0);
    zenith_free(e);
}

Test(plugin, stats_follow_struct_size, .timeout = 30) {
    ZenithEngine e = mkengine(8);
    int id = load_modes(e, MODE_PASS, 0, 0, 0);
    zenith_plugin_stats st;
    memset(&st, 0xa5, sizeof st);
    st.struct_size = 16; /* an older, shorter layout: four fields */
    cr_assert_eq(zenith_plugin_get_stats(e, id, &st), 0);
    cr_assert_eq(st.struct_size, 16);
    cr_assert_eq(st.instances, 1);
    cr_assert_eq(st.calls, 0xa5a5a5a5a5a5a5a5ull, "nothing written past struct_size");
    st.struct_size = 4;
    cr_assert_eq(zenith_plugin_get_stats(e, id, &st), ZENITH_E_INVAL);
    st.struct_size = 0;
    cr_assert_eq(zenith_plugin_get_stats(e, id, &st), 0, "0 = this layout");
    cr_assert_eq(st.struct_size, sizeof st);
    cr_assert_eq(st.calls, 0);
    cr_assert_eq(zenith_plugin_get_stats(e, id, NULL), ZENITH_E_NULL);
    zenith_free(e);
}

Test(plugin, a_small_selection_buffer_leaves_the_batch_queued, .timeout = 30) {
    ta_counts c = { 0, 0 };
    ZenithEngine e = mkengine(8);
    double price[40];
    uint8_t bits[5], small[2];
    struct ArrowArray a;
    struct ArrowSchema s;
    zenith_batch b;
    int64_t sel, i;
    load_price_filter(e, 10, 19, 1, 0);
    for (i = 0; i < 40; i++) price[i] = (double)i;
    a = ta_array(&c, 40, 0, 0, 2, NULL, 0, price, sizeof price, NULL, 0);
    s = ta_schema(&c, "g");
    s.name = "price";
    cr_assert_eq(zenith_publish(e, &a, &s, 0, 0), 0);
    cr_assert_eq(zenith_poll_selection(e, &b, small, sizeof small, &sel), ZENITH_E_RANGE);
    cr_assert_eq(zenith_poll_selection(e, &b, bits, sizeof bits, &sel), 1, "still there");
    cr_assert_eq(sel, 10);
    cr_assert_eq(bits[0], 0);
    cr_assert_eq(bits[1], 0xfc);
    cr_assert_eq(bits[2], 0x0f);
    cr_assert_eq(bits[3] | bits[4], 0);
    cr_assert_eq(zenith_batch_release(e, &b), 0);
    zenith_free(e);
}

Test(plugin, a_full_ring_never_reaches_the_plugin, .timeout = 30) {
    ta_counts c = { 0, 0 };
    ZenithEngine e = mkengine(2);
    int id = load_vwap(e, 1);
    double r[3];
    struct ArrowArray a;
    struct ArrowSchema s;
    batch_src src;
    cr_assert_eq(publish_one(e, &c, 0), 0);
    cr_assert_eq(publish_one(e, &c, 1), 0);
    mk_batch(&c, 10, 0, 0, 0, 0, &a, &s, &src);
    cr_assert_eq(zenith_publish(e, &a, &s, 1, 2), ZENITH_E_FULL);
    cr_assert_eq(pstats(e, id).calls, 2, "a refused publish is not seen by the plugin");
    poll_whole(e);
    cr_assert_eq(zenith_publish(e, &a, &s, 1, 2), 0, "the retry is");
    cr_assert_eq(zenith_plugin_result(e, id, r, 3), 3);
    cr_assert_eq(r[2], 12, "rows counted once (%g)", r[2]);
    zenith_free(e);
    cr_assert_eq(c.arrays, 3);
}

/* max_rows: larger batches are not given to the plugin; a later plugin may not ask for more
   than the engine's selection area. */
Test(plugin, max_rows, .timeout = 30) {
    ta_counts c = { 0, 0 };
    ZenithEngine e = mkengine(8);
    zenith_plugin_config cfg;
    char why[ZENITH_PLUGIN_REASON_MAX];
    struct ArrowArray a;
    struct ArrowSchema s;
    batch_src src;
    int id;
    memset(&cfg, 0, sizeof cfg);
    cfg.instances = 1;
    cfg.max_rows = 100;
    id = zenith_load_plugin_ex(e, modes_wasm, sizeof modes_wasm, &cfg, why, sizeof why);
    cr_assert_geq(id, 0, "%s", why);
    mk_batch(&c, 101, 0, 0, 0, 0, &a, &s, &src);
    cr_assert_eq(zenith_publish(e, &a, &s, 1, 0), 0);
    poll_whole(e);
    cr_assert_eq(pstats(e, id).skipped, 1);
    mk_batch(&c, 100, 0, 0, 0, 0, &a, &s, &src);
    cr_assert_eq(zenith_publish(e, &a, &s, 1, 1), 0);
    poll_whole(e);
    cr_assert_eq(pstats(e, id).calls, 1);
    cfg.max_rows = 101;
    cr_assert_eq(zenith_load_plugin_ex(e, modes_wasm, sizeof modes_wasm, &cfg, why, sizeof why), ZENITH_E_INVAL);
    cr_assert(strstr(why, "selection area") != NULL, "%s", why);
    zenith_free(e);
}

/* Every ABI type reaches the plugin right (values, offset, nulls): the price filter's generic
   path (zp_load_f64) on a plain array named "price" of each type, against C. */
Test(plugin, every_primitive_type_is_copied_in_with_offset_and_nulls, .timeout = 60) {
    static const struct {
        const char *format;
        int bits;
        int is_signed, is_float;
    } types[] = { { "c", 8, 1, 0 },     { "C", 8, 0, 0 },    { "s", 16, 1, 0 },   { "S", 16, 0, 0 },
                  { "i", 32, 1, 0 },    { "I", 32, 0, 0 },   { "l", 64, 1, 0 },   { "L", 64, 0, 0 },
                  { "f", 32, 1, 1 },    { "g", 64, 1, 1 },   { "b", 1, 0, 0 },    { "tsn:UTC", 64, 1, 0 },
                  { "tsu:", 64, 1, 0 }, { "tdD", 32, 1, 0 }, { "tdm", 64, 1, 0 }, { "tts", 32, 1, 0 },
                  { "ttn", 64, 1, 0 },  { "tDm", 64, 1, 0 } };
    ta_counts c = { 0, 0 };
    ZenithEngine e20 = mkengine(8), ebool = mkengine(8); /* filters [20, 90] and [0.5, 1.5] */
    unsigned t;
    int id = load_price_filter(e20, 20, 90, 1, 0), idb = load_price_filter(ebool, 0.5, 1.5, 1, 0);
    for (t = 0; t < sizeof types / sizeof types[0]; t++) {
        ZenithEngine e = types[t].bits == 1 ? ebool : e20;
        int64_t n = 77 + (int64_t)t, off = (int64_t)(t % 9), m = n + off, i, want = 0, sel;
        size_t vbytes = (size_t)(m + 7) / 8 + 8,
               dbytes = types[t].bits == 1 ? vbytes : (size_t)m * (size_t)types[t].bits / 8;
        uint8_t *data = (uint8_t *)calloc(dbytes + 8, 1), *valid = (uint8_t *)calloc(vbytes, 1), bits[32];
        double *val = (double *)malloc((size_t)m * sizeof(double));
        int64_t nulls = 0;
        struct ArrowArray a;
        struct ArrowSchema s;
        zenith_batch b;
        double lo = types[t].bits == 1 ? 0.5 : 20, hi = types[t].bits == 1 ? 1.5 : 90;
        cr_assert(data && valid && val);
        for (i = 0; i < m; i++) {
            int64_t v = (int64_t)(rnd() % 120) - (types[t].is_signed ? 10 : 0);
            int ok = rnd() % 6 != 0;
            setbit(valid, i, ok);
            if (i >= off) nulls += !ok;
            switch (types[t].bits) {
                case 1:
                    v &= 1;
                    setbit(data, i, (int)v);
                    break;
                case 8: data[i] = (uint8_t)v; break;
                case 16: memcpy(data + 2 * i, &(int16_t){ (int16_t)v }, 2); break;
                case 32:
                    if (types[t].is_float) {
                        float f = (float)v + 0.25f;
                        memcpy(data + 4 * i, &f, 4);
                    } else {
                        memcpy(data + 4 * i, &(int32_t){ (int32_t)v }, 4);
                    }
                    break;
                default:
                    if (types[t].is_float) {
                        double d = (double)v + 0.25;
                        memcpy(data + 8 * i, &d, 8);
                    } else {
                        memcpy(data + 8 * i, &v, 8);
                    }
            }
            val[i] = types[t].is_float ? (double)v + 0.25 : (double)v;
            if (!types[t].is_signed && types[t].bits == 8) val[i] = (double)(uint8_t)v;
        }
        for (i = 0; i < n; i++) {
            int ok = bit(valid, off + i) && val[off + i] >= lo && val[off + i] <= hi;
            want += ok;
        }
        a = ta_array(&c, n, nulls, off, 2, valid, vbytes, data, dbytes, NULL, 0);
        s = ta_schema(&c, types[t].format);
        s.name = "price";
        {
            int rc = zenith_publish(e, &a, &s, 0, t);
            cr_assert_eq(rc, want == 0 ? 1 : 0, "%s: publish %d, %lld rows in range (C)", types[t].format, rc,
                         (long long)want);
        }
        if (want == 0) {
            free(data);
            free(valid);
            free(val);
            continue;
        }
        memset(bits, 0, sizeof bits);
        cr_assert_eq(zenith_poll_selection(e, &b, bits, sizeof bits, &sel), 1);
        cr_assert_eq(sel, want == n ? -1 : want, "%s: %lld rows pass, C says %lld", types[t].format, (long long)sel,
                     (long long)want);
        if (sel >= 0)
            for (i = 0; i < n; i++)
                cr_assert_eq(bit(bits, i), bit(valid, off + i) && val[off + i] >= lo && val[off + i] <= hi,
                             "%s row %lld", types[t].format, (long long)i);
        cr_assert_eq(zenith_batch_release(e, &b), 0);
        free(data);
        free(valid);
        free(val);
    }
    cr_assert_eq(pstats(e20, id).skipped + pstats(e20, id).failures, 0, "every type readable");
    cr_assert_eq(pstats(e20, id).calls + pstats(ebool, idb).calls, sizeof types / sizeof types[0]);
    cr_assert_eq(pstats(ebool, idb).calls, 1);
    zenith_free(e20);
    zenith_free(ebool);
}

/* Boundaries and special values on both float64 paths of the price filter (lo > 0: compared on
   the bits; lo <= 0: compared as doubles): exactly lo and hi pass, NaN, -0.0 against a positive
   lo, negatives, infinities and subnormals land where IEEE-754 comparisons put them. */
Test(plugin, price_filter_boundaries_and_special_values, .timeout = 30) {
    static const double ranges[][2] = { { 1.5, 2.5 },  { 1e-310, 1.0 },          { 0.0, 2.0 },
                                        { -1.0, 1.0 }, { 3.0, __builtin_inf() }, { 2.0, 1.0 } };
    const double inf = __builtin_inf(), nan = __builtin_nan("");
    const double v[] = { 1.5,
                         2.5,
                         1.4999999999999998,
                         2.5000000000000004,
                         2.0,
                         -0.0,
                         0.0,
                         -1.0,
                         1.0,
                         nan,
                         -nan,
                         inf,
                         -inf,
                         1e-310,
                         5e-324,
                         -5e-324,
                         3.0,
                         1e308,
                         -2.0,
                         0.5,
                         2.25,
                         1.75,
                         7.0,
                         1.0000000000000002 };
    unsigned r;
    for (r = 0; r < sizeof ranges / sizeof ranges[0]; r++) {
        ta_counts c = { 0, 0 };
        ZenithEngine e = mkengine(4);
        double lo = ranges[r][0], hi = ranges[r][1];
        int64_t n = (int64_t)(sizeof v / sizeof v[0]), i, want = 0, sel;
        struct ArrowArray a = ta_array(&c, n, 0, 0, 2, NULL, 0, v, sizeof v, NULL, 0);
        struct ArrowSchema s = ta_schema(&c, "g");
        uint8_t bits[8];
        zenith_batch b;
        int rc;
        load_price_filter(e, lo, hi, 1, 0);
        s.name = "price";
        for (i = 0; i < n; i++) want += v[i] >= lo && v[i] <= hi;
        rc = zenith_publish(e, &a, &s, 0, 0);
        if (want == 0) {
            cr_assert_eq(rc, 1, "[%g, %g]: nothing passes", lo, hi);
        } else {
            cr_assert_eq(rc, 0);
            memset(bits, 0, sizeof bits);
            cr_assert_eq(zenith_poll_selection(e, &b, bits, sizeof bits, &sel), 1);
            cr_assert_eq(sel, want == n ? -1 : want, "[%g, %g]: %lld pass, C says %lld", lo, hi, (long long)sel,
                         (long long)want);
            for (i = 0; i < n; i++)
                cr_assert_eq(bit(bits, i), v[i] >= lo && v[i] <= hi, "[%g, %g]: value %g", lo, hi, v[i]);
            cr_assert_eq(zenith_batch_release(e, &b), 0);
        }
        zenith_free(e);
    }
}

/* The memory cap: a batch that would need more than max_memory_pages is a failure (the plugin's
   zenith_plugin_alloc cannot grow the memory): passed on, counted as an error. */
Test(plugin, a_batch_beyond_the_memory_cap_is_an_error, .timeout = 30) {
    ta_counts c = { 0, 0 };
    ZenithEngine e = mkengine(4);
    size_t len;
    uint8_t *w = plugin_file("price_filter.wasm", &len);
    zenith_plugin_config cfg;
    char why[ZENITH_PLUGIN_REASON_MAX];
    struct ArrowArray a;
    struct ArrowSchema s;
    batch_src src;
    zenith_plugin_stats st;
    int id;
    memset(&cfg, 0, sizeof cfg);
    cfg.instances = 1;
    cfg.max_memory_pages = 2; /* 128 KiB: the plugin's page plus one */
    id = zenith_load_plugin_ex(e, w, len, &cfg, why, sizeof why);
    cr_assert_geq(id, 0, "%s", why);
    mk_batch(&c, 1000, 0, 0, 0, 0, &a, &s, &src); /* ~9 KiB of input: fits */
    cr_assert_eq(zenith_publish(e, &a, &s, 1, 0), 0);
    poll_whole(e);
    mk_batch(&c, 16000, 0, 0, 0, 0, &a, &s, &src); /* ~130 KiB: does not */
    cr_assert_eq(zenith_publish(e, &a, &s, 1, 1), 0, "passed on");
    poll_whole(e);
    st = pstats(e, id);
    cr_assert_eq(st.calls, 1, "the second batch never reached the plugin");
    cr_assert_eq(st.errors, 1);
    cr_assert_eq(st.consecutive_failures, 1);
    mk_batch(&c, 1000, 0, 0, 0, 0, &a, &s, &src);
    cr_assert_eq(zenith_publish(e, &a, &s, 1, 2), 0);
    poll_whole(e);
    st = pstats(e, id);
    cr_assert_eq(st.calls, 2, "smaller batches still run");
    cr_assert_eq(st.consecutive_failures, 0);
    free(w);
    zenith_free(e);
    cr_assert_eq(c.arrays, 3);
}

/* ---- host kernels --------------------------------------------------------------------------- */

Test(plugin, select_range_kernel_matches_c_with_nulls_and_offsets, .timeout = 60) {
    ta_counts c = { 0, 0 };
    ZenithEngine e = mkengine(64);
    int id = load_kernels(e, KMODE_SELECT);
    zenith_plugin_stats st;
    uint64_t passed = run_price_filter(e, &c, 95.0, 105.0, 72, 5, 0);
    passed += run_price_filter(e, &c, 95.0, 105.0, 24, 0, 0);
    cr_assert_gt(passed, 0u);
    st = pstats(e, id);
    cr_assert_eq(st.failures, 0, "no call failed");
    cr_assert_eq(st.calls, 96);
    zenith_free(e);
    cr_assert_eq(c.arrays, 96, "every batch released once");
}

static void kernel_fails(int32_t mode, int trap) {
    ta_counts c = { 0, 0 };
    ZenithEngine e = mkengine(8);
    int id = load_kernels(e, mode), k;
    zenith_plugin_stats st;
    for (k = 0; k < 3; k++) {
        cr_assert_eq(publish_one(e, &c, (uint64_t)k), 0, "mode %d: the batch is passed on", mode);
        poll_whole(e);
    }
    st = pstats(e, id);
    cr_assert_eq(st.traps, 3, "mode %d: %llu traps", mode, (unsigned long long)st.traps);
    cr_assert_eq(st.last_trap, trap, "mode %d: trap %d", mode, st.last_trap);
    cr_assert_eq(st.fuel_exhausted, trap == ZENITH_WASM_TRAP_FUEL ? 3u : 0u);
    cr_assert_eq(st.rows_out, 3, "the rows go on");
    zenith_free(e);
    cr_assert_eq(c.arrays, 3, "no batch lost");
}

Test(plugin, a_kernel_given_a_range_outside_the_memory_traps, .timeout = 30) {
    kernel_fails(KMODE_OOB, ZENITH_WASM_TRAP_MEMORY_OOB);
    kernel_fails(KMODE_DOT_OOB, ZENITH_WASM_TRAP_MEMORY_OOB);
}

Test(plugin, a_kernel_charges_fuel_for_its_rows, .timeout = 30) { kernel_fails(KMODE_FUEL, ZENITH_WASM_TRAP_FUEL); }
