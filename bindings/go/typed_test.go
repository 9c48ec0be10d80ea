//go:build linux && cgo

package numashard

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"
)

func roundTrip[T comparable](t *testing.T, c Codec[T], vals ...T) {
	t.Helper()
	for _, v := range vals {
		b := c.Append([]byte("prefix"), v)
		if !bytes.HasPrefix(b, []byte("prefix")) {
			t.Fatalf("Append(%v) lost the buffer's bytes: %q", v, b)
		}
		got, err := c.Decode(b[len("prefix"):])
		if err != nil || got != v {
			t.Fatalf("Decode(Append(%v)) = %v, %v", v, got, err)
		}
	}
}

func TestCodecs(t *testing.T) {
	roundTrip(t, String, "", "a", "héllo", string(make([]byte, 1000)))
	roundTrip(t, Int8, 0, -1, math.MinInt8, math.MaxInt8)
	roundTrip(t, Int16, 0, -1, math.MinInt16, math.MaxInt16)
	roundTrip(t, Int32, 0, -1, math.MinInt32, math.MaxInt32)
	roundTrip(t, Int64, 0, -1, math.MinInt64, math.MaxInt64)
	roundTrip(t, Uint8, 0, math.MaxUint8)
	roundTrip(t, Uint16, 0, math.MaxUint16)
	roundTrip(t, Uint32, 0, math.MaxUint32)
	roundTrip(t, Uint64, 0, math.MaxUint64)
	if got := Int64.Append(nil, -2); !bytes.Equal(got, binary.LittleEndian.AppendUint64(nil, math.MaxUint64-1)) {
		t.Fatalf("Int64 is not 8 bytes little endian: %x", got)
	}
	src := []byte("abc")
	b, err := Bytes.Decode(src)
	src[0] = 'x'
	if err != nil || string(b) != "abc" {
		t.Fatalf("Bytes.Decode kept the caller's buffer: %q %v", b, err)
	}
	for _, n := range []int{0, 3, 9} {
		if _, err := Int64.Decode(make([]byte, n)); !errors.Is(err, ErrDecode) {
			t.Fatalf("Int64.Decode of %d bytes: %v, want ErrDecode", n, err)
		}
	}
	if _, err := Uint16.Decode([]byte{1}); !errors.Is(err, ErrDecode) {
		t.Fatalf("Uint16.Decode of 1 byte: %v", err)
	}
}

// point is a user type with a codec of its own.
type point struct{ X, Y int32 }

type pointCodec struct{}

func (pointCodec) Append(buf []byte, p point) []byte {
	buf = binary.LittleEndian.AppendUint32(buf, uint32(p.X))
	return binary.LittleEndian.AppendUint32(buf, uint32(p.Y))
}

func (pointCodec) Decode(b []byte) (point, error) {
	if len(b) != 8 {
		return point{}, ErrDecode
	}
	return point{int32(binary.LittleEndian.Uint32(b)), int32(binary.LittleEndian.Uint32(b[4:]))}, nil
}

func TestTypedMap(t *testing.T) {
	m := openMap(t, Config{})
	tm := Of(m, String, pointCodec{})
	if tm.Map() != m {
		t.Fatal("Map() is not the underlying map")
	}
	if _, ok, err := tm.Load("a"); ok || err != nil {
		t.Fatalf("Load of an absent key: %v %v", ok, err)
	}
	noErr(t, tm.Store("a", point{1, 2}))
	if v, ok, err := tm.Load("a"); !ok || err != nil || v != (point{1, 2}) {
		t.Fatalf("Load = %v %v %v", v, ok, err)
	}
	// The bytes stored are the codecs' encodings.
	raw, _, _ := m.LoadString("a")
	if !bytes.Equal(raw, pointCodec{}.Append(nil, point{1, 2})) {
		t.Fatalf("stored bytes %x", raw)
	}
	if v, loaded, err := tm.LoadOrStore("a", point{9, 9}); !loaded || err != nil || v != (point{1, 2}) {
		t.Fatalf("LoadOrStore present = %v %v %v", v, loaded, err)
	}
	if v, loaded, err := tm.LoadOrStore("b", point{3, 4}); loaded || err != nil || v != (point{3, 4}) {
		t.Fatalf("LoadOrStore absent = %v %v %v", v, loaded, err)
	}
	if v, loaded, err := tm.Swap("b", point{5, 6}); !loaded || err != nil || v != (point{3, 4}) {
		t.Fatalf("Swap present = %v %v %v", v, loaded, err)
	}
	if _, loaded, err := tm.Swap("c", point{7, 8}); loaded || err != nil {
		t.Fatalf("Swap absent = %v %v", loaded, err)
	}
	if ok, err := tm.CompareAndSwap("c", point{0, 0}, point{1, 1}); ok || err != nil {
		t.Fatalf("CompareAndSwap with a wrong old value = %v %v", ok, err)
	}
	if ok, err := tm.CompareAndSwap("c", point{7, 8}, point{1, 1}); !ok || err != nil {
		t.Fatalf("CompareAndSwap with the stored value = %v %v", ok, err)
	}
	if ok, err := tm.CompareAndDelete("c", point{7, 8}); ok || err != nil {
		t.Fatalf("CompareAndDelete with a wrong old value = %v %v", ok, err)
	}
	if ok, err := tm.CompareAndDelete("c", point{1, 1}); !ok || err != nil {
		t.Fatalf("CompareAndDelete with the stored value = %v %v", ok, err)
	}
	if v, loaded, err := tm.LoadAndDelete("b"); !loaded || err != nil || v != (point{5, 6}) {
		t.Fatalf("LoadAndDelete = %v %v %v", v, loaded, err)
	}
	if ok, err := tm.Delete("a"); !ok || err != nil {
		t.Fatalf("Delete = %v %v", ok, err)
	}
	if n := must[int](t)(tm.Len()); n != 0 {
		t.Fatalf("Len = %d", n)
	}

	// Range and All decode every entry.
	want := map[string]point{}
	for i := range 500 {
		k := string(rune('a'+i%26)) + string(rune('0'+i/26))
		want[k] = point{int32(i), int32(-i)}
		noErr(t, tm.Store(k, want[k]))
	}
	got := map[string]point{}
	noErr(t, tm.Range(func(k string, v point) bool { got[k] = v; return true }))
	if len(got) != len(want) {
		t.Fatalf("Range saw %d entries, want %d", len(got), len(want))
	}
	for k, v := range tm.All() {
		if want[k] != v {
			t.Fatalf("All: %q = %v, want %v", k, v, want[k])
		}
	}
	// An entry that does not decode stops Range with ErrDecode.
	noErr(t, m.StoreString("bad", []byte{1, 2, 3}))
	if err := tm.Range(func(string, point) bool { return true }); !errors.Is(err, ErrDecode) {
		t.Fatalf("Range over a bad entry: %v", err)
	}
	if _, _, err := tm.Load("bad"); !errors.Is(err, ErrDecode) {
		t.Fatalf("Load of a bad entry: %v", err)
	}
	noErr(t, tm.Clear())

	// Values larger than the pooled buffers take the grow path.
	big := Of(m, Uint32, Bytes)
	for _, n := range []int{0, 255, 256, 257, 5000, 100_000} {
		v := bytes.Repeat([]byte{byte(n)}, n)
		noErr(t, big.Store(uint32(n), v))
		if got, ok, err := big.Load(uint32(n)); !ok || err != nil || !bytes.Equal(got, v) {
			t.Fatalf("Load of %d bytes: %d bytes, %v %v", n, len(got), ok, err)
		}
		if got, ok, err := big.Swap(uint32(n), []byte("s")); !ok || err != nil || !bytes.Equal(got, v) {
			t.Fatalf("Swap of %d bytes: %d bytes, %v %v", n, len(got), ok, err)
		}
	}

	// Errors of the underlying map come through.
	keys := Of(openMap(t, Config{MaxKeyLen: 4}), String, Int64)
	if err := keys.Store("too long", 1); !errors.Is(err, ErrKeyTooLarge) {
		t.Fatalf("Store of an oversized key: %v", err)
	}
	closed, _ := Open(Config{Shards: 1})
	closed.Close()
	ct := Of(closed, String, Int64)
	if _, _, err := ct.Load("a"); !errors.Is(err, ErrClosed) {
		t.Fatalf("Load after Close: %v", err)
	}
	if err := ct.Range(func(string, int64) bool { return true }); !errors.Is(err, ErrClosed) {
		t.Fatalf("Range after Close: %v", err)
	}
}

// TestTypedCountersShareAdd checks that Int64 reads and writes the same
// counters as Map.Add.
func TestTypedCountersShareAdd(t *testing.T) {
	m := openMap(t, Config{})
	hits := Of(m, String, Int64)
	for range 5 {
		must[int64](t)(m.AddString("hits", 2))
	}
	if v, ok, err := hits.Load("hits"); !ok || err != nil || v != 10 {
		t.Fatalf("typed Load of a counter = %v %v %v", v, ok, err)
	}
	noErr(t, hits.Store("hits", -3))
	if v := must[int64](t)(m.AddString("hits", 1)); v != -2 {
		t.Fatalf("Add after a typed Store = %d", v)
	}
	keys := []string{}
	for k := range hits.All() {
		keys = append(keys, k)
	}
	if !slices.Equal(keys, []string{"hits"}) {
		t.Fatalf("All = %v", keys)
	}
}

// TestTypedMany checks LoadMany and StoreMany against single calls: more
// keys than one chunk (typedChunk), absent keys, a key given twice, the
// outputs' lengths, a key over the map's limit, a value that does not
// decode, a closed map; and that with integer codecs neither allocates.
func TestTypedMany(t *testing.T) {
	m := openMap(t, Config{Shards: 2, MaxKeyLen: 64})
	users := Of(m, String, Uint64)
	const n = 3*typedChunk + 17
	keys := make([]string, n)
	ids := make([]uint64, n)
	for i := range keys {
		keys[i], ids[i] = fmt.Sprintf("user-%d", i), uint64(i)*7919
	}
	keys[n-1], ids[n-1] = keys[3], 12345 // given twice: the later value stays
	noErr(t, users.StoreMany(keys, ids))
	for i, k := range keys[:n-1] {
		want := ids[i]
		if i == 3 {
			want = 12345
		}
		if v, ok, err := users.Load(k); err != nil || !ok || v != want {
			t.Fatalf("after StoreMany, Load(%q) = %d, %v, %v; want %d", k, v, ok, err, want)
		}
	}

	// Every third key absent; stale outputs are overwritten.
	look := make([]string, 0, n)
	for i := range n {
		if i%3 == 0 {
			look = append(look, fmt.Sprintf("absent-%d", i))
		} else {
			look = append(look, keys[i])
		}
	}
	vals := make([]uint64, n)
	found := make([]bool, n)
	for i := range vals {
		vals[i], found[i] = 99, true
	}
	got, err := users.LoadMany(look, vals, found)
	noErr(t, err)
	wantFound := 0
	for i, k := range look {
		v, ok, err := users.Load(k)
		noErr(t, err)
		if found[i] != ok || vals[i] != v {
			t.Fatalf("LoadMany key %q: %d, %v; Load: %d, %v", k, vals[i], found[i], v, ok)
		}
		if ok {
			wantFound++
		}
	}
	if got != wantFound {
		t.Fatalf("LoadMany found %d, want %d", got, wantFound)
	}

	// Lengths.
	if _, err := users.LoadMany(look, vals[:1], found); !errors.Is(err, ErrInvalidArgument) {
		t.Fatalf("LoadMany with short values: %v", err)
	}
	if _, err := users.LoadMany(look, vals, found[:1]); !errors.Is(err, ErrInvalidArgument) {
		t.Fatalf("LoadMany with short found: %v", err)
	}
	if err := users.StoreMany([]string{"x", "y"}, []uint64{1}); !errors.Is(err, ErrInvalidArgument) {
		t.Fatalf("StoreMany with fewer values: %v", err)
	}
	if _, ok, _ := users.Load("x"); ok {
		t.Fatal("StoreMany stored although its lengths differ")
	}

	// A key over the limit fails the call, with its own error.
	long := strings.Repeat("k", 65)
	if _, err := users.LoadMany([]string{keys[1], long}, vals, found); !errors.Is(err, ErrKeyTooLarge) {
		t.Fatalf("LoadMany with a too long key: %v", err)
	}
	if err := users.StoreMany([]string{"fine", long}, []uint64{1, 2}); !errors.Is(err, ErrKeyTooLarge) {
		t.Fatalf("StoreMany with a too long key: %v", err)
	}

	// A stored value that is not a uint64: the codec's error.
	noErr(t, m.StoreString("odd", []byte("abc")))
	if _, err := users.LoadMany([]string{keys[1], "odd"}, vals, found); !errors.Is(err, ErrDecode) {
		t.Fatalf("LoadMany of an undecodable value: %v", err)
	}

	// Integer codecs: no allocation once the pools are warm.
	nums := Of(m, Uint64, Uint64)
	nk := []uint64{1, 2, 3, 4, 5, 6, 7, 8}
	noErr(t, nums.StoreMany(nk, nk))
	nv, nf := make([]uint64, len(nk)), make([]bool, len(nk))
	if !raceEnabled { // the race detector makes sync.Pool drop items
		if a := testing.AllocsPerRun(100, func() { nums.LoadMany(nk, nv, nf) }); a != 0 {
			t.Fatalf("LoadMany allocated %v times per call", a)
		}
		if a := testing.AllocsPerRun(100, func() { nums.StoreMany(nk, nk) }); a != 0 {
			t.Fatalf("StoreMany allocated %v times per call", a)
		}
	}
	if _, err := nums.LoadMany(nk, nv, nf); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(nv, nk) || slices.Contains(nf, false) {
		t.Fatalf("LoadMany read %v %v", nv, nf)
	}

	noErr(t, m.Close())
	if _, err := users.LoadMany(look, vals, found); !errors.Is(err, ErrClosed) {
		t.Fatalf("LoadMany on a closed map: %v", err)
	}
	if err := users.StoreMany(keys[:2], ids[:2]); !errors.Is(err, ErrClosed) {
		t.Fatalf("StoreMany on a closed map: %v", err)
	}
}

// BenchmarkTypedMany compares, on one map of 16-byte string keys and
// uint64 values (10k and 100k entries; NUMASHARD_BENCH_LARGE=1 adds 1M), a
// loop of TypedMap.Load with LoadMany and with a loop of Map.LoadInto on
// the same keys (what the typed layer costs), and a loop of Store with
// StoreMany, over the same random keys, 64 per call of the batch arms.
// ns/op is per key.
func BenchmarkTypedMany(b *testing.B) {
	for _, n := range directBenchSizes(10_000, 100_000) {
		m := openMap(b, Config{Shards: 2})
		ids := Of(m, String, Uint64)
		names := make([]string, n)
		vals := make([]uint64, n)
		for i := range names {
			names[i], vals[i] = fmt.Sprintf("user-%011d", i), uint64(i)
		}
		noErr(b, ids.StoreMany(names, vals))
		const per = 64
		pick := func(x *uint64, dst []string) {
			for j := range dst {
				*x = *x*6364136223846793005 + 1442695040888963407
				dst[j] = names[(*x>>33)%uint64(n)]
			}
		}
		for _, arm := range []string{"load-loop", "loadinto-loop", "loadmany", "store-loop", "storemany"} {
			b.Run(fmt.Sprintf("size=%d/%s", n, arm), func(b *testing.B) {
				x := uint64(1)
				ks := make([]string, per)
				out := make([]uint64, per)
				found := make([]bool, per)
				for done := 0; done < b.N; done += per {
					pick(&x, ks)
					switch arm {
					case "load-loop":
						for j, k := range ks {
							v, ok, err := ids.Load(k)
							if err != nil || !ok {
								b.Fatal(k, ok, err)
							}
							out[j] = v
						}
					case "loadinto-loop":
						var buf [8]byte
						for j, k := range ks {
							if _, ok, err := m.LoadInto(stringBytes(k), buf[:]); err != nil || !ok {
								b.Fatal(k, ok, err)
							}
							out[j] = binary.LittleEndian.Uint64(buf[:])
						}
					case "loadmany":
						if got, err := ids.LoadMany(ks, out, found); err != nil || got != per {
							b.Fatal(got, err)
						}
					case "store-loop":
						for j, k := range ks {
							noErr(b, ids.Store(k, uint64(j)))
						}
					case "storemany":
						noErr(b, ids.StoreMany(ks, out))
					}
				}
			})
		}
		noErr(b, m.Close())
	}
}

// wrapped hides a codec behind another type, so that a TypedMap over it
// takes the general path (kindOther): the reference for the package
// codecs' direct path.
type wrapped[T any] struct{ c Codec[T] }

func (w wrapped[T]) Append(buf []byte, v T) []byte { return w.c.Append(buf, v) }
func (w wrapped[T]) Decode(b []byte) (T, error)    { return w.c.Decode(b) }

// typedSame checks that Store and Load through the package codecs' direct
// path (kindOf) and through the general path agree, byte for byte in the
// Map and value for value back, for keys ks and values vs.
func typedSame[K, V any](t *testing.T, m *Map, kc Codec[K], vc Codec[V], ks []K, vs []V, eq func(a, b V) bool) {
	t.Helper()
	fast, slow := Of(m, kc, vc), Of(m, Codec[K](wrapped[K]{kc}), Codec[V](wrapped[V]{vc}))
	if fast.kk == kindOther || fast.vk == kindOther || slow.kk != kindOther || slow.vk != kindOther {
		t.Fatalf("kinds: fast %d/%d, slow %d/%d", fast.kk, fast.vk, slow.kk, slow.vk)
	}
	for i, k := range ks {
		noErr(t, m.Clear())
		noErr(t, fast.Store(k, vs[i]))
		if v, ok, err := slow.Load(k); err != nil || !ok || !eq(v, vs[i]) {
			t.Fatalf("%v: stored directly, read generally: %v %v %v, want %v", k, v, ok, err, vs[i])
		}
		kb := kc.Append(nil, k)
		raw, ok, err := m.Load(kb)
		if err != nil || !ok || !bytes.Equal(raw, vc.Append(nil, vs[i])) {
			t.Fatalf("%v: stored bytes %x %v %v, want %x", k, raw, ok, err, vc.Append(nil, vs[i]))
		}
		noErr(t, m.Clear())
		noErr(t, slow.Store(k, vs[i]))
		if v, ok, err := fast.Load(k); err != nil || !ok || !eq(v, vs[i]) {
			t.Fatalf("%v: stored generally, read directly: %v %v %v, want %v", k, v, ok, err, vs[i])
		}
		if _, err := m.Delete(kb); err != nil {
			t.Fatal(err)
		}
		if v, ok, err := fast.Load(k); err != nil || ok {
			t.Fatalf("%v: absent, read directly: %v %v %v", k, v, ok, err)
		}
	}
}

// TestTypedDirectPath: Load and Store of the package's codecs skip the
// codec calls and pooled buffers (kindOf); they must agree with the codecs
// exactly, for every codec, signed values included, and fall back to the
// general path where it decides: a value longer than the stack buffer, a
// stored value of the wrong size for an integer (the codec's error).
func TestTypedDirectPath(t *testing.T) {
	m := openMap(t, Config{Shards: 2})
	long := strings.Repeat("v", 3*loadStackSize)
	typedSame(t, m, String, String, []string{"", "k", "héllo", strings.Repeat("k", 100)}, []string{"", "v", long, "x"},
		func(a, b string) bool { return a == b })
	typedSame(t, m, Bytes, Bytes, [][]byte{nil, {}, []byte("k"), []byte(long[:200])}, [][]byte{nil, {}, {1, 2}, []byte(long)},
		func(a, b []byte) bool { return bytes.Equal(a, b) })
	typedSame(t, m, Int8, Int16, []int8{0, -1, math.MinInt8, math.MaxInt8}, []int16{-2, math.MinInt16, math.MaxInt16, 7},
		func(a, b int16) bool { return a == b })
	typedSame(t, m, Uint16, Int32, []uint16{0, 1, math.MaxUint16}, []int32{math.MinInt32, -5, math.MaxInt32},
		func(a, b int32) bool { return a == b })
	typedSame(t, m, Int32, Uint32, []int32{math.MinInt32, 0, math.MaxInt32}, []uint32{0, 1, math.MaxUint32},
		func(a, b uint32) bool { return a == b })
	typedSame(t, m, Int64, Uint64, []int64{math.MinInt64, -1, math.MaxInt64}, []uint64{0, math.MaxUint64, 1 << 40},
		func(a, b uint64) bool { return a == b })
	typedSame(t, m, Uint64, Int64, []uint64{0, math.MaxUint64}, []int64{math.MinInt64, math.MaxInt64},
		func(a, b int64) bool { return a == b })
	typedSame(t, m, Uint8, Uint8, []uint8{0, 255}, []uint8{255, 0}, func(a, b uint8) bool { return a == b })
	typedSame(t, m, Uint32, Bytes, []uint32{0, 1 << 31}, [][]byte{{}, []byte("bytes")},
		func(a, b []byte) bool { return bytes.Equal(a, b) })

	// A stored value of the wrong size for its integer type: the codec's error.
	ids := Of(m, String, Uint64)
	noErr(t, m.StoreString("odd", []byte("abc")))
	if _, _, err := ids.Load("odd"); !errors.Is(err, ErrDecode) {
		t.Fatalf("Load of a 3-byte value as a uint64: %v", err)
	}
	// No allocation for integer values, whatever the key codec of the package.
	if !raceEnabled {
		noErr(t, ids.Store("alice", 42))
		if a := testing.AllocsPerRun(100, func() { ids.Load("alice") }); a != 0 {
			t.Fatalf("Load (String, Uint64) allocated %v times", a)
		}
		if a := testing.AllocsPerRun(100, func() { ids.Store("alice", 43) }); a != 0 {
			t.Fatalf("Store (String, Uint64) allocated %v times", a)
		}
		names := Of(m, Uint64, String)
		noErr(t, names.Store(1, "bob"))
		if a := testing.AllocsPerRun(100, func() { names.Load(1) }); a != 1 {
			t.Fatalf("Load (Uint64, String) allocated %v times, want 1 (the string)", a)
		}
	}
	noErr(t, m.Close())
	if _, _, err := ids.Load("alice"); !errors.Is(err, ErrClosed) {
		t.Fatalf("Load on a closed map: %v", err)
	}
	if err := ids.Store("alice", 1); !errors.Is(err, ErrClosed) {
		t.Fatalf("Store on a closed map: %v", err)
	}
}

// typedOpsSame runs every single-key call of TypedMap, in the same order,
// through the package codecs' direct path and through the general path,
// each from an empty map, and checks that results and the stored bytes
// agree. k is the key, a and b two values.
func typedOpsSame[K, V any](t *testing.T, m *Map, kc Codec[K], vc Codec[V], k K, a, b V) {
	t.Helper()
	run := func(tm *TypedMap[K, V]) (trace []string, stored []byte) {
		noErr(t, m.Clear())
		add := func(name string, vals ...any) { trace = append(trace, fmt.Sprint(name, vals)) }
		v, l, err := tm.LoadOrStore(k, a)
		add("LoadOrStore absent", v, l, err)
		v, l, err = tm.LoadOrStore(k, b)
		add("LoadOrStore present", v, l, err)
		v, l, err = tm.Swap(k, b)
		add("Swap", v, l, err)
		s, err := tm.CompareAndSwap(k, a, a)
		add("CompareAndSwap wrong old", s, err)
		s, err = tm.CompareAndSwap(k, b, a)
		add("CompareAndSwap", s, err)
		s, err = tm.CompareAndDelete(k, b)
		add("CompareAndDelete wrong old", s, err)
		v, l, err = tm.LoadAndDelete(k)
		add("LoadAndDelete", v, l, err)
		v, l, err = tm.LoadAndDelete(k)
		add("LoadAndDelete absent", v, l, err)
		v, l, err = tm.Swap(k, b)
		add("Swap absent", v, l, err)
		s, err = tm.CompareAndDelete(k, b)
		add("CompareAndDelete", s, err)
		noErr(t, tm.Store(k, a))
		s, err = tm.Delete(k)
		add("Delete", s, err)
		s, err = tm.Delete(k)
		add("Delete absent", s, err)
		noErr(t, tm.Store(k, b))
		stored, _, err = m.Load(kc.Append(nil, k))
		noErr(t, err)
		return trace, stored
	}
	fast, slow := Of(m, kc, vc), Of(m, Codec[K](wrapped[K]{kc}), Codec[V](wrapped[V]{vc}))
	ft, fs := run(fast)
	st, ss := run(slow)
	if !slices.Equal(ft, st) || !bytes.Equal(fs, ss) {
		t.Fatalf("direct path:\n%q\n%x\ngeneral path:\n%q\n%x", ft, fs, st, ss)
	}
}

// TestTypedDirectOps: every single-key call agrees between the package
// codecs' direct path and the general path, and the mutating reads of a
// stored integer of the wrong size report the codec's error having done
// their change, as the general path does.
func TestTypedDirectOps(t *testing.T) {
	m := openMap(t, Config{Shards: 2})
	long := strings.Repeat("v", 3*loadStackSize)
	typedOpsSame(t, m, String, Uint64, "k", 1, math.MaxUint64)
	typedOpsSame(t, m, Int16, Int8, -7, math.MinInt8, 3)
	typedOpsSame(t, m, Uint32, String, 9, "a", long)
	typedOpsSame(t, m, Bytes, Bytes, []byte("key"), []byte{}, []byte("b"))
	typedOpsSame(t, m, Int64, Uint32, math.MinInt64, 0, math.MaxUint32)
	// nil slices encode as empty ones on both paths (the direct path hands
	// the engine a nil pointer with a zero length).
	typedOpsSame(t, m, Bytes, Bytes, []byte(nil), nil, nil)
	typedOpsSame(t, m, String, Bytes, "k2", []byte("x"), nil)

	for _, tm := range []*TypedMap[string, uint64]{Of(m, String, Uint64), Of(m, Codec[string](wrapped[string]{String}), Codec[uint64](wrapped[uint64]{Uint64}))} {
		noErr(t, m.StoreString("odd", []byte("abc")))
		if _, l, err := tm.LoadAndDelete("odd"); !l || !errors.Is(err, ErrDecode) {
			t.Fatalf("kinds %d/%d: LoadAndDelete of a 3-byte uint64: %v, %v", tm.kk, tm.vk, l, err)
		}
		if _, ok, _ := m.LoadString("odd"); ok {
			t.Fatalf("kinds %d/%d: LoadAndDelete left the undecodable entry", tm.kk, tm.vk)
		}
		noErr(t, m.StoreString("odd", []byte("abc")))
		if _, l, err := tm.Swap("odd", 5); !l || !errors.Is(err, ErrDecode) {
			t.Fatalf("kinds %d/%d: Swap of a 3-byte uint64: %v, %v", tm.kk, tm.vk, l, err)
		}
		if v, ok, err := tm.Load("odd"); err != nil || !ok || v != 5 {
			t.Fatalf("kinds %d/%d: after Swap: %v %v %v", tm.kk, tm.vk, v, ok, err)
		}
	}
}
