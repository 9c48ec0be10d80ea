//! Model checks (loom) of the lock-free protocols as they ship: the real
//! [`Gate`] (close, grace periods) and the real [`SeqLock`], built with
//! loom's atomics through `sync.rs`. loom runs every interleaving of the
//! model threads (up to a preemption bound) and the weak-memory outcomes it
//! models. Run with:
//!
//! ```text
//! RUSTFLAGS="--cfg loom" cargo test -p numashard --release --lib loom_tests
//! ```
//!
//! What the models stand for: a lock-free reader enters the gate, reads the
//! published "slot array" (an index into `arrays`, like a shard's table word)
//! under the seqlock and reads both words of an entry; a writer overwrites an
//! entry in place inside a write section, publishes a new array inside
//! another, retires the old one to the gate and tries to reclaim. Retired
//! memory is "freed" by overwriting it with [`POISON`] (the garbage's drop).
//! A reader inside the gate must never read poison (the real reader would
//! fault on an unmapped region), and a read the seqlock validated must hold
//! both words of one write (never torn).
//!
//! `membarrier` makes the reclaimer's barrier run on every CPU that runs a
//! caller; loom cannot inject that, so under loom the caller's light fence
//! is a SeqCst fence (`sync::light_fence`), which is what the kernel's
//! barrier amounts to for the caller.
//!
//! Each check was seen to fail when a required fence or ordering is
//! weakened (one change at a time, then restored):
//! - `gate.rs`, `enter`: the caller's `light_fence()` removed (Membarrier
//!   mode) — `close_*_membarrier` (a caller inside after close) and
//!   `grace_period_*_membarrier` (a reader read poison) fail;
//! - `gate.rs`, `enter`: the fallback as it shipped before these checks, a
//!   SeqCst RMW on the stripe and no fence — `*_seqcst_fence` fail the same
//!   way: in the language's memory model a SeqCst RMW does not order the
//!   caller's later relaxed loads against the closer's or reclaimer's fence
//!   (x86-64's locked RMW happens to); the fallback now fences;
//! - the same with a plain increment and no fence — the same failures;
//! - `seqlock.rs`, `read_valid` without its acquire fence, or `write_begin`
//!   without its release fence — `seqlock_*` (a validated read is torn) and
//!   `grace_period_*` (a validated read of an array not yet filled) fail;
//! - `gate.rs`, `heavy_fence`: both SeqCst fences removed — the close and
//!   grace-period checks of both modes fail. Removing one of the two
//!   changes nothing under loom (the membarrier call between them is not
//!   modelled).
//!
//! Not shown by loom: the acquire loads of the drain check (`drained`)
//! and of the epoch in `enter` guard against outcomes loom does not explore
//! (load buffering: a load taking its value from a store that comes later
//! in the other thread); weakened to relaxed, the checks still pass.

use crate::gate::{FenceMode, Garbage, Gate};
use crate::seqlock::SeqLock;
use crate::sync::AtomicUsize;
use loom::sync::Arc;
use loom::thread;
use std::sync::atomic::Ordering::Relaxed;

/// What a freed region reads as.
const POISON: usize = usize::MAX;

/// Three "slot arrays" of one entry of two words each (a value written in
/// two parts, as a record's bytes are).
struct Arrays([[AtomicUsize; 2]; 3]);

/// A shard as the reader sees it: the seqlock and the published array.
struct View {
    seq: SeqLock,
    word: AtomicUsize,
}

/// Frees (poisons) array `.1` when dropped: what the gate holds as garbage.
struct Region(Arc<Arrays>, usize);

impl Drop for Region {
    fn drop(&mut self) {
        for w in &self.0 .0[self.1] {
            w.store(POISON, Relaxed);
        }
    }
}

fn builder() -> loom::model::Builder {
    let mut b = loom::model::Builder::new();
    // Bounded so that the whole suite stays within a CI minute or two.
    if b.preemption_bound.is_none() {
        b.preemption_bound = Some(2);
    }
    b
}

/// One lock-free read: enter, then up to two attempts under the seqlock.
fn read(gate: &Gate, view: &View, arrays: &Arrays) {
    let _pass = gate.enter().expect("the gate is open");
    for _ in 0..2 {
        let Some(s1) = view.seq.read_begin() else {
            loom::thread::yield_now();
            continue;
        };
        let w = view.word.load(Relaxed);
        let a = arrays.0[w][0].load(Relaxed);
        let b = arrays.0[w][1].load(Relaxed);
        assert!(a != POISON && b != POISON, "a reader inside the gate read a region freed under it");
        if view.seq.read_valid(s1) {
            assert_eq!(a, b, "a validated read is torn");
            assert_ne!(a, 0, "a validated read saw an array before it was filled");
            return;
        }
    }
}

/// The writer: an in-place overwrite of the published entry, then two
/// publications of a new array, each retiring the old one and reclaiming.
fn write(gate: &Gate, view: &View, arrays: &Arc<Arrays>) {
    let s = view.seq.write_begin();
    arrays.0[0][0].store(2, Relaxed);
    arrays.0[0][1].store(2, Relaxed);
    view.seq.write_end(s);
    for new in 1..=2 {
        for w in &arrays.0[new] {
            w.store(10 + new, Relaxed);
        }
        let s = view.seq.write_begin();
        let old = view.word.load(Relaxed);
        view.word.store(new, Relaxed);
        view.seq.write_end(s);
        gate.retire(std::iter::once(Garbage::new(Region(arrays.clone(), old))));
        gate.try_reclaim();
    }
}

fn grace_period(mode: FenceMode) {
    builder().check(move || {
        let gate = Arc::new(Gate::with_mode(1, mode));
        let view = Arc::new(View { seq: SeqLock::new(), word: AtomicUsize::new(0) });
        let arrays = Arc::new(Arrays(std::array::from_fn(|i| {
            let v = if i == 0 { 1 } else { 0 };
            [AtomicUsize::new(v), AtomicUsize::new(v)]
        })));
        let readers: Vec<_> = (0..1)
            .map(|_| {
                let (gate, view, arrays) = (gate.clone(), view.clone(), arrays.clone());
                thread::spawn(move || {
                    // Two passes: the second may start under a later epoch.
                    read(&gate, &view, &arrays);
                    read(&gate, &view, &arrays);
                })
            })
            .collect();
        write(&gate, &view, &arrays);
        for r in readers {
            r.join().unwrap();
        }
        // Frees what is still retired (drops the regions' Arcs).
        gate.close_and_drain();
    });
}

#[test]
fn grace_period_protects_readers_membarrier() {
    grace_period(FenceMode::Membarrier);
}

#[test]
fn grace_period_protects_readers_seqcst_fence() {
    grace_period(FenceMode::SeqCstFence);
}

fn close(mode: FenceMode) {
    builder().check(move || {
        let gate = Arc::new(Gate::with_mode(1, mode));
        let arrays = Arc::new(Arrays(std::array::from_fn(|_| [AtomicUsize::new(1), AtomicUsize::new(1)])));
        let callers: Vec<_> = (0..2)
            .map(|_| {
                let (gate, arrays) = (gate.clone(), arrays.clone());
                thread::spawn(move || {
                    if let Some(_pass) = gate.enter() {
                        let v = arrays.0[0][0].load(Relaxed);
                        assert_ne!(v, POISON, "a caller is inside after close_and_drain returned");
                    }
                })
            })
            .collect();
        assert!(gate.close_and_drain());
        // What a closed map frees once nobody is inside.
        drop(Region(arrays.clone(), 0));
        assert!(gate.enter().is_none());
        for c in callers {
            c.join().unwrap();
        }
    });
}

#[test]
fn close_waits_for_callers_membarrier() {
    close(FenceMode::Membarrier);
}

#[test]
fn close_waits_for_callers_seqcst_fence() {
    close(FenceMode::SeqCstFence);
}

/// The seqlock alone, with more write sections than the grace-period model:
/// a reader's validated read belongs to exactly one write.
#[test]
fn seqlock_validated_reads_are_never_torn() {
    builder().check(|| {
        let view = Arc::new(View { seq: SeqLock::new(), word: AtomicUsize::new(0) });
        let arrays = Arc::new(Arrays(std::array::from_fn(|_| [AtomicUsize::new(1), AtomicUsize::new(1)])));
        let writer = {
            let (view, arrays) = (view.clone(), arrays.clone());
            thread::spawn(move || {
                for v in 2..=3 {
                    let s = view.seq.write_begin();
                    arrays.0[0][0].store(v, Relaxed);
                    arrays.0[0][1].store(v, Relaxed);
                    view.seq.write_end(s);
                }
            })
        };
        if let Some(s1) = view.seq.read_begin() {
            let a = arrays.0[0][0].load(Relaxed);
            let b = arrays.0[0][1].load(Relaxed);
            if view.seq.read_valid(s1) {
                assert_eq!(a, b, "a validated read is torn");
                assert_eq!(a as u64, 1 + s1 / 2, "a validated read is not the write its sequence names");
            }
        }
        writer.join().unwrap();
    });
}
