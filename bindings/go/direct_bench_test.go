//go:build linux && cgo

package numashard

import (
	"encoding/binary"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"
)

// BenchmarkDirectParts takes a direct read apart, one random key per op
// (16-byte keys, 32-byte values, every read a hit), to show where its time
// goes against a plain Go map of the same keys:
//
//	hash    fetch the key and hash it (the loop overlaps the keys' misses);
//	nogate  the read without the gate (no locked instruction): only sound
//	        here because nothing writes or frees while it runs;
//	direct  the whole direct read (directReader.get): the gate entered
//	        and left on the P's own stripe with plain stores (in the
//	        gate's membarrier mode; else as direct-shared);
//	direct-shared  the same on a shared stripe: a locked add each way;
//	cgo     the same read through ns_get (Config.NoDirectReads's path);
//	gomap   a map[string][]byte lookup, no lock.
//
// Sizes 1k and 100k; NUMASHARD_BENCH_LARGE=1 adds 1M.
func BenchmarkDirectParts(b *testing.B) {
	for _, n := range directBenchSizes(1000, 100_000) {
		gomap := make(map[string][]byte, n)
		m, d, keys := directBenchMap(b, n, func(k, v []byte) { gomap[string(k)] = v })
		out := make([]byte, 64)
		size := "size=" + strconv.Itoa(n)
		var sink uint64
		parts := []struct {
			name string
			read func(k []byte)
		}{
			{"hash", func(k []byte) { sink += keyHash(d.seed, k) }},
			{"nogate", func(k []byte) {
				h := keyHash(d.seed, k)
				d.shardOf(h).lookup(h, k, out, true)
			}},
			{"direct", func(k []byte) { d.get(k, out, true) }},
			{"direct-shared", func(k []byte) { d.get(k, out, true) }}, // run without owned stripes
			{"cgo", func(k []byte) { m.read(readGet, k, nil, out) }},  // run with m.direct off
			{"gomap", func(k []byte) { sink += uint64(len(gomap[string(k)])) }},
		}
		for _, p := range parts {
			b.Run(size+"/"+p.name, func(b *testing.B) {
				loop := func() {
					x := uint64(1)
					for i := 0; i < b.N; i++ {
						x = x*6364136223846793005 + 1442695040888963407
						j := int((x >> 33) % uint64(n))
						p.read(keys[16*j : 16*j+16])
					}
				}
				switch p.name {
				case "cgo":
					viaCgo(m, loop)
				case "direct-shared":
					owned := d.nOwned
					d.nOwned = 0
					loop()
					d.nOwned = owned
				default:
					loop()
				}
			})
		}
		_ = sink
		m.Close()
	}
}

// BenchmarkFastGet compares, in one process on one map (16-byte keys,
// 32-byte values, every read a hit, 2 shards), the general direct read
// (directReader.get, called bare), fastGet called bare, and LoadInto, which
// tries fastGet first. FAST_FIRST=1 reverses the order within each count.
// Sizes 100k; NUMASHARD_BENCH_LARGE=1 adds 1M.
func BenchmarkFastGet(b *testing.B) {
	for _, n := range directBenchSizes(100_000) {
		m, d, keys := directBenchMap(b, n, nil)
		out := make([]byte, 64)
		arms := []string{"general", "fastbare", "loadinto"}
		if os.Getenv("FAST_FIRST") != "" {
			arms = []string{"loadinto", "fastbare", "general"}
		}
		for _, arm := range arms {
			b.Run("size="+strconv.Itoa(n)+"/"+arm, func(b *testing.B) {
				x, hits := uint64(1), 0
				for i := 0; i < b.N; i++ {
					x = x*6364136223846793005 + 1442695040888963407
					j := int((x >> 33) % uint64(n))
					k := keys[16*j : 16*j+16]
					if arm == "general" {
						if _, r := d.get(k, out, false); r == directHit {
							hits++
						}
					} else if arm == "fastbare" {
						if _, r := d.fastGet(k, out); r == directHit {
							hits++
						}
					} else if _, ok, _ := m.LoadInto(k, out); ok {
						hits++
					}
				}
				if hits != b.N {
					b.Fatalf("%d hits of %d", hits, b.N)
				}
			})
		}
	}
}

// directBenchSizes are the map sizes of the direct-read benchmarks: base,
// and 1M when NUMASHARD_BENCH_LARGE is set.
func directBenchSizes(base ...int) []int {
	if os.Getenv("NUMASHARD_BENCH_LARGE") != "" {
		return append(base, 1_000_000)
	}
	return base
}

// directBenchMap opens a 2-shard map holding n entries of 16-byte keys
// (returned back to back) and 32-byte values, calling each(key, value) for
// every entry as it is stored.
func directBenchMap(b *testing.B, n int, each func(k, v []byte)) (*Map, *directReader, []byte) {
	return directBenchMapWith(b, Config{Shards: 2}, n, each)
}

// directBenchMapWith is directBenchMap on a map opened with cfg.
func directBenchMapWith(b *testing.B, cfg Config, n int, each func(k, v []byte)) (*Map, *directReader, []byte) {
	m := openMap(b, cfg)
	d := directOf(b, m)
	keys := make([]byte, 16*n)
	batch := NewBatch(1024)
	for i := 0; i < n; i++ {
		k := keys[16*i : 16*i+16]
		binary.LittleEndian.PutUint64(k, uint64(i)*0x9e3779b97f4a7c15)
		binary.LittleEndian.PutUint64(k[8:], uint64(i))
		v := patternValue(k, 0, 32)
		if each != nil {
			each(k, v)
		}
		batch.Put(k, v)
		if batch.Len() == 1024 || i == n-1 {
			noErr(b, m.Run(batch))
			batch.Reset()
		}
	}
	return m, d, keys
}

// storePrefetchRuns counts BenchmarkStorePrefetch's runs (one per -count):
// which arm goes first alternates with it.
var storePrefetchRuns int

// BenchmarkStorePrefetch measures what Map.prefetchWrite gains a Store: in
// one process on one map (16-byte keys, 32-byte values, uniform random
// keys, every Store an overwrite, 2 shards), chunks of up to 20,000 Stores
// alternate with the prefetch off and on (the first arm alternating from
// one -count to the next), after an untimed chunk, so that the machine's
// drift falls on both alike; with g=2, two goroutines share each chunk.
// Reported: off-ns/op, on-ns/op and on/off (wall time per Store). Maps:
// plain (not sized) and placed (InitialCapacity = entries,
// PlaceRecordsByHash). Sizes 1k (under prefetchMinBits: the on arm only
// samples, so the row is the gate's own cost), 100k and 1M;
// NUMASHARD_BENCH_LARGE=1 adds 10M.
func BenchmarkStorePrefetch(b *testing.B) {
	sizes := []int{1000, 100_000, 1_000_000}
	if os.Getenv("NUMASHARD_BENCH_LARGE") != "" {
		sizes = append(sizes, 10_000_000)
	}
	storePrefetchRuns++
	first := storePrefetchRuns & 1
	for _, n := range sizes {
		for _, kind := range []string{"plain", "placed"} {
			cfg := Config{Shards: 2}
			if kind == "placed" {
				cfg.InitialCapacity, cfg.PlaceRecordsByHash = n, true
			}
			m, _, keys := directBenchMapWith(b, cfg, n, nil)
			value := make([]byte, 32)
			for _, gs := range []int{1, 2} {
				b.Run("size="+strconv.Itoa(n)+"/map="+kind+"/g="+strconv.Itoa(gs), func(b *testing.B) {
					defer func() { prefetchWrites = true }()
					chunk := max(gs, min(20_000, b.N/2))
					run := func(c int, seed uint64) {
						var wg sync.WaitGroup
						for g := range gs {
							wg.Add(1)
							go func(x uint64) {
								defer wg.Done()
								for range c / gs {
									x = x*6364136223846793005 + 1442695040888963407
									j := int((x >> 33) % uint64(n))
									if err := m.Store(keys[16*j:16*j+16], value); err != nil {
										b.Error(err)
										return
									}
								}
							}(seed + uint64(g))
						}
						wg.Wait()
					}
					b.StopTimer()
					run(chunk, 1<<40) // warm-up, neither arm's
					b.StartTimer()
					var spent [2]time.Duration
					var done [2]int
					for i := 0; i < b.N; i += chunk {
						on := (i/chunk + first) & 1
						prefetchWrites = on == 1
						c := min(chunk, b.N-i)
						t0 := time.Now()
						run(c, uint64(i*gs+1))
						spent[on] += time.Since(t0)
						done[on] += c / gs * gs
					}
					if done[0] > 0 && done[1] > 0 {
						off := float64(spent[0].Nanoseconds()) / float64(done[0])
						on := float64(spent[1].Nanoseconds()) / float64(done[1])
						b.ReportMetric(off, "off-ns/op")
						b.ReportMetric(on, "on-ns/op")
						b.ReportMetric(on/off, "on/off")
					}
				})
			}
			m.Close()
		}
	}
}
