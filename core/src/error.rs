//! One status type for every outcome of every operation, and the error that
//! carries a failing status with a readable message.

use std::ffi::CStr;
use std::fmt;

/// Every outcome an operation can have. The numeric values are the C ABI's
/// `ns_status` values: outcomes below 100, errors from 100 up, never reused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(i32)]
pub enum Status {
    /// The operation succeeded.
    Ok = 0,
    /// The key is not in the map.
    NotFound = 1,
    /// `put_if_absent` found the key already present.
    Exists = 2,
    /// `compare_and_swap` found a value other than the expected one.
    Mismatch = 3,
    /// The caller's buffer is smaller than the value; the needed size is reported.
    BufferTooSmall = 4,
    /// An argument is invalid (NULL pointer with a length, unknown kind, out-of-range index).
    InvalidArgument = 100,
    /// The key is longer than the map's `max_key_len`.
    KeyTooLarge = 101,
    /// The value is longer than the map's `max_value_len`.
    ValueTooLarge = 102,
    /// Storing would exceed the map's memory limit; nothing was changed.
    Full = 103,
    /// The map is closed.
    Closed = 104,
    /// `add` found a stored value that is not an 8-byte counter.
    NotACounter = 105,
    /// The topology could not be loaded or the placement is impossible.
    Topology = 106,
    /// A panic was caught at the library boundary.
    Panic = 107,
    /// The operating system refused a resource (memory, threads).
    Resource = 108,
    /// Reading or writing a snapshot failed in the operating system (the
    /// detail says why: no space left on the device, permission denied…).
    Io = 120,
    /// The directory holds no snapshot.
    NoSnapshot = 121,
    /// A file is not a numashard snapshot.
    NotASnapshot = 122,
    /// The snapshot was written in a format version this build does not read.
    SnapshotVersion = 123,
    /// A snapshot file is corrupt: checksum mismatch, truncation or bad structure.
    SnapshotCorrupt = 124,
    /// Another save into the same map or directory is in progress.
    SnapshotBusy = 125,
}

impl Status {
    /// All statuses, in value order.
    pub const ALL: [Status; 20] = [
        Status::Ok,
        Status::NotFound,
        Status::Exists,
        Status::Mismatch,
        Status::BufferTooSmall,
        Status::InvalidArgument,
        Status::KeyTooLarge,
        Status::ValueTooLarge,
        Status::Full,
        Status::Closed,
        Status::NotACounter,
        Status::Topology,
        Status::Panic,
        Status::Resource,
        Status::Io,
        Status::NoSnapshot,
        Status::NotASnapshot,
        Status::SnapshotVersion,
        Status::SnapshotCorrupt,
        Status::SnapshotBusy,
    ];

    /// A short, stable, human-readable description.
    pub const fn as_str(self) -> &'static str {
        match self.as_c_str().to_str() {
            Ok(s) => s,
            Err(_) => panic!("status texts are ASCII"),
        }
    }

    /// [`Status::as_str`] as a NUL-terminated string (what the C API hands
    /// out): the one place the texts are written.
    pub const fn as_c_str(self) -> &'static CStr {
        match self {
            Status::Ok => c"ok",
            Status::NotFound => c"key not found",
            Status::Exists => c"key already exists",
            Status::Mismatch => c"current value differs from the expected value",
            Status::BufferTooSmall => c"buffer too small for the value",
            Status::InvalidArgument => c"invalid argument",
            Status::KeyTooLarge => c"key longer than max_key_len",
            Status::ValueTooLarge => c"value longer than max_value_len",
            Status::Full => c"memory limit reached",
            Status::Closed => c"map is closed",
            Status::NotACounter => c"stored value is not an 8-byte counter",
            Status::Topology => c"topology could not be loaded or placement is impossible",
            Status::Panic => c"internal panic caught at the library boundary",
            Status::Resource => c"the operating system refused a resource",
            Status::Io => c"snapshot I/O failed",
            Status::NoSnapshot => c"no snapshot in the directory",
            Status::NotASnapshot => c"not a numashard snapshot",
            Status::SnapshotVersion => c"snapshot format version not supported",
            Status::SnapshotCorrupt => c"snapshot corrupt (checksum mismatch, truncation or bad structure)",
            Status::SnapshotBusy => c"another save into this map or directory is in progress",
        }
    }

    /// True for the error range (100 and up).
    pub const fn is_error(self) -> bool {
        self as i32 >= 100
    }

    /// The status with this numeric value, if any.
    pub fn from_i32(v: i32) -> Option<Status> {
        Status::ALL.iter().copied().find(|s| *s as i32 == v)
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A failed operation: its status and, where useful, a detail.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Error {
    status: Status,
    detail: Option<String>,
}

impl Error {
    /// An error with only a status.
    pub const fn new(status: Status) -> Error {
        Error { status, detail: None }
    }

    /// An error with a status and a detail message.
    pub fn with_detail(status: Status, detail: impl Into<String>) -> Error {
        Error { status, detail: Some(detail.into()) }
    }

    /// The status this error carries.
    pub fn status(&self) -> Status {
        self.status
    }

    /// The detail message, if any.
    pub fn detail(&self) -> Option<&str> {
        self.detail.as_deref()
    }
}

impl From<Status> for Error {
    fn from(status: Status) -> Error {
        Error::new(status)
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.detail {
            Some(d) => write!(f, "{}: {}", self.status, d),
            None => write!(f, "{}", self.status),
        }
    }
}

impl std::error::Error for Error {}

/// The result type of every fallible operation.
pub type Result<T> = std::result::Result<T, Error>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_stable_and_unique() {
        let mut seen = std::collections::HashSet::new();
        for s in Status::ALL {
            assert!(seen.insert(s as i32));
            assert_eq!(Status::from_i32(s as i32), Some(s));
            assert!(!s.as_str().is_empty());
        }
        assert_eq!(Status::Ok as i32, 0);
        assert_eq!(Status::BufferTooSmall as i32, 4);
        assert_eq!(Status::InvalidArgument as i32, 100);
        assert!(Status::Closed.is_error());
        assert!(!Status::NotFound.is_error());
        assert_eq!(Status::from_i32(99), None);
    }
}
