//! The one small trait every engine implements, the operations it is given,
//! and the list of engines a run can pick from.
//!
//! A new peer is one type with [`Engine::execute`] (a `match` over [`Op`]),
//! [`Engine::len`] and [`Engine::for_each`], plus a line in [`EngineKind`].

use crate::ceiling::CeilingEngine;
use crate::ceiling_inline::CeilingInlineEngine;
use crate::numashard_engine::NumashardEngine;
use crate::peers::{DashMapEngine, PapayaEngine, SccEngine, ShardedRwLockEngine};
use crate::workload::Workload;
use numashard::{ExecMode, Status};
use std::fmt;
use std::str::FromStr;

/// One operation, borrowing its bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op<'a> {
    /// Copy the value into the output buffer.
    Get(&'a [u8]),
    /// Insert or overwrite.
    Put(&'a [u8], &'a [u8]),
    /// Insert only if absent (`Exists` otherwise).
    PutIfAbsent(&'a [u8], &'a [u8]),
    /// Remove (`NotFound` if absent).
    Delete(&'a [u8]),
    /// Remove and copy the old value into the output buffer.
    Take(&'a [u8]),
    /// Replace the value only if it equals `expected`.
    Cas {
        /// The key.
        key: &'a [u8],
        /// The value the entry must hold.
        expected: &'a [u8],
        /// The new value.
        value: &'a [u8],
    },
    /// Add to an 8-byte little-endian counter (absent = 0); the reply carries the new value.
    Add(&'a [u8], i64),
}

/// What an operation returned.
///
/// Statuses follow numashard's: `Ok`, `NotFound`, `Exists` (put_if_absent),
/// `Mismatch` (cas), `NotACounter` (add on a value that is not 8 bytes).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Reply {
    /// The outcome.
    pub status: Status,
    /// Get/take: the value's length (the value is in the output buffer).
    pub len: usize,
    /// Add: the counter's new value.
    pub counter: i64,
}

impl Reply {
    /// A reply with only a status.
    pub const fn status(status: Status) -> Reply {
        Reply { status, len: 0, counter: 0 }
    }

    /// A successful get/take of `len` bytes.
    pub const fn value(len: usize) -> Reply {
        Reply { status: Status::Ok, len, counter: 0 }
    }

    /// A successful add.
    pub const fn counter(counter: i64) -> Reply {
        Reply { status: Status::Ok, len: 0, counter }
    }
}

impl Default for Reply {
    fn default() -> Reply {
        Reply::status(Status::Ok)
    }
}

/// The shared arithmetic of `add` for engines that store counters as plain values:
/// the new value of `current` (absent = 0) plus `delta`, or `None` when
/// `current` is not an 8-byte counter.
pub fn add_counter(current: Option<&[u8]>, delta: i64) -> Option<i64> {
    match current {
        None => Some(delta),
        Some(v) => Some(i64::from_le_bytes(v.try_into().ok()?).wrapping_add(delta)),
    }
}

/// A concurrent byte-string map under test.
///
/// Contract: output buffers passed to `execute` are at least as large as any
/// value the run stores, so get and take always copy the whole value.
pub trait Engine: Send + Sync {
    /// Runs one operation; get/take copy the value into `out`.
    fn execute(&self, op: &Op<'_>, out: &mut [u8]) -> Reply;

    /// Runs a batch; op `i` uses `outs[i * stride..(i + 1) * stride]` as its
    /// output buffer. Engines without a batch call run the ops one by one,
    /// which is what their users do.
    fn execute_batch(&self, ops: &[Op<'_>], outs: &mut [u8], stride: usize, replies: &mut [Reply]) {
        for ((op, out), reply) in ops.iter().zip(outs.chunks_mut(stride)).zip(replies.iter_mut()) {
            *reply = self.execute(op, out);
        }
    }

    /// Number of entries.
    fn len(&self) -> u64;

    /// True when empty.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Calls `f` on every entry (not under concurrent writes).
    fn for_each(&self, f: &mut dyn FnMut(&[u8], &[u8]));

    /// Bytes the engine holds outside the global allocator (numashard's
    /// mmap'ed shards), if any.
    fn mapped_bytes(&self) -> Option<u64> {
        None
    }

    /// The longest hold of a shard's lock to double its index, in
    /// nanoseconds (numashard's `grow_hold_max_ns`; `None` for engines
    /// that do not say).
    fn grow_hold_max_ns(&self) -> Option<u64> {
        None
    }

    /// A description of where the engine placed itself (numashard's shards), if it knows.
    fn placement(&self) -> Option<serde_json::Value> {
        None
    }
}

/// The engines a run can compare.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum EngineKind {
    /// numashard with `ExecMode::Auto` (the default).
    Numashard,
    /// numashard with `ExecMode::Delegate`: every op travels to the shard's owner.
    NumashardDelegate,
    /// numashard (`Auto`) with four shards per shard it would otherwise have
    /// (per allowed CPU by default): for comparing shard counts in one run.
    NumashardX4,
    /// numashard (`Auto`) sized for the table's entries with its small
    /// records placed by hash (`Config::place_records_by_hash`).
    NumashardPlaced,
    /// `dashmap::DashMap`.
    DashMap,
    /// `scc::HashMap`.
    Scc,
    /// `papaya::HashMap`.
    Papaya,
    /// 16 `std::sync::RwLock<std::collections::HashMap>` shards.
    RwLock16,
    /// Not a map: the memory system's limit for gets in the probe's layout
    /// with no concurrency control ([`CeilingEngine`]); read-only rows only.
    Ceiling,
    /// Not a map: the ceiling with entries of up to 48 bytes of key and value
    /// inline in its index ([`CeilingInlineEngine`]), what an engine redesign
    /// could at best gain; read-only rows only.
    CeilingInline,
}

impl EngineKind {
    /// Every map, numashard variants first (the ceilings, which are not maps, apart).
    pub const ALL: [EngineKind; 8] = [
        EngineKind::Numashard,
        EngineKind::NumashardDelegate,
        EngineKind::NumashardX4,
        EngineKind::NumashardPlaced,
        EngineKind::DashMap,
        EngineKind::Scc,
        EngineKind::Papaya,
        EngineKind::RwLock16,
    ];

    /// Every name the command line accepts: the maps, then the ceilings.
    pub fn choices() -> impl Iterator<Item = EngineKind> {
        EngineKind::ALL.into_iter().chain([EngineKind::Ceiling, EngineKind::CeilingInline])
    }

    /// True for the ceilings: layouts without concurrency control, not maps.
    pub fn is_ceiling(self) -> bool {
        matches!(self, EngineKind::Ceiling | EngineKind::CeilingInline)
    }

    /// Name used on the command line, in tables and in JSON.
    pub fn name(self) -> &'static str {
        match self {
            EngineKind::Numashard => "numashard",
            EngineKind::NumashardDelegate => "numashard-delegate",
            EngineKind::NumashardX4 => "numashard-x4",
            EngineKind::NumashardPlaced => "numashard-placed",
            EngineKind::DashMap => "dashmap",
            EngineKind::Scc => "scc",
            EngineKind::Papaya => "papaya",
            EngineKind::RwLock16 => "rwlock16",
            EngineKind::Ceiling => "ceiling",
            EngineKind::CeilingInline => "ceiling-inline",
        }
    }

    /// True for the engines numashard is compared against.
    pub fn is_peer(self) -> bool {
        !self.is_ceiling()
            && !matches!(
                self,
                EngineKind::Numashard
                    | EngineKind::NumashardDelegate
                    | EngineKind::NumashardX4
                    | EngineKind::NumashardPlaced
            )
    }

    /// True when the engine can run `workload` (the ceilings only read).
    pub fn supports(self, workload: Workload) -> bool {
        !self.is_ceiling() || workload.only_reads()
    }

    /// A new, empty engine for a table of `entries`: sized for them with
    /// `presize`, or when sizing is what the engine is about (`numashard-placed`).
    pub fn build_for_table(
        self,
        entries: usize,
        presize: bool,
        numashard_shards: usize,
    ) -> numashard::Result<Box<dyn Engine>> {
        self.build(if presize || self == EngineKind::NumashardPlaced { entries } else { 0 }, numashard_shards)
    }

    /// A new, empty engine sized for about `capacity` entries.
    pub fn build(self, capacity: usize, numashard_shards: usize) -> numashard::Result<Box<dyn Engine>> {
        Ok(match self {
            EngineKind::Numashard => {
                Box::new(NumashardEngine::with_capacity(ExecMode::Auto, numashard_shards, capacity)?)
            }
            EngineKind::NumashardDelegate => {
                Box::new(NumashardEngine::with_capacity(ExecMode::Delegate, numashard_shards, capacity)?)
            }
            EngineKind::NumashardX4 => {
                let base = if numashard_shards == 0 {
                    numashard::placement::allowed_cpus().len().max(1)
                } else {
                    numashard_shards
                };
                Box::new(NumashardEngine::with_capacity(ExecMode::Auto, 4 * base, capacity)?)
            }
            EngineKind::NumashardPlaced => Box::new(NumashardEngine::placed(numashard_shards, capacity.max(1))?),
            EngineKind::DashMap => Box::new(DashMapEngine::with_capacity(capacity)),
            EngineKind::Scc => Box::new(SccEngine::with_capacity(capacity)),
            EngineKind::Papaya => Box::new(PapayaEngine::with_capacity(capacity)),
            EngineKind::RwLock16 => Box::new(ShardedRwLockEngine::with_capacity(capacity)),
            EngineKind::Ceiling => Box::new(CeilingEngine::new()),
            EngineKind::CeilingInline => Box::new(CeilingInlineEngine::new()),
        })
    }
}

impl fmt::Display for EngineKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for EngineKind {
    type Err = String;

    fn from_str(s: &str) -> Result<EngineKind, String> {
        EngineKind::choices().find(|k| k.name() == s).ok_or_else(|| {
            let names: Vec<&str> = EngineKind::choices().map(|k| k.name()).collect();
            format!("unknown engine {s:?} (one of {})", names.join(", "))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ceilings_are_named_read_only_and_no_peers() {
        for (name, kind) in [("ceiling", EngineKind::Ceiling), ("ceiling-inline", EngineKind::CeilingInline)] {
            assert_eq!(name.parse::<EngineKind>(), Ok(kind));
            assert!(!kind.is_peer() && !crate::report::is_peer(name));
            assert!(kind.supports(Workload::ReadOnly) && kind.supports(Workload::ReadAbsent));
            assert!(!kind.supports(Workload::Read95));
        }
        assert!(EngineKind::DashMap.is_peer() && crate::report::is_peer("dashmap"));
    }
}
