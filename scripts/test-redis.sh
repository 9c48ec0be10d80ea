#!/usr/bin/env bash
# The Redis near-cache tier (tiers/redis) against real redis-server processes
# from Debian's package (installed by scripts/setup.sh), each started by the
# tests on a free 127.0.0.1 port and killed when the test ends: read/write/
# delete-through, TTLs, coherence of two near caches under a writer
# (thousands of rounds), server kill and restart, dropped connections, bad
# input and server errors, and a three-master Cluster.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"
command -v redis-server >/dev/null || { echo "redis-server missing: run scripts/setup.sh" >&2; exit 1; }
command -v redis-cli >/dev/null || { echo "redis-cli missing: run scripts/setup.sh" >&2; exit 1; }
cargo test --quiet -p numashard-redis
