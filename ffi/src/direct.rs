//! Direct reads: where a binding that reads a map's memory itself (the Go
//! binding, to keep its single reads off cgo) finds it. The protocol such a
//! reader must follow is the engine's lock-free read, step by step: see
//! `ns_map_direct_read`.

use crate::boundary::{guard, Outcome};
use crate::handle::ns_map;
use crate::status::ns_status;

/// The version of the direct-read protocol and record layout this library
/// speaks. A reader built for another version must read through `ns_get`.
pub const NS_DIRECT_READ_VERSION: u32 = 4;

/// `ns_direct_shard.direct` flag: the shard may be read directly (else
/// through `ns_get`).
pub const NS_DIRECT_READ: u32 = 1;
/// `ns_direct_shard.direct` flag: a hit marks its entry (step 8).
pub const NS_DIRECT_MARK: u32 = 2;
/// `ns_direct_shard.direct` flag: hits and misses are counted (step 8; the
/// counters word is not 0).
pub const NS_DIRECT_COUNT: u32 = 4;
/// `ns_direct_shard.direct` flag: deadlines are `CLOCK_MONOTONIC`
/// nanoseconds, to compare with that clock (step 7); without it, read an
/// entry with a deadline through `ns_get`.
pub const NS_DIRECT_CLOCK: u32 = 8;

// The header states the version as a literal: it must be the engine's.
const _: () = assert!(NS_DIRECT_READ_VERSION == numashard::DIRECT_READ_VERSION);

/// Where a direct reader finds a map's gate and hash (see `ns_map_direct_read`).
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct ns_direct_read {
    /// `NS_DIRECT_READ_VERSION` of this library.
    pub version: u32,
    /// The map's shard count.
    pub shards: u32,
    /// The key hash's seed: foldhash 0.1.5 "fast", `FixedState::with_seed(hash_seed)`,
    /// over the key as Rust's `<[u8] as Hash>::hash` feeds it (its length as a
    /// usize, then its bytes).
    pub hash_seed: u64,
    /// The gate's epoch.
    pub epoch: *const u64,
    /// The gate's closed flag (0 or 1).
    pub closed: *const u8,
    /// The first shared stripe of the gate: its two counters (parity 0 and 1)
    /// are the u64s at its address and 8 bytes on.
    pub stripes: *mut u64,
    /// Bytes from one stripe to the next.
    pub stripe_stride: u32,
    /// Shared stripes (at least one).
    pub stripe_count: u32,
    /// The first of the stripes this reader may own (laid out like the
    /// shared ones): a reader that owns one, written by no other reader
    /// meanwhile, counts itself in with a store instead of a locked add
    /// (step 2). NULL when they went to an earlier caller (see
    /// `ns_map_direct_read`) or this answer is not `NS_OK`.
    pub owned_stripes: *mut u64,
    /// How many stripes this reader may own (0: none).
    pub owned_count: u32,
    /// 1 when an owned stripe is entered with a plain store and no barrier
    /// (the gate's membarrier mode); 0: a full barrier must follow the store.
    pub plain_entry: u32,
}

/// Where a direct reader finds one shard (see `ns_map_direct_read`).
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct ns_direct_shard {
    /// The shard's sequence: odd while a write section is open.
    pub seq: *const u64,
    /// The published slot array: its 64-aligned address, log2 of its slot
    /// count in the low 6 bits; 0 when none is published (closing).
    pub table: *const u64,
    /// Flags: `NS_DIRECT_READ` (else read the shard through `ns_get`),
    /// `NS_DIRECT_MARK`, `NS_DIRECT_COUNT`, `NS_DIRECT_CLOCK`. (Version 3
    /// had 1 for shards read directly, 0 for those that mark or count.)
    pub direct: u32,
    /// Bytes from `table` to the shard's home word (a u64): the home lines
    /// of records placed by hash (`place_records_by_hash`), their
    /// page-aligned address with log2 of their count in the low 6 bits, 0
    /// when the map places none (or is closed). A prefetch hint (step 4),
    /// never read through. (Version 2 called this field `reserved`, zero:
    /// the struct keeps its size, so a caller compiled against version 2
    /// still passes room enough.) The u64 8 bytes after the home word is
    /// the shard's counters word, and the u64 after that their shape (step 8).
    pub home_offset: u32,
}

/// Fills `*layout` and the first `min(cap, layout->shards)` entries of
/// `shards` with where a direct reader finds the map's memory.
///
/// A direct reader, for a key of `len` bytes (version 4):
/// 1. hashes it (`hash_seed`); its shard is `((uint64_t)(uint32_t)h * shards) >> 32`;
///    a shard whose `direct` lacks `NS_DIRECT_READ` is read through `ns_get`;
/// 2. enters the gate: `p = *epoch & 1` (acquire), then a locked add of 1
///    to counter `p` of any shared stripe (a full barrier), or, in a stripe
///    it owns (no other reader writes it meanwhile), a store of the counter
///    plus one, followed by a full barrier unless `plain_entry`; then if
///    `*closed`, leaves again and reads through `ns_get` (which answers closed);
/// 3. reads the shard's `seq` (`s1`); odd: retries (a write is in progress);
/// 4. reads `table`: 0 means read through `ns_get`; else `bits` = its low 6
///    bits, the slots at `table & ~63`, `2^bits` of them; optionally,
///    the home word (the u64 `home_offset` bytes after `table`; 0: none)
///    names the lines where one-line records are placed by hash: `hbits`
///    = its low 6 bits, the lines at `home & ~4095`; the key's record may
///    be at line `h >> (64 - hbits)` or the other line of its 128-byte
///    pair, and prefetching both with the home slot overlaps the two
///    misses (a hint only: never read through it);
/// 5. probes from slot `h >> (64 - bits)`, linearly and wrapping, at most
///    `2^bits` slots: a slot is two u64s, a tag (`h | 1`; 0 = empty, which
///    ends the probe: a miss) and a record address (mask its low 2 bits);
/// 6. a miss holds if `seq` still reads `s1` (else retry from 3);
/// 7. for a slot with the key's tag, reads the record's first u64: two
///    native u32s, the key length (bit 31 set: the entry has a deadline)
///    and the value length; checks `seq == s1` before those lengths size
///    any read; a different length or different key bytes (at record + 8)
///    continue the probe; the value's bytes follow the key; copies them,
///    and with bit 31 the deadline (a u64 at `record + ((8 + key length +
///    value length) rounded up to a multiple of 8)`), then checks `seq ==
///    s1` again before using either (else retry from 3). A deadline at or
///    before now is a miss, now being `CLOCK_MONOTONIC` in nanoseconds read
///    after that check, if the shard has `NS_DIRECT_CLOCK`; without it, the
///    entry is read through `ns_get`. Record blocks are 8-aligned and a
///    multiple of 8 bytes, so these reads never leave the block;
/// 8. notes the read as the shard asks: with `NS_DIRECT_MARK`, a hit whose
///    value was copied out (not one too large for the caller's buffer)
///    loads the slot's record word (slot + 8) and, unless its low two bits
///    are both set, compare-and-swaps it to itself plus 1, once; with
///    `NS_DIRECT_COUNT`, every hit and every miss (an expired entry is one)
///    adds 1, with an atomic add, to the hits (+8) or misses (+0) of any
///    one stripe of the shard's counters: the counters word (the u64 8
///    bytes after the home word) is the address of the first stripe, its
///    shape (the u64 after it) has the stripe count in its low 32 bits and
///    the bytes from one stripe to the next in its high 32;
/// 9. leaves: subtracts 1 from the same counter of the same stripe (an owned
///    one: a release store of the counter minus one).
///
/// Ownership: the addresses stay valid until `ns_map_free(m)`; after
/// `ns_map_close` the gate turns readers away (step 2).
///
/// The stripes a reader may own go to one caller per map: the first call
/// that answers `NS_OK` gets them (`owned_count` > 0); every other answer
/// has `owned_stripes` NULL and `owned_count` 0, and its reader counts
/// itself in the shared stripes. So two direct readers of one map in a
/// process (two bindings, two language runtimes) never write one stripe.
///
/// # Safety
/// `m` must be NULL or a handle from `ns_map_new`; `layout` must be
/// writable; `shards` must point to `cap` writable entries (or be NULL with
/// `cap` 0).
///
/// Returns `NS_OK`; `NS_BUFFER_TOO_SMALL` when `cap` is below the shard
/// count (`*layout` filled, `layout->shards` says how many); `NS_ERR_CLOSED`;
/// `NS_ERR_INVALID_ARGUMENT` (NULL `m` or `layout`, NULL `shards` with `cap` > 0).
#[no_mangle]
pub unsafe extern "C" fn ns_map_direct_read(
    m: *const ns_map,
    layout: *mut ns_direct_read,
    shards: *mut ns_direct_shard,
    cap: usize,
) -> ns_status {
    guard(|| -> Outcome {
        // SAFETY: the caller's contract.
        let map = unsafe { ns_map::get(m) }?;
        if layout.is_null() || (shards.is_null() && cap > 0) {
            return Err(ns_status::NS_ERR_INVALID_ARGUMENT);
        }
        // The stripes a reader may own go with an NS_OK answer only.
        let d = map.direct_read(cap >= map.shard_count())?;
        let out = ns_direct_read {
            version: NS_DIRECT_READ_VERSION,
            // At most MAX_SHARDS (4096) shards; stripes: a handful.
            shards: d.shards.len() as u32,
            hash_seed: d.hash_seed,
            epoch: d.epoch,
            closed: d.closed,
            stripes: d.stripes,
            stripe_stride: d.stripe_stride as u32,
            stripe_count: d.stripe_count as u32,
            owned_stripes: d.owned_stripes,
            owned_count: d.owned_count as u32,
            plain_entry: d.plain_entry as u32,
        };
        // SAFETY: checked non-NULL; the caller's contract makes it writable.
        unsafe { layout.write(out) };
        for (i, s) in d.shards.iter().take(cap).enumerate() {
            // Both words live in the shard's reader view, a few bytes apart.
            let home_offset = (s.home as usize).wrapping_sub(s.table as usize) as u32;
            debug_assert_eq!(s.table.wrapping_byte_add(home_offset as usize), s.home);
            debug_assert_eq!(s.home.wrapping_add(1), s.counters);
            let direct = if s.direct { NS_DIRECT_READ } else { 0 }
                | if s.mark_hits { NS_DIRECT_MARK } else { 0 }
                // SAFETY: the counters word lives in the shard, as long as the map.
                | if unsafe { s.counters.read() } != 0 { NS_DIRECT_COUNT } else { 0 }
                | if s.monotonic_deadlines { NS_DIRECT_CLOCK } else { 0 };
            let e = ns_direct_shard { seq: s.seq, table: s.table, direct, home_offset };
            // SAFETY: i < cap, and `shards` points to `cap` writable entries.
            unsafe { shards.add(i).write(e) };
        }
        Ok(if cap < d.shards.len() { ns_status::NS_BUFFER_TOO_SMALL } else { ns_status::NS_OK })
    })
}

#[cfg(test)]
mod tests {
    //! A reference direct reader, written from the protocol above, checked
    //! against the engine's own reads: were the engine's layout or read
    //! protocol to change without a new `NS_DIRECT_READ_VERSION`, these fail.
    use super::*;
    use numashard::{Config, Map};
    use std::hash::BuildHasher;
    use std::sync::atomic::{AtomicBool, AtomicU64, AtomicU8, Ordering::*};
    use std::sync::Arc;
    use std::time::Duration;

    /// What a direct read answers.
    #[derive(Debug, PartialEq)]
    enum Read {
        Hit(Vec<u8>),
        Miss,
        /// Read this key through the engine.
        Engine,
    }

    struct Reader {
        l: ns_direct_read,
        shards: Vec<ns_direct_shard>,
        /// The record word of the slot the last hit was found in (step 8's mark).
        last_slot: AtomicU64,
    }

    /// CLOCK_MONOTONIC in nanoseconds (step 7's now).
    fn monotonic_now() -> u64 {
        let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
        // SAFETY: a valid, writable timespec.
        unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
        ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
    }

    // SAFETY: the addresses name the map's memory, which any thread may read
    // as the protocol says; the map outlives every reader in these tests.
    unsafe impl Send for Reader {}
    // SAFETY: as above; a reader holds no state of its own.
    unsafe impl Sync for Reader {}

    fn reader(m: *mut ns_map) -> Reader {
        let mut l = std::mem::MaybeUninit::<ns_direct_read>::uninit();
        let mut shards =
            vec![ns_direct_shard { seq: std::ptr::null(), table: std::ptr::null(), direct: 0, home_offset: 0 }; 64];
        // SAFETY: a live handle; writable outputs of the given sizes.
        let s = unsafe { ns_map_direct_read(m, l.as_mut_ptr(), shards.as_mut_ptr(), shards.len()) };
        assert_eq!(s, ns_status::NS_OK);
        // SAFETY: NS_OK wrote it.
        let l = unsafe { l.assume_init() };
        shards.truncate(l.shards as usize);
        Reader { l, shards, last_slot: AtomicU64::new(0) }
    }

    /// A u64 word of the map's memory.
    ///
    /// # Safety
    /// `p` is an 8-aligned address the gate pass keeps mapped.
    unsafe fn word(p: *const u64) -> u64 {
        // SAFETY: the caller's contract; the engine writes these words atomically.
        unsafe { (*(p as *const AtomicU64)).load(Acquire) }
    }

    /// `n` bytes of the map's memory at `p`, copied with atomic loads of the
    /// aligned words that cover them, as the engine's own reader does: the
    /// owner may be writing those words meanwhile (atomically), and only
    /// atomic reads may race with that; a torn copy fails the seqlock check.
    ///
    /// # Safety
    /// The aligned words covering `[p, p + n)` lie in a record block (8-aligned,
    /// a multiple of 8 bytes long) the gate pass keeps mapped.
    unsafe fn copy(p: *const u8, n: usize) -> Vec<u8> {
        let at = p as usize % 8;
        let first = p.wrapping_sub(at) as *const u64;
        let words = (at + n).div_ceil(8);
        let mut bytes = Vec::with_capacity(8 * words);
        for w in 0..words {
            // SAFETY: word `w` covers bytes of the range, so it lies in the block (the contract).
            bytes.extend_from_slice(&unsafe { word(first.add(w)) }.to_ne_bytes());
        }
        bytes[at..at + n].to_vec()
    }

    impl Reader {
        fn get(&self, key: &[u8]) -> Read {
            self.get_on(key, None)
        }

        /// Step 8: marks a hit, counts a hit or a miss, as the shard asks.
        ///
        /// # Safety
        /// Inside the gate (the slot's array stays mapped).
        unsafe fn note(&self, sh: &ns_direct_shard, r: &Read, key_len: usize) {
            if matches!(r, Read::Hit(_)) && sh.direct & NS_DIRECT_MARK != 0 {
                // SAFETY: the record word of a slot of an array the gate keeps mapped.
                let w = unsafe { &*(self.last_slot.load(Relaxed) as *const AtomicU64) };
                let x = w.load(Relaxed);
                if x & 3 != 3 {
                    let _ = w.compare_exchange(x, x + 1, Relaxed, Relaxed);
                }
            }
            if sh.direct & NS_DIRECT_COUNT != 0 && !matches!(r, Read::Engine) {
                // SAFETY: the counters word and its shape follow the home word.
                let (at, shape) = unsafe { (word(home_of(sh).add(1)), word(home_of(sh).add(2))) };
                let (count, stride) = (shape & 0xffff_ffff, shape >> 32);
                let stripe = at + stride * (key_len as u64 % count);
                let hit = matches!(r, Read::Hit(_)) as u64;
                // SAFETY: a stripe of the shard's counters, two u64s, as the shape says.
                unsafe { &*((stripe + 8 * hit) as *const AtomicU64) }.fetch_add(1, Relaxed);
            }
        }

        /// A read counted in shared stripe `len % count`, or in owned stripe
        /// `j` (the caller's alone).
        fn get_on(&self, key: &[u8], owned: Option<usize>) -> Read {
            let h = foldhash::fast::FixedState::with_seed(self.l.hash_seed).hash_one(key);
            let sh = &self.shards[(((h as u32) as u64 * self.l.shards as u64) >> 32) as usize];
            if sh.direct & NS_DIRECT_READ == 0 {
                return Read::Engine;
            }
            // SAFETY: the layout's addresses are valid while the handle is
            // (never freed in these tests); stripes are u64 pairs.
            unsafe {
                let p = (word(self.l.epoch) & 1) as usize;
                let (base, j) = match owned {
                    Some(j) => (self.l.owned_stripes, j),
                    None => (self.l.stripes, key.len() % self.l.stripe_count as usize),
                };
                let stripe = (base as *mut u8).add(self.l.stripe_stride as usize * j);
                let counter = &*(stripe.add(8 * p) as *const AtomicU64);
                if owned.is_some() {
                    counter.store(counter.load(Relaxed) + 1, Relaxed);
                    if self.l.plain_entry == 1 {
                        std::sync::atomic::compiler_fence(SeqCst);
                    } else {
                        std::sync::atomic::fence(SeqCst);
                    }
                } else {
                    counter.fetch_add(1, SeqCst);
                }
                let r = if (*(self.l.closed as *const AtomicU8)).load(SeqCst) != 0 {
                    Read::Engine
                } else {
                    (0..16).find_map(|_| self.attempt(sh, h, key)).unwrap_or(Read::Engine)
                };
                self.note(sh, &r, key.len());
                if owned.is_some() {
                    counter.store(counter.load(Relaxed) - 1, Release);
                } else {
                    counter.fetch_sub(1, SeqCst);
                }
                r
            }
        }

        /// One attempt (steps 3-7); None: retry.
        ///
        /// # Safety
        /// Inside the gate.
        unsafe fn attempt(&self, sh: &ns_direct_shard, h: u64, key: &[u8]) -> Option<Read> {
            // SAFETY: inside the gate (the contract), the published array and
            // the records it points to stay mapped; record reads are sized
            // only by a validated header.
            unsafe {
                let s1 = word(sh.seq);
                if s1 & 1 == 1 {
                    return None;
                }
                let w = word(sh.table);
                if w == 0 {
                    return Some(Read::Engine);
                }
                let valid = || {
                    std::sync::atomic::fence(Acquire);
                    word(sh.seq) == s1
                };
                let (slots, bits) = ((w & !63) as *const u64, (w & 63) as u32);
                let mask = (1u64 << bits) - 1;
                let tag = h | 1;
                let mut i = h >> (64 - bits);
                for _ in 0..=mask {
                    let t = word(slots.add(2 * i as usize));
                    if t == 0 {
                        break;
                    }
                    let rec = (word(slots.add(2 * i as usize + 1)) & !3) as *const u8;
                    i = (i + 1) & mask;
                    if t != tag || rec.is_null() {
                        continue;
                    }
                    let hdr = word(rec as *const u64);
                    let (kw, v) = (hdr as u32, (hdr >> 32) as usize);
                    if !valid() {
                        return None;
                    }
                    let has_deadline = kw & (1 << 31) != 0;
                    if (kw & !(1 << 31)) as usize != key.len() {
                        continue;
                    }
                    if has_deadline && sh.direct & NS_DIRECT_CLOCK == 0 {
                        return Some(Read::Engine);
                    }
                    // Atomic copies: the owner may be rewriting the record;
                    // the check after each drops a torn one.
                    let k = copy(rec.add(8), key.len());
                    if !valid() {
                        return None;
                    }
                    if k != key {
                        continue;
                    }
                    let value = copy(rec.add(8 + key.len()), v);
                    let deadline = if has_deadline {
                        word(rec.add((8 + key.len() + v).next_multiple_of(8)) as *const u64)
                    } else {
                        0
                    };
                    if !valid() {
                        return None;
                    }
                    if deadline != 0 && deadline <= monotonic_now() {
                        return Some(Read::Miss);
                    }
                    self.last_slot.store(slots.add(2 * (i.wrapping_sub(1) & mask) as usize + 1) as u64, Relaxed);
                    return Some(Read::Hit(value));
                }
                valid().then_some(Read::Miss)
            }
        }
    }

    /// The shard's home word (step 4).
    fn home_of(s: &ns_direct_shard) -> *const u64 {
        s.table.wrapping_byte_add(s.home_offset as usize)
    }

    fn open(cfg: Config) -> *mut ns_map {
        ns_map::register(Map::new(cfg).unwrap())
    }

    fn map<'a>(m: *mut ns_map) -> &'a Map {
        // SAFETY: a live handle from `open`.
        unsafe { ns_map::get(m) }.unwrap()
    }

    fn key(i: u64) -> Vec<u8> {
        // Lengths 0..=40 (0: the empty key, once).
        let len = (i % 41) as usize;
        (0..len).map(|j| (i >> (8 * (j % 8))) as u8 ^ j as u8).collect()
    }

    #[test]
    fn arguments_are_checked() {
        let m = open(Config { shards: 3, ..Config::default() });
        let mut l = std::mem::MaybeUninit::<ns_direct_read>::uninit();
        let mut one = [ns_direct_shard { seq: std::ptr::null(), table: std::ptr::null(), direct: 9, home_offset: 9 }];
        // SAFETY: NULL or live handles; outputs writable as passed.
        unsafe {
            assert_eq!(
                ns_map_direct_read(std::ptr::null(), l.as_mut_ptr(), one.as_mut_ptr(), 1),
                ns_status::NS_ERR_INVALID_ARGUMENT
            );
            assert_eq!(
                ns_map_direct_read(m, std::ptr::null_mut(), one.as_mut_ptr(), 1),
                ns_status::NS_ERR_INVALID_ARGUMENT
            );
            assert_eq!(
                ns_map_direct_read(m, l.as_mut_ptr(), std::ptr::null_mut(), 1),
                ns_status::NS_ERR_INVALID_ARGUMENT
            );
            assert_eq!(ns_map_direct_read(m, l.as_mut_ptr(), one.as_mut_ptr(), 1), ns_status::NS_BUFFER_TOO_SMALL);
            let l = l.assume_init();
            assert_eq!((l.version, l.shards), (NS_DIRECT_READ_VERSION, 3));
            assert!(l.stripe_count >= 1 && l.stripe_stride >= 16 && !l.stripes.is_null());
            // Not NS_OK: the stripes a reader may own are not handed out.
            assert!(l.owned_count == 0 && l.owned_stripes.is_null() && l.plain_entry <= 1);
            // The home word follows the slot array's word; 0: nothing placed.
            assert_eq!((one[0].direct, one[0].home_offset), (NS_DIRECT_READ | NS_DIRECT_CLOCK, 8));
            assert_eq!(*one[0].table.add(1), 0);
            assert_eq!(*one[0].seq & 1, 0);
            let mut l2 = std::mem::MaybeUninit::<ns_direct_read>::uninit();
            assert_eq!(ns_map_direct_read(m, l2.as_mut_ptr(), std::ptr::null_mut(), 0), ns_status::NS_BUFFER_TOO_SMALL);
            // The first NS_OK answer gets them, no later one.
            let mut three = [one[0]; 3];
            assert_eq!(ns_map_direct_read(m, l2.as_mut_ptr(), three.as_mut_ptr(), 3), ns_status::NS_OK);
            let first = l2.assume_init();
            assert!(first.owned_count >= 2 && !first.owned_stripes.is_null());
            assert_eq!(ns_map_direct_read(m, l2.as_mut_ptr(), three.as_mut_ptr(), 3), ns_status::NS_OK);
            let second = l2.assume_init();
            assert!(second.owned_count == 0 && second.owned_stripes.is_null());
            assert_eq!((second.stripes, second.stripe_count), (first.stripes, first.stripe_count));
            map(m).close().unwrap();
            assert_eq!(ns_map_direct_read(m, l2.as_mut_ptr(), one.as_mut_ptr(), 1), ns_status::NS_ERR_CLOSED);
            assert!(ns_map::release(m));
            assert_eq!(ns_map_direct_read(m, l2.as_mut_ptr(), one.as_mut_ptr(), 1), ns_status::NS_ERR_CLOSED);
        }
    }

    #[test]
    fn direct_reads_agree_with_the_engine() {
        let m = open(Config { shards: 2, hash_seed: 0x5eed, ..Config::default() });
        let r = reader(m);
        let n = 30_000u64;
        // Values of 0..=700 bytes: some beyond the engine's lock-free stage.
        let value = |i: u64| vec![i as u8; (i * 7 % 701) as usize];
        for i in 0..n {
            map(m).put(&key(i), &value(i)).unwrap();
        }
        for i in (0..n).step_by(3) {
            map(m).delete(&key(i)).unwrap();
        }
        // Deadlines are CLOCK_MONOTONIC: one ahead reads, one past is a miss.
        map(m).put_with_ttl(b"expiring", b"value", Duration::from_secs(3600)).unwrap();
        assert_eq!(r.get(b"expiring"), Read::Hit(b"value".to_vec()));
        let mut hits = 0;
        for i in 0..n + 100 {
            let want = map(m).get(&key(i)).unwrap();
            match r.get(&key(i)) {
                Read::Hit(v) => {
                    assert_eq!(Some(v), want, "key {i}");
                    hits += 1;
                }
                Read::Miss => assert_eq!(want, None, "key {i}"),
                Read::Engine => panic!("key {i}: a quiet map needs no fallback"),
            }
        }
        assert!(hits > 1000, "only {hits} hits");
        // After the loop, which needs a quiet map: the owner reclaims an
        // expired entry in write sections of its own (the reader may then
        // also find it gone; either way a miss).
        map(m).put_with_ttl(b"expired", b"value", Duration::from_millis(1)).unwrap();
        std::thread::sleep(Duration::from_millis(3));
        let got = (0..100).map(|_| r.get(b"expired")).find(|g| *g != Read::Engine);
        assert_eq!(got, Some(Read::Miss), "an expired entry (retried while the owner's write went on)");
        assert_eq!(map(m).get(b"expired").unwrap(), None);
        map(m).clear().unwrap();
        assert_eq!(r.get(&key(5)), Read::Miss);
        map(m).close().unwrap();
        assert_eq!(r.get(&key(5)), Read::Engine);
    }

    /// How many of `keys` (present, with `value(i)` and no deadline) have
    /// their record where the home word says: its line or the other of the
    /// pair. Also checks each reads back directly.
    fn at_home(r: &Reader, keys: impl Iterator<Item = (Vec<u8>, Vec<u8>)>) -> usize {
        let mut n = 0;
        for (k, v) in keys {
            assert_eq!(r.get(&k), Read::Hit(v), "key {k:?}");
            let h = foldhash::fast::FixedState::with_seed(r.l.hash_seed).hash_one(&k);
            let sh = &r.shards[(((h as u32) as u64 * r.l.shards as u64) >> 32) as usize];
            // SAFETY: the map is alive and quiet (no writer): its words and
            // slots are mapped and still.
            let (hw, w) = unsafe { (word(home_of(sh)), word(sh.table)) };
            assert_ne!(hw, 0);
            let line = (hw & !4095) + ((h >> (64 - (hw & 63))) << 6);
            let (slots, bits) = ((w & !63) as *const u64, (w & 63) as u32);
            let mut j = h >> (64 - bits);
            // SAFETY: as above; the probe ends at the key's slot (it is present).
            let rec = unsafe {
                while word(slots.add(2 * j as usize)) != (h | 1)
                    || copy((word(slots.add(2 * j as usize + 1)) & !3) as *const u8, 8 + k.len())[8..] != k[..]
                {
                    j = (j + 1) & ((1 << bits) - 1);
                }
                word(slots.add(2 * j as usize + 1)) & !3
            };
            n += usize::from(rec == line || rec == line ^ 64);
        }
        n
    }

    /// Step 4's hint: with records placed by hash, the home word names the
    /// lines most one-line records are in (the key's line or its pair);
    /// without, it is 0. It holds for the records of a `replace_all`, of a
    /// map opened from a snapshot, and of puts after others expired (their
    /// lines freed). Direct reads agree with the engine throughout.
    #[test]
    fn home_lines_name_where_placed_records_are() {
        let plain = reader(open(Config { shards: 2, ..Config::default() }));
        // SAFETY: the map is alive; the word is a u64 of its memory.
        assert!(plain.shards.iter().all(|s| s.home_offset != 0 && unsafe { word(home_of(s)) } == 0));
        let cfg = Config { shards: 2, initial_capacity: 4096, place_records_by_hash: true, ..Config::default() };
        let m = open(cfg.clone());
        let r = reader(m);
        let gen = |from: u64| {
            (from..from + 4096).map(|i| ([i.to_le_bytes(), (i * 31).to_le_bytes()].concat(), vec![i as u8; 32]))
        };
        // 2^11 lines per shard for its ~2048 records: about 73% find one.
        let enough = 2600;
        for (k, v) in gen(0) {
            map(m).put(&k, &v).unwrap();
        }
        let n = at_home(&r, gen(0));
        assert!(n > enough, "puts: {n} of 4096 records where the home word says");
        // A replace_all builds new shards: their records are placed too.
        map(m).replace_all(&gen(10_000).collect::<Vec<_>>()).unwrap();
        let n = at_home(&reader(m), gen(10_000));
        assert!(n > enough, "replace_all: {n} of 4096");
        // A map opened from a snapshot of it.
        let dir = std::env::temp_dir().join(format!("numashard-home-lines-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        map(m).save(&dir).unwrap();
        let opened = ns_map::register(Map::open_snapshot(cfg, &dir).unwrap());
        let n = at_home(&reader(opened), gen(10_000));
        assert!(n > enough, "open_snapshot: {n} of 4096");
        std::fs::remove_dir_all(&dir).unwrap();
        // Records with a deadline take lines too (8 + 16 + 32 + 8 bytes):
        // once they expired and were reclaimed, the lines are free again.
        map(m).clear().unwrap();
        for (k, v) in gen(20_000) {
            map(m).put_with_ttl(&k, &v, Duration::from_millis(1)).unwrap();
        }
        let t = std::time::Instant::now();
        while map(m).stats().unwrap().expirations < 4096 {
            assert!(t.elapsed() < Duration::from_secs(20), "the owners reclaimed no expired entry");
            std::thread::sleep(Duration::from_millis(5));
        }
        assert_eq!(map(m).len().unwrap(), 0);
        for (k, v) in gen(30_000) {
            map(m).put(&k, &v).unwrap();
        }
        let n = at_home(&reader(m), gen(30_000));
        assert!(n > enough, "after expiry: {n} of 4096");
    }

    /// Step 8 against the engine's own notes: a map that counts reads sees
    /// the direct reader's hits and misses in its stats, exactly; a cache
    /// marks what a direct hit found (so eviction keeps it as if the engine
    /// had read it); a map on a manual clock reads entries with a deadline
    /// through the engine.
    #[test]
    fn direct_reads_are_noted_as_the_engine_notes_its_own() {
        let m = open(Config { shards: 2, record_stats: true, ..Config::default() });
        let r = reader(m);
        assert!(r.shards.iter().all(|s| s.direct == NS_DIRECT_READ | NS_DIRECT_COUNT | NS_DIRECT_CLOCK));
        for i in 0..100u64 {
            map(m).put(&key(i), b"v").unwrap();
        }
        let before = map(m).stats().unwrap();
        let (mut hits, mut misses) = (0, 0);
        for i in 0..300u64 {
            match r.get(&key(i)) {
                Read::Hit(_) => hits += 1,
                Read::Miss => misses += 1,
                Read::Engine => panic!("key {i} needs no engine"),
            }
        }
        let after = map(m).stats().unwrap();
        let stored: std::collections::HashSet<Vec<u8>> = (0..100u64).map(key).collect();
        let want = (0..300u64).filter(|&i| stored.contains(&key(i))).count() as u64;
        assert_eq!((hits, misses), (want, 300 - want));
        assert_eq!((after.hits - before.hits, after.misses - before.misses), (hits, misses));

        // Cache mode: a direct hit raises the slot's access count, as an
        // engine read does (the low two bits of the slot's record word).
        let cache = open(Config {
            shards: 1,
            memory_limit: 64 << 20,
            eviction: numashard::Eviction::S3Fifo,
            ..Config::default()
        });
        let r = reader(cache);
        assert!(r.shards[0].direct & (NS_DIRECT_READ | NS_DIRECT_MARK) == NS_DIRECT_READ | NS_DIRECT_MARK);
        map(cache).put(b"hot", b"v").unwrap();
        let marks = || {
            // SAFETY: the slot found by the last hit, in a quiet map.
            (unsafe { word(r.last_slot.load(Relaxed) as *const u64) }) & 3
        };
        assert_eq!(r.get(b"hot"), Read::Hit(b"v".to_vec()));
        let first = marks();
        assert_eq!(r.get(b"hot"), Read::Hit(b"v".to_vec()));
        assert_eq!(marks(), (first + 1).min(3), "a hit raises the count");
        for _ in 0..4 {
            r.get(b"hot");
        }
        assert_eq!(marks(), 3, "and it saturates at 3");

        // A manual clock: deadlines are not CLOCK_MONOTONIC.
        let manual = open(Config { shards: 1, clock: Some(numashard::Clock::manual()), ..Config::default() });
        let r = reader(manual);
        assert_eq!(r.shards[0].direct, NS_DIRECT_READ);
        map(manual).put_with_ttl(b"ttl", b"v", Duration::from_secs(5)).unwrap();
        map(manual).put(b"plain", b"v").unwrap();
        assert_eq!(r.get(b"ttl"), Read::Engine);
        assert_eq!(r.get(b"plain"), Read::Hit(b"v".to_vec()));
    }

    /// Readers racing writers that overwrite, delete, grow the tables and
    /// replace the whole map, then a close: every value read is one that
    /// was written for that key, never torn.
    #[test]
    fn racing_writers_and_close_never_yield_a_torn_value() {
        let m = open(Config { shards: 2, ..Config::default() });
        let r = Arc::new(reader(m));
        let addr = m as usize;
        // The value of key k at version v: v, then k's bytes repeated to a length that varies with v.
        let value = |k: &[u8], v: u64| {
            let mut out = v.to_le_bytes().to_vec();
            out.extend(k.iter().cycle().take(((v % 9) * 60) as usize).copied());
            out
        };
        let check = move |k: &[u8], got: &[u8]| {
            assert!(got.len() >= 8, "short value {got:?}");
            let v = u64::from_le_bytes(got[..8].try_into().unwrap());
            assert_eq!(got, value(k, v).as_slice(), "torn value for {k:?}");
        };
        let stop = Arc::new(AtomicBool::new(false));
        let readers: Vec<_> = (0..2)
            .map(|t| {
                let (r, stop) = (r.clone(), stop.clone());
                std::thread::spawn(move || {
                    let (mut hits, mut i) = (0u64, t);
                    while !stop.load(Relaxed) {
                        let k = key(1 + i % 63);
                        // Odd turns count in the thread's own stripe.
                        if let Read::Hit(v) = r.get_on(&k, (i % 2 == 1).then_some(t as usize)) {
                            check(&k, &v);
                            hits += 1;
                        }
                        i += 7;
                    }
                    hits
                })
            })
            .collect();
        let m = addr as *mut ns_map;
        // Hot keys overwritten again and again (freed blocks come back at
        // once), deletes, growth and whole-map switches, for a while.
        let started = std::time::Instant::now();
        let mut v = 0u64;
        let mut round = 0u64;
        while started.elapsed() < Duration::from_millis(400) {
            for _ in 0..200 {
                for i in 1..64u64 {
                    v += 1;
                    map(m).put(&key(i), &value(&key(i), v)).unwrap();
                }
                map(m).delete(&key(1 + v % 63)).unwrap();
            }
            for i in 0..2_000u64 {
                map(m).put(format!("grow-{round}-{i}").as_bytes(), b"x").unwrap();
            }
            if round % 8 == 7 {
                let fresh: Vec<(Vec<u8>, Vec<u8>)> = (1..64u64).map(|i| (key(i), value(&key(i), v + i))).collect();
                map(m).replace_all(&fresh).unwrap();
            }
            round += 1;
        }
        map(m).close().unwrap();
        std::thread::sleep(Duration::from_millis(20));
        stop.store(true, Relaxed);
        let hits: u64 = readers.into_iter().map(|t| t.join().unwrap()).sum();
        assert!(hits > 0, "the readers read nothing");
        assert_eq!(r.get(&key(1)), Read::Engine);
    }
}
