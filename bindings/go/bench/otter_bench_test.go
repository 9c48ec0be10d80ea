package bench

// otter (v2), a Go cache with S3-FIFO eviction like numashard's cache
// mode: the peer of impl=numashard-cache. Bounded at twice the entries, so
// nothing is evicted and every load hits. Its entries live on the Go heap.

import "github.com/maypok86/otter/v2"

type otterBench struct {
	c *otter.Cache[string, []byte]
	k *benchKeys
}

func newOtter(k *benchKeys, n int) *otterBench {
	c, err := otter.New(&otter.Options[string, []byte]{MaximumSize: 2 * n, InitialCapacity: n})
	if err != nil {
		panic(err)
	}
	o := &otterBench{c: c, k: k}
	for i := 0; i < n; i++ {
		o.store(i, benchValue(i))
	}
	return o
}

func (o *otterBench) load(i int, _ []byte) bool {
	_, ok := o.c.GetIfPresent(o.k.str(i))
	return ok
}
func (o *otterBench) store(i int, v []byte) { o.c.Set(o.k.storedStr(i), v) }
func (o *otterBench) close()                { o.c.InvalidateAll() }
