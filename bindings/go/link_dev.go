//go:build linux && cgo && numashard_dev && !numashard_shared

package numashard

// In-repository linking (-tags numashard_dev, used by the repository's
// tests): libnumashard.a built from the working tree by
// `cargo build --release -p numashard-ffi` at the repository root, and the
// header in include/ (the module's copy of it, checked equal, when the
// package is built outside the repository: then the check below explains).

/*
#cgo CFLAGS: -I${SRCDIR}/../../include -I${SRCDIR}/internal/prebuilt
#cgo LDFLAGS: ${SRCDIR}/../../target/release/libnumashard.a -lhwloc -lgcc_s -lutil -lrt -lpthread -lm -ldl -lc

#if !__has_include("../../target/release/libnumashard.a")
#error "numashard (-tags numashard_dev): ../../target/release/libnumashard.a is missing: run cargo build --release -p numashard-ffi at the repository root."
#endif
#if !__has_include(<hwloc.h>)
#error "numashard needs libhwloc 2.x: install it (Debian, Ubuntu: apt-get install libhwloc-dev; Fedora: dnf install hwloc-devel)."
#endif
*/
import "C"
