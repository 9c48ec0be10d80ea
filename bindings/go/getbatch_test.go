//go:build linux && cgo

package numashard

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
)

// TestGetBatch checks RunGets against single loads: hits, misses, empty
// values and keys, values larger than the reserved room (re-read, also
// mixed with ones that fit), too large keys, reuse, and a closed map.
func TestGetBatch(t *testing.T) {
	m := openMap(t, Config{Shards: 3})
	want := map[string][]byte{}
	for i := range 300 {
		k := fmt.Sprintf("key-%d", i)
		v := bytes.Repeat([]byte{byte(i)}, i%70) // some beyond the 64-byte default room
		noErr(t, m.StoreString(k, v))
		want[k] = v
	}
	noErr(t, m.StoreString("", []byte("empty key")))
	want[""] = []byte("empty key")
	big := bytes.Repeat([]byte("L"), 5000)
	noErr(t, m.StoreString("big", big))
	want["big"] = big

	g := NewGetBatch(4)
	for round := range 3 {
		g.Reset()
		var keys []string
		for i := round; i < 300; i += 3 {
			keys = append(keys, fmt.Sprintf("key-%d", i), fmt.Sprintf("absent-%d", i))
		}
		keys = append(keys, "", "big", "key-1")
		for j, k := range keys {
			if got := g.GetString(k); got != j {
				t.Fatalf("GetString returned index %d, want %d", got, j)
			}
		}
		if g.Len() != len(keys) {
			t.Fatalf("Len %d, want %d", g.Len(), len(keys))
		}
		noErr(t, m.RunGets(g))
		for j, k := range keys {
			v, ok := g.Value(j)
			w, present := want[k]
			if ok != present || g.OK(j) != present || !bytes.Equal(v, w) || g.Err(j) != nil {
				t.Fatalf("round %d, key %q: Value %q %v (status %v), want %q %v", round, k, v, ok, g.Status(j), w, present)
			}
			if !present && g.Status(j) != StatusNotFound {
				t.Fatalf("key %q: status %v", k, g.Status(j))
			}
			if ok && len(v) == 0 && v == nil {
				t.Fatalf("key %q: a present empty value must be non-nil", k)
			}
		}
		// The room grew to the largest value seen, within autoRoom.
		if want := min(len(big), autoRoom(len(keys))); g.ValueSizeHint != want {
			t.Fatalf("ValueSizeHint %d after a %d-byte value, want %d", g.ValueSizeHint, len(big), want)
		}
	}

	// A too large key fails alone.
	g.Reset()
	g.GetString("key-5")
	g.GetString(strings.Repeat("k", 5000))
	g.GetString("key-6")
	noErr(t, m.RunGets(g))
	if !g.OK(0) || !g.OK(2) || g.Status(1) != StatusKeyTooLarge {
		t.Fatalf("statuses %v %v %v", g.Status(0), g.Status(1), g.Status(2))
	}
	wantErr(t, g.Err(1), ErrKeyTooLarge)
	if v, ok := g.Value(1); ok || v != nil {
		t.Fatalf("too large key: Value %q %v", v, ok)
	}
	// An empty batch is a no-op, also on a closed map.
	g.Reset()
	noErr(t, m.RunGets(g))

	noErr(t, m.Close())
	g.GetString("key-5")
	wantErr(t, m.RunGets(g), ErrClosed)
	if g.Status(0) != StatusClosed || g.OK(0) {
		t.Fatalf("closed map: status %v", g.Status(0))
	}
	wantErr(t, g.Err(0), ErrClosed)
}

// TestGetBatchStats checks that every get of a batch counts once in the
// map's hit and miss counters, a re-read of a value too large for its
// room included; and a single load whose first buffer was too small, too.
func TestGetBatchStats(t *testing.T) {
	m := openMap(t, Config{Shards: 2, RecordStats: true})
	noErr(t, m.StoreString("small", []byte("v")))
	noErr(t, m.StoreString("large", bytes.Repeat([]byte("x"), 1000)))
	counts := func() (uint64, uint64) {
		st, err := m.Stats()
		noErr(t, err)
		return st.Hits, st.Misses
	}
	h0, m0 := counts()
	g := NewGetBatch(3)
	g.GetString("small")
	g.GetString("large") // beyond the 64-byte room: re-read on its own
	g.GetString("absent")
	noErr(t, m.RunGets(g))
	if v, ok := g.Value(1); !ok || len(v) != 1000 {
		t.Fatalf("large value: %d bytes, %v", len(v), ok)
	}
	if h, ms := counts(); h-h0 != 2 || ms-m0 != 1 {
		t.Fatalf("a batch of 2 hits and 1 miss counted %d hits, %d misses", h-h0, ms-m0)
	}
	// The copying Load reads on its stack first (256 bytes): the 1000-byte
	// value is read twice, counted once. So are LoadInto's too-small tries
	// (nothing read) and AppendLoad's grown retry.
	h0, m0 = counts()
	if v, ok, err := m.LoadString("large"); err != nil || !ok || len(v) != 1000 {
		t.Fatalf("Load: %d bytes, %v, %v", len(v), ok, err)
	}
	if n, ok, err := m.LoadIntoString("large", make([]byte, 10)); n != 1000 || !ok || err == nil {
		t.Fatalf("LoadInto into 10 bytes: %d, %v, %v", n, ok, err)
	}
	if v, ok, err := m.AppendLoad(make([]byte, 0, 8), []byte("large")); err != nil || !ok || len(v) != 1000 {
		t.Fatalf("AppendLoad: %d bytes, %v, %v", len(v), ok, err)
	}
	if h, ms := counts(); h-h0 != 2 || ms != m0 {
		t.Fatalf("Load and AppendLoad of a large value, and a too-small LoadInto, counted %d hits, %d misses; want 2, 0", h-h0, ms-m0)
	}
	// A batch's too-small get, re-run by the binding, counts once too.
	h0, _ = counts()
	b := NewBatch(1)
	b.GetString("large")
	b.GetString("small")
	noErr(t, m.Run(b))
	if v, ok := b.Value(0); !ok || len(v) != 1000 {
		t.Fatalf("Batch: large value %d bytes, %v", len(v), ok)
	}
	if h, _ := counts(); h-h0 != 2 {
		t.Fatalf("a Batch with one re-run get counted %d hits, want 2", h-h0)
	}
}

// TestGetBatchUnderWrites: while writers overwrite keys with values of one
// repeated byte and changing length (some beyond the 64-byte room, so the
// re-read path runs too), every value a GetBatch returns is whole: one
// byte repeated, of a length some writer stored.
func TestGetBatchUnderWrites(t *testing.T) {
	m := openMap(t, Config{Shards: 2})
	const keys = 64
	value := func(w, i int) []byte { return bytes.Repeat([]byte{byte(w*31 + i)}, 1+(w*7+i)%100) }
	for k := range keys {
		noErr(t, m.StoreString(fmt.Sprint(k), value(0, k)))
	}
	stop := make(chan struct{})
	done := make(chan struct{})
	for w := 1; w <= 2; w++ {
		go func(w int) {
			defer func() { done <- struct{}{} }()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				if err := m.StoreString(fmt.Sprint(i%keys), value(w, i)); err != nil {
					t.Error(err)
					return
				}
			}
		}(w)
	}
	g := NewGetBatch(keys)
	for round := 0; round < scale(300); round++ {
		g.Reset()
		for k := range keys {
			g.GetString(fmt.Sprint((k * 7) % keys))
		}
		noErr(t, m.RunGets(g))
		for i := range keys {
			v, ok := g.Value(i)
			if !ok || len(v) == 0 || len(v) > 100 || !bytes.Equal(v, bytes.Repeat(v[:1], len(v))) {
				t.Fatalf("round %d, get %d: torn or missing value %v (%v)", round, i, v, ok)
			}
		}
	}
	close(stop)
	<-done
	<-done
}

// TestBatchRoomBounded: a large value among small ones grows the room a
// GetBatch or Batch reserves per key only up to autoRoom, so later runs
// of the same batch, and the pooled batches of LoadMany and the typed
// LoadMany, reserve at most about autoRoomBudget; the large value is still
// read whole, on its own. A ValueSizeHint the caller sets is kept.
func TestBatchRoomBounded(t *testing.T) {
	m := openMap(t, Config{Shards: 2, MaxValueLen: 2 << 20})
	huge := bytes.Repeat([]byte("h"), 1<<20)
	noErr(t, m.StoreString("huge", huge))
	const n = 300
	for i := range n {
		noErr(t, m.StoreString(fmt.Sprint(i), []byte("small")))
	}
	g := NewGetBatch(n + 1)
	b := NewBatch(n + 1)
	for round := range 2 {
		g.Reset()
		b.Reset()
		g.GetString("huge")
		b.GetString("huge")
		for i := range n {
			g.GetString(fmt.Sprint(i))
			b.GetString(fmt.Sprint(i))
		}
		noErr(t, m.RunGets(g))
		noErr(t, m.Run(b))
		if v, ok := g.Value(0); !ok || !bytes.Equal(v, huge) {
			t.Fatalf("round %d: GetBatch read %d bytes of the huge value", round, len(v))
		}
		if v, ok := b.Value(0); !ok || !bytes.Equal(v, huge) {
			t.Fatalf("round %d: Batch read %d bytes of the huge value", round, len(v))
		}
		if v, ok := g.Value(n); !ok || string(v) != "small" {
			t.Fatalf("round %d: GetBatch small value %q", round, v)
		}
		if room := autoRoom(n + 1); g.ValueSizeHint != room || b.ValueSizeHint != room || room >= len(huge) {
			t.Fatalf("round %d: room per key %d (GetBatch) and %d (Batch), want %d", round, g.ValueSizeHint, b.ValueSizeHint, room)
		}
		if round == 1 && (cap(g.out) > autoRoomBudget || len(b.out) > autoRoomBudget+len(huge)) {
			t.Fatalf("room for values: %d bytes (GetBatch), %d (Batch) for %d keys", cap(g.out), len(b.out), n+1)
		}
	}
	// The pooled batches behind LoadMany stay bounded too.
	keys := [][]byte{[]byte("huge")}
	for i := range n {
		keys = append(keys, []byte(fmt.Sprint(i)))
	}
	for range 3 {
		vs, err := m.LoadMany(keys)
		noErr(t, err)
		if !bytes.Equal(vs[0], huge) || string(vs[n]) != "small" {
			t.Fatalf("LoadMany: %d bytes, %q", len(vs[0]), vs[n])
		}
	}
	if p, ok := getBatchPool.Get().(*GetBatch); ok {
		if p.ValueSizeHint > autoRoom(n+1) || cap(p.out)+cap(p.over) > pooledBatchKeep {
			t.Fatalf("a pooled GetBatch kept room %d per key, %d bytes", p.ValueSizeHint, cap(p.out)+cap(p.over))
		}
		getBatchPool.Put(p)
	}
	// A hint the caller sets is theirs.
	g.Reset()
	g.ValueSizeHint = 2 << 20
	g.GetString("huge")
	noErr(t, m.RunGets(g))
	if v, ok := g.Value(0); !ok || !bytes.Equal(v, huge) || g.ValueSizeHint != 2<<20 {
		t.Fatalf("set hint: %d bytes, hint %d", len(v), g.ValueSizeHint)
	}
}

// TestBatchOfGetsOnly checks a Batch of gets only, which Run hands to
// ns_get_many (runGets), against the same gets with one delete of an absent
// key added (which makes Run use ns_batch) and against a GetBatch: hits,
// misses, empty keys and values, values beyond the room (read again), too
// large keys, reuse, and a closed map.
func TestBatchOfGetsOnly(t *testing.T) {
	m := openMap(t, Config{Shards: 3})
	for i := range 200 {
		noErr(t, m.StoreString(fmt.Sprintf("k%d", i), bytes.Repeat([]byte{byte(i)}, i%90)))
	}
	noErr(t, m.StoreString("", []byte("empty key")))
	noErr(t, m.StoreString("huge", bytes.Repeat([]byte("H"), 9000)))
	keys := []string{"", "huge", strings.Repeat("x", 5000), "never"}
	for i := 0; i < 200; i += 3 {
		keys = append(keys, fmt.Sprintf("k%d", i), fmt.Sprintf("absent%d", i))
	}
	gets, mixed, g := &Batch{}, &Batch{}, NewGetBatch(8)
	for round := range 2 {
		gets.Reset()
		mixed.Reset()
		g.Reset()
		for _, k := range keys {
			gets.Get([]byte(k))
			mixed.Get([]byte(k))
			g.GetString(k)
		}
		mixed.Delete([]byte("not stored"))
		noErr(t, m.Run(gets))
		noErr(t, m.Run(mixed))
		noErr(t, m.RunGets(g))
		for j, k := range keys {
			v, ok := gets.Value(j)
			mv, mok := mixed.Value(j)
			gv, gok := g.Value(j)
			if gets.Status(j) != mixed.Status(j) || gets.Status(j) != g.Status(j) || ok != mok || ok != gok ||
				!bytes.Equal(v, mv) || !bytes.Equal(v, gv) {
				t.Fatalf("round %d, key %q: gets-only %v %q, mixed %v %q, GetBatch %v %q", round, k,
					gets.Status(j), v, mixed.Status(j), mv, g.Status(j), gv)
			}
			if k == "huge" && (!ok || len(v) != 9000) {
				t.Fatalf("a value beyond the room: %v, %d bytes", gets.Status(j), len(v))
			}
		}
		wantErr(t, gets.Err(2), ErrKeyTooLarge)
	}
	noErr(t, m.Close())
	wantErr(t, m.Run(gets), ErrClosed)
	if gets.Status(0) != StatusClosed {
		t.Fatalf("closed map: status %v", gets.Status(0))
	}
}
