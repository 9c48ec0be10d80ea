//! One shard: the state behind its ownership lock and the ways to reach it.
//!
//! - [`state`]: [`ShardState`] — the memory budget and the semantics of every
//!   operation (apply, put, evict, expire) on the shard's table and arena;
//! - [`reader`]: the lock-free reader (seqlock + gate pass): lookups of the
//!   single-call and batch get paths, prefetch, the stage values are copied to;
//! - [`guard`]: [`StateGuard`], the held ownership lock and the writer's half
//!   of the seqlock (write sections, retiring unlinked memory to the gate);
//! - [`owner`]: the owner thread's loop (delegated batches, jobs, background
//!   expiry and reclamation, sleeping); [`OwnerLife`]: when it starts.

#[cfg(all(test, not(loom)))]
mod grow_tests;
mod guard;
mod owner;
mod reader;
mod state;

pub(crate) use guard::StateGuard;
pub(crate) use owner::owner_loop;
use reader::ReaderView;
pub(crate) use reader::{Begun, Lookup, Quick, ReadStart};
pub(crate) use state::{min_entry_cost, Budget, ShardState};

use crate::cache::{Counters, Policy};
use crate::clock::Clock;
use crate::error::Result;
use crate::placement::ShardPlacement;
use crate::routing::Msg;
use crate::seqlock::SeqLock;
use crate::sync::AtomicUsize;
use crate::table::Spare;
use crossbeam_channel::{Receiver, Sender};
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
    /// The owner's ends of `inbound`, until its thread starts and takes them.
    pub(crate) receivers: std::sync::Mutex<Option<Vec<Receiver<Msg>>>>,
    pub(crate) owner: OnceLock<Thread>,
    /// Whether the owner thread runs (see [`OwnerLife`]).
    pub(crate) owner_life: std::sync::Mutex<OwnerLife>,
    /// True while the owner is yet to be started on first need: the check
    /// [`Shard::wake_owner`] makes before taking `owner_life`'s lock.
    lazy_owner: AtomicBool,
    /// Starts the owner thread (set by the map for owners started on first need).
    pub(crate) starter: OnceLock<Box<dyn Fn() -> Result<()> + Send + Sync>>,
    sleeping: AtomicBool,
    /// Entries, published after every change (for `len` without locking).
    pub(crate) entries: AtomicU64,
    /// The next slot array a writer asked the owner to build (its shape,
    /// packed by [`pack_shape`]); 0 = none asked.
    grow_asked: AtomicU64,
    /// The owner's work on the next slot array ([`Growth`]). Locked after
    /// the ownership lock when both are held: a writer that must double
    /// the index itself takes the owner's array over (see `StateGuard`).
    pub(crate) growth: Mutex<Growth>,
    /// Microseconds the owner sleeps before each step of a doubling, no
    /// lock held (tests: an owner that falls behind its writers).
    #[cfg(test)]
    pub(crate) grow_step_delay_us: AtomicU64,
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
    /// Either of the two: a lock-free hit has more to do than copy.
    notes_reads: bool,
}

/// The owner's work on the index's next slot array, shared with the
/// shard's writers: the array while it is built and filled ([`Spare`]), and
/// the copy into it in progress. The owner holds its lock for a step (a
/// huge page touched, 2^16 slots copied, 2^14 logged entries copied again:
/// milliseconds at most); a writer that must double the
/// index past 9/10 takes what is there, under the ownership lock, instead
/// of mapping, touching and filling a new array from nothing.
#[derive(Default)]
pub(crate) struct Growth {
    pub(crate) spare: Option<Spare>,
    pub(crate) copying: Option<Copying>,
}

/// A copy of the index into the owner's spare, in progress.
#[derive(Clone, Copy)]
pub(crate) struct Copying {
    /// The index's id ([`crate::table::Table::start_log`]).
    pub(crate) id: u64,
    /// Its slot array ([`crate::table::Table::word`]).
    pub(crate) word: usize,
    /// Rounds of copying logged entries again done.
    pub(crate) rounds: u32,
}

impl Growth {
    /// Empties it; what it held is for the caller to drop, after any lock.
    pub(crate) fn take(&mut self) -> Growth {
        std::mem::take(self)
    }
}

/// The life of a shard's owner thread. A map whose mode sends work to the
/// owners (`ExecMode::Delegate`, `batch_delegate_min > 0`) starts them when
/// it opens; otherwise (the default) an owner starts on first need — memory
/// to reclaim after a grace period, entries to expire, a `replace_all` to
/// build, an index's next array to build — so that opening a map starts no
/// thread.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum OwnerLife {
    /// Not started; [`Shard::starter`] starts it.
    NotStarted,
    /// Started; its handle is in the map's list of owners, joined at close.
    Running,
    /// The map closed: never started again.
    Closed,
}

impl Shard {
    pub(crate) fn new(
        placement: ShardPlacement,
        inbound: Box<[Sender<Msg>]>,
        receivers: Vec<Receiver<Msg>>,
        policy: &Policy,
    ) -> Shard {
        let counters = Counters::shared();
        let (stripes, stride, count) = counters.read_stripes();
        let (counted_at, counted_shape) = if policy.record_stats { (stripes, stride << 32 | count) } else { (0, 0) };
        Shard {
            next_expiry: AtomicU64::new(u64::MAX),
            counters,
            clock: policy.clock.clone(),
            mark_reads: policy.shard_limit.is_some(),
            count_reads: policy.record_stats,
            notes_reads: policy.shard_limit.is_some() || policy.record_stats,
            placement,
            state: Mutex::new(None),
            poisoned: AtomicBool::new(false),
            inbound,
            receivers: std::sync::Mutex::new(Some(receivers)),
            owner: OnceLock::new(),
            owner_life: std::sync::Mutex::new(OwnerLife::NotStarted),
            lazy_owner: AtomicBool::new(false),
            starter: OnceLock::new(),
            sleeping: AtomicBool::new(false),
            entries: AtomicU64::new(0),
            grow_asked: AtomicU64::new(0),
            growth: Mutex::new(Growth::default()),
            #[cfg(test)]
            grow_step_delay_us: AtomicU64::new(0),
            queue_high_water: AtomicU64::new(0),
            pinned: AtomicBool::new(false),
            memory_bound: AtomicBool::new(false),
            view: CachePadded::new(ReaderView {
                seq: SeqLock::new(),
                table_word: AtomicUsize::new(0),
                home_word: AtomicUsize::new(0),
                counters: counted_at,
                counters_shape: counted_shape,
            }),
        }
    }

    pub(crate) fn install(&self, st: ShardState) {
        let mut g = self.state.lock();
        self.entries.store(st.len() as u64, Ordering::Relaxed);
        self.next_expiry.store(st.next_expiry(), Ordering::Relaxed);
        self.view.home_word.store(st.arena.home_word(), Ordering::Relaxed);
        self.view.table_word.store(st.table.word(), Ordering::Release);
        *g = Some(st);
    }

    /// Takes the state out (after close, when no reader is inside the gate).
    pub(crate) fn uninstall(&self) -> Option<ShardState> {
        self.view.table_word.store(0, Ordering::Release);
        self.view.home_word.store(0, Ordering::Relaxed);
        self.state.lock().take()
    }

    /// Marks the owner as one to start on first need, with `start`.
    pub(crate) fn start_lazily(&self, start: Box<dyn Fn() -> Result<()> + Send + Sync>) {
        let _ = self.starter.set(start);
        self.lazy_owner.store(true, Ordering::Release);
    }

    /// Starts the owner if it starts on first need and has not yet
    /// (`Resource` when its thread cannot be spawned; a later call retries).
    pub(crate) fn start_owner(&self) -> Result<()> {
        if !self.lazy_owner.load(Ordering::Acquire) {
            return Ok(());
        }
        match self.starter.get() {
            Some(start) => start(),
            None => Ok(()),
        }
    }

    /// Called with `owner_life` locked once the owner runs, or the map closed:
    /// nothing is to be started any more.
    pub(crate) fn owner_settled(&self) {
        self.lazy_owner.store(false, Ordering::Release);
    }

    /// Asks the owner to build the slot array of `shape` for the index's
    /// next doubling ([`crate::table::Spare`]), and wakes it, unless that
    /// was asked already.
    pub(crate) fn ask_growth(&self, shape: (u32, Option<u32>)) {
        let word = pack_shape(shape);
        if self.grow_asked.load(Ordering::Relaxed) != word && self.grow_asked.swap(word, Ordering::SeqCst) != word {
            self.wake_owner();
        }
    }

    /// The shape asked of the owner, if any.
    pub(crate) fn growth_asked(&self) -> Option<(u32, Option<u32>)> {
        unpack_shape(self.grow_asked.load(Ordering::SeqCst))
    }

    /// Withdraws the ask for `shape` (built and used, or given up), unless
    /// another shape was asked since.
    pub(crate) fn growth_done(&self, shape: (u32, Option<u32>)) {
        let _ = self.grow_asked.compare_exchange(pack_shape(shape), 0, Ordering::SeqCst, Ordering::Relaxed);
    }

    /// Wakes the owner if it sleeps (it then reclaims retired memory and
    /// expires entries), starting it first if it starts on first need.
    pub(crate) fn wake_owner(&self) {
        if self.lazy_owner.load(Ordering::Acquire) {
            // A new owner looks at retired memory and deadlines before it
            // first sleeps. Should its thread not start, the next wake retries.
            let _ = self.start_owner();
            return;
        }
        if self.sleeping.load(Ordering::SeqCst) && self.sleeping.swap(false, Ordering::SeqCst) {
            if let Some(t) = self.owner.get() {
                t.unpark();
            }
        }
    }

    /// Sends a message on the channel of the caller's CPU and wakes the owner
    /// if it sleeps. The owner must have been started ([`Shard::start_owner`]).
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

/// A slot array's shape (log2 capacity, node) as one word: the bits in the
/// low half, the node + 1 (0 = unbound) in the high half. Never 0.
fn pack_shape((bits, node): (u32, Option<u32>)) -> u64 {
    u64::from(bits) | u64::from(node.map_or(0, |n| n + 1)) << 32
}

fn unpack_shape(word: u64) -> Option<(u32, Option<u32>)> {
    (word != 0).then(|| (word as u32, ((word >> 32) as u32).checked_sub(1)))
}
