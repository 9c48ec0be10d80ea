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
use crate::table::{load_slot, mark_accessed, prefetch_addr, tag_of, unpack_word};
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
/// are read under the lock (so a caller's buffer is only written once the
/// read is known to be consistent).
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
    /// No consistent moment in 16 attempts, no published table (closing), or
    /// a value too large for the stage: take the lock.
    Busy,
}

impl Shard {
    /// Hints the CPU to fetch the home slot of `hash` in the published table.
    #[inline]
    pub(crate) fn prefetch(&self, hash: u64) {
        let word = self.view.table_word.load(Ordering::Relaxed);
        if word == 0 {
            return;
        }
        let (slots, bits) = unpack_word(word);
        #[cfg(target_arch = "x86_64")]
        // SAFETY: prefetching never faults, whatever the address.
        unsafe {
            use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
            _mm_prefetch(slots.wrapping_add((hash >> (64 - bits)) as usize) as *const i8, _MM_HINT_T0);
        }
        #[cfg(not(target_arch = "x86_64"))]
        let _ = (slots, bits);
    }

    /// True when the published slot array has at most 2^15 slots (512 KiB):
    /// such a shard's slots and records mostly sit in the caller's caches,
    /// and a batch reads them without the prefetch stages.
    #[inline]
    pub(crate) fn is_cache_sized(&self) -> bool {
        let (_, bits) = unpack_word(self.view.table_word.load(Ordering::Relaxed));
        bits <= 15
    }

    /// Hints the CPU to fetch the record of `hash`'s key: the first slot from
    /// its home whose tag matches, within four (after `prefetch` brought the
    /// home slot in). The second stage of a batch's read windows, so that the
    /// record misses of a large table overlap too.
    #[inline]
    pub(crate) fn prefetch_record(&self, hash: u64) {
        let word = self.view.table_word.load(Ordering::Relaxed);
        if word == 0 {
            return;
        }
        let (slots, bits) = unpack_word(word);
        let mask = (1usize << bits) - 1;
        let tag = tag_of(hash);
        let mut i = (hash >> (64 - bits)) as usize;
        // The key may sit a few slots past its home (linear probing; at a
        // load of 0.6-0.8 most hits are within 4): fetch the record of the
        // first slot whose tag matches, not blindly the home slot's.
        for _ in 0..4 {
            // SAFETY: i <= mask, below the published array's capacity, and
            // the array stays mapped while the caller's gate pass is held.
            let s = unsafe { load_slot(slots, i) };
            if s.tag == 0 {
                return;
            }
            if s.tag == tag {
                // Both lines a record of up to 64 bytes may straddle.
                prefetch_addr(s.rec);
                prefetch_addr(s.rec.wrapping_add(63));
                return;
            }
            i = (i + 1) & mask;
        }
    }

    /// The lock-free lookup both get paths share: probe the published table
    /// and, when `key` is found, copy its value into `stage` (room for
    /// [`LOCK_FREE_VALUE_MAX`] bytes) unless `copy` is false or the value is
    /// larger; keep the result only if the seqlock shows that no change
    /// happened meanwhile.
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
    fn lookup(&self, hash: u64, key: &[u8], stage: &mut Stage, copy: impl Fn(usize) -> bool) -> Lookup {
        let tag = tag_of(hash);
        'attempt: for _ in 0..16 {
            let Some(s1) = self.view.seq.read_begin() else {
                std::hint::spin_loop();
                continue;
            };
            let word = self.view.table_word.load(Ordering::Relaxed);
            if word == 0 {
                return Lookup::Busy;
            }
            let (slots, bits) = unpack_word(word);
            let mask = (1usize << bits) - 1;
            let mut i = (hash >> (64 - bits)) as usize;
            let mut found = None;
            for _ in 0..=mask {
                // SAFETY: i <= mask < capacity of the published array, which
                // stays mapped while our gate pass is held.
                let s = unsafe { load_slot(slots, i) };
                if s.tag == 0 {
                    break;
                }
                if s.tag == tag && !s.rec.is_null() {
                    // SAFETY: a record block is at least HEADER bytes, 8-aligned and mapped.
                    let h = unsafe { atomic_bytes::load_u64(s.rec) };
                    // The header is two native u32s: key length (its top bit
                    // flags a deadline), then value length.
                    let (kw, v) = if cfg!(target_endian = "little") {
                        (h as u32, (h >> 32) as usize)
                    } else {
                        ((h >> 32) as u32, (h as u32) as usize)
                    };
                    let k = (kw & !HAS_DEADLINE) as usize;
                    if !self.view.seq.read_valid(s1) {
                        continue 'attempt;
                    }
                    // The header is a live record's: its key and value lie in the block.
                    // SAFETY: k bytes after the header are the record's key.
                    if k == key.len() && unsafe { atomic_bytes::key_eq(s.rec.add(HEADER), key) } {
                        found = Some((s.rec, v, kw & HAS_DEADLINE != 0, i));
                        break;
                    }
                }
                i = (i + 1) & mask;
            }
            let Some((rec, v, has_deadline, slot)) = found else {
                if !self.view.seq.read_valid(s1) {
                    continue;
                }
                self.count(false);
                return Lookup::Missing;
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
            if copied {
                if v > LOCK_FREE_VALUE_MAX {
                    return Lookup::Busy;
                }
                // SAFETY: the value's v bytes follow the key inside the block
                // (8-aligned, a multiple of 8 long, so the words covering them
                // are in it too); the stage has room for v + 16 bytes.
                // The value's address comes from the caller's key length (equal
                // to the record's) rather than the header, so the CPU can fetch
                // the value's line while the header's load is still pending.
                at = unsafe {
                    atomic_bytes::load_words(stage.0.as_mut_ptr() as *mut u64, rec.add(HEADER + key.len()), v)
                };
            }
            if !self.view.seq.read_valid(s1) {
                continue;
            }
            if deadline != 0 && deadline <= self.clock.now_ns() {
                // Expired: absent from this instant (the owner reclaims it).
                self.count(false);
                return Lookup::Missing;
            }
            if self.mark_reads {
                // SAFETY: slot <= mask of the published array, still mapped.
                unsafe { mark_accessed(slots, slot) };
            }
            self.count(true);
            return Lookup::Found { len: v, copied, at };
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
    /// could not get a consistent read (the caller then takes the lock).
    #[inline]
    pub(crate) fn read_get(&self, op: &mut BatchOp<'_>) -> bool {
        let mut stage = Stage::new();
        let out_len = op.out.len();
        let to_vec = op.out_vec.is_some();
        match self.lookup(op.hash, op.key, &mut stage, |v| to_vec || v <= out_len) {
            Lookup::Busy => false,
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

    /// The single-call get: [`Shard::lookup`] straight into `out` (through
    /// the stage, so `out` is only written with a consistent value).
    /// `Found` with `copied == false` means `out` was too small (untouched).
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
