//! One Redis server (a standalone server or a Cluster master): its data
//! connections, each tracking the keys read through it, and the listener
//! thread that receives their invalidations.
//!
//! Tracking uses redirect mode: every data connection runs
//! `CLIENT TRACKING ON REDIRECT <listener id>`, and the listener connection
//! (RESP3) receives the `invalidate` push messages for all of them. A data
//! connection is never dropped while it is valid (the server would forget
//! what it tracked and send no invalidation for it): a connection that breaks
//! flushes the near cache. The listener proves the path end to end by a
//! heartbeat: it reads and then writes a key of its own through a tracked
//! connection and expects the invalidation back within `heartbeat_timeout`.

use parking_lot::{Condvar, Mutex};
use redis::{ConnectionLike, PushKind, Value};
use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::error::{classify, is_server_reply, Error, Result};
use crate::slot::key_slot;
use crate::Shared;

/// How often the listener wakes to check for close and heartbeats.
const POLL: Duration = Duration::from_millis(50);

pub(crate) struct DataConn {
    pub(crate) con: redis::Connection,
    generation: u64,
    id: u64,
    /// Taken from the pool (it may have died while idle).
    reused: bool,
}

pub(crate) struct Node {
    pub(crate) addr: String,
    data_client: redis::Client,
    listener_client: redis::Client,
    pool: Mutex<Vec<DataConn>>,
    /// Client ids of the current generation's data connections: the heartbeat
    /// checks that the server still has every one (a connection the server
    /// dropped, even idle in the pool, took its tracking with it).
    conn_ids: Mutex<HashSet<u64>>,
    /// Bumped each time a new listener is installed; data connections of an
    /// older generation redirect to a dead listener and are dropped.
    generation: AtomicU64,
    listener_id: AtomicU64,
    /// Local copies of this node's keys may be served.
    pub(crate) serving: AtomicBool,
    /// This node's index in the cache's node table (what `Shared::slot_node` holds).
    index: u16,
    /// Distinguishes this process's near cache in heartbeat and sync keys.
    nonce: String,
    /// A hash tag in a slot this node owns, for the slot map version it was
    /// computed for; `None` when the node owns no slot (any more).
    tag: Mutex<(u64, Option<String>)>,
    /// A slot being migrated away (it answered `ASK`): tags avoid it until
    /// the slot map changes.
    avoid: Mutex<Option<(u64, u16)>>,
    sync_next: AtomicU64,
    /// Marker numbers whose invalidation the listener applied, until their sync takes them.
    syncs: Mutex<HashSet<u64>>,
    sync_seen: Condvar,
    shared: Arc<Shared>,
}

struct Listener {
    con: redis::Connection,
    hb: redis::Connection,
    hb_sent: Option<Instant>,
    hb_last: Instant,
    hb_count: u64,
    /// The heartbeat key last written (deleted on close).
    hb_key: Option<Vec<u8>>,
}

/// Defers asynchronous signals on this thread while it waits for the
/// server. A socket with a receive time-out (all of ours) is never restarted
/// after a signal handler ran (`SA_RESTART` does not apply): the read fails
/// with `EINTR`, redis-rs reports it as a broken connection, and the near
/// copy is flushed. Go's runtime signals the threads of goroutines inside
/// cgo calls (preemption, `SIGURG`) at every GC, so without this a Go
/// program's near cache was flushed over and over. Signals that arrive
/// meanwhile are delivered when the exchange ends (at most `io_timeout`
/// later); synchronous fault signals are never blocked.
struct SignalsDeferred(libc::sigset_t);

impl SignalsDeferred {
    fn new() -> Self {
        // SAFETY: sigset_t is plain data, initialised by sigfillset before
        // use; pthread_sigmask changes this thread's mask only, with valid
        // pointers to locals, and the old mask is restored by Drop.
        unsafe {
            let mut set: libc::sigset_t = std::mem::zeroed();
            libc::sigfillset(&mut set);
            for s in
                [libc::SIGSEGV, libc::SIGBUS, libc::SIGFPE, libc::SIGILL, libc::SIGTRAP, libc::SIGSYS, libc::SIGABRT]
            {
                libc::sigdelset(&mut set, s);
            }
            let mut old: libc::sigset_t = std::mem::zeroed();
            libc::pthread_sigmask(libc::SIG_BLOCK, &set, &mut old);
            SignalsDeferred(old)
        }
    }
}

impl Drop for SignalsDeferred {
    fn drop(&mut self) {
        // SAFETY: restores the mask saved by `new` on the same thread (the
        // guard lives on this thread's stack and is not Send).
        unsafe {
            libc::pthread_sigmask(libc::SIG_SETMASK, &self.0, std::ptr::null_mut());
        }
    }
}

const HB_PREFIX: &str = "__numashard_near:hb:";
const SYNC_PREFIX: &str = "__numashard_near:sync:";

impl Node {
    pub(crate) fn new(addr: String, index: u16, shared: Arc<Shared>) -> Result<Node> {
        let url = format!("redis://{addr}/");
        let data_client = redis::Client::open(url.as_str()).map_err(|e| Error::Config(e.to_string()))?;
        let listener_client =
            redis::Client::open(format!("{url}?protocol=resp3")).map_err(|e| Error::Config(e.to_string()))?;
        let nonce = format!("{}-{}", std::process::id(), shared.instance);
        Ok(Node {
            addr,
            data_client,
            listener_client,
            pool: Mutex::new(Vec::new()),
            conn_ids: Mutex::new(HashSet::new()),
            generation: AtomicU64::new(0),
            listener_id: AtomicU64::new(0),
            serving: AtomicBool::new(false),
            index,
            nonce,
            tag: Mutex::new((u64::MAX, None)),
            avoid: Mutex::new(None),
            sync_next: AtomicU64::new(0),
            syncs: Mutex::new(HashSet::new()),
            sync_seen: Condvar::new(),
            shared,
        })
    }

    /// Opens a connection whose reads the server tracks for the listener
    /// `redirect`; returns it with its client id.
    fn open_tracked(&self, client: &redis::Client, redirect: u64) -> Result<(redis::Connection, u64)> {
        let t = &self.shared.timeouts;
        let mut con = client.get_connection_with_timeout(t.connect).map_err(Error::Connection)?;
        con.set_read_timeout(Some(t.io)).map_err(Error::Connection)?;
        con.set_write_timeout(Some(t.io)).map_err(Error::Connection)?;
        let (id, ()) = redis::pipe()
            .cmd("CLIENT")
            .arg("ID")
            .cmd("CLIENT")
            .arg("TRACKING")
            .arg("ON")
            .arg("REDIRECT")
            .arg(redirect)
            .query::<(u64, ())>(&mut con)
            .map_err(|e| {
                if is_server_reply(&e) {
                    Error::TrackingUnconfirmed(format!(
                        "CLIENT TRACKING ON REDIRECT {redirect} refused by {}: {e}",
                        self.addr
                    ))
                } else {
                    Error::Connection(e)
                }
            })?;
        Ok((con, id))
    }

    /// A data connection whose reads are tracked by the current listener.
    pub(crate) fn checkout(&self) -> Result<DataConn> {
        let generation = self.generation.load(Ordering::Acquire);
        while let Some(c) = self.pool.lock().pop() {
            if c.generation == generation {
                return Ok(DataConn { reused: true, ..c });
            }
            self.conn_ids.lock().remove(&c.id);
            // Older generation: its listener is gone and its reads were flushed with it.
        }
        if self.shared.closed.load(Ordering::Acquire) {
            return Err(Error::Closed);
        }
        let redirect = self.listener_id.load(Ordering::Acquire);
        if redirect == 0 {
            return Err(Error::TrackingUnconfirmed(format!(
                "no invalidation connection to {} (reconnecting)",
                self.addr
            )));
        }
        let (con, id) = self.open_tracked(&self.data_client, redirect)?;
        if self.generation.load(Ordering::Acquire) == generation {
            self.conn_ids.lock().insert(id);
        }
        Ok(DataConn { con, generation, id, reused: false })
    }

    /// Returns a connection after an exchange: kept if the exchange ended with
    /// a reply, otherwise dropped, and then the keys it tracked can no longer
    /// be trusted: the near cache is flushed.
    pub(crate) fn checkin(&self, conn: DataConn, outcome: Option<&redis::RedisError>) {
        let broken = outcome.is_some_and(|e| !is_server_reply(e)) || !conn.con.is_open();
        if broken {
            self.conn_ids.lock().remove(&conn.id);
            drop(conn);
            self.shared.coherence.flush();
        } else {
            self.pool.lock().push(conn);
        }
    }

    /// Runs one exchange on a tracked connection.
    /// An exchange that fails because a pooled connection had died while idle
    /// (the server's `timeout`, `CLIENT KILL`) is retried on the next one, and
    /// finally on a fresh connection; the near cache is flushed each time.
    /// Every exchange the tier sends may be repeated: reads, `SET` of the same
    /// value, `DEL`.
    pub(crate) fn with_conn<T>(&self, f: impl Fn(&mut redis::Connection) -> redis::RedisResult<T>) -> Result<T> {
        loop {
            let mut conn = self.checkout()?;
            let reused = conn.reused;
            let r = {
                let _quiet = SignalsDeferred::new();
                f(&mut conn.con)
            };
            self.checkin(conn, r.as_ref().err());
            match r {
                Err(e) if reused && !is_server_reply(&e) => continue,
                r => return r.map_err(classify),
            }
        }
    }

    fn connect_listener(&self) -> Result<Listener> {
        let t = &self.shared.timeouts;
        let mut con = self.listener_client.get_connection_with_timeout(t.connect).map_err(|e| {
            if is_server_reply(&e) || e.kind() == redis::ErrorKind::RESP3NotSupported {
                Error::Resp3Unsupported(e)
            } else {
                Error::Connection(e)
            }
        })?;
        con.set_read_timeout(Some(t.io)).map_err(Error::Connection)?;
        con.set_write_timeout(Some(t.io)).map_err(Error::Connection)?;
        let id: u64 = redis::cmd("CLIENT").arg("ID").query(&mut con).map_err(classify)?;
        // From here on the listener reads push messages only, so a read time-out loses nothing.
        con.set_read_timeout(Some(POLL)).map_err(Error::Connection)?;
        let (hb, _) = self.open_tracked(&self.data_client, id)?;
        self.listener_id.store(id, Ordering::Release);
        Ok(Listener { con, hb, hb_sent: None, hb_last: Instant::now(), hb_count: 0, hb_key: None })
    }

    /// Sends a heartbeat: the listener must receive the invalidation of the
    /// heartbeat key. In the same round trip, checks that the server still
    /// has every data connection; one it dropped means lost invalidations, so
    /// the near cache is flushed.
    fn send_heartbeat(&self, l: &mut Listener) -> Result<()> {
        l.hb_count += 1;
        let Some(tag) = self.tag() else {
            // The node owns no slot since a reshard: nothing of ours lives
            // there any more, so there is no path left to prove.
            l.hb_last = Instant::now();
            return Ok(());
        };
        let hb_key = format!("{HB_PREFIX}{{{tag}}}:{}", self.nonce).into_bytes();
        let ids: Vec<u64> = self.conn_ids.lock().iter().copied().collect();
        let mut p = redis::pipe();
        p.cmd("GET").arg(&hb_key).ignore();
        p.cmd("SET").arg(&hb_key).arg(l.hb_count).arg("PX").arg(60_000).ignore();
        if !ids.is_empty() {
            p.cmd("CLIENT").arg("LIST").arg("ID").arg(&ids);
        }
        let replies: Vec<String> = match p.query(&mut l.hb) {
            Ok(r) => r,
            Err(e) if crate::error::redirect_of(&e).is_some() => {
                // The heartbeat's slot is migrating (ASK) or moved (MOVED: the
                // slot map is reloaded): the connection is fine, and the next
                // heartbeat uses a tag in a slot this node still owns.
                if crate::error::redirect_of(&e).is_some_and(|r| r.ask) {
                    self.avoid_slot_of(&tag);
                } else {
                    self.shared.remap_needed.store(true, Ordering::Release);
                }
                l.hb_last = Instant::now();
                return Ok(());
            }
            Err(e) => return Err(classify(e)),
        };
        l.hb_key = Some(hb_key);
        l.hb_sent = Some(Instant::now());
        if let Some(list) = replies.first() {
            let alive: HashSet<u64> =
                list.lines().filter_map(|line| line.strip_prefix("id=")?.split(' ').next()?.parse().ok()).collect();
            let mut registered = self.conn_ids.lock();
            let lost: Vec<u64> = ids.into_iter().filter(|id| !alive.contains(id) && registered.contains(id)).collect();
            if !lost.is_empty() {
                for id in &lost {
                    registered.remove(id);
                }
                drop(registered);
                self.shared.coherence.flush();
            }
        }
        Ok(())
    }

    /// Handles one message from the listener connection. Returns false when
    /// the connection is gone.
    fn receive(&self, l: &mut Listener) -> std::result::Result<(), Error> {
        match l.con.recv_response() {
            Ok(Value::Push { kind: PushKind::Invalidate, data }) => {
                match data.into_iter().next() {
                    Some(Value::Array(keys)) | Some(Value::Set(keys)) => {
                        for k in keys {
                            if let Value::BulkString(k) = k {
                                if self.is_heartbeat(&k) {
                                    l.hb_sent = None;
                                    l.hb_last = Instant::now();
                                } else if let Some(n) = self.sync_marker(&k) {
                                    self.syncs.lock().insert(n);
                                    self.sync_seen.notify_all();
                                } else {
                                    self.shared.coherence.invalidate(key_slot(&k), &k, true);
                                }
                            }
                        }
                    }
                    // A null key list: the server flushed its keyspace (FLUSHALL / FLUSHDB).
                    _ => self.shared.coherence.flush(),
                }
                Ok(())
            }
            Ok(_) => Ok(()),
            Err(e) if e.is_timeout() => Ok(()),
            Err(e) => Err(Error::Connection(e)),
        }
    }

    /// A hash tag in a slot this node owns (per the current slot map), or
    /// `None` if it owns none.
    fn tag(&self) -> Option<String> {
        let version = self.shared.map_version.load(Ordering::Acquire);
        let avoid = (*self.avoid.lock()).filter(|a| a.0 == version).map(|a| a.1);
        let mut t = self.tag.lock();
        if t.0 != version {
            let usable =
                |s: u16| self.shared.slot_node[s as usize].load(Ordering::Acquire) == self.index && Some(s) != avoid;
            let any = (0..crate::slot::SLOTS as u16).any(usable);
            // A tag per slot is found within a few ten thousand tries.
            let tag = any.then(|| (0u32..).map(|i| format!("nshb{i}")).find(|t| usable(key_slot(t.as_bytes()))));
            *t = (version, tag.flatten());
        }
        t.1.clone()
    }

    /// The slot of `tag` is being migrated away (it answered `ASK`): pick
    /// another tag until the slot map changes.
    fn avoid_slot_of(&self, tag: &str) {
        let version = self.shared.map_version.load(Ordering::Acquire);
        *self.avoid.lock() = Some((version, key_slot(tag.as_bytes())));
        self.tag.lock().0 = u64::MAX;
    }

    /// One of this cache's heartbeat keys (whatever tag, so a heartbeat sent
    /// before a reshard is still recognised).
    fn is_heartbeat(&self, key: &[u8]) -> bool {
        key.starts_with(HB_PREFIX.as_bytes())
            && key.strip_suffix(self.nonce.as_bytes()).is_some_and(|k| k.ends_with(b"}:"))
    }

    /// The number of one of this cache's sync markers.
    fn sync_marker(&self, key: &[u8]) -> Option<u64> {
        let rest = std::str::from_utf8(key.strip_prefix(SYNC_PREFIX.as_bytes())?).ok()?;
        let (_, after_tag) = rest.split_once("}:")?;
        after_tag.strip_prefix(self.nonce.as_str())?.strip_prefix(':')?.parse().ok()
    }

    /// Returns once the listener applied every invalidation this node sent
    /// before the call: a marker key is read (tracked), written and deleted
    /// through a data connection, and the node sends invalidations in the
    /// order it executes writes, so the marker's comes after all earlier ones.
    pub(crate) fn sync(&self) -> Result<()> {
        let n = self.sync_next.fetch_add(1, Ordering::Relaxed);
        loop {
            let Some(tag) = self.tag() else { return Ok(()) };
            let marker = format!("{SYNC_PREFIX}{{{tag}}}:{}:{n}", self.nonce).into_bytes();
            let r = self.with_conn(|con| {
                redis::pipe()
                    .cmd("GET")
                    .arg(&marker)
                    .ignore()
                    .cmd("SET")
                    .arg(&marker)
                    .arg(1)
                    .ignore()
                    .cmd("DEL")
                    .arg(&marker)
                    .ignore()
                    .exec(con)
            });
            match r {
                // The marker's slot is migrating away: use another slot of this node.
                Err(e) if crate::error::redirect(&e).is_some_and(|r| r.ask) => self.avoid_slot_of(&tag),
                r => break r?,
            }
        }
        let deadline = Instant::now() + self.shared.timeouts.heartbeat_timeout;
        let mut seen = self.syncs.lock();
        while !seen.remove(&n) {
            if self.sync_seen.wait_until(&mut seen, deadline).timed_out() {
                return Err(Error::TrackingUnconfirmed(format!(
                    "the sync marker's invalidation did not arrive from {}",
                    self.addr
                )));
            }
        }
        Ok(())
    }

    /// Establishes a listener and proves it receives invalidations.
    fn establish(&self) -> Result<Listener> {
        let mut l = self.connect_listener()?;
        self.generation.fetch_add(1, Ordering::AcqRel);
        self.conn_ids.lock().clear();
        self.send_heartbeat(&mut l)?;
        let deadline = Instant::now() + self.shared.timeouts.heartbeat_timeout;
        while l.hb_sent.is_some() {
            if Instant::now() > deadline {
                return Err(Error::TrackingUnconfirmed(format!(
                    "no invalidation from {} within the heartbeat timeout",
                    self.addr
                )));
            }
            self.receive(&mut l)?;
        }
        // Everything cached before this point was tracked by an older listener (or nothing).
        self.shared.coherence.flush();
        self.serving.store(true, Ordering::Release);
        Ok(l)
    }

    /// Stops serving local copies of this node's keys and empties the near cache.
    fn lose(&self) {
        self.serving.store(false, Ordering::Release);
        self.listener_id.store(0, Ordering::Release);
        self.shared.coherence.flush();
    }

    /// Connects the listener for the first time (the caller learns why it failed).
    pub(crate) fn start(self: &Arc<Self>) -> Result<std::thread::JoinHandle<()>> {
        let l = self.establish().inspect_err(|_| self.lose())?;
        let node = Arc::clone(self);
        std::thread::Builder::new()
            .name(format!("numashard-near-{}", self.addr))
            .spawn(move || node.run(l))
            .map_err(|e| Error::Config(format!("cannot start the listener thread: {e}")))
    }

    fn run(&self, mut l: Listener) {
        let t = self.shared.timeouts;
        let mut backoff = Duration::from_millis(10);
        loop {
            // Connected: apply invalidations, keep the heartbeat going.
            loop {
                if self.shared.closed.load(Ordering::Acquire) {
                    // Leave nothing of ours in the keyspace (best effort).
                    if let Some(k) = &l.hb_key {
                        let _ = redis::cmd("DEL").arg(k).exec(&mut l.hb);
                    }
                    return;
                }
                if self.receive(&mut l).is_err() {
                    break;
                }
                if let Some(sent) = l.hb_sent {
                    if sent.elapsed() > t.heartbeat_timeout {
                        break;
                    }
                } else if l.hb_last.elapsed() >= t.heartbeat && self.send_heartbeat(&mut l).is_err() {
                    break;
                }
            }
            self.lose();
            drop(l);
            // Lost: reconnect until it works or the cache closes.
            l = loop {
                if self.shared.closed.load(Ordering::Acquire) {
                    return;
                }
                match self.establish() {
                    Ok(l) => break l,
                    Err(_) => {
                        self.lose();
                        std::thread::sleep(backoff);
                        backoff = (backoff * 2).min(Duration::from_millis(500));
                    }
                }
            };
            backoff = Duration::from_millis(10);
            self.shared.coherence.counters.reconnects.add(1);
        }
    }
}
