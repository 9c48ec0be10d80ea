// Package prebuilt holds the numashard engine built for the platforms the
// Go module supports without a Rust toolchain, and its C header: written
// by scripts/go-prebuilt.sh refresh from the sources of the same commit,
// and checked against them by scripts/go-prebuilt.sh check. It has no Go
// API; package numashard imports it so that `go mod vendor` keeps the
// library.
package prebuilt
