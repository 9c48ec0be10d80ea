package main

import (
	"bytes"
	"encoding/binary"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
)

func TestKeyLayout(t *testing.T) {
	ks := newKeySet(300)
	want := make([]byte, 16)
	binary.LittleEndian.PutUint64(want, 258)
	binary.LittleEndian.PutUint64(want[8:], ^uint64(258))
	if !bytes.Equal(ks.bytes(258), want) || ks.str(258) != string(want) {
		t.Fatalf("key(258) = %x, want %x", ks.bytes(258), want)
	}
}

func TestReadTrace(t *testing.T) {
	dir := t.TempDir()
	ids := []uint64{0, 1, 99_999, 100_000, 1 << 40}
	b := make([]byte, 0, 8*len(ids))
	for _, k := range ids {
		b = binary.LittleEndian.AppendUint64(b, k)
	}
	p := filepath.Join(dir, "t.u64")
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	got, err := readTrace(p)
	if err != nil || len(got) != len(ids) {
		t.Fatalf("readTrace = %v, %v", got, err)
	}
	for i := range ids {
		if got[i] != ids[i] {
			t.Fatalf("id %d = %d, want %d", i, got[i], ids[i])
		}
	}
	for _, bad := range [][]byte{nil, b[:7], b[:12]} {
		if err := os.WriteFile(p, bad, 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := readTrace(p); err == nil {
			t.Fatalf("readTrace of %d bytes: no error", len(bad))
		}
	}
}

// shuffled returns ids 0..distinct-1, each rounds times, in a seeded order.
func shuffled(distinct, rounds int) []uint64 {
	t := make([]uint64, 0, distinct*rounds)
	for r := 0; r < rounds; r++ {
		for k := 0; k < distinct; k++ {
			t = append(t, uint64(k))
		}
	}
	rng := rand.New(rand.NewPCG(1, 2))
	rng.Shuffle(len(t), func(i, j int) { t[i], t[j] = t[j], t[i] })
	return t
}

// A working set that fits: every request but each key's first hits, in
// every engine that applies its sets at once (all but ristretto-async),
// and numashard's Stats agree with the loop's count (checked by done).
func TestWorkingSetThatFitsHitsExactly(t *testing.T) {
	const distinct, rounds, capacity = 500, 10, 1000
	trace := shuffled(distinct, rounds)
	ks := newKeySet(distinct)
	if b := bound(trace); b != float64(distinct*(rounds-1))/float64(distinct*rounds) {
		t.Fatalf("bound = %v", b)
	}
	for _, e := range engines {
		if e.name == "ristretto-async" {
			continue
		}
		for _, threads := range []int{1, 2} {
			c, _, _ := e.open(capacity, ks)
			r, err := replay(c, trace, threads)
			c.close()
			if err != nil {
				t.Fatalf("%s, %d goroutines: %v", e.name, threads, err)
			}
			// Two goroutines may both miss a key's first request.
			lo, hi := uint64(len(trace)-distinct), uint64(len(trace)-distinct)
			if threads == 2 {
				lo -= distinct
			}
			if r.hits < lo || r.hits > hi {
				t.Errorf("%s, %d goroutines: %d hits, want %d..%d", e.name, threads, r.hits, lo, hi)
			}
		}
	}
}

// A loop over five times the capacity: every engine held to the capacity
// misses more than the compulsory misses, and numashard keeps within its
// memory limit with the loop's hit count equal to its Stats (done).
func TestLoopLargerThanCacheEvicts(t *testing.T) {
	const distinct, rounds, capacity = 5000, 4, 1000
	trace := make([]uint64, 0, distinct*rounds)
	for r := 0; r < rounds; r++ {
		for k := 0; k < distinct; k++ {
			trace = append(trace, uint64(k))
		}
	}
	ks := newKeySet(distinct)
	b := bound(trace)
	for _, e := range engines {
		c, oversized, _ := e.open(capacity, ks)
		r, err := replay(c, trace, 2)
		c.close()
		if err != nil {
			t.Fatalf("%s: %v", e.name, err)
		}
		if !oversized && r.ratio >= b {
			t.Errorf("%s at %d entries: hit ratio %.4f on a loop of %d keys, not below the no-eviction bound %.4f",
				e.name, capacity, r.ratio, distinct, b)
		}
		if r.ratio > b {
			t.Errorf("%s: hit ratio %.4f above the no-eviction bound %.4f", e.name, r.ratio, b)
		}
	}
}
