//! Snapshot loading (`ns_map_open_snapshot`) from hostile but checksummed
//! files: the parser behind the crc32c checks (lengths, counts, sizes,
//! shard layout, hash seed, deadlines, key and value limits), which random
//! bit flips never reach.
//!
//! Once per process the target makes a small snapshot through the C ABI (a
//! map of 2 shards, a few hundred entries: the empty key and keys up to
//! 4096 bytes, empty, small, counter and large values, a third of them with
//! a deadline) and parses it into a model of the format
//! (`core/src/snapshot/format.rs`): the manifest's fields, and per data
//! file its header, blocks and entries. Serialising the unchanged model
//! gives back the saved bytes exactly (checked at start: the model is the
//! format).
//!
//! Each input is a mutation program. Its first byte chooses the loading
//! map's config (shard count and hash seed equal to the snapshot's or not,
//! real or synthetic topology, key and value limits, a memory limit with or
//! without eviction, a default TTL: `load_config`), its second a few
//! switches (bits 0 and 6: leave the checksums as the byte ops made them; bit 2:
//! iterate with `ns_iter_next_many`; bit 3: an `initial_capacity`, with bit
//! 5 records placed by hash; bits 1 and 4: save the loaded map and load it
//! again); the rest is a list of operations (`apply`):
//!
//! - structural ones change the model: a field set to a chosen or extreme
//!   value (manifest: version, length, shard count, flags, generation, hash
//!   seed, entry count, limits, longest key and value, per-shard entries,
//!   bytes and blocks; data file header: magic, version, shard, generation;
//!   block: length and entry count; entry: flags, key and value lengths,
//!   non-canonical varints, deadline, key and value bytes), entries,
//!   blocks and files dropped, duplicated, moved, split, merged, the whole
//!   snapshot reshaped into another shard count or generation. Every field
//!   an operation did not set is recomputed from the content (block lengths
//!   and counts, per-shard entries, bytes and blocks, the manifest's shard
//!   count, length, total and longest key and value), so that one lie at a
//!   time reaches the parser with everything else consistent;
//! - byte ops then set, xor, overwrite (u32/u64 with extreme values),
//!   truncate, extend, insert into or cut the serialised files.
//!
//! Last, unless the input's switch says not to, every crc32c of the format
//! is recomputed over the bytes as they now are (the manifest's, each data
//! file header's, and each block's, walking the blocks by their own length
//! fields), with the target's own CRC-32C: the mutated content reaches the
//! parser instead of stopping at a checksum.
//!
//! The files are written into a fresh directory and opened. Checked:
//! - the call returns (no panic: libfuzzer-sys aborts on any, also one the
//!   C ABI would have turned into `NS_ERR_PANIC`; no sanitizer report; no
//!   hang), and leaves the directory's files as they were;
//! - a failure is one of the statuses `ns_map_open_snapshot` documents for
//!   snapshots and arguments (`NS_ERR_INVALID_ARGUMENT` only for a config
//!   `ns_config_check` refuses), with a non-empty NUL-terminated message,
//!   and `*out` untouched. `NS_ERR_RESOURCE` and `NS_ERR_PANIC` are
//!   findings: the configs are small and valid, so only the snapshot's
//!   content can have made the loader ask the system for too much
//!   (`NUMASHARD_FUZZ_SNAPSHOT_ALLOW=NS_ERR_RESOURCE` counts such a status
//!   instead, to look for other findings while that one is open);
//! - a success gives a usable map: `ns_len` equals the entries iteration
//!   returns (each once), every one reads back with `ns_get` to the same
//!   value, none is longer than the config's limits, each has a time to
//!   live matching a deadline the files hold for it; every loaded entry is
//!   one the data files hold (parsed from the bytes as written, as the
//!   loader parses them), and with no change at all the map equals the
//!   saved one; on request the map is saved again and reloaded to the same
//!   contents; close and free succeed;
//! - memory stays bounded: the growth of the peak RSS over the input (reset
//!   through `/proc/self/clear_refs`) above
//!   `NUMASHARD_FUZZ_SNAPSHOT_RSS_MB` (default 128; loads of snapshots
//!   that claim no more than they hold grew it by 27 MiB at most) plus 16
//!   times the files' bytes is a finding, before libFuzzer's
//!   `-rss_limit_mb` would stop the run.
//!
//! An entry whose deadline passes while the map is checked (a deadline a
//! few milliseconds ahead) would make the counts differ: `ns_len` before
//! and after the checks tells (it drops expired entries), and such an input
//! skips the exact comparisons (counted as "volatile").
//!
//! How often each status (and each distinct reason, digits and file names
//! folded) occurs, and how many loads succeed, is printed every 2^k inputs
//! from 4096 on and at exit (`snapshot: ...` lines), so that a run shows how
//! deep the mutations get past the checksums.
//!
//! Environment: `NUMASHARD_FUZZ_SNAPSHOT_KEEP=<dir>` writes each input's
//! snapshot files there (and prints their fields), to replay a finding with
//! any client; `NUMASHARD_FUZZ_ARTIFACTS=<dir>` receives `peak-rss-input`,
//! the input of the largest RSS growth; `NUMASHARD_FUZZ_SNAPSHOT_ALLOW` and
//! `NUMASHARD_FUZZ_SNAPSHOT_SKIP` look past known findings (`allowed`,
//! `known_finding`); `NUMASHARD_FUZZ_SNAPSHOT_RSS_MB` (above).
#![no_main]

use libfuzzer_sys::fuzz_target;
use numashard::*;
use std::collections::{BTreeMap, HashMap};
use std::ffi::{c_char, CString};
use std::path::{Path, PathBuf};
use std::ptr::{null, null_mut};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Mutex, OnceLock};

// ---------------------------------------------------------------------------
// The format (core/src/snapshot/format.rs), as this target writes and reads it.

const MANIFEST: &str = "numashard.snapshot";
const MANIFEST_MAGIC: [u8; 8] = *b"NSSNAPMF";
const DATA_MAGIC: [u8; 8] = *b"NSSNAPSD";
const MANIFEST_FIXED: usize = 72;
const PER_SHARD: usize = 24;
const DATA_HEADER: usize = 32;
const BLOCK_HEADER: usize = 16;

/// The snapshot's shard count and hash seed (the loading map uses them or not).
const BASE_SHARDS: u32 = 2;
const BASE_SEED: u64 = 0x5eed_0f5a_b5b0_7001;
/// The longest key and value the base snapshot holds.
const BASE_LONGEST_KEY: usize = 4096;
const BASE_LONGEST_VALUE: usize = 20_000;
/// Most payload bytes and entries a program may grow the snapshot to, and
/// most growing operations per input: every input's memory stays bounded.
const MAX_PAYLOAD: usize = 24 << 20;
const MAX_ENTRIES: usize = 20_000;
const MAX_GROWTH_OPS: usize = 32;

/// CRC-32C (Castagnoli): reflected, polynomial 0x82F63B78, initial and
/// final value all ones. Written for this target from the definition (a
/// byte-at-a-time table), so a mistake in the library's is not copied; the
/// start-up check against RFC 3720's check value and the library's own
/// checksums of the saved files confirms it.
fn crc32c(crc: u32, data: &[u8]) -> u32 {
    static TABLE: OnceLock<[u32; 256]> = OnceLock::new();
    let table = TABLE.get_or_init(|| {
        let mut t = [0u32; 256];
        for (n, slot) in t.iter_mut().enumerate() {
            let mut r = n as u32;
            for _ in 0..8 {
                let low = r & 1;
                r >>= 1;
                if low == 1 {
                    r ^= 0x82F6_3B78;
                }
            }
            *slot = r;
        }
        t
    });
    let mut r = !crc;
    for &b in data {
        r = (r >> 8) ^ table[usize::from((r as u8) ^ b)];
    }
    !r
}

fn le32(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(b[at..at + 4].try_into().unwrap())
}

fn le64(b: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(b[at..at + 8].try_into().unwrap())
}

/// The data file name of `shard` in `generation` (as the library names them).
fn data_file_name(generation: u64, shard: usize) -> String {
    format!("shard-{generation:016x}-{shard:04}.nss")
}

/// LEB128 with `pad` extra (non-canonical) zero groups: the reader takes up
/// to 5 bytes, so padding probes that bound too.
fn put_varint(b: &mut Vec<u8>, mut v: u64, pad: u8) {
    let mut groups = Vec::with_capacity(10 + pad as usize);
    loop {
        groups.push((v & 0x7f) as u8);
        v >>= 7;
        if v == 0 {
            break;
        }
    }
    groups.extend(std::iter::repeat_n(0u8, pad as usize));
    let last = groups.len() - 1;
    for (i, g) in groups.into_iter().enumerate() {
        b.push(if i == last { g } else { g | 0x80 });
    }
}

/// A varint of the saved files (always canonical there): (value, next position).
fn get_varint(b: &[u8], mut at: usize) -> (u64, usize) {
    let mut v = 0u64;
    let mut shift = 0;
    loop {
        let byte = b[at];
        at += 1;
        v |= u64::from(byte & 0x7f) << shift;
        if byte & 0x80 == 0 {
            return (v, at);
        }
        shift += 7;
    }
}

/// One entry of a block. `None` lengths are the key's and value's own.
#[derive(Clone, Debug)]
struct Entry {
    flags: u8,
    klen: Option<u64>,
    vlen: Option<u64>,
    kpad: u8,
    vpad: u8,
    /// Written when flags bit 0 is set.
    deadline: u64,
    key: Vec<u8>,
    value: Vec<u8>,
}

impl Entry {
    fn size(&self) -> usize {
        BLOCK_HEADER + self.key.len() + self.value.len()
    }

    fn write(&self, b: &mut Vec<u8>) {
        b.push(self.flags);
        put_varint(b, self.klen.unwrap_or(self.key.len() as u64), self.kpad);
        put_varint(b, self.vlen.unwrap_or(self.value.len() as u64), self.vpad);
        if self.flags & 1 == 1 {
            b.extend_from_slice(&self.deadline.to_le_bytes());
        }
        b.extend_from_slice(&self.key);
        b.extend_from_slice(&self.value);
    }
}

/// One block. `None` header fields are the content's own.
#[derive(Clone, Debug, Default)]
struct Block {
    len: Option<u64>,
    count: Option<u32>,
    entries: Vec<Entry>,
    /// Bytes after the last entry, inside the payload.
    junk: Vec<u8>,
}

/// One data file (header fields as written).
#[derive(Clone, Debug)]
struct DataFile {
    name: String,
    magic: [u8; 8],
    version: u32,
    shard: u32,
    generation: u64,
    reserved: u32,
    blocks: Vec<Block>,
    /// Bytes after the last block.
    tail: Vec<u8>,
}

/// What a data file's serialised header says about it (the manifest's
/// per-shard record, when the program did not set it).
#[derive(Clone, Copy, Debug, Default)]
struct FileStats {
    entries: u64,
    bytes: u64,
    blocks: u64,
}

impl DataFile {
    fn serialize(&self) -> (Vec<u8>, FileStats) {
        let mut b = Vec::with_capacity(DATA_HEADER + self.blocks.iter().map(Block::size).sum::<usize>());
        b.extend_from_slice(&self.magic);
        b.extend_from_slice(&self.version.to_le_bytes());
        b.extend_from_slice(&self.shard.to_le_bytes());
        b.extend_from_slice(&self.generation.to_le_bytes());
        let crc = crc32c(0, &b);
        b.extend_from_slice(&crc.to_le_bytes());
        b.extend_from_slice(&self.reserved.to_le_bytes());
        let mut stats = FileStats::default();
        let mut payload = Vec::new();
        for block in &self.blocks {
            payload.clear();
            for e in &block.entries {
                e.write(&mut payload);
            }
            payload.extend_from_slice(&block.junk);
            let count = block.count.unwrap_or(block.entries.len() as u32);
            let mut h = [0u8; BLOCK_HEADER];
            h[..8].copy_from_slice(&block.len.unwrap_or(payload.len() as u64).to_le_bytes());
            h[8..12].copy_from_slice(&count.to_le_bytes());
            let crc = crc32c(crc32c(0, &h[..12]), &payload);
            h[12..].copy_from_slice(&crc.to_le_bytes());
            b.extend_from_slice(&h);
            b.extend_from_slice(&payload);
            stats.entries = stats.entries.wrapping_add(u64::from(count));
            stats.blocks += 1;
        }
        b.extend_from_slice(&self.tail);
        stats.bytes = b.len() as u64;
        (b, stats)
    }

    fn parse(name: &str, b: &[u8]) -> DataFile {
        assert_eq!(b[..8], DATA_MAGIC, "{name}: magic");
        let mut f = DataFile {
            name: name.to_owned(),
            magic: DATA_MAGIC,
            version: le32(b, 8),
            shard: le32(b, 12),
            generation: le64(b, 16),
            reserved: le32(b, 28),
            blocks: Vec::new(),
            tail: Vec::new(),
        };
        let mut at = DATA_HEADER;
        while at < b.len() {
            let len = le64(b, at) as usize;
            let count = le32(b, at + 8);
            let p = &b[at + BLOCK_HEADER..at + BLOCK_HEADER + len];
            let mut block = Block::default();
            let mut e = 0;
            for _ in 0..count {
                let flags = p[e];
                let (k, next) = get_varint(p, e + 1);
                let (v, mut next) = get_varint(p, next);
                let mut deadline = 0;
                if flags == 1 {
                    deadline = le64(p, next);
                    next += 8;
                }
                let (k, v) = (k as usize, v as usize);
                block.entries.push(Entry {
                    flags,
                    klen: None,
                    vlen: None,
                    kpad: 0,
                    vpad: 0,
                    deadline,
                    key: p[next..next + k].to_vec(),
                    value: p[next + k..next + k + v].to_vec(),
                });
                e = next + k + v;
            }
            assert_eq!(e, len, "{name}: a block's entries fill it");
            f.blocks.push(block);
            at += BLOCK_HEADER + len;
        }
        f
    }
}

impl Block {
    fn size(&self) -> usize {
        BLOCK_HEADER + self.junk.len() + self.entries.iter().map(Entry::size).sum::<usize>()
    }
}

/// The manifest's per-shard record; `None` = the file's own.
#[derive(Clone, Copy, Debug, Default)]
struct PerShard {
    entries: Option<u64>,
    bytes: Option<u64>,
    blocks: Option<u64>,
}

/// The manifest. `None` fields are computed from the rest.
#[derive(Clone, Debug)]
struct Manifest {
    magic: [u8; 8],
    version: u32,
    len: Option<u32>,
    shards: Option<u32>,
    flags: u32,
    generation: u64,
    created: u64,
    hash_seed: u64,
    entries: Option<u64>,
    max_key_len: u32,
    max_value_len: u32,
    longest_key: Option<u32>,
    longest_value: Option<u32>,
    per_shard: Vec<PerShard>,
}

impl Manifest {
    fn parse(b: &[u8]) -> Manifest {
        assert_eq!(b[..8], MANIFEST_MAGIC, "manifest magic");
        let shards = le32(b, 16) as usize;
        assert_eq!(b.len(), MANIFEST_FIXED + PER_SHARD * shards + 4, "manifest length");
        Manifest {
            magic: MANIFEST_MAGIC,
            version: le32(b, 8),
            len: None,
            shards: None,
            flags: le32(b, 20),
            generation: le64(b, 24),
            created: le64(b, 32),
            hash_seed: le64(b, 40),
            entries: None,
            max_key_len: le32(b, 56),
            max_value_len: le32(b, 60),
            longest_key: None,
            longest_value: None,
            per_shard: vec![PerShard::default(); shards],
        }
    }

    /// The manifest's bytes, given the data files (by shard position) and
    /// the longest key and value they hold.
    fn serialize(&self, files: &[Option<FileStats>], longest: (u32, u32)) -> Vec<u8> {
        let n = self.per_shard.len();
        let len = self.len.unwrap_or((MANIFEST_FIXED + PER_SHARD * n + 4) as u32);
        let per: Vec<FileStats> = (0..n)
            .map(|i| {
                let f = files.get(i).copied().flatten().unwrap_or_default();
                let p = self.per_shard[i];
                FileStats {
                    entries: p.entries.unwrap_or(f.entries),
                    bytes: p.bytes.unwrap_or(f.bytes),
                    blocks: p.blocks.unwrap_or(f.blocks),
                }
            })
            .collect();
        let total = per.iter().fold(0u64, |t, p| t.wrapping_add(p.entries));
        let mut b = Vec::with_capacity(MANIFEST_FIXED + PER_SHARD * n + 4);
        b.extend_from_slice(&self.magic);
        for v in [self.version, len, self.shards.unwrap_or(n as u32), self.flags] {
            b.extend_from_slice(&v.to_le_bytes());
        }
        for v in [self.generation, self.created, self.hash_seed, self.entries.unwrap_or(total)] {
            b.extend_from_slice(&v.to_le_bytes());
        }
        for v in [
            self.max_key_len,
            self.max_value_len,
            self.longest_key.unwrap_or(longest.0),
            self.longest_value.unwrap_or(longest.1),
        ] {
            b.extend_from_slice(&v.to_le_bytes());
        }
        for p in per {
            for v in [p.entries, p.bytes, p.blocks] {
                b.extend_from_slice(&v.to_le_bytes());
            }
        }
        let crc = crc32c(0, &b);
        b.extend_from_slice(&crc.to_le_bytes());
        b
    }
}

/// A whole snapshot: the manifest (None = no manifest file), the data files
/// by shard position (None = missing), and stray files beside them.
#[derive(Clone, Debug)]
struct Snapshot {
    manifest: Option<Manifest>,
    files: Vec<Option<DataFile>>,
    strays: Vec<(String, Vec<u8>)>,
}

impl Snapshot {
    /// Every file's name and bytes, the manifest first.
    fn serialize(&self) -> Vec<(String, Vec<u8>)> {
        let mut out = Vec::new();
        let mut stats = Vec::new();
        let (mut longest_key, mut longest_value) = (0u32, 0u32);
        for f in &self.files {
            match f {
                Some(f) => {
                    let (b, s) = f.serialize();
                    for e in f.blocks.iter().flat_map(|b| &b.entries) {
                        longest_key = longest_key.max(e.key.len() as u32);
                        longest_value = longest_value.max(e.value.len() as u32);
                    }
                    out.push((f.name.clone(), b));
                    stats.push(Some(s));
                }
                None => stats.push(None),
            }
        }
        if let Some(m) = &self.manifest {
            out.insert(0, (MANIFEST.to_owned(), m.serialize(&stats, (longest_key, longest_value))));
        }
        out.extend(self.strays.iter().cloned());
        out
    }

    fn entries(&self) -> impl Iterator<Item = &Entry> {
        self.files.iter().flatten().flat_map(|f| &f.blocks).flat_map(|b| &b.entries)
    }

    /// Payload bytes and entries (bounds what a program may grow).
    fn size(&self) -> (usize, usize) {
        let blocks = self.files.iter().flatten().flat_map(|f| &f.blocks);
        blocks.fold((0, 0), |(bytes, n), b| (bytes + b.size(), n + b.entries.len()))
    }
}

/// Recomputes every checksum over the bytes as they are: the manifest's
/// (its last 4 bytes), a data file header's, and each block's, walking the
/// blocks by their length fields as far as they stay inside the file.
fn fix_crcs(name: &str, b: &mut [u8]) {
    if name == MANIFEST {
        if b.len() >= 4 {
            let at = b.len() - 4;
            let crc = crc32c(0, &b[..at]);
            b[at..].copy_from_slice(&crc.to_le_bytes());
        }
        return;
    }
    if b.len() < 28 {
        return;
    }
    let crc = crc32c(0, &b[..24]);
    b[24..28].copy_from_slice(&crc.to_le_bytes());
    let mut at = DATA_HEADER;
    while b.len() - at.min(b.len()) >= BLOCK_HEADER {
        let len = le64(b, at);
        if len > (b.len() - at - BLOCK_HEADER) as u64 {
            break;
        }
        let end = at + BLOCK_HEADER + len as usize;
        let crc = crc32c(crc32c(0, &b[at..at + 12]), &b[at + BLOCK_HEADER..end]);
        b[at + 12..at + 16].copy_from_slice(&crc.to_le_bytes());
        at = end;
    }
}

// ---------------------------------------------------------------------------
// The base snapshot, made once per process.

struct Base {
    /// Where every input's directory is made (removed at exit).
    root: PathBuf,
    snapshot: Snapshot,
    /// The saved map's contents.
    contents: BTreeMap<Vec<u8>, Vec<u8>>,
    /// Per base key, its shard in maps of 1..=4 shards with the base seed
    /// (for `reshape`, which lays a snapshot out as a map of that many shards would).
    routes: HashMap<Vec<u8>, [u8; 4]>,
}

/// A status's name, for the counts.
fn name(s: ns_status) -> String {
    format!("{s:?}")
}

fn config(shards: u32, seed: u64) -> ns_config {
    let mut cfg = std::mem::MaybeUninit::<ns_config>::uninit();
    // SAFETY: ns_config_init_sized with the struct's own size writes all of it.
    let mut cfg = unsafe {
        assert_eq!(ns_config_init_sized(cfg.as_mut_ptr(), std::mem::size_of::<ns_config>()), ns_status::NS_OK);
        cfg.assume_init()
    };
    cfg.shards = shards;
    cfg.hash_seed = seed;
    cfg
}

/// A map of `shards` shards with the base seed, on a synthetic topology
/// (cheap: no pinning), to ask it where keys go.
fn router(shards: u32) -> *mut ns_map {
    let mut cfg = config(shards, BASE_SEED);
    cfg.topology = c"pack:2 [numa] core:2 pu:1".as_ptr();
    let mut m = null_mut();
    // SAFETY: a valid config and output.
    assert_eq!(unsafe { ns_map_new(&cfg, &mut m) }, ns_status::NS_OK);
    m
}

fn key_ptr(k: &[u8]) -> *const u8 {
    if k.is_empty() {
        null()
    } else {
        k.as_ptr()
    }
}

/// The key and value of base entry `i`, and its TTL in ms (0 = none): keys
/// of 0 to 4096 bytes (1- and 2-byte varints), values empty, short, 8-byte
/// counters, 130 bytes, and one of 70,000 (a 3-byte varint, above the
/// arena's 64 KiB large-record threshold); deadlines 1 hour to ~12 days
/// ahead (never within a check's duration) on a third of them.
fn base_entry(i: usize) -> (Vec<u8>, Vec<u8>, u64) {
    let key = match (i, i % 11, i % 3) {
        (0, ..) => Vec::new(),
        (1, ..) => vec![b'K'; BASE_LONGEST_KEY],
        (2, ..) => vec![0xA5; 200],
        (_, 0, _) => format!("a-somewhat-longer-key-for-entry-{i}-{}", "x".repeat(i % 40)).into_bytes(),
        (_, _, 0) => (i as u16).to_le_bytes().to_vec(),
        _ => format!("k{i}").into_bytes(),
    };
    let value = match (i, i % 5, i % 7, i % 13) {
        (3, ..) => (0..BASE_LONGEST_VALUE).map(|j| (j * 31 + 7) as u8).collect(),
        (_, 0, ..) => Vec::new(),
        (_, _, 0, _) => (i as i64).to_le_bytes().to_vec(),
        (_, _, _, 0) => vec![(i % 251) as u8; 130],
        _ => format!("value-{i}-{}", "v".repeat(i % 23)).into_bytes(),
    };
    let ttl = if i % 3 == 1 { 3_600_000 + i as u64 * 3_000_000 } else { 0 };
    (key, value, ttl)
}

/// Where inputs' directories go: a fresh directory under /dev/shm (tmpfs:
/// no disk traffic) when there is one, else under the temp directory. The
/// directories of earlier processes that are gone (a crash skips the exit
/// handler that removes them) are removed.
fn scratch_root() -> PathBuf {
    let shm = Path::new("/dev/shm");
    let parent = if shm.is_dir() { shm.to_path_buf() } else { std::env::temp_dir() };
    for e in std::fs::read_dir(&parent).into_iter().flatten().flatten() {
        let name = e.file_name();
        let pid = name.to_str().and_then(|n| n.strip_prefix("numashard-snapfuzz-"));
        if pid.is_some_and(|p| !Path::new("/proc").join(p).exists()) {
            let _ = std::fs::remove_dir_all(e.path());
        }
    }
    let root = parent.join(format!("numashard-snapfuzz-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    std::fs::create_dir_all(&root).expect("create the scratch directory");
    root
}

fn make_base() -> Base {
    assert_eq!(crc32c(0, b"123456789"), 0xE306_9283, "CRC-32C check value (RFC 3720)");
    let root = scratch_root();
    let dir = root.join("base");
    let m = router(BASE_SHARDS);
    let mut contents = BTreeMap::new();
    for i in 0..400 {
        let (k, v, ttl) = base_entry(i);
        // SAFETY: valid buffers of the stated lengths on a live map.
        let s = unsafe {
            if ttl == 0 {
                ns_put(m, key_ptr(&k), k.len(), key_ptr(&v), v.len())
            } else {
                ns_put_ttl(m, key_ptr(&k), k.len(), key_ptr(&v), v.len(), ttl)
            }
        };
        assert_eq!(s, ns_status::NS_OK);
        contents.insert(k, v);
    }
    let cdir = CString::new(dir.as_os_str().as_encoded_bytes()).unwrap();
    let mut report = ns_save_report::default();
    let mut msg = [0 as c_char; 256];
    // SAFETY: a live map, a NUL-terminated path, writable outputs of the stated sizes.
    let s = unsafe { ns_map_save(m, cdir.as_ptr(), &mut report, msg.as_mut_ptr(), msg.len()) };
    assert_eq!(s, ns_status::NS_OK, "saving the base snapshot");
    // SAFETY: a live map, freed once.
    unsafe {
        assert_eq!(ns_map_close(m), ns_status::NS_OK);
        ns_map_free(m);
    }
    // Parse it into the model, and check the model gives it back exactly.
    let mbytes = std::fs::read(dir.join(MANIFEST)).expect("read the manifest");
    let manifest = Manifest::parse(&mbytes);
    assert_eq!(crc32c(0, &mbytes[..mbytes.len() - 4]), le32(&mbytes, mbytes.len() - 4), "manifest crc");
    let mut files = Vec::new();
    let mut saved = vec![(MANIFEST.to_owned(), mbytes.clone())];
    for i in 0..manifest.per_shard.len() {
        let name = data_file_name(manifest.generation, i);
        let b = std::fs::read(dir.join(&name)).expect("read a data file");
        files.push(Some(DataFile::parse(&name, &b)));
        saved.push((name, b));
    }
    let snapshot = Snapshot { manifest: Some(manifest), files, strays: Vec::new() };
    assert!(snapshot.serialize() == saved, "the model does not reproduce the saved snapshot");
    assert_eq!(snapshot.entries().count(), contents.len());
    assert!(snapshot.files.iter().flatten().all(|f| !f.blocks.is_empty()), "entries in every shard");
    // Where every base key goes in maps of 1..=4 shards.
    let mut routes: HashMap<Vec<u8>, [u8; 4]> = contents.keys().map(|k| (k.clone(), [0; 4])).collect();
    for n in 1..=4u32 {
        let r = router(n);
        for (k, to) in routes.iter_mut() {
            let mut s = 0u32;
            // SAFETY: a live map, a valid key, a writable output.
            assert_eq!(unsafe { ns_shard_of_key(r, key_ptr(k), k.len(), &mut s) }, ns_status::NS_OK);
            to[n as usize - 1] = s as u8;
        }
        // SAFETY: a live map, freed once.
        unsafe {
            assert_eq!(ns_map_close(r), ns_status::NS_OK);
            ns_map_free(r);
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
    Base { root, snapshot, contents, routes }
}

fn base() -> &'static Base {
    static B: OnceLock<Base> = OnceLock::new();
    B.get_or_init(make_base)
}

// ---------------------------------------------------------------------------
// The mutation program.

#[path = "input.rs"]
mod input;
use input::Input;

impl Input<'_> {
    fn u16(&mut self) -> u16 {
        u16::from_le_bytes([self.byte(), self.byte()])
    }
    fn u64(&mut self) -> u64 {
        (0..8).fold(0, |v, i| v | u64::from(self.byte()) << (8 * i))
    }
    /// An index below `n` (0 when `n` is 0).
    fn index(&mut self, n: usize) -> usize {
        let v = self.u16() as usize;
        if n == 0 {
            0
        } else {
            v % n
        }
    }
    /// A value for a numeric field that holds `original`: near it, a
    /// boundary of the field widths and varints, a huge count, or raw.
    fn number(&mut self, original: u64) -> u64 {
        let (sel, arg) = (self.byte(), self.byte());
        let a = u64::from(arg);
        match sel % 20 {
            0 => 0,
            1 => 1 + a % 4,
            2 => original.wrapping_add(1 + a),
            3 => original.wrapping_sub(1 + a),
            4 => original.wrapping_mul(2 + a % 15),
            5 => original ^ (1 << (a % 64)),
            6 => 1 << (a % 64),
            7 => (1u64 << (a % 64)).wrapping_sub(1),
            8 => u64::from(u32::MAX) - a % 4,
            9 => u64::from(u32::MAX) + 1 + a % 4,
            10 => u64::MAX - a * a * a,
            11 => i64::MAX as u64 + a % 2,
            12 => 1_000_000_000_000_000 * (1 + a % 4),
            13 => 1_000_000_000,
            14 => (1 << 31) - 1 + a % 3,
            15 => [0x7f, 0x80, 0x3fff, 0x4000, 0x1f_ffff, 0x20_0000][arg as usize % 6],
            16 => 65_536 * (1 + a),
            17 => a,
            _ => self.u64(),
        }
    }
    /// A deadline (ms since the Unix epoch; 0 = none): past, hours or
    /// centuries ahead, where milliseconds overflow nanoseconds, or raw.
    /// Never within minutes ahead, so that none passes during the checks.
    fn deadline(&mut self, original: u64, now_ms: u64) -> u64 {
        let (sel, arg) = (self.byte(), self.byte());
        let a = u64::from(arg);
        const YEAR_MS: u64 = 365 * 24 * 3_600_000;
        match sel % 13 {
            0 => 0,
            1 => 1 + a,
            2 => now_ms - 1 - a * 60_000,
            3 => now_ms + 3_600_000 * (1 + a),
            4 => now_ms + 100 * YEAR_MS,
            5 => u64::MAX - a % 2,
            6 => u64::MAX / 1_000_000 - 1 + a % 3,
            7 => now_ms + (i64::MAX as u64 / 1_000_000) - 1 + a % 3,
            8 => i64::MAX as u64,
            9 => original.wrapping_add(YEAR_MS * a),
            10 => now_ms + 300 * YEAR_MS,
            11 => original,
            _ => self.u64(),
        }
    }
    /// Bytes of a length chosen around the limits, filled from `from`.
    fn blob(&mut self, from: &[u8]) -> Vec<u8> {
        let (sel, fill) = (self.byte(), self.byte());
        let len = match sel % 16 {
            0 => 0,
            1 => 1,
            2 => from.len() + 1,
            3 => from.len().saturating_sub(1),
            4 => 16,
            5 => 17,
            6 => 64,
            7 => 65,
            8 => 4095,
            9 => 4096,
            10 => 4097,
            11 => 65_536,
            12 => 70_001,
            13 => 4 << 20,
            14 => (4 << 20) + 1,
            _ => fill as usize,
        };
        if from.is_empty() {
            vec![fill; len]
        } else {
            from.iter().copied().cycle().take(len).collect()
        }
    }
}

/// What a program did beside changing the model.
#[derive(Default)]
struct Program {
    /// Byte ops, applied to the serialised files in order.
    byte_ops: Vec<ByteOp>,
    /// Operations that grew the snapshot (bounded).
    growth: usize,
}

enum ByteOp {
    Set(usize, u32, u8),
    Xor(usize, u32, u8),
    Put32(usize, u32, u32),
    Put64(usize, u32, u64),
    Truncate(usize, u32),
    Append(usize, Vec<u8>),
    Insert(usize, u32, Vec<u8>),
    Remove(usize, u32, u16),
}

/// A location in the model: (file position, block, entry).
fn pick_block(s: &Snapshot, inp: &mut Input) -> Option<(usize, usize)> {
    let f = inp.index(s.files.len());
    let file = s.files.get(f)?.as_ref()?;
    let b = inp.index(file.blocks.len());
    (b < file.blocks.len()).then_some((f, b))
}

fn pick_entry(s: &Snapshot, inp: &mut Input) -> Option<(usize, usize, usize)> {
    let (f, b) = pick_block(s, inp)?;
    let block = &s.files[f].as_ref()?.blocks[b];
    let e = inp.index(block.entries.len());
    (e < block.entries.len()).then_some((f, b, e))
}

fn block_mut(s: &mut Snapshot, (f, b): (usize, usize)) -> &mut Block {
    &mut s.files[f].as_mut().expect("picked an existing file").blocks[b]
}

/// Inserts `entry` at a picked place of a picked block (of the block at
/// `from` when none is picked): the second half of duplicating or moving one.
fn insert_somewhere(s: &mut Snapshot, inp: &mut Input, entry: Entry, from: (usize, usize)) {
    let to = pick_block(s, inp).unwrap_or(from);
    let block = block_mut(s, to);
    let at = inp.index(block.entries.len() + 1).min(block.entries.len());
    block.entries.insert(at, entry);
}

/// Lays every entry out as a map of `k` shards would save it: by its
/// shard in such a map (base keys; others round robin), one block per
/// file, with a manifest of `k` shards.
fn reshape(s: &mut Snapshot, k: usize, routes: &HashMap<Vec<u8>, [u8; 4]>, by_hash: bool) {
    let Some(generation) = s.manifest.as_ref().map(|m| m.generation) else { return };
    let template = s.files.iter().flatten().next().cloned();
    let Some(template) = template else { return };
    let entries: Vec<Entry> = s.entries().cloned().collect();
    let mut blocks = vec![Block::default(); k];
    for (i, e) in entries.into_iter().enumerate() {
        let to = match routes.get(&e.key) {
            Some(r) if by_hash => r[k - 1] as usize,
            _ => i % k,
        };
        blocks[to].entries.push(e);
    }
    s.files = blocks
        .into_iter()
        .enumerate()
        .map(|(i, b)| {
            Some(DataFile {
                name: data_file_name(generation, i),
                shard: i as u32,
                generation,
                blocks: if b.entries.is_empty() { Vec::new() } else { vec![b] },
                ..template.clone()
            })
        })
        .collect();
    let m = s.manifest.as_mut().expect("checked above");
    m.per_shard = vec![PerShard::default(); k];
    m.shards = None;
    m.len = None;
}

/// Applies one operation (decoded from `inp`) to the model, or records a
/// byte op.
fn apply(s: &mut Snapshot, p: &mut Program, inp: &mut Input, base: &Base, now_ms: u64) {
    let op = inp.byte();
    let grows = matches!(op % 32, 7 | 8 | 9 | 12 | 19 | 20 | 22);
    if grows {
        let (bytes, n) = s.size();
        if p.growth >= MAX_GROWTH_OPS || bytes > MAX_PAYLOAD || n > MAX_ENTRIES {
            // Skip the operation's arguments' first byte at least; the rest
            // decodes as further operations.
            return;
        }
        p.growth += 1;
    }
    match op % 32 {
        // Manifest fields.
        0 | 1 => {
            let Some(m) = s.manifest.as_mut() else { return };
            let field = inp.byte() % 14;
            let n32 = |inp: &mut Input, v: u32| inp.number(u64::from(v)) as u32;
            match field {
                0 => m.version = n32(inp, m.version),
                1 => m.len = Some(n32(inp, (MANIFEST_FIXED + PER_SHARD * m.per_shard.len() + 4) as u32)),
                2 => m.shards = Some(n32(inp, m.per_shard.len() as u32)),
                3 => m.flags = n32(inp, m.flags),
                4 => m.generation = inp.number(m.generation),
                5 => m.created = inp.number(m.created),
                6 => m.hash_seed = inp.number(m.hash_seed),
                7 => m.entries = Some(inp.number(base.contents.len() as u64)),
                8 => m.max_key_len = n32(inp, m.max_key_len),
                9 => m.max_value_len = n32(inp, m.max_value_len),
                10 => m.longest_key = Some(n32(inp, BASE_LONGEST_KEY as u32)),
                11 => m.longest_value = Some(n32(inp, BASE_LONGEST_VALUE as u32)),
                12 => m.magic[inp.byte() as usize % 8] ^= 1 << (inp.byte() % 8),
                _ => {
                    // Back to computed values.
                    m.len = None;
                    m.shards = None;
                    m.entries = None;
                    m.longest_key = None;
                    m.longest_value = None;
                }
            }
        }
        // A per-shard record's field. Lying about one shard's entries while
        // the total stays their sum reaches the index sizing of a load.
        2 | 3 => {
            let Some(m) = s.manifest.as_mut() else { return };
            let i = inp.index(m.per_shard.len());
            let Some(ps) = m.per_shard.get_mut(i) else { return };
            match inp.byte() % 3 {
                0 => ps.entries = Some(inp.number(200)),
                1 => ps.bytes = Some(inp.number(4096)),
                _ => ps.blocks = Some(inp.number(1)),
            }
        }
        // Per-shard records: fewer or more than the files.
        4 => {
            let Some(m) = s.manifest.as_mut() else { return };
            let k = inp.byte() as usize % 6;
            m.per_shard.resize(k, PerShard::default());
        }
        // A consistent change of generation: manifest, names and headers.
        5 => {
            let Some(m) = s.manifest.as_mut() else { return };
            let g = inp.number(m.generation);
            m.generation = g;
            for (i, f) in s.files.iter_mut().enumerate() {
                if let Some(f) = f {
                    f.name = data_file_name(g, i);
                    f.generation = g;
                }
            }
        }
        // Another shard count, every entry where that map would keep it.
        6 => {
            let a = inp.byte();
            reshape(s, 1 + a as usize % 4, &base.routes, a & 4 == 0);
        }
        // Duplicate an entry (same block, or another file's block: then
        // on the wrong shard, or a key twice across files).
        7 => {
            let Some((f, b, e)) = pick_entry(s, inp) else { return };
            let entry = block_mut(s, (f, b)).entries[e].clone();
            insert_somewhere(s, inp, entry, (f, b));
        }
        // Duplicate a block, within its file or into another.
        8 => {
            let Some((f, b)) = pick_block(s, inp) else { return };
            let block = block_mut(s, (f, b)).clone();
            let to = inp.index(s.files.len());
            if let Some(Some(file)) = s.files.get_mut(to) {
                let at = inp.index(file.blocks.len() + 1).min(file.blocks.len());
                file.blocks.insert(at, block);
            }
        }
        // Duplicate a file into another shard's place (or a new one),
        // its header saying the new shard or still the old.
        9 => {
            let from = inp.index(s.files.len());
            let to = inp.index(s.files.len() + 1);
            let keep_header = inp.byte() & 1 == 1;
            let Some(Some(mut f)) = s.files.get(from).cloned() else { return };
            let generation = s.manifest.as_ref().map_or(f.generation, |m| m.generation);
            f.name = data_file_name(generation, to);
            if !keep_header {
                f.shard = to as u32;
            }
            if to == s.files.len() {
                s.files.push(Some(f));
                if let Some(m) = s.manifest.as_mut() {
                    if m.per_shard.len() < s.files.len() {
                        m.per_shard.resize(s.files.len(), PerShard::default());
                    }
                }
            } else {
                s.files[to] = Some(f);
            }
        }
        // Drop an entry, a block, a file or the manifest.
        10 => {
            let Some((f, b, e)) = pick_entry(s, inp) else { return };
            block_mut(s, (f, b)).entries.remove(e);
        }
        11 => match inp.byte() % 4 {
            0 | 1 => {
                let Some((f, b)) = pick_block(s, inp) else { return };
                s.files[f].as_mut().unwrap().blocks.remove(b);
            }
            2 => {
                let f = inp.index(s.files.len());
                if let Some(slot) = s.files.get_mut(f) {
                    *slot = None;
                }
            }
            _ => s.manifest = None,
        },
        // Move an entry to another block or file.
        12 => {
            let Some((f, b, e)) = pick_entry(s, inp) else { return };
            let entry = block_mut(s, (f, b)).entries.remove(e);
            insert_somewhere(s, inp, entry, (f, b));
        }
        // Split a block at an entry, or merge it with the next.
        13 => {
            let Some((f, b)) = pick_block(s, inp) else { return };
            let file = s.files[f].as_mut().unwrap();
            if inp.byte() & 1 == 0 {
                let n = file.blocks[b].entries.len();
                let at = inp.index(n + 1).min(n);
                let rest = file.blocks[b].entries.split_off(at);
                file.blocks.insert(b + 1, Block { entries: rest, ..Block::default() });
            } else if b + 1 < file.blocks.len() {
                let next = file.blocks.remove(b + 1);
                file.blocks[b].entries.extend(next.entries);
            }
        }
        // A block's header: its payload length or entry count.
        14 | 15 => {
            let Some((f, b)) = pick_block(s, inp) else { return };
            let block = block_mut(s, (f, b));
            if inp.byte() & 1 == 0 {
                let size = (block.size() - BLOCK_HEADER) as u64;
                block.len = Some(inp.number(size));
            } else {
                let n = block.entries.len() as u64;
                block.count = Some(inp.number(n) as u32);
            }
        }
        // An entry's flags, key or value length (a lie), varint padding, deadline.
        16..=18 => {
            let Some((f, b, e)) = pick_entry(s, inp) else { return };
            let which = inp.byte();
            let entry = &mut block_mut(s, (f, b)).entries[e];
            match which % 6 {
                0 => entry.flags = [0, 1, 2, 3, 0x81, 0xff][inp.byte() as usize % 6],
                1 => entry.klen = Some(inp.number(entry.key.len() as u64)),
                2 => entry.vlen = Some(inp.number(entry.value.len() as u64)),
                3 => entry.kpad = inp.byte() % 6,
                4 => entry.vpad = inp.byte() % 6,
                _ => {
                    entry.deadline = inp.deadline(entry.deadline, now_ms);
                    entry.flags = if entry.deadline == 0 && inp.byte() & 1 == 0 { 0 } else { 1 };
                }
            }
        }
        // An entry's key or value bytes (lengths around the limits).
        19 | 20 => {
            let Some((f, b, e)) = pick_entry(s, inp) else { return };
            let which = inp.byte();
            let entry = &mut block_mut(s, (f, b)).entries[e];
            if which & 1 == 0 {
                entry.key = inp.blob(&entry.key);
            } else {
                entry.value = inp.blob(&entry.value);
            }
        }
        // A data file's header field.
        21 => {
            let f = inp.index(s.files.len());
            let Some(Some(file)) = s.files.get_mut(f) else { return };
            match inp.byte() % 5 {
                0 => file.magic[inp.byte() as usize % 8] ^= 1 << (inp.byte() % 8),
                1 => file.version = inp.number(u64::from(file.version)) as u32,
                2 => file.shard = inp.number(u64::from(file.shard)) as u32,
                3 => file.generation = inp.number(file.generation),
                _ => file.reserved = inp.number(0) as u32,
            }
        }
        // Junk inside a block's payload, or after the last block, or a block of no entries.
        22 => {
            let Some((f, b)) = pick_block(s, inp) else { return };
            let n = inp.byte() as usize % 40;
            let junk: Vec<u8> = (0..n).map(|_| inp.byte()).collect();
            let file = s.files[f].as_mut().unwrap();
            match inp.byte() % 3 {
                0 => file.blocks[b].junk = junk,
                1 => file.tail = junk,
                _ => file.blocks.insert(b, Block::default()),
            }
        }
        // A stray file: a data file of another generation, the manifest's
        // temporary name, or a directory where a data file should be.
        23 => {
            let Some(Some(f)) = s.files.first().cloned() else { return };
            let (bytes, _) = f.serialize();
            let stray = match inp.byte() % 3 {
                0 => data_file_name(f.generation.wrapping_add(1), 0),
                1 => "numashard.snapshot.tmp".to_owned(),
                _ => format!("{}.tmp", f.name),
            };
            s.strays.push((stray, bytes));
        }
        // Byte ops on the serialised files (0 = the manifest when there is one).
        op => {
            let t = inp.byte() as usize;
            let at = u32::from(inp.u16()) | u32::from(inp.byte()) << 16;
            p.byte_ops.push(match op % 8 {
                0 => ByteOp::Set(t, at, inp.byte()),
                1 => ByteOp::Xor(t, at, inp.byte().max(1)),
                2 => ByteOp::Put32(t, at, inp.number(0) as u32),
                3 => ByteOp::Put64(t, at, inp.number(0)),
                4 => ByteOp::Truncate(t, at),
                5 => ByteOp::Append(t, (0..inp.byte() % 64).map(|_| inp.byte()).collect()),
                6 => ByteOp::Insert(t, at, (0..inp.byte() % 16).map(|_| inp.byte()).collect()),
                _ => ByteOp::Remove(t, at, inp.u16() % 512),
            });
        }
    }
}

/// Applies byte ops to the serialised files (offsets wrap to the file's length).
fn apply_bytes(files: &mut [(String, Vec<u8>)], ops: &[ByteOp]) {
    if files.is_empty() {
        return;
    }
    let n = files.len();
    for op in ops {
        let (t, at) = match *op {
            ByteOp::Set(t, at, _)
            | ByteOp::Xor(t, at, _)
            | ByteOp::Put32(t, at, _)
            | ByteOp::Put64(t, at, _)
            | ByteOp::Truncate(t, at)
            | ByteOp::Insert(t, at, _)
            | ByteOp::Remove(t, at, _) => (t, at as usize),
            ByteOp::Append(t, _) => (t, 0),
        };
        let b = &mut files[t % n].1;
        let len = b.len();
        match op {
            ByteOp::Set(_, _, v) if len > 0 => b[at % len] = *v,
            ByteOp::Xor(_, _, v) if len > 0 => b[at % len] ^= *v,
            ByteOp::Put32(_, _, v) if len >= 4 => {
                let at = at % (len - 3);
                b[at..at + 4].copy_from_slice(&v.to_le_bytes());
            }
            ByteOp::Put64(_, _, v) if len >= 8 => {
                let at = at % (len - 7);
                b[at..at + 8].copy_from_slice(&v.to_le_bytes());
            }
            ByteOp::Truncate(..) => b.truncate(at % (len + 1)),
            ByteOp::Append(_, v) => b.extend_from_slice(v),
            ByteOp::Insert(_, _, v) => {
                let at = at % (len + 1);
                b.splice(at..at, v.iter().copied());
            }
            ByteOp::Remove(_, _, k) if len > 0 => {
                let at = at % len;
                b.drain(at..(at + *k as usize).min(len));
            }
            _ => {}
        }
    }
}

/// The fields of the files as written (for `NUMASHARD_FUZZ_SNAPSHOT_KEEP`).
fn describe(files: &[(String, Vec<u8>)]) -> String {
    let mut out = String::new();
    for (name, b) in files {
        out += &format!("  {name}: {} bytes", b.len());
        if name == MANIFEST && b.len() >= MANIFEST_FIXED {
            out += &format!(
                ", version {}, length {}, shards {}, flags {}, generation {:#x}, hash seed {:#x}, entries {}, \
                 max_key_len {}, max_value_len {}, longest key {}, longest value {}",
                le32(b, 8),
                le32(b, 12),
                le32(b, 16),
                le32(b, 20),
                le64(b, 24),
                le64(b, 40),
                le64(b, 48),
                le32(b, 56),
                le32(b, 60),
                le32(b, 64),
                le32(b, 68)
            );
            let mut at = MANIFEST_FIXED;
            while at + PER_SHARD <= b.len() && at < MANIFEST_FIXED + 8 * PER_SHARD {
                out += &format!(
                    "\n    per shard: entries {}, bytes {}, blocks {}",
                    le64(b, at),
                    le64(b, at + 8),
                    le64(b, at + 16)
                );
                at += PER_SHARD;
            }
        } else if b.len() >= DATA_HEADER {
            out += &format!(", version {}, shard {}, generation {:#x}", le32(b, 8), le32(b, 12), le64(b, 16));
            let mut at = DATA_HEADER;
            let mut shown = 0;
            while b.len() - at.min(b.len()) >= BLOCK_HEADER && shown < 16 {
                out += &format!("\n    block at {at}: payload {} bytes, {} entries", le64(b, at), le32(b, at + 8));
                let next = (at + BLOCK_HEADER).saturating_add(le64(b, at).min(usize::MAX as u64 / 2) as usize);
                at = next;
                shown += 1;
            }
        }
        out.push('\n');
    }
    out
}

// ---------------------------------------------------------------------------
// The loading map's config.

/// The config an input's first byte chooses, and what it says.
struct Load {
    cfg: ns_config,
    /// Same shard count and seed as the snapshot (each file read by its shard).
    same_layout: bool,
    limited: bool,
}

fn load_config(c: u8, d: u8) -> Load {
    let (shards, seed) = match c & 3 {
        0 => (BASE_SHARDS, BASE_SEED),
        1 => (1, BASE_SEED),
        2 => (3, BASE_SEED),
        _ => (BASE_SHARDS, BASE_SEED ^ 0x9e37_79b9_7f4a_7c15),
    };
    let mut cfg = config(shards, seed);
    if c & 4 != 0 {
        cfg.topology = c"pack:2 [numa] core:1 pu:1".as_ptr();
    }
    match (c >> 3) & 3 {
        0 => {}
        1 => (cfg.max_key_len, cfg.max_value_len) = (BASE_LONGEST_KEY, BASE_LONGEST_VALUE),
        2 => (cfg.max_key_len, cfg.max_value_len) = (BASE_LONGEST_KEY - 1, BASE_LONGEST_VALUE - 1),
        _ => (cfg.max_key_len, cfg.max_value_len) = (1 << 20, 16 << 20),
    }
    match (c >> 5) & 3 {
        0 => {}
        1 => cfg.memory_limit = 4 << 20,
        2 => cfg.memory_limit = 16 << 10,
        _ => {
            cfg.memory_limit = 256 << 10;
            cfg.eviction = ns_eviction::NS_EVICTION_S3FIFO as i32;
        }
    }
    if c & 0x80 != 0 {
        cfg.default_ttl_ms = 3_600_000;
    }
    if d & 8 != 0 && cfg.memory_limit == 0 {
        // An index sized up front, and small records placed by hash in
        // lines sized from it (a different insert path for loaded entries).
        cfg.initial_capacity = 1000;
        cfg.place_records_by_hash = d & 0x20 != 0;
    }
    Load { same_layout: (shards, seed) == (BASE_SHARDS, BASE_SEED), limited: cfg.memory_limit != 0, cfg }
}

// ---------------------------------------------------------------------------
// Counts, printed as the run goes and at exit.

#[derive(Default)]
struct Stats {
    inputs: u64,
    /// Per status, per whether the loading map had the snapshot's layout.
    by_status: BTreeMap<(String, bool), u64>,
    /// Distinct failure reasons (digits and file names folded).
    reasons: HashMap<String, u64>,
    /// Inputs whose byte ops ran, or whose checksums were left as the ops made them.
    byte_ops: u64,
    crc_left: u64,
    /// Successful loads of other than the saved number of entries
    /// (entries dropped, duplicated, expired), round trips, volatile inputs.
    other_count: u64,
    round_trips: u64,
    volatile: u64,
    /// The largest growth of the peak RSS over one input, MiB.
    peak_growth_mb: u64,
    /// The input that grew it most (written at exit to
    /// `$NUMASHARD_FUZZ_ARTIFACTS/peak-rss-input` when that is set).
    peak_input: Vec<u8>,
    /// Inputs skipped as known findings (`NUMASHARD_FUZZ_SNAPSHOT_SKIP`).
    skipped: BTreeMap<&'static str, u64>,
}

static STATS: Mutex<Option<Stats>> = Mutex::new(None);

/// A failure's reason with its numbers and file names folded, so that
/// reasons group.
fn fold_reason(msg: &str) -> String {
    let mut out = String::new();
    for word in msg.split(' ') {
        if !out.is_empty() {
            out.push(' ');
        }
        if word.starts_with("shard-") {
            out.push_str("<file>");
            if word.ends_with(':') {
                out.push(':');
            }
        } else if word.contains('/') {
            out.push_str("<path>");
        } else {
            let mut digits = false;
            for ch in word.chars() {
                if ch.is_ascii_digit() {
                    if !digits {
                        out.push('N');
                    }
                    digits = true;
                } else {
                    out.push(ch);
                    digits = false;
                }
            }
        }
    }
    out
}

fn print_stats(s: &Stats) {
    let ok: u64 = s.by_status.iter().filter(|((n, _), _)| n == "NS_OK").map(|(_, c)| c).sum();
    eprintln!(
        "snapshot: {} inputs, {} loaded ({} of other than the saved entry count, {} round trips, {} volatile); \
         {} with byte ops, {} with checksums left unfixed; peak RSS growth of one input {} MiB",
        s.inputs, ok, s.other_count, s.round_trips, s.volatile, s.byte_ops, s.crc_left, s.peak_growth_mb
    );
    for (known, n) in &s.skipped {
        eprintln!("snapshot:   skipped as the known finding {known}: {n}");
    }
    for ((status, same), n) in &s.by_status {
        let layout = if *same { "same layout" } else { "re-routed" };
        eprintln!("snapshot:   {status:<26} {layout:<12} {n}");
    }
    let mut reasons: Vec<_> = s.reasons.iter().collect();
    reasons.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
    for (r, n) in reasons.iter().take(40) {
        eprintln!("snapshot:   {n:>9}  {r}");
    }
    if reasons.len() > 40 {
        eprintln!("snapshot:   ... {} more distinct reasons", reasons.len() - 40);
    }
}

extern "C" {
    /// The C library's `atexit` (libFuzzer ends a timed run with `exit`).
    fn atexit(handler: extern "C" fn()) -> std::ffi::c_int;
}

/// Prints the counts and removes the scratch directory.
extern "C" fn at_exit() {
    if let Some(s) = STATS.lock().unwrap_or_else(|e| e.into_inner()).as_ref() {
        eprintln!("snapshot: final counts");
        print_stats(s);
        if let Some(dir) = std::env::var_os("NUMASHARD_FUZZ_ARTIFACTS").filter(|v| !v.is_empty()) {
            let path = Path::new(&dir).join("peak-rss-input");
            if std::fs::write(&path, &s.peak_input).is_ok() {
                eprintln!(
                    "snapshot: the input of the largest peak RSS growth ({} MiB) is {}",
                    s.peak_growth_mb,
                    path.display()
                );
            }
        }
    }
    if let Some(b) = BASE_ROOT.get() {
        let _ = std::fs::remove_dir_all(b);
    }
}

static BASE_ROOT: OnceLock<PathBuf> = OnceLock::new();

// ---------------------------------------------------------------------------
// Memory: the growth of the peak RSS over one input.

/// Resets the peak RSS (VmHWM) to the current RSS; false where the kernel
/// or a sandbox refuses.
fn reset_peak_rss() -> bool {
    std::fs::write("/proc/self/clear_refs", "5").is_ok()
}

/// (VmRSS, VmHWM) in KiB.
fn rss_kib() -> (u64, u64) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap_or(0u64)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

/// The known finding `NUMASHARD_FUZZ_SNAPSHOT_SKIP` (comma-separated
/// names) says to skip the input for, if it is one: to look past findings
/// that are known and not fixed yet. `entries-sum`: the manifest's
/// per-shard entry counts add up past `u64::MAX`; `capacity`: the room a
/// re-routing load reserves per shard (entries / n + entries / n / 16 + 64)
/// passes `u64::MAX`; `claims`: the manifest claims more entries (per shard
/// or in all) than the bytes it names can hold (3 bytes per entry at least),
/// which covers the two others and every up-front sizing from a lie.
fn known_finding(files: &[(String, Vec<u8>)], load: &Load) -> Option<&'static str> {
    static SKIP: OnceLock<Vec<String>> = OnceLock::new();
    let skip = SKIP.get_or_init(|| {
        let v = std::env::var("NUMASHARD_FUZZ_SNAPSHOT_SKIP").unwrap_or_default();
        v.split(',').map(|n| n.trim().to_owned()).filter(|n| !n.is_empty()).collect()
    });
    if skip.is_empty() {
        return None;
    }
    let (_, m) = files.iter().find(|(n, _)| n == MANIFEST)?;
    if m.len() < MANIFEST_FIXED + 4 {
        return None;
    }
    let on = |name: &str| skip.iter().any(|s| s == name);
    let records: Vec<(u64, u64)> = (0..(m.len() - MANIFEST_FIXED - 4) / PER_SHARD)
        .map(|i| (le64(m, MANIFEST_FIXED + PER_SHARD * i), le64(m, MANIFEST_FIXED + PER_SHARD * i + 8)))
        .collect();
    let sum = records.iter().try_fold(0u64, |t, r| t.checked_add(r.0));
    if on("entries-sum") && sum.is_none() {
        return Some("entries-sum");
    }
    let entries = le64(m, 48);
    let n = u64::from(load.cfg.shards.max(1));
    if on("capacity") && (entries / n).checked_add(entries / n / 16).and_then(|v| v.checked_add(64)).is_none() {
        return Some("capacity");
    }
    let bytes = records.iter().fold(0u64, |t, r| t.saturating_add(r.1));
    let over = |claimed: u64, bytes: u64| claimed.saturating_mul(3) > bytes;
    if on("claims") && (sum.is_none() || over(entries, bytes) || records.iter().any(|r| over(r.0, r.1))) {
        return Some("claims");
    }
    None
}

/// Statuses `NUMASHARD_FUZZ_SNAPSHOT_ALLOW` (comma-separated names, e.g.
/// `NS_ERR_RESOURCE`) says to count instead of reporting: to look for other
/// findings while one is known and not fixed yet.
fn allowed(s: ns_status) -> bool {
    static ALLOW: OnceLock<Vec<String>> = OnceLock::new();
    let allow = ALLOW.get_or_init(|| {
        let v = std::env::var("NUMASHARD_FUZZ_SNAPSHOT_ALLOW").unwrap_or_default();
        v.split(',').map(|n| n.trim().to_owned()).filter(|n| !n.is_empty()).collect()
    });
    allow.contains(&name(s))
}

fn rss_budget_mb() -> u64 {
    static MB: OnceLock<u64> = OnceLock::new();
    *MB.get_or_init(|| {
        std::env::var("NUMASHARD_FUZZ_SNAPSHOT_RSS_MB")
            .ok()
            .filter(|v| !v.is_empty())
            .map_or(128, |v| v.parse().expect("NUMASHARD_FUZZ_SNAPSHOT_RSS_MB: a number"))
    })
}

// ---------------------------------------------------------------------------
// Checking a loaded map.

fn now_unix_ms() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as u64
}

fn len_of(m: *mut ns_map) -> u64 {
    let mut n = 0u64;
    // SAFETY: a live map, a writable output.
    assert_eq!(unsafe { ns_len(m, &mut n) }, ns_status::NS_OK);
    n
}

/// Every entry iteration returns (each once), by `ns_iter_next` or by
/// `ns_iter_next_many` into a buffer of `cap` bytes (0 = one at a time).
fn iterate(m: *mut ns_map, cap: usize) -> BTreeMap<Vec<u8>, Vec<u8>> {
    let mut seen = BTreeMap::new();
    let mut it = null_mut();
    // SAFETY: a live map, valid outputs and buffers of the stated sizes;
    // entries are copied out before the next call; the iterator is freed once.
    unsafe {
        assert_eq!(ns_iter_new(m, &mut it), ns_status::NS_OK);
        let mut buf = vec![0u8; cap];
        loop {
            if cap == 0 {
                let (mut k, mut kl, mut v, mut vl) = (null(), 0usize, null(), 0usize);
                match ns_iter_next(it, &mut k, &mut kl, &mut v, &mut vl) {
                    ns_status::NS_OK => {
                        let key = std::slice::from_raw_parts(k, kl).to_vec();
                        let val = std::slice::from_raw_parts(v, vl).to_vec();
                        assert!(seen.insert(key, val).is_none(), "iteration returned a key twice");
                    }
                    s => {
                        assert_eq!(s, ns_status::NS_NOT_FOUND);
                        break;
                    }
                }
                continue;
            }
            let (mut n, mut used) = (0usize, 0usize);
            let s = ns_iter_next_many(it, buf.as_mut_ptr(), buf.len(), &mut n, &mut used);
            match s {
                ns_status::NS_OK => {
                    let mut b = &buf[..used];
                    for _ in 0..n {
                        let kl = le32(b, 0) as usize;
                        let vl = le32(b, 4) as usize;
                        let (k, rest) = b[NS_ITER_ENTRY_HEADER_SIZE..].split_at(kl);
                        let (v, rest) = rest.split_at(vl);
                        assert!(seen.insert(k.to_vec(), v.to_vec()).is_none(), "iteration returned a key twice");
                        b = rest;
                    }
                    assert!(b.is_empty(), "bytes past the last entry");
                }
                ns_status::NS_BUFFER_TOO_SMALL => buf.resize(used, 0),
                s => {
                    assert_eq!(s, ns_status::NS_NOT_FOUND);
                    break;
                }
            }
        }
        ns_iter_free(it);
    }
    seen
}

/// What the data files hold: per key and value, the deadlines written
/// for it (0 = none).
type Held = HashMap<(Vec<u8>, Vec<u8>), Vec<u64>>;

/// A varint as the loader reads it: at most 5 bytes, at most `u32::MAX`.
fn read_varint(b: &[u8], mut at: usize) -> Option<(usize, usize)> {
    let mut v = 0u64;
    for shift in (0..35).step_by(7) {
        let byte = *b.get(at)?;
        at += 1;
        v |= u64::from(byte & 0x7f) << shift;
        if byte & 0x80 == 0 {
            return (v <= u64::from(u32::MAX)).then_some((v as usize, at));
        }
    }
    None
}

/// Every entry of every data file (by name) that parses as the loader
/// parses them, block by block by the blocks' own lengths and counts,
/// whatever the manifest and the checksums say: a superset of what a
/// successful load can hold, from the bytes as written (byte ops included).
fn held_entries(files: &[(String, Vec<u8>)]) -> Held {
    let mut held = Held::new();
    for (name, b) in files {
        if !name.starts_with("shard-") || !name.ends_with(".nss") {
            continue;
        }
        let mut at = DATA_HEADER;
        while b.len() >= BLOCK_HEADER && at <= b.len() - BLOCK_HEADER {
            let len = le64(b, at);
            let count = le32(b, at + 8);
            if len > (b.len() - at - BLOCK_HEADER) as u64 {
                break;
            }
            let p = &b[at + BLOCK_HEADER..at + BLOCK_HEADER + len as usize];
            let mut e = 0;
            for _ in 0..count {
                let Some(&flags) = p.get(e) else { break };
                let Some((k, next)) = read_varint(p, e + 1) else { break };
                let Some((v, mut next)) = read_varint(p, next) else { break };
                let mut deadline = 0;
                if flags == 1 {
                    let Some(d) = p.get(next..next + 8) else { break };
                    deadline = u64::from_le_bytes(d.try_into().unwrap());
                    next += 8;
                }
                if flags > 1 || (flags == 1 && deadline == 0) || p.len() - next < k + v {
                    break;
                }
                let kv = (p[next..next + k].to_vec(), p[next + k..next + k + v].to_vec());
                held.entry(kv).or_default().push(deadline);
                e = next + k + v;
            }
            at += BLOCK_HEADER + len as usize;
        }
    }
    held
}

/// After a load that succeeded into a map without eviction: the data files
/// its manifest names held no key twice among entries alive at the load (a
/// save writes each key once, and a load refuses a key it reads twice
/// rather than keep one of the values). Entries within a minute of their
/// deadline are left out: the load may have found them expired. (A cache
/// that evicted the first copy before it read the second cannot tell.)
fn assert_no_key_twice(files: &[(String, Vec<u8>)]) {
    let Some((_, m)) = files.iter().find(|(name, _)| name == MANIFEST) else {
        panic!("a load succeeded without a manifest");
    };
    let (shards, generation) = (le32(m, 16) as usize, le64(m, 24));
    let named: Vec<String> = (0..shards).map(|i| data_file_name(generation, i)).collect();
    let read: Vec<(String, Vec<u8>)> = files.iter().filter(|(name, _)| named.contains(name)).cloned().collect();
    let alive_after = now_unix_ms() + 60_000;
    let mut copies: HashMap<&[u8], usize> = HashMap::new();
    let held = held_entries(&read);
    for ((k, _), deadlines) in &held {
        *copies.entry(k).or_default() += deadlines.iter().filter(|&&d| d == 0 || d > alive_after).count();
    }
    if let Some((k, n)) = copies.iter().find(|&(_, &n)| n > 1) {
        panic!("a load succeeded from files that hold a key of {} bytes {n} times", k.len());
    }
}

/// Checks a loaded map (see the module docs); returns whether the checks
/// were exact (false: an entry expired meanwhile), and its contents.
fn check_loaded(m: *mut ns_map, load: &Load, held: &Held, cap: usize) -> (bool, BTreeMap<Vec<u8>, Vec<u8>>) {
    let len0 = len_of(m);
    let seen = iterate(m, cap);
    let now = now_unix_ms();
    let mut missing = 0;
    let mut wrong_ttl = Vec::new();
    for (k, v) in &seen {
        assert!(
            k.len() <= load.cfg.max_key_len,
            "a loaded key of {} bytes; max_key_len {}",
            k.len(),
            load.cfg.max_key_len
        );
        assert!(v.len() <= load.cfg.max_value_len, "a loaded value of {} bytes", v.len());
        let mut buf = vec![0u8; v.len()];
        let mut len = usize::MAX;
        let mut ttl = 0i64;
        // SAFETY: a live map, valid buffers of the stated lengths.
        let (s, t) = unsafe {
            let bp = if buf.is_empty() { null_mut() } else { buf.as_mut_ptr() };
            (ns_get(m, key_ptr(k), k.len(), bp, buf.len(), &mut len), ns_ttl(m, key_ptr(k), k.len(), &mut ttl))
        };
        if s == ns_status::NS_NOT_FOUND || t == ns_status::NS_NOT_FOUND {
            missing += 1;
            continue;
        }
        assert_eq!((s, t), (ns_status::NS_OK, ns_status::NS_OK), "reading back a loaded key");
        assert_eq!(len, v.len(), "a loaded value's length differs from iteration's");
        assert!(buf == *v, "a loaded value differs from iteration's");
        let Some(deadlines) = held.get(&(k.clone(), v.clone())) else {
            panic!("loaded an entry no file holds (key of {} bytes, value of {})", k.len(), v.len());
        };
        // The time to live must match one of the deadlines written for it:
        // none (-1), or the deadline less now, capped at i64::MAX ns.
        let fits = deadlines.iter().any(|&d| {
            if d == 0 {
                return ttl == -1;
            }
            let want = d.saturating_sub(now).min(i64::MAX as u64 / 1_000_000) as i64;
            ttl >= 0 && (ttl - want).abs() <= 10_000
        });
        if !fits {
            wrong_ttl.push((ttl, deadlines.clone()));
        }
    }
    let len1 = len_of(m);
    if len0 != len1 {
        return (false, seen);
    }
    assert_eq!(missing, 0, "iterated entries that read back as absent");
    assert_eq!(len0 as usize, seen.len(), "ns_len differs from the entries iteration returns");
    assert!(
        wrong_ttl.is_empty(),
        "loaded times to live match no deadline in the files (ttl ms, deadlines ms): {wrong_ttl:?}"
    );
    (true, seen)
}

/// Saves the loaded map and opens the save again: the same contents.
fn round_trip(m: *mut ns_map, load: &Load, dir: &Path, before: &BTreeMap<Vec<u8>, Vec<u8>>) {
    let cdir = CString::new(dir.as_os_str().as_encoded_bytes()).unwrap();
    let mut report = ns_save_report::default();
    let mut msg = [0 as c_char; 256];
    // SAFETY: a live map, a NUL-terminated path, writable outputs of the stated sizes.
    let s = unsafe { ns_map_save(m, cdir.as_ptr(), &mut report, msg.as_mut_ptr(), msg.len()) };
    assert_eq!(s, ns_status::NS_OK, "saving a loaded map");
    let mut m2 = null_mut();
    // SAFETY: a valid config, path and outputs.
    let s = unsafe { ns_map_open_snapshot(&load.cfg, cdir.as_ptr(), &mut m2, msg.as_mut_ptr(), msg.len()) };
    if s == ns_status::NS_ERR_FULL && load.limited {
        return;
    }
    assert_eq!(s, ns_status::NS_OK, "reopening the save of a loaded map");
    let after = iterate(m2, 0);
    // SAFETY: a live map, freed once.
    unsafe {
        assert_eq!(ns_map_close(m2), ns_status::NS_OK);
        ns_map_free(m2);
    }
    if !load.limited {
        assert!(
            after == *before,
            "a loaded map saved and reopened differs ({} vs {} entries)",
            after.len(),
            before.len()
        );
    }
}

// ---------------------------------------------------------------------------

fuzz_target!(|data: &[u8]| {
    static INIT: std::sync::Once = std::sync::Once::new();
    INIT.call_once(|| {
        let _ = BASE_ROOT.set(base().root.clone());
        *STATS.lock().unwrap() = Some(Stats::default());
        // SAFETY: registers a handler with no preconditions.
        assert_eq!(unsafe { atexit(at_exit) }, 0, "atexit refused the handler");
    });
    let base = base();
    let mut inp = Input { data, pos: 0 };
    let (c, d) = (inp.byte(), inp.byte());
    let load = load_config(c, d);
    // Checksums are recomputed after byte ops unless these bits say not to
    // (the serialiser writes right ones for the structural changes).
    let fix_crcs_after = d & 0x41 != 0x41;
    let now_ms = now_unix_ms();

    // The program.
    let mut snap = base.snapshot.clone();
    let mut prog = Program::default();
    let mut ops = 0;
    while !inp.done() {
        apply(&mut snap, &mut prog, &mut inp, base, now_ms);
        ops += 1;
    }
    let mut files = snap.serialize();
    // One file per name (a stray may take a data file's name: the first stays).
    let mut names = std::collections::HashSet::new();
    files.retain(|(name, _)| names.insert(name.clone()));
    apply_bytes(&mut files, &prog.byte_ops);
    if fix_crcs_after && !prog.byte_ops.is_empty() {
        for (name, b) in files.iter_mut() {
            fix_crcs(name, b);
        }
    }
    let total_bytes: usize = files.iter().map(|(_, b)| b.len()).sum();
    if let Some(known) = known_finding(&files, &load) {
        *STATS.lock().unwrap().as_mut().unwrap().skipped.entry(known).or_default() += 1;
        return;
    }

    // A fresh directory with the files.
    static N: AtomicU64 = AtomicU64::new(0);
    let dir = base.root.join(format!("in-{}", N.fetch_add(1, Relaxed)));
    std::fs::create_dir(&dir).expect("create an input directory");
    for (name, b) in &files {
        if name.ends_with(".tmp") && name.starts_with("shard-") && b.len() % 2 == 1 {
            // A directory in a stray's place (the loader must ignore it too).
            std::fs::create_dir(dir.join(name)).expect("create a stray directory");
        } else {
            std::fs::write(dir.join(name), b).expect("write a snapshot file");
        }
    }
    let cdir = CString::new(dir.as_os_str().as_encoded_bytes()).unwrap();
    if let Some(keep) = std::env::var_os("NUMASHARD_FUZZ_SNAPSHOT_KEEP").filter(|v| !v.is_empty()) {
        // A copy of the input's snapshot, to replay with any client.
        let keep = Path::new(&keep);
        let _ = std::fs::remove_dir_all(keep);
        std::fs::create_dir_all(keep).expect("create NUMASHARD_FUZZ_SNAPSHOT_KEEP");
        for (name, b) in &files {
            std::fs::write(keep.join(name), b).expect("keep a snapshot file");
        }
        eprintln!("snapshot: config byte {c:#04x} (shards {}, seed {:#x}, max_key_len {}, max_value_len {}, memory_limit {}, eviction {}, default_ttl_ms {}), switches {d:#04x}; files kept in {}:\n{}",
            load.cfg.shards, load.cfg.hash_seed, load.cfg.max_key_len, load.cfg.max_value_len, load.cfg.memory_limit,
            load.cfg.eviction, load.cfg.default_ttl_ms, keep.display(), describe(&files));
    }

    // The load.
    let measure = reset_peak_rss();
    let (rss0, _) = rss_kib();
    let sentinel = std::ptr::NonNull::<ns_map>::dangling().as_ptr();
    let mut out = sentinel;
    let mut msg = [0x55 as c_char; 512];
    // SAFETY: a valid config (its topology string is static), a
    // NUL-terminated path, a writable output and a message buffer of the stated size.
    let s = unsafe { ns_map_open_snapshot(&load.cfg, cdir.as_ptr(), &mut out, msg.as_mut_ptr(), msg.len()) };
    let text = {
        let nul = msg.iter().position(|&c| c == 0).expect("the message is NUL-terminated");
        String::from_utf8_lossy(&msg[..nul].iter().map(|&c| c as u8).collect::<Vec<_>>()).into_owned()
    };
    // The load changes no file of the snapshot.
    for (name, b) in &files {
        let p = dir.join(name);
        if p.is_file() {
            assert!(std::fs::read(&p).ok().as_deref() == Some(&b[..]), "the load changed {name}");
        }
    }
    let present = std::fs::read_dir(&dir).expect("list the input directory").count();
    assert_eq!(present, files.len(), "the load added or removed files");

    let mut exact = true;
    let mut loaded = 0;
    match s {
        ns_status::NS_OK => {
            assert!(out != sentinel && !out.is_null(), "NS_OK without a map");
            assert!(text.is_empty(), "NS_OK with a message: {text}");
            let cap = if d & 4 != 0 { 64 } else { 0 };
            // Every entry the data files hold, as the loader would parse them.
            let held = held_entries(&files);
            if load.cfg.eviction == ns_eviction::NS_EVICTION_NONE as i32 {
                assert_no_key_twice(&files);
            }
            let (was_exact, seen) = check_loaded(out, &load, &held, cap);
            (exact, loaded) = (was_exact, seen.len());
            if ops == 0 && exact && !load.limited {
                assert!(seen == base.contents, "the unchanged snapshot loads other contents");
            }
            if d & 0x12 == 0x12 && exact {
                round_trip(out, &load, &dir.join("again"), &seen);
                STATS.lock().unwrap().as_mut().unwrap().round_trips += 1;
            }
            // SAFETY: a live map, freed once.
            unsafe {
                assert_eq!(ns_map_close(out), ns_status::NS_OK);
                ns_map_free(out);
            }
        }
        ns_status::NS_ERR_NO_SNAPSHOT
        | ns_status::NS_ERR_NOT_A_SNAPSHOT
        | ns_status::NS_ERR_SNAPSHOT_VERSION
        | ns_status::NS_ERR_SNAPSHOT_CORRUPT
        | ns_status::NS_ERR_IO
        | ns_status::NS_ERR_KEY_TOO_LARGE
        | ns_status::NS_ERR_VALUE_TOO_LARGE
        | ns_status::NS_ERR_FULL
        | ns_status::NS_ERR_INVALID_ARGUMENT => {
            assert!(out == sentinel, "*out written on {s:?}");
            assert!(!text.is_empty(), "{s:?} without a message");
            if s == ns_status::NS_ERR_INVALID_ARGUMENT {
                // SAFETY: a valid config.
                let check = unsafe { ns_config_check(&load.cfg) };
                assert_eq!(check, s, "NS_ERR_INVALID_ARGUMENT for a config ns_config_check accepts: {text}");
            }
            if s == ns_status::NS_ERR_FULL {
                assert!(load.limited, "NS_ERR_FULL without a memory limit: {text}");
            }
        }
        other if allowed(other) => assert!(out == sentinel, "*out written on {other:?}"),
        other => panic!(
            "ns_map_open_snapshot answered {other:?} ({text}) to a snapshot of {total_bytes} bytes: \
             no snapshot or argument status"
        ),
    }

    // Memory: the growth of the peak RSS over the input.
    let growth_mb = if measure { rss_kib().1.saturating_sub(rss0) / 1024 } else { 0 };
    let allowed_mb = rss_budget_mb() + 16 * total_bytes as u64 / (1 << 20);
    assert!(
        growth_mb <= allowed_mb,
        "the load of a {total_bytes}-byte snapshot grew the peak RSS by {growth_mb} MiB (allowed {allowed_mb}); \
         status {s:?} {text}"
    );

    let _ = std::fs::remove_dir_all(&dir);

    // Counts.
    let mut guard = STATS.lock().unwrap();
    let st = guard.as_mut().unwrap();
    st.inputs += 1;
    *st.by_status.entry((name(s), load.same_layout)).or_default() += 1;
    if s != ns_status::NS_OK {
        *st.reasons.entry(format!("{}: {}", name(s), fold_reason(&text))).or_default() += 1;
    }
    st.byte_ops += u64::from(!prog.byte_ops.is_empty());
    st.crc_left += u64::from(!fix_crcs_after);
    st.volatile += u64::from(!exact);
    if s == ns_status::NS_OK {
        st.other_count += u64::from(loaded != base.contents.len());
    }
    if growth_mb > st.peak_growth_mb {
        st.peak_growth_mb = growth_mb;
        st.peak_input = data.to_vec();
    }
    if st.inputs >= 4096 && st.inputs.is_power_of_two() {
        print_stats(st);
    }
});
