//! The capture protocol, deterministically: changes of every kind made
//! between the saver's chunks (in written and unwritten ranges, clear,
//! replace_all) never reach the snapshot, which equals the map at the
//! save's start.

use crate::{Config, Map};
use std::collections::BTreeMap;
use std::sync::Mutex;

type Model = BTreeMap<Vec<u8>, Vec<u8>>;

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        // xorshift64*
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

fn key(i: u64) -> Vec<u8> {
    format!("key-{i:08}").into_bytes()
}

fn value(rng: &mut Rng) -> Vec<u8> {
    let len = match rng.below(10) {
        0 => 0,
        1 => 8,
        2 => 600 + rng.below(1500) as usize,
        _ => 1 + rng.below(40) as usize,
    };
    (0..len).map(|_| rng.next() as u8).collect()
}

fn contents(map: &Map) -> Model {
    map.iter().unwrap().map(|r| r.unwrap()).collect()
}

fn dir(name: &str) -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!("numashard-snap-unit-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

/// One random change of the map, mirrored in `live`.
fn mutate(map: &Map, live: &mut Model, rng: &mut Rng, keys: u64) {
    let k = key(rng.below(keys));
    match rng.below(7) {
        0 | 1 => {
            let v = value(rng);
            map.put(&k, &v).unwrap();
            live.insert(k, v);
        }
        2 => {
            assert_eq!(map.delete(&k).unwrap(), live.remove(&k).is_some());
        }
        3 => {
            let v = value(rng);
            assert_eq!(map.swap(&k, &v).unwrap(), live.insert(k, v));
        }
        4 => {
            if !matches!(live.get(&k), Some(v) if v.len() != 8) {
                let n = map.add(&k, 3).unwrap();
                live.insert(k, n.to_le_bytes().to_vec());
            }
        }
        5 => {
            assert_eq!(map.take(&k).unwrap(), live.remove(&k));
        }
        _ => {
            let v = value(rng);
            if map.put_if_absent(&k, &v).unwrap() {
                live.insert(k, v);
            }
        }
    }
}

/// Fills a map, saves it while `between` changes it, and checks that the
/// snapshot is the map at the start, loaded into several shard counts.
fn check(name: &str, shards: usize, between: impl Fn(&Map, &mut Model, &mut Rng, usize) + Sync) {
    let keys = 24_000;
    let map = Map::new(Config { shards, ..Config::default() }).unwrap();
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15 ^ shards as u64);
    let mut live = Model::new();
    for _ in 0..keys * 3 / 2 {
        mutate(&map, &mut live, &mut rng, keys);
    }
    let at_start = live.clone();
    assert_eq!(contents(&map), at_start);
    let state = Mutex::new((live, rng, 0usize));
    let d = dir(name);
    let report = map
        .save_with(&d, &|_, _| {
            let mut g = state.lock().unwrap();
            let (live, rng, calls) = &mut *g;
            *calls += 1;
            let c = *calls;
            between(&map, live, rng, c);
        })
        .unwrap();
    let (live, _, calls) = state.into_inner().unwrap();
    assert!(calls >= shards * 3, "the save should take several chunks per shard ({calls} calls)");
    assert_eq!(report.entries, at_start.len() as u64);
    assert_eq!(contents(&map), live, "the live map holds every change made during the save");
    for (n, seed) in [(1, None), (shards, None), (5, Some(7u64))] {
        let mut cfg = Config { shards: n, ..Config::default() };
        if let Some(seed) = seed {
            cfg.hash_seed = seed;
        }
        let loaded = Map::open_snapshot(cfg, &d).unwrap();
        assert_eq!(contents(&loaded), at_start, "{name}: loaded into {n} shards");
        assert_eq!(loaded.len().unwrap(), at_start.len() as u64);
    }
    // No capture is left behind: changes after the save log nothing.
    for s in map.inner.shards.iter() {
        assert!(s.lock().unwrap().capture.is_none());
    }
    let _ = std::fs::remove_dir_all(&d);
}

#[test]
fn changes_between_chunks_stay_out_of_the_snapshot() {
    check("changes", 3, |map, live, rng, _| {
        for _ in 0..300 {
            mutate(map, live, rng, 24_000);
        }
    });
}

#[test]
fn a_clear_during_the_save_freezes_the_old_contents() {
    check("clear", 2, |map, live, rng, call| {
        if call == 2 {
            map.clear().unwrap();
            live.clear();
        }
        for _ in 0..100 {
            mutate(map, live, rng, 24_000);
        }
    });
}

#[test]
fn a_replace_all_during_the_save_freezes_the_old_contents() {
    check("replace", 3, |map, live, rng, call| {
        if call == 3 || call == 6 {
            let fresh: Vec<(Vec<u8>, Vec<u8>)> = (0..5000).map(|i| (key(rng.below(30_000) + i), value(rng))).collect();
            map.replace_all(&fresh).unwrap();
            *live = fresh.into_iter().collect();
        }
        for _ in 0..100 {
            mutate(map, live, rng, 24_000);
        }
    });
}

#[test]
fn a_second_save_of_the_same_map_is_refused_while_one_runs() {
    let map = Map::new(Config { shards: 2, ..Config::default() }).unwrap();
    for i in 0..10_000 {
        map.put(&key(i), b"v").unwrap();
    }
    let (d1, d2) = (dir("busy1"), dir("busy2"));
    let second = Mutex::new(None);
    map.save_with(&d1, &|_, _| {
        let mut g = second.lock().unwrap();
        if g.is_none() {
            *g = Some(map.save(&d2).map(|_| ()).map_err(|e| e.status()));
        }
    })
    .unwrap();
    assert_eq!(second.into_inner().unwrap(), Some(Err(crate::Status::SnapshotBusy)));
    assert_eq!(crate::snapshot::inspect(&d1).unwrap().entries, 10_000);
    let _ = std::fs::remove_dir_all(&d1);
    let _ = std::fs::remove_dir_all(&d2);
}
