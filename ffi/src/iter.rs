//! Whole-map contents: iteration and atomic replacement.

use crate::boundary::{guard, guard_void, required, Outcome};
use crate::handle::{ns_iter, ns_map};
use crate::status::ns_status;

/// Opens an iterator over the whole map. It returns every entry present for
/// the whole iteration exactly once; entries written meanwhile at most once,
/// never torn. It holds nothing between calls: an unfinished iterator never
/// blocks writers, `ns_clear` or `ns_map_close`.
///
/// Ownership: `*out` receives a new iterator the caller owns and must release
/// with `ns_iter_free`, also after the map was closed or freed (the iterator
/// keeps what it needs alive).
///
/// # Safety
/// `m` must be NULL or a handle from `ns_map_new`; `out` must be writable.
///
/// Returns `NS_OK` (`*out` set), `NS_ERR_INVALID_ARGUMENT` (`m` or `out`
/// NULL), `NS_ERR_CLOSED`. `*out` is written only on `NS_OK`.
#[no_mangle]
pub unsafe extern "C" fn ns_iter_new(m: *mut ns_map, out: *mut *mut ns_iter) -> ns_status {
    guard(|| -> Outcome {
        // SAFETY: the caller's contract.
        let map = unsafe { ns_map::get(m) }?;
        let out = required(out)?;
        let it = map.iter()?;
        // SAFETY: checked non-NULL, writable by the caller's contract.
        unsafe { out.write(ns_iter::boxed(it)) };
        Ok(ns_status::NS_OK)
    })
}

/// Advances the iterator to the next entry.
///
/// Ownership: `*key` and `*value` are borrowed from the iterator, valid until
/// the next call on it or `ns_iter_free`; never free them.
///
/// # Safety
/// `it` must be NULL or a live iterator from `ns_iter_new`, used by no other
/// thread during the call; the four output pointers must be writable.
///
/// Returns `NS_OK` (the four outputs set; an empty key or value has length 0
/// and a non-NULL pointer), `NS_NOT_FOUND` (the end; it stays there),
/// `NS_ERR_CLOSED` (the map was closed or freed), `NS_ERR_INVALID_ARGUMENT`
/// (`it` or an output NULL). Outputs are written only on `NS_OK`.
#[no_mangle]
pub unsafe extern "C" fn ns_iter_next(
    it: *mut ns_iter,
    key: *mut *const u8,
    key_len: *mut usize,
    value: *mut *const u8,
    value_len: *mut usize,
) -> ns_status {
    guard(|| -> Outcome {
        // SAFETY: the caller's contract.
        let h = unsafe { ns_iter::get(it) }?;
        let (key, key_len) = (required(key)?, required(key_len)?);
        let (value, value_len) = (required(value)?, required(value_len)?);
        match h.it.next_entry()? {
            None => Ok(ns_status::NS_NOT_FOUND),
            Some((k, v)) => {
                // SAFETY: all checked non-NULL, writable by the caller's contract.
                unsafe {
                    key.write(k.as_ptr());
                    key_len.write(k.len());
                    value.write(v.as_ptr());
                    value_len.write(v.len());
                }
                Ok(ns_status::NS_OK)
            }
        }
    })
}

/// Releases an iterator; allowed before or after its map is closed or freed.
///
/// Ownership: releases what `ns_iter_new` returned, and the entries it lent.
///
/// # Safety
/// `it` must be NULL (a no-op) or a live iterator from `ns_iter_new`, not
/// used during or after the call.
#[no_mangle]
pub unsafe extern "C" fn ns_iter_free(it: *mut ns_iter) {
    guard_void(|| {
        // SAFETY: the caller's contract.
        unsafe { ns_iter::release(it) }
    })
}

/// One entry of `ns_replace_all`.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct ns_entry {
    /// The key (NULL with `key_len` 0 = the empty key).
    pub key: *const u8,
    /// The key's length.
    pub key_len: usize,
    /// The value (NULL with `value_len` 0 = the empty value).
    pub value: *const u8,
    /// The value's length.
    pub value_len: usize,
}

/// Atomically replaces the whole contents with `entries` (the "hot reload"):
/// the new contents are built while the old ones keep serving, then every
/// shard switches at once, so no reader sees a mix of old and new. Later
/// duplicates of a key win.
///
/// Ownership: keys and values are copied; `entries` stays the caller's.
///
/// # Safety
/// `m` must be NULL or a handle from `ns_map_new`; `entries` must point to
/// `n` readable `ns_entry`s (or be NULL with `n` 0) whose pointers obey the
/// field docs.
///
/// Returns `NS_OK`, or with nothing changed: `NS_ERR_INVALID_ARGUMENT` (`m`
/// NULL, `entries` NULL with `n` > 0, an entry with a NULL pointer and a
/// length), `NS_ERR_KEY_TOO_LARGE`, `NS_ERR_VALUE_TOO_LARGE`, `NS_ERR_FULL`
/// (the new contents exceed the memory limit), `NS_ERR_CLOSED`.
#[no_mangle]
pub unsafe extern "C" fn ns_replace_all(m: *mut ns_map, entries: *const ns_entry, n: usize) -> ns_status {
    guard(|| -> Outcome {
        // SAFETY (whole body): the caller's contract, checked where it can be.
        let map = unsafe { ns_map::get(m) }?;
        if n > 0 && (entries.is_null() || n > isize::MAX as usize / std::mem::size_of::<ns_entry>()) {
            return Err(ns_status::NS_ERR_INVALID_ARGUMENT);
        }
        let src: &[ns_entry] = if n == 0 { &[] } else { unsafe { std::slice::from_raw_parts(entries, n) } };
        let mut pairs: Vec<(&[u8], &[u8])> = Vec::with_capacity(n);
        for e in src {
            let k = unsafe { crate::boundary::key(map, e.key, e.key_len) }?;
            let v = unsafe { crate::boundary::value(map, e.value, e.value_len) }?;
            pairs.push((k, v));
        }
        map.replace_all(&pairs)?;
        Ok(ns_status::NS_OK)
    })
}
