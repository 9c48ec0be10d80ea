//! numashard: a NUMA-aware, in-process, sharded key-value map.
//!
//! Keys and values are byte strings. A [`Map`] splits its keys over shards
//! by a fixed seeded hash; each shard belongs to a CPU, node by node, with
//! its memory bound to that CPU's NUMA node, and has an owner thread pinned
//! there (in the default mode started only when first needed). Every
//! method may be called from any number of threads at once: gets are served
//! without locks (a seqlock over the shard's table, with memory reclaimed
//! after a grace period), writes under the shard's ownership lock or by its
//! owner thread. The same engine is reachable from C (`include/numashard.h`),
//! Go and Java through the C ABI; `core/README.md` in the repository
//! describes the layout of this crate and the data path.
//!
//! ```
//! use numashard::{BatchOp, Config, Map, Status};
//!
//! # fn main() -> numashard::Result<()> {
//! // Two shards; `Config::default()` makes one per allowed CPU.
//! let map = Map::new(Config { shards: 2, ..Config::default() })?;
//!
//! // Single calls.
//! map.put(b"apple", b"red")?;
//! assert_eq!(map.get(b"apple")?, Some(b"red".to_vec()));
//! assert!(!map.put_if_absent(b"apple", b"green")?);
//! assert_eq!(map.add(b"visits", 3)?, 3); // an 8-byte counter
//! let mut buf = [0u8; 16];
//! assert_eq!(map.get_into(b"apple", &mut buf)?, Some(3));
//! assert_eq!(&buf[..3], b"red");
//! assert!(map.delete(b"visits")?);
//!
//! // A batch: any mix of operations, split by shard, one status per op.
//! let (mut out_a, mut out_b) = (Vec::new(), Vec::new());
//! let mut ops = [
//!     BatchOp::put(b"pear", b"yellow"),
//!     BatchOp::get_vec(b"apple", &mut out_a),
//!     BatchOp::get_vec(b"plum", &mut out_b),
//! ];
//! map.batch(&mut ops)?;
//! assert_eq!(ops[0].status, Status::Ok);
//! assert_eq!(ops[1].status, Status::Ok);
//! assert_eq!(ops[2].status, Status::NotFound);
//! drop(ops);
//! assert_eq!(out_a, b"red");
//!
//! // Iteration: every entry present throughout is seen exactly once.
//! let mut keys: Vec<Vec<u8>> = map.iter()?.map(|e| e.map(|(k, _)| k)).collect::<Result<_, _>>()?;
//! keys.sort();
//! assert_eq!(keys, [b"apple".to_vec(), b"pear".to_vec()]);
//!
//! // replace_all: the whole contents switch at once.
//! let fresh: [(&[u8], &[u8]); 2] = [(b"kiwi", b"green"), (b"fig", b"purple")];
//! map.replace_all(&fresh)?;
//! assert_eq!(map.len()?, 2);
//! assert_eq!(map.get(b"apple")?, None);
//! assert_eq!(map.get(b"kiwi")?, Some(b"green".to_vec()));
//!
//! map.close()?; // or drop it; later calls return `Status::Closed`
//! assert_eq!(map.get(b"kiwi").unwrap_err().status(), Status::Closed);
//! # Ok(())
//! # }
//! ```
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
mod seqlock;
mod shard;
pub mod snapshot;
pub mod stats;
mod sync;
mod table;
pub mod typed;

#[cfg(all(test, loom))]
mod loom_tests;

pub use batch::{BatchOp, OpKind, NO_EXPIRY};
pub use clock::Clock;
pub use config::{Config, Eviction, ExecMode};
pub use error::{Error, Result, Status};
pub use map::{CasOutcome, Iter, Map, MAX_SHARDS};
#[cfg(not(loom))]
pub use map::{DirectRead, DirectShard, DIRECT_READ_VERSION};
pub use snapshot::SaveReport;
pub use stats::{MapStats, ShardStats};
pub use typed::{Codec, Encode, Typed};
