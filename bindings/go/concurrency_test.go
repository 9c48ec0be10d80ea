//go:build linux && cgo

package numashard

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"math/rand/v2"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// scale shrinks the stress tests under -short (the GOGC=1 run).
func scale(n int) int {
	if testing.Short() {
		return max(n/10, 1)
	}
	return n
}

// TestConcurrentMixed: many goroutines, each with its own keys plus a
// shared range; every method at once. Own keys end exactly as each
// goroutine's model says.
func TestConcurrentMixed(t *testing.T) {
	m := openMap(t, Config{})
	const workers = 16
	ops := scale(3000)
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(w), 1))
			model := map[string]string{}
			b := NewBatch(8)
			for i := 0; i < ops; i++ {
				own := fmt.Sprintf("w%d-%d", w, rng.IntN(50))
				shared := fmt.Sprintf("shared-%d", rng.IntN(20))
				val := fmt.Sprintf("%d-%d", w, i)
				var err error
				switch rng.IntN(9) {
				case 0:
					err = m.StoreString(own, []byte(val))
					model[own] = val
				case 1:
					var v []byte
					var ok bool
					v, ok, err = m.LoadString(own)
					if want, has := model[own]; err == nil && (ok != has || string(v) != want) {
						err = fmt.Errorf("Load %s = %q %v, want %q %v", own, v, ok, want, has)
					}
				case 2:
					var deleted bool
					deleted, err = m.DeleteString(own)
					_, has := model[own]
					if err == nil && deleted != has {
						err = fmt.Errorf("Delete %s = %v, want %v", own, deleted, has)
					}
					delete(model, own)
				case 3:
					var swapped bool
					old, has := model[own]
					swapped, err = m.CompareAndSwapString(own, []byte(old), []byte(val))
					if err == nil && swapped != has {
						err = fmt.Errorf("CAS %s = %v, want %v", own, swapped, has)
					}
					if has {
						model[own] = val
					}
				case 4:
					_, err = m.AddString(shared+"-ctr", 1)
				case 5:
					err = m.StoreString(shared, []byte(val))
				case 6:
					_, _, err = m.LoadOrStoreString(shared, []byte(val))
				case 7:
					_, _, err = m.LoadAndDeleteString(shared)
				case 8:
					b.Reset()
					b.Put([]byte(own), []byte(val))
					b.Get([]byte(own))
					b.Get([]byte(shared))
					err = m.Run(b)
					if v, ok := b.Value(1); err == nil && (!ok || string(v) != val) {
						err = fmt.Errorf("batch get after put: %q %v", v, ok)
					}
					model[own] = val
				}
				if err != nil {
					errs <- err
					return
				}
			}
			for k, want := range model {
				if v, ok, err := m.LoadString(k); !ok || err != nil || string(v) != want {
					errs <- fmt.Errorf("final %s = %q %v %v, want %q", k, v, ok, err, want)
					return
				}
			}
		}(w)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// TestCloseRacesCalls: goroutines call every method (cache-mode calls
// included) while another closes the map. Each call succeeds or returns ErrClosed; nothing crashes; after
// Close every call returns ErrClosed.
func TestCloseRacesCalls(t *testing.T) {
	for round := 0; round < scale(20); round++ {
		// Every other round on a map large enough for prefetchWrite to
		// look up its lines while Close runs.
		cfg := Config{Shards: 3}
		if round%2 == 1 {
			cfg.InitialCapacity = 1 << 16
		}
		m, err := Open(cfg)
		noErr(t, err)
		for i := 0; i < 200; i++ {
			m.StoreString(fmt.Sprint(i), []byte("v"))
		}
		var wg sync.WaitGroup
		var bad atomic.Value
		start := make(chan struct{})
		for w := 0; w < 8; w++ {
			wg.Add(1)
			go func(w int) {
				defer wg.Done()
				<-start
				b := NewBatch(4)
				g := NewGetBatch(2)
				for i := 0; ; i++ {
					k := []byte(fmt.Sprint(i % 200))
					var err error
					switch (i + w) % 16 {
					case 0:
						_, _, err = m.Load(k)
					case 1:
						err = m.Store(k, []byte("x"))
					case 2:
						_, err = m.Delete(k)
					case 3:
						_, _, err = m.LoadOrStore(k, []byte("y"))
					case 4:
						_, _, err = m.LoadAndDelete(k)
					case 5:
						_, err = m.CompareAndSwap(k, []byte("x"), []byte("z"))
					case 6:
						_, err = m.Add([]byte("ctr"), 1)
					case 7:
						_, err = m.Len()
					case 8:
						b.Reset()
						b.Get(k)
						b.Put(k, k)
						if err = m.Run(b); err == nil {
							g.Reset()
							g.Get(k)
							g.GetString("ctr")
							err = m.RunGets(g)
						}
					case 9:
						err = m.Range(func(k, v []byte) bool { return true })
					case 10:
						_, err = m.Stats()
					case 11:
						err = m.ReplaceAll([]Entry{{k, k}})
					case 12:
						err = m.StoreTTL(k, []byte("t"), time.Duration(1+i%3)*time.Millisecond)
					case 13:
						_, err = m.Expire(k, time.Duration(i%3)*time.Millisecond)
					case 14:
						if _, err = m.Persist(k); err == nil {
							_, _, err = m.TTL(k)
						}
						if err == nil {
							_, _, err = m.LoadOrStoreTTL(k, k, time.Hour)
						}
					case 15:
						b.Reset()
						b.PutTTL(k, k, time.Millisecond)
						b.Expire(k, time.Hour)
						b.GetTTL(k)
						err = m.Run(b)
					}
					if err != nil {
						if !errors.Is(err, ErrClosed) {
							bad.Store(err)
						}
						return
					}
				}
			}(w)
		}
		close(start)
		time.Sleep(time.Duration(rand.IntN(3000)) * time.Microsecond)
		closers := make(chan error, 2)
		go func() { closers <- m.Close() }()
		go func() { closers <- m.Close() }()
		noErr(t, <-closers)
		noErr(t, <-closers)
		wg.Wait()
		if err := bad.Load(); err != nil {
			t.Fatalf("round %d: call during close failed with %v", round, err)
		}
		if _, _, err := m.LoadString("1"); !errors.Is(err, ErrClosed) {
			t.Fatalf("after close: %v", err)
		}
	}
}

// TestForgottenMapIsCollected: a map nobody closes is closed and freed by
// the garbage collector's cleanup (the backstop), without crashing.
func TestForgottenMapIsCollected(t *testing.T) {
	for i := 0; i < 5; i++ {
		m, err := Open(Config{Shards: 2})
		noErr(t, err)
		noErr(t, m.StoreString("k", []byte("v")))
	}
	runtime.GC()
	runtime.GC()
}

// churnValue is self-checking: 4 bytes of CRC, then the key, then padding.
func churnValue(key []byte, gen uint32) []byte {
	v := make([]byte, 0, 40)
	v = binary.LittleEndian.AppendUint32(v, 0)
	v = binary.LittleEndian.AppendUint32(v, gen)
	v = append(v, key...)
	for len(v) < 8+len(key)+int(gen%24) {
		v = append(v, byte(gen))
	}
	binary.LittleEndian.PutUint32(v, crc32.ChecksumIEEE(v[4:]))
	return v
}

func churnValueOK(key, v []byte) bool {
	return len(v) >= 8 && binary.LittleEndian.Uint32(v) == crc32.ChecksumIEEE(v[4:]) &&
		string(v[8:8+min(len(key), len(v)-8)]) == string(key)
}

// TestIterationUnderChurn: while goroutines insert, update and delete keys
// of a churn range, every pass over the map sees every stable key exactly
// once and no torn value anywhere.
func TestIterationUnderChurn(t *testing.T) {
	m := openMap(t, Config{})
	stable := scale(20000)
	for i := 0; i < stable; i++ {
		k := []byte(fmt.Sprintf("stable-%d", i))
		noErr(t, m.Store(k, churnValue(k, 0)))
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var churned atomic.Int64
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(w), 2))
			b := NewBatch(16)
			for gen := uint32(1); ; gen++ {
				select {
				case <-stop:
					return
				default:
				}
				k := []byte(fmt.Sprintf("churn-%d-%d", w, rng.IntN(5000)))
				switch rng.IntN(4) {
				case 0, 1:
					m.Store(k, churnValue(k, gen))
				case 2:
					m.Delete(k)
				case 3:
					b.Reset()
					for j := 0; j < 16; j++ {
						k := []byte(fmt.Sprintf("churn-%d-%d", w, rng.IntN(5000)))
						if j%3 == 0 {
							b.Delete(k)
						} else {
							b.Put(k, churnValue(k, gen))
						}
					}
					m.Run(b)
				}
				churned.Add(1)
			}
		}(w)
	}
	for pass := 0; pass < 3; pass++ {
		seen := make([]uint8, stable)
		var churnSeen int
		err := m.Range(func(k, v []byte) bool {
			if !churnValueOK(k, v) {
				t.Errorf("torn entry %q = %x", k, v)
				return false
			}
			var i int
			if _, err := fmt.Sscanf(string(k), "stable-%d", &i); err == nil {
				seen[i]++
			} else {
				churnSeen++
			}
			return true
		})
		noErr(t, err)
		for i, n := range seen {
			if n != 1 {
				t.Fatalf("pass %d: stable key %d seen %d times", pass, i, n)
			}
		}
		t.Logf("pass %d: %d stable keys once each, %d churn entries, %d churn ops so far", pass, stable, churnSeen, churned.Load())
	}
	close(stop)
	wg.Wait()
}

// TestReplaceAllGenerations: 100 hot reloads, each writing generation g
// under every key, while readers check that the generation they observe
// never goes backwards and a multi-key read never mixes generations older
// than one already seen.
func TestReplaceAllGenerations(t *testing.T) {
	m := openMap(t, Config{})
	const keys = 500
	reloads := scale(100)
	entries := make([]Entry, keys)
	for i := range entries {
		entries[i].Key = []byte(fmt.Sprintf("cfg-%d", i))
	}
	load := func(g int) {
		for i := range entries {
			entries[i].Value = binary.LittleEndian.AppendUint64(nil, uint64(g))
		}
		noErr(t, m.ReplaceAll(entries))
	}
	load(0)
	var done atomic.Bool
	var wg sync.WaitGroup
	var reads atomic.Int64
	errs := make(chan error, 8)
	for r := 0; r < 4; r++ {
		wg.Add(1)
		go func(r int) {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(r), 3))
			last := uint64(0)
			dst := make([]byte, 8)
			b := NewBatch(8)
			for !done.Load() {
				if rng.IntN(4) == 0 {
					// A batch over several shards.
					b.Reset()
					for j := 0; j < 8; j++ {
						b.Get(entries[rng.IntN(keys)].Key)
					}
					if err := m.Run(b); err != nil {
						errs <- err
						return
					}
					// The ops of one batch run on their shards in parallel,
					// not in index order: each must be at least what was
					// seen before the batch; after it, the newest counts.
					newest := last
					for j := 0; j < 8; j++ {
						v, ok := b.Value(j)
						if !ok {
							errs <- fmt.Errorf("batch: key missing during reload")
							return
						}
						g := binary.LittleEndian.Uint64(v)
						if g < last {
							errs <- fmt.Errorf("reader %d: batch saw generation %d after %d", r, g, last)
							return
						}
						newest = max(newest, g)
					}
					last = newest
					continue
				}
				n, ok, err := m.LoadInto(entries[rng.IntN(keys)].Key, dst)
				if err != nil || !ok || n != 8 {
					errs <- fmt.Errorf("reader %d: %d %v %v", r, n, ok, err)
					return
				}
				g := binary.LittleEndian.Uint64(dst)
				if g < last {
					errs <- fmt.Errorf("reader %d: generation %d after %d", r, g, last)
					return
				}
				last = g
				reads.Add(1)
			}
		}(r)
	}
	for g := 1; g <= reloads; g++ {
		load(g)
	}
	done.Store(true)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	st, _ := m.Stats()
	t.Logf("%d reloads, %d reads, longest switch stall %v", reloads, reads.Load(), time.Duration(st.ReplaceStallMaxNs))
	if n, _ := m.Len(); n != keys {
		t.Fatalf("Len %d", n)
	}
}

// TestCountersExact: many goroutines Add to 1,000 counters, single calls
// and batches mixed; every sum is exact.
func TestCountersExact(t *testing.T) {
	m := openMap(t, Config{})
	const counters = 1000
	const workers = 16
	rounds := scale(50)
	keys := make([][]byte, counters)
	for i := range keys {
		keys[i] = []byte(fmt.Sprintf("ctr-%d", i))
	}
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			b := NewBatch(64)
			for r := 0; r < rounds; r++ {
				if (w+r)%2 == 0 {
					for i, k := range keys {
						if _, err := m.Add(k, int64(i%7+1)); err != nil {
							t.Error(err)
							return
						}
					}
					continue
				}
				for lo := 0; lo < counters; lo += 64 {
					b.Reset()
					for i := lo; i < min(lo+64, counters); i++ {
						b.Add(keys[i], int64(i%7+1))
					}
					if err := m.Run(b); err != nil {
						t.Error(err)
						return
					}
				}
			}
		}(w)
	}
	wg.Wait()
	for i, k := range keys {
		v, ok, err := m.Load(k)
		want := int64(workers * rounds * (i%7 + 1))
		if !ok || err != nil || int64(binary.LittleEndian.Uint64(v)) != want {
			t.Fatalf("counter %d = %x %v %v, want %d", i, v, ok, err, want)
		}
	}
}

// TestIterationKeepsMapAlive: an iteration whose Map is otherwise
// unreachable must not be cut short by the Map's cleanup.
func TestIterationKeepsMapAlive(t *testing.T) {
	all := func() func(func([]byte, []byte) bool) {
		m, err := Open(Config{Shards: 2})
		noErr(t, err)
		for i := 0; i < 200; i++ {
			noErr(t, m.StoreString(fmt.Sprint(i), []byte("v")))
		}
		return m.All()
	}()
	n := 0
	for range all {
		runtime.GC()
		n++
	}
	if n != 200 {
		t.Fatalf("iteration saw %d of 200 entries", n)
	}
}
