//go:build linux && cgo

package numashard

/*
#include "numashard.h"
*/
import "C"

// iterEntryHeaderSize is NS_ITER_ENTRY_HEADER_SIZE: the bytes before each
// key in an ns_iter_next_many chunk (key length, value length, u32 LE each).
const iterEntryHeaderSize = 8

// The exported constants restate the C ABI's values as numbers, so that go
// doc shows them rather than cgo names. This function is never called: it
// fails the build when a value differs from the header's (a constant index
// out of range of a one-element array is a compile error).
func _() {
	var same [1]struct{}
	_ = same[iterEntryHeaderSize-C.NS_ITER_ENTRY_HEADER_SIZE]

	_ = same[int(OpGet)-int(C.NS_OP_GET)]
	_ = same[int(OpPut)-int(C.NS_OP_PUT)]
	_ = same[int(OpPutIfAbsent)-int(C.NS_OP_PUT_IF_ABSENT)]
	_ = same[int(OpDelete)-int(C.NS_OP_DELETE)]
	_ = same[int(OpTake)-int(C.NS_OP_TAKE)]
	_ = same[int(OpCAS)-int(C.NS_OP_CAS)]
	_ = same[int(OpAdd)-int(C.NS_OP_ADD)]
	_ = same[int(OpCompareAndDelete)-int(C.NS_OP_COMPARE_AND_DELETE)]
	_ = same[int(OpSwap)-int(C.NS_OP_SWAP)]

	_ = same[int(StatusOK)-int(C.NS_OK)]
	_ = same[int(StatusNotFound)-int(C.NS_NOT_FOUND)]
	_ = same[int(StatusExists)-int(C.NS_EXISTS)]
	_ = same[int(StatusMismatch)-int(C.NS_MISMATCH)]
	_ = same[int(StatusBufferTooSmall)-int(C.NS_BUFFER_TOO_SMALL)]
	_ = same[int(StatusInvalidArgument)-int(C.NS_ERR_INVALID_ARGUMENT)]
	_ = same[int(StatusKeyTooLarge)-int(C.NS_ERR_KEY_TOO_LARGE)]
	_ = same[int(StatusValueTooLarge)-int(C.NS_ERR_VALUE_TOO_LARGE)]
	_ = same[int(StatusFull)-int(C.NS_ERR_FULL)]
	_ = same[int(StatusClosed)-int(C.NS_ERR_CLOSED)]
	_ = same[int(StatusNotACounter)-int(C.NS_ERR_NOT_A_COUNTER)]
	_ = same[int(StatusTopology)-int(C.NS_ERR_TOPOLOGY)]
	_ = same[int(StatusPanic)-int(C.NS_ERR_PANIC)]
	_ = same[int(StatusResource)-int(C.NS_ERR_RESOURCE)]
}
