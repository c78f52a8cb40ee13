package zenith

import (
	"bytes"
	"fmt"
	"net/netip"
	"os"
	"testing"
	"time"
)

// A UDP echo on one reactor: every datagram comes back whole, from the echo's address, with a
// kernel receive timestamp once the kernel stamps at all.
func TestUDPEcho(t *testing.T) {
	for _, b := range backends {
		t.Run(b.String(), func(t *testing.T) {
			loop(t)
			s := newServer(t, ServerConfig{Flags: ServerNoListen, Backend: b}, Handlers{})
			echo, err := s.OpenUDP(UDPConfig{Address: "127.0.0.1", OnRecv: func(u *UDPSocket, d Datagram) {
				if err := u.Send(d.Data, d.From); err != nil {
					t.Errorf("echo send: %v", err)
				}
			}})
			if err != nil {
				t.Fatal(err)
			}
			type got struct {
				data []byte
				from netip.AddrPort
				ts   int64
			}
			var back []got
			client, err := s.OpenUDP(UDPConfig{Address: "127.0.0.1", OnRecv: func(u *UDPSocket, d Datagram) {
				if d.Flags != 0 || d.OrigLen != len(d.Data) {
					t.Errorf("flags %#x orig_len %d len %d", d.Flags, d.OrigLen, len(d.Data))
				}
				back = append(back, got{append([]byte(nil), d.Data...), d.From, d.TimestampNs})
			}})
			if err != nil {
				t.Fatal(err)
			}
			echoAddr := netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), echo.Port())
			if echo.Port() == 0 {
				t.Fatal("no port")
			}
			// the kernel turns receive timestamps on lazily: wait for the first stamped datagram
			stamped := false
			for i := 0; i < 200 && !stamped; i++ {
				n := len(back)
				if err := client.Send([]byte("w"), echoAddr); err != nil {
					t.Fatal(err)
				}
				runUntil(t, s, 5*time.Second, "a warm-up echo", func() bool { return len(back) > n })
				stamped = back[len(back)-1].ts != 0
				if !stamped {
					spin(t, s, 5*time.Millisecond)
				}
			}
			if !stamped {
				t.Fatal("the kernel never timestamped a datagram")
			}
			back = back[:0]
			t0 := time.Now().UnixNano()
			var sent [][]byte
			for i := 0; i < 100; i++ {
				msg := bytes.Repeat([]byte{byte(i)}, 1+i*37)
				sent = append(sent, msg)
				if err := client.Send(msg, echoAddr); err != nil {
					t.Fatalf("send %d: %v", i, err)
				}
				if i%16 == 15 {
					spin(t, s, time.Millisecond) // let the 256-datagram queues drain
				}
			}
			runUntil(t, s, 5*time.Second, "100 echoes", func() bool { return len(back) >= 100 })
			t1 := time.Now().UnixNano()
			for i, g := range back {
				if !bytes.Equal(g.data, sent[i]) {
					t.Fatalf("datagram %d: %d bytes back, %d sent", i, len(g.data), len(sent[i]))
				}
				if g.from != echoAddr {
					t.Fatalf("datagram %d from %v, want %v", i, g.from, echoAddr)
				}
				if g.ts < t0-int64(time.Second) || g.ts > t1+int64(time.Second) {
					t.Fatalf("datagram %d: timestamp %d outside [%d, %d]", i, g.ts, t0, t1)
				}
			}
			info, err := client.Info()
			if err != nil {
				t.Fatal(err)
			}
			if info.Features&UDPFeatureTSSoftware == 0 || info.Local.Port() != client.Port() ||
				info.Local.Addr() != netip.MustParseAddr("127.0.0.1") || info.DatagramsOut < 100 || info.DatagramsIn < 100 {
				t.Fatalf("info %+v", info)
			}
			if err := client.Send([]byte("x"), netip.AddrPort{}); err == nil || err.(Error).Code != EInval {
				t.Fatalf("no address on an unconnected socket: %v", err)
			}
			if err := echo.Close(); err != nil {
				t.Fatal(err)
			}
			if err := echo.Close(); err == nil || err.(Error).Code != EStale {
				t.Fatalf("second close: %v", err)
			}
			if _, err := s.OpenUDP(UDPConfig{Address: "not-an-ip"}); err == nil || err.(Error).Code != EInval {
				t.Fatalf("bad address: %v", err)
			}
		})
	}
}

// A multicast group joined on lo: nothing before the join, everything after, nothing after the
// leave. A unicast barrier after each burst says when all of it had its chance to arrive.
func TestMulticastLoopback(t *testing.T) {
	loop(t)
	s := newServer(t, ServerConfig{Flags: ServerNoListen}, Handlers{})
	pid := os.Getpid()
	group := fmt.Sprintf("239.%d.%d.%d", 100+(pid>>16)%100, (pid>>8)&0xff, pid&0xff)
	var mcast, barriers int
	var lastBarrier byte
	var from netip.AddrPort
	rx, err := s.OpenUDP(UDPConfig{Address: "0.0.0.0", OnRecv: func(u *UDPSocket, d Datagram) {
		if len(d.Data) != 2 {
			t.Errorf("datagram of %d bytes", len(d.Data))
			return
		}
		switch d.Data[0] {
		case 'M':
			mcast++
			from = d.From
		case 'B':
			barriers++
			lastBarrier = d.Data[1]
		}
	}})
	if err != nil {
		t.Fatal(err)
	}
	tx, err := s.OpenUDP(UDPConfig{Address: "127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	if err := tx.MulticastSendOptions("lo", 1, 1); err != nil {
		t.Fatalf("multicast send options on lo: %v", err)
	}
	g := netip.AddrPortFrom(netip.MustParseAddr(group), rx.Port())
	uni := netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), rx.Port())
	burst := func(n int, barrier byte) {
		t.Helper()
		for i := 0; i < n; i++ {
			if err := tx.Send([]byte{'M', byte(i)}, g); err != nil {
				t.Fatalf("multicast send: %v", err)
			}
		}
		if err := tx.Send([]byte{'B', barrier}, uni); err != nil {
			t.Fatal(err)
		}
		runUntil(t, s, 5*time.Second, "the barrier", func() bool { return lastBarrier == barrier })
		spin(t, s, 20*time.Millisecond)
	}
	burst(10, 1)
	if mcast != 0 {
		t.Fatalf("%d multicast datagrams before the join", mcast)
	}
	if err := rx.Join(group, "", "lo"); err != nil {
		t.Fatalf("join %s on lo: %v", group, err)
	}
	burst(50, 2)
	if mcast != 50 {
		t.Fatalf("%d of 50 multicast datagrams after the join", mcast)
	}
	if from != netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), tx.Port()) {
		t.Fatalf("multicast from %v", from)
	}
	if err := rx.Join(group, "", "lo"); err == nil || err.(Error).Code != EExist {
		t.Fatalf("second join: %v", err)
	}
	if err := rx.Leave(group, "", "lo"); err != nil {
		t.Fatalf("leave: %v", err)
	}
	burst(10, 3)
	if mcast != 50 {
		t.Fatalf("%d multicast datagrams after the leave", mcast-50)
	}
	if err := rx.Leave(group, "", "lo"); err == nil || err.(Error).Code != ENotFound {
		t.Fatalf("leave of a non-member: %v", err)
	}
	if err := rx.Join("10.0.0.1", "", "lo"); err == nil || err.(Error).Code != EInval {
		t.Fatalf("a unicast group: %v", err)
	}
	if err := rx.Join(group, "", "no-such-if0"); err == nil || err.(Error).Code != ENotFound {
		t.Fatalf("an unknown interface: %v", err)
	}
	if err := tx.MulticastSendOptions("", 256, -1); err == nil || err.(Error).Code != EInval {
		t.Fatalf("ttl 256: %v", err)
	}
	if barriers != 3 {
		t.Fatalf("barriers %d", barriers)
	}
}
