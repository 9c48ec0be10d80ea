//! `Config::initial_capacity`: every shard's index starts with room for its
//! share, so filling the map that far doubles no index; `clear` and a
//! snapshot load never go below that size; bad hints are refused.

use numashard::config::MAX_INITIAL_CAPACITY;
use numashard::{BatchOp, Config, Map, Status};

fn map(shards: usize, initial_capacity: usize) -> Map {
    Map::new(Config { shards, initial_capacity, ..Config::default() }).unwrap()
}

fn slots(m: &Map) -> Vec<u64> {
    m.stats().unwrap().per_shard.iter().map(|s| s.index_slots).collect()
}

fn key(i: u64) -> [u8; 16] {
    let mut k = [0u8; 16];
    k[..8].copy_from_slice(&i.to_le_bytes());
    k[8..].copy_from_slice(&(i.wrapping_mul(0x9e37_79b9_7f4a_7c15)).to_le_bytes());
    k
}

fn fill(m: &Map, from: u64, to: u64) {
    for i in from..to {
        m.put(&key(i), &i.to_le_bytes()).unwrap();
    }
}

#[test]
fn filling_to_the_initial_capacity_doubles_no_index() {
    const N: u64 = 100_000;
    let m = map(4, N as usize);
    let at_open = slots(&m);
    // Each shard's share (25k) plus slack, at a load of at most 4/5.
    assert!(at_open.iter().all(|&s| s * 4 >= 25_000 * 5), "{at_open:?}");
    fill(&m, 0, N / 2);
    // The second half in batches of 64: a batch grows ahead for all its inserts.
    let (keys, values): (Vec<_>, Vec<_>) = (N / 2..N).map(|i| (key(i), i.to_le_bytes())).unzip();
    for (ks, vs) in keys.chunks(64).zip(values.chunks(64)) {
        let mut ops: Vec<BatchOp<'_>> = ks.iter().zip(vs).map(|(k, v)| BatchOp::put(k, v)).collect();
        m.batch(&mut ops).unwrap();
        assert!(ops.iter().all(|op| op.status == Status::Ok));
    }
    assert_eq!(slots(&m), at_open, "an index doubled below the initial capacity");
    assert_eq!(m.len().unwrap(), N);
    let mut buf = [0u8; 8];
    for i in 0..N {
        assert_eq!(m.get_into(&key(i), &mut buf).unwrap(), Some(8), "key {i}");
        assert_eq!(u64::from_le_bytes(buf), i);
    }
    m.close().unwrap();
}

#[test]
fn without_a_hint_an_index_starts_small_and_doubles() {
    let m = map(4, 0);
    let at_open = slots(&m);
    assert!(at_open.iter().all(|&s| s <= 64), "{at_open:?}");
    fill(&m, 0, 100_000);
    assert!(slots(&m).iter().all(|&s| s * 4 >= 25_000 * 5));
    m.close().unwrap();
}

#[test]
fn clear_returns_an_index_to_its_initial_size_not_below() {
    let m = map(2, 10_000);
    let at_open = slots(&m);
    assert!(at_open.iter().all(|&s| s * 4 >= 5_000 * 5), "{at_open:?}");
    fill(&m, 0, 100_000);
    let grown = slots(&m);
    assert!(grown.iter().zip(&at_open).all(|(g, o)| g > o), "{grown:?} vs {at_open:?}");
    m.clear().unwrap();
    assert_eq!(slots(&m), at_open);
    assert_eq!(m.len().unwrap(), 0);
    m.close().unwrap();

    let m = map(2, 0);
    fill(&m, 0, 10_000);
    m.clear().unwrap();
    assert!(slots(&m).iter().all(|&s| s <= 64));
    m.close().unwrap();
}

#[test]
fn a_snapshot_loads_into_an_index_no_smaller_than_the_hint() {
    let dir = std::env::temp_dir().join(format!("numashard-capacity-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let small = map(2, 0);
    fill(&small, 0, 1_000);
    small.save(&dir).unwrap();
    small.close().unwrap();

    let cfg = Config { shards: 2, initial_capacity: 1_000_000, ..Config::default() };
    let loaded = Map::open_snapshot(cfg, &dir).unwrap();
    let hinted = map(2, 1_000_000);
    assert_eq!(slots(&loaded), slots(&hinted));
    assert_eq!(loaded.len().unwrap(), 1_000);
    loaded.clear().unwrap();
    assert_eq!(slots(&loaded), slots(&hinted));
    loaded.close().unwrap();
    hinted.close().unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_hint_past_the_ceiling_is_refused() {
    let Err(e) = Map::new(Config { shards: 1, initial_capacity: MAX_INITIAL_CAPACITY + 1, ..Config::default() }) else {
        panic!("a hint over the ceiling was accepted")
    };
    assert_eq!(e.status(), Status::InvalidArgument);
    // At the ceiling: a map whose index could be mapped, or a clear refusal.
    match Map::new(Config { shards: 1, initial_capacity: MAX_INITIAL_CAPACITY, ..Config::default() }) {
        Ok(m) => {
            fill(&m, 0, 100);
            assert_eq!(m.len().unwrap(), 100);
            m.close().unwrap();
        }
        Err(e) => assert_eq!(e.status(), Status::Resource),
    }
}

#[test]
fn a_memory_limit_caps_the_hint() {
    // 1 MiB holds at most 32k entries of the smallest cost (a 16-byte
    // slot and the smallest record): the index is not made for 10M.
    let cfg = Config { shards: 2, initial_capacity: 10_000_000, memory_limit: 1 << 20, ..Config::default() };
    let m = Map::new(cfg).unwrap();
    let capped = slots(&m);
    assert!(capped.iter().all(|&s| s <= 1 << 15), "{capped:?}");
    assert!(capped.iter().all(|&s| s > 64), "{capped:?}");
    m.close().unwrap();
}
