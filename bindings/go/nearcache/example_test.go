//go:build linux && cgo

package nearcache_test

import (
	"fmt"
	"os"

	"github.com/numashard/numashard/bindings/go/nearcache"
)

// A near cache in front of one server: writes go through, reads are local
// after the first, and Sync is the barrier after other processes' writes.
func Example() {
	c, err := nearcache.Open(nearcache.Config{
		Servers:     []string{os.Getenv("NUMASHARD_REDIS_ADDR")}, // "host:port"
		MemoryLimit: 64 << 20,                                    // the near copy's bound, off the Go heap
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer c.Close()
	_ = c.Set([]byte("user:42"), []byte("alice")) // SET on the server, then the local copy
	v, ok, _ := c.Get([]byte("user:42"))          // a local hit
	fmt.Println(string(v), ok)
	vs, _ := c.GetMany([][]byte{[]byte("user:42"), []byte("user:43")}) // misses: one round trip per node
	fmt.Println(string(vs[0]), vs[1] == nil)
	_ = c.Sync() // every invalidation sent before this is applied
	st, _ := c.Stats()
	fmt.Println(st.LocalHits >= 2, st.Serving)
	// Output:
	// alice true
	// alice true
	// true true
}
