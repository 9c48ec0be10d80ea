//! Unit tests of the index (`table.rs`): probing, backward-shift deletion,
//! growth, and iteration by hash range across growth. Kept in a file of
//! their own so that changes to the table's code and to its tests do not
//! collide.

use super::*;
use crate::arena::{Arena, HEADER};
use std::collections::{HashMap, HashSet};

/// A deterministic stream of 64-bit hashes (splitmix64).
struct Hashes(u64);

impl Iterator for Hashes {
    type Item = u64;
    fn next(&mut self) -> Option<u64> {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        Some(z ^ (z >> 31))
    }
}

/// A stand-in record pointer: the table never dereferences it in these
/// tests (only `find` reads records), and prefetching any address is fine.
fn fake_rec(n: usize) -> *mut u8 {
    (8 * (n + 1)) as *mut u8
}

/// The linear-probing invariant: every entry sits at its home or after it
/// with no empty slot in between (cyclically), so a probe from the home
/// finds it; and the occupied slots number exactly `len` (no tombstones).
fn check_invariant(t: &Table) {
    let cap = t.capacity();
    let mut occupied = 0;
    for i in 0..cap {
        let s = t.slot(i);
        if s.tag == 0 {
            continue;
        }
        occupied += 1;
        let mut j = t.home(s.tag);
        while j != i {
            assert_ne!(t.slot(j).tag, 0, "slot {i}: empty slot {j} between the entry and its home");
            j = (j + 1) & (cap - 1);
        }
    }
    assert_eq!(occupied, t.len(), "occupied slots differ from len");
}

/// A tag whose home is `home` in a table of `bits` bits (distinct per `n`).
fn tag_at(home: usize, bits: u32, n: u64) -> u64 {
    tag_of(((home as u64) << (64 - bits)) | (n << 1))
}

#[test]
fn colliding_keys_fill_the_slots_after_their_home() {
    let mut t = Table::new(None).unwrap();
    let bits = t.capacity().trailing_zeros();
    let tags: Vec<u64> = (0..5).map(|n| tag_at(10, bits, n)).collect();
    for (n, &tag) in tags.iter().enumerate() {
        assert_eq!(t.insert_absent(tag, fake_rec(n)), 10 + n, "linear probing takes the next free slot");
    }
    // A key whose home lies inside the cluster goes after its end.
    let late = tag_at(12, bits, 99);
    assert_eq!(t.insert_absent(late, fake_rec(99)), 15);
    for (n, &tag) in tags.iter().enumerate() {
        assert_eq!(t.find_rec(tag, fake_rec(n)), Some(10 + n));
    }
    assert_eq!(t.find_rec(late, fake_rec(99)), Some(15));
    assert_eq!(t.find_rec(tag_at(10, bits, 77), fake_rec(77)), None, "the probe stops at the first empty slot");
    check_invariant(&t);
}

#[test]
fn probing_wraps_past_the_last_slot() {
    let mut t = Table::new(None).unwrap();
    let cap = t.capacity();
    let bits = cap.trailing_zeros();
    let placed: Vec<usize> = (0..4).map(|n| t.insert_absent(tag_at(cap - 2, bits, n), fake_rec(n as usize))).collect();
    assert_eq!(placed, [cap - 2, cap - 1, 0, 1]);
    for n in 0..4 {
        assert_eq!(t.find_rec(tag_at(cap - 2, bits, n), fake_rec(n as usize)), Some(placed[n as usize]));
    }
    check_invariant(&t);
    // Removing the first of the wrapped cluster shifts the rest back across the end.
    t.remove_at(cap - 2);
    assert_eq!(t.find_rec(tag_at(cap - 2, bits, 1), fake_rec(1)), Some(cap - 2));
    assert_eq!(t.find_rec(tag_at(cap - 2, bits, 2), fake_rec(2)), Some(cap - 1));
    assert_eq!(t.find_rec(tag_at(cap - 2, bits, 3), fake_rec(3)), Some(0));
    assert_eq!(t.slot(1).tag, 0, "the cluster's last slot is emptied, no tombstone");
    check_invariant(&t);
}

#[test]
fn backward_shift_keeps_entries_whose_home_lies_after_the_hole() {
    let mut t = Table::new(None).unwrap();
    let bits = t.capacity().trailing_zeros();
    // Slots 20..=23: A (home 20), B (home 20), C (home 22), D (home 23).
    let (a, b, c, d) = (tag_at(20, bits, 1), tag_at(20, bits, 2), tag_at(22, bits, 3), tag_at(23, bits, 4));
    for (n, tag) in [a, b, c, d].into_iter().enumerate() {
        t.insert_absent(tag, fake_rec(n));
    }
    assert_eq!([t.slot(20).tag, t.slot(21).tag, t.slot(22).tag, t.slot(23).tag], [a, b, c, d]);
    // Removing A: B moves back to 20; C and D are at their homes and stay.
    t.remove_at(20);
    assert_eq!([t.slot(20).tag, t.slot(21).tag, t.slot(22).tag, t.slot(23).tag], [b, 0, c, d]);
    check_invariant(&t);
}

#[test]
fn random_inserts_and_removals_keep_every_entry_reachable() {
    let mut t = Table::new(None).unwrap();
    let mut garbage = Vec::new();
    let mut live: HashMap<u64, usize> = HashMap::new(); // tag -> record number
    let mut order: Vec<u64> = Vec::new();
    let mut hashes = Hashes(7);
    let mut n = 0usize;
    for round in 0..6000 {
        let r = hashes.next().unwrap();
        if r % 3 != 0 || live.is_empty() {
            // Narrow the hash space so clusters form and collide.
            let tag = tag_of(hashes.next().unwrap() & 0xFFF0_0000_0000_FFFF);
            if live.contains_key(&tag) {
                continue;
            }
            if t.needs_grow_for(1) {
                t.grow(&mut garbage).unwrap();
            }
            n += 1;
            t.insert_absent(tag, fake_rec(n));
            live.insert(tag, n);
            order.push(tag);
        } else {
            let k = (r as usize / 3) % order.len();
            let tag = order.swap_remove(k);
            let rec = fake_rec(live.remove(&tag).unwrap());
            let i = t.find_rec(tag, rec).expect("a live entry is reachable");
            t.remove_at(i);
            assert_eq!(t.find_rec(tag, rec), None, "a removed entry is gone");
        }
        assert_eq!(t.len(), live.len());
        if round % 97 == 0 {
            check_invariant(&t);
            for (&tag, &m) in &live {
                assert!(t.find_rec(tag, fake_rec(m)).is_some(), "entry {m} unreachable after round {round}");
            }
        }
    }
    check_invariant(&t);
    assert!(!garbage.is_empty(), "the table grew");
}

#[test]
fn growth_keeps_entries_and_their_access_counts() {
    let mut t = Table::new(None).unwrap();
    let mut garbage = Vec::new();
    let tags: Vec<u64> = Hashes(3).take(40).map(tag_of).collect();
    for (n, &tag) in tags.iter().enumerate() {
        t.insert_absent(tag, fake_rec(n));
    }
    let marked = t.find_rec(tags[5], fake_rec(5)).unwrap();
    t.set_accessed(marked);
    t.set_accessed(marked);
    let cap = t.capacity();
    t.grow(&mut garbage).unwrap();
    assert_eq!(t.capacity(), 2 * cap);
    assert_eq!(garbage.len(), 1, "the old slot array is retired, not freed");
    check_invariant(&t);
    for (n, &tag) in tags.iter().enumerate() {
        assert!(t.find_rec(tag, fake_rec(n)).is_some());
    }
    let i = t.find_rec(tags[5], fake_rec(5)).unwrap();
    assert_eq!(t.take_accessed(i, true), 2, "the access count moved with the entry");
}

#[test]
fn find_compares_keys_of_entries_with_equal_tags() {
    let mut arena = Arena::new(None);
    let mut t = Table::new(None).unwrap();
    let hash = 0x1234_5678_9ABC_DEF0u64;
    let mut recs = Vec::new();
    for key in [&b"first"[..], b"second", b""] {
        let rec = arena.alloc_record(key.len(), 0, 0, 0).unwrap();
        // SAFETY: the block holds the header and `key.len()` key bytes.
        unsafe { crate::atomic_bytes::store(rec.add(HEADER), key) };
        t.insert_absent(tag_of(hash), rec);
        recs.push(rec);
    }
    assert_eq!(t.find(hash, b"first").map(|i| t.slot(i).rec), Some(recs[0]));
    assert_eq!(t.find(hash, b"second").map(|i| t.slot(i).rec), Some(recs[1]));
    assert_eq!(t.find(hash, b"").map(|i| t.slot(i).rec), Some(recs[2]));
    assert_eq!(t.find(hash, b"third"), None);
    assert_eq!(t.find(hash ^ (1 << 40), b"first"), None, "another tag: not a match");
}

/// Iteration by hash range (what `Map::iter` does chunk by chunk) while the
/// table grows between chunks: every entry present throughout is seen
/// exactly once, because an entry's home is its hash's top bits at every
/// capacity, so a range of hashes is a range of homes before and after.
#[test]
fn range_iteration_across_growth_sees_each_entry_once() {
    let mut t = Table::new(None).unwrap();
    let mut garbage = Vec::new();
    let mut hashes = Hashes(11);
    let first: Vec<u64> = (&mut hashes).take(300).map(tag_of).collect();
    for (n, &tag) in first.iter().enumerate() {
        if t.needs_grow_for(1) {
            t.grow(&mut garbage).unwrap();
        }
        t.insert_absent(tag, fake_rec(n));
    }
    let mut seen: HashMap<u64, usize> = HashMap::new();
    let (mut lo, step) = (0u64, u64::MAX / 16);
    let mut grown = 0;
    loop {
        let hi = lo.saturating_add(step);
        t.for_each_in_tag_range(lo, hi, |s| *seen.entry(s.tag).or_default() += 1);
        // Between the first chunks, enough inserts that the table doubles.
        if grown < 6 {
            let cap = t.capacity();
            let mut n = 100_000 * (grown + 1);
            while t.capacity() == cap {
                if t.needs_grow_for(1) {
                    t.grow(&mut garbage).unwrap();
                    continue;
                }
                n += 1;
                t.insert_absent(tag_of(hashes.next().unwrap()), fake_rec(n));
            }
            grown += 1;
        }
        if hi == u64::MAX {
            break;
        }
        lo = hi + 1;
    }
    assert_eq!(grown, 6, "the table grew during the iteration");
    let originals: HashSet<u64> = first.iter().copied().collect();
    for tag in &originals {
        assert_eq!(seen.get(tag), Some(&1), "an entry present throughout was not seen exactly once");
    }
    assert!(seen.values().all(|&c| c == 1), "an entry inserted during the iteration was seen twice");
}

#[test]
fn a_published_view_probes_the_owners_table_the_same_way() {
    let mut t = Table::new(None).unwrap();
    let cap = t.capacity();
    let bits = cap.trailing_zeros();
    let tags: Vec<u64> = (0..3).map(|n| tag_at(cap - 1, bits, n)).collect();
    for (n, &tag) in tags.iter().enumerate() {
        t.insert_absent(tag, fake_rec(n));
    }
    // SAFETY: the table outlives the view and nothing changes it meanwhile.
    let published = unsafe { TableView::published(t.word()) }.expect("a table's word is never 0");
    // SAFETY: 0 names no slot array: nothing is mapped or read.
    assert!(unsafe { TableView::published(0) }.is_none());
    for view in [t.view(), published] {
        assert_eq!(view.bits(), bits);
        assert_eq!(view.home(tags[0]), cap - 1);
        let probed: Vec<(usize, u64)> = view.probe(tags[0]).map(|(i, s)| (i, s.tag)).collect();
        assert_eq!(probed, [(cap - 1, tags[0]), (0, tags[1]), (1, tags[2])], "wraps, stops at the first empty slot");
        assert_eq!(view.vacancy(tags[0]), 2);
        let from: Vec<usize> = view.probe_from(0).map(|(i, _)| i).collect();
        assert_eq!(from, [0, 1]);
        assert_eq!(view.next(cap - 1), 0);
        assert_eq!(view.slot(cap + 1).tag, tags[2], "indices are taken modulo the capacity");
    }
}

/// `find_tag` (the lock-free reads' probe) answers as the iterator probe
/// does: the first slot with the tag, across the wrap; none once the probe
/// meets an empty slot.
#[test]
fn find_tag_agrees_with_the_probe() {
    let mut t = Table::new(None).unwrap();
    let cap = t.capacity();
    let bits = cap.trailing_zeros();
    let tags: Vec<u64> = (0..4).map(|n| tag_at(cap - 2, bits, n)).collect();
    for (n, &tag) in tags.iter().enumerate() {
        t.insert_absent(tag, fake_rec(n));
    }
    let lone = tag_at(5, bits, 9);
    t.insert_absent(lone, fake_rec(9));
    let view = t.view();
    for (n, &tag) in tags.iter().enumerate() {
        let want = view.probe(tag).find(|&(_, s)| s.tag == tag).map(|(i, s)| (i, s.rec)).unwrap();
        assert_eq!(view.find_tag(tag), want);
        assert_eq!(want, ((cap - 2 + n) % cap, fake_rec(n)), "wraps past the end");
    }
    assert_eq!(view.find_tag(lone), (5, fake_rec(9)));
    // Home 4 is empty: the probe stops at once (slot 5 after it is occupied).
    let absent = tag_at(4, bits, 9);
    assert_eq!(view.find_tag(absent), (0, std::ptr::null_mut()));
    // A tag in the cluster's homes that is not there: the probe ends at the first empty slot.
    assert_eq!(view.find_tag(tag_at(cap - 2, bits, 7)), (0, std::ptr::null_mut()));
}

/// The general batch (the parts no owner takes, with batch_delegate_min)
/// skips its prefetch stages only when the whole map's slots fit the
/// caches: one shard's share of 2^15 slots is not enough when there are
/// several (the same per-shard test in the batch get path left a 100k-entry
/// map on 8 shards of 2^14 slots unprefetched, 2.8 times as slow:
/// bench/results/batch-stages-run26.txt).
#[test]
fn cache_sized_is_judged_by_the_whole_map() {
    let t = Table::with_capacity(None, 0, 14).unwrap();
    let view = t.view();
    assert_eq!(view.bits(), 14);
    assert!(view.map_is_cache_sized(1));
    assert!(view.map_is_cache_sized(2));
    assert!(!view.map_is_cache_sized(3), "3 shards round up to 4: 2^16 slots");
    assert!(!view.map_is_cache_sized(8));
    let small = Table::with_capacity(None, 0, 10).unwrap();
    assert!(small.view().map_is_cache_sized(32));
    assert!(!small.view().map_is_cache_sized(33));
}
