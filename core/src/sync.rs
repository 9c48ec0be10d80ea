//! The atomics, fences and locks of the lock-free protocols — the gate's
//! grace periods and close, the shards' seqlock — from one place: std's in
//! every build, loom's under `cfg(loom)`, so that the model checks in
//! `loom_tests.rs` run the code that ships (`scripts/test.sh` runs them
//! with `RUSTFLAGS="--cfg loom"`). Counters and flags outside those
//! protocols use std's atomics directly.

#[cfg(loom)]
pub(crate) use loom::sync::atomic::{fence, AtomicBool, AtomicU64, AtomicUsize};
#[cfg(loom)]
pub(crate) use loom::sync::Mutex;
#[cfg(not(loom))]
pub(crate) use std::sync::atomic::{fence, AtomicBool, AtomicU64, AtomicUsize};
#[cfg(not(loom))]
pub(crate) use std::sync::Mutex;

/// A caller's half of the gate's asymmetric fence (see `gate.rs`): a
/// compiler fence, because `membarrier` makes the closer's or reclaimer's
/// half run a full barrier on every CPU that runs one of our threads. loom
/// cannot inject a barrier into other threads, so under `cfg(loom)` this is
/// stated as what that barrier amounts to: a SeqCst fence here.
#[inline(always)]
pub(crate) fn light_fence() {
    #[cfg(not(loom))]
    std::sync::atomic::compiler_fence(std::sync::atomic::Ordering::SeqCst);
    #[cfg(loom)]
    fence(std::sync::atomic::Ordering::SeqCst);
}

/// Waiting in a spin loop: loom's, under `cfg(loom)`, lets the model switch
/// to the thread being waited for.
#[cfg(loom)]
pub(crate) use loom::{hint::spin_loop, thread::yield_now};
#[cfg(not(loom))]
pub(crate) use std::{hint::spin_loop, thread::yield_now};
