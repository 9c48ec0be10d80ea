//! Open, read, write, delete, batch, sync, stats, close.

use crate::boundary::{
    buffer, bytes, guard, guard_msg, guard_void, required, write_message, Detailed, Failure, Outcome,
};
use crate::config::{nsr_config, read_config};
use crate::handle::nsr_cache;
use crate::status::{nsr_status, nsr_status_in};
use numashard_redis::{NearCache, NearConfig};
use std::ffi::c_char;
use std::time::Duration;

/// A key checked against the cache's limits before any byte is read: empty
/// or longer than `max_key_len` is `NSR_ERR_KEY_TOO_LARGE`.
///
/// # Safety
/// `p` NULL or `len` readable bytes.
unsafe fn key<'a>(cache: &NearCache, p: *const u8, len: usize) -> Result<&'a [u8], Failure> {
    if len > 0 && p.is_null() {
        return Err(nsr_status::NSR_ERR_INVALID_ARGUMENT.into());
    }
    check_key_len(cache, len)?;
    // SAFETY: the caller's contract.
    Ok(unsafe { bytes(p, len) }?)
}

/// `NSR_ERR_KEY_TOO_LARGE`, with the tier's reason, for a length outside
/// `1..=max_key_len`.
fn check_key_len(cache: &NearCache, len: usize) -> Result<(), Failure> {
    if len == 0 || len > cache.max_key_len() {
        return Err(numashard_redis::Error::KeyTooLarge { len, max: cache.max_key_len() }.into());
    }
    Ok(())
}

/// Opens a near cache: the local map, a tracked connection pool and an
/// invalidation listener per server node, proven by a heartbeat before the
/// call returns.
///
/// Ownership: `cfg` and its strings stay the caller's (copied); on `NSR_OK`
/// `*out` is a new handle, released with `nsr_cache_free`.
///
/// # Safety
/// `cfg` must be NULL or an `nsr_config` from `nsr_config_init` whose
/// `servers` is NULL or NUL-terminated; `out` writable; `msg` NULL or
/// `msg_cap` writable bytes overlapping no other argument.
///
/// Returns `NSR_OK`, `NSR_ERR_INVALID_ARGUMENT`, `NSR_ERR_CONFIG`,
/// `NSR_ERR_CONNECTION`, `NSR_ERR_RESP3_UNSUPPORTED`,
/// `NSR_ERR_TRACKING_UNCONFIRMED`, `NSR_ERR_TOPOLOGY`, `NSR_ERR_RESOURCE`;
/// on failure the reason is copied into `(msg, msg_cap)`, truncated and
/// NUL-terminated (`(NULL, 0)` skips it). `*out` is written only on `NSR_OK`.
#[no_mangle]
pub unsafe extern "C" fn nsr_cache_open(
    cfg: *const nsr_config,
    out: *mut *mut nsr_cache,
    msg: *mut c_char,
    msg_cap: usize,
) -> nsr_status {
    guard(|| -> Outcome {
        let fail = |s: nsr_status, why: &str| {
            // SAFETY: the caller's contract on (msg, msg_cap).
            unsafe { write_message(why, msg, msg_cap) };
            Err(s)
        };
        let Ok(out) = required(out) else { return fail(nsr_status::NSR_ERR_INVALID_ARGUMENT, "out is NULL") };
        // SAFETY: the caller's contract.
        let cfg: NearConfig = match unsafe { read_config(cfg) } {
            Ok(c) => c,
            Err((s, why)) => return fail(s, &why),
        };
        match NearCache::connect(cfg) {
            Ok(cache) => {
                // SAFETY: checked non-NULL, writable by the caller's contract.
                unsafe { out.write(nsr_cache::register(cache)) };
                Ok(nsr_status::NSR_OK)
            }
            Err(e) => {
                let why = e.to_string();
                fail(e.into(), &why)
            }
        }
    })
}

/// The value of a key: the local copy, or the server's (read through with
/// `GET` + `PTTL` and installed locally with its TTL), copied into `buf`.
///
/// Ownership: `key` and `buf` stay the caller's; nothing is allocated for C.
///
/// # Safety
/// `c` NULL or a handle from `nsr_cache_open`; `key` `key_len` readable
/// bytes; `buf` NULL with `buf_cap` 0 or `buf_cap` writable bytes not
/// overlapping `key`; `value_len` writable; `msg` NULL with `msg_cap` 0 or
/// `msg_cap` writable bytes overlapping no other argument.
///
/// Returns `NSR_OK` (`*value_len` = its length), `NSR_BUFFER_TOO_SMALL`
/// (`*value_len` = the size needed, `buf` untouched; the value is usually
/// local by now, so ask again), `NSR_NOT_FOUND`, `NSR_ERR_INVALID_ARGUMENT`,
/// `NSR_ERR_KEY_TOO_LARGE`, `NSR_ERR_CLOSED`, `NSR_ERR_CONNECTION`,
/// `NSR_ERR_SERVER`, `NSR_ERR_TRACKING_UNCONFIRMED`. `*value_len` is
/// written only on `NSR_OK` and `NSR_BUFFER_TOO_SMALL`.
/// On an error, `(msg, msg_cap)` receives the reason (the server's error
/// text, the connection's failure, else the status's text), truncated and
/// NUL-terminated; on any other status an empty string. `(NULL, 0)` skips
/// it; `msg` NULL with `msg_cap` > 0 is `NSR_ERR_INVALID_ARGUMENT`.
#[no_mangle]
pub unsafe extern "C" fn nsr_get(
    c: *mut nsr_cache,
    key: *const u8,
    key_len: usize,
    buf: *mut u8,
    buf_cap: usize,
    value_len: *mut usize,
    msg: *mut c_char,
    msg_cap: usize,
) -> nsr_status {
    let body = || -> Detailed {
        // SAFETY: `c` is NULL or a handle from `nsr_cache_open`, and no `nsr_cache_free` of it runs
        // meanwhile (that must be the last call on `c`); `get` rejects NULL and freed handles.
        let cache = unsafe { nsr_cache::get(c) }?;
        let value_len = required(value_len)?;
        // SAFETY: `buf` points to `buf_cap` writable bytes overlapping `key` nowhere, or is NULL
        // with `buf_cap` 0, by the contract; `buffer` rejects NULL with a capacity.
        let out = unsafe { buffer(buf, buf_cap) }?;
        // SAFETY: `key` points to `key_len` readable bytes by the contract; `key()` rejects NULL with
        // a length, and any length outside `1..=max_key_len`, before reading.
        let k = unsafe { self::key(cache, key, key_len) }?;
        match cache.get_into(k, out)? {
            None => Ok(nsr_status::NSR_NOT_FOUND),
            Some(n) => {
                // SAFETY: checked non-NULL, writable by the caller's contract.
                unsafe { value_len.write(n) };
                Ok(if n > buf_cap { nsr_status::NSR_BUFFER_TOO_SMALL } else { nsr_status::NSR_OK })
            }
        }
    };
    // SAFETY: the caller's contract on (msg, msg_cap).
    unsafe { guard_msg(msg, msg_cap, body) }
}

/// Write-through: `SET` on the server (with `PX ttl_ms` when `ttl_ms` > 0;
/// 0 = the key loses any TTL), then the local copy is replaced by the value
/// the server held right after it. A failed write drops the local copy.
///
/// # Safety
/// `c` and `msg` as in `nsr_get`; `key`, `value` readable for their lengths.
///
/// Returns `NSR_OK`, `NSR_ERR_INVALID_ARGUMENT`, `NSR_ERR_KEY_TOO_LARGE`,
/// `NSR_ERR_VALUE_TOO_LARGE` (nothing sent), `NSR_ERR_CLOSED`,
/// `NSR_ERR_CONNECTION` (the write may or may not have been applied),
/// `NSR_ERR_SERVER` (refused, e.g. `OOM`), `NSR_ERR_TRACKING_UNCONFIRMED`.
/// On an error, `(msg, msg_cap)` receives the reason (the server's error
/// text, the connection's failure, else the status's text), truncated and
/// NUL-terminated; on any other status an empty string. `(NULL, 0)` skips
/// it; `msg` NULL with `msg_cap` > 0 is `NSR_ERR_INVALID_ARGUMENT`.
#[no_mangle]
pub unsafe extern "C" fn nsr_set(
    c: *mut nsr_cache,
    key: *const u8,
    key_len: usize,
    value: *const u8,
    value_len: usize,
    ttl_ms: u64,
    msg: *mut c_char,
    msg_cap: usize,
) -> nsr_status {
    let body = || -> Detailed {
        // SAFETY: `c` is NULL or a handle from `nsr_cache_open`, and no `nsr_cache_free` of it runs
        // meanwhile (that must be the last call on `c`); `get` rejects NULL and freed handles.
        let cache = unsafe { nsr_cache::get(c) }?;
        // SAFETY: `key` points to `key_len` readable bytes by the contract; `key()` rejects NULL with
        // a length, and any length outside `1..=max_key_len`, before reading.
        let k = unsafe { self::key(cache, key, key_len) }?;
        if value_len > 0 && value.is_null() {
            return Err(nsr_status::NSR_ERR_INVALID_ARGUMENT.into());
        }
        if value_len > cache.max_value_len() {
            return Err(numashard_redis::Error::ValueTooLarge { len: value_len, max: cache.max_value_len() }.into());
        }
        // SAFETY: `value` points to `value_len` readable bytes by the contract (NULL with a length
        // was turned away just above).
        let v = unsafe { bytes(value, value_len) }?;
        match ttl_ms {
            0 => cache.set(k, v)?,
            ms => cache.set_with_ttl(k, v, Duration::from_millis(ms))?,
        }
        Ok(nsr_status::NSR_OK)
    };
    // SAFETY: the caller's contract on (msg, msg_cap).
    unsafe { guard_msg(msg, msg_cap, body) }
}

/// Delete-through: `DEL` on the server, then the local copy.
///
/// # Safety
/// As `nsr_set`.
///
/// Returns `NSR_OK` (the server had the key), `NSR_NOT_FOUND` (it had
/// not), `NSR_ERR_INVALID_ARGUMENT`, `NSR_ERR_KEY_TOO_LARGE`,
/// `NSR_ERR_CLOSED`, `NSR_ERR_CONNECTION`, `NSR_ERR_SERVER`,
/// `NSR_ERR_TRACKING_UNCONFIRMED`. The local copy is dropped whatever the outcome.
/// On an error, `(msg, msg_cap)` receives the reason (the server's error
/// text, the connection's failure, else the status's text), truncated and
/// NUL-terminated; on any other status an empty string. `(NULL, 0)` skips
/// it; `msg` NULL with `msg_cap` > 0 is `NSR_ERR_INVALID_ARGUMENT`.
#[no_mangle]
pub unsafe extern "C" fn nsr_delete(
    c: *mut nsr_cache,
    key: *const u8,
    key_len: usize,
    msg: *mut c_char,
    msg_cap: usize,
) -> nsr_status {
    let body = || -> Detailed {
        // SAFETY: `c` is NULL or a handle from `nsr_cache_open`, and no `nsr_cache_free` of it runs
        // meanwhile (that must be the last call on `c`); `get` rejects NULL and freed handles.
        let cache = unsafe { nsr_cache::get(c) }?;
        // SAFETY: `key` points to `key_len` readable bytes by the contract; `key()` rejects NULL with
        // a length, and any length outside `1..=max_key_len`, before reading.
        let k = unsafe { self::key(cache, key, key_len) }?;
        Ok(if cache.delete(k)? { nsr_status::NSR_OK } else { nsr_status::NSR_NOT_FOUND })
    };
    // SAFETY: the caller's contract on (msg, msg_cap).
    unsafe { guard_msg(msg, msg_cap, body) }
}

/// Reads `n` keys in one call: local hits first, then every miss in one
/// pipelined round trip per server node (in a Cluster, grouped by the
/// master owning each key's slot).
///
/// Layout (no pointer-holding structs, so bindings pass their own memory):
/// the keys are concatenated in `keys`, key `i` being `key_lens[i]` bytes;
/// found values are written one after another into `(out, out_cap)`, in
/// key order. Per key, `statuses[i]` is `NSR_OK` (`value_lens[i]` bytes,
/// placed right after the previous `NSR_OK` value), `NSR_NOT_FOUND`, or
/// `NSR_BUFFER_TOO_SMALL` (`value_lens[i]` = its size; it did not fit in
/// what was left of `out`, which later values may still use).
///
/// Ownership: all arrays stay the caller's; nothing is allocated for C.
///
/// # Safety
/// `c` and `msg` as in `nsr_get`; `keys` readable for the sum of
/// `key_lens`; `key_lens`, `value_lens` and `statuses` `n` elements
/// (readable, writable, writable); `out` NULL with `out_cap` 0 or `out_cap`
/// writable bytes. `out`, `value_lens`, `statuses` and `msg` may overlap no
/// other argument (nor each other); `keys` and `key_lens` are only read.
///
/// Returns `NSR_OK` (every key `NSR_OK` or `NSR_NOT_FOUND`),
/// `NSR_BUFFER_TOO_SMALL` (some did not fit: call again with `out_cap` at
/// least the sum of the found `value_lens`), or an error of `nsr_get` for
/// the whole call (a key's error, or a node that failed; argument errors
/// are checked before anything is sent), which is then also every
/// `statuses[i]` when `statuses` is not NULL.
/// On an error, `(msg, msg_cap)` receives the reason (the server's error
/// text, the connection's failure, else the status's text), truncated and
/// NUL-terminated; on any other status an empty string. `(NULL, 0)` skips
/// it; `msg` NULL with `msg_cap` > 0 is `NSR_ERR_INVALID_ARGUMENT`.
#[no_mangle]
pub unsafe extern "C" fn nsr_get_many(
    c: *mut nsr_cache,
    n: usize,
    keys: *const u8,
    key_lens: *const usize,
    out: *mut u8,
    out_cap: usize,
    value_lens: *mut usize,
    statuses: *mut nsr_status_in,
    msg: *mut c_char,
    msg_cap: usize,
) -> nsr_status {
    let body = || -> Detailed {
        // SAFETY: `c` is NULL or a handle from `nsr_cache_open`, and no `nsr_cache_free` of it runs
        // meanwhile (that must be the last call on `c`); `get` rejects NULL and freed handles.
        let cache = unsafe { nsr_cache::get(c) }?;
        if n == 0 {
            return Ok(nsr_status::NSR_OK);
        }
        if n > isize::MAX as usize / 16 {
            return Err(nsr_status::NSR_ERR_INVALID_ARGUMENT.into());
        }
        let value_lens = required(value_lens)?;
        let statuses = required(statuses)?;
        if key_lens.is_null() {
            return Err(nsr_status::NSR_ERR_INVALID_ARGUMENT.into());
        }
        // The lengths are read one at a time through the raw pointer, and the results written the
        // same way, so no reference over `key_lens`, `value_lens` or `statuses` is ever made.
        // SAFETY: `key_lens` is non-NULL (checked just above) and points to `n` readable lengths by
        // the contract (`n` is at most isize::MAX / 16, within the address space); every call below
        // passes an `i < n`.
        let key_len = |i: usize| unsafe { key_lens.add(i).read() };
        let mut total = 0usize;
        for i in 0..n {
            let l = key_len(i);
            check_key_len(cache, l)?;
            total = total.checked_add(l).ok_or(nsr_status::NSR_ERR_INVALID_ARGUMENT)?;
        }
        // SAFETY: `keys` is readable for the sum of `key_lens` (`total`, without overflow) by the
        // contract, and overlaps nothing the call writes; `bytes` rejects NULL with a length.
        let all = unsafe { bytes(keys, total) }?;
        // SAFETY: `out` points to `out_cap` writable bytes overlapping no other argument (`keys`,
        // `value_lens` and `statuses` above all), or is NULL with `out_cap` 0, by the contract;
        // `buffer` rejects NULL with a capacity.
        let out = unsafe { buffer(out, out_cap) }?;
        let mut refs: Vec<&[u8]> = Vec::with_capacity(n);
        let mut at = 0;
        for i in 0..n {
            let l = key_len(i);
            refs.push(&all[at..at + l]);
            at += l;
        }
        let values = cache.get_many(&refs)?;
        let mut used = 0;
        let mut result = nsr_status::NSR_OK;
        for (i, v) in values.iter().enumerate().take(n) {
            let st = match v {
                None => nsr_status::NSR_NOT_FOUND,
                Some(v) => {
                    // SAFETY: `value_lens` passed `required` (non-NULL) and points to `n` writable
                    // lengths overlapping no other argument by the contract; `i < n`.
                    unsafe { value_lens.add(i).write(v.len()) };
                    if let Some(dst) = out.get_mut(used..used + v.len()) {
                        dst.copy_from_slice(v);
                        used += v.len();
                        nsr_status::NSR_OK
                    } else {
                        result = nsr_status::NSR_BUFFER_TOO_SMALL;
                        nsr_status::NSR_BUFFER_TOO_SMALL
                    }
                }
            };
            // SAFETY: as for `value_lens`: `statuses` passed `required` and points to `n` writable
            // statuses by the contract; `nsr_status_in` is a plain `i32`; `i < n`.
            unsafe { statuses.add(i).write(st as i32) };
        }
        Ok(result)
    };
    // SAFETY: the caller's contract on (msg, msg_cap).
    let s = unsafe { guard_msg(msg, msg_cap, body) };
    if s as i32 >= 100 && !statuses.is_null() && n <= isize::MAX as usize / 16 {
        for i in 0..n {
            // SAFETY: non-NULL, `n` writable elements by the caller's contract; `i < n`.
            unsafe { statuses.add(i).write(s as i32) };
        }
    }
    s
}

/// A barrier: returns once every invalidation the server(s) sent before the
/// call was applied locally, so a write by anyone acknowledged before it is
/// seen by every later read. One round trip per node.
///
/// # Safety
/// `c` and `msg` as in `nsr_get`.
///
/// Returns `NSR_OK`, `NSR_ERR_INVALID_ARGUMENT`, `NSR_ERR_CLOSED`,
/// `NSR_ERR_CONNECTION`, `NSR_ERR_TRACKING_UNCONFIRMED` (the marker's
/// invalidation did not arrive within the heartbeat time-out).
/// On an error, `(msg, msg_cap)` receives the reason (the server's error
/// text, the connection's failure, else the status's text), truncated and
/// NUL-terminated; on any other status an empty string. `(NULL, 0)` skips
/// it; `msg` NULL with `msg_cap` > 0 is `NSR_ERR_INVALID_ARGUMENT`.
#[no_mangle]
pub unsafe extern "C" fn nsr_sync(c: *mut nsr_cache, msg: *mut c_char, msg_cap: usize) -> nsr_status {
    let body = || -> Detailed {
        // SAFETY: the caller's contract.
        let cache = unsafe { nsr_cache::get(c) }?;
        cache.sync()?;
        Ok(nsr_status::NSR_OK)
    };
    // SAFETY: the caller's contract on (msg, msg_cap).
    unsafe { guard_msg(msg, msg_cap, body) }
}

/// What a near cache did and holds (`nsr_stats_get`).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct nsr_stats {
    /// Keys answered from the near copy.
    pub local_hits: u64,
    /// Keys read from the server (misses, absent keys included).
    pub server_reads: u64,
    /// Writes and deletes sent to the server.
    pub server_writes: u64,
    /// Keys named by invalidations the server delivered.
    pub invalidations: u64,
    /// Times the whole near copy was emptied (start, lost connection, `FLUSHALL`).
    pub flushes: u64,
    /// Server replies not installed because an invalidation or flush overtook them.
    pub installs_skipped: u64,
    /// Invalidation connections re-established after a loss.
    pub reconnects: u64,
    /// Slot redirections (`MOVED`) followed after a Cluster reshard.
    pub redirects: u64,
    /// Entries in the near copy.
    pub entries: u64,
    /// Bytes the near copy's entries cost.
    pub bytes: u64,
    /// The near copy's memory limit.
    pub memory_limit: u64,
    /// Entries the near copy evicted to stay within its limit.
    pub evictions: u64,
    /// Entries that expired locally (TTLs copied from the server).
    pub expirations: u64,
    /// Whether every node's invalidation path is confirmed (local copies served).
    pub serving: bool,
}

/// The counters of the tier and the near copy's figures.
///
/// # Safety
/// `c` as in `nsr_get`; `out` writable.
///
/// Returns `NSR_OK` (`*out` written), `NSR_ERR_INVALID_ARGUMENT`, `NSR_ERR_CLOSED`.
#[no_mangle]
pub unsafe extern "C" fn nsr_stats_get(c: *mut nsr_cache, out: *mut nsr_stats) -> nsr_status {
    guard(|| -> Outcome {
        // SAFETY: the caller's contract.
        let cache = unsafe { nsr_cache::get(c) }?;
        let out = required(out)?;
        let t = cache.stats();
        let m = cache.map_stats()?;
        let s = nsr_stats {
            local_hits: t.local_hits,
            server_reads: t.server_reads,
            server_writes: t.server_writes,
            invalidations: t.invalidations,
            flushes: t.flushes,
            installs_skipped: t.installs_skipped,
            reconnects: t.reconnects,
            redirects: t.redirects,
            entries: m.entries,
            bytes: m.bytes,
            memory_limit: m.memory_limit,
            evictions: m.evictions,
            expirations: m.expirations,
            serving: cache.is_serving(),
        };
        // SAFETY: checked non-NULL, writable by the caller's contract.
        unsafe { out.write(s) };
        Ok(nsr_status::NSR_OK)
    })
}

/// Closes a near cache: stops the listeners, drops the connections (its
/// heartbeat key is deleted) and closes the local map. Every later call
/// (other than `nsr_cache_free`) returns `NSR_ERR_CLOSED`. May run
/// concurrently with any other call on `c`, another close included (which
/// waits until the cache is closed).
///
/// # Safety
/// `c` as in `nsr_get`.
///
/// Returns `NSR_OK` (this call closed it), `NSR_ERR_CLOSED` (already
/// closed), `NSR_ERR_INVALID_ARGUMENT`.
#[no_mangle]
pub unsafe extern "C" fn nsr_cache_close(c: *mut nsr_cache) -> nsr_status {
    guard(|| -> Outcome {
        // SAFETY: the caller's contract.
        let cache = unsafe { nsr_cache::get(c) }?;
        Ok(if cache.close_once() { nsr_status::NSR_OK } else { nsr_status::NSR_ERR_CLOSED })
    })
}

/// Closes (if needed) and releases a near cache. Must be the last call on
/// `c`; later calls on the same pointer return `NSR_ERR_CLOSED`, a second
/// free and `nsr_cache_free(NULL)` do nothing.
///
/// # Safety
/// `c` NULL or a handle from `nsr_cache_open`, with no call on it running.
#[no_mangle]
pub unsafe extern "C" fn nsr_cache_free(c: *mut nsr_cache) {
    // SAFETY: the caller's contract.
    guard_void(|| unsafe {
        nsr_cache::release(c);
    })
}
