package zenith

import (
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"
)

// loop locks the test's goroutine to its OS thread (a reactor is driven from one) and returns
// the function that undoes it.
func loop(t *testing.T) {
	runtime.LockOSThread()
	t.Cleanup(runtime.UnlockOSThread)
}

// newServer makes a started server on loopback, closed when the test ends.
func newServer(t *testing.T, cfg ServerConfig, h Handlers) *Server {
	t.Helper()
	if cfg.Address == "" && cfg.Flags&ServerNoListen == 0 {
		cfg.Address = "127.0.0.1"
	}
	if h.OnData == nil {
		h.OnData = func(c Conn, data []byte) { t.Errorf("unexpected data on %d", c.ID) }
	}
	s, err := NewServer(cfg, h)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Error(err)
		}
	})
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	return s
}

// runUntil runs the loop until cond holds, failing the test after timeout.
func runUntil(t *testing.T, s *Server, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		if _, err := s.RunOnce(10); err != nil {
			t.Fatalf("RunOnce while waiting for %s: %v", what, err)
		}
	}
}

// spin runs the loop for d (to let stray events arrive).
func spin(t *testing.T, s *Server, d time.Duration) {
	t.Helper()
	for end := time.Now().Add(d); time.Now().Before(end); {
		if _, err := s.RunOnce(5); err != nil {
			t.Fatal(err)
		}
	}
}

// pluginFile reads an example plugin from $ZENITH_BUILD/plugins (run_tests.sh sets it; without
// it ../../build is tried, and the test is skipped, saying why, if that has none either).
func pluginFile(t *testing.T, name string) []byte {
	t.Helper()
	dir := os.Getenv("ZENITH_BUILD")
	if dir == "" {
		p := filepath.Join("..", "..", "build", "plugins", name)
		if _, err := os.Stat(p); err != nil {
			t.Skipf("ZENITH_BUILD is not set and %s does not exist (make build/plugins/%s, or set ZENITH_BUILD)", p, name)
		}
		dir = filepath.Join("..", "..", "build")
	}
	b, err := os.ReadFile(filepath.Join(dir, "plugins", name))
	if err != nil {
		t.Fatalf("ZENITH_BUILD=%s: %v", dir, err)
	}
	return b
}

// backends are the ones every reactor test runs on: epoll always works; auto is io_uring where
// the kernel allows it.
var backends = []Backend{BackendEpoll, BackendAuto}
