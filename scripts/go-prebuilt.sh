#!/usr/bin/env bash
# The prebuilt static library the Go module carries, so that `go get` of
# bindings/go builds with no Rust toolchain:
#   bindings/go/internal/prebuilt/libnumashard_linux_amd64.a  the engine, stripped
#   bindings/go/internal/prebuilt/numashard.h                 a copy of include/numashard.h
#   bindings/go/internal/prebuilt/linux_amd64.inputs          what it was built from
#
#   scripts/go-prebuilt.sh refresh   rebuild, strip and record it (commit the three files)
#   scripts/go-prebuilt.sh check     prove the committed files belong to this commit's
#                                    sources: the recorded input hash matches, the header
#                                    is the same, the library is stripped and names no
#                                    path of the machine that built it, and -- when this
#                                    machine has the recorded toolchain -- a rebuild from
#                                    the sources is byte for byte the committed library.
#
# The build is reproducible: release profile with fat LTO, one codegen unit,
# no debug info (a staticlib-only build, so the LTO applies), the crate's
# panic strategy (unwind: the C ABI catches panics), paths remapped
# (--remap-path-prefix) so that neither the checkout nor the cargo home
# directory is embedded, and strip -D (deterministic archive headers).
# Only linux/amd64 is built: this project's machines have no cross toolchain.
set -euo pipefail
cd "$(dirname "$0")/.."
root="$PWD"
export PATH="$HOME/.cargo/bin:$PATH"

platform=linux_amd64
triple=x86_64-unknown-linux-gnu
dir=bindings/go/internal/prebuilt
lib="$dir/libnumashard_$platform.a"
header="$dir/numashard.h"
manifest="$dir/$platform.inputs"
cargo_home="${CARGO_HOME:-$HOME/.cargo}"

# Every tracked file the library is built from, less the test directories
# (core/tests, core/benches, ffi/tests, ffi/fuzz), which no library build
# reads. Test modules inside src/ are in the list: a change to them needs a
# refresh, which then rewrites the manifest only (the rebuilt library is
# byte for byte the same blob).
input_files() {
  git ls-files -- Cargo.toml Cargo.lock rust-toolchain rust-toolchain.toml .cargo core ffi include \
    scripts/go-prebuilt.sh | grep -vE '^(ffi/fuzz|ffi/tests|core/tests|core/benches)/'
}

inputs_hash() {
  input_files | while IFS= read -r f; do printf '%s  %s\n' "$(sha256sum <"$f" | cut -d' ' -f1)" "$f"; done |
    sha256sum | cut -d' ' -f1
}

toolchain() { echo "$(rustc -V), host $(rustc -vV | sed -n 's/^host: //p'), $(strip -V | head -1)"; }

# build OUT: builds the stripped library into OUT (a scratch target dir under target/).
build() {
  local out="$1" target="$root/target/go-prebuilt"
  CARGO_PROFILE_RELEASE_DEBUG=0 CARGO_PROFILE_RELEASE_LTO=fat CARGO_PROFILE_RELEASE_CODEGEN_UNITS=1 \
    CARGO_PROFILE_RELEASE_STRIP=none \
    RUSTFLAGS="--remap-path-prefix=$root=/numashard --remap-path-prefix=$cargo_home=/cargo" \
    cargo rustc --quiet --locked --release -p numashard-ffi --lib --crate-type staticlib \
    --target "$triple" --target-dir "$target"
  # Twice: GNU strip's first pass also reorders the section-name tables; the
  # second is a fixpoint, which lets check prove the library is stripped.
  strip -D --strip-unneeded "$target/$triple/release/libnumashard.a" -o "$out"
  strip -D --strip-unneeded "$out"
}

field() { sed -n "s/^$1: //p" "$manifest"; }

case "${1:-}" in
refresh)
  mkdir -p "$dir"
  build "$lib"
  cp include/numashard.h "$header"
  {
    echo "# Written by scripts/go-prebuilt.sh refresh; verified by scripts/go-prebuilt.sh check."
    echo "inputs-sha256: $(inputs_hash)"
    echo "library-sha256: $(sha256sum <"$lib" | cut -d' ' -f1)"
    echo "toolchain: $(toolchain)"
    echo "target: $triple"
  } >"$manifest"
  echo "refreshed $lib ($(stat -c %s "$lib") bytes); commit $dir"
  ;;
check)
  fail() { echo "go-prebuilt check: $*" >&2; echo "fix: scripts/go-prebuilt.sh refresh, then commit $dir" >&2; exit 1; }
  [ -f "$lib" ] && [ -f "$manifest" ] && [ -f "$header" ] || fail "missing files in $dir"
  [ "$(field inputs-sha256)" = "$(inputs_hash)" ] ||
    fail "stale: the sources changed since the library was built (inputs hash differs)"
  [ "$(field library-sha256)" = "$(sha256sum <"$lib" | cut -d' ' -f1)" ] ||
    fail "the library is not the one the manifest records"
  cmp -s include/numashard.h "$header" || fail "$header differs from include/numashard.h"
  # Stripped: stripping it again changes nothing, and no debug section is left.
  tmp="$(mktemp -d)"
  trap 'rm -rf "$tmp"' EXIT
  strip -D --strip-unneeded "$lib" -o "$tmp/restripped.a"
  cmp -s "$lib" "$tmp/restripped.a" || fail "the library is not stripped"
  ! objdump -h "$lib" | grep -q '\.debug_' || fail "the library has debug sections"
  # No path of the building machine (remapped ones start /numashard, /cargo, /rustc).
  if strings -a "$lib" | grep -E '(^|[^A-Za-z0-9_])/(root|home|work|tmp|builds?)/' >"$tmp/paths"; then
    head -5 "$tmp/paths" >&2
    fail "the library embeds machine paths"
  fi
  if [ "$(field toolchain)" = "$(toolchain)" ]; then
    if [ "${NUMASHARD_PREBUILT_REBUILD:-1}" = 1 ]; then
      build "$tmp/rebuilt.a"
      cmp -s "$lib" "$tmp/rebuilt.a" || fail "a rebuild from this commit's sources differs from the committed library"
      echo "go-prebuilt check: rebuilt from the sources: byte for byte the committed library"
    fi
  else
    echo "go-prebuilt check: toolchain here is '$(toolchain)', the library's '$(field toolchain)': byte comparison skipped"
  fi
  echo "go-prebuilt check: $lib matches this commit's sources"
  ;;
*)
  echo "usage: $0 refresh|check" >&2
  exit 2
  ;;
esac
