//go:build linux && cgo

package numashard

import (
	"bufio"
	"math/bits"
	"os"
	"strconv"
	"strings"
	"testing"
)

// vectorKey rebuilds the key of (len, pattern) as testdata/keyhashgen does.
func vectorKey(n int, pattern int) []byte {
	k := make([]byte, n)
	for j := range k {
		switch pattern {
		case 0:
			k[j] = byte(((uint64(n)<<32 | uint64(j)) + 1) * 0x9e3779b97f4a7c15 >> 56)
		case 1:
			k[j] = 0xff
		}
	}
	return k
}

// TestKeyHashMatchesEngine compares keyHash with the vectors the Rust crate
// printed (testdata/keyhash_vectors.txt, from testdata/keyhashgen): every
// seed, every length from 0 to 300 and a few past it, three key patterns.
func TestKeyHashMatchesEngine(t *testing.T) {
	f, err := os.Open("testdata/keyhash_vectors.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	lines, lens := 0, map[int]bool{}
	for sc.Scan() {
		fs := strings.Fields(sc.Text())
		if len(fs) != 4 {
			t.Fatalf("line %d: %q", lines+1, sc.Text())
		}
		seed, err1 := strconv.ParseUint(fs[0], 16, 64)
		n, err2 := strconv.Atoi(fs[1])
		pattern, err3 := strconv.Atoi(fs[2])
		want, err4 := strconv.ParseUint(fs[3], 16, 64)
		if err1 != nil || err2 != nil || err3 != nil || err4 != nil {
			t.Fatalf("line %d: %q", lines+1, sc.Text())
		}
		if got := keyHash(seed, vectorKey(n, pattern)); got != want {
			t.Errorf("seed %#x, len %d, pattern %d: %#x, the engine %#x", seed, n, pattern, got, want)
		}
		lines++
		lens[n] = true
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	for n := 0; n <= 300; n++ {
		if !lens[n] {
			t.Fatalf("no vector of length %d", n)
		}
	}
	if lines < 1500 {
		t.Fatalf("only %d vectors", lines)
	}
}

func TestShardOfInRange(t *testing.T) {
	for _, n := range []uint32{1, 2, 3, 7, 64, 1024} {
		for _, h := range []uint64{0, 1, 1<<32 - 1, 1 << 63, ^uint64(0)} {
			if s := shardOf(h, n); s >= n {
				t.Fatalf("shardOf(%#x, %d) = %d", h, n, s)
			}
		}
	}
	if shardOf(^uint64(0), 4) != 3 || shardOf(0, 4) != 0 || shardOf(1<<31, 4) != 2 {
		t.Fatal("shardOf is not the engine's scaling of the low 32 bits")
	}
}

// BenchmarkKeyHash16 is the hash of a benchmark-sized key (16 bytes).
func BenchmarkKeyHash16(b *testing.B) {
	k := vectorKey(16, 0)
	var h uint64
	for i := 0; i < b.N; i++ {
		h += keyHash(uint64(i), k)
	}
	keyHashSink = h
}

var keyHashSink uint64

// TestKeyHashShortCaseIsHashShort: keyHash's written-out 8..16-byte case
// equals the general short path (hashShort, then finish), at every length
// the short path takes (the vectors of the Rust crate cover the rest).
func TestKeyHashShortCaseIsHashShort(t *testing.T) {
	for n := 0; n <= 16; n++ {
		for i := 0; i < 200; i++ {
			key := patternKey(i, n)
			for _, seed := range []uint64{0, 1, 0x9e3779b97f4a7c15} {
				k := keyHash(seed, key)
				want := foldMul(uint64(n)^hashShort(key, bits.RotateLeft64(seed^khSeedMix, -n)), khFold)
				if k != want {
					t.Fatalf("%d-byte key %d, seed %#x: keyHash %#x, hashShort's %#x", n, i, seed, k, want)
				}
			}
		}
	}
}
