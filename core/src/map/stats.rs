//! Statistics: every shard's placement and counters, and their totals.

use super::Map;
use crate::error::{Error, Result, Status};
use crate::stats::{MapStats, ShardStats};
use std::sync::atomic::Ordering;

impl Map {
    fn shard_stats_locked(&self, i: usize) -> Result<ShardStats> {
        let inner = &*self.inner;
        let s = &inner.shards[i];
        let p = s.placement;
        let st = s.lock()?;
        // The index's next array while the owner builds it (the shard's
        // lock first, then the growth's, as everywhere).
        let growth = s.growth.lock();
        let next = growth.spare.as_ref().map(|sp| sp.table());
        let mut pages = st.page_nodes(p.memory_node);
        if let Some(t) = next {
            pages.add(t.page_nodes(p.memory_node));
        }
        let mapped_bytes = st.mapped_bytes() + next.map_or(0, |t| t.mapped_bytes());
        drop(growth);
        Ok(ShardStats {
            shard: i as u32,
            node: p.node,
            memory_node: p.memory_node,
            cpu: p.cpu,
            entries: st.len() as u64,
            bytes: st.charged,
            mapped_bytes: mapped_bytes as u64,
            ops: st.ops,
            queue_high_water: s.queue_high_water.load(Ordering::Relaxed),
            // An owner not started yet (it starts on first need) has no
            // binding to apply: the shard's memory is judged alone.
            binding_applied: inner.topology.is_this_system
                && (s.owner.get().is_none()
                    || (s.pinned.load(Ordering::Relaxed) && s.memory_bound.load(Ordering::Relaxed)))
                && st.bound(),
            pages_on_node: pages.on_node,
            pages_total: pages.total,
            hits: s.counters.hits_misses().0,
            misses: s.counters.hits_misses().1,
            evictions: s.counters.evictions.load(Ordering::Relaxed),
            expirations: s.counters.expirations.load(Ordering::Relaxed),
            pages_moved: s.counters.pages_moved.load(Ordering::Relaxed),
            index_slots: st.table.capacity() as u64,
            grow_hold_max_ns: s.counters.grow_hold_max_ns.load(Ordering::Relaxed),
        })
    }

    /// One shard's placement and counters (asks the kernel where its pages are).
    pub fn shard_stats(&self, shard: usize) -> Result<ShardStats> {
        // An argument error first, as every call reports them before `Closed`.
        if shard >= self.inner.shards.len() {
            return Err(Error::with_detail(Status::InvalidArgument, "shard index out of range"));
        }
        let _pass = self.enter()?;
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
}
