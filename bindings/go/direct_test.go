//go:build linux && cgo

package numashard

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unsafe"
)

// viaCgo runs f with m's direct reads turned off: every read in f goes
// through cgo, the reference path. Only for a map no other goroutine uses.
func viaCgo(m *Map, f func()) {
	d := m.direct
	m.direct = nil
	defer func() { m.direct = d }()
	f()
}

// directOf is the direct reader of m, failing the test when there is none
// (the library would not speak the protocol: every test below would then
// only exercise cgo). It skips the test on an architecture whose every
// read goes through cgo (directReadsArch, release_other.go).
func directOf(t testing.TB, m *Map) *directReader {
	t.Helper()
	if !directReadsArch {
		t.Skip("direct reads are for amd64 only: every read here goes through cgo")
	}
	if m.direct == nil {
		t.Fatal("no direct reader: ns_map_direct_read refused, or another NS_DIRECT_READ_VERSION")
	}
	return m.direct
}

// patternKey is a key of n bytes for index i (distinct for distinct (i, n)).
func patternKey(i, n int) []byte {
	k := make([]byte, n)
	x := uint64(i)*0x9e3779b97f4a7c15 + uint64(n)
	for j := range k {
		x ^= x >> 29
		x *= 0xbf58476d1ce4e5b9
		k[j] = byte(x >> 56)
	}
	if n >= 8 {
		binary.LittleEndian.PutUint64(k, uint64(i)<<16|uint64(n))
	}
	return k
}

// patternValue is a value of n bytes for (key, version).
func patternValue(key []byte, version uint64, n int) []byte {
	v := make([]byte, n)
	x := keyHash(version, key)
	for j := range v {
		x = x*6364136223846793005 + 1442695040888963407
		v[j] = byte(x >> 56)
	}
	return v
}

// TestDirectReadsAreTaken: on a plain map, the direct reader answers every
// read itself, hits and misses (it is not falling back to cgo everywhere),
// and its answers are the engine's. Keys of every length from 0 to 300.
func TestDirectReadsAreTaken(t *testing.T) {
	m := openMap(t, Config{})
	d := directOf(t, m)
	for n := 0; n <= 300; n++ {
		noErr(t, m.Store(patternKey(n, n), patternValue(patternKey(n, n), 1, n%97)))
	}
	noErr(t, m.Store([]byte("big"), bytes.Repeat([]byte{7}, 1000)))
	// Into scratch, and into a buffer written only once a value is
	// validated (value lengths 0-96: held in words, staged, or both).
	for _, scratch := range []bool{false, true} {
		out := make([]byte, 128)
		for n := 0; n <= 300; n++ {
			k := patternKey(n, n)
			got, r := d.get(k, out, scratch)
			want := patternValue(k, 1, n%97)
			if r != directHit || !bytes.Equal(out[:got], want) {
				t.Fatalf("scratch %v, key of %d bytes: outcome %d, %d bytes, want a hit of %d", scratch, n, r, got, len(want))
			}
			if absent := patternKey(n+1000, n); !bytes.Equal(absent, k) {
				if _, r := d.get(absent, out, scratch); r != directMiss {
					t.Fatalf("absent key of %d bytes: outcome %d, want a miss", n, r)
				}
			}
		}
		// A value longer than the buffer: its length, the buffer untouched.
		small := make([]byte, 10)
		if n, r := d.get([]byte("big"), small, scratch); r != directTooSmall || n != 1000 || !bytes.Equal(small, make([]byte, 10)) {
			t.Fatalf("too small a buffer: outcome %d, n %d, buffer %v", r, n, small)
		}
	}
	// Beyond the stage, into a buffer that must stay untouched: the engine's.
	big := make([]byte, 2000)
	if _, r := d.get([]byte("big"), big, false); r != directFallback || !bytes.Equal(big, make([]byte, 2000)) {
		t.Fatalf("a value beyond the stage: outcome %d", r)
	}
	if n, r := d.get([]byte("big"), big, true); r != directHit || !bytes.Equal(big[:n], bytes.Repeat([]byte{7}, 1000)) {
		t.Fatalf("a value beyond the stage into scratch: outcome %d, n %d", r, n)
	}
	// The Config switch turns them off.
	if off := openMap(t, Config{NoDirectReads: true}); off.direct != nil {
		t.Fatal("Config.NoDirectReads left direct reads on")
	}
}

// checkBothPaths reads key through every read call, direct and through
// cgo, and compares with want (nil: absent).
func checkBothPaths(t *testing.T, m *Map, key, want []byte) {
	t.Helper()
	type result struct {
		v   []byte
		ok  bool
		err error
	}
	read := func() []result {
		var rs []result
		v, ok, err := m.Load(key)
		rs = append(rs, result{v, ok, err})
		buf := make([]byte, 300)
		n, ok, err := m.LoadInto(key, buf)
		if err == nil && ok {
			rs = append(rs, result{buf[:n], ok, err})
		} else {
			rs = append(rs, result{nil, ok, err})
		}
		if ok && n > len(buf) && !errors.Is(err, ErrBufferTooSmall) {
			t.Fatalf("LoadInto of a %d-byte value into 300 bytes: %v", n, err)
		}
		if ok && n > len(buf) {
			big := make([]byte, n)
			n2, ok2, err2 := m.LoadInto(key, big)
			rs[len(rs)-1] = result{big[:n2], ok2, err2}
		}
		pre := []byte("prefix")
		a, ok, err := m.AppendLoad(pre[:len(pre):len(pre)], key)
		if ok && !bytes.HasPrefix(a, pre) {
			t.Fatalf("AppendLoad lost the prefix: %q", a)
		}
		if ok {
			a = a[len(pre):]
		} else {
			a = nil
		}
		rs = append(rs, result{a, ok, err})
		sv, ok, err := m.LoadString(string(key))
		rs = append(rs, result{sv, ok, err})
		return rs
	}
	direct := read()
	var cgo []result
	viaCgo(m, func() { cgo = read() })
	for i, rs := range [][]result{direct, cgo} {
		for j, r := range rs {
			if r.err != nil || r.ok != (want != nil) || !bytes.Equal(r.v, want) {
				t.Fatalf("key %x (%d bytes), path %d, call %d: (%d bytes, %v, %v), want %d bytes (present %v)",
					key, len(key), i, j, len(r.v), r.ok, r.err, len(want), want != nil)
			}
		}
	}
}

// TestDirectDifferential: random writes through cgo (stores, deletes,
// swaps, compare-and-swaps, counters, clears, hot reloads), keys of 0 to
// 300 bytes and values of 0 to 2000; after every round each key is read
// through every read call, direct and through cgo, against a model.
func TestDirectDifferential(t *testing.T) {
	m := openMap(t, Config{})
	directOf(t, m)
	rng := rand.New(rand.NewPCG(1, 2))
	model := map[string][]byte{}
	var keys [][]byte
	for i := 0; i < 400; i++ {
		keys = append(keys, patternKey(i, rng.IntN(301)))
	}
	keys = append(keys, []byte{}, []byte{0}, make([]byte, 300))
	valueLen := func() int {
		if rng.IntN(8) == 0 {
			return 257 + rng.IntN(1744) // past the stage: the engine's part
		}
		return rng.IntN(257)
	}
	version := uint64(0)
	rounds := 30
	if testing.Short() {
		rounds = 8
	}
	for round := 0; round < rounds; round++ {
		for op := 0; op < 300; op++ {
			k := keys[rng.IntN(len(keys))]
			version++
			v := patternValue(k, version, valueLen())
			switch rng.IntN(10) {
			case 0, 1, 2, 3:
				noErr(t, m.Store(k, v))
				model[string(k)] = v
			case 4:
				_, err := m.Delete(k)
				noErr(t, err)
				delete(model, string(k))
			case 5:
				_, _, err := m.Swap(k, v)
				noErr(t, err)
				model[string(k)] = v
			case 6:
				if old, ok := model[string(k)]; ok {
					swapped, err := m.CompareAndSwap(k, old, v)
					noErr(t, err)
					if !swapped {
						t.Fatalf("CompareAndSwap with the current value did not swap")
					}
					model[string(k)] = v
				}
			case 7:
				if _, ok := model[string(k)]; !ok {
					got, err := m.Add(k, int64(version))
					noErr(t, err)
					model[string(k)] = binary.LittleEndian.AppendUint64(nil, uint64(got))
				}
			case 8:
				stored, err := m.StoreIfAbsent(k, v)
				noErr(t, err)
				if stored {
					model[string(k)] = v
				}
			case 9:
				_, _, err := m.LoadAndDelete(k)
				noErr(t, err)
				delete(model, string(k))
			}
		}
		switch round % 10 {
		case 4: // a hot reload: a new table in every shard
			var es []Entry
			model = map[string][]byte{}
			for i := 0; i < 150; i++ {
				k := keys[rng.IntN(len(keys))]
				version++
				v := patternValue(k, version, valueLen())
				es = append(es, Entry{Key: k, Value: v})
				model[string(k)] = v
			}
			noErr(t, m.ReplaceAll(es))
		case 9:
			noErr(t, m.Clear())
			model = map[string][]byte{}
		}
		for _, k := range keys {
			checkBothPaths(t, m, k, model[string(k)])
		}
	}
}

// TestDirectGrowth: tables doubling from their smallest size to hold 200k
// entries; every key read back through the direct path after each growth
// step, then half deleted.
func TestDirectGrowth(t *testing.T) {
	m := openMap(t, Config{Shards: 2})
	d := directOf(t, m)
	const n = 200_000
	out := make([]byte, 64)
	check := func(upTo int, present func(i int) bool) {
		for i := 0; i < upTo; i++ {
			k := patternKey(i, 16)
			got, r := d.get(k, out, true)
			if present(i) {
				if r != directHit || !bytes.Equal(out[:got], patternValue(k, 0, 24)) {
					t.Fatalf("key %d of %d: outcome %d", i, upTo, r)
				}
			} else if r != directMiss {
				t.Fatalf("deleted key %d: outcome %d, want a miss", i, r)
			}
		}
	}
	for i := 0; i < n; i++ {
		k := patternKey(i, 16)
		noErr(t, m.Store(k, patternValue(k, 0, 24)))
		if i&(i+1) == 0 && i >= 1023 { // after 1k, 2k, 4k, ... entries
			check(i+1, func(int) bool { return true })
		}
	}
	for i := 0; i < n; i += 2 {
		_, err := m.Delete(patternKey(i, 16))
		noErr(t, err)
	}
	check(n, func(i int) bool { return i%2 == 1 })
}

// TestDirectFallbacks: entries with a deadline (live and expired) and
// maps that count or mark hits (cache mode, RecordStats), which the direct
// path reads as the engine does (protocol version 4); and what it must
// leave to the engine: keys over MaxKeyLen, values too large for
// LoadInto's stage, a closed map.
func TestDirectFallbacks(t *testing.T) {
	t.Run("ttl", func(t *testing.T) {
		m := openMap(t, Config{})
		d := directOf(t, m)
		noErr(t, m.StoreTTL([]byte("live"), []byte("v1"), time.Hour))
		noErr(t, m.StoreTTL([]byte("short"), []byte("v2"), time.Millisecond))
		noErr(t, m.Store([]byte("plain"), []byte("v3")))
		out := make([]byte, 16)
		if n, r := d.get([]byte("live"), out, true); r != directHit || string(out[:n]) != "v1" {
			t.Fatalf("an entry with a deadline ahead: outcome %d, want a direct hit", r)
		}
		checkBothPaths(t, m, []byte("live"), []byte("v1"))
		checkBothPaths(t, m, []byte("plain"), []byte("v3"))
		deadline := time.Now().Add(10 * time.Second)
		for {
			v, ok, err := m.Load([]byte("short"))
			noErr(t, err)
			if !ok {
				break
			}
			if !bytes.Equal(v, []byte("v2")) {
				t.Fatalf("expiring entry read as %q", v)
			}
			if time.Now().After(deadline) {
				t.Fatal("a 1 ms entry still read after 10 s")
			}
			time.Sleep(5 * time.Millisecond)
		}
		checkBothPaths(t, m, []byte("short"), nil)
		if _, r := answered(func() (int, directOutcome) { return d.get([]byte("short"), out, true) }); r != directMiss {
			t.Fatalf("an expired entry: outcome %d, want a direct miss", r)
		}
		// The same through fastGet (keys of 8 to 16 bytes): read until its
		// deadline, a miss from then on, with no call to the engine.
		k16 := patternKey(3, 16)
		noErr(t, m.StoreTTL(k16, []byte("v4"), 20*time.Millisecond))
		stored := time.Now()
		if n, r := answered(func() (int, directOutcome) { return fastRead(d, k16, out) }); (r != directHit || string(out[:n]) != "v4") && time.Since(stored) < 15*time.Millisecond {
			t.Fatalf("fastGet before the deadline: outcome %d", r)
		}
		time.Sleep(25 * time.Millisecond)
		if _, r := answered(func() (int, directOutcome) { return fastRead(d, k16, out) }); r != directMiss {
			t.Fatalf("fastGet after the deadline: outcome %d, want a miss", r)
		}
		// Persist drops the deadline: the direct path still reads it.
		found, err := m.Persist([]byte("live"))
		noErr(t, err)
		if !found {
			t.Fatal("Persist did not find the entry")
		}
		if n, r := d.get([]byte("live"), out, true); r != directHit || string(out[:n]) != "v1" {
			t.Fatalf("after Persist: outcome %d", r)
		}
	})
	for _, cfg := range []Config{
		{RecordStats: true},
		{Eviction: EvictionS3FIFO, MemoryLimit: 1 << 20},
	} {
		t.Run(fmt.Sprintf("counting/eviction=%v", cfg.Eviction), func(t *testing.T) {
			m := openMap(t, cfg)
			d := directOf(t, m)
			for i := 0; i < 100; i++ {
				noErr(t, m.Store(patternKey(i, 16), patternValue(patternKey(i, 16), 0, 32)))
			}
			out := make([]byte, 64)
			before, err := m.Stats()
			noErr(t, err)
			for i := 0; i < 100; i++ {
				if _, r := d.get(patternKey(i, 16), out, true); r != directHit {
					t.Fatalf("a map that counts hits: outcome %d, want a direct hit", r)
				}
				if _, r := fastRead(d, patternKey(i+1000, 16), out); r != directMiss {
					t.Fatalf("a map that counts hits, absent key: outcome %d, want a direct miss", r)
				}
			}
			mid, err := m.Stats()
			noErr(t, err)
			if hits, misses := mid.Hits-before.Hits, mid.Misses-before.Misses; hits != 100 || misses != 100 {
				t.Fatalf("direct reads counted %d hits, %d misses; want 100 and 100", hits, misses)
			}
			before = mid
			for i := 0; i < 100; i++ {
				checkBothPaths(t, m, patternKey(i, 16), patternValue(patternKey(i, 16), 0, 32))
				checkBothPaths(t, m, patternKey(i+1000, 16), nil)
			}
			after, err := m.Stats()
			noErr(t, err)
			// checkBothPaths reads each key with 4 calls on each path
			// (the 32-byte value fits LoadInto's buffer).
			if hits, misses := after.Hits-before.Hits, after.Misses-before.Misses; hits != 800 || misses != 800 {
				t.Fatalf("hits %d, misses %d counted; want 800 and 800 (every read counted once)", hits, misses)
			}
		})
	}
	t.Run("key too large", func(t *testing.T) {
		m := openMap(t, Config{MaxKeyLen: 8})
		directOf(t, m)
		for _, f := range []func() error{
			func() error { _, _, err := m.Load(make([]byte, 9)); return err },
			func() error { _, _, err := m.LoadInto(make([]byte, 9), nil); return err },
			func() error { _, _, err := m.AppendLoad(nil, make([]byte, 9)); return err },
		} {
			if err := f(); !errors.Is(err, ErrKeyTooLarge) {
				t.Fatalf("a 9-byte key, MaxKeyLen 8: %v", err)
			}
		}
		checkBothPaths(t, m, make([]byte, 8), nil)
	})
	t.Run("LoadInto keeps dst", func(t *testing.T) {
		m := openMap(t, Config{})
		directOf(t, m)
		big := patternValue([]byte("k"), 1, 1000)
		noErr(t, m.Store([]byte("k"), big))
		dst := bytes.Repeat([]byte{0xee}, 999)
		n, ok, err := m.LoadInto([]byte("k"), dst)
		if n != 1000 || !ok || !errors.Is(err, ErrBufferTooSmall) || !bytes.Equal(dst, bytes.Repeat([]byte{0xee}, 999)) {
			t.Fatalf("999-byte dst for a 1000-byte value: %d %v %v, dst changed: %v", n, ok, err,
				!bytes.Equal(dst, bytes.Repeat([]byte{0xee}, 999)))
		}
		// Fits dst but not the stage: the engine reads it.
		dst = make([]byte, 1000)
		if n, ok, err := m.LoadInto([]byte("k"), dst); n != 1000 || !ok || err != nil || !bytes.Equal(dst, big) {
			t.Fatalf("1000-byte dst: %d %v %v", n, ok, err)
		}
		// A miss leaves dst as it was.
		dst = bytes.Repeat([]byte{0xee}, 8)
		if n, ok, err := m.LoadInto([]byte("absent"), dst); n != 0 || ok || err != nil || !bytes.Equal(dst, bytes.Repeat([]byte{0xee}, 8)) {
			t.Fatalf("a miss: %d %v %v %x", n, ok, err, dst)
		}
	})
	t.Run("closed", func(t *testing.T) {
		m := openMap(t, Config{})
		directOf(t, m)
		noErr(t, m.Store([]byte("k"), []byte("v")))
		noErr(t, m.Close())
		if _, r := m.direct.get([]byte("k"), make([]byte, 8), true); r != directFallback {
			t.Fatalf("closed map: outcome %d, want the engine", r)
		}
		for name, f := range map[string]func() error{
			"Load":       func() error { _, _, err := m.Load([]byte("k")); return err },
			"LoadInto":   func() error { _, _, err := m.LoadInto([]byte("k"), make([]byte, 8)); return err },
			"AppendLoad": func() error { _, _, err := m.AppendLoad(nil, []byte("k")); return err },
			"LoadString": func() error { _, _, err := m.LoadString("k"); return err },
		} {
			if err := f(); !errors.Is(err, ErrClosed) {
				t.Fatalf("%s after Close: %v", name, err)
			}
		}
	})
}

// TestDirectCloseRacingLoads: goroutines load while the map is closed
// under them; each read is the stored value or ErrClosed, never anything
// else, and nothing crashes (a reader inside the gate holds the close off).
func TestDirectCloseRacingLoads(t *testing.T) {
	for round := 0; round < 20; round++ {
		m := openMap(t, Config{Shards: 2})
		directOf(t, m)
		for i := 0; i < 1000; i++ {
			noErr(t, m.Store(patternKey(i, 16), patternValue(patternKey(i, 16), 0, 40)))
		}
		var wg sync.WaitGroup
		var loaded, closed atomic.Int64
		start := make(chan struct{})
		for g := 0; g < 4; g++ {
			wg.Add(1)
			go func(g int) {
				defer wg.Done()
				<-start
				buf := make([]byte, 64)
				for i := g; ; i = (i + 7) % 1000 {
					k := patternKey(i, 16)
					n, ok, err := m.LoadInto(k, buf)
					if errors.Is(err, ErrClosed) {
						closed.Add(1)
						return
					}
					if err != nil || !ok || !bytes.Equal(buf[:n], patternValue(k, 0, 40)) {
						t.Errorf("key %d: %d %v %v", i, n, ok, err)
						return
					}
					loaded.Add(1)
				}
			}(g)
		}
		close(start)
		time.Sleep(time.Duration(round%5) * time.Millisecond)
		noErr(t, m.Close())
		wg.Wait()
		if closed.Load() != 4 {
			t.Fatalf("round %d: %d readers saw ErrClosed, want 4", round, closed.Load())
		}
	}
}

// selfCheckingValue is version v of key's value: the version, then a
// length that varies with it (16 to ~600 bytes: some past LoadInto's
// stage), every byte derived from (key, version). A torn read (parts of two
// versions, or of another key's record) fails checkValue.
func selfCheckingValue(key []byte, v uint64) []byte {
	n := 16 + int(keyHash(v, key)%600)
	out := binary.LittleEndian.AppendUint64(make([]byte, 0, n), v)
	return append(out, patternValue(key, v, n-8)...)
}

func checkValue(key, got []byte) error {
	if len(got) < 16 {
		return fmt.Errorf("%d bytes", len(got))
	}
	v := binary.LittleEndian.Uint64(got)
	if want := selfCheckingValue(key, v); !bytes.Equal(got, want) {
		return fmt.Errorf("version %d, %d bytes: not the value written (torn or another key's)", v, len(got))
	}
	return nil
}

// TestDirectStress: writers overwrite, delete and insert (doubling the
// tables) and hot-reload the map while readers read every key through the
// direct path and check that each value they get is one that was written
// for that key, whole. Run it under -race (the repository's test script does).
func TestDirectStress(t *testing.T) {
	m := openMap(t, Config{Shards: 2})
	directOf(t, m)
	const hot = 2000
	hotKey := func(i int) []byte { return patternKey(i, 8+i%40) }
	var version atomic.Uint64
	for i := 0; i < hot; i++ {
		k := hotKey(i)
		noErr(t, m.Store(k, selfCheckingValue(k, version.Add(1))))
	}
	var writes, reloads, hits, misses atomic.Int64
	// Writers: overwrite and delete the hot keys, insert fresh ones (the
	// tables double), and now and then reload the whole map.
	writer := func(w int) func() bool {
		rng := rand.New(rand.NewPCG(uint64(w), 99))
		fresh := 0
		return func() bool {
			i := rng.IntN(hot)
			k := hotKey(i)
			var err error
			switch r := rng.IntN(100); {
			case r < 60:
				err = m.Store(k, selfCheckingValue(k, version.Add(1)))
			case r < 75:
				_, err = m.Delete(k)
			case r < 99:
				fk := patternKey(1_000_000*(w+1)+fresh, 16)
				fresh++
				err = m.Store(fk, selfCheckingValue(fk, version.Add(1)))
				if err == nil && fresh%50_000 == 0 {
					err = m.Clear() // back to small tables, to double again
				}
			default:
				if w == 0 && rng.IntN(20) == 0 {
					es := make([]Entry, 0, hot/2)
					for j := rng.IntN(2); j < hot; j += 2 {
						kj := hotKey(j)
						es = append(es, Entry{Key: kj, Value: selfCheckingValue(kj, version.Add(1))})
					}
					err = m.ReplaceAll(es)
					reloads.Add(1)
				}
			}
			if err != nil {
				t.Errorf("writer %d: %v", w, err)
				return false
			}
			writes.Add(1)
			return true
		}
	}
	// Readers: every read call, each value checked.
	reader := func(r int) func() bool {
		rng := rand.New(rand.NewPCG(uint64(r), 7))
		buf := make([]byte, 1024)
		small := make([]byte, 64)
		var app []byte
		return func() bool {
			i := rng.IntN(hot)
			k := hotKey(i)
			var got []byte
			var ok bool
			var err error
			switch rng.IntN(4) {
			case 0:
				var n int
				n, ok, err = m.LoadInto(k, buf)
				got = buf[:n]
			case 1:
				var n int
				n, ok, err = m.LoadInto(k, small)
				if errors.Is(err, ErrBufferTooSmall) {
					if n <= len(small) {
						t.Errorf("ErrBufferTooSmall for %d bytes into %d", n, len(small))
						return false
					}
					return true
				}
				got = small[:n]
			case 2:
				got, ok, err = m.Load(k)
			case 3:
				app, ok, err = m.AppendLoad(app[:0], k)
				got = app
			}
			if err != nil {
				t.Errorf("reader %d, key %d: %v", r, i, err)
				return false
			}
			if !ok {
				misses.Add(1)
				return true
			}
			if e := checkValue(k, got); e != nil {
				t.Errorf("reader %d, key %d: %v", r, i, e)
				return false
			}
			hits.Add(1)
			return true
		}
	}
	stressFor(writer(0), writer(1), reader(0), reader(1), reader(2))
	t.Logf("%d writes, %d reloads, %d hits, %d misses", writes.Load(), reloads.Load(), hits.Load(), misses.Load())
	if hits.Load() < 100 || writes.Load() < 100 {
		t.Fatalf("too little happened to test anything: %d hits, %d writes", hits.Load(), writes.Load())
	}
}

// TestDirectNeverTornNorMissing: a few keys that are always present (only
// overwritten, with values from 16 bytes to 2 KiB, every other one of at
// most 32 bytes (held in words by a read), so that their blocks are freed
// and reused at once) among keys inserted and deleted around them
// (each delete shifts its probe run back, moving the permanent keys'
// slots). Readers must never miss a permanent key nor read a value that
// was not written whole for it: the two things the seqlock validation of a
// direct read exists for.
func TestDirectNeverTornNorMissing(t *testing.T) {
	t.Run("plain", func(t *testing.T) { directNeverTornNorMissing(t, Config{Shards: 1}) })
	// Records placed by hash, in home lines for fewer entries than the
	// churn keeps: lines taken, freed and taken again under the readers.
	t.Run("placed", func(t *testing.T) {
		directNeverTornNorMissing(t, Config{Shards: 1, InitialCapacity: 16, PlaceRecordsByHash: true})
	})
}

func directNeverTornNorMissing(t *testing.T, cfg Config) {
	m := openMap(t, cfg)
	directOf(t, m)
	const permanent, churn = 16, 24
	pkey := func(i int) []byte { return patternKey(i, 8+i%9) }
	long := func(key []byte, v uint64) []byte {
		n := 16 + int(keyHash(v, key)%2032)
		if v%2 == 0 {
			n = 16 + int(keyHash(v, key)%17)
		}
		out := binary.LittleEndian.AppendUint64(make([]byte, 0, n), v)
		return append(out, patternValue(key, v, n-8)...)
	}
	check := func(key, got []byte) error {
		if len(got) < 16 {
			return fmt.Errorf("%d bytes", len(got))
		}
		if want := long(key, binary.LittleEndian.Uint64(got)); !bytes.Equal(got, want) {
			return fmt.Errorf("%d bytes, not a value written whole for the key", len(got))
		}
		return nil
	}
	var version atomic.Uint64
	for i := 0; i < permanent; i++ {
		noErr(t, m.Store(pkey(i), long(pkey(i), version.Add(1))))
	}
	var reads, writes atomic.Int64
	wrng := rand.New(rand.NewPCG(5, 6))
	writer := func() bool {
		var err error
		if i := wrng.IntN(permanent + churn); i < permanent {
			err = m.Store(pkey(i), long(pkey(i), version.Add(1)))
		} else if wrng.IntN(2) == 0 {
			err = m.Store(patternKey(i, 8), []byte("churn"))
		} else {
			_, err = m.Delete(patternKey(i, 8))
		}
		if err != nil {
			t.Errorf("writer: %v", err)
			return false
		}
		writes.Add(1)
		return true
	}
	g := NewGetBatch(permanent)
	batchReader := func() bool { // GetBatches of every permanent key
		g.Reset()
		for i := 0; i < permanent; i++ {
			g.Get(pkey(i))
		}
		if err := m.RunGets(g); err != nil {
			t.Errorf("RunGets: %v", err)
			return false
		}
		for i := 0; i < permanent; i++ {
			v, ok := g.Value(i)
			if !ok {
				t.Errorf("GetBatch: permanent key %d: status %v", i, g.Status(i))
				return false
			}
			if e := check(pkey(i), v); e != nil {
				t.Errorf("GetBatch: permanent key %d: %v", i, e)
				return false
			}
		}
		reads.Add(permanent)
		return true
	}
	reader := func(r int) func() bool {
		rng := rand.New(rand.NewPCG(uint64(r), 8))
		buf := make([]byte, 256)
		return func() bool {
			i := rng.IntN(permanent)
			var got []byte
			var ok bool
			var err error
			if rng.IntN(2) == 0 {
				got, ok, err = m.Load(pkey(i)) // direct up to 2 KiB (into its own buffer)
			} else {
				// buf is written only with a whole value: a value too
				// long for it leaves it untouched.
				for j := range buf {
					buf[j] = 0xa5
				}
				var n int
				n, ok, err = m.LoadInto(pkey(i), buf)
				if errors.Is(err, ErrBufferTooSmall) {
					if bytes.Count(buf, []byte{0xa5}) != len(buf) {
						t.Errorf("permanent key %d: a too-small answer wrote the buffer", i)
						return false
					}
					return true
				}
				got = buf[:n]
			}
			if err != nil || !ok {
				t.Errorf("permanent key %d: present %v, %v", i, ok, err)
				return false
			}
			if e := check(pkey(i), got); e != nil {
				t.Errorf("permanent key %d: %v", i, e)
				return false
			}
			reads.Add(1)
			return true
		}
	}
	stressFor(writer, batchReader, reader(0), reader(1))
	t.Logf("%d reads, %d writes", reads.Load(), writes.Load())
	if reads.Load() < 1000 || writes.Load() < 1000 {
		t.Fatalf("too little happened to test anything: %d reads, %d writes", reads.Load(), writes.Load())
	}
}

// stressFor runs each worker on a goroutine of its own, calling it again
// and again until the stress time has passed (3 s; 1 s with -short) or it
// returns false (it failed), then waits for them all.
func stressFor(workers ...func() bool) {
	dur := 3 * time.Second
	if testing.Short() {
		dur = time.Second
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for _, work := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				if !work() {
					return
				}
			}
		}()
	}
	time.Sleep(dur)
	close(stop)
	wg.Wait()
}

// TestDirectReadVersion: the header's protocol version is the one direct.go
// implements. When the library moves on, review the protocol, then the number.
func TestDirectReadVersion(t *testing.T) {
	if v := headerDirectReadVersion(); v != directReadVersion {
		t.Fatalf("NS_DIRECT_READ_VERSION %d, direct.go implements %d", v, directReadVersion)
	}
}

// stripeCounters sums the gate's counters that direct readers use, shared
// and owned, both parities.
func stripeCounters(d *directReader) (sum uint64) {
	for _, set := range []struct {
		at unsafe.Pointer
		n  uint32
	}{{d.stripes, d.nStripes}, {d.owned, d.nOwned}} {
		for i := uint32(0); i < set.n; i++ {
			for parity := uintptr(0); parity < 2; parity++ {
				sum += atomic.LoadUint64((*uint64)(unsafe.Add(set.at, uintptr(i)*d.stride+parity*8)))
			}
		}
	}
	return sum
}

// TestDirectGateBalanced: goroutines on every P read at once (each read
// counts itself in and out of a stripe: its P's own when the gate allows
// plain entries, else a shared one), through the map's reader and through
// a second direct reader of the same map (as a second Go runtime or
// another binding in the process would be), which is handed no stripes of
// its own, so the two never write one stripe with plain stores. Both read
// the same values; once they are done, every counter is back at zero (a
// read that stayed counted in would stall the engine's reclamation and
// Close for ever; one counted out twice would let them free memory under
// a reader).
func TestDirectGateBalanced(t *testing.T) {
	m, err := Open(Config{})
	noErr(t, err)
	defer func() {
		if !t.Failed() { // with a counter left up, Close would wait for ever
			m.Close()
		}
	}()
	d := directOf(t, m)
	t.Logf("owned stripes: %d (0: the gate is not in membarrier mode), shared: %d", d.nOwned, d.nStripes)
	d2 := newDirectReader(m.h, d.maxKey)
	if d2 == nil {
		t.Fatal("no second direct reader")
	}
	if d2.nOwned != 0 || d2.owned != nil {
		t.Fatalf("the second reader got %d owned stripes (the first: %d)", d2.nOwned, d.nOwned)
	}
	for i := 0; i < 100; i++ {
		noErr(t, m.Store(patternKey(i, 16), patternValue(patternKey(i, 16), 0, 32)))
	}
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			r := d
			if g%2 == 1 {
				r = d2
			}
			out := make([]byte, 64)
			for i := 0; i < 20000; i++ {
				j := (g + i) % 150
				k := patternKey(j, 16)
				n, res := r.get(k, out, true)
				switch {
				case j < 100 && (res != directHit || !bytes.Equal(out[:n], patternValue(k, 0, 32))):
					t.Errorf("reader %d, key %d: %v %q", g%2, j, res, out[:n])
					return
				case j >= 100 && res != directMiss:
					t.Errorf("reader %d, key %d: %v, want a miss", g%2, j, res)
					return
				}
			}
		}(g)
	}
	wg.Wait()
	if sum := stripeCounters(d) + stripeCounters(d2); sum != 0 {
		t.Fatalf("gate counters sum to %d after every read finished, want 0", sum)
	}
}

// TestDirectKeyEqualAndWords: keyEqual against bytes.Equal for keys of 0 to
// 40 bytes differing in each one byte (a full tag match almost never
// reaches a different key, so the read's tests cannot show this); and
// loadWords/storeWords copy exactly n bytes for every n up to
// directWordsSize and write nothing around them.
func TestDirectKeyEqualAndWords(t *testing.T) {
	for n := 0; n <= 40; n++ {
		a := patternKey(n, n)
		b := append([]byte(nil), a...)
		if !keyEqual(unsafe.Pointer(unsafe.SliceData(append(b, 0))), a) {
			t.Fatalf("%d-byte keys: equal keys compared unequal", n)
		}
		for i := 0; i < n; i++ {
			c := append(append([]byte(nil), a...), 0)
			c[i] ^= 0x40
			if keyEqual(unsafe.Pointer(unsafe.SliceData(c)), a) {
				t.Fatalf("%d-byte keys differing in byte %d compared equal", n, i)
			}
		}
	}
	for n := 0; n <= directWordsSize; n++ {
		// src and out with guard bytes around the n bytes.
		src := bytes.Repeat([]byte{0xee}, n+16)
		want := patternValue([]byte{byte(n)}, 7, n)
		copy(src[8:], want)
		out := bytes.Repeat([]byte{0xdd}, n+16)
		storeWords(out[8:8+n], loadWords(unsafe.Pointer(&src[8]), n), n)
		if !bytes.Equal(out[8:8+n], want) {
			t.Fatalf("%d bytes: copied %x, want %x", n, out[8:8+n], want)
		}
		if bytes.Count(out[:8], []byte{0xdd}) != 8 || bytes.Count(out[8+n:], []byte{0xdd}) != 8 {
			t.Fatalf("%d bytes: wrote outside them: %x", n, out)
		}
	}
}

// TestDirectFastGet: fastGet, the read LoadInto and Map.read try first,
// answers hits and misses of 8- to 16-byte keys with values of up to 32
// bytes as directReader.get does, and leaves everything else to it
// (directFallback) with the buffer untouched: shorter and longer keys,
// longer values, a buffer too small, an entry with a deadline.
func TestDirectFastGet(t *testing.T) {
	m := openMap(t, Config{})
	d := directOf(t, m)
	// Keys of 4 to 24 bytes, distinct: the index in their first 4 bytes.
	key := func(i, n int) []byte {
		k := patternKey(i, n)
		binary.LittleEndian.PutUint32(k, uint32(i))
		return k
	}
	for kn := 4; kn <= 24; kn++ {
		for vn := 0; vn <= 40; vn += 4 {
			k := key(kn*100+vn, kn)
			noErr(t, m.Store(k, patternValue(k, 3, vn)))
		}
	}
	ttlKey := patternKey(7, 12)
	noErr(t, m.StoreTTL(ttlKey, []byte("expires"), time.Hour))
	for kn := 4; kn <= 24; kn++ {
		for vn := 0; vn <= 40; vn += 4 {
			k := key(kn*100+vn, kn)
			want := patternValue(k, 3, vn)
			out := bytes.Repeat([]byte{0xAA}, 64)
			n, r := d.fastGet(k, out)
			switch {
			// Without owned stripes (no membarrier) it leaves every read to get.
			case kn >= 8 && kn <= 16 && vn <= 32 && d.nOwned > 0:
				if r != directHit || !bytes.Equal(out[:n], want) || !bytes.Equal(out[n:], bytes.Repeat([]byte{0xAA}, 64-n)) {
					t.Fatalf("key %d B, value %d B: outcome %d, %d bytes %x", kn, vn, r, n, out[:n])
				}
				// Too small a buffer: the general path's, untouched here.
				if vn > 0 {
					small := bytes.Repeat([]byte{0xAA}, vn-1)
					if _, r := d.fastGet(k, small); r != directFallback || !bytes.Equal(small, bytes.Repeat([]byte{0xAA}, vn-1)) {
						t.Fatalf("key %d B, value %d B into %d: outcome %d, buffer %x", kn, vn, vn-1, r, small)
					}
				}
			default:
				if r != directFallback || !bytes.Equal(out, bytes.Repeat([]byte{0xAA}, 64)) {
					t.Fatalf("key %d B, value %d B: outcome %d, want the general path's, buffer untouched", kn, vn, r)
				}
			}
			// Through LoadInto, whichever path answers: the value.
			if n, ok, err := m.LoadInto(k, out); err != nil || !ok || !bytes.Equal(out[:n], want) {
				t.Fatalf("LoadInto, key %d B, value %d B: %d bytes, %v, %v", kn, vn, n, ok, err)
			}
		}
		if kn >= 8 && kn <= 16 && d.nOwned > 0 {
			if _, r := d.fastGet(key(99999, kn), make([]byte, 64)); r != directMiss {
				t.Fatalf("absent key of %d B: outcome %d, want a miss", kn, r)
			}
		}
	}
	out := make([]byte, 64)
	if n, r := fastRead(d, ttlKey, out); r != directHit || string(out[:n]) != "expires" {
		t.Fatalf("an entry with a deadline ahead: outcome %d, want a hit", r)
	}
	if n, ok, err := m.LoadInto(ttlKey, out); err != nil || !ok || string(out[:n]) != "expires" {
		t.Fatalf("LoadInto of an entry with a deadline: %q, %v, %v", out[:n], ok, err)
	}
}

// TestDirectHomeLineNamesPlacedRecords: with records placed by hash, the
// line the reader prefetches (homeLine, or the other of its pair) is
// where most records are; without, a shard has no home word.
func TestDirectHomeLineNamesPlacedRecords(t *testing.T) {
	for _, sh := range directOf(t, openMap(t, Config{Shards: 2})).shards {
		if hw := atomic.LoadUint64(sh.home); hw != 0 {
			t.Fatalf("home word %#x on a map that places nothing", hw)
		}
	}
	m := openMap(t, Config{Shards: 2, InitialCapacity: 4096, PlaceRecordsByHash: true})
	d := directOf(t, m)
	const n = 4096
	for i := 0; i < n; i++ {
		noErr(t, m.Store(patternKey(i, 16), patternValue(patternKey(i, 16), 1, 32)))
	}
	atHome := 0
	for i := 0; i < n; i++ {
		key := patternKey(i, 16)
		h := keyHash(d.seed, key)
		sh := d.shardOf(h)
		hw, word := atomic.LoadUint64(sh.home), atomic.LoadUint64(sh.table)
		if hw == 0 {
			t.Fatal("no home word on a map that places records by hash")
		}
		// The map is quiet: probe its slots for the key's record.
		slots := engineAddr(unsafe.Pointer(sh.table), word&^63)
		mask := uint64(1)<<(word&63) - 1
		var rec uintptr
		for j := h >> (64 - word&63); ; j = (j + 1) & mask {
			slot := unsafe.Add(slots, uintptr(j)*16)
			if atomic.LoadUint64((*uint64)(slot)) == h|1 {
				r := engineAddr(slots, atomic.LoadUint64((*uint64)(unsafe.Add(slot, 8)))&^3)
				if bytes.Equal(unsafe.Slice((*byte)(unsafe.Add(r, 8)), 16), key) {
					rec = uintptr(r)
					break
				}
			}
		}
		if line := homeLine(hw, h); rec == line || rec == line^64 {
			atHome++
		}
	}
	// 2^11 lines per shard for its ~2048 records: about 73% find one.
	if atHome < 2600 {
		t.Fatalf("%d of %d records where the home line says", atHome, n)
	}
}

// TestWriteLinesNameTheKeysSlotAndLine: the lines a write prefetches
// (Map.prefetchWrite) are the key's home slot, where the probe for it
// starts, and on a map that places records its record's home line. A
// hint that names other lines costs the prefetch and gains nothing, and no
// other test would notice: here a slot off by one, or a home line of
// another shift, fails.
func TestWriteLinesNameTheKeysSlotAndLine(t *testing.T) {
	for _, placed := range []bool{false, true} {
		m := openMap(t, Config{Shards: 2, InitialCapacity: 1 << 15, PlaceRecordsByHash: placed})
		d := directOf(t, m)
		const n = 1 << 15
		for i := 0; i < n; i++ {
			noErr(t, m.Store(patternKey(i, 16), patternValue(patternKey(i, 16), 1, 32)))
		}
		if bits := atomic.LoadUint64(d.shards[0].table) & 63; bits+d.shardBits < prefetchMinBits {
			t.Fatalf("%d slots per shard: the test needs a map prefetchWrite prefetches for", 1<<bits)
		}
		atSlot, atLine := 0, 0
		for i := 0; i < n; i++ {
			key := patternKey(i, 16)
			h := keyHash(d.seed, key)
			word := atomic.LoadUint64(d.shardOf(h).table)
			slot, line := d.writeLines(h, word)
			base := uintptr(word &^ 63)
			if slot < base || slot >= base+16<<(word&63) || (slot-base)%16 != 0 {
				t.Fatalf("key %d: slot %#x is not a slot of its shard's array", i, slot)
			}
			// The map is quiet: probe from the slot named for the key's tag.
			mask := uint64(1)<<(word&63) - 1
			j := uint64(slot-base) / 16
			var rec uintptr
			for steps := 0; ; steps++ {
				s := engineAddr(unsafe.Pointer(d.shardOf(h).table), uint64(base)+j*16)
				if atomic.LoadUint64((*uint64)(s)) == h|1 {
					rec = uintptr(atomic.LoadUint64((*uint64)(unsafe.Add(s, 8))) &^ 3)
					if steps == 0 {
						atSlot++
					}
					break
				}
				if steps > 64 {
					t.Fatalf("key %d: not within 64 slots of the slot named", i)
				}
				j = (j + 1) & mask
			}
			if !placed {
				if line != slot {
					t.Fatalf("key %d: line %#x on a map that places nothing, want the slot %#x", i, line, slot)
				}
				continue
			}
			if rec == line || rec == line^64 {
				atLine++
			}
		}
		// A load of about 0.5: most keys sit in their home slot.
		if atSlot < n/2 {
			t.Fatalf("placed=%v: %d of %d keys in the slot named", placed, atSlot, n)
		}
		if placed && atLine < n/2 {
			t.Fatalf("%d of %d records on the line named", atLine, n)
		}
	}
}

// TestPrefetchWriteAsksOnlyWhereItHelps: prefetchWrite's gates. It judges a
// map's size from one shard's slots and log2 of the shard count, rounded
// up; and a map that delegates its writes to the owner threads asks for no
// lines in the caller's cache.
func TestPrefetchWriteAsksOnlyWhereItHelps(t *testing.T) {
	for shards, want := range map[int]uint64{1: 0, 2: 1, 3: 2, 4: 2, 5: 3} {
		if got := directOf(t, openMap(t, Config{Shards: shards})).shardBits; got != want {
			t.Errorf("%d shards: shardBits %d, want %d", shards, got, want)
		}
	}
	if !directOf(t, openMap(t, Config{Shards: 2})).writesHere {
		t.Error("a map that runs writes on the caller says it does not")
	}
	if directOf(t, openMap(t, Config{Shards: 2, Delegate: true})).writesHere {
		t.Error("a map that delegates its writes says they run here")
	}
	// One call in 64 is sampled, whatever the keys.
	hits := 0
	for range 64_000 {
		if sampled() {
			hits++
		}
	}
	if hits < 700 || hits > 1300 {
		t.Errorf("%d of 64,000 calls sampled, want about 1,000", hits)
	}
	// The gate: a map is found large by a write once its slots, all shards
	// together, reach 2^prefetchMinBits (2^14 per shard of 2 here), and not
	// before; keys that share a long prefix are found so too; a map that
	// delegates its writes is never looked at.
	for _, c := range []struct {
		cfg    Config
		prefix string
		bits   uint64 // slots per shard the test expects, log2
		large  bool
	}{
		{Config{Shards: 2, InitialCapacity: 1 << 13}, "k", 13, false},
		{Config{Shards: 2, InitialCapacity: 1 << 14}, "k", 14, true},
		{Config{Shards: 2, InitialCapacity: 1 << 14}, "session:", 14, true},
		{Config{Shards: 2, InitialCapacity: 1 << 14, Delegate: true}, "k", 14, false},
	} {
		m := openMap(t, c.cfg)
		d := directOf(t, m)
		if bits := atomic.LoadUint64(d.shards[0].table) & 63; bits != c.bits {
			t.Fatalf("capacity %d: %d bits per shard, the test expects %d", c.cfg.InitialCapacity, bits, c.bits)
		}
		for i := 0; i < 2000; i++ {
			key := []byte(fmt.Sprintf("%s%08d", c.prefix, i))
			noErr(t, m.Store(key, patternValue(key, 0, 32)))
		}
		if d.large.Load() != c.large {
			t.Errorf("%+v, keys %q...: large %v after 2,000 writes, want %v", c.cfg, c.prefix, d.large.Load(), c.large)
		}
	}
}

// TestDirectHitsMarkForEviction: in cache mode a direct hit marks its entry
// as an engine read does (protocol step 8), so S3-FIFO keeps what was read
// directly through a flood of new keys; a map whose hot keys were not read
// loses them. (Without the mark, both maps lose them.)
func TestDirectHitsMarkForEviction(t *testing.T) {
	survivors := func(read bool) int {
		m := openMap(t, Config{Shards: 1, MemoryLimit: 1 << 20, Eviction: EvictionS3FIFO})
		d := directOf(t, m)
		out := make([]byte, 64)
		for i := 0; i < 100; i++ {
			noErr(t, m.Store(patternKey(i, 16), patternValue(patternKey(i, 16), 0, 32)))
		}
		if read {
			for i := 0; i < 100; i++ {
				if _, r := fastRead(d, patternKey(i, 16), out); r != directHit {
					t.Fatalf("hot key %d: outcome %d, want a direct hit", i, r)
				}
			}
		}
		for i := 1000; i < 60_000; i++ { // about 4 MiB of entries through 1 MiB
			noErr(t, m.Store(patternKey(i, 16), patternValue(patternKey(i, 16), 0, 32)))
		}
		st, err := m.Stats()
		noErr(t, err)
		if st.Evictions < 40_000 {
			t.Fatalf("only %d evictions: the flood did not churn the cache", st.Evictions)
		}
		left := 0
		for i := 0; i < 100; i++ {
			if _, r := fastRead(d, patternKey(i, 16), out); r == directHit {
				left++
			}
		}
		return left
	}
	if kept := survivors(true); kept < 90 {
		t.Fatalf("%d of 100 keys read directly survived the flood; want at least 90", kept)
	}
	if kept := survivors(false); kept > 10 {
		t.Fatalf("%d of 100 keys never read survived the flood; want at most 10", kept)
	}
}

// fastRead is a direct read through fastGet when the reader owns stripes
// (fastGet's condition), else through get: both direct, so that a test of
// what a direct read answers holds with NUMASHARD_NO_MEMBARRIER=1 too,
// where fastGet leaves every read to get.
func fastRead(d *directReader, key, out []byte) (int, directOutcome) {
	if d.nOwned > 0 {
		return d.fastGet(key, out)
	}
	return d.get(key, out, true)
}

// TestProbeAndTTLHitExpireByTheClock: the two direct reads of an entry with
// a deadline (probe for the general path, ttlHit for fastGet's), on a
// record laid out as the engine lays it (header, key, value, the deadline
// at the next multiple of 8) in memory of the test's own, so that no owner
// thread reclaims the entry first: a deadline ahead is a hit, one passed
// a miss (whatever room the caller has), and without NS_DIRECT_CLOCK the
// engine reads it.
func TestProbeAndTTLHitExpireByTheClock(t *testing.T) {
	key := []byte("sixteen-byte-key")
	value := []byte("a value of 20 bytes.")
	for _, c := range []struct {
		name     string
		deadline uint64
		clock    bool
		want     directOutcome
	}{
		{"ahead", uint64(nanotime()) + uint64(time.Hour), true, directHit},
		{"passed", uint64(nanotime()) - 1, true, directMiss},
		{"no clock", uint64(nanotime()) + uint64(time.Hour), false, directFallback},
	} {
		// One allocation (the reader's pointer arithmetic stays inside it,
		// as checkptr under -race asks): two slots, then the record, 8 +
		// 16 + 20 = 44 bytes with the deadline at 48.
		mem := make([]uint64, 4+7)
		slots, rec := mem[:4], mem[4:]
		rb := unsafe.Slice((*byte)(unsafe.Pointer(&rec[0])), 56)
		binary.NativeEndian.PutUint32(rb[0:], uint32(len(key))|hasDeadline)
		binary.NativeEndian.PutUint32(rb[4:], uint32(len(value)))
		copy(rb[8:], key)
		copy(rb[24:], value)
		rec[6] = c.deadline
		const h = uint64(0x9e3779b97f4a7c15)
		// Two slots; the hash's top bit is 1, so the key's home is slot 1.
		slots[2], slots[3] = h|1, uint64(uintptr(unsafe.Pointer(&rec[0])))
		var seq uint64
		out := make([]byte, 32)
		n, r, slot, ok := probe(&seq, 0, unsafe.Pointer(&slots[0]), 1, h>>63, h|1, key, out, false, c.clock)
		if !ok || r != c.want {
			t.Fatalf("%s: probe answered %d (consistent %v), want %d", c.name, r, ok, c.want)
		}
		if r == directHit && (string(out[:n]) != string(value) || slot != unsafe.Pointer(&slots[2])) {
			t.Fatalf("%s: probe read %q from slot %p", c.name, out[:n], slot)
		}
		if c.want != directFallback {
			// Too small a buffer: the size when live, a miss when expired.
			_, r, _, _ = probe(&seq, 0, unsafe.Pointer(&slots[0]), 1, h>>63, h|1, key, out[:4], false, c.clock)
			if want := map[directOutcome]directOutcome{directHit: directTooSmall, directMiss: directMiss}[c.want]; r != want {
				t.Fatalf("%s: probe into 4 bytes answered %d, want %d", c.name, r, want)
			}
		}
		sh := &directShard{seq: &seq, flags: directRead}
		if c.clock {
			sh.flags |= directClock
		}
		k0 := binary.NativeEndian.Uint64(key)
		k1 := binary.NativeEndian.Uint64(key[8:])
		n, w, r := ttlHit(sh, 0, unsafe.Pointer(&rec[0]), len(key), k0, k1, len(value), len(out))
		if r != c.want {
			t.Fatalf("%s: ttlHit answered %d, want %d", c.name, r, c.want)
		}
		if r == directHit {
			storeWords(out, w, n)
			if string(out[:n]) != string(value) {
				t.Fatalf("%s: ttlHit read %q", c.name, out[:n])
			}
		}
		if _, _, r := ttlHit(sh, 0, unsafe.Pointer(&rec[0]), len(key), k0+1, k1, len(value), len(out)); r != directOther {
			t.Fatalf("%s: ttlHit of another key answered %d", c.name, r)
		}
		runtime.KeepAlive(mem)
	}
}

// answered is read's answer once it is not a fallback (at most 100 tries):
// an owner reclaiming expired entries writes in sections of its own, and a
// direct read that meets one leaves the key to the engine.
func answered(read func() (int, directOutcome)) (int, directOutcome) {
	n, r := read()
	for try := 1; try < 100 && r == directFallback; try++ {
		n, r = read()
	}
	return n, r
}
