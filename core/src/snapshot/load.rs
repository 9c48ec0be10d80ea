//! Loading: a new map whose shards are built in parallel, each by a thread
//! on its node, from a snapshot of any shard count or hash seed.

use super::format::{self, BlockReader, Manifest};
use crate::config::Config;
use crate::error::{Error, Result, Status};
use crate::gate::Garbage;
use crate::map::{Inner, Map};
use crate::routing::shard_of;
use crate::shard::{Budget, ShardState};
use std::path::Path;

impl Map {
    /// Opens a new map configured by `cfg` holding the snapshot saved in
    /// `dir` (see [`Map::save`]).
    ///
    /// Each shard's part is built by a thread pinned to the shard's CPU, in
    /// the shard's node-bound memory (`stats()` shows where its pages are).
    /// The snapshot may come from a map with another shard count, topology
    /// or hash seed: entries are routed by this map's hash (a snapshot of the
    /// same shard count and seed is read file by file, each by its shard;
    /// otherwise every shard reads every file and keeps its own entries).
    /// Entries whose expiry deadline has passed are not loaded.
    ///
    /// Every block is checked before any of it is used, and the map is only
    /// returned once every shard is complete: on any error nothing is
    /// returned (the partly built map is closed and freed). Errors:
    /// `NoSnapshot`, `NotASnapshot` (foreign file), `SnapshotVersion`,
    /// `SnapshotCorrupt` (checksum, truncation, structure; the detail names
    /// the file and block), `Io`, `KeyTooLarge` / `ValueTooLarge` (the
    /// snapshot holds entries above `cfg`'s limits), `Full` (over
    /// `cfg.memory_limit`), and every error of [`Map::new`].
    pub fn open_snapshot(cfg: Config, dir: impl AsRef<Path>) -> Result<Map> {
        let dir = dir.as_ref();
        let manifest = format::read_manifest(dir)?;
        if manifest.longest_key as usize > cfg.max_key_len {
            return Err(Error::with_detail(
                Status::KeyTooLarge,
                format!("the snapshot holds {}-byte keys; max_key_len is {}", manifest.longest_key, cfg.max_key_len),
            ));
        }
        if manifest.longest_value as usize > cfg.max_value_len {
            return Err(Error::with_detail(
                Status::ValueTooLarge,
                format!(
                    "the snapshot holds {}-byte values; max_value_len is {}",
                    manifest.longest_value, cfg.max_value_len
                ),
            ));
        }
        let map = Map::new(cfg)?;
        match load_into(&map.inner, dir, &manifest) {
            Ok(()) => Ok(map),
            Err(e) => {
                let _ = map.close();
                Err(e)
            }
        }
    }
}

/// Builds every shard's state from the snapshot, then installs them all.
fn load_into(inner: &Inner, dir: &Path, manifest: &Manifest) -> Result<()> {
    let n = inner.shards.len();
    let same_layout = manifest.shards.len() == n && manifest.hash_seed == inner.cfg.hash_seed;
    let real = inner.topology.is_this_system;
    let now = super::save::now_unix_ms();
    let built: Vec<Result<ShardState>> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..n)
            .map(|s| {
                let spawned =
                    std::thread::Builder::new().name(format!("numashard-load-{s}")).spawn_scoped(scope, move || {
                        let p = inner.shards[s].placement;
                        super::run_near_shard(inner, s);
                        build_shard(inner, dir, manifest, s, same_layout, real.then_some(p.memory_node), now)
                    });
                spawned.map_err(|e| Error::with_detail(Status::Resource, format!("spawning a load thread: {e}")))
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.and_then(|h| h.join().unwrap_or_else(|_| Err(Error::new(Status::Panic)))))
            .collect()
    });
    let states: Vec<ShardState> = built.into_iter().collect::<Result<_>>()?;
    let total: u64 = states.iter().map(|st| st.charged).sum();
    if inner.budget.limit() != 0 && total > inner.budget.limit() {
        return Err(Error::with_detail(
            Status::Full,
            format!("the snapshot needs {total} bytes; memory_limit is {}", inner.budget.limit()),
        ));
    }
    let _pass = inner.gate.enter().ok_or(Error::new(Status::Closed))?;
    let mut olds = Vec::with_capacity(n);
    for (shard, st) in inner.shards.iter().zip(states) {
        let mut g = shard.lock()?;
        let s = g.begin_write();
        olds.push(Garbage::new(std::mem::replace(&mut *g, st)));
        g.end_write(&inner.gate, s);
        g.publish();
    }
    // The map was empty and unpublished: the new contents are all it holds.
    inner.budget.force_charge(total);
    inner.gate.retire(olds.into_iter());
    // The owners free the empty states after their grace period (starting
    // first where they start on first need).
    for shard in inner.shards.iter() {
        shard.wake_owner();
    }
    Ok(())
}

/// Builds shard `s` of the loading map from the files that hold its entries.
fn build_shard(
    inner: &Inner,
    dir: &Path,
    manifest: &Manifest,
    s: usize,
    same_layout: bool,
    node: Option<u32>,
    now_unix_ms: u64,
) -> Result<ShardState> {
    let n = inner.shards.len();
    let sources: Vec<usize> = if same_layout { vec![s] } else { (0..manifest.shards.len()).collect() };
    // The counts below size the index: they were bounded by the files'
    // lengths when the manifest was read, and those lengths are checked
    // now, before anything is sized (a lying count is found out only once
    // every entry was read).
    for &src in &sources {
        BlockReader::check_length(dir, manifest.generation, src, manifest.shards[src])?;
    }
    let expected = if same_layout {
        manifest.shards[s].entries
    } else {
        // Routing spreads keys evenly; a little room avoids a late doubling.
        let share = manifest.entries / n as u64;
        share.saturating_add(share / 16).saturating_add(64)
    };
    let expected = expected.min(usize::MAX as u64 / 2) as usize;
    let mut st = ShardState::with_capacity(node, &inner.policy, inner.shards[s].counters.clone(), expected)?;
    let unlimited = Budget::new(0);
    for src in sources {
        let mut reader = BlockReader::open(dir, manifest.generation, src, manifest.shards[src])?;
        let mut misrouted = false;
        while reader.next_block(|key, value, deadline| {
            if key.len() > inner.cfg.max_key_len || value.len() > inner.cfg.max_value_len {
                // The manifest's longest lengths were checked: a longer entry means damage.
                return Err(Error::with_detail(Status::SnapshotCorrupt, "an entry is longer than the manifest says"));
            }
            if deadline != 0 && deadline <= now_unix_ms {
                return Ok(()); // expired: not loaded
            }
            let hash = inner.hasher.hash(key);
            if shard_of(hash, n) != s {
                misrouted |= same_layout;
                return Ok(());
            }
            match super::load_entry(&mut st, &unlimited, hash, key, value, deadline) {
                Status::Ok => Ok(()),
                Status::SnapshotCorrupt => Err(Error::with_detail(
                    Status::SnapshotCorrupt,
                    format!("{}: a key appears twice", format::data_file_name(manifest.generation, src)),
                )),
                status => Err(Error::new(status)),
            }
        })? {}
        if misrouted {
            return Err(Error::with_detail(
                Status::SnapshotCorrupt,
                format!("{} holds entries of another shard", format::data_file_name(manifest.generation, src)),
            ));
        }
    }
    st.ops = 0;
    // Regions replaced while building were never published.
    st.garbage.clear();
    if node.is_some() {
        // The test guests once found up to 4% of a loaded shard's pages on
        // another node: transparent huge pages another load thread faulted
        // in a neighbouring mapping the fresh region had merged with
        // (NodeRegion::map, bench/numa-vm/README.md). Regions are now bound
        // before they can merge; should pages stray anyway, they are moved
        // to the node before anyone can read them, and stats count them.
        let moved = st.settle();
        inner.shards[s].counters.pages_moved.fetch_add(moved, std::sync::atomic::Ordering::Relaxed);
    }
    Ok(st)
}
