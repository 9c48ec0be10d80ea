//! Saving: every shard written in parallel by a thread on its node, at one
//! moment for the whole map (see `capture`), crash-safe on disk.

use super::capture::Capture;
use super::format::{
    self, io_error, BlockWriter, Manifest, ShardFile, FORMAT_VERSION, LOCK_FILE, MANIFEST, MANIFEST_TMP,
};
use crate::arena::{record_deadline, record_key, record_value};
use crate::error::{Error, Result, Status};
use crate::gate::Garbage;
use crate::map::{Inner, Map};
use crate::shard::ShardState;
use std::fs::File;
use std::os::fd::AsRawFd;
use std::path::Path;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Most entries the saver copies per hold of a shard's lock (a writer waits
/// at most one such chunk).
const SAVE_CHUNK: u64 = 1024;
/// Bytes a chunk aims to stay under (chunks shrink for large entries).
const SAVE_CHUNK_BYTES: u64 = 1 << 20;

/// What a save did.
#[derive(Clone, Debug)]
pub struct SaveReport {
    /// The snapshot's generation (names its data files).
    pub generation: u64,
    /// Entries written.
    pub entries: u64,
    /// Bytes written (manifest and data files).
    pub bytes: u64,
    /// Data files written (the map's shard count).
    pub shards: u32,
    /// Time from the call to the durable rename of the manifest.
    pub elapsed: Duration,
    /// How long every shard's lock was held to start the save (the moment).
    pub start_stall_ns: u64,
    /// The longest hold of one shard's lock by a saver copying a chunk.
    pub chunk_hold_max_ns: u64,
    /// Before-images writers logged because they changed a part not yet written.
    pub before_images: u64,
}

pub(crate) fn now_unix_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0)
}

/// The directory's exclusive save lock, released when dropped (or when the process dies).
struct DirLock(#[allow(dead_code)] File);

impl DirLock {
    fn take(dir: &Path) -> Result<DirLock> {
        let path = dir.join(LOCK_FILE);
        let f = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(|e| io_error(&path, "open", e))?;
        // SAFETY: flock on a descriptor we own; no memory is passed.
        if unsafe { libc::flock(f.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } != 0 {
            let e = std::io::Error::last_os_error();
            if e.raw_os_error() == Some(libc::EWOULDBLOCK) {
                return Err(Error::with_detail(
                    Status::SnapshotBusy,
                    format!("another process or map is saving into {}", dir.display()),
                ));
            }
            return Err(io_error(&path, "flock", e));
        }
        Ok(DirLock(f))
    }
}

/// Makes the directory's entries (creations, renames) durable.
fn sync_dir(dir: &Path) -> Result<()> {
    File::open(dir).and_then(|d| d.sync_all()).map_err(|e| io_error(dir, "fsync", e))
}

/// Ends the capture of every shard, whether the save succeeded or not, so
/// writers stop logging; frozen contents go to the grace period.
struct CaptureGuard<'a>(&'a Inner);

impl Drop for CaptureGuard<'_> {
    fn drop(&mut self) {
        let inner = self.0;
        for s in inner.shards.iter() {
            if let Ok(mut st) = s.lock() {
                if let Some(frozen) = st.capture.take().and_then(|c| c.frozen) {
                    drop(st);
                    inner.gate.retire(std::iter::once(Garbage::new(frozen)));
                    s.wake_owner();
                }
            }
        }
    }
}

impl Map {
    /// Saves the whole map into `dir` (created if needed) as a snapshot of
    /// one moment, and returns what was written.
    ///
    /// **Moment.** The snapshot holds exactly the writes that took effect
    /// before the save's start, on every shard: the start holds every
    /// shard's lock at once (like [`Map::replace_all`]'s switch), so it is a
    /// linearizable cut — if a write is in the snapshot, every write that
    /// finished before it began is too. Writers keep working during the
    /// save: the first change of a not-yet-written key logs its old state
    /// (once per key), and a writer waits at most for the start (every
    /// lock, microseconds) or one chunk copy of its shard
    /// ([`SaveReport::start_stall_ns`], [`SaveReport::chunk_hold_max_ns`]).
    /// The logged old states are not charged to the memory limit.
    ///
    /// **On disk.** Each shard is written by a thread pinned to the shard's
    /// CPU, into a file of the new generation under a temporary name,
    /// fsynced, renamed; then the manifest is written to a temporary name,
    /// fsynced and renamed over the old one, and the directory fsynced.
    /// Until that rename the previous snapshot is the one a load sees; a
    /// crash at any moment leaves one of the two, complete. Files of older
    /// generations are removed afterwards.
    ///
    /// Errors: `Io` (the detail names the file and the OS error, e.g. no
    /// space left; the previous snapshot stays), `SnapshotBusy` (another save
    /// into this map or directory), `SnapshotCorrupt` (the directory names
    /// generation 2^64-1, which has no next), `Closed`.
    pub fn save(&self, dir: impl AsRef<Path>) -> Result<SaveReport> {
        self.save_with(dir.as_ref(), &|_, _| {})
    }

    /// [`Map::save`], calling `between(shard, hi)` each time shard `shard`'s
    /// saver has written the hash range up to `hi` and released the lock
    /// (tests change the map there).
    pub(crate) fn save_with(&self, dir: &Path, between: &(dyn Fn(usize, u64) + Sync)) -> Result<SaveReport> {
        let t0 = Instant::now();
        let inner = &*self.inner;
        if inner.gate.is_closed() {
            return Err(Error::new(Status::Closed));
        }
        std::fs::create_dir_all(dir).map_err(|e| io_error(dir, "create", e))?;
        let _dir_lock = DirLock::take(dir)?;
        let previous = format::read_manifest(dir).ok();
        let generation = next_generation(dir, previous.as_ref())?;
        let created_unix_ms = now_unix_ms();
        let (start_stall_ns, _cleanup) = start_capture(inner)?;
        let result = write_shards(inner, dir, generation, between);
        drop(_cleanup);
        let written = match result {
            Ok(w) => w,
            Err(e) => {
                remove_generation(dir, generation);
                return Err(e);
            }
        };
        let manifest = Manifest {
            version: FORMAT_VERSION,
            generation,
            created_unix_ms,
            hash_seed: inner.cfg.hash_seed,
            entries: written.iter().map(|w| w.file.entries).sum(),
            max_key_len: inner.cfg.max_key_len as u32,
            max_value_len: inner.cfg.max_value_len as u32,
            longest_key: written.iter().map(|w| w.longest_key).max().unwrap_or(0),
            longest_value: written.iter().map(|w| w.longest_value).max().unwrap_or(0),
            shards: written.iter().map(|w| w.file).collect(),
        };
        if let Err(e) = publish_manifest(dir, &manifest) {
            remove_generation(dir, generation);
            return Err(e);
        }
        // The new snapshot is durable: older generations can go.
        remove_other_generations(dir, generation);
        Ok(SaveReport {
            generation,
            entries: manifest.entries,
            bytes: manifest.total_bytes(),
            shards: manifest.shards.len() as u32,
            elapsed: t0.elapsed(),
            start_stall_ns,
            chunk_hold_max_ns: written.iter().map(|w| w.hold_max_ns).max().unwrap_or(0),
            before_images: written.iter().map(|w| w.logged).sum(),
        })
    }
}

/// One past the highest generation in the directory (manifest or file names).
fn next_generation(dir: &Path, previous: Option<&Manifest>) -> Result<u64> {
    let mut gen = previous.map(|m| m.generation).unwrap_or(0);
    for e in std::fs::read_dir(dir).map_err(|e| io_error(dir, "list", e))?.flatten() {
        if let Some(g) = e.file_name().to_str().and_then(format::generation_of) {
            gen = gen.max(g);
        }
    }
    // Only a damaged or crafted directory names the last generation; the
    // next would wrap to 0 and could be renamed over a live file.
    gen.checked_add(1).ok_or_else(|| {
        Error::with_detail(Status::SnapshotCorrupt, format!("{} names generation 2^64-1: no next one", dir.display()))
    })
}

/// Installs a capture in every shard while holding every lock: the moment.
fn start_capture(inner: &Inner) -> Result<(u64, CaptureGuard<'_>)> {
    let _pass = inner.gate.enter().ok_or(Error::new(Status::Closed))?;
    let mut guards = Vec::with_capacity(inner.shards.len());
    let mut start = None;
    for s in inner.shards.iter() {
        guards.push(s.lock()?);
        start.get_or_insert_with(Instant::now);
    }
    if guards.iter().any(|g| g.capture.is_some()) {
        return Err(Error::with_detail(Status::SnapshotBusy, "another save of this map is in progress"));
    }
    for g in guards.iter_mut() {
        g.capture = Some(Box::new(Capture::new(inner.policy.clock.clone())));
    }
    drop(guards);
    let stall = start.map(|t| t.elapsed().as_nanos() as u64).unwrap_or(0);
    Ok((stall, CaptureGuard(inner)))
}

struct Written {
    file: ShardFile,
    longest_key: u32,
    longest_value: u32,
    hold_max_ns: u64,
    logged: u64,
}

/// Writes every shard's file in parallel, one thread per shard on its CPU.
fn write_shards(
    inner: &Inner,
    dir: &Path,
    generation: u64,
    between: &(dyn Fn(usize, u64) + Sync),
) -> Result<Vec<Written>> {
    let results: Vec<Result<Written>> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..inner.shards.len())
            .map(|s| {
                let spawned =
                    std::thread::Builder::new().name(format!("numashard-save-{s}")).spawn_scoped(scope, move || {
                        super::run_near_shard(inner, s);
                        write_shard(inner, dir, generation, s, between)
                    });
                spawned.map_err(|e| Error::with_detail(Status::Resource, format!("spawning a save thread: {e}")))
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.and_then(|h| h.join().unwrap_or_else(|_| Err(Error::new(Status::Panic)))))
            .collect()
    });
    results.into_iter().collect()
}

fn write_shard(
    inner: &Inner,
    dir: &Path,
    generation: u64,
    s: usize,
    between: &(dyn Fn(usize, u64) + Sync),
) -> Result<Written> {
    let name = format::data_file_name(generation, s);
    let tmp = dir.join(format!("{name}.tmp"));
    let mut w = BlockWriter::create(tmp.clone(), s as u32, generation)?;
    let shard = &inner.shards[s];
    let mut lo = 0u64;
    let mut hold_max_ns = 0u64;
    let mut logged;
    loop {
        let pass = inner.gate.enter().ok_or(Error::new(Status::Closed))?;
        let mut st = shard.lock()?;
        let t = Instant::now();
        let ShardState { table, capture, charged, .. } = &mut *st;
        let Some(cap) = capture.as_deref_mut() else {
            return Err(Error::with_detail(Status::Panic, "save capture vanished"));
        };
        let (src, bytes) = match &cap.frozen {
            Some(f) => (&f.table, f.charged),
            None => (&*table, *charged),
        };
        let entries = src.len() as u64;
        let per_chunk = (SAVE_CHUNK_BYTES / (bytes / entries.max(1)).max(1)).clamp(1, SAVE_CHUNK);
        let step = if entries <= per_chunk { u64::MAX } else { (u64::MAX / entries).saturating_mul(per_chunk) };
        let hi = lo.saturating_add(step);
        let any_logged = cap.log.range(lo..=hi).next().is_some();
        let clock = &inner.policy.clock;
        let now = clock.now_ns();
        src.for_each_in_tag_range(lo, hi, |slot| {
            // SAFETY: occupied slots point to live records (of the live or
            // the frozen arena), unchanged while we hold the lock.
            let key = unsafe { record_key(slot.rec) };
            if any_logged && cap.is_logged(slot.tag, key) {
                return; // its before-image is written below
            }
            // SAFETY: as above.
            let (value, deadline) = unsafe { (record_value(slot.rec), record_deadline(slot.rec)) };
            if deadline != 0 && deadline <= now {
                return; // expired at the moment: no reader could see it
            }
            w.add(key, value, clock.deadline_to_unix_ms(deadline));
        });
        if any_logged {
            let rest = if hi == u64::MAX { Default::default() } else { cap.log.split_off(&(hi + 1)) };
            for before in std::mem::replace(&mut cap.log, rest).into_values().flatten() {
                if let Some((value, deadline)) = &before.image {
                    w.add(&before.key, value, *deadline);
                }
            }
        }
        cap.saved_through = hi;
        logged = cap.logged;
        let frozen = if hi == u64::MAX { capture.take().and_then(|c| c.frozen) } else { None };
        hold_max_ns = hold_max_ns.max(t.elapsed().as_nanos() as u64);
        st.release_fair();
        if let Some(f) = frozen {
            inner.gate.retire(std::iter::once(Garbage::new(f)));
            shard.wake_owner();
        }
        drop(pass);
        between(s, hi);
        if hi == u64::MAX {
            break;
        }
        if w.block_full() {
            w.flush_block()?;
        }
        lo = hi + 1;
    }
    let (longest_key, longest_value) = (w.longest_key, w.longest_value);
    let file = w.finish()?;
    let path = dir.join(&name);
    std::fs::rename(&tmp, &path).map_err(|e| io_error(&path, "rename", e))?;
    Ok(Written { file, longest_key, longest_value, hold_max_ns, logged })
}

/// Writes the manifest under a temporary name, fsyncs it, renames it over
/// the current one and fsyncs the directory (data-file renames included).
fn publish_manifest(dir: &Path, m: &Manifest) -> Result<()> {
    sync_dir(dir)?;
    let tmp = dir.join(MANIFEST_TMP);
    let write = || -> std::io::Result<()> {
        let mut f = std::fs::OpenOptions::new().write(true).create(true).truncate(true).open(&tmp)?;
        std::io::Write::write_all(&mut f, &m.encode())?;
        f.sync_all()
    };
    write().map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        io_error(&tmp, "write", e)
    })?;
    let path = dir.join(MANIFEST);
    std::fs::rename(&tmp, &path).map_err(|e| io_error(&path, "rename", e))?;
    sync_dir(dir)
}

/// Removes a failed save's files (best effort: the manifest never named them).
fn remove_generation(dir: &Path, generation: u64) {
    let _ = std::fs::remove_file(dir.join(MANIFEST_TMP));
    remove_files(dir, |g| g == generation);
}

fn remove_other_generations(dir: &Path, keep: u64) {
    remove_files(dir, |g| g != keep);
    let _ = sync_dir(dir);
}

fn remove_files(dir: &Path, doomed: impl Fn(u64) -> bool) {
    let Ok(list) = std::fs::read_dir(dir) else { return };
    for e in list.flatten() {
        if e.file_name().to_str().and_then(format::generation_of).is_some_and(&doomed) {
            let _ = std::fs::remove_file(e.path());
        }
    }
}
