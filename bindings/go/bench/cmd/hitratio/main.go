// Command hitratio replays the cache-mode hit-ratio traces read-through
// (get; on a miss, set) on numashard's cache mode and the Go caches users
// pick instead: otter v2, ristretto v2, freecache and fastcache. The traces
// are the ones of the Rust table (bench/results/cache.md), written by
//
//	cargo run --release -p numashard-bench --bin numashard-cache -- traces target/cache-traces
//
// Run it from bindings/go/bench, with the library of the working tree:
//
//	go run -tags numashard_dev ./cmd/hitratio -traces ../../../target/cache-traces
//
// Each trace file is little-endian u64 key ids; key(k) is 16 bytes (k then
// ^k, little-endian), the value 32 bytes (k, then zeros). The cache holds
// -caps percent of the key space (-keys ids; a trace may use more ids:
// the scan trace's fresh keys), in entries for numashard (its memory limit
// is capacity × 80 B, what such an entry is charged), otter and ristretto,
// in bytes for freecache and fastcache (capacity × their bytes per entry;
// both raise small sizes to their minimum, and are then not peers at that
// size: their rows say "oversized"). Goroutine t of T takes requests t,
// t+T, ... as the Rust harness's threads do.
package main

import (
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// traceNames are the traces of the Rust table, in its order.
var traceNames = []string{"zipf-0.7", "zipf-0.9", "zipf-0.99", "scan"}

// readTrace reads a file of little-endian u64 key ids.
func readTrace(path string) ([]uint64, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	if len(b) == 0 || len(b)%8 != 0 {
		return nil, fmt.Errorf("%s: %d bytes, not a non-empty list of u64 ids", path, len(b))
	}
	t := make([]uint64, len(b)/8)
	for i := range t {
		t[i] = binary.LittleEndian.Uint64(b[i*8:])
	}
	return t, nil
}

// result of one replay.
type result struct {
	hits  uint64
	ratio float64
	mops  float64
}

// replay runs trace read-through on c from threads goroutines.
func replay(c cache, trace []uint64, threads int) (result, error) {
	var hits atomic.Uint64
	var wg sync.WaitGroup
	t0 := time.Now()
	for t := 0; t < threads; t++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			buf := make([]byte, valueLen)
			v := make([]byte, valueLen)
			var h uint64
			for i := t; i < len(trace); i += threads {
				k := trace[i]
				if c.get(k, buf) {
					h++
					continue
				}
				binary.LittleEndian.PutUint64(v, k)
				c.set(k, v)
			}
			hits.Add(h)
		}()
	}
	wg.Wait()
	secs := time.Since(t0).Seconds()
	h := hits.Load()
	return result{h, float64(h) / float64(len(trace)), float64(len(trace)) / secs / 1e6}, c.done(h)
}

// bound is the hit ratio of a cache that never evicts: every request but
// the first of each key hits.
func bound(trace []uint64) float64 {
	seen := make(map[uint64]struct{}, 1<<17)
	for _, k := range trace {
		seen[k] = struct{}{}
	}
	return float64(len(trace)-len(seen)) / float64(len(trace))
}

func ints(s string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n <= 0 {
			return nil, fmt.Errorf("%q: want positive integers separated by commas", s)
		}
		out = append(out, n)
	}
	return out, nil
}

func main() {
	dir := flag.String("traces", "target/cache-traces", "directory of the trace files (NAME.u64)")
	keys := flag.Int("keys", 100_000, "key space of the traces (capacities are percents of it)")
	capsFlag := flag.String("caps", "1,10", "cache capacities, percent of the key space")
	threadsFlag := flag.String("threads", "1,2", "goroutine counts")
	only := flag.String("only", "", "only the traces whose name contains this")
	engineFlag := flag.String("engines", "", "only these engines (comma-separated); empty = all")
	flag.Parse()
	if err := run(os.Stdout, *dir, *keys, *capsFlag, *threadsFlag, *only, *engineFlag); err != nil {
		fmt.Fprintln(os.Stderr, "hitratio:", err)
		os.Exit(1)
	}
}

func run(w *os.File, dir string, keys int, capsFlag, threadsFlag, only, engineFlag string) error {
	caps, err := ints(capsFlag)
	if err != nil {
		return err
	}
	threadCounts, err := ints(threadsFlag)
	if err != nil {
		return err
	}
	use := engines
	if engineFlag != "" {
		want := strings.Split(engineFlag, ",")
		use = nil
		for _, e := range engines {
			if slices.Contains(want, e.name) {
				use = append(use, e)
			}
		}
		if len(use) == 0 {
			return errors.New("-engines names none of the engines")
		}
	}
	fmt.Fprintf(w, "keys %d, 16 B keys, 32 B values, read-through (get; on a miss, set)\n", keys)
	fmt.Fprintln(w, "| trace | cache | threads | engine | hit ratio | Mops/s | vs best peer (pp) |")
	fmt.Fprintln(w, "|---|---|---|---|---|---|---|")
	notes := map[string]bool{}
	var noteList []string
	for _, name := range traceNames {
		if !strings.Contains(name, only) {
			continue
		}
		trace, err := readTrace(filepath.Join(dir, name+".u64"))
		if err != nil {
			return err
		}
		ks := newKeySet(slices.Max(trace) + 1)
		fmt.Fprintf(w, "| %s | — | — | no eviction (bound) | %.4f | | |\n", name, bound(trace))
		for _, pct := range caps {
			capacity := keys * pct / 100
			for _, threads := range threadCounts {
				type row struct {
					name      string
					oversized bool
					r         result
				}
				var rows []row
				for _, e := range use {
					c, oversized, note := e.open(capacity, ks)
					r, err := replay(c, trace, threads)
					c.close()
					if err != nil {
						return fmt.Errorf("%s %d%% %d threads: %w", name, pct, threads, err)
					}
					rows = append(rows, row{e.name, oversized, r})
					if n := fmt.Sprintf("%s at %d entries: %s", e.name, capacity, note); !notes[n] {
						notes[n] = true
						noteList = append(noteList, n)
					}
				}
				best, havePeer := 0.0, false
				for _, r := range rows {
					if r.name != "numashard" && !r.oversized {
						best, havePeer = max(best, r.r.ratio), true
					}
				}
				for _, r := range rows {
					d := ""
					switch {
					case r.oversized:
						d = "oversized"
					case r.name == "numashard" && havePeer:
						d = fmt.Sprintf("%+.2f", (r.r.ratio-best)*100)
					}
					fmt.Fprintf(w, "| %s | %d%% | %d | %s | %.4f | %.2f | %s |\n", name, pct, threads, r.name, r.r.ratio, r.r.mops, d)
				}
			}
		}
	}
	fmt.Fprintln(w)
	for _, n := range noteList {
		fmt.Fprintln(w, "-", n)
	}
	return nil
}
