//! The opaque handles C holds: what an `ns_map *` and an `ns_iter *` point to.
//!
//! A map handle is never freed. `ns_map_free` closes and drops the engine's
//! map and marks the handle freed; the small handle itself stays in a global
//! registry (so leak checkers see it as reachable), which makes every later
//! call on a dangling `ns_map *` answer `NS_ERR_CLOSED` instead of touching
//! freed memory, and a second `ns_map_free` a no-op. The cost is a few dozen
//! bytes per map ever created. The hot path reads the handle's magic word
//! and state word (an atomic load) and writes nothing shared.
//!
//! An iterator handle is a plain `Box`: it owns a reference to the map's
//! internals, so it stays valid after its map is closed or freed.

use crate::status::ns_status;
use numashard::{Iter, Map};
use std::cell::UnsafeCell;
use std::mem::ManuallyDrop;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::Mutex;

const MAP_MAGIC: u64 = u64::from_le_bytes(*b"ns_map\0\x01");
const ITER_MAGIC: u64 = u64::from_le_bytes(*b"ns_iter\x01");

const LIVE: u8 = 1;
const FREED: u8 = 2;

/// An opaque handle to a map, created by `ns_map_new` and released by
/// `ns_map_free`.
// In C layout with the magic word first, as `ns_iter`: a handle of either
// kind passed as the other fails the magic check with a read of its own
// first 8 bytes. The header declares both opaque (ffi/cbindgen.toml).
#[repr(C)]
pub struct ns_map {
    magic: u64,
    state: AtomicU8,
    map: UnsafeCell<ManuallyDrop<Map>>,
}

// SAFETY: `Map` is Send + Sync; the cell is written only by `ns_map_free`,
// which the API requires to be the last call on the handle, and which marks
// the state FREED (with release ordering) before dropping the map.
unsafe impl Sync for ns_map {}
// SAFETY: as above.
unsafe impl Send for ns_map {}

/// Every map handle ever created, so that none is ever unreachable.
static REGISTRY: Mutex<Vec<&'static ns_map>> = Mutex::new(Vec::new());

impl ns_map {
    /// Wraps a new map in a handle that lives for the rest of the process.
    pub(crate) fn register(map: Map) -> *mut ns_map {
        let h: &'static ns_map = Box::leak(Box::new(ns_map {
            magic: MAP_MAGIC,
            state: AtomicU8::new(LIVE),
            map: UnsafeCell::new(ManuallyDrop::new(map)),
        }));
        REGISTRY.lock().unwrap_or_else(|e| e.into_inner()).push(h);
        h as *const ns_map as *mut ns_map
    }

    /// The map behind a handle C passed in: `NS_ERR_INVALID_ARGUMENT` for
    /// NULL or something that is not a map handle, `NS_ERR_CLOSED` once the
    /// handle was freed. (A closed but not freed map is reported closed by
    /// the engine itself.)
    ///
    /// # Safety
    /// `m` must be NULL or a pointer returned by `ns_map_new` (freed or not),
    /// and no `ns_map_free` of it may run concurrently.
    #[inline]
    pub(crate) unsafe fn get<'a>(m: *const ns_map) -> Result<&'a Map, ns_status> {
        if m.is_null() {
            return Err(ns_status::NS_ERR_INVALID_ARGUMENT);
        }
        // SAFETY: handles are never freed, so a pointer from ns_map_new is
        // always readable; every handle (map or iterator) starts with its
        // u64 magic word, read before the pointer is taken for a map's.
        if unsafe { (m as *const u64).read() } != MAP_MAGIC {
            return Err(ns_status::NS_ERR_INVALID_ARGUMENT);
        }
        // SAFETY: a map handle (its magic), readable as above.
        let h = unsafe { &*m };
        if h.state.load(Ordering::Acquire) != LIVE {
            return Err(ns_status::NS_ERR_CLOSED);
        }
        // SAFETY: LIVE, and ns_map_free (the only writer) does not run
        // concurrently by the caller's contract.
        Ok(unsafe { &**h.map.get() })
    }

    /// Marks the handle freed and drops its map (closing it first); false
    /// if it was not a live handle.
    ///
    /// # Safety
    /// As [`ns_map::get`]; nothing else may use the map during the call.
    pub(crate) unsafe fn release(m: *mut ns_map) -> bool {
        if m.is_null() {
            return false;
        }
        // SAFETY: as in `get`: the magic word first, then the map's fields.
        if unsafe { (m as *const u64).read() } != MAP_MAGIC {
            return false;
        }
        // SAFETY: a map handle (its magic), never freed.
        let h = unsafe { &*m };
        if h.state.compare_exchange(LIVE, FREED, Ordering::AcqRel, Ordering::Acquire).is_err() {
            return false;
        }
        // SAFETY: we won the LIVE → FREED transition, so we are the only one
        // to drop it, and later `get`s see FREED and never touch it.
        unsafe { ManuallyDrop::drop(&mut *h.map.get()) };
        true
    }
}

/// An opaque iterator over a map, created by `ns_iter_new` and released by
/// `ns_iter_free`. Use one iterator from one thread at a time.
#[repr(C)]
pub struct ns_iter {
    magic: u64,
    pub(crate) it: Iter,
    /// The entry `ns_iter_next_many` took from `it` but had no room for:
    /// the engine's iterator cannot step back, so the entry waits here and
    /// is the next one either iteration call returns.
    pub(crate) held: Held,
}

/// A copy of one entry taken from the engine's iterator and not yet handed
/// out (see [`ns_iter::held`]). Its allocation is reused.
#[derive(Default)]
pub(crate) struct Held {
    /// The key's bytes followed by the value's.
    pub(crate) bytes: Vec<u8>,
    pub(crate) key_len: usize,
    /// Whether `bytes` holds an entry still to hand out.
    pub(crate) full: bool,
}

impl Held {
    /// Keeps a copy of `(k, v)` to hand out next.
    pub(crate) fn hold(&mut self, k: &[u8], v: &[u8]) {
        self.bytes.clear();
        self.bytes.extend_from_slice(k);
        self.bytes.extend_from_slice(v);
        self.key_len = k.len();
        self.full = true;
    }

    /// The held entry as (key, value); `full` says whether there is one.
    pub(crate) fn entry(&self) -> (&[u8], &[u8]) {
        self.bytes.split_at(self.key_len)
    }
}

impl ns_iter {
    pub(crate) fn boxed(it: Iter) -> *mut ns_iter {
        Box::into_raw(Box::new(ns_iter { magic: ITER_MAGIC, it, held: Held::default() }))
    }

    /// The iterator behind a handle C passed in.
    ///
    /// # Safety
    /// `it` must be NULL or a live pointer from `ns_iter_new` that no other
    /// thread uses during the call.
    #[inline]
    pub(crate) unsafe fn get<'a>(it: *mut ns_iter) -> Result<&'a mut ns_iter, ns_status> {
        if it.is_null() {
            return Err(ns_status::NS_ERR_INVALID_ARGUMENT);
        }
        // SAFETY: the caller's contract: a live handle, whose first 8 bytes
        // are its magic word (a map handle's too), read before the pointer
        // is taken for an iterator's.
        if unsafe { (it as *const u64).read() } != ITER_MAGIC {
            return Err(ns_status::NS_ERR_INVALID_ARGUMENT);
        }
        // SAFETY: an iterator handle (its magic), used by this thread only.
        Ok(unsafe { &mut *it })
    }

    /// Frees an iterator handle; NULL and non-iterators are ignored.
    ///
    /// # Safety
    /// As [`ns_iter::get`]; the handle is invalid afterwards.
    pub(crate) unsafe fn release(it: *mut ns_iter) {
        // SAFETY: the caller's contract.
        if unsafe { Self::get(it) }.is_ok() {
            // SAFETY: created by Box::into_raw in `boxed`. The magic word is
            // cleared first only to make a stale pointer less likely to pass
            // the check; using a freed iterator stays the caller's bug.
            unsafe {
                (*it).magic = 0;
                drop(Box::from_raw(it));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use numashard::Config;

    fn small() -> Map {
        Map::new(Config { shards: 1, ..Config::default() }).unwrap()
    }

    #[test]
    fn a_freed_handle_answers_closed_and_frees_once() {
        let m = ns_map::register(small());
        // SAFETY: a handle from `register`, used by this thread only.
        unsafe {
            assert!(ns_map::get(m).is_ok());
            assert!(ns_map::release(m));
            assert_eq!(ns_map::get(m).err(), Some(ns_status::NS_ERR_CLOSED));
            assert!(!ns_map::release(m));
            assert_eq!(ns_map::get(std::ptr::null()).err(), Some(ns_status::NS_ERR_INVALID_ARGUMENT));
        }
    }

    #[test]
    fn an_iterator_outlives_its_map_and_is_not_a_map() {
        let m = ns_map::register(small());
        // SAFETY: handles from `register` / `boxed`, used by this thread only.
        unsafe {
            let map = ns_map::get(m).unwrap();
            map.put(b"k", b"v").unwrap();
            let it = ns_iter::boxed(map.iter().unwrap());
            assert_eq!(ns_map::get(it as *const ns_map).err(), Some(ns_status::NS_ERR_INVALID_ARGUMENT));
            assert!(ns_map::release(m));
            let h = ns_iter::get(it).unwrap();
            assert_eq!(h.it.next_entry().err().map(|e| e.status()), Some(numashard::Status::Closed));
            ns_iter::release(it);
            ns_iter::release(std::ptr::null_mut());
        }
    }
}
