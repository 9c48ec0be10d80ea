//! Counters of the tier, striped so that threads serving local hits do not
//! share a cache line.

use crossbeam_utils::CachePadded;
use std::cell::Cell;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

const STRIPES: usize = 16;

/// A counter spread over cache-line-padded stripes, one chosen per thread.
#[derive(Default)]
pub(crate) struct Striped([CachePadded<AtomicU64>; STRIPES]);

fn stripe() -> usize {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    thread_local!(static MINE: Cell<usize> = const { Cell::new(usize::MAX) });
    MINE.with(|m| {
        if m.get() == usize::MAX {
            m.set(NEXT.fetch_add(1, Ordering::Relaxed) % STRIPES);
        }
        m.get()
    })
}

impl Striped {
    pub(crate) fn add(&self, n: u64) {
        self.0[stripe()].fetch_add(n, Ordering::Relaxed);
    }
    pub(crate) fn get(&self) -> u64 {
        self.0.iter().map(|c| c.load(Ordering::Relaxed)).sum()
    }
}

#[derive(Default)]
pub(crate) struct Counters {
    pub(crate) local_hits: Striped,
    pub(crate) server_reads: Striped,
    pub(crate) server_writes: Striped,
    pub(crate) invalidations: Striped,
    pub(crate) flushes: Striped,
    pub(crate) installs_skipped: Striped,
    pub(crate) reconnects: Striped,
    pub(crate) redirects: Striped,
}

/// What the tier did since it was opened. The local map's own figures
/// (entries, bytes, evictions, expirations) are in [`crate::NearCache::map_stats`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NearStats {
    /// Keys answered from the local map without asking the server.
    pub local_hits: u64,
    /// Keys read from the server (read-through misses, including absent keys).
    pub server_reads: u64,
    /// Writes and deletes sent to the server.
    pub server_writes: u64,
    /// Keys named by invalidation messages the server delivered.
    pub invalidations: u64,
    /// Times the whole near cache was emptied (start, lost connection or
    /// tracking, `FLUSHALL` on the server).
    pub flushes: u64,
    /// Server replies not installed locally because an invalidation or flush
    /// overtook them (the race the coherence protocol closes).
    pub installs_skipped: u64,
    /// Invalidation connections re-established after a loss.
    pub reconnects: u64,
    /// Cluster slot redirections (`MOVED`) followed: the slot map was
    /// reloaded and the command sent to the slot's new master.
    pub redirects: u64,
}

impl Counters {
    pub(crate) fn snapshot(&self) -> NearStats {
        NearStats {
            local_hits: self.local_hits.get(),
            server_reads: self.server_reads.get(),
            server_writes: self.server_writes.get(),
            invalidations: self.invalidations.get(),
            flushes: self.flushes.get(),
            installs_skipped: self.installs_skipped.get(),
            reconnects: self.reconnects.get(),
            redirects: self.redirects.get(),
        }
    }
}
