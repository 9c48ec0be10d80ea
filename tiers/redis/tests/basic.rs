//! Read-through, write-through, delete-through and TTLs against a real
//! redis-server, and invalidations from another client.

mod common;

use common::{config, wait_until, Server};
use numashard_redis::NearCache;
use std::time::Duration;

#[test]
fn read_write_delete_through() {
    let server = Server::start(&[]);
    let mut con = server.con();
    let cache = NearCache::connect(config(server.addr())).unwrap();
    assert!(cache.is_serving());

    // Read-through: a miss goes to the server, the second read is local.
    redis::cmd("SET").arg("a").arg("1").exec(&mut con).unwrap();
    assert_eq!(cache.get(b"a").unwrap().as_deref(), Some(&b"1"[..]));
    let s0 = cache.stats();
    assert_eq!(cache.get(b"a").unwrap().as_deref(), Some(&b"1"[..]));
    let s1 = cache.stats();
    assert_eq!(s1.local_hits, s0.local_hits + 1);
    assert_eq!(s1.server_reads, s0.server_reads);
    // Absent keys are read from the server each time (not cached).
    assert_eq!(cache.get(b"nope").unwrap(), None);
    assert_eq!(cache.get(b"nope").unwrap(), None);
    assert_eq!(cache.stats().server_reads, s1.server_reads + 2);

    // Write-through: on the server, and our own next read sees it.
    cache.set(b"b", b"two").unwrap();
    let v: Option<String> = redis::cmd("GET").arg("b").query(&mut con).unwrap();
    assert_eq!(v.as_deref(), Some("two"));
    assert_eq!(cache.get(b"b").unwrap().as_deref(), Some(&b"two"[..]));
    cache.set(b"b", b"three").unwrap();
    assert_eq!(cache.get(b"b").unwrap().as_deref(), Some(&b"three"[..]));

    // Delete-through.
    assert!(cache.delete(b"b").unwrap());
    assert!(!cache.delete(b"b").unwrap());
    let n: i64 = redis::cmd("EXISTS").arg("b").query(&mut con).unwrap();
    assert_eq!(n, 0);
    assert_eq!(cache.get(b"b").unwrap(), None);

    // Batches: hits and misses mixed, order kept.
    for i in 0..50 {
        redis::cmd("SET").arg(format!("k{i}")).arg(i).exec(&mut con).unwrap();
    }
    let keys: Vec<String> = (0..60).map(|i| format!("k{i}")).collect();
    let refs: Vec<&[u8]> = keys.iter().map(|k| k.as_bytes()).collect();
    let first = cache.get_many(&refs).unwrap();
    let second = cache.get_many(&refs).unwrap();
    for (i, (a, b)) in first.iter().zip(&second).enumerate() {
        let want = (i < 50).then(|| i.to_string().into_bytes());
        assert_eq!(a, &want);
        assert_eq!(b, &want);
    }
    cache.sync().unwrap();
    cache.close();
    assert!(matches!(cache.get(b"a"), Err(numashard_redis::Error::Closed)));
    assert!(matches!(cache.sync(), Err(numashard_redis::Error::Closed)));
    // Nothing of the tier's own (heartbeat key, sync markers) is left on the server.
    let ours: Vec<String> = redis::cmd("KEYS").arg("__numashard_near:*").query(&mut con).unwrap();
    assert!(ours.is_empty(), "{ours:?}");
}

#[test]
fn ttl_comes_from_the_server() {
    let server = Server::start(&[]);
    let mut con = server.con();
    let cache = NearCache::connect(config(server.addr())).unwrap();
    redis::cmd("SET").arg("t").arg("x").arg("PX").arg(60_000).exec(&mut con).unwrap();
    cache.get(b"t").unwrap();
    let ttl = cache.local_ttl(b"t").unwrap().expect("cached").expect("with a TTL");
    assert!(ttl <= Duration::from_secs(60) && ttl > Duration::from_secs(50), "{ttl:?}");

    cache.set_with_ttl(b"u", b"y", Duration::from_millis(300)).unwrap();
    let pttl: i64 = redis::cmd("PTTL").arg("u").query(&mut con).unwrap();
    assert!(pttl > 0 && pttl <= 300);
    let local = cache.local_ttl(b"u").unwrap();
    // Installed with the server's TTL, or not installed (an invalidation raced the write).
    if let Some(t) = local {
        assert!(t.unwrap() <= Duration::from_millis(300));
    }
    // Once the server's copy expired, no read returns it (the local TTL runs out too).
    std::thread::sleep(Duration::from_millis(350));
    assert_eq!(cache.get(b"u").unwrap(), None);

    // A key without TTL is cached without one.
    cache.set(b"p", b"z").unwrap();
    cache.get(b"p").unwrap();
    assert_eq!(cache.local_ttl(b"p").unwrap(), Some(None));
}

#[test]
fn another_client_s_write_invalidates() {
    let server = Server::start(&[]);
    let mut con = server.con();
    let cache = NearCache::connect(config(server.addr())).unwrap();
    redis::cmd("SET").arg("k").arg("old").exec(&mut con).unwrap();
    assert_eq!(cache.get(b"k").unwrap().as_deref(), Some(&b"old"[..]));
    assert!(cache.local_ttl(b"k").unwrap().is_some(), "cached locally");
    let inv = cache.stats().invalidations;
    redis::cmd("SET").arg("k").arg("new").exec(&mut con).unwrap();
    assert!(wait_until(Duration::from_secs(2), || cache.stats().invalidations > inv));
    assert_eq!(cache.local_ttl(b"k").unwrap(), None, "invalidation removed the local copy");
    assert_eq!(cache.get(b"k").unwrap().as_deref(), Some(&b"new"[..]));

    // Expiry on the server invalidates too.
    redis::cmd("PEXPIRE").arg("k").arg(50).exec(&mut con).unwrap();
    assert!(wait_until(Duration::from_secs(2), || cache.local_ttl(b"k").unwrap().is_none()));
    cache.get(b"k").unwrap();

    // FLUSHALL arrives as an invalidation without keys: the whole near cache goes.
    redis::cmd("SET").arg("k2").arg("v").exec(&mut con).unwrap();
    cache.get(b"k2").unwrap();
    assert!(cache.local_ttl(b"k2").unwrap().is_some());
    let flushes = cache.stats().flushes;
    redis::cmd("FLUSHALL").exec(&mut con).unwrap();
    assert!(wait_until(Duration::from_secs(2), || cache.stats().flushes > flushes));
    assert_eq!(cache.local_ttl(b"k2").unwrap(), None);
    assert_eq!(cache.get(b"k2").unwrap(), None);
}
