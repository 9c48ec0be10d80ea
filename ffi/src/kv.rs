//! Single-key operations.

use crate::boundary::{apart, buffer, bytes, guard, guard_void, key, required, value, Outcome, Span};
use crate::handle::ns_map;
use crate::status::ns_status;
use numashard::{BatchOp, CasOutcome, Status};

/// The status of a read into a caller buffer of `cap` bytes that found a
/// value of `found` bytes (or nothing): `NS_OK`, `NS_BUFFER_TOO_SMALL` (the
/// engine copied and changed nothing) or `NS_NOT_FOUND`; the length is
/// written on the first two.
///
/// # Safety
/// `len_out` must be valid for a write.
unsafe fn buffer_read(found: Option<usize>, cap: usize, len_out: *mut usize) -> ns_status {
    match found {
        None => ns_status::NS_NOT_FOUND,
        Some(n) => {
            // SAFETY: the caller's contract.
            unsafe { len_out.write(n) };
            if n > cap {
                ns_status::NS_BUFFER_TOO_SMALL
            } else {
                ns_status::NS_OK
            }
        }
    }
}

/// Copies the value of a key into the caller's buffer.
///
/// Ownership: `key` and `buf` stay the caller's; nothing is allocated.
///
/// # Safety
/// `m` must be NULL or a handle from `ns_map_new`; `key` must point to
/// `key_len` readable bytes (or be NULL with `key_len` 0); `buf` must point
/// to `buf_cap` writable bytes (or be NULL with `buf_cap` 0: a size query);
/// `value_len` must be writable.
///
/// Returns `NS_OK` (value copied, `*value_len` = its length),
/// `NS_BUFFER_TOO_SMALL` (`*value_len` = the length needed, `buf` untouched),
/// `NS_NOT_FOUND`, `NS_ERR_INVALID_ARGUMENT` (also when `buf` overlaps
/// `key` or `value_len`: refused, nothing read or written),
/// `NS_ERR_KEY_TOO_LARGE`,
/// `NS_ERR_CLOSED`. `*value_len` is written only on `NS_OK` and
/// `NS_BUFFER_TOO_SMALL`.
#[no_mangle]
pub unsafe extern "C" fn ns_get(
    m: *mut ns_map,
    key: *const u8,
    key_len: usize,
    buf: *mut u8,
    buf_cap: usize,
    value_len: *mut usize,
) -> ns_status {
    guard(|| -> Outcome {
        // SAFETY: `m` is NULL or a handle from `ns_map_new`, and no `ns_map_free` of it runs
        // meanwhile (that must be the last call on `m`); `get` rejects NULL and freed handles.
        let map = unsafe { ns_map::get(m) }?;
        let value_len = required(value_len)?;
        // SAFETY: `key` points to `key_len` readable bytes or is NULL with `key_len` 0, by the
        // contract; `key()` rejects NULL with a length, and an oversized length before any read.
        let k = unsafe { self::key(map, key, key_len) }?;
        // Checked once the lengths are (an absurd one is NS_ERR_KEY_TOO_LARGE).
        apart(Span::new(buf, buf_cap), &[Span::new(key, key_len), Span::of(value_len, 1)])?;
        // SAFETY: `buf` points to `buf_cap` writable bytes, or is NULL with `buf_cap` 0, by the
        // contract, and overlaps `key` and `value_len` nowhere (checked); `buffer` rejects NULL with
        // a capacity.
        let out = unsafe { buffer(buf, buf_cap) }?;
        // SAFETY: `value_len` passed `required` (non-NULL, writable by the contract).
        Ok(unsafe { buffer_read(map.get_into(k, out)?, buf_cap, value_len) })
    })
}

/// Hands a value to C as a library-owned allocation (released by
/// `ns_bytes_free`): its address goes to `*value`, its length to `*value_len`.
///
/// # Safety
/// `value` and `value_len` must be valid for writes (non-NULL, aligned).
unsafe fn give(v: Vec<u8>, value: *mut *mut u8, value_len: *mut usize) {
    let b = v.into_boxed_slice();
    let n = b.len();
    let p = Box::into_raw(b) as *mut u8;
    // SAFETY: both valid for writes (the caller's contract).
    unsafe {
        value.write(p);
        value_len.write(n);
    }
}

/// Returns a copy of the value of a key in a new allocation.
///
/// Ownership: on `NS_OK` `*value` is a new allocation of `*value_len` bytes
/// owned by the caller, to be released with `ns_bytes_free(*value,
/// *value_len)` (never `free`); it is not NULL, even for an empty value.
///
/// # Safety
/// `m` must be NULL or a handle from `ns_map_new`; `key` must point to
/// `key_len` readable bytes (or be NULL with `key_len` 0); `value` and
/// `value_len` must be writable.
///
/// Returns `NS_OK` (`*value`, `*value_len` set), `NS_NOT_FOUND`,
/// `NS_ERR_INVALID_ARGUMENT`, `NS_ERR_KEY_TOO_LARGE`, `NS_ERR_CLOSED`.
/// Outputs are written only on `NS_OK`.
#[no_mangle]
pub unsafe extern "C" fn ns_get_owned(
    m: *mut ns_map,
    key: *const u8,
    key_len: usize,
    value: *mut *mut u8,
    value_len: *mut usize,
) -> ns_status {
    guard(|| -> Outcome {
        // SAFETY: `m` is NULL or a handle from `ns_map_new`, and no `ns_map_free` of it runs
        // meanwhile (that must be the last call on `m`); `get` rejects NULL and freed handles.
        let map = unsafe { ns_map::get(m) }?;
        let (value, value_len) = (required(value)?, required(value_len)?);
        // SAFETY: `key` points to `key_len` readable bytes or is NULL with `key_len` 0, by the
        // contract; `key()` rejects NULL with a length, and an oversized length before any read.
        let k = unsafe { self::key(map, key, key_len) }?;
        match map.get(k)? {
            None => Ok(ns_status::NS_NOT_FOUND),
            Some(v) => {
                // SAFETY: `value` and `value_len` passed `required` (non-NULL) and are writable by the
                // contract.
                unsafe { give(v, value, value_len) };
                Ok(ns_status::NS_OK)
            }
        }
    })
}

/// Releases a value returned by `ns_get_owned` or `ns_take_owned`.
///
/// Ownership: takes back what the library gave.
///
/// # Safety
/// `p` must be NULL (a no-op) or a pointer returned by `ns_get_owned` /
/// `ns_take_owned` not yet released, and `len` the length returned with it.
#[no_mangle]
pub unsafe extern "C" fn ns_bytes_free(p: *mut u8, len: usize) {
    guard_void(|| {
        if !p.is_null() {
            // SAFETY: made by Box::<[u8]>::into_raw with this length (`give`).
            drop(unsafe { Box::from_raw(std::ptr::slice_from_raw_parts_mut(p, len)) });
        }
    })
}

/// Inserts or overwrites a key's value.
///
/// Ownership: `key` and `value` are copied; they stay the caller's.
///
/// # Safety
/// `m` must be NULL or a handle from `ns_map_new`; `key` / `value` must
/// point to `key_len` / `value_len` readable bytes (or be NULL with length 0).
///
/// Returns `NS_OK`, `NS_ERR_INVALID_ARGUMENT`, `NS_ERR_KEY_TOO_LARGE`,
/// `NS_ERR_VALUE_TOO_LARGE`, `NS_ERR_FULL` (memory limit; nothing changed),
/// `NS_ERR_CLOSED`.
#[no_mangle]
pub unsafe extern "C" fn ns_put(
    m: *mut ns_map,
    key: *const u8,
    key_len: usize,
    value: *const u8,
    value_len: usize,
) -> ns_status {
    guard(|| -> Outcome {
        // SAFETY: `m` is NULL or a handle from `ns_map_new`, and no `ns_map_free` of it runs
        // meanwhile (that must be the last call on `m`); `get` rejects NULL and freed handles.
        let map = unsafe { ns_map::get(m) }?;
        // SAFETY: `key` points to `key_len` readable bytes or is NULL with `key_len` 0, by the
        // contract; `key()` rejects NULL with a length, and an oversized length before any read.
        let k = unsafe { self::key(map, key, key_len) }?;
        // SAFETY: `value` points to `value_len` readable bytes or is NULL with `value_len` 0, by the
        // contract; `value()` rejects NULL with a length, and an oversized length before any read.
        let v = unsafe { self::value(map, value, value_len) }?;
        map.put(k, v)?;
        Ok(ns_status::NS_OK)
    })
}

/// Inserts a key only if it is absent (Java's `putIfAbsent`).
///
/// Ownership: `key` and `value` are copied; they stay the caller's.
///
/// # Safety
/// As `ns_put`.
///
/// Returns `NS_OK` (inserted), `NS_EXISTS` (present; nothing changed),
/// `NS_ERR_INVALID_ARGUMENT`, `NS_ERR_KEY_TOO_LARGE`,
/// `NS_ERR_VALUE_TOO_LARGE`, `NS_ERR_FULL`, `NS_ERR_CLOSED`.
#[no_mangle]
pub unsafe extern "C" fn ns_put_if_absent(
    m: *mut ns_map,
    key: *const u8,
    key_len: usize,
    value: *const u8,
    value_len: usize,
) -> ns_status {
    guard(|| -> Outcome {
        // SAFETY: `m` is NULL or a handle from `ns_map_new`, and no `ns_map_free` of it runs
        // meanwhile (that must be the last call on `m`); `get` rejects NULL and freed handles.
        let map = unsafe { ns_map::get(m) }?;
        // SAFETY: `key` points to `key_len` readable bytes or is NULL with `key_len` 0, by the
        // contract; `key()` rejects NULL with a length, and an oversized length before any read.
        let k = unsafe { self::key(map, key, key_len) }?;
        // SAFETY: `value` points to `value_len` readable bytes or is NULL with `value_len` 0, by the
        // contract; `value()` rejects NULL with a length, and an oversized length before any read.
        let v = unsafe { self::value(map, value, value_len) }?;
        Ok(if map.put_if_absent(k, v)? { ns_status::NS_OK } else { ns_status::NS_EXISTS })
    })
}

/// Inserts a key if absent, else copies the present value into `buf`, in one
/// atomic step (Go's `LoadOrStore`).
///
/// Ownership: `key` and `value` are copied; `buf` stays the caller's.
///
/// # Safety
/// As `ns_put`; `buf` must point to `buf_cap` writable bytes (or be NULL
/// with `buf_cap` 0); `existing_len` must be writable. A `buf` overlapping
/// another argument is `NS_ERR_INVALID_ARGUMENT` (nothing read or written).
///
/// Returns `NS_OK` (inserted; `buf` and `*existing_len` untouched),
/// `NS_EXISTS` (present, nothing changed; its value copied into `buf`,
/// `*existing_len` = its length), `NS_BUFFER_TOO_SMALL` (present, nothing
/// changed, `buf` untouched; `*existing_len` = the length needed — call
/// again with a larger buffer), `NS_ERR_INVALID_ARGUMENT`,
/// `NS_ERR_KEY_TOO_LARGE`, `NS_ERR_VALUE_TOO_LARGE`, `NS_ERR_FULL`,
/// `NS_ERR_CLOSED`.
#[no_mangle]
pub unsafe extern "C" fn ns_get_or_put(
    m: *mut ns_map,
    key: *const u8,
    key_len: usize,
    value: *const u8,
    value_len: usize,
    buf: *mut u8,
    buf_cap: usize,
    existing_len: *mut usize,
) -> ns_status {
    guard(|| -> Outcome {
        // SAFETY: `m` is NULL or a handle from `ns_map_new`, and no `ns_map_free` of it runs
        // meanwhile (that must be the last call on `m`); `get` rejects NULL and freed handles.
        let map = unsafe { ns_map::get(m) }?;
        let existing_len = required(existing_len)?;
        // SAFETY: `key` points to `key_len` readable bytes or is NULL with `key_len` 0, by the
        // contract; `key()` rejects NULL with a length, and an oversized length before any read.
        let k = unsafe { self::key(map, key, key_len) }?;
        // SAFETY: `value` points to `value_len` readable bytes or is NULL with `value_len` 0, by the
        // contract; `value()` rejects NULL with a length, and an oversized length before any read.
        let v = unsafe { self::value(map, value, value_len) }?;
        // Checked once the lengths are (an absurd one is NS_ERR_KEY_TOO_LARGE).
        apart(
            Span::new(buf, buf_cap),
            &[Span::new(key, key_len), Span::new(value, value_len), Span::of(existing_len, 1)],
        )?;
        // SAFETY: `buf` points to `buf_cap` writable bytes, or is NULL with `buf_cap` 0, by the
        // contract, and overlaps every other argument nowhere (checked); `buffer` rejects NULL with
        // a capacity.
        let out = unsafe { buffer(buf, buf_cap) }?;
        // The engine copies the present value into a non-empty `out` when it
        // fits, and reports its length either way.
        let mut op = BatchOp::put_if_absent(k, v);
        op.out = out;
        map.batch(std::slice::from_mut(&mut op))?;
        match op.status {
            Status::Exists => {
                // SAFETY: `existing_len` passed `required` (non-NULL), and is writable by the contract.
                unsafe { existing_len.write(op.out_len) };
                Ok(if op.out_len > buf_cap { ns_status::NS_BUFFER_TOO_SMALL } else { ns_status::NS_EXISTS })
            }
            s => Ok(s.into()),
        }
    })
}

/// Removes a key.
///
/// Ownership: `key` stays the caller's.
///
/// # Safety
/// `m` must be NULL or a handle from `ns_map_new`; `key` must point to
/// `key_len` readable bytes (or be NULL with `key_len` 0).
///
/// Returns `NS_OK` (removed), `NS_NOT_FOUND`, `NS_ERR_INVALID_ARGUMENT`,
/// `NS_ERR_KEY_TOO_LARGE`, `NS_ERR_CLOSED`.
#[no_mangle]
pub unsafe extern "C" fn ns_delete(m: *mut ns_map, key: *const u8, key_len: usize) -> ns_status {
    guard(|| -> Outcome {
        // SAFETY: `m` is NULL or a handle from `ns_map_new`, and no `ns_map_free` of it runs
        // meanwhile (that must be the last call on `m`); `get` rejects NULL and freed handles.
        let map = unsafe { ns_map::get(m) }?;
        // SAFETY: `key` points to `key_len` readable bytes or is NULL with `key_len` 0, by the
        // contract; `key()` rejects NULL with a length, and an oversized length before any read.
        let k = unsafe { self::key(map, key, key_len) }?;
        Ok(if map.delete(k)? { ns_status::NS_OK } else { ns_status::NS_NOT_FOUND })
    })
}

/// Removes a key and copies its value into the caller's buffer (Go's
/// `LoadAndDelete`). A buffer too small for the value removes nothing.
///
/// Ownership: `key` and `buf` stay the caller's.
///
/// # Safety
/// As `ns_get`.
///
/// Returns `NS_OK` (removed; value copied, `*value_len` = its length),
/// `NS_BUFFER_TOO_SMALL` (nothing removed, `buf` untouched; `*value_len` =
/// the length needed), `NS_NOT_FOUND`, `NS_ERR_INVALID_ARGUMENT`,
/// `NS_ERR_KEY_TOO_LARGE`, `NS_ERR_CLOSED`. `*value_len` is written only on
/// `NS_OK` and `NS_BUFFER_TOO_SMALL`.
#[no_mangle]
pub unsafe extern "C" fn ns_take(
    m: *mut ns_map,
    key: *const u8,
    key_len: usize,
    buf: *mut u8,
    buf_cap: usize,
    value_len: *mut usize,
) -> ns_status {
    guard(|| -> Outcome {
        // SAFETY: `m` is NULL or a handle from `ns_map_new`, and no `ns_map_free` of it runs
        // meanwhile (that must be the last call on `m`); `get` rejects NULL and freed handles.
        let map = unsafe { ns_map::get(m) }?;
        let value_len = required(value_len)?;
        // SAFETY: `key` points to `key_len` readable bytes or is NULL with `key_len` 0, by the
        // contract; `key()` rejects NULL with a length, and an oversized length before any read.
        let k = unsafe { self::key(map, key, key_len) }?;
        // Checked once the lengths are (an absurd one is NS_ERR_KEY_TOO_LARGE).
        apart(Span::new(buf, buf_cap), &[Span::new(key, key_len), Span::of(value_len, 1)])?;
        // SAFETY: `buf` points to `buf_cap` writable bytes, or is NULL with `buf_cap` 0, by the
        // contract, and overlaps `key` and `value_len` nowhere (checked); `buffer` rejects NULL with
        // a capacity.
        let out = unsafe { buffer(buf, buf_cap) }?;
        // SAFETY: `value_len` passed `required` (non-NULL, writable by the contract).
        Ok(unsafe { buffer_read(map.take_into(k, out)?, buf_cap, value_len) })
    })
}

/// Removes a key and returns its value in a new allocation.
///
/// Ownership: as `ns_get_owned`: release `*value` with `ns_bytes_free`.
///
/// # Safety
/// As `ns_get_owned`.
///
/// Returns `NS_OK` (removed; `*value`, `*value_len` set), `NS_NOT_FOUND`,
/// `NS_ERR_INVALID_ARGUMENT`, `NS_ERR_KEY_TOO_LARGE`, `NS_ERR_CLOSED`.
#[no_mangle]
pub unsafe extern "C" fn ns_take_owned(
    m: *mut ns_map,
    key: *const u8,
    key_len: usize,
    value: *mut *mut u8,
    value_len: *mut usize,
) -> ns_status {
    guard(|| -> Outcome {
        // SAFETY: `m` is NULL or a handle from `ns_map_new`, and no `ns_map_free` of it runs
        // meanwhile (that must be the last call on `m`); `get` rejects NULL and freed handles.
        let map = unsafe { ns_map::get(m) }?;
        let (value, value_len) = (required(value)?, required(value_len)?);
        // SAFETY: `key` points to `key_len` readable bytes or is NULL with `key_len` 0, by the
        // contract; `key()` rejects NULL with a length, and an oversized length before any read.
        let k = unsafe { self::key(map, key, key_len) }?;
        match map.take(k)? {
            None => Ok(ns_status::NS_NOT_FOUND),
            Some(v) => {
                // SAFETY: `value` and `value_len` passed `required` (non-NULL) and are writable by the
                // contract.
                unsafe { give(v, value, value_len) };
                Ok(ns_status::NS_OK)
            }
        }
    })
}

/// Replaces a key's value only if it currently equals `expected`.
///
/// Ownership: every buffer is copied or only read; they stay the caller's.
///
/// # Safety
/// `m` must be NULL or a handle from `ns_map_new`; `key`, `expected` and
/// `value` must point to as many readable bytes as their lengths say (or be
/// NULL with length 0).
///
/// Returns `NS_OK` (swapped), `NS_MISMATCH` (the current value differs;
/// nothing changed), `NS_NOT_FOUND` (absent; nothing changed),
/// `NS_ERR_INVALID_ARGUMENT`, `NS_ERR_KEY_TOO_LARGE`,
/// `NS_ERR_VALUE_TOO_LARGE`, `NS_ERR_FULL`, `NS_ERR_CLOSED`.
#[no_mangle]
pub unsafe extern "C" fn ns_compare_and_swap(
    m: *mut ns_map,
    key: *const u8,
    key_len: usize,
    expected: *const u8,
    expected_len: usize,
    value: *const u8,
    value_len: usize,
) -> ns_status {
    guard(|| -> Outcome {
        // SAFETY: `m` is NULL or a handle from `ns_map_new`, and no `ns_map_free` of it runs
        // meanwhile (that must be the last call on `m`); `get` rejects NULL and freed handles.
        let map = unsafe { ns_map::get(m) }?;
        // SAFETY: `key` points to `key_len` readable bytes or is NULL with `key_len` 0, by the
        // contract; `key()` rejects NULL with a length, and an oversized length before any read.
        let k = unsafe { self::key(map, key, key_len) }?;
        // SAFETY: `expected` points to `expected_len` readable bytes or is NULL with length 0, by
        // the contract; `bytes` rejects NULL with a length.
        let e = unsafe { bytes(expected, expected_len) }?;
        // SAFETY: `value` points to `value_len` readable bytes or is NULL with `value_len` 0, by the
        // contract; `value()` rejects NULL with a length, and an oversized length before any read.
        let v = unsafe { self::value(map, value, value_len) }?;
        Ok(match map.compare_and_swap(k, e, v)? {
            CasOutcome::Swapped => ns_status::NS_OK,
            CasOutcome::Mismatch => ns_status::NS_MISMATCH,
            CasOutcome::NotFound => ns_status::NS_NOT_FOUND,
        })
    })
}

/// Stores a value and copies the previous one into the caller's buffer, in
/// one atomic step (Go's `sync.Map.Swap`, Java's `Map.put`). A buffer too
/// small for the previous value stores nothing.
///
/// Ownership: `key`, `value` and `buf` stay the caller's.
///
/// # Safety
/// `m` must be NULL or a handle from `ns_map_new`; `key` and `value` must
/// point to as many readable bytes as their lengths say (or be NULL with
/// length 0); `buf` to `buf_cap` writable bytes (or be NULL with `buf_cap`
/// 0); `prev_len` must be writable. A `buf` overlapping another argument
/// is `NS_ERR_INVALID_ARGUMENT` (nothing read or written).
///
/// Returns `NS_OK` (replaced; the previous value copied, `*prev_len` = its
/// length), `NS_NOT_FOUND` (there was no previous value: inserted),
/// `NS_BUFFER_TOO_SMALL` (nothing stored, `buf` untouched; `*prev_len` = the
/// length needed), `NS_ERR_INVALID_ARGUMENT`, `NS_ERR_KEY_TOO_LARGE`,
/// `NS_ERR_VALUE_TOO_LARGE`, `NS_ERR_FULL`, `NS_ERR_CLOSED`. `*prev_len` is
/// written only on `NS_OK` and `NS_BUFFER_TOO_SMALL`.
#[no_mangle]
pub unsafe extern "C" fn ns_swap(
    m: *mut ns_map,
    key: *const u8,
    key_len: usize,
    value: *const u8,
    value_len: usize,
    buf: *mut u8,
    buf_cap: usize,
    prev_len: *mut usize,
) -> ns_status {
    guard(|| -> Outcome {
        // SAFETY: `m` is NULL or a handle from `ns_map_new`, and no `ns_map_free` of it runs
        // meanwhile (that must be the last call on `m`); `get` rejects NULL and freed handles.
        let map = unsafe { ns_map::get(m) }?;
        let prev_len = required(prev_len)?;
        // SAFETY: `key` points to `key_len` readable bytes or is NULL with `key_len` 0, by the
        // contract; `key()` rejects NULL with a length, and an oversized length before any read.
        let k = unsafe { self::key(map, key, key_len) }?;
        // SAFETY: `value` points to `value_len` readable bytes or is NULL with `value_len` 0, by the
        // contract; `value()` rejects NULL with a length, and an oversized length before any read.
        let v = unsafe { self::value(map, value, value_len) }?;
        // Checked once the lengths are (an absurd one is NS_ERR_KEY_TOO_LARGE).
        apart(Span::new(buf, buf_cap), &[Span::new(key, key_len), Span::new(value, value_len), Span::of(prev_len, 1)])?;
        // SAFETY: `buf` points to `buf_cap` writable bytes, or is NULL with `buf_cap` 0, by the
        // contract, and overlaps every other argument nowhere (checked); `buffer` rejects NULL with
        // a capacity.
        let out = unsafe { buffer(buf, buf_cap) }?;
        // SAFETY: `prev_len` passed `required` (non-NULL, writable by the contract).
        Ok(unsafe { buffer_read(map.swap_into(k, v, out)?, buf_cap, prev_len) })
    })
}

/// Removes a key only if its current value equals `expected` (atomically:
/// no write comes between the comparison and the removal) — what
/// `sync.Map.CompareAndDelete` and `ConcurrentMap.remove(key, value)` need.
///
/// Ownership: `key` and `expected` are only read; they stay the caller's.
///
/// # Safety
/// `m` must be NULL or a handle from `ns_map_new`; `key` and `expected` must
/// point to as many readable bytes as their lengths say (or be NULL with
/// length 0).
///
/// Returns `NS_OK` (removed), `NS_MISMATCH` (the current value differs;
/// nothing changed), `NS_NOT_FOUND` (absent), `NS_ERR_INVALID_ARGUMENT`,
/// `NS_ERR_KEY_TOO_LARGE`, `NS_ERR_CLOSED`.
#[no_mangle]
pub unsafe extern "C" fn ns_compare_and_delete(
    m: *mut ns_map,
    key: *const u8,
    key_len: usize,
    expected: *const u8,
    expected_len: usize,
) -> ns_status {
    guard(|| -> Outcome {
        // SAFETY: `m` is NULL or a handle from `ns_map_new`, and no `ns_map_free` of it runs
        // meanwhile (that must be the last call on `m`); `get` rejects NULL and freed handles.
        let map = unsafe { ns_map::get(m) }?;
        // SAFETY: `key` points to `key_len` readable bytes or is NULL with `key_len` 0, by the
        // contract; `key()` rejects NULL with a length, and an oversized length before any read.
        let k = unsafe { self::key(map, key, key_len) }?;
        // SAFETY: `expected` points to `expected_len` readable bytes or is NULL with length 0, by
        // the contract; `bytes` rejects NULL with a length.
        let e = unsafe { bytes(expected, expected_len) }?;
        Ok(match map.compare_and_delete(k, e)? {
            CasOutcome::Swapped => ns_status::NS_OK,
            CasOutcome::Mismatch => ns_status::NS_MISMATCH,
            CasOutcome::NotFound => ns_status::NS_NOT_FOUND,
        })
    })
}

/// Adds `delta` to the counter at a key and returns the new value. A counter
/// is 8 little-endian bytes; a missing key counts as 0 (and is created);
/// overflow wraps.
///
/// Ownership: `key` stays the caller's.
///
/// # Safety
/// `m` must be NULL or a handle from `ns_map_new`; `key` must point to
/// `key_len` readable bytes (or be NULL with `key_len` 0); `new_value` must
/// be writable.
///
/// Returns `NS_OK` (`*new_value` set), `NS_ERR_NOT_A_COUNTER` (the stored
/// value is not 8 bytes; nothing changed), `NS_ERR_INVALID_ARGUMENT`,
/// `NS_ERR_KEY_TOO_LARGE`, `NS_ERR_VALUE_TOO_LARGE` (max_value_len < 8),
/// `NS_ERR_FULL`, `NS_ERR_CLOSED`.
#[no_mangle]
pub unsafe extern "C" fn ns_add(
    m: *mut ns_map,
    key: *const u8,
    key_len: usize,
    delta: i64,
    new_value: *mut i64,
) -> ns_status {
    guard(|| -> Outcome {
        // SAFETY: `m` is NULL or a handle from `ns_map_new`, and no `ns_map_free` of it runs
        // meanwhile (that must be the last call on `m`); `get` rejects NULL and freed handles.
        let map = unsafe { ns_map::get(m) }?;
        let new_value = required(new_value)?;
        // SAFETY: `key` points to `key_len` readable bytes or is NULL with `key_len` 0, by the
        // contract; `key()` rejects NULL with a length, and an oversized length before any read.
        let k = unsafe { self::key(map, key, key_len) }?;
        if map.config().max_value_len < 8 {
            return Err(ns_status::NS_ERR_VALUE_TOO_LARGE);
        }
        let n = map.add(k, delta)?;
        // SAFETY: `new_value` passed `required` (non-NULL), and is writable by the contract.
        unsafe { new_value.write(n) };
        Ok(ns_status::NS_OK)
    })
}
