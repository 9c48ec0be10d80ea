//! A fixed loop for instruction counts under callgrind (deterministic where
//! wall time on a shared VM is not): one shard, 1,000 entries of 16-byte
//! keys and 32-byte values (cache-resident), then `ops` operations.
//! `valgrind --tool=callgrind target/release/numashard-instr [ops] [mode]`:
//! - no mode: `ops` single gets and `ops` overwrites;
//! - `get`: `ops` single gets ([`Map::get_into`]);
//! - `cache`: the same on a map that evicts (S3-FIFO, a limit that holds
//!   every entry), counts hits, and gives every entry a TTL;
//! - `batch`: `ops` gets in batches of 64 ([`Map::batch`]);
//! - `batch-staged`: the same on 100,000 entries, a table past the caches
//!   (both modes run the batch path's prefetch stages since run 26 of
//!   bench/results/go.md, which removed the one-pass read of cache-sized
//!   shards; the instructions still count as if every line were in the
//!   cache);
//! - `ceiling`: `ops` gets in batches of 64 on the ceiling engine (the
//!   probe's layout, no concurrency control), for comparison;
//! - `ceiling-inline`: the same on the ceiling with entries inline in the index.
//!
//! Instructions per operation: run two op counts and divide the difference
//! of the totals by the difference of the counts (setup cancels out), e.g.
//! `(Ir(400000) - Ir(200000)) / 200000`.

use numashard::{BatchOp, Config, Eviction, Map};
use numashard_bench::ceiling::CeilingEngine;
use numashard_bench::ceiling_inline::CeilingInlineEngine;
use numashard_bench::engine::{Engine, Op, Reply};
use std::time::Duration;

const ENTRIES: u64 = 1000;
const BATCH: usize = 64;

fn key_of(i: u64, entries: u64) -> [u8; 16] {
    let mut k = [0u8; 16];
    k[..8].copy_from_slice(&(i % entries).wrapping_mul(0x9e37_79b9_7f4a_7c15).to_le_bytes());
    k
}

fn key(i: u64) -> [u8; 16] {
    key_of(i, ENTRIES)
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let ops: u64 = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(1_000_000);
    let mode = args.get(2).map_or("", String::as_str);
    if mode == "ceiling" {
        return ceiling(&CeilingEngine::new(), ops);
    }
    if mode == "ceiling-inline" {
        return ceiling(&CeilingInlineEngine::new(), ops);
    }
    let mut cfg = Config { shards: 1, ..Config::default() };
    if mode == "cache" {
        cfg.memory_limit = 1 << 30;
        cfg.eviction = Eviction::S3Fifo;
        cfg.default_ttl = Some(Duration::from_secs(3600));
    }
    let map = Map::new(cfg).unwrap();
    let entries = if mode == "batch-staged" { 100_000 } else { ENTRIES };
    for i in 0..entries {
        map.put(&key_of(i, entries), &[1u8; 32]).unwrap();
    }
    let mut found = 0;
    if mode == "batch" || mode == "batch-staged" {
        let mut outs = vec![[0u8; 32]; BATCH];
        let mut i = 0;
        while i < ops {
            let keys: Vec<[u8; 16]> = (i..i + BATCH as u64).map(|i| key_of(i, entries)).collect();
            let mut batch: Vec<BatchOp<'_>> =
                keys.iter().zip(outs.iter_mut()).map(|(k, o)| BatchOp::get(k, o)).collect();
            map.batch(&mut batch).unwrap();
            found += batch.iter().filter(|b| b.out_len == 32).count() as u64;
            i += BATCH as u64;
        }
        assert_eq!(found, i);
        return;
    }
    let mut buf = [0u8; 32];
    for i in 0..ops {
        found += map.get_into(&key(i), &mut buf).unwrap().is_some() as u64;
    }
    if mode == "get" {
        assert_eq!(found, ops);
        return;
    }
    for i in 0..ops {
        map.put(&key(i), &[i as u8; 32]).unwrap();
    }
    assert_eq!(found, ops);
}

fn ceiling(engine: &dyn Engine, ops: u64) {
    for i in 0..ENTRIES {
        engine.execute(&Op::Put(&key(i), &[1u8; 32]), &mut []);
    }
    let mut outs = vec![0u8; BATCH * 32];
    let mut replies = vec![Reply::default(); BATCH];
    let (mut i, mut found) = (0, 0);
    while i < ops {
        let keys: Vec<[u8; 16]> = (i..i + BATCH as u64).map(key).collect();
        let batch: Vec<Op<'_>> = keys.iter().map(|k| Op::Get(k)).collect();
        engine.execute_batch(&batch, &mut outs, 32, &mut replies);
        found += replies.iter().filter(|r| r.len == 32).count() as u64;
        i += BATCH as u64;
    }
    assert_eq!(found, i);
}
