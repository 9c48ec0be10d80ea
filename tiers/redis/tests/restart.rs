//! The server killed (SIGKILL) and restarted mid-run: reads fail clearly
//! while it is gone, and after the reconnect no read returns a value cached
//! before the disconnect.

mod common;

use common::{config, wait_until, Server};
use numashard_redis::{Error, NearCache};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

const KEYS: usize = 32;

fn key(i: usize) -> String {
    format!("rs:{i}")
}

#[test]
fn killed_and_restarted_server_never_yields_stale_values() {
    let mut server = Server::start(&[]);
    let mut writer = server.con();
    let cache = Arc::new(NearCache::connect(config(server.addr())).unwrap());
    for i in 0..KEYS {
        redis::cmd("SET").arg(key(i)).arg(format!("before-{i}")).exec(&mut writer).unwrap();
        assert!(cache.get(key(i).as_bytes()).unwrap().is_some());
    }
    // Every key is cached locally now.
    for i in 0..KEYS {
        assert!(cache.local_ttl(key(i).as_bytes()).unwrap().is_some());
    }

    // A reader runs through the whole kill and restart.
    let after_reconnect = Arc::new(AtomicBool::new(false));
    let stop = Arc::new(AtomicBool::new(false));
    let stale = Arc::new(AtomicU64::new(0));
    let errors = Arc::new(AtomicU64::new(0));
    let reader = {
        let (cache, after, stop, stale, errors) = (
            Arc::clone(&cache),
            Arc::clone(&after_reconnect),
            Arc::clone(&stop),
            Arc::clone(&stale),
            Arc::clone(&errors),
        );
        std::thread::spawn(move || {
            let mut i = 0;
            while !stop.load(Ordering::Relaxed) {
                i = (i + 1) % KEYS;
                let reconnected = after.load(Ordering::SeqCst);
                match cache.get(key(i).as_bytes()) {
                    Ok(Some(v)) if reconnected && v.starts_with(b"before-") => {
                        stale.fetch_add(1, Ordering::Relaxed);
                    }
                    Ok(_) => {}
                    Err(Error::Connection(_) | Error::TrackingUnconfirmed(_)) => {
                        errors.fetch_add(1, Ordering::Relaxed);
                    }
                    Err(e) => panic!("unexpected error kind: {e}"),
                }
            }
        })
    };

    std::thread::sleep(Duration::from_millis(50));
    server.kill();
    assert!(wait_until(Duration::from_secs(5), || !cache.is_serving()), "the loss was noticed");
    // While it is gone, reads fail with a clear error and serve nothing local.
    match cache.get(key(0).as_bytes()) {
        Err(e @ (Error::Connection(_) | Error::TrackingUnconfirmed(_))) => {
            let msg = e.to_string();
            assert!(msg.contains("connection") || msg.contains("tracking"), "{msg}");
        }
        other => panic!("read while the server is down: {other:?}"),
    }
    // Serving stops first, then the flush empties the map.
    assert!(
        wait_until(Duration::from_secs(2), || (0..KEYS).all(|i| cache.local_ttl(key(i).as_bytes()).unwrap().is_none())),
        "flushed on disconnect"
    );

    server.restart();
    let mut writer = server.con();
    // The restarted server is empty; half the keys get new values.
    for i in 0..KEYS / 2 {
        redis::cmd("SET").arg(key(i)).arg(format!("after-{i}")).exec(&mut writer).unwrap();
    }
    assert!(wait_until(Duration::from_secs(10), || cache.is_serving()), "reconnected");
    after_reconnect.store(true, Ordering::SeqCst);
    for round in 0..3 {
        for i in 0..KEYS {
            let got = cache.get(key(i).as_bytes()).unwrap();
            let want = (i < KEYS / 2).then(|| format!("after-{i}").into_bytes());
            assert_eq!(got, want, "key {i}, round {round} after the reconnect");
        }
    }
    std::thread::sleep(Duration::from_millis(100));
    stop.store(true, Ordering::Relaxed);
    reader.join().unwrap();
    assert_eq!(stale.load(Ordering::Relaxed), 0, "values cached before the disconnect served after it");
    let s = cache.stats();
    assert!(s.reconnects >= 1 && s.flushes >= 2, "{s:?}");
    eprintln!("restart: {} reads failed clearly while the server was down; {s:?}", errors.load(Ordering::Relaxed));

    // Coherence works again after the reconnect.
    let inv = cache.stats().invalidations;
    redis::cmd("SET").arg(key(0)).arg("after-again").exec(&mut writer).unwrap();
    assert!(wait_until(Duration::from_secs(2), || cache.stats().invalidations > inv));
    assert_eq!(cache.get(key(0).as_bytes()).unwrap().as_deref(), Some(&b"after-again"[..]));
}

/// Client ids of the connections whose last command was `cmd`.
fn clients_by_last_command(admin: &mut redis::Connection, cmd: &str) -> Vec<u64> {
    let list: String = redis::cmd("CLIENT").arg("LIST").query(admin).unwrap();
    list.lines()
        .filter(|l| l.split(' ').any(|f| f == format!("cmd={cmd}")))
        .filter_map(|l| l.strip_prefix("id=")?.split(' ').next()?.parse().ok())
        .collect()
}

#[test]
fn a_data_connection_dropped_by_the_server_while_idle_flushes() {
    let server = Server::start(&[]);
    let mut admin = server.con();
    let cache = NearCache::connect(config(server.addr())).unwrap();
    redis::cmd("SET").arg("x").arg("1").exec(&mut admin).unwrap();
    cache.get(b"x").unwrap();
    assert!(cache.local_ttl(b"x").unwrap().is_some());
    // The server drops the data connection that read `x` (as `timeout` or
    // `CLIENT KILL` would): it forgets that `x` was read, so the write below
    // sends no invalidation. Reads of `x` are local hits and never touch the
    // dead connection: only the heartbeat's check of the connections can see it.
    let readers = clients_by_last_command(&mut admin, "pttl");
    assert_eq!(readers.len(), 1, "one data connection in use");
    let flushes = cache.stats().flushes;
    redis::cmd("CLIENT").arg("KILL").arg("ID").arg(readers[0]).exec(&mut admin).unwrap();
    redis::cmd("SET").arg("x").arg("2").exec(&mut admin).unwrap();
    let fresh = wait_until(Duration::from_secs(5), || cache.get(b"x").unwrap().as_deref() == Some(&b"2"[..]));
    assert!(fresh, "the near cache kept serving a value whose tracking was lost");
    assert!(cache.stats().flushes > flushes);
    assert!(cache.is_serving(), "the listener was not affected");
    assert_eq!(cache.stats().reconnects, 0);
}

#[test]
fn a_killed_listener_flushes_and_reconnects() {
    let server = Server::start(&[]);
    let mut admin = server.con();
    let cache = NearCache::connect(config(server.addr())).unwrap();
    redis::cmd("SET").arg("x").arg("1").exec(&mut admin).unwrap();
    cache.get(b"x").unwrap();
    let listeners = clients_by_last_command(&mut admin, "client|id");
    assert_eq!(listeners.len(), 1, "one listener");
    redis::cmd("CLIENT").arg("KILL").arg("ID").arg(listeners[0]).exec(&mut admin).unwrap();
    redis::cmd("SET").arg("x").arg("2").exec(&mut admin).unwrap();
    assert!(wait_until(Duration::from_secs(5), || cache.stats().reconnects >= 1 && cache.is_serving()));
    assert_eq!(cache.get(b"x").unwrap().as_deref(), Some(&b"2"[..]));
    // And invalidations flow to the new listener.
    cache.get(b"x").unwrap();
    redis::cmd("SET").arg("x").arg("3").exec(&mut admin).unwrap();
    assert!(wait_until(Duration::from_secs(2), || cache.local_ttl(b"x").unwrap().is_none()));
    assert_eq!(cache.get(b"x").unwrap().as_deref(), Some(&b"3"[..]));
}
