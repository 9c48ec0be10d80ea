//go:build numashard_shared

package numashard

// Shared linking (`go build -tags numashard_shared`): compiler and linker
// flags come from pkg-config's numashard.pc, which the ffi crate generates.
// Point PKG_CONFIG_PATH at its directory, and make libnumashard.so findable
// at run time (install it, or set LD_LIBRARY_PATH / an rpath).

/*
#cgo pkg-config: numashard
*/
import "C"
