//! Cache mode against the Rust caches users pick instead (moka, quick_cache):
//! hit ratio and speed of a read-through loop (get; on a miss, put) on the
//! same seeded traces — Zipf over the key space with θ = 0.7, 0.9, 0.99,
//! and Zipf 0.9 polluted by sequential scans of fresh keys larger than the
//! cache — with the cache sized at 1% and 10% of the key space, 16-byte
//! keys and 32-byte values, 1 and 2 threads.
//!
//! numashard is given the memory its entries cost at that capacity
//! (`memory_limit` = capacity × 80 B: record 56 + slot 16 + queue 8), the
//! peers the same capacity in entries.
//!
//! `cargo run --release -p numashard-bench --bin numashard-cache -- [keys] [requests] [trace filter]`
//! `cargo run --release -p numashard-bench --bin numashard-cache -- speed [capacity] [requests] [repeats]`
//! `cargo run --release -p numashard-bench --bin numashard-cache -- traces [dir]` (for the Go and Java harnesses)

use numashard::{Config, Eviction, Map};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

/// xorshift64*: a small seeded generator, so traces repeat run to run.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// A Zipf(θ) sampler over ranks 0..n; ranks are scattered over the key
/// space by a fixed permutation so hot keys are not neighbours.
fn zipf_trace(n: u64, theta: f64, len: usize, seed: u64) -> Vec<u64> {
    let mut cdf = Vec::with_capacity(n as usize);
    let mut sum = 0.0;
    for r in 1..=n {
        sum += 1.0 / (r as f64).powf(theta);
        cdf.push(sum);
    }
    let mut rng = Rng(seed | 1);
    (0..len)
        .map(|_| {
            let u = rng.unit() * sum;
            let rank = cdf.partition_point(|&c| c < u) as u64;
            rank.wrapping_mul(0x9e37_79b9_7f4a_7c15) % n
        })
        .collect()
}

/// Zipf 0.9 with a scan of `scan` never-seen keys every `every` requests.
fn scan_trace(n: u64, len: usize, scan: usize, every: usize, seed: u64) -> Vec<u64> {
    let base = zipf_trace(n, 0.9, len, seed);
    let mut out = Vec::with_capacity(len + len / every * scan);
    let mut fresh = n;
    for (i, k) in base.into_iter().enumerate() {
        if i % every == every - 1 {
            for _ in 0..scan {
                out.push(fresh);
                fresh += 1;
            }
        }
        out.push(k);
    }
    out
}

fn key(k: u64) -> [u8; 16] {
    let mut b = [0u8; 16];
    b[..8].copy_from_slice(&k.to_le_bytes());
    b[8..].copy_from_slice(&(!k).to_le_bytes());
    b
}

trait Cache: Sync {
    fn name(&self) -> &'static str;
    /// True on a hit.
    fn get(&self, k: &[u8; 16], buf: &mut [u8; 32]) -> bool;
    fn put(&self, k: &[u8; 16], v: &[u8; 32]);
}

struct Ns(Map);
impl Cache for Ns {
    fn name(&self) -> &'static str {
        "numashard"
    }
    fn get(&self, k: &[u8; 16], buf: &mut [u8; 32]) -> bool {
        self.0.get_into(k, buf).unwrap().is_some()
    }
    fn put(&self, k: &[u8; 16], v: &[u8; 32]) {
        self.0.put(k, v).unwrap();
    }
}

struct Moka(moka::sync::Cache<[u8; 16], [u8; 32]>);
impl Cache for Moka {
    fn name(&self) -> &'static str {
        "moka"
    }
    fn get(&self, k: &[u8; 16], buf: &mut [u8; 32]) -> bool {
        match self.0.get(k) {
            Some(v) => {
                *buf = v;
                true
            }
            None => false,
        }
    }
    fn put(&self, k: &[u8; 16], v: &[u8; 32]) {
        self.0.insert(*k, *v);
    }
}

struct Quick(quick_cache::sync::Cache<[u8; 16], [u8; 32]>);
impl Cache for Quick {
    fn name(&self) -> &'static str {
        "quick_cache"
    }
    fn get(&self, k: &[u8; 16], buf: &mut [u8; 32]) -> bool {
        match self.0.get(k) {
            Some(v) => {
                *buf = v;
                true
            }
            None => false,
        }
    }
    fn put(&self, k: &[u8; 16], v: &[u8; 32]) {
        self.0.insert(*k, *v);
    }
}

fn engines(cap: u64) -> Vec<Box<dyn Cache>> {
    let ns = Map::new(Config { memory_limit: cap * 80, eviction: Eviction::S3Fifo, ..Config::default() }).unwrap();
    vec![
        Box::new(Ns(ns)),
        Box::new(Moka(moka::sync::Cache::new(cap))),
        Box::new(Quick(quick_cache::sync::Cache::new(cap as usize))),
    ]
}

/// Runs the trace read-through on `threads` threads (thread t takes every
/// `threads`-th request): (hit ratio, Mops/s).
fn run(c: &dyn Cache, trace: &[u64], threads: usize) -> (f64, f64) {
    let hits = AtomicU64::new(0);
    let t0 = Instant::now();
    std::thread::scope(|s| {
        for t in 0..threads {
            let hits = &hits;
            s.spawn(move || {
                let mut buf = [0u8; 32];
                let mut h = 0;
                for &k in trace.iter().skip(t).step_by(threads) {
                    let kb = key(k);
                    if c.get(&kb, &mut buf) {
                        h += 1;
                    } else {
                        let mut v = [0u8; 32];
                        v[..8].copy_from_slice(&k.to_le_bytes());
                        c.put(&kb, &v);
                    }
                }
                hits.fetch_add(h, Ordering::Relaxed);
            });
        }
    });
    let secs = t0.elapsed().as_secs_f64();
    (hits.load(Ordering::Relaxed) as f64 / trace.len() as f64, trace.len() as f64 / secs / 1e6)
}

/// numashard's read-through in batches of 64: one batch of gets, then one
/// batch of puts for the misses. Returns (hit ratio, Mops/s).
fn run_batched(m: &Map, trace: &[u64], threads: usize, ttl: Option<std::time::Duration>) -> (f64, f64) {
    use numashard::{BatchOp, Status};
    let hits = AtomicU64::new(0);
    let t0 = Instant::now();
    std::thread::scope(|s| {
        for t in 0..threads {
            let hits = &hits;
            s.spawn(move || {
                let mine: Vec<u64> = trace.iter().skip(t).step_by(threads).copied().collect();
                let mut h = 0;
                for chunk in mine.chunks(64) {
                    let keys: Vec<[u8; 16]> = chunk.iter().map(|&k| key(k)).collect();
                    let mut bufs = [[0u8; 32]; 64];
                    let mut ops: Vec<BatchOp<'_>> =
                        keys.iter().zip(bufs.iter_mut()).map(|(k, b)| BatchOp::get(k, b)).collect();
                    m.batch(&mut ops).unwrap();
                    let missed: Vec<usize> = (0..ops.len()).filter(|&i| ops[i].status != Status::Ok).collect();
                    h += (ops.len() - missed.len()) as u64;
                    drop(ops);
                    if !missed.is_empty() {
                        let vals: Vec<[u8; 32]> = missed.iter().map(|&i| value(chunk[i])).collect();
                        let mut puts: Vec<BatchOp<'_>> = missed
                            .iter()
                            .zip(vals.iter())
                            .map(|(&i, v)| {
                                let op = BatchOp::put(&keys[i], v);
                                match ttl {
                                    Some(d) => op.with_ttl(d),
                                    None => op,
                                }
                            })
                            .collect();
                        m.batch(&mut puts).unwrap();
                    }
                }
                hits.fetch_add(h, Ordering::Relaxed);
            });
        }
    });
    let secs = t0.elapsed().as_secs_f64();
    (hits.load(Ordering::Relaxed) as f64 / trace.len() as f64, trace.len() as f64 / secs / 1e6)
}

fn value(k: u64) -> [u8; 32] {
    let mut v = [0u8; 32];
    v[..8].copy_from_slice(&k.to_le_bytes());
    v
}

/// The traces of the hit-ratio table (100,000 keys, 1,000,000 requests),
/// written as little-endian u64 key ids, one file per trace, for the Go and
/// Java harnesses to replay exactly (`key(id)` = id then !id, 8 bytes each,
/// little-endian).
fn write_traces(dir: &str) {
    std::fs::create_dir_all(dir).unwrap();
    let n = 100_000u64;
    let len = 1_000_000;
    for (name, t) in traces(n, len) {
        let bytes: Vec<u8> = t.iter().flat_map(|k| k.to_le_bytes()).collect();
        std::fs::write(format!("{dir}/{name}.u64"), bytes).unwrap();
    }
    println!("wrote the traces of {n} keys, {len} requests to {dir}/*.u64");
}

fn traces(n: u64, len: usize) -> Vec<(String, Vec<u64>)> {
    vec![
        ("zipf-0.7".into(), zipf_trace(n, 0.7, len, 7)),
        ("zipf-0.9".into(), zipf_trace(n, 0.9, len, 9)),
        ("zipf-0.99".into(), zipf_trace(n, 0.99, len, 99)),
        ("scan".into(), scan_trace(n, len, (n / 5) as usize, len / 10, 5)),
    ]
}

/// One row of the speed table: engine, mode, (hit ratio, Mops/s) per repeat.
type Row = (String, String, Vec<(f64, f64)>);

/// Speed with eviction active: a cache of `cap` entries under a Zipf 0.9
/// read-through over ten times as many keys, after a fill by another trace; rows for
/// single calls (every engine) and numashard's batches of 64, with and
/// without a TTL on every put (numashard; moka's and quick_cache's sync
/// caches take no per-entry TTL in these calls).
fn speed(cap: u64, len: usize, repeats: usize) {
    let n = cap * 10;
    let fill = zipf_trace(n, 0.9, len, 41);
    let trace = zipf_trace(n, 0.9, len, 42);
    println!(
        "speed: capacity {cap} entries, {n} keys, Zipf 0.9, {len} requests after a fill of as many, read-through, \
         16 B keys, 32 B values"
    );
    println!("| threads | engine | mode | hit ratio | Mops/s (median of {repeats}) | ÷ best peer |");
    println!("|---|---|---|---|---|---|");
    for threads in [1usize, 2] {
        let mut rows: Vec<Row> = Vec::new();
        for _ in 0..repeats {
            let mut i = 0;
            let mut push = |e: &str, mode: &str, r: (f64, f64)| {
                if rows.len() <= i {
                    rows.push((e.to_string(), mode.to_string(), Vec::new()));
                }
                rows[i].2.push(r);
                i += 1;
            };
            for c in engines(cap) {
                run(c.as_ref(), &fill, threads); // fill: eviction active from here on
                let r = run(c.as_ref(), &trace, threads);
                push(c.name(), "single", r);
            }
            for ttl in [None, Some(std::time::Duration::from_secs(3600))] {
                let m = Map::new(Config { memory_limit: cap * 80, eviction: Eviction::S3Fifo, ..Config::default() })
                    .unwrap();
                run_batched(&m, &fill, threads, ttl);
                let r = run_batched(&m, &trace, threads, ttl);
                push("numashard", if ttl.is_some() { "batch 64, TTL on puts" } else { "batch 64" }, r);
            }
        }
        let med = |v: &Vec<(f64, f64)>| {
            let mut m: Vec<f64> = v.iter().map(|r| r.1).collect();
            m.sort_by(|a, b| a.partial_cmp(b).unwrap());
            (v[0].0, m[m.len() / 2])
        };
        let best_peer = rows.iter().filter(|r| r.0 != "numashard").map(|r| med(&r.2).1).fold(0.0, f64::max);
        for (e, mode, v) in &rows {
            let (h, m) = med(v);
            println!("| {threads} | {e} | {mode} | {h:.4} | {m:.2} | {:.2}× |", m / best_peer);
        }
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("speed") {
        let cap = args.get(2).and_then(|a| a.parse().ok()).unwrap_or(1_000_000);
        let len = args.get(3).and_then(|a| a.parse().ok()).unwrap_or(2_000_000);
        let repeats = args.get(4).and_then(|a| a.parse().ok()).unwrap_or(3);
        return speed(cap, len, repeats);
    }
    let n: u64 = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(100_000);
    let len: usize = args.get(2).and_then(|a| a.parse().ok()).unwrap_or(1_000_000);
    if args.get(1).map(String::as_str) == Some("traces") {
        return write_traces(args.get(2).map(String::as_str).unwrap_or("target/cache-traces"));
    }
    let only = args.get(3).cloned().unwrap_or_default();
    let mut traces = traces(n, len);
    traces.retain(|(name, _)| name.contains(&only));
    println!("keys {n}, requests {len} per trace (scan: + 10 scans of {} fresh keys), 16 B keys, 32 B values", n / 5);
    println!("| trace | cache | threads | engine | hit ratio | Mops/s | vs best peer (pp) |");
    println!("|---|---|---|---|---|---|---|");
    for (name, trace) in &traces {
        for pct in [1u64, 10] {
            let cap = n * pct / 100;
            for threads in [1usize, 2] {
                let results: Vec<(&'static str, f64, f64)> = engines(cap)
                    .iter()
                    .map(|c| {
                        let (h, m) = run(c.as_ref(), trace, threads);
                        (c.name(), h, m)
                    })
                    .collect();
                let best_peer = results.iter().skip(1).map(|r| r.1).fold(0.0, f64::max);
                for (e, h, m) in &results {
                    let d = if *e == "numashard" { format!("{:+.2}", (h - best_peer) * 100.0) } else { String::new() };
                    println!("| {name} | {pct}% | {threads} | {e} | {:.4} | {m:.2} | {d} |", h);
                }
            }
        }
    }
}
