//! What keeps a save at one moment while writers keep working: the
//! per-shard capture.
//!
//! A save starts by installing a [`Capture`] in every shard while holding
//! every shard's lock at once (the snapshot's moment). The saver then
//! writes each shard by ranges of the hash space, in increasing order;
//! `saved_through` is the last tag written. Before a writer changes, removes
//! or inserts an entry whose tag lies above it — a part the saver has not
//! written yet — the entry's *before-image* (its value and deadline, or
//! "absent") is logged, once per key: the first change after the moment is
//! the only one that can differ from the moment. The saver writes a range
//! from the table, except the logged keys, whose before-images it writes
//! instead (skipping "absent"). Changes in ranges already written are not
//! logged: those ranges are on their way to disk already.
//!
//! A `clear` or `replace_all` during a save swaps out the whole table: the
//! capture then keeps the old table and arena ("frozen") and the saver reads
//! the rest from them; later changes need no log. Frozen memory is handed to
//! the gate's grace period when the shard is done.
//!
//! Every hook runs under the shard's ownership lock, like the change it
//! precedes; the saver reads and trims the log under the same lock.

use crate::arena::{record_key, record_value};
use crate::clock::Clock;
use crate::shard::ShardState;
use crate::table::{tag_of, Slot};
use std::collections::BTreeMap;

/// An entry's state at the snapshot's moment, logged before its first change.
pub(crate) struct Before {
    pub(crate) key: Box<[u8]>,
    /// The value and deadline then; `None`: the key was absent.
    pub(crate) image: Option<(Box<[u8]>, u64)>,
}

/// A shard's part of a save in progress.
pub(crate) struct Capture {
    /// Tags up to this one are written (0: none yet; tags are odd, so never 0).
    pub(crate) saved_through: u64,
    /// Before-images of keys in the unwritten part, by tag.
    pub(crate) log: BTreeMap<u64, Vec<Before>>,
    /// The contents at the moment, when a clear or replace_all swapped them out.
    pub(crate) frozen: Option<Box<ShardState>>,
    /// Before-images logged so far (reported by the save).
    pub(crate) logged: u64,
    /// The map's expiry clock (deadlines are stored as wall-clock times).
    clock: Clock,
}

impl Capture {
    pub(crate) fn new(clock: Clock) -> Capture {
        Capture { saved_through: 0, log: BTreeMap::new(), frozen: None, logged: 0, clock }
    }

    /// Whether a change of an entry with this tag needs its before-image.
    #[inline]
    fn wants(&self, tag: u64) -> bool {
        self.frozen.is_none() && tag > self.saved_through
    }

    /// True if `key` (with `tag`) has a before-image.
    pub(crate) fn is_logged(&self, tag: u64, key: &[u8]) -> bool {
        self.log.get(&tag).is_some_and(|v| v.iter().any(|b| &*b.key == key))
    }

    fn log(&mut self, tag: u64, key: &[u8], image: impl FnOnce() -> Option<(Box<[u8]>, u64)>) {
        if self.is_logged(tag, key) {
            return;
        }
        self.log.entry(tag).or_default().push(Before { key: key.into(), image: image() });
        self.logged += 1;
    }

    fn log_slot(&mut self, slot: Slot) {
        if !self.wants(slot.tag) {
            return;
        }
        // SAFETY: an occupied slot of the live table (the caller holds the
        // shard's lock) points to a live record.
        let (key, value) = unsafe { (record_key(slot.rec), record_value(slot.rec)) };
        let deadline = super::entry_deadline_unix_ms(&self.clock, slot.rec);
        self.log(slot.tag, key, || Some((value.into(), deadline)));
    }
}

impl ShardState {
    /// Snapshot hook: the entry in slot `i` is about to change or go.
    #[inline]
    pub(crate) fn snapshot_before_change(&mut self, i: usize) {
        if let Some(cap) = self.capture.as_deref_mut() {
            cap.log_slot(self.table.slot(i));
        }
    }

    /// Snapshot hook: `key` (absent) is about to be inserted.
    #[inline]
    pub(crate) fn snapshot_before_insert(&mut self, hash: u64, key: &[u8]) {
        if let Some(cap) = self.capture.as_deref_mut() {
            let tag = tag_of(hash);
            if cap.wants(tag) {
                cap.log(tag, key, || None);
            }
        }
    }

    /// Snapshot hook: every entry is about to go (`clear`). A save in
    /// progress keeps the current table and arena; the shard continues with
    /// empty ones on the same node.
    pub(crate) fn snapshot_before_clear(&mut self) -> crate::Result<()> {
        let Some(cap) = self.capture.as_deref_mut() else { return Ok(()) };
        if cap.frozen.is_some() {
            return Ok(());
        }
        let mut old = ShardState::new(self.table.node(), &self.policy, self.counters.clone())?;
        std::mem::swap(&mut old.table, &mut self.table);
        std::mem::swap(&mut old.arena, &mut self.arena);
        // The saver sizes its chunks by bytes per entry.
        old.charged = self.charged;
        cap.frozen = Some(Box::new(old));
        Ok(())
    }
}

/// Snapshot hook for `replace_all`: `new` has just replaced `old` in a
/// shard. A save in progress moves on to `new` keeping `old` as its frozen
/// view; returns `old` when nobody needs it (retire it as usual).
pub(crate) fn on_state_replaced(mut old: ShardState, new: &mut ShardState) -> Option<ShardState> {
    let Some(mut cap) = old.capture.take() else { return Some(old) };
    let give_back = if cap.frozen.is_none() {
        cap.frozen = Some(Box::new(old));
        None
    } else {
        Some(old)
    };
    new.capture = Some(cap);
    give_back
}
