package zenith

import (
	"encoding/binary"
	"math"
	"testing"
)

func rangeParams(lo, hi float64) []byte {
	p := make([]byte, 16)
	binary.LittleEndian.PutUint64(p, math.Float64bits(lo))
	binary.LittleEndian.PutUint64(p[8:], math.Float64bits(hi))
	return p
}

// The example price filter, loaded from bytes, selects the rows of a batch within [95, 105].
func TestPluginFiltersBatch(t *testing.T) {
	wasm := pluginFile(t, "price_filter.wasm")
	e, err := NewEngine(64)
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	p, err := e.LoadPluginEx(wasm, &PluginConfig{Instances: 1, Params: rangeParams(95, 105)})
	if err != nil {
		t.Fatal(err)
	}
	prices := make([]float64, 1000)
	want := 0
	for i := range prices {
		prices[i] = 90 + float64(i%200)/10 // 90.0 .. 109.9
		if prices[i] >= 95 && prices[i] <= 105 {
			want++
		}
	}
	x, err := Float64Array("price", prices)
	if err != nil {
		t.Fatal(err)
	}
	dropped, err := e.PublishEx(x, 7, 1)
	if err != nil || dropped || !x.Moved() {
		t.Fatalf("publish: dropped %v, %v, moved %v", dropped, err, x.Moved())
	}
	x.Free()
	b, err := e.PollSelection()
	if err != nil || b == nil {
		t.Fatalf("poll: %v %v", b, err)
	}
	if b.SourceID != 7 || b.SeqNo != 1 || b.Len() != 1000 || b.Format() != "g" || b.Name() != "price" {
		t.Fatalf("batch %d/%d len %d %q %q", b.SourceID, b.SeqNo, b.Len(), b.Format(), b.Name())
	}
	if b.Selected != int64(want) {
		t.Fatalf("selected %d, want %d", b.Selected, want)
	}
	for i := 0; i < b.Len(); i++ {
		in := b.Float64(i) >= 95 && b.Float64(i) <= 105
		if b.Passes(i) != in || b.Float64(i) != prices[i] {
			t.Fatalf("row %d (%v): passes %v", i, b.Float64(i), b.Passes(i))
		}
	}
	if err := b.Release(); err != nil {
		t.Fatal(err)
	}
	// a batch with no row in range is dropped inside the publish
	y, _ := Float64Array("price", []float64{1, 2, 3, 200})
	dropped, err = e.PublishEx(y, 7, 2)
	if err != nil || !dropped || !y.Moved() {
		t.Fatalf("out-of-range batch: dropped %v, %v", dropped, err)
	}
	y.Free()
	if b, err := e.PollSelection(); b != nil || err != nil {
		t.Fatalf("a dropped batch was polled: %v %v", b, err)
	}
	st, err := p.Stats()
	if err != nil {
		t.Fatal(err)
	}
	if st.Calls != 2 || st.RowsIn != 1004 || st.RowsOut != uint64(want) || st.Selected != 1 || st.Rejected != 1 ||
		st.Failures != 0 || st.Disabled || st.Instances != 1 {
		t.Fatalf("stats %+v", st)
	}
	r, err := p.Result()
	if err != nil || len(r) != 1 || r[0] != float64(want) {
		t.Fatalf("result %v %v (want [%d])", r, err, want)
	}
	if err := p.Unload(); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Stats(); err == nil || err.(Error).Code != EStale {
		t.Fatalf("stats after unload: %v", err)
	}
	// with the plugin gone every row passes
	z, _ := Float64Array("price", []float64{1, 2})
	if err := e.Publish(z, 7, 3); err != nil {
		t.Fatal(err)
	}
	z.Free()
	b, err = e.PollSelection()
	if err != nil || b == nil || b.Selected != -1 || b.Selection != nil || !b.Passes(0) {
		t.Fatalf("after unload: %+v %v", b, err)
	}
	b.Release()
}

// Refused loads carry the code and the reason; the engine stays as it was.
func TestPluginRefused(t *testing.T) {
	wasm := pluginFile(t, "price_filter.wasm")
	e, err := NewEngine(8)
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	_, err = e.LoadPluginEx(wasm, &PluginConfig{Params: []byte{1, 2, 3}}) // init wants 16 bytes
	if err == nil || err.(Error).Code != EPlugin || err.(Error).Detail == "" {
		t.Fatalf("bad params: %v", err)
	}
	if code, why := e.PluginLastError(); code != EPlugin || why != err.(Error).Detail {
		t.Fatalf("last error %d %q", code, why)
	}
	if _, err := e.LoadPluginEx([]byte("not wasm at all"), nil); err == nil || err.(Error).Name() != "ZENITH_E_PLUGIN" {
		t.Fatalf("garbage: %v", err)
	}
	if _, err := e.LoadPluginEx(nil, nil); err == nil || err.(Error).Code != ENull {
		t.Fatalf("empty: %v", err)
	}
	if _, err := e.LoadPluginEx(wasm, &PluginConfig{Instances: 65}); err == nil || err.(Error).Code != EInval {
		t.Fatalf("65 instances: %v", err)
	}
	// the design's call, default configuration: every non-null price passes
	if err := e.LoadPlugin(wasm); err != nil {
		t.Fatal(err)
	}
	x, _ := Float64Array("price", []float64{1, 2, 3})
	if dropped, err := e.PublishEx(x, 1, 1); err != nil || dropped {
		t.Fatalf("publish: %v %v", dropped, err)
	}
	x.Free()
	b, err := e.PollSelection()
	if err != nil || b == nil || b.Selected != -1 {
		t.Fatalf("%+v %v", b, err)
	}
	b.Release()
}
