package zenith

/*
#include "zenith_go.h"
#include <stdlib.h>
*/
import "C"

import (
	"fmt"
	"runtime/cgo"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"
)

// ---- configuration -----------------------------------------------------------------------------

// Backend is the reactor's event backend (enum zenith_backend).
type Backend uint32

// The backends.
const (
	BackendAuto    Backend = C.ZENITH_BACKEND_AUTO     // io_uring where the kernel allows it, else epoll (ZENITH_BACKEND decides first)
	BackendIOUring Backend = C.ZENITH_BACKEND_IO_URING // io_uring or nothing (ZENITH_E_URING_DISABLED)
	BackendEpoll   Backend = C.ZENITH_BACKEND_EPOLL    // epoll, whatever the kernel offers
)

func (b Backend) String() string {
	switch b {
	case BackendAuto:
		return "auto"
	case BackendIOUring:
		return "io_uring"
	case BackendEpoll:
		return "epoll"
	}
	return fmt.Sprintf("Backend(%d)", uint32(b))
}

// BackendReason says why a backend was taken (enum zenith_backend_reason).
type BackendReason int32

// The reasons.
const (
	BackendByDefault BackendReason = C.ZENITH_BACKEND_BY_DEFAULT // auto, and io_uring works
	BackendByConfig  BackendReason = C.ZENITH_BACKEND_BY_CONFIG  // ServerConfig.Backend asked for it
	BackendByEnv     BackendReason = C.ZENITH_BACKEND_BY_ENV     // the ZENITH_BACKEND environment variable
	BackendFallback  BackendReason = C.ZENITH_BACKEND_FALLBACK   // auto, and the kernel refused io_uring
)

// Server flags (enum zenith_server_flags) for ServerConfig.Flags.
const (
	ServerReusePort        = C.ZENITH_SERVER_REUSEPORT
	ServerNoNodelay        = C.ZENITH_SERVER_NO_NODELAY
	ServerPinCPU           = C.ZENITH_SERVER_PIN_CPU
	ServerNoZerocopy       = C.ZENITH_SERVER_NO_ZEROCOPY
	ServerZerocopyLoopback = C.ZENITH_SERVER_ZEROCOPY_LOOPBACK
	ServerNoListen         = C.ZENITH_SERVER_NO_LISTEN // no listener at create (Address and Port must be zero)
	ServerNoQueuePause     = C.ZENITH_SERVER_NO_QUEUE_PAUSE
)

// Close reasons (the reason of OnClose; a negative reason is an error code).
const (
	ClosePeer     = C.ZENITH_CLOSE_PEER
	CloseLocal    = C.ZENITH_CLOSE_LOCAL
	CloseIdle     = C.ZENITH_CLOSE_IDLE
	CloseShutdown = C.ZENITH_CLOSE_SHUTDOWN
)

// PostMax is the most bytes PostData carries.
const PostMax = C.ZENITH_POST_MAX

// ServerConfig is zenith_server_config: zero means default in every field.
type ServerConfig struct {
	Address        string // IPv4 or IPv6 literal to listen on; "" = 127.0.0.1
	Port           uint16 // 0 = the kernel picks (Server.Port)
	MaxConnections uint32
	BufferSize     uint32
	BufferCount    uint32
	Flags          uint32  // Server* flags
	Backend        Backend // BackendAuto (0), BackendIOUring, BackendEpoll
	RecvBuffers    uint32
	SendQueueMax   uint32
	IdleTimeoutMs  uint32
	MaxTimers      uint32
	PostQueue      uint32 // a power of two; 0 = 4096
	SendReserve    uint32
	MaxUDP         uint32 // UDP sockets open at once; 0 = 16
	UDPQueue       uint32 // datagrams queued per UDP socket; 0 = 256
}

// ---- connections -------------------------------------------------------------------------------

// Conn is a connection: send to it, close it. Its methods are the reactor's calls: use them on
// the reactor's goroutine (inside callbacks too).
type Conn struct {
	s  *C.zenith_server
	ID uint64
}

// Send copies data onto the connection's send queue.
func (c Conn) Send(data []byte) error {
	if len(data) == 0 {
		return nil
	}
	return check(C.zgo_send(c.s, C.zenith_conn_id(c.ID), (*C.uint8_t)(unsafe.Pointer(&data[0])), C.size_t(len(data))))
}

// Close closes after what is queued (abort false) or now.
func (c Conn) Close(abort bool) error {
	flags := C.int(C.ZENITH_CLOSE_FLUSH)
	if abort {
		flags = C.ZENITH_CLOSE_ABORT
	}
	return check(C.zenith_server_close(c.s, C.zenith_conn_id(c.ID), flags))
}

// CloseWrite half-closes: sends what is queued, then shuts our sending side.
func (c Conn) CloseWrite() error {
	return check(C.zenith_server_close(c.s, C.zenith_conn_id(c.ID), C.ZENITH_CLOSE_WRITE))
}

// Queued is the bytes queued for sending on the connection.
func (c Conn) Queued() (int, error) {
	rc := C.zenith_server_queued(c.s, C.zenith_conn_id(c.ID))
	return int(rc), check(rc)
}

// Pause stops delivering data for the connection until Resume.
func (c Conn) Pause() error { return check(C.zenith_server_pause(c.s, C.zenith_conn_id(c.ID))) }

// Resume undoes Pause.
func (c Conn) Resume() error { return check(C.zenith_server_resume(c.s, C.zenith_conn_id(c.ID))) }

// Handlers are the server's callbacks; OnData is required. data is only valid during the call
// (copy what you keep). They run on the goroutine calling RunOnce, one at a time.
type Handlers struct {
	OnAccept func(c Conn)
	OnData   func(c Conn, data []byte)
	OnClose  func(c Conn, reason int)
	// OnPost receives the bytes given to Server.PostData (a copy, valid during the call).
	OnPost func(data []byte)
}

// CallbackPanic is what RunOnce returns when a callback panicked: the panic was recovered
// before it could reach C (the reactor goes on; later callbacks of the same RunOnce still run).
type CallbackPanic struct {
	Value interface{}
	Stack []byte
}

func (p *CallbackPanic) Error() string {
	return fmt.Sprintf("zenith: panic in a callback: %v", p.Value)
}

// ---- server --------------------------------------------------------------------------------------

// Server is a zenith_server: the reactor (TCP listeners and connections, outbound connects,
// UDP sockets, timers, posts), driven from one OS thread.
type Server struct {
	s      *C.zenith_server
	st     *serverState
	addr   *C.char
	mu     sync.RWMutex // Post/Stop (any goroutine) against Close
	closed bool
}

type connHandlers struct {
	onConnect func(c Conn, err error)
	onData    func(c Conn, data []byte)
	onClose   func(c Conn, reason int)
}

type serverState struct {
	s      *C.zenith_server
	h      Handlers
	handle cgo.Handle
	panic  *CallbackPanic
	depth  int                      // > 0 inside a callback
	conns  map[uint64]*connHandlers // outbound connections with handlers of their own
	timers map[*Timer]struct{}
	udps   map[*UDPSocket]struct{}

	postMu  sync.Mutex
	postFns map[uint64]func()
	postKey uint64
}

func (st *serverState) enter() { st.depth++ }

// leave is deferred by every trampoline: a panic stops here, before C.
func (st *serverState) leave() {
	st.depth--
	if r := recover(); r != nil && st.panic == nil {
		st.panic = &CallbackPanic{Value: r, Stack: debug.Stack()}
	}
}

// NewServer creates a bound, listening server (unless ServerNoListen).
func NewServer(cfg ServerConfig, h Handlers) (*Server, error) {
	if loadErr != nil {
		return nil, loadErr
	}
	if h.OnData == nil {
		return nil, Error{Code: ENull, Detail: "Handlers.OnData is required"}
	}
	var c C.zenith_server_config
	c.struct_size = C.uint32_t(unsafe.Sizeof(c))
	var addr *C.char
	if cfg.Address != "" {
		addr = C.CString(cfg.Address)
		c.address = addr
	}
	c.port = C.uint16_t(cfg.Port)
	c.flags = C.uint32_t(cfg.Flags)
	c.max_connections = C.uint32_t(cfg.MaxConnections)
	c.buffer_size = C.uint32_t(cfg.BufferSize)
	c.buffer_count = C.uint32_t(cfg.BufferCount)
	c.recv_buffers = C.uint32_t(cfg.RecvBuffers)
	c.send_queue_max = C.uint32_t(cfg.SendQueueMax)
	c.idle_timeout_ms = C.uint32_t(cfg.IdleTimeoutMs)
	c.max_timers = C.uint32_t(cfg.MaxTimers)
	c.post_queue = C.uint32_t(cfg.PostQueue)
	c.send_reserve = C.uint32_t(cfg.SendReserve)
	c.backend = C.uint32_t(cfg.Backend)
	c.max_udp = C.uint32_t(cfg.MaxUDP)
	c.udp_queue = C.uint32_t(cfg.UDPQueue)
	var err C.int
	s := C.zenith_server_create(&c, &err)
	if s == nil {
		C.free(unsafe.Pointer(addr))
		return nil, Error{Code: int(err)}
	}
	st := &serverState{s: s, h: h, conns: map[uint64]*connHandlers{}, timers: map[*Timer]struct{}{},
		udps: map[*UDPSocket]struct{}{}, postFns: map[uint64]func(){}}
	st.handle = cgo.NewHandle(st)
	srv := &Server{s: s, st: st, addr: addr}
	if rc := C.zgo_set_callbacks(s, C.uintptr_t(st.handle)); rc < 0 {
		srv.Close()
		return nil, Error{Code: int(rc)}
	}
	return srv, nil
}

func stateOf(user unsafe.Pointer) *serverState {
	return cgo.Handle(uintptr(user)).Value().(*serverState)
}

//export goZenithAccept
func goZenithAccept(user unsafe.Pointer, conn C.uint64_t) {
	st := stateOf(user)
	if st.h.OnAccept == nil {
		return
	}
	st.enter()
	defer st.leave()
	st.h.OnAccept(Conn{st.s, uint64(conn)})
}

//export goZenithData
func goZenithData(user unsafe.Pointer, conn C.uint64_t, data *C.uint8_t, n C.size_t) {
	st := stateOf(user)
	st.enter()
	defer st.leave()
	b := unsafe.Slice((*byte)(unsafe.Pointer(data)), int(n))
	c := Conn{st.s, uint64(conn)}
	if ch := st.conns[uint64(conn)]; ch != nil && ch.onData != nil {
		ch.onData(c, b)
		return
	}
	st.h.OnData(c, b)
}

//export goZenithClose
func goZenithClose(user unsafe.Pointer, conn C.uint64_t, reason C.int) {
	st := stateOf(user)
	ch := st.conns[uint64(conn)]
	delete(st.conns, uint64(conn))
	f := st.h.OnClose
	if ch != nil && ch.onClose != nil {
		f = ch.onClose
	}
	if f == nil {
		return
	}
	st.enter()
	defer st.leave()
	f(Conn{st.s, uint64(conn)}, int(reason))
}

//export goZenithConnect
func goZenithConnect(user unsafe.Pointer, conn C.uint64_t, status C.int) {
	st := stateOf(user)
	ch := st.conns[uint64(conn)]
	if status != 0 { // a failed connect gets no on_close
		delete(st.conns, uint64(conn))
	}
	if ch == nil || ch.onConnect == nil {
		return
	}
	st.enter()
	defer st.leave()
	var err error
	if status != 0 {
		err = Error{Code: int(status)}
	}
	ch.onConnect(Conn{st.s, uint64(conn)}, err)
}

// Port is the first listener's bound port (0 without a listener). Any goroutine.
func (s *Server) Port() uint16 { return uint16(C.zenith_server_port(s.s)) }

// Start starts the loop; the calling OS thread becomes the server's (runtime.LockOSThread
// first).
func (s *Server) Start() error { return check(C.zenith_server_start(s.s)) }

// RunOnce processes what is ready, waiting up to timeoutMs (-1: until something happens) and
// runs the callbacks. It returns the number of events handled; a callback's panic comes back
// as a *CallbackPanic error. Inside a callback it returns ZENITH_E_STATE.
func (s *Server) RunOnce(timeoutMs int) (int, error) {
	rc := C.zenith_server_run_once(s.s, C.int(timeoutMs))
	if p := s.st.panic; p != nil {
		s.st.panic = nil
		if rc < 0 {
			rc = 0
		}
		return int(rc), p
	}
	return int(rc), check(rc)
}

// Run calls RunOnce until Stop, returning the first error.
func (s *Server) Run(timeoutMs int) error {
	for !s.Stopped() {
		if _, err := s.RunOnce(timeoutMs); err != nil {
			return err
		}
	}
	return nil
}

// Stop asks the loop to stop; any goroutine (a no-op once the server is closed).
func (s *Server) Stop() {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if !s.closed {
		C.zenith_server_stop(s.s)
	}
}

// Stopped reports whether Stop was called (true once closed). Any goroutine.
func (s *Server) Stopped() bool {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.closed || C.zenith_server_stopped(s.s) != 0
}

// Listen adds a TCP listener (port 0: the kernel picks); returns the bound port.
func (s *Server) Listen(address string, port uint16, flags uint32) (uint16, error) {
	a := C.CString(address)
	defer C.free(unsafe.Pointer(a))
	rc := C.zenith_server_listen(s.s, a, C.uint16_t(port), C.uint32_t(flags))
	if rc < 0 {
		return 0, Error{Code: int(rc)}
	}
	return uint16(rc), nil
}

// Stats: accepted connections and bytes in/out.
func (s *Server) Stats() (accepted, bytesIn, bytesOut uint64) {
	var st C.zenith_server_stats
	C.zenith_server_get_stats(s.s, &st)
	return uint64(st.connections_accepted), uint64(st.bytes_in), uint64(st.bytes_out)
}

// ReactorStats are the reactor's counters (zenith_reactor_stats).
type ReactorStats struct {
	Listeners, ConnectsStarted, ConnectsSucceeded, ConnectsFailed, ConnectsTimedOut, ConnectsCanceled uint64
	TimersArmed, TimersFired, TimersSkipped, PostsRun, PostsRefused, Wakeups                          uint64
	SendPoolEmpty, DeliveriesHeld, MisuseRefused, LoopIterations                                      uint64
}

// ReactorStats reads the reactor's counters (the server's goroutine).
func (s *Server) ReactorStats() ReactorStats {
	var r C.zenith_reactor_stats
	C.zenith_server_get_reactor_stats(s.s, &r)
	return ReactorStats{uint64(r.listeners), uint64(r.connects_started), uint64(r.connects_succeeded),
		uint64(r.connects_failed), uint64(r.connects_timed_out), uint64(r.connects_canceled), uint64(r.timers_armed),
		uint64(r.timers_fired), uint64(r.timers_skipped), uint64(r.posts_run), uint64(r.posts_refused),
		uint64(r.wakeups), uint64(r.send_pool_empty), uint64(r.deliveries_held), uint64(r.misuse_refused),
		uint64(r.loop_iterations)}
}

// BackendInfo says which backend the reactor runs on and why.
type BackendInfo struct {
	Backend     Backend
	Reason      BackendReason
	UringErrno  int // with BackendFallback: how io_uring was refused
	UringSysctl int // with BackendFallback: kernel.io_uring_disabled then (-1 unreadable)
	Name        string
	Why         string
}

// BackendInfo reads zenith_server_backend_info. Any goroutine.
func (s *Server) BackendInfo() (BackendInfo, error) {
	var bi C.zenith_backend_info
	bi.struct_size = C.uint32_t(unsafe.Sizeof(bi))
	if err := check(C.zenith_server_backend_info(s.s, &bi)); err != nil {
		return BackendInfo{}, err
	}
	return BackendInfo{Backend(bi.backend), BackendReason(bi.reason), int(bi.uring_errno), int(bi.uring_sysctl),
		C.GoString(bi.name), C.GoString(bi.why)}, nil
}

// Close shuts down (flushing for up to a second) and destroys the server, on the server's
// goroutine, not inside a callback (ZENITH_E_STATE there). Timers, UDP sockets and posted
// closures still pending are dropped. The shutdown runs the last callbacks (on_close with
// CloseShutdown, a pending connect's OnConnect with ZENITH_E_CANCELED): a panic in one of them
// is returned as a *CallbackPanic.
func (s *Server) Close() error {
	if s.st.depth > 0 {
		return Error{Code: EState, Detail: "Server.Close inside a callback: close after RunOnce returns"}
	}
	if s.closed {
		return nil
	}
	// not under s.mu: the callbacks the shutdown runs may Post or Stop
	C.zenith_server_shutdown(s.s, 1000)
	s.mu.Lock()
	s.closed = true // from here on Post, PostData and Stop refuse: nothing reaches freed memory
	s.mu.Unlock()
	C.zenith_server_destroy(s.s)
	for t := range s.st.timers {
		t.finish()
	}
	for u := range s.st.udps {
		u.finish()
	}
	s.st.handle.Delete()
	s.st.postMu.Lock()
	s.st.postFns = nil
	s.st.postMu.Unlock()
	C.free(unsafe.Pointer(s.addr))
	if p := s.st.panic; p != nil {
		s.st.panic = nil
		return p
	}
	return nil
}

// ---- outbound connections -----------------------------------------------------------------------

// ConnectConfig says how to reach a peer (zenith_connect_config) and which handlers the new
// connection uses (nil ones fall back to the server's Handlers).
type ConnectConfig struct {
	Address                                         string // numeric IPv4 or IPv6 literal (no names: a resolver would block the loop)
	Port                                            uint16
	LocalAddress                                    string // "" = any
	LocalPort                                       uint16
	Timeout                                         time.Duration // 0 = 10 s
	NoNodelay                                       bool
	Keepalive                                       bool
	KeepaliveIdleS, KeepaliveIntvlS, KeepaliveCount uint32
	UserTimeout                                     time.Duration // TCP_USER_TIMEOUT; 0 = the kernel's
	// OnConnect runs once with the outcome: err nil (connected), or an Error
	// (ZENITH_ESYS(ECONNREFUSED), ZENITH_E_TIMEDOUT, ZENITH_E_CANCELED, ...).
	OnConnect func(c Conn, err error)
	OnData    func(c Conn, data []byte)
	OnClose   func(c Conn, reason int)
}

func millisUp(d time.Duration) C.uint32_t {
	if d <= 0 {
		return 0
	}
	ms := (d + time.Millisecond - 1) / time.Millisecond
	if ms > 0xffffffff {
		ms = 0xffffffff
	}
	return C.uint32_t(ms)
}

// Connect starts an outbound connection and returns it at once; OnConnect fires exactly once
// from RunOnce. Sends before that are queued. The server's goroutine (callbacks too).
func (s *Server) Connect(cfg ConnectConfig) (Conn, error) {
	var c C.zenith_connect_config
	c.struct_size = C.uint32_t(unsafe.Sizeof(c))
	addr := C.CString(cfg.Address)
	defer C.free(unsafe.Pointer(addr))
	c.address = addr
	c.port = C.uint16_t(cfg.Port)
	if cfg.LocalAddress != "" {
		la := C.CString(cfg.LocalAddress)
		defer C.free(unsafe.Pointer(la))
		c.local_address = la
	}
	c.local_port = C.uint16_t(cfg.LocalPort)
	c.timeout_ms = millisUp(cfg.Timeout)
	if cfg.NoNodelay {
		c.flags |= C.ZENITH_CONNECT_NO_NODELAY
	}
	if cfg.Keepalive {
		c.flags |= C.ZENITH_CONNECT_KEEPALIVE
	}
	c.keepalive_idle_s = C.uint32_t(cfg.KeepaliveIdleS)
	c.keepalive_intvl_s = C.uint32_t(cfg.KeepaliveIntvlS)
	c.keepalive_count = C.uint32_t(cfg.KeepaliveCount)
	c.user_timeout_ms = millisUp(cfg.UserTimeout)
	var id C.zenith_conn_id
	if rc := C.zgo_connect(s.s, &c, C.uintptr_t(s.st.handle), &id); rc < 0 {
		return Conn{}, Error{Code: int(rc)}
	}
	s.st.conns[uint64(id)] = &connHandlers{cfg.OnConnect, cfg.OnData, cfg.OnClose}
	return Conn{s.s, uint64(id)}, nil
}

// ---- timers ----------------------------------------------------------------------------------------

// Timer is an armed timer of a server (the server's goroutine only).
type Timer struct {
	st       *serverState
	id       C.zenith_timer_id
	handle   cgo.Handle
	fn       func(t *Timer)
	periodic bool
	done     bool
}

// StartTimer runs fn after delay, then every period if period > 0 (never early: millisecond
// ticks, rounded up). The server's goroutine (callbacks too, before Start too).
func (s *Server) StartTimer(delay, period time.Duration, fn func(t *Timer)) (*Timer, error) {
	if fn == nil {
		return nil, Error{Code: ENull, Detail: "StartTimer: fn is nil"}
	}
	t := &Timer{st: s.st, fn: fn, periodic: period > 0}
	t.handle = cgo.NewHandle(t)
	if rc := C.zgo_timer_start(s.s, millisUp(delay), millisUp(period), C.uintptr_t(t.handle), &t.id); rc < 0 {
		t.handle.Delete()
		return nil, Error{Code: int(rc)}
	}
	s.st.timers[t] = struct{}{}
	return t, nil
}

func (t *Timer) finish() {
	if !t.done {
		t.done = true
		t.handle.Delete()
		delete(t.st.timers, t)
	}
}

// Stop disarms the timer (ZENITH_E_STALE once a one-shot fired or after a Stop).
func (t *Timer) Stop() error {
	if t.done {
		return Error{Code: EStale}
	}
	if err := check(C.zenith_server_timer_stop(t.st.s, t.id)); err != nil {
		return err
	}
	t.finish()
	return nil
}

//export goZenithTimer
func goZenithTimer(user unsafe.Pointer, id C.uint64_t) {
	t := cgo.Handle(uintptr(user)).Value().(*Timer)
	if !t.periodic {
		t.finish()
	}
	t.st.enter()
	defer t.st.leave()
	t.fn(t)
}

// ---- posts --------------------------------------------------------------------------------------------

// Post runs fn on the server's goroutine, inside a later RunOnce. Any goroutine, concurrently.
// Returns ZENITH_E_FULL when post_queue messages wait (nothing queued: retry later),
// ZENITH_E_STATE once the server is closed. Closures still queued at Close are dropped unrun.
func (s *Server) Post(fn func()) error {
	if fn == nil {
		return Error{Code: ENull, Detail: "Post: fn is nil"}
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return Error{Code: EState, Detail: "the server is closed"}
	}
	st := s.st
	key := atomic.AddUint64(&st.postKey, 1)
	st.postMu.Lock()
	st.postFns[key] = fn
	st.postMu.Unlock()
	if rc := C.zgo_post_func(s.s, C.uintptr_t(st.handle), C.uint64_t(key)); rc < 0 {
		st.postMu.Lock()
		delete(st.postFns, key)
		st.postMu.Unlock()
		return Error{Code: int(rc)}
	}
	return nil
}

// PostData copies data (at most PostMax bytes) to Handlers.OnPost, run on the server's
// goroutine: no allocation, no closure. Any goroutine; ZENITH_E_FULL as Post.
func (s *Server) PostData(data []byte) error {
	if s.st.h.OnPost == nil {
		return Error{Code: ENull, Detail: "PostData: Handlers.OnPost is nil"}
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return Error{Code: EState, Detail: "the server is closed"}
	}
	var p *C.uint8_t
	if len(data) > 0 {
		p = (*C.uint8_t)(unsafe.Pointer(&data[0]))
	}
	return check(C.zgo_post_data(s.s, C.uintptr_t(s.st.handle), p, C.size_t(len(data))))
}

//export goZenithPostFunc
func goZenithPostFunc(user unsafe.Pointer, data unsafe.Pointer, n C.size_t) {
	st := stateOf(user)
	key := *(*uint64)(data)
	st.postMu.Lock()
	fn := st.postFns[key]
	delete(st.postFns, key)
	st.postMu.Unlock()
	if fn == nil {
		return
	}
	st.enter()
	defer st.leave()
	fn()
}

//export goZenithPostData
func goZenithPostData(user unsafe.Pointer, data unsafe.Pointer, n C.size_t) {
	st := stateOf(user)
	st.enter()
	defer st.leave()
	var b []byte
	if n > 0 {
		b = unsafe.Slice((*byte)(data), int(n))
	}
	st.h.OnPost(b)
}
