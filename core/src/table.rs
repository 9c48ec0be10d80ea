//! The shard's index: open addressing with linear probing over node-bound
//! memory. A slot is 16 bytes: a tag (the key's hash with the low bit set,
//! so 0 means empty) and a pointer to the record in the arena. The home slot
//! of a key is taken from the top bits of its hash, so a range of the hash
//! space is a range of slots at every capacity: that is what lets iteration
//! resume by hash across resizes. Deletion shifts the following cluster back
//! (no tombstones), so probe lengths never decay.
//!
//! Records are 8-aligned, so the low bit of a slot's record word is free: it
//! is the entry's "accessed" bit for cache eviction, set by readers (an
//! atomic OR, only when clear) and cleared by the eviction hand. `Slot::rec`
//! never carries it; moves inside the table keep it.

use crate::arena::record_key;
use crate::error::Result;
use crate::numa::{NodeRegion, PageCount};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

#[derive(Clone, Copy)]
#[repr(C)]
pub(crate) struct Slot {
    pub(crate) tag: u64,
    pub(crate) rec: *mut u8,
}

const MIN_BITS: u32 = 6;
/// The access count (0..=3, saturating) in a slot's record word's low bits.
const ACCESSED: u64 = 3;

/// The index of one shard.
pub(crate) struct Table {
    region: NodeRegion,
    bits: u32,
    len: usize,
    node: Option<u32>,
}

// SAFETY: the table owns its region exclusively; record pointers inside it
// are owned by the shard's arena, which moves together with the table.
unsafe impl Send for Table {}

#[inline]
pub(crate) fn tag_of(hash: u64) -> u64 {
    hash | 1
}

impl Table {
    pub(crate) fn new(node: Option<u32>) -> Result<Table> {
        Table::with_bits(node, MIN_BITS)
    }

    fn with_bits(node: Option<u32>, bits: u32) -> Result<Table> {
        let bytes = (1usize << bits) * std::mem::size_of::<Slot>();
        let region = NodeRegion::new(bytes, node, bytes >= 2 * 1024 * 1024)?;
        Ok(Table { region, bits, len: 0, node })
    }

    /// An empty table with room for `entries` without growing (a snapshot load).
    pub(crate) fn with_capacity(node: Option<u32>, entries: usize) -> Result<Table> {
        let slots = (entries.saturating_mul(5) / 4 + 1).next_power_of_two();
        Table::with_bits(node, slots.trailing_zeros().max(MIN_BITS))
    }

    /// The node its memory is bound to (None = unbound).
    pub(crate) fn node(&self) -> Option<u32> {
        self.node
    }

    /// Slots whose memory is bound as asked.
    pub(crate) fn bound(&self) -> bool {
        self.region.bound() || self.node.is_none()
    }

    #[inline]
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    #[inline]
    pub(crate) fn capacity(&self) -> usize {
        1 << self.bits
    }

    #[inline]
    fn mask(&self) -> usize {
        self.capacity() - 1
    }

    #[inline]
    fn slots(&self) -> *mut Slot {
        self.region.as_ptr() as *mut Slot
    }

    #[inline]
    pub(crate) fn home(&self, hash: u64) -> usize {
        (hash >> (64 - self.bits)) as usize
    }

    /// The packed address and size of the slot array, for lock-free readers:
    /// the region is page-aligned, so the low bits carry `bits`.
    #[inline]
    pub(crate) fn word(&self) -> usize {
        self.slots() as usize | self.bits as usize
    }

    #[inline]
    pub(crate) fn slot(&self, i: usize) -> Slot {
        debug_assert!(i < self.capacity());
        // SAFETY: i < capacity, and the region holds capacity slots (zeroed =
        // empty); slots are read and written atomically because lock-free
        // readers load them concurrently.
        unsafe { load_slot(self.slots(), i) }
    }

    #[inline]
    fn set_slot(&mut self, i: usize, s: Slot) {
        let p = self.slots() as *const AtomicU64;
        // SAFETY: as in `slot`; only the lock holder (&mut self) writes.
        unsafe {
            (*p.add(2 * i + 1)).store(s.rec as u64, Relaxed);
            (*p.add(2 * i)).store(s.tag, Relaxed);
        }
    }

    /// Copies slot `from` to slot `to` whole, accessed bit included.
    #[inline]
    fn move_slot(&mut self, from: usize, to: usize) {
        let p = self.slots() as *const AtomicU64;
        // SAFETY: as in `slot`; only the lock holder (&mut self) writes.
        unsafe {
            let rec = (*p.add(2 * from + 1)).load(Relaxed);
            let tag = (*p.add(2 * from)).load(Relaxed);
            (*p.add(2 * to + 1)).store(rec, Relaxed);
            (*p.add(2 * to)).store(tag, Relaxed);
        }
    }

    /// Slot `i`'s access count (reads since it was last lowered, up to 3);
    /// lowers it by one (`clear`: to zero).
    #[inline]
    pub(crate) fn take_accessed(&mut self, i: usize, clear: bool) -> u64 {
        let p = self.slots() as *const AtomicU64;
        // SAFETY: as in `slot`; readers only ever raise the count, atomically.
        let w = unsafe { &*p.add(2 * i + 1) };
        let old = w
            .fetch_update(Relaxed, Relaxed, |x| {
                let c = x & ACCESSED;
                (c != 0).then(|| if clear { x & !ACCESSED } else { x - 1 })
            })
            .unwrap_or_else(|x| x);
        old & ACCESSED
    }

    /// Sets slot `i`'s accessed bit (a write counts as an access).
    #[inline]
    pub(crate) fn set_accessed(&self, i: usize) {
        // SAFETY: i < capacity (callers hold a found slot index).
        unsafe { mark_accessed(self.slots(), i) };
    }

    /// The first slot whose tag's top 32 bits are `fp` ([`fingerprint`]),
    /// probing from its home; for eviction queues, which name entries so.
    pub(crate) fn find_fingerprint(&self, fp: u32) -> Option<usize> {
        self.find_fingerprint_where(fp, |_| true)
    }

    /// The first slot named `fp` whose entry satisfies `pred`.
    pub(crate) fn find_fingerprint_where(&self, fp: u32, pred: impl Fn(Slot) -> bool) -> Option<usize> {
        let mask = self.mask();
        let mut i = self.home((fp as u64) << 32);
        loop {
            let s = self.slot(i);
            if s.tag == 0 {
                return None;
            }
            if fingerprint(s.tag) == fp && pred(s) {
                return Some(i);
            }
            i = (i + 1) & mask;
        }
    }

    /// Calls `f` with every slot named `fp`.
    pub(crate) fn for_each_fingerprint(&self, fp: u32, mut f: impl FnMut(Slot)) {
        let mask = self.mask();
        let mut i = self.home((fp as u64) << 32);
        loop {
            let s = self.slot(i);
            if s.tag == 0 {
                return;
            }
            if fingerprint(s.tag) == fp {
                f(s);
            }
            i = (i + 1) & mask;
        }
    }

    /// The slot with this tag that points to `rec`.
    pub(crate) fn find_rec(&self, tag: u64, rec: *mut u8) -> Option<usize> {
        let mask = self.mask();
        let mut i = self.home(tag);
        loop {
            let s = self.slot(i);
            if s.tag == 0 {
                return None;
            }
            if s.tag == tag && s.rec == rec {
                return Some(i);
            }
            i = (i + 1) & mask;
        }
    }

    /// Hints the CPU to fetch the home slot of `hash`.
    #[inline]
    pub(crate) fn prefetch(&self, hash: u64) {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: prefetch never faults, and the address is inside the region.
        unsafe {
            use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
            _mm_prefetch(self.slots().add(self.home(hash)) as *const i8, _MM_HINT_T0);
        }
        #[cfg(not(target_arch = "x86_64"))]
        let _ = hash;
    }

    /// The slot index holding `key`, if present.
    #[inline]
    pub(crate) fn find(&self, hash: u64, key: &[u8]) -> Option<usize> {
        let tag = tag_of(hash);
        let mask = self.mask();
        let mut i = self.home(hash);
        loop {
            let s = self.slot(i);
            if s.tag == 0 {
                return None;
            }
            // SAFETY: occupied slots point to live records of this shard.
            if s.tag == tag && crate::atomic_bytes::bytes_eq(unsafe { record_key(s.rec) }, key) {
                return Some(i);
            }
            i = (i + 1) & mask;
        }
    }

    /// Whether inserting one more entry needs a bigger table first: the
    /// load stays at most 4/5 (hits probe ~3 slots, in one or two cache
    /// lines; at 3/4 a 100k-entry map on two shards sat at 0.38 right after
    /// a doubling: 125 vs 104 B/entry).
    #[inline]
    pub(crate) fn needs_grow(&self) -> bool {
        (self.len + 1) * 5 > self.capacity() * 4
    }

    /// Doubles the capacity. The old slot array goes to `garbage`: lock-free
    /// readers may still be probing it.
    pub(crate) fn grow(&mut self, garbage: &mut Vec<NodeRegion>) -> Result<()> {
        let mut bigger = Table::with_bits(self.node, self.bits + 1)?;
        for i in 0..self.capacity() {
            let s = self.slot(i);
            if s.tag != 0 {
                let at = bigger.insert_absent(s.tag, s.rec);
                // SAFETY: i < capacity; the accessed bit moves with the entry.
                let count = unsafe { load_rec_word(self.slots(), i) } & ACCESSED;
                let q = bigger.slots() as *const AtomicU64;
                // SAFETY: `at` < the new array's capacity; the array is not
                // published yet, so nothing else writes it.
                unsafe { (*q.add(2 * at + 1)).fetch_or(count, Relaxed) };
            }
        }
        let old = std::mem::replace(self, bigger);
        garbage.push(old.region);
        Ok(())
    }

    /// Inserts a key known to be absent; the caller has grown the table if
    /// needed. Returns its slot.
    pub(crate) fn insert_absent(&mut self, tag: u64, rec: *mut u8) -> usize {
        debug_assert!(self.len < self.capacity());
        let mask = self.mask();
        let mut i = self.home(tag);
        while self.slot(i).tag != 0 {
            i = (i + 1) & mask;
        }
        self.set_slot(i, Slot { tag, rec });
        self.len += 1;
        i
    }

    /// Points slot `i` at a new record of the same key.
    pub(crate) fn replace_rec(&mut self, i: usize, rec: *mut u8) {
        let tag = self.slot(i).tag;
        self.set_slot(i, Slot { tag, rec });
    }

    /// Empties slot `i` and shifts the rest of its cluster back.
    pub(crate) fn remove_at(&mut self, mut i: usize) {
        let mask = self.mask();
        let mut j = i;
        loop {
            j = (j + 1) & mask;
            let s = self.slot(j);
            if s.tag == 0 {
                break;
            }
            let h = self.home(s.tag);
            // Move s back to i unless its home lies cyclically in (i, j].
            let stays = if i <= j { i < h && h <= j } else { i < h || h <= j };
            if !stays {
                self.move_slot(j, i);
                i = j;
            }
        }
        self.set_slot(i, Slot { tag: 0, rec: std::ptr::null_mut() });
        self.len -= 1;
    }

    /// Drops every entry (records are the arena's to free) and shrinks back;
    /// the old slot array goes to `garbage`.
    pub(crate) fn clear(&mut self, garbage: &mut Vec<NodeRegion>) -> Result<()> {
        let old = std::mem::replace(self, Table::with_bits(self.node, MIN_BITS)?);
        garbage.push(old.region);
        Ok(())
    }

    /// Calls `f` with every entry whose tag lies in `[lo, hi]` (inclusive,
    /// `lo <= hi`), in no particular order. Entries are found through their
    /// home slots, so the answer does not depend on the capacity.
    pub(crate) fn for_each_in_tag_range(&self, lo: u64, hi: u64, mut f: impl FnMut(Slot)) {
        let mask = self.mask();
        let first = self.home(lo);
        let span = self.home(hi) - first;
        let mut i = first;
        // An entry sits at or after its home with no empty slot in between, so
        // scanning from the first home past the last one until an empty slot
        // sees every entry whose home is in range.
        // Records lie anywhere in the arena: fetch the one D slots ahead
        // while this one is copied, so that their misses overlap.
        const D: usize = 8;
        for steps in 0..self.capacity() {
            prefetch_addr(self.slot((i + D) & mask).rec);
            let s = self.slot(i);
            if s.tag == 0 {
                if steps > span {
                    break;
                }
            } else if lo <= s.tag && s.tag <= hi {
                f(s);
            }
            i = (i + 1) & mask;
        }
    }

    /// Where the slot array's resident pages are.
    pub(crate) fn page_nodes(&self, node: u32) -> PageCount {
        // SAFETY: the region stays mapped while we hold &self.
        unsafe { crate::numa::page_nodes(self.region.as_ptr(), self.region.len(), node) }
    }

    /// Bytes the slot array maps.
    pub(crate) fn mapped_bytes(&self) -> usize {
        self.region.len()
    }
}

/// Loads slot `i` of a slot array.
///
/// # Safety
/// `slots` must point to a mapped slot array with more than `i` slots.
#[inline]
pub(crate) unsafe fn load_slot(slots: *const Slot, i: usize) -> Slot {
    let p = slots as *const AtomicU64;
    // SAFETY: caller's contract; slots are pairs of 8-aligned u64s.
    unsafe {
        Slot { tag: (*p.add(2 * i)).load(Relaxed), rec: ((*p.add(2 * i + 1)).load(Relaxed) & !ACCESSED) as *mut u8 }
    }
}

/// The record word of slot `i`, accessed bit included.
///
/// # Safety
/// As for [`load_slot`].
#[inline]
unsafe fn load_rec_word(slots: *const Slot, i: usize) -> u64 {
    // SAFETY: caller's contract.
    unsafe { (*(slots as *const AtomicU64).add(2 * i + 1)).load(Relaxed) }
}

/// Raises the access count of slot `i` unless it is at 3 (a load first, so
/// a hot entry costs readers no write). A reader may mark a slot whose entry
/// moved or left meanwhile: the bit is only a hint, and an empty slot's
/// record word is never read as a pointer (its tag is 0).
///
/// # Safety
/// `slots` must point to a mapped slot array with more than `i` slots.
#[inline]
pub(crate) unsafe fn mark_accessed(slots: *const Slot, i: usize) {
    // SAFETY: caller's contract.
    let w = unsafe { &*(slots as *const AtomicU64).add(2 * i + 1) };
    let x = w.load(Relaxed);
    if x & ACCESSED != ACCESSED {
        // One attempt: a lost race only loses a count (a hint).
        let _ = w.compare_exchange(x, x + 1, Relaxed, Relaxed);
    }
}

/// The name eviction queues give an entry: its tag's top 32 bits (which
/// also give its home slot at every capacity up to 2^32 slots).
#[inline]
pub(crate) fn fingerprint(tag: u64) -> u32 {
    (tag >> 32) as u32
}

/// Splits a [`Table::word`] into the slot array and its size in bits.
#[inline]
pub(crate) fn unpack_word(word: usize) -> (*const Slot, u32) {
    ((word & !63) as *const Slot, (word & 63) as u32)
}

/// Hints the CPU to fetch the cache line at `p` (any address: prefetching never faults).
#[inline]
pub(crate) fn prefetch_addr(p: *const u8) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: prefetch instructions never fault, whatever the address.
    unsafe {
        std::arch::x86_64::_mm_prefetch(p as *const i8, std::arch::x86_64::_MM_HINT_T0);
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = p;
}

#[cfg(all(test, not(loom)))]
#[path = "table_tests.rs"]
mod tests;
