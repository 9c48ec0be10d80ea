//go:build linux && cgo

// Package nearcache makes numashard the near cache in front of Redis,
// Valkey or a Redis Cluster: hot keys are answered from an off-heap,
// NUMA-placed numashard map in this process (bounded by a memory limit,
// S3-FIFO eviction, TTLs copied from the server), misses read through
// (GET; a batch is one pipeline per server node), writes and deletes go
// through (server first, then the local copy), and the server keeps every
// process coherent with CLIENT TRACKING invalidations.
//
// Guarantee, per key: once a write by anyone was acknowledged by the server
// and its invalidation delivered to this process, no read returns an older
// value; [Cache.Sync] is the barrier that proves delivery. On a lost
// connection or an unanswered heartbeat the whole near copy is flushed
// before local reads resume. The near copy lives outside the Go heap: the
// garbage collector never scans it.
//
// It is a package of its own, over libnumashard_redis (the tier's C ABI,
// include/numashard_redis.h), so programs that import only package
// numashard never link a Redis client. On linux/amd64 and linux/arm64 it
// links the prebuilt library in internal/prebuilt; inside the repository
// -tags numashard_dev links target/release/libnumashard_redis.a.
package nearcache

// No nsr_ function keeps a pointer it is given past its return or calls
// back into Go (the C ABI's contract), so the buffers passed may stay on the
// caller's stack. nsr_cache_free runs from a cleanup: no pragma needed.

/*
#cgo noescape nsr_cache_close
#cgo nocallback nsr_cache_close
#cgo noescape nsr_cache_open
#cgo nocallback nsr_cache_open
#cgo noescape nsr_config_init
#cgo nocallback nsr_config_init
#cgo noescape nsr_delete
#cgo nocallback nsr_delete
#cgo noescape nsr_get
#cgo nocallback nsr_get
#cgo noescape nsr_get_many
#cgo nocallback nsr_get_many
#cgo noescape nsr_set
#cgo nocallback nsr_set
#cgo noescape nsr_stats_get
#cgo nocallback nsr_stats_get
#cgo noescape nsr_status_str
#cgo nocallback nsr_status_str
#cgo noescape nsr_sync
#cgo nocallback nsr_sync
#include <stdlib.h>
#include "numashard_redis.h"
*/
import "C"

import (
	"bytes"
	"errors"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/numashard/numashard/bindings/go/internal/overlap"
)

// Config says how a Cache reaches its server and bounds its local copy.
// The zero value of a field means its default.
type Config struct {
	// Servers: "host:port" (or "redis://host:port") of the server, or of
	// any Cluster nodes (the first that answers gives the slot map).
	Servers []string
	// Cluster treats Servers as a Redis Cluster.
	Cluster bool
	// MemoryLimit bounds the near copy, in bytes its entries really cost
	// (default 256 MiB).
	MemoryLimit uint64
	// NoEviction turns S3-FIFO eviction off: once full, replies are served
	// but not cached.
	NoEviction bool
	// DefaultTTL bounds how long a copy of a key without a server TTL is
	// kept locally (default: as long as no invalidation removes it).
	DefaultTTL time.Duration
	// Shards of the local map (default one per allowed CPU).
	Shards int
	// MaxKeyLen is the longest key accepted (default 64 KiB; keys over
	// 4 KiB are served but not cached).
	MaxKeyLen int
	// MaxValueLen is the longest value Set accepts (default 512 MiB).
	MaxValueLen int
	// LocalMaxValueLen is the longest value kept locally (default 4 MiB);
	// longer ones are served but not cached.
	LocalMaxValueLen int
	// ConnectTimeout, IOTimeout: per connection attempt and per exchange
	// (defaults 1 s, 2 s).
	ConnectTimeout, IOTimeout time.Duration
	// Heartbeat: how often an idle invalidation connection proves itself
	// (default 500 ms); HeartbeatTimeout: an unanswered heartbeat counts as
	// a lost connection after this long (default 2 s).
	Heartbeat, HeartbeatTimeout time.Duration
}

// Cache is a near cache in front of a Redis server or Cluster. Its methods
// may be called from any number of goroutines, Close included.
type Cache struct {
	h      *C.nsr_cache
	closed atomic.Bool
	// sizeHint is the out-buffer size GetMany starts with per key.
	sizeHint atomic.Int64
}

func freeHandle(h *C.nsr_cache) { C.nsr_cache_free(h) }

// ttlMs is a positive time to live in milliseconds, rounded up as the
// numashard package rounds its TTLs (1.5 ms lives 2 ms, never less than
// asked; 1 ns lives 1 ms).
func ttlMs(d time.Duration) int64 {
	m := int64(d / time.Millisecond)
	if d%time.Millisecond != 0 {
		m++
	}
	return m
}

func ms(d time.Duration) C.uint32_t {
	if d <= 0 {
		return 0
	}
	m := d.Milliseconds()
	if m < 1 {
		m = 1
	}
	if m > 1<<32-1 {
		m = 1<<32 - 1
	}
	return C.uint32_t(m)
}

// Open connects to the server (every Cluster master), enables tracking and
// proves it with a heartbeat before it returns. Close the cache when done;
// a forgotten cache is closed and released by a runtime.AddCleanup backstop.
func Open(cfg Config) (*Cache, error) {
	var c C.nsr_config
	C.nsr_config_init(&c)
	joined := strings.Join(cfg.Servers, ",")
	if strings.IndexByte(joined, 0) >= 0 {
		// C would take the NUL for the end of the list: refused, not cut.
		return nil, &Error{Status: StatusInvalidArgument, Op: "Open", Detail: "a server address holds a NUL byte"}
	}
	servers := C.CString(joined)
	defer C.free(unsafe.Pointer(servers))
	c.servers = servers
	c.cluster = C.bool(cfg.Cluster)
	if cfg.MemoryLimit > 0 {
		c.memory_limit = C.uint64_t(cfg.MemoryLimit)
	}
	if cfg.NoEviction {
		c.eviction = C.NSR_EVICTION_NONE
	}
	if cfg.DefaultTTL > 0 {
		c.default_ttl_ms = C.uint64_t(ttlMs(cfg.DefaultTTL))
	}
	c.shards = C.uint32_t(cfg.Shards)
	if cfg.MaxKeyLen > 0 {
		c.max_key_len = C.size_t(cfg.MaxKeyLen)
	}
	if cfg.MaxValueLen > 0 {
		c.max_value_len = C.size_t(cfg.MaxValueLen)
	}
	if cfg.LocalMaxValueLen > 0 {
		c.local_max_value_len = C.size_t(cfg.LocalMaxValueLen)
	}
	for _, t := range []struct {
		d   time.Duration
		dst *C.uint32_t
	}{{cfg.ConnectTimeout, &c.connect_timeout_ms}, {cfg.IOTimeout, &c.io_timeout_ms},
		{cfg.Heartbeat, &c.heartbeat_ms}, {cfg.HeartbeatTimeout, &c.heartbeat_timeout_ms}} {
		if t.d > 0 {
			*t.dst = ms(t.d)
		}
	}
	var h *C.nsr_cache
	var msg [512]C.char
	s := Status(C.nsr_cache_open(&c, &h, &msg[0], C.size_t(len(msg))))
	if s != StatusOK {
		return nil, &Error{Status: s, Op: "Open", Detail: C.GoString(&msg[0])}
	}
	cache := &Cache{h: h}
	cache.sizeHint.Store(64)
	runtime.AddCleanup(cache, freeHandle, h)
	return cache, nil
}

// Close stops the invalidation listeners, closes the connections and frees
// the near copy. Safe concurrently with other methods (they return
// ErrClosed once it began) and more than once (later calls return nil).
func (c *Cache) Close() error {
	if c.closed.Swap(true) {
		return nil
	}
	s := Status(C.nsr_cache_close(c.h))
	runtime.KeepAlive(c)
	if s == StatusOK || s == StatusClosed {
		return nil
	}
	return errorOf("Close", s)
}

func bytesPtr(b []byte) *C.uint8_t { return (*C.uint8_t)(unsafe.Pointer(unsafe.SliceData(b))) }

// getStack is the size of the buffer Get reads into before it copies the
// value out (larger values cost a second call, usually a local hit).
const getStack = 512

// Get returns the value of key: the local copy, or the server's (read
// through and cached locally with its TTL). ok is false when the server
// has no such key. The value is a new slice the caller owns.
func (c *Cache) Get(key []byte) (value []byte, ok bool, err error) {
	var buf [getStack]byte
	n, ok, err := c.GetInto(key, buf[:])
	for err == nil && ok && n > len(buf) {
		// A value larger than the stack buffer: read it again into its own slice.
		value = make([]byte, n)
		var m int
		m, ok, err = c.GetInto(key, value)
		if err != nil || !ok || m <= n {
			return value[:m], ok, err
		}
		n = m
	}
	if err != nil || !ok {
		return nil, ok, err
	}
	return append([]byte(nil), buf[:n]...), true, nil
}

// GetInto copies the value of key into dst without allocating and returns
// its length n. If n > len(dst), nothing was copied: call again with at
// least n bytes (the value is usually local by then).
//
// key may overlap dst (nsr_get forbids it: the key is then copied aside
// first, see getIntoApart).
func (c *Cache) GetInto(key, dst []byte) (n int, ok bool, err error) {
	if overlap.Bytes(key, dst) {
		return c.getIntoApart(key, dst)
	}
	var cn C.size_t
	var msg reason
	s := Status(C.nsr_get(c.h, bytesPtr(key), C.size_t(len(key)), bytesPtr(dst), C.size_t(len(dst)), &cn, &msg[0], C.size_t(len(msg))))
	runtime.KeepAlive(c)
	switch s {
	case StatusOK, StatusBufferTooSmall:
		return int(cn), true, nil
	case StatusNotFound:
		return 0, false, nil
	default:
		return 0, false, msg.error("Get", s)
	}
}

// getIntoApartStack is the room getIntoApart copies a key into on its
// stack; a longer key is copied to the heap.
const getIntoApartStack = 256

// getIntoApart is GetInto with key, which overlaps dst, first copied apart
// from it: the rare case, kept out of GetInto's frame.
//
//go:noinline
func (c *Cache) getIntoApart(key, dst []byte) (int, bool, error) {
	var stack [getIntoApartStack]byte
	return c.GetInto(append(stack[:0], key...), dst)
}

// Set writes value on the server, then replaces the local copy with what
// the server holds right after. The key loses any TTL it had.
func (c *Cache) Set(key, value []byte) error { return c.set("Set", key, value, 0) }

// SetTTL is Set with a time to live (SET ... PX); the local copy expires
// with the server's key.
func (c *Cache) SetTTL(key, value []byte, ttl time.Duration) error {
	if ttl <= 0 {
		return &Error{Status: StatusInvalidArgument, Op: "SetTTL", Detail: "a TTL must be positive"}
	}
	return c.set("SetTTL", key, value, ttlMs(ttl))
}

func (c *Cache) set(op string, key, value []byte, ttlMs int64) error {
	var msg reason
	s := Status(C.nsr_set(c.h, bytesPtr(key), C.size_t(len(key)), bytesPtr(value), C.size_t(len(value)), C.uint64_t(ttlMs),
		&msg[0], C.size_t(len(msg))))
	runtime.KeepAlive(c)
	if s != StatusOK {
		return msg.error(op, s)
	}
	return nil
}

// Delete deletes key on the server, then locally; existed says whether the
// server had it.
func (c *Cache) Delete(key []byte) (existed bool, err error) {
	var msg reason
	s := Status(C.nsr_delete(c.h, bytesPtr(key), C.size_t(len(key)), &msg[0], C.size_t(len(msg))))
	runtime.KeepAlive(c)
	switch s {
	case StatusOK:
		return true, nil
	case StatusNotFound:
		return false, nil
	default:
		return false, msg.error("Delete", s)
	}
}

// scratch holds GetMany's flat C-side arrays, reused across calls.
type scratch struct {
	keys     []byte
	keyLens  []C.size_t
	valLens  []C.size_t
	statuses []C.nsr_status
}

var scratches = sync.Pool{New: func() any { return new(scratch) }}

// GetMany reads keys in one call: local hits first, then every miss in one
// pipelined round trip per server node (grouped by hash slot in a Cluster).
// values[i] is nil when the server has no keys[i]; present values share
// one new backing array the caller owns. A failing node fails the call.
func (c *Cache) GetMany(keys [][]byte) (values [][]byte, err error) {
	n := len(keys)
	if n == 0 {
		return nil, nil
	}
	sc := scratches.Get().(*scratch)
	defer scratches.Put(sc)
	sc.keys = sc.keys[:0]
	sc.keyLens = sc.keyLens[:0]
	for _, k := range keys {
		sc.keys = append(sc.keys, k...)
		sc.keyLens = append(sc.keyLens, C.size_t(len(k)))
	}
	if cap(sc.valLens) < n {
		sc.valLens = make([]C.size_t, n)
		sc.statuses = make([]C.nsr_status, n)
	}
	valLens, statuses := sc.valLens[:n], sc.statuses[:n]
	// out, the copied keys and the scratch arrays are separate
	// allocations: none overlaps another, as nsr_get_many requires.
	out := make([]byte, int(c.sizeHint.Load())*n)
	var msg reason
	for {
		s := Status(C.nsr_get_many(c.h, C.size_t(n), bytesPtr(sc.keys), unsafe.SliceData(sc.keyLens),
			bytesPtr(out), C.size_t(len(out)), unsafe.SliceData(valLens), unsafe.SliceData(statuses), &msg[0], C.size_t(len(msg))))
		runtime.KeepAlive(c)
		if s == StatusBufferTooSmall {
			need := 0
			for i, st := range statuses {
				if Status(st) == StatusOK || Status(st) == StatusBufferTooSmall {
					need += int(valLens[i])
				}
			}
			c.sizeHint.Store(int64(need/n + 1))
			out = make([]byte, need)
			continue
		}
		if s != StatusOK {
			return nil, msg.error("GetMany", s)
		}
		break
	}
	values = make([][]byte, n)
	at := 0
	for i, st := range statuses {
		if Status(st) == StatusOK {
			l := int(valLens[i])
			values[i] = out[at : at+l : at+l]
			at += l
		}
	}
	return values, nil
}

// Sync returns once every invalidation the server(s) sent before the call
// was applied locally: after a write by anyone was acknowledged, Sync and
// then Get returns that write or a later one. One round trip per node.
func (c *Cache) Sync() error {
	var msg reason
	s := Status(C.nsr_sync(c.h, &msg[0], C.size_t(len(msg))))
	runtime.KeepAlive(c)
	if s != StatusOK {
		return msg.error("Sync", s)
	}
	return nil
}

// Stats are the tier's counters and the near copy's figures.
type Stats struct {
	LocalHits       uint64 // keys answered from the near copy
	ServerReads     uint64 // keys read from the server (misses, absent keys included)
	ServerWrites    uint64 // writes and deletes sent to the server
	Invalidations   uint64 // keys named by invalidations the server delivered
	Flushes         uint64 // times the whole near copy was emptied
	InstallsSkipped uint64 // replies not cached because an invalidation overtook them
	Reconnects      uint64 // invalidation connections re-established
	Redirects       uint64 // Cluster MOVED redirections followed
	Entries         uint64 // entries in the near copy
	Bytes           uint64 // what they cost
	MemoryLimit     uint64 // the near copy's bound
	Evictions       uint64 // entries evicted to stay within it
	Expirations     uint64 // entries that expired locally
	Serving         bool   // every node's invalidation path is confirmed
}

// Stats returns the counters.
func (c *Cache) Stats() (Stats, error) {
	var st C.nsr_stats
	s := Status(C.nsr_stats_get(c.h, &st))
	runtime.KeepAlive(c)
	if s != StatusOK {
		return Stats{}, errorOf("Stats", s)
	}
	return Stats{
		LocalHits: uint64(st.local_hits), ServerReads: uint64(st.server_reads),
		ServerWrites: uint64(st.server_writes), Invalidations: uint64(st.invalidations),
		Flushes: uint64(st.flushes), InstallsSkipped: uint64(st.installs_skipped),
		Reconnects: uint64(st.reconnects), Redirects: uint64(st.redirects),
		Entries: uint64(st.entries), Bytes: uint64(st.bytes), MemoryLimit: uint64(st.memory_limit),
		Evictions: uint64(st.evictions), Expirations: uint64(st.expirations), Serving: bool(st.serving),
	}, nil
}

// Status is the outcome of a call of the C library (nsr_status).
type Status int32

// The statuses a caller may meet; Error.Status holds one.
const (
	StatusOK                  Status = C.NSR_OK
	StatusNotFound            Status = C.NSR_NOT_FOUND
	StatusBufferTooSmall      Status = C.NSR_BUFFER_TOO_SMALL
	StatusInvalidArgument     Status = C.NSR_ERR_INVALID_ARGUMENT
	StatusKeyTooLarge         Status = C.NSR_ERR_KEY_TOO_LARGE
	StatusValueTooLarge       Status = C.NSR_ERR_VALUE_TOO_LARGE
	StatusClosed              Status = C.NSR_ERR_CLOSED
	StatusTopology            Status = C.NSR_ERR_TOPOLOGY
	StatusPanic               Status = C.NSR_ERR_PANIC
	StatusResource            Status = C.NSR_ERR_RESOURCE
	StatusConnection          Status = C.NSR_ERR_CONNECTION
	StatusServer              Status = C.NSR_ERR_SERVER
	StatusResp3Unsupported    Status = C.NSR_ERR_RESP3_UNSUPPORTED
	StatusTrackingUnconfirmed Status = C.NSR_ERR_TRACKING_UNCONFIRMED
	StatusConfig              Status = C.NSR_ERR_CONFIG
	StatusLocal               Status = C.NSR_ERR_LOCAL
)

// String is the library's text for the status.
func (s Status) String() string { return C.GoString(C.nsr_status_str(C.int32_t(s))) }

// Error is a failed call: the operation, its status and the library's
// reason (the server's error text, such as "WRONGTYPE Operation against a
// key holding the wrong kind of value", or why the connection failed).
type Error struct {
	Status Status
	Op     string
	Detail string
}

func (e *Error) Error() string {
	if e.Detail != "" {
		return "nearcache: " + e.Op + ": " + e.Status.String() + ": " + e.Detail
	}
	return "nearcache: " + e.Op + ": " + e.Status.String()
}

// Is makes errors.Is(err, ErrX) compare statuses.
func (e *Error) Is(target error) bool {
	var t *Error
	return errors.As(target, &t) && t.Op == "" && t.Status == e.Status
}

// Sentinels for errors.Is.
var (
	ErrInvalidArgument     error = &Error{Status: StatusInvalidArgument}
	ErrKeyTooLarge         error = &Error{Status: StatusKeyTooLarge}
	ErrValueTooLarge       error = &Error{Status: StatusValueTooLarge}
	ErrClosed              error = &Error{Status: StatusClosed}
	ErrConnection          error = &Error{Status: StatusConnection}
	ErrServer              error = &Error{Status: StatusServer}
	ErrResp3Unsupported    error = &Error{Status: StatusResp3Unsupported}
	ErrTrackingUnconfirmed error = &Error{Status: StatusTrackingUnconfirmed}
	ErrConfig              error = &Error{Status: StatusConfig}
)

func errorOf(op string, s Status) error { return &Error{Status: s, Op: op} }

// reason is the buffer a call's failure reason is copied into (truncated
// to fit, NUL-terminated); it stays on the caller's stack.
type reason [256]C.char

func (m *reason) error(op string, s Status) error {
	// Not C.GoString: its argument escapes, which would move every call's
	// buffer to the heap (an allocation per Get).
	b := unsafe.Slice((*byte)(unsafe.Pointer(&m[0])), len(m))
	if i := bytes.IndexByte(b, 0); i >= 0 {
		b = b[:i]
	}
	return &Error{Status: s, Op: op, Detail: string(b)}
}
