#!/usr/bin/env bash
# Runs the engine's unsafe building blocks under Miri, the Rust interpreter
# that detects undefined behaviour (out-of-bounds or dangling accesses,
# pointer provenance, Stacked Borrows aliasing, data races and mixed-size
# atomics): the byte copies of the lock-free reader (core/src/atomic_bytes.rs)
# and the record arena (core/src/arena.rs) with its node regions
# (core/src/numa.rs), which under cfg(miri) are zeroed heap blocks instead
# of mmap + mbind; and the Redis tier's C config reader on a C `bool` byte
# that is neither 0 nor 1 (tiers/redis/ffi/src/config.rs: read as a byte,
# never as a Rust bool). Installs the nightly toolchain's miri and rust-src
# components when missing. Miri runs ~100x slower than native code, so the
# tests shrink their loops under cfg(miri); about a minute here.
#   NUMASHARD_MIRI_FILTER: test-name filters (default: the list below).
# Called by scripts/test.sh (part `miri`); runs alone too.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"

if ! rustup toolchain list | grep -q '^nightly'; then
  echo "test-miri: installing the nightly toolchain"
  rustup toolchain install nightly --profile minimal
fi
installed=$(rustup component list --toolchain nightly --installed)
if ! grep -q '^miri' <<<"$installed" || ! grep -q '^rust-src' <<<"$installed"; then
  echo "test-miri: installing miri and rust-src for nightly"
  rustup component add miri rust-src --toolchain nightly
fi
# Builds Miri's standard library once (cached in the user's cache directory).
cargo +nightly miri setup >/dev/null

# shellcheck disable=SC2206
filters=(${NUMASHARD_MIRI_FILTER:-arena:: atomic_bytes:: numa::tests::region_is_zeroed numa::tests::empty_region})
t0=$SECONDS
cargo +nightly miri test -p numashard --lib -- "${filters[@]}"
cargo +nightly miri test -p numashard-redis-ffi --lib -- config::tests
echo "miri: ${filters[*]} config::tests (numashard-redis-ffi) in $((SECONDS - t0)) s"
