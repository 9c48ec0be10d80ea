// Command goals prints the Go module's speed goals (issue 17) from the
// output of BenchmarkMap: per round, the ratio of the best Go peer's CPU
// time per key to numashard's, then for each goal and table size the median
// over rounds with the rounds' range.
//
//	go run ./cmd/goals go-small.txt go-large.txt
//
// The input is `go test -bench 'Map/...'` output; a line starting with
// "# round" starts a new round (bindings/go/bench/goals.sh writes them), and
// a file without such lines is one round. Ratios above 1 mean numashard is
// faster. The goals:
//
//   - Load: numashard's LoadInto against the best peer's load (sync.Map,
//     the RWMutex map, the sharded map, xsync, fastcache, freecache,
//     bigcache: whichever ran), goal >= 1.0;
//   - Store: fastcache's Set against numashard's Store, goal >= 0.8;
//   - GetBatch of 64: the best peer's time per key, the better of its single
//     load and its loop of 64 loads, against numashard's GetBatch
//     (numashard-gets), goal >= 3.
//
// Rows that inform without a goal of their own: numashard's direct reads
// against its reads through cgo (numashard-cgo); the Load and Store goals'
// ratios of numashard-placed (Config.PlaceRecordsByHash, sized for the
// table), when it ran; and the most allocations per op seen for
// numashard's load and store (goal: 0).
package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
)

// key names one benchmark of a round.
type key struct {
	size, impl, op string
	cpu            int
}

// result is what a benchmark line reports.
type result struct {
	cpuNs  float64
	allocs int
}

type round map[key]result

// peers are the implementations a Go program would pick instead.
var peers = []string{"syncmap", "rwmap", "sharded32", "xsync", "fastcache", "freecache", "bigcache"}

// benchLine matches a BenchmarkMap line with the cpu-ns/op metric; the op
// name may hold '-' (batch64-load), the -N suffix is GOMAXPROCS.
var benchLine = regexp.MustCompile(`^BenchmarkMap/size=(\w+)/impl=([\w-]+)/op=([\w-]+?)(?:-(\d+))?\s+\d+\s+[\d.]+ ns/op\s+([\d.]+) cpu-ns/op\s+\d+ B/op\s+(\d+) allocs/op`)

// parse reads benchmark output into rounds.
func parse(r io.Reader) ([]round, error) {
	var rounds []round
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64*1024), 1024*1024)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "# round") {
			rounds = append(rounds, round{})
			continue
		}
		m := benchLine.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		if len(rounds) == 0 {
			rounds = append(rounds, round{})
		}
		cpu := 1
		if m[4] != "" {
			cpu, _ = strconv.Atoi(m[4])
		}
		ns, err := strconv.ParseFloat(m[5], 64)
		if err != nil {
			return nil, fmt.Errorf("%q: %v", line, err)
		}
		allocs, _ := strconv.Atoi(m[6])
		rounds[len(rounds)-1][key{m[1], m[2], m[3], cpu}] = result{ns, allocs}
	}
	return rounds, sc.Err()
}

// column is one table size at one GOMAXPROCS.
type column struct {
	size string
	cpu  int
}

// row is one goal's ratios per column, one per round that had both sides.
type row struct {
	name   string
	ratios map[column][]float64
}

// ratios computes every row over the rounds.
func ratios(rounds []round) (cols []column, rows []row, maxAllocs map[column]int) {
	load := row{"single Load >= 1.0x best peer", map[column][]float64{}}
	direct := row{"Load, direct vs cgo (no goal)", map[column][]float64{}}
	store := row{"Store >= 0.8x fastcache", map[column][]float64{}}
	batch := row{"GetBatch of 64 >= 3x best peer", map[column][]float64{}}
	placedLoad := row{"single Load, records placed by hash", map[column][]float64{}}
	placedStore := row{"Store, records placed by hash", map[column][]float64{}}
	maxAllocs = map[column]int{}
	seen := map[column]bool{}
	for _, r := range rounds {
		for k, res := range r {
			c := column{k.size, k.cpu}
			if k.impl == "numashard" && (k.op == "load" || k.op == "store") {
				seen[c] = true
				maxAllocs[c] = max(maxAllocs[c], res.allocs)
			}
		}
		for c := range seen {
			get := func(impl, op string) (float64, bool) {
				res, ok := r[key{c.size, impl, op, c.cpu}]
				return res.cpuNs, ok && res.cpuNs > 0
			}
			best := func(ops ...string) (float64, bool) {
				b, found := 0.0, false
				for _, p := range peers {
					for _, op := range ops {
						if v, ok := get(p, op); ok && (!found || v < b) {
							b, found = v, true
						}
					}
				}
				return b, found
			}
			if ns, ok := get("numashard", "load"); ok {
				if b, ok := best("load"); ok {
					load.ratios[c] = append(load.ratios[c], b/ns)
				}
				if cg, ok := get("numashard-cgo", "load"); ok {
					direct.ratios[c] = append(direct.ratios[c], cg/ns)
				}
			}
			if ns, ok := get("numashard", "store"); ok {
				if fc, ok := get("fastcache", "store"); ok {
					store.ratios[c] = append(store.ratios[c], fc/ns)
				}
			}
			if ns, ok := get("numashard-placed", "load"); ok {
				if b, ok := best("load"); ok {
					placedLoad.ratios[c] = append(placedLoad.ratios[c], b/ns)
				}
			}
			if ns, ok := get("numashard-placed", "store"); ok {
				if fc, ok := get("fastcache", "store"); ok {
					placedStore.ratios[c] = append(placedStore.ratios[c], fc/ns)
				}
			}
			if ns, ok := get("numashard-gets", "batch64-load"); ok {
				if b, ok := best("load", "batch64-load"); ok {
					batch.ratios[c] = append(batch.ratios[c], b/ns)
				}
			}
		}
	}
	for c := range seen {
		cols = append(cols, c)
	}
	sort.Slice(cols, func(i, j int) bool {
		si, sj := entries(cols[i].size), entries(cols[j].size)
		if si != sj {
			return si < sj
		}
		return cols[i].cpu < cols[j].cpu
	})
	rows = []row{load, direct, store, batch}
	for _, r := range []row{placedLoad, placedStore} {
		if len(r.ratios) > 0 {
			rows = append(rows, r)
		}
	}
	return cols, rows, maxAllocs
}

// entries is the entry count a size name stands for ("100k", "10M", "1000").
func entries(size string) int {
	mult := 1
	switch {
	case strings.HasSuffix(size, "k"):
		mult, size = 1000, strings.TrimSuffix(size, "k")
	case strings.HasSuffix(size, "M"):
		mult, size = 1_000_000, strings.TrimSuffix(size, "M")
	}
	n, _ := strconv.Atoi(size)
	return n * mult
}

// median of a non-empty slice (sorted in place).
func median(v []float64) float64 {
	slices.Sort(v)
	if len(v)%2 == 1 {
		return v[len(v)/2]
	}
	return (v[len(v)/2-1] + v[len(v)/2]) / 2
}

// cell formats one row's ratios at one column: median (min-max, rounds).
func cell(v []float64) string {
	if len(v) == 0 {
		return "-"
	}
	v = slices.Clone(v)
	m := median(v)
	return fmt.Sprintf("%.2f (%.2f-%.2f, %d)", m, v[0], v[len(v)-1], len(v))
}

// table writes the goals as a Markdown table.
func table(w io.Writer, rounds []round) {
	cols, rows, maxAllocs := ratios(rounds)
	fmt.Fprint(w, "| goal |")
	for _, c := range cols {
		fmt.Fprintf(w, " %s, %d CPU |", c.size, c.cpu)
	}
	fmt.Fprint(w, "\n|---|")
	for range cols {
		fmt.Fprint(w, "---|")
	}
	fmt.Fprintln(w)
	for _, r := range rows {
		fmt.Fprintf(w, "| %s |", r.name)
		for _, c := range cols {
			fmt.Fprintf(w, " %s |", cell(r.ratios[c]))
		}
		fmt.Fprintln(w)
	}
	fmt.Fprint(w, "| most allocs/op, LoadInto and Store (goal 0) |")
	for _, c := range cols {
		fmt.Fprintf(w, " %d |", maxAllocs[c])
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "\nCells: median of the per-round ratios (best peer's CPU ns per key / numashard's; > 1: numashard faster), (lowest-highest, rounds).")
}

func main() {
	var rounds []round
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: goals BENCH_OUTPUT... (go test -bench 'Map/...' output, rounds separated by '# round' lines)")
		os.Exit(2)
	}
	for _, name := range os.Args[1:] {
		f, err := os.Open(name)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		rs, err := parse(f)
		f.Close()
		if err != nil {
			fmt.Fprintf(os.Stderr, "%s: %v\n", name, err)
			os.Exit(1)
		}
		rounds = append(rounds, rs...)
	}
	table(os.Stdout, rounds)
}
