//go:build linux && cgo

package numashard

import (
	"bytes"
	"errors"
	"testing"
	"time"
)

// TestOverlappingBuffers: a key may live in the very buffer its value is
// read into (LoadInto(buf[:16], buf), AppendLoad with the key in dst's
// spare room), which the C functions forbid (their output may overlap no
// other argument). Every such read returns the right value and leaves the
// map as it was, through the direct reader and through each of its cgo
// fallbacks, the latter with the key copied apart first (readsApart: this
// part fails without the copy in Map.read).
func TestOverlappingBuffers(t *testing.T) {
	cases := []struct {
		name  string
		cfg   Config
		ttl   time.Duration // the entry's TTL (0: none)
		vlen  int
		viaGo bool // a direct read answers (no cgo call)
	}{
		{"direct", Config{Shards: 2}, 0, 32, true},
		{"direct, staged value", Config{Shards: 2}, 0, 200, true},
		{"cgo: NoDirectReads", Config{Shards: 2, NoDirectReads: true}, 0, 32, false},
		{"direct: entry with a TTL", Config{Shards: 2}, time.Hour, 32, true},
		{"direct: cache mode", cacheConfig(), 0, 32, true},
		{"cgo: cache mode, NoDirectReads", noDirect(cacheConfig()), 0, 32, false},
		{"cgo: value beyond the stage", Config{Shards: 2}, 0, 300, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m := openMap(t, c.cfg)
			key, other, absent := patternKey(1, 16), patternKey(2, 16), patternKey(3, 16)
			val, otherVal := patternValue(key, 1, c.vlen), patternValue(other, 2, 8)
			if c.ttl > 0 {
				noErr(t, m.StoreTTL(key, val, c.ttl))
			} else {
				noErr(t, m.Store(key, val))
			}
			noErr(t, m.Store(other, otherVal))
			apart0 := readsApart.Load()

			wantHit := func(what string, n int, ok bool, err error, got []byte) {
				t.Helper()
				if err != nil || !ok || n != len(val) || !bytes.Equal(got, val) {
					t.Errorf("%s: n=%d ok=%v err=%v, value equal: %v", what, n, ok, err, bytes.Equal(got, val))
				}
			}
			// The key at the head of the buffer, then in its middle.
			buf := make([]byte, c.vlen+24)
			copy(buf, key)
			n, ok, err := m.LoadInto(buf[:16], buf)
			wantHit("LoadInto(buf[:16], buf)", n, ok, err, buf[:n])
			copy(buf[8:], key)
			n, ok, err = m.LoadInto(buf[8:24], buf)
			wantHit("LoadInto(buf[8:24], buf)", n, ok, err, buf[:n])
			// Too small: nothing written, the key included.
			small := make([]byte, c.vlen)
			copy(small, key)
			n, ok, err = m.LoadInto(small[:16], small[:c.vlen-1])
			if !errors.Is(err, ErrBufferTooSmall) || !ok || n != len(val) || !bytes.Equal(small[:16], key) ||
				!bytes.Equal(small[16:], make([]byte, c.vlen-16)) {
				t.Errorf("LoadInto into a too small, overlapping buffer: n=%d ok=%v err=%v, buffer %x", n, ok, err, small)
			}
			// An absent key read into its own buffer.
			copy(buf, absent)
			if n, ok, err := m.LoadInto(buf[:16], buf); ok || err != nil || n != 0 {
				t.Errorf("LoadInto(absent): n=%d ok=%v err=%v", n, ok, err)
			}
			// AppendLoad: the key in dst's spare room, with room for the
			// value, then without (the grown buffer is the call's own).
			dst := append(make([]byte, 0, c.vlen+64), "abc"...)
			k := append(dst[3:3], key...)
			got, ok, err := m.AppendLoad(dst, k)
			if err != nil || !ok || !bytes.Equal(got, append([]byte("abc"), val...)) {
				t.Errorf("AppendLoad, key in dst's spare room: ok=%v err=%v got %x", ok, err, got)
			}
			dst = make([]byte, 0, 16)
			k = append(dst, key...)
			got, ok, err = m.AppendLoad(dst, k)
			wantHit("AppendLoad, key in dst's spare room, growing", len(got), ok, err, got)
			// The key in dst itself (the value goes after it: no overlap).
			dst = append(make([]byte, 0, 16+c.vlen), key...)
			got, ok, err = m.AppendLoad(dst, dst)
			if err != nil || !ok || !bytes.Equal(got, append(append([]byte(nil), key...), val...)) {
				t.Errorf("AppendLoad(dst, dst): ok=%v err=%v got %x", ok, err, got)
			}

			apart := readsApart.Load() - apart0
			if c.viaGo && m.direct != nil && apart != 0 {
				t.Errorf("%d overlapping reads went through cgo, want every one answered directly", apart)
			}
			if !c.viaGo && apart == 0 {
				t.Error("no overlapping read went to cgo with its key copied apart (Map.readApart)")
			}
			// The map is as it was.
			if l := must[int](t)(m.Len()); l != 2 {
				t.Errorf("Len = %d, want 2", l)
			}
			if v, ok, err := m.Load(key); err != nil || !ok || !bytes.Equal(v, val) {
				t.Errorf("Load(key) after: ok=%v err=%v", ok, err)
			}
			if v, ok, err := m.Load(other); err != nil || !ok || !bytes.Equal(v, otherVal) {
				t.Errorf("Load(other) after: ok=%v err=%v", ok, err)
			}
			if c.ttl > 0 {
				if ttl, ok, err := m.TTL(key); err != nil || !ok || ttl <= 0 || ttl > c.ttl {
					t.Errorf("TTL after: %v ok=%v err=%v", ttl, ok, err)
				}
			}

			// Swap and LoadOrStore take no output buffer of the caller's:
			// key and value may be one slice (both are only read).
			kv := append([]byte(nil), key...)
			prev, loaded, err := m.Swap(kv, kv)
			if err != nil || !loaded || !bytes.Equal(prev, val) {
				t.Errorf("Swap(kv, kv): loaded=%v err=%v", loaded, err)
			}
			actual, loaded, err := m.LoadOrStore(kv, kv[:8])
			if err != nil || !loaded || !bytes.Equal(actual, key) {
				t.Errorf("LoadOrStore(kv, kv[:8]): loaded=%v err=%v actual %x", loaded, err, actual)
			}
		})
	}
}

// TestBatchKeysFromItsOwnValues: a Batch and a GetBatch copy keys in when
// an op is added, so a key taken from a value the batch returned (which
// points into its output room, overwritten by the next run) is safe: the
// next run's outputs never overlap its keys.
func TestBatchKeysFromItsOwnValues(t *testing.T) {
	m := openMap(t, Config{Shards: 2})
	// Each key's value is the next key: a chain.
	keys := [][]byte{patternKey(1, 16), patternKey(2, 16), patternKey(3, 16), patternKey(4, 16)}
	for i := range 3 {
		noErr(t, m.Store(keys[i], keys[i+1]))
	}
	noErr(t, m.Store(keys[3], []byte("end")))

	b := NewBatch(4)
	b.Get(keys[0])
	noErr(t, m.Run(b))
	for i := 1; i < 4; i++ {
		v, ok := b.Value(0) // points into the batch's output room
		if !ok {
			t.Fatalf("batch step %d: no value", i)
		}
		b.Reset()
		b.Get(v)                // its value goes where v was
		b.Swap(v, []byte("sw")) // the previous value too
		b.Get(v)                // sees the swap
		noErr(t, m.Run(b))
		want := []byte("end")
		if i < 3 {
			want = keys[i+1]
		}
		if got, _ := b.Value(0); !bytes.Equal(got, want) {
			t.Fatalf("batch step %d: get %x, want %x", i, got, want)
		}
		if got, _ := b.Value(1); !bytes.Equal(got, want) {
			t.Fatalf("batch step %d: swap returned %x, want %x", i, got, want)
		}
		if got, _ := b.Value(2); string(got) != "sw" {
			t.Fatalf("batch step %d: get after swap %q", i, got)
		}
		// Put the chain back for the next step.
		b.Reset()
		b.Put(keys[i], want)
		noErr(t, m.Run(b))
		b.Reset()
		b.Get(keys[i])
		noErr(t, m.Run(b))
	}

	g := NewGetBatch(4)
	g.Get(keys[0])
	noErr(t, m.RunGets(g))
	for i := 1; i < 4; i++ {
		v, ok := g.Value(0)
		if !ok {
			t.Fatalf("get batch step %d: no value", i)
		}
		g.Reset()
		g.Get(v)
		g.Get(v)
		noErr(t, m.RunGets(g))
		want := []byte("end")
		if i < 3 {
			want = keys[i+1]
		}
		for j := range 2 {
			if got, _ := g.Value(j); !bytes.Equal(got, want) {
				t.Fatalf("get batch step %d, get %d: %x, want %x", i, j, got, want)
			}
		}
	}
}

// noDirect is c with direct reads off.
func noDirect(c Config) Config {
	c.NoDirectReads = true
	return c
}
