//go:build linux && cgo

package numashard

import (
	"bytes"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// shortTTL is the time to live of the entries the tests watch expire: long
// enough to be seen before the deadline on an idle machine, short enough
// to keep the tests quick. A read issued later than the deadline (measured
// with the same monotonic clock the engine uses) must miss; a read issued
// before it must hit, which a test checks only when it can prove the read
// was issued in time (a loaded machine may stall the test goroutine).
const shortTTL = 40 * time.Millisecond

// loadBefore loads key and fails the test if it is absent although the read
// began before deadline.
func loadBefore(t *testing.T, m *Map, key string, deadline time.Time) {
	t.Helper()
	issued := time.Now()
	if _, ok, err := m.LoadString(key); err != nil || (!ok && issued.Before(deadline)) {
		t.Fatalf("Load(%q) before its deadline = %v, %v", key, ok, err)
	}
}

// sleepPast sleeps until just after deadline.
func sleepPast(deadline time.Time) { time.Sleep(time.Until(deadline) + 2*time.Millisecond) }

func wantGone(t *testing.T, m *Map, key string) {
	t.Helper()
	if v, ok, err := m.LoadString(key); ok || err != nil {
		t.Fatalf("Load(%q) after its deadline = %q, %v, %v", key, v, ok, err)
	}
	if _, ok, err := m.TTLString(key); ok || err != nil {
		t.Fatalf("TTL(%q) after its deadline = %v, %v", key, ok, err)
	}
}

func TestStoreTTLExpires(t *testing.T) {
	m := openMap(t, Config{})
	start := time.Now()
	noErr(t, m.StoreTTLString("short", []byte("s"), shortTTL))
	noErr(t, m.StoreTTLString("long", []byte("l"), time.Hour))
	noErr(t, m.StoreTTLString("never", []byte("n"), NoExpiry))
	noErr(t, m.StoreString("plain", []byte("p")))
	deadline := start.Add(shortTTL)
	loadBefore(t, m, "short", deadline)
	if n := must[int](t)(m.Len()); n != 4 && time.Now().Before(deadline) {
		t.Fatalf("Len before the deadline = %d", n)
	}

	sleepPast(deadline)
	wantGone(t, m, "short")
	for _, k := range []string{"long", "never", "plain"} {
		if v, ok, err := m.LoadString(k); !ok || err != nil || v[0] != k[0] {
			t.Fatalf("Load(%q) = %q %v %v", k, v, ok, err)
		}
	}
	if n := must[int](t)(m.Len()); n != 3 {
		t.Fatalf("Len after the deadline = %d, want 3", n)
	}
	seen := map[string]bool{}
	noErr(t, m.Range(func(k, _ []byte) bool { seen[string(k)] = true; return true }))
	if len(seen) != 3 || seen["short"] {
		t.Fatalf("Range after the deadline saw %v", seen)
	}
	// The expired key is free again: StoreIfAbsent stores (and the write
	// reclaims the expired entry, if the shard thread has not yet).
	if stored, err := m.StoreIfAbsentTTLString("short", []byte("again"), time.Hour); !stored || err != nil {
		t.Fatalf("StoreIfAbsentTTL on an expired key = %v %v", stored, err)
	}
	if v, ok, _ := m.LoadString("short"); !ok || string(v) != "again" {
		t.Fatalf("Load after re-store = %q %v", v, ok)
	}
	if st := must[Stats](t)(m.Stats()); st.Expirations != 1 {
		t.Fatalf("Expirations = %d, want 1", st.Expirations)
	}
}

func TestTTLExpirePersist(t *testing.T) {
	m := openMap(t, Config{})
	noErr(t, m.StoreTTLString("a", []byte("1"), time.Minute))
	noErr(t, m.StoreString("b", []byte("2")))

	if ttl, ok, err := m.TTLString("a"); !ok || err != nil || ttl <= time.Minute-10*time.Second || ttl > time.Minute {
		t.Fatalf("TTL(a) = %v %v %v, want just under 1m", ttl, ok, err)
	}
	if ttl, ok, err := m.TTLString("b"); !ok || err != nil || ttl != NoExpiry {
		t.Fatalf("TTL(b) = %v %v %v, want NoExpiry", ttl, ok, err)
	}
	if ttl, ok, err := m.TTLString("absent"); ok || err != nil || ttl != 0 {
		t.Fatalf("TTL(absent) = %v %v %v", ttl, ok, err)
	}

	// Expire gives a deadline, keeping the value; Persist takes it away.
	if found, err := m.ExpireString("b", time.Hour); !found || err != nil {
		t.Fatalf("Expire(b) = %v %v", found, err)
	}
	if ttl, ok, _ := m.TTLString("b"); !ok || ttl <= 59*time.Minute || ttl > time.Hour {
		t.Fatalf("TTL(b) after Expire = %v %v", ttl, ok)
	}
	if v, ok, _ := m.LoadString("b"); !ok || string(v) != "2" {
		t.Fatalf("Expire changed the value: %q %v", v, ok)
	}
	if found, err := m.PersistString("a"); !found || err != nil {
		t.Fatalf("Persist(a) = %v %v", found, err)
	}
	if ttl, ok, _ := m.TTLString("a"); !ok || ttl != NoExpiry {
		t.Fatalf("TTL(a) after Persist = %v %v", ttl, ok)
	}
	if found, err := m.ExpireString("a", NoExpiry); !found || err != nil {
		t.Fatalf("Expire(a, NoExpiry) = %v %v", found, err)
	}
	if found, err := m.ExpireString("absent", time.Hour); found || err != nil {
		t.Fatalf("Expire(absent) = %v %v", found, err)
	}
	if found, err := m.PersistString("absent"); found || err != nil {
		t.Fatalf("Persist(absent) = %v %v", found, err)
	}

	// A short Expire: gone after it, like a StoreTTL.
	start := time.Now()
	if found, err := m.ExpireString("b", shortTTL); !found || err != nil {
		t.Fatalf("Expire(b, short) = %v %v", found, err)
	}
	loadBefore(t, m, "b", start.Add(shortTTL))
	sleepPast(start.Add(shortTTL))
	wantGone(t, m, "b")
	if found, _ := m.ExpireString("b", time.Hour); found {
		t.Fatal("Expire found an expired key")
	}

	// Expire with ttl <= 0 removes at once and counts an expiration.
	before := must[Stats](t)(m.Stats()).Expirations
	for i, ttl := range []time.Duration{0, -time.Second} {
		k := fmt.Sprint("now", i)
		noErr(t, m.StoreString(k, []byte("x")))
		if found, err := m.ExpireString(k, ttl); !found || err != nil {
			t.Fatalf("Expire(%v) = %v %v", ttl, found, err)
		}
		wantGone(t, m, k)
	}
	if st := must[Stats](t)(m.Stats()); st.Expirations < before+2 {
		t.Fatalf("Expirations %d -> %d after two Expire(0)", before, st.Expirations)
	}

	// A TTL is kept in whole milliseconds, rounded up: 1ns lives 1 ms.
	noErr(t, m.StoreTTLString("tiny", []byte("t"), time.Nanosecond))
	if ttl, ok, _ := m.TTLString("tiny"); ok && ttl != time.Millisecond {
		t.Fatalf("TTL of a 1ns entry = %v", ttl)
	}
	noErr(t, m.StoreTTLString("frac", []byte("f"), 1500*time.Millisecond+1))
	if ttl, ok, _ := m.TTLString("frac"); !ok || ttl <= time.Second || ttl > 1501*time.Millisecond {
		t.Fatalf("TTL of a 1.5s+1ns entry = %v %v", ttl, ok)
	}
}

func TestStoreTTLRejectsNonPositive(t *testing.T) {
	m := openMap(t, Config{})
	noErr(t, m.StoreString("k", []byte("old")))
	for _, ttl := range []time.Duration{0, -1, -time.Hour} {
		wantErr(t, m.StoreTTLString("k", []byte("new"), ttl), ErrInvalidArgument)
		wantErr(t, m.StoreTTLString("fresh", []byte("new"), ttl), ErrInvalidArgument)
		stored, err := m.StoreIfAbsentTTLString("fresh", []byte("new"), ttl)
		wantErr(t, err, ErrInvalidArgument)
		if stored {
			t.Fatal("StoreIfAbsentTTL stored with a bad ttl")
		}
	}
	if v, ok, _ := m.LoadString("k"); !ok || string(v) != "old" {
		t.Fatalf("a rejected StoreTTL changed the value: %q", v)
	}
	if _, ok, _ := m.LoadString("fresh"); ok {
		t.Fatal("a rejected StoreTTL stored")
	}
	if ttl, ok, _ := m.TTLString("k"); !ok || ttl != NoExpiry {
		t.Fatalf("a rejected StoreTTL changed the deadline: %v", ttl)
	}
}

func TestStoreIfAbsentTTL(t *testing.T) {
	m := openMap(t, Config{})
	if stored, err := m.StoreIfAbsentTTLString("k", []byte("v1"), time.Hour); !stored || err != nil {
		t.Fatalf("first StoreIfAbsentTTL = %v %v", stored, err)
	}
	// Present: nothing changes, neither the value nor the deadline.
	if stored, err := m.StoreIfAbsentTTLString("k", []byte("v2"), time.Second); stored || err != nil {
		t.Fatalf("second StoreIfAbsentTTL = %v %v", stored, err)
	}
	if v, _, _ := m.LoadString("k"); string(v) != "v1" {
		t.Fatalf("value %q", v)
	}
	if ttl, _, _ := m.TTLString("k"); ttl <= 59*time.Minute {
		t.Fatalf("deadline changed: %v", ttl)
	}
}

func TestDefaultTTL(t *testing.T) {
	m := openMap(t, Config{DefaultTTL: shortTTL})
	start := time.Now()
	noErr(t, m.StoreString("default", []byte("d")))
	b := NewBatch(4)
	b.PutString("batch-default", []byte("bd"))
	b.PutTTLString("batch-never", []byte("bn"), NoExpiry)
	noErr(t, m.Run(b))
	noErr(t, m.StoreTTLString("never", []byte("n"), NoExpiry))
	noErr(t, m.StoreTTLString("long", []byte("l"), time.Hour))
	if ttl, ok, _ := m.TTLString("default"); ok && (ttl > shortTTL || ttl <= 0) {
		t.Fatalf("TTL under the default = %v", ttl)
	}
	deadline := start.Add(shortTTL)
	loadBefore(t, m, "default", deadline)
	sleepPast(time.Now().Add(shortTTL)) // past every default deadline set above
	wantGone(t, m, "default")
	wantGone(t, m, "batch-default")
	for _, k := range []string{"never", "long", "batch-never"} {
		if _, ok, _ := m.LoadString(k); !ok {
			t.Fatalf("%s expired", k)
		}
	}
	if ttl, _, _ := m.TTLString("batch-never"); ttl != NoExpiry {
		t.Fatalf("batch-never TTL %v", ttl)
	}
}

func TestCacheConfig(t *testing.T) {
	for _, cfg := range []Config{
		{Eviction: EvictionS3FIFO},                      // eviction needs a limit
		{Eviction: Eviction(7), MemoryLimit: 1 << 20},   // unknown policy
		{DefaultTTL: -time.Second},                      // negative default
		{Eviction: EvictionS3FIFO, DefaultTTL: -1},      // both
		{Eviction: -1, MemoryLimit: 1 << 20, Shards: 1}, // unknown policy
	} {
		if m, err := Open(cfg); !errors.Is(err, ErrInvalidArgument) {
			if m != nil {
				m.Close()
			}
			t.Fatalf("Open(%+v) = %v, want ErrInvalidArgument", cfg, err)
		}
	}
	if s := EvictionS3FIFO.String() + " " + EvictionNone.String() + " " + Eviction(9).String(); s != "s3fifo none Eviction(9)" {
		t.Fatalf("Eviction names %q", s)
	}
	// DefaultTTL = NoExpiry is the same as 0.
	m := openMap(t, Config{DefaultTTL: NoExpiry})
	noErr(t, m.StoreString("k", nil))
	if ttl, ok, _ := m.TTLString("k"); !ok || ttl != NoExpiry {
		t.Fatalf("DefaultTTL NoExpiry gave TTL %v", ttl)
	}
}

// cacheConfig is a small evicting map: 4 shards of 16 KiB.
func cacheConfig() Config {
	return Config{Shards: 4, MemoryLimit: 64 << 10, Eviction: EvictionS3FIFO}
}

func checkWithinLimit(t *testing.T, m *Map, limit uint64) Stats {
	t.Helper()
	st := must[Stats](t)(m.Stats())
	if st.Bytes > limit || st.MemoryLimit != limit {
		t.Fatalf("Bytes %d, MemoryLimit %d, limit %d", st.Bytes, st.MemoryLimit, limit)
	}
	share := limit / uint64(st.Shards)
	for _, s := range st.PerShard {
		if s.Bytes > share {
			t.Fatalf("shard %d holds %d bytes, its share is %d", s.Shard, s.Bytes, share)
		}
	}
	return st
}

func TestEvictionKeepsWithinLimit(t *testing.T) {
	cfg := cacheConfig()
	m := openMap(t, cfg)
	val := bytes.Repeat([]byte("v"), 32)
	const n = 20000 // ~1.3 MB of entries into a 64 KiB cache
	for i := 0; i < n; i++ {
		if err := m.StoreString(fmt.Sprintf("key-%011d", i), val); err != nil {
			t.Fatalf("Store %d under eviction: %v", i, err)
		}
		if i%500 == 0 {
			checkWithinLimit(t, m, cfg.MemoryLimit)
		}
	}
	st := checkWithinLimit(t, m, cfg.MemoryLimit)
	l := must[int](t)(m.Len())
	if st.Evictions == 0 || uint64(l) != st.Entries || l == 0 || l+int(st.Evictions) != n {
		t.Fatalf("Len %d, entries %d, evictions %d: want len + evictions = %d", l, st.Entries, st.Evictions, n)
	}
	var evictions uint64
	for _, s := range st.PerShard {
		evictions += s.Evictions
	}
	if evictions != st.Evictions {
		t.Fatalf("per-shard evictions sum to %d, total %d", evictions, st.Evictions)
	}

	// Batches never answer ErrFull either.
	b := NewBatch(256)
	for round := 0; round < 20; round++ {
		b.Reset()
		for i := 0; i < 256; i++ {
			if i%2 == 0 {
				b.PutString(fmt.Sprintf("batch-%03d-%04d", round, i), val)
			} else {
				b.PutTTLString(fmt.Sprintf("batch-%03d-%04d", round, i), val, time.Hour)
			}
		}
		noErr(t, m.Run(b))
		for i := 0; i < b.Len(); i++ {
			if err := b.Err(i); err != nil || !b.OK(i) {
				t.Fatalf("batch put %d under eviction: %v", i, err)
			}
		}
	}
	checkWithinLimit(t, m, cfg.MemoryLimit)

	// An entry larger than a shard's share (16 KiB) is refused, and nothing changes.
	before := must[Stats](t)(m.Stats())
	wantErr(t, m.StoreString("huge", make([]byte, 20<<10)), ErrFull)
	wantErr(t, m.StoreTTLString("huge", make([]byte, 20<<10), time.Hour), ErrFull)
	if _, ok, _ := m.LoadString("huge"); ok {
		t.Fatal("the refused entry is present")
	}
	after := checkWithinLimit(t, m, cfg.MemoryLimit)
	if after.Entries != before.Entries || after.Evictions != before.Evictions {
		t.Fatalf("a refused store evicted: entries %d -> %d, evictions %d -> %d",
			before.Entries, after.Entries, before.Evictions, after.Evictions)
	}
	// A map without eviction answers ErrFull for the same workload.
	full := openMap(t, Config{Shards: 4, MemoryLimit: 64 << 10})
	var err error
	for i := 0; i < n && err == nil; i++ {
		err = full.StoreString(fmt.Sprintf("key-%011d", i), val)
	}
	wantErr(t, err, ErrFull)
}

// TestEvictionConcurrent: goroutines store (with and without short TTLs),
// load, batch, expire and iterate a small cache while another watches the
// stats: no ErrFull, no torn value, and every sample of the memory stays
// within the limit.
func TestEvictionConcurrent(t *testing.T) {
	cfg := cacheConfig()
	m := openMap(t, cfg)
	const workers, perWorker = 4, 3000
	var wg sync.WaitGroup
	var done atomic.Bool
	errs := make(chan error, workers+1)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			b := NewBatch(16)
			for i := 0; i < perWorker; i++ {
				k := fmt.Sprintf("w%d-%06d", w, i%2000)
				// The value names its key: a torn or mixed value shows.
				v := bytes.Repeat([]byte(k), 3)
				var err error
				switch i % 6 {
				case 0:
					err = m.StoreString(k, v)
				case 1:
					err = m.StoreTTLString(k, v, time.Duration(1+i%5)*time.Millisecond)
				case 2:
					if got, ok, e := m.LoadString(fmt.Sprintf("w%d-%06d", w, (i*7)%2000)); e != nil {
						err = e
					} else if ok && !bytes.Equal(got, bytes.Repeat(got[:len(k)], 3)) {
						err = fmt.Errorf("torn value %q", got)
					}
				case 3:
					b.Reset()
					for j := 0; j < 16; j++ {
						kj := fmt.Sprintf("w%d-b%06d", w, (i+j)%1000)
						b.PutTTLString(kj, bytes.Repeat([]byte(kj), 3), time.Second)
					}
					if err = m.Run(b); err == nil {
						for j := 0; j < b.Len(); j++ {
							if err = b.Err(j); err != nil {
								break
							}
						}
					}
				case 4:
					if _, err = m.ExpireString(k, time.Duration(i%3)*time.Millisecond); err == nil {
						var ttl time.Duration
						var ok bool
						ttl, ok, err = m.TTLString(k)
						if err == nil && ok && ttl > 2*time.Millisecond && ttl != NoExpiry {
							err = fmt.Errorf("TTL %v after Expire(<= 2ms)", ttl)
						}
					}
				case 5:
					if i%60 != 5 {
						break
					}
					var torn error
					err = m.Range(func(k, v []byte) bool {
						if !bytes.Equal(v, bytes.Repeat(k, 3)) {
							torn = fmt.Errorf("Range: torn value %q for %q", v, k)
							return false
						}
						return true
					})
					if err == nil {
						err = torn
					}
				}
				if err != nil {
					errs <- fmt.Errorf("worker %d op %d: %w", w, i, err)
					return
				}
			}
		}()
	}
	watcher := make(chan struct{})
	go func() {
		defer close(watcher)
		for !done.Load() {
			st, err := m.Stats()
			if err == nil && st.Bytes > cfg.MemoryLimit {
				err = fmt.Errorf("bytes %d over the limit %d", st.Bytes, cfg.MemoryLimit)
			}
			if err != nil {
				errs <- err
				return
			}
			time.Sleep(time.Millisecond)
		}
	}()
	wg.Wait()
	done.Store(true)
	<-watcher
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	st := checkWithinLimit(t, m, cfg.MemoryLimit)
	if st.Evictions == 0 {
		t.Fatalf("no eviction: %+v", st.CacheStats)
	}
}

func TestCacheStatsCounters(t *testing.T) {
	for _, cfg := range []Config{{RecordStats: true}, cacheConfig(), {}} {
		counting := cfg.RecordStats || cfg.Eviction != EvictionNone
		m := openMap(t, cfg)
		for i := 0; i < 100; i++ {
			noErr(t, m.StoreString(fmt.Sprint(i), []byte("v")))
		}
		before := must[Stats](t)(m.Stats())
		dst := make([]byte, 8)
		for i := 0; i < 100; i++ {
			if _, ok, err := m.LoadString(fmt.Sprint(i)); !ok || err != nil {
				t.Fatalf("%+v: Load %d = %v %v", cfg, i, ok, err)
			}
			if i%2 == 1 {
				continue
			}
			if _, ok, err := m.LoadIntoString(fmt.Sprint("miss", i), dst); ok || err != nil {
				t.Fatalf("%+v: LoadInto miss %d = %v %v", cfg, i, ok, err)
			}
		}
		b := NewBatch(20)
		for i := 0; i < 10; i++ {
			b.GetString(fmt.Sprint(i))
			if i%2 == 0 {
				b.GetString(fmt.Sprint("miss", i))
			}
		}
		noErr(t, m.Run(b))
		st := must[Stats](t)(m.Stats())
		hits, misses := st.Hits-before.Hits, st.Misses-before.Misses
		if counting && (hits != 110 || misses != 55) {
			t.Fatalf("%+v: hits %d misses %d, want 110 and 55", cfg, hits, misses)
		}
		if !counting && (st.Hits != 0 || st.Misses != 0) {
			t.Fatalf("%+v: counted reads without RecordStats: %+v", cfg, st.CacheStats)
		}
		var sum CacheStats
		for _, s := range st.PerShard {
			sum.Hits += s.Hits
			sum.Misses += s.Misses
			sum.Evictions += s.Evictions
			sum.Expirations += s.Expirations
		}
		if sum != st.CacheStats {
			t.Fatalf("per-shard sums %+v, totals %+v", sum, st.CacheStats)
		}
		if r := float64(hits) / float64(hits+misses); counting && before.Hits+before.Misses == 0 && st.HitRatio() != r {
			t.Fatalf("HitRatio %v", st.HitRatio())
		}
		if txt := must[string](t)(m.PrometheusText()); counting && !bytes.Contains([]byte(txt), []byte("hits")) {
			t.Fatalf("prometheus text has no hits:\n%s", txt)
		}
	}
	if (CacheStats{}).HitRatio() != 0 {
		t.Fatal("HitRatio of nothing")
	}
}

func TestBatchTTL(t *testing.T) {
	m := openMap(t, Config{})
	noErr(t, m.StoreString("old", []byte("o")))
	noErr(t, m.StoreTTLString("dated", []byte("d"), time.Hour))
	start := time.Now()
	b := NewBatch(16)
	short := b.PutTTLString("short", []byte("s"), shortTTL)
	long := b.PutTTLString("long", []byte("l"), time.Hour)
	absent := b.PutIfAbsentTTLString("pia", []byte("p"), time.Hour)
	present := b.PutIfAbsentTTLString("old", []byte("x"), time.Hour)
	swap := b.SwapTTLString("old", []byte("o2"), 2*time.Hour)
	bad := b.PutTTLString("bad", []byte("b"), 0)
	badSwap := b.SwapTTLString("old", []byte("never"), -time.Second)
	expire := b.ExpireString("dated", 3*time.Hour)
	expireMissing := b.ExpireString("missing", time.Hour)
	persist := b.PersistString("long")
	ttlLong := b.GetTTLString("long") // after the persist: ops on a key keep their order
	ttlOld := b.GetTTLString("old")
	ttlDated := b.GetTTLString("dated")
	ttlMissing := b.GetTTLString("missing")
	get := b.GetString("old")
	noErr(t, m.Run(b))

	for _, i := range []int{short, long, absent, swap, expire, persist, ttlLong, ttlOld, ttlDated, get} {
		if !b.OK(i) || b.Err(i) != nil {
			t.Fatalf("op %d: status %v", i, b.Status(i))
		}
	}
	if b.OK(present) || b.Status(present) != StatusExists {
		t.Fatalf("PutIfAbsentTTL on a present key: %v", b.Status(present))
	}
	for _, i := range []int{bad, badSwap} {
		if b.OK(i) || !errors.Is(b.Err(i), ErrInvalidArgument) {
			t.Fatalf("op %d with ttl <= 0: %v", i, b.Err(i))
		}
		if _, ok := b.Value(i); ok {
			t.Fatalf("op %d with ttl <= 0 has a value", i)
		}
	}
	if b.OK(expireMissing) || b.Status(expireMissing) != StatusNotFound {
		t.Fatalf("Expire(missing): %v", b.Status(expireMissing))
	}
	if v, ok := b.Value(swap); !ok || string(v) != "o" {
		t.Fatalf("SwapTTL previous %q %v", v, ok)
	}
	if v, ok := b.Value(get); !ok || string(v) != "o2" {
		t.Fatalf("value after SwapTTL %q %v (a rejected swap must change nothing)", v, ok)
	}
	if ttl, ok := b.TTL(ttlLong); !ok || ttl != NoExpiry {
		t.Fatalf("TTL(long) after Persist = %v %v", ttl, ok)
	}
	if ttl, ok := b.TTL(ttlOld); !ok || ttl <= 119*time.Minute || ttl > 2*time.Hour {
		t.Fatalf("TTL(old) after SwapTTL = %v %v", ttl, ok)
	}
	if ttl, ok := b.TTL(ttlDated); !ok || ttl <= 179*time.Minute || ttl > 3*time.Hour {
		t.Fatalf("TTL(dated) after Expire = %v %v", ttl, ok)
	}
	if ttl, ok := b.TTL(ttlMissing); ok || ttl != 0 {
		t.Fatalf("TTL(missing) = %v %v", ttl, ok)
	}
	if _, ok := b.TTL(get); ok {
		t.Fatal("TTL of a get op")
	}
	if _, ok, _ := m.LoadString("bad"); ok {
		t.Fatal("a rejected PutTTL stored")
	}

	// The short entry expires; a batch sees it gone too.
	loadBefore(t, m, "short", start.Add(shortTTL))
	sleepPast(start.Add(shortTTL))
	b.Reset()
	g := b.GetString("short")
	tt := b.GetTTLString("short")
	e := b.ExpireString("short", time.Hour)
	p := b.PersistString("short")
	noErr(t, m.Run(b))
	for _, i := range []int{g, tt, e, p} {
		if b.Status(i) != StatusNotFound {
			t.Fatalf("op %d on an expired key: %v", i, b.Status(i))
		}
	}
	wantGone(t, m, "short")
}

func TestTypedMapTTL(t *testing.T) {
	m := openMap(t, Config{})
	sessions := Of(m, String, Int64)
	noErr(t, sessions.StoreTTL("s1", 42, time.Hour))
	if stored, err := sessions.StoreIfAbsentTTL("s1", 7, time.Hour); stored || err != nil {
		t.Fatalf("StoreIfAbsentTTL on present = %v %v", stored, err)
	}
	if stored, err := sessions.StoreIfAbsentTTL("s2", 7, shortTTL); !stored || err != nil {
		t.Fatalf("StoreIfAbsentTTL on absent = %v %v", stored, err)
	}
	if ttl, ok, err := sessions.TTL("s1"); !ok || err != nil || ttl <= 59*time.Minute {
		t.Fatalf("TTL = %v %v %v", ttl, ok, err)
	}
	if found, err := sessions.Persist("s1"); !found || err != nil {
		t.Fatalf("Persist = %v %v", found, err)
	}
	if ttl, _, _ := sessions.TTL("s1"); ttl != NoExpiry {
		t.Fatalf("TTL after Persist = %v", ttl)
	}
	if found, err := sessions.Expire("s1", 0); !found || err != nil {
		t.Fatalf("Expire(0) = %v %v", found, err)
	}
	if _, ok, _ := sessions.Load("s1"); ok {
		t.Fatal("Expire(0) left the entry")
	}
	wantErr(t, sessions.StoreTTL("s3", 1, 0), ErrInvalidArgument)
}

func TestCacheErrors(t *testing.T) {
	m := openMap(t, Config{MaxKeyLen: 4, MaxValueLen: 8})
	long := "toolong"
	wantErr(t, m.StoreTTLString(long, nil, time.Hour), ErrKeyTooLarge)
	wantErr(t, m.StoreTTLString("k", make([]byte, 9), time.Hour), ErrValueTooLarge)
	_, err := m.StoreIfAbsentTTLString(long, nil, time.Hour)
	wantErr(t, err, ErrKeyTooLarge)
	_, err = m.ExpireString(long, time.Hour)
	wantErr(t, err, ErrKeyTooLarge)
	_, err = m.PersistString(long)
	wantErr(t, err, ErrKeyTooLarge)
	_, _, err = m.TTLString(long)
	wantErr(t, err, ErrKeyTooLarge)

	// Without eviction, a full map refuses a store with a TTL too.
	full := openMap(t, Config{Shards: 1, MemoryLimit: 256})
	err = nil
	for i := 0; i < 100 && err == nil; i++ {
		err = full.StoreTTLString(fmt.Sprint(i), make([]byte, 32), time.Hour)
	}
	wantErr(t, err, ErrFull)

	noErr(t, m.StoreString("k", nil))
	noErr(t, m.Close())
	wantErr(t, m.StoreTTLString("k", nil, time.Hour), ErrClosed)
	_, err = m.StoreIfAbsentTTLString("k", nil, time.Hour)
	wantErr(t, err, ErrClosed)
	_, err = m.ExpireString("k", time.Hour)
	wantErr(t, err, ErrClosed)
	_, err = m.PersistString("k")
	wantErr(t, err, ErrClosed)
	_, _, err = m.TTLString("k")
	wantErr(t, err, ErrClosed)
	b := NewBatch(1)
	b.GetTTLString("k")
	wantErr(t, m.Run(b), ErrClosed)
	if _, ok := b.TTL(0); ok {
		t.Fatal("TTL result from a closed map")
	}
}

// TestWritesAndDeadlines: which writes replace an entry's deadline (Store,
// Swap: the map's default, as Redis's SET) and which keep it
// (CompareAndSwap, Add), as cache.go documents.
func TestWritesAndDeadlines(t *testing.T) {
	for _, def := range []time.Duration{0, 2 * time.Hour} {
		m := openMap(t, Config{DefaultTTL: def})
		want := NoExpiry // what a write without a TTL gets
		if def != 0 {
			want = def
		}
		near := func(ttl, want time.Duration) bool {
			return ttl == want || (want != NoExpiry && ttl > want-time.Minute && ttl <= want)
		}
		reset := func(k string) {
			noErr(t, m.StoreTTLString(k, le64(1), time.Hour))
		}
		for _, c := range []struct {
			name  string
			write func(k string) error
			keeps bool
		}{
			{"Store", func(k string) error { return m.StoreString(k, le64(2)) }, false},
			{"Swap", func(k string) error { _, _, err := m.SwapString(k, le64(2)); return err }, false},
			{"CompareAndSwap", func(k string) error {
				ok, err := m.CompareAndSwapString(k, le64(1), le64(2))
				if err == nil && !ok {
					err = fmt.Errorf("did not swap")
				}
				return err
			}, true},
			{"Add", func(k string) error { _, err := m.AddString(k, 1); return err }, true},
			{"StoreIfAbsent", func(k string) error { _, err := m.StoreIfAbsentString(k, le64(2)); return err }, true},
			{"LoadOrStore", func(k string) error { _, _, err := m.LoadOrStoreString(k, le64(2)); return err }, true},
		} {
			reset(c.name)
			noErr(t, c.write(c.name))
			ttl, ok, err := m.TTLString(c.name)
			w := want
			if c.keeps {
				w = time.Hour
			}
			if !ok || err != nil || !near(ttl, w) {
				t.Fatalf("default %v: TTL after %s over a 1h entry = %v %v %v, want %v", def, c.name, ttl, ok, err, w)
			}
		}
		// Writes that create an entry give it the default.
		_, err := m.AddString("fresh-counter", 1)
		noErr(t, err)
		if ttl, _, _ := m.TTLString("fresh-counter"); !near(ttl, want) {
			t.Fatalf("default %v: TTL of a new counter %v", def, ttl)
		}
	}
}

func TestLoadOrStoreTTL(t *testing.T) {
	m := openMap(t, Config{})
	// Absent: stores with the TTL and returns the given value.
	v, loaded, err := m.LoadOrStoreTTLString("k", []byte("v1"), time.Hour)
	if loaded || err != nil || string(v) != "v1" {
		t.Fatalf("LoadOrStoreTTL on absent = %q %v %v", v, loaded, err)
	}
	if ttl, ok, _ := m.TTLString("k"); !ok || ttl <= 59*time.Minute || ttl > time.Hour {
		t.Fatalf("TTL after LoadOrStoreTTL = %v %v", ttl, ok)
	}
	// Present: returns a copy of what is stored, changes nothing.
	v, loaded, err = m.LoadOrStoreTTLString("k", []byte("v2"), time.Second)
	if !loaded || err != nil || string(v) != "v1" {
		t.Fatalf("LoadOrStoreTTL on present = %q %v %v", v, loaded, err)
	}
	if ttl, _, _ := m.TTLString("k"); ttl <= 59*time.Minute {
		t.Fatalf("LoadOrStoreTTL on present changed the deadline: %v", ttl)
	}
	// A present value larger than the first buffer (the retry path), and an
	// empty one.
	big := bytes.Repeat([]byte("0123456789"), 1000)
	noErr(t, m.StoreString("big", big))
	noErr(t, m.StoreString("empty", nil))
	if v, loaded, err := m.LoadOrStoreTTLString("big", []byte("x"), time.Hour); !loaded || err != nil || !bytes.Equal(v, big) {
		t.Fatalf("LoadOrStoreTTL of a large value = %d bytes %v %v", len(v), loaded, err)
	}
	if v, loaded, err := m.LoadOrStoreTTLString("empty", []byte("x"), time.Hour); !loaded || err != nil || len(v) != 0 {
		t.Fatalf("LoadOrStoreTTL of an empty value = %q %v %v", v, loaded, err)
	}
	// Expired: stores again.
	start := time.Now()
	noErr(t, m.StoreTTLString("short", []byte("old"), shortTTL))
	sleepPast(start.Add(shortTTL))
	if v, loaded, err := m.LoadOrStoreTTLString("short", []byte("new"), time.Hour); loaded || err != nil || string(v) != "new" {
		t.Fatalf("LoadOrStoreTTL on an expired key = %q %v %v", v, loaded, err)
	}
	// Bad ttl, bad key, closed map.
	for _, ttl := range []time.Duration{0, -time.Second} {
		if _, _, err := m.LoadOrStoreTTLString("fresh", []byte("x"), ttl); !errors.Is(err, ErrInvalidArgument) {
			t.Fatalf("LoadOrStoreTTL(ttl %v): %v", ttl, err)
		}
	}
	if _, ok, _ := m.LoadString("fresh"); ok {
		t.Fatal("a rejected LoadOrStoreTTL stored")
	}
	small := openMap(t, Config{MaxKeyLen: 2, MaxValueLen: 4})
	_, _, err = small.LoadOrStoreTTLString("long", nil, time.Hour)
	wantErr(t, err, ErrKeyTooLarge)
	_, _, err = small.LoadOrStoreTTLString("k", []byte("12345"), time.Hour)
	wantErr(t, err, ErrValueTooLarge)
	noErr(t, small.Close())
	_, _, err = small.LoadOrStoreTTLString("k", nil, time.Hour)
	wantErr(t, err, ErrClosed)

	// Typed: the decoded existing value, or the given one.
	typed := Of(m, String, Int64)
	if v, loaded, err := typed.LoadOrStoreTTL("n", 7, time.Hour); loaded || err != nil || v != 7 {
		t.Fatalf("typed LoadOrStoreTTL on absent = %v %v %v", v, loaded, err)
	}
	if v, loaded, err := typed.LoadOrStoreTTL("n", 8, time.Hour); !loaded || err != nil || v != 7 {
		t.Fatalf("typed LoadOrStoreTTL on present = %v %v %v", v, loaded, err)
	}
	if _, _, err := typed.LoadOrStoreTTL("k", 8, time.Hour); !errors.Is(err, ErrDecode) {
		t.Fatalf("typed LoadOrStoreTTL of a value that does not decode: %v", err)
	}
}

// TestLoadOrStoreTTLRace: goroutines race LoadOrStoreTTL on the same keys;
// exactly one stores each key and every other sees its value.
func TestLoadOrStoreTTLRace(t *testing.T) {
	m := openMap(t, Config{})
	const workers, keys = 4, 300
	stored := make([][]string, workers)
	seen := make([][]string, workers)
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < keys; i++ {
				k := fmt.Sprint("k", i)
				v, loaded, err := m.LoadOrStoreTTLString(k, []byte(fmt.Sprint(w)), time.Hour)
				if err != nil {
					t.Error(err)
					return
				}
				if !loaded {
					stored[w] = append(stored[w], k)
				}
				seen[w] = append(seen[w], string(v))
			}
		}()
	}
	wg.Wait()
	winners := map[string]string{}
	for w := range stored {
		for _, k := range stored[w] {
			if prev, dup := winners[k]; dup {
				t.Fatalf("%s stored by %s and %d", k, prev, w)
			}
			winners[k] = fmt.Sprint(w)
		}
	}
	if len(winners) != keys {
		t.Fatalf("%d keys stored, want %d", len(winners), keys)
	}
	for w := range seen {
		for i, v := range seen[w] {
			if want := winners[fmt.Sprint("k", i)]; v != want {
				t.Fatalf("worker %d saw %q for k%d, stored %q", w, v, i, want)
			}
		}
	}
}
