//go:build amd64 || arm64

package prefetch

// pair asks for the lines at addr and addr^64 (PREFETCHT0 in
// prefetch_amd64.s, PRFM PLDL1KEEP in prefetch_arm64.s).
//
//go:noescape
func pair(addr uintptr)

// three asks for the lines at a, b and b^64 (as pair).
//
//go:noescape
func three(a, b uintptr)
