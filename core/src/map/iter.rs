//! Iteration: chunks of the key-hash space, served shard by shard.

use super::{Inner, Map};
use crate::error::{Error, Result, Status};
use std::sync::Arc;

/// Entries per iteration chunk (a writer waits at most one chunk).
const ITER_CHUNK: u64 = 256;

impl Map {
    /// An iterator over the whole map, in chunks served shard by shard.
    ///
    /// Guarantee: every entry present and unchanged for the whole iteration
    /// is returned exactly once; an entry inserted, updated or deleted during
    /// it is returned at most once, with its old or new value, never torn.
    /// Chunks are ranges of the key-hash space, which resizes do not move, so
    /// no entry is skipped or repeated when a table grows. A writer waits at
    /// most one chunk; an abandoned iterator holds nothing.
    pub fn iter(&self) -> Result<Iter> {
        let _pass = self.enter()?;
        Ok(Iter { inner: self.inner.clone(), shard: 0, lo: 0, buf: Vec::new(), spans: Vec::new(), pos: 0, done: false })
    }

    /// Calls `f` with every entry (see [`Map::iter`]) until it returns false.
    pub fn range(&self, mut f: impl FnMut(&[u8], &[u8]) -> bool) -> Result<()> {
        let mut it = self.iter()?;
        while let Some((k, v)) = it.next_entry()? {
            if !f(k, v) {
                break;
            }
        }
        Ok(())
    }
}

/// A chunked iterator over a map (see [`Map::iter`]). Holds no lock and no
/// shard between calls; the entries it returns are borrowed until the next
/// call.
pub struct Iter {
    inner: Arc<Inner>,
    shard: usize,
    lo: u64,
    buf: Vec<u8>,
    spans: Vec<(usize, usize, usize)>,
    pos: usize,
    done: bool,
}

impl Iter {
    /// The next entry, `Ok(None)` at the end, `Err(Closed)` if the map closed.
    pub fn next_entry(&mut self) -> Result<Option<(&[u8], &[u8])>> {
        while self.pos >= self.spans.len() {
            if self.done {
                return Ok(None);
            }
            self.fetch_chunk()?;
        }
        let (off, k, v) = self.spans[self.pos];
        self.pos += 1;
        Ok(Some((&self.buf[off..off + k], &self.buf[off + k..off + k + v])))
    }

    fn fetch_chunk(&mut self) -> Result<()> {
        let inner = &*self.inner;
        let _pass = inner.gate.enter().ok_or(Error::new(Status::Closed))?;
        self.buf.clear();
        self.spans.clear();
        self.pos = 0;
        if self.shard >= inner.shards.len() {
            self.done = true;
            return Ok(());
        }
        let shard = &inner.shards[self.shard];
        let st = shard.lock()?;
        let entries = st.len() as u64;
        let step = if entries <= ITER_CHUNK { u64::MAX } else { (u64::MAX / entries).saturating_mul(ITER_CHUNK) };
        let hi = self.lo.saturating_add(step);
        let (buf, spans) = (&mut self.buf, &mut self.spans);
        let now = inner.policy.clock.now_ns();
        st.table.for_each_in_tag_range(self.lo, hi, |slot| {
            // SAFETY: occupied slots point to live records, unchanged while we hold the lock.
            let deadline = unsafe { crate::arena::record_deadline(slot.rec) };
            if deadline != 0 && deadline <= now {
                return; // expired: absent from that instant
            }
            // SAFETY: as above.
            let (k, v) = unsafe { (crate::arena::record_key(slot.rec), crate::arena::record_value(slot.rec)) };
            spans.push((buf.len(), k.len(), v.len()));
            buf.extend_from_slice(k);
            buf.extend_from_slice(v);
        });
        st.release_fair();
        if hi == u64::MAX {
            self.shard += 1;
            self.lo = 0;
        } else {
            self.lo = hi + 1;
        }
        Ok(())
    }
}

impl Iterator for Iter {
    type Item = Result<(Vec<u8>, Vec<u8>)>;

    fn next(&mut self) -> Option<Self::Item> {
        match self.next_entry() {
            Ok(Some((k, v))) => Some(Ok((k.to_vec(), v.to_vec()))),
            Ok(None) => None,
            Err(e) => {
                self.done = true;
                self.spans.clear();
                Some(Err(e))
            }
        }
    }
}
