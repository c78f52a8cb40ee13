package zenith

/*
#include "zenith_go.h"
#include <stdlib.h>
*/
import "C"

import (
	"unsafe"
)

// ---- Arrow arrays ------------------------------------------------------------------------------

// ArrowArray is an Arrow C Data Interface array+schema pair in C memory. It is the caller's
// until a successful Publish moves it into the engine (Moved() is true then); Free it in every
// case (Free runs the release callbacks only if they are still the caller's).
type ArrowArray struct {
	a *C.struct_ArrowArray
	s *C.struct_ArrowSchema
}

var (
	formatInt64   = C.CString("l")
	formatFloat64 = C.CString("g")
)

func primArray(values unsafe.Pointer, n, width int, format *C.char, name string) (*ArrowArray, error) {
	arr := &ArrowArray{
		a: (*C.struct_ArrowArray)(C.calloc(1, C.size_t(unsafe.Sizeof(C.struct_ArrowArray{})))),
		s: (*C.struct_ArrowSchema)(C.calloc(1, C.size_t(unsafe.Sizeof(C.struct_ArrowSchema{})))),
	}
	if arr.a == nil || arr.s == nil {
		arr.Free()
		return nil, Error{Code: ENoMem}
	}
	var cname *C.char
	if name != "" {
		cname = C.CString(name)
		defer C.free(unsafe.Pointer(cname))
	}
	if rc := C.zgo_prim_array(values, C.int64_t(n), C.int(width), format, cname, arr.a, arr.s); rc < 0 {
		arr.Free()
		return nil, Error{Code: int(rc)}
	}
	return arr, nil
}

// Int64Array builds an Arrow int64 ("l") array in C memory; its release callback frees it.
func Int64Array(values []int64) (*ArrowArray, error) { return NamedInt64Array("", values) }

// NamedInt64Array is Int64Array with the schema's name set (a plugin finds a plain array's
// column by that name).
func NamedInt64Array(name string, values []int64) (*ArrowArray, error) {
	var p unsafe.Pointer
	if len(values) > 0 {
		p = unsafe.Pointer(&values[0])
	}
	return primArray(p, len(values), 8, formatInt64, name)
}

// Float64Array builds an Arrow float64 ("g") array named name (at most 63 bytes) in C memory.
func Float64Array(name string, values []float64) (*ArrowArray, error) {
	var p unsafe.Pointer
	if len(values) > 0 {
		p = unsafe.Pointer(&values[0])
	}
	return primArray(p, len(values), 8, formatFloat64, name)
}

// Moved reports whether both structs read as released (after a successful Publish).
func (x *ArrowArray) Moved() bool { return C.zgo_is_released(x.a, x.s) == 3 }

// SetBuffers changes n_buffers (for tests of malformed input).
func (x *ArrowArray) SetBuffers(n int) { x.a.n_buffers = C.int64_t(n) }

// Free runs the release callbacks if the structs are still ours, then frees the two structs.
func (x *ArrowArray) Free() {
	if x.a != nil && x.s != nil {
		C.zgo_release_now(x.a, x.s)
	}
	C.free(unsafe.Pointer(x.a))
	C.free(unsafe.Pointer(x.s))
	x.a, x.s = nil, nil
}

// ReleasedCount is how many arrays and schemas built by this package were released.
func ReleasedCount() (arrays, schemas uint64) {
	return uint64(C.zgo_released(0)), uint64(C.zgo_released(1))
}

// ---- engine --------------------------------------------------------------------------------------

// Engine is the data-plane engine (zenith_engine_create). Publish, Poll, PollSelection, Stats
// and the plugin calls are safe from any goroutine, concurrently; Close from one goroutine once
// nobody else uses it.
type Engine struct {
	e       C.ZenithEngine
	selBits int // bytes of selection bitmap PollSelection asks for (grows on ZENITH_E_RANGE)
}

// NewEngine holds up to capacity batches in flight.
func NewEngine(capacity int) (*Engine, error) {
	if loadErr != nil {
		return nil, loadErr
	}
	e := C.zenith_engine_create(C.uint32_t(capacity))
	if e == nil {
		return nil, Error{Code: EInval, Detail: "zenith_engine_create: capacity 0 or above 2^24, or out of memory"}
	}
	return &Engine{e: e, selBits: 2048}, nil
}

// Publish moves the array in (Moved() is true after); on error it stays yours. A batch a
// plugin dropped is a success too (see PublishEx to tell).
func (e *Engine) Publish(x *ArrowArray, sourceID, seqNo uint64) error {
	_, err := e.PublishEx(x, sourceID, seqNo)
	return err
}

// PublishEx is Publish that also says whether a plugin dropped the batch (zenith_engine_publish
// returned 1: accepted and already released).
func (e *Engine) PublishEx(x *ArrowArray, sourceID, seqNo uint64) (dropped bool, err error) {
	rc := C.zenith_engine_publish(e.e, x.a, x.s, C.uint64_t(sourceID), C.uint64_t(seqNo))
	return rc == 1, check(rc)
}

// Batch is a polled batch, owned by the caller: Release it exactly once.
type Batch struct {
	b        C.zenith_batch
	SourceID uint64
	SeqNo    uint64
	// Selected is -1 when every row passes, else the number of rows a plugin let through
	// (PollSelection only; Poll leaves it -1).
	Selected int64
	// Selection is the plugins' row bitmap (bit i, LSB first, for row i), nil when every row
	// passes.
	Selection []byte
}

// Poll returns the oldest batch, or nil (zenith_engine_poll; any selection is left out).
func (e *Engine) Poll() *Batch {
	b := &Batch{Selected: -1}
	if C.zenith_engine_poll(e.e, &b.b) != 1 {
		return nil
	}
	b.SourceID, b.SeqNo = uint64(b.b.source_id), uint64(b.b.seq_no)
	return b
}

// PollSelection returns the oldest batch with its plugins' selection (zenith_poll_selection),
// or nil, nil when there is none.
func (e *Engine) PollSelection() (*Batch, error) {
	for {
		b := &Batch{}
		bits := make([]byte, e.selBits)
		var sel C.int64_t
		rc := C.zenith_poll_selection(e.e, &b.b, (*C.uint8_t)(unsafe.Pointer(&bits[0])), C.size_t(len(bits)), &sel)
		if rc == ERange {
			e.selBits *= 2
			continue
		}
		if rc < 0 {
			return nil, Error{Code: int(rc)}
		}
		if rc == 0 {
			return nil, nil
		}
		b.SourceID, b.SeqNo, b.Selected = uint64(b.b.source_id), uint64(b.b.seq_no), int64(sel)
		if b.Selected >= 0 {
			b.Selection = bits[:(b.Len()+7)/8]
		}
		return b, nil
	}
}

// Passes reports whether row i passed the plugins (always true without a selection).
func (b *Batch) Passes(i int) bool {
	if b.Selection == nil {
		return true
	}
	return b.Selection[i/8]&(1<<(i%8)) != 0
}

// Len is the array's length.
func (b *Batch) Len() int { return int(b.b.array.length) }

// Int64 is value i of an int64 batch.
func (b *Batch) Int64(i int) int64 { return int64(C.zgo_int64_at(&b.b.array, C.int64_t(i))) }

// Float64 is value i of a float64 batch.
func (b *Batch) Float64(i int) float64 { return float64(C.zgo_float64_at(&b.b.array, C.int64_t(i))) }

// Format is the schema's format string.
func (b *Batch) Format() string { return C.GoString(b.b.schema.format) }

// Name is the schema's name ("" if none).
func (b *Batch) Name() string {
	if b.b.schema.name == nil {
		return ""
	}
	return C.GoString(b.b.schema.name)
}

// Release runs the Arrow release callbacks (once: a second call is an error).
func (b *Batch) Release() error { return check(C.zenith_batch_release(nil, &b.b)) }

// EngineStats are the engine's counters (zenith_engine_stats).
type EngineStats struct {
	Capacity, Published, Polled, Released, RejectedFull, RejectedInvalid uint64
	SeqGaps, SeqDuplicates, Sources, SourcesUntracked                    uint64
}

// Stats: published, polled, rejected as malformed, sequence gaps.
func (e *Engine) Stats() (published, polled, rejectedInvalid, seqGaps uint64) {
	s := e.AllStats()
	return s.Published, s.Polled, s.RejectedInvalid, s.SeqGaps
}

// AllStats is every counter of the engine.
func (e *Engine) AllStats() EngineStats {
	var st C.zenith_engine_stats
	C.zenith_engine_get_stats(e.e, &st)
	return EngineStats{uint64(st.capacity), uint64(st.published), uint64(st.polled), uint64(st.released),
		uint64(st.rejected_full), uint64(st.rejected_invalid), uint64(st.seq_gaps), uint64(st.seq_duplicates),
		uint64(st.sources), uint64(st.sources_untracked)}
}

// Close frees the engine (zenith_engine_destroy), releasing what is still queued and every
// plugin.
func (e *Engine) Close() {
	if e.e != nil {
		C.zenith_engine_destroy(e.e)
		e.e = nil
	}
}

// ---- plugins -------------------------------------------------------------------------------------

// PluginConfig is zenith_plugin_config; zero means default in every field.
type PluginConfig struct {
	FailReject     bool   // ZENITH_PLUGIN_FAIL_REJECT: a failed call drops the batch
	Instances      uint32 // 0 = the CPUs (at most 16)
	MaxFailures    uint32 // 0 = 3
	Fuel           uint64 // 0 = 100000
	FuelPerRow     uint64 // 0 = 200
	MaxRows        uint32 // 0 = 16384
	MaxMemoryPages uint32 // 0 = 256
	Params         []byte // copied into each instance for its init
}

// Plugin is a plugin attached to an engine; the engine owns it until Unload or Engine.Close.
// Its calls are safe from any goroutine.
type Plugin struct {
	e  *Engine
	id int
}

// ID is the engine's plugin id.
func (p *Plugin) ID() int { return p.id }

// LoadPlugin attaches a plugin with the default configuration (zenith_engine_load_plugin, the
// design's zenith_load_plugin). The error carries the reason in Detail. LoadPluginEx returns
// the plugin's handle as well.
func (e *Engine) LoadPlugin(wasm []byte) error {
	var rc C.int
	if len(wasm) == 0 {
		rc = C.zenith_engine_load_plugin(e.e, nil, 0)
	} else {
		rc = C.zenith_engine_load_plugin(e.e, (*C.uint8_t)(unsafe.Pointer(&wasm[0])), C.size_t(len(wasm)))
	}
	if rc < 0 {
		_, why := e.PluginLastError()
		return Error{Code: int(rc), Detail: why}
	}
	return nil
}

// LoadPluginEx loads, validates and attaches a plugin (zenith_load_plugin_ex); cfg may be nil.
// On failure the error carries the code and the reason in Detail; the engine is unchanged.
func (e *Engine) LoadPluginEx(wasm []byte, cfg *PluginConfig) (*Plugin, error) {
	var c C.zenith_plugin_config
	var cp *C.zenith_plugin_config
	if cfg != nil {
		c.struct_size = C.uint32_t(unsafe.Sizeof(c))
		if cfg.FailReject {
			c.flags = C.ZENITH_PLUGIN_FAIL_REJECT
		}
		c.instances = C.uint32_t(cfg.Instances)
		c.max_failures = C.uint32_t(cfg.MaxFailures)
		c.fuel = C.uint64_t(cfg.Fuel)
		c.fuel_per_row = C.uint64_t(cfg.FuelPerRow)
		c.max_rows = C.uint32_t(cfg.MaxRows)
		c.max_memory_pages = C.uint32_t(cfg.MaxMemoryPages)
		if len(cfg.Params) > 0 { // C memory: a config in Go memory may not point at Go memory
			c.params = C.CBytes(cfg.Params)
			c.params_len = C.size_t(len(cfg.Params))
			defer C.free(c.params)
		}
		cp = &c
	}
	var why [C.ZENITH_PLUGIN_REASON_MAX]C.char
	var wp *C.uint8_t
	if len(wasm) > 0 {
		wp = (*C.uint8_t)(unsafe.Pointer(&wasm[0]))
	}
	rc := C.zenith_load_plugin_ex(e.e, wp, C.size_t(len(wasm)), cp, &why[0], C.size_t(len(why)))
	if rc < 0 {
		return nil, Error{Code: int(rc), Detail: C.GoString(&why[0])}
	}
	if cfg != nil && cfg.MaxRows > 0 && int(cfg.MaxRows+7)/8 > e.selBits {
		e.selBits = int(cfg.MaxRows+7) / 8
	}
	return &Plugin{e: e, id: int(rc)}, nil
}

// PluginLastError is the code and reason of the engine's last failed load (0, "" if none).
func (e *Engine) PluginLastError() (int, string) {
	var buf [C.ZENITH_PLUGIN_REASON_MAX]C.char
	rc := C.zenith_plugin_last_error(e.e, &buf[0], C.size_t(len(buf)))
	return int(rc), C.GoString(&buf[0])
}

// PluginStats are a plugin's counters (zenith_plugin_stats).
type PluginStats struct {
	Disabled                                           bool
	Instances                                          uint32
	LastTrap                                           int32
	Calls, RowsIn, RowsOut, Passed, Rejected, Selected uint64
	Failures, Traps, FuelExhausted, Errors, Skipped    uint64
	FuelUsed, Waits, ConsecutiveFailures               uint64
}

// Stats reads the plugin's counters.
func (p *Plugin) Stats() (PluginStats, error) {
	var st C.zenith_plugin_stats
	st.struct_size = C.uint32_t(unsafe.Sizeof(st))
	if err := check(C.zenith_plugin_get_stats(p.e.e, C.int(p.id), &st)); err != nil {
		return PluginStats{}, err
	}
	return PluginStats{st.disabled != 0, uint32(st.instances), int32(st.last_trap), uint64(st.calls),
		uint64(st.rows_in), uint64(st.rows_out), uint64(st.passed), uint64(st.rejected), uint64(st.selected),
		uint64(st.failures), uint64(st.traps), uint64(st.fuel_exhausted), uint64(st.errors), uint64(st.skipped),
		uint64(st.fuel_used), uint64(st.waits), uint64(st.consecutive_failures)}, nil
}

// Result reads the plugin's running result values, combined over its instances.
func (p *Plugin) Result() ([]float64, error) {
	var out [C.ZENITH_PLUGIN_MAX_RESULTS]C.double
	rc := C.zenith_plugin_result(p.e.e, C.int(p.id), &out[0], C.size_t(len(out)))
	if rc < 0 {
		return nil, Error{Code: int(rc)}
	}
	r := make([]float64, int(rc))
	for i := range r {
		r[i] = float64(out[i])
	}
	return r, nil
}

// Unload detaches and frees the plugin (its id is stale afterwards).
func (p *Plugin) Unload() error { return check(C.zenith_unload_plugin(p.e.e, C.int(p.id))) }
