//! The owner thread's loop.

use super::{Budget, Copying, Growth, Shard, StateGuard};
use crate::cache::GRAIN_NS;
use crate::error::Result;
use crate::gate::Gate;
use crate::routing::{Msg, ReplySlot};
use crate::table::Spare;
use crossbeam_channel::Receiver;
use std::sync::atomic::{fence, Ordering};
use std::time::{Duration, Instant};

/// Registrations of deadlines an owner handles per background step.
const EXPIRE_STEP: usize = 4096;

/// Bytes of the index's next array an owner touches per background step
/// (one huge page: a few milliseconds on the 2-vCPU VM, so messages to the
/// owner wait no longer than that).
const SPARE_STEP: usize = 2 * 1024 * 1024;

/// Slots of the index an owner copies into its spare per background step
/// (1 MiB of the old array).
const COPY_STEP: usize = 1 << 16;

/// Logged entries past which another round of copying them again runs
/// without the lock; at most this many are copied under it.
const RESYNC_LOCKED_MAX: usize = 4096;

/// Rounds of copying logged entries again without the lock before the last
/// one, under it, takes whatever is left.
const RESYNC_ROUNDS: u32 = 4;

/// Logged entries an owner copies again per background step (a few
/// milliseconds at most, so that a writer that takes the work over, or
/// `stats`, waits no longer than that for the growth's lock).
const RESYNC_STEP: usize = 1 << 14;

/// How a step of [`grow_step`] ended.
enum Step {
    /// More steps to come.
    More,
    /// The index doubled into the spare, which it now is.
    Doubled,
    /// The index changed meanwhile (a writer doubled it past 9/10, taking
    /// the spare over or not, a clear, a `replace_all`) or the map is
    /// closing: what is left of the work is of no use.
    GiveUp,
    /// The array of that shape could not be mapped.
    Failed,
}

/// One step of doubling the index into a spare array of `shape` without
/// holding the shard's lock for the copy ([`Growth`]): the array is mapped
/// and touched a huge page at a time; then, under the lock, briefly, the
/// index starts logging the entries its changes touch; the owner copies its
/// slots a step at a time without the lock (readers and writers go on; a
/// slot read while it changes is copied wrong, and its entries are logged);
/// while the log is long, it takes the log under the lock and copies those
/// entries again without it, 2^14 per step; last, under the lock, it
/// copies the entries of the remaining log again and publishes the new array
/// ([`StateGuard::adopt`]). The lock is held for the start and the end:
/// the copy of a few thousand entries, not of millions.
///
/// Steps without the shard's lock hold `growth`'s; steps under it take
/// the shard's lock first, then `growth`'s, as a writer that takes the
/// work over does.
fn grow_step(shard: &Shard, gate: &Gate, shape: (u32, Option<u32>)) -> Step {
    {
        // Declared first, dropped last: work for another shape is unmapped
        // after the growth's lock is released.
        let mut _stale = Growth::default();
        let mut g = shard.growth.lock();
        if g.spare.as_ref().is_some_and(|sp| sp.shape() != shape) {
            _stale = g.take();
        }
        let Growth { spare, copying } = &mut *g;
        let sp = match spare {
            Some(sp) => sp,
            None => match Spare::new(shape.0, shape.1) {
                Ok(sp) => spare.insert(sp),
                Err(_) => return Step::Failed,
            },
        };
        if !sp.is_populated() {
            sp.populate(SPARE_STEP);
            return Step::More;
        }
        if let Some(word) = copying.filter(|_| !sp.is_copied()).map(|c| c.word) {
            // SAFETY: `off_lock` runs this only while `word`'s array is mapped.
            let copied = off_lock(shard, gate, word, || unsafe { sp.copy_step(word, COPY_STEP) });
            return if copied { Step::More } else { Step::GiveUp };
        }
        if let Some(word) = copying.filter(|_| sp.has_pending()).map(|c| c.word) {
            // Logged entries copied again, a step at a time; those a step
            // did not reach stay pending, for whoever adopts the spare.
            // SAFETY: as for `copy_step` above.
            let resynced = off_lock(shard, gate, word, || unsafe { sp.resync_pending(word, RESYNC_STEP) });
            return if resynced { Step::More } else { Step::GiveUp };
        }
    }
    let Ok(mut st) = shard.lock() else { return Step::GiveUp };
    let mut g = shard.growth.lock();
    let Growth { spare, copying } = &mut *g;
    // A writer took the work over since the step above.
    let Some(sp) = spare.as_mut().filter(|sp| sp.shape() == shape) else { return Step::GiveUp };
    let Some(c) = copying.as_mut() else {
        if st.table.next_shape() != sp.shape() {
            return Step::GiveUp;
        }
        *copying = Some(Copying { id: st.table.start_log(), word: st.table.word(), rounds: 0 });
        return Step::More;
    };
    let held = Instant::now();
    if c.rounds < RESYNC_ROUNDS && st.table.log_len(c.id).is_some_and(|n| n > RESYNC_LOCKED_MAX) {
        // Copied again without the lock, in the next steps.
        sp.defer(st.table.take_log(c.id).unwrap_or_default());
        c.rounds += 1;
        return Step::More;
    }
    let id = c.id;
    let taken = g.take();
    drop(g);
    let Some(unused) = st.adopt(gate, id, taken.spare.expect("checked above")) else {
        drop(st);
        shard.counters.grow_hold_max_ns.fetch_max(held.elapsed().as_nanos() as u64, Ordering::Relaxed);
        return Step::Doubled;
    };
    drop(st);
    // A copy that could not be used is unmapped after the lock is released.
    drop(unused);
    Step::GiveUp
}

/// Runs `f`, which reads the slot array `word` names without the lock,
/// under a gate pass and only if that array is still the published one: it
/// then stays mapped until the pass is dropped, after `f`. False, without
/// running `f`, when it is not (the index changed) or the map is closing.
fn off_lock<R>(shard: &Shard, gate: &Gate, word: usize, f: impl FnOnce() -> R) -> bool {
    let Some(_pass) = gate.enter() else { return false };
    if shard.view.table_word.load(Ordering::Relaxed) != word {
        return false;
    }
    f();
    true
}

/// The owner thread's loop: drain every per-CPU channel, apply what came
/// under one hold of the ownership lock, reply; run a step of a pending job
/// (built without the lock, so callers are not held off by it); when idle,
/// spin for `spin` and then park until a sender wakes it.
pub(crate) fn owner_loop(shard: &Shard, budget: &Budget, gate: &Gate, rxs: Vec<Receiver<Msg>>, spin: Duration) {
    type Job = (*mut (dyn FnMut() -> bool + Send + 'static), *const ReplySlot);
    let mut msgs: Vec<Msg> = Vec::with_capacity(64);
    let mut jobs: std::collections::VecDeque<Job> = std::collections::VecDeque::new();
    let mut stop = false;
    // A shape the owner could not map (not tried again: writers double the
    // index themselves past 9/10, and the next shape is asked anew). The
    // work on the next array is in `shard.growth`.
    let mut failed: Option<(u32, Option<u32>)> = None;
    loop {
        for rx in &rxs {
            while msgs.len() < 4096 {
                match rx.try_recv() {
                    Ok(m) => msgs.push(m),
                    Err(_) => break,
                }
            }
        }
        if !msgs.is_empty() {
            shard.queue_high_water.fetch_max(msgs.len() as u64, Ordering::Relaxed);
            let mut guard: Option<Result<StateGuard<'_>>> = None;
            for m in msgs.drain(..) {
                match m {
                    Msg::Ops { ops, idx, n, reply } => {
                        // SAFETY: the sender waits on `reply`, keeping ops and idx alive.
                        let idx = unsafe { std::slice::from_raw_parts(idx, n) };
                        match guard.get_or_insert_with(|| shard.lock()) {
                            Ok(st) => {
                                // SAFETY: the indices of one message are distinct ops
                                // that only this shard touches (the batch splitter's
                                // contract), and the sender keeps `ops` alive until replied.
                                st.write(gate, idx.len(), |st| unsafe { st.apply_indexed(budget, ops, idx) });
                                // Publish before replying: a caller that saw its
                                // reply must see the count it caused.
                                st.publish();
                            }
                            Err(e) => {
                                for &i in idx {
                                    // SAFETY: as above.
                                    unsafe { (*ops.add(i as usize)).status = e.status() };
                                }
                            }
                        }
                        // SAFETY: the caller is waiting for this message.
                        unsafe { ReplySlot::complete(reply) };
                    }
                    Msg::Job { f, reply } => jobs.push_back((f, reply)),
                    Msg::Stop => stop = true,
                }
            }
            drop(guard);
            continue;
        }
        if gate.has_garbage() {
            gate.try_reclaim();
        }
        // Reclaim expired entries in the background, a bounded step at a time.
        let next_expiry = shard.next_expiry.load(Ordering::Relaxed);
        if next_expiry != u64::MAX && next_expiry.saturating_add(GRAIN_NS) <= shard.clock.now_ns() {
            if let Ok(mut st) = shard.lock() {
                let now = shard.clock.now_ns();
                st.write(gate, 0, |st| st.expire_due(budget, now, EXPIRE_STEP, false));
            }
            continue;
        }
        if let Some(&(f, reply)) = jobs.front() {
            // SAFETY: the job's closure lives on its waiting caller's stack.
            if unsafe { (*f)() } {
                jobs.pop_front();
                // SAFETY: the caller is waiting for this job.
                unsafe { ReplySlot::complete(reply) };
            }
            continue;
        }
        if stop {
            return;
        }
        if let Some(shape) = shard.growth_asked().filter(|&s| Some(s) != failed) {
            // A writer found the index past 4/5: build its next array off the
            // lock, a step at a time, copy the entries into it off the lock
            // too, then double into it (see `grow_step`).
            #[cfg(test)]
            std::thread::sleep(Duration::from_micros(shard.grow_step_delay_us.load(Ordering::Relaxed)));
            match grow_step(shard, gate, shape) {
                Step::More => {}
                Step::Failed => failed = Some(shape),
                Step::Doubled | Step::GiveUp => {
                    let unused = shard.growth.lock().take();
                    drop(unused);
                    shard.growth_done(shape);
                }
            }
            continue;
        }
        if let Some(mut g) = shard.growth.try_lock().filter(|g| g.spare.is_some()) {
            // The ask was withdrawn (a writer doubled the index itself): the
            // work is for an index that is gone.
            let unused = g.take();
            drop(g);
            drop(unused);
        }
        if !spin.is_zero() {
            let until = Instant::now() + spin;
            while Instant::now() < until && rxs.iter().all(|r| r.is_empty()) {
                std::hint::spin_loop();
            }
            if rxs.iter().any(|r| !r.is_empty()) {
                continue;
            }
        }
        shard.sleeping.store(true, Ordering::SeqCst);
        fence(Ordering::SeqCst);
        // Asked meanwhile: the asker may have seen the owner awake, and not woken it.
        if rxs.iter().any(|r| !r.is_empty()) || shard.growth_asked().is_some_and(|s| Some(s) != failed) {
            shard.sleeping.store(false, Ordering::SeqCst);
            continue;
        }
        // Memory waiting for its grace period is retried every millisecond
        // (readers leave quickly); entries with deadlines are reclaimed once
        // their wheel bucket has passed (woken then, at most every 10 ms
        // and at least every second); otherwise sleep until woken.
        let retry_reclaim = gate.has_garbage();
        let expiry_wait = match shard.next_expiry.load(Ordering::Relaxed) {
            u64::MAX => None,
            t => {
                let wait = t.saturating_add(GRAIN_NS).saturating_sub(shard.clock.now_ns());
                Some(Duration::from_nanos(wait.clamp(10_000_000, 1_000_000_000)))
            }
        };
        while shard.sleeping.load(Ordering::SeqCst) {
            if retry_reclaim || expiry_wait.is_some() {
                let wait = if retry_reclaim { Duration::from_millis(1) } else { expiry_wait.unwrap_or_default() };
                std::thread::park_timeout(wait);
                shard.sleeping.store(false, Ordering::SeqCst);
            } else {
                std::thread::park();
            }
        }
    }
}
