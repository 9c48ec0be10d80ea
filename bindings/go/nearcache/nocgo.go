//go:build !cgo || !linux

package nearcache

// nearcache is a Rust library reached through cgo, on Linux: elsewhere the
// build stops here with an error that says so.
var _ = nearcache_needs_cgo_on_linux__build_with_CGO_ENABLED_1_and_a_C_compiler
