//! Time to live: single calls that store with one, change or read it.
//! Times cross the ABI in milliseconds (as Redis's `PX` / `PEXPIRE` /
//! `PTTL`); `NS_NO_EXPIRY` means never.

use crate::boundary::{guard, key, required, value, Outcome};
use crate::handle::ns_map;
use crate::status::ns_status;
use numashard::{BatchOp, Status, NO_EXPIRY};

/// A time to live meaning "never expires" (`ttl_ms` of stores and EXPIRE).
pub const NS_NO_EXPIRY: u64 = u64::MAX;

/// Milliseconds from C as the engine's nanoseconds: 0 stays 0 (the map's
/// default for stores, "now" for EXPIRE), `NS_NO_EXPIRY` stays never,
/// anything else saturates below it.
pub(crate) fn ttl_ns(ms: u64) -> u64 {
    if ms == NS_NO_EXPIRY {
        NO_EXPIRY
    } else {
        ms.saturating_mul(1_000_000).min(NO_EXPIRY - 1)
    }
}

/// A remaining time to live from the engine (ns, -1 = never) as C's
/// milliseconds, rounded up so that a live entry never reports 0.
pub(crate) fn ttl_ms_out(ns: i64) -> i64 {
    if ns < 0 {
        -1
    } else {
        (ns as u64).div_ceil(1_000_000) as i64
    }
}

/// Runs one op built from the C arguments; the op's status.
fn run<'a>(map: &numashard::Map, mut op: BatchOp<'a>) -> Result<BatchOp<'a>, ns_status> {
    map.batch(std::slice::from_mut(&mut op))?;
    match op.status {
        Status::Ok | Status::NotFound | Status::Exists => Ok(op),
        s => Err(crate::status::ns_status::from(s)),
    }
}

/// A store (`make` builds its op) with a time to live, from C's arguments.
///
/// # Safety
/// As `ns_put`.
unsafe fn store_with_ttl(
    m: *mut ns_map,
    key: *const u8,
    key_len: usize,
    value: *const u8,
    value_len: usize,
    ttl_ms: u64,
    make: for<'a> fn(&'a [u8], &'a [u8]) -> BatchOp<'a>,
) -> ns_status {
    guard(|| -> Outcome {
        // SAFETY: `m` is NULL or a handle from `ns_map_new`, and no `ns_map_free` of it runs
        // meanwhile (this function's contract is `ns_put`'s); `get` rejects NULL and freed handles.
        let map = unsafe { ns_map::get(m) }?;
        // SAFETY: `key` points to `key_len` readable bytes or is NULL with `key_len` 0, by the
        // contract; `key()` rejects NULL with a length, and an oversized length before any read.
        let k = unsafe { self::key(map, key, key_len) }?;
        // SAFETY: `value` points to `value_len` readable bytes or is NULL with `value_len` 0, by the
        // contract; `value()` rejects NULL with a length, and an oversized length before any read.
        let v = unsafe { self::value(map, value, value_len) }?;
        let mut op = make(k, v);
        op.ttl_ns = ttl_ns(ttl_ms);
        Ok(run(map, op)?.status.into())
    })
}

/// Inserts or overwrites a key's value with a time to live: from `ttl_ms`
/// milliseconds on, no read, batch, iteration or length sees the entry.
///
/// Ownership: `key` and `value` are copied; they stay the caller's.
///
/// # Safety
/// As `ns_put`.
///
/// Returns as `ns_put`. `ttl_ms` 0 = the map's `default_ttl_ms`,
/// `NS_NO_EXPIRY` = never.
#[no_mangle]
pub unsafe extern "C" fn ns_put_ttl(
    m: *mut ns_map,
    key: *const u8,
    key_len: usize,
    value: *const u8,
    value_len: usize,
    ttl_ms: u64,
) -> ns_status {
    // SAFETY: the caller's contract, forwarded.
    unsafe { store_with_ttl(m, key, key_len, value, value_len, ttl_ms, |k, v| BatchOp::put(k, v)) }
}

/// Inserts a key with a time to live only if it is absent (or expired).
///
/// Ownership: `key` and `value` are copied; they stay the caller's.
///
/// # Safety
/// As `ns_put`.
///
/// Returns as `ns_put_if_absent`.
#[no_mangle]
pub unsafe extern "C" fn ns_put_if_absent_ttl(
    m: *mut ns_map,
    key: *const u8,
    key_len: usize,
    value: *const u8,
    value_len: usize,
    ttl_ms: u64,
) -> ns_status {
    // SAFETY: the caller's contract, forwarded.
    unsafe { store_with_ttl(m, key, key_len, value, value_len, ttl_ms, |k, v| BatchOp::put_if_absent(k, v)) }
}

/// Sets a key's time to live to `ttl_ms` from now (0 = expire it now,
/// `NS_NO_EXPIRY` = never expire).
///
/// Ownership: `key` stays the caller's.
///
/// # Safety
/// As `ns_delete`.
///
/// Returns `NS_OK`, `NS_NOT_FOUND` (absent or expired; nothing changed),
/// `NS_ERR_INVALID_ARGUMENT`, `NS_ERR_KEY_TOO_LARGE`, `NS_ERR_FULL` (an
/// entry that gains a deadline grows by 8 bytes), `NS_ERR_CLOSED`.
#[no_mangle]
pub unsafe extern "C" fn ns_expire(m: *mut ns_map, key: *const u8, key_len: usize, ttl_ms: u64) -> ns_status {
    guard(|| -> Outcome {
        // SAFETY: `m` is NULL or a handle from `ns_map_new`, and no `ns_map_free` of it runs
        // meanwhile (that must be the last call on `m`); `get` rejects NULL and freed handles.
        let map = unsafe { ns_map::get(m) }?;
        // SAFETY: `key` points to `key_len` readable bytes or is NULL with `key_len` 0, by the
        // contract; `key()` rejects NULL with a length, and an oversized length before any read.
        let k = unsafe { self::key(map, key, key_len) }?;
        let mut op = BatchOp::expire(k, std::time::Duration::ZERO);
        op.ttl_ns = ttl_ns(ttl_ms);
        Ok(run(map, op)?.status.into())
    })
}

/// Makes a key never expire (`ns_expire` with `NS_NO_EXPIRY`).
///
/// # Safety
/// As `ns_delete`.
///
/// Returns as `ns_expire`.
#[no_mangle]
pub unsafe extern "C" fn ns_persist(m: *mut ns_map, key: *const u8, key_len: usize) -> ns_status {
    // SAFETY: the caller's contract, forwarded.
    unsafe { ns_expire(m, key, key_len, NS_NO_EXPIRY) }
}

/// A key's remaining time to live, in milliseconds rounded up (-1 = it
/// never expires).
///
/// Ownership: `key` stays the caller's; `*ttl_ms` is written only on `NS_OK`.
///
/// # Safety
/// As `ns_delete`, and `ttl_ms` must be writable.
///
/// Returns `NS_OK`, `NS_NOT_FOUND`, `NS_ERR_INVALID_ARGUMENT` (`ttl_ms`
/// NULL), `NS_ERR_KEY_TOO_LARGE`, `NS_ERR_CLOSED`.
#[no_mangle]
pub unsafe extern "C" fn ns_ttl(m: *mut ns_map, key: *const u8, key_len: usize, ttl_ms: *mut i64) -> ns_status {
    guard(|| -> Outcome {
        // SAFETY: `m` is NULL or a handle from `ns_map_new`, and no `ns_map_free` of it runs
        // meanwhile (that must be the last call on `m`); `get` rejects NULL and freed handles.
        let map = unsafe { ns_map::get(m) }?;
        let out = required(ttl_ms)?;
        // SAFETY: `key` points to `key_len` readable bytes or is NULL with `key_len` 0, by the
        // contract; `key()` rejects NULL with a length, and an oversized length before any read.
        let k = unsafe { self::key(map, key, key_len) }?;
        let op = run(map, BatchOp::ttl(k))?;
        if op.status == Status::Ok {
            // SAFETY: checked non-NULL, writable by the caller's contract.
            unsafe { out.write(ttl_ms_out(op.out_counter)) };
        }
        Ok(op.status.into())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn milliseconds_map_to_engine_ttls() {
        assert_eq!(ttl_ns(0), 0);
        assert_eq!(ttl_ns(NS_NO_EXPIRY), NO_EXPIRY);
        assert_eq!(ttl_ns(5), 5_000_000);
        assert_eq!(ttl_ns(u64::MAX - 1), NO_EXPIRY - 1);
        assert_eq!(ttl_ms_out(-1), -1);
        assert_eq!(ttl_ms_out(1), 1);
        assert_eq!(ttl_ms_out(2_000_000), 2);
    }
}
