#!/usr/bin/env bash
# The near-cache benchmark (bench/results/near-cache.md): numashard-redis
# against the plain redis-rs client, then, from Go, package nearcache
# against rueidis with and without DoCache (bindings/go/bench/cmd/nearbench,
# GC cost included), against the same loopback redis-server, which the Rust
# program starts on a free port, loads and kills at the end.
# Usage: scripts/bench-near-cache.sh [--keys N] [--seconds S] [--value-size B]
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:/usr/local/go/bin:$PATH"
NUMASHARD_SETUP_ARM64=0 ./scripts/setup.sh
cargo build --quiet --release -p numashard-redis --example near_bench
(cd bindings/go/bench && go build -o ../../../target/release/near-bench-go ./cmd/nearbench)
./target/release/examples/near_bench --go-bench target/release/near-bench-go "$@"
