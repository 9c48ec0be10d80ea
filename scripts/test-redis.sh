#!/usr/bin/env bash
# The Redis near-cache tier (tiers/redis) against real redis-server processes
# from Debian's package (installed by scripts/setup.sh), each started on a
# free 127.0.0.1 port and killed when its test ends:
#  - Rust (cargo test -p numashard-redis): read/write/delete-through, TTLs,
#    coherence of two near caches under a writer (thousands of rounds),
#    server kill and restart, dropped connections, bad input and server
#    errors, a three-master Cluster and a slot migrated under it (MOVED);
#  - the C ABI (libnumashard_redis, include/numashard_redis.h): header
#    freshness, exports, the C suite under ASan+UBSan against servers this
#    script starts (redis_start / redis_stop_all below);
#  - the Go package bindings/go/nearcache over it: -race, two caches and a
#    writer, and a child process as a second reader.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
export PATH="$HOME/.cargo/bin:/usr/local/go/bin:$PATH"
command -v redis-server >/dev/null || { echo "redis-server missing: run scripts/setup.sh" >&2; exit 1; }
command -v redis-cli >/dev/null || { echo "redis-cli missing: run scripts/setup.sh" >&2; exit 1; }
step() { printf -- '--- redis: %s\n' "$*"; }

# Servers started by this script, killed on exit whatever happens.
pids=()
redis_stop_all() {
  local p
  for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
  pids=()
}
trap redis_stop_all EXIT
# A port nothing answers on (checked by connecting; 20000-29999).
free_port() {
  local p
  while :; do
    p=$((20000 + RANDOM % 10000))
    (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null || { echo "$p"; return; }
  done
}
# redis_start VAR [redis-server args...]: starts a server on a free port,
# waits until it answers PING and stores the port in VAR.
redis_start() {
  local _var=$1 _port _try _i
  shift
  for _try in 1 2 3; do
    _port=$(free_port)
    redis-server --port "$_port" --bind 127.0.0.1 --save "" --appendonly no "$@" >/dev/null 2>&1 &
    pids+=($!)
    for _i in $(seq 200); do
      if redis-cli -p "$_port" ping 2>/dev/null | grep -q PONG; then
        printf -v "$_var" '%s' "$_port"
        return 0
      fi
      kill -0 "${pids[-1]}" 2>/dev/null || break # lost the port to someone else: try another
      sleep 0.05
    done
  done
  echo "redis-server did not start" >&2
  return 1
}

step "Rust: the tier's tests"
cargo test --quiet -p numashard-redis

step "C ABI: build libnumashard_redis (.so, .a)"
cargo build --quiet --release -p numashard-redis-ffi
test -f target/release/libnumashard_redis.so && test -f target/release/libnumashard_redis.a

step "C ABI: header is fresh, exports = the header's functions, every one tested"
cbindgen --version | grep -c '0\.29\.4' >/dev/null || { echo "cbindgen 0.29.4 required (scripts/setup.sh)"; exit 1; }
if ! cbindgen --quiet --config tiers/redis/ffi/cbindgen.toml --output include/numashard_redis.h --verify tiers/redis/ffi; then
  echo "include/numashard_redis.h is stale: regenerate with"
  echo "  cbindgen --config tiers/redis/ffi/cbindgen.toml --output include/numashard_redis.h tiers/redis/ffi"
  exit 1
fi
for std in c99 c11; do
  echo '#include "numashard_redis.h"' | cc -std=$std -Wall -Wextra -Werror -pedantic -Iinclude -x c -fsyntax-only -
done
declared=$(grep -oE '^(const )?[a-z_0-9]+ \*?nsr_[a-z_]+\(' include/numashard_redis.h | sed -E 's/.*(nsr_[a-z_]+)\($/\1/' | sort)
exported=$(nm -D --defined-only target/release/libnumashard_redis.so | awk '$3 ~ /^nsr_/ {print $3}' | sort)
if [ "$declared" != "$exported" ]; then
  echo "libnumashard_redis.so's nsr_ exports differ from the header's functions:"
  diff <(echo "$declared") <(echo "$exported") || true
  exit 1
fi
# No ns_ symbol of libnumashard leaks out: both libraries may be linked into one program.
if nm -D --defined-only target/release/libnumashard_redis.so | awk '{print $3}' | grep -q '^ns_'; then
  echo "libnumashard_redis.so exports ns_ symbols"; exit 1
fi
for f in $declared; do
  grep -c "$f(" tiers/redis/ffi/tests/c/test_near.c >/dev/null || { echo "$f is not called by test_near.c"; exit 1; }
done
echo "exports: $(echo "$declared" | wc -l) passed, 0 failed"

step "C ABI: the C suite under ASan + UBSan, against real servers"
out=target/c-tests
mkdir -p "$out"
cc -std=c99 -Wall -Wextra -Werror -pedantic -g -O1 -Iinclude -fsanitize=address,undefined \
  -fno-sanitize-recover=undefined -fno-omit-frame-pointer tiers/redis/ffi/tests/c/test_near.c -pthread \
  -Ltarget/release -Wl,-rpath,"$root/target/release" -lnumashard_redis -o "$out/test_near_asan"
redis_start port
redis_start plain_port --rename-command HELLO ""
redis-cli -p "$port" rpush nsr:list a >/dev/null
ASAN_OPTIONS=detect_leaks=1:halt_on_error=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
  "$out/test_near_asan" "$port" "$plain_port" "$(free_port)"
# Every heartbeat and sync key of the tier was deleted on close.
left=$(redis-cli -p "$port" --scan --pattern '__numashard_near:*')
test -z "$left" || { echo "$left"; echo "the tier's keys were left behind"; exit 1; }
redis_stop_all

step "Go: bindings/go/nearcache (working tree's library: -race, cgocheck2; then the prebuilt one beside package numashard)"
redis_start port
(cd bindings/go/nearcache && export NUMASHARD_REDIS_ADDR="127.0.0.1:$port" &&
  GOEXPERIMENT=cgocheck2 go test -tags numashard_dev -race -count=1 -timeout 5m . &&
  go test -count=1 -timeout 5m .)
redis_stop_all
echo "redis: all passed"
