'use strict';
// zenith.js -- Node.js bindings for Zenith through koffi (npm), which ships its native part.
//
// Loads libzenith.so (`make shared`; ZENITH_LIB names another) and wraps the pool, the TCP
// server (callbacks registered with koffi), the data-plane engine (Arrow arrays built in C
// memory with koffi.alloc) and the NUMA helpers. Failing calls throw ZenithError (.code, .name).
//
// Threads: everything here runs on the JS thread; server callbacks run inside runOnce().
// Ownership is the C library's (docs/FFI.md): publish moves an Arrow array in; a polled Batch
// must be released once.

const koffi = require('koffi');
const path = require('path');

const libPath = process.env.ZENITH_LIB || path.join(__dirname, '..', '..', 'build', 'libzenith.so');
const lib = koffi.load(libPath);

const WRAPPED_VERSION = [0, 2];
const zenith_version = lib.func('long zenith_version()');
function version() {
  const v = Number(zenith_version());
  return [Math.floor(v / 1000000), Math.floor(v / 1000) % 1000, v % 1000];
}
{
  const [maj, min] = version();
  if (maj !== WRAPPED_VERSION[0] || min !== WRAPPED_VERSION[1])
    throw new Error(`zenith: library ${version().join('.')} does not match these bindings ${WRAPPED_VERSION}`);
}

const errname = lib.func('const char *zenith_errname(int)');
const strerror = lib.func('const char *zenith_strerror(int)');
const numa_errname = lib.func('const char *zenith_numa_errname(int)');
const numa_strerror = lib.func('const char *zenith_numa_strerror(int)');

class ZenithError extends Error {
  constructor(code, what = '', numa = false) {
    const name = numa ? numa_errname(code) : errname(code);
    super(`${what ? what + ': ' : ''}${name}: ${numa ? numa_strerror(code) : strerror(code)} (${code})`);
    this.code = code;
    this.name = name;
    this.numa = numa;
  }
}

function check(rc, what) {
  if (rc < 0) throw new ZenithError(rc, what);
  return rc;
}

// ---- pool ---------------------------------------------------------------------------------------

const PoolConfig = koffi.struct('zenith_pool_config', {
  struct_size: 'uint32_t', buffer_count: 'uint32_t', buffer_size: 'size_t', cache_size: 'uint32_t', flags: 'uint32_t',
  numa_node: 'int32_t', reserved_: 'uint32_t', memory: 'void *', memory_size: 'size_t',
  alloc: 'void *', free: 'void *', user: 'void *',
});
const PoolStats = koffi.struct('zenith_pool_stats', {
  total: 'uint64_t', in_use: 'uint64_t', free: 'uint64_t', acquires: 'uint64_t', releases: 'uint64_t',
  failed_acquires: 'uint64_t', rejected_releases: 'uint64_t', rejected_foreign: 'uint64_t',
  rejected_misaligned: 'uint64_t', rejected_double: 'uint64_t',
});
const pool_create = lib.func('void *zenith_pool_create(const zenith_pool_config *cfg, _Out_ int *err)');
const pool_destroy = lib.func('void zenith_pool_destroy(void *p)');
const pool_acquire = lib.func('void *zenith_pool_acquire(void *p)');
const pool_release = lib.func('int zenith_pool_release(void *p, void *buf)');
const pool_get_stats = lib.func('int zenith_pool_get_stats(void *p, _Out_ zenith_pool_stats *out)');

class Pool {
  constructor({ bufferSize = 0, bufferCount = 0 } = {}) {
    const err = [0];
    this.p = pool_create({ struct_size: koffi.sizeof(PoolConfig), buffer_size: bufferSize, buffer_count: bufferCount }, err);
    if (!this.p) throw new ZenithError(err[0], 'zenith_pool_create');
    this.bufferSize = bufferSize || 4096;
  }
  /** A buffer (koffi pointer), or null when none is free. view(buf) gives its bytes. */
  acquire() { return pool_acquire(this.p); }
  view(buf) { return Buffer.from(koffi.view(buf, this.bufferSize)); }
  release(buf) { check(pool_release(this.p, buf), 'zenith_pool_release'); }
  stats() { const st = {}; check(pool_get_stats(this.p, st)); return st; }
  close() { if (this.p) { pool_destroy(this.p); this.p = null; } }
}

// ---- server ---------------------------------------------------------------------------------------

const ServerConfig = koffi.struct('zenith_server_config', {
  struct_size: 'uint32_t', port: 'uint16_t', reserved_: 'uint16_t', address: 'const char *', flags: 'uint32_t',
  max_connections: 'uint32_t', buffer_size: 'uint32_t', buffer_count: 'uint32_t', recv_buffers: 'uint32_t',
  send_queue_max: 'uint32_t', zerocopy_min: 'uint32_t', idle_timeout_ms: 'uint32_t', sq_entries: 'uint32_t',
  backlog: 'uint32_t', cpu: 'uint32_t', numa_node: 'int32_t',
});
const ServerStats = koffi.struct('zenith_server_stats', Object.fromEntries([
  'connections_open', 'connections_accepted', 'connections_closed', 'connections_rejected', 'bytes_in',
  'bytes_out', 'recv_buffer_exhausted', 'send_queue_full', 'stale_completions', 'accept_errors',
  'connection_errors', 'zerocopy_sends', 'cq_overflow'].map((n) => [n, 'uint64_t'])));
const AcceptFn = koffi.proto('void zenith_accept_fn(void *user, uint64_t conn)');
const DataFn = koffi.proto('void zenith_data_fn(void *user, uint64_t conn, const uint8_t *data, size_t len)');
const CloseFn = koffi.proto('void zenith_close_fn(void *user, uint64_t conn, int reason)');
const server_create = lib.func('void *zenith_server_create(const zenith_server_config *cfg, _Out_ int *err)');
const server_set_callbacks = lib.func('int zenith_server_set_callbacks(void *s, zenith_accept_fn *a, zenith_data_fn *d, zenith_close_fn *c, void *user)');
const server_start = lib.func('int zenith_server_start(void *s)');
const server_run_once = lib.func('int zenith_server_run_once(void *s, int timeout_ms)');
const server_stop = lib.func('void zenith_server_stop(void *s)');
const server_stopped = lib.func('int zenith_server_stopped(void *s)');
const server_shutdown = lib.func('int zenith_server_shutdown(void *s, int deadline_ms)');
const server_destroy = lib.func('void zenith_server_destroy(void *s)');
const server_send = lib.func('int zenith_server_send(void *s, uint64_t conn, const uint8_t *data, size_t len)');
const server_close = lib.func('int zenith_server_close(void *s, uint64_t conn, int flags)');
const server_port = lib.func('uint16_t zenith_server_port(void *s)');
const server_get_stats = lib.func('int zenith_server_get_stats(void *s, _Out_ zenith_server_stats *out)');

class Server {
  /** handlers: { onData(server, conn, buffer) (required), onAccept(server, conn), onClose(server, conn, reason) }.
      buffer is a copy. Callbacks run inside runOnce(); they may send/closeConn, not runOnce/close. */
  constructor({ address = '127.0.0.1', port = 0, ...cfg } = {}, handlers = {}) {
    if (!handlers.onData) throw new ZenithError(-1, 'Server needs onData');
    const err = [0];
    this.s = server_create({ struct_size: koffi.sizeof(ServerConfig), address, port, ...cfg }, err);
    if (!this.s) throw new ZenithError(err[0], 'zenith_server_create');
    this.error = null;
    const guard = (f) => (...args) => { if (this.error) return; try { f(...args); } catch (e) { this.error = e; } };
    // registered callbacks stay alive until close() unregisters them
    this.cbs = [
      koffi.register(guard((_u, conn) => handlers.onAccept && handlers.onAccept(this, conn)), koffi.pointer(AcceptFn)),
      koffi.register(guard((_u, conn, data, len) =>
        handlers.onData(this, conn, Buffer.from(koffi.view(data, Number(len))))), koffi.pointer(DataFn)),
      koffi.register(guard((_u, conn, reason) => handlers.onClose && handlers.onClose(this, conn, reason)),
        koffi.pointer(CloseFn)),
    ];
    check(server_set_callbacks(this.s, ...this.cbs, null), 'zenith_server_set_callbacks');
  }
  get port() { return server_port(this.s); }
  start() { check(server_start(this.s), 'zenith_server_start'); }
  /** Processes what is ready; a callback's exception is rethrown here. */
  runOnce(timeoutMs = 0) {
    const rc = server_run_once(this.s, timeoutMs);
    if (this.error) { const e = this.error; this.error = null; throw e; }
    return check(rc, 'zenith_server_run_once');
  }
  stopped() { return server_stopped(this.s) !== 0; }
  stop() { server_stop(this.s); }
  send(conn, buf) { return check(server_send(this.s, conn, buf, buf.length), 'zenith_server_send'); }
  closeConn(conn, abort = false) { check(server_close(this.s, conn, abort ? 1 : 0), 'zenith_server_close'); }
  stats() { const st = {}; check(server_get_stats(this.s, st)); return st; }
  close(deadlineMs = 1000) {
    if (!this.s) return;
    server_shutdown(this.s, deadlineMs);
    server_destroy(this.s);
    this.s = null;
    for (const cb of this.cbs) koffi.unregister(cb);
  }
}

// ---- Arrow C Data Interface and the engine ----------------------------------------------------------

const ArrowArray = koffi.struct('ArrowArray', {
  length: 'int64_t', null_count: 'int64_t', offset: 'int64_t', n_buffers: 'int64_t', n_children: 'int64_t',
  buffers: 'void *', children: 'void *', dictionary: 'void *', release: 'void *', private_data: 'void *',
});
const ArrowSchema = koffi.struct('ArrowSchema', {
  format: 'void *', name: 'void *', metadata: 'void *', flags: 'int64_t', n_children: 'int64_t',
  children: 'void *', dictionary: 'void *', release: 'void *', private_data: 'void *',
});
const Batch_ = koffi.struct('zenith_batch', { source_id: 'uint64_t', seq_no: 'uint64_t', array: ArrowArray, schema: ArrowSchema });
const EngineStats = koffi.struct('zenith_engine_stats', Object.fromEntries([
  'capacity', 'published', 'polled', 'released', 'rejected_full', 'rejected_invalid', 'seq_gaps',
  'seq_duplicates', 'sources', 'sources_untracked'].map((n) => [n, 'uint64_t'])));
const ReleaseArrayFn = koffi.proto('void zenith_js_release_array(void *a)');
const ReleaseSchemaFn = koffi.proto('void zenith_js_release_schema(void *s)');

const zinit = lib.func('void *zenith_init(uint32_t capacity)');
const zpublish = lib.func('int zenith_publish(void *e, void *a, void *s, uint64_t src, uint64_t seq)');
const zpoll = lib.func('int zenith_poll(void *e, void *out)');
const zbatch_release = lib.func('int zenith_batch_release(void *e, void *b)');
const zload_plugin = lib.func('int zenith_load_plugin(void *e, const uint8_t *wasm, size_t len)');
const zstats = lib.func('int zenith_engine_get_stats(void *e, _Out_ zenith_engine_stats *out)');
const zfree = lib.func('void zenith_free(void *e)');

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

/** An Arrow int64 ("l") array and its schema in C memory: { array, schema } pointers. The
    structs themselves are freed with freeArrow() once they read as released (after publish,
    or after releasing them yourself). */
function int64Array(values) {
  const n = values.length;
  const data = koffi.alloc('int64_t', Math.max(n, 1));
  if (n) koffi.encode(data, 'int64_t', values.map((v) => BigInt(v)), n);
  const bufs = koffi.alloc('void *', 2);
  koffi.encode(bufs, 'void *', [null, data], 2);
  const fmt = koffi.alloc('char', 2);
  koffi.encode(fmt, 'char', [108, 0], 2); // "l"
  const array = koffi.alloc(ArrowArray, 1);
  const schema = koffi.alloc(ArrowSchema, 1);
  koffi.encode(array, ArrowArray, {
    length: n, null_count: 0, offset: 0, n_buffers: 2, n_children: 0, buffers: bufs,
    children: null, dictionary: null, release: releaseArray, private_data: null,
  });
  koffi.encode(schema, ArrowSchema, {
    format: fmt, name: null, metadata: null, flags: 2, n_children: 0, children: null, dictionary: null,
    release: releaseSchema, private_data: null,
  });
  held.set(koffi.address(array), [data, bufs]);
  held.set(koffi.address(schema), [fmt]);
  return { array, schema };
}

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

/** A polled batch; release() it once. */
class Batch {
  constructor(mem) {
    this.mem = mem;
    const b = koffi.decode(mem, Batch_);
    this.sourceId = b.source_id;
    this.seqNo = b.seq_no;
    this.length = Number(b.array.length);
    this.offset = Number(b.array.offset);
    this.format = koffi.decode(b.schema.format, 'char', -1);
    this.buffers = b.array.buffers;
  }
  /** The values of an int64 batch (a copy). */
  int64Values() {
    const bufs = koffi.decode(this.buffers, 'void *', 2);
    return koffi.decode(bufs[1], 'int64_t', this.offset + this.length).slice(this.offset).map(Number);
  }
  release() {
    if (!this.mem) throw new ZenithError(-13, 'zenith_batch_release');
    const rc = zbatch_release(null, this.mem);
    koffi.free(this.mem);
    this.mem = null;
    check(rc, 'zenith_batch_release');
  }
}

class Engine {
  constructor(capacity = 1024) {
    this.e = zinit(capacity);
    if (!this.e) throw new ZenithError(-1, `zenith_init(${capacity})`);
  }
  /** Moves x in (it reads as released after); throws -2 (full) or -4 (malformed) and x stays yours. */
  publish(x, sourceId = 0, seqNo = 0) { check(zpublish(this.e, x.array, x.schema, sourceId, seqNo), 'zenith_publish'); }
  /** The oldest Batch, or null. */
  poll() {
    const mem = koffi.alloc(Batch_, 1);
    if (check(zpoll(this.e, mem), 'zenith_poll') === 0) { koffi.free(mem); return null; }
    return new Batch(mem);
  }
  loadPlugin(wasm) { check(zload_plugin(this.e, wasm, wasm.length), 'zenith_load_plugin'); }
  stats() { const st = {}; check(zstats(this.e, st)); return st; }
  close() { if (this.e) { zfree(this.e); this.e = null; } }
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
  koffi, lib, version, WRAPPED_VERSION, ZenithError, Pool, Server, Engine, Batch, int64Array, isReleased,
  freeArrow, released, numa,
};
