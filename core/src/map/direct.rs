//! Direct reads: where a binding that reads the map's memory itself (the Go
//! binding, whose every cgo call serialises the CPU's memory misses) finds
//! the gate, the shards' seqlocks and their published slot arrays.
//!
//! Such a reader follows the engine's own lock-free read (`shard/reader.rs`)
//! step by step; [`DIRECT_READ_VERSION`] names that protocol and the record
//! layout, and changes whenever either does, so that a binding built for
//! another version reads through the engine instead. The protocol, for a
//! key `k` of `len` bytes:
//!
//! 1. `h` = the key hash ([`DirectRead::hash_seed`]); its shard is
//!    `((h as u32 as u64) * shards) >> 32`. A shard whose
//!    [`DirectShard::direct`] is false is read through the engine.
//! 2. Enter the gate: `p = epoch & 1` (an acquire load), then count
//!    yourself in counter `p` of a stripe: of a shared stripe (any) with a
//!    locked add of 1 (a full barrier: the reclaimer's and closer's fences
//!    pair with it); or of a stripe you own, one no other reader writes
//!    meanwhile (the Go binding: its processor's, while pinned to it), by
//!    storing the counter plus one, followed by a full barrier unless
//!    [`DirectRead::plain_entry`] (the gate's membarrier mode: then its
//!    closer and reclaimer make every CPU running the process's threads
//!    execute that barrier). If `closed` is then set, leave and read
//!    through the engine (which answers `Closed`).
//! 3. `s1` = the shard's sequence; odd means a write section is open: retry.
//! 4. The slot array word: 0 means none (closing: read through the engine);
//!    else the 64-aligned address of `2^bits` slots, `bits` in its low 6 bits.
//!    Optionally, before probing: the shard's home word
//!    ([`DirectShard::home`]; 0: none) names the region where records of
//!    one line are placed by hash (`Config::place_records_by_hash`): its
//!    page-aligned address, `hbits` in its low 6 bits. A record of the key
//!    may be at line `h >> (64 - hbits)` of it or the other line of that
//!    128-byte pair; prefetching both with the home slot lets the record's
//!    miss overlap the slot's. A hint only: never read through it.
//! 5. Probe from the home slot `h >> (64 - bits)`, linearly and wrapping,
//!    at most `2^bits` slots. A slot is two u64s: the tag (`h | 1`; 0 =
//!    empty, which ends the probe: a miss) and the record address (its low
//!    two bits are access counts, to be masked off).
//! 6. A miss holds if the sequence still reads `s1`; else retry.
//! 7. A slot with the key's tag: the record's first u64 holds two native
//!    u32s, the key length (bit 31: the entry has a deadline) and the value
//!    length. Validate (the sequence still `s1`) before those lengths size
//!    any read. Another length or other key bytes (at offset 8): probe on.
//!    The value follows the key; copy it, and the deadline, a u64 at the
//!    first multiple of 8 at or after the value's end (offsets from the
//!    record's start), when bit 31 says there is one; then validate again
//!    before using either. An entry whose deadline is at or before now is
//!    absent (a miss): now is `CLOCK_MONOTONIC` in nanoseconds, read after
//!    the validation, when [`DirectShard::monotonic_deadlines`]; otherwise
//!    read such an entry through the engine. A record block is 8-aligned
//!    and a multiple of 8 bytes long, so every read of its header, key,
//!    value and deadline stays inside it.
//! 8. Note the read, as the shard asks: a hit whose value was copied out
//!    (not one the caller's buffer was too small for) marks its entry when
//!    [`DirectShard::mark_hits`]: load the slot's record word (the u64 8
//!    bytes into the slot) and, unless its low two bits are both set,
//!    compare-and-swap it to itself plus 1, once (a lost race loses a
//!    mark, which is a hint).
//!    When the shard counts reads (its counters word is not 0), add 1
//!    (an atomic add) to the hits (the stripe's second u64) or misses (its
//!    first) of any one of its stripes, for every hit and every miss handed
//!    out (an expired entry is a miss).
//! 9. Leave: subtract 1 from the same counter of the same stripe (an
//!    owned one: store the counter minus one, with release ordering).
//!
//! The addresses stay valid until the map's memory is released (for the C
//! ABI: `ns_map_free`); after `close` the gate turns readers away (step 2).
//!
//! The stripes a reader may own go to one reader per map: the first
//! [`Map::direct_read`] that claims them. Every other reader counts itself
//! in the shared stripes, so two direct readers in one process (two
//! bindings, two language runtimes) never write one stripe with stores.

use super::Map;
use crate::error::{Result, Status};

/// The version of the direct-read protocol and record layout (see the module).
pub const DIRECT_READ_VERSION: u32 = 4;

/// Where a direct reader finds a map's memory ([`Map::direct_read`]).
#[derive(Debug)]
pub struct DirectRead {
    /// The key hash's seed: foldhash 0.1.5 "fast",
    /// `FixedState::with_seed(hash_seed)`, over `<[u8] as Hash>::hash`.
    pub hash_seed: u64,
    /// The gate's epoch (a u64).
    pub epoch: *const u64,
    /// The gate's closed flag (a bool byte).
    pub closed: *const u8,
    /// The first shared stripe: its two counters (parity 0, 1) are the u64s
    /// at its address and 8 bytes on.
    pub stripes: *mut u64,
    /// Bytes from one stripe to the next.
    pub stripe_stride: usize,
    /// Shared stripes (at least one).
    pub stripe_count: usize,
    /// The first of the stripes this reader may own (as many as shared
    /// ones), laid out like the shared ones; null when they were not
    /// claimed or went to an earlier reader.
    pub owned_stripes: *mut u64,
    /// How many stripes this reader may own (0: none).
    pub owned_count: usize,
    /// True when a reader that owns its stripe enters with a plain store
    /// (no barrier of its own): the gate's membarrier mode.
    pub plain_entry: bool,
    /// One per shard, in shard order.
    pub shards: Vec<DirectShard>,
}

/// One shard's part of [`DirectRead`].
#[derive(Clone, Copy, Debug)]
pub struct DirectShard {
    /// The shard's seqlock sequence (a u64; odd while a write section is open).
    pub seq: *const u64,
    /// The published slot array word (a u64; 0: none).
    pub table: *const u64,
    /// The home lines' word (a u64; 0: none): see step 4 of the protocol.
    /// It follows `table` in memory (the C ABI gives its offset).
    pub home: *const u64,
    /// False when the shard must be read through the engine. (Every shard
    /// of this version may be read directly; version 3 said false for the
    /// shards that mark or count reads, which now say so below.)
    pub direct: bool,
    /// A hit must mark its entry as accessed (cache mode's eviction): step 8.
    pub mark_hits: bool,
    /// The shard's read-counters word (a u64: the address of the first of
    /// its counter stripes, 0 when reads are not counted), followed by
    /// their shape word (the stripe count in the low 32 bits, the bytes from
    /// one stripe to the next in the high 32): step 8. It follows `home` in
    /// memory (the C ABI: 8 bytes after it).
    pub counters: *const u64,
    /// Deadlines are `CLOCK_MONOTONIC` nanoseconds (the map's clock is the
    /// system's): a reader may compare them with its own reading of that
    /// clock (step 7). False (a manual clock, tests): an entry with a
    /// deadline is read through the engine.
    pub monotonic_deadlines: bool,
}

// The words a direct reader loads are u64s: the engine's are usize.
const _: () = assert!(std::mem::size_of::<usize>() == 8, "direct reads assume 64-bit words");

impl Map {
    /// Where a binding that reads this map's memory itself finds it: see
    /// the protocol in the module's documentation. `Closed` once the map is
    /// closed. The addresses stay valid while the map (or an iterator of
    /// it) is alive. With `claim_owned`, the stripes a reader may own are
    /// handed out, to the first such call only; other calls get none.
    pub fn direct_read(&self, claim_owned: bool) -> Result<DirectRead> {
        let inner = &*self.inner;
        if inner.gate.is_closed() {
            return Err(Status::Closed.into());
        }
        let st = inner.gate.direct_stripes(claim_owned);
        Ok(DirectRead {
            hash_seed: inner.cfg.hash_seed,
            epoch: inner.gate.epoch_ptr(),
            closed: inner.gate.closed_ptr(),
            stripes: st.shared.0,
            stripe_stride: st.stride,
            stripe_count: st.shared.1,
            owned_stripes: st.owned.0,
            owned_count: st.owned.1,
            plain_entry: st.plain_entry,
            shards: inner.shards.iter().map(|s| s.direct_shard()).collect(),
        })
    }
}
