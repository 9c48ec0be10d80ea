//! The index grows outside the write section: between the doubling and the
//! section that publishes it, readers are answered without the lock, from
//! the array that was published before.

use crate::batch::BatchOp;
use crate::error::Status;
use crate::{Config, Map};
use std::sync::atomic::Ordering;

fn key(i: u64) -> [u8; 16] {
    let mut k = [0u8; 16];
    k[..8].copy_from_slice(&i.wrapping_mul(0x9e37_79b9_7f4a_7c15).to_le_bytes());
    k[8..].copy_from_slice(&i.to_le_bytes());
    k
}

fn value(i: u64) -> [u8; 32] {
    [i as u8; 32]
}

fn one_shard_map() -> Map {
    Map::new(Config { shards: 1, ..Config::default() }).unwrap()
}

/// Puts keys `from`, `from + 1`, ... singly until the next insert needs the
/// index to grow; returns the first key not put.
fn fill_to_the_edge(map: &Map, from: u64) -> u64 {
    let mut n = from;
    while !map.inner.shards[0].lock().unwrap().table.needs_grow_for(1) {
        map.put(&key(n), &value(n)).unwrap();
        n += 1;
    }
    n
}

#[test]
fn readers_are_answered_lock_free_while_the_index_doubles() {
    let map = one_shard_map();
    let inner = &*map.inner;
    let shard = &inner.shards[0];
    let n = fill_to_the_edge(&map, 0);
    let published = shard.view.table_word.load(Ordering::Relaxed);
    let _pass = inner.gate.enter().unwrap();
    let mut g = shard.lock().unwrap();
    let capacity = g.table.capacity();
    g.grow_ahead(1);
    assert_eq!(g.table.capacity(), 2 * capacity, "grown before the section");
    assert_eq!(shard.view.table_word.load(Ordering::Relaxed), published, "the old array is still the published one");
    // The lock is held (by this thread): every read below is answered
    // without it, or read_get would return false.
    for i in 0..n {
        let k = key(i);
        let mut out = [0u8; 32];
        let mut op = BatchOp::get(&k, &mut out);
        op.hash = inner.hasher.hash(&k);
        assert!(shard.read_get(&mut op), "key {i}: no lock-free answer during the doubling");
        assert_eq!(op.status, Status::Ok);
        assert_eq!(out, value(i));
    }
    // The next section publishes the bigger array and retires the old one.
    let k = key(n);
    let hash = inner.hasher.hash(&k);
    assert_eq!(g.write(&inner.gate, 1, |st| st.put(&inner.budget, hash, &k, &value(n))), Status::Ok);
    assert_eq!(g.table.capacity(), 2 * capacity, "no second doubling inside the section");
    drop(g);
    assert_ne!(shard.view.table_word.load(Ordering::Relaxed), published);
    for i in 0..=n {
        assert_eq!(map.get(&key(i)).unwrap().as_deref(), Some(&value(i)[..]));
    }
}

#[test]
fn a_batch_grows_ahead_for_all_its_inserts() {
    let map = one_shard_map();
    let shard = &map.inner.shards[0];
    let mut g = shard.lock().unwrap();
    let capacity = g.table.capacity();
    // 64 slots hold 51 entries at the 4/5 load: 200 inserts need two more doublings.
    g.grow_ahead(200);
    assert_eq!(g.table.capacity(), 4 * capacity);
    assert!(!g.table.needs_grow_for(200));
    assert!(g.table.needs_grow_for(g.table.capacity() * 4 / 5 + 1));
    g.grow_ahead(0);
    assert_eq!(g.table.capacity(), 4 * capacity, "no inserts, no growth");
}

#[test]
fn a_write_section_opens_on_a_grown_index() {
    let map = one_shard_map();
    let inner = &*map.inner;
    let shard = &inner.shards[0];
    let n = fill_to_the_edge(&map, 0);
    let _pass = inner.gate.enter().unwrap();
    let mut g = shard.lock().unwrap();
    let capacity = g.table.capacity();
    let k = key(n);
    let hash = inner.hasher.hash(&k);
    let status = g.write(&inner.gate, 1, |st| {
        assert_eq!(st.table.capacity(), 2 * capacity, "the section opened before the index grew");
        st.put(&inner.budget, hash, &k, &value(n))
    });
    assert_eq!(status, Status::Ok);
}

/// A large index (its next array 2^17 slots or more) fills on past 4/5
/// while the owner builds the next array off the lock; the owner then
/// doubles it. Past 9/10 a writer doubles it itself.
#[test]
fn a_large_index_grows_in_the_background() {
    let map = one_shard_map();
    let inner = &*map.inner;
    let shard = &inner.shards[0];
    let mut n = 0u64;
    // Batches while no batch could reach the background threshold, then
    // single puts up to it (no write asks the owner before the checks).
    loop {
        let (background, edge, near) = {
            let st = shard.lock().unwrap();
            (st.table.grows_in_background(), st.table.needs_grow_for(1), st.table.needs_grow_for(256))
        };
        if background && edge {
            break;
        }
        if background && near {
            map.put(&key(n), &value(n)).unwrap();
            n += 1;
            continue;
        }
        let keys: Vec<[u8; 16]> = (n..n + 256).map(key).collect();
        let values: Vec<[u8; 32]> = (n..n + 256).map(value).collect();
        let mut ops: Vec<BatchOp<'_>> = keys.iter().zip(&values).map(|(k, v)| BatchOp::put(k, v)).collect();
        map.batch(&mut ops).unwrap();
        n += 256;
    }
    assert!(shard.growth_asked().is_none());
    let capacity = {
        let mut g = shard.lock().unwrap();
        let capacity = g.table.capacity();
        // Past 4/5 and below 9/10: the next array's shape, for the owner.
        assert_eq!(g.grow_ahead(1), Some(g.table.next_shape()));
        assert_eq!(g.table.capacity(), capacity, "a large index does not double on the writer's path");
        // Past 9/10 the writer doubles it itself, and withdraws the ask.
        shard.ask_growth(g.table.next_shape());
        assert_eq!(shard.growth_asked(), Some(g.table.next_shape()));
        let past = capacity * 9 / 10 + 1 - g.table.len();
        g.write(&inner.gate, past, |_| ());
        assert_eq!(g.table.capacity(), 2 * capacity, "past 9/10 the writer doubles it");
        assert_eq!(shard.growth_asked(), None, "the array asked of the owner is no longer wanted");
        2 * capacity
    };
    n = fill_to_the_edge(&map, n);
    // The write at the edge: inserted into the current index, the next one
    // asked for once the lock is released.
    {
        let _pass = inner.gate.enter().unwrap();
        let mut g = shard.lock().unwrap();
        let k = key(n);
        let hash = inner.hasher.hash(&k);
        assert_eq!(g.write(&inner.gate, 1, |st| st.put(&inner.budget, hash, &k, &value(n))), Status::Ok);
        n += 1;
        assert_eq!(g.table.capacity(), capacity, "not doubled on the writer's path");
        assert!(shard.growth_asked().is_none(), "asked only once the lock is released");
    }
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while shard.lock().unwrap().table.capacity() == capacity {
        assert!(std::time::Instant::now() < deadline, "the owner did not double the index");
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
    assert_eq!(shard.lock().unwrap().table.capacity(), 2 * capacity);
    for i in 0..n {
        assert_eq!(map.get(&key(i)).unwrap().as_deref(), Some(&value(i)[..]), "key {i}");
    }
    assert_eq!(map.len().unwrap(), n);
}

/// An array built for a shape the table no longer has (it grew by itself,
/// or was cleared) is given back unused; one built for its next shape is
/// used only once every page was touched.
#[test]
fn a_spare_is_used_only_for_the_next_shape_once_built() {
    use crate::table::Spare;
    let map = one_shard_map();
    let inner = &*map.inner;
    let shard = &inner.shards[0];
    for i in 0..2000 {
        map.put(&key(i), &value(i)).unwrap();
    }
    let mut g = shard.lock().unwrap();
    let (bits, node) = g.table.next_shape();
    let capacity = g.table.capacity();
    let wrong = Spare::new(bits + 1, node).unwrap();
    assert!(g.grow_into(&inner.gate, wrong).is_some(), "another shape");
    let mut half = Spare::new(bits, node).unwrap();
    assert!(!half.populate(4096), "more than a page");
    let half = g.grow_into(&inner.gate, half).expect("not fully touched");
    assert_eq!(g.table.capacity(), capacity);
    let mut full = half;
    while !full.populate(1 << 20) {}
    assert!(g.grow_into(&inner.gate, full).is_none());
    assert_eq!(g.table.capacity(), 2 * capacity);
    drop(g);
    for i in 0..2000 {
        assert_eq!(map.get(&key(i)).unwrap().as_deref(), Some(&value(i)[..]));
    }
}
