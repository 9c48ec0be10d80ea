//! When owner threads start: with the map in `ExecMode::Delegate`, in the
//! default mode on first need (retired memory, deadlines, `replace_all`),
//! and that close joins every one that started. Alone in its test binary so
//! that no other test's threads are counted.

use numashard::{Config, ExecMode, Map};
use std::time::{Duration, Instant};

/// Threads of this process named like an owner (`numashard-<shard>`).
fn owner_threads() -> usize {
    std::fs::read_dir("/proc/self/task")
        .unwrap()
        .filter(|e| {
            let comm = std::fs::read_to_string(e.as_ref().unwrap().path().join("comm")).unwrap_or_default();
            comm.trim()
                .strip_prefix("numashard-")
                .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
        })
        .count()
}

/// Polls `f` for up to ten seconds (the machine may be busy).
fn eventually(what: &str, mut f: impl FnMut() -> bool) {
    let t0 = Instant::now();
    while !f() {
        assert!(t0.elapsed() < Duration::from_secs(10), "{what}: not within 10 s");
        std::thread::sleep(Duration::from_millis(5));
    }
}

fn two_shards(exec_mode: ExecMode) -> Config {
    Config { shards: 2, exec_mode, ..Config::default() }
}

#[test]
fn owners_start_with_delegate_maps_and_on_first_need_otherwise() {
    // The default mode: opening starts no thread, and small traffic none either.
    let maps: Vec<Map> = (0..20).map(|_| Map::new(two_shards(ExecMode::Auto)).unwrap()).collect();
    assert_eq!(owner_threads(), 0, "opening a map in the default mode started threads");
    maps[0].put(b"k", b"v").unwrap();
    assert_eq!(maps[0].get(b"k").unwrap(), Some(b"v".to_vec()));
    assert_eq!(owner_threads(), 0);

    // Growth retires the outgrown slot arrays: each shard's owner starts to
    // free them after their grace period.
    for i in 0..5_000u32 {
        maps[1].put(&i.to_le_bytes(), b"value").unwrap();
    }
    eventually("owners of the grown map", || owner_threads() == 2);
    assert_eq!(maps[1].len().unwrap(), 5_000);

    // replace_all is built on the owners: it starts them.
    maps[2].replace_all(&[(b"a".as_slice(), b"1".as_slice()), (b"b", b"2")]).unwrap();
    assert_eq!(owner_threads(), 4);
    assert_eq!((maps[2].get(b"a").unwrap(), maps[2].len().unwrap()), (Some(b"1".to_vec()), 2));

    // A first deadline wakes (here: starts) the owner, which expires the
    // entry with no further call on the map.
    maps[3].put_with_ttl(b"t", b"v", Duration::from_millis(10)).unwrap();
    eventually("background expiry", || maps[3].stats().unwrap().expirations == 1);
    assert_eq!(owner_threads(), 5);

    // Delegate: every owner runs from the start, and does the work.
    let d = Map::new(two_shards(ExecMode::Delegate)).unwrap();
    assert_eq!(owner_threads(), 7);
    d.put(b"x", b"y").unwrap();
    assert_eq!(d.get(b"x").unwrap(), Some(b"y".to_vec()));

    // Close joins every owner that started; a closed map starts none.
    for m in &maps {
        m.close().unwrap();
    }
    assert!(maps[5].replace_all(&[(b"a", b"1")]).is_err());
    drop(d);
    assert_eq!(owner_threads(), 0, "close left owner threads behind");
}
