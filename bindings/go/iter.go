//go:build linux && cgo

package numashard

/*
#include <stdlib.h>
#include "numashard.h"
*/
import "C"

import (
	"encoding/binary"
	"iter"
	"runtime"
	"sync"
	"unsafe"
)

// Range calls f for every entry until f returns false, like sync.Map's
// Range, but with the engine's guarantee: every entry present and unchanged
// for the whole iteration is seen exactly once, whatever other goroutines
// do meanwhile; an entry inserted, updated or deleted during it is seen at
// most once, with its old or its new value, never torn. Writers are held up
// by at most one chunk of the iteration, never by f.
//
// key and value are valid only until f returns (later entries reuse their
// memory); copy them (bytes.Clone) to keep them. The error is ErrClosed if
// the map is or gets closed. Range allocates nothing once warm: an entry
// larger than 64 KiB grows its buffer on a first pass, and buffers of up
// to 16 MiB are kept for the passes after (in a sync.Pool: a garbage
// collection may drop them, and the next pass grows one again).
func (m *Map) Range(f func(key, value []byte) bool) error {
	return m.iterate(f)
}

// All returns an iterator over the entries, for use with range:
//
//	for k, v := range m.All() { ... }
//
// with Range's guarantees and Range's rule: k and v are valid until the
// next iteration step. Iteration stops early if the map is closed; use
// Range to see that error. A range over All allocates nothing.
func (m *Map) All() iter.Seq2[[]byte, []byte] {
	return func(yield func([]byte, []byte) bool) { m.iterate(yield) }
}

// rangeBufSize is the size of the buffer an iteration reads entries into:
// ns_iter_next_many fills it with as many whole entries as fit, so a pass
// costs one cgo call per 64 KiB of entries instead of one per entry. An
// entry larger than the buffer grows it for the rest of that pass.
const rangeBufSize = 64 << 10

// rangeBufs recycles the buffers of finished iterations, so that Range
// over a small map does not allocate 64 KiB per call.
var rangeBufs = sync.Pool{New: func() any { b := make([]byte, rangeBufSize); return &b }}

// rangeGrownBufs recycles the buffers entries larger than rangeBufSize grew,
// of up to rangeGrownMax bytes, so that ranging over a map that holds such
// entries allocates on a first pass only.
var rangeGrownBufs sync.Pool

// rangeGrownMax is the largest grown buffer kept for the next iterations.
const rangeGrownMax = 16 << 20

// rangeBuffers are an iteration's buffers, returned to their pools when it
// ends.
type rangeBuffers struct {
	pooled *[]byte // from rangeBufs
	grown  *[]byte // from rangeGrownBufs or new; nil: none needed
}

// endIteration frees the engine iterator and returns the buffers. It is a
// plain function deferred with its arguments (no closure), so the defer
// costs no allocation.
func endIteration(m *Map, it *C.ns_iter, bufs *rangeBuffers) {
	C.ns_iter_free(it)
	rangeBufs.Put(bufs.pooled)
	if bufs.grown != nil && cap(*bufs.grown) <= rangeGrownMax {
		rangeGrownBufs.Put(bufs.grown)
	}
	// Keep m reachable until here: its cleanup would close the map.
	runtime.KeepAlive(m)
}

// grow is a buffer of at least need bytes for an entry larger than the
// iteration's buffer: a kept one when it is large enough, else a new one.
func (b *rangeBuffers) grow(need int) []byte {
	if b.grown == nil {
		b.grown, _ = rangeGrownBufs.Get().(*[]byte)
	}
	if b.grown == nil || len(*b.grown) < need {
		g := make([]byte, need)
		b.grown = &g
	}
	return *b.grown
}

// iterate runs one pass, calling yield for each entry until it returns false.
func (m *Map) iterate(yield func(key, value []byte) bool) error {
	var it *C.ns_iter
	if s := Status(C.ns_iter_new(m.h, &it)); s != StatusOK {
		runtime.KeepAlive(m)
		return errorOf("Range", s)
	}
	// The iterator holds its own reference to the engine's map, so it stays
	// valid whatever happens to m; it is freed however the loop ends.
	bufs := rangeBuffers{pooled: rangeBufs.Get().(*[]byte)}
	defer endIteration(m, it, &bufs)
	// Entries are copied into Go memory (pointer-free, so it may be handed
	// to C for the call) and reused for every chunk: a slice the caller
	// keeps by mistake sees later bytes, but never freed memory.
	buf := *bufs.pooled
	for {
		var n, used C.size_t
		s := Status(C.ns_iter_next_many(it, bytesPtr(buf), C.size_t(len(buf)), &n, &used))
		switch s {
		case StatusOK:
		case StatusNotFound:
			return nil
		case StatusBufferTooSmall:
			// The next entry alone needs `used` bytes; it was not consumed,
			// so the next call returns it.
			buf = bufs.grow(max(int(used), 2*len(buf)))
			continue
		default:
			return errorOf("Range", s)
		}
		// n entries, each [key_len u32 LE][value_len u32 LE][key][value].
		chunk := buf[:used]
		for range int(n) {
			kn := int(binary.LittleEndian.Uint32(chunk))
			vn := int(binary.LittleEndian.Uint32(chunk[4:]))
			chunk = chunk[iterEntryHeaderSize:]
			// Capacities end at each slice, so an append by the caller
			// copies instead of overwriting the next bytes.
			k := chunk[:kn:kn]
			v := chunk[kn : kn+vn : kn+vn]
			chunk = chunk[kn+vn:]
			if !yield(k, v) {
				return nil
			}
		}
	}
}

// Entry is one key and value, for ReplaceAll.
type Entry struct {
	Key, Value []byte
}

// ReplaceAll atomically replaces the whole contents of the map with
// entries: the "hot reload". The new contents are built while the old ones
// keep serving; then every shard switches at once, so no reader ever sees a
// mix of old and new, and once any reader has seen a new value no later
// read returns an old one. Later duplicates of a key win. An oversized
// entry (ErrKeyTooLarge, ErrValueTooLarge) or contents over the memory
// limit (ErrFull) fail the call and change nothing.
func (m *Map) ReplaceAll(entries []Entry) error {
	size := 0
	for _, e := range entries {
		size += len(e.Key) + len(e.Value)
	}
	arena := make([]byte, 0, size)
	spans := make([]span, 0, 2*len(entries))
	for _, e := range entries {
		spans = append(spans, span{len(arena), len(e.Key)})
		arena = append(arena, e.Key...)
		spans = append(spans, span{len(arena), len(e.Value)})
		arena = append(arena, e.Value...)
	}
	return m.replaceAll(arena, spans)
}

// ReplaceAllSeq is ReplaceAll fed by an iterator (a generator, a decoder
// reading a snapshot file, another map's All): the entries are copied as
// they come, so the sequence's slices may be reused between steps.
func (m *Map) ReplaceAllSeq(entries iter.Seq2[[]byte, []byte]) error {
	var arena []byte
	var spans []span
	for k, v := range entries {
		spans = append(spans, span{len(arena), len(k)})
		arena = append(arena, k...)
		spans = append(spans, span{len(arena), len(v)})
		arena = append(arena, v...)
	}
	return m.replaceAll(arena, spans)
}

// replaceAll hands the entries to ns_replace_all: one pointer-free Go arena
// holding every key and value (pinned for the call), described by an
// ns_entry array in C memory so the garbage collector never scans it.
func (m *Map) replaceAll(arena []byte, spans []span) error {
	n := len(spans) / 2
	var entries *C.ns_entry
	if n > 0 {
		entries = (*C.ns_entry)(C.calloc(C.size_t(n), C.size_t(unsafe.Sizeof(C.ns_entry{}))))
		if entries == nil {
			return &Error{Status: StatusResource, Op: "ReplaceAll"}
		}
		defer C.free(unsafe.Pointer(entries))
	}
	var pin runtime.Pinner
	defer pin.Unpin()
	if len(arena) > 0 {
		pin.Pin(&arena[0])
	}
	es := unsafe.Slice(entries, n)
	for i := range es {
		es[i].key = ptrAt(arena, spans[2*i])
		es[i].key_len = C.size_t(spans[2*i].n)
		es[i].value = ptrAt(arena, spans[2*i+1])
		es[i].value_len = C.size_t(spans[2*i+1].n)
	}
	s := Status(C.ns_replace_all(m.h, entries, C.size_t(n)))
	runtime.KeepAlive(m)
	runtime.KeepAlive(arena)
	return errorOf("ReplaceAll", s)
}
