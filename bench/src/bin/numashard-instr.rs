//! A fixed loop for instruction counts under callgrind (deterministic where
//! wall time on a shared VM is not): one shard, 1,000 entries of 16-byte
//! keys and 32-byte values, then `ops` single gets and `ops` overwrites.
//! `valgrind --tool=callgrind target/release/numashard-instr [ops] [cache]`:
//! with `cache` the map evicts (S3-FIFO, a limit that holds every entry)
//! and counts hits, and every entry has a TTL.

use numashard::{Config, Eviction, Map};
use std::time::Duration;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let ops: u64 = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(1_000_000);
    let cache = args.get(2).is_some_and(|a| a == "cache");
    let mut cfg = Config { shards: 1, ..Config::default() };
    if cache {
        cfg.memory_limit = 1 << 30;
        cfg.eviction = Eviction::S3Fifo;
        cfg.default_ttl = Some(Duration::from_secs(3600));
    }
    let map = Map::new(cfg).unwrap();
    let key = |i: u64| {
        let mut k = [0u8; 16];
        k[..8].copy_from_slice(&(i % 1000).wrapping_mul(0x9e37_79b9_7f4a_7c15).to_le_bytes());
        k
    };
    for i in 0..1000 {
        map.put(&key(i), &[1u8; 32]).unwrap();
    }
    let mut buf = [0u8; 32];
    let mut found = 0;
    for i in 0..ops {
        found += map.get_into(&key(i), &mut buf).unwrap().is_some() as u64;
    }
    for i in 0..ops {
        map.put(&key(i), &[i as u8; 32]).unwrap();
    }
    assert_eq!(found, ops);
}
