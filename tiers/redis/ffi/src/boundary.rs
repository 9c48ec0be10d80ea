//! The library boundary: the panic guard around every exported body and the
//! checked conversions of C arguments.

use crate::status::nsr_status;
use std::ffi::c_char;
use std::panic::{catch_unwind, AssertUnwindSafe};

/// What an exported body returns: `Err` is an early exit's status.
pub(crate) type Outcome = Result<nsr_status, nsr_status>;

/// Runs an exported body; a panic becomes `NSR_ERR_PANIC` instead of
/// unwinding into C.
pub(crate) fn guard(body: impl FnOnce() -> Outcome) -> nsr_status {
    match catch_unwind(AssertUnwindSafe(body)) {
        Ok(Ok(s)) | Ok(Err(s)) => s,
        Err(_) => nsr_status::NSR_ERR_PANIC,
    }
}

/// Why a call with a message buffer failed: its status and, when the tier
/// said more than the status does (the server's error text, the broken
/// connection's cause), that reason.
pub(crate) struct Failure {
    pub(crate) status: nsr_status,
    pub(crate) why: Option<String>,
}

impl From<nsr_status> for Failure {
    fn from(status: nsr_status) -> Self {
        Failure { status, why: None }
    }
}

impl From<numashard_redis::Error> for Failure {
    fn from(e: numashard_redis::Error) -> Self {
        let why = Some(e.to_string());
        Failure { status: e.into(), why }
    }
}

/// What an exported body with a message buffer returns.
pub(crate) type Detailed = Result<nsr_status, Failure>;

/// [`guard`] for functions with a message buffer `(msg, msg_cap)`: checks
/// it first (NULL with a capacity, or a capacity no allocation can have, is
/// `NSR_ERR_INVALID_ARGUMENT`, and the body does not run); then, on an error, the reason (the tier's, else the
/// status's text) is copied into `msg`, truncated and NUL-terminated; on
/// any other status it receives an empty string.
///
/// The buffer is made a slice only once the body is done, so no reference
/// to it exists while the body reads or writes the other arguments.
///
/// # Safety
/// `msg` NULL, or pointing to `msg_cap` writable bytes that nothing else
/// uses once the body has returned.
pub(crate) unsafe fn guard_msg(msg: *mut c_char, msg_cap: usize, body: impl FnOnce() -> Detailed) -> nsr_status {
    // What `buffer` would reject later, rejected before the body runs.
    if (msg.is_null() && msg_cap > 0) || msg_cap > isize::MAX as usize {
        return nsr_status::NSR_ERR_INVALID_ARGUMENT;
    }
    let (status, why) = match catch_unwind(AssertUnwindSafe(body)) {
        Ok(Ok(s)) => (s, None),
        Ok(Err(f)) => (f.status, f.why),
        Err(_) => (nsr_status::NSR_ERR_PANIC, None),
    };
    let text = match &why {
        Some(w) => w.as_str(),
        None if status as i32 >= 100 => crate::status::status_text(status as i32).to_str().unwrap_or(""),
        None => "",
    };
    // SAFETY: `msg` is NULL with `msg_cap` 0 (skipped) or points to `msg_cap` writable bytes nothing
    // else uses now that the body has returned (the caller's contract).
    guard_void(|| unsafe { write_message(text, msg, msg_cap) });
    status
}

/// [`guard`] for functions returning something else: a panic returns `on_panic`.
pub(crate) fn guard_or<T>(on_panic: T, body: impl FnOnce() -> T) -> T {
    catch_unwind(AssertUnwindSafe(body)).unwrap_or(on_panic)
}

/// [`guard`] for functions returning nothing: a panic is swallowed.
pub(crate) fn guard_void(body: impl FnOnce()) {
    let _ = catch_unwind(AssertUnwindSafe(body));
}

/// A required output pointer: NULL is `NSR_ERR_INVALID_ARGUMENT`.
pub(crate) fn required<T>(p: *mut T) -> Result<*mut T, nsr_status> {
    if p.is_null() {
        Err(nsr_status::NSR_ERR_INVALID_ARGUMENT)
    } else {
        Ok(p)
    }
}

/// A byte string passed as `(p, len)` whose length was already checked
/// against its limit: `(NULL, 0)` is empty, NULL with a length is invalid.
///
/// # Safety
/// If `p` is not NULL it must point to `len` readable bytes unchanged for `'a`.
pub(crate) unsafe fn bytes<'a>(p: *const u8, len: usize) -> Result<&'a [u8], nsr_status> {
    if len == 0 {
        return Ok(&[]);
    }
    if p.is_null() || len > isize::MAX as usize {
        return Err(nsr_status::NSR_ERR_INVALID_ARGUMENT);
    }
    // SAFETY: non-NULL, and the caller guarantees `len` readable bytes.
    Ok(unsafe { std::slice::from_raw_parts(p, len) })
}

/// A buffer passed as `(p, cap)` for the library to write into.
///
/// # Safety
/// If `p` is not NULL it must point to `cap` writable bytes nothing else uses for `'a`.
pub(crate) unsafe fn buffer<'a>(p: *mut u8, cap: usize) -> Result<&'a mut [u8], nsr_status> {
    if cap == 0 {
        return Ok(&mut []);
    }
    if p.is_null() || cap > isize::MAX as usize {
        return Err(nsr_status::NSR_ERR_INVALID_ARGUMENT);
    }
    // SAFETY: non-NULL, and the caller guarantees `cap` exclusive writable bytes.
    Ok(unsafe { std::slice::from_raw_parts_mut(p, cap) })
}

/// Copies `text` into `(buf, cap)`, truncated to fit and NUL-terminated;
/// `(NULL, 0)` skips it.
///
/// # Safety
/// As [`buffer`].
pub(crate) unsafe fn write_message(text: &str, buf: *mut c_char, cap: usize) {
    // SAFETY: the caller's contract.
    if let Ok(out) = unsafe { buffer(buf.cast(), cap) } {
        copy_message(text, out);
    }
}

/// Copies `text` into `out`, truncated to fit (at a character boundary) and
/// NUL-terminated; an empty `out` gets nothing.
fn copy_message(text: &str, out: &mut [u8]) {
    if out.is_empty() {
        return;
    }
    let mut n = text.len().min(out.len() - 1);
    while !text.is_char_boundary(n) {
        n -= 1;
    }
    out[..n].copy_from_slice(&text.as_bytes()[..n]);
    out[n] = 0;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn panics_become_statuses_and_messages_are_truncated() {
        assert_eq!(guard(|| panic!("boom")), nsr_status::NSR_ERR_PANIC);
        assert_eq!(guard_or(3, || panic!("boom")), 3);
        guard_void(|| panic!("boom"));
        let mut b = [7 as c_char; 5];
        // SAFETY: a live local buffer of the given size, or (NULL, 0).
        unsafe {
            write_message("héllo", b.as_mut_ptr(), 3); // "hé" would need 4 with the NUL
            assert_eq!(std::ffi::CStr::from_ptr(b.as_ptr()).to_bytes(), b"h");
            write_message("x", std::ptr::null_mut(), 0);
            assert!(bytes(std::ptr::null(), 1).is_err());
            assert!(buffer(std::ptr::null_mut(), 2).is_err());
        }
    }
}
