//go:build linux && cgo

package numashard

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"unsafe"
)

// Codec converts values of type T to the bytes a Map stores and back, for
// a TypedMap. Implement it for your own types; String, Bytes and the
// fixed-size integer codecs (Int64, Uint32, ...) come with the package.
type Codec[T any] interface {
	// Append appends the encoding of v to buf and returns the extended
	// slice (like the strconv and encoding/binary Append functions).
	Append(buf []byte, v T) []byte
	// Decode returns the value b encodes. b is valid only during the call:
	// a decoder that keeps bytes copies them. A malformed b is an error
	// wrapping ErrDecode.
	Decode(b []byte) (T, error)
}

// ErrDecode is wrapped by the errors of a codec's Decode when the stored
// bytes do not encode a value of its type.
var ErrDecode = errors.New("numashard: stored bytes do not decode")

// The codecs that come with the package. Integers are fixed-size little
// endian, so a TypedMap[K, int64] over Int64 reads and writes the same
// counters as Map.Add.
var (
	// String stores a string's bytes as they are; decoding allocates the string.
	String Codec[string] = stringCodec{}
	// Bytes stores a byte slice as it is; decoding allocates a copy.
	Bytes Codec[[]byte] = bytesCodec{}

	Int8   Codec[int8]   = fixedCodec[int8]{}
	Int16  Codec[int16]  = fixedCodec[int16]{}
	Int32  Codec[int32]  = fixedCodec[int32]{}
	Int64  Codec[int64]  = fixedCodec[int64]{}
	Uint8  Codec[uint8]  = fixedCodec[uint8]{}
	Uint16 Codec[uint16] = fixedCodec[uint16]{}
	Uint32 Codec[uint32] = fixedCodec[uint32]{}
	Uint64 Codec[uint64] = fixedCodec[uint64]{}
)

type stringCodec struct{}

func (stringCodec) Append(buf []byte, v string) []byte { return append(buf, v...) }
func (stringCodec) Decode(b []byte) (string, error)    { return string(b), nil }

type bytesCodec struct{}

func (bytesCodec) Append(buf []byte, v []byte) []byte { return append(buf, v...) }
func (bytesCodec) Decode(b []byte) ([]byte, error)    { return bytes.Clone(b), nil }

// fixedCodec encodes an integer in its size, little endian.
type fixedCodec[T int8 | int16 | int32 | int64 | uint8 | uint16 | uint32 | uint64] struct{}

func (fixedCodec[T]) Append(buf []byte, v T) []byte {
	switch unsafe.Sizeof(v) {
	case 1:
		return append(buf, byte(v))
	case 2:
		return binary.LittleEndian.AppendUint16(buf, uint16(v))
	case 4:
		return binary.LittleEndian.AppendUint32(buf, uint32(v))
	default:
		return binary.LittleEndian.AppendUint64(buf, uint64(v))
	}
}

func (fixedCodec[T]) Decode(b []byte) (T, error) {
	var v T
	if len(b) != int(unsafe.Sizeof(v)) {
		return v, fmt.Errorf("%w: %d bytes for a %d-byte integer", ErrDecode, len(b), unsafe.Sizeof(v))
	}
	switch len(b) {
	case 1:
		v = T(b[0])
	case 2:
		v = T(binary.LittleEndian.Uint16(b))
	case 4:
		v = T(binary.LittleEndian.Uint32(b))
	default:
		v = T(binary.LittleEndian.Uint64(b))
	}
	return v, nil
}
