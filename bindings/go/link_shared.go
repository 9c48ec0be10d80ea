//go:build linux && cgo && numashard_shared

package numashard

// Shared linking (-tags numashard_shared): compiler and linker flags come
// from pkg-config's numashard.pc (written by ffi/pkgconfig.sh next to the
// built library). Point PKG_CONFIG_PATH at its directory, and make
// libnumashard.so findable at run time (install it, or set an rpath or
// LD_LIBRARY_PATH).

/*
#cgo pkg-config: numashard
*/
import "C"
