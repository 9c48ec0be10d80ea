#!/usr/bin/env bash
# Runs numashard-bench under each useful NUMA binding and collects the JSON
# (and the printed table) of each in $OUT (default bench/results/numactl):
#   all-nodes      no binding
#   nodeN          numactl --cpunodebind=N --membind=N, for every node with CPUs
#   interleave     numactl --interleave=all (only with two nodes or more)
# Bindings this machine cannot do are skipped, saying why. Every JSON records
# the binding it saw (allowed CPUs, memory policy, numashard's placement).
# NUMASHARD_BENCH_ARGS replaces the default benchmark options.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"
OUT=${OUT:-bench/results/numactl}
read -r -a ARGS <<<"${NUMASHARD_BENCH_ARGS:---table tiny,small --workload read-only,update-50 --threads 1,2 --batch single,64 --duration 0.5}"
cargo build --quiet --release -p numashard-bench
bin=target/release/numashard-bench
mkdir -p "$OUT"

run() {
  local label=$1
  shift
  echo "=== $label: ${*:-no binding}"
  "$@" "$bin" "${ARGS[@]}" --out-dir "$OUT" --name "$label" | tee "$OUT/$label.txt"
}

run all-nodes
if ! command -v numactl >/dev/null; then
  echo "numactl is not installed: skipping the one-node and interleave bindings"
  exit 0
fi
nodes=()
for d in /sys/devices/system/node/node[0-9]*; do
  [ -s "$d/cpulist" ] && [ -n "$(tr -d '[:space:]' <"$d/cpulist")" ] && nodes+=("${d##*node}")
done
for n in "${nodes[@]}"; do
  if numactl --cpunodebind="$n" --membind="$n" true 2>/dev/null; then
    run "node$n" numactl --cpunodebind="$n" --membind="$n"
  else
    echo "skipping node$n: numactl cannot bind to node $n here (container or cgroup limits)"
  fi
done
if [ ${#nodes[@]} -lt 2 ]; then
  echo "skipping interleave: this machine has ${#nodes[@]} NUMA node(s), nothing to interleave"
elif numactl --interleave=all true 2>/dev/null; then
  run interleave numactl --interleave=all
else
  echo "skipping interleave: numactl cannot interleave here"
fi
echo "results in $OUT"
