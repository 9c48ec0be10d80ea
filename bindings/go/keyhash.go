//go:build linux && cgo

package numashard

import (
	"encoding/binary"
	"math/bits"
)

// The engine's key hash, reproduced in Go so that a direct read (direct.go)
// finds a key's shard and home slot without crossing cgo. It must equal the
// engine's bit for bit: the algorithm is foldhash 0.1.5's "fast" hasher
// (foldhash::fast::FixedState::with_seed(seed) with the crate's fixed
// global seeds) fed a key as Rust's `<[u8] as Hash>::hash` feeds it: the
// length as a usize, then the bytes, then finish. keyhash_test.go compares
// it with vectors printed by the Rust crate itself
// (testdata/keyhashgen). A later engine with another hash changes
// NS_DIRECT_READ_VERSION, which turns direct reads off.
//
// The constants are foldhash's: the per-hasher seed is the map's seed
// xor-ed with one of them, and four more are the fixed shared seeds (one
// to fold, three to expand the state for longer inputs).
const (
	khSeedMix = 0x082efa98ec4e6c89 // xor-ed into the per-hasher seed
	khFold    = 0x452821e638d01377
	khExpand0 = 0xbe5466cf34e90c6c
	khExpand1 = 0xc0ac29b7c97c50dd
	khExpand2 = 0x3f84d5b5b5470917
)

// foldMul multiplies to 128 bits and xors the halves together: the mixing
// step of the whole hash.
func foldMul(x, y uint64) uint64 {
	hi, lo := bits.Mul64(x, y)
	return hi ^ lo
}

// keyHash is the engine's hash of key under seed (see above).
func keyHash(seed uint64, key []byte) uint64 {
	acc := seed ^ khSeedMix
	n := len(key)
	// Hashing the bytes starts from the state rotated by the length (the
	// length word written before them only sits in the hasher's buffer
	// until finish, so it has not touched the state yet).
	base := bits.RotateLeft64(acc, -n)
	switch {
	case n >= 8 && n <= 16:
		// hashShort's common case written out: one call fewer for the
		// usual keys (Map.prefetchWrite hashes before every large map's
		// write).
		return foldMul(uint64(n)^foldMul(base^binary.LittleEndian.Uint64(key),
			khExpand0^binary.LittleEndian.Uint64(key[n-8:])), khFold)
	case n <= 16:
		acc = hashShort(key, base)
	case n < 256:
		acc = hashMedium(key, base, base+khExpand0)
	default:
		acc = hashLong(key, base)
	}
	// finish: the buffered length word, folded in as the low half of a
	// 128-bit word whose high half is zero.
	return foldMul(uint64(n)^acc, khFold)
}

// hashShort mixes 0 to 16 bytes: two words read from both ends (they may
// overlap), or for fewer than 4 bytes the first, middle and last byte.
func hashShort(b []byte, s0 uint64) uint64 {
	s1 := uint64(khExpand0)
	n := len(b)
	switch {
	case n >= 8:
		s0 ^= binary.LittleEndian.Uint64(b)
		s1 ^= binary.LittleEndian.Uint64(b[n-8:])
	case n >= 4:
		s0 ^= uint64(binary.LittleEndian.Uint32(b))
		s1 ^= uint64(binary.LittleEndian.Uint32(b[n-4:]))
	case n > 0:
		s0 ^= uint64(b[0])
		s1 ^= uint64(b[n-1])<<8 | uint64(b[n/2])
	}
	return foldMul(s0, s1)
}

// hashMedium consumes 16 bytes from the front and 16 from the back per
// round, the two cursors walking towards each other until they meet (the
// last two blocks may overlap). len(b) >= 16.
func hashMedium(b []byte, s0, s1 uint64) uint64 {
	for front, back := 0, len(b); front < back; front, back = front+16, back-16 {
		lo, hi := b[front:front+16], b[back-16:back]
		s0 = foldMul(binary.LittleEndian.Uint64(lo)^s0, binary.LittleEndian.Uint64(hi)^khFold)
		s1 = foldMul(binary.LittleEndian.Uint64(lo[8:])^s1, binary.LittleEndian.Uint64(hi[8:])^khFold)
	}
	return s0 ^ s1
}

// hashLong runs four lanes over whole 64-byte blocks, then hands what is
// left (at least its last 16 bytes) to hashMedium. len(b) >= 256.
func hashLong(b []byte, base uint64) uint64 {
	s := [4]uint64{base, base + khExpand0, base + khExpand1, base + khExpand2}
	whole := len(b) &^ 63
	for off := 0; off < whole; off += 64 {
		blk := b[off : off+64]
		for lane := range s {
			a := binary.LittleEndian.Uint64(blk[8*lane:])
			e := binary.LittleEndian.Uint64(blk[32+8*lane:])
			s[lane] = foldMul(a^s[lane], e^khFold)
		}
	}
	s0, s1 := s[0]^s[2], s[1]^s[3]
	rest := len(b) - whole
	if rest == 0 {
		return s0 ^ s1
	}
	return hashMedium(b[len(b)-max(rest, 16):], s0, s1)
}

// shardOf is the engine's shard of a hash: its low 32 bits scaled to n
// (the table indexes by the top bits, so the two stay independent).
func shardOf(h uint64, n uint32) uint32 {
	return uint32(uint64(uint32(h)) * uint64(n) >> 32)
}
