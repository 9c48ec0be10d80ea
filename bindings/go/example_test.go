//go:build linux && cgo

package numashard_test

import (
	"encoding/binary"
	"errors"
	"fmt"
	"log"
	"slices"
	"strings"

	numashard "github.com/numashard/numashard/bindings/go"
)

// Open a map once, at start-up, and share it: every method may be called
// from any number of goroutines. Close releases its threads and memory.
func ExampleOpen() {
	m, err := numashard.Open(numashard.Config{}) // one shard per CPU, no memory limit
	if err != nil {
		log.Fatal(err)
	}
	defer m.Close()

	limited, err := numashard.Open(numashard.Config{MemoryLimit: 1 << 20, MaxKeyLen: 64})
	if err != nil {
		log.Fatal(err)
	}
	defer limited.Close()
	err = limited.StoreString(strings.Repeat("k", 65), []byte("v"))
	fmt.Println(errors.Is(err, numashard.ErrKeyTooLarge))
	// Output: true
}

// Single-key calls shaped like sync.Map's, plus an error.
func ExampleMap_Load() {
	m, _ := numashard.Open(numashard.Config{})
	defer m.Close()

	m.StoreString("user:42", []byte("alice"))
	v, ok, err := m.LoadString("user:42") // a copy, the caller's
	fmt.Println(string(v), ok, err)

	buf := make([]byte, 64)
	n, ok, _ := m.LoadIntoString("user:42", buf) // no allocation
	fmt.Println(string(buf[:n]), ok)

	actual, loaded, _ := m.LoadOrStoreString("user:42", []byte("bob"))
	fmt.Println(string(actual), loaded)

	prev, _, _ := m.SwapString("user:42", []byte("carol"))
	swapped, _ := m.CompareAndSwapString("user:42", []byte("carol"), []byte("dave"))
	fmt.Println(string(prev), swapped)

	hits, _ := m.AddString("hits", 1) // an atomic counter
	fmt.Println(hits)

	_, ok, _ = m.LoadString("nobody")
	fmt.Println(ok)
	// Output:
	// alice true <nil>
	// alice true
	// alice true
	// alice true
	// 1
	// false
}

// A typed view: keys and values converted by codecs.
func ExampleOf() {
	m, _ := numashard.Open(numashard.Config{})
	defer m.Close()

	ages := numashard.Of(m, numashard.String, numashard.Uint8)
	ages.Store("alice", 31)
	ages.Store("bob", 27)
	age, ok, _ := ages.Load("alice")
	fmt.Println(age, ok)

	var names []string
	ages.Range(func(name string, age uint8) bool {
		names = append(names, fmt.Sprint(name, "=", age))
		return true
	})
	slices.Sort(names)
	fmt.Println(names)
	// Output:
	// 31 true
	// [alice=31 bob=27]
}

// Many keys at once, typed: a batch per 256 keys, one cgo call each.
func ExampleTypedMap_LoadMany() {
	m, _ := numashard.Open(numashard.Config{})
	defer m.Close()

	stock := numashard.Of(m, numashard.String, numashard.Int64)
	stock.StoreMany([]string{"apple", "pear", "plum"}, []int64{12, 0, 7})

	items := []string{"plum", "kiwi", "apple"}
	counts := make([]int64, len(items))
	found := make([]bool, len(items))
	n, err := stock.LoadMany(items, counts, found)
	fmt.Println(n, counts, found, err)
	// Output:
	// 2 [7 0 12] [true false true] <nil>
}

// point is a type of the program's own, stored through a Codec.
type point struct{ X, Y int32 }

type pointCodec struct{}

func (pointCodec) Append(buf []byte, p point) []byte {
	return binary.LittleEndian.AppendUint32(binary.LittleEndian.AppendUint32(buf, uint32(p.X)), uint32(p.Y))
}

func (pointCodec) Decode(b []byte) (point, error) {
	if len(b) != 8 {
		return point{}, fmt.Errorf("%w: a point is 8 bytes, got %d", numashard.ErrDecode, len(b))
	}
	return point{int32(binary.LittleEndian.Uint32(b)), int32(binary.LittleEndian.Uint32(b[4:]))}, nil
}

// A Codec for your own type: Append encodes into the buffer it is given
// (no allocation of its own), Decode copies what it keeps.
func ExampleCodec() {
	m, _ := numashard.Open(numashard.Config{})
	defer m.Close()

	places := numashard.Of(m, numashard.String, pointCodec{})
	places.Store("home", point{3, 4})
	swapped, _ := places.CompareAndSwap("home", point{3, 4}, point{5, 6})
	p, ok, err := places.Load("home")
	fmt.Println(swapped, p, ok, err)

	m.StoreString("broken", []byte{1, 2, 3})
	_, _, err = places.Load("broken")
	fmt.Println(errors.Is(err, numashard.ErrDecode))
	// Output:
	// true {5 6} true <nil>
	// true
}

// A batch runs any mix of operations with one cgo call.
func ExampleBatch() {
	m, _ := numashard.Open(numashard.Config{})
	defer m.Close()

	b := numashard.NewBatch(8)
	for _, k := range []string{"a", "b", "c"} {
		b.PutString(k, []byte("value of "+k))
	}
	if err := m.Run(b); err != nil {
		log.Fatal(err)
	}

	b.Reset() // reusable, allocation-free once warm
	get := b.GetString("b")
	miss := b.GetString("zzz")
	count := b.AddString("batches", 1)
	m.Run(b)
	v, ok := b.Value(get) // valid until the next Reset or Run
	fmt.Println(string(v), ok)
	_, ok = b.Value(miss)
	fmt.Println(ok, b.Status(miss))
	fmt.Println(b.Counter(count))
	// Output:
	// value of b true
	// false key not found
	// 1
}

// A batch of gets only: GetBatch copies the keys into one buffer and the
// engine writes the values into another, with one cgo call and nothing built
// per key (the faster way to read many keys; Batch mixes in writes).
func ExampleGetBatch() {
	m, _ := numashard.Open(numashard.Config{})
	defer m.Close()
	for _, k := range []string{"a", "b", "c"} {
		m.StoreString(k, []byte("value of "+k))
	}

	g := numashard.NewGetBatch(64) // reusable, allocation-free once warm
	for _, k := range []string{"c", "zzz", "a"} {
		g.GetString(k)
	}
	if err := m.RunGets(g); err != nil {
		log.Fatal(err)
	}
	for i := range g.Len() {
		v, ok := g.Value(i) // valid until the next Reset or RunGets
		fmt.Printf("%q %v %v\n", v, ok, g.Status(i))
	}
	// Output:
	// "value of c" true ok
	// "" false key not found
	// "value of a" true ok
}

// Iterating while other goroutines write is safe: every entry present for
// the whole pass is seen exactly once. Slices are valid for one step.
func ExampleMap_All() {
	m, _ := numashard.Open(numashard.Config{})
	defer m.Close()
	for i := range 3 {
		m.StoreString(fmt.Sprint("k", i), []byte{byte(i)})
	}

	var seen []string
	for k, v := range m.All() {
		seen = append(seen, fmt.Sprint(string(k), "=", v[0])) // copy what you keep
	}
	slices.Sort(seen)
	fmt.Println(seen)

	err := m.Range(func(k, v []byte) bool { return true }) // Range also reports ErrClosed
	fmt.Println(err)
	// Output:
	// [k0=0 k1=1 k2=2]
	// <nil>
}

// Hot reload: ReplaceAll switches the whole contents at once, so no reader
// ever sees a mix of the old and the new configuration.
func ExampleMap_ReplaceAll() {
	m, _ := numashard.Open(numashard.Config{})
	defer m.Close()
	m.StoreString("feature", []byte("off"))
	m.StoreString("stale", []byte("x"))

	err := m.ReplaceAll([]numashard.Entry{
		{Key: []byte("feature"), Value: []byte("on")},
		{Key: []byte("limit"), Value: []byte("10")},
	})
	v, _, _ := m.LoadString("feature")
	_, stale, _ := m.LoadString("stale")
	n, _ := m.Len()
	fmt.Println(err, string(v), stale, n)
	// Output: <nil> on false 2
}

// Stats tell where each shard lives and how full it is; PrometheusText
// renders them for a /metrics endpoint.
func ExampleMap_Stats() {
	m, _ := numashard.Open(numashard.Config{Shards: 2})
	defer m.Close()
	m.StoreString("a", []byte("1"))

	st, err := m.Stats()
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(st.Shards, st.Entries, len(st.PerShard))
	for _, sh := range st.PerShard {
		_ = sh.Node // NUMA node, CPU, pages on the node, BindingApplied, ...
	}
	text, _ := m.PrometheusText()
	fmt.Println(strings.Contains(text, "numashard_shards 2"))
	// Output:
	// 2 1 2
	// true
}
