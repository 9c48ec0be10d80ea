//! The gate: every call enters it, and it serves two purposes.
//!
//! **Close.** It lets callers in until the map closes, then waits for those
//! inside to leave. Callers count themselves in a per-CPU stripe, so callers
//! on different CPUs never write the same cache line. Protocol (all
//! SeqCst): a caller increments its stripe, then reads `closed`; the closer
//! stores `closed`, then waits for every stripe to read zero. In the single
//! total order either the caller's increment precedes the closer's read of
//! that stripe (the closer waits for it), or the closer's store precedes the
//! caller's read (the caller sees `closed`, backs out and reports `Closed`).
//!
//! **Grace periods.** Lock-free readers probe slot arrays and record chunks
//! that a writer may unlink meanwhile (a table grows, a shard is cleared or
//! replaced). Unlinked regions are retired here and unmapped only after a
//! grace period, in the manner of sleepable RCU: each stripe has two
//! counters, callers increment the one of the current epoch's parity, and
//! the epoch advances only when the other parity's counters all read zero.
//! A region retired at epoch E is freed once the epoch reaches E + 2: both
//! parities have then drained since it was unlinked, so no caller that
//! could have seen it is still inside. A caller that read the epoch before
//! an advance but incremented after the check is harmless: its increment
//! follows the check in the SeqCst order, which follows the unlinking, so
//! it can only see the new region. Nothing ever waits for a reader while
//! holding a shard lock: reclamation only tries, and retries later.

use crate::numa::NodeRegion;

/// Hands out stripes to threads in turn.
static NEXT_STRIPE: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    /// The stripe a thread counts itself in, handed out in turn, so that up
    /// to as many threads as there are stripes (one per possible CPU) never
    /// share one. (Reading the current CPU instead would cost a call per
    /// operation, and two threads that start on one CPU would then share a
    /// stripe for good: every enter would bounce its cache line.)
    static STRIPE: usize = NEXT_STRIPE.fetch_add(1, Relaxed);
}
use crate::shard::ShardState;
use crossbeam_utils::CachePadded;
use std::sync::atomic::{
    AtomicBool, AtomicU64, AtomicUsize,
    Ordering::{Relaxed, SeqCst},
};
use std::sync::Mutex;

/// Memory retired until a grace period has passed.
pub(crate) enum Garbage {
    /// A slot array, record chunk or large-record region.
    Region(#[allow(dead_code)] NodeRegion),
    /// A whole shard state replaced by `replace_all`.
    State(#[allow(dead_code)] Box<ShardState>),
}

pub(crate) struct Gate {
    closed: AtomicBool,
    epoch: AtomicU64,
    stripes: Box<[CachePadded<[AtomicUsize; 2]>]>,
    garbage: Mutex<Vec<(u64, Garbage)>>,
    has_garbage: AtomicBool,
}

/// Proof of being inside an open map; leaving on drop.
pub(crate) struct Pass<'g> {
    gate: &'g Gate,
    stripe: usize,
    parity: usize,
}

impl Gate {
    pub(crate) fn new(stripes: usize) -> Gate {
        Gate {
            closed: AtomicBool::new(false),
            epoch: AtomicU64::new(0),
            stripes: (0..stripes.max(1))
                .map(|_| CachePadded::new([AtomicUsize::new(0), AtomicUsize::new(0)]))
                .collect(),
            garbage: Mutex::new(Vec::new()),
            has_garbage: AtomicBool::new(false),
        }
    }

    /// Enters, unless the map is closed.
    #[inline]
    pub(crate) fn enter(&self) -> Option<Pass<'_>> {
        let stripe = STRIPE.with(|s| *s) % self.stripes.len();
        let parity = (self.epoch.load(SeqCst) & 1) as usize;
        self.stripes[stripe][parity].fetch_add(1, SeqCst);
        if self.closed.load(SeqCst) {
            self.stripes[stripe][parity].fetch_sub(1, SeqCst);
            return None;
        }
        Some(Pass { gate: self, stripe, parity })
    }

    pub(crate) fn is_closed(&self) -> bool {
        self.closed.load(SeqCst)
    }

    fn drained(&self, parity: usize) -> bool {
        self.stripes.iter().all(|s| s[parity].load(SeqCst) == 0)
    }

    /// Closes the gate and waits until no caller is inside; then frees all
    /// retired memory. Returns false if it was already closed.
    pub(crate) fn close_and_drain(&self) -> bool {
        if self.closed.swap(true, SeqCst) {
            return false;
        }
        let mut spins = 0u32;
        while !(self.drained(0) && self.drained(1)) {
            spins += 1;
            if spins < 64 {
                std::hint::spin_loop();
            } else {
                std::thread::yield_now();
            }
        }
        self.free_all();
        true
    }

    /// Retires memory that callers inside the gate may still be reading.
    /// Call [`Gate::try_reclaim`] afterwards, outside any shard lock.
    pub(crate) fn retire(&self, items: impl Iterator<Item = Garbage>) {
        let mut g = self.garbage.lock().unwrap_or_else(|e| e.into_inner());
        let e = self.epoch.load(SeqCst);
        let before = g.len();
        g.extend(items.map(|x| (e, x)));
        if g.len() > before {
            self.has_garbage.store(true, SeqCst);
        }
    }

    #[inline]
    pub(crate) fn has_garbage(&self) -> bool {
        self.has_garbage.load(SeqCst)
    }

    /// Advances the epoch as far as drained readers allow (never waits) and
    /// frees what has passed its grace period.
    pub(crate) fn try_reclaim(&self) {
        let free: Vec<(u64, Garbage)> = {
            let mut g = self.garbage.lock().unwrap_or_else(|e| e.into_inner());
            if g.is_empty() {
                return;
            }
            for _ in 0..2 {
                let e = self.epoch.load(SeqCst);
                let other = ((e & 1) ^ 1) as usize;
                if !self.drained(other) {
                    break;
                }
                self.epoch.store(e + 1, SeqCst);
            }
            let now = self.epoch.load(SeqCst);
            let (free, keep): (Vec<_>, Vec<_>) = g.drain(..).partition(|(e, _)| e + 2 <= now);
            *g = keep;
            self.has_garbage.store(!g.is_empty(), SeqCst);
            free
        };
        drop(free); // unmapped outside the lock
    }

    fn free_all(&self) {
        let all = std::mem::take(&mut *self.garbage.lock().unwrap_or_else(|e| e.into_inner()));
        self.has_garbage.store(false, SeqCst);
        drop(all);
    }
}

impl Drop for Pass<'_> {
    #[inline]
    fn drop(&mut self) {
        self.gate.stripes[self.stripe][self.parity].fetch_sub(1, SeqCst);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    /// Stress: after close_and_drain returns, no caller is or ever again gets inside.
    #[test]
    fn nobody_inside_after_close() {
        for _ in 0..20 {
            let gate = Arc::new(Gate::new(4));
            let inside = Arc::new(AtomicU64::new(0));
            let after_close_violations = Arc::new(AtomicU64::new(0));
            let drained = Arc::new(AtomicBool::new(false));
            let threads: Vec<_> = (0..4)
                .map(|_| {
                    let (gate, inside, v, drained) =
                        (gate.clone(), inside.clone(), after_close_violations.clone(), drained.clone());
                    std::thread::spawn(move || {
                        for _ in 0..20_000 {
                            if let Some(_p) = gate.enter() {
                                inside.fetch_add(1, SeqCst);
                                if drained.load(SeqCst) {
                                    v.fetch_add(1, SeqCst);
                                }
                                inside.fetch_sub(1, SeqCst);
                            }
                        }
                    })
                })
                .collect();
            std::thread::sleep(std::time::Duration::from_micros(200));
            assert!(gate.close_and_drain());
            assert_eq!(inside.load(SeqCst), 0);
            drained.store(true, SeqCst);
            assert!(!gate.close_and_drain());
            for t in threads {
                t.join().unwrap();
            }
            assert_eq!(after_close_violations.load(SeqCst), 0);
            assert!(gate.enter().is_none());
        }
    }

    /// Stress the grace period: readers repeatedly load a published region
    /// and read it while a writer swaps and retires regions; a region's
    /// contents are overwritten with a poison value just before it is freed
    /// (by a guard in the retired item), so a reader that could still see a
    /// freed region would read the poison.
    #[test]
    fn retired_regions_outlive_their_readers() {
        use std::sync::atomic::AtomicPtr;
        struct Poison(Box<AtomicU64>);
        impl Drop for Poison {
            fn drop(&mut self) {
                self.0.store(0xDEAD, SeqCst);
            }
        }
        // Leak-checked by Box: the poisoned cells stay allocated (moved into `graveyard`).
        let gate = Arc::new(Gate::new(2));
        let current = Arc::new(AtomicPtr::new(Box::into_raw(Box::new(AtomicU64::new(1)))));
        let stop = Arc::new(AtomicBool::new(false));
        let graveyard: Arc<Mutex<Vec<Poison>>> = Arc::new(Mutex::new(Vec::new()));
        let total_reads = Arc::new(AtomicU64::new(0));
        let readers: Vec<_> = (0..3)
            .map(|_| {
                let (gate, current, stop, total) = (gate.clone(), current.clone(), stop.clone(), total_reads.clone());
                std::thread::spawn(move || {
                    let mut reads = 0u64;
                    while !stop.load(SeqCst) {
                        let _p = gate.enter().unwrap();
                        let p = current.load(SeqCst);
                        // SAFETY: cells are never deallocated during the test (graveyard).
                        let v = unsafe { (*p).load(SeqCst) };
                        assert_ne!(v, 0xDEAD, "read a region after its grace period");
                        reads += 1;
                        total.fetch_add(1, SeqCst);
                    }
                    reads
                })
            })
            .collect();
        // The writer retires through a side list that mirrors the gate's epochs.
        let mut pending: Vec<(u64, Poison)> = Vec::new();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        let mut i = 1u64;
        while i < 5000 || (total_reads.load(SeqCst) < 200_000 && std::time::Instant::now() < deadline) {
            i += 1;
            let new = Box::into_raw(Box::new(AtomicU64::new(i)));
            let old = current.swap(new, SeqCst);
            // SAFETY: `old` came from Box::into_raw and is no longer published.
            let old = Poison(unsafe { Box::from_raw(old) });
            let e = gate.epoch.load(SeqCst);
            pending.push((e, old));
            // Advance like try_reclaim does.
            {
                let _g = gate.garbage.lock().unwrap();
                for _ in 0..2 {
                    let e = gate.epoch.load(SeqCst);
                    if gate.drained(((e & 1) ^ 1) as usize) {
                        gate.epoch.store(e + 1, SeqCst);
                    }
                }
            }
            let now = gate.epoch.load(SeqCst);
            let (free, keep): (Vec<_>, Vec<_>) = pending.drain(..).partition(|(e, _)| e + 2 <= now);
            pending = keep;
            for (_, p) in free {
                p.0.store(0xDEAD, SeqCst);
                graveyard.lock().unwrap().push(p);
            }
        }
        stop.store(true, SeqCst);
        let reads: u64 = readers.into_iter().map(|h| h.join().unwrap()).sum();
        assert!(reads > 0);
        assert!(graveyard.lock().unwrap().len() > 100, "grace periods never ended");
        // Everything still published or pending is freed at the end.
        // SAFETY: the last published cell came from Box::into_raw.
        drop(unsafe { Box::from_raw(current.load(SeqCst)) });
        std::mem::forget(std::mem::take(&mut *graveyard.lock().unwrap()));
    }
}
