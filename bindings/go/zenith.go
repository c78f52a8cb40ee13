// Package zenith wraps Zenith (zero-copy networking on io_uring or epoll, UDP and multicast,
// timers and cross-thread posts on one reactor, the Arrow data-plane engine with WebAssembly
// plugins, the buffer pool and the NUMA helpers) through cgo. The C library is compiled into
// the package: zenith_impl.c includes zenith.c, found in csrc/ (a vendored copy, made by
// vendor.sh) or else two directories up (the repository). It links -luring -lnuma -lm.
//
// Errors are values of type Error carrying the Zenith code and its name. Callbacks run on the
// goroutine that calls Server.RunOnce; a panic inside one is recovered before it reaches C and
// returned by RunOnce as a *CallbackPanic.
//
// Threads: a Server is driven from one OS thread (call runtime.LockOSThread in the goroutine
// that calls Start and RunOnce: io_uring rings are single-issuer); Server.Post, PostData, Stop
// and Stopped may be called from any goroutine. The Engine, its plugins and the Pool are safe
// from any goroutine. Arrow arrays live in C memory (cgo forbids C keeping Go pointers):
// Int64Array and Float64Array build them.
//
// At load the package checks the library's version and the layout of every C struct it uses
// against the library's own layout table (Check); every constructor returns that error.
package zenith

/*
#cgo CFLAGS: -std=gnu11 -O2 -D_GNU_SOURCE -DZENITH_PLUGINS -I${SRCDIR}/csrc -I${SRCDIR}/../..
#cgo LDFLAGS: -luring -lnuma -lpthread -lm
#include "zenith_go.h"
#include <stdlib.h>
*/
import "C"

import (
	"fmt"
	"runtime"
	"unsafe"
)

// WrappedVersion is the zenith.h (major, minor) this package was written for.
var WrappedVersion = [2]int{0, 2}

// Version returns the linked library's major, minor, patch.
func Version() (int, int, int) {
	v := int(C.zenith_version())
	return v / 1000000, v / 1000 % 1000, v % 1000
}

// Error is a negative Zenith code (zenith_numa.h's table when Numa is true). Detail, when not
// empty, says more (a plugin load's reason).
type Error struct {
	Code   int
	Numa   bool
	Detail string
}

// Name is the code's name, e.g. "ZENITH_E_FULL" (zenith_errname).
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
	if e.Detail != "" {
		return fmt.Sprintf("%s: %s (%d): %s", e.Name(), text, e.Code, e.Detail)
	}
	return fmt.Sprintf("%s: %s (%d)", e.Name(), text, e.Code)
}

// Errno is the kernel errno a ZENITH_ESYS code carries, 0 for any other code.
func (e Error) Errno() int { return int(C.zenith_errno(C.int(e.Code))) }

// Is lets errors.Is match on the code: errors.Is(err, zenith.Error{Code: zenith.EFull}).
func (e Error) Is(target error) bool {
	t, ok := target.(Error)
	return ok && t.Code == e.Code && t.Numa == e.Numa
}

// Zenith's codes (zenith.h's ZENITH_ERROR_LIST).
const (
	ENull          = C.ZENITH_E_NULL
	EFull          = C.ZENITH_E_FULL
	EPlugin        = C.ZENITH_E_PLUGIN
	EFFI           = C.ZENITH_E_FFI
	EInval         = C.ZENITH_E_INVAL
	ENoMem         = C.ZENITH_E_NOMEM
	EUnsupported   = C.ZENITH_E_UNSUPPORTED
	EStale         = C.ZENITH_E_STALE
	EExist         = C.ZENITH_E_EXIST
	ETimedOut      = C.ZENITH_E_TIMEDOUT
	EForeign       = C.ZENITH_E_FOREIGN
	EMisaligned    = C.ZENITH_E_MISALIGNED
	EDoubleRelease = C.ZENITH_E_DOUBLE_RELEASE
	ERange         = C.ZENITH_E_RANGE
	EUringDisabled = C.ZENITH_E_URING_DISABLED
	EState         = C.ZENITH_E_STATE
	ECanceled      = C.ZENITH_E_CANCELED
	ENotFound      = C.ZENITH_E_NOT_FOUND
)

// boxed holds Zenith's own codes already converted to error, so that returning one (a refused
// post retried in a loop, say) does not allocate.
var boxed = func() (b [-C.ZENITH_E_LAST_]error) {
	for i := range b {
		b[i] = Error{Code: -i}
	}
	return
}()

func check(rc C.int) error {
	if rc >= 0 {
		return nil
	}
	if rc > C.ZENITH_E_LAST_ {
		return boxed[-rc]
	}
	return Error{Code: int(rc)}
}

// loadErr is the version and layout check, run once when the package loads.
var loadErr = checkLoad()

func checkLoad() error {
	maj, min, _ := Version()
	if [2]int{maj, min} != WrappedVersion {
		return fmt.Errorf("zenith: library version %d.%d, this package was written for %d.%d",
			maj, min, WrappedVersion[0], WrappedVersion[1])
	}
	return CheckLayout(BindingLayout())
}

// Check reports whether the package may be used with the linked library: nil, or the version
// mismatch, or the first struct layout that differs (a *LayoutError). Every constructor
// returns this error.
func Check() error { return loadErr }

// ---- pool ------------------------------------------------------------------------------------

// Pool is a zenith_pool. Buffers are unsafe.Pointers into its slab. Owned by the caller until
// Close; Acquire, Release and InUse are safe from any goroutine, Close from one once nobody
// else uses it.
type Pool struct{ p *C.zenith_pool }

// NewPool makes a pool of count buffers of size bytes (0 = defaults: 4096 x 1024).
func NewPool(size int, count int) (*Pool, error) {
	if loadErr != nil {
		return nil, loadErr
	}
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
