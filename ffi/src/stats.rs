//! Statistics: map totals, one shard's placement and counters, and the
//! Prometheus text rendering.

use crate::boundary::{guard, required, write_text, Outcome};
use crate::handle::ns_map;
use crate::status::ns_status;
use numashard::ShardStats;
use std::ffi::c_char;

/// Map totals.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct ns_stats {
    /// Number of shards.
    pub shards: u32,
    /// True when every shard's CPU and memory binding was applied (never
    /// claimed on a synthetic topology or where the kernel refused).
    pub binding_applied: bool,
    /// Entries in all shards.
    pub entries: u64,
    /// Bytes charged to entries (key, value, per-entry overhead) in all shards.
    pub bytes: u64,
    /// Bytes of memory mapped in all shards.
    pub mapped_bytes: u64,
    /// Operations applied in all shards.
    pub ops: u64,
    /// The memory limit (0 = none).
    pub memory_limit: u64,
    /// Longest time readers and writers were held off by an `ns_replace_all`
    /// switch, in nanoseconds.
    pub replace_stall_max_ns: u64,
    /// Number of completed `ns_replace_all` calls.
    pub replace_count: u64,
    /// Reads that returned their key's value (counted with eviction or
    /// `record_stats`; a read answered `NS_BUFFER_TOO_SMALL` counts nothing:
    /// its retry with room is the hit).
    pub hits: u64,
    /// Reads that found no live entry.
    pub misses: u64,
    /// Entries evicted to keep within the memory limit.
    pub evictions: u64,
    /// Entries removed because their time to live ran out.
    pub expirations: u64,
}

/// One shard's placement and counters.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct ns_shard_stats {
    /// Shard index.
    pub shard: u32,
    /// NUMA node of the shard's CPU (OS index).
    pub node: u32,
    /// NUMA node its memory is bound to (differs from `node` only when
    /// misplaced on purpose).
    pub memory_node: u32,
    /// CPU the owner thread is pinned to (Linux CPU number).
    pub cpu: u32,
    /// Entries stored.
    pub entries: u64,
    /// Bytes charged to entries.
    pub bytes: u64,
    /// Bytes of memory mapped for the shard.
    pub mapped_bytes: u64,
    /// Operations applied.
    pub ops: u64,
    /// Most messages found queued at once by the owner.
    pub queue_high_water: u64,
    /// Resident pages of the shard's memory found on `memory_node`.
    pub pages_on_node: u64,
    /// Resident pages of the shard's memory.
    pub pages_total: u64,
    /// True only when the topology is this machine's, the owner is pinned to
    /// `cpu` and all the shard's memory is bound to `memory_node`.
    pub binding_applied: bool,
    /// Reads that returned their key's value (counted with eviction or
    /// `record_stats`; a read answered `NS_BUFFER_TOO_SMALL` counts nothing:
    /// its retry with room is the hit).
    pub hits: u64,
    /// Reads that found no live entry.
    pub misses: u64,
    /// Entries evicted to keep within the memory limit.
    pub evictions: u64,
    /// Entries removed because their time to live ran out.
    pub expirations: u64,
    /// Resident pages found off `memory_node` and moved there (a snapshot
    /// load checks every shard it builds). Version 2 of this struct on:
    /// filled by `ns_shard_stats_get_sized` only.
    pub pages_moved: u64,
    /// Slots of the shard's index (it doubles past 4/5 of them). Version 2.
    pub index_slots: u64,
    /// Longest time, in nanoseconds, the shard's lock was held to double
    /// its index. Version 2.
    pub grow_hold_max_ns: u64,
}

/// `sizeof(ns_shard_stats)` of version 1, which ends at `expirations`: what
/// `ns_shard_stats_get` fills, so that a program compiled against that
/// header keeps working.
const SHARD_STATS_V1: usize = std::mem::offset_of!(ns_shard_stats, pages_moved);

impl From<&ShardStats> for ns_shard_stats {
    fn from(s: &ShardStats) -> ns_shard_stats {
        ns_shard_stats {
            shard: s.shard,
            node: s.node,
            memory_node: s.memory_node,
            cpu: s.cpu,
            entries: s.entries,
            bytes: s.bytes,
            mapped_bytes: s.mapped_bytes,
            ops: s.ops,
            queue_high_water: s.queue_high_water,
            pages_on_node: s.pages_on_node,
            pages_total: s.pages_total,
            binding_applied: s.binding_applied,
            hits: s.hits,
            misses: s.misses,
            evictions: s.evictions,
            expirations: s.expirations,
            pages_moved: s.pages_moved,
            index_slots: s.index_slots,
            grow_hold_max_ns: s.grow_hold_max_ns,
        }
    }
}

/// Map totals (asks the kernel where every shard's pages are: not a hot-path call).
///
/// Ownership: `*out` is the caller's; nothing is allocated.
///
/// # Safety
/// `m` must be NULL or a handle from `ns_map_new`; `out` must be writable.
///
/// Returns `NS_OK` (`*out` set), `NS_ERR_INVALID_ARGUMENT` (`m` or `out`
/// NULL), `NS_ERR_CLOSED`.
#[no_mangle]
pub unsafe extern "C" fn ns_stats_get(m: *mut ns_map, out: *mut ns_stats) -> ns_status {
    guard(|| -> Outcome {
        // SAFETY: the caller's contract.
        let map = unsafe { ns_map::get(m) }?;
        let out = required(out)?;
        let s = map.stats()?;
        let st = ns_stats {
            shards: s.shards,
            binding_applied: s.binding_applied,
            entries: s.entries,
            bytes: s.bytes,
            mapped_bytes: s.mapped_bytes,
            ops: s.ops,
            memory_limit: s.memory_limit,
            replace_stall_max_ns: s.replace_stall_max_ns,
            replace_count: s.replace_count,
            hits: s.hits,
            misses: s.misses,
            evictions: s.evictions,
            expirations: s.expirations,
        };
        // SAFETY: checked non-NULL, writable by the caller's contract.
        unsafe { out.write(st) };
        Ok(ns_status::NS_OK)
    })
}

/// One shard's placement and counters: the fields of version 1 of
/// `ns_shard_stats`, up to `expirations` (the later ones are left as they
/// are: a program compiled against version 1 has no room for them). Use
/// `ns_shard_stats_get_sized` for every field.
///
/// Ownership: `*out` is the caller's; nothing is allocated.
///
/// # Safety
/// `m` must be NULL or a handle from `ns_map_new`; `out` must be writable
/// for the fields up to `expirations`.
///
/// Returns `NS_OK` (`*out` set), `NS_ERR_INVALID_ARGUMENT` (`m` or `out`
/// NULL, `shard` >= the shard count), `NS_ERR_CLOSED`.
#[no_mangle]
pub unsafe extern "C" fn ns_shard_stats_get(m: *mut ns_map, shard: u32, out: *mut ns_shard_stats) -> ns_status {
    // SAFETY: the caller's contract, with room for version 1.
    unsafe { shard_stats_into(m, shard, out, SHARD_STATS_V1) }
}

/// One shard's placement and counters, every field the caller's struct has:
/// pass `sizeof(ns_shard_stats)`. A program compiled against an older
/// header passes its smaller size and gets its fields; the library never
/// writes past `size`.
///
/// Ownership: `*out` is the caller's; nothing is allocated.
///
/// # Safety
/// `m` must be NULL or a handle from `ns_map_new`; `out` must be writable
/// for `size` bytes.
///
/// Returns `NS_OK` (`*out` set up to `size` bytes),
/// `NS_ERR_INVALID_ARGUMENT` (`m` or `out` NULL, `shard` >= the shard
/// count, `size` smaller than version 1 of the struct), `NS_ERR_CLOSED`.
#[no_mangle]
pub unsafe extern "C" fn ns_shard_stats_get_sized(
    m: *mut ns_map,
    shard: u32,
    out: *mut ns_shard_stats,
    size: usize,
) -> ns_status {
    if size < SHARD_STATS_V1 {
        return ns_status::NS_ERR_INVALID_ARGUMENT;
    }
    // SAFETY: the caller's contract.
    unsafe { shard_stats_into(m, shard, out, size.min(std::mem::size_of::<ns_shard_stats>())) }
}

/// Writes the first `size` bytes (at most the struct's) of shard `shard`'s
/// stats to `out`.
///
/// # Safety
/// As for `ns_shard_stats_get_sized`, `size` <= `sizeof(ns_shard_stats)`.
unsafe fn shard_stats_into(m: *mut ns_map, shard: u32, out: *mut ns_shard_stats, size: usize) -> ns_status {
    guard(|| -> Outcome {
        // SAFETY: the caller's contract.
        let map = unsafe { ns_map::get(m) }?;
        let out = required(out)?;
        let s = ns_shard_stats::from(&map.shard_stats(shard as usize)?);
        // SAFETY: `out` is non-NULL and writable for `size` bytes by the
        // caller's contract; `size` is at most the struct's, so the source
        // is read within `s`. The copy is untyped (padding included).
        unsafe { std::ptr::copy_nonoverlapping((&s as *const ns_shard_stats).cast::<u8>(), out.cast::<u8>(), size) };
        Ok(ns_status::NS_OK)
    })
}

/// Renders every statistic in the Prometheus text exposition format
/// (version 0.0.4), metric names prefixed `numashard_`.
///
/// Ownership: `buf` stays the caller's; nothing is allocated for the caller.
///
/// # Safety
/// `m` must be NULL or a handle from `ns_map_new`; `buf` must point to `cap`
/// writable bytes (or be NULL with `cap` 0, a size query); `len` must be writable.
///
/// Returns `NS_OK` (text and a terminating NUL copied; `*len` = bytes
/// written, NUL included), `NS_BUFFER_TOO_SMALL` (`*len` = the size needed,
/// NUL included, at the time of the call — counters grow, so leave room or
/// loop; `buf` untouched), `NS_ERR_INVALID_ARGUMENT` (`m` or `len` NULL,
/// `buf` NULL with `cap` > 0), `NS_ERR_CLOSED`.
#[no_mangle]
pub unsafe extern "C" fn ns_stats_prometheus(
    m: *mut ns_map,
    buf: *mut c_char,
    cap: usize,
    len: *mut usize,
) -> ns_status {
    guard(|| -> Outcome {
        // SAFETY: the caller's contract.
        let map = unsafe { ns_map::get(m) }?;
        required(len)?;
        let text = map.stats()?.to_prometheus();
        // SAFETY: the caller's contract.
        unsafe { write_text(&text, buf, cap, len) }
    })
}
