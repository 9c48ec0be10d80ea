//go:build linux && cgo

package numashard

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"testing"
)

// openMap opens a map for a test and closes it when the test ends.
func openMap(t testing.TB, cfg Config) *Map {
	t.Helper()
	if cfg.Shards == 0 && cfg.ShardsPerNode == nil {
		cfg.Shards = 4
	}
	m, err := Open(cfg)
	if err != nil {
		t.Fatalf("Open(%+v): %v", cfg, err)
	}
	t.Cleanup(func() { m.Close() })
	return m
}

func must[T any](t testing.TB) func(v T, err error) T {
	return func(v T, err error) T {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
}

func noErr(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func wantErr(t testing.TB, err, want error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Fatalf("error %v, want %v", err, want)
	}
}

func le64(v int64) []byte { return binary.LittleEndian.AppendUint64(nil, uint64(v)) }

func TestVersion(t *testing.T) {
	v := Version()
	if v == "" || strings.Count(v, ".") < 2 {
		t.Fatalf("Version() = %q", v)
	}
}

func TestStatusTextAndErrors(t *testing.T) {
	all := []Status{StatusOK, StatusNotFound, StatusExists, StatusMismatch, StatusBufferTooSmall,
		StatusInvalidArgument, StatusKeyTooLarge, StatusValueTooLarge, StatusFull, StatusClosed,
		StatusNotACounter, StatusTopology, StatusPanic, StatusResource}
	seen := map[string]bool{}
	for _, s := range all {
		txt := s.String()
		if txt == "" || seen[txt] || strings.HasPrefix(txt, "unknown") {
			t.Fatalf("status %d has text %q", s, txt)
		}
		seen[txt] = true
	}
	if Status(99).String() == "" {
		t.Fatal("an unknown status has no text")
	}
	err := error(&Error{Status: StatusClosed, Op: "Load"})
	if !errors.Is(err, ErrClosed) || errors.Is(err, ErrFull) {
		t.Fatal("errors.Is must compare statuses")
	}
	var e *Error
	if !errors.As(fmt.Errorf("wrapped: %w", err), &e) || e.Status != StatusClosed || e.Op != "Load" {
		t.Fatal("errors.As through a wrap")
	}
	if got := err.Error(); !strings.Contains(got, "Load") || !strings.Contains(got, StatusClosed.String()) {
		t.Fatalf("Error() = %q", got)
	}
	if got := ErrFull.Error(); !strings.HasPrefix(got, "numashard: ") {
		t.Fatalf("sentinel Error() = %q", got)
	}
}

func TestSingleKeyOperations(t *testing.T) {
	m := openMap(t, Config{})
	k, v := []byte("alpha"), []byte("one")

	if _, ok, err := m.Load(k); ok || err != nil {
		t.Fatalf("Load of absent: ok=%v err=%v", ok, err)
	}
	noErr(t, m.Store(k, v))
	if got, ok, err := m.Load(k); !ok || err != nil || !bytes.Equal(got, v) {
		t.Fatalf("Load = %q %v %v", got, ok, err)
	}
	// The stored value is a copy.
	v[0] = 'X'
	if got, _, _ := m.Load(k); string(got) != "one" {
		t.Fatalf("value aliases the caller's slice: %q", got)
	}

	// LoadInto: fits, too small (needed size, nothing copied), absent.
	dst := make([]byte, 8)
	if n, ok, err := m.LoadInto(k, dst); n != 3 || !ok || err != nil || string(dst[:n]) != "one" {
		t.Fatalf("LoadInto = %d %v %v", n, ok, err)
	}
	small := []byte{'-', '-'}
	n, ok, err := m.LoadInto(k, small)
	if n != 3 || !ok || !errors.Is(err, ErrBufferTooSmall) || string(small) != "--" {
		t.Fatalf("LoadInto small = %d %v %v %q", n, ok, err, small)
	}
	if n, ok, err := m.LoadInto([]byte("nope"), dst); n != 0 || ok || err != nil {
		t.Fatalf("LoadInto absent = %d %v %v", n, ok, err)
	}
	if n, ok, err := m.LoadInto(k, nil); n != 3 || !ok || !errors.Is(err, ErrBufferTooSmall) {
		t.Fatalf("LoadInto nil = %d %v %v", n, ok, err)
	}

	// AppendLoad: in place when capacity suffices, grows otherwise.
	buf := make([]byte, 0, 16)
	buf = append(buf, "x="...)
	out, ok, err := m.AppendLoad(buf, k)
	if !ok || err != nil || string(out) != "x=one" || &out[0] != &buf[0] {
		t.Fatalf("AppendLoad = %q %v %v", out, ok, err)
	}
	out, ok, err = m.AppendLoad([]byte("y="), k)
	if !ok || err != nil || string(out) != "y=one" {
		t.Fatalf("AppendLoad grow = %q %v %v", out, ok, err)
	}
	if out, ok, err := m.AppendLoad([]byte("z"), []byte("nope")); ok || err != nil || string(out) != "z" {
		t.Fatalf("AppendLoad absent = %q %v %v", out, ok, err)
	}

	// StoreIfAbsent / LoadOrStore.
	if stored, err := m.StoreIfAbsent(k, []byte("two")); stored || err != nil {
		t.Fatalf("StoreIfAbsent present = %v %v", stored, err)
	}
	if stored, err := m.StoreIfAbsent([]byte("beta"), []byte("two")); !stored || err != nil {
		t.Fatalf("StoreIfAbsent absent = %v %v", stored, err)
	}
	if actual, loaded, err := m.LoadOrStore(k, []byte("three")); !loaded || err != nil || string(actual) != "one" {
		t.Fatalf("LoadOrStore present = %q %v %v", actual, loaded, err)
	}
	if actual, loaded, err := m.LoadOrStore([]byte("gamma"), []byte("three")); loaded || err != nil || string(actual) != "three" {
		t.Fatalf("LoadOrStore absent = %q %v %v", actual, loaded, err)
	}

	// CompareAndSwap: match, mismatch, absent.
	if ok, err := m.CompareAndSwap(k, []byte("one"), []byte("uno")); !ok || err != nil {
		t.Fatalf("CAS match = %v %v", ok, err)
	}
	if ok, err := m.CompareAndSwap(k, []byte("one"), []byte("eins")); ok || err != nil {
		t.Fatalf("CAS mismatch = %v %v", ok, err)
	}
	if ok, err := m.CompareAndSwap([]byte("nope"), nil, []byte("x")); ok || err != nil {
		t.Fatalf("CAS absent = %v %v", ok, err)
	}
	if got, _, _ := m.Load(k); string(got) != "uno" {
		t.Fatalf("after CAS: %q", got)
	}

	// Swap: absent inserts, present returns the previous value.
	if prev, loaded, err := m.Swap([]byte("sw"), []byte("1")); loaded || prev != nil || err != nil {
		t.Fatalf("Swap absent = %q %v %v", prev, loaded, err)
	}
	long := bytes.Repeat([]byte("z"), 1000) // larger than the first buffer
	if prev, loaded, err := m.Swap([]byte("sw"), long); !loaded || string(prev) != "1" || err != nil {
		t.Fatalf("Swap = %q %v %v", prev, loaded, err)
	}
	if prev, loaded, err := m.Swap([]byte("sw"), []byte("2")); !loaded || !bytes.Equal(prev, long) || err != nil {
		t.Fatalf("Swap long previous = %d bytes %v %v", len(prev), loaded, err)
	}
	if deleted, err := m.Delete([]byte("sw")); !deleted || err != nil {
		t.Fatalf("Delete after Swap = %v %v", deleted, err)
	}

	// CompareAndDelete: mismatch keeps, absent, match removes.
	if err := m.Store([]byte("cad"), []byte("x")); err != nil {
		t.Fatal(err)
	}
	if ok, err := m.CompareAndDelete([]byte("cad"), []byte("y")); ok || err != nil {
		t.Fatalf("CompareAndDelete mismatch = %v %v", ok, err)
	}
	if ok, err := m.CompareAndDelete([]byte("nope"), []byte("x")); ok || err != nil {
		t.Fatalf("CompareAndDelete absent = %v %v", ok, err)
	}
	if ok, err := m.CompareAndDeleteString("cad", []byte("x")); !ok || err != nil {
		t.Fatalf("CompareAndDelete match = %v %v", ok, err)
	}
	if _, ok, _ := m.Load([]byte("cad")); ok {
		t.Fatal("CompareAndDelete left the key")
	}

	// Len, Delete, LoadAndDelete.
	if n := must[int](t)(m.Len()); n != 3 {
		t.Fatalf("Len = %d", n)
	}
	if deleted, err := m.Delete([]byte("beta")); !deleted || err != nil {
		t.Fatalf("Delete = %v %v", deleted, err)
	}
	if deleted, err := m.Delete([]byte("beta")); deleted || err != nil {
		t.Fatalf("Delete absent = %v %v", deleted, err)
	}
	if v, loaded, err := m.LoadAndDelete(k); !loaded || err != nil || string(v) != "uno" {
		t.Fatalf("LoadAndDelete = %q %v %v", v, loaded, err)
	}
	if v, loaded, err := m.LoadAndDelete(k); loaded || err != nil || v != nil {
		t.Fatalf("LoadAndDelete absent = %q %v %v", v, loaded, err)
	}

	// Add: absent counts as 0; wraps; a non-counter is an error and unchanged.
	if n, err := m.Add([]byte("ctr"), 5); n != 5 || err != nil {
		t.Fatalf("Add = %d %v", n, err)
	}
	if n, err := m.Add([]byte("ctr"), -7); n != -2 || err != nil {
		t.Fatalf("Add = %d %v", n, err)
	}
	if got, _, _ := m.Load([]byte("ctr")); !bytes.Equal(got, le64(-2)) {
		t.Fatalf("counter bytes %x", got)
	}
	noErr(t, m.Store([]byte("max"), le64(1<<63-1)))
	if n, err := m.Add([]byte("max"), 1); n != -1<<63 || err != nil {
		t.Fatalf("Add wrap = %d %v", n, err)
	}
	_, err = m.Add([]byte("gamma"), 1)
	wantErr(t, err, ErrNotACounter)
	if got, _, _ := m.Load([]byte("gamma")); string(got) != "three" {
		t.Fatalf("failed Add changed the value: %q", got)
	}

	// Empty values are values.
	noErr(t, m.Store([]byte("empty"), nil))
	if got, ok, err := m.Load([]byte("empty")); !ok || err != nil || got == nil || len(got) != 0 {
		t.Fatalf("empty value: %q %v %v", got, ok, err)
	}

	noErr(t, m.Clear())
	if n := must[int](t)(m.Len()); n != 0 {
		t.Fatalf("Len after Clear = %d", n)
	}
}

func TestStringKeys(t *testing.T) {
	m := openMap(t, Config{})
	key := strings.Repeat("k", 3)
	noErr(t, m.StoreString(key, []byte("v1")))
	if v, ok, err := m.LoadString(key); !ok || err != nil || string(v) != "v1" {
		t.Fatalf("LoadString = %q %v %v", v, ok, err)
	}
	dst := make([]byte, 4)
	if n, ok, err := m.LoadIntoString(key, dst); n != 2 || !ok || err != nil {
		t.Fatalf("LoadIntoString = %d %v %v", n, ok, err)
	}
	if v, loaded, err := m.LoadOrStoreString(key, []byte("v2")); !loaded || err != nil || string(v) != "v1" {
		t.Fatalf("LoadOrStoreString = %q %v %v", v, loaded, err)
	}
	if ok, err := m.CompareAndSwapString(key, []byte("v1"), []byte("v3")); !ok || err != nil {
		t.Fatalf("CompareAndSwapString = %v %v", ok, err)
	}
	if v, loaded, err := m.LoadAndDeleteString(key); !loaded || err != nil || string(v) != "v3" {
		t.Fatalf("LoadAndDeleteString = %q %v %v", v, loaded, err)
	}
	if n, err := m.AddString("hits", 2); n != 2 || err != nil {
		t.Fatalf("AddString = %d %v", n, err)
	}
	if deleted, err := m.DeleteString("hits"); !deleted || err != nil {
		t.Fatalf("DeleteString = %v %v", deleted, err)
	}
	// A constant string (read-only memory) works as a key too.
	noErr(t, m.StoreString("constant", []byte("c")))
	if v, ok, _ := m.LoadString("constant"); !ok || string(v) != "c" {
		t.Fatal("constant key")
	}
}

func TestLargeValues(t *testing.T) {
	m := openMap(t, Config{})
	big := bytes.Repeat([]byte("0123456789"), 1000) // larger than Load's stack buffer
	noErr(t, m.Store([]byte("big"), big))
	if v, ok, err := m.Load([]byte("big")); !ok || err != nil || !bytes.Equal(v, big) {
		t.Fatalf("Load big: %d bytes %v %v", len(v), ok, err)
	}
	if v, loaded, err := m.LoadOrStore([]byte("big"), []byte("small")); !loaded || err != nil || !bytes.Equal(v, big) {
		t.Fatalf("LoadOrStore big: %d %v %v", len(v), loaded, err)
	}
	if v, loaded, err := m.LoadAndDelete([]byte("big")); !loaded || err != nil || !bytes.Equal(v, big) {
		t.Fatalf("LoadAndDelete big: %d %v %v", len(v), loaded, err)
	}
	if _, ok, _ := m.Load([]byte("big")); ok {
		t.Fatal("LoadAndDelete left the key")
	}
}

func TestErrors(t *testing.T) {
	m := openMap(t, Config{MaxKeyLen: 8, MaxValueLen: 16, MemoryLimit: 4096})
	long := []byte("123456789")
	wantErr(t, m.Store(long, nil), ErrKeyTooLarge)
	_, _, err := m.Load(long)
	wantErr(t, err, ErrKeyTooLarge)
	_, _, err = m.LoadInto(long, nil)
	wantErr(t, err, ErrKeyTooLarge)
	_, err = m.Delete(long)
	wantErr(t, err, ErrKeyTooLarge)
	_, err = m.Add(long, 1)
	wantErr(t, err, ErrKeyTooLarge)
	wantErr(t, m.Store([]byte("k"), make([]byte, 17)), ErrValueTooLarge)
	_, _, err = m.LoadOrStore([]byte("k"), make([]byte, 17))
	wantErr(t, err, ErrValueTooLarge)
	_, err = m.CompareAndSwap([]byte("k"), nil, make([]byte, 17))
	wantErr(t, err, ErrValueTooLarge)
	if _, ok, _ := m.Load([]byte("k")); ok {
		t.Fatal("a failed store stored")
	}
	// Fill to the memory limit: ErrFull, and nothing changed by the failing store.
	var full error
	stored := 0
	for i := 0; i < 10000 && full == nil; i++ {
		full = m.Store([]byte(fmt.Sprintf("k%d", i)), make([]byte, 16))
		if full == nil {
			stored++
		}
	}
	wantErr(t, full, ErrFull)
	if n := must[int](t)(m.Len()); n != stored {
		t.Fatalf("Len %d after %d stores", n, stored)
	}
	var e *Error
	if !errors.As(full, &e) || e.Op != "Store" || e.Status != StatusFull {
		t.Fatalf("ErrFull as *Error: %#v", e)
	}

	// Bad configurations.
	_, err = Open(Config{Shards: -1})
	wantErr(t, err, ErrInvalidArgument)
	_, err = Open(Config{Shards: 1 << 33})
	wantErr(t, err, ErrInvalidArgument)
	_, err = Open(Config{MaxKeyLen: 1 << 40})
	wantErr(t, err, ErrInvalidArgument)
	_, err = Open(Config{Topology: "this is not a topology"})
	wantErr(t, err, ErrTopology)
	_, err = Open(Config{Nodes: []uint32{77}})
	if err == nil {
		t.Fatal("Open with a node that does not exist succeeded")
	}
}

func TestClosed(t *testing.T) {
	m, err := Open(Config{Shards: 2})
	noErr(t, err)
	k := []byte("k")
	noErr(t, m.Store(k, []byte("v")))
	noErr(t, m.Close())
	noErr(t, m.Close()) // idempotent
	_, _, err = m.Load(k)
	wantErr(t, err, ErrClosed)
	_, _, err = m.LoadInto(k, make([]byte, 8))
	wantErr(t, err, ErrClosed)
	_, _, err = m.AppendLoad(nil, k)
	wantErr(t, err, ErrClosed)
	wantErr(t, m.Store(k, nil), ErrClosed)
	_, err = m.StoreIfAbsent(k, nil)
	wantErr(t, err, ErrClosed)
	_, _, err = m.LoadOrStore(k, nil)
	wantErr(t, err, ErrClosed)
	_, err = m.Delete(k)
	wantErr(t, err, ErrClosed)
	_, _, err = m.LoadAndDelete(k)
	wantErr(t, err, ErrClosed)
	_, err = m.CompareAndSwap(k, nil, nil)
	wantErr(t, err, ErrClosed)
	_, err = m.CompareAndDelete(k, nil)
	wantErr(t, err, ErrClosed)
	_, _, err = m.Swap(k, nil)
	wantErr(t, err, ErrClosed)
	_, err = m.Add(k, 1)
	wantErr(t, err, ErrClosed)
	_, err = m.Len()
	wantErr(t, err, ErrClosed)
	wantErr(t, m.Clear(), ErrClosed)
	b := NewBatch(1)
	b.Get(k)
	wantErr(t, m.Run(b), ErrClosed)
	wantErr(t, b.Err(0), ErrClosed)
	_, err = m.LoadMany([][]byte{k})
	wantErr(t, err, ErrClosed)
	wantErr(t, m.Range(func(k, v []byte) bool { return true }), ErrClosed)
	for range m.All() {
		t.Fatal("All yielded on a closed map")
	}
	wantErr(t, m.ReplaceAll([]Entry{{k, k}}), ErrClosed)
	_, err = m.Stats()
	wantErr(t, err, ErrClosed)
	_, err = m.PrometheusText()
	wantErr(t, err, ErrClosed)
}

func TestBatch(t *testing.T) {
	m := openMap(t, Config{MaxKeyLen: 64})
	noErr(t, m.Store([]byte("a"), []byte("A")))
	noErr(t, m.Store([]byte("c"), []byte("C")))
	noErr(t, m.Store([]byte("t"), []byte("T")))
	noErr(t, m.Store([]byte("t2"), []byte("T2")))
	b := NewBatch(0)
	iGet := b.Get([]byte("a"))
	iMiss := b.GetString("zz")
	iPut := b.Put([]byte("b"), []byte("B"))
	iGetB := b.Get([]byte("b")) // same key after the put: sees it
	iPIA := b.PutIfAbsent([]byte("a"), []byte("no"))
	iPIA2 := b.PutIfAbsent([]byte("n"), []byte("N"))
	iCAS := b.CompareAndSwap([]byte("c"), []byte("C"), []byte("C2"))
	iCASx := b.CompareAndSwap([]byte("c"), []byte("C"), []byte("C3"))
	iTake := b.Take([]byte("t"))
	iDel := b.Delete([]byte("a"))
	iDelx := b.Delete([]byte("zz"))
	iAdd := b.Add([]byte("ctr"), 41)
	iAdd2 := b.Add([]byte("ctr"), 1)
	iBad := b.Get(make([]byte, 65))
	iNaC := b.Add([]byte("b"), 1)
	iCAD := b.CompareAndDelete([]byte("t2"), []byte("T2"))
	iCADx := b.CompareAndDelete([]byte("c"), []byte("C"))
	iSwap := b.Swap([]byte("a2"), []byte("A2"))
	iSwap2 := b.Swap([]byte("a2"), []byte("A3"))
	if b.Len() != 19 {
		t.Fatalf("Len %d", b.Len())
	}
	noErr(t, m.Run(b))
	val := func(i int) string {
		v, ok := b.Value(i)
		if !ok {
			return "<none>"
		}
		return string(v)
	}
	checks := []struct {
		i      int
		status Status
		value  string
	}{
		{iGet, StatusOK, "A"}, {iMiss, StatusNotFound, "<none>"}, {iPut, StatusOK, "<none>"},
		{iGetB, StatusOK, "B"}, {iPIA, StatusExists, "<none>"}, {iPIA2, StatusOK, "<none>"},
		{iCAS, StatusOK, "<none>"}, {iCASx, StatusMismatch, "<none>"}, {iTake, StatusOK, "T"},
		{iDel, StatusOK, "<none>"}, {iDelx, StatusNotFound, "<none>"}, {iAdd, StatusOK, "<none>"},
		{iAdd2, StatusOK, "<none>"}, {iBad, StatusKeyTooLarge, "<none>"}, {iNaC, StatusNotACounter, "<none>"},
		{iCAD, StatusOK, "<none>"}, {iCADx, StatusMismatch, "<none>"},
		{iSwap, StatusNotFound, "<none>"}, {iSwap2, StatusOK, "A2"},
	}
	for _, c := range checks {
		if b.Status(c.i) != c.status || val(c.i) != c.value {
			t.Errorf("op %d: status %v value %q, want %v %q", c.i, b.Status(c.i), val(c.i), c.status, c.value)
		}
		if (b.Err(c.i) != nil) != (c.status >= StatusInvalidArgument) || b.OK(c.i) != (c.status == StatusOK) {
			t.Errorf("op %d: Err %v OK %v for %v", c.i, b.Err(c.i), b.OK(c.i), c.status)
		}
	}
	wantErr(t, b.Err(iBad), ErrKeyTooLarge)
	wantErr(t, b.Err(iNaC), ErrNotACounter)
	if b.Counter(iAdd) != 41 || b.Counter(iAdd2) != 42 {
		t.Errorf("counters %d %d", b.Counter(iAdd), b.Counter(iAdd2))
	}
	if v, _, _ := m.Load([]byte("c")); string(v) != "C2" {
		t.Errorf("c = %q", v)
	}
	if _, ok, _ := m.Load([]byte("t")); ok {
		t.Error("take left t")
	}
	if _, ok, _ := m.Load([]byte("t2")); ok {
		t.Error("CompareAndDelete left t2")
	}

	// Values larger than the reserved room are fetched again, transparently.
	big := bytes.Repeat([]byte{7}, 1000)
	noErr(t, m.Store([]byte("big"), big))
	b.Reset()
	b.ValueSizeHint = 4
	i1 := b.Get([]byte("big"))
	i2 := b.Get([]byte("b"))
	i3 := b.Take([]byte("big"))
	noErr(t, m.Run(b))
	if v, ok := b.Value(i1); !ok || !bytes.Equal(v, big) {
		t.Fatalf("big get: %d bytes", len(v))
	}
	if v, ok := b.Value(i2); !ok || string(v) != "B" {
		t.Fatalf("small get after retry: %q", v)
	}
	if v, ok := b.Value(i3); !ok || !bytes.Equal(v, big) {
		t.Fatalf("big take: %d bytes", len(v))
	}
	if b.ValueSizeHint != 1000 { // the largest value seen (below maxAutoRoom)
		t.Fatalf("hint %d", b.ValueSizeHint)
	}
	b.Reset()
	noErr(t, m.Run(b)) // empty batch

	// LoadMany.
	vals, err := m.LoadMany([][]byte{[]byte("b"), []byte("missing"), []byte("n")})
	noErr(t, err)
	if string(vals[0]) != "B" || vals[1] != nil || string(vals[2]) != "N" {
		t.Fatalf("LoadMany = %q", vals)
	}
	_, err = m.LoadMany([][]byte{make([]byte, 65)})
	wantErr(t, err, ErrKeyTooLarge)
}

func TestRangeAndAll(t *testing.T) {
	m := openMap(t, Config{})
	want := map[string]string{}
	for i := 0; i < 5000; i++ {
		k, v := fmt.Sprintf("key-%d", i), fmt.Sprintf("value-%d", i*i)
		want[k] = v
		noErr(t, m.StoreString(k, []byte(v)))
	}
	got := map[string]string{}
	noErr(t, m.Range(func(k, v []byte) bool {
		if _, dup := got[string(k)]; dup {
			t.Fatalf("key %q seen twice", k)
		}
		got[string(k)] = string(v)
		return true
	}))
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("Range saw %d entries, want %d", len(got), len(want))
	}
	n := 0
	noErr(t, m.Range(func(k, v []byte) bool { n++; return n < 10 }))
	if n != 10 {
		t.Fatalf("Range did not stop: %d", n)
	}
	n = 0
	for k, v := range m.All() {
		if want[string(k)] != string(v) {
			t.Fatalf("All: %q=%q", k, v)
		}
		n++
	}
	if n != len(want) {
		t.Fatalf("All saw %d", n)
	}
	n = 0
	for range m.All() {
		n++
		if n == 3 {
			break
		}
	}
	empty := openMap(t, Config{})
	for range empty.All() {
		t.Fatal("empty map yielded")
	}
}

// TestRangeAcrossChunks: Range and All read entries rangeBufSize bytes at a
// time; entries that straddle those chunks, values larger than the buffer
// (which grow it, once and then again), empty keys and values must all come
// through exactly once and intact, with slices an append cannot clobber.
func TestRangeAcrossChunks(t *testing.T) {
	m := openMap(t, Config{Shards: 2, MaxValueLen: 1 << 20})
	value := func(i, n int) []byte {
		v := make([]byte, n)
		for j := range v {
			v[j] = byte(i*7 + j*13)
		}
		return v
	}
	want := map[string][]byte{"": nil}
	noErr(t, m.Store(nil, nil))
	// ~600 KiB of small entries of sizes that do not divide the buffer.
	for i := 0; i < 3000; i++ {
		k := fmt.Sprintf("small-%d", i)
		want[k] = value(i, 1+(i*37)%400)
	}
	// Larger than the buffer: 64 KiB (with the 8-byte header, 8 bytes too
	// many), then up to 4 times it.
	for i, n := range []int{rangeBufSize, rangeBufSize + 1, 100 << 10, 130 << 10, 200 << 10, rangeBufSize * 4} {
		want[fmt.Sprintf("large-%d", i)] = value(i, n)
	}
	for k, v := range want {
		if k != "" {
			noErr(t, m.StoreString(k, v))
		}
	}
	check := func(name string, seq func(yield func(k, v []byte) bool)) {
		t.Helper()
		seen := map[string]int{}
		seq(func(k, v []byte) bool {
			if cap(k) != len(k) || cap(v) != len(v) {
				t.Fatalf("%s: key %q: capacities %d/%d beyond lengths %d/%d", name, k, cap(k), cap(v), len(k), len(v))
			}
			seen[string(k)]++
			if w, ok := want[string(k)]; !ok || !bytes.Equal(v, w) {
				t.Fatalf("%s: key %q has %d bytes, want %d (known: %v)", name, k, len(v), len(w), ok)
			}
			// An append to the key must copy, not overwrite the value.
			before := bytes.Clone(v)
			_ = append(k, 0xFF, 0xFF, 0xFF, 0xFF)
			if !bytes.Equal(v, before) {
				t.Fatalf("%s: appending to key %q changed its value", name, k)
			}
			return true
		})
		if len(seen) != len(want) {
			t.Fatalf("%s saw %d keys, want %d", name, len(seen), len(want))
		}
		for k, n := range seen {
			if n != 1 {
				t.Fatalf("%s saw %q %d times", name, k, n)
			}
		}
	}
	for pass := 0; pass < 2; pass++ { // the second pass reuses the pooled buffer
		check("Range", func(yield func(k, v []byte) bool) { noErr(t, m.Range(yield)) })
		check("All", m.All())
	}
	// Stopping in the middle of a chunk, then a fresh pass, still works.
	n := 0
	noErr(t, m.Range(func(k, v []byte) bool { n++; return n < 1000 }))
	if n != 1000 {
		t.Fatalf("Range did not stop: %d", n)
	}
	check("Range after a stop", func(yield func(k, v []byte) bool) { noErr(t, m.Range(yield)) })
	// Closed mid-iteration: the rest of what was fetched, then ErrClosed.
	seen := 0
	err := m.Range(func(k, v []byte) bool {
		if seen++; seen == 10 {
			m.Close()
		}
		return true
	})
	wantErr(t, err, ErrClosed)
	if seen < 10 || seen >= len(want) {
		t.Fatalf("Range after close saw %d of %d entries", seen, len(want))
	}
}

func TestReplaceAll(t *testing.T) {
	m := openMap(t, Config{MaxKeyLen: 16, MaxValueLen: 16})
	noErr(t, m.StoreString("old", []byte("1")))
	noErr(t, m.ReplaceAll([]Entry{{[]byte("a"), []byte("1")}, {[]byte("b"), []byte("2")}, {[]byte("a"), []byte("3")}}))
	if n, _ := m.Len(); n != 2 {
		t.Fatalf("Len %d", n)
	}
	if v, _, _ := m.LoadString("a"); string(v) != "3" {
		t.Fatalf("later duplicate must win: %q", v)
	}
	if _, ok, _ := m.LoadString("old"); ok {
		t.Fatal("old entry survived")
	}
	// A failing reload changes nothing.
	wantErr(t, m.ReplaceAll([]Entry{{[]byte("x"), nil}, {make([]byte, 17), nil}}), ErrKeyTooLarge)
	wantErr(t, m.ReplaceAll([]Entry{{[]byte("x"), make([]byte, 17)}}), ErrValueTooLarge)
	if n, _ := m.Len(); n != 2 {
		t.Fatalf("failed ReplaceAll changed the map: Len %d", n)
	}
	// From an iterator, reusing its buffers.
	seq := func(yield func(k, v []byte) bool) {
		k, v := make([]byte, 2), make([]byte, 1)
		for i := 0; i < 100; i++ {
			k[0], k[1], v[0] = 'k', byte(i), byte(i)
			if !yield(k, v) {
				return
			}
		}
	}
	noErr(t, m.ReplaceAllSeq(seq))
	if n, _ := m.Len(); n != 100 {
		t.Fatalf("Len %d", n)
	}
	if v, _, _ := m.Load([]byte{'k', 42}); !bytes.Equal(v, []byte{42}) {
		t.Fatalf("k42 = %v", v)
	}
	noErr(t, m.ReplaceAll(nil))
	if n, _ := m.Len(); n != 0 {
		t.Fatalf("Len after empty reload %d", n)
	}
	lim := openMap(t, Config{MemoryLimit: 2048})
	many := make([]Entry, 1000)
	for i := range many {
		many[i] = Entry{[]byte(fmt.Sprint(i)), make([]byte, 16)}
	}
	wantErr(t, lim.ReplaceAll(many), ErrFull)
}

func TestStats(t *testing.T) {
	// A synthetic two-node topology: placement is computed for it, and the
	// map says binding was not applied (it is not this machine).
	m := openMap(t, Config{Topology: "pack:2 [numa] core:2 pu:1", Shards: 4})
	for i := 0; i < 1000; i++ {
		noErr(t, m.StoreString(fmt.Sprint(i), []byte("v")))
	}
	st, err := m.Stats()
	noErr(t, err)
	if st.Shards != 4 || len(st.PerShard) != 4 || st.Entries != 1000 || st.BindingApplied {
		t.Fatalf("stats %+v", st)
	}
	nodes := map[uint32]int{}
	var entries uint64
	for i, s := range st.PerShard {
		if s.Shard != uint32(i) || s.BindingApplied {
			t.Fatalf("shard %d: %+v", i, s)
		}
		nodes[s.Node]++
		entries += s.Entries
	}
	if len(nodes) != 2 || entries != 1000 {
		t.Fatalf("placement over nodes %v, entries %d", nodes, entries)
	}
	// 250 entries a shard doubled every index at least twice: the holds of
	// the lock were measured, and the index is big enough for them.
	for i, s := range st.PerShard {
		if s.GrowHoldMax <= 0 || s.IndexSlots*4 < s.Entries*5 {
			t.Fatalf("shard %d: GrowHoldMax %v, IndexSlots %d for %d entries", i, s.GrowHoldMax, s.IndexSlots, s.Entries)
		}
	}
	txt, err := m.PrometheusText()
	noErr(t, err)
	if !strings.Contains(txt, "numashard_") || strings.Contains(txt, "\x00") {
		t.Fatalf("prometheus text:\n%s", txt)
	}
	noErr(t, m.ReplaceAll([]Entry{{[]byte("a"), nil}}))
	if st, _ := m.Stats(); st.ReplaceCount != 1 {
		t.Fatalf("ReplaceCount %d", st.ReplaceCount)
	}

	// On the real machine the map reports what it could apply.
	real := openMap(t, Config{Shards: 2})
	st, err = real.Stats()
	noErr(t, err)
	t.Logf("real machine: binding applied %v, shards %+v", st.BindingApplied, st.PerShard)
}

// indexSlots reads every shard's numashard_shard_index_slots from the
// Prometheus text (the C stats struct predates it).
func indexSlots(t *testing.T, m *Map) []uint64 {
	t.Helper()
	txt, err := m.PrometheusText()
	noErr(t, err)
	var out []uint64
	for _, line := range strings.Split(txt, "\n") {
		if rest, ok := strings.CutPrefix(line, "numashard_shard_index_slots{"); ok {
			var n uint64
			if _, err := fmt.Sscan(rest[strings.IndexByte(rest, '}')+1:], &n); err != nil {
				t.Fatalf("%q: %v", line, err)
			}
			out = append(out, n)
		}
	}
	if len(out) == 0 {
		t.Fatalf("no index_slots in:\n%s", txt)
	}
	return out
}

func TestInitialCapacity(t *testing.T) {
	const n = 50_000
	m := openMap(t, Config{Shards: 2, InitialCapacity: n})
	atOpen := indexSlots(t, m)
	for _, s := range atOpen {
		if s*4 < n/2*5 {
			t.Fatalf("index slots at Open %v: no room for a share of %d", atOpen, n)
		}
	}
	for i := 0; i < n; i++ {
		noErr(t, m.StoreString(fmt.Sprint(i), []byte("v")))
	}
	if got := indexSlots(t, m); fmt.Sprint(got) != fmt.Sprint(atOpen) {
		t.Fatalf("an index doubled below the initial capacity: %v -> %v", atOpen, got)
	}
	st, err := m.Stats()
	noErr(t, err)
	for i, sh := range st.PerShard {
		if sh.IndexSlots != atOpen[i] || sh.PagesMoved != 0 {
			t.Fatalf("shard %d: IndexSlots %d (Prometheus %d), PagesMoved %d", i, sh.IndexSlots, atOpen[i], sh.PagesMoved)
		}
	}
	noErr(t, m.Clear())
	if got := indexSlots(t, m); fmt.Sprint(got) != fmt.Sprint(atOpen) {
		t.Fatalf("Clear: %v, want the initial %v", got, atOpen)
	}
	// Without a hint an index starts small.
	for _, s := range indexSlots(t, openMap(t, Config{Shards: 2})) {
		if s > 64 {
			t.Fatalf("unhinted index of %d slots", s)
		}
	}
	for _, c := range []int{-1, 1<<40 + 1} {
		if _, err := Open(Config{Shards: 1, InitialCapacity: c}); !errors.Is(err, ErrInvalidArgument) {
			t.Fatalf("InitialCapacity %d: %v", c, err)
		}
	}
}

// A map whose small entries are placed by hash reads back what it stored,
// through direct reads and cgo alike, past its capacity and after deletes
// and a Clear; the option needs a capacity and no memory limit.
func TestPlaceRecordsByHash(t *testing.T) {
	placed := openMap(t, Config{Shards: 2, InitialCapacity: 4096, PlaceRecordsByHash: true})
	viaCgo := openMap(t, Config{Shards: 2, InitialCapacity: 4096, PlaceRecordsByHash: true, NoDirectReads: true})
	plain := openMap(t, Config{Shards: 2, InitialCapacity: 4096})
	key := func(i int) []byte { return binary.LittleEndian.AppendUint64([]byte("placed-k"), uint64(i)) }
	val := func(i int) []byte { return bytes.Repeat([]byte{byte(i)}, i%61) } // a line for most, two for some
	const n = 10_000
	for _, m := range []*Map{placed, viaCgo} {
		for i := 0; i < n; i++ {
			noErr(t, m.Store(key(i), val(i)))
		}
		for i := 0; i < n; i += 3 {
			if _, err := m.Delete(key(i)); err != nil {
				t.Fatal(err)
			}
		}
		for i := 0; i < n+10; i++ {
			v, ok, err := m.Load(key(i))
			noErr(t, err)
			if want := i < n && i%3 != 0; ok != want || (ok && !bytes.Equal(v, val(i))) {
				t.Fatalf("key %d: %v %q, want %v %q", i, ok, v, want, val(i))
			}
		}
		if l, _ := m.Len(); l != n-(n+2)/3 {
			t.Fatalf("Len %d", l)
		}
	}
	sp, err := placed.Stats()
	noErr(t, err)
	s0, err := plain.Stats()
	noErr(t, err)
	// 2 shards of 2^11 lines of 64 bytes, mapped at Open.
	if sp.MappedBytes < s0.MappedBytes+2<<11*64 {
		t.Fatalf("mapped %d bytes, the plain map %d: the lines are not counted", sp.MappedBytes, s0.MappedBytes)
	}
	noErr(t, placed.Clear())
	noErr(t, placed.Store(key(1), val(1)))
	if v, ok, _ := placed.Load(key(1)); !ok || !bytes.Equal(v, val(1)) {
		t.Fatalf("after Clear: %v %q", ok, v)
	}
	for _, c := range []Config{{PlaceRecordsByHash: true}, {PlaceRecordsByHash: true, InitialCapacity: 100, MemoryLimit: 1 << 30}} {
		if _, err := Open(c); !errors.Is(err, ErrInvalidArgument) {
			t.Fatalf("Open(%+v): %v, want ErrInvalidArgument", c, err)
		}
	}
}

func TestConfigKnobs(t *testing.T) {
	for _, cfg := range []Config{
		{Shards: 3, HashSeed: 42, WorkerSpin: -1, Delegate: true, BatchDelegateMin: -1},
		{Topology: "pack:2 [numa] core:2 pu:1", ShardsPerNode: []uint32{1, 2}, Nodes: []uint32{0, 1}, WorkerSpin: 50_000},
		{Shards: 1, BatchDelegateMin: 1},
	} {
		m := openMap(t, cfg)
		b := NewBatch(32)
		for i := 0; i < 32; i++ {
			b.Put([]byte{byte(i)}, []byte{byte(i)})
		}
		noErr(t, m.Run(b))
		for i := 0; i < 32; i++ {
			if v, ok, err := m.Load([]byte{byte(i)}); !ok || err != nil || v[0] != byte(i) {
				t.Fatalf("%+v: key %d", cfg, i)
			}
		}
		if cfg.ShardsPerNode != nil {
			if st, _ := m.Stats(); st.Shards != 3 {
				t.Fatalf("ShardsPerNode gave %d shards", st.Shards)
			}
		}
	}
}
