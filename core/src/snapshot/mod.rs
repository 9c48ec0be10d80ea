//! Snapshots and warm restart: [`Map::save`](crate::Map::save) writes the
//! whole map, at one moment, into a directory — every shard in parallel by
//! a thread on its node, versioned and checksummed per block, crash-safe —
//! and [`Map::open_snapshot`](crate::Map::open_snapshot) builds a new map
//! from it, every shard in parallel on its node, into any shard count.
//!
//! - `format`: the files (layout documented there).
//! - `capture`: how a save keeps one moment while writers keep working.
//! - `save`, `load`: the two directions.

mod capture;
mod crc;
mod format;
mod load;
mod save;

pub(crate) use capture::{on_state_replaced, Capture};
pub use format::{Manifest, ShardFile, FORMAT_VERSION, MANIFEST};
pub use save::SaveReport;

use crate::error::{Result, Status};
use crate::shard::{Budget, ShardState};
use std::path::Path;

/// Reads and checks the manifest of the snapshot in `dir` (its entry
/// count, shard layout, limits, generation), without loading it.
pub fn inspect(dir: impl AsRef<Path>) -> Result<Manifest> {
    format::read_manifest(dir.as_ref())
}

/// The expiry deadline of a record, in ms since the Unix epoch (0 = never),
/// as the snapshot stores it. Records carry no deadline yet: cache mode
/// wires this to the record's deadline.
#[inline]
pub(crate) fn entry_deadline_unix_ms(_record: *const u8) -> u64 {
    0
}

/// Inserts one loaded entry into a shard being built. Entries whose
/// deadline has passed never reach here. Cache mode stores
/// `deadline_unix_ms` with the record here (0 = never expires).
#[inline]
fn load_entry(
    st: &mut ShardState,
    budget: &Budget,
    hash: u64,
    key: &[u8],
    value: &[u8],
    deadline_unix_ms: u64,
) -> Status {
    let _ = deadline_unix_ms;
    st.put(budget, hash, key, value)
}

#[cfg(test)]
mod tests;
