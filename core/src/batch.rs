//! Operations as values: what a batch carries, and what single calls are
//! turned into when they travel to a shard's owner.

use crate::error::Status;

/// The kind of one operation in a batch.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(i32)]
pub enum OpKind {
    /// Copy the value into `out` (`out_len` = value length; copied only if it fits).
    Get = 0,
    /// Insert or overwrite.
    Put = 1,
    /// Insert only if absent (`Exists` otherwise).
    PutIfAbsent = 2,
    /// Remove (`NotFound` if absent).
    Delete = 3,
    /// Remove and copy the old value into `out`; too small a buffer removes nothing.
    Take = 4,
    /// Replace the value only if it equals `expected`.
    Cas = 5,
    /// Add `delta` to the 8-byte little-endian counter; `out_counter` = new value.
    Add = 6,
    /// Remove only if the value equals `expected` (`Mismatch` / `NotFound` otherwise).
    CompareAndDelete = 7,
    /// Store `value` and copy the previous value into `out`: `Ok` (replaced),
    /// `NotFound` (there was none: inserted); too small a buffer stores
    /// nothing (`BufferTooSmall`, `out_len` = the length needed).
    Swap = 8,
    /// Set the entry's time to live to `ttl_ns` from now (`NO_EXPIRY`:
    /// never expire, "persist"; 0: expire now, removing it). `NotFound` if absent.
    Expire = 9,
    /// The entry's remaining time to live in `out_counter`: nanoseconds, or
    /// -1 when it never expires. `NotFound` if absent.
    Ttl = 10,
}

/// The `ttl_ns` of an op that stores an entry which never expires (even
/// when the map has a default TTL); with `Expire`, it removes the deadline.
pub const NO_EXPIRY: u64 = u64::MAX;

impl OpKind {
    /// The kind with this numeric value, if any.
    pub fn from_i32(v: i32) -> Option<OpKind> {
        Some(match v {
            0 => OpKind::Get,
            1 => OpKind::Put,
            2 => OpKind::PutIfAbsent,
            3 => OpKind::Delete,
            4 => OpKind::Take,
            5 => OpKind::Cas,
            6 => OpKind::Add,
            7 => OpKind::CompareAndDelete,
            8 => OpKind::Swap,
            9 => OpKind::Expire,
            10 => OpKind::Ttl,
            _ => return None,
        })
    }

    /// True for kinds that may change the map.
    pub fn writes(self) -> bool {
        !matches!(self, OpKind::Get | OpKind::Ttl)
    }
}

/// One operation of a batch, with its results written in place.
///
/// Build it with the constructors; after [`Map::batch`](crate::Map::batch)
/// every op has its `status`:
/// `Ok`, `NotFound`, `Exists`, `Mismatch`, `BufferTooSmall` or an error.
#[derive(Debug)]
pub struct BatchOp<'a> {
    /// What to do.
    pub kind: OpKind,
    /// The key.
    pub key: &'a [u8],
    /// The value to store (put, put_if_absent, cas, swap).
    pub value: &'a [u8],
    /// The expected current value (cas, compare_and_delete).
    pub expected: &'a [u8],
    /// The counter delta (add).
    pub delta: i64,
    /// Where get/take copy the value.
    pub out: &'a mut [u8],
    /// Result: the status of this op.
    pub status: Status,
    /// Result: the value's length (get/take), also when `out` was too small.
    pub out_len: usize,
    /// Result: the counter's new value (add); the remaining TTL (ttl).
    pub out_counter: i64,
    /// Time to live of what put, put_if_absent and swap store, in
    /// nanoseconds: 0 = the map's default (none unless configured),
    /// [`NO_EXPIRY`] = never; for `Expire`, the new TTL.
    pub ttl_ns: u64,
    /// When set, get/take also copy the value here (resized to fit).
    pub(crate) out_vec: Option<&'a mut Vec<u8>>,
    /// Routing hash, filled by the map.
    pub(crate) hash: u64,
}

impl<'a> BatchOp<'a> {
    fn new(kind: OpKind, key: &'a [u8]) -> BatchOp<'a> {
        BatchOp {
            kind,
            key,
            value: &[],
            expected: &[],
            delta: 0,
            out: &mut [],
            status: Status::Ok,
            out_len: 0,
            out_counter: 0,
            ttl_ns: 0,
            out_vec: None,
            hash: 0,
        }
    }

    /// This op with a time to live (put, put_if_absent, swap): the entry it
    /// stores expires `ttl` from now. A zero `ttl` means the map's default.
    pub fn with_ttl(self, ttl: std::time::Duration) -> BatchOp<'a> {
        BatchOp { ttl_ns: duration_ns(ttl), ..self }
    }

    /// Sets the entry's time to live to `ttl` from now (zero: expire now).
    pub fn expire(key: &'a [u8], ttl: std::time::Duration) -> BatchOp<'a> {
        BatchOp { ttl_ns: duration_ns(ttl), ..BatchOp::new(OpKind::Expire, key) }
    }

    /// Removes the entry's deadline.
    pub fn persist(key: &'a [u8]) -> BatchOp<'a> {
        BatchOp { ttl_ns: NO_EXPIRY, ..BatchOp::new(OpKind::Expire, key) }
    }

    /// Reads the entry's remaining time to live into `out_counter`.
    pub fn ttl(key: &'a [u8]) -> BatchOp<'a> {
        BatchOp::new(OpKind::Ttl, key)
    }

    /// A get copying into `out`.
    pub fn get(key: &'a [u8], out: &'a mut [u8]) -> BatchOp<'a> {
        BatchOp { out, ..BatchOp::new(OpKind::Get, key) }
    }

    /// A get's outcome once run: its status, and the value's length when
    /// that is `Ok` or `BufferTooSmall` (0 otherwise).
    pub(crate) fn get_outcome(&self) -> (Status, usize) {
        (self.status, if matches!(self.status, Status::Ok | Status::BufferTooSmall) { self.out_len } else { 0 })
    }

    /// A get into an owned vector (cleared, then filled with the value when found).
    pub fn get_vec(key: &'a [u8], out: &'a mut Vec<u8>) -> BatchOp<'a> {
        BatchOp { out_vec: Some(out), ..BatchOp::new(OpKind::Get, key) }
    }

    /// A put.
    pub fn put(key: &'a [u8], value: &'a [u8]) -> BatchOp<'a> {
        BatchOp { value, ..BatchOp::new(OpKind::Put, key) }
    }

    /// A put_if_absent.
    pub fn put_if_absent(key: &'a [u8], value: &'a [u8]) -> BatchOp<'a> {
        BatchOp { value, ..BatchOp::new(OpKind::PutIfAbsent, key) }
    }

    /// A delete.
    pub fn delete(key: &'a [u8]) -> BatchOp<'a> {
        BatchOp::new(OpKind::Delete, key)
    }

    /// A take copying the old value into `out`.
    pub fn take(key: &'a [u8], out: &'a mut [u8]) -> BatchOp<'a> {
        BatchOp { out, ..BatchOp::new(OpKind::Take, key) }
    }

    /// A take into an owned vector.
    pub fn take_vec(key: &'a [u8], out: &'a mut Vec<u8>) -> BatchOp<'a> {
        BatchOp { out_vec: Some(out), ..BatchOp::new(OpKind::Take, key) }
    }

    /// A compare_and_swap.
    pub fn cas(key: &'a [u8], expected: &'a [u8], value: &'a [u8]) -> BatchOp<'a> {
        BatchOp { expected, value, ..BatchOp::new(OpKind::Cas, key) }
    }

    /// A swap copying the previous value into `out`.
    pub fn swap(key: &'a [u8], value: &'a [u8], out: &'a mut [u8]) -> BatchOp<'a> {
        BatchOp { value, out, ..BatchOp::new(OpKind::Swap, key) }
    }

    /// A swap returning the previous value in an owned vector.
    pub fn swap_vec(key: &'a [u8], value: &'a [u8], out: &'a mut Vec<u8>) -> BatchOp<'a> {
        BatchOp { value, out_vec: Some(out), ..BatchOp::new(OpKind::Swap, key) }
    }

    /// A compare_and_delete.
    pub fn compare_and_delete(key: &'a [u8], expected: &'a [u8]) -> BatchOp<'a> {
        BatchOp { expected, ..BatchOp::new(OpKind::CompareAndDelete, key) }
    }

    /// An add.
    pub fn add(key: &'a [u8], delta: i64) -> BatchOp<'a> {
        BatchOp { delta, ..BatchOp::new(OpKind::Add, key) }
    }
}

/// A duration in nanoseconds, below [`NO_EXPIRY`] (saturating); a nonzero
/// duration gives at least 1.
pub(crate) fn duration_ns(d: std::time::Duration) -> u64 {
    d.as_nanos().min(NO_EXPIRY as u128 - 1) as u64
}
