//! The tier's error: what failed, with the server's or the engine's reason.

use std::fmt;

/// Why a near-cache call failed. A failed call changed nothing locally except
/// dropping local copies (which is always safe for a cache).
#[derive(Debug)]
pub enum Error {
    /// The server cannot speak RESP3 (`HELLO 3` refused), which the
    /// invalidation connection needs; nothing is cached without it.
    Resp3Unsupported(redis::RedisError),
    /// `CLIENT TRACKING` was refused, or an invalidation did not reach the
    /// listener in time, so the server's coherence cannot be relied on.
    TrackingUnconfirmed(String),
    /// The connection to the server failed or broke (I/O error, time-out, the
    /// server went away). The near cache was flushed; later calls reconnect.
    Connection(redis::RedisError),
    /// The server answered with an error (`WRONGTYPE`, `OOM`, an oversized
    /// argument, ...); the connection stays usable and nothing local changed.
    Server(redis::RedisError),
    /// The key is empty or longer than the tier's `max_key_len`; nothing was sent.
    KeyTooLarge {
        /// The key's length.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// The value is longer than the tier's `max_value_len`; nothing was sent.
    ValueTooLarge {
        /// The value's length.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// The local map failed (closed, out of resources).
    Local(numashard::Error),
    /// The near cache was closed.
    Closed,
    /// The configuration is invalid (no server, bad URL, cluster slots uncovered).
    Config(String),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Resp3Unsupported(e) => write!(f, "server refused RESP3 (HELLO 3), needed for CLIENT TRACKING: {e}"),
            Error::TrackingUnconfirmed(why) => write!(f, "client tracking not confirmed: {why}"),
            Error::Connection(e) => write!(f, "connection to the server failed (near cache flushed): {e}"),
            Error::Server(e) => write!(f, "server error: {e}"),
            Error::KeyTooLarge { len, max } => write!(f, "key of {len} bytes outside 1..={max}"),
            Error::ValueTooLarge { len, max } => write!(f, "value of {len} bytes exceeds max_value_len {max}"),
            Error::Local(e) => write!(f, "local map: {e}"),
            Error::Closed => write!(f, "near cache is closed"),
            Error::Config(why) => write!(f, "invalid configuration: {why}"),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Resp3Unsupported(e) | Error::Connection(e) | Error::Server(e) => Some(e),
            Error::Local(e) => Some(e),
            _ => None,
        }
    }
}

impl From<numashard::Error> for Error {
    fn from(e: numashard::Error) -> Self {
        match e.status() {
            numashard::Status::Closed => Error::Closed,
            _ => Error::Local(e),
        }
    }
}

/// Result of a near-cache call.
pub type Result<T> = std::result::Result<T, Error>;

/// True when the error leaves the connection usable (the server answered).
pub(crate) fn is_server_reply(e: &redis::RedisError) -> bool {
    matches!(e.kind(), redis::ErrorKind::Server(_) | redis::ErrorKind::Extension)
}

/// Classifies a failed exchange: a server reply keeps the connection, anything
/// else means it is gone (and with it the tracking of keys read through it).
pub(crate) fn classify(e: redis::RedisError) -> Error {
    if is_server_reply(&e) {
        Error::Server(e)
    } else {
        Error::Connection(e)
    }
}

/// A Cluster redirection a server answered: `MOVED` (the slot has a new
/// master) or `ASK` (this key is being migrated: ask the importing master once).
pub(crate) struct Redirect {
    pub(crate) ask: bool,
    pub(crate) slot: u16,
    pub(crate) addr: String,
}

/// The first `MOVED` / `ASK` in a reply error, also inside a pipeline's errors.
pub(crate) fn redirect_of(e: &redis::RedisError) -> Option<Redirect> {
    let items = e.clone().into_server_errors()?;
    items.iter().find_map(|(_, se)| {
        let ask = match se.kind()? {
            redis::ServerErrorKind::Ask => true,
            redis::ServerErrorKind::Moved => false,
            _ => return None,
        };
        let mut it = se.details()?.split_ascii_whitespace();
        let slot = it.next()?.parse().ok()?;
        let addr = it.next()?.to_string();
        Some(Redirect { ask, slot, addr })
    })
}

/// [`redirect_of`] for the tier's error (a server reply).
pub(crate) fn redirect(e: &Error) -> Option<Redirect> {
    match e {
        Error::Server(e) => redirect_of(e),
        _ => None,
    }
}
