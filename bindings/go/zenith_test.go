package zenith

import (
	"bytes"
	"io"
	"net"
	"runtime"
	"sync"
	"testing"
	"time"
	"unsafe"
)

func TestVersion(t *testing.T) {
	maj, min, _ := Version()
	if [2]int{maj, min} != WrappedVersion {
		t.Fatalf("library %d.%d, bindings %v", maj, min, WrappedVersion)
	}
}

func TestEngineRoundTripAndRelease(t *testing.T) {
	e, err := NewEngine(64)
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	a0, s0 := ReleasedCount()
	for k := 0; k < 50; k++ {
		vals := make([]int64, k+1)
		for i := range vals {
			vals[i] = int64(3*i + k)
		}
		x, err := Int64Array(vals)
		if err != nil {
			t.Fatal(err)
		}
		if err := e.Publish(x, 1, uint64(k)); err != nil {
			t.Fatal(err)
		}
		if !x.Moved() {
			t.Fatal("not moved")
		}
		x.Free()
	}
	for k := 0; k < 50; k++ {
		b := e.Poll()
		if b == nil || b.SourceID != 1 || b.SeqNo != uint64(k) || b.Len() != k+1 || b.Format() != "l" {
			t.Fatalf("batch %d: %+v", k, b)
		}
		for i := 0; i < b.Len(); i++ {
			if b.Int64(i) != int64(3*i+k) {
				t.Fatalf("batch %d value %d = %d", k, i, b.Int64(i))
			}
		}
		if err := b.Release(); err != nil {
			t.Fatal(err)
		}
		if err := b.Release(); err == nil || err.(Error).Name() != "ZENITH_E_DOUBLE_RELEASE" {
			t.Fatalf("second release: %v", err)
		}
	}
	if e.Poll() != nil {
		t.Fatal("not empty")
	}
	a1, s1 := ReleasedCount()
	if a1-a0 != 50 || s1-s0 != 50 {
		t.Fatalf("released %d arrays %d schemas, want 50 each", a1-a0, s1-s0)
	}
}

func TestEngineFourProducers(t *testing.T) {
	const n = 50000
	e, _ := NewEngine(1024)
	defer e.Close()
	var wg sync.WaitGroup
	for p := 0; p < 4; p++ {
		wg.Add(1)
		go func(p int) {
			defer wg.Done()
			for i := 0; i < n; i++ {
				x, _ := Int64Array([]int64{int64(i)})
				for {
					err := e.Publish(x, uint64(p), uint64(i))
					if err == nil {
						break
					}
					if err.(Error).Code != EFull {
						t.Error(err)
						return
					}
					runtime.Gosched()
				}
				x.Free()
			}
		}(p)
	}
	next := make([]uint64, 4)
	for got := 0; got < 4*n; {
		b := e.Poll()
		if b == nil {
			runtime.Gosched()
			continue
		}
		if b.SeqNo != next[b.SourceID] || b.Int64(0) != int64(b.SeqNo) {
			t.Fatalf("producer %d: got %d, want %d", b.SourceID, b.SeqNo, next[b.SourceID])
		}
		next[b.SourceID]++
		b.Release()
		got++
	}
	wg.Wait()
	if _, _, _, gaps := e.Stats(); gaps != 0 {
		t.Fatalf("gaps %d", gaps)
	}
}

func TestEngineMalformedAndFull(t *testing.T) {
	e, _ := NewEngine(2)
	defer e.Close()
	x, _ := Int64Array([]int64{1, 2, 3})
	x.SetBuffers(3)
	err := e.Publish(x, 0, 0)
	if err == nil || err.(Error).Code != EFFI {
		t.Fatalf("malformed: %v", err)
	}
	if x.Moved() {
		t.Fatal("a refused array must stay ours")
	}
	x.Free()
	for k := 0; k < 2; k++ {
		y, _ := Int64Array([]int64{int64(k)})
		if err := e.Publish(y, 0, uint64(k)); err != nil {
			t.Fatal(err)
		}
		y.Free()
	}
	z, _ := Int64Array([]int64{2})
	if err := e.Publish(z, 0, 2); err == nil || err.(Error).Code != EFull {
		t.Fatalf("full: %v", err)
	}
	if z.Moved() {
		t.Fatal("still ours when full")
	}
	z.Free()
	// plugins are compiled in (-DZENITH_PLUGINS): a truncated module is refused with a reason
	if err := e.LoadPlugin([]byte("\x00asm")); err == nil || err.(Error).Name() != "ZENITH_E_PLUGIN" || err.(Error).Detail == "" {
		t.Fatalf("plugin: %v", err)
	}
}

func TestGoEchoServer(t *testing.T) {
	ready := make(chan *Server)
	done := make(chan struct{})
	var accepted int
	go func() {
		runtime.LockOSThread() // the ring is driven from one OS thread
		s, err := NewServer(ServerConfig{Address: "127.0.0.1", BufferCount: 1024, MaxConnections: 16}, Handlers{
			OnAccept: func(c Conn) { accepted++ },
			OnData: func(c Conn, data []byte) {
				if err := c.Send(data); err != nil {
					panic(err)
				}
			},
		})
		if err != nil {
			t.Error(err)
			close(ready)
			return
		}
		if err := s.Start(); err != nil {
			t.Error(err)
		}
		ready <- s
		for !s.Stopped() {
			if _, err := s.RunOnce(100); err != nil {
				t.Error(err)
				break
			}
		}
		s.Close()
		close(done)
	}()
	s := <-ready
	if s == nil {
		t.FailNow()
	}
	c, err := net.Dial("tcp", net.JoinHostPort("127.0.0.1", itoa(int(s.Port()))))
	if err != nil {
		t.Fatal(err)
	}
	msg := make([]byte, 100000)
	for i := range msg {
		msg[i] = byte(i * 7 % 251)
	}
	go c.Write(msg)
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	back := make([]byte, len(msg))
	if _, err := io.ReadFull(c, back); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(back, msg) {
		t.Fatal("echo differs")
	}
	c.Close()
	time.Sleep(50 * time.Millisecond)
	s.Stop()
	<-done
	if accepted != 1 {
		t.Fatalf("accepted %d", accepted)
	}
}

func itoa(n int) string {
	b := []byte{}
	for n > 0 || len(b) == 0 {
		b = append([]byte{byte('0' + n%10)}, b...)
		n /= 10
	}
	return string(b)
}

func TestServerBadAddress(t *testing.T) {
	_, err := NewServer(ServerConfig{Address: "300.1.2.3"}, Handlers{OnData: func(Conn, []byte) {}})
	if err == nil || err.(Error).Name() != "ZENITH_E_INVAL" {
		t.Fatalf("%v", err)
	}
}

func TestPool(t *testing.T) {
	p, err := NewPool(4096, 4)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	b := p.Acquire()
	copy(unsafe.Slice((*byte)(b), 4096), "zenith")
	if p.InUse() != 1 {
		t.Fatal("in use")
	}
	if err := p.Release(b); err != nil {
		t.Fatal(err)
	}
	if err := p.Release(b); err == nil || err.(Error).Name() != "ZENITH_E_DOUBLE_RELEASE" {
		t.Fatalf("%v", err)
	}
	if _, err := NewPool(100, 4); err == nil || err.(Error).Code != -5 {
		t.Fatalf("%v", err)
	}
}

func TestNuma(t *testing.T) {
	NumaInit()
	if NumaNodeCount() < 1 {
		t.Fatal("nodes")
	}
	p, err := NumaAllocOnNode(1<<16, 0)
	if err != nil {
		t.Fatal(err)
	}
	*(*byte)(p) = 1
	if n, err := NumaNodeOfAddress(p); err != nil || n != 0 {
		t.Fatalf("node %d %v", n, err)
	}
	NumaFree(p, 1<<16)
	if _, err := NumaAllocOnNode(4096, 1023); err == nil || err.(Error).Code != -2 || err.(Error).Name() != "ZENITH_NUMA_E_INVALID_NODE" {
		t.Fatalf("%v", err)
	}
}
