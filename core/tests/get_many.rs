//! `Map::get_many_into`, the flat-array batch get under the C ABI's
//! `ns_get_many`: every key's status, length and bytes against a model, on
//! small and large tables, in every execution mode, with keys too large,
//! values too large for their room, entries with deadlines, expired ones
//! and keys that share nothing with the map.

use numashard::{BatchOp, Config, ExecMode, Map, Status};
use proptest::prelude::*;
use std::collections::HashMap;
use std::time::Duration;

/// What the model says of one key: its value, or absent.
type Model = HashMap<Vec<u8>, Vec<u8>>;

const MAX_KEY: usize = 20;
const UNTOUCHED: u8 = 0xEE;

fn map(shards: usize, mode: ExecMode, delegate_min: usize) -> Map {
    Map::new(Config {
        shards,
        max_key_len: MAX_KEY,
        exec_mode: mode,
        batch_delegate_min: delegate_min,
        ..Config::default()
    })
    .unwrap()
}

/// Runs `get_many_into` over `keys` with rooms of `stride` bytes and checks
/// each outcome against `model`: found keys with their bytes (the rest of
/// the room untouched), values larger than the room with the length needed
/// and the room untouched, absent keys, keys over the limit; each reported
/// exactly once.
fn check(map: &Map, model: &Model, keys: &[Vec<u8>], stride: usize) {
    let mut out = vec![UNTOUCHED; keys.len() * stride];
    let mut seen: Vec<Option<(Status, usize)>> = vec![None; keys.len()];
    map.get_many_into(keys.iter().map(Vec::as_slice), &mut out, stride, |i, st, len| {
        assert!(seen[i].replace((st, len)).is_none(), "key {i} reported twice");
    })
    .unwrap();
    for (i, key) in keys.iter().enumerate() {
        let room = &out[i * stride..(i + 1) * stride];
        let got = seen[i].unwrap_or_else(|| panic!("key {i} never reported"));
        let want = if key.len() > MAX_KEY {
            (Status::KeyTooLarge, 0)
        } else {
            match model.get(key) {
                None => (Status::NotFound, 0),
                Some(v) if v.len() > stride => (Status::BufferTooSmall, v.len()),
                Some(v) => (Status::Ok, v.len()),
            }
        };
        assert_eq!(got, want, "key {i} ({key:?}), room {stride}");
        let written = if got.0 == Status::Ok { got.1 } else { 0 };
        if got.0 == Status::Ok {
            assert_eq!(&room[..written], &model[key][..], "key {i}: its bytes");
        }
        assert!(room[written..].iter().all(|&b| b == UNTOUCHED), "key {i}: room written past its value");
    }
    // The same gets as a batch of ops, each with a room of its own: the
    // same outcomes, byte for byte.
    let mut rooms = vec![vec![UNTOUCHED; stride]; keys.len()];
    let mut ops: Vec<BatchOp<'_>> = keys.iter().zip(rooms.iter_mut()).map(|(k, r)| BatchOp::get(k, r)).collect();
    map.batch(&mut ops).unwrap();
    for (i, op) in ops.iter().enumerate() {
        let len = if matches!(op.status, Status::Ok | Status::BufferTooSmall) { op.out_len } else { 0 };
        assert_eq!((op.status, len), seen[i].unwrap(), "key {i}: batch against get_many_into");
    }
    drop(ops);
    for (i, room) in rooms.iter().enumerate() {
        assert_eq!(room[..], out[i * stride..(i + 1) * stride], "key {i}: batch's room against get_many_into's");
    }
}

fn value_of(k: u64, len: usize) -> Vec<u8> {
    (0..len).map(|j| (k as u8).wrapping_mul(31).wrapping_add(j as u8)).collect()
}

/// Loads `n` keys of 16 bytes (every tenth with a deadline an hour away,
/// every thirteenth expired, with values of 0-80 and 600 bytes: past what
/// a lock-free read stages, read under the lock) and returns the
/// model and the keys, with as many never stored.
fn load(map: &Map, n: u64) -> (Model, Vec<Vec<u8>>) {
    let key = |k: u64| [k.wrapping_mul(0x9e37_79b9_7f4a_7c15).to_le_bytes(), k.to_le_bytes()].concat();
    let mut model = Model::new();
    for k in 0..n {
        let v = value_of(k, [32, 0, 8, 31, 33, 48, 64, 80, 600][(k % 9) as usize]);
        if k % 13 == 0 {
            map.put_with_ttl(&key(k), &v, Duration::from_nanos(1)).unwrap();
            continue;
        }
        if k % 10 == 0 {
            map.put_with_ttl(&key(k), &v, Duration::from_secs(3600)).unwrap();
        } else {
            map.put(&key(k), &v).unwrap();
        }
        model.insert(key(k), v);
    }
    // Expired entries read as absent from here on.
    std::thread::sleep(Duration::from_millis(2));
    (model, (0..2 * n).map(key).collect())
}

/// A large table (1 shard, 70,000 entries: 2^17 slots), a small one, and
/// one of more shards than a window has keys (a start per key), in batches
/// of 1 to 200 keys (windows of 64 and their edges), rooms of 0 to 640 bytes, present, absent, expired and too-large
/// keys mixed, in every execution mode; `Map::batch` of the same gets
/// agrees.
#[test]
fn get_many_into_agrees_with_the_model() {
    for (n, shards) in [(70_000u64, 1usize), (3_000, 2), (20_000, 70)] {
        for (mode, delegate_min) in [(ExecMode::Auto, 0), (ExecMode::Auto, 4), (ExecMode::Delegate, 0)] {
            let map = map(shards, mode, delegate_min);
            let (model, keys) = load(&map, n);
            let mut rng = 0x1234_5678u64;
            let mut next = || {
                rng ^= rng << 13;
                rng ^= rng >> 7;
                rng ^= rng << 17;
                rng
            };
            for (batch, stride) in
                [(1usize, 32usize), (63, 33), (64, 32), (65, 80), (200, 48), (128, 0), (64, 8), (70, 640)]
            {
                let picked: Vec<Vec<u8>> = (0..batch)
                    .map(|_| match next() % 16 {
                        0 => vec![7u8; MAX_KEY + 1 + (next() % 4) as usize],
                        1 => Vec::new(),
                        _ => keys[(next() % keys.len() as u64) as usize].clone(),
                    })
                    .collect();
                check(&map, &model, &picked, stride);
            }
        }
    }
}

/// Rooms that do not fit `out` are refused before anything is read; a
/// closed map reports `Closed` and calls nothing back; an iterator that
/// ends before its length is refused after the keys it gave, and one that
/// goes on past it is not read further.
#[test]
fn get_many_into_refuses_short_rooms_and_a_closed_map() {
    let map = map(2, ExecMode::Auto, 0);
    map.put(b"k", b"v").unwrap();
    let mut out = [0u8; 8];
    let mut called = false;
    let e = map.get_many_into([&b"k"[..], b"k"], &mut out, 8, |_, _, _| called = true).unwrap_err();
    assert_eq!(e.status(), Status::InvalidArgument);
    let e = map.get_many_into([&b"k"[..]], &mut out, usize::MAX, |_, _, _| called = true).unwrap_err();
    assert_eq!(e.status(), Status::InvalidArgument);
    assert!(!called);
    for mode in [ExecMode::Auto, ExecMode::Delegate] {
        let map = self::map(2, mode, 0);
        map.put(b"k", b"v").unwrap();
        let mut out = [0u8; 3 * 8];
        let mut seen = Vec::new();
        let short = Lying { keys: vec![&b"k"[..], b"x"], claims: 3 };
        let e = map.get_many_into(short, &mut out, 8, |i, st, len| seen.push((i, st, len))).unwrap_err();
        assert_eq!(e.status(), Status::InvalidArgument, "{mode:?}");
        seen.sort_by_key(|o| o.0);
        assert_eq!(seen, [(0, Status::Ok, 1), (1, Status::NotFound, 0)], "{mode:?}: the keys it gave");
        seen.clear();
        // Short past a window: 66 keys of a claimed 70.
        let keys: Vec<[u8; 1]> = (0..66u8).map(|i| [i]).collect();
        let mut out70 = [0u8; 70 * 8];
        let short = Lying { keys: keys.iter().map(|k| &k[..]).collect(), claims: 70 };
        let e = map.get_many_into(short, &mut out70, 8, |i, st, len| seen.push((i, st, len))).unwrap_err();
        assert_eq!(e.status(), Status::InvalidArgument, "{mode:?}");
        seen.sort_by_key(|o| o.0);
        assert_eq!(seen.iter().map(|o| o.0).collect::<Vec<_>>(), (0..66).collect::<Vec<_>>(), "{mode:?}");
        assert!(seen
            .iter()
            .all(|&(i, st, _)| st == if i == usize::from(b'k') { Status::Ok } else { Status::NotFound }));
        seen.clear();
        let long = Lying { keys: vec![&b"k"[..], b"x", b"k"], claims: 2 };
        map.get_many_into(long, &mut out, 8, |i, st, len| seen.push((i, st, len))).unwrap();
        seen.sort_by_key(|o| o.0);
        assert_eq!(seen, [(0, Status::Ok, 1), (1, Status::NotFound, 0)], "{mode:?}");
    }
    map.close().unwrap();
    let e = map.get_many_into([&b"k"[..]], &mut out, 8, |_, _, _| called = true).unwrap_err();
    assert_eq!(e.status(), Status::Closed);
    for mode in [ExecMode::Auto, ExecMode::Delegate] {
        let closed = self::map(2, mode, 0);
        closed.close().unwrap();
        let e = closed.get_many_into(std::iter::empty(), &mut out, 8, |_, _, _| called = true).unwrap_err();
        assert_eq!(e.status(), Status::Closed, "{mode:?}: no keys, a closed map");
    }
    assert!(!called);
}

/// An iterator that reports another length than it has.
struct Lying<'k> {
    keys: Vec<&'k [u8]>,
    claims: usize,
}

impl<'k> Iterator for Lying<'k> {
    type Item = &'k [u8];
    fn next(&mut self) -> Option<&'k [u8]> {
        (!self.keys.is_empty()).then(|| self.keys.remove(0))
    }
    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.claims, Some(self.claims))
    }
}

impl ExactSizeIterator for Lying<'_> {}

/// `done` runs outside the map's read sections: it may close the map (the
/// windows after report `Closed`) and read it, without waiting on itself.
#[test]
fn get_many_into_calls_back_outside_the_read() {
    let map = map(2, ExecMode::Auto, 0);
    let keys: Vec<Vec<u8>> = (0..200u32).map(|i| i.to_le_bytes().to_vec()).collect();
    for k in &keys {
        map.put(k, k).unwrap();
    }
    let mut out = vec![0u8; 8 * keys.len()];
    let mut reported = 0;
    let e = map
        .get_many_into(keys.iter().map(Vec::as_slice), &mut out, 8, |i, st, len| {
            assert_eq!((st, len), (Status::Ok, 4), "key {i}: read before the close");
            if i <= 70 {
                assert_eq!(map.get(&keys[i]).unwrap().as_deref(), Some(&keys[i][..]), "a read from done");
            }
            reported += 1;
            if i == 70 {
                map.close().unwrap();
            }
        })
        .unwrap_err();
    assert_eq!(e.status(), Status::Closed);
    // The first two windows of 64 were read before the close.
    assert_eq!(reported, 128);
}

/// Every get of `get_many_into` counts once as a hit or a miss, a value
/// read again under the lock included; a value too large for its room
/// counts nothing (its retry with room is the hit).
#[test]
fn get_many_into_counts_hits_and_misses() {
    let map = Map::new(Config { shards: 3, record_stats: true, ..Config::default() }).unwrap();
    for i in 0..100u32 {
        map.put(&i.to_le_bytes(), &vec![1u8; if i % 10 == 0 { 700 } else { 16 }]).unwrap();
    }
    let keys: Vec<[u8; 4]> = (50..250u32).map(u32::to_le_bytes).collect();
    let (room, small) = (800, 8);
    for (stride, hits, misses) in [(room, 50, 150), (small, 0, 150)] {
        let before = map.stats().unwrap();
        let mut out = vec![0u8; stride * keys.len()];
        map.get_many_into(keys.iter().map(|k| &k[..]), &mut out, stride, |_, _, _| {}).unwrap();
        let after = map.stats().unwrap();
        assert_eq!((after.hits - before.hits, after.misses - before.misses), (hits, misses), "rooms of {stride}");
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    /// Any keys (0-24 bytes, some over the limit), any values (0-70 bytes),
    /// any rooms, 1-3 shards, batches of up to 150 keys, some asked twice.
    #[test]
    fn get_many_into_matches_a_model(
        shards in 1usize..=3,
        entries in proptest::collection::vec((proptest::collection::vec(any::<u8>(), 0..=MAX_KEY), proptest::collection::vec(any::<u8>(), 0..70)), 0..120),
        extra in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..=24), 0..60),
        stride in 0usize..72,
        repeat in 0usize..3,
    ) {
        let map = map(shards, ExecMode::Auto, 0);
        let mut model = Model::new();
        for (k, v) in &entries {
            map.put(k, v).unwrap();
            model.insert(k.clone(), v.clone());
        }
        let mut keys: Vec<Vec<u8>> = entries.iter().map(|(k, _)| k.clone()).chain(extra).collect();
        for _ in 0..repeat {
            keys.extend_from_within(..keys.len().min(30));
        }
        check(&map, &model, &keys, stride);
    }
}
