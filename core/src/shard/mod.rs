//! One shard: the state behind its ownership lock and the ways to reach it.
//!
//! - [`state`]: [`ShardState`] — the memory budget and the semantics of every
//!   operation (apply, put, evict, expire) on the shard's table and arena;
//! - [`reader`]: the lock-free reader (seqlock + gate pass): lookups of the
//!   single-call and batch get paths, prefetch, the stage values are copied to;
//! - [`guard`]: [`StateGuard`], the held ownership lock and the writer's half
//!   of the seqlock (write sections, retiring unlinked memory to the gate);
//! - [`owner`]: the owner thread's loop (delegated batches, jobs, background
//!   expiry and reclamation, sleeping).

mod guard;
mod owner;
mod reader;
mod state;

pub(crate) use guard::StateGuard;
pub(crate) use owner::owner_loop;
pub(crate) use reader::Lookup;
use reader::ReaderView;
pub(crate) use state::{Budget, ShardState};

use crate::cache::{Counters, Policy};
use crate::clock::Clock;
use crate::placement::ShardPlacement;
use crate::routing::Msg;
use crate::seqlock::SeqLock;
use crate::sync::AtomicUsize;
use crossbeam_channel::Sender;
use crossbeam_utils::CachePadded;
use parking_lot::Mutex;
use std::sync::atomic::{fence, AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::thread::Thread;

/// One shard as the map sees it: the state behind its ownership lock, the
/// owner's inbound channels, and counters readable without the lock.
pub(crate) struct Shard {
    pub(crate) placement: ShardPlacement,
    /// The ownership lock. parking_lot's, for `unlock_fair`: an iterator
    /// hands the lock to a waiting writer between chunks instead of
    /// re-taking it at once (which starved writers for milliseconds).
    state: Mutex<Option<ShardState>>,
    /// Set when a panic unwound through a hold of the lock: the state may be
    /// inconsistent and is never used again.
    poisoned: AtomicBool,
    pub(crate) inbound: Box<[Sender<Msg>]>,
    pub(crate) owner: OnceLock<Thread>,
    sleeping: AtomicBool,
    /// Entries, published after every change (for `len` without locking).
    pub(crate) entries: AtomicU64,
    pub(crate) queue_high_water: AtomicU64,
    pub(crate) pinned: AtomicBool,
    pub(crate) memory_bound: AtomicBool,
    /// What lock-free readers read, on a cache line of its own that only
    /// write sections store to (the lock word and counters live elsewhere).
    view: CachePadded<ReaderView>,
    /// Published with the entry count: the earliest moment an entry may
    /// expire (u64::MAX: no entry has a deadline).
    pub(crate) next_expiry: AtomicU64,
    /// Hits, misses, evictions, expirations (shared with the state).
    pub(crate) counters: Arc<Counters>,
    clock: Clock,
    /// Readers mark the entries they find (for eviction).
    mark_reads: bool,
    /// Readers count hits and misses.
    count_reads: bool,
}

impl Shard {
    pub(crate) fn new(placement: ShardPlacement, inbound: Box<[Sender<Msg>]>, policy: &Policy) -> Shard {
        Shard {
            next_expiry: AtomicU64::new(u64::MAX),
            counters: Counters::shared(),
            clock: policy.clock.clone(),
            mark_reads: policy.shard_limit.is_some(),
            count_reads: policy.record_stats,
            placement,
            state: Mutex::new(None),
            poisoned: AtomicBool::new(false),
            inbound,
            owner: OnceLock::new(),
            sleeping: AtomicBool::new(false),
            entries: AtomicU64::new(0),
            queue_high_water: AtomicU64::new(0),
            pinned: AtomicBool::new(false),
            memory_bound: AtomicBool::new(false),
            view: CachePadded::new(ReaderView { seq: SeqLock::new(), table_word: AtomicUsize::new(0) }),
        }
    }

    pub(crate) fn install(&self, st: ShardState) {
        let mut g = self.state.lock();
        self.entries.store(st.len() as u64, Ordering::Relaxed);
        self.next_expiry.store(st.next_expiry(), Ordering::Relaxed);
        self.view.table_word.store(st.table.word(), Ordering::Release);
        *g = Some(st);
    }

    /// Takes the state out (after close, when no reader is inside the gate).
    pub(crate) fn uninstall(&self) -> Option<ShardState> {
        self.view.table_word.store(0, Ordering::Release);
        self.state.lock().take()
    }

    /// Wakes the owner if it sleeps (it then reclaims retired memory).
    pub(crate) fn wake_owner(&self) {
        if self.sleeping.load(Ordering::SeqCst) && self.sleeping.swap(false, Ordering::SeqCst) {
            if let Some(t) = self.owner.get() {
                t.unpark();
            }
        }
    }

    /// Sends a message on the channel of the caller's CPU and wakes the owner
    /// if it sleeps.
    pub(crate) fn send(&self, cpu: usize, msg: Msg) {
        let ch = &self.inbound[cpu % self.inbound.len()];
        // The receiver lives as long as the owner thread, which runs until a
        // Stop that is only sent after every caller left the gate.
        let _ = ch.send(msg);
        fence(Ordering::SeqCst);
        if self.sleeping.load(Ordering::SeqCst) && self.sleeping.swap(false, Ordering::SeqCst) {
            if let Some(t) = self.owner.get() {
                t.unpark();
            }
        }
    }
}
