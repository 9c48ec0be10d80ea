//! Two processes, each with its own near cache, and a writer: the test
//! re-runs its own binary twice as reader processes (the ignored test
//! `reader_process`, driven over stdin/stdout). After every acknowledged
//! write whose invalidation each process confirmed with `sync()`, neither the
//! driver's reads nor a reader thread hammering the keys inside each process
//! returns the older value.

mod common;

use common::{config, Server};
use numashard_redis::NearCache;
use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

const KEYS: usize = 8;
const ROUNDS: u64 = 2000;
const CHILD_ENV: &str = "NUMASHARD_NEAR_TEST_SERVER";

fn key(i: usize) -> Vec<u8> {
    format!("proc:{i}").into_bytes()
}

fn version(v: &Option<Vec<u8>>) -> u64 {
    v.as_ref().map_or(0, |b| std::str::from_utf8(b).unwrap().parse().unwrap())
}

struct Reader {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
}

impl Reader {
    fn spawn(addr: &str) -> Reader {
        let mut child = Command::new(std::env::current_exe().unwrap())
            .args(["--ignored", "--exact", "reader_process", "--nocapture", "--test-threads", "1"])
            .env(CHILD_ENV, addr)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let stdin = child.stdin.take().unwrap();
        let stdout = BufReader::new(child.stdout.take().unwrap());
        let mut r = Reader { child, stdin, stdout };
        assert_eq!(r.ask("ping"), "ready");
        r
    }

    /// Sends a command line and returns the reply (lines starting with "@@ ").
    fn ask(&mut self, cmd: &str) -> String {
        writeln!(self.stdin, "{cmd}").unwrap();
        self.stdin.flush().unwrap();
        let mut line = String::new();
        loop {
            line.clear();
            assert!(self.stdout.read_line(&mut line).unwrap() > 0, "reader process ended");
            // The harness may have printed "test reader_process ... " before it on the line.
            if let Some(at) = line.find("@@ ") {
                return line[at + 3..].trim_end().to_string();
            }
        }
    }
}

impl Drop for Reader {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn two_reader_processes_and_a_writer() {
    let server = Server::start(&[]);
    let mut writer = server.con();
    for i in 0..KEYS {
        redis::cmd("SET").arg(key(i)).arg(0).exec(&mut writer).unwrap();
    }
    let mut readers: Vec<Reader> = (0..2).map(|_| Reader::spawn(&server.addr())).collect();
    let mut delays = Vec::new();
    let started = Instant::now();
    let mut rounds = 0;
    for r in 1..=ROUNDS {
        let i = r as usize % KEYS;
        let prev = r.saturating_sub(KEYS as u64);
        for rd in &mut readers {
            assert_eq!(rd.ask(&format!("get {i}")), prev.to_string(), "round {r}: before the write");
        }
        redis::cmd("SET").arg(key(i)).arg(r).exec(&mut writer).unwrap();
        let acked = Instant::now();
        for rd in &mut readers {
            assert_eq!(rd.ask("sync"), "ok");
            delays.push(acked.elapsed());
            assert_eq!(rd.ask(&format!("floor {i} {r}")), "ok");
            assert_eq!(rd.ask(&format!("get {i}")), r.to_string(), "round {r}: after the invalidation was delivered");
        }
        rounds = r;
        if started.elapsed() > Duration::from_secs(30) {
            break;
        }
    }
    assert!(rounds >= 500, "only {rounds} rounds in 30 s");
    for (n, rd) in readers.iter_mut().enumerate() {
        let report = rd.ask("quit");
        let mut f = report.split(' ');
        let (violations, reads, hits): (u64, u64, u64) = (
            f.next().unwrap().parse().unwrap(),
            f.next().unwrap().parse().unwrap(),
            f.next().unwrap().parse().unwrap(),
        );
        assert_eq!(violations, 0, "process {n}: stale reads after delivered invalidations");
        assert!(reads > 0 && hits > 0, "process {n}: {report}");
        eprintln!("process {n}: {reads} concurrent reads, {hits} local hits, 0 stale");
    }
    delays.sort();
    eprintln!(
        "two processes: {rounds} rounds; write ack -> sync() in the other process confirmed delivery (incl. the pipe round trip): p50 {:?} p99 {:?} max {:?}",
        delays[delays.len() / 2],
        delays[delays.len() * 99 / 100],
        delays.last().unwrap()
    );
}

/// A reader process for `two_reader_processes_and_a_writer` (runs only when
/// that test starts it, with the server's address in the environment).
#[test]
#[ignore = "a child process of two_reader_processes_and_a_writer"]
fn reader_process() {
    let Ok(addr) = std::env::var(CHILD_ENV) else { return };
    let cache = Arc::new(NearCache::connect(config(addr)).unwrap());
    let floors: Arc<Vec<AtomicU64>> = Arc::new((0..KEYS).map(|_| AtomicU64::new(0)).collect());
    let stop = Arc::new(AtomicBool::new(false));
    let hammer = {
        let (cache, floors, stop) = (Arc::clone(&cache), Arc::clone(&floors), Arc::clone(&stop));
        std::thread::spawn(move || {
            let (mut violations, mut reads, mut i) = (0u64, 0u64, 0);
            while !stop.load(Ordering::Relaxed) {
                i = (i + 1) % KEYS;
                let floor = floors[i].load(Ordering::SeqCst);
                if version(&cache.get(&key(i)).unwrap()) < floor {
                    violations += 1;
                }
                reads += 1;
            }
            (violations, reads)
        })
    };
    let out = std::io::stdout();
    let reply = |s: String| {
        let mut o = out.lock();
        writeln!(o, "@@ {s}").unwrap();
        o.flush().unwrap();
    };
    for line in std::io::stdin().lock().lines() {
        let line = line.unwrap();
        let parts: Vec<&str> = line.split(' ').collect();
        match parts[..] {
            ["ping"] => reply("ready".into()),
            ["get", i] => reply(version(&cache.get(&key(i.parse().unwrap())).unwrap()).to_string()),
            ["sync"] => {
                cache.sync().unwrap();
                reply("ok".into())
            }
            ["floor", i, v] => {
                floors[i.parse::<usize>().unwrap()].store(v.parse().unwrap(), Ordering::SeqCst);
                reply("ok".into())
            }
            ["quit"] => {
                stop.store(true, Ordering::Relaxed);
                let (violations, reads) = hammer.join().unwrap();
                reply(format!("{violations} {reads} {}", cache.stats().local_hits));
                return;
            }
            _ => panic!("unknown command {line}"),
        }
    }
}
