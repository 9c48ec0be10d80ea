//! Snapshots: save/load against a model (several shard counts and seeds),
//! concurrent writers checked against the save's moment, every kind of
//! damaged or foreign file, limits.

use numashard::snapshot::{self, MANIFEST};
use numashard::{Config, Map, Status};
use proptest::prelude::*;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

fn tmpdir(name: &str) -> PathBuf {
    static N: AtomicU64 = AtomicU64::new(0);
    let d = std::env::temp_dir().join(format!(
        "numashard-snap-{name}-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = std::fs::remove_dir_all(&d);
    d
}

fn contents(map: &Map) -> BTreeMap<Vec<u8>, Vec<u8>> {
    map.iter().unwrap().map(|r| r.unwrap()).collect()
}

fn shards(n: usize) -> Config {
    Config { shards: n, ..Config::default() }
}

#[derive(Clone, Debug)]
enum Op {
    Put(u16, Vec<u8>),
    Delete(u16),
    Add(u16, i64),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (any::<u16>(), prop_oneof![
            Just(vec![]),
            proptest::collection::vec(any::<u8>(), 1..48),
            proptest::collection::vec(any::<u8>(), 2000..5000),
        ]).prop_map(|(k, v)| Op::Put(k, v)),
        1 => any::<u16>().prop_map(Op::Delete),
        1 => (any::<u16>(), any::<i64>()).prop_map(|(k, d)| Op::Add(k, d)),
    ]
}

fn key(k: u16) -> Vec<u8> {
    match k % 3 {
        0 => vec![],
        1 => (k % 500).to_le_bytes().to_vec(),
        _ => format!("a-longer-key-{}", k % 700).into_bytes(),
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 12, ..ProptestConfig::default() })]

    /// Random operations, save, load into maps of several shard counts and
    /// seeds: every loaded map equals the model.
    #[test]
    fn save_then_load_matches_the_model(ops in proptest::collection::vec(op(), 0..1500), saved_shards in 1usize..5) {
        let map = Map::new(shards(saved_shards)).unwrap();
        let mut model = BTreeMap::new();
        for op in ops {
            match op {
                Op::Put(k, v) => { map.put(&key(k), &v).unwrap(); model.insert(key(k), v); }
                Op::Delete(k) => { prop_assert_eq!(map.delete(&key(k)).unwrap(), model.remove(&key(k)).is_some()); }
                Op::Add(k, d) => {
                    let k = key(k);
                    match model.get(&k) {
                        Some(v) if v.len() != 8 => {
                            prop_assert_eq!(map.add(&k, d).unwrap_err().status(), Status::NotACounter);
                        }
                        old => {
                            let was = old.map(|v| i64::from_le_bytes(v.as_slice().try_into().unwrap())).unwrap_or(0);
                            let now = map.add(&k, d).unwrap();
                            prop_assert_eq!(now, was.wrapping_add(d));
                            model.insert(k, now.to_le_bytes().to_vec());
                        }
                    }
                }
            }
        }
        let dir = tmpdir("model");
        let report = map.save(&dir).unwrap();
        prop_assert_eq!(report.entries, model.len() as u64);
        prop_assert_eq!(report.shards as usize, saved_shards);
        let info = snapshot::inspect(&dir).unwrap();
        prop_assert_eq!(info.entries, model.len() as u64);
        prop_assert_eq!(info.shards.len(), saved_shards);
        for (n, seed) in [(1, None), (2, Some(99u64)), (3, None), (4, None), (saved_shards, None)] {
            let mut cfg = shards(n);
            if let Some(s) = seed { cfg.hash_seed = s; }
            let loaded = Map::open_snapshot(cfg, &dir).unwrap();
            prop_assert_eq!(loaded.shard_count(), n);
            prop_assert_eq!(&contents(&loaded), &model);
            prop_assert_eq!(loaded.len().unwrap(), model.len() as u64);
            // Counters survive as counters.
            if let Some((k, v)) = model.iter().find(|(_, v)| v.len() == 8) {
                let was = i64::from_le_bytes(v.as_slice().try_into().unwrap());
                prop_assert_eq!(loaded.add(k, 1).unwrap(), was.wrapping_add(1));
            }
        }
        let _ = std::fs::remove_dir_all(&dir);
    }
}

/// Concurrent writers during a save: the snapshot is the map at one moment.
/// Each writer owns its keys and logs every write with the global clock
/// before and after it; the value names the write. The snapshot must equal,
/// for each writer, its state after a prefix of its log, and some moment
/// during the save call must separate every writer's prefix from the rest:
/// each write in the snapshot started before it, each write left out
/// finished after it. (A prefix is not always unique — a delete of an absent
/// key changes nothing, so the prefixes with and without it match alike —
/// and any matching prefix may be the one the moment cut.)
#[test]
fn concurrent_writers_see_a_snapshot_of_one_moment() {
    const WRITERS: usize = 3;
    const KEYS: u64 = 12_000;
    const SAVES: usize = 3;
    // Saves go on past SAVES (up to this many) until one of them overlapped
    // writes to unwritten keys: on a loaded machine a save can run while no
    // writer is scheduled.
    const MAX_SAVES: usize = 40;
    let map = Arc::new(Map::new(shards(4)).unwrap());
    let clock = Arc::new(AtomicU64::new(1));
    let stop = Arc::new(AtomicBool::new(false));
    let started = Arc::new(AtomicU64::new(0));
    // Every writer's initial contents, so the map is large enough for many chunks.
    for w in 0..WRITERS as u64 {
        for k in 0..KEYS {
            map.put(format!("w{w}-{k}").as_bytes(), &0u64.to_le_bytes()).unwrap();
        }
    }
    let handles: Vec<_> = (0..WRITERS as u64)
        .map(|w| {
            let (map, clock, stop, started) = (map.clone(), clock.clone(), stop.clone(), started.clone());
            std::thread::spawn(move || {
                // log[i] = (key index, delete?, start, end); a put's value is i + 1.
                let mut log: Vec<(u64, bool, u64, u64)> = Vec::new();
                let mut x = w * 7919 + 1;
                started.fetch_add(1, Ordering::SeqCst);
                while !stop.load(Ordering::Relaxed) {
                    x = x.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                    let k = (x >> 33) % KEYS;
                    let key = format!("w{w}-{k}");
                    let del = (x >> 20) % 5 == 0;
                    let id = log.len() as u64 + 1;
                    let t0 = clock.fetch_add(1, Ordering::SeqCst);
                    if del {
                        map.delete(key.as_bytes()).unwrap();
                    } else {
                        map.put(key.as_bytes(), &id.to_le_bytes()).unwrap();
                    }
                    let t1 = clock.fetch_add(1, Ordering::SeqCst);
                    log.push((k, del, t0, t1));
                }
                log
            })
        })
        .collect();
    while started.load(Ordering::SeqCst) < WRITERS as u64 {
        std::thread::yield_now();
    }
    // (directory, report, clock before the call, clock after it returned)
    let mut saves = Vec::new();
    while saves.len() < SAVES
        || (saves.len() < MAX_SAVES
            && !saves.iter().any(|(_, r, _, _): &(_, snapshot::SaveReport, _, _)| r.before_images > 0))
    {
        std::thread::sleep(std::time::Duration::from_millis(10));
        let dir = tmpdir("writers");
        let before = clock.fetch_add(1, Ordering::SeqCst);
        let report = map.save(&dir).unwrap();
        let after = clock.fetch_add(1, Ordering::SeqCst);
        saves.push((dir, report, before, after));
    }
    std::thread::sleep(std::time::Duration::from_millis(10));
    stop.store(true, Ordering::Relaxed);
    let logs: Vec<_> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    for (dir, report, before, after) in &saves {
        check_one_moment(dir, report, (*before, *after), &logs, KEYS);
        eprintln!(
            "save during writes: {} entries, start stall {} us, longest chunk hold {} us, {} before-images",
            report.entries,
            report.start_stall_ns / 1000,
            report.chunk_hold_max_ns / 1000,
            report.before_images
        );
        let _ = std::fs::remove_dir_all(dir);
    }
    assert!(
        saves.iter().any(|(_, r, _, _)| r.before_images > 0),
        "writers changed unwritten keys during some save (of {})",
        saves.len()
    );
}

type WriterLog = Vec<(u64, bool, u64, u64)>;

/// Checks that the snapshot in `dir` is every writer's state after a prefix
/// of its log, with one moment inside `call` (the clock just before the save
/// and just after it returned) that every chosen prefix is consistent with.
fn check_one_moment(dir: &Path, report: &snapshot::SaveReport, call: (u64, u64), logs: &[WriterLog], keys: u64) {
    let snap = contents(&Map::open_snapshot(shards(3), dir).unwrap());
    assert_eq!(report.entries, snap.len() as u64);
    // For each writer, the open clock intervals (start of the last write in,
    // end of the first write out) of every prefix whose replay equals the
    // snapshot: the moment must lie in one of them.
    let mut windows: Vec<Vec<(usize, u64, u64)>> = Vec::new();
    for (w, log) in logs.iter().enumerate() {
        assert!(log.len() > 100, "writer {w} made too few writes ({})", log.len());
        let mut state: BTreeMap<u64, Option<u64>> = (0..keys).map(|k| (k, Some(0))).collect();
        let of_snap =
            |k: u64| snap.get(format!("w{w}-{k}").as_bytes()).map(|v| u64::from_le_bytes(v[..8].try_into().unwrap()));
        let mut mismatches: usize = (0..keys).filter(|&k| of_snap(k) != Some(0)).count();
        let mut cuts = Vec::new();
        if mismatches == 0 {
            cuts.push(0);
        }
        for (i, &(k, del, _, _)) in log.iter().enumerate() {
            let before = state[&k] == of_snap(k);
            let now = if del { None } else { Some(i as u64 + 1) };
            state.insert(k, now);
            let after = now == of_snap(k);
            mismatches = mismatches + usize::from(before && !after) - usize::from(!before && after);
            if mismatches == 0 {
                cuts.push(i + 1);
            }
        }
        assert!(!cuts.is_empty(), "writer {w}: the snapshot is no prefix of its writes");
        assert!(cuts[0] < log.len(), "writer {w}: writes continued after the save, the snapshot has them all");
        let open: Vec<(usize, u64, u64)> = cuts
            .iter()
            .filter(|&&c| c < log.len())
            .map(|&c| (c, if c == 0 { 0 } else { log[c - 1].2 }, log[c].3))
            .collect();
        windows.push(open);
    }
    // Intervals are open and clock values distinct, so if the intersection
    // of one interval per writer and the call's is not empty, it holds the
    // point just above its greatest lower end: try each lower end.
    let lows = std::iter::once(call.0).chain(windows.iter().flatten().map(|&(_, s, _)| s));
    let fits =
        |t: u64| call.0 <= t && t < call.1 && windows.iter().all(|ws| ws.iter().any(|&(_, s, e)| s <= t && t < e));
    let moment = lows.clone().find(|&t| fits(t));
    assert!(
        moment.is_some(),
        "no moment during the save (clock {} to {}) separates the writes in the snapshot from those left out; \
         per writer, the matching prefixes (length, start of the last write in, end of the first write out): {:?}",
        call.0,
        call.1,
        windows.iter().map(|ws| ws.iter().take(8).collect::<Vec<_>>()).collect::<Vec<_>>()
    );
}

fn saved(n: u64, value_len: usize) -> (PathBuf, BTreeMap<Vec<u8>, Vec<u8>>) {
    let map = Map::new(shards(2)).unwrap();
    for i in 0..n {
        map.put(format!("k{i}").as_bytes(), &vec![i as u8; value_len]).unwrap();
    }
    let dir = tmpdir("files");
    map.save(&dir).unwrap();
    (dir, contents(&map))
}

fn data_files(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "nss"))
        .collect();
    v.sort();
    v
}

fn load_err(dir: &Path) -> Status {
    Map::open_snapshot(shards(2), dir).map(|_| ()).expect_err("a damaged snapshot must not load").status()
}

#[test]
fn a_bit_flip_in_any_block_is_detected() {
    let (dir, _) = saved(20_000, 40);
    let files = data_files(&dir);
    assert_eq!(files.len(), 2);
    let mut checked = 0;
    for f in &files {
        let good = std::fs::read(f).unwrap();
        // Walk the blocks: flip one bit in each block's header and payload,
        // and in the file header.
        let mut offsets = vec![3usize, 20];
        let mut at = 32;
        while at < good.len() {
            let payload = u64::from_le_bytes(good[at..at + 8].try_into().unwrap()) as usize;
            offsets.push(at + 1); // length
            offsets.push(at + 9); // entry count
            offsets.push(at + 13); // checksum
            offsets.push(at + 16 + payload / 2); // middle of the payload
            offsets.push(at + 16 + payload - 1); // its last byte
            at += 16 + payload;
        }
        assert_eq!(at, good.len());
        for (n, &o) in offsets.iter().enumerate() {
            let mut bad = good.clone();
            bad[o] ^= 1 << (n % 8);
            std::fs::write(f, &bad).unwrap();
            let s = load_err(&dir);
            assert!(matches!(s, Status::SnapshotCorrupt | Status::NotASnapshot), "offset {o}: {s:?}");
            checked += 1;
        }
        std::fs::write(f, &good).unwrap();
    }
    assert!(checked > 20, "several blocks per file ({checked} flips)");
    assert_eq!(Map::open_snapshot(shards(2), &dir).unwrap().len().unwrap(), 20_000);
    let _ = std::fs::remove_dir_all(&dir);
}

/// CRC-32C (Castagnoli, reflected), bit by bit: to rewrite a manifest's
/// fields with a checksum that holds, as a crafted file would.
fn crc32c(bytes: &[u8]) -> u32 {
    let mut c = !0u32;
    for &b in bytes {
        c ^= b as u32;
        for _ in 0..8 {
            c = if c & 1 != 0 { (c >> 1) ^ 0x82F6_3B78 } else { c >> 1 };
        }
    }
    !c
}

/// The manifest of `dir` with `edit` applied and its checksum recomputed.
fn rewrite_manifest(dir: &Path, edit: impl FnOnce(&mut Vec<u8>)) {
    let path = dir.join(MANIFEST);
    let mut b = std::fs::read(&path).unwrap();
    edit(&mut b);
    let n = b.len();
    let crc = crc32c(&b[..n - 4]);
    b[n - 4..].copy_from_slice(&crc.to_le_bytes());
    std::fs::write(&path, &b).unwrap();
}

fn put64(b: &mut [u8], at: usize, v: u64) {
    b[at..at + 8].copy_from_slice(&v.to_le_bytes());
}

fn get64(b: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(b[at..at + 8].try_into().unwrap())
}

fn add64(b: &mut [u8], at: usize, delta: u64) {
    let v = get64(b, at).wrapping_add(delta);
    put64(b, at, v);
}

/// A manifest whose checksum holds but whose counts lie is refused as
/// corrupt before any index is sized from them (it used to map up to 16 TiB
/// for a claimed 2^40 entries, answer `Resource`, or, with counts whose sum
/// wraps, pass the "add up" check); a claimed last generation stops the
/// next save instead of wrapping to 0.
#[test]
fn crafted_counts_are_refused_before_anything_is_sized() {
    // Manifest offsets: total entries at 48, per shard (24 bytes each from
    // 72): entries, file bytes, blocks.
    let (dir, model) = saved(3000, 24);
    let good = std::fs::read(dir.join(MANIFEST)).unwrap();
    type Edit = Box<dyn Fn(&mut Vec<u8>)>;
    let cases: Vec<(&str, Edit)> = vec![
        (
            "2^40 entries in shard 0",
            Box::new(|b| {
                let extra = (1u64 << 40) - get64(b, 72);
                put64(b, 72, 1 << 40);
                add64(b, 48, extra);
            }),
        ),
        (
            "2^32-1 entries in shard 0",
            Box::new(|b| {
                let extra = u32::MAX as u64 - get64(b, 72);
                put64(b, 72, u32::MAX as u64);
                add64(b, 48, extra);
            }),
        ),
        (
            "counts whose sum wraps",
            Box::new(|b| {
                add64(b, 72, 1 << 63);
                add64(b, 96, 1 << 63);
            }),
        ),
        (
            "more blocks than bytes",
            Box::new(|b| {
                let bytes = get64(b, 72 + 8);
                put64(b, 72 + 16, bytes);
            }),
        ),
        (
            "more entries than their blocks can hold, bytes to match",
            Box::new(|b| {
                add64(b, 72 + 8, 1 << 30);
                add64(b, 72, 1 << 28);
                add64(b, 48, 1 << 28);
            }),
        ),
    ];
    for (what, edit) in &cases {
        std::fs::write(dir.join(MANIFEST), &good).unwrap();
        rewrite_manifest(&dir, edit);
        let t = std::time::Instant::now();
        for n in [1, 2, 3] {
            let e = Map::open_snapshot(shards(n), &dir).map(|_| ()).expect_err(what);
            assert_eq!(e.status(), Status::SnapshotCorrupt, "{what}, {n} shards: {e}");
        }
        assert!(t.elapsed() < std::time::Duration::from_secs(5), "{what}: refused only after {:?}", t.elapsed());
    }
    std::fs::write(dir.join(MANIFEST), &good).unwrap();
    let back = Map::open_snapshot(shards(2), &dir).unwrap();
    assert_eq!(contents(&back), model);
    // The last generation: the next save has no number to take.
    rewrite_manifest(&dir, |b| put64(b, 24, u64::MAX));
    let e = back.save(&dir).expect_err("a save after generation 2^64-1");
    assert_eq!(e.status(), Status::SnapshotCorrupt, "{e}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn truncation_wrong_version_foreign_and_missing_files_are_refused() {
    let (dir, model) = saved(5000, 24);
    let files = data_files(&dir);
    let good = std::fs::read(&files[0]).unwrap();
    for cut in [0, 10, 32, 40, good.len() / 2, good.len() - 1] {
        std::fs::write(&files[0], &good[..cut]).unwrap();
        assert_eq!(load_err(&dir), Status::SnapshotCorrupt, "cut at {cut}");
    }
    // Extended by garbage.
    let mut longer = good.clone();
    longer.extend_from_slice(&[0u8; 100]);
    std::fs::write(&files[0], &longer).unwrap();
    assert_eq!(load_err(&dir), Status::SnapshotCorrupt);
    // A foreign file in a data file's place.
    std::fs::write(&files[0], b"\x7fELF this is not a snapshot at all, just some bytes").unwrap();
    assert_eq!(load_err(&dir), Status::NotASnapshot);
    // A missing data file.
    std::fs::remove_file(&files[0]).unwrap();
    assert_eq!(load_err(&dir), Status::SnapshotCorrupt);
    std::fs::write(&files[0], &good).unwrap();
    assert_eq!(contents(&Map::open_snapshot(shards(3), &dir).unwrap()), model);

    let manifest = dir.join(MANIFEST);
    let m = std::fs::read(&manifest).unwrap();
    // Another version, with a valid checksum: the version is reported, not a checksum error.
    let mut v2 = m.clone();
    v2[8..12].copy_from_slice(&2u32.to_le_bytes());
    std::fs::write(&manifest, &v2).unwrap();
    assert_eq!(load_err(&dir), Status::SnapshotVersion);
    std::fs::write(&manifest, &m[..m.len() - 3]).unwrap();
    assert_eq!(load_err(&dir), Status::SnapshotCorrupt);
    std::fs::write(&manifest, b"{\"json\": \"not a snapshot\"}").unwrap();
    assert_eq!(load_err(&dir), Status::NotASnapshot);
    let e = Map::open_snapshot(shards(2), &dir).unwrap_err();
    assert!(e.to_string().contains(MANIFEST), "the message names the file: {e}");
    std::fs::remove_file(&manifest).unwrap();
    assert_eq!(load_err(&dir), Status::NoSnapshot);
    assert_eq!(load_err(&dir.join("does-not-exist")), Status::NoSnapshot);
    std::fs::write(&manifest, &m).unwrap();
    assert_eq!(contents(&Map::open_snapshot(shards(1), &dir).unwrap()), model);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn limits_of_the_loading_map_are_enforced() {
    let (dir, model) = saved(3000, 100);
    let small_values = Config { max_value_len: 99, ..shards(2) };
    assert_eq!(Map::open_snapshot(small_values, &dir).unwrap_err().status(), Status::ValueTooLarge);
    let small_keys = Config { max_key_len: 3, ..shards(2) };
    assert_eq!(Map::open_snapshot(small_keys, &dir).unwrap_err().status(), Status::KeyTooLarge);
    let tight = Config { memory_limit: 100_000, ..shards(2) };
    assert_eq!(Map::open_snapshot(tight, &dir).unwrap_err().status(), Status::Full);
    let roomy = Config { memory_limit: 10_000_000, ..shards(2) };
    let m = Map::open_snapshot(roomy, &dir).unwrap();
    assert_eq!(contents(&m), model);
    // The loaded entries are charged: the limit still holds.
    let st = m.stats().unwrap();
    assert!(st.bytes > 3000 * 100 && st.bytes <= 10_000_000);
    assert!(st.per_shard.iter().all(|s| s.pages_total > 0 && s.entries > 0));
    assert!(st.per_shard.iter().all(|s| !s.binding_applied || s.pages_on_node == s.pages_total));
    // On one node the load's check of each shard's pages finds none elsewhere.
    if numashard::numa::kernel_node_count() == 1 {
        assert!(st.per_shard.iter().all(|s| s.pages_moved == 0));
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn saves_replace_each_other_and_leave_no_stale_files() {
    let map = Map::new(shards(3)).unwrap();
    let dir = tmpdir("gens");
    let mut last = 0;
    for round in 0..4u64 {
        for i in 0..1000u64 {
            map.put(format!("k{i}").as_bytes(), &round.to_le_bytes()).unwrap();
        }
        let r = map.save(&dir).unwrap();
        assert!(r.generation > last);
        last = r.generation;
        let files = data_files(&dir);
        assert_eq!(files.len(), 3, "{files:?}");
        let names: Vec<String> =
            std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
        assert!(names.iter().all(|n| !n.ends_with(".tmp")), "{names:?}");
        let loaded = Map::open_snapshot(shards(2), &dir).unwrap();
        assert!(contents(&loaded).values().all(|v| v == &round.to_le_bytes()));
    }
    // A directory that cannot be created: Io, with the path in the message.
    let file = dir.join(MANIFEST);
    let e = map.save(file.join("sub")).unwrap_err();
    assert_eq!(e.status(), Status::Io, "{e}");
    map.close().unwrap();
    assert_eq!(map.save(&dir).unwrap_err().status(), Status::Closed);
    let _ = std::fs::remove_dir_all(&dir);
}

/// Expiry deadlines survive as absolute times; entries expired by the time
/// of the load are not loaded; the loading map's default TTL does not touch
/// entries the snapshot says never expire; a cache-mode map loads a
/// snapshot larger than its limit by evicting.
#[test]
fn deadlines_survive_and_expired_entries_are_not_loaded() {
    use std::time::Duration;
    let map = Map::new(shards(2)).unwrap();
    for i in 0..500u64 {
        map.put_with_ttl(format!("hour-{i}").as_bytes(), b"h", Duration::from_secs(3600)).unwrap();
        map.put_with_ttl(format!("short-{i}").as_bytes(), b"s", Duration::from_millis(300)).unwrap();
        map.put(format!("forever-{i}").as_bytes(), b"f").unwrap();
    }
    let dir = tmpdir("ttl");
    map.save(&dir).unwrap();
    std::thread::sleep(Duration::from_millis(400));
    let cfg = Config { default_ttl: Some(Duration::from_secs(5)), ..shards(3) };
    let loaded = Map::open_snapshot(cfg, &dir).unwrap();
    assert_eq!(loaded.len().unwrap(), 1000, "the 300 ms entries had expired");
    for i in 0..500u64 {
        assert_eq!(loaded.get(format!("short-{i}").as_bytes()).unwrap(), None);
        let ttl = loaded.ttl(format!("hour-{i}").as_bytes()).unwrap().unwrap().unwrap();
        assert!(ttl > Duration::from_secs(3590) && ttl <= Duration::from_secs(3600), "{ttl:?}");
        assert_eq!(loaded.ttl(format!("forever-{i}").as_bytes()).unwrap(), Some(None));
    }
    // A cache smaller than the snapshot keeps what fits, by evicting.
    let cache = Config { eviction: numashard::Eviction::S3Fifo, memory_limit: 40_000, ..shards(2) };
    let small = Map::open_snapshot(cache, &dir).unwrap();
    let n = small.len().unwrap();
    assert!(n > 0 && n < 1000, "{n} entries in a 40 kB cache");
    assert!(small.stats().unwrap().bytes <= 40_000);
    let _ = std::fs::remove_dir_all(&dir);
}

/// What a version-1 file never holds is refused, with its checksums intact:
/// a key stored twice (a data file whose first block appears again, the
/// manifest's counts made to match) would have loaded with one value
/// silently lost; a manifest flag names a later writer's feature
/// (`SnapshotVersion`); a data file's reserved word lies outside its
/// header's checksum. Every loading shard count reads each file.
#[test]
fn a_key_stored_twice_flags_and_reserved_words_are_refused() {
    let (dir, model) = saved(5000, 24);
    let files = data_files(&dir);
    let good_data = std::fs::read(&files[0]).unwrap();
    let good_manifest = std::fs::read(dir.join(MANIFEST)).unwrap();

    // The file's first block, once more at its end.
    let payload = get64(&good_data, 32) as usize;
    let entries = u32::from_le_bytes(good_data[32 + 8..32 + 12].try_into().unwrap()) as u64;
    assert!(entries > 0 && 32 + 16 + payload <= good_data.len());
    let mut twice = good_data.clone();
    twice.extend_from_slice(&good_data[32..32 + 16 + payload]);
    std::fs::write(&files[0], &twice).unwrap();
    rewrite_manifest(&dir, |b| {
        add64(b, 48, entries); // total entries
        add64(b, 72, entries); // shard 0: entries, bytes, blocks
        add64(b, 80, 16 + payload as u64);
        add64(b, 88, 1);
    });
    for n in [1, 2, 3] {
        let e = Map::open_snapshot(shards(n), &dir).map(|_| ()).expect_err("a key stored twice");
        assert_eq!(e.status(), Status::SnapshotCorrupt, "{n} shards: {e}");
        assert!(e.to_string().contains("twice") && e.to_string().contains(".nss"), "names the file: {e}");
    }
    std::fs::write(&files[0], &good_data).unwrap();
    std::fs::write(dir.join(MANIFEST), &good_manifest).unwrap();

    rewrite_manifest(&dir, |b| b[20] = 1);
    assert_eq!(load_err(&dir), Status::SnapshotVersion);
    std::fs::write(dir.join(MANIFEST), &good_manifest).unwrap();

    let mut reserved = good_data.clone();
    reserved[28] = 1;
    std::fs::write(&files[0], &reserved).unwrap();
    assert_eq!(load_err(&dir), Status::SnapshotCorrupt);
    std::fs::write(&files[0], &good_data).unwrap();

    assert_eq!(contents(&Map::open_snapshot(shards(3), &dir).unwrap()), model);
    let _ = std::fs::remove_dir_all(&dir);
}
