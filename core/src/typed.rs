//! Typed access: a [`Map`] seen with keys and values of Rust types.
//!
//! A map stores bytes. [`Map::typed`] gives a view, [`Typed`], whose calls
//! take and return values of a key type and a value type, each converted by
//! its [`Codec`]. The codecs that come with the crate are the ones the Go and
//! Java bindings use, so all three read the same entries (and snapshots) the
//! same way: strings as their UTF-8 bytes, byte vectors as they are, integers
//! as fixed-size little-endian bytes (a `Typed<_, i64>` reads and writes the
//! counters of [`Map::add`]).
//!
//! ```
//! use numashard::{Config, Map};
//!
//! # fn main() -> numashard::Result<()> {
//! let map = Map::new(Config { shards: 2, ..Config::default() })?;
//! let users = map.typed::<String, u64>();
//! users.put("alice", &42)?;
//! assert_eq!(users.get("alice")?, Some(42));
//! assert_eq!(users.swap("alice", &43)?, Some(42));
//! let mut all = Vec::new();
//! users.range(|name, id| {
//!     all.push((name, id));
//!     true
//! })?;
//! assert_eq!(all, [("alice".to_string(), 43)]);
//! # Ok(())
//! # }
//! ```

use crate::batch::BatchOp;
use crate::error::{Error, Result, Status};
use crate::map::{CasOutcome, Map};
use std::borrow::Borrow;
use std::marker::PhantomData;
use std::time::Duration;

/// How a value is stored as bytes in a map: the half of a [`Codec`] that
/// writes, also for borrowed forms (`str` for `String`, `[u8]` for
/// `Vec<u8>`), so that a `Typed<String, _>` takes `&str` keys.
///
/// A borrowed form must give the same bytes as its owner (as `Hash` must for
/// `HashMap` lookups by a borrowed key).
pub trait Encode {
    /// Calls `f` with the bytes that stand for `self` (no allocation for the
    /// types of this crate: a string's or slice's own bytes, an integer's
    /// bytes on the stack).
    fn with_bytes<R>(&self, f: impl FnOnce(&[u8]) -> R) -> R;
}

/// How a type is stored as bytes in a map, and read back.
///
/// Implement it (and [`Encode`]) for your own types, for example over a
/// serialisation crate: `with_bytes` encodes into a buffer and calls `f`
/// with it; `decode` returns `None` for bytes that are not an encoding of
/// the type.
pub trait Codec: Encode + Sized {
    /// The value `bytes` stand for, or `None` when they stand for none.
    fn decode(bytes: &[u8]) -> Option<Self>;

    /// [`Codec::decode`] of bytes the caller owns (strings and byte vectors
    /// keep the vector instead of copying it).
    fn decode_vec(bytes: Vec<u8>) -> Option<Self> {
        Self::decode(&bytes)
    }
}

impl Encode for [u8] {
    fn with_bytes<R>(&self, f: impl FnOnce(&[u8]) -> R) -> R {
        f(self)
    }
}

impl Encode for str {
    fn with_bytes<R>(&self, f: impl FnOnce(&[u8]) -> R) -> R {
        f(self.as_bytes())
    }
}

impl Encode for Vec<u8> {
    fn with_bytes<R>(&self, f: impl FnOnce(&[u8]) -> R) -> R {
        f(self)
    }
}

impl Encode for String {
    fn with_bytes<R>(&self, f: impl FnOnce(&[u8]) -> R) -> R {
        f(self.as_bytes())
    }
}

impl<const N: usize> Encode for [u8; N] {
    fn with_bytes<R>(&self, f: impl FnOnce(&[u8]) -> R) -> R {
        f(self)
    }
}

impl Codec for Vec<u8> {
    fn decode(bytes: &[u8]) -> Option<Self> {
        Some(bytes.to_vec())
    }
    fn decode_vec(bytes: Vec<u8>) -> Option<Self> {
        Some(bytes)
    }
}

impl Codec for String {
    fn decode(bytes: &[u8]) -> Option<Self> {
        std::str::from_utf8(bytes).ok().map(str::to_owned)
    }
    fn decode_vec(bytes: Vec<u8>) -> Option<Self> {
        String::from_utf8(bytes).ok()
    }
}

impl<const N: usize> Codec for [u8; N] {
    fn decode(bytes: &[u8]) -> Option<Self> {
        bytes.try_into().ok()
    }
}

macro_rules! little_endian {
    ($($t:ty),*) => {$(
        /// Fixed-size, little-endian.
        impl Encode for $t {
            fn with_bytes<R>(&self, f: impl FnOnce(&[u8]) -> R) -> R {
                f(&self.to_le_bytes())
            }
        }

        /// Fixed-size, little-endian.
        impl Codec for $t {
            fn decode(bytes: &[u8]) -> Option<Self> {
                bytes.try_into().ok().map(<$t>::from_le_bytes)
            }
        }
    )*};
}
little_endian!(u8, u16, u32, u64, u128, i8, i16, i32, i64, i128);

/// Values up to this size are read into a buffer on the stack, then
/// decoded: no allocation for fixed-size values.
const STACK_VALUE: usize = 64;

/// A [`Map`] seen with keys of type `K` and values of type `V` (see
/// [`Map::typed`]). Single calls take keys and values by any borrowed
/// form (`&str` for `String`, `&[u8]` for `Vec<u8>`). It borrows the map: any number of views of one map, of
/// any types, may be used at once from any threads. Every call is the
/// map's call of the same name, with the same guarantees. A stored value
/// that `V` cannot decode (or, in [`Typed::range`], a key `K` cannot) is an
/// error of status [`Status::InvalidArgument`] whose detail says so. A read
/// that meets one changes nothing; `take`, `swap` and `get_or_put` return
/// the error after their write has happened, as the map's call would (the
/// entry is removed or replaced; only its old value cannot be returned).
pub struct Typed<'m, K, V> {
    map: &'m Map,
    types: PhantomData<fn(K, V) -> V>,
}

impl<K, V> Clone for Typed<'_, K, V> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<K, V> Copy for Typed<'_, K, V> {}

impl Map {
    /// This map seen with keys of type `K` and values of type `V`, each
    /// converted by its [`Codec`].
    pub fn typed<K: Codec, V: Codec>(&self) -> Typed<'_, K, V> {
        Typed { map: self, types: PhantomData }
    }
}

/// The error of stored bytes (a `what`: key or value) that `T` cannot decode.
fn undecodable<T>(what: &str, len: usize) -> Error {
    Error::with_detail(
        Status::InvalidArgument,
        format!("a stored {what} of {len} bytes does not decode as {}", std::any::type_name::<T>()),
    )
}

/// `bytes` cut at `ends` (each the end of one part, in order).
fn cut<'a>(bytes: &'a [u8], ends: &[usize]) -> Vec<&'a [u8]> {
    let mut start = 0;
    ends.iter()
        .map(|&end| {
            let part = &bytes[start..end];
            start = end;
            part
        })
        .collect()
}

fn decode<V: Codec>(bytes: &[u8]) -> Result<V> {
    V::decode(bytes).ok_or_else(|| undecodable::<V>("value", bytes.len()))
}

fn decode_vec<V: Codec>(bytes: Vec<u8>) -> Result<V> {
    let len = bytes.len();
    V::decode_vec(bytes).ok_or_else(|| undecodable::<V>("value", len))
}

impl<'m, K: Codec, V: Codec> Typed<'m, K, V> {
    /// The map this view reads and writes.
    pub fn map(&self) -> &'m Map {
        self.map
    }

    /// The value of `key`.
    pub fn get<Q: Encode + ?Sized>(&self, key: &Q) -> Result<Option<V>>
    where
        K: Borrow<Q>,
    {
        key.with_bytes(|k| {
            let mut buf = [0u8; STACK_VALUE];
            match self.map.get_into(k, &mut buf)? {
                None => Ok(None),
                Some(n) if n <= STACK_VALUE => decode(&buf[..n]).map(Some),
                // Larger than the stack buffer: read it whole.
                Some(_) => self.map.get(k)?.map(decode_vec).transpose(),
            }
        })
    }

    /// Whether `key` is present.
    pub fn contains_key<Q: Encode + ?Sized>(&self, key: &Q) -> Result<bool>
    where
        K: Borrow<Q>,
    {
        key.with_bytes(|k| Ok(self.map.get_into(k, &mut [])?.is_some()))
    }

    /// Stores `value` under `key`.
    pub fn put<Q: Encode + ?Sized, W: Encode + ?Sized>(&self, key: &Q, value: &W) -> Result<()>
    where
        K: Borrow<Q>,
        V: Borrow<W>,
    {
        key.with_bytes(|k| value.with_bytes(|v| self.map.put(k, v)))
    }

    /// Stores `value` under `key` with a time to live (see [`Map::put_with_ttl`]).
    pub fn put_with_ttl<Q: Encode + ?Sized, W: Encode + ?Sized>(&self, key: &Q, value: &W, ttl: Duration) -> Result<()>
    where
        K: Borrow<Q>,
        V: Borrow<W>,
    {
        key.with_bytes(|k| value.with_bytes(|v| self.map.put_with_ttl(k, v, ttl)))
    }

    /// Stores `value` unless `key` is present; true when it was stored.
    pub fn put_if_absent<Q: Encode + ?Sized, W: Encode + ?Sized>(&self, key: &Q, value: &W) -> Result<bool>
    where
        K: Borrow<Q>,
        V: Borrow<W>,
    {
        key.with_bytes(|k| value.with_bytes(|v| self.map.put_if_absent(k, v)))
    }

    /// The value of `key` when present; otherwise stores `value` and
    /// returns `None` (atomic).
    pub fn get_or_put<Q: Encode + ?Sized, W: Encode + ?Sized>(&self, key: &Q, value: &W) -> Result<Option<V>>
    where
        K: Borrow<Q>,
        V: Borrow<W>,
    {
        key.with_bytes(|k| value.with_bytes(|v| self.map.get_or_put(k, v)))?.map(decode_vec).transpose()
    }

    /// Stores `value` under `key` and returns the value it replaced (atomic).
    pub fn swap<Q: Encode + ?Sized, W: Encode + ?Sized>(&self, key: &Q, value: &W) -> Result<Option<V>>
    where
        K: Borrow<Q>,
        V: Borrow<W>,
    {
        key.with_bytes(|k| value.with_bytes(|v| self.map.swap(k, v)))?.map(decode_vec).transpose()
    }

    /// Removes `key`; true when it was present.
    pub fn delete<Q: Encode + ?Sized>(&self, key: &Q) -> Result<bool>
    where
        K: Borrow<Q>,
    {
        key.with_bytes(|k| self.map.delete(k))
    }

    /// Removes `key` and returns its value (atomic).
    pub fn take<Q: Encode + ?Sized>(&self, key: &Q) -> Result<Option<V>>
    where
        K: Borrow<Q>,
    {
        key.with_bytes(|k| self.map.take(k))?.map(decode_vec).transpose()
    }

    /// Replaces the value of `key` with `value` if it is `expected`
    /// (compared as encoded bytes).
    pub fn compare_and_swap<Q: Encode + ?Sized, W: Encode + ?Sized>(
        &self,
        key: &Q,
        expected: &W,
        value: &W,
    ) -> Result<CasOutcome>
    where
        K: Borrow<Q>,
        V: Borrow<W>,
    {
        key.with_bytes(|k| expected.with_bytes(|e| value.with_bytes(|v| self.map.compare_and_swap(k, e, v))))
    }

    /// Removes `key` if its value is `expected` (compared as encoded bytes).
    pub fn compare_and_delete<Q: Encode + ?Sized, W: Encode + ?Sized>(
        &self,
        key: &Q,
        expected: &W,
    ) -> Result<CasOutcome>
    where
        K: Borrow<Q>,
        V: Borrow<W>,
    {
        key.with_bytes(|k| expected.with_bytes(|e| self.map.compare_and_delete(k, e)))
    }

    /// The values of `keys`, in order, read in one batch.
    pub fn get_many(&self, keys: &[K]) -> Result<Vec<Option<V>>> {
        let mut encoded: Vec<u8> = Vec::new();
        let mut ends = Vec::with_capacity(keys.len());
        for key in keys {
            key.with_bytes(|k| encoded.extend_from_slice(k));
            ends.push(encoded.len());
        }
        self.map.get_many(&cut(&encoded, &ends))?.into_iter().map(|v| v.map(decode_vec).transpose()).collect()
    }

    /// Stores every pair in one batch (see [`Map::batch`]): the first
    /// error of a pair, if any, after every pair was tried.
    pub fn put_many(&self, entries: &[(K, V)]) -> Result<()> {
        let mut bytes: Vec<u8> = Vec::new();
        let mut ends = Vec::with_capacity(2 * entries.len());
        for (key, value) in entries {
            key.with_bytes(|k| bytes.extend_from_slice(k));
            ends.push(bytes.len());
            value.with_bytes(|v| bytes.extend_from_slice(v));
            ends.push(bytes.len());
        }
        let parts = cut(&bytes, &ends);
        let mut ops: Vec<BatchOp<'_>> = parts.chunks(2).map(|kv| BatchOp::put(kv[0], kv[1])).collect();
        self.map.batch(&mut ops)?;
        match ops.iter().find(|op| op.status != Status::Ok) {
            Some(op) => Err(Error::new(op.status)),
            None => Ok(()),
        }
    }

    /// Calls `f` with every entry (see [`Map::iter`] for what is seen) until
    /// it returns false. An entry whose key or value does not decode ends
    /// the walk with an error.
    pub fn range(&self, mut f: impl FnMut(K, V) -> bool) -> Result<()> {
        let mut failed = None;
        self.map.range(|k, v| {
            let Some(key) = K::decode(k) else {
                failed = Some(undecodable::<K>("key", k.len()));
                return false;
            };
            match decode::<V>(v) {
                Ok(value) => f(key, value),
                Err(e) => {
                    failed = Some(e);
                    false
                }
            }
        })?;
        failed.map_or(Ok(()), Err)
    }

    /// Every entry, decoded (see [`Map::iter`] for what is seen). An entry
    /// whose key or value does not decode is an `Err` item and the walk goes
    /// on after it; an error of the map (closed) is the last item.
    pub fn iter(&self) -> Result<impl Iterator<Item = Result<(K, V)>> + 'm> {
        let mut it = self.map.iter()?;
        let mut failed = false;
        Ok(std::iter::from_fn(move || {
            if failed {
                return None; // the map's own error ends the walk
            }
            let item = match it.next_entry() {
                Ok(Some((k, v))) => match (K::decode(k), V::decode(v)) {
                    (Some(k), Some(v)) => Ok((k, v)),
                    (None, _) => Err(undecodable::<K>("key", k.len())),
                    (_, None) => Err(undecodable::<V>("value", v.len())),
                },
                Ok(None) => return None,
                Err(e) => {
                    failed = true;
                    Err(e)
                }
            };
            Some(item)
        }))
    }

    /// Entries in the map.
    pub fn len(&self) -> Result<u64> {
        self.map.len()
    }

    /// Whether the map holds no entry.
    pub fn is_empty(&self) -> Result<bool> {
        self.map.is_empty()
    }
}
