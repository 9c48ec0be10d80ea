//! The library boundary: the panic guard every exported function runs its
//! body in, and the checked conversions of C arguments (pointer + length
//! pairs, required output pointers, text outputs).

use crate::status::ns_status;
use numashard::Map;
use std::ffi::c_char;
use std::panic::{catch_unwind, AssertUnwindSafe};

/// What an exported function's body returns: `Err` carries the status of an
/// early exit, so bodies can use `?` on argument checks and engine calls.
pub type Outcome = Result<ns_status, ns_status>;

/// Runs an exported function's body; a panic becomes `NS_ERR_PANIC` instead
/// of unwinding into C (which would be undefined behaviour).
#[inline]
pub fn guard(body: impl FnOnce() -> Outcome) -> ns_status {
    match catch_unwind(AssertUnwindSafe(body)) {
        Ok(Ok(s)) | Ok(Err(s)) => s,
        Err(_) => ns_status::NS_ERR_PANIC,
    }
}

/// [`guard`] for functions that return something other than a status: a
/// panic returns `on_panic`.
#[inline]
pub fn guard_or<T>(on_panic: T, body: impl FnOnce() -> T) -> T {
    catch_unwind(AssertUnwindSafe(body)).unwrap_or(on_panic)
}

/// [`guard`] for the few functions that return nothing (destructors,
/// initialisers): a panic is swallowed, never unwound into C.
#[inline]
pub fn guard_void(body: impl FnOnce()) {
    let _ = catch_unwind(AssertUnwindSafe(body));
}

/// Fails with `NS_ERR_INVALID_ARGUMENT` when a required output pointer is NULL.
#[inline]
pub fn required<T>(p: *mut T) -> Result<*mut T, ns_status> {
    if p.is_null() {
        Err(ns_status::NS_ERR_INVALID_ARGUMENT)
    } else {
        Ok(p)
    }
}

/// A span of the caller's memory, `len` bytes at `p`, only compared with
/// others, never read through.
#[derive(Clone, Copy, Debug)]
pub struct Span {
    start: usize,
    end: usize,
}

impl Span {
    /// The span `(p, len)`; empty when `len` is 0 (or `p` NULL).
    #[inline]
    pub fn new<T>(p: *const T, len: usize) -> Span {
        let start = p as usize;
        let end = if p.is_null() { start } else { start.saturating_add(len) };
        Span { start, end }
    }

    /// `n` elements of `T` at `p`.
    #[inline]
    pub fn of<T>(p: *const T, n: usize) -> Span {
        Span::new(p, n.saturating_mul(std::mem::size_of::<T>()))
    }

    /// Whether the two share a byte (an empty span shares none).
    #[inline]
    pub fn overlaps(self, other: Span) -> bool {
        self.start < self.end && other.start < other.end && self.start < other.end && other.start < self.end
    }
}

/// `NS_ERR_INVALID_ARGUMENT` when the buffer the call writes shares a byte
/// with memory the call reads or writes through another argument: the one
/// bad input the pointer checks cannot see, refused before anything is
/// read or written.
#[inline]
pub fn apart(written: Span, others: &[Span]) -> Result<(), ns_status> {
    if others.iter().any(|o| written.overlaps(*o)) {
        Err(ns_status::NS_ERR_INVALID_ARGUMENT)
    } else {
        Ok(())
    }
}

/// A byte string the caller passed as `(p, len)`: `(NULL, 0)` and `(p, 0)`
/// are empty; NULL with a length, or a length no allocation can have, is
/// `NS_ERR_INVALID_ARGUMENT`.
///
/// # Safety
/// If `p` is not NULL it must point to `len` readable bytes that stay
/// unchanged for `'a`.
#[inline]
pub unsafe fn bytes<'a>(p: *const u8, len: usize) -> Result<&'a [u8], ns_status> {
    if len == 0 {
        return Ok(&[]);
    }
    if p.is_null() || len > isize::MAX as usize {
        return Err(ns_status::NS_ERR_INVALID_ARGUMENT);
    }
    // SAFETY: non-NULL, and the caller guarantees `len` readable bytes.
    Ok(unsafe { std::slice::from_raw_parts(p, len) })
}

/// A buffer the caller passed as `(p, cap)` for the library to write into;
/// `(NULL, 0)` is an empty buffer (a size query).
///
/// # Safety
/// If `p` is not NULL it must point to `cap` writable bytes that nothing else
/// reads or writes for `'a`.
#[inline]
pub unsafe fn buffer<'a>(p: *mut u8, cap: usize) -> Result<&'a mut [u8], ns_status> {
    if cap == 0 {
        return Ok(&mut []);
    }
    if p.is_null() || cap > isize::MAX as usize {
        return Err(ns_status::NS_ERR_INVALID_ARGUMENT);
    }
    // SAFETY: non-NULL, and the caller guarantees `cap` exclusive writable bytes.
    Ok(unsafe { std::slice::from_raw_parts_mut(p, cap) })
}

/// A key for `map`: checked against `max_key_len` before any byte is read,
/// so an oversized length is `NS_ERR_KEY_TOO_LARGE` without touching memory.
///
/// # Safety
/// As [`bytes`].
#[inline]
pub unsafe fn key<'a>(map: &Map, p: *const u8, len: usize) -> Result<&'a [u8], ns_status> {
    if len > 0 && p.is_null() {
        return Err(ns_status::NS_ERR_INVALID_ARGUMENT);
    }
    if len > map.config().max_key_len {
        return Err(ns_status::NS_ERR_KEY_TOO_LARGE);
    }
    // SAFETY: the caller's contract.
    unsafe { bytes(p, len) }
}

/// A value for `map`, checked against `max_value_len` (see [`key`]).
///
/// # Safety
/// As [`bytes`].
#[inline]
pub unsafe fn value<'a>(map: &Map, p: *const u8, len: usize) -> Result<&'a [u8], ns_status> {
    if len > 0 && p.is_null() {
        return Err(ns_status::NS_ERR_INVALID_ARGUMENT);
    }
    if len > map.config().max_value_len {
        return Err(ns_status::NS_ERR_VALUE_TOO_LARGE);
    }
    // SAFETY: the caller's contract.
    unsafe { bytes(p, len) }
}

/// Copies `text` and a terminating NUL into `(buf, cap)`; `*len` receives the
/// size it needs, NUL included, also when it does not fit
/// (`NS_BUFFER_TOO_SMALL`, buffer untouched).
///
/// # Safety
/// `buf` as in [`buffer`]; `len` NULL or writable.
pub unsafe fn write_text(text: &str, buf: *mut c_char, cap: usize, len: *mut usize) -> Outcome {
    let len = required(len)?;
    // SAFETY: the caller's contract.
    let out = unsafe { buffer(buf.cast(), cap) }?;
    let needed = text.len() + 1;
    if needed > out.len() {
        // SAFETY: checked non-NULL; the caller guarantees it is writable.
        unsafe { len.write(needed) };
        return Ok(ns_status::NS_BUFFER_TOO_SMALL);
    }
    out[..text.len()].copy_from_slice(text.as_bytes());
    out[text.len()] = 0;
    // SAFETY: as above.
    unsafe { len.write(needed) };
    Ok(ns_status::NS_OK)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_panic_becomes_a_status() {
        assert_eq!(guard(|| panic!("boom")), ns_status::NS_ERR_PANIC);
        assert_eq!(guard(|| Err(ns_status::NS_ERR_FULL)), ns_status::NS_ERR_FULL);
        assert_eq!(guard(|| Ok(ns_status::NS_EXISTS)), ns_status::NS_EXISTS);
        guard_void(|| panic!("boom"));
        assert_eq!(guard_or(7, || panic!("boom")), 7);
    }

    #[test]
    fn byte_strings_and_buffers() {
        // SAFETY: NULL / empty inputs only, and a live local buffer.
        unsafe {
            assert_eq!(bytes(std::ptr::null(), 0), Ok(&[][..]));
            assert_eq!(bytes(std::ptr::null(), 1), Err(ns_status::NS_ERR_INVALID_ARGUMENT));
            assert!(buffer(std::ptr::null_mut(), 0).unwrap().is_empty());
            assert!(buffer(std::ptr::null_mut(), 3).is_err());
            let mut b = [7 as c_char; 4];
            let mut n = 0usize;
            assert_eq!(write_text("abcd", b.as_mut_ptr(), 4, &mut n), Ok(ns_status::NS_BUFFER_TOO_SMALL));
            assert_eq!((n, b[0]), (5, 7));
            assert_eq!(write_text("abc", b.as_mut_ptr(), 4, &mut n), Ok(ns_status::NS_OK));
            assert_eq!((n, b[3]), (4, 0));
            assert!(write_text("abc", b.as_mut_ptr(), 4, std::ptr::null_mut()).is_err());
        }
    }
}
