//! The shards' seqlock: the owner (or a caller under the shard's ownership
//! lock) changes a shard inside a write section, during which the sequence
//! is odd; a lock-free reader reads the sequence, reads the shard with
//! atomic loads, and keeps what it read only if the sequence did not move.
//!
//! Ordering: the writer's release fence after making the sequence odd
//! orders that store before every store of the change, and pairs with the
//! reader's acquire fence before it re-reads the sequence: a reader that
//! read any store of the change sees the odd (or a later) sequence and
//! retries. The closing release store pairs with the reader's acquire load
//! of the sequence: a reader that starts after a write section sees all of
//! it. (Model-checked against a reader in `loom_tests.rs`.)

use crate::sync::{fence, AtomicU64};
use std::sync::atomic::Ordering::{Acquire, Relaxed, Release};

/// A sequence counter, odd while a write section is open.
pub(crate) struct SeqLock(AtomicU64);

impl SeqLock {
    pub(crate) fn new() -> SeqLock {
        SeqLock(AtomicU64::new(0))
    }

    /// The sequence a read starts from; `None` while a write section is
    /// open (the reader retries).
    #[inline(always)]
    pub(crate) fn read_begin(&self) -> Option<u64> {
        let s = self.0.load(Acquire);
        (s & 1 == 0).then_some(s)
    }

    /// True when no write section opened since [`SeqLock::read_begin`]
    /// returned `s1`: everything read in between belongs to one state.
    #[inline(always)]
    pub(crate) fn read_valid(&self, s1: u64) -> bool {
        fence(Acquire);
        self.0.load(Relaxed) == s1
    }

    /// The sequence word, for direct readers (`map/direct.rs`).
    #[cfg(not(loom))]
    pub(crate) fn as_ptr(&self) -> *const u64 {
        self.0.as_ptr() as *const u64
    }

    /// Opens a write section. One writer at a time (the caller holds the
    /// shard's ownership lock). Returns what [`SeqLock::write_end`] takes.
    #[inline]
    pub(crate) fn write_begin(&self) -> u64 {
        let s = self.0.load(Relaxed);
        self.0.store(s + 1, Relaxed);
        // Orders the odd sequence before every store of the change (pairs
        // with the readers' acquire fence before they re-check).
        fence(Release);
        s
    }

    /// Closes the write section that [`SeqLock::write_begin`] opened.
    #[inline]
    pub(crate) fn write_end(&self, s: u64) {
        self.0.store(s + 2, Release);
    }
}
