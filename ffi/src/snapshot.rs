//! Snapshots from C: save a map into a directory, open a new map from one.

use crate::boundary::{apart, buffer, guard, required, Outcome, Span};
use crate::config::{ns_config, read_config};
use crate::handle::ns_map;
use crate::status::ns_status;
use numashard::{Error, Map};
use std::ffi::{c_char, CStr, OsStr};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

/// What `ns_map_save` did.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct ns_save_report {
    /// The snapshot's generation (increases with every save into the directory).
    pub generation: u64,
    /// Entries written.
    pub entries: u64,
    /// Bytes written (manifest and data files).
    pub bytes: u64,
    /// Data files written (the map's shard count).
    pub shards: u32,
    /// Time from the call until the snapshot was durable, in nanoseconds.
    pub elapsed_ns: u64,
    /// How long every shard's lock was held to start the save (the snapshot's moment).
    pub start_stall_ns: u64,
    /// The longest hold of one shard's lock by a saver copying a chunk:
    /// with `start_stall_ns`, the longest a writer waited for the save.
    pub chunk_hold_max_ns: u64,
    /// Old states logged by writers that changed a part not yet written.
    pub before_images: u64,
}

/// A directory path C passed: NUL-terminated bytes, not empty.
///
/// # Safety
/// `p` must be NULL or a NUL-terminated string.
unsafe fn dir_path<'a>(p: *const c_char) -> Result<&'a Path, ns_status> {
    if p.is_null() {
        return Err(ns_status::NS_ERR_INVALID_ARGUMENT);
    }
    // SAFETY: the caller's contract.
    let bytes = unsafe { CStr::from_ptr(p) }.to_bytes();
    if bytes.is_empty() {
        return Err(ns_status::NS_ERR_INVALID_ARGUMENT);
    }
    Ok(Path::new(OsStr::from_bytes(bytes)))
}

/// Copies `text` into the message buffer, truncated to fit with its NUL.
fn put_message(msg: &mut [u8], text: &str) {
    if msg.is_empty() {
        return;
    }
    let n = text.len().min(msg.len() - 1);
    msg[..n].copy_from_slice(&text.as_bytes()[..n]);
    msg[n] = 0;
}

/// Runs a snapshot call: an engine error also leaves its message (which
/// names the file and the reason) in `msg`.
fn with_message(msg: &mut [u8], body: impl FnOnce() -> Result<(), Error>) -> Outcome {
    // A panic is caught here too (the boundary's guard would catch it, but
    // leave `msg` unwritten), so that every error has its reason.
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(body)) {
        Ok(Ok(())) => {
            put_message(msg, "");
            Ok(ns_status::NS_OK)
        }
        Ok(Err(e)) => {
            put_message(msg, &e.to_string());
            Err(e.into())
        }
        Err(_) => {
            put_message(msg, "internal error: a panic inside the library (a bug; please report it)");
            Err(ns_status::NS_ERR_PANIC)
        }
    }
}

/// Saves the whole map into the directory `dir` (created if needed) as a
/// snapshot of one moment: exactly the writes that took effect before the
/// call started, on every shard. Writers keep working meanwhile (a writer
/// waits at most for the start or one chunk copy; see the report). Each
/// shard is written in parallel by a thread on its CPU, to temporary names,
/// fsynced and renamed; the manifest is renamed over the previous one last,
/// so a crash at any moment leaves the previous snapshot or this one,
/// complete. Older files in `dir` are removed once this one is durable.
///
/// Ownership: `dir` and `msg` stay the caller's; nothing is allocated for
/// the caller.
///
/// # Safety
/// `m` must be NULL or a handle from `ns_map_new` / `ns_map_open_snapshot`;
/// `dir` NULL or a NUL-terminated path; `report` writable; `msg` must point
/// to `msg_cap` writable bytes (or be NULL with `msg_cap` 0).
///
/// Returns `NS_OK` (`*report` set; `msg`, if any room, an empty string),
/// `NS_ERR_INVALID_ARGUMENT` (`m`, `dir` or `report` NULL, `dir` empty,
/// `msg` NULL with `msg_cap` > 0, `msg` overlapping another argument),
/// `NS_ERR_IO` (e.g. no space left: the previous snapshot stays),
/// `NS_ERR_SNAPSHOT_BUSY` (another save into this map or directory),
/// `NS_ERR_SNAPSHOT_CORRUPT` (the directory names generation 2^64-1),
/// `NS_ERR_CLOSED`. On an error other than
/// `NS_ERR_INVALID_ARGUMENT`, `msg` receives the reason (truncated to fit,
/// NUL-terminated) and `*report` is untouched.
#[no_mangle]
pub unsafe extern "C" fn ns_map_save(
    m: *mut ns_map,
    dir: *const c_char,
    report: *mut ns_save_report,
    msg: *mut c_char,
    msg_cap: usize,
) -> ns_status {
    guard(|| -> Outcome {
        // SAFETY: the caller's contract.
        let map = unsafe { ns_map::get(m) }?;
        let dir_at = dir;
        // SAFETY: the caller's contract.
        let dir = unsafe { dir_path(dir) }?;
        let report = required(report)?;
        // `dir` (and its NUL) is borrowed while `msg` is written, and `report` written.
        let dir_span = Span::new(dir_at, dir.as_os_str().len() + 1);
        apart(Span::new(msg, msg_cap), &[dir_span, Span::of(report, 1)])?;
        // SAFETY: `msg` points to `msg_cap` writable bytes, or is NULL with `msg_cap` 0, by the
        // contract, and overlaps every other argument nowhere (checked); `buffer` rejects NULL
        // with a capacity.
        let msg = unsafe { buffer(msg.cast(), msg_cap) }?;
        with_message(msg, || {
            let r = map.save(dir)?;
            let out = ns_save_report {
                generation: r.generation,
                entries: r.entries,
                bytes: r.bytes,
                shards: r.shards,
                elapsed_ns: r.elapsed.as_nanos() as u64,
                start_stall_ns: r.start_stall_ns,
                chunk_hold_max_ns: r.chunk_hold_max_ns,
                before_images: r.before_images,
            };
            // SAFETY: checked non-NULL, writable by the caller's contract.
            unsafe { report.write(out) };
            Ok(())
        })
    })
}

/// Opens a new map configured by `cfg` holding the snapshot in `dir`. Each
/// shard is built in parallel by a thread on its CPU, in its node's memory.
/// The snapshot may come from a map with another shard count, topology or
/// hash seed (entries are re-routed). Entries whose expiry deadline has
/// passed are not loaded. Every block is checked (crc32c) before use; on any
/// error no map is returned.
///
/// Ownership: `*out` receives a new handle the caller owns and must release
/// with `ns_map_free`; `cfg`, `dir` and `msg` stay the caller's.
///
/// # Safety
/// `cfg` as in `ns_map_new`; `dir` NULL or a NUL-terminated path; `out`
/// writable; `msg` as in `ns_map_save`.
///
/// Returns `NS_OK` (`*out` set), `NS_ERR_INVALID_ARGUMENT` (`dir` or `out`
/// NULL, `dir` empty, bad config, `msg` overlapping `dir` or `out`),
/// `NS_ERR_NO_SNAPSHOT`, `NS_ERR_NOT_A_SNAPSHOT` (a foreign file), `NS_ERR_SNAPSHOT_VERSION`,
/// `NS_ERR_SNAPSHOT_CORRUPT` (checksum mismatch, truncation, bad structure),
/// `NS_ERR_IO`, `NS_ERR_KEY_TOO_LARGE` / `NS_ERR_VALUE_TOO_LARGE` (entries
/// above `cfg`'s limits), `NS_ERR_FULL` (over `cfg`'s memory limit), and
/// every status of `ns_map_new`. `*out` is written only on `NS_OK`; on an
/// error other than `NS_ERR_INVALID_ARGUMENT`, `msg` receives the reason.
#[no_mangle]
pub unsafe extern "C" fn ns_map_open_snapshot(
    cfg: *const ns_config,
    dir: *const c_char,
    out: *mut *mut ns_map,
    msg: *mut c_char,
    msg_cap: usize,
) -> ns_status {
    guard(|| -> Outcome {
        let out = required(out)?;
        let dir_at = dir;
        // SAFETY: the caller's contract.
        let dir = unsafe { dir_path(dir) }?;
        // SAFETY: the caller's contract.
        let cfg = unsafe { read_config(cfg) }?;
        // `dir` (and its NUL) is borrowed while `msg` is written, and `out` written.
        apart(Span::new(msg, msg_cap), &[Span::new(dir_at, dir.as_os_str().len() + 1), Span::of(out, 1)])?;
        // SAFETY: `msg` points to `msg_cap` writable bytes, or is NULL with `msg_cap` 0, by the
        // contract, and overlaps every other argument nowhere (checked); `buffer` rejects NULL
        // with a capacity.
        let msg = unsafe { buffer(msg.cast(), msg_cap) }?;
        with_message(msg, || {
            let map = Map::open_snapshot(cfg, dir)?;
            // SAFETY: checked non-NULL, writable by the caller's contract.
            unsafe { out.write(ns_map::register(map)) };
            Ok(())
        })
    })
}
