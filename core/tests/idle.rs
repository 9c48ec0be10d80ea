//! An open map with no traffic uses (almost) no CPU: its owner threads park.
//! Alone in its test binary so that no other test's threads are counted.

use numashard::{Config, Map};
use std::time::Duration;

/// CPU time (user + system, in clock ticks) of this process's threads named numashard-*.
fn owner_ticks() -> u64 {
    let mut total = 0;
    for e in std::fs::read_dir("/proc/self/task").unwrap() {
        let dir = e.unwrap().path();
        let comm = std::fs::read_to_string(dir.join("comm")).unwrap_or_default();
        if !comm.starts_with("numashard-") {
            continue;
        }
        let stat = std::fs::read_to_string(dir.join("stat")).unwrap_or_default();
        // fields after the ")" of comm: state is field 3; utime 14, stime 15
        let rest = &stat[stat.rfind(')').unwrap() + 2..];
        let f: Vec<&str> = rest.split_whitespace().collect();
        total += f[11].parse::<u64>().unwrap() + f[12].parse::<u64>().unwrap();
    }
    total
}

#[test]
fn idle_map_uses_no_cpu() {
    let map = Map::new(Config { shards: 4, ..Config::default() }).unwrap();
    for k in 0..10_000u32 {
        map.put(&k.to_le_bytes(), b"value").unwrap();
    }
    let mut ops = vec![];
    let keys: Vec<[u8; 4]> = (0..64u32).map(|k| k.to_le_bytes()).collect();
    let mut outs = vec![[0u8; 8]; 64];
    ops.extend(keys.iter().zip(outs.iter_mut()).map(|(k, o)| numashard::BatchOp::get(k, o)));
    map.batch(&mut ops).unwrap(); // wakes the owners
    drop(ops);
    std::thread::sleep(Duration::from_millis(100));
    let before = owner_ticks();
    std::thread::sleep(Duration::from_secs(1));
    let used = owner_ticks() - before;
    // clock ticks are 10 ms: 1% of one second is one tick
    assert!(used <= 1, "idle owners used {used} ticks (10 ms each) in one second");
}
