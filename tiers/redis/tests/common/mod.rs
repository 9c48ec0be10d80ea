//! Real `redis-server` processes for the tests: started on a free loopback
//! port, stopped (killed) when dropped.
#![allow(dead_code)]

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A `redis-server` on 127.0.0.1, killed on drop.
pub struct Server {
    pub port: u16,
    args: Vec<String>,
    dir: PathBuf,
    child: Option<Child>,
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// A free port whose Cluster bus port (port + 10000) is free too.
fn free_cluster_port() -> u16 {
    loop {
        let p = free_port();
        if p < 55000 && TcpListener::bind(("127.0.0.1", p + 10000)).is_ok() {
            return p;
        }
    }
}

impl Server {
    /// Starts a server with extra `--name value` configuration arguments.
    pub fn start(extra: &[&str]) -> Server {
        Server::start_on(free_port(), extra)
    }

    fn start_on(port: u16, extra: &[&str]) -> Server {
        let dir = std::env::temp_dir().join(format!("numashard-redis-test-{}-{port}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let mut s = Server { port, args: extra.iter().map(|s| s.to_string()).collect(), dir, child: None };
        s.spawn();
        s
    }

    pub fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    fn spawn(&mut self) {
        let child = Command::new("redis-server")
            .args(["--port", &self.port.to_string(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
            .arg("--dir")
            .arg(&self.dir)
            .args(&self.args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server is installed (scripts/setup.sh installs Debian's redis-server)");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Ok(mut c) = self.client().get_connection_with_timeout(Duration::from_millis(200)) {
                if redis::cmd("PING").query::<String>(&mut c).is_ok() {
                    return;
                }
            }
            assert!(Instant::now() < deadline, "redis-server on port {} did not start", self.port);
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// A plain client (RESP2) to the server, for writers and checks.
    pub fn client(&self) -> redis::Client {
        redis::Client::open(format!("redis://{}/", self.addr())).unwrap()
    }

    pub fn con(&self) -> redis::Connection {
        let c = self.client().get_connection_with_timeout(Duration::from_secs(2)).unwrap();
        c.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        c
    }

    /// SIGKILL, as a crash would.
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Starts again on the same port (empty: nothing is persisted).
    pub fn restart(&mut self) {
        self.kill();
        self.spawn();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A small near-cache configuration for tests.
pub fn config(addr: String) -> numashard_redis::NearConfig {
    let mut cfg = numashard_redis::NearConfig::new(addr);
    cfg.map.shards = 2;
    cfg.map.memory_limit = 64 << 20;
    cfg.heartbeat = Duration::from_millis(100);
    cfg.heartbeat_timeout = Duration::from_millis(1000);
    cfg
}

/// Waits until `f` holds, for at most `limit`.
pub fn wait_until(limit: Duration, mut f: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if f() {
            return true;
        }
        std::thread::sleep(Duration::from_micros(200));
    }
    f()
}

/// Three masters joined by `redis-cli --cluster create`, killed on drop.
pub struct Cluster {
    pub nodes: Vec<Server>,
}

impl Cluster {
    pub fn start() -> Cluster {
        let nodes: Vec<Server> = (0..3)
            .map(|_| {
                let port = free_cluster_port();
                let conf = format!("nodes-{port}.conf");
                Server::start_on(
                    port,
                    &["--cluster-enabled", "yes", "--cluster-config-file", &conf, "--cluster-node-timeout", "5000"],
                )
            })
            .collect();
        let out = Command::new("redis-cli")
            .arg("--cluster")
            .arg("create")
            .args(nodes.iter().map(|n| n.addr()))
            .args(["--cluster-replicas", "0", "--cluster-yes"])
            .stdin(Stdio::null())
            .output()
            .expect("redis-cli is installed (scripts/setup.sh installs Debian's redis-tools)");
        assert!(out.status.success(), "redis-cli --cluster create failed: {}", String::from_utf8_lossy(&out.stdout));
        let ok = wait_until(Duration::from_secs(20), || {
            nodes.iter().all(|n| {
                let mut c = n.con();
                let info: String = redis::cmd("CLUSTER").arg("INFO").query(&mut c).unwrap();
                let slots: Vec<redis::Value> = redis::cmd("CLUSTER").arg("SLOTS").query(&mut c).unwrap();
                info.contains("cluster_state:ok") && slots.len() == 3
            })
        });
        assert!(ok, "the cluster did not reach cluster_state:ok");
        Cluster { nodes }
    }

    pub fn addrs(&self) -> Vec<String> {
        self.nodes.iter().map(|n| n.addr()).collect()
    }

    /// A plain connection to the master that owns `key`.
    pub fn con_for(&self, key: &[u8]) -> redis::Connection {
        self.nodes[self.owner_of(key)].con()
    }

    /// Index in `nodes` of the master that owns `key`.
    pub fn owner_of(&self, key: &[u8]) -> usize {
        let mut c = self.nodes[0].con();
        let slot: u16 = redis::cmd("CLUSTER").arg("KEYSLOT").arg(key).query(&mut c).unwrap();
        let ranges: Vec<(u16, u16, (String, u16))> = redis::cmd("CLUSTER")
            .arg("SLOTS")
            .query::<Vec<redis::Value>>(&mut c)
            .unwrap()
            .into_iter()
            .map(|v| {
                let redis::Value::Array(p) = v else { panic!() };
                let lo = redis::from_redis_value(p[0].clone()).unwrap();
                let hi = redis::from_redis_value(p[1].clone()).unwrap();
                let redis::Value::Array(m) = p[2].clone() else { panic!() };
                (
                    lo,
                    hi,
                    (redis::from_redis_value(m[0].clone()).unwrap(), redis::from_redis_value(m[1].clone()).unwrap()),
                )
            })
            .collect();
        let (_, _, (host, port)) = ranges.into_iter().find(|(lo, hi, _)| (*lo..=*hi).contains(&slot)).unwrap();
        self.nodes.iter().position(|n| n.port == port && host == "127.0.0.1").expect("a node of ours")
    }
}
