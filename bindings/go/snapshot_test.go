//go:build linux && cgo

package numashard

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestSaveAndOpenSnapshot(t *testing.T) {
	m, err := Open(Config{Shards: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	const n = 20_000
	for i := 0; i < n; i++ {
		if err := m.Store([]byte(fmt.Sprintf("key-%d", i)), []byte(fmt.Sprintf("value-%d", i))); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := m.Add([]byte("counter"), 41); err != nil {
		t.Fatal(err)
	}
	if err := m.StoreTTL([]byte("hour"), []byte("h"), time.Hour); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	r, err := m.Save(dir)
	if err != nil {
		t.Fatal(err)
	}
	if r.Entries != n+2 || r.Shards != 2 || r.Generation == 0 || r.Bytes == 0 || r.Elapsed <= 0 {
		t.Fatalf("report %+v", r)
	}
	for _, shards := range []int{1, 3} {
		l, err := OpenSnapshot(dir, Config{Shards: shards})
		if err != nil {
			t.Fatal(err)
		}
		if got, _ := l.Len(); got != n+2 {
			t.Fatalf("%d shards: %d entries", shards, got)
		}
		for i := 0; i < n; i += 97 {
			v, ok, err := l.Load([]byte(fmt.Sprintf("key-%d", i)))
			if err != nil || !ok || string(v) != fmt.Sprintf("value-%d", i) {
				t.Fatalf("key-%d: %q %v %v", i, v, ok, err)
			}
		}
		if c, _ := l.Add([]byte("counter"), 1); c != 42 {
			t.Fatalf("counter %d", c)
		}
		ttl, ok, err := l.TTL([]byte("hour"))
		if err != nil || !ok || ttl <= 59*time.Minute || ttl > time.Hour {
			t.Fatalf("ttl %v %v %v", ttl, ok, err)
		}
		l.Close()
	}
}

func TestSnapshotErrors(t *testing.T) {
	dir := t.TempDir()
	if _, err := OpenSnapshot(filepath.Join(dir, "none"), Config{}); !errors.Is(err, ErrNoSnapshot) {
		t.Fatalf("missing: %v", err)
	} else if !strings.Contains(err.Error(), "numashard.snapshot") {
		t.Fatalf("the error names the file: %v", err)
	}
	if _, err := OpenSnapshot("", Config{}); !errors.Is(err, ErrInvalidArgument) {
		t.Fatalf("empty dir: %v", err)
	}
	m, err := Open(Config{Shards: 2})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 5000; i++ {
		m.Store([]byte(fmt.Sprintf("k%d", i)), bytes.Repeat([]byte{byte(i)}, 40))
	}
	if _, err := m.Save(dir); err != nil {
		t.Fatal(err)
	}
	// A bit flip in a data file: corrupt, and no map.
	files, _ := filepath.Glob(filepath.Join(dir, "*.nss"))
	if len(files) != 2 {
		t.Fatalf("files %v", files)
	}
	data, _ := os.ReadFile(files[0])
	data[len(data)/2] ^= 4
	os.WriteFile(files[0], data, 0o644)
	if l, err := OpenSnapshot(dir, Config{}); !errors.Is(err, ErrSnapshotCorrupt) || l != nil {
		t.Fatalf("bit flip: %v", err)
	} else if !strings.Contains(err.Error(), "checksum") {
		t.Fatalf("the error says why: %v", err)
	}
	data[len(data)/2] ^= 4
	os.WriteFile(files[0], data[:len(data)-1], 0o644)
	if _, err := OpenSnapshot(dir, Config{}); !errors.Is(err, ErrSnapshotCorrupt) {
		t.Fatalf("truncated: %v", err)
	}
	os.WriteFile(filepath.Join(dir, "numashard.snapshot"), []byte("not a snapshot"), 0o644)
	if _, err := OpenSnapshot(dir, Config{}); !errors.Is(err, ErrNotASnapshot) {
		t.Fatalf("foreign: %v", err)
	}
	// Saving where a directory cannot be: I/O, with the reason.
	if _, err := m.Save(filepath.Join(dir, "numashard.snapshot", "sub")); !errors.Is(err, ErrIO) {
		t.Fatalf("bad dir: %v", err)
	}
	if _, err := m.Save(""); !errors.Is(err, ErrInvalidArgument) {
		t.Fatalf("empty dir: %v", err)
	}
	m.Close()
	if _, err := m.Save(dir); !errors.Is(err, ErrClosed) {
		t.Fatalf("closed: %v", err)
	}
}

// Goroutines keep storing during a save: each owns its keys and writes a
// growing sequence number; the snapshot holds, per goroutine, every key at
// most one step behind the others (a prefix of its writes), never a value
// written after a value it lacks.
func TestSaveDuringWrites(t *testing.T) {
	m, err := Open(Config{Shards: 3})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	const writers, keys = 3, 3000
	var stop atomic.Bool
	var wg sync.WaitGroup
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for round := 1; !stop.Load(); round++ {
				for k := 0; k < keys; k++ {
					m.Store([]byte(fmt.Sprintf("w%d-%d", w, k)), []byte(fmt.Sprint(round)))
				}
			}
		}(w)
	}
	time.Sleep(20 * time.Millisecond)
	dir := t.TempDir()
	if _, err := m.Save(dir); err != nil {
		t.Fatal(err)
	}
	stop.Store(true)
	wg.Wait()
	l, err := OpenSnapshot(dir, Config{Shards: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	for w := 0; w < writers; w++ {
		// Rounds write keys in order: the snapshot shows round r for keys
		// [0, p) and round r-1 for [p, keys).
		round := func(k int) int {
			v, ok, _ := l.Load([]byte(fmt.Sprintf("w%d-%d", w, k)))
			if !ok {
				return 0
			}
			var r int
			fmt.Sscan(string(v), &r)
			return r
		}
		first, last := round(0), round(keys-1)
		if first != last && first != last+1 {
			t.Fatalf("writer %d: key 0 at round %d, last key at %d", w, first, last)
		}
		for k := 0; k < keys; k++ {
			if r := round(k); r != first && r != last || k > 0 && r > round(k-1) {
				t.Fatalf("writer %d: key %d at round %d: not a prefix of the writes", w, k, r)
			}
		}
	}
}
