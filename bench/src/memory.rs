//! Measuring what a loaded table costs: a counting global allocator (exact
//! heap bytes, switched on only around a load so it never touches the
//! measured loops) and the resident set from `/proc/self/statm`.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};

static COUNTING: AtomicBool = AtomicBool::new(false);
static LIVE: AtomicI64 = AtomicI64::new(0);

/// The system allocator, counting live heap bytes while [`HeapCounter`] is active.
///
/// Install it in a binary with `#[global_allocator]`; without it, heap
/// measurements read as `None`.
pub struct CountingAllocator;

impl CountingAllocator {
    #[inline]
    fn count(delta: i64) {
        // Only a load of a flag nobody writes while measuring: no shared
        // cache line is written by the measured loops.
        if COUNTING.load(Ordering::Relaxed) {
            LIVE.fetch_add(delta, Ordering::Relaxed);
        }
    }
}

// SAFETY: every call is forwarded unchanged to `System`; the counters are
// side effects that never influence the returned memory.
unsafe impl GlobalAlloc for CountingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        Self::count(layout.size() as i64);
        // SAFETY: forwarded with the caller's guarantees.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        Self::count(layout.size() as i64);
        // SAFETY: forwarded with the caller's guarantees.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        Self::count(-(layout.size() as i64));
        // SAFETY: forwarded with the caller's guarantees.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        Self::count(new_size as i64 - layout.size() as i64);
        // SAFETY: forwarded with the caller's guarantees.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

/// Counts the net heap bytes allocated (by any thread) between its creation and [`HeapCounter::finish`].
pub struct HeapCounter {
    start: i64,
    installed: bool,
}

impl HeapCounter {
    /// Starts counting.
    pub fn start() -> HeapCounter {
        COUNTING.store(true, Ordering::SeqCst);
        let before = LIVE.load(Ordering::SeqCst);
        let probe = std::hint::black_box(vec![0u8; 64]);
        let installed = LIVE.load(Ordering::SeqCst) != before;
        drop(probe);
        HeapCounter { start: LIVE.load(Ordering::SeqCst), installed }
    }

    /// Stops counting; the net bytes, or `None` when the counting allocator is not installed.
    pub fn finish(self) -> Option<i64> {
        let end = LIVE.load(Ordering::SeqCst);
        COUNTING.store(false, Ordering::SeqCst);
        self.installed.then_some(end - self.start)
    }
}

/// Resident set size of this process in bytes, from `/proc/self/statm`.
pub fn resident_bytes() -> Option<u64> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    // SAFETY: sysconf has no memory-safety preconditions.
    let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    Some(pages * page.max(1) as u64)
}
