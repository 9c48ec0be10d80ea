//go:build linux && cgo

package numashard

import (
	"bytes"
	"encoding/binary"
	"errors"
	"sort"
	"sync"
	"testing"
)

var (
	fuzzOnce sync.Once
	fuzzMap  *Map
)

// fuzzTarget is one map per process, cleared between inputs (opening a map
// per input would start its shard threads every time).
func fuzzTarget(t *testing.T) *Map {
	fuzzOnce.Do(func() {
		m, err := Open(Config{Shards: 3, MaxKeyLen: 6, MaxValueLen: 24})
		if err != nil {
			t.Fatal(err)
		}
		fuzzMap = m
	})
	noErr(t, fuzzMap.Clear())
	return fuzzMap
}

// fuzzReader decodes an operation sequence from the fuzzer's bytes.
type fuzzReader struct{ b []byte }

func (r *fuzzReader) byte() byte {
	if len(r.b) == 0 {
		return 0
	}
	c := r.b[0]
	r.b = r.b[1:]
	return c
}

// key: a small key space (so ops collide), sometimes too long.
func (r *fuzzReader) key() []byte {
	c := r.byte()
	if c == 255 {
		return []byte("toolong")
	}
	return []byte{'k', c % 24}
}

// value: up to 25 bytes (25 is over the limit); sometimes 8 bytes (a counter).
func (r *fuzzReader) value() []byte {
	n := int(r.byte() % 27)
	if n == 26 {
		n = 8
	}
	v := make([]byte, n)
	for i := range v {
		v[i] = r.byte()
	}
	return v
}

// modelErr is what the engine must answer for a key/value, before semantics.
func modelErr(k, v []byte) error {
	if len(k) > 6 {
		return ErrKeyTooLarge
	}
	if len(v) > 24 {
		return ErrValueTooLarge
	}
	return nil
}

func sameErr(a, b error) bool {
	if a == nil || b == nil {
		return a == b
	}
	return errors.Is(a, b)
}

// FuzzDifferential runs random operation sequences against the map and
// against a plain Go map, and requires the same answers.
func FuzzDifferential(f *testing.F) {
	f.Add([]byte{0, 1, 3, 'a', 'b', 'c', 1, 1, 2, 1})
	f.Add([]byte{6, 2, 5, 6, 2, 251, 3, 2, 7, 2, 10, 4, 11})
	f.Add([]byte{9, 3, 4, 1, 2, 3, 4, 5, 3, 9, 9, 9, 12, 3, 0, 1, 13})
	f.Add([]byte{255, 0, 255, 26, 1, 2, 3, 4, 5, 6, 7, 8, 6, 255, 1})
	f.Fuzz(func(t *testing.T, data []byte) {
		m := fuzzTarget(t)
		model := map[string][]byte{}
		r := &fuzzReader{data}
		for step := 0; len(r.b) > 0 && step < 200; step++ {
			op := r.byte() % 16
			switch op {
			case 0: // Store
				k, v := r.key(), r.value()
				err := m.Store(k, v)
				want := modelErr(k, v)
				if !sameErr(err, want) {
					t.Fatalf("step %d Store(%q): %v, want %v", step, k, err, want)
				}
				if want == nil {
					model[string(k)] = v
				}
			case 1: // Load
				k := r.key()
				v, ok, err := m.Load(k)
				want, has := model[string(k)]
				if !sameErr(err, modelErr(k, nil)) || ok != has || !bytes.Equal(v, want) {
					t.Fatalf("step %d Load(%q) = %q %v %v, want %q %v", step, k, v, ok, err, want, has)
				}
			case 2: // LoadOrStore
				k, v := r.key(), r.value()
				actual, loaded, err := m.LoadOrStore(k, v)
				want, has := model[string(k)]
				werr := modelErr(k, v)
				if !sameErr(err, werr) {
					t.Fatalf("step %d LoadOrStore(%q): %v, want %v", step, k, err, werr)
				}
				if werr == nil {
					if loaded != has || (has && !bytes.Equal(actual, want)) || (!has && !bytes.Equal(actual, v)) {
						t.Fatalf("step %d LoadOrStore(%q) = %q %v", step, k, actual, loaded)
					}
					if !has {
						model[string(k)] = v
					}
				}
			case 3: // Delete
				k := r.key()
				deleted, err := m.Delete(k)
				_, has := model[string(k)]
				if !sameErr(err, modelErr(k, nil)) || deleted != has {
					t.Fatalf("step %d Delete(%q) = %v %v", step, k, deleted, err)
				}
				delete(model, string(k))
			case 4: // LoadAndDelete
				k := r.key()
				v, loaded, err := m.LoadAndDelete(k)
				want, has := model[string(k)]
				if !sameErr(err, modelErr(k, nil)) || loaded != has || !bytes.Equal(v, want) {
					t.Fatalf("step %d LoadAndDelete(%q) = %q %v %v", step, k, v, loaded, err)
				}
				delete(model, string(k))
			case 5: // CompareAndSwap, expecting the current value half the time
				k := r.key()
				old := r.value()
				if r.byte()%2 == 0 {
					old = model[string(k)]
				}
				nv := r.value()
				swapped, err := m.CompareAndSwap(k, old, nv)
				cur, has := model[string(k)]
				werr := modelErr(k, nv)
				if werr == nil && len(old) > 24 {
					werr = ErrValueTooLarge
				}
				if err != nil && werr == nil || err == nil && werr != nil || err != nil && !errors.Is(err, werr) {
					// Oversized expected values may be reported as a mismatch
					// or as too large: both change nothing.
					if !(len(old) > 24 && err == nil && !swapped) {
						t.Fatalf("step %d CAS(%q): %v, want %v", step, k, err, werr)
					}
				}
				if err == nil {
					want := has && bytes.Equal(cur, old) && werr == nil
					if swapped != want {
						t.Fatalf("step %d CAS(%q, %q) = %v, want %v (current %q %v)", step, k, old, swapped, want, cur, has)
					}
					if swapped {
						model[string(k)] = nv
					}
				}
			case 6: // Add
				k := r.key()
				delta := int64(int8(r.byte()))
				n, err := m.Add(k, delta)
				cur, has := model[string(k)]
				werr := modelErr(k, nil)
				if werr == nil && has && len(cur) != 8 {
					werr = ErrNotACounter
				}
				if !sameErr(err, werr) {
					t.Fatalf("step %d Add(%q): %v, want %v", step, k, err, werr)
				}
				if werr == nil {
					var old int64
					if has {
						old = int64(binary.LittleEndian.Uint64(cur))
					}
					if n != old+delta {
						t.Fatalf("step %d Add(%q, %d) = %d, want %d", step, k, delta, n, old+delta)
					}
					model[string(k)] = binary.LittleEndian.AppendUint64(nil, uint64(n))
				}
			case 7: // Len
				n, err := m.Len()
				if err != nil || n != len(model) {
					t.Fatalf("step %d Len = %d %v, want %d", step, n, err, len(model))
				}
			case 8: // LoadInto with a random buffer size
				k := r.key()
				dst := make([]byte, r.byte()%26)
				n, ok, err := m.LoadInto(k, dst)
				want, has := model[string(k)]
				if ok != has || (has && n != len(want)) {
					t.Fatalf("step %d LoadInto(%q) = %d %v %v", step, k, n, ok, err)
				}
				if has && len(want) > len(dst) {
					if !errors.Is(err, ErrBufferTooSmall) {
						t.Fatalf("step %d LoadInto small: %v", step, err)
					}
				} else if !sameErr(err, modelErr(k, nil)) || (has && !bytes.Equal(dst[:n], want)) {
					t.Fatalf("step %d LoadInto(%q) = %q %v", step, k, dst[:n], err)
				}
			case 9: // a batch of puts, gets and deletes, applied to the model in order
				b := NewBatch(8)
				b.ValueSizeHint = int(r.byte()%8) + 1
				var exps []fuzzExp
				for n := int(r.byte()%8) + 1; n > 0; n-- {
					k := r.key()
					switch r.byte() % 3 {
					case 0:
						v := r.value()
						b.Put(k, v)
						exps = append(exps, fuzzExp{OpPut, k, v})
					case 1:
						b.Get(k)
						exps = append(exps, fuzzExp{OpGet, k, nil})
					case 2:
						b.Delete(k)
						exps = append(exps, fuzzExp{OpDelete, k, nil})
					}
				}
				hint := b.ValueSizeHint
				noErr(t, m.Run(b))
				// A get retried for a small buffer sees the batch's later
				// writes to its key; check gets against the final model
				// state when that key is written later in the batch.
				for i, e := range exps {
					werr := modelErr(e.k, e.v)
					if !sameErr(b.Err(i), werr) {
						t.Fatalf("step %d batch op %d: %v, want %v", step, i, b.Err(i), werr)
					}
					if werr != nil {
						continue
					}
					switch e.kind {
					case OpPut:
						model[string(e.k)] = e.v
					case OpDelete:
						_, has := model[string(e.k)]
						if b.OK(i) != has {
							t.Fatalf("step %d batch delete %q: %v want %v", step, e.k, b.OK(i), has)
						}
						delete(model, string(e.k))
					case OpGet:
						want, has := model[string(e.k)]
						v, ok := b.Value(i)
						if len(want) > hint && laterWrite(exps[i+1:], e.k) {
							continue
						}
						if ok != has || !bytes.Equal(v, want) {
							t.Fatalf("step %d batch get %q = %q %v, want %q %v", step, e.k, v, ok, want, has)
						}
					}
				}
			case 10: // Range equals the model
				got := map[string][]byte{}
				noErr(t, m.Range(func(k, v []byte) bool {
					got[string(k)] = bytes.Clone(v)
					return true
				}))
				if len(got) != len(model) {
					t.Fatalf("step %d Range saw %d, want %d", step, len(got), len(model))
				}
				for k, v := range model {
					if !bytes.Equal(got[k], v) {
						t.Fatalf("step %d Range %q = %q, want %q", step, k, got[k], v)
					}
				}
			case 11: // ReplaceAll with a few entries
				var es []Entry
				next := map[string][]byte{}
				for n := int(r.byte() % 5); n > 0; n-- {
					k, v := r.key(), r.value()
					if modelErr(k, v) != nil {
						continue
					}
					es = append(es, Entry{k, v})
					next[string(k)] = v
				}
				noErr(t, m.ReplaceAll(es))
				model = next
			case 12: // StoreIfAbsent
				k, v := r.key(), r.value()
				stored, err := m.StoreIfAbsent(k, v)
				_, has := model[string(k)]
				werr := modelErr(k, v)
				if !sameErr(err, werr) || (werr == nil && stored == has) {
					t.Fatalf("step %d StoreIfAbsent(%q) = %v %v", step, k, stored, err)
				}
				if werr == nil && !has {
					model[string(k)] = v
				}
			case 13: // Clear, rarely
				if r.byte()%4 == 0 {
					noErr(t, m.Clear())
					clear(model)
				}
			case 14: // Swap
				k, v := r.key(), r.value()
				prev, loaded, err := m.Swap(k, v)
				want, has := model[string(k)]
				werr := modelErr(k, v)
				if !sameErr(err, werr) || (werr == nil && (loaded != has || !bytes.Equal(prev, want))) {
					t.Fatalf("step %d Swap(%q) = %q %v %v, want %q %v %v", step, k, prev, loaded, err, want, has, werr)
				}
				if werr == nil {
					model[string(k)] = v
				}
			case 15: // CompareAndDelete, expecting the current value half the time
				k := r.key()
				old := r.value()
				if r.byte()%2 == 0 {
					old = model[string(k)]
				}
				deleted, err := m.CompareAndDelete(k, old)
				cur, has := model[string(k)]
				werr := modelErr(k, nil)
				if !sameErr(err, werr) || (werr == nil && deleted != (has && bytes.Equal(cur, old))) {
					t.Fatalf("step %d CompareAndDelete(%q, %q) = %v %v", step, k, old, deleted, err)
				}
				if deleted {
					delete(model, string(k))
				}
			}
		}
		// Final state: the same entries.
		var keys []string
		noErr(t, m.Range(func(k, v []byte) bool {
			keys = append(keys, string(k))
			if !bytes.Equal(model[string(k)], v) {
				t.Fatalf("final %q = %q, want %q", k, v, model[string(k)])
			}
			return true
		}))
		sort.Strings(keys)
		if len(keys) != len(model) {
			t.Fatalf("final: %d entries, want %d", len(keys), len(model))
		}
	})
}

// fuzzExp is one op of a fuzzed batch, for the model.
type fuzzExp struct {
	kind OpKind
	k, v []byte
}

// laterWrite reports whether a later op of the batch writes key k.
func laterWrite(rest []fuzzExp, k []byte) bool {
	for _, e := range rest {
		if e.kind != OpGet && bytes.Equal(e.k, k) {
			return true
		}
	}
	return false
}
