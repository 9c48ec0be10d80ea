//go:build linux && !android && (amd64 || arm64) && cgo && !numashard_dev

package nearcache

// Default linking on linux/amd64 and linux/arm64: the prebuilt
// libnumashard_redis this package carries for each (internal/prebuilt,
// built from the same commit's sources by scripts/go-prebuilt.sh and
// checked by the repository's tests), so that `go get` needs no Rust
// toolchain. Only its nsr_* symbols are global, so a program may import
// this package and package numashard together.

/*
#cgo CFLAGS: -I${SRCDIR}/internal/prebuilt
#cgo amd64 LDFLAGS: ${SRCDIR}/internal/prebuilt/libnumashard_redis_linux_amd64.a
#cgo arm64 LDFLAGS: ${SRCDIR}/internal/prebuilt/libnumashard_redis_linux_arm64.a
#cgo LDFLAGS: -lhwloc -lgcc_s -lutil -lrt -lpthread -lm -ldl -lc

#if defined(__x86_64__) && !__has_include("internal/prebuilt/libnumashard_redis_linux_amd64.a")
#error "nearcache: internal/prebuilt/libnumashard_redis_linux_amd64.a is missing from this copy of the module (was it vendored without it?). Fetch the module again with go get."
#elif defined(__aarch64__) && !__has_include("internal/prebuilt/libnumashard_redis_linux_arm64.a")
#error "nearcache: internal/prebuilt/libnumashard_redis_linux_arm64.a is missing from this copy of the module (was it vendored without it?). Fetch the module again with go get."
#endif
#if !__has_include(<hwloc.h>)
#error "nearcache needs libhwloc 2.x: install it (Debian, Ubuntu: apt-get install libhwloc-dev; Fedora: dnf install hwloc-devel)."
#endif
*/
import "C"

// Keeps the prebuilt library's directory in `go mod vendor` copies.
import _ "github.com/numashard/numashard/bindings/go/nearcache/internal/prebuilt"
