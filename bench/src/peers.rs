//! The peers numashard is measured against, each storing `Box<[u8]>` values
//! under `Box<[u8]>` keys (byte strings of any size, like numashard) and
//! hashing with foldhash, numashard's hash family.
//!
//! Each peer gets its fastest reasonable path: lookups by `&[u8]` (no key
//! allocation), overwrites in place when the map hands out `&mut` and the
//! length is unchanged, and a read-only check before any call that needs an
//! owned key. papaya's values are immutable by design, so its overwrites
//! allocate a new value (and its owned-key calls a new key).

use crate::engine::{add_counter, Engine, Op, Reply};
use crossbeam_utils::CachePadded;
use foldhash::fast::{FixedState, RandomState};
use numashard::Status;
use std::collections::HashMap;
use std::hash::BuildHasher;
use std::sync::RwLock;

type Bytes = Box<[u8]>;

/// Copies `value` into `out` (the caller guarantees it fits) and reports its length.
fn copy_out(value: &[u8], out: &mut [u8]) -> Reply {
    out[..value.len()].copy_from_slice(value);
    Reply::value(value.len())
}

/// Overwrites `slot` with `value`, reusing its allocation when the length is unchanged.
fn overwrite(slot: &mut Bytes, value: &[u8]) {
    if slot.len() == value.len() {
        slot.copy_from_slice(value);
    } else {
        *slot = value.into();
    }
}

/// Applies an `add` to a value the caller holds exclusively.
fn add_in_place(slot: &mut Bytes, delta: i64) -> Reply {
    match add_counter(Some(slot), delta) {
        Some(n) => {
            slot.copy_from_slice(&n.to_le_bytes());
            Reply::counter(n)
        }
        None => Reply::status(Status::NotACounter),
    }
}

/// Applies a `compare_and_swap` to a value the caller holds exclusively.
fn cas_in_place(slot: &mut Bytes, expected: &[u8], value: &[u8]) -> Reply {
    if **slot == *expected {
        overwrite(slot, value);
        Reply::status(Status::Ok)
    } else {
        Reply::status(Status::Mismatch)
    }
}

fn status_if(ok: bool, otherwise: Status) -> Reply {
    Reply::status(if ok { Status::Ok } else { otherwise })
}

/// `dashmap::DashMap` (sharded `RwLock`s around hashbrown tables).
pub struct DashMapEngine {
    map: dashmap::DashMap<Bytes, Bytes, RandomState>,
}

impl DashMapEngine {
    /// An empty map pre-sized for `capacity` entries.
    pub fn with_capacity(capacity: usize) -> DashMapEngine {
        DashMapEngine { map: dashmap::DashMap::with_capacity_and_hasher(capacity, RandomState::default()) }
    }
}

impl Engine for DashMapEngine {
    fn execute(&self, op: &Op<'_>, out: &mut [u8]) -> Reply {
        use dashmap::mapref::entry::Entry;
        let m = &self.map;
        match *op {
            Op::Get(k) => m.get(k).map_or(Reply::status(Status::NotFound), |v| copy_out(&v, out)),
            Op::Put(k, v) => {
                match m.get_mut(k) {
                    Some(mut slot) => overwrite(&mut slot, v),
                    None => {
                        m.insert(k.into(), v.into());
                    }
                }
                Reply::status(Status::Ok)
            }
            Op::PutIfAbsent(k, v) => {
                if m.contains_key(k) {
                    return Reply::status(Status::Exists);
                }
                match m.entry(k.into()) {
                    Entry::Occupied(_) => Reply::status(Status::Exists),
                    Entry::Vacant(e) => {
                        e.insert(v.into());
                        Reply::status(Status::Ok)
                    }
                }
            }
            Op::Delete(k) => status_if(m.remove(k).is_some(), Status::NotFound),
            Op::Take(k) => m.remove(k).map_or(Reply::status(Status::NotFound), |(_, v)| copy_out(&v, out)),
            Op::Cas { key, expected, value } => m
                .get_mut(key)
                .map_or(Reply::status(Status::NotFound), |mut slot| cas_in_place(&mut slot, expected, value)),
            Op::Add(k, d) => {
                if let Some(mut slot) = m.get_mut(k) {
                    return add_in_place(&mut slot, d);
                }
                match m.entry(k.into()) {
                    Entry::Occupied(mut e) => add_in_place(e.get_mut(), d),
                    Entry::Vacant(e) => {
                        e.insert(d.to_le_bytes().into());
                        Reply::counter(d)
                    }
                }
            }
        }
    }

    fn len(&self) -> u64 {
        self.map.len() as u64
    }

    fn for_each(&self, f: &mut dyn FnMut(&[u8], &[u8])) {
        self.map.iter().for_each(|e| f(e.key(), e.value()));
    }
}

/// `scc::HashMap` (lock-free reads, bucket-level locking for writes).
pub struct SccEngine {
    map: scc::HashMap<Bytes, Bytes, RandomState>,
}

impl SccEngine {
    /// An empty map pre-sized for `capacity` entries.
    pub fn with_capacity(capacity: usize) -> SccEngine {
        SccEngine { map: scc::HashMap::with_capacity_and_hasher(capacity, RandomState::default()) }
    }
}

impl Engine for SccEngine {
    fn execute(&self, op: &Op<'_>, out: &mut [u8]) -> Reply {
        use scc::hash_map::Entry;
        let m = &self.map;
        match *op {
            Op::Get(k) => m.read(k, |_, v| copy_out(v, out)).unwrap_or(Reply::status(Status::NotFound)),
            Op::Put(k, v) => {
                if m.update(k, |_, slot| overwrite(slot, v)).is_none() {
                    m.upsert(k.into(), v.into());
                }
                Reply::status(Status::Ok)
            }
            Op::PutIfAbsent(k, v) => status_if(!m.contains(k) && m.insert(k.into(), v.into()).is_ok(), Status::Exists),
            Op::Delete(k) => status_if(m.remove(k).is_some(), Status::NotFound),
            Op::Take(k) => m.remove(k).map_or(Reply::status(Status::NotFound), |(_, v)| copy_out(&v, out)),
            Op::Cas { key, expected, value } => {
                m.update(key, |_, slot| cas_in_place(slot, expected, value)).unwrap_or(Reply::status(Status::NotFound))
            }
            Op::Add(k, d) => {
                if let Some(r) = m.update(k, |_, slot| add_in_place(slot, d)) {
                    return r;
                }
                match m.entry(k.into()) {
                    Entry::Occupied(mut e) => add_in_place(e.get_mut(), d),
                    Entry::Vacant(e) => {
                        e.insert_entry(d.to_le_bytes().into());
                        Reply::counter(d)
                    }
                }
            }
        }
    }

    fn len(&self) -> u64 {
        self.map.len() as u64
    }

    fn for_each(&self, f: &mut dyn FnMut(&[u8], &[u8])) {
        self.map.scan(|k, v| f(k, v));
    }
}

/// `papaya::HashMap` (lock-free, epoch-reclaimed, immutable values).
pub struct PapayaEngine {
    map: papaya::HashMap<Bytes, Bytes, RandomState>,
}

impl PapayaEngine {
    /// An empty map pre-sized for `capacity` entries.
    pub fn with_capacity(capacity: usize) -> PapayaEngine {
        PapayaEngine { map: papaya::HashMap::with_capacity_and_hasher(capacity, RandomState::default()) }
    }
}

impl Engine for PapayaEngine {
    fn execute(&self, op: &Op<'_>, out: &mut [u8]) -> Reply {
        use papaya::{Compute, Operation};
        let m = self.map.pin();
        match *op {
            Op::Get(k) => m.get(k).map_or(Reply::status(Status::NotFound), |v| copy_out(v, out)),
            Op::Put(k, v) => {
                m.insert(k.into(), v.into());
                Reply::status(Status::Ok)
            }
            Op::PutIfAbsent(k, v) => {
                status_if(m.get(k).is_none() && m.try_insert(k.into(), v.into()).is_ok(), Status::Exists)
            }
            Op::Delete(k) => status_if(m.remove(k).is_some(), Status::NotFound),
            Op::Take(k) => m.remove(k).map_or(Reply::status(Status::NotFound), |v| copy_out(v, out)),
            Op::Cas { key, expected, value } => {
                match m.get(key) {
                    None => return Reply::status(Status::NotFound),
                    Some(v) if **v != *expected => return Reply::status(Status::Mismatch),
                    Some(_) => {}
                }
                let outcome = m.compute(key.into(), |current| match current {
                    None => Operation::Abort(Status::NotFound),
                    Some((_, v)) if **v != *expected => Operation::Abort(Status::Mismatch),
                    Some(_) => Operation::Insert(value.into()),
                });
                match outcome {
                    Compute::Aborted(s) => Reply::status(s),
                    _ => Reply::status(Status::Ok),
                }
            }
            Op::Add(k, d) => {
                let outcome = m.compute(k.into(), |current| match add_counter(current.map(|(_, v)| &**v), d) {
                    Some(n) => Operation::Insert(Bytes::from(n.to_le_bytes())),
                    None => Operation::Abort(()),
                });
                match outcome {
                    Compute::Inserted(_, v) | Compute::Updated { new: (_, v), .. } => {
                        Reply::counter(add_counter(Some(v), 0).expect("8-byte counter"))
                    }
                    Compute::Aborted(()) => Reply::status(Status::NotACounter),
                    Compute::Removed(..) => unreachable!("the closure never removes"),
                }
            }
        }
    }

    fn len(&self) -> u64 {
        self.map.len() as u64
    }

    fn for_each(&self, f: &mut dyn FnMut(&[u8], &[u8])) {
        self.map.pin().iter().for_each(|(k, v)| f(k, v));
    }
}

type LockedShard = RwLock<HashMap<Bytes, Bytes, RandomState>>;

/// Shards of [`ShardedRwLockEngine`], a power of two.
pub const RWLOCK_SHARDS: usize = 16;

/// The map a user writes by hand: 16 `RwLock<HashMap>` shards.
///
/// The shard is picked by a differently seeded hash than the tables use:
/// with one hash, every key of a shard would share the top bits hashbrown
/// takes its 7-bit probe tags from.
pub struct ShardedRwLockEngine {
    shards: Box<[CachePadded<LockedShard>]>,
    router: FixedState,
}

impl ShardedRwLockEngine {
    /// An empty map pre-sized for `capacity` entries.
    pub fn with_capacity(capacity: usize) -> ShardedRwLockEngine {
        let per_shard = capacity.div_ceil(RWLOCK_SHARDS);
        let shards = (0..RWLOCK_SHARDS)
            .map(|_| {
                CachePadded::new(RwLock::new(HashMap::with_capacity_and_hasher(per_shard, RandomState::default())))
            })
            .collect();
        ShardedRwLockEngine { shards, router: FixedState::with_seed(0x5eed_0f5a_4d00) }
    }

    fn shard(&self, key: &[u8]) -> &LockedShard {
        let h = self.router.hash_one(key);
        &self.shards[(h >> (64 - RWLOCK_SHARDS.trailing_zeros())) as usize]
    }
}

impl Engine for ShardedRwLockEngine {
    fn execute(&self, op: &Op<'_>, out: &mut [u8]) -> Reply {
        let key = match *op {
            Op::Get(k) | Op::Put(k, _) | Op::PutIfAbsent(k, _) | Op::Delete(k) | Op::Take(k) | Op::Add(k, _) => k,
            Op::Cas { key, .. } => key,
        };
        let shard = self.shard(key);
        if let Op::Get(k) = *op {
            let map = shard.read().unwrap_or_else(|e| e.into_inner());
            return map.get(k).map_or(Reply::status(Status::NotFound), |v| copy_out(v, out));
        }
        let mut map = shard.write().unwrap_or_else(|e| e.into_inner());
        match *op {
            Op::Get(_) => unreachable!("served under the read lock"),
            Op::Put(k, v) => {
                match map.get_mut(k) {
                    Some(slot) => overwrite(slot, v),
                    None => {
                        map.insert(k.into(), v.into());
                    }
                }
                Reply::status(Status::Ok)
            }
            Op::PutIfAbsent(k, v) => {
                if map.contains_key(k) {
                    return Reply::status(Status::Exists);
                }
                map.insert(k.into(), v.into());
                Reply::status(Status::Ok)
            }
            Op::Delete(k) => status_if(map.remove(k).is_some(), Status::NotFound),
            Op::Take(k) => map.remove(k).map_or(Reply::status(Status::NotFound), |v| copy_out(&v, out)),
            Op::Cas { key, expected, value } => {
                map.get_mut(key).map_or(Reply::status(Status::NotFound), |slot| cas_in_place(slot, expected, value))
            }
            Op::Add(k, d) => match map.get_mut(k) {
                Some(slot) => add_in_place(slot, d),
                None => {
                    map.insert(k.into(), d.to_le_bytes().into());
                    Reply::counter(d)
                }
            },
        }
    }

    fn len(&self) -> u64 {
        self.shards.iter().map(|s| s.read().unwrap_or_else(|e| e.into_inner()).len() as u64).sum()
    }

    fn for_each(&self, f: &mut dyn FnMut(&[u8], &[u8])) {
        for s in self.shards.iter() {
            s.read().unwrap_or_else(|e| e.into_inner()).iter().for_each(|(k, v)| f(k, v));
        }
    }
}
