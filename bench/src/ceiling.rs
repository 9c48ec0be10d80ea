//! The ceiling: the memory-level-parallelism limit of batched gets on this
//! machine, as an engine of its own fed the same keys and the same stream as
//! the others, so that every run prints how close numashard comes to it.
//!
//! The layout is the probe's (`shared/probes/mlp_limit.c`, its "real keys"
//! row): a hash index of 16-byte slots (a tag and a record pointer, linear
//! probing, load at most 0.8) and records `[klen u32][vlen u32][key][value]`
//! on 64-byte lines, which the run's random key stream visits in random
//! order. A batch is read in three passes over chunks of 64 keys: hash every
//! key and prefetch its home slot; walk each probe to its tag and prefetch the
//! record's lines; compare the key and copy the value out. There is no
//! concurrency control at all: that is what makes it a ceiling rather than a
//! peer.
//!
//! Being lock-free without any protocol, it is only sound while nothing
//! writes, so the engine has two phases: it accepts puts (one writer at a
//! time, under a mutex) until the first read, which seals it; afterwards it
//! refuses every write with [`Status::InvalidArgument`]. The bench CLI runs it
//! on the read-only workloads only ([`crate::engine::EngineKind::supports`]).
//!
//! The pieces both ceilings share (the hash, the arena of records, the huge-page
//! blocks, the sealing, the batch's chunking) live here;
//! [`crate::ceiling_inline`] is the same engine with small entries inline in
//! the index.

use crate::engine::{Engine, Op, Reply};
use numashard::Status;
use std::cell::UnsafeCell;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

/// Keys per pass, as in the probe.
pub(crate) const CHUNK: usize = 64;
/// Record lines of the largest arena block (32 MiB).
const BLOCK_LINES: usize = 1 << 19;
/// Bytes of a huge page: the first block's size.
const HUGE_PAGE: usize = 2 << 20;
/// Bytes of a record's header: key length, value length.
pub(crate) const HEADER: usize = 8;

/// An index slot: `tag` is the key's hash with the low bit set (0 = empty), `rec` its record.
#[derive(Clone, Copy)]
#[repr(C)]
struct Slot {
    tag: u64,
    rec: *const u8,
}

/// The probe's 64-bit mixer (MurmurHash3's finaliser).
#[inline(always)]
fn mix(mut x: u64) -> u64 {
    x ^= x >> 33;
    x = x.wrapping_mul(0xff51_afd7_ed55_8ccd);
    x ^= x >> 33;
    x = x.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    x ^ (x >> 33)
}

#[inline(always)]
fn word(b: &[u8]) -> u64 {
    let mut w = [0u8; 8];
    w[..b.len()].copy_from_slice(b);
    u64::from_le_bytes(w)
}

/// The probe's hash of a 16-byte key; other lengths fold 8-byte words the same way.
#[inline(always)]
pub(crate) fn hash(key: &[u8]) -> u64 {
    if key.len() == 16 {
        let (a, b) = (word(&key[..8]), word(&key[8..]));
        return mix(a ^ mix(b.wrapping_add(0x9e37_79b9_7f4a_7c15)));
    }
    key.chunks(8).fold(mix(key.len() as u64), |h, c| mix(h ^ mix(word(c).wrapping_add(0x9e37_79b9_7f4a_7c15))))
}

#[inline(always)]
pub(crate) fn prefetch(p: *const u8) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: a prefetch never faults, whatever the address.
    unsafe {
        std::arch::x86_64::_mm_prefetch(p as *const i8, std::arch::x86_64::_MM_HINT_T0);
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = p;
}

/// Key equality, with the probe's 16-byte keys compared as two words.
#[inline(always)]
pub(crate) fn same_key(a: &[u8], b: &[u8]) -> bool {
    if a.len() == 16 && b.len() == 16 {
        return word(&a[..8]) == word(&b[..8]) && word(&a[8..]) == word(&b[8..]);
    }
    a == b
}

/// The key and value of the record at `rec`.
///
/// # Safety
/// `rec` is a record written by [`Arena::alloc`] of an arena that is still alive.
#[inline(always)]
pub(crate) unsafe fn record<'a>(rec: *const u8) -> (&'a [u8], &'a [u8]) {
    // SAFETY: a record starts with two u32 lengths followed by that many
    // key and value bytes, all inside one arena block (the caller's promise).
    unsafe {
        let klen = (rec as *const u32).read() as usize;
        let vlen = (rec.add(4) as *const u32).read() as usize;
        (std::slice::from_raw_parts(rec.add(HEADER), klen), std::slice::from_raw_parts(rec.add(HEADER + klen), vlen))
    }
}

/// Records `[klen u32][vlen u32][key][value]` on 64-byte lines, in huge-page
/// blocks; never freed before the arena (an overwrite leaves the old record:
/// writes only happen while loading).
#[derive(Default)]
pub(crate) struct Arena {
    blocks: Vec<Block>,
    /// Lines used in the last block.
    used: usize,
}

impl Arena {
    /// A new record of `key` and `value`.
    pub(crate) fn alloc(&mut self, key: &[u8], value: &[u8]) -> *const u8 {
        let bytes = HEADER + key.len() + value.len();
        let lines = bytes.div_ceil(64);
        if self.blocks.last().is_none_or(|b| self.used + lines > b.lines) {
            // 2 MiB first, doubling up to 32 MiB: small tables stay small.
            let size = (HUGE_PAGE / 64) << self.blocks.len().min(4);
            self.blocks.push(Block::new(size.min(BLOCK_LINES).max(lines)));
            self.used = 0;
        }
        let block = self.blocks.last_mut().expect("a block was just ensured");
        let rec: &mut [u8] = &mut block.bytes()[self.used * 64..(self.used + lines) * 64];
        rec[..4].copy_from_slice(&(key.len() as u32).to_le_bytes());
        rec[4..8].copy_from_slice(&(value.len() as u32).to_le_bytes());
        rec[HEADER..HEADER + key.len()].copy_from_slice(key);
        rec[HEADER + key.len()..bytes].copy_from_slice(value);
        self.used += lines;
        rec.as_ptr()
    }

    /// Cache lines mapped.
    pub(crate) fn lines(&self) -> usize {
        self.blocks.iter().map(|b| b.lines).sum()
    }
}

/// The ceiling's layout: the probe's index of 16-byte slots and the records.
#[derive(Default)]
pub struct ProbeLayout {
    /// The index: `mask + 1` slots (none before the first put).
    index: Option<Block>,
    mask: usize,
    len: usize,
    records: Arena,
}

impl ProbeLayout {
    /// The index's slots.
    #[inline(always)]
    fn slots(&self) -> &[Slot] {
        self.index.as_ref().map_or(&[], |b| b.slots(self.mask + 1))
    }

    /// The slot index holding `key` (hash `h`), or the empty slot ending its probe.
    fn find(&self, h: u64, key: &[u8]) -> (usize, bool) {
        let tag = h | 1;
        let mut i = h as usize & self.mask;
        let slots = self.slots();
        loop {
            let s = slots[i];
            if s.tag == 0 {
                return (i, false);
            }
            // SAFETY: every non-empty slot points at a live record of this table.
            if s.tag == tag && unsafe { record(s.rec) }.0 == key {
                return (i, true);
            }
            i = (i + 1) & self.mask;
        }
    }

    fn grow(&mut self) {
        let old_n = if self.index.is_some() { self.mask + 1 } else { 0 };
        let n = (old_n * 2).max(1024);
        let mut index = Block::new(n * size_of::<Slot>() / 64);
        let slots = index.slots_mut(n);
        for &s in self.slots().iter().filter(|s| s.tag != 0) {
            // SAFETY: every non-empty slot points at a live record of this table.
            let mut i = hash(unsafe { record(s.rec) }.0) as usize & (n - 1);
            while slots[i].tag != 0 {
                i = (i + 1) & (n - 1);
            }
            slots[i] = s;
        }
        self.index = Some(index);
        self.mask = n - 1;
    }
}

/// Zeroed, mapped memory of `lines` cache lines, advised to be backed by
/// huge pages before it is touched (as the probe's `big` does: heap memory
/// without the advice gets small pages on this machine, and then every access
/// also walks the page table).
pub(crate) struct Block {
    ptr: std::ptr::NonNull<u8>,
    /// Cache lines mapped.
    pub(crate) lines: usize,
}

// SAFETY: a block owns its mapping (no other handle to it exists), so it may
// move to another thread; through `&Block` the memory is only read.
unsafe impl Send for Block {}
// SAFETY: as above: shared references only read.
unsafe impl Sync for Block {}

impl Block {
    pub(crate) fn new(lines: usize) -> Block {
        let lines = lines.max(1);
        // SAFETY: a fresh private anonymous mapping; no existing memory is affected.
        let p = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                lines * 64,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        assert!(p != libc::MAP_FAILED, "mmap of {} bytes failed", lines * 64);
        // SAFETY: advice on the mapping just made; it changes no content.
        unsafe { libc::madvise(p, lines * 64, libc::MADV_HUGEPAGE) };
        Block { ptr: std::ptr::NonNull::new(p.cast()).expect("mmap never returns null on success"), lines }
    }

    fn bytes(&mut self) -> &mut [u8] {
        // SAFETY: the block owns `lines * 64` mapped, zero-initialised bytes at `ptr`.
        unsafe { std::slice::from_raw_parts_mut(self.ptr.as_ptr(), self.lines * 64) }
    }

    /// The block as `n` slots (all-zero bytes are empty slots).
    #[inline(always)]
    fn slots(&self, n: usize) -> &[Slot] {
        // SAFETY: every bit pattern held here is a valid `Slot` (zeroes, or
        // slots written by `slots_mut`).
        unsafe { self.array(n) }
    }

    #[inline(always)]
    fn slots_mut(&mut self, n: usize) -> &mut [Slot] {
        // SAFETY: as in `slots`.
        unsafe { self.array_mut(n) }
    }

    /// The block as `n` values of `T`.
    ///
    /// # Safety
    /// All-zero bytes and every value ever written through [`Block::array_mut`]
    /// of this block (of any `T` it is viewed as) are valid `T`s; `T` needs at
    /// most 4096-byte alignment.
    #[inline(always)]
    pub(crate) unsafe fn array<T>(&self, n: usize) -> &[T] {
        assert!(n * size_of::<T>() <= self.lines * 64);
        // SAFETY: in bounds (checked), page-aligned, valid values (the caller's promise).
        unsafe { std::slice::from_raw_parts(self.ptr.as_ptr().cast(), n) }
    }

    /// The block as `n` values of `T`, for writing.
    ///
    /// # Safety
    /// As for [`Block::array`].
    #[inline(always)]
    pub(crate) unsafe fn array_mut<T>(&mut self, n: usize) -> &mut [T] {
        assert!(n * size_of::<T>() <= self.lines * 64);
        // SAFETY: as in `array`, and `&mut self` makes the access exclusive.
        unsafe { std::slice::from_raw_parts_mut(self.ptr.as_ptr().cast(), n) }
    }
}

impl Drop for Block {
    fn drop(&mut self) {
        // SAFETY: the mapping made in `Block::new`, unmapped once.
        unsafe { libc::munmap(self.ptr.as_ptr().cast(), self.lines * 64) };
    }
}

/// A ceiling's index layout: what [`SealedEngine`] runs. Writes only happen
/// before the first read, one at a time; reads are never concurrent with a write.
pub trait Layout: Default + Send + Sync {
    /// Entries held.
    fn entries(&self) -> usize;
    /// Inserts or overwrites.
    fn put(&mut self, key: &[u8], value: &[u8]);
    /// One get: copies the value into `out` (large enough for any value held).
    fn get(&self, key: &[u8], out: &mut [u8]) -> Reply;
    /// Up to [`CHUNK`] gets of a batch of a non-empty table; get `i` uses
    /// `outs[i * stride..(i + 1) * stride]`.
    fn get_chunk(&self, keys: &[&[u8]], outs: &mut [u8], stride: usize, replies: &mut [Reply]);
    /// Cache lines mapped (index and records).
    fn mapped_lines(&self) -> usize;
    /// Calls `f` on every entry.
    fn for_each_entry(&self, f: &mut dyn FnMut(&[u8], &[u8]));
}

/// A ceiling: a [`Layout`] that one writer at a time fills until the first
/// read seals it; from then on any number of threads read it with no
/// synchronisation at all, and every write is refused (see the module docs).
pub struct SealedEngine<L> {
    /// Serialises writers, and the sealing against the last of them.
    writers: Mutex<()>,
    /// Set under `writers` by the first read; no write happens afterwards.
    sealed: AtomicBool,
    table: UnsafeCell<L>,
}

/// The ceiling engine: the probe's layout, sealed at its first read.
pub type CeilingEngine = SealedEngine<ProbeLayout>;

// SAFETY: `table` is mutated only by `write`, under `writers`, and only while
// `sealed` is false. Readers seal first (`read`: under `writers`, so every
// write has finished, and the Release store / Acquire load publish the table),
// and no write starts once sealed, so reads never overlap a write. `L: Sync`
// since the sealed table is read by many threads at once, `L: Send` since
// writers may run on different threads.
unsafe impl<L: Send + Sync> Sync for SealedEngine<L> {}

impl<L: Layout> Default for SealedEngine<L> {
    fn default() -> SealedEngine<L> {
        SealedEngine::new()
    }
}

impl<L: Layout> SealedEngine<L> {
    /// An empty engine, open for writes until the first read.
    pub fn new() -> SealedEngine<L> {
        SealedEngine { writers: Mutex::new(()), sealed: AtomicBool::new(false), table: UnsafeCell::new(L::default()) }
    }

    /// The table for reading, sealing it against writes the first time.
    #[inline(always)]
    fn read(&self) -> &L {
        if !self.sealed.load(Ordering::Acquire) {
            let _w = self.writers.lock().unwrap_or_else(|e| e.into_inner());
            self.sealed.store(true, Ordering::Release);
        }
        // SAFETY: sealed, and seen sealed with Acquire (or sealed by us under
        // the writers' lock): no write runs now or later (see `Sync`).
        unsafe { &*self.table.get() }
    }

    fn put(&self, key: &[u8], value: &[u8]) -> Reply {
        let _w = self.writers.lock().unwrap_or_else(|e| e.into_inner());
        if self.sealed.load(Ordering::Relaxed) {
            return Reply::status(Status::InvalidArgument);
        }
        // SAFETY: under `writers` and not sealed: no reader and no other writer (see `Sync`).
        unsafe { &mut *self.table.get() }.put(key, value);
        Reply::status(Status::Ok)
    }

    /// Runs `f` on the table with no write running (reads may, and only read); does not seal.
    pub(crate) fn inspect<R>(&self, f: impl FnOnce(&L) -> R) -> R {
        let _w = self.writers.lock().unwrap_or_else(|e| e.into_inner());
        // SAFETY: under `writers`: no write runs (see `Sync`).
        f(unsafe { &*self.table.get() })
    }
}

impl<L: Layout> Engine for SealedEngine<L> {
    fn execute(&self, op: &Op<'_>, out: &mut [u8]) -> Reply {
        match *op {
            Op::Get(k) => self.read().get(k, out),
            Op::Put(k, v) => self.put(k, v),
            _ => Reply::status(Status::InvalidArgument),
        }
    }

    fn execute_batch(&self, ops: &[Op<'_>], outs: &mut [u8], stride: usize, replies: &mut [Reply]) {
        if !ops.iter().all(|op| matches!(op, Op::Get(_))) {
            for ((op, out), reply) in ops.iter().zip(outs.chunks_mut(stride)).zip(replies.iter_mut()) {
                *reply = self.execute(op, out);
            }
            return;
        }
        let t = self.read();
        if t.entries() == 0 {
            replies.iter_mut().for_each(|r| *r = Reply::status(Status::NotFound));
            return;
        }
        let mut keys: [&[u8]; CHUNK] = [&[]; CHUNK];
        for (c, chunk) in ops.chunks(CHUNK).enumerate() {
            for (k, op) in keys.iter_mut().zip(chunk) {
                if let Op::Get(key) = *op {
                    *k = key;
                }
            }
            let n = chunk.len();
            let base = c * CHUNK;
            t.get_chunk(
                &keys[..n],
                &mut outs[base * stride..(base + n) * stride],
                stride,
                &mut replies[base..base + n],
            );
        }
    }

    fn len(&self) -> u64 {
        self.inspect(|t| t.entries() as u64)
    }

    fn mapped_bytes(&self) -> Option<u64> {
        Some(self.inspect(|t| t.mapped_lines()) as u64 * 64)
    }

    fn for_each(&self, f: &mut dyn FnMut(&[u8], &[u8])) {
        self.read().for_each_entry(f);
    }
}

/// The reply of a batched get whose probe stopped at the entry `(k, v)`: the
/// value copied into `out` when `k` is the `key` looked for, else `slow(out)`
/// (a tag collision: rare; the caller finishes the probe the slow way).
#[inline(always)]
pub(crate) fn reply_if_same(
    key: &[u8],
    (k, v): (&[u8], &[u8]),
    out: &mut [u8],
    slow: impl FnOnce(&mut [u8]) -> Reply,
) -> Reply {
    if same_key(k, key) {
        copy_value(Some(v), out)
    } else {
        slow(out)
    }
}

/// A get's reply: the value copied into `out`, or `NotFound`.
#[inline(always)]
pub(crate) fn copy_value(value: Option<&[u8]>, out: &mut [u8]) -> Reply {
    match value {
        Some(v) => {
            out[..v.len()].copy_from_slice(v);
            Reply::value(v.len())
        }
        None => Reply::status(Status::NotFound),
    }
}

impl Layout for ProbeLayout {
    fn entries(&self) -> usize {
        self.len
    }

    fn put(&mut self, key: &[u8], value: &[u8]) {
        if (self.len + 1) * 5 > self.slots().len() * 4 {
            self.grow();
        }
        let h = hash(key);
        let (i, found) = self.find(h, key);
        if !found {
            self.len += 1;
        }
        // An overwrite leaves the old record in the arena: writes only happen while loading.
        let rec = self.records.alloc(key, value);
        let n = self.mask + 1;
        self.index.as_mut().expect("grown above").slots_mut(n)[i] = Slot { tag: h | 1, rec };
    }

    /// One get, no prefetch: the dependent misses of a lone lookup.
    fn get(&self, key: &[u8], out: &mut [u8]) -> Reply {
        let t = self;
        if t.len == 0 {
            return Reply::status(Status::NotFound);
        }
        let (i, found) = t.find(hash(key), key);
        // SAFETY: a found slot points at a live record of `t`.
        copy_value(found.then(|| unsafe { record(t.slots()[i].rec) }.1), out)
    }

    /// Up to [`CHUNK`] gets in the probe's three passes.
    #[inline(always)]
    fn get_chunk(&self, keys: &[&[u8]], outs: &mut [u8], stride: usize, replies: &mut [Reply]) {
        let t = self;
        let n = keys.len();
        let mut hs = [0u64; CHUNK];
        let mut recs = [std::ptr::null::<u8>(); CHUNK];
        let slots = t.slots();
        for i in 0..n {
            hs[i] = hash(keys[i]);
            prefetch(slots.as_ptr().wrapping_add(hs[i] as usize & t.mask) as *const u8);
        }
        for i in 0..n {
            let tag = hs[i] | 1;
            let mut j = hs[i] as usize & t.mask;
            loop {
                let s = slots[j];
                if s.tag == tag || s.tag == 0 {
                    recs[i] = s.rec;
                    break;
                }
                j = (j + 1) & t.mask;
            }
            if !recs[i].is_null() {
                // The record's lines, its value taken as long as the output buffer.
                prefetch(recs[i]);
                let mut off = 64;
                while off < HEADER + keys[i].len() + stride {
                    prefetch(recs[i].wrapping_add(off));
                    off += 64;
                }
            }
        }
        for i in 0..n {
            let out = &mut outs[i * stride..(i + 1) * stride];
            replies[i] = if recs[i].is_null() {
                Reply::status(Status::NotFound)
            } else {
                // SAFETY: a non-null `recs[i]` came from an occupied slot of `t`.
                let kv = unsafe { record(recs[i]) };
                reply_if_same(keys[i], kv, out, |out| t.get(keys[i], out))
            };
        }
    }

    fn mapped_lines(&self) -> usize {
        self.index.iter().map(|b| b.lines).sum::<usize>() + self.records.lines()
    }

    fn for_each_entry(&self, f: &mut dyn FnMut(&[u8], &[u8])) {
        for s in self.slots().iter().filter(|s| s.tag != 0) {
            // SAFETY: every non-empty slot points at a live record of this table.
            let (k, v) = unsafe { record(s.rec) };
            f(k, v);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gets_find_what_was_put_and_writes_stop_at_the_first_read() {
        let e = CeilingEngine::new();
        let keys: Vec<Vec<u8>> = (0..5000u64).map(|i| [i.to_le_bytes(), (i * 7).to_le_bytes()].concat()).collect();
        for (i, k) in keys.iter().enumerate() {
            assert_eq!(e.execute(&Op::Put(k, &[i as u8; 32]), &mut []).status, Status::Ok);
        }
        assert_eq!(e.execute(&Op::Put(&keys[3], &[9; 32]), &mut []).status, Status::Ok);
        assert_eq!(e.len(), 5000);
        let mut ops: Vec<Op<'_>> = keys.iter().map(|k| Op::Get(k)).collect();
        ops.push(Op::Get(b"absent-key-16byt"));
        let mut outs = vec![0u8; ops.len() * 40];
        let mut replies = vec![Reply::default(); ops.len()];
        e.execute_batch(&ops, &mut outs, 40, &mut replies);
        for i in 0..5000 {
            let want = if i == 3 { 9 } else { i as u8 };
            assert_eq!(replies[i], Reply::value(32), "key {i}");
            assert_eq!(&outs[i * 40..i * 40 + 32], &[want; 32]);
        }
        assert_eq!(replies[5000].status, Status::NotFound);
        let mut out = [0u8; 32];
        assert_eq!(e.execute(&Op::Get(&keys[77]), &mut out), Reply::value(32));
        assert_eq!(out, [77u8; 32]);
        assert_eq!(e.execute(&Op::Put(&keys[0], &[1; 32]), &mut []).status, Status::InvalidArgument);
        let mut seen = 0;
        e.for_each(&mut |_, _| seen += 1);
        assert_eq!(seen, 5000);
    }
}
