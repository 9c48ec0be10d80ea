#!/usr/bin/env bash
# The Go module's speed goals (issue 17), measured and tabulated in one go:
# builds the library of this working tree and the benchmarks' test binary,
# runs BenchmarkMap in rounds (100k entries, then 10M), each round every
# implementation once with 1 and 2 goroutines, and prints the goals' table
# (cmd/goals: per-round ratios against the peers of the same round, their
# median and range). Raw output stays in OUTDIR.
#
#   bindings/go/bench/goals.sh [OUTDIR]      (default: target/go-goals)
#
# ROUNDS_SMALL (default 6) and ROUNDS_LARGE (default 2; 0 skips the 10M
# table, which needs ~8 GiB of memory and a few minutes per round) set the
# rounds; NUMASHARD_BENCH_SMALL (default 100000) the small table's entries,
# GOALS_BENCHTIME (default 200ms) each small benchmark's -test.benchtime. Workload: 16 B keys, 32 B values, uniform, every load a hit, every
# store an overwrite, default Config{} (one shard per CPU), batches of 64.
# On a shared or noisy machine use more rounds: a peer's own time can move
# 2-4x between rounds, the per-round ratios much less.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../../.." && pwd)"
out="${1:-$root/target/go-goals}"
mkdir -p "$out"
out="$(cd "$out" && pwd)"
export PATH="$HOME/.cargo/bin:/usr/local/go/bin:$PATH"

(cd "$root" && cargo build --release --quiet -p numashard-ffi)
cd "$here"
go test -tags numashard_dev -c -o "$out/nsbench.test" .
impls='numashard|numashard-cgo|numashard-gets|numashard-placed|syncmap|rwmap|sharded32|xsync|fastcache'
: >"$out/go-small.txt"
for round in $(seq 1 "${ROUNDS_SMALL:-6}"); do
  echo "# round $round $(date -u +%H:%M:%S) load $(cut -d' ' -f1 /proc/loadavg)" | tee -a "$out/go-small.txt"
  "$out/nsbench.test" -test.run '^$' -test.benchtime "${GOALS_BENCHTIME:-200ms}" -test.count 1 -test.cpu 1,2 \
    -test.bench "Map/size=[^/]+/impl=($impls)\$/op=(load|store|batch64-load)\$" >>"$out/go-small.txt"
done
: >"$out/go-large.txt"
for round in $(seq 1 "${ROUNDS_LARGE:-2}"); do
  echo "# round $round $(date -u +%H:%M:%S) load $(cut -d' ' -f1 /proc/loadavg)" | tee -a "$out/go-large.txt"
  # sync.Map is left out at 10M (filling it takes minutes), and the other
  # Go-heap maps run loads and stores only (NUMASHARD_BENCH_HEAP_OPS: each of
  # their runs starts with a forced GC of 10M entries), so at 10M their best
  # per key in a batch is their single load (a loop of it costs the same).
  NUMASHARD_BENCH_LARGE=1 NUMASHARD_BENCH_SMALL=1000 NUMASHARD_BENCH_HEAP_OPS='^(load|store)$' \
    "$out/nsbench.test" -test.run '^$' -test.benchtime 200000x -test.count 1 -test.cpu 1,2 \
    -test.bench "Map/size=10M/impl=(${impls/|syncmap/})\$/op=(load|store|batch64-load)\$" >>"$out/go-large.txt"
done
echo
go run ./cmd/goals "$out/go-small.txt" "$out/go-large.txt" | tee "$out/goals.md"
echo "raw output: $out"
