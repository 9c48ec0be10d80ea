# guest.sh SUITE [ENTRIES GROW] - runs inside the NUMA guest (busybox sh, as root), from
# /opt/numashard, with numa_check, numactl and (when built) numashard-bench on PATH.
# SUITE names the guest's shape: 2x1, 4x1 or 2x2 (nodes x CPUs per node).
# Every step prints "### STEP <name>" and "### PASS|FAIL <name>"; the exit status is the
# number of failed steps.
suite=${1:-2x1}
entries=${2:-200000}
grow=${3:-200000}
failed=0
nodes=${suite%x*}

step() { # step NAME CMD...
  name=$1; shift
  echo "### STEP $name: $*"
  if "$@"; then echo "### PASS $name"; else echo "### FAIL $name (exit $?)"; failed=$((failed + 1)); fi
}

quiet_tty() { "$@" >/tmp/out 2>&1; rc=$?; cat /tmp/out; return $rc; }

echo "### GUEST suite=$suite kernel=$(uname -r) cpus=$(nproc) mem=$(awk '/MemTotal/ {print $2 " kB"}' /proc/meminfo)" \
  "thp=$(cat /sys/kernel/mm/transparent_hugepage/enabled 2>/dev/null || echo unknown)"
numactl --hardware | grep -v '^node distances\|^ *[0-9]*: \|^node   '

chk="numa_check --entries $entries --grow $grow"
case $suite in
  2x1) step placement $chk --expect-nodes 2 default per-node:3,1 misplace placed
       # Owner threads doing every allocation themselves (a message per op: slow under emulation).
       step delegate numa_check --entries $((entries / 8)) --grow $((grow / 8)) delegate ;;
  4x1) step placement $chk --expect-nodes 4 default per-node:1,2,3,2 misplace placed mbind-race ;;
  2x2) step placement $chk --expect-nodes 2 default per-node:1,3 mbind-race ;;
  *) echo "guest.sh: unknown suite $suite"; exit 100 ;;
esac
# The process restricted to node 1: every shard, its CPU and its memory must be on node 1.
step cpunodebind-1 numactl --cpunodebind=1 --membind=1 $chk --expect-node 1 default
# An interleaved process policy: the shards' own mbind must still bind each shard's regions.
[ "$suite" = 2x2 ] || step interleave-all numactl --interleave=all $chk default

# The benchmark CLI, right and deliberately wrong placement (emulated timings: indicative only).
if [ "$suite" = 2x1 ] && command -v numashard-bench >/dev/null; then
  for mode in default misplace; do
    flag=; [ $mode = misplace ] && flag=--misplace-memory
    # Through a file: on the console (a tty) the progress bar would flood the output.
    # shellcheck disable=SC2046 # bench-args holds a word list on purpose
    step "bench-$mode" quiet_tty numashard-bench $(cat bench-args 2>/dev/null) $flag
  done
fi
echo "### DONE suite=$suite failed=$failed"
exit $failed
