//! The ceiling with small entries inline in the index: what an engine
//! redesign that stores small entries in its index could at best gain over
//! today's layout (the [`crate::ceiling`] engine), with everything else the
//! same: the hash, the load factor (growth past 0.8), the sealing and the
//! absence of any concurrency control, the copy of the value into the
//! caller's buffer, and the three passes of a batch. It is a prototype of a
//! layout, not a map: it only reads after its first read, like the ceiling.
//!
//! The layout splits the index in two arrays of the same slot count, as a
//! Swiss table does:
//! - a dense array of 4-byte tags (16 per cache line): 0 = empty; otherwise
//!   the low bit set, an "inline" bit, the key's and value's lengths (6 bits
//!   each, inline entries only) and 18 bits of the hash;
//! - an array of 48-byte payloads: the key then the value for an entry whose
//!   key and value fit in 48 bytes (the bench's 16-byte keys and 32-byte
//!   values do), else a pointer to a record `[klen][vlen][key][value]` out of
//!   line, as today.
//!
//! Both the home tag and the home payload are addresses computed from the
//! hash, so a lookup asks for both at once: a hit in its home slot costs one
//! dependent miss after the key (the ceiling pays two: the slot, then the
//! record). A hit displaced by linear probing (about 30-40% of the keys at
//! loads 0.6-0.76) waits for its tag and then its payload, as today. A miss
//! reads tags only, 16 to a line (the ceiling's slots are 4 to a line), plus
//! the home payload already asked for.
//!
//! Memory: 52 bytes per slot, so at the load numashard keeps (0.4-0.8) 65-130
//! bytes per inline entry, nothing out of line; the ceiling pays 16 bytes per
//! slot plus a 64-byte record line per entry (84-104 bytes).

use crate::ceiling::{
    copy_value, hash, prefetch, record, reply_if_same, Arena, Block, Layout, SealedEngine, CHUNK, HEADER,
};
use crate::engine::Reply;
use numashard::Status;

/// Bytes of key and value a slot holds inline.
pub const PAYLOAD: usize = 48;

/// Tag bit: the slot is occupied.
const OCCUPIED: u32 = 1;
/// Tag bit: the entry is in the payload (otherwise the payload points at a record).
const INLINE: u32 = 2;
/// Where an inline entry's key length sits in its tag.
const KLEN_SHIFT: u32 = 2;
/// Where an inline entry's value length sits in its tag.
const VLEN_SHIFT: u32 = 8;
/// The width of both lengths (`PAYLOAD` fits).
const LEN_MASK: u32 = 0x3f;
/// Where the hash's top bits sit in a tag.
const HASH_SHIFT: u32 = 14;
/// The bits a probe compares: occupied and the hash's bits.
const MATCH: u32 = !((1 << HASH_SHIFT) - 1) | OCCUPIED;
/// Sentinel of the batch's found slots: the key is absent.
const ABSENT: usize = usize::MAX;

/// What a probe looks for: occupied, with the hash's top 18 bits (the slot
/// index takes the low ones).
#[inline(always)]
fn wanted(h: u64) -> u32 {
    (((h >> (64 - (32 - HASH_SHIFT))) as u32) << HASH_SHIFT) | OCCUPIED
}

/// A slot's payload: the entry's bytes, or its record. A union so that the
/// pointer keeps its provenance when slots are copied (growth).
#[derive(Clone, Copy)]
#[repr(C)]
union Payload {
    bytes: [u8; PAYLOAD],
    rec: *const u8,
}

// The lengths fit their tag fields, and a slot's payload is exactly its bytes.
const _: () = assert!(PAYLOAD as u32 <= LEN_MASK && size_of::<Payload>() == PAYLOAD);

/// The key and value of the entry with tag `tag` and payload `p`.
///
/// # Safety
/// `tag` and `p` are an occupied slot of a live [`InlineLayout`] (so an entry
/// that is not inline points at a live record of its arena).
#[inline(always)]
unsafe fn entry(tag: u32, p: &Payload) -> (&[u8], &[u8]) {
    if tag & INLINE != 0 {
        let klen = ((tag >> KLEN_SHIFT) & LEN_MASK) as usize;
        let vlen = ((tag >> VLEN_SHIFT) & LEN_MASK) as usize;
        // SAFETY: an inline slot's payload was written as bytes.
        let bytes = unsafe { &p.bytes };
        (&bytes[..klen], &bytes[klen..klen + vlen])
    } else {
        // SAFETY: a slot that is not inline holds a record of the table's arena (the caller's promise).
        unsafe { record(p.rec) }
    }
}

/// The inline layout: the two index arrays and the records of large entries.
#[derive(Default)]
pub struct InlineLayout {
    /// Tags and payloads of `mask + 1` slots each (none before the first put).
    index: Option<(Block, Block)>,
    mask: usize,
    len: usize,
    records: Arena,
}

impl InlineLayout {
    fn capacity(&self) -> usize {
        if self.index.is_some() {
            self.mask + 1
        } else {
            0
        }
    }

    #[inline(always)]
    fn tags(&self) -> &[u32] {
        // SAFETY: the tag block only ever holds `u32`s (zeroes or tags), any bit pattern of which is valid.
        self.index.as_ref().map_or(&[], |(t, _)| unsafe { t.array(self.mask + 1) })
    }

    #[inline(always)]
    fn payloads(&self) -> &[Payload] {
        // SAFETY: the payload block only ever holds `Payload`s (zeroes, bytes, or record pointers).
        self.index.as_ref().map_or(&[], |(_, p)| unsafe { p.array(self.mask + 1) })
    }

    /// The slot holding `key` (hash `h`), or the empty slot ending its probe.
    fn find(&self, h: u64, key: &[u8]) -> (usize, bool) {
        let want = wanted(h);
        let (tags, payloads) = (self.tags(), self.payloads());
        let mut i = h as usize & self.mask;
        loop {
            let tag = tags[i];
            if tag == 0 {
                return (i, false);
            }
            // SAFETY: an occupied slot of this live table.
            if tag & MATCH == want && unsafe { entry(tag, &payloads[i]) }.0 == key {
                return (i, true);
            }
            i = (i + 1) & self.mask;
        }
    }

    fn grow(&mut self) {
        let n = (self.capacity() * 2).max(1024);
        let mut tag_block = Block::new(n * size_of::<u32>() / 64);
        let mut payload_block = Block::new(n * size_of::<Payload>() / 64);
        // SAFETY: fresh zeroed blocks, viewed as the types they will only ever hold.
        let (tags, payloads) = unsafe { (tag_block.array_mut::<u32>(n), payload_block.array_mut::<Payload>(n)) };
        for (&tag, p) in self.tags().iter().zip(self.payloads()).filter(|(&t, _)| t != 0) {
            // SAFETY: an occupied slot of this live table.
            let mut i = hash(unsafe { entry(tag, p) }.0) as usize & (n - 1);
            while tags[i] != 0 {
                i = (i + 1) & (n - 1);
            }
            // The tag's hash bits do not depend on the table's size.
            tags[i] = tag;
            payloads[i] = *p;
        }
        self.index = Some((tag_block, payload_block));
        self.mask = n - 1;
    }
}

/// The ceiling engine with small entries inline in the index (see the module docs).
pub type CeilingInlineEngine = SealedEngine<InlineLayout>;

/// Asks for the lines of the payload at `p` (48 bytes: one line, or two when it straddles).
#[inline(always)]
fn prefetch_payload(p: *const Payload) {
    prefetch(p.cast());
    prefetch(p.cast::<u8>().wrapping_add(PAYLOAD - 1));
}

impl Layout for InlineLayout {
    fn entries(&self) -> usize {
        self.len
    }

    fn put(&mut self, key: &[u8], value: &[u8]) {
        if (self.len + 1) * 5 > self.capacity() * 4 {
            self.grow();
        }
        let h = hash(key);
        let (i, found) = self.find(h, key);
        if !found {
            self.len += 1;
        }
        let (tag, payload) = if key.len() + value.len() <= PAYLOAD {
            let mut bytes = [0u8; PAYLOAD];
            bytes[..key.len()].copy_from_slice(key);
            bytes[key.len()..key.len() + value.len()].copy_from_slice(value);
            let lens = ((key.len() as u32) << KLEN_SHIFT) | ((value.len() as u32) << VLEN_SHIFT);
            (wanted(h) | INLINE | lens, Payload { bytes })
        } else {
            // An overwrite leaves an old record in the arena: writes only happen while loading.
            (wanted(h), Payload { rec: self.records.alloc(key, value) })
        };
        let n = self.mask + 1;
        let (tag_block, payload_block) = self.index.as_mut().expect("grown above");
        // SAFETY: the blocks hold exactly these types (see `tags` and `payloads`).
        unsafe {
            tag_block.array_mut::<u32>(n)[i] = tag;
            payload_block.array_mut::<Payload>(n)[i] = payload;
        }
    }

    /// One get: the home payload asked for before the probe reads the home
    /// tag, so that both misses overlap (otherwise as the ceiling's `get`).
    fn get(&self, key: &[u8], out: &mut [u8]) -> Reply {
        let t = self;
        if t.len == 0 {
            return Reply::status(Status::NotFound);
        }
        let h = hash(key);
        prefetch_payload(t.payloads().as_ptr().wrapping_add(h as usize & t.mask));
        let (i, found) = t.find(h, key);
        // SAFETY: a found slot is an occupied slot of the live table `t`.
        copy_value(found.then(|| unsafe { entry(t.tags()[i], &t.payloads()[i]) }.1), out)
    }

    /// Up to [`CHUNK`] gets in three passes: hash every key and ask for its
    /// home tag and payload; probe the tags and ask for the payload of a
    /// displaced hit (or the record of an entry out of line); compare the key
    /// and copy the value out.
    #[inline(always)]
    fn get_chunk(&self, keys: &[&[u8]], outs: &mut [u8], stride: usize, replies: &mut [Reply]) {
        let t = self;
        let n = keys.len();
        let mut hs = [0u64; CHUNK];
        let mut found = [ABSENT; CHUNK];
        let (tags, payloads) = (t.tags(), t.payloads());
        for i in 0..n {
            hs[i] = hash(keys[i]);
            let home = hs[i] as usize & t.mask;
            prefetch(tags.as_ptr().wrapping_add(home).cast());
            prefetch_payload(payloads.as_ptr().wrapping_add(home));
        }
        for i in 0..n {
            let want = wanted(hs[i]);
            let home = hs[i] as usize & t.mask;
            let mut j = home;
            loop {
                let tag = tags[j];
                if tag == 0 {
                    break;
                }
                if tag & MATCH == want {
                    found[i] = j;
                    if j != home {
                        prefetch_payload(payloads.as_ptr().wrapping_add(j));
                    }
                    if tag & INLINE == 0 {
                        // SAFETY: an occupied slot that is not inline holds a record pointer.
                        let rec = unsafe { payloads[j].rec };
                        // The record's lines, its value taken as long as the output buffer.
                        let mut off = 0;
                        while off < HEADER + keys[i].len() + stride {
                            prefetch(rec.wrapping_add(off));
                            off += 64;
                        }
                    }
                    break;
                }
                j = (j + 1) & t.mask;
            }
        }
        for i in 0..n {
            let out = &mut outs[i * stride..(i + 1) * stride];
            replies[i] = if found[i] == ABSENT {
                Reply::status(Status::NotFound)
            } else {
                let j = found[i];
                // SAFETY: `found` holds occupied slots of the live table `t`.
                let kv = unsafe { entry(tags[j], &payloads[j]) };
                reply_if_same(keys[i], kv, out, |out| t.get(keys[i], out))
            };
        }
    }

    fn mapped_lines(&self) -> usize {
        self.index.as_ref().map_or(0, |(tags, payloads)| tags.lines + payloads.lines) + self.records.lines()
    }

    fn for_each_entry(&self, f: &mut dyn FnMut(&[u8], &[u8])) {
        for (&tag, p) in self.tags().iter().zip(self.payloads()).filter(|(&tag, _)| tag != 0) {
            // SAFETY: an occupied slot of this live table.
            let (k, v) = unsafe { entry(tag, p) };
            f(k, v);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ceiling::CeilingEngine;
    use crate::engine::{Engine, Op};

    /// Replies and output bytes of `ops` on `e`, single and batched.
    fn answers(e: &dyn Engine, ops: &[Op<'_>], stride: usize) -> Vec<(Reply, Vec<u8>)> {
        let mut all = Vec::new();
        for op in ops {
            let mut out = vec![0xa5u8; stride];
            let r = e.execute(op, &mut out);
            all.push((r, out[..r.len].to_vec()));
        }
        let mut outs = vec![0xa5u8; ops.len() * stride];
        let mut replies = vec![Reply::default(); ops.len()];
        e.execute_batch(ops, &mut outs, stride, &mut replies);
        for (i, r) in replies.iter().enumerate() {
            all.push((*r, outs[i * stride..i * stride + r.len].to_vec()));
        }
        all
    }

    #[test]
    fn answers_as_the_ceiling_does_around_the_inline_limit() {
        let (inline, ceiling) = (CeilingInlineEngine::new(), CeilingEngine::new());
        let engines: [&dyn Engine; 2] = [&inline, &ceiling];
        let mut stride = 0;
        let mut entries: Vec<(Vec<u8>, Vec<u8>)> = Vec::new();
        // Key and value sizes on both sides of the 48-byte payload, empty ones included.
        for klen in [0, 1, 15, 16, 17, 47, 48, 49, 100] {
            for vlen in [0, 1, 31, 32, 33, 48 - klen.min(48), 49 - klen.min(48), 300] {
                let key: Vec<u8> = (0..klen).map(|b| (b * 7 + klen + vlen) as u8).collect();
                if entries.iter().all(|(k, _)| *k != key) {
                    entries.push((key, vec![vlen as u8 ^ 0x5a; vlen]));
                    stride = stride.max(vlen);
                }
            }
        }
        // 16-byte keys and 32-byte values, as the bench loads, through two growths.
        entries.extend((0..3000u64).map(|i| ([i.to_le_bytes(), (i * 7).to_le_bytes()].concat(), vec![i as u8; 32])));
        for e in engines {
            for (k, v) in &entries {
                assert_eq!(e.execute(&Op::Put(k, v), &mut []).status, Status::Ok);
            }
        }
        // Overwrites before sealing (key length, old value length, new value
        // length): across the limit both ways, and within each side.
        let overwrites: Vec<(Vec<u8>, Vec<u8>)> =
            [(16, 0, 40), (16, 33, 32), (17, 31, 1), (47, 1, 2), (49, 0, 300), (100, 1, 0), (0, 0, 48), (48, 1, 0)]
                .iter()
                .map(|&(klen, old, new)| {
                    let (k, _) =
                        entries.iter().find(|(k, v)| k.len() == klen && v.len() == old).expect("such an entry");
                    (k.clone(), vec![0xee; new])
                })
                .collect();
        let key3 = entries[entries.len() - 3].0.clone();
        for e in engines {
            for (k, v) in &overwrites {
                assert_eq!(e.execute(&Op::Put(k, v), &mut []).status, Status::Ok);
            }
            assert_eq!(e.execute(&Op::Put(&key3, &[9; 31]), &mut []).status, Status::Ok);
            assert_eq!(e.len(), entries.len() as u64);
        }
        let absent: Vec<Vec<u8>> =
            [&b"absent-key-16byt"[..], &[0xee; 48], &[1; 49], &[2; 15]].iter().map(|k| k.to_vec()).collect();
        let mut ops: Vec<Op<'_>> = entries.iter().map(|(k, _)| Op::Get(k)).collect();
        ops.extend(absent.iter().map(|k| Op::Get(k)));
        let got = answers(&inline, &ops, stride);
        assert_eq!(got, answers(&ceiling, &ops, stride));
        assert_eq!(got[..ops.len()], got[ops.len()..], "single gets and the batch agree");
        // And what the ceiling answers is what was stored.
        for (i, (k, v)) in entries.iter().enumerate() {
            let want = overwrites.iter().find(|(ok, _)| ok == k).map_or(v.as_slice(), |(_, ov)| ov);
            let want = if *k == key3 { &[9; 31][..] } else { want };
            assert_eq!(got[i], (Reply::value(want.len()), want.to_vec()), "entry {i}");
        }
        assert!(got[entries.len()..ops.len()].iter().all(|(r, _)| r.status == Status::NotFound));
        for e in engines {
            assert_eq!(e.execute(&Op::Put(&entries[0].0, &[1]), &mut []).status, Status::InvalidArgument);
        }
        let contents = |e: &dyn Engine| {
            let mut all = Vec::new();
            e.for_each(&mut |k, v| all.push((k.to_vec(), v.to_vec())));
            all.sort();
            all
        };
        assert_eq!(contents(&inline), contents(&ceiling));
        // Exactly the entries too large for a payload went out of line.
        let large = entries.iter().zip(&got).filter(|((k, _), (_, v))| k.len() + v.len() > PAYLOAD).count();
        let out_of_line = inline.inspect(|t| t.tags().iter().filter(|&&tag| tag != 0 && tag & INLINE == 0).count());
        assert!(large > 0);
        assert_eq!(out_of_line, large);
    }

    #[test]
    fn an_empty_engine_finds_nothing() {
        let e = CeilingInlineEngine::new();
        let mut replies = [Reply::default(); 2];
        e.execute_batch(&[Op::Get(b""), Op::Get(b"k")], &mut [0; 16], 8, &mut replies);
        assert!(replies.iter().all(|r| r.status == Status::NotFound));
        assert_eq!(e.execute(&Op::Get(b""), &mut []).status, Status::NotFound);
        assert_eq!(e.execute(&Op::Put(b"k", b"v"), &mut []).status, Status::InvalidArgument);
        assert_eq!(e.len(), 0);
    }
}
