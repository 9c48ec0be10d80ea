//! Every operation's semantics against a plain model map, with random
//! operation sequences (single calls and batches), in both execution modes.

use numashard::{BatchOp, CasOutcome, Config, ExecMode, Map, OpKind, Status};
use proptest::prelude::*;
use std::collections::HashMap;

#[derive(Clone, Debug)]
enum Op {
    Get(u8, usize),
    Put(u8, Vec<u8>),
    PutIfAbsent(u8, Vec<u8>),
    Delete(u8),
    Take(u8, usize),
    Cas(u8, Vec<u8>, Vec<u8>),
    Add(u8, i64),
    Cad(u8, Vec<u8>),
    Swap(u8, Vec<u8>, usize),
    Len,
    Clear,
    Batch(Vec<Op>),
}

fn key(k: u8) -> Vec<u8> {
    // a few lengths, including the empty key
    match k % 4 {
        0 => vec![],
        1 => vec![k],
        2 => vec![k; 16],
        _ => vec![k; 300],
    }
}

fn value() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        Just(vec![]),
        proptest::collection::vec(any::<u8>(), 1..40),
        proptest::collection::vec(any::<u8>(), 8..=8),
        proptest::collection::vec(any::<u8>(), 500..3000),
    ]
}

fn single() -> impl Strategy<Value = Op> {
    let k = 0u8..24;
    prop_oneof![
        (k.clone(), 0usize..64).prop_map(|(k, c)| Op::Get(k, c)),
        (k.clone(), value()).prop_map(|(k, v)| Op::Put(k, v)),
        (k.clone(), value()).prop_map(|(k, v)| Op::PutIfAbsent(k, v)),
        k.clone().prop_map(Op::Delete),
        (k.clone(), 0usize..64).prop_map(|(k, c)| Op::Take(k, c)),
        (k.clone(), value(), value()).prop_map(|(k, e, v)| Op::Cas(k, e, v)),
        (k.clone(), any::<i64>()).prop_map(|(k, d)| Op::Add(k, d)),
        (k.clone(), value()).prop_map(|(k, e)| Op::Cad(k, e)),
        (k.clone(), value(), 0usize..64).prop_map(|(k, v, c)| Op::Swap(k, v, c)),
        Just(Op::Len),
    ]
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        10 => single(),
        1 => Just(Op::Clear),
        2 => proptest::collection::vec(single().prop_filter("no len in batch", |o| !matches!(o, Op::Len)), 0..80).prop_map(Op::Batch),
    ]
}

/// Applies an op to the model; returns (status, out bytes, counter).
fn model_apply(m: &mut HashMap<Vec<u8>, Vec<u8>>, op: &Op) -> (Status, Option<Vec<u8>>, i64) {
    match op {
        Op::Get(k, cap) => match m.get(&key(*k)) {
            None => (Status::NotFound, None, 0),
            Some(v) if v.len() > *cap => (Status::BufferTooSmall, Some(v.clone()), 0),
            Some(v) => (Status::Ok, Some(v.clone()), 0),
        },
        Op::Put(k, v) => {
            m.insert(key(*k), v.clone());
            (Status::Ok, None, 0)
        }
        Op::PutIfAbsent(k, v) => match m.entry(key(*k)) {
            std::collections::hash_map::Entry::Occupied(_) => (Status::Exists, None, 0),
            std::collections::hash_map::Entry::Vacant(e) => {
                e.insert(v.clone());
                (Status::Ok, None, 0)
            }
        },
        Op::Delete(k) => match m.remove(&key(*k)) {
            Some(_) => (Status::Ok, None, 0),
            None => (Status::NotFound, None, 0),
        },
        Op::Take(k, cap) => match m.get(&key(*k)).cloned() {
            None => (Status::NotFound, None, 0),
            Some(v) if v.len() > *cap => (Status::BufferTooSmall, Some(v), 0),
            Some(v) => {
                m.remove(&key(*k));
                (Status::Ok, Some(v), 0)
            }
        },
        Op::Cas(k, e, v) => match m.get(&key(*k)) {
            None => (Status::NotFound, None, 0),
            Some(cur) if cur != e => (Status::Mismatch, None, 0),
            Some(_) => {
                m.insert(key(*k), v.clone());
                (Status::Ok, None, 0)
            }
        },
        Op::Swap(k, v, cap) => match m.get(&key(*k)).cloned() {
            None => {
                m.insert(key(*k), v.clone());
                (Status::NotFound, None, 0)
            }
            Some(old) if old.len() > *cap => (Status::BufferTooSmall, Some(old), 0),
            Some(old) => {
                m.insert(key(*k), v.clone());
                (Status::Ok, Some(old), 0)
            }
        },
        Op::Cad(k, e) => match m.get(&key(*k)) {
            None => (Status::NotFound, None, 0),
            Some(cur) if cur != e => (Status::Mismatch, None, 0),
            Some(_) => {
                m.remove(&key(*k));
                (Status::Ok, None, 0)
            }
        },
        Op::Add(k, d) => match m.get(&key(*k)) {
            None => {
                m.insert(key(*k), d.to_le_bytes().to_vec());
                (Status::Ok, None, *d)
            }
            Some(cur) if cur.len() != 8 => (Status::NotACounter, None, 0),
            Some(cur) => {
                let n = i64::from_le_bytes(cur[..].try_into().unwrap()).wrapping_add(*d);
                m.insert(key(*k), n.to_le_bytes().to_vec());
                (Status::Ok, None, n)
            }
        },
        Op::Len | Op::Clear | Op::Batch(_) => unreachable!(),
    }
}

fn map_apply(map: &Map, op: &Op) -> (Status, Option<Vec<u8>>, i64) {
    let st = |r: numashard::Error| (r.status(), None, 0);
    match op {
        Op::Get(k, cap) => {
            let mut buf = vec![0xAAu8; *cap];
            match map.get_into(&key(*k), &mut buf) {
                Ok(None) => (Status::NotFound, None, 0),
                Ok(Some(n)) if n > *cap => {
                    assert!(buf.iter().all(|&b| b == 0xAA), "buffer touched on BufferTooSmall");
                    (Status::BufferTooSmall, map.get(&key(*k)).unwrap(), 0)
                }
                Ok(Some(n)) => {
                    let owned = map.get(&key(*k)).unwrap().unwrap();
                    assert_eq!(&buf[..n], &owned[..]);
                    (Status::Ok, Some(buf[..n].to_vec()), 0)
                }
                Err(e) => st(e),
            }
        }
        Op::Put(k, v) => map.put(&key(*k), v).map_or_else(st, |_| (Status::Ok, None, 0)),
        Op::PutIfAbsent(k, v) => map
            .put_if_absent(&key(*k), v)
            .map_or_else(st, |ins| (if ins { Status::Ok } else { Status::Exists }, None, 0)),
        Op::Delete(k) => {
            map.delete(&key(*k)).map_or_else(st, |d| (if d { Status::Ok } else { Status::NotFound }, None, 0))
        }
        Op::Take(k, cap) => {
            let mut buf = vec![0u8; *cap];
            match map.take_into(&key(*k), &mut buf) {
                Ok(None) => (Status::NotFound, None, 0),
                Ok(Some(n)) if n > *cap => (Status::BufferTooSmall, map.get(&key(*k)).unwrap(), 0),
                Ok(Some(n)) => (Status::Ok, Some(buf[..n].to_vec()), 0),
                Err(e) => st(e),
            }
        }
        Op::Cas(k, e, v) => match map.compare_and_swap(&key(*k), e, v) {
            Ok(CasOutcome::Swapped) => (Status::Ok, None, 0),
            Ok(CasOutcome::Mismatch) => (Status::Mismatch, None, 0),
            Ok(CasOutcome::NotFound) => (Status::NotFound, None, 0),
            Err(e) => st(e),
        },
        Op::Add(k, d) => map.add(&key(*k), *d).map_or_else(st, |n| (Status::Ok, None, n)),
        Op::Swap(k, v, cap) => {
            let mut buf = vec![0xAAu8; *cap];
            match map.swap_into(&key(*k), v, &mut buf) {
                Ok(None) => (Status::NotFound, None, 0),
                Ok(Some(n)) if n > *cap => {
                    assert!(buf.iter().all(|&b| b == 0xAA), "buffer touched on BufferTooSmall");
                    (Status::BufferTooSmall, map.get(&key(*k)).unwrap(), 0)
                }
                Ok(Some(n)) => (Status::Ok, Some(buf[..n].to_vec()), 0),
                Err(e) => st(e),
            }
        }
        Op::Cad(k, e) => match map.compare_and_delete(&key(*k), e) {
            Ok(CasOutcome::Swapped) => (Status::Ok, None, 0),
            Ok(CasOutcome::Mismatch) => (Status::Mismatch, None, 0),
            Ok(CasOutcome::NotFound) => (Status::NotFound, None, 0),
            Err(e) => st(e),
        },
        Op::Len | Op::Clear | Op::Batch(_) => unreachable!(),
    }
}

fn run_batch(map: &Map, ops: &[Op]) -> Vec<(Status, Option<Vec<u8>>, i64)> {
    let keys: Vec<Vec<u8>> = ops
        .iter()
        .map(|o| match o {
            Op::Get(k, _)
            | Op::Put(k, _)
            | Op::PutIfAbsent(k, _)
            | Op::Delete(k)
            | Op::Take(k, _)
            | Op::Cas(k, _, _)
            | Op::Add(k, _)
            | Op::Cad(k, _)
            | Op::Swap(k, _, _) => key(*k),
            _ => unreachable!(),
        })
        .collect();
    let mut outs: Vec<Vec<u8>> = ops
        .iter()
        .map(|o| match o {
            Op::Get(_, c) | Op::Take(_, c) | Op::Swap(_, _, c) => vec![0u8; *c],
            _ => vec![],
        })
        .collect();
    let mut bops: Vec<BatchOp> = ops
        .iter()
        .zip(keys.iter())
        .zip(outs.iter_mut())
        .map(|((o, k), out)| match o {
            Op::Get(..) => BatchOp::get(k, out),
            Op::Put(_, v) => BatchOp::put(k, v),
            Op::PutIfAbsent(_, v) => BatchOp::put_if_absent(k, v),
            Op::Delete(_) => BatchOp::delete(k),
            Op::Take(..) => BatchOp::take(k, out),
            Op::Cas(_, e, v) => BatchOp::cas(k, e, v),
            Op::Add(_, d) => BatchOp::add(k, *d),
            Op::Cad(_, e) => BatchOp::compare_and_delete(k, e),
            Op::Swap(_, v, _) => BatchOp::swap(k, v, out),
            _ => unreachable!(),
        })
        .collect();
    map.batch(&mut bops).unwrap();
    let res: Vec<(Status, usize, i64, OpKind)> =
        bops.iter().map(|b| (b.status, b.out_len, b.out_counter, b.kind)).collect();
    drop(bops);
    res.into_iter()
        .zip(outs)
        .map(|((s, n, c, kind), out)| {
            let bytes = match (kind, s) {
                (OpKind::Get | OpKind::Take | OpKind::Swap, Status::Ok) => Some(out[..n].to_vec()),
                (OpKind::Get | OpKind::Take | OpKind::Swap, Status::BufferTooSmall) => Some(vec![0; n]),
                _ => None,
            };
            (s, bytes, if kind == OpKind::Add && s == Status::Ok { c } else { 0 })
        })
        .collect()
}

fn check(mode: ExecMode, shards: usize, ops: Vec<Op>) {
    check_with(Config { shards, exec_mode: mode, ..Config::default() }, ops);
}

fn check_with(cfg: Config, ops: Vec<Op>) {
    let map = Map::new(Config { max_key_len: 1024, max_value_len: 4096, ..cfg }).unwrap();
    let mut model: HashMap<Vec<u8>, Vec<u8>> = HashMap::new();
    for op in &ops {
        match op {
            Op::Len => assert_eq!(map.len().unwrap(), model.len() as u64),
            Op::Clear => {
                map.clear().unwrap();
                model.clear();
            }
            Op::Batch(list) => {
                let got = run_batch(&map, list);
                for (o, g) in list.iter().zip(got) {
                    let mut want = model_apply(&mut model, o);
                    if want.0 == Status::BufferTooSmall {
                        want.1 = want.1.map(|v| vec![0; v.len()]);
                    }
                    assert_eq!(g, want, "batch op {o:?}");
                }
            }
            o => {
                let got = map_apply(&map, o);
                let want = model_apply(&mut model, o);
                assert_eq!(got, want, "op {o:?}");
            }
        }
    }
    // Final contents agree, through iteration too.
    assert_eq!(map.len().unwrap(), model.len() as u64);
    let mut seen = HashMap::new();
    for e in map.iter().unwrap() {
        let (k, v) = e.unwrap();
        assert!(seen.insert(k, v).is_none(), "iteration returned a key twice");
    }
    assert_eq!(seen, model);
    let st = map.stats().unwrap();
    assert_eq!(st.entries, model.len() as u64);
    map.close().unwrap();
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn matches_model_auto(ops in proptest::collection::vec(op(), 1..200), shards in 1usize..5) {
        check(ExecMode::Auto, shards, ops);
    }

    /// Small records placed by hash, in home lines for about 32 entries:
    /// most ops then run out of free lines, take them back and reuse them.
    #[test]
    fn matches_model_placed_by_hash(ops in proptest::collection::vec(op(), 1..200), shards in 1usize..4, capacity in 1usize..64) {
        check_with(Config { shards, initial_capacity: capacity, place_records_by_hash: true, ..Config::default() }, ops);
    }

    #[test]
    fn matches_model_delegate(ops in proptest::collection::vec(op(), 1..120), shards in 1usize..4) {
        check(ExecMode::Delegate, shards, ops);
    }
}

#[test]
fn size_limits_are_inclusive_and_change_nothing() {
    let map = Map::new(Config { shards: 2, max_key_len: 8, max_value_len: 16, ..Config::default() }).unwrap();
    map.put(&[1; 8], &[2; 16]).unwrap();
    assert_eq!(map.put(&[1; 9], b"x").unwrap_err().status(), Status::KeyTooLarge);
    assert_eq!(map.put(&[1; 8], &[3; 17]).unwrap_err().status(), Status::ValueTooLarge);
    assert_eq!(map.get(&[1; 8]).unwrap().unwrap(), vec![2; 16]);
    assert_eq!(map.get(&[1; 9]).unwrap_err().status(), Status::KeyTooLarge);
    assert_eq!(map.len().unwrap(), 1);
    assert_eq!(map.add(&[1; 8], 1).unwrap_err().status(), Status::NotACounter);
}

#[test]
fn bad_configs_are_rejected() {
    for cfg in [
        Config { shards: numashard::MAX_SHARDS + 1, ..Config::default() },
        Config { shards_per_node: Some(vec![numashard::MAX_SHARDS, 1]), ..Config::default() },
        Config { max_key_len: 0, ..Config::default() },
        // Placing records by hash sizes their lines from a capacity, and
        // their memory is not charged to a limit.
        Config { place_records_by_hash: true, ..Config::default() },
        Config { place_records_by_hash: true, initial_capacity: 100, memory_limit: 1 << 30, ..Config::default() },
    ] {
        assert_eq!(Map::new(cfg).unwrap_err().status(), Status::InvalidArgument);
    }
    let small = Map::new(Config { shards: 1, max_value_len: 4, ..Config::default() }).unwrap();
    assert_eq!(small.add(b"c", 1).unwrap_err().status(), Status::ValueTooLarge);
    assert_eq!(small.len().unwrap(), 0);
}

#[test]
fn grows_through_many_resizes() {
    let map = Map::new(Config { shards: 3, ..Config::default() }).unwrap();
    for i in 0u32..200_000 {
        map.put(&i.to_le_bytes(), &(i as u64 * 3).to_le_bytes()).unwrap();
    }
    assert_eq!(map.len().unwrap(), 200_000);
    for i in (0u32..200_000).step_by(7) {
        assert_eq!(map.get(&i.to_le_bytes()).unwrap().unwrap(), (i as u64 * 3).to_le_bytes());
    }
    for i in (0u32..200_000).filter(|i| i % 3 == 0) {
        assert!(map.delete(&i.to_le_bytes()).unwrap());
    }
    for i in 0u32..200_000 {
        assert_eq!(map.get(&i.to_le_bytes()).unwrap().is_some(), i % 3 != 0, "key {i}");
    }
}

/// All-get batches of every size around the lock-free path's window (32 ops
/// per shard) and far past it, on a table full enough that many keys sit
/// past their home slot: each result must equal the single-call answer —
/// value, not found, or buffer too small with the true length.
#[test]
fn all_get_batches_of_every_size_match_single_gets() {
    // Two shards of 4096 slots and one of 65,536: a table the caches hold
    // and one they do not (both read in prefetch stages since run 26 of
    // bench/results/go.md; the general batch's unstaged arm, with
    // batch_delegate_min, is tested in get_many.rs).
    all_get_batches_match(2, 6_000);
    all_get_batches_match(1, 30_000);
}

fn all_get_batches_match(shards: usize, n: u32) {
    let map = Map::new(Config { shards, ..Config::default() }).unwrap();
    let value = |i: u32| vec![(i % 251) as u8; (i % 70) as usize];
    for i in 0..n {
        map.put(format!("key-{i}").as_bytes(), &value(i)).unwrap();
    }
    let mut x = 0x9E37_79B9_7F4A_7C15u64;
    for size in [1usize, 2, 31, 32, 33, 63, 64, 65, 100, 129, 1000, 5000] {
        // One in five keys is absent; buffers of 0..80 bytes (some too small).
        let picks: Vec<(u32, usize)> = (0..size)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                ((x % (n as u64 * 5 / 4)) as u32, (x >> 40) as usize % 80)
            })
            .collect();
        let keys: Vec<Vec<u8>> = picks.iter().map(|&(i, _)| format!("key-{i}").into_bytes()).collect();
        let mut outs: Vec<Vec<u8>> = picks.iter().map(|&(_, cap)| vec![0xAA; cap]).collect();
        let mut ops: Vec<BatchOp> = keys.iter().zip(outs.iter_mut()).map(|(k, o)| BatchOp::get(k, o)).collect();
        map.batch(&mut ops).unwrap();
        for (j, op) in ops.iter().enumerate() {
            let (i, cap) = picks[j];
            if i >= n {
                assert_eq!(op.status, Status::NotFound, "size {size} op {j}");
                continue;
            }
            let want = value(i);
            assert_eq!(op.out_len, want.len(), "size {size} op {j}");
            if want.len() <= cap {
                assert_eq!(op.status, Status::Ok, "size {size} op {j}");
                assert_eq!(&op.out[..want.len()], &want[..], "size {size} op {j}");
            } else {
                assert_eq!(op.status, Status::BufferTooSmall, "size {size} op {j}");
            }
        }
    }
}

#[test]
fn compare_and_delete_removes_only_the_expected_value() {
    let map = Map::new(Config { shards: 2, ..Config::default() }).unwrap();
    map.put(b"k", b"v1").unwrap();
    assert_eq!(map.compare_and_delete(b"k", b"v2").unwrap(), CasOutcome::Mismatch);
    assert_eq!(map.get(b"k").unwrap().unwrap(), b"v1");
    assert_eq!(map.compare_and_delete(b"k", b"v1").unwrap(), CasOutcome::Swapped);
    assert_eq!(map.get(b"k").unwrap(), None);
    assert_eq!(map.compare_and_delete(b"k", b"v1").unwrap(), CasOutcome::NotFound);
    let long = vec![7u8; Config::default().max_key_len + 1];
    assert_eq!(map.compare_and_delete(&long, b"v").unwrap_err().status(), Status::KeyTooLarge);
    map.close().unwrap();
    assert_eq!(map.compare_and_delete(b"k", b"v1").unwrap_err().status(), Status::Closed);
}

#[test]
fn swap_returns_the_previous_value_and_stores_atomically() {
    let map = Map::new(Config { shards: 2, ..Config::default() }).unwrap();
    assert_eq!(map.swap(b"k", b"v1").unwrap(), None, "absent: inserted");
    assert_eq!(map.swap(b"k", b"v2").unwrap().unwrap(), b"v1");
    assert_eq!(map.get(b"k").unwrap().unwrap(), b"v2");
    let mut small = [0u8; 1];
    assert_eq!(map.swap_into(b"k", b"v3", &mut small).unwrap(), Some(2), "too small: needed length");
    assert_eq!(map.get(b"k").unwrap().unwrap(), b"v2", "too small a buffer stores nothing");
    let mut buf = [0u8; 8];
    assert_eq!(map.swap_into(b"k", b"v3", &mut buf).unwrap(), Some(2));
    assert_eq!(&buf[..2], b"v2");
    let big = vec![1u8; Config::default().max_value_len + 1];
    assert_eq!(map.swap(b"k", &big).unwrap_err().status(), Status::ValueTooLarge);
    assert_eq!(map.get(b"k").unwrap().unwrap(), b"v3");
    // Many threads swapping one key: every value stored is returned exactly once.
    map.put(b"hot", &0u64.to_le_bytes()).unwrap();
    let seen: Vec<Vec<u64>> = std::thread::scope(|s| {
        let hs: Vec<_> = (1..=4u64)
            .map(|t| {
                let map = &map;
                s.spawn(move || {
                    (0..2000u64)
                        .map(|i| {
                            let old = map.swap(b"hot", &(t * 1_000_000 + i).to_le_bytes()).unwrap().unwrap();
                            u64::from_le_bytes(old[..].try_into().unwrap())
                        })
                        .collect()
                })
            })
            .collect();
        hs.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let mut all: Vec<u64> = seen.into_iter().flatten().collect();
    all.push(u64::from_le_bytes(map.get(b"hot").unwrap().unwrap()[..].try_into().unwrap()));
    all.sort_unstable();
    let mut want: Vec<u64> = (1..=4u64).flat_map(|t| (0..2000u64).map(move |i| t * 1_000_000 + i)).collect();
    want.push(0);
    want.sort_unstable();
    assert_eq!(all, want, "each stored value returned (or left) exactly once");
}

/// A map whose small records are placed by hash: its home lines count in
/// `mapped_bytes` from the start; `replace_all`, `clear`, a snapshot and
/// opening one give the same contents as without placement.
#[test]
fn records_placed_by_hash_survive_replace_clear_and_snapshots() {
    let entries: Vec<(Vec<u8>, Vec<u8>)> = (0..5000u32)
        .map(|i| {
            let k = [i.to_le_bytes(), (!i).to_le_bytes(), i.to_be_bytes(), [7; 4]].concat();
            // One line (8 + 16 + up to 40 bytes) for most, two for some.
            (k, vec![i as u8; (i % 50) as usize])
        })
        .collect();
    let cfg = Config { shards: 2, initial_capacity: 4000, place_records_by_hash: true, ..Config::default() };
    let plain = Map::new(Config { shards: 2, initial_capacity: 4000, ..Config::default() }).unwrap();
    let map = Map::new(cfg.clone()).unwrap();
    // 2 shards of 2^11 lines (2000 each, rounded to the nearest power of two): 256 KiB more.
    let extra = map.stats().unwrap().mapped_bytes - plain.stats().unwrap().mapped_bytes;
    assert!(extra >= (2 * 64) << 11, "home lines not counted: {extra} more bytes mapped");
    let same = |m: &Map, want: &[(Vec<u8>, Vec<u8>)]| {
        assert_eq!(m.len().unwrap(), want.len() as u64);
        for (k, v) in want {
            assert_eq!(m.get(k).unwrap().as_deref(), Some(&v[..]));
        }
        assert_eq!(m.iter().unwrap().count(), want.len());
    };
    for (k, v) in &entries {
        map.put(k, v).unwrap();
    }
    same(&map, &entries);
    let half: Vec<_> = entries.iter().step_by(2).cloned().collect();
    map.replace_all(&half).unwrap();
    same(&map, &half);
    let dir = std::env::temp_dir().join(format!("numashard-placed-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    map.save(&dir).unwrap();
    map.clear().unwrap();
    assert_eq!(map.len().unwrap(), 0);
    for (k, v) in &entries[..100] {
        map.put(k, v).unwrap();
    }
    same(&map, &entries[..100]);
    let opened = Map::open_snapshot(cfg, &dir).unwrap();
    same(&opened, &half);
    std::fs::remove_dir_all(&dir).unwrap();
}
