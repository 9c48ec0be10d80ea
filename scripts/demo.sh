#!/usr/bin/env bash
# The main job: a quick comparison of numashard against its peers (dashmap,
# scc, papaya, a 16-way sharded RwLock<HashMap>) on this machine, about a
# minute on 2 cores. Prints the machine's topology and numashard's placement,
# a table with throughput, latency percentiles, memory per entry and the
# ratio against the best peer, and writes target/bench-results/demo.json,
# demo-threads.svg and demo-batch.svg.
#
# Arguments, if any, replace the default options of numashard-bench
# (see `target/release/numashard-bench --help`).
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"
NUMASHARD_SETUP_VM=0 NUMASHARD_SETUP_ARM64=0 ./scripts/setup.sh
cargo build --quiet --release -p numashard-bench
if [ $# -gt 0 ]; then
  args=("$@")
else
  args=(--table tiny,small --workload read-only,read-95,update-50 --threads 2 --batch single,64 --duration 0.5)
fi
exec ./target/release/numashard-bench "${args[@]}" --out-dir target/bench-results --name demo
