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

/// Places the calling thread for work on shard `s` of the map: free to run
/// on any allowed CPU of the shard's node (not pinned to the owner's one
/// CPU, so a busy CPU does not hold the work up), with its memory policy on
/// the shard's memory node. Nothing on a topology that is not this machine.
pub(crate) fn run_near_shard(inner: &crate::map::Inner, s: usize) {
    if !inner.topology.is_this_system {
        return;
    }
    let p = inner.shards[s].placement;
    let allowed = crate::placement::allowed_cpus();
    let cpus: Vec<u32> = inner
        .topology
        .nodes
        .iter()
        .find(|n| n.os_index == p.node)
        .map(|n| n.cpus.iter().copied().filter(|c| allowed.contains(c)).collect())
        .unwrap_or_default();
    // SAFETY: a zeroed cpu_set_t is a valid empty set; CPU_SET is only
    // called with CPUs below CPU_SETSIZE; sched_setaffinity reads the set we
    // pass and changes only the calling thread.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        let mut any = false;
        for &c in cpus.iter().filter(|&&c| (c as usize) < libc::CPU_SETSIZE as usize) {
            libc::CPU_SET(c as usize, &mut set);
            any = true;
        }
        if any {
            libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set);
        }
    }
    crate::numa::bind_thread_memory(p.memory_node);
}

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
/// whose deadline has passed are skipped (`Ok`, nothing stored); a key
/// already loaded is `SnapshotCorrupt` (unless its first copy is gone: a
/// cache that evicted it, or expired meanwhile, cannot tell).
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
        Some(deadline) => st.insert_loaded(budget, hash, key, value, deadline),
        None => Status::Ok,
    }
}

#[cfg(test)]
mod tests;
