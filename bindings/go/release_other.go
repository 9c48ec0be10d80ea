//go:build linux && cgo && !amd64

package numashard

import "sync/atomic"

// releaseStore stores v at p with release ordering (sync/atomic's Store:
// a release store, STLR, on arm64).
func releaseStore(p *uint64, v uint64) { atomic.StoreUint64(p, v) }

// directReadsArch is false here: a direct read validates what it copied
// by loading the seqlock's sequence again, and sync/atomic's load (an
// acquire, LDAR on arm64) does not keep the plain loads of the copy before
// it, which needs a load barrier Go does not offer. Every read goes
// through cgo.
const directReadsArch = false
