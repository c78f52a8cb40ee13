package zenith

import (
	"errors"
	"testing"
)

func TestLayoutMatchesLibrary(t *testing.T) {
	if err := Check(); err != nil {
		t.Fatal(err)
	}
	d := BindingLayout()
	if err := CheckLayout(d); err != nil {
		t.Fatal(err)
	}
	types := map[string]bool{}
	for _, f := range d {
		types[f.Type] = true
	}
	if len(types) != len(layoutTypes) || len(d) < 200 {
		t.Fatalf("%d types, %d rows described", len(types), len(d))
	}
	if LayoutHash() == 0 {
		t.Fatal("layout hash 0")
	}
}

func find(d []LayoutField, typ, field string) int {
	for i, f := range d {
		if f.Type == typ && f.Field == field {
			return i
		}
	}
	return -1
}

// An altered copy of one struct's description fails with the exact message.
func TestLayoutMismatchIsReported(t *testing.T) {
	d := BindingLayout()
	i := find(d, "zenith_server_config", "max_udp")
	if i < 0 {
		t.Fatal("zenith_server_config.max_udp not described")
	}
	lib := d[i]
	d[i].Offset = 88
	err := CheckLayout(d)
	want := "zenith: layout mismatch: zenith_server_config.max_udp: binding has offset 88 size 4, library has offset 80 size 4"
	if err == nil || err.Error() != want {
		t.Fatalf("got %v\nwant %s", err, want)
	}
	var le *LayoutError
	if !errors.As(err, &le) || le.LibraryOffset != lib.Offset || le.Field != "max_udp" {
		t.Fatalf("%#v", err)
	}

	d = BindingLayout()
	d[find(d, "zenith_udp_info", "")].Size += 8
	if err := CheckLayout(d); err == nil || err.Error() != "zenith: layout mismatch: zenith_udp_info: binding has offset 0 size 192, library has offset 0 size 184" {
		t.Fatalf("whole size: %v", err)
	}

	d = BindingLayout()
	d = append(d[:find(d, "ArrowArray", "release")], d[find(d, "ArrowArray", "release")+1:]...)
	if err := CheckLayout(d); err == nil || err.Error() != "zenith: layout mismatch: ArrowArray.release: binding has no such field, library has offset 64 size 8" {
		t.Fatalf("a field the binding lacks: %v", err)
	}

	d = append(BindingLayout(), LayoutField{"zenith_batch", "selection", 160, 8})
	if err := CheckLayout(d); err == nil || err.Error() != "zenith: layout mismatch: zenith_batch.selection: binding has offset 160 size 8, library has no such field" {
		t.Fatalf("a field the library lacks: %v", err)
	}
}
