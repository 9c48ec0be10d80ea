//! Two near caches and a writer on one redis-server: after every
//! acknowledged write whose invalidation was delivered to a cache, no read of
//! that cache returns an older value — checked by the round driver and by a
//! reader thread per cache hammering the same keys, thousands of rounds.
//! The invalidation delay (write acknowledged → local copy removed) is measured.

mod common;

use common::{config, Server};
use numashard_redis::NearCache;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

const KEYS: usize = 16;
const ROUNDS: u64 = 3000;

fn key(i: usize) -> Vec<u8> {
    format!("coh:{i}").into_bytes()
}

fn version(v: &Option<Vec<u8>>) -> u64 {
    v.as_ref().map_or(0, |b| std::str::from_utf8(b).unwrap().parse().unwrap())
}

struct Reader {
    cache: Arc<NearCache>,
    /// Per key: the newest version whose invalidation this cache has received.
    floor: Vec<AtomicU64>,
}

#[test]
fn no_stale_read_after_a_delivered_invalidation() {
    let server = Server::start(&[]);
    let mut writer = server.con();
    let readers: Vec<Arc<Reader>> = (0..2)
        .map(|_| {
            Arc::new(Reader {
                cache: Arc::new(NearCache::connect(config(server.addr())).unwrap()),
                floor: (0..KEYS).map(|_| AtomicU64::new(0)).collect(),
            })
        })
        .collect();
    for i in 0..KEYS {
        redis::cmd("SET").arg(key(i)).arg(0).exec(&mut writer).unwrap();
    }
    let stop = Arc::new(AtomicBool::new(false));
    let violations = Arc::new(AtomicU64::new(0));
    let hammers: Vec<_> = readers
        .iter()
        .map(|r| {
            let (r, stop, violations) = (Arc::clone(r), Arc::clone(&stop), Arc::clone(&violations));
            std::thread::spawn(move || {
                let mut reads = 0u64;
                let mut i = 0;
                while !stop.load(Ordering::Relaxed) {
                    i = (i + 1) % KEYS;
                    let floor = r.floor[i].load(Ordering::SeqCst);
                    let got = version(&r.cache.get(&key(i)).unwrap());
                    if got < floor {
                        violations.fetch_add(1, Ordering::Relaxed);
                        eprintln!("stale: key {i} read {got} after the invalidation of {floor} was delivered");
                    }
                    reads += 1;
                }
                reads
            })
        })
        .collect();

    let mut delays: Vec<Duration> = Vec::new();
    let mut gone: Vec<Duration> = Vec::new();
    let started = Instant::now();
    let mut rounds = 0;
    for r in 1..=ROUNDS {
        let i = (r as usize) % KEYS;
        let k = key(i);
        // Each cache reads the key, so the server tracks it for each.
        for rd in &readers {
            assert_eq!(
                version(&rd.cache.get(&k).unwrap()),
                r.saturating_sub(KEYS as u64),
                "round {r}: before the write"
            );
        }
        redis::cmd("SET").arg(&k).arg(r).exec(&mut writer).unwrap();
        let acked = Instant::now();
        for rd in &readers {
            // The local copy goes as soon as the invalidation is applied ...
            let deadline = acked + Duration::from_secs(2);
            while rd.cache.local_ttl(&k).unwrap().is_some() && version(&rd.cache.get(&k).unwrap()) < r {
                assert!(Instant::now() < deadline, "round {r}: invalidation not applied within 2 s");
                std::thread::yield_now();
            }
            gone.push(acked.elapsed());
            // ... and sync() proves it was delivered (every earlier invalidation applied).
            rd.cache.sync().unwrap();
            delays.push(acked.elapsed());
            rd.floor[i].store(r, Ordering::SeqCst);
            assert_eq!(version(&rd.cache.get(&k).unwrap()), r, "round {r}: after the invalidation");
        }
        rounds = r;
        if started.elapsed() > Duration::from_secs(30) {
            break;
        }
    }
    stop.store(true, Ordering::Relaxed);
    let hammer_reads: u64 = hammers.into_iter().map(|h| h.join().unwrap()).sum();
    assert_eq!(violations.load(Ordering::Relaxed), 0, "stale reads after delivered invalidations");
    assert!(rounds >= 1000, "only {rounds} rounds in 30 s");

    let pct = |d: &mut Vec<Duration>, p: f64| {
        d.sort();
        d[((d.len() as f64 * p) as usize).min(d.len() - 1)]
    };
    let stats: Vec<_> = readers.iter().map(|r| r.cache.stats()).collect();
    eprintln!(
        "coherence: {rounds} rounds, {hammer_reads} concurrent reads; write ack -> old value gone locally: p50 {:?} p99 {:?} max {:?}; ack -> sync() confirmed delivery: p50 {:?} p99 {:?} max {:?}; stats {:?}",
        pct(&mut gone, 0.5),
        pct(&mut gone, 0.99),
        gone.iter().max().unwrap(),
        pct(&mut delays, 0.5),
        pct(&mut delays, 0.99),
        delays.iter().max().unwrap(),
        stats
    );
    for s in &stats {
        assert!(s.invalidations >= rounds, "every round's write invalidated each cache");
        assert!(s.local_hits > 0 && s.server_reads > 0);
    }
}
