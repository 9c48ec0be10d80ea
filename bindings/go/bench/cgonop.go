//go:build linux && cgo

package bench

// An empty C function for BenchmarkCgoFloor: what crossing into C costs,
// with nothing done on the other side. It is marked like every engine call
// the binding makes (noescape, nocallback), so the crossing is the same.

/*
#cgo noescape bench_nop
#cgo nocallback bench_nop
static void bench_nop(void) {}
*/
import "C"

// cgoNop makes one cgo call that does nothing.
func cgoNop() { C.bench_nop() }
