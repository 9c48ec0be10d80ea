package bench

// Benchmarks of numashard against the maps Go programs use today, in one
// run, on the same keys: sync.Map, RWMutex+map, a 32-way sharded RWMutex
// map, xsync.Map (v4, the successor of MapOf), the off-heap caches
// fastcache, freecache and bigcache (offheap_bench_test.go), and otter
// (otter_bench_test.go), the peer of numashard's cache mode. This is a
// module of its own, so that none of these enter the module graph of
// numashard's users. Inside the repository, run it with -tags
// numashard_dev (the library built from the working tree). 16-byte keys, 32-byte
// values; SMALL = 100k entries, LARGE = 10M entries (opt-in:
// NUMASHARD_BENCH_LARGE=1). Names: BenchmarkMap/size=N/impl=I/op=O; run
// one impl at a time with -bench 'Map/size=10M/impl=xsync' to bound memory.
//
// Environment:
//
//	NUMASHARD_BENCH_LARGE=1     also run LARGE (10M entries) and the 10M GC benchmark
//	NUMASHARD_BENCH_SMALL=n     SMALL size (default 100000)
//	NUMASHARD_BENCH_LARGE_N=n   LARGE size (default 10000000)
//	NUMASHARD_BENCH_HEAP_OPS=re only the workloads matching re for the Go-heap maps
//	                            (syncmap, rwmap, sharded32, xsync, otter): at 10M each of their
//	                            runs starts with a forced GC of 10M heap entries (seconds)
//
// Every op is one key: ns/op is per key, for batches too.

import (
	"encoding/binary"
	"fmt"
	"hash/maphash"
	"math/bits"
	"os"
	"regexp"
	"runtime"
	"runtime/debug"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"github.com/numashard/numashard/bindings/go"
	"github.com/puzpuzpuz/xsync/v4"
)

const (
	benchKeyLen   = 16
	benchValueLen = 32
)

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

func benchSizes() []int {
	sizes := []int{envInt("NUMASHARD_BENCH_SMALL", 100_000)}
	if os.Getenv("NUMASHARD_BENCH_LARGE") != "" {
		sizes = append(sizes, envInt("NUMASHARD_BENCH_LARGE_N", 10_000_000))
	}
	return sizes
}

func sizeName(n int) string {
	switch {
	case n%1_000_000 == 0:
		return fmt.Sprintf("%dM", n/1_000_000)
	case n%1000 == 0:
		return fmt.Sprintf("%dk", n/1000)
	}
	return strconv.Itoa(n)
}

// benchKeys holds n keys back to back in pointer-free arenas (no per-key
// allocation, nothing extra for the GC to trace). Lookups read arena: the
// numashard side as []byte, the Go maps as strings pointing into it. The Go
// maps store their keys from a second copy, stored, as a program's map holds
// keys of its own while its lookup keys come from elsewhere (a request):
// were the stored and the looked-up key the same memory, the Go maps' key
// compare would end at the pointers and never read the stored key, a
// dependent miss every real lookup pays (and numashard always does, as it
// compares against its own copy). Stores pass stored's keys too.
type benchKeys struct {
	n      int
	arena  []byte
	stored []byte
}

func splitmix(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

func newBenchKeys(n int) *benchKeys {
	k := &benchKeys{n: n, arena: make([]byte, n*benchKeyLen)}
	for i := 0; i < n; i++ {
		binary.LittleEndian.PutUint64(k.arena[i*benchKeyLen:], splitmix(uint64(i)))
		binary.LittleEndian.PutUint64(k.arena[i*benchKeyLen+8:], uint64(i))
	}
	k.stored = append([]byte(nil), k.arena...)
	return k
}

func (k *benchKeys) bytes(i int) []byte {
	return k.arena[i*benchKeyLen : (i+1)*benchKeyLen : (i+1)*benchKeyLen]
}

// str is key i for a lookup; storedStr is the same key as the Go maps store
// it (other memory, equal bytes).
func (k *benchKeys) str(i int) string {
	return unsafe.String(&k.arena[i*benchKeyLen], benchKeyLen)
}

func (k *benchKeys) storedStr(i int) string {
	return unsafe.String(&k.stored[i*benchKeyLen], benchKeyLen)
}

func benchValue(i int) []byte {
	v := make([]byte, benchValueLen)
	for j := 0; j < benchValueLen; j += 8 {
		binary.LittleEndian.PutUint64(v[j:], splitmix(uint64(i)+uint64(j)))
	}
	return v
}

// benchMap is what a workload drives: load copies the value into buf (or
// hands back the stored slice, for the Go maps, which never copy).
type benchMap interface {
	load(i int, buf []byte) bool
	store(i int, v []byte)
	// loadBatch loads keys idx (one cgo call for numashard, a loop for the
	// Go maps, which have no crossing to amortise); returns hits.
	loadBatch(idx []int, st *batchState) int
	// mixBatch: idx[j] is loaded, or stored when store[j].
	mixBatch(idx []int, store []bool, v []byte, st *batchState)
	close()
}

// batchState is a goroutine's reusable batch (numashard) and load buffer
// (the caches that copy into the caller's buffer).
type batchState struct {
	b   *numashard.Batch
	g   *numashard.GetBatch
	buf []byte
}

// --- Go peers -------------------------------------------------------------

type syncMapBench struct {
	m sync.Map
	k *benchKeys
}

func (s *syncMapBench) load(i int, _ []byte) bool {
	_, ok := s.m.Load(s.k.str(i))
	return ok
}
func (s *syncMapBench) store(i int, v []byte) { s.m.Store(s.k.storedStr(i), v) }
func (s *syncMapBench) loadBatch(idx []int, _ *batchState) int {
	hits := 0
	for _, i := range idx {
		if _, ok := s.m.Load(s.k.str(i)); ok {
			hits++
		}
	}
	return hits
}
func (s *syncMapBench) mixBatch(idx []int, store []bool, v []byte, _ *batchState) {
	for j, i := range idx {
		if store[j] {
			s.m.Store(s.k.storedStr(i), v)
		} else {
			s.m.Load(s.k.str(i))
		}
	}
}
func (s *syncMapBench) close() {}

type rwMapBench struct {
	mu sync.RWMutex
	m  map[string][]byte
	k  *benchKeys
}

func (r *rwMapBench) load(i int, _ []byte) bool {
	r.mu.RLock()
	_, ok := r.m[r.k.str(i)]
	r.mu.RUnlock()
	return ok
}
func (r *rwMapBench) store(i int, v []byte) {
	r.mu.Lock()
	r.m[r.k.storedStr(i)] = v
	r.mu.Unlock()
}
func (r *rwMapBench) loadBatch(idx []int, _ *batchState) int {
	hits := 0
	for _, i := range idx {
		if r.load(i, nil) {
			hits++
		}
	}
	return hits
}
func (r *rwMapBench) mixBatch(idx []int, store []bool, v []byte, _ *batchState) {
	for j, i := range idx {
		if store[j] {
			r.store(i, v)
		} else {
			r.load(i, nil)
		}
	}
}
func (r *rwMapBench) close() {}

// shardedBench is the usual hand-written sharded map: 32 RWMutex+map
// shards, padded to their own cache lines, picked by maphash.
type shardedBench struct {
	seed   maphash.Seed
	shards [32]struct {
		mu sync.RWMutex
		m  map[string][]byte
		_  [64 - 32]byte
	}
	k *benchKeys
}

func newShardedBench(k *benchKeys, n int) *shardedBench {
	s := &shardedBench{seed: maphash.MakeSeed(), k: k}
	for i := range s.shards {
		s.shards[i].m = make(map[string][]byte, n/32+1)
	}
	return s
}

func hashString(s *shardedBench, k string) uint64 { return maphash.String(s.seed, k) }

func (s *shardedBench) load(i int, _ []byte) bool {
	k := s.k.str(i)
	sh := &s.shards[hashString(s, k)&31]
	sh.mu.RLock()
	_, ok := sh.m[k]
	sh.mu.RUnlock()
	return ok
}
func (s *shardedBench) store(i int, v []byte) {
	k := s.k.storedStr(i)
	sh := &s.shards[maphash.String(s.seed, k)&31]
	sh.mu.Lock()
	sh.m[k] = v
	sh.mu.Unlock()
}
func (s *shardedBench) loadBatch(idx []int, _ *batchState) int {
	hits := 0
	for _, i := range idx {
		if s.load(i, nil) {
			hits++
		}
	}
	return hits
}
func (s *shardedBench) mixBatch(idx []int, store []bool, v []byte, _ *batchState) {
	for j, i := range idx {
		if store[j] {
			s.store(i, v)
		} else {
			s.load(i, nil)
		}
	}
}
func (s *shardedBench) close() {}

type xsyncBench struct {
	m *xsync.Map[string, []byte]
	k *benchKeys
}

func (x *xsyncBench) load(i int, _ []byte) bool {
	_, ok := x.m.Load(x.k.str(i))
	return ok
}
func (x *xsyncBench) store(i int, v []byte) { x.m.Store(x.k.storedStr(i), v) }
func (x *xsyncBench) loadBatch(idx []int, _ *batchState) int {
	hits := 0
	for _, i := range idx {
		if _, ok := x.m.Load(x.k.str(i)); ok {
			hits++
		}
	}
	return hits
}
func (x *xsyncBench) mixBatch(idx []int, store []bool, v []byte, _ *batchState) {
	for j, i := range idx {
		if store[j] {
			x.m.Store(x.k.storedStr(i), v)
		} else {
			x.m.Load(x.k.str(i))
		}
	}
}
func (x *xsyncBench) close() {}

// --- numashard --------------------------------------------------------------

// nsBench loads with LoadInto (no allocation: the caller's buffer, like the
// Go maps handing out their stored slice); nsCopyBench with Load (a new
// slice per call, sync.Map-shaped).
type nsBench struct {
	m *numashard.Map
	k *benchKeys
}

func (s *nsBench) load(i int, buf []byte) bool {
	_, ok, _ := s.m.LoadInto(s.k.bytes(i), buf)
	return ok
}
func (s *nsBench) store(i int, v []byte) { s.m.Store(s.k.bytes(i), v) }
func (s *nsBench) loadBatch(idx []int, st *batchState) int {
	b := st.b
	b.Reset()
	for _, i := range idx {
		b.Get(s.k.bytes(i))
	}
	s.m.Run(b)
	hits := 0
	for j := range idx {
		if b.OK(j) {
			hits++
		}
	}
	return hits
}
func (s *nsBench) mixBatch(idx []int, store []bool, v []byte, st *batchState) {
	b := st.b
	b.Reset()
	for j, i := range idx {
		if store[j] {
			b.Put(s.k.bytes(i), v)
		} else {
			b.Get(s.k.bytes(i))
		}
	}
	s.m.Run(b)
}
func (s *nsBench) close() { s.m.Close() }

type nsCopyBench struct{ nsBench }

// nsGetsBench runs its batches of loads as a GetBatch (Map.RunGets: keys
// and values in flat arrays, no op records) instead of a Batch.
type nsGetsBench struct{ nsBench }

func (s *nsGetsBench) loadBatch(idx []int, st *batchState) int {
	g := st.g
	g.Reset()
	for _, i := range idx {
		g.Get(s.k.bytes(i))
	}
	s.m.RunGets(g)
	hits := 0
	for j := range idx {
		if g.OK(j) {
			hits++
		}
	}
	return hits
}

func (s *nsCopyBench) load(i int, _ []byte) bool {
	_, ok, _ := s.m.Load(s.k.bytes(i))
	return ok
}

// --- building and caching the populated maps --------------------------------

// numashard-cache is numashard in cache mode (S3-FIFO eviction, hit and
// miss counting) with a limit that holds every entry: what cache mode costs
// when nothing is evicted (every load must still hit); numashard-cache-ttl
// the same with a default TTL of an hour, so that every entry carries a
// deadline every load checks (otter-ttl is its peer). numashard-cgo is
// numashard with Config.NoDirectReads: every load a cgo call, batches of
// loads a GetBatch in one cgo call (its own map, the same entries; loads
// only): what numashard and numashard-gets cost without direct reads.
// numashard-placed is numashard with InitialCapacity set to the table's
// entries and PlaceRecordsByHash (its own map); numashard-sized the same
// without PlaceRecordsByHash, to tell the placement from the sizing.
var benchImpls = []string{"numashard", "numashard-copy", "numashard-gets", "numashard-cgo", "numashard-cache",
	"numashard-cache-ttl", "numashard-placed", "numashard-sized", "syncmap", "rwmap",
	"sharded32", "xsync", "fastcache", "freecache", "bigcache", "otter", "otter-ttl"}

// chainImpls copy a loaded value into the caller's buffer (LoadInto), which
// the load-chain workload picks its next key from.
var chainImpls = map[string]bool{"numashard": true, "numashard-cgo": true, "numashard-placed": true, "numashard-sized": true}

// goHeapImpls keep their entries on the Go heap.
var goHeapImpls = map[string]bool{"syncmap": true, "rwmap": true, "sharded32": true, "xsync": true, "otter": true, "otter-ttl": true}

type benchCacheKey struct {
	n    int
	impl string
}

// benchCache keeps the last populated map (one at a time: LARGE maps are big).
var benchCache struct {
	sync.Mutex
	key    benchCacheKey
	m      benchMap
	bySize map[int]*benchKeys
}

// populated returns the map for (n, impl), filled with n entries, keeping
// only one populated map alive at a time (LARGE maps are big).
func populated(b *testing.B, n int, impl string) (benchMap, *benchKeys) {
	c := &benchCache
	c.Lock()
	defer c.Unlock()
	keys := c.bySize[n]
	if keys == nil {
		c.bySize = map[int]*benchKeys{n: newBenchKeys(n)}
		keys = c.bySize[n]
	}
	// numashard and numashard-copy share one engine map.
	shared := impl
	if impl == "numashard-copy" || impl == "numashard-gets" {
		shared = "numashard"
	}
	want := benchCacheKey{n, shared}
	if c.m != nil && c.key == want {
		return wrapImpl(c.m, impl), keys
	}
	if c.m != nil {
		c.m.close()
		c.m = nil
		runtime.GC()
	}
	b.StopTimer()
	defer b.StartTimer()
	// Filling a Go map of 10M entries under the default GOGC collects the
	// growing heap over and over; collect less often while filling.
	defer debug.SetGCPercent(debug.SetGCPercent(800))
	var m benchMap
	switch shared {
	case "numashard", "numashard-cache", "numashard-cache-ttl", "numashard-cgo", "numashard-placed", "numashard-sized":
		cfg := numashard.Config{NoDirectReads: shared == "numashard-cgo"}
		if shared == "numashard-placed" || shared == "numashard-sized" {
			// Sized for the table; its small entries placed by hash or not.
			cfg.InitialCapacity, cfg.PlaceRecordsByHash = n, shared == "numashard-placed"
		}
		// NUMASHARD_BENCH_SHARDS: another shard count than the default (one per CPU).
		cfg.Shards = envInt("NUMASHARD_BENCH_SHARDS", 0)
		if shared == "numashard-cache" || shared == "numashard-cache-ttl" {
			// Room for every entry (~100 B each) several times over.
			cfg.MemoryLimit, cfg.Eviction = uint64(n)*512, numashard.EvictionS3FIFO
		}
		if shared == "numashard-cache-ttl" {
			cfg.DefaultTTL = time.Hour
		}
		nm, err := numashard.Open(cfg)
		if err != nil {
			b.Fatal(err)
		}
		batch := numashard.NewBatch(1024)
		for lo := 0; lo < n; lo += 1024 {
			batch.Reset()
			for i := lo; i < min(lo+1024, n); i++ {
				batch.Put(keys.bytes(i), benchValue(i))
			}
			if err := nm.Run(batch); err != nil {
				b.Fatal(err)
			}
		}
		m = &nsBench{m: nm, k: keys}
	case "syncmap":
		s := &syncMapBench{k: keys}
		for i := 0; i < n; i++ {
			s.m.Store(keys.storedStr(i), benchValue(i))
		}
		m = s
	case "rwmap":
		r := &rwMapBench{m: make(map[string][]byte, n), k: keys}
		for i := 0; i < n; i++ {
			r.m[keys.storedStr(i)] = benchValue(i)
		}
		m = r
	case "sharded32":
		s := newShardedBench(keys, n)
		for i := 0; i < n; i++ {
			s.store(i, benchValue(i))
		}
		m = s
	case "fastcache":
		m = loops{newFastcache(keys, n)}
	case "freecache":
		m = loops{newFreecache(keys, n)}
	case "bigcache":
		m = loops{newBigcache(keys, n)}
	case "otter":
		m = loops{newOtter(keys, n, 0)}
	case "otter-ttl":
		m = loops{newOtter(keys, n, time.Hour)}
	case "xsync":
		x := &xsyncBench{m: xsync.NewMap[string, []byte](xsync.WithPresize(n)), k: keys}
		for i := 0; i < n; i++ {
			x.m.Store(keys.storedStr(i), benchValue(i))
		}
		m = x
	default:
		b.Fatalf("unknown impl %q", impl)
	}
	runtime.GC()
	c.m, c.key = m, want
	return wrapImpl(m, impl), keys
}

func wrapImpl(m benchMap, impl string) benchMap {
	switch impl {
	case "numashard-copy":
		return &nsCopyBench{*m.(*nsBench)}
	case "numashard-gets", "numashard-cgo":
		return &nsGetsBench{*m.(*nsBench)}
	}
	return m
}

// rng is a per-goroutine wyrand: cheap enough not to blur the numbers.
type rng struct{ s uint64 }

func (r *rng) intn(n int) int {
	r.s += 0xa0761d6478bd642f
	hi, lo := bits.Mul64(r.s, r.s^0xe7037ed1a0b428db)
	hi, _ = bits.Mul64(hi^lo, uint64(n))
	return int(hi)
}

var rngSeed struct {
	sync.Mutex
	n uint64
}

func newRng() *rng {
	rngSeed.Lock()
	defer rngSeed.Unlock()
	rngSeed.n++
	return &rng{s: splitmix(rngSeed.n)}
}

type workload struct {
	name     string
	storePct int  // percent of ops that store
	batch    int  // 0 = single calls
	chain    bool // each load's key comes from the value the one before read
}

var workloads = []workload{
	{"load", 0, 0, false},
	// Loads one after the other: the next key is picked from the bytes the
	// last load copied out, so no load's misses can overlap the next one's
	// (as when a request's next lookup depends on this one). numashard
	// impls only: the Go maps' loads hand out their slice without copying.
	{"load-chain", 0, 0, true},
	{"r90w10", 10, 0, false},
	{"r50w50", 50, 0, false},
	{"store", 100, 0, false},
	{"batch16-load", 0, 16, false},
	{"batch64-load", 0, 64, false},
	{"batch256-load", 0, 256, false},
	{"batch64-r90w10", 10, 64, false},
	{"batch64-r50w50", 50, 64, false},
	{"batch64-store", 100, 64, false},
}

// BenchmarkMap runs every workload on every map, SMALL (and LARGE when
// asked), with b.RunParallel: -cpu sets the number of goroutines.
func BenchmarkMap(b *testing.B) {
	for _, n := range benchSizes() {
		b.Run("size="+sizeName(n), func(b *testing.B) {
			for _, impl := range benchImpls {
				b.Run("impl="+impl, func(b *testing.B) {
					for _, w := range workloads {
						if impl == "numashard-copy" && w.batch > 0 {
							continue // the same as numashard's batches
						}
						if impl == "numashard-gets" && (w.batch == 0 || w.storePct > 0) {
							continue // only its batches of loads differ from numashard
						}
						if impl == "numashard-cgo" && w.storePct > 0 {
							continue // only its loads differ from numashard
						}
						if w.chain && !chainImpls[impl] {
							continue // its load copies nothing out to chain on
						}
						if heapOnly := os.Getenv("NUMASHARD_BENCH_HEAP_OPS"); heapOnly != "" && goHeapImpls[impl] &&
							!regexp.MustCompile(heapOnly).MatchString(w.name) {
							continue
						}
						b.Run("op="+w.name, func(b *testing.B) {
							m, _ := populated(b, n, impl)
							runWorkload(b, m, n, w)
						})
					}
				})
			}
		})
	}
}

// processCPU is the CPU time the whole process (every thread: goroutines,
// the GC, numashard's shard workers) has used.
func processCPU() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func runWorkload(b *testing.B, m benchMap, n int, w workload) {
	b.ReportAllocs()
	// Besides wall time (ns/op), report the process CPU time per op: on a
	// machine shared with other jobs, wall time mostly measures how much of
	// a core the benchmark was given; CPU time measures the work.
	cpu0 := processCPU()
	defer func() { b.ReportMetric(float64(processCPU()-cpu0)/float64(b.N), "cpu-ns/op") }()
	b.ResetTimer()
	var misses sync.Map
	b.RunParallel(func(pb *testing.PB) {
		r := newRng()
		buf := make([]byte, 64)
		v := benchValue(r.intn(n))
		miss := 0
		if w.chain {
			i := r.intn(n)
			for pb.Next() {
				if !m.load(i, buf) {
					miss++
				}
				// The next key from this value's first word, so that the
				// next load waits for this one, mixed with the generator's
				// next number (a function of the value alone would soon
				// cycle through a few thousand keys the caches hold).
				i = int((binary.LittleEndian.Uint64(buf) ^ uint64(r.intn(n))) % uint64(n))
			}
		} else if w.batch == 0 {
			for pb.Next() {
				i := r.intn(n)
				if w.storePct > 0 && r.intn(100) < w.storePct {
					m.store(i, v)
				} else if !m.load(i, buf) {
					miss++
				}
			}
		} else {
			st := &batchState{b: numashard.NewBatch(w.batch), g: numashard.NewGetBatch(w.batch), buf: make([]byte, 0, 64)}
			idx := make([]int, 0, w.batch)
			store := make([]bool, 0, w.batch)
			flush := func() {
				if len(idx) == 0 {
					return
				}
				if w.storePct == 0 {
					miss += len(idx) - m.loadBatch(idx, st)
				} else {
					m.mixBatch(idx, store, v, st)
				}
				idx, store = idx[:0], store[:0]
			}
			for pb.Next() {
				idx = append(idx, r.intn(n))
				store = append(store, w.storePct > 0 && r.intn(100) < w.storePct)
				if len(idx) == w.batch {
					flush()
				}
			}
			flush()
		}
		if miss > 0 {
			misses.Store(r, miss)
		}
	})
	misses.Range(func(_, v any) bool {
		b.Fatalf("%d loads missed: every load must hit", v)
		return false
	})
}

// BenchmarkRange is a full pass over SMALL entries (ns/op per entry): one
// cgo call (ns_iter_next_many) per 64 KiB of entries copied into a reused
// Go buffer, then decoded.
func BenchmarkRange(b *testing.B) {
	n := benchSizes()[0]
	for _, impl := range []string{"numashard", "syncmap", "xsync"} {
		b.Run("impl="+impl, func(b *testing.B) {
			m, _ := populated(b, n, impl)
			b.ReportAllocs()
			b.ResetTimer()
			seen := 0
			for seen < b.N {
				switch mm := m.(type) {
				case *nsBench:
					mm.m.Range(func(k, v []byte) bool { seen++; return seen < b.N })
				case *syncMapBench:
					mm.m.Range(func(k, v any) bool { seen++; return seen < b.N })
				case *xsyncBench:
					mm.m.Range(func(k string, v []byte) bool { seen++; return seen < b.N })
				}
			}
		})
	}
}
