//! Near cache against the plain client on loopback: Zipf (θ 0.99) reads over
//! 1M keys, per read and per batch of 64, one client thread, near caches
//! sized for about 90% and 99% hits. Starts its own redis-server on a free
//! 127.0.0.1 port (killed at the end) and prints a markdown table. The Zipf
//! draws are made before the clock starts and the keys are borrowed from one
//! buffer, so the timed calls measure the clients, not the harness.
//!
//! cargo run --release -p numashard-redis --example near_bench -- [--keys N] [--seconds S] [--value-size B] [--go-bench PATH [--go-only]]
//!
//! With `--go-bench`, the Go program `bindings/go/bench/cmd/nearbench`
//! (package nearcache against rueidis with and without DoCache) runs against
//! the same loaded server afterwards, and its table follows
//! (`scripts/bench-near-cache.sh` builds and runs both).

use numashard_redis::{NearCache, NearConfig};
use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// Zipf over ranks 0..n with exponent theta, by inverse CDF (binary search).
struct Zipf {
    cdf: Vec<f64>,
}
impl Zipf {
    fn new(n: usize, theta: f64) -> Zipf {
        let mut cdf = Vec::with_capacity(n);
        let mut sum = 0.0;
        for i in 1..=n {
            sum += 1.0 / (i as f64).powf(theta);
            cdf.push(sum);
        }
        for c in &mut cdf {
            *c /= sum;
        }
        Zipf { cdf }
    }
    fn sample(&self, rng: &mut Rng) -> usize {
        let u = rng.unit();
        self.cdf.partition_point(|&c| c < u).min(self.cdf.len() - 1)
    }
    /// Fewest top-ranked keys that receive `share` of the reads.
    fn top_for(&self, share: f64) -> usize {
        self.cdf.partition_point(|&c| c < share) + 1
    }
}

fn key(i: usize) -> Vec<u8> {
    format!("bench:{i:07}").into_bytes()
}

/// Every key, 13 bytes each, in one buffer: timed calls borrow their key
/// instead of formatting it.
struct Keys(Vec<u8>);
impl Keys {
    fn new(n: usize) -> Keys {
        Keys((0..n).flat_map(key).collect())
    }
    fn get(&self, i: usize) -> &[u8] {
        &self.0[i * 13..(i + 1) * 13]
    }
}

/// Zipf draws made before the clock starts, replayed in order (cyclically).
struct Stream {
    ranks: Vec<u32>,
    pos: usize,
}
impl Stream {
    fn next(&mut self) -> usize {
        self.pos = (self.pos + 1) % self.ranks.len();
        self.ranks[self.pos] as usize
    }
}

struct Server(Child);
impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start_server() -> (Server, String) {
    let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let child = Command::new("redis-server")
        .args(["--port", &port.to_string(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
        // Keys tracked for the caches of earlier rows (and of clients gone)
        // stay in the server's tracking table; at the default limit of 1M
        // keys the server would evict entries of later rows' caches
        // (invalidating their copies). 0 = no limit, as a fleet of near
        // caches needs (see tiers/redis/README.md).
        .args(["--tracking-table-max-keys", "0"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("redis-server (scripts/setup.sh installs it)");
    let addr = format!("127.0.0.1:{port}");
    let server = Server(child);
    let client = redis::Client::open(format!("redis://{addr}/")).unwrap();
    for _ in 0..500 {
        if let Ok(mut c) = client.get_connection() {
            if redis::cmd("PING").query::<String>(&mut c).is_ok() {
                return (server, addr);
            }
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    panic!("redis-server did not start");
}

struct Run {
    name: String,
    keys_read: u64,
    secs: f64,
    lat: Vec<u32>,
    hit_ratio: Option<f64>,
}

impl Run {
    fn pct(&mut self, p: f64) -> f64 {
        self.lat.sort_unstable();
        self.lat[((self.lat.len() as f64 * p) as usize).min(self.lat.len() - 1)] as f64 / 1000.0
    }
}

/// Runs `op` (which reads `per_op` keys) for `secs`, timing each call.
fn measure(name: &str, secs: f64, per_op: u64, mut op: impl FnMut()) -> Run {
    let mut lat = Vec::with_capacity(1 << 20);
    let start = Instant::now();
    let mut ops = 0u64;
    while start.elapsed().as_secs_f64() < secs {
        for _ in 0..16 {
            let t = Instant::now();
            op();
            lat.push(t.elapsed().as_nanos().min(u32::MAX as u128) as u32);
        }
        ops += 16;
    }
    Run { name: name.into(), keys_read: ops * per_op, secs: start.elapsed().as_secs_f64(), lat, hit_ratio: None }
}

/// Like [`measure`] for an op that times itself (it excludes work of its
/// own); the row's time is the sum of the latencies it reports.
fn measure_self_timed(name: &str, secs: f64, mut op: impl FnMut() -> Duration) -> Run {
    let mut lat = Vec::with_capacity(1 << 20);
    let start = Instant::now();
    while start.elapsed().as_secs_f64() < secs {
        lat.push(op().as_nanos().min(u32::MAX as u128) as u32);
    }
    let total = lat.iter().map(|&l| l as f64).sum::<f64>() / 1e9;
    Run { name: name.into(), keys_read: lat.len() as u64, secs: total, lat, hit_ratio: None }
}

fn arg(name: &str, default: f64) -> f64 {
    let args: Vec<String> = std::env::args().collect();
    args.iter().position(|a| a == name).and_then(|i| args.get(i + 1)).map_or(default, |v| v.parse().unwrap())
}

fn main() {
    let n = arg("--keys", 1_000_000.0) as usize;
    let secs = arg("--seconds", 3.0);
    let value_size = arg("--value-size", 64.0) as usize;
    let theta = 0.99;
    let zipf = Zipf::new(n, theta);
    let (_server, addr) = start_server();
    let client = redis::Client::open(format!("redis://{addr}/")).unwrap();
    let mut con = client.get_connection().unwrap();

    eprintln!("loading {n} keys of {value_size} B values");
    let value = vec![b'v'; value_size];
    for chunk in (0..n).collect::<Vec<_>>().chunks(1000) {
        let mut p = redis::pipe();
        for &i in chunk {
            p.cmd("SET").arg(key(i)).arg(&value).ignore();
        }
        p.exec(&mut con).unwrap();
    }

    let mut rng = Rng(42);
    let keys = Keys::new(n);
    let mut stream = Stream { ranks: (0..(1 << 22)).map(|_| zipf.sample(&mut rng) as u32).collect(), pos: 0 };
    let mut runs = Vec::new();
    let go_only = std::env::args().any(|a| a == "--go-only");
    if !go_only {
        // Plain client: GET per read, MGET per batch of 64.
        runs.push(measure("redis-rs GET (plain client)", secs, 1, || {
            let v: Option<Vec<u8>> = redis::cmd("GET").arg(keys.get(stream.next())).query(&mut con).unwrap();
            assert!(v.is_some());
        }));
        runs.push(measure("redis-rs MGET ×64 (plain client)", secs, 64, || {
            let ks: [&[u8]; 64] = std::array::from_fn(|_| keys.get(stream.next()));
            let v: Vec<Option<Vec<u8>>> = redis::cmd("MGET").arg(&ks[..]).query(&mut con).unwrap();
            assert_eq!(v.len(), 64);
        }));

        // The miss path alone: keys drawn uniformly over all 1M keys through a
        // near copy of 1 MiB (almost every read goes to the server), against
        // the plain GET (first row) and a plain GET + PTTL pipeline (what a miss
        // sends).
        let uniform: Vec<u32> = (0..(1 << 20)).map(|_| (rng.next() % n as u64) as u32).collect();
        let mut u = 0usize;
        runs.push(measure("redis-rs GET + PTTL pipeline (what a miss sends)", secs, 1, || {
            u = (u + 1) % uniform.len();
            let k = keys.get(uniform[u] as usize);
            let (v, _t): (Option<Vec<u8>>, i64) =
                redis::pipe().cmd("GET").arg(k).cmd("PTTL").arg(k).query(&mut con).unwrap();
            assert!(v.is_some());
        }));
        // A round trip as the near cache's misses meet it at 99% hits: one every
        // ~100 reads, so ~50 µs of client work between two (not timed). On a VM
        // the server's idle vCPU then has to be woken for each request.
        runs.push(measure_self_timed("redis-rs GET, sparse (50 µs of client work between reads)", secs / 2.0, || {
            let t = Instant::now();
            while t.elapsed() < Duration::from_micros(50) {
                std::hint::spin_loop();
            }
            let t = Instant::now();
            let v: Option<Vec<u8>> = redis::cmd("GET").arg(keys.get(stream.next())).query(&mut con).unwrap();
            assert!(v.is_some());
            t.elapsed()
        }));
        {
            let mut cfg = NearConfig::new(addr.clone());
            cfg.map.memory_limit = 1 << 20;
            let cache = NearCache::connect(cfg).unwrap();
            let s0 = cache.stats();
            let mut r = measure("near cache get, misses (uniform keys, 1 MiB near copy)", secs, 1, || {
                u = (u + 1) % uniform.len();
                assert!(cache.get(keys.get(uniform[u] as usize)).unwrap().is_some());
            });
            let s1 = cache.stats();
            r.hit_ratio = Some((s1.local_hits - s0.local_hits) as f64 / r.keys_read as f64);
            runs.push(r);
        }

        // S3-FIFO keeps fewer than the ideal top-N: the 90% cache is sized for
        // the top 94% (measured hit ratios are reported).
        for (share, sized_for) in [(0.90, 0.94), (0.99, 0.99)] {
            let top = zipf.top_for(sized_for);
            // Entry charge in the local map: measured, then the limit sized for `top` entries.
            let mut cfg = NearConfig::new(addr.clone());
            cfg.map.memory_limit = 4 << 30;
            let probe = NearCache::connect(cfg.clone()).unwrap();
            let ks: Vec<Vec<u8>> = (0..20_000).map(key).collect();
            for c in ks.chunks(64) {
                let refs: Vec<&[u8]> = c.iter().map(|k| k.as_slice()).collect();
                probe.get_many(&refs).unwrap();
            }
            let ms = probe.map_stats().unwrap();
            let per_entry = ms.bytes as f64 / ms.entries.max(1) as f64;
            drop(probe);
            cfg.map.memory_limit = (top as f64 * per_entry * 1.02) as u64;
            let cache = NearCache::connect(cfg).unwrap();
            eprintln!(
                "near cache for {share}: top {top} keys, {per_entry:.0} B per entry, limit {} MiB",
                cfg_mib(&cache)
            );
            // Warm: the hot set by rank, then Zipf reads until the eviction settles.
            let ks: Vec<Vec<u8>> = (0..top).map(key).collect();
            for c in ks.chunks(64) {
                let refs: Vec<&[u8]> = c.iter().map(|k| k.as_slice()).collect();
                cache.get_many(&refs).unwrap();
            }
            for _ in 0..(n / 64) {
                let ks: Vec<Vec<u8>> = (0..64).map(|_| key(zipf.sample(&mut rng))).collect();
                let refs: Vec<&[u8]> = ks.iter().map(|k| k.as_slice()).collect();
                cache.get_many(&refs).unwrap();
            }
            let label = format!("{:.0}%", share * 100.0);
            let s0 = cache.stats();
            let mut r = measure(&format!("near cache get, sized for {label}"), secs, 1, || {
                assert!(cache.get(keys.get(stream.next())).unwrap().is_some());
            });
            let s1 = cache.stats();
            r.hit_ratio = Some((s1.local_hits - s0.local_hits) as f64 / r.keys_read as f64);
            runs.push(r);
            let mut r = measure(&format!("near cache get_many ×64, sized for {label}"), secs, 64, || {
                let ks: [&[u8]; 64] = std::array::from_fn(|_| keys.get(stream.next()));
                assert_eq!(cache.get_many(&ks).unwrap().len(), 64);
            });
            let s2 = cache.stats();
            r.hit_ratio = Some((s2.local_hits - s1.local_hits) as f64 / r.keys_read as f64);
            runs.push(r);
            if share > 0.95 {
                // Local hits alone: the 1000 hottest keys, all cached.
                let mut i = 0;
                runs.push(measure("near cache get, local hits only (1000 hottest keys)", secs, 1, || {
                    i = (i + 1) % 1000;
                    assert!(cache.get(keys.get(i)).unwrap().is_some());
                }));
            }
        }

        let base_read = runs[0].keys_read as f64 / runs[0].secs;
        let base_batch = runs[1].keys_read as f64 / runs[1].secs;
        let rtt_p50 = runs[0].pct(0.5);
        println!("| run | hit ratio | keys/s | × plain (same shape) | mean µs | p50 µs | p99 µs | p99.9 µs | p99 / plain GET p50 | hits / misses: share of time, miss mean µs |");
        println!("|---|---|---|---|---|---|---|---|---|---|");
        for r in &mut runs {
            let rate = r.keys_read as f64 / r.secs;
            let base = if r.name.contains("×64") { base_batch } else { base_read };
            let mean = r.lat.iter().map(|&l| l as f64).sum::<f64>() / r.lat.len() as f64 / 1000.0;
            let (p50, p99, p999) = (r.pct(0.5), r.pct(0.99), r.pct(0.999));
            // Single reads with a hit ratio: the slowest (1 - hit ratio) calls are
            // taken as the misses (a miss is a round trip, a hit is not).
            let split = match r.hit_ratio {
                Some(h) if !r.name.contains("×64") && h > 0.5 => {
                    let misses = ((1.0 - h) * r.lat.len() as f64).round() as usize;
                    let (fast, slow) = r.lat.split_at(r.lat.len() - misses);
                    let (tf, ts) =
                        (fast.iter().map(|&l| l as f64).sum::<f64>(), slow.iter().map(|&l| l as f64).sum::<f64>());
                    format!(
                        "{:.0}% / {:.0}%, {:.1}",
                        100.0 * tf / (tf + ts),
                        100.0 * ts / (tf + ts),
                        ts / misses.max(1) as f64 / 1000.0
                    )
                }
                _ => "-".into(),
            };
            println!(
                "| {} | {} | {:.0} | {:.2} | {:.2} | {:.2} | {:.2} | {:.1} | {:.3} | {} |",
                r.name,
                r.hit_ratio.map_or("-".into(), |h| format!("{:.1}%", h * 100.0)),
                rate,
                rate / base,
                mean,
                p50,
                p99,
                p999,
                p99 / rtt_p50,
                split
            );
        }
        println!("\nkeys {n}, values {value_size} B, Zipf θ {theta}, one client thread, {secs} s per run, loopback redis-server.");
    }

    let args: Vec<String> = std::env::args().collect();
    if let Some(go) = args.iter().position(|a| a == "--go-bench").and_then(|i| args.get(i + 1)) {
        println!();
        let status = Command::new(go)
            .args([
                "-server",
                &addr,
                "-keys",
                &n.to_string(),
                "-seconds",
                &secs.to_string(),
                "-value-size",
                &value_size.to_string(),
            ])
            .status()
            .expect("the Go benchmark runs");
        assert!(status.success(), "the Go benchmark failed");
    }
}

fn cfg_mib(cache: &NearCache) -> u64 {
    cache.map_stats().map_or(0, |s| s.memory_limit >> 20)
}
