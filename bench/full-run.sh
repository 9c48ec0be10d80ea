#!/usr/bin/env bash
# The full comparison recorded in bench/results/ (about 25 minutes on 2 cores):
#   main   TINY, SMALL, LARGE × read-only, read-95, update-50 × 1 and 2 threads × single and batch 64, three times (median)
#   batch  SMALL and LARGE read-only, 2 threads, single and batches of 1..256 (for the batch plot), twice
#   stall  worst writer stall during a full iteration and a replace_all of SMALL and LARGE (numashard only)
#   idle   process CPU while each engine sits loaded and unused for 2 s (TINY and LARGE)
# plus the machine description. OUT overrides the directory.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"
OUT=${OUT:-bench/results}
cargo build --quiet --release -p numashard-bench
bin=target/release/numashard-bench
mkdir -p "$OUT"
{
  echo "\$ lscpu"; lscpu
  echo; echo "\$ numactl --hardware"; numactl --hardware 2>&1 || echo "(numactl not installed)"
  echo; echo "\$ uname -a"; uname -a
  echo; echo "\$ grep MemTotal /proc/meminfo"; grep MemTotal /proc/meminfo
  echo; echo "\$ uptime (other work on the machine during the run makes results noisy)"; uptime
} >"$OUT/machine.txt"
"$bin" --table tiny,small,large --workload read-only,read-95,update-50 --threads 1,2 --batch single,64 \
  --duration 0.5 --repeat 3 --out-dir "$OUT" --name main | tee "$OUT/main.txt"
"$bin" --table small,large --workload read-only --threads 2 --batch single,1,2,4,8,16,32,64,128,256 \
  --duration 0.5 --repeat 2 --out-dir "$OUT" --name batch-sweep | tee "$OUT/batch-sweep.txt"
"$bin" --table small,large --workload stall --out-dir "$OUT" --name stall --no-plot | tee "$OUT/stall.txt"
"$bin" --table tiny,large --workload idle --duration 2 --out-dir "$OUT" --name idle --no-plot | tee "$OUT/idle.txt"
echo "\$ uptime (after)" >>"$OUT/machine.txt"; uptime >>"$OUT/machine.txt"
