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
