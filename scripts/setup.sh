#!/usr/bin/env bash
# Installs what building and testing numashard needs on a fresh Debian
# machine: system packages (hwloc, pkg-config, numactl, valgrind, redis-server
# for the near-cache tier's tests, ...) and
# the pinned cbindgen. Idempotent: installs only what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

CBINDGEN_VERSION=0.29.4
APT_PACKAGES=(libhwloc-dev hwloc pkg-config numactl valgrind gcc make redis-server redis-tools)
if [ "${NUMASHARD_SETUP_VM:-1}" = 1 ]; then
  APT_PACKAGES+=(qemu-system-x86 busybox-static cpio xz-utils)
fi

missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  SUDO=""
  [ "$(id -u)" = 0 ] || SUDO=sudo
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi

export PATH="$HOME/.cargo/bin:$PATH"
if ! cbindgen --version 2>/dev/null | grep -q "$CBINDGEN_VERSION"; then
  echo "setup: installing cbindgen $CBINDGEN_VERSION"
  cargo install --quiet --locked cbindgen --version "$CBINDGEN_VERSION"
fi
