#!/usr/bin/env bash
# LeakSanitizer against the engine's states at exit (ffi/fuzz/lsan-shapes):
# builds the probe under AddressSanitizer and runs every shape with the maps
# left open at exit and closed first, the controls, and a stress of
# recoverable checks taken while owner threads work. Fails when an engine
# shape reports a leak or a control does not behave. Not part of
# scripts/test.sh (a second ASan build of the engine); the fuzz part runs
# a canary instead. See ffi/fuzz/README.md.
#   NUMASHARD_LSAN_REV=<commit>  the engine of that commit (git archive into
#                                a temporary directory); default: this tree
#   NUMASHARD_LSAN_STRESS=N      recoverable checks in stress-check (default 2000)
#   NUMASHARD_LSAN_SCAN=1        also scan the engine's live regions for
#                                pointers into the heap (patches a copy of
#                                core/src/numa.rs with lsan-shapes/engine-scan.rs)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
export PATH="$HOME/.cargo/bin:$PATH"
export RUSTC_BOOTSTRAP=1
unset NUMASHARD_TOPOLOGY NUMASHARD_TOPOLOGY_XML HWLOC_SYNTHETIC HWLOC_XMLFILE
rev=${NUMASHARD_LSAN_REV:-}
stress=${NUMASHARD_LSAN_STRESS:-2000}
scan=${NUMASHARD_LSAN_SCAN:-0}
probe_src="$root/ffi/fuzz/lsan-shapes"

label=${rev:-worktree}
[ "$scan" = 1 ] && label="$label-scan"
out="$root/target/lsan-shapes/$label"
mkdir -p "$out/logs"
rm -f "$out"/logs/*.log

# The engine: this tree, or a copy (another commit, or the region scan's patch).
engine="$root"
tmp=""
if [ -n "$rev" ] || [ "$scan" = 1 ]; then
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  if [ -n "$rev" ]; then
    git -C "$root" archive "$rev" | tar -x -C "$tmp"
  else
    (cd "$root" && git ls-files -z --cached --others --exclude-standard | tar --null -T - -c) | tar -x -C "$tmp"
  fi
  engine="$tmp"
  mkdir -p "$engine/ffi/fuzz/lsan-shapes"
  cp -r "$probe_src/Cargo.toml" "$probe_src/Cargo.lock" "$probe_src/engine-scan.rs" "$probe_src/src" \
    "$engine/ffi/fuzz/lsan-shapes/"
  if [ "$scan" = 1 ]; then
    numa="$engine/core/src/numa.rs"
    [ "$(grep -c 'let mut region = NodeRegion { ptr, len, node, bound: false };' "$numa")" = 1 ] &&
      [ "$(grep -c '^    fn drop(&mut self) {$' "$numa")" = 1 ] || {
      echo "lsan-shapes: core/src/numa.rs no longer has the lines the scan hooks into"
      exit 1
    }
    sed -i 's/^\( *\)let mut region = NodeRegion { ptr, len, node, bound: false };$/&\n\1lsan_scan::register(addr as usize, len);/' "$numa"
    sed -i 's/^    fn drop(&mut self) {$/&\n        lsan_scan::unregister(self.ptr.as_ptr() as usize);/' "$numa"
    cat "$probe_src/engine-scan.rs" >>"$numa"
  fi
fi

features=()
[ "$scan" = 1 ] && features=(--features scan)
echo "lsan-shapes: building the probe (ASan) against the engine of ${rev:-this tree}${tmp:+ (a copy)}"
RUSTFLAGS="-Zsanitizer=address -Cdebug-assertions" CARGO_TARGET_DIR="$out/target" \
  cargo build --quiet --release --target x86_64-unknown-linux-gnu \
  --manifest-path "$engine/ffi/fuzz/lsan-shapes/Cargo.toml" "${features[@]}"
bin="$out/target/x86_64-unknown-linux-gnu/release/lsan-shapes"

failed=0
# run SHAPE MODE N WANT(clean|leak)
run() {
  local log="$out/logs/$1-$2-$3.log" got
  timeout 900 "$bin" "$1" "$2" "$3" >"$log" 2>&1 || true
  if grep -q 'ERROR: LeakSanitizer: detected memory leaks' "$log"; then got=leak; else got=clean; fi
  if ! grep -q "^lsan-shapes: $1 $3: exit with" "$log"; then got="did not finish"; fi
  local extra
  extra=$(sed -n 's/^lsan-shapes: \(stress-check: .*\|scan: .*\|tid-reuse: .*\|thread-reuse: thread .* got.*\)/\1/p' "$log" | tr '\n' ' ')
  local summary
  summary=$(sed -n 's/^SUMMARY: AddressSanitizer: //p' "$log")
  printf '%-13s %-5s %7s  %-5s (want %s) %s%s\n' "$1" "$2" "$3" "$got" "$4" "${summary:+[$summary] }" "$extra"
  if [ "$got" != "$4" ]; then failed=$((failed + 1)); fi
  if [ "$1" = stress-check ] && ! grep -q ", 0 reported a leak$" "$log"; then failed=$((failed + 1)); fi
  if [ "$scan" = 1 ] && [[ "$1" != region-* && "$1" != owned-leak && "$1" != tid-reuse && "$1" != thread-reuse ]]; then
    local want_hits=0
    [ "$1" = value-ptr ] && want_hits=1
    grep -q "words point into a heap block" "$log" || { echo "  no scan line"; failed=$((failed + 1)); }
    if ! grep -q " $want_hits words point into a heap block$" "$log"; then
      echo "  the scan found a count other than $want_hits"
      failed=$((failed + 1))
    fi
  fi
}

for mode in open close; do
  for spec in "empty 0" "filled 20" "filled 200000" "retired 20" "retired 200000" "replaced 2000" \
    "ttl 5000" "iter 1000" "batch 1000" "busy 200" "stress-check $stress"; do
    # shellcheck disable=SC2086
    run ${spec% *} "$mode" ${spec#* } clean
  done
done
# The cause of the 12,704-byte report: owner threads with reused thread ids.
# Reaching a reused id takes about pid_max threads: skipped where that is large.
pid_max=$(cat /proc/sys/kernel/pid_max)
if [ "$pid_max" -le 65536 ]; then
  run thread-reuse open 0 leak
  run tid-reuse open 0 leak
  run tid-reuse close 0 clean
else
  echo "thread-reuse, tid-reuse: skipped (pid_max $pid_max: thread ids take too long to come back)"
fi
run owned-leak open 20 leak
run owned-leak close 20 leak
run region-only open 0 leak
run region-root open 0 clean
[ "$scan" = 1 ] && run value-ptr open 0 clean
echo "--- logs: ${out#"$root"/}/logs/"
if [ "$failed" -ne 0 ]; then
  echo "lsan-shapes: $failed unexpected result(s)"
  exit 1
fi
echo "lsan-shapes: every engine shape clean, open or closed at exit; every control as expected"
