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

    /// `BuildHasher::hash_one`, spelled out so that it is inlined into the
    /// batch read's loops (as a call it cost ~6 instructions per key).
    #[inline(always)]
    #[allow(clippy::manual_hash_one)] // measured: this spelling is the one that inlines
    pub(crate) fn hash(&self, key: &[u8]) -> u64 {
        use std::hash::{Hash, Hasher};
        let mut h = self.0.build_hasher();
        key.hash(&mut h);
        h.finish()
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

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::time::Duration;

    #[test]
    fn shard_of_is_in_range_for_every_count() {
        let extremes = [0, 1, u32::MAX as u64, u64::MAX, 1 << 63, 0xFFFF_FFFF_0000_0000];
        for n in 1..=crate::MAX_SHARDS {
            for &h in &extremes {
                assert!(shard_of(h, n) < n, "hash {h:#x}, {n} shards");
            }
        }
        assert_eq!(shard_of(u64::MAX, crate::MAX_SHARDS), crate::MAX_SHARDS - 1);
        assert_eq!(shard_of(0, 7), 0);
    }

    /// The table indexes by a hash's top bits and the shard by its low 32:
    /// the two must not depend on each other, or a shard's keys would crowd
    /// part of its table.
    #[test]
    fn shard_ignores_the_bits_that_pick_the_home_slot() {
        let hasher = KeyHasher::new(42);
        for k in 0u32..2000 {
            let h = hasher.hash(&k.to_le_bytes());
            assert_eq!(shard_of(h, 13), shard_of(h ^ 0xDEAD_BEEF_0000_0000, 13));
        }
    }

    #[test]
    fn keys_spread_evenly_over_shards() {
        let hasher = KeyHasher::new(7);
        for n in [2usize, 7, 64] {
            let per = 2000;
            let mut counts = vec![0usize; n];
            for k in 0..(n * per) as u64 {
                counts[shard_of(hasher.hash(format!("key:{k}").as_bytes()), n)] += 1;
            }
            let (min, max) = (*counts.iter().min().unwrap(), *counts.iter().max().unwrap());
            // 2000 per shard: a binomial's deviation is ~45, so ±15% is > 6 sigma.
            assert!(min > per * 85 / 100 && max < per * 115 / 100, "{n} shards: {min}..{max} keys per shard");
        }
    }

    #[test]
    fn the_hash_is_a_function_of_the_seed_and_the_key() {
        let (a, b, c) = (KeyHasher::new(1), KeyHasher::new(1), KeyHasher::new(2));
        for key in [&b""[..], b"k", b"a longer key of some bytes", &[0u8; 300]] {
            assert_eq!(a.hash(key), b.hash(key), "same seed, same hash");
            assert_eq!(a.hash(key), a.clone().hash(key));
        }
        let differ = (0u32..100).filter(|k| a.hash(&k.to_le_bytes()) != c.hash(&k.to_le_bytes())).count();
        assert_eq!(differ, 100, "another seed gives other hashes");
        assert_ne!(a.hash(b"ab"), a.hash(b"ba"));
    }

    /// The Go binding hashes keys itself (its direct reads,
    /// bindings/go/keyhash.go) and checks its hash against vectors printed by
    /// foldhash 0.1.5 (bindings/go/testdata/keyhash_vectors.txt). This ties
    /// those vectors to the engine's hash: if the hash ever changes (another
    /// foldhash, another way of feeding keys), this fails, and
    /// `DIRECT_READ_VERSION` must change with it so that bindings built for
    /// the old hash stop reading directly.
    #[test]
    fn key_hash_matches_the_go_binding_vectors() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../bindings/go/testdata/keyhash_vectors.txt");
        let text = std::fs::read_to_string(path).expect("the Go binding's key hash vectors");
        let mut checked = 0;
        for line in text.lines() {
            let f: Vec<&str> = line.split_whitespace().collect();
            let seed = u64::from_str_radix(f[0], 16).unwrap();
            let len: usize = f[1].parse().unwrap();
            let pattern: u32 = f[2].parse().unwrap();
            let want = u64::from_str_radix(f[3], 16).unwrap();
            // The key of (len, pattern), as the vectors' generator builds it.
            let key: Vec<u8> = (0..len)
                .map(|j| match pattern {
                    0 => ((((len as u64) << 32 | j as u64) + 1).wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 56) as u8,
                    1 => 0xff,
                    _ => 0,
                })
                .collect();
            assert_eq!(KeyHasher::new(seed).hash(&key), want, "seed {seed:#x}, {len}-byte key, pattern {pattern}");
            checked += 1;
        }
        assert!(checked > 1500, "only {checked} vectors");
    }

    /// A caller's reply slot: `wait` returns once every announced message
    /// was completed, from other threads, whether it spins or parks.
    #[test]
    fn reply_slot_waits_for_every_completion() {
        for may_spin in [false, true] {
            ReplySlot::with(|slot| {
                slot.expect(3);
                let addr = slot as *const ReplySlot as usize;
                let done = Arc::new(AtomicUsize::new(0));
                let threads: Vec<_> = (0..3)
                    .map(|i| {
                        let done = done.clone();
                        std::thread::spawn(move || {
                            std::thread::sleep(Duration::from_millis(5 * i + 1));
                            done.fetch_add(1, Ordering::SeqCst);
                            // SAFETY: the slot's owner waits below until all three completed.
                            unsafe { ReplySlot::complete(addr as *const ReplySlot) };
                        })
                    })
                    .collect();
                slot.wait(may_spin);
                assert_eq!(done.load(Ordering::SeqCst), 3, "wait returned before every completion");
                for t in threads {
                    t.join().unwrap();
                }
                // Reused for the next request with nothing pending.
                slot.expect(0);
                slot.wait(may_spin);
            });
        }
    }
}
