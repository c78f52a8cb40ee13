package zenith

/*
#include "zenith_go.h"
#include <stdlib.h>
*/
import "C"

import (
	"net/netip"
	"runtime/cgo"
	"time"
	"unsafe"
)

// UDP socket flags (enum zenith_udp_flags) for UDPConfig.Flags.
const (
	UDPReuseAddr    = C.ZENITH_UDP_REUSEADDR
	UDPReusePort    = C.ZENITH_UDP_REUSEPORT
	UDPV6Only       = C.ZENITH_UDP_V6ONLY
	UDPGRO          = C.ZENITH_UDP_GRO
	UDPNoTimestamps = C.ZENITH_UDP_NO_TIMESTAMPS
	UDPHWTimestamps = C.ZENITH_UDP_HW_TIMESTAMPS
	UDPBroadcast    = C.ZENITH_UDP_BROADCAST
)

// Datagram flags (Datagram.Flags).
const (
	UDPTrunc      = C.ZENITH_UDP_TRUNC       // cut: len(Data) of OrigLen bytes
	UDPGROSegment = C.ZENITH_UDP_GRO_SEGMENT // one of several the kernel coalesced
)

// UDP socket features (UDPInfo.Features).
const (
	UDPFeatureGSO        = C.ZENITH_UDP_F_GSO
	UDPFeatureGRO        = C.ZENITH_UDP_F_GRO
	UDPFeatureTSSoftware = C.ZENITH_UDP_F_TS_SOFTWARE
	UDPFeatureTSHardware = C.ZENITH_UDP_F_TS_HARDWARE
	UDPFeatureConnected  = C.ZENITH_UDP_F_CONNECTED
	UDPFeatureIPv6       = C.ZENITH_UDP_F_IPV6
)

// UDPConfig is zenith_udp_config: zero means default in every field.
type UDPConfig struct {
	Address     string // IPv4 or IPv6 literal to bind; "" = 0.0.0.0
	Port        uint16 // 0 = the kernel picks (UDPSocket.Port)
	PeerAddress string // "" = unconnected
	PeerPort    uint16
	Flags       uint32 // UDP* flags
	RcvBuf      uint32
	SndBuf      uint32
	// OnRecv gets each datagram, on the server's goroutine; d.Data is borrowed for the call.
	// nil: a send-only socket.
	OnRecv func(u *UDPSocket, d Datagram)
	// OnWritable: a send refused with ZENITH_E_FULL may succeed again.
	OnWritable func(u *UDPSocket)
}

// Datagram is one received datagram, lent to OnRecv for the call (copy Data to keep it).
type Datagram struct {
	Data        []byte
	OrigLen     int    // its length as sent (len(Data) unless Flags has UDPTrunc)
	Flags       uint32 // UDPTrunc, UDPGROSegment
	KernelDrops uint32 // the socket's kernel drop counter when it was queued
	From        netip.AddrPort
	TimestampNs int64 // kernel software receive time, ns since the epoch (CLOCK_REALTIME); 0 if none
	HWTimestamp int64 // the NIC's raw hardware timestamp, ns; 0 if none
}

// Time is TimestampNs as a time.Time (the zero Time when the kernel gave none).
func (d Datagram) Time() time.Time {
	if d.TimestampNs == 0 {
		return time.Time{}
	}
	return time.Unix(0, d.TimestampNs)
}

// UDPSocket is a UDP socket on a reactor; its calls are the reactor's (the server's goroutine,
// callbacks included, or before Start).
type UDPSocket struct {
	st         *serverState
	id         C.zenith_udp_id
	handle     cgo.Handle
	onRecv     func(u *UDPSocket, d Datagram)
	onWritable func(u *UDPSocket)
	closed     bool
}

// OpenUDP opens a UDP socket on the reactor (bound; connected with PeerAddress).
func (s *Server) OpenUDP(cfg UDPConfig) (*UDPSocket, error) {
	var c C.zenith_udp_config
	c.struct_size = C.uint32_t(unsafe.Sizeof(c))
	c.flags = C.uint32_t(cfg.Flags)
	if cfg.Address != "" {
		a := C.CString(cfg.Address)
		defer C.free(unsafe.Pointer(a))
		c.address = a
	}
	c.port = C.uint16_t(cfg.Port)
	if cfg.PeerAddress != "" {
		p := C.CString(cfg.PeerAddress)
		defer C.free(unsafe.Pointer(p))
		c.peer_address = p
	}
	c.peer_port = C.uint16_t(cfg.PeerPort)
	c.rcvbuf = C.uint32_t(cfg.RcvBuf)
	c.sndbuf = C.uint32_t(cfg.SndBuf)
	u := &UDPSocket{st: s.st, onRecv: cfg.OnRecv, onWritable: cfg.OnWritable}
	u.handle = cgo.NewHandle(u)
	recv, writable := C.int(0), C.int(0)
	if cfg.OnRecv != nil {
		recv = 1
	}
	if cfg.OnWritable != nil {
		writable = 1
	}
	if rc := C.zgo_udp_open(s.s, &c, C.uintptr_t(u.handle), recv, writable, &u.id); rc < 0 {
		u.handle.Delete()
		return nil, Error{Code: int(rc)}
	}
	s.st.udps[u] = struct{}{}
	return u, nil
}

func (u *UDPSocket) finish() {
	if !u.closed {
		u.closed = true
		u.handle.Delete()
		delete(u.st.udps, u)
	}
}

// ID is the socket's zenith_udp_id.
func (u *UDPSocket) ID() uint64 { return uint64(u.id) }

// Port is the bound port (0 once closed).
func (u *UDPSocket) Port() uint16 { return uint16(C.zenith_udp_port(u.st.s, u.id)) }

func cAddr(ap netip.AddrPort) (C.zenith_addr, error) {
	var a C.zenith_addr
	ip := ap.Addr().Unmap()
	family := C.int(4)
	var raw []byte
	if ip.Is4() {
		b := ip.As4()
		raw = b[:]
	} else {
		b := ip.As16()
		raw = b[:]
		family = 6
	}
	if rc := C.zgo_addr(&a, (*C.uint8_t)(unsafe.Pointer(&raw[0])), family, C.uint16_t(ap.Port())); rc < 0 {
		return a, Error{Code: int(rc)}
	}
	return a, nil
}

func goAddr(a *C.zenith_addr) netip.AddrPort {
	var ip [16]C.uint8_t
	var port C.uint16_t
	switch C.zgo_addr_decode(a, &ip[0], &port) {
	case 4:
		return netip.AddrPortFrom(netip.AddrFrom4(*(*[4]byte)(unsafe.Pointer(&ip[0]))), uint16(port))
	case 6:
		return netip.AddrPortFrom(netip.AddrFrom16(*(*[16]byte)(unsafe.Pointer(&ip[0]))), uint16(port))
	}
	return netip.AddrPort{}
}

// Send queues a copy of data as one datagram to `to` (the zero AddrPort: the connected peer).
// It leaves from the loop, in order; ZENITH_E_FULL: nothing queued, OnWritable follows.
func (u *UDPSocket) Send(data []byte, to netip.AddrPort) error {
	var p *C.uint8_t
	if len(data) > 0 {
		p = (*C.uint8_t)(unsafe.Pointer(&data[0]))
	}
	if !to.IsValid() {
		return check(C.zgo_udp_send(u.st.s, u.id, p, C.size_t(len(data)), nil))
	}
	a, err := cAddr(to)
	if err != nil {
		return err
	}
	return check(C.zgo_udp_send(u.st.s, u.id, p, C.size_t(len(data)), &a))
}

func cstrOrNil(s string) *C.char {
	if s == "" {
		return nil
	}
	return C.CString(s)
}

// Join joins a multicast group: any-source (source "") or source-specific, on interface ifname
// ("" = the route's).
func (u *UDPSocket) Join(group, source, ifname string) error {
	g, src, ifn := C.CString(group), cstrOrNil(source), cstrOrNil(ifname)
	defer C.free(unsafe.Pointer(g))
	defer C.free(unsafe.Pointer(src))
	defer C.free(unsafe.Pointer(ifn))
	return check(C.zenith_udp_join(u.st.s, u.id, g, src, ifn))
}

// Leave leaves what Join joined (the same arguments).
func (u *UDPSocket) Leave(group, source, ifname string) error {
	g, src, ifn := C.CString(group), cstrOrNil(source), cstrOrNil(ifname)
	defer C.free(unsafe.Pointer(g))
	defer C.free(unsafe.Pointer(src))
	defer C.free(unsafe.Pointer(ifn))
	return check(C.zenith_udp_leave(u.st.s, u.id, g, src, ifn))
}

// MulticastSendOptions sets the sender's multicast interface (ifname; "" leaves it), TTL
// (0-255; -1 leaves it) and loopback (0 or 1; -1 leaves it).
func (u *UDPSocket) MulticastSendOptions(ifname string, ttl, loop int) error {
	ifn := cstrOrNil(ifname)
	defer C.free(unsafe.Pointer(ifn))
	return check(C.zenith_udp_multicast_send_opts(u.st.s, u.id, ifn, C.int(ttl), C.int(loop)))
}

// UDPInfo is a socket's state and counters (zenith_udp_info).
type UDPInfo struct {
	Features                                      uint32
	Local, Peer                                   netip.AddrPort
	RecvCapacity, Queued                          uint32
	DatagramsIn, BytesIn, DatagramsOut, BytesOut  uint64
	Truncated, GROBatches, GSOSends, RecvStalls   uint64
	KernelDrops, RecvErrors, SendFull, SendErrors uint64
	LastError                                     int
}

// Info reads the socket's state and counters.
func (u *UDPSocket) Info() (UDPInfo, error) {
	var i C.zenith_udp_info
	i.struct_size = C.uint32_t(unsafe.Sizeof(i))
	if err := check(C.zenith_udp_get_info(u.st.s, u.id, &i)); err != nil {
		return UDPInfo{}, err
	}
	return UDPInfo{uint32(i.features), goAddr(&i.local), goAddr(&i.peer), uint32(i.recv_capacity), uint32(i.queued),
		uint64(i.datagrams_in), uint64(i.bytes_in), uint64(i.datagrams_out), uint64(i.bytes_out), uint64(i.truncated),
		uint64(i.gro_batches), uint64(i.gso_sends), uint64(i.recv_stalls), uint64(i.kernel_drops),
		uint64(i.recv_errors), uint64(i.send_full), uint64(i.send_errors), int(i.last_error)}, nil
}

// Close closes the socket: delivery stops at once, what is queued is still sent.
func (u *UDPSocket) Close() error {
	if u.closed {
		return Error{Code: EStale}
	}
	if err := check(C.zenith_udp_close(u.st.s, u.id)); err != nil {
		return err
	}
	u.finish()
	return nil
}

//export goZenithUDPRecv
func goZenithUDPRecv(user unsafe.Pointer, sock C.uint64_t, g *C.zgo_dgram) {
	u := cgo.Handle(uintptr(user)).Value().(*UDPSocket)
	if u.closed || u.onRecv == nil {
		return
	}
	d := Datagram{OrigLen: int(g.orig_len), Flags: uint32(g.flags), KernelDrops: uint32(g.kernel_drops),
		TimestampNs: int64(g.ts_ns), HWTimestamp: int64(g.hw_ts_ns)}
	if g.len > 0 {
		d.Data = unsafe.Slice((*byte)(unsafe.Pointer(g.data)), int(g.len))
	}
	switch g.family {
	case 4:
		d.From = netip.AddrPortFrom(netip.AddrFrom4(*(*[4]byte)(unsafe.Pointer(&g.ip[0]))), uint16(g.port))
	case 6:
		d.From = netip.AddrPortFrom(netip.AddrFrom16(*(*[16]byte)(unsafe.Pointer(&g.ip[0]))), uint16(g.port))
	}
	u.st.enter()
	defer u.st.leave()
	u.onRecv(u, d)
}

//export goZenithUDPWritable
func goZenithUDPWritable(user unsafe.Pointer, sock C.uint64_t) {
	u := cgo.Handle(uintptr(user)).Value().(*UDPSocket)
	if u.closed || u.onWritable == nil {
		return
	}
	u.st.enter()
	defer u.st.leave()
	u.onWritable(u)
}
