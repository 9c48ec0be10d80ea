//go:build linux && cgo

package numashard

/*
#include "numashard.h"
*/
import "C"

import (
	"math"
	"runtime"
	"strconv"
	"time"
	"unsafe"
)

// Cache mode: eviction under the memory limit (Config.Eviction), per-entry
// time to live (StoreTTL, Expire, Persist, TTL, the batch TTL kinds,
// Config.DefaultTTL) and hit/miss counters (Stats). Expiry is checked at
// read time against a monotonic clock, not left to a sweeper; the memory
// of expired entries is reclaimed lazily and by the shard threads in the
// background. Times to live are kept in whole milliseconds, rounded up.

// Eviction is what a map does when a store would pass Config.MemoryLimit.
type Eviction int32

// Eviction policies, the C ABI's ns_eviction values.
const (
	// EvictionNone refuses the store with ErrFull and changes nothing (the
	// default: a map never drops what it was given).
	EvictionNone Eviction = 0
	// EvictionS3FIFO makes the map a cache: each shard keeps within
	// MemoryLimit/shards by evicting entries with S3-FIFO (scan-resistant:
	// one pass over many keys does not flush the hot ones). A store
	// answers ErrFull only when the entry alone is larger than a shard's
	// share. Needs Config.MemoryLimit; hits and misses are always counted.
	EvictionS3FIFO Eviction = 1
)

// String is the policy's name ("none", "s3fifo").
func (e Eviction) String() string {
	switch e {
	case EvictionNone:
		return "none"
	case EvictionS3FIFO:
		return "s3fifo"
	}
	return "Eviction(" + strconv.Itoa(int(e)) + ")"
}

// NoExpiry as a time to live means "never expires": StoreTTL(k, v,
// NoExpiry) stores an entry without a deadline whatever Config.DefaultTTL
// says, Expire(k, NoExpiry) is Persist(k), and TTL reports NoExpiry for an
// entry that has no deadline. It is the largest time.Duration (~292 years).
const NoExpiry time.Duration = math.MaxInt64

// Batch operation kinds of cache mode (the C ABI's values).
const (
	// OpExpire sets an entry's time to live.
	OpExpire OpKind = 9
	// OpTTL reads an entry's remaining time to live.
	OpTTL OpKind = 10
	// opRejected is a kind the engine does not know: it answers
	// StatusInvalidArgument for that op alone and changes nothing. A
	// TTL store with a time to live <= 0 is sent as one.
	opRejected OpKind = -1
)

// noExpiryMillis is NS_NO_EXPIRY, C's "never" in milliseconds.
const noExpiryMillis = math.MaxUint64

// The values above restate the C header's; the build fails if one differs.
func _() {
	var same [1]struct{}
	_ = same[int(OpExpire)-int(C.NS_OP_EXPIRE)]
	_ = same[int(OpTTL)-int(C.NS_OP_TTL)]
	_ = same[int(EvictionNone)-int(C.NS_EVICTION_NONE)]
	_ = same[int(EvictionS3FIFO)-int(C.NS_EVICTION_S3FIFO)]
	_ = same[noExpiryMillis-uint64(C.NS_NO_EXPIRY)]
}

// ttlMillis is a positive time to live in the C ABI's milliseconds,
// rounded up (so that 1ns still expires, after 1 ms, rather than meaning
// "the default"); NoExpiry is NS_NO_EXPIRY, <= 0 is 0.
func ttlMillis(ttl time.Duration) uint64 {
	switch {
	case ttl == NoExpiry:
		return noExpiryMillis
	case ttl <= 0:
		return 0
	}
	ms := uint64(ttl / time.Millisecond)
	if ttl%time.Millisecond != 0 {
		ms++
	}
	return ms
}

// ttlOf is a remaining time to live from the C ABI (ms, -1 = never).
func ttlOf(ms int64) time.Duration {
	if ms < 0 {
		return NoExpiry
	}
	return time.Duration(ms) * time.Millisecond
}

// StoreTTL sets the value for key with a time to live: the entry is visible
// until ttl from now (rounded up to a millisecond) and never after: from
// its deadline on no Load, batch, Range or Len sees it (checked at read
// time against the monotonic clock). NoExpiry stores
// it without a deadline, whatever Config.DefaultTTL says. A ttl <= 0 is
// ErrInvalidArgument and stores nothing (to drop a key now, use Delete or
// Expire(key, 0)).
//
// Other writes and deadlines: Store and Swap replace an entry's deadline
// with the map's DefaultTTL (none if unset), as Redis's SET does;
// CompareAndSwap, Add, and StoreIfAbsent or LoadOrStore on a present key
// keep it; a write that creates an entry gives it DefaultTTL.
func (m *Map) StoreTTL(key, value []byte, ttl time.Duration) error {
	if ttl <= 0 {
		return &Error{Status: StatusInvalidArgument, Op: "StoreTTL"}
	}
	m.prefetchWrite(key)
	s := Status(C.ns_put_ttl(m.h, bytesPtr(key), C.size_t(len(key)), bytesPtr(value), C.size_t(len(value)),
		C.uint64_t(ttlMillis(ttl))))
	runtime.KeepAlive(m)
	return errorOf("StoreTTL", s)
}

// StoreIfAbsentTTL stores value with a time to live (as StoreTTL) only if
// key is absent or expired; stored reports whether it did. An existing
// entry keeps its value and its deadline.
func (m *Map) StoreIfAbsentTTL(key, value []byte, ttl time.Duration) (stored bool, err error) {
	if ttl <= 0 {
		return false, &Error{Status: StatusInvalidArgument, Op: "StoreIfAbsentTTL"}
	}
	m.prefetchWrite(key)
	s := Status(C.ns_put_if_absent_ttl(m.h, bytesPtr(key), C.size_t(len(key)), bytesPtr(value),
		C.size_t(len(value)), C.uint64_t(ttlMillis(ttl))))
	runtime.KeepAlive(m)
	switch s {
	case StatusOK:
		return true, nil
	case StatusExists:
		return false, nil
	default:
		return false, errorOf("StoreIfAbsentTTL", s)
	}
}

// LoadOrStoreTTL returns the existing value for key if present (loaded=true,
// a copy; its deadline unchanged); otherwise it stores value with a time to
// live (as StoreTTL) and returns it (loaded=false), in one atomic step: the
// cache's get-or-insert. A ttl <= 0 is ErrInvalidArgument.
func (m *Map) LoadOrStoreTTL(key, value []byte, ttl time.Duration) (actual []byte, loaded bool, err error) {
	if ttl <= 0 {
		return nil, false, &Error{Status: StatusInvalidArgument, Op: "LoadOrStoreTTL"}
	}
	// The value read is returned in this buffer (it is pinned, so it cannot
	// live on the stack): sized for a value like the one given.
	out := make([]byte, max(defaultValueSizeHint, len(value)))
	for {
		n, s := m.putIfAbsentOut(key, value, ttlMillis(ttl), out)
		switch {
		case s == StatusOK:
			return value, false, nil
		case s == StatusExists && n <= len(out):
			return out[:n:n], true, nil
		case s == StatusExists:
			// Too large for out: nothing was copied (nor changed); again
			// with room (the entry may have changed meanwhile).
			out = make([]byte, n+n/8)
		default:
			return nil, false, errorOf("LoadOrStoreTTL", s)
		}
	}
}

// putIfAbsentOut runs one NS_OP_PUT_IF_ABSENT with a time to live that
// copies the value already present into out (if it fits; its length is
// reported either way): the C ABI's get-or-put with a TTL, which it has as
// a batch kind only. The op lives on the Go stack with its buffers pinned.
func (m *Map) putIfAbsentOut(key, value []byte, ttlMs uint64, out []byte) (int, Status) {
	var pin runtime.Pinner
	defer pin.Unpin()
	for _, b := range [...][]byte{key, value, out} {
		if len(b) > 0 {
			pin.Pin(unsafe.SliceData(b))
		}
	}
	op := C.ns_op{
		kind:      C.ns_op_kind(OpPutIfAbsent),
		key:       bytesPtr(key),
		key_len:   C.size_t(len(key)),
		value:     bytesPtr(value),
		value_len: C.size_t(len(value)),
		out:       bytesPtr(out),
		out_cap:   C.size_t(len(out)),
		ttl_ms:    C.uint64_t(ttlMs),
	}
	m.prefetchWrite(key)
	s := Status(C.ns_batch(m.h, &op, 1))
	runtime.KeepAlive(m)
	if s != StatusOK {
		return 0, s
	}
	return int(op.out_len), Status(op.status)
}

// Expire sets the time to live of key's entry to ttl from now (rounded up
// to a millisecond), keeping its value. ttl <= 0 expires it at once (it is
// removed and counted in Stats.Expirations); NoExpiry removes its deadline
// (as Persist). found is false when key is absent or already expired
// (nothing changed). ErrFull is possible without eviction: an entry that
// gains a deadline grows by 8 bytes.
func (m *Map) Expire(key []byte, ttl time.Duration) (found bool, err error) {
	m.prefetchWrite(key)
	s := Status(C.ns_expire(m.h, bytesPtr(key), C.size_t(len(key)), C.uint64_t(ttlMillis(ttl))))
	runtime.KeepAlive(m)
	return foundOf("Expire", s)
}

// Persist removes the deadline of key's entry: it never expires. found is
// false when key is absent or already expired.
func (m *Map) Persist(key []byte) (found bool, err error) {
	m.prefetchWrite(key)
	s := Status(C.ns_persist(m.h, bytesPtr(key), C.size_t(len(key))))
	runtime.KeepAlive(m)
	return foundOf("Persist", s)
}

// foundOf maps a status where NotFound is a result, not an error.
func foundOf(op string, s Status) (bool, error) {
	switch s {
	case StatusOK:
		return true, nil
	case StatusNotFound:
		return false, nil
	default:
		return false, errorOf(op, s)
	}
}

// TTL returns the remaining time to live of key's entry, rounded up to a
// millisecond (so a live entry never reports 0), or NoExpiry when it has no
// deadline. ok is false when key is absent or expired.
//
//	ttl, ok, err := m.TTL(key)
//	switch {
//	case err != nil, !ok: // error; absent or expired
//	case ttl == numashard.NoExpiry: // never expires
//	default: // expires in ttl
//	}
func (m *Map) TTL(key []byte) (ttl time.Duration, ok bool, err error) {
	var ms C.int64_t
	s := Status(C.ns_ttl(m.h, bytesPtr(key), C.size_t(len(key)), &ms))
	runtime.KeepAlive(m)
	ok, err = foundOf("TTL", s)
	if !ok {
		return 0, false, err
	}
	return ttlOf(int64(ms)), true, nil
}

// StoreTTLString is StoreTTL with a string key.
func (m *Map) StoreTTLString(key string, value []byte, ttl time.Duration) error {
	return m.StoreTTL(stringBytes(key), value, ttl)
}

// StoreIfAbsentTTLString is StoreIfAbsentTTL with a string key.
func (m *Map) StoreIfAbsentTTLString(key string, value []byte, ttl time.Duration) (bool, error) {
	return m.StoreIfAbsentTTL(stringBytes(key), value, ttl)
}

// LoadOrStoreTTLString is LoadOrStoreTTL with a string key.
func (m *Map) LoadOrStoreTTLString(key string, value []byte, ttl time.Duration) ([]byte, bool, error) {
	return m.LoadOrStoreTTL(stringBytes(key), value, ttl)
}

// ExpireString is Expire with a string key.
func (m *Map) ExpireString(key string, ttl time.Duration) (bool, error) {
	return m.Expire(stringBytes(key), ttl)
}

// PersistString is Persist with a string key.
func (m *Map) PersistString(key string) (bool, error) { return m.Persist(stringBytes(key)) }

// TTLString is TTL with a string key.
func (m *Map) TTLString(key string) (time.Duration, bool, error) { return m.TTL(stringBytes(key)) }

// HitRatio is Hits / (Hits + Misses), 0 before any counted read.
func (c CacheStats) HitRatio() float64 {
	if c.Hits+c.Misses == 0 {
		return 0
	}
	return float64(c.Hits) / float64(c.Hits+c.Misses)
}

// Batch operations with a time to live. A ttl <= 0 given to PutTTL,
// PutIfAbsentTTL or SwapTTL makes that op fail alone with
// ErrInvalidArgument (Err(i)), changing nothing; the other ops run.

// putKindTTL is kind, or opRejected when ttl cannot be stored.
func putKindTTL(kind OpKind, ttl time.Duration) OpKind {
	if ttl <= 0 {
		return opRejected
	}
	return kind
}

// PutTTL adds a store of value under key with a time to live (as
// Map.StoreTTL).
func (b *Batch) PutTTL(key, value []byte, ttl time.Duration) int {
	return b.add(batchOp{kind: putKindTTL(OpPut, ttl), key: b.bytes(key), val: b.bytes(value), ttl: ttlMillis(ttl)})
}

// PutIfAbsentTTL adds a store with a time to live that happens only if key
// is absent or expired; OK(i) tells whether it stored.
func (b *Batch) PutIfAbsentTTL(key, value []byte, ttl time.Duration) int {
	return b.add(batchOp{kind: putKindTTL(OpPutIfAbsent, ttl), key: b.bytes(key), val: b.bytes(value),
		ttl: ttlMillis(ttl)})
}

// SwapTTL adds a store of value with a time to live that returns the
// previous value, as Swap.
func (b *Batch) SwapTTL(key, value []byte, ttl time.Duration) int {
	return b.add(batchOp{kind: putKindTTL(OpSwap, ttl), key: b.bytes(key), val: b.bytes(value), ttl: ttlMillis(ttl)})
}

// Expire adds a change of key's time to live, as Map.Expire (ttl <= 0
// expires it now, NoExpiry persists it); OK(i) tells whether key was found.
func (b *Batch) Expire(key []byte, ttl time.Duration) int {
	return b.add(batchOp{kind: OpExpire, key: b.bytes(key), ttl: ttlMillis(ttl)})
}

// Persist adds a removal of key's deadline; OK(i) tells whether key was found.
func (b *Batch) Persist(key []byte) int { return b.Expire(key, NoExpiry) }

// GetTTL adds a read of key's remaining time to live; its result is TTL(i).
func (b *Batch) GetTTL(key []byte) int { return b.add(batchOp{kind: OpTTL, key: b.bytes(key)}) }

// TTL is the remaining time to live a GetTTL op read (as Map.TTL: rounded
// up to a millisecond, NoExpiry when the entry has no deadline); ok is
// false when the key was absent or expired.
func (b *Batch) TTL(i int) (ttl time.Duration, ok bool) {
	op := &b.ops[i]
	if op.status != StatusOK || op.kind != OpTTL {
		return 0, false
	}
	return ttlOf(op.counter), true
}

// PutTTLString is PutTTL with a string key.
func (b *Batch) PutTTLString(key string, value []byte, ttl time.Duration) int {
	return b.PutTTL(stringBytes(key), value, ttl)
}

// PutIfAbsentTTLString is PutIfAbsentTTL with a string key.
func (b *Batch) PutIfAbsentTTLString(key string, value []byte, ttl time.Duration) int {
	return b.PutIfAbsentTTL(stringBytes(key), value, ttl)
}

// SwapTTLString is SwapTTL with a string key.
func (b *Batch) SwapTTLString(key string, value []byte, ttl time.Duration) int {
	return b.SwapTTL(stringBytes(key), value, ttl)
}

// ExpireString is Expire with a string key.
func (b *Batch) ExpireString(key string, ttl time.Duration) int {
	return b.Expire(stringBytes(key), ttl)
}

// PersistString is Persist with a string key.
func (b *Batch) PersistString(key string) int { return b.Persist(stringBytes(key)) }

// GetTTLString is GetTTL with a string key.
func (b *Batch) GetTTLString(key string) int { return b.GetTTL(stringBytes(key)) }

// StoreTTL sets the value for key with a time to live, as Map.StoreTTL.
func (t *TypedMap[K, V]) StoreTTL(key K, value V, ttl time.Duration) error {
	sc := getScratch()
	defer putScratch(sc)
	sc.key = t.kc.Append(sc.key[:0], key)
	sc.val = t.vc.Append(sc.val[:0], value)
	return t.m.StoreTTL(sc.key, sc.val, ttl)
}

// StoreIfAbsentTTL stores value with a time to live only if key is absent
// or expired, as Map.StoreIfAbsentTTL.
func (t *TypedMap[K, V]) StoreIfAbsentTTL(key K, value V, ttl time.Duration) (stored bool, err error) {
	sc := getScratch()
	defer putScratch(sc)
	sc.key = t.kc.Append(sc.key[:0], key)
	sc.val = t.vc.Append(sc.val[:0], value)
	return t.m.StoreIfAbsentTTL(sc.key, sc.val, ttl)
}

// LoadOrStoreTTL returns the existing value for key if present
// (loaded=true); otherwise it stores value with a time to live and returns
// it, in one atomic step, as Map.LoadOrStoreTTL.
func (t *TypedMap[K, V]) LoadOrStoreTTL(key K, value V, ttl time.Duration) (actual V, loaded bool, err error) {
	sc := getScratch()
	defer putScratch(sc)
	sc.key = t.kc.Append(sc.key[:0], key)
	sc.val = t.vc.Append(sc.val[:0], value)
	v, loaded, err := t.m.LoadOrStoreTTL(sc.key, sc.val, ttl)
	switch {
	case err != nil:
		return actual, false, err
	case !loaded:
		return value, false, nil
	}
	actual, err = t.vc.Decode(v)
	return actual, true, err
}

// Expire sets key's time to live, as Map.Expire.
func (t *TypedMap[K, V]) Expire(key K, ttl time.Duration) (found bool, err error) {
	sc := getScratch()
	defer putScratch(sc)
	sc.key = t.kc.Append(sc.key[:0], key)
	return t.m.Expire(sc.key, ttl)
}

// Persist removes key's deadline, as Map.Persist.
func (t *TypedMap[K, V]) Persist(key K) (found bool, err error) { return t.Expire(key, NoExpiry) }

// TTL returns key's remaining time to live, as Map.TTL.
func (t *TypedMap[K, V]) TTL(key K) (ttl time.Duration, ok bool, err error) {
	sc := getScratch()
	defer putScratch(sc)
	sc.key = t.kc.Append(sc.key[:0], key)
	return t.m.TTL(sc.key)
}
