//! The map: creation (topology, placement, owner threads), every operation,
//! batches, iteration, replace_all, stats and close.

use crate::batch::{duration_ns, BatchOp, OpKind};
use crate::cache::Policy;
use crate::config::{Config, Eviction, ExecMode, MAX_LEN_CEILING};
use crate::error::{Error, Result, Status};
use crate::gate::{Garbage, Gate, Pass};
use crate::numa;
use crate::placement::{self, ShardPlacement};
use crate::routing::{shard_of, KeyHasher, Msg, ReplySlot};
use crate::shard::{owner_loop, Budget, Lookup, Shard, ShardState};
use crate::stats::{MapStats, ShardStats};
use crate::topology::{Topology, TopologySource};
use std::cell::RefCell;
use std::sync::atomic::{AtomicU64, AtomicU8, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

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

const OPEN: u8 = 0;
const CLOSING: u8 = 1;
const CLOSED: u8 = 2;

/// Entries per iteration chunk (a writer waits at most one chunk).
const ITER_CHUNK: u64 = 256;
/// Entries a replace_all build step inserts before the owner looks at its channels again.
const BUILD_STEP: usize = 4096;

pub(crate) struct Inner {
    pub(crate) cfg: Config,
    pub(crate) hasher: KeyHasher,
    pub(crate) shards: Box<[Shard]>,
    pub(crate) budget: Budget,
    pub(crate) gate: Gate,
    pub(crate) topology: Topology,
    lifecycle: AtomicU8,
    owners: Mutex<Vec<JoinHandle<()>>>,
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

thread_local! {
    /// Per-thread scratch for splitting batches by shard (no allocation per batch once warm).
    static SPLIT: RefCell<Split> = const { RefCell::new(Split::new()) };
}

static ZERO_INDEX: [u32; 1] = [0];

/// Scratch arrays for splitting a batch by shard, reused by each thread.
struct Split {
    /// Shard of each op (u32::MAX for an op that failed validation).
    ids: Vec<u32>,
    /// Prefix sums of ops per shard, then a copy used as fill cursors.
    starts: Vec<u32>,
    fill: Vec<u32>,
    /// Op indices grouped by shard, in array order within a shard.
    order: Vec<u32>,
    /// Ops a lock-free read could not serve, to apply under the lock.
    retry: Vec<u32>,
}

impl Split {
    const fn new() -> Split {
        Split { ids: Vec::new(), starts: Vec::new(), fill: Vec::new(), order: Vec::new(), retry: Vec::new() }
    }
}

/// How many of a batch's first ops get their home slot prefetched while the
/// batch is sorted by shard (the read windows fetch the rest; a bound keeps
/// early lines from being evicted before they are read).
const EARLY_PREFETCH: usize = 128;

fn possible_cpus() -> usize {
    // SAFETY: sysconf has no memory-safety preconditions.
    let n = unsafe { libc::sysconf(libc::_SC_NPROCESSORS_CONF) };
    if n > 0 {
        n as usize
    } else {
        1
    }
}

impl Map {
    /// Creates a map: loads the topology, plans the placement, starts one
    /// pinned owner thread per shard, which binds its memory to its node and
    /// allocates its shard there.
    pub fn new(cfg: Config) -> Result<Map> {
        if cfg.max_key_len == 0 || cfg.max_key_len > MAX_LEN_CEILING || cfg.max_value_len > MAX_LEN_CEILING {
            return Err(Error::with_detail(
                Status::InvalidArgument,
                "max_key_len must be 1..=2^31-1, max_value_len <= 2^31-1",
            ));
        }
        if cfg.shards > MAX_SHARDS || cfg.shards_per_node.as_ref().is_some_and(|v| v.iter().sum::<usize>() > MAX_SHARDS)
        {
            return Err(Error::with_detail(Status::InvalidArgument, format!("at most {MAX_SHARDS} shards")));
        }
        if cfg.eviction != Eviction::None && cfg.memory_limit == 0 {
            return Err(Error::with_detail(Status::InvalidArgument, "eviction needs a memory_limit"));
        }
        let source = TopologySource::from_config(&cfg);
        let topology = Topology::load(&source)?;
        let allowed = placement::allowed_cpus();
        let plan = placement::plan(
            &topology,
            &allowed,
            cfg.shards,
            cfg.nodes.as_deref(),
            cfg.shards_per_node.as_deref(),
            cfg.misplace_memory,
        )?;
        let slots = possible_cpus().max(allowed.iter().map(|&c| c as usize + 1).max().unwrap_or(1));
        let evicting = cfg.eviction != Eviction::None;
        let policy = Policy {
            clock: cfg.clock.clone().unwrap_or_default(),
            default_ttl_ns: cfg.default_ttl.map_or(0, duration_ns),
            // Each shard evicts within its share: no lock spans shards.
            shard_limit: evicting.then(|| cfg.memory_limit / plan.len().max(1) as u64),
            record_stats: cfg.record_stats || evicting,
        };
        let mut receivers = Vec::with_capacity(plan.len());
        let shards: Box<[Shard]> = plan
            .iter()
            .map(|p| {
                let (txs, rxs): (Vec<_>, Vec<_>) = (0..slots).map(|_| crossbeam_channel::unbounded()).unzip();
                receivers.push(rxs);
                Shard::new(*p, txs.into_boxed_slice(), &policy)
            })
            .collect();
        let spin = Duration::from_micros(cfg.worker_spin_us.unwrap_or(if plan.len() >= allowed.len().max(1) {
            0
        } else {
            20
        }));
        let inner = Arc::new(Inner {
            hasher: KeyHasher::new(cfg.hash_seed),
            // With eviction the shards keep their own shares of the limit.
            budget: Budget::new(if evicting { 0 } else { cfg.memory_limit }),
            gate: Gate::new(slots),
            cfg,
            shards,
            topology,
            lifecycle: AtomicU8::new(OPEN),
            owners: Mutex::new(Vec::new()),
            replace_lock: Mutex::new(()),
            replace_stall_max_ns: AtomicU64::new(0),
            replace_count: AtomicU64::new(0),
            policy,
        });
        let real = inner.topology.is_this_system;
        let (ready_tx, ready_rx) = crossbeam_channel::unbounded::<Result<()>>();
        for (i, rxs) in receivers.into_iter().enumerate() {
            let inner2 = inner.clone();
            let ready = ready_tx.clone();
            let spawned = std::thread::Builder::new().name(format!("numashard-{i}")).spawn(move || {
                let shard = &inner2.shards[i];
                let _ = shard.owner.set(std::thread::current());
                let p = shard.placement;
                // Pin first, then set the memory policy, then allocate: the
                // shard's own structures are created on its node.
                if real {
                    shard.pinned.store(numa::pin_thread(p.cpu), Ordering::Relaxed);
                    shard.memory_bound.store(numa::bind_thread_memory(p.memory_node), Ordering::Relaxed);
                }
                match ShardState::new(real.then_some(p.memory_node), &inner2.policy, shard.counters.clone()) {
                    Ok(st) => {
                        shard.install(st);
                        let _ = ready.send(Ok(()));
                    }
                    Err(e) => {
                        let _ = ready.send(Err(e));
                    }
                }
                owner_loop(shard, &inner2.budget, &inner2.gate, rxs, spin);
            });
            match spawned {
                Ok(h) => inner.owners.lock().unwrap_or_else(|e| e.into_inner()).push(h),
                Err(e) => {
                    let _ =
                        ready_tx.send(Err(Error::with_detail(Status::Resource, format!("spawning shard thread: {e}"))));
                }
            }
        }
        drop(ready_tx);
        let mut failure = None;
        for r in ready_rx.iter().take(inner.shards.len()) {
            if let Err(e) = r {
                failure.get_or_insert(e);
            }
        }
        let map = Map { inner };
        if let Some(e) = failure {
            let _ = map.close();
            return Err(e);
        }
        Ok(map)
    }

    /// Creates a map with the default configuration.
    pub fn with_defaults() -> Result<Map> {
        Map::new(Config::default())
    }

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
                if op.kind == OpKind::Get && shard.read_get(op) {
                    return Ok(op.status);
                }
                let mut st = shard.lock()?;
                if op.kind == OpKind::Get {
                    st.apply(&inner.budget, op);
                } else {
                    st.write(&inner.gate, |st| st.apply(&inner.budget, op));
                }
            }
            ExecMode::Delegate => {
                let cpu = numa::current_cpu() as usize;
                if inner.topology.is_this_system && shard.placement.cpu as usize == cpu {
                    // The owner is pinned to the CPU we occupy: waking it would
                    // cost two context switches; apply under its lock instead.
                    let mut st = shard.lock()?;
                    st.write(&inner.gate, |st| st.apply(&inner.budget, op));
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
            // The direct path: no op record, one lock-free lookup.
            let _pass = self.enter()?;
            let (hash, shard) = self.route(key);
            match shard.read_into(hash, key, buf) {
                Lookup::Found { len, .. } => return Ok(Some(len)),
                Lookup::Missing => return Ok(None),
                Lookup::Busy => {}
            }
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
            let mut st = shard.lock()?;
            return match st.write(&inner.gate, |st| st.put(&inner.budget, hash, key, value)) {
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
                    st.write(&inner.gate, |st| st.expire_due(&inner.budget, now, usize::MAX, true));
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
            s.lock()?.write(&self.inner.gate, |st| st.clear(&self.inner.budget))?;
        }
        Ok(())
    }

    /// Runs any mix of operations in one call: split by shard (ops on the
    /// same key keep their array order), all shards working at once; every op
    /// gets its own status. Returns an error only when the call as a whole
    /// failed (closed map); per-op errors live in the ops.
    pub fn batch(&self, ops: &mut [BatchOp<'_>]) -> Result<()> {
        let _pass = self.enter()?;
        if ops.len() > u32::MAX as usize {
            return Err(Error::with_detail(Status::InvalidArgument, "batch larger than 2^32-1 ops"));
        }
        let inner = &*self.inner;
        let n = inner.shards.len();
        SPLIT.with(|cell| {
            let mut scratch = cell.borrow_mut();
            let Split { ids, starts, fill, order, retry } = &mut *scratch;
            ids.clear();
            starts.clear();
            starts.resize(n + 1, 0);
            order.clear();
            order.resize(ops.len(), 0);
            // Counting sort by shard: stable, so same-key ops keep array order.
            // The home slots of the first ops are prefetched as soon as their
            // hash is known, so those misses overlap the rest of the sort.
            let prefetch_slots = inner.cfg.exec_mode == ExecMode::Auto;
            for (i, op) in ops.iter_mut().enumerate() {
                let s = if self.validate(op) {
                    op.hash = inner.hasher.hash(op.key);
                    let s = shard_of(op.hash, n);
                    if prefetch_slots && i < EARLY_PREFETCH {
                        inner.shards[s].prefetch(op.hash);
                    }
                    s as u32
                } else {
                    u32::MAX
                };
                ids.push(s);
                if s != u32::MAX {
                    starts[s as usize + 1] += 1;
                }
            }
            for s in 0..n {
                starts[s + 1] += starts[s];
            }
            fill.clear();
            fill.extend_from_slice(starts);
            for (i, &s) in ids.iter().enumerate() {
                if s != u32::MAX {
                    order[fill[s as usize] as usize] = i as u32;
                    fill[s as usize] += 1;
                }
            }
            let base: *mut BatchOp<'static> = ops.as_mut_ptr().cast();
            let cpu = numa::current_cpu() as usize;
            let delegate_min = match inner.cfg.exec_mode {
                ExecMode::Delegate => 1,
                ExecMode::Auto if inner.cfg.batch_delegate_min == 0 => usize::MAX,
                ExecMode::Auto => inner.cfg.batch_delegate_min,
            };
            // A part goes to its owner when it is big enough, unless the owner
            // is pinned to the CPU the caller occupies (then waking it costs
            // two context switches: the caller applies it itself).
            let real = inner.topology.is_this_system;
            let delegated = |s: usize| {
                (starts[s + 1] - starts[s]) as usize >= delegate_min
                    && !(real && inner.shards[s].placement.cpu as usize == cpu)
            };
            ReplySlot::with(|slot| {
                let parts = (0..n).filter(|&s| delegated(s));
                let sent = parts.clone().count();
                slot.expect(sent);
                let mut may_spin = true;
                for s in parts {
                    let part = &order[starts[s] as usize..starts[s + 1] as usize];
                    may_spin &= inner.shards[s].placement.cpu as usize != cpu;
                    inner.shards[s].send(cpu, Msg::Ops { ops: base, idx: part.as_ptr(), n: part.len(), reply: slot });
                }
                for s in 0..n {
                    let len = (starts[s + 1] - starts[s]) as usize;
                    if len == 0 || delegated(s) {
                        continue;
                    }
                    let mut part = &order[starts[s] as usize..starts[s + 1] as usize];
                    let shard = &inner.shards[s];
                    // SAFETY (every unsafe block of this part, to the end of
                    // the loop body): `part` holds distinct indices into
                    // `ops` that no owner was sent, and `ops` is exclusively
                    // borrowed by this call, so each `base.add(i)` is a live
                    // op only this thread touches.
                    let all_gets = part.iter().all(|&i| unsafe { (*base.add(i as usize)).kind } == OpKind::Get);
                    if all_gets && inner.cfg.exec_mode == ExecMode::Auto {
                        // Lock-free reads in windows of W ops, in stages so that
                        // the cache misses of a window overlap: the home slots
                        // (prefetched while sorting, or one window ahead), then
                        // the records they point to, then the reads. A stage is
                        // a short loop, so a window's misses are all in flight
                        // before the first read needs one.
                        const W: usize = 32;
                        retry.clear();
                        let hash = |i: u32| unsafe { (*base.add(i as usize)).hash };
                        // A shard whose slots fit the caches is read straight:
                        // the stages would only add instructions there.
                        let staged = !shard.is_cache_sized();
                        if staged {
                            part.iter().take(W).for_each(|&i| shard.prefetch(hash(i)));
                        }
                        for (k, window) in part.chunks(W).enumerate() {
                            if staged {
                                part.iter().skip((k + 1) * W).take(W).for_each(|&i| shard.prefetch(hash(i)));
                                window.iter().for_each(|&i| shard.prefetch_record(hash(i)));
                            }
                            for &i in window {
                                if !shard.read_get(unsafe { &mut *base.add(i as usize) }) {
                                    retry.push(i);
                                }
                            }
                        }
                        if retry.is_empty() {
                            continue;
                        }
                        // Only the reads that found no consistent moment go to the lock.
                        part = retry;
                    }
                    match shard.lock() {
                        Ok(mut st) => {
                            st.write(&inner.gate, |st| unsafe { st.apply_indexed(&inner.budget, base, part) })
                        }
                        Err(e) => {
                            for &i in part {
                                // SAFETY: as above.
                                unsafe { (*base.add(i as usize)).status = e.status() };
                            }
                        }
                    }
                }
                if sent > 0 {
                    slot.wait(may_spin);
                }
            });
        });
        Ok(())
    }

    /// Gets many keys in one batch.
    pub fn get_many(&self, keys: &[&[u8]]) -> Result<Vec<Option<Vec<u8>>>> {
        let mut outs: Vec<Vec<u8>> = vec![Vec::new(); keys.len()];
        let mut ops: Vec<BatchOp<'_>> = keys.iter().zip(outs.iter_mut()).map(|(k, o)| BatchOp::get_vec(k, o)).collect();
        self.batch(&mut ops)?;
        let statuses: Vec<Status> = ops.iter().map(|o| o.status).collect();
        drop(ops);
        statuses
            .into_iter()
            .zip(outs)
            .map(|(s, v)| match s {
                Status::Ok => Ok(Some(v)),
                Status::NotFound => Ok(None),
                s => Err(Error::new(s)),
            })
            .collect()
    }

    /// An iterator over the whole map, in chunks served shard by shard.
    ///
    /// Guarantee: every entry present and unchanged for the whole iteration
    /// is returned exactly once; an entry inserted, updated or deleted during
    /// it is returned at most once, with its old or new value, never torn.
    /// Chunks are ranges of the key-hash space, which resizes do not move, so
    /// no entry is skipped or repeated when a table grows. A writer waits at
    /// most one chunk; an abandoned iterator holds nothing.
    pub fn iter(&self) -> Result<Iter> {
        let _pass = self.enter()?;
        Ok(Iter { inner: self.inner.clone(), shard: 0, lo: 0, buf: Vec::new(), spans: Vec::new(), pos: 0, done: false })
    }

    /// Calls `f` with every entry (see [`Map::iter`]) until it returns false.
    pub fn range(&self, mut f: impl FnMut(&[u8], &[u8]) -> bool) -> Result<()> {
        let mut it = self.iter()?;
        while let Some((k, v)) = it.next_entry()? {
            if !f(k, v) {
                break;
            }
        }
        Ok(())
    }

    /// Atomically replaces the whole contents (the "hot reload"). The new
    /// contents are built on every shard's owner thread, in its node's
    /// memory, while the old contents keep serving; then all shards switch
    /// at once under all ownership locks, so once any caller has seen a new
    /// value no later operation returns an old one. Later duplicates of a key
    /// win. Any oversized entry, or contents over the memory limit, fail the
    /// call and change nothing.
    pub fn replace_all<K: AsRef<[u8]> + Sync, V: AsRef<[u8]> + Sync>(&self, entries: &[(K, V)]) -> Result<()> {
        let _pass = self.enter()?;
        let inner = &*self.inner;
        let cfg = &inner.cfg;
        let n = inner.shards.len();
        let mut parts: Vec<Vec<(u64, u32)>> = vec![Vec::new(); n];
        for (i, (k, v)) in entries.iter().enumerate() {
            let (k, v) = (k.as_ref(), v.as_ref());
            if k.len() > cfg.max_key_len {
                return Err(Error::with_detail(Status::KeyTooLarge, format!("entry {i}")));
            }
            if v.len() > cfg.max_value_len {
                return Err(Error::with_detail(Status::ValueTooLarge, format!("entry {i}")));
            }
            let h = inner.hasher.hash(k);
            parts[shard_of(h, n)].push((h, i as u32));
        }
        if entries.len() > u32::MAX as usize {
            return Err(Error::with_detail(Status::InvalidArgument, "more than 2^32-1 entries"));
        }
        let _one_at_a_time = inner.replace_lock.lock().unwrap_or_else(|e| e.into_inner());
        let real = inner.topology.is_this_system;
        // Build every shard's new state on its owner, in steps.
        let mut built: Vec<Option<Result<ShardState>>> = (0..n).map(|_| None).collect();
        {
            let unlimited = Budget::new(0);
            let mut jobs: Vec<Box<dyn FnMut() -> bool + Send + '_>> = Vec::with_capacity(n);
            for ((s, part), out) in parts.iter().enumerate().zip(built.iter_mut()) {
                let node = real.then_some(inner.shards[s].placement.memory_node);
                let unlimited = &unlimited;
                let mut pos = 0usize;
                jobs.push(Box::new(move || {
                    if out.is_none() {
                        *out = Some(ShardState::new(node, &inner.policy, inner.shards[s].counters.clone()));
                    }
                    let Some(Ok(st)) = out.as_mut() else { return true };
                    let end = (pos + BUILD_STEP).min(part.len());
                    for &(h, i) in &part[pos..end] {
                        let (k, v) = &entries[i as usize];
                        let mut op = BatchOp::put(k.as_ref(), v.as_ref());
                        op.hash = h;
                        st.apply(unlimited, &mut op);
                        if op.status != Status::Ok {
                            *out = Some(Err(Error::new(op.status)));
                            return true;
                        }
                    }
                    pos = end;
                    pos == part.len()
                }));
            }
            let cpu = numa::current_cpu() as usize;
            ReplySlot::with(|slot| {
                slot.expect(n);
                for (s, job) in jobs.iter_mut().enumerate() {
                    let f: *mut (dyn FnMut() -> bool + Send + '_) = &mut **job;
                    // SAFETY: only the lifetime is erased; we wait below for
                    // every owner to finish the job before `jobs` is dropped.
                    let f: *mut (dyn FnMut() -> bool + Send + 'static) = unsafe { std::mem::transmute(f) };
                    inner.shards[s].send(cpu, Msg::Job { f, reply: slot });
                }
                slot.wait(false);
            });
        }
        let mut states = Vec::with_capacity(n);
        let mut new_total = 0u64;
        for b in built {
            let mut st = b.unwrap_or_else(|| Err(Error::new(Status::Closed)))?;
            // Regions replaced while building were never published: free now.
            st.garbage.clear();
            new_total += st.charged;
            states.push(st);
        }
        if inner.budget.limit() != 0 && new_total > inner.budget.limit() {
            return Err(Error::with_detail(Status::Full, format!("{new_total} bytes over the limit")));
        }
        // Switch: hold every ownership lock (in shard order, so two switches
        // cannot deadlock), swap, release.
        let mut guards = Vec::with_capacity(n);
        let mut start = None;
        for s in inner.shards.iter() {
            guards.push(s.lock()?);
            start.get_or_insert_with(Instant::now);
        }
        // Every shard enters its write section before any shard shows new
        // contents, so no reader can see new on one shard and old on another.
        let seqs: Vec<u64> = guards.iter_mut().map(|g| g.begin_write()).collect();
        let mut old_total = 0u64;
        let mut olds = Vec::with_capacity(n);
        for (g, st) in guards.iter_mut().zip(states) {
            old_total += g.charged;
            let old = std::mem::replace(&mut **g, st);
            // A save in progress keeps reading the old contents (snapshot::capture).
            if let Some(old) = crate::snapshot::on_state_replaced(old, g) {
                olds.push(Garbage::State(Box::new(old)));
            }
        }
        for (g, s) in guards.iter_mut().zip(seqs) {
            g.end_write(&inner.gate, s);
            g.publish();
        }
        inner.budget.release(old_total);
        // Checked against the limit above, and the old contents were released.
        inner.budget.force_charge(new_total);
        drop(guards);
        let stall = start.map(|t| t.elapsed().as_nanos() as u64).unwrap_or(0);
        // The old contents are unmapped after a grace period, by the owners,
        // off every caller's path.
        inner.gate.retire(olds.into_iter());
        for s in inner.shards.iter() {
            s.wake_owner();
        }
        inner.replace_stall_max_ns.fetch_max(stall, Ordering::Relaxed);
        inner.replace_count.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }

    fn shard_stats_locked(&self, i: usize) -> Result<ShardStats> {
        let inner = &*self.inner;
        let s = &inner.shards[i];
        let p = s.placement;
        let st = s.lock()?;
        let pages = st.page_nodes(p.memory_node);
        Ok(ShardStats {
            shard: i as u32,
            node: p.node,
            memory_node: p.memory_node,
            cpu: p.cpu,
            entries: st.len() as u64,
            bytes: st.charged,
            mapped_bytes: st.mapped_bytes() as u64,
            ops: st.ops,
            queue_high_water: s.queue_high_water.load(Ordering::Relaxed),
            binding_applied: inner.topology.is_this_system
                && s.pinned.load(Ordering::Relaxed)
                && s.memory_bound.load(Ordering::Relaxed)
                && st.bound(),
            pages_on_node: pages.on_node,
            pages_total: pages.total,
            hits: s.counters.hits_misses().0,
            misses: s.counters.hits_misses().1,
            evictions: s.counters.evictions.load(Ordering::Relaxed),
            expirations: s.counters.expirations.load(Ordering::Relaxed),
        })
    }

    /// One shard's placement and counters (asks the kernel where its pages are).
    pub fn shard_stats(&self, shard: usize) -> Result<ShardStats> {
        let _pass = self.enter()?;
        if shard >= self.inner.shards.len() {
            return Err(Error::with_detail(Status::InvalidArgument, "shard index out of range"));
        }
        self.shard_stats_locked(shard)
    }

    /// Totals and every shard's stats.
    pub fn stats(&self) -> Result<MapStats> {
        let _pass = self.enter()?;
        let inner = &*self.inner;
        let per_shard = (0..inner.shards.len()).map(|i| self.shard_stats_locked(i)).collect::<Result<Vec<_>>>()?;
        Ok(MapStats {
            shards: per_shard.len() as u32,
            entries: per_shard.iter().map(|s| s.entries).sum(),
            bytes: per_shard.iter().map(|s| s.bytes).sum(),
            mapped_bytes: per_shard.iter().map(|s| s.mapped_bytes).sum(),
            ops: per_shard.iter().map(|s| s.ops).sum(),
            memory_limit: inner.cfg.memory_limit,
            hits: per_shard.iter().map(|s| s.hits).sum(),
            misses: per_shard.iter().map(|s| s.misses).sum(),
            evictions: per_shard.iter().map(|s| s.evictions).sum(),
            expirations: per_shard.iter().map(|s| s.expirations).sum(),
            binding_applied: per_shard.iter().all(|s| s.binding_applied),
            replace_stall_max_ns: inner.replace_stall_max_ns.load(Ordering::Relaxed),
            replace_count: inner.replace_count.load(Ordering::Relaxed),
            per_shard,
        })
    }

    /// Drains queued work, stops and joins the owner threads, frees every
    /// shard. Calls racing it finish or return `Closed`; later calls return
    /// `Closed`. Returns `Closed` if the map was already closed (by this or a
    /// racing call, which this one waits for).
    pub fn close(&self) -> Result<()> {
        self.inner.close()
    }
}

impl Inner {
    fn close(&self) -> Result<()> {
        if self.lifecycle.compare_exchange(OPEN, CLOSING, Ordering::AcqRel, Ordering::Acquire).is_err() {
            while self.lifecycle.load(Ordering::Acquire) != CLOSED {
                std::thread::sleep(Duration::from_micros(50));
            }
            return Err(Error::new(Status::Closed));
        }
        self.gate.close_and_drain();
        for s in self.shards.iter() {
            s.send(0, Msg::Stop);
        }
        let owners = std::mem::take(&mut *self.owners.lock().unwrap_or_else(|e| e.into_inner()));
        for h in owners {
            let _ = h.join();
        }
        for s in self.shards.iter() {
            drop(s.uninstall());
            s.entries.store(0, Ordering::Relaxed);
        }
        self.lifecycle.store(CLOSED, Ordering::Release);
        Ok(())
    }
}

impl Drop for Map {
    fn drop(&mut self) {
        let _ = self.inner.close();
    }
}

/// A chunked iterator over a map (see [`Map::iter`]). Holds no lock and no
/// shard between calls; the entries it returns are borrowed until the next
/// call.
pub struct Iter {
    inner: Arc<Inner>,
    shard: usize,
    lo: u64,
    buf: Vec<u8>,
    spans: Vec<(usize, usize, usize)>,
    pos: usize,
    done: bool,
}

impl Iter {
    /// The next entry, `Ok(None)` at the end, `Err(Closed)` if the map closed.
    pub fn next_entry(&mut self) -> Result<Option<(&[u8], &[u8])>> {
        while self.pos >= self.spans.len() {
            if self.done {
                return Ok(None);
            }
            self.fetch_chunk()?;
        }
        let (off, k, v) = self.spans[self.pos];
        self.pos += 1;
        Ok(Some((&self.buf[off..off + k], &self.buf[off + k..off + k + v])))
    }

    fn fetch_chunk(&mut self) -> Result<()> {
        let inner = &*self.inner;
        let _pass = inner.gate.enter().ok_or(Error::new(Status::Closed))?;
        self.buf.clear();
        self.spans.clear();
        self.pos = 0;
        if self.shard >= inner.shards.len() {
            self.done = true;
            return Ok(());
        }
        let shard = &inner.shards[self.shard];
        let st = shard.lock()?;
        let entries = st.len() as u64;
        let step = if entries <= ITER_CHUNK { u64::MAX } else { (u64::MAX / entries).saturating_mul(ITER_CHUNK) };
        let hi = self.lo.saturating_add(step);
        let (buf, spans) = (&mut self.buf, &mut self.spans);
        let now = inner.policy.clock.now_ns();
        st.table.for_each_in_tag_range(self.lo, hi, |slot| {
            // SAFETY: occupied slots point to live records, unchanged while we hold the lock.
            let deadline = unsafe { crate::arena::record_deadline(slot.rec) };
            if deadline != 0 && deadline <= now {
                return; // expired: absent from that instant
            }
            // SAFETY: as above.
            let (k, v) = unsafe { (crate::arena::record_key(slot.rec), crate::arena::record_value(slot.rec)) };
            spans.push((buf.len(), k.len(), v.len()));
            buf.extend_from_slice(k);
            buf.extend_from_slice(v);
        });
        st.release_fair();
        if hi == u64::MAX {
            self.shard += 1;
            self.lo = 0;
        } else {
            self.lo = hi + 1;
        }
        Ok(())
    }
}

impl Iterator for Iter {
    type Item = Result<(Vec<u8>, Vec<u8>)>;

    fn next(&mut self) -> Option<Self::Item> {
        match self.next_entry() {
            Ok(Some((k, v))) => Some(Ok((k.to_vec(), v.to_vec()))),
            Ok(None) => None,
            Err(e) => {
                self.done = true;
                self.spans.clear();
                Some(Err(e))
            }
        }
    }
}
