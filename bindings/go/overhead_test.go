package zenith

import "testing"

// Call overhead from Go (bench/ffi_overhead.sh): go test -run '^$' -bench .
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
