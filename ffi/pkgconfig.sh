#!/usr/bin/env bash
# Writes numashard.pc for a build of the C library, so that C programs link
# it with `pkg-config --cflags --libs numashard`.
#
#   ffi/pkgconfig.sh [LIBDIR [OUTDIR]]
#
# LIBDIR: where libnumashard.so/.a are (default: target/release of this
# checkout); OUTDIR: where numashard.pc goes (default: LIBDIR/pkgconfig).
# The prefix is this checkout (headers in include/). For an installed copy,
# pass the install's libdir and edit `prefix` to match.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
libdir=$(cd "${1:-$root/target/release}" && pwd)
out=${2:-$libdir/pkgconfig}
version=$(sed -n 's/^version = "\(.*\)"$/\1/p' "$root/Cargo.toml" | head -n1)
# What the static library needs besides itself (rustc --print native-static-libs).
private_libs="-lhwloc -lgcc_s -lutil -lrt -lpthread -lm -ldl -lc"
mkdir -p "$out"
sed -e "s|@PREFIX@|$root|" -e "s|@LIBDIR@|$libdir|" -e "s|@VERSION@|$version|" \
    -e "s|@PRIVATE_LIBS@|$private_libs|" "$root/ffi/numashard.pc.in" >"$out/numashard.pc"
echo "$out/numashard.pc"
