//go:build linux && cgo

package numashard

import (
	"encoding/binary"
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"strings"
	"testing"
)

// filled opens a map holding n entries: 16-byte keys, 32-byte values.
func filled(t *testing.T, n int) (*Map, [][]byte) {
	m := openMap(t, Config{Shards: 2})
	keys := make([][]byte, n)
	for i := range keys {
		keys[i] = binary.LittleEndian.AppendUint64(make([]byte, 8, 16), uint64(i)*0x9e3779b97f4a7c15)
		noErr(t, m.Store(keys[i], make([]byte, 32)))
	}
	return m, keys
}

func wantAllocs(t *testing.T, what string, want float64, f func()) {
	t.Helper()
	if got := testing.AllocsPerRun(200, f); got != want {
		t.Errorf("%s: %v allocations per call, want %v", what, got, want)
	}
}

// TestAllocations pins what each call allocates: nothing for LoadInto,
// Store, a warm GetBatch, Range, All and the typed map over integers; the
// copying Load only its result.
func TestAllocations(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates, and empties sync.Pools at random")
	}
	m, keys := filled(t, 1000)
	buf := make([]byte, 64)
	val := make([]byte, 32)
	i := 0
	next := func() []byte { i++; return keys[i%len(keys)] }
	wantAllocs(t, "LoadInto", 0, func() { m.LoadInto(next(), buf) })
	wantAllocs(t, "LoadIntoString", 0, func() { m.LoadIntoString("absent", buf) })
	wantAllocs(t, "AppendLoad (room enough)", 0, func() { m.AppendLoad(buf[:0], next()) })
	wantAllocs(t, "Store", 0, func() { m.Store(next(), val) })
	wantAllocs(t, "StoreString", 0, func() { m.StoreString("k", val) })
	wantAllocs(t, "CompareAndSwap", 0, func() { m.CompareAndSwap(next(), val, val) })
	wantAllocs(t, "Add", 0, func() { m.AddString("counter", 1) })
	wantAllocs(t, "Load (its result only)", 1, func() { m.Load(next()) })
	wantAllocs(t, "Swap (its result only)", 1, func() { m.Swap(next(), val) })
	gets := NewGetBatch(64)
	wantAllocs(t, "GetBatch of 64 (Reset, Get, RunGets, Value), warm", 0, func() {
		gets.Reset()
		for range 64 {
			gets.Get(next())
		}
		if err := m.RunGets(gets); err != nil {
			t.Fatal(err)
		}
		for j := range 64 {
			if v, ok := gets.Value(j); !ok || len(v) != 32 {
				t.Fatalf("get %d: %d bytes, %v", j, len(v), ok)
			}
		}
	})
	entries := must[int](t)(m.Len()) // the keys, "k" and "counter"
	n := 0
	wantAllocs(t, "Range over 1000 entries", 0, func() {
		m.Range(func(k, v []byte) bool { n++; return true })
	})
	wantAllocs(t, "range over All, 1000 entries", 0, func() {
		for range m.All() {
			n++
		}
	})
	if n != 2*entries*201 { // AllocsPerRun calls once more to warm up
		t.Fatalf("Range and All saw %d entries, want %d", n, 2*entries*201)
	}

	counters := Of(m, Uint64, Int64)
	wantAllocs(t, "TypedMap[uint64, int64].Store", 0, func() { counters.Store(uint64(i), int64(i)) })
	wantAllocs(t, "TypedMap[uint64, int64].Load", 0, func() { counters.Load(uint64(i)) })
	wantAllocs(t, "TypedMap[uint64, int64].Swap", 0, func() { counters.Swap(uint64(i), 1) })
	wantAllocs(t, "TypedMap[uint64, int64].CompareAndSwap", 0, func() { counters.CompareAndSwap(uint64(i), 1, 2) })
	names := Of(m, String, String)
	noErr(t, names.Store("alice", "admin"))
	wantAllocs(t, "TypedMap[string, string].Load (the decoded string)", 1, func() { names.Load("alice") })
	wantAllocs(t, "TypedMap[string, string].Store", 0, func() { names.Store("alice", "admin") })
	ints := Of(openMap(t, Config{Shards: 2}), Uint64, Int64)
	for j := range 100 {
		noErr(t, ints.Store(uint64(j), int64(j)))
	}
	wantAllocs(t, "TypedMap[uint64, int64].Range", 0, func() {
		ints.Range(func(k uint64, v int64) bool { n += int(v); return true })
	})
}

// TestStringTwins checks that the API is even: every exported method (of
// Map, Batch, ...) in the package's files that takes a key []byte has a
// ...String twin taking a string.
func TestStringTwins(t *testing.T) {
	fset := token.NewFileSet()
	methods := map[string]bool{}
	var keyed []string
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		file, err := parser.ParseFile(fset, f, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range file.Decls {
			fn, ok := d.(*ast.FuncDecl)
			if !ok || fn.Recv == nil || !fn.Name.IsExported() {
				continue
			}
			// Pointer receivers of Map and Batch; value receivers and the
			// generic TypedMap (keys of any type) have no twins.
			star, ok := fn.Recv.List[0].Type.(*ast.StarExpr)
			if !ok {
				continue
			}
			id, ok := star.X.(*ast.Ident)
			if !ok {
				continue
			}
			recv := id.Name
			name := recv + "." + fn.Name.Name
			methods[name] = true
			for _, p := range fn.Type.Params.List {
				isBytes := false
				if arr, ok := p.Type.(*ast.ArrayType); ok && arr.Len == nil {
					elt, _ := arr.Elt.(*ast.Ident)
					isBytes = elt != nil && elt.Name == "byte"
				}
				for _, id := range p.Names {
					if id.Name == "key" && isBytes {
						keyed = append(keyed, name)
					}
				}
			}
		}
	}
	if len(keyed) < 20 {
		t.Fatalf("found %d keyed methods: the scan is broken", len(keyed))
	}
	for _, name := range keyed {
		if !methods[name+"String"] {
			t.Errorf("%s has no %sString twin", name, name)
		}
	}
}
