'use strict';
// zenith.js -- Node.js bindings for Zenith through koffi (npm), which ships its native part.
//
// Loads libzenith.so (see findLibrary below: ZENITH_LIB, then a repository checkout's
// build/libzenith.so, then the system's libzenith.so.0) and wraps the pool, the reactor (TCP
// servers and outbound connections, timers, posted messages from worker threads, UDP and
// multicast, the backend choice), the data-plane engine (Arrow arrays built in C memory,
// WebAssembly plugins) and the NUMA helpers. Failing calls throw ZenithError (.code, .name) or
// one of its subclasses. README.md has the rules: ownership, threads, what callbacks may call.
//
// At load the binding checks its version against the library's (major.minor) and every struct
// layout it mirrors against the library's layout table (zenith_layout_find): a drifted layout
// throws LayoutMismatchError naming the first difference.

const koffi = require('koffi');
const fs = require('fs');
const path = require('path');

// ---- the library ------------------------------------------------------------------------------

/** Where libzenith.so is taken from, in this order: $ZENITH_LIB; the repository's
    build/libzenith.so when this file sits in a checkout (bindings/node); the dynamic loader's
    search (libzenith.so.0: `make install`, LD_LIBRARY_PATH). */
function findLibrary() {
  if (process.env.ZENITH_LIB) return process.env.ZENITH_LIB;
  const inRepo = path.join(__dirname, '..', '..', 'build', 'libzenith.so');
  if (path.basename(path.dirname(__dirname)) === 'bindings' && fs.existsSync(inRepo)) return inRepo;
  return 'libzenith.so.0';
}

const libPath = findLibrary();
let lib;
try {
  lib = koffi.load(libPath);
} catch (e) {
  throw new Error(`zenith: cannot load ${libPath} (set ZENITH_LIB to the path of libzenith.so): ${e.message}`);
}

const WRAPPED_VERSION = [0, 2];
const zenith_version = lib.func('long zenith_version()');
function version() {
  const v = Number(zenith_version());
  return [Math.floor(v / 1000000), Math.floor(v / 1000) % 1000, v % 1000];
}
{
  const [maj, min] = version();
  if (maj !== WRAPPED_VERSION[0] || min !== WRAPPED_VERSION[1])
    throw new Error(`zenith: library ${version().join('.')} does not match these bindings ${WRAPPED_VERSION.join('.')}`);
}

// ---- errors -----------------------------------------------------------------------------------

const errname = lib.func('const char *zenith_errname(int)');
const strerror = lib.func('const char *zenith_strerror(int)');
const errnoOf = lib.func('int zenith_errno(int)');
const numa_errname = lib.func('const char *zenith_numa_errname(int)');
const numa_strerror = lib.func('const char *zenith_numa_strerror(int)');

/** The codes, by name (ZENITH_E_FULL: -2, ...). */
const codes = Object.freeze({
  ZENITH_OK: 0, ZENITH_E_NULL: -1, ZENITH_E_FULL: -2, ZENITH_E_PLUGIN: -3, ZENITH_E_FFI: -4, ZENITH_E_INVAL: -5,
  ZENITH_E_NOMEM: -6, ZENITH_E_UNSUPPORTED: -7, ZENITH_E_STALE: -8, ZENITH_E_EXIST: -9, ZENITH_E_TIMEDOUT: -10,
  ZENITH_E_FOREIGN: -11, ZENITH_E_MISALIGNED: -12, ZENITH_E_DOUBLE_RELEASE: -13, ZENITH_E_MEMLOCK: -14,
  ZENITH_E_RANGE: -15, ZENITH_E_URING_DISABLED: -16, ZENITH_E_STATE: -17, ZENITH_E_CANCELED: -18,
  ZENITH_E_NOT_FOUND: -19,
});

/** A failed Zenith call: .code (the negative code), .name (zenith_errname: "ZENITH_E_FULL",
    "ECONNREFUSED"), .errno (the kernel errno of a ZENITH_ESYS code, else 0). Subclasses below
    let callers catch one kind (instanceof); ZenithError.from(code) picks the right one. */
class ZenithError extends Error {
  constructor(code, what = '', numa = false) {
    const name = numa ? numa_errname(code) : errname(code);
    super(`${what ? what + ': ' : ''}${name}: ${numa ? numa_strerror(code) : strerror(code)} (${code})`);
    this.code = code;
    this.name = name;
    this.numa = numa;
    this.errno = numa ? 0 : errnoOf(code);
  }
  static from(code, what = '') {
    const Cls = (code <= -1001 && code >= -5095) ? SystemError : (byCode.get(code) || ZenithError);
    return new Cls(code, what);
  }
}
/** ZENITH_E_FULL: a bounded queue or pool is full; nothing was done (retry later). */
class FullError extends ZenithError {}
/** ZENITH_E_STALE: the connection, timer, socket or plugin is gone (or the object is closed). */
class StaleError extends ZenithError {}
/** ZENITH_E_STATE: not allowed now (not started, stopped, or inside a callback). */
class StateError extends ZenithError {}
/** ZENITH_E_INVAL / ZENITH_E_RANGE / ZENITH_E_NULL: a bad argument. */
class InvalidArgumentError extends ZenithError {}
/** ZENITH_E_TIMEDOUT and ZENITH_E_CANCELED (an outbound connect's outcome). */
class TimeoutError extends ZenithError {}
class CanceledError extends ZenithError {}
/** ZENITH_E_NOT_FOUND (no such interface, membership, layout row). */
class NotFoundError extends ZenithError {}
/** ZENITH_E_EXIST (already joined, ...). */
class ExistsError extends ZenithError {}
/** A ZENITH_ESYS(errno) code: the kernel refused (.errno, .name = "ECONNREFUSED"). */
class SystemError extends ZenithError {}
/** ZENITH_E_PLUGIN / ZENITH_E_UNSUPPORTED from a plugin load: .reason is the library's one line. */
class PluginError extends ZenithError {
  constructor(code, what = '', reason = '') {
    super(code, what);
    this.reason = reason;
    if (reason) this.message += `: ${reason}`;
  }
}
/** The binding's struct layouts differ from the library's (code ZENITH_E_FFI). */
class LayoutMismatchError extends ZenithError {
  constructor(type, field, binding, library) {
    super(codes.ZENITH_E_FFI);
    const where = field ? `${type}.${field}` : type;
    const b = binding ? (field ? `offset ${binding.offset} size ${binding.size}` : `size ${binding.size}`) : 'no such field';
    const l = library ? (field ? `offset ${library.offset} size ${library.size}` : `size ${library.size}`)
      : (field ? 'no such field' : 'no such struct');
    this.message = `zenith: layout mismatch: ${where}: binding has ${b}, library has ${l}`;
    Object.assign(this, { type, field, binding, library });
  }
}
const byCode = new Map([
  [-2, FullError], [-8, StaleError], [-17, StateError], [-1, InvalidArgumentError], [-5, InvalidArgumentError],
  [-15, InvalidArgumentError], [-10, TimeoutError], [-18, CanceledError], [-19, NotFoundError], [-9, ExistsError],
]);

function check(rc, what) {
  if (rc < 0) throw ZenithError.from(rc, what);
  return rc;
}

// ---- struct mirrors ----------------------------------------------------------------------------

const u64s = (names) => Object.fromEntries(names.map((n) => [n, 'uint64_t']));

const Allocator = koffi.struct('zenith_allocator', { alloc: 'void *', free: 'void *', user: 'void *' });
const PoolConfig = koffi.struct('zenith_pool_config', {
  struct_size: 'uint32_t', buffer_count: 'uint32_t', buffer_size: 'size_t', cache_size: 'uint32_t', flags: 'uint32_t',
  numa_node: 'int32_t', reserved_: 'uint32_t', memory: 'void *', memory_size: 'size_t', allocator: Allocator,
});
const PoolStats = koffi.struct('zenith_pool_stats', u64s(['total', 'in_use', 'free', 'acquires', 'releases',
  'failed_acquires', 'rejected_releases', 'rejected_foreign', 'rejected_misaligned', 'rejected_double']));
const PoolInfo = koffi.struct('zenith_pool_info', {
  base: 'void *', buffer_size: 'size_t', buffer_count: 'uint32_t', cache_size: 'uint32_t', slab_size: 'size_t',
  metadata_size: 'size_t', flags: 'uint32_t', registered: 'uint32_t', numa_node: 'int32_t', reserved_: 'uint32_t',
});
const ServerConfig = koffi.struct('zenith_server_config', {
  struct_size: 'uint32_t', port: 'uint16_t', reserved_: 'uint16_t', address: 'const char *', flags: 'uint32_t',
  max_connections: 'uint32_t', buffer_size: 'uint32_t', buffer_count: 'uint32_t', recv_buffers: 'uint32_t',
  send_queue_max: 'uint32_t', zerocopy_min: 'uint32_t', idle_timeout_ms: 'uint32_t', sq_entries: 'uint32_t',
  backlog: 'uint32_t', cpu: 'uint32_t', numa_node: 'int32_t',
  max_timers: 'uint32_t', post_queue: 'uint32_t', send_reserve: 'uint32_t', backend: 'uint32_t', max_udp: 'uint32_t',
  udp_queue: 'uint32_t',
});
const BackendInfo = koffi.struct('zenith_backend_info', {
  struct_size: 'uint32_t', backend: 'int32_t', reason: 'int32_t', uring_errno: 'int32_t', uring_sysctl: 'int32_t',
  reserved_: 'uint32_t', name: 'const char *', why: 'const char *',
});
const ServerStats = koffi.struct('zenith_server_stats', u64s(['connections_open', 'connections_accepted',
  'connections_closed', 'connections_rejected', 'bytes_in', 'bytes_out', 'recv_buffer_exhausted', 'send_queue_full',
  'stale_completions', 'accept_errors', 'connection_errors', 'zerocopy_sends', 'cq_overflow']));
const ReactorStats = koffi.struct('zenith_reactor_stats', u64s(['listeners', 'connects_started',
  'connects_succeeded', 'connects_failed', 'connects_timed_out', 'connects_canceled', 'timers_armed', 'timers_fired',
  'timers_skipped', 'posts_run', 'posts_refused', 'wakeups', 'send_pool_empty', 'deliveries_held', 'misuse_refused',
  'loop_iterations']));
const ConnectConfig = koffi.struct('zenith_connect_config', {
  struct_size: 'uint32_t', port: 'uint16_t', local_port: 'uint16_t', address: 'const char *',
  local_address: 'const char *', flags: 'uint32_t', timeout_ms: 'uint32_t', keepalive_idle_s: 'uint32_t',
  keepalive_intvl_s: 'uint32_t', keepalive_count: 'uint32_t', user_timeout_ms: 'uint32_t', on_connect: 'void *',
  user: 'uintptr_t',
});
const Addr_ = koffi.struct('zenith_addr', { sa: koffi.array('uint8_t', 28), len: 'uint32_t' });
const UdpDatagram = koffi.struct('zenith_udp_datagram', {
  data: 'void *', len: 'uint32_t', orig_len: 'uint32_t', flags: 'uint32_t', kernel_drops: 'uint32_t', from: 'void *',
  ts_ns: 'int64_t', hw_ts_ns: 'int64_t',
});
const UdpConfig = koffi.struct('zenith_udp_config', {
  struct_size: 'uint32_t', flags: 'uint32_t', address: 'const char *', port: 'uint16_t', peer_port: 'uint16_t',
  rcvbuf: 'uint32_t', peer_address: 'const char *', sndbuf: 'uint32_t', reserved_: 'uint32_t', on_recv: 'void *',
  on_writable: 'void *', user: 'uintptr_t',
});
const UdpInfo = koffi.struct('zenith_udp_info', {
  struct_size: 'uint32_t', features: 'uint32_t', local: Addr_, peer: Addr_, recv_capacity: 'uint32_t',
  queued: 'uint32_t', ...u64s(['datagrams_in', 'bytes_in', 'datagrams_out', 'bytes_out', 'truncated', 'gro_batches',
    'gso_sends', 'recv_stalls', 'kernel_drops', 'recv_errors', 'send_full', 'send_errors']),
  last_error: 'int32_t', reserved_: 'uint32_t',
});
const ArrowArray = koffi.struct('ArrowArray', {
  length: 'int64_t', null_count: 'int64_t', offset: 'int64_t', n_buffers: 'int64_t', n_children: 'int64_t',
  buffers: 'void *', children: 'void *', dictionary: 'void *', release: 'void *', private_data: 'void *',
});
const ArrowSchema = koffi.struct('ArrowSchema', {
  format: 'void *', name: 'void *', metadata: 'void *', flags: 'int64_t', n_children: 'int64_t',
  children: 'void *', dictionary: 'void *', release: 'void *', private_data: 'void *',
});
const Batch_ = koffi.struct('zenith_batch', { source_id: 'uint64_t', seq_no: 'uint64_t', array: ArrowArray, schema: ArrowSchema });
const EngineStats = koffi.struct('zenith_engine_stats', u64s(['capacity', 'published', 'polled', 'released',
  'rejected_full', 'rejected_invalid', 'seq_gaps', 'seq_duplicates', 'sources', 'sources_untracked']));
const PluginConfig = koffi.struct('zenith_plugin_config', {
  struct_size: 'uint32_t', flags: 'uint32_t', instances: 'uint32_t', max_failures: 'uint32_t', fuel: 'uint64_t',
  fuel_per_row: 'uint64_t', max_rows: 'uint32_t', max_memory_pages: 'uint32_t', params: 'void *', params_len: 'size_t',
});
const PluginStats = koffi.struct('zenith_plugin_stats', {
  struct_size: 'uint32_t', disabled: 'uint32_t', instances: 'uint32_t', last_trap: 'int32_t',
  ...u64s(['calls', 'rows_in', 'rows_out', 'passed', 'rejected', 'selected', 'failures', 'traps', 'fuel_exhausted',
    'errors', 'skipped', 'fuel_used', 'waits', 'consecutive_failures']),
});

/** Every struct this binding mirrors, checked against the library at load. */
const MIRRORED = [Allocator, PoolConfig, PoolStats, PoolInfo, ServerConfig, BackendInfo, ServerStats, ReactorStats,
  ConnectConfig, Addr_, UdpDatagram, UdpConfig, UdpInfo, ArrowArray, ArrowSchema, Batch_, EngineStats, PluginConfig,
  PluginStats];

// ---- the layout check ----------------------------------------------------------------------------

const layout_count = lib.func('size_t zenith_layout_count()');
const layout_get = lib.func('int zenith_layout_get(size_t i, _Out_ const char **type, _Out_ const char **field, _Out_ size_t *offset, _Out_ size_t *size)');
const layout_find = lib.func('int zenith_layout_find(const char *type, const char *field, _Out_ size_t *offset, _Out_ size_t *size)');
const layout_hash = lib.func('uint64_t zenith_layout_hash()');

/** The library's row for type.field (field '' = the whole struct): { offset, size } or null. */
function layoutFind(type, field = '') {
  const o = [0], s = [0];
  const rc = layout_find(type, field, o, s);
  if (rc === codes.ZENITH_E_NOT_FOUND) return null;
  check(rc, 'zenith_layout_find');
  return { offset: Number(o[0]), size: Number(s[0]) };
}

/** The library's whole table: [{ type, field, offset, size }] (field '' = the whole struct). */
function layoutTable() {
  const rows = [];
  const n = Number(layout_count());
  for (let i = 0; i < n; i++) {
    const t = [null], f = [null], o = [0], s = [0];
    check(layout_get(i, t, f, o, s), 'zenith_layout_get');
    rows.push({ type: t[0], field: f[0] || '', offset: Number(o[0]), size: Number(s[0]) });
  }
  return rows;
}

/** A koffi struct type as a plain description: { type, size, fields: [{ name, offset, size }] }
    (name: the C type's name, for an anonymous koffi struct). */
function describe(kt, name = null) {
  const info = koffi.introspect(kt);
  return {
    type: name || info.name,
    size: info.size,
    fields: Object.values(info.members).map((m) => ({ name: m.name, offset: m.offset, size: koffi.sizeof(m.type) })),
  };
}

/** Checks struct descriptions (describe() results, or koffi struct types) against the library's
    table: each field's offset and size in the binding's order, then the whole size, then that
    the binding mirrors every field the library has. Throws LayoutMismatchError at the first
    difference; returns the number of rows checked. */
function checkLayouts(structs = MIRRORED) {
  let rows = 0;
  const table = layoutTable();
  for (const st of structs) {
    const d = st && st.fields ? st : describe(st);
    const whole = layoutFind(d.type, '');
    if (!whole) throw new LayoutMismatchError(d.type, '', { offset: 0, size: d.size }, null);
    for (const f of d.fields) {
      const lf = layoutFind(d.type, f.name);
      if (!lf || lf.offset !== f.offset || lf.size !== f.size)
        throw new LayoutMismatchError(d.type, f.name, { offset: f.offset, size: f.size }, lf);
      rows++;
    }
    if (whole.size !== d.size) throw new LayoutMismatchError(d.type, '', { offset: 0, size: d.size }, whole);
    rows++;
    const mine = new Set(d.fields.map((f) => f.name));
    for (const r of table)
      if (r.type === d.type && r.field !== '' && !mine.has(r.field))
        throw new LayoutMismatchError(d.type, r.field, null, { offset: r.offset, size: r.size });
  }
  return rows;
}
const layoutRowsChecked = checkLayouts();

// ---- pool ---------------------------------------------------------------------------------------

const pool_create = lib.func('void *zenith_pool_create(const zenith_pool_config *cfg, _Out_ int *err)');
const pool_destroy = lib.func('void zenith_pool_destroy(void *p)');
const pool_acquire = lib.func('void *zenith_pool_acquire(void *p)');
const pool_release = lib.func('int zenith_pool_release(void *p, void *buf)');
const pool_get_stats = lib.func('int zenith_pool_get_stats(void *p, _Out_ zenith_pool_stats *out)');
const pool_get_info = lib.func('int zenith_pool_get_info(void *p, _Out_ zenith_pool_info *out)');

class Pool {
  /** A buffer pool (owned: close() destroys it). Acquire and release from any thread of the
      process; the Pool object itself lives on the thread that made it. */
  constructor({ bufferSize = 0, bufferCount = 0 } = {}) {
    const err = [0];
    this.p = pool_create({ struct_size: koffi.sizeof(PoolConfig), buffer_size: bufferSize, buffer_count: bufferCount }, err);
    if (!this.p) throw ZenithError.from(err[0], 'zenith_pool_create');
    this.bufferSize = bufferSize || 4096;
  }
  /** A buffer (koffi pointer), or null when none is free. view(buf) gives its bytes. */
  acquire() { return pool_acquire(this.p); }
  view(buf) { return Buffer.from(koffi.view(buf, this.bufferSize)); }
  release(buf) { check(pool_release(this.p, buf), 'zenith_pool_release'); }
  stats() { const st = {}; check(pool_get_stats(this.p, st), 'zenith_pool_get_stats'); return st; }
  info() { const st = {}; check(pool_get_info(this.p, st), 'zenith_pool_get_info'); return st; }
  close() { if (this.p) { pool_destroy(this.p); this.p = null; } }
}

// ---- addresses ---------------------------------------------------------------------------------

const addr_set = lib.func('int zenith_addr_set(_Out_ uint8_t *out, const char *ip, uint16_t port)');
const addr_format = lib.func('int zenith_addr_format(const void *a, _Out_ uint8_t *buf, size_t cap)');
const addr_port = lib.func('uint16_t zenith_addr_port(const void *a)');

// memcpy from a C address (a uintptr_t) into a fresh Buffer: the fast way to copy what a
// callback lends (koffi.view makes an external ArrayBuffer per call, about 3 us)
const libc = koffi.load('libc.so.6');
const memcpy_from = libc.func('uintptr_t memcpy(uint8_t *dst, uintptr_t src, size_t n)');
function copyFrom(addr, n) {
  const b = Buffer.allocUnsafe(n);
  if (n) memcpy_from(b, addr, n);
  return b;
}

function formatAddr(p) {
  const buf = Buffer.alloc(64);
  const n = check(addr_format(p, buf, buf.length), 'zenith_addr_format');
  return buf.toString('latin1', 0, n);
}
function splitAddr(text, port) {
  const address = text.startsWith('[') ? text.slice(1, text.lastIndexOf(']')) : text.slice(0, text.lastIndexOf(':'));
  return { address, port, text };
}

/** A socket address (zenith_addr, 32 bytes): new Addr('239.1.2.3', 5001). Make it once and
    reuse it for many sends. Any thread. */
class Addr {
  constructor(address, port) {
    this.buf = Buffer.alloc(koffi.sizeof(Addr_));
    check(addr_set(this.buf, address, port), `zenith_addr_set(${address})`);
    this.address = address;
    this.port = port;
  }
  toString() { return formatAddr(this.buf); }
}

// ---- the reactor ---------------------------------------------------------------------------------

const AcceptFn = koffi.proto('void zenith_accept_fn(uintptr_t user, uint64_t conn)');
// Pointers the callbacks receive are taken as integers (uintptr_t: the same register on LP64
// Linux) and copied with memcpy: a koffi pointer object per call costs about 1 us.
const DataFn = koffi.proto('void zenith_data_fn(uintptr_t user, uint64_t conn, uintptr_t data, size_t len)');
const CloseFn = koffi.proto('void zenith_close_fn(uintptr_t user, uint64_t conn, int reason)');
const DrainFn = koffi.proto('void zenith_drain_fn(uintptr_t user, uint64_t conn)');
const EofFn = koffi.proto('void zenith_eof_fn(uintptr_t user, uint64_t conn)');
const ConnectFn = koffi.proto('void zenith_connect_fn(uintptr_t user, uint64_t conn, int status)');
const TimerFn = koffi.proto('void zenith_timer_fn(uintptr_t user, uint64_t timer)');
const PostFn = koffi.proto('void zenith_post_fn(uintptr_t user, uintptr_t data, size_t len)');
const UdpRecvFn = koffi.proto('void zenith_udp_recv_fn(uintptr_t user, uint64_t sock, uintptr_t d)');
const UdpWritableFn = koffi.proto('void zenith_udp_writable_fn(uintptr_t user, uint64_t sock)');

const server_create = lib.func('void *zenith_server_create(const zenith_server_config *cfg, _Out_ int *err)');
const server_set_callbacks = lib.func('int zenith_server_set_callbacks(void *s, zenith_accept_fn *a, zenith_data_fn *d, zenith_close_fn *c, uintptr_t user)');
const server_set_drain = lib.func('int zenith_server_set_drain_callback(void *s, zenith_drain_fn *f)');
const server_set_eof = lib.func('int zenith_server_set_eof_callback(void *s, zenith_eof_fn *f)');
const server_start = lib.func('int zenith_server_start(void *s)');
const server_run_once = lib.func('int zenith_server_run_once(void *s, int timeout_ms)');
const server_stop = lib.func('void zenith_server_stop(void *s)');
const server_stopped = lib.func('int zenith_server_stopped(void *s)');
const server_shutdown = lib.func('int zenith_server_shutdown(void *s, int deadline_ms)');
const server_destroy = lib.func('void zenith_server_destroy(void *s)');
const server_listen = lib.func('int zenith_server_listen(void *s, const char *address, uint16_t port, uint32_t flags)');
const server_connect = lib.func('int zenith_server_connect(void *s, const zenith_connect_config *cfg, _Out_ uint64_t *out)');
const server_timer_start = lib.func('int zenith_server_timer_start(void *s, uint32_t delay, uint32_t period, zenith_timer_fn *fn, uintptr_t user, _Out_ uint64_t *out)');
const server_timer_stop = lib.func('int zenith_server_timer_stop(void *s, uint64_t timer)');
const server_post = lib.func('int zenith_server_post(void *s, zenith_post_fn *fn, uintptr_t user, const uint8_t *data, size_t len)');
const server_send = lib.func('int zenith_server_send(void *s, uint64_t conn, const uint8_t *data, size_t len)');
const server_close = lib.func('int zenith_server_close(void *s, uint64_t conn, int flags)');
const server_pause = lib.func('int zenith_server_pause(void *s, uint64_t conn)');
const server_resume = lib.func('int zenith_server_resume(void *s, uint64_t conn)');
const server_queued = lib.func('int zenith_server_queued(void *s, uint64_t conn)');
const server_port = lib.func('uint16_t zenith_server_port(void *s)');
const server_get_stats = lib.func('int zenith_server_get_stats(void *s, _Out_ zenith_server_stats *out)');
const server_get_reactor_stats = lib.func('int zenith_server_get_reactor_stats(void *s, _Out_ zenith_reactor_stats *out)');
const server_backend_info = lib.func('int zenith_server_backend_info(void *s, _Inout_ zenith_backend_info *out)');

const udp_open = lib.func('int zenith_udp_open(void *s, const zenith_udp_config *cfg, _Out_ uint64_t *out)');
const udp_close = lib.func('int zenith_udp_close(void *s, uint64_t sock)');
const udp_send = lib.func('int zenith_udp_send(void *s, uint64_t sock, const uint8_t *data, size_t len, const uint8_t *to)');
const udp_join = lib.func('int zenith_udp_join(void *s, uint64_t sock, const char *group, const char *source, const char *ifname)');
const udp_leave = lib.func('int zenith_udp_leave(void *s, uint64_t sock, const char *group, const char *source, const char *ifname)');
const udp_mcast_opts = lib.func('int zenith_udp_multicast_send_opts(void *s, uint64_t sock, const char *ifname, int ttl, int loop)');
const udp_get_info = lib.func('int zenith_udp_get_info(void *s, uint64_t sock, _Inout_ zenith_udp_info *out)');
const udp_port = lib.func('uint16_t zenith_udp_port(void *s, uint64_t sock)');

const BACKENDS = { auto: 0, io_uring: 1, epoll: 2 };
const BACKEND_NAMES = ['auto', 'io_uring', 'epoll'];
const BACKEND_REASONS = ['default', 'config', 'env', 'fallback'];
const SERVER_FLAGS = { reusePort: 1 << 0, noNodelay: 1 << 1, pinCpu: 1 << 2, sqpoll: 1 << 3, noZerocopy: 1 << 4,
  zerocopyLoopback: 1 << 5, numaNode: 1 << 6, noListen: 1 << 7, noQueuePause: 1 << 8 };
const UDP_FLAGS = { reuseAddr: 1 << 0, reusePort: 1 << 1, v6Only: 1 << 2, gro: 1 << 3, noTimestamps: 1 << 4,
  hwTimestamps: 1 << 5, broadcast: 1 << 6 };
const CLOSE = { FLUSH: 0, ABORT: 1, WRITE: 2 };
const POST_MAX = 40;

const snake = (k) => k.replace(/[A-Z]/g, (c) => '_' + c.toLowerCase());
/** Fills a config struct object from camelCase (or snake_case) options; boolean options named in
    `flags` set their bit; unknown options are a TypeError (a typo must not pass unnoticed). */
function configOf(kt, opts, flags, skip = []) {
  const fields = new Set(Object.keys(koffi.introspect(kt).members));
  const out = { struct_size: koffi.sizeof(kt) };
  for (const [k, v] of Object.entries(opts)) {
    if (v === undefined || skip.includes(k)) continue;
    if (flags && k in flags) { if (v) out.flags = (out.flags || 0) | flags[k]; continue; }
    const f = fields.has(k) ? k : snake(k);
    if (!fields.has(f) || f === 'struct_size' || f.endsWith('_')) throw new TypeError(`zenith: unknown option ${k}`);
    out[f] = f === 'flags' ? (out.flags || 0) | v : v;
  }
  return out;
}

const asId = (x) => (typeof x === 'bigint' ? x : BigInt(x));

/** Where a worker thread posts to: a plain object (server and callback addresses, a token, and
    a SharedArrayBuffer that tells whether the server is still open), for postMessage/workerData.
    Make one with server.postTarget(fn); use it with new Poster(target) in any thread. */
const post_raw = lib.func('int zenith_server_post(uintptr_t s, uintptr_t fn, uintptr_t user, const uint8_t *data, size_t len)');

class Poster {
  constructor(target) {
    if (!target || typeof target.server !== 'bigint' || !(target.state instanceof SharedArrayBuffer))
      throw new TypeError('zenith: Poster needs a target from server.postTarget()');
    this.t = target;
    this.state = new Int32Array(target.state); // [0] closed, [1] posts in flight
  }
  /** Posts a copy of data (Buffer/Uint8Array, at most 40 bytes; empty allowed) to the server's
      loop: false when the queue is full (ZENITH_E_FULL: nothing queued; retry), true when queued.
      Throws StaleError once the server is closed, ZenithError for anything else. Any thread. */
  tryPost(data) {
    const st = this.state;
    Atomics.add(st, 1, 1);
    try {
      if (Atomics.load(st, 0) !== 0) throw ZenithError.from(codes.ZENITH_E_STALE, 'zenith_server_post (server closed)');
      const len = data ? data.length : 0;
      const rc = post_raw(this.t.server, this.t.fn, this.t.user, len ? data : null, len);
      if (rc === codes.ZENITH_E_FULL) return false;
      check(rc, 'zenith_server_post');
      return true;
    } finally {
      Atomics.sub(st, 1, 1);
    }
  }
  /** As tryPost, but a full queue throws FullError. */
  post(data) {
    if (!this.tryPost(data)) throw ZenithError.from(codes.ZENITH_E_FULL, 'zenith_server_post');
  }
}

/** A UDP socket on a server's loop (server.udpOpen). Every method: the server's thread. */
class UdpSocket {
  constructor(server, id, token) { this.server = server; this.id = id; this.token = token; }
  get port() { return udp_port(this.server.live(), this.id); }
  /** Queues a copy of data as one datagram to `to` (an Addr, or address and port; nothing on a
      connected socket). Throws FullError when the queue is full (onWritable follows). */
  send(data, to, port) {
    const a = to === undefined || to === null ? null : (to instanceof Addr ? to : new Addr(to, port));
    check(udp_send(this.server.live(), this.id, data, data.length, a ? a.buf : null), 'zenith_udp_send');
  }
  join(group, { source = null, ifname = null } = {}) {
    check(udp_join(this.server.live(), this.id, group, source, ifname), `zenith_udp_join(${group})`);
  }
  leave(group, { source = null, ifname = null } = {}) {
    check(udp_leave(this.server.live(), this.id, group, source, ifname), `zenith_udp_leave(${group})`);
  }
  /** Multicast sender options: outgoing interface, TTL (0-255), loopback; undefined leaves one. */
  multicastSendOpts({ ifname = null, ttl = -1, loop = -1 } = {}) {
    const l = loop === true ? 1 : loop === false ? 0 : loop;
    check(udp_mcast_opts(this.server.live(), this.id, ifname, ttl, l), 'zenith_udp_multicast_send_opts');
  }
  /** zenith_udp_info with local/peer as strings ("127.0.0.1:5000"). */
  info() {
    const mem = koffi.alloc(UdpInfo, 1);
    try {
      koffi.encode(mem, 'uint32_t', koffi.sizeof(UdpInfo));
      check(udp_get_info(this.server.live(), this.id, mem), 'zenith_udp_get_info');
      const i = koffi.decode(mem, UdpInfo);
      const bytes = Buffer.from(koffi.view(mem, koffi.sizeof(UdpInfo)));
      const at = (f) => bytes.subarray(koffi.offsetof(UdpInfo, f), koffi.offsetof(UdpInfo, f) + koffi.sizeof(Addr_));
      i.local = formatAddr(at('local'));
      i.peer = i.peer.len ? formatAddr(at('peer')) : null;
      return i;
    } finally { koffi.free(mem); }
  }
  close() {
    if (this.id === 0n) return;
    check(udp_close(this.server.live(), this.id), 'zenith_udp_close');
    this.server.udp.delete(this.token);
    this.id = 0n;
  }
}

/** A timer (server.setTimer): stop() disarms it. */
class Timer {
  constructor(server, id, token) { this.server = server; this.id = id; this.token = token; }
  /** Disarms it; throws StaleError when it already fired (one-shot) or was stopped. */
  stop() {
    this.server.timers.delete(this.token);
    check(server_timer_stop(this.server.live(), this.id), 'zenith_server_timer_stop');
  }
}

class Server {
  /** A reactor: TCP listeners and connections, outbound connects, timers, posted messages and
      UDP sockets on one loop, driven by runOnce() on the thread that calls start().
      options: camelCase zenith_server_config fields (port, address, bufferSize, bufferCount,
      maxConnections, maxTimers, postQueue, maxUdp, udpQueue, ...), backend ('auto' | 'io_uring'
      | 'epoll'), and flags as booleans (noListen, reusePort, noQueuePause, ...).
      handlers: { onData(server, conn, buffer) (required), onAccept(server, conn),
      onClose(server, conn, reason), onDrain(server, conn), onEof(server, conn) }; buffer is a
      copy. Connection ids are BigInts. Callbacks run inside runOnce(); they may call everything
      but runOnce/start/close (those throw StateError there). */
  constructor(options = {}, handlers = {}) {
    if (!handlers.onData) throw ZenithError.from(codes.ZENITH_E_NULL, 'Server needs onData');
    const { backend = 'auto', ...rest } = options;
    const noListen = !!rest.noListen;
    const cfg = configOf(ServerConfig, { address: noListen ? undefined : '127.0.0.1', port: 0, ...rest }, SERVER_FLAGS);
    const b = typeof backend === 'number' ? backend : BACKENDS[backend];
    if (b === undefined) throw new TypeError(`zenith: unknown backend ${backend} (auto, io_uring, epoll)`);
    cfg.backend = b;
    const err = [0];
    this.s = server_create(cfg, err);
    if (!this.s) throw ZenithError.from(err[0], 'zenith_server_create');
    this.handlers = handlers;
    this.error = null;
    this.inLoop = false;
    this.conns = new Map();   // conn id -> per-connection handlers (outbound connects)
    this.connects = new Map(); // token -> connect handlers, until on_connect
    this.timers = new Map();  // token -> { fn, periodic }
    this.posts = new Map();   // token -> { fn, once }
    this.udp = new Map();     // token -> { sock, onRecv, onWritable }
    this.nextToken = 1;
    this.postState = new SharedArrayBuffer(8);
    const g = (f) => (...args) => { try { f(...args); } catch (e) { this.fail(e); } };
    const on = (name, conn, ...args) => {
      const per = this.conns.get(conn);
      const h = per && per[name] ? per[name] : this.handlers[name];
      if (h) h(this, conn, ...args);
    };
    // registered callbacks stay alive until close() unregisters them (after destroy)
    this.cb = {
      accept: koffi.register(g((_u, conn) => on('onAccept', asId(conn))), koffi.pointer(AcceptFn)),
      data: koffi.register(g((_u, conn, data, len) =>
        on('onData', asId(conn), copyFrom(data, Number(len)))), koffi.pointer(DataFn)),
      close: koffi.register(g((_u, conn, reason) => {
        const id = asId(conn);
        try { on('onClose', id, reason); } finally { this.conns.delete(id); }
      }), koffi.pointer(CloseFn)),
      drain: koffi.register(g((_u, conn) => on('onDrain', asId(conn))), koffi.pointer(DrainFn)),
      eof: koffi.register(g((_u, conn) => on('onEof', asId(conn))), koffi.pointer(EofFn)),
      connect: koffi.register(g((user, conn, status) => {
        const token = Number(user);
        const h = this.connects.get(token);
        this.connects.delete(token);
        const id = asId(conn);
        if (status !== 0) this.conns.delete(id);
        if (h && h.onConnect) h.onConnect(this, id, status, status === 0 ? null : ZenithError.from(status, 'connect'));
      }), koffi.pointer(ConnectFn)),
      timer: koffi.register(g((user, id) => {
        const t = this.timers.get(Number(user));
        if (!t) return;
        if (!t.periodic) this.timers.delete(Number(user));
        t.fn(this, t.timer);
      }), koffi.pointer(TimerFn)),
      post: koffi.register(g((user, data, len) => {
        const p = this.posts.get(Number(user));
        if (!p) return;
        if (p.once) this.posts.delete(Number(user));
        p.fn(this, copyFrom(data, Number(len)));
      }), koffi.pointer(PostFn)),
      udpRecv: koffi.register(g((user, _sock, d) => {
        const u = this.udp.get(Number(user));
        if (u && u.onRecv) u.onRecv(u.sock, datagramOf(d));
      }), koffi.pointer(UdpRecvFn)),
      udpWritable: koffi.register(g((user) => {
        const u = this.udp.get(Number(user));
        if (u && u.onWritable) u.onWritable(u.sock);
      }), koffi.pointer(UdpWritableFn)),
    };
    try {
      check(server_set_callbacks(this.s, this.cb.accept, this.cb.data, this.cb.close, 0), 'zenith_server_set_callbacks');
      if (handlers.onDrain) check(server_set_drain(this.s, this.cb.drain), 'zenith_server_set_drain_callback');
      if (handlers.onEof) check(server_set_eof(this.s, this.cb.eof), 'zenith_server_set_eof_callback');
    } catch (e) {
      this.close();
      throw e;
    }
  }
  fail(e) {
    if (!this.error) this.error = e;
    else (this.error.suppressed = this.error.suppressed || []).push(e);
  }
  live() {
    if (!this.s) throw ZenithError.from(codes.ZENITH_E_STALE, 'server closed');
    return this.s;
  }
  token() { return this.nextToken++; }
  /** The first listener's port (0 without one). */
  get port() { return server_port(this.live()); }
  start() { check(server_start(this.live()), 'zenith_server_start'); }
  /** Processes what is ready, waiting up to timeoutMs (0: never sleeps; < 0: until something
      happens); returns the events handled. Every callback that was due runs; the first
      exception one of them threw is rethrown here (later ones in .suppressed). */
  runOnce(timeoutMs = 0) {
    if (this.inLoop) throw ZenithError.from(codes.ZENITH_E_STATE, 'runOnce inside a callback');
    this.inLoop = true;
    let rc;
    try { rc = server_run_once(this.live(), timeoutMs); } finally { this.inLoop = false; }
    if (this.error) { const e = this.error; this.error = null; throw e; }
    return check(rc, 'zenith_server_run_once');
  }
  /** Runs the loop until pred() is true or timeoutMs passed: true if pred() held. */
  runUntil(pred, timeoutMs = 5000, stepMs = 1) {
    const end = Date.now() + timeoutMs;
    while (!pred()) {
      if (Date.now() > end) return false;
      this.runOnce(stepMs);
    }
    return true;
  }
  stopped() { return server_stopped(this.live()) !== 0; }
  /** Asks the loop to stop (runOnce returns promptly from then on). */
  stop() { server_stop(this.live()); }
  /** Adds a TCP listener; returns its port. */
  listen(address = '127.0.0.1', port = 0, { reusePort = false } = {}) {
    return check(server_listen(this.live(), address, port, reusePort ? 1 : 0), 'zenith_server_listen');
  }
  /** Starts an outbound connection; returns its id at once. onConnect(server, conn, status,
      error) runs once from runOnce (status 0, or the failure's code with error a ZenithError).
      onData / onClose / onDrain / onEof given here serve this connection instead of the
      server's. options: address, port (numeric only), timeoutMs, localAddress, localPort,
      noNodelay, keepalive ({ idleS, intervalS, count }), userTimeoutMs. */
  connect({ address, port, timeoutMs, localAddress, localPort, noNodelay = false, keepalive, userTimeoutMs,
    onConnect, onData, onClose, onDrain, onEof } = {}) {
    const token = this.token();
    const cfg = {
      struct_size: koffi.sizeof(ConnectConfig), address, port, timeout_ms: timeoutMs || 0,
      local_address: localAddress || null, local_port: localPort || 0,
      flags: (noNodelay ? 1 : 0) | (keepalive ? 2 : 0), user_timeout_ms: userTimeoutMs || 0,
      keepalive_idle_s: (keepalive && keepalive.idleS) || 0, keepalive_intvl_s: (keepalive && keepalive.intervalS) || 0,
      keepalive_count: (keepalive && keepalive.count) || 0, on_connect: this.cb.connect, user: token,
    };
    const out = [0];
    check(server_connect(this.live(), cfg, out), `zenith_server_connect(${address}:${port})`);
    const id = asId(out[0]);
    this.connects.set(token, { onConnect });
    if (onData || onClose || onDrain || onEof) {
      if ((onDrain && !this.handlers.onDrain) || (onEof && !this.handlers.onEof))
        throw new TypeError('zenith: per-connection onDrain/onEof need the server-level handler set too');
      this.conns.set(id, { onData, onClose, onDrain, onEof });
    }
    return id;
  }
  /** fn(server, timer) after delayMs, then every periodMs if given. Returns a Timer. */
  setTimer(delayMs, fn, periodMs = 0) {
    if (typeof fn !== 'function') throw new TypeError('zenith: setTimer needs a function');
    const token = this.token();
    const out = [0];
    check(server_timer_start(this.live(), delayMs, periodMs, this.cb.timer, token, out), 'zenith_server_timer_start');
    const t = new Timer(this, asId(out[0]), token);
    this.timers.set(token, { fn, periodic: periodMs > 0, timer: t });
    return t;
  }
  /** Posts fn(server, data) to run on the loop (from this thread: from a callback, or before
      start). data: at most 40 bytes, copied. Throws FullError when the queue is full. */
  post(fn, data = null) {
    const token = this.token();
    this.posts.set(token, { fn, once: true });
    const len = data ? data.length : 0;
    const rc = server_post(this.live(), this.cb.post, token, len ? data : null, len);
    if (rc < 0) { this.posts.delete(token); check(rc, 'zenith_server_post'); }
  }
  /** A target for posts from worker threads: fn(server, data) runs on this loop for each
      message posted to it (new Poster(target).post(data) in the worker). Send the returned
      object with postMessage or workerData. Posts after close() throw StaleError. */
  postTarget(fn) {
    const token = this.token();
    this.posts.set(token, { fn, once: false });
    return { server: koffi.address(this.live()), fn: koffi.address(this.cb.post), user: BigInt(token),
      state: this.postState };
  }
  send(conn, buf) { return check(server_send(this.live(), conn, buf, buf.length), 'zenith_server_send'); }
  closeConn(conn, abort = false) {
    const flags = typeof abort === 'number' ? abort : abort ? CLOSE.ABORT : CLOSE.FLUSH;
    check(server_close(this.live(), conn, flags), 'zenith_server_close');
  }
  pause(conn) { check(server_pause(this.live(), conn), 'zenith_server_pause'); }
  resume(conn) { check(server_resume(this.live(), conn), 'zenith_server_resume'); }
  queued(conn) { return check(server_queued(this.live(), conn), 'zenith_server_queued'); }
  stats() { const st = {}; check(server_get_stats(this.live(), st), 'zenith_server_get_stats'); return st; }
  reactorStats() { const st = {}; check(server_get_reactor_stats(this.live(), st), 'zenith_server_get_reactor_stats'); return st; }
  /** { backend: 'io_uring' | 'epoll', reason: 'default' | 'config' | 'env' | 'fallback',
      uringErrno, uringSysctl, why } */
  backendInfo() {
    const bi = { struct_size: koffi.sizeof(BackendInfo) };
    check(server_backend_info(this.live(), bi), 'zenith_server_backend_info');
    return { backend: bi.name, backendCode: bi.backend, reason: BACKEND_REASONS[bi.reason] || String(bi.reason),
      uringErrno: bi.uring_errno, uringSysctl: bi.uring_sysctl, why: bi.why };
  }
  /** Opens a UDP socket on this loop. options: address, port, peerAddress, peerPort, rcvbuf,
      sndbuf, flags as booleans (reuseAddr, reusePort, v6Only, gro, noTimestamps, hwTimestamps,
      broadcast), onRecv(sock, datagram), onWritable(sock). datagram: { data (a copy), from
      { address, port, text }, origLen, truncated, flags, tsNs, hwTsNs (BigInt), kernelDrops }. */
  udpOpen({ onRecv, onWritable, ...opts } = {}) {
    const token = this.token();
    const cfg = configOf(UdpConfig, opts, UDP_FLAGS);
    cfg.on_recv = onRecv ? this.cb.udpRecv : null;
    cfg.on_writable = onWritable ? this.cb.udpWritable : null;
    cfg.user = token;
    const out = [0];
    check(udp_open(this.live(), cfg, out), 'zenith_udp_open');
    const sock = new UdpSocket(this, asId(out[0]), token);
    this.udp.set(token, { sock, onRecv, onWritable });
    return sock;
  }
  /** Shuts down (flush, at most deadlineMs), destroys the reactor and unregisters the callbacks.
      Not inside a callback (StateError). Waits for worker posts in flight; later ones throw. */
  close(deadlineMs = 1000) {
    if (!this.s) return;
    if (this.inLoop) throw ZenithError.from(codes.ZENITH_E_STATE, 'Server.close inside a callback');
    const st = new Int32Array(this.postState);
    Atomics.store(st, 0, 1);
    while (Atomics.load(st, 1) !== 0); // a worker's post in flight: one C call
    server_shutdown(this.s, deadlineMs);
    server_destroy(this.s);
    this.s = null;
    for (const cb of Object.values(this.cb)) koffi.unregister(cb);
    this.conns.clear(); this.connects.clear(); this.timers.clear(); this.posts.clear(); this.udp.clear();
    if (this.error) { const e = this.error; this.error = null; throw e; }
  }
}

const DG = Object.fromEntries(Object.values(koffi.introspect(UdpDatagram).members).map((m) => [m.name, m.offset]));
const DG_SIZE = koffi.sizeof(UdpDatagram);
const ADDR_SIZE = koffi.sizeof(Addr_);

/** The datagram at address d (zenith_udp_datagram, lent for the call) as a JS object of copies. */
function datagramOf(d) {
  const h = copyFrom(d, DG_SIZE);
  const len = h.readUInt32LE(DG.len);
  const flags = h.readUInt32LE(DG.flags);
  const from = copyFrom(h.readBigUInt64LE(DG.from), ADDR_SIZE);
  return {
    data: copyFrom(h.readBigUInt64LE(DG.data), len),
    origLen: h.readUInt32LE(DG.orig_len),
    flags,
    truncated: (flags & 1) !== 0,
    from: splitAddr(formatAddr(from), addr_port(from)),
    tsNs: h.readBigInt64LE(DG.ts_ns),
    hwTsNs: h.readBigInt64LE(DG.hw_ts_ns),
    kernelDrops: h.readUInt32LE(DG.kernel_drops),
  };
}

// ---- Arrow C Data Interface and the engine ----------------------------------------------------------

const ReleaseArrayFn = koffi.proto('void zenith_js_release_array(void *a)');
const ReleaseSchemaFn = koffi.proto('void zenith_js_release_schema(void *s)');

const engine_create = lib.func('void *zenith_engine_create(uint32_t capacity)');
const engine_publish = lib.func('int zenith_engine_publish(void *e, void *a, void *s, uint64_t src, uint64_t seq)');
const engine_poll = lib.func('int zenith_engine_poll(void *e, void *out)');
const engine_destroy = lib.func('void zenith_engine_destroy(void *e)');
const engine_load_plugin = lib.func('int zenith_engine_load_plugin(void *e, const uint8_t *wasm, size_t len)');
const load_plugin_ex = lib.func('int zenith_load_plugin_ex(void *e, const uint8_t *wasm, size_t len, const zenith_plugin_config *cfg, _Out_ uint8_t *reason, size_t cap)');
const plugin_last_error = lib.func('int zenith_plugin_last_error(void *e, _Out_ uint8_t *buf, size_t cap)');
const unload_plugin = lib.func('int zenith_unload_plugin(void *e, int id)');
const plugin_get_stats = lib.func('int zenith_plugin_get_stats(void *e, int id, _Inout_ zenith_plugin_stats *out)');
const plugin_result = lib.func('int zenith_plugin_result(void *e, int id, _Out_ double *out, size_t n)');
const poll_selection = lib.func('int zenith_poll_selection(void *e, void *out, _Out_ uint8_t *bits, size_t cap, _Out_ int64_t *selected)');
const zbatch_release = lib.func('int zenith_batch_release(void *e, void *b)');
const zstats = lib.func('int zenith_engine_get_stats(void *e, _Out_ zenith_engine_stats *out)');

/** The C functions by their C names, for callers that want them raw (koffi functions): the
    engine's zenith_engine_* names and the design's aliases (zenith_init, zenith_publish,
    zenith_poll, zenith_load_plugin, zenith_free). */
const raw = {
  zenith_version, zenith_errname: errname, zenith_strerror: strerror,
  zenith_layout_count: layout_count, zenith_layout_get: layout_get, zenith_layout_find: layout_find,
  zenith_layout_hash: layout_hash,
  zenith_engine_create: engine_create, zenith_engine_publish: engine_publish, zenith_engine_poll: engine_poll,
  zenith_engine_destroy: engine_destroy, zenith_engine_load_plugin: engine_load_plugin,
  zenith_init: lib.func('void *zenith_init(uint32_t capacity)'),
  zenith_publish: lib.func('int zenith_publish(void *e, void *a, void *s, uint64_t src, uint64_t seq)'),
  zenith_poll: lib.func('int zenith_poll(void *e, void *out)'),
  zenith_load_plugin: lib.func('int zenith_load_plugin(void *e, const uint8_t *wasm, size_t len)'),
  zenith_free: lib.func('void zenith_free(void *e)'),
  zenith_server_post: server_post, zenith_server_run_once: server_run_once,
};

// C memory of arrays built here, kept until their release callback runs (keyed by address)
const held = new Map();
const released = { arrays: 0, schemas: 0 };
const RELEASE_OFF_A = koffi.offsetof(ArrowArray, 'release');
const RELEASE_OFF_S = koffi.offsetof(ArrowSchema, 'release');
const releaseArray = koffi.register((a) => {
  const mem = held.get(koffi.address(a));
  held.delete(koffi.address(a));
  released.arrays++;
  koffi.encode(a, RELEASE_OFF_A, 'void *', null);
  if (mem) for (const m of mem) koffi.free(m);
}, koffi.pointer(ReleaseArrayFn));
const releaseSchema = koffi.register((s) => {
  const mem = held.get(koffi.address(s));
  held.delete(koffi.address(s));
  released.schemas++;
  koffi.encode(s, RELEASE_OFF_S, 'void *', null);
  if (mem) for (const m of mem) koffi.free(m);
}, koffi.pointer(ReleaseSchemaFn));

function cString(text) {
  const bytes = Buffer.from(text + '\0', 'utf8');
  const mem = koffi.alloc('uint8_t', bytes.length);
  koffi.encode(mem, 'uint8_t', [...bytes], bytes.length);
  return mem;
}

/** A primitive Arrow array ("l" int64, "g" float64) and its schema in C memory. null (or
    undefined) values become nulls (a validity bitmap). name: the schema's name (a plugin finds
    its columns by it). */
function primitiveArray(format, ctype, values, name) {
  const n = values.length;
  const data = koffi.alloc(ctype, Math.max(n, 1));
  const isNull = (v) => v === null || v === undefined;
  const nulls = values.filter(isNull).length;
  const conv = ctype === 'int64_t' ? (v) => (isNull(v) ? 0n : BigInt(v)) : (v) => (isNull(v) ? 0 : Number(v));
  if (n) koffi.encode(data, ctype, values.map(conv), n);
  const mem = [data];
  let validity = null;
  if (nulls) {
    const bits = new Array((n + 7) >> 3).fill(0);
    values.forEach((v, i) => { if (!isNull(v)) bits[i >> 3] |= 1 << (i & 7); });
    validity = koffi.alloc('uint8_t', bits.length);
    koffi.encode(validity, 'uint8_t', bits, bits.length);
    mem.push(validity);
  }
  const bufs = koffi.alloc('void *', 2);
  koffi.encode(bufs, 'void *', [validity, data], 2);
  mem.push(bufs);
  const fmt = cString(format);
  const smem = [fmt];
  const nm = name ? cString(name) : null;
  if (nm) smem.push(nm);
  const array = koffi.alloc(ArrowArray, 1);
  const schema = koffi.alloc(ArrowSchema, 1);
  koffi.encode(array, ArrowArray, {
    length: n, null_count: nulls, offset: 0, n_buffers: 2, n_children: 0, buffers: bufs,
    children: null, dictionary: null, release: releaseArray, private_data: null,
  });
  koffi.encode(schema, ArrowSchema, {
    format: fmt, name: nm, metadata: null, flags: 2, n_children: 0, children: null, dictionary: null,
    release: releaseSchema, private_data: null,
  });
  held.set(koffi.address(array), mem);
  held.set(koffi.address(schema), smem);
  return { array, schema };
}

/** An Arrow int64 ("l") array and its schema in C memory: { array, schema } pointers. The
    structs themselves are freed with freeArrow() once they read as released (after publish,
    or after releasing them yourself). */
function int64Array(values, { name = null } = {}) { return primitiveArray('l', 'int64_t', values, name); }
/** An Arrow float64 ("g") array, as int64Array. */
function float64Array(values, { name = null } = {}) { return primitiveArray('g', 'double', values, name); }

function isReleased(x) {
  return koffi.decode(x.array, ArrowArray).release === null && koffi.decode(x.schema, ArrowSchema).release === null;
}

/** Releases x if still ours (calls its callbacks), then frees the two structs. */
function freeArrow(x) {
  const a = koffi.decode(x.array, ArrowArray);
  const s = koffi.decode(x.schema, ArrowSchema);
  if (a.release !== null) koffi.call(a.release, ReleaseArrayFn, x.array);
  if (s.release !== null) koffi.call(s.release, ReleaseSchemaFn, x.schema);
  koffi.free(x.array);
  koffi.free(x.schema);
}

/** A polled batch; release() it once. With pollSelection: .selected is -1 (every row passes)
    or the count of rows that pass, and passes(i) says whether row i does. */
class Batch {
  constructor(mem, selected = -1, bits = null) {
    this.mem = mem;
    const b = koffi.decode(mem, Batch_);
    this.sourceId = b.source_id;
    this.seqNo = b.seq_no;
    this.length = Number(b.array.length);
    this.offset = Number(b.array.offset);
    this.nullCount = Number(b.array.null_count);
    this.format = koffi.decode(b.schema.format, 'char', -1);
    this.name = b.schema.name ? koffi.decode(b.schema.name, 'char', -1) : null;
    this.buffers = b.array.buffers;
    this.selected = selected;
    this.selection = bits;
  }
  passes(i) { return this.selected === -1 || (this.selection[i >> 3] & (1 << (i & 7))) !== 0; }
  values(ctype) {
    if (!this.mem) throw ZenithError.from(codes.ZENITH_E_DOUBLE_RELEASE, 'Batch already released');
    const bufs = koffi.decode(this.buffers, 'void *', 2);
    const vals = Array.from(koffi.decode(bufs[1], ctype, this.offset + this.length)).slice(this.offset);
    if (!bufs[0] || this.nullCount === 0) return vals;
    const bits = koffi.decode(bufs[0], 'uint8_t', (this.offset + this.length + 7) >> 3);
    return vals.map((v, i) => ((bits[(i + this.offset) >> 3] >> ((i + this.offset) & 7)) & 1 ? v : null));
  }
  /** The values of an int64 batch (a copy; nulls as null). */
  int64Values() { return this.values('int64_t').map((v) => (v === null ? null : Number(v))); }
  /** The values of a float64 batch (a copy; nulls as null). */
  float64Values() { return this.values('double'); }
  release() {
    if (!this.mem) throw ZenithError.from(codes.ZENITH_E_DOUBLE_RELEASE, 'zenith_batch_release');
    const rc = zbatch_release(null, this.mem);
    koffi.free(this.mem);
    this.mem = null;
    check(rc, 'zenith_batch_release');
  }
}

/** A loaded plugin (engine.loadPlugin): stats(), result(), unload(). */
class Plugin {
  constructor(engine, id) { this.engine = engine; this.id = id; }
  stats() { return this.engine.pluginStats(this.id); }
  result() { return this.engine.pluginResult(this.id); }
  unload() { this.engine.unloadPlugin(this.id); }
}

class Engine {
  /** The data-plane engine (zenith_engine_create): publish/poll from any thread in C; from JS,
      the thread that made it. close() destroys it (zenith_engine_destroy). */
  constructor(capacity = 1024) {
    // the library rounds capacity up to a power of two, 2 at least (stats().capacity says it)
    this.e = engine_create(capacity);
    if (!this.e) throw ZenithError.from(codes.ZENITH_E_INVAL, `zenith_engine_create(${capacity})`);
    this.bitsCap = (16384 + 7) >> 3;
  }
  live() {
    if (!this.e) throw ZenithError.from(codes.ZENITH_E_STALE, 'engine closed');
    return this.e;
  }
  /** Moves x in (it reads as released after). Returns 0 (queued) or 1 (a plugin dropped it:
      released already). Throws FullError (-2) or ZenithError ZENITH_E_FFI (-4), and x stays yours. */
  publish(x, sourceId = 0, seqNo = 0) {
    return check(engine_publish(this.live(), x.array, x.schema, sourceId, seqNo), 'zenith_engine_publish');
  }
  /** As publish, but a full engine returns false instead of throwing. */
  tryPublish(x, sourceId = 0, seqNo = 0) {
    const rc = engine_publish(this.live(), x.array, x.schema, sourceId, seqNo);
    if (rc === codes.ZENITH_E_FULL) return false;
    check(rc, 'zenith_engine_publish');
    return true;
  }
  /** The oldest Batch, or null. */
  poll() {
    const mem = koffi.alloc(Batch_, 1);
    let rc;
    try { rc = check(engine_poll(this.live(), mem), 'zenith_engine_poll'); } catch (e) { koffi.free(mem); throw e; }
    if (rc === 0) { koffi.free(mem); return null; }
    return new Batch(mem);
  }
  /** The oldest Batch with its plugins' selection (batch.selected, batch.passes(i)), or null. */
  pollSelection() {
    const mem = koffi.alloc(Batch_, 1);
    for (;;) {
      const bits = Buffer.alloc(this.bitsCap);
      const sel = [0];
      const rc = poll_selection(this.live(), mem, bits, bits.length, sel);
      if (rc === codes.ZENITH_E_RANGE) { this.bitsCap *= 2; continue; }
      if (rc <= 0) {
        koffi.free(mem);
        check(rc, 'zenith_poll_selection');
        return null;
      }
      const selected = Number(sel[0]);
      return new Batch(mem, selected, selected === -1 ? null : bits);
    }
  }
  /** Loads a WebAssembly plugin (bytes: Buffer/Uint8Array) and returns a Plugin (.id). options:
      params (Buffer, or an array of numbers sent as little-endian doubles), instances, flags
      (failReject: true), maxFailures, fuel, fuelPerRow, maxRows, maxMemoryPages. A module that
      is not a valid plugin throws PluginError (ZENITH_E_PLUGIN) with the library's reason. */
  loadPlugin(wasm, options = null) {
    const e = this.live();
    let id;
    if (!options) {
      id = engine_load_plugin(e, wasm, wasm.length);
    } else {
      const { params, failReject, ...rest } = options;
      const cfg = configOf(PluginConfig, rest, null);
      if (failReject) cfg.flags = (cfg.flags || 0) | 1;
      let pbuf = null;
      if (params !== undefined && params !== null)
        pbuf = Buffer.isBuffer(params) ? params : Buffer.from(new Float64Array(params).buffer);
      let pmem = null;
      if (pbuf && pbuf.length) {
        pmem = koffi.alloc('uint8_t', pbuf.length);
        koffi.encode(pmem, 'uint8_t', [...pbuf], pbuf.length);
        cfg.params = pmem;
        cfg.params_len = pbuf.length;
      }
      const reason = Buffer.alloc(256);
      try { id = load_plugin_ex(e, wasm, wasm.length, cfg, reason, reason.length); } finally { if (pmem) koffi.free(pmem); }
      if (cfg.max_rows) this.bitsCap = Math.max(this.bitsCap, (cfg.max_rows + 7) >> 3);
    }
    if (id < 0) {
      const buf = Buffer.alloc(256);
      const rc = id === codes.ZENITH_E_NULL ? 0 : plugin_last_error(e, buf, buf.length);
      const why = rc < 0 ? buf.toString('utf8', 0, buf.indexOf(0)) : '';
      if (id === codes.ZENITH_E_PLUGIN || id === codes.ZENITH_E_UNSUPPORTED) throw new PluginError(id, 'zenith_load_plugin', why);
      const err = ZenithError.from(id, 'zenith_load_plugin');
      if (why) { err.reason = why; err.message += `: ${why}`; }
      throw err;
    }
    return new Plugin(this, id);
  }
  pluginStats(id) {
    const st = { struct_size: koffi.sizeof(PluginStats) };
    check(plugin_get_stats(this.live(), typeof id === 'object' ? id.id : id, st), 'zenith_plugin_get_stats');
    return st;
  }
  pluginResult(id) {
    const out = new Float64Array(8);
    const n = check(plugin_result(this.live(), typeof id === 'object' ? id.id : id, out, out.length), 'zenith_plugin_result');
    return Array.from(out.subarray(0, n));
  }
  unloadPlugin(id) { check(unload_plugin(this.live(), typeof id === 'object' ? id.id : id), 'zenith_unload_plugin'); }
  stats() { const st = {}; check(zstats(this.live(), st), 'zenith_engine_get_stats'); return st; }
  close() { if (this.e) { engine_destroy(this.e); this.e = null; } }
}

// ---- NUMA --------------------------------------------------------------------------------------------

const numa = (() => {
  const f = (sig) => lib.func(sig);
  const init = f('int zenith_numa_init()');
  const nodeCount = f('int zenith_numa_node_count()');
  const allocOnnode = f('void *zenith_numa_alloc_onnode(size_t size, int node)');
  const lastError = f('int zenith_numa_last_error()');
  const free_ = f('int zenith_numa_free(void *p, size_t size)');
  const nodeOfAddress = f('int zenith_numa_node_of_address(void *p)');
  const c = (rc, what) => { if (rc < 0) throw new ZenithError(rc, what, true); return rc; };
  return {
    init: () => init() === 0,
    nodeCount: () => nodeCount(),
    allocOnNode(size, node) {
      const p = allocOnnode(size, node);
      if (!p) throw new ZenithError(lastError(), 'zenith_numa_alloc_onnode', true);
      return p;
    },
    free: (p, size) => c(free_(p, size), 'zenith_numa_free'),
    nodeOfAddress: (p) => c(nodeOfAddress(p), 'zenith_numa_node_of_address'),
  };
})();

module.exports = {
  koffi, lib, libPath, raw, version, WRAPPED_VERSION, codes,
  ZenithError, FullError, StaleError, StateError, InvalidArgumentError, TimeoutError, CanceledError, NotFoundError,
  ExistsError, SystemError, PluginError, LayoutMismatchError,
  checkLayouts, describe, layoutFind, layoutTable, layoutHash: () => BigInt(layout_hash()), layoutRowsChecked,
  structs: Object.fromEntries(MIRRORED.map((t) => [koffi.introspect(t).name, t])),
  Pool, Server, Timer, UdpSocket, Addr, Poster, POST_MAX, CLOSE, BACKENDS,
  Engine, Batch, Plugin, int64Array, float64Array, isReleased, freeArrow, released, numa,
};
