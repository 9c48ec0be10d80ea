//go:build amd64

package prefetch

// pair is PREFETCHT0 of addr and addr^64 (prefetch_amd64.s).
//
//go:noescape
func pair(addr uintptr)

// three is PREFETCHT0 of a, b and b^64 (prefetch_amd64.s).
//
//go:noescape
func three(a, b uintptr)
