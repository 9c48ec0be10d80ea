// Package numashard is the Go binding of numashard, a NUMA-aware,
// in-process, sharded key-value map written in Rust and reached through its
// C ABI (include/numashard.h) with cgo.
//
// Use it where a program keeps a large or hot map in a sync.Map, a map
// behind an RWMutex, a hand-sharded map or an xsync.Map, and one of these
// hurts:
//
//   - tens of millions of entries that the garbage collector scans on every
//     cycle: numashard keeps keys and values outside the Go heap, so a
//     resident map costs the GC nothing;
//   - iteration while other goroutines write (a plain map crashes, an
//     RWMutex stalls every writer for the whole pass): Range and All see
//     every entry that stays present exactly once, never a torn value;
//   - hot reload of a whole map: ReplaceAll switches every shard at once;
//   - counters updated by many goroutines: Add is atomic, no update lost;
//   - per-call overhead: a Batch of any operations crosses cgo once, and
//     a GetBatch of gets only does so with nothing built per key (the
//     fastest way to read many keys);
//   - a cache that must not grow without bound: Config.Eviction evicts
//     under Config.MemoryLimit, StoreTTL and Expire give entries a time to
//     live, Stats counts hits, misses, evictions and expirations.
//
// Keys and values are byte strings (copied in and out; the caller's slices
// are never retained). Every method may be called from any number of
// goroutines, Close included. Methods shaped like sync.Map's return the
// same results plus a trailing error, which is nil or an *Error comparable
// with errors.Is to ErrClosed, ErrKeyTooLarge, ErrValueTooLarge, ErrFull,
// ErrNotACounter, ErrInvalidArgument and the rest. "Not found", "already
// present" and "value differs" are results, not errors.
//
//	m, err := numashard.Open(numashard.Config{})
//	if err != nil { ... }
//	defer m.Close()
//	m.StoreString("user:42", []byte("alice"))
//	v, ok, err := m.LoadString("user:42")
//
// Reads without cgo: Load, LoadInto and AppendLoad (and what is built on
// them: the String variants, TypedMap.Load, the re-read of a GetBatch
// value too large for its room) read the engine's memory from Go with the
// engine's own lock-free protocol (a gate that keeps the memory mapped, a
// seqlock that validates every value before it is handed out), and make no
// cgo call. They note each read as the engine's own reads do: in cache mode
// a hit marks its entry for eviction, a map that counts hits (cache mode,
// RecordStats) counts hits and misses, and an entry past its time to live
// is a miss (by CLOCK_MONOTONIC, the clock the engine's deadlines are on).
// What is left (a value too large for LoadInto's or AppendLoad's 256-byte
// stage, a shard written through every retry) is read by the engine
// through cgo, with the same results. Config.NoDirectReads sends
// every read through cgo, as every read goes on other architectures than
// amd64 (the validation needs loads kept in order, which amd64 guarantees
// and Go's atomics elsewhere do not).
//
// Typed keys and values: Of returns a TypedMap[K, V] view over codecs
// (String, Bytes, Int64, Uint32, ... or your own Codec), with the same
// sync.Map-shaped methods, and LoadMany and StoreMany to read or write many
// keys in batches. With the package's codecs its calls encode and decode
// without a codec call or a pooled buffer.
//
// Which calls pay off: on tables that fit the CPU caches (tens of
// thousands of entries) a Go map's single calls are faster; from about
// 300k entries a single LoadInto is about even with the best Go map; from
// 100k on, batches (GetBatch, Batch, LoadMany, StoreMany) are 2-4.6x faster
// per key on reads and about as fast as fastcache on writes. The README in this
// directory has the numbers and bench/results/go.md (repository root) the
// runs.
//
// Platforms: Linux only (the engine uses mbind, move_pages, membarrier),
// with cgo and libhwloc 2.x (Debian, Ubuntu: apt-get install libhwloc-dev).
// On linux/amd64 and linux/arm64 the module carries the engine prebuilt
// and links it statically: no Rust toolchain is needed. Elsewhere build
// the library from the repository and use -tags numashard_shared
// (pkg-config); inside the repository, -tags numashard_dev links the
// library built from the working tree. A build without cgo, or for another
// OS, stops with an error saying so.
//
// Cost of a map: the machine's topology is read once per process, and with
// the default Config Open starts no thread (BenchmarkOpen); a shard's
// owner thread starts the first time the shard has background work (memory
// to free after a table grows, a first TTL deadline, ReplaceAll, a loaded
// snapshot) and parks when idle. Config.Delegate starts every owner at Open.
// Owner threads are not shared across maps: open one long-lived Map per data
// set at start-up and share it between goroutines, not one per request.
//
// Lifetime: Close stops the shard threads and frees the entries at once.
// A Map that is never closed is closed by the garbage collector (a
// runtime.AddCleanup backstop), at a time of its choosing; do not rely on it.
package numashard
