//! Status codes, their text, and the library version.

use crate::boundary::guard_or;
use numashard::{Error, Status};
use std::ffi::{c_char, CStr};

/// The outcome of a call. Outcomes are below 100, errors are 100 and up;
/// values are never reused.
#[repr(i32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ns_status {
    /// The call succeeded.
    NS_OK = 0,
    /// The key is not in the map (or an iterator is at its end).
    NS_NOT_FOUND = 1,
    /// put_if_absent / get_or_put found the key already present.
    NS_EXISTS = 2,
    /// compare_and_swap found a value other than the expected one.
    NS_MISMATCH = 3,
    /// The caller's buffer is too small; the needed size was reported and the
    /// buffer left untouched.
    NS_BUFFER_TOO_SMALL = 4,
    /// An argument is invalid: NULL handle, NULL pointer with a non-zero
    /// length, NULL output pointer, unknown kind, out-of-range index, bad config.
    NS_ERR_INVALID_ARGUMENT = 100,
    /// The key is longer than the map's max_key_len.
    NS_ERR_KEY_TOO_LARGE = 101,
    /// The value is longer than the map's max_value_len.
    NS_ERR_VALUE_TOO_LARGE = 102,
    /// Storing would exceed the map's memory limit; nothing was changed.
    NS_ERR_FULL = 103,
    /// The map is closed (or its handle was freed).
    NS_ERR_CLOSED = 104,
    /// add found a stored value that is not an 8-byte counter.
    NS_ERR_NOT_A_COUNTER = 105,
    /// The topology could not be loaded or the placement is impossible.
    NS_ERR_TOPOLOGY = 106,
    /// A panic was caught at the library boundary (a bug: please report it).
    NS_ERR_PANIC = 107,
    /// The operating system refused a resource (memory, threads).
    NS_ERR_RESOURCE = 108,
    /// Reading or writing a snapshot failed in the operating system (no
    /// space left, permission denied…; the message buffer says which).
    NS_ERR_IO = 120,
    /// The directory holds no snapshot.
    NS_ERR_NO_SNAPSHOT = 121,
    /// A file is not a numashard snapshot.
    NS_ERR_NOT_A_SNAPSHOT = 122,
    /// The snapshot was written in a format version this library does not read.
    NS_ERR_SNAPSHOT_VERSION = 123,
    /// A snapshot file is corrupt: checksum mismatch, truncation or bad structure.
    NS_ERR_SNAPSHOT_CORRUPT = 124,
    /// Another save into the same map or directory is in progress.
    NS_ERR_SNAPSHOT_BUSY = 125,
}

/// An `ns_status` as C passes it in: any int32 value. The header names it
/// `ns_status` (cbindgen.toml renames it); Rust reads it as a plain integer,
/// so an unknown value is never turned into an enum.
pub type ns_status_in = i32;

impl From<Status> for ns_status {
    fn from(s: Status) -> ns_status {
        match s {
            Status::Ok => ns_status::NS_OK,
            Status::NotFound => ns_status::NS_NOT_FOUND,
            Status::Exists => ns_status::NS_EXISTS,
            Status::Mismatch => ns_status::NS_MISMATCH,
            Status::BufferTooSmall => ns_status::NS_BUFFER_TOO_SMALL,
            Status::InvalidArgument => ns_status::NS_ERR_INVALID_ARGUMENT,
            Status::KeyTooLarge => ns_status::NS_ERR_KEY_TOO_LARGE,
            Status::ValueTooLarge => ns_status::NS_ERR_VALUE_TOO_LARGE,
            Status::Full => ns_status::NS_ERR_FULL,
            Status::Closed => ns_status::NS_ERR_CLOSED,
            Status::NotACounter => ns_status::NS_ERR_NOT_A_COUNTER,
            Status::Topology => ns_status::NS_ERR_TOPOLOGY,
            Status::Panic => ns_status::NS_ERR_PANIC,
            Status::Resource => ns_status::NS_ERR_RESOURCE,
            Status::Io => ns_status::NS_ERR_IO,
            Status::NoSnapshot => ns_status::NS_ERR_NO_SNAPSHOT,
            Status::NotASnapshot => ns_status::NS_ERR_NOT_A_SNAPSHOT,
            Status::SnapshotVersion => ns_status::NS_ERR_SNAPSHOT_VERSION,
            Status::SnapshotCorrupt => ns_status::NS_ERR_SNAPSHOT_CORRUPT,
            Status::SnapshotBusy => ns_status::NS_ERR_SNAPSHOT_BUSY,
        }
    }
}

impl From<Error> for ns_status {
    fn from(e: Error) -> ns_status {
        e.status().into()
    }
}

/// The text of a status value (the engine's [`Status::as_c_str`]), or
/// "unknown status" for a value that is no status.
fn status_text(status: i32) -> &'static CStr {
    Status::from_i32(status).map_or(c"unknown status", Status::as_c_str)
}

/// A short, readable, English description of `status`.
///
/// Ownership: the string is static; never free it.
///
/// # Safety
/// None: any value may be passed, including values that are not an
/// `ns_status`.
///
/// Returns a NUL-terminated string, never NULL; `"unknown status"` for
/// values that are not a status.
#[no_mangle]
pub extern "C" fn ns_status_str(status: ns_status_in) -> *const c_char {
    guard_or(c"unknown status".as_ptr(), || status_text(status).as_ptr())
}

/// Major version of the library this header belongs to.
pub const NS_VERSION_MAJOR: u32 = 0;
/// Minor version of the library this header belongs to.
pub const NS_VERSION_MINOR: u32 = 1;
/// Patch version of the library this header belongs to.
pub const NS_VERSION_PATCH: u32 = 0;
/// The version as one number, MAJOR * 1000000 + MINOR * 1000 + PATCH, for
/// `#if` comparisons; compare with `ns_version_number()` at run time.
pub const NS_VERSION_NUMBER: u32 = NS_VERSION_MAJOR * 1_000_000 + NS_VERSION_MINOR * 1_000 + NS_VERSION_PATCH;

/// The version of the loaded library, `"MAJOR.MINOR.PATCH"`.
///
/// Ownership: the string is static; never free it.
///
/// # Safety
/// None.
///
/// Returns a NUL-terminated string, never NULL.
#[no_mangle]
pub extern "C" fn ns_version() -> *const c_char {
    const VERSION: &CStr = match CStr::from_bytes_with_nul(concat!(env!("CARGO_PKG_VERSION"), "\0").as_bytes()) {
        Ok(v) => v,
        Err(_) => panic!("the package version contains a NUL"),
    };
    VERSION.as_ptr()
}

/// The version of the loaded library as one number (see `NS_VERSION_NUMBER`),
/// to check at run time that the library matches the header.
///
/// # Safety
/// None.
#[no_mangle]
pub extern "C" fn ns_version_number() -> u32 {
    NS_VERSION_NUMBER
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_status_matches_the_engine() {
        for s in Status::ALL {
            let ours = ns_status::from(s);
            assert_eq!(ours as i32, s as i32, "{s:?}");
            // SAFETY: ns_status_str returns a static NUL-terminated string.
            let text = unsafe { CStr::from_ptr(ns_status_str(s as i32)) };
            assert_eq!(text, s.as_c_str(), "{s:?}");
        }
        for v in [-1, 5, 99, 109, 119, 126, i32::MIN, i32::MAX] {
            // SAFETY: as above.
            assert_eq!(unsafe { CStr::from_ptr(ns_status_str(v)) }, c"unknown status");
        }
    }

    #[test]
    fn version_constants_match_the_package() {
        let parse = |s: &str| s.parse::<u32>().unwrap();
        assert_eq!(NS_VERSION_MAJOR, parse(env!("CARGO_PKG_VERSION_MAJOR")));
        assert_eq!(NS_VERSION_MINOR, parse(env!("CARGO_PKG_VERSION_MINOR")));
        assert_eq!(NS_VERSION_PATCH, parse(env!("CARGO_PKG_VERSION_PATCH")));
        // SAFETY: ns_version returns a static NUL-terminated string.
        let v = unsafe { CStr::from_ptr(ns_version()) }.to_str().unwrap();
        assert_eq!(v, format!("{NS_VERSION_MAJOR}.{NS_VERSION_MINOR}.{NS_VERSION_PATCH}"));
        let (ma, mi, pa) = (NS_VERSION_MAJOR, NS_VERSION_MINOR, NS_VERSION_PATCH);
        assert_eq!(ns_version_number(), ma * 1_000_000 + mi * 1_000 + pa);
    }
}
