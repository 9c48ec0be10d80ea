//! numashard: a NUMA-aware, in-process, sharded key-value map.
//!
//! Shards are pinned to CPUs node by node, each with its memory bound to its
//! node and one worker thread that owns it. Keys are routed to shards by a
//! fixed seeded hash; operations reach a shard's table either through the
//! owner's per-CPU inbound channels or, when the owner is idle, by the caller
//! under the shard's ownership lock. See `DESIGN.md` in the repository.
#![warn(missing_docs, unsafe_op_in_unsafe_fn)]

pub mod clock;
pub mod config;
pub mod error;
pub mod numa;
pub mod placement;
pub mod topology;

mod arena;
mod atomic_bytes;
mod batch;
mod cache;
mod gate;
mod map;
mod routing;
mod shard;
pub mod snapshot;
pub mod stats;
mod table;

pub use batch::{BatchOp, OpKind, NO_EXPIRY};
pub use clock::Clock;
pub use config::{Config, Eviction, ExecMode};
pub use error::{Error, Result, Status};
pub use map::{CasOutcome, Iter, Map, MAX_SHARDS};
pub use snapshot::SaveReport;
pub use stats::{MapStats, ShardStats};
