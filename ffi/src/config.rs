//! `ns_config`: how C describes the map it wants.

use crate::boundary::{guard, guard_void, Outcome};
use crate::status::ns_status;
use numashard::config::{DEFAULT_MAX_KEY_LEN, DEFAULT_MAX_VALUE_LEN};
use numashard::{Config, Eviction, ExecMode};
use std::ffi::{c_char, CStr};
use std::ptr::addr_of;

/// How single operations and batch parts reach a shard's table
/// (`ns_config.exec_mode`).
#[repr(i32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ns_exec_mode {
    /// The caller applies an operation itself under the shard's ownership
    /// when the owner thread is parked or on the caller's CPU, else delegates
    /// it to the owner (the default, chosen by measurement).
    NS_EXEC_AUTO = 0,
    /// Every operation travels to the shard's owner thread.
    NS_EXEC_DELEGATE = 1,
}

/// What a map does when a write would pass its memory limit
/// (`ns_config.eviction`).
#[repr(i32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ns_eviction {
    /// Refuse the write with `NS_ERR_FULL` and change nothing (the default).
    NS_EVICTION_NONE = 0,
    /// A cache: each shard keeps within `memory_limit / shards` by evicting
    /// with S3-FIFO (scan-resistant); a write answers `NS_ERR_FULL` only
    /// when the entry alone is larger than a shard's share.
    NS_EVICTION_S3FIFO = 1,
}

/// An `ns_eviction` as C passes it in (any int32; unknown values are rejected).
pub type ns_eviction_in = i32;

/// An `ns_exec_mode` as C passes it in (any int32; unknown values are
/// rejected, never converted).
pub type ns_exec_mode_in = i32;

/// Everything a map is created with. Always start from `ns_config_init`,
/// then change fields: `struct_size` tells the library which version of this
/// struct the caller was compiled with, and a struct that was not initialised
/// is rejected.
#[repr(C)]
#[derive(Debug)]
pub struct ns_config {
    /// `sizeof(ns_config)` as the caller sees it; set by `ns_config_init`.
    pub struct_size: u32,
    /// Number of shards; 0 = one per allowed CPU. An explicit N yields exactly N.
    pub shards: u32,
    /// Byte limit on what entries cost (key, value and per-entry overhead);
    /// 0 = no limit. A write that would exceed it returns `NS_ERR_FULL`.
    pub memory_limit: u64,
    /// Largest key accepted, inclusive (default 4096; 1 ..= 2^31-1).
    pub max_key_len: usize,
    /// Largest value accepted, inclusive (default 4 MiB; at most 2^31-1).
    pub max_value_len: usize,
    /// A synthetic hwloc topology, e.g. `"pack:2 [numa] core:2 pu:1"`, to
    /// place shards as if on that machine; NULL = the environment variable
    /// `NUMASHARD_TOPOLOGY`, else the real machine. Copied by `ns_map_new`.
    pub topology: *const c_char,
    /// Path of an hwloc XML topology; NULL = `NUMASHARD_TOPOLOGY_XML`, else
    /// the real machine. `topology` wins when both are set.
    pub topology_xml: *const c_char,
    /// Use only these NUMA nodes (OS indexes); NULL with 0 = every node with
    /// allowed CPUs.
    pub nodes: *const u32,
    /// Number of entries in `nodes`.
    pub nodes_len: usize,
    /// Explicit shard count per used node, in the order of the used nodes;
    /// overrides `shards` when not NULL.
    pub shards_per_node: *const u32,
    /// Number of entries in `shards_per_node`.
    pub shards_per_node_len: usize,
    /// Seed of the hash that routes keys to shards.
    pub hash_seed: u64,
    /// Microseconds an idle owner thread spins before it parks; negative =
    /// chosen from whether threads may outnumber cores.
    pub worker_spin_us: i64,
    /// An `ns_exec_mode` value.
    pub exec_mode: ns_exec_mode_in,
    /// In `NS_EXEC_AUTO`, a batch's part for one shard is sent to the
    /// shard's owner when it holds at least this many ops; smaller parts are
    /// applied by the caller. 0 = never send.
    pub batch_delegate_min: u32,
    /// Testing switch: bind every shard's memory to a node other than its
    /// CPU's, to measure what wrong placement costs.
    pub misplace_memory: bool,
    /// An `ns_eviction` value (needs `memory_limit` when not NONE).
    pub eviction: ns_eviction_in,
    /// Time to live, in milliseconds, of entries written without one; 0 =
    /// they never expire.
    pub default_ttl_ms: u64,
    /// Count hits and misses of reads (always on with eviction).
    pub record_stats: bool,
    /// Entries the map is expected to hold; 0 = no hint. Each shard's index
    /// starts with room for its share, so filling the map that far doubles
    /// no index, and `ns_clear` returns it to that size. Not a limit. At
    /// most 2^40; with a `memory_limit`, capped at the most entries the
    /// limit can hold. (Added in version 2 of this struct: a caller compiled
    /// with version 1, which ends at `record_stats`, gets no hint.)
    pub initial_capacity: u64,
    /// Place records of at most 64 bytes (8 of header, key, value, and 8
    /// for a deadline) by their key's hash, in a region sized from
    /// `initial_capacity` (needed, with no `memory_limit`), so that a single
    /// get or put fetches the index slot and the record at once: see
    /// `Config::place_records_by_hash` in the Rust crate. (Added in version
    /// 3 of this struct: a caller compiled with version 2, which ends at
    /// `initial_capacity`, gets false.)
    pub place_records_by_hash: bool,
}

/// `sizeof(ns_config)` of version 1, the struct without `initial_capacity`:
/// callers compiled against it are still accepted.
const CONFIG_SIZE_V1: usize = std::mem::offset_of!(ns_config, initial_capacity);
/// `sizeof(ns_config)` of version 2, which ends at `initial_capacity`.
const CONFIG_SIZE_V2: usize = std::mem::offset_of!(ns_config, place_records_by_hash);

/// Fills `*cfg` with the defaults: one shard per allowed CPU on the real
/// machine, no memory limit, keys up to 4 KiB, values up to 4 MiB.
///
/// Ownership: the caller owns `*cfg`; nothing is allocated.
///
/// # Safety
/// `cfg` must be NULL (then nothing happens) or point to a writable `ns_config`.
#[no_mangle]
pub unsafe extern "C" fn ns_config_init(cfg: *mut ns_config) {
    guard_void(|| {
        if cfg.is_null() {
            return;
        }
        let d = Config::default();
        let c = ns_config {
            struct_size: std::mem::size_of::<ns_config>() as u32,
            shards: 0,
            memory_limit: 0,
            max_key_len: DEFAULT_MAX_KEY_LEN,
            max_value_len: DEFAULT_MAX_VALUE_LEN,
            topology: std::ptr::null(),
            topology_xml: std::ptr::null(),
            nodes: std::ptr::null(),
            nodes_len: 0,
            shards_per_node: std::ptr::null(),
            shards_per_node_len: 0,
            hash_seed: d.hash_seed,
            worker_spin_us: -1,
            exec_mode: ns_exec_mode::NS_EXEC_AUTO as i32,
            batch_delegate_min: d.batch_delegate_min as u32,
            misplace_memory: d.misplace_memory,
            eviction: ns_eviction::NS_EVICTION_NONE as i32,
            default_ttl_ms: 0,
            record_stats: false,
            initial_capacity: 0,
            place_records_by_hash: false,
        };
        // SAFETY: non-NULL and writable by the caller's contract.
        unsafe { cfg.write(c) };
    })
}

/// Copies a C string; NULL = None; invalid UTF-8 is an invalid argument.
unsafe fn text(p: *const c_char) -> Result<Option<String>, ns_status> {
    if p.is_null() {
        return Ok(None);
    }
    // SAFETY: the caller guarantees a NUL-terminated string.
    let s = unsafe { CStr::from_ptr(p) };
    s.to_str().map(|s| Some(s.to_owned())).map_err(|_| ns_status::NS_ERR_INVALID_ARGUMENT)
}

/// Copies a `(p, len)` array of u32; `(NULL, 0)` = None.
unsafe fn list(p: *const u32, len: usize) -> Result<Option<Vec<u32>>, ns_status> {
    if p.is_null() {
        return if len == 0 { Ok(None) } else { Err(ns_status::NS_ERR_INVALID_ARGUMENT) };
    }
    if len > isize::MAX as usize / 4 {
        return Err(ns_status::NS_ERR_INVALID_ARGUMENT);
    }
    // SAFETY: the caller guarantees `len` readable u32s.
    Ok(Some(unsafe { std::slice::from_raw_parts(p, len) }.to_vec()))
}

/// Reads a C `ns_config` into the engine's `Config`. Fields are read one by
/// one through raw pointers, so that no Rust reference to possibly invalid
/// data (a `bool` that is neither 0 nor 1) is ever made.
///
/// # Safety
/// `cfg` must be NULL or point to a readable `ns_config` whose pointers obey
/// the field docs.
pub(crate) unsafe fn read_config(cfg: *const ns_config) -> Result<Config, ns_status> {
    let mut c = Config::default();
    if cfg.is_null() {
        return Ok(c);
    }
    macro_rules! field {
        ($f:ident) => {
            // SAFETY: `cfg` is readable by the caller's contract.
            unsafe { addr_of!((*cfg).$f).read() }
        };
    }
    let size = field!(struct_size) as usize;
    if size != std::mem::size_of::<ns_config>() && size != CONFIG_SIZE_V1 && size != CONFIG_SIZE_V2 {
        return Err(ns_status::NS_ERR_INVALID_ARGUMENT);
    }
    c.shards = field!(shards) as usize;
    c.memory_limit = field!(memory_limit);
    c.max_key_len = field!(max_key_len);
    c.max_value_len = field!(max_value_len);
    let (topology, topology_xml) = (field!(topology), field!(topology_xml));
    let (nodes, nodes_len) = (field!(nodes), field!(nodes_len));
    let (per_node, per_node_len) = (field!(shards_per_node), field!(shards_per_node_len));
    // SAFETY: the field docs require NUL-terminated strings or NULL.
    c.topology = unsafe { text(topology) }?;
    // SAFETY: as above.
    c.topology_xml = unsafe { text(topology_xml) }?.map(Into::into);
    // SAFETY: the field docs require `len` readable entries or NULL with 0.
    c.nodes = unsafe { list(nodes, nodes_len) }?;
    // SAFETY: as above.
    c.shards_per_node = unsafe { list(per_node, per_node_len) }?.map(|v| v.into_iter().map(|n| n as usize).collect());
    c.hash_seed = field!(hash_seed);
    let spin = field!(worker_spin_us);
    c.worker_spin_us = (spin >= 0).then_some(spin as u64);
    c.exec_mode = match field!(exec_mode) {
        0 => ExecMode::Auto,
        1 => ExecMode::Delegate,
        _ => return Err(ns_status::NS_ERR_INVALID_ARGUMENT),
    };
    c.batch_delegate_min = field!(batch_delegate_min) as usize;
    // SAFETY: read as a byte, so any value is defined (non-zero = true).
    c.misplace_memory = unsafe { addr_of!((*cfg).misplace_memory).cast::<u8>().read() } != 0;
    c.eviction = match field!(eviction) {
        0 => Eviction::None,
        1 => Eviction::S3Fifo,
        _ => return Err(ns_status::NS_ERR_INVALID_ARGUMENT),
    };
    let ttl = field!(default_ttl_ms);
    c.default_ttl = (ttl != 0).then(|| std::time::Duration::from_millis(ttl));
    // SAFETY: read as a byte, as above.
    c.record_stats = unsafe { addr_of!((*cfg).record_stats).cast::<u8>().read() } != 0;
    if size > CONFIG_SIZE_V1 {
        // Beyond a version-1 struct: read only when the caller's has it.
        let capacity = field!(initial_capacity);
        if capacity > numashard::config::MAX_INITIAL_CAPACITY as u64 {
            return Err(ns_status::NS_ERR_INVALID_ARGUMENT);
        }
        c.initial_capacity = capacity as usize;
    }
    if size > CONFIG_SIZE_V2 {
        // SAFETY: read as a byte, as above; only when the caller's struct has it.
        c.place_records_by_hash = unsafe { addr_of!((*cfg).place_records_by_hash).cast::<u8>().read() } != 0;
    }
    Ok(c)
}

/// Checks a configuration without creating a map: the same checks as
/// `ns_map_new` makes on `cfg` itself (not the topology; the engine's
/// `Config::check`).
///
/// Ownership: `cfg` stays the caller's.
///
/// # Safety
/// `cfg` must be NULL or point to a readable `ns_config` whose pointers obey
/// the field docs.
///
/// Returns `NS_OK`, or `NS_ERR_INVALID_ARGUMENT` (wrong `struct_size`,
/// unknown `exec_mode` or `eviction`, eviction without a `memory_limit`,
/// `initial_capacity` over 2^40, `place_records_by_hash` without an
/// `initial_capacity` or with a `memory_limit`, more than 4096 shards,
/// NULL array with a length, non-UTF-8 string, size limits out of range).
#[no_mangle]
pub unsafe extern "C" fn ns_config_check(cfg: *const ns_config) -> ns_status {
    guard(|| -> Outcome {
        // SAFETY: the caller's contract.
        let c = unsafe { read_config(cfg) }?;
        c.check()?;
        Ok(ns_status::NS_OK)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn init_then_read_gives_the_engine_defaults() {
        let mut c = std::mem::MaybeUninit::<ns_config>::uninit();
        // SAFETY: a writable local; then fully initialised by ns_config_init.
        let c = unsafe {
            ns_config_init(c.as_mut_ptr());
            c.assume_init()
        };
        // SAFETY: a valid, initialised config.
        let read = unsafe { read_config(&c) }.unwrap();
        let d = Config::default();
        assert_eq!(
            (read.shards, read.memory_limit, read.max_key_len, read.max_value_len),
            (0, 0, d.max_key_len, d.max_value_len)
        );
        assert_eq!((read.hash_seed, read.exec_mode, read.worker_spin_us), (d.hash_seed, d.exec_mode, None));
        assert_eq!(read.batch_delegate_min, d.batch_delegate_min);
        // SAFETY: NULL is allowed.
        assert!(unsafe { read_config(std::ptr::null()) }.is_ok());
        let bad = ns_config { exec_mode: 7, ..c };
        // SAFETY: a valid config.
        assert_eq!(unsafe { read_config(&bad) }.err(), Some(ns_status::NS_ERR_INVALID_ARGUMENT));
        let bad = ns_config { struct_size: 8, ..c };
        // SAFETY: a valid config.
        assert_eq!(unsafe { ns_config_check(&bad) }, ns_status::NS_ERR_INVALID_ARGUMENT);
        let big = ns_config { initial_capacity: 1 << 41, ..c };
        // SAFETY: a valid config.
        assert_eq!(unsafe { ns_config_check(&big) }, ns_status::NS_ERR_INVALID_ARGUMENT);
        let hinted = ns_config { initial_capacity: 1000, ..c };
        // SAFETY: a valid config.
        assert_eq!(unsafe { read_config(&hinted) }.unwrap().initial_capacity, 1000);
        let placed = ns_config { place_records_by_hash: true, ..hinted };
        // SAFETY: a valid config.
        assert!(unsafe { read_config(&placed) }.unwrap().place_records_by_hash);
        // SAFETY: a valid config.
        assert_eq!(unsafe { ns_config_check(&placed) }, ns_status::NS_OK);
        for bad in [ns_config { initial_capacity: 0, ..placed }, ns_config { memory_limit: 1 << 30, ..placed }] {
            // SAFETY: a valid config.
            assert_eq!(unsafe { ns_config_check(&bad) }, ns_status::NS_ERR_INVALID_ARGUMENT);
        }
        // The engine's own checks (`Config::check`): more shards than it takes.
        let many = ns_config { shards: numashard::MAX_SHARDS as u32 + 1, ..c };
        // SAFETY: a valid config.
        assert_eq!(unsafe { ns_config_check(&many) }, ns_status::NS_ERR_INVALID_ARGUMENT);
        let bad = ns_config { nodes_len: 2, ..c };
        // SAFETY: a valid config (its NULL array is what is rejected).
        assert_eq!(unsafe { ns_config_check(&bad) }, ns_status::NS_ERR_INVALID_ARGUMENT);
    }

    #[test]
    fn a_version_1_struct_is_read_without_its_missing_field() {
        let mut c = std::mem::MaybeUninit::<ns_config>::uninit();
        // SAFETY: a writable local; then fully initialised by ns_config_init.
        let c = unsafe {
            ns_config_init(c.as_mut_ptr());
            c.assume_init()
        };
        assert_eq!(c.struct_size as usize, std::mem::size_of::<ns_config>());
        // A version-1 caller's struct ends before `initial_capacity`; what
        // lies there is not theirs, so it must not be read.
        let v1 = ns_config { struct_size: CONFIG_SIZE_V1 as u32, initial_capacity: 1 << 41, shards: 3, ..c };
        // SAFETY: a valid config, readable past its stated size.
        let read = unsafe { read_config(&v1) }.unwrap();
        assert_eq!((read.shards, read.initial_capacity), (3, 0));
        // Version 2 ends at `initial_capacity`: the flag after it is not read.
        let v2 =
            ns_config { struct_size: CONFIG_SIZE_V2 as u32, initial_capacity: 500, place_records_by_hash: true, ..c };
        // SAFETY: a valid config, readable past its stated size.
        let read = unsafe { read_config(&v2) }.unwrap();
        assert_eq!((read.initial_capacity, read.place_records_by_hash), (500, false));
        for size in [CONFIG_SIZE_V1 - 8, CONFIG_SIZE_V1 + 4, std::mem::size_of::<ns_config>() + 8] {
            let odd = ns_config { struct_size: size as u32, ..c };
            // SAFETY: a valid config.
            assert_eq!(unsafe { ns_config_check(&odd) }, ns_status::NS_ERR_INVALID_ARGUMENT, "size {size}");
        }
    }
}
