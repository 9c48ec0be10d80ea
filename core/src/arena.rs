//! Node-bound record storage for one shard.
//!
//! Records (`[key_len u32][value_len u32][key][value]`, then, for an entry
//! with an expiry deadline, padding to 8 bytes and the deadline as a u64;
//! the top bit of the key length says the deadline is there) live in 2 MiB chunks
//! mapped with `mbind` to the shard's memory node, so the pages land on that
//! node whichever thread first touches them. Blocks come in size classes
//! (8-byte steps up to 512 B, then eight steps per power of two up to
//! 64 KiB) with one intrusive free list per class; chunks are carved by a
//! single bump pointer shared by all classes, so a small map does not pay a
//! chunk per class. Larger records get a region of their own.

use crate::atomic_bytes;
use crate::error::{Error, Result, Status};
use crate::numa::{self, NodeRegion, PageCount};
use std::collections::HashMap;
use std::ptr;

/// Bytes of a record header (two u32 lengths).
pub(crate) const HEADER: usize = 8;
/// Records above this size get a dedicated region.
const LARGE_THRESHOLD: usize = 64 * 1024;
/// Size of the chunks small records are carved from, once the shard holds
/// a few: 2 MiB, the huge-page size.
const CHUNK: usize = 2 * 1024 * 1024;
/// Size of a shard's first chunk; each next one doubles up to `CHUNK`, so a
/// small map does not pay 2 MiB per shard.
const FIRST_CHUNK: usize = 64 * 1024;
/// Cache-line size: a block of at most this many bytes carved from the bump
/// pointer of one of a shard's first [`LINED_CHUNKS`] chunks never
/// straddles two lines, so a lookup or store touches one.
const LINE: usize = 64;
/// The chunks whose small blocks are kept within a line: the first eight,
/// 8 MiB of records (64 KiB doubling to 2 MiB, then three of 2 MiB). Measured
/// (`bench/results/engine.md`, "records on cache lines"): with 100k entries
/// a Go read is 14% faster when its record sits on one line, since the
/// records then stay in the caches; at 10M reads and stores gain nothing
/// (memory, not the caches, serves them) and the gaps would cost 8 bytes
/// per 56-byte record. So a large shard packs its later records.
const LINED_CHUNKS: usize = 8;
const SMALL_CLASSES: usize = 64; // 8..=512 in steps of 8
const GEO_CLASSES: usize = 7 * 8; // (512, 65536] in eight steps per doubling
const NCLASSES: usize = SMALL_CLASSES + GEO_CLASSES;

/// The size class of a block of at least `size` bytes: (index, block size).
/// Only for `size <= LARGE_THRESHOLD`.
pub(crate) fn class_of(size: usize) -> (usize, usize) {
    debug_assert!(size > 0 && size <= LARGE_THRESHOLD);
    if size <= 512 {
        let idx = size.div_ceil(8) - 1;
        (idx, (idx + 1) * 8)
    } else {
        // size in (2^k, 2^(k+1)], k in 9..=15; eight steps of 2^(k-3).
        let k = (usize::BITS - 1 - (size - 1).leading_zeros()) as usize;
        let step = 1usize << (k - 3);
        let j = (size - (1 << k)).div_ceil(step); // 1..=8
        let idx = SMALL_CLASSES + (k - 9) * 8 + (j - 1);
        (idx, (1 << k) + j * step)
    }
}

/// The top bit of a record's key-length word: the record ends with an
/// expiry deadline. Key lengths are below 2^31 (`MAX_LEN_CEILING`).
pub(crate) const HAS_DEADLINE: u32 = 1 << 31;

/// Offset of the deadline in a record with these lengths (8-aligned, after the value).
#[inline(always)]
pub(crate) fn deadline_offset(key_len: usize, value_len: usize) -> usize {
    (HEADER + key_len + value_len).next_multiple_of(8)
}

/// Bytes a record needs: header, key, value, and the deadline if it has one.
#[inline(always)]
fn record_need(key_len: usize, value_len: usize, deadline: bool) -> usize {
    if deadline {
        deadline_offset(key_len, value_len) + 8
    } else {
        HEADER + key_len + value_len
    }
}

/// Bytes a record with these lengths (and a deadline, or not) really occupies.
pub(crate) fn block_size(key_len: usize, value_len: usize, deadline: bool) -> usize {
    let need = record_need(key_len, value_len, deadline);
    if need <= LARGE_THRESHOLD {
        class_of(need).1
    } else {
        need.next_multiple_of(page_size())
    }
}

fn page_size() -> usize {
    4096
}

/// One shard's record storage.
pub(crate) struct Arena {
    node: Option<u32>,
    chunks: Vec<NodeRegion>,
    bump: *mut u8,
    bump_end: *mut u8,
    free: [*mut u8; NCLASSES],
    large: HashMap<usize, NodeRegion>,
    all_bound: bool,
    home: Option<Home>,
}

/// Home lines: one line per slot of a region addressed by the hash's top
/// bits, where a one-line record goes when its line (or the other line of
/// its 128-byte pair) is free, so that a lookup can ask for the record's
/// line together with the index slot instead of after it.
struct Home {
    region: NodeRegion,
    bits: u32,
    used: Vec<u64>,
}

/// The index of `hash`'s home line among 2^`bits` (its hash's top bits,
/// as the index's home slot).
#[inline(always)]
fn home_index(hash: u64, bits: u32) -> usize {
    (hash >> (64 - bits)) as usize
}

/// The address of `hash`'s home line in the lines a home word names
/// ([`Arena::home_word`], non-zero): what lookups prefetch.
#[inline(always)]
pub(crate) fn home_line(word: usize, hash: u64) -> usize {
    (word & !4095).wrapping_add(home_index(hash, (word & 63) as u32) * LINE)
}

impl Home {
    #[inline(always)]
    fn take(&mut self, hash: u64) -> Option<*mut u8> {
        let i = home_index(hash, self.bits);
        for j in [i, i ^ 1] {
            let (w, b) = (j / 64, 1u64 << (j % 64));
            if self.used[w] & b == 0 {
                self.used[w] |= b;
                // SAFETY: j < 2^bits, the region's line count.
                return Some(unsafe { self.region.as_ptr().add(j * LINE) });
            }
        }
        None
    }

    /// Frees `rec` if it is one of these lines.
    #[inline(always)]
    fn give_back(&mut self, rec: *mut u8) -> bool {
        let off = (rec as usize).wrapping_sub(self.region.as_ptr() as usize);
        if off >= LINE << self.bits {
            return false;
        }
        debug_assert_eq!(off % LINE, 0, "a home record starts its line");
        let j = off / LINE;
        self.used[j / 64] &= !(1u64 << (j % 64));
        true
    }
}

// SAFETY: the raw pointers point into regions the arena owns (`chunks`,
// `large`, `home`); nothing else aliases them, so moving the arena to another thread
// moves sole ownership with it.
unsafe impl Send for Arena {}

impl Arena {
    /// An empty arena whose memory will be bound to `node` (None = unbound).
    pub(crate) fn new(node: Option<u32>) -> Arena {
        Arena {
            node,
            chunks: Vec::new(),
            bump: ptr::null_mut(),
            bump_end: ptr::null_mut(),
            free: [ptr::null_mut(); NCLASSES],
            large: HashMap::new(),
            all_bound: true,
            home: None,
        }
    }

    /// An arena with 2^`bits` home lines (see [`Home`]).
    pub(crate) fn with_home(node: Option<u32>, bits: u32) -> Result<Arena> {
        let mut a = Arena::new(node);
        if bits >= 1 {
            let region = NodeRegion::new(LINE << bits, node, true)?;
            a.all_bound &= region.bound() || node.is_none();
            // A bit per line: 1/512 of the region, which a failed
            // allocation reports rather than aborts on.
            let mut used = Vec::new();
            used.try_reserve_exact((1usize << bits).div_ceil(64))
                .map_err(|_| Error::with_detail(Status::Resource, "no memory for the home lines' bitmap"))?;
            used.resize((1usize << bits).div_ceil(64), 0);
            a.home = Some(Home { region, bits, used });
        }
        Ok(a)
    }

    /// The home lines' address and log2 count packed in one word (0: none;
    /// the region is page-aligned, so the count fits below its address).
    pub(crate) fn home_word(&self) -> usize {
        self.home.as_ref().map_or(0, |h| h.region.as_ptr() as usize | h.bits as usize)
    }

    /// True when every region this arena mapped was bound to its node.
    pub(crate) fn all_bound(&self) -> bool {
        self.all_bound
    }

    /// Allocates a block for a record with these lengths and writes its
    /// header; `deadline` (0 = none) is stored after the value.
    pub(crate) fn alloc_record(
        &mut self,
        key_len: usize,
        value_len: usize,
        deadline: u64,
        hash: u64,
    ) -> Result<*mut u8> {
        let need = record_need(key_len, value_len, deadline != 0);
        let home = if need <= LINE { self.home.as_mut().and_then(|h| h.take(hash)) } else { None };
        let p = if let Some(p) = home {
            p
        } else if need <= LARGE_THRESHOLD {
            self.alloc_small(need)?
        } else {
            let region = NodeRegion::new(need, self.node, false)?;
            self.all_bound &= region.bound() || self.node.is_none();
            let p = region.as_ptr();
            self.large.insert(p as usize, region);
            p
        };
        // SAFETY: `p` is a block of at least HEADER bytes, 8-aligned; stale
        // lock-free readers may read it, hence atomic stores.
        unsafe {
            let flag = if deadline != 0 { HAS_DEADLINE } else { 0 };
            atomic_bytes::store_u64(p, header_word(key_len as u32 | flag, value_len as u32));
            if deadline != 0 {
                atomic_bytes::store_u64(p.add(deadline_offset(key_len, value_len)), deadline);
            }
        }
        Ok(p)
    }

    fn alloc_small(&mut self, need: usize) -> Result<*mut u8> {
        let (idx, size) = class_of(need);
        let head = self.free[idx];
        if !head.is_null() {
            // SAFETY: free blocks hold the next free pointer in their first 8 bytes.
            self.free[idx] = unsafe {
                (*(head as *const std::sync::atomic::AtomicPtr<u8>)).load(std::sync::atomic::Ordering::Relaxed)
            };
            return Ok(head);
        }
        if (self.bump_end as usize) - (self.bump as usize) < size {
            self.retire_bump_tail();
            let len = (FIRST_CHUNK << self.chunks.len().min(5)).min(CHUNK).max(size);
            let region = NodeRegion::new(len, self.node, len == CHUNK)?;
            self.all_bound &= region.bound() || self.node.is_none();
            self.bump = region.as_ptr();
            // SAFETY: the region is region.len() bytes long.
            self.bump_end = unsafe { region.as_ptr().add(region.len()) };
            self.chunks.push(region);
        }
        if size <= LINE && self.chunks.len() <= LINED_CHUNKS {
            let gap = (self.bump as usize).wrapping_neg() % LINE;
            if gap < size {
                // Within the chunk: chunks are page-aligned and a whole
                // number of lines long, so the next line start is at most
                // bump_end.
                self.retire_bump(gap);
            }
        }
        let p = self.bump;
        // SAFETY: we checked that `size` bytes remain before bump_end (a
        // retired gap only moves bump to a line start, and chunks end on one).
        self.bump = unsafe { p.add(size) };
        Ok(p)
    }

    /// Hands the unused tail of the current chunk to the free lists so it is
    /// not lost when a new chunk starts.
    fn retire_bump_tail(&mut self) {
        self.retire_bump((self.bump_end as usize) - (self.bump as usize));
    }

    /// Hands the next `len` bytes at the bump pointer (at most what is left
    /// before `bump_end`, a multiple of 8) to the free lists as blocks of
    /// their classes, and moves the bump pointer past them.
    fn retire_bump(&mut self, len: usize) {
        debug_assert!(len <= (self.bump_end as usize) - (self.bump as usize));
        let mut left = len;
        while left >= 8 {
            let take = if left <= 512 { left & !7 } else { largest_class_le(left) };
            let (idx, size) = class_of(take);
            debug_assert_eq!(size, take);
            // SAFETY: [bump, bump+take) is unused chunk space owned by the
            // arena: take <= left, which is at most what remains before
            // bump_end (the caller's contract).
            unsafe { self.push_free(idx, self.bump) };
            // SAFETY: take <= left, within the chunk.
            self.bump = unsafe { self.bump.add(take) };
            left -= take;
        }
    }

    /// # Safety
    /// `p` must be an unused block of class `idx` owned by this arena.
    unsafe fn push_free(&mut self, idx: usize, p: *mut u8) {
        // SAFETY: the block is at least 8 bytes and 8-aligned (caller's
        // contract); stale lock-free readers may read it, hence atomic.
        unsafe {
            (*(p as *const std::sync::atomic::AtomicPtr<u8>))
                .store(self.free[idx], std::sync::atomic::Ordering::Relaxed)
        };
        self.free[idx] = p;
    }

    /// Frees a record allocated by `alloc_record`. A large record's region
    /// goes to `garbage` (lock-free readers may still be reading it).
    ///
    /// # Safety
    /// `rec` must come from this arena's `alloc_record` and not be freed yet.
    pub(crate) unsafe fn free_record(&mut self, rec: *mut u8, garbage: &mut Vec<NodeRegion>) {
        if self.home.as_mut().is_some_and(|h| h.give_back(rec)) {
            return;
        }
        // SAFETY: rec is a live record of this arena (caller's contract).
        let (k, v) = unsafe { record_lens(rec) };
        // SAFETY: as above.
        let need = record_need(k, v, unsafe { record_deadline(rec) } != 0);
        if need <= LARGE_THRESHOLD {
            let (idx, _) = class_of(need);
            // SAFETY: the block is this arena's and now unused.
            unsafe { self.push_free(idx, rec) };
        } else if let Some(r) = self.large.remove(&(rec as usize)) {
            garbage.push(r);
        }
    }

    /// Frees everything; the regions go to `garbage`.
    pub(crate) fn reset(&mut self, garbage: &mut Vec<NodeRegion>) {
        let mut home = self.home.take();
        if let Some(h) = home.as_mut() {
            h.used.iter_mut().for_each(|w| *w = 0);
        }
        let old = std::mem::replace(self, Arena::new(self.node));
        // The lines stay mapped, and bound or not as they were.
        self.all_bound = home.as_ref().map_or(true, |h| h.region.bound() || self.node.is_none());
        self.home = home;
        garbage.extend(old.chunks);
        garbage.extend(old.large.into_values());
    }

    fn regions(&self) -> impl Iterator<Item = &NodeRegion> {
        self.chunks.iter().chain(self.large.values()).chain(self.home.as_ref().map(|h| &h.region))
    }

    /// Bytes mapped by this arena.
    pub(crate) fn mapped_bytes(&self) -> usize {
        self.regions().map(|c| c.len()).sum::<usize>()
    }

    /// Moves every region's pages found off its node there; returns how
    /// many were (see [`NodeRegion::settle`]).
    pub(crate) fn settle(&self) -> u64 {
        self.regions().map(NodeRegion::settle).sum()
    }

    /// Where the arena's resident pages are, relative to `node`.
    pub(crate) fn page_nodes(&self, node: u32) -> PageCount {
        let mut total = PageCount::default();
        for r in self.regions() {
            // SAFETY: the region stays mapped while we hold &self.
            total.add(unsafe { numa::page_nodes(r.as_ptr(), r.len(), node) });
        }
        total
    }
}

fn largest_class_le(n: usize) -> usize {
    // Geometric classes are 8-aligned; walk down from n to the nearest class.
    let mut s = n.min(LARGE_THRESHOLD) & !7;
    while s > 512 {
        if class_of(s).1 == s {
            return s;
        }
        s -= 8;
    }
    s
}

/// A record header as the one aligned word it is stored as: the key-length
/// word (with [`HAS_DEADLINE`]) then the value length, two native u32s.
/// Written whole, so that lock-free readers' `u64` loads of it never race
/// with narrower stores.
#[inline(always)]
fn header_word(key_word: u32, value_len: u32) -> u64 {
    let mut b = [0u8; 8];
    b[..4].copy_from_slice(&key_word.to_ne_bytes());
    b[4..].copy_from_slice(&value_len.to_ne_bytes());
    u64::from_ne_bytes(b)
}

/// Lengths stored in a record header.
///
/// # Safety
/// `rec` must point to a live record.
#[inline]
pub(crate) unsafe fn record_lens(rec: *const u8) -> (usize, usize) {
    // SAFETY: a live record starts with two u32 lengths, 8-aligned.
    unsafe { (((rec as *const u32).read() & !HAS_DEADLINE) as usize, (rec.add(4) as *const u32).read() as usize) }
}

/// A record's expiry deadline (the map clock's nanoseconds), 0 = none.
///
/// # Safety
/// `rec` must point to a live record.
#[inline]
pub(crate) unsafe fn record_deadline(rec: *const u8) -> u64 {
    // SAFETY: a live record starts with two u32 lengths; a flagged one ends
    // with an 8-aligned deadline inside its block.
    unsafe {
        let kw = (rec as *const u32).read();
        if kw & HAS_DEADLINE == 0 {
            return 0;
        }
        let (k, v) = record_lens(rec);
        atomic_bytes::load_u64(rec.add(deadline_offset(k, v)))
    }
}

/// Sets the deadline of a record that has one (the block has room for it).
///
/// # Safety
/// `rec` must be a live record with a deadline.
pub(crate) unsafe fn record_set_deadline(rec: *mut u8, deadline: u64) {
    // SAFETY: caller's contract; atomic because lock-free readers may read it.
    unsafe {
        debug_assert!((rec as *const u32).read() & HAS_DEADLINE != 0 && deadline != 0);
        let (k, v) = record_lens(rec);
        atomic_bytes::store_u64(rec.add(deadline_offset(k, v)), deadline);
    }
}

/// The key bytes of a record.
///
/// # Safety
/// `rec` must point to a live record that outlives `'a` unchanged.
#[inline]
pub(crate) unsafe fn record_key<'a>(rec: *const u8) -> &'a [u8] {
    // SAFETY: caller's contract; the key follows the header.
    unsafe {
        let (k, _) = record_lens(rec);
        std::slice::from_raw_parts(rec.add(HEADER), k)
    }
}

/// The value bytes of a record.
///
/// # Safety
/// As for [`record_key`].
#[inline]
pub(crate) unsafe fn record_value<'a>(rec: *const u8) -> &'a [u8] {
    // SAFETY: caller's contract; the value follows the key.
    unsafe {
        let (k, v) = record_lens(rec);
        std::slice::from_raw_parts(rec.add(HEADER + k), v)
    }
}

/// Overwrites a record's value in place, and its deadline (0 = none) after
/// it (same block class required).
///
/// # Safety
/// `rec` must be a live record whose block can hold the header, its key,
/// `value` and, when `deadline != 0`, the deadline; `had_deadline` must say
/// whether it has one now (checked in debug builds; the header is rewritten
/// whole either way).
pub(crate) unsafe fn record_set_value(rec: *mut u8, value: &[u8], deadline: u64, had_deadline: bool) {
    // SAFETY: caller's contract; atomic stores because lock-free readers
    // may read the record concurrently (they validate with the seqlock).
    unsafe {
        debug_assert_eq!(had_deadline, record_deadline(rec) != 0);
        let (k, _) = record_lens(rec);
        atomic_bytes::store(rec.add(HEADER + k), value);
        if deadline != 0 {
            atomic_bytes::store_u64(rec.add(deadline_offset(k, value.len())), deadline);
        }
        let flag = if deadline != 0 { HAS_DEADLINE } else { 0 };
        atomic_bytes::store_u64(rec, header_word(k as u32 | flag, value.len() as u32));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[cfg_attr(miri, ignore = "arithmetic only, no unsafe code: not worth Miri's time")]
    fn classes_cover_every_size_tightly() {
        let mut last = (0, 0);
        for size in 1..=LARGE_THRESHOLD {
            let (idx, cls) = class_of(size);
            assert!(cls >= size, "class {cls} too small for {size}");
            assert!(idx < NCLASSES);
            assert!(cls % 8 == 0);
            // at most 12.5% (or 7 bytes) of waste
            assert!(cls - size <= (size / 8).max(7), "size {size} class {cls}");
            assert!(idx >= last.0 && cls >= last.1);
            last = (idx, cls);
        }
        assert_eq!(class_of(56), (6, 56));
    }

    #[test]
    fn alloc_free_reuse_and_large() {
        let mut a = Arena::new(Some(0));
        let r1 = a.alloc_record(16, 32, 0, 0).unwrap();
        // SAFETY: `r1` is a fresh record of `a` sized for a 16-byte key and a
        // 32-byte value without deadline: the writes stay in its block, the
        // reads within its lengths; it is freed once, and not used after.
        unsafe {
            ptr::copy_nonoverlapping(b"0123456789abcdef".as_ptr(), r1.add(HEADER), 16);
            record_set_value(r1, &[7u8; 32], 0, false);
            assert_eq!(record_key(r1), b"0123456789abcdef");
            assert_eq!(record_value(r1), &[7u8; 32]);
            a.free_record(r1, &mut Vec::new());
        }
        let r2 = a.alloc_record(16, 32, 0, 0).unwrap();
        assert_eq!(r1, r2, "freed block is reused");
        let big = a.alloc_record(10, 200_000, 0, 0).unwrap();
        // SAFETY: `big` is a live record of `a`.
        assert_eq!(unsafe { record_lens(big) }, (10, 200_000));
        assert!(a.mapped_bytes() >= FIRST_CHUNK + 200_000);
        let mut garbage = Vec::new();
        // SAFETY: `big` came from `a.alloc_record` and is freed this once.
        unsafe { a.free_record(big, &mut garbage) };
        assert_eq!(a.mapped_bytes(), FIRST_CHUNK);
        assert_eq!(garbage.len(), 1);
        // Fill several chunks: tails are retired, chunks double up to CHUNK.
        let mut recs = Vec::new();
        for i in 0..(3 * CHUNK / 4000) {
            let r = a.alloc_record(8, 4000, 0, 0).unwrap();
            // SAFETY: the 8-byte key's word follows the header inside `r`'s
            // block (8-aligned), which only this thread touches.
            unsafe { atomic_bytes::store(r.add(HEADER), &(i as u64).to_le_bytes()) };
            recs.push(r);
        }
        let sizes: Vec<usize> = a.chunks.iter().map(|c| c.len()).collect();
        assert_eq!(sizes[0], FIRST_CHUNK);
        assert!(sizes.windows(2).all(|w| w[1] == (w[0] * 2).min(CHUNK)), "{sizes:?}");
        assert_eq!(*sizes.last().unwrap(), CHUNK);
        // Every record is intact (no two blocks overlap).
        for (i, r) in recs.iter().enumerate() {
            // SAFETY: no record of `recs` was freed, and `a` still maps its chunks.
            assert_eq!(unsafe { record_key(*r) }, &(i as u64).to_le_bytes());
        }
        // A record just under the large threshold fits even in a fresh small arena.
        let mut b = Arena::new(None);
        let r = b.alloc_record(8, LARGE_THRESHOLD - HEADER - 8, 0, 0).unwrap();
        // SAFETY: `r` is a live record of `b`.
        assert_eq!(unsafe { record_lens(r) }, (8, LARGE_THRESHOLD - HEADER - 8));
        #[cfg(not(miri))] // move_pages: a system call Miri cannot run
        assert!(a.page_nodes(0).total > 0);
    }

    #[test]
    fn deadline_follows_the_value_and_survives_overwrites() {
        let mut a = Arena::new(None);
        let mut dropped = 0;
        for (k, v) in [(1usize, 0usize), (3, 5), (16, 32), (7, 1), (8, 8), (100, 3000)] {
            let r = a.alloc_record(k, v, 42, 0).unwrap();
            let block = block_size(k, v, true);
            // SAFETY: `r` is a fresh record of `a` with room for a `k`-byte key,
            // a `v`-byte value and a deadline; the shorter values are written
            // only when they keep its block size (`block_size` checked, with
            // and then without a deadline), with `had_deadline` true as it is;
            // it is freed once, at the end.
            unsafe {
                atomic_bytes::store(r.add(HEADER), &vec![0xAB; k]);
                atomic_bytes::store(r.add(HEADER + k), &vec![0xCD; v]);
                assert_eq!(record_lens(r), (k, v));
                assert_eq!(record_deadline(r), 42, "k {k} v {v}");
                assert_eq!(record_key(r), &vec![0xAB; k][..]);
                assert_eq!(record_value(r), &vec![0xCD; v][..]);
                record_set_deadline(r, 7);
                assert_eq!(record_deadline(r), 7);
                // Same block, shorter value, deadline kept; then dropped.
                if v > 0 && block_size(k, v - 1, true) == block {
                    record_set_value(r, &vec![0xEE; v - 1], 9, true);
                    assert_eq!(record_value(r), &vec![0xEE; v - 1][..]);
                    assert_eq!(record_deadline(r), 9);
                    if block_size(k, v - 1, false) == block {
                        record_set_value(r, &vec![0x11; v - 1], 0, true);
                        assert_eq!(record_deadline(r), 0);
                        assert_eq!(record_key(r), &vec![0xAB; k][..]);
                        dropped += 1;
                    }
                }
                a.free_record(r, &mut Vec::new());
            }
            // The block goes back to the list of its own class, whether or
            // not the record still has its deadline (a record that lost it
            // in place frees as its block's class, not as a smaller one).
            assert_eq!(a.free[class_of(block).0], r, "k {k} v {v}");
            assert!(block >= deadline_offset(k, v) + 8);
        }
        // A deadline was dropped in place at least once (the case above).
        assert!(dropped > 0);
        let plain = a.alloc_record(16, 32, 0, 0).unwrap();
        // SAFETY: `plain` is a live record of `a`.
        assert_eq!(unsafe { record_deadline(plain) }, 0);
        assert_eq!(block_size(16, 32, false), 56);
        assert_eq!(block_size(16, 32, true), 64);
    }

    /// Small blocks (8..=64 B) carved from the bump pointer in a mixed
    /// sequence, with a few larger ones that leave it off a line start, never
    /// straddle a 64-byte line; the gaps skipped to line starts sit on the
    /// free lists, so every carved byte is either a live block or free.
    #[test]
    fn small_blocks_never_straddle_a_cache_line() {
        let n = if cfg!(miri) { 300 } else { 20_000 };
        let mut a = Arena::new(None);
        let mut rng = 0x2545_F491_4F6C_DD1Du64;
        let mut live: Vec<(usize, usize)> = Vec::new();
        for i in 0..n {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            let size = if i % 13 == 0 { 72 + 8 * (rng >> 40) as usize % 8 } else { 8 * (1 + (rng >> 32) as usize % 8) };
            let p = a.alloc_small(size).unwrap() as usize;
            assert_eq!(class_of(size).1, size);
            if size <= LINE {
                assert!(p % LINE + size <= LINE, "block of {size} at line offset {} crosses a line", p % LINE);
            }
            live.push((p, p + size));
        }
        // Free blocks: walk each list (the next pointer is a block's first word).
        for (idx, &head) in a.free.iter().enumerate() {
            let mut f = head;
            while !f.is_null() {
                assert!(idx < SMALL_CLASSES, "only small blocks here (chunk tails are under 128 B)");
                let size = (idx + 1) * 8;
                assert!(size > LINE || (f as usize) % LINE + size <= LINE, "free block of {size} crosses a line");
                live.push((f as usize, f as usize + size));
                // SAFETY: a free block of this arena holds the next free pointer in its first word.
                f = unsafe { (f as *const *mut u8).read() };
            }
        }
        // Live and free blocks tile every chunk from its start up to the bump
        // pointer (or the chunk's end, for retired chunks): no overlap, no hole.
        live.sort();
        let mut covered = 0;
        for c in &a.chunks {
            let (start, end) = (c.as_ptr() as usize, c.as_ptr() as usize + c.len());
            let stop = if (a.bump as usize) > start && (a.bump as usize) <= end { a.bump as usize } else { end };
            let mut at = start;
            for &(b, e) in live.iter().filter(|(b, _)| (start..end).contains(b)) {
                assert_eq!(b, at, "hole or overlap in a chunk");
                at = e;
            }
            assert_eq!(at, stop);
            covered += stop - start;
        }
        assert_eq!(covered, live.iter().map(|(b, e)| e - b).sum::<usize>());
    }

    /// Past its first LINED_CHUNKS chunks a shard packs small blocks back to
    /// back (no gaps: a 10M-entry map does not pay 8 bytes per 56-byte
    /// record), while those in the first chunks stay within a line.
    #[test]
    #[cfg_attr(miri, ignore)] // maps over 8 MiB
    fn later_chunks_pack_small_blocks() {
        let mut a = Arena::new(None);
        let mut last = 0usize;
        let (mut lined, mut packed) = (0, 0);
        while a.chunks.len() < LINED_CHUNKS + 2 {
            let p = a.alloc_small(56).unwrap() as usize;
            if a.chunks.len() <= LINED_CHUNKS {
                assert!(p % LINE + 56 <= LINE, "a block of a first chunk crosses a line");
                lined += 1;
            } else if p == last + 56 {
                packed += 1;
            }
            last = p;
        }
        assert!(lined > 100_000, "{lined} blocks in the first chunks");
        // Every block of the last chunk but its first follows the one before.
        let per_chunk = CHUNK / 56;
        assert!(packed + 2 >= per_chunk, "{packed} packed blocks, a chunk holds {per_chunk}");
    }

    /// Random allocations and frees of every size kind (tiny, class, geometric
    /// class, large region) with and without deadlines, values rewritten in
    /// place: every live record keeps its key, value and deadline, no two
    /// blocks overlap, freed blocks are reused, and a reset hands every
    /// region to the garbage list. Under Miri this checks each pointer the
    /// arena computes (free lists, bump pointer, chunk tails) against the
    /// region it came from.
    #[test]
    fn random_records_stay_intact_through_reuse_and_reset() {
        random_records(Arena::new(None));
    }

    /// The same with home lines (`Config::place_records_by_hash`), 64 of
    /// them, so that they are taken, freed and taken again, and most small
    /// records find them full.
    #[test]
    fn random_records_stay_intact_with_home_lines() {
        random_records(Arena::with_home(None, 6).unwrap());
    }

    fn random_records(mut a: Arena) {
        let steps = if cfg!(miri) { 120 } else { 20_000 };
        let home = a.home.as_ref().map(|h| (h.region.as_ptr() as usize, LINE << h.bits));
        let mut in_home = 0;
        let mut rng = 0x9E37_79B9_7F4A_7C15u64;
        let mut next = move || {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            rng
        };
        // (record, key, value, deadline)
        let mut live: Vec<(*mut u8, Vec<u8>, Vec<u8>, u64)> = Vec::new();
        let mut garbage = Vec::new();
        for step in 0..steps {
            let r = next();
            if r % 3 == 0 && !live.is_empty() {
                let (rec, ..) = live.swap_remove((r >> 8) as usize % live.len());
                // SAFETY: a live record of this arena, freed once.
                unsafe { a.free_record(rec, &mut garbage) };
            } else if r % 7 == 1 && !live.is_empty() {
                // Rewrite a value in place within its block, deadline toggled.
                let i = (r >> 8) as usize % live.len();
                let (rec, k, v, d) = &mut live[i];
                let new_d = if *d == 0 { step as u64 + 1 } else { 0 };
                let mut nv = v.clone();
                nv.truncate(nv.len().saturating_sub((r >> 20) as usize % 3));
                if let Some(b) = nv.first_mut() {
                    *b = b.wrapping_add(1);
                }
                if let Some(b) = nv.last_mut() {
                    *b = b.wrapping_add(1);
                }
                if block_size(k.len(), nv.len(), new_d != 0) == block_size(k.len(), v.len(), *d != 0) {
                    // SAFETY: same block class, so the block holds it; `*d != 0` is its state.
                    unsafe { record_set_value(*rec, &nv, new_d, *d != 0) };
                    (*v, *d) = (nv, new_d);
                }
            } else {
                let k = 1 + (r >> 8) as usize % 24;
                let v = match (r >> 16) % 16 {
                    0 => LARGE_THRESHOLD + (r >> 24) as usize % 5000,
                    1..=3 => 500 + (r >> 24) as usize % 3000,
                    _ => (r >> 24) as usize % 100,
                };
                let d = if (r >> 40) % 4 == 0 { step as u64 + 1 } else { 0 };
                let key: Vec<u8> = (0..k).map(|i| (i as u64 ^ r) as u8).collect();
                // A pattern made a word at a time (large values stay cheap under Miri).
                let mut val = vec![0u8; v];
                for (i, c) in val.chunks_mut(8).enumerate() {
                    c.copy_from_slice(&(i as u64 ^ r).to_le_bytes()[..c.len()]);
                }
                let rec = a.alloc_record(k, v, d, next()).unwrap();
                if let Some((start, len)) = home {
                    let at = (rec as usize).wrapping_sub(start);
                    if at < len {
                        assert!(
                            record_need(k, v, d != 0) <= LINE && at % LINE == 0,
                            "only one-line records, at a line's start"
                        );
                        in_home += 1;
                    }
                }
                // SAFETY: a fresh block with room for the key and value.
                unsafe {
                    atomic_bytes::store(rec.add(HEADER), &key);
                    atomic_bytes::store(rec.add(HEADER + k), &val);
                }
                live.push((rec, key, val, d));
            }
        }
        for (rec, k, v, d) in &live {
            // SAFETY: live records of this arena.
            unsafe {
                assert_eq!(record_lens(*rec), (k.len(), v.len()));
                assert_eq!(record_key(*rec), &k[..]);
                assert_eq!(record_value(*rec), &v[..]);
                assert_eq!(record_deadline(*rec), *d);
            }
        }
        // No two live blocks overlap.
        let mut spans: Vec<(usize, usize)> = live
            .iter()
            .map(|(rec, k, v, d)| (*rec as usize, *rec as usize + block_size(k.len(), v.len(), *d != 0)))
            .collect();
        spans.sort();
        assert!(spans.windows(2).all(|w| w[0].1 <= w[1].0), "overlapping blocks");
        let mapped = a.mapped_bytes();
        let held = garbage.len();
        a.reset(&mut garbage);
        // A reset keeps the home lines (made once, for the map's life), all free.
        let kept = a.home.as_ref().map_or(0, |h| h.region.len());
        assert_eq!(a.mapped_bytes(), kept);
        assert_eq!(garbage.iter().skip(held).map(|r| r.len()).sum::<usize>(), mapped - kept);
        if let Some(h) = &a.home {
            assert!(in_home > 0, "no record found a home line");
            assert!(h.used.iter().all(|&w| w == 0), "a reset leaves home lines taken");
        }
    }

    /// A one-line record goes to its hash's line, then to the other line of
    /// that pair, then where it would without home lines; a freed line is
    /// taken again; a larger record never goes there.
    #[test]
    fn home_lines_take_the_hash_line_then_its_pair() {
        let mut a = Arena::with_home(None, 4).unwrap();
        let base = a.home_word() & !4095;
        assert_eq!(a.home_word() & 63, 4);
        let hash = 5u64 << 60; // line 5; its pair is line 4
        assert_eq!(home_line(a.home_word(), hash), base + 5 * LINE);
        let line = |p: *mut u8| (p as usize).wrapping_sub(base) / LINE;
        let r1 = a.alloc_record(16, 40, 0, hash).unwrap();
        let r2 = a.alloc_record(16, 32, 0, hash).unwrap();
        let r3 = a.alloc_record(16, 32, 0, hash).unwrap();
        assert_eq!((line(r1), line(r2)), (5, 4));
        assert!(line(r3) >= 16, "both lines taken: out of the region");
        // Too long for a line (8 + 16 + 41 bytes), or with a deadline past it.
        let big = a.alloc_record(16, 41, 0, 7 << 60).unwrap();
        let dl = a.alloc_record(16, 33, 9, 7 << 60).unwrap();
        assert!(line(big) >= 16 && line(dl) >= 16);
        // A deadline that fits: 8 + 8 + 8 + 8 bytes.
        let fits = a.alloc_record(8, 8, 9, 7 << 60).unwrap();
        assert_eq!(line(fits), 7);
        // SAFETY: live records of this arena, each freed once.
        unsafe {
            assert_eq!(record_deadline(fits), 9);
            a.free_record(r1, &mut Vec::new());
            assert_eq!(line(a.alloc_record(16, 32, 0, hash).unwrap()), 5);
            a.free_record(r3, &mut Vec::new());
        }
        // r3's block went back to its size class, not to the lines.
        let (l1, l0) = (a.alloc_record(16, 32, 0, 1 << 60).unwrap(), a.alloc_record(16, 32, 0, 1 << 60).unwrap());
        assert_eq!((line(l1), line(l0)), (1, 0));
        assert_eq!(a.alloc_record(16, 32, 0, 1 << 60).unwrap(), r3);
    }

    /// With as many records as lines, about 73% find one of their two
    /// (the sizing of `Config::place_records_by_hash`).
    #[test]
    #[cfg_attr(miri, ignore)] // 4096 records: slow under Miri, nothing new
    fn most_records_find_a_home_line() {
        let mut a = Arena::with_home(None, 12).unwrap();
        let base = a.home_word() & !4095;
        let mut rng = 0x243F_6A88_85A3_08D3u64;
        let mut home = 0;
        for _ in 0..4096 {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            let p = a.alloc_record(16, 32, 0, rng.wrapping_mul(0x9E37_79B9_7F4A_7C15)).unwrap() as usize;
            home += usize::from(p.wrapping_sub(base) < LINE << 12);
        }
        assert!((2870..=3110).contains(&home), "{home} of 4096 records in home lines");
    }
}
