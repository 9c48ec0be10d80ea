//! Whole-map contents: iteration and atomic replacement.

use crate::boundary::{buffer, guard, guard_void, required, Outcome};
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

/// Advances the iterator to the next entry. Calls of `ns_iter_next_many`
/// on the same iterator may come in between.
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
        // An entry ns_iter_next_many had no room for comes first.
        let (k, v) = if h.held.full {
            h.held.full = false;
            h.held.entry()
        } else {
            match h.it.next_entry()? {
                None => return Ok(ns_status::NS_NOT_FOUND),
                Some(e) => e,
            }
        };
        // SAFETY: all checked non-NULL, writable by the caller's contract.
        unsafe {
            key.write(k.as_ptr());
            key_len.write(k.len());
            value.write(v.as_ptr());
            value_len.write(v.len());
        }
        Ok(ns_status::NS_OK)
    })
}

/// Bytes before an entry's key in an `ns_iter_next_many` buffer: its key
/// length and its value length, each a little-endian `uint32_t`.
pub const NS_ITER_ENTRY_HEADER_SIZE: usize = 8;

// Both lengths fit the header's 32 bits: the engine refuses limits above
// this ceiling.
const _: () = assert!(numashard::config::MAX_LEN_CEILING <= u32::MAX as usize);

/// The bytes `(k, v)` takes in an `ns_iter_next_many` buffer.
fn encoded_len(k: &[u8], v: &[u8]) -> usize {
    NS_ITER_ENTRY_HEADER_SIZE + k.len() + v.len()
}

/// Writes `(k, v)` at the start of `out`, which is exactly
/// `encoded_len(k, v)` bytes long.
fn encode(out: &mut [u8], k: &[u8], v: &[u8]) {
    let (lens, body) = out.split_at_mut(NS_ITER_ENTRY_HEADER_SIZE);
    // The `as` casts are lossless (the assertion above).
    lens[..4].copy_from_slice(&(k.len() as u32).to_le_bytes());
    lens[4..].copy_from_slice(&(v.len() as u32).to_le_bytes());
    let (kb, vb) = body.split_at_mut(k.len());
    kb.copy_from_slice(k);
    vb.copy_from_slice(v);
}

/// Advances the iterator by as many entries as fit in the caller's buffer,
/// with the guarantees of `ns_iter_next` (it is the same iterator, and the
/// two calls may be mixed on one `ns_iter`). A binding pays for a crossing
/// into C (cgo, JNI) once per buffer instead of once per entry.
///
/// The entries are copied into `buf` back to back, each as
/// `[key_len: uint32_t LE][value_len: uint32_t LE][key bytes][value bytes]`
/// with no padding or alignment (read the lengths byte-wise or with
/// `memcpy`). `*used` is the sum of `NS_ITER_ENTRY_HEADER_SIZE + key_len +
/// value_len` over the `*n_entries` entries; bytes of `buf` past `*used`
/// are untouched. An entry is never split across calls: the buffer must
/// hold at least the largest entry (a 64 KiB buffer, grown to `*used` on
/// `NS_BUFFER_TOO_SMALL`, is a good start).
///
/// Ownership: `buf` stays the caller's; the entries in it are copies, the
/// caller's to keep.
///
/// # Safety
/// `it` must be NULL or a live iterator from `ns_iter_new`, used by no other
/// thread during the call; `buf` must point to `buf_cap` writable bytes (or
/// be NULL with `buf_cap` 0: a size query for the next entry); `n_entries`
/// and `used` must be writable and overlap nothing else.
///
/// Returns `NS_OK` (`*n_entries` ≥ 1 entries in `buf`, `*used` bytes of it),
/// `NS_BUFFER_TOO_SMALL` (the next entry alone needs more than `buf_cap`:
/// `*used` = the bytes it needs, `buf` and `*n_entries` untouched, and the
/// entry is not consumed: the next call with room for it, or
/// `ns_iter_next`, returns it), `NS_NOT_FOUND` (the end; it stays there),
/// `NS_ERR_CLOSED` (the map was closed or freed; as with `ns_iter_next`, the
/// rest of the chunk already fetched may still be returned first),
/// `NS_ERR_INVALID_ARGUMENT` (`it`, `n_entries` or `used` NULL, or `buf`
/// NULL with `buf_cap` > 0). A call that has filled in some entries when it
/// meets the end or an error returns `NS_OK` with them; the next call
/// meets the end or the error again. `*n_entries` is written only on `NS_OK`,
/// `*used` only on `NS_OK` and `NS_BUFFER_TOO_SMALL`.
#[no_mangle]
pub unsafe extern "C" fn ns_iter_next_many(
    it: *mut ns_iter,
    buf: *mut u8,
    buf_cap: usize,
    n_entries: *mut usize,
    used: *mut usize,
) -> ns_status {
    guard(|| -> Outcome {
        // SAFETY: the caller's contract.
        let h = unsafe { ns_iter::get(it) }?;
        let (n_entries, used) = (required(n_entries)?, required(used)?);
        // SAFETY: the caller's contract.
        let out = unsafe { buffer(buf, buf_cap) }?;
        let (mut n, mut filled) = (0usize, 0usize);
        // Set when an entry did not fit: it is held, and ends this call.
        let mut refused = None;
        if h.held.full {
            let (k, v) = h.held.entry();
            let need = encoded_len(k, v);
            if need <= out.len() {
                encode(&mut out[..need], k, v);
                (n, filled) = (1, need);
                h.held.full = false;
            } else {
                refused = Some(need);
            }
        }
        while refused.is_none() {
            // No entry fits in fewer bytes than a header: stop rather than
            // take one from the engine only to hold it.
            if n > 0 && out.len() - filled < NS_ITER_ENTRY_HEADER_SIZE {
                break;
            }
            let (k, v) = match h.it.next_entry() {
                Ok(Some(e)) => e,
                Ok(None) if n == 0 => return Ok(ns_status::NS_NOT_FOUND),
                Err(e) if n == 0 => return Err(e.into()),
                // The end or an error after some entries: hand those out;
                // the next call meets the end or the error again.
                Ok(None) | Err(_) => break,
            };
            let need = encoded_len(k, v);
            if need <= out.len() - filled {
                encode(&mut out[filled..filled + need], k, v);
                filled += need;
                n += 1;
            } else {
                h.held.hold(k, v);
                refused = Some(need);
            }
        }
        if n == 0 {
            if let Some(need) = refused {
                // SAFETY: checked non-NULL, writable by the caller's contract.
                unsafe { used.write(need) };
                return Ok(ns_status::NS_BUFFER_TOO_SMALL);
            }
        }
        // SAFETY: both checked non-NULL, writable by the caller's contract.
        unsafe {
            n_entries.write(n);
            used.write(filled);
        }
        Ok(ns_status::NS_OK)
    })
}

/// Releases an iterator; allowed before or after its map is closed or freed.
///
/// Ownership: releases what `ns_iter_new` returned, and the entries it lent
/// (including one `ns_iter_next_many` held back for lack of room).
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
/// NULL, `entries` NULL with `n` > 0, `n` over 2^32 - 1, an entry with a
/// NULL pointer and a length), `NS_ERR_KEY_TOO_LARGE`,
/// `NS_ERR_VALUE_TOO_LARGE`, `NS_ERR_FULL` (the new contents exceed the
/// memory limit), `NS_ERR_RESOURCE` (memory or threads refused),
/// `NS_ERR_CLOSED`.
#[no_mangle]
pub unsafe extern "C" fn ns_replace_all(m: *mut ns_map, entries: *const ns_entry, n: usize) -> ns_status {
    guard(|| -> Outcome {
        // SAFETY: `m` is NULL or a handle from `ns_map_new`, and no `ns_map_free` of it runs
        // meanwhile (that must be the last call on `m`); `get` rejects NULL and freed handles.
        let map = unsafe { ns_map::get(m) }?;
        // The engine takes at most 2^32 - 1 entries: refused before
        // anything is allocated for them.
        if n > 0 && (entries.is_null() || n > u32::MAX as usize) {
            return Err(ns_status::NS_ERR_INVALID_ARGUMENT);
        }
        // SAFETY: for `n` > 0, `entries` is non-NULL (checked just above) and points to `n`
        // readable, initialised entries by the contract (so they fit the address space).
        let src: &[ns_entry] = if n == 0 { &[] } else { unsafe { std::slice::from_raw_parts(entries, n) } };
        let mut pairs: Vec<(&[u8], &[u8])> = Vec::new();
        pairs.try_reserve_exact(n).map_err(|_| ns_status::NS_ERR_RESOURCE)?;
        for e in src {
            // SAFETY: each entry's `key` points to `key_len` readable bytes or is NULL with length 0
            // (the field docs the contract points to); `key()` rejects NULL with a length.
            let k = unsafe { crate::boundary::key(map, e.key, e.key_len) }?;
            // SAFETY: likewise `value` for `value_len` bytes; `value()` rejects NULL with a length.
            let v = unsafe { crate::boundary::value(map, e.value, e.value_len) }?;
            pairs.push((k, v));
        }
        map.replace_all(&pairs)?;
        Ok(ns_status::NS_OK)
    })
}
