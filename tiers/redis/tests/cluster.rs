//! A three-master Redis Cluster: keys in every node's slot ranges, batches
//! across slots (one pipeline per node), invalidations from every node, and
//! the slot function checked against `CLUSTER KEYSLOT`.

mod common;

use common::{config, Cluster};
use numashard_redis::{slot::key_slot, NearCache, NearConfig};
use std::collections::HashSet;

fn cluster_config(c: &Cluster) -> NearConfig {
    let base = config(String::new());
    NearConfig { servers: c.addrs(), cluster: true, ..base }
}

#[test]
fn near_cache_over_a_three_master_cluster() {
    let cluster = Cluster::start();
    let cache = NearCache::connect(cluster_config(&cluster)).unwrap();
    assert_eq!(cache.node_count(), 3);
    assert!(cache.is_serving());

    // The slot function agrees with the server's.
    let mut probe = cluster.nodes[0].con();
    for i in 0..300 {
        let k = format!("key:{i}:{}", "x".repeat(i % 7));
        let k = if i % 5 == 0 { format!("{{tag{}}}{k}", i % 11) } else { k };
        let server: u16 = redis::cmd("CLUSTER").arg("KEYSLOT").arg(&k).query(&mut probe).unwrap();
        assert_eq!(key_slot(k.as_bytes()), server, "{k}");
    }

    // 2000 keys: every master's ranges, ~1800 distinct slots.
    let keys: Vec<String> = (0..2000).map(|i| format!("ck:{i}")).collect();
    let slots: HashSet<u16> = keys.iter().map(|k| key_slot(k.as_bytes())).collect();
    assert!(slots.len() > 1500);
    let mut per_master = [0usize; 3];
    for k in keys.iter().step_by(10) {
        per_master[cluster.owner_of(k.as_bytes())] += 1;
    }
    assert!(per_master.iter().all(|&n| n > 30), "keys on every master: {per_master:?}");
    for (i, k) in keys.iter().enumerate() {
        cache.set(k.as_bytes(), format!("v{i}").as_bytes()).unwrap();
    }
    // Each key landed on the master that owns it.
    for (i, k) in keys.iter().enumerate().step_by(97) {
        let v: String = redis::cmd("GET").arg(k).query(&mut cluster.con_for(k.as_bytes())).unwrap();
        assert_eq!(v, format!("v{i}"));
    }
    // Batches of 64 across slots and nodes: one pipeline per node, order kept.
    let before = cache.stats();
    for chunk in keys.chunks(64).zip((0..).step_by(64)) {
        let (ks, base) = chunk;
        let refs: Vec<&[u8]> = ks.iter().map(|k| k.as_bytes()).collect();
        let got = cache.get_many(&refs).unwrap();
        for (j, v) in got.iter().enumerate() {
            assert_eq!(v.as_deref(), Some(format!("v{}", base + j).as_bytes()));
        }
    }
    // Again: all local now (the writes' read-backs, or the first batch pass, installed them).
    let mid = cache.stats();
    let refs: Vec<&[u8]> = keys.iter().take(64).map(|k| k.as_bytes()).collect();
    cache.get_many(&refs).unwrap();
    let after = cache.stats();
    assert_eq!(after.local_hits - mid.local_hits, 64, "a repeated batch is answered locally");
    assert!(mid.server_reads >= before.server_reads);

    // Writes by another client on each master invalidate the near copies.
    let mut per_node_hits = [false; 3];
    for (i, k) in keys.iter().enumerate().step_by(13).take(120) {
        let mut con = cluster.con_for(k.as_bytes());
        cache.get(k.as_bytes()).unwrap();
        redis::cmd("SET").arg(k).arg(format!("w{i}")).exec(&mut con).unwrap();
        cache.sync().unwrap();
        assert_eq!(cache.get(k.as_bytes()).unwrap().as_deref(), Some(format!("w{i}").as_bytes()), "{k}");
        per_node_hits[cluster.owner_of(k.as_bytes())] = true;
    }
    assert_eq!(per_node_hits, [true; 3], "invalidations came from every master");

    // Deletes go to the owning node.
    for k in keys.iter().take(50) {
        assert!(cache.delete(k.as_bytes()).unwrap());
        assert_eq!(cache.get(k.as_bytes()).unwrap(), None);
    }
}

fn node_id(con: &mut redis::Connection) -> String {
    redis::cmd("CLUSTER").arg("MYID").query(con).unwrap()
}

/// A slot resharded under the cache (as `redis-cli --cluster reshard` does:
/// IMPORTING / MIGRATING, MIGRATE of its keys, SETSLOT NODE everywhere):
/// reads and writes keep working through `ASK` during the move and `MOVED`
/// after it, and nothing stale is served. The slot is the one the source
/// master's heartbeats use (the first tag `nshb<i>` in its slots), so the
/// heartbeat moves to another slot without losing the connection.
#[test]
fn a_slot_migrated_under_the_cache_is_followed() {
    let cluster = Cluster::start();
    let cache = NearCache::connect(cluster_config(&cluster)).unwrap();
    let src = 0;
    let tag = (0..).map(|i| format!("nshb{i}")).find(|t| cluster.owner_of(t.as_bytes()) == src).unwrap();
    let keys: Vec<String> = (0..40).map(|i| format!("{{{tag}}}:{i}")).collect();
    let slot = key_slot(tag.as_bytes());
    let before = cache.stats();
    for (i, k) in keys.iter().enumerate() {
        cache.set(k.as_bytes(), format!("a{i}").as_bytes()).unwrap();
    }
    for (i, k) in keys.iter().enumerate() {
        assert_eq!(cache.get(k.as_bytes()).unwrap().as_deref(), Some(format!("a{i}").as_bytes()));
    }
    let dst = (src + 1) % 3;
    let (mut s, mut d) = (cluster.nodes[src].con(), cluster.nodes[dst].con());
    let (src_id, dst_id) = (node_id(&mut s), node_id(&mut d));
    redis::cmd("CLUSTER").arg("SETSLOT").arg(slot).arg("IMPORTING").arg(&src_id).exec(&mut d).unwrap();
    redis::cmd("CLUSTER").arg("SETSLOT").arg(slot).arg("MIGRATING").arg(&dst_id).exec(&mut s).unwrap();
    let migrate = |s: &mut redis::Connection, ks: &[String]| {
        redis::cmd("MIGRATE")
            .arg("127.0.0.1")
            .arg(cluster.nodes[dst].port)
            .arg("")
            .arg(0)
            .arg(5000)
            .arg("KEYS")
            .arg(ks)
            .exec(s)
            .unwrap();
    };
    // Half the keys move; the source's invalidations drop their local copies.
    migrate(&mut s, &keys[..20]);
    cache.sync().unwrap();
    // During the move: a moved key is read and written through ASK on the target.
    for (i, k) in keys.iter().enumerate().take(20) {
        assert_eq!(cache.get(k.as_bytes()).unwrap().as_deref(), Some(format!("a{i}").as_bytes()), "{k}");
    }
    cache.set(keys[0].as_bytes(), b"during").unwrap();
    let (v,): (String,) = redis::pipe().cmd("ASKING").ignore().cmd("GET").arg(&keys[0]).query(&mut d).unwrap();
    assert_eq!(v, "during", "an ASK write lands on the importing master");
    assert_eq!(cache.get(keys[0].as_bytes()).unwrap().as_deref(), Some(&b"during"[..]));
    // Keys not moved yet are still read from the source.
    assert_eq!(cache.get(keys[30].as_bytes()).unwrap().as_deref(), Some(&b"a30"[..]));
    migrate(&mut s, &keys[20..]);
    // Whatever else lives in the slot (the heartbeat key) moves too.
    let rest: Vec<String> = redis::cmd("CLUSTER").arg("GETKEYSINSLOT").arg(slot).arg(100).query(&mut s).unwrap();
    if !rest.is_empty() {
        migrate(&mut s, &rest);
    }
    for n in &cluster.nodes {
        redis::cmd("CLUSTER").arg("SETSLOT").arg(slot).arg("NODE").arg(&dst_id).exec(&mut n.con()).unwrap();
    }
    // After the move, another client writes every key on the new master.
    for (i, k) in keys.iter().enumerate() {
        redis::cmd("SET").arg(k).arg(format!("b{i}")).exec(&mut d).unwrap();
    }
    cache.sync().unwrap();
    for round in 0..2 {
        for (i, k) in keys.iter().enumerate() {
            assert_eq!(
                cache.get(k.as_bytes()).unwrap().as_deref(),
                Some(format!("b{i}").as_bytes()),
                "{k} round {round}"
            );
        }
    }
    let st = cache.stats();
    assert!(st.redirects >= 1, "{st:?}");
    // Writes, deletes and batches go to the new master; its invalidations reach the cache.
    cache.set(keys[1].as_bytes(), b"after").unwrap();
    let v: String = redis::cmd("GET").arg(&keys[1]).query(&mut d).unwrap();
    assert_eq!(v, "after");
    redis::cmd("SET").arg(&keys[2]).arg("other").exec(&mut d).unwrap();
    cache.sync().unwrap();
    assert_eq!(cache.get(keys[2].as_bytes()).unwrap().as_deref(), Some(&b"other"[..]));
    assert!(cache.delete(keys[3].as_bytes()).unwrap());
    let refs: Vec<&[u8]> = keys.iter().map(|k| k.as_bytes()).collect();
    let got = cache.get_many(&refs).unwrap();
    assert_eq!(got[1].as_deref(), Some(&b"after"[..]));
    assert_eq!(got[3], None);
    assert_eq!(got[39].as_deref(), Some(&b"b39"[..]));
    // Heartbeats continue on another slot of the source: no reconnect, no flush.
    std::thread::sleep(std::time::Duration::from_millis(600));
    cache.sync().unwrap();
    let after = cache.stats();
    assert!(cache.is_serving());
    assert_eq!((after.reconnects, after.flushes), (before.reconnects, before.flushes), "{after:?}");
}
