// Package zenith wraps Zenith (zero-copy networking on io_uring, the Arrow data-plane engine,
// the buffer pool and the NUMA helpers) through cgo. The C library is compiled into the
// package (zenith_impl.c includes ../../zenith.c); it links -luring -lnuma.
//
// Errors are of type Error carrying the Zenith code. Threads: a Server must be driven from one
// OS thread (call runtime.LockOSThread in the goroutine that runs it: io_uring rings are
// single-issuer); the Engine and the Pool are safe from any goroutine. Arrow arrays live in C
// memory (cgo forbids C keeping Go pointers); Int64Array builds one.
package zenith

/*
#cgo CFLAGS: -std=gnu11 -O2 -D_GNU_SOURCE
#cgo LDFLAGS: -luring -lnuma -lpthread
#include "zenith_go.h"
#include <stdlib.h>
*/
import "C"

import (
	"fmt"
	"runtime"
	"runtime/cgo"
	"unsafe"
)

// WrappedVersion is the zenith.h (major, minor) this package was written for.
var WrappedVersion = [2]int{0, 2}

// Version returns the linked library's major, minor, patch.
func Version() (int, int, int) {
	v := int(C.zenith_version())
	return v / 1000000, v / 1000 % 1000, v % 1000
}

// Error is a negative Zenith code (zenith_numa.h's table when Numa is true).
type Error struct {
	Code int
	Numa bool
}

// Name is the code's name, e.g. "ZENITH_E_FULL".
func (e Error) Name() string {
	if e.Numa {
		return C.GoString(C.zenith_numa_errname(C.int(e.Code)))
	}
	return C.GoString(C.zenith_errname(C.int(e.Code)))
}

func (e Error) Error() string {
	text := C.GoString(C.zenith_strerror(C.int(e.Code)))
	if e.Numa {
		text = C.GoString(C.zenith_numa_strerror(C.int(e.Code)))
	}
	return fmt.Sprintf("%s: %s (%d)", e.Name(), text, e.Code)
}

// Codes of the design.
const (
	ENull = -1
	EFull = -2
	EFFI  = -4
)

func check(rc C.int) error {
	if rc < 0 {
		return Error{Code: int(rc)}
	}
	return nil
}

// ---- pool ------------------------------------------------------------------------------------

// Pool is a zenith_pool. Buffers are unsafe.Pointers into its slab.
type Pool struct{ p *C.zenith_pool }

// NewPool makes a pool of count buffers of size bytes (0 = defaults: 4096 x 1024).
func NewPool(size int, count int) (*Pool, error) {
	var cfg C.zenith_pool_config
	cfg.struct_size = C.uint32_t(unsafe.Sizeof(cfg))
	cfg.buffer_size = C.size_t(size)
	cfg.buffer_count = C.uint32_t(count)
	var err C.int
	p := C.zenith_pool_create(&cfg, &err)
	if p == nil {
		return nil, Error{Code: int(err)}
	}
	return &Pool{p}, nil
}

// Acquire returns a buffer, or nil when none is free.
func (p *Pool) Acquire() unsafe.Pointer { return C.zenith_pool_acquire(p.p) }

// Release gives a buffer back (foreign, misaligned and double releases are errors).
func (p *Pool) Release(buf unsafe.Pointer) error { return check(C.zenith_pool_release(p.p, buf)) }

// InUse is the number of buffers out.
func (p *Pool) InUse() uint64 {
	var st C.zenith_pool_stats
	C.zenith_pool_get_stats(p.p, &st)
	return uint64(st.in_use)
}

// Close destroys the pool.
func (p *Pool) Close() {
	if p.p != nil {
		C.zenith_pool_destroy(p.p)
		p.p = nil
	}
}

// ---- server ----------------------------------------------------------------------------------

// Conn is a connection inside a callback: send to it, close it.
type Conn struct {
	s  *C.zenith_server
	ID uint64
}

// Send copies data onto the connection's send queue.
func (c Conn) Send(data []byte) error {
	if len(data) == 0 {
		return nil
	}
	return check(C.zenith_server_send(c.s, C.zenith_conn_id(c.ID), unsafe.Pointer(&data[0]), C.size_t(len(data))))
}

// Close closes after what is queued (abort false) or now.
func (c Conn) Close(abort bool) error {
	flags := C.int(0)
	if abort {
		flags = 1
	}
	return check(C.zenith_server_close(c.s, C.zenith_conn_id(c.ID), flags))
}

// Handlers are the server's callbacks; OnData is required. data is only valid during the call.
type Handlers struct {
	OnAccept func(c Conn)
	OnData   func(c Conn, data []byte)
	OnClose  func(c Conn, reason int)
}

// ServerConfig: zero means default in every field.
type ServerConfig struct {
	Address        string
	Port           uint16
	MaxConnections uint32
	BufferSize     uint32
	BufferCount    uint32
}

// Server is a zenith_server, driven by one OS thread (LockOSThread).
type Server struct {
	s      *C.zenith_server
	h      cgo.Handle
	addr   *C.char
	state  *serverState
	closed bool
}

type serverState struct {
	s     *C.zenith_server
	h     Handlers
	panic interface{}
}

// NewServer creates a bound, listening server.
func NewServer(cfg ServerConfig, h Handlers) (*Server, error) {
	if h.OnData == nil {
		return nil, Error{Code: ENull}
	}
	var c C.zenith_server_config
	c.struct_size = C.uint32_t(unsafe.Sizeof(c))
	addr := C.CString(cfg.Address)
	if cfg.Address != "" {
		c.address = addr
	}
	c.port = C.uint16_t(cfg.Port)
	c.max_connections = C.uint32_t(cfg.MaxConnections)
	c.buffer_size = C.uint32_t(cfg.BufferSize)
	c.buffer_count = C.uint32_t(cfg.BufferCount)
	var err C.int
	s := C.zenith_server_create(&c, &err)
	if s == nil {
		C.free(unsafe.Pointer(addr))
		return nil, Error{Code: int(err)}
	}
	st := &serverState{s: s, h: h}
	srv := &Server{s: s, h: cgo.NewHandle(st), addr: addr, state: st}
	if rc := C.zgo_set_callbacks(s, C.uintptr_t(srv.h)); rc < 0 {
		srv.Close()
		return nil, Error{Code: int(rc)}
	}
	return srv, nil
}

func stateOf(user unsafe.Pointer) *serverState {
	return cgo.Handle(uintptr(user)).Value().(*serverState)
}

// guard keeps a panic from unwinding through C; RunOnce re-panics with it.
func (st *serverState) guard(f func()) {
	if st.panic != nil {
		return
	}
	defer func() {
		if r := recover(); r != nil {
			st.panic = r
		}
	}()
	f()
}

//export goZenithAccept
func goZenithAccept(user unsafe.Pointer, conn C.uint64_t) {
	st := stateOf(user)
	if st.h.OnAccept != nil {
		st.guard(func() { st.h.OnAccept(Conn{st.s, uint64(conn)}) })
	}
}

//export goZenithData
func goZenithData(user unsafe.Pointer, conn C.uint64_t, data *C.uint8_t, n C.size_t) {
	st := stateOf(user)
	b := unsafe.Slice((*byte)(unsafe.Pointer(data)), int(n))
	st.guard(func() { st.h.OnData(Conn{st.s, uint64(conn)}, b) })
}

//export goZenithClose
func goZenithClose(user unsafe.Pointer, conn C.uint64_t, reason C.int) {
	st := stateOf(user)
	if st.h.OnClose != nil {
		st.guard(func() { st.h.OnClose(Conn{st.s, uint64(conn)}, int(reason)) })
	}
}

// Port is the bound port.
func (s *Server) Port() uint16 { return uint16(C.zenith_server_port(s.s)) }

// Start starts accepting (on the calling OS thread).
func (s *Server) Start() error { return check(C.zenith_server_start(s.s)) }

// RunOnce processes what is ready, waiting up to timeoutMs (-1: until something happens).
func (s *Server) RunOnce(timeoutMs int) (int, error) {
	rc := C.zenith_server_run_once(s.s, C.int(timeoutMs))
	if p := s.state.panic; p != nil {
		s.state.panic = nil
		panic(p)
	}
	return int(rc), check(rc)
}

// Stop may be called from any goroutine.
func (s *Server) Stop() { C.zenith_server_stop(s.s) }

// Stopped reports whether Stop was called.
func (s *Server) Stopped() bool { return C.zenith_server_stopped(s.s) != 0 }

// Stats: accepted connections and bytes in/out.
func (s *Server) Stats() (accepted, bytesIn, bytesOut uint64) {
	var st C.zenith_server_stats
	C.zenith_server_get_stats(s.s, &st)
	return uint64(st.connections_accepted), uint64(st.bytes_in), uint64(st.bytes_out)
}

// Close shuts down and destroys (on the server's thread).
func (s *Server) Close() {
	if s.closed {
		return
	}
	s.closed = true
	C.zenith_server_shutdown(s.s, 1000)
	C.zenith_server_destroy(s.s)
	s.h.Delete()
	C.free(unsafe.Pointer(s.addr))
}

// ---- engine ------------------------------------------------------------------------------------

// Engine is the data-plane engine; safe from any goroutine.
type Engine struct{ e C.ZenithEngine }

// ArrowArray is an Arrow C Data Interface array+schema pair in C memory.
type ArrowArray struct {
	a *C.struct_ArrowArray
	s *C.struct_ArrowSchema
}

// Int64Array builds an Arrow int64 ("l") array in C memory; its release callback frees it.
func Int64Array(values []int64) (*ArrowArray, error) {
	arr := &ArrowArray{
		a: (*C.struct_ArrowArray)(C.calloc(1, C.size_t(unsafe.Sizeof(C.struct_ArrowArray{})))),
		s: (*C.struct_ArrowSchema)(C.calloc(1, C.size_t(unsafe.Sizeof(C.struct_ArrowSchema{})))),
	}
	var p *C.int64_t
	if len(values) > 0 {
		p = (*C.int64_t)(unsafe.Pointer(&values[0]))
	}
	if rc := C.zgo_int64_array(p, C.int64_t(len(values)), arr.a, arr.s); rc < 0 {
		arr.Free()
		return nil, Error{Code: int(rc)}
	}
	return arr, nil
}

// Moved reports whether both structs read as released (after a successful Publish).
func (x *ArrowArray) Moved() bool { return C.zgo_is_released(x.a, x.s) == 3 }

// SetBuffers changes n_buffers (for tests of malformed input).
func (x *ArrowArray) SetBuffers(n int) { x.a.n_buffers = C.int64_t(n) }

// Free runs the release callbacks if the structs are still ours, then frees the two structs.
func (x *ArrowArray) Free() {
	C.zgo_release_now(x.a, x.s)
	C.free(unsafe.Pointer(x.a))
	C.free(unsafe.Pointer(x.s))
}

// ReleasedCount is how many arrays and schemas built by Int64Array were released.
func ReleasedCount() (arrays, schemas uint64) {
	return uint64(C.zgo_released(0)), uint64(C.zgo_released(1))
}

// NewEngine holds up to capacity batches in flight.
func NewEngine(capacity int) (*Engine, error) {
	e := C.zenith_init(C.uint32_t(capacity))
	if e == nil {
		return nil, Error{Code: ENull}
	}
	return &Engine{e}, nil
}

// Publish moves the array in (Moved() is true after); on error it stays yours.
func (e *Engine) Publish(x *ArrowArray, sourceID, seqNo uint64) error {
	return check(C.zenith_publish(e.e, x.a, x.s, C.uint64_t(sourceID), C.uint64_t(seqNo)))
}

// Batch is a polled batch; Release it exactly once.
type Batch struct {
	b        C.zenith_batch
	SourceID uint64
	SeqNo    uint64
}

// Poll returns the oldest batch, or nil.
func (e *Engine) Poll() *Batch {
	b := new(Batch)
	if C.zenith_poll(e.e, &b.b) != 1 {
		return nil
	}
	b.SourceID, b.SeqNo = uint64(b.b.source_id), uint64(b.b.seq_no)
	return b
}

// Len is the array's length.
func (b *Batch) Len() int { return int(b.b.array.length) }

// Int64 is value i of an int64 batch.
func (b *Batch) Int64(i int) int64 { return int64(C.zgo_int64_at(&b.b.array, C.int64_t(i))) }

// Format is the schema's format string.
func (b *Batch) Format() string { return C.GoString(b.b.schema.format) }

// Release runs the Arrow release callbacks (once: a second call is an error).
func (b *Batch) Release() error { return check(C.zenith_batch_release(nil, &b.b)) }

// LoadPlugin: plugins are a later release (ZENITH_E_UNSUPPORTED).
func (e *Engine) LoadPlugin(wasm []byte) error {
	if len(wasm) == 0 {
		return check(C.zenith_load_plugin(e.e, nil, 0))
	}
	return check(C.zenith_load_plugin(e.e, (*C.uint8_t)(unsafe.Pointer(&wasm[0])), C.size_t(len(wasm))))
}

// Stats: published, polled, rejected as malformed, sequence gaps.
func (e *Engine) Stats() (published, polled, rejectedInvalid, seqGaps uint64) {
	var st C.zenith_engine_stats
	C.zenith_engine_get_stats(e.e, &st)
	return uint64(st.published), uint64(st.polled), uint64(st.rejected_invalid), uint64(st.seq_gaps)
}

// Close frees the engine, releasing what is still queued.
func (e *Engine) Close() {
	if e.e != nil {
		C.zenith_free(e.e)
		e.e = nil
	}
}

// ---- NUMA ------------------------------------------------------------------------------------------

// NumaInit returns true with NUMA, false in one-node mode.
func NumaInit() bool { return C.zenith_numa_init() == 0 }

// NumaNodeCount is the number of nodes.
func NumaNodeCount() int { return int(C.zenith_numa_node_count()) }

// NumaAllocOnNode returns size bytes bound to node (free with NumaFree). The error code is read
// on the same OS thread as the call (zenith_numa_last_error is per thread).
func NumaAllocOnNode(size int, node int) (unsafe.Pointer, error) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	p := C.zenith_numa_alloc_onnode(C.size_t(size), C.int(node))
	if p == nil {
		return nil, Error{Code: int(C.zenith_numa_last_error()), Numa: true}
	}
	return p, nil
}

// NumaFree unmaps memory from NumaAllocOnNode.
func NumaFree(p unsafe.Pointer, size int) error {
	if rc := C.zenith_numa_free(p, C.size_t(size)); rc < 0 {
		return Error{Code: int(rc), Numa: true}
	}
	return nil
}

// NumaNodeOfAddress is the node the page at p lives on (touch it first).
func NumaNodeOfAddress(p unsafe.Pointer) (int, error) {
	rc := C.zenith_numa_node_of_address(p)
	if rc < 0 {
		return 0, Error{Code: int(rc), Numa: true}
	}
	return int(rc), nil
}
