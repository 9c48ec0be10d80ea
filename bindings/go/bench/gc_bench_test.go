package bench

import (
	"fmt"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"sync"
	"testing"

	"github.com/numashard/numashard/bindings/go"
	"github.com/puzpuzpuz/xsync/v4"
)

// BenchmarkGC measures what a resident map costs the garbage collector:
// the same entries (LARGE = 10M with NUMASHARD_BENCH_LARGE=1, else SMALL),
// each key and value its own allocation as in a real program, resident in
// each map; then b.N forced collections. Reported per cycle: GC CPU time
// (runtime/metrics /cpu/classes/gc/total), the longest stop-the-world GC
// pause, and the live heap.
func BenchmarkGC(b *testing.B) {
	sizes := benchSizes()
	n := sizes[len(sizes)-1]
	for _, impl := range []string{"numashard", "syncmap", "rwmap", "sharded32", "xsync"} {
		b.Run(fmt.Sprintf("size=%s/impl=%s", sizeName(n), impl), func(b *testing.B) {
			old := debug.SetGCPercent(800) // fill faster (see populated)
			keep := gcResident(n, impl)
			debug.SetGCPercent(old)
			runtime.GC()
			before := readGCMetrics()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				runtime.GC()
			}
			b.StopTimer()
			after := readGCMetrics()
			cycles := after.cycles - before.cycles
			b.ReportMetric((after.gcCPU-before.gcCPU)/float64(cycles)*1e3, "gc-cpu-ms/cycle")
			b.ReportMetric(maxPauseDelta(before.pauses, after.pauses)*1e3, "max-pause-ms")
			b.ReportMetric(float64(after.heap)/(1<<20), "heap-MB")
			runtime.KeepAlive(keep)
			if c, ok := keep.(interface{ Close() error }); ok {
				c.Close()
			}
		})
	}
}

// gcResident builds a map of n entries whose keys and values are separate
// allocations (string keys, []byte values), and returns it.
func gcResident(n int, impl string) any {
	key := func(i int) string { return fmt.Sprintf("%016x", splitmix(uint64(i))) }
	switch impl {
	case "numashard":
		m, err := numashard.Open(numashard.Config{})
		if err != nil {
			panic(err)
		}
		batch := numashard.NewBatch(1024)
		for lo := 0; lo < n; lo += 1024 {
			batch.Reset()
			for i := lo; i < min(lo+1024, n); i++ {
				batch.PutString(key(i), benchValue(i))
			}
			if err := m.Run(batch); err != nil {
				panic(err)
			}
		}
		return m
	case "syncmap":
		var m sync.Map
		for i := 0; i < n; i++ {
			m.Store(key(i), benchValue(i))
		}
		return &m
	case "rwmap":
		m := make(map[string][]byte)
		for i := 0; i < n; i++ {
			m[key(i)] = benchValue(i)
		}
		return m
	case "sharded32":
		var keys benchKeys
		s := newShardedBench(&keys, n)
		for i := 0; i < n; i++ {
			k := key(i)
			sh := &s.shards[hashString(s, k)&31]
			sh.m[k] = benchValue(i)
		}
		return s
	case "xsync":
		m := xsync.NewMap[string, []byte]()
		for i := 0; i < n; i++ {
			m.Store(key(i), benchValue(i))
		}
		return m
	}
	panic(impl)
}

type gcMetrics struct {
	gcCPU  float64
	cycles uint64
	heap   uint64
	pauses *metrics.Float64Histogram
}

func readGCMetrics() gcMetrics {
	s := []metrics.Sample{
		{Name: "/cpu/classes/gc/total:cpu-seconds"},
		{Name: "/gc/cycles/total:gc-cycles"},
		{Name: "/memory/classes/heap/objects:bytes"},
		{Name: "/sched/pauses/total/gc:seconds"},
	}
	metrics.Read(s)
	return gcMetrics{
		gcCPU:  s[0].Value.Float64(),
		cycles: s[1].Value.Uint64(),
		heap:   s[2].Value.Uint64(),
		pauses: s[3].Value.Float64Histogram(),
	}
}

// maxPauseDelta is the upper bound of the highest histogram bucket that
// gained a pause between two readings.
func maxPauseDelta(before, after *metrics.Float64Histogram) float64 {
	for i := len(after.Counts) - 1; i >= 0; i-- {
		if after.Counts[i] > before.Counts[i] {
			hi := after.Buckets[i+1]
			if hi > 1e9 { // +Inf bucket: report its lower bound
				hi = after.Buckets[i]
			}
			return hi
		}
	}
	return 0
}
