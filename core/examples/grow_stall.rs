//! Probe: how long do readers and writers of a shard wait while its index doubles?
use numashard::{Config, Map};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;

fn key(i: u64) -> [u8; 16] {
    let mut k = [0u8; 16];
    k[..8].copy_from_slice(&i.wrapping_mul(0x9e37_79b9_7f4a_7c15).to_le_bytes());
    k[8..].copy_from_slice(&i.to_le_bytes());
    k
}

fn main() {
    let n: u64 = std::env::args().nth(1).map_or(4_000_000, |s| s.parse().unwrap());
    let map = Arc::new(Map::new(Config { shards: 1, ..Config::default() }).unwrap());
    for i in 0..1000 {
        map.put(&key(i), &[1u8; 32]).unwrap();
    }
    let done = Arc::new(AtomicBool::new(false));
    let r = {
        let (map, done) = (map.clone(), done.clone());
        std::thread::spawn(move || {
            let mut worst = 0u128;
            let mut over_1ms = 0u64;
            let mut reads = 0u64;
            let mut buf = [0u8; 64];
            let mut i = 0u64;
            while !done.load(Ordering::Relaxed) {
                let t = Instant::now();
                map.get_into(&key(i % 1000), &mut buf).unwrap();
                let d = t.elapsed().as_nanos();
                worst = worst.max(d);
                if d > 1_000_000 {
                    over_1ms += 1;
                }
                reads += 1;
                i += 1;
            }
            (worst, over_1ms, reads)
        })
    };
    let mut worst_put = 0u128;
    let t0 = Instant::now();
    for i in 1000..n {
        let t = Instant::now();
        map.put(&key(i), &[2u8; 32]).unwrap();
        let d = t.elapsed().as_nanos();
        if d > worst_put {
            worst_put = d;
        }
        if d > 5_000_000 {
            println!("put {i}: {:.1} ms", d as f64 / 1e6);
        }
    }
    let fill = t0.elapsed();
    done.store(true, Ordering::Relaxed);
    let (worst, over, reads) = r.join().unwrap();
    println!("{n} entries in {fill:?}; worst put {:.1} ms; reader: worst get {:.1} ms, {over} gets over 1 ms of {reads}",
        worst_put as f64 / 1e6, worst as f64 / 1e6);
}
