#!/usr/bin/env bash
# vm.sh - numashard's NUMA test guest: boots a throw-away QEMU machine whose
# ACPI tables describe a real multi-node NUMA topology (one socket per node)
# and runs a shell script inside it, as root, with the host programs it needs.
#
#   bench/numa-vm/vm.sh initrd OUT.cpio [--bin FILE]... [--file FILE]... GUEST_SCRIPT
#       Builds an initramfs holding busybox, the guest script (run as /guest.sh),
#       each --bin ELF program (copied to /opt/numashard/bin/, stripped, with the
#       shared libraries ldd resolves for it, at their host paths) and each --file
#       (copied to /opt/numashard/). One initramfs serves every topology.
#   bench/numa-vm/vm.sh boot INITRD [--nodes N] [--cpus-per-node C] [--mem-mb MB]
#       [--timeout S] [--log FILE] [-- ARG...]
#       Boots it: N nodes (default 2) x C vCPUs (default 1), MB MiB of RAM split
#       evenly over the nodes (default 2048); runs /guest.sh ARG... and streams its
#       output (also into FILE). Exit status: the script's; 124 on timeout;
#       125 when the guest could not be set up or did not report.
#   bench/numa-vm/vm.sh kernel
#       Prints the guest kernel path, fetching it first if needed.
#
# On first use it installs the Debian packages it needs (qemu-system-x86,
# busybox-static, cpio, xz-utils) and downloads Debian's kernel package
# (linux-image-amd64's current image) with `apt-get download`, caching the
# kernel in $NUMASHARD_VM_CACHE (default ~/.cache/numashard-vm).
# NUMASHARD_VM_KERNEL=/path/to/vmlinuz uses a given kernel instead.
# KVM is used when /dev/kvm is usable, else software emulation (TCG).
set -euo pipefail

CACHE=${NUMASHARD_VM_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/numashard-vm}
EXIT_TAG=NUMASHARD-GUEST-EXIT
TEMPS=()
trap 'rm -rf "${TEMPS[@]}"' EXIT
die() { echo "numa-vm: $*" >&2; exit 125; }
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

ensure_packages() {
  local missing=() p
  command -v qemu-system-x86_64 >/dev/null || missing+=(qemu-system-x86)
  [ -x /bin/busybox ] && ! ldd /bin/busybox >/dev/null 2>&1 || missing+=(busybox-static)
  command -v cpio >/dev/null || missing+=(cpio)
  command -v xz >/dev/null || missing+=(xz-utils)
  if [ ${#missing[@]} -gt 0 ]; then
    echo "numa-vm: installing ${missing[*]}" >&2
    as_root apt-get update -qq >&2 || die "apt-get update failed"
    DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq --no-install-recommends \
      -o DPkg::Lock::Timeout=600 "${missing[@]}" >&2 || die "apt-get install ${missing[*]} failed"
  fi
  for p in qemu-system-x86_64 cpio; do command -v "$p" >/dev/null || die "$p missing after install"; done
}

# The versioned kernel image package behind a metapackage, e.g. linux-image-6.1.0-28-amd64.
kernel_package() {
  local meta p
  for meta in linux-image-amd64 linux-image-virtual linux-image-generic; do
    p=$(apt-cache depends "$meta" 2>/dev/null | awk '/Depends: linux-image-[0-9]/ {print $2; exit}')
    if [ -n "$p" ]; then echo "$p"; return 0; fi
  done
  return 1
}

# Prints the path of the guest kernel, downloading and unpacking it once (under a lock).
guest_kernel() {
  if [ -n "${NUMASHARD_VM_KERNEL:-}" ]; then
    [ -s "$NUMASHARD_VM_KERNEL" ] || die "NUMASHARD_VM_KERNEL=$NUMASHARD_VM_KERNEL is not a file"
    echo "$NUMASHARD_VM_KERNEL"; return
  fi
  mkdir -p "$CACHE"
  (
    flock 8
    [ -s "$CACHE/vmlinux" ] || [ -s "$CACHE/vmlinuz" ] && exit 0
    pkg=$(kernel_package) || { as_root apt-get update -qq >&2; pkg=$(kernel_package); } ||
      die "apt knows no linux-image-amd64 (is a Debian archive configured?)"
    echo "numa-vm: downloading guest kernel $pkg into $CACHE (first use only)" >&2
    tmp=$(mktemp -d "$CACHE/fetch.XXXXXX")
    trap 'rm -rf "$tmp"' EXIT
    sandbox=(); [ "$(id -u)" = 0 ] && sandbox=(-o APT::Sandbox::User=root)
    (cd "$tmp" && apt-get download -qq "${sandbox[@]}" "$pkg") >&2 || die "apt-get download $pkg failed"
    dpkg-deb --fsys-tarfile "$tmp"/*.deb | tar -x -C "$tmp" --wildcards './boot/vmlinuz-*' ||
      die "no /boot/vmlinuz-* in $pkg"
    bz=$(ls "$tmp"/boot/vmlinuz-* | head -1)
    # An uncompressed ELF vmlinux boots straight through PVH, sparing the
    # in-guest decompression that takes seconds under emulation; the bzImage
    # remains the fallback when the payload is not XZ.
    off=$(LC_ALL=C grep -obUaP '\xfd7zXZ\x00' "$bz" | head -1 | cut -d: -f1 || true)
    if [ -n "$off" ]; then tail -c +"$((off + 1))" "$bz" | xz -dcq >"$tmp/vmlinux" 2>/dev/null || true; fi
    if [ -s "$tmp/vmlinux" ] && [ "$(head -c 4 "$tmp/vmlinux" | tail -c 3)" = ELF ]; then
      mv "$tmp/vmlinux" "$CACHE/vmlinux"
    else
      cp "$bz" "$CACHE/vmlinuz"
    fi
    echo "$pkg" >"$CACHE/kernel-package"
  ) 8>"$CACHE/.lock" || exit $?
  if [ -s "$CACHE/vmlinux" ]; then echo "$CACHE/vmlinux"; else echo "$CACHE/vmlinuz"; fi
}

# ---- initrd ------------------------------------------------------------------------------
GUEST_INIT='#!/bin/busybox sh
/bin/busybox --install -s
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mkdir -p /dev/shm /dev/pts /tmp
mount -t tmpfs tmpfs /dev/shm
exec </dev/null >/dev/console 2>&1
export PATH=/opt/numashard/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root
cd /opt/numashard
# The kernel passes the command line words after "--" to init: the guest script'"'"'s arguments.
sh /guest.sh "$@"
echo "@@TAG $?@@"
poweroff -f'

cmd_initrd() {
  local out=$1; shift
  local bins=() files=() script=
  while [ $# -gt 0 ]; do
    case $1 in
      --bin) bins+=("$2"); shift 2 ;;
      --file) files+=("$2"); shift 2 ;;
      -*) die "initrd: unknown option $1" ;;
      *) script=$1; shift ;;
    esac
  done
  [ -n "$script" ] && [ -f "$script" ] || die "initrd: no guest script"
  ensure_packages
  local root; root=$(mktemp -d); TEMPS+=("$root")
  mkdir -p "$root"/{bin,sbin,usr/bin,usr/sbin,proc,sys,dev,tmp,root,etc,opt/numashard/bin}
  cp /bin/busybox "$root/bin/busybox"
  printf '%s\n' "${GUEST_INIT//@@TAG/@@$EXIT_TAG}" >"$root/init"
  chmod 755 "$root/init"
  cp "$script" "$root/guest.sh"
  echo 'root:x:0:0:root:/root:/bin/sh' >"$root/etc/passwd"
  echo 'root:x:0:' >"$root/etc/group"
  local b lib
  for b in "${bins[@]}"; do
    [ -x "$b" ] || die "initrd: $b is not an executable"
    strip -o "$root/opt/numashard/bin/$(basename "$b")" "$b" 2>/dev/null ||
      cp -L "$b" "$root/opt/numashard/bin/"
    # ldd prints "name => /path (addr)" or "/path (addr)"; copy every library at its host path.
    for lib in $(ldd "$b" | grep -o '/[^ ]*' || true); do
      [ -e "$root$lib" ] && continue
      mkdir -p "$root$(dirname "$lib")"
      cp -L "$lib" "$root$lib"
    done
  done
  for b in "${files[@]}"; do cp -L "$b" "$root/opt/numashard/"; done
  (cd "$root" && find . | cpio -o -H newc --quiet) >"$out.tmp"
  mv "$out.tmp" "$out"
}

# ---- boot --------------------------------------------------------------------------------
cmd_boot() {
  local initrd=$1; shift
  local nodes=2 cpn=1 mem=2048 timeout=240 log=/dev/null
  while [ $# -gt 0 ]; do
    case $1 in
      --nodes) nodes=$2; shift 2 ;;
      --cpus-per-node) cpn=$2; shift 2 ;;
      --mem-mb) mem=$2; shift 2 ;;
      --timeout) timeout=$2; shift 2 ;;
      --log) log=$2; shift 2 ;;
      --) shift; break ;;
      *) die "boot: unknown option $1" ;;
    esac
  done
  [ -s "$initrd" ] || die "boot: no initrd $initrd"
  ensure_packages
  local kernel; kernel=$(guest_kernel)
  local per=$((mem / nodes / 2 * 2)) accel
  [ "$per" -ge 128 ] || die "boot: --mem-mb $mem is too small for $nodes nodes"
  if [ -r /dev/kvm ] && [ -w /dev/kvm ] && grep -qwE 'vmx|svm' /proc/cpuinfo; then
    accel=(-accel kvm -cpu host)
  else
    accel=(-accel tcg -cpu max)
  fi
  local args=(-nodefaults -no-reboot -display none -monitor none -serial stdio -nic none
    "${accel[@]}" -kernel "$kernel" -initrd "$initrd"
    -m "$((per * nodes))M" -smp "$((nodes * cpn)),sockets=$nodes,cores=$cpn,threads=1"
    -append "console=ttyS0 quiet loglevel=3 panic=-1 mitigations=off tsc=reliable no_timer_check audit=0 \
nowatchdog 8250.nr_uarts=1 cryptomgr.notests random.trust_cpu=on numa_balancing=disable -- $*")
  [ -f /usr/share/qemu/qboot.rom ] && args+=(-bios /usr/share/qemu/qboot.rom)
  local i
  for ((i = 0; i < nodes; i++)); do
    args+=(-object "memory-backend-ram,id=ram$i,size=${per}M"
      -numa "node,nodeid=$i,cpus=$((i * cpn))-$((i * cpn + cpn - 1)),memdev=ram$i")
  done
  local out; out=$(mktemp); TEMPS+=("$out")
  local qrc=0
  # The guest script's output arrives on the serial console (stdout); keep it and stream it.
  local what
  what="accel=${accel[1]} kernel=$(cat "$CACHE/kernel-package" 2>/dev/null || basename "$kernel")"
  what+=" $(qemu-system-x86_64 --version | head -n 1)"
  echo "### HOST $what" | tee "$log"
  timeout -k 5 "$timeout" qemu-system-x86_64 "${args[@]}" </dev/null 2>&1 |
    tr -d '\r' | tee "$out" | grep --line-buffered -v -e "@@$EXIT_TAG" -e "reboot: Power down" | tee -a "$log" || qrc=${PIPESTATUS[0]}
  local rc
  rc=$(grep -ao "@@$EXIT_TAG [0-9]*@@" "$out" | tail -1 | tr -dc 0-9 || true)
  if [ -n "$rc" ]; then return "$rc"; fi
  if [ "$qrc" = 124 ] || [ "$qrc" = 137 ]; then echo "numa-vm: guest timed out after $timeout s" >&2; return 124; fi
  echo "numa-vm: the guest did not report an exit status (qemu exit $qrc)" >&2
  return 125
}

case ${1:-} in
  initrd) shift; [ $# -ge 2 ] || die "usage: vm.sh initrd OUT.cpio [--bin F]... [--file F]... SCRIPT"; cmd_initrd "$@" ;;
  boot) shift; [ $# -ge 1 ] || die "usage: vm.sh boot INITRD [options] [-- ARG...]"; cmd_boot "$@" ;;
  kernel) ensure_packages; guest_kernel ;;
  *) sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0" >&2; exit 2 ;;
esac
