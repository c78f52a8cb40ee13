//! Safe Rust bindings for Zenith: the buffer pool, the TCP server (closures for callbacks), the
//! data-plane engine on the Arrow C Data Interface, and the NUMA helpers.
//!
//! Every handle is RAII (dropped = destroyed); every failure is a [`Error`] carrying the Zenith
//! code. Ownership follows docs/FFI.md: [`Engine::publish`] moves an Arrow array in (the structs
//! read as released afterwards, and stay yours on error); a [`Batch`] from [`Engine::poll`]
//! runs the Arrow release callbacks exactly once, when dropped.
//!
//! Written for Rust 1.63 (Debian 12's) and later, std only.
#![allow(non_camel_case_types)]

use std::cell::RefCell;
use std::ffi::CStr;
use std::fmt;
use std::marker::PhantomData;
use std::os::raw::{c_char, c_int, c_long, c_void};
use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};
use std::ptr;

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

/// Server configuration (zenith_server_config); zero means default in every field.
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
        }
    }
}

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
    fn zenith_server_stopped(s: *mut zenith_server) -> c_int;
    fn zenith_server_shutdown(s: *mut zenith_server, deadline_ms: c_int) -> c_int;
    fn zenith_server_destroy(s: *mut zenith_server);
    fn zenith_server_send(s: *mut zenith_server, conn: u64, data: *const c_void, len: usize) -> c_int;
    fn zenith_server_close(s: *mut zenith_server, conn: u64, flags: c_int) -> c_int;
    fn zenith_server_port(s: *const zenith_server) -> u16;
    fn zenith_server_get_stats(s: *const zenith_server, out: *mut ServerStats) -> c_int;

    fn zenith_init(capacity: u32) -> *mut zenith_engine;
    fn zenith_publish(e: *mut zenith_engine, a: *mut ArrowArray, s: *mut ArrowSchema, src: u64, seq: u64) -> c_int;
    fn zenith_poll(e: *mut zenith_engine, out: *mut zenith_batch) -> c_int;
    fn zenith_batch_release(e: *mut zenith_engine, b: *mut zenith_batch) -> c_int;
    fn zenith_load_plugin(e: *mut zenith_engine, wasm: *const u8, len: usize) -> c_int;
    fn zenith_engine_get_stats(e: *mut zenith_engine, out: *mut EngineStats) -> c_int;
    fn zenith_free(e: *mut zenith_engine);

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

/// A negative Zenith code (zenith.h's table, or zenith_numa.h's when `numa` is true).
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Error {
    code: i32,
    numa: bool,
}

pub const E_NULL: i32 = -1;
pub const E_FULL: i32 = -2;
pub const E_FFI: i32 = -4;

impl Error {
    pub fn new(code: i32) -> Self {
        Error { code, numa: false }
    }
    fn numa(code: i32) -> Self {
        Error { code, numa: true }
    }
    /// The Zenith code (negative).
    pub fn code(&self) -> i32 {
        self.code
    }
    /// Its name, e.g. "ZENITH_E_FULL".
    pub fn name(&self) -> &'static str {
        let p = unsafe { if self.numa { zenith_numa_errname(self.code) } else { zenith_errname(self.code) } };
        unsafe { CStr::from_ptr(p) }.to_str().unwrap_or("?")
    }
    fn text(&self) -> &'static str {
        let p = unsafe { if self.numa { zenith_numa_strerror(self.code) } else { zenith_strerror(self.code) } };
        unsafe { CStr::from_ptr(p) }.to_str().unwrap_or("?")
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.name(), self.code)
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {} ({})", self.name(), self.text(), self.code)
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

// ---- server ----------------------------------------------------------------------------------------

/// A connection, as seen from inside a callback: send to it, close it.
pub struct Conn<'a> {
    server: *mut zenith_server,
    id: u64,
    _life: PhantomData<&'a ()>,
}

impl<'a> Conn<'a> {
    pub fn id(&self) -> u64 {
        self.id
    }
    /// Copies `data` onto the connection's send queue. Err(E_FULL) past its bound.
    pub fn send(&self, data: &[u8]) -> Result<()> {
        check(unsafe { zenith_server_send(self.server, self.id, data.as_ptr() as *const c_void, data.len()) })
            .map(|_| ())
    }
    /// Closes after what is queued (abort = false) or now.
    pub fn close(&self, abort: bool) -> Result<()> {
        check(unsafe { zenith_server_close(self.server, self.id, abort as c_int) }).map(|_| ())
    }
}

type DataCb = Box<dyn FnMut(&Conn<'_>, &[u8])>;
type AcceptCb = Box<dyn FnMut(&Conn<'_>)>;
type CloseCb = Box<dyn FnMut(&Conn<'_>, i32)>;

struct Callbacks {
    server: *mut zenith_server,
    on_data: DataCb,
    on_accept: Option<AcceptCb>,
    on_close: Option<CloseCb>,
    panic: RefCell<Option<Box<dyn std::any::Any + Send>>>,
}

impl Callbacks {
    /// A panic must not unwind through C: keep the first, resume it after run_once.
    fn guard<F: FnOnce(&mut Callbacks)>(user: *mut c_void, f: F) {
        let cb = unsafe { &mut *(user as *mut Callbacks) };
        if cb.panic.borrow().is_some() {
            return;
        }
        if let Err(p) = catch_unwind(AssertUnwindSafe(|| f(&mut *cb))) {
            *cb.panic.borrow_mut() = Some(p);
        }
    }
}

unsafe extern "C" fn tramp_data(user: *mut c_void, conn: u64, data: *const u8, len: usize) {
    Callbacks::guard(user, |cb| {
        let c = Conn { server: cb.server, id: conn, _life: PhantomData };
        let bytes = std::slice::from_raw_parts(data, len);
        (cb.on_data)(&c, bytes)
    });
}

unsafe extern "C" fn tramp_accept(user: *mut c_void, conn: u64) {
    Callbacks::guard(user, |cb| {
        let c = Conn { server: cb.server, id: conn, _life: PhantomData };
        if let Some(f) = cb.on_accept.as_mut() {
            f(&c)
        }
    });
}

unsafe extern "C" fn tramp_close(user: *mut c_void, conn: u64, reason: c_int) {
    Callbacks::guard(user, |cb| {
        let c = Conn { server: cb.server, id: conn, _life: PhantomData };
        if let Some(f) = cb.on_close.as_mut() {
            f(&c, reason)
        }
    });
}

/// A zenith_server: one ring, driven by the thread calling [`Server::run_once`] (the server is
/// `Send`, not `Sync`: move it to its thread). [`Server::stopper`] gives a handle any thread
/// may use to stop it.
pub struct Server {
    raw: *mut zenith_server,
    _address: std::ffi::CString,
    cb: Box<Callbacks>,
}

unsafe impl Send for Server {}

/// Stops a server from any thread ([`Server::stopper`]); valid while the server lives.
#[derive(Clone, Copy)]
pub struct Stopper(*mut zenith_server);
unsafe impl Send for Stopper {}
unsafe impl Sync for Stopper {}

impl Stopper {
    pub fn stop(&self) {
        unsafe { zenith_server_stop(self.0) }
    }
}

impl Server {
    /// Creates a server bound to `address:cfg.port` with its data callback.
    pub fn new<F>(address: &str, mut cfg: ServerConfig, on_data: F) -> Result<Server>
    where
        F: FnMut(&Conn<'_>, &[u8]) + 'static,
    {
        let addr = std::ffi::CString::new(address).map_err(|_| Error::new(-5))?;
        cfg.address = addr.as_ptr();
        let mut err: c_int = 0;
        let raw = unsafe { zenith_server_create(&cfg, &mut err) };
        if raw.is_null() {
            return Err(Error::new(err));
        }
        let mut cb = Box::new(Callbacks {
            server: raw,
            on_data: Box::new(on_data),
            on_accept: None,
            on_close: None,
            panic: RefCell::new(None),
        });
        let user = &mut *cb as *mut Callbacks as *mut c_void;
        let rc = unsafe {
            zenith_server_set_callbacks(raw, Some(tramp_accept), Some(tramp_data), Some(tramp_close), user)
        };
        if rc < 0 {
            unsafe { zenith_server_destroy(raw) };
            return Err(Error::new(rc));
        }
        Ok(Server { raw, _address: addr, cb })
    }

    pub fn on_accept<F: FnMut(&Conn<'_>) + 'static>(&mut self, f: F) {
        self.cb.on_accept = Some(Box::new(f));
    }

    pub fn on_close<F: FnMut(&Conn<'_>, i32) + 'static>(&mut self, f: F) {
        self.cb.on_close = Some(Box::new(f));
    }

    pub fn port(&self) -> u16 {
        unsafe { zenith_server_port(self.raw) }
    }

    pub fn stopper(&self) -> Stopper {
        Stopper(self.raw)
    }

    pub fn start(&mut self) -> Result<()> {
        check(unsafe { zenith_server_start(self.raw) }).map(|_| ())
    }

    /// Processes what is ready, waiting up to `timeout_ms` (-1: until something happens).
    /// A panic inside a callback is resumed here.
    pub fn run_once(&mut self, timeout_ms: i32) -> Result<i32> {
        let rc = unsafe { zenith_server_run_once(self.raw, timeout_ms) };
        if let Some(p) = self.cb.panic.borrow_mut().take() {
            resume_unwind(p);
        }
        check(rc)
    }

    pub fn stopped(&self) -> bool {
        unsafe { zenith_server_stopped(self.raw) != 0 }
    }

    pub fn stats(&self) -> ServerStats {
        let mut st = ServerStats::default();
        unsafe { zenith_server_get_stats(self.raw, &mut st) };
        st
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        unsafe {
            zenith_server_shutdown(self.raw, 1000);
            zenith_server_destroy(self.raw);
        }
    }
}

// ---- engine ------------------------------------------------------------------------------------------

/// The data-plane engine. Thread-safe: publish and poll from any threads.
pub struct Engine {
    raw: *mut zenith_engine,
}

unsafe impl Send for Engine {}
unsafe impl Sync for Engine {}

/// A polled batch. Its Arrow release callbacks run exactly once, when it is dropped.
pub struct Batch {
    b: zenith_batch,
}

unsafe impl Send for Batch {}

impl Engine {
    /// Holds up to `capacity` batches in flight (rounded up to a power of two).
    pub fn new(capacity: u32) -> Result<Engine> {
        let raw = unsafe { zenith_init(capacity) };
        if raw.is_null() {
            Err(Error::new(E_NULL))
        } else {
            Ok(Engine { raw })
        }
    }

    /// Moves `array`/`schema` in: on Ok they read as released; on Err (E_FULL, E_FFI) they stay
    /// yours, untouched.
    pub fn publish(&self, array: &mut ArrowArray, schema: &mut ArrowSchema, source_id: u64, seq_no: u64) -> Result<()> {
        check(unsafe { zenith_publish(self.raw, array, schema, source_id, seq_no) }).map(|_| ())
    }

    /// The oldest batch, if any.
    pub fn poll(&self) -> Option<Batch> {
        let mut b: zenith_batch = unsafe { std::mem::zeroed() };
        if unsafe { zenith_poll(self.raw, &mut b) } == 1 {
            Some(Batch { b })
        } else {
            None
        }
    }

    pub fn load_plugin(&self, wasm: &[u8]) -> Result<()> {
        check(unsafe { zenith_load_plugin(self.raw, wasm.as_ptr(), wasm.len()) }).map(|_| ())
    }

    pub fn stats(&self) -> EngineStats {
        let mut st = EngineStats::default();
        unsafe { zenith_engine_get_stats(self.raw, &mut st) };
        st
    }
}

impl Drop for Engine {
    fn drop(&mut self) {
        unsafe { zenith_free(self.raw) }
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
