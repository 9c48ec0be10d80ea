// Package prefetch asks the CPU for cache lines ahead of their use.
//
// The numashard package uses it to fetch a record's line together with its
// index slot (Config.PlaceRecordsByHash): its own cgo files cannot hold Go
// assembly, so the instruction lives here.
package prefetch

// Pair hints the CPU to fetch the 64-byte line at addr and the other line
// of its 128-byte pair (addr ^ 64). It never reads or faults, whatever the
// address; on architectures without the assembly it does nothing.
func Pair(addr uintptr) { pair(addr) }

// Three hints the CPU to fetch the line at a and the 128-byte pair of lines
// at b (b and b ^ 64), in one call. Like Pair, it never reads or faults.
func Three(a, b uintptr) { three(a, b) }
