//! The gate: every call enters it, and it serves two purposes.
//!
//! **Close.** It lets callers in until the map closes, then waits for those
//! inside to leave. A caller counts itself in its thread's stripe, so
//! callers on different threads never write the same cache line. Protocol:
//! a caller increments its stripe, fences, then reads `closed`; the closer
//! stores `closed`, fences, then waits for every stripe to read zero. The
//! two fences are ordered one way or the other: either the caller's
//! increment is visible to the closer (which waits for it), or the closer's
//! store is visible to the caller (which backs out and reports `Closed`).
//!
//! **Grace periods.** Lock-free readers probe slot arrays and record chunks
//! that a writer may unlink meanwhile (a table grows, a shard is cleared or
//! replaced). Unlinked regions are retired here and unmapped only after a
//! grace period, in the manner of sleepable RCU: each stripe has two
//! counters, callers increment the one of the current epoch's parity, and
//! the epoch advances only when the other parity's counters all read zero
//! (checked after a fence that follows every unlinking being considered).
//! A region retired at epoch E is freed once the epoch reaches E + 2: both
//! parities have then drained since it was unlinked, so no caller that
//! could have seen it is still inside. A caller whose increment the check
//! missed fenced after the check's fence, so it sees the new region only;
//! a caller that read an already advanced epoch did so with acquire
//! ordering, so it too sees everything unlinked before the advance.
//! Nothing ever waits for a reader while holding a shard lock:
//! reclamation only tries, and retries later.
//!
//! **Cost per call.** A thread owns a stripe (up to [`OWNED_STRIPES`]
//! threads at a time; ids are recycled when threads exit), so entering is a
//! plain load and store of its own counter and leaving a release store: no
//! read-modify-write. The fence between the increment and the caller's
//! next loads is asymmetric where Linux offers `membarrier`
//! (`MEMBARRIER_CMD_PRIVATE_EXPEDITED`): the caller's side is a compiler
//! fence only, and the rare closer or reclaimer makes the kernel run a full
//! barrier on every CPU that runs one of our threads, which orders each
//! caller's increment before or after the check exactly as a pair of SeqCst
//! fences would (the liburcu/folly "asymmetric fence"). Without
//! `membarrier` (old kernels, seccomp, valgrind) the caller's side is a
//! SeqCst fence. Threads beyond the owned stripes share per-CPU stripes,
//! counting with read-modify-writes, followed by the same fence. Direct
//! readers (bindings that read the map's memory themselves, `map/direct.rs`)
//! count themselves in the shared stripes the same way, or in stripes set
//! aside for them, each of which one reader at a time owns.

use crate::sync::{fence, light_fence, spin_loop, yield_now, AtomicBool, AtomicU64, AtomicUsize, Mutex};
use crossbeam_utils::CachePadded;
use std::marker::PhantomData;
use std::sync::atomic::Ordering::{Acquire, Relaxed, Release, SeqCst};

/// Threads that own a stripe of every gate at a time; later threads share.
/// (Two under loom: its models run a few threads, and every stripe is a
/// load for each drain check to explore.)
#[cfg(not(loom))]
pub(crate) const OWNED_STRIPES: usize = 128;
#[cfg(loom)]
pub(crate) const OWNED_STRIPES: usize = 2;

/// Stripe ids of exited threads, handed out again.
#[cfg(not(loom))]
static FREE_IDS: std::sync::Mutex<Vec<usize>> = std::sync::Mutex::new(Vec::new());
/// The next never-used stripe id.
#[cfg(not(loom))]
static NEXT_ID: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// A thread's stripe id, returned to [`FREE_IDS`] when the thread exits.
#[cfg(not(loom))]
struct ThreadStripe(usize);

#[cfg(not(loom))]
impl ThreadStripe {
    fn acquire() -> ThreadStripe {
        let reused = FREE_IDS.lock().unwrap_or_else(|e| e.into_inner()).pop();
        ThreadStripe(reused.unwrap_or_else(|| NEXT_ID.fetch_add(1, Relaxed)))
    }
}

#[cfg(not(loom))]
impl Drop for ThreadStripe {
    fn drop(&mut self) {
        // From now on this thread counts itself in a shared stripe.
        let _ = STRIPE_ID.try_with(|c| c.set(EXITING));
        // Every pass of this thread has been dropped (passes never leave the
        // function that took them), so its counters read zero in every gate;
        // the mutex orders those stores before the next owner's loads.
        FREE_IDS.lock().unwrap_or_else(|e| e.into_inner()).push(self.0);
    }
}

/// [`STRIPE_ID`] before the thread's first pass.
#[cfg(not(loom))]
const UNASSIGNED: usize = usize::MAX;
/// [`STRIPE_ID`] once the thread's id went back to the pool (thread exit).
#[cfg(not(loom))]
const EXITING: usize = usize::MAX - 1;

#[cfg(not(loom))]
thread_local! {
    /// The thread's stripe id (a plain read: no destructor, no lazy state).
    static STRIPE_ID: std::cell::Cell<usize> = const { std::cell::Cell::new(UNASSIGNED) };
    /// Owns the id and returns it when the thread exits.
    static STRIPE_GUARD: ThreadStripe = ThreadStripe::acquire();
    /// Which shared stripe a thread without an owned one uses (handed out in turn).
    static SHARED_HINT: std::cell::Cell<usize> = const { std::cell::Cell::new(usize::MAX) };
}

/// This thread's stripe id: below [`OWNED_STRIPES`] it owns that stripe,
/// otherwise it counts itself in a shared one.
#[cfg(not(loom))]
#[inline(always)]
fn stripe_id() -> usize {
    let id = STRIPE_ID.get();
    if id != UNASSIGNED {
        return id;
    }
    assign_stripe_id()
}

#[cfg(not(loom))]
#[cold]
fn assign_stripe_id() -> usize {
    match STRIPE_GUARD.try_with(|g| g.0) {
        Ok(id) => {
            STRIPE_ID.set(id);
            id
        }
        Err(_) => EXITING,
    }
}

/// Under loom: each model thread takes the next id of its execution (the
/// models run fewer threads than [`OWNED_STRIPES`]).
#[cfg(loom)]
fn stripe_id() -> usize {
    loom::lazy_static! {
        static ref NEXT: AtomicUsize = AtomicUsize::new(0);
    }
    loom::thread_local! {
        static ID: usize = NEXT.fetch_add(1, Relaxed);
    }
    ID.with(|id| *id)
}

/// How the fence between a caller's increment and its next loads is made.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum FenceMode {
    /// Compiler fence for callers; `membarrier` for closers and reclaimers.
    Membarrier,
    /// SeqCst fences on both sides.
    SeqCstFence,
}

const MEMBARRIER_CMD_QUERY: libc::c_int = 0;
const MEMBARRIER_CMD_PRIVATE_EXPEDITED: libc::c_int = 1 << 3;
const MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED: libc::c_int = 1 << 4;

/// 0 = not decided yet, 1 = membarrier registered, 2 = unavailable.
static MEMBARRIER: std::sync::atomic::AtomicU8 = std::sync::atomic::AtomicU8::new(0);

fn membarrier(cmd: libc::c_int) -> libc::c_long {
    // SAFETY: membarrier takes (cmd, flags, cpu_id) integers and touches no
    // memory of ours.
    unsafe { libc::syscall(libc::SYS_membarrier, cmd, 0 as libc::c_uint, 0 as libc::c_int) }
}

/// The process's fence mode: membarrier when the kernel offers private
/// expedited barriers and registration succeeds (once per process), unless
/// `NUMASHARD_NO_MEMBARRIER` is set.
pub(crate) fn default_fence_mode() -> FenceMode {
    let decided = MEMBARRIER.load(Acquire);
    if decided != 0 {
        return if decided == 1 { FenceMode::Membarrier } else { FenceMode::SeqCstFence };
    }
    let wanted = std::env::var_os("NUMASHARD_NO_MEMBARRIER").map_or(true, |v| v.is_empty() || v == "0");
    let ok = wanted && {
        let cmds = membarrier(MEMBARRIER_CMD_QUERY);
        cmds > 0
            && cmds & MEMBARRIER_CMD_PRIVATE_EXPEDITED as libc::c_long != 0
            && membarrier(MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED) == 0
    };
    // Registration is idempotent, so two racing first maps agree.
    MEMBARRIER.store(if ok { 1 } else { 2 }, Release);
    if ok {
        FenceMode::Membarrier
    } else {
        FenceMode::SeqCstFence
    }
}

/// Memory retired until a grace period has passed: anything whose drop
/// frees it (a slot array, record chunk or large-record region; a whole
/// shard state replaced by `replace_all`). Type-erased, so the gate knows
/// nothing of what it holds.
pub(crate) struct Garbage(#[allow(dead_code)] Box<dyn Send>);

impl Garbage {
    /// Retires `x`: it is dropped once its grace period has passed.
    pub(crate) fn new<T: Send + 'static>(x: T) -> Garbage {
        Garbage(Box::new(x))
    }
}

/// Where direct readers count themselves in ([`Gate::direct_stripes`]).
#[cfg(not(loom))]
pub(crate) struct DirectStripes {
    pub(crate) stride: usize,
    pub(crate) shared: (*mut u64, usize),
    pub(crate) owned: (*mut u64, usize),
    pub(crate) plain_entry: bool,
}

pub(crate) struct Gate {
    closed: AtomicBool,
    mode: FenceMode,
    epoch: AtomicU64,
    /// `OWNED_STRIPES` stripes written only by their owning thread, then
    /// `shared` shared ones, then as many for direct readers that own one
    /// (a binding's per-processor stripes, `map/direct.rs`).
    stripes: Box<[CachePadded<[AtomicUsize; 2]>]>,
    shared: usize,
    garbage: Mutex<Vec<(u64, Garbage)>>,
    has_garbage: AtomicBool,
    /// Set once a direct reader was handed the direct readers' own stripes
    /// ([`Gate::direct_stripes`]): they go to one reader only.
    #[cfg(not(loom))]
    direct_owned_claimed: AtomicBool,
}

/// Proof of being inside an open map; leaving on drop. Not `Send`: an
/// owned stripe is only ever written by its own thread.
pub(crate) struct Pass<'g> {
    gate: &'g Gate,
    stripe: usize,
    parity: usize,
    _not_send: PhantomData<*const ()>,
}

impl Gate {
    /// A gate with `shared` stripes for threads beyond the owned ones, in
    /// the process's fence mode.
    pub(crate) fn new(shared: usize) -> Gate {
        Gate::with_mode(shared, default_fence_mode())
    }

    pub(crate) fn with_mode(shared: usize, mode: FenceMode) -> Gate {
        let shared = shared.max(1);
        // Direct readers' own stripes: as many as shared ones (none under
        // loom, whose models have no direct readers).
        let direct = if cfg!(loom) { 0 } else { shared };
        Gate {
            closed: AtomicBool::new(false),
            mode,
            epoch: AtomicU64::new(0),
            shared,
            stripes: (0..OWNED_STRIPES + shared + direct)
                .map(|_| CachePadded::new([AtomicUsize::new(0), AtomicUsize::new(0)]))
                .collect(),
            garbage: Mutex::new(Vec::new()),
            has_garbage: AtomicBool::new(false),
            #[cfg(not(loom))]
            direct_owned_claimed: AtomicBool::new(false),
        }
    }

    /// Enters, unless the map is closed.
    #[inline(always)]
    pub(crate) fn enter(&self) -> Option<Pass<'_>> {
        let id = stripe_id();
        // Acquire: a caller that sees an advanced epoch sees every unlinking
        // that preceded the advance.
        let parity = (self.epoch.load(Acquire) & 1) as usize;
        let stripe = if id < OWNED_STRIPES {
            let c = &self.stripes[id][parity];
            // Only this thread writes its own stripe.
            c.store(c.load(Relaxed) + 1, Relaxed);
            id
        } else {
            let stripe = self.shared_stripe();
            self.stripes[stripe][parity].fetch_add(1, SeqCst);
            stripe
        };
        // The caller's half of the fence pair: the increment is ordered
        // before the loads that follow against the closer's or reclaimer's
        // `heavy_fence`. With membarrier the kernel supplies the CPU barrier
        // when they ask; otherwise a SeqCst fence (a SeqCst RMW alone would
        // not do: under the language's memory model it does not order this
        // thread's later relaxed loads, which loom shows; see `loom_tests.rs`).
        match self.mode {
            FenceMode::Membarrier => light_fence(),
            FenceMode::SeqCstFence => fence(SeqCst),
        }
        let pass = Pass { gate: self, stripe, parity, _not_send: PhantomData };
        if self.closed.load(Relaxed) {
            return None; // the pass leaves on drop
        }
        Some(pass)
    }

    #[cold]
    fn shared_stripe(&self) -> usize {
        static NEXT_SHARED: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        #[cfg(loom)]
        let hint = NEXT_SHARED.fetch_add(1, Relaxed);
        #[cfg(not(loom))]
        let hint = SHARED_HINT
            .try_with(|h| {
                if h.get() == usize::MAX {
                    h.set(NEXT_SHARED.fetch_add(1, Relaxed));
                }
                h.get()
            })
            .unwrap_or(0);
        OWNED_STRIPES + hint % self.shared
    }

    /// The closer's and reclaimer's half of the fence: after it, every
    /// caller's increment made before its own fence is visible, and every
    /// caller fencing later sees what was stored before.
    fn heavy_fence(&self) {
        fence(SeqCst);
        // (Under loom the callers' light fences are SeqCst fences already.)
        if !cfg!(loom) && self.mode == FenceMode::Membarrier && membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED) != 0 {
            // Registered at start, so the kernel cannot refuse; were it to,
            // callers' increments could go unseen and memory be freed under
            // them: stop rather than risk that.
            eprintln!("numashard: membarrier failed after registration; aborting");
            std::process::abort();
        }
        fence(SeqCst);
    }

    /// The epoch, for direct readers (`map/direct.rs`).
    #[cfg(not(loom))]
    pub(crate) fn epoch_ptr(&self) -> *const u64 {
        self.epoch.as_ptr() as *const u64
    }

    /// The closed flag, for direct readers.
    #[cfg(not(loom))]
    pub(crate) fn closed_ptr(&self) -> *const u8 {
        self.closed.as_ptr() as *const u8
    }

    /// The stripes direct readers count themselves in: the bytes between
    /// two stripes; the shared ones (entered with a read-modify-write and
    /// a full barrier, as threads without an owned stripe do) and the
    /// direct readers' own (each written by one reader at a time), each as
    /// the first one's address and how many there are; and whether a
    /// reader that owns its stripe may enter with a plain store (the gate
    /// runs in membarrier mode: the closer and the reclaimer supply the
    /// barrier), or needs a full barrier after it.
    ///
    /// The own stripes go to one reader: only the first call with `claim`
    /// gets them; every other call gets none (a null address, 0 stripes),
    /// so two direct readers of one map (two bindings, or two language
    /// runtimes, in one process) never write one stripe with plain stores.
    #[cfg(not(loom))]
    pub(crate) fn direct_stripes(&self, claim: bool) -> DirectStripes {
        let at = |i: usize| self.stripes[i][0].as_ptr() as *mut u64;
        let granted = claim && !self.direct_owned_claimed.swap(true, SeqCst);
        DirectStripes {
            stride: std::mem::size_of_val(&self.stripes[0]),
            shared: (at(OWNED_STRIPES), self.shared),
            owned: if granted {
                (at(OWNED_STRIPES + self.shared), self.stripes.len() - OWNED_STRIPES - self.shared)
            } else {
                (std::ptr::null_mut(), 0)
            },
            plain_entry: self.mode == FenceMode::Membarrier,
        }
    }

    pub(crate) fn is_closed(&self) -> bool {
        self.closed.load(SeqCst)
    }

    fn drained(&self, parity: usize) -> bool {
        self.stripes.iter().all(|s| s[parity].load(Acquire) == 0)
    }

    /// Closes the gate and waits until no caller is inside; then frees all
    /// retired memory. Returns false if it was already closed.
    pub(crate) fn close_and_drain(&self) -> bool {
        if self.closed.swap(true, SeqCst) {
            return false;
        }
        self.heavy_fence();
        let mut spins = 0u32;
        while !(self.drained(0) && self.drained(1)) {
            spins += 1;
            if spins < 64 {
                spin_loop();
            } else {
                yield_now();
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

    /// Advances the epoch up to twice, as far as drained callers allow
    /// (never waits). Call with the garbage lock held, after every unlinking
    /// of the memory about to be judged.
    fn advance(&self) {
        self.heavy_fence();
        for _ in 0..2 {
            let e = self.epoch.load(SeqCst);
            let other = ((e & 1) ^ 1) as usize;
            if !self.drained(other) {
                break;
            }
            self.epoch.store(e + 1, SeqCst);
        }
    }

    /// Advances the epoch as far as drained readers allow (never waits) and
    /// frees what has passed its grace period.
    pub(crate) fn try_reclaim(&self) {
        let free: Vec<(u64, Garbage)> = {
            let mut g = self.garbage.lock().unwrap_or_else(|e| e.into_inner());
            if g.is_empty() {
                return;
            }
            self.advance();
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
    #[inline(always)]
    fn drop(&mut self) {
        let c = &self.gate.stripes[self.stripe][self.parity];
        if self.stripe < OWNED_STRIPES {
            // Only this thread writes its own stripe. Release: everything it
            // read inside happens before a closer or reclaimer sees the count.
            c.store(c.load(Relaxed) - 1, Release);
        } else {
            c.fetch_sub(1, SeqCst);
        }
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use std::sync::Arc;

    /// Stress: after close_and_drain returns, no caller is or ever again gets inside.
    /// Both fence modes this machine can run: `SeqCstFence` always, `Membarrier`
    /// when the kernel offers it.
    fn modes() -> Vec<FenceMode> {
        let mut m = vec![FenceMode::SeqCstFence];
        if default_fence_mode() == FenceMode::Membarrier {
            m.push(FenceMode::Membarrier);
        }
        m
    }

    #[test]
    fn nobody_inside_after_close() {
        for mode in modes() {
            nobody_inside_after_close_in(mode);
        }
    }

    fn nobody_inside_after_close_in(mode: FenceMode) {
        for _ in 0..20 {
            let gate = Arc::new(Gate::with_mode(4, mode));
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

    /// More threads than owned stripes: every one is counted while inside
    /// (owned or shared stripe), and all counts return to zero after.
    #[test]
    fn threads_beyond_the_owned_stripes_are_counted() {
        for mode in modes() {
            let n = OWNED_STRIPES + 40;
            let gate = Arc::new(Gate::with_mode(3, mode));
            let inside = Arc::new(std::sync::Barrier::new(n + 1));
            let leave = Arc::new(std::sync::Barrier::new(n + 1));
            let threads: Vec<_> = (0..n)
                .map(|_| {
                    let (gate, inside, leave) = (gate.clone(), inside.clone(), leave.clone());
                    std::thread::spawn(move || {
                        let p = gate.enter().expect("open");
                        inside.wait();
                        leave.wait();
                        drop(p);
                    })
                })
                .collect();
            inside.wait();
            let total: usize = gate.stripes.iter().map(|s| s[0].load(SeqCst) + s[1].load(SeqCst)).sum();
            assert_eq!(total, n);
            assert!(!(gate.drained(0) && gate.drained(1)));
            leave.wait();
            for t in threads {
                t.join().unwrap();
            }
            assert!(gate.drained(0) && gate.drained(1));
            // Nested passes on one thread count twice and leave cleanly.
            {
                let _a = gate.enter().unwrap();
                let _b = gate.enter().unwrap();
                let total: usize = gate.stripes.iter().map(|s| s[0].load(SeqCst) + s[1].load(SeqCst)).sum();
                assert_eq!(total, 2);
            }
            assert!(gate.close_and_drain());
        }
    }

    /// Stress the grace period: readers repeatedly load a published region
    /// and read it while a writer swaps and retires regions; a region's
    /// contents are overwritten with a poison value just before it is freed
    /// (by a guard in the retired item), so a reader that could still see a
    /// freed region would read the poison.
    #[test]
    fn retired_regions_outlive_their_readers() {
        for mode in modes() {
            retired_regions_outlive_their_readers_in(mode);
        }
    }

    fn retired_regions_outlive_their_readers_in(mode: FenceMode) {
        use std::sync::atomic::AtomicPtr;
        struct Poison(Box<AtomicU64>);
        impl Drop for Poison {
            fn drop(&mut self) {
                self.0.store(0xDEAD, SeqCst);
            }
        }
        // Leak-checked by Box: the poisoned cells stay allocated (moved into `graveyard`).
        let gate = Arc::new(Gate::with_mode(2, mode));
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
                        let p = current.load(Acquire);
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
                gate.advance();
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
