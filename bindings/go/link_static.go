//go:build !numashard_shared

package numashard

// Default linking: statically against libnumashard.a built from this
// repository (`cargo build --release -p numashard-ffi` at the workspace
// root), plus the system libraries the Rust staticlib and hwloc need.
// Build with `-tags numashard_shared` to link the shared library found
// through pkg-config (numashard.pc) instead; see link_shared.go.

/*
#cgo CFLAGS: -I${SRCDIR}/../../include
#cgo LDFLAGS: ${SRCDIR}/../../target/release/libnumashard.a -lhwloc -lgcc_s -lutil -lrt -lpthread -lm -ldl -lc
*/
import "C"
