// Package prebuilt holds libnumashard_redis (the near cache in front of
// Redis, with the numashard engine inside) built for the platforms package
// nearcache supports without a Rust toolchain, and its C header: written by
// scripts/go-prebuilt.sh refresh from the sources of the same commit, and
// checked against them by scripts/go-prebuilt.sh check. It has no Go API;
// package nearcache imports it so that `go mod vendor` keeps the library.
package prebuilt
