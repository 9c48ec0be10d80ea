//! What an `nsr_cache *` points to. Like `ns_map`, a handle is never freed:
//! `nsr_cache_free` closes and drops the near cache and marks the handle
//! freed; the small handle stays in a global registry, so a call on a freed
//! handle answers `NSR_ERR_CLOSED` instead of touching freed memory, and a
//! second free is a no-op.

use crate::status::nsr_status;
use numashard_redis::NearCache;
use std::cell::UnsafeCell;
use std::mem::ManuallyDrop;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::Mutex;

const MAGIC: u64 = u64::from_le_bytes(*b"nsrcach\x01");
const LIVE: u8 = 1;
const FREED: u8 = 2;

/// An opaque handle to a near cache, created by `nsr_cache_open` and
/// released by `nsr_cache_free`.
pub struct nsr_cache {
    magic: u64,
    state: AtomicU8,
    cache: UnsafeCell<ManuallyDrop<NearCache>>,
}

// SAFETY: `NearCache` is Send + Sync; the cell is written only by
// `nsr_cache_free`, which must be the last call on the handle and marks it
// FREED before dropping the cache.
unsafe impl Sync for nsr_cache {}
// SAFETY: as above.
unsafe impl Send for nsr_cache {}

static REGISTRY: Mutex<Vec<&'static nsr_cache>> = Mutex::new(Vec::new());

impl nsr_cache {
    pub(crate) fn register(cache: NearCache) -> *mut nsr_cache {
        let h: &'static nsr_cache = Box::leak(Box::new(nsr_cache {
            magic: MAGIC,
            state: AtomicU8::new(LIVE),
            cache: UnsafeCell::new(ManuallyDrop::new(cache)),
        }));
        REGISTRY.lock().unwrap_or_else(|e| e.into_inner()).push(h);
        h as *const nsr_cache as *mut nsr_cache
    }

    /// The cache behind a handle: `NSR_ERR_INVALID_ARGUMENT` for NULL or a
    /// pointer that is not a cache handle, `NSR_ERR_CLOSED` once freed.
    ///
    /// # Safety
    /// `c` must be NULL or a pointer from `nsr_cache_open` (freed or not),
    /// with no `nsr_cache_free` of it running concurrently.
    pub(crate) unsafe fn get<'a>(c: *const nsr_cache) -> Result<&'a NearCache, nsr_status> {
        if c.is_null() {
            return Err(nsr_status::NSR_ERR_INVALID_ARGUMENT);
        }
        // SAFETY: handles are never freed, so a pointer from nsr_cache_open is readable.
        let h = unsafe { &*c };
        if h.magic != MAGIC {
            return Err(nsr_status::NSR_ERR_INVALID_ARGUMENT);
        }
        if h.state.load(Ordering::Acquire) != LIVE {
            return Err(nsr_status::NSR_ERR_CLOSED);
        }
        // SAFETY: LIVE, and the only writer (free) does not run concurrently.
        Ok(unsafe { &**h.cache.get() })
    }

    /// Marks the handle freed and drops its cache (closing it); false if it
    /// was not a live handle.
    ///
    /// # Safety
    /// As [`nsr_cache::get`]; nothing else may use the cache during the call.
    pub(crate) unsafe fn release(c: *mut nsr_cache) -> bool {
        if c.is_null() {
            return false;
        }
        // SAFETY: as in `get`.
        let h = unsafe { &*c };
        if h.magic != MAGIC || h.state.compare_exchange(LIVE, FREED, Ordering::AcqRel, Ordering::Acquire).is_err() {
            return false;
        }
        // SAFETY: we won LIVE → FREED, so we alone drop it; later `get`s see FREED.
        unsafe { ManuallyDrop::drop(&mut *h.cache.get()) };
        true
    }
}
