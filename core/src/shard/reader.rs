//! The lock-free reader ("CREW": the owner writes, anyone reads): probes
//! the published slot array under a seqlock while the caller's gate pass
//! keeps every region it may touch mapped.

use super::Shard;
use crate::arena::{self, HAS_DEADLINE, HEADER};
use crate::atomic_bytes;
use crate::batch::BatchOp;
use crate::error::Status;
use crate::seqlock::SeqLock;
use crate::sync::AtomicUsize;
use crate::table::{prefetch_record_lines, tag_of, TableView};
use std::sync::atomic::Ordering;

/// The seqlock and the published slot array of a shard. In C layout: the
/// direct-read protocol names the home word by its offset from the slot
/// array's word (`ns_direct_shard.home_offset`), which must be positive.
#[repr(C)]
pub(super) struct ReaderView {
    /// Odd while the lock holder changes the shard. Lock-free readers read,
    /// then check it did not move.
    pub(super) seq: SeqLock,
    /// The current slot array (`Table::word`).
    pub(super) table_word: AtomicUsize,
    /// The arena's home lines (`Arena::home_word`; 0: none): a hint only,
    /// never dereferenced, so a stale one costs a useless prefetch.
    pub(super) home_word: AtomicUsize,
    /// Where a direct reader counts its reads: the first stripe of the
    /// shard's hit and miss counters (`Counters::read_stripes`), 0 when the
    /// shard counts none. Set once, before the shard is shared.
    pub(super) counters: usize,
    /// Their shape: the stripe count in the low 32 bits, the bytes from one
    /// stripe to the next in the high 32.
    pub(super) counters_shape: usize,
}

/// Bytes a lock-free read copies through the stack at most; larger values
/// are read under the lock, from the slot the lock-free probe found (so a
/// caller's buffer is only written once the read is known to be consistent).
const LOCK_FREE_VALUE_MAX: usize = 512;

/// Where a lock-free read copies a value before it is known consistent:
/// whole words (the value may start mid-word), not zeroed (only what a
/// validated read filled is used).
pub(crate) struct Stage([std::mem::MaybeUninit<u64>; LOCK_FREE_VALUE_MAX / 8 + 2]);

impl Stage {
    #[inline(always)]
    pub(crate) fn new() -> Stage {
        Stage([std::mem::MaybeUninit::uninit(); LOCK_FREE_VALUE_MAX / 8 + 2])
    }

    /// The `len` bytes from byte `at`.
    ///
    /// # Safety
    /// A lookup filled them (it returned `Found { copied: true, len, at }`).
    #[inline(always)]
    unsafe fn bytes(&self, at: usize, len: usize) -> *const u8 {
        debug_assert!(at + len <= std::mem::size_of_val(&self.0));
        // SAFETY: in bounds (at < 8, len <= LOCK_FREE_VALUE_MAX).
        unsafe { (self.0.as_ptr() as *const u8).add(at) }
    }
}

/// What a lock-free lookup found.
pub(crate) enum Lookup {
    /// The key, whose value is `len` bytes long, copied to the stage
    /// (starting at byte `at`) when `copied`.
    Found { len: usize, copied: bool, at: usize },
    /// No such key at a consistent moment.
    Missing,
    /// The key, at a consistent moment in slot `slot` with record `rec`, but
    /// its value is larger than the stage: the caller reads it under the lock
    /// from there (no second hash, gate pass or probe unless it moved).
    Large { slot: usize, rec: *mut u8 },
    /// No consistent moment in 24 attempts, or no published table (closing):
    /// take the lock.
    Busy,
}

/// Where lock-free reads of a shard start: the shard, the sequence the
/// reads validate against and the published slot array, read once
/// ([`Shard::read_start`]). A batch window reads them once per shard for
/// all its keys; a single get once per attempt.
#[derive(Clone, Copy)]
pub(crate) struct ReadStart<'a> {
    s1: u64,
    view: TableView<'a>,
    shard: &'a Shard,
}

/// The sequence of a start that validates nothing: a sequence moves by two
/// per write section and would reach this after 2^63 of them.
const NEVER: u64 = u64::MAX;

impl<'a> ReadStart<'a> {
    /// Hints the CPU to fetch the home slot of `hash`.
    #[inline(always)]
    pub(crate) fn prefetch_home(&self, hash: u64) {
        self.view.prefetch_home(hash);
    }

    /// The first half of a lock-free get: probe for the first slot with
    /// `hash`'s tag, then ask for its record's lines (for a batch whose
    /// second halves run once the whole window has begun). Nothing it
    /// reads is trusted before the second half ([`ReadStart::finish_get`])
    /// validates it.
    #[inline(always)]
    pub(crate) fn begin(&self, hash: u64) -> Begun {
        let (slot, rec) = self.view.find_tag(hash);
        prefetch_record_lines(rec);
        Begun { slot, rec }
    }

    /// True when no write section opened since this start: everything
    /// read in between belongs to one state.
    #[inline(always)]
    fn valid(&self) -> bool {
        self.shard.view.seq.read_valid(self.s1)
    }

    /// A batch's second stage for one get that [`ReadStart::begin`]
    /// started from this start. The common case — a miss, or a hit on the
    /// first slot with the key's tag, on an entry without a deadline, whose
    /// value fits the op's buffer and the stage — in a straight line
    /// ([`ReadStart::finish_get_into`]); an entry with a deadline, a tag
    /// shared with another key, a value to a vector, too large or too small
    /// a buffer, or a write meanwhile go on as [`Shard::finish_read`] does
    /// ([`ReadStart::finish_get_rest`]). Same contract as `read_get`.
    #[inline(always)]
    pub(crate) fn finish_get(&self, b: Begun, op: &mut BatchOp<'_>) -> bool {
        if op.out_vec.is_none() {
            match self.finish_get_into(b, op.key, op.out) {
                Quick::Hit(v) => {
                    op.status = Status::Ok;
                    op.out_len = v;
                    return true;
                }
                Quick::Missing => {
                    op.status = Status::NotFound;
                    op.out_len = 0;
                    return true;
                }
                Quick::Slow => {}
            }
        }
        self.finish_get_rest(b, op)
    }

    /// The common cases of a batch's second stage, on the key and the room
    /// alone: a miss, or a hit on the first slot with the key's tag, on an
    /// entry without a deadline, whose value fits `out` and the stage (then
    /// copied into `out`). `Quick::Slow` for everything else, with `out`
    /// untouched: the caller goes on with [`ReadStart::finish_get_rest`].
    #[inline(always)]
    pub(crate) fn finish_get_into(&self, b: Begun, key: &[u8], out: &mut [u8]) -> Quick {
        let shard = self.shard;
        let Begun { slot, rec } = b;
        if rec.is_null() {
            if self.valid() {
                shard.count(false);
                return Quick::Missing;
            }
            return Quick::Slow;
        }
        // SAFETY: a record block is at least HEADER bytes, 8-aligned and mapped.
        let h = unsafe { atomic_bytes::load_u64(rec) };
        let (kw, v) = split_header(h);
        // `kw` equal to the key's length: also no deadline (its top bit).
        if kw as usize != key.len() || v > out.len().min(LOCK_FREE_VALUE_MAX) || !self.valid() {
            return Quick::Slow;
        }
        // The header is a live record's: its key and value lie in the block.
        // SAFETY: the key's bytes follow the validated header in the block.
        if !unsafe { atomic_bytes::key_eq(rec.add(HEADER), key) } {
            return Quick::Slow;
        }
        let mut stage = Stage::new();
        // SAFETY: the value's v bytes follow the key inside the block
        // (8-aligned, a multiple of 8 long); the stage has room for v + 16 bytes.
        let at = unsafe { atomic_bytes::load_words(stage.0.as_mut_ptr() as *mut u64, rec.add(HEADER + key.len()), v) };
        if !self.valid() {
            return Quick::Slow;
        }
        if shard.notes_reads {
            shard.note_hit(self.view, slot);
        }
        // SAFETY: the stage holds the v validated bytes from `at`; v <= out.len().
        unsafe { atomic_bytes::copy_small(out.as_mut_ptr(), stage.bytes(at, v), v) };
        Quick::Hit(v)
    }

    /// The rest of [`ReadStart::finish_get`]'s cases: [`Shard::finish_read`]
    /// from where the probe stopped, then as [`Shard::read_get`].
    #[cold]
    #[inline(never)]
    pub(crate) fn finish_get_rest(&self, b: Begun, op: &mut BatchOp<'_>) -> bool {
        let mut stage = Stage::new();
        let out_len = op.out.len();
        let to_vec = op.out_vec.is_some();
        match self.shard.finish_read(*self, b, op.hash, op.key, &mut stage, |v| to_vec || v <= out_len) {
            Attempt::Done(r) => complete_get(r, &stage, op),
            Attempt::Retry => self.shard.read_get(op),
        }
    }
}

/// The first half of a lock-free get ([`ReadStart::begin`]), which a batch
/// runs for all its keys before the second half of any: the first slot of
/// the probe whose tag is the key's and its record (null: none before the
/// probe's end), whose lines were asked for.
#[derive(Clone, Copy)]
pub(crate) struct Begun {
    slot: usize,
    rec: *mut u8,
}

/// What [`ReadStart::finish_get_into`] settled.
pub(crate) enum Quick {
    /// Found; its value, this long, is in the caller's room.
    Hit(usize),
    /// No such key, at a consistent moment.
    Missing,
    /// Not settled: go on with [`ReadStart::finish_get_rest`].
    Slow,
}

/// The end of one attempt.
enum Attempt {
    Done(Lookup),
    /// The sequence moved: start over.
    Retry,
}

/// Writes a lock-free lookup's outcome into a batch get: false when it
/// found no consistent moment, or the value is too large for the stage
/// (the caller then takes the lock).
#[inline]
fn complete_get(r: Lookup, stage: &Stage, op: &mut BatchOp<'_>) -> bool {
    match r {
        Lookup::Busy | Lookup::Large { .. } => false,
        Lookup::Missing => {
            op.status = Status::NotFound;
            op.out_len = 0;
            true
        }
        Lookup::Found { len, copied, at } => {
            op.out_len = len;
            op.status = if !copied {
                Status::BufferTooSmall
            } else {
                // SAFETY: the lookup filled these bytes.
                let value = unsafe { std::slice::from_raw_parts(stage.bytes(at, len), len) };
                if let Some(out) = op.out_vec.as_deref_mut() {
                    out.clear();
                    out.extend_from_slice(value);
                } else {
                    // SAFETY: `copied` means len <= op.out.len(); the
                    // stage and the caller's buffer do not overlap.
                    unsafe { atomic_bytes::copy_small(op.out.as_mut_ptr(), value.as_ptr(), len) };
                }
                Status::Ok
            };
            true
        }
    }
}

/// A record header's two native u32s: the key length word (its top bit,
/// [`HAS_DEADLINE`], flags a deadline) and the value length.
#[inline(always)]
fn split_header(h: u64) -> (u32, usize) {
    if cfg!(target_endian = "little") {
        (h as u32, (h >> 32) as usize)
    } else {
        ((h >> 32) as u32, (h as u32) as usize)
    }
}

impl Shard {
    /// The published slot array.
    #[inline(always)]
    fn published(&self) -> Option<TableView<'_>> {
        // SAFETY: a published array is only unmapped through the gate's grace
        // period, which every caller's gate pass holds off.
        unsafe { TableView::published(self.view.table_word.load(Ordering::Relaxed)) }
    }

    /// Where a direct reader finds this shard (`map/direct.rs`).
    #[cfg(not(loom))]
    pub(crate) fn direct_shard(&self) -> crate::map::DirectShard {
        crate::map::DirectShard {
            seq: self.view.seq.as_ptr(),
            table: self.view.table_word.as_ptr() as *const u64,
            home: self.view.home_word.as_ptr() as *const u64,
            direct: true,
            mark_hits: self.mark_reads,
            counters: &self.view.counters as *const usize as *const u64,
            monotonic_deadlines: self.clock.is_monotonic(),
        }
    }

    /// Hints the CPU to fetch the home slot of `hash` in the published table.
    #[inline]
    pub(crate) fn prefetch(&self, hash: u64) {
        if let Some(v) = self.published() {
            v.prefetch_home(hash);
        }
    }

    /// Hints the CPU to fetch the pair of home lines where `hash`'s record
    /// is when it is one line long and found one free (`arena::Home`), so
    /// that a single get or put waits for the slot's miss and the record's
    /// together: `Map::get_into` (through [`Shard::read_into`]), a single
    /// get of `Map::run_one`, and every single write ([`Shard::lock_for`]).
    /// Batches do not: their windows already overlap the records' misses,
    /// and at 100k entries the pair cost their gets 10-19% (the home line
    /// alone 5-10%; `bench/results/engine.md`, "records placed by hash").
    #[inline(always)]
    pub(crate) fn prefetch_home_line(&self, hash: u64) {
        let w = self.view.home_word.load(Ordering::Relaxed);
        if w != 0 {
            let p = crate::arena::home_line(w, hash);
            crate::table::prefetch_addr(p as *const u8);
            crate::table::prefetch_addr((p ^ 64) as *const u8);
        }
    }

    /// [`TableView::map_is_cache_sized`] of the published slot array, for
    /// a map of `shards` shards (true when none is published: the map is
    /// closing).
    #[inline]
    pub(crate) fn map_is_cache_sized(&self, shards: usize) -> bool {
        self.published().map_or(true, |v| v.map_is_cache_sized(shards))
    }

    /// Hints the CPU to fetch the record of `hash`'s key (see
    /// [`TableView::prefetch_record`]), after `prefetch` brought its home slot in.
    #[inline]
    pub(crate) fn prefetch_record(&self, hash: u64) {
        if let Some(v) = self.published() {
            v.prefetch_record(hash);
        }
    }

    /// Where a lock-free read starts: the sequence (`None` while a write
    /// section is open, or when no array is published: the map is closing)
    /// and the published array.
    #[inline(always)]
    fn try_read_start(&self) -> Option<ReadStart<'_>> {
        let s1 = self.view.seq.read_begin()?;
        let view = self.published()?;
        Some(ReadStart { s1, view, shard: self })
    }

    /// [`Shard::try_read_start`] for a batch: without a consistent start
    /// (a write section open, the map closing), one over an empty array
    /// that never validates, so its reads find nothing and each takes the
    /// whole lock-free read ([`Shard::read_get`]) instead.
    #[inline(always)]
    pub(crate) fn read_start(&self) -> ReadStart<'_> {
        self.try_read_start().unwrap_or_else(|| self.no_start())
    }

    /// A start over an empty array that never validates (see [`Shard::read_start`]).
    #[inline]
    pub(crate) fn no_start(&self) -> ReadStart<'_> {
        ReadStart { s1: NEVER, view: TableView::empty(), shard: self }
    }

    /// The second half: check the record's key (probing on past a slot
    /// whose tag matched another key), copy the value into `stage` unless
    /// `copy` is false, and keep the result only if the seqlock shows that
    /// no change happened meanwhile.
    ///
    /// Soundness: every address read is mapped — the slot array and record
    /// chunks are only unmapped through the gate's grace period, which the
    /// caller's gate pass holds off; record pointers in slots always point
    /// to record blocks, 8-aligned and a multiple of 8 bytes long (so a
    /// whole aligned word around any byte of a block lies in it); a header is only
    /// trusted (to size further reads) after the seqlock confirmed it. All
    /// reads are atomic (see `atomic_bytes`), so racing with the owner's
    /// writes is defined.
    #[inline(always)]
    fn finish_read(
        &self,
        start: ReadStart<'_>,
        b: Begun,
        hash: u64,
        key: &[u8],
        stage: &mut Stage,
        copy: impl Fn(usize) -> bool,
    ) -> Attempt {
        let ReadStart { s1, view, .. } = start;
        let Begun { mut slot, mut rec } = b;
        let tag = tag_of(hash);
        let (v, has_deadline) = loop {
            if rec.is_null() {
                if !self.view.seq.read_valid(s1) {
                    return Attempt::Retry;
                }
                self.count(false);
                return Attempt::Done(Lookup::Missing);
            }
            // SAFETY: a record block is at least HEADER bytes, 8-aligned and mapped.
            let h = unsafe { atomic_bytes::load_u64(rec) };
            // The header is two native u32s: key length (its top bit
            // flags a deadline), then value length.
            let (kw, v) = split_header(h);
            let k = (kw & !HAS_DEADLINE) as usize;
            if !self.view.seq.read_valid(s1) {
                return Attempt::Retry;
            }
            // The header is a live record's: its key and value lie in the block.
            // SAFETY: k bytes after the header are the record's key.
            if k == key.len() && unsafe { atomic_bytes::key_eq(rec.add(HEADER), key) } {
                break (v, kw & HAS_DEADLINE != 0);
            }
            // Another key with the same tag: the probe goes on after it.
            (slot, rec) = view
                .probe_from(view.next(slot))
                .find(|&(_, s)| s.tag == tag && !s.rec.is_null())
                .map_or((0, std::ptr::null_mut()), |(i, s)| (i, s.rec));
        };
        let deadline = if has_deadline {
            // SAFETY: the validated header says the record ends with a
            // deadline, 8-aligned inside the block.
            unsafe { atomic_bytes::load_u64(rec.add(arena::deadline_offset(key.len(), v))) }
        } else {
            0
        };
        let copied = copy(v);
        let mut at = 0;
        if copied && v <= LOCK_FREE_VALUE_MAX {
            // SAFETY: the value's v bytes follow the key inside the block
            // (8-aligned, a multiple of 8 long, so the words covering them
            // are in it too); the stage has room for v + 16 bytes.
            // The value's address comes from the caller's key length (equal
            // to the record's) rather than the header, so the CPU can fetch
            // the value's line while the header's load is still pending.
            at = unsafe { atomic_bytes::load_words(stage.0.as_mut_ptr() as *mut u64, rec.add(HEADER + key.len()), v) };
        }
        if !self.view.seq.read_valid(s1) {
            return Attempt::Retry;
        }
        if deadline != 0 && deadline <= self.clock.now_ns() {
            // Expired: absent from this instant (the owner reclaims it).
            self.count(false);
            return Attempt::Done(Lookup::Missing);
        }
        if copied && v > LOCK_FREE_VALUE_MAX {
            // Counted (and marked) by the locked read that continues from here.
            return Attempt::Done(Lookup::Large { slot, rec });
        }
        if copied && self.notes_reads {
            // A value too large for the caller's buffer was not read: no
            // hit, no mark (the caller's retry with room counts once).
            self.note_hit(view, slot);
        }
        Attempt::Done(Lookup::Found { len: v, copied, at })
    }

    /// The lock-free lookup both get paths share: [`Shard::read_start`],
    /// the probe, then [`Shard::finish_read`], up to 24 attempts. While a
    /// write section is open it waits between attempts, twice as long each
    /// time up to 64 spin hints, and yields the CPU before each of the last
    /// 8 attempts, before the caller takes the lock. A write section is
    /// short (the index grows outside it), but the lock may be held long
    /// after it closes (a writer doubling the index itself): a reader that
    /// queued for the lock as soon as a section met it waited all of that
    /// (0.16 s in a 4M-entry fill, when the owner still copied under the
    /// lock), where one more attempt would have succeeded.
    #[inline(always)]
    fn lookup(&self, hash: u64, key: &[u8], stage: &mut Stage, copy: impl Fn(usize) -> bool) -> Lookup {
        for attempt in 0..24u32 {
            let Some(start) = self.try_read_start() else {
                if self.published().is_none() {
                    // No published array: the map is closing.
                    return Lookup::Busy;
                }
                // A write section is open.
                if attempt >= 16 {
                    std::thread::yield_now();
                } else {
                    for _ in 0..1u32 << attempt.min(6) {
                        std::hint::spin_loop();
                    }
                }
                continue;
            };
            let (slot, rec) = start.view.find_tag(hash);
            match self.finish_read(start, Begun { slot, rec }, hash, key, stage, &copy) {
                Attempt::Done(r) => return r,
                Attempt::Retry => continue,
            }
        }
        Lookup::Busy
    }

    /// Counts a lock-free read's hit or miss, when the map records them.
    #[inline(always)]
    fn count(&self, hit: bool) {
        if self.count_reads {
            self.counters.read(hit);
        }
    }

    /// A get without the ownership lock ("CREW": the owner writes, anyone
    /// reads) for a batch op: see [`Shard::lookup`]. Returns false when it
    /// could not get a consistent read, or the value is too large for the
    /// stage (the caller then takes the lock).
    #[inline]
    pub(crate) fn read_get(&self, op: &mut BatchOp<'_>) -> bool {
        let mut stage = Stage::new();
        let out_len = op.out.len();
        let to_vec = op.out_vec.is_some();
        let r = self.lookup(op.hash, op.key, &mut stage, |v| to_vec || v <= out_len);
        complete_get(r, &stage, op)
    }

    /// Marks and counts a lock-free hit, as the map asks ([`Shard::notes_reads`]).
    #[cold]
    fn note_hit(&self, view: TableView<'_>, slot: usize) {
        if self.mark_reads {
            view.mark_accessed(slot);
        }
        self.count(true);
    }

    /// The single-call get: [`Shard::lookup`] straight into `out` (through
    /// the stage, so `out` is only written with a consistent value).
    /// `Found` with `copied == false` means `out` was too small (untouched);
    /// `Large`: the value fits `out` but not the stage, read it under the lock.
    #[inline]
    pub(crate) fn read_into(&self, hash: u64, key: &[u8], out: &mut [u8]) -> Lookup {
        self.prefetch_home_line(hash);
        let mut stage = Stage::new();
        let r = self.lookup(hash, key, &mut stage, |v| v <= out.len());
        if let Lookup::Found { len, copied: true, at } = r {
            // SAFETY: the lookup filled these bytes, and `len <= out.len()`.
            unsafe { atomic_bytes::copy_small(out.as_mut_ptr(), stage.bytes(at, len), len) };
        }
        r
    }
}
