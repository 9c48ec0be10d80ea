//! `replace_all`: the whole contents replaced at once (the "hot reload").

use super::Map;
use crate::batch::BatchOp;
use crate::error::{Error, Result, Status};
use crate::gate::Garbage;
use crate::numa;
use crate::routing::{shard_of, Msg, ReplySlot};
use crate::shard::{Budget, ShardState};
use std::sync::atomic::Ordering;
use std::time::Instant;

/// Entries a replace_all build step inserts before the owner looks at its channels again.
const BUILD_STEP: usize = 4096;

impl Map {
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
        for s in inner.shards.iter() {
            s.start_owner()?;
        }
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
                        let counters = inner.shards[s].counters.clone();
                        *out = Some(ShardState::with_capacity(node, &inner.policy, counters, part.len()));
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
                olds.push(Garbage::new(old));
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
}
