//go:build !cgo

package numashard

// numashard is a Rust engine reached through cgo: without cgo the build
// stops here with an error that says so.
var _ = numashard_needs_cgo__build_with_CGO_ENABLED_1_and_a_C_compiler
