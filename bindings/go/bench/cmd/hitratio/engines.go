package main

import (
	"encoding/binary"
	"fmt"
	"unsafe"

	"github.com/VictoriaMetrics/fastcache"
	"github.com/coocood/freecache"
	"github.com/dgraph-io/ristretto/v2"
	"github.com/maypok86/otter/v2"
	"github.com/numashard/numashard/bindings/go"
)

const (
	keyLen   = 16
	valueLen = 32

	// numashardEntryBytes is what numashard charges an entry of a 16-byte
	// key and a 32-byte value in cache mode: record 56 + slot 16 + queue 8.
	numashardEntryBytes = 80
	// fastcacheEntryBytes: fastcache stores a 4-byte length header, the
	// key and the value back to back in its chunks (its per-bucket index,
	// a Go map of 16 B per entry, is outside maxBytes).
	fastcacheEntryBytes = 4 + keyLen + valueLen
	// freecacheEntryBytes: freecache's ring holds a 24-byte header, the key
	// and the value (its 16-byte slot pointer per entry is outside size).
	freecacheEntryBytes = 24 + keyLen + valueLen
	// fastcacheMinBytes: fastcache gives each of its 512 buckets at least
	// one 64 KiB chunk, whatever maxBytes asks for.
	fastcacheMinBytes = 512 * 64 << 10
	// freecacheMinBytes: freecache.NewCache raises a smaller size to 512 KiB.
	freecacheMinBytes = 512 << 10
)

// keySet holds the key bytes of every id 0..n-1 back to back: id k is k as
// a little-endian u64 then ^k (the Rust harness's key(k)). The Go-heap
// caches take them as strings pointing into the arena (no allocation per
// request).
type keySet struct{ arena []byte }

func newKeySet(n uint64) *keySet {
	ks := &keySet{arena: make([]byte, n*keyLen)}
	for k := uint64(0); k < n; k++ {
		binary.LittleEndian.PutUint64(ks.arena[k*keyLen:], k)
		binary.LittleEndian.PutUint64(ks.arena[k*keyLen+8:], ^k)
	}
	return ks
}

func (ks *keySet) bytes(k uint64) []byte { return ks.arena[k*keyLen : (k+1)*keyLen : (k+1)*keyLen] }
func (ks *keySet) str(k uint64) string   { return unsafe.String(&ks.arena[k*keyLen], keyLen) }

// cache is one engine under the read-through loop.
type cache interface {
	// get copies the value of id k into buf (valueLen bytes); true on a hit.
	get(k uint64, buf []byte) bool
	// set stores v (valueLen bytes, first 8 = k) under id k.
	set(k uint64, v []byte)
	// done is called once the trace is replayed (hit counts are checked
	// against the engine's own counters where it keeps them).
	done(hits uint64) error
	close()
}

// engine opens a cache of capacity entries. oversized says that the engine
// was given (by its own minimum) room for more than capacity entries, so
// it is not a peer at that size; note says what it was given.
type engine struct {
	name string
	open func(capacity int, ks *keySet) (c cache, oversized bool, note string)
}

var engines = []engine{
	{"numashard", openNumashard},
	{"otter", openOtter},
	{"ristretto", func(c int, ks *keySet) (cache, bool, string) { return openRistretto(c, ks, true) }},
	{"ristretto-async", func(c int, ks *keySet) (cache, bool, string) { return openRistretto(c, ks, false) }},
	{"freecache", openFreecache},
	{"fastcache", openFastcache},
}

// --- numashard ---------------------------------------------------------------

type nsCache struct {
	m  *numashard.Map
	ks *keySet
}

func openNumashard(capacity int, ks *keySet) (cache, bool, string) {
	limit := uint64(capacity) * numashardEntryBytes
	m, err := numashard.Open(numashard.Config{Shards: 2, MemoryLimit: limit, Eviction: numashard.EvictionS3FIFO})
	if err != nil {
		panic(err)
	}
	return &nsCache{m, ks}, false, fmt.Sprintf("S3-FIFO, 2 shards, MemoryLimit %d B", limit)
}

func (c *nsCache) get(k uint64, buf []byte) bool {
	_, ok, err := c.m.LoadInto(c.ks.bytes(k), buf)
	if err != nil {
		panic(err)
	}
	return ok
}

func (c *nsCache) set(k uint64, v []byte) {
	if err := c.m.Store(c.ks.bytes(k), v); err != nil {
		panic(err)
	}
}

// done checks the loop's hit count against the engine's own counter.
func (c *nsCache) done(hits uint64) error {
	st, err := c.m.Stats()
	if err != nil {
		return err
	}
	if st.Hits != hits {
		return fmt.Errorf("numashard: the loop counted %d hits, Stats %d", hits, st.Hits)
	}
	if st.Bytes > st.MemoryLimit {
		return fmt.Errorf("numashard: %d bytes used over the limit %d", st.Bytes, st.MemoryLimit)
	}
	return nil
}

func (c *nsCache) close() { c.m.Close() }

// --- otter v2 (adaptive W-TinyLFU, entries on the Go heap) ---------------------

type otterCache struct {
	c  *otter.Cache[string, [valueLen]byte]
	ks *keySet
}

func openOtter(capacity int, ks *keySet) (cache, bool, string) {
	c, err := otter.New(&otter.Options[string, [valueLen]byte]{MaximumSize: capacity})
	if err != nil {
		panic(err)
	}
	return &otterCache{c, ks}, false, fmt.Sprintf("MaximumSize %d", capacity)
}

func (c *otterCache) get(k uint64, buf []byte) bool {
	v, ok := c.c.GetIfPresent(c.ks.str(k))
	copy(buf, v[:])
	return ok
}

func (c *otterCache) set(k uint64, v []byte) { c.c.Set(c.ks.str(k), [valueLen]byte(v)) }
func (c *otterCache) done(uint64) error      { return nil }
func (c *otterCache) close()                 { c.c.StopAllGoroutines() }

// --- ristretto v2 (TinyLFU admission, sampled LFU eviction) ---------------------

// ristrettoCache: cost 1 per entry and MaxCost = capacity (the internal
// cost of its item struct ignored, so the bound is in entries like
// otter's), NumCounters = 10 × capacity (its documented rule: ten counters
// per item the cache holds), BufferItems = 64 (its documented value).
// Ristretto applies a Set later, from a buffer, and drops it when the
// buffer is full; wait makes the loop call Wait() after every Set, so each
// store is applied before the next request (the hit ratio of its policy,
// not of its buffering); without it (ristretto-async) the loop uses it as
// an application would.
type ristrettoCache struct {
	c    *ristretto.Cache[string, [valueLen]byte]
	ks   *keySet
	wait bool
}

func openRistretto(capacity int, ks *keySet, wait bool) (cache, bool, string) {
	c, err := ristretto.NewCache(&ristretto.Config[string, [valueLen]byte]{
		NumCounters:        10 * int64(capacity),
		MaxCost:            int64(capacity),
		BufferItems:        64,
		IgnoreInternalCost: true,
	})
	if err != nil {
		panic(err)
	}
	note := fmt.Sprintf("MaxCost %d (cost 1 per entry), NumCounters %d, BufferItems 64", capacity, 10*capacity)
	if wait {
		note += ", Wait() after every Set"
	} else {
		note += ", no Wait()"
	}
	return &ristrettoCache{c, ks, wait}, false, note
}

func (c *ristrettoCache) get(k uint64, buf []byte) bool {
	v, ok := c.c.Get(c.ks.str(k))
	copy(buf, v[:])
	return ok
}

func (c *ristrettoCache) set(k uint64, v []byte) {
	c.c.Set(c.ks.str(k), [valueLen]byte(v), 1)
	if c.wait {
		c.c.Wait()
	}
}

func (c *ristrettoCache) done(uint64) error { return nil }
func (c *ristrettoCache) close()            { c.c.Close() }

// --- freecache (256 FIFO-ish ring segments, sized in bytes) ---------------------

type freeCache struct {
	c  *freecache.Cache
	ks *keySet
}

func openFreecache(capacity int, ks *keySet) (cache, bool, string) {
	size := capacity * freecacheEntryBytes
	note := fmt.Sprintf("size %d B (capacity × %d)", size, freecacheEntryBytes)
	oversized := size < freecacheMinBytes
	if oversized {
		note += fmt.Sprintf(", raised by freecache to %d B (room for %d entries)",
			freecacheMinBytes, freecacheMinBytes/freecacheEntryBytes)
	}
	return &freeCache{freecache.NewCache(size), ks}, oversized, note
}

func (c *freeCache) get(k uint64, buf []byte) bool {
	_, err := c.c.GetWithBuf(c.ks.bytes(k), buf)
	return err == nil
}

func (c *freeCache) set(k uint64, v []byte) {
	if err := c.c.Set(c.ks.bytes(k), v, 0); err != nil {
		panic(err)
	}
}

func (c *freeCache) done(uint64) error { return nil }
func (c *freeCache) close()            { c.c.Clear() }

// --- fastcache (512 buckets of 64 KiB chunk rings, sized in bytes) ---------------

type fastCache struct {
	c  *fastcache.Cache
	ks *keySet
}

func openFastcache(capacity int, ks *keySet) (cache, bool, string) {
	size := capacity * fastcacheEntryBytes
	c := fastcache.New(size)
	var st fastcache.Stats
	c.UpdateStats(&st)
	note := fmt.Sprintf("maxBytes %d B (capacity × %d)", size, fastcacheEntryBytes)
	oversized := st.MaxBytesSize > uint64(size)
	if oversized {
		note += fmt.Sprintf(", raised by fastcache to %d B (room for ~%d entries)",
			st.MaxBytesSize, st.MaxBytesSize/(64<<10)*((64<<10)/fastcacheEntryBytes))
	}
	return &fastCache{c, ks}, oversized, note
}

func (c *fastCache) get(k uint64, buf []byte) bool {
	_, ok := c.c.HasGet(buf[:0], c.ks.bytes(k))
	return ok
}

func (c *fastCache) set(k uint64, v []byte) { c.c.Set(c.ks.bytes(k), v) }
func (c *fastCache) done(uint64) error      { return nil }
func (c *fastCache) close()                 { c.c.Reset() }
