//! The held ownership lock and the writer's half of the seqlock.

use super::{Shard, ShardState};
use crate::error::{Error, Result, Status};
use crate::gate::{Garbage, Gate};
use crate::table::Spare;
use parking_lot::MutexGuard;
use std::sync::atomic::Ordering;

impl Shard {
    /// Takes the ownership lock. A poisoned lock (a panic while applying)
    /// means the state may be inconsistent: it is reported, never used.
    pub(crate) fn lock(&self) -> Result<StateGuard<'_>> {
        let g = self.state.lock();
        if self.poisoned.load(Ordering::Relaxed) {
            return Err(Error::new(Status::Panic));
        }
        if g.is_none() {
            return Err(Error::new(Status::Closed));
        }
        Ok(StateGuard { shard: self, guard: Some(g), reclaim: None, grow: None })
    }

    /// [`Shard::lock`] to change the entry of `hash`, after a lock-free
    /// probe (as a reader's) asked for its slot's and record's lines: the
    /// lock is then held over cache hits rather than over two dependent
    /// misses that another writer of the shard would wait out, and the
    /// record's miss overlaps taking the lock. The caller holds a gate pass.
    #[inline]
    pub(crate) fn lock_for(&self, hash: u64) -> Result<StateGuard<'_>> {
        self.prefetch_home_line(hash);
        self.prefetch_record(hash);
        self.lock()
    }
}

/// The held ownership lock; derefs to the state and republishes the entry
/// count when released.
pub(crate) struct StateGuard<'a> {
    shard: &'a Shard,
    guard: Option<MutexGuard<'a, Option<ShardState>>>,
    /// Set when the hold retired memory: reclamation is tried once the lock
    /// is released (unmapping large regions must not hold other writers off).
    reclaim: Option<&'a Gate>,
    /// Set when the index should grow in the background: the next array's
    /// shape, asked of the owner once the lock is released.
    grow: Option<(u32, Option<u32>)>,
}

impl std::ops::Deref for StateGuard<'_> {
    type Target = ShardState;
    fn deref(&self) -> &ShardState {
        self.guard.as_ref().and_then(|g| g.as_ref()).expect("checked in lock")
    }
}

impl std::ops::DerefMut for StateGuard<'_> {
    fn deref_mut(&mut self) -> &mut ShardState {
        self.guard.as_mut().and_then(|g| g.as_mut()).expect("checked in lock")
    }
}

impl<'a> StateGuard<'a> {
    /// Runs a change of the shard inside a seqlock write section, publishes
    /// the (possibly new) slot array, and hands unlinked regions to the
    /// gate's grace-period reclamation. `inserts` is at most how many
    /// entries the change may add: the index grows for them before the
    /// section opens ([`ShardState::grow_ahead`]).
    #[inline(always)]
    pub(crate) fn write<R>(&mut self, gate: &'a Gate, inserts: usize, f: impl FnOnce(&mut ShardState) -> R) -> R {
        if inserts != 0 && self.table.needs_grow_for(inserts) {
            self.grow_for(inserts);
        }
        let s = self.begin_write();
        let r = f(self);
        self.end_write(gate, s);
        r
    }

    /// [`ShardState::grow_ahead`], off the hot path. When the index doubled
    /// here, an array asked of the owner for it is no longer wanted.
    #[cold]
    #[inline(never)]
    fn grow_for(&mut self, inserts: usize) {
        let before = self.table.next_shape();
        let take_over =
            self.table.grows_in_background() && self.table.must_grow_for(inserts) && self.may_grow_for(inserts);
        let held = take_over.then(std::time::Instant::now);
        if take_over {
            // The owner did not double the index in time: take over its
            // next array, touched and maybe partly filled, rather than map
            // and touch one here (0.3 s for 2^23 slots on the 2-vCPU VM).
            let work = self.shard.growth.lock().take();
            if let Some(unused) = self.double_into(work) {
                self.garbage.push(unused);
            }
        }
        self.grow = self.grow_ahead(inserts);
        if let Some(held) = held {
            // The whole hold, the wait for the owner's step included,
            // whichever way the index doubled.
            let held = held.elapsed().as_nanos() as u64;
            self.shard.counters.grow_hold_max_ns.fetch_max(held, std::sync::atomic::Ordering::Relaxed);
        }
        if self.table.next_shape() != before {
            self.shard.growth_done(before);
        }
    }

    /// Makes `spare`, a copy of the index (`id`) the owner made without the
    /// lock, the index, once the entries changed since are copied again,
    /// and publishes it; gives `spare` back when the index changed since.
    pub(crate) fn adopt(&mut self, gate: &'a Gate, id: u64, spare: Spare) -> Option<Spare> {
        let unused = ShardState::adopt(self, id, spare);
        if unused.is_none() {
            let s = self.begin_write();
            self.end_write(gate, s);
        }
        unused
    }

    /// Opens a write section: lock-free readers of this shard retry (and
    /// then fall back to the lock) until `end_write`.
    pub(crate) fn begin_write(&mut self) -> u64 {
        self.shard.view.seq.write_begin()
    }

    /// Closes the write section opened by `begin_write` (which returned `s`).
    #[inline]
    pub(crate) fn end_write(&mut self, gate: &'a Gate, s: u64) {
        let shard = self.shard;
        let st: &mut ShardState = self;
        shard.view.table_word.store(st.table.word(), Ordering::Relaxed);
        shard.view.home_word.store(st.arena.home_word(), Ordering::Relaxed);
        shard.view.seq.write_end(s);
        if !st.garbage.is_empty() {
            gate.retire(st.garbage.drain(..).map(Garbage::new));
            self.reclaim = Some(gate);
        }
    }

    /// Publishes the entry count for lock-free `len`, and when the next
    /// entry may expire.
    pub(crate) fn publish(&self) {
        if let Some(st) = self.guard.as_ref().and_then(|g| g.as_ref()) {
            self.shard.entries.store(st.len() as u64, Ordering::Relaxed);
            let next = st.next_expiry();
            if self.shard.next_expiry.load(Ordering::Relaxed) != next
                && self.shard.next_expiry.swap(next, Ordering::SeqCst) == u64::MAX
                && next != u64::MAX
            {
                // The first deadline of an idle shard: its owner may be parked
                // with no timeout; wake it so it reclaims in the background.
                self.shard.wake_owner();
            }
        }
    }
}

impl StateGuard<'_> {
    /// Releases the lock handing it to a waiting thread, if any (fair
    /// unlock): for holders that come back for the lock at once, such as an
    /// iterator fetching chunk after chunk.
    pub(crate) fn release_fair(mut self) {
        self.publish();
        if let Some(g) = self.guard.take() {
            MutexGuard::unlock_fair(g);
        }
    }
}

impl Drop for StateGuard<'_> {
    fn drop(&mut self) {
        if std::thread::panicking() {
            self.shard.poisoned.store(true, Ordering::Relaxed);
        }
        self.publish();
        drop(self.guard.take());
        if let Some(shape) = self.grow.take() {
            // The owner builds the next array off the lock (and wakes).
            self.shard.ask_growth(shape);
        }
        if self.reclaim.is_some() {
            // The owner unmaps retired memory off the caller's path.
            self.shard.wake_owner();
        }
    }
}
