// Command nearbench measures, from Go, package nearcache (numashard as the
// near cache in front of Redis, off the Go heap) against rueidis with and
// without DoCache (its client-side cache over CLIENT TRACKING, on the Go
// heap), on the workload of the Rust near_bench example: Zipf (θ 0.99) GETs
// over the keys bench:0000000 .., one goroutine, caches sized for about 90%
// and 99% hits; nearcache also per batch of 64 (GetMany). It reports the Go
// GC's cost: collections during each row, and the time of a forced full GC
// with the row's cache populated. The server is given (-server) and already
// loaded (near_bench loads it and runs this program: scripts/bench-near-cache.sh);
// results in bench/results/near-cache.md.
package main

import (
	"context"
	"flag"
	"fmt"
	"math"
	"os"
	"runtime"
	"sort"
	"time"
	"unsafe"

	"github.com/numashard/numashard/bindings/go/nearcache"
	"github.com/redis/rueidis"
)

type zipf struct{ cdf []float64 }

func newZipf(n int, theta float64) *zipf {
	cdf := make([]float64, n)
	sum := 0.0
	for i := 1; i <= n; i++ {
		sum += 1 / math.Pow(float64(i), theta)
		cdf[i-1] = sum
	}
	for i := range cdf {
		cdf[i] /= sum
	}
	return &zipf{cdf}
}

// splitmix64, as in the Rust bench.
type rng struct{ s uint64 }

func (r *rng) next() uint64 {
	r.s += 0x9E3779B97F4A7C15
	z := r.s
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9
	z = (z ^ (z >> 27)) * 0x94D049BB133111EB
	return z ^ (z >> 31)
}

func (z *zipf) sample(r *rng) int {
	u := float64(r.next()>>11) / float64(uint64(1)<<53)
	i := sort.SearchFloat64s(z.cdf, u)
	if i >= len(z.cdf) {
		i = len(z.cdf) - 1
	}
	return i
}

func (z *zipf) topFor(share float64) int { return sort.SearchFloat64s(z.cdf, share) + 1 }

func key(i int) string { return fmt.Sprintf("bench:%07d", i) }

// keys holds every key, 13 bytes each, in one string (no pointers for the GC
// to scan); timed calls slice their key out of it instead of formatting it.
type keys string

func newKeys(n int) keys {
	b := make([]byte, 0, n*13)
	for i := 0; i < n; i++ {
		b = append(b, key(i)...)
	}
	return keys(b)
}

func (k keys) get(i int) string { return string(k[i*13 : (i+1)*13]) }

// bytes views key i as a byte slice without copying (nearcache only reads it).
func (k keys) bytes(i int) []byte { s := k.get(i); return unsafe.Slice(unsafe.StringData(s), len(s)) }

// stream replays Zipf draws made before the clock starts.
type stream struct {
	ranks []uint32
	pos   int
}

func (s *stream) next() int {
	s.pos = (s.pos + 1) % len(s.ranks)
	return int(s.ranks[s.pos])
}

type result struct {
	name  string
	keys  int
	perOp int
	secs  float64
	// Per-call latency in µs: mean, p50, p99, p99.9 (the samples are not
	// kept, so one row's samples are not on the heap of the next).
	mean, p50, p99, p999 float64
	hits                 int
	gcCount              uint32
	gcPause              time.Duration
	forceGC              time.Duration
	heapMiB              float64
	hasHits              bool
}

func pct(l []time.Duration, p float64) float64 {
	i := int(float64(len(l)) * p)
	if i >= len(l) {
		i = len(l) - 1
	}
	return float64(l[i].Nanoseconds()) / 1000
}

// forcedGC is the median wall time of three full collections with the
// current heap: the marking every GC cycle pays for what the heap holds.
func forcedGC() time.Duration {
	var d []time.Duration
	for i := 0; i < 3; i++ {
		t := time.Now()
		runtime.GC()
		d = append(d, time.Since(t))
	}
	sort.Slice(d, func(a, b int) bool { return d[a] < d[b] })
	return d[1]
}

// measure runs op (which reads perOp keys and returns how many were cache
// hits) for secs, timing each call.
func measure(name string, secs float64, perOp int, op func() int) result {
	runtime.GC()
	var m0, m1 runtime.MemStats
	runtime.ReadMemStats(&m0)
	lat := make([]time.Duration, 0, 1<<20)
	hits := 0
	start := time.Now()
	for time.Since(start).Seconds() < secs {
		for j := 0; j < 16; j++ {
			t := time.Now()
			hits += op()
			lat = append(lat, time.Since(t))
		}
	}
	el := time.Since(start).Seconds()
	runtime.ReadMemStats(&m1)
	sort.Slice(lat, func(a, b int) bool { return lat[a] < lat[b] })
	var sum time.Duration
	for _, l := range lat {
		sum += l
	}
	res := result{name: name, keys: len(lat) * perOp, perOp: perOp, secs: el, hits: hits,
		mean: float64(sum.Nanoseconds()) / float64(len(lat)) / 1000, p50: pct(lat, 0.5), p99: pct(lat, 0.99), p999: pct(lat, 0.999),
		gcCount: m1.NumGC - m0.NumGC, gcPause: time.Duration(m1.PauseTotalNs - m0.PauseTotalNs),
		heapMiB: float64(m1.HeapInuse) / (1 << 20)}
	lat = nil
	res.forceGC = forcedGC()
	return res
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, err)
	os.Exit(1)
}

func main() {
	server := flag.String("server", "127.0.0.1:6379", "loaded redis-server")
	n := flag.Int("keys", 1000000, "keys bench:0000000 .. loaded on the server")
	secs := flag.Float64("seconds", 3, "seconds per run")
	valueSize := flag.Int("value-size", 64, "value size on the server (for cache sizing)")
	flag.Parse()
	z := newZipf(*n, 0.99)
	r := &rng{s: 42}
	ks := newKeys(*n)
	st := &stream{ranks: make([]uint32, 1<<22)}
	for i := range st.ranks {
		st.ranks[i] = uint32(z.sample(r))
	}
	ctx := context.Background()
	var results []result

	plain, err := rueidis.NewClient(rueidis.ClientOption{InitAddress: []string{*server}, DisableCache: true})
	if err != nil {
		fail(err)
	}
	results = append(results, measure("rueidis Do(GET), no cache", *secs, 1, func() int {
		if _, err := plain.Do(ctx, plain.B().Get().Key(ks.get(st.next())).Build()).AsBytes(); err != nil {
			panic(err)
		}
		return 0
	}))
	plain.Close()

	for _, share := range []float64{0.90, 0.99} {
		label := fmt.Sprintf("%.0f%%", share*100)
		// nearcache, sized like the Rust near cache: the measured charge per
		// entry times the top 94% / 99% of the reads' mass (S3-FIFO keeps
		// fewer than the ideal top-N).
		sizedFor := map[float64]float64{0.90: 0.94, 0.99: 0.99}[share]
		nc := openNear(*server, 4<<30)
		warmKeys := make([][]byte, 0, 64)
		for i := 0; i < 20000; i++ {
			warmKeys = append(warmKeys, []byte(key(i)))
			if len(warmKeys) == 64 {
				if _, err := nc.GetMany(warmKeys); err != nil {
					fail(err)
				}
				warmKeys = warmKeys[:0]
			}
		}
		s0, _ := nc.Stats()
		perEntry := float64(s0.Bytes) / float64(max(s0.Entries, 1))
		nc.Close()
		top := z.topFor(sizedFor)
		nc = openNear(*server, uint64(float64(top)*perEntry*1.02))
		warm := func(get func([]byte)) {
			for i := 0; i < top; i++ {
				get([]byte(key(i)))
			}
			for i := 0; i < *n; i++ {
				get([]byte(key(z.sample(r))))
			}
		}
		warm(func(k []byte) {
			if _, _, err := nc.Get(k); err != nil {
				fail(err)
			}
		})
		var buf [256]byte
		sa, _ := nc.Stats()
		res := measure("nearcache Get, sized for "+label, *secs, 1, func() int {
			if _, ok, err := nc.GetInto(ks.bytes(st.next()), buf[:]); err != nil || !ok {
				fail(fmt.Errorf("nearcache Get: %v %v", ok, err))
			}
			return 0
		})
		sb, _ := nc.Stats()
		res.hits, res.hasHits = int(sb.LocalHits-sa.LocalHits), true
		results = append(results, res)
		batch := make([][]byte, 64)
		res = measure("nearcache GetMany ×64, sized for "+label, *secs, 64, func() int {
			for i := range batch {
				batch[i] = ks.bytes(st.next())
			}
			if _, err := nc.GetMany(batch); err != nil {
				fail(err)
			}
			return 0
		})
		sc, _ := nc.Stats()
		res.hits, res.hasHits = int(sc.LocalHits-sb.LocalHits), true
		results = append(results, res)
		if share > 0.95 {
			i := 0
			res := measure("nearcache Get, local hits only (1000 hottest keys)", *secs, 1, func() int {
				i = (i + 1) % 1000
				if _, ok, err := nc.GetInto(ks.bytes(i), buf[:]); err != nil || !ok {
					fail(fmt.Errorf("nearcache Get: %v %v", ok, err))
				}
				return 1
			})
			res.hasHits = true
			results = append(results, res)
		}
		if st, err := nc.Stats(); err == nil {
			fmt.Fprintf(os.Stderr, "nearcache sized for %s: limit %d MiB (%.0f B per entry, top %d keys), entries %d, flushes %d, invalidations %d, reconnects %d, evictions %d\n",
				label, st.MemoryLimit>>20, perEntry, top, st.Entries, st.Flushes, st.Invalidations, st.Reconnects, st.Evictions)
		}
		nc.Close()

		// rueidis's cache needs more bytes per entry than the near cache to reach the same hit
		// ratio (a first run with 177 B per entry measured 78% and 90%): 3.5× that.
		perEntryR := (13 + *valueSize + 100) * 7 / 2
		size := int(float64(z.topFor(share)*perEntryR) * 1.02)
		c, err := rueidis.NewClient(rueidis.ClientOption{InitAddress: []string{*server}, CacheSizeEachConn: size})
		if err != nil {
			fail(err)
		}
		get := func(k string) int {
			res := c.DoCache(ctx, c.B().Get().Key(k).Cache(), time.Hour)
			if _, err := res.AsBytes(); err != nil {
				panic(err)
			}
			if res.IsCacheHit() {
				return 1
			}
			return 0
		}
		warm(func(k []byte) { get(string(k)) })
		res = measure("rueidis DoCache(GET), sized for "+label, *secs, 1, func() int { return get(ks.get(st.next())) })
		res.hasHits = true
		results = append(results, res)
		if share > 0.95 {
			i := 0
			res := measure("rueidis DoCache(GET), cache hits only (1000 hottest keys)", *secs, 1, func() int { i = (i + 1) % 1000; return get(ks.get(i)) })
			res.hasHits = true
			results = append(results, res)
		}
		c.Close()
	}

	base := float64(results[0].keys) / results[0].secs
	fmt.Println("| run | hit ratio | keys/s | × rueidis no cache | mean µs | p50 µs | p99 µs | p99.9 µs | GCs in row | GC pause in row | forced full GC | heap in use |")
	fmt.Println("|---|---|---|---|---|---|---|---|---|---|---|---|")
	for _, res := range results {
		rate := float64(res.keys) / res.secs
		hit := "-"
		if res.hasHits {
			hit = fmt.Sprintf("%.1f%%", 100*float64(res.hits)/float64(res.keys))
		}
		fmt.Printf("| %s | %s | %.0f | %.2f | %.2f | %.2f | %.2f | %.1f | %d | %v | %v | %.0f MiB |\n", res.name, hit, rate, rate/base,
			res.mean, res.p50, res.p99, res.p999,
			res.gcCount, res.gcPause, res.forceGC.Round(time.Microsecond), res.heapMiB)
	}
	fmt.Printf("\nkeys %d, Zipf θ 0.99, one goroutine, %g s per run, GOMAXPROCS %d; latency per call (one key, or a batch of 64).\n",
		*n, *secs, runtime.GOMAXPROCS(0))
}

func openNear(server string, limit uint64) *nearcache.Cache {
	c, err := nearcache.Open(nearcache.Config{Servers: []string{server}, MemoryLimit: limit})
	if err != nil {
		fail(err)
	}
	return c
}
