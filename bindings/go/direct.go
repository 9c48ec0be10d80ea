//go:build linux && cgo

package numashard

/*
#include "numashard.h"
*/
import "C"

import (
	"math/bits"
	"math/rand/v2"
	"runtime"
	"sync/atomic"
	"unsafe"

	"github.com/numashard/numashard/bindings/go/internal/prefetch"
)

// Direct reads: Load, LoadInto and AppendLoad read the engine's memory from
// Go, without a cgo call, with the protocol the engine's own lock-free
// reader follows (version NS_DIRECT_READ_VERSION of ns_map_direct_read in
// include/numashard.h). A read then costs its probe's memory misses and a
// few tens of instructions, not a cgo call's own instructions and locked
// ones (bench/results/go.md, run 9).
//
// The protocol, for one key: enter the map's gate (a counter of the
// readers inside, which keeps every slot array and record chunk they may
// touch mapped), read the shard's seqlock sequence, probe the shard's
// published slot array, and use what was read only if the sequence did not
// move meanwhile (no write section opened). It notes its reads as the
// engine's own reader does (version 4): in cache mode a hit marks its
// entry for eviction, with Config.RecordStats (and in cache mode) hits and
// misses are counted in the shard's counters, and an entry whose deadline
// passed is a miss, by CLOCK_MONOTONIC (runtime.nanotime), the clock the
// engine's deadlines are on. Every case it does not handle goes to the
// engine through cgo, which stays the reference: a closed map, a shard
// being written through every retry, a value too large for the caller's
// buffer that must stay untouched, a map on a manual clock (Rust tests).
// Config.NoDirectReads turns direct reads off.

// directReadVersion is the version of ns_map_direct_read's protocol this
// file implements; a library speaking another gets no direct reads.
// TestDirectReadVersion fails when the header moves on, so that the
// protocol is reviewed before the number is.
const directReadVersion = 4

// headerDirectReadVersion is NS_DIRECT_READ_VERSION of the header this
// package was built with (TestDirectReadVersion).
func headerDirectReadVersion() int { return int(C.NS_DIRECT_READ_VERSION) }

// directRetries bounds the attempts at a consistent read before the engine
// is asked (the engine's own lock-free reader uses the same bound).
const directRetries = 16

// directStageSize is the stage a read copies a value into before it is
// known consistent, when the caller's buffer must stay untouched unless a
// whole, validated value is written to it (LoadInto, AppendLoad). Larger
// values go to the engine, which reads them under the shard's lock. Values
// of up to directWordsSize bytes are staged in registers instead.
const directStageSize = 256

// directWordsSize is the largest value a read holds in (up to four) words
// until it is validated, then stores to the caller's buffer (probe): no
// stage to clear and no copies through memory for the common small values.
const directWordsSize = 32

// hasDeadline is the flag of a record header's key length word saying the
// entry has a deadline.
const hasDeadline = 1 << 31

// directReader is a map's layout for direct reads, fetched once at Open
// (ns_map_direct_read). Its pointers are into the engine's memory and stay
// valid until ns_map_free, which runs only once the Map is unreachable.
type directReader struct {
	seed     uint64
	maxKey   int            // the map's max_key_len: a longer key is the engine's error
	epoch    *uint64        // the gate's epoch
	closed   *uint8         // the gate's closed flag
	stripes  unsafe.Pointer // the first shared stripe of the gate
	stride   uintptr        // bytes from one stripe to the next
	nStripes uint32
	// The stripes set aside for readers that own one: the Go binding's
	// per-P stripes (P i owns stripe i while pinned to it); nOwned is 0
	// unless an owner may enter with a plain store (the gate's membarrier
	// mode), since otherwise entering one costs the locked add a shared
	// stripe costs.
	owned  unsafe.Pointer
	nOwned uint32
	shards []directShard
	// shardBits is log2 of the shard count, rounded up (prefetchWrite's
	// estimate of the whole map's slots from one shard's).
	shardBits uint64
	// writesHere says single writes run on the calling thread (not
	// Config.Delegate), where prefetchWrite's lines are wanted.
	writesHere bool
	// large: a write found the map past prefetchMinBits (set once).
	large atomic.Bool
}

// directShard is one shard's seqlock and published slot array word, and
// what a read of it must note.
type directShard struct {
	seq   *uint64
	table *uint64 // slot array address | log2(capacity); 0 = none (closing)
	home  *uint64 // records placed by hash: their lines' address | log2(count); 0 = none
	flags uint32  // C.NS_DIRECT_READ, _MARK, _COUNT, _CLOCK
	// notes: the flags a hit or miss has work for (mark, count); 0 on a
	// shard that only needs copies, so that the common read tests one word.
	notes uint32
	// The shard's read counters (NS_DIRECT_COUNT): the first stripe, the
	// bytes from one to the next, how many. A stripe is two u64s: misses,
	// then hits.
	counters unsafe.Pointer
	cstride  uintptr
	ccount   uint32
}

// The flags of ns_direct_shard.direct (version 4).
const (
	directRead  = uint32(C.NS_DIRECT_READ)  // may be read directly
	directMark  = uint32(C.NS_DIRECT_MARK)  // a hit marks its entry
	directCount = uint32(C.NS_DIRECT_COUNT) // hits and misses are counted
	directClock = uint32(C.NS_DIRECT_CLOCK) // deadlines are CLOCK_MONOTONIC ns
)

// directOutcome is how a direct read ended.
type directOutcome uint8

const (
	directFallback directOutcome = iota // ask the engine (cgo)
	directMiss                          // no such key at a consistent moment
	directHit                           // the value, copied whole into the buffer
	directTooSmall                      // the value is longer than the buffer (its length reported; nothing copied)
)

// newDirectReader fetches h's layout, or returns nil when the library
// speaks another version of the protocol (or none): then every read goes
// through cgo.
func newDirectReader(h *C.ns_map, maxKey int) *directReader {
	if !directReadsArch {
		return nil
	}
	var l C.ns_direct_read
	s := Status(C.ns_map_direct_read(h, &l, nil, 0))
	if (s != StatusOK && s != StatusBufferTooSmall) || l.version != directReadVersion || l.shards == 0 ||
		l.stripe_count == 0 {
		return nil
	}
	cs := make([]C.ns_direct_shard, l.shards)
	if Status(C.ns_map_direct_read(h, &l, unsafe.SliceData(cs), C.size_t(len(cs)))) != StatusOK ||
		int(l.shards) != len(cs) {
		return nil
	}
	d := &directReader{
		seed:     uint64(l.hash_seed),
		maxKey:   maxKey,
		epoch:    (*uint64)(unsafe.Pointer(l.epoch)),
		closed:   (*uint8)(unsafe.Pointer(l.closed)),
		stripes:  unsafe.Pointer(l.stripes),
		stride:   uintptr(l.stripe_stride),
		nStripes: uint32(l.stripe_count),
		shards:   make([]directShard, len(cs)),
		// Writes run on the calling thread unless the map delegates them
		// (Open clears it then).
		writesHere: true,
		shardBits:  uint64(bits.Len(uint(len(cs) - 1))),
	}
	if l.plain_entry != 0 && l.owned_stripes != nil {
		d.owned, d.nOwned = unsafe.Pointer(l.owned_stripes), uint32(l.owned_count)
	}
	for i, c := range cs {
		sh := directShard{
			seq:   (*uint64)(unsafe.Pointer(c.seq)),
			table: (*uint64)(unsafe.Pointer(c.table)),
			home:  (*uint64)(unsafe.Add(unsafe.Pointer(c.table), uintptr(c.home_offset))),
			flags: uint32(c.direct),
		}
		sh.notes = sh.flags & (directMark | directCount)
		if sh.flags&directCount != 0 {
			// The counters word and its shape follow the home word; both
			// are set before the map is shared and never change.
			at := *(*uint64)(unsafe.Add(unsafe.Pointer(sh.home), 8))
			shape := *(*uint64)(unsafe.Add(unsafe.Pointer(sh.home), 16))
			if at == 0 || uint32(shape) == 0 {
				return nil // a library that says it counts but names no counters
			}
			sh.counters = engineAddr(unsafe.Pointer(sh.home), at)
			sh.cstride, sh.ccount = uintptr(shape>>32), uint32(shape)
		}
		d.shards[i] = sh
	}
	return d
}

// get reads the value of key into out: directHit with its length n (out
// holds it, validated), directTooSmall with its length (out untouched),
// directMiss, or directFallback (ask the engine). scratch says out is the
// caller's own scratch (a stack buffer, a new slice nobody sees yet) that
// an attempt which turns out inconsistent may write; otherwise out is
// written only with a whole, validated value (values of up to
// directWordsSize bytes held in registers, longer ones staged; those
// beyond the stage are left to the engine). The caller keeps the Map alive
// across the call.
//
// key may overlap out (LoadInto(buf[:16], buf)): that is sound here, with
// no copy, since out is written only after the key was compared, once, with
// the value validated, and the call returns then (a scratch out, written
// before validation, is the caller's own and overlaps no key).
func (d *directReader) get(key, out []byte, scratch bool) (int, directOutcome) {
	if len(key) > d.maxKey {
		return 0, directFallback // the engine answers ErrKeyTooLarge
	}
	h := keyHash(d.seed, key)
	sh := d.shardOf(h)
	if sh.flags&directRead == 0 {
		return 0, directFallback
	}
	ctr, owned := d.enter()
	n, r := 0, directFallback
	// sync/atomic has no 8-bit load: a byte load is single-copy atomic on
	// every platform, and entering ordered it after the count (below).
	if *d.closed == 0 {
		n, r = sh.lookup(h, key, out, scratch)
	}
	d.leave(ctr, owned)
	return n, r
}

// procPin pins the calling goroutine to its P (no preemption, no other
// goroutine on the P) and returns the P's index; procUnpin undoes it.
// The runtime keeps both reachable by linkname (sync and sync/atomic use
// them; see runtime/proc.go).
//
//go:linkname procPin runtime.procPin
func procPin() int

//go:linkname procUnpin runtime.procUnpin
func procUnpin()

func (d *directReader) shardOf(h uint64) *directShard {
	return &d.shards[shardOf(h, uint32(len(d.shards)))]
}

// enter counts the caller in the gate under the epoch's parity and
// returns the counter to leave with. On the stripe of the P the goroutine
// runs on, when it has one (owned: the goroutine stays pinned until leave):
// no other goroutine runs on the P meanwhile, so no other reader writes the
// stripe, and a plain store counts the read in; in the gate's membarrier
// mode the closer and the reclaimer make this CPU execute the barrier
// between that store and the loads after it, and the compiler keeps them
// after it (they may alias it). (The engine hands the owned stripes to one
// reader per map, the first to ask: a second Go runtime, or another
// binding reading directly, in the same process gets none and uses the
// shared ones.) Otherwise on a random shared stripe, with a locked add:
// the full barrier the closer and the reclaimer pair with.
// Stripe i lies at base + i*stride, its parity counters are its first two
// u64s (ns_direct_read's contract).
func (d *directReader) enter() (ctr *uint64, owned bool) {
	parity := uintptr(atomic.LoadUint64(d.epoch) & 1)
	if p := uint32(procPin()); p < d.nOwned {
		ctr = (*uint64)(unsafe.Add(d.owned, uintptr(p)*d.stride+parity*8))
		*ctr++
		return ctr, true
	}
	procUnpin()
	ctr = (*uint64)(unsafe.Add(d.stripes, uintptr(rand.Uint32N(d.nStripes))*d.stride+parity*8))
	atomic.AddUint64(ctr, 1)
	return ctr, false
}

// leave leaves the gate entered with ctr (the same stripe and parity) and
// unpins the goroutine when it owned the stripe.
func (d *directReader) leave(ctr *uint64, owned bool) {
	if owned {
		releaseStore(ctr, *ctr-1)
		procUnpin()
		return
	}
	atomic.AddUint64(ctr, ^uint64(0))
}

// prefetchHome asks for the pair of lines where the record of hash h is
// when the map places records by hash and it found one of them free
// (Config.PlaceRecordsByHash; step 4's hint of the protocol), so that its
// miss overlaps the home slot's. A hint only: nothing is read through it.
// (A map that places none pays a load of the shard's line and a branch.)
func (sh *directShard) prefetchHome(h uint64) {
	if hw := atomic.LoadUint64(sh.home); hw != 0 {
		prefetch.Pair(homeLine(hw, h))
	}
}

// homeLine is the address of hash h's home line in the lines a home word
// names (their page-aligned address, log2 of their count in the low 6 bits).
func homeLine(hw, h uint64) uintptr {
	return uintptr(hw&^4095) + uintptr(h>>(64-(hw&63)))<<6
}

// lookup is get's read of one shard inside the gate: up to directRetries
// attempts at a consistent probe.
func (sh *directShard) lookup(h uint64, key, out []byte, scratch bool) (int, directOutcome) {
	tag := h | 1
	sh.prefetchHome(h)
	for range directRetries {
		s1 := atomic.LoadUint64(sh.seq)
		if s1&1 != 0 {
			continue // a write section is open
		}
		word := atomic.LoadUint64(sh.table)
		if word == 0 {
			return 0, directFallback // no published array: the map is closing
		}
		bits := word & 63
		slots := engineAddr(unsafe.Pointer(sh.table), word&^63)
		mask := uint64(1)<<bits - 1
		i := h >> (64 - bits)
		n, r, slot, consistent := probe(sh.seq, s1, slots, mask, i, tag, key, out, scratch, sh.flags&directClock != 0)
		if consistent {
			if sh.notes != 0 {
				sh.note(r, slot, rand.Uint32()) // any stripe: not the key's, which a hot key would make one line
			}
			return n, r
		}
	}
	return 0, directFallback
}

// note does what the shard asks of a read (step 8 of the protocol): a hit
// (a value copied out) marks its slot, a hit or a miss is counted; a value
// the caller's buffer was too small for is neither (the caller's retry
// with room is). slot is the hit's slot, in an array the caller's gate
// pass keeps mapped; any stripe of the counters will do (pick names one).
// Out of line: a read of a shard that notes nothing pays only the test of
// sh.notes.
//
//go:noinline
func (sh *directShard) note(r directOutcome, slot unsafe.Pointer, pick uint32) {
	if r != directHit && r != directMiss {
		return
	}
	if r == directHit && sh.flags&directMark != 0 {
		// The record word's low two bits count accesses, up to 3. One
		// attempt, as the engine's readers make: a lost race loses a mark.
		w := (*uint64)(unsafe.Add(slot, 8))
		if x := atomic.LoadUint64(w); x&3 != 3 {
			atomic.CompareAndSwapUint64(w, x, x+1)
		}
	}
	if sh.counters != nil {
		hit := uintptr(0)
		if r == directHit {
			hit = 8
		}
		atomic.AddUint64((*uint64)(unsafe.Add(sh.counters, uintptr(pick%sh.ccount)*sh.cstride+hit)), 1)
	}
}

// directOther is ttlHit's answer for a record of another key.
const directOther directOutcome = 255

// ttlHit is fastGet's read of a record whose validated header says it has
// a deadline, a key of the caller's length n (k0, k1: the key's two words)
// and a value of v bytes: the value's length and words and directHit while
// the deadline is ahead, directMiss once it passed, directOther for another
// key (the probe goes on), directFallback when the engine must read it (no
// NS_DIRECT_CLOCK, a value fastGet does not hold, the sequence moved).
// room is the caller's buffer's length. Out of line: fastGet's common path
// stays as short as before entries with a deadline were read directly.
//
//go:noinline
func ttlHit(sh *directShard, s1 uint64, rec unsafe.Pointer, n int, k0, k1 uint64, v, room int) (int, words, directOutcome) {
	if *(*uint64)(unsafe.Add(rec, 8)) != k0 || *(*uint64)(unsafe.Add(rec, n)) != k1 {
		return 0, words{}, directOther
	}
	if sh.flags&directClock == 0 || v > room || v > directWordsSize {
		return 0, words{}, directFallback
	}
	w := loadWords(unsafe.Add(rec, 8+n), v)
	dl := deadlineOf(rec, n, v)
	if atomic.LoadUint64(sh.seq) != s1 {
		return 0, words{}, directFallback
	}
	if expired(dl) {
		return 0, words{}, directMiss // absent from its deadline on
	}
	return v, w, directHit
}

// nanotime is CLOCK_MONOTONIC in nanoseconds: the clock the engine's
// deadlines are on when a shard has NS_DIRECT_CLOCK. The runtime keeps it
// reachable by linkname (see runtime/time_nofake.go).
//
//go:linkname nanotime runtime.nanotime
func nanotime() int64

// expired says whether deadline dl (0: none) is at or before now.
func expired(dl uint64) bool {
	return dl != 0 && dl <= uint64(nanotime())
}

// deadlineOf is the deadline word of a record whose header says it has one:
// the u64 at the first multiple of 8 at or after the value's end.
func deadlineOf(rec unsafe.Pointer, keyLen, valueLen int) uint64 {
	return atomic.LoadUint64((*uint64)(unsafe.Add(rec, (8+keyLen+valueLen+7)&^7)))
}

// probe runs one attempt from home slot i: the outcome, the slot of a hit
// (for its mark), and false when the sequence moved (s1 no longer holds:
// start over). clock says the shard's deadlines are CLOCK_MONOTONIC
// (NS_DIRECT_CLOCK): an entry with one is then read here, a miss once it
// passed; without, the engine reads it.
//
// Soundness of the reads: the gate pass keeps the slot array and every
// record chunk mapped; a slot's record word always points to a record
// block (8-aligned, a multiple of 8 bytes); a header is only used to size a
// read after the sequence confirmed it, and a block whose header said key
// length L and value length v spans [rec, rec+8+L+v) within its chunk.
// Everything read from the engine's memory may be changing: nothing is
// handed out before the sequence confirms it.
func probe(seq *uint64, s1 uint64, slots unsafe.Pointer, mask, i, tag uint64, key, out []byte, scratch, clock bool) (int, directOutcome, unsafe.Pointer, bool) {
	for left := mask; ; left-- {
		slot := unsafe.Add(slots, uintptr(i)*16)
		t := atomic.LoadUint64((*uint64)(slot))
		if t == 0 {
			break
		}
		if t == tag {
			// The record word: the block's address, its low 2 bits access counts.
			if rw := atomic.LoadUint64((*uint64)(unsafe.Add(slot, 8))) &^ 3; rw != 0 {
				rec := engineAddr(slots, rw)
				hdr := atomic.LoadUint64((*uint64)(rec))
				if atomic.LoadUint64(seq) != s1 {
					return 0, 0, nil, false
				}
				// Two native u32s: the key length word (its top bit flags a
				// deadline), then the value length.
				kw, v := uint32(hdr), int(hdr>>32)
				if int(kw&^hasDeadline) == len(key) && keyEqual(unsafe.Add(rec, 8), key) {
					if kw&hasDeadline != 0 {
						if !clock {
							return 0, directFallback, nil, true // the engine's clock decides
						}
						// Validated with the header it was read after: an
						// entry whose deadline passed is absent, whatever room
						// the caller has.
						dl := deadlineOf(rec, len(key), v)
						if atomic.LoadUint64(seq) != s1 {
							return 0, 0, nil, false
						}
						if expired(dl) {
							return 0, directMiss, nil, true
						}
					}
					if v > len(out) {
						return v, directTooSmall, nil, atomic.LoadUint64(seq) == s1
					}
					src := unsafe.Add(rec, 8+len(key))
					switch {
					case v <= directWordsSize:
						w := loadWords(src, v)
						if atomic.LoadUint64(seq) != s1 {
							return 0, 0, nil, false
						}
						storeWords(out, w, v)
						return v, directHit, slot, true
					case scratch:
						copy(out, unsafe.Slice((*byte)(src), v))
						if atomic.LoadUint64(seq) != s1 {
							return 0, 0, nil, false
						}
						return v, directHit, slot, true
					case v <= directStageSize:
						var stage [directStageSize]byte
						copy(stage[:v], unsafe.Slice((*byte)(src), v))
						if atomic.LoadUint64(seq) != s1 {
							return 0, 0, nil, false
						}
						copy(out, stage[:v])
						return v, directHit, slot, true
					}
					return 0, directFallback, nil, true // fits out but not the stage
				}
			}
		}
		if left == 0 {
			break
		}
		i = (i + 1) & mask
	}
	return 0, directMiss, nil, atomic.LoadUint64(seq) == s1
}

// keyEqual says whether the n = len(key) bytes at p equal key. Keys of 8 to
// 16 bytes are compared as two words that together cover them (the second
// ends at n; they overlap below 16 bytes), inlined, with no call.
func keyEqual(p unsafe.Pointer, key []byte) bool {
	n := len(key)
	if n >= 8 && n <= 16 {
		k := unsafe.Pointer(unsafe.SliceData(key))
		return *(*uint64)(p) == *(*uint64)(k) &&
			*(*uint64)(unsafe.Add(p, n-8)) == *(*uint64)(unsafe.Add(k, n-8))
	}
	return string(unsafe.Slice((*byte)(p), n)) == string(key)
}

// words holds a value of up to directWordsSize bytes (loadWords).
type words struct{ a, b, c, d uint64 }

// loadWords loads the n <= directWordsSize bytes at p as up to four words
// that together cover them, never reading outside [p, p+n): 16 to 32 bytes
// as two words from the start and two ending at n, 8 to 15 as one from the
// start and one ending at n (they overlap unless n is 32 or 16), 4 to 7
// likewise as u32s, 1 to 3 as their first, middle and last byte.
// storeWords writes them back the same way.
func loadWords(p unsafe.Pointer, n int) (w words) {
	switch {
	case n >= 16:
		w.a, w.b = *(*uint64)(p), *(*uint64)(unsafe.Add(p, 8))
		w.c, w.d = *(*uint64)(unsafe.Add(p, n-16)), *(*uint64)(unsafe.Add(p, n-8))
	case n >= 8:
		w.a, w.d = *(*uint64)(p), *(*uint64)(unsafe.Add(p, n-8))
	case n >= 4:
		w.a, w.d = uint64(*(*uint32)(p)), uint64(*(*uint32)(unsafe.Add(p, n-4)))
	case n > 0:
		w.a, w.b, w.d = uint64(*(*byte)(p)), uint64(*(*byte)(unsafe.Add(p, n/2))), uint64(*(*byte)(unsafe.Add(p, n-1)))
	}
	return w
}

// storeWords writes w, n bytes loaded by loadWords, to out[:n] (len(out) >= n).
func storeWords(out []byte, w words, n int) {
	if n == 0 {
		return
	}
	_ = out[n-1]
	p := unsafe.Pointer(unsafe.SliceData(out))
	switch {
	case n >= 16:
		*(*uint64)(p), *(*uint64)(unsafe.Add(p, 8)) = w.a, w.b
		*(*uint64)(unsafe.Add(p, n-16)), *(*uint64)(unsafe.Add(p, n-8)) = w.c, w.d
	case n >= 8:
		*(*uint64)(p), *(*uint64)(unsafe.Add(p, n-8)) = w.a, w.d
	case n >= 4:
		*(*uint32)(p), *(*uint32)(unsafe.Add(p, n-4)) = uint32(w.a), uint32(w.d)
	default:
		*(*byte)(p), *(*byte)(unsafe.Add(p, n/2)), *(*byte)(unsafe.Add(p, n-1)) = byte(w.a), byte(w.b), byte(w.d)
	}
}

// engineAddr is the pointer to addr, an address read from the engine's
// memory, built as an offset from base, a pointer into the engine's memory
// (go vet rightly flags unsafe.Pointer(uintptr) conversions). Neither is Go
// memory: the garbage collector ignores them.
func engineAddr(base unsafe.Pointer, addr uint64) unsafe.Pointer {
	return unsafe.Add(base, uintptr(addr)-uintptr(base))
}

// fastGet is directReader.fastGet for Map.read, in directResult's terms.
func (m *Map) fastGet(key, buf []byte) (int, Status, bool) {
	n, r := m.direct.fastGet(key, buf)
	runtime.KeepAlive(m)
	return directResult(n, r)
}

// directResult is a direct read's outcome as read reports it: the length
// and status, and true; false when the engine must answer.
func directResult(n int, r directOutcome) (int, Status, bool) {
	switch r {
	case directHit:
		return n, StatusOK, true
	case directMiss:
		return 0, StatusNotFound, true
	case directTooSmall:
		return n, StatusBufferTooSmall, true
	}
	return 0, 0, false
}

// directGet is a direct read of key into buf for Map.read: its status and
// true, or false when the engine must answer. owned says buf is the
// caller's own scratch (a stack buffer, a new slice nobody sees yet) that
// may be written before the value is known consistent; otherwise buf is
// written only with a whole, validated value (directReader.get).
func (m *Map) directGet(key, buf []byte, owned bool) (int, Status, bool) {
	n, r := m.direct.get(key, buf, owned)
	runtime.KeepAlive(m)
	return directResult(n, r)
}

// fastGet is get for the common case written as one function with no call
// but the pin's (and, on a map that places records by hash, the
// prefetch's): a key of 8 to 16 bytes, a value of up to directWordsSize
// bytes, the P's own stripe. Everything else (and every retry) returns
// directFallback for get to handle. out is written only with a whole,
// validated value. The protocol is probe's, step for step (see its notes on
// soundness): a header is used only after the sequence confirmed it, and
// the words read are handed out only once the sequence held throughout.
// Measured against get (BenchmarkFastGet, bench/results/go.md run 15): a
// hit at 100k or 1M entries costs 0.65-0.9 of get's time, since the next
// reads' misses overlap this one's when a read is fewer instructions. The
// slot walk repeats probe's on purpose: calling probe would bring back the
// frames this function exists to avoid.
func (d *directReader) fastGet(key, out []byte) (int, directOutcome) {
	n := len(key)
	if n < 8 || n > 16 || n > d.maxKey || d.nOwned == 0 {
		return 0, directFallback
	}
	kp := unsafe.Pointer(unsafe.SliceData(key))
	k0, k1 := *(*uint64)(kp), *(*uint64)(unsafe.Add(kp, n-8))
	// keyHash for 8..16 bytes, inlined: hashShort's two words, then finish.
	h := foldMul(uint64(n)^foldMul(bits.RotateLeft64(d.seed^khSeedMix, -n)^k0, khExpand0^k1), khFold)
	sh := d.shardOf(h)
	if sh.flags&directRead == 0 {
		return 0, directFallback
	}
	// sh.prefetchHome(h), written out: over the inliner's budget, it would
	// cost this function a call.
	if hw := atomic.LoadUint64(sh.home); hw != 0 {
		prefetch.Pair(homeLine(hw, h))
	}
	parity := uintptr(atomic.LoadUint64(d.epoch) & 1)
	p := uint32(procPin())
	if p >= d.nOwned {
		procUnpin()
		return 0, directFallback
	}
	ctr := (*uint64)(unsafe.Add(d.owned, uintptr(p)*d.stride+parity*8))
	*ctr++
	v, r := 0, directFallback
	var w words
	var hit unsafe.Pointer // the hit's slot (for its mark)
	if *d.closed == 0 {
		if s1 := atomic.LoadUint64(sh.seq); s1&1 == 0 {
			if word := atomic.LoadUint64(sh.table); word != 0 {
				bitsN := word & 63
				slots := engineAddr(unsafe.Pointer(sh.table), word&^63)
				mask := uint64(1)<<bitsN - 1
				i := h >> (64 - bitsN)
				tag := h | 1
				r = directMiss
				for left := mask; ; left-- {
					slot := unsafe.Add(slots, uintptr(i)*16)
					t := atomic.LoadUint64((*uint64)(slot))
					if t == 0 {
						break
					}
					if t == tag {
						rw := atomic.LoadUint64((*uint64)(unsafe.Add(slot, 8))) &^ 3
						if rw == 0 {
							r = directFallback
							break
						}
						rec := engineAddr(slots, rw)
						hdr := atomic.LoadUint64((*uint64)(rec))
						if atomic.LoadUint64(sh.seq) != s1 {
							r = directFallback // the header is used only once confirmed
							break
						}
						kw := uint32(hdr)
						if int(kw) == n && *(*uint64)(unsafe.Add(rec, 8)) == k0 && *(*uint64)(unsafe.Add(rec, n)) == k1 {
							v = int(hdr >> 32)
							if v > len(out) || v > directWordsSize {
								r = directFallback
								break
							}
							w = loadWords(unsafe.Add(rec, 8+n), v)
							r, hit = directHit, slot
							break
						}
						if kw == uint32(n)|hasDeadline {
							// An entry with a deadline: off the common path,
							// validated here before its deadline is used.
							if v, w, r = ttlHit(sh, s1, rec, n, k0, k1, int(hdr>>32), len(out)); r != directOther {
								if r == directHit {
									hit = slot
								}
								break // found (live or expired), or left to the engine
							}
							r = directMiss // another key: the probe goes on
						}
					}
					if left == 0 {
						break
					}
					i = (i + 1) & mask
				}
				if atomic.LoadUint64(sh.seq) != s1 {
					r = directFallback
				}
			}
		}
	}
	if sh.notes != 0 {
		sh.note(r, hit, p) // inside the gate: the hit's slot stays mapped
	}
	*ctr--
	procUnpin()
	if r == directHit {
		storeWords(out, w, v)
	}
	return v, r
}

// prefetchWrites turns Map.prefetchWrite on; benchmarks turn it off to
// measure what it gains (BenchmarkStorePrefetch).
var prefetchWrites = true

// prefetchWrite asks for the lines a single write of key reads first, its
// home slot and, on a map that places records by hash, its record's pair
// of lines, so that their misses overlap the cgo call that follows instead
// of following it (the engine hashes the key again: it is in the cache by
// then). A hint only: nothing is read through the addresses. Without a
// direct reader (another protocol version, NoDirectReads) or on a map
// whose writes run on the shards' owner threads (Config.Delegate: the
// lines would be fetched into the wrong CPU's cache) it asks for nothing;
// nor on a map whose slot arrays together hold fewer than
// 2^prefetchMinBits slots (the caches hold them), which the key's own
// shard says (its line is the one the write reads anyway). Until a write
// has found the map that large (d.large), only one write in 64 looks
// (sampled), so that a small map's write pays a test and a random number,
// not the hash.
func (m *Map) prefetchWrite(key []byte) {
	d := m.direct
	if d == nil || len(key) > d.maxKey || !d.writesHere || !prefetchWrites {
		return
	}
	if !d.large.Load() && !sampled() {
		return
	}
	h := keyHash(d.seed, key)
	word := atomic.LoadUint64(d.shardOf(h).table)
	if word&63+d.shardBits < prefetchMinBits {
		return
	}
	if !d.large.Load() {
		// Set once, never cleared: a flag that flipped with the shards of a
		// map at the threshold would make every read's line a written one.
		d.large.Store(true)
	}
	prefetch.Three(d.writeLines(h, word))
}

// sampled says yes to one call in 64, at random (the runtime's per-thread
// generator: no state shared between goroutines, and whatever the keys).
func sampled() bool { return cheaprand()&63 == 0 }

// cheaprand is the runtime's fast per-thread random number, kept reachable
// by linkname for packages outside the standard library (go.dev/issue/67401;
// runtime/rand.go).
//
//go:linkname cheaprand runtime.cheaprand
func cheaprand() uint32

// prefetchMinBits is log2 of the fewest slots, all shards together, for
// which prefetchWrite asks for lines: 2^15 slots are 512 KiB. Below it, the
// prefetch cost a 1k-entry Store 8-10% (BenchmarkStorePrefetch, before the
// threshold); from 100k entries up it gains about 5% (bench/results/go.md,
// run 25).
const prefetchMinBits = 15

// writeLines are the addresses of the home slot of hash h in the slot array
// that word (its shard's published word) names, and of its record's home
// line (the slot again on a map that places no records). It reads only the
// shard's home word, which lives as long as the map: the slot array the
// word names may be replaced meanwhile, and a prefetch of its old address
// is harmless (a prefetch never faults). A closing shard's word is 0, and
// so is the slot's address then.
func (d *directReader) writeLines(h, word uint64) (slot, line uintptr) {
	slot = uintptr(word&^63) + uintptr(h>>(64-word&63))<<4
	line = slot
	if hw := atomic.LoadUint64(d.shardOf(h).home); hw != 0 {
		line = homeLine(hw, h)
	}
	return slot, line
}
