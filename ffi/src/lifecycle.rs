//! Creating, closing and freeing a map; its shape (shards, topology);
//! whole-map operations (len, clear).

use crate::boundary::{guard, guard_void, required, write_text, Outcome};
use crate::config::{ns_config, read_config};
use crate::handle::ns_map;
use crate::status::ns_status;
use numashard::Map;
use std::ffi::c_char;
use std::fmt::Write as _;

/// Creates a map: loads the topology (once per process), plans the
/// placement, creates the shards. Each shard's pinned owner thread starts
/// now with `NS_EXEC_DELEGATE` (or `batch_delegate_min` > 0), otherwise on
/// first need, so that opening a map in the default mode starts no thread.
///
/// Ownership: `*out` receives a new handle the caller owns and must release
/// with `ns_map_free`; `cfg` (and the strings and arrays it points to) stays
/// the caller's and may be reused at once.
///
/// # Safety
/// `cfg` must be NULL (defaults) or point to an `ns_config` set up by
/// `ns_config_init`; `out` must be writable.
///
/// Returns `NS_OK` (`*out` set), `NS_ERR_INVALID_ARGUMENT` (`out` NULL, bad
/// config: see `ns_config_check`), `NS_ERR_TOPOLOGY` (topology could not be
/// loaded, impossible placement), `NS_ERR_RESOURCE` (threads or memory
/// refused). `*out` is written only on `NS_OK`.
#[no_mangle]
pub unsafe extern "C" fn ns_map_new(cfg: *const ns_config, out: *mut *mut ns_map) -> ns_status {
    guard(|| -> Outcome {
        let out = required(out)?;
        // SAFETY: the caller's contract.
        let cfg = unsafe { read_config(cfg) }?;
        let map = Map::new(cfg)?;
        // SAFETY: checked non-NULL, writable by the caller's contract.
        unsafe { out.write(ns_map::register(map)) };
        Ok(ns_status::NS_OK)
    })
}

/// Closes a map: lets the calls in progress finish, drains queued work,
/// stops and joins the owner threads and frees every shard's memory. Every
/// later call on `m` (other than `ns_map_free`) returns `NS_ERR_CLOSED`.
/// May run concurrently with any other call on `m`, including another
/// `ns_map_close`, which waits until the map is closed.
///
/// Ownership: the handle stays the caller's; release it with `ns_map_free`.
///
/// # Safety
/// `m` must be NULL or a handle from `ns_map_new`.
///
/// Returns `NS_OK` (this call closed the map), `NS_ERR_CLOSED` (it was
/// already closed, or a racing close did it), `NS_ERR_INVALID_ARGUMENT` (`m` NULL).
#[no_mangle]
pub unsafe extern "C" fn ns_map_close(m: *mut ns_map) -> ns_status {
    guard(|| -> Outcome {
        // SAFETY: the caller's contract.
        let map = unsafe { ns_map::get(m) }?;
        map.close()?;
        Ok(ns_status::NS_OK)
    })
}

/// Closes the map if needed and releases it. Later calls on the same pointer
/// return `NS_ERR_CLOSED` (the small handle is kept, never reused), and a
/// second `ns_map_free` does nothing. Iterators of the map stay valid: they
/// answer `NS_ERR_CLOSED` and must still be freed with `ns_iter_free`.
///
/// Ownership: releases what `ns_map_new` returned.
///
/// # Safety
/// `m` must be NULL (a no-op) or a handle from `ns_map_new`, and this must be
/// the last call on `m`: no other call on `m` may run concurrently with it.
#[no_mangle]
pub unsafe extern "C" fn ns_map_free(m: *mut ns_map) {
    guard_void(|| {
        // SAFETY: the caller's contract.
        unsafe { ns_map::release(m) };
    })
}

/// The number of shards.
///
/// Ownership: nothing is allocated.
///
/// # Safety
/// `m` must be NULL or a handle from `ns_map_new`; `out` must be writable.
///
/// Returns `NS_OK` (`*out` set), `NS_ERR_INVALID_ARGUMENT` (`m` or `out`
/// NULL), `NS_ERR_CLOSED`.
#[no_mangle]
pub unsafe extern "C" fn ns_map_shard_count(m: *mut ns_map, out: *mut u32) -> ns_status {
    guard(|| -> Outcome {
        // SAFETY: the caller's contract.
        let map = unsafe { ns_map::get(m) }?;
        let out = required(out)?;
        if map.is_closed() {
            return Err(ns_status::NS_ERR_CLOSED);
        }
        // SAFETY: checked non-NULL, writable by the caller's contract.
        unsafe { out.write(map.shard_count() as u32) };
        Ok(ns_status::NS_OK)
    })
}

/// The shard `key` is routed to (0 ..= shard count - 1); its placement is in
/// `ns_shard_stats_get`.
///
/// Ownership: `key` stays the caller's.
///
/// # Safety
/// `m` as in `ns_map_shard_count`; `key` must point to `key_len` readable
/// bytes (or be NULL with `key_len` 0); `shard` must be writable.
///
/// Returns `NS_OK` (`*shard` set), `NS_ERR_INVALID_ARGUMENT`,
/// `NS_ERR_KEY_TOO_LARGE`, `NS_ERR_CLOSED`.
#[no_mangle]
pub unsafe extern "C" fn ns_shard_of_key(m: *mut ns_map, key: *const u8, key_len: usize, shard: *mut u32) -> ns_status {
    guard(|| -> Outcome {
        // SAFETY: the caller's contract.
        let map = unsafe { ns_map::get(m) }?;
        let shard = required(shard)?;
        // SAFETY: the caller's contract.
        let key = unsafe { crate::boundary::key(map, key, key_len) }?;
        if map.is_closed() {
            return Err(ns_status::NS_ERR_CLOSED);
        }
        // SAFETY: checked non-NULL, writable by the caller's contract.
        unsafe { shard.write(map.shard_of_key(key) as u32) };
        Ok(ns_status::NS_OK)
    })
}

/// The exact number of entries (every shard's count, each read at one moment).
///
/// Ownership: nothing is allocated.
///
/// # Safety
/// `m` must be NULL or a handle from `ns_map_new`; `out` must be writable.
///
/// Returns `NS_OK` (`*out` set), `NS_ERR_INVALID_ARGUMENT` (`m` or `out`
/// NULL), `NS_ERR_CLOSED`.
#[no_mangle]
pub unsafe extern "C" fn ns_len(m: *mut ns_map, out: *mut u64) -> ns_status {
    guard(|| -> Outcome {
        // SAFETY: the caller's contract.
        let map = unsafe { ns_map::get(m) }?;
        let out = required(out)?;
        let n = map.len()?;
        // SAFETY: checked non-NULL, writable by the caller's contract.
        unsafe { out.write(n) };
        Ok(ns_status::NS_OK)
    })
}

/// Removes every entry, shard by shard (not atomic across shards; use
/// `ns_replace_all` with no entries for an atomic empty switch).
///
/// Ownership: nothing is allocated.
///
/// # Safety
/// `m` must be NULL or a handle from `ns_map_new`.
///
/// Returns `NS_OK`, `NS_ERR_INVALID_ARGUMENT` (`m` NULL), `NS_ERR_CLOSED`.
#[no_mangle]
pub unsafe extern "C" fn ns_clear(m: *mut ns_map) -> ns_status {
    guard(|| -> Outcome {
        // SAFETY: the caller's contract.
        let map = unsafe { ns_map::get(m) }?;
        map.clear()?;
        Ok(ns_status::NS_OK)
    })
}

/// Describes the topology the map was placed on and where every shard lives,
/// as text: a first line like `system: 1 node; node0 cpus 0-1 (23.4 GiB)`,
/// then one line per shard, `shard 0: node 0 cpu 0 memory node 0`.
///
/// Ownership: `buf` stays the caller's; nothing is allocated for the caller.
///
/// # Safety
/// `m` must be NULL or a handle from `ns_map_new`; `buf` must point to `cap`
/// writable bytes (or be NULL with `cap` 0, a size query); `len` must be writable.
///
/// Returns `NS_OK` (text and a terminating NUL copied; `*len` = bytes
/// written, NUL included), `NS_BUFFER_TOO_SMALL` (`*len` = the size needed,
/// NUL included; `buf` untouched), `NS_ERR_INVALID_ARGUMENT` (`m` or `len`
/// NULL, `buf` NULL with `cap` > 0), `NS_ERR_CLOSED`.
#[no_mangle]
pub unsafe extern "C" fn ns_topology_describe(
    m: *mut ns_map,
    buf: *mut c_char,
    cap: usize,
    len: *mut usize,
) -> ns_status {
    guard(|| -> Outcome {
        // SAFETY: the caller's contract.
        let map = unsafe { ns_map::get(m) }?;
        required(len)?;
        if map.is_closed() {
            return Err(ns_status::NS_ERR_CLOSED);
        }
        let mut text = map.topology().describe();
        text.push('\n');
        for p in map.placements() {
            let _ = writeln!(text, "shard {}: node {} cpu {} memory node {}", p.shard, p.node, p.cpu, p.memory_node);
        }
        // SAFETY: the caller's contract.
        unsafe { write_text(&text, buf, cap, len) }
    })
}
