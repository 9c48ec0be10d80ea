//! Model checks (loom) of the two lock-free protocols the engine relies on,
//! written as miniatures of `gate.rs` and `shard.rs` with loom's atomics so
//! that every interleaving (and C11 weak-memory outcome loom models) is
//! explored:
//!
//! 1. Grace periods: a reader enters the gate under the current epoch's
//!    parity, loads the published region and reads it; a writer publishes a
//!    new region, retires the old one at the current epoch, advances the
//!    epoch when the other parity has drained, and poisons (frees) a region
//!    only once the epoch is two past its retirement. No reader may ever
//!    read poison.
//! 2. The seqlock: a writer marks the sequence odd, fences, writes two words,
//!    and marks it even; a reader that saw the same even sequence before and
//!    after (with an acquire fence) must have read both words from the same
//!    write.
//!
//! loom treats SeqCst loads, stores and RMWs as acquire/release only; the
//! engine's argument relies on the single total order of its SeqCst
//! accesses, so the model states that order with SeqCst fences at the same
//! points (on x86-64 the engine's SeqCst RMWs are full barriers anyway).

use loom::sync::atomic::{fence, AtomicUsize, Ordering::*};
use loom::sync::Arc;
use loom::thread;

const POISON: usize = usize::MAX;

struct Gate {
    epoch: AtomicUsize,
    /// Each reader thread's own stripe: two counters only it writes.
    counters: [[AtomicUsize; 2]; 2],
    current: AtomicUsize,
    cells: [AtomicUsize; 3],
}

/// A caller on its own stripe `id`: the engine's enter (acquire load of the
/// epoch, plain load + store of its own counter, the caller's half of the
/// asymmetric fence), one read of the published region, and leave (release
/// store). membarrier gives the caller's compiler fence and the
/// reclaimer's membarrier call the strength of a pair of SeqCst fences,
/// which is how the model states them. (Dropping the reader's fence makes
/// this model fail. The acquire on the epoch matters only for an outcome
/// loom does not explore — a relaxed load reading a store the writer makes
/// after its fence — so the model cannot show it; see `gate.rs`.)
fn reader(g: &Gate, id: usize) {
    let parity = g.epoch.load(Acquire) & 1;
    let c = &g.counters[id][parity];
    c.store(c.load(Relaxed) + 1, Relaxed);
    fence(SeqCst);
    let p = g.current.load(Acquire);
    let v = g.cells[p].load(Relaxed);
    assert_ne!(v, POISON, "a reader saw a region freed before its grace period ended");
    c.store(c.load(Relaxed) - 1, Release);
}

fn drained(g: &Gate, parity: usize) -> bool {
    g.counters.iter().all(|s| s[parity].load(Acquire) == 0)
}

/// One writer step: publish `new`, retire the old cell, try to reclaim.
fn writer_step(g: &Gate, new: usize, retired: &mut Vec<(usize, usize)>) {
    g.cells[new].store(new + 1, SeqCst);
    let old = g.current.swap(new, SeqCst);
    fence(SeqCst);
    retired.push((g.epoch.load(SeqCst), old));
    // The reclaimer's half of the asymmetric fence (membarrier), then the
    // engine's `advance`.
    fence(SeqCst);
    for _ in 0..2 {
        let e = g.epoch.load(SeqCst);
        if !drained(g, (e & 1) ^ 1) {
            break;
        }
        g.epoch.store(e + 1, SeqCst);
    }
    let now = g.epoch.load(SeqCst);
    retired.retain(|&(e, cell)| {
        if e + 2 <= now {
            g.cells[cell].store(POISON, SeqCst);
            false
        } else {
            true
        }
    });
}

#[test]
fn grace_period_protects_readers() {
    let mut b = loom::model::Builder::new();
    b.preemption_bound = Some(3);
    b.check(|| {
        let g = Arc::new(Gate {
            epoch: AtomicUsize::new(0),
            counters: [[AtomicUsize::new(0), AtomicUsize::new(0)], [AtomicUsize::new(0), AtomicUsize::new(0)]],
            current: AtomicUsize::new(0),
            cells: [AtomicUsize::new(1), AtomicUsize::new(0), AtomicUsize::new(0)],
        });
        let r1 = {
            let g = g.clone();
            thread::spawn(move || {
                reader(&g, 0);
                reader(&g, 0);
            })
        };
        let r2 = {
            let g = g.clone();
            thread::spawn(move || reader(&g, 1))
        };
        let mut retired = Vec::new();
        writer_step(&g, 1, &mut retired);
        writer_step(&g, 2, &mut retired);
        r1.join().unwrap();
        r2.join().unwrap();
    });
}

struct Seq {
    seq: AtomicUsize,
    a: AtomicUsize,
    b: AtomicUsize,
}

#[test]
fn seqlock_reads_are_never_torn() {
    loom::model(|| {
        let s = Arc::new(Seq { seq: AtomicUsize::new(0), a: AtomicUsize::new(0), b: AtomicUsize::new(0) });
        let w = {
            let s = s.clone();
            thread::spawn(move || {
                for v in 1..=2 {
                    let q = s.seq.load(Relaxed);
                    s.seq.store(q + 1, Relaxed);
                    fence(Release);
                    s.a.store(v, Relaxed);
                    s.b.store(v, Relaxed);
                    s.seq.store(q + 2, Release);
                }
            })
        };
        let s1 = s.seq.load(Acquire);
        if s1 & 1 == 0 {
            let a = s.a.load(Relaxed);
            let b = s.b.load(Relaxed);
            fence(Acquire);
            let s2 = s.seq.load(Relaxed);
            if s1 == s2 {
                assert_eq!(a, b, "validated read was torn");
                assert_eq!(a, s1 / 2, "validated read does not belong to its sequence");
            }
        }
        w.join().unwrap();
    });
}
