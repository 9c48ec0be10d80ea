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

use crate::clock::Clock;
use crate::error::{Result, Status};
use crate::shard::{Budget, ShardState};
use std::path::Path;

/// Reads and checks the manifest of the snapshot in `dir` (its entry
/// count, shard layout, limits, generation), without loading it.
pub fn inspect(dir: impl AsRef<Path>) -> Result<Manifest> {
    format::read_manifest(dir.as_ref())
}

/// The expiry deadline of a record as the snapshot stores it: wall-clock
/// milliseconds since the Unix epoch (0 = never), converted from the map's
/// clock.
#[inline]
pub(crate) fn entry_deadline_unix_ms(clock: &Clock, record: *const u8) -> u64 {
    // SAFETY: the callers pass live records of a shard whose lock they hold.
    let deadline = unsafe { crate::arena::record_deadline(record) };
    clock.deadline_to_unix_ms(deadline)
}

/// Inserts one loaded entry into a shard being built, with its deadline
/// moved onto this map's clock (0 stays "never": the loading map's default
/// TTL is not applied to entries the snapshot says never expire). Entries
/// whose deadline has passed are skipped (`Ok`, nothing stored).
#[inline]
fn load_entry(
    st: &mut ShardState,
    budget: &Budget,
    hash: u64,
    key: &[u8],
    value: &[u8],
    deadline_unix_ms: u64,
) -> Status {
    match st.policy.clock.deadline_from_unix_ms(deadline_unix_ms) {
        Some(deadline) => st.put_with_deadline(budget, hash, key, value, deadline),
        None => Status::Ok,
    }
}

#[cfg(test)]
mod tests;
