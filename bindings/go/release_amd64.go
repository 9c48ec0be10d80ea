//go:build linux && cgo

package numashard

// releaseStore stores v at p with release ordering: on amd64 every store
// has it (the CPU keeps stores after the loads before them, and the
// compiler keeps the loads before it: they may alias p). sync/atomic's
// Store would be an XCHG, a locked instruction: what the owned stripes
// exist to avoid.
func releaseStore(p *uint64, v uint64) { *p = v }

// directReadsArch says direct reads are sound on this architecture: a
// direct read validates what it copied by loading the seqlock's sequence
// again, and amd64 keeps every load after the loads before it.
const directReadsArch = true
