//go:build linux && cgo

package numashard_test

import (
	"fmt"
	"os"

	numashard "github.com/numashard/numashard/bindings/go"
)

// Save a map, then open a new one from the snapshot (a warm restart).
func ExampleMap_Save() {
	dir, _ := os.MkdirTemp("", "numashard-example-")
	defer os.RemoveAll(dir)
	m, _ := numashard.Open(numashard.Config{})
	m.StoreString("greeting", []byte("hello"))
	r, err := m.Save(dir)
	m.Close()
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("saved", r.Entries, "entries")

	restarted, err := numashard.OpenSnapshot(dir, numashard.Config{})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer restarted.Close()
	v, _, _ := restarted.LoadString("greeting")
	fmt.Println(string(v))
	// Output:
	// saved 1 entries
	// hello
}
