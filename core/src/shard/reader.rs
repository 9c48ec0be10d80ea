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

/// The seqlock and the published slot array of a shard.
pub(super) struct ReaderView {
    /// Odd while the lock holder changes the shard. Lock-free readers read,
    /// then check it did not move.
    pub(super) seq: SeqLock,
    /// The current slot array (`Table::word`).
    pub(super) table_word: AtomicUsize,
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
    /// No consistent moment in 16 attempts, or no published table (closing):
    /// take the lock.
    Busy,
}

/// The first half of a lock-free get, which a batch runs for all its keys
/// before the second half of any ([`Shard::begin_read`]): the sequence the
/// read started from, the published array, and the first slot of the probe
/// whose tag is the key's (its record already asked for).
#[derive(Clone, Copy)]
pub(crate) struct Begun<'a> {
    s1: u64,
    view: TableView<'a>,
    /// The first slot with the key's tag and a record (`rec` null: none
    /// before the probe's end).
    slot: usize,
    rec: *mut u8,
}

/// How a read started.
#[derive(Clone, Copy)]
pub(crate) enum Begin<'a> {
    Probed(Begun<'a>),
    /// A write section was open: retry.
    WriteOpen,
    /// No published array (the map is closing): take the lock.
    Closed,
}

/// The end of one attempt.
enum Attempt {
    Done(Lookup),
    /// The sequence moved: start over.
    Retry,
}

impl Shard {
    /// The published slot array.
    #[inline(always)]
    fn published(&self) -> Option<TableView<'_>> {
        // SAFETY: a published array is only unmapped through the gate's grace
        // period, which every caller's gate pass holds off.
        unsafe { TableView::published(self.view.table_word.load(Ordering::Relaxed)) }
    }

    /// Hints the CPU to fetch the home slot of `hash` in the published table.
    #[inline]
    pub(crate) fn prefetch(&self, hash: u64) {
        if let Some(v) = self.published() {
            v.prefetch_home(hash);
        }
    }

    /// True when the published slot array has at most 2^15 slots (512 KiB):
    /// such a shard's slots and records mostly sit in the caller's caches,
    /// and a batch reads them without the prefetch stages.
    #[inline]
    pub(crate) fn is_cache_sized(&self) -> bool {
        match self.published() {
            Some(v) => v.bits() <= 15,
            None => true,
        }
    }

    /// Hints the CPU to fetch the record of `hash`'s key (see
    /// [`TableView::prefetch_record`]), after `prefetch` brought its home slot in.
    #[inline]
    pub(crate) fn prefetch_record(&self, hash: u64) {
        if let Some(v) = self.published() {
            v.prefetch_record(hash);
        }
    }

    /// The first half of a lock-free get: read the sequence, probe the
    /// published array for the first slot with `hash`'s tag, and ask for
    /// its record's lines. Nothing it reads is trusted before
    /// [`Shard::finish_read`] validates it.
    #[inline(always)]
    pub(crate) fn begin_read(&self, hash: u64) -> Begin<'_> {
        let Some(s1) = self.view.seq.read_begin() else {
            return Begin::WriteOpen;
        };
        let Some(view) = self.published() else {
            return Begin::Closed;
        };
        let tag = tag_of(hash);
        let (slot, rec) = view
            .probe(hash)
            .find(|&(_, s)| s.tag == tag && !s.rec.is_null())
            .map_or((0, std::ptr::null_mut()), |(i, s)| (i, s.rec));
        prefetch_record_lines(rec);
        Begin::Probed(Begun { s1, view, slot, rec })
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
        b: Begun<'_>,
        hash: u64,
        key: &[u8],
        stage: &mut Stage,
        copy: impl Fn(usize) -> bool,
    ) -> Attempt {
        let Begun { s1, view, mut slot, mut rec } = b;
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
            let (kw, v) = if cfg!(target_endian = "little") {
                (h as u32, (h >> 32) as usize)
            } else {
                ((h >> 32) as u32, (h as u32) as usize)
            };
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
        // SAFETY: the validated header says the record ends with a
        // deadline, 8-aligned inside the block.
        let deadline = if has_deadline {
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
        if copied {
            // A value too large for the caller's buffer was not read: no
            // hit, no mark (the caller's retry with room counts once).
            if self.mark_reads {
                view.mark_accessed(slot);
            }
            self.count(true);
        }
        Attempt::Done(Lookup::Found { len: v, copied, at })
    }

    /// The lock-free lookup both get paths share: [`Shard::begin_read`] then
    /// [`Shard::finish_read`], up to 16 attempts.
    #[inline(always)]
    fn lookup(&self, hash: u64, key: &[u8], stage: &mut Stage, copy: impl Fn(usize) -> bool) -> Lookup {
        for _ in 0..16 {
            match self.begin_read(hash) {
                Begin::Probed(b) => match self.finish_read(b, hash, key, stage, &copy) {
                    Attempt::Done(r) => return r,
                    Attempt::Retry => continue,
                },
                Begin::WriteOpen => std::hint::spin_loop(),
                Begin::Closed => return Lookup::Busy,
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
        match self.lookup(op.hash, op.key, &mut stage, |v| to_vec || v <= out_len) {
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

    /// A batch's second stage for one get that [`Shard::begin_read`]
    /// started: the common cases — a miss, or a hit on the first slot with
    /// the key's tag whose value fits the op's buffer and the stage —
    /// finished from where the probe stopped, as [`Shard::finish_read`]
    /// would; anything else (a write meanwhile, a tag shared with another
    /// key, a value to a vector, too large or too small a buffer) by a whole
    /// [`Shard::read_get`]. Same contract as `read_get`.
    #[inline(always)]
    pub(crate) fn finish_get(&self, begun: Begin<'_>, op: &mut BatchOp<'_>) -> bool {
        if let Begin::Probed(Begun { s1, view, slot, rec }) = begun {
            if rec.is_null() {
                if self.view.seq.read_valid(s1) {
                    self.count(false);
                    op.status = Status::NotFound;
                    op.out_len = 0;
                    return true;
                }
            } else if op.out_vec.is_none() {
                let key = op.key;
                // SAFETY: a record block is at least HEADER bytes, 8-aligned and mapped.
                let h = unsafe { atomic_bytes::load_u64(rec) };
                let (kw, v) = if cfg!(target_endian = "little") {
                    (h as u32, (h >> 32) as usize)
                } else {
                    ((h >> 32) as u32, (h as u32) as usize)
                };
                if (kw & !HAS_DEADLINE) as usize == key.len()
                    && v <= op.out.len()
                    && v <= LOCK_FREE_VALUE_MAX
                    && self.view.seq.read_valid(s1)
                    // SAFETY: the validated header is a live record's: its key lies in the block.
                    && unsafe { atomic_bytes::key_eq(rec.add(HEADER), key) }
                {
                    // SAFETY: as in `finish_read`: the validated header says
                    // where the deadline and the value lie inside the block,
                    // and the stage has room for v + 16 bytes.
                    let deadline = if kw & HAS_DEADLINE != 0 {
                        unsafe { atomic_bytes::load_u64(rec.add(arena::deadline_offset(key.len(), v))) }
                    } else {
                        0
                    };
                    let mut stage = Stage::new();
                    // SAFETY: see above.
                    let at = unsafe {
                        atomic_bytes::load_words(stage.0.as_mut_ptr() as *mut u64, rec.add(HEADER + key.len()), v)
                    };
                    if self.view.seq.read_valid(s1) {
                        if deadline != 0 && deadline <= self.clock.now_ns() {
                            self.count(false);
                            op.status = Status::NotFound;
                            op.out_len = 0;
                            return true;
                        }
                        if self.mark_reads {
                            view.mark_accessed(slot);
                        }
                        self.count(true);
                        // SAFETY: the stage holds the v validated bytes from `at`; v <= op.out.len().
                        unsafe { atomic_bytes::copy_small(op.out.as_mut_ptr(), stage.bytes(at, v), v) };
                        op.status = Status::Ok;
                        op.out_len = v;
                        return true;
                    }
                }
            }
        }
        self.read_get(op)
    }

    /// The single-call get: [`Shard::lookup`] straight into `out` (through
    /// the stage, so `out` is only written with a consistent value).
    /// `Found` with `copied == false` means `out` was too small (untouched);
    /// `Large`: the value fits `out` but not the stage, read it under the lock.
    #[inline]
    pub(crate) fn read_into(&self, hash: u64, key: &[u8], out: &mut [u8]) -> Lookup {
        let mut stage = Stage::new();
        let r = self.lookup(hash, key, &mut stage, |v| v <= out.len());
        if let Lookup::Found { len, copied: true, at } = r {
            // SAFETY: the lookup filled these bytes, and `len <= out.len()`.
            unsafe { atomic_bytes::copy_small(out.as_mut_ptr(), stage.bytes(at, len), len) };
        }
        r
    }
}
