//go:build linux && cgo

package numashard

/*
#include "numashard.h"
*/
import "C"

import (
	"runtime"
	"slices"
)

// GetBatch is a list of gets run by Map.RunGets with one cgo call: the
// all-get case of Batch, laid out for it. Keys are copied back to back into
// one buffer, and each value is read into room the batch reserves per key,
// so adding a key costs a copy of its bytes and a length, and the engine
// reads the batch's arrays as they are (no operation records on either
// side). A Batch of gets only runs the same way; GetBatch also reads the
// keys' outcomes without an op record on the Go side. Use Batch to mix in
// other operations.
//
// Like Batch, a GetBatch is reusable (Reset) and allocation-free once warm,
// must not be used by two goroutines at once, and its values (Value) point
// into it until the next Reset or RunGets. A value that did not fit its
// room is read again on its own, with room for it, before RunGets returns.
type GetBatch struct {
	keys  []byte     // the keys, back to back
	klens []C.size_t // each key's length
	out   []byte     // the value of key i at out[i*stride:], when it fits
	vlens []C.size_t // each value's length
	sts   []C.ns_status
	// stride is the room per key of the last RunGets.
	stride int
	// over holds the values re-read because they did not fit their room;
	// moved says where, in key order.
	over  []byte
	moved []movedValue
	// ValueSizeHint is the room reserved per key; 0 = 64 bytes. It grows
	// to the largest value a RunGets has seen, up to 4 KiB, or more while
	// the room for all keys stays within 4 MiB (autoRoom); set it higher to
	// reserve more.
	ValueSizeHint int
}

// movedValue is a value of op i at over[off:].
type movedValue struct{ i, off int }

// NewGetBatch returns an empty batch of gets with room for n keys of 16
// bytes (it grows as needed).
func NewGetBatch(n int) *GetBatch {
	return &GetBatch{keys: make([]byte, 0, 16*n), klens: make([]C.size_t, 0, n)}
}

// Len is the number of gets in the batch.
func (g *GetBatch) Len() int { return len(g.klens) }

// Reset empties the batch, keeping its memory.
func (g *GetBatch) Reset() {
	g.keys = g.keys[:0]
	g.klens = g.klens[:0]
	g.sts = g.sts[:0]
	g.moved = g.moved[:0]
}

// Get adds a get of key (copied into the batch; key may be reused at once)
// and returns its index.
func (g *GetBatch) Get(key []byte) int {
	g.keys = append(g.keys, key...)
	g.klens = append(g.klens, C.size_t(len(key)))
	return len(g.klens) - 1
}

// GetString is Get with a string key.
func (g *GetBatch) GetString(key string) int { return g.Get(stringBytes(key)) }

// Status is the raw outcome of get i after RunGets: StatusOK,
// StatusNotFound, StatusKeyTooLarge, or the whole call's error.
func (g *GetBatch) Status(i int) Status {
	_ = g.klens[i] // an index the batch has, run or not
	if i >= len(g.sts) {
		return StatusInvalidArgument // added after the last RunGets
	}
	return Status(g.sts[i])
}

// OK reports whether get i found its key.
func (g *GetBatch) OK(i int) bool { return g.Status(i) == StatusOK }

// Err is get i's error, nil unless its status is an error
// (ErrKeyTooLarge, ErrClosed); not found is not an error.
func (g *GetBatch) Err(i int) error {
	if s := g.Status(i); s >= StatusInvalidArgument {
		return &Error{Status: s, Op: "GetBatch"}
	}
	return nil
}

// Value is the value get i found (ok=true), pointing into the batch until
// the next Reset or RunGets.
func (g *GetBatch) Value(i int) (value []byte, ok bool) {
	if !g.OK(i) {
		return nil, false
	}
	n := int(g.vlens[i])
	for _, mv := range g.moved {
		if mv.i == i {
			return g.over[mv.off : mv.off+n : mv.off+n], true
		}
	}
	off := i * g.stride
	return g.out[off : off+n : off+n], true
}

// RunGets runs every get of g with one cgo call (the engine's batch read
// overlaps the keys' memory misses with prefetches; measured faster than
// direct reads from Go, bench/results/go.md run 9). The error is nil, or
// ErrClosed when the map is closed (then no get ran); per-key outcomes are
// read with Status, OK, Err and Value.
func (m *Map) RunGets(g *GetBatch) error {
	n := len(g.klens)
	if n == 0 {
		return m.closedError("RunGets")
	}
	stride, err := m.roomPerValue(g.ValueSizeHint, n, "RunGets")
	if err != nil {
		return err
	}
	g.stride = stride
	if cap(g.out) < n*stride {
		g.out = make([]byte, n*stride)
	}
	g.out = g.out[:n*stride]
	if cap(g.vlens) < n {
		g.vlens = make([]C.size_t, n)
		g.sts = make([]C.ns_status, n)
	}
	g.vlens, g.sts = g.vlens[:n], g.sts[:n]
	g.moved = g.moved[:0]
	// Keys were copied in, so a key taken from a Value is no exception to
	// getMany's rule.
	s := m.getMany(g.keys, g.klens, g.out, stride, g.vlens, g.sts)
	switch s {
	case StatusOK:
		return nil
	case StatusBufferTooSmall:
		return m.rereadLarge(g)
	default:
		return errorOf("RunGets", s)
	}
}

// getMany is one ns_get_many call: the gets of len(klens) keys lying back
// to back in keys, each value into its stride bytes of out, each length and
// status into vlens and sts (as long as klens, at least one). The arrays
// must be the caller's own, each a separate allocation, so that none
// overlaps another as ns_get_many requires; they hold plain bytes and
// integers, which cgo passes as they are, with nothing to pin.
func (m *Map) getMany(keys []byte, klens []C.size_t, out []byte, stride int, vlens []C.size_t, sts []C.ns_status) Status {
	s := Status(C.ns_get_many(m.h, C.size_t(len(klens)), bytesPtr(keys), &klens[0],
		bytesPtr(out), C.size_t(stride), &vlens[0], &sts[0]))
	runtime.KeepAlive(m)
	return s
}

// rereadLarge reads again, each on its own and with room for it, the
// values that did not fit their room, into g.over; the next RunGets
// reserves room for the largest, up to autoRoom.
func (m *Map) rereadLarge(g *GetBatch) error {
	g.over = g.over[:0]
	at := 0
	for i, kl := range g.klens {
		key := g.keys[at : at+int(kl)]
		at += int(kl)
		if Status(g.sts[i]) != StatusBufferTooSmall {
			continue
		}
		need := int(g.vlens[i])
		g.ValueSizeHint = max(g.ValueSizeHint, min(need, autoRoom(len(g.klens))))
		start := len(g.over)
		g.over = slices.Grow(g.over, need)
		n, grown, s := m.readGrowing(readGetOwned, key, nil, g.over)
		if grown != nil {
			g.over = grown[:start]
		}
		g.sts[i] = C.ns_status(s)
		g.vlens[i] = 0
		switch s {
		case StatusOK:
			g.vlens[i] = C.size_t(n)
			g.over = g.over[:start+n]
			g.moved = append(g.moved, movedValue{i, start})
		case StatusNotFound:
		default:
			return errorOf("RunGets", s)
		}
	}
	return nil
}
