//! The snapshot format (version 1), all integers little-endian.
//!
//! A snapshot is a directory holding one manifest, `numashard.snapshot`,
//! and one data file per saved shard, `shard-<generation>-<shard>.nss`
//! (generation as 16 hex digits, shard as 4 decimal digits).
//!
//! Manifest (self-describing, checksummed as a whole):
//! ```text
//!  0  magic "NSSNAPMF"      8 bytes
//!  8  version               u32 (1)
//! 12  manifest length       u32 (every byte, checksum included)
//! 16  shards                u32 (data files, = shard count of the saving map)
//! 20  flags                 u32 (0; a load refuses any other: SnapshotVersion)
//! 24  generation            u64 (names the data files)
//! 32  created               u64 (ms since the Unix epoch)
//! 40  hash seed             u64 (of the saving map: same seed and shard count
//!                                = entries already on their shard)
//! 48  entries               u64
//! 56  max_key_len           u32 (limits of the saving map)
//! 60  max_value_len         u32
//! 64  longest key           u32 (longest key and value actually stored)
//! 68  longest value         u32
//! 72  per shard: entries u64, file bytes u64, blocks u64
//!  …  crc32c                u32 of every byte before it
//! ```
//! Data file: a 32-byte header, then blocks.
//! ```text
//!  0  magic "NSSNAPSD"      8 bytes
//!  8  version               u32 (1)
//! 12  shard                 u32
//! 16  generation            u64
//! 24  crc32c                u32 of bytes 0..24
//! 28  reserved              u32 (0; a load refuses any other)
//! ```
//! Block: `payload length u64, entries u32, crc32c u32` (the checksum covers
//! the first 12 header bytes and the payload), then the payload: per entry
//! `flags u8 (bit 0: has a deadline), key length, value length (LEB128
//! varints), [expiry deadline u64, ms since the Unix epoch, when flagged;
//! absent = never], key, value` (3 bytes of header for short entries). A block holds about [`BLOCK_TARGET`]
//! bytes, or one larger entry.

use super::crc::crc32c;
use crate::error::{Error, Result, Status};
use std::fs::File;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

/// The manifest's file name: the one file a load starts from, replaced
/// atomically (rename) by a complete save.
pub const MANIFEST: &str = "numashard.snapshot";
pub(crate) const MANIFEST_TMP: &str = "numashard.snapshot.tmp";
/// The file a saver holds an exclusive `flock` on (one save per directory).
pub(crate) const LOCK_FILE: &str = "numashard.snapshot.lock";
/// The format version this build writes and reads.
pub const FORMAT_VERSION: u32 = 1;

const MANIFEST_MAGIC: [u8; 8] = *b"NSSNAPMF";
const DATA_MAGIC: [u8; 8] = *b"NSSNAPSD";
const MANIFEST_FIXED: usize = 72;
const PER_SHARD: usize = 24;
pub(crate) const DATA_HEADER: usize = 32;
pub(crate) const BLOCK_HEADER: usize = 16;
/// Payload bytes after which a block is closed.
pub(crate) const BLOCK_TARGET: usize = 256 * 1024;
/// Most shards a manifest may describe (bounds what a corrupt one allocates).
const MAX_FILE_SHARDS: u32 = 1 << 16;

/// The fewest bytes an entry takes in a block: its flags and two one-byte
/// lengths (an empty key and value).
const MIN_ENTRY_BYTES: u64 = 3;

/// One shard file as the manifest describes it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ShardFile {
    /// Entries in the file.
    pub entries: u64,
    /// The file's length in bytes.
    pub bytes: u64,
    /// Blocks in the file.
    pub blocks: u64,
}

impl ShardFile {
    /// Whether its entries and blocks can fit its bytes: a data header,
    /// a header per block, at least [`MIN_ENTRY_BYTES`] per entry.
    fn fits(&self) -> bool {
        let room = self
            .bytes
            .checked_sub(DATA_HEADER as u64)
            .and_then(|r| r.checked_sub(self.blocks.checked_mul(BLOCK_HEADER as u64)?));
        room.is_some_and(|r| self.entries <= r / MIN_ENTRY_BYTES)
    }
}

/// What a snapshot's manifest says (see [`crate::snapshot::inspect`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Manifest {
    /// Format version.
    pub version: u32,
    /// Increases with every save into the directory; names the data files.
    pub generation: u64,
    /// When the save started, ms since the Unix epoch.
    pub created_unix_ms: u64,
    /// Hash seed of the map that saved it.
    pub hash_seed: u64,
    /// Entries in the snapshot.
    pub entries: u64,
    /// `max_key_len` of the map that saved it.
    pub max_key_len: u32,
    /// `max_value_len` of the map that saved it.
    pub max_value_len: u32,
    /// Longest key stored.
    pub longest_key: u32,
    /// Longest value stored.
    pub longest_value: u32,
    /// One data file per shard of the saving map.
    pub shards: Vec<ShardFile>,
}

impl Manifest {
    /// Bytes on disk of the manifest and every data file.
    pub fn total_bytes(&self) -> u64 {
        self.encode().len() as u64 + self.shards.iter().map(|s| s.bytes).sum::<u64>()
    }

    pub(crate) fn encode(&self) -> Vec<u8> {
        let len = MANIFEST_FIXED + PER_SHARD * self.shards.len() + 4;
        let mut b = Vec::with_capacity(len);
        b.extend_from_slice(&MANIFEST_MAGIC);
        put32(&mut b, self.version);
        put32(&mut b, len as u32);
        put32(&mut b, self.shards.len() as u32);
        put32(&mut b, 0);
        put64(&mut b, self.generation);
        put64(&mut b, self.created_unix_ms);
        put64(&mut b, self.hash_seed);
        put64(&mut b, self.entries);
        put32(&mut b, self.max_key_len);
        put32(&mut b, self.max_value_len);
        put32(&mut b, self.longest_key);
        put32(&mut b, self.longest_value);
        for s in &self.shards {
            put64(&mut b, s.entries);
            put64(&mut b, s.bytes);
            put64(&mut b, s.blocks);
        }
        let crc = crc32c(0, &b);
        put32(&mut b, crc);
        debug_assert_eq!(b.len(), len);
        b
    }

    /// Parses and checks a manifest's bytes.
    pub(crate) fn decode(b: &[u8]) -> Result<Manifest> {
        if b.len() < 8 || b[..8] != MANIFEST_MAGIC {
            return Err(Error::with_detail(Status::NotASnapshot, format!("{MANIFEST}: no numashard snapshot magic")));
        }
        let corrupt = |why: &str| Error::with_detail(Status::SnapshotCorrupt, format!("{MANIFEST}: {why}"));
        if b.len() < MANIFEST_FIXED + 4 {
            return Err(corrupt("truncated"));
        }
        let version = get32(b, 8);
        if version != FORMAT_VERSION {
            return Err(Error::with_detail(
                Status::SnapshotVersion,
                format!("{MANIFEST}: format version {version}; this build reads version {FORMAT_VERSION}"),
            ));
        }
        let len = get32(b, 12) as usize;
        let shards = get32(b, 16);
        if len != b.len()
            || shards == 0
            || shards > MAX_FILE_SHARDS
            || len != MANIFEST_FIXED + PER_SHARD * shards as usize + 4
        {
            return Err(corrupt("length does not match its shard count (truncated or damaged)"));
        }
        if crc32c(0, &b[..len - 4]) != get32(b, len - 4) {
            return Err(corrupt("checksum mismatch"));
        }
        // Version 1 defines no flag: a set one, under a checksum that holds,
        // names a feature of a later writer that this build would misread.
        let flags = get32(b, 20);
        if flags != 0 {
            return Err(Error::with_detail(
                Status::SnapshotVersion,
                format!("{MANIFEST}: flags {flags:#x}; this build reads version {FORMAT_VERSION} without flags"),
            ));
        }
        let m = Manifest {
            version,
            generation: get64(b, 24),
            created_unix_ms: get64(b, 32),
            hash_seed: get64(b, 40),
            entries: get64(b, 48),
            max_key_len: get32(b, 56),
            max_value_len: get32(b, 60),
            longest_key: get32(b, 64),
            longest_value: get32(b, 68),
            shards: (0..shards as usize)
                .map(|i| {
                    let o = MANIFEST_FIXED + PER_SHARD * i;
                    ShardFile { entries: get64(b, o), bytes: get64(b, o + 8), blocks: get64(b, o + 16) }
                })
                .collect(),
        };
        // Every claim is bounded by the bytes that must hold it, so that a
        // manifest whose checksum holds but whose counts lie is refused
        // before anything is sized from them (a load sizes each index from
        // its count; the files' lengths are checked against `bytes` before).
        for (i, s) in m.shards.iter().enumerate() {
            if !s.fits() {
                return Err(corrupt(&format!(
                    "shard {i}: {} entries in {} blocks cannot fit {} bytes",
                    s.entries, s.blocks, s.bytes
                )));
            }
        }
        if m.shards.iter().try_fold(0u64, |sum, s| sum.checked_add(s.entries)) != Some(m.entries) {
            return Err(corrupt("per-shard entries do not add up"));
        }
        Ok(m)
    }
}

/// Reads and checks the manifest of the snapshot in `dir`.
pub(crate) fn read_manifest(dir: &Path) -> Result<Manifest> {
    let path = dir.join(MANIFEST);
    let mut f = match File::open(&path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(Error::with_detail(Status::NoSnapshot, format!("no {MANIFEST} in {}", dir.display())))
        }
        Err(e) => return Err(io_error(&path, "open", e)),
    };
    let mut b = Vec::new();
    // A manifest is small; a huge file there is not ours.
    Read::by_ref(&mut f)
        .take(MANIFEST_FIXED as u64 + PER_SHARD as u64 * MAX_FILE_SHARDS as u64 + 4)
        .read_to_end(&mut b)
        .map_err(|e| io_error(&path, "read", e))?;
    Manifest::decode(&b)
}

/// The name of shard `shard`'s data file of `generation`.
pub(crate) fn data_file_name(generation: u64, shard: usize) -> String {
    format!("shard-{generation:016x}-{shard:04}.nss")
}

/// The generation a data file or its temporary belongs to, if the name is one of ours.
pub(crate) fn generation_of(name: &str) -> Option<u64> {
    let rest = name.strip_prefix("shard-")?;
    let gen = rest.get(..16)?;
    if !rest[16..].starts_with('-') || !(rest.ends_with(".nss") || rest.ends_with(".nss.tmp")) {
        return None;
    }
    u64::from_str_radix(gen, 16).ok()
}

pub(crate) fn io_error(path: &Path, what: &str, e: std::io::Error) -> Error {
    Error::with_detail(Status::Io, format!("{what} {}: {e}", path.display()))
}

/// LEB128: seven bits a byte, low first, the high bit set on all but the last.
fn put_varint(b: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        b.push(v as u8 | 0x80);
        v >>= 7;
    }
    b.push(v as u8);
}

/// A length written by `put_varint` at `at`: (value, next position); None
/// when it runs past the end or above `u32::MAX` (no length is that long).
fn get_varint(b: &[u8], mut at: usize) -> Option<(usize, usize)> {
    let mut v = 0u64;
    for shift in (0..35).step_by(7) {
        let byte = *b.get(at)?;
        at += 1;
        v |= ((byte & 0x7f) as u64) << shift;
        if byte & 0x80 == 0 {
            return (v <= u32::MAX as u64).then_some((v as usize, at));
        }
    }
    None
}

/// The entry header at `at`: (key length, value length, deadline, where the key starts).
fn entry_header(b: &[u8], at: usize) -> Option<(usize, usize, u64, usize)> {
    let flags = *b.get(at)?;
    if flags > 1 {
        return None;
    }
    let (k, at) = get_varint(b, at + 1)?;
    let (v, mut at) = get_varint(b, at)?;
    let mut deadline = 0;
    if flags == 1 {
        deadline = u64::from_le_bytes(b.get(at..at + 8)?.try_into().ok()?);
        at += 8;
        if deadline == 0 {
            return None;
        }
    }
    Some((k, v, deadline, at))
}

fn put32(b: &mut Vec<u8>, v: u32) {
    b.extend_from_slice(&v.to_le_bytes());
}

fn put64(b: &mut Vec<u8>, v: u64) {
    b.extend_from_slice(&v.to_le_bytes());
}

fn get32(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(b[at..at + 4].try_into().expect("4 bytes"))
}

fn get64(b: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(b[at..at + 8].try_into().expect("8 bytes"))
}

/// Writes one shard's data file: header, then blocks as entries come.
pub(crate) struct BlockWriter {
    file: File,
    path: PathBuf,
    /// The open block: header space, then payload.
    buf: Vec<u8>,
    block_entries: u32,
    pub(crate) stats: ShardFile,
    pub(crate) longest_key: u32,
    pub(crate) longest_value: u32,
}

impl BlockWriter {
    pub(crate) fn create(path: PathBuf, shard: u32, generation: u64) -> Result<BlockWriter> {
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .open(&path)
            .map_err(|e| io_error(&path, "create", e))?;
        let mut h = Vec::with_capacity(DATA_HEADER);
        h.extend_from_slice(&DATA_MAGIC);
        put32(&mut h, FORMAT_VERSION);
        put32(&mut h, shard);
        put64(&mut h, generation);
        let crc = crc32c(0, &h);
        put32(&mut h, crc);
        put32(&mut h, 0);
        file.write_all(&h).map_err(|e| io_error(&path, "write", e))?;
        let mut buf = Vec::with_capacity(BLOCK_TARGET + 64 * 1024);
        buf.resize(BLOCK_HEADER, 0);
        Ok(BlockWriter {
            file,
            path,
            buf,
            block_entries: 0,
            stats: ShardFile { entries: 0, bytes: DATA_HEADER as u64, blocks: 0 },
            longest_key: 0,
            longest_value: 0,
        })
    }

    /// Appends an entry to the open block.
    #[inline]
    pub(crate) fn add(&mut self, key: &[u8], value: &[u8], deadline_unix_ms: u64) {
        let b = &mut self.buf;
        b.push(u8::from(deadline_unix_ms != 0));
        put_varint(b, key.len() as u64);
        put_varint(b, value.len() as u64);
        if deadline_unix_ms != 0 {
            b.extend_from_slice(&deadline_unix_ms.to_le_bytes());
        }
        b.extend_from_slice(key);
        b.extend_from_slice(value);
        self.block_entries += 1;
        self.longest_key = self.longest_key.max(key.len() as u32);
        self.longest_value = self.longest_value.max(value.len() as u32);
    }

    /// True when the open block has reached its target size.
    #[inline]
    pub(crate) fn block_full(&self) -> bool {
        self.buf.len() - BLOCK_HEADER >= BLOCK_TARGET || self.block_entries == u32::MAX
    }

    /// Closes the open block (if it holds any entry) and writes it.
    pub(crate) fn flush_block(&mut self) -> Result<()> {
        if self.block_entries == 0 {
            return Ok(());
        }
        let payload = (self.buf.len() - BLOCK_HEADER) as u64;
        self.buf[..8].copy_from_slice(&payload.to_le_bytes());
        self.buf[8..12].copy_from_slice(&self.block_entries.to_le_bytes());
        let crc = crc32c(crc32c(0, &self.buf[..12]), &self.buf[BLOCK_HEADER..]);
        self.buf[12..16].copy_from_slice(&crc.to_le_bytes());
        self.file.write_all(&self.buf).map_err(|e| io_error(&self.path, "write", e))?;
        self.stats.entries += self.block_entries as u64;
        self.stats.bytes += self.buf.len() as u64;
        self.stats.blocks += 1;
        self.block_entries = 0;
        self.buf.truncate(BLOCK_HEADER);
        Ok(())
    }

    /// Writes the last block and makes the file durable (fsync).
    pub(crate) fn finish(mut self) -> Result<ShardFile> {
        self.flush_block()?;
        self.file.sync_all().map_err(|e| io_error(&self.path, "fsync", e))?;
        Ok(self.stats)
    }
}

/// Reads one shard's data file block by block, checking everything.
pub(crate) struct BlockReader {
    file: File,
    name: String,
    expect: ShardFile,
    buf: Vec<u8>,
    seen: ShardFile,
}

impl BlockReader {
    /// Checks that shard `shard`'s data file has the length the manifest
    /// gives it, without reading it: what a load checks of every file it
    /// will read before it sizes anything from the manifest's counts (which
    /// [`ShardFile::fits`] bounds by those lengths).
    pub(crate) fn check_length(dir: &Path, generation: u64, shard: usize, expect: ShardFile) -> Result<()> {
        let name = data_file_name(generation, shard);
        let path = dir.join(&name);
        let len = std::fs::metadata(&path)
            .map_err(|e| {
                if e.kind() == std::io::ErrorKind::NotFound {
                    Error::with_detail(Status::SnapshotCorrupt, format!("{name} is missing"))
                } else {
                    io_error(&path, "stat", e)
                }
            })?
            .len();
        if len != expect.bytes {
            // A file that is not a data file at all says so, as a read would.
            let mut magic = [0u8; 8];
            let ours = File::open(&path).and_then(|mut f| f.read_exact(&mut magic)).is_ok() && magic == DATA_MAGIC;
            if !ours && len >= DATA_MAGIC.len() as u64 {
                return Err(Error::with_detail(Status::NotASnapshot, format!("{name}: no numashard data-file magic")));
            }
            return Err(Error::with_detail(
                Status::SnapshotCorrupt,
                format!("{name}: {len} bytes, the manifest says {} (truncated or extended)", expect.bytes),
            ));
        }
        Ok(())
    }

    pub(crate) fn open(dir: &Path, generation: u64, shard: usize, expect: ShardFile) -> Result<BlockReader> {
        // There, with the length the manifest gives it (or a clear reason).
        Self::check_length(dir, generation, shard, expect)?;
        let len = expect.bytes;
        let name = data_file_name(generation, shard);
        let path = dir.join(&name);
        let mut file = File::open(&path).map_err(|e| io_error(&path, "open", e))?;
        // The file is read once, front to back: ask for large read-ahead and
        // for all of it to be fetched now, so the disk works while blocks are parsed.
        // SAFETY: advice on a descriptor we own; no memory is passed.
        unsafe {
            use std::os::fd::AsRawFd;
            libc::posix_fadvise(file.as_raw_fd(), 0, 0, libc::POSIX_FADV_SEQUENTIAL);
            libc::posix_fadvise(file.as_raw_fd(), 0, 0, libc::POSIX_FADV_WILLNEED);
        }
        let corrupt = |why: &str| Error::with_detail(Status::SnapshotCorrupt, format!("{name}: {why}"));
        let mut h = [0u8; DATA_HEADER];
        if len < DATA_HEADER as u64 {
            return Err(corrupt("truncated header"));
        }
        file.read_exact(&mut h).map_err(|e| io_error(&path, "read", e))?;
        if h[..8] != DATA_MAGIC {
            return Err(Error::with_detail(Status::NotASnapshot, format!("{name}: no numashard data-file magic")));
        }
        if crc32c(0, &h[..24]) != get32(&h, 24) {
            return Err(corrupt("header checksum mismatch"));
        }
        let version = get32(&h, 8);
        if version != FORMAT_VERSION {
            return Err(Error::with_detail(
                Status::SnapshotVersion,
                format!("{name}: format version {version}; this build reads version {FORMAT_VERSION}"),
            ));
        }
        if get32(&h, 12) as usize != shard || get64(&h, 16) != generation {
            return Err(corrupt("belongs to another shard or generation"));
        }
        // Written as 0 and outside the header's checksum: anything else is damage.
        if get32(&h, 28) != 0 {
            return Err(corrupt("reserved header word is not 0"));
        }
        Ok(BlockReader {
            file,
            name,
            expect,
            buf: Vec::new(),
            seen: ShardFile { entries: 0, bytes: DATA_HEADER as u64, blocks: 0 },
        })
    }

    fn corrupt(&self, why: &str) -> Error {
        Error::with_detail(Status::SnapshotCorrupt, format!("{}: {why}", self.name))
    }

    /// Reads the next block, checks it, and calls `f` with each entry
    /// (key, value, deadline). Returns false at the end of the file.
    pub(crate) fn next_block(&mut self, mut f: impl FnMut(&[u8], &[u8], u64) -> Result<()>) -> Result<bool> {
        let left = self.expect.bytes - self.seen.bytes;
        if left == 0 {
            if self.seen.entries != self.expect.entries || self.seen.blocks != self.expect.blocks {
                return Err(self.corrupt("fewer entries or blocks than the manifest says"));
            }
            return Ok(false);
        }
        if left < BLOCK_HEADER as u64 {
            return Err(self.corrupt("truncated block header"));
        }
        let mut h = [0u8; BLOCK_HEADER];
        self.file.read_exact(&mut h).map_err(|e| self.io(e))?;
        let payload = get64(&h, 0);
        let count = get32(&h, 8);
        if payload > left - BLOCK_HEADER as u64 || count == 0 {
            return Err(self.corrupt("block length past the end of the file"));
        }
        self.buf.clear();
        self.buf.resize(payload as usize, 0);
        self.file.read_exact(&mut self.buf).map_err(|e| self.io(e))?;
        if crc32c(crc32c(0, &h[..12]), &self.buf) != get32(&h, 12) {
            return Err(self.corrupt(&format!("block {} checksum mismatch", self.seen.blocks)));
        }
        self.seen.bytes += BLOCK_HEADER as u64 + payload;
        self.seen.blocks += 1;
        self.seen.entries += count as u64;
        if self.seen.entries > self.expect.entries || self.seen.blocks > self.expect.blocks {
            return Err(self.corrupt("more entries or blocks than the manifest says"));
        }
        let b = &self.buf;
        let mut at = 0usize;
        for _ in 0..count {
            let Some((k, v, deadline, start)) = entry_header(b, at) else {
                return Err(Error::with_detail(
                    Status::SnapshotCorrupt,
                    format!("{}: bad entry header or entry past its block", self.name),
                ));
            };
            at = start;
            if b.len() - at < k + v {
                return Err(Error::with_detail(
                    Status::SnapshotCorrupt,
                    format!("{}: entry past its block", self.name),
                ));
            }
            f(&b[at..at + k], &b[at + k..at + k + v], deadline)?;
            at += k + v;
        }
        if at != b.len() {
            return Err(Error::with_detail(
                Status::SnapshotCorrupt,
                format!("{}: bytes after the last entry", self.name),
            ));
        }
        Ok(true)
    }

    fn io(&self, e: std::io::Error) -> Error {
        if e.kind() == std::io::ErrorKind::UnexpectedEof {
            self.corrupt("truncated")
        } else {
            Error::with_detail(Status::Io, format!("read {}: {e}", self.name))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Manifest {
        Manifest {
            version: FORMAT_VERSION,
            generation: 7,
            created_unix_ms: 1_700_000_000_000,
            hash_seed: 42,
            entries: 5,
            max_key_len: 4096,
            max_value_len: 1 << 22,
            longest_key: 16,
            longest_value: 32,
            shards: vec![
                ShardFile { entries: 2, bytes: 100, blocks: 1 },
                ShardFile { entries: 3, bytes: 120, blocks: 1 },
            ],
        }
    }

    #[test]
    fn manifest_round_trips_and_every_bit_flip_is_caught() {
        let m = sample();
        let b = m.encode();
        assert_eq!(Manifest::decode(&b).unwrap(), m);
        for bit in 0..b.len() * 8 {
            let mut c = b.clone();
            c[bit / 8] ^= 1 << (bit % 8);
            let e = Manifest::decode(&c).expect_err("a flipped bit must not decode");
            assert!(
                matches!(e.status(), Status::SnapshotCorrupt | Status::NotASnapshot | Status::SnapshotVersion),
                "bit {bit}: {e}"
            );
        }
        for cut in 0..b.len() {
            assert!(Manifest::decode(&b[..cut]).is_err(), "truncated at {cut}");
        }
        assert_eq!(Manifest::decode(b"PK\x03\x04 a zip file").unwrap_err().status(), Status::NotASnapshot);
    }

    #[test]
    fn entry_headers_round_trip_and_reject_garbage() {
        for (k, v, d) in [(0usize, 0usize, 0u64), (16, 32, 0), (200, 70_000, 1_700_000_000_000), (1, (1 << 31) - 1, 5)]
        {
            let mut b = Vec::new();
            b.push(u8::from(d != 0));
            put_varint(&mut b, k as u64);
            put_varint(&mut b, v as u64);
            if d != 0 {
                b.extend_from_slice(&d.to_le_bytes());
            }
            assert_eq!(entry_header(&b, 0), Some((k, v, d, b.len())));
            for cut in 0..b.len() {
                assert_eq!(entry_header(&b[..cut], 0), None, "cut at {cut}");
            }
        }
        assert_eq!(entry_header(&[2, 1, 1], 0), None, "unknown flag");
        assert_eq!(entry_header(&[0, 0xff, 0xff, 0xff, 0xff, 0x7f, 0], 0), None, "a length above u32");
        assert_eq!(entry_header(&[1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0], 0), None, "a zero deadline flagged");
    }

    #[test]
    fn data_file_names_parse() {
        let n = data_file_name(0xabc, 3);
        assert_eq!(n, "shard-0000000000000abc-0003.nss");
        assert_eq!(generation_of(&n), Some(0xabc));
        assert_eq!(generation_of(&format!("{n}.tmp")), Some(0xabc));
        assert_eq!(generation_of("shard-xyz"), None);
        assert_eq!(generation_of(MANIFEST), None);
    }
}
