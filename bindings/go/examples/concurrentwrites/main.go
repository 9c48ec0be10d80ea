// Concurrent writes: a plain Go map written by several goroutines at once
// crashes the whole process ("fatal error: concurrent map writes", which
// recover cannot catch). The same writes into a numashard map are safe and
// none is lost.
package main

import (
	"fmt"
	"os"
	"sync"

	"github.com/numashard/numashard/bindings/go"
	"github.com/numashard/numashard/bindings/go/examples/internal/child"
)

const (
	writers = 8
	perG    = 200_000
)

func plainMap() {
	m := map[string]int{}
	var wg sync.WaitGroup
	for g := 0; g < writers; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := 0; i < perG; i++ {
				m[fmt.Sprint(g, "-", i%1000)] = i // unsynchronised writes
			}
		}(g)
	}
	wg.Wait()
	fmt.Println("the plain map survived (this run)", len(m))
}

func main() {
	fatal, err := child.Run("plain", plainMap)
	switch {
	case err != nil:
		fmt.Println("child:", err)
		os.Exit(1)
	case fatal != "":
		fmt.Printf("plain Go map: FAIL (the process died: %s)\n", fatal)
	default:
		fmt.Println("plain Go map: no crash this time (the race is still there: run with -race)")
	}

	m, err := numashard.Open(numashard.Config{})
	if err != nil {
		fmt.Println(err)
		os.Exit(1)
	}
	defer m.Close()
	var wg sync.WaitGroup
	for g := 0; g < writers; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			v := make([]byte, 8)
			for i := 0; i < perG/10; i++ {
				v[0] = byte(i)
				if err := m.StoreString(fmt.Sprint(g, "-", i%1000), v); err != nil {
					panic(err)
				}
			}
		}(g)
	}
	wg.Wait()
	n, _ := m.Len()
	if n != writers*1000 {
		fmt.Printf("numashard: FAIL (%d entries, want %d)\n", n, writers*1000)
		os.Exit(1)
	}
	fmt.Printf("numashard: OK (%d goroutines wrote %d times each, %d entries, no crash)\n", writers, perG/10, n)
}
