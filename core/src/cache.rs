//! Cache mode: what a shard needs to bound its memory by eviction and to
//! expire entries — the S3-FIFO queues, the expiry wheel, the per-shard
//! counters, and the settings every shard of a map shares.
//!
//! Entries are named in the queues by their [`fingerprint`] (the top 32
//! bits of their tag), which also gives their home slot: a queue entry is 4
//! bytes and needs no update when the entry's record moves or its slot
//! shifts. A name whose entry left (deleted, replaced by another key) is
//! skipped when it comes up; queues are compacted when such names pile up.

use crate::clock::Clock;
use crate::table::fingerprint;
use crossbeam_utils::CachePadded;
use std::collections::{BTreeMap, HashSet, VecDeque};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering::Relaxed};
use std::sync::Arc;

/// Bytes charged per entry for its place in the eviction queues and the
/// ghost set (a 4-byte name in a queue; the ghost has a 4-byte cell per
/// eight table slots).
pub(crate) const QUEUE_COST: u64 = 8;

/// Settings shared by every shard of a map (cloned into each shard state).
#[derive(Clone)]
pub(crate) struct Policy {
    pub(crate) clock: Clock,
    /// Default time to live in nanoseconds (0 = none).
    pub(crate) default_ttl_ns: u64,
    /// Each shard's byte budget when evicting (None = no eviction).
    pub(crate) shard_limit: Option<u64>,
    /// Whether reads count hits and misses.
    pub(crate) record_stats: bool,
    /// The log2 capacity below which no shard's index starts or shrinks
    /// (`Config::initial_capacity`'s share; 0 = the smallest).
    pub(crate) index_floor_bits: u32,
    /// log2 of each shard's home lines (0: none; see `arena::Home`).
    pub(crate) home_bits: u32,
}

impl Policy {
    /// The deadline for a write whose op says `ttl_ns`: 0 = the default,
    /// `u64::MAX` = never, else that many nanoseconds from now.
    #[inline]
    pub(crate) fn deadline(&self, ttl_ns: u64) -> u64 {
        let ttl = if ttl_ns == 0 { self.default_ttl_ns } else { ttl_ns };
        if ttl == 0 || ttl == u64::MAX {
            0
        } else {
            self.clock.now_ns().saturating_add(ttl).max(1)
        }
    }
}

const STRIPES: usize = 8;

/// A shard's cache counters, shared by its lock-free readers and its
/// state (so they survive `replace_all`). Reads count on stripes chosen
/// per thread, so two threads reading one shard do not share a line.
#[derive(Default)]
pub(crate) struct Counters {
    stripes: [CachePadded<[AtomicU64; 2]>; STRIPES],
    pub(crate) evictions: AtomicU64,
    pub(crate) expirations: AtomicU64,
    /// Resident pages found off the shard's node and moved there.
    pub(crate) pages_moved: AtomicU64,
    /// Longest time the shard's lock was held to double its index, in
    /// nanoseconds (a writer's doubling, or the end of the owner's).
    pub(crate) grow_hold_max_ns: AtomicU64,
    /// Doublings into the owner's next array taken over by a writer (tests).
    #[cfg(test)]
    pub(crate) taken_over: AtomicU64,
}

fn stripe() -> usize {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    thread_local! { static MINE: usize = NEXT.fetch_add(1, Relaxed) % STRIPES; }
    MINE.with(|m| *m)
}

impl Counters {
    #[inline]
    pub(crate) fn read(&self, hit: bool) {
        self.stripes[stripe()][hit as usize].fetch_add(1, Relaxed);
    }

    /// (hits, misses).
    pub(crate) fn hits_misses(&self) -> (u64, u64) {
        self.stripes.iter().fold((0, 0), |(h, m), s| (h + s[1].load(Relaxed), m + s[0].load(Relaxed)))
    }

    pub(crate) fn shared() -> Arc<Counters> {
        Arc::new(Counters::default())
    }

    /// Where a reader in another runtime adds its own reads (the direct-read
    /// protocol): the first stripe's address, the bytes from one stripe to
    /// the next, and how many there are. A stripe is two u64s: misses, then
    /// hits; any stripe may be added to, with an atomic add.
    pub(crate) fn read_stripes(&self) -> (usize, usize, usize) {
        (self.stripes.as_ptr() as usize, std::mem::size_of::<CachePadded<[AtomicU64; 2]>>(), STRIPES)
    }
}

/// What the eviction queues say to do with the entry they offer.
pub(crate) enum Verdict {
    /// Evict it (its name was remembered in the ghost if it came from the small queue).
    Evict,
    /// It was accessed: it moved on (small → main, or back into main).
    Keep,
}

/// S3-FIFO over fingerprints: new names enter `small` (unless the ghost
/// remembers them, then `main`); `small` gets about a twentieth of the names
/// (5%: the S3-FIFO paper's 10% measured 0.5–1 pp lower on the Zipf and scan
/// traces of `numashard-cache`), the ghost about an eighth of the table's
/// slots (a larger ghost readmitted too many keys to `main`).
pub(crate) struct S3Fifo {
    small: VecDeque<u32>,
    main: VecDeque<u32>,
    /// Direct-mapped set of recently evicted names (0 = empty).
    ghost: Vec<u32>,
}

impl S3Fifo {
    pub(crate) fn new() -> S3Fifo {
        S3Fifo { small: VecDeque::new(), main: VecDeque::new(), ghost: vec![0; 64] }
    }

    fn ghost_index(&self, fp: u32) -> usize {
        fp as usize & (self.ghost.len() - 1)
    }

    /// A new entry with this tag.
    pub(crate) fn admit(&mut self, tag: u64) {
        let fp = fingerprint(tag);
        let g = self.ghost_index(fp);
        if fp != 0 && self.ghost[g] == fp {
            self.ghost[g] = 0;
            self.main.push_back(fp);
        } else {
            self.small.push_back(fp);
        }
    }

    /// Sizes the ghost to an eighth of the table's slots (it is cleared).
    pub(crate) fn table_grew(&mut self, capacity: usize) {
        let want = (capacity / 8).max(64).next_power_of_two();
        if want != self.ghost.len() {
            self.ghost = vec![0; want];
        }
    }

    /// Names queued (live or stale).
    pub(crate) fn queued(&self) -> usize {
        self.small.len() + self.main.len()
    }

    /// The next name to consider: from `small` while it holds at least a
    /// twentieth of the names (or `main` is empty), else from `main`. The bool
    /// says it came from `small`.
    pub(crate) fn next(&mut self) -> Option<(u32, bool)> {
        let from_small = !self.small.is_empty() && (self.small.len() * 20 >= self.queued() || self.main.is_empty());
        if from_small {
            self.small.pop_front().map(|f| (f, true))
        } else {
            self.main.pop_front().map(|f| (f, false))
        }
    }

    /// Decides for an entry offered by `next` (`accessed`: read since it was
    /// last offered); `force` evicts even an accessed entry of `main` (after
    /// a whole round found every entry accessed).
    pub(crate) fn decide(&mut self, fp: u32, from_small: bool, accessed: bool, force: bool) -> Verdict {
        if accessed && !force {
            self.main.push_back(fp);
            Verdict::Keep
        } else {
            if from_small && fp != 0 {
                let g = self.ghost_index(fp);
                self.ghost[g] = fp;
            }
            Verdict::Evict
        }
    }

    /// Puts a name back at the end of `main` (an entry that must not be
    /// evicted now).
    pub(crate) fn requeue(&mut self, fp: u32) {
        self.main.push_back(fp);
    }

    /// Drops names whose entry left and repeated names (`live` says whether
    /// an entry answers to a name). For when the queues hold far more names
    /// than the shard holds entries.
    pub(crate) fn compact(&mut self, live: impl Fn(u32) -> bool) {
        let mut seen = HashSet::with_capacity(self.queued());
        self.small.retain(|&f| live(f) && seen.insert(f));
        self.main.retain(|&f| live(f) && seen.insert(f));
    }

    /// Forgets everything (the shard was cleared).
    pub(crate) fn clear(&mut self) {
        self.small.clear();
        self.main.clear();
        self.ghost.iter_mut().for_each(|g| *g = 0);
    }
}

/// Width of a wheel bucket: 2^24 ns, about 17 ms.
const GRAIN: u32 = 24;
/// [`GRAIN`] in nanoseconds.
pub(crate) const GRAIN_NS: u64 = 1 << GRAIN;

/// Entries with a deadline, by the bucket of time their deadline falls in.
/// An entry is registered when it gets a deadline earlier than the one it
/// had (a later one is found when the earlier registration comes due, and
/// registered again then); so every entry with a deadline has a
/// registration at or before it, and processing every due bucket expires
/// every due entry.
pub(crate) struct Wheel {
    buckets: BTreeMap<u64, Vec<u32>>,
    registered: usize,
    /// Start of the first bucket (u64::MAX: none), kept so that publishing
    /// it after every write costs a load.
    earliest: u64,
}

impl Default for Wheel {
    fn default() -> Wheel {
        Wheel { buckets: BTreeMap::new(), registered: 0, earliest: u64::MAX }
    }
}

impl Wheel {
    pub(crate) fn register(&mut self, deadline: u64, tag: u64) {
        self.buckets.entry(deadline >> GRAIN).or_default().push(fingerprint(tag));
        self.registered += 1;
        self.earliest = self.earliest.min((deadline >> GRAIN) << GRAIN);
    }

    /// A lower bound of every registered deadline (u64::MAX: none).
    #[inline]
    pub(crate) fn earliest(&self) -> u64 {
        self.earliest
    }

    /// Takes the names of the first bucket if every deadline it may hold
    /// is at or before `now` (`whole`), or if any may be (`!whole`).
    pub(crate) fn take_due(&mut self, now: u64, whole: bool) -> Option<Vec<u32>> {
        let (&b, _) = self.buckets.first_key_value()?;
        let due_from = if whole { (b + 1) << GRAIN } else { b << GRAIN };
        if due_from > now.saturating_add(whole as u64) {
            return None;
        }
        let v = self.buckets.remove(&b)?;
        self.registered -= v.len();
        self.earliest = self.buckets.first_key_value().map_or(u64::MAX, |(&b, _)| b << GRAIN);
        Some(v)
    }

    pub(crate) fn clear(&mut self) {
        self.buckets.clear();
        self.registered = 0;
        self.earliest = u64::MAX;
    }

    /// Names registered, live or stale.
    pub(crate) fn registered(&self) -> usize {
        self.registered
    }

    /// Drops the registrations `keep(bucket_start, name)` rejects (entries
    /// evicted, deleted or given another deadline since), so that churn
    /// under long TTLs does not pile up names until their bucket comes due.
    pub(crate) fn compact(&mut self, keep: impl Fn(u64, u32) -> bool) {
        let mut registered = 0;
        self.buckets.retain(|&b, names| {
            names.retain(|&fp| keep(b << GRAIN, fp));
            registered += names.len();
            !names.is_empty()
        });
        self.registered = registered;
        self.earliest = self.buckets.first_key_value().map_or(u64::MAX, |(&b, _)| b << GRAIN);
    }

    /// The start of the bucket `deadline` falls in.
    pub(crate) fn bucket_start(deadline: u64) -> u64 {
        (deadline >> GRAIN) << GRAIN
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn s3fifo_sends_ghosts_to_main_and_keeps_accessed_entries() {
        let mut q = S3Fifo::new();
        for t in 1..=20u64 {
            q.admit(t << 32 | 1);
        }
        // Everything starts in small; the first offered is the oldest.
        let (fp, small) = q.next().unwrap();
        assert_eq!((fp, small), (1, true));
        assert!(matches!(q.decide(fp, small, false, false), Verdict::Evict));
        // An evicted name that comes back goes to main.
        q.admit(1 << 32 | 1);
        assert_eq!(q.main.back(), Some(&1));
        // An accessed entry of small moves to main.
        let (fp, small) = q.next().unwrap();
        assert_eq!(fp, 2);
        assert!(matches!(q.decide(fp, small, true, false), Verdict::Keep));
        assert_eq!(q.main.back(), Some(&2));
        assert_eq!(q.queued(), 20);
        q.compact(|f| f % 2 == 0);
        assert_eq!(q.queued(), 10);
    }

    #[test]
    fn wheel_offers_buckets_in_time_order_once_due() {
        let mut w = Wheel::default();
        let g = 1u64 << GRAIN;
        w.register(5 * g + 3, 7 << 32);
        w.register(2 * g, 9 << 32);
        assert_eq!(w.earliest(), 2 * g);
        assert_eq!(w.take_due(2 * g - 1, false), None);
        assert_eq!(w.take_due(2 * g, true), None, "bucket 2 is not whole past yet");
        assert_eq!(w.take_due(2 * g, false), Some(vec![9]));
        assert_eq!(w.take_due(5 * g + 2, false), Some(vec![7]));
        assert_eq!(w.registered(), 0);
        w.register(9 * g + 1, 1 << 32);
        w.register(9 * g + 2, 2 << 32);
        w.register(12 * g, 3 << 32);
        w.compact(|b, fp| fp != 2 && b != 12 * g);
        assert_eq!((w.registered(), w.earliest()), (1, 9 * g));
        assert_eq!(w.take_due(10 * g, true), Some(vec![1]));
        assert_eq!(w.earliest(), u64::MAX);
    }

    #[test]
    fn policy_deadlines() {
        let c = Clock::manual();
        let p = Policy {
            clock: c.clone(),
            default_ttl_ns: 0,
            shard_limit: None,
            record_stats: false,
            index_floor_bits: 0,
            home_bits: 0,
        };
        assert_eq!(p.deadline(0), 0);
        assert_eq!(p.deadline(u64::MAX), 0);
        assert_eq!(p.deadline(10), c.now_ns() + 10);
        let p = Policy { default_ttl_ns: 100, ..p };
        assert_eq!(p.deadline(0), c.now_ns() + 100);
        assert_eq!(p.deadline(u64::MAX), 0);
    }
}
