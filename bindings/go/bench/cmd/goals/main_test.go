package main

import (
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Two rounds of made-up lines: every ratio is known by hand.
const twoRounds = `# round 1
goos: linux
BenchmarkMap/size=100k/impl=numashard/op=load   	 100	       1 ns/op	       100.0 cpu-ns/op	       0 B/op	       0 allocs/op
BenchmarkMap/size=100k/impl=numashard/op=load-2 	 100	       1 ns/op	       50.0 cpu-ns/op	       0 B/op	       0 allocs/op
BenchmarkMap/size=100k/impl=numashard/op=store  	 100	       1 ns/op	       200.0 cpu-ns/op	       0 B/op	       0 allocs/op
BenchmarkMap/size=100k/impl=numashard-gets/op=batch64-load 	 100	       1 ns/op	       20.0 cpu-ns/op	       0 B/op	       0 allocs/op
BenchmarkMap/size=100k/impl=numashard-cgo/op=load 	 100	       1 ns/op	       150.0 cpu-ns/op	       0 B/op	       0 allocs/op
BenchmarkMap/size=100k/impl=rwmap/op=load       	 100	       1 ns/op	       80.0 cpu-ns/op	       0 B/op	       0 allocs/op
BenchmarkMap/size=100k/impl=rwmap/op=load-2     	 100	       1 ns/op	       60.0 cpu-ns/op	       0 B/op	       0 allocs/op
BenchmarkMap/size=100k/impl=rwmap/op=batch64-load 	 100	       1 ns/op	       70.0 cpu-ns/op	       0 B/op	       0 allocs/op
BenchmarkMap/size=100k/impl=xsync/op=load       	 100	       1 ns/op	       90.0 cpu-ns/op	       0 B/op	       0 allocs/op
BenchmarkMap/size=100k/impl=fastcache/op=store  	 100	       1 ns/op	       100.0 cpu-ns/op	       0 B/op	       0 allocs/op
BenchmarkMap/size=100k/impl=numashard-placed/op=load 	 100	       1 ns/op	       40.0 cpu-ns/op	       0 B/op	       0 allocs/op
BenchmarkMap/size=100k/impl=numashard-placed/op=store 	 100	       1 ns/op	       125.0 cpu-ns/op	       0 B/op	       0 allocs/op
# round 2
BenchmarkMap/size=100k/impl=numashard/op=load   	 100	       1 ns/op	       100.0 cpu-ns/op	       0 B/op	       1 allocs/op
BenchmarkMap/size=100k/impl=numashard/op=store  	 100	       1 ns/op	       100.0 cpu-ns/op	       0 B/op	       0 allocs/op
BenchmarkMap/size=100k/impl=syncmap/op=load     	 100	       1 ns/op	       120.0 cpu-ns/op	       0 B/op	       0 allocs/op
BenchmarkMap/size=100k/impl=fastcache/op=store  	 100	       1 ns/op	       100.0 cpu-ns/op	       0 B/op	       0 allocs/op
BenchmarkMap/size=10M/impl=numashard/op=load    	 100	       1 ns/op	       500.0 cpu-ns/op	       0 B/op	       0 allocs/op
BenchmarkMap/size=10M/impl=sharded32/op=load    	 100	       1 ns/op	       400.0 cpu-ns/op	       0 B/op	       0 allocs/op
`

func near(a, b float64) bool { return math.Abs(a-b) < 1e-9 }

func TestRatiosByHand(t *testing.T) {
	rounds, err := parse(strings.NewReader(twoRounds))
	if err != nil {
		t.Fatal(err)
	}
	if len(rounds) != 2 {
		t.Fatalf("%d rounds, want 2", len(rounds))
	}
	cols, rows, allocs := ratios(rounds)
	want := []column{{"100k", 1}, {"100k", 2}, {"10M", 1}}
	if len(cols) != len(want) {
		t.Fatalf("columns %v, want %v", cols, want)
	}
	for i := range want {
		if cols[i] != want[i] {
			t.Fatalf("columns %v, want %v", cols, want)
		}
	}
	c1, c2, big := want[0], want[1], want[2]
	check := func(r row, c column, want ...float64) {
		t.Helper()
		got := r.ratios[c]
		if len(got) != len(want) {
			t.Fatalf("%s at %v: %v, want %v", r.name, c, got, want)
		}
		for i := range want {
			if !near(got[i], want[i]) {
				t.Fatalf("%s at %v: %v, want %v", r.name, c, got, want)
			}
		}
	}
	load, direct, store, batch := rows[0], rows[1], rows[2], rows[3]
	// Round 1: rwmap (80) beats xsync (90); round 2: sync.Map is the only peer.
	check(load, c1, 0.8, 1.2)
	check(load, c2, 1.2)
	check(load, big, 0.8)
	check(direct, c1, 1.5)
	check(store, c1, 0.5, 1.0)
	check(store, c2)
	// The best peer per key: rwmap's batch loop (70) beats its load (80).
	check(batch, c1, 3.5)
	// numashard-placed ran in round 1 only: its rows, after the goals'.
	if len(rows) != 6 {
		t.Fatalf("%d rows, want 4 goals and 2 of numashard-placed", len(rows))
	}
	check(rows[4], c1, 2.0)
	check(rows[5], c1, 0.8)
	check(rows[5], c2)
	if allocs[c1] != 1 || allocs[c2] != 0 {
		t.Fatalf("allocs %v, want 1 at %v and 0 at %v", allocs, c1, c2)
	}
	var out strings.Builder
	table(&out, rounds)
	for _, s := range []string{"| goal | 100k, 1 CPU | 100k, 2 CPU | 10M, 1 CPU |", "| single Load >= 1.0x best peer | 1.00 (0.80-1.20, 2) | 1.20 (1.20-1.20, 1) | 0.80 (0.80-0.80, 1) |"} {
		if !strings.Contains(out.String(), s) {
			t.Fatalf("table lacks %q:\n%s", s, out.String())
		}
	}
}

// The raw files of run 12 give the table bench/results/go.md publishes for it.
func TestRun12Table(t *testing.T) {
	var rounds []round
	for _, name := range []string{"go-small-run12.txt", "go-large-run12.txt"} {
		f, err := os.Open(filepath.Join("..", "..", "..", "..", "..", "bench", "results", name))
		if err != nil {
			t.Fatal(err)
		}
		rs, err := parse(f)
		f.Close()
		if err != nil {
			t.Fatal(err)
		}
		rounds = append(rounds, rs...)
	}
	if len(rounds) != 7 {
		t.Fatalf("%d rounds, want 5 + 2", len(rounds))
	}
	_, rows, _ := ratios(rounds)
	published := map[string]map[column]string{
		"single Load >= 1.0x best peer":  {{"100k", 1}: "0.51", {"100k", 2}: "0.37", {"10M", 1}: "0.69", {"10M", 2}: "0.88"},
		"Store >= 0.8x fastcache":        {{"100k", 1}: "0.47", {"100k", 2}: "0.24", {"10M", 1}: "0.46", {"10M", 2}: "0.56"},
		"GetBatch of 64 >= 3x best peer": {{"100k", 1}: "1.02", {"100k", 2}: "1.05", {"10M", 1}: "3.70", {"10M", 2}: "4.19"},
	}
	for _, r := range rows {
		for c, want := range published[r.name] {
			if got := cell(r.ratios[c]); !strings.HasPrefix(got, want+" ") {
				t.Errorf("%s at %v: %s, published %s", r.name, c, got, want)
			}
		}
	}
}
