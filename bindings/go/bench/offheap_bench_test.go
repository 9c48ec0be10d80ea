package bench

// The off-heap class of Go caches, beside the Go maps: fastcache,
// freecache and bigcache keep entries in large byte arrays the garbage
// collector does not trace, as numashard keeps them outside the Go heap.
// Each is sized to hold every entry with room to spare (no eviction: every
// load hits) and, like numashard's LoadInto, loads into the caller's
// buffer where its API allows it (fastcache, freecache; bigcache's Get
// returns a new copy).

import (
	"context"
	"time"

	"github.com/VictoriaMetrics/fastcache"
	"github.com/allegro/bigcache/v3"
	"github.com/coocood/freecache"
)

// singleCalls is a map driven one key at a time; loops gives it the batch
// methods of benchMap as loops of single calls (these caches have no
// crossing to amortise).
type singleCalls interface {
	load(i int, buf []byte) bool
	store(i int, v []byte)
	close()
}

type loops struct{ singleCalls }

func (l loops) loadBatch(idx []int, st *batchState) int {
	hits := 0
	for _, i := range idx {
		if l.load(i, st.buf) {
			hits++
		}
	}
	return hits
}

func (l loops) mixBatch(idx []int, store []bool, v []byte, st *batchState) {
	for j, i := range idx {
		if store[j] {
			l.store(i, v)
		} else {
			l.load(i, st.buf)
		}
	}
}

// roomFor is a cache size that holds n entries of perEntry bytes twice over.
func roomFor(n, perEntry int) int { return 2*n*perEntry + 64<<20 }

type fastcacheBench struct {
	c *fastcache.Cache
	k *benchKeys
}

func newFastcache(k *benchKeys, n int) *fastcacheBench {
	f := &fastcacheBench{c: fastcache.New(roomFor(n, 4+benchKeyLen+benchValueLen)), k: k}
	for i := 0; i < n; i++ {
		f.store(i, benchValue(i))
	}
	return f
}

func (f *fastcacheBench) load(i int, buf []byte) bool {
	_, ok := f.c.HasGet(buf[:0], f.k.bytes(i))
	return ok
}
func (f *fastcacheBench) store(i int, v []byte) { f.c.Set(f.k.bytes(i), v) }
func (f *fastcacheBench) close()                { f.c.Reset() }

type freecacheBench struct {
	c *freecache.Cache
	k *benchKeys
}

func newFreecache(k *benchKeys, n int) *freecacheBench {
	f := &freecacheBench{c: freecache.NewCache(roomFor(n, 24+benchKeyLen+benchValueLen)), k: k}
	for i := 0; i < n; i++ {
		f.store(i, benchValue(i))
	}
	return f
}

func (f *freecacheBench) load(i int, buf []byte) bool {
	_, err := f.c.GetWithBuf(f.k.bytes(i), buf[:cap(buf)])
	return err == nil
}
func (f *freecacheBench) store(i int, v []byte) { f.c.Set(f.k.bytes(i), v, 0) }
func (f *freecacheBench) close()                { f.c.Clear() }

type bigcacheBench struct {
	c *bigcache.BigCache
	k *benchKeys
}

func newBigcache(k *benchKeys, n int) *bigcacheBench {
	cfg := bigcache.DefaultConfig(24 * time.Hour)
	cfg.Shards = 1024
	cfg.CleanWindow = 0 // no eviction: every load hits
	cfg.MaxEntriesInWindow = n
	cfg.MaxEntrySize = 64
	cfg.Verbose = false
	c, err := bigcache.New(context.Background(), cfg)
	if err != nil {
		panic(err)
	}
	b := &bigcacheBench{c: c, k: k}
	for i := 0; i < n; i++ {
		b.store(i, benchValue(i))
	}
	return b
}

func (b *bigcacheBench) load(i int, _ []byte) bool {
	_, err := b.c.Get(b.k.str(i))
	return err == nil
}
func (b *bigcacheBench) store(i int, v []byte) { b.c.Set(b.k.str(i), v) }
func (b *bigcacheBench) close()                { b.c.Close() }
