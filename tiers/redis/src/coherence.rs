//! The coherence protocol between read-throughs and invalidations.
//!
//! Every slot (the Redis Cluster slot of a key, 16384 of them) has a sequence
//! number guarded by a lock, and the near cache has one epoch. An invalidation
//! bumps its key's slot sequence and removes the local copy under that lock; a
//! flush takes every slot lock, bumps the epoch and clears the map. A
//! read-through takes a [`Snapshot`] of (slot sequence, epoch) *before* it
//! sends its `GET`, and installs the reply only if, under the slot lock, both
//! are unchanged and the key's node is serving. So a reply can only be
//! installed if no invalidation of its slot and no flush was processed since
//! before the server produced it: an invalidation that overtakes the reply
//! makes the reply unusable, one that follows it removes it.

use numashard::Map;
use parking_lot::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use crate::slot::SLOTS;
use crate::stats::Counters;

/// What a read-through saw before it asked the server.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Snapshot {
    slot: u16,
    seq: u64,
    epoch: u64,
}

/// Whether an install also fences off older read-throughs of its slot.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum InstallKind {
    /// A read: older replies may still land; the invalidation that made them
    /// old is on its way and removes them.
    Read,
    /// Our own write's read-back: older replies of the slot must not land
    /// afterwards, or this process could read its own write and then an older value.
    Write,
}

pub(crate) struct Coherence {
    slots: Box<[Mutex<u64>]>,
    epoch: AtomicU64,
    pub(crate) map: Map,
    pub(crate) counters: Counters,
}

impl Coherence {
    pub(crate) fn new(map: Map) -> Self {
        Coherence {
            slots: (0..SLOTS).map(|_| Mutex::new(0)).collect(),
            epoch: AtomicU64::new(0),
            map,
            counters: Counters::default(),
        }
    }

    pub(crate) fn snapshot(&self, slot: u16) -> Snapshot {
        let seq = *self.slots[slot as usize].lock();
        Snapshot { slot, seq, epoch: self.epoch.load(Ordering::Acquire) }
    }

    /// Installs `value` for `key` if nothing invalidated its slot or flushed
    /// the cache since `snap` and the key's node is serving; otherwise (for a
    /// write) removes the local copy. Returns true if installed. A value the
    /// local map refuses (too large, full) is simply not cached.
    pub(crate) fn install(
        &self,
        snap: Snapshot,
        serving: &AtomicBool,
        key: &[u8],
        value: &[u8],
        ttl: Option<Duration>,
        kind: InstallKind,
    ) -> bool {
        let mut seq = self.slots[snap.slot as usize].lock();
        let valid =
            *seq == snap.seq && self.epoch.load(Ordering::Acquire) == snap.epoch && serving.load(Ordering::Acquire);
        if kind == InstallKind::Write {
            *seq += 1;
        }
        if !valid {
            if kind == InstallKind::Write {
                let _ = self.map.delete(key);
            }
            self.counters.installs_skipped.add(1);
            return false;
        }
        let stored = match ttl {
            Some(ttl) => self.map.put_with_ttl(key, value, ttl),
            None => self.map.put(key, value),
        };
        if stored.is_err() {
            // Too large for the local map, or full: the previous copy must not survive either.
            let _ = self.map.delete(key);
            return false;
        }
        true
    }

    /// Fences off read-throughs of `slot` that started before (its master
    /// changed: their replies come from a server that no longer owns it).
    pub(crate) fn fence(&self, slot: u16) {
        *self.slots[slot as usize].lock() += 1;
    }

    /// Removes the local copy of `key` and fences off read-throughs of its
    /// slot that started before. `invalidation` says whether the server sent it.
    pub(crate) fn invalidate(&self, slot: u16, key: &[u8], invalidation: bool) {
        let mut seq = self.slots[slot as usize].lock();
        *seq += 1;
        let _ = self.map.delete(key);
        drop(seq);
        if invalidation {
            self.counters.invalidations.add(1);
        }
    }

    /// Empties the near cache and fences off every read-through in flight.
    pub(crate) fn flush(&self) {
        let guards: Vec<_> = self.slots.iter().map(|s| s.lock()).collect();
        self.epoch.fetch_add(1, Ordering::AcqRel);
        let _ = self.map.clear();
        drop(guards);
        self.counters.flushes.add(1);
    }
}
