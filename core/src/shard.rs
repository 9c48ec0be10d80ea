//! One shard: its state (index + record arena in node-bound memory), the
//! operations applied to it, and the owner thread's loop.

use crate::arena::{self, record_deadline, record_key, record_lens, record_value, Arena, HAS_DEADLINE, HEADER};
use crate::atomic_bytes;
use crate::batch::{BatchOp, OpKind};
use crate::cache::{Counters, Policy, S3Fifo, Verdict, Wheel, GRAIN_NS, QUEUE_COST};
use crate::clock::Clock;
use crate::error::{Result, Status};
use crate::gate::{Garbage, Gate};
use crate::numa::{NodeRegion, PageCount};
use crate::placement::ShardPlacement;
use crate::routing::{Msg, ReplySlot};
use crate::table::{load_slot, mark_accessed, tag_of, unpack_word, Slot, Table};
use crossbeam_channel::{Receiver, Sender};
use crossbeam_utils::CachePadded;
use parking_lot::{Mutex, MutexGuard};
use std::sync::atomic::{fence, AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::thread::Thread;
use std::time::{Duration, Instant};

/// Index overhead charged per entry on top of its record block (one slot).
pub(crate) const SLOT_COST: u64 = 16;
/// Registrations of deadlines an owner handles per background step.
const EXPIRE_STEP: usize = 4096;

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
        Ok(ShardState {
            table: Table::new(memory_node)?,
            arena: Arena::new(memory_node),
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
        // SAFETY (both closures): slots found occupied point to live records.
        let due = |s: crate::table::Slot| {
            let d = unsafe { record_deadline(s.rec) };
            d != 0 && d <= now
        };
        while let Some(i) = self.table.find_fingerprint_where(fp, due) {
            self.remove_slot(budget, i);
            self.counters.expirations.fetch_add(1, Ordering::Relaxed);
        }
        let wheel = &mut self.wheel;
        self.table.for_each_fingerprint(fp, |s| {
            let d = unsafe { record_deadline(s.rec) };
            if d != 0 {
                wheel.register(d, s.tag);
            }
        });
    }

    pub(crate) fn bound(&self) -> bool {
        self.table.bound() && self.arena.all_bound()
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

    fn new_record(&mut self, key: &[u8], value: &[u8], deadline: u64) -> Result<*mut u8> {
        let rec = self.arena.alloc_record(key.len(), value.len(), deadline)?;
        // SAFETY: the block holds header + key + value (alloc_record's
        // contract); atomic stores because stale lock-free readers may read a
        // reused block.
        unsafe {
            atomic_bytes::store(rec.add(HEADER), key);
            atomic_bytes::store(rec.add(HEADER + key.len()), value);
        }
        Ok(rec)
    }

    /// Inserts a key known to be absent, with a deadline (0 = none).
    fn insert_new(&mut self, budget: &Budget, hash: u64, key: &[u8], value: &[u8], deadline: u64) -> Status {
        let cost = self.entry_cost(key.len(), value.len(), deadline != 0);
        if !self.reserve(budget, cost, 0) {
            return Status::Full;
        }
        self.snapshot_before_insert(hash, key);
        if self.table.needs_grow() {
            if let Err(e) = self.table.grow(&mut self.garbage) {
                budget.release(cost);
                return e.status();
            }
            if let Some(q) = self.evict.as_mut() {
                q.table_grew(self.table.capacity());
            }
        }
        match self.new_record(key, value, deadline) {
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
            let rec = match self.new_record(&key, value, deadline) {
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

    /// A single put (the direct path of `Map::put`): what `apply` does for
    /// an `OpKind::Put` without a TTL, without an op record.
    #[inline]
    pub(crate) fn put(&mut self, budget: &Budget, hash: u64, key: &[u8], value: &[u8]) -> Status {
        self.ops += 1;
        let found = self.find_live(budget, hash, key, true);
        let deadline = self.policy.deadline(0);
        self.upsert(budget, found, hash, key, value, deadline)
    }

    /// A put with an explicit deadline on the map's clock (0 = none), the
    /// policy's default TTL not applied: how a snapshot load inserts.
    pub(crate) fn put_with_deadline(
        &mut self,
        budget: &Budget,
        hash: u64,
        key: &[u8],
        value: &[u8],
        deadline: u64,
    ) -> Status {
        self.ops += 1;
        let found = self.find_live(budget, hash, key, true);
        self.upsert(budget, found, hash, key, value, deadline)
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
            OpKind::Get => {
                if self.policy.record_stats {
                    self.counters.read(found.is_some());
                }
                match found {
                    None => {
                        op.out_len = 0;
                        Status::NotFound
                    }
                    Some(i) => {
                        if self.evict.is_some() {
                            self.table.set_accessed(i);
                        }
                        // SAFETY: occupied slot → live record, unchanged during this call.
                        let v = unsafe { record_value(self.table.slot(i).rec) };
                        if Self::copy_out(op, v) {
                            Status::Ok
                        } else {
                            Status::BufferTooSmall
                        }
                    }
                }
            }
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
                self.table.prefetch(hash(j));
            }
            if j >= D && j - D < idx.len() {
                prefetch_addr(self.table.slot(self.table.home(hash(j - D))).rec);
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

/// One shard as the map sees it: the state behind its ownership lock, the
/// owner's inbound channels, and counters readable without the lock.
pub(crate) struct Shard {
    pub(crate) placement: ShardPlacement,
    /// The ownership lock. parking_lot's, for `unlock_fair`: an iterator
    /// hands the lock to a waiting writer between chunks instead of
    /// re-taking it at once (which starved writers for milliseconds).
    state: Mutex<Option<ShardState>>,
    /// Set when a panic unwound through a hold of the lock: the state may be
    /// inconsistent and is never used again.
    poisoned: AtomicBool,
    pub(crate) inbound: Box<[Sender<Msg>]>,
    pub(crate) owner: OnceLock<Thread>,
    sleeping: AtomicBool,
    /// Entries, published after every change (for `len` without locking).
    pub(crate) entries: AtomicU64,
    pub(crate) queue_high_water: AtomicU64,
    pub(crate) pinned: AtomicBool,
    pub(crate) memory_bound: AtomicBool,
    /// What lock-free readers read, on a cache line of its own that only
    /// write sections store to (the lock word and counters live elsewhere).
    view: CachePadded<ReaderView>,
    /// Published with the entry count: the earliest moment an entry may
    /// expire (u64::MAX: no entry has a deadline).
    pub(crate) next_expiry: AtomicU64,
    /// Hits, misses, evictions, expirations (shared with the state).
    pub(crate) counters: Arc<Counters>,
    clock: Clock,
    /// Readers mark the entries they find (for eviction).
    mark_reads: bool,
    /// Readers count hits and misses.
    count_reads: bool,
}

/// The seqlock and the published slot array of a shard.
struct ReaderView {
    /// Odd while the lock holder changes the shard. Lock-free readers read,
    /// then check it did not move.
    seq: AtomicU64,
    /// The current slot array (`Table::word`).
    table_word: AtomicUsize,
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
    pub(crate) fn new(placement: ShardPlacement, inbound: Box<[Sender<Msg>]>, policy: &Policy) -> Shard {
        Shard {
            next_expiry: AtomicU64::new(u64::MAX),
            counters: Counters::shared(),
            clock: policy.clock.clone(),
            mark_reads: policy.shard_limit.is_some(),
            count_reads: policy.record_stats,
            placement,
            state: Mutex::new(None),
            poisoned: AtomicBool::new(false),
            inbound,
            owner: OnceLock::new(),
            sleeping: AtomicBool::new(false),
            entries: AtomicU64::new(0),
            queue_high_water: AtomicU64::new(0),
            pinned: AtomicBool::new(false),
            memory_bound: AtomicBool::new(false),
            view: CachePadded::new(ReaderView { seq: AtomicU64::new(0), table_word: AtomicUsize::new(0) }),
        }
    }

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
            let s1 = self.view.seq.load(Ordering::Acquire);
            if s1 & 1 == 1 {
                std::hint::spin_loop();
                continue;
            }
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
                    fence(Ordering::Acquire);
                    if self.view.seq.load(Ordering::Relaxed) != s1 {
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
                fence(Ordering::Acquire);
                if self.view.seq.load(Ordering::Relaxed) != s1 {
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
            fence(Ordering::Acquire);
            if self.view.seq.load(Ordering::Relaxed) != s1 {
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

    /// Takes the ownership lock. A poisoned lock (a panic while applying)
    /// means the state may be inconsistent: it is reported, never used.
    pub(crate) fn lock(&self) -> Result<StateGuard<'_>> {
        let g = self.state.lock();
        if self.poisoned.load(Ordering::Relaxed) {
            return Err(crate::Error::new(Status::Panic));
        }
        if g.is_none() {
            return Err(crate::Error::new(Status::Closed));
        }
        Ok(StateGuard { shard: self, guard: Some(g), reclaim: None })
    }

    pub(crate) fn install(&self, st: ShardState) {
        let mut g = self.state.lock();
        self.entries.store(st.len() as u64, Ordering::Relaxed);
        self.next_expiry.store(st.next_expiry(), Ordering::Relaxed);
        self.view.table_word.store(st.table.word(), Ordering::Release);
        *g = Some(st);
    }

    /// Takes the state out (after close, when no reader is inside the gate).
    pub(crate) fn uninstall(&self) -> Option<ShardState> {
        self.view.table_word.store(0, Ordering::Release);
        self.state.lock().take()
    }

    /// Wakes the owner if it sleeps (it then reclaims retired memory).
    pub(crate) fn wake_owner(&self) {
        if self.sleeping.load(Ordering::SeqCst) && self.sleeping.swap(false, Ordering::SeqCst) {
            if let Some(t) = self.owner.get() {
                t.unpark();
            }
        }
    }

    /// Sends a message on the channel of the caller's CPU and wakes the owner
    /// if it sleeps.
    pub(crate) fn send(&self, cpu: usize, msg: Msg) {
        let ch = &self.inbound[cpu % self.inbound.len()];
        // The receiver lives as long as the owner thread, which runs until a
        // Stop that is only sent after every caller left the gate.
        let _ = ch.send(msg);
        fence(Ordering::SeqCst);
        if self.sleeping.load(Ordering::SeqCst) && self.sleeping.swap(false, Ordering::SeqCst) {
            if let Some(t) = self.owner.get() {
                t.unpark();
            }
        }
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
    /// gate's grace-period reclamation.
    pub(crate) fn write<R>(&mut self, gate: &'a Gate, f: impl FnOnce(&mut ShardState) -> R) -> R {
        let s = self.begin_write();
        let r = f(self);
        self.end_write(gate, s);
        r
    }

    /// Opens a write section: lock-free readers of this shard retry (and
    /// then fall back to the lock) until `end_write`.
    pub(crate) fn begin_write(&mut self) -> u64 {
        let s = self.shard.view.seq.load(Ordering::Relaxed);
        self.shard.view.seq.store(s + 1, Ordering::Relaxed);
        // Orders the odd sequence before every store of the change (pairs
        // with the readers' acquire fence before they re-check).
        fence(Ordering::Release);
        s
    }

    /// Closes the write section opened by `begin_write` (which returned `s`).
    pub(crate) fn end_write(&mut self, gate: &'a Gate, s: u64) {
        let shard = self.shard;
        let st: &mut ShardState = self;
        shard.view.table_word.store(st.table.word(), Ordering::Relaxed);
        shard.view.seq.store(s + 2, Ordering::Release);
        if !st.garbage.is_empty() {
            gate.retire(st.garbage.drain(..).map(Garbage::Region));
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
        if self.reclaim.is_some() {
            // The owner unmaps retired memory off the caller's path.
            self.shard.wake_owner();
        }
    }
}

/// The owner thread's loop: drain every per-CPU channel, apply what came
/// under one hold of the ownership lock, reply; run a step of a pending job
/// (built without the lock, so callers are not held off by it); when idle,
/// spin for `spin` and then park until a sender wakes it.
pub(crate) fn owner_loop(shard: &Shard, budget: &Budget, gate: &Gate, rxs: Vec<Receiver<Msg>>, spin: Duration) {
    type Job = (*mut (dyn FnMut() -> bool + Send + 'static), *const ReplySlot);
    let mut msgs: Vec<Msg> = Vec::with_capacity(64);
    let mut jobs: std::collections::VecDeque<Job> = std::collections::VecDeque::new();
    let mut stop = false;
    loop {
        for rx in &rxs {
            while msgs.len() < 4096 {
                match rx.try_recv() {
                    Ok(m) => msgs.push(m),
                    Err(_) => break,
                }
            }
        }
        if !msgs.is_empty() {
            shard.queue_high_water.fetch_max(msgs.len() as u64, Ordering::Relaxed);
            let mut guard: Option<Result<StateGuard<'_>>> = None;
            for m in msgs.drain(..) {
                match m {
                    Msg::Ops { ops, idx, n, reply } => {
                        // SAFETY: the sender waits on `reply`, keeping ops and idx alive.
                        let idx = unsafe { std::slice::from_raw_parts(idx, n) };
                        match guard.get_or_insert_with(|| shard.lock()) {
                            // SAFETY: the indices of one message are distinct ops
                            // that only this shard touches (the batch splitter's contract).
                            Ok(st) => {
                                st.write(gate, |st| unsafe { st.apply_indexed(budget, ops, idx) });
                                // Publish before replying: a caller that saw its
                                // reply must see the count it caused.
                                st.publish();
                            }
                            Err(e) => {
                                for &i in idx {
                                    // SAFETY: as above.
                                    unsafe { (*ops.add(i as usize)).status = e.status() };
                                }
                            }
                        }
                        // SAFETY: the caller is waiting for this message.
                        unsafe { ReplySlot::complete(reply) };
                    }
                    Msg::Job { f, reply } => jobs.push_back((f, reply)),
                    Msg::Stop => stop = true,
                }
            }
            drop(guard);
            continue;
        }
        if gate.has_garbage() {
            gate.try_reclaim();
        }
        // Reclaim expired entries in the background, a bounded step at a time.
        let next_expiry = shard.next_expiry.load(Ordering::Relaxed);
        if next_expiry != u64::MAX && next_expiry.saturating_add(GRAIN_NS) <= shard.clock.now_ns() {
            if let Ok(mut st) = shard.lock() {
                let now = shard.clock.now_ns();
                st.write(gate, |st| st.expire_due(budget, now, EXPIRE_STEP, false));
            }
            continue;
        }
        if let Some(&(f, reply)) = jobs.front() {
            // SAFETY: the job's closure lives on its waiting caller's stack.
            if unsafe { (*f)() } {
                jobs.pop_front();
                // SAFETY: the caller is waiting for this job.
                unsafe { ReplySlot::complete(reply) };
            }
            continue;
        }
        if stop {
            return;
        }
        if !spin.is_zero() {
            let until = Instant::now() + spin;
            while Instant::now() < until && rxs.iter().all(|r| r.is_empty()) {
                std::hint::spin_loop();
            }
            if rxs.iter().any(|r| !r.is_empty()) {
                continue;
            }
        }
        shard.sleeping.store(true, Ordering::SeqCst);
        fence(Ordering::SeqCst);
        if rxs.iter().any(|r| !r.is_empty()) {
            shard.sleeping.store(false, Ordering::SeqCst);
            continue;
        }
        // Memory waiting for its grace period is retried every millisecond
        // (readers leave quickly); entries with deadlines are reclaimed once
        // their wheel bucket has passed (woken then, at most every 10 ms
        // and at least every second); otherwise sleep until woken.
        let retry_reclaim = gate.has_garbage();
        let expiry_wait = match shard.next_expiry.load(Ordering::Relaxed) {
            u64::MAX => None,
            t => {
                let wait = t.saturating_add(GRAIN_NS).saturating_sub(shard.clock.now_ns());
                Some(Duration::from_nanos(wait.clamp(10_000_000, 1_000_000_000)))
            }
        };
        while shard.sleeping.load(Ordering::SeqCst) {
            if retry_reclaim || expiry_wait.is_some() {
                let wait = if retry_reclaim { Duration::from_millis(1) } else { expiry_wait.unwrap_or_default() };
                std::thread::park_timeout(wait);
                shard.sleeping.store(false, Ordering::SeqCst);
            } else {
                std::thread::park();
            }
        }
    }
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
