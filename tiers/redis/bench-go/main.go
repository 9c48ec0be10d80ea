// Command bench-go measures rueidis, with and without DoCache (its
// client-side cache over CLIENT TRACKING), on the same workload as the Rust
// near_bench example: Zipf (θ 0.99) GETs over the keys bench:0000000 ..,
// one goroutine, cache sized for about 90% and 99% hits. It also reports the
// Go GC's cost during each run. The server is given (-server) and already
// loaded (near_bench --keep-server loads it); see bench/results/near-cache.md.
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
	name    string
	keys    int
	secs    float64
	lat     []time.Duration
	hits    int
	gcCount uint32
	gcPause time.Duration
	gcCPU   float64
	heapMiB float64
	hasHits bool
}

func pct(l []time.Duration, p float64) float64 {
	i := int(float64(len(l)) * p)
	if i >= len(l) {
		i = len(l) - 1
	}
	return float64(l[i].Nanoseconds()) / 1000
}

func measure(name string, secs float64, op func() bool) result {
	runtime.GC()
	var m0, m1 runtime.MemStats
	runtime.ReadMemStats(&m0)
	lat := make([]time.Duration, 0, 1<<20)
	hits := 0
	start := time.Now()
	for time.Since(start).Seconds() < secs {
		for j := 0; j < 16; j++ {
			t := time.Now()
			if op() {
				hits++
			}
			lat = append(lat, time.Since(t))
		}
	}
	el := time.Since(start).Seconds()
	runtime.ReadMemStats(&m1)
	sort.Slice(lat, func(a, b int) bool { return lat[a] < lat[b] })
	return result{name: name, keys: len(lat), secs: el, lat: lat, hits: hits,
		gcCount: m1.NumGC - m0.NumGC, gcPause: time.Duration(m1.PauseTotalNs - m0.PauseTotalNs),
		gcCPU: m1.GCCPUFraction, heapMiB: float64(m1.HeapInuse) / (1 << 20)}
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
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	results = append(results, measure("rueidis Do(GET), no cache", *secs, func() bool {
		if _, err := plain.Do(ctx, plain.B().Get().Key(ks.get(st.next())).Build()).AsBytes(); err != nil {
			panic(err)
		}
		return false
	}))
	plain.Close()

	for _, share := range []float64{0.90, 0.99} {
		top := z.topFor(share)
		// rueidis's cache needs more bytes per entry than the near cache to reach the same hit
		// ratio (a first run with 177 B per entry measured 78% and 90%): 3.5× that.
		perEntry := (13 + *valueSize + 100) * 7 / 2
		size := int(float64(top*perEntry) * 1.02)
		c, err := rueidis.NewClient(rueidis.ClientOption{InitAddress: []string{*server}, CacheSizeEachConn: size})
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		get := func(k string) bool {
			res := c.DoCache(ctx, c.B().Get().Key(k).Cache(), time.Hour)
			if _, err := res.AsBytes(); err != nil {
				panic(err)
			}
			return res.IsCacheHit()
		}
		for i := 0; i < top; i++ {
			get(key(i))
		}
		for i := 0; i < *n; i++ {
			get(key(z.sample(r)))
		}
		res := measure(fmt.Sprintf("rueidis DoCache(GET), sized for %.0f%%", share*100), *secs, func() bool { return get(ks.get(st.next())) })
		res.hasHits = true
		results = append(results, res)
		if share > 0.95 {
			i := 0
			res := measure("rueidis DoCache(GET), cache hits only (1000 hottest keys)", *secs, func() bool { i = (i + 1) % 1000; return get(ks.get(i)) })
			res.hasHits = true
			results = append(results, res)
		}
		c.Close()
	}

	base := float64(results[0].keys) / results[0].secs
	fmt.Println("| run | hit ratio | keys/s | × rueidis no cache | mean µs | p50 µs | p99 µs | p99.9 µs | GCs | GC pause total | GC CPU fraction | heap in use |")
	fmt.Println("|---|---|---|---|---|---|---|---|---|---|---|---|")
	for _, res := range results {
		rate := float64(res.keys) / res.secs
		var sum time.Duration
		for _, l := range res.lat {
			sum += l
		}
		hit := "-"
		if res.hasHits {
			hit = fmt.Sprintf("%.1f%%", 100*float64(res.hits)/float64(res.keys))
		}
		fmt.Printf("| %s | %s | %.0f | %.2f | %.2f | %.2f | %.2f | %.1f | %d | %v | %.4f | %.0f MiB |\n", res.name, hit, rate, rate/base,
			float64(sum.Nanoseconds())/float64(len(res.lat))/1000, pct(res.lat, 0.5), pct(res.lat, 0.99), pct(res.lat, 0.999),
			res.gcCount, res.gcPause, res.gcCPU, res.heapMiB)
	}
	fmt.Printf("\nkeys %d, Zipf θ 0.99, one goroutine, %.0f s per run, GOMAXPROCS %d.\n", *n, *secs, runtime.GOMAXPROCS(0))
}
