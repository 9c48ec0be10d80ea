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
	"strings"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/numashard/numashard/bindings/go/internal/overlap"
)

// Config selects how a map is built. The zero value is a good default: one
// shard per allowed CPU on the real machine, no memory limit, the engine's
// default key and value size limits.
type Config struct {
	// Shards is the number of shards; 0 = one per allowed CPU.
	Shards int
	// MemoryLimit caps the bytes entries may cost (key, value, per-entry
	// overhead); a store that would exceed it fails with ErrFull, or evicts
	// when Eviction is set. 0 = none.
	MemoryLimit uint64
	// MaxKeyLen is the largest key accepted; 0 = the engine default (4 KiB).
	MaxKeyLen int
	// MaxValueLen is the largest value accepted; 0 = the engine default (4 MiB).
	MaxValueLen int
	// Topology is a synthetic hwloc topology ("pack:2 [numa] core:2 pu:1"),
	// used for tests of placement on machines with fewer nodes. Empty = the
	// NUMASHARD_TOPOLOGY environment variable, then the real machine.
	Topology string
	// TopologyXML is the path of an hwloc XML topology file. Empty = the
	// NUMASHARD_TOPOLOGY_XML environment variable, then the real machine.
	TopologyXML string
	// Nodes restricts the map to these NUMA nodes (OS indexes); nil = all.
	Nodes []uint32
	// ShardsPerNode gives an explicit shard count per used node; overrides Shards.
	ShardsPerNode []uint32
	// HashSeed seeds the key hash that routes keys to shards; 0 = the default seed.
	HashSeed uint64
	// WorkerSpin is how long an idle shard worker spins before it parks:
	// 0 = chosen by the engine, negative = never spin.
	WorkerSpin time.Duration
	// Delegate sends every operation to its shard's owner thread instead of
	// letting the caller apply it when the owner is idle (the default).
	Delegate bool
	// BatchDelegateMin is the smallest per-shard part of a batch sent to the
	// shard's owner (smaller parts run on the caller); 0 = the engine
	// default, negative = never send.
	BatchDelegateMin int
	// Eviction makes the map a cache: EvictionS3FIFO keeps each shard within
	// MemoryLimit/shards by evicting entries (MemoryLimit is then required).
	// The zero value, EvictionNone, answers ErrFull instead.
	Eviction Eviction
	// DefaultTTL is the time to live of entries stored without one (Store,
	// Batch.Put, ...), rounded up to a millisecond; 0 = they never expire.
	DefaultTTL time.Duration
	// RecordStats counts the hits and misses of reads in Stats (always on
	// with eviction).
	RecordStats bool
	// InitialCapacity is how many entries the map is expected to hold, like
	// make(map[K]V, n)'s hint; 0 = none. Each shard's index starts with
	// room for its share, so filling the map that far never doubles an
	// index, and Clear returns each index to that size, never below. Only
	// the index is sized up front (16 bytes per slot, 1.25-2.5 slots per
	// entry, mapped at Open and touched as entries arrive). Not a limit: the
	// map grows past it as it would without it. At most 2^40; with a
	// MemoryLimit, capped at the most entries the limit can hold.
	InitialCapacity int
	// PlaceRecordsByHash places each entry of at most 56 bytes of key and
	// value (48 with a TTL; a 16-byte key with a value of up to 40 bytes)
	// in one of two cache lines chosen by its key's hash, when one is
	// free, so that a Load or Store fetches the index slot and the entry
	// at once rather than one after the other: on a table larger than the
	// CPU's caches, one memory latency fewer. Batches gain nothing (they
	// overlap those misses already), nor do tables the caches mostly hold.
	// The lines (64 bytes each, about InitialCapacity of them, the nearest
	// power of two per shard) are mapped at Open and counted in
	// Stats.MappedBytes; entries land on them at random, so they are
	// resident after a few entries per page, not in proportion to
	// entries. Entries that find both their lines taken, and larger ones,
	// are stored as without it; past InitialCapacity more and more find
	// both taken. Needs InitialCapacity and no MemoryLimit (else
	// ErrInvalidArgument).
	PlaceRecordsByHash bool
	// NoDirectReads sends every Load, LoadInto and AppendLoad through a cgo
	// call to the engine instead of reading the engine's memory from Go
	// (direct reads, see the package doc). Both give the same results;
	// direct reads are faster. For comparisons, or to rule direct reads out
	// when chasing a problem.
	NoDirectReads bool
}

// Map is a handle to a numashard map: an in-process, sharded key-value map
// whose entries live outside the Go heap. Keys and values are byte strings.
//
// All methods may be called from any number of goroutines at once,
// including Close. After Close, every method returns ErrClosed.
//
// Errors: methods that look like sync.Map's return the same results plus a
// trailing error. The error is nil, or an *Error (compare with errors.Is to
// ErrClosed, ErrKeyTooLarge, ErrValueTooLarge, ErrFull, ErrNotACounter,
// ErrInvalidArgument, ...). "Not found", "already present" and "value
// differs" are results (the ok / loaded / swapped booleans), not errors.
type Map struct {
	h       *C.ns_map
	closed  atomic.Bool
	cleanup runtime.Cleanup
	// direct reads values without cgo (direct.go); nil: every read goes
	// through cgo (Config.NoDirectReads, or a library without the protocol).
	direct *directReader
	// maxValue is the map's MaxValueLen: no batch reserves more per value.
	maxValue int
}

// freeHandle is the backstop run by the garbage collector when a Map is
// unreachable: it closes the engine map if Close was never called and frees
// the handle. Because it only runs once no goroutine can reach the Map, it
// never races with a call (the C ABI requires ns_map_free to be the last).
func freeHandle(h *C.ns_map) {
	C.ns_map_close(h)
	C.ns_map_free(h)
}

// Open creates a map. Close it when done: Close releases its threads and
// memory at once; the garbage collector only frees what a forgotten map
// holds as a backstop, at a time of its choosing.
func Open(cfg Config) (*Map, error) {
	return openWith(cfg, "Open", func(c *C.ns_config, h **C.ns_map) Status { return Status(C.ns_map_new(c, h)) })
}

// openWith builds the C config from cfg and creates the map with create
// (ns_map_new or ns_map_open_snapshot); op names the method in errors.
func openWith(cfg Config, op string, create func(*C.ns_config, **C.ns_map) Status) (*Map, error) {
	var c C.ns_config
	C.ns_config_init(&c)
	if cfg.Shards < 0 || cfg.Shards > math.MaxUint32 || cfg.MaxKeyLen < 0 || cfg.MaxValueLen < 0 ||
		cfg.BatchDelegateMin > math.MaxUint32 || cfg.DefaultTTL < 0 || cfg.InitialCapacity < 0 ||
		hasNUL(cfg.Topology) || hasNUL(cfg.TopologyXML) {
		return nil, &Error{Status: StatusInvalidArgument, Op: op}
	}
	c.shards = C.uint32_t(cfg.Shards)
	c.memory_limit = C.uint64_t(cfg.MemoryLimit)
	if cfg.MaxKeyLen > 0 {
		c.max_key_len = C.size_t(cfg.MaxKeyLen)
	}
	if cfg.MaxValueLen > 0 {
		c.max_value_len = C.size_t(cfg.MaxValueLen)
	}
	if cfg.Topology != "" {
		s := C.CString(cfg.Topology)
		defer C.free(unsafe.Pointer(s))
		c.topology = s
	}
	if cfg.TopologyXML != "" {
		s := C.CString(cfg.TopologyXML)
		defer C.free(unsafe.Pointer(s))
		c.topology_xml = s
	}
	// The config travels to C with pointers into Go memory: pin them.
	var pin runtime.Pinner
	defer pin.Unpin()
	if len(cfg.Nodes) > 0 {
		pin.Pin(&cfg.Nodes[0])
		c.nodes = (*C.uint32_t)(unsafe.Pointer(&cfg.Nodes[0]))
		c.nodes_len = C.size_t(len(cfg.Nodes))
	}
	if len(cfg.ShardsPerNode) > 0 {
		pin.Pin(&cfg.ShardsPerNode[0])
		c.shards_per_node = (*C.uint32_t)(unsafe.Pointer(&cfg.ShardsPerNode[0]))
		c.shards_per_node_len = C.size_t(len(cfg.ShardsPerNode))
	}
	if cfg.HashSeed != 0 {
		c.hash_seed = C.uint64_t(cfg.HashSeed)
	}
	switch {
	case cfg.WorkerSpin < 0:
		c.worker_spin_us = 0
	case cfg.WorkerSpin > 0:
		c.worker_spin_us = C.int64_t(cfg.WorkerSpin / time.Microsecond)
	}
	if cfg.Delegate {
		c.exec_mode = C.NS_EXEC_DELEGATE
	}
	switch {
	case cfg.BatchDelegateMin < 0:
		c.batch_delegate_min = 0
	case cfg.BatchDelegateMin > 0:
		c.batch_delegate_min = C.uint32_t(cfg.BatchDelegateMin)
	}
	c.eviction = C.ns_eviction(cfg.Eviction)
	if cfg.DefaultTTL != NoExpiry {
		c.default_ttl_ms = C.uint64_t(ttlMillis(cfg.DefaultTTL))
	}
	c.record_stats = C.bool(cfg.RecordStats)
	c.initial_capacity = C.uint64_t(cfg.InitialCapacity)
	c.place_records_by_hash = C.bool(cfg.PlaceRecordsByHash)
	var h *C.ns_map
	if s := create(&c, &h); s != StatusOK {
		return nil, errorOf(op, s)
	}
	m := &Map{h: h, maxValue: int(min(uint64(c.max_value_len), math.MaxInt32))}
	if !cfg.NoDirectReads {
		m.direct = newDirectReader(h, int(c.max_key_len))
		if m.direct != nil {
			m.direct.writesHere = !cfg.Delegate
		}
	}
	m.cleanup = runtime.AddCleanup(m, freeHandle, h)
	return m, nil
}

// Close stops the map's shard workers and frees its entries. It is safe to
// call concurrently with any other method (they return ErrClosed once the
// close has begun) and more than once (later calls return nil).
func (m *Map) Close() error {
	if m.closed.Swap(true) {
		return nil
	}
	s := Status(C.ns_map_close(m.h))
	runtime.KeepAlive(m)
	if s == StatusClosed {
		return nil
	}
	return errorOf("Close", s)
}

// bytesPtr is the C view of a byte slice; (nil, 0) for an empty one. The C
// side only reads keys and values, so a slice made from a string is fine.
func bytesPtr(b []byte) *C.uint8_t {
	return (*C.uint8_t)(unsafe.Pointer(unsafe.SliceData(b)))
}

// stringBytes views a string's bytes without copying. The result must never
// be written; it is only handed to C calls that read it.
func stringBytes(s string) []byte {
	return unsafe.Slice(unsafe.StringData(s), len(s))
}

// loadStackSize is the size of the stack buffer the copying reads (Load,
// LoadOrStore, LoadAndDelete, Swap) read into first, so that a small value
// costs one cgo call and one exactly sized allocation.
const loadStackSize = 256

// readOp is a C call that copies a value out into a caller buffer and
// reports the value's size when the buffer is too small (having changed
// nothing then): ns_get and its relatives. Map.read runs any of them, and
// Map.readGrowing retries any of them with room: a new read-style call
// (ns_get with a TTL, ...) is one more case in read.
type readOp uint8

const (
	readGet       readOp = iota // ns_get(key)
	readGetOwned                // ns_get(key) into a buffer nobody sees before a hit (see Map.directGet)
	readGetOrPut                // ns_get_or_put(key, value): StatusExists = the value read
	readTake                    // ns_take(key)
	readSwap                    // ns_swap(key, value): StatusOK = the previous value read
	readStatsText               // ns_stats_prometheus: the text and its NUL
)

// read runs op once, copying the value into buf. It returns the value's
// length, also when buf is too small (StatusBufferTooSmall; nothing changed).
//
// key and value may overlap buf (LoadInto(buf[:16], buf), AppendLoad with
// the key in dst's spare room). A direct read is sound then: it writes buf
// only after it compared the key, and only with a validated value
// (directReader.get; an owned buf is the call's own and aliases nothing).
// The C functions forbid it (their output may overlap no other argument):
// such a call goes through readApart.
func (m *Map) read(op readOp, key, value, buf []byte) (int, Status) {
	if (op == readGet || op == readGetOwned) && m.direct != nil {
		if n, s, ok := m.fastGet(key, buf); ok {
			return n, s
		}
	}
	return m.readGeneral(op, key, value, buf)
}

// readGeneral is read without its first try, fastGet: the general direct
// read, then cgo.
func (m *Map) readGeneral(op readOp, key, value, buf []byte) (int, Status) {
	if (op == readGet || op == readGetOwned) && m.direct != nil {
		if n, s, ok := m.directGet(key, buf, op == readGetOwned); ok {
			return n, s
		}
	}
	if overlap.Bytes(key, buf) || overlap.Bytes(value, buf) {
		return m.readApart(op, key, value, buf)
	}
	return m.readC(op, key, value, buf)
}

// readApartStack is the room readApart copies a key and value into on its
// stack; larger ones are copied to the heap.
const readApartStack = 256

// readsApart counts the calls to readApart (TestOverlappingBuffers checks
// the overlapping reads that reach C take it).
var readsApart atomic.Uint64

// readApart is readC with key and value first copied apart from buf, which
// one of them overlaps: the rare case, kept out of read's frame.
//
//go:noinline
func (m *Map) readApart(op readOp, key, value, buf []byte) (int, Status) {
	readsApart.Add(1)
	var stack [readApartStack]byte
	kv := append(append(stack[:0], key...), value...)
	return m.readC(op, kv[:len(key):len(key)], kv[len(key):], buf)
}

// readC is read's cgo call: key and value must not overlap buf (read
// checks).
func (m *Map) readC(op readOp, key, value, buf []byte) (int, Status) {
	var n C.size_t
	var s C.ns_status
	k, kn := bytesPtr(key), C.size_t(len(key))
	v, vn := bytesPtr(value), C.size_t(len(value))
	out, outCap := bytesPtr(buf), C.size_t(len(buf))
	switch op {
	case readGet, readGetOwned:
		s = C.ns_get(m.h, k, kn, out, outCap, &n)
	case readGetOrPut:
		m.prefetchWrite(key)
		s = C.ns_get_or_put(m.h, k, kn, v, vn, out, outCap, &n)
	case readTake:
		m.prefetchWrite(key)
		s = C.ns_take(m.h, k, kn, out, outCap, &n)
	case readSwap:
		m.prefetchWrite(key)
		s = C.ns_swap(m.h, k, kn, v, vn, out, outCap, &n)
	case readStatsText:
		s = C.ns_stats_prometheus(m.h, (*C.char)(unsafe.Pointer(out)), outCap, &n)
	}
	runtime.KeepAlive(m)
	return int(n), Status(s)
}

// readGrowing runs op with its value read into buf[len(buf):cap(buf)]. When
// the value does not fit, it runs op again with a new buffer that holds a
// copy of buf[:len(buf)] and room for the reported size (and again if the
// value grew meanwhile): the one grow-and-retry loop of the package. The
// value is out[len(buf):len(buf)+n], where out is grown, or buf when grown
// is nil; buf itself never escapes (it may live on the caller's stack).
func (m *Map) readGrowing(op readOp, key, value, buf []byte) (n int, grown []byte, s Status) {
	n, s = m.read(op, key, value, buf[len(buf):cap(buf)])
	if op == readGet {
		op = readGetOwned // the grown buffer is this call's own
	}
	for s == StatusBufferTooSmall {
		// Counters and values may grow meanwhile: leave a little slack.
		grown = make([]byte, len(buf)+n+n/8)
		copy(grown, buf)
		n, s = m.read(op, key, value, grown[len(buf):])
	}
	return n, grown, s
}

// readCopy runs op and returns a fresh copy of the value it read: a small
// value is read on the stack and costs one exactly sized allocation.
func (m *Map) readCopy(op readOp, key, value []byte) ([]byte, Status) {
	var stack [loadStackSize]byte
	n, grown, s := m.readGrowing(op, key, value, stack[:0])
	if grown != nil {
		return grown[:n:n], s
	}
	return append(make([]byte, 0, n), stack[:n]...), s
}

// Load returns a copy of the value stored under key (sync.Map's Load).
// ok is false when the key is absent. The returned slice is the caller's.
func (m *Map) Load(key []byte) (value []byte, ok bool, err error) {
	v, s := m.readCopy(readGetOwned, key, nil)
	switch s {
	case StatusOK:
		return v, true, nil
	case StatusNotFound:
		return nil, false, nil
	default:
		return nil, false, errorOf("Load", s)
	}
}

// LoadInto copies the value of key into dst without allocating. It returns
// the value's length n and ok=true when the key is present. If n > len(dst)
// nothing was copied and err is ErrBufferTooSmall: call again with a buffer
// of at least n bytes. The value is dst[:n] otherwise.
func (m *Map) LoadInto(key, dst []byte) (n int, ok bool, err error) {
	// read's first try, here without read's frame: a frame costs a
	// direct read a measurable share (bench/results/go.md, run 15).
	var s Status
	answered := false
	if d := m.direct; d != nil {
		var r directOutcome
		n, r = d.fastGet(key, dst)
		runtime.KeepAlive(m)
		n, s, answered = directResult(n, r)
	}
	if !answered {
		n, s = m.readGeneral(readGet, key, nil, dst)
	}
	switch s {
	case StatusOK:
		return n, true, nil
	case StatusNotFound:
		return 0, false, nil
	case StatusBufferTooSmall:
		return n, true, &Error{Status: s, Op: "LoadInto"}
	default:
		return 0, false, errorOf("LoadInto", s)
	}
}

// AppendLoad appends the value of key to dst and returns the extended
// slice, growing it only when its capacity is too small (like the strconv
// Append functions). ok is false when the key is absent (dst is returned).
func (m *Map) AppendLoad(dst, key []byte) ([]byte, bool, error) {
	n, grown, s := m.readGrowing(readGet, key, nil, dst)
	switch s {
	case StatusOK:
		if grown != nil {
			return grown[:len(dst)+n], true, nil
		}
		return dst[:len(dst)+n], true, nil
	case StatusNotFound:
		return dst, false, nil
	default:
		return dst, false, errorOf("AppendLoad", s)
	}
}

// Store sets the value for key (a copy of value is stored; value may be
// reused at once).
func (m *Map) Store(key, value []byte) error {
	m.prefetchWrite(key)
	s := Status(C.ns_put(m.h, bytesPtr(key), C.size_t(len(key)), bytesPtr(value), C.size_t(len(value))))
	runtime.KeepAlive(m)
	return errorOf("Store", s)
}

// StoreIfAbsent stores value only if key is absent; stored reports whether
// it did. Unlike LoadOrStore it never copies the existing value out.
func (m *Map) StoreIfAbsent(key, value []byte) (stored bool, err error) {
	m.prefetchWrite(key)
	s := Status(C.ns_put_if_absent(m.h, bytesPtr(key), C.size_t(len(key)), bytesPtr(value), C.size_t(len(value))))
	runtime.KeepAlive(m)
	switch s {
	case StatusOK:
		return true, nil
	case StatusExists:
		return false, nil
	default:
		return false, errorOf("StoreIfAbsent", s)
	}
}

// LoadOrStore returns the existing value for key if present (loaded=true,
// a copy); otherwise it stores value and returns it (loaded=false), in one
// atomic step, like sync.Map's LoadOrStore.
func (m *Map) LoadOrStore(key, value []byte) (actual []byte, loaded bool, err error) {
	v, s := m.readCopy(readGetOrPut, key, value)
	switch s {
	case StatusOK:
		return value, false, nil
	case StatusExists:
		return v, true, nil
	default:
		return nil, false, errorOf("LoadOrStore", s)
	}
}

// Delete removes key; deleted reports whether it was present.
func (m *Map) Delete(key []byte) (deleted bool, err error) {
	m.prefetchWrite(key)
	s := Status(C.ns_delete(m.h, bytesPtr(key), C.size_t(len(key))))
	runtime.KeepAlive(m)
	switch s {
	case StatusOK:
		return true, nil
	case StatusNotFound:
		return false, nil
	default:
		return false, errorOf("Delete", s)
	}
}

// LoadAndDelete removes key and returns its value (a copy), like sync.Map's
// LoadAndDelete; loaded is false when the key was absent.
func (m *Map) LoadAndDelete(key []byte) (value []byte, loaded bool, err error) {
	v, s := m.readCopy(readTake, key, nil)
	switch s {
	case StatusOK:
		return v, true, nil
	case StatusNotFound:
		return nil, false, nil
	default:
		return nil, false, errorOf("LoadAndDelete", s)
	}
}

// Swap stores value under key and returns the previous value (a copy), in one
// atomic step, like sync.Map's Swap; loaded is false when the key was absent.
func (m *Map) Swap(key, value []byte) (previous []byte, loaded bool, err error) {
	v, s := m.readCopy(readSwap, key, value)
	switch s {
	case StatusOK:
		return v, true, nil
	case StatusNotFound:
		return nil, false, nil
	default:
		return nil, false, errorOf("Swap", s)
	}
}

// CompareAndSwap stores new under key only if the current value equals old
// (byte for byte); swapped is false when it differs or the key is absent.
func (m *Map) CompareAndSwap(key, old, new []byte) (swapped bool, err error) {
	m.prefetchWrite(key)
	s := Status(C.ns_compare_and_swap(m.h, bytesPtr(key), C.size_t(len(key)), bytesPtr(old), C.size_t(len(old)),
		bytesPtr(new), C.size_t(len(new))))
	runtime.KeepAlive(m)
	switch s {
	case StatusOK:
		return true, nil
	case StatusMismatch, StatusNotFound:
		return false, nil
	default:
		return false, errorOf("CompareAndSwap", s)
	}
}

// CompareAndDelete removes key only if its current value equals old (byte
// for byte), atomically, like sync.Map's; deleted is false when the value
// differs or the key is absent.
func (m *Map) CompareAndDelete(key, old []byte) (deleted bool, err error) {
	m.prefetchWrite(key)
	s := Status(C.ns_compare_and_delete(m.h, bytesPtr(key), C.size_t(len(key)), bytesPtr(old), C.size_t(len(old))))
	runtime.KeepAlive(m)
	switch s {
	case StatusOK:
		return true, nil
	case StatusMismatch, StatusNotFound:
		return false, nil
	default:
		return false, errorOf("CompareAndDelete", s)
	}
}

// Add atomically adds delta to the counter stored under key and returns the
// new value. A counter is an 8-byte little-endian value; an absent key
// counts as 0. It wraps on overflow. ErrNotACounter when the key holds a
// value that is not 8 bytes long. No update is ever lost, however many
// goroutines add at once.
func (m *Map) Add(key []byte, delta int64) (int64, error) {
	var out C.int64_t
	m.prefetchWrite(key)
	s := Status(C.ns_add(m.h, bytesPtr(key), C.size_t(len(key)), C.int64_t(delta), &out))
	runtime.KeepAlive(m)
	if s != StatusOK {
		return 0, errorOf("Add", s)
	}
	return int64(out), nil
}

// Len returns the exact number of entries.
func (m *Map) Len() (int, error) {
	var n C.uint64_t
	s := Status(C.ns_len(m.h, &n))
	runtime.KeepAlive(m)
	if s != StatusOK {
		return 0, errorOf("Len", s)
	}
	return int(n), nil
}

// Clear removes every entry.
func (m *Map) Clear() error {
	s := Status(C.ns_clear(m.h))
	runtime.KeepAlive(m)
	return errorOf("Clear", s)
}

// String-key twins: every single-key method has one, taking the key as a
// string. They pass the string's bytes to the engine without copying them.

// LoadString is Load with a string key.
func (m *Map) LoadString(key string) ([]byte, bool, error) { return m.Load(stringBytes(key)) }

// LoadIntoString is LoadInto with a string key.
func (m *Map) LoadIntoString(key string, dst []byte) (int, bool, error) {
	return m.LoadInto(stringBytes(key), dst)
}

// AppendLoadString is AppendLoad with a string key.
func (m *Map) AppendLoadString(dst []byte, key string) ([]byte, bool, error) {
	return m.AppendLoad(dst, stringBytes(key))
}

// StoreString is Store with a string key.
func (m *Map) StoreString(key string, value []byte) error { return m.Store(stringBytes(key), value) }

// StoreIfAbsentString is StoreIfAbsent with a string key.
func (m *Map) StoreIfAbsentString(key string, value []byte) (bool, error) {
	return m.StoreIfAbsent(stringBytes(key), value)
}

// LoadOrStoreString is LoadOrStore with a string key.
func (m *Map) LoadOrStoreString(key string, value []byte) ([]byte, bool, error) {
	return m.LoadOrStore(stringBytes(key), value)
}

// DeleteString is Delete with a string key.
func (m *Map) DeleteString(key string) (bool, error) { return m.Delete(stringBytes(key)) }

// LoadAndDeleteString is LoadAndDelete with a string key.
func (m *Map) LoadAndDeleteString(key string) ([]byte, bool, error) {
	return m.LoadAndDelete(stringBytes(key))
}

// SwapString is Swap with a string key.
func (m *Map) SwapString(key string, value []byte) ([]byte, bool, error) {
	return m.Swap(stringBytes(key), value)
}

// CompareAndSwapString is CompareAndSwap with a string key.
func (m *Map) CompareAndSwapString(key string, old, new []byte) (bool, error) {
	return m.CompareAndSwap(stringBytes(key), old, new)
}

// CompareAndDeleteString is CompareAndDelete with a string key.
func (m *Map) CompareAndDeleteString(key string, old []byte) (bool, error) {
	return m.CompareAndDelete(stringBytes(key), old)
}

// AddString is Add with a string key.
func (m *Map) AddString(key string, delta int64) (int64, error) {
	return m.Add(stringBytes(key), delta)
}

// Version returns the library's version string (ns_version).
func Version() string { return C.GoString(C.ns_version()) }

func statusText(s Status) string {
	p := C.ns_status_str(C.ns_status(s))
	if p == nil {
		return unknownStatus(s)
	}
	return C.GoString(p)
}

// cgoCallCost is an empty crossing (ns_version returns a static string), for
// the benchmark that measures what one cgo call costs on this machine.
func cgoCallCost() bool { return C.ns_version() != nil }

// hasNUL says whether s holds a NUL byte, which C would take for its end:
// such a string (a path, a topology) is refused, as Go's own file calls
// refuse such a path, rather than cut short.
func hasNUL(s string) bool {
	return strings.IndexByte(s, 0) >= 0
}

// closedError is ErrClosed (for op) once the map is closed, else nil: the
// answer of a call with nothing to do, which reaches no C call that would
// say so ("after Close, every method returns ErrClosed").
func (m *Map) closedError(op string) error {
	if m.closed.Load() {
		return errorOf(op, StatusClosed)
	}
	return nil
}
