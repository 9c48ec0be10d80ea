package bench

// otter (v2), a Go cache with S3-FIFO eviction like numashard's cache
// mode: the peer of impl=numashard-cache. Bounded at twice the entries, so
// nothing is evicted and every load hits. Its entries live on the Go heap.
// otter-ttl, the peer of numashard-cache-ttl, gives every entry a time to
// live from its write.

import (
	"time"

	"github.com/maypok86/otter/v2"
)

type otterBench struct {
	c *otter.Cache[string, []byte]
	k *benchKeys
}

// newOtter fills an otter cache with n entries; ttl > 0 gives each that
// time to live from its write.
func newOtter(k *benchKeys, n int, ttl time.Duration) *otterBench {
	o := &otter.Options[string, []byte]{MaximumSize: 2 * n, InitialCapacity: n}
	if ttl > 0 {
		o.ExpiryCalculator = otter.ExpiryWriting[string, []byte](ttl)
	}
	c, err := otter.New(o)
	if err != nil {
		panic(err)
	}
	b := &otterBench{c: c, k: k}
	for i := 0; i < n; i++ {
		b.store(i, benchValue(i))
	}
	return b
}

func (o *otterBench) load(i int, _ []byte) bool {
	_, ok := o.c.GetIfPresent(o.k.str(i))
	return ok
}
func (o *otterBench) store(i int, v []byte) { o.c.Set(o.k.storedStr(i), v) }
func (o *otterBench) close()                { o.c.InvalidateAll() }
