#!/usr/bin/env bash
# The prebuilt static libraries the Go module carries, so that `go get` of
# bindings/go builds with no Rust toolchain, for each platform P of
# linux_amd64 and linux_arm64:
#   bindings/go/internal/prebuilt/libnumashard_P.a   the engine, stripped
#   bindings/go/internal/prebuilt/numashard.h        a copy of include/numashard.h
#   bindings/go/internal/prebuilt/P.inputs           what it was built from
# and the same for package nearcache (the near cache in front of Redis, a
# library of its own so that the main package never links redis-rs):
#   bindings/go/nearcache/internal/prebuilt/libnumashard_redis_P.a
#   bindings/go/nearcache/internal/prebuilt/numashard_redis.h, P.inputs
# Its global symbols other than nsr_* are made local (objcopy), so that one
# program may link both libraries (each carries its own copy of the Rust
# runtime; only compiler-builtins stay global, identical in both).
#
#   scripts/go-prebuilt.sh refresh   rebuild, strip and record every library (commit both directories)
#   scripts/go-prebuilt.sh check     prove the committed files belong to this commit's
#                                    sources: the recorded input hash matches, the header
#                                    is the same, the library is stripped and names no
#                                    path of the machine that built it, and -- when this
#                                    machine has the recorded toolchain -- a rebuild from
#                                    the sources is byte for byte the committed library.
#
# Each build is reproducible: release profile with fat LTO, one codegen unit,
# no debug info (a staticlib-only build, so the LTO applies), the crate's
# panic strategy (unwind: the C ABI catches panics), paths remapped
# (--remap-path-prefix) so that neither the checkout nor the cargo home
# directory is embedded, and strip -D (deterministic archive headers).
# linux_arm64 is cross-built: rustup's aarch64-unknown-linux-gnu target and
# Debian's binutils-aarch64-linux-gnu (scripts/setup.sh installs both; a
# staticlib links nothing, so no arm64 C library is needed to build it).
set -euo pipefail
cd "$(dirname "$0")/.."
root="$PWD"
export PATH="$HOME/.cargo/bin:$PATH"

cargo_home="${CARGO_HOME:-$HOME/.cargo}"
platforms="linux_amd64 linux_arm64"

# platform P: its Rust target and the binutils that read and strip its objects.
platform() {
  platform="$1"
  case "$platform" in
  linux_amd64) triple=x86_64-unknown-linux-gnu bin="" ;;
  linux_arm64) triple=aarch64-unknown-linux-gnu bin=aarch64-linux-gnu- ;;
  esac
}

# pick engine|near: the library's crate, files and inputs.
pick() {
  which="$1"
  case "$which" in
  engine)
    dir=bindings/go/internal/prebuilt
    crate=numashard-ffi
    built=libnumashard.a
    lib="$dir/libnumashard_$platform.a"
    src_header=include/numashard.h
    ;;
  near)
    dir=bindings/go/nearcache/internal/prebuilt
    crate=numashard-redis-ffi
    built=libnumashard_redis.a
    lib="$dir/libnumashard_redis_$platform.a"
    src_header=include/numashard_redis.h
    ;;
  esac
  header="$dir/$(basename "$src_header")"
  manifest="$dir/$platform.inputs"
}

# Every tracked file the library is built from, less the test directories
# (core/tests, core/benches, ffi/tests, ffi/fuzz, the tier's tests, example
# and Go benchmark), which no library build reads. Test modules inside src/
# are in the list: a change to them needs a refresh, which then rewrites the
# manifest only (the rebuilt library is byte for byte the same blob).
input_files() {
  local extra=(ffi include/numashard.h)
  [ "$which" = near ] && extra=(tiers/redis include/numashard_redis.h)
  git ls-files -- Cargo.toml Cargo.lock rust-toolchain rust-toolchain.toml .cargo core "${extra[@]}" \
    scripts/go-prebuilt.sh |
    grep -vE '^(ffi/fuzz|ffi/tests|core/tests|core/benches|tiers/redis/(tests|examples|ffi/tests))/'
}

inputs_hash() {
  input_files | while IFS= read -r f; do printf '%s  %s\n' "$(sha256sum <"$f" | cut -d' ' -f1)" "$f"; done |
    sha256sum | cut -d' ' -f1
}

toolchain() { echo "$(rustc -V), host $(rustc -vV | sed -n 's/^host: //p'), $("${bin}strip" -V | head -1)"; }

# Whether this machine can build for the platform: the Rust target's
# standard library and the binutils.
can_build() {
  command -v "${bin}strip" >/dev/null && command -v "${bin}objcopy" >/dev/null &&
    [ -d "$(rustc --print sysroot)/lib/rustlib/$triple/lib" ]
}

# build OUT: builds the stripped library into OUT (a scratch target dir under target/).
build() {
  local out="$1" target="$root/target/go-prebuilt-$platform"
  CARGO_PROFILE_RELEASE_DEBUG=0 CARGO_PROFILE_RELEASE_LTO=fat CARGO_PROFILE_RELEASE_CODEGEN_UNITS=1 \
    CARGO_PROFILE_RELEASE_STRIP=none \
    RUSTFLAGS="--remap-path-prefix=$root=/numashard --remap-path-prefix=$cargo_home=/cargo" \
    cargo rustc --quiet --locked --release -p "$crate" --lib --crate-type staticlib \
    --target "$triple" --target-dir "$target"
  local a="$target/$triple/release/$built"
  if [ "$which" = near ]; then
    # Globals of the Rust objects other than the API become local.
    "${bin}nm" -g --defined-only -A "$a" 2>/dev/null |
      awk -F: '$2 !~ /^compiler_builtins-/ {n = split($NF, f, " "); if (n == 3 && f[3] !~ /^nsr_/) print f[3]}' |
      sort -u >"$out.localize"
    "${bin}objcopy" -D --localize-symbols="$out.localize" "$a" "$out.tmp"
    rm -f "$out.localize"
    a="$out.tmp"
  fi
  # Twice: GNU strip's first pass also reorders the section-name tables; the
  # second is a fixpoint, which lets check prove the library is stripped.
  "${bin}strip" -D --strip-unneeded "$a" -o "$out"
  "${bin}strip" -D --strip-unneeded "$out"
  rm -f "$out.tmp"
}

field() { sed -n "s/^$1: //p" "$manifest"; }

refresh() {
  can_build || {
    echo "go-prebuilt refresh: cannot build for $platform here (rustup target add $triple; ${bin}strip from binutils): run scripts/setup.sh" >&2
    exit 1
  }
  mkdir -p "$dir"
  build "$lib"
  cp "$src_header" "$header"
  {
    echo "# Written by scripts/go-prebuilt.sh refresh; verified by scripts/go-prebuilt.sh check."
    echo "inputs-sha256: $(inputs_hash)"
    echo "library-sha256: $(sha256sum <"$lib" | cut -d' ' -f1)"
    echo "toolchain: $(toolchain)"
    echo "target: $triple"
  } >"$manifest"
  echo "refreshed $lib ($(stat -c %s "$lib") bytes); commit $dir"
}

check() {
  fail() { echo "go-prebuilt check: $*" >&2; echo "fix: scripts/go-prebuilt.sh refresh, then commit $dir" >&2; exit 1; }
  [ -f "$lib" ] && [ -f "$manifest" ] && [ -f "$header" ] || fail "missing files in $dir"
  [ "$(field inputs-sha256)" = "$(inputs_hash)" ] ||
    fail "stale: the sources changed since the library was built (inputs hash differs)"
  [ "$(field library-sha256)" = "$(sha256sum <"$lib" | cut -d' ' -f1)" ] ||
    fail "the library is not the one the manifest records"
  cmp -s "$src_header" "$header" || fail "$header differs from $src_header"
  # Stripped: stripping it again changes nothing, and no debug section is left.
  tmp="$(mktemp -d)"
  trap 'rm -rf "$tmp"' EXIT
  command -v "${bin}strip" >/dev/null || fail "${bin}strip (binutils for $platform) is missing: run scripts/setup.sh"
  "${bin}strip" -D --strip-unneeded "$lib" -o "$tmp/restripped.a"
  cmp -s "$lib" "$tmp/restripped.a" || fail "the library is not stripped"
  "${bin}objdump" -h "$lib" >"$tmp/sections"
  ! grep -q '\.debug_' "$tmp/sections" || fail "the library has debug sections"
  # No path of the building machine (remapped ones start /numashard, /cargo, /rustc).
  if strings -a "$lib" | grep -E '(^|[^A-Za-z0-9_])/(root|home|work|tmp|builds?)/' >"$tmp/paths"; then
    head -5 "$tmp/paths" >&2
    fail "the library embeds machine paths"
  fi
  if [ "$which" = near ]; then
    # Only the API and compiler-builtins are global, so it links beside libnumashard.
    if "${bin}nm" -g --defined-only -A "$lib" 2>/dev/null |
      awk -F: '$2 !~ /^compiler_builtins-/ {n = split($NF, f, " "); if (n == 3 && f[3] !~ /^nsr_/) print f[3]}' |
      grep . >"$tmp/globals"; then
      head -5 "$tmp/globals" >&2
      fail "the library has global symbols other than nsr_*"
    fi
  fi
  if ! can_build; then
    echo "go-prebuilt check: cannot build for $platform here (Rust target $triple, ${bin}objcopy): byte comparison skipped"
  elif [ "$(field toolchain)" = "$(toolchain)" ]; then
    if [ "${NUMASHARD_PREBUILT_REBUILD:-1}" = 1 ]; then
      build "$tmp/rebuilt.a"
      cmp -s "$lib" "$tmp/rebuilt.a" || fail "a rebuild from this commit's sources differs from the committed library"
      echo "go-prebuilt check: rebuilt from the sources: byte for byte the committed library"
    fi
  else
    echo "go-prebuilt check: toolchain here is '$(toolchain)', the library's '$(field toolchain)': byte comparison skipped"
  fi
  rm -rf "$tmp"
  trap - EXIT
  echo "go-prebuilt check: $lib matches this commit's sources"
}

case "${1:-}" in
refresh | check)
  # The platforms build at once, each in a target directory of its own
  # (a fat-LTO link uses one core); their output shows in order.
  logs="$(mktemp -d)"
  pids=()
  # Background jobs ignore Ctrl-C: stop them with this script.
  trap 'kill "${pids[@]}" 2>/dev/null; rm -rf "$logs"; exit 130' INT TERM
  for p in $platforms; do
    (
      platform "$p"
      for w in engine near; do
        pick "$w"
        "$1"
      done
    ) >"$logs/$p" 2>&1 &
    pids+=($!)
  done
  status=0
  i=0
  for p in $platforms; do
    wait "${pids[$i]}" || status=1
    i=$((i + 1))
    cat "$logs/$p"
  done
  trap - INT TERM
  rm -rf "$logs"
  exit "$status"
  ;;
*)
  echo "usage: $0 refresh|check" >&2
  exit 2
  ;;
esac
