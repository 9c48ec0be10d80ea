#!/usr/bin/env bash
# Tests the Go binding (bindings/go): builds the Rust library, then runs the
# Go tests (against the library built from this working tree: -tags
# numashard_dev) under the race detector with GOEXPERIMENT=cgocheck2, once
# more with GOGC=1 (to flush out a missing runtime.KeepAlive or pin), the Go
# toolchain's own sync.Map tests against the binding, short differential
# fuzz runs (plain calls, TTL calls), the shared-library build, a
# one-iteration smoke run of the benchmarks (their own module), the tests
# of the hit-ratio harness (bench/cmd/hitratio) and of the goals table
# (bench/cmd/goals, bench/goals.sh on a tiny table), the
# examples (checking what they print), the build failures a user may meet
# (no cgo), the prebuilt library's check
# (scripts/go-prebuilt.sh check, both platforms), the tests for
# linux/arm64 under qemu-user, and the module tried as a new user would:
# `go get` from a clone of this commit, outside the repository, with no Rust
# toolchain (scripts/go-newuser/).
# NUMASHARD_GO_FUZZTIME sets the fuzz budget (default 20000x executions,
# ~15-30 s here). A count, not a duration: with a duration, Go 1.26's fuzz
# coordinator can fail a clean run with "context deadline exceeded" at the
# deadline when the machine is loaded (golang/go#75804, fixed in Go 1.27).
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:/usr/local/go/bin:$PATH"
section() { printf '\n--- go: %s ---\n' "$*"; }

section "build libnumashard and libnumashard_redis (release)"
# libnumashard_redis: package nearcache compiles against it (vet); its tests
# need a redis-server and run in scripts/test-redis.sh.
cargo build --release --quiet -p numashard-ffi -p numashard-redis-ffi

section "prebuilt library of the Go module: built from this commit's sources"
./scripts/go-prebuilt.sh check

root="$PWD"
cd bindings/go
# The repository's own tests link the library of this working tree.
export GOFLAGS=-tags=numashard_dev
go version
section "vet"
test -z "$(gofmt -l .)" || { gofmt -l .; echo "gofmt: files above need formatting"; exit 1; }
go vet ./...
(cd bench && go vet ./...)
# go doc shows no cgo internals (C.xxx) of the package.
if go doc -all . | grep -n '\bC\.'; then echo "go doc shows cgo names (above)"; exit 1; fi
# The module itself requires nothing: benchmark peers live in bench/'s module.
if grep -q '^require' go.mod; then echo "bindings/go/go.mod requires modules; users would get them"; exit 1; fi

section "tests: -race, GOEXPERIMENT=cgocheck2"
GOEXPERIMENT=cgocheck2 go test -race -count=1 -timeout 10m $(go list ./... | grep -v /nearcache)

section "direct reads without membarrier (shared stripes only, -race)"
NUMASHARD_NO_MEMBARRIER=1 GOEXPERIMENT=cgocheck2 go test -race -count=1 -short -run 'Direct' .

section "tests: GOGC=1"
GOGC=1 go test -count=1 -timeout 10m .

section "the Go toolchain's own sync.Map tests, against numashard"
"$root/scripts/go-synctests.sh"

section "fuzz: differential against a Go map"
go test -run '^$' -fuzz '^FuzzDifferential$' -fuzztime "${NUMASHARD_GO_FUZZTIME:-20000x}" .
# The same for the TTL calls (a model of which entries have a deadline).
go test -run '^$' -fuzz '^FuzzCacheDifferential$' -fuzztime "${NUMASHARD_GO_FUZZTIME:-20000x}" .

section "shared library via pkg-config (-tags numashard_shared)"
pcdir="$(dirname "$(../../ffi/pkgconfig.sh)")"
PKG_CONFIG_PATH="$pcdir" LD_LIBRARY_PATH="$(cd ../../target/release && pwd)" \
  go test -tags numashard_shared -count=1 -run 'TestSingleKeyOperations|TestBatch|TestVersion' .
PKG_CONFIG_PATH="$pcdir" go test -tags numashard_shared -c -o /tmp/numashard-go-shared.test .
deps="$(ldd /tmp/numashard-go-shared.test || true)"   # not piped: grep -q would SIGPIPE ldd under pipefail
if grep -q 'libnumashard\.so' <<<"$deps"; then
  echo "linked against libnumashard.so"
else
  echo "$deps"; echo "the numashard_shared build did not link libnumashard.so"; exit 1
fi
rm -f /tmp/numashard-go-shared.test

section "benchmarks: one-iteration smoke run (SMALL only)"
go test -run '^$' -bench . -benchtime 1x . >/tmp/numashard-go-bench-smoke.txt
(cd bench && NUMASHARD_BENCH_SMALL=1000 go test -run '^$' -bench . -benchtime 1x -cpu 2 . >>/tmp/numashard-go-bench-smoke.txt)
grep -c '^Benchmark' /tmp/numashard-go-bench-smoke.txt | xargs echo "benchmarks run:"

section "hit-ratio harness (bench/cmd/hitratio) and goals table (bench/cmd/goals): their tests"
(cd bench && go test -count=1 ./cmd/hitratio ./cmd/goals)
# bench/goals.sh end to end on a tiny table, one round: the table has every goal's row.
ROUNDS_SMALL=1 ROUNDS_LARGE=0 NUMASHARD_BENCH_SMALL=1000 GOALS_BENCHTIME=2000x \
  bench/goals.sh /tmp/numashard-go-goals >/tmp/numashard-go-goals.txt
for goal in 'single Load' 'Store >=' 'GetBatch of 64' 'most allocs/op'; do
  grep -q "^| $goal.*| [0-9]" /tmp/numashard-go-goals.txt || { cat /tmp/numashard-go-goals.txt; echo "goals.sh: no '$goal' row with a number"; exit 1; }
done
rm -rf /tmp/numashard-go-goals /tmp/numashard-go-goals.txt

section "examples: plain Go map fails, numashard does not"
for ex in examples/*/; do
  name="$(basename "$ex")"
  [ "$name" = internal ] && continue
  go build -o "/tmp/numashard-example-$name" "./$ex"
  # The plain-map failures are races: almost always visible at once; allow
  # three tries before calling a run that did not show one a failure.
  for try in 1 2 3; do
    out="$("/tmp/numashard-example-$name" 2>&1)" || { echo "$out"; echo "example $name failed"; exit 1; }
    grep -q '^plain Go map: FAIL' <<<"$out" && break
  done
  echo "$out" | sed "s/^/  [$name] /"
  grep -q '^plain Go map: FAIL' <<<"$out" || { echo "example $name: the plain map did not show its failure"; exit 1; }
  grep -q '^numashard: OK' <<<"$out" || { echo "example $name: numashard did not pass"; exit 1; }
  rm -f "/tmp/numashard-example-$name"
done
section "clear failures: a build without cgo says numashard needs it"
out="$(CGO_ENABLED=0 go build . 2>&1 || true)"
echo "$out"
grep -q 'numashard_needs_cgo' <<<"$out" || { echo "CGO_ENABLED=0: the error does not say numashard needs cgo"; exit 1; }

section "linux/arm64: the tests against the prebuilt arm64 library, under qemu-user"
# Cross-built with Debian's aarch64 gcc and run by qemu-user (scripts/setup.sh
# installs both, and arm64 libhwloc); qemu finds the arm64 loader and
# libraries in their multiarch directories. Package numashard's tests and
# internal/prefetch's run; direct reads are amd64 only (release_other.go),
# so their tests skip here; the race detector is not run under emulation.
# Package nearcache is linked (its tests need a redis-server:
# scripts/test-redis.sh).
arm64_dir="$(mktemp -d)"
GOFLAGS= CGO_ENABLED=1 GOARCH=arm64 CC=aarch64-linux-gnu-gcc go test -c -o "$arm64_dir/" . ./internal/prefetch ./nearcache
for b in "$arm64_dir"/*.test; do
  readelf -h "$b" | grep -q 'Machine:.*AArch64' || { readelf -h "$b"; echo "$b is not an arm64 program"; exit 1; }
done
# go test -c names each binary after its directory: go.test is package numashard's.
for b in "$arm64_dir/go.test" "$arm64_dir/prefetch.test"; do
  timeout -k 10 15m qemu-aarch64 "$b" -test.count=1 -test.timeout=10m -test.v >"$b.txt" 2>&1 || {
    tail -40 "$b.txt"; echo "$(basename "$b"): the Go tests failed (or hung) on linux/arm64 (qemu-user)"; exit 1; }
  echo "linux/arm64, $(basename "$b"): $(grep -c '^--- PASS' "$b.txt") tests passed, $(grep -c '^--- SKIP' "$b.txt") skipped (direct reads)"
done
rm -rf "$arm64_dir"

section "as a new user: go get outside the repository, no Rust toolchain"
NUMASHARD_TEST_COMMIT="$(git -C "$root" rev-parse HEAD)" "$root/scripts/go-newuser.sh"
section "all Go checks passed"
