//! Creating a map (topology, placement, shards, owner threads — started at
//! once or on first need, see [`OwnerLife`]) and closing it.

use super::{Inner, Map};
use crate::batch::duration_ns;
use crate::cache::Policy;
use crate::config::{Config, Eviction, ExecMode};
use crate::error::{Error, Result, Status};
use crate::gate::Gate;
use crate::numa;
use crate::placement;
use crate::routing::{KeyHasher, Msg};
use crate::shard::{owner_loop, Budget, OwnerLife, Shard, ShardState};
use crate::table;
use crate::topology::{Topology, TopologySource};
use crossbeam_channel::Sender;
use std::sync::atomic::{AtomicU64, AtomicU8, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

const OPEN: u8 = 0;
const CLOSING: u8 = 1;
const CLOSED: u8 = 2;

fn possible_cpus() -> usize {
    // SAFETY: sysconf has no memory-safety preconditions.
    let n = unsafe { libc::sysconf(libc::_SC_NPROCESSORS_CONF) };
    if n > 0 {
        n as usize
    } else {
        1
    }
}

/// `initial_capacity`, capped by a memory limit at the most entries the
/// limit can hold (each costs at least its slot and the smallest record).
fn hinted_capacity(cfg: &Config) -> usize {
    if cfg.memory_limit == 0 {
        return cfg.initial_capacity;
    }
    let most = cfg.memory_limit / crate::shard::min_entry_cost();
    cfg.initial_capacity.min(usize::try_from(most).unwrap_or(usize::MAX))
}

/// The log2 index size of each of `shards` shards for `capacity` entries in
/// all: its share, plus four standard deviations of how unevenly routing
/// spreads keys, so that no shard doubles before the map holds `capacity`.
/// 0 (no floor) without a hint.
fn index_floor_bits(capacity: usize, shards: usize) -> u32 {
    if capacity == 0 {
        return 0;
    }
    let share = capacity.div_ceil(shards.max(1));
    table::bits_for(share + 4 * (share as f64).sqrt() as usize + 1)
}

/// The log2 count of each of `shards` shards' home lines for `capacity`
/// entries in all (`Config::place_records_by_hash`): the power of two
/// nearest its share. Each record takes the first free of two lines, so
/// with 0.7-1.4 records per line about 83-61% of them find one
/// (`arena::Home`); a region twice as large would cost 64 bytes more per
/// line for a few points more.
fn home_bits(capacity: usize, shards: usize) -> u32 {
    let share = capacity.div_ceil(shards.max(1)).max(2) as f64;
    share.log2().round().clamp(1.0, 40.0) as u32
}

impl Map {
    /// Creates a map: loads the topology (once per process, see
    /// `load_topology`), plans the placement and creates every shard in
    /// memory bound to its node. Each shard has a pinned owner thread. With
    /// `ExecMode::Delegate` (or `batch_delegate_min > 0`) the owners start
    /// now and allocate their shards themselves; in the default mode an
    /// owner starts on first need (retired memory to reclaim, entries to
    /// expire, a `replace_all` to build, an index to grow), so that opening a map starts no
    /// thread and costs well under a millisecond.
    pub fn new(cfg: Config) -> Result<Map> {
        cfg.check()?;
        let source = TopologySource::from_config(&cfg);
        let topology = load_topology(&source)?;
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
            index_floor_bits: index_floor_bits(hinted_capacity(&cfg), plan.len()),
            home_bits: if cfg.place_records_by_hash { home_bits(cfg.initial_capacity, plan.len()) } else { 0 },
        };
        let shards: Box<[Shard]> = plan
            .iter()
            .map(|p| {
                let (txs, rxs): (Vec<_>, Vec<_>) = (0..slots).map(|_| crossbeam_channel::unbounded()).unzip();
                Shard::new(*p, txs.into_boxed_slice(), rxs, &policy)
            })
            .collect();
        let owner_spin = Duration::from_micros(cfg.worker_spin_us.unwrap_or(if plan.len() >= allowed.len().max(1) {
            0
        } else {
            20
        }));
        // Modes that send work to the owners need them from the start.
        let eager = cfg.exec_mode == ExecMode::Delegate || cfg.batch_delegate_min > 0;
        let inner = Arc::new(Inner {
            hasher: KeyHasher::new(cfg.hash_seed),
            // With eviction the shards keep their own shares of the limit.
            budget: Budget::new(if evicting { 0 } else { cfg.memory_limit }),
            // Shared stripes: one per CPU, and at least 64, so that direct
            // readers (`direct.rs`), which pick one at random, rarely share.
            gate: Gate::new(slots.max(64)),
            cfg,
            shards,
            topology,
            lifecycle: AtomicU8::new(OPEN),
            owners: Mutex::new(Vec::new()),
            owner_spin,
            replace_lock: Mutex::new(()),
            replace_stall_max_ns: AtomicU64::new(0),
            replace_count: AtomicU64::new(0),
            policy,
        });
        let map = Map { inner };
        let started = if eager { start_owners_now(&map.inner) } else { prepare_lazy_owners(&map.inner) };
        if let Err(e) = started {
            let _ = map.close();
            return Err(e);
        }
        Ok(map)
    }

    /// Creates a map with the default configuration.
    pub fn with_defaults() -> Result<Map> {
        Map::new(Config::default())
    }

    /// Drains queued work, stops and joins the owner threads, frees every
    /// shard. Calls racing it finish or return `Closed`; later calls return
    /// `Closed`. Returns `Closed` if the map was already closed (by this or a
    /// racing call, which this one waits for).
    pub fn close(&self) -> Result<()> {
        self.inner.close()
    }
}

/// Starts every owner and waits until each has created its shard: pinned
/// first, then its memory policy set, then the shard allocated, so that the
/// shard's own structures are on its node.
fn start_owners_now(inner: &Arc<Inner>) -> Result<()> {
    let (ready_tx, ready_rx) = crossbeam_channel::unbounded::<Result<()>>();
    for (i, shard) in inner.shards.iter().enumerate() {
        let mut life = shard.owner_life.lock().unwrap_or_else(|e| e.into_inner());
        match spawn_owner(inner.clone(), i, true, ready_tx.clone()) {
            Ok(h) => {
                inner.owners.lock().unwrap_or_else(|e| e.into_inner()).push(h);
                *life = OwnerLife::Running;
            }
            Err(e) => {
                let _ = ready_tx.send(Err(e));
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
    failure.map_or(Ok(()), Err)
}

/// Creates every shard on this thread (its slots and records still in
/// memory bound to its node) and leaves its owner to start on first need:
/// opening such a map starts no thread.
fn prepare_lazy_owners(inner: &Arc<Inner>) -> Result<()> {
    let real = inner.topology.is_this_system;
    for (i, shard) in inner.shards.iter().enumerate() {
        let node = real.then_some(shard.placement.memory_node);
        shard.install(ShardState::new(node, &inner.policy, shard.counters.clone())?);
        // Weak: a shard must not keep its own map alive.
        let weak = Arc::downgrade(inner);
        shard.start_lazily(Box::new(move || weak.upgrade().map_or(Ok(()), |inner| start_owner(&inner, i))));
    }
    Ok(())
}

/// Starts shard `i`'s owner unless it runs already or the map closed.
fn start_owner(inner: &Arc<Inner>, i: usize) -> Result<()> {
    let shard = &inner.shards[i];
    let mut life = shard.owner_life.lock().unwrap_or_else(|e| e.into_inner());
    if *life != OwnerLife::NotStarted {
        return Ok(());
    }
    let (ready_tx, ready_rx) = crossbeam_channel::bounded::<Result<()>>(1);
    let handle = spawn_owner(inner.clone(), i, false, ready_tx)?;
    inner.owners.lock().unwrap_or_else(|e| e.into_inner()).push(handle);
    *life = OwnerLife::Running;
    shard.owner_settled();
    // Until it has pinned itself and set its memory policy (a few tens of
    // microseconds, once per shard): stats taken after this call see it bound.
    let _ = ready_rx.recv();
    Ok(())
}

/// Spawns shard `i`'s owner thread: it pins itself to the shard's CPU and
/// sets its memory policy to the shard's node (on this machine's topology),
/// creates and installs the shard when `create`, reports on `ready`, and
/// runs the owner loop until the map closes.
fn spawn_owner(inner: Arc<Inner>, i: usize, create: bool, ready: Sender<Result<()>>) -> Result<JoinHandle<()>> {
    std::thread::Builder::new()
        .name(format!("numashard-{i}"))
        .spawn(move || {
            let shard = &inner.shards[i];
            let _ = shard.owner.set(std::thread::current());
            let p = shard.placement;
            let real = inner.topology.is_this_system;
            if real {
                shard.pinned.store(numa::pin_thread(p.cpu), Ordering::Relaxed);
                shard.memory_bound.store(numa::bind_thread_memory(p.memory_node), Ordering::Relaxed);
            }
            let _ = ready.send(if create {
                ShardState::new(real.then_some(p.memory_node), &inner.policy, shard.counters.clone())
                    .map(|st| shard.install(st))
            } else {
                Ok(())
            });
            let rxs = shard.receivers.lock().unwrap_or_else(|e| e.into_inner()).take().unwrap_or_default();
            owner_loop(shard, &inner.budget, &inner.gate, rxs, inner.owner_spin);
        })
        .map_err(|e| Error::with_detail(Status::Resource, format!("spawning shard thread: {e}")))
}

/// The topology of `source`, loaded once per process for the running
/// machine and for each synthetic description (the ones used last are
/// kept): discovering the machine through hwloc takes milliseconds, most of
/// what opening a map cost. An XML file is read again every time. The CPUs
/// the process may use are not part of it: placement asks for them anew.
fn load_topology(source: &TopologySource) -> Result<Topology> {
    const KEPT: usize = 8;
    static LOADED: Mutex<Vec<Topology>> = Mutex::new(Vec::new());
    if matches!(source, TopologySource::Xml(_)) {
        return Topology::load(source);
    }
    let found = LOADED.lock().unwrap_or_else(|e| e.into_inner()).iter().find(|t| t.source == *source).cloned();
    if let Some(t) = found {
        return Ok(t);
    }
    let t = Topology::load(source)?;
    let mut kept = LOADED.lock().unwrap_or_else(|e| e.into_inner());
    if !kept.iter().any(|k| k.source == *source) {
        if kept.len() == KEPT {
            kept.remove(0);
        }
        kept.push(t.clone());
    }
    Ok(t)
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
            let mut life = s.owner_life.lock().unwrap_or_else(|e| e.into_inner());
            if *life == OwnerLife::Running {
                s.send(0, Msg::Stop);
            }
            *life = OwnerLife::Closed;
            s.owner_settled();
        }
        let owners = std::mem::take(&mut *self.owners.lock().unwrap_or_else(|e| e.into_inner()));
        for h in owners {
            let _ = h.join();
        }
        for s in self.shards.iter() {
            drop(s.uninstall());
            // The owner's next index array, if it was building one.
            drop(s.growth.lock().take());
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
