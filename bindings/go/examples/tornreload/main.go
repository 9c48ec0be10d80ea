// A torn hot reload: reloading a configuration into a live map key by key
// lets readers see half the old and half the new configuration. Here every
// key of generation g holds g; a reader reads the keys in order, and sees a
// later key older than an earlier one: the map was a mix. numashard's
// ReplaceAll switches every shard at once: once any reader has seen a new
// value, no later read returns an old one.
package main

import (
	"encoding/binary"
	"fmt"
	"os"
	"sync"
	"sync/atomic"

	"github.com/numashard/numashard/bindings/go"
)

const (
	keys    = 64
	reloads = 300
	readers = 2
)

func key(i int) string { return fmt.Sprintf("setting-%02d", i) }

func main() {
	// Plain Go map (sync.Map so that it does not crash): reload in place.
	var sm sync.Map
	for i := 0; i < keys; i++ {
		sm.Store(key(i), 0)
	}
	var done atomic.Bool
	var torn atomic.Int64
	var example atomic.Value
	var wg sync.WaitGroup
	for r := 0; r < readers; r++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for !done.Load() {
				prev := -1
				for i := 0; i < keys; i++ {
					v, _ := sm.Load(key(i))
					g := v.(int)
					if prev > g {
						torn.Add(1)
						example.Store(fmt.Sprintf("%s=%d after %s=%d", key(i), g, key(i-1), prev))
					}
					prev = g
				}
			}
		}()
	}
	for g := 1; g <= reloads; g++ {
		for i := 0; i < keys; i++ {
			sm.Store(key(i), g)
		}
	}
	done.Store(true)
	wg.Wait()
	if n := torn.Load(); n > 0 {
		fmt.Printf("plain Go map: FAIL (%d reads saw a mix of old and new settings, e.g. %s)\n", n, example.Load())
	} else {
		fmt.Println("plain Go map: no torn read this time (the race is still there)")
	}

	m, err := numashard.Open(numashard.Config{})
	if err != nil {
		fmt.Println(err)
		os.Exit(1)
	}
	defer m.Close()
	entries := make([]numashard.Entry, keys)
	reload := func(g int) {
		for i := range entries {
			entries[i] = numashard.Entry{Key: []byte(key(i)), Value: binary.LittleEndian.AppendUint64(nil, uint64(g))}
		}
		if err := m.ReplaceAll(entries); err != nil {
			panic(err)
		}
	}
	reload(0)
	done.Store(false)
	torn.Store(0)
	var reads atomic.Int64
	for r := 0; r < readers; r++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			buf := make([]byte, 8)
			for !done.Load() {
				prev := uint64(0)
				for i := 0; i < keys; i++ {
					if _, ok, err := m.LoadIntoString(key(i), buf); !ok || err != nil {
						panic(fmt.Sprint("missing ", key(i), err))
					}
					g := binary.LittleEndian.Uint64(buf)
					if prev > g {
						torn.Add(1)
					}
					prev = g
					reads.Add(1)
				}
			}
		}()
	}
	for g := 1; g <= reloads; g++ {
		reload(g)
	}
	done.Store(true)
	wg.Wait()
	if n := torn.Load(); n > 0 {
		fmt.Printf("numashard: FAIL (%d torn reads)\n", n)
		os.Exit(1)
	}
	fmt.Printf("numashard: OK (%d reloads, %d reads, none saw a mix of old and new)\n", reloads, reads.Load())
}
