package zenith

/*
#include "zenith_go.h"
#include <stdlib.h>
*/
import "C"

import (
	"fmt"
	"go/token"
	"reflect"
	"strings"
	"unsafe"
)

// LayoutField is one row of a struct layout: Type.Field at Offset, Size bytes (Field "" is the
// whole struct: offset 0, its size).
type LayoutField struct {
	Type, Field  string
	Offset, Size uintptr
}

// LayoutError is the first difference between the binding's view of a struct and the
// library's layout table (zenith_layout_find).
type LayoutError struct {
	Type, Field                string
	InBinding, InLibrary       bool
	BindingOffset, BindingSize uintptr
	LibraryOffset, LibrarySize uintptr
}

func (e *LayoutError) Error() string {
	name := e.Type
	if e.Field != "" {
		name += "." + e.Field
	}
	b, l := "binding has no such field", "library has no such field"
	if e.InBinding {
		b = fmt.Sprintf("binding has offset %d size %d", e.BindingOffset, e.BindingSize)
	}
	if e.InLibrary {
		l = fmt.Sprintf("library has offset %d size %d", e.LibraryOffset, e.LibrarySize)
	}
	return fmt.Sprintf("zenith: layout mismatch: %s: %s, %s", name, b, l)
}

// The C structs the package uses, named as the layout table names them. The Go types are the
// ones cgo derives from zenith.h as this package compiled it: nothing is copied by hand, so
// the check compares the header cgo read with the implementation compiled in (a stale
// vendored csrc/ next to a newer header, say).
var layoutTypes = []struct {
	name string
	t    reflect.Type
}{
	{"zenith_allocator", reflect.TypeOf(C.zenith_allocator{})},
	{"zenith_pool_config", reflect.TypeOf(C.zenith_pool_config{})},
	{"zenith_pool_stats", reflect.TypeOf(C.zenith_pool_stats{})},
	{"zenith_pool_info", reflect.TypeOf(C.zenith_pool_info{})},
	{"zenith_ring_config", reflect.TypeOf(C.zenith_ring_config{})},
	{"zenith_ring_info", reflect.TypeOf(C.zenith_ring_info{})},
	{"zenith_server_config", reflect.TypeOf(C.zenith_server_config{})},
	{"zenith_backend_info", reflect.TypeOf(C.zenith_backend_info{})},
	{"zenith_server_stats", reflect.TypeOf(C.zenith_server_stats{})},
	{"zenith_reactor_stats", reflect.TypeOf(C.zenith_reactor_stats{})},
	{"zenith_connect_config", reflect.TypeOf(C.zenith_connect_config{})},
	{"zenith_addr", reflect.TypeOf(C.zenith_addr{})},
	{"zenith_udp_datagram", reflect.TypeOf(C.zenith_udp_datagram{})},
	{"zenith_udp_config", reflect.TypeOf(C.zenith_udp_config{})},
	{"zenith_udp_info", reflect.TypeOf(C.zenith_udp_info{})},
	{"ArrowSchema", reflect.TypeOf(C.struct_ArrowSchema{})},
	{"ArrowArray", reflect.TypeOf(C.struct_ArrowArray{})},
	{"zenith_batch", reflect.TypeOf(C.zenith_batch{})},
	{"zenith_engine_stats", reflect.TypeOf(C.zenith_engine_stats{})},
	{"zenith_plugin_config", reflect.TypeOf(C.zenith_plugin_config{})},
	{"zenith_plugin_stats", reflect.TypeOf(C.zenith_plugin_stats{})},
	{"zenith_numa_nodeset", reflect.TypeOf(C.zenith_numa_nodeset{})},
	{"zenith_numa_node_info", reflect.TypeOf(C.zenith_numa_node_info{})},
	{"zenith_numa_topology", reflect.TypeOf(C.zenith_numa_topology{})},
	{"zenith_numa_placement", reflect.TypeOf(C.zenith_numa_placement{})},
}

// BindingLayout describes every struct the package uses, whole size and every field, as Go
// sees them (unsafe.Offsetof / Sizeof through reflect).
func BindingLayout() []LayoutField {
	var out []LayoutField
	for _, lt := range layoutTypes {
		out = append(out, LayoutField{lt.name, "", 0, lt.t.Size()})
		for i := 0; i < lt.t.NumField(); i++ {
			f := lt.t.Field(i)
			if f.Name == "_" { // padding cgo inserted
				continue
			}
			name := f.Name
			if strings.HasPrefix(name, "_") && token.IsKeyword(name[1:]) { // cgo renames C fields named like Go keywords
				name = name[1:]
			}
			out = append(out, LayoutField{lt.name, name, f.Offset, f.Type.Size()})
		}
	}
	return out
}

// CheckLayout compares a description with the library's layout table and returns the first
// mismatch (a *LayoutError), or nil: each described row must be in the table with the same
// offset and size, and each table row of a described type must be described.
func CheckLayout(fields []LayoutField) error {
	described := map[string]bool{}
	types := map[string]bool{}
	for _, f := range fields {
		described[f.Type+"."+f.Field] = true
		types[f.Type] = true
		ct, cf := C.CString(f.Type), C.CString(f.Field)
		var off, size C.size_t
		rc := C.zenith_layout_find(ct, cf, &off, &size)
		C.free(ptr(ct))
		C.free(ptr(cf))
		switch {
		case rc == ENotFound:
			return &LayoutError{Type: f.Type, Field: f.Field, InBinding: true, BindingOffset: f.Offset, BindingSize: f.Size}
		case rc < 0:
			return Error{Code: int(rc), Detail: "zenith_layout_find(" + f.Type + ", " + f.Field + ")"}
		case uintptr(off) != f.Offset || uintptr(size) != f.Size:
			return &LayoutError{Type: f.Type, Field: f.Field, InBinding: true, InLibrary: true, BindingOffset: f.Offset,
				BindingSize: f.Size, LibraryOffset: uintptr(off), LibrarySize: uintptr(size)}
		}
	}
	n := C.zenith_layout_count()
	for i := C.size_t(0); i < n; i++ {
		var t, f *C.char
		var off, size C.size_t
		if rc := C.zenith_layout_get(i, &t, &f, &off, &size); rc < 0 {
			return Error{Code: int(rc), Detail: "zenith_layout_get"}
		}
		tn, fn := C.GoString(t), C.GoString(f)
		if types[tn] && !described[tn+"."+fn] {
			return &LayoutError{Type: tn, Field: fn, InLibrary: true, LibraryOffset: uintptr(off), LibrarySize: uintptr(size)}
		}
	}
	return nil
}

// LayoutHash is the library's zenith_layout_hash (FNV-1a 64 of the whole table).
func LayoutHash() uint64 { return uint64(C.zenith_layout_hash()) }

func ptr(p *C.char) unsafe.Pointer { return unsafe.Pointer(p) }
