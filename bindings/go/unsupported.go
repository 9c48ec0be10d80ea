//go:build cgo && !linux

package numashard

// The engine uses Linux interfaces (mbind, move_pages, membarrier,
// sched_getcpu): on another system the build stops here with an error
// that says so.
var _ = numashard_supports_linux_only
