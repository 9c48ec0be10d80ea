//go:build linux && cgo && !amd64

package numashard

import "sync/atomic"

// releaseStore stores v at p with release ordering (sync/atomic's Store:
// a release store, STLR, on arm64).
func releaseStore(p *uint64, v uint64) { atomic.StoreUint64(p, v) }
