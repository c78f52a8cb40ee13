/* zenith_wasm.h v0.1.0 -- a validating WebAssembly interpreter with no dependency (libc, libm):
   decoder, full validator, translator to threaded code, sandboxed interpreter. MIT licence, see
   end of file.

CONTENTS (search for the quoted text)
    Documentation          QUICK START, CONFIGURATION, OVERVIEW, STEP BY STEP, MEMORY & OWNERSHIP,
                           ERRORS, THREADING, LIMITS, ZENITH_WASM DOES NOT
    Public API             "Errors and traps" -> "Values and types" -> "Modules" (load,
                           introspection) -> "Stores" -> "Externs" (host functions, memories,
                           tables, globals) -> "Instances" -> "Calls"
    Implementation         "---- basics" -> "---- module layout" -> "---- decoder" (sections,
                           LEB128, names) -> "---- validator and translator" (one pass per
                           body; the code format) -> "---- run-time objects" -> "---- numeric
                           helpers" -> "---- interpreter" -> "---- errors" -> "---- module API"
                           -> "---- store and externs" -> "---- calls" -> "---- instantiation".
                           Each part uses only the parts before it.

QUICK START
    In exactly one C file (C99 or later; the implementation is C, not C++):

        #define ZENITH_WASM_IMPLEMENTATION
        #include "zenith_wasm.h"

    and include "zenith_wasm.h" without the define everywhere else (C99 or later, C++11 or
    later). Link with -lm. No other dependency: not zenith.h, not liburing, no threads library.

    Smallest program (cc run.c -I. -lm):

        #define ZENITH_WASM_IMPLEMENTATION
        #include "zenith_wasm.h"
        #include <stdio.h>

        int run(const void *bytes, size_t len) {
            zenith_wasm_error e = {0};
            zenith_wasm_module *m = zenith_wasm_module_load(bytes, len, &e);
            if (!m) return printf("refused: %s\n", e.message), e.code;
            zenith_wasm_store *s = zenith_wasm_store_create(NULL, NULL);   // defaults
            zenith_wasm_instance *in = zenith_wasm_instantiate(s, m, NULL, 0, &e);
            zenith_wasm_value arg = {ZENITH_WASM_I32, {.i32 = 41}}, res;
            int rc = in ? zenith_wasm_call(zenith_wasm_instance_export(in, "inc"), &arg, 1, &res, 1)
                        : e.code;
            if (rc == 0) printf("%d\n", res.of.i32);
            else printf("%s\n", zenith_wasm_strerror(rc));                // a trap, say
            zenith_wasm_store_destroy(s);                                  // instances, externs
            zenith_wasm_module_destroy(m);
            return rc;
        }

CONFIGURATION (define before including; "impl" = only the ZENITH_WASM_IMPLEMENTATION file)
    macro                            default      where   meaning
    ZENITH_WASM_IMPLEMENTATION       -            impl    compile the implementation here
    ZENITH_WASM_STATIC               -            every   all functions static (private copy)
    ZENITH_WASM_SHARED               -            every   default visibility for a -fvisibility=hidden .so
    ZENITH_WASM_API                  extern       every   linkage of every public function
    ZENITH_WASM_MALLOC(sz)/_REALLOC(p,sz)/_FREE(p)  malloc...  impl  allocator (all or none)
    ZENITH_WASM_NO_THREADED          -            impl    dispatch with a switch instead of
                                                          computed goto (automatic without GNU C)
    Runtime limits are in zenith_wasm_config (per store): memory pages, call depth, value
    stack, fuel.

OVERVIEW
    zenith_wasm_module_load decodes, fully validates and translates a binary module
    (WebAssembly 1.0 plus sign-extension operators, non-trapping float-to-int conversions and
    multi-value) into an immutable zenith_wasm_module. A refused module comes back with a code
    (ZENITH_WASM_E_MALFORMED: not a well-formed binary; ZENITH_WASM_E_INVALID: well-formed but
    does not validate; ZENITH_WASM_E_LIMIT: beyond this engine's limits), the section, the byte
    offset and a sentence saying what was expected. A loaded module is never run unvalidated.
    A zenith_wasm_store holds run-time objects: instances, host functions, memories, tables,
    globals (all "externs"), a value stack and a call stack. zenith_wasm_instantiate links a
    module against imports (externs created by the host or exported by another instance of the
    same store, shared, not copied), runs its start function, and returns an instance whose
    exports zenith_wasm_instance_export finds by name. zenith_wasm_call runs a function with
    typed arguments and results.
    Code is translated once, at load, into direct-threaded code (computed goto; a switch where
    GNU C is missing) for a stack-slot machine: every operand is a slot of the frame (locals and
    the operand stack), so local.get costs nothing and a result can land in a local directly;
    constants become immediates; an integer compare feeding br_if or if fuses into one
    compare-and-branch; branch targets are resolved; fuel is charged per loop iteration and per
    call, never per instruction. Calls between wasm functions never recurse on the C stack.

STEP BY STEP (a host function and a memory shared with the module)
        static int host_log(void *user, zenith_wasm_instance *caller,
                            const zenith_wasm_value *args, zenith_wasm_value *results) {
            (void)user; (void)results;
            printf("log %d\n", args[0].of.i32);
            return 0;                                  // or a negative code: the call traps
        }
        ...
        static const uint8_t p_i32[1] = {ZENITH_WASM_I32};
        zenith_wasm_functype t = {p_i32, 1, NULL, 0};
        zenith_wasm_extern *log = zenith_wasm_func_new(s, &t, host_log, NULL, &err);
        zenith_wasm_import imp[1] = {{"env", "log", log}};
        zenith_wasm_instance *in = zenith_wasm_instantiate(s, m, imp, 1, &e);
        zenith_wasm_extern *mem = zenith_wasm_instance_memory(in);       // memory 0
        zenith_wasm_memory_write(mem, 1024, "hello", 5);                 // bounds-checked

MEMORY & OWNERSHIP
    - zenith_wasm_module_load copies what it needs: the bytes are borrowed for the call. The
      module is yours until zenith_wasm_module_destroy, which must come after every store that
      instantiated it is destroyed (instances run the module's translated code).
    - A store owns everything created in it: instances, externs (host functions, memories,
      tables, globals, and the externs an instance exports), value and call stacks.
      zenith_wasm_store_destroy frees them all; there is no per-object free. A plugin that comes
      and goes gets a store of its own.
    - Extern and instance pointers are borrowed from their store: valid until it is destroyed.
    - Strings from zenith_wasm_strerror / _errname and names from introspection are static or
      borrowed from the module (valid until zenith_wasm_module_destroy).
    - Memory is allocated at load (the module), at store create (the stacks), at instantiate
      and at memory.grow; never during a call otherwise.

ERRORS
    Every fallible call returns int: 0 on success, a negative code on failure; creators return
    a pointer, or NULL with the code in *err (int *) or in a zenith_wasm_error (code, section,
    offset, message). Codes -1..-99 are API and load errors, -100.. are traps: a trap ends the
    call at once, the store stays usable (the instance's memory keeps whatever the module wrote
    before trapping). zenith_wasm_strerror / zenith_wasm_errname name every code.

THREADING
    - A loaded zenith_wasm_module is immutable: any number of threads may instantiate it and
      run instances of it concurrently, each in its own store.
    - A store, and everything in it, belongs to one thread at a time (the caller synchronises if
      it hands a store over); two stores never share anything but modules.
    - zenith_wasm_module_load, the module introspection calls, zenith_wasm_strerror /
      _errname / _version: any thread.

LIMITS
    - Per store (zenith_wasm_config): max_memory_pages (default 65536 = 4 GiB, also capped by
      each memory's own maximum), max_call_depth (default 10000 frames), value_stack_bytes
      (default 4 MiB; a frame needs 8 bytes per local and per operand), fuel per call (default
      0 = unlimited). Exhaustion of the call depth or the value stack is
      ZENITH_WASM_TRAP_STACK_EXHAUSTED, never a host stack overflow: calls between wasm
      functions do not recurse on the C stack. A host function may call back into its store
      (nested calls) up to ZENITH_WASM_MAX_NESTING (16) levels.
    - Per function: at most 65535 value slots (locals plus the operand stack's maximum height)
      and 16 MiB of translated code; beyond that the module is refused with
      ZENITH_WASM_E_LIMIT. Per module: at most 1,000,000 functions, types, imports, exports,
      globals and segments of each kind; at most 1000 parameters and 1000 results per
      function type. Tables: at most 10,000,000 elements (ZENITH_WASM_E_RANGE beyond).
    - Little-endian hosts only (x86-64, AArch64, RISC-V...).

ZENITH_WASM DOES NOT
    print, abort on any input, map guard pages or catch signals (every memory access is
    checked against the memory's size), let a module reach anything but its imports, or
    implement proposals beyond those above (no threads, SIMD, bulk memory, reference types).
*/
#ifndef ZENITH_WASM_H_INCLUDED
#define ZENITH_WASM_H_INCLUDED

#define ZENITH_WASM_VERSION_MAJOR 0
#define ZENITH_WASM_VERSION_MINOR 1
#define ZENITH_WASM_VERSION_PATCH 0
#define ZENITH_WASM_VERSION_STRING "0.1.0"

#include <stddef.h>
#include <stdint.h>

#ifndef ZENITH_WASM_API
#if defined(ZENITH_WASM_STATIC)
#if defined(__GNUC__)
#define ZENITH_WASM_API static __attribute__((unused))
#else
#define ZENITH_WASM_API static
#endif
#elif defined(ZENITH_WASM_SHARED) && defined(__GNUC__)
#define ZENITH_WASM_API extern __attribute__((visibility("default")))
#else
#define ZENITH_WASM_API extern
#endif
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* ---------------------------------------------------------------------------------------------
   Errors and traps
   ------------------------------------------------------------------------------------------ */

/* X(name, value, description). Traps are -100 and below. */
#define ZENITH_WASM_ERROR_LIST(X)                                                                          \
    X(ZENITH_WASM_OK, 0, "success")                                                                        \
    X(ZENITH_WASM_E_NULL, -1, "null pointer")                                                              \
    X(ZENITH_WASM_E_INVAL, -2, "invalid argument")                                                         \
    X(ZENITH_WASM_E_NOMEM, -3, "out of memory")                                                            \
    X(ZENITH_WASM_E_MALFORMED, -4, "malformed module (not a well-formed binary)")                          \
    X(ZENITH_WASM_E_INVALID, -5, "invalid module (does not validate)")                                     \
    X(ZENITH_WASM_E_LIMIT, -6, "module beyond this engine's limits")                                       \
    X(ZENITH_WASM_E_UNLINKABLE, -7, "unlinkable: an import is missing or of the wrong type")               \
    X(ZENITH_WASM_E_SEGMENT, -8, "a data or element segment does not fit at instantiation")                \
    X(ZENITH_WASM_E_NOT_FOUND, -9, "not found")                                                            \
    X(ZENITH_WASM_E_TYPE, -10, "argument or result count or type does not match the function")             \
    X(ZENITH_WASM_E_RANGE, -11, "out of range (memory access from the host, or a limit)")                  \
    X(ZENITH_WASM_E_STATE, -12, "not allowed now (inside a call of the store, or another store's object)") \
    X(ZENITH_WASM_E_UNSUPPORTED, -13, "unsupported configuration field")                                   \
    X(ZENITH_WASM_TRAP_UNREACHABLE, -100, "unreachable executed")                                          \
    X(ZENITH_WASM_TRAP_MEMORY_OOB, -101, "out of bounds memory access")                                    \
    X(ZENITH_WASM_TRAP_UNDEFINED_ELEMENT, -102, "undefined element (table index out of bounds)")           \
    X(ZENITH_WASM_TRAP_UNINITIALIZED_ELEMENT, -103, "uninitialized element")                               \
    X(ZENITH_WASM_TRAP_INDIRECT_TYPE, -104, "indirect call type mismatch")                                 \
    X(ZENITH_WASM_TRAP_DIV_ZERO, -105, "integer divide by zero")                                           \
    X(ZENITH_WASM_TRAP_INT_OVERFLOW, -106, "integer overflow")                                             \
    X(ZENITH_WASM_TRAP_INVALID_CONVERSION, -107, "invalid conversion to integer")                          \
    X(ZENITH_WASM_TRAP_STACK_EXHAUSTED, -108, "call stack exhausted (call depth or value stack)")          \
    X(ZENITH_WASM_TRAP_FUEL, -109, "fuel exhausted")                                                       \
    X(ZENITH_WASM_TRAP_HOST, -110, "host function trapped")

enum zenith_wasm_error_code {
#define ZENITH_WASM__ENUM(name, value, text) name = value,
    ZENITH_WASM_ERROR_LIST(ZENITH_WASM__ENUM)
#undef ZENITH_WASM__ENUM
        ZENITH_WASM_E_LAST_ = -111
};

/* 1 if code is a trap (ZENITH_WASM_TRAP_*), else 0. */
#define ZENITH_WASM_IS_TRAP(code) ((code) <= -100 && (code) >= -110)

/* Description of any code. Never NULL; static; any thread. */
ZENITH_WASM_API const char *zenith_wasm_strerror(int code);
/* Name of any code ("ZENITH_WASM_TRAP_FUEL"), "ZENITH_WASM_E_UNKNOWN" for others. Static. */
ZENITH_WASM_API const char *zenith_wasm_errname(int code);
/* "0.1.0" (the compiled implementation's version). Static; any thread. */
ZENITH_WASM_API const char *zenith_wasm_version_string(void);

/* Why a load or an instantiation failed. Zero it (or set struct_size) before the call; filled
   on failure. message is NUL-terminated, one line. */
typedef struct zenith_wasm_error {
    uint32_t struct_size; /* 0 or sizeof(zenith_wasm_error) as you compiled it */
    int32_t code;         /* ZENITH_WASM_E_*, or a trap from the start function */
    uint32_t section;     /* section id (0 custom .. 11 data), or 0xffffffff: none / header */
    uint32_t index;       /* function, segment or import index concerned, or 0xffffffff */
    uint64_t offset;      /* byte offset in the module's bytes (load), or 0 */
    char message[232];
} zenith_wasm_error;

/* ---------------------------------------------------------------------------------------------
   Values and types
   ------------------------------------------------------------------------------------------ */

/* Value types: the binary encoding's bytes. */
enum zenith_wasm_valtype {
    ZENITH_WASM_I32 = 0x7f,
    ZENITH_WASM_I64 = 0x7e,
    ZENITH_WASM_F32 = 0x7d,
    ZENITH_WASM_F64 = 0x7c
};

/* A typed value. Floats are carried bit for bit (NaN payloads included): use the u32/u64
   members to read or write exact bits. */
typedef struct zenith_wasm_value {
    uint32_t type; /* enum zenith_wasm_valtype */
    union {
        int32_t i32;
        int64_t i64;
        float f32;
        double f64;
        uint32_t u32; /* i32 or f32 bits */
        uint64_t u64; /* i64 or f64 bits */
    } of;
} zenith_wasm_value;

/* A function type: parameter and result value types (enum zenith_wasm_valtype bytes). */
typedef struct zenith_wasm_functype {
    const uint8_t *params;
    uint32_t nparams;
    const uint8_t *results;
    uint32_t nresults;
} zenith_wasm_functype;

/* Memory sizes are in 64 KiB pages, table sizes in elements. */
typedef struct zenith_wasm_limits {
    uint32_t min;
    uint32_t max;     /* meaningful when has_max */
    uint32_t has_max; /* 0 or 1 */
} zenith_wasm_limits;

enum zenith_wasm_extern_kind {
    ZENITH_WASM_EXTERN_FUNC = 0,
    ZENITH_WASM_EXTERN_TABLE = 1,
    ZENITH_WASM_EXTERN_MEMORY = 2,
    ZENITH_WASM_EXTERN_GLOBAL = 3
};

#define ZENITH_WASM_PAGE_SIZE 65536u

/* ---------------------------------------------------------------------------------------------
   Modules
   ------------------------------------------------------------------------------------------ */

typedef struct zenith_wasm_module zenith_wasm_module;

/* Decodes, validates and translates a binary module.
   Params: bytes, len (in, borrowed for the call); err (out, nullable): the reason on failure.
   Returns: the module (yours until zenith_wasm_module_destroy), or NULL with err->code =
     ZENITH_WASM_E_NULL (bytes NULL with len > 0), ZENITH_WASM_E_MALFORMED, ZENITH_WASM_E_INVALID,
     ZENITH_WASM_E_LIMIT, ZENITH_WASM_E_NOMEM; err->section, err->offset, err->message say where
     and what was expected.
   Thread safety: any thread. The module is immutable: share it between threads freely. */
ZENITH_WASM_API zenith_wasm_module *zenith_wasm_module_load(const void *bytes, size_t len, zenith_wasm_error *err);

/* Frees a module. Accepts NULL. Only after every store holding an instance of it is destroyed.
   Thread safety: one thread, when no other thread uses the module. */
ZENITH_WASM_API void zenith_wasm_module_destroy(zenith_wasm_module *module);

/* One import or export of a module. Strings are borrowed from the module and are not
   NUL-terminated in general (names may hold any UTF-8, NUL included): use the lengths. */
typedef struct zenith_wasm_extern_info {
    uint32_t struct_size; /* 0 or sizeof(zenith_wasm_extern_info) as you compiled it */
    uint32_t kind;        /* enum zenith_wasm_extern_kind */
    const char *module;   /* imports: the module name; exports: NULL */
    size_t module_len;
    const char *name; /* the field (import) or export name */
    size_t name_len;
    zenith_wasm_functype func; /* FUNC: the type (arrays borrowed from the module) */
    zenith_wasm_limits limits; /* TABLE, MEMORY */
    uint32_t global_type;      /* GLOBAL: enum zenith_wasm_valtype */
    uint32_t global_mutable;   /* GLOBAL: 0 or 1 */
} zenith_wasm_extern_info;

/* Number of imports / exports. 0 for NULL. Any thread. */
ZENITH_WASM_API uint32_t zenith_wasm_module_import_count(const zenith_wasm_module *module);
ZENITH_WASM_API uint32_t zenith_wasm_module_export_count(const zenith_wasm_module *module);
/* Import / export i into *out. Returns 0, ZENITH_WASM_E_NULL, ZENITH_WASM_E_RANGE (i too big),
   ZENITH_WASM_E_INVAL (out->struct_size smaller than the first layout). Any thread. */
ZENITH_WASM_API int zenith_wasm_module_import(const zenith_wasm_module *module, uint32_t i,
                                              zenith_wasm_extern_info *out);
ZENITH_WASM_API int zenith_wasm_module_export(const zenith_wasm_module *module, uint32_t i,
                                              zenith_wasm_extern_info *out);

/* ---------------------------------------------------------------------------------------------
   Stores
   ------------------------------------------------------------------------------------------ */

typedef struct zenith_wasm_store zenith_wasm_store;

/* Zero means default in every field. Borrowed for the call. Extensible: struct_size is the size
   as the caller compiled it (0 = this layout); unknown non-zero fields beyond this layout are
   refused with ZENITH_WASM_E_UNSUPPORTED. */
typedef struct zenith_wasm_config {
    uint32_t struct_size;       /* sizeof(zenith_wasm_config) as you compiled it; 0 = this layout */
    uint32_t max_memory_pages;  /* cap on any memory of the store, 64 KiB pages; 0 = 65536 */
    uint32_t max_call_depth;    /* wasm frames per call; 0 = 10000 */
    uint32_t value_stack_bytes; /* 0 = 4 MiB; at least 64 KiB */
    uint64_t fuel;              /* per call (zenith_wasm_call, start functions); 0 = unlimited */
} zenith_wasm_config;

/* Creates a store. cfg nullable (NULL = defaults).
   Returns the store, or NULL with *err (nullable) = ZENITH_WASM_E_INVAL (struct_size out of
   range, value_stack_bytes below 64 KiB), ZENITH_WASM_E_UNSUPPORTED, ZENITH_WASM_E_NOMEM.
   Thread safety: any thread; the store then belongs to one thread at a time. */
ZENITH_WASM_API zenith_wasm_store *zenith_wasm_store_create(const zenith_wasm_config *cfg, int *err);
/* Frees the store and everything in it (instances, externs, memories). Accepts NULL. Called
   from inside a host function of that store, it does nothing (the store is in use). */
ZENITH_WASM_API void zenith_wasm_store_destroy(zenith_wasm_store *store);
/* Sets the fuel budget of later calls (0 = unlimited). Returns 0 or ZENITH_WASM_E_NULL.
   Thread safety (and of fuel_used): the store's thread. */
ZENITH_WASM_API int zenith_wasm_store_set_fuel(zenith_wasm_store *store, uint64_t fuel);
/* Fuel the last top-level call (or instantiation's start function) consumed. 0 for NULL.
   A unit of fuel is one wasm instruction, charged ahead: a call charges the callee's
   instructions outside loops, each loop iteration the loop body's instructions outside nested
   loops, whether or not a branch leaves early (an upper bound, exact for straight-line code). */
ZENITH_WASM_API uint64_t zenith_wasm_store_fuel_used(const zenith_wasm_store *store);

/* ---------------------------------------------------------------------------------------------
   Externs: functions, tables, memories, globals (owned by their store)
   ------------------------------------------------------------------------------------------ */

/* Every call of this section: thread safety is the store's (its one thread at a time); the
   externs are owned by the store (valid until zenith_wasm_store_destroy, never freed alone);
   pointer parameters are borrowed for the call. */
typedef struct zenith_wasm_extern zenith_wasm_extern;
typedef struct zenith_wasm_instance zenith_wasm_instance;

/* A host function. args: nparams values (borrowed for the call, types as declared); results:
   write nresults values (their type fields are preset). caller: the calling instance (NULL when
   the host called it directly with zenith_wasm_call); its memory is
   zenith_wasm_instance_memory(caller). Return 0, or a negative code: a trap code is passed on
   as is, any other becomes ZENITH_WASM_TRAP_HOST. The function may call zenith_wasm_call on
   its store (nested, see LIMITS) but must not destroy the store. */
typedef int (*zenith_wasm_host_fn)(void *user, zenith_wasm_instance *caller, const zenith_wasm_value *args,
                                   zenith_wasm_value *results);
/* From inside a host function: takes `fuel` from the running call's budget, for work the host
   does on the wasm caller's behalf (a host function that loops over n values should charge in
   proportion to n, or a module could buy unbounded host work with one instruction). Returns 0;
   ZENITH_WASM_TRAP_FUEL when the budget is smaller (it is then empty: return that code from the
   host function and the call traps with it); ZENITH_WASM_E_NULL; ZENITH_WASM_E_STATE outside a
   call of caller's store. Thread safety: the store's thread (the host function's). */
ZENITH_WASM_API int zenith_wasm_charge(zenith_wasm_instance *caller, uint64_t fuel);

/* Creates a host function of the given type (copied). user comes back untouched.
   Returns the extern (owned by the store), or NULL with *err = ZENITH_WASM_E_NULL,
   ZENITH_WASM_E_INVAL (a bad value type), ZENITH_WASM_E_NOMEM. Thread safety: the store's. */
ZENITH_WASM_API zenith_wasm_extern *zenith_wasm_func_new(zenith_wasm_store *store, const zenith_wasm_functype *type,
                                                         zenith_wasm_host_fn fn, void *user, int *err);
/* Creates a zeroed memory of limits.min pages (max: limits.max if has_max, else the store's
   cap). Returns the extern, or NULL with *err = ZENITH_WASM_E_NULL, ZENITH_WASM_E_INVAL (min >
   max, over 65536 pages), ZENITH_WASM_E_RANGE (over the store's cap), ZENITH_WASM_E_NOMEM. */
ZENITH_WASM_API zenith_wasm_extern *zenith_wasm_memory_new(zenith_wasm_store *store, const zenith_wasm_limits *limits,
                                                           int *err);
/* Creates a funcref table of limits.min null elements. NULL with *err as memory_new. */
ZENITH_WASM_API zenith_wasm_extern *zenith_wasm_table_new(zenith_wasm_store *store, const zenith_wasm_limits *limits,
                                                          int *err);
/* Creates a global of value->type holding *value (bits kept). NULL with *err as above. */
ZENITH_WASM_API zenith_wasm_extern *zenith_wasm_global_new(zenith_wasm_store *store, const zenith_wasm_value *value,
                                                           int is_mutable, int *err);

/* The kind of an extern (enum zenith_wasm_extern_kind), or -1 for NULL. */
ZENITH_WASM_API int zenith_wasm_extern_kind(const zenith_wasm_extern *ext);
/* The type of a function extern into *out (arrays borrowed from the store/module). Returns 0,
   ZENITH_WASM_E_NULL, ZENITH_WASM_E_TYPE (not a function). */
ZENITH_WASM_API int zenith_wasm_func_type(const zenith_wasm_extern *func, zenith_wasm_functype *out);

/* Reads a global. Returns 0, ZENITH_WASM_E_NULL, ZENITH_WASM_E_TYPE (not a global). */
ZENITH_WASM_API int zenith_wasm_global_get(const zenith_wasm_extern *global, zenith_wasm_value *out);
/* Writes a mutable global. Returns 0, ZENITH_WASM_E_NULL, ZENITH_WASM_E_TYPE (not a global,
   immutable, or value->type differs). */
ZENITH_WASM_API int zenith_wasm_global_set(zenith_wasm_extern *global, const zenith_wasm_value *value);

/* The memory's bytes and size. The pointer is valid until the memory grows (memory.grow in a
   call, or zenith_wasm_memory_grow: the bytes may move) or the store is destroyed: take it
   again after every call into the store. NULL (and *size 0) for NULL or a non-memory; a memory
   of 0 pages may return NULL with *size 0. */
ZENITH_WASM_API uint8_t *zenith_wasm_memory_data(zenith_wasm_extern *memory, size_t *size);
/* Current size in pages; 0 for NULL or a non-memory. */
ZENITH_WASM_API uint32_t zenith_wasm_memory_pages(const zenith_wasm_extern *memory);
/* Grows by delta pages. Returns the previous size in pages (>= 0), or ZENITH_WASM_E_NULL,
   ZENITH_WASM_E_TYPE, ZENITH_WASM_E_RANGE (beyond the maximum or the store's cap),
   ZENITH_WASM_E_NOMEM. */
ZENITH_WASM_API int64_t zenith_wasm_memory_grow(zenith_wasm_extern *memory, uint32_t delta);
/* Copies len bytes between the memory at offset and dst/src, bounds-checked.
   Returns 0, ZENITH_WASM_E_NULL, ZENITH_WASM_E_TYPE, ZENITH_WASM_E_RANGE (offset + len beyond
   the memory: nothing copied). */
ZENITH_WASM_API int zenith_wasm_memory_read(const zenith_wasm_extern *memory, uint64_t offset, void *dst, size_t len);
ZENITH_WASM_API int zenith_wasm_memory_write(zenith_wasm_extern *memory, uint64_t offset, const void *src, size_t len);

/* Table size in elements (0 for NULL or a non-table). */
ZENITH_WASM_API uint32_t zenith_wasm_table_size(const zenith_wasm_extern *table);
/* Element i of a table: a function extern, or NULL when the element is null. Returns 0,
   ZENITH_WASM_E_NULL, ZENITH_WASM_E_TYPE, ZENITH_WASM_E_RANGE. */
ZENITH_WASM_API int zenith_wasm_table_get(const zenith_wasm_extern *table, uint32_t i, zenith_wasm_extern **out);
/* Sets element i to func (a function of the same store, or NULL). Returns 0, ZENITH_WASM_E_NULL,
   ZENITH_WASM_E_TYPE, ZENITH_WASM_E_RANGE, ZENITH_WASM_E_STATE (another store's function). */
ZENITH_WASM_API int zenith_wasm_table_set(zenith_wasm_extern *table, uint32_t i, zenith_wasm_extern *func);

/* ---------------------------------------------------------------------------------------------
   Instances
   ------------------------------------------------------------------------------------------ */

/* One import by name: module and name are NUL-terminated; ext from the same store. */
typedef struct zenith_wasm_import {
    const char *module;
    const char *name;
    zenith_wasm_extern *ext;
} zenith_wasm_import;

/* Instantiates a module: resolves each of its imports by (module, name) in imports[0..n)
   (first match), checks types, creates its functions, table, memory and globals, writes its
   element and data segments (all checked first: nothing is written if one does not fit), and
   runs its start function with the store's fuel.
   Params: store, module (borrowed; must outlive the store), imports (borrowed for the call,
   nullable when n is 0), err (out, nullable).
   Returns the instance (owned by the store), or NULL with err->code = ZENITH_WASM_E_NULL,
     ZENITH_WASM_E_UNLINKABLE (err->index: the import), ZENITH_WASM_E_SEGMENT (err->index: the
     segment), ZENITH_WASM_E_STATE (an extern of another store, or called from inside a host
     function of this store), ZENITH_WASM_E_RANGE (a memory
     over the store's cap), ZENITH_WASM_E_NOMEM, or the trap code of the start function (then the
     segments' writes into imported tables and memories stay, as the spec says).
   Thread safety: the store's thread. */
ZENITH_WASM_API zenith_wasm_instance *zenith_wasm_instantiate(zenith_wasm_store *store,
                                                              const zenith_wasm_module *module,
                                                              const zenith_wasm_import *imports, size_t n,
                                                              zenith_wasm_error *err);
/* The same, with imports given in the module's import order (externs[i] for import i, as
   zenith_wasm_module_import lists them): for names that are not NUL-free strings. */
ZENITH_WASM_API zenith_wasm_instance *zenith_wasm_instantiate_ordered(zenith_wasm_store *store,
                                                                      const zenith_wasm_module *module,
                                                                      zenith_wasm_extern *const *externs, size_t n,
                                                                      zenith_wasm_error *err);

/* The export of that name (NUL-terminated), or NULL (none, or NULL arguments). The extern is
   owned by the store. _n: the name as bytes and a length. The store's thread. */
ZENITH_WASM_API zenith_wasm_extern *zenith_wasm_instance_export(zenith_wasm_instance *instance, const char *name);
ZENITH_WASM_API zenith_wasm_extern *zenith_wasm_instance_export_n(zenith_wasm_instance *instance, const char *name,
                                                                  size_t len);
/* The instance's memory 0 (exported or not; the host is trusted), or NULL if it has none
   (or for NULL). Owned by the store. The store's thread. */
ZENITH_WASM_API zenith_wasm_extern *zenith_wasm_instance_memory(zenith_wasm_instance *instance);
/* The store an instance or an extern belongs to (NULL for NULL). Any thread that may use it. */
ZENITH_WASM_API zenith_wasm_store *zenith_wasm_instance_store(const zenith_wasm_instance *instance);
ZENITH_WASM_API zenith_wasm_store *zenith_wasm_extern_store(const zenith_wasm_extern *ext);

/* ---------------------------------------------------------------------------------------------
   Calls
   ------------------------------------------------------------------------------------------ */

/* Calls a function extern (of a module or of the host) with typed arguments, on its store's
   thread, with the store's fuel budget (a nested call from a host function spends what is
   left of the outer call's).
   Params: func; args (in, borrowed: nargs values, types must match exactly); results (out:
   nresults values, must equal the function's result count; their types are set).
   Returns 0, or ZENITH_WASM_E_NULL, ZENITH_WASM_E_TYPE (count or type mismatch), or a trap code
   ZENITH_WASM_TRAP_* (results untouched then; ZENITH_WASM_TRAP_STACK_EXHAUSTED also when host
   functions re-enter deeper than ZENITH_WASM_MAX_NESTING). Thread safety: the store's thread. */
ZENITH_WASM_API int zenith_wasm_call(zenith_wasm_extern *func, const zenith_wasm_value *args, size_t nargs,
                                     zenith_wasm_value *results, size_t nresults);

#ifdef __cplusplus
}
#endif

#endif /* ZENITH_WASM_H_INCLUDED */

/* =============================================================================================
   Implementation
   ========================================================================================== */
#ifdef ZENITH_WASM_IMPLEMENTATION
#ifndef ZENITH_WASM_IMPLEMENTATION_INCLUDED
#define ZENITH_WASM_IMPLEMENTATION_INCLUDED

/* ---- basics ------------------------------------------------------------------------------- */

#if defined(__cplusplus)
#error "zenith_wasm.h: the implementation is C (C99 or later): define ZENITH_WASM_IMPLEMENTATION in a .c file"
#endif

#if defined(ZENITH_WASM_MALLOC) || defined(ZENITH_WASM_REALLOC) || defined(ZENITH_WASM_FREE)
#if !defined(ZENITH_WASM_MALLOC) || !defined(ZENITH_WASM_REALLOC) || !defined(ZENITH_WASM_FREE)
#error "define all of ZENITH_WASM_MALLOC, ZENITH_WASM_REALLOC and ZENITH_WASM_FREE, or none"
#endif
#define ZENITH_WASM__USER_ALLOC 1
#else
#define ZENITH_WASM_MALLOC(sz) malloc(sz)
#define ZENITH_WASM_REALLOC(p, sz) realloc(p, sz)
#define ZENITH_WASM_FREE(p) free(p)
#endif
#ifndef ZENITH_WASM_MAX_NESTING
#define ZENITH_WASM_MAX_NESTING 16
#endif
#if !defined(ZENITH_WASM_NO_THREADED) && (defined(__GNUC__) || defined(__clang__))
#define ZENITH_WASM__THREADED 1
#else
#define ZENITH_WASM__THREADED 0
#endif
#if defined(__BYTE_ORDER__) && defined(__ORDER_BIG_ENDIAN__)
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
#error "zenith_wasm.h: little-endian hosts only"
#endif
#endif

#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ZENITH_WASM__MAX_ITEMS 1000000u
#define ZENITH_WASM__MAX_SLOTS 65535u
/* distinct constants of loops per function kept in slots of their own (see hoist_scan) */
#define ZENITH_WASM__MAX_HOIST 32u
#define ZENITH_WASM__MAX_ARITY 1000u
#define ZENITH_WASM__MAX_CODE (16u << 20)
#define ZENITH_WASM__NONE 0xffffffffu

typedef union zenith_wasm__slot {
    uint32_t u32;
    int32_t i32;
    uint64_t u64;
    int64_t i64;
    float f32;
    double f64;
} zenith_wasm__slot;

struct zenith_wasm__fcode;
/* One cell of translated code: a handler (address or op number) or an operand word. */
typedef union zenith_wasm__cell {
    const void *h;
    uint64_t u;
    int64_t i;
    uint16_t s[4]; /* the four 16-bit fields of u, in order (little-endian hosts) */
    uint32_t w[2]; /* its two halves */
    const struct zenith_wasm__fcode *fn;
} zenith_wasm__cell;

static void *zenith_wasm__alloc(size_t n) { return ZENITH_WASM_MALLOC(n ? n : 1); }
static void *zenith_wasm__calloc(size_t count, size_t size) {
    void *p;
    if (size && count > SIZE_MAX / size) return NULL;
    p = zenith_wasm__alloc(count * size);
    if (p) memset(p, 0, (count * size) != 0 ? count * size : 1);
    return p;
}
static void zenith_wasm__free(void *p) {
    if (p) ZENITH_WASM_FREE(p);
}
/* Grows *arr (element size es) to hold at least need elements. 0 or ZENITH_WASM_E_NOMEM. */
static int zenith_wasm__grow(void *arr, size_t *cap, size_t need, size_t es) {
    void **pp = (void **)arr;
    size_t n = *cap ? *cap : 8;
    void *q;
    if (need <= *cap) return 0;
    while (n < need) n *= 2;
    if (n > SIZE_MAX / es) return ZENITH_WASM_E_NOMEM;
    q = ZENITH_WASM_REALLOC(*pp, n * es);
    if (q == NULL) return ZENITH_WASM_E_NOMEM;
    *pp = q;
    *cap = n;
    return 0;
}

/* ---- module layout ------------------------------------------------------------------------ */

typedef struct zenith_wasm__type {
    uint8_t *t; /* params then results */
    uint32_t np, nr;
} zenith_wasm__type;

typedef struct zenith_wasm__cexpr { /* a constant expression */
    uint8_t op;                     /* 0x41..0x44 const, 0x23 global.get */
    uint8_t type;
    uint32_t index;
    zenith_wasm__slot v;
} zenith_wasm__cexpr;

typedef struct zenith_wasm__import {
    const char *mod, *name;
    uint32_t mod_len, name_len;
    uint8_t kind;
    uint32_t index; /* FUNC: type index; GLOBAL: global index */
} zenith_wasm__import;

typedef struct zenith_wasm__export {
    const char *name;
    uint32_t name_len;
    uint8_t kind;
    uint32_t index;
} zenith_wasm__export;

typedef struct zenith_wasm__global {
    uint8_t type, mut, imported;
    zenith_wasm__cexpr init;
} zenith_wasm__global;

typedef struct zenith_wasm__elem {
    zenith_wasm__cexpr offset;
    uint32_t *funcs;
    uint32_t n;
} zenith_wasm__elem;

typedef struct zenith_wasm__data {
    zenith_wasm__cexpr offset;
    const uint8_t *bytes;
    uint32_t n;
} zenith_wasm__data;

typedef struct zenith_wasm__fcode {
    uint32_t type;                  /* type index */
    uint32_t nparams, nlocals;      /* nlocals includes the parameters */
    uint32_t nresults, frame_slots; /* frame_slots: locals + the operand stack's maximum */
    uint32_t fuel;                  /* charged at each call */
    uint8_t *local_types;
    zenith_wasm__cell *code;
    size_t ncode;
    const uint8_t *body; /* the locals and expression, in the module's copy of the bytes */
    size_t body_len;
    uint64_t body_offset;
} zenith_wasm__fcode;

struct zenith_wasm_module {
    uint8_t *bytes; /* our copy: names and data segments point into it */
    size_t len;
    zenith_wasm__type *types;
    uint32_t ntypes;
    zenith_wasm__import *imports;
    uint32_t nimports;
    uint32_t *func_types; /* type index of every function, imports first */
    uint32_t nfuncs, nfunc_imports;
    zenith_wasm__fcode *code; /* nfuncs - nfunc_imports */
    uint32_t ntables, table_imported;
    zenith_wasm_limits table;
    uint32_t nmems, mem_imported;
    zenith_wasm_limits mem;
    zenith_wasm__global *globals;
    uint32_t nglobals, nglobal_imports;
    zenith_wasm__export *exports;
    uint32_t nexports;
    uint32_t start; /* ZENITH_WASM__NONE if none */
    zenith_wasm__elem *elems;
    uint32_t nelems;
    zenith_wasm__data *datas;
    uint32_t ndatas;
};

/* ---- decoder ------------------------------------------------------------------------------ */

typedef struct zenith_wasm__rd {
    const uint8_t *p, *end, *base;
    zenith_wasm_error *err;
    uint32_t section;
    uint32_t index;
    int invalid; /* a validation error was recorded while decoding (malformed still wins) */
} zenith_wasm__rd;

static void zenith_wasm__vset(zenith_wasm_error *e, int code, uint32_t section, uint32_t index, uint64_t offset,
                              const char *fmt, va_list ap) {
    if (e == NULL) return;
    e->code = code;
    e->section = section;
    e->index = index;
    e->offset = offset;
    vsnprintf(e->message, sizeof e->message, fmt, ap);
}

#if defined(__GNUC__)
__attribute__((format(printf, 3, 4)))
#endif
static int
zenith_wasm__fail(zenith_wasm__rd *r, int code, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    zenith_wasm__vset(r->err, code, r->section, r->index, (uint64_t)(r->p - r->base), fmt, ap);
    va_end(ap);
    return code;
}

/* Records a validation error found while decoding; decoding goes on (a later malformation
   still wins, as decoding comes before validation in the spec). */
#if defined(__GNUC__)
__attribute__((format(printf, 2, 3)))
#endif
static void
zenith_wasm__defer_invalid(zenith_wasm__rd *r, const char *fmt, ...) {
    va_list ap;
    if (r->invalid) return;
    r->invalid = 1;
    va_start(ap, fmt);
    zenith_wasm__vset(r->err, ZENITH_WASM_E_INVALID, r->section, r->index, (uint64_t)(r->p - r->base), fmt, ap);
    va_end(ap);
}

#define ZENITH_WASM__TRY(x)                                \
    do {                                                   \
        int zenith_wasm__rc_ = (x);                        \
        if (zenith_wasm__rc_ < 0) return zenith_wasm__rc_; \
    } while (0)

static int zenith_wasm__eof(zenith_wasm__rd *r) {
    return zenith_wasm__fail(r, ZENITH_WASM_E_MALFORMED, "unexpected end (of section or function)");
}

static int zenith_wasm__byte(zenith_wasm__rd *r, uint8_t *out) {
    *out = 0;
    if (r->p >= r->end) return zenith_wasm__eof(r);
    *out = *r->p++;
    return 0;
}

/* LEB128 of at most `bits` bits; signed or not. Overlong encodings and set unused bits are
   malformed ("integer representation too long", "integer too large"). */
static int zenith_wasm__leb(zenith_wasm__rd *r, unsigned bits, int is_signed, uint64_t *out) {
    uint64_t result = 0;
    unsigned shift = 0;
    uint8_t b;
    *out = 0;
    for (;;) {
        if (r->p >= r->end) return zenith_wasm__eof(r);
        b = *r->p++;
        if (shift + 7 >= bits) {           /* the last byte this width allows */
            unsigned valid = bits - shift; /* 1..7 bits of it count */
            uint8_t unused = (uint8_t)(0x7f & ~((1u << valid) - 1u));
            if (b & 0x80) return zenith_wasm__fail(r, ZENITH_WASM_E_MALFORMED, "integer representation too long");
            if (is_signed) {
                uint8_t with_sign = (uint8_t)(0x7f & ~((1u << (valid - 1)) - 1u));
                uint8_t top = b & with_sign;
                if (top != 0 && top != with_sign)
                    return zenith_wasm__fail(r, ZENITH_WASM_E_MALFORMED, "integer too large");
            } else if (b & unused) {
                return zenith_wasm__fail(r, ZENITH_WASM_E_MALFORMED, "integer too large");
            }
            if (shift < 64) result |= (uint64_t)(b & 0x7f) << shift;
            shift += 7;
            break;
        }
        result |= (uint64_t)(b & 0x7f) << shift;
        shift += 7;
        if (!(b & 0x80)) break;
    }
    if (is_signed && shift < 64 && (b & 0x40)) result |= ~(uint64_t)0 << shift;
    *out = result;
    return 0;
}

static int zenith_wasm__u32(zenith_wasm__rd *r, uint32_t *out) {
    uint64_t v;
    *out = 0;
    ZENITH_WASM__TRY(zenith_wasm__leb(r, 32, 0, &v));
    *out = (uint32_t)v;
    return 0;
}

/* A count of items that each take at least one byte: bounded by what is left. */
static int zenith_wasm__count(zenith_wasm__rd *r, uint32_t *out, const char *what) {
    ZENITH_WASM__TRY(zenith_wasm__u32(r, out));
    if (*out > (size_t)(r->end - r->p))
        return zenith_wasm__fail(r, ZENITH_WASM_E_MALFORMED, "unexpected end: %u %s announced", *out, what);
    if (*out > ZENITH_WASM__MAX_ITEMS)
        return zenith_wasm__fail(r, ZENITH_WASM_E_LIMIT, "%u %s (at most %u)", *out, what, ZENITH_WASM__MAX_ITEMS);
    return 0;
}

static int zenith_wasm__utf8_ok(const uint8_t *s, size_t n) {
    size_t i = 0;
    while (i < n) {
        uint8_t c = s[i];
        uint32_t cp;
        size_t k, len;
        if (c < 0x80) {
            i++;
            continue;
        } else if (c >= 0xc2 && c <= 0xdf) {
            len = 2;
            cp = c & 0x1fu;
        } else if (c >= 0xe0 && c <= 0xef) {
            len = 3;
            cp = c & 0x0fu;
        } else if (c >= 0xf0 && c <= 0xf4) {
            len = 4;
            cp = c & 0x07u;
        } else {
            return 0;
        }
        if (n - i < len) return 0;
        for (k = 1; k < len; k++) {
            if ((s[i + k] & 0xc0) != 0x80) return 0;
            cp = (cp << 6) | (s[i + k] & 0x3fu);
        }
        if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10ffff)) || (cp >= 0xd800 && cp <= 0xdfff))
            return 0;
        i += len;
    }
    return 1;
}

static int zenith_wasm__name(zenith_wasm__rd *r, const char **s, uint32_t *n) {
    ZENITH_WASM__TRY(zenith_wasm__u32(r, n));
    if (*n > (size_t)(r->end - r->p)) return zenith_wasm__fail(r, ZENITH_WASM_E_MALFORMED, "unexpected end of name");
    if (!zenith_wasm__utf8_ok(r->p, *n))
        return zenith_wasm__fail(r, ZENITH_WASM_E_MALFORMED, "malformed UTF-8 encoding");
    *s = (const char *)r->p;
    r->p += *n;
    return 0;
}

static int zenith_wasm__is_valtype(uint8_t b) { return b >= 0x7c && b <= 0x7f; }

static int zenith_wasm__valtype(zenith_wasm__rd *r, uint8_t *t) {
    *t = 0;
    ZENITH_WASM__TRY(zenith_wasm__byte(r, t));
    if (!zenith_wasm__is_valtype(*t)) {
        r->p--;
        return zenith_wasm__fail(r, ZENITH_WASM_E_MALFORMED, "malformed value type 0x%02x", *t);
    }
    return 0;
}

/* limits; max_allowed bounds min and max (validation: 65536 pages for memories). */
static int zenith_wasm__limits(zenith_wasm__rd *r, zenith_wasm_limits *l, uint64_t max_allowed, const char *what) {
    uint8_t flag;
    ZENITH_WASM__TRY(zenith_wasm__byte(r, &flag));
    if (flag > 1) {
        r->p--;
        return zenith_wasm__fail(r, ZENITH_WASM_E_MALFORMED, "integer too large: limits flag 0x%02x", flag);
    }
    ZENITH_WASM__TRY(zenith_wasm__u32(r, &l->min));
    l->has_max = flag;
    l->max = 0;
    if (flag) ZENITH_WASM__TRY(zenith_wasm__u32(r, &l->max));
    if (l->min > max_allowed || (flag && l->max > max_allowed))
        zenith_wasm__defer_invalid(r, "%s size must be at most %llu", what, (unsigned long long)max_allowed);
    if (flag && l->min > l->max) zenith_wasm__defer_invalid(r, "size minimum must not be greater than maximum");
    return 0;
}

/* A constant expression of type `type`. nglobals_visible: the globals it may read (the
   imported ones, in WebAssembly 1.0). */
static int zenith_wasm__const_expr(zenith_wasm__rd *r, const zenith_wasm_module *m, uint8_t type,
                                   zenith_wasm__cexpr *e) {
    uint8_t op, end;
    uint64_t v;
    ZENITH_WASM__TRY(zenith_wasm__byte(r, &op));
    memset(e, 0, sizeof *e);
    e->op = op;
    switch (op) {
        case 0x41:
            ZENITH_WASM__TRY(zenith_wasm__leb(r, 32, 1, &v));
            e->type = ZENITH_WASM_I32;
            e->v.u32 = (uint32_t)v;
            break;
        case 0x42:
            ZENITH_WASM__TRY(zenith_wasm__leb(r, 64, 1, &v));
            e->type = ZENITH_WASM_I64;
            e->v.u64 = v;
            break;
        case 0x43:
            if (r->end - r->p < 4) return zenith_wasm__eof(r);
            memcpy(&e->v.u32, r->p, 4);
            r->p += 4;
            e->type = ZENITH_WASM_F32;
            break;
        case 0x44:
            if (r->end - r->p < 8) return zenith_wasm__eof(r);
            memcpy(&e->v.u64, r->p, 8);
            r->p += 8;
            e->type = ZENITH_WASM_F64;
            break;
        case 0x23:
            ZENITH_WASM__TRY(zenith_wasm__u32(r, &e->index));
            if (e->index >= m->nglobal_imports) {
                if (e->index < m->nglobals)
                    zenith_wasm__defer_invalid(
                        r, "unknown global %u: a constant expression reads imported globals only", e->index);
                else
                    zenith_wasm__defer_invalid(r, "unknown global %u", e->index);
                e->type = type;
            } else {
                e->type = m->globals[e->index].type;
                if (m->globals[e->index].mut)
                    zenith_wasm__defer_invalid(r, "constant expression required: global %u is mutable", e->index);
            }
            break;
        case 0x0b:
            r->p--;
            zenith_wasm__defer_invalid(r, "type mismatch: empty constant expression, expected a %s", "value");
            e->type = type;
            break;
        default:
            r->p--;
            zenith_wasm__defer_invalid(r, "constant expression required (found opcode 0x%02x)", op);
            return ZENITH_WASM_E_INVALID;
    }
    ZENITH_WASM__TRY(zenith_wasm__byte(r, &end));
    if (end != 0x0b) {
        r->p--;
        if (end == 0x41 || end == 0x42 || end == 0x43 || end == 0x44 || end == 0x23)
            zenith_wasm__defer_invalid(r, "type mismatch: constant expression leaves more than one value");
        else
            zenith_wasm__defer_invalid(r, "constant expression required (found opcode 0x%02x)", end);
        return ZENITH_WASM_E_INVALID;
    }
    if (e->type != type) zenith_wasm__defer_invalid(r, "type mismatch in constant expression");
    return 0;
}

static int zenith_wasm__sec_types(zenith_wasm__rd *r, zenith_wasm_module *m) {
    uint32_t n, i, k;
    ZENITH_WASM__TRY(zenith_wasm__count(r, &n, "types"));
    m->types = (zenith_wasm__type *)zenith_wasm__calloc(n, sizeof *m->types);
    if (!m->types) return ZENITH_WASM_E_NOMEM;
    for (i = 0; i < n; i++) {
        zenith_wasm__type *t = &m->types[i];
        uint8_t form;
        uint32_t np, nr;
        const uint8_t *ps;
        r->index = i;
        ZENITH_WASM__TRY(zenith_wasm__byte(r, &form));
        if (form != 0x60) {
            r->p--;
            return zenith_wasm__fail(r, ZENITH_WASM_E_MALFORMED,
                                     "integer representation too long: function type form 0x%02x, expected 0x60", form);
        }
        ZENITH_WASM__TRY(zenith_wasm__count(r, &np, "parameters"));
        if (np > ZENITH_WASM__MAX_ARITY)
            return zenith_wasm__fail(r, ZENITH_WASM_E_LIMIT, "%u parameters (at most %u)", np, ZENITH_WASM__MAX_ARITY);
        ps = r->p;
        for (k = 0; k < np; k++) {
            uint8_t vt;
            ZENITH_WASM__TRY(zenith_wasm__valtype(r, &vt));
        }
        ZENITH_WASM__TRY(zenith_wasm__count(r, &nr, "results"));
        if (nr > ZENITH_WASM__MAX_ARITY)
            return zenith_wasm__fail(r, ZENITH_WASM_E_LIMIT, "%u results (at most %u)", nr, ZENITH_WASM__MAX_ARITY);
        t->t = (uint8_t *)zenith_wasm__alloc((size_t)np + nr);
        if (!t->t) return ZENITH_WASM_E_NOMEM;
        m->ntypes = i + 1; /* freed with the module from here on */
        memcpy(t->t, ps, np);
        for (k = 0; k < nr; k++) ZENITH_WASM__TRY(zenith_wasm__valtype(r, &t->t[np + k]));
        t->np = np;
        t->nr = nr;
    }
    return 0;
}

static int zenith_wasm__sec_imports(zenith_wasm__rd *r, zenith_wasm_module *m) {
    uint32_t n, i;
    ZENITH_WASM__TRY(zenith_wasm__count(r, &n, "imports"));
    m->imports = (zenith_wasm__import *)zenith_wasm__calloc(n, sizeof *m->imports);
    m->func_types = (uint32_t *)zenith_wasm__calloc(n, sizeof *m->func_types);
    m->globals = (zenith_wasm__global *)zenith_wasm__calloc(n, sizeof *m->globals);
    if (!m->imports || !m->func_types || !m->globals) return ZENITH_WASM_E_NOMEM;
    for (i = 0; i < n; i++) {
        zenith_wasm__import *im = &m->imports[i];
        uint8_t kind;
        r->index = i;
        ZENITH_WASM__TRY(zenith_wasm__name(r, &im->mod, &im->mod_len));
        ZENITH_WASM__TRY(zenith_wasm__name(r, &im->name, &im->name_len));
        ZENITH_WASM__TRY(zenith_wasm__byte(r, &kind));
        im->kind = kind;
        switch (kind) {
            case ZENITH_WASM_EXTERN_FUNC:
                ZENITH_WASM__TRY(zenith_wasm__u32(r, &im->index));
                if (im->index >= m->ntypes) zenith_wasm__defer_invalid(r, "unknown type %u", im->index);
                m->func_types[m->nfuncs++] = im->index;
                m->nfunc_imports++;
                break;
            case ZENITH_WASM_EXTERN_TABLE: {
                uint8_t et;
                ZENITH_WASM__TRY(zenith_wasm__byte(r, &et));
                if (et != 0x70)
                    return zenith_wasm__fail(r, ZENITH_WASM_E_MALFORMED, "malformed element type 0x%02x", et);
                ZENITH_WASM__TRY(zenith_wasm__limits(r, &m->table, 0xffffffffu, "table"));
                if (++m->ntables > 1) zenith_wasm__defer_invalid(r, "multiple tables");
                m->table_imported = 1;
                break;
            }
            case ZENITH_WASM_EXTERN_MEMORY:
                ZENITH_WASM__TRY(zenith_wasm__limits(r, &m->mem, 65536, "memory"));
                if (++m->nmems > 1) zenith_wasm__defer_invalid(r, "multiple memories");
                m->mem_imported = 1;
                break;
            case ZENITH_WASM_EXTERN_GLOBAL: {
                zenith_wasm__global *g = &m->globals[m->nglobals];
                uint8_t mut;
                ZENITH_WASM__TRY(zenith_wasm__valtype(r, &g->type));
                ZENITH_WASM__TRY(zenith_wasm__byte(r, &mut));
                if (mut > 1) return zenith_wasm__fail(r, ZENITH_WASM_E_MALFORMED, "malformed mutability 0x%02x", mut);
                g->mut = mut;
                g->imported = 1;
                im->index = m->nglobals++;
                m->nglobal_imports++;
                break;
            }
            default: r->p--; return zenith_wasm__fail(r, ZENITH_WASM_E_MALFORMED, "malformed import kind 0x%02x", kind);
        }
        m->nimports = i + 1;
    }
    return 0;
}

static int zenith_wasm__sec_funcs(zenith_wasm__rd *r, zenith_wasm_module *m) {
    uint32_t n, i;
    uint32_t *ft;
    ZENITH_WASM__TRY(zenith_wasm__count(r, &n, "functions"));
    if ((size_t)m->nfuncs + n > ZENITH_WASM__MAX_ITEMS)
        return zenith_wasm__fail(r, ZENITH_WASM_E_LIMIT, "too many functions");
    ft = (uint32_t *)ZENITH_WASM_REALLOC(m->func_types, ((size_t)m->nfuncs + n + 1) * sizeof *ft);
    if (!ft) return ZENITH_WASM_E_NOMEM;
    m->func_types = ft;
    m->code = (zenith_wasm__fcode *)zenith_wasm__calloc(n, sizeof *m->code);
    if (!m->code) return ZENITH_WASM_E_NOMEM;
    for (i = 0; i < n; i++) {
        uint32_t t;
        r->index = i;
        ZENITH_WASM__TRY(zenith_wasm__u32(r, &t));
        if (t >= m->ntypes) zenith_wasm__defer_invalid(r, "unknown type %u", t);
        m->func_types[m->nfuncs++] = t;
        m->code[i].type = t;
    }
    return 0;
}

static int zenith_wasm__sec_tables(zenith_wasm__rd *r, zenith_wasm_module *m) {
    uint32_t n, i;
    ZENITH_WASM__TRY(zenith_wasm__count(r, &n, "tables"));
    for (i = 0; i < n; i++) {
        uint8_t et;
        r->index = i;
        ZENITH_WASM__TRY(zenith_wasm__byte(r, &et));
        if (et != 0x70) return zenith_wasm__fail(r, ZENITH_WASM_E_MALFORMED, "malformed element type 0x%02x", et);
        ZENITH_WASM__TRY(zenith_wasm__limits(r, &m->table, 0xffffffffu, "table"));
        if (++m->ntables > 1) zenith_wasm__defer_invalid(r, "multiple tables");
    }
    return 0;
}

static int zenith_wasm__sec_mems(zenith_wasm__rd *r, zenith_wasm_module *m) {
    uint32_t n, i;
    ZENITH_WASM__TRY(zenith_wasm__count(r, &n, "memories"));
    for (i = 0; i < n; i++) {
        r->index = i;
        ZENITH_WASM__TRY(zenith_wasm__limits(r, &m->mem, 65536, "memory"));
        if (++m->nmems > 1) zenith_wasm__defer_invalid(r, "multiple memories");
    }
    return 0;
}

static int zenith_wasm__sec_globals(zenith_wasm__rd *r, zenith_wasm_module *m) {
    uint32_t n, i;
    zenith_wasm__global *g;
    ZENITH_WASM__TRY(zenith_wasm__count(r, &n, "globals"));
    g = (zenith_wasm__global *)ZENITH_WASM_REALLOC(m->globals, ((size_t)m->nglobals + n + 1) * sizeof *g);
    if (!g) return ZENITH_WASM_E_NOMEM;
    m->globals = g;
    for (i = 0; i < n; i++) {
        zenith_wasm__global *gl = &m->globals[m->nglobals];
        uint8_t mut;
        r->index = i;
        memset(gl, 0, sizeof *gl);
        ZENITH_WASM__TRY(zenith_wasm__valtype(r, &gl->type));
        ZENITH_WASM__TRY(zenith_wasm__byte(r, &mut));
        if (mut > 1) return zenith_wasm__fail(r, ZENITH_WASM_E_MALFORMED, "malformed mutability 0x%02x", mut);
        gl->mut = mut;
        ZENITH_WASM__TRY(zenith_wasm__const_expr(r, m, gl->type, &gl->init));
        m->nglobals++;
    }
    return 0;
}

static int zenith_wasm__export_cmp(const void *a, const void *b) {
    const zenith_wasm__export *x = *(const zenith_wasm__export *const *)a, *y = *(const zenith_wasm__export *const *)b;
    if (x->name_len != y->name_len) return x->name_len < y->name_len ? -1 : 1;
    return memcmp(x->name, y->name, x->name_len);
}

static int zenith_wasm__sec_exports(zenith_wasm__rd *r, zenith_wasm_module *m) {
    uint32_t n, i;
    const zenith_wasm__export **sorted;
    ZENITH_WASM__TRY(zenith_wasm__count(r, &n, "exports"));
    m->exports = (zenith_wasm__export *)zenith_wasm__calloc(n, sizeof *m->exports);
    if (!m->exports) return ZENITH_WASM_E_NOMEM;
    for (i = 0; i < n; i++) {
        zenith_wasm__export *e = &m->exports[i];
        uint8_t kind;
        uint32_t limit = 0;
        r->index = i;
        ZENITH_WASM__TRY(zenith_wasm__name(r, &e->name, &e->name_len));
        ZENITH_WASM__TRY(zenith_wasm__byte(r, &kind));
        ZENITH_WASM__TRY(zenith_wasm__u32(r, &e->index));
        e->kind = kind;
        switch (kind) {
            case ZENITH_WASM_EXTERN_FUNC: limit = m->nfuncs; break;
            case ZENITH_WASM_EXTERN_TABLE: limit = m->ntables; break;
            case ZENITH_WASM_EXTERN_MEMORY: limit = m->nmems; break;
            case ZENITH_WASM_EXTERN_GLOBAL: limit = m->nglobals; break;
            default: return zenith_wasm__fail(r, ZENITH_WASM_E_MALFORMED, "malformed export kind 0x%02x", kind);
        }
        if (e->index >= limit)
            zenith_wasm__defer_invalid(r, "unknown %s %u in export",
                                       kind == 0   ? "function"
                                       : kind == 1 ? "table"
                                       : kind == 2 ? "memory"
                                                   : "global",
                                       e->index);
        m->nexports = i + 1;
    }
    sorted = (const zenith_wasm__export **)zenith_wasm__calloc(n, sizeof *sorted);
    if (!sorted) return ZENITH_WASM_E_NOMEM;
    for (i = 0; i < n; i++) sorted[i] = &m->exports[i];
    qsort(sorted, n, sizeof *sorted, zenith_wasm__export_cmp);
    for (i = 1; i < n; i++)
        if (zenith_wasm__export_cmp(&sorted[i - 1], &sorted[i]) == 0) {
            zenith_wasm__defer_invalid(r, "duplicate export name \"%.*s\"", (int)sorted[i]->name_len, sorted[i]->name);
            break;
        }
    zenith_wasm__free((void *)sorted);
    return 0;
}

static int zenith_wasm__sec_start(zenith_wasm__rd *r, zenith_wasm_module *m) {
    ZENITH_WASM__TRY(zenith_wasm__u32(r, &m->start));
    if (m->start >= m->nfuncs) {
        zenith_wasm__defer_invalid(r, "unknown function %u as start", m->start);
        m->start = ZENITH_WASM__NONE;
    } else {
        const zenith_wasm__type *t = m->func_types[m->start] < m->ntypes ? &m->types[m->func_types[m->start]] : NULL;
        if (t && (t->np || t->nr)) zenith_wasm__defer_invalid(r, "start function must have type [] -> []");
    }
    return 0;
}

static int zenith_wasm__sec_elems(zenith_wasm__rd *r, zenith_wasm_module *m) {
    uint32_t n, i, k;
    ZENITH_WASM__TRY(zenith_wasm__count(r, &n, "element segments"));
    m->elems = (zenith_wasm__elem *)zenith_wasm__calloc(n, sizeof *m->elems);
    if (!m->elems) return ZENITH_WASM_E_NOMEM;
    for (i = 0; i < n; i++) {
        zenith_wasm__elem *e = &m->elems[i];
        uint32_t table, cnt;
        r->index = i;
        ZENITH_WASM__TRY(zenith_wasm__u32(r, &table));
        if (table >= m->ntables) zenith_wasm__defer_invalid(r, "unknown table %u", table);
        ZENITH_WASM__TRY(zenith_wasm__const_expr(r, m, ZENITH_WASM_I32, &e->offset));
        ZENITH_WASM__TRY(zenith_wasm__count(r, &cnt, "elements"));
        e->funcs = (uint32_t *)zenith_wasm__calloc(cnt, sizeof *e->funcs);
        if (!e->funcs) return ZENITH_WASM_E_NOMEM;
        m->nelems = i + 1;
        for (k = 0; k < cnt; k++) {
            ZENITH_WASM__TRY(zenith_wasm__u32(r, &e->funcs[k]));
            if (e->funcs[k] >= m->nfuncs) zenith_wasm__defer_invalid(r, "unknown function %u", e->funcs[k]);
        }
        e->n = cnt;
    }
    return 0;
}

static int zenith_wasm__sec_code(zenith_wasm__rd *r, zenith_wasm_module *m) {
    uint32_t n, i, ndef = m->nfuncs - m->nfunc_imports;
    ZENITH_WASM__TRY(zenith_wasm__count(r, &n, "function bodies"));
    if (n != ndef)
        return zenith_wasm__fail(r, ZENITH_WASM_E_MALFORMED,
                                 "function and code section have inconsistent lengths (%u functions, %u bodies)", ndef,
                                 n);
    for (i = 0; i < n; i++) {
        uint32_t size;
        r->index = i;
        ZENITH_WASM__TRY(zenith_wasm__u32(r, &size));
        if (size > (size_t)(r->end - r->p))
            return zenith_wasm__fail(r, ZENITH_WASM_E_MALFORMED, "unexpected end: function body of %u bytes", size);
        m->code[i].body = r->p;
        m->code[i].body_len = size;
        m->code[i].body_offset = (uint64_t)(r->p - r->base);
        r->p += size;
    }
    return 0;
}

static int zenith_wasm__sec_datas(zenith_wasm__rd *r, zenith_wasm_module *m) {
    uint32_t n, i;
    ZENITH_WASM__TRY(zenith_wasm__count(r, &n, "data segments"));
    m->datas = (zenith_wasm__data *)zenith_wasm__calloc(n, sizeof *m->datas);
    if (!m->datas) return ZENITH_WASM_E_NOMEM;
    for (i = 0; i < n; i++) {
        zenith_wasm__data *d = &m->datas[i];
        uint32_t mem, len;
        r->index = i;
        ZENITH_WASM__TRY(zenith_wasm__u32(r, &mem));
        if (mem >= m->nmems) zenith_wasm__defer_invalid(r, "unknown memory %u", mem);
        ZENITH_WASM__TRY(zenith_wasm__const_expr(r, m, ZENITH_WASM_I32, &d->offset));
        ZENITH_WASM__TRY(zenith_wasm__u32(r, &len));
        if (len > (size_t)(r->end - r->p))
            return zenith_wasm__fail(r, ZENITH_WASM_E_MALFORMED, "unexpected end: data segment of %u bytes", len);
        d->bytes = r->p;
        d->n = len;
        r->p += len;
        m->ndatas = i + 1;
    }
    return 0;
}

/* ---- validator and translator --------------------------------------------------------------

   One pass per function body validates it (the algorithm of the spec's appendix: an operand
   stack of types, a control stack of frames, polymorphic after an unconditional branch) and
   emits threaded code for a stack-slot machine. Frame of a call: slots 0..nlocals-1 are the
   locals (parameters first), then the operand stack: the value at stack height i lives in slot
   nlocals + i (its "canonical" slot). Every instruction names its operand slots, so a
   local.get emits nothing: the value's slot on the validator's stack is the local's own slot
   until something could change the local (a local.set/tee of it, or a block boundary), when
   it is first copied to its canonical slot. Results go to the canonical slot of their height
   (or straight into a local, when a local.set follows at once). Branches carry values by
   copying them to the target label's slots, resolved here; a call's arguments are its callee's
   first locals (the callee's frame starts at the caller's slot of the first argument).
   Constants are not written anywhere until needed: a binary op whose second operand is a
   constant takes it as an immediate (ZENITH_WASM__OP_IMM + op), a local.set of one writes the
   local directly, anything else first writes it to its canonical slot. An integer compare
   emitted just before a br_if or an if fuses with it (ZENITH_WASM__OP_CMPBR / _CMPBRI + the
   compare, inverted for if). To keep translation linear on hostile bodies, the translator
   counts, per local, the stack entries still reading it, and the entries not yet in their
   canonical slot, so that materialising scans only while something is left to find.
   Fuel: a FUEL op at each loop head charges the loop body's instruction count (nested loops
   excluded: they charge themselves); a call charges the callee's count outside loops.

   Code: an array of 8-byte cells. A handler cell, then its operand cells. Operand words pack
   16-bit slot numbers at bits 0, 16, 32, 48, or a slot and a 32-bit immediate (bits 32..63):
   branch offsets (in cells, relative to the offset's own cell), memory offsets, indices. */

enum {
    ZENITH_WASM__OP_UNREACHABLE = 0x00,
    ZENITH_WASM__OP_FUEL = 0x01,          /* [amount] */
    ZENITH_WASM__OP_BR_UNLESS = 0x02,     /* [c | off] */
    ZENITH_WASM__OP_CALL_IMPORT = 0x03,   /* [funcidx | base<<32] */
    ZENITH_WASM__OP_COPY = 0x04,          /* [dst | src<<16] */
    ZENITH_WASM__OP_COPY2 = 0x06,         /* [dst | src<<16 | dst2<<32 | src2<<48]: two copies, in order */
    ZENITH_WASM__OP_CONST64 = 0x05,       /* [dst] [value] */
    ZENITH_WASM__OP_CONSTS = 0x07,        /* [n | first<<32] [value] x n: the prologue of hoisted constants */
    ZENITH_WASM__OP_BR = 0x0c,            /* [off] */
    ZENITH_WASM__OP_BR_IF = 0x0d,         /* [c | off] */
    ZENITH_WASM__OP_BR_TABLE = 0x0e,      /* [c | n<<32] [off] x (n+1) */
    ZENITH_WASM__OP_RET = 0x0f,           /* [] */
    ZENITH_WASM__OP_CALL = 0x10,          /* [fcode*] [base] */
    ZENITH_WASM__OP_CALL_INDIRECT = 0x11, /* [typeidx | c<<32 | base<<48] */
    ZENITH_WASM__OP_SELECT = 0x1b,        /* [c | a<<16 | b<<32 | dst<<48] */
    ZENITH_WASM__OP_GLOBAL_GET = 0x23,    /* [dst | idx<<32] */
    ZENITH_WASM__OP_GLOBAL_SET = 0x24,    /* [src | idx<<32] */
    /* 0x28..0x3e loads [addr | dst<<16 | offset<<32], stores [addr | val<<16 | offset<<32] */
    ZENITH_WASM__OP_MEMORY_SIZE = 0x3f, /* [dst] */
    ZENITH_WASM__OP_MEMORY_GROW = 0x40, /* [a | dst<<16] */
    ZENITH_WASM__OP_CONST32 = 0x41,     /* [dst | value<<32] */
    /* 0x45..0xc4 numeric: unary [a | dst<<16], binary [a | b<<16 | dst<<32] */
    ZENITH_WASM__OP_SAT = 0xe0,     /* 0xe0..0xe7: the 0xfc 0..7 conversions, unary */
    ZENITH_WASM__OP_BR_NZ64 = 0xf0, /* [a | off]: jump if the i64 is not zero */
    ZENITH_WASM__OP_IMM = 0x100,    /* + a binary op: [a | dst<<16 | imm<<32] (i64: imm sign-extended) */
    ZENITH_WASM__OP_CMPBR = 0x200,  /* + a compare: [a | b<<16 | off<<32], jump if true; 0x250: i64.eqz */
    ZENITH_WASM__OP_CMPBRI = 0x300, /* + a compare: [a | off<<32] [imm], jump if true */
    ZENITH_WASM__OP_ADDR = 0x400,   /* + a load or store whose address is `x + imm` (i32.add wraps):
                                       [x | dst-or-val<<16 | offset<<32] [imm] */
    ZENITH_WASM__OP_CMPSEL = 0x500, /* + a compare whose result only a select reads:
                                       [x | y<<16 | a<<32 | b<<48] [dst]: dst = x cmp y ? a : b */
    ZENITH_WASM__OP_COUNT = 0x580
};

#define ZENITH_WASM__UNKNOWN 0

typedef struct zenith_wasm__val {
    uint8_t type;
    uint8_t k;     /* a constant not written anywhere yet (value in c; slot: its canonical slot) */
    uint32_t slot; /* where the value is: its canonical slot, a local's slot, or NONE (dead code) */
    uint64_t c;
} zenith_wasm__val;

typedef struct zenith_wasm__ctl {
    uint8_t kind;        /* 0x02 block, 0x03 loop, 0x04 if, 0x05 else, 0 function */
    uint8_t unreachable; /* the rest of the frame is unreachable: polymorphic stack */
    uint8_t dead;        /* the frame began in unreachable code: validated, never emitted */
    uint32_t height;
    uint32_t np, nr;
    const uint8_t *pt, *rt;
    int64_t patch;     /* forward jumps to the end: chain of operand cells, -1 none */
    int64_t else_jump; /* if: the br_unless operand cell, -1 none */
    size_t start;      /* loop: cell of its head */
    size_t fuel_cell;  /* loop: the fuel amount's cell */
    uint64_t saved_fuel;
} zenith_wasm__ctl;

typedef struct zenith_wasm__tr {
    zenith_wasm_module *m;
    zenith_wasm__fcode *f;
    zenith_wasm__rd *r;
    const void *const *labels;
    zenith_wasm__val *vals;
    size_t nvals, capvals;
    zenith_wasm__ctl *ctls;
    size_t nctls, capctls;
    zenith_wasm__cell *code;
    size_t ncode, capcode;
    uint32_t nlocals;
    uint8_t *ltypes;
    uint32_t *refs; /* per local: stack entries that still read it (deferred local.get) */
    size_t nlazy;   /* stack entries not in their canonical slot (deferred locals, constants) */
    uint32_t max_height;
    uint64_t fuel_count;
    size_t last_end;  /* ncode right after the last op whose dst may be retargeted */
    size_t last_cell; /* that op's dst operand cell */
    unsigned last_shift;
    uint32_t last_slot;
    unsigned last_op;
    size_t copy_cell, copy_end;              /* the last single COPY's operand cell, and ncode after it */
    uint32_t sbase;                          /* slot of stack entry 0: nlocals + nhoist */
    uint32_t nhoist, nhused;                 /* hoisting candidates; those given a slot (slots nlocals ..) */
    uint64_t hval[ZENITH_WASM__MAX_HOIST];   /* candidates' bits, as a slot holds them */
    uint32_t hslot[ZENITH_WASM__MAX_HOIST];  /* their slot, 0 until first used */
    uint32_t horder[ZENITH_WASM__MAX_HOIST]; /* candidate of slot nlocals + k */
} zenith_wasm__tr;

static const uint8_t zenith_wasm__vt[4] = { ZENITH_WASM_I32, ZENITH_WASM_I64, ZENITH_WASM_F32, ZENITH_WASM_F64 };

static const uint8_t *zenith_wasm__one(uint8_t t) {
    switch (t) {
        case ZENITH_WASM_I32: return &zenith_wasm__vt[0];
        case ZENITH_WASM_I64: return &zenith_wasm__vt[1];
        case ZENITH_WASM_F32: return &zenith_wasm__vt[2];
        default: return &zenith_wasm__vt[3];
    }
}

static const char *zenith_wasm__tname(uint8_t t) {
    switch (t) {
        case ZENITH_WASM_I32: return "i32";
        case ZENITH_WASM_I64: return "i64";
        case ZENITH_WASM_F32: return "f32";
        case ZENITH_WASM_F64: return "f64";
        default: return "any";
    }
}

#define ZENITH_WASM__REACH(t) (!(t)->ctls[(t)->nctls - 1].unreachable && !(t)->ctls[(t)->nctls - 1].dead)

static int zenith_wasm__emit(zenith_wasm__tr *t, uint64_t u) {
    if (!ZENITH_WASM__REACH(t)) return 0;
    if (t->ncode >= t->capcode) {
        if (t->ncode >= ZENITH_WASM__MAX_CODE)
            return zenith_wasm__fail(t->r, ZENITH_WASM_E_LIMIT, "function translates to more than %u cells",
                                     ZENITH_WASM__MAX_CODE);
        ZENITH_WASM__TRY(zenith_wasm__grow(&t->code, &t->capcode, t->ncode + 1, sizeof *t->code));
    }
    t->code[t->ncode++].u = u;
    return 0;
}

static int zenith_wasm__emit_op(zenith_wasm__tr *t, unsigned op) {
    if (!ZENITH_WASM__REACH(t)) return 0;
    if (t->ncode >= t->capcode) {
        ZENITH_WASM__TRY(zenith_wasm__emit(t, 0));
        t->ncode--;
    }
#if ZENITH_WASM__THREADED
    t->code[t->ncode++].h = t->labels[op];
#else
    t->code[t->ncode++].u = op;
#endif
    return 0;
}

/* op + one operand word whose dst field (at `shift`) a following local.set may retarget. */
static int zenith_wasm__emit_dst(zenith_wasm__tr *t, unsigned op, uint64_t word, unsigned shift, uint32_t dst) {
    if (!ZENITH_WASM__REACH(t)) return 0;
    ZENITH_WASM__TRY(zenith_wasm__emit_op(t, op));
    ZENITH_WASM__TRY(zenith_wasm__emit(t, word));
    t->last_cell = t->ncode - 1;
    t->last_shift = shift;
    t->last_slot = dst;
    t->last_end = t->ncode;
    t->last_op = op;
    return 0;
}

/* Writes a constant of `type` into slot dst. */
static int zenith_wasm__emit_const(zenith_wasm__tr *t, uint32_t dst, uint8_t type, uint64_t v) {
    if (!ZENITH_WASM__REACH(t)) return 0;
    if (type == ZENITH_WASM_I32 || type == ZENITH_WASM_F32)
        return zenith_wasm__emit_dst(t, ZENITH_WASM__OP_CONST32, (uint64_t)(dst & 0xffff) | ((v & 0xffffffffu) << 32),
                                     0, dst);
    ZENITH_WASM__TRY(zenith_wasm__emit_dst(t, ZENITH_WASM__OP_CONST64, dst & 0xffff, 0, dst));
    ZENITH_WASM__TRY(zenith_wasm__emit(t, v));
    t->last_end = t->ncode; /* the value's cell follows the dst's */
    return 0;
}

/* A copy; two copies in a row become one COPY2 (never across a label: patch_chain and the loop
   heads' FUEL end a run). */
static int zenith_wasm__emit_copy(zenith_wasm__tr *t, uint32_t dst, uint32_t src) {
    if (!ZENITH_WASM__REACH(t)) return 0;
    if (t->copy_end == t->ncode && t->ncode > 0 && t->copy_cell + 1 == t->ncode) {
        zenith_wasm__cell *h = &t->code[t->copy_cell - 1];
#if ZENITH_WASM__THREADED
        h->h = t->labels[ZENITH_WASM__OP_COPY2];
#else
        h->u = ZENITH_WASM__OP_COPY2;
#endif
        t->code[t->copy_cell].u |= ((uint64_t)(dst & 0xffff) << 32) | ((uint64_t)(src & 0xffff) << 48);
        t->copy_end = (size_t)-1;
        return 0;
    }
    ZENITH_WASM__TRY(zenith_wasm__emit_op(t, ZENITH_WASM__OP_COPY));
    ZENITH_WASM__TRY(zenith_wasm__emit(t, (uint64_t)(dst & 0xffff) | ((uint64_t)(src & 0xffff) << 16)));
    t->copy_cell = t->ncode - 1;
    t->copy_end = t->ncode;
    return 0;
}

static uint32_t zenith_wasm__canon(const zenith_wasm__tr *t, size_t i) { return t->sbase + (uint32_t)i; }

static int zenith_wasm__push(zenith_wasm__tr *t, uint8_t type) {
    if (t->sbase + t->nvals + 1 >= ZENITH_WASM__MAX_SLOTS)
        return zenith_wasm__fail(t->r, ZENITH_WASM_E_LIMIT, "function needs more than %u value slots",
                                 ZENITH_WASM__MAX_SLOTS);
    ZENITH_WASM__TRY(zenith_wasm__grow(&t->vals, &t->capvals, t->nvals + 1, sizeof *t->vals));
    t->vals[t->nvals].type = type;
    t->vals[t->nvals].k = 0;
    t->vals[t->nvals].c = 0;
    t->vals[t->nvals].slot = zenith_wasm__canon(t, t->nvals);
    t->nvals++;
    if (t->nvals > t->max_height) t->max_height = (uint32_t)t->nvals;
    return 0;
}

static int zenith_wasm__mismatch(zenith_wasm__tr *t, uint8_t want, uint8_t got) {
    return zenith_wasm__fail(t->r, ZENITH_WASM_E_INVALID, "type mismatch: expected %s, found %s",
                             zenith_wasm__tname(want), got ? zenith_wasm__tname(got) : "an empty stack");
}

static int zenith_wasm__push_const(zenith_wasm__tr *t, uint8_t type, uint64_t v) {
    ZENITH_WASM__TRY(zenith_wasm__push(t, type));
    t->vals[t->nvals - 1].k = 1;
    t->vals[t->nvals - 1].c = v;
    t->nlazy++;
    return 0;
}

/* Pushes a value that lives in local x (local.get, local.tee; a wrap of such a value). */
static int zenith_wasm__push_local(zenith_wasm__tr *t, uint8_t type, uint32_t x) {
    ZENITH_WASM__TRY(zenith_wasm__push(t, type));
    t->vals[t->nvals - 1].slot = x;
    t->refs[x]++;
    t->nlazy++;
    return 0;
}

/* Bookkeeping of an entry leaving the stack. */
static void zenith_wasm__forget(zenith_wasm__tr *t, const zenith_wasm__val *v) {
    if (v->k) {
        t->nlazy--;
    } else if (v->slot < t->nlocals) {
        t->refs[v->slot]--;
        t->nlazy--;
    }
}

/* Drops the entries above height h. */
static void zenith_wasm__truncate(zenith_wasm__tr *t, size_t h) {
    while (t->nvals > h) zenith_wasm__forget(t, &t->vals[--t->nvals]);
}

/* Pops a value of type `want` (0: any) into *out; a constant stays a constant (out->k). */
static int zenith_wasm__pop_k(zenith_wasm__tr *t, uint8_t want, zenith_wasm__val *out) {
    zenith_wasm__ctl *c = &t->ctls[t->nctls - 1];
    zenith_wasm__val v;
    if (t->nvals == c->height) {
        if (!c->unreachable) return zenith_wasm__mismatch(t, want, 0);
        memset(out, 0, sizeof *out);
        out->type = want;
        out->slot = ZENITH_WASM__NONE;
        return 0;
    }
    v = t->vals[--t->nvals];
    zenith_wasm__forget(t, &v);
    if (want && v.type && v.type != want) return zenith_wasm__mismatch(t, want, v.type);
    if (!v.type) v.type = want;
    *out = v;
    return 0;
}

/* The slot holding constant bits v for the whole call (written by the prologue), or
   ZENITH_WASM__NONE when v is not a hoisting candidate. */
static uint32_t zenith_wasm__hoisted(zenith_wasm__tr *t, uint64_t v) {
    uint32_t i;
    for (i = 0; i < t->nhoist; i++)
        if (t->hval[i] == v) {
            if (t->hslot[i] == 0) {
                t->horder[t->nhused] = i;
                t->hslot[i] = t->nlocals + t->nhused++;
            }
            return t->hslot[i];
        }
    return ZENITH_WASM__NONE;
}

/* An operand that must be in a slot: a constant is read from its hoisted slot, or written to
   its canonical slot first. */
static int zenith_wasm__operand(zenith_wasm__tr *t, zenith_wasm__val *v) {
    if (v->k) {
        uint32_t h = ZENITH_WASM__REACH(t) ? zenith_wasm__hoisted(t, v->c) : ZENITH_WASM__NONE;
        v->k = 0;
        if (h != ZENITH_WASM__NONE) {
            v->slot = h;
            return 0;
        }
        ZENITH_WASM__TRY(zenith_wasm__emit_const(t, v->slot, v->type, v->c));
    }
    return 0;
}

/* Pops a value that must be in a slot (zenith_wasm__operand). */
static int zenith_wasm__pop(zenith_wasm__tr *t, uint8_t want, zenith_wasm__val *out) {
    ZENITH_WASM__TRY(zenith_wasm__pop_k(t, want, out));
    return zenith_wasm__operand(t, out);
}

/* Copies the value at stack index i to its canonical slot if it lives elsewhere (a local). */
static int zenith_wasm__mat(zenith_wasm__tr *t, size_t i) {
    uint32_t c = zenith_wasm__canon(t, i);
    if (t->vals[i].k) {
        t->vals[i].k = 0;
        t->vals[i].slot = c;
        t->nlazy--;
        return zenith_wasm__emit_const(t, c, t->vals[i].type, t->vals[i].c);
    }
    if (t->vals[i].slot >= t->nlocals) return 0; /* canonical already, or NONE */
    t->refs[t->vals[i].slot]--;
    t->nlazy--;
    ZENITH_WASM__TRY(zenith_wasm__emit_copy(t, c, t->vals[i].slot));
    t->vals[i].slot = c;
    return 0;
}

static int zenith_wasm__mat_all(zenith_wasm__tr *t) {
    size_t i;
    for (i = t->nvals; i > 0 && t->nlazy > 0; i--) ZENITH_WASM__TRY(zenith_wasm__mat(t, i - 1));
    return 0;
}

/* Moves n values from slots src[] to slots dst[] as if in parallel. */
static int zenith_wasm__moves(zenith_wasm__tr *t, const uint32_t *dst, const uint32_t *src, uint32_t n) {
    uint32_t k, j;
    int conflict = 0;
    for (k = 0; k < n && !conflict; k++)
        for (j = k + 1; j < n; j++)
            if (src[j] == dst[k]) conflict = 1;
    if (conflict) { /* through scratch slots above the stack */
        uint32_t base = zenith_wasm__canon(t, t->nvals);
        if (t->nvals + n > t->max_height) t->max_height = (uint32_t)t->nvals + n;
        for (k = 0; k < n; k++) ZENITH_WASM__TRY(zenith_wasm__emit_copy(t, base + k, src[k]));
        for (k = 0; k < n; k++) ZENITH_WASM__TRY(zenith_wasm__emit_copy(t, dst[k], base + k));
        return 0;
    }
    for (k = 0; k < n; k++)
        if (dst[k] != src[k]) ZENITH_WASM__TRY(zenith_wasm__emit_copy(t, dst[k], src[k]));
    return 0;
}

/* The label's arity and types (loops take their parameters, others their results). */
static uint32_t zenith_wasm__label_arity(const zenith_wasm__ctl *l, const uint8_t **types) {
    if (l->kind == 0x03) {
        *types = l->pt;
        return l->np;
    }
    *types = l->rt;
    return l->nr;
}

/* Emits the copies of the top n values into the label's slots (or the results' slots for the
   function's label). The values are on the stack (not popped). */
static int zenith_wasm__branch_moves(zenith_wasm__tr *t, const zenith_wasm__ctl *l, uint32_t n) {
    uint32_t k, small[8], *dst, *src;
    int rc = 0;
    if (n == 0) return 0;
    dst = n <= 4 ? small : (uint32_t *)zenith_wasm__calloc(2 * (size_t)n, sizeof *dst);
    if (!dst) return ZENITH_WASM_E_NOMEM;
    src = dst + n;
    for (k = 0; k < n; k++) {
        src[k] = t->vals[t->nvals - n + k].slot;
        dst[k] = l->kind == 0 ? k : t->sbase + l->height + k;
        if (t->vals[t->nvals - n + k].k) src[k] = dst[k]; /* written below, after the moves */
    }
    rc = zenith_wasm__moves(t, dst, src, n);
    for (k = 0; k < n && rc == 0; k++)
        if (t->vals[t->nvals - n + k].k)
            rc = zenith_wasm__emit_const(t, dst[k], t->vals[t->nvals - n + k].type, t->vals[t->nvals - n + k].c);
    t->last_end = (size_t)-1;
    if (dst != small) zenith_wasm__free(dst);
    return rc;
}

/* Emits a jump (op BR, BR_IF, BR_UNLESS with cond slot c) to label l; forward ones join the
   label's patch chain. */
/* A jump: op, an operand word (its low 32 bits; the offset goes in the high ones), and an
   immediate cell if has_imm. Returns the operand cell's index through *cell. */
static int zenith_wasm__jump_word(zenith_wasm__tr *t, unsigned op, uint32_t word, int has_imm, uint64_t imm,
                                  zenith_wasm__ctl *l) {
    size_t cell;
    if (!ZENITH_WASM__REACH(t)) return 0;
    ZENITH_WASM__TRY(zenith_wasm__emit_op(t, op));
    cell = t->ncode;
    if (l == NULL) { /* the caller patches it: a chain of one */
        ZENITH_WASM__TRY(zenith_wasm__emit(t, (uint64_t)word | ((uint64_t)0xffffffffu << 32)));
    } else if (l->kind == 0x03) {
        int64_t off = (int64_t)l->start - (int64_t)cell;
        ZENITH_WASM__TRY(zenith_wasm__emit(t, (uint64_t)word | ((uint64_t)(uint32_t)(int32_t)off << 32)));
    } else {
        ZENITH_WASM__TRY(zenith_wasm__emit(t, (uint64_t)word | ((uint64_t)(uint32_t)(int32_t)l->patch << 32)));
        l->patch = (int64_t)cell;
    }
    if (has_imm) ZENITH_WASM__TRY(zenith_wasm__emit(t, imm));
    t->last_end = (size_t)-1;
    return 0;
}

static int zenith_wasm__jump(zenith_wasm__tr *t, unsigned op, uint32_t c, zenith_wasm__ctl *l) {
    return zenith_wasm__jump_word(t, op, c & 0xffff, 0, 0, l);
}

/* A conditional jump on cond value c: to label l when c is true (sense 1) or false (sense 0);
   l NULL: the operand cell is left for the caller to patch (its index: the cell after the op,
   returned in *cell). When c was produced by the integer compare just emitted, the compare and
   the jump fuse into one op. */
static int zenith_wasm__cond_jump(zenith_wasm__tr *t, const zenith_wasm__val *c, int sense, zenith_wasm__ctl *l,
                                  size_t *cell) {
    unsigned op = 0;
    if (!ZENITH_WASM__REACH(t)) return 0;
    if (t->last_end == t->ncode && c->slot == t->last_slot && c->slot >= t->nlocals) {
        unsigned cmp = t->last_op & 0xff, imm = (t->last_op & 0xf00) == ZENITH_WASM__OP_IMM;
        int is_cmp = (t->last_op & 0xf00) <= ZENITH_WASM__OP_IMM &&
                     (cmp == 0x45 || cmp == 0x50 || (cmp >= 0x46 && cmp <= 0x4f) || (cmp >= 0x51 && cmp <= 0x5a));
        if (is_cmp) {
            static const uint8_t inv[10] = { 1, 0, 8, 9, 6, 7, 4, 5, 2, 3 }; /* eq ne lt_s lt_u gt_s gt_u le_s... */
            uint64_t w = t->code[t->last_cell].u;
            t->ncode = t->last_cell - 1;      /* drop the compare */
            if (cmp == 0x45 || cmp == 0x50) { /* eqz: jump if zero, or (inverted) if not zero */
                op = cmp == 0x45 ? (sense ? ZENITH_WASM__OP_BR_UNLESS : ZENITH_WASM__OP_BR_IF)
                                 : (sense ? ZENITH_WASM__OP_CMPBR + 0x50 : ZENITH_WASM__OP_BR_NZ64);
                ZENITH_WASM__TRY(zenith_wasm__jump_word(t, op, (uint32_t)(w & 0xffff), 0, 0, l));
            } else {
                unsigned base = cmp <= 0x4f ? 0x46u : 0x51u;
                unsigned real = sense ? cmp : base + inv[cmp - base];
                if (imm) {
                    uint64_t v = (uint64_t)(int64_t)(int32_t)(uint32_t)(w >> 32);
                    if (base == 0x46) v &= 0xffffffffu;
                    ZENITH_WASM__TRY(
                        zenith_wasm__jump_word(t, ZENITH_WASM__OP_CMPBRI + real, (uint32_t)(w & 0xffff), 1, v, l));
                } else {
                    ZENITH_WASM__TRY(
                        zenith_wasm__jump_word(t, ZENITH_WASM__OP_CMPBR + real, (uint32_t)(w & 0xffffffffu), 0, 0, l));
                }
            }
            if (cell) *cell = t->ncode - (imm && cmp != 0x45 && cmp != 0x50 ? 2 : 1);
            return 0;
        }
    }
    ZENITH_WASM__TRY(zenith_wasm__jump_word(t, sense ? ZENITH_WASM__OP_BR_IF : ZENITH_WASM__OP_BR_UNLESS,
                                            c->slot & 0xffff, 0, 0, l));
    if (cell) *cell = t->ncode - 1;
    return 0;
}

static void zenith_wasm__patch_chain(zenith_wasm__tr *t, int64_t link, size_t target) {
    t->copy_end = (size_t)-1; /* target is a label: no copy merges across it */
    while (link >= 0) {
        zenith_wasm__cell *c = &t->code[link];
        int64_t next = (int32_t)(uint32_t)(c->u >> 32);
        c->u = (c->u & 0xffffffffu) | ((uint64_t)(uint32_t)(int32_t)((int64_t)target - link) << 32);
        link = next;
    }
}

/* Copies results to slots 0.. and returns. The values stay on the validator's stack. */
static int zenith_wasm__emit_return(zenith_wasm__tr *t) {
    if (ZENITH_WASM__REACH(t) && t->ctls[0].nr == 1 && t->nvals > 0) {
        const zenith_wasm__val *v = &t->vals[t->nvals - 1];
        if (!v->k && v->slot >= t->nlocals && v->slot == t->last_slot && t->last_end == t->ncode) {
            /* the op that computed the result writes it to slot 0 itself (nothing of this frame
               runs after the return, and every op reads its operands before writing) */
            zenith_wasm__cell *c = &t->code[t->last_cell];
            c->u &= ~((uint64_t)0xffff << t->last_shift);
            t->last_end = (size_t)-1;
            return zenith_wasm__emit_op(t, ZENITH_WASM__OP_RET);
        }
    }
    ZENITH_WASM__TRY(zenith_wasm__branch_moves(t, &t->ctls[0], t->ctls[0].nr));
    t->last_end = (size_t)-1;
    return zenith_wasm__emit_op(t, ZENITH_WASM__OP_RET);
}

/* A branch to label depth `depth` (br, or br_if/br_table's taken path). */
static int zenith_wasm__emit_branch(zenith_wasm__tr *t, uint32_t depth) {
    zenith_wasm__ctl *l = &t->ctls[t->nctls - 1 - depth];
    const uint8_t *ty;
    uint32_t n = zenith_wasm__label_arity(l, &ty);
    if (l->kind == 0) return zenith_wasm__emit_return(t);
    ZENITH_WASM__TRY(zenith_wasm__branch_moves(t, l, n));
    return zenith_wasm__jump(t, ZENITH_WASM__OP_BR, 0, l);
}

/* Checks that the top of the stack holds the label's values (not popped). */
static int zenith_wasm__check_top(zenith_wasm__tr *t, const uint8_t *ty, uint32_t n) {
    zenith_wasm__ctl *c = &t->ctls[t->nctls - 1];
    uint32_t k;
    for (k = 0; k < n; k++) {
        size_t depth = n - k; /* from the top */
        uint8_t want = ty[k];
        if (t->nvals < c->height + depth) {
            if (!c->unreachable) return zenith_wasm__mismatch(t, want, 0);
            continue;
        }
        if (t->vals[t->nvals - depth].type && t->vals[t->nvals - depth].type != want)
            return zenith_wasm__mismatch(t, want, t->vals[t->nvals - depth].type);
    }
    return 0;
}

/* After the check, makes sure n values are on the stack (an unreachable frame may lack some:
   fill in typed placeholders, without slots), for branch_moves. Only in unreachable code. */
static int zenith_wasm__fill(zenith_wasm__tr *t, const uint8_t *ty, uint32_t n) {
    zenith_wasm__ctl *c = &t->ctls[t->nctls - 1];
    uint32_t have = (uint32_t)(t->nvals - c->height), k;
    if (have >= n) return 0;
    /* shift what there is up and put the missing ones below */
    for (k = 0; k < n - have; k++) ZENITH_WASM__TRY(zenith_wasm__push(t, 0));
    memmove(&t->vals[c->height + (n - have)], &t->vals[c->height], have * sizeof *t->vals);
    for (k = 0; k < n - have; k++) {
        t->vals[c->height + k].type = ty[k];
        t->vals[c->height + k].k = 0;
        t->vals[c->height + k].slot = ZENITH_WASM__NONE;
    }
    return 0;
}

static int zenith_wasm__set_unreachable(zenith_wasm__tr *t) {
    zenith_wasm__ctl *c = &t->ctls[t->nctls - 1];
    zenith_wasm__truncate(t, c->height);
    c->unreachable = 1;
    t->last_end = (size_t)-1;
    return 0;
}

static int zenith_wasm__blocktype(zenith_wasm__tr *t, zenith_wasm__ctl *c) {
    zenith_wasm__rd *r = t->r;
    uint8_t b;
    uint64_t v;
    if (r->p >= r->end) return zenith_wasm__eof(r);
    b = *r->p;
    if (b == 0x40) {
        r->p++;
        c->np = c->nr = 0;
        c->pt = c->rt = NULL;
        return 0;
    }
    if (zenith_wasm__is_valtype(b)) {
        r->p++;
        c->np = 0;
        c->pt = NULL;
        c->nr = 1;
        c->rt = zenith_wasm__one(b);
        return 0;
    }
    ZENITH_WASM__TRY(zenith_wasm__leb(r, 33, 1, &v));
    if ((int64_t)v < 0) return zenith_wasm__fail(r, ZENITH_WASM_E_MALFORMED, "malformed block type");
    if (v >= t->m->ntypes)
        return zenith_wasm__fail(r, ZENITH_WASM_E_INVALID, "unknown type %llu in block type", (unsigned long long)v);
    c->np = t->m->types[v].np;
    c->nr = t->m->types[v].nr;
    c->pt = t->m->types[v].t;
    c->rt = t->m->types[v].t + c->np;
    return 0;
}

/* block, loop, if: the frame c (types read) is pushed, its parameters popped and pushed back. */
static int zenith_wasm__enter(zenith_wasm__tr *t, zenith_wasm__ctl *c) {
    uint32_t k;
    zenith_wasm__val v;
    ZENITH_WASM__TRY(zenith_wasm__mat_all(t));
    for (k = c->np; k > 0; k--) ZENITH_WASM__TRY(zenith_wasm__pop(t, c->pt[k - 1], &v));
    c->height = (uint32_t)t->nvals;
    c->unreachable = 0;
    c->patch = -1;
    c->else_jump = -1;
    c->start = t->ncode;
    c->fuel_cell = 0;
    c->saved_fuel = 0;
    ZENITH_WASM__TRY(zenith_wasm__grow(&t->ctls, &t->capctls, t->nctls + 1, sizeof *t->ctls));
    c->dead = (uint8_t)!ZENITH_WASM__REACH(t); /* a block in dead code is dead too */
    t->ctls[t->nctls++] = *c;
    for (k = 0; k < c->np; k++) ZENITH_WASM__TRY(zenith_wasm__push(t, c->pt[k]));
    return 0;
}

/* Numeric instruction signature: 1 or 2 operands of type `in`, result `out`. 0 if not one. */
static int zenith_wasm__numsig(unsigned op, uint8_t *in, uint8_t *out) {
    const uint8_t I32 = ZENITH_WASM_I32, I64 = ZENITH_WASM_I64, F32 = ZENITH_WASM_F32, F64 = ZENITH_WASM_F64;
    static const uint8_t conv[25][2] = {
        /* a7 */ { 0x7e, 0x7f }, { 0x7d, 0x7f }, { 0x7d, 0x7f }, { 0x7c, 0x7f }, { 0x7c, 0x7f },
        /* ac */ { 0x7f, 0x7e }, { 0x7f, 0x7e }, { 0x7d, 0x7e }, { 0x7d, 0x7e }, { 0x7c, 0x7e },
        { 0x7c, 0x7e },
        /* b2 */ { 0x7f, 0x7d }, { 0x7f, 0x7d }, { 0x7e, 0x7d }, { 0x7e, 0x7d }, { 0x7c, 0x7d },
        /* b7 */ { 0x7f, 0x7c }, { 0x7f, 0x7c }, { 0x7e, 0x7c }, { 0x7e, 0x7c }, { 0x7d, 0x7c },
        /* bc */ { 0x7d, 0x7f }, { 0x7c, 0x7e }, { 0x7f, 0x7d }, { 0x7e, 0x7c }
    };
    static const uint8_t sat[8][2] = { { 0x7d, 0x7f }, { 0x7d, 0x7f }, { 0x7c, 0x7f }, { 0x7c, 0x7f },
                                       { 0x7d, 0x7e }, { 0x7d, 0x7e }, { 0x7c, 0x7e }, { 0x7c, 0x7e } };
    if (op == 0x45) return *in = I32, *out = I32, 1;
    if (op >= 0x46 && op <= 0x4f) return *in = I32, *out = I32, 2;
    if (op == 0x50) return *in = I64, *out = I32, 1;
    if (op >= 0x51 && op <= 0x5a) return *in = I64, *out = I32, 2;
    if (op >= 0x5b && op <= 0x60) return *in = F32, *out = I32, 2;
    if (op >= 0x61 && op <= 0x66) return *in = F64, *out = I32, 2;
    if (op >= 0x67 && op <= 0x69) return *in = I32, *out = I32, 1;
    if (op >= 0x6a && op <= 0x78) return *in = I32, *out = I32, 2;
    if (op >= 0x79 && op <= 0x7b) return *in = I64, *out = I64, 1;
    if (op >= 0x7c && op <= 0x8a) return *in = I64, *out = I64, 2;
    if (op >= 0x8b && op <= 0x91) return *in = F32, *out = F32, 1;
    if (op >= 0x92 && op <= 0x98) return *in = F32, *out = F32, 2;
    if (op >= 0x99 && op <= 0x9f) return *in = F64, *out = F64, 1;
    if (op >= 0xa0 && op <= 0xa6) return *in = F64, *out = F64, 2;
    if (op >= 0xa7 && op <= 0xbf) return *in = conv[op - 0xa7][0], *out = conv[op - 0xa7][1], 1;
    if (op == 0xc0 || op == 0xc1) return *in = I32, *out = I32, 1;
    if (op >= 0xc2 && op <= 0xc4) return *in = I64, *out = I64, 1;
    if (op >= ZENITH_WASM__OP_SAT && op < ZENITH_WASM__OP_SAT + 8)
        return *in = sat[op - ZENITH_WASM__OP_SAT][0], *out = sat[op - ZENITH_WASM__OP_SAT][1], 1;
    return 0;
}

/* natural alignment (log2) of a memory instruction 0x28..0x3e */
static unsigned zenith_wasm__natural(unsigned op) {
    static const uint8_t nat[23] = { 2, 3, 2, 3, 0, 0, 1, 1, 0, 0, 1, 1, 2, 2, 2, 3, 2, 3, 0, 1, 0, 1, 2 };
    return nat[op - 0x28];
}
static uint8_t zenith_wasm__memtype(unsigned op) {
    static const uint8_t ty[23] = { 0x7f, 0x7e, 0x7d, 0x7c, 0x7f, 0x7f, 0x7f, 0x7f, 0x7e, 0x7e, 0x7e, 0x7e,
                                    0x7e, 0x7e, 0x7f, 0x7e, 0x7d, 0x7c, 0x7f, 0x7f, 0x7e, 0x7e, 0x7e };
    return ty[op - 0x28];
}

/* Binary ops with an immediate second operand (ZENITH_WASM__OP_IMM + op). */
static int zenith_wasm__has_imm(unsigned op) {
    return (op >= 0x46 && op <= 0x4f) || (op >= 0x6a && op <= 0x6c) || (op >= 0x71 && op <= 0x78) ||
           (op >= 0x51 && op <= 0x5a) || (op >= 0x7c && op <= 0x7e) || (op >= 0x83 && op <= 0x8a);
}

/* A load's or store's address a, if the op just emitted computed it as `x + imm` into a stack
   slot nothing else reads: that i32.add is taken back and the access computes the address
   itself (one dispatch fewer; clang emits `local.get; i32.const K; i32.add; load` for p[i+K]
   because a load's offset, unlike the add, does not wrap). Returns imm (0..2^32-1) with *x, or
   -1 with nothing changed. */
static int64_t zenith_wasm__addr_fold(zenith_wasm__tr *t, const zenith_wasm__val *a, uint32_t *x) {
    uint64_t w;
    if (!ZENITH_WASM__REACH(t) || a->k || a->slot < t->sbase || a->slot == ZENITH_WASM__NONE ||
        a->slot != t->last_slot || t->last_end != t->ncode || t->last_op != ZENITH_WASM__OP_IMM + 0x6a ||
        t->last_cell + 1 != t->ncode)
        return -1;
    w = t->code[t->last_cell].u;
    *x = (uint32_t)(w & 0xffffu);
    t->ncode = t->last_cell - 1; /* the add's handler and operand cells */
    t->last_end = (size_t)-1;
    t->copy_end = (size_t)-1;
    return (int64_t)(w >> 32);
}

/* The result of an op lands in the canonical slot of the top after pushing. */
static int zenith_wasm__result(zenith_wasm__tr *t, uint8_t type, uint32_t *dst) {
    *dst = zenith_wasm__canon(t, t->nvals);
    return zenith_wasm__push(t, type);
}

static int zenith_wasm__local_write(zenith_wasm__tr *t, uint32_t x, zenith_wasm__val v) {
    size_t i;
    int retarget;
    for (i = t->nvals; i > 0 && t->refs[x] > 0; i--)
        if (t->vals[i - 1].slot == x && !t->vals[i - 1].k) ZENITH_WASM__TRY(zenith_wasm__mat(t, i - 1));
    if (v.k) return zenith_wasm__emit_const(t, x, v.type, v.c);
    if (!ZENITH_WASM__REACH(t) || v.slot == x) return 0;
    /* the op that just produced v can write the local itself */
    retarget = t->last_end == t->ncode && v.slot == t->last_slot && v.slot >= t->nlocals;
    if (retarget) {
        zenith_wasm__cell *c = &t->code[t->last_cell];
        c->u = (c->u & ~((uint64_t)0xffff << t->last_shift)) | ((uint64_t)x << t->last_shift);
        t->last_end = (size_t)-1;
        return 0;
    }
    return zenith_wasm__emit_copy(t, x, v.slot);
}

static int zenith_wasm__call_sig(zenith_wasm__tr *t, const zenith_wasm__type *ty, uint32_t *base) {
    uint32_t k;
    zenith_wasm__val v;
    size_t first;
    if (ZENITH_WASM__REACH(t) && t->nvals >= t->ctls[t->nctls - 1].height + ty->np) /* in place */
        for (k = 0; k < ty->np; k++) ZENITH_WASM__TRY(zenith_wasm__mat(t, t->nvals - ty->np + k));
    for (k = ty->np; k > 0; k--) ZENITH_WASM__TRY(zenith_wasm__pop(t, ty->t[k - 1], &v));
    first = t->nvals;
    *base = zenith_wasm__canon(t, first);
    t->last_end = (size_t)-1;
    return 0;
}

static int zenith_wasm__call_results(zenith_wasm__tr *t, const zenith_wasm__type *ty) {
    uint32_t k;
    for (k = 0; k < ty->nr; k++) ZENITH_WASM__TRY(zenith_wasm__push(t, ty->t[ty->np + k]));
    return 0;
}

/* Decodes a function body without validating it: 0, or ZENITH_WASM_E_MALFORMED. Run over the
   bodies when one is found invalid, so that a malformed module is reported as such even when
   an earlier body is also invalid (decoding comes before validation). */
static int zenith_wasm__scan(const zenith_wasm_module *m, const zenith_wasm__fcode *f, zenith_wasm_error *err,
                             uint32_t index) {
    zenith_wasm__rd rd;
    uint32_t ngroups, g, depth = 1, x;
    uint64_t total = 0, v;
    uint8_t b;
    memset(&rd, 0, sizeof rd);
    rd.base = m->bytes;
    rd.p = f->body;
    rd.end = f->body + f->body_len;
    rd.err = err;
    rd.section = 10;
    rd.index = index;
    ZENITH_WASM__TRY(zenith_wasm__u32(&rd, &ngroups));
    for (g = 0; g < ngroups; g++) {
        ZENITH_WASM__TRY(zenith_wasm__u32(&rd, &x));
        ZENITH_WASM__TRY(zenith_wasm__valtype(&rd, &b));
        total += x;
        if (total > 0xffffffffu) return zenith_wasm__fail(&rd, ZENITH_WASM_E_MALFORMED, "too many locals");
    }
    while (depth > 0) {
        uint8_t op, tin, tout;
        if (rd.p >= rd.end)
            return zenith_wasm__fail(&rd, ZENITH_WASM_E_MALFORMED, "unexpected end of section or function");
        op = *rd.p++;
        switch (op) {
            case 0x02:
            case 0x03:
            case 0x04:
                if (rd.p >= rd.end) return zenith_wasm__eof(&rd);
                if (*rd.p == 0x40 || zenith_wasm__is_valtype(*rd.p))
                    rd.p++;
                else
                    ZENITH_WASM__TRY(zenith_wasm__leb(&rd, 33, 1, &v));
                depth++;
                break;
            case 0x0b: depth--; break;
            case 0x00:
            case 0x01:
            case 0x05:
            case 0x0f:
            case 0x1a:
            case 0x1b: break;
            case 0x0c:
            case 0x0d:
            case 0x10:
            case 0x20:
            case 0x21:
            case 0x22:
            case 0x23:
            case 0x24: ZENITH_WASM__TRY(zenith_wasm__u32(&rd, &x)); break;
            case 0x0e: {
                uint32_t n, k;
                ZENITH_WASM__TRY(zenith_wasm__u32(&rd, &n));
                for (k = 0; k <= n && k <= (uint32_t)(rd.end - rd.p); k++) ZENITH_WASM__TRY(zenith_wasm__u32(&rd, &x));
                if (k <= n) return zenith_wasm__eof(&rd);
                break;
            }
            case 0x11:
                ZENITH_WASM__TRY(zenith_wasm__u32(&rd, &x));
                ZENITH_WASM__TRY(zenith_wasm__byte(&rd, &b));
                if (b) return zenith_wasm__fail(&rd, ZENITH_WASM_E_MALFORMED, "zero flag expected");
                break;
            case 0x3f:
            case 0x40:
                ZENITH_WASM__TRY(zenith_wasm__byte(&rd, &b));
                if (b) return zenith_wasm__fail(&rd, ZENITH_WASM_E_MALFORMED, "zero flag expected");
                break;
            case 0x41: ZENITH_WASM__TRY(zenith_wasm__leb(&rd, 32, 1, &v)); break;
            case 0x42: ZENITH_WASM__TRY(zenith_wasm__leb(&rd, 64, 1, &v)); break;
            case 0x43:
            case 0x44:
                if (rd.end - rd.p < (op == 0x43 ? 4 : 8)) return zenith_wasm__eof(&rd);
                rd.p += op == 0x43 ? 4 : 8;
                break;
            case 0xfc:
                ZENITH_WASM__TRY(zenith_wasm__u32(&rd, &x));
                if (x > 7) return zenith_wasm__fail(&rd, ZENITH_WASM_E_MALFORMED, "illegal opcode 0xfc %u", x);
                break;
            default:
                if (op >= 0x28 && op <= 0x3e) {
                    ZENITH_WASM__TRY(zenith_wasm__u32(&rd, &x));
                    ZENITH_WASM__TRY(zenith_wasm__u32(&rd, &x));
                    break;
                }
                if (!zenith_wasm__numsig(op, &tin, &tout)) {
                    rd.p--;
                    return zenith_wasm__fail(&rd, ZENITH_WASM_E_MALFORMED, "illegal opcode 0x%02x", op);
                }
                break;
        }
    }
    if (rd.p != rd.end)
        return zenith_wasm__fail(&rd, ZENITH_WASM_E_MALFORMED, "section size mismatch: bytes after the function's end");
    return 0;
}

/* A LEB128 read by the pre-scan: no checks beyond the bounds (translation reports the rest). */
static int zenith_wasm__scan_leb(const uint8_t **p, const uint8_t *end, uint64_t *out) {
    uint64_t v = 0;
    unsigned shift = 0;
    uint8_t b;
    do {
        if (*p >= end || shift > 63) return -1;
        b = *(*p)++;
        v |= (uint64_t)(b & 0x7f) << shift;
        shift += 7;
    } while (b & 0x80);
    if (shift < 64 && (b & 0x40)) v |= ~(uint64_t)0 << shift; /* as signed; unsigned readers ignore it */
    *out = v;
    return 0;
}

/* Pre-scan of a function's expression (not validated yet: anything unexpected ends the scan,
   and translation then reports it). Collects the distinct constants that occur inside a loop,
   up to ZENITH_WASM__MAX_HOIST: those an op takes as an operand (no immediate form) get a slot
   of their own after the locals, written once by the function's prologue (OP_CONSTS), so a
   loop never spends a dispatch re-materialising its constants. */
static void zenith_wasm__hoist_scan(zenith_wasm__tr *t, const uint8_t *p, const uint8_t *end) {
    uint64_t loops = 0, v; /* bit d: nesting level d is a loop (levels past 63 end the scan) */
    unsigned depth = 0;
    uint32_t i;
    while (p < end && t->nhoist < ZENITH_WASM__MAX_HOIST) {
        uint8_t op = *p++;
        int have = 0;
        switch (op) {
            case 0x02:
            case 0x03:
            case 0x04: /* block, loop, if */
                if (p >= end) return;
                if (*p == 0x40 || (*p >= 0x7c && *p <= 0x7f))
                    p++;
                else if (zenith_wasm__scan_leb(&p, end, &v) < 0)
                    return;
                if (++depth > 63) return;
                if (op == 0x03) loops |= (uint64_t)1 << depth;
                break;
            case 0x0b:
                if (depth == 0) return;
                loops &= ~((uint64_t)1 << depth);
                depth--;
                break;
            case 0x0c:
            case 0x0d:
            case 0x10:
            case 0x20:
            case 0x21:
            case 0x22:
            case 0x23:
            case 0x24:
                if (zenith_wasm__scan_leb(&p, end, &v) < 0) return;
                break;
            case 0x0e: { /* br_table */
                uint64_t n;
                if (zenith_wasm__scan_leb(&p, end, &n) < 0 || n > (uint64_t)(end - p)) return;
                for (n++; n > 0; n--)
                    if (zenith_wasm__scan_leb(&p, end, &v) < 0) return;
                break;
            }
            case 0x11:
                if (zenith_wasm__scan_leb(&p, end, &v) < 0 || p >= end) return;
                p++;
                break;
            case 0x3f:
            case 0x40:
                if (p >= end) return;
                p++;
                break;
            case 0x41:
                if (zenith_wasm__scan_leb(&p, end, &v) < 0) return;
                v &= 0xffffffffu;
                have = 1;
                break;
            case 0x42:
                if (zenith_wasm__scan_leb(&p, end, &v) < 0) return;
                have = 1;
                break;
            case 0x43: {
                uint32_t u;
                if (end - p < 4) return;
                memcpy(&u, p, 4);
                p += 4;
                v = u;
                have = 1;
                break;
            }
            case 0x44:
                if (end - p < 8) return;
                memcpy(&v, p, 8);
                p += 8;
                have = 1;
                break;
            case 0xfc:
                if (zenith_wasm__scan_leb(&p, end, &v) < 0 || v > 7) return;
                break;
            default:
                if (op >= 0x28 && op <= 0x3e) { /* memarg */
                    if (zenith_wasm__scan_leb(&p, end, &v) < 0 || zenith_wasm__scan_leb(&p, end, &v) < 0) return;
                } else if (!(op <= 0x01 || op == 0x05 || op == 0x0f || op == 0x1a || op == 0x1b ||
                             (op >= 0x45 && op <= 0xc4))) {
                    return;
                }
                break;
        }
        if (have && loops) {
            for (i = 0; i < t->nhoist && t->hval[i] != v; i++) {
            }
            if (i == t->nhoist) t->hval[t->nhoist++] = v;
        }
    }
}

static int zenith_wasm__translate(zenith_wasm_module *m, uint32_t defidx, const void *const *labels,
                                  zenith_wasm_error *err) {
    zenith_wasm__fcode *f = &m->code[defidx];
    const zenith_wasm__type *ft = &m->types[f->type];
    zenith_wasm__rd rd;
    zenith_wasm__tr tt, *t = &tt;
    zenith_wasm__ctl fn;
    uint32_t ngroups, g, k;
    uint64_t total;
    const uint8_t *groups;
    int rc = 0;

    memset(&rd, 0, sizeof rd);
    rd.base = m->bytes;
    rd.p = f->body;
    rd.end = f->body + f->body_len;
    rd.err = err;
    rd.section = 10;
    rd.index = defidx;
    memset(t, 0, sizeof *t);
    t->m = m;
    t->f = f;
    t->r = &rd;
    t->labels = labels;
    t->last_end = (size_t)-1;
    t->copy_end = (size_t)-1;
    /* about two cells per byte of body: one allocation for most functions */
    if ((rc = zenith_wasm__grow(&t->code, &t->capcode,
                                f->body_len < ZENITH_WASM__MAX_CODE / 2 ? f->body_len * 2 + 8 : 8, sizeof *t->code)) <
        0)
        goto out;

    /* locals */
    if ((rc = zenith_wasm__u32(&rd, &ngroups)) < 0) goto out;
    groups = rd.p;
    total = ft->np;
    for (g = 0; g < ngroups; g++) {
        uint32_t cnt;
        uint8_t vt;
        if ((rc = zenith_wasm__u32(&rd, &cnt)) < 0 || (rc = zenith_wasm__valtype(&rd, &vt)) < 0) goto out;
        total += cnt;
        if (total > 0xffffffffu) {
            rc = zenith_wasm__fail(&rd, ZENITH_WASM_E_MALFORMED, "too many locals");
            goto out;
        }
    }
    if (total > ZENITH_WASM__MAX_SLOTS) {
        rc = zenith_wasm__fail(&rd, ZENITH_WASM_E_LIMIT, "%llu locals (at most %u)", (unsigned long long)total,
                               ZENITH_WASM__MAX_SLOTS);
        goto out;
    }
    t->nlocals = (uint32_t)total;
    t->ltypes = (uint8_t *)zenith_wasm__alloc(total);
    t->refs = (uint32_t *)zenith_wasm__calloc(total + 1, sizeof *t->refs);
    if (!t->ltypes || !t->refs) {
        rc = ZENITH_WASM_E_NOMEM;
        goto out;
    }
    memcpy(t->ltypes, ft->t, ft->np);
    {
        zenith_wasm__rd r2 = rd;
        uint32_t at = ft->np;
        r2.p = groups;
        for (g = 0; g < ngroups; g++) {
            uint32_t cnt;
            uint8_t vt;
            zenith_wasm__u32(&r2, &cnt);
            zenith_wasm__valtype(&r2, &vt);
            memset(t->ltypes + at, vt, cnt);
            at += cnt;
        }
    }

    zenith_wasm__hoist_scan(t, rd.p, rd.end);
    if (t->nlocals + t->nhoist + 1 >= ZENITH_WASM__MAX_SLOTS) t->nhoist = 0;
    t->sbase = t->nlocals + t->nhoist;

    memset(&fn, 0, sizeof fn);
    fn.kind = 0;
    fn.nr = ft->nr;
    fn.rt = ft->t + ft->np;
    fn.patch = -1;
    fn.else_jump = -1;
    if ((rc = zenith_wasm__grow(&t->ctls, &t->capctls, 1, sizeof *t->ctls)) < 0) goto out;
    t->ctls[0] = fn;
    t->nctls = 1;

    while (t->nctls > 0) {
        uint8_t op;
        zenith_wasm__val a, b, c;
        int64_t addr_imm;
        uint32_t addr_x = 0;
        uint32_t dst, x;
        uint8_t tin, tout;
        int arity;
        if (rd.p >= rd.end) {
            rc = zenith_wasm__fail(&rd, ZENITH_WASM_E_MALFORMED, "unexpected end of section or function");
            goto out;
        }
        op = *rd.p++;
        t->fuel_count++;
        if (op == 0xfc) {
            uint32_t sub;
            if ((rc = zenith_wasm__u32(&rd, &sub)) < 0) goto out;
            if (sub > 7) {
                rc = zenith_wasm__fail(&rd, ZENITH_WASM_E_MALFORMED, "illegal opcode 0xfc %u", sub);
                goto out;
            }
            op = (uint8_t)(ZENITH_WASM__OP_SAT + sub);
        }
        switch (op) {
            case 0x00: /* unreachable */
                if ((rc = zenith_wasm__emit_op(t, ZENITH_WASM__OP_UNREACHABLE)) < 0) goto out;
                zenith_wasm__set_unreachable(t);
                break;
            case 0x01: break; /* nop */
            case 0x02:        /* block */
            case 0x03:        /* loop */
            {
                zenith_wasm__ctl c2;
                memset(&c2, 0, sizeof c2);
                c2.kind = op;
                if ((rc = zenith_wasm__blocktype(t, &c2)) < 0 || (rc = zenith_wasm__enter(t, &c2)) < 0) goto out;
                if (op == 0x03) {
                    zenith_wasm__ctl *l = &t->ctls[t->nctls - 1];
                    l->start = t->ncode;
                    if ((rc = zenith_wasm__emit_op(t, ZENITH_WASM__OP_FUEL)) < 0 || (rc = zenith_wasm__emit(t, 1)) < 0)
                        goto out;
                    l->fuel_cell = t->ncode - 1;
                    l->saved_fuel = t->fuel_count;
                    t->fuel_count = 0;
                }
                break;
            }
            case 0x04: { /* if */
                zenith_wasm__ctl c2;
                memset(&c2, 0, sizeof c2);
                c2.kind = op;
                if ((rc = zenith_wasm__blocktype(t, &c2)) < 0 || (rc = zenith_wasm__pop(t, ZENITH_WASM_I32, &c)) < 0 ||
                    (rc = zenith_wasm__enter(t, &c2)) < 0)
                    goto out;
                if (ZENITH_WASM__REACH(t)) {
                    size_t cell = 0;
                    if ((rc = zenith_wasm__cond_jump(t, &c, 0, NULL, &cell)) < 0) goto out;
                    t->ctls[t->nctls - 1].else_jump = (int64_t)cell;
                }
                break;
            }
            case 0x05:   /* else */
            case 0x0b: { /* end */
                zenith_wasm__ctl *l = &t->ctls[t->nctls - 1];
                if (op == 0x05 && l->kind != 0x04) {
                    rc = zenith_wasm__fail(&rd, ZENITH_WASM_E_MALFORMED, "else without if");
                    goto out;
                }
                if ((rc = zenith_wasm__check_top(t, l->rt, l->nr)) < 0) goto out;
                if (t->nvals > l->height + l->nr) {
                    rc = zenith_wasm__fail(&rd, ZENITH_WASM_E_INVALID,
                                           "type mismatch: %u values left at the end of a block expecting %u",
                                           (unsigned)(t->nvals - l->height), l->nr);
                    goto out;
                }
                if (l->kind == 0) { /* the function's end */
                    if ((rc = zenith_wasm__fill(t, l->rt, l->nr)) < 0) goto out;
                    if ((rc = zenith_wasm__emit_return(t)) < 0) goto out;
                    zenith_wasm__patch_chain(t, l->patch, t->ncode);
                    t->nctls = 0;
                    break;
                }
                if ((rc = zenith_wasm__fill(t, l->rt, l->nr)) < 0) goto out;
                for (k = 0; k < l->nr; k++)
                    if ((rc = zenith_wasm__mat(t, l->height + k)) < 0) goto out;
                if (op == 0x05) {
                    if ((rc = zenith_wasm__jump(t, ZENITH_WASM__OP_BR, 0, l)) < 0) goto out;
                    zenith_wasm__patch_chain(t, l->else_jump, t->ncode);
                    l->else_jump = -1;
                    l->kind = 0x05;
                    zenith_wasm__truncate(t, l->height);
                    l->unreachable = 0;
                    for (k = 0; k < l->np; k++)
                        if ((rc = zenith_wasm__push(t, l->pt[k])) < 0) goto out;
                    t->last_end = (size_t)-1;
                    break;
                }
                if (l->kind == 0x04) { /* if without else: the parameters pass through */
                    if (l->np != l->nr || (l->np && memcmp(l->pt, l->rt, l->np) != 0)) {
                        rc = zenith_wasm__fail(
                            &rd, ZENITH_WASM_E_INVALID,
                            "type mismatch: if without else must have matching parameter and result types");
                        goto out;
                    }
                    zenith_wasm__patch_chain(t, l->else_jump, t->ncode);
                }
                if (l->kind == 0x03) {
                    if (!l->dead) t->code[l->fuel_cell].u = t->fuel_count + 1;
                    t->fuel_count = l->saved_fuel;
                } else {
                    zenith_wasm__patch_chain(t, l->patch, t->ncode);
                }
                zenith_wasm__truncate(t, l->height);
                t->nctls--;
                for (k = 0; k < l->nr; k++)
                    if ((rc = zenith_wasm__push(t, l->rt[k])) < 0) goto out;
                t->last_end = (size_t)-1;
                break;
            }
            case 0x0c:   /* br */
            case 0x0d: { /* br_if */
                zenith_wasm__ctl *l;
                const uint8_t *ty;
                uint32_t n;
                if ((rc = zenith_wasm__u32(&rd, &x)) < 0) goto out;
                if (x >= t->nctls) {
                    rc = zenith_wasm__fail(&rd, ZENITH_WASM_E_INVALID, "unknown label %u", x);
                    goto out;
                }
                l = &t->ctls[t->nctls - 1 - x];
                n = zenith_wasm__label_arity(l, &ty);
                if (op == 0x0d && (rc = zenith_wasm__pop(t, ZENITH_WASM_I32, &c)) < 0) goto out;
                if ((rc = zenith_wasm__check_top(t, ty, n)) < 0) goto out;
                if (op == 0x0c) {
                    if (ZENITH_WASM__REACH(t) && (rc = zenith_wasm__emit_branch(t, x)) < 0) goto out;
                    zenith_wasm__set_unreachable(t);
                    break;
                }
                /* br_if: pop and push back the label's types (their types, now) */
                if ((rc = zenith_wasm__fill(t, ty, n)) < 0) goto out;
                for (k = 0; k < n; k++) t->vals[t->nvals - n + k].type = ty[k];
                if (ZENITH_WASM__REACH(t)) {
                    int direct = l->kind != 0;
                    for (k = 0; k < n && direct; k++)
                        if (t->vals[t->nvals - n + k].slot != t->sbase + l->height + k || t->vals[t->nvals - n + k].k)
                            direct = 0;
                    if (direct) {
                        if ((rc = zenith_wasm__cond_jump(t, &c, 1, l, NULL)) < 0) goto out;
                    } else {
                        size_t skip = 0;
                        if ((rc = zenith_wasm__cond_jump(t, &c, 0, NULL, &skip)) < 0) goto out;
                        if ((rc = zenith_wasm__emit_branch(t, x)) < 0) goto out;
                        zenith_wasm__patch_chain(t, (int64_t)skip, t->ncode);
                    }
                }
                t->last_end = (size_t)-1;
                break;
            }
            case 0x0e: { /* br_table */
                uint32_t n, *targets = NULL, def, arity0, i;
                const uint8_t *ty0, *ty;
                size_t table;
                if ((rc = zenith_wasm__count(&rd, &n, "br_table labels")) < 0) goto out;
                targets = (uint32_t *)zenith_wasm__calloc((size_t)n + 1, sizeof *targets);
                if (!targets) {
                    rc = ZENITH_WASM_E_NOMEM;
                    goto out;
                }
                for (i = 0; i <= n && rc == 0; i++) rc = zenith_wasm__u32(&rd, &targets[i]);
                for (i = 0; i <= n && rc == 0; i++)
                    if (targets[i] >= t->nctls)
                        rc = zenith_wasm__fail(&rd, ZENITH_WASM_E_INVALID, "unknown label %u", targets[i]);
                def = targets[n];
                if (rc == 0) rc = zenith_wasm__pop(t, ZENITH_WASM_I32, &c);
                if (rc < 0) {
                    zenith_wasm__free(targets);
                    goto out;
                }
                arity0 = zenith_wasm__label_arity(&t->ctls[t->nctls - 1 - def], &ty0);
                for (i = 0; i <= n && rc == 0; i++) {
                    uint32_t ar = zenith_wasm__label_arity(&t->ctls[t->nctls - 1 - targets[i]], &ty);
                    if (ar != arity0 || (ar && memcmp(ty, ty0, ar) != 0))
                        rc = zenith_wasm__fail(&rd, ZENITH_WASM_E_INVALID,
                                               "type mismatch: br_table labels of different types");
                }
                if (rc == 0) rc = zenith_wasm__check_top(t, ty0, arity0); /* all labels' types are ty0's */
                if (rc == 0 && ZENITH_WASM__REACH(t)) {
                    rc = zenith_wasm__emit_op(t, ZENITH_WASM__OP_BR_TABLE);
                    if (rc == 0) rc = zenith_wasm__emit(t, (uint64_t)(c.slot & 0xffff) | ((uint64_t)n << 32));
                    table = t->ncode;
                    for (i = 0; i <= n && rc == 0; i++) rc = zenith_wasm__emit(t, 0);
                    for (i = 0; i <= n && rc == 0; i++) {
                        zenith_wasm__ctl *l = &t->ctls[t->nctls - 1 - targets[i]];
                        uint32_t ar = zenith_wasm__label_arity(l, &ty), q;
                        int direct = l->kind != 0;
                        size_t cell = table + i;
                        for (q = 0; q < ar && direct; q++)
                            if (t->vals[t->nvals - ar + q].slot != t->sbase + l->height + q ||
                                t->vals[t->nvals - ar + q].k)
                                direct = 0;
                        if (direct && l->kind == 0x03) {
                            t->code[cell].u = (uint64_t)(uint32_t)(int32_t)((int64_t)l->start - (int64_t)cell) << 32;
                        } else if (direct) {
                            t->code[cell].u = (uint64_t)(uint32_t)(int32_t)l->patch << 32;
                            l->patch = (int64_t)cell;
                        } else { /* a stub: copies, then the jump */
                            t->code[cell].u = (uint64_t)(uint32_t)(int32_t)((int64_t)t->ncode - (int64_t)cell) << 32;
                            rc = zenith_wasm__emit_branch(t, targets[i]);
                        }
                    }
                }
                zenith_wasm__free(targets);
                if (rc < 0) goto out;
                zenith_wasm__set_unreachable(t);
                break;
            }
            case 0x0f: /* return */
                if ((rc = zenith_wasm__check_top(t, t->ctls[0].rt, t->ctls[0].nr)) < 0) goto out;
                if (ZENITH_WASM__REACH(t) && (rc = zenith_wasm__emit_return(t)) < 0) goto out;
                zenith_wasm__set_unreachable(t);
                break;
            case 0x10: { /* call */
                const zenith_wasm__type *ty;
                uint32_t base;
                if ((rc = zenith_wasm__u32(&rd, &x)) < 0) goto out;
                if (x >= m->nfuncs) {
                    rc = zenith_wasm__fail(&rd, ZENITH_WASM_E_INVALID, "unknown function %u", x);
                    goto out;
                }
                ty = &m->types[m->func_types[x]];
                if ((rc = zenith_wasm__call_sig(t, ty, &base)) < 0) goto out;
                if (x < m->nfunc_imports) {
                    if ((rc = zenith_wasm__emit_op(t, ZENITH_WASM__OP_CALL_IMPORT)) < 0 ||
                        (rc = zenith_wasm__emit(t, (uint64_t)x | ((uint64_t)base << 32))) < 0)
                        goto out;
                } else {
                    if ((rc = zenith_wasm__emit_op(t, ZENITH_WASM__OP_CALL)) < 0) goto out;
                    if (ZENITH_WASM__REACH(t)) {
                        if ((rc = zenith_wasm__emit(t, 0)) < 0) goto out;
                        t->code[t->ncode - 1].fn = &m->code[x - m->nfunc_imports];
                    }
                    if ((rc = zenith_wasm__emit(t, base)) < 0) goto out;
                }
                if ((rc = zenith_wasm__call_results(t, ty)) < 0) goto out;
                break;
            }
            case 0x11: { /* call_indirect */
                const zenith_wasm__type *ty;
                uint32_t base;
                uint8_t zero;
                if ((rc = zenith_wasm__u32(&rd, &x)) < 0 || (rc = zenith_wasm__byte(&rd, &zero)) < 0) goto out;
                if (zero != 0) {
                    rc = zenith_wasm__fail(&rd, ZENITH_WASM_E_MALFORMED,
                                           "zero flag expected (call_indirect's table byte)");
                    goto out;
                }
                if (m->ntables == 0) {
                    rc = zenith_wasm__fail(&rd, ZENITH_WASM_E_INVALID, "unknown table 0 in call_indirect");
                    goto out;
                }
                if (x >= m->ntypes) {
                    rc = zenith_wasm__fail(&rd, ZENITH_WASM_E_INVALID, "unknown type %u", x);
                    goto out;
                }
                ty = &m->types[x];
                if ((rc = zenith_wasm__pop(t, ZENITH_WASM_I32, &c)) < 0) goto out;
                if ((rc = zenith_wasm__call_sig(t, ty, &base)) < 0) goto out;
                if ((rc = zenith_wasm__emit_op(t, ZENITH_WASM__OP_CALL_INDIRECT)) < 0 ||
                    (rc = zenith_wasm__emit(t, (uint64_t)x | ((uint64_t)(c.slot & 0xffff) << 32) |
                                                   ((uint64_t)base << 48))) < 0)
                    goto out;
                if ((rc = zenith_wasm__call_results(t, ty)) < 0) goto out;
                break;
            }
            case 0x1a: /* drop */
                if ((rc = zenith_wasm__pop_k(t, 0, &a)) < 0) goto out;
                break;
            case 0x1b: { /* select */
                uint8_t ty;
                unsigned cmpop = 0;
                uint64_t cw = 0;
                if ((rc = zenith_wasm__pop(t, ZENITH_WASM_I32, &c)) < 0) goto out;
                if (ZENITH_WASM__REACH(t) && c.slot >= t->sbase && c.slot != ZENITH_WASM__NONE &&
                    c.slot == t->last_slot && t->last_end == t->ncode && t->last_cell + 1 == t->ncode &&
                    t->last_op >= 0x46 && t->last_op <= 0x66 && t->last_op != 0x50) {
                    /* the condition is the compare just emitted: take it back, select on it directly */
                    cmpop = t->last_op;
                    cw = t->code[t->last_cell].u;
                    t->ncode = t->last_cell - 1;
                    t->last_end = (size_t)-1;
                    t->copy_end = (size_t)-1;
                }
                if ((rc = zenith_wasm__pop(t, 0, &b)) < 0 || (rc = zenith_wasm__pop(t, b.type, &a)) < 0) goto out;
                ty = a.type ? a.type : b.type;
                if (a.type && b.type && a.type != b.type) {
                    rc = zenith_wasm__mismatch(t, b.type, a.type);
                    goto out;
                }
                if ((rc = zenith_wasm__result(t, ty, &dst)) < 0) goto out;
                if (!ty) t->vals[t->nvals - 1].type = 0;
                if (cmpop) {
                    if ((rc = zenith_wasm__emit_op(t, ZENITH_WASM__OP_CMPSEL + cmpop)) < 0 ||
                        (rc = zenith_wasm__emit_dst(t, ZENITH_WASM__OP_CMPSEL + cmpop, 0, 0, dst)) < 0)
                        goto out;
                    /* emit_dst wrote a second handler cell: it is the first operand word instead */
                    t->code[t->ncode - 2].u =
                        (cw & 0xffffffffu) | ((uint64_t)(a.slot & 0xffff) << 32) | ((uint64_t)(b.slot & 0xffff) << 48);
                    t->code[t->ncode - 1].u = dst & 0xffff;
                    break;
                }
                if ((rc = zenith_wasm__emit_dst(t, ZENITH_WASM__OP_SELECT,
                                                (uint64_t)(c.slot & 0xffff) | ((uint64_t)(a.slot & 0xffff) << 16) |
                                                    ((uint64_t)(b.slot & 0xffff) << 32) | ((uint64_t)dst << 48),
                                                48, dst)) < 0)
                    goto out;
                break;
            }
            case 0x20: /* local.get */
                if ((rc = zenith_wasm__u32(&rd, &x)) < 0) goto out;
                if (x >= t->nlocals) {
                    rc = zenith_wasm__fail(&rd, ZENITH_WASM_E_INVALID, "unknown local %u", x);
                    goto out;
                }
                if ((rc = zenith_wasm__push_local(t, t->ltypes[x], x)) < 0) goto out;
                break;
            case 0x21: /* local.set */
            case 0x22: /* local.tee */
                if ((rc = zenith_wasm__u32(&rd, &x)) < 0) goto out;
                if (x >= t->nlocals) {
                    rc = zenith_wasm__fail(&rd, ZENITH_WASM_E_INVALID, "unknown local %u", x);
                    goto out;
                }
                if ((rc = zenith_wasm__pop_k(t, t->ltypes[x], &a)) < 0) goto out;
                if ((rc = zenith_wasm__local_write(t, x, a)) < 0) goto out;
                if (op == 0x22 && (rc = zenith_wasm__push_local(t, t->ltypes[x], x)) < 0) goto out;
                break;
            case 0x23: /* global.get */
                if ((rc = zenith_wasm__u32(&rd, &x)) < 0) goto out;
                if (x >= m->nglobals) {
                    rc = zenith_wasm__fail(&rd, ZENITH_WASM_E_INVALID, "unknown global %u", x);
                    goto out;
                }
                if ((rc = zenith_wasm__result(t, m->globals[x].type, &dst)) < 0 ||
                    (rc = zenith_wasm__emit_dst(t, ZENITH_WASM__OP_GLOBAL_GET, (uint64_t)dst | ((uint64_t)x << 32), 0,
                                                dst)) < 0)
                    goto out;
                break;
            case 0x24: /* global.set */
                if ((rc = zenith_wasm__u32(&rd, &x)) < 0) goto out;
                if (x >= m->nglobals) {
                    rc = zenith_wasm__fail(&rd, ZENITH_WASM_E_INVALID, "unknown global %u", x);
                    goto out;
                }
                if (!m->globals[x].mut) {
                    rc = zenith_wasm__fail(&rd, ZENITH_WASM_E_INVALID, "global is immutable: global.set %u", x);
                    goto out;
                }
                if ((rc = zenith_wasm__pop(t, m->globals[x].type, &a)) < 0) goto out;
                if ((rc = zenith_wasm__emit_op(t, ZENITH_WASM__OP_GLOBAL_SET)) < 0 ||
                    (rc = zenith_wasm__emit(t, (uint64_t)(a.slot & 0xffff) | ((uint64_t)x << 32))) < 0)
                    goto out;
                break;
            case 0x3f: /* memory.size */
            case 0x40: /* memory.grow */
            {
                uint8_t zero;
                if ((rc = zenith_wasm__byte(&rd, &zero)) < 0) goto out;
                if (zero != 0) {
                    rc = zenith_wasm__fail(&rd, ZENITH_WASM_E_MALFORMED, "zero flag expected (memory index byte)");
                    goto out;
                }
                if (m->nmems == 0) {
                    rc = zenith_wasm__fail(&rd, ZENITH_WASM_E_INVALID, "unknown memory 0");
                    goto out;
                }
                if (op == 0x40 && (rc = zenith_wasm__pop(t, ZENITH_WASM_I32, &a)) < 0) goto out;
                if ((rc = zenith_wasm__result(t, ZENITH_WASM_I32, &dst)) < 0) goto out;
                if (op == 0x3f)
                    rc = zenith_wasm__emit_dst(t, ZENITH_WASM__OP_MEMORY_SIZE, dst, 0, dst);
                else
                    rc = zenith_wasm__emit_dst(t, ZENITH_WASM__OP_MEMORY_GROW,
                                               (uint64_t)(a.slot & 0xffff) | ((uint64_t)dst << 16), 16, dst);
                if (rc < 0) goto out;
                break;
            }
            case 0x41: /* i32.const */
            case 0x43: /* f32.const */
            {
                uint64_t v;
                if (op == 0x41) {
                    if ((rc = zenith_wasm__leb(&rd, 32, 1, &v)) < 0) goto out;
                } else {
                    uint32_t u;
                    if (rd.end - rd.p < 4) {
                        rc = zenith_wasm__eof(&rd);
                        goto out;
                    }
                    memcpy(&u, rd.p, 4);
                    rd.p += 4;
                    v = u;
                }
                if ((rc = zenith_wasm__push_const(t, op == 0x41 ? ZENITH_WASM_I32 : ZENITH_WASM_F32, v & 0xffffffffu)) <
                    0)
                    goto out;
                break;
            }
            case 0x42: /* i64.const */
            case 0x44: /* f64.const */
            {
                uint64_t v;
                if (op == 0x42) {
                    if ((rc = zenith_wasm__leb(&rd, 64, 1, &v)) < 0) goto out;
                } else {
                    if (rd.end - rd.p < 8) {
                        rc = zenith_wasm__eof(&rd);
                        goto out;
                    }
                    memcpy(&v, rd.p, 8);
                    rd.p += 8;
                }
                if ((rc = zenith_wasm__push_const(t, op == 0x42 ? ZENITH_WASM_I64 : ZENITH_WASM_F64, v)) < 0) goto out;
                break;
            }
            default:
                if (op >= 0x28 && op <= 0x3e) { /* loads and stores */
                    uint32_t align, offset;
                    uint8_t ty = zenith_wasm__memtype(op);
                    if ((rc = zenith_wasm__u32(&rd, &align)) < 0 || (rc = zenith_wasm__u32(&rd, &offset)) < 0) goto out;
                    if (m->nmems == 0) {
                        rc = zenith_wasm__fail(&rd, ZENITH_WASM_E_INVALID, "unknown memory 0");
                        goto out;
                    }
                    if (align > zenith_wasm__natural(op)) {
                        rc = zenith_wasm__fail(&rd, ZENITH_WASM_E_INVALID,
                                               "alignment must not be larger than natural (2^%u > %u bytes)", align,
                                               1u << zenith_wasm__natural(op));
                        goto out;
                    }
                    if (op <= 0x35) {
                        if ((rc = zenith_wasm__pop(t, ZENITH_WASM_I32, &a)) < 0) goto out;
                        addr_imm = zenith_wasm__addr_fold(t, &a, &addr_x);
                        if ((rc = zenith_wasm__result(t, ty, &dst)) < 0) goto out;
                        if (addr_imm >= 0) {
                            if ((rc = zenith_wasm__emit_dst(t, ZENITH_WASM__OP_ADDR + op,
                                                            (uint64_t)(addr_x & 0xffff) | ((uint64_t)dst << 16) |
                                                                ((uint64_t)offset << 32),
                                                            16, dst)) < 0 ||
                                (rc = zenith_wasm__emit(t, (uint64_t)addr_imm)) < 0)
                                goto out;
                            t->last_end = t->ncode; /* the immediate's cell follows the dst's */
                        } else if ((rc = zenith_wasm__emit_dst(t, op,
                                                               (uint64_t)(a.slot & 0xffff) | ((uint64_t)dst << 16) |
                                                                   ((uint64_t)offset << 32),
                                                               16, dst)) < 0) {
                            goto out;
                        }
                    } else {
                        if ((rc = zenith_wasm__pop(t, ty, &b)) < 0 ||
                            (rc = zenith_wasm__pop(t, ZENITH_WASM_I32, &a)) < 0)
                            goto out;
                        addr_imm = zenith_wasm__addr_fold(t, &a, &addr_x);
                        if ((rc = zenith_wasm__emit_op(t, addr_imm >= 0 ? ZENITH_WASM__OP_ADDR + op : op)) < 0 ||
                            (rc = zenith_wasm__emit(t, (uint64_t)((addr_imm >= 0 ? addr_x : a.slot) & 0xffff) |
                                                           ((uint64_t)(b.slot & 0xffff) << 16) |
                                                           ((uint64_t)offset << 32))) < 0 ||
                            (addr_imm >= 0 && (rc = zenith_wasm__emit(t, (uint64_t)addr_imm)) < 0))
                            goto out;
                    }
                    break;
                }
                arity = zenith_wasm__numsig(op, &tin, &tout);
                if (arity == 0) {
                    rd.p--;
                    rc = zenith_wasm__fail(&rd, ZENITH_WASM_E_MALFORMED, "illegal opcode 0x%02x", op);
                    goto out;
                }
                if (arity == 2) {
                    if ((rc = zenith_wasm__pop_k(t, tin, &b)) < 0) goto out;
                    if (b.k && zenith_wasm__has_imm(op) &&
                        (tin == ZENITH_WASM_I32 || (int64_t)b.c == (int64_t)(int32_t)(uint32_t)b.c)) {
                        if ((rc = zenith_wasm__pop(t, tin, &a)) < 0 || (rc = zenith_wasm__result(t, tout, &dst)) < 0 ||
                            (rc = zenith_wasm__emit_dst(t, ZENITH_WASM__OP_IMM + op,
                                                        (uint64_t)(a.slot & 0xffff) | ((uint64_t)dst << 16) |
                                                            ((b.c & 0xffffffffu) << 32),
                                                        16, dst)) < 0)
                            goto out;
                        break;
                    }
                    if ((rc = zenith_wasm__operand(t, &b)) < 0) goto out;
                    if ((rc = zenith_wasm__pop(t, tin, &a)) < 0 || (rc = zenith_wasm__result(t, tout, &dst)) < 0)
                        goto out;
                    if ((rc = zenith_wasm__emit_dst(t, op,
                                                    (uint64_t)(a.slot & 0xffff) | ((uint64_t)(b.slot & 0xffff) << 16) |
                                                        ((uint64_t)dst << 32),
                                                    32, dst)) < 0)
                        goto out;
                } else {
                    if (op == 0xa7 || (op >= 0xbc && op <= 0xbf)) { /* wrap, reinterpret: the bits stay */
                        if ((rc = zenith_wasm__pop_k(t, tin, &a)) < 0) goto out;
                        if (a.k) {
                            rc = zenith_wasm__push_const(t, tout, op == 0xa7 ? (a.c & 0xffffffffu) : a.c);
                            if (rc < 0) goto out;
                            break;
                        }
                        if (a.slot < t->nlocals) /* a deferred local stays deferred */
                            rc = zenith_wasm__push_local(t, tout, a.slot);
                        else
                            rc = zenith_wasm__result(t, tout, &dst);
                        if (rc < 0) goto out;
                        break;
                    }
                    if ((rc = zenith_wasm__pop(t, tin, &a)) < 0 || (rc = zenith_wasm__result(t, tout, &dst)) < 0)
                        goto out;
                    if ((rc = zenith_wasm__emit_dst(t, op, (uint64_t)(a.slot & 0xffff) | ((uint64_t)dst << 16), 16,
                                                    dst)) < 0)
                        goto out;
                }
                break;
        }
    }
    if (rd.p != rd.end) {
        rc = zenith_wasm__fail(&rd, ZENITH_WASM_E_MALFORMED, "section size mismatch: bytes after the function's end");
        goto out;
    }
    if ((uint64_t)t->sbase + t->max_height + 1 > ZENITH_WASM__MAX_SLOTS) {
        rc = zenith_wasm__fail(&rd, ZENITH_WASM_E_LIMIT, "function needs %llu value slots (at most %u)",
                               (unsigned long long)t->sbase + t->max_height, ZENITH_WASM__MAX_SLOTS);
        goto out;
    }
    if (t->nhused > 0) { /* the prologue: [CONSTS] [n | first slot << 32] [value] x n, in front */
        size_t pro = 2 + (size_t)t->nhused;
        if ((rc = zenith_wasm__grow(&t->code, &t->capcode, t->ncode + pro, sizeof *t->code)) < 0) goto out;
        memmove(t->code + pro, t->code, t->ncode * sizeof *t->code); /* jumps are relative: unchanged */
#if ZENITH_WASM__THREADED
        t->code[0].h = t->labels[ZENITH_WASM__OP_CONSTS];
#else
        t->code[0].u = ZENITH_WASM__OP_CONSTS;
#endif
        t->code[1].u = (uint64_t)t->nhused | ((uint64_t)t->nlocals << 32);
        for (k = 0; k < t->nhused; k++) t->code[2 + k].u = t->hval[t->horder[k]];
        t->ncode += pro;
    }
    f->nparams = ft->np;
    f->nresults = ft->nr;
    f->nlocals = t->nlocals;
    f->frame_slots = t->sbase + t->max_height + 1;
    if (f->frame_slots < ft->nr) f->frame_slots = ft->nr;
    f->fuel = (uint32_t)(t->fuel_count > 0xffffffu ? 0xffffffu : t->fuel_count);
    f->local_types = t->ltypes;
    t->ltypes = NULL;
    if (t->ncode < t->capcode / 2) { /* give back what the estimate overshot */
        zenith_wasm__cell *c = (zenith_wasm__cell *)ZENITH_WASM_REALLOC(t->code, (t->ncode ? t->ncode : 1) * sizeof *c);
        if (c) t->code = c;
    }
    f->code = t->code;
    f->ncode = t->ncode;
    t->code = NULL;
out:
    zenith_wasm__free(t->ltypes);
    zenith_wasm__free(t->refs);
    zenith_wasm__free(t->vals);
    zenith_wasm__free(t->ctls);
    zenith_wasm__free(t->code);
    return rc;
}

/* ---- run-time objects --------------------------------------------------------------------- */

typedef struct zenith_wasm__frame {
    const zenith_wasm__cell *pc; /* NULL: return to the host */
    zenith_wasm__slot *fp;
    zenith_wasm_instance *inst;
} zenith_wasm__frame;

struct zenith_wasm_extern {
    uint32_t kind;
    zenith_wasm_store *store;
    zenith_wasm_extern *next; /* the store's list */
    union {
        struct {
            const zenith_wasm__type *type;
            zenith_wasm_instance *inst;     /* wasm functions */
            const zenith_wasm__fcode *code; /* wasm functions; NULL for host functions */
            zenith_wasm_host_fn host;
            void *user;
            zenith_wasm__type own; /* host functions: their type */
        } func;
        struct {
            uint8_t *data;
            uint64_t size; /* bytes */
            uint32_t pages, max, has_max;
            uint32_t cap_pages; /* zeroed bytes reserved, in pages */
        } mem;
        struct {
            zenith_wasm_extern **elems;
            uint32_t size, max, has_max;
        } table;
        struct {
            zenith_wasm__slot val;
            uint8_t type, mut;
        } global;
    } u;
};

struct zenith_wasm_instance {
    zenith_wasm_store *store;
    const zenith_wasm_module *module;
    zenith_wasm_instance *next;
    zenith_wasm_extern **funcs;   /* nfuncs */
    zenith_wasm_extern *table;    /* or NULL */
    zenith_wasm_extern *mem;      /* or NULL */
    zenith_wasm_extern **globals; /* nglobals */
    zenith_wasm_extern **exports; /* nexports */
};

struct zenith_wasm_store {
    zenith_wasm_config cfg;
    zenith_wasm__slot *stack;
    size_t nslots;
    zenith_wasm__frame *frames;
    size_t nframes;
    zenith_wasm__slot *sp;   /* first free slot (for a nested call) */
    zenith_wasm__frame *csp; /* first free frame */
    int nesting;
    int64_t fuel;
    uint64_t fuel_used;
    zenith_wasm_extern *externs;
    zenith_wasm_instance *instances;
};

static int zenith_wasm__type_eq(const zenith_wasm__type *a, const zenith_wasm__type *b) {
    return a == b || (a->np == b->np && a->nr == b->nr && memcmp(a->t, b->t, (size_t)a->np + a->nr) == 0);
}

/* Zeroed memory for linear memories: calloc (fresh pages are zero and untouched, so a large
   reservation costs address space, not RSS), or malloc + memset with a user allocator. */
static void *zenith_wasm__zalloc(size_t n) {
#ifdef ZENITH_WASM__USER_ALLOC
    void *p = ZENITH_WASM_MALLOC(n);
    if (p) memset(p, 0, n);
    return p;
#else
    return calloc(1, n);
#endif
}

/* Grows a memory by delta pages: the old size, or -1. The bytes live in a zeroed reservation
   (cap_pages) that doubles, bounded by the memory's maximum and the store's cap: growing inside
   it is free; beyond it the bytes move to a new reservation. Bytes beyond the size are never
   written (every access is checked against the size), so they stay zero. */
static int64_t zenith_wasm__mem_grow(zenith_wasm_store *s, zenith_wasm_extern *m, uint32_t delta) {
    uint64_t old = m->u.mem.pages, pages = old + delta, limit = s->cfg.max_memory_pages;
    uint8_t *p;
    if (delta == 0) return (int64_t)old;
    if (m->u.mem.max < limit) limit = m->u.mem.max;
    if (limit > 65536) limit = 65536;
    if (pages > limit || pages * ZENITH_WASM_PAGE_SIZE > SIZE_MAX) return -1;
    if (pages > m->u.mem.cap_pages) {
        uint64_t cap = m->u.mem.cap_pages * 2;
        if (cap < pages) cap = pages;
        if (cap > limit) cap = limit;
        p = (uint8_t *)zenith_wasm__zalloc((size_t)(cap * ZENITH_WASM_PAGE_SIZE));
        if (p == NULL && cap > pages)
            p = (uint8_t *)zenith_wasm__zalloc((size_t)((cap = pages) * ZENITH_WASM_PAGE_SIZE));
        if (p == NULL) return -1;
        if (m->u.mem.size) memcpy(p, m->u.mem.data, (size_t)m->u.mem.size);
        zenith_wasm__free(m->u.mem.data);
        m->u.mem.data = p;
        m->u.mem.cap_pages = (uint32_t)cap;
    }
    m->u.mem.pages = (uint32_t)pages;
    m->u.mem.size = pages * ZENITH_WASM_PAGE_SIZE;
    return (int64_t)old;
}

/* ---- numeric helpers ---------------------------------------------------------------------- */

static uint32_t zenith_wasm__clz32(uint32_t x) {
#if defined(__GNUC__)
    return x ? (uint32_t)__builtin_clz(x) : 32;
#else
    uint32_t n = 0;
    if (!x) return 32;
    while (!(x & 0x80000000u)) x <<= 1, n++;
    return n;
#endif
}
static uint32_t zenith_wasm__ctz32(uint32_t x) {
#if defined(__GNUC__)
    return x ? (uint32_t)__builtin_ctz(x) : 32;
#else
    uint32_t n = 0;
    if (!x) return 32;
    while (!(x & 1)) x >>= 1, n++;
    return n;
#endif
}
static uint32_t zenith_wasm__popcnt32(uint32_t x) {
#if defined(__GNUC__)
    return (uint32_t)__builtin_popcount(x);
#else
    uint32_t n = 0;
    while (x) x &= x - 1, n++;
    return n;
#endif
}
static uint64_t zenith_wasm__clz64(uint64_t x) {
#if defined(__GNUC__)
    return x ? (uint64_t)__builtin_clzll(x) : 64;
#else
    uint64_t n = 0;
    if (!x) return 64;
    while (!(x & 0x8000000000000000ull)) x <<= 1, n++;
    return n;
#endif
}
static uint64_t zenith_wasm__ctz64(uint64_t x) {
#if defined(__GNUC__)
    return x ? (uint64_t)__builtin_ctzll(x) : 64;
#else
    uint64_t n = 0;
    if (!x) return 64;
    while (!(x & 1)) x >>= 1, n++;
    return n;
#endif
}
static uint64_t zenith_wasm__popcnt64(uint64_t x) {
#if defined(__GNUC__)
    return (uint64_t)__builtin_popcountll(x);
#else
    uint64_t n = 0;
    while (x) x &= x - 1, n++;
    return n;
#endif
}

static uint32_t zenith_wasm__fbits(float f) {
    uint32_t u;
    memcpy(&u, &f, 4);
    return u;
}
static float zenith_wasm__bitsf(uint32_t u) {
    float f;
    memcpy(&f, &u, 4);
    return f;
}
static uint64_t zenith_wasm__dbits(double d) {
    uint64_t u;
    memcpy(&u, &d, 8);
    return u;
}
static double zenith_wasm__bitsd(uint64_t u) {
    double d;
    memcpy(&d, &u, 8);
    return d;
}

static float zenith_wasm__fmin(float a, float b) {
    if (a != a || b != b) return a + b;
    if (a == 0 && b == 0) return zenith_wasm__bitsf(zenith_wasm__fbits(a) | zenith_wasm__fbits(b));
    return a < b ? a : b;
}
static float zenith_wasm__fmax(float a, float b) {
    if (a != a || b != b) return a + b;
    if (a == 0 && b == 0) return zenith_wasm__bitsf(zenith_wasm__fbits(a) & zenith_wasm__fbits(b));
    return a > b ? a : b;
}
static double zenith_wasm__dmin(double a, double b) {
    if (a != a || b != b) return a + b;
    if (a == 0 && b == 0) return zenith_wasm__bitsd(zenith_wasm__dbits(a) | zenith_wasm__dbits(b));
    return a < b ? a : b;
}
static double zenith_wasm__dmax(double a, double b) {
    if (a != a || b != b) return a + b;
    if (a == 0 && b == 0) return zenith_wasm__bitsd(zenith_wasm__dbits(a) & zenith_wasm__dbits(b));
    return a > b ? a : b;
}

/* Rounding by bits (exact, no libm, NaN quietened as arithmetic does). mode: 0 trunc, 1 floor,
   2 ceil, 3 nearest (ties to even). */
static double zenith_wasm__dround(double x, int mode) {
    uint64_t u = zenith_wasm__dbits(x), sign = u & 0x8000000000000000ull;
    int e = (int)((u >> 52) & 0x7ff) - 1023;
    double t;
    if (x != x) return x + x;
    if (e >= 52) return x; /* integral already, or infinite */
    if (e < 0) {           /* |x| < 1 */
        if (x == 0) return x;
        switch (mode) {
            case 1: return sign ? -1.0 : zenith_wasm__bitsd(0);
            case 2: return sign ? zenith_wasm__bitsd(sign) : 1.0;
            case 3:
                if (e == -1 && (u & 0x000fffffffffffffull)) return sign ? -1.0 : 1.0; /* 0.5 < |x| < 1 */
                return zenith_wasm__bitsd(sign);
            default: return zenith_wasm__bitsd(sign);
        }
    }
    t = zenith_wasm__bitsd(u & ~((1ull << (52 - e)) - 1));
    switch (mode) {
        case 1:
            if (t > x) t -= 1.0;
            break;
        case 2:
            if (t < x) t += 1.0;
            if (t == 0) t = zenith_wasm__bitsd(sign);
            break;
        case 3: {
            double d = x - t;
            if (d < 0) d = -d;
            if (d > 0.5 || (d == 0.5 && ((uint64_t)(sign ? -t : t) & 1))) t += sign ? -1.0 : 1.0;
            break;
        }
        default: break;
    }
    return t;
}
static float zenith_wasm__fround(float x, int mode) {
    uint32_t u = zenith_wasm__fbits(x), sign = u & 0x80000000u;
    int e = (int)((u >> 23) & 0xff) - 127;
    float t;
    if (x != x) return x + x;
    if (e >= 23) return x;
    if (e < 0) {
        if (x == 0) return x;
        switch (mode) {
            case 1: return sign ? -1.0f : zenith_wasm__bitsf(0);
            case 2: return sign ? zenith_wasm__bitsf(sign) : 1.0f;
            case 3:
                if (e == -1 && (u & 0x007fffffu)) return sign ? -1.0f : 1.0f;
                return zenith_wasm__bitsf(sign);
            default: return zenith_wasm__bitsf(sign);
        }
    }
    t = zenith_wasm__bitsf(u & ~((1u << (23 - e)) - 1));
    switch (mode) {
        case 1:
            if (t > x) t -= 1.0f;
            break;
        case 2:
            if (t < x) t += 1.0f;
            if (t == 0) t = zenith_wasm__bitsf(sign);
            break;
        case 3: {
            float d = x - t;
            if (d < 0) d = -d;
            if (d > 0.5f || (d == 0.5f && ((uint32_t)(sign ? -t : t) & 1))) t += sign ? -1.0f : 1.0f;
            break;
        }
        default: break;
    }
    return t;
}

static double zenith_wasm__dsqrt(double x) {
#if defined(__GNUC__) && defined(__x86_64__)
    double r;
    __asm__("sqrtsd %1, %0" : "=x"(r) : "x"(x));
    return r;
#elif defined(__GNUC__) && defined(__aarch64__)
    double r;
    __asm__("fsqrt %d0, %d1" : "=w"(r) : "w"(x));
    return r;
#else
    return sqrt(x);
#endif
}
static float zenith_wasm__fsqrt(float x) {
#if defined(__GNUC__) && defined(__x86_64__)
    float r;
    __asm__("sqrtss %1, %0" : "=x"(r) : "x"(x));
    return r;
#elif defined(__GNUC__) && defined(__aarch64__)
    float r;
    __asm__("fsqrt %s0, %s1" : "=w"(r) : "w"(x));
    return r;
#else
    return sqrtf(x);
#endif
}

/* 64-bit integer -> f32 with one rounding, computed through an exact double (no reliance on
   the hardware's 64-bit conversions, which some emulators round twice): bits shifted out are
   kept as a sticky bit, so the final rounding sees the same value class. */
static float zenith_wasm__u64_f32(uint64_t x) {
    uint64_t y = x;
    double scale = 1.0;
    while (y >= (1ull << 53)) {
        y = (y >> 1) | (y & 1);
        scale *= 2.0;
    }
    return (float)((double)y * scale);
}
static float zenith_wasm__i64_f32(int64_t x) {
    return x < 0 ? -zenith_wasm__u64_f32(0 - (uint64_t)x) : zenith_wasm__u64_f32((uint64_t)x);
}

/* Saturating truncations. */
static uint32_t zenith_wasm__sat_i32(double x, int is_signed) {
    if (x != x) return 0;
    if (is_signed) {
        if (x <= -2147483649.0) return 0x80000000u;
        if (x >= 2147483648.0) return 0x7fffffffu;
        return (uint32_t)(int32_t)x;
    }
    if (x <= -1.0) return 0;
    if (x >= 4294967296.0) return 0xffffffffu;
    return (uint32_t)x;
}
static uint64_t zenith_wasm__sat_i64(double x, int is_signed) {
    if (x != x) return 0;
    if (is_signed) {
        if (x < -9223372036854775808.0) return 0x8000000000000000ull;
        if (x >= 9223372036854775808.0) return 0x7fffffffffffffffull;
        return (uint64_t)(int64_t)x;
    }
    if (x <= -1.0) return 0;
    if (x >= 18446744073709551616.0) return 0xffffffffffffffffull;
    return (uint64_t)x;
}

/* ---- interpreter ---------------------------------------------------------------------------

   Registers: pc (the operand cell of the current op), fp (the frame's slot 0), ci (the running
   instance), mem/memsize (its memory, reloaded after anything that may grow or switch it),
   fuel. Calls between wasm functions push a zenith_wasm__frame on the store's call stack and
   never recurse on the C stack; a host function is called from here (it may call back into the
   store: that nests, up to ZENITH_WASM_MAX_NESTING). Every memory access checks
   address + offset + size <= memsize in 64-bit arithmetic: no guard pages. */

/* clang-format off */
#define ZENITH_WASM__OPS(X) \
    X(0x00) X(0x01) X(0x02) X(0x03) X(0x04) X(0x05) X(0x06) X(0x07) X(0x0c) X(0x0d) X(0x0e) X(0x0f) X(0x10) X(0x11) \
    X(0x1b) X(0x23) X(0x24) X(0x28) X(0x29) X(0x2a) X(0x2b) X(0x2c) X(0x2d) X(0x2e) X(0x2f) X(0x30) \
    X(0x31) X(0x32) X(0x33) X(0x34) X(0x35) X(0x36) X(0x37) X(0x38) X(0x39) X(0x3a) X(0x3b) X(0x3c) \
    X(0x3d) X(0x3e) X(0x3f) X(0x40) X(0x41) X(0x45) X(0x46) X(0x47) X(0x48) X(0x49) X(0x4a) X(0x4b) \
    X(0x4c) X(0x4d) X(0x4e) X(0x4f) X(0x50) X(0x51) X(0x52) X(0x53) X(0x54) X(0x55) X(0x56) X(0x57) \
    X(0x58) X(0x59) X(0x5a) X(0x5b) X(0x5c) X(0x5d) X(0x5e) X(0x5f) X(0x60) X(0x61) X(0x62) X(0x63) \
    X(0x64) X(0x65) X(0x66) X(0x67) X(0x68) X(0x69) X(0x6a) X(0x6b) X(0x6c) X(0x6d) X(0x6e) X(0x6f) \
    X(0x70) X(0x71) X(0x72) X(0x73) X(0x74) X(0x75) X(0x76) X(0x77) X(0x78) X(0x79) X(0x7a) X(0x7b) \
    X(0x7c) X(0x7d) X(0x7e) X(0x7f) X(0x80) X(0x81) X(0x82) X(0x83) X(0x84) X(0x85) X(0x86) X(0x87) \
    X(0x88) X(0x89) X(0x8a) X(0x8b) X(0x8c) X(0x8d) X(0x8e) X(0x8f) X(0x90) X(0x91) X(0x92) X(0x93) \
    X(0x94) X(0x95) X(0x96) X(0x97) X(0x98) X(0x99) X(0x9a) X(0x9b) X(0x9c) X(0x9d) X(0x9e) X(0x9f) \
    X(0xa0) X(0xa1) X(0xa2) X(0xa3) X(0xa4) X(0xa5) X(0xa6) X(0xa8) X(0xa9) X(0xaa) X(0xab) X(0xac) \
    X(0xad) X(0xae) X(0xaf) X(0xb0) X(0xb1) X(0xb2) X(0xb3) X(0xb4) X(0xb5) X(0xb6) X(0xb7) X(0xb8) \
    X(0xb9) X(0xba) X(0xbb) X(0xc0) X(0xc1) X(0xc2) X(0xc3) X(0xc4) X(0xe0) X(0xe1) X(0xe2) X(0xe3) \
    X(0xe4) X(0xe5) X(0xe6) X(0xe7) X(0x146) X(0x147) X(0x148) X(0x149) X(0x14a) X(0x14b) X(0x14c) X(0x14d) \
    X(0x14e) X(0x14f) X(0x151) X(0x152) X(0x153) X(0x154) X(0x155) X(0x156) X(0x157) X(0x158) X(0x159) X(0x15a) \
    X(0x16a) X(0x16b) X(0x16c) X(0x171) X(0x172) X(0x173) X(0x174) X(0x175) X(0x176) X(0x177) X(0x178) X(0x17c) \
    X(0x17d) X(0x17e) X(0x183) X(0x184) X(0x185) X(0x186) X(0x187) X(0x188) X(0x189) X(0x18a) X(0x246) X(0x247) \
    X(0x248) X(0x249) X(0x24a) X(0x24b) X(0x24c) X(0x24d) X(0x24e) X(0x24f) X(0x251) X(0x252) X(0x253) X(0x254) \
    X(0x255) X(0x256) X(0x257) X(0x258) X(0x259) X(0x25a) X(0x346) X(0x347) X(0x348) X(0x349) X(0x34a) X(0x34b) \
    X(0x34c) X(0x34d) X(0x34e) X(0x34f) X(0x351) X(0x352) X(0x353) X(0x354) X(0x355) X(0x356) X(0x357) X(0x358) \
    X(0x359) X(0x35a) X(0xf0) X(0x250) X(0x428) X(0x429) X(0x42a) X(0x42b) X(0x42c) X(0x42d) X(0x42e) \
    X(0x42f) X(0x430) X(0x431) X(0x432) X(0x433) X(0x434) X(0x435) X(0x436) X(0x437) X(0x438) X(0x439) X(0x43a) \
    X(0x43b) X(0x43c) X(0x43d) X(0x43e) \
    X(0x546) X(0x547) X(0x548) X(0x549) X(0x54a) X(0x54b) X(0x54c) X(0x54d) X(0x54e) X(0x54f) X(0x551) X(0x552) X(0x553) X(0x554) X(0x555) X(0x556) X(0x557) X(0x558) X(0x559) X(0x55a) X(0x55b) X(0x55c) X(0x55d) X(0x55e) X(0x55f) X(0x560) X(0x561) X(0x562) X(0x563) X(0x564) X(0x565) X(0x566)
/* clang-format on */

/* Operand fields of the cell at o (a pointer): 16-bit slot numbers read as 16-bit loads on a
   little-endian host (one movzwl each, no shift and mask), else extracted from the word. */
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define ZENITH_WASM__A(o) ((uint32_t)(o)->s[0])
#define ZENITH_WASM__B(o) ((uint32_t)(o)->s[1])
#define ZENITH_WASM__C(o) ((uint32_t)(o)->s[2])
#define ZENITH_WASM__D(o) ((uint32_t)(o)->s[3])
#define ZENITH_WASM__HI(o) ((o)->w[1])
#else
#define ZENITH_WASM__A(o) ((uint32_t)(o)->u & 0xffffu)
#define ZENITH_WASM__B(o) ((uint32_t)((o)->u >> 16) & 0xffffu)
#define ZENITH_WASM__C(o) ((uint32_t)((o)->u >> 32) & 0xffffu)
#define ZENITH_WASM__D(o) ((uint32_t)((o)->u >> 48))
#define ZENITH_WASM__HI(o) ((uint32_t)((o)->u >> 32))
#endif
#define ZENITH_WASM__OFF(o) ((int32_t)ZENITH_WASM__HI(o))

#if ZENITH_WASM__THREADED
#define ZENITH_WASM__CASE(n) L_##n:
#define ZENITH_WASM__NEXT() goto *(pc++)->h
#define ZENITH_WASM__DISPATCH_BEGIN ZENITH_WASM__NEXT();
#define ZENITH_WASM__DISPATCH_END
#else
#define ZENITH_WASM__CASE(n) case n:
#define ZENITH_WASM__NEXT() goto dispatch
#define ZENITH_WASM__DISPATCH_BEGIN \
    dispatch:                       \
    switch ((pc++)->u) {
#define ZENITH_WASM__DISPATCH_END                             \
    default: ZENITH_WASM__TRAP(ZENITH_WASM_TRAP_UNREACHABLE); \
        }
#endif
#define ZENITH_WASM__TRAP(code) \
    do {                        \
        rc = (code);            \
        goto trap;              \
    } while (0)
#define ZENITH_WASM__CTX()                 \
    do {                                   \
        zenith_wasm_extern *m_ = ci->mem;  \
        mem = m_ ? m_->u.mem.data : NULL;  \
        memsize = m_ ? m_->u.mem.size : 0; \
        globals = ci->globals;             \
    } while (0)

#define ZENITH_WASM__BIN(n, T, f, rf, expr)                               \
    ZENITH_WASM__CASE(n) {                                                \
        const zenith_wasm__cell *const o = pc++;                          \
        const T x = fp[ZENITH_WASM__A(o)].f, y = fp[ZENITH_WASM__B(o)].f; \
        fp[ZENITH_WASM__C(o)].rf = (expr);                                \
        ZENITH_WASM__NEXT();                                              \
    }
#define ZENITH_WASM__UN(n, T, f, rf, expr)       \
    ZENITH_WASM__CASE(n) {                       \
        const zenith_wasm__cell *const o = pc++; \
        const T x = fp[ZENITH_WASM__A(o)].f;     \
        fp[ZENITH_WASM__B(o)].rf = (expr);       \
        ZENITH_WASM__NEXT();                     \
    }
#define ZENITH_WASM__LOAD(n, N, T, rf, R)                                             \
    ZENITH_WASM__CASE(n) {                                                            \
        const zenith_wasm__cell *const o = pc++;                                      \
        const uint64_t ea = (uint64_t)fp[ZENITH_WASM__A(o)].u32 + ZENITH_WASM__HI(o); \
        T v;                                                                          \
        if (ea + N > memsize) ZENITH_WASM__TRAP(ZENITH_WASM_TRAP_MEMORY_OOB);         \
        memcpy(&v, mem + ea, N);                                                      \
        fp[ZENITH_WASM__B(o)].rf = (R)v;                                              \
        ZENITH_WASM__NEXT();                                                          \
    }
#define ZENITH_WASM__STORE(n, N, T, f)                                                \
    ZENITH_WASM__CASE(n) {                                                            \
        const zenith_wasm__cell *const o = pc++;                                      \
        const uint64_t ea = (uint64_t)fp[ZENITH_WASM__A(o)].u32 + ZENITH_WASM__HI(o); \
        const T v = (T)fp[ZENITH_WASM__B(o)].f;                                       \
        if (ea + N > memsize) ZENITH_WASM__TRAP(ZENITH_WASM_TRAP_MEMORY_OOB);         \
        memcpy(mem + ea, &v, N);                                                      \
        ZENITH_WASM__NEXT();                                                          \
    }
/* the same with the address `x + imm` computed here (32-bit wrap, then the 33-bit offset sum) */
#define ZENITH_WASM__ADDR(o) ((uint64_t)(uint32_t)(fp[ZENITH_WASM__A(o)].u32 + (uint32_t)(o)[1].u) + ZENITH_WASM__HI(o))
#define ZENITH_WASM__LOADA(n, N, T, rf, R)                                    \
    ZENITH_WASM__CASE(n) {                                                    \
        const zenith_wasm__cell *const o = pc;                                \
        const uint64_t ea = ZENITH_WASM__ADDR(o);                             \
        T v;                                                                  \
        pc += 2;                                                              \
        if (ea + N > memsize) ZENITH_WASM__TRAP(ZENITH_WASM_TRAP_MEMORY_OOB); \
        memcpy(&v, mem + ea, N);                                              \
        fp[ZENITH_WASM__B(o)].rf = (R)v;                                      \
        ZENITH_WASM__NEXT();                                                  \
    }
#define ZENITH_WASM__STOREA(n, N, T, f)                                       \
    ZENITH_WASM__CASE(n) {                                                    \
        const zenith_wasm__cell *const o = pc;                                \
        const uint64_t ea = ZENITH_WASM__ADDR(o);                             \
        const T v = (T)fp[ZENITH_WASM__B(o)].f;                               \
        pc += 2;                                                              \
        if (ea + N > memsize) ZENITH_WASM__TRAP(ZENITH_WASM_TRAP_MEMORY_OOB); \
        memcpy(mem + ea, &v, N);                                              \
        ZENITH_WASM__NEXT();                                                  \
    }
/* compare and select in one (branchless: a data-dependent condition would mispredict) */
#define ZENITH_WASM__CMPSEL(n, T, f, cmp)                                                                     \
    ZENITH_WASM__CASE(n) {                                                                                    \
        const zenith_wasm__cell *const o = pc;                                                                \
        const T x = fp[ZENITH_WASM__A(o)].f, y = fp[ZENITH_WASM__B(o)].f;                                     \
        const uint64_t m_ = 0u - (uint64_t)(x cmp y);                                                         \
        fp[ZENITH_WASM__A(o + 1)].u64 = (fp[ZENITH_WASM__C(o)].u64 & m_) | (fp[ZENITH_WASM__D(o)].u64 & ~m_); \
        pc += 2;                                                                                              \
        ZENITH_WASM__NEXT();                                                                                  \
    }
/* trapping float -> int: lo < x < hi must hold (exclusive bounds, in double) */
#define ZENITH_WASM__IMM32(o) ZENITH_WASM__HI(o)
#define ZENITH_WASM__IMM64(o) ((uint64_t)(int64_t)(int32_t)ZENITH_WASM__HI(o))
#define ZENITH_WASM__BINI(n, T, f, rf, yexpr, expr)     \
    ZENITH_WASM__CASE(n) {                              \
        const zenith_wasm__cell *const o = pc++;        \
        const T x = fp[ZENITH_WASM__A(o)].f, y = yexpr; \
        fp[ZENITH_WASM__B(o)].rf = (expr);              \
        ZENITH_WASM__NEXT();                            \
    }
#define ZENITH_WASM__CMPBR(n, f, cmp)                            \
    ZENITH_WASM__CASE(n) {                                       \
        const zenith_wasm__cell *const o = pc;                   \
        if (fp[ZENITH_WASM__A(o)].f cmp fp[ZENITH_WASM__B(o)].f) \
            pc += ZENITH_WASM__OFF(o);                           \
        else                                                     \
            pc++;                                                \
        ZENITH_WASM__NEXT();                                     \
    }
#define ZENITH_WASM__CMPBRI(n, T, f, cmp)           \
    ZENITH_WASM__CASE(n) {                          \
        const zenith_wasm__cell *const o = pc;      \
        if (fp[ZENITH_WASM__A(o)].f cmp(T) pc[1].u) \
            pc += ZENITH_WASM__OFF(o);              \
        else                                        \
            pc += 2;                                \
        ZENITH_WASM__NEXT();                        \
    }
#define ZENITH_WASM__TRUNC(n, f, rf, R, lo, hi)                                        \
    ZENITH_WASM__CASE(n) {                                                             \
        const zenith_wasm__cell *const o = pc++;                                       \
        const double x = (double)fp[ZENITH_WASM__A(o)].f;                              \
        if (x != x) ZENITH_WASM__TRAP(ZENITH_WASM_TRAP_INVALID_CONVERSION);            \
        if (!(x > (lo) && x < (hi))) ZENITH_WASM__TRAP(ZENITH_WASM_TRAP_INT_OVERFLOW); \
        fp[ZENITH_WASM__B(o)].rf = (R)x;                                               \
        ZENITH_WASM__NEXT();                                                           \
    }

#if defined(__GNUC__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wpedantic"
#endif
/* Runs wasm function fn (args in fp[0..np)); results in fp[0..nr). With labels != NULL, only
   hands out the handler table (for the translator). 0 or a trap code. */
static int zenith_wasm__run(zenith_wasm_store *s, zenith_wasm_extern *fn, zenith_wasm__slot *fp,
                            const void *const **labels) {
#if ZENITH_WASM__THREADED
#define ZENITH_WASM__LABEL(n) [n] = &&L_##n,
    static const void *const table[ZENITH_WASM__OP_COUNT] = { ZENITH_WASM__OPS(ZENITH_WASM__LABEL) };
#undef ZENITH_WASM__LABEL
#endif
    const zenith_wasm__cell *pc;
    zenith_wasm_instance *ci;
    zenith_wasm__frame *csp, *csend;
    zenith_wasm__slot *send;
    zenith_wasm_extern **globals;
    uint8_t *mem;
    uint64_t memsize;
    int64_t fuel;
    int rc = 0;
    const zenith_wasm__fcode *f;
    zenith_wasm_extern *callee;
    zenith_wasm__slot *nfp;
    uint32_t base;

    if (labels) {
#if ZENITH_WASM__THREADED
        *labels = table;
#else
        *labels = NULL;
#endif
        return 0;
    }
    csp = s->csp;
    csend = s->frames + s->nframes;
    send = s->stack + s->nslots;
    fuel = s->fuel;
    f = fn->u.func.code;
    ci = fn->u.func.inst;
    if (csp >= csend || (size_t)(send - fp) < f->frame_slots) {
        s->fuel = fuel;
        return ZENITH_WASM_TRAP_STACK_EXHAUSTED;
    }
    csp->pc = NULL;
    csp->fp = NULL;
    csp->inst = NULL;
    csp++;
    for (base = f->nparams; base < f->nlocals; base++) fp[base].u64 = 0;
    fuel -= f->fuel;
    if (fuel < 0) {
        s->fuel = 0;
        return ZENITH_WASM_TRAP_FUEL;
    }
    ZENITH_WASM__CTX();
    pc = f->code;
    ZENITH_WASM__DISPATCH_BEGIN
    ZENITH_WASM__CASE(0x00) ZENITH_WASM__TRAP(ZENITH_WASM_TRAP_UNREACHABLE);
    ZENITH_WASM__CASE(0x01) { /* fuel */
        fuel -= (int64_t)(pc++)->u;
        if (fuel < 0) {
            fuel = 0;
            ZENITH_WASM__TRAP(ZENITH_WASM_TRAP_FUEL);
        }
        ZENITH_WASM__NEXT();
    }
    ZENITH_WASM__CASE(0x02) { /* br_unless */
        const zenith_wasm__cell *const o = pc;
        if (fp[ZENITH_WASM__A(o)].u32 == 0)
            pc += ZENITH_WASM__OFF(o);
        else
            pc++;
        ZENITH_WASM__NEXT();
    }
    ZENITH_WASM__CASE(0x03) { /* call an import */
        const zenith_wasm__cell *const o = pc++;
        callee = ci->funcs[(uint32_t)o->u];
        base = ZENITH_WASM__HI(o);
        goto call_extern;
    }
    ZENITH_WASM__CASE(0x04) { /* copy */
        const zenith_wasm__cell *const o = pc++;
        fp[ZENITH_WASM__A(o)] = fp[ZENITH_WASM__B(o)];
        ZENITH_WASM__NEXT();
    }
    ZENITH_WASM__CASE(0x06) { /* two copies */
        const zenith_wasm__cell *const o = pc++;
        fp[ZENITH_WASM__A(o)] = fp[ZENITH_WASM__B(o)];
        fp[ZENITH_WASM__C(o)] = fp[ZENITH_WASM__D(o)];
        ZENITH_WASM__NEXT();
    }
    ZENITH_WASM__CASE(0x07) { /* the hoisted constants, once per call */
        const uint32_t n_ = (uint32_t)pc[0].u;
        zenith_wasm__slot *d_ = fp + ZENITH_WASM__HI(pc);
        uint32_t k_;
        for (k_ = 0; k_ < n_; k_++) d_[k_].u64 = pc[1 + k_].u;
        pc += 1 + n_;
        ZENITH_WASM__NEXT();
    }
    ZENITH_WASM__CASE(0x05) { /* const64 */
        fp[ZENITH_WASM__A(pc)].u64 = pc[1].u;
        pc += 2;
        ZENITH_WASM__NEXT();
    }
    ZENITH_WASM__CASE(0x0c) { /* br */
        pc += ZENITH_WASM__OFF(pc);
        ZENITH_WASM__NEXT();
    }
    ZENITH_WASM__CASE(0x0d) { /* br_if */
        const zenith_wasm__cell *const o = pc;
        if (fp[ZENITH_WASM__A(o)].u32 != 0)
            pc += ZENITH_WASM__OFF(o);
        else
            pc++;
        ZENITH_WASM__NEXT();
    }
    ZENITH_WASM__CASE(0x0e) { /* br_table */
        const zenith_wasm__cell *const o = pc;
        uint32_t i = fp[ZENITH_WASM__A(o)].u32, n = ZENITH_WASM__HI(o);
        if (i > n) i = n;
        pc += 1 + i;
        pc += ZENITH_WASM__OFF(pc);
        ZENITH_WASM__NEXT();
    }
    ZENITH_WASM__CASE(0x0f) { /* return */
        csp--;
        if (csp->pc == NULL) goto done;
        pc = csp->pc;
        fp = csp->fp;
        if (csp->inst != ci) {
            ci = csp->inst;
            ZENITH_WASM__CTX();
        }
        ZENITH_WASM__NEXT();
    }
    ZENITH_WASM__CASE(0x10) { /* call a function of this module */
        f = pc[0].fn;
        base = (uint32_t)pc[1].u;
        pc += 2;
        nfp = fp + base;
        if (csp >= csend || (size_t)(send - nfp) < f->frame_slots) ZENITH_WASM__TRAP(ZENITH_WASM_TRAP_STACK_EXHAUSTED);
        csp->pc = pc;
        csp->fp = fp;
        csp->inst = ci;
        csp++;
        for (base = f->nparams; base < f->nlocals; base++) nfp[base].u64 = 0;
        fuel -= f->fuel;
        if (fuel < 0) {
            fuel = 0;
            ZENITH_WASM__TRAP(ZENITH_WASM_TRAP_FUEL);
        }
        fp = nfp;
        pc = f->code;
        ZENITH_WASM__NEXT();
    }
    ZENITH_WASM__CASE(0x11) { /* call_indirect */
        const zenith_wasm__cell *const o = pc++;
        const zenith_wasm_extern *tab = ci->table;
        const uint32_t i = fp[ZENITH_WASM__C(o)].u32;
        if (tab == NULL || i >= tab->u.table.size) ZENITH_WASM__TRAP(ZENITH_WASM_TRAP_UNDEFINED_ELEMENT);
        callee = tab->u.table.elems[i];
        if (callee == NULL) ZENITH_WASM__TRAP(ZENITH_WASM_TRAP_UNINITIALIZED_ELEMENT);
        if (!zenith_wasm__type_eq(callee->u.func.type, &ci->module->types[(uint32_t)o->u]))
            ZENITH_WASM__TRAP(ZENITH_WASM_TRAP_INDIRECT_TYPE);
        base = ZENITH_WASM__D(o);
        goto call_extern;
    }
    ZENITH_WASM__CASE(0x1b) { /* select */
        const zenith_wasm__cell *const o = pc++;
        /* branchless: a data-dependent condition (a filter's) mispredicted one row in four */
        const uint64_t m = 0u - (uint64_t)(fp[ZENITH_WASM__A(o)].u32 != 0);
        fp[ZENITH_WASM__D(o)].u64 = (fp[ZENITH_WASM__B(o)].u64 & m) | (fp[ZENITH_WASM__C(o)].u64 & ~m);
        ZENITH_WASM__NEXT();
    }
    ZENITH_WASM__CASE(0x23) { /* global.get */
        const zenith_wasm__cell *const o = pc++;
        fp[ZENITH_WASM__A(o)] = globals[ZENITH_WASM__HI(o)]->u.global.val;
        ZENITH_WASM__NEXT();
    }
    ZENITH_WASM__CASE(0x24) { /* global.set */
        const zenith_wasm__cell *const o = pc++;
        globals[ZENITH_WASM__HI(o)]->u.global.val = fp[ZENITH_WASM__A(o)];
        ZENITH_WASM__NEXT();
    }
    ZENITH_WASM__LOAD(0x28, 4, uint32_t, u32, uint32_t)
    ZENITH_WASM__LOAD(0x29, 8, uint64_t, u64, uint64_t)
    ZENITH_WASM__LOAD(0x2a, 4, uint32_t, u32, uint32_t)
    ZENITH_WASM__LOAD(0x2b, 8, uint64_t, u64, uint64_t)
    ZENITH_WASM__LOAD(0x2c, 1, int8_t, i32, int32_t)
    ZENITH_WASM__LOAD(0x2d, 1, uint8_t, u32, uint32_t)
    ZENITH_WASM__LOAD(0x2e, 2, int16_t, i32, int32_t)
    ZENITH_WASM__LOAD(0x2f, 2, uint16_t, u32, uint32_t)
    ZENITH_WASM__LOAD(0x30, 1, int8_t, i64, int64_t)
    ZENITH_WASM__LOAD(0x31, 1, uint8_t, u64, uint64_t)
    ZENITH_WASM__LOAD(0x32, 2, int16_t, i64, int64_t)
    ZENITH_WASM__LOAD(0x33, 2, uint16_t, u64, uint64_t)
    ZENITH_WASM__LOAD(0x34, 4, int32_t, i64, int64_t)
    ZENITH_WASM__LOAD(0x35, 4, uint32_t, u64, uint64_t)
    ZENITH_WASM__STORE(0x36, 4, uint32_t, u32)
    ZENITH_WASM__STORE(0x37, 8, uint64_t, u64)
    ZENITH_WASM__STORE(0x38, 4, uint32_t, u32)
    ZENITH_WASM__STORE(0x39, 8, uint64_t, u64)
    ZENITH_WASM__STORE(0x3a, 1, uint8_t, u32)
    ZENITH_WASM__STORE(0x3b, 2, uint16_t, u32)
    ZENITH_WASM__STORE(0x3c, 1, uint8_t, u64)
    ZENITH_WASM__STORE(0x3d, 2, uint16_t, u64)
    ZENITH_WASM__STORE(0x3e, 4, uint32_t, u64)
    ZENITH_WASM__LOADA(0x428, 4, uint32_t, u32, uint32_t)
    ZENITH_WASM__LOADA(0x429, 8, uint64_t, u64, uint64_t)
    ZENITH_WASM__LOADA(0x42a, 4, uint32_t, u32, uint32_t)
    ZENITH_WASM__LOADA(0x42b, 8, uint64_t, u64, uint64_t)
    ZENITH_WASM__LOADA(0x42c, 1, int8_t, i32, int32_t)
    ZENITH_WASM__LOADA(0x42d, 1, uint8_t, u32, uint32_t)
    ZENITH_WASM__LOADA(0x42e, 2, int16_t, i32, int32_t)
    ZENITH_WASM__LOADA(0x42f, 2, uint16_t, u32, uint32_t)
    ZENITH_WASM__LOADA(0x430, 1, int8_t, i64, int64_t)
    ZENITH_WASM__LOADA(0x431, 1, uint8_t, u64, uint64_t)
    ZENITH_WASM__LOADA(0x432, 2, int16_t, i64, int64_t)
    ZENITH_WASM__LOADA(0x433, 2, uint16_t, u64, uint64_t)
    ZENITH_WASM__LOADA(0x434, 4, int32_t, i64, int64_t)
    ZENITH_WASM__LOADA(0x435, 4, uint32_t, u64, uint64_t)
    ZENITH_WASM__STOREA(0x436, 4, uint32_t, u32)
    ZENITH_WASM__STOREA(0x437, 8, uint64_t, u64)
    ZENITH_WASM__STOREA(0x438, 4, uint32_t, u32)
    ZENITH_WASM__STOREA(0x439, 8, uint64_t, u64)
    ZENITH_WASM__STOREA(0x43a, 1, uint8_t, u32)
    ZENITH_WASM__STOREA(0x43b, 2, uint16_t, u32)
    ZENITH_WASM__STOREA(0x43c, 1, uint8_t, u64)
    ZENITH_WASM__STOREA(0x43d, 2, uint16_t, u64)
    ZENITH_WASM__STOREA(0x43e, 4, uint32_t, u64)
    ZENITH_WASM__CMPSEL(0x546, uint32_t, u32, ==)
    ZENITH_WASM__CMPSEL(0x547, uint32_t, u32, !=)
    ZENITH_WASM__CMPSEL(0x548, int32_t, i32, <)
    ZENITH_WASM__CMPSEL(0x549, uint32_t, u32, <)
    ZENITH_WASM__CMPSEL(0x54a, int32_t, i32, >)
    ZENITH_WASM__CMPSEL(0x54b, uint32_t, u32, >)
    ZENITH_WASM__CMPSEL(0x54c, int32_t, i32, <=)
    ZENITH_WASM__CMPSEL(0x54d, uint32_t, u32, <=)
    ZENITH_WASM__CMPSEL(0x54e, int32_t, i32, >=)
    ZENITH_WASM__CMPSEL(0x54f, uint32_t, u32, >=)
    ZENITH_WASM__CMPSEL(0x551, uint64_t, u64, ==)
    ZENITH_WASM__CMPSEL(0x552, uint64_t, u64, !=)
    ZENITH_WASM__CMPSEL(0x553, int64_t, i64, <)
    ZENITH_WASM__CMPSEL(0x554, uint64_t, u64, <)
    ZENITH_WASM__CMPSEL(0x555, int64_t, i64, >)
    ZENITH_WASM__CMPSEL(0x556, uint64_t, u64, >)
    ZENITH_WASM__CMPSEL(0x557, int64_t, i64, <=)
    ZENITH_WASM__CMPSEL(0x558, uint64_t, u64, <=)
    ZENITH_WASM__CMPSEL(0x559, int64_t, i64, >=)
    ZENITH_WASM__CMPSEL(0x55a, uint64_t, u64, >=)
    ZENITH_WASM__CMPSEL(0x55b, float, f32, ==)
    ZENITH_WASM__CMPSEL(0x55c, float, f32, !=)
    ZENITH_WASM__CMPSEL(0x55d, float, f32, <)
    ZENITH_WASM__CMPSEL(0x55e, float, f32, >)
    ZENITH_WASM__CMPSEL(0x55f, float, f32, <=)
    ZENITH_WASM__CMPSEL(0x560, float, f32, >=)
    ZENITH_WASM__CMPSEL(0x561, double, f64, ==)
    ZENITH_WASM__CMPSEL(0x562, double, f64, !=)
    ZENITH_WASM__CMPSEL(0x563, double, f64, <)
    ZENITH_WASM__CMPSEL(0x564, double, f64, >)
    ZENITH_WASM__CMPSEL(0x565, double, f64, <=)
    ZENITH_WASM__CMPSEL(0x566, double, f64, >=)
    ZENITH_WASM__CASE(0x3f) { /* memory.size */
        const zenith_wasm__cell *const o = pc++;
        fp[ZENITH_WASM__A(o)].u32 = (uint32_t)(memsize / ZENITH_WASM_PAGE_SIZE);
        ZENITH_WASM__NEXT();
    }
    ZENITH_WASM__CASE(0x40) { /* memory.grow */
        const zenith_wasm__cell *const o = pc++;
        fp[ZENITH_WASM__B(o)].u32 = (uint32_t)zenith_wasm__mem_grow(s, ci->mem, fp[ZENITH_WASM__A(o)].u32);
        ZENITH_WASM__CTX();
        ZENITH_WASM__NEXT();
    }
    ZENITH_WASM__CASE(0x41) { /* const32 */
        const zenith_wasm__cell *const o = pc++;
        fp[ZENITH_WASM__A(o)].u32 = ZENITH_WASM__HI(o);
        ZENITH_WASM__NEXT();
    }
    ZENITH_WASM__UN(0x45, uint32_t, u32, u32, x == 0)
    ZENITH_WASM__BIN(0x46, uint32_t, u32, u32, x == y)
    ZENITH_WASM__BIN(0x47, uint32_t, u32, u32, x != y)
    ZENITH_WASM__BIN(0x48, int32_t, i32, u32, x < y)
    ZENITH_WASM__BIN(0x49, uint32_t, u32, u32, x < y)
    ZENITH_WASM__BIN(0x4a, int32_t, i32, u32, x > y)
    ZENITH_WASM__BIN(0x4b, uint32_t, u32, u32, x > y)
    ZENITH_WASM__BIN(0x4c, int32_t, i32, u32, x <= y)
    ZENITH_WASM__BIN(0x4d, uint32_t, u32, u32, x <= y)
    ZENITH_WASM__BIN(0x4e, int32_t, i32, u32, x >= y)
    ZENITH_WASM__BIN(0x4f, uint32_t, u32, u32, x >= y)
    ZENITH_WASM__UN(0x50, uint64_t, u64, u32, x == 0)
    ZENITH_WASM__BIN(0x51, uint64_t, u64, u32, x == y)
    ZENITH_WASM__BIN(0x52, uint64_t, u64, u32, x != y)
    ZENITH_WASM__BIN(0x53, int64_t, i64, u32, x < y)
    ZENITH_WASM__BIN(0x54, uint64_t, u64, u32, x < y)
    ZENITH_WASM__BIN(0x55, int64_t, i64, u32, x > y)
    ZENITH_WASM__BIN(0x56, uint64_t, u64, u32, x > y)
    ZENITH_WASM__BIN(0x57, int64_t, i64, u32, x <= y)
    ZENITH_WASM__BIN(0x58, uint64_t, u64, u32, x <= y)
    ZENITH_WASM__BIN(0x59, int64_t, i64, u32, x >= y)
    ZENITH_WASM__BIN(0x5a, uint64_t, u64, u32, x >= y)
    ZENITH_WASM__BIN(0x5b, float, f32, u32, x == y)
    ZENITH_WASM__BIN(0x5c, float, f32, u32, x != y)
    ZENITH_WASM__BIN(0x5d, float, f32, u32, x < y)
    ZENITH_WASM__BIN(0x5e, float, f32, u32, x > y)
    ZENITH_WASM__BIN(0x5f, float, f32, u32, x <= y)
    ZENITH_WASM__BIN(0x60, float, f32, u32, x >= y)
    ZENITH_WASM__BIN(0x61, double, f64, u32, x == y)
    ZENITH_WASM__BIN(0x62, double, f64, u32, x != y)
    ZENITH_WASM__BIN(0x63, double, f64, u32, x < y)
    ZENITH_WASM__BIN(0x64, double, f64, u32, x > y)
    ZENITH_WASM__BIN(0x65, double, f64, u32, x <= y)
    ZENITH_WASM__BIN(0x66, double, f64, u32, x >= y)
    ZENITH_WASM__UN(0x67, uint32_t, u32, u32, zenith_wasm__clz32(x))
    ZENITH_WASM__UN(0x68, uint32_t, u32, u32, zenith_wasm__ctz32(x))
    ZENITH_WASM__UN(0x69, uint32_t, u32, u32, zenith_wasm__popcnt32(x))
    ZENITH_WASM__BIN(0x6a, uint32_t, u32, u32, x + y)
    ZENITH_WASM__BIN(0x6b, uint32_t, u32, u32, x - y)
    ZENITH_WASM__BIN(0x6c, uint32_t, u32, u32, x * y)
    ZENITH_WASM__CASE(0x6d) { /* i32.div_s */
        const zenith_wasm__cell *const o = pc++;
        const int32_t x = fp[ZENITH_WASM__A(o)].i32, y = fp[ZENITH_WASM__B(o)].i32;
        if (y == 0) ZENITH_WASM__TRAP(ZENITH_WASM_TRAP_DIV_ZERO);
        if (y == -1 && x == INT32_MIN) ZENITH_WASM__TRAP(ZENITH_WASM_TRAP_INT_OVERFLOW);
        fp[ZENITH_WASM__C(o)].i32 = x / y;
        ZENITH_WASM__NEXT();
    }
    ZENITH_WASM__CASE(0x6e) { /* i32.div_u */
        const zenith_wasm__cell *const o = pc++;
        const uint32_t x = fp[ZENITH_WASM__A(o)].u32, y = fp[ZENITH_WASM__B(o)].u32;
        if (y == 0) ZENITH_WASM__TRAP(ZENITH_WASM_TRAP_DIV_ZERO);
        fp[ZENITH_WASM__C(o)].u32 = x / y;
        ZENITH_WASM__NEXT();
    }
    ZENITH_WASM__CASE(0x6f) { /* i32.rem_s */
        const zenith_wasm__cell *const o = pc++;
        const int32_t x = fp[ZENITH_WASM__A(o)].i32, y = fp[ZENITH_WASM__B(o)].i32;
        if (y == 0) ZENITH_WASM__TRAP(ZENITH_WASM_TRAP_DIV_ZERO);
        fp[ZENITH_WASM__C(o)].i32 = y == -1 ? 0 : x % y;
        ZENITH_WASM__NEXT();
    }
    ZENITH_WASM__CASE(0x70) { /* i32.rem_u */
        const zenith_wasm__cell *const o = pc++;
        const uint32_t x = fp[ZENITH_WASM__A(o)].u32, y = fp[ZENITH_WASM__B(o)].u32;
        if (y == 0) ZENITH_WASM__TRAP(ZENITH_WASM_TRAP_DIV_ZERO);
        fp[ZENITH_WASM__C(o)].u32 = x % y;
        ZENITH_WASM__NEXT();
    }
    ZENITH_WASM__BIN(0x71, uint32_t, u32, u32, x & y)
    ZENITH_WASM__BIN(0x72, uint32_t, u32, u32, x | y)
    ZENITH_WASM__BIN(0x73, uint32_t, u32, u32, x ^ y)
    ZENITH_WASM__BIN(0x74, uint32_t, u32, u32, x << (y & 31))
    ZENITH_WASM__BIN(0x75, int32_t, i32, i32, x >> (y & 31))
    ZENITH_WASM__BIN(0x76, uint32_t, u32, u32, x >> (y & 31))
    ZENITH_WASM__BIN(0x77, uint32_t, u32, u32, (x << (y & 31)) | (x >> ((32 - (y & 31)) & 31)))
    ZENITH_WASM__BIN(0x78, uint32_t, u32, u32, (x >> (y & 31)) | (x << ((32 - (y & 31)) & 31)))
    ZENITH_WASM__UN(0x79, uint64_t, u64, u64, zenith_wasm__clz64(x))
    ZENITH_WASM__UN(0x7a, uint64_t, u64, u64, zenith_wasm__ctz64(x))
    ZENITH_WASM__UN(0x7b, uint64_t, u64, u64, zenith_wasm__popcnt64(x))
    ZENITH_WASM__BIN(0x7c, uint64_t, u64, u64, x + y)
    ZENITH_WASM__BIN(0x7d, uint64_t, u64, u64, x - y)
    ZENITH_WASM__BIN(0x7e, uint64_t, u64, u64, x * y)
    ZENITH_WASM__CASE(0x7f) { /* i64.div_s */
        const zenith_wasm__cell *const o = pc++;
        const int64_t x = fp[ZENITH_WASM__A(o)].i64, y = fp[ZENITH_WASM__B(o)].i64;
        if (y == 0) ZENITH_WASM__TRAP(ZENITH_WASM_TRAP_DIV_ZERO);
        if (y == -1 && x == INT64_MIN) ZENITH_WASM__TRAP(ZENITH_WASM_TRAP_INT_OVERFLOW);
        fp[ZENITH_WASM__C(o)].i64 = x / y;
        ZENITH_WASM__NEXT();
    }
    ZENITH_WASM__CASE(0x80) { /* i64.div_u */
        const zenith_wasm__cell *const o = pc++;
        const uint64_t x = fp[ZENITH_WASM__A(o)].u64, y = fp[ZENITH_WASM__B(o)].u64;
        if (y == 0) ZENITH_WASM__TRAP(ZENITH_WASM_TRAP_DIV_ZERO);
        fp[ZENITH_WASM__C(o)].u64 = x / y;
        ZENITH_WASM__NEXT();
    }
    ZENITH_WASM__CASE(0x81) { /* i64.rem_s */
        const zenith_wasm__cell *const o = pc++;
        const int64_t x = fp[ZENITH_WASM__A(o)].i64, y = fp[ZENITH_WASM__B(o)].i64;
        if (y == 0) ZENITH_WASM__TRAP(ZENITH_WASM_TRAP_DIV_ZERO);
        fp[ZENITH_WASM__C(o)].i64 = y == -1 ? 0 : x % y;
        ZENITH_WASM__NEXT();
    }
    ZENITH_WASM__CASE(0x82) { /* i64.rem_u */
        const zenith_wasm__cell *const o = pc++;
        const uint64_t x = fp[ZENITH_WASM__A(o)].u64, y = fp[ZENITH_WASM__B(o)].u64;
        if (y == 0) ZENITH_WASM__TRAP(ZENITH_WASM_TRAP_DIV_ZERO);
        fp[ZENITH_WASM__C(o)].u64 = x % y;
        ZENITH_WASM__NEXT();
    }
    ZENITH_WASM__BIN(0x83, uint64_t, u64, u64, x & y)
    ZENITH_WASM__BIN(0x84, uint64_t, u64, u64, x | y)
    ZENITH_WASM__BIN(0x85, uint64_t, u64, u64, x ^ y)
    ZENITH_WASM__BIN(0x86, uint64_t, u64, u64, x << (y & 63))
    ZENITH_WASM__BIN(0x87, int64_t, i64, i64, x >> (y & 63))
    ZENITH_WASM__BIN(0x88, uint64_t, u64, u64, x >> (y & 63))
    ZENITH_WASM__BIN(0x89, uint64_t, u64, u64, (x << (y & 63)) | (x >> ((64 - (y & 63)) & 63)))
    ZENITH_WASM__BIN(0x8a, uint64_t, u64, u64, (x >> (y & 63)) | (x << ((64 - (y & 63)) & 63)))
    ZENITH_WASM__UN(0x8b, uint32_t, u32, u32, x & 0x7fffffffu)
    ZENITH_WASM__UN(0x8c, uint32_t, u32, u32, x ^ 0x80000000u)
    ZENITH_WASM__UN(0x8d, float, f32, f32, zenith_wasm__fround(x, 2))
    ZENITH_WASM__UN(0x8e, float, f32, f32, zenith_wasm__fround(x, 1))
    ZENITH_WASM__UN(0x8f, float, f32, f32, zenith_wasm__fround(x, 0))
    ZENITH_WASM__UN(0x90, float, f32, f32, zenith_wasm__fround(x, 3))
    ZENITH_WASM__UN(0x91, float, f32, f32, zenith_wasm__fsqrt(x))
    ZENITH_WASM__BIN(0x92, float, f32, f32, x + y)
    ZENITH_WASM__BIN(0x93, float, f32, f32, x - y)
    ZENITH_WASM__BIN(0x94, float, f32, f32, x *y)
    ZENITH_WASM__BIN(0x95, float, f32, f32, x / y)
    ZENITH_WASM__BIN(0x96, float, f32, f32, zenith_wasm__fmin(x, y))
    ZENITH_WASM__BIN(0x97, float, f32, f32, zenith_wasm__fmax(x, y))
    ZENITH_WASM__BIN(0x98, uint32_t, u32, u32, (x & 0x7fffffffu) | (y & 0x80000000u))
    ZENITH_WASM__UN(0x99, uint64_t, u64, u64, x & 0x7fffffffffffffffull)
    ZENITH_WASM__UN(0x9a, uint64_t, u64, u64, x ^ 0x8000000000000000ull)
    ZENITH_WASM__UN(0x9b, double, f64, f64, zenith_wasm__dround(x, 2))
    ZENITH_WASM__UN(0x9c, double, f64, f64, zenith_wasm__dround(x, 1))
    ZENITH_WASM__UN(0x9d, double, f64, f64, zenith_wasm__dround(x, 0))
    ZENITH_WASM__UN(0x9e, double, f64, f64, zenith_wasm__dround(x, 3))
    ZENITH_WASM__UN(0x9f, double, f64, f64, zenith_wasm__dsqrt(x))
    ZENITH_WASM__BIN(0xa0, double, f64, f64, x + y)
    ZENITH_WASM__BIN(0xa1, double, f64, f64, x - y)
    ZENITH_WASM__BIN(0xa2, double, f64, f64, x *y)
    ZENITH_WASM__BIN(0xa3, double, f64, f64, x / y)
    ZENITH_WASM__BIN(0xa4, double, f64, f64, zenith_wasm__dmin(x, y))
    ZENITH_WASM__BIN(0xa5, double, f64, f64, zenith_wasm__dmax(x, y))
    ZENITH_WASM__BIN(0xa6, uint64_t, u64, u64, (x & 0x7fffffffffffffffull) | (y & 0x8000000000000000ull))
    ZENITH_WASM__TRUNC(0xa8, f32, i32, int32_t, -2147483649.0, 2147483648.0)
    ZENITH_WASM__TRUNC(0xa9, f32, u32, uint32_t, -1.0, 4294967296.0)
    ZENITH_WASM__TRUNC(0xaa, f64, i32, int32_t, -2147483649.0, 2147483648.0)
    ZENITH_WASM__TRUNC(0xab, f64, u32, uint32_t, -1.0, 4294967296.0)
    ZENITH_WASM__UN(0xac, int32_t, i32, i64, (int64_t)x)
    ZENITH_WASM__UN(0xad, uint32_t, u32, u64, (uint64_t)x)
    ZENITH_WASM__TRUNC(0xae, f32, i64, int64_t, -9223372036854777856.0, 9223372036854775808.0)
    ZENITH_WASM__TRUNC(0xaf, f32, u64, uint64_t, -1.0, 18446744073709551616.0)
    ZENITH_WASM__TRUNC(0xb0, f64, i64, int64_t, -9223372036854777856.0, 9223372036854775808.0)
    ZENITH_WASM__TRUNC(0xb1, f64, u64, uint64_t, -1.0, 18446744073709551616.0)
    ZENITH_WASM__UN(0xb2, int32_t, i32, f32, (float)x)
    ZENITH_WASM__UN(0xb3, uint32_t, u32, f32, (float)x)
    ZENITH_WASM__UN(0xb4, int64_t, i64, f32, zenith_wasm__i64_f32(x))
    ZENITH_WASM__UN(0xb5, uint64_t, u64, f32, zenith_wasm__u64_f32(x))
    ZENITH_WASM__UN(0xb6, double, f64, f32, (float)x)
    ZENITH_WASM__UN(0xb7, int32_t, i32, f64, (double)x)
    ZENITH_WASM__UN(0xb8, uint32_t, u32, f64, (double)x)
    ZENITH_WASM__UN(0xb9, int64_t, i64, f64, (double)x)
    ZENITH_WASM__UN(0xba, uint64_t, u64, f64, (double)x)
    ZENITH_WASM__UN(0xbb, float, f32, f64, (double)x)
    ZENITH_WASM__UN(0xc0, uint32_t, u32, i32, (int32_t)(int8_t)(uint8_t)x)
    ZENITH_WASM__UN(0xc1, uint32_t, u32, i32, (int32_t)(int16_t)(uint16_t)x)
    ZENITH_WASM__UN(0xc2, uint64_t, u64, i64, (int64_t)(int8_t)(uint8_t)x)
    ZENITH_WASM__UN(0xc3, uint64_t, u64, i64, (int64_t)(int16_t)(uint16_t)x)
    ZENITH_WASM__UN(0xc4, uint64_t, u64, i64, (int64_t)(int32_t)(uint32_t)x)
    ZENITH_WASM__UN(0xe0, float, f32, u32, zenith_wasm__sat_i32((double)x, 1))
    ZENITH_WASM__UN(0xe1, float, f32, u32, zenith_wasm__sat_i32((double)x, 0))
    ZENITH_WASM__UN(0xe2, double, f64, u32, zenith_wasm__sat_i32(x, 1))
    ZENITH_WASM__UN(0xe3, double, f64, u32, zenith_wasm__sat_i32(x, 0))
    ZENITH_WASM__UN(0xe4, float, f32, u64, zenith_wasm__sat_i64((double)x, 1))
    ZENITH_WASM__UN(0xe5, float, f32, u64, zenith_wasm__sat_i64((double)x, 0))
    ZENITH_WASM__UN(0xe6, double, f64, u64, zenith_wasm__sat_i64(x, 1))
    ZENITH_WASM__UN(0xe7, double, f64, u64, zenith_wasm__sat_i64(x, 0))
    ZENITH_WASM__BINI(0x146, uint32_t, u32, u32, (uint32_t)ZENITH_WASM__IMM32(o), x == y)
    ZENITH_WASM__BINI(0x147, uint32_t, u32, u32, (uint32_t)ZENITH_WASM__IMM32(o), x != y)
    ZENITH_WASM__BINI(0x148, int32_t, i32, u32, (int32_t)ZENITH_WASM__IMM32(o), x < y)
    ZENITH_WASM__BINI(0x149, uint32_t, u32, u32, (uint32_t)ZENITH_WASM__IMM32(o), x < y)
    ZENITH_WASM__BINI(0x14a, int32_t, i32, u32, (int32_t)ZENITH_WASM__IMM32(o), x > y)
    ZENITH_WASM__BINI(0x14b, uint32_t, u32, u32, (uint32_t)ZENITH_WASM__IMM32(o), x > y)
    ZENITH_WASM__BINI(0x14c, int32_t, i32, u32, (int32_t)ZENITH_WASM__IMM32(o), x <= y)
    ZENITH_WASM__BINI(0x14d, uint32_t, u32, u32, (uint32_t)ZENITH_WASM__IMM32(o), x <= y)
    ZENITH_WASM__BINI(0x14e, int32_t, i32, u32, (int32_t)ZENITH_WASM__IMM32(o), x >= y)
    ZENITH_WASM__BINI(0x14f, uint32_t, u32, u32, (uint32_t)ZENITH_WASM__IMM32(o), x >= y)
    ZENITH_WASM__BINI(0x151, uint64_t, u64, u32, (uint64_t)ZENITH_WASM__IMM64(o), x == y)
    ZENITH_WASM__BINI(0x152, uint64_t, u64, u32, (uint64_t)ZENITH_WASM__IMM64(o), x != y)
    ZENITH_WASM__BINI(0x153, int64_t, i64, u32, (int64_t)ZENITH_WASM__IMM64(o), x < y)
    ZENITH_WASM__BINI(0x154, uint64_t, u64, u32, (uint64_t)ZENITH_WASM__IMM64(o), x < y)
    ZENITH_WASM__BINI(0x155, int64_t, i64, u32, (int64_t)ZENITH_WASM__IMM64(o), x > y)
    ZENITH_WASM__BINI(0x156, uint64_t, u64, u32, (uint64_t)ZENITH_WASM__IMM64(o), x > y)
    ZENITH_WASM__BINI(0x157, int64_t, i64, u32, (int64_t)ZENITH_WASM__IMM64(o), x <= y)
    ZENITH_WASM__BINI(0x158, uint64_t, u64, u32, (uint64_t)ZENITH_WASM__IMM64(o), x <= y)
    ZENITH_WASM__BINI(0x159, int64_t, i64, u32, (int64_t)ZENITH_WASM__IMM64(o), x >= y)
    ZENITH_WASM__BINI(0x15a, uint64_t, u64, u32, (uint64_t)ZENITH_WASM__IMM64(o), x >= y)
    ZENITH_WASM__BINI(0x16a, uint32_t, u32, u32, ZENITH_WASM__IMM32(o), x + y)
    ZENITH_WASM__BINI(0x16b, uint32_t, u32, u32, ZENITH_WASM__IMM32(o), x - y)
    ZENITH_WASM__BINI(0x16c, uint32_t, u32, u32, ZENITH_WASM__IMM32(o), x * y)
    ZENITH_WASM__BINI(0x171, uint32_t, u32, u32, ZENITH_WASM__IMM32(o), x & y)
    ZENITH_WASM__BINI(0x172, uint32_t, u32, u32, ZENITH_WASM__IMM32(o), x | y)
    ZENITH_WASM__BINI(0x173, uint32_t, u32, u32, ZENITH_WASM__IMM32(o), x ^ y)
    ZENITH_WASM__BINI(0x174, uint32_t, u32, u32, ZENITH_WASM__IMM32(o), x << (y & 31))
    ZENITH_WASM__BINI(0x175, int32_t, i32, i32, (int32_t)ZENITH_WASM__IMM32(o), x >> (y & 31))
    ZENITH_WASM__BINI(0x176, uint32_t, u32, u32, ZENITH_WASM__IMM32(o), x >> (y & 31))
    ZENITH_WASM__BINI(0x177, uint32_t, u32, u32, ZENITH_WASM__IMM32(o), (x << (y & 31)) | (x >> ((32 - (y & 31)) & 31)))
    ZENITH_WASM__BINI(0x178, uint32_t, u32, u32, ZENITH_WASM__IMM32(o), (x >> (y & 31)) | (x << ((32 - (y & 31)) & 31)))
    ZENITH_WASM__BINI(0x17c, uint64_t, u64, u64, ZENITH_WASM__IMM64(o), x + y)
    ZENITH_WASM__BINI(0x17d, uint64_t, u64, u64, ZENITH_WASM__IMM64(o), x - y)
    ZENITH_WASM__BINI(0x17e, uint64_t, u64, u64, ZENITH_WASM__IMM64(o), x * y)
    ZENITH_WASM__BINI(0x183, uint64_t, u64, u64, ZENITH_WASM__IMM64(o), x & y)
    ZENITH_WASM__BINI(0x184, uint64_t, u64, u64, ZENITH_WASM__IMM64(o), x | y)
    ZENITH_WASM__BINI(0x185, uint64_t, u64, u64, ZENITH_WASM__IMM64(o), x ^ y)
    ZENITH_WASM__BINI(0x186, uint64_t, u64, u64, ZENITH_WASM__IMM64(o), x << (y & 63))
    ZENITH_WASM__BINI(0x187, int64_t, i64, i64, (int64_t)ZENITH_WASM__IMM64(o), x >> (y & 63))
    ZENITH_WASM__BINI(0x188, uint64_t, u64, u64, ZENITH_WASM__IMM64(o), x >> (y & 63))
    ZENITH_WASM__BINI(0x189, uint64_t, u64, u64, ZENITH_WASM__IMM64(o), (x << (y & 63)) | (x >> ((64 - (y & 63)) & 63)))
    ZENITH_WASM__BINI(0x18a, uint64_t, u64, u64, ZENITH_WASM__IMM64(o), (x >> (y & 63)) | (x << ((64 - (y & 63)) & 63)))
    ZENITH_WASM__CMPBR(0x246, u32, ==)
    ZENITH_WASM__CMPBR(0x247, u32, !=)
    ZENITH_WASM__CMPBR(0x248, i32, <)
    ZENITH_WASM__CMPBR(0x249, u32, <)
    ZENITH_WASM__CMPBR(0x24a, i32, >)
    ZENITH_WASM__CMPBR(0x24b, u32, >)
    ZENITH_WASM__CMPBR(0x24c, i32, <=)
    ZENITH_WASM__CMPBR(0x24d, u32, <=)
    ZENITH_WASM__CMPBR(0x24e, i32, >=)
    ZENITH_WASM__CMPBR(0x24f, u32, >=)
    ZENITH_WASM__CMPBR(0x251, u64, ==)
    ZENITH_WASM__CMPBR(0x252, u64, !=)
    ZENITH_WASM__CMPBR(0x253, i64, <)
    ZENITH_WASM__CMPBR(0x254, u64, <)
    ZENITH_WASM__CMPBR(0x255, i64, >)
    ZENITH_WASM__CMPBR(0x256, u64, >)
    ZENITH_WASM__CMPBR(0x257, i64, <=)
    ZENITH_WASM__CMPBR(0x258, u64, <=)
    ZENITH_WASM__CMPBR(0x259, i64, >=)
    ZENITH_WASM__CMPBR(0x25a, u64, >=)
    ZENITH_WASM__CMPBRI(0x346, uint32_t, u32, ==)
    ZENITH_WASM__CMPBRI(0x347, uint32_t, u32, !=)
    ZENITH_WASM__CMPBRI(0x348, int32_t, i32, <)
    ZENITH_WASM__CMPBRI(0x349, uint32_t, u32, <)
    ZENITH_WASM__CMPBRI(0x34a, int32_t, i32, >)
    ZENITH_WASM__CMPBRI(0x34b, uint32_t, u32, >)
    ZENITH_WASM__CMPBRI(0x34c, int32_t, i32, <=)
    ZENITH_WASM__CMPBRI(0x34d, uint32_t, u32, <=)
    ZENITH_WASM__CMPBRI(0x34e, int32_t, i32, >=)
    ZENITH_WASM__CMPBRI(0x34f, uint32_t, u32, >=)
    ZENITH_WASM__CMPBRI(0x351, uint64_t, u64, ==)
    ZENITH_WASM__CMPBRI(0x352, uint64_t, u64, !=)
    ZENITH_WASM__CMPBRI(0x353, int64_t, i64, <)
    ZENITH_WASM__CMPBRI(0x354, uint64_t, u64, <)
    ZENITH_WASM__CMPBRI(0x355, int64_t, i64, >)
    ZENITH_WASM__CMPBRI(0x356, uint64_t, u64, >)
    ZENITH_WASM__CMPBRI(0x357, int64_t, i64, <=)
    ZENITH_WASM__CMPBRI(0x358, uint64_t, u64, <=)
    ZENITH_WASM__CMPBRI(0x359, int64_t, i64, >=)
    ZENITH_WASM__CMPBRI(0x35a, uint64_t, u64, >=)
    ZENITH_WASM__CASE(0xf0) { /* jump if the i64 is not zero */
        const zenith_wasm__cell *const o = pc;
        if (fp[ZENITH_WASM__A(o)].u64 != 0)
            pc += ZENITH_WASM__OFF(o);
        else
            pc++;
        ZENITH_WASM__NEXT();
    }
    ZENITH_WASM__CASE(0x250) { /* jump if the i64 is zero */
        const zenith_wasm__cell *const o = pc;
        if (fp[ZENITH_WASM__A(o)].u64 == 0)
            pc += ZENITH_WASM__OFF(o);
        else
            pc++;
        ZENITH_WASM__NEXT();
    }
    ZENITH_WASM__DISPATCH_END

call_extern: /* callee, base; pc is the return address */
    nfp = fp + base;
    if (callee->u.func.code) {
        f = callee->u.func.code;
        if (csp >= csend || (size_t)(send - nfp) < f->frame_slots) ZENITH_WASM__TRAP(ZENITH_WASM_TRAP_STACK_EXHAUSTED);
        csp->pc = pc;
        csp->fp = fp;
        csp->inst = ci;
        csp++;
        for (base = f->nparams; base < f->nlocals; base++) nfp[base].u64 = 0;
        fuel -= f->fuel;
        if (fuel < 0) {
            fuel = 0;
            ZENITH_WASM__TRAP(ZENITH_WASM_TRAP_FUEL);
        }
        if (callee->u.func.inst != ci) {
            ci = callee->u.func.inst;
            ZENITH_WASM__CTX();
        }
        fp = nfp;
        pc = f->code;
        ZENITH_WASM__NEXT();
    } else { /* a host function: values in a scratch area above the arguments */
        const zenith_wasm__type *ty = callee->u.func.type;
        const uint32_t np = ty->np, nr = ty->nr, k0 = np > nr ? np : nr;
        zenith_wasm_value *vals;
        uint32_t k;
        if ((size_t)(send - nfp) < (size_t)k0 + 2u * ((size_t)np + nr) + 2)
            ZENITH_WASM__TRAP(ZENITH_WASM_TRAP_STACK_EXHAUSTED);
        if (s->nesting >= ZENITH_WASM_MAX_NESTING) ZENITH_WASM__TRAP(ZENITH_WASM_TRAP_STACK_EXHAUSTED);
        vals = (zenith_wasm_value *)(void *)(nfp + k0);
        for (k = 0; k < np; k++) {
            vals[k].type = ty->t[k];
            vals[k].of.u64 = nfp[k].u64;
            if (ty->t[k] == ZENITH_WASM_I32 || ty->t[k] == ZENITH_WASM_F32) vals[k].of.u64 = nfp[k].u32;
        }
        for (k = 0; k < nr; k++) {
            vals[np + k].type = ty->t[np + k];
            vals[np + k].of.u64 = 0;
        }
        s->fuel = fuel;
        s->sp = (zenith_wasm__slot *)(void *)(vals + np + nr);
        s->csp = csp;
        s->nesting++;
        rc = callee->u.func.host(callee->u.func.user, ci, vals, vals + np);
        s->nesting--;
        fuel = s->fuel;
        if (rc != 0) ZENITH_WASM__TRAP(ZENITH_WASM_IS_TRAP(rc) ? rc : ZENITH_WASM_TRAP_HOST);
        for (k = 0; k < nr; k++) {
            if (ty->t[np + k] == ZENITH_WASM_I32 || ty->t[np + k] == ZENITH_WASM_F32)
                nfp[k].u32 = vals[np + k].of.u32;
            else
                nfp[k].u64 = vals[np + k].of.u64;
        }
        ZENITH_WASM__CTX();
        ZENITH_WASM__NEXT();
    }

done:
    s->fuel = fuel;
    return 0;
trap:
    s->fuel = fuel;
    return rc;
}
#if defined(__GNUC__)
#pragma GCC diagnostic pop
#endif

/* ---- errors ------------------------------------------------------------------------------- */

ZENITH_WASM_API const char *zenith_wasm_strerror(int code) {
    switch (code) {
#define ZENITH_WASM__STR(name, value, text) \
    case value: return text;
        ZENITH_WASM_ERROR_LIST(ZENITH_WASM__STR)
#undef ZENITH_WASM__STR
        default: return "unknown error code";
    }
}

ZENITH_WASM_API const char *zenith_wasm_errname(int code) {
    switch (code) {
#define ZENITH_WASM__NAME(name, value, text) \
    case value: return #name;
        ZENITH_WASM_ERROR_LIST(ZENITH_WASM__NAME)
#undef ZENITH_WASM__NAME
        default: return "ZENITH_WASM_E_UNKNOWN";
    }
}

ZENITH_WASM_API const char *zenith_wasm_version_string(void) { return ZENITH_WASM_VERSION_STRING; }

static void zenith_wasm__seterr(zenith_wasm_error *e, int code, uint32_t section, uint32_t index, const char *fmt,
                                ...) {
    va_list ap;
    va_start(ap, fmt);
    zenith_wasm__vset(e, code, section, index, 0, fmt, ap);
    va_end(ap);
}

static void zenith_wasm__err_in(zenith_wasm_error *e) {
    if (e) {
        memset(e->message, 0, sizeof e->message);
        e->code = 0;
        e->section = ZENITH_WASM__NONE;
        e->index = ZENITH_WASM__NONE;
        e->offset = 0;
    }
}

/* ---- module API --------------------------------------------------------------------------- */

ZENITH_WASM_API void zenith_wasm_module_destroy(zenith_wasm_module *m) {
    uint32_t i;
    if (m == NULL) return;
    for (i = 0; i < m->ntypes; i++) zenith_wasm__free(m->types[i].t);
    zenith_wasm__free(m->types);
    zenith_wasm__free(m->imports);
    zenith_wasm__free(m->func_types);
    if (m->code)
        for (i = 0; i < m->nfuncs - m->nfunc_imports; i++) {
            zenith_wasm__free(m->code[i].code);
            zenith_wasm__free(m->code[i].local_types);
        }
    zenith_wasm__free(m->code);
    zenith_wasm__free(m->globals);
    zenith_wasm__free(m->exports);
    for (i = 0; i < m->nelems; i++) zenith_wasm__free(m->elems[i].funcs);
    zenith_wasm__free(m->elems);
    zenith_wasm__free(m->datas);
    zenith_wasm__free(m->bytes);
    zenith_wasm__free(m);
}

static int zenith_wasm__decode(zenith_wasm__rd *r, zenith_wasm_module *m) {
    static const uint8_t magic[8] = { 0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00 };
    int last = 0, have_code = 0;
    if (m->len < 4 || memcmp(m->bytes, magic, 4) != 0) {
        r->p = r->base;
        return zenith_wasm__fail(r, ZENITH_WASM_E_MALFORMED, "magic header not detected (expected \\0asm)");
    }
    if (m->len < 8 || memcmp(m->bytes + 4, magic + 4, 4) != 0) {
        r->p = r->base + 4;
        return zenith_wasm__fail(r, ZENITH_WASM_E_MALFORMED, "unknown binary version (expected 1)");
    }
    r->p = r->base + 8;
    m->start = ZENITH_WASM__NONE;
    while (r->p < r->end) {
        uint8_t id;
        uint32_t size;
        zenith_wasm__rd sec;
        int rc = 0;
        r->section = ZENITH_WASM__NONE;
        r->index = ZENITH_WASM__NONE;
        ZENITH_WASM__TRY(zenith_wasm__byte(r, &id));
        if (id > 11) {
            r->p--;
            return zenith_wasm__fail(r, ZENITH_WASM_E_MALFORMED, "malformed section id %u", id);
        }
        r->section = id;
        ZENITH_WASM__TRY(zenith_wasm__u32(r, &size));
        if (size > (size_t)(r->end - r->p))
            return zenith_wasm__fail(r, ZENITH_WASM_E_MALFORMED, "unexpected end: section of %u bytes, %u left", size,
                                     (unsigned)(r->end - r->p));
        if (id != 0) {
            if (id <= last)
                return zenith_wasm__fail(r, ZENITH_WASM_E_MALFORMED,
                                         "unexpected content after last section (section %u after %d)", id, last);
            last = id;
        }
        sec = *r;
        sec.end = r->p + size;
        switch (id) {
            case 0: {
                const char *name;
                uint32_t n;
                rc = zenith_wasm__name(&sec, &name, &n);
                sec.p = sec.end;
                break;
            }
            case 1: rc = zenith_wasm__sec_types(&sec, m); break;
            case 2: rc = zenith_wasm__sec_imports(&sec, m); break;
            case 3: rc = zenith_wasm__sec_funcs(&sec, m); break;
            case 4: rc = zenith_wasm__sec_tables(&sec, m); break;
            case 5: rc = zenith_wasm__sec_mems(&sec, m); break;
            case 6: rc = zenith_wasm__sec_globals(&sec, m); break;
            case 7: rc = zenith_wasm__sec_exports(&sec, m); break;
            case 8: rc = zenith_wasm__sec_start(&sec, m); break;
            case 9: rc = zenith_wasm__sec_elems(&sec, m); break;
            case 10:
                rc = zenith_wasm__sec_code(&sec, m);
                have_code = 1;
                break;
            default: rc = zenith_wasm__sec_datas(&sec, m); break;
        }
        r->invalid = sec.invalid;
        if (rc < 0) {
            if (rc == ZENITH_WASM_E_NOMEM) zenith_wasm__fail(&sec, rc, "out of memory");
            return rc;
        }
        if (sec.p != sec.end)
            return zenith_wasm__fail(&sec, ZENITH_WASM_E_MALFORMED,
                                     "section size mismatch (%u bytes left in section %u)", (unsigned)(sec.end - sec.p),
                                     id);
        r->p = sec.end;
    }
    if (!have_code && m->nfuncs != m->nfunc_imports) {
        r->section = 10;
        return zenith_wasm__fail(r, ZENITH_WASM_E_MALFORMED,
                                 "function and code section have inconsistent lengths (no code section)");
    }
    return 0;
}

ZENITH_WASM_API zenith_wasm_module *zenith_wasm_module_load(const void *bytes, size_t len, zenith_wasm_error *err) {
    zenith_wasm_module *m;
    zenith_wasm__rd r;
    const void *const *labels = NULL;
    int rc;
    uint32_t i;
    zenith_wasm__err_in(err);
    if (bytes == NULL && len > 0) {
        zenith_wasm__seterr(err, ZENITH_WASM_E_NULL, ZENITH_WASM__NONE, ZENITH_WASM__NONE, "bytes is NULL");
        return NULL;
    }
    m = (zenith_wasm_module *)zenith_wasm__calloc(1, sizeof *m);
    if (m) m->bytes = (uint8_t *)zenith_wasm__alloc(len);
    if (!m || !m->bytes) {
        zenith_wasm__free(m);
        zenith_wasm__seterr(err, ZENITH_WASM_E_NOMEM, ZENITH_WASM__NONE, ZENITH_WASM__NONE, "out of memory");
        return NULL;
    }
    if (len) memcpy(m->bytes, bytes, len);
    m->len = len;
    memset(&r, 0, sizeof r);
    r.base = r.p = m->bytes;
    r.end = m->bytes + len;
    r.err = err;
    r.section = r.index = ZENITH_WASM__NONE;
    rc = zenith_wasm__decode(&r, m);
    if (rc == 0 && r.invalid) rc = ZENITH_WASM_E_INVALID;
    zenith_wasm__run(NULL, NULL, NULL, &labels);
    for (i = 0; rc == 0 && i < m->nfuncs - m->nfunc_imports; i++) {
        rc = zenith_wasm__translate(m, i, labels, err);
        if (rc == ZENITH_WASM_E_INVALID || rc == ZENITH_WASM_E_LIMIT) { /* unless a body is malformed */
            zenith_wasm_error saved, *e = err ? err : &saved;
            uint32_t k;
            if (err) saved = *err;
            for (k = i; k < m->nfuncs - m->nfunc_imports; k++)
                if (zenith_wasm__scan(m, &m->code[k], e, k) < 0) {
                    rc = ZENITH_WASM_E_MALFORMED;
                    break;
                }
            if (err && rc != ZENITH_WASM_E_MALFORMED) *err = saved;
        }
    }
    if (rc < 0) {
        if (rc == ZENITH_WASM_E_NOMEM && err) {
            err->code = rc;
            snprintf(err->message, sizeof err->message, "out of memory");
        }
        zenith_wasm_module_destroy(m);
        return NULL;
    }
    return m;
}

ZENITH_WASM_API uint32_t zenith_wasm_module_import_count(const zenith_wasm_module *m) { return m ? m->nimports : 0; }
ZENITH_WASM_API uint32_t zenith_wasm_module_export_count(const zenith_wasm_module *m) { return m ? m->nexports : 0; }

static void zenith_wasm__describe(const zenith_wasm_module *m, uint32_t kind, uint32_t index,
                                  zenith_wasm_extern_info *out) {
    out->kind = kind;
    switch (kind) {
        case ZENITH_WASM_EXTERN_FUNC: {
            const zenith_wasm__type *t = &m->types[m->func_types[index]];
            out->func.params = t->t;
            out->func.nparams = t->np;
            out->func.results = t->t + t->np;
            out->func.nresults = t->nr;
            break;
        }
        case ZENITH_WASM_EXTERN_TABLE: out->limits = m->table; break;
        case ZENITH_WASM_EXTERN_MEMORY: out->limits = m->mem; break;
        default:
            out->global_type = m->globals[index].type;
            out->global_mutable = m->globals[index].mut;
            break;
    }
}

static int zenith_wasm__info_in(zenith_wasm_extern_info *out) {
    uint32_t size = out->struct_size;
    if (size != 0 && size < sizeof *out) return ZENITH_WASM_E_INVAL;
    memset(out, 0, sizeof *out);
    out->struct_size = size ? size : (uint32_t)sizeof *out;
    return 0;
}

ZENITH_WASM_API int zenith_wasm_module_import(const zenith_wasm_module *m, uint32_t i, zenith_wasm_extern_info *out) {
    const zenith_wasm__import *im;
    uint32_t fi = 0, k;
    if (!m || !out) return ZENITH_WASM_E_NULL;
    if (i >= m->nimports) return ZENITH_WASM_E_RANGE;
    ZENITH_WASM__TRY(zenith_wasm__info_in(out));
    im = &m->imports[i];
    out->module = im->mod;
    out->module_len = im->mod_len;
    out->name = im->name;
    out->name_len = im->name_len;
    if (im->kind == ZENITH_WASM_EXTERN_FUNC)
        for (k = 0; k < i; k++) fi += m->imports[k].kind == ZENITH_WASM_EXTERN_FUNC;
    zenith_wasm__describe(m, im->kind, im->kind == ZENITH_WASM_EXTERN_FUNC ? fi : im->index, out);
    return 0;
}

ZENITH_WASM_API int zenith_wasm_module_export(const zenith_wasm_module *m, uint32_t i, zenith_wasm_extern_info *out) {
    const zenith_wasm__export *ex;
    if (!m || !out) return ZENITH_WASM_E_NULL;
    if (i >= m->nexports) return ZENITH_WASM_E_RANGE;
    ZENITH_WASM__TRY(zenith_wasm__info_in(out));
    ex = &m->exports[i];
    out->name = ex->name;
    out->name_len = ex->name_len;
    zenith_wasm__describe(m, ex->kind, ex->index, out);
    return 0;
}

/* ---- store and externs -------------------------------------------------------------------- */

ZENITH_WASM_API zenith_wasm_store *zenith_wasm_store_create(const zenith_wasm_config *cfg, int *err) {
    zenith_wasm_store *s;
    zenith_wasm_config c;
    memset(&c, 0, sizeof c);
    if (cfg) {
        uint32_t size = cfg->struct_size ? cfg->struct_size : (uint32_t)sizeof c;
        size_t i;
        if (size < 8 || size > 4096) {
            if (err) *err = ZENITH_WASM_E_INVAL;
            return NULL;
        }
        for (i = sizeof c; i < size; i++)
            if (((const unsigned char *)cfg)[i]) {
                if (err) *err = ZENITH_WASM_E_UNSUPPORTED;
                return NULL;
            }
        memcpy(&c, cfg, size < sizeof c ? size : sizeof c);
    }
    if (c.max_memory_pages == 0 || c.max_memory_pages > 65536) c.max_memory_pages = 65536;
    if (c.max_call_depth == 0) c.max_call_depth = 10000;
    if (c.value_stack_bytes == 0) c.value_stack_bytes = 4u << 20;
    if (c.value_stack_bytes < 65536 || c.max_call_depth > 100000000u) {
        if (err) *err = ZENITH_WASM_E_INVAL;
        return NULL;
    }
    s = (zenith_wasm_store *)zenith_wasm__calloc(1, sizeof *s);
    if (s) {
        s->cfg = c;
        s->nslots = c.value_stack_bytes / sizeof(zenith_wasm__slot);
        s->stack = (zenith_wasm__slot *)zenith_wasm__alloc(s->nslots * sizeof *s->stack);
        s->nframes = (size_t)c.max_call_depth + ZENITH_WASM_MAX_NESTING + 1;
        s->frames = (zenith_wasm__frame *)zenith_wasm__alloc(s->nframes * sizeof *s->frames);
    }
    if (!s || !s->stack || !s->frames) {
        if (s) {
            zenith_wasm__free(s->stack);
            zenith_wasm__free(s->frames);
            zenith_wasm__free(s);
        }
        if (err) *err = ZENITH_WASM_E_NOMEM;
        return NULL;
    }
    s->sp = s->stack;
    s->csp = s->frames;
    if (err) *err = 0;
    return s;
}

static void zenith_wasm__extern_free(zenith_wasm_extern *e) {
    switch (e->kind) {
        case ZENITH_WASM_EXTERN_FUNC: zenith_wasm__free(e->u.func.own.t); break;
        case ZENITH_WASM_EXTERN_MEMORY: zenith_wasm__free(e->u.mem.data); break;
        case ZENITH_WASM_EXTERN_TABLE: zenith_wasm__free(e->u.table.elems); break;
        default: break;
    }
    zenith_wasm__free(e);
}

static void zenith_wasm__instance_free(zenith_wasm_instance *in) {
    zenith_wasm__free(in->funcs);
    zenith_wasm__free(in->globals);
    zenith_wasm__free(in->exports);
    zenith_wasm__free(in);
}

ZENITH_WASM_API void zenith_wasm_store_destroy(zenith_wasm_store *s) {
    if (s == NULL || s->nesting > 0) return; /* from inside one of its calls: refused */
    while (s->externs) {
        zenith_wasm_extern *e = s->externs;
        s->externs = e->next;
        zenith_wasm__extern_free(e);
    }
    while (s->instances) {
        zenith_wasm_instance *in = s->instances;
        s->instances = in->next;
        zenith_wasm__instance_free(in);
    }
    zenith_wasm__free(s->stack);
    zenith_wasm__free(s->frames);
    zenith_wasm__free(s);
}

ZENITH_WASM_API int zenith_wasm_store_set_fuel(zenith_wasm_store *s, uint64_t fuel) {
    if (!s) return ZENITH_WASM_E_NULL;
    s->cfg.fuel = fuel;
    return 0;
}

ZENITH_WASM_API uint64_t zenith_wasm_store_fuel_used(const zenith_wasm_store *s) { return s ? s->fuel_used : 0; }

ZENITH_WASM_API int zenith_wasm_charge(zenith_wasm_instance *caller, uint64_t fuel) {
    zenith_wasm_store *s;
    if (caller == NULL) return ZENITH_WASM_E_NULL;
    s = caller->store;
    if (s->nesting == 0) return ZENITH_WASM_E_STATE;
    if (s->fuel < 0 || fuel > (uint64_t)s->fuel) {
        s->fuel = 0;
        return ZENITH_WASM_TRAP_FUEL;
    }
    s->fuel -= (int64_t)fuel;
    return 0;
}

static zenith_wasm_extern *zenith_wasm__extern_new(zenith_wasm_store *s, uint32_t kind) {
    zenith_wasm_extern *e = (zenith_wasm_extern *)zenith_wasm__calloc(1, sizeof *e);
    if (!e) return NULL;
    e->kind = kind;
    e->store = s;
    e->next = s->externs;
    s->externs = e;
    return e;
}

/* Unlinks and frees the most recent extern (a failed creation). */
static void zenith_wasm__extern_drop(zenith_wasm_store *s, zenith_wasm_extern *e) {
    if (s->externs == e) s->externs = e->next;
    zenith_wasm__extern_free(e);
}

ZENITH_WASM_API zenith_wasm_extern *zenith_wasm_func_new(zenith_wasm_store *s, const zenith_wasm_functype *type,
                                                         zenith_wasm_host_fn fn, void *user, int *err) {
    zenith_wasm_extern *e;
    uint32_t k;
    if (!s || !type || !fn || (type->nparams && !type->params) || (type->nresults && !type->results)) {
        if (err) *err = ZENITH_WASM_E_NULL;
        return NULL;
    }
    for (k = 0; k < type->nparams; k++)
        if (!zenith_wasm__is_valtype(type->params[k])) goto inval;
    for (k = 0; k < type->nresults; k++)
        if (!zenith_wasm__is_valtype(type->results[k])) goto inval;
    if (type->nparams > ZENITH_WASM__MAX_ARITY || type->nresults > ZENITH_WASM__MAX_ARITY) goto inval;
    e = zenith_wasm__extern_new(s, ZENITH_WASM_EXTERN_FUNC);
    if (e) e->u.func.own.t = (uint8_t *)zenith_wasm__alloc((size_t)type->nparams + type->nresults);
    if (!e || !e->u.func.own.t) {
        if (e) zenith_wasm__extern_drop(s, e);
        if (err) *err = ZENITH_WASM_E_NOMEM;
        return NULL;
    }
    if (type->nparams) memcpy(e->u.func.own.t, type->params, type->nparams);
    if (type->nresults) memcpy(e->u.func.own.t + type->nparams, type->results, type->nresults);
    e->u.func.own.np = type->nparams;
    e->u.func.own.nr = type->nresults;
    e->u.func.type = &e->u.func.own;
    e->u.func.host = fn;
    e->u.func.user = user;
    if (err) *err = 0;
    return e;
inval:
    if (err) *err = ZENITH_WASM_E_INVAL;
    return NULL;
}

static zenith_wasm_extern *zenith_wasm__memory_make(zenith_wasm_store *s, const zenith_wasm_limits *l, int *err) {
    zenith_wasm_extern *e;
    uint32_t max = l->has_max ? l->max : 65536;
    if (l->min > 65536 || max > 65536 || l->min > max) {
        if (err) *err = ZENITH_WASM_E_INVAL;
        return NULL;
    }
    if (l->min > s->cfg.max_memory_pages) {
        if (err) *err = ZENITH_WASM_E_RANGE;
        return NULL;
    }
    e = zenith_wasm__extern_new(s, ZENITH_WASM_EXTERN_MEMORY);
    if (!e) {
        if (err) *err = ZENITH_WASM_E_NOMEM;
        return NULL;
    }
    e->u.mem.max = max;
    e->u.mem.has_max = l->has_max != 0;
    if (l->min && zenith_wasm__mem_grow(s, e, l->min) < 0) {
        zenith_wasm__extern_drop(s, e);
        if (err) *err = ZENITH_WASM_E_NOMEM;
        return NULL;
    }
    if (err) *err = 0;
    return e;
}

ZENITH_WASM_API zenith_wasm_extern *zenith_wasm_memory_new(zenith_wasm_store *s, const zenith_wasm_limits *l,
                                                           int *err) {
    if (!s || !l) {
        if (err) *err = ZENITH_WASM_E_NULL;
        return NULL;
    }
    return zenith_wasm__memory_make(s, l, err);
}

static zenith_wasm_extern *zenith_wasm__table_make(zenith_wasm_store *s, const zenith_wasm_limits *l, int *err) {
    zenith_wasm_extern *e;
    if (l->has_max && l->min > l->max) {
        if (err) *err = ZENITH_WASM_E_INVAL;
        return NULL;
    }
    if (l->min > 10000000u) {
        if (err) *err = ZENITH_WASM_E_RANGE;
        return NULL;
    }
    e = zenith_wasm__extern_new(s, ZENITH_WASM_EXTERN_TABLE);
    if (e) e->u.table.elems = (zenith_wasm_extern **)zenith_wasm__calloc(l->min ? l->min : 1, sizeof *e->u.table.elems);
    if (!e || !e->u.table.elems) {
        if (e) zenith_wasm__extern_drop(s, e);
        if (err) *err = ZENITH_WASM_E_NOMEM;
        return NULL;
    }
    e->u.table.size = l->min;
    e->u.table.max = l->has_max ? l->max : 0xffffffffu;
    e->u.table.has_max = l->has_max != 0;
    if (err) *err = 0;
    return e;
}

ZENITH_WASM_API zenith_wasm_extern *zenith_wasm_table_new(zenith_wasm_store *s, const zenith_wasm_limits *l, int *err) {
    if (!s || !l) {
        if (err) *err = ZENITH_WASM_E_NULL;
        return NULL;
    }
    return zenith_wasm__table_make(s, l, err);
}

ZENITH_WASM_API zenith_wasm_extern *zenith_wasm_global_new(zenith_wasm_store *s, const zenith_wasm_value *v,
                                                           int is_mutable, int *err) {
    zenith_wasm_extern *e;
    if (!s || !v) {
        if (err) *err = ZENITH_WASM_E_NULL;
        return NULL;
    }
    if (v->type > 0xff || !zenith_wasm__is_valtype((uint8_t)v->type)) {
        if (err) *err = ZENITH_WASM_E_INVAL;
        return NULL;
    }
    e = zenith_wasm__extern_new(s, ZENITH_WASM_EXTERN_GLOBAL);
    if (!e) {
        if (err) *err = ZENITH_WASM_E_NOMEM;
        return NULL;
    }
    e->u.global.type = (uint8_t)v->type;
    e->u.global.mut = is_mutable != 0;
    if (v->type == ZENITH_WASM_I32 || v->type == ZENITH_WASM_F32)
        e->u.global.val.u32 = v->of.u32;
    else
        e->u.global.val.u64 = v->of.u64;
    if (err) *err = 0;
    return e;
}

ZENITH_WASM_API int zenith_wasm_extern_kind(const zenith_wasm_extern *e) { return e ? (int)e->kind : -1; }

ZENITH_WASM_API int zenith_wasm_func_type(const zenith_wasm_extern *e, zenith_wasm_functype *out) {
    if (!e || !out) return ZENITH_WASM_E_NULL;
    if (e->kind != ZENITH_WASM_EXTERN_FUNC) return ZENITH_WASM_E_TYPE;
    out->params = e->u.func.type->t;
    out->nparams = e->u.func.type->np;
    out->results = e->u.func.type->t + e->u.func.type->np;
    out->nresults = e->u.func.type->nr;
    return 0;
}

static void zenith_wasm__to_value(uint8_t type, zenith_wasm__slot v, zenith_wasm_value *out) {
    out->type = type;
    out->of.u64 = (type == ZENITH_WASM_I32 || type == ZENITH_WASM_F32) ? v.u32 : v.u64;
}

ZENITH_WASM_API int zenith_wasm_global_get(const zenith_wasm_extern *e, zenith_wasm_value *out) {
    if (!e || !out) return ZENITH_WASM_E_NULL;
    if (e->kind != ZENITH_WASM_EXTERN_GLOBAL) return ZENITH_WASM_E_TYPE;
    zenith_wasm__to_value(e->u.global.type, e->u.global.val, out);
    return 0;
}

ZENITH_WASM_API int zenith_wasm_global_set(zenith_wasm_extern *e, const zenith_wasm_value *v) {
    if (!e || !v) return ZENITH_WASM_E_NULL;
    if (e->kind != ZENITH_WASM_EXTERN_GLOBAL || !e->u.global.mut || v->type != e->u.global.type)
        return ZENITH_WASM_E_TYPE;
    if (v->type == ZENITH_WASM_I32 || v->type == ZENITH_WASM_F32)
        e->u.global.val.u32 = v->of.u32;
    else
        e->u.global.val.u64 = v->of.u64;
    return 0;
}

ZENITH_WASM_API uint8_t *zenith_wasm_memory_data(zenith_wasm_extern *e, size_t *size) {
    if (!e || e->kind != ZENITH_WASM_EXTERN_MEMORY) {
        if (size) *size = 0;
        return NULL;
    }
    if (size) *size = (size_t)e->u.mem.size;
    return e->u.mem.data;
}

ZENITH_WASM_API uint32_t zenith_wasm_memory_pages(const zenith_wasm_extern *e) {
    return e && e->kind == ZENITH_WASM_EXTERN_MEMORY ? e->u.mem.pages : 0;
}

ZENITH_WASM_API int64_t zenith_wasm_memory_grow(zenith_wasm_extern *e, uint32_t delta) {
    uint64_t want;
    int64_t r;
    if (!e) return ZENITH_WASM_E_NULL;
    if (e->kind != ZENITH_WASM_EXTERN_MEMORY) return ZENITH_WASM_E_TYPE;
    want = (uint64_t)e->u.mem.pages + delta;
    if (want > e->u.mem.max || want > e->store->cfg.max_memory_pages) return ZENITH_WASM_E_RANGE;
    r = zenith_wasm__mem_grow(e->store, e, delta);
    return r < 0 ? ZENITH_WASM_E_NOMEM : r;
}

ZENITH_WASM_API int zenith_wasm_memory_read(const zenith_wasm_extern *e, uint64_t offset, void *dst, size_t len) {
    if (!e || (!dst && len)) return ZENITH_WASM_E_NULL;
    if (e->kind != ZENITH_WASM_EXTERN_MEMORY) return ZENITH_WASM_E_TYPE;
    if (offset > e->u.mem.size || len > e->u.mem.size - offset) return ZENITH_WASM_E_RANGE;
    if (len) memcpy(dst, e->u.mem.data + offset, len);
    return 0;
}

ZENITH_WASM_API int zenith_wasm_memory_write(zenith_wasm_extern *e, uint64_t offset, const void *src, size_t len) {
    if (!e || (!src && len)) return ZENITH_WASM_E_NULL;
    if (e->kind != ZENITH_WASM_EXTERN_MEMORY) return ZENITH_WASM_E_TYPE;
    if (offset > e->u.mem.size || len > e->u.mem.size - offset) return ZENITH_WASM_E_RANGE;
    if (len) memcpy(e->u.mem.data + offset, src, len);
    return 0;
}

ZENITH_WASM_API uint32_t zenith_wasm_table_size(const zenith_wasm_extern *e) {
    return e && e->kind == ZENITH_WASM_EXTERN_TABLE ? e->u.table.size : 0;
}

ZENITH_WASM_API int zenith_wasm_table_get(const zenith_wasm_extern *e, uint32_t i, zenith_wasm_extern **out) {
    if (!e || !out) return ZENITH_WASM_E_NULL;
    if (e->kind != ZENITH_WASM_EXTERN_TABLE) return ZENITH_WASM_E_TYPE;
    if (i >= e->u.table.size) return ZENITH_WASM_E_RANGE;
    *out = e->u.table.elems[i];
    return 0;
}

ZENITH_WASM_API int zenith_wasm_table_set(zenith_wasm_extern *e, uint32_t i, zenith_wasm_extern *func) {
    if (!e) return ZENITH_WASM_E_NULL;
    if (e->kind != ZENITH_WASM_EXTERN_TABLE || (func && func->kind != ZENITH_WASM_EXTERN_FUNC))
        return ZENITH_WASM_E_TYPE;
    if (i >= e->u.table.size) return ZENITH_WASM_E_RANGE;
    if (func && func->store != e->store) return ZENITH_WASM_E_STATE;
    e->u.table.elems[i] = func;
    return 0;
}

ZENITH_WASM_API zenith_wasm_store *zenith_wasm_instance_store(const zenith_wasm_instance *in) {
    return in ? in->store : NULL;
}
ZENITH_WASM_API zenith_wasm_store *zenith_wasm_extern_store(const zenith_wasm_extern *e) { return e ? e->store : NULL; }

/* ---- calls -------------------------------------------------------------------------------- */

ZENITH_WASM_API int zenith_wasm_call(zenith_wasm_extern *fn, const zenith_wasm_value *args, size_t nargs,
                                     zenith_wasm_value *results, size_t nresults) {
    zenith_wasm_store *s;
    const zenith_wasm__type *ty;
    zenith_wasm__slot *sp0;
    zenith_wasm__frame *csp0;
    size_t k, need;
    int rc, top;
    if (!fn || (nargs && !args) || (nresults && !results)) return ZENITH_WASM_E_NULL;
    if (fn->kind != ZENITH_WASM_EXTERN_FUNC) return ZENITH_WASM_E_TYPE;
    s = fn->store;
    ty = fn->u.func.type;
    if (nargs != ty->np || nresults != ty->nr) return ZENITH_WASM_E_TYPE;
    for (k = 0; k < nargs; k++)
        if (args[k].type != ty->t[k]) return ZENITH_WASM_E_TYPE;
    if (s->nesting >= ZENITH_WASM_MAX_NESTING) return ZENITH_WASM_TRAP_STACK_EXHAUSTED;
    top = s->nesting == 0;
    if (top) {
        s->sp = s->stack;
        s->csp = s->frames;
        s->fuel = s->cfg.fuel ? (int64_t)(s->cfg.fuel > (uint64_t)INT64_MAX / 2 ? (uint64_t)INT64_MAX / 2 : s->cfg.fuel)
                              : INT64_MAX / 2;
    }
    sp0 = s->sp;
    csp0 = s->csp;
    if (fn->u.func.code == NULL) { /* a host function, called directly */
        zenith_wasm_value small[8], *v = small;
        if (nresults > 8) v = (zenith_wasm_value *)zenith_wasm__calloc(nresults, sizeof *v);
        if (!v) return ZENITH_WASM_E_NOMEM;
        for (k = 0; k < nresults; k++) {
            v[k].type = ty->t[ty->np + k];
            v[k].of.u64 = 0;
        }
        s->nesting++;
        rc = fn->u.func.host(fn->u.func.user, NULL, args, v);
        s->nesting--;
        if (rc != 0) rc = ZENITH_WASM_IS_TRAP(rc) ? rc : ZENITH_WASM_TRAP_HOST;
        if (rc == 0)
            for (k = 0; k < nresults; k++) results[k] = v[k], results[k].type = ty->t[ty->np + k];
        if (v != small) zenith_wasm__free(v);
    } else {
        need = ty->np > ty->nr ? ty->np : ty->nr;
        if ((size_t)(s->stack + s->nslots - sp0) < need + 1) {
            rc = ZENITH_WASM_TRAP_STACK_EXHAUSTED;
        } else {
            for (k = 0; k < nargs; k++) {
                if (ty->t[k] == ZENITH_WASM_I32 || ty->t[k] == ZENITH_WASM_F32)
                    sp0[k].u32 = args[k].of.u32;
                else
                    sp0[k].u64 = args[k].of.u64;
            }
            s->nesting++;
            rc = zenith_wasm__run(s, fn, sp0, NULL);
            s->nesting--;
            if (rc == 0)
                for (k = 0; k < nresults; k++) zenith_wasm__to_value(ty->t[ty->np + k], sp0[k], &results[k]);
        }
    }
    s->sp = sp0;
    s->csp = csp0;
    if (top) {
        uint64_t budget = s->cfg.fuel ? s->cfg.fuel : (uint64_t)INT64_MAX / 2;
        if (budget > (uint64_t)INT64_MAX / 2) budget = (uint64_t)INT64_MAX / 2;
        s->fuel_used = budget - (uint64_t)(s->fuel < 0 ? 0 : s->fuel);
    }
    return rc;
}

/* ---- instantiation ------------------------------------------------------------------------ */

static const char *zenith_wasm__kind_name(uint32_t kind) {
    switch (kind) {
        case ZENITH_WASM_EXTERN_FUNC: return "function";
        case ZENITH_WASM_EXTERN_TABLE: return "table";
        case ZENITH_WASM_EXTERN_MEMORY: return "memory";
        default: return "global";
    }
}

/* 1 if limits (cur, has_max, max) match an import's declared limits l. */
static int zenith_wasm__limits_match(uint32_t cur, uint32_t has_max, uint32_t max, const zenith_wasm_limits *l) {
    if (cur < l->min) return 0;
    if (l->has_max && (!has_max || max > l->max)) return 0;
    return 1;
}

static int zenith_wasm__link_check(zenith_wasm_store *s, const zenith_wasm_module *m, uint32_t i,
                                   const zenith_wasm_extern *e, zenith_wasm_error *err) {
    const zenith_wasm__import *im = &m->imports[i];
    int ok = 1;
    if (e == NULL) {
        zenith_wasm__seterr(err, ZENITH_WASM_E_UNLINKABLE, 2, i, "unknown import \"%.*s\" \"%.*s\"", (int)im->mod_len,
                            im->mod, (int)im->name_len, im->name);
        return ZENITH_WASM_E_UNLINKABLE;
    }
    if (e->store != s) {
        zenith_wasm__seterr(err, ZENITH_WASM_E_STATE, 2, i, "import %u comes from another store", i);
        return ZENITH_WASM_E_STATE;
    }
    if (e->kind != im->kind) {
        ok = 0;
    } else {
        switch (im->kind) {
            case ZENITH_WASM_EXTERN_FUNC: ok = zenith_wasm__type_eq(e->u.func.type, &m->types[im->index]); break;
            case ZENITH_WASM_EXTERN_TABLE:
                ok = zenith_wasm__limits_match(e->u.table.size, e->u.table.has_max, e->u.table.max, &m->table);
                break;
            case ZENITH_WASM_EXTERN_MEMORY:
                ok = zenith_wasm__limits_match(e->u.mem.pages, e->u.mem.has_max, e->u.mem.max, &m->mem);
                break;
            default:
                ok = e->u.global.type == m->globals[im->index].type && e->u.global.mut == m->globals[im->index].mut;
                break;
        }
    }
    if (!ok) {
        zenith_wasm__seterr(err, ZENITH_WASM_E_UNLINKABLE, 2, i,
                            "incompatible import type for \"%.*s\" \"%.*s\": expected a %s%s", (int)im->mod_len,
                            im->mod, (int)im->name_len, im->name, zenith_wasm__kind_name(im->kind),
                            e->kind != im->kind ? "" : " of another type or size");
        return ZENITH_WASM_E_UNLINKABLE;
    }
    return 0;
}

static zenith_wasm__slot zenith_wasm__eval(const zenith_wasm_instance *in, const zenith_wasm__cexpr *e) {
    if (e->op == 0x23) return in->globals[e->index]->u.global.val;
    return e->v;
}

static zenith_wasm_instance *zenith_wasm__instantiate(zenith_wasm_store *s, const zenith_wasm_module *m,
                                                      zenith_wasm_extern *const *ext, zenith_wasm_error *err) {
    zenith_wasm_instance *in;
    zenith_wasm_extern *mark = s->externs;
    uint32_t i, fi = 0, gi = 0;
    int rc = 0, e2 = 0;
    for (i = 0; i < m->nimports; i++)
        if ((rc = zenith_wasm__link_check(s, m, i, ext[i], err)) < 0) return NULL;
    in = (zenith_wasm_instance *)zenith_wasm__calloc(1, sizeof *in);
    if (in) {
        in->store = s;
        in->module = m;
        in->funcs = (zenith_wasm_extern **)zenith_wasm__calloc(m->nfuncs + 1u, sizeof *in->funcs);
        in->globals = (zenith_wasm_extern **)zenith_wasm__calloc(m->nglobals + 1u, sizeof *in->globals);
        in->exports = (zenith_wasm_extern **)zenith_wasm__calloc(m->nexports + 1u, sizeof *in->exports);
    }
    if (!in || !in->funcs || !in->globals || !in->exports) goto nomem;
    for (i = 0; i < m->nimports; i++) {
        switch (m->imports[i].kind) {
            case ZENITH_WASM_EXTERN_FUNC: in->funcs[fi++] = ext[i]; break;
            case ZENITH_WASM_EXTERN_TABLE: in->table = ext[i]; break;
            case ZENITH_WASM_EXTERN_MEMORY: in->mem = ext[i]; break;
            default: in->globals[gi++] = ext[i]; break;
        }
    }
    for (i = m->nfunc_imports; i < m->nfuncs; i++) {
        zenith_wasm_extern *f = zenith_wasm__extern_new(s, ZENITH_WASM_EXTERN_FUNC);
        if (!f) goto nomem;
        f->u.func.type = &m->types[m->func_types[i]];
        f->u.func.inst = in;
        f->u.func.code = &m->code[i - m->nfunc_imports];
        in->funcs[i] = f;
    }
    if (m->ntables && !m->table_imported) {
        in->table = zenith_wasm__table_make(s, &m->table, &e2);
        if (!in->table) {
            rc = e2;
            zenith_wasm__seterr(err, rc, 4, 0, "table of %u elements: %s", m->table.min, zenith_wasm_strerror(rc));
            goto fail;
        }
    }
    if (m->nmems && !m->mem_imported) {
        in->mem = zenith_wasm__memory_make(s, &m->mem, &e2);
        if (!in->mem) {
            rc = e2;
            zenith_wasm__seterr(err, rc, 5, 0, "memory of %u pages: %s", m->mem.min, zenith_wasm_strerror(rc));
            goto fail;
        }
    }
    for (i = m->nglobal_imports; i < m->nglobals; i++) {
        zenith_wasm_extern *g = zenith_wasm__extern_new(s, ZENITH_WASM_EXTERN_GLOBAL);
        if (!g) goto nomem;
        g->u.global.type = m->globals[i].type;
        g->u.global.mut = m->globals[i].mut;
        g->u.global.val = zenith_wasm__eval(in, &m->globals[i].init);
        in->globals[i] = g;
    }
    for (i = 0; i < m->nexports; i++) {
        const zenith_wasm__export *x = &m->exports[i];
        switch (x->kind) {
            case ZENITH_WASM_EXTERN_FUNC: in->exports[i] = in->funcs[x->index]; break;
            case ZENITH_WASM_EXTERN_TABLE: in->exports[i] = in->table; break;
            case ZENITH_WASM_EXTERN_MEMORY: in->exports[i] = in->mem; break;
            default: in->exports[i] = in->globals[x->index]; break;
        }
    }
    /* segments: all checked, then all written */
    for (i = 0; i < m->nelems; i++) {
        uint64_t off = zenith_wasm__eval(in, &m->elems[i].offset).u32;
        if (!in->table || off + m->elems[i].n > in->table->u.table.size) {
            rc = ZENITH_WASM_E_SEGMENT;
            zenith_wasm__seterr(err, rc, 9, i, "elements segment does not fit (offset %llu + %u > table size %u)",
                                (unsigned long long)off, m->elems[i].n, in->table ? in->table->u.table.size : 0);
            goto fail;
        }
    }
    for (i = 0; i < m->ndatas; i++) {
        uint64_t off = zenith_wasm__eval(in, &m->datas[i].offset).u32;
        if (!in->mem || off + m->datas[i].n > in->mem->u.mem.size) {
            rc = ZENITH_WASM_E_SEGMENT;
            zenith_wasm__seterr(err, rc, 11, i, "data segment does not fit (offset %llu + %u > memory size %llu)",
                                (unsigned long long)off, m->datas[i].n,
                                (unsigned long long)(in->mem ? in->mem->u.mem.size : 0));
            goto fail;
        }
    }
    for (i = 0; i < m->nelems; i++) {
        uint32_t off = zenith_wasm__eval(in, &m->elems[i].offset).u32, k;
        for (k = 0; k < m->elems[i].n; k++) in->table->u.table.elems[off + k] = in->funcs[m->elems[i].funcs[k]];
    }
    for (i = 0; i < m->ndatas; i++) {
        uint32_t off = zenith_wasm__eval(in, &m->datas[i].offset).u32;
        if (m->datas[i].n) memcpy(in->mem->u.mem.data + off, m->datas[i].bytes, m->datas[i].n);
    }
    in->next = s->instances;
    s->instances = in;
    if (m->start != ZENITH_WASM__NONE) {
        rc = zenith_wasm_call(in->funcs[m->start], NULL, 0, NULL, 0);
        if (rc < 0) {
            zenith_wasm__seterr(err, rc, 8, m->start, "start function: %s", zenith_wasm_strerror(rc));
            return NULL; /* the instance stays in the store: its segments' writes stay too */
        }
    }
    return in;
nomem:
    rc = ZENITH_WASM_E_NOMEM;
    zenith_wasm__seterr(err, rc, ZENITH_WASM__NONE, ZENITH_WASM__NONE, "out of memory");
fail:
    while (s->externs != mark) {
        zenith_wasm_extern *e = s->externs;
        s->externs = e->next;
        zenith_wasm__extern_free(e);
    }
    if (in) zenith_wasm__instance_free(in);
    return NULL;
}

ZENITH_WASM_API zenith_wasm_instance *zenith_wasm_instantiate_ordered(zenith_wasm_store *s, const zenith_wasm_module *m,
                                                                      zenith_wasm_extern *const *externs, size_t n,
                                                                      zenith_wasm_error *err) {
    zenith_wasm__err_in(err);
    if (!s || !m || (n && !externs)) {
        zenith_wasm__seterr(err, ZENITH_WASM_E_NULL, ZENITH_WASM__NONE, ZENITH_WASM__NONE, "NULL argument");
        return NULL;
    }
    if (s->nesting) {
        zenith_wasm__seterr(err, ZENITH_WASM_E_STATE, ZENITH_WASM__NONE, ZENITH_WASM__NONE,
                            "instantiate inside a call of the store");
        return NULL;
    }
    if (n < m->nimports) {
        const zenith_wasm__import *im = &m->imports[n];
        zenith_wasm__seterr(err, ZENITH_WASM_E_UNLINKABLE, 2, (uint32_t)n,
                            "unknown import \"%.*s\" \"%.*s\" (%u imports, %zu given)", (int)im->mod_len, im->mod,
                            (int)im->name_len, im->name, m->nimports, n);
        return NULL;
    }
    return zenith_wasm__instantiate(s, m, externs, err);
}

ZENITH_WASM_API zenith_wasm_instance *zenith_wasm_instantiate(zenith_wasm_store *s, const zenith_wasm_module *m,
                                                              const zenith_wasm_import *imports, size_t n,
                                                              zenith_wasm_error *err) {
    zenith_wasm_extern **ext;
    zenith_wasm_instance *in;
    uint32_t i;
    size_t k;
    zenith_wasm__err_in(err);
    if (!s || !m || (n && !imports)) {
        zenith_wasm__seterr(err, ZENITH_WASM_E_NULL, ZENITH_WASM__NONE, ZENITH_WASM__NONE, "NULL argument");
        return NULL;
    }
    ext = (zenith_wasm_extern **)zenith_wasm__calloc(m->nimports + 1u, sizeof *ext);
    if (!ext) {
        zenith_wasm__seterr(err, ZENITH_WASM_E_NOMEM, ZENITH_WASM__NONE, ZENITH_WASM__NONE, "out of memory");
        return NULL;
    }
    for (i = 0; i < m->nimports; i++) {
        const zenith_wasm__import *im = &m->imports[i];
        for (k = 0; k < n; k++) {
            const zenith_wasm_import *x = &imports[k];
            if (x->module && x->name && strlen(x->module) == im->mod_len && strlen(x->name) == im->name_len &&
                memcmp(x->module, im->mod, im->mod_len) == 0 && memcmp(x->name, im->name, im->name_len) == 0) {
                ext[i] = x->ext;
                break;
            }
        }
    }
    in = zenith_wasm_instantiate_ordered(s, m, ext, m->nimports, err);
    zenith_wasm__free(ext);
    return in;
}

ZENITH_WASM_API zenith_wasm_extern *zenith_wasm_instance_export_n(zenith_wasm_instance *in, const char *name,
                                                                  size_t len) {
    uint32_t i;
    if (!in || !name) return NULL;
    for (i = 0; i < in->module->nexports; i++) {
        const zenith_wasm__export *x = &in->module->exports[i];
        if (x->name_len == len && memcmp(x->name, name, len) == 0) return in->exports[i];
    }
    return NULL;
}

ZENITH_WASM_API zenith_wasm_extern *zenith_wasm_instance_export(zenith_wasm_instance *in, const char *name) {
    return name ? zenith_wasm_instance_export_n(in, name, strlen(name)) : NULL;
}

ZENITH_WASM_API zenith_wasm_extern *zenith_wasm_instance_memory(zenith_wasm_instance *in) {
    return in ? in->mem : NULL;
}

#endif /* ZENITH_WASM_IMPLEMENTATION_INCLUDED */
#endif /* ZENITH_WASM_IMPLEMENTATION */

/*
MIT License

Copyright (c) 2026 the Zenith authors

Permission is hereby granted, free of charge, to any person obtaining a copy of this software and
associated documentation files (the "Software"), to deal in the Software without restriction,
including without limitation the rights to use, copy, modify, merge, publish, distribute,
sublicense, and/or sell copies of the Software, and to permit persons to whom the Software is
furnished to do so, subject to the following conditions:

The above copyright notice and this permission notice shall be included in all copies or
substantial portions of the Software.

THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR IMPLIED, INCLUDING BUT
NOT LIMITED TO THE WARRANTIES OF MERCHANTABILITY, FITNESS FOR A PARTICULAR PURPOSE AND
NONINFRINGEMENT. IN NO EVENT SHALL THE AUTHORS OR COPYRIGHT HOLDERS BE LIABLE FOR ANY CLAIM,
DAMAGES OR OTHER LIABILITY, WHETHER IN AN ACTION OF CONTRACT, TORT OR OTHERWISE, ARISING FROM, OUT
OF OR IN CONNECTION WITH THE SOFTWARE OR THE USE OR OTHER DEALINGS IN THE SOFTWARE.
*/
