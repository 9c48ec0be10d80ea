//go:build linux && !android && (amd64 || arm64) && cgo && !numashard_dev && !numashard_shared

package numashard

// Default linking on linux/amd64 and linux/arm64: the prebuilt engine this
// module carries for each (internal/prebuilt, built from the same commit's
// sources by scripts/go-prebuilt.sh and checked by the repository's tests),
// so that `go get` needs no Rust toolchain. The system needs libhwloc
// (2.x) and a C compiler, as for any cgo package.
//
// Other ways to link: -tags numashard_shared (libnumashard.so through
// pkg-config, link_shared.go) and, inside the repository, -tags
// numashard_dev (the library built from the working tree, link_dev.go).

/*
#cgo CFLAGS: -I${SRCDIR}/internal/prebuilt
#cgo amd64 LDFLAGS: ${SRCDIR}/internal/prebuilt/libnumashard_linux_amd64.a
#cgo arm64 LDFLAGS: ${SRCDIR}/internal/prebuilt/libnumashard_linux_arm64.a
#cgo LDFLAGS: -lhwloc -lgcc_s -lutil -lrt -lpthread -lm -ldl -lc

#if defined(__x86_64__) && !__has_include("internal/prebuilt/libnumashard_linux_amd64.a")
#error "numashard: internal/prebuilt/libnumashard_linux_amd64.a is missing from this copy of the module (was it vendored without it?). Fetch the module again with go get, or build with -tags numashard_shared (see the module README)."
#elif defined(__aarch64__) && !__has_include("internal/prebuilt/libnumashard_linux_arm64.a")
#error "numashard: internal/prebuilt/libnumashard_linux_arm64.a is missing from this copy of the module (was it vendored without it?). Fetch the module again with go get, or build with -tags numashard_shared (see the module README)."
#endif
#if !__has_include(<hwloc.h>)
#error "numashard needs libhwloc 2.x: install it (Debian, Ubuntu: apt-get install libhwloc-dev; Fedora: dnf install hwloc-devel)."
#endif
*/
import "C"

// Keeps the prebuilt library's directory in `go mod vendor` copies.
import _ "github.com/numashard/numashard/bindings/go/internal/prebuilt"
