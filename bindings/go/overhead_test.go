package zenith

import (
	"runtime"
	"testing"
	"time"
)

// Call overhead from Go (bench/ffi_overhead.sh): go test -run '^$' -bench .
// ns/op: BenchmarkVersion = one call, BenchmarkPoolPair = acquire + release,
// BenchmarkEchoRoundTrip = one 64-byte echo round trip (client and echo server on one reactor,
// driven by RunOnce from Go), BenchmarkPost = one message posted from another goroutine
// (PostData, retried on ZENITH_E_FULL) and run on the loop.
func BenchmarkVersion(b *testing.B) {
	for i := 0; i < b.N; i++ {
		Version()
	}
}

func BenchmarkPoolPair(b *testing.B) {
	p, _ := NewPool(4096, 1024)
	defer p.Close()
	for i := 0; i < b.N; i++ {
		p.Release(p.Acquire())
	}
}

// runFor runs the loop until cond, failing the benchmark after 10 s without progress.
func runFor(b *testing.B, s *Server, cond func() bool) {
	deadline := time.Time{}
	for !cond() {
		n, err := s.RunOnce(100)
		if err != nil {
			b.Fatal(err)
		}
		if n == 0 {
			if deadline.IsZero() {
				deadline = time.Now().Add(10 * time.Second)
			} else if time.Now().After(deadline) {
				b.Fatal("no progress for 10 s")
			}
		}
	}
}

func BenchmarkEchoRoundTrip(b *testing.B) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	s, err := NewServer(ServerConfig{Address: "127.0.0.1"}, Handlers{OnData: func(c Conn, data []byte) {
		if err := c.Send(data); err != nil {
			panic(err)
		}
	}})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	if err := s.Start(); err != nil {
		b.Fatal(err)
	}
	got, connected := 0, false
	c, err := s.Connect(ConnectConfig{Address: "127.0.0.1", Port: s.Port(),
		OnConnect: func(c Conn, err error) {
			if err != nil {
				panic(err)
			}
			connected = true
		},
		OnData: func(c Conn, data []byte) { got += len(data) }})
	if err != nil {
		b.Fatal(err)
	}
	runFor(b, s, func() bool { return connected })
	msg := make([]byte, 64)
	roundTrip := func() {
		got = 0
		if err := c.Send(msg); err != nil {
			b.Fatal(err)
		}
		runFor(b, s, func() bool { return got >= 64 })
	}
	for i := 0; i < 2000; i++ { // warm-up
		roundTrip()
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		roundTrip()
	}
	b.StopTimer()
}

func benchmarkPost(b *testing.B, closures bool) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	delivered := 0
	s, err := NewServer(ServerConfig{Flags: ServerNoListen}, Handlers{
		OnData: func(Conn, []byte) {},
		OnPost: func([]byte) { delivered++ },
	})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	if err := s.Start(); err != nil {
		b.Fatal(err)
	}
	fn := func() { delivered++ }
	n := b.N
	b.ResetTimer()
	errs := make(chan error, 1)
	go func() { // another goroutine (and OS thread) posts
		msg := make([]byte, 16)
		for i := 0; i < n; i++ {
			for {
				var err error
				if closures {
					err = s.Post(fn)
				} else {
					err = s.PostData(msg)
				}
				if err == nil {
					break
				}
				if e, ok := err.(Error); !ok || e.Code != EFull {
					errs <- err
					return
				}
				runtime.Gosched()
			}
		}
		errs <- nil
	}()
	runFor(b, s, func() bool { return delivered >= n })
	b.StopTimer()
	if err := <-errs; err != nil {
		b.Fatal(err)
	}
}

func BenchmarkPost(b *testing.B) { benchmarkPost(b, false) }

// BenchmarkClosurePost posts closures (Post) instead of bytes.
func BenchmarkClosurePost(b *testing.B) { benchmarkPost(b, true) }
