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
use std::marker::PhantomData;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

#[derive(Clone, Copy)]
#[repr(C)]
pub(crate) struct Slot {
    pub(crate) tag: u64,
    pub(crate) rec: *mut u8,
}

const MIN_BITS: u32 = 6;
/// The largest slot array a capacity asks for up front: 2^40 slots (16 TiB).
const MAX_BITS: u32 = 40;
/// The access count (0..=3, saturating) in a slot's record word's low bits.
const ACCESSED: u64 = 3;

/// Slot arrays of at least 2^17 slots (2 MiB) are built by the shard's
/// owner in the background ([`Spare`]): mapping and first touching such an
/// array is most of a doubling's time (0.30 of 0.32 s for 2^23 slots on the
/// 2-vCPU VM), and the writer that needed it would otherwise wait it out
/// holding the shard's lock. The owner then copies the entries into it
/// without the lock as well ([`Spare::copy_step`], [`Table::adopt`]): the
/// copy of 3.5M entries held the lock 21-50 ms. Meanwhile writers fill the
/// old array on, up to a load of 9/10, past which one grows it itself,
/// into the owner's array as far as the owner got ([`Table::double_into`]).
pub(crate) const BACKGROUND_MIN_BITS: u32 = 17;

/// The index of one shard.
pub(crate) struct Table {
    region: NodeRegion,
    bits: u32,
    len: usize,
    node: Option<u32>,
    /// The log2 capacity `clear` returns to: [`MIN_BITS`], or the size the
    /// map's `initial_capacity` asked for.
    floor: u32,
    /// While the shard's owner copies this table into a [`Spare`] without
    /// the lock: the tags of every entry a change of the slot array touched
    /// since (inserted, pointed at a new record, removed or moved), which
    /// the copy must look at again. `None` otherwise, and when it grew past
    /// [`MAX_LOG`] (the copy is then abandoned).
    dirty: Option<Vec<u64>>,
    /// Which table this is: a fresh number per slot array made, so that a
    /// copy of one is never adopted by another at the same address.
    id: u64,
}

/// Most tags a copy's log holds; past it the copy is abandoned and a writer
/// doubles the index itself later, as before.
const MAX_LOG: usize = 1 << 20;

/// Numbers tables (`Table::id`).
static TABLE_IDS: AtomicU64 = AtomicU64::new(1);

/// Copies adopted, and copies refused for holding another number of
/// entries than their table (tests: the second must stay 0).
#[cfg(test)]
pub(crate) static ADOPTED: AtomicU64 = AtomicU64::new(0);
#[cfg(test)]
pub(crate) static COPY_MISMATCHES: AtomicU64 = AtomicU64::new(0);

// SAFETY: the table owns its region exclusively; record pointers inside it
// are owned by the shard's arena, which moves together with the table.
unsafe impl Send for Table {}

#[inline]
pub(crate) fn tag_of(hash: u64) -> u64 {
    hash | 1
}

impl Table {
    #[cfg(test)]
    pub(crate) fn new(node: Option<u32>) -> Result<Table> {
        Table::with_bits(node, MIN_BITS, MIN_BITS)
    }

    fn with_bits(node: Option<u32>, bits: u32, floor: u32) -> Result<Table> {
        Ok(Table::of_region(slot_region(node, bits)?, bits, node, floor))
    }

    /// An empty table over `region`, a zeroed array of 2^`bits` slots.
    fn of_region(region: NodeRegion, bits: u32, node: Option<u32>, floor: u32) -> Table {
        Table { region, bits, len: 0, node, floor, dirty: None, id: TABLE_IDS.fetch_add(1, Relaxed) }
    }

    /// Records that a change touched the entry of `tag`, for a copy in
    /// progress ([`Table::dirty`]).
    #[inline(always)]
    fn touched(&mut self, tag: u64) {
        if let Some(log) = self.dirty.as_mut() {
            log.push(tag);
            if log.len() > MAX_LOG {
                self.dirty = None;
            }
        }
    }

    /// Starts logging the entries changes touch, for a copy of this table
    /// made without the lock ([`Spare::copy_step`]); returns the table's id.
    pub(crate) fn start_log(&mut self) -> u64 {
        self.dirty = Some(Vec::new());
        self.id
    }

    /// The tags logged since the last call (a new log starts), or `None`
    /// when this is not the table `id` or its log was given up.
    pub(crate) fn take_log(&mut self, id: u64) -> Option<Vec<u64>> {
        if self.id != id {
            return None;
        }
        self.dirty.as_mut().map(std::mem::take)
    }

    /// How many tags are logged, or `None` as for [`Table::take_log`].
    pub(crate) fn log_len(&self, id: u64) -> Option<usize> {
        if self.id != id {
            return None;
        }
        self.dirty.as_ref().map(Vec::len)
    }

    /// An empty table with room for `entries` without growing (a snapshot
    /// load, a `replace_all` part), and at least 2^`floor` slots, the size
    /// `clear` returns to.
    pub(crate) fn with_capacity(node: Option<u32>, entries: usize, floor: u32) -> Result<Table> {
        let floor = floor.max(MIN_BITS);
        Table::with_bits(node, bits_for(entries).max(floor), floor)
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
    fn slots(&self) -> *mut Slot {
        self.region.as_ptr() as *mut Slot
    }

    /// The geometry of this table's slot array: every probe of the owner's
    /// reads and writes walks it, as the lock-free reader and the batch
    /// stages walk the published array.
    #[inline(always)]
    pub(crate) fn view(&self) -> TableView<'_> {
        TableView::new(self.slots(), self.bits)
    }

    #[inline]
    pub(crate) fn home(&self, hash: u64) -> usize {
        self.view().home(hash)
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
        self.view().probe((fp as u64) << 32).find(|&(_, s)| fingerprint(s.tag) == fp && pred(s)).map(|(i, _)| i)
    }

    /// Calls `f` with every slot named `fp`.
    pub(crate) fn for_each_fingerprint(&self, fp: u32, mut f: impl FnMut(Slot)) {
        self.view().probe((fp as u64) << 32).filter(|&(_, s)| fingerprint(s.tag) == fp).for_each(|(_, s)| f(s));
    }

    /// The slot with this tag that points to `rec`.
    pub(crate) fn find_rec(&self, tag: u64, rec: *mut u8) -> Option<usize> {
        self.view().probe(tag).find(|&(_, s)| s.tag == tag && s.rec == rec).map(|(i, _)| i)
    }

    /// The slot index holding `key`, if present.
    #[inline]
    pub(crate) fn find(&self, hash: u64, key: &[u8]) -> Option<usize> {
        let tag = tag_of(hash);
        // SAFETY: occupied slots point to live records of this shard.
        let is_key = |s: Slot| s.tag == tag && crate::atomic_bytes::bytes_eq(unsafe { record_key(s.rec) }, key);
        self.view().probe(hash).find(|&(_, s)| is_key(s)).map(|(i, _)| i)
    }

    /// Whether inserting `n` more entries needs a bigger table first: the
    /// load stays at most 4/5 (hits probe ~3 slots, in one or two cache
    /// lines; at 3/4 a 100k-entry map on two shards sat at 0.38 right after
    /// a doubling: 125 vs 104 B/entry).
    #[inline]
    pub(crate) fn needs_grow_for(&self, n: usize) -> bool {
        self.load_past(n, 4, 5)
    }

    /// Whether `n` more entries would take the load past `num / den`.
    #[inline]
    fn load_past(&self, n: usize, num: usize, den: usize) -> bool {
        self.len.saturating_add(n).saturating_mul(den) > self.capacity() * num
    }

    /// Whether the next array is built in the background ([`BACKGROUND_MIN_BITS`]).
    #[inline]
    pub(crate) fn grows_in_background(&self) -> bool {
        self.bits + 1 >= BACKGROUND_MIN_BITS
    }

    /// Whether inserting `n` more entries cannot wait for the next array
    /// any longer: the 4/5 load of [`Table::needs_grow_for`], or 9/10 for an
    /// array whose successor is being built in the background.
    #[inline]
    pub(crate) fn must_grow_for(&self, n: usize) -> bool {
        if self.grows_in_background() {
            self.load_past(n, 9, 10)
        } else {
            self.needs_grow_for(n)
        }
    }

    /// What the next array will be (its log2 capacity and node), for [`Spare::new`].
    #[inline]
    pub(crate) fn next_shape(&self) -> (u32, Option<u32>) {
        (self.bits + 1, self.node)
    }

    /// Doubles the capacity. The old slot array goes to `garbage`: lock-free
    /// readers may still be probing it. Nothing writes the old array here,
    /// so the caller may run this outside a write section while readers
    /// keep using the published old array (see `ShardState::grow_ahead`);
    /// an access count a reader raises in the old array after its slot was
    /// copied is lost (the count is a hint).
    pub(crate) fn grow(&mut self, garbage: &mut Vec<NodeRegion>) -> Result<()> {
        let bigger = Table::with_bits(self.node, self.bits + 1, self.floor)?;
        self.rehash_into(bigger, garbage);
        Ok(())
    }

    /// Replaces this table (`id`) by `spare`, a copy made while writers
    /// went on ([`Spare::copy_step`], [`Spare::resync`]), once the entries
    /// of the last logged tags (and of those taken before and still
    /// pending) are copied again, here under the lock. Gives
    /// `spare` back when this is another table or its log was given up, or
    /// when the copy does not hold as many entries as this table (which
    /// would be a flaw in the copy: the caller then doubles the usual way).
    pub(crate) fn adopt(&mut self, id: u64, mut spare: Spare, garbage: &mut Vec<NodeRegion>) -> Option<Spare> {
        if (spare.table.bits, spare.table.node) != self.next_shape() || spare.copied < self.capacity() {
            return Some(spare);
        }
        let Some(mut log) = self.take_log(id) else { return Some(spare) };
        self.dirty = None;
        log.append(&mut spare.pending);
        // SAFETY: this table's array is mapped for the call (&self).
        unsafe { spare.resync(self.word(), log) };
        if spare.table.len != self.len || spare.overfull {
            #[cfg(test)]
            COPY_MISMATCHES.fetch_add(1, Relaxed);
            return Some(spare);
        }
        #[cfg(test)]
        ADOPTED.fetch_add(1, Relaxed);
        let mut bigger = spare.table;
        bigger.floor = self.floor;
        let old = std::mem::replace(self, bigger);
        garbage.push(old.region);
        None
    }

    /// Doubles into `spare`, the owner's next array, taken over under the
    /// lock by a writer that cannot wait for it: when the owner was copying
    /// this table into it (`copy_of` is this table's id, and its log runs),
    /// the slots not copied yet are copied here, then the logged entries
    /// again ([`Table::adopt`]); when the owner had copied nothing, the
    /// entries are placed here as by [`Table::grow`], into pages already
    /// touched. Gives `spare` back otherwise (another shape; a copy of
    /// another table, or whose log was given up; a copy that does not hold
    /// as many entries as this table, see [`Table::adopt`]).
    pub(crate) fn double_into(
        &mut self,
        mut spare: Spare,
        copy_of: Option<u64>,
        garbage: &mut Vec<NodeRegion>,
    ) -> Option<Spare> {
        if spare.shape() != self.next_shape() {
            return Some(spare);
        }
        match copy_of {
            Some(id) if id == self.id && self.dirty.is_some() => {
                // SAFETY: this table's array is mapped for the call (&self).
                unsafe { spare.copy_step(self.word(), self.capacity()) };
                self.adopt(id, spare, garbage)
            }
            None if spare.copied == 0 && spare.table.len == 0 && !spare.has_pending() => {
                let mut bigger = spare.table;
                bigger.floor = self.floor;
                self.rehash_into(bigger, garbage);
                None
            }
            _ => Some(spare),
        }
    }

    /// Copies every slot into `bigger` (empty, twice the capacity), which
    /// becomes this table; the old array goes to `garbage`.
    fn rehash_into(&mut self, mut bigger: Table, garbage: &mut Vec<NodeRegion>) {
        debug_assert!(bigger.len == 0 && bigger.bits == self.bits + 1);
        for i in 0..self.capacity() {
            let tag = self.slot(i).tag;
            if tag != 0 {
                // SAFETY: i < capacity. The record word moves whole, its
                // access count included.
                let word = unsafe { load_rec_word(self.slots(), i) };
                // The new array is not published yet.
                bigger.put_word(tag, word);
            }
        }
        let old = std::mem::replace(self, bigger);
        garbage.push(old.region);
    }

    /// Inserts a key known to be absent; the caller has grown the table if
    /// needed. Returns its slot.
    pub(crate) fn insert_absent(&mut self, tag: u64, rec: *mut u8) -> usize {
        debug_assert!(self.len < self.capacity());
        let i = self.view().vacancy(tag);
        self.set_slot(i, Slot { tag, rec });
        self.len += 1;
        self.touched(tag);
        i
    }

    /// Places an entry by its tag and whole record word (access count
    /// included), in an array nothing reads yet (a copy being built).
    fn put_word(&mut self, tag: u64, word: u64) {
        let at = self.view().vacancy(tag);
        let q = self.slots() as *const AtomicU64;
        // SAFETY: `at` < the capacity; the array is not published, so only
        // its builder reads or writes it.
        unsafe {
            (*q.add(2 * at + 1)).store(word, Relaxed);
            (*q.add(2 * at)).store(tag, Relaxed);
        }
        self.len += 1;
    }

    /// Points slot `i` at a new record of the same key.
    pub(crate) fn replace_rec(&mut self, i: usize, rec: *mut u8) {
        let tag = self.slot(i).tag;
        self.set_slot(i, Slot { tag, rec });
        self.touched(tag);
    }

    /// Empties slot `i` and shifts the rest of its cluster back.
    pub(crate) fn remove_at(&mut self, mut i: usize) {
        let gone = self.slot(i).tag;
        self.touched(gone);
        let mut j = i;
        loop {
            j = self.view().next(j);
            let s = self.slot(j);
            if s.tag == 0 {
                break;
            }
            let h = self.home(s.tag);
            // Move s back to i unless its home lies cyclically in (i, j].
            let stays = if i <= j { i < h && h <= j } else { i < h || h <= j };
            if !stays {
                self.move_slot(j, i);
                self.touched(s.tag);
                i = j;
            }
        }
        self.set_slot(i, Slot { tag: 0, rec: std::ptr::null_mut() });
        self.len -= 1;
    }

    /// Drops every entry (records are the arena's to free) and shrinks back
    /// to its floor; the old slot array goes to `garbage`.
    pub(crate) fn clear(&mut self, garbage: &mut Vec<NodeRegion>) -> Result<()> {
        let old = std::mem::replace(self, Table::with_bits(self.node, self.floor, self.floor)?);
        garbage.push(old.region);
        Ok(())
    }

    /// Calls `f` with every entry whose tag lies in `[lo, hi]` (inclusive,
    /// `lo <= hi`), in no particular order. Entries are found through their
    /// home slots, so the answer does not depend on the capacity.
    pub(crate) fn for_each_in_tag_range(&self, lo: u64, hi: u64, mut f: impl FnMut(Slot)) {
        let view = self.view();
        let mask = view.mask();
        let first = view.home(lo);
        let span = view.home(hi) - first;
        let mut i = first;
        // An entry sits at or after its home with no empty slot in between, so
        // scanning from the first home past the last one until an empty slot
        // sees every entry whose home is in range.
        // Records lie anywhere in the arena: fetch the one D slots ahead
        // while this one is copied, so that their misses overlap.
        const D: usize = 8;
        for steps in 0..self.capacity() {
            prefetch_addr(view.slot((i + D) & mask).rec);
            let s = view.slot(i);
            if s.tag == 0 {
                if steps > span {
                    break;
                }
            } else if lo <= s.tag && s.tag <= hi {
                f(s);
            }
            i = view.next(i);
        }
    }

    /// Moves the slot array's pages found off its node there; returns how
    /// many were (see [`NodeRegion::settle`]).
    pub(crate) fn settle(&self) -> u64 {
        self.region.settle()
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
    #[cfg(all(target_arch = "aarch64", not(miri)))]
    // SAFETY: PRFM is a hint: it never faults, whatever the address; it
    // reads only its address operand and writes no register, flag, stack
    // or memory (`readonly` rather than `nomem` keeps the compiler from
    // moving it above earlier stores).
    unsafe {
        std::arch::asm!("prfm pldl1keep, [{0}]", in(reg) p, options(nostack, preserves_flags, readonly));
    }
    #[cfg(not(any(target_arch = "x86_64", all(target_arch = "aarch64", not(miri)))))]
    let _ = p;
}

/// The geometry of a slot array, in one place: where a key's probe starts
/// (its home slot, from the hash's top bits, so that a range of hashes is a
/// range of slots at every capacity), how it continues (linearly, wrapping),
/// and what a batch fetches ahead (the home slot's line, then the record of
/// the first slot with the key's tag). The owner's table ([`Table::view`]),
/// the lock-free reader and the batch stages (over a published array,
/// [`TableView::published`]) all probe through it, so a change to probing is
/// made once for all of them.
#[derive(Clone, Copy)]
pub(crate) struct TableView<'a> {
    slots: *const Slot,
    /// The capacity minus one, and 64 minus log2 of the capacity (the
    /// home slot's shift): kept ready, since every probe needs both.
    mask: usize,
    shift: u32,
    _array: PhantomData<&'a [Slot]>,
}

impl<'a> TableView<'a> {
    #[inline(always)]
    fn new(slots: *const Slot, bits: u32) -> TableView<'a> {
        debug_assert!((1..64).contains(&bits));
        TableView { slots, mask: (1usize << bits) - 1, shift: 64 - bits, _array: PhantomData }
    }

    /// The slot array a [`Table::word`] names (`None` for 0: no published array).
    ///
    /// # Safety
    /// `word` is a `Table::word` whose slot array stays mapped for `'a`
    /// (a lock-free reader: while its gate pass is held).
    #[inline(always)]
    pub(crate) unsafe fn published(word: usize) -> Option<TableView<'a>> {
        let (slots, bits) = unpack_word(word);
        (word != 0).then(|| TableView::new(slots, bits))
    }

    /// A view of an empty array of two slots, for a read that is to find
    /// nothing (a lock-free read with no consistent start: its result is
    /// never kept).
    #[inline(always)]
    pub(crate) fn empty() -> TableView<'static> {
        /// Two empty slots (zero tags), never written.
        static EMPTY: [AtomicU64; 4] = [const { AtomicU64::new(0) }; 4];
        TableView::new(EMPTY.as_ptr() as *const Slot, 1)
    }

    /// log2 of the capacity.
    #[inline(always)]
    pub(crate) fn bits(&self) -> u32 {
        64 - self.shift
    }

    /// True when `shards` slot arrays of this one's size hold at most 2^15
    /// slots (512 KiB) together: the map's slots and records then mostly
    /// sit in the caller's caches, and a batch may read them without the
    /// prefetch stages.
    #[inline(always)]
    pub(crate) fn map_is_cache_sized(&self, shards: usize) -> bool {
        self.bits() + shards.next_power_of_two().trailing_zeros() <= 15
    }

    #[inline(always)]
    pub(crate) fn mask(&self) -> usize {
        self.mask
    }

    /// The first slot a key of this hash (or tag) may sit in.
    #[inline(always)]
    pub(crate) fn home(&self, hash: u64) -> usize {
        (hash >> self.shift) as usize
    }

    /// The slot probed after `i`.
    #[inline(always)]
    pub(crate) fn next(&self, i: usize) -> usize {
        (i + 1) & self.mask()
    }

    /// Slot `i` (taken modulo the capacity), accessed bit cleared.
    #[inline(always)]
    pub(crate) fn slot(&self, i: usize) -> Slot {
        // SAFETY: the index is masked below the capacity, and the array is
        // mapped for 'a (the constructors' contracts).
        unsafe { load_slot(self.slots, i & self.mask()) }
    }

    /// The occupied slots of `hash`'s probe sequence, from its home to the
    /// first empty slot (at most the whole array), with their indices.
    #[inline(always)]
    pub(crate) fn probe(&self, hash: u64) -> Probe<'a> {
        Probe { view: *self, i: self.home(hash), left: self.mask() + 1 }
    }

    /// The occupied slots from slot `i` on, to the first empty one.
    #[inline(always)]
    pub(crate) fn probe_from(&self, i: usize) -> Probe<'a> {
        Probe { view: *self, i: i & self.mask(), left: self.mask() + 1 }
    }

    /// The first slot of `hash`'s probe whose tag is the key's and whose
    /// record is set, as `(index, record)`; `(0, null)` when the probe
    /// reaches an empty slot first (or has walked the whole array: a
    /// lock-free reader's view may be torn). The lock-free reads' probe:
    /// one loop, no iterator state beyond the index.
    #[inline(always)]
    pub(crate) fn find_tag(&self, hash: u64) -> (usize, *mut u8) {
        let tag = tag_of(hash);
        let mask = self.mask();
        let mut i = self.home(hash);
        let mut left = mask;
        loop {
            // SAFETY: i <= mask, inside an array mapped for 'a.
            let s = unsafe { load_slot(self.slots, i) };
            if s.tag == tag {
                if !s.rec.is_null() {
                    return (i, s.rec);
                }
            } else if s.tag == 0 {
                break;
            }
            if left == 0 {
                break;
            }
            left -= 1;
            i = (i + 1) & mask;
        }
        (0, std::ptr::null_mut())
    }

    /// The first empty slot of `hash`'s probe sequence (the table is never full).
    #[inline]
    pub(crate) fn vacancy(&self, hash: u64) -> usize {
        let mut i = self.home(hash);
        while self.slot(i).tag != 0 {
            i = self.next(i);
        }
        i
    }

    /// Hints the CPU to fetch `hash`'s home slot.
    #[inline(always)]
    pub(crate) fn prefetch_home(&self, hash: u64) {
        prefetch_addr(self.slots.wrapping_add(self.home(hash)) as *const u8);
    }

    /// Hints the CPU to fetch the record of `hash`'s key: the first slot from
    /// its home, within four, whose tag matches (at a load of 0.6-0.8 most
    /// hits are there). Meant to run once the home slot's line has arrived.
    #[inline(always)]
    pub(crate) fn prefetch_record(&self, hash: u64) {
        let tag = tag_of(hash);
        if let Some((_, s)) = self.probe(hash).take(4).find(|&(_, s)| s.tag == tag) {
            prefetch_record_lines(s.rec);
        }
    }

    /// Raises slot `i`'s access count (see [`mark_accessed`]).
    #[inline(always)]
    pub(crate) fn mark_accessed(&self, i: usize) {
        // SAFETY: masked below the capacity of an array mapped for 'a.
        unsafe { mark_accessed(self.slots, i & self.mask()) }
    }
}

/// The log2 capacity of the smallest array that holds `entries` without
/// growing: a load of at most 4/5 ([`Table::needs_grow_for`]). Saturates at
/// [`MAX_BITS`].
pub(crate) fn bits_for(entries: usize) -> u32 {
    let slots = entries.saturating_mul(5) / 4 + 1;
    if slots > 1 << MAX_BITS {
        return MAX_BITS;
    }
    slots.next_power_of_two().trailing_zeros().max(MIN_BITS)
}

/// A zeroed (empty) array of 2^`bits` slots bound to `node`; arrays of
/// 2 MiB and more are advised onto huge pages.
fn slot_region(node: Option<u32>, bits: u32) -> Result<NodeRegion> {
    let bytes = (1usize << bits) * std::mem::size_of::<Slot>();
    NodeRegion::new(bytes, node, bytes >= 2 * 1024 * 1024)
}

/// A slot array built ahead of its table's doubling, off the shard's lock,
/// by the shard's owner: mapped on the table's node, then its pages touched
/// a step at a time (so the owner answers its channels in between; every
/// touch stores a zero), then filled with a copy of the table's entries,
/// also a step at a time and without the lock, while the table logs the
/// entries its changes touch ([`Table::start_log`]); those are copied again
/// ([`Spare::resync`]) until few are left, and the last are copied under
/// the lock as the spare becomes the table ([`Table::adopt`]).
pub(crate) struct Spare {
    /// The array, as the table it becomes (empty until a copy fills it).
    table: Table,
    /// Bytes from the start whose pages were touched.
    touched: usize,
    /// Slots of the source array copied so far ([`Spare::copy_step`]).
    copied: usize,
    /// An entry was left out for want of room (slots read while they
    /// changed can only add entries to drop later; past a load of 9/10 the
    /// copy is not trusted): never adopted.
    overfull: bool,
    /// Tags taken from the table's log whose entries are yet to be copied
    /// again ([`Spare::defer`]): a step at a time by the owner, or all at
    /// once when the spare is adopted.
    pending: Vec<u64>,
}

impl Spare {
    /// An untouched array of 2^`bits` slots bound to `node`.
    pub(crate) fn new(bits: u32, node: Option<u32>) -> Result<Spare> {
        Ok(Spare {
            table: Table::with_bits(node, bits, MIN_BITS)?,
            touched: 0,
            copied: 0,
            overfull: false,
            pending: Vec::new(),
        })
    }

    /// The word of the table it becomes ([`Table::word`]).
    #[cfg(test)]
    pub(crate) fn word(&self) -> usize {
        self.table.word()
    }

    /// The table it becomes, as far as built.
    pub(crate) fn table(&self) -> &Table {
        &self.table
    }

    /// Its array's memory, to retire.
    pub(crate) fn into_region(self) -> NodeRegion {
        self.table.region
    }

    /// The shape it was built for.
    pub(crate) fn shape(&self) -> (u32, Option<u32>) {
        (self.table.bits, self.table.node)
    }

    /// Touches the pages of the next `step` bytes (whole pages, at least
    /// one); true once every page was.
    pub(crate) fn populate(&mut self, step: usize) -> bool {
        const PAGE: usize = 4096;
        let region = &self.table.region;
        let end = region.len().min(self.touched.saturating_add(step.max(1)).next_multiple_of(PAGE));
        let base = region.as_ptr();
        // `touched` is a multiple of PAGE until the end: every `at` below is.
        let mut at = self.touched;
        while at < end {
            // SAFETY: `at` < the region's length and 8-aligned (a multiple of
            // PAGE from the page-aligned start); the region is mapped
            // readable and writable and owned by this value alone (nothing
            // was published from it), and a zero is what it holds already.
            unsafe { std::ptr::write_volatile(base.add(at) as *mut u64, 0) };
            at += PAGE;
        }
        self.touched = end;
        self.is_populated()
    }

    pub(crate) fn is_populated(&self) -> bool {
        self.touched >= self.table.region.len()
    }

    /// Places an entry, unless the array is 9/10 full ([`Spare::overfull`]).
    fn put(&mut self, tag: u64, word: u64) {
        if self.table.load_past(1, 9, 10) {
            self.overfull = true;
        } else {
            self.table.put_word(tag, word);
        }
    }

    /// Whether [`Spare::copy_step`] copied every slot of its source.
    pub(crate) fn is_copied(&self) -> bool {
        self.copied > 0 && self.copied == 1 << (self.table.bits - 1)
    }

    /// Copies the next `step` slots of the array `word` names (a table half
    /// this size, which writers may be changing meanwhile: a slot read while
    /// it changes may be copied wrong, and its entries are logged, to be
    /// copied again by [`Spare::resync`]); true once every slot was.
    ///
    /// # Safety
    /// `word` is a [`Table::word`] whose array stays mapped during the call
    /// (the caller holds a gate pass and saw `word` published after
    /// entering, or holds the lock of the table it names).
    pub(crate) unsafe fn copy_step(&mut self, word: usize, step: usize) -> bool {
        let (slots, bits) = unpack_word(word);
        debug_assert_eq!(bits + 1, self.table.bits);
        let end = (1usize << bits).min(self.copied + step);
        for i in self.copied..end {
            // SAFETY: i < the source's capacity, mapped by the caller's contract.
            let (tag, rec) =
                unsafe { ((*(slots as *const AtomicU64).add(2 * i)).load(Relaxed), load_rec_word(slots, i)) };
            if tag != 0 && rec & !ACCESSED != 0 {
                self.put(tag, rec);
            }
        }
        self.copied = end;
        end == 1 << bits
    }

    /// Takes `tags` (a log taken from the table) to copy again later,
    /// [`Spare::resync_pending`] a step at a time, or at adoption.
    pub(crate) fn defer(&mut self, tags: Vec<u64>) {
        if self.pending.is_empty() {
            self.pending = tags;
        } else {
            self.pending.extend(tags);
        }
    }

    /// Whether tags wait to be copied again.
    pub(crate) fn has_pending(&self) -> bool {
        !self.pending.is_empty()
    }

    /// Copies again the entries of up to `step` of the tags waiting
    /// ([`Spare::resync`]); the rest wait on.
    ///
    /// # Safety
    /// As for [`Spare::copy_step`].
    pub(crate) unsafe fn resync_pending(&mut self, word: usize, step: usize) {
        let chunk = self.pending.split_off(self.pending.len().saturating_sub(step));
        // SAFETY: the caller's contract.
        unsafe { self.resync(word, chunk) };
    }

    /// Copies again the entries of `tags` (logged while the copy ran): drops
    /// this array's entries of each tag and copies the source's. Without the
    /// lock, what it reads may change again, and is logged again; under the
    /// lock (the last round) it is exact.
    ///
    /// # Safety
    /// As for [`Spare::copy_step`].
    pub(crate) unsafe fn resync(&mut self, word: usize, mut tags: Vec<u64>) {
        tags.sort_unstable();
        tags.dedup();
        // SAFETY: the caller's contract: `word`'s array is mapped.
        let source = unsafe { TableView::published(word) }.expect("a published array");
        for tag in tags {
            let home = self.table.home(tag);
            let mut i = home;
            loop {
                let s = self.table.slot(i);
                if s.tag == 0 {
                    break;
                }
                if s.tag == tag {
                    // The next slot shifts back into i: look at i again.
                    self.table.remove_at(i);
                    continue;
                }
                i = self.table.view().next(i);
            }
            for (at, s) in source.probe(tag) {
                if s.tag == tag {
                    // SAFETY: `at` < the source's capacity (a probe's slot).
                    let rec = unsafe { load_rec_word(source.slots, at) };
                    if rec & !ACCESSED != 0 {
                        self.put(tag, rec);
                    }
                }
            }
        }
    }
}

/// A probe sequence's occupied slots ([`TableView::probe`]).
pub(crate) struct Probe<'a> {
    view: TableView<'a>,
    i: usize,
    left: usize,
}

impl Iterator for Probe<'_> {
    type Item = (usize, Slot);

    #[inline(always)]
    fn next(&mut self) -> Option<(usize, Slot)> {
        if self.left == 0 {
            return None;
        }
        let at = self.i;
        let s = self.view.slot(at);
        if s.tag == 0 {
            return None;
        }
        self.left -= 1;
        self.i = self.view.next(at);
        Some((at, s))
    }
}

/// Hints the CPU to fetch both lines a record of up to 64 bytes may straddle.
#[inline(always)]
pub(crate) fn prefetch_record_lines(rec: *const u8) {
    prefetch_addr(rec);
    prefetch_addr(rec.wrapping_add(63));
}

#[cfg(all(test, not(loom)))]
#[path = "table_tests.rs"]
mod tests;
