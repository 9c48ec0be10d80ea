package prefetch

import (
	"testing"
	"unsafe"
)

// A prefetch never faults: not of a nil, unmapped or kernel address, nor
// of a live one.
func TestPrefetchesNeverFault(t *testing.T) {
	b := make([]byte, 256)
	for _, a := range []uintptr{0, 64, 1 << 47, ^uintptr(0) &^ 63, uintptr(unsafe.Pointer(&b[0]))} {
		Pair(a)
		Three(a, a)
		Three(0, a)
	}
	if b[0] != 0 {
		t.Fatal("a prefetch changed memory")
	}
}
