//! A short demonstration: open a map with the default placement, show the
//! topology and the placement it chose, run a mixed workload from several
//! threads, print throughput and per-shard stats.
//!
//! `cargo run --release -p numashard --example demo -- [threads] [seconds] [keys]`

use numashard::{BatchOp, Config, Map};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

fn key(i: u64) -> [u8; 16] {
    let mut k = [0u8; 16];
    k[..8].copy_from_slice(&i.to_le_bytes());
    k[8..].copy_from_slice(&(i ^ 0x9e37_79b9_7f4a_7c15).to_le_bytes());
    k
}

fn main() {
    let args: Vec<u64> = std::env::args().skip(1).filter_map(|a| a.parse().ok()).collect();
    let threads = *args.first().unwrap_or(&4) as usize;
    let seconds = *args.get(1).unwrap_or(&2);
    let keys = *args.get(2).unwrap_or(&100_000);

    let map = Arc::new(Map::new(Config::default()).expect("open map"));
    println!("topology : {}", map.topology().describe());
    for p in map.placements() {
        println!("shard {:>3}: node {} cpu {} memory node {}", p.shard, p.node, p.cpu, p.memory_node);
    }
    let value = [7u8; 32];
    for i in 0..keys {
        map.put(&key(i), &value).unwrap();
    }
    println!("loaded   : {} entries of 16 B keys / 32 B values", map.len().unwrap());

    let stop = Arc::new(AtomicBool::new(false));
    let single = Arc::new(AtomicU64::new(0));
    let batched = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let handles: Vec<_> = (0..threads)
        .map(|t| {
            let (map, stop, single, batched) = (map.clone(), stop.clone(), single.clone(), batched.clone());
            std::thread::spawn(move || {
                let mut x = 0x2545_f491_4f6c_dd1d_u64 ^ (t as u64 + 1);
                let mut next = move || {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    x
                };
                let mut buf = [0u8; 64];
                let (mut s, mut b) = (0u64, 0u64);
                while !stop.load(Ordering::Relaxed) {
                    if t % 2 == 0 {
                        // single calls: 90% get, 10% put
                        for _ in 0..256 {
                            let r = next();
                            let k = key(r % keys);
                            if r % 10 == 0 {
                                map.put(&k, &value).unwrap();
                            } else {
                                map.get_into(&k, &mut buf).unwrap();
                            }
                        }
                        s += 256;
                    } else {
                        // batches of 64 gets
                        let ks: Vec<[u8; 16]> = (0..64).map(|_| key(next() % keys)).collect();
                        let mut outs = vec![[0u8; 32]; 64];
                        let mut ops: Vec<BatchOp> =
                            ks.iter().zip(outs.iter_mut()).map(|(k, o)| BatchOp::get(k, o)).collect();
                        map.batch(&mut ops).unwrap();
                        b += 64;
                    }
                }
                single.fetch_add(s, Ordering::Relaxed);
                batched.fetch_add(b, Ordering::Relaxed);
            })
        })
        .collect();
    std::thread::sleep(Duration::from_secs(seconds));
    stop.store(true, Ordering::Relaxed);
    for h in handles {
        h.join().unwrap();
    }
    let secs = start.elapsed().as_secs_f64();
    let (s, b) = (single.load(Ordering::Relaxed), batched.load(Ordering::Relaxed));
    println!(
        "workload : {threads} threads, {seconds} s, {keys} keys: single calls (90% get / 10% put) on even threads, 64-get batches on odd threads"
    );
    println!(
        "throughput: {:.2} Mops/s total ({:.2} single, {:.2} batched)",
        (s + b) as f64 / secs / 1e6,
        s as f64 / secs / 1e6,
        b as f64 / secs / 1e6
    );
    let st = map.stats().unwrap();
    println!(
        "stats    : {} entries, {} bytes charged ({:.1} B/entry), {} bytes mapped, binding applied: {}",
        st.entries,
        st.bytes,
        st.bytes as f64 / st.entries.max(1) as f64,
        st.mapped_bytes,
        st.binding_applied
    );
    for s in &st.per_shard {
        println!(
            "shard {:>3}: node {} cpu {} entries {} ops {} queue high-water {} binding {} pages on node {}/{}",
            s.shard,
            s.node,
            s.cpu,
            s.entries,
            s.ops,
            s.queue_high_water,
            s.binding_applied,
            s.pages_on_node,
            s.pages_total
        );
    }
    map.close().unwrap();
}
