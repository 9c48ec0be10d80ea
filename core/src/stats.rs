//! Statistics: per-shard placement and counts, map totals, and their
//! rendering in the Prometheus text exposition format.

use std::fmt::Write as _;

/// One shard's placement and counters.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ShardStats {
    /// Shard index.
    pub shard: u32,
    /// NUMA node of the shard's CPU (OS index).
    pub node: u32,
    /// NUMA node its memory is bound to (differs from `node` only when misplaced on purpose).
    pub memory_node: u32,
    /// CPU the owner thread is pinned to (Linux CPU number).
    pub cpu: u32,
    /// Entries stored.
    pub entries: u64,
    /// Bytes the entries are charged (key, value, per-entry overhead).
    pub bytes: u64,
    /// Bytes of memory mapped for the shard: index, record chunks, and the
    /// index's next array while the owner builds it.
    pub mapped_bytes: u64,
    /// Operations applied under the shard's ownership: every write, every
    /// delegated or locked read. Lock-free reads (`ExecMode::Auto` gets) are
    /// not counted: counting them would make every read write shared memory.
    pub ops: u64,
    /// Most messages found queued at once by the owner.
    pub queue_high_water: u64,
    /// True only when the topology is this machine's, the owner is pinned to
    /// `cpu` (or has not started yet: it starts on first need in the default
    /// mode), and every region of the shard is bound to `memory_node`.
    pub binding_applied: bool,
    /// Resident pages of the shard's memory found on `memory_node` (asked of the kernel).
    pub pages_on_node: u64,
    /// Resident pages of the shard's memory.
    pub pages_total: u64,
    /// Reads that returned their key's value (counted with eviction or
    /// `record_stats`; a read into too small a buffer, which returns only
    /// the length, counts nothing: its retry with room is the hit).
    pub hits: u64,
    /// Reads that did not (absent or expired).
    pub misses: u64,
    /// Entries evicted to keep within the memory limit.
    pub evictions: u64,
    /// Entries removed because their time to live ran out.
    pub expirations: u64,
    /// Resident pages found off `memory_node` and moved there: a snapshot
    /// load checks each shard it builds before the map is returned. (Pages
    /// the kernel would not move are not counted; `pages_on_node` shows them.)
    pub pages_moved: u64,
    /// Slots of the shard's index: it doubles past 4/5 of them, and starts
    /// with room for the shard's share of `Config::initial_capacity`.
    pub index_slots: u64,
    /// Longest time, in nanoseconds, the shard's lock was held to double
    /// its index (writers of the shard waited that long at most for it):
    /// the end of the owner's copy for a large index, a writer's whole
    /// doubling for a small one or when the owner fell behind.
    pub grow_hold_max_ns: u64,
}

/// Map totals and every shard's stats.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MapStats {
    /// Number of shards.
    pub shards: u32,
    /// Entries in all shards.
    pub entries: u64,
    /// Bytes charged in all shards.
    pub bytes: u64,
    /// Bytes mapped in all shards.
    pub mapped_bytes: u64,
    /// Operations applied in all shards.
    pub ops: u64,
    /// The memory limit (0 = none).
    pub memory_limit: u64,
    /// True when every shard's binding was applied.
    pub binding_applied: bool,
    /// Longest time readers and writers were held off by a `replace_all` switch, in nanoseconds.
    pub replace_stall_max_ns: u64,
    /// Number of completed `replace_all` calls.
    pub replace_count: u64,
    /// Reads that returned their key's value, in all shards (see
    /// [`ShardStats::hits`]).
    pub hits: u64,
    /// Reads that did not, in all shards.
    pub misses: u64,
    /// Entries evicted, in all shards.
    pub evictions: u64,
    /// Entries expired, in all shards.
    pub expirations: u64,
    /// Per-shard stats.
    pub per_shard: Vec<ShardStats>,
}

impl MapStats {
    /// Renders the Prometheus text exposition format (version 0.0.4).
    pub fn to_prometheus(&self) -> String {
        let mut s = String::new();
        let gauge = |s: &mut String, name: &str, help: &str, kind: &str| {
            let _ = writeln!(s, "# HELP numashard_{name} {help}");
            let _ = writeln!(s, "# TYPE numashard_{name} {kind}");
        };
        gauge(&mut s, "shards", "Number of shards.", "gauge");
        let _ = writeln!(s, "numashard_shards {}", self.shards);
        gauge(&mut s, "memory_limit_bytes", "Configured memory limit (0 = none).", "gauge");
        let _ = writeln!(s, "numashard_memory_limit_bytes {}", self.memory_limit);
        gauge(&mut s, "replace_all_total", "Completed replace_all calls.", "counter");
        let _ = writeln!(s, "numashard_replace_all_total {}", self.replace_count);
        gauge(&mut s, "replace_all_stall_max_seconds", "Longest replace_all switch stall.", "gauge");
        let _ = writeln!(s, "numashard_replace_all_stall_max_seconds {:.9}", self.replace_stall_max_ns as f64 / 1e9);
        type Field = fn(&ShardStats) -> u64;
        let per: [(&str, &str, &str, Field); 15] = [
            ("entries", "Entries stored.", "gauge", |x| x.entries),
            ("bytes", "Bytes charged to entries.", "gauge", |x| x.bytes),
            ("mapped_bytes", "Bytes mapped for the shard.", "gauge", |x| x.mapped_bytes),
            ("ops_total", "Operations applied.", "counter", |x| x.ops),
            ("queue_high_water", "Most messages queued at once.", "gauge", |x| x.queue_high_water),
            ("binding_applied", "1 when CPU and memory binding are applied.", "gauge", |x| x.binding_applied as u64),
            ("pages_on_node", "Resident pages on the shard's memory node.", "gauge", |x| x.pages_on_node),
            ("pages_total", "Resident pages of the shard.", "gauge", |x| x.pages_total),
            ("pages_moved_total", "Resident pages found off the shard's node and moved there.", "counter", |x| {
                x.pages_moved
            }),
            ("index_slots", "Slots of the shard's index.", "gauge", |x| x.index_slots),
            ("grow_hold_max_ns", "Longest hold of the shard's lock to double its index, ns.", "gauge", |x| {
                x.grow_hold_max_ns
            }),
            ("hits_total", "Reads that found their key.", "counter", |x| x.hits),
            ("misses_total", "Reads that found no live entry.", "counter", |x| x.misses),
            ("evictions_total", "Entries evicted at the memory limit.", "counter", |x| x.evictions),
            ("expirations_total", "Entries removed when their TTL ran out.", "counter", |x| x.expirations),
        ];
        for (name, help, kind, f) in per {
            gauge(&mut s, &format!("shard_{name}"), help, kind);
            for x in &self.per_shard {
                let _ = writeln!(
                    s,
                    "numashard_shard_{name}{{shard=\"{}\",node=\"{}\",cpu=\"{}\"}} {}",
                    x.shard,
                    x.node,
                    x.cpu,
                    f(x)
                );
            }
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prometheus_lines_are_well_formed() {
        let st = MapStats {
            shards: 2,
            per_shard: vec![
                ShardStats { shard: 0, entries: 5, ..Default::default() },
                ShardStats { shard: 1, ..Default::default() },
            ],
            ..Default::default()
        };
        let text = st.to_prometheus();
        assert!(text.contains("numashard_shard_entries{shard=\"0\",node=\"0\",cpu=\"0\"} 5\n"));
        assert!(text.contains("# TYPE numashard_shard_evictions_total counter\n"));
        for line in text.lines() {
            if line.starts_with('#') {
                assert!(line.starts_with("# HELP numashard_") || line.starts_with("# TYPE numashard_"));
            } else {
                let (name, value) = line.rsplit_once(' ').unwrap();
                assert!(name.starts_with("numashard_"));
                value.parse::<f64>().unwrap();
            }
        }
    }
}
