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

// BenchmarkOpen is what setting up a map costs (default Config: one
// shard, and its thread, per allowed CPU; Close is not timed): the reason
// to keep one long-lived Map rather than open one per request.
func BenchmarkOpen(b *testing.B) {
	for i := 0; i < b.N; i++ {
		m, err := Open(Config{})
		if err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		m.Close()
		b.StartTimer()
	}
}
