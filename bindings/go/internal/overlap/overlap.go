// Package overlap says whether two byte slices share memory: the one check
// the Go bindings make before a C call whose contract (include/numashard.h,
// include/numashard_redis.h) forbids an output buffer to overlap an input.
// The engine makes a Rust &mut [u8] of the output and a &[u8] of the input,
// so an overlap would be undefined behaviour there; a caller of the Go API
// may legally pass such slices (LoadInto(buf[:16], buf)), so the bindings
// copy the input aside first, and only then.
package overlap

import "unsafe"

// Bytes reports whether a and b share at least one byte. Empty slices
// share nothing (the C side gets no pointer to read or write through).
// Two compares of addresses: it inlines, and costs nothing measurable on
// the common path where the slices are apart.
func Bytes(a, b []byte) bool {
	if len(a) == 0 || len(b) == 0 {
		return false
	}
	// Addresses are only compared, never turned back into pointers.
	pa := uintptr(unsafe.Pointer(unsafe.SliceData(a)))
	pb := uintptr(unsafe.Pointer(unsafe.SliceData(b)))
	return pa < pb+uintptr(len(b)) && pb < pa+uintptr(len(a))
}
