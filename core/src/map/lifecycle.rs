//! Creating a map (topology, placement, one owner thread per shard) and closing it.

use super::MAX_SHARDS;
use super::{Inner, Map};
use crate::batch::duration_ns;
use crate::cache::Policy;
use crate::config::{Config, Eviction, MAX_LEN_CEILING};
use crate::error::{Error, Result, Status};
use crate::gate::Gate;
use crate::numa;
use crate::placement;
use crate::routing::{KeyHasher, Msg};
use crate::shard::{owner_loop, Budget, Shard, ShardState};
use crate::topology::{Topology, TopologySource};
use std::sync::atomic::{AtomicU64, AtomicU8, Ordering};
use std::sync::{Arc, Mutex};
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
