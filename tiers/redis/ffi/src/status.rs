//! Status codes and their text.

use crate::boundary::guard_or;
use numashard_redis::Error;
use std::ffi::{c_char, CStr};

/// The outcome of a call. Outcomes are below 100, errors 100 and up; the
/// values shared with `numashard.h`'s `ns_status` mean the same, the
/// tier's own errors are 140 and up. Values are never reused.
#[repr(i32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum nsr_status {
    /// The call succeeded.
    NSR_OK = 0,
    /// The server has no such key (`nsr_get`, `nsr_get_many`), or had none
    /// to delete (`nsr_delete`).
    NSR_NOT_FOUND = 1,
    /// The caller's buffer is too small; the needed size was reported and
    /// the buffer left untouched.
    NSR_BUFFER_TOO_SMALL = 4,
    /// An argument is invalid: NULL handle, NULL pointer with a non-zero
    /// length, NULL output pointer, uninitialised config.
    NSR_ERR_INVALID_ARGUMENT = 100,
    /// The key is empty or longer than the cache's `max_key_len`; nothing was sent.
    NSR_ERR_KEY_TOO_LARGE = 101,
    /// The value is longer than the cache's `max_value_len`; nothing was sent.
    NSR_ERR_VALUE_TOO_LARGE = 102,
    /// The cache is closed (or its handle was freed).
    NSR_ERR_CLOSED = 104,
    /// The local map's topology could not be loaded or its placement is impossible.
    NSR_ERR_TOPOLOGY = 106,
    /// A panic was caught at the library boundary (a bug: please report it).
    NSR_ERR_PANIC = 107,
    /// The operating system refused a resource (memory, threads).
    NSR_ERR_RESOURCE = 108,
    /// The connection to the server failed or broke (refused, time-out, the
    /// server went away). The near cache was flushed; later calls reconnect.
    NSR_ERR_CONNECTION = 140,
    /// The server answered with an error (`WRONGTYPE`, `OOM`, ...); nothing
    /// local changed except dropping the key's local copy.
    NSR_ERR_SERVER = 141,
    /// The server refused RESP3 (`HELLO 3`), which invalidations need.
    NSR_ERR_RESP3_UNSUPPORTED = 142,
    /// `CLIENT TRACKING` was refused or its invalidations did not arrive in
    /// time (also while the invalidation connection reconnects): nothing is
    /// served locally until they do.
    NSR_ERR_TRACKING_UNCONFIRMED = 143,
    /// The configuration is invalid (no server, bad address, Cluster slots
    /// not covered); the message buffer of `nsr_cache_open` says why.
    NSR_ERR_CONFIG = 144,
    /// The local map failed in a way not listed above.
    NSR_ERR_LOCAL = 145,
}

/// An `nsr_status` in C memory the library writes to (`nsr_get_many`'s
/// `statuses`): the header names it `nsr_status` (cbindgen.toml renames
/// it); Rust sees a plain integer, so whatever bytes the caller's array
/// held before are never taken for an enum.
pub type nsr_status_in = i32;

impl From<Error> for nsr_status {
    fn from(e: Error) -> nsr_status {
        match e {
            Error::Resp3Unsupported(_) => nsr_status::NSR_ERR_RESP3_UNSUPPORTED,
            Error::TrackingUnconfirmed(_) => nsr_status::NSR_ERR_TRACKING_UNCONFIRMED,
            Error::Connection(_) => nsr_status::NSR_ERR_CONNECTION,
            Error::Server(_) => nsr_status::NSR_ERR_SERVER,
            Error::KeyTooLarge { .. } => nsr_status::NSR_ERR_KEY_TOO_LARGE,
            Error::ValueTooLarge { .. } => nsr_status::NSR_ERR_VALUE_TOO_LARGE,
            Error::Closed => nsr_status::NSR_ERR_CLOSED,
            Error::Config(_) => nsr_status::NSR_ERR_CONFIG,
            Error::Local(e) => match e.status() {
                numashard::Status::Topology => nsr_status::NSR_ERR_TOPOLOGY,
                numashard::Status::Resource => nsr_status::NSR_ERR_RESOURCE,
                numashard::Status::Closed => nsr_status::NSR_ERR_CLOSED,
                numashard::Status::InvalidArgument => nsr_status::NSR_ERR_CONFIG,
                _ => nsr_status::NSR_ERR_LOCAL,
            },
            // A future kind of error: reported, never mistaken for success.
            #[allow(unreachable_patterns)]
            _ => nsr_status::NSR_ERR_LOCAL,
        }
    }
}

pub(crate) fn status_text(status: i32) -> &'static CStr {
    match status {
        0 => c"ok",
        1 => c"key not found",
        4 => c"buffer too small for the value",
        100 => c"invalid argument",
        101 => c"key empty or longer than max_key_len",
        102 => c"value longer than max_value_len",
        104 => c"near cache is closed",
        106 => c"topology could not be loaded or placement is impossible",
        107 => c"internal panic caught at the library boundary",
        108 => c"the operating system refused a resource",
        140 => c"connection to the server failed (near cache flushed)",
        141 => c"the server answered with an error",
        142 => c"server refused RESP3 (HELLO 3), needed for CLIENT TRACKING",
        143 => c"client tracking not confirmed (refused, or invalidations not arriving)",
        144 => c"invalid configuration",
        145 => c"the local map failed",
        _ => c"unknown status",
    }
}

/// A short, readable, English description of `status`.
///
/// Ownership: the string is static; never free it.
///
/// # Safety
/// None: any value may be passed.
///
/// Returns a NUL-terminated string, never NULL; `"unknown status"` for
/// values that are not a status.
#[no_mangle]
pub extern "C" fn nsr_status_str(status: i32) -> *const c_char {
    guard_or(c"unknown status".as_ptr(), || status_text(status).as_ptr())
}

/// The version of the loaded library, `"MAJOR.MINOR.PATCH"` (the same as
/// numashard's).
///
/// Ownership: the string is static; never free it.
///
/// # Safety
/// None.
#[no_mangle]
pub extern "C" fn nsr_version() -> *const c_char {
    const VERSION: &CStr = match CStr::from_bytes_with_nul(concat!(env!("CARGO_PKG_VERSION"), "\0").as_bytes()) {
        Ok(v) => v,
        Err(_) => panic!("the package version contains a NUL"),
    };
    VERSION.as_ptr()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_status_has_its_text_and_shared_values_match_numashard() {
        use nsr_status::*;
        for s in [
            NSR_OK,
            NSR_NOT_FOUND,
            NSR_BUFFER_TOO_SMALL,
            NSR_ERR_INVALID_ARGUMENT,
            NSR_ERR_KEY_TOO_LARGE,
            NSR_ERR_VALUE_TOO_LARGE,
            NSR_ERR_CLOSED,
            NSR_ERR_TOPOLOGY,
            NSR_ERR_PANIC,
            NSR_ERR_RESOURCE,
            NSR_ERR_CONNECTION,
            NSR_ERR_SERVER,
            NSR_ERR_RESP3_UNSUPPORTED,
            NSR_ERR_TRACKING_UNCONFIRMED,
            NSR_ERR_CONFIG,
            NSR_ERR_LOCAL,
        ] {
            assert_ne!(status_text(s as i32), c"unknown status", "{s:?}");
        }
        for (ours, engine) in [
            (NSR_NOT_FOUND, numashard::Status::NotFound),
            (NSR_BUFFER_TOO_SMALL, numashard::Status::BufferTooSmall),
            (NSR_ERR_INVALID_ARGUMENT, numashard::Status::InvalidArgument),
            (NSR_ERR_KEY_TOO_LARGE, numashard::Status::KeyTooLarge),
            (NSR_ERR_VALUE_TOO_LARGE, numashard::Status::ValueTooLarge),
            (NSR_ERR_CLOSED, numashard::Status::Closed),
            (NSR_ERR_TOPOLOGY, numashard::Status::Topology),
            (NSR_ERR_PANIC, numashard::Status::Panic),
            (NSR_ERR_RESOURCE, numashard::Status::Resource),
        ] {
            assert_eq!(ours as i32, engine as i32, "{ours:?}");
        }
        for v in [-1, 2, 3, 99, 109, 139, 146, i32::MIN, i32::MAX] {
            assert_eq!(status_text(v), c"unknown status");
        }
        // SAFETY: static NUL-terminated strings.
        let v = unsafe { CStr::from_ptr(nsr_version()) }.to_str().unwrap();
        assert_eq!(v, env!("CARGO_PKG_VERSION"));
    }
}
