// The program scripts/test-go.sh builds as a new user would, outside the
// repository: a module of its own that gets numashard with `go get` (from
// a clone of this commit standing in for the public repository), with no
// Rust toolchain on the PATH. It prints "newuser: OK" when the calls it
// makes return what they should, and fails otherwise.
package main

import (
	"fmt"
	"os"

	numashard "github.com/numashard/numashard/bindings/go"
)

func check(ok bool, what string) {
	if !ok {
		fmt.Println("newuser: FAIL:", what)
		os.Exit(1)
	}
}

func main() {
	m, err := numashard.Open(numashard.Config{Shards: 2})
	check(err == nil, fmt.Sprint("Open: ", err))
	defer m.Close()

	check(m.StoreString("user:42", []byte("alice")) == nil, "StoreString")
	v, ok, err := m.LoadString("user:42")
	check(err == nil && ok && string(v) == "alice", "LoadString")

	b := numashard.NewBatch(4)
	b.PutString("a", []byte("1"))
	get := b.GetString("user:42")
	check(m.Run(b) == nil, "Run")
	bv, ok := b.Value(get)
	check(ok && string(bv) == "alice", "Batch.Value")

	seen := 0
	for range m.All() {
		seen++
	}
	check(seen == 2, fmt.Sprint("All saw ", seen, " entries, want 2"))

	counts := numashard.Of(m, numashard.String, numashard.Int64)
	for range 3 {
		_, err := m.AddString("hits", 1)
		check(err == nil, "AddString")
	}
	hits, ok, err := counts.Load("hits")
	check(err == nil && ok && hits == 3, fmt.Sprint("typed Load: ", hits, ok, err))
	fmt.Println("newuser: OK", numashard.Version())
}
