//go:build linux && cgo

package numashard

import (
	"syscall"
	"testing"
)

// BenchmarkCgoCall is the floor every single-key call pays: one cgo call
// into the library that does nothing.
func BenchmarkCgoCall(b *testing.B) {
	for i := 0; i < b.N; i++ {
		if !cgoCallCost() {
			b.Fatal("ns_version")
		}
	}
}

// BenchmarkOpen is what setting up a map costs (default Config: shards
// per allowed CPU, their owner threads started on need; Close is not timed):
// cheap, but one long-lived Map is still the way to share a data set.
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

// BenchmarkBatchGoSide is a batch of 64 gets of keys that all hit, on a map
// of 1024 entries (everything in the CPU's caches, so the misses of a large
// map do not hide it): ns/op per key is the Go side (adding the ops,
// building the C op array, reading the results) plus the engine's cheapest
// lookups. Compare builds of the binding with it; the peers are in bench/.
func BenchmarkBatchGoSide(b *testing.B) {
	m, err := Open(Config{})
	if err != nil {
		b.Fatal(err)
	}
	defer m.Close()
	const entries, size = 1024, 64
	keys := make([][]byte, entries)
	for i := range keys {
		keys[i] = []byte{byte(i), byte(i >> 8), 'k', 'e', 'y', '-', 'o', 'f', '-', '1', '6', '-', 'b', 'y', 't', 'e'}
		if err := m.Store(keys[i], make([]byte, 32)); err != nil {
			b.Fatal(err)
		}
	}
	batch := NewBatch(size)
	b.ReportAllocs()
	// CPU time per key besides wall time: on a shared machine wall time
	// mostly says how much of a core the benchmark got.
	var ru0, ru1 syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru0)
	b.ResetTimer()
	for n := 0; n < b.N; n += size {
		batch.Reset()
		for j := 0; j < size; j++ {
			batch.Get(keys[(n+j*17)%entries])
		}
		if err := m.Run(batch); err != nil {
			b.Fatal(err)
		}
		for j := 0; j < size; j++ {
			if !batch.OK(j) {
				b.Fatalf("op %d: %v", j, batch.Err(j))
			}
		}
	}
	b.StopTimer()
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru1)
	cpu := ru1.Utime.Nano() + ru1.Stime.Nano() - ru0.Utime.Nano() - ru0.Stime.Nano()
	b.ReportMetric(float64(cpu)/float64(b.N), "cpu-ns/op")
}
