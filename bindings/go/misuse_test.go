//go:build linux && cgo

package numashard

// Misuse and contract tests from a review of the package (each of the
// first six failed before its fix): a NUL byte in a path or topology,
// calls with nothing to do on a closed map, batch results asked before
// Run, LoadOrStore of an undecodable value, Range over entries larger
// than its buffer, a ValueSizeHint too large for the batch; and checks of
// contracts the review found kept (counts of direct reads, Range writing
// from f, Close racing every kind of call, integer codecs on values of the
// wrong length, MaxKeyLen at the fast path's bounds, version 4 reads of
// entries with a deadline under churn).

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestNULInPathOrTopologyIsRefused: a directory name with a NUL byte is cut at the
// NUL by C.CString, so Save writes (and may overwrite) a snapshot in another
// directory instead of failing; OpenSnapshot likewise reads another one.
// Go's own file APIs refuse such a path (EINVAL).
func TestNULInPathOrTopologyIsRefused(t *testing.T) {
	m := openMap(t, Config{Shards: 2})
	noErr(t, m.StoreString("k", []byte("v")))
	base := t.TempDir()
	other := filepath.Join(base, "prod")
	_, err := m.Save(other + "\x00-staging")
	if _, statErr := os.Stat(filepath.Join(other, "")); statErr == nil {
		t.Errorf("Save(%q) wrote a snapshot into %q (err %v), want ErrInvalidArgument and nothing written",
			other+"\x00-staging", other, err)
	}
	if !errors.Is(err, ErrInvalidArgument) {
		t.Errorf("Save with a NUL in the path: err %v, want ErrInvalidArgument", err)
	}
	// OpenSnapshot of "prod\x00-staging" opens prod's snapshot.
	if m2, err := OpenSnapshot(other+"\x00-staging", Config{Shards: 2}); err == nil {
		m2.Close()
		t.Errorf("OpenSnapshot with a NUL in the path opened %q, want ErrInvalidArgument", other)
	}
	// Config strings are cut the same way: the text after the NUL is ignored.
	if m3, err := Open(Config{Topology: "pack:1 [numa] core:2 pu:1\x00 garbage"}); err == nil {
		m3.Close()
		t.Errorf("Open with a NUL in Config.Topology succeeded, want ErrInvalidArgument")
	}
}

// TestEmptyCallsOnAClosedMapAnswerClosed: "After Close, every method returns
// ErrClosed", yet the batch calls return nil on a closed map when they
// have nothing to do.
func TestEmptyCallsOnAClosedMapAnswerClosed(t *testing.T) {
	m, err := Open(Config{Shards: 2})
	noErr(t, err)
	noErr(t, m.Close())
	if err := m.Run(NewBatch(1)); !errors.Is(err, ErrClosed) {
		t.Errorf("Run(empty batch) on a closed map: %v, want ErrClosed", err)
	}
	if err := m.RunGets(NewGetBatch(1)); !errors.Is(err, ErrClosed) {
		t.Errorf("RunGets(empty batch) on a closed map: %v, want ErrClosed", err)
	}
	if _, err := m.LoadMany(nil); !errors.Is(err, ErrClosed) {
		t.Errorf("LoadMany(nil) on a closed map: %v, want ErrClosed", err)
	}
	tm := Of(m, String, Uint64)
	if _, err := tm.LoadMany(nil, nil, nil); !errors.Is(err, ErrClosed) {
		t.Errorf("TypedMap.LoadMany(nil) on a closed map: %v, want ErrClosed", err)
	}
	if err := tm.StoreMany(nil, nil); !errors.Is(err, ErrClosed) {
		t.Errorf("TypedMap.StoreMany(nil) on a closed map: %v, want ErrClosed", err)
	}
}

// TestBatchResultsBeforeRunAreNotOutcomes: an op added to a Batch and not run yet
// reports StatusOK, OK(i) and a found (empty) value: its status field's
// zero value is StatusOK. GetBatch answers StatusInvalidArgument for the
// same question.
func TestBatchResultsBeforeRunAreNotOutcomes(t *testing.T) {
	m := openMap(t, Config{Shards: 2})
	b := NewBatch(2)
	i := b.GetString("never-stored")
	if b.OK(i) || b.Status(i) == StatusOK {
		t.Errorf("a get not run yet: Status %v, OK %v; want not OK", b.Status(i), b.OK(i))
	}
	if v, ok := b.Value(i); ok {
		t.Errorf("a get not run yet: Value = %q, true (a value that was never stored)", v)
	}
	// Same after a Run, for an op added after it.
	noErr(t, m.Run(b))
	j := b.GetString("also-never-stored")
	if v, ok := b.Value(j); ok {
		t.Errorf("a get added after Run: Value = %q, true", v)
	}
	g := NewGetBatch(1)
	k := g.GetString("never-stored")
	if g.Status(k) != StatusInvalidArgument {
		t.Fatalf("GetBatch, for comparison: %v", g.Status(k))
	}
}

// TestTypedLoadOrStoreOfAnUndecodableValueIsLoaded: a present value that does not
// decode makes LoadOrStore report loaded=false (as if it had stored the
// given value) where Swap and LoadAndDelete report loaded=true: the key
// was present and nothing was stored.
func TestTypedLoadOrStoreOfAnUndecodableValueIsLoaded(t *testing.T) {
	m := openMap(t, Config{Shards: 2})
	noErr(t, m.StoreString("k", []byte("abc"))) // 3 bytes: not a Uint64
	tm := Of(m, String, Uint64)
	_, loaded, err := tm.LoadOrStore("k", 5)
	if !errors.Is(err, ErrDecode) {
		t.Fatalf("err %v, want ErrDecode", err)
	}
	if !loaded {
		t.Errorf("LoadOrStore on a present, undecodable value: loaded=false, want true (nothing was stored)")
	}
	if v, _, _ := m.LoadString("k"); string(v) != "abc" {
		t.Fatalf("value changed to %q", v)
	}
}

// TestDirectReadsAreCountedOnce: with RecordStats, each read is counted once, hit
// or miss, whichever path answers it (fastGet, the general direct read,
// cgo); a read into too small a buffer counts nothing.
func TestDirectReadsAreCountedOnce(t *testing.T) {
	for _, cfg := range []Config{{Shards: 3, RecordStats: true}, {Shards: 3, RecordStats: true, NoDirectReads: true},
		{Shards: 3, Eviction: EvictionS3FIFO, MemoryLimit: 64 << 20}} {
		m := openMap(t, cfg)
		counts := func() (uint64, uint64) {
			st := must[Stats](t)(m.Stats())
			return st.Hits, st.Misses
		}
		type kv struct{ k, v []byte }
		var es []kv
		for _, kl := range []int{1, 7, 8, 12, 16, 17, 40} {
			for _, vl := range []int{0, 5, 32, 33, 200, 256, 257, 1000} {
				k := patternKey(kl*1000+vl, kl)
				v := patternValue(k, 1, vl)
				noErr(t, m.Store(k, v))
				es = append(es, kv{k, v})
			}
		}
		h0, m0 := counts()
		wantH, wantM := uint64(0), uint64(0)
		buf := make([]byte, 2000)
		for _, e := range es {
			if n, ok, err := m.LoadInto(e.k, buf); err != nil || !ok || n != len(e.v) {
				t.Fatalf("LoadInto: %d %v %v", n, ok, err)
			}
			wantH++
			if _, ok, err := m.Load(e.k); err != nil || !ok {
				t.Fatal(ok, err)
			}
			wantH++
			if _, ok, err := m.AppendLoad(nil, e.k); err != nil || !ok {
				t.Fatal(ok, err)
			}
			wantH++
			if len(e.v) > 0 {
				if _, _, err := m.LoadInto(e.k, buf[:len(e.v)-1]); !errors.Is(err, ErrBufferTooSmall) {
					t.Fatal(err)
				}
			}
			absent := append([]byte{}, e.k...)
			absent[0] ^= 0xff
			if _, ok, err := m.LoadInto(absent, buf); err != nil || ok {
				t.Fatal(ok, err)
			}
			wantM++
		}
		h1, m1 := counts()
		if h1-h0 != wantH || m1-m0 != wantM {
			t.Errorf("%+v: counted %d hits and %d misses, want %d and %d", cfg, h1-h0, m1-m0, wantH, wantM)
		}
	}
}

// TestRangeWritesFromF: f itself stores, deletes and updates other
// keys of the same map; every key nobody touched is seen exactly once,
// inserted keys at most once, with whole values; nested Range works.
func TestRangeWritesFromF(t *testing.T) {
	m := openMap(t, Config{Shards: 3})
	const n = 30000
	key := func(i int) []byte { return []byte(fmt.Sprintf("key-%07d", i)) }
	for i := 0; i < n; i++ {
		noErr(t, m.Store(key(i), key(i)))
	}
	seen := map[string]int{}
	nested := 0
	step := 0
	err := m.Range(func(k, v []byte) bool {
		seen[string(k)]++
		if !bytes.HasPrefix(v, k) {
			t.Errorf("value %q for key %q", v, k)
		}
		step++
		// Touch keys whose index is a multiple of 7 (deleted), 11 (updated);
		// insert new keys.
		i := step * 3 % n
		if i%7 == 0 {
			m.Delete(key(i))
		} else if i%11 == 0 {
			m.Store(key(i), append(key(i), []byte("-updated-with-a-longer-value")...))
		}
		noErr(t, m.Store([]byte(fmt.Sprintf("new-%07d", step)), []byte(fmt.Sprintf("new-%07d", step))))
		if step%5000 == 0 {
			c := 0
			noErr(t, m.Range(func(k, v []byte) bool { c++; return c < 100 }))
			nested++
		}
		return true
	})
	noErr(t, err)
	touchedSet := map[int]bool{}
	for s := 1; s <= step; s++ {
		if j := s * 3 % n; j%7 == 0 || j%11 == 0 {
			touchedSet[j] = true
		}
	}
	for i := 0; i < n; i++ {
		c := seen[string(key(i))]
		if touched := touchedSet[i]; !touched && c != 1 {
			t.Errorf("untouched key %d seen %d times", i, c)
		}
		if c > 1 {
			t.Errorf("key %d seen %d times", i, c)
		}
	}
	for k, c := range seen {
		if c > 1 {
			t.Errorf("%q seen %d times", k, c)
		}
	}
	t.Logf("steps %d, nested %d", step, nested)
}

// TestCloseRacesEveryKindOfCall: Close racing Save, a Range mid-iteration,
// a GetBatch re-read, a Batch retry, TypedMap calls and direct reads of
// every kind: no crash, no hang, every error ErrClosed.
func TestCloseRacesEveryKindOfCall(t *testing.T) {
	for round := 0; round < 6; round++ {
		cfg := Config{Shards: 2}
		switch round % 3 {
		case 1:
			cfg.RecordStats = true
		case 2:
			cfg.Eviction, cfg.MemoryLimit = EvictionS3FIFO, 256<<20
		}
		m, err := Open(cfg)
		noErr(t, err)
		big := bytes.Repeat([]byte("B"), 3000)
		for i := 0; i < 20000; i++ {
			k := []byte(fmt.Sprintf("k%011d", i)) // 12 bytes: fastGet
			if i%10 == 0 {
				noErr(t, m.Store(k, big))
			} else if i%10 == 1 {
				noErr(t, m.StoreTTL(k, k, time.Hour))
			} else {
				noErr(t, m.Store(k, k))
			}
		}
		dir := t.TempDir()
		var wg sync.WaitGroup
		errs := make(chan error, 100)
		stop := make(chan struct{})
		work := func(name string, f func(i int) error) {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := 0; ; i++ {
					if err := f(i); err != nil {
						if !errors.Is(err, ErrClosed) {
							errs <- fmt.Errorf("%s: %w", name, err)
						}
						return
					}
					select {
					case <-stop:
						return
					default:
					}
				}
			}()
		}
		key := func(i int) []byte { return []byte(fmt.Sprintf("k%011d", i%20000)) }
		work("Save", func(i int) error { _, err := m.Save(dir); return err })
		work("Range", func(i int) error { return m.Range(func(k, v []byte) bool { return true }) })
		work("LoadInto", func(i int) error {
			buf := make([]byte, 64)
			_, _, err := m.LoadInto(key(i), buf)
			if errors.Is(err, ErrBufferTooSmall) {
				err = nil
			}
			return err
		})
		work("Load", func(i int) error { _, _, err := m.Load(key(i)); return err })
		work("GetBatch", func(i int) error {
			g := NewGetBatch(8)
			for j := 0; j < 8; j++ {
				g.Get(key(i*8 + j))
			}
			return m.RunGets(g)
		})
		work("Batch", func(i int) error {
			b := NewBatch(8)
			for j := 0; j < 8; j++ {
				b.Get(key(i*8 + j))
				b.Put(key(i*8+j+1), key(i*8+j+1))
			}
			return m.Run(b)
		})
		tm := Of(m, Bytes, String)
		work("Typed", func(i int) error {
			if _, _, err := tm.Load(key(i)); err != nil {
				return err
			}
			_, _, err := tm.Swap(key(i), string(key(i)))
			return err
		})
		time.Sleep(time.Duration(5+round*7) * time.Millisecond)
		closed := make(chan error)
		go func() { closed <- m.Close() }()
		select {
		case err := <-closed:
			noErr(t, err)
		case <-time.After(30 * time.Second):
			t.Fatal("Close hung")
		}
		done := make(chan struct{})
		go func() { wg.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			close(stop)
			t.Fatal("calls racing Close hung")
		}
		close(errs)
		for err := range errs {
			t.Errorf("round %d: %v", round, err)
		}
	}
}

// TestNoAllocationsAcrossConfigs: LoadInto and Store allocate nothing in the
// configurations version 4 reads directly, through cgo, and with keys and
// values of the sizes that take the other paths (overlapping buffers too).
func TestNoAllocationsAcrossConfigs(t *testing.T) {
	if raceEnabled {
		t.Skip("race")
	}
	for _, cfg := range []Config{{Shards: 2}, {Shards: 2, RecordStats: true},
		{Shards: 2, Eviction: EvictionS3FIFO, MemoryLimit: 64 << 20}, {Shards: 2, NoDirectReads: true},
		{Shards: 2, DefaultTTL: time.Hour}} {
		m := openMap(t, cfg)
		name := fmt.Sprintf("{RecordStats %v, Eviction %v, NoDirectReads %v, DefaultTTL %v}", cfg.RecordStats, cfg.Eviction,
			cfg.NoDirectReads, cfg.DefaultTTL)
		for _, kl := range []int{3, 12, 40} {
			for _, vl := range []int{10, 100, 300} {
				k := patternKey(kl+vl, kl)
				noErr(t, m.Store(k, make([]byte, vl)))
				buf := make([]byte, 512)
				wantAllocs(t, fmt.Sprintf("%s: LoadInto key %d value %d", name, kl, vl), 0, func() { m.LoadInto(k, buf) })
				wantAllocs(t, fmt.Sprintf("%s: LoadInto overlapping key %d value %d", name, kl, vl), 0, func() {
					copy(buf, k)
					m.LoadInto(buf[:kl], buf)
				})
				wantAllocs(t, fmt.Sprintf("%s: Store key %d value %d", name, kl, vl), 0, func() { m.Store(k, buf[:vl]) })
			}
		}
	}
}

// TestRangeOverLargeEntriesAllocatesOnceWarm: a pass over a map holding an
// entry larger than Range's 64 KiB buffer grows the buffer; the grown one
// is kept for the next passes (iter.go), so once warm a pass allocates
// nothing. (It used to allocate at least 128 KiB on every pass.)
func TestRangeOverLargeEntriesAllocatesOnceWarm(t *testing.T) {
	if raceEnabled {
		t.Skip("race")
	}
	m := openMap(t, Config{Shards: 2})
	for i := 0; i < 100; i++ {
		noErr(t, m.Store(patternKey(i, 12), make([]byte, 32)))
	}
	noErr(t, m.StoreString("huge", make([]byte, 100<<10)))
	var mem runtime.MemStats
	runtime.ReadMemStats(&mem)
	before := mem.TotalAlloc
	allocs := testing.AllocsPerRun(50, func() {
		noErr(t, m.Range(func(k, v []byte) bool { return true }))
	})
	runtime.ReadMemStats(&mem)
	if allocs != 0 {
		t.Errorf("Range over a map with a 100 KiB entry: %v allocations (%d bytes) per call, want 0",
			allocs, (mem.TotalAlloc-before)/51)
	}
}

// TestTypedWrongLengthNeverSilent: a value of the wrong length for an integer
// codec is never read as a silent zero (or truncated) value, on any path.
func TestTypedWrongLengthNeverSilent(t *testing.T) {
	m := openMap(t, Config{Shards: 2})
	tm := Of(m, String, Uint32)
	for _, raw := range [][]byte{{}, {1}, {1, 2, 3}, {1, 2, 3, 4, 5}, make([]byte, 300)} {
		noErr(t, m.StoreString("k", raw))
		if v, ok, err := tm.Load("k"); !errors.Is(err, ErrDecode) {
			t.Errorf("Load of %d bytes: %v %v %v", len(raw), v, ok, err)
		}
		vals, found := make([]uint32, 1), make([]bool, 1)
		if _, err := tm.LoadMany([]string{"k"}, vals, found); !errors.Is(err, ErrDecode) {
			t.Errorf("LoadMany of %d bytes: %v %v %v", len(raw), vals, found, err)
		}
		if err := tm.Range(func(string, uint32) bool { return true }); !errors.Is(err, ErrDecode) {
			t.Errorf("Range over %d bytes: %v", len(raw), err)
		}
		if v, _, err := tm.LoadOrStore("k", 7); !errors.Is(err, ErrDecode) {
			t.Errorf("LoadOrStore of %d bytes: %v %v", len(raw), v, err)
		}
		if v, _, err := tm.LoadOrStoreTTL("k", 7, time.Hour); !errors.Is(err, ErrDecode) {
			t.Errorf("LoadOrStoreTTL of %d bytes: %v %v", len(raw), v, err)
		}
		if v, ok, err := tm.Swap("k", 9); !errors.Is(err, ErrDecode) || !ok {
			t.Errorf("Swap of %d bytes: %v %v %v", len(raw), v, ok, err)
		}
		noErr(t, m.StoreString("k", raw))
		if v, ok, err := tm.LoadAndDelete("k"); !errors.Is(err, ErrDecode) || !ok {
			t.Errorf("LoadAndDelete of %d bytes: %v %v %v", len(raw), v, ok, err)
		}
	}
}

func TestMaxKeyLenAtTheFastPathBounds(t *testing.T) {
	for _, max := range []int{1, 4, 8, 10, 16, 17} {
		m := openMap(t, Config{Shards: 2, MaxKeyLen: max})
		k := patternKey(max, max)
		noErr(t, m.Store(k, []byte("v")))
		buf := make([]byte, 8)
		if n, ok, err := m.LoadInto(k, buf); err != nil || !ok || n != 1 {
			t.Errorf("max %d: LoadInto at the limit: %d %v %v", max, n, ok, err)
		}
		long := patternKey(max+1, max+1)
		if _, ok, err := m.LoadInto(long, buf); !errors.Is(err, ErrKeyTooLarge) {
			t.Errorf("max %d: LoadInto over the limit: %v %v", max, ok, err)
		}
		if _, ok, err := m.Load(long); !errors.Is(err, ErrKeyTooLarge) {
			t.Errorf("max %d: Load over the limit: %v %v", max, ok, err)
		}
		g := NewGetBatch(2)
		g.Get(k)
		g.Get(long)
		noErr(t, m.RunGets(g))
		if !g.OK(0) || !errors.Is(g.Err(1), ErrKeyTooLarge) {
			t.Errorf("max %d: GetBatch: %v %v", max, g.Status(0), g.Status(1))
		}
		b := NewBatch(2)
		b.Get(k)
		b.Get(long)
		noErr(t, m.Run(b))
		if !b.OK(0) || !errors.Is(b.Err(1), ErrKeyTooLarge) {
			t.Errorf("max %d: Batch: %v %v", max, b.Status(0), b.Status(1))
		}
	}
}

// TestDirectTTLNeverTornNorMissing: permanent keys (8 to 16 bytes: fastGet
// and the general path) overwritten with and without a deadline (Store,
// StoreTTL of an hour, Expire of an hour, Persist), values of 0 to 300
// bytes (the deadline's offset moves with the value's length), in a plain
// map, one that counts reads and an evicting one with room enough: a
// reader never misses one nor reads a value not written whole for it.
func TestDirectTTLNeverTornNorMissing(t *testing.T) {
	for _, cfg := range []Config{{Shards: 1}, {Shards: 1, RecordStats: true},
		{Shards: 1, Eviction: EvictionS3FIFO, MemoryLimit: 256 << 20}, {Shards: 1, DefaultTTL: time.Hour}} {
		m := openMap(t, cfg)
		directOf(t, m)
		const permanent = 12
		pkey := func(i int) []byte { return patternKey(i, 8+i%9) }
		val := func(key []byte, v uint64) []byte {
			n := 8 + int(keyHash(v, key)%300)
			if v%3 == 0 {
				n = 8 + int(keyHash(v, key)%25)
			}
			out := binary.LittleEndian.AppendUint64(make([]byte, 0, n), v)
			return append(out, patternValue(key, v, n-8)...)
		}
		check := func(key, got []byte) error {
			if len(got) < 8 {
				return fmt.Errorf("%d bytes", len(got))
			}
			if want := val(key, binary.LittleEndian.Uint64(got)); !bytes.Equal(got, want) {
				return fmt.Errorf("%d bytes, not a value written whole for the key", len(got))
			}
			return nil
		}
		var version atomic.Uint64
		for i := 0; i < permanent; i++ {
			noErr(t, m.Store(pkey(i), val(pkey(i), version.Add(1))))
		}
		wrng := rand.New(rand.NewPCG(5, 6))
		var reads, writes atomic.Int64
		writer := func() bool {
			i := wrng.IntN(permanent)
			var err error
			switch wrng.IntN(5) {
			case 0:
				err = m.Store(pkey(i), val(pkey(i), version.Add(1)))
			case 1, 2:
				err = m.StoreTTL(pkey(i), val(pkey(i), version.Add(1)), time.Hour)
			case 3:
				_, err = m.Expire(pkey(i), time.Hour+time.Duration(wrng.IntN(1000))*time.Millisecond)
			case 4:
				_, err = m.Persist(pkey(i))
			}
			if err != nil {
				t.Errorf("writer: %v", err)
				return false
			}
			// churn around them
			if wrng.IntN(2) == 0 {
				m.StoreTTL(patternKey(1000+wrng.IntN(30), 8), []byte("churn"), time.Millisecond)
			} else {
				m.Delete(patternKey(1000+wrng.IntN(30), 8))
			}
			writes.Add(1)
			return true
		}
		reader := func(r int) func() bool {
			rng := rand.New(rand.NewPCG(uint64(r), 9))
			buf := make([]byte, 512)
			return func() bool {
				i := rng.IntN(permanent)
				var got []byte
				var ok bool
				var err error
				switch rng.IntN(3) {
				case 0:
					got, ok, err = m.Load(pkey(i))
				case 1:
					var n int
					n, ok, err = m.LoadInto(pkey(i), buf)
					got = buf[:n]
				case 2:
					got, ok, err = m.AppendLoad(buf[:0:40], pkey(i))
					if errors.Is(err, ErrBufferTooSmall) {
						return true
					}
				}
				if err != nil || !ok {
					t.Errorf("%+v: permanent key %d: present %v, %v", cfg, i, ok, err)
					return false
				}
				if e := check(pkey(i), got); e != nil {
					t.Errorf("%+v: permanent key %d: %v", cfg, i, e)
					return false
				}
				reads.Add(1)
				return true
			}
		}
		stressFor(writer, reader(0), reader(1))
		t.Logf("%d reads, %d writes", reads.Load(), writes.Load())
	}
}

// TestHugeValueSizeHint: a ValueSizeHint whose room for every key would
// overflow int (it used to panic in slice bounds) reserves no more than the
// map's largest value per key, and the batch runs.
func TestHugeValueSizeHint(t *testing.T) {
	m := openMap(t, Config{Shards: 2, MaxValueLen: 1 << 10})
	noErr(t, m.StoreString("k", []byte("v")))
	g := NewGetBatch(3)
	g.ValueSizeHint = math.MaxInt / 2
	for range 3 {
		g.GetString("k")
	}
	noErr(t, m.RunGets(g))
	for i := range 3 {
		if v, ok := g.Value(i); !ok || string(v) != "v" {
			t.Fatalf("RunGets, get %d: %q, %v", i, v, ok)
		}
	}
	b := NewBatch(3)
	b.ValueSizeHint = math.MaxInt / 2
	for range 3 {
		b.GetString("k")
	}
	b.PutString("k2", []byte("w"))
	noErr(t, m.Run(b))
	for i := range 3 {
		if v, ok := b.Value(i); !ok || string(v) != "v" {
			t.Fatalf("Run, get %d: %q, %v", i, v, ok)
		}
	}
	if cap(g.out) > 3<<10 || cap(b.out) > 3<<10 {
		t.Fatalf("reserved %d and %d bytes for 3 values of at most 1 KiB", cap(g.out), cap(b.out))
	}
}
