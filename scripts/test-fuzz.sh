#!/usr/bin/env bash
# Fuzzes the C ABI: random call sequences with arbitrary bytes through the
# extern "C" functions, checked against a model map (ffi/fuzz/fuzz_targets/
# c_api.rs), with cargo fuzz (libFuzzer) and AddressSanitizer. Installs
# cargo-fuzz when missing; runs on the stable toolchain (RUSTC_BOOTSTRAP=1),
# falling back to --sanitizer none when the ASan runtime is missing.
#   NUMASHARD_FUZZ_SECONDS (default 60): how long to fuzz.
# Called by scripts/test.sh; runs alone too. A crash leaves its input in
# ffi/fuzz/artifacts/c_api/; replay it with
#   (cd ffi && RUSTC_BOOTSTRAP=1 cargo fuzz run c_api fuzz/artifacts/c_api/<file>)
set -euo pipefail
cd "$(dirname "$0")/../ffi"
export PATH="$HOME/.cargo/bin:$PATH"
export RUSTC_BOOTSTRAP=1
CARGO_FUZZ_VERSION=0.13.2
secs=${NUMASHARD_FUZZ_SECONDS:-60}
# The suites place maps on the real machine unless they ask otherwise.
unset NUMASHARD_TOPOLOGY NUMASHARD_TOPOLOGY_XML HWLOC_SYNTHETIC HWLOC_XMLFILE

if ! cargo fuzz --version 2>/dev/null | grep -c "$CARGO_FUZZ_VERSION" >/dev/null; then
  echo "test-fuzz: installing cargo-fuzz $CARGO_FUZZ_VERSION"
  cargo install --quiet --locked cargo-fuzz --version "$CARGO_FUZZ_VERSION"
fi

sanitizer=address
if ! cargo fuzz build --sanitizer "$sanitizer" c_api; then
  echo "test-fuzz: the ASan build failed; fuzzing without a sanitizer"
  sanitizer=none
  cargo fuzz build --sanitizer "$sanitizer" c_api
fi

mkdir -p fuzz/corpus/c_api fuzz/artifacts/c_api
log=$(mktemp)
trap 'rm -f "$log"' EXIT
# -rss_limit_mb: the maps keep their threads and memory across inputs.
if ! cargo fuzz run --sanitizer "$sanitizer" c_api fuzz/corpus/c_api -- \
  -max_total_time="$secs" -rss_limit_mb=4096 -print_final_stats=1 >"$log" 2>&1; then
  tail -n 60 "$log"
  echo "fuzz: 0 passed, 1 failed"
  exit 1
fi
grep -E '^(#[0-9]+ +(INITED|DONE)|Done [0-9]+ runs)' "$log" | tail -n 3 || true
runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log")
echo "fuzz c_api ($sanitizer sanitizer): ${runs:-?} executions in ${secs} s, ${rate:-?} exec/s, corpus $(ls fuzz/corpus/c_api | wc -l) inputs"
echo "fuzz: 1 passed, 0 failed"
