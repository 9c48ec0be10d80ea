//go:build linux && cgo

// Package sync_test runs the Go toolchain's own sync.Map tests
// (src/sync/map_test.go and map_reference_test.go of the installed Go,
// copied here at test time by scripts/go-synctests.sh, never committed)
// against numashard through NSMap, a sync.Map-shaped adapter: the copies
// have every sync.Map replaced by NSMap, and the parts that need the
// standard library's internal packages (internal/sync's HashTrieMap, a
// third peer) dropped. differential_test.go adds the differential the
// toolchain's generator cannot make: CompareAndSwap and CompareAndDelete
// given the values really stored, so that they succeed.
package sync_test

import (
	"encoding/binary"
	"fmt"
	"runtime"
	"sync"
	"unsafe"
	"weak"

	numashard "github.com/numashard/numashard/bindings/go"
)

// NSMap is sync.Map's API over a numashard map. Its zero value is ready to
// use (the engine map is opened on first use, with two shards). Keys and
// values are encoded with their dynamic type, so that a decoded value is
// the same Go value: nil, string, int, int64, struct{}, and pointers
// (*int, *NSMap), which are identified by address and held weakly, like
// the key of a deleted sync.Map entry (an entry keyed by an object that
// died cannot be returned: no test keeps one).
type NSMap struct {
	once sync.Once
	m    *numashard.Map
}

func (n *NSMap) engine() *numashard.Map {
	n.once.Do(func() {
		m, err := numashard.Open(numashard.Config{Shards: 2})
		if err != nil {
			panic(err)
		}
		n.m = m
	})
	return n.m
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

func must2[T any](v T, ok bool, err error) (T, bool) {
	if err != nil {
		panic(err)
	}
	return v, ok
}

const (
	tagNil byte = iota
	tagString
	tagInt
	tagInt64
	tagEmpty
	tagIntPtr
	tagMapPtr
)

// pointers maps an address encoded in the map to a weak pointer to the
// object there (while it lives).
var pointers struct {
	sync.Mutex
	m map[uintptr]func() any
}

func appendPointer[T any](buf []byte, tag byte, p *T) []byte {
	addr := uintptr(unsafe.Pointer(p))
	pointers.Lock()
	if pointers.m == nil {
		pointers.m = map[uintptr]func() any{}
	}
	if get, ok := pointers.m[addr]; !ok || get() != any(p) {
		w := weak.Make(p)
		pointers.m[addr] = func() any { return w.Value() }
		runtime.AddCleanup(p, func(a uintptr) {
			pointers.Lock()
			delete(pointers.m, a)
			pointers.Unlock()
		}, addr)
	}
	pointers.Unlock()
	return binary.LittleEndian.AppendUint64(append(buf, tag), uint64(addr))
}

func encode(buf []byte, v any) []byte {
	switch x := v.(type) {
	case nil:
		return append(buf, tagNil)
	case string:
		return append(append(buf, tagString), x...)
	case int:
		return binary.LittleEndian.AppendUint64(append(buf, tagInt), uint64(x))
	case int64:
		return binary.LittleEndian.AppendUint64(append(buf, tagInt64), uint64(x))
	case struct{}:
		return append(buf, tagEmpty)
	case *int:
		return appendPointer(buf, tagIntPtr, x)
	case *NSMap:
		return appendPointer(buf, tagMapPtr, x)
	}
	panic(fmt.Sprintf("NSMap: unsupported type %T", v))
}

func decode(b []byte) any {
	switch b[0] {
	case tagNil:
		return nil
	case tagString:
		return string(b[1:])
	case tagInt:
		return int(binary.LittleEndian.Uint64(b[1:]))
	case tagInt64:
		return int64(binary.LittleEndian.Uint64(b[1:]))
	case tagEmpty:
		return struct{}{}
	case tagIntPtr, tagMapPtr:
		pointers.Lock()
		get := pointers.m[uintptr(binary.LittleEndian.Uint64(b[1:]))]
		pointers.Unlock()
		if get != nil {
			return get()
		}
		return nil
	}
	panic(fmt.Sprintf("NSMap: bad encoding %x", b))
}

func enc(v any) []byte { return encode(nil, v) }

func (n *NSMap) Load(key any) (value any, ok bool) {
	v, ok := must2(n.engine().Load(enc(key)))
	if !ok {
		return nil, false
	}
	return decode(v), true
}

func (n *NSMap) Store(key, value any) {
	if err := n.engine().Store(enc(key), enc(value)); err != nil {
		panic(err)
	}
}

func (n *NSMap) LoadOrStore(key, value any) (actual any, loaded bool) {
	v, loaded := must2(n.engine().LoadOrStore(enc(key), enc(value)))
	if !loaded {
		return value, false
	}
	return decode(v), true
}

func (n *NSMap) LoadAndDelete(key any) (value any, loaded bool) {
	v, loaded := must2(n.engine().LoadAndDelete(enc(key)))
	if !loaded {
		return nil, false
	}
	return decode(v), true
}

func (n *NSMap) Delete(key any) { must(n.engine().Delete(enc(key))) }

func (n *NSMap) Swap(key, value any) (previous any, loaded bool) {
	v, loaded := must2(n.engine().Swap(enc(key), enc(value)))
	if !loaded {
		return nil, false
	}
	return decode(v), true
}

func (n *NSMap) CompareAndSwap(key, old, new any) (swapped bool) {
	return must(n.engine().CompareAndSwap(enc(key), enc(old), enc(new)))
}

func (n *NSMap) CompareAndDelete(key, old any) (deleted bool) {
	return must(n.engine().CompareAndDelete(enc(key), enc(old)))
}

func (n *NSMap) Range(f func(key, value any) bool) {
	err := n.engine().Range(func(k, v []byte) bool { return f(decode(k), decode(v)) })
	if err != nil {
		panic(err)
	}
}

func (n *NSMap) Clear() {
	if err := n.engine().Clear(); err != nil {
		panic(err)
	}
}
