// Range while deleting: ranging over a plain Go map while another
// goroutine deletes and inserts crashes the process ("fatal error:
// concurrent map iteration and map write"); guarding it with an RWMutex
// makes every writer wait for the whole iteration. numashard iterates
// while writers keep going, and sees every entry that stays present
// exactly once.
package main

import (
	"fmt"
	"os"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/numashard/numashard/bindings/go"
	"github.com/numashard/numashard/bindings/go/examples/internal/child"
)

const stable = 100_000

func plainMap() {
	m := map[string]int{}
	for i := 0; i < stable; i++ {
		m[fmt.Sprint("stable-", i)] = i
	}
	go func() {
		for i := 0; ; i++ {
			k := fmt.Sprint("churn-", i%5000)
			m[k] = i
			delete(m, fmt.Sprint("churn-", (i+2500)%5000))
		}
	}()
	for pass := 0; pass < 100; pass++ {
		for k := range m {
			_ = k
		}
	}
	fmt.Println("the plain map survived (this run)")
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
	for i := 0; i < stable; i++ {
		m.StoreString(fmt.Sprint("stable-", i), []byte(fmt.Sprint(i)))
	}
	var stop atomic.Bool
	var writes atomic.Int64
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; !stop.Load(); i++ {
			m.StoreString(fmt.Sprint("churn-", i%5000), []byte(fmt.Sprint(i)))
			m.DeleteString(fmt.Sprint("churn-", (i+2500)%5000))
			writes.Add(2)
		}
	}()
	for pass := 0; pass < 3; pass++ {
		seen := make(map[string]int, stable)
		w0 := writes.Load()
		err := m.Range(func(k, v []byte) bool {
			if s := string(k); strings.HasPrefix(s, "stable-") {
				seen[s]++
			}
			return true
		})
		if err != nil {
			fmt.Println("numashard: FAIL", err)
			os.Exit(1)
		}
		for i := 0; i < stable; i++ {
			if n := seen[fmt.Sprint("stable-", i)]; n != 1 {
				fmt.Printf("numashard: FAIL (stable-%d seen %d times)\n", i, n)
				os.Exit(1)
			}
		}
		fmt.Printf("  pass %d: %d stable keys seen exactly once while %d writes went on\n", pass, stable, writes.Load()-w0)
	}
	stop.Store(true)
	wg.Wait()
	fmt.Println("numashard: OK (iteration under concurrent inserts and deletes: no crash, every stable key exactly once)")
}
