"""zenith -- Python bindings for Zenith (ctypes, standard library only).

Loads libzenith.so (``make shared`` builds build/libzenith.so; ``ZENITH_LIB`` names another)
and wraps the pool, the TCP server, the data-plane engine and the NUMA helpers. Every failing
call raises ZenithError carrying the Zenith code (``.code``, ``.name``).

Ownership and threads are the C library's (docs/FFI.md):
- Pool buffers are addresses (ints) into the pool's slab, owned until ``release``.
- Server callbacks run on the thread that calls ``run_once``; ``data`` is copied into ``bytes``
  for the call. The CFUNCTYPE objects live as long as the Server object.
- ``Engine.publish`` moves an ArrowArray/ArrowSchema in (the structs are marked released on
  success, kept on failure). ``Engine.poll`` returns a Batch you ``release`` exactly once.
"""
import ctypes
import ctypes.util
import os
import threading

__all__ = ["ZenithError", "Pool", "Server", "Engine", "Batch", "ArrowArray", "ArrowSchema",
           "int64_array", "utf8_array", "numa", "version", "lib"]

# ---- the library -----------------------------------------------------------------------------

def _load():
    path = os.environ.get("ZENITH_LIB")
    if not path:
        here = os.path.dirname(os.path.abspath(__file__))
        path = os.path.join(here, "..", "..", "build", "libzenith.so")
    return ctypes.CDLL(os.path.abspath(path), use_errno=True)

lib = _load()

WRAPPED_VERSION = (0, 2)  # major, minor of the zenith.h this module was written for
lib.zenith_version.restype = ctypes.c_long
lib.zenith_version.argtypes = []


def version():
    """(major, minor, patch) of the loaded library."""
    v = lib.zenith_version()
    return (v // 1000000, v // 1000 % 1000, v % 1000)


if version()[:2] != WRAPPED_VERSION:
    raise ImportError("zenith: library %s does not match these bindings (%s)" % (version(), WRAPPED_VERSION))

lib.zenith_strerror.restype = ctypes.c_char_p
lib.zenith_strerror.argtypes = [ctypes.c_int]
lib.zenith_errname.restype = ctypes.c_char_p
lib.zenith_errname.argtypes = [ctypes.c_int]
lib.zenith_numa_strerror.restype = ctypes.c_char_p
lib.zenith_numa_strerror.argtypes = [ctypes.c_int]
lib.zenith_numa_errname.restype = ctypes.c_char_p
lib.zenith_numa_errname.argtypes = [ctypes.c_int]

E_NULL, E_FULL, E_PLUGIN, E_FFI = -1, -2, -3, -4


class ZenithError(Exception):
    """A negative Zenith code. numa=True for zenith_numa.h's own table."""

    def __init__(self, code, what="", numa=False):
        self.code = code
        self.numa = numa
        if numa:
            self.name = lib.zenith_numa_errname(code).decode()
            text = lib.zenith_numa_strerror(code).decode()
        else:
            self.name = lib.zenith_errname(code).decode()
            text = lib.zenith_strerror(code).decode()
        super().__init__("%s%s: %s (%d)" % (what + ": " if what else "", self.name, text, code))


class _Closing:
    """A handle freed by close(): also as a context manager and when garbage-collected."""

    def close(self):
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __del__(self):
        self.close()


def _check(rc, what=""):
    if rc < 0:
        raise ZenithError(rc, what)
    return rc


# ---- pool ------------------------------------------------------------------------------------

class _Allocator(ctypes.Structure):
    _fields_ = [("alloc", ctypes.c_void_p), ("free", ctypes.c_void_p), ("user", ctypes.c_void_p)]


class _PoolConfig(ctypes.Structure):
    _fields_ = [("struct_size", ctypes.c_uint32), ("buffer_count", ctypes.c_uint32),
                ("buffer_size", ctypes.c_size_t), ("cache_size", ctypes.c_uint32), ("flags", ctypes.c_uint32),
                ("numa_node", ctypes.c_int32), ("reserved_", ctypes.c_uint32), ("memory", ctypes.c_void_p),
                ("memory_size", ctypes.c_size_t), ("allocator", _Allocator)]


class _PoolStats(ctypes.Structure):
    _fields_ = [(n, ctypes.c_uint64) for n in (
        "total", "in_use", "free", "acquires", "releases", "failed_acquires", "rejected_releases",
        "rejected_foreign", "rejected_misaligned", "rejected_double")]


POOL_PREFAULT = 1 << 2
POOL_NUMA_NODE = 1 << 4

lib.zenith_pool_create.restype = ctypes.c_void_p
lib.zenith_pool_create.argtypes = [ctypes.POINTER(_PoolConfig), ctypes.POINTER(ctypes.c_int)]
lib.zenith_pool_destroy.restype = None
lib.zenith_pool_destroy.argtypes = [ctypes.c_void_p]
lib.zenith_pool_acquire.restype = ctypes.c_void_p
lib.zenith_pool_acquire.argtypes = [ctypes.c_void_p]
lib.zenith_pool_release.restype = ctypes.c_int
lib.zenith_pool_release.argtypes = [ctypes.c_void_p, ctypes.c_void_p]
lib.zenith_pool_get_stats.restype = ctypes.c_int
lib.zenith_pool_get_stats.argtypes = [ctypes.c_void_p, ctypes.POINTER(_PoolStats)]


def _stats_dict(st):
    return {name: getattr(st, name) for name, _ in st._fields_}


class Pool(_Closing):
    """A zenith_pool. Buffers are addresses; read and write them with ctypes (string_at, memmove)."""

    def __init__(self, buffer_size=0, buffer_count=0, flags=0, numa_node=None):
        cfg = _PoolConfig(struct_size=ctypes.sizeof(_PoolConfig), buffer_size=buffer_size,
                          buffer_count=buffer_count, flags=flags)
        if numa_node is not None:
            cfg.flags |= POOL_NUMA_NODE
            cfg.numa_node = numa_node
        err = ctypes.c_int(0)
        self._p = lib.zenith_pool_create(ctypes.byref(cfg), ctypes.byref(err))
        if not self._p:
            raise ZenithError(err.value, "zenith_pool_create")

    def acquire(self):
        """A buffer's address, or None when the pool is empty."""
        return lib.zenith_pool_acquire(self._p)

    def release(self, buf):
        _check(lib.zenith_pool_release(self._p, buf), "zenith_pool_release")

    def stats(self):
        st = _PoolStats()
        _check(lib.zenith_pool_get_stats(self._p, ctypes.byref(st)))
        return _stats_dict(st)

    def close(self):
        if getattr(self, "_p", None):
            lib.zenith_pool_destroy(self._p)
            self._p = None



# ---- server ----------------------------------------------------------------------------------

class _ServerConfig(ctypes.Structure):
    _fields_ = [("struct_size", ctypes.c_uint32), ("port", ctypes.c_uint16), ("reserved_", ctypes.c_uint16),
                ("address", ctypes.c_char_p), ("flags", ctypes.c_uint32), ("max_connections", ctypes.c_uint32),
                ("buffer_size", ctypes.c_uint32), ("buffer_count", ctypes.c_uint32),
                ("recv_buffers", ctypes.c_uint32), ("send_queue_max", ctypes.c_uint32),
                ("zerocopy_min", ctypes.c_uint32), ("idle_timeout_ms", ctypes.c_uint32),
                ("sq_entries", ctypes.c_uint32), ("backlog", ctypes.c_uint32), ("cpu", ctypes.c_uint32),
                ("numa_node", ctypes.c_int32)]


class _ServerStats(ctypes.Structure):
    _fields_ = [(n, ctypes.c_uint64) for n in (
        "connections_open", "connections_accepted", "connections_closed", "connections_rejected",
        "bytes_in", "bytes_out", "recv_buffer_exhausted", "send_queue_full", "stale_completions",
        "accept_errors", "connection_errors", "zerocopy_sends", "cq_overflow")]


_ACCEPT_FN = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_uint64)
_DATA_FN = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_uint64, ctypes.POINTER(ctypes.c_uint8), ctypes.c_size_t)
_CLOSE_FN = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_uint64, ctypes.c_int)

lib.zenith_server_create.restype = ctypes.c_void_p
lib.zenith_server_create.argtypes = [ctypes.POINTER(_ServerConfig), ctypes.POINTER(ctypes.c_int)]
lib.zenith_server_set_callbacks.restype = ctypes.c_int
lib.zenith_server_set_callbacks.argtypes = [ctypes.c_void_p, _ACCEPT_FN, _DATA_FN, _CLOSE_FN, ctypes.c_void_p]
for _n in ("start", "stopped"):
    getattr(lib, "zenith_server_" + _n).restype = ctypes.c_int
    getattr(lib, "zenith_server_" + _n).argtypes = [ctypes.c_void_p]
lib.zenith_server_run_once.restype = ctypes.c_int
lib.zenith_server_run_once.argtypes = [ctypes.c_void_p, ctypes.c_int]
lib.zenith_server_stop.restype = None
lib.zenith_server_stop.argtypes = [ctypes.c_void_p]
lib.zenith_server_shutdown.restype = ctypes.c_int
lib.zenith_server_shutdown.argtypes = [ctypes.c_void_p, ctypes.c_int]
lib.zenith_server_destroy.restype = None
lib.zenith_server_destroy.argtypes = [ctypes.c_void_p]
lib.zenith_server_send.restype = ctypes.c_int
lib.zenith_server_send.argtypes = [ctypes.c_void_p, ctypes.c_uint64, ctypes.c_void_p, ctypes.c_size_t]
lib.zenith_server_close.restype = ctypes.c_int
lib.zenith_server_close.argtypes = [ctypes.c_void_p, ctypes.c_uint64, ctypes.c_int]
lib.zenith_server_port.restype = ctypes.c_uint16
lib.zenith_server_port.argtypes = [ctypes.c_void_p]
lib.zenith_server_get_stats.restype = ctypes.c_int
lib.zenith_server_get_stats.argtypes = [ctypes.c_void_p, ctypes.POINTER(_ServerStats)]

CLOSE_FLUSH, CLOSE_ABORT = 0, 1


class Server(_Closing):
    """A zenith_server: one ring, one thread (the one calling run_once).

    on_data(server, conn, data: bytes), on_accept(server, conn), on_close(server, conn, reason):
    plain Python callables, run from run_once. They may call send/close_conn, never run_once
    or close."""

    def __init__(self, address="127.0.0.1", port=0, on_data=None, on_accept=None, on_close=None, **cfg):
        if on_data is None:
            raise ZenithError(E_NULL, "Server needs on_data")
        self._address = address.encode()
        c = _ServerConfig(struct_size=ctypes.sizeof(_ServerConfig), address=self._address, port=port)
        for k, v in cfg.items():
            setattr(c, k, v)
        err = ctypes.c_int(0)
        self._s = lib.zenith_server_create(ctypes.byref(c), ctypes.byref(err))
        if not self._s:
            raise ZenithError(err.value, "zenith_server_create")
        self._py = (on_accept, on_data, on_close)
        self._error = None
        # keep the CFUNCTYPE objects alive as long as the server
        self._cb = (_ACCEPT_FN(self._accept), _DATA_FN(self._data), _CLOSE_FN(self._close))
        _check(lib.zenith_server_set_callbacks(self._s, *self._cb, None), "zenith_server_set_callbacks")

    # trampolines: an exception cannot cross C, so the first one is kept and re-raised by run_once
    def _accept(self, _user, conn):
        try:
            if self._py[0]:
                self._py[0](self, conn)
        except BaseException as e:  # noqa: B902 -- re-raised from run_once
            self._error = self._error or e

    def _data(self, _user, conn, data, length):
        try:
            self._py[1](self, conn, ctypes.string_at(data, length))
        except BaseException as e:
            self._error = self._error or e

    def _close(self, _user, conn, reason):
        try:
            if self._py[2]:
                self._py[2](self, conn, reason)
        except BaseException as e:
            self._error = self._error or e

    @property
    def port(self):
        return lib.zenith_server_port(self._s)

    def start(self):
        _check(lib.zenith_server_start(self._s), "zenith_server_start")

    def run_once(self, timeout_ms=-1):
        rc = lib.zenith_server_run_once(self._s, timeout_ms)
        if self._error is not None:
            e, self._error = self._error, None
            raise e
        return _check(rc, "zenith_server_run_once")

    def stopped(self):
        return bool(lib.zenith_server_stopped(self._s))

    def stop(self):
        """Any thread."""
        lib.zenith_server_stop(self._s)

    def send(self, conn, data):
        return _check(lib.zenith_server_send(self._s, conn, data, len(data)), "zenith_server_send")

    def close_conn(self, conn, flags=CLOSE_FLUSH):
        _check(lib.zenith_server_close(self._s, conn, flags), "zenith_server_close")

    def stats(self):
        st = _ServerStats()
        _check(lib.zenith_server_get_stats(self._s, ctypes.byref(st)))
        return _stats_dict(st)

    def close(self, deadline_ms=1000):
        """Shuts down (flushing for up to deadline_ms) and destroys. On the server's thread."""
        if getattr(self, "_s", None):
            lib.zenith_server_shutdown(self._s, deadline_ms)
            lib.zenith_server_destroy(self._s)
            self._s = None



# ---- Arrow C Data Interface and the engine ----------------------------------------------------

class ArrowSchema(ctypes.Structure):
    pass


class ArrowArray(ctypes.Structure):
    pass


_SCHEMA_RELEASE = ctypes.CFUNCTYPE(None, ctypes.POINTER(ArrowSchema))
_ARRAY_RELEASE = ctypes.CFUNCTYPE(None, ctypes.POINTER(ArrowArray))

ArrowSchema._fields_ = [("format", ctypes.c_char_p), ("name", ctypes.c_char_p), ("metadata", ctypes.c_char_p),
                        ("flags", ctypes.c_int64), ("n_children", ctypes.c_int64),
                        ("children", ctypes.POINTER(ctypes.POINTER(ArrowSchema))),
                        ("dictionary", ctypes.POINTER(ArrowSchema)), ("release", _SCHEMA_RELEASE),
                        ("private_data", ctypes.c_void_p)]
ArrowArray._fields_ = [("length", ctypes.c_int64), ("null_count", ctypes.c_int64), ("offset", ctypes.c_int64),
                       ("n_buffers", ctypes.c_int64), ("n_children", ctypes.c_int64),
                       ("buffers", ctypes.POINTER(ctypes.c_void_p)),
                       ("children", ctypes.POINTER(ctypes.POINTER(ArrowArray))),
                       ("dictionary", ctypes.POINTER(ArrowArray)), ("release", _ARRAY_RELEASE),
                       ("private_data", ctypes.c_void_p)]

# Arrays built here keep their Python-owned memory in this table until their release callback
# runs (from whichever thread releases them: ctypes takes the GIL for the callback).
_keep = {}
_keep_lock = threading.Lock()
_next_id = [1]
released = {"arrays": 0, "schemas": 0}  # release callbacks run on arrays/schemas built here


def _hold(objs):
    with _keep_lock:
        k = _next_id[0]
        _next_id[0] += 1
        _keep[k] = objs
    return k


def _drop(k):
    with _keep_lock:
        _keep.pop(k, None)


@_ARRAY_RELEASE
def _release_array(p):
    a = p.contents
    _drop(a.private_data or 0)
    with _keep_lock:
        released["arrays"] += 1
    a.release = _ARRAY_RELEASE()


@_SCHEMA_RELEASE
def _release_schema(p):
    s = p.contents
    _drop(s.private_data or 0)
    with _keep_lock:
        released["schemas"] += 1
    s.release = _SCHEMA_RELEASE()


def _make(fmt, length, buffers, null_count=0):
    bufs = (ctypes.c_void_p * len(buffers))(*[ctypes.cast(b, ctypes.c_void_p) if b is not None else None
                                              for b in buffers])
    fmt_b = ctypes.create_string_buffer(fmt.encode())
    a = ArrowArray(length=length, null_count=null_count, offset=0, n_buffers=len(buffers), n_children=0,
                   buffers=bufs, release=_release_array)
    s = ArrowSchema(format=ctypes.cast(fmt_b, ctypes.c_char_p), name=None, metadata=None, flags=2, n_children=0,
                    release=_release_schema)
    a.private_data = _hold((bufs, buffers))
    s.private_data = _hold((fmt_b,))
    return a, s


def int64_array(values):
    """An Arrow int64 array ("l") over a buffer Python owns until the release callback."""
    data = (ctypes.c_int64 * max(len(values), 1))(*values)
    return _make("l", len(values), [None, data])


def utf8_array(strings):
    """An Arrow utf8 array ("u"): offsets + data buffers built here."""
    enc = [s.encode() for s in strings]
    offs = [0]
    for e in enc:
        offs.append(offs[-1] + len(e))
    offsets = (ctypes.c_int32 * len(offs))(*offs)
    data = ctypes.create_string_buffer(b"".join(enc), max(offs[-1], 1))
    return _make("u", len(strings), [None, offsets, data])


class _Batch(ctypes.Structure):
    _fields_ = [("source_id", ctypes.c_uint64), ("seq_no", ctypes.c_uint64), ("array", ArrowArray),
                ("schema", ArrowSchema)]


class _EngineStats(ctypes.Structure):
    _fields_ = [(n, ctypes.c_uint64) for n in (
        "capacity", "published", "polled", "released", "rejected_full", "rejected_invalid", "seq_gaps",
        "seq_duplicates", "sources", "sources_untracked")]


lib.zenith_init.restype = ctypes.c_void_p
lib.zenith_init.argtypes = [ctypes.c_uint32]
lib.zenith_publish.restype = ctypes.c_int
lib.zenith_publish.argtypes = [ctypes.c_void_p, ctypes.POINTER(ArrowArray), ctypes.POINTER(ArrowSchema),
                               ctypes.c_uint64, ctypes.c_uint64]
lib.zenith_poll.restype = ctypes.c_int
lib.zenith_poll.argtypes = [ctypes.c_void_p, ctypes.POINTER(_Batch)]
lib.zenith_batch_release.restype = ctypes.c_int
lib.zenith_batch_release.argtypes = [ctypes.c_void_p, ctypes.POINTER(_Batch)]
lib.zenith_engine_get_stats.restype = ctypes.c_int
lib.zenith_engine_get_stats.argtypes = [ctypes.c_void_p, ctypes.POINTER(_EngineStats)]
lib.zenith_free.restype = None
lib.zenith_free.argtypes = [ctypes.c_void_p]
lib.zenith_load_plugin.restype = ctypes.c_int
lib.zenith_load_plugin.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_size_t]


class Batch:
    """A polled batch: .source_id, .seq_no, .array, .schema (ctypes structs). release() once."""

    def __init__(self, engine, b):
        self._engine = engine
        self._b = b
        self.source_id = b.source_id
        self.seq_no = b.seq_no
        self.array = b.array
        self.schema = b.schema

    def values(self):
        """The values of an int64 ("l") or utf8 ("u") batch as a Python list (a copy)."""
        a, fmt = self._b.array, self._b.schema.format
        if fmt == b"l":
            data = ctypes.cast(a.buffers[1], ctypes.POINTER(ctypes.c_int64))
            return [data[a.offset + i] for i in range(a.length)]
        if fmt == b"u":
            offs = ctypes.cast(a.buffers[1], ctypes.POINTER(ctypes.c_int32))
            base = a.buffers[2] or 0
            return [ctypes.string_at(base + offs[a.offset + i], offs[a.offset + i + 1] - offs[a.offset + i]).decode()
                    for i in range(a.length)]
        raise ZenithError(E_FFI, "values() reads int64 and utf8 only")

    def release(self):
        _check(lib.zenith_batch_release(self._engine._e if self._engine else None, ctypes.byref(self._b)),
               "zenith_batch_release")


class Engine(_Closing):
    """The data-plane engine (zenith_init / zenith_publish / zenith_poll / zenith_free)."""

    def __init__(self, capacity=1024):
        self._e = lib.zenith_init(capacity)
        if not self._e:
            raise ZenithError(E_NULL, "zenith_init(%d)" % capacity)

    @property
    def handle(self):
        """The ZenithEngine pointer, for C code in the same process."""
        return self._e

    def publish(self, array, schema, source_id=0, seq_no=0):
        """Moves array and schema in (they read as released after). ZenithError -2 when full,
        -4 when malformed: the structs stay yours then."""
        _check(lib.zenith_publish(self._e, ctypes.byref(array), ctypes.byref(schema), source_id, seq_no),
               "zenith_publish")

    def poll(self):
        """The oldest Batch, or None."""
        b = _Batch()
        if _check(lib.zenith_poll(self._e, ctypes.byref(b)), "zenith_poll") == 0:
            return None
        return Batch(self, b)

    def load_plugin(self, wasm):
        _check(lib.zenith_load_plugin(self._e, wasm, len(wasm)), "zenith_load_plugin")

    def stats(self):
        st = _EngineStats()
        _check(lib.zenith_engine_get_stats(self._e, ctypes.byref(st)))
        return _stats_dict(st)

    def close(self):
        if getattr(self, "_e", None):
            lib.zenith_free(self._e)
            self._e = None



# ---- NUMA ------------------------------------------------------------------------------------

class _Numa:
    """zenith_numa.h: codes are its own table (ZenithError.numa is True)."""

    def __init__(self):
        for name, res, args in (
                ("init", ctypes.c_int, []), ("cleanup", None, []), ("available", ctypes.c_int, []),
                ("node_count", ctypes.c_int, []), ("max_node", ctypes.c_int, []), ("cpu_count", ctypes.c_int, []),
                ("node_of_cpu", ctypes.c_int, [ctypes.c_int]), ("current_cpu", ctypes.c_int, []),
                ("current_node", ctypes.c_int, []), ("distance", ctypes.c_int, [ctypes.c_int, ctypes.c_int]),
                ("alloc_onnode", ctypes.c_void_p, [ctypes.c_size_t, ctypes.c_int]),
                ("alloc_local", ctypes.c_void_p, [ctypes.c_size_t]),
                ("alloc_interleaved", ctypes.c_void_p, [ctypes.c_size_t]),
                ("free", ctypes.c_int, [ctypes.c_void_p, ctypes.c_size_t]),
                ("last_error", ctypes.c_int, []), ("bind_thread_to_node", ctypes.c_int, [ctypes.c_int]),
                ("bind_thread_to_cpu", ctypes.c_int, [ctypes.c_int]), ("unbind_thread", ctypes.c_int, []),
                ("node_of_address", ctypes.c_int, [ctypes.c_void_p])):
            f = getattr(lib, "zenith_numa_" + name)
            f.restype = res
            f.argtypes = args

    @staticmethod
    def _c(rc, what):
        if rc < 0:
            raise ZenithError(rc, what, numa=True)
        return rc

    def init(self):
        """True if the kernel has NUMA; False in one-node mode (not an error)."""
        rc = lib.zenith_numa_init()
        if rc not in (0, -1):
            self._c(rc, "zenith_numa_init")
        return rc == 0

    def cleanup(self):
        lib.zenith_numa_cleanup()

    def node_count(self):
        return lib.zenith_numa_node_count()

    def cpu_count(self):
        return lib.zenith_numa_cpu_count()

    def node_of_cpu(self, cpu):
        return self._c(lib.zenith_numa_node_of_cpu(cpu), "zenith_numa_node_of_cpu")

    def current_node(self):
        return lib.zenith_numa_current_node()

    def distance(self, a, b):
        return self._c(lib.zenith_numa_distance(a, b), "zenith_numa_distance")

    def _alloc(self, p, what):
        if not p:
            raise ZenithError(lib.zenith_numa_last_error(), what, numa=True)
        return p

    def alloc_onnode(self, size, node):
        """An address you own: free it with free(addr, size)."""
        return self._alloc(lib.zenith_numa_alloc_onnode(size, node), "zenith_numa_alloc_onnode")

    def alloc_local(self, size):
        return self._alloc(lib.zenith_numa_alloc_local(size), "zenith_numa_alloc_local")

    def alloc_interleaved(self, size):
        return self._alloc(lib.zenith_numa_alloc_interleaved(size), "zenith_numa_alloc_interleaved")

    def free(self, addr, size):
        self._c(lib.zenith_numa_free(addr, size), "zenith_numa_free")

    def bind_thread_to_node(self, node):
        self._c(lib.zenith_numa_bind_thread_to_node(node), "zenith_numa_bind_thread_to_node")

    def bind_thread_to_cpu(self, cpu):
        self._c(lib.zenith_numa_bind_thread_to_cpu(cpu), "zenith_numa_bind_thread_to_cpu")

    def unbind_thread(self):
        self._c(lib.zenith_numa_unbind_thread(), "zenith_numa_unbind_thread")

    def node_of_address(self, addr):
        return self._c(lib.zenith_numa_node_of_address(addr), "zenith_numa_node_of_address")


numa = _Numa()
