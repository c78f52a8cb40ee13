package zenith

import (
	"bytes"
	"errors"
	"net"
	"sync"
	"syscall"
	"testing"
	"time"
)

// A client connects to an echo server on the same reactor; 100 kB go out and come back intact.
func TestClientServerSameLoop(t *testing.T) {
	for _, b := range backends {
		t.Run(b.String(), func(t *testing.T) {
			loop(t)
			var accepted, serverClosed int
			s := newServer(t, ServerConfig{Backend: b}, Handlers{
				OnAccept: func(c Conn) { accepted++ },
				OnData: func(c Conn, data []byte) {
					if err := c.Send(data); err != nil {
						t.Errorf("echo: %v", err)
					}
				},
				OnClose: func(c Conn, reason int) { serverClosed++ },
			})
			bi, err := s.BackendInfo()
			if err != nil {
				t.Fatal(err)
			}
			if b == BackendEpoll && (bi.Backend != BackendEpoll || bi.Reason != BackendByConfig || bi.Name != "epoll") {
				t.Fatalf("asked for epoll, got %+v", bi)
			}
			if bi.Name != bi.Backend.String() || bi.Why == "" {
				t.Fatalf("backend info %+v", bi)
			}
			msg := make([]byte, 100000)
			for i := range msg {
				msg[i] = byte(i * 7 % 251)
			}
			var got []byte
			var connected, clientClosed int
			var connErr error
			c, err := s.Connect(ConnectConfig{Address: "127.0.0.1", Port: s.Port(), Timeout: 2 * time.Second,
				OnConnect: func(c Conn, err error) {
					connected++
					connErr = err
					if err == nil {
						if err := c.Send(msg); err != nil {
							t.Errorf("send: %v", err)
						}
					}
				},
				OnData:  func(c Conn, data []byte) { got = append(got, data...) },
				OnClose: func(c Conn, reason int) { clientClosed++ },
			})
			if err != nil {
				t.Fatal(err)
			}
			if c.ID == 0 {
				t.Fatal("connect returned id 0")
			}
			runUntil(t, s, 5*time.Second, "the echo", func() bool { return len(got) >= len(msg) })
			if connected != 1 || connErr != nil {
				t.Fatalf("on_connect %d times, %v", connected, connErr)
			}
			if !bytes.Equal(got, msg) {
				t.Fatal("the echo differs from what was sent")
			}
			if accepted != 1 {
				t.Fatalf("accepted %d", accepted)
			}
			if err := c.Close(false); err != nil {
				t.Fatal(err)
			}
			runUntil(t, s, 5*time.Second, "both closes", func() bool { return clientClosed == 1 && serverClosed == 1 })
			if err := c.Send([]byte("x")); err == nil || err.(Error).Code != EStale {
				t.Fatalf("send on a closed connection: %v", err)
			}
			r := s.ReactorStats()
			if r.ConnectsStarted != 1 || r.ConnectsSucceeded != 1 {
				t.Fatalf("reactor stats %+v", r)
			}
			_, in, out := s.Stats()
			if in != 2*uint64(len(msg)) || out != 2*uint64(len(msg)) {
				t.Fatalf("bytes in %d out %d", in, out)
			}
		})
	}
}

// A connect to a port nobody listens on fails through OnConnect with ECONNREFUSED.
func TestConnectRefused(t *testing.T) {
	loop(t)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := uint16(l.Addr().(*net.TCPAddr).Port)
	l.Close()
	s := newServer(t, ServerConfig{Flags: ServerNoListen}, Handlers{})
	if s.Port() != 0 {
		t.Fatalf("no listener, port %d", s.Port())
	}
	var outcome error
	done := false
	if _, err := s.Connect(ConnectConfig{Address: "127.0.0.1", Port: port, OnConnect: func(c Conn, err error) {
		done, outcome = true, err
	}}); err != nil {
		t.Fatal(err)
	}
	runUntil(t, s, 5*time.Second, "on_connect", func() bool { return done })
	var ze Error
	if !errors.As(outcome, &ze) || ze.Errno() != int(syscall.ECONNREFUSED) || ze.Name() != "ECONNREFUSED" {
		t.Fatalf("outcome %v", outcome)
	}
	if _, err := s.Connect(ConnectConfig{Address: "localhost", Port: port}); err == nil || err.(Error).Code != EInval {
		t.Fatalf("a name instead of a literal: %v", err)
	}
	if r := s.ReactorStats(); r.ConnectsFailed != 1 {
		t.Fatalf("connects_failed %d", r.ConnectsFailed)
	}
}

func TestTimers(t *testing.T) {
	loop(t)
	s, err := NewServer(ServerConfig{Flags: ServerNoListen}, Handlers{OnData: func(Conn, []byte) {}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	start := time.Now()
	var oneShot int
	var firedAt time.Duration
	// armed before Start: allowed
	one, err := s.StartTimer(30*time.Millisecond, 0, func(tm *Timer) {
		oneShot++
		firedAt = time.Since(start)
		if err := tm.Stop(); err == nil || err.(Error).Code != EStale {
			t.Errorf("a one-shot timer is stale inside its callback: %v", err)
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	var ticks int
	if _, err := s.StartTimer(5*time.Millisecond, 5*time.Millisecond, func(tm *Timer) {
		ticks++
		if ticks == 4 {
			if err := tm.Stop(); err != nil { // a periodic timer stops itself
				t.Errorf("stop inside: %v", err)
			}
		}
	}); err != nil {
		t.Fatal(err)
	}
	never, err := s.StartTimer(time.Hour, 0, func(*Timer) { t.Error("a stopped timer fired") })
	if err != nil {
		t.Fatal(err)
	}
	if err := never.Stop(); err != nil {
		t.Fatal(err)
	}
	if err := never.Stop(); err == nil || err.(Error).Code != EStale {
		t.Fatalf("second stop: %v", err)
	}
	runUntil(t, s, 5*time.Second, "the timers", func() bool { return oneShot == 1 && ticks == 4 })
	spin(t, s, 40*time.Millisecond)
	if oneShot != 1 || ticks != 4 {
		t.Fatalf("one-shot fired %d times, periodic %d (want 1, 4)", oneShot, ticks)
	}
	if firedAt < 30*time.Millisecond {
		t.Fatalf("the 30 ms timer fired early, after %v", firedAt)
	}
	if err := one.Stop(); err == nil || err.(Error).Code != EStale {
		t.Fatalf("stop after firing: %v", err)
	}
	if _, err := s.StartTimer(0, 0, nil); err == nil || err.(Error).Code != ENull {
		t.Fatalf("nil fn: %v", err)
	}
	if _, err := s.StartTimer(13*24*time.Hour, 0, func(*Timer) {}); err == nil || err.(Error).Code != ERange {
		t.Fatalf("over ZENITH_TIMER_MAX_MS: %v", err)
	}
	if r := s.ReactorStats(); r.TimersFired != 5 || r.TimersArmed != 0 {
		t.Fatalf("reactor stats %+v", r)
	}
}

// Goroutines post closures and bytes to the loop; everything runs there, in each poster's order.
func TestPostFromGoroutines(t *testing.T) {
	loop(t)
	const posters, each = 4, 20000
	next := make([]int, posters)
	var dataSeen [posters]int
	var loopThreadOnly int
	s := newServer(t, ServerConfig{Flags: ServerNoListen, PostQueue: 256}, Handlers{
		OnPost: func(data []byte) {
			if len(data) != 5 || int(data[0]) >= posters {
				t.Errorf("post data %v", data)
				return
			}
			p := int(data[0])
			seq := int(data[1]) | int(data[2])<<8 | int(data[3])<<16 | int(data[4])<<24
			if seq != dataSeen[p] {
				t.Errorf("poster %d: data %d, want %d", p, seq, dataSeen[p])
			}
			dataSeen[p]++
		},
	})
	var wg sync.WaitGroup
	var fullRetries [posters]int
	for p := 0; p < posters; p++ {
		wg.Add(1)
		go func(p int) { // plain goroutines: no OS thread of their own needed to post
			defer wg.Done()
			for i := 0; i < each; i++ {
				i := i
				for {
					var err error
					if i%2 == 0 {
						err = s.Post(func() {
							loopThreadOnly++ // only ever touched on the loop goroutine
							if next[p] != i/2 {
								t.Errorf("poster %d: closure %d, want %d", p, i/2, next[p])
							}
							next[p]++
						})
					} else {
						seq := i / 2
						err = s.PostData([]byte{byte(p), byte(seq), byte(seq >> 8), byte(seq >> 16), byte(seq >> 24)})
					}
					if err == nil {
						break
					}
					if !errors.Is(err, Error{Code: EFull}) {
						t.Errorf("post: %v", err)
						return
					}
					fullRetries[p]++
					time.Sleep(10 * time.Microsecond)
				}
			}
		}(p)
	}
	runUntil(t, s, 30*time.Second, "every post", func() bool {
		for p := 0; p < posters; p++ {
			if next[p] != each/2 || dataSeen[p] != each/2 {
				return false
			}
		}
		return true
	})
	wg.Wait()
	if loopThreadOnly != posters*each/2 {
		t.Fatalf("%d closures ran", loopThreadOnly)
	}
	r := s.ReactorStats()
	refused := 0
	for _, n := range fullRetries {
		refused += n
	}
	if r.PostsRun != posters*each || r.PostsRefused != uint64(refused) {
		t.Fatalf("posts_run %d (want %d), posts_refused %d (want %d)", r.PostsRun, posters*each, r.PostsRefused, refused)
	}
	if err := s.PostData(make([]byte, PostMax+1)); err == nil || err.(Error).Code != EInval {
		t.Fatalf("over ZENITH_POST_MAX: %v", err)
	}
}

// A full post queue refuses with ZENITH_E_FULL (posts made before Start wait for the loop).
func TestPostQueueFull(t *testing.T) {
	loop(t)
	s, err := NewServer(ServerConfig{Flags: ServerNoListen, PostQueue: 64}, Handlers{OnData: func(Conn, []byte) {}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ran := 0
	for i := 0; i < 64; i++ {
		if err := s.Post(func() { ran++ }); err != nil {
			t.Fatalf("post %d: %v", i, err)
		}
	}
	err = s.Post(func() { t.Error("a refused post ran") })
	if err == nil || err.(Error).Name() != "ZENITH_E_FULL" {
		t.Fatalf("post 65 of 64: %v", err)
	}
	if err := s.PostData([]byte{1}); err == nil || err.(Error).Code != ENull {
		t.Fatalf("PostData without OnPost: %v", err)
	}
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	runUntil(t, s, 5*time.Second, "64 posts", func() bool { return ran == 64 })
	spin(t, s, 10*time.Millisecond)
	if ran != 64 {
		t.Fatalf("ran %d", ran)
	}
}

// A panic in a callback never reaches C: RunOnce returns it, and the reactor goes on.
func TestCallbackPanic(t *testing.T) {
	loop(t)
	s := newServer(t, ServerConfig{Flags: ServerNoListen}, Handlers{})
	after := false
	if err := s.Post(func() { panic("boom") }); err != nil {
		t.Fatal(err)
	}
	if err := s.Post(func() { after = true }); err != nil {
		t.Fatal(err)
	}
	var perr error
	deadline := time.Now().Add(5 * time.Second)
	for perr == nil && time.Now().Before(deadline) {
		_, perr = s.RunOnce(10)
	}
	var cp *CallbackPanic
	if !errors.As(perr, &cp) || cp.Value != "boom" || len(cp.Stack) == 0 {
		t.Fatalf("RunOnce: %v", perr)
	}
	runUntil(t, s, 5*time.Second, "the post after the panic", func() bool { return after })
	// what a callback may not do: run the loop again, close the server
	var inside []error
	if err := s.Post(func() {
		_, err := s.RunOnce(0)
		inside = append(inside, err, s.Close())
	}); err != nil {
		t.Fatal(err)
	}
	runUntil(t, s, 5*time.Second, "the post", func() bool { return len(inside) == 2 })
	for i, err := range inside {
		if err == nil || err.(Error).Code != EState {
			t.Fatalf("call %d inside a callback: %v", i, err)
		}
	}
	if _, err := s.StartTimer(time.Millisecond, 0, func(*Timer) { panic(errors.New("timer boom")) }); err != nil {
		t.Fatal(err)
	}
	perr = nil
	for deadline := time.Now().Add(5 * time.Second); perr == nil && time.Now().Before(deadline); {
		_, perr = s.RunOnce(10)
	}
	if !errors.As(perr, &cp) || cp.Error() != "zenith: panic in a callback: timer boom" {
		t.Fatalf("timer panic: %v", perr)
	}
}

// After Close, posts and stops from other goroutines are refused, never a use after free.
func TestPostAfterClose(t *testing.T) {
	loop(t)
	s, err := NewServer(ServerConfig{Flags: ServerNoListen}, Handlers{OnData: func(Conn, []byte) {}})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Post(func() {}); err == nil || err.(Error).Code != EState {
		t.Fatalf("post after close: %v", err)
	}
	s.Stop()
	if !s.Stopped() {
		t.Fatal("a closed server reports stopped")
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second close: %v", err)
	}
}

func TestBackendChoice(t *testing.T) {
	loop(t)
	s := newServer(t, ServerConfig{Flags: ServerNoListen, Backend: BackendEpoll}, Handlers{})
	bi, err := s.BackendInfo()
	if err != nil {
		t.Fatal(err)
	}
	if bi.Backend != BackendEpoll || bi.Reason != BackendByConfig || bi.Name != "epoll" {
		t.Fatalf("%+v", bi)
	}
	a := newServer(t, ServerConfig{Flags: ServerNoListen}, Handlers{})
	ai, err := a.BackendInfo()
	if err != nil {
		t.Fatal(err)
	}
	switch ai.Backend {
	case BackendIOUring:
		if ai.Reason != BackendByDefault && ai.Reason != BackendByEnv {
			t.Fatalf("io_uring for reason %d", ai.Reason)
		}
	case BackendEpoll:
		if ai.Reason != BackendFallback && ai.Reason != BackendByEnv {
			t.Fatalf("epoll for reason %d", ai.Reason)
		}
	default:
		t.Fatalf("%+v", ai)
	}
	if _, err := NewServer(ServerConfig{Flags: ServerNoListen, Backend: 7}, Handlers{OnData: func(Conn, []byte) {}}); err == nil ||
		err.(Error).Code != EInval {
		t.Fatalf("backend 7: %v", err)
	}
}

// Close runs the last callbacks (on_close with CloseShutdown): they may post without a
// deadlock, and a panic among them comes back from Close.
func TestCloseRunsLastCallbacks(t *testing.T) {
	loop(t)
	var reasons []int
	var postErr error = Error{Code: ENull}
	var s *Server
	s, err := NewServer(ServerConfig{Address: "127.0.0.1"}, Handlers{
		OnData:  func(Conn, []byte) {},
		OnClose: func(c Conn, reason int) { panic("last words") },
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	accepted := false
	s.st.h.OnAccept = func(Conn) { accepted = true }
	if _, err := s.Connect(ConnectConfig{Address: "127.0.0.1", Port: s.Port(), OnClose: func(c Conn, reason int) {
		reasons = append(reasons, reason)
		postErr = s.Post(func() {})
	}}); err != nil {
		t.Fatal(err)
	}
	runUntil(t, s, 5*time.Second, "the accept", func() bool { return accepted })
	err = s.Close()
	var cp *CallbackPanic
	if !errors.As(err, &cp) || cp.Value != "last words" {
		t.Fatalf("Close: %v", err)
	}
	if len(reasons) != 1 || reasons[0] != CloseShutdown || postErr != nil {
		t.Fatalf("client on_close %v, post inside it: %v", reasons, postErr)
	}
}
