#!/usr/bin/env bash
# The main job: a short demonstration run (replaced by the benchmark CLI's comparison run).
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"
NUMASHARD_SETUP_VM=0 ./scripts/setup.sh
cargo run --quiet --release -p numashard --example demo -- "${@:-4}"
