#!/usr/bin/env bash
# Runs every test of numashard: Rust (core, ffi), the C suite under
# sanitizers and valgrind, fuzzing, the Go and Java bindings, and the NUMA
# checks in multi-node guests. Installs what it needs first.
# NUMASHARD_TEST_ONLY="rust c go java numa" selects parts.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:/usr/local/go/bin:$PATH"
./scripts/setup.sh

parts="${NUMASHARD_TEST_ONLY:-rust c fuzz go java numa}"
has() { [[ " $parts " == *" $1 "* ]]; }
section() { printf '\n=== %s ===\n' "$*"; }

if has rust; then
  section "rust: fmt, clippy, tests"
  cargo fmt --all -- --check
  cargo clippy --workspace --all-targets --quiet -- -D warnings
  cargo test --workspace --quiet
fi
for part in c fuzz go java numa; do
  if has "$part" && [ -x "scripts/test-$part.sh" ]; then
    section "$part"
    "scripts/test-$part.sh"
  fi
done
section "all tests passed"
