//! Batches: validated and hashed, split by shard with a stable counting
//! sort, then each shard's part is dispatched — to its owner thread, to
//! lock-free reads in prefetched windows, or applied by the caller under the
//! shard's lock.

use super::Map;
use crate::batch::{BatchOp, OpKind};
use crate::config::ExecMode;
use crate::error::{Error, Result, Status};
use crate::numa;
use crate::routing::{shard_of, Msg, ReplySlot};
use crate::shard::{Begun, Quick, ReadStart};
use std::cell::RefCell;
use std::mem::MaybeUninit;

thread_local! {
    /// Per-thread scratch for splitting batches by shard (no allocation per batch once warm).
    static SPLIT: RefCell<Split> = const { RefCell::new(Split::new()) };
}

/// Scratch arrays for splitting a batch by shard, reused by each thread.
struct Split {
    /// Shard of each op (u32::MAX for an op that failed validation).
    ids: Vec<u32>,
    /// Prefix sums of ops per shard, then a copy used as fill cursors.
    starts: Vec<u32>,
    fill: Vec<u32>,
    /// Op indices grouped by shard, in array order within a shard.
    order: Vec<u32>,
    /// Ops a lock-free read could not serve, to apply under the lock.
    retry: Vec<u32>,
}

impl Split {
    const fn new() -> Split {
        Split { ids: Vec::new(), starts: Vec::new(), fill: Vec::new(), order: Vec::new(), retry: Vec::new() }
    }
}

/// How many of a batch's first ops get their home slot prefetched while the
/// batch is sorted by shard (the read windows fetch the rest; a bound keeps
/// early lines from being evicted before they are read).
const EARLY_PREFETCH: usize = 128;

/// Keys per window of an all-get read's lock-free stages ([`Map::read_gets`]):
/// the ceiling's 64, which keeps a window's slot and record lines (two per
/// op) well inside the L1 cache.
const WINDOW: usize = 64;

/// [`Map::read_gets`]'s mark of a key over the limit (its outcome is reported).
const SKIP: u8 = u8::MAX;

impl Map {
    /// Runs any mix of operations in one call: split by shard (ops on the
    /// same key keep their array order), all shards working at once; every op
    /// gets its own status. Returns an error only when the call as a whole
    /// failed (closed map); per-op errors live in the ops.
    pub fn batch(&self, ops: &mut [BatchOp<'_>]) -> Result<()> {
        if let [op] = ops {
            // One op (the C ABI's single calls with a TTL or an out buffer,
            // Go's and Java's one-op batches) takes the single-call path: no
            // split, no scratch, one gate pass. Kept on the batch path only
            // where that would delegate it and the single path would not.
            if self.inner.cfg.exec_mode == ExecMode::Delegate || self.inner.cfg.batch_delegate_min != 1 {
                self.run_one(op)?;
                return Ok(());
            }
        }
        let _pass = self.enter()?;
        if ops.len() > u32::MAX as usize {
            return Err(Error::with_detail(Status::InvalidArgument, "batch larger than 2^32-1 ops"));
        }
        let inner = &*self.inner;
        if inner.cfg.exec_mode == ExecMode::Auto
            && inner.cfg.batch_delegate_min == 0
            && ops.iter().all(|op| op.kind == OpKind::Get)
        {
            self.read_batch(ops);
            return Ok(());
        }
        let n = inner.shards.len();
        SPLIT.with(|cell| {
            let mut scratch = cell.borrow_mut();
            let Split { ids, starts, fill, order, retry } = &mut *scratch;
            ids.clear();
            starts.clear();
            starts.resize(n + 1, 0);
            order.clear();
            order.resize(ops.len(), 0);
            // Counting sort by shard: stable, so same-key ops keep array order.
            // The home slots of the first ops are prefetched as soon as their
            // hash is known, so those misses overlap the rest of the sort.
            let prefetch_slots = inner.cfg.exec_mode == ExecMode::Auto;
            for (i, op) in ops.iter_mut().enumerate() {
                let s = if self.validate(op) {
                    op.hash = inner.hasher.hash(op.key);
                    let s = shard_of(op.hash, n);
                    if prefetch_slots && i < EARLY_PREFETCH {
                        inner.shards[s].prefetch(op.hash);
                    }
                    s as u32
                } else {
                    u32::MAX
                };
                ids.push(s);
                if s != u32::MAX {
                    starts[s as usize + 1] += 1;
                }
            }
            for s in 0..n {
                starts[s + 1] += starts[s];
            }
            fill.clear();
            fill.extend_from_slice(starts);
            for (i, &s) in ids.iter().enumerate() {
                if s != u32::MAX {
                    order[fill[s as usize] as usize] = i as u32;
                    fill[s as usize] += 1;
                }
            }
            let base: *mut BatchOp<'static> = ops.as_mut_ptr().cast();
            let cpu = numa::current_cpu() as usize;
            let delegate_min = match inner.cfg.exec_mode {
                ExecMode::Delegate => 1,
                ExecMode::Auto if inner.cfg.batch_delegate_min == 0 => usize::MAX,
                ExecMode::Auto => inner.cfg.batch_delegate_min,
            };
            // A part goes to its owner when it is big enough, unless the owner
            // is pinned to the CPU the caller occupies (then waking it costs
            // two context switches: the caller applies it itself).
            let real = inner.topology.is_this_system;
            let delegated = |s: usize| {
                (starts[s + 1] - starts[s]) as usize >= delegate_min
                    && !(real && inner.shards[s].placement.cpu as usize == cpu)
            };
            ReplySlot::with(|slot| {
                let parts = (0..n).filter(|&s| delegated(s));
                let sent = parts.clone().count();
                slot.expect(sent);
                let mut may_spin = true;
                for s in parts {
                    let part = &order[starts[s] as usize..starts[s + 1] as usize];
                    may_spin &= inner.shards[s].placement.cpu as usize != cpu;
                    inner.shards[s].send(cpu, Msg::Ops { ops: base, idx: part.as_ptr(), n: part.len(), reply: slot });
                }
                for s in 0..n {
                    let len = (starts[s + 1] - starts[s]) as usize;
                    if len == 0 || delegated(s) {
                        continue;
                    }
                    let mut part = &order[starts[s] as usize..starts[s + 1] as usize];
                    let shard = &inner.shards[s];
                    // Every index of `part` is below `ops.len()` (the sort
                    // wrote only indices of `ops`), and this part was sent
                    // to no owner (`delegated(s)` is false), so only this
                    // thread touches its ops while the owners work on theirs.
                    // SAFETY: `i` indexes `ops`, which this call borrows
                    // exclusively; the op is not in any owner's part, so
                    // reading its kind races with nothing.
                    let all_gets = part.iter().all(|&i| unsafe { (*base.add(i as usize)).kind } == OpKind::Get);
                    if all_gets && inner.cfg.exec_mode == ExecMode::Auto {
                        // Lock-free reads in windows of W ops, in stages so that
                        // the cache misses of a window overlap: the home slots
                        // (prefetched while sorting, or one window ahead), then
                        // the records they point to, then the reads. A stage is
                        // a short loop, so a window's misses are all in flight
                        // before the first read needs one.
                        const W: usize = 32;
                        retry.clear();
                        // SAFETY: called only with indices of `part` (in
                        // bounds, not sent to an owner): a shared read of an
                        // op that no other thread writes meanwhile.
                        let hash = |i: u32| unsafe { (*base.add(i as usize)).hash };
                        // A map whose slots all fit the caches is read
                        // straight (judged by the whole map: with many
                        // shards, each one's share is small long after the
                        // map is not). Measured with 2 and 8 shards: the
                        // stages took 1.10-1.21 times as long where this
                        // reads in one pass (1k-10k entries), and saved 23%
                        // at 30k entries on 2 shards, where the test of one
                        // shard's slots read in one pass (run 26 in
                        // `bench/results/go.md`).
                        let staged = !shard.map_is_cache_sized(n);
                        if staged {
                            part.iter().take(W).for_each(|&i| shard.prefetch(hash(i)));
                        }
                        for (k, window) in part.chunks(W).enumerate() {
                            if staged {
                                part.iter().skip((k + 1) * W).take(W).for_each(|&i| shard.prefetch(hash(i)));
                                window.iter().for_each(|&i| shard.prefetch_record(hash(i)));
                            }
                            for &i in window {
                                // SAFETY: `i` is one index of `part`, which
                                // holds distinct indices: this is the only
                                // reference to that op alive (the `hash`
                                // reads above have ended), and no owner has it.
                                if !shard.read_get(unsafe { &mut *base.add(i as usize) }) {
                                    retry.push(i);
                                }
                            }
                        }
                        if retry.is_empty() {
                            continue;
                        }
                        // Only the reads that found no consistent moment go to the lock.
                        part = retry;
                    }
                    match shard.lock() {
                        Ok(mut st) => {
                            // SAFETY: apply_indexed's contract: `part` (or
                            // `retry`, a subset of it) holds distinct indices
                            // of live ops of `ops` that no owner was sent, so
                            // no other thread touches them during the call.
                            st.write(&inner.gate, part.len(), |st| unsafe {
                                st.apply_indexed(&inner.budget, base, part)
                            })
                        }
                        Err(e) => {
                            for &i in part {
                                // SAFETY: `i` indexes an op of this part: in
                                // bounds, distinct, not sent to an owner, so
                                // this write is the only access to it.
                                unsafe { (*base.add(i as usize)).status = e.status() };
                            }
                        }
                    }
                }
                if sent > 0 {
                    slot.wait(may_spin);
                }
            });
        });
        Ok(())
    }

    /// An all-get batch that no owner takes (`Auto`, no delegation): the
    /// lock-free reads of [`Map::read_gets`], each op its own room, a window
    /// at a time (so a last window with fewer keys than shards reads one
    /// start per key, as [`Map::get_many_into`]'s do).
    fn read_batch(&self, ops: &mut [BatchOp<'_>]) {
        for window in ops.chunks_mut(WINDOW) {
            self.read_gets(window.len(), OpGets(window));
        }
    }

    /// One window of an all-get read that no owner takes (at most
    /// [`WINDOW`] keys): lock-free reads in stages, each running over the
    /// whole window, whatever the shards, before the next starts — hash and
    /// fetch the home slots; probe and fetch the records; read — so that the
    /// window's misses are all in flight at once and no stage waits on a
    /// line it could have asked for earlier, however small the map: the
    /// pass without stages this once took for shards of at most 2^15 slots
    /// left maps of up to 200k entries (8 shards) unprefetched, 2.8 times
    /// as slow at 100k, where on the smallest maps the stages cost at most
    /// 4% (run 26 in `bench/results/go.md`). Each shard's sequence and published array
    /// are read once for the window (once per key when the map has more
    /// than [`WINDOW`] shards, or more shards than the window has keys); a
    /// read that finds the sequence moved, a write section open, or a case
    /// the lean second stage leaves out takes the whole lock-free read, and
    /// then its shard's lock when that found no consistent moment
    /// ([`GetSink::finish`]).
    fn read_gets<'k>(&self, w: usize, sink: impl GetSink<'k>) {
        debug_assert!(w <= WINDOW);
        // Few shards and at least as many keys: their starts are read once,
        // indexed by shard; else one start per key, indexed by its place in
        // the window (a window of one key reads one start).
        let shards = self.inner.shards.len();
        if shards <= WINDOW && w >= shards {
            self.read_gets_by::<true>(w, sink)
        } else {
            self.read_gets_by::<false>(w, sink)
        }
    }

    /// [`Map::read_gets`], with a start per shard or per key.
    #[inline(always)]
    fn read_gets_by<'k, const PER_SHARD: bool>(&self, w: usize, mut sink: impl GetSink<'k>) {
        let inner = &*self.inner;
        let shards = &*inner.shards;
        let max_key_len = inner.cfg.max_key_len;
        // Filled before use (see the SAFETY notes below): not initialised,
        // since every batch of 64 would pay for it.
        let mut starts = [const { MaybeUninit::<ReadStart<'_>>::uninit() }; WINDOW];
        let mut begun = [const { MaybeUninit::<Begun>::uninit() }; WINDOW];
        let mut hashes = [0u64; WINDOW];
        // Per key: the key, and its start's index (SKIP: too large, already
        // reported).
        let mut keys: [&'k [u8]; WINDOW] = [&[]; WINDOW];
        let mut at = [0u8; WINDOW];
        if PER_SHARD {
            for (start, shard) in starts.iter_mut().zip(shards) {
                start.write(shard.read_start());
            }
        }
        for j in 0..w {
            let key = sink.key(j);
            if key.len() > max_key_len {
                at[j] = SKIP;
                sink.too_large(j);
                continue;
            }
            let hash = inner.hasher.hash(key);
            let s = shard_of(hash, shards.len());
            if !PER_SHARD {
                starts[j].write(shards[s].read_start());
            }
            let k = if PER_SHARD { s } else { j };
            // SAFETY: starts[k] was written: shards s < shards.len() <=
            // WINDOW above (per shard), or just now.
            let start = unsafe { starts[k].assume_init_ref() };
            keys[j] = key;
            hashes[j] = hash;
            at[j] = k as u8;
            start.prefetch_home(hash);
        }
        for j in 0..w {
            if at[j] != SKIP {
                // SAFETY: as above (at[j] was set in the first stage).
                begun[j].write(unsafe { starts[at[j] as usize].assume_init_ref() }.begin(hashes[j]));
            }
        }
        for j in 0..w {
            if at[j] != SKIP {
                // SAFETY: as above; `begun[j]` was written by the second
                // stage for every key not skipped.
                let (start, b) = unsafe { (starts[at[j] as usize].assume_init_ref(), begun[j].assume_init()) };
                sink.finish(self, j, start, b, hashes[j], keys[j]);
            }
        }
    }

    /// A get that the lock-free reads left (no consistent moment, a value
    /// too large to stage), applied under its shard's lock.
    fn apply_retry(&self, op: &mut BatchOp<'_>) {
        let inner = &*self.inner;
        match inner.shards[shard_of(op.hash, inner.shards.len())].lock() {
            // A get changes nothing: no write section.
            Ok(mut st) => st.apply(&inner.budget, op),
            Err(e) => op.status = e.status(),
        }
    }

    /// Gets many keys in one call: the value of the `i`-th key of `keys`
    /// goes to the `stride` bytes of `out` from `i * stride`, and
    /// `done(i, status, len)` is called once per key: `Ok` with the
    /// value's length; `NotFound` (0); `BufferTooSmall` with the length
    /// needed; `KeyTooLarge` (0); it may be `Panic` (0) for a key whose
    /// shard an earlier panic poisoned. A key's room is written only for
    /// `Ok` (its value's bytes); for any other status it is left as it was.
    ///
    /// The reads of an all-get [`Map::batch`] without an operation record
    /// per key: the keys' hashes, home slots and records are asked for a
    /// window of 64 keys at a time before any is read. It is what the C
    /// ABI's `ns_get_many`, and so the Go and Java batch gets, run. The
    /// iterator and `done` run outside the map's read sections (a window's
    /// keys are taken before it is read, its outcomes given after), so they
    /// may call the map, `close` included.
    ///
    /// ```
    /// # let map = numashard::Map::new(numashard::Config::default()).unwrap();
    /// map.put(b"a", b"1").unwrap();
    /// let mut out = [0u8; 2 * 8];
    /// let mut found = [None; 2];
    /// map.get_many_into([&b"a"[..], b"b"], &mut out, 8, |i, status, len| {
    ///     found[i] = (status == numashard::Status::Ok).then_some(len)
    /// })
    /// .unwrap();
    /// assert_eq!(found, [Some(1), None]);
    /// assert_eq!(&out[..1], b"1");
    /// ```
    ///
    /// Errors:
    /// - `InvalidArgument` when `out` is shorter than the keys' rooms
    ///   (nothing read); or when the iterator ends before the length it
    ///   reported: the keys it gave are read and reported first. An
    ///   iterator is never read past its length.
    /// - `Closed` when the map was closed before the call (nothing
    ///   reported). A `close` racing the call (from `done`, or another
    ///   thread) lets the windows of 64 keys read before it be reported,
    ///   then `Closed` (in the default `ExecMode::Auto` without
    ///   `batch_delegate_min`; otherwise the call is one [`Map::batch`],
    ///   read whole before any `done`).
    pub fn get_many_into<'k, K>(
        &self,
        keys: K,
        out: &mut [u8],
        stride: usize,
        mut done: impl FnMut(usize, Status, usize),
    ) -> Result<()>
    where
        K: IntoIterator<Item = &'k [u8]>,
        K::IntoIter: ExactSizeIterator,
    {
        let mut keys = keys.into_iter();
        let n = keys.len();
        if !n.checked_mul(stride).is_some_and(|t| t <= out.len()) {
            return Err(Error::with_detail(Status::InvalidArgument, "out is shorter than the keys' rooms"));
        }
        let inner = &*self.inner;
        if inner.cfg.exec_mode != ExecMode::Auto || inner.cfg.batch_delegate_min != 0 {
            // Owners take (part of) it: the general batch, with an op per key.
            return self.get_many_ops(n, keys.take(n), out, stride, done);
        }
        if n == 0 {
            // Nothing to read, but a closed map says so.
            return self.enter().map(drop);
        }
        let mut window: [&[u8]; WINDOW] = [&[]; WINDOW];
        let mut outcomes = [(Status::Ok, 0usize); WINDOW];
        let mut w0 = 0;
        while w0 < n {
            // At most n keys are taken from the iterator, a window at a time.
            let want = WINDOW.min(n - w0);
            let mut w = 0;
            for (slot, key) in window[..want].iter_mut().zip(keys.by_ref()) {
                *slot = key;
                w += 1;
            }
            let short = w < want;
            if w > 0 {
                let _pass = self.enter()?;
                let rooms = &mut out[w0 * stride..(w0 + w) * stride];
                self.read_gets(w, FlatGets { keys: &window[..w], rooms, stride, outcomes: &mut outcomes[..w] });
            }
            for (j, &(st, len)) in outcomes[..w].iter().enumerate() {
                done(w0 + j, st, len);
            }
            w0 += w;
            if short {
                return Err(short_iterator(w0, n));
            }
        }
        Ok(())
    }

    /// One key of [`Map::get_many_into`] from where its probe stopped: the
    /// common cases straight, the rest as a batch op would go on.
    #[inline(always)]
    fn get_one(&self, start: &ReadStart<'_>, b: Begun, hash: u64, key: &[u8], room: &mut [u8]) -> (Status, usize) {
        match start.finish_get_into(b, key, room) {
            Quick::Hit(len) => (Status::Ok, len),
            Quick::Missing => (Status::NotFound, 0),
            Quick::Slow => self.get_one_rest(start, b, hash, key, room),
        }
    }

    /// [`Map::get_one`]'s rare cases (a deadline, a shared tag, a value
    /// larger than the room or the stage, a write meanwhile): the batch op's
    /// path, then its shard's lock when no consistent moment was found.
    #[cold]
    #[inline(never)]
    fn get_one_rest(&self, start: &ReadStart<'_>, b: Begun, hash: u64, key: &[u8], room: &mut [u8]) -> (Status, usize) {
        let mut op = BatchOp::get(key, room);
        op.hash = hash;
        if !start.finish_get_rest(b, &mut op) {
            self.apply_retry(&mut op);
        }
        op.get_outcome()
    }

    /// [`Map::get_many_into`] through [`Map::batch`], an op per key.
    #[cold]
    fn get_many_ops<'k>(
        &self,
        n: usize,
        keys: impl Iterator<Item = &'k [u8]>,
        out: &mut [u8],
        stride: usize,
        mut done: impl FnMut(usize, Status, usize),
    ) -> Result<()> {
        let mut out = out;
        let mut ops: Vec<BatchOp<'_>> = keys
            .map(|key| {
                let (room, tail) = std::mem::take(&mut out).split_at_mut(stride);
                out = tail;
                BatchOp::get(key, room)
            })
            .collect();
        self.batch(&mut ops)?;
        for (i, op) in ops.iter().enumerate() {
            let (status, len) = op.get_outcome();
            done(i, status, len);
        }
        if ops.len() < n {
            // The keys it gave were read and reported, as in the windows' path.
            return Err(short_iterator(ops.len(), n));
        }
        Ok(())
    }

    /// Gets many keys in one batch.
    pub fn get_many(&self, keys: &[&[u8]]) -> Result<Vec<Option<Vec<u8>>>> {
        let mut outs: Vec<Vec<u8>> = vec![Vec::new(); keys.len()];
        let mut ops: Vec<BatchOp<'_>> = keys.iter().zip(outs.iter_mut()).map(|(k, o)| BatchOp::get_vec(k, o)).collect();
        self.batch(&mut ops)?;
        let statuses: Vec<Status> = ops.iter().map(|o| o.status).collect();
        drop(ops);
        statuses
            .into_iter()
            .zip(outs)
            .map(|(s, v)| match s {
                Status::Ok => Ok(Some(v)),
                Status::NotFound => Ok(None),
                s => Err(Error::new(s)),
            })
            .collect()
    }
}

/// The keys of a window of an all-get read and where each outcome goes
/// ([`Map::read_gets`]); `i` counts from the window's first key.
trait GetSink<'k> {
    /// Key `i`: asked once per key, in key order.
    fn key(&mut self, i: usize) -> &'k [u8];
    /// Key `i` is longer than the map allows.
    fn too_large(&mut self, i: usize);
    /// Settles key `i` from where its probe stopped.
    fn finish(&mut self, map: &Map, i: usize, start: &ReadStart<'_>, b: Begun, hash: u64, key: &[u8]);
}

/// A batch's gets ([`Map::read_batch`]): each op its own room (or vector).
struct OpGets<'o, 'k>(&'o mut [BatchOp<'k>]);

impl<'k> GetSink<'k> for OpGets<'_, 'k> {
    #[inline(always)]
    fn key(&mut self, i: usize) -> &'k [u8] {
        debug_assert!(i < self.0.len());
        // SAFETY: [`Map::read_gets`] asks for keys below the `w` it was given, `self.0.len()`.
        unsafe { self.0.get_unchecked(i) }.key
    }

    fn too_large(&mut self, i: usize) {
        self.0[i].status = Status::KeyTooLarge;
        self.0[i].out_len = 0;
    }

    #[inline(always)]
    fn finish(&mut self, map: &Map, i: usize, start: &ReadStart<'_>, b: Begun, hash: u64, _key: &[u8]) {
        debug_assert!(i < self.0.len());
        // SAFETY: as in `key`.
        let op = unsafe { self.0.get_unchecked_mut(i) };
        op.hash = hash;
        if !start.finish_get(b, op) {
            map.apply_retry(op);
        }
    }
}

/// The error of a key iterator that ended at `got` keys of the `len` it reported.
fn short_iterator(got: usize, len: usize) -> Error {
    Error::with_detail(Status::InvalidArgument, format!("the key iterator ended after {got} of its {len} keys"))
}

/// A window of [`Map::get_many_into`]'s gets: its keys, its rooms at a
/// fixed stride, and where each outcome goes until the window is read.
struct FlatGets<'w, 'k> {
    keys: &'w [&'k [u8]],
    rooms: &'w mut [u8],
    stride: usize,
    outcomes: &'w mut [(Status, usize)],
}

impl<'k> GetSink<'k> for FlatGets<'_, 'k> {
    #[inline(always)]
    fn key(&mut self, i: usize) -> &'k [u8] {
        debug_assert!(i < self.keys.len());
        // SAFETY: [`Map::read_gets`] asks only for keys below the `w` it was given, `self.keys.len()`.
        unsafe { self.keys.get_unchecked(i) }
    }

    fn too_large(&mut self, i: usize) {
        self.outcomes[i] = (Status::KeyTooLarge, 0);
    }

    #[inline(always)]
    fn finish(&mut self, map: &Map, i: usize, start: &ReadStart<'_>, b: Begun, hash: u64, key: &[u8]) {
        debug_assert!(i < self.outcomes.len() && (i + 1) * self.stride <= self.rooms.len());
        // SAFETY: i < w (as in `key`); `get_many_into` gives as many outcomes
        // as keys, and w * stride bytes of rooms.
        unsafe {
            let room = self.rooms.get_unchecked_mut(i * self.stride..(i + 1) * self.stride);
            *self.outcomes.get_unchecked_mut(i) = map.get_one(start, b, hash, key, room);
        }
    }
}
