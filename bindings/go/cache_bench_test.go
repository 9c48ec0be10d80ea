//go:build linux && cgo

package numashard

import (
	"fmt"
	"testing"
	"time"
)

// BenchmarkCache: what cache mode costs per call, against the same call on
// a plain map, in one run. 16-byte keys, 32-byte values, 100k keys visited
// in a fixed scrambled order, one goroutine, 4 shards. map=plain has no
// limit; map=evicting is an S3-FIFO map whose limit holds about half the
// keys, so its stores evict and its loads miss about half the time.
// Batches are of 64 ops; ns/op is per key.
func BenchmarkCache(b *testing.B) {
	const nkeys, batch = 100_000, 64
	keys := make([][]byte, nkeys)
	for i := range keys {
		keys[i] = fmt.Appendf(nil, "key-%012d", (i*7919)%nkeys)
	}
	val := make([]byte, 32)
	maps := map[string]Config{
		"plain":    {Shards: 4},
		"evicting": {Shards: 4, Eviction: EvictionS3FIFO, MemoryLimit: nkeys / 2 * 96},
	}
	for _, name := range []string{"plain", "evicting"} {
		m, err := Open(maps[name])
		if err != nil {
			b.Fatal(err)
		}
		for _, k := range keys {
			if err := m.Store(k, val); err != nil {
				b.Fatal(err)
			}
		}
		if st, err := m.Stats(); err != nil || (name == "evicting") != (st.Evictions > 0) {
			b.Fatalf("map=%s after the fill: %+v, %v", name, st.CacheStats, err)
		}
		run := func(op string, f func(i int) error) {
			b.Run("map="+name+"/op="+op, func(b *testing.B) {
				for i := 0; i < b.N; i++ {
					if err := f(i); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
		dst := make([]byte, 64)
		run("Store", func(i int) error { return m.Store(keys[i%nkeys], val) })
		run("StoreTTL", func(i int) error { return m.StoreTTL(keys[i%nkeys], val, time.Hour) })
		run("LoadInto", func(i int) error { _, _, err := m.LoadInto(keys[i%nkeys], dst); return err })
		run("TTL", func(i int) error { _, _, err := m.TTL(keys[i%nkeys]); return err })
		run("LoadOrStore", func(i int) error { _, _, err := m.LoadOrStore(keys[i%nkeys], val); return err })
		run("LoadOrStoreTTL", func(i int) error {
			_, _, err := m.LoadOrStoreTTL(keys[i%nkeys], val, time.Hour)
			return err
		})
		bt := NewBatch(batch)
		batched := func(op string, add func(k []byte)) {
			b.Run("map="+name+"/op="+op, func(b *testing.B) {
				for i := 0; i < b.N; i += batch {
					bt.Reset()
					for j := 0; j < batch; j++ {
						add(keys[(i+j)%nkeys])
					}
					if err := m.Run(bt); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
		batched("BatchPut", func(k []byte) { bt.Put(k, val) })
		batched("BatchPutTTL", func(k []byte) { bt.PutTTL(k, val, time.Hour) })
		batched("BatchGet", func(k []byte) { bt.Get(k) })
		m.Close()
	}
}
