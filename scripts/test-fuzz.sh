#!/usr/bin/env bash
# Fuzzes the C ABI: random call sequences with arbitrary bytes through the
# extern "C" functions, checked against a model map (ffi/fuzz/fuzz_targets/
# c_api.rs), with cargo fuzz (libFuzzer) and AddressSanitizer +
# LeakSanitizer. Installs cargo-fuzz when missing; runs on the stable
# toolchain (RUSTC_BOOTSTRAP=1), falling back to --sanitizer none when the
# ASan runtime is missing.
#   NUMASHARD_FUZZ_SECONDS (default 60): how long to fuzz.
# Then fuzzes snapshot loading the same way: hostile but checksummed
# snapshots through ns_map_open_snapshot (ffi/fuzz/fuzz_targets/snapshot.rs),
# its log and failing inputs in target/fuzz-artifacts/snapshot-<UTC time>/.
#   NUMASHARD_FUZZ_SNAPSHOT_SECONDS (default 30): how long.
# Called by scripts/test.sh; runs alone too.
#
# Every run keeps its whole log and any failing input in
# target/fuzz-artifacts/c_api-<UTC time>/ (printed at the end):
#   fuzz.log                 libFuzzer's and the sanitizers' whole output
#   crash-* leak-* oom-* timeout-*   the input that failed, to replay with
#     (cd ffi && RUSTC_BOOTSTRAP=1 cargo fuzz run c_api <file>)
#   leak-window/             when a periodic leak check (every
#     NUMASHARD_FUZZ_LEAK_CHECK_EVERY inputs, default 4096, maps closed and
#     freed first) found lost memory:
#     the inputs run since the check before, in order
#   canary/                  the self-check: a run that leaks on purpose,
#     which the periodic check must catch (NUMASHARD_FUZZ_CANARY=0 skips it)
# How to read a finding: ffi/fuzz/README.md.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root/ffi"
export PATH="$HOME/.cargo/bin:$PATH"
export RUSTC_BOOTSTRAP=1
CARGO_FUZZ_VERSION=0.13.2
secs=${NUMASHARD_FUZZ_SECONDS:-60}
# The suites place maps on the real machine unless they ask otherwise.
unset NUMASHARD_TOPOLOGY NUMASHARD_TOPOLOGY_XML HWLOC_SYNTHETIC HWLOC_XMLFILE

# new_run TARGET: a fresh directory for TARGET's log and failing inputs;
# sets art (its path), log (the log's) and shown (art relative to the root).
new_run() {
  art="$root/target/fuzz-artifacts/$1-$(date -u +%Y%m%dT%H%M%SZ)"
  mkdir -p "$art"
  log="$art/fuzz.log"
  shown=${art#"$root"/}
}
# read_stats: libFuzzer's final stats in $log; sets runs, rate and rss.
read_stats() {
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
  rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log")
  rss=$(sed -n 's/^stat::peak_rss_mb: *//p' "$log")
}
# show_report: $log from its first error line to the sanitizer's summary.
show_report() {
  awk '/==[0-9]+== ?(ERROR|WARNING)|ERROR: libFuzzer|panicked at|INFO: a leak has been found/ { on = 1 }
       on { print; if (++n >= 200 || /^SUMMARY:/) exit }' "$log"
}

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

mkdir -p fuzz/corpus/c_api
new_run c_api
echo "fuzz c_api: $secs s, whole log and failing inputs in $shown/"
t0=$SECONDS
# -rss_limit_mb: the maps keep their threads and memory across inputs.
# -artifact_prefix (after cargo fuzz's own, so it wins): failing inputs
# land beside the log.
status=0
NUMASHARD_FUZZ_ARTIFACTS="$art" cargo fuzz run --sanitizer "$sanitizer" c_api fuzz/corpus/c_api -- \
  -max_total_time="$secs" -rss_limit_mb=4096 -print_final_stats=1 \
  -artifact_prefix="$art/" >"$log" 2>&1 || status=$?
took=$((SECONDS - t0))
read_stats
inputs=$(find "$art" -maxdepth 1 -type f ! -name fuzz.log | sort)

# With ASan the target closes and frees its maps at exit, before
# LeakSanitizer's exit check (see c_api.rs); a run without that line
# ended before the check could be exact.
exit_check="no sanitizer"
if [ "$sanitizer" = address ]; then
  if grep -q '^c_api: closed and freed [0-9]* open map(s) before the exit leak check' "$log"; then
    checks=$(sed -n 's/^c_api: \([0-9]*\) periodic leak check(s).*/\1/p' "$log")
    exit_check="LeakSanitizer: ${checks:-?} periodic check(s) and at exit (every map closed and freed first), all clean"
  elif [ "$status" -eq 0 ]; then
    echo "test-fuzz: the run ended without closing its maps before the exit leak check"
    status=1
  fi
fi

if [ "$status" -ne 0 ]; then
  echo "test-fuzz: the fuzzer failed (exit status $status) after $took s, ${runs:-?} executions"
  show_report
  echo "--- whole log: $shown/fuzz.log ($(wc -l <"$log") lines)"
  if [ -d "$art/leak-window" ]; then
    echo "--- the inputs run since the last clean leak check: $shown/leak-window/ ($(find "$art/leak-window" -type f | wc -l) inputs); replay:"
    echo "    (cd ffi && RUSTC_BOOTSTRAP=1 cargo fuzz run c_api ../$shown/leak-window -- -runs=0)"
  fi
  if [ -n "$inputs" ]; then
    for f in $inputs; do
      echo "--- failing input: ${f#"$root"/} ($(wc -c <"$f") bytes); replay:"
      echo "    (cd ffi && RUSTC_BOOTSTRAP=1 cargo fuzz run c_api ../$shown/${f##*/})"
    done
  else
    echo "--- no single input failed: a report at exit (e.g. a leak) comes from the whole run; see ffi/fuzz/README.md"
  fi
  echo "fuzz: 0 passed, 1 failed"
  exit 1
fi
grep -E '^(#[0-9]+ +(INITED|DONE)|Done [0-9]+ runs)' "$log" | tail -n 3 || true

# The self-check: the target drops the values ns_get_owned returns without
# freeing them (a real leak of the library's memory), from a seed input that
# stores a key and reads it back owned 20 times; the periodic check must
# report it, with the stack through Fuzz::owned, and keep the window.
if [ "$sanitizer" = address ] && [ "${NUMASHARD_FUZZ_CANARY:-1}" != 0 ]; then
  canary="$art/canary"
  mkdir -p "$canary/corpus"
  { printf '\x00\x00\x01\x09\x41\x00'; for _ in $(seq 20); do printf '\x07\x01'; done; } >"$canary/corpus/seed"
  cstatus=0
  NUMASHARD_FUZZ_CANARY_LEAK=1 NUMASHARD_FUZZ_LEAK_CHECK_EVERY=64 NUMASHARD_FUZZ_ARTIFACTS="$canary" \
    cargo fuzz run --sanitizer address c_api "$canary/corpus" -- -runs=500 -seed=1 -detect_leaks=0 \
    -artifact_prefix="$canary/" >"$canary/fuzz.log" 2>&1 || cstatus=$?
  if [ "$cstatus" -ne 0 ] && grep -q 'ERROR: LeakSanitizer: detected memory leaks' "$canary/fuzz.log" &&
    grep -q 'in <c_api::Fuzz>::owned' "$canary/fuzz.log" &&
    grep -q '^c_api: LeakSanitizer found memory lost within the last 64 inputs' "$canary/fuzz.log" &&
    [ "$(find "$canary/leak-window" -type f 2>/dev/null | wc -l)" -eq 64 ]; then
    echo "fuzz canary: a deliberate leak was reported by the periodic check, with its stack and its 64 inputs"
  else
    echo "test-fuzz: the periodic leak check missed a deliberate leak (exit status $cstatus); see ${canary#"$root"/}/fuzz.log"
    echo "fuzz: 0 passed, 1 failed"
    exit 1
  fi
fi
echo "fuzz c_api ($sanitizer sanitizer): ${runs:-?} executions in $took s, ${rate:-?} exec/s, peak RSS ${rss:-?} MB," \
  "corpus $(find fuzz/corpus/c_api -type f | wc -l) inputs; $exit_check"
echo "--- whole log: $shown/fuzz.log"

# Snapshot loading: each input is a program that mutates a small saved
# snapshot (fields set to lies or extremes, entries, blocks and files
# dropped, duplicated, moved; bytes changed), then fixes every crc32c so the
# content reaches the parser. The target prints how often each status and
# reason occurred ("snapshot: ..." lines in the log); a run that never loaded
# a snapshot did not get past the checksums, and fails.
cargo fuzz build --sanitizer "$sanitizer" snapshot
mkdir -p fuzz/corpus/snapshot
ssecs=${NUMASHARD_FUZZ_SNAPSHOT_SECONDS:-30}
new_run snapshot
echo "fuzz snapshot: $ssecs s, whole log and failing inputs in $shown/"
t0=$SECONDS
# -max_len/-len_control=0: programs of several operations from the start.
# -timeout: a load that takes a minute hangs. -detect_leaks=0: a map loaded
# and freed leaves its small handle, kept on purpose (ffi/src/handle.rs),
# so libFuzzer would check its first 1,000 such inputs for leaks at a
# quarter of the speed; LeakSanitizer's exit check still runs (no map is
# open then).
status=0
NUMASHARD_FUZZ_ARTIFACTS="$art" cargo fuzz run --sanitizer "$sanitizer" snapshot fuzz/corpus/snapshot -- \
  -max_total_time="$ssecs" -rss_limit_mb=4096 -timeout=60 -max_len=512 -len_control=0 -detect_leaks=0 \
  -print_final_stats=1 -artifact_prefix="$art/" >"$log" 2>&1 || status=$?
took=$((SECONDS - t0))
read_stats
counts=$(grep '^snapshot: [0-9]* inputs' "$log" | tail -n 1 || true)
if [ "$status" -eq 0 ] && ! [[ "$counts" =~ inputs,\ [1-9][0-9]*\ loaded ]]; then
  echo "test-fuzz: no snapshot was loaded (${counts:-no counts}): the mutations stop at the checksums"
  status=1
fi
if [ "$status" -ne 0 ]; then
  echo "test-fuzz: the snapshot fuzzer failed (exit status $status) after $took s, ${runs:-?} executions"
  show_report
  echo "--- whole log: $shown/fuzz.log ($(wc -l <"$log") lines)"
  for f in $(find "$art" -maxdepth 1 -type f \( -name 'crash-*' -o -name 'leak-*' -o -name 'oom-*' -o -name 'timeout-*' \) | sort); do
    echo "--- failing input: ${f#"$root"/} ($(wc -c <"$f") bytes); replay (NUMASHARD_FUZZ_SNAPSHOT_KEEP=<dir> also writes its snapshot there):"
    echo "    (cd ffi && RUSTC_BOOTSTRAP=1 cargo fuzz run snapshot ../$shown/${f##*/})"
  done
  echo "fuzz: 1 passed, 1 failed"
  exit 1
fi
echo "fuzz snapshot ($sanitizer sanitizer): ${runs:-?} executions in $took s, ${rate:-?} exec/s, peak RSS ${rss:-?} MB," \
  "corpus $(find fuzz/corpus/snapshot -type f | wc -l) inputs"
echo "${counts#snapshot: }"
echo "--- whole log: $shown/fuzz.log"
echo "fuzz: 2 passed, 0 failed"
