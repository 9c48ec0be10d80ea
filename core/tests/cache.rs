//! Cache mode: expiry against a model on a manual clock (single calls and
//! batches, both execution modes), eviction bounds, scan resistance, and a
//! stress where eviction and expiry race every kind of operation.

use numashard::{BatchOp, CasOutcome, Clock, Config, Eviction, ExecMode, Map, Status, NO_EXPIRY};
use proptest::prelude::*;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

const MS: u64 = 1_000_000;

#[derive(Clone, Debug)]
enum Op {
    Get(u8),
    Put(u8, Vec<u8>, u64),
    PutIfAbsent(u8, Vec<u8>, u64),
    Swap(u8, Vec<u8>, u64),
    Cas(u8, Vec<u8>, Vec<u8>),
    Add(u8, i64),
    Delete(u8),
    Expire(u8, u64),
    Persist(u8),
    Ttl(u8),
    Advance(u64),
    Len,
    Iter,
    Batch(Vec<Op>),
}

fn key(k: u8) -> Vec<u8> {
    if k % 3 == 0 {
        vec![k; 20]
    } else {
        vec![k]
    }
}

fn value() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        Just(vec![]),
        proptest::collection::vec(any::<u8>(), 1..24),
        proptest::collection::vec(any::<u8>(), 8..=8)
    ]
}

/// TTLs: none (0), a few milliseconds, or a long one.
fn ttl() -> impl Strategy<Value = u64> {
    prop_oneof![Just(0u64), (1u64..6).prop_map(|t| t * MS), Just(3_600_000 * MS)]
}

fn single() -> impl Strategy<Value = Op> {
    let k = 0u8..12;
    prop_oneof![
        3 => k.clone().prop_map(Op::Get),
        3 => (k.clone(), value(), ttl()).prop_map(|(k, v, t)| Op::Put(k, v, t)),
        1 => (k.clone(), value(), ttl()).prop_map(|(k, v, t)| Op::PutIfAbsent(k, v, t)),
        1 => (k.clone(), value(), ttl()).prop_map(|(k, v, t)| Op::Swap(k, v, t)),
        1 => (k.clone(), value(), value()).prop_map(|(k, e, v)| Op::Cas(k, e, v)),
        1 => (k.clone(), -3i64..3).prop_map(|(k, d)| Op::Add(k, d)),
        1 => k.clone().prop_map(Op::Delete),
        1 => (k.clone(), prop_oneof![Just(0u64), (1u64..6).prop_map(|t| t * MS)]).prop_map(|(k, t)| Op::Expire(k, t)),
        1 => k.clone().prop_map(Op::Persist),
        1 => k.clone().prop_map(Op::Ttl),
        2 => (0u64..4).prop_map(|t| Op::Advance(t * MS)),
        1 => Just(Op::Len),
        1 => Just(Op::Iter),
    ]
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        8 => single(),
        1 => proptest::collection::vec(
            single().prop_filter("single calls only", |o| !matches!(o, Op::Len | Op::Iter | Op::Advance(_))),
            0..30
        )
        .prop_map(Op::Batch),
    ]
}

/// The model: value and deadline (0 = none) per key, and the time.
struct Model {
    m: HashMap<Vec<u8>, (Vec<u8>, u64)>,
    now: u64,
}

/// What an op returned: status, bytes, counter.
type Out = (Status, Option<Vec<u8>>, i64);

impl Model {
    fn live(&self, k: &[u8]) -> Option<&(Vec<u8>, u64)> {
        self.m.get(k).filter(|(_, d)| *d == 0 || *d > self.now)
    }

    fn deadline(&self, ttl: u64) -> u64 {
        if ttl == 0 {
            0
        } else {
            self.now + ttl
        }
    }

    fn apply(&mut self, op: &Op) -> Out {
        match op {
            Op::Get(k) => match self.live(&key(*k)) {
                Some((v, _)) => (Status::Ok, Some(v.clone()), 0),
                None => (Status::NotFound, None, 0),
            },
            Op::Put(k, v, t) => {
                let d = self.deadline(*t);
                self.m.insert(key(*k), (v.clone(), d));
                (Status::Ok, None, 0)
            }
            Op::PutIfAbsent(k, v, t) => match self.live(&key(*k)) {
                Some((old, _)) => (Status::Exists, Some(old.clone()), 0),
                None => {
                    let d = self.deadline(*t);
                    self.m.insert(key(*k), (v.clone(), d));
                    (Status::Ok, None, 0)
                }
            },
            Op::Swap(k, v, t) => {
                let old = self.live(&key(*k)).map(|(o, _)| o.clone());
                let d = self.deadline(*t);
                self.m.insert(key(*k), (v.clone(), d));
                match old {
                    Some(o) => (Status::Ok, Some(o), 0),
                    None => (Status::NotFound, None, 0),
                }
            }
            Op::Cas(k, e, v) => match self.live(&key(*k)).cloned() {
                None => (Status::NotFound, None, 0),
                Some((cur, d)) if cur == *e => {
                    self.m.insert(key(*k), (v.clone(), d));
                    (Status::Ok, None, 0)
                }
                Some(_) => (Status::Mismatch, None, 0),
            },
            Op::Add(k, delta) => match self.live(&key(*k)).cloned() {
                None => {
                    self.m.insert(key(*k), (delta.to_le_bytes().to_vec(), 0));
                    (Status::Ok, None, *delta)
                }
                Some((cur, d)) if cur.len() == 8 => {
                    let n = i64::from_le_bytes(cur.try_into().unwrap()).wrapping_add(*delta);
                    self.m.insert(key(*k), (n.to_le_bytes().to_vec(), d));
                    (Status::Ok, None, n)
                }
                Some(_) => (Status::NotACounter, None, 0),
            },
            Op::Delete(k) => match self.live(&key(*k)) {
                Some(_) => {
                    self.m.remove(&key(*k));
                    (Status::Ok, None, 0)
                }
                None => (Status::NotFound, None, 0),
            },
            Op::Expire(k, t) => match self.live(&key(*k)).cloned() {
                None => (Status::NotFound, None, 0),
                Some((v, _)) => {
                    if *t == 0 {
                        self.m.remove(&key(*k));
                    } else {
                        self.m.insert(key(*k), (v, self.now + t));
                    }
                    (Status::Ok, None, 0)
                }
            },
            Op::Persist(k) => match self.live(&key(*k)).cloned() {
                None => (Status::NotFound, None, 0),
                Some((v, _)) => {
                    self.m.insert(key(*k), (v, 0));
                    (Status::Ok, None, 0)
                }
            },
            Op::Ttl(k) => match self.live(&key(*k)) {
                None => (Status::NotFound, None, 0),
                Some((_, 0)) => (Status::Ok, None, -1),
                Some((_, d)) => (Status::Ok, None, (d - self.now) as i64),
            },
            Op::Advance(_) | Op::Len | Op::Iter | Op::Batch(_) => unreachable!(),
        }
    }
}

/// The same op through a map's single calls.
fn map_apply(map: &Map, op: &Op) -> Out {
    let d = |t: u64| Duration::from_nanos(t);
    let st = |r: numashard::Result<()>| match r {
        Ok(()) => Status::Ok,
        Err(e) => e.status(),
    };
    match op {
        Op::Get(k) => match map.get(&key(*k)).unwrap() {
            Some(v) => (Status::Ok, Some(v), 0),
            None => (Status::NotFound, None, 0),
        },
        Op::Put(k, v, t) => {
            (st(if *t == 0 { map.put(&key(*k), v) } else { map.put_with_ttl(&key(*k), v, d(*t)) }), None, 0)
        }
        Op::PutIfAbsent(k, v, t) => match map.get_or_put_with_ttl(&key(*k), v, d(*t)).unwrap() {
            None => (Status::Ok, None, 0),
            Some(old) => (Status::Exists, Some(old), 0),
        },
        Op::Swap(k, v, t) => match map.swap_with_ttl(&key(*k), v, d(*t)).unwrap() {
            Some(o) => (Status::Ok, Some(o), 0),
            None => (Status::NotFound, None, 0),
        },
        Op::Cas(k, e, v) => match map.compare_and_swap(&key(*k), e, v).unwrap() {
            CasOutcome::Swapped => (Status::Ok, None, 0),
            CasOutcome::Mismatch => (Status::Mismatch, None, 0),
            CasOutcome::NotFound => (Status::NotFound, None, 0),
        },
        Op::Add(k, delta) => match map.add(&key(*k), *delta) {
            Ok(n) => (Status::Ok, None, n),
            Err(e) => (e.status(), None, 0),
        },
        Op::Delete(k) => (if map.delete(&key(*k)).unwrap() { Status::Ok } else { Status::NotFound }, None, 0),
        Op::Expire(k, t) => (if map.expire(&key(*k), d(*t)).unwrap() { Status::Ok } else { Status::NotFound }, None, 0),
        Op::Persist(k) => (if map.persist(&key(*k)).unwrap() { Status::Ok } else { Status::NotFound }, None, 0),
        Op::Ttl(k) => match map.ttl(&key(*k)).unwrap() {
            None => (Status::NotFound, None, 0),
            Some(None) => (Status::Ok, None, -1),
            Some(Some(t)) => (Status::Ok, None, t.as_nanos() as i64),
        },
        _ => unreachable!(),
    }
}

/// Runs ops as one batch; returns each op's outcome.
fn batch_apply(map: &Map, ops: &[Op]) -> Vec<Out> {
    let keys: Vec<Vec<u8>> = ops
        .iter()
        .map(|o| match o {
            Op::Get(k)
            | Op::Put(k, ..)
            | Op::PutIfAbsent(k, ..)
            | Op::Swap(k, ..)
            | Op::Cas(k, ..)
            | Op::Add(k, _)
            | Op::Delete(k)
            | Op::Expire(k, _)
            | Op::Persist(k)
            | Op::Ttl(k) => key(*k),
            _ => unreachable!(),
        })
        .collect();
    let mut bufs: Vec<Vec<u8>> = vec![vec![0u8; 64]; ops.len()];
    let mut bops: Vec<BatchOp<'_>> = ops
        .iter()
        .zip(keys.iter())
        .zip(bufs.iter_mut())
        .map(|((o, k), buf)| {
            let t = |t: u64| Duration::from_nanos(t);
            match o {
                Op::Get(_) => BatchOp::get(k, buf),
                Op::Put(_, v, ttl) => BatchOp::put(k, v).with_ttl(t(*ttl)),
                Op::PutIfAbsent(_, v, ttl) => {
                    let mut op = BatchOp::put_if_absent(k, v).with_ttl(t(*ttl));
                    op.out = buf;
                    op
                }
                Op::Swap(_, v, ttl) => BatchOp::swap(k, v, buf).with_ttl(t(*ttl)),
                Op::Cas(_, e, v) => BatchOp::cas(k, e, v),
                Op::Add(_, d) => BatchOp::add(k, *d),
                Op::Delete(_) => BatchOp::delete(k),
                Op::Expire(_, ttl) => BatchOp::expire(k, t(*ttl)),
                Op::Persist(_) => BatchOp::persist(k),
                Op::Ttl(_) => BatchOp::ttl(k),
                _ => unreachable!(),
            }
        })
        .collect();
    map.batch(&mut bops).unwrap();
    bops.iter()
        .map(|b| {
            use numashard::OpKind as K;
            let carries = match b.kind {
                K::Get | K::Swap => b.status == Status::Ok,
                K::PutIfAbsent => b.status == Status::Exists,
                _ => false,
            };
            let bytes = carries.then(|| b.out[..b.out_len].to_vec());
            let counter = match b.kind {
                numashard::OpKind::Add | numashard::OpKind::Ttl => b.out_counter,
                _ => 0,
            };
            (b.status, bytes, counter)
        })
        .collect()
}

/// Compares a batch outcome with the model's, where batches report less
/// (no bytes for statuses that carry none).
fn same(op: &Op, got: &Out, want: &Out) -> bool {
    if got.0 != want.0 || got.2 != want.2 {
        return false;
    }
    match op {
        Op::Get(_) | Op::Swap(..) if want.0 == Status::Ok => got.1 == want.1,
        Op::PutIfAbsent(..) if want.0 == Status::Exists => got.1 == want.1,
        _ => true,
    }
}

fn run_model(ops: &[Op], mode: ExecMode) {
    let clock = Clock::manual();
    let map = Map::new(Config {
        shards: 3,
        topology: Some("pack:1 core:3 pu:1".into()),
        exec_mode: mode,
        clock: Some(clock.clone()),
        ..Config::default()
    })
    .unwrap();
    let mut model = Model { m: HashMap::new(), now: clock.now_ns() };
    for (n, op) in ops.iter().enumerate() {
        match op {
            Op::Advance(t) => {
                clock.advance(Duration::from_nanos(*t));
                model.now += t;
            }
            Op::Len => {
                let want = model.m.keys().filter(|k| model.live(k).is_some()).count() as u64;
                assert_eq!(map.len().unwrap(), want, "op {n}: len");
            }
            Op::Iter => {
                let mut got: Vec<(Vec<u8>, Vec<u8>)> = map.iter().unwrap().map(|r| r.unwrap()).collect();
                got.sort();
                let mut want: Vec<(Vec<u8>, Vec<u8>)> = model
                    .m
                    .iter()
                    .filter(|(k, _)| model.live(k).is_some())
                    .map(|(k, (v, _))| (k.clone(), v.clone()))
                    .collect();
                want.sort();
                assert_eq!(got, want, "op {n}: iteration");
            }
            Op::Batch(bops) => {
                let got = batch_apply(&map, bops);
                for (i, (b, g)) in bops.iter().zip(got.iter()).enumerate() {
                    let want = model.apply(b);
                    assert!(same(b, g, &want), "op {n}.{i} {b:?}: got {g:?}, want {want:?}");
                }
            }
            single => {
                let want = model.apply(single);
                let got = map_apply(&map, single);
                assert_eq!(got, want, "op {n} {single:?}");
            }
        }
    }
    // After the last deadline passed, nothing is left but entries without one.
    clock.advance(Duration::from_secs(7200));
    model.now += 7200 * 1_000_000_000;
    let want = model.m.values().filter(|(_, d)| *d == 0).count() as u64;
    assert_eq!(map.len().unwrap(), want);
    let st = map.stats().unwrap();
    assert_eq!(st.entries, want, "expired entries were all reclaimed by len");
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]
    #[test]
    fn expiry_matches_the_model_auto(ops in proptest::collection::vec(op(), 1..120)) {
        run_model(&ops, ExecMode::Auto);
    }

    #[test]
    fn expiry_matches_the_model_delegate(ops in proptest::collection::vec(op(), 1..60)) {
        run_model(&ops, ExecMode::Delegate);
    }
}

fn cache(limit: u64, shards: usize) -> Map {
    Map::new(Config {
        shards,
        topology: Some(format!("pack:1 core:{shards} pu:1")),
        memory_limit: limit,
        eviction: Eviction::S3Fifo,
        ..Config::default()
    })
    .unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 32, ..ProptestConfig::default() })]
    /// With eviction on, no put answers Full (every entry fits a shard's
    /// share), memory stays within the limit after every op, and a read
    /// returns the last value written or nothing.
    #[test]
    fn eviction_keeps_within_the_limit_and_never_answers_full(
        ops in proptest::collection::vec((0u16..2000, 0usize..300, any::<bool>()), 1..1500),
    ) {
        let limit = 64 * 1024;
        let map = cache(limit, 2);
        let mut last: HashMap<u16, Vec<u8>> = HashMap::new();
        for (k, vlen, read) in ops {
            let key = k.to_le_bytes();
            if read {
                if let Some(v) = map.get(&key).unwrap() {
                    prop_assert_eq!(Some(&v), last.get(&k));
                }
            } else {
                let v = vec![(k as u8) ^ (vlen as u8); vlen];
                map.put(&key, &v).unwrap();
                last.insert(k, v);
            }
            let st = map.stats().unwrap();
            prop_assert!(st.bytes <= limit, "{} > {}", st.bytes, limit);
            prop_assert!(st.per_shard.iter().all(|s| s.bytes <= limit / 2));
            prop_assert_eq!(map.len().unwrap(), st.entries);
        }
        for k in last.keys() {
            map.delete(&k.to_le_bytes()).unwrap();
        }
        prop_assert_eq!(map.stats().unwrap().bytes, 0, "charges left after deleting everything");
    }
}

#[test]
fn an_entry_larger_than_a_shard_budget_is_refused_and_changes_nothing() {
    let map = cache(8 * 1024, 2);
    map.put(b"small", b"v").unwrap();
    let err = map.put(b"big", &vec![0u8; 5000]).unwrap_err();
    assert_eq!(err.status(), Status::Full);
    assert_eq!(map.get(b"small").unwrap().as_deref(), Some(&b"v"[..]));
    assert_eq!(map.get(b"big").unwrap(), None);
    assert!(Map::new(Config { eviction: Eviction::S3Fifo, ..Config::default() }).is_err(), "eviction needs a limit");
}

#[test]
fn a_hot_set_survives_a_scan() {
    // 200 hot keys read again and again; then a one-pass scan of 20,000
    // cold keys, each written once and never read. S3-FIFO moves the hot
    // keys to its main queue; the scan passes through the small queue.
    let map = cache(256 * 1024, 1);
    let hot: Vec<Vec<u8>> = (0..200u32).map(|i| format!("hot-{i:05}").into_bytes()).collect();
    for round in 0..4 {
        for k in &hot {
            if map.get(k).unwrap().is_none() {
                map.put(k, &[round as u8; 32]).unwrap();
            }
        }
    }
    for i in 0..20_000u32 {
        map.put(format!("cold-{i:06}").as_bytes(), &[1u8; 32]).unwrap();
        if i % 10 == 0 {
            // the hot set keeps being read during the scan, as a service would
            for k in hot.iter().skip((i as usize / 10) % 20).step_by(20) {
                map.get(k).unwrap();
            }
        }
    }
    let kept = hot.iter().filter(|k| map.get(k).unwrap().is_some()).count();
    let st = map.stats().unwrap();
    assert!(st.evictions > 15_000, "the scan was evicted: {}", st.evictions);
    assert!(kept >= 190, "only {kept} of 200 hot keys survived the scan");
    assert!(st.hits > 0 && st.misses > 0);
}

#[test]
fn stats_count_hits_misses_evictions_and_expirations_exactly() {
    let clock = Clock::manual();
    let map = Map::new(Config {
        shards: 2,
        topology: Some("pack:1 core:2 pu:1".into()),
        memory_limit: 1 << 20,
        eviction: Eviction::S3Fifo,
        clock: Some(clock.clone()),
        ..Config::default()
    })
    .unwrap();
    for i in 0..100u32 {
        map.put_with_ttl(&i.to_le_bytes(), b"v", Duration::from_millis(10)).unwrap();
    }
    for i in 0..150u32 {
        map.get(&i.to_le_bytes()).unwrap();
    }
    let mut buf = [0u8; 8];
    let mut ops: Vec<BatchOp<'_>> = Vec::new();
    let keys: Vec<[u8; 4]> = (0..10u32).map(|i| i.to_le_bytes()).collect();
    for k in &keys {
        ops.push(BatchOp::get(k, &mut []));
    }
    map.batch(&mut ops).unwrap();
    drop(ops);
    let _ = map.get_into(b"absent", &mut buf).unwrap();
    let st = map.stats().unwrap();
    // The batch's gets had no room: they returned only lengths, which is
    // not a hit (a caller's retry with room is); the absent key is a miss.
    assert_eq!((st.hits, st.misses), (100, 51));
    let mut ops: Vec<BatchOp<'_>> = Vec::new();
    let mut outs = [[0u8; 1]; 10];
    for (k, out) in keys.iter().zip(outs.iter_mut()) {
        ops.push(BatchOp::get(k, out));
    }
    map.batch(&mut ops).unwrap();
    assert!(ops.iter().all(|op| op.status == Status::Ok));
    drop(ops);
    assert_eq!(map.get_into(&3u32.to_le_bytes(), &mut []).unwrap(), Some(1), "a length query");
    assert_eq!(map.get_into(&3u32.to_le_bytes(), &mut buf).unwrap(), Some(1), "its retry");
    let st = map.stats().unwrap();
    assert_eq!((st.hits, st.misses), (111, 51));
    clock.advance(Duration::from_millis(10));
    assert_eq!(map.get(&1u32.to_le_bytes()).unwrap(), None, "expired at its deadline");
    assert_eq!(map.len().unwrap(), 0);
    let st = map.stats().unwrap();
    assert_eq!(st.expirations, 100);
    assert_eq!(st.evictions, 0);
    assert_eq!(st.misses, 52);
    let text = st.to_prometheus();
    assert!(text.contains("numashard_shard_expirations_total{shard=\"0\""));
}

#[test]
fn default_ttl_applies_to_writes_without_one_and_no_expiry_overrides_it() {
    let clock = Clock::manual();
    let map = Map::new(Config {
        shards: 1,
        topology: Some("pack:1 core:1 pu:1".into()),
        default_ttl: Some(Duration::from_secs(5)),
        clock: Some(clock.clone()),
        ..Config::default()
    })
    .unwrap();
    map.put(b"a", b"1").unwrap();
    let mut op = BatchOp::put(b"b", b"2");
    op.ttl_ns = NO_EXPIRY;
    map.batch(std::slice::from_mut(&mut op)).unwrap();
    map.replace_all(&[(b"c".to_vec(), b"3".to_vec())]).unwrap_or(());
    assert_eq!(map.ttl(b"c").unwrap(), Some(Some(Duration::from_secs(5))));
    map.put(b"a", b"1").unwrap();
    map.put(b"b", b"2").unwrap();
    map.put_with_ttl(b"b", b"2", Duration::from_nanos(NO_EXPIRY)).unwrap_or(());
    assert_eq!(map.ttl(b"a").unwrap(), Some(Some(Duration::from_secs(5))));
    clock.advance(Duration::from_secs(5));
    assert_eq!(map.get(b"a").unwrap(), None);
    assert_eq!(map.get(b"c").unwrap(), None);
    assert_eq!(map.len().unwrap(), 1, "only the entry stored with NO_EXPIRY is left");
}

/// Eviction and expiry (real clock, TTLs of a few ms) race gets, puts,
/// batches, iteration and replace_all from four threads. Invariants: no
/// value is ever torn (each carries its key and a checksum); memory stays
/// within the limit; read counters are exact.
#[test]
fn eviction_and_expiry_race_every_operation() {
    let limit = 256 * 1024;
    let map = Arc::new(cache(limit, 2));
    let stop = Arc::new(AtomicBool::new(false));
    let reads = Arc::new(AtomicU64::new(0));
    let value = |k: u32, salt: u32| -> Vec<u8> {
        let len = 8 + (k as usize * 7 + salt as usize) % 120;
        let mut v: Vec<u8> = (0..len).map(|i| (k as usize * 31 + salt as usize + i) as u8).collect();
        v[..4].copy_from_slice(&k.to_le_bytes());
        let sum = v[4..].iter().fold(0u8, |a, b| a.wrapping_add(*b));
        v[4] = v[4].wrapping_sub(sum); // make the bytes after the key sum to 0
        v
    };
    let check = |k: u32, v: &[u8]| {
        assert!(v.len() >= 8, "torn length");
        assert_eq!(&v[..4], &k.to_le_bytes(), "a value of another key");
        assert_eq!(v[4..].iter().fold(0u8, |a, b| a.wrapping_add(*b)), 0, "torn value");
    };
    let mut handles = Vec::new();
    for t in 0..4u32 {
        let (map, stop, reads) = (map.clone(), stop.clone(), reads.clone());
        handles.push(std::thread::spawn(move || {
            let mut x = 0x9e37_79b9u32.wrapping_mul(t + 1);
            let mut n = 0u32;
            while !stop.load(Ordering::Relaxed) {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                let k = x % 5000;
                n += 1;
                match (t, n % 16) {
                    (_, 0..=6) => {
                        if let Some(v) = map.get(&k.to_le_bytes()).unwrap() {
                            check(k, &v);
                        }
                        reads.fetch_add(1, Ordering::Relaxed);
                    }
                    (_, 7..=10) => map.put(&k.to_le_bytes(), &value(k, n)).unwrap(),
                    (_, 11) => map
                        .put_with_ttl(&k.to_le_bytes(), &value(k, n), Duration::from_millis(1 + (n % 5) as u64))
                        .unwrap(),
                    (_, 12) => {
                        let keys: Vec<[u8; 4]> = (0..32).map(|i| ((k + i * 97) % 5000).to_le_bytes()).collect();
                        let mut bufs = vec![[0u8; 160]; 32];
                        let mut ops: Vec<BatchOp<'_>> =
                            keys.iter().zip(bufs.iter_mut()).map(|(k, b)| BatchOp::get(k, b)).collect();
                        map.batch(&mut ops).unwrap();
                        for (o, kb) in ops.iter().zip(keys.iter()) {
                            if o.status == Status::Ok {
                                check(u32::from_le_bytes(*kb), &o.out[..o.out_len]);
                            } else {
                                assert_eq!(o.status, Status::NotFound);
                            }
                        }
                        reads.fetch_add(32, Ordering::Relaxed);
                    }
                    (0, 13) if n % 512 == 13 => {
                        let mut seen = 0;
                        for e in map.iter().unwrap() {
                            let (k, v) = e.unwrap();
                            check(u32::from_le_bytes(k[..4].try_into().unwrap()), &v);
                            seen += 1;
                        }
                        assert!(seen <= 5000);
                    }
                    (1, 13) if n % 2048 == 13 => {
                        let fresh: Vec<([u8; 4], Vec<u8>)> =
                            (0..300u32).map(|k| (k.to_le_bytes(), value(k, n))).collect();
                        map.replace_all(&fresh).unwrap();
                    }
                    (_, 14) => {
                        let _ = map.expire(&k.to_le_bytes(), Duration::from_millis(2)).unwrap();
                    }
                    _ => {
                        let _ = map.delete(&k.to_le_bytes()).unwrap();
                    }
                }
            }
        }));
    }
    let t0 = std::time::Instant::now();
    while t0.elapsed() < Duration::from_secs(3) {
        let st = map.stats().unwrap();
        assert!(st.bytes <= limit, "{} > {limit}", st.bytes);
        std::thread::sleep(Duration::from_millis(20));
    }
    stop.store(true, Ordering::Relaxed);
    for h in handles {
        h.join().unwrap();
    }
    let st = map.stats().unwrap();
    assert_eq!(st.hits + st.misses, reads.load(Ordering::Relaxed), "every read counted once");
    assert!(st.evictions > 0 && st.expirations > 0, "{st:?}");
    assert!(st.bytes <= limit);
    // Everything left is readable and whole.
    for e in map.iter().unwrap() {
        let (k, v) = e.unwrap();
        check(u32::from_le_bytes(k[..4].try_into().unwrap()), &v);
    }
    // Accounting never drifts: deleting every key leaves nothing charged.
    for k in 0..5000u32 {
        map.delete(&k.to_le_bytes()).unwrap();
    }
    let st = map.stats().unwrap();
    assert_eq!((st.entries, st.bytes), (0, 0), "charges left after deleting everything");
}

/// An idle map reclaims expired entries by itself: its owners wake for the
/// first deadline (they were parked with no timeout) and expire in the
/// background, without any call on the map.
#[test]
fn an_idle_map_reclaims_expired_entries_in_the_background() {
    let map = Map::new(Config { shards: 2, topology: Some("pack:1 core:2 pu:1".into()), ..Config::default() }).unwrap();
    std::thread::sleep(Duration::from_millis(50)); // owners park
    for i in 0..100u32 {
        map.put_with_ttl(&i.to_le_bytes(), b"v", Duration::from_millis(20)).unwrap();
    }
    let t0 = std::time::Instant::now();
    loop {
        let st = map.stats().unwrap(); // stats reclaims nothing itself
        if st.expirations == 100 {
            assert_eq!(st.entries, 0);
            break;
        }
        assert!(t0.elapsed() < Duration::from_secs(10), "not reclaimed in the background: {st:?}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Churn under long TTLs (every entry evicted long before its deadline)
/// leaves no pile of expiry registrations: memory stays bounded by the
/// cache's size, not by the number of writes within a TTL.
#[test]
fn churn_under_long_ttls_keeps_the_expiry_wheel_bounded() {
    let map = cache(64 * 1024, 1);
    let mapped_after = |map: &Map| map.stats().unwrap().mapped_bytes;
    for i in 0..20_000u32 {
        map.put_with_ttl(&i.to_le_bytes(), &[7u8; 32], Duration::from_secs(3600)).unwrap();
    }
    let first = mapped_after(&map);
    let rss = |_: ()| -> u64 {
        let s = std::fs::read_to_string("/proc/self/statm").unwrap();
        s.split_whitespace().nth(1).unwrap().parse::<u64>().unwrap() * 4096
    };
    let before = rss(());
    for i in 20_000..2_020_000u32 {
        map.put_with_ttl(&i.to_le_bytes(), &[7u8; 32], Duration::from_secs(3600)).unwrap();
    }
    let st = map.stats().unwrap();
    assert!(st.evictions > 1_900_000, "{st:?}");
    assert!(st.bytes <= 64 * 1024);
    assert_eq!(mapped_after(&map), first, "the shard's own memory did not grow");
    // 2M stale registrations would be 8 MB at least; the wheel keeps about
    // as many names as entries (some hundreds here).
    let grown = rss(()).saturating_sub(before);
    assert!(grown < 4 << 20, "process grew by {grown} bytes under churn");
}
