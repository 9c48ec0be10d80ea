//! Crash safety of saves: a child process saving in a loop is killed with
//! SIGKILL at random moments, hundreds of times; after every kill the
//! directory loads and holds the previous snapshot or the new one, entirely.
//! And a full file system during a save: an error, the previous snapshot intact.

use numashard::{Config, Map, Status};
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const CHILD_ENV: &str = "NUMASHARD_SNAPSHOT_CRASH_CHILD";
const KEYS: u64 = 3000;

fn value(child: u64, round: u64, k: u64) -> Vec<u8> {
    let mut v = child.to_le_bytes().to_vec();
    v.extend_from_slice(&round.to_le_bytes());
    v.resize(16 + (k % 50) as usize, k as u8);
    v
}

/// The child: fills the map with round r's values and saves, forever,
/// printing every completed round. Does nothing in a normal test run.
#[test]
fn crash_child() {
    let Ok(spec) = std::env::var(CHILD_ENV) else { return };
    let (dir, child) = spec.split_once('|').unwrap();
    let child: u64 = child.parse().unwrap();
    let map = Map::new(Config { shards: 3, ..Config::default() }).unwrap();
    println!("ready");
    for round in 1.. {
        for k in 0..KEYS {
            map.put(format!("key-{k}").as_bytes(), &value(child, round, k)).unwrap();
        }
        map.save(dir).unwrap();
        println!("saved {round}");
    }
}

/// (child, round) of a loaded snapshot, checking it is one round entirely.
fn loaded_round(dir: &Path) -> Option<(u64, u64)> {
    let map = match Map::open_snapshot(Config { shards: 2, ..Config::default() }, dir) {
        Ok(m) => m,
        Err(e) if e.status() == Status::NoSnapshot => return None,
        Err(e) => panic!("after a kill the snapshot must load: {e}"),
    };
    let all: BTreeMap<Vec<u8>, Vec<u8>> = map.iter().unwrap().map(|r| r.unwrap()).collect();
    assert_eq!(all.len() as u64, KEYS, "a snapshot holds every key");
    let first = all.get(b"key-0".as_slice()).unwrap();
    let child = u64::from_le_bytes(first[..8].try_into().unwrap());
    let round = u64::from_le_bytes(first[8..16].try_into().unwrap());
    for k in 0..KEYS {
        assert_eq!(
            all.get(format!("key-{k}").as_bytes()),
            Some(&value(child, round, k)),
            "key-{k}: the snapshot mixes rounds (expected child {child} round {round})"
        );
    }
    Some((child, round))
}

#[test]
fn sigkill_during_saves_leaves_the_previous_or_the_new_snapshot() {
    let rounds: u64 = std::env::var("NUMASHARD_CRASH_ROUNDS").ok().and_then(|v| v.parse().ok()).unwrap_or(200);
    let dir = std::env::temp_dir().join(format!("numashard-crash-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let exe = std::env::current_exe().unwrap();
    let mut rng = 0x2545_F491_4F6C_DD1Du64;
    let mut prev: Option<(u64, u64)> = None;
    let (mut mid_save, mut saves) = (0u64, 0u64);
    let t0 = Instant::now();
    for child in 1..=rounds {
        let mut c = Command::new(&exe)
            .args(["--exact", "crash_child", "--nocapture", "--test-threads=1"])
            .env(CHILD_ENV, format!("{}|{child}", dir.display()))
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(c.stdout.take().unwrap()).lines();
        // Wait for the child's map, then kill it at a random moment of its saves.
        let ready = lines.by_ref().map_while(Result::ok).find(|l| l.ends_with("ready"));
        assert!(ready.is_some(), "child {child} did not start");
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        std::thread::sleep(Duration::from_micros(rng % 60_000));
        c.kill().unwrap();
        c.wait().unwrap();
        let last = lines
            .map_while(Result::ok)
            .filter_map(|l| l.strip_prefix("saved ").map(|r| r.parse::<u64>().unwrap()))
            .last();
        saves += last.unwrap_or(0);
        // Files of a save that did not finish (or old generations it had not removed yet).
        let leftovers = std::fs::read_dir(&dir).unwrap().filter(|e| {
            let n = e.as_ref().unwrap().file_name().into_string().unwrap();
            n.ends_with(".tmp")
        });
        if leftovers.count() > 0 {
            mid_save += 1;
        }
        let now = loaded_round(&dir);
        let allowed: Vec<Option<(u64, u64)>> = match last {
            // No save of this child completed: the previous snapshot, or its first.
            None => vec![prev, Some((child, 1))],
            Some(r) => vec![Some((child, r)), Some((child, r + 1))],
        };
        assert!(allowed.contains(&now), "child {child}: loaded {now:?}, allowed {allowed:?}");
        prev = now;
    }
    eprintln!(
        "{rounds} kills in {:.1} s: {saves} saves completed, {mid_save} kills left a save's temporary files",
        t0.elapsed().as_secs_f64()
    );
    assert!(mid_save * 10 >= rounds, "too few kills landed inside a save ({mid_save} of {rounds})");
    let _ = std::fs::remove_dir_all(&dir);
}

/// A tmpfs mounted for the test, unmounted when dropped.
struct SmallFs(PathBuf);

impl Drop for SmallFs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
        let _ = std::fs::remove_dir(&self.0);
    }
}

#[test]
fn a_full_file_system_fails_the_save_and_keeps_the_previous_snapshot() {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("SKIPPED: mounting a small tmpfs needs root (the CI machine runs as root)");
        return;
    }
    let mnt = std::env::temp_dir().join(format!("numashard-fullfs-{}", std::process::id()));
    std::fs::create_dir_all(&mnt).unwrap();
    let ok = Command::new("mount").args(["-t", "tmpfs", "-o", "size=2m", "numashard-test"]).arg(&mnt).status().unwrap();
    assert!(ok.success(), "mount tmpfs failed");
    let fs = SmallFs(mnt);
    let dir = fs.0.join("snap");
    let map = Map::new(Config { shards: 2, ..Config::default() }).unwrap();
    for i in 0..2000u64 {
        map.put(format!("k{i}").as_bytes(), &[1u8; 100]).unwrap();
    }
    let first = map.save(&dir).unwrap();
    let before: BTreeMap<Vec<u8>, Vec<u8>> = map.iter().unwrap().map(|r| r.unwrap()).collect();
    // Now more than the file system holds.
    for i in 0..20_000u64 {
        map.put(format!("k{i}").as_bytes(), &[2u8; 200]).unwrap();
    }
    let e = map.save(&dir).unwrap_err();
    assert_eq!(e.status(), Status::Io, "{e}");
    assert!(e.to_string().contains("No space left"), "the message says why: {e}");
    // Nothing of the failed save is left; the first snapshot loads entirely.
    let names: Vec<String> =
        std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
    assert!(
        names.iter().all(|n| !n.ends_with(".tmp") && !n.contains(&format!("{:016x}", first.generation + 1))),
        "{names:?}"
    );
    let loaded = Map::open_snapshot(Config { shards: 3, ..Config::default() }, &dir).unwrap();
    let after: BTreeMap<Vec<u8>, Vec<u8>> = loaded.iter().unwrap().map(|r| r.unwrap()).collect();
    assert_eq!(after, before);
    // The map itself is untouched and a later save with room succeeds.
    assert_eq!(map.len().unwrap(), 20_000);
    map.clear().unwrap();
    map.put(b"x", b"y").unwrap();
    map.save(&dir).unwrap();
    assert_eq!(Map::open_snapshot(Config::default(), &dir).unwrap().len().unwrap(), 1);
}
