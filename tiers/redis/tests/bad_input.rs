//! Bad input and server errors: clear errors, nothing lost or left stale.

mod common;

use common::{config, Server};
use numashard_redis::{Error, NearCache};

#[test]
fn oversized_keys_and_values_are_refused_before_sending() {
    let server = Server::start(&[]);
    let mut con = server.con();
    let mut cfg = config(server.addr());
    cfg.max_key_len = 1024;
    cfg.max_value_len = 1 << 20;
    cfg.map.max_value_len = 64 << 10;
    let cache = NearCache::connect(cfg).unwrap();
    cache.set(b"k", b"v1").unwrap();
    assert!(matches!(cache.get(&[]), Err(Error::KeyTooLarge { len: 0, .. })));
    assert!(matches!(cache.get(&[b'x'; 1025]), Err(Error::KeyTooLarge { len: 1025, max: 1024 })));
    assert!(matches!(cache.set(&[b'x'; 1025], b"v"), Err(Error::KeyTooLarge { .. })));
    let e = cache.set(b"k", &vec![7u8; (1 << 20) + 1]).unwrap_err();
    assert!(matches!(e, Error::ValueTooLarge { len: 1048577, max: 1048576 }), "{e}");
    assert!(e.to_string().contains("max_value_len"));
    // Nothing changed, here or there.
    assert_eq!(cache.get(b"k").unwrap().as_deref(), Some(&b"v1"[..]));
    let v: Vec<u8> = redis::cmd("GET").arg("k").query(&mut con).unwrap();
    assert_eq!(v, b"v1");
    let n: i64 = redis::cmd("EXISTS").arg(vec![b'x'; 1025]).query(&mut con).unwrap();
    assert_eq!(n, 0);

    // A value too large for the local map but within the tier's limit is
    // written and served, just not cached locally (and no older copy survives).
    let big = vec![3u8; 200 << 10];
    cache.get(b"k").unwrap();
    cache.set(b"k", &big).unwrap();
    assert_eq!(cache.local_ttl(b"k").unwrap(), None);
    assert_eq!(cache.get(b"k").unwrap().as_deref(), Some(&big[..]));
    assert_eq!(cache.local_ttl(b"k").unwrap(), None);
}

#[test]
fn server_errors_are_reported_and_change_nothing() {
    let server = Server::start(&["--maxmemory", "3mb", "--maxmemory-policy", "noeviction"]);
    let mut con = server.con();
    let cache = NearCache::connect(config(server.addr())).unwrap();
    cache.set(b"good", b"1").unwrap();
    assert_eq!(cache.get(b"good").unwrap().as_deref(), Some(&b"1"[..]));

    // WRONGTYPE: reading a list as a string.
    redis::cmd("RPUSH").arg("list").arg("a").exec(&mut con).unwrap();
    let e = cache.get(b"list").unwrap_err();
    assert!(matches!(e, Error::Server(_)), "{e}");
    assert!(e.to_string().contains("WRONGTYPE"), "{e}");
    // In a batch, the error fails the batch; the connection stays usable.
    let e = cache.get_many(&[b"good", b"list"]).unwrap_err();
    assert!(matches!(e, Error::Server(_)), "{e}");
    assert_eq!(cache.get(b"good").unwrap().as_deref(), Some(&b"1"[..]));
    assert_eq!(cache.stats().flushes, 1, "a server error is not a lost connection");

    // OOM: writes are refused once the server is full; what was stored stays.
    let chunk = vec![9u8; 256 << 10];
    let mut written = 0;
    let oom = loop {
        match cache.set(format!("fill:{written}").as_bytes(), &chunk) {
            Ok(()) => written += 1,
            Err(e) => break e,
        }
        assert!(written < 100, "maxmemory never refused a write");
    };
    assert!(matches!(oom, Error::Server(_)), "{oom}");
    assert!(oom.to_string().contains("OOM"), "{oom}");
    assert_eq!(cache.get(format!("fill:{written}").as_bytes()).unwrap(), None, "the refused write left nothing");
    for i in 0..written {
        assert_eq!(cache.get(format!("fill:{i}").as_bytes()).unwrap().as_deref(), Some(&chunk[..]));
    }
    assert_eq!(cache.get(b"good").unwrap().as_deref(), Some(&b"1"[..]));
}

#[test]
fn a_server_without_resp3_is_refused_clearly() {
    let server = Server::start(&["--rename-command", "HELLO", ""]);
    let e = NearCache::connect(config(server.addr())).err().expect("connect must fail");
    assert!(matches!(e, Error::Resp3Unsupported(_)), "{e}");
    assert!(e.to_string().contains("RESP3"), "{e}");
    // The server and its data are untouched.
    let mut con = server.con();
    let n: i64 = redis::cmd("DBSIZE").query(&mut con).unwrap();
    assert_eq!(n, 0);
}

#[test]
fn a_server_without_tracking_is_refused_clearly() {
    let server = Server::start(&["--rename-command", "CLIENT", ""]);
    let e = NearCache::connect(config(server.addr())).err().expect("connect must fail");
    assert!(matches!(e, Error::TrackingUnconfirmed(_) | Error::Server(_)), "{e}");
    assert!(e.to_string().to_lowercase().contains("client"), "{e}");
}

#[test]
fn an_unreachable_server_is_a_connection_error() {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let e = NearCache::connect(config(format!("127.0.0.1:{port}"))).err().expect("nothing listens there");
    assert!(matches!(e, Error::Connection(_)), "{e}");
}
