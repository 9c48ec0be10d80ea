//! Concurrency stress with invariants, more threads than cores: exact
//! counters, close racing with operations, iteration under churn, and
//! replace_all generations that never go backwards.

use numashard::{BatchOp, Config, ExecMode, Map, Status};
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

fn modes() -> [ExecMode; 2] {
    [ExecMode::Auto, ExecMode::Delegate]
}

fn cfg(mode: ExecMode, shards: usize) -> Config {
    Config { shards, exec_mode: mode, ..Config::default() }
}

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

#[test]
fn counters_lose_no_update() {
    for mode in modes() {
        let map = Arc::new(Map::new(cfg(mode, 3)).unwrap());
        const THREADS: u64 = 8;
        const COUNTERS: u64 = 1000;
        let sums: Vec<Vec<i64>> = std::thread::scope(|s| {
            let hs: Vec<_> = (0..THREADS)
                .map(|t| {
                    let map = map.clone();
                    s.spawn(move || {
                        let mut rng = Rng(t * 7919 + 1);
                        let mut local = vec![0i64; COUNTERS as usize];
                        for round in 0..400 {
                            if round % 4 == 0 {
                                // a batch of 32 adds
                                let picks: Vec<(u64, i64)> =
                                    (0..32).map(|_| (rng.next() % COUNTERS, (rng.next() % 201) as i64 - 100)).collect();
                                let keys: Vec<[u8; 8]> = picks.iter().map(|(c, _)| c.to_le_bytes()).collect();
                                let mut ops: Vec<BatchOp> =
                                    keys.iter().zip(&picks).map(|(k, (_, d))| BatchOp::add(k, *d)).collect();
                                map.batch(&mut ops).unwrap();
                                for (op, (c, d)) in ops.iter().zip(&picks) {
                                    assert_eq!(op.status, Status::Ok);
                                    local[*c as usize] += d;
                                }
                            } else {
                                for _ in 0..8 {
                                    let c = rng.next() % COUNTERS;
                                    let d = (rng.next() % 201) as i64 - 100;
                                    map.add(&c.to_le_bytes(), d).unwrap();
                                    local[c as usize] += d;
                                }
                            }
                        }
                        local
                    })
                })
                .collect();
            hs.into_iter().map(|h| h.join().unwrap()).collect()
        });
        for c in 0..COUNTERS {
            let want: i64 = sums.iter().map(|l| l[c as usize]).sum();
            let got = map.get(&c.to_le_bytes()).unwrap();
            match got {
                Some(v) => assert_eq!(i64::from_le_bytes(v.try_into().unwrap()), want, "counter {c} ({mode:?})"),
                // Absent: no thread added to it (an add always stores the counter).
                None => assert!(sums.iter().all(|l| l[c as usize] == 0), "counter {c} lost ({mode:?})"),
            }
        }
    }
}

#[test]
fn close_races_with_operations() {
    for mode in modes() {
        for _ in 0..5 {
            let map = Arc::new(Map::new(cfg(mode, 2)).unwrap());
            let start = Arc::new(Barrier::new(7));
            let closed_seen = Arc::new(AtomicU64::new(0));
            let hs: Vec<_> = (0..6)
                .map(|t| {
                    let (map, start, closed_seen) = (map.clone(), start.clone(), closed_seen.clone());
                    std::thread::spawn(move || {
                        start.wait();
                        let mut rng = Rng(t + 11);
                        let mut after_closed = false;
                        for i in 0..20_000u64 {
                            let k = (rng.next() % 500).to_le_bytes();
                            let r: Result<(), numashard::Error> = match i % 5 {
                                0 => map.put(&k, &[1; 24]),
                                1 => map.get(&k).map(|_| ()),
                                2 => map.delete(&k).map(|_| ()),
                                3 => {
                                    let mut ops = [BatchOp::put(&k, b"x"), BatchOp::delete(&k)];
                                    map.batch(&mut ops).map(|_| {
                                        for op in &ops {
                                            assert!(matches!(
                                                op.status,
                                                Status::Ok | Status::NotFound | Status::Closed
                                            ));
                                        }
                                    })
                                }
                                _ => map.len().map(|_| ()),
                            };
                            match r {
                                Ok(()) => assert!(!after_closed, "an op succeeded after Closed was seen"),
                                Err(e) => {
                                    assert_eq!(e.status(), Status::Closed);
                                    after_closed = true;
                                }
                            }
                        }
                        if after_closed {
                            closed_seen.fetch_add(1, Ordering::Relaxed);
                        }
                    })
                })
                .collect();
            start.wait();
            std::thread::sleep(Duration::from_millis(3));
            let a = map.close();
            let b = map.close();
            assert!(a.is_ok());
            assert_eq!(b.unwrap_err().status(), Status::Closed);
            for h in hs {
                h.join().unwrap();
            }
            assert_eq!(map.put(b"k", b"v").unwrap_err().status(), Status::Closed);
            assert_eq!(map.get(b"k").unwrap_err().status(), Status::Closed);
            assert_eq!(map.len().unwrap_err().status(), Status::Closed);
            assert_eq!(map.stats().unwrap_err().status(), Status::Closed);
            assert_eq!(map.iter().err().unwrap().status(), Status::Closed);
            assert_eq!(map.clear().unwrap_err().status(), Status::Closed);
        }
    }
}

#[test]
fn two_racing_closes_one_succeeds() {
    for _ in 0..20 {
        let map = Arc::new(Map::new(cfg(ExecMode::Auto, 2)).unwrap());
        let hs: Vec<_> = (0..3)
            .map(|_| {
                let m = map.clone();
                std::thread::spawn(move || m.close().is_ok())
            })
            .collect();
        let oks = hs.into_iter().map(|h| h.join().unwrap()).filter(|&ok| ok).count();
        assert_eq!(oks, 1);
    }
}

fn stable_value(k: u64) -> Vec<u8> {
    let mut v = k.to_le_bytes().repeat(5);
    v.extend_from_slice(&(!k).to_le_bytes());
    v
}

/// Churn values carry their key and a version in every 8-byte word, so a
/// torn value (a mix of two writes) is detected.
fn churn_value(k: u64, version: u64, words: usize) -> Vec<u8> {
    (0..words).flat_map(|_| (k.wrapping_mul(1_000_003) ^ version).to_le_bytes()).collect()
}

#[test]
fn iteration_sees_stable_keys_exactly_once_under_churn() {
    for mode in modes() {
        let map = Arc::new(Map::new(cfg(mode, 3)).unwrap());
        const STABLE: u64 = 20_000;
        for k in 0..STABLE {
            map.put(&k.to_le_bytes(), &stable_value(k)).unwrap();
        }
        let stop = Arc::new(AtomicBool::new(false));
        let churners: Vec<_> = (0..3)
            .map(|t| {
                let (map, stop) = (map.clone(), stop.clone());
                std::thread::spawn(move || {
                    let mut rng = Rng(t + 5);
                    let mut v = 0;
                    while !stop.load(Ordering::Relaxed) {
                        // churn keys live in [1<<40, 1<<40 + 30000): disjoint from stable keys
                        let k = (1u64 << 40) + rng.next() % 30_000;
                        v += 1;
                        match rng.next() % 3 {
                            0 | 1 => map.put(&k.to_le_bytes(), &churn_value(k, v, 1 + (v % 40) as usize)).unwrap(),
                            _ => {
                                map.delete(&k.to_le_bytes()).unwrap();
                            }
                        }
                        if v % 5000 == 0 && t == 0 {
                            // grow and shrink: a burst of inserts forces resizes during iteration
                            for j in 0..2000u64 {
                                let k = (1u64 << 40) + 30_000 + j;
                                map.put(&k.to_le_bytes(), &churn_value(k, v, 2)).unwrap();
                            }
                            for j in 0..2000u64 {
                                map.delete(&((1u64 << 40) + 30_000 + j).to_le_bytes()).unwrap();
                            }
                        }
                    }
                })
            })
            .collect();
        for pass in 0..6 {
            let mut seen: HashMap<u64, usize> = HashMap::new();
            let mut churn_seen: HashMap<u64, usize> = HashMap::new();
            let mut it = map.iter().unwrap();
            while let Some((k, v)) = it.next_entry().unwrap() {
                let k = u64::from_le_bytes(k.try_into().unwrap());
                if k < STABLE {
                    assert_eq!(v, &stable_value(k)[..], "stable value of {k} torn or wrong");
                    *seen.entry(k).or_default() += 1;
                } else {
                    assert!(!v.is_empty() && v.len() % 8 == 0);
                    let w = &v[..8];
                    assert!(v.chunks(8).all(|c| c == w), "churn value of {k} is torn");
                    *churn_seen.entry(k).or_default() += 1;
                }
            }
            assert_eq!(seen.len() as u64, STABLE, "pass {pass} ({mode:?}): a stable key was missed");
            assert!(seen.values().all(|&c| c == 1), "pass {pass}: a stable key was returned twice");
            assert!(churn_seen.values().all(|&c| c == 1), "pass {pass}: a churn key was returned twice");
        }
        // An abandoned iterator holds nothing: writers, clear and close proceed.
        let mut it = map.iter().unwrap();
        let _ = it.next_entry().unwrap();
        stop.store(true, Ordering::Relaxed);
        for h in churners {
            h.join().unwrap();
        }
        map.clear().unwrap();
        assert!(it.next_entry().is_ok());
        map.close().unwrap();
        // What was fetched before close may still be returned; then Closed or the end.
        let mut after_close = 0;
        loop {
            match it.next_entry() {
                Ok(None) => break,
                Err(e) => {
                    assert_eq!(e.status(), Status::Closed);
                    break;
                }
                Ok(Some(_)) => after_close += 1,
            }
            assert!(after_close <= 1024, "more than one chunk returned after close");
        }
    }
}

#[test]
fn replace_all_generations_never_go_backwards() {
    for mode in modes() {
        let map = Arc::new(Map::new(cfg(mode, 3)).unwrap());
        const KEYS: u64 = 10_000;
        let gen_entries = |g: u64| -> Vec<(Vec<u8>, Vec<u8>)> {
            (0..KEYS).map(|k| (k.to_le_bytes().to_vec(), [g.to_le_bytes(), k.to_le_bytes()].concat())).collect()
        };
        map.replace_all(&gen_entries(0)).unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let readers: Vec<_> = (0..4)
            .map(|t| {
                let (map, stop) = (map.clone(), stop.clone());
                std::thread::spawn(move || {
                    let mut rng = Rng(t + 99);
                    let mut max_seen = 0u64;
                    let mut reads = 0u64;
                    let mut buf = [0u8; 16];
                    while !stop.load(Ordering::Relaxed) {
                        let k = rng.next() % KEYS;
                        let n = map
                            .get_into(&k.to_le_bytes(), &mut buf)
                            .unwrap()
                            .expect("every key present in every generation");
                        assert_eq!(n, 16);
                        let g = u64::from_le_bytes(buf[..8].try_into().unwrap());
                        assert_eq!(u64::from_le_bytes(buf[8..].try_into().unwrap()), k);
                        assert!(g >= max_seen, "saw generation {g} after {max_seen}");
                        max_seen = g;
                        reads += 1;
                    }
                    reads
                })
            })
            .collect();
        for g in 1..=100u64 {
            map.replace_all(&gen_entries(g)).unwrap();
        }
        stop.store(true, Ordering::Relaxed);
        let reads: u64 = readers.into_iter().map(|h| h.join().unwrap()).sum();
        assert!(reads > 0);
        assert_eq!(map.len().unwrap(), KEYS);
        let st = map.stats().unwrap();
        assert_eq!(st.replace_count, 101);
        assert!(st.replace_stall_max_ns > 0);
        // Bad input changes nothing.
        let mut bad = gen_entries(500);
        bad.push((vec![0; 100_000], vec![]));
        assert_eq!(map.replace_all(&bad).unwrap_err().status(), Status::KeyTooLarge);
        assert_eq!(&map.get(&7u64.to_le_bytes()).unwrap().unwrap()[..8], &100u64.to_le_bytes());
    }
}

#[test]
fn memory_limit_is_exact_and_changes_nothing_when_full() {
    let limit = 1 << 20;
    let map = Map::new(Config { shards: 2, memory_limit: limit, ..Config::default() }).unwrap();
    let mut stored = 0u64;
    let full_at = loop {
        match map.put(&stored.to_le_bytes(), &[9u8; 32]) {
            Ok(()) => stored += 1,
            Err(e) => {
                assert_eq!(e.status(), Status::Full);
                break stored;
            }
        }
        assert!(stored < 1_000_000, "limit never reached");
    };
    let st = map.stats().unwrap();
    assert!(st.bytes <= limit, "charged {} over the limit {limit}", st.bytes);
    // Small entries cost their size plus a small overhead, far below 1 KiB.
    let per_entry = st.bytes as f64 / full_at as f64;
    assert!(per_entry < 100.0, "each 8 B key + 32 B value charged {per_entry} bytes");
    assert!(limit - st.bytes < 200, "stopped {} bytes short of the limit", limit - st.bytes);
    // The failed put changed nothing.
    assert_eq!(map.len().unwrap(), full_at);
    assert_eq!(map.get(&full_at.to_le_bytes()).unwrap(), None);
    // Growing a value past the limit fails and keeps the old value.
    assert_eq!(map.put(&0u64.to_le_bytes(), &[1u8; 4096]).unwrap_err().status(), Status::Full);
    assert_eq!(map.get(&0u64.to_le_bytes()).unwrap().unwrap(), vec![9u8; 32]);
    // Deleting frees budget.
    assert!(map.delete(&1u64.to_le_bytes()).unwrap());
    map.put(&u64::MAX.to_le_bytes(), &[9u8; 32]).unwrap();
    // replace_all over the limit fails and changes nothing.
    let big: Vec<(Vec<u8>, Vec<u8>)> = (0..100_000u64).map(|k| (k.to_le_bytes().to_vec(), vec![0; 32])).collect();
    assert_eq!(map.replace_all(&big).unwrap_err().status(), Status::Full);
    assert_eq!(map.len().unwrap(), full_at);
    // clear releases everything.
    map.clear().unwrap();
    assert_eq!(map.stats().unwrap().bytes, 0);
    for k in 0..full_at {
        map.put(&k.to_le_bytes(), &[9u8; 32]).unwrap();
    }
}

#[test]
fn synthetic_topologies_place_shards_on_their_nodes() {
    for (desc, nodes) in
        [("pack:2 [numa] core:2 pu:1", 2u32), ("pack:4 [numa] core:2 pu:1", 4), ("numa:8 core:1 pu:1", 8)]
    {
        for shards in [0usize, 5, 16] {
            let map = Map::new(Config { topology: Some(desc.into()), shards, ..Config::default() }).unwrap();
            assert!(!map.topology().is_this_system);
            let st = map.stats().unwrap();
            let want = if shards == 0 { map.topology().cpus().len() } else { shards };
            assert_eq!(st.shards as usize, want);
            let mut per_node = vec![0usize; nodes as usize];
            for s in &st.per_shard {
                assert_eq!(
                    map.topology().node_of_cpu(s.cpu),
                    Some(s.node),
                    "{desc}: shard {} cpu {} not on node {}",
                    s.shard,
                    s.cpu,
                    s.node
                );
                assert!(!s.binding_applied, "{desc}: binding claimed on a synthetic topology");
                per_node[s.node as usize] += 1;
            }
            let (min, max) = (per_node.iter().min().unwrap(), per_node.iter().max().unwrap());
            assert!(max - min <= 1, "{desc} shards={shards}: unbalanced {per_node:?}");
            assert!(!st.binding_applied);
            // and the map works
            for k in 0..1000u32 {
                map.put(&k.to_le_bytes(), b"v").unwrap();
            }
            assert_eq!(map.len().unwrap(), 1000);
        }
    }
}

#[test]
fn real_machine_binding_is_applied_and_pages_are_on_node() {
    let map = Map::new(Config::default()).unwrap();
    assert!(map.topology().is_this_system);
    for k in 0..50_000u32 {
        map.put(&k.to_le_bytes(), &[3u8; 100]).unwrap();
    }
    let st = map.stats().unwrap();
    for s in &st.per_shard {
        assert!(s.binding_applied, "shard {} not bound on the real machine", s.shard);
        assert!(s.pages_total > 0);
        assert_eq!(s.pages_on_node, s.pages_total);
    }
}

#[test]
fn many_threads_mixed_ops_stay_consistent() {
    // Each thread owns a key range; the final contents must equal each thread's own model.
    for mode in modes() {
        let map = Arc::new(Map::new(cfg(mode, 2)).unwrap());
        let deadline = Instant::now() + Duration::from_millis(700);
        let models: Vec<HashMap<u64, Vec<u8>>> = std::thread::scope(|s| {
            (0..6u64)
                .map(|t| {
                    let map = map.clone();
                    s.spawn(move || {
                        let mut rng = Rng(t + 1);
                        let mut model = HashMap::new();
                        while Instant::now() < deadline {
                            let k = (t << 32) | (rng.next() % 300);
                            let v = rng.next().to_le_bytes().repeat(1 + (rng.next() % 6) as usize);
                            match rng.next() % 4 {
                                0 | 1 => {
                                    map.put(&k.to_le_bytes(), &v).unwrap();
                                    model.insert(k, v);
                                }
                                2 => {
                                    assert_eq!(map.take(&k.to_le_bytes()).unwrap(), model.remove(&k));
                                }
                                _ => assert_eq!(map.get(&k.to_le_bytes()).unwrap(), model.get(&k).cloned()),
                            }
                        }
                        model
                    })
                })
                .collect::<Vec<_>>()
                .into_iter()
                .map(|h| h.join().unwrap())
                .collect()
        });
        let total: usize = models.iter().map(|m| m.len()).sum();
        assert_eq!(map.len().unwrap() as usize, total);
        for m in &models {
            for (k, v) in m {
                assert_eq!(map.get(&k.to_le_bytes()).unwrap().as_ref(), Some(v));
            }
        }
    }
}

/// A key of `len` bytes (1..=40, so key tails of every length mod 8 occur)
/// derived from `k`.
fn odd_key(k: u64, len: usize) -> Vec<u8> {
    (0..len).map(|i| (k.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> ((i % 8) * 8)) as u8 ^ i as u8).collect()
}

/// A value of `len` bytes whose every byte is derived from (key id,
/// version), so a torn read (bytes of two writes) or a value of another key
/// is detected, whatever its length.
fn versioned_value(k: u64, version: u64, len: usize) -> Vec<u8> {
    let tag = (k.wrapping_mul(31) ^ version.wrapping_mul(0x100_0193)) as u8;
    (0..len).map(|i| tag.wrapping_add(i as u8)).collect()
}

fn check_versioned(k: u64, v: &[u8]) {
    assert!(!v.is_empty());
    let tag = v[0];
    for (i, b) in v.iter().enumerate() {
        assert_eq!(*b, tag.wrapping_add(i as u8), "torn value for key {k}: {v:?}");
    }
}

/// Lock-free single gets (`get_into`, the direct path) and batch gets race
/// with overwrites that change value lengths (records move between size
/// classes), deletes and re-inserts, and table growth, with keys of every
/// length mod 8, and values on both sides of the lock-free copy limit (a
/// larger one is read under the lock from the slot the lock-free probe
/// found, which a write may have moved meanwhile): every read is a whole
/// value some write stored, and a too-small buffer is reported with the
/// length and left untouched. (With batches of 8 only, removing the batch
/// read's check of the sequence after the value's copy went unnoticed; with
/// batches of 70 too, both variants of this test catch it.)
#[test]
fn lock_free_reads_are_never_torn_under_churn() {
    reads_are_never_torn_under_churn(0, false);
}

/// The same with small records placed by hash (`place_records_by_hash`),
/// for fewer entries than the churn makes: records are placed in home
/// lines, freed and placed again while readers read them.
#[test]
fn lock_free_reads_are_never_torn_under_churn_with_records_placed_by_hash() {
    reads_are_never_torn_under_churn(0, true);
}

/// The same on shards whose slot arrays are too large for the caches from
/// the start (2^17 slots each), so that batch gets' prefetch stages overlap
/// real misses (each shard's sequence read once per window).
#[test]
fn lock_free_reads_are_never_torn_under_churn_on_a_large_table() {
    reads_are_never_torn_under_churn(120_000, false);
}

/// `cfg(Auto, shards)`, with small records placed by hash in home lines
/// for about 64 entries when `placed`.
fn cfg_placed(shards: usize, placed: bool) -> Config {
    let c = cfg(ExecMode::Auto, shards);
    if placed {
        Config { initial_capacity: 64, place_records_by_hash: true, ..c }
    } else {
        c
    }
}

fn reads_are_never_torn_under_churn(filler: u64, placed: bool) {
    let map = Arc::new(Map::new(cfg_placed(2, placed)).unwrap());
    const KEYS: u64 = 64;
    let key_len = |k: u64| 1 + (k % 40) as usize;
    for k in 0..KEYS {
        map.put(&odd_key(k, key_len(k)), &versioned_value(k, 0, 8)).unwrap();
    }
    for f in 0..filler {
        map.put(&(u64::MAX - f).to_le_bytes(), b"filler").unwrap();
    }
    let stop = Arc::new(AtomicBool::new(false));
    let reads = Arc::new(AtomicU64::new(0));
    std::thread::scope(|s| {
        for w in 0..2u64 {
            let (map, stop) = (map.clone(), stop.clone());
            s.spawn(move || {
                let mut rng = Rng(w + 11);
                let mut version = 1u64;
                // Growth: fresh keys beyond the churned ones, now and then.
                let mut fresh = 1_000_000 * (w + 1);
                while !stop.load(Ordering::Relaxed) {
                    let k = rng.next() % KEYS;
                    let key = odd_key(k, key_len(k));
                    version += 1;
                    match rng.next() % 8 {
                        0 => {
                            map.delete(&key).unwrap();
                        }
                        1 => {
                            fresh += 1;
                            map.put(&fresh.to_le_bytes(), b"grow").unwrap();
                        }
                        _ => {
                            let len = if rng.next() % 4 == 0 {
                                500 + (rng.next() % 700) as usize
                            } else {
                                1 + (rng.next() % 200) as usize
                            };
                            map.put(&key, &versioned_value(k, version, len)).unwrap();
                        }
                    }
                }
            });
        }
        for r in 0..3u64 {
            let (map, stop, reads) = (map.clone(), stop.clone(), reads.clone());
            s.spawn(move || {
                let mut rng = Rng(r + 101);
                let mut buf = vec![0u8; 2048];
                let mut n = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    let k = rng.next() % KEYS;
                    let key = odd_key(k, key_len(k));
                    let cap = [2048usize, 256, 100, 16][(rng.next() % 4) as usize];
                    buf.iter_mut().for_each(|b| *b = 0xEE);
                    match map.get_into(&key, &mut buf[..cap]).unwrap() {
                        None => {}
                        Some(len) if len <= cap => check_versioned(k, &buf[..len]),
                        Some(len) => {
                            assert!(len < 1200);
                            assert!(buf.iter().all(|&b| b == 0xEE), "a too-small buffer was written");
                        }
                    }
                    if n % 16 == 0 {
                        // 8 ops, or 70: two windows of the batch read.
                        let ops_n = if n % 32 == 0 { 70 } else { 8 };
                        let keys: Vec<Vec<u8>> =
                            (0..ops_n).map(|i| odd_key((k + i) % KEYS, key_len((k + i) % KEYS))).collect();
                        let mut outs = vec![[0u8; 2048]; ops_n as usize];
                        let mut ops: Vec<BatchOp<'_>> =
                            keys.iter().zip(outs.iter_mut()).map(|(key, o)| BatchOp::get(key, o)).collect();
                        map.batch(&mut ops).unwrap();
                        for (i, op) in ops.iter().enumerate() {
                            match op.status {
                                Status::Ok => check_versioned((k + i as u64) % KEYS, &op.out[..op.out_len]),
                                Status::NotFound => {}
                                s => panic!("batch get: {s:?}"),
                            }
                        }
                    }
                    n += 1;
                }
                reads.fetch_add(n, Ordering::Relaxed);
            });
        }
        std::thread::sleep(Duration::from_millis(1500));
        stop.store(true, Ordering::Relaxed);
    });
    assert!(reads.load(Ordering::Relaxed) > 1000);
}

/// Overwrites in place race lock-free single and batch gets: values of the
/// same length as the one stored (rewritten inside the record's block, in
/// a write section, rather than replaced by a new record; the writer probes
/// for the key's record without the lock first, to fetch its lines),
/// 16-byte keys with 32-byte values (the Go benchmarks' shape) and other
/// lengths, one above the lock-free copy limit (read under the lock), now
/// and then with a deadline given (a new record) and taken away again. No
/// key is ever deleted or expires, so every read finds its key, and every
/// value read is one some write stored whole: its words all name the key
/// and one version. With 2 shards, and with 70 (more than a batch read's
/// window has keys: a start per key).
#[test]
fn in_place_overwrites_never_tear_lock_free_reads() {
    for (shards, placed) in [(2, false), (70, false), (2, true)] {
        overwrites_never_tear_reads(shards, placed);
    }
}

fn overwrites_never_tear_reads(shards: usize, placed: bool) {
    let map = Arc::new(Map::new(cfg_placed(shards, placed)).unwrap());
    const KEYS: u64 = 512;
    let key = |k: u64| [k.to_le_bytes(), (!k).to_le_bytes()].concat();
    let words = |k: u64| [4usize, 4, 4, 4, 1, 3, 5, 6, 8, 16, 80][(k % 11) as usize];
    // Every word: the key's mark (spread over the high bits) xor the version.
    let mark = |k: u64| k.wrapping_mul(0x9E37_79B9_7F4A_7C15) & !((1 << 40) - 1);
    let value = |k: u64, version: u64| (mark(k) ^ version).to_le_bytes().repeat(words(k));
    let check = |k: u64, v: &[u8]| {
        assert_eq!(v.len(), 8 * words(k), "key {k}: a value of another length");
        let w0 = u64::from_le_bytes(v[..8].try_into().unwrap());
        assert!(v.chunks(8).all(|w| u64::from_le_bytes(w.try_into().unwrap()) == w0), "torn value for key {k}");
        assert!((w0 ^ mark(k)) < 1 << 40, "key {k}: another key's value");
    };
    for k in 0..KEYS {
        map.put(&key(k), &value(k, 0)).unwrap();
    }
    let stop = Arc::new(AtomicBool::new(false));
    let (reads, writes) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    std::thread::scope(|s| {
        for w in 0..2u64 {
            let (map, stop, writes) = (map.clone(), stop.clone(), writes.clone());
            s.spawn(move || {
                let mut rng = Rng(w + 7);
                let mut version = w << 32;
                while !stop.load(Ordering::Relaxed) {
                    let k = rng.next() % KEYS;
                    version += 1;
                    let v = value(k, version);
                    match rng.next() % 16 {
                        0 => map.put_with_ttl(&key(k), &v, Duration::from_secs(3600)).unwrap(),
                        1 => assert!(map.persist(&key(k)).unwrap()),
                        _ => map.put(&key(k), &v).unwrap(),
                    }
                    writes.fetch_add(1, Ordering::Relaxed);
                }
            });
        }
        for r in 0..3u64 {
            let (map, stop, reads) = (map.clone(), stop.clone(), reads.clone());
            s.spawn(move || {
                let mut rng = Rng(r + 301);
                let mut buf = vec![0u8; 1024];
                let mut n = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    let k = rng.next() % KEYS;
                    let len = map.get_into(&key(k), &mut buf).unwrap().expect("a key that is never deleted");
                    check(k, &buf[..len]);
                    if n % 8 == 0 {
                        let keys: Vec<Vec<u8>> = (0..64).map(|i| key((k + i) % KEYS)).collect();
                        let mut outs = vec![[0u8; 1024]; 64];
                        let mut ops: Vec<BatchOp<'_>> =
                            keys.iter().zip(outs.iter_mut()).map(|(key, o)| BatchOp::get(key, o)).collect();
                        map.batch(&mut ops).unwrap();
                        for (i, op) in ops.iter().enumerate() {
                            assert_eq!(op.status, Status::Ok, "batch get of a key that is never deleted");
                            check((k + i as u64) % KEYS, &op.out[..op.out_len]);
                        }
                        // The same keys through `get_many_into`, with rooms of 48
                        // bytes: longer values report the length they need.
                        let mut out = vec![0u8; 48 * 64];
                        let mut seen = vec![None; 64];
                        map.get_many_into(keys.iter().map(Vec::as_slice), &mut out, 48, |i, st, len| {
                            seen[i] = Some((st, len))
                        })
                        .unwrap();
                        for (i, got) in seen.into_iter().enumerate() {
                            let kk = (k + i as u64) % KEYS;
                            match got.expect("every key reported") {
                                (Status::Ok, len) => check(kk, &out[48 * i..48 * i + len]),
                                (Status::BufferTooSmall, len) => {
                                    assert_eq!(len, 8 * words(kk), "key {kk}: length needed")
                                }
                                other => panic!("get_many_into of a key that is never deleted: {other:?}"),
                            }
                        }
                    }
                    n += 1;
                }
                reads.fetch_add(n, Ordering::Relaxed);
            });
        }
        std::thread::sleep(Duration::from_millis(1500));
        stop.store(true, Ordering::Relaxed);
    });
    assert!(reads.load(Ordering::Relaxed) > 1000 && writes.load(Ordering::Relaxed) > 1000);
    assert_eq!(map.len().unwrap(), KEYS);
}

/// Lock-free reads while one shard's index doubles again and again: a
/// writer inserts fresh keys (every one stays) and batches of them, from a
/// 64-slot index up to 2^18 slots, and overwrites a few stable keys; the
/// index is rebuilt outside the write section, so readers keep reading the
/// old array meanwhile. Every key published so far must be found, single
/// and batched, with the value it was stored with (a read of an array freed
/// or changed under it would miss it, return another key's value, or fault).
#[test]
fn reads_find_every_key_while_the_index_doubles() {
    for mode in modes() {
        let map = Arc::new(Map::new(cfg(mode, 1)).unwrap());
        const STABLE: u64 = 16;
        const FRESH: u64 = 200_000;
        let fresh_key = |k: u64| (k + 1).wrapping_mul(0x9e37_79b9_7f4a_7c15).to_le_bytes();
        let fresh_value = |k: u64| (k ^ 0x5a5a).to_le_bytes();
        for k in 0..STABLE {
            map.put(&odd_key(k, 24), &versioned_value(k, 0, 32)).unwrap();
        }
        let published = Arc::new(AtomicU64::new(0));
        let done = Arc::new(AtomicBool::new(false));
        std::thread::scope(|s| {
            {
                let (map, published, done) = (map.clone(), published.clone(), done.clone());
                s.spawn(move || {
                    let mut k = 0u64;
                    let mut version = 1u64;
                    while k < FRESH {
                        if k % 3 == 0 {
                            // A batch of 40 puts, which grows ahead for all of them.
                            let keys: Vec<[u8; 8]> = (k..k + 40).map(fresh_key).collect();
                            let values: Vec<[u8; 8]> = (k..k + 40).map(fresh_value).collect();
                            let mut ops: Vec<BatchOp<'_>> =
                                keys.iter().zip(&values).map(|(key, v)| BatchOp::put(key, v)).collect();
                            map.batch(&mut ops).unwrap();
                            assert!(ops.iter().all(|op| op.status == Status::Ok));
                            k += 40;
                        } else {
                            map.put(&fresh_key(k), &fresh_value(k)).unwrap();
                            k += 1;
                        }
                        published.store(k, Ordering::Release);
                        if k % 64 == 0 {
                            version += 1;
                            let s = k % STABLE;
                            map.put(&odd_key(s, 24), &versioned_value(s, version, 32)).unwrap();
                        }
                    }
                    done.store(true, Ordering::Release);
                });
            }
            for r in 0..2u64 {
                let (map, published, done) = (map.clone(), published.clone(), done.clone());
                s.spawn(move || {
                    let mut rng = Rng(r + 7);
                    let mut buf = [0u8; 64];
                    while !done.load(Ordering::Acquire) {
                        let upto = published.load(Ordering::Acquire);
                        if upto == 0 {
                            continue;
                        }
                        let k = rng.next() % upto;
                        let got = map.get_into(&fresh_key(k), &mut buf).unwrap();
                        assert_eq!(got, Some(8), "fresh key {k} of {upto} not found");
                        assert_eq!(buf[..8], fresh_value(k), "fresh key {k}");
                        let s = rng.next() % STABLE;
                        let len = map.get_into(&odd_key(s, 24), &mut buf).unwrap().expect("stable key");
                        check_versioned(s, &buf[..len]);
                        if rng.next() % 8 == 0 {
                            let ks: Vec<u64> = (0..24).map(|_| rng.next() % upto).collect();
                            let keys: Vec<[u8; 8]> = ks.iter().map(|&k| fresh_key(k)).collect();
                            let mut outs = vec![[0u8; 8]; keys.len()];
                            let mut ops: Vec<BatchOp<'_>> =
                                keys.iter().zip(outs.iter_mut()).map(|(key, o)| BatchOp::get(key, o)).collect();
                            map.batch(&mut ops).unwrap();
                            for (op, &k) in ops.iter().zip(&ks) {
                                assert_eq!(op.status, Status::Ok, "batched fresh key {k}");
                                assert_eq!(op.out[..8], fresh_value(k));
                            }
                            let mut out = vec![0u8; 8 * keys.len()];
                            let mut seen = vec![None; keys.len()];
                            map.get_many_into(keys.iter().map(|k| &k[..]), &mut out, 8, |i, st, len| {
                                seen[i] = Some((st, len))
                            })
                            .unwrap();
                            for (i, &k) in ks.iter().enumerate() {
                                assert_eq!(seen[i], Some((Status::Ok, 8)), "get_many_into: fresh key {k}");
                                assert_eq!(out[8 * i..8 * i + 8], fresh_value(k));
                            }
                        }
                    }
                });
            }
        });
        assert_eq!(map.len().unwrap(), STABLE + published.load(Ordering::Acquire));
    }
}
