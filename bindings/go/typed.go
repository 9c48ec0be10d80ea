//go:build linux && cgo

package numashard

import (
	"encoding/binary"
	"iter"
	"sync"
	"unsafe"
)

// TypedMap is a view of a Map with typed keys and values, converted by
// codecs: the sync.Map-shaped API without hand-written encoders.
//
//	users := numashard.Of(m, numashard.String, numashard.Uint64)
//	users.Store("alice", 42)
//	id, ok, err := users.Load("alice")
//
// Methods return sync.Map's results plus a trailing error (the Map's
// errors, or a codec's Decode error wrapping ErrDecode). A call allocates
// nothing beyond what the codecs do (String and Bytes allocate the decoded
// string or slice, the integer codecs nothing): encodings are built in
// pooled buffers. Several TypedMaps, and the Map itself, may share one Map.
type TypedMap[K, V any] struct {
	m  *Map
	kc Codec[K]
	vc Codec[V]
	// How keys and values encode without calling their codec, for the
	// codecs that come with the package (kindOther: call it).
	kk, vk codecKind
}

// Of returns the TypedMap view of m with keys encoded by kc and values by vc.
func Of[K, V any](m *Map, kc Codec[K], vc Codec[V]) *TypedMap[K, V] {
	return &TypedMap[K, V]{m: m, kc: kc, vc: vc, kk: kindOf(kc), vk: kindOf(vc)}
}

// codecKind says how a value of a codec that comes with the package is
// encoded without calling the codec. The single-key calls use it: a call through
// the Codec interface makes the buffers it is given escape, so the general
// path encodes into pooled buffers, which costs about as much as the read
// itself (BenchmarkTypedMany, bench/results/go.md run 16).
type codecKind uint8

const (
	kindOther  codecKind = iota // the program's own codec: called
	kindString                  // String: the string's bytes
	kindBytes                   // Bytes: the slice itself
	kindFixed1                  // the integer codecs, by size: little endian
	kindFixed2
	kindFixed4
	kindFixed8
)

// kindOf is c's kind. Each case fixes T: stringCodec implements only
// Codec[string], bytesCodec only Codec[[]byte], fixedCodec[X] only
// Codec[X]; so a value of type T may be read as that type (rawBytes,
// readRaw).
func kindOf[T any](c Codec[T]) codecKind {
	switch any(c).(type) {
	case stringCodec:
		return kindString
	case bytesCodec:
		return kindBytes
	case fixedCodec[int8], fixedCodec[uint8]:
		return kindFixed1
	case fixedCodec[int16], fixedCodec[uint16]:
		return kindFixed2
	case fixedCodec[int32], fixedCodec[uint32]:
		return kindFixed4
	case fixedCodec[int64], fixedCodec[uint64]:
		return kindFixed8
	}
	return kindOther
}

// rawBytes is the encoding of *v that its codec, of kind k (not
// kindOther), would append: the string's or slice's own bytes (not to be
// written), or the integer's little-endian bytes in buf.
func rawBytes[T any](k codecKind, v *T, buf *[8]byte) []byte {
	// SAFETY (of the conversions): kindOf fixed T for each kind.
	p := unsafe.Pointer(v)
	switch k {
	case kindString:
		return stringBytes(*(*string)(p))
	case kindBytes:
		return *(*[]byte)(p)
	case kindFixed1:
		buf[0] = *(*uint8)(p)
		return buf[:1]
	case kindFixed2:
		binary.LittleEndian.PutUint16(buf[:], *(*uint16)(p))
		return buf[:2]
	case kindFixed4:
		binary.LittleEndian.PutUint32(buf[:], *(*uint32)(p))
		return buf[:4]
	}
	binary.LittleEndian.PutUint64(buf[:], *(*uint64)(p))
	return buf[:8]
}

// fixedSize is the encoded size of an integer kind, 0 for the others.
func fixedSize(k codecKind) int {
	switch k {
	case kindFixed1:
		return 1
	case kindFixed2:
		return 2
	case kindFixed4:
		return 4
	case kindFixed8:
		return 8
	}
	return 0
}

// readsValue says whether read's op, ending with status s, read a value to
// decode: a get, take or swap that found the key, or a get-or-put that
// found it present.
func readsValue(op readOp, s Status) bool {
	if op == readGetOrPut {
		return s == StatusExists
	}
	return s == StatusOK
}

// readRaw is read for keys and values of the package's codecs: the key
// (and the value a get-or-put or swap stores) encoded without a call, the
// value read into a buffer on the stack and decoded without a call (the
// codec is called only to report a stored integer of the wrong size). done
// is false, with nothing changed, when the value does not fit the stack
// buffer: read's general path answers then.
func (t *TypedMap[K, V]) readRaw(op readOp, key *K, value *V) (v V, s Status, err error, done bool) {
	var kbuf, ebuf [8]byte
	kb := rawBytes(t.kk, key, &kbuf)
	var enc []byte
	if op == readGetOrPut || op == readSwap {
		enc = rawBytes(t.vk, value, &ebuf)
	}
	var vbuf [loadStackSize]byte
	n, s := t.m.read(op, kb, enc, vbuf[:])
	if s == StatusBufferTooSmall {
		return v, s, nil, false
	}
	if !readsValue(op, s) {
		return v, s, nil, true
	}
	// SAFETY (of the conversions): kindOf fixed V for each kind.
	p := unsafe.Pointer(&v)
	switch size := fixedSize(t.vk); {
	case t.vk == kindString:
		*(*string)(p) = string(vbuf[:n])
	case t.vk == kindBytes:
		*(*[]byte)(p) = append(make([]byte, 0, n), vbuf[:n]...)
	case n != size:
		// The codec's error, from a copy: vbuf must not escape.
		v, err = t.vc.Decode(append([]byte(nil), vbuf[:n]...))
	case size == 1:
		*(*uint8)(p) = vbuf[0]
	case size == 2:
		*(*uint16)(p) = binary.LittleEndian.Uint16(vbuf[:])
	case size == 4:
		*(*uint32)(p) = binary.LittleEndian.Uint32(vbuf[:])
	default:
		*(*uint64)(p) = binary.LittleEndian.Uint64(vbuf[:])
	}
	return v, s, err, true
}

// raw says whether both codecs are the package's (readRaw, rawBytes).
func (t *TypedMap[K, V]) raw() bool { return t.kk != kindOther && t.vk != kindOther }

// Map returns the underlying byte-keyed Map (for mixed batches, counters,
// stats).
func (t *TypedMap[K, V]) Map() *Map { return t.m }

// scratch holds the encodings of one call: codec calls are indirect, so a
// buffer they see cannot live on the stack; these are reused instead.
type scratch struct{ key, val, aux []byte }

// scratchKeep is the largest scratch put back in the pool.
const scratchKeep = 64 << 10

var scratches = sync.Pool{New: func() any {
	return &scratch{key: make([]byte, 0, 64), val: make([]byte, 0, 256), aux: make([]byte, 0, 256)}
}}

func getScratch() *scratch { return scratches.Get().(*scratch) }

func putScratch(s *scratch) {
	if cap(s.key)+cap(s.val)+cap(s.aux) <= scratchKeep {
		scratches.Put(s)
	}
}

// read runs op on key (with value for the ops that store one, readGetOrPut
// and readSwap) and decodes the value it reads, if it read one.
func (t *TypedMap[K, V]) read(op readOp, key K, value V) (v V, s Status, err error) {
	if t.raw() {
		if v, s, err, done := t.readRaw(op, &key, &value); done {
			return v, s, err
		}
	}
	sc := getScratch()
	defer putScratch(sc)
	sc.key = t.kc.Append(sc.key[:0], key)
	var enc []byte
	if op == readGetOrPut || op == readSwap {
		sc.aux = t.vc.Append(sc.aux[:0], value)
		enc = sc.aux
	}
	n, grown, s := t.m.readGrowing(op, sc.key, enc, sc.val[:0])
	if readsValue(op, s) {
		out := sc.val[:cap(sc.val)]
		if grown != nil {
			out, sc.val = grown, grown[:0] // keep the room for the next call
		}
		v, err = t.vc.Decode(out[:n])
	}
	return v, s, err
}

// Load returns the value stored under key; ok is false when it is absent.
func (t *TypedMap[K, V]) Load(key K) (value V, ok bool, err error) {
	var zero V
	v, s, err := t.read(readGetOwned, key, zero)
	switch {
	case err != nil:
		return zero, false, err
	case s == StatusOK:
		return v, true, nil
	case s == StatusNotFound:
		return zero, false, nil
	}
	return zero, false, errorOf("Load", s)
}

// Store sets the value for key.
func (t *TypedMap[K, V]) Store(key K, value V) error {
	if t.raw() {
		var kbuf, vbuf [8]byte
		return t.m.Store(rawBytes(t.kk, &key, &kbuf), rawBytes(t.vk, &value, &vbuf))
	}
	sc := getScratch()
	defer putScratch(sc)
	sc.key = t.kc.Append(sc.key[:0], key)
	sc.val = t.vc.Append(sc.val[:0], value)
	return t.m.Store(sc.key, sc.val)
}

// LoadOrStore returns the existing value for key if present (loaded=true);
// otherwise it stores value and returns it, in one atomic step. If the
// existing value does not decode, loaded is true (nothing was stored) and
// err wraps ErrDecode.
func (t *TypedMap[K, V]) LoadOrStore(key K, value V) (actual V, loaded bool, err error) {
	v, s, err := t.read(readGetOrPut, key, value)
	switch {
	case err != nil:
		return v, s == StatusExists, err
	case s == StatusOK:
		return value, false, nil
	case s == StatusExists:
		return v, true, nil
	}
	return v, false, errorOf("LoadOrStore", s)
}

// LoadAndDelete removes key and returns its value; loaded is false when it
// was absent. If the removed value does not decode, loaded is true and err
// wraps ErrDecode (the entry is gone).
func (t *TypedMap[K, V]) LoadAndDelete(key K) (value V, loaded bool, err error) {
	var zero V
	v, s, err := t.read(readTake, key, zero)
	switch {
	case err != nil:
		// The entry is gone; what it held did not decode.
		return zero, true, err
	case s == StatusOK:
		return v, true, nil
	case s == StatusNotFound:
		return zero, false, nil
	}
	return zero, false, errorOf("LoadAndDelete", s)
}

// Swap stores value under key and returns the previous value, in one
// atomic step; loaded is false when the key was absent. If the previous
// value does not decode, loaded is true and err wraps ErrDecode (value is
// stored).
func (t *TypedMap[K, V]) Swap(key K, value V) (previous V, loaded bool, err error) {
	var zero V
	v, s, err := t.read(readSwap, key, value)
	switch {
	case err != nil:
		return zero, true, err
	case s == StatusOK:
		return v, true, nil
	case s == StatusNotFound:
		return zero, false, nil
	}
	return zero, false, errorOf("Swap", s)
}

// Delete removes key; deleted reports whether it was present.
func (t *TypedMap[K, V]) Delete(key K) (deleted bool, err error) {
	if t.kk != kindOther {
		var kbuf [8]byte
		return t.m.Delete(rawBytes(t.kk, &key, &kbuf))
	}
	sc := getScratch()
	defer putScratch(sc)
	sc.key = t.kc.Append(sc.key[:0], key)
	return t.m.Delete(sc.key)
}

// CompareAndSwap stores new under key only if the stored value encodes the
// same bytes as old; swapped is false when it differs or the key is absent.
func (t *TypedMap[K, V]) CompareAndSwap(key K, old, new V) (swapped bool, err error) {
	if t.raw() {
		var kbuf, obuf, nbuf [8]byte
		return t.m.CompareAndSwap(rawBytes(t.kk, &key, &kbuf), rawBytes(t.vk, &old, &obuf), rawBytes(t.vk, &new, &nbuf))
	}
	sc := getScratch()
	defer putScratch(sc)
	sc.key = t.kc.Append(sc.key[:0], key)
	sc.val = t.vc.Append(sc.val[:0], old)
	sc.aux = t.vc.Append(sc.aux[:0], new)
	return t.m.CompareAndSwap(sc.key, sc.val, sc.aux)
}

// CompareAndDelete removes key only if the stored value encodes the same
// bytes as old; deleted is false when it differs or the key is absent.
func (t *TypedMap[K, V]) CompareAndDelete(key K, old V) (deleted bool, err error) {
	if t.raw() {
		var kbuf, obuf [8]byte
		return t.m.CompareAndDelete(rawBytes(t.kk, &key, &kbuf), rawBytes(t.vk, &old, &obuf))
	}
	sc := getScratch()
	defer putScratch(sc)
	sc.key = t.kc.Append(sc.key[:0], key)
	sc.val = t.vc.Append(sc.val[:0], old)
	return t.m.CompareAndDelete(sc.key, sc.val)
}

// Range calls f for every entry until f returns false, with Map.Range's
// guarantees. An entry whose key or value does not decode stops the
// iteration with that error.
func (t *TypedMap[K, V]) Range(f func(key K, value V) bool) error {
	var decodeErr error
	err := t.m.iterate(func(kb, vb []byte) bool {
		k, err := t.kc.Decode(kb)
		if err != nil {
			decodeErr = err
			return false
		}
		v, err := t.vc.Decode(vb)
		if err != nil {
			decodeErr = err
			return false
		}
		return f(k, v)
	})
	if err != nil {
		return err
	}
	return decodeErr
}

// All returns an iterator over the entries, with Range's guarantees. It
// stops early on a closed map or an entry that does not decode; use Range
// to see those errors.
func (t *TypedMap[K, V]) All() iter.Seq2[K, V] {
	return func(yield func(K, V) bool) { t.Range(yield) }
}

// Len returns the exact number of entries of the underlying Map.
func (t *TypedMap[K, V]) Len() (int, error) { return t.m.Len() }

// Clear removes every entry of the underlying Map.
func (t *TypedMap[K, V]) Clear() error { return t.m.Clear() }

// typedChunk is how many keys LoadMany and StoreMany send per cgo call:
// enough that the crossing costs about a nanosecond per key, few enough
// that the pooled batches stay small.
const typedChunk = 256

var (
	typedGets = sync.Pool{New: func() any { return NewGetBatch(typedChunk) }}
	typedPuts = sync.Pool{New: func() any { return NewBatch(typedChunk) }}
)

// LoadMany looks keys up in batches (a GetBatch per 256 keys: one cgo call
// each, and the engine's batch read, which overlaps the keys' memory
// misses) and sets values[i] and found[i] for keys[i]; it returns how many
// were found. At 100k entries it took 1/2.1 to 1/3.0 of the time per key
// of a loop of Load (BenchmarkTypedMany, 64 keys per call); at 10k about
// the same as the loop: batches pay once the table misses the caches
// (README, "Which calls pay off"). values and
// found must be at least as long as keys (else ErrInvalidArgument, nothing
// read). An absent key's value is V's zero value. On an error (a
// key over the map's limit, a closed map, a value that does not decode)
// the outputs are only partly set. Each key is read at a consistent moment
// of its own; the batch is not one snapshot. It allocates nothing beyond
// what the value codec's Decode does.
func (t *TypedMap[K, V]) LoadMany(keys []K, values []V, found []bool) (n int, err error) {
	if len(values) < len(keys) || len(found) < len(keys) {
		return 0, errorOf("LoadMany", StatusInvalidArgument)
	}
	if len(keys) == 0 {
		return 0, t.m.closedError("LoadMany")
	}
	sc := getScratch()
	defer putScratch(sc)
	g := typedGets.Get().(*GetBatch)
	defer putGetBatch(&typedGets, g)
	var zero V
	for start := 0; start < len(keys); start += typedChunk {
		chunk := keys[start:min(start+typedChunk, len(keys))]
		g.Reset()
		for _, k := range chunk {
			sc.key = t.kc.Append(sc.key[:0], k)
			g.Get(sc.key)
		}
		if err := t.m.RunGets(g); err != nil {
			return n, err
		}
		for j := range chunk {
			i := start + j
			v, ok := g.Value(j)
			if !ok {
				if s := g.Status(j); s >= StatusInvalidArgument {
					return n, errorOf("LoadMany", s)
				}
				values[i], found[i] = zero, false
				continue
			}
			if values[i], err = t.vc.Decode(v); err != nil {
				return n, err
			}
			found[i] = true
			n++
		}
	}
	return n, nil
}

// StoreMany sets values[i] for keys[i], in batches (a Batch of puts per 256
// keys, one cgo call each): 1/2.5 to 1/3.6 of the time per key of a loop
// of Store at 10k and 100k entries (BenchmarkTypedMany). keys and values
// must be as long as each other (else ErrInvalidArgument, nothing stored).
// The stores are not one atomic change: each is applied on its own, in
// order (a key given twice ends with its later value), and on an error (a
// key or value over the map's limits, the memory limit, a closed map) the
// stores of the other keys may have happened; the first error is returned.
func (t *TypedMap[K, V]) StoreMany(keys []K, values []V) error {
	if len(values) != len(keys) {
		return errorOf("StoreMany", StatusInvalidArgument)
	}
	if len(keys) == 0 {
		return t.m.closedError("StoreMany")
	}
	sc := getScratch()
	defer putScratch(sc)
	b := typedPuts.Get().(*Batch)
	defer putBatch(&typedPuts, b)
	for start := 0; start < len(keys); start += typedChunk {
		end := min(start+typedChunk, len(keys))
		b.Reset()
		for i := start; i < end; i++ {
			sc.key = t.kc.Append(sc.key[:0], keys[i])
			sc.val = t.vc.Append(sc.val[:0], values[i])
			b.Put(sc.key, sc.val)
		}
		if err := t.m.Run(b); err != nil {
			return err
		}
		for j := range end - start {
			if s := b.Status(j); s >= StatusInvalidArgument {
				return errorOf("StoreMany", s)
			}
		}
	}
	return nil
}
