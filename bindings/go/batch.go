//go:build linux && cgo

package numashard

/*
#include <stdlib.h>
#include "numashard.h"
*/
import "C"

import (
	"math"
	"runtime"
	"sync"
	"unsafe"
)

// OpKind is what one operation of a Batch does.
type OpKind int32

// Operation kinds, the C ABI's ns_op_kind values (checked against the
// header when the package builds).
const (
	OpGet         OpKind = 0 // load the value
	OpPut         OpKind = 1 // store a value
	OpPutIfAbsent OpKind = 2 // store only if the key is absent
	OpDelete      OpKind = 3 // remove
	OpTake        OpKind = 4 // remove and return the value
	OpCAS         OpKind = 5 // replace only if the value equals the expected one
	OpAdd         OpKind = 6 // add to an 8-byte little-endian counter
	// OpCompareAndDelete removes only if the value equals the expected one.
	OpCompareAndDelete OpKind = 7
	// OpSwap stores a value and returns the previous one.
	OpSwap OpKind = 8
)

// span is a range of a Batch's data arena.
type span struct{ off, n int }

type batchOp struct {
	kind          OpKind
	key, val, exp span
	delta         int64
	ttl           uint64 // ns_op.ttl_ms: the TTL variants' (cache.go), else 0
	out           span   // where get/take copy the value, in the output arena
	status        Status
	outLen        int
	counter       int64
}

// Batch is a list of operations run by Map.Run with one cgo call and one
// call into the engine, which splits it by shard and runs the parts in
// parallel. Operations on the same key keep their order. Every operation
// gets its own result, read by index after Run.
//
// Keys and values are copied into the batch when an operation is added, so
// the caller's slices may be reused at once. Values returned by Value point
// into the batch and stay valid until the next Reset or Run; copy them to
// keep them. A Batch is reusable (Reset) and allocation-free once warm; it
// must not be used by two goroutines at once.
//
// Gets, takes and swaps copy a value into room the batch reserves per op
// (ValueSizeHint, adapted to the largest value seen). An op whose value did
// not fit changed nothing and is run again right after, on its own with room
// for it; if the same batch also wrote that key, such a retried op sees the
// write (and a retried take or swap acts after the batch's later ops).
//
// A Batch of gets only runs as a GetBatch does (one ns_get_many call, no
// per-op record in the engine): 0.6-0.8 of the time per key it took
// through ns_batch (bench/results/go.md, run 22).
type Batch struct {
	ops  []batchOp
	data []byte // keys, values and expected values, back to back
	out  []byte // get/take outputs
	c    *cOps  // the ns_op array handed to C, in C memory
	pin  runtime.Pinner
	// The arrays of an all-get run through ns_get_many (runGets).
	klens, vlens []C.size_t
	sts          []C.ns_status
	// ValueSizeHint is the room reserved per get/take/swap; 0 = 64 bytes. It
	// grows to the largest value a Run has seen, up to 4 KiB, or more while
	// the room for all ops stays within 4 MiB (autoRoom); set it higher to
	// reserve more.
	ValueSizeHint int
}

const defaultValueSizeHint = 64

// A Batch or GetBatch grows the room it reserves per key by itself only so
// far: to at least maxAutoRoom (4 KiB), and beyond that as long as the
// room for all its keys stays within autoRoomBudget (4 MiB; 16 KiB per key
// for 256 keys). A larger value is read again on its own, with room for
// it. One large value among many small ones must not make every later run
// of the batch reserve that much for every key (256 keys and a 1 MiB value
// would reserve 256 MiB). A ValueSizeHint the caller sets is kept.
const (
	maxAutoRoom    = 4 << 10
	autoRoomBudget = 4 << 20
)

// autoRoom is the most room per key a batch of n keys grows to by itself.
func autoRoom(n int) int { return max(maxAutoRoom, autoRoomBudget/max(n, 1)) }

// pooledBatchKeep is the most room a pooled batch keeps for values when it
// goes back to its pool; a bigger one is left to the collector.
const pooledBatchKeep = autoRoomBudget

// cOps is the ns_op array of a Batch. It lives in C memory so that cgo
// does not scan it on every call (its pointers point into the batch's
// pinned arenas); the garbage collector frees it with its Batch.
type cOps struct {
	p *C.ns_op
	n int
}

func freeCOps(c *cOps) { C.free(unsafe.Pointer(c.p)) }

// cArray returns the C ns_op array, with room for at least n ops.
func (b *Batch) cArray(n int) ([]C.ns_op, error) {
	if b.c == nil {
		b.c = &cOps{}
		runtime.AddCleanup(b, freeCOps, b.c)
	}
	if b.c.n < n {
		n = max(n, 2*b.c.n, 16)
		p := (*C.ns_op)(C.realloc(unsafe.Pointer(b.c.p), C.size_t(n)*C.size_t(unsafe.Sizeof(C.ns_op{}))))
		if p == nil {
			return nil, &Error{Status: StatusResource, Op: "Run"}
		}
		b.c.p, b.c.n = p, n
	}
	return unsafe.Slice(b.c.p, b.c.n), nil
}

// NewBatch returns an empty batch with room for n operations.
func NewBatch(n int) *Batch {
	return &Batch{ops: make([]batchOp, 0, n)}
}

// Len is the number of operations in the batch.
func (b *Batch) Len() int { return len(b.ops) }

// Reset empties the batch, keeping its memory.
func (b *Batch) Reset() {
	b.ops = b.ops[:0]
	b.data = b.data[:0]
}

func (b *Batch) bytes(p []byte) span {
	s := span{len(b.data), len(p)}
	b.data = append(b.data, p...)
	return s
}

func (b *Batch) add(op batchOp) int {
	// Not run yet: no outcome to report (Run writes every op's status).
	op.status = StatusInvalidArgument
	b.ops = append(b.ops, op)
	return len(b.ops) - 1
}

// Get adds a get of key; its result is Value(i).
func (b *Batch) Get(key []byte) int { return b.add(batchOp{kind: OpGet, key: b.bytes(key)}) }

// Put adds a store of value under key.
func (b *Batch) Put(key, value []byte) int {
	return b.add(batchOp{kind: OpPut, key: b.bytes(key), val: b.bytes(value)})
}

// PutIfAbsent adds a store that happens only if key is absent; OK(i) tells
// whether it stored.
func (b *Batch) PutIfAbsent(key, value []byte) int {
	return b.add(batchOp{kind: OpPutIfAbsent, key: b.bytes(key), val: b.bytes(value)})
}

// Delete adds a removal of key; OK(i) tells whether it was present.
func (b *Batch) Delete(key []byte) int { return b.add(batchOp{kind: OpDelete, key: b.bytes(key)}) }

// Take adds a removal of key that returns its value in Value(i).
func (b *Batch) Take(key []byte) int { return b.add(batchOp{kind: OpTake, key: b.bytes(key)}) }

// Swap adds a store of value under key that returns the previous value:
// Value(i) when OK(i), Status(i) == StatusNotFound when there was none (the
// value was inserted).
func (b *Batch) Swap(key, value []byte) int {
	return b.add(batchOp{kind: OpSwap, key: b.bytes(key), val: b.bytes(value)})
}

// CompareAndSwap adds a swap of old for new under key; OK(i) tells whether
// it swapped.
func (b *Batch) CompareAndSwap(key, old, new []byte) int {
	return b.add(batchOp{kind: OpCAS, key: b.bytes(key), exp: b.bytes(old), val: b.bytes(new)})
}

// CompareAndDelete adds a removal of key if its value equals old; OK(i)
// tells whether it removed, Status(i) why not (StatusMismatch, StatusNotFound).
func (b *Batch) CompareAndDelete(key, old []byte) int {
	return b.add(batchOp{kind: OpCompareAndDelete, key: b.bytes(key), exp: b.bytes(old)})
}

// Add adds a counter addition; the new value is Counter(i).
func (b *Batch) Add(key []byte, delta int64) int {
	return b.add(batchOp{kind: OpAdd, key: b.bytes(key), delta: delta})
}

// String-key twins of the adders above.

// GetString is Get with a string key.
func (b *Batch) GetString(key string) int { return b.Get(stringBytes(key)) }

// PutString is Put with a string key.
func (b *Batch) PutString(key string, value []byte) int { return b.Put(stringBytes(key), value) }

// PutIfAbsentString is PutIfAbsent with a string key.
func (b *Batch) PutIfAbsentString(key string, value []byte) int {
	return b.PutIfAbsent(stringBytes(key), value)
}

// DeleteString is Delete with a string key.
func (b *Batch) DeleteString(key string) int { return b.Delete(stringBytes(key)) }

// TakeString is Take with a string key.
func (b *Batch) TakeString(key string) int { return b.Take(stringBytes(key)) }

// SwapString is Swap with a string key.
func (b *Batch) SwapString(key string, value []byte) int { return b.Swap(stringBytes(key), value) }

// CompareAndSwapString is CompareAndSwap with a string key.
func (b *Batch) CompareAndSwapString(key string, old, new []byte) int {
	return b.CompareAndSwap(stringBytes(key), old, new)
}

// CompareAndDeleteString is CompareAndDelete with a string key.
func (b *Batch) CompareAndDeleteString(key string, old []byte) int {
	return b.CompareAndDelete(stringBytes(key), old)
}

// AddString is Add with a string key.
func (b *Batch) AddString(key string, delta int64) int { return b.Add(stringBytes(key), delta) }

// Status is the raw outcome of op i after Run; StatusInvalidArgument for
// an op added since the last Run (as GetBatch answers).
func (b *Batch) Status(i int) Status { return b.ops[i].status }

// OK reports whether op i did what it asks: the key was found (get, take,
// delete), the value was stored (put, put-if-absent, add), the swap
// happened (compare-and-swap).
func (b *Batch) OK(i int) bool { return b.ops[i].status == StatusOK }

// Err is op i's error, nil unless its status is an error (ErrKeyTooLarge,
// ErrFull, ErrNotACounter, ...). Not found, exists and mismatch are not errors.
func (b *Batch) Err(i int) error {
	if s := b.ops[i].status; s >= StatusInvalidArgument {
		return &Error{Status: s, Op: "Batch"}
	}
	return nil
}

// Value is the value a get or take found, or the value a swap replaced
// (ok=true), pointing into the batch until the next Reset or Run.
func (b *Batch) Value(i int) (value []byte, ok bool) {
	op := &b.ops[i]
	if op.status != StatusOK || (op.kind != OpGet && op.kind != OpTake && op.kind != OpSwap) {
		return nil, false
	}
	return b.out[op.out.off : op.out.off+op.outLen : op.out.off+op.outLen], true
}

// Counter is the new value of the counter an Add op updated.
func (b *Batch) Counter(i int) int64 { return b.ops[i].counter }

func ptrAt(buf []byte, s span) *C.uint8_t {
	if s.n == 0 {
		return nil
	}
	return (*C.uint8_t)(unsafe.Pointer(&buf[s.off]))
}

// Run executes every operation of b with one cgo call. The error is nil,
// or ErrClosed when the map is closed (then no op ran); per-op outcomes and
// errors are read with Status, OK, Err, Value and Counter.
func (m *Map) Run(b *Batch) error {
	if len(b.ops) == 0 {
		return m.closedError("Run")
	}
	hint, err := m.roomPerValue(b.ValueSizeHint, len(b.ops), "Run")
	if err != nil {
		return err
	}
	// Reserve output room for gets and takes.
	total := 0
	// Gets only, their keys back to back: one ns_get_many call, without
	// an ns_op per key (runGets).
	gets, keyEnd := true, 0
	for i := range b.ops {
		op := &b.ops[i]
		op.out = span{}
		if op.kind == OpGet || op.kind == OpTake || op.kind == OpSwap {
			op.out = span{total, hint}
			total += hint
		}
		gets = gets && op.kind == OpGet && op.key.off == keyEnd
		keyEnd += op.key.n
	}
	if cap(b.out) < total {
		b.out = make([]byte, total)
	}
	b.out = b.out[:total]
	if gets {
		err = m.runGets(b, hint, keyEnd)
	} else {
		err = m.runOps(b, b.ops, nil)
	}
	if err != nil {
		return err
	}
	// Ops whose value outgrew its room: again, each with room for it.
	for {
		var retry []int
		for i := range b.ops {
			if b.ops[i].status == StatusBufferTooSmall {
				retry = append(retry, i)
			}
		}
		if len(retry) == 0 {
			break
		}
		need := len(b.out)
		for _, i := range retry {
			op := &b.ops[i]
			op.out = span{need, op.outLen}
			need += op.outLen
			b.ValueSizeHint = max(b.ValueSizeHint, min(op.outLen, autoRoom(len(b.ops))))
		}
		grown := make([]byte, need)
		copy(grown, b.out)
		b.out = grown
		sub := make([]batchOp, len(retry))
		for j, i := range retry {
			sub[j] = b.ops[i]
		}
		if err := m.runOps(b, sub, retry); err != nil {
			return err
		}
	}
	return nil
}

// runOps hands ops to ns_batch in one call, writing the results of ops[i]
// to b.ops[at[i]], or to ops[i] itself when at is nil. The arenas the C
// ops point into are pinned for the call.
func (m *Map) runOps(b *Batch, ops []batchOp, at []int) error {
	dst := func(i int) *batchOp {
		if at == nil {
			return &ops[i]
		}
		return &b.ops[at[i]]
	}
	all, err := b.cArray(len(ops))
	if err != nil {
		return err
	}
	c := all[:len(ops)]
	if len(b.data) > 0 {
		b.pin.Pin(&b.data[0])
	}
	if len(b.out) > 0 {
		b.pin.Pin(&b.out[0])
	}
	// Keys, values and expected values point into b.data, outputs into
	// b.out (disjoint spans), the ops into C memory: no out buffer overlaps
	// another buffer or the ops, as ns_batch requires, whatever the caller
	// passed (it was copied in).
	for i := range ops {
		op := &ops[i]
		c[i] = C.ns_op{
			kind:         C.ns_op_kind(op.kind),
			key:          ptrAt(b.data, op.key),
			key_len:      C.size_t(op.key.n),
			value:        ptrAt(b.data, op.val),
			value_len:    C.size_t(op.val.n),
			expected:     ptrAt(b.data, op.exp),
			expected_len: C.size_t(op.exp.n),
			delta:        C.int64_t(op.delta),
			out:          ptrAt(b.out, op.out),
			out_cap:      C.size_t(op.out.n),
			ttl_ms:       C.uint64_t(op.ttl),
		}
	}
	s := Status(C.ns_batch(m.h, &c[0], C.size_t(len(c))))
	runtime.KeepAlive(m)
	runtime.KeepAlive(b)
	if s == StatusOK {
		for i := range c {
			d := dst(i)
			d.status = Status(c[i].status)
			d.outLen = int(c[i].out_len)
			d.counter = int64(c[i].out_counter)
		}
	}
	// Leave no pointer into the arenas in C memory once they are unpinned.
	clear(c)
	b.pin.Unpin()
	if s != StatusOK {
		for i := range ops {
			dst(i).status = s
		}
		return errorOf("Run", s)
	}
	return nil
}

// runGets runs a batch of gets only, whose keys lie back to back in
// b.data[:keyEnd] and whose rooms are hint bytes each, back to back in
// b.out, with one ns_get_many call: the engine reads the arrays as they
// are, with no ns_op per key (as GetBatch does; 0.6-0.8 of the time per
// key of ns_batch for small values, bench/results/go.md run 22).
func (m *Map) runGets(b *Batch, hint, keyEnd int) error {
	n := len(b.ops)
	if cap(b.klens) < n {
		b.klens = make([]C.size_t, n)
		b.vlens = make([]C.size_t, n)
		b.sts = make([]C.ns_status, n)
	}
	b.klens, b.vlens, b.sts = b.klens[:n], b.vlens[:n], b.sts[:n]
	for i := range b.ops {
		b.klens[i] = C.size_t(b.ops[i].key.n)
	}
	// The keys, the rooms and the three arrays are the batch's own.
	s := m.getMany(b.data[:keyEnd], b.klens, b.out, hint, b.vlens, b.sts)
	if s != StatusOK && s != StatusBufferTooSmall {
		for i := range b.ops {
			b.ops[i].status = s
		}
		return errorOf("Run", s)
	}
	for i := range b.ops {
		op := &b.ops[i]
		op.status = Status(b.sts[i])
		op.outLen = int(b.vlens[i])
		op.counter = 0
	}
	return nil
}

var getBatchPool = sync.Pool{New: func() any { return NewGetBatch(64) }}

// LoadMany loads many keys with one cgo call. values[i] is the value of
// keys[i], or nil when absent (a present empty value is a non-nil empty
// slice). All values share one allocation.
func (m *Map) LoadMany(keys [][]byte) (values [][]byte, err error) {
	g := getBatchPool.Get().(*GetBatch)
	defer putGetBatch(&getBatchPool, g)
	g.Reset()
	for _, k := range keys {
		g.Get(k)
	}
	if err := m.RunGets(g); err != nil {
		return nil, err
	}
	values = make([][]byte, len(keys))
	size := 0
	for i := range keys {
		if v, ok := g.Value(i); ok {
			size += len(v)
		} else if e := g.Err(i); e != nil {
			return nil, e
		}
	}
	all := make([]byte, 0, size)
	for i := range keys {
		if v, ok := g.Value(i); ok {
			start := len(all)
			all = append(all, v...)
			values[i] = all[start:len(all):len(all)]
		}
	}
	return values, nil
}

// putGetBatch returns g to pool unless its room for values outgrew
// pooledBatchKeep (a call with many keys, or a ValueSizeHint set high).
func putGetBatch(pool *sync.Pool, g *GetBatch) {
	if cap(g.out)+cap(g.over)+cap(g.keys) <= pooledBatchKeep {
		pool.Put(g)
	}
}

// putBatch returns b to pool unless its buffers outgrew pooledBatchKeep.
func putBatch(pool *sync.Pool, b *Batch) {
	if cap(b.out)+cap(b.data) <= pooledBatchKeep {
		pool.Put(b)
	}
}

// roomPerValue is the room a batch of n ops reserves per value for a
// ValueSizeHint of hint: 64 bytes for 0 or less, never more than the
// map's largest value; ErrInvalidArgument when n of them overflow.
func (m *Map) roomPerValue(hint, n int, op string) (int, error) {
	if hint <= 0 {
		hint = defaultValueSizeHint
	}
	hint = min(hint, max(m.maxValue, 1))
	if n > 0 && hint > math.MaxInt/n {
		return 0, errorOf(op, StatusInvalidArgument)
	}
	return hint, nil
}
