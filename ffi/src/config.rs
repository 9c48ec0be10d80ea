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
/// is rejected. A caller that does not compile this header (ctypes, cffi's
/// ABI mode, JNA, Java's FFM, dlsym) calls `ns_config_init_sized(cfg,
/// sizeof(ns_config))`: the exported symbol named `ns_config_init` fills
/// version 1 of the struct only, for programs built against its first
/// versions.
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

/// Fills the first `size` bytes of `*cfg` with the defaults (one shard per
/// allowed CPU on the real machine, no memory limit, keys up to 4 KiB,
/// values up to 4 MiB) and sets `struct_size` to `size`: `size` is
/// `sizeof(ns_config)` as the caller was compiled, so that a program built
/// against an older, shorter version of the struct is never written past
/// its end. The header's `ns_config_init(cfg)` calls this with
/// `sizeof(ns_config)`.
///
/// Ownership: the caller owns `*cfg`; nothing is allocated.
///
/// # Safety
/// `cfg` must be NULL or point to `size` writable bytes.
///
/// Returns `NS_OK`, or `NS_ERR_INVALID_ARGUMENT` (NULL `cfg`, or `size` not
/// the size of a version of `ns_config` this library knows; nothing written).
#[no_mangle]
pub unsafe extern "C" fn ns_config_init_sized(cfg: *mut ns_config, size: usize) -> ns_status {
    guard(|| -> Outcome {
        if cfg.is_null() || !known_size(size) {
            return Err(ns_status::NS_ERR_INVALID_ARGUMENT);
        }
        // SAFETY: `cfg` points to `size` writable bytes (the contract);
        // `size` is a known version's size.
        unsafe { write_defaults(cfg, size) };
        Ok(ns_status::NS_OK)
    })
}

/// The symbol programs compiled against versions 1-3 of the header call
/// (the header now makes `ns_config_init` an inline call of
/// `ns_config_init_sized` with the caller's `sizeof`). Their struct may be
/// as short as version 1, so this fills version 1 only, as such a caller
/// sees it: a program of version 2 or 3 that sets a later field through it
/// has that field ignored (`struct_size` says version 1), never a write
/// past its struct. Not in the header.
///
/// # Safety
/// `cfg` must be NULL (then nothing happens) or point to a writable
/// `ns_config` of version 1 or later.
#[no_mangle]
pub unsafe extern "C" fn ns_config_init(cfg: *mut ns_config) {
    guard_void(|| {
        if !cfg.is_null() {
            // SAFETY: every version of the struct has version 1's bytes.
            unsafe { write_defaults(cfg, CONFIG_SIZE_V1) };
        }
    })
}

/// A size of `ns_config` this library reads: versions 1, 2 and 3.
fn known_size(size: usize) -> bool {
    size == std::mem::size_of::<ns_config>() || size == CONFIG_SIZE_V1 || size == CONFIG_SIZE_V2
}

/// Writes the defaults into the fields of `*cfg` that end within `size`
/// bytes, field by field (so that no byte past `size`, and no padding, is
/// touched), and `size` into `struct_size`.
///
/// # Safety
/// `cfg` points to `size` writable bytes; `size` is a known version's size.
unsafe fn write_defaults(cfg: *mut ns_config, size: usize) {
    let d = Config::default();
    macro_rules! put {
        ($f:ident, $v:expr) => {{
            let v = $v;
            if std::mem::offset_of!(ns_config, $f) + std::mem::size_of_val(&v) <= size {
                // SAFETY: the field lies within the caller's `size` bytes.
                unsafe { std::ptr::addr_of_mut!((*cfg).$f).write(v) };
            }
        }};
    }
    put!(struct_size, size as u32);
    put!(shards, 0u32);
    put!(memory_limit, 0u64);
    put!(max_key_len, DEFAULT_MAX_KEY_LEN);
    put!(max_value_len, DEFAULT_MAX_VALUE_LEN);
    put!(topology, std::ptr::null::<c_char>());
    put!(topology_xml, std::ptr::null::<c_char>());
    put!(nodes, std::ptr::null::<u32>());
    put!(nodes_len, 0usize);
    put!(shards_per_node, std::ptr::null::<u32>());
    put!(shards_per_node_len, 0usize);
    put!(hash_seed, d.hash_seed);
    put!(worker_spin_us, -1i64);
    put!(exec_mode, ns_exec_mode::NS_EXEC_AUTO as i32);
    put!(batch_delegate_min, d.batch_delegate_min as u32);
    put!(misplace_memory, d.misplace_memory);
    put!(eviction, ns_eviction::NS_EVICTION_NONE as i32);
    put!(default_ttl_ms, 0u64);
    put!(record_stats, false);
    put!(initial_capacity, 0u64);
    put!(place_records_by_hash, false);
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

/// Copies a `(p, len)` array of u32; `(NULL, 0)` = None. Longer than
/// `MAX_SHARDS` (nodes or shards per node: one entry each at most) is an
/// invalid argument, refused before anything is copied.
unsafe fn list(p: *const u32, len: usize) -> Result<Option<Vec<u32>>, ns_status> {
    if p.is_null() {
        return if len == 0 { Ok(None) } else { Err(ns_status::NS_ERR_INVALID_ARGUMENT) };
    }
    if len > numashard::MAX_SHARDS {
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
/// NULL array with a length, an empty `nodes` list (non-NULL, length 0), a
/// node listed twice, `shards_per_node` asking for no shard or with another
/// length than `nodes`, an array longer than 4096, non-UTF-8 string, size
/// limits out of range).
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

    /// A config as the header's `ns_config_init` makes it.
    fn defaults() -> ns_config {
        let mut c = std::mem::MaybeUninit::<ns_config>::uninit();
        // SAFETY: a writable local, then fully initialised (its own size).
        unsafe {
            assert_eq!(ns_config_init_sized(c.as_mut_ptr(), std::mem::size_of::<ns_config>()), ns_status::NS_OK);
            c.assume_init()
        }
    }

    #[test]
    fn init_then_read_gives_the_engine_defaults() {
        let c = defaults();
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
        let c = defaults();
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

    /// What `ns_map_new` refuses from the configuration alone,
    /// `ns_config_check` refuses too (it used to pass these three).
    #[test]
    fn check_refuses_what_map_new_refuses_from_the_config() {
        let c = defaults();
        let (twice, zero, one) = ([0u32, 0], [0u32], [1u32]);
        for (what, bad) in [
            ("a node twice", ns_config { nodes: twice.as_ptr(), nodes_len: 2, ..c }),
            ("no shard", ns_config { shards_per_node: zero.as_ptr(), shards_per_node_len: 1, ..c }),
            ("an empty list of nodes", ns_config { nodes: one.as_ptr(), nodes_len: 0, ..c }),
            (
                "shards_per_node of another length",
                ns_config {
                    nodes: one.as_ptr(),
                    nodes_len: 1,
                    shards_per_node: twice.as_ptr(),
                    shards_per_node_len: 2,
                    ..c
                },
            ),
            ("a list over 4096", ns_config { nodes: one.as_ptr(), nodes_len: 4097, ..c }),
        ] {
            // SAFETY: the arrays are readable for their lengths, except the
            // last, which is refused by its length before it is read.
            assert_eq!(unsafe { ns_config_check(&bad) }, ns_status::NS_ERR_INVALID_ARGUMENT, "{what}");
            let mut m = std::ptr::null_mut();
            // SAFETY: as above; `m` is writable.
            let s = unsafe { crate::lifecycle::ns_map_new(&bad, &mut m) };
            assert_eq!((s, m.is_null()), (ns_status::NS_ERR_INVALID_ARGUMENT, true), "{what}: ns_map_new");
        }
        // SAFETY: a valid config.
        assert_eq!(unsafe { ns_config_check(&ns_config { nodes: one.as_ptr(), nodes_len: 1, ..c }) }, ns_status::NS_OK);
    }

    /// A 256-byte, 8-aligned buffer of 0xA5 for an init to write into, and
    /// how far the init wrote (the end of the last byte changed).
    fn written_by(init: impl FnOnce(*mut ns_config)) -> ([u8; 256], usize) {
        let mut words = [0xA5A5_A5A5_A5A5_A5A5u64; 32];
        init(words.as_mut_ptr() as *mut ns_config);
        let mut buf = [0u8; 256];
        for (i, w) in words.iter().enumerate() {
            buf[8 * i..8 * i + 8].copy_from_slice(&w.to_ne_bytes());
        }
        let end = buf.iter().rposition(|&b| b != 0xA5).map_or(0, |i| i + 1);
        (buf, end)
    }

    /// The defaults go into as many bytes as the caller's version of the
    /// struct has, never one more: the legacy symbol fills version 1's.
    #[test]
    fn init_writes_no_byte_past_the_callers_struct() {
        let full = std::mem::size_of::<ns_config>();
        assert!(full <= 256);
        for (size, ok) in [(CONFIG_SIZE_V1, true), (CONFIG_SIZE_V2, true), (full, true), (full + 8, false), (8, false)]
        {
            let mut status = ns_status::NS_OK;
            let (buf, end) = written_by(|p| {
                // SAFETY: 256 writable, 8-aligned bytes, more than `size`.
                status = unsafe { ns_config_init_sized(p, size) }
            });
            assert_eq!(status == ns_status::NS_OK, ok, "size {size}");
            if !ok {
                assert_eq!(end, 0, "size {size}: a refused size writes nothing");
                continue;
            }
            assert!(end <= size, "size {size}: wrote up to byte {end}");
            assert_eq!(u32::from_ne_bytes(buf[..4].try_into().unwrap()) as usize, size);
            // What was written reads back as the engine's defaults.
            let mut words = [0u64; 32];
            for (i, w) in words.iter_mut().enumerate() {
                *w = u64::from_ne_bytes(buf[8 * i..8 * i + 8].try_into().unwrap());
            }
            // SAFETY: a config of a known size whose fields within it were
            // initialised (bytes past it are the 0xA5 filler, never read).
            let read = unsafe { read_config(words.as_ptr() as *const ns_config) }.unwrap();
            assert_eq!((read.max_key_len, read.initial_capacity), (Config::default().max_key_len, 0), "size {size}");
        }
        // The legacy symbol: version 1's bytes only.
        // SAFETY: 256 writable, 8-aligned bytes.
        let (buf, end) = written_by(|p| unsafe { ns_config_init(p) });
        assert!(end <= CONFIG_SIZE_V1, "the legacy init wrote up to byte {end}");
        assert_eq!(u32::from_ne_bytes(buf[..4].try_into().unwrap()) as usize, CONFIG_SIZE_V1);
        // SAFETY: NULL is allowed.
        assert_eq!(unsafe { ns_config_init_sized(std::ptr::null_mut(), full) }, ns_status::NS_ERR_INVALID_ARGUMENT);
    }
}
