package bench

import (
	"encoding/binary"
	"sync"
	"testing"
)

// BenchmarkCgoFloor asks whether a cgo call, by itself, keeps a single
// numashard Load from matching a Go map's. Three loops over random keys of
// the benchmarks' key arena (SMALL and, with NUMASHARD_BENCH_LARGE=1,
// LARGE entries; 16-byte keys), one key per op:
//
//	fetch      pick a random key and read its two words (the first touch
//	           of the key, which every lookup pays: a miss at LARGE);
//	fetch+cgo  the same plus one empty cgo call per key;
//	cgo        the empty cgo call alone.
//
// A cgo call enters and leaves the "syscall" state with locked atomic
// instructions (runtime.entersyscall/exitsyscall), which on x86 wait for
// every earlier load: the misses of one key cannot overlap the next key's,
// as they do in a loop of Go map lookups. If fetch+cgo costs more than
// fetch + cgo, the crossing serialises the misses; if fetch+cgo alone
// costs at least the best Go peer's load (BenchmarkMap .../op=load, run
// in the same process), no single-key call through cgo can match that
// peer, whatever the engine does. Compare cpu-ns/op within one run.
func BenchmarkCgoFloor(b *testing.B) {
	for _, n := range benchSizes() {
		b.Run("size="+sizeName(n), func(b *testing.B) {
			keys := keysOf(n)
			for _, loop := range []string{"fetch", "fetch+cgo", "cgo"} {
				b.Run("loop="+loop, func(b *testing.B) {
					fetch, call := loop != "cgo", loop != "fetch"
					cpu0 := processCPU()
					defer func() { b.ReportMetric(float64(processCPU()-cpu0)/float64(b.N), "cpu-ns/op") }()
					b.ResetTimer()
					var total uint64
					b.RunParallel(func(pb *testing.PB) {
						r := newRng()
						var sink uint64
						for pb.Next() {
							if fetch {
								k := keys.bytes(r.intn(n))
								sink += binary.LittleEndian.Uint64(k) ^ binary.LittleEndian.Uint64(k[8:])
							}
							if call {
								cgoNop()
							}
						}
						floorSink.Lock()
						total += sink
						floorSink.Unlock()
					})
					floorSink.Lock()
					floorSink.v += total
					floorSink.Unlock()
				})
			}
		})
	}
}

// floorSink keeps the fetched words alive, so the compiler keeps the loads.
var floorSink struct {
	sync.Mutex
	v uint64
}

// keysOf returns the shared key arena of n keys (the one populated maps use).
func keysOf(n int) *benchKeys {
	c := &benchCache
	c.Lock()
	defer c.Unlock()
	if k := c.bySize[n]; k != nil {
		return k
	}
	if c.m != nil {
		// The cached map was built on another size's keys: drop both.
		c.m.close()
		c.m = nil
	}
	c.bySize = map[int]*benchKeys{n: newBenchKeys(n)}
	return c.bySize[n]
}
