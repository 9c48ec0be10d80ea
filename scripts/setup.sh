#!/usr/bin/env bash
# Installs what building and testing numashard needs on a fresh Debian
# machine: system packages (hwloc, pkg-config, numactl, valgrind, redis-server
# for the near-cache tier's tests, ...) and
# the pinned cbindgen, and what the Go module's linux/arm64 library needs:
# Debian's arm64 cross binutils and gcc, qemu-user and arm64 libhwloc (to
# run the Go tests for arm64 on this amd64 machine), and rustup's
# aarch64-unknown-linux-gnu target (to rebuild that library). The Go
# tests need these; NUMASHARD_SETUP_ARM64=0 skips them (the demo and the
# benchmark scripts do). Idempotent: installs only what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

CBINDGEN_VERSION=0.29.4
APT_PACKAGES=(libhwloc-dev hwloc pkg-config numactl valgrind gcc make redis-server redis-tools)
if [ "${NUMASHARD_SETUP_VM:-1}" = 1 ]; then
  APT_PACKAGES+=(qemu-system-x86 busybox-static cpio xz-utils)
fi

arm64="${NUMASHARD_SETUP_ARM64:-1}"
if [ "$arm64" = 1 ]; then
  APT_PACKAGES+=(gcc-aarch64-linux-gnu binutils-aarch64-linux-gnu libc6-dev-arm64-cross qemu-user libhwloc-dev:arm64)
fi

SUDO=""
[ "$(id -u)" = 0 ] || SUDO=sudo
if [ "$arm64" = 1 ] && ! dpkg --print-foreign-architectures | grep -qx arm64; then
  echo "setup: adding Debian's arm64 architecture (for libhwloc-dev:arm64)"
  $SUDO dpkg --add-architecture arm64
fi

missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi

export PATH="$HOME/.cargo/bin:$PATH"
if ! cbindgen --version 2>/dev/null | grep -q "$CBINDGEN_VERSION"; then
  echo "setup: installing cbindgen $CBINDGEN_VERSION"
  cargo install --quiet --locked cbindgen --version "$CBINDGEN_VERSION"
fi

if [ "$arm64" = 1 ] && ! rustup target list --installed 2>/dev/null | grep -qx aarch64-unknown-linux-gnu; then
  echo "setup: adding the Rust target aarch64-unknown-linux-gnu"
  # Without it scripts/go-prebuilt.sh check cannot rebuild the arm64
  # library (it says so and checks the rest); nothing else needs it.
  rustup target add aarch64-unknown-linux-gnu || echo "setup: rustup target add aarch64-unknown-linux-gnu failed"
fi
