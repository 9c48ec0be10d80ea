//go:build linux && cgo

package numashard

import "testing"

// BenchmarkCgoCall is the floor every single-key call pays: one cgo call
// into the library that does nothing.
func BenchmarkCgoCall(b *testing.B) {
	for i := 0; i < b.N; i++ {
		if !cgoCallCost() {
			b.Fatal("ns_version")
		}
	}
}
