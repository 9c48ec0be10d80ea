//! Map configuration.

use crate::clock::Clock;
use crate::error::{Error, Result, Status};
use crate::map::MAX_SHARDS;
use std::path::PathBuf;
use std::time::Duration;

/// Environment variable holding a synthetic hwloc topology description
/// (e.g. `"pack:2 [numa] core:2 pu:1"`), used when [`Config::topology`] is `None`.
pub const ENV_TOPOLOGY: &str = "NUMASHARD_TOPOLOGY";
/// Environment variable holding the path of an hwloc XML topology file,
/// used when [`Config::topology_xml`] is `None` and no synthetic topology is given.
pub const ENV_TOPOLOGY_XML: &str = "NUMASHARD_TOPOLOGY_XML";

/// Default largest key, in bytes (inclusive).
pub const DEFAULT_MAX_KEY_LEN: usize = 4 * 1024;
/// Default largest value, in bytes (inclusive).
pub const DEFAULT_MAX_VALUE_LEN: usize = 4 * 1024 * 1024;
/// Hard ceiling for both limits: record headers store lengths in 32 bits.
pub const MAX_LEN_CEILING: usize = (u32::MAX as usize) / 2;
/// The largest `Config::initial_capacity` accepted: 2^40 entries.
pub const MAX_INITIAL_CAPACITY: usize = 1 << 40;

/// How single operations and batch parts reach a shard's table.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum ExecMode {
    /// The caller applies the operation itself under the shard's ownership
    /// when the owner is parked or runs on the caller's CPU; otherwise it is
    /// delegated to the owner. Picked by measurement as the default.
    #[default]
    Auto,
    /// Every operation travels to the owning worker thread ("EREW").
    Delegate,
}

/// What a map does when a write would pass its memory limit.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Eviction {
    /// Refuse the write with `Full` and change nothing (a map of record).
    #[default]
    None,
    /// A cache: each shard keeps within its share of the limit
    /// (`memory_limit / shards`) by evicting entries with S3-FIFO — a small
    /// probationary FIFO that new keys enter, a main FIFO with one reinsertion
    /// bit (CLOCK) for keys that were read again, and a ghost set of recently
    /// evicted keys that sends them straight to the main queue when they come
    /// back. One-hit wonders and scans leave through the small queue without
    /// displacing the hot set.
    S3Fifo,
}

/// Everything a map is created with. `Config::default()` gives a map with one
/// shard per allowed CPU on the real machine, no memory limit, and the default
/// size limits.
#[derive(Clone, Debug)]
pub struct Config {
    /// Number of shards; 0 = one per allowed CPU. An explicit N yields exactly N shards.
    pub shards: usize,
    /// Byte limit on what entries cost (key, value, per-entry overhead); 0 = none.
    pub memory_limit: u64,
    /// Largest key accepted, inclusive.
    pub max_key_len: usize,
    /// Largest value accepted, inclusive.
    pub max_value_len: usize,
    /// A synthetic hwloc topology description; `None` = `NUMASHARD_TOPOLOGY`, then the real machine.
    pub topology: Option<String>,
    /// An hwloc XML topology file; `None` = `NUMASHARD_TOPOLOGY_XML`, then the real machine.
    pub topology_xml: Option<PathBuf>,
    /// Use only these NUMA nodes (OS indexes); `None` = every node with allowed CPUs.
    pub nodes: Option<Vec<u32>>,
    /// Explicit shard count per used node, in the order of the used nodes;
    /// overrides `shards` when set.
    pub shards_per_node: Option<Vec<usize>>,
    /// Seed of the key hash that routes keys to shards.
    pub hash_seed: u64,
    /// How operations reach the shard tables.
    pub exec_mode: ExecMode,
    /// Microseconds an idle worker spins before it parks; `None` = chosen from
    /// whether threads may outnumber cores.
    pub worker_spin_us: Option<u64>,
    /// In `ExecMode::Auto`, a batch's part for one shard is sent to the
    /// shard's owner (so shards work in parallel) when it holds at least this
    /// many ops; smaller parts are applied by the caller. 0 = never send
    /// (the default: on a machine whose callers keep every core busy, waking
    /// an owner costs a context switch per part; measured 44 vs 2.4 Mops/s for
    /// 64-get batches on 20k entries with 2 callers on 2 cores).
    pub batch_delegate_min: usize,
    /// What happens at the memory limit: `Full` (default) or eviction. With
    /// eviction, `memory_limit` must be set.
    pub eviction: Eviction,
    /// The time to live of entries written without one (`None`: they never
    /// expire). Applies to `put`, `put_if_absent`, `get_or_put`, `swap`,
    /// their batch kinds and `replace_all`.
    pub default_ttl: Option<Duration>,
    /// The clock deadlines are measured on (`None`: the monotonic clock).
    /// Tests pass [`Clock::manual`] to move time by hand.
    pub clock: Option<Clock>,
    /// Count hits and misses of reads per shard (on by default with
    /// eviction; a counter update per read otherwise off).
    pub record_stats: bool,
    /// Testing switch: bind every shard's memory to a node other than its CPU's
    /// (the next used node), to measure what wrong placement costs.
    pub misplace_memory: bool,
    /// Entries the map is expected to hold (0 = no hint, the default). Each
    /// shard's index is made for its share of them at creation, so filling
    /// the map that far doubles no index; `clear` and `replace_all` return
    /// an index to that size, never below. Only the index is sized: 16
    /// bytes per slot, 1.25-2.5 slots per entry, mapped at once and touched
    /// as entries arrive. Not a limit: the map grows past it as without it.
    /// With a `memory_limit`, the hint is capped at the most entries the
    /// limit can hold (every entry costs at least its 16-byte slot and the
    /// smallest record), so a cache is never sized past its budget.
    pub initial_capacity: usize,
    /// Place small records by their key's hash (off by default). A record
    /// of at most 64 bytes (8 of header, the key, the value, and 8 for a
    /// deadline: a 16-byte key with a value of up to 40 bytes, 32 with a
    /// time to live) goes to one of two lines of a region addressed by its
    /// hash when one is free, so that a single get or put asks for the
    /// index slot and the record at once instead of one after the other:
    /// one memory latency fewer on a table larger than the CPU's caches.
    /// Batches gain nothing (they overlap those misses already), nor do
    /// tables the caches mostly hold. Each shard's region holds about its
    /// share of `initial_capacity` lines (the nearest power of two; 64
    /// bytes each), mapped when the map opens and counted in its mapped
    /// bytes; records land on them at random, so the region is resident
    /// after a few records per page (4 KiB, or 2 MiB with transparent huge
    /// pages), not in proportion to the entries. Records that find both
    /// their lines taken, and larger ones, go where they would without it;
    /// past the hinted capacity more and more find both taken. Measured in `bench/results/engine.md`
    /// ("records placed by hash"). Needs `initial_capacity` and no
    /// `memory_limit` (else `InvalidArgument`).
    pub place_records_by_hash: bool,
}

impl Config {
    /// The checks `Map::new` makes on the configuration itself, before it
    /// looks at the machine's topology: `InvalidArgument` with the reason
    /// for size limits out of range, a list of nodes or of counts per node
    /// that no topology could take (`placement::check_lists`), more than
    /// `MAX_SHARDS` shards, an `initial_capacity` over 2^40,
    /// `place_records_by_hash` without an `initial_capacity` or with a
    /// `memory_limit`, eviction without a `memory_limit`. (The C ABI's
    /// `ns_config_check` is this.)
    pub fn check(&self) -> Result<()> {
        let invalid = |why: String| Err(Error::with_detail(Status::InvalidArgument, why));
        if self.max_key_len == 0 || self.max_key_len > MAX_LEN_CEILING || self.max_value_len > MAX_LEN_CEILING {
            return invalid("max_key_len must be 1..=2^31-1, max_value_len <= 2^31-1".into());
        }
        crate::placement::check_lists(self.nodes.as_deref(), self.shards_per_node.as_deref())?;
        // The counts per node add up without overflow (checked just above).
        if self.shards > MAX_SHARDS
            || self.shards_per_node.as_ref().is_some_and(|v| v.iter().sum::<usize>() > MAX_SHARDS)
        {
            return invalid(format!("at most {MAX_SHARDS} shards"));
        }
        if self.initial_capacity > MAX_INITIAL_CAPACITY {
            return invalid("initial_capacity must be at most 2^40".into());
        }
        if self.place_records_by_hash && (self.initial_capacity == 0 || self.memory_limit != 0) {
            return invalid("place_records_by_hash needs an initial_capacity and no memory_limit".into());
        }
        if self.eviction != Eviction::None && self.memory_limit == 0 {
            return invalid("eviction needs a memory_limit".into());
        }
        Ok(())
    }
}

impl Default for Config {
    fn default() -> Config {
        Config {
            shards: 0,
            memory_limit: 0,
            max_key_len: DEFAULT_MAX_KEY_LEN,
            max_value_len: DEFAULT_MAX_VALUE_LEN,
            topology: None,
            topology_xml: None,
            nodes: None,
            shards_per_node: None,
            hash_seed: 0x6e75_6d61_7368_6172, // "numashar"
            exec_mode: ExecMode::Auto,
            worker_spin_us: None,
            batch_delegate_min: 0,
            eviction: Eviction::None,
            default_ttl: None,
            clock: None,
            record_stats: false,
            misplace_memory: false,
            initial_capacity: 0,
            place_records_by_hash: false,
        }
    }
}
