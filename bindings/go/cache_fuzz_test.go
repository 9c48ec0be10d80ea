//go:build linux && cgo

package numashard

import (
	"bytes"
	"encoding/binary"
	"testing"
	"time"
)

// cacheEntry is the model of one entry: its value and whether it has a
// deadline. Deadlines are an hour away: nothing expires during an input,
// so the model needs no clock; the short TTLs are tested in cache_test.go.
type cacheEntry struct {
	v        []byte
	deadline bool
}

const fuzzTTL = time.Hour

// FuzzCacheDifferential runs random sequences of the TTL calls, mixed with
// the writes that keep or replace a deadline, against the map and a model
// that tracks which entries have a deadline; TTL, Expire and Persist must
// agree with it at every step (single calls and batches).
func FuzzCacheDifferential(f *testing.F) {
	f.Add([]byte{0, 1, 3, 'a', 'b', 'c', 7, 1, 4, 1, 7, 1, 5, 1, 7, 1})
	f.Add([]byte{1, 2, 5, 2, 2, 6, 2, 9, 7, 2, 8, 2, 1, 7, 2, 3, 2, 7, 2})
	f.Add([]byte{10, 3, 4, 0, 1, 2, 3, 4, 7, 3, 11, 4, 2, 7, 4, 6, 4, 9, 7, 4})
	f.Add([]byte{255, 0, 255, 26, 4, 255, 7, 255, 3, 255, 6, 1, 26, 7, 1, 10, 5, 3, 1, 2})
	f.Fuzz(func(t *testing.T, data []byte) {
		m := fuzzTarget(t)
		model := map[string]cacheEntry{}
		r := &fuzzReader{data}
		// checkTTL compares a TTL read (single or batched) with the model.
		checkTTL := func(step int, k []byte, ttl time.Duration, ok bool) {
			e, has := model[string(k)]
			if ok != has || (has && !e.deadline && ttl != NoExpiry) ||
				(has && e.deadline && (ttl <= fuzzTTL-time.Minute || ttl > fuzzTTL)) {
				t.Fatalf("step %d TTL(%q) = %v %v, model %+v %v", step, k, ttl, ok, e, has)
			}
		}
		for step := 0; len(r.b) > 0 && step < 200; step++ {
			switch r.byte() % 12 {
			case 0: // Store: the default deadline (none)
				k, v := r.key(), r.value()
				if err := m.Store(k, v); !sameErr(err, modelErr(k, v)) {
					t.Fatalf("step %d Store(%q): %v", step, k, err)
				} else if err == nil {
					model[string(k)] = cacheEntry{v, false}
				}
			case 1, 2: // StoreTTL, an hour or NoExpiry
				k, v := r.key(), r.value()
				ttl := fuzzTTL
				if r.byte()%2 == 0 {
					ttl = NoExpiry
				}
				if err := m.StoreTTL(k, v, ttl); !sameErr(err, modelErr(k, v)) {
					t.Fatalf("step %d StoreTTL(%q): %v", step, k, err)
				} else if err == nil {
					model[string(k)] = cacheEntry{v, ttl != NoExpiry}
				}
			case 3: // StoreIfAbsentTTL or LoadOrStoreTTL
				k, v := r.key(), r.value()
				e, has := model[string(k)]
				var stored bool
				var err error
				if r.byte()%2 == 0 {
					stored, err = m.StoreIfAbsentTTL(k, v, fuzzTTL)
				} else {
					var actual []byte
					var loaded bool
					actual, loaded, err = m.LoadOrStoreTTL(k, v, fuzzTTL)
					stored = err == nil && !loaded
					want := e.v // loaded: what is stored
					if stored {
						want = v
					}
					if err == nil && !bytes.Equal(actual, want) {
						t.Fatalf("step %d LoadOrStoreTTL(%q) = %q, want %q", step, k, actual, want)
					}
				}
				werr := modelErr(k, v)
				if !sameErr(err, werr) || (werr == nil && stored == has) {
					t.Fatalf("step %d StoreIfAbsentTTL(%q) = %v %v (present %v)", step, k, stored, err, has)
				}
				if stored {
					model[string(k)] = cacheEntry{v, true}
				}
			case 4, 5: // Expire: an hour, or 0 (drop now)
				k := r.key()
				ttl := fuzzTTL
				if r.byte()%3 == 0 {
					ttl = 0
				}
				found, err := m.Expire(k, ttl)
				e, has := model[string(k)]
				if !sameErr(err, modelErr(k, nil)) || found != has {
					t.Fatalf("step %d Expire(%q, %v) = %v %v (present %v)", step, k, ttl, found, err, has)
				}
				if has && ttl == 0 {
					delete(model, string(k))
				} else if has {
					model[string(k)] = cacheEntry{e.v, true}
				}
			case 6: // Persist
				k := r.key()
				found, err := m.Persist(k)
				e, has := model[string(k)]
				if !sameErr(err, modelErr(k, nil)) || found != has {
					t.Fatalf("step %d Persist(%q) = %v %v (present %v)", step, k, found, err, has)
				}
				if has {
					model[string(k)] = cacheEntry{e.v, false}
				}
			case 7: // TTL and Load
				k := r.key()
				ttl, ok, err := m.TTL(k)
				if !sameErr(err, modelErr(k, nil)) {
					t.Fatalf("step %d TTL(%q): %v", step, k, err)
				}
				checkTTL(step, k, ttl, ok)
				v, ok, _ := m.Load(k)
				if e := model[string(k)]; !bytes.Equal(v, e.v) {
					t.Fatalf("step %d Load(%q) = %q %v, model %q", step, k, v, ok, e.v)
				}
			case 8: // Swap: the default deadline
				k, v := r.key(), r.value()
				_, _, err := m.Swap(k, v)
				if !sameErr(err, modelErr(k, v)) {
					t.Fatalf("step %d Swap(%q): %v", step, k, err)
				} else if err == nil {
					model[string(k)] = cacheEntry{v, false}
				}
			case 9: // CompareAndSwap with the current value: keeps the deadline
				k, nv := r.key(), r.value()
				e, has := model[string(k)]
				swapped, err := m.CompareAndSwap(k, e.v, nv)
				werr := modelErr(k, nv)
				if !sameErr(err, werr) || (werr == nil && swapped != has) {
					t.Fatalf("step %d CAS(%q) = %v %v (present %v)", step, k, swapped, err, has)
				}
				if swapped {
					model[string(k)] = cacheEntry{nv, e.deadline}
				}
			case 10: // Add: keeps the deadline, a new counter has none
				k := r.key()
				e, has := model[string(k)]
				n, err := m.Add(k, 1)
				werr := modelErr(k, nil)
				if werr == nil && has && len(e.v) != 8 {
					werr = ErrNotACounter
				}
				if !sameErr(err, werr) {
					t.Fatalf("step %d Add(%q): %v, want %v", step, k, err, werr)
				}
				if err == nil {
					model[string(k)] = cacheEntry{binary.LittleEndian.AppendUint64(nil, uint64(n)), e.deadline}
				}
			case 11: // a batch of TTL ops, applied to the model in order
				b := NewBatch(8)
				type planned struct {
					kind OpKind
					k, v []byte
					ttl  time.Duration
				}
				var plan []planned
				for j := int(r.byte() % 6); j >= 0; j-- {
					p := planned{k: r.key(), ttl: fuzzTTL}
					switch r.byte() % 4 {
					case 0:
						p.kind, p.v = OpPut, r.value()
						b.PutTTL(p.k, p.v, p.ttl)
					case 1:
						p.kind = OpExpire
						b.Expire(p.k, p.ttl)
					case 2:
						p.kind, p.ttl = OpExpire, NoExpiry
						b.Persist(p.k)
					case 3:
						p.kind = OpTTL
						b.GetTTL(p.k)
					}
					plan = append(plan, p)
				}
				noErr(t, m.Run(b))
				for i, p := range plan {
					werr := modelErr(p.k, p.v)
					if !sameErr(b.Err(i), werr) {
						t.Fatalf("step %d batch op %d (%v %q): %v, want %v", step, i, p.kind, p.k, b.Err(i), werr)
					}
					if werr != nil {
						continue
					}
					e, has := model[string(p.k)]
					switch p.kind {
					case OpPut:
						model[string(p.k)] = cacheEntry{p.v, true}
					case OpExpire:
						if b.OK(i) != has {
							t.Fatalf("step %d batch Expire(%q, %v) found %v, present %v", step, p.k, p.ttl, b.OK(i), has)
						}
						if has {
							model[string(p.k)] = cacheEntry{e.v, p.ttl != NoExpiry}
						}
					case OpTTL:
						ttl, ok := b.TTL(i)
						checkTTL(step, p.k, ttl, ok)
					}
				}
			}
		}
		// Every entry and its deadline agree with the model at the end.
		if n := must[int](t)(m.Len()); n != len(model) {
			t.Fatalf("final Len %d, model %d", n, len(model))
		}
		for k := range model {
			ttl, ok, err := m.TTL([]byte(k))
			noErr(t, err)
			checkTTL(-1, []byte(k), ttl, ok)
		}
	})
}
