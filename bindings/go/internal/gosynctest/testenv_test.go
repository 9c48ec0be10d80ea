//go:build linux && cgo

package sync_test

import "testing"

// testenv stands in for the standard library's internal/testenv, which
// the copied toolchain tests call and a module outside the standard
// library cannot import. SkipIfOptimizationOff would skip when the test
// binary is built with -N; scripts/go-synctests.sh never builds so.
var testenv testenvShim

type testenvShim struct{}

func (testenvShim) SkipIfOptimizationOff(testing.TB) {}
