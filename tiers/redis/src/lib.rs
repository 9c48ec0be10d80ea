//! numashard as a NUMA-local near cache in front of Redis (or Valkey, or a
//! Redis Cluster), kept coherent by the server.
//!
//! [`NearCache`] answers reads from a local [`numashard::Map`] in cache mode
//! (bounded by its memory limit, S3-FIFO eviction, TTLs) and goes to the
//! server on a miss; the server tells it, through server-assisted
//! client-side caching (`CLIENT TRACKING`), when a key it read has changed.
//!
//! # Operations
//! - [`get`](NearCache::get): a local hit, or read-through: `GET` and `PTTL`
//!   in one round trip; the value is installed locally with the server's
//!   remaining TTL. Absent keys are not cached.
//! - [`get_many`](NearCache::get_many): local hits first, then the misses as
//!   one pipeline per server (in a Cluster, keys are grouped by the master that
//!   owns their hash slot, so a batch across slots costs one round trip per node).
//! - [`set`](NearCache::set) / [`set_with_ttl`](NearCache::set_with_ttl):
//!   write-through. **Order: the server first, then the local copy.** One round
//!   trip sends `SET key value [PX ms]`, `GET key`, `PTTL key`; only when the
//!   server acknowledged the `SET` is the local copy replaced, by the value the
//!   server held right after it (which also keeps the key tracked). If an
//!   invalidation of the key's slot arrived meanwhile, the local copy is
//!   removed instead. A refused or failed write drops the local copy (the next
//!   read fetches the server's value again) and changes nothing else.
//! - [`delete`](NearCache::delete): `DEL` on the server, then the local copy.
//!
//! # The guarantee
//! Each data connection runs `CLIENT TRACKING ON REDIRECT <id>` towards a
//! listener connection (RESP3) that receives the `invalidate` push messages.
//!
//! 1. **Invalidation.** Once the server acknowledged a write of key `k` (by
//!    anyone) and the listener received the invalidation for `k` that the write
//!    caused, no read of this near cache returns a value of `k` older than that
//!    write: the listener removes the local copy before it reads its next
//!    message, and a read-through whose reply was produced before the write
//!    cannot install it (see below). The window between the write's
//!    acknowledgement and the invalidation's arrival is the only time a local
//!    read may return the older value; the tests measure it.
//! 2. **Read-through race.** A `GET` that races an invalidation never installs
//!    a stale value: each of the 16384 slots has a sequence number that an
//!    invalidation bumps under the slot's lock; a read-through snapshots it
//!    before sending and installs only if it is unchanged (and no flush
//!    happened) under the same lock.
//! 3. **Disconnects.** When the listener connection breaks, a heartbeat (a key
//!    of its own, read and written through a tracked connection every
//!    `heartbeat`) is not answered within `heartbeat_timeout`, or a data
//!    connection breaks, the node stops serving local copies and the whole
//!    near cache is flushed; it serves locally again only after a new listener
//!    received a heartbeat invalidation, and after another flush. So no read
//!    after a reconnect returns a value cached before the disconnect. While the
//!    listener is down reads of that node fail with [`Error::TrackingUnconfirmed`]
//!    or [`Error::Connection`]; nothing stale is served.
//! 4. **Own writes.** After `set` or `delete` returns, this near cache returns
//!    the written value (or a later one), never an older one.
//!
//! Not guaranteed: ordering across keys (each key is coherent on its own), and
//! a value expired on the server may be served locally until the server's
//! expiry invalidation arrives (local TTLs copied from `PTTL` bound that too).
//!
//! # Cluster resharding
//! The slot map is read at connect. A command answered `MOVED` reloads it
//! (`CLUSTER SLOTS`; a master not seen before gets its own listener, which
//! proves tracking and flushes the near copy) and is sent again; one answered
//! `ASK` (its slot is migrating) is sent once more to the importing master
//! after `ASKING`. A batch re-reads the keys of a redirected node one by one.
//! Local copies of a moved slot need no flush: `MIGRATE` deletes each key on
//! the old master, whose invalidation removes the copy, and [`sync`](NearCache::sync)
//! covers every master. Heartbeat and sync keys move to another slot of their
//! master when theirs migrates. Counted in [`NearStats::redirects`].
//!
//! ```no_run
//! use numashard_redis::{NearCache, NearConfig};
//! let cache = NearCache::connect(NearConfig::new("127.0.0.1:6379"))?;
//! cache.set(b"user:42", b"alice")?;
//! assert_eq!(cache.get(b"user:42")?.as_deref(), Some(&b"alice"[..]));
//! # Ok::<(), numashard_redis::Error>(())
//! ```
#![warn(missing_docs)]

mod coherence;
mod error;
mod node;
pub mod slot;
mod stats;

pub use error::{Error, Result};
pub use stats::NearStats;

use coherence::{Coherence, InstallKind};
use node::Node;
use parking_lot::Mutex;
use redis::Value;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU16, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::thread::JoinHandle;
use std::time::Duration;

use slot::{key_slot, SLOTS};

/// How a [`NearCache`] reaches its server and bounds its local copy.
#[derive(Clone, Debug)]
pub struct NearConfig {
    /// `host:port` of the server, or of any Cluster nodes (the first that
    /// answers `CLUSTER SLOTS` gives the slot map).
    pub servers: Vec<String>,
    /// Treat `servers` as a Redis Cluster.
    pub cluster: bool,
    /// The local map: memory limit, eviction, default TTL, shards. Eviction
    /// should be on (`Eviction::S3Fifo`) so the near cache stays bounded.
    pub map: numashard::Config,
    /// Time allowed to open a connection.
    pub connect_timeout: Duration,
    /// Time allowed for one exchange with the server.
    pub io_timeout: Duration,
    /// How often an idle listener proves the invalidation path end to end.
    pub heartbeat: Duration,
    /// A heartbeat not answered within this time counts as a lost connection.
    pub heartbeat_timeout: Duration,
    /// Longest key accepted (Redis allows 512 MiB; the default is 64 KiB).
    /// Keys longer than the local map's `max_key_len` are served but not cached.
    pub max_key_len: usize,
    /// Longest value a write accepts (default 512 MiB, Redis's
    /// `proto-max-bulk-len`). Values longer than the local map's
    /// `max_value_len` are served but not cached.
    pub max_value_len: usize,
}

impl NearConfig {
    /// A single server, a 256 MiB S3-FIFO near cache, and default time-outs.
    pub fn new(server: impl Into<String>) -> Self {
        NearConfig {
            servers: vec![server.into()],
            cluster: false,
            map: numashard::Config {
                eviction: numashard::Eviction::S3Fifo,
                memory_limit: 256 << 20,
                ..numashard::Config::default()
            },
            connect_timeout: Duration::from_secs(1),
            io_timeout: Duration::from_secs(2),
            heartbeat: Duration::from_millis(500),
            heartbeat_timeout: Duration::from_secs(2),
            max_key_len: 64 << 10,
            max_value_len: 512 << 20,
        }
    }

    /// The nodes of a Redis Cluster (any subset that includes a reachable one).
    pub fn cluster(servers: impl IntoIterator<Item = impl Into<String>>) -> Self {
        let mut cfg = NearConfig::new(String::new());
        cfg.servers = servers.into_iter().map(Into::into).collect();
        cfg.cluster = true;
        cfg
    }
}

#[derive(Clone, Copy)]
pub(crate) struct Timeouts {
    pub(crate) connect: Duration,
    pub(crate) io: Duration,
    pub(crate) heartbeat: Duration,
    pub(crate) heartbeat_timeout: Duration,
}

/// What the nodes and the cache share.
pub(crate) struct Shared {
    pub(crate) coherence: Coherence,
    pub(crate) closed: AtomicBool,
    pub(crate) timeouts: Timeouts,
    /// Distinguishes near caches of one process (heartbeat keys).
    pub(crate) instance: u64,
    /// Index (into the cache's node table) of the master owning each slot.
    pub(crate) slot_node: Box<[AtomicU16]>,
    /// Bumped whenever `slot_node` changes.
    pub(crate) map_version: AtomicU64,
    /// A listener saw a slot move (its heartbeat answered `MOVED`): the next
    /// call reloads the slot map.
    pub(crate) remap_needed: AtomicBool,
}

/// Most masters a near cache follows (the node table is allocated once, so
/// that reads find a node with plain loads while a reshard adds one).
const MAX_NODES: usize = 1024;

/// Redirections followed for one command before it fails.
const MAX_REDIRECTS: usize = 5;

/// A near cache in front of a Redis server or Cluster. `Send + Sync`: share
/// one (in an `Arc`) between threads; each call uses a pooled connection.
pub struct NearCache {
    shared: Arc<Shared>,
    /// The masters, in the order they became known; `node_count` are set.
    nodes: Box<[OnceLock<Arc<Node>>]>,
    node_count: AtomicUsize,
    /// Serialises slot map reloads.
    remap_lock: Mutex<()>,
    /// The servers given (asked for the slot map, after the known masters).
    seeds: Vec<String>,
    cluster: bool,
    threads: Mutex<Vec<JoinHandle<()>>>,
    max_key_len: usize,
    max_value_len: usize,
}

type Ttl = Option<Duration>;

/// The remaining TTL from a `PTTL` reply (-1: none, -2: no key).
fn ttl_from_pttl(ms: i64) -> Ttl {
    (ms >= 0).then(|| Duration::from_millis(ms.max(1) as u64))
}

fn parse_read(get: Value, pttl: Value) -> redis::RedisResult<(Option<Vec<u8>>, Ttl)> {
    let value: Option<Vec<u8>> = redis::from_redis_value(get.extract_error()?)?;
    let ms: i64 = redis::from_redis_value(pttl.extract_error()?)?;
    Ok((value, ttl_from_pttl(ms)))
}

/// Slot map of a Cluster: (first slot, last slot, master `host:port`).
fn cluster_slots(servers: &[String], t: &Timeouts) -> Result<Vec<(u16, u16, String)>> {
    let mut last = None;
    for server in servers {
        let client = redis::Client::open(format!("redis://{server}/")).map_err(|e| Error::Config(e.to_string()))?;
        let reply = client.get_connection_with_timeout(t.connect).and_then(|mut con| {
            con.set_read_timeout(Some(t.io))?;
            redis::cmd("CLUSTER").arg("SLOTS").query::<Vec<Value>>(&mut con)
        });
        match reply {
            Ok(ranges) => {
                let mut out = Vec::new();
                for r in ranges {
                    let Value::Array(parts) = r else { continue };
                    let mut it = parts.into_iter();
                    let (Some(lo), Some(hi), Some(Value::Array(master))) = (it.next(), it.next(), it.next()) else {
                        continue;
                    };
                    let lo: u16 = redis::from_redis_value(lo).map_err(|e| Error::Config(e.to_string()))?;
                    let hi: u16 = redis::from_redis_value(hi).map_err(|e| Error::Config(e.to_string()))?;
                    let mut m = master.into_iter();
                    let host: String = m
                        .next()
                        .map(redis::from_redis_value)
                        .transpose()
                        .map_err(|e| Error::Config(e.to_string()))?
                        .unwrap_or_default();
                    let port: u16 = m
                        .next()
                        .map(redis::from_redis_value)
                        .transpose()
                        .map_err(|e| Error::Config(e.to_string()))?
                        .unwrap_or_default();
                    let host = if host.is_empty() {
                        server.rsplit_once(':').map_or(server.as_str(), |h| h.0).to_string()
                    } else {
                        host
                    };
                    out.push((lo, hi, format!("{host}:{port}")));
                }
                return Ok(out);
            }
            Err(e) => last = Some(e),
        }
    }
    Err(last.map_or_else(|| Error::Config("no server given".into()), error::classify))
}

static INSTANCES: AtomicU64 = AtomicU64::new(0);

/// Adds command `name` to `p`, after `ASKING` when following an `ASK`
/// redirection (the flag holds for the next command only).
fn cmd<'a>(p: &'a mut redis::Pipeline, asking: bool, name: &str) -> &'a mut redis::Pipeline {
    if asking {
        p.cmd("ASKING").ignore();
    }
    p.cmd(name)
}

impl NearCache {
    /// Opens the local map, connects to the server (or every Cluster master),
    /// enables tracking and proves it with a heartbeat before returning.
    ///
    /// Fails with [`Error::Resp3Unsupported`] if the server refuses `HELLO 3`,
    /// [`Error::TrackingUnconfirmed`] if it refuses `CLIENT TRACKING` or no
    /// invalidation arrives, [`Error::Connection`] if it cannot be reached.
    pub fn connect(cfg: NearConfig) -> Result<NearCache> {
        if cfg.servers.is_empty() {
            return Err(Error::Config("no server given".into()));
        }
        let timeouts = Timeouts {
            connect: cfg.connect_timeout,
            io: cfg.io_timeout,
            heartbeat: cfg.heartbeat,
            heartbeat_timeout: cfg.heartbeat_timeout,
        };
        let ranges = if cfg.cluster {
            cluster_slots(&cfg.servers, &timeouts)?
        } else {
            vec![(0, (SLOTS - 1) as u16, cfg.servers[0].clone())]
        };
        let mut addrs: Vec<String> = Vec::new();
        let mut slot_node = vec![u16::MAX; SLOTS];
        for (lo, hi, addr) in &ranges {
            let i = match addrs.iter().position(|a| a == addr) {
                Some(i) => i,
                None => {
                    addrs.push(addr.clone());
                    addrs.len() - 1
                }
            };
            for s in *lo..=*hi {
                slot_node[s as usize] = i as u16;
            }
        }
        if let Some(s) = slot_node.iter().position(|&n| n == u16::MAX) {
            return Err(Error::Config(format!("cluster slot {s} is served by no master")));
        }
        if addrs.len() > MAX_NODES {
            return Err(Error::Config(format!("more than {MAX_NODES} masters")));
        }
        let map = numashard::Map::new(cfg.map.clone())?;
        let shared = Arc::new(Shared {
            coherence: Coherence::new(map),
            closed: AtomicBool::new(false),
            timeouts,
            instance: INSTANCES.fetch_add(1, Ordering::Relaxed),
            slot_node: slot_node.into_iter().map(AtomicU16::new).collect(),
            map_version: AtomicU64::new(0),
            remap_needed: AtomicBool::new(false),
        });
        let cache = NearCache {
            shared,
            nodes: (0..MAX_NODES).map(|_| OnceLock::new()).collect(),
            node_count: AtomicUsize::new(0),
            remap_lock: Mutex::new(()),
            seeds: cfg.servers.clone(),
            cluster: cfg.cluster,
            threads: Mutex::new(Vec::new()),
            max_key_len: cfg.max_key_len,
            max_value_len: cfg.max_value_len,
        };
        for addr in addrs {
            cache.add_node(addr)?;
        }
        Ok(cache)
    }

    /// Creates a node for a master, starts its listener (which proves
    /// tracking and then flushes the near copy) and returns its index.
    fn add_node(&self, addr: String) -> Result<u16> {
        let i = self.node_count.load(Ordering::Acquire);
        if i >= MAX_NODES {
            return Err(Error::Config(format!("more than {MAX_NODES} masters")));
        }
        let node = Arc::new(Node::new(addr, i as u16, Arc::clone(&self.shared))?);
        let t = node.start()?;
        self.threads.lock().push(t);
        let _ = self.nodes[i].set(node);
        self.node_count.store(i + 1, Ordering::Release);
        Ok(i as u16)
    }

    fn node(&self, i: u16) -> &Arc<Node> {
        self.nodes[i as usize].get().expect("slot_node holds indexes of created nodes only")
    }

    fn all_nodes(&self) -> impl Iterator<Item = &Arc<Node>> {
        self.nodes[..self.node_count.load(Ordering::Acquire)].iter().filter_map(|n| n.get())
    }

    fn node_index_of(&self, slot: u16) -> u16 {
        self.shared.slot_node[slot as usize].load(Ordering::Acquire)
    }

    fn node_of(&self, slot: u16) -> &Arc<Node> {
        self.node(self.node_index_of(slot))
    }

    /// Reloads the Cluster's slot map (after a `MOVED`): slots point to their
    /// new masters, a master not seen before gets a node and a listener. A
    /// slot's moved keys were deleted on the old master, whose invalidations
    /// removed the local copies; read-throughs in flight for a moved slot
    /// are fenced off. `moved` is the redirection that prompted it: if the
    /// map already says so, another thread reloaded it first.
    fn remap(&self, moved: Option<(u16, &str)>) -> Result<()> {
        if !self.cluster {
            return Err(Error::Config("the server answered MOVED but the cache is not in cluster mode".into()));
        }
        let _g = self.remap_lock.lock();
        if let Some((slot, addr)) = moved {
            if self.node_of(slot).addr == addr {
                return Ok(());
            }
        }
        self.shared.remap_needed.store(false, Ordering::Release);
        let mut servers: Vec<String> = self.all_nodes().map(|n| n.addr.clone()).collect();
        servers.extend(self.seeds.iter().cloned());
        let ranges = cluster_slots(&servers, &self.shared.timeouts).inspect_err(|_| {
            self.shared.remap_needed.store(true, Ordering::Release);
        })?;
        let co = &self.shared.coherence;
        for (lo, hi, addr) in ranges {
            let i = match self.all_nodes().position(|n| n.addr == addr) {
                Some(i) => i as u16,
                None => self.add_node(addr)?,
            };
            for s in lo..=hi {
                if self.shared.slot_node[s as usize].swap(i, Ordering::AcqRel) != i {
                    co.fence(s);
                }
            }
        }
        self.shared.map_version.fetch_add(1, Ordering::AcqRel);
        co.counters.redirects.add(1);
        Ok(())
    }

    /// Runs a command for `slot` on its master, following `MOVED` (reload
    /// the slot map, send again) and `ASK` (send to the importing master,
    /// after `ASKING`, once). `op` gets the node and whether to send `ASKING`.
    fn routed<T>(&self, slot: u16, mut op: impl FnMut(&Node, bool) -> Result<T>) -> Result<T> {
        let mut ask: Option<Arc<Node>> = None;
        for _ in 0..MAX_REDIRECTS {
            let r = match ask.take() {
                Some(n) => op(&n, true),
                None => op(self.node_of(slot), false),
            };
            let Err(e) = &r else { return r };
            let Some(error::Redirect { ask: is_ask, slot: s, addr }) = error::redirect(e) else { return r };
            if is_ask {
                let i = match self.all_nodes().position(|n| n.addr == addr) {
                    Some(i) => i as u16,
                    None => {
                        self.remap(None)?;
                        match self.all_nodes().position(|n| n.addr == addr) {
                            Some(i) => i as u16,
                            None => return r,
                        }
                    }
                };
                ask = Some(Arc::clone(self.node(i)));
            } else {
                self.remap(Some((s, &addr)))?;
            }
        }
        Err(Error::TrackingUnconfirmed(format!("slot {slot}: more than {MAX_REDIRECTS} redirections")))
    }

    fn check_key(&self, key: &[u8]) -> Result<()> {
        if self.shared.closed.load(Ordering::Acquire) {
            return Err(Error::Closed);
        }
        if self.shared.remap_needed.load(Ordering::Acquire) {
            self.remap(None)?;
        }
        if key.is_empty() || key.len() > self.max_key_len {
            return Err(Error::KeyTooLarge { len: key.len(), max: self.max_key_len });
        }
        Ok(())
    }

    /// The value of `key`: the local copy if there is one, else the server's
    /// (installed locally with its TTL). `None` if the server has no such key.
    pub fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>> {
        self.check_key(key)?;
        let slot = key_slot(key);
        let node = self.node_of(slot);
        let co = &self.shared.coherence;
        if node.serving.load(Ordering::Acquire) {
            if let Some(v) = co.map.get(key)? {
                co.counters.local_hits.add(1);
                return Ok(Some(v));
            }
        }
        self.read_through(slot, key)
    }

    /// Like [`get`](Self::get), copying the value into `buf`: its length when
    /// found. If that is larger than `buf`, nothing was copied (a server
    /// reply was still installed locally, so asking again with a buffer of
    /// that size is usually a local hit).
    pub fn get_into(&self, key: &[u8], buf: &mut [u8]) -> Result<Option<usize>> {
        self.check_key(key)?;
        let slot = key_slot(key);
        let node = self.node_of(slot);
        let co = &self.shared.coherence;
        if node.serving.load(Ordering::Acquire) {
            if let Some(n) = co.map.get_into(key, buf)? {
                co.counters.local_hits.add(1);
                return Ok(Some(n));
            }
        }
        Ok(self.read_through(slot, key)?.map(|v| {
            if let Some(dst) = buf.get_mut(..v.len()) {
                dst.copy_from_slice(&v);
            }
            v.len()
        }))
    }

    /// A miss: `GET` + `PTTL` in one round trip, the reply installed locally
    /// unless an invalidation or flush overtook it.
    fn read_through(&self, slot: u16, key: &[u8]) -> Result<Option<Vec<u8>>> {
        let co = &self.shared.coherence;
        self.routed(slot, |node, asking| {
            let snap = co.snapshot(slot);
            let mut p = redis::pipe();
            cmd(&mut p, asking, "GET").arg(key);
            cmd(&mut p, asking, "PTTL").arg(key);
            let (get, pttl) = node.with_conn(|con| p.query::<(Value, Value)>(con))?;
            co.counters.server_reads.add(1);
            let (value, ttl) = parse_read(get, pttl).map_err(error::classify)?;
            if let Some(v) = &value {
                co.install(snap, &node.serving, key, v, ttl, InstallKind::Read);
            }
            Ok(value)
        })
    }

    /// The values of `keys`, in order: local hits first, then every miss in
    /// one pipelined round trip per server node. Fails as a whole if a node fails.
    pub fn get_many(&self, keys: &[&[u8]]) -> Result<Vec<Option<Vec<u8>>>> {
        for k in keys {
            self.check_key(k)?;
        }
        let co = &self.shared.coherence;
        let slots: Vec<u16> = keys.iter().map(|k| key_slot(k)).collect();
        let local: Vec<usize> =
            (0..keys.len()).filter(|&i| self.node_of(slots[i]).serving.load(Ordering::Acquire)).collect();
        let mut out: Vec<Option<Vec<u8>>> = vec![None; keys.len()];
        let mut misses: HashMap<u16, Vec<usize>> = HashMap::new();
        if !local.is_empty() {
            let lk: Vec<&[u8]> = local.iter().map(|&i| keys[i]).collect();
            let found = co.map.get_many(&lk)?;
            let mut hits = 0;
            for (&i, v) in local.iter().zip(found) {
                if v.is_some() {
                    hits += 1;
                }
                out[i] = v;
            }
            co.counters.local_hits.add(hits);
        }
        for (i, v) in out.iter().enumerate() {
            if v.is_none() {
                misses.entry(self.node_index_of(slots[i])).or_default().push(i);
            }
        }
        // Keys whose slot moved (MOVED / ASK): read again one by one, routed.
        let mut redo = Vec::new();
        for (n, idx) in misses {
            let node = self.node(n);
            let snaps: Vec<_> = idx.iter().map(|&i| co.snapshot(slots[i])).collect();
            let mut p = redis::pipe();
            for &i in &idx {
                p.cmd("GET").arg(keys[i]).cmd("PTTL").arg(keys[i]);
            }
            let replies = match node.with_conn(|con| p.query::<Vec<Value>>(con)) {
                Ok(r) => r,
                Err(e) if error::redirect(&e).is_some() => {
                    redo.extend(idx);
                    continue;
                }
                Err(e) => return Err(e),
            };
            co.counters.server_reads.add(idx.len() as u64);
            let mut it = replies.into_iter();
            for (&i, snap) in idx.iter().zip(snaps) {
                let (Some(get), Some(pttl)) = (it.next(), it.next()) else {
                    return Err(Error::Server(redis::RedisError::from((
                        redis::ErrorKind::UnexpectedReturnType,
                        "pipeline answered fewer replies than commands",
                    ))));
                };
                let (value, ttl) = match parse_read(get, pttl) {
                    Ok(r) => r,
                    Err(e) if error::redirect_of(&e).is_some() => {
                        redo.push(i);
                        continue;
                    }
                    Err(e) => return Err(error::classify(e)),
                };
                if let Some(v) = &value {
                    co.install(snap, &node.serving, keys[i], v, ttl, InstallKind::Read);
                }
                out[i] = value;
            }
        }
        for i in redo {
            out[i] = self.read_through(slots[i], keys[i])?;
        }
        Ok(out)
    }

    /// Writes `value` on the server, then replaces the local copy (see the
    /// crate documentation for the order). The key loses any TTL it had.
    pub fn set(&self, key: &[u8], value: &[u8]) -> Result<()> {
        self.write(key, value, None)
    }

    /// Like [`set`](Self::set), with a time to live (`SET ... PX`); the local
    /// copy expires with the server's.
    pub fn set_with_ttl(&self, key: &[u8], value: &[u8], ttl: Duration) -> Result<()> {
        if ttl.is_zero() {
            return Err(Error::Config("a TTL must be at least one millisecond".into()));
        }
        self.write(key, value, Some(ttl))
    }

    fn write(&self, key: &[u8], value: &[u8], ttl: Ttl) -> Result<()> {
        self.check_key(key)?;
        if value.len() > self.max_value_len {
            return Err(Error::ValueTooLarge { len: value.len(), max: self.max_value_len });
        }
        let slot = key_slot(key);
        let co = &self.shared.coherence;
        self.routed(slot, |node, asking| {
            let snap = co.snapshot(slot);
            let mut p = redis::pipe();
            cmd(&mut p, asking, "SET").arg(key).arg(value);
            if let Some(ttl) = ttl {
                p.arg("PX").arg(ttl.as_millis().max(1) as u64);
            }
            cmd(&mut p, asking, "GET").arg(key);
            cmd(&mut p, asking, "PTTL").arg(key);
            let replies = node.with_conn(|con| p.query::<Vec<Value>>(con));
            co.counters.server_writes.add(1);
            let mut it = match replies {
                Ok(r) => r.into_iter(),
                Err(e) => {
                    // The write may or may not have been applied: the local copy goes.
                    co.invalidate(slot, key, false);
                    return Err(e);
                }
            };
            let (Some(set), Some(get), Some(pttl)) = (it.next(), it.next(), it.next()) else {
                co.invalidate(slot, key, false);
                return Err(Error::Server(redis::RedisError::from((
                    redis::ErrorKind::UnexpectedReturnType,
                    "short pipeline reply",
                ))));
            };
            set.extract_error().map_err(error::classify)?;
            match parse_read(get, pttl) {
                Ok((Some(v), ttl)) => {
                    co.install(snap, &node.serving, key, &v, ttl, InstallKind::Write);
                }
                _ => co.invalidate(slot, key, false),
            }
            Ok(())
        })
    }

    /// Deletes `key` on the server, then locally. True if the server had it.
    pub fn delete(&self, key: &[u8]) -> Result<bool> {
        self.check_key(key)?;
        let slot = key_slot(key);
        let r = self.routed(slot, |node, asking| {
            let mut p = redis::pipe();
            cmd(&mut p, asking, "DEL").arg(key);
            let (n,) = node.with_conn(|con| p.query::<(i64,)>(con))?;
            Ok(n)
        });
        self.shared.coherence.counters.server_writes.add(1);
        // Whatever the outcome, the local copy may be stale now.
        self.shared.coherence.invalidate(slot, key, false);
        Ok(r? > 0)
    }

    /// The local copy's state, without asking the server: `None` if there is
    /// no local copy, `Some(None)` if it has no TTL, `Some(Some(t))` otherwise.
    /// For inspection; reads should use [`get`](Self::get).
    pub fn local_ttl(&self, key: &[u8]) -> Result<Option<Option<Duration>>> {
        self.check_key(key)?;
        Ok(self.shared.coherence.map.ttl(key)?)
    }

    /// A barrier: returns once every invalidation that the server(s) sent
    /// before this call has been applied locally. So after a write by anyone
    /// was acknowledged, `sync()` and then a read returns that write or a later
    /// one. Costs one round trip per node (a marker key is read, written and
    /// deleted; its invalidation arrives after every earlier one).
    pub fn sync(&self) -> Result<()> {
        if self.shared.closed.load(Ordering::Acquire) {
            return Err(Error::Closed);
        }
        let mut i = 0;
        let mut redirects = 0;
        while let Some(n) = self.nodes[..self.node_count.load(Ordering::Acquire)].get(i).and_then(|n| n.get()) {
            match n.sync() {
                // The node's marker slot moved: reload the map; the node picks a slot it still owns.
                Err(e) if error::redirect(&e).is_some() && redirects < MAX_REDIRECTS => {
                    redirects += 1;
                    self.remap(None)?;
                }
                r => {
                    r?;
                    i += 1;
                }
            }
        }
        Ok(())
    }

    /// Counters of the tier.
    pub fn stats(&self) -> NearStats {
        self.shared.coherence.counters.snapshot()
    }

    /// The local map's figures: entries, bytes, evictions, expirations, placement.
    pub fn map_stats(&self) -> Result<numashard::MapStats> {
        Ok(self.shared.coherence.map.stats()?)
    }

    /// True when every node's invalidation path is confirmed and local copies are served.
    pub fn is_serving(&self) -> bool {
        self.all_nodes().all(|n| n.serving.load(Ordering::Acquire))
    }

    /// The longest key accepted ([`NearConfig::max_key_len`]).
    pub fn max_key_len(&self) -> usize {
        self.max_key_len
    }

    /// The longest value a write accepts ([`NearConfig::max_value_len`]).
    pub fn max_value_len(&self) -> usize {
        self.max_value_len
    }

    /// Number of server nodes (1, or the Cluster's masters).
    pub fn node_count(&self) -> usize {
        self.node_count.load(Ordering::Acquire)
    }

    /// Stops the listeners, drops the connections and closes the local map.
    /// Later calls fail with [`Error::Closed`]. Idempotent.
    pub fn close(&self) {
        self.close_once();
    }

    /// [`close`](Self::close), saying whether this call closed the cache
    /// (false: it was closed already, or a racing close did it; either way
    /// it is closed when this returns).
    pub fn close_once(&self) -> bool {
        let first = !self.shared.closed.swap(true, Ordering::AcqRel);
        for n in self.all_nodes() {
            n.serving.store(false, Ordering::Release);
        }
        for t in self.threads.lock().drain(..) {
            let _ = t.join();
        }
        let _ = self.shared.coherence.map.close();
        first
    }
}

impl Drop for NearCache {
    fn drop(&mut self) {
        self.close();
    }
}
