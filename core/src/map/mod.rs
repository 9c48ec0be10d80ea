//! The map: the public front layer. Every call enters the gate, routes its
//! key to a shard and hands the shard its operation; this file holds the
//! single-call operations, the rest delegates to files of its own:
//!
//! - `lifecycle.rs`: creation (topology, placement, owner threads started at
//!   once or on first need) and close;
//! - `batch.rs`: batches, split by shard and dispatched (lock-free reads,
//!   the caller under the lock, or the owners);
//! - `replace.rs`: `replace_all` (build on the owners, switch under every lock);
//! - `iter.rs`: iteration and `range`, chunk by chunk of the hash space;
//! - `stats.rs`: per-shard and map-wide statistics;
//! - `direct.rs`: where bindings that read the map's memory themselves find it.

mod batch;
#[cfg(not(loom))]
mod direct;
mod iter;
mod lifecycle;
mod replace;
mod stats;

#[cfg(not(loom))]
pub use direct::{DirectRead, DirectShard, DIRECT_READ_VERSION};
pub use iter::Iter;

use crate::batch::{duration_ns, BatchOp, OpKind};
use crate::cache::Policy;
use crate::config::{Config, ExecMode};
use crate::error::{Error, Result, Status};
use crate::gate::{Gate, Pass};
use crate::numa;
use crate::placement::ShardPlacement;
use crate::routing::{shard_of, KeyHasher, Msg, ReplySlot};
use crate::shard::{Budget, Lookup, Shard};
use crate::topology::Topology;
use std::sync::atomic::{AtomicU64, AtomicU8, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

/// Outcome of [`Map::compare_and_swap`] and [`Map::compare_and_delete`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CasOutcome {
    /// The value was replaced (compare_and_swap) or the entry removed (compare_and_delete).
    Swapped,
    /// The current value differs from the expected one; nothing changed.
    Mismatch,
    /// The key is absent; nothing changed.
    NotFound,
}

/// Most shards a map may have (each has an owner thread).
pub const MAX_SHARDS: usize = 4096;

pub(crate) struct Inner {
    pub(crate) cfg: Config,
    pub(crate) hasher: KeyHasher,
    pub(crate) shards: Box<[Shard]>,
    pub(crate) budget: Budget,
    pub(crate) gate: Gate,
    pub(crate) topology: Topology,
    lifecycle: AtomicU8,
    owners: Mutex<Vec<JoinHandle<()>>>,
    /// How long an idle owner spins before it parks.
    owner_spin: Duration,
    replace_lock: Mutex<()>,
    replace_stall_max_ns: AtomicU64,
    replace_count: AtomicU64,
    pub(crate) policy: Policy,
}

/// A NUMA-aware sharded key-value map. Every method may be called from any
/// number of threads at once, including [`Map::close`]; after close every
/// call returns [`Status::Closed`]. Dropping the map closes it.
pub struct Map {
    pub(crate) inner: Arc<Inner>,
}

impl std::fmt::Debug for Map {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Map").field("shards", &self.inner.shards.len()).finish_non_exhaustive()
    }
}

static ZERO_INDEX: [u32; 1] = [0];

impl Map {
    /// The configuration the map was created with.
    pub fn config(&self) -> &Config {
        &self.inner.cfg
    }

    /// The topology the map was placed on.
    pub fn topology(&self) -> &Topology {
        &self.inner.topology
    }

    /// Every shard's planned placement.
    pub fn placements(&self) -> Vec<ShardPlacement> {
        self.inner.shards.iter().map(|s| s.placement).collect()
    }

    /// Number of shards.
    pub fn shard_count(&self) -> usize {
        self.inner.shards.len()
    }

    /// The shard a key is routed to.
    pub fn shard_of_key(&self, key: &[u8]) -> usize {
        shard_of(self.inner.hasher.hash(key), self.inner.shards.len())
    }

    /// True once `close` has started.
    pub fn is_closed(&self) -> bool {
        self.inner.gate.is_closed()
    }

    #[inline(always)]
    fn enter(&self) -> Result<Pass<'_>> {
        self.inner.gate.enter().ok_or(Error::new(Status::Closed))
    }

    /// The hash of `key` and the shard that holds it.
    #[inline(always)]
    fn route(&self, key: &[u8]) -> (u64, &Shard) {
        let inner = &*self.inner;
        let hash = inner.hasher.hash(key);
        (hash, &inner.shards[shard_of(hash, inner.shards.len())])
    }

    /// Checks sizes; sets the op's status and returns false when invalid.
    #[inline]
    fn validate(&self, op: &mut BatchOp<'_>) -> bool {
        let cfg = &self.inner.cfg;
        let status = if op.key.len() > cfg.max_key_len {
            Status::KeyTooLarge
        } else if (matches!(op.kind, OpKind::Put | OpKind::PutIfAbsent | OpKind::Cas | OpKind::Swap)
            && op.value.len() > cfg.max_value_len)
            || (op.kind == OpKind::Add && cfg.max_value_len < 8)
        {
            // A counter is an 8-byte value: a map whose values must be
            // shorter cannot hold one.
            Status::ValueTooLarge
        } else {
            return true;
        };
        op.status = status;
        op.out_len = 0;
        false
    }

    /// Applies one op (the single-call path).
    fn run_one(&self, op: &mut BatchOp<'_>) -> Result<Status> {
        let _pass = self.enter()?;
        if !self.validate(op) {
            return Ok(op.status);
        }
        let inner = &*self.inner;
        let (hash, shard) = self.route(op.key);
        op.hash = hash;
        match inner.cfg.exec_mode {
            ExecMode::Auto => {
                if op.kind == OpKind::Get {
                    shard.prefetch_home_line(op.hash);
                    if shard.read_get(op) {
                        return Ok(op.status);
                    }
                    let mut st = shard.lock()?;
                    st.apply(&inner.budget, op);
                    return Ok(op.status);
                }
                let mut st = shard.lock_for(hash)?;
                st.write(&inner.gate, 1, |st| st.apply(&inner.budget, op));
            }
            ExecMode::Delegate => {
                let cpu = numa::current_cpu() as usize;
                if inner.topology.is_this_system && shard.placement.cpu as usize == cpu {
                    // The owner is pinned to the CPU we occupy: waking it would
                    // cost two context switches; apply under its lock instead.
                    let mut st = shard.lock()?;
                    st.write(&inner.gate, 1, |st| st.apply(&inner.budget, op));
                    return Ok(op.status);
                }
                ReplySlot::with(|slot| {
                    slot.expect(1);
                    shard.send(
                        cpu,
                        Msg::Ops { ops: (op as *mut BatchOp<'_>).cast(), idx: ZERO_INDEX.as_ptr(), n: 1, reply: slot },
                    );
                    slot.wait(shard.placement.cpu as usize != cpu);
                });
            }
        }
        Ok(op.status)
    }

    fn status_err(s: Status) -> Error {
        Error::new(s)
    }

    /// The value of `key`, copied into a new vector.
    pub fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>> {
        let mut v = Vec::new();
        let mut op = BatchOp::get_vec(key, &mut v);
        match self.run_one(&mut op)? {
            Status::Ok => Ok(Some(v)),
            Status::NotFound => Ok(None),
            s => Err(Self::status_err(s)),
        }
    }

    /// Copies the value of `key` into `buf`. Returns the value's length when
    /// found; if that is larger than `buf`, nothing was copied (call again
    /// with a buffer of that size).
    #[inline]
    pub fn get_into(&self, key: &[u8], buf: &mut [u8]) -> Result<Option<usize>> {
        let inner = &*self.inner;
        if inner.cfg.exec_mode == ExecMode::Auto && key.len() <= inner.cfg.max_key_len {
            // The direct path: no op record, one hash, one gate pass, one
            // lock-free lookup; a value too large to stage is read under the
            // lock from the slot the lookup found.
            let _pass = self.enter()?;
            let (hash, shard) = self.route(key);
            let (slot, rec) = match shard.read_into(hash, key, buf) {
                Lookup::Found { len, .. } => return Ok(Some(len)),
                Lookup::Missing => return Ok(None),
                Lookup::Large { slot, rec } => (slot, rec),
                Lookup::Busy => (usize::MAX, std::ptr::null_mut()),
            };
            return Ok(shard.lock()?.get_from(slot, rec, hash, key, buf));
        }
        self.get_into_slow(key, buf)
    }

    #[cold]
    fn get_into_slow(&self, key: &[u8], buf: &mut [u8]) -> Result<Option<usize>> {
        let mut op = BatchOp::get(key, buf);
        match self.run_one(&mut op)? {
            Status::Ok | Status::BufferTooSmall => Ok(Some(op.out_len)),
            Status::NotFound => Ok(None),
            s => Err(Self::status_err(s)),
        }
    }

    /// Inserts or overwrites.
    #[inline]
    pub fn put(&self, key: &[u8], value: &[u8]) -> Result<()> {
        let inner = &*self.inner;
        if inner.cfg.exec_mode == ExecMode::Auto
            && key.len() <= inner.cfg.max_key_len
            && value.len() <= inner.cfg.max_value_len
        {
            // The direct path: no op record; applied under the shard's lock
            // inside a write section, as `run_one` would.
            let _pass = self.enter()?;
            let (hash, shard) = self.route(key);
            let mut st = shard.lock_for(hash)?;
            return match st.write(&inner.gate, 1, |st| st.put(&inner.budget, hash, key, value)) {
                Status::Ok => Ok(()),
                s => Err(Self::status_err(s)),
            };
        }
        self.put_slow(key, value)
    }

    #[cold]
    fn put_slow(&self, key: &[u8], value: &[u8]) -> Result<()> {
        let mut op = BatchOp::put(key, value);
        match self.run_one(&mut op)? {
            Status::Ok => Ok(()),
            s => Err(Self::status_err(s)),
        }
    }

    /// Inserts only if absent; true if inserted.
    pub fn put_if_absent(&self, key: &[u8], value: &[u8]) -> Result<bool> {
        let mut op = BatchOp::put_if_absent(key, value);
        match self.run_one(&mut op)? {
            Status::Ok => Ok(true),
            Status::Exists => Ok(false),
            s => Err(Self::status_err(s)),
        }
    }

    /// Inserts if absent, else returns the present value (Go's `LoadOrStore`):
    /// `Ok(None)` when inserted, `Ok(Some(existing))` otherwise.
    pub fn get_or_put(&self, key: &[u8], value: &[u8]) -> Result<Option<Vec<u8>>> {
        let mut v = Vec::new();
        let mut op = BatchOp { out_vec: Some(&mut v), ..BatchOp::put_if_absent(key, value) };
        match self.run_one(&mut op)? {
            Status::Ok => Ok(None),
            Status::Exists => Ok(Some(v)),
            s => Err(Self::status_err(s)),
        }
    }

    /// Removes `key`; true if it was present.
    pub fn delete(&self, key: &[u8]) -> Result<bool> {
        let mut op = BatchOp::delete(key);
        match self.run_one(&mut op)? {
            Status::Ok => Ok(true),
            Status::NotFound => Ok(false),
            s => Err(Self::status_err(s)),
        }
    }

    /// Removes `key` and returns its value.
    pub fn take(&self, key: &[u8]) -> Result<Option<Vec<u8>>> {
        let mut v = Vec::new();
        let mut op = BatchOp::take_vec(key, &mut v);
        match self.run_one(&mut op)? {
            Status::Ok => Ok(Some(v)),
            Status::NotFound => Ok(None),
            s => Err(Self::status_err(s)),
        }
    }

    /// Removes `key`, copying its value into `buf`. Returns the value's
    /// length when found; if that is larger than `buf`, nothing was copied
    /// and the key was **not** removed.
    pub fn take_into(&self, key: &[u8], buf: &mut [u8]) -> Result<Option<usize>> {
        let mut op = BatchOp::take(key, buf);
        match self.run_one(&mut op)? {
            Status::Ok | Status::BufferTooSmall => Ok(Some(op.out_len)),
            Status::NotFound => Ok(None),
            s => Err(Self::status_err(s)),
        }
    }

    /// Replaces the value only if it currently equals `expected`.
    pub fn compare_and_swap(&self, key: &[u8], expected: &[u8], value: &[u8]) -> Result<CasOutcome> {
        let mut op = BatchOp::cas(key, expected, value);
        match self.run_one(&mut op)? {
            Status::Ok => Ok(CasOutcome::Swapped),
            Status::Mismatch => Ok(CasOutcome::Mismatch),
            Status::NotFound => Ok(CasOutcome::NotFound),
            s => Err(Self::status_err(s)),
        }
    }

    /// Stores `value` under `key` and returns the previous value, in one
    /// atomic step (Go's `sync.Map.Swap`, Java's `Map.put`): None when the
    /// key was absent (then it was inserted).
    pub fn swap(&self, key: &[u8], value: &[u8]) -> Result<Option<Vec<u8>>> {
        let mut v = Vec::new();
        let mut op = BatchOp::swap_vec(key, value, &mut v);
        match self.run_one(&mut op)? {
            Status::Ok => Ok(Some(v)),
            Status::NotFound => Ok(None),
            s => Err(Self::status_err(s)),
        }
    }

    /// Like [`swap`](Self::swap), the previous value copied into `buf`:
    /// returns its length when there was one; if that is larger than `buf`,
    /// nothing was copied and **nothing was stored**.
    pub fn swap_into(&self, key: &[u8], value: &[u8], buf: &mut [u8]) -> Result<Option<usize>> {
        let mut op = BatchOp::swap(key, value, buf);
        match self.run_one(&mut op)? {
            Status::Ok | Status::BufferTooSmall => Ok(Some(op.out_len)),
            Status::NotFound => Ok(None),
            s => Err(Self::status_err(s)),
        }
    }

    /// Removes the entry only if its value currently equals `expected`
    /// (atomically: no write can come between the comparison and the
    /// removal). `Swapped` means removed; `Mismatch` and `NotFound` change nothing.
    pub fn compare_and_delete(&self, key: &[u8], expected: &[u8]) -> Result<CasOutcome> {
        let mut op = BatchOp::compare_and_delete(key, expected);
        match self.run_one(&mut op)? {
            Status::Ok => Ok(CasOutcome::Swapped),
            Status::Mismatch => Ok(CasOutcome::Mismatch),
            Status::NotFound => Ok(CasOutcome::NotFound),
            s => Err(Self::status_err(s)),
        }
    }

    /// Adds `delta` to the counter at `key` (8 little-endian bytes; a missing
    /// key counts as 0) and returns the new value. Wraps on overflow, like
    /// hardware atomics. `NotACounter` when the stored value is not 8 bytes.
    pub fn add(&self, key: &[u8], delta: i64) -> Result<i64> {
        let mut op = BatchOp::add(key, delta);
        match self.run_one(&mut op)? {
            Status::Ok => Ok(op.out_counter),
            s => Err(Self::status_err(s)),
        }
    }

    /// [`put`](Self::put) with a time to live: the entry expires `ttl` from
    /// now (a zero `ttl`: the map's default, none unless configured). From
    /// that instant no read, batch, iteration or `len` sees it.
    pub fn put_with_ttl(&self, key: &[u8], value: &[u8], ttl: Duration) -> Result<()> {
        let mut op = BatchOp::put(key, value).with_ttl(ttl);
        match self.run_one(&mut op)? {
            Status::Ok => Ok(()),
            s => Err(Self::status_err(s)),
        }
    }

    /// [`put_if_absent`](Self::put_if_absent) with a time to live for the
    /// inserted entry.
    pub fn put_if_absent_with_ttl(&self, key: &[u8], value: &[u8], ttl: Duration) -> Result<bool> {
        let mut op = BatchOp::put_if_absent(key, value).with_ttl(ttl);
        match self.run_one(&mut op)? {
            Status::Ok => Ok(true),
            Status::Exists => Ok(false),
            s => Err(Self::status_err(s)),
        }
    }

    /// [`get_or_put`](Self::get_or_put) with a time to live for the
    /// inserted entry.
    pub fn get_or_put_with_ttl(&self, key: &[u8], value: &[u8], ttl: Duration) -> Result<Option<Vec<u8>>> {
        let mut v = Vec::new();
        let mut op = BatchOp { out_vec: Some(&mut v), ..BatchOp::put_if_absent(key, value).with_ttl(ttl) };
        match self.run_one(&mut op)? {
            Status::Ok => Ok(None),
            Status::Exists => Ok(Some(v)),
            s => Err(Self::status_err(s)),
        }
    }

    /// [`swap`](Self::swap) with a time to live for the stored entry.
    pub fn swap_with_ttl(&self, key: &[u8], value: &[u8], ttl: Duration) -> Result<Option<Vec<u8>>> {
        let mut v = Vec::new();
        let mut op = BatchOp { ttl_ns: duration_ns(ttl), ..BatchOp::swap_vec(key, value, &mut v) };
        match self.run_one(&mut op)? {
            Status::Ok => Ok(Some(v)),
            Status::NotFound => Ok(None),
            s => Err(Self::status_err(s)),
        }
    }

    /// Sets the time to live of an entry to `ttl` from now (a zero `ttl`
    /// expires it at once); false if the key is absent.
    pub fn expire(&self, key: &[u8], ttl: Duration) -> Result<bool> {
        self.expire_op(BatchOp::expire(key, ttl))
    }

    /// Makes an entry never expire; false if the key is absent.
    pub fn persist(&self, key: &[u8]) -> Result<bool> {
        self.expire_op(BatchOp::persist(key))
    }

    fn expire_op(&self, mut op: BatchOp<'_>) -> Result<bool> {
        match self.run_one(&mut op)? {
            Status::Ok => Ok(true),
            Status::NotFound => Ok(false),
            s => Err(Self::status_err(s)),
        }
    }

    /// The remaining time to live of an entry: `None` if absent,
    /// `Some(None)` if it never expires.
    pub fn ttl(&self, key: &[u8]) -> Result<Option<Option<Duration>>> {
        let mut op = BatchOp::ttl(key);
        match self.run_one(&mut op)? {
            Status::Ok if op.out_counter < 0 => Ok(Some(None)),
            Status::Ok => Ok(Some(Some(Duration::from_nanos(op.out_counter as u64)))),
            Status::NotFound => Ok(None),
            s => Err(Self::status_err(s)),
        }
    }

    /// Exact number of entries: the sum of every shard's count, each read at
    /// one moment.
    pub fn len(&self) -> Result<u64> {
        let _pass = self.enter()?;
        let inner = &*self.inner;
        let mut now = 0;
        for s in inner.shards.iter() {
            // A shard whose entries may have expired removes them first,
            // so the count holds only live entries.
            let due = s.next_expiry.load(Ordering::Relaxed);
            if due != u64::MAX {
                if now == 0 {
                    now = inner.policy.clock.now_ns();
                }
                if due <= now {
                    let mut st = s.lock()?;
                    st.write(&inner.gate, 0, |st| st.expire_due(&inner.budget, now, usize::MAX, true));
                }
            }
        }
        Ok(inner.shards.iter().map(|s| s.entries.load(Ordering::Relaxed)).sum())
    }

    /// True when the map holds no entry.
    pub fn is_empty(&self) -> Result<bool> {
        Ok(self.len()? == 0)
    }

    /// Removes every entry, shard by shard.
    pub fn clear(&self) -> Result<()> {
        let _pass = self.enter()?;
        for s in self.inner.shards.iter() {
            s.lock()?.write(&self.inner.gate, 0, |st| st.clear(&self.inner.budget))?;
        }
        Ok(())
    }
}
