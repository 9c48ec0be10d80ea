//! A shard's data and the semantics of every operation on it: the memory
//! budget, apply/put, eviction and expiry.

use crate::arena::{self, record_deadline, record_key, record_lens, record_value, Arena, HEADER};
use crate::atomic_bytes;
use crate::batch::{BatchOp, OpKind};
use crate::cache::{Counters, Policy, S3Fifo, Verdict, Wheel, QUEUE_COST};
use crate::error::{Result, Status};
use crate::numa::{NodeRegion, PageCount};
use crate::table::{tag_of, Slot, Spare, Table};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// Index overhead charged per entry on top of its record block (one slot).
pub(crate) const SLOT_COST: u64 = 16;

/// The least an entry costs against the memory limit: an empty key and
/// value in the smallest record, and its slot.
pub(crate) fn min_entry_cost() -> u64 {
    arena::block_size(0, 0, false) as u64 + SLOT_COST
}

/// The map-wide memory budget shared by all shards.
pub(crate) struct Budget {
    limit: u64,
    used: AtomicU64,
}

impl Budget {
    pub(crate) fn new(limit: u64) -> Budget {
        Budget { limit, used: AtomicU64::new(0) }
    }

    /// Reserves `n` bytes; false (and nothing reserved) if that would pass the limit.
    #[inline]
    pub(crate) fn try_charge(&self, n: u64) -> bool {
        if self.limit == 0 {
            return true;
        }
        let before = self.used.fetch_add(n, Ordering::Relaxed);
        if before + n > self.limit {
            self.used.fetch_sub(n, Ordering::Relaxed);
            return false;
        }
        true
    }

    #[inline]
    pub(crate) fn release(&self, n: u64) {
        if self.limit != 0 {
            self.used.fetch_sub(n, Ordering::Relaxed);
        }
    }

    /// Charges without checking (the caller checked the limit).
    pub(crate) fn force_charge(&self, n: u64) {
        if self.limit != 0 {
            self.used.fetch_add(n, Ordering::Relaxed);
        }
    }

    pub(crate) fn limit(&self) -> u64 {
        self.limit
    }
}

/// A shard's data. Only the holder of the shard's ownership lock touches it.
pub(crate) struct ShardState {
    pub(crate) table: Table,
    pub(crate) arena: Arena,
    /// Bytes this shard's entries are charged (sum of `entry_cost`).
    pub(crate) charged: u64,
    /// Operations applied.
    pub(crate) ops: u64,
    /// Regions unlinked by the last changes, which lock-free readers may
    /// still be reading: handed to the gate's grace-period reclamation.
    pub(crate) garbage: Vec<NodeRegion>,
    /// Clock, default TTL, eviction budget: the map's settings.
    pub(crate) policy: Policy,
    /// Hit, miss, eviction and expiry counters (shared with the shard's readers).
    pub(crate) counters: Arc<Counters>,
    /// The eviction queues, when the map evicts.
    evict: Option<S3Fifo>,
    /// Registrations of entries with deadlines, by time.
    wheel: Wheel,
    /// Registrations past which the wheel is compacted next.
    wheel_compact_at: usize,
    /// This shard's part of a save in progress (see `snapshot::capture`).
    pub(crate) capture: Option<Box<crate::snapshot::Capture>>,
}

impl ShardState {
    pub(crate) fn new(memory_node: Option<u32>, policy: &Policy, counters: Arc<Counters>) -> Result<ShardState> {
        ShardState::with_capacity(memory_node, policy, counters, 0)
    }

    /// An empty shard whose index holds `entries` without growing, and never
    /// less than the map's `initial_capacity` share.
    pub(crate) fn with_capacity(
        memory_node: Option<u32>,
        policy: &Policy,
        counters: Arc<Counters>,
        entries: usize,
    ) -> Result<ShardState> {
        Ok(ShardState {
            table: Table::with_capacity(memory_node, entries, policy.index_floor_bits)?,
            arena: Arena::with_home(memory_node, policy.home_bits)?,
            charged: 0,
            ops: 0,
            garbage: Vec::new(),
            policy: policy.clone(),
            counters,
            evict: policy.shard_limit.map(|_| S3Fifo::new()),
            wheel: Wheel::default(),
            wheel_compact_at: 0,
            capture: None,
        })
    }

    /// What one entry costs against the memory limit: its record block, its
    /// slot, and with eviction its share of the queues.
    #[inline]
    pub(crate) fn entry_cost(&self, key_len: usize, value_len: usize, deadline: bool) -> u64 {
        // (The policy, not `evict`, which `evict_one` holds out while it works.)
        let queue = if self.policy.shard_limit.is_some() { QUEUE_COST } else { 0 };
        arena::block_size(key_len, value_len, deadline) as u64 + SLOT_COST + queue
    }

    /// The cost of the entry whose record is `rec`.
    ///
    /// # Safety
    /// `rec` must be a live record of this shard.
    unsafe fn record_cost(&self, rec: *const u8) -> u64 {
        // SAFETY: caller's contract.
        let ((k, v), d) = unsafe { (record_lens(rec), record_deadline(rec)) };
        self.entry_cost(k, v, d != 0)
    }

    /// Registers an entry's new deadline in the wheel; compacts the wheel
    /// when stale names (of entries gone or re-registered) outnumber the
    /// entries two to one, so its size stays proportional to the shard's.
    fn register_deadline(&mut self, deadline: u64, tag: u64) {
        self.wheel.register(deadline, tag);
        if self.wheel.registered() > (2 * self.table.len() + 1024).max(self.wheel_compact_at) {
            let table = &self.table;
            self.wheel.compact(|bucket, fp| {
                // Keep the name if an entry so named has a deadline at or
                // after this bucket (a registration at or before it is due).
                let mut keep = false;
                table.for_each_fingerprint(fp, |s| {
                    // SAFETY: occupied slots point to live records.
                    let d = unsafe { record_deadline(s.rec) };
                    keep |= d != 0 && Wheel::bucket_start(d) >= bucket;
                });
                keep
            });
            // Names that stay are live; if they are many, wait until they
            // double before looking again (amortized O(1) per registration).
            self.wheel_compact_at = 2 * self.wheel.registered();
        }
    }

    /// The earliest moment an entry may expire (u64::MAX: none has a deadline).
    pub(crate) fn next_expiry(&self) -> u64 {
        self.wheel.earliest()
    }

    /// True when the entry in slot `i` has a deadline that has passed.
    #[inline]
    fn expired(&self, i: usize) -> bool {
        // SAFETY: occupied slot → live record.
        let d = unsafe { record_deadline(self.table.slot(i).rec) };
        d != 0 && d <= self.policy.clock.now_ns()
    }

    /// The slot of `key` if it holds a live entry. An expired entry found by
    /// a writer (`reclaim`, inside a write section) is removed on the spot.
    #[inline]
    fn find_live(&mut self, budget: &Budget, hash: u64, key: &[u8], reclaim: bool) -> Option<usize> {
        let i = self.table.find(hash, key)?;
        if !self.expired(i) {
            return Some(i);
        }
        if reclaim {
            self.remove_slot(budget, i);
            self.counters.expirations.fetch_add(1, Ordering::Relaxed);
        }
        None
    }

    /// Makes room for `extra` more bytes: with eviction, evicts (never the
    /// entry tagged `protect`) until the shard's budget holds them; then
    /// charges the map's budget. False, with nothing charged, when it cannot.
    fn reserve(&mut self, budget: &Budget, extra: u64, protect: u64) -> bool {
        if let Some(limit) = self.policy.shard_limit {
            if extra > limit {
                return false;
            }
            while self.charged + extra > limit {
                if !self.evict_one(budget, protect) {
                    return false;
                }
            }
        }
        budget.try_charge(extra)
    }

    /// Evicts one entry other than `protect`'s (expired ones first, as they
    /// come up in the queues). False when nothing can be evicted.
    fn evict_one(&mut self, budget: &Budget, protect: u64) -> bool {
        let Some(mut q) = self.evict.take() else { return false };
        if q.queued() > 2 * self.table.len() + 1024 {
            let table = &self.table;
            q.compact(|fp| table.find_fingerprint(fp).is_some());
        }
        let round = q.queued() + 1;
        let mut now = 0;
        let mut offered = 0;
        let done = loop {
            let Some((fp, from_small)) = q.next() else { break self.evict_any(budget, protect) };
            offered += 1;
            let Some(i) = self.table.find_fingerprint(fp) else { continue };
            let rec = self.table.slot(i).rec;
            if self.table.slot(i).tag == protect {
                q.requeue(fp);
                if offered > 2 * round {
                    break false;
                }
                continue;
            }
            // SAFETY: occupied slot → live record.
            let d = unsafe { record_deadline(rec) };
            if d != 0 {
                if now == 0 {
                    now = self.policy.clock.now_ns();
                }
                if d <= now {
                    self.remove_slot(budget, i);
                    self.counters.expirations.fetch_add(1, Ordering::Relaxed);
                    break true;
                }
            }
            // Small: one read since admission promotes to main (count reset);
            // main: a read buys another round (count lowered by one).
            let accessed = self.table.take_accessed(i, from_small) != 0;
            if let Verdict::Evict = q.decide(fp, from_small, accessed, offered > round) {
                self.remove_slot(budget, i);
                self.counters.evictions.fetch_add(1, Ordering::Relaxed);
                break true;
            }
        };
        self.evict = Some(q);
        done
    }

    /// Evicts the first entry of the table other than `protect`'s: for when
    /// the queues name no live entry (names that collided).
    #[cold]
    fn evict_any(&mut self, budget: &Budget, protect: u64) -> bool {
        for i in 0..self.table.capacity() {
            let s = self.table.slot(i);
            if s.tag != 0 && s.tag != protect {
                self.remove_slot(budget, i);
                self.counters.evictions.fetch_add(1, Ordering::Relaxed);
                return true;
            }
        }
        false
    }

    /// Removes entries whose deadline is at or before `now`, through the
    /// wheel: the buckets wholly in the past, handling at most about
    /// `max_names` registrations; with `exact`, then also the bucket `now`
    /// falls in (once), so that no due entry is left. Returns how many
    /// registrations it handled.
    pub(crate) fn expire_due(&mut self, budget: &Budget, now: u64, max_names: usize, exact: bool) -> usize {
        let mut handled = 0;
        while handled < max_names || exact {
            let Some(names) = self.wheel.take_due(now, true) else { break };
            handled += names.len();
            for fp in names {
                self.expire_name(budget, fp, now);
            }
        }
        if exact {
            if let Some(names) = self.wheel.take_due(now, false) {
                handled += names.len();
                for fp in names {
                    self.expire_name(budget, fp, now);
                }
            }
        }
        handled
    }

    /// Expires every due entry named `fp`, and registers again those of its
    /// entries whose deadline lies ahead.
    fn expire_name(&mut self, budget: &Budget, fp: u32, now: u64) {
        let due = |s: crate::table::Slot| {
            // SAFETY: the table passes only occupied slots, whose records are
            // live records of this shard's arena (we hold the shard's state).
            let d = unsafe { record_deadline(s.rec) };
            d != 0 && d <= now
        };
        while let Some(i) = self.table.find_fingerprint_where(fp, due) {
            self.remove_slot(budget, i);
            self.counters.expirations.fetch_add(1, Ordering::Relaxed);
        }
        let wheel = &mut self.wheel;
        self.table.for_each_fingerprint(fp, |s| {
            // SAFETY: as in `due`: an occupied slot names a live record.
            let d = unsafe { record_deadline(s.rec) };
            if d != 0 {
                wheel.register(d, s.tag);
            }
        });
    }

    pub(crate) fn bound(&self) -> bool {
        self.table.bound() && self.arena.all_bound()
    }

    /// Moves the pages of every region found off its node there; returns
    /// how many were. A snapshot load calls it on each shard it built.
    pub(crate) fn settle(&self) -> u64 {
        self.table.settle() + self.arena.settle()
    }

    pub(crate) fn page_nodes(&self, node: u32) -> PageCount {
        let mut p = self.table.page_nodes(node);
        p.add(self.arena.page_nodes(node));
        p
    }

    pub(crate) fn mapped_bytes(&self) -> usize {
        self.table.mapped_bytes() + self.arena.mapped_bytes()
    }

    #[inline]
    pub(crate) fn len(&self) -> usize {
        self.table.len()
    }

    fn new_record(&mut self, key: &[u8], value: &[u8], deadline: u64, hash: u64) -> Result<*mut u8> {
        let rec = self.arena.alloc_record(key.len(), value.len(), deadline, hash)?;
        // SAFETY: the block holds header + key + value (alloc_record's
        // contract); atomic stores because stale lock-free readers may read a
        // reused block.
        unsafe {
            atomic_bytes::store(rec.add(HEADER), key);
            atomic_bytes::store(rec.add(HEADER + key.len()), value);
        }
        Ok(rec)
    }

    /// Makes room in the index before a write section that may insert up
    /// to `inserts` entries, so that lock-free readers keep reading the
    /// published array while entries are copied (a doubling of a
    /// 3.4M-entry shard took 0.3 s here, and inside a section every reader
    /// of the shard waited it out: `Table::grow` writes nothing readers
    /// see). A small index doubles here, as often as needed; a large one is
    /// left to fill on past 4/5 while the shard's owner builds its next
    /// array (the shape returned, for the caller to ask for once the lock
    /// is released; [`crate::table::Spare`]), and doubles here only past
    /// 9/10 (into the owner's array, when `StateGuard::grow_for` could take
    /// it over). Nothing is done when the inserts may evict instead (a cache at
    /// its limit keeps its entry count, and grows only if it still needs
    /// to after evicting); an insert inside the section grows as before if
    /// this did not, or failed.
    pub(crate) fn grow_ahead(&mut self, inserts: usize) -> Option<(u32, Option<u32>)> {
        if inserts == 0 || !self.table.needs_grow_for(inserts) || !self.may_grow_for(inserts) {
            return None;
        }
        if !self.table.must_grow_for(inserts) {
            return Some(self.table.next_shape());
        }
        while self.table.needs_grow_for(inserts) {
            if self.grow_now().is_err() {
                return None;
            }
        }
        None
    }

    /// Whether `inserts` more entries may grow the index: not when they may
    /// evict instead (a cache at its limit keeps its entry count).
    pub(crate) fn may_grow_for(&self, inserts: usize) -> bool {
        let Some(limit) = self.policy.shard_limit else { return true };
        let per_entry = self.charged / self.table.len().max(1) as u64;
        self.charged.saturating_add(per_entry.saturating_mul(inserts as u64)) <= limit
    }

    /// Doubles the index into the owner's next array, taken over from it
    /// ([`crate::shard::Growth`]): touched, and filled as far as the owner
    /// got, the rest filled here ([`Table::double_into`]). Gives the
    /// array's memory back, to retire, when it is of no use (another shape;
    /// a copy of another index, or whose log was given up; a copy whose
    /// entry count is off); the caller then doubles the usual way.
    pub(crate) fn double_into(&mut self, work: crate::shard::Growth) -> Option<NodeRegion> {
        let spare = work.spare?;
        if let Some(unused) = self.table.double_into(spare, work.copying.map(|c| c.id), &mut self.garbage) {
            return Some(unused.into_region());
        }
        #[cfg(test)]
        self.counters.taken_over.fetch_add(1, Ordering::Relaxed);
        self.table_grew();
        None
    }

    /// Doubles the index here, under the lock (the time it takes is the
    /// shard's `grow_hold_max_ns` when longest).
    #[cold]
    fn grow_now(&mut self) -> Result<()> {
        let t0 = std::time::Instant::now();
        self.table.grow(&mut self.garbage)?;
        self.table_grew();
        self.counters.grow_hold_max_ns.fetch_max(t0.elapsed().as_nanos() as u64, Ordering::Relaxed);
        Ok(())
    }

    /// Makes `spare`, a copy of the index (`id`) made without the lock,
    /// the index; gives it back when it cannot be ([`Table::adopt`]).
    pub(crate) fn adopt(&mut self, id: u64, spare: Spare) -> Option<Spare> {
        let unused = self.table.adopt(id, spare, &mut self.garbage);
        if unused.is_none() {
            self.table_grew();
        }
        unused
    }

    fn table_grew(&mut self) {
        if let Some(q) = self.evict.as_mut() {
            q.table_grew(self.table.capacity());
        }
    }

    /// Inserts a key known to be absent, with a deadline (0 = none).
    fn insert_new(&mut self, budget: &Budget, hash: u64, key: &[u8], value: &[u8], deadline: u64) -> Status {
        let cost = self.entry_cost(key.len(), value.len(), deadline != 0);
        if !self.reserve(budget, cost, 0) {
            return Status::Full;
        }
        self.snapshot_before_insert(hash, key);
        if self.table.must_grow_for(1) {
            if let Err(e) = self.grow_now() {
                budget.release(cost);
                return e.status();
            }
        }
        match self.new_record(key, value, deadline, hash) {
            Ok(rec) => {
                let tag = tag_of(hash);
                self.table.insert_absent(tag, rec);
                self.charged += cost;
                if let Some(q) = self.evict.as_mut() {
                    q.admit(tag);
                }
                if deadline != 0 {
                    self.register_deadline(deadline, tag);
                }
                Status::Ok
            }
            Err(e) => {
                budget.release(cost);
                e.status()
            }
        }
    }

    /// Replaces the value of the entry in slot `i`, and its deadline
    /// (`None`: keep the one it has; `Some(0)`: none).
    #[inline]
    fn replace_value(&mut self, budget: &Budget, i: usize, value: &[u8], deadline: Option<u64>) -> Status {
        let old = self.table.slot(i).rec;
        // SAFETY: occupied slot → live record.
        let ((klen, vlen), old_deadline) = unsafe { (record_lens(old), record_deadline(old)) };
        // The common overwrite: same value length, no deadline before or
        // after, in place (a record of at most 64 KiB lives in a size class).
        if old_deadline == 0
            && deadline.unwrap_or(0) == 0
            && vlen == value.len()
            && HEADER + klen + vlen <= 60 * 1024
            && self.evict.is_none()
        {
            self.snapshot_before_change(i);
            // SAFETY: same length, so the block holds the new value.
            unsafe { arena::record_set_value(old, value, 0, false) };
            return Status::Ok;
        }
        self.replace_value_general(budget, i, value, deadline)
    }

    /// `replace_value` when the size, the deadline or eviction is involved.
    #[inline(never)]
    fn replace_value_general(&mut self, budget: &Budget, mut i: usize, value: &[u8], deadline: Option<u64>) -> Status {
        let Slot { tag, rec: old } = self.table.slot(i);
        // SAFETY: occupied slot → live record.
        let ((klen, vlen), old_deadline) = unsafe { (record_lens(old), record_deadline(old)) };
        let deadline = deadline.unwrap_or(old_deadline);
        // Costs differ only by the record blocks (slot and queue shares are
        // per entry); an overwrite of the same shape skips the size classes.
        let same_shape = vlen == value.len() && (old_deadline != 0) == (deadline != 0);
        let (old_block, new_block) = if same_shape {
            (0, 0)
        } else {
            (
                arena::block_size(klen, vlen, old_deadline != 0) as u64,
                arena::block_size(klen, value.len(), deadline != 0) as u64,
            )
        };
        if new_block > old_block {
            let entries = self.table.len();
            if !self.reserve(budget, new_block - old_block, tag) {
                return Status::Full;
            }
            if self.table.len() != entries {
                // Evicting or expiring others shifts slots: find the entry
                // again (its record stays put).
                match self.table.find_rec(tag, old) {
                    Some(j) => i = j,
                    None => unreachable!("the protected entry is never evicted"),
                }
            }
        }
        self.snapshot_before_change(i);
        let same_block = old_block == new_block;
        if same_block && HEADER + klen + value.len() + 16 <= 64 * 1024 {
            // SAFETY: same block class, so the block holds the new value and deadline.
            unsafe { arena::record_set_value(old, value, deadline, old_deadline != 0) };
        } else {
            // SAFETY: live record; the key bytes are copied before `old` is freed.
            let key = unsafe { record_key(old) }.to_vec();
            let rec = match self.new_record(&key, value, deadline, tag) {
                Ok(r) => r,
                Err(e) => {
                    if new_block > old_block {
                        budget.release(new_block - old_block);
                    }
                    return e.status();
                }
            };
            self.table.replace_rec(i, rec);
            // SAFETY: `old` came from this arena and is no longer referenced.
            unsafe { self.arena.free_record(old, &mut self.garbage) };
        }
        if new_block < old_block {
            budget.release(old_block - new_block);
        }
        self.charged = self.charged + new_block - old_block;
        if self.evict.is_some() {
            self.table.set_accessed(i);
        }
        if deadline != 0 && (old_deadline == 0 || deadline < old_deadline) {
            self.register_deadline(deadline, tag);
        }
        Status::Ok
    }

    fn remove_slot(&mut self, budget: &Budget, i: usize) {
        self.snapshot_before_change(i);
        let rec = self.table.slot(i).rec;
        // SAFETY: occupied slot → live record.
        let cost = unsafe { self.record_cost(rec) };
        self.table.remove_at(i);
        // SAFETY: the record is no longer referenced by the table.
        unsafe { self.arena.free_record(rec, &mut self.garbage) };
        self.charged -= cost;
        budget.release(cost);
    }

    /// Copies a value into an op's output; true if it fit (or went to out_vec).
    fn copy_out(op: &mut BatchOp<'_>, value: &[u8]) -> bool {
        op.out_len = value.len();
        if let Some(v) = op.out_vec.as_deref_mut() {
            v.clear();
            v.extend_from_slice(value);
            true
        } else if value.len() <= op.out.len() {
            op.out[..value.len()].copy_from_slice(value);
            true
        } else {
            false
        }
    }

    /// Counts a get that returned the value of slot `i` as a hit and marks
    /// the entry accessed, when the map records them / evicts.
    #[inline]
    fn read_hit(&mut self, i: usize) {
        if self.policy.record_stats {
            self.counters.read(true);
        }
        if self.evict.is_some() {
            self.table.set_accessed(i);
        }
    }

    /// A single get under the lock continuing a lock-free read that found
    /// `key` in slot `slot` with record `rec` (a value too large to stage):
    /// read from there if the slot still holds that record, else find the
    /// key again. Copies the value into `out` when it fits; returns its
    /// length (None: absent or expired). Changes nothing, so it may run
    /// outside a write section.
    pub(crate) fn get_from(
        &mut self,
        slot: usize,
        rec: *mut u8,
        hash: u64,
        key: &[u8],
        out: &mut [u8],
    ) -> Option<usize> {
        self.ops += 1;
        let here = slot < self.table.capacity() && {
            let s = self.table.slot(slot);
            s.tag == tag_of(hash) && s.rec == rec
        };
        let found = if here && !self.expired(slot) { Some(slot) } else { self.find_live_read(hash, key) };
        let Some(i) = found else {
            if self.policy.record_stats {
                self.counters.read(false);
            }
            return None;
        };
        // SAFETY: occupied slot → live record, unchanged while we hold the lock.
        let v = unsafe { record_value(self.table.slot(i).rec) };
        if let Some(dst) = out.get_mut(..v.len()) {
            dst.copy_from_slice(v);
            // Only a read that returned the value is a hit (see `apply`).
            self.read_hit(i);
        }
        Some(v.len())
    }

    /// The slot of `key` if it holds a live entry, for a read (nothing reclaimed).
    fn find_live_read(&self, hash: u64, key: &[u8]) -> Option<usize> {
        self.table.find(hash, key).filter(|&i| !self.expired(i))
    }

    /// A single put (the direct path of `Map::put`): what `apply` does for
    /// an `OpKind::Put` without a TTL, without an op record.
    #[inline]
    pub(crate) fn put(&mut self, budget: &Budget, hash: u64, key: &[u8], value: &[u8]) -> Status {
        self.ops += 1;
        let found = self.find_live(budget, hash, key, true);
        let deadline = self.policy.deadline(0);
        self.upsert(budget, found, hash, key, value, deadline)
    }

    /// Inserts an entry read from a snapshot, with an explicit deadline on
    /// the map's clock (0 = none; the policy's default TTL not applied):
    /// `SnapshotCorrupt`, nothing changed, when its key is already here (a
    /// save writes each key once, so a second copy means a damaged or made
    /// file, and loading it would lose one of the values).
    pub(crate) fn insert_loaded(
        &mut self,
        budget: &Budget,
        hash: u64,
        key: &[u8],
        value: &[u8],
        deadline: u64,
    ) -> Status {
        self.ops += 1;
        match self.find_live(budget, hash, key, true) {
            None => self.insert_new(budget, hash, key, value, deadline),
            Some(_) => Status::SnapshotCorrupt,
        }
    }

    /// Inserts `key` (not `found`) or overwrites the entry at slot `found`.
    #[inline]
    fn upsert(
        &mut self,
        budget: &Budget,
        found: Option<usize>,
        hash: u64,
        key: &[u8],
        value: &[u8],
        deadline: u64,
    ) -> Status {
        match found {
            None => self.insert_new(budget, hash, key, value, deadline),
            Some(i) => self.replace_value(budget, i, value, Some(deadline)),
        }
    }

    /// Applies one validated op. Reads (`Get`, `Ttl`) change nothing, so
    /// they may run outside a write section; every other kind must run
    /// inside one.
    pub(crate) fn apply(&mut self, budget: &Budget, op: &mut BatchOp<'_>) {
        self.ops += 1;
        let hash = op.hash;
        let key = op.key;
        let found = self.find_live(budget, hash, key, op.kind.writes());
        op.status = match op.kind {
            OpKind::Get => match found {
                None => {
                    if self.policy.record_stats {
                        self.counters.read(false);
                    }
                    op.out_len = 0;
                    Status::NotFound
                }
                Some(i) => {
                    // SAFETY: occupied slot → live record, unchanged during this call.
                    let v = unsafe { record_value(self.table.slot(i).rec) };
                    if Self::copy_out(op, v) {
                        self.read_hit(i);
                        Status::Ok
                    } else {
                        // Too small a buffer read nothing: neither a hit
                        // nor an access (the caller's retry is the read).
                        Status::BufferTooSmall
                    }
                }
            },
            OpKind::Put => {
                let deadline = self.policy.deadline(op.ttl_ns);
                self.upsert(budget, found, hash, key, op.value, deadline)
            }
            OpKind::PutIfAbsent => match found {
                None => {
                    let deadline = self.policy.deadline(op.ttl_ns);
                    self.insert_new(budget, hash, key, op.value, deadline)
                }
                Some(i) => {
                    // SAFETY: as above.
                    let v = unsafe { record_value(self.table.slot(i).rec) };
                    if op.out_vec.is_some() || !op.out.is_empty() {
                        Self::copy_out(op, v);
                    } else {
                        op.out_len = v.len();
                    }
                    Status::Exists
                }
            },
            OpKind::Delete => match found {
                None => Status::NotFound,
                Some(i) => {
                    self.remove_slot(budget, i);
                    Status::Ok
                }
            },
            OpKind::Take => match found {
                None => {
                    op.out_len = 0;
                    Status::NotFound
                }
                Some(i) => {
                    // SAFETY: as above.
                    let v = unsafe { record_value(self.table.slot(i).rec) };
                    if Self::copy_out(op, v) {
                        self.remove_slot(budget, i);
                        Status::Ok
                    } else {
                        Status::BufferTooSmall
                    }
                }
            },
            OpKind::Cas => match found {
                None => Status::NotFound,
                Some(i) => {
                    // SAFETY: as above.
                    let v = unsafe { record_value(self.table.slot(i).rec) };
                    if v == op.expected {
                        self.replace_value(budget, i, op.value, None)
                    } else {
                        Status::Mismatch
                    }
                }
            },
            OpKind::Swap => {
                let deadline = self.policy.deadline(op.ttl_ns);
                match found {
                    None => {
                        op.out_len = 0;
                        match self.insert_new(budget, hash, key, op.value, deadline) {
                            Status::Ok => Status::NotFound,
                            s => s,
                        }
                    }
                    Some(i) => {
                        // SAFETY: as above.
                        let v = unsafe { record_value(self.table.slot(i).rec) };
                        if Self::copy_out(op, v) {
                            self.replace_value(budget, i, op.value, Some(deadline))
                        } else {
                            Status::BufferTooSmall
                        }
                    }
                }
            }
            OpKind::CompareAndDelete => match found {
                None => Status::NotFound,
                Some(i) => {
                    // SAFETY: as above.
                    let v = unsafe { record_value(self.table.slot(i).rec) };
                    if v == op.expected {
                        self.remove_slot(budget, i);
                        Status::Ok
                    } else {
                        Status::Mismatch
                    }
                }
            },
            OpKind::Add => match found {
                None => {
                    op.out_counter = op.delta;
                    let deadline = self.policy.deadline(0);
                    self.insert_new(budget, hash, key, &op.delta.to_le_bytes(), deadline)
                }
                Some(i) => {
                    let rec = self.table.slot(i).rec;
                    // SAFETY: as above; we hold the shard exclusively.
                    let (k, v) = unsafe { record_lens(rec) };
                    if v != 8 {
                        Status::NotACounter
                    } else {
                        // SAFETY: the value is 8 bytes at HEADER + k inside the record.
                        let p = unsafe { rec.add(HEADER + k) };
                        // SAFETY: as above; unaligned access is explicit.
                        let old = i64::from_le_bytes(unsafe { (p as *const [u8; 8]).read_unaligned() });
                        let new = old.wrapping_add(op.delta);
                        self.snapshot_before_change(i);
                        // SAFETY: as above; atomic because lock-free readers may read it.
                        unsafe { atomic_bytes::store(p, &new.to_le_bytes()) };
                        op.out_counter = new;
                        Status::Ok
                    }
                }
            },
            OpKind::Expire => match found {
                None => Status::NotFound,
                Some(i) => self.set_deadline(budget, i, op.ttl_ns),
            },
            OpKind::Ttl => match found {
                None => Status::NotFound,
                Some(i) => {
                    // SAFETY: as above.
                    let d = unsafe { record_deadline(self.table.slot(i).rec) };
                    op.out_counter = if d == 0 {
                        -1
                    } else {
                        d.saturating_sub(self.policy.clock.now_ns()).min(i64::MAX as u64) as i64
                    };
                    Status::Ok
                }
            },
        };
    }

    /// `Expire`: gives the entry in slot `i` the deadline `ttl_ns` from now
    /// (`u64::MAX`: none, "persist"; 0: now, which removes it).
    fn set_deadline(&mut self, budget: &Budget, i: usize, ttl_ns: u64) -> Status {
        self.snapshot_before_change(i);
        let Slot { tag, rec } = self.table.slot(i);
        if ttl_ns == 0 {
            self.remove_slot(budget, i);
            self.counters.expirations.fetch_add(1, Ordering::Relaxed);
            return Status::Ok;
        }
        let deadline = if ttl_ns == u64::MAX { 0 } else { self.policy.clock.now_ns().saturating_add(ttl_ns) };
        // SAFETY: occupied slot → live record.
        let old = unsafe { record_deadline(rec) };
        if old != 0 && deadline != 0 {
            // SAFETY: the record has a deadline, so its block has room for one.
            unsafe { arena::record_set_deadline(rec, deadline) };
            if deadline < old {
                self.register_deadline(deadline, tag);
            }
            return Status::Ok;
        }
        if old == 0 && deadline == 0 {
            return Status::Ok;
        }
        // The record gains or loses its deadline word: rewrite it.
        // SAFETY: live record; copied before it may be freed.
        let value = unsafe { record_value(rec) }.to_vec();
        self.replace_value(budget, i, &value, Some(deadline))
    }

    /// Runs a group of ops: prefetches every home slot first, so that the
    /// memory misses of a large table overlap, then applies them in order.
    ///
    /// # Safety
    /// Every `idx[i]` must index a distinct live op of `ops` that no other
    /// thread touches during the call.
    pub(crate) unsafe fn apply_indexed(&mut self, budget: &Budget, ops: *mut BatchOp<'_>, idx: &[u32]) {
        // A software pipeline: the home slot of op j + 2D and the record of
        // op j + D are fetched while op j is applied, so misses overlap.
        const D: usize = 6;
        // SAFETY: caller's contract (distinct, live ops).
        let hash = |j: usize| unsafe { (*ops.add(idx[j] as usize)).hash };
        for j in 0..idx.len() + 2 * D {
            if j < idx.len() {
                self.table.view().prefetch_home(hash(j));
            }
            if j >= D && j - D < idx.len() {
                self.table.view().prefetch_record(hash(j - D));
            }
            if j >= 2 * D {
                // SAFETY: caller's contract: distinct, live, exclusively ours.
                self.apply(budget, unsafe { &mut *ops.add(idx[j - 2 * D] as usize) });
            }
        }
    }

    /// Removes everything.
    pub(crate) fn clear(&mut self, budget: &Budget) -> Result<()> {
        self.snapshot_before_clear()?;
        self.table.clear(&mut self.garbage)?;
        self.arena.reset(&mut self.garbage);
        if let Some(q) = self.evict.as_mut() {
            q.clear();
        }
        self.wheel.clear();
        budget.release(self.charged);
        self.charged = 0;
        Ok(())
    }
}
