//! Safe Rust bindings for Zenith: the buffer pool, the reactor (TCP listeners, outbound
//! connections, timers, messages posted from other threads, UDP sockets and multicast, with
//! closures for callbacks), the data-plane engine on the Arrow C Data Interface with its
//! WebAssembly plugins, and the NUMA helpers.
//!
//! Every handle is RAII (dropped = destroyed); every failure is an [`Error`] carrying the Zenith
//! code and its name. Ownership follows docs/FFI.md: [`Engine::publish`] moves an Arrow array
//! in (the structs read as released afterwards, and stay yours on error); a [`Batch`] from
//! [`Engine::poll`] runs the Arrow release callbacks exactly once, when dropped.
//!
//! Threads: [`Pool`] and [`Engine`] are `Send + Sync`. A [`Server`] is `Send` (create it
//! anywhere, move it to the thread that starts and drives it) but not `Sync`; every closure it
//! holds must therefore be `Send`. [`Poster`] and [`Stopper`] are `Send + Sync + Clone` handles
//! that any thread may use while the server lives (and get `ZENITH_E_STALE` after it is gone).
//!
//! Callbacks run on the reactor's thread inside [`Server::run_once`] and receive a
//! [`Reactor`]: the calls allowed inside a callback (send, close, connect, listen, timers,
//! post, UDP, stats). `run_once`, `start` and `shutdown` live on [`Server`] only, so a callback
//! cannot even name them. A panic inside a callback is caught before it reaches C and
//! returned by `run_once` as an [`Error`] ([`Error::is_panic`]); the payload is kept for
//! [`Server::take_panic`].
//!
//! The struct layouts mirrored here are checked against the library's layout table
//! (`zenith_layout_*`) before the first pool, server or engine is created ([`layout::check`]).
//!
//! Written for Rust 1.63 (Debian 12's) and later, std only.
#![allow(non_camel_case_types)]

use std::any::Any;
use std::cell::RefCell;
use std::collections::{HashMap, HashSet};
use std::ffi::{CStr, CString};
use std::fmt;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};
use std::os::raw::{c_char, c_int, c_long, c_void};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::ptr;
use std::sync::atomic::{AtomicPtr, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

// ---- the C ABI ---------------------------------------------------------------------------------

/// The Arrow C Data Interface schema struct, as the specification declares it.
#[repr(C)]
pub struct ArrowSchema {
    pub format: *const c_char,
    pub name: *const c_char,
    pub metadata: *const c_char,
    pub flags: i64,
    pub n_children: i64,
    pub children: *mut *mut ArrowSchema,
    pub dictionary: *mut ArrowSchema,
    pub release: Option<unsafe extern "C" fn(*mut ArrowSchema)>,
    pub private_data: *mut c_void,
}

/// The Arrow C Data Interface array struct, as the specification declares it.
#[repr(C)]
pub struct ArrowArray {
    pub length: i64,
    pub null_count: i64,
    pub offset: i64,
    pub n_buffers: i64,
    pub n_children: i64,
    pub buffers: *mut *const c_void,
    pub children: *mut *mut ArrowArray,
    pub dictionary: *mut ArrowArray,
    pub release: Option<unsafe extern "C" fn(*mut ArrowArray)>,
    pub private_data: *mut c_void,
}

#[repr(C)]
struct zenith_batch {
    source_id: u64,
    seq_no: u64,
    array: ArrowArray,
    schema: ArrowSchema,
}

/// Engine counters (zenith_engine_stats).
#[repr(C)]
#[derive(Debug, Default, Clone, Copy)]
pub struct EngineStats {
    pub capacity: u64,
    pub published: u64,
    pub polled: u64,
    pub released: u64,
    pub rejected_full: u64,
    pub rejected_invalid: u64,
    pub seq_gaps: u64,
    pub seq_duplicates: u64,
    pub sources: u64,
    pub sources_untracked: u64,
}

#[repr(C)]
struct zenith_allocator {
    alloc: *mut c_void,
    free: *mut c_void,
    user: *mut c_void,
}

#[repr(C)]
struct zenith_pool_config {
    struct_size: u32,
    buffer_count: u32,
    buffer_size: usize,
    cache_size: u32,
    flags: u32,
    numa_node: i32,
    reserved_: u32,
    memory: *mut c_void,
    memory_size: usize,
    allocator: zenith_allocator,
}

/// Pool counters (zenith_pool_stats).
#[repr(C)]
#[derive(Debug, Default, Clone, Copy)]
pub struct PoolStats {
    pub total: u64,
    pub in_use: u64,
    pub free: u64,
    pub acquires: u64,
    pub releases: u64,
    pub failed_acquires: u64,
    pub rejected_releases: u64,
    pub rejected_foreign: u64,
    pub rejected_misaligned: u64,
    pub rejected_double: u64,
}

/// Server configuration (zenith_server_config); zero means default in every field. The
/// address is given to [`Server::new`]. Set `backend` to a [`Backend`] (`as u32`).
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct ServerConfig {
    struct_size: u32,
    pub port: u16,
    reserved_: u16,
    address: *const c_char,
    pub flags: u32,
    pub max_connections: u32,
    pub buffer_size: u32,
    pub buffer_count: u32,
    pub recv_buffers: u32,
    pub send_queue_max: u32,
    pub zerocopy_min: u32,
    pub idle_timeout_ms: u32,
    pub sq_entries: u32,
    pub backlog: u32,
    pub cpu: u32,
    pub numa_node: i32,
    pub max_timers: u32,
    pub post_queue: u32,
    pub send_reserve: u32,
    pub backend: u32,
    pub max_udp: u32,
    pub udp_queue: u32,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            struct_size: std::mem::size_of::<ServerConfig>() as u32,
            address: ptr::null(),
            port: 0,
            reserved_: 0,
            flags: 0,
            max_connections: 0,
            buffer_size: 0,
            buffer_count: 0,
            recv_buffers: 0,
            send_queue_max: 0,
            zerocopy_min: 0,
            idle_timeout_ms: 0,
            sq_entries: 0,
            backlog: 0,
            cpu: 0,
            numa_node: 0,
            max_timers: 0,
            post_queue: 0,
            send_reserve: 0,
            backend: 0,
            max_udp: 0,
            udp_queue: 0,
        }
    }
}

/// zenith_server_flags (for [`ServerConfig::flags`]).
pub const SERVER_REUSEPORT: u32 = 1 << 0;
pub const SERVER_NO_NODELAY: u32 = 1 << 1;
pub const SERVER_PIN_CPU: u32 = 1 << 2;
pub const SERVER_SQPOLL: u32 = 1 << 3;
pub const SERVER_NO_ZEROCOPY: u32 = 1 << 4;
pub const SERVER_ZEROCOPY_LOOPBACK: u32 = 1 << 5;
pub const SERVER_NUMA_NODE: u32 = 1 << 6;
/// No listener at create: a reactor for outbound connections, timers, posts and UDP (give
/// [`Server::new`] an empty address and port 0).
pub const SERVER_NO_LISTEN: u32 = 1 << 7;
pub const SERVER_NO_QUEUE_PAUSE: u32 = 1 << 8;

/// Server counters (zenith_server_stats).
#[repr(C)]
#[derive(Debug, Default, Clone, Copy)]
pub struct ServerStats {
    pub connections_open: u64,
    pub connections_accepted: u64,
    pub connections_closed: u64,
    pub connections_rejected: u64,
    pub bytes_in: u64,
    pub bytes_out: u64,
    pub recv_buffer_exhausted: u64,
    pub send_queue_full: u64,
    pub stale_completions: u64,
    pub accept_errors: u64,
    pub connection_errors: u64,
    pub zerocopy_sends: u64,
    pub cq_overflow: u64,
}

/// The reactor's own counters (zenith_reactor_stats).
#[repr(C)]
#[derive(Debug, Default, Clone, Copy)]
pub struct ReactorStats {
    pub listeners: u64,
    pub connects_started: u64,
    pub connects_succeeded: u64,
    pub connects_failed: u64,
    pub connects_timed_out: u64,
    pub connects_canceled: u64,
    pub timers_armed: u64,
    pub timers_fired: u64,
    pub timers_skipped: u64,
    pub posts_run: u64,
    pub posts_refused: u64,
    pub wakeups: u64,
    pub send_pool_empty: u64,
    pub deliveries_held: u64,
    pub misuse_refused: u64,
    pub loop_iterations: u64,
}

type ConnectFn = unsafe extern "C" fn(*mut c_void, u64, c_int);
type TimerFn = unsafe extern "C" fn(*mut c_void, u64);
type PostFn = unsafe extern "C" fn(*mut c_void, *mut c_void, usize);
type UdpRecvFn = unsafe extern "C" fn(*mut c_void, u64, *const zenith_udp_datagram);
type UdpWritableFn = unsafe extern "C" fn(*mut c_void, u64);

#[repr(C)]
struct zenith_connect_config {
    struct_size: u32,
    port: u16,
    local_port: u16,
    address: *const c_char,
    local_address: *const c_char,
    flags: u32,
    timeout_ms: u32,
    keepalive_idle_s: u32,
    keepalive_intvl_s: u32,
    keepalive_count: u32,
    user_timeout_ms: u32,
    on_connect: Option<ConnectFn>,
    user: *mut c_void,
}

#[repr(C)]
struct zenith_backend_info {
    struct_size: u32,
    backend: i32,
    reason: i32,
    uring_errno: i32,
    uring_sysctl: i32,
    reserved_: u32,
    name: *const c_char,
    why: *const c_char,
}

#[repr(C)]
#[derive(Clone, Copy)]
struct zenith_addr {
    sa: [u8; 28],
    len: u32,
}

#[repr(C)]
struct zenith_udp_datagram {
    data: *const u8,
    len: u32,
    orig_len: u32,
    flags: u32,
    kernel_drops: u32,
    from: *const zenith_addr,
    ts_ns: i64,
    hw_ts_ns: i64,
}

#[repr(C)]
struct zenith_udp_config {
    struct_size: u32,
    flags: u32,
    address: *const c_char,
    port: u16,
    peer_port: u16,
    rcvbuf: u32,
    peer_address: *const c_char,
    sndbuf: u32,
    reserved_: u32,
    on_recv: Option<UdpRecvFn>,
    on_writable: Option<UdpWritableFn>,
    user: *mut c_void,
}

#[repr(C)]
struct zenith_udp_info {
    struct_size: u32,
    features: u32,
    local: zenith_addr,
    peer: zenith_addr,
    recv_capacity: u32,
    queued: u32,
    datagrams_in: u64,
    bytes_in: u64,
    datagrams_out: u64,
    bytes_out: u64,
    truncated: u64,
    gro_batches: u64,
    gso_sends: u64,
    recv_stalls: u64,
    kernel_drops: u64,
    recv_errors: u64,
    send_full: u64,
    send_errors: u64,
    last_error: i32,
    reserved_: u32,
}

#[repr(C)]
struct zenith_plugin_config {
    struct_size: u32,
    flags: u32,
    instances: u32,
    max_failures: u32,
    fuel: u64,
    fuel_per_row: u64,
    max_rows: u32,
    max_memory_pages: u32,
    params: *const c_void,
    params_len: usize,
}

/// A plugin's counters (zenith_plugin_stats): sums over its instances.
#[repr(C)]
#[derive(Debug, Default, Clone, Copy)]
pub struct PluginStats {
    struct_size: u32,
    pub disabled: u32,
    pub instances: u32,
    pub last_trap: i32,
    pub calls: u64,
    pub rows_in: u64,
    pub rows_out: u64,
    pub passed: u64,
    pub rejected: u64,
    pub selected: u64,
    pub failures: u64,
    pub traps: u64,
    pub fuel_exhausted: u64,
    pub errors: u64,
    pub skipped: u64,
    pub fuel_used: u64,
    pub waits: u64,
    pub consecutive_failures: u64,
}

type AcceptFn = unsafe extern "C" fn(*mut c_void, u64);
type DataFn = unsafe extern "C" fn(*mut c_void, u64, *const u8, usize);
type CloseFn = unsafe extern "C" fn(*mut c_void, u64, c_int);

enum zenith_pool {}
enum zenith_server {}
enum zenith_engine {}

extern "C" {
    fn zenith_version() -> c_long;
    fn zenith_strerror(code: c_int) -> *const c_char;
    fn zenith_errname(code: c_int) -> *const c_char;
    fn zenith_numa_strerror(code: c_int) -> *const c_char;
    fn zenith_numa_errname(code: c_int) -> *const c_char;

    fn zenith_layout_count() -> usize;
    fn zenith_layout_get(
        i: usize,
        type_: *mut *const c_char,
        field: *mut *const c_char,
        offset: *mut usize,
        size: *mut usize,
    ) -> c_int;
    fn zenith_layout_find(type_: *const c_char, field: *const c_char, offset: *mut usize, size: *mut usize) -> c_int;
    fn zenith_layout_hash() -> u64;

    fn zenith_pool_create(cfg: *const zenith_pool_config, err: *mut c_int) -> *mut zenith_pool;
    fn zenith_pool_destroy(p: *mut zenith_pool);
    fn zenith_pool_acquire(p: *mut zenith_pool) -> *mut c_void;
    fn zenith_pool_release(p: *mut zenith_pool, buf: *mut c_void) -> c_int;
    fn zenith_pool_get_stats(p: *const zenith_pool, out: *mut PoolStats) -> c_int;

    fn zenith_server_create(cfg: *const ServerConfig, err: *mut c_int) -> *mut zenith_server;
    fn zenith_server_set_callbacks(
        s: *mut zenith_server,
        a: Option<AcceptFn>,
        d: Option<DataFn>,
        c: Option<CloseFn>,
        user: *mut c_void,
    ) -> c_int;
    fn zenith_server_start(s: *mut zenith_server) -> c_int;
    fn zenith_server_run_once(s: *mut zenith_server, timeout_ms: c_int) -> c_int;
    fn zenith_server_stop(s: *mut zenith_server);
    fn zenith_server_stopped(s: *const zenith_server) -> c_int;
    fn zenith_server_shutdown(s: *mut zenith_server, deadline_ms: c_int) -> c_int;
    fn zenith_server_destroy(s: *mut zenith_server);
    fn zenith_server_listen(s: *mut zenith_server, address: *const c_char, port: u16, flags: u32) -> c_int;
    fn zenith_server_connect(s: *mut zenith_server, cfg: *const zenith_connect_config, out: *mut u64) -> c_int;
    fn zenith_server_timer_start(
        s: *mut zenith_server,
        delay_ms: u32,
        period_ms: u32,
        f: Option<TimerFn>,
        user: *mut c_void,
        out: *mut u64,
    ) -> c_int;
    fn zenith_server_timer_stop(s: *mut zenith_server, timer: u64) -> c_int;
    fn zenith_server_post(s: *mut zenith_server, f: Option<PostFn>, user: *mut c_void, data: *const c_void, len: usize)
        -> c_int;
    fn zenith_server_send(s: *mut zenith_server, conn: u64, data: *const c_void, len: usize) -> c_int;
    fn zenith_server_close(s: *mut zenith_server, conn: u64, flags: c_int) -> c_int;
    fn zenith_server_queued(s: *mut zenith_server, conn: u64) -> c_int;
    fn zenith_server_get_conn_user(s: *mut zenith_server, conn: u64) -> *mut c_void;
    fn zenith_server_port(s: *const zenith_server) -> u16;
    fn zenith_server_get_stats(s: *const zenith_server, out: *mut ServerStats) -> c_int;
    fn zenith_server_get_reactor_stats(s: *const zenith_server, out: *mut ReactorStats) -> c_int;
    fn zenith_server_backend_info(s: *const zenith_server, out: *mut zenith_backend_info) -> c_int;

    fn zenith_addr_format(a: *const zenith_addr, buf: *mut c_char, cap: usize) -> c_int;
    fn zenith_udp_open(s: *mut zenith_server, cfg: *const zenith_udp_config, out: *mut u64) -> c_int;
    fn zenith_udp_close(s: *mut zenith_server, sock: u64) -> c_int;
    fn zenith_udp_send(s: *mut zenith_server, sock: u64, data: *const c_void, len: usize, to: *const zenith_addr)
        -> c_int;
    fn zenith_udp_send_gso(
        s: *mut zenith_server,
        sock: u64,
        data: *const c_void,
        len: usize,
        seg: u32,
        to: *const zenith_addr,
    ) -> c_int;
    fn zenith_udp_join(
        s: *mut zenith_server,
        sock: u64,
        group: *const c_char,
        source: *const c_char,
        ifname: *const c_char,
    ) -> c_int;
    fn zenith_udp_leave(
        s: *mut zenith_server,
        sock: u64,
        group: *const c_char,
        source: *const c_char,
        ifname: *const c_char,
    ) -> c_int;
    fn zenith_udp_multicast_send_opts(
        s: *mut zenith_server,
        sock: u64,
        ifname: *const c_char,
        ttl: c_int,
        lp: c_int,
    ) -> c_int;
    fn zenith_udp_get_info(s: *mut zenith_server, sock: u64, out: *mut zenith_udp_info) -> c_int;
    fn zenith_udp_port(s: *mut zenith_server, sock: u64) -> u16;

    fn zenith_engine_create(capacity: u32) -> *mut zenith_engine;
    fn zenith_engine_publish(
        e: *mut zenith_engine,
        a: *mut ArrowArray,
        s: *mut ArrowSchema,
        src: u64,
        seq: u64,
    ) -> c_int;
    fn zenith_engine_poll(e: *mut zenith_engine, out: *mut zenith_batch) -> c_int;
    fn zenith_batch_release(e: *mut zenith_engine, b: *mut zenith_batch) -> c_int;
    fn zenith_engine_load_plugin(e: *mut zenith_engine, wasm: *const u8, len: usize) -> c_int;
    fn zenith_load_plugin_ex(
        e: *mut zenith_engine,
        wasm: *const u8,
        len: usize,
        cfg: *const zenith_plugin_config,
        reason: *mut c_char,
        cap: usize,
    ) -> c_int;
    fn zenith_plugin_last_error(e: *mut zenith_engine, buf: *mut c_char, cap: usize) -> c_int;
    fn zenith_unload_plugin(e: *mut zenith_engine, id: c_int) -> c_int;
    fn zenith_plugin_get_stats(e: *mut zenith_engine, id: c_int, out: *mut PluginStats) -> c_int;
    fn zenith_plugin_result(e: *mut zenith_engine, id: c_int, out: *mut f64, n: usize) -> c_int;
    fn zenith_poll_selection(
        e: *mut zenith_engine,
        out: *mut zenith_batch,
        bits: *mut u8,
        cap: usize,
        selected: *mut i64,
    ) -> c_int;
    fn zenith_engine_get_stats(e: *mut zenith_engine, out: *mut EngineStats) -> c_int;
    fn zenith_engine_destroy(e: *mut zenith_engine);

    fn zenith_numa_init() -> c_int;
    fn zenith_numa_cleanup();
    fn zenith_numa_node_count() -> c_int;
    fn zenith_numa_node_of_cpu(cpu: c_int) -> c_int;
    fn zenith_numa_alloc_onnode(size: usize, node: c_int) -> *mut c_void;
    fn zenith_numa_free(p: *mut c_void, size: usize) -> c_int;
    fn zenith_numa_last_error() -> c_int;
    fn zenith_numa_bind_thread_to_node(node: c_int) -> c_int;
    fn zenith_numa_unbind_thread() -> c_int;
    fn zenith_numa_node_of_address(addr: *const c_void) -> c_int;
}

/// The (major, minor) of zenith.h these bindings were written for.
pub const WRAPPED_VERSION: (u32, u32) = (0, 2);

/// (major, minor, patch) of the linked library.
pub fn version() -> (u32, u32, u32) {
    let v = unsafe { zenith_version() } as u32;
    (v / 1_000_000, v / 1000 % 1000, v % 1000)
}

// ---- errors --------------------------------------------------------------------------------------

/// A negative Zenith code (zenith.h's table, or zenith_numa.h's), with an optional detail
/// (a plugin's load failure reason, a layout mismatch), or a panic caught in a callback.
#[derive(Clone, PartialEq, Eq)]
pub struct Error {
    code: i32,
    numa: bool,
    panic: bool,
    detail: Option<Arc<str>>,
}

pub const E_NULL: i32 = -1;
pub const E_FULL: i32 = -2;
pub const E_PLUGIN: i32 = -3;
pub const E_FFI: i32 = -4;
pub const E_INVAL: i32 = -5;
pub const E_UNSUPPORTED: i32 = -7;
pub const E_STALE: i32 = -8;
pub const E_EXIST: i32 = -9;
pub const E_TIMEDOUT: i32 = -10;
pub const E_RANGE: i32 = -15;
pub const E_URING_DISABLED: i32 = -16;
pub const E_STATE: i32 = -17;
pub const E_CANCELED: i32 = -18;
pub const E_NOT_FOUND: i32 = -19;
/// Not a library code: what [`Error::code`] returns for a panic caught in a callback.
pub const E_CALLBACK_PANIC: i32 = i32::MIN;

/// ZENITH_ESYS(errno): a kernel error carried as a Zenith code.
pub const fn esys(errno: i32) -> i32 {
    -(1000 + errno)
}

impl Error {
    pub fn new(code: i32) -> Self {
        Error { code, numa: false, panic: false, detail: None }
    }
    fn numa(code: i32) -> Self {
        Error { code, numa: true, panic: false, detail: None }
    }
    fn with_detail(code: i32, detail: String) -> Self {
        Error { code, numa: false, panic: false, detail: Some(Arc::from(detail)) }
    }
    fn from_panic(payload: &(dyn Any + Send)) -> Self {
        let msg = if let Some(s) = payload.downcast_ref::<&str>() {
            (*s).to_string()
        } else if let Some(s) = payload.downcast_ref::<String>() {
            s.clone()
        } else {
            "(a payload that is not a string)".to_string()
        };
        Error { code: E_CALLBACK_PANIC, numa: false, panic: true, detail: Some(Arc::from(msg)) }
    }
    /// The Zenith code (negative), or [`E_CALLBACK_PANIC`].
    pub fn code(&self) -> i32 {
        self.code
    }
    /// Its name, e.g. "ZENITH_E_FULL", "ECONNREFUSED" (zenith_errname), "RUST_CALLBACK_PANIC".
    pub fn name(&self) -> &'static str {
        if self.panic {
            return "RUST_CALLBACK_PANIC";
        }
        let p = unsafe {
            if self.numa {
                zenith_numa_errname(self.code)
            } else {
                zenith_errname(self.code)
            }
        };
        unsafe { CStr::from_ptr(p) }.to_str().unwrap_or("?")
    }
    /// The library's description of the code (zenith_strerror).
    pub fn text(&self) -> &'static str {
        if self.panic {
            return "a callback panicked";
        }
        let p = unsafe {
            if self.numa {
                zenith_numa_strerror(self.code)
            } else {
                zenith_strerror(self.code)
            }
        };
        unsafe { CStr::from_ptr(p) }.to_str().unwrap_or("?")
    }
    /// More about this failure: a plugin's load failure reason, the layout mismatch, the
    /// panic message.
    pub fn detail(&self) -> Option<&str> {
        self.detail.as_deref()
    }
    /// True for a panic caught inside a callback (returned by [`Server::run_once`]).
    pub fn is_panic(&self) -> bool {
        self.panic
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.detail {
            Some(d) => write!(f, "{} ({}): {}", self.name(), self.code, d),
            None => write!(f, "{} ({})", self.name(), self.code),
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.detail {
            Some(d) if self.panic => write!(f, "a callback panicked: {}", d),
            Some(d) => write!(f, "{} ({} {})", d, self.name(), self.code),
            None => write!(f, "{}: {} ({})", self.name(), self.text(), self.code),
        }
    }
}

impl std::error::Error for Error {}

pub type Result<T> = std::result::Result<T, Error>;

fn check(rc: c_int) -> Result<i32> {
    if rc < 0 {
        Err(Error::new(rc))
    } else {
        Ok(rc)
    }
}

fn cstring(s: &str) -> Result<CString> {
    CString::new(s).map_err(|_| Error::with_detail(E_INVAL, format!("zenith: a NUL byte in {:?}", s)))
}

fn opt_cstring(s: Option<&str>) -> Result<Option<CString>> {
    match s {
        Some(s) => cstring(s).map(Some),
        None => Ok(None),
    }
}

fn opt_ptr(s: &Option<CString>) -> *const c_char {
    s.as_ref().map_or(ptr::null(), |c| c.as_ptr())
}

// ---- the layout check --------------------------------------------------------------------------

/// The ABI layout check: every struct this crate mirrors, field by field and whole, against
/// the library's table (`zenith_layout_find` / `zenith_layout_get`).
pub mod layout {
    use super::*;
    use std::mem::MaybeUninit;

    /// One row: `type_name.field` at `offset`, `size` bytes (field "" = the whole struct).
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct FieldLayout {
        pub type_name: &'static str,
        pub field: &'static str,
        pub offset: usize,
        pub size: usize,
    }

    fn size_of_pointee<T>(_: *const T) -> usize {
        std::mem::size_of::<T>()
    }

    // Offsets without offset_of! (Rust 1.77): the distance between a field's address and the
    // struct's, taken on uninitialised memory with addr_of! (no reference to it is made).
    macro_rules! rows {
        ($v:ident, $t:ty, $name:expr, [$($f:ident),* $(,)?]) => {{
            $v.push(FieldLayout { type_name: $name, field: "", offset: 0, size: std::mem::size_of::<$t>() });
            let u = MaybeUninit::<$t>::uninit();
            let base = u.as_ptr();
            $({
                let p = unsafe { ptr::addr_of!((*base).$f) };
                $v.push(FieldLayout {
                    type_name: $name,
                    field: stringify!($f),
                    offset: p as usize - base as usize,
                    size: size_of_pointee(p),
                });
            })*
        }};
    }

    /// Every struct layout this crate declares, as it compiled them.
    pub fn mirrored() -> Vec<FieldLayout> {
        let mut v = Vec::new();
        rows!(v, ArrowSchema, "ArrowSchema",
            [format, name, metadata, flags, n_children, children, dictionary, release, private_data]);
        rows!(v, ArrowArray, "ArrowArray",
            [length, null_count, offset, n_buffers, n_children, buffers, children, dictionary, release, private_data]);
        rows!(v, zenith_batch, "zenith_batch", [source_id, seq_no, array, schema]);
        rows!(v, EngineStats, "zenith_engine_stats",
            [capacity, published, polled, released, rejected_full, rejected_invalid, seq_gaps, seq_duplicates,
             sources, sources_untracked]);
        rows!(v, zenith_allocator, "zenith_allocator", [alloc, free, user]);
        rows!(v, zenith_pool_config, "zenith_pool_config",
            [struct_size, buffer_count, buffer_size, cache_size, flags, numa_node, reserved_, memory, memory_size,
             allocator]);
        rows!(v, PoolStats, "zenith_pool_stats",
            [total, in_use, free, acquires, releases, failed_acquires, rejected_releases, rejected_foreign,
             rejected_misaligned, rejected_double]);
        rows!(v, ServerConfig, "zenith_server_config",
            [struct_size, port, reserved_, address, flags, max_connections, buffer_size, buffer_count, recv_buffers,
             send_queue_max, zerocopy_min, idle_timeout_ms, sq_entries, backlog, cpu, numa_node, max_timers,
             post_queue, send_reserve, backend, max_udp, udp_queue]);
        rows!(v, ServerStats, "zenith_server_stats",
            [connections_open, connections_accepted, connections_closed, connections_rejected, bytes_in, bytes_out,
             recv_buffer_exhausted, send_queue_full, stale_completions, accept_errors, connection_errors,
             zerocopy_sends, cq_overflow]);
        rows!(v, ReactorStats, "zenith_reactor_stats",
            [listeners, connects_started, connects_succeeded, connects_failed, connects_timed_out,
             connects_canceled, timers_armed, timers_fired, timers_skipped, posts_run, posts_refused, wakeups,
             send_pool_empty, deliveries_held, misuse_refused, loop_iterations]);
        rows!(v, zenith_connect_config, "zenith_connect_config",
            [struct_size, port, local_port, address, local_address, flags, timeout_ms, keepalive_idle_s,
             keepalive_intvl_s, keepalive_count, user_timeout_ms, on_connect, user]);
        rows!(v, zenith_backend_info, "zenith_backend_info",
            [struct_size, backend, reason, uring_errno, uring_sysctl, reserved_, name, why]);
        rows!(v, zenith_addr, "zenith_addr", [sa, len]);
        rows!(v, zenith_udp_datagram, "zenith_udp_datagram",
            [data, len, orig_len, flags, kernel_drops, from, ts_ns, hw_ts_ns]);
        rows!(v, zenith_udp_config, "zenith_udp_config",
            [struct_size, flags, address, port, peer_port, rcvbuf, peer_address, sndbuf, reserved_, on_recv,
             on_writable, user]);
        rows!(v, zenith_udp_info, "zenith_udp_info",
            [struct_size, features, local, peer, recv_capacity, queued, datagrams_in, bytes_in, datagrams_out,
             bytes_out, truncated, gro_batches, gso_sends, recv_stalls, kernel_drops, recv_errors, send_full,
             send_errors, last_error, reserved_]);
        rows!(v, zenith_plugin_config, "zenith_plugin_config",
            [struct_size, flags, instances, max_failures, fuel, fuel_per_row, max_rows, max_memory_pages, params,
             params_len]);
        rows!(v, PluginStats, "zenith_plugin_stats",
            [struct_size, disabled, instances, last_trap, calls, rows_in, rows_out, passed, rejected, selected,
             failures, traps, fuel_exhausted, errors, skipped, fuel_used, waits, consecutive_failures]);
        v
    }

    fn label(t: &str, f: &str) -> String {
        if f.is_empty() {
            t.to_string()
        } else {
            format!("{}.{}", t, f)
        }
    }

    fn mismatch(what: String) -> Error {
        Error::with_detail(E_FFI, format!("zenith: layout mismatch: {}", what))
    }

    /// Checks `rows` against the library's table: every row must be there with the same offset
    /// and size, and every field the library lists for a type in `rows` must be in `rows`.
    /// Err(ZENITH_E_FFI) with the first mismatch as detail, e.g. `zenith: layout mismatch:
    /// zenith_server_config.max_udp: binding has offset 88 size 4, library has offset 92 size 4`.
    pub fn check(rows: &[FieldLayout]) -> Result<()> {
        for r in rows {
            let t = cstring(r.type_name)?;
            let f = cstring(r.field)?;
            let (mut off, mut size) = (0usize, 0usize);
            let rc = unsafe { zenith_layout_find(t.as_ptr(), f.as_ptr(), &mut off, &mut size) };
            if rc == E_NOT_FOUND {
                return Err(mismatch(format!(
                    "{}: binding has offset {} size {}, library has no such {}",
                    label(r.type_name, r.field),
                    r.offset,
                    r.size,
                    if r.field.is_empty() { "struct" } else { "field" }
                )));
            }
            super::check(rc)?;
            if off != r.offset || size != r.size {
                return Err(mismatch(format!(
                    "{}: binding has offset {} size {}, library has offset {} size {}",
                    label(r.type_name, r.field),
                    r.offset,
                    r.size,
                    off,
                    size
                )));
            }
        }
        let types: HashSet<&str> = rows.iter().map(|r| r.type_name).collect();
        for (t, f, off, size) in library() {
            if types.contains(t) && !rows.iter().any(|r| r.type_name == t && r.field == f) {
                return Err(mismatch(format!(
                    "{}: binding has no such field, library has offset {} size {}",
                    label(t, f),
                    off,
                    size
                )));
            }
        }
        Ok(())
    }

    /// The library's whole table: (type, field, offset, size) rows in its order.
    pub fn library() -> Vec<(&'static str, &'static str, usize, usize)> {
        let n = unsafe { zenith_layout_count() };
        let mut v = Vec::with_capacity(n);
        for i in 0..n {
            let (mut t, mut f) = (ptr::null(), ptr::null());
            let (mut off, mut size) = (0usize, 0usize);
            if unsafe { zenith_layout_get(i, &mut t, &mut f, &mut off, &mut size) } == 0 {
                let t = unsafe { CStr::from_ptr(t) }.to_str().unwrap_or("?");
                let f = unsafe { CStr::from_ptr(f) }.to_str().unwrap_or("?");
                v.push((t, f, off, size));
            }
        }
        v
    }

    /// zenith_layout_hash: equal hashes, equal tables.
    pub fn library_hash() -> u64 {
        unsafe { zenith_layout_hash() }
    }

    static CHECKED: Mutex<Option<Result<()>>> = Mutex::new(None);

    /// The check of [`mirrored`], done once per process (every constructor calls it).
    pub fn ensure() -> Result<()> {
        let mut g = CHECKED.lock().unwrap_or_else(|e| e.into_inner());
        if g.is_none() {
            *g = Some(check(&mirrored()));
        }
        g.as_ref().unwrap().clone()
    }
}
// ---- pool ------------------------------------------------------------------------------------------

/// A zenith_pool of fixed-size, page-aligned buffers. Thread-safe.
pub struct Pool {
    raw: *mut zenith_pool,
    buffer_size: usize,
}

unsafe impl Send for Pool {}
unsafe impl Sync for Pool {}

/// A buffer taken from a pool; given back when dropped.
pub struct PoolBuffer<'p> {
    pool: &'p Pool,
    ptr: *mut u8,
}

impl Pool {
    /// `buffer_size` a multiple of 64 (0 = 4096), `buffer_count` (0 = 1024).
    pub fn new(buffer_size: usize, buffer_count: u32) -> Result<Pool> {
        layout::ensure()?;
        let cfg = zenith_pool_config {
            struct_size: std::mem::size_of::<zenith_pool_config>() as u32,
            buffer_size,
            buffer_count,
            cache_size: 0,
            flags: 0,
            numa_node: 0,
            reserved_: 0,
            memory: ptr::null_mut(),
            memory_size: 0,
            allocator: zenith_allocator { alloc: ptr::null_mut(), free: ptr::null_mut(), user: ptr::null_mut() },
        };
        let mut err: c_int = 0;
        let raw = unsafe { zenith_pool_create(&cfg, &mut err) };
        if raw.is_null() {
            return Err(Error::new(err));
        }
        Ok(Pool { raw, buffer_size: if buffer_size == 0 { 4096 } else { buffer_size } })
    }

    /// A buffer, or None when none is free.
    pub fn acquire(&self) -> Option<PoolBuffer<'_>> {
        let p = unsafe { zenith_pool_acquire(self.raw) } as *mut u8;
        if p.is_null() {
            None
        } else {
            Some(PoolBuffer { pool: self, ptr: p })
        }
    }

    pub fn stats(&self) -> PoolStats {
        let mut st = PoolStats::default();
        unsafe { zenith_pool_get_stats(self.raw, &mut st) };
        st
    }

    /// Gives back a raw buffer address (e.g. one handed over from C). Checked: foreign,
    /// misaligned and double releases are errors.
    ///
    /// # Safety
    /// `ptr` must not be used after a successful release.
    pub unsafe fn release_raw(&self, ptr: *mut u8) -> Result<()> {
        check(zenith_pool_release(self.raw, ptr as *mut c_void)).map(|_| ())
    }
}

impl Drop for Pool {
    fn drop(&mut self) {
        unsafe { zenith_pool_destroy(self.raw) }
    }
}

impl<'p> PoolBuffer<'p> {
    pub fn as_ptr(&self) -> *mut u8 {
        self.ptr
    }
    /// Keeps the buffer out of the pool (give it back with `Pool::release_raw`).
    pub fn into_raw(self) -> *mut u8 {
        let p = self.ptr;
        std::mem::forget(self);
        p
    }
}

impl<'p> std::ops::Deref for PoolBuffer<'p> {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        unsafe { std::slice::from_raw_parts(self.ptr, self.pool.buffer_size) }
    }
}

impl<'p> std::ops::DerefMut for PoolBuffer<'p> {
    fn deref_mut(&mut self) -> &mut [u8] {
        unsafe { std::slice::from_raw_parts_mut(self.ptr, self.pool.buffer_size) }
    }
}

impl<'p> Drop for PoolBuffer<'p> {
    fn drop(&mut self) {
        unsafe { zenith_pool_release(self.pool.raw, self.ptr as *mut c_void) };
    }
}

// ---- reactor ---------------------------------------------------------------------------------------

/// A connection id (zenith_conn_id): stale for ever once the connection closed.
pub type ConnId = u64;
/// A timer id (zenith_timer_id).
pub type TimerId = u64;
/// A UDP socket id (zenith_udp_id).
pub type UdpId = u64;

/// zenith_close_reason: the `reason` given to on_close (negative: an error code).
pub const CLOSE_PEER: i32 = 0;
pub const CLOSE_LOCAL: i32 = 1;
pub const CLOSE_IDLE: i32 = 2;
pub const CLOSE_SHUTDOWN: i32 = 3;

/// How [`Conn::close`] / [`Reactor::close`] closes (zenith_close_flags).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CloseMode {
    /// Send what is queued, then close.
    Flush = 0,
    /// Drop what is queued, close now.
    Abort = 1,
    /// Half-close: send what is queued, then shut our sending side.
    Write = 2,
}

/// The event backend (zenith_backend): set `ServerConfig::backend = Backend::Epoll as u32`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// io_uring where the kernel allows it, else epoll; ZENITH_BACKEND decides first.
    Auto = 0,
    /// io_uring or nothing (create fails with ZENITH_E_URING_DISABLED).
    IoUring = 1,
    /// Edge-triggered epoll, whatever the kernel offers.
    Epoll = 2,
}

/// Why the backend in use was taken (zenith_backend_reason).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BackendReason {
    ByDefault,
    ByConfig,
    ByEnv,
    /// auto, and the kernel refused io_uring ([`BackendInfo::uring_errno`] says how).
    Fallback,
}

/// Which backend a reactor runs on and why (zenith_server_backend_info).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackendInfo {
    /// [`Backend::IoUring`] or [`Backend::Epoll`].
    pub backend: Backend,
    pub reason: BackendReason,
    /// With a fallback: how io_uring was refused (ENOSYS, EPERM, ...), else 0.
    pub uring_errno: i32,
    /// With a fallback: kernel.io_uring_disabled as read then (-1 unreadable).
    pub uring_sysctl: i32,
    /// "io_uring" or "epoll".
    pub name: String,
    /// One line for people.
    pub why: String,
}

/// zenith_connect_flags (for [`ConnectOptions::flags`]).
pub const CONNECT_NO_NODELAY: u32 = 1 << 0;
pub const CONNECT_KEEPALIVE: u32 = 1 << 1;

/// How to reach a peer (zenith_connect_config). Zero means default in every number.
#[derive(Debug, Clone, Default)]
pub struct ConnectOptions {
    /// A numeric IPv4 or IPv6 literal (no names: resolve on another thread).
    pub address: String,
    pub port: u16,
    /// Bind to this local address first (pick the NIC).
    pub local_address: Option<String>,
    pub local_port: u16,
    /// [`CONNECT_NO_NODELAY`], [`CONNECT_KEEPALIVE`].
    pub flags: u32,
    /// 0 = 10 s.
    pub timeout_ms: u32,
    pub keepalive_idle_s: u32,
    pub keepalive_intvl_s: u32,
    pub keepalive_count: u32,
    pub user_timeout_ms: u32,
}

impl ConnectOptions {
    pub fn new(address: &str, port: u16) -> ConnectOptions {
        ConnectOptions { address: address.to_string(), port, ..Default::default() }
    }
}

/// zenith_udp_flags (for [`UdpOptions::flags`]).
pub const UDP_REUSEADDR: u32 = 1 << 0;
pub const UDP_REUSEPORT: u32 = 1 << 1;
pub const UDP_V6ONLY: u32 = 1 << 2;
pub const UDP_GRO: u32 = 1 << 3;
pub const UDP_NO_TIMESTAMPS: u32 = 1 << 4;
pub const UDP_HW_TIMESTAMPS: u32 = 1 << 5;
pub const UDP_BROADCAST: u32 = 1 << 6;

/// zenith_udp_features (for [`UdpInfo::features`]).
pub const UDP_F_GSO: u32 = 1 << 0;
pub const UDP_F_GRO: u32 = 1 << 1;
pub const UDP_F_TS_SOFTWARE: u32 = 1 << 2;
pub const UDP_F_TS_HARDWARE: u32 = 1 << 3;
pub const UDP_F_CONNECTED: u32 = 1 << 4;
pub const UDP_F_IPV6: u32 = 1 << 5;

/// A UDP socket's configuration (zenith_udp_config). Zero means default in every number.
#[derive(Debug, Clone, Default)]
pub struct UdpOptions {
    /// IPv4 or IPv6 literal to bind; None = "0.0.0.0".
    pub address: Option<String>,
    /// 0 = the kernel picks ([`Reactor::udp_port`]).
    pub port: u16,
    /// connect(2) to this peer: sends with `to` None go there, only its datagrams arrive.
    pub peer_address: Option<String>,
    pub peer_port: u16,
    pub rcvbuf: u32,
    pub sndbuf: u32,
    /// [`UDP_REUSEADDR`], [`UDP_REUSEPORT`], ...
    pub flags: u32,
}

impl UdpOptions {
    pub fn bind(address: &str, port: u16) -> UdpOptions {
        UdpOptions { address: Some(address.to_string()), port, ..Default::default() }
    }
}

/// A UDP socket's state and counters (zenith_udp_info).
#[derive(Debug, Clone, Default)]
pub struct UdpInfo {
    pub features: u32,
    pub local: Option<SocketAddr>,
    pub peer: Option<SocketAddr>,
    pub recv_capacity: u32,
    pub queued: u32,
    pub datagrams_in: u64,
    pub bytes_in: u64,
    pub datagrams_out: u64,
    pub bytes_out: u64,
    pub truncated: u64,
    pub gro_batches: u64,
    pub gso_sends: u64,
    pub recv_stalls: u64,
    pub kernel_drops: u64,
    pub recv_errors: u64,
    pub send_full: u64,
    pub send_errors: u64,
    pub last_error: i32,
}

const AF_INET: u16 = 2;
const AF_INET6: u16 = 10;

fn addr_from(a: &SocketAddr) -> zenith_addr {
    let mut z = zenith_addr { sa: [0; 28], len: 0 };
    match a {
        SocketAddr::V4(v4) => {
            z.sa[0..2].copy_from_slice(&AF_INET.to_ne_bytes());
            z.sa[2..4].copy_from_slice(&v4.port().to_be_bytes());
            z.sa[4..8].copy_from_slice(&v4.ip().octets());
            z.len = 16;
        }
        SocketAddr::V6(v6) => {
            z.sa[0..2].copy_from_slice(&AF_INET6.to_ne_bytes());
            z.sa[2..4].copy_from_slice(&v6.port().to_be_bytes());
            z.sa[4..8].copy_from_slice(&v6.flowinfo().to_be_bytes());
            z.sa[8..24].copy_from_slice(&v6.ip().octets());
            z.sa[24..28].copy_from_slice(&v6.scope_id().to_ne_bytes());
            z.len = 28;
        }
    }
    z
}

fn addr_to(z: &zenith_addr) -> Option<SocketAddr> {
    let family = u16::from_ne_bytes([z.sa[0], z.sa[1]]);
    let port = u16::from_be_bytes([z.sa[2], z.sa[3]]);
    if z.len >= 16 && family == AF_INET {
        let ip = Ipv4Addr::new(z.sa[4], z.sa[5], z.sa[6], z.sa[7]);
        Some(SocketAddr::V4(SocketAddrV4::new(ip, port)))
    } else if z.len >= 28 && family == AF_INET6 {
        let mut o = [0u8; 16];
        o.copy_from_slice(&z.sa[8..24]);
        let flow = u32::from_be_bytes([z.sa[4], z.sa[5], z.sa[6], z.sa[7]]);
        let scope = u32::from_ne_bytes([z.sa[24], z.sa[25], z.sa[26], z.sa[27]]);
        Some(SocketAddr::V6(SocketAddrV6::new(Ipv6Addr::from(o), port, flow, scope)))
    } else {
        None
    }
}

/// The library's own text for an address ("10.0.0.1:5001", "[::1]:5001"), zenith_addr_format.
pub fn format_addr(a: &SocketAddr) -> Result<String> {
    let z = addr_from(a);
    let mut buf = [0 as c_char; 64];
    let n = check(unsafe { zenith_addr_format(&z, buf.as_mut_ptr(), buf.len()) })?;
    let bytes: Vec<u8> = buf[..n as usize].iter().map(|&c| c as u8).collect();
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

/// One received datagram, lent to the receive closure for the call.
pub struct Datagram<'a> {
    d: &'a zenith_udp_datagram,
}

impl<'a> Datagram<'a> {
    /// The payload (cut to the receive capacity when [`Datagram::truncated`]).
    pub fn data(&self) -> &'a [u8] {
        if self.d.len == 0 {
            &[]
        } else {
            unsafe { std::slice::from_raw_parts(self.d.data, self.d.len as usize) }
        }
    }
    /// The datagram's length as sent.
    pub fn orig_len(&self) -> u32 {
        self.d.orig_len
    }
    /// Longer than the receive capacity: `data()` holds the first bytes of `orig_len()`.
    pub fn truncated(&self) -> bool {
        self.d.flags & 1 != 0
    }
    /// One of several the kernel coalesced (GRO), split back.
    pub fn gro_segment(&self) -> bool {
        self.d.flags & 2 != 0
    }
    /// The sender.
    pub fn from(&self) -> Option<SocketAddr> {
        if self.d.from.is_null() {
            None
        } else {
            addr_to(unsafe { &*self.d.from })
        }
    }
    /// Kernel software receive timestamp, ns since the epoch (CLOCK_REALTIME); 0 if none.
    pub fn ts_ns(&self) -> i64 {
        self.d.ts_ns
    }
    /// The NIC's hardware timestamp, ns; 0 if none.
    pub fn hw_ts_ns(&self) -> i64 {
        self.d.hw_ts_ns
    }
    /// The socket's kernel drop counter when this datagram was queued (SO_RXQ_OVFL).
    pub fn kernel_drops(&self) -> u32 {
        self.d.kernel_drops
    }
}

/// A connection, as seen from inside a callback: send to it, close it, reach the reactor.
pub struct Conn<'a> {
    reactor: &'a Reactor,
    id: u64,
}

impl<'a> Conn<'a> {
    pub fn id(&self) -> ConnId {
        self.id
    }
    /// Copies `data` onto the connection's send queue. Err(E_FULL) past its bound.
    pub fn send(&self, data: &[u8]) -> Result<()> {
        self.reactor.send(self.id, data)
    }
    /// Closes after what is queued (abort = false) or now.
    pub fn close(&self, abort: bool) -> Result<()> {
        self.reactor.close(self.id, if abort { CloseMode::Abort } else { CloseMode::Flush })
    }
    /// The reactor this connection lives on (timers, connects, posts, UDP, ...).
    pub fn reactor(&self) -> &'a Reactor {
        self.reactor
    }
}

type DataCb = Box<dyn FnMut(&Conn<'_>, &[u8]) + Send>;
type AcceptCb = Box<dyn FnMut(&Conn<'_>) + Send>;
type CloseCb = Box<dyn FnMut(&Conn<'_>, i32) + Send>;
type ConnectCb = Box<dyn FnOnce(&Reactor, ConnId, Result<()>) + Send>;
type TimerCb = Box<dyn FnMut(&Reactor, TimerId) + Send>;
type RecvCb = Box<dyn FnMut(&Reactor, UdpId, &Datagram<'_>) + Send>;
type MessageCb = Box<dyn FnMut(&Reactor, &[u8]) + Send>;

/// An outbound connection's closures; its address is the connection's user pointer.
struct ConnState {
    reactor: *const Reactor,
    on_connect: RefCell<Option<ConnectCb>>,
    on_data: RefCell<Option<DataCb>>,
}

struct TimerEntry {
    periodic: bool,
    cb: Option<TimerCb>, // None while it runs
}

/// What other threads share with the reactor: the server pointer while it lives, the number
/// of posters inside a call, and the posted closures not run yet.
struct Gate {
    raw: AtomicPtr<zenith_server>,
    reactor: AtomicPtr<Reactor>,
    users: AtomicUsize,
    boxed: Mutex<HashSet<usize>>,
}

impl Gate {
    /// The server, pinned alive until `leave` (or None once it is being destroyed).
    fn enter(&self) -> Option<(*mut zenith_server, *mut Reactor)> {
        self.users.fetch_add(1, Ordering::SeqCst);
        let raw = self.raw.load(Ordering::SeqCst);
        if raw.is_null() {
            self.users.fetch_sub(1, Ordering::SeqCst);
            None
        } else {
            Some((raw, self.reactor.load(Ordering::SeqCst)))
        }
    }
    fn leave(&self) {
        self.users.fetch_sub(1, Ordering::SeqCst);
    }
    /// No poster or stopper reaches the server after this returns.
    fn close(&self) {
        self.raw.store(ptr::null_mut(), Ordering::SeqCst);
        while self.users.load(Ordering::SeqCst) != 0 {
            std::thread::yield_now();
        }
    }
}

/// The reactor's calls that are allowed inside callbacks (and from the reactor's thread
/// outside them): sends, closes, connects, listeners, timers, posts, UDP, stats. Reached as
/// `&Reactor` in every callback, or through a [`Server`] (which derefs to it).
pub struct Reactor {
    raw: *mut zenith_server,
    gate: Arc<Gate>,
    on_data: RefCell<Option<DataCb>>,
    on_accept: RefCell<Option<AcceptCb>>,
    on_close: RefCell<Option<CloseCb>>,
    on_message: RefCell<Option<MessageCb>>,
    conns: RefCell<HashMap<u64, Box<ConnState>>>,
    timers: RefCell<HashMap<u64, TimerEntry>>,
    udp: RefCell<HashMap<u64, Option<RecvCb>>>,
    panic: RefCell<Option<Box<dyn Any + Send>>>,
}

impl Reactor {
    /// Runs user code: a panic is kept (the first one) and never unwinds into C.
    fn guard<F: FnOnce()>(&self, f: F) {
        if let Err(p) = catch_unwind(AssertUnwindSafe(f)) {
            let mut slot = self.panic.borrow_mut();
            if slot.is_none() {
                *slot = Some(p);
            }
        }
    }

    fn conn(&self, id: u64) -> Conn<'_> {
        Conn { reactor: self, id }
    }

    /// Copies `data` onto `conn`'s send queue (on a connecting id: sent once connected).
    pub fn send(&self, conn: ConnId, data: &[u8]) -> Result<()> {
        check(unsafe { zenith_server_send(self.raw, conn, data.as_ptr() as *const c_void, data.len()) }).map(|_| ())
    }

    /// Closes `conn` (on a connecting id: cancels it, on_connect gets ZENITH_E_CANCELED).
    pub fn close(&self, conn: ConnId, mode: CloseMode) -> Result<()> {
        check(unsafe { zenith_server_close(self.raw, conn, mode as c_int) }).map(|_| ())
    }

    /// Bytes queued for sending on `conn`.
    pub fn queued(&self, conn: ConnId) -> Result<usize> {
        check(unsafe { zenith_server_queued(self.raw, conn) }).map(|n| n as usize)
    }

    /// Adds a TCP listener (port 0: the kernel picks); returns the bound port.
    pub fn listen(&self, address: &str, port: u16) -> Result<u16> {
        let a = cstring(address)?;
        check(unsafe { zenith_server_listen(self.raw, a.as_ptr(), port, 0) }).map(|p| p as u16)
    }

    /// Starts an outbound TCP connection; its data goes to the server's on_data closure.
    /// Returns the id at once; `on_connect` runs exactly once, from run_once, with Ok(()) or
    /// the failure (ECONNREFUSED, ZENITH_E_TIMEDOUT, ZENITH_E_CANCELED, ...).
    pub fn connect<C>(&self, opts: &ConnectOptions, on_connect: C) -> Result<ConnId>
    where
        C: FnOnce(&Reactor, ConnId, Result<()>) + Send + 'static,
    {
        self.connect_inner(opts, Box::new(on_connect), None)
    }

    /// As [`Reactor::connect`], with a data closure of this connection's own.
    pub fn connect_with<C, D>(&self, opts: &ConnectOptions, on_connect: C, on_data: D) -> Result<ConnId>
    where
        C: FnOnce(&Reactor, ConnId, Result<()>) + Send + 'static,
        D: FnMut(&Conn<'_>, &[u8]) + Send + 'static,
    {
        self.connect_inner(opts, Box::new(on_connect), Some(Box::new(on_data)))
    }

    fn connect_inner(&self, opts: &ConnectOptions, on_connect: ConnectCb, on_data: Option<DataCb>) -> Result<ConnId> {
        let address = cstring(&opts.address)?;
        let local = opt_cstring(opts.local_address.as_deref())?;
        let state = Box::new(ConnState {
            reactor: self as *const Reactor,
            on_connect: RefCell::new(Some(on_connect)),
            on_data: RefCell::new(on_data),
        });
        let cfg = zenith_connect_config {
            struct_size: std::mem::size_of::<zenith_connect_config>() as u32,
            port: opts.port,
            local_port: opts.local_port,
            address: address.as_ptr(),
            local_address: opt_ptr(&local),
            flags: opts.flags,
            timeout_ms: opts.timeout_ms,
            keepalive_idle_s: opts.keepalive_idle_s,
            keepalive_intvl_s: opts.keepalive_intvl_s,
            keepalive_count: opts.keepalive_count,
            user_timeout_ms: opts.user_timeout_ms,
            on_connect: Some(tramp_connect),
            user: &*state as *const ConnState as *mut c_void,
        };
        let mut id = 0u64;
        check(unsafe { zenith_server_connect(self.raw, &cfg, &mut id) })?;
        self.conns.borrow_mut().insert(id, state);
        Ok(id)
    }

    /// Arms a timer: `f` runs `delay_ms` from now, then every `period_ms` if it is not 0.
    pub fn timer_start<F>(&self, delay_ms: u32, period_ms: u32, f: F) -> Result<TimerId>
    where
        F: FnMut(&Reactor, TimerId) + Send + 'static,
    {
        let mut id = 0u64;
        check(unsafe {
            zenith_server_timer_start(
                self.raw,
                delay_ms,
                period_ms,
                Some(tramp_timer),
                self as *const Reactor as *mut c_void,
                &mut id,
            )
        })?;
        self.timers.borrow_mut().insert(id, TimerEntry { periodic: period_ms > 0, cb: Some(Box::new(f)) });
        Ok(id)
    }

    /// Disarms a timer (also from its own closure). Err(ZENITH_E_STALE) when already over.
    pub fn timer_stop(&self, id: TimerId) -> Result<()> {
        check(unsafe { zenith_server_timer_stop(self.raw, id) })?;
        self.timers.borrow_mut().remove(&id);
        Ok(())
    }

    /// A handle other threads may post with (and which this thread may use too).
    pub fn poster(&self) -> Poster {
        Poster { gate: self.gate.clone() }
    }

    /// A handle any thread may stop the server with.
    pub fn stopper(&self) -> Stopper {
        Stopper { gate: self.gate.clone() }
    }

    /// Opens a UDP socket whose datagrams go to `on_recv` (bound; connected with a peer).
    pub fn udp_open<F>(&self, opts: &UdpOptions, on_recv: F) -> Result<UdpId>
    where
        F: FnMut(&Reactor, UdpId, &Datagram<'_>) + Send + 'static,
    {
        self.udp_open_inner(opts, Some(Box::new(on_recv)))
    }

    /// Opens a send-only UDP socket (nothing is read).
    pub fn udp_open_send_only(&self, opts: &UdpOptions) -> Result<UdpId> {
        self.udp_open_inner(opts, None)
    }

    fn udp_open_inner(&self, opts: &UdpOptions, on_recv: Option<RecvCb>) -> Result<UdpId> {
        let address = opt_cstring(opts.address.as_deref())?;
        let peer = opt_cstring(opts.peer_address.as_deref())?;
        let cfg = zenith_udp_config {
            struct_size: std::mem::size_of::<zenith_udp_config>() as u32,
            flags: opts.flags,
            address: opt_ptr(&address),
            port: opts.port,
            peer_port: opts.peer_port,
            rcvbuf: opts.rcvbuf,
            peer_address: opt_ptr(&peer),
            sndbuf: opts.sndbuf,
            reserved_: 0,
            on_recv: if on_recv.is_some() { Some(tramp_udp_recv) } else { None },
            on_writable: None,
            user: self as *const Reactor as *mut c_void,
        };
        let mut id = 0u64;
        check(unsafe { zenith_udp_open(self.raw, &cfg, &mut id) })?;
        self.udp.borrow_mut().insert(id, on_recv);
        Ok(id)
    }

    /// Closes a UDP socket (also from its own receive closure): delivery stops at once, what
    /// is queued is still sent.
    pub fn udp_close(&self, sock: UdpId) -> Result<()> {
        check(unsafe { zenith_udp_close(self.raw, sock) })?;
        self.udp.borrow_mut().remove(&sock);
        Ok(())
    }

    /// Queues a copy of `data` as one datagram to `to` (None: the connected peer).
    pub fn udp_send(&self, sock: UdpId, data: &[u8], to: Option<SocketAddr>) -> Result<()> {
        let z = to.as_ref().map(addr_from);
        let zp = z.as_ref().map_or(ptr::null(), |z| z as *const zenith_addr);
        check(unsafe { zenith_udp_send(self.raw, sock, data.as_ptr() as *const c_void, data.len(), zp) }).map(|_| ())
    }

    /// Many datagrams of `seg_size` bytes (the last may be shorter) to one peer in one send.
    pub fn udp_send_gso(&self, sock: UdpId, data: &[u8], seg_size: u32, to: Option<SocketAddr>) -> Result<()> {
        let z = to.as_ref().map(addr_from);
        let zp = z.as_ref().map_or(ptr::null(), |z| z as *const zenith_addr);
        check(unsafe {
            zenith_udp_send_gso(self.raw, sock, data.as_ptr() as *const c_void, data.len(), seg_size, zp)
        })
        .map(|_| ())
    }

    /// Joins a multicast group: any-source (`source` None) or source-specific, on interface
    /// `ifname` (None: the routing table's).
    pub fn udp_join(&self, sock: UdpId, group: &str, source: Option<&str>, ifname: Option<&str>) -> Result<()> {
        let (g, s, i) = (cstring(group)?, opt_cstring(source)?, opt_cstring(ifname)?);
        check(unsafe { zenith_udp_join(self.raw, sock, g.as_ptr(), opt_ptr(&s), opt_ptr(&i)) }).map(|_| ())
    }

    /// Leaves what [`Reactor::udp_join`] joined (the same arguments).
    pub fn udp_leave(&self, sock: UdpId, group: &str, source: Option<&str>, ifname: Option<&str>) -> Result<()> {
        let (g, s, i) = (cstring(group)?, opt_cstring(source)?, opt_cstring(ifname)?);
        check(unsafe { zenith_udp_leave(self.raw, sock, g.as_ptr(), opt_ptr(&s), opt_ptr(&i)) }).map(|_| ())
    }

    /// Multicast sender options: outgoing interface, TTL, loopback (None leaves each as is).
    pub fn udp_multicast_send_opts(
        &self,
        sock: UdpId,
        ifname: Option<&str>,
        ttl: Option<u8>,
        loopback: Option<bool>,
    ) -> Result<()> {
        let i = opt_cstring(ifname)?;
        let ttl = ttl.map_or(-1, |t| t as c_int);
        let lp = loopback.map_or(-1, |l| l as c_int);
        check(unsafe { zenith_udp_multicast_send_opts(self.raw, sock, opt_ptr(&i), ttl, lp) }).map(|_| ())
    }

    /// The socket's bound port (0 for a stale id).
    pub fn udp_port(&self, sock: UdpId) -> u16 {
        unsafe { zenith_udp_port(self.raw, sock) }
    }

    /// The socket's state and counters.
    pub fn udp_info(&self, sock: UdpId) -> Result<UdpInfo> {
        let mut i: zenith_udp_info = unsafe { std::mem::zeroed() };
        i.struct_size = std::mem::size_of::<zenith_udp_info>() as u32;
        check(unsafe { zenith_udp_get_info(self.raw, sock, &mut i) })?;
        Ok(UdpInfo {
            features: i.features,
            local: addr_to(&i.local),
            peer: addr_to(&i.peer),
            recv_capacity: i.recv_capacity,
            queued: i.queued,
            datagrams_in: i.datagrams_in,
            bytes_in: i.bytes_in,
            datagrams_out: i.datagrams_out,
            bytes_out: i.bytes_out,
            truncated: i.truncated,
            gro_batches: i.gro_batches,
            gso_sends: i.gso_sends,
            recv_stalls: i.recv_stalls,
            kernel_drops: i.kernel_drops,
            recv_errors: i.recv_errors,
            send_full: i.send_full,
            send_errors: i.send_errors,
            last_error: i.last_error,
        })
    }

    /// The first listener's port.
    pub fn port(&self) -> u16 {
        unsafe { zenith_server_port(self.raw) }
    }

    pub fn stopped(&self) -> bool {
        unsafe { zenith_server_stopped(self.raw) != 0 }
    }

    /// Stops the loop (also from a callback): `stopped()` is true from now on.
    pub fn stop(&self) {
        unsafe { zenith_server_stop(self.raw) }
    }

    pub fn stats(&self) -> ServerStats {
        let mut st = ServerStats::default();
        unsafe { zenith_server_get_stats(self.raw, &mut st) };
        st
    }

    pub fn reactor_stats(&self) -> ReactorStats {
        let mut st = ReactorStats::default();
        unsafe { zenith_server_get_reactor_stats(self.raw, &mut st) };
        st
    }

    /// Which backend runs, and why.
    pub fn backend_info(&self) -> Result<BackendInfo> {
        let mut i: zenith_backend_info = unsafe { std::mem::zeroed() };
        i.struct_size = std::mem::size_of::<zenith_backend_info>() as u32;
        check(unsafe { zenith_server_backend_info(self.raw, &mut i) })?;
        let text = |p: *const c_char| {
            if p.is_null() {
                String::new()
            } else {
                unsafe { CStr::from_ptr(p) }.to_string_lossy().into_owned()
            }
        };
        Ok(BackendInfo {
            backend: if i.backend == Backend::Epoll as i32 { Backend::Epoll } else { Backend::IoUring },
            reason: match i.reason {
                1 => BackendReason::ByConfig,
                2 => BackendReason::ByEnv,
                3 => BackendReason::Fallback,
                _ => BackendReason::ByDefault,
            },
            uring_errno: i.uring_errno,
            uring_sysctl: i.uring_sysctl,
            name: text(i.name),
            why: text(i.why),
        })
    }
}

unsafe extern "C" fn tramp_data(user: *mut c_void, conn: u64, data: *const u8, len: usize) {
    let r = &*(user as *const Reactor);
    let bytes = if len == 0 { &[][..] } else { std::slice::from_raw_parts(data, len) };
    let c = r.conn(conn);
    let cu = zenith_server_get_conn_user(r.raw, conn) as *const ConnState;
    if !cu.is_null() {
        if let Some(f) = (*cu).on_data.borrow_mut().as_mut() {
            r.guard(|| f(&c, bytes));
            return;
        }
    }
    if let Some(f) = r.on_data.borrow_mut().as_mut() {
        r.guard(|| f(&c, bytes));
    }
}

unsafe extern "C" fn tramp_accept(user: *mut c_void, conn: u64) {
    let r = &*(user as *const Reactor);
    if let Some(f) = r.on_accept.borrow_mut().as_mut() {
        let c = r.conn(conn);
        r.guard(|| f(&c));
    }
}

unsafe extern "C" fn tramp_close(user: *mut c_void, conn: u64, reason: c_int) {
    let r = &*(user as *const Reactor);
    if let Some(f) = r.on_close.borrow_mut().as_mut() {
        let c = r.conn(conn);
        r.guard(|| f(&c, reason));
    }
    let state = r.conns.borrow_mut().remove(&conn); // an outbound connection's closures
    drop(state);
}

unsafe extern "C" fn tramp_connect(user: *mut c_void, conn: u64, status: c_int) {
    let st = &*(user as *const ConnState);
    let r = &*st.reactor;
    let f = st.on_connect.borrow_mut().take();
    let result = if status == 0 { Ok(()) } else { Err(Error::new(status)) };
    if let Some(f) = f {
        r.guard(|| f(r, conn, result));
    }
    if status != 0 {
        // a failed connect gets no on_close: its closures go now (st is not used after this)
        let state = r.conns.borrow_mut().remove(&conn);
        drop(state);
    }
}

unsafe extern "C" fn tramp_timer(user: *mut c_void, id: u64) {
    let r = &*(user as *const Reactor);
    let taken = {
        let mut t = r.timers.borrow_mut();
        match t.get_mut(&id) {
            Some(e) if e.periodic => e.cb.take(),
            Some(_) => t.remove(&id).and_then(|e| e.cb), // one-shot: over when it runs
            None => None,
        }
    };
    if let Some(mut f) = taken {
        r.guard(|| f(r, id));
        // periodic and not stopped meanwhile: armed again
        if let Some(e) = r.timers.borrow_mut().get_mut(&id) {
            e.cb = Some(f);
        }
    }
}

unsafe extern "C" fn tramp_udp_recv(user: *mut c_void, sock: u64, d: *const zenith_udp_datagram) {
    let r = &*(user as *const Reactor);
    let taken = r.udp.borrow_mut().get_mut(&sock).and_then(|e| e.take());
    if let Some(mut f) = taken {
        let dg = Datagram { d: &*d };
        r.guard(|| f(r, sock, &dg));
        if let Some(e) = r.udp.borrow_mut().get_mut(&sock) {
            *e = Some(f); // not closed meanwhile
        }
    }
}

unsafe extern "C" fn tramp_message(user: *mut c_void, data: *mut c_void, len: usize) {
    let r = &*(user as *const Reactor);
    let bytes = if len == 0 { &[][..] } else { std::slice::from_raw_parts(data as *const u8, len) };
    if let Some(f) = r.on_message.borrow_mut().as_mut() {
        r.guard(|| f(r, bytes));
    }
}

unsafe extern "C" fn tramp_posted(user: *mut c_void, data: *mut c_void, len: usize) {
    let r = &*(user as *const Reactor);
    if len != std::mem::size_of::<usize>() {
        return;
    }
    let p = ptr::read_unaligned(data as *const usize);
    // taken out of the registry under its lock: run here, or freed by the server's drop, never both
    let mine = r.gate.boxed.lock().unwrap_or_else(|e| e.into_inner()).remove(&p);
    if mine {
        let t: Box<Box<dyn PostedTask>> = Box::from_raw(p as *mut Box<dyn PostedTask>);
        r.guard(move || (*t).run(r));
    }
}

/// Posts to a server's loop from any thread (`Send + Sync + Clone`). Valid for as long as the
/// server lives; afterwards every call returns ZENITH_E_STALE.
#[derive(Clone)]
pub struct Poster {
    gate: Arc<Gate>,
}

/// Stops a server from any thread ([`Server::stopper`]); a no-op once the server is gone.
#[derive(Clone)]
pub struct Stopper {
    gate: Arc<Gate>,
}

/// Bytes a posted message carries by value (ZENITH_POST_MAX).
pub const POST_MAX: usize = 40;

impl Poster {
    /// Sends up to [`POST_MAX`] bytes (copied) to the server's [`Server::on_message`] closure,
    /// run on the loop. Lock-free, no allocation. Err(E_FULL) when the queue is full (nothing
    /// queued: retry), E_INVAL over POST_MAX bytes, E_STALE once the server is gone.
    pub fn post_message(&self, data: &[u8]) -> Result<()> {
        let (raw, r) = self.gate.enter().ok_or_else(|| Error::new(E_STALE))?;
        let rc = unsafe {
            zenith_server_post(raw, Some(tramp_message), r as *mut c_void, data.as_ptr() as *const c_void, data.len())
        };
        self.gate.leave();
        check(rc).map(|_| ())
    }

    /// Runs `f` on the loop. On failure (E_FULL: the queue is full; E_STALE) the closure comes
    /// back with the error, so it can be posted again without being rebuilt.
    pub fn try_post<F>(&self, f: F) -> std::result::Result<(), (Error, F)>
    where
        F: FnOnce(&Reactor) + Send + 'static,
    {
        let (raw, r) = match self.gate.enter() {
            Some(x) => x,
            None => return Err((Error::new(E_STALE), f)),
        };
        let boxed: Box<Box<dyn PostedTask>> = Box::new(Box::new(Task(f)));
        let p = Box::into_raw(boxed) as usize;
        self.gate.boxed.lock().unwrap_or_else(|e| e.into_inner()).insert(p);
        let bytes = p.to_ne_bytes();
        let rc = unsafe {
            zenith_server_post(raw, Some(tramp_posted), r as *mut c_void, bytes.as_ptr() as *const c_void, bytes.len())
        };
        self.gate.leave();
        if rc == 0 {
            return Ok(());
        }
        self.gate.boxed.lock().unwrap_or_else(|e| e.into_inner()).remove(&p);
        // not queued: the caller gets its closure back
        let outer: Box<Box<dyn PostedTask>> = unsafe { Box::from_raw(p as *mut Box<dyn PostedTask>) };
        match (*outer).into_any().downcast::<Task<F>>() {
            Ok(t) => Err((Error::new(rc), t.0)),
            Err(_) => unreachable!("a posted task is the caller's type"),
        }
    }

    /// Runs `f` on the loop; on failure the closure is dropped and the error returned.
    pub fn post<F>(&self, f: F) -> Result<()>
    where
        F: FnOnce(&Reactor) + Send + 'static,
    {
        self.try_post(f).map_err(|(e, _)| e)
    }
}

/// A posted closure, behind one thin pointer (Box<Box<dyn PostedTask>>) in the post's bytes.
trait PostedTask: Send {
    fn run(self: Box<Self>, r: &Reactor);
    fn into_any(self: Box<Self>) -> Box<dyn Any + Send>;
}

struct Task<F>(F);

impl<F: FnOnce(&Reactor) + Send + 'static> PostedTask for Task<F> {
    fn run(self: Box<Self>, r: &Reactor) {
        (self.0)(r)
    }
    fn into_any(self: Box<Self>) -> Box<dyn Any + Send> {
        self
    }
}

impl Stopper {
    pub fn stop(&self) {
        if let Some((raw, _)) = self.gate.enter() {
            unsafe { zenith_server_stop(raw) };
            self.gate.leave();
        }
    }
}

/// A zenith_server (the reactor): TCP listeners, connections, outbound connects, timers,
/// posted messages and UDP sockets on one loop, driven by the thread calling
/// [`Server::run_once`]. `Send`, not `Sync`: create it anywhere, move it to its thread, start
/// it there. Derefs to [`Reactor`] for everything callbacks may call too. Dropped: shut down
/// (1 s to flush), destroyed, closures freed.
pub struct Server {
    reactor: Box<Reactor>,
    _address: Option<CString>,
    last_panic: Option<Box<dyn Any + Send>>,
}

// Everything the server holds is Send (its closures are required to be); the raw pointers are
// the C reactor's, which may be driven from another thread than the one that created it
// (zenith_server_start binds it to the thread that starts it).
unsafe impl Send for Server {}

impl std::ops::Deref for Server {
    type Target = Reactor;
    fn deref(&self) -> &Reactor {
        &self.reactor
    }
}

impl Server {
    /// Creates a server listening on `address:cfg.port` (an empty address: the library's
    /// default, or no address with [`SERVER_NO_LISTEN`]), with its data closure (every
    /// connection's, except outbound ones given their own with [`Reactor::connect_with`]).
    pub fn new<F>(address: &str, mut cfg: ServerConfig, on_data: F) -> Result<Server>
    where
        F: FnMut(&Conn<'_>, &[u8]) + Send + 'static,
    {
        layout::ensure()?;
        let addr = if address.is_empty() { None } else { Some(cstring(address)?) };
        cfg.address = opt_ptr(&addr);
        cfg.struct_size = std::mem::size_of::<ServerConfig>() as u32;
        let mut err: c_int = 0;
        let raw = unsafe { zenith_server_create(&cfg, &mut err) };
        if raw.is_null() {
            return Err(Error::new(err));
        }
        let gate = Arc::new(Gate {
            raw: AtomicPtr::new(raw),
            reactor: AtomicPtr::new(ptr::null_mut()),
            users: AtomicUsize::new(0),
            boxed: Mutex::new(HashSet::new()),
        });
        let reactor = Box::new(Reactor {
            raw,
            gate: gate.clone(),
            on_data: RefCell::new(Some(Box::new(on_data))),
            on_accept: RefCell::new(None),
            on_close: RefCell::new(None),
            on_message: RefCell::new(None),
            conns: RefCell::new(HashMap::new()),
            timers: RefCell::new(HashMap::new()),
            udp: RefCell::new(HashMap::new()),
            panic: RefCell::new(None),
        });
        let user = &*reactor as *const Reactor as *mut Reactor;
        gate.reactor.store(user, Ordering::SeqCst);
        let rc = unsafe {
            zenith_server_set_callbacks(raw, Some(tramp_accept), Some(tramp_data), Some(tramp_close), user as *mut c_void)
        };
        if rc < 0 {
            gate.close();
            unsafe { zenith_server_destroy(raw) };
            return Err(Error::new(rc));
        }
        Ok(Server { reactor, _address: addr, last_panic: None })
    }

    /// A reactor without a listener ([`SERVER_NO_LISTEN`]): outbound connections (give them
    /// their data closure with [`Reactor::connect_with`]), timers, posts, UDP.
    pub fn without_listener(mut cfg: ServerConfig) -> Result<Server> {
        cfg.flags |= SERVER_NO_LISTEN;
        Server::new("", cfg, |_, _| {})
    }

    /// Called for each accepted connection.
    pub fn on_accept<F: FnMut(&Conn<'_>) + Send + 'static>(&mut self, f: F) {
        *self.reactor.on_accept.borrow_mut() = Some(Box::new(f));
    }

    /// Called once per connection that was open, last (`reason`: CLOSE_* or an error code).
    pub fn on_close<F: FnMut(&Conn<'_>, i32) + Send + 'static>(&mut self, f: F) {
        *self.reactor.on_close.borrow_mut() = Some(Box::new(f));
    }

    /// Receives the bytes of [`Poster::post_message`], on the loop.
    pub fn on_message<F: FnMut(&Reactor, &[u8]) + Send + 'static>(&mut self, f: F) {
        *self.reactor.on_message.borrow_mut() = Some(Box::new(f));
    }

    /// Makes the calling thread the reactor's thread (drive it from here on).
    pub fn start(&mut self) -> Result<()> {
        check(unsafe { zenith_server_start(self.reactor.raw) }).map(|_| ())
    }

    /// Processes what is ready, waiting up to `timeout_ms` (-1: until something happens);
    /// returns the number of events handled. A panic inside a callback comes back here as
    /// an error ([`Error::is_panic`], the message in [`Error::detail`]; the payload in
    /// [`Server::take_panic`]); the other callbacks of that turn still ran.
    pub fn run_once(&mut self, timeout_ms: i32) -> Result<i32> {
        let rc = unsafe { zenith_server_run_once(self.reactor.raw, timeout_ms) };
        let p = self.reactor.panic.borrow_mut().take();
        if let Some(p) = p {
            let e = Error::from_panic(&*p);
            self.last_panic = Some(p);
            return Err(e);
        }
        check(rc)
    }

    /// The payload of the last panic [`Server::run_once`] reported (to resume_unwind it).
    pub fn take_panic(&mut self) -> Option<Box<dyn Any + Send>> {
        self.last_panic.take()
    }

    /// Flushes and closes every connection and socket, within `deadline_ms` (drop does it
    /// with 1 s).
    pub fn shutdown(&mut self, deadline_ms: i32) -> Result<()> {
        check(unsafe { zenith_server_shutdown(self.reactor.raw, deadline_ms) }).map(|_| ())
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let raw = self.reactor.raw;
        self.reactor.gate.close(); // no poster or stopper touches it from here on
        unsafe {
            zenith_server_shutdown(raw, 1000);
            zenith_server_destroy(raw); // the last on_close / on_connect(CANCELED) run here
        }
        // closures posted but never run (dropped unrun by destroy): freed, not run
        let left: Vec<usize> = self.reactor.gate.boxed.lock().unwrap_or_else(|e| e.into_inner()).drain().collect();
        for p in left {
            drop(unsafe { Box::from_raw(p as *mut Box<dyn PostedTask>) });
        }
        self.reactor.panic.borrow_mut().take();
    }
}

// ---- engine ------------------------------------------------------------------------------------------

/// The data-plane engine. Thread-safe: publish and poll from any threads.
pub struct Engine {
    raw: *mut zenith_engine,
}

unsafe impl Send for Engine {}
unsafe impl Sync for Engine {}

/// What a plugin made of a polled batch's rows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Selection {
    /// Every row passes (no plugin selected rows).
    All,
    /// `count` rows pass: bit i of `bits` (LSB first, from the array's offset) for row i.
    Rows { count: usize, bits: Vec<u8> },
}

impl Selection {
    /// Whether row `i` passes.
    pub fn contains(&self, i: usize) -> bool {
        match self {
            Selection::All => true,
            Selection::Rows { bits, .. } => bits.get(i / 8).map_or(false, |b| b >> (i % 8) & 1 != 0),
        }
    }
}

/// A polled batch. Its Arrow release callbacks run exactly once, when it is dropped.
pub struct Batch {
    b: zenith_batch,
    selection: Selection,
}

unsafe impl Send for Batch {}

/// What [`Engine::publish_outcome`] did with a batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Published {
    /// Queued for the consumers.
    Queued,
    /// A plugin dropped it: already released (its release callbacks ran in the call).
    Dropped,
}

/// A loaded plugin's id (zenith_load_plugin's return).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PluginId(pub i32);

/// zenith_plugin_flags (for [`PluginConfig::flags`]).
pub const PLUGIN_FAIL_REJECT: u32 = 1 << 0;

/// A plugin's configuration (zenith_plugin_config). Zero means default in every number.
#[derive(Debug, Clone, Default)]
pub struct PluginConfig {
    pub flags: u32,
    pub instances: u32,
    pub max_failures: u32,
    pub fuel: u64,
    pub fuel_per_row: u64,
    pub max_rows: u32,
    pub max_memory_pages: u32,
    /// Copied into each instance for its init (price_filter: two f64, lo then hi).
    pub params: Vec<u8>,
}

impl Engine {
    /// Holds up to `capacity` batches in flight (rounded up to a power of two).
    /// zenith_engine_create; Err(E_NULL) for a capacity of 0 or above 2^24.
    pub fn new(capacity: u32) -> Result<Engine> {
        layout::ensure()?;
        let raw = unsafe { zenith_engine_create(capacity) };
        if raw.is_null() {
            Err(Error::new(E_NULL))
        } else {
            Ok(Engine { raw })
        }
    }

    /// Moves `array`/`schema` in: on Ok they read as released; on Err (E_FULL, E_FFI) they stay
    /// yours, untouched. (A batch a plugin dropped is Ok too: see [`Engine::publish_outcome`].)
    pub fn publish(&self, array: &mut ArrowArray, schema: &mut ArrowSchema, source_id: u64, seq_no: u64) -> Result<()> {
        self.publish_outcome(array, schema, source_id, seq_no).map(|_| ())
    }

    /// As [`Engine::publish`], saying whether the batch was queued or dropped by a plugin.
    pub fn publish_outcome(
        &self,
        array: &mut ArrowArray,
        schema: &mut ArrowSchema,
        source_id: u64,
        seq_no: u64,
    ) -> Result<Published> {
        let rc = check(unsafe { zenith_engine_publish(self.raw, array, schema, source_id, seq_no) })?;
        Ok(if rc == 1 { Published::Dropped } else { Published::Queued })
    }

    /// The oldest batch, if any (its selection, if a plugin made one, is not read: use
    /// [`Engine::poll_selection`] on a filtered engine).
    pub fn poll(&self) -> Option<Batch> {
        let mut b: zenith_batch = unsafe { std::mem::zeroed() };
        if unsafe { zenith_engine_poll(self.raw, &mut b) } == 1 {
            Some(Batch { b, selection: Selection::All })
        } else {
            None
        }
    }

    /// The oldest batch with the rows the plugins selected.
    pub fn poll_selection(&self) -> Option<Batch> {
        let mut cap = 2048usize; // 16,384 rows: the default max_rows
        loop {
            let mut bits = vec![0u8; cap];
            let mut b: zenith_batch = unsafe { std::mem::zeroed() };
            let mut selected: i64 = -1;
            let rc = unsafe { zenith_poll_selection(self.raw, &mut b, bits.as_mut_ptr(), cap, &mut selected) };
            if rc == E_RANGE && cap < (1 << 21) {
                cap *= 2;
                continue;
            }
            if rc != 1 {
                return None;
            }
            let selection = if selected < 0 {
                Selection::All
            } else {
                let n = ((b.array.length as usize) + 7) / 8;
                bits.truncate(n);
                Selection::Rows { count: selected as usize, bits }
            };
            return Some(Batch { b, selection });
        }
    }

    /// Loads a WebAssembly plugin with the default configuration (zenith_engine_load_plugin).
    /// Err(ZENITH_E_PLUGIN) for a module that is not a valid plugin, the reason in
    /// [`Error::detail`].
    pub fn load_plugin(&self, wasm: &[u8]) -> Result<PluginId> {
        let rc = unsafe { zenith_engine_load_plugin(self.raw, wasm.as_ptr(), wasm.len()) };
        if rc >= 0 {
            return Ok(PluginId(rc));
        }
        let mut buf = [0 as c_char; 256];
        let code = unsafe { zenith_plugin_last_error(self.raw, buf.as_mut_ptr(), buf.len()) };
        let reason = unsafe { CStr::from_ptr(buf.as_ptr()) }.to_string_lossy().into_owned();
        if code == rc && !reason.is_empty() {
            Err(Error::with_detail(rc, reason))
        } else {
            Err(Error::new(rc))
        }
    }

    /// Loads a plugin with a configuration (zenith_load_plugin_ex).
    pub fn load_plugin_with(&self, wasm: &[u8], cfg: &PluginConfig) -> Result<PluginId> {
        let c = zenith_plugin_config {
            struct_size: std::mem::size_of::<zenith_plugin_config>() as u32,
            flags: cfg.flags,
            instances: cfg.instances,
            max_failures: cfg.max_failures,
            fuel: cfg.fuel,
            fuel_per_row: cfg.fuel_per_row,
            max_rows: cfg.max_rows,
            max_memory_pages: cfg.max_memory_pages,
            params: if cfg.params.is_empty() { ptr::null() } else { cfg.params.as_ptr() as *const c_void },
            params_len: cfg.params.len(),
        };
        let mut buf = [0 as c_char; 256];
        let rc = unsafe { zenith_load_plugin_ex(self.raw, wasm.as_ptr(), wasm.len(), &c, buf.as_mut_ptr(), buf.len()) };
        if rc >= 0 {
            return Ok(PluginId(rc));
        }
        let reason = unsafe { CStr::from_ptr(buf.as_ptr()) }.to_string_lossy().into_owned();
        Err(if reason.is_empty() { Error::new(rc) } else { Error::with_detail(rc, reason) })
    }

    /// Detaches and frees a plugin.
    pub fn unload_plugin(&self, id: PluginId) -> Result<()> {
        check(unsafe { zenith_unload_plugin(self.raw, id.0) }).map(|_| ())
    }

    /// A plugin's counters.
    pub fn plugin_stats(&self, id: PluginId) -> Result<PluginStats> {
        let mut st = PluginStats { struct_size: std::mem::size_of::<PluginStats>() as u32, ..Default::default() };
        check(unsafe { zenith_plugin_get_stats(self.raw, id.0, &mut st) })?;
        Ok(st)
    }

    /// A plugin's running result values, combined over its instances.
    pub fn plugin_result(&self, id: PluginId) -> Result<Vec<f64>> {
        let mut out = [0f64; 8];
        let n = check(unsafe { zenith_plugin_result(self.raw, id.0, out.as_mut_ptr(), out.len()) })? as usize;
        Ok(out[..n.min(8)].to_vec())
    }

    pub fn stats(&self) -> EngineStats {
        let mut st = EngineStats::default();
        unsafe { zenith_engine_get_stats(self.raw, &mut st) };
        st
    }
}

impl Drop for Engine {
    fn drop(&mut self) {
        unsafe { zenith_engine_destroy(self.raw) }
    }
}

impl Batch {
    pub fn source_id(&self) -> u64 {
        self.b.source_id
    }
    pub fn seq_no(&self) -> u64 {
        self.b.seq_no
    }
    pub fn array(&self) -> &ArrowArray {
        &self.b.array
    }
    pub fn schema(&self) -> &ArrowSchema {
        &self.b.schema
    }
    /// The format string of the schema ("l", "u", "+s", ...).
    pub fn format(&self) -> &str {
        unsafe { CStr::from_ptr(self.b.schema.format) }.to_str().unwrap_or("")
    }
    /// The rows that passed the plugins ([`Selection::All`] from [`Engine::poll`]).
    pub fn selection(&self) -> &Selection {
        &self.selection
    }
}

impl Drop for Batch {
    fn drop(&mut self) {
        // the engine pointer only counts releases; NULL is allowed and keeps Batch 'static
        unsafe { zenith_batch_release(ptr::null_mut(), &mut self.b) };
    }
}

// ---- NUMA ---------------------------------------------------------------------------------------------

/// zenith_numa.h: its codes are its own table (Error::name says ZENITH_NUMA_E_...).
pub mod numa {
    use super::*;

    /// Ok(true) with NUMA, Ok(false) in one-node mode (a kernel without NUMA).
    pub fn init() -> Result<bool> {
        match unsafe { zenith_numa_init() } {
            0 => Ok(true),
            -1 => Ok(false),
            rc => Err(Error::numa(rc)),
        }
    }
    pub fn cleanup() {
        unsafe { zenith_numa_cleanup() }
    }
    pub fn node_count() -> i32 {
        unsafe { zenith_numa_node_count() }
    }
    pub fn node_of_cpu(cpu: i32) -> Result<i32> {
        let rc = unsafe { zenith_numa_node_of_cpu(cpu) };
        if rc < 0 {
            Err(Error::numa(rc))
        } else {
            Ok(rc)
        }
    }
    pub fn bind_thread_to_node(node: i32) -> Result<()> {
        let rc = unsafe { zenith_numa_bind_thread_to_node(node) };
        if rc < 0 {
            Err(Error::numa(rc))
        } else {
            Ok(())
        }
    }
    pub fn unbind_thread() -> Result<()> {
        let rc = unsafe { zenith_numa_unbind_thread() };
        if rc < 0 {
            Err(Error::numa(rc))
        } else {
            Ok(())
        }
    }

    /// Memory bound to a node; unmapped when dropped.
    pub struct NodeMemory {
        ptr: *mut u8,
        len: usize,
    }
    unsafe impl Send for NodeMemory {}

    impl NodeMemory {
        /// Page-aligned, `len` bytes, on `node` once touched.
        pub fn on_node(len: usize, node: i32) -> Result<NodeMemory> {
            let p = unsafe { zenith_numa_alloc_onnode(len, node) } as *mut u8;
            if p.is_null() {
                Err(Error::numa(unsafe { zenith_numa_last_error() }))
            } else {
                Ok(NodeMemory { ptr: p, len })
            }
        }
        /// The node the page at `offset` lives on (after it was touched).
        pub fn node_of(&self, offset: usize) -> Result<i32> {
            assert!(offset < self.len);
            let rc = unsafe { zenith_numa_node_of_address(self.ptr.add(offset) as *const c_void) };
            if rc < 0 {
                Err(Error::numa(rc))
            } else {
                Ok(rc)
            }
        }
    }

    impl std::ops::Deref for NodeMemory {
        type Target = [u8];
        fn deref(&self) -> &[u8] {
            unsafe { std::slice::from_raw_parts(self.ptr, self.len) }
        }
    }
    impl std::ops::DerefMut for NodeMemory {
        fn deref_mut(&mut self) -> &mut [u8] {
            unsafe { std::slice::from_raw_parts_mut(self.ptr, self.len) }
        }
    }
    impl Drop for NodeMemory {
        fn drop(&mut self) {
            unsafe { zenith_numa_free(self.ptr as *mut c_void, self.len) };
        }
    }
}
