//go:build linux && cgo && numashard_dev

package nearcache

// In-repository linking (-tags numashard_dev, used by the repository's
// tests): libnumashard_redis.a built from the working tree by
// `cargo build --release -p numashard-redis-ffi` at the repository root.
// This build keeps the Rust runtime's symbols global: in this mode a
// program links this package or package numashard, not both (the prebuilt
// library links beside numashard's).

/*
#cgo CFLAGS: -I${SRCDIR}/../../../include
#cgo LDFLAGS: ${SRCDIR}/../../../target/release/libnumashard_redis.a -lhwloc -lgcc_s -lutil -lrt -lpthread -lm -ldl -lc

#if !__has_include("../../../target/release/libnumashard_redis.a")
#error "nearcache (-tags numashard_dev): ../../../target/release/libnumashard_redis.a is missing: run cargo build --release -p numashard-redis-ffi at the repository root."
#endif
*/
import "C"
