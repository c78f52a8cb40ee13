"""zenith -- Python bindings for Zenith (ctypes, standard library only).

Loads libzenith.so -- the copy bundled next to this module by ``pip install`` first, then the
one ``ZENITH_LIB`` names, then the repository's build/libzenith.so (a source checkout), then the
system's libzenith.so.0 -- and wraps the pool, the reactor (TCP servers and outbound
connections, timers, posts from other threads, UDP and multicast, backend choice), the
data-plane engine with its WebAssembly plugins, and the NUMA helpers. Every failing call raises
ZenithError carrying the Zenith code (``.code``, ``.name``).

At import, every struct this module mirrors is checked field by field against the library's
own layout table (zenith_layout_find): a drifted layout raises LayoutError naming the first
mismatch instead of corrupting memory later.

Ownership and threads are the C library's (docs/FFI.md, bindings/python/README.md):
- Pool buffers are addresses (ints) into the pool's slab, owned until ``release``.
- A Server (reactor) belongs to the thread that calls ``start``/``run_once``; only ``post``,
  ``stop``, ``stopped``, ``port`` and ``backend_info`` may be called from other threads.
  Callbacks run inside ``run_once``, on that thread; ``data`` is copied into ``bytes``. An
  exception raised in a callback cannot cross C: the first one is kept and re-raised by
  ``run_once``. The CFUNCTYPE objects live as long as the Server object.
- ``Engine.publish`` moves an ArrowArray/ArrowSchema in (the structs are marked released on
  success, kept on failure). ``Engine.poll`` returns a Batch you ``release`` exactly once.
"""
import ctypes
import ctypes.util
import itertools
import os
import socket
import struct as _struct
import threading
import time

__all__ = ["ZenithError", "LayoutError", "Pool", "Server", "UdpSocket", "Datagram", "Engine", "Batch", "Plugin",
           "ArrowArray", "ArrowSchema", "int64_array", "float64_array", "utf8_array", "numa", "version",
           "check_layout", "lib", "lib_path"]

# ---- the library -----------------------------------------------------------------------------

_HERE = os.path.dirname(os.path.abspath(__file__))


def _candidates():
    """Where libzenith.so is looked for, in order: (path, what)."""
    out = [(os.path.join(_HERE, "libzenith.so"), "bundled")]
    if os.environ.get("ZENITH_LIB"):
        out.append((os.environ["ZENITH_LIB"], "ZENITH_LIB"))
    out.append((os.path.join(_HERE, "..", "..", "..", "build", "libzenith.so"), "source tree"))
    return out


def _load():
    tried = []
    for path, what in _candidates():
        if os.path.exists(path):
            return ctypes.CDLL(os.path.abspath(path), use_errno=True), os.path.abspath(path)
        if what == "ZENITH_LIB":  # named but absent: say so rather than load something else
            raise ImportError("zenith: ZENITH_LIB=%s does not exist" % path)
        tried.append(path)
    try:  # the system's (ldconfig, LD_LIBRARY_PATH)
        return ctypes.CDLL("libzenith.so.0", use_errno=True), "libzenith.so.0"
    except OSError as e:
        raise ImportError("zenith: libzenith.so not found (tried %s, then the system's libzenith.so.0: %s); "
                          "pip install the package, or set ZENITH_LIB" % (", ".join(tried), e)) from None


lib, lib_path = _load()

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

E_NULL, E_FULL, E_PLUGIN, E_FFI, E_INVAL = -1, -2, -3, -4, -5
E_UNSUPPORTED, E_STALE, E_EXIST, E_TIMEDOUT, E_STATE, E_CANCELED, E_NOT_FOUND = -7, -8, -9, -10, -17, -18, -19
ESYS_BASE = 1000


def esys(errno_value):
    """ZENITH_ESYS(e): the Zenith code carrying a kernel errno."""
    return -(ESYS_BASE + errno_value)


class ZenithError(Exception):
    """A negative Zenith code (.code, .name, .what). numa=True for zenith_numa.h's own table.
    .reason: a plugin load failure's reason (else "")."""

    def __init__(self, code, what="", numa=False, reason=""):
        self.code = code
        self.numa = numa
        self.what = what
        self.reason = reason
        if numa:
            self.name = lib.zenith_numa_errname(code).decode()
            text = lib.zenith_numa_strerror(code).decode()
        else:
            self.name = lib.zenith_errname(code).decode()
            text = lib.zenith_strerror(code).decode()
        super().__init__("%s%s: %s (%d)%s" % (what + ": " if what else "", self.name, text, code,
                                              ": " + reason if reason else ""))


class LayoutError(ImportError):
    """A struct this module mirrors differs from the loaded library's (zenith_layout_find).
    .type, .field ("" for the whole struct)."""

    def __init__(self, msg, type_, field):
        super().__init__(msg)
        self.type = type_
        self.field = field


class _Closing:
    """A handle freed by close(): also as a context manager and when garbage-collected."""

    def close(self):
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __del__(self):
        try:
            self.close()
        except Exception:  # noqa: BLE001 -- never raise from a finaliser (e.g. inside a callback)
            pass


def _check(rc, what=""):
    if rc < 0:
        raise ZenithError(rc, what)
    return rc


# ---- the layout table ------------------------------------------------------------------------

lib.zenith_layout_count.restype = ctypes.c_size_t
lib.zenith_layout_count.argtypes = []
lib.zenith_layout_get.restype = ctypes.c_int
lib.zenith_layout_get.argtypes = [ctypes.c_size_t, ctypes.POINTER(ctypes.c_char_p), ctypes.POINTER(ctypes.c_char_p),
                                  ctypes.POINTER(ctypes.c_size_t), ctypes.POINTER(ctypes.c_size_t)]
lib.zenith_layout_find.restype = ctypes.c_int
lib.zenith_layout_find.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.POINTER(ctypes.c_size_t),
                                   ctypes.POINTER(ctypes.c_size_t)]
lib.zenith_layout_hash.restype = ctypes.c_uint64
lib.zenith_layout_hash.argtypes = []


def layout_table():
    """The library's layout table: {type: {field: (offset, size)}}, field "" = the whole struct."""
    table = {}
    t, f = ctypes.c_char_p(), ctypes.c_char_p()
    off, size = ctypes.c_size_t(), ctypes.c_size_t()
    for i in range(lib.zenith_layout_count()):
        _check(lib.zenith_layout_get(i, ctypes.byref(t), ctypes.byref(f), ctypes.byref(off), ctypes.byref(size)),
               "zenith_layout_get")
        table.setdefault(t.value.decode(), {})[f.value.decode()] = (off.value, size.value)
    return table


def _mismatch(type_, field, mine, theirs):
    name = "%s.%s" % (type_, field) if field else type_
    b = "binding has offset %d size %d" % mine if mine else "binding has no such field"
    lb = "library has offset %d size %d" % theirs if theirs else "library has no such field"
    return LayoutError("zenith: layout mismatch: %s: %s, %s" % (name, b, lb), type_, field)


def check_layout(mirrors=None):
    """Checks each (C type name, ctypes.Structure) against the library's layout table: every
    field's offset and size in the binding's order, every field the library has, then the whole
    size. Raises LayoutError naming the first mismatch; returns the number of rows checked.
    Without arguments: every struct this module mirrors (done once at import)."""
    mirrors = _MIRRORS if mirrors is None else mirrors
    n = 0
    off, size = ctypes.c_size_t(), ctypes.c_size_t()
    for type_, cls in mirrors:
        tb = type_.encode()
        mine_fields = []
        for fd in cls._fields_:
            name = fd[0]
            d = getattr(cls, name)
            mine = (d.offset, d.size)
            mine_fields.append(name)
            rc = lib.zenith_layout_find(tb, name.encode(), ctypes.byref(off), ctypes.byref(size))
            if rc == E_NOT_FOUND:
                raise _mismatch(type_, name, mine, None)
            _check(rc, "zenith_layout_find")
            if mine != (off.value, size.value):
                raise _mismatch(type_, name, mine, (off.value, size.value))
            n += 1
        rows = _TABLE.get(type_)
        if rows is None:
            raise _mismatch(type_, "", (0, ctypes.sizeof(cls)), None)
        for field, theirs in rows.items():
            if field and field not in mine_fields:
                raise _mismatch(type_, field, None, theirs)
        if rows[""] != (0, ctypes.sizeof(cls)):
            raise _mismatch(type_, "", (0, ctypes.sizeof(cls)), rows[""])
        n += 1
    return n


_TABLE = layout_table()


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
    return {name: getattr(st, name) for name, _ in st._fields_ if not name.endswith("_")}


class Pool(_Closing):
    """A zenith_pool. Buffers are addresses; read and write them with ctypes (string_at, memmove).
    Any thread may acquire and release; close() once no thread uses it."""

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



# ---- the reactor (zenith_server) ---------------------------------------------------------------

class _ServerConfig(ctypes.Structure):
    _fields_ = [("struct_size", ctypes.c_uint32), ("port", ctypes.c_uint16), ("reserved_", ctypes.c_uint16),
                ("address", ctypes.c_char_p), ("flags", ctypes.c_uint32), ("max_connections", ctypes.c_uint32),
                ("buffer_size", ctypes.c_uint32), ("buffer_count", ctypes.c_uint32),
                ("recv_buffers", ctypes.c_uint32), ("send_queue_max", ctypes.c_uint32),
                ("zerocopy_min", ctypes.c_uint32), ("idle_timeout_ms", ctypes.c_uint32),
                ("sq_entries", ctypes.c_uint32), ("backlog", ctypes.c_uint32), ("cpu", ctypes.c_uint32),
                ("numa_node", ctypes.c_int32),
                # 0.2.0
                ("max_timers", ctypes.c_uint32), ("post_queue", ctypes.c_uint32), ("send_reserve", ctypes.c_uint32),
                ("backend", ctypes.c_uint32), ("max_udp", ctypes.c_uint32), ("udp_queue", ctypes.c_uint32)]


class _ServerStats(ctypes.Structure):
    _fields_ = [(n, ctypes.c_uint64) for n in (
        "connections_open", "connections_accepted", "connections_closed", "connections_rejected",
        "bytes_in", "bytes_out", "recv_buffer_exhausted", "send_queue_full", "stale_completions",
        "accept_errors", "connection_errors", "zerocopy_sends", "cq_overflow")]


class _ReactorStats(ctypes.Structure):
    _fields_ = [(n, ctypes.c_uint64) for n in (
        "listeners", "connects_started", "connects_succeeded", "connects_failed", "connects_timed_out",
        "connects_canceled", "timers_armed", "timers_fired", "timers_skipped", "posts_run", "posts_refused",
        "wakeups", "send_pool_empty", "deliveries_held", "misuse_refused", "loop_iterations")]


class _BackendInfo(ctypes.Structure):
    _fields_ = [("struct_size", ctypes.c_uint32), ("backend", ctypes.c_int32), ("reason", ctypes.c_int32),
                ("uring_errno", ctypes.c_int32), ("uring_sysctl", ctypes.c_int32), ("reserved_", ctypes.c_uint32),
                ("name", ctypes.c_char_p), ("why", ctypes.c_char_p)]


_ACCEPT_FN = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_uint64)
_DATA_FN = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_uint64, ctypes.c_void_p, ctypes.c_size_t)
_CLOSE_FN = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_uint64, ctypes.c_int)
_CONN_FN = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_uint64)  # on_drain, on_eof
_CONNECT_FN = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_uint64, ctypes.c_int)
_TIMER_FN = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_uint64)
_POST_FN = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_size_t)


class _ConnectConfig(ctypes.Structure):
    _fields_ = [("struct_size", ctypes.c_uint32), ("port", ctypes.c_uint16), ("local_port", ctypes.c_uint16),
                ("address", ctypes.c_char_p), ("local_address", ctypes.c_char_p), ("flags", ctypes.c_uint32),
                ("timeout_ms", ctypes.c_uint32), ("keepalive_idle_s", ctypes.c_uint32),
                ("keepalive_intvl_s", ctypes.c_uint32), ("keepalive_count", ctypes.c_uint32),
                ("user_timeout_ms", ctypes.c_uint32), ("on_connect", _CONNECT_FN), ("user", ctypes.c_void_p)]


class _Addr(ctypes.Structure):
    _fields_ = [("sa", ctypes.c_uint8 * 28), ("len", ctypes.c_uint32)]


class _UdpDatagram(ctypes.Structure):
    _fields_ = [("data", ctypes.c_void_p), ("len", ctypes.c_uint32), ("orig_len", ctypes.c_uint32),
                ("flags", ctypes.c_uint32), ("kernel_drops", ctypes.c_uint32), ("from", ctypes.POINTER(_Addr)),
                ("ts_ns", ctypes.c_int64), ("hw_ts_ns", ctypes.c_int64)]


_UDP_RECV_FN = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_uint64, ctypes.POINTER(_UdpDatagram))
_UDP_WRITABLE_FN = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_uint64)


class _UdpConfig(ctypes.Structure):
    _fields_ = [("struct_size", ctypes.c_uint32), ("flags", ctypes.c_uint32), ("address", ctypes.c_char_p),
                ("port", ctypes.c_uint16), ("peer_port", ctypes.c_uint16), ("rcvbuf", ctypes.c_uint32),
                ("peer_address", ctypes.c_char_p), ("sndbuf", ctypes.c_uint32), ("reserved_", ctypes.c_uint32),
                ("on_recv", _UDP_RECV_FN), ("on_writable", _UDP_WRITABLE_FN), ("user", ctypes.c_void_p)]


class _UdpInfo(ctypes.Structure):
    _fields_ = ([("struct_size", ctypes.c_uint32), ("features", ctypes.c_uint32), ("local", _Addr), ("peer", _Addr),
                 ("recv_capacity", ctypes.c_uint32), ("queued", ctypes.c_uint32)] +
                [(n, ctypes.c_uint64) for n in (
                    "datagrams_in", "bytes_in", "datagrams_out", "bytes_out", "truncated", "gro_batches", "gso_sends",
                    "recv_stalls", "kernel_drops", "recv_errors", "send_full", "send_errors")] +
                [("last_error", ctypes.c_int32), ("reserved_", ctypes.c_uint32)])


def _fn(name, res, args):
    f = getattr(lib, name)
    f.restype = res
    f.argtypes = args
    return f


_VP, _U64, _INT, _SZ = ctypes.c_void_p, ctypes.c_uint64, ctypes.c_int, ctypes.c_size_t
_P_U64 = ctypes.POINTER(ctypes.c_uint64)
_fn("zenith_server_create", _VP, [ctypes.POINTER(_ServerConfig), ctypes.POINTER(ctypes.c_int)])
_fn("zenith_server_set_callbacks", _INT, [_VP, _ACCEPT_FN, _DATA_FN, _CLOSE_FN, _VP])
_fn("zenith_server_set_drain_callback", _INT, [_VP, _CONN_FN])
_fn("zenith_server_set_eof_callback", _INT, [_VP, _CONN_FN])
for _n in ("start", "stopped"):
    _fn("zenith_server_" + _n, _INT, [_VP])
_fn("zenith_server_run_once", _INT, [_VP, _INT])
_fn("zenith_server_stop", None, [_VP])
_fn("zenith_server_shutdown", _INT, [_VP, _INT])
_fn("zenith_server_destroy", None, [_VP])
_fn("zenith_server_listen", _INT, [_VP, ctypes.c_char_p, ctypes.c_uint16, ctypes.c_uint32])
_fn("zenith_server_connect", _INT, [_VP, ctypes.POINTER(_ConnectConfig), _P_U64])
_fn("zenith_server_timer_start", _INT, [_VP, ctypes.c_uint32, ctypes.c_uint32, _TIMER_FN, _VP, _P_U64])
_fn("zenith_server_timer_stop", _INT, [_VP, _U64])
_fn("zenith_server_post", _INT, [_VP, _POST_FN, _VP, _VP, _SZ])
_fn("zenith_server_send", _INT, [_VP, _U64, _VP, _SZ])
_fn("zenith_server_close", _INT, [_VP, _U64, _INT])
_fn("zenith_server_pause", _INT, [_VP, _U64])
_fn("zenith_server_resume", _INT, [_VP, _U64])
_fn("zenith_server_queued", _INT, [_VP, _U64])
_fn("zenith_server_port", ctypes.c_uint16, [_VP])
_fn("zenith_server_get_stats", _INT, [_VP, ctypes.POINTER(_ServerStats)])
_fn("zenith_server_get_reactor_stats", _INT, [_VP, ctypes.POINTER(_ReactorStats)])
_fn("zenith_server_backend_info", _INT, [_VP, ctypes.POINTER(_BackendInfo)])
_fn("zenith_addr_set", _INT, [ctypes.POINTER(_Addr), ctypes.c_char_p, ctypes.c_uint16])
_fn("zenith_udp_open", _INT, [_VP, ctypes.POINTER(_UdpConfig), _P_U64])
_fn("zenith_udp_close", _INT, [_VP, _U64])
_fn("zenith_udp_send", _INT, [_VP, _U64, _VP, _SZ, ctypes.POINTER(_Addr)])
_fn("zenith_udp_join", _INT, [_VP, _U64, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p])
_fn("zenith_udp_leave", _INT, [_VP, _U64, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p])
_fn("zenith_udp_multicast_send_opts", _INT, [_VP, _U64, ctypes.c_char_p, _INT, _INT])
_fn("zenith_udp_get_info", _INT, [_VP, _U64, ctypes.POINTER(_UdpInfo)])
_fn("zenith_udp_port", ctypes.c_uint16, [_VP, _U64])

CLOSE_FLUSH, CLOSE_ABORT, CLOSE_WRITE = 0, 1, 2
CLOSE_PEER, CLOSE_LOCAL, CLOSE_IDLE, CLOSE_SHUTDOWN = 0, 1, 2, 3  # on_close reasons (or a negative code)
SERVER_REUSEPORT, SERVER_NO_LISTEN, SERVER_NO_QUEUE_PAUSE = 1 << 0, 1 << 7, 1 << 8
CONNECT_NO_NODELAY, CONNECT_KEEPALIVE = 1 << 0, 1 << 1
UDP_REUSEADDR, UDP_REUSEPORT, UDP_V6ONLY, UDP_GRO = 1 << 0, 1 << 1, 1 << 2, 1 << 3
UDP_NO_TIMESTAMPS, UDP_HW_TIMESTAMPS, UDP_BROADCAST = 1 << 4, 1 << 5, 1 << 6
UDP_TRUNC, UDP_GRO_SEGMENT = 1 << 0, 1 << 1
UDP_F_GSO, UDP_F_GRO, UDP_F_TS_SOFTWARE, UDP_F_TS_HARDWARE, UDP_F_CONNECTED, UDP_F_IPV6 = (1 << i for i in range(6))
POST_MAX = 40
BACKENDS = {"auto": 0, "io_uring": 1, "epoll": 2}
_REASONS = {0: "default", 1: "config", 2: "env", 3: "fallback"}

_keys = itertools.count(1)  # user-pointer keys for connects, timers, posts, UDP sockets (thread-safe)


def _addr(ip, port):
    """A zenith_addr from an IP literal and a port."""
    a = _Addr()
    rc = lib.zenith_addr_set(ctypes.byref(a), ip.encode(), port)
    if rc < 0:
        raise ZenithError(rc, "zenith_addr_set(%r, %d)" % (ip, port))
    return a


def _from_addr(a):
    """(ip, port) of a zenith_addr, or None."""
    if not a.len:
        return None
    sa = bytes(a.sa)
    family = int.from_bytes(sa[0:2], "little")
    port = int.from_bytes(sa[2:4], "big")
    if family == socket.AF_INET:
        return (socket.inet_ntop(socket.AF_INET, sa[4:8]), port)
    return (socket.inet_ntop(socket.AF_INET6, sa[8:24]), port)


class Datagram:
    """One received datagram (a copy): .data (bytes), .sender ((ip, port)), .ts_ns (kernel receive
    timestamp, ns since the epoch, 0 if none), .hw_ts_ns, .flags, .orig_len, .truncated,
    .kernel_drops."""
    __slots__ = ("data", "sender", "ts_ns", "hw_ts_ns", "flags", "orig_len", "kernel_drops")

    def __init__(self, data, sender, ts_ns, hw_ts_ns, flags, orig_len, kernel_drops):
        self.data, self.sender, self.ts_ns, self.hw_ts_ns = data, sender, ts_ns, hw_ts_ns
        self.flags, self.orig_len, self.kernel_drops = flags, orig_len, kernel_drops

    @property
    def truncated(self):
        return bool(self.flags & UDP_TRUNC)

    def __repr__(self):
        return "Datagram(%r from %s, ts_ns=%d)" % (self.data[:32], self.sender, self.ts_ns)


class UdpSocket:
    """A UDP socket on a Server's loop (Server.udp_open). Every method runs on the server's thread
    (also inside its callbacks); close() it, or the server closes it with itself."""

    def __init__(self, server, sock_id, key, on_recv, on_writable):
        self.server = server
        self.id = sock_id
        self._key = key
        self.on_recv = on_recv
        self.on_writable = on_writable

    @property
    def port(self):
        return lib.zenith_udp_port(self.server._h(), self.id)

    def send(self, data, to=None):
        """Queues a copy of data as one datagram to `to` ((ip, port); None on a connected socket)."""
        dst = None if to is None else ctypes.byref(_addr(to[0], to[1]))
        _check(lib.zenith_udp_send(self.server._h(), self.id, data, len(data), dst), "zenith_udp_send")

    def join(self, group, source=None, ifname=None):
        """Joins a multicast group (any-source, or source-specific with `source`) on ifname."""
        _check(lib.zenith_udp_join(self.server._h(), self.id, group.encode(), source and source.encode(),
                                   ifname and ifname.encode()), "zenith_udp_join(%s)" % group)

    def leave(self, group, source=None, ifname=None):
        _check(lib.zenith_udp_leave(self.server._h(), self.id, group.encode(), source and source.encode(),
                                    ifname and ifname.encode()), "zenith_udp_leave(%s)" % group)

    def multicast_send_opts(self, ifname=None, ttl=-1, loop=-1):
        """Sender side: outgoing interface, TTL (0-255), loopback (0/1); None/-1 leave one as it is."""
        _check(lib.zenith_udp_multicast_send_opts(self.server._h(), self.id, ifname and ifname.encode(), ttl, loop),
               "zenith_udp_multicast_send_opts")

    def info(self):
        """State and counters (zenith_udp_info) as a dict; local and peer as (ip, port)."""
        i = _UdpInfo(struct_size=ctypes.sizeof(_UdpInfo))
        _check(lib.zenith_udp_get_info(self.server._h(), self.id, ctypes.byref(i)), "zenith_udp_get_info")
        d = _stats_dict(i)
        del d["struct_size"]
        d["local"], d["peer"] = _from_addr(i.local), _from_addr(i.peer)
        return d

    def close(self):
        """Stops delivery now; what is queued is still sent. Idempotent."""
        if self.id and self.server._s:
            rc = lib.zenith_udp_close(self.server._s, self.id)
            self.server._udp.pop(self._key, None)
            self.id = 0
            _check(rc, "zenith_udp_close")


class Server(_Closing):
    """A zenith_server: the reactor. One loop, one thread (the one calling start and run_once),
    for TCP listeners, accepted and outbound connections, timers, posted messages and UDP sockets.

    Callbacks are plain Python callables run from run_once on that thread: on_data(server, conn,
    data: bytes) (required), on_accept(server, conn), on_close(server, conn, reason),
    on_drain(server, conn), on_eof(server, conn). Inside any callback you may call send,
    close_conn, connect, listen, pause/resume, the timer calls, post, stop, the stats and every
    UdpSocket method; run_once and close raise ZenithError ZENITH_E_STATE there. An exception
    raised by a callback is kept (the first one) and re-raised by run_once.

    listen=False makes a reactor without a listener (clients, timers, UDP); backend is "auto",
    "io_uring" or "epoll"; other keywords are zenith_server_config fields (buffer_count=...)."""

    def __init__(self, address="127.0.0.1", port=0, on_data=None, on_accept=None, on_close=None, on_drain=None,
                 on_eof=None, listen=True, backend=None, **cfg):
        self._s = None
        if on_data is None:
            raise ZenithError(E_NULL, "Server needs on_data")
        self._address = address.encode() if listen and address else None
        c = _ServerConfig(struct_size=ctypes.sizeof(_ServerConfig), address=self._address, port=port if listen else 0)
        if not listen:
            c.flags |= SERVER_NO_LISTEN
        if backend is not None:
            if backend not in BACKENDS and backend not in BACKENDS.values():
                raise ZenithError(E_INVAL, "backend %r: auto, io_uring or epoll" % (backend,))
            c.backend = BACKENDS.get(backend, backend)
        for k, v in cfg.items():
            if k not in dict(_ServerConfig._fields_) or k in ("struct_size", "address", "reserved_"):
                raise ZenithError(E_INVAL, "Server: no config field %r" % k)
            setattr(c, k, getattr(c, k) | v if k == "flags" else v)
        self._error = None
        self._busy = 0  # run_once calls in progress (close refuses then)
        self._on = {"accept": on_accept, "data": on_data, "close": on_close, "drain": on_drain, "eof": on_eof}
        self._connects, self._timers, self._timer_keys, self._posts, self._udp = {}, {}, {}, {}, {}
        err = ctypes.c_int(0)
        s = lib.zenith_server_create(ctypes.byref(c), ctypes.byref(err))
        if not s:
            raise ZenithError(err.value, "zenith_server_create")
        self._s = s
        # the C function pointers: alive as long as the server (they refer back to it)
        self._cb_accept, self._cb_data, self._cb_close = (_ACCEPT_FN(self._t_accept), _DATA_FN(self._t_data),
                                                          _CLOSE_FN(self._t_close))
        self._cb_drain, self._cb_eof = _CONN_FN(self._t_drain), _CONN_FN(self._t_eof)
        self._cb_connect, self._cb_timer, self._cb_post = (_CONNECT_FN(self._t_connect), _TIMER_FN(self._t_timer),
                                                           _POST_FN(self._t_post))
        self._cb_recv, self._cb_writable = _UDP_RECV_FN(self._t_recv), _UDP_WRITABLE_FN(self._t_writable)
        try:
            _check(lib.zenith_server_set_callbacks(s, self._cb_accept, self._cb_data, self._cb_close, None),
                   "zenith_server_set_callbacks")
            if on_drain:
                _check(lib.zenith_server_set_drain_callback(s, self._cb_drain), "zenith_server_set_drain_callback")
            if on_eof:
                _check(lib.zenith_server_set_eof_callback(s, self._cb_eof), "zenith_server_set_eof_callback")
        except ZenithError:
            self.close()
            raise

    def _h(self):
        if not self._s:
            raise ZenithError(E_NULL, "the server is closed")
        return self._s

    # trampolines: an exception cannot cross C, so the first one is kept and re-raised by run_once
    def _fail(self, e):
        if self._error is None:
            self._error = e

    def _t_accept(self, _user, conn):
        try:
            if self._on["accept"]:
                self._on["accept"](self, conn)
        except BaseException as e:  # noqa: B902 -- re-raised from run_once
            self._fail(e)

    def _t_data(self, _user, conn, data, length):
        try:
            self._on["data"](self, conn, ctypes.string_at(data, length) if length else b"")
        except BaseException as e:  # noqa: B902
            self._fail(e)

    def _t_close(self, _user, conn, reason):
        try:
            if self._on["close"]:
                self._on["close"](self, conn, reason)
        except BaseException as e:  # noqa: B902
            self._fail(e)

    def _t_drain(self, _user, conn):
        try:
            self._on["drain"](self, conn)
        except BaseException as e:  # noqa: B902
            self._fail(e)

    def _t_eof(self, _user, conn):
        try:
            self._on["eof"](self, conn)
        except BaseException as e:  # noqa: B902
            self._fail(e)

    def _t_connect(self, user, conn, status):
        try:
            fn = self._connects.pop(user, None)
            if fn:
                fn(self, conn, None if status == 0 else ZenithError(status, "connect"))
        except BaseException as e:  # noqa: B902
            self._fail(e)

    def _t_timer(self, user, timer):
        try:
            fn, periodic = self._timers[user]
            if not periodic:  # a one-shot timer is over when it fires
                del self._timers[user]
                self._timer_keys.pop(timer, None)
            fn(self, timer)
        except BaseException as e:  # noqa: B902
            self._fail(e)

    def _t_post(self, user, data, length):
        try:
            self._posts.pop(user)(self, ctypes.string_at(data, length) if length else b"")
        except BaseException as e:  # noqa: B902
            self._fail(e)

    def _t_recv(self, user, sock, dp):
        try:
            u = self._udp.get(user)
            if u is not None and u.on_recv is not None:
                d = dp.contents
                u.on_recv(u, Datagram(ctypes.string_at(d.data, d.len) if d.len else b"",
                                      _from_addr(getattr(d, "from").contents), d.ts_ns, d.hw_ts_ns, d.flags,
                                      d.orig_len, d.kernel_drops))
        except BaseException as e:  # noqa: B902
            self._fail(e)

    def _t_writable(self, user, sock):
        try:
            u = self._udp.get(user)
            if u is not None and u.on_writable is not None:
                u.on_writable(u)
        except BaseException as e:  # noqa: B902
            self._fail(e)

    # ---- life cycle
    @property
    def port(self):
        """The first listener's port (0 without one). Any thread."""
        return lib.zenith_server_port(self._h())

    def start(self):
        """The calling thread becomes the server's thread."""
        _check(lib.zenith_server_start(self._h()), "zenith_server_start")

    def run_once(self, timeout_ms=-1):
        """Handles what is ready, waiting up to timeout_ms (-1: until something happens; note that
        Ctrl-C cannot interrupt a wait inside C). Returns the events handled. Raises the first
        exception a callback raised, or ZenithError."""
        self._busy += 1
        try:
            rc = lib.zenith_server_run_once(self._h(), timeout_ms)
        finally:
            self._busy -= 1
        if self._error is not None:
            e, self._error = self._error, None
            raise e
        return _check(rc, "zenith_server_run_once")

    def run(self, until=None, timeout_ms=100, seconds=None):
        """run_once(timeout_ms) until stop() was called (any thread), until() returns true, or
        `seconds` have passed. Returns True unless it gave up at the deadline."""
        end = None if seconds is None else time.monotonic() + seconds
        while not self.stopped() and not (until and until()):
            if end is not None and time.monotonic() >= end:
                return False
            self.run_once(timeout_ms)
        return True

    def stopped(self):
        return bool(lib.zenith_server_stopped(self._h()))

    def stop(self):
        """Any thread (also a signal handler's Python code)."""
        lib.zenith_server_stop(self._h())

    def close(self, deadline_ms=1000):
        """Shuts down (flushing for up to deadline_ms; on_close/on_connect run) and destroys. On the
        server's thread, outside callbacks (ZENITH_E_STATE there); idempotent."""
        if not getattr(self, "_s", None):
            return
        if self._busy:
            raise ZenithError(E_STATE, "Server.close inside a callback or while run_once runs")
        self._busy += 1  # on_close / on_connect run inside shutdown: close() there is refused too
        try:
            rc = lib.zenith_server_shutdown(self._s, deadline_ms)
        finally:
            self._busy -= 1
        lib.zenith_server_destroy(self._s)
        self._s = None
        for u in self._udp.values():
            u.id = 0
        self._connects.clear(), self._timers.clear(), self._timer_keys.clear(), self._posts.clear()
        self._udp.clear()
        if self._error is not None:
            e, self._error = self._error, None
            raise e
        _check(rc, "zenith_server_shutdown")

    # ---- connections
    def listen(self, address, port=0, reuseport=False):
        """Adds a listener (same callbacks); returns its port."""
        return _check(lib.zenith_server_listen(self._h(), address.encode(), port,
                                               SERVER_REUSEPORT if reuseport else 0), "zenith_server_listen")

    def connect(self, address, port, on_connect=None, timeout_ms=0, local_address=None, local_port=0, nodelay=True,
                keepalive=False, keepalive_idle_s=0, keepalive_intvl_s=0, keepalive_count=0, user_timeout_ms=0):
        """Starts an outbound connection to a numeric address; returns its id at once.
        on_connect(server, conn, error) runs exactly once from run_once: error None (connected:
        on_data, send, close as for an accepted connection), else a ZenithError
        (ECONNREFUSED, ZENITH_E_TIMEDOUT, ZENITH_E_CANCELED, ...)."""
        key = next(_keys)
        cc = _ConnectConfig(struct_size=ctypes.sizeof(_ConnectConfig), port=port, local_port=local_port,
                            address=address.encode(), local_address=local_address and local_address.encode(),
                            flags=(0 if nodelay else CONNECT_NO_NODELAY) | (CONNECT_KEEPALIVE if keepalive else 0),
                            timeout_ms=timeout_ms, keepalive_idle_s=keepalive_idle_s,
                            keepalive_intvl_s=keepalive_intvl_s, keepalive_count=keepalive_count,
                            user_timeout_ms=user_timeout_ms, on_connect=self._cb_connect, user=key)
        self._connects[key] = on_connect
        out = ctypes.c_uint64(0)
        rc = lib.zenith_server_connect(self._h(), ctypes.byref(cc), ctypes.byref(out))
        if rc < 0:
            del self._connects[key]
            raise ZenithError(rc, "zenith_server_connect(%s, %d)" % (address, port))
        return out.value

    def send(self, conn, data):
        """Queues a copy of data (bytes-like). ZENITH_E_FULL: nothing queued (on_drain follows)."""
        return _check(lib.zenith_server_send(self._s, conn, data, len(data)), "zenith_server_send")

    def close_conn(self, conn, flags=CLOSE_FLUSH):
        _check(lib.zenith_server_close(self._h(), conn, flags), "zenith_server_close")

    def pause(self, conn):
        _check(lib.zenith_server_pause(self._h(), conn), "zenith_server_pause")

    def resume(self, conn):
        _check(lib.zenith_server_resume(self._h(), conn), "zenith_server_resume")

    def queued(self, conn):
        return _check(lib.zenith_server_queued(self._h(), conn), "zenith_server_queued")

    # ---- timers and posts
    def timer_start(self, delay_ms, fn, period_ms=0):
        """fn(server, timer_id) runs delay_ms from now (never early), then every period_ms if > 0
        until timer_stop. Returns the timer's id."""
        key = next(_keys)
        self._timers[key] = (fn, period_ms > 0)
        out = ctypes.c_uint64(0)
        rc = lib.zenith_server_timer_start(self._h(), delay_ms, period_ms, self._cb_timer, key, ctypes.byref(out))
        if rc < 0:
            del self._timers[key]
            raise ZenithError(rc, "zenith_server_timer_start")
        self._timer_keys[out.value] = key
        return out.value

    def timer_stop(self, timer):
        """Disarms a timer (also from its own callback). ZENITH_E_STALE: fired (one-shot) or stopped."""
        _check(lib.zenith_server_timer_stop(self._h(), timer), "zenith_server_timer_stop")
        self._timers.pop(self._timer_keys.pop(timer, None), None)

    def try_post(self, fn, data=b""):
        """From any thread: fn(server, data: bytes) will run on the loop thread (data: at most 40
        bytes, copied). False when the queue is full (nothing queued): retry later."""
        key = next(_keys)
        self._posts[key] = fn
        rc = lib.zenith_server_post(self._h(), self._cb_post, key, data, len(data))
        if rc < 0:
            del self._posts[key]
            if rc == E_FULL:
                return False
            raise ZenithError(rc, "zenith_server_post")
        return True

    def post(self, fn, data=b""):
        """try_post that raises ZenithError ZENITH_E_FULL when the queue is full."""
        if not self.try_post(fn, data):
            raise ZenithError(E_FULL, "zenith_server_post")

    # ---- UDP
    def udp_open(self, address="0.0.0.0", port=0, on_recv=None, on_writable=None, peer=None, reuseaddr=False,
                 reuseport=False, timestamps=True, flags=0, rcvbuf=0, sndbuf=0):
        """A UDP socket on this loop, bound to address:port (port 0: the kernel picks; .port says).
        on_recv(sock, datagram) per datagram (None: send-only); on_writable(sock) after a
        ZENITH_E_FULL. peer=(ip, port) connects it. Receive timestamps are on unless
        timestamps=False."""
        key = next(_keys)
        flags |= (UDP_REUSEADDR if reuseaddr else 0) | (UDP_REUSEPORT if reuseport else 0)
        flags |= 0 if timestamps else UDP_NO_TIMESTAMPS
        uc = _UdpConfig(struct_size=ctypes.sizeof(_UdpConfig), flags=flags, address=address and address.encode(),
                        port=port, rcvbuf=rcvbuf, sndbuf=sndbuf, user=key)
        if peer is not None:
            uc.peer_address, uc.peer_port = peer[0].encode(), peer[1]
        if on_recv is not None:
            uc.on_recv = self._cb_recv
        if on_writable is not None:
            uc.on_writable = self._cb_writable
        out = ctypes.c_uint64(0)
        rc = lib.zenith_udp_open(self._h(), ctypes.byref(uc), ctypes.byref(out))
        if rc < 0:
            raise ZenithError(rc, "zenith_udp_open(%s, %d)" % (address, port))
        u = UdpSocket(self, out.value, key, on_recv, on_writable)
        self._udp[key] = u
        return u

    # ---- information
    def backend_info(self):
        """{'backend': 'io_uring' | 'epoll', 'reason': 'default' | 'config' | 'env' | 'fallback',
        'uring_errno', 'uring_sysctl', 'why'}. Any thread."""
        bi = _BackendInfo(struct_size=ctypes.sizeof(_BackendInfo))
        _check(lib.zenith_server_backend_info(self._h(), ctypes.byref(bi)), "zenith_server_backend_info")
        return {"backend": bi.name.decode(), "reason": _REASONS.get(bi.reason, str(bi.reason)),
                "uring_errno": bi.uring_errno, "uring_sysctl": bi.uring_sysctl, "why": bi.why.decode()}

    @property
    def backend(self):
        return self.backend_info()["backend"]

    def stats(self):
        st = _ServerStats()
        _check(lib.zenith_server_get_stats(self._h(), ctypes.byref(st)))
        return _stats_dict(st)

    def reactor_stats(self):
        st = _ReactorStats()
        _check(lib.zenith_server_get_reactor_stats(self._h(), ctypes.byref(st)))
        return _stats_dict(st)



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


def _make(fmt, length, buffers, null_count=0, name=None):
    bufs = (ctypes.c_void_p * len(buffers))(*[ctypes.cast(b, ctypes.c_void_p) if b is not None else None
                                              for b in buffers])
    fmt_b = ctypes.create_string_buffer(fmt.encode())
    name_b = ctypes.create_string_buffer(name.encode()) if name is not None else None
    a = ArrowArray(length=length, null_count=null_count, offset=0, n_buffers=len(buffers), n_children=0,
                   buffers=bufs, release=_release_array)
    s = ArrowSchema(format=ctypes.cast(fmt_b, ctypes.c_char_p),
                    name=ctypes.cast(name_b, ctypes.c_char_p) if name_b is not None else None, metadata=None,
                    flags=2, n_children=0, release=_release_schema)
    a.private_data = _hold((bufs, buffers))
    s.private_data = _hold((fmt_b, name_b))
    return a, s


def int64_array(values, name=None):
    """An Arrow int64 array ("l") over a buffer Python owns until the release callback."""
    data = (ctypes.c_int64 * max(len(values), 1))(*values)
    return _make("l", len(values), [None, data], name=name)


def float64_array(values, name=None):
    """An Arrow float64 array ("g"); name it for plugins ("price" for price_filter)."""
    data = (ctypes.c_double * max(len(values), 1))(*values)
    return _make("g", len(values), [None, data], name=name)


def utf8_array(strings, name=None):
    """An Arrow utf8 array ("u"): offsets + data buffers built here."""
    enc = [s.encode() for s in strings]
    offs = [0]
    for e in enc:
        offs.append(offs[-1] + len(e))
    offsets = (ctypes.c_int32 * len(offs))(*offs)
    data = ctypes.create_string_buffer(b"".join(enc), max(offs[-1], 1))
    return _make("u", len(strings), [None, offsets, data], name=name)


class _Batch(ctypes.Structure):
    _fields_ = [("source_id", ctypes.c_uint64), ("seq_no", ctypes.c_uint64), ("array", ArrowArray),
                ("schema", ArrowSchema)]


class _EngineStats(ctypes.Structure):
    _fields_ = [(n, ctypes.c_uint64) for n in (
        "capacity", "published", "polled", "released", "rejected_full", "rejected_invalid", "seq_gaps",
        "seq_duplicates", "sources", "sources_untracked")]


class _PluginConfig(ctypes.Structure):
    _fields_ = [("struct_size", ctypes.c_uint32), ("flags", ctypes.c_uint32), ("instances", ctypes.c_uint32),
                ("max_failures", ctypes.c_uint32), ("fuel", ctypes.c_uint64), ("fuel_per_row", ctypes.c_uint64),
                ("max_rows", ctypes.c_uint32), ("max_memory_pages", ctypes.c_uint32), ("params", ctypes.c_void_p),
                ("params_len", ctypes.c_size_t)]


class _PluginStats(ctypes.Structure):
    _fields_ = ([("struct_size", ctypes.c_uint32), ("disabled", ctypes.c_uint32), ("instances", ctypes.c_uint32),
                 ("last_trap", ctypes.c_int32)] +
                [(n, ctypes.c_uint64) for n in (
                    "calls", "rows_in", "rows_out", "passed", "rejected", "selected", "failures", "traps",
                    "fuel_exhausted", "errors", "skipped", "fuel_used", "waits", "consecutive_failures")])


PLUGIN_FAIL_REJECT = 1 << 0
PLUGIN_REASON_MAX = 256

_BP = ctypes.POINTER(_Batch)
_fn("zenith_engine_create", _VP, [ctypes.c_uint32])
_fn("zenith_engine_publish", _INT, [_VP, ctypes.POINTER(ArrowArray), ctypes.POINTER(ArrowSchema), _U64, _U64])
_fn("zenith_engine_poll", _INT, [_VP, _BP])
_fn("zenith_poll_selection", _INT, [_VP, _BP, _VP, _SZ, ctypes.POINTER(ctypes.c_int64)])
_fn("zenith_batch_release", _INT, [_VP, _BP])
_fn("zenith_engine_get_stats", _INT, [_VP, ctypes.POINTER(_EngineStats)])
_fn("zenith_engine_destroy", None, [_VP])
_fn("zenith_engine_load_plugin", _INT, [_VP, ctypes.c_char_p, _SZ])
_fn("zenith_load_plugin_ex", _INT, [_VP, ctypes.c_char_p, _SZ, ctypes.POINTER(_PluginConfig), ctypes.c_char_p, _SZ])
_fn("zenith_plugin_last_error", _INT, [_VP, ctypes.c_char_p, _SZ])
_fn("zenith_unload_plugin", _INT, [_VP, _INT])
_fn("zenith_plugin_get_stats", _INT, [_VP, _INT, ctypes.POINTER(_PluginStats)])
_fn("zenith_plugin_result", _INT, [_VP, _INT, ctypes.POINTER(ctypes.c_double), _SZ])
# the design's names (aliases of the zenith_engine_* calls above), declared for C-level users
_fn("zenith_init", _VP, [ctypes.c_uint32])
_fn("zenith_publish", _INT, [_VP, ctypes.POINTER(ArrowArray), ctypes.POINTER(ArrowSchema), _U64, _U64])
_fn("zenith_poll", _INT, [_VP, _BP])
_fn("zenith_load_plugin", _INT, [_VP, ctypes.c_char_p, _SZ])
_fn("zenith_free", None, [_VP])


class Batch:
    """A polled batch: .source_id, .seq_no, .array, .schema (ctypes structs); from
    Engine.poll_selection also .selected (None: every row passes, else how many do) and
    .selection (the bitmap, bytes). release() exactly once (or use it as a context manager)."""

    def __init__(self, engine, b, selected=None, selection=None):
        self._engine = engine
        self._b = b
        self.source_id = b.source_id
        self.seq_no = b.seq_no
        self.array = b.array
        self.schema = b.schema
        self.selected = selected
        self.selection = selection

    def values(self):
        """The values of an int64 ("l"), float64 ("g") or utf8 ("u") batch as a list (a copy)."""
        a, fmt = self._b.array, self._b.schema.format
        if fmt in (b"l", b"g"):
            data = ctypes.cast(a.buffers[1], ctypes.POINTER(ctypes.c_int64 if fmt == b"l" else ctypes.c_double))
            return [data[a.offset + i] for i in range(a.length)]
        if fmt == b"u":
            offs = ctypes.cast(a.buffers[1], ctypes.POINTER(ctypes.c_int32))
            base = a.buffers[2] or 0
            return [ctypes.string_at(base + offs[a.offset + i], offs[a.offset + i + 1] - offs[a.offset + i]).decode()
                    for i in range(a.length)]
        raise ZenithError(E_FFI, "values() reads int64, float64 and utf8 only")

    def selected_rows(self):
        """Indices of the rows that passed the plugins (every row when no plugin selected)."""
        n = self._b.array.length
        if self.selected is None:
            return list(range(n))
        return [i for i in range(n) if self.selection[i >> 3] >> (i & 7) & 1]

    def release(self):
        _check(lib.zenith_batch_release(self._engine._e if self._engine else None, ctypes.byref(self._b)),
               "zenith_batch_release")

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.release()


class Plugin:
    """A loaded WebAssembly plugin (Engine.load_plugin): .id, stats(), results(), unload()."""

    def __init__(self, engine, plugin_id):
        self.engine = engine
        self.id = plugin_id

    def stats(self):
        """zenith_plugin_stats as a dict (calls, rows_in, rows_out, passed, rejected, selected, ...)."""
        st = _PluginStats(struct_size=ctypes.sizeof(_PluginStats))
        _check(lib.zenith_plugin_get_stats(self.engine._h(), self.id, ctypes.byref(st)), "zenith_plugin_get_stats")
        d = _stats_dict(st)
        del d["struct_size"]
        d["disabled"] = bool(d["disabled"])
        return d

    def results(self):
        """The plugin's running result values (zenith_plugin_result), combined over instances."""
        out = (ctypes.c_double * 8)()
        n = _check(lib.zenith_plugin_result(self.engine._h(), self.id, out, 8), "zenith_plugin_result")
        return list(out[:n])

    def unload(self):
        _check(lib.zenith_unload_plugin(self.engine._h(), self.id), "zenith_unload_plugin")


class Engine(_Closing):
    """The data-plane engine (zenith_engine_create / _publish / _poll / _destroy; the design's
    zenith_init / zenith_publish / zenith_poll / zenith_free are the same calls). publish, poll,
    release, stats and the plugin calls may run on any thread at once; close() once nobody
    uses it."""

    def __init__(self, capacity=1024):
        self._e = lib.zenith_engine_create(capacity)
        if not self._e:
            raise ZenithError(E_NULL, "zenith_engine_create(%d)" % capacity)

    def _h(self):
        if not self._e:
            raise ZenithError(E_NULL, "the engine is closed")
        return self._e

    @property
    def handle(self):
        """The ZenithEngine pointer, for C code in the same process."""
        return self._e

    def publish(self, array, schema, source_id=0, seq_no=0):
        """Moves array and schema in (they read as released after). Returns 0 (queued) or 1 (a
        plugin dropped it: already released). ZenithError -2 when full, -4 when malformed: the
        structs stay yours then."""
        return _check(lib.zenith_engine_publish(self._e, ctypes.byref(array), ctypes.byref(schema), source_id,
                                                seq_no), "zenith_engine_publish")

    def poll(self):
        """The oldest Batch, or None."""
        b = _Batch()
        if _check(lib.zenith_engine_poll(self._e, ctypes.byref(b)), "zenith_engine_poll") == 0:
            return None
        return Batch(self, b)

    def poll_selection(self, max_rows=16384):
        """As poll, with the plugins' selection (Batch.selected, .selection, .selected_rows())."""
        b = _Batch()
        bits = ctypes.create_string_buffer((max_rows + 7) // 8)
        sel = ctypes.c_int64(0)
        if _check(lib.zenith_poll_selection(self._e, ctypes.byref(b), bits, len(bits), ctypes.byref(sel)),
                  "zenith_poll_selection") == 0:
            return None
        if sel.value < 0:
            return Batch(self, b)
        return Batch(self, b, sel.value, bits.raw[:(b.array.length + 7) // 8])

    def load_plugin(self, wasm, params=None, instances=0, flags=0, max_failures=0, fuel=0, fuel_per_row=0,
                    max_rows=0, max_memory_pages=0):
        """Loads a WebAssembly plugin (bytes) and attaches it; returns a Plugin. params: bytes
        copied into each instance for its init (price_filter: struct.pack("<dd", lo, hi)).
        Raises ZenithError (ZENITH_E_PLUGIN with .reason for a module that is not a plugin)."""
        wasm = bytes(wasm)
        if params is None and not (instances or flags or max_failures or fuel or fuel_per_row or max_rows or
                                   max_memory_pages):
            rc = lib.zenith_engine_load_plugin(self._h(), wasm, len(wasm))
            if rc < 0:
                why = ctypes.create_string_buffer(PLUGIN_REASON_MAX)
                lib.zenith_plugin_last_error(self._e, why, len(why))
                raise ZenithError(rc, "zenith_engine_load_plugin", reason=why.value.decode(errors="replace"))
            return Plugin(self, rc)
        params = bytes(params or b"")
        pbuf = ctypes.create_string_buffer(params, max(len(params), 1))
        cfg = _PluginConfig(struct_size=ctypes.sizeof(_PluginConfig), flags=flags, instances=instances,
                            max_failures=max_failures, fuel=fuel, fuel_per_row=fuel_per_row, max_rows=max_rows,
                            max_memory_pages=max_memory_pages, params=ctypes.cast(pbuf, ctypes.c_void_p) if params
                            else None, params_len=len(params))
        why = ctypes.create_string_buffer(PLUGIN_REASON_MAX)
        rc = lib.zenith_load_plugin_ex(self._h(), wasm, len(wasm), ctypes.byref(cfg), why, len(why))
        if rc < 0:
            raise ZenithError(rc, "zenith_load_plugin_ex", reason=why.value.decode(errors="replace"))
        return Plugin(self, rc)

    def stats(self):
        st = _EngineStats()
        _check(lib.zenith_engine_get_stats(self._h(), ctypes.byref(st)))
        return _stats_dict(st)

    def close(self):
        if getattr(self, "_e", None):
            lib.zenith_engine_destroy(self._e)
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


# ---- the layout check (at import) -------------------------------------------------------------

# Every struct this module mirrors, by its C name: checked against zenith_layout_find below.
_MIRRORS = [("zenith_allocator", _Allocator), ("zenith_pool_config", _PoolConfig), ("zenith_pool_stats", _PoolStats),
            ("zenith_server_config", _ServerConfig), ("zenith_server_stats", _ServerStats),
            ("zenith_reactor_stats", _ReactorStats), ("zenith_backend_info", _BackendInfo),
            ("zenith_connect_config", _ConnectConfig), ("zenith_addr", _Addr),
            ("zenith_udp_datagram", _UdpDatagram), ("zenith_udp_config", _UdpConfig), ("zenith_udp_info", _UdpInfo),
            ("ArrowSchema", ArrowSchema), ("ArrowArray", ArrowArray), ("zenith_batch", _Batch),
            ("zenith_engine_stats", _EngineStats), ("zenith_plugin_config", _PluginConfig),
            ("zenith_plugin_stats", _PluginStats)]

check_layout()
