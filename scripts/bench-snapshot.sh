#!/usr/bin/env bash
# The snapshot benchmark (issue 16), all peers in one run: numashard's save
# and load of a map against the disk's sequential bandwidth (dd O_DIRECT),
# Redis restarting from its RDB of the same keys (redis-server from Debian's
# package, on 127.0.0.1, started and stopped by the benchmark), and
# fastcache's SaveToFile / LoadFromFile in Go (bench/fastcache-snapshot) on
# the same count and sizes; on the work disk and on tmpfs.
#   scripts/bench-snapshot.sh [entries (default 10000000 = LARGE)] [out dir (default target/bench-results/snapshot)]
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:/usr/local/go/bin:$PATH"
entries=${1:-10000000}
out=${2:-target/bench-results/snapshot}
mkdir -p "$out"
NUMASHARD_SETUP_VM=0 NUMASHARD_SETUP_ARM64=0 ./scripts/setup.sh
if ! command -v redis-server >/dev/null; then
  echo "bench-snapshot: installing redis-server"
  SUDO=""
  [ "$(id -u)" = 0 ] || SUDO=sudo
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq redis-server >/dev/null
fi
cargo build --quiet --release -p numashard-bench
(cd bench/fastcache-snapshot && go build -o ../../target/fastcache-snapshot .)
shm=/dev/shm/numashard-snapshot-bench-$$
trap 'rm -rf "$shm" "$shm-fc" target/snapshot-bench target/fastcache-snapshot-data' EXIT
{
  echo "date: $(date -u +%FT%TZ)  load average: $(cut -d' ' -f1-3 /proc/loadavg)  $(redis-server --version | cut -d' ' -f1-3)"
  echo "== disk ($(df -T target | awk 'NR==2 {print $2}'))"
  ./target/release/numashard-bench --engines numashard --workload snapshot --table "$entries" --redis \
    --snapshot-dir target/snapshot-bench --out-dir "$out" --name disk --no-plot | sed -n '/^snapshot:/,/^table/p' | grep -v '^table'
  echo "fastcache (disk): $(./target/fastcache-snapshot -entries "$entries" -dir target/fastcache-snapshot-data)"
  echo "== tmpfs"
  ./target/release/numashard-bench --engines numashard --workload snapshot --table "$entries" \
    --snapshot-dir "$shm" --out-dir "$out" --name tmpfs --no-plot | sed -n '/^snapshot:/,/^table/p' | grep -v '^table'
  echo "fastcache (tmpfs): $(./target/fastcache-snapshot -entries "$entries" -dir "$shm-fc")"
  echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
} | tee "$out/snapshot.txt"
