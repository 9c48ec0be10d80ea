//! Routing: the key hash that picks a shard, the messages that travel over
//! a shard's per-CPU inbound channels, and the caller-owned reply slot the
//! owner signals when it is done.

use crate::batch::BatchOp;
use std::hash::BuildHasher;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread::{self, Thread};

/// The fixed, seeded hash of key bytes. The same seed gives the same hash in
/// every process, so a shard's contents are a function of the keys alone.
#[derive(Clone)]
pub(crate) struct KeyHasher(foldhash::fast::FixedState);

impl KeyHasher {
    pub(crate) fn new(seed: u64) -> KeyHasher {
        KeyHasher(foldhash::fast::FixedState::with_seed(seed))
    }

    #[inline]
    pub(crate) fn hash(&self, key: &[u8]) -> u64 {
        self.0.hash_one(key)
    }
}

/// The shard of a hash: the low 32 bits scaled to `n` (tables index by the
/// top bits, so the two choices stay independent).
#[inline]
pub(crate) fn shard_of(hash: u64, n: usize) -> usize {
    (((hash as u32) as u64 * n as u64) >> 32) as usize
}

/// Work sent to a shard's owner. The pointers refer to the caller's memory;
/// the caller blocks on its reply slot until the owner has replied, so they
/// stay valid for as long as the owner uses them.
pub(crate) enum Msg {
    /// Run `ops[idx[i]]` for i in 0..n, in order.
    Ops { ops: *mut BatchOp<'static>, idx: *const u32, n: usize, reply: *const ReplySlot },
    /// A resumable job the owner runs without holding the ownership lock, one
    /// step per loop turn between messages, until it returns true.
    Job { f: *mut (dyn FnMut() -> bool + Send + 'static), reply: *const ReplySlot },
    /// Leave the loop (sent only after the close gate drained every caller).
    Stop,
}

// SAFETY: the pointers in a message are only dereferenced by the one owner
// thread that receives it, while the sending caller is blocked waiting for
// the reply (see `Msg`); ops of one batch sent to different shards are
// disjoint (distinct indices), so no two threads touch the same op.
unsafe impl Send for Msg {}

/// A caller's reply slot: how many messages are still out, and who to wake.
/// One per caller thread, reused for every request: no allocation per call.
pub(crate) struct ReplySlot {
    pending: AtomicUsize,
    thread: Thread,
}

thread_local! {
    static REPLY: ReplySlot = ReplySlot { pending: AtomicUsize::new(0), thread: thread::current() };
}

impl ReplySlot {
    /// Runs `f` with this thread's reply slot.
    pub(crate) fn with<R>(f: impl FnOnce(&ReplySlot) -> R) -> R {
        REPLY.with(f)
    }

    /// Announces `n` messages about to be sent.
    #[inline]
    pub(crate) fn expect(&self, n: usize) {
        self.pending.store(n, Ordering::Relaxed);
    }

    /// Waits until every announced message was answered. Spins only when
    /// `may_spin` (the owners run on other CPUs), then parks.
    pub(crate) fn wait(&self, may_spin: bool) {
        if may_spin {
            for _ in 0..4000 {
                if self.pending.load(Ordering::Acquire) == 0 {
                    return;
                }
                std::hint::spin_loop();
            }
        }
        while self.pending.load(Ordering::Acquire) != 0 {
            thread::park();
        }
    }

    /// Called by an owner when it finished one message of this slot. After
    /// this returns the caller may have moved on: nothing of the request may
    /// be touched afterwards.
    ///
    /// # Safety
    /// `slot` must be a slot whose caller is waiting for this message.
    #[inline]
    pub(crate) unsafe fn complete(slot: *const ReplySlot) {
        // SAFETY: the caller is blocked in `wait` until pending reaches zero,
        // so the slot is alive here; we clone the thread handle before the
        // decrement that may release the caller (and end its thread).
        let (t, last) = unsafe {
            let t = (*slot).thread.clone();
            let last = (*slot).pending.fetch_sub(1, Ordering::AcqRel) == 1;
            (t, last)
        };
        if last {
            t.unpark();
        }
    }
}
