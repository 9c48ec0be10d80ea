//! `nsr_config`: the server(s), the local map's bounds and the time-outs.

use crate::boundary::guard_void;
use crate::status::nsr_status;
use numashard_redis::NearConfig;
use std::ffi::{c_char, CStr};
use std::time::Duration;

/// What the near copy does when it reaches its memory limit (`nsr_config.eviction`).
#[repr(i32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum nsr_eviction {
    /// No eviction: once full, replies are served but no longer cached.
    NSR_EVICTION_NONE = 0,
    /// S3-FIFO eviction keeps the near copy within `memory_limit` (the default).
    NSR_EVICTION_S3FIFO = 1,
}

/// How a near cache reaches its server and bounds its local copy. Always
/// start from `nsr_config_init`, then change fields: `struct_size` tells the
/// library which version of the struct the caller was compiled with.
#[repr(C)]
#[derive(Debug)]
pub struct nsr_config {
    /// `sizeof(nsr_config)` as the caller sees it; set by `nsr_config_init`.
    pub struct_size: u32,
    /// The server: `"host:port"` or `"redis://host:port"`; for a Cluster,
    /// several such addresses separated by commas (any reachable one gives
    /// the slot map). Copied by `nsr_cache_open`; required.
    pub servers: *const c_char,
    /// Treat `servers` as a Redis Cluster.
    pub cluster: bool,
    /// Shards of the local map; 0 = one per allowed CPU.
    pub shards: u32,
    /// Bytes the near copy may use (entries' real cost); default 256 MiB.
    pub memory_limit: u64,
    /// An `nsr_eviction` value; default `NSR_EVICTION_S3FIFO`.
    pub eviction: i32,
    /// Local time to live, in milliseconds, of copies whose key has no TTL
    /// on the server (a bound on how long a copy is kept); 0 = none.
    pub default_ttl_ms: u64,
    /// Longest key accepted, inclusive (default 64 KiB); keys longer than
    /// 4096 bytes are served but not cached.
    pub max_key_len: usize,
    /// Longest value a write accepts, inclusive (default 512 MiB).
    pub max_value_len: usize,
    /// Longest value kept in the near copy (default 4 MiB); longer ones are
    /// served but not cached.
    pub local_max_value_len: usize,
    /// Time allowed to open a connection, ms (default 1000).
    pub connect_timeout_ms: u32,
    /// Time allowed for one exchange with the server, ms (default 2000).
    pub io_timeout_ms: u32,
    /// How often an idle invalidation connection proves itself, ms (default 500).
    pub heartbeat_ms: u32,
    /// A heartbeat unanswered this long counts as a lost connection, ms (default 2000).
    pub heartbeat_timeout_ms: u32,
}

/// Fills `*cfg` with the defaults (no server: set `servers`).
///
/// # Safety
/// `cfg` must be NULL (ignored) or writable.
#[no_mangle]
pub unsafe extern "C" fn nsr_config_init(cfg: *mut nsr_config) {
    guard_void(|| {
        if cfg.is_null() {
            return;
        }
        let d = NearConfig::new("");
        let c = nsr_config {
            struct_size: std::mem::size_of::<nsr_config>() as u32,
            servers: std::ptr::null(),
            cluster: false,
            shards: 0,
            memory_limit: d.map.memory_limit,
            eviction: nsr_eviction::NSR_EVICTION_S3FIFO as i32,
            default_ttl_ms: 0,
            max_key_len: d.max_key_len,
            max_value_len: d.max_value_len,
            local_max_value_len: d.map.max_value_len,
            connect_timeout_ms: d.connect_timeout.as_millis() as u32,
            io_timeout_ms: d.io_timeout.as_millis() as u32,
            heartbeat_ms: d.heartbeat.as_millis() as u32,
            heartbeat_timeout_ms: d.heartbeat_timeout.as_millis() as u32,
        };
        // SAFETY: non-NULL and writable by the caller's contract.
        unsafe { cfg.write(c) };
    })
}

/// Reads a caller's config into a [`NearConfig`]; the message says what is wrong.
///
/// Read field by field through the raw pointer, the `bool` as a byte
/// (non-zero = true): no reference to C memory that might hold invalid data
/// for a Rust type (a `bool` byte that is neither 0 nor 1) is ever made.
///
/// # Safety
/// `cfg` NULL or readable; `servers` NULL or a NUL-terminated string.
pub(crate) unsafe fn read_config(cfg: *const nsr_config) -> Result<NearConfig, (nsr_status, String)> {
    let invalid = |why: &str| (nsr_status::NSR_ERR_INVALID_ARGUMENT, why.to_string());
    if cfg.is_null() {
        return Err(invalid("config is NULL"));
    }
    macro_rules! field {
        ($f:ident) => {
            // SAFETY: `cfg` is non-NULL and readable by the caller's contract (the whole struct
            // once `struct_size` matched; `struct_size` is the first field of every version).
            unsafe { std::ptr::addr_of!((*cfg).$f).read() }
        };
    }
    if field!(struct_size) as usize != std::mem::size_of::<nsr_config>() {
        return Err(invalid("config not initialised by nsr_config_init (struct_size differs)"));
    }
    // SAFETY: readable as above; read as a byte, so any value is defined (non-zero = true).
    let cluster = unsafe { std::ptr::addr_of!((*cfg).cluster).cast::<u8>().read() } != 0;
    let servers = field!(servers);
    if servers.is_null() {
        return Err(invalid("no server given (nsr_config.servers is NULL)"));
    }
    // SAFETY: a NUL-terminated string by the caller's contract.
    let servers = unsafe { CStr::from_ptr(servers) }
        .to_str()
        .map_err(|_| (nsr_status::NSR_ERR_CONFIG, "servers is not UTF-8".to_string()))?;
    let addrs: Vec<String> = servers
        .split(',')
        .map(|s| {
            let s = s.trim();
            let s = s.strip_prefix("redis://").unwrap_or(s);
            s.strip_suffix('/').unwrap_or(s).to_string()
        })
        .filter(|s| !s.is_empty())
        .collect();
    if addrs.is_empty() {
        return Err((nsr_status::NSR_ERR_CONFIG, "no server given".into()));
    }
    if let Some(bad) =
        addrs.iter().find(|a| !a.rsplit_once(':').is_some_and(|(h, p)| !h.is_empty() && p.parse::<u16>().is_ok()))
    {
        return Err((nsr_status::NSR_ERR_CONFIG, format!("server address {bad:?} is not host:port")));
    }
    if !cluster && addrs.len() > 1 {
        return Err((nsr_status::NSR_ERR_CONFIG, "several servers given without cluster".into()));
    }
    let eviction = match field!(eviction) {
        1 => numashard::Eviction::S3Fifo,
        0 => numashard::Eviction::None,
        _ => return Err(invalid("unknown eviction value")),
    };
    let (memory_limit, max_key_len, local_max_value_len) =
        (field!(memory_limit), field!(max_key_len), field!(local_max_value_len));
    if memory_limit == 0 || max_key_len == 0 || local_max_value_len == 0 {
        return Err(invalid("memory_limit, max_key_len and local_max_value_len must not be 0"));
    }
    let ms = |v: u32| Duration::from_millis(v.max(1) as u64);
    let mut n = if cluster { NearConfig::cluster(addrs) } else { NearConfig::new(addrs[0].clone()) };
    n.map.shards = field!(shards) as usize;
    n.map.memory_limit = memory_limit;
    n.map.eviction = eviction;
    let ttl = field!(default_ttl_ms);
    n.map.default_ttl = (ttl > 0).then(|| Duration::from_millis(ttl));
    n.map.max_value_len = local_max_value_len;
    n.max_key_len = max_key_len;
    n.max_value_len = field!(max_value_len);
    n.connect_timeout = ms(field!(connect_timeout_ms));
    n.io_timeout = ms(field!(io_timeout_ms));
    n.heartbeat = ms(field!(heartbeat_ms));
    n.heartbeat_timeout = ms(field!(heartbeat_timeout_ms));
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A config as C may pass it: `cluster`'s byte is 2 (C's `bool` can hold
    /// it after a memset or a cast). Building the struct in a byte buffer
    /// keeps any Rust `bool` from ever holding it; reading it must take it as
    /// true, not be undefined behaviour.
    #[test]
    fn a_bool_byte_other_than_0_or_1_is_read_as_true() {
        let servers = c"127.0.0.1:1,127.0.0.1:2";
        let mut mem = std::mem::MaybeUninit::<nsr_config>::uninit();
        let cfg = mem.as_mut_ptr();
        // SAFETY: `cfg` points to writable memory of an `nsr_config`; the
        // bool's byte is written as a u8 through a raw pointer only, and the
        // struct is only ever read by `read_config` (field by field).
        let read = |cluster: u8| unsafe {
            nsr_config_init(cfg);
            std::ptr::addr_of_mut!((*cfg).servers).write(servers.as_ptr());
            std::ptr::addr_of_mut!((*cfg).cluster).cast::<u8>().write(cluster);
            read_config(cfg)
        };
        // Several servers are accepted only for a Cluster: 2 counts as true.
        assert!(read(2).is_ok_and(|c| c.cluster));
        assert!(read(1).is_ok_and(|c| c.cluster));
        assert!(read(0).is_err_and(|(s, _)| s == nsr_status::NSR_ERR_CONFIG));
    }
}
