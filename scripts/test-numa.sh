#!/usr/bin/env bash
# NUMA locality checks (run by scripts/test.sh, or alone):
#  1. on the host, synthetic hwloc topologies: every shard must report
#     binding_applied = false (binding is impossible there), and the host's own
#     topology is reported (bindings it claims are checked);
#  2. in QEMU guests with real ACPI NUMA topologies (2 nodes x 1 CPU, 4 x 1,
#     2 x 2), bench/numa-vm/guest.sh runs the numa_check example under several
#     configurations and numactl policies, and in the 2-node guest the
#     benchmark CLI with right and wrong memory placement.
# Any violation fails the script. Logs go to target/numa-vm/.
#
#   scripts/test-numa.sh            run everything
#   scripts/test-numa.sh --record   also rewrite bench/results/numa-vm.md from this run
# NUMASHARD_NUMA_SUITES="2x1 4x1 2x2" selects guests; NUMASHARD_NUMA_ENTRIES /
# NUMASHARD_NUMA_GROW size the load (200000 each); NUMASHARD_NUMA_TIMEOUT is
# the per-guest limit in seconds (420); NUMASHARD_NUMA_MEM_MB the guest's
# memory, split over its nodes (4096: with 2048 one run of the 4-node guest,
# whose /tmp holds the warm-restart phase's 171 MB snapshot in RAM, timed
# out at 300 s). The off-node pages once seen after snapshot loads were not
# a matter of memory: bench/numa-vm/README.md, "Off-node pages after a
# snapshot load".
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"
# The real machine is the subject here: no synthetic topology from the environment.
unset NUMASHARD_TOPOLOGY NUMASHARD_TOPOLOGY_XML
OUT=target/numa-vm
VM=bench/numa-vm/vm.sh
suites=${NUMASHARD_NUMA_SUITES:-2x1 4x1 2x2}
entries=${NUMASHARD_NUMA_ENTRIES:-200000}
grow=${NUMASHARD_NUMA_GROW:-200000}
guest_timeout=${NUMASHARD_NUMA_TIMEOUT:-420}
guest_mem=${NUMASHARD_NUMA_MEM_MB:-4096}
record=0
[ "${1:-}" = --record ] && record=1
mkdir -p "$OUT"
rm -f "$OUT"/*.log
start=$SECONDS
failures=()
note() { printf '%s\n' "--- $*"; }

note "build (release): numa_check, numashard-bench"
cargo build --release --quiet -p numashard --example numa_check
check=target/release/examples/numa_check
bins=(--bin "$check" --bin "$(command -v numactl)")
bench=
if cargo build --release --quiet -p numashard-bench --bin numashard-bench 2>"$OUT/bench-build.log" &&
  target/release/numashard-bench --help 2>/dev/null | grep -q -- --misplace-memory; then
  bench=target/release/numashard-bench
  bins+=(--bin "$bench")
else
  note "numashard-bench did not build or has no --misplace-memory: the guest bench runs are skipped"
  grep -m 5 -E '^error' "$OUT/bench-build.log" || true
fi

cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//' || true)
echo "${cpu:-unknown CPU} · $(nproc) CPUs · kernel $(uname -r) · KVM $([ -w /dev/kvm ] && grep -qwE 'vmx|svm' /proc/cpuinfo && echo yes || echo 'no (TCG emulation)')" >"$OUT/host-info"
note "host: synthetic topologies must report binding_applied=false"
if ! "$check" --entries 50000 --grow 50000 \
  "synthetic:pack:2 [numa] core:2 pu:1" "synthetic:pack:4 [numa] core:1 pu:1" \
  "synthetic:pack:2 [numa] core:2 pu:2" >"$OUT/host-synthetic.log" 2>&1; then
  cat "$OUT/host-synthetic.log"; failures+=(host-synthetic)
fi
tail -n 1 "$OUT/host-synthetic.log"
note "host: this machine's own topology (binding may be refused in containers; claims are checked)"
if ! "$check" --lenient --entries 50000 --grow 50000 default >"$OUT/host.log" 2>&1; then
  cat "$OUT/host.log"; failures+=(host)
fi
grep -E '^  topology|/grow: entries|numa_check: ' "$OUT/host.log" || true

note "guest initramfs"
# The bench CLI's arguments in the guest: a short run, two threads (one per node).
echo "${NUMASHARD_NUMA_BENCH_ARGS:---engines numashard,dashmap --workload read-only,update-50 --table small \
--threads 2 --batch single,64 --duration 1 --no-plot --out-dir /tmp/bench}" >"$OUT/bench-args"
"$VM" initrd "$OUT/initrd.cpio" "${bins[@]}" --file "$OUT/bench-args" bench/numa-vm/guest.sh

for s in $suites; do
  nodes=${s%x*} cpn=${s#*x}
  note "guest $s: $nodes NUMA nodes x $cpn CPU(s), $((guest_mem / 1024)) GiB"
  t=$SECONDS
  rc=0
  "$VM" boot "$OUT/initrd.cpio" --nodes "$nodes" --cpus-per-node "$cpn" --mem-mb "$guest_mem" \
    --timeout "$guest_timeout" --log "$OUT/$s.log" -- "$s" "$entries" "$grow" |
    grep --line-buffered -E '^###|^numa_check: |VIOLATION|^  - |growth:|scenario .* done|^settle control|^  settle: |^    (numa_maps[,:]|node [0-9]+ MemFree|vmstat)' || rc=${PIPESTATUS[0]}
  note "guest $s: exit $rc in $((SECONDS - t)) s"
  [ "$rc" = 0 ] || failures+=("guest-$s")
done

if [ "$record" = 1 ]; then
  bench/numa-vm/report.sh "$OUT" >bench/results/numa-vm.md
  note "wrote bench/results/numa-vm.md"
fi
note "NUMA checks took $((SECONDS - start)) s"
if [ ${#failures[@]} -gt 0 ]; then
  echo "NUMA checks FAILED: ${failures[*]} (logs in $OUT/)"
  exit 1
fi
echo "NUMA checks passed: ${suites// /, } guests and host synthetic topologies"
