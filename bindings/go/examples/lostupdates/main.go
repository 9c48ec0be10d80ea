// Lost counter updates: incrementing counters in a sync.Map (Load, add,
// Store) from several goroutines loses increments, silently: two
// goroutines read the same old value and both store old+1. numashard's Add
// is one atomic step: no update is lost.
package main

import (
	"fmt"
	"os"
	"sync"

	"github.com/numashard/numashard/bindings/go"
)

const (
	goroutines = 8
	perG       = 50_000
	counters   = 4
)

func main() {
	want := goroutines * perG

	var sm sync.Map
	var wg sync.WaitGroup
	for g := 0; g < goroutines; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := 0; i < perG; i++ {
				k := (g + i) % counters
				v, _ := sm.Load(k)
				n, _ := v.(int)
				sm.Store(k, n+1) // read-modify-write: not atomic
			}
		}(g)
	}
	wg.Wait()
	total := 0
	sm.Range(func(_, v any) bool { total += v.(int); return true })
	if total != want {
		fmt.Printf("plain Go map: FAIL (sync.Map counters sum to %d, want %d: %d increments lost)\n", total, want, want-total)
	} else {
		fmt.Println("plain Go map: no lost update this time (the race is still there)")
	}

	m, err := numashard.Open(numashard.Config{})
	if err != nil {
		fmt.Println(err)
		os.Exit(1)
	}
	defer m.Close()
	keys := make([][]byte, counters)
	for i := range keys {
		keys[i] = []byte(fmt.Sprint("counter-", i))
	}
	for g := 0; g < goroutines; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := 0; i < perG; i++ {
				if _, err := m.Add(keys[(g+i)%counters], 1); err != nil {
					panic(err)
				}
			}
		}(g)
	}
	wg.Wait()
	total = 0
	for _, k := range keys {
		n, _ := m.Add(k, 0)
		total += int(n)
	}
	if total != want {
		fmt.Printf("numashard: FAIL (counters sum to %d, want %d)\n", total, want)
		os.Exit(1)
	}
	fmt.Printf("numashard: OK (counters sum to exactly %d: no update lost)\n", total)
}
