#!/usr/bin/env bash
# The C ABI from C: builds libnumashard (.so and .a), fails if the checked-in
# header is stale, runs the C suite under AddressSanitizer + UBSan (against
# the shared library) and under valgrind (against the static library), runs
# the close-race test and the multi-threaded stress test in both, and builds
# and runs the C example through pkg-config, and builds and runs the
# bench/probes/cache_cliff.c probe once. Called by scripts/test.sh; runs
# alone too.
#   NUMASHARD_C_RACE_ROUNDS (default 30): rounds of the close-race test under ASan.
#   NUMASHARD_C_STRESS_SCALE (default 100): size of the stress test under ASan,
#   in percent (valgrind runs it at 2%).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
export PATH="$HOME/.cargo/bin:$PATH"
CC=${CC:-cc}
# The suites place maps on the real machine unless they ask otherwise.
unset NUMASHARD_TOPOLOGY NUMASHARD_TOPOLOGY_XML HWLOC_SYNTHETIC HWLOC_XMLFILE
out=target/c-tests
mkdir -p "$out"

step() { printf -- '--- %s\n' "$*"; }

step "build libnumashard (.so, .a)"
cargo build --quiet --release -p numashard-ffi
test -f target/release/libnumashard.so && test -f target/release/libnumashard.a

step "SONAME (ffi/build.rs) and its symlink"
soname=$(readelf -d target/release/libnumashard.so | sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p')
case "$soname" in
  libnumashard.so.[0-9]*) ;;
  *) echo "libnumashard.so has no SONAME libnumashard.so.N (got '$soname')"; exit 1 ;;
esac
# Programs linked against libnumashard.so need the SONAME file at run time.
test "$(readlink -f "target/release/$soname")" = "$(readlink -f target/release/libnumashard.so)" ||
  { echo "target/release/$soname is not a link to libnumashard.so (ffi/build.rs makes it)"; exit 1; }
echo "soname $soname: 1 passed, 0 failed"

step "header is fresh (cbindgen $(cbindgen --version | awk '{print $2}'))"
cbindgen --version | grep -c '0\.29\.4' >/dev/null || { echo "cbindgen 0.29.4 required (scripts/setup.sh)"; exit 1; }
if ! cbindgen --quiet --config ffi/cbindgen.toml --output include/numashard.h --verify ffi; then
  echo "include/numashard.h is stale: regenerate with"
  echo "  cbindgen --config ffi/cbindgen.toml --output include/numashard.h ffi"
  exit 1
fi
# The header alone compiles as C99 and as C11 with nothing but itself.
for std in c99 c11; do
  echo '#include "numashard.h"' | $CC -std=$std -Wall -Wextra -Werror -pedantic -Iinclude -x c -fsyntax-only -
done

step "exports = the header's functions, every one tested"
# ns_config_init: exported for programs built against versions 1-3 of the
# header; the header's own is an inline function (see ffi/src/config.rs).
declared=$( (grep -oE '^(const )?[a-z_0-9]+ \*?ns_[a-z_]+\(' include/numashard.h | sed -E 's/.*(ns_[a-z_]+)\($/\1/'
  echo ns_config_init) | sort)
exported=$(nm -D --defined-only target/release/libnumashard.so | awk '{print $3}' | sort)
if [ "$declared" != "$exported" ]; then
  echo "the .so exports differ from the header's functions:"
  diff <(echo "$declared") <(echo "$exported") || true
  exit 1
fi
for f in $declared; do
  cat ffi/tests/c/test_api.c ffi/tests/c/test_snapshot.c | grep -c "$f(" >/dev/null ||
    { echo "$f is not called by ffi/tests/c/test_api.c or test_snapshot.c"; exit 1; }
done
echo "exports: $(echo "$declared" | wc -l) passed, 0 failed"

CFLAGS=(-std=c99 -Wall -Wextra -Werror -pedantic -g -O1 -Iinclude -Iffi/tests/c)
# test_stress uses <stdatomic.h>: C11 (a later -std wins).
cstd() { if [ "$1" = test_stress ]; then echo -std=c11; else echo -std=c99; fi; }
# test_api also links legacy_config_init.c: the exported ns_config_init,
# called from a file that does not see the header's inline one.
extra() { if [ "$1" = test_api ]; then echo ffi/tests/c/legacy_config_init.c; fi; }
SAN=(-fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer -DEXPECT_ASAN)
STATIC_LIBS=(target/release/libnumashard.a -lhwloc -lgcc_s -lutil -lrt -lpthread -lm -ldl -lc)

step "C suite under ASan + UBSan (shared library)"
for t in test_api test_snapshot test_race test_stress; do
  # shellcheck disable=SC2046 # extra's word is one file or none
  $CC "${CFLAGS[@]}" "$(cstd $t)" "${SAN[@]}" "ffi/tests/c/$t.c" $(extra $t) -pthread \
    -Ltarget/release -Wl,-rpath,"$root/target/release" -lnumashard -o "$out/${t}_asan"
  # The sanitizer really is in: the runtime's entry point is referenced.
  # (grep -c reads all of nm's output: no SIGPIPE under pipefail.)
  nm "$out/${t}_asan" | grep -c '__asan_init' >/dev/null || { echo "ASan not linked into $t"; exit 1; }
  nm "$out/${t}_asan" | grep -c '__ubsan_handle' >/dev/null || { echo "UBSan not linked into $t"; exit 1; }
  readelf -d "$out/${t}_asan" | grep -c "NEEDED.*\[$soname\]" >/dev/null || { echo "$t does not need $soname"; exit 1; }
done
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=0:halt_on_error=1:strict_string_checks=1:detect_stack_use_after_return=1
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
"$out/test_api_asan"
"$out/test_snapshot_asan"
"$out/test_race_asan" "${NUMASHARD_C_RACE_ROUNDS:-30}"
"$out/test_stress_asan" "${NUMASHARD_C_STRESS_SCALE:-100}"
unset ASAN_OPTIONS UBSAN_OPTIONS

step "C suite under valgrind (static library)"
for t in test_api test_snapshot test_race test_stress; do
  # shellcheck disable=SC2046 # as above
  $CC "${CFLAGS[@]}" "$(cstd $t)" "ffi/tests/c/$t.c" $(extra $t) -pthread "${STATIC_LIBS[@]}" -o "$out/${t}_static"
done
# hwloc's x86 CPUID backend cannot run under valgrind; the Linux backend suffices.
VG=(valgrind -q --error-exitcode=1 --leak-check=full --errors-for-leak-kinds=definite --show-leak-kinds=definite)
HWLOC_COMPONENTS=-x86 "${VG[@]}" "$out/test_api_static"
HWLOC_COMPONENTS=-x86 "${VG[@]}" "$out/test_snapshot_static"
HWLOC_COMPONENTS=-x86 "${VG[@]}" "$out/test_race_static" 3
HWLOC_COMPONENTS=-x86 "${VG[@]}" "$out/test_stress_static" 2

step "C example through pkg-config"
ffi/pkgconfig.sh >/dev/null
pc=target/release/pkgconfig
PKG_CONFIG_PATH="$root/$pc" pkg-config --exists numashard
test "$(PKG_CONFIG_PATH="$root/$pc" pkg-config --modversion numashard)" = \
  "$(sed -n 's/^version = "\(.*\)"$/\1/p' Cargo.toml | head -n1)"
make --no-print-directory -s -C bindings/c OUT="$root/$out/example" PKG_CONFIG_PATH="$root/$pc" CC="$CC" run
echo "example: 1 passed, 0 failed"

step "bench/probes/cache_cliff.c builds warning-free and measures"
"$CC" -O2 -Wall -Wextra -Werror bench/probes/cache_cliff.c -o "$out/cache_cliff"
lines=$("$out/cache_cliff" 256 512 | grep -c ' KiB: .* ns per dependent load$')
test "$lines" = 2 || { echo "cache_cliff printed $lines of 2 lines"; exit 1; }
"$out/cache_cliff" 8 >/dev/null 2>&1 && { echo "cache_cliff accepted a size below 64 KiB"; exit 1; }
echo "cache_cliff: 1 passed, 0 failed"
