//! The close gate: lets any number of callers into the map until it closes,
//! then waits for those inside to leave. Callers count themselves in a
//! per-CPU stripe, so callers on different CPUs never write the same cache
//! line.
//!
//! Protocol (all SeqCst): a caller increments its stripe, then reads
//! `closed`; the closer stores `closed`, then waits for every stripe to read
//! zero. In the single total order either the caller's increment precedes
//! the closer's read of that stripe (the closer waits for it), or the
//! closer's store precedes the caller's read (the caller sees `closed`,
//! backs out and reports `Closed`). No caller runs inside a closed map.

use crate::numa;
use crossbeam_utils::CachePadded;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};

pub(crate) struct Gate {
    closed: AtomicBool,
    stripes: Box<[CachePadded<AtomicUsize>]>,
}

/// Proof of being inside an open map; leaving on drop.
pub(crate) struct Pass<'g> {
    gate: &'g Gate,
    stripe: usize,
}

impl Gate {
    pub(crate) fn new(stripes: usize) -> Gate {
        Gate {
            closed: AtomicBool::new(false),
            stripes: (0..stripes.max(1)).map(|_| CachePadded::new(AtomicUsize::new(0))).collect(),
        }
    }

    /// Enters, unless the map is closed.
    #[inline]
    pub(crate) fn enter(&self) -> Option<Pass<'_>> {
        let stripe = numa::current_cpu() as usize % self.stripes.len();
        self.stripes[stripe].fetch_add(1, SeqCst);
        if self.closed.load(SeqCst) {
            self.stripes[stripe].fetch_sub(1, SeqCst);
            return None;
        }
        Some(Pass { gate: self, stripe })
    }

    pub(crate) fn is_closed(&self) -> bool {
        self.closed.load(SeqCst)
    }

    /// Closes the gate and waits until no caller is inside. Returns false if
    /// it was already closed.
    pub(crate) fn close_and_drain(&self) -> bool {
        if self.closed.swap(true, SeqCst) {
            return false;
        }
        for s in self.stripes.iter() {
            let mut spins = 0u32;
            while s.load(SeqCst) != 0 {
                spins += 1;
                if spins < 64 {
                    std::hint::spin_loop();
                } else {
                    std::thread::yield_now();
                }
            }
        }
        true
    }
}

impl Drop for Pass<'_> {
    #[inline]
    fn drop(&mut self) {
        self.gate.stripes[self.stripe].fetch_sub(1, SeqCst);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicU64;
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
}
