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

#[test]
fn readers_are_answered_lock_free_while_the_index_doubles() {
    let map = Map::new(Config { shards: 1, ..Config::default() }).unwrap();
    let inner = &*map.inner;
    let shard = &inner.shards[0];
    let mut n = 0u64;
    while !shard.lock().unwrap().table.needs_grow_for(1) {
        map.put(&key(n), &value(n)).unwrap();
        n += 1;
    }
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
    let map = Map::new(Config { shards: 1, ..Config::default() }).unwrap();
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
    let map = Map::new(Config { shards: 1, ..Config::default() }).unwrap();
    let inner = &*map.inner;
    let shard = &inner.shards[0];
    let mut n = 0u64;
    while !shard.lock().unwrap().table.needs_grow_for(1) {
        map.put(&key(n), &value(n)).unwrap();
        n += 1;
    }
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
