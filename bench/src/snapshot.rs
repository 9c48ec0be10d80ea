//! The warm-restart question: how fast does numashard save a map to disk
//! and load it back, against the disk's own sequential bandwidth (`dd` with
//! direct I/O, same run) and against Redis restarting from its RDB of the
//! same keys (a real `redis-server` on loopback, started and stopped here);
//! and how long a writer stalls while a save runs.

use crate::workload::{value_bytes, KeySet, SplitMix64};
use numashard::{Config, Map};
use serde_json::{json, Value};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// What to run.
pub struct SnapshotOptions {
    /// Where the snapshot (and the dd and Redis files) go; emptied first.
    pub dir: PathBuf,
    /// numashard shards (0 = one per CPU).
    pub shards: usize,
    /// Run the Redis comparison (needs `redis-server` on the PATH).
    pub redis: bool,
    /// Loopback port for Redis.
    pub redis_port: u16,
    /// Seconds the writer runs alone before the save (its baseline).
    pub baseline: Duration,
}

fn mb(bytes: u64) -> f64 {
    bytes as f64 / 1e6
}

/// Sequential bandwidth of the file system holding `dir`, MB/s: write then
/// read `bytes` with `dd` and O_DIRECT (None where O_DIRECT is refused, as
/// on tmpfs).
fn dd_bandwidth(dir: &Path, bytes: u64) -> (Option<f64>, Option<f64>) {
    let file = dir.join("dd-probe.bin");
    let count = (bytes / (1 << 20)).max(64).to_string();
    let parse = |out: &std::process::Output| -> Option<f64> {
        // "... bytes (...) copied, 1.23 s, 456 MB/s"
        let text = String::from_utf8_lossy(&out.stderr);
        let line = text.lines().find(|l| l.contains("copied"))?;
        let secs: f64 = line.split("copied, ").nth(1)?.split(" s").next()?.parse().ok()?;
        let bytes: f64 = line.split_whitespace().next()?.parse().ok()?;
        out.status.success().then_some(bytes / secs / 1e6)
    };
    let w = Command::new("dd")
        .args(["if=/dev/zero", "bs=1M", "oflag=direct", "conv=fsync"])
        .arg(format!("of={}", file.display()))
        .arg(format!("count={count}"))
        .output()
        .ok();
    let write = w.as_ref().and_then(parse);
    let r = Command::new("dd")
        .args(["of=/dev/null", "bs=1M", "iflag=direct"])
        .arg(format!("if={}", file.display()))
        .output()
        .ok();
    let read = if write.is_some() { r.as_ref().and_then(parse) } else { None };
    let _ = std::fs::remove_file(&file);
    (write, read)
}

/// Drops the snapshot's pages from the page cache, so that a load reads the disk.
fn drop_cached(dir: &Path) {
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        if let Ok(f) = std::fs::File::open(e.path()) {
            use std::os::fd::AsRawFd;
            // SAFETY: advice on a descriptor we own; no memory is passed.
            unsafe { libc::posix_fadvise(f.as_raw_fd(), 0, 0, libc::POSIX_FADV_DONTNEED) };
        }
    }
}

/// CPU seconds this process has used (every thread, user + system).
fn cpu_seconds() -> f64 {
    // SAFETY: getrusage writes the struct we pass; no other memory is touched.
    let mut u: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: as above.
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut u) };
    let tv = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    tv(u.ru_utime) + tv(u.ru_stime)
}

fn dir_bytes(dir: &Path) -> u64 {
    std::fs::read_dir(dir).into_iter().flatten().flatten().filter_map(|e| e.metadata().ok()).map(|m| m.len()).sum()
}

/// Latencies of the puts a writer made while `during` ran, and alone before it.
struct Stall {
    baseline_max_ns: u64,
    during_max_ns: u64,
    during_p999_ns: u64,
    during_puts: usize,
}

/// Runs `f` while a writer puts random loaded keys, timing every put.
fn with_writer<T>(
    map: &Map,
    keys: &KeySet,
    entries: usize,
    value_size: usize,
    baseline: Duration,
    f: impl FnOnce() -> T,
) -> (T, Stall) {
    let stop = AtomicBool::new(false);
    let measuring = AtomicBool::new(false);
    std::thread::scope(|s| {
        let writer = s.spawn(|| {
            let mut rng = SplitMix64::new(0x5a7e);
            let value = value_bytes(value_size, 9);
            let (mut alone, mut during) = (0u64, Vec::with_capacity(1 << 20));
            while !stop.load(Ordering::Relaxed) {
                let key = keys.key(rng.below(entries as u64) as usize);
                let m = measuring.load(Ordering::Acquire);
                let t = Instant::now();
                map.put(key, &value).expect("put");
                let ns = t.elapsed().as_nanos() as u64;
                if m {
                    during.push(ns);
                } else {
                    alone = alone.max(ns);
                }
            }
            (alone, during)
        });
        std::thread::sleep(baseline);
        measuring.store(true, Ordering::Release);
        let out = f();
        measuring.store(false, Ordering::Release);
        stop.store(true, Ordering::Relaxed);
        let (alone, mut during) = writer.join().expect("writer");
        during.sort_unstable();
        let p999 = during.get(during.len().saturating_sub(1) * 999 / 1000).copied().unwrap_or(0);
        let stall = Stall {
            baseline_max_ns: alone,
            during_max_ns: during.last().copied().unwrap_or(0),
            during_p999_ns: p999,
            during_puts: during.len(),
        };
        (out, stall)
    })
}

/// Runs the snapshot workload on `entries` keys; prints a table and returns it as JSON.
pub fn run(keys: &KeySet, entries: usize, value_size: usize, o: &SnapshotOptions) -> Result<Value, String> {
    fn err(what: &'static str) -> impl Fn(numashard::Error) -> String {
        move |e| format!("{what}: {e}")
    }
    let _ = std::fs::remove_dir_all(&o.dir);
    std::fs::create_dir_all(&o.dir).map_err(|e| format!("{}: {e}", o.dir.display()))?;
    let snap = o.dir.join("numashard");
    let cfg = Config { shards: o.shards, ..Config::default() };
    let map = Map::new(cfg.clone()).map_err(err("open"))?;
    // Every key its own value (a file of one repeated value would flatter compressing peers).
    let value_of = |i: usize| value_bytes(value_size, i as u64 + 1);
    for start in (0..entries).step_by(1024) {
        let values: Vec<Vec<u8>> = (start..entries.min(start + 1024)).map(value_of).collect();
        let mut ops: Vec<numashard::BatchOp<'_>> =
            values.iter().enumerate().map(|(j, v)| numashard::BatchOp::put(keys.key(start + j), v)).collect();
        map.batch(&mut ops).map_err(err("fill"))?;
    }
    // 1. A save with nothing else running, then the disk's own bandwidth for as many bytes.
    let c = cpu_seconds();
    let quiet = map.save(&snap).map_err(err("save"))?;
    let save_cpu = cpu_seconds() - c;
    let (dd_write, dd_read) = dd_bandwidth(&o.dir, quiet.bytes);
    // 2. A save while a writer runs: its stall.
    let (during, stall) = with_writer(&map, keys, entries, value_size, o.baseline, || map.save(&snap));
    let during = during.map_err(err("save during writes"))?;
    let bytes = dir_bytes(&snap);
    drop(map);
    // 3. Loads: from the disk (pages dropped from the cache), then from the page cache.
    drop_cached(&snap);
    let (t, c) = (Instant::now(), cpu_seconds());
    let loaded = Map::open_snapshot(cfg.clone(), &snap).map_err(err("load"))?;
    let (load_cold, load_cold_cpu) = (t.elapsed().as_secs_f64(), cpu_seconds() - c);
    let st = loaded.stats().map_err(err("stats"))?;
    if st.entries != entries as u64 {
        return Err(format!("loaded {} entries, saved {entries}", st.entries));
    }
    let (on_node, total): (u64, u64) =
        st.per_shard.iter().fold((0, 0), |(a, b), s| (a + s.pages_on_node, b + s.pages_total));
    drop(loaded);
    let (t, c) = (Instant::now(), cpu_seconds());
    let warm = Map::open_snapshot(cfg, &snap).map_err(err("load"))?;
    let (load_warm, load_warm_cpu) = (t.elapsed().as_secs_f64(), cpu_seconds() - c);
    drop(warm);
    let save_s = quiet.elapsed.as_secs_f64();
    let redis =
        if o.redis { Some(redis_restart(keys, entries, &value_of, &o.dir.join("redis"), o.redis_port)?) } else { None };

    let rate = |s: f64| mb(bytes) / s;
    println!(
        "\nsnapshot: {entries} entries, {}-byte keys, {value_size}-byte values, {} shards, {:.1} MB on disk, dir {}",
        keys.key(0).len(),
        quiet.shards,
        mb(bytes),
        o.dir.display()
    );
    let ratio = |a: f64, b: Option<f64>| b.map(|b| format!("{:.2}x dd", a / b)).unwrap_or_else(|| "dd n/a".into());
    println!(
        "  dd O_DIRECT       write {} MB/s, read {} MB/s",
        dd_write.map(|v| format!("{v:.0}")).unwrap_or("n/a".into()),
        dd_read.map(|v| format!("{v:.0}")).unwrap_or("n/a".into())
    );
    println!(
        "  save (quiet)      {save_s:.3} s  {:.0} MB/s  ({})  {save_cpu:.2} CPU s",
        rate(save_s),
        ratio(rate(save_s), dd_write)
    );
    println!("  save (1 writer)   {:.3} s  writer max stall {:.3} ms (alone {:.3} ms), p99.9 {:.1} us over {} puts; start stall {:.1} us, longest chunk hold {:.1} us, {} before-images",
        during.elapsed.as_secs_f64(), stall.during_max_ns as f64 / 1e6, stall.baseline_max_ns as f64 / 1e6, stall.during_p999_ns as f64 / 1e3, stall.during_puts,
        during.start_stall_ns as f64 / 1e3, during.chunk_hold_max_ns as f64 / 1e3, during.before_images);
    println!(
        "  load (cold cache) {load_cold:.3} s  {:.0} MB/s  ({})  {load_cold_cpu:.2} CPU s  pages on node {on_node}/{total}",
        rate(load_cold),
        ratio(rate(load_cold), dd_read)
    );
    println!(
        "  load (page cache) {load_warm:.3} s  {:.0} MB/s  {:.1} M entries/s  {load_warm_cpu:.2} CPU s",
        rate(load_warm),
        entries as f64 / load_warm / 1e6
    );
    if let Some(r) = &redis {
        println!(
            "  redis             fill {:.1} s, SAVE {:.2} s ({:.1} MB RDB), restart to ready {:.3} s: {:.1}x numashard's cold load, {:.1}x its warm load",
            r["fill_s"].as_f64().unwrap_or(0.0), r["save_s"].as_f64().unwrap_or(0.0), r["rdb_mb"].as_f64().unwrap_or(0.0),
            r["restart_s"].as_f64().unwrap_or(0.0), r["restart_s"].as_f64().unwrap_or(0.0) / load_cold, r["restart_s"].as_f64().unwrap_or(0.0) / load_warm
        );
    }
    let _ = std::fs::remove_dir_all(&o.dir);
    Ok(json!({
        "entries": entries, "key_size": keys.key(0).len(), "value_size": value_size, "shards": quiet.shards,
        "bytes": bytes, "dd_write_mb_s": dd_write, "dd_read_mb_s": dd_read,
        "save_s": save_s, "save_mb_s": rate(save_s),
        "save_during_writes_s": during.elapsed.as_secs_f64(),
        "writer_max_stall_ns": stall.during_max_ns, "writer_baseline_max_ns": stall.baseline_max_ns,
        "writer_p999_ns": stall.during_p999_ns, "writer_puts": stall.during_puts,
        "start_stall_ns": during.start_stall_ns, "chunk_hold_max_ns": during.chunk_hold_max_ns, "before_images": during.before_images,
        "load_cold_s": load_cold, "load_cold_cpu_s": load_cold_cpu, "load_warm_cpu_s": load_warm_cpu, "save_cpu_s": save_cpu, "load_cold_mb_s": rate(load_cold), "load_warm_s": load_warm, "load_warm_mb_s": rate(load_warm),
        "pages_on_node": on_node, "pages_total": total,
        "redis": redis,
    }))
}

/// A redis-server process, killed when dropped.
struct Redis(Child);

impl Drop for Redis {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start_redis(dir: &Path, port: u16) -> Result<Redis, String> {
    let child = Command::new("redis-server")
        .args([
            "--bind",
            "127.0.0.1",
            "--port",
            &port.to_string(),
            "--save",
            "",
            "--appendonly",
            "no",
            "--protected-mode",
            "no",
        ])
        .arg("--dir")
        .arg(dir)
        .args(["--dbfilename", "dump.rdb", "--logfile", ""])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("redis-server: {e} (scripts/bench-snapshot.sh installs it)"))?;
    Ok(Redis(child))
}

/// Connects and waits until Redis answers PING with PONG (not LOADING).
fn wait_ready(port: u16, limit: Duration) -> Result<BufReader<TcpStream>, String> {
    let t = Instant::now();
    loop {
        if let Ok(s) = TcpStream::connect(("127.0.0.1", port)) {
            let mut r = BufReader::new(s);
            loop {
                if r.get_mut().write_all(b"PING\r\n").is_err() {
                    break;
                }
                let mut line = String::new();
                if r.read_line(&mut line).unwrap_or(0) == 0 {
                    break;
                }
                if line.starts_with("+PONG") {
                    return Ok(r);
                }
                if t.elapsed() > limit {
                    return Err(format!("redis not ready after {limit:?}: {line}"));
                }
                std::thread::sleep(Duration::from_micros(500));
            }
        }
        if t.elapsed() > limit {
            return Err(format!("redis did not start within {limit:?}"));
        }
        std::thread::sleep(Duration::from_micros(500));
    }
}

fn command(r: &mut BufReader<TcpStream>, cmd: &str) -> Result<String, String> {
    r.get_mut().write_all(format!("{cmd}\r\n").as_bytes()).map_err(|e| e.to_string())?;
    let mut line = String::new();
    r.read_line(&mut line).map_err(|e| e.to_string())?;
    Ok(line.trim_end().to_string())
}

/// Fills Redis with the same keys through pipelined SETs, SAVEs the RDB,
/// stops it, and times a restart until it answers PING.
fn redis_restart(
    keys: &KeySet,
    entries: usize,
    value_of: &dyn Fn(usize) -> Vec<u8>,
    dir: &Path,
    port: u16,
) -> Result<Value, String> {
    std::fs::create_dir_all(dir).map_err(|e| e.to_string())?;
    let fill_t = Instant::now();
    let server = start_redis(dir, port)?;
    let mut r = wait_ready(port, Duration::from_secs(10))?;
    const PIPE: usize = 10_000;
    let mut buf = Vec::with_capacity(PIPE * 80);
    let mut replies = vec![0u8; PIPE * 5];
    for start in (0..entries).step_by(PIPE) {
        let end = entries.min(start + PIPE);
        buf.clear();
        for i in start..end {
            let k = keys.key(i);
            write!(buf, "*3\r\n$3\r\nSET\r\n${}\r\n", k.len()).unwrap();
            buf.extend_from_slice(k);
            let value = value_of(i);
            write!(buf, "\r\n${}\r\n", value.len()).unwrap();
            buf.extend_from_slice(&value);
            buf.extend_from_slice(b"\r\n");
        }
        r.get_mut().write_all(&buf).map_err(|e| e.to_string())?;
        let n = (end - start) * 5;
        r.read_exact(&mut replies[..n]).map_err(|e| e.to_string())?;
        if replies[..n].chunks(5).any(|c| c != b"+OK\r\n") {
            return Err("redis refused a SET".into());
        }
    }
    let fill_s = fill_t.elapsed().as_secs_f64();
    let dbsize = command(&mut r, "DBSIZE")?;
    if dbsize != format!(":{entries}") {
        return Err(format!("redis holds {dbsize}, expected {entries}"));
    }
    let t = Instant::now();
    let saved = command(&mut r, "SAVE")?;
    let save_s = t.elapsed().as_secs_f64();
    if saved != "+OK" {
        return Err(format!("redis SAVE: {saved}"));
    }
    drop(r);
    drop(server);
    let rdb = std::fs::metadata(dir.join("dump.rdb")).map(|m| m.len()).unwrap_or(0);
    drop_cached(dir);
    let t = Instant::now();
    let server = start_redis(dir, port)?;
    let mut r = wait_ready(port, Duration::from_secs(600))?;
    let restart_s = t.elapsed().as_secs_f64();
    let dbsize = command(&mut r, "DBSIZE")?;
    drop(server);
    if dbsize != format!(":{entries}") {
        return Err(format!("redis restarted with {dbsize}, expected {entries}"));
    }
    Ok(json!({ "fill_s": fill_s, "save_s": save_s, "rdb_mb": mb(rdb), "restart_s": restart_s }))
}
