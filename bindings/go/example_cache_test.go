//go:build linux && cgo

package numashard_test

import (
	"fmt"
	"log"
	"time"

	numashard "github.com/numashard/numashard/bindings/go"
)

// A cache: bounded memory with eviction, per-entry time to live and hit
// counters. Stores never fail with ErrFull for want of room: the least
// useful entries go (S3-FIFO, per shard).
func Example_cache() {
	m, err := numashard.Open(numashard.Config{
		MemoryLimit: 64 << 20,                 // 64 MiB of entries at most
		Eviction:    numashard.EvictionS3FIFO, // evict instead of answering ErrFull
		DefaultTTL:  10 * time.Minute,         // for stores without their own TTL
	})
	if err != nil {
		log.Fatal(err)
	}
	defer m.Close()
	sessions := numashard.Of(m, numashard.String, numashard.String)

	sessions.StoreTTL("sess:1", "alice", 30*time.Minute)
	sessions.Store("sess:2", "bob") // the default: 10 minutes
	sessions.StoreTTL("sess:3", "carol", numashard.NoExpiry)

	ttl, ok, _ := sessions.TTL("sess:1")
	fmt.Println(ttl.Round(time.Minute), ok)
	ttl, _, _ = sessions.TTL("sess:2")
	fmt.Println(ttl.Round(time.Minute))
	ttl, _, _ = sessions.TTL("sess:3")
	fmt.Println(ttl == numashard.NoExpiry)

	sessions.Expire("sess:1", time.Hour) // extend
	sessions.Persist("sess:2")           // keep for good
	sessions.Expire("sess:3", 0)         // drop now

	user, ok, _ := sessions.Load("sess:1")
	fmt.Println(user, ok)
	_, ok, _ = sessions.Load("sess:3")
	fmt.Println(ok)

	st, _ := m.Stats()
	fmt.Println(st.Hits, st.Misses, st.Expirations)
	// Output:
	// 30m0s true
	// 10m0s
	// true
	// alice true
	// false
	// 1 1 1
}

// Short-lived entries: an entry is readable until its deadline and never
// after, whatever the background reclaim is doing.
func ExampleMap_StoreTTL() {
	m, _ := numashard.Open(numashard.Config{})
	defer m.Close()

	m.StoreTTLString("otp:alice", []byte("493817"), 50*time.Millisecond)
	time.Sleep(60 * time.Millisecond)
	_, ok, _ := m.LoadString("otp:alice")
	fmt.Println(ok)

	err := m.StoreTTLString("otp:bob", []byte("1"), 0)
	fmt.Println(err) // a ttl <= 0 stores nothing
	// Output:
	// false
	// numashard: StoreTTL: invalid argument
}

// TTL variants in a batch: one cgo call for many keys.
func ExampleBatch_PutTTL() {
	m, _ := numashard.Open(numashard.Config{})
	defer m.Close()

	b := numashard.NewBatch(4)
	b.PutTTLString("a", []byte("1"), time.Minute)
	b.PutString("b", []byte("2"))
	b.ExpireString("b", 2*time.Minute)
	ttl := b.GetTTLString("b")
	if err := m.Run(b); err != nil {
		log.Fatal(err)
	}
	d, ok := b.TTL(ttl)
	fmt.Println(d.Round(time.Minute), ok)
	// Output: 2m0s true
}
