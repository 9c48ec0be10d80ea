//go:build linux && cgo

package numashard

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math"
	"slices"
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
