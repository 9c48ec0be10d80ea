//! What the engines are asked to do: the keys, the key distributions and the
//! pre-generated operation streams. Everything here is a pure function of a
//! seed, so every engine of a run sees the same keys and the same stream.

use std::fmt;
use std::str::FromStr;

/// SplitMix64: a tiny, fast, seedable generator; also a bijection on `u64`,
/// which is what makes generated keys unique.
#[derive(Clone, Debug)]
pub struct SplitMix64(u64);

impl SplitMix64 {
    /// A generator starting from `seed`.
    pub fn new(seed: u64) -> SplitMix64 {
        SplitMix64(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        mix64(self.0)
    }

    /// A uniform float in `[0, 1)`.
    pub fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// A uniform integer in `[0, n)` (Lemire's multiply-shift; the bias is
    /// below 2^-32 for the table sizes used here).
    pub fn below(&mut self, n: u64) -> u64 {
        ((self.next_u64() as u128 * n as u128) >> 64) as u64
    }
}

/// The SplitMix64 finaliser: a bijective mix of 64 bits.
pub fn mix64(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// All keys of a run in one contiguous buffer: key `i` is `key_size` bytes
/// whose first eight are `mix64(i ^ seed)` (so distinct indexes give distinct
/// keys) and whose rest is filler derived from the same value.
pub struct KeySet {
    bytes: Vec<u8>,
    key_size: usize,
}

impl KeySet {
    /// Smallest supported key: the eight bytes that make keys unique.
    pub const MIN_KEY_SIZE: usize = 8;

    /// `count` keys of `key_size` bytes (at least [`KeySet::MIN_KEY_SIZE`]).
    pub fn generate(count: usize, key_size: usize, seed: u64) -> KeySet {
        assert!(key_size >= Self::MIN_KEY_SIZE, "keys are at least 8 bytes");
        let mut bytes = vec![0u8; count * key_size];
        for (i, key) in bytes.chunks_exact_mut(key_size).enumerate() {
            let head = mix64(i as u64 ^ seed);
            key[..8].copy_from_slice(&head.to_le_bytes());
            let mut filler = SplitMix64::new(head);
            for chunk in key[8..].chunks_mut(8) {
                chunk.copy_from_slice(&filler.next_u64().to_le_bytes()[..chunk.len()]);
            }
        }
        KeySet { bytes, key_size }
    }

    /// Key number `i`.
    #[inline]
    pub fn key(&self, i: usize) -> &[u8] {
        &self.bytes[i * self.key_size..(i + 1) * self.key_size]
    }

    /// Number of keys.
    pub fn len(&self) -> usize {
        self.bytes.len() / self.key_size
    }

    /// True when there is no key.
    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    /// Bytes per key.
    pub fn key_size(&self) -> usize {
        self.key_size
    }
}

/// A value of `size` bytes whose content depends on `tag`.
pub fn value_bytes(size: usize, tag: u64) -> Vec<u8> {
    let mut rng = SplitMix64::new(tag);
    (0..size).map(|_| rng.next_u64() as u8).collect()
}

/// The Zipf distribution over `0..n` with exponent `theta` (rank 0 hottest),
/// sampled with the method of Gray et al., "Quickly generating
/// billion-record synthetic databases" (SIGMOD 1994), as YCSB does. Setup is
/// O(n) (the generalised harmonic number), sampling O(1).
#[derive(Clone, Debug)]
pub struct Zipf {
    n: u64,
    theta: f64,
    alpha: f64,
    zeta_n: f64,
    eta: f64,
    half_pow_theta: f64,
}

impl Zipf {
    /// The distribution over `0..n`; `theta` in `(0, 1)`.
    pub fn new(n: u64, theta: f64) -> Zipf {
        assert!(n >= 2, "Zipf needs at least two items");
        assert!(theta > 0.0 && theta < 1.0, "Zipf theta must be in (0, 1), got {theta}");
        let zeta = |k: u64| (1..=k).map(|i| 1.0 / (i as f64).powf(theta)).sum::<f64>();
        let zeta_n = zeta(n);
        let zeta_2 = zeta(2);
        Zipf {
            n,
            theta,
            alpha: 1.0 / (1.0 - theta),
            zeta_n,
            eta: (1.0 - (2.0 / n as f64).powf(1.0 - theta)) / (1.0 - zeta_2 / zeta_n),
            half_pow_theta: 0.5f64.powf(theta),
        }
    }

    /// The exponent.
    pub fn theta(&self) -> f64 {
        self.theta
    }

    /// One rank in `0..n`.
    pub fn sample(&self, rng: &mut SplitMix64) -> u64 {
        let u = rng.next_f64();
        let uz = u * self.zeta_n;
        if uz < 1.0 {
            return 0;
        }
        if uz < 1.0 + self.half_pow_theta {
            return 1;
        }
        let rank = (self.n as f64 * (self.eta * u - self.eta + 1.0).powf(self.alpha)) as u64;
        rank.min(self.n - 1)
    }
}

/// How keys are picked from the loaded table.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Distribution {
    /// Every loaded key equally likely.
    Uniform,
    /// Zipf with this theta; hot ranks are spread over the key space because
    /// keys are random bytes (key 0 is as random as any other).
    Zipf(f64),
}

impl Distribution {
    /// Short name for tables and JSON.
    pub fn name(&self) -> &'static str {
        match self {
            Distribution::Uniform => "uniform",
            Distribution::Zipf(_) => "zipf",
        }
    }

    /// The Zipf theta, if any.
    pub fn theta(&self) -> Option<f64> {
        match self {
            Distribution::Uniform => None,
            Distribution::Zipf(t) => Some(*t),
        }
    }
}

/// The operation mixes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Workload {
    /// 100% gets of loaded keys (all hits).
    ReadOnly,
    /// 100% gets of keys never loaded (all misses): what an absent key costs.
    ReadAbsent,
    /// 95% gets, 5% overwrites of loaded keys.
    Read95,
    /// 50% gets, 50% overwrites of loaded keys.
    Update50,
    /// 100% overwrites of loaded keys (the Go benchmarks' `store`).
    WriteOnly,
    /// 100% `add` of 1 to counters (the table is loaded with 8-byte counters).
    Rmw,
    /// 75% inserts of fresh keys, 25% gets of loaded keys. The stream is
    /// played once (an insert never becomes an overwrite).
    Insert,
}

impl Workload {
    /// All mixes, in report order.
    pub const ALL: [Workload; 7] = [
        Workload::ReadOnly,
        Workload::ReadAbsent,
        Workload::Read95,
        Workload::Update50,
        Workload::WriteOnly,
        Workload::Rmw,
        Workload::Insert,
    ];

    /// Short name for tables and JSON.
    pub fn name(self) -> &'static str {
        match self {
            Workload::ReadOnly => "read-only",
            Workload::ReadAbsent => "read-absent",
            Workload::Read95 => "read-95",
            Workload::Update50 => "update-50",
            Workload::WriteOnly => "write-only",
            Workload::Rmw => "rmw",
            Workload::Insert => "insert",
        }
    }

    /// True when the workload needs the table loaded with 8-byte counters.
    pub fn uses_counters(self) -> bool {
        self == Workload::Rmw
    }

    /// True when the workload changes which keys the table holds, so it needs a freshly loaded table.
    pub fn grows_table(self) -> bool {
        self == Workload::Insert
    }

    /// True when the workload uses keys beyond the loaded ones (inserts, absent gets).
    pub fn needs_fresh_keys(self) -> bool {
        matches!(self, Workload::Insert | Workload::ReadAbsent)
    }

    /// True when the workload never writes.
    pub fn only_reads(self) -> bool {
        matches!(self, Workload::ReadOnly | Workload::ReadAbsent)
    }
}

impl fmt::Display for Workload {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Workload {
    type Err = String;

    fn from_str(s: &str) -> Result<Workload, String> {
        Ok(match s {
            "read-only" | "ro" | "read" => Workload::ReadOnly,
            "read-absent" | "read-miss" | "miss" => Workload::ReadAbsent,
            "read-95" | "95-5" | "95/5" => Workload::Read95,
            "update-50" | "50-50" | "50/50" => Workload::Update50,
            "write-only" | "update-100" | "store" => Workload::WriteOnly,
            "rmw" | "add" => Workload::Rmw,
            "insert" | "insert-heavy" => Workload::Insert,
            _ => {
                return Err(format!(
                "unknown workload {s:?} (read-only, read-absent, read-95, update-50, write-only, rmw, insert, stall)"
            ))
            }
        })
    }
}

/// What one stream entry does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StreamKind {
    /// Get a loaded key.
    Get,
    /// Overwrite a loaded key with the thread's value.
    Put,
    /// Add 1 to a counter.
    Add,
    /// Insert a fresh key (index beyond the loaded ones).
    Insert,
}

/// One pre-generated operation: a kind and a key index (8 bytes, so a
/// million-op stream is 8 MB and costs the measured loop one sequential read).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StreamOp {
    /// The key's index in the run's [`KeySet`].
    pub key: u32,
    /// What to do.
    pub kind: StreamKind,
}

/// Longest stream generated per thread; duration-bound runs cycle through it.
pub const STREAM_LEN: usize = 1 << 20;

/// Fresh keys available to the insert workload, for all threads together.
pub fn fresh_keys(entries: usize) -> usize {
    entries.max(1_000_000)
}

/// The operation stream of thread `thread` of `threads`, for a table of
/// `entries` loaded keys. Insert streams use the fresh keys
/// `entries..entries + fresh_keys(entries)`, split between threads; absent
/// gets pick from the same fresh keys, as loaded gets pick from the loaded ones.
pub fn stream(
    workload: Workload,
    dist: Distribution,
    zipf: Option<&Zipf>,
    entries: usize,
    thread: usize,
    threads: usize,
    seed: u64,
) -> Vec<StreamOp> {
    let mut rng = SplitMix64::new(mix64(seed ^ (thread as u64 + 1).wrapping_mul(0xa076_1d64_78bd_642f)));
    let pick = |rng: &mut SplitMix64| -> u32 {
        match (dist, zipf) {
            (Distribution::Zipf(_), Some(z)) => z.sample(rng) as u32,
            _ => rng.below(entries as u64) as u32,
        }
    };
    let mut ops = Vec::new();
    match workload {
        Workload::Insert => {
            let fresh = fresh_keys(entries);
            let mut next_fresh = entries + thread;
            let end = entries + fresh;
            while next_fresh < end {
                if rng.below(4) == 0 {
                    ops.push(StreamOp { key: pick(&mut rng), kind: StreamKind::Get });
                } else {
                    ops.push(StreamOp { key: next_fresh as u32, kind: StreamKind::Insert });
                    next_fresh += threads;
                }
            }
        }
        _ => {
            ops.reserve_exact(STREAM_LEN);
            for _ in 0..STREAM_LEN {
                let key = pick(&mut rng);
                let kind = match workload {
                    Workload::ReadOnly | Workload::ReadAbsent => StreamKind::Get,
                    Workload::Read95 if rng.below(100) < 5 => StreamKind::Put,
                    Workload::Read95 => StreamKind::Get,
                    Workload::Update50 if rng.below(2) == 0 => StreamKind::Put,
                    Workload::Update50 => StreamKind::Get,
                    Workload::WriteOnly => StreamKind::Put,
                    Workload::Rmw => StreamKind::Add,
                    Workload::Insert => unreachable!("handled above"),
                };
                // Absent keys: the fresh ones, never loaded (there are at least `entries` of them).
                let key = if workload == Workload::ReadAbsent { entries as u32 + key } else { key };
                ops.push(StreamOp { key, kind });
            }
        }
    }
    ops
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_distinct_and_sized() {
        let keys = KeySet::generate(10_000, 16, 7);
        let set: std::collections::HashSet<&[u8]> = (0..keys.len()).map(|i| keys.key(i)).collect();
        assert_eq!(set.len(), 10_000);
        assert!((0..keys.len()).all(|i| keys.key(i).len() == 16));
    }

    #[test]
    fn zipf_is_skewed_and_in_range() {
        let z = Zipf::new(1000, 0.99);
        let mut rng = SplitMix64::new(1);
        let mut counts = vec![0u32; 1000];
        for _ in 0..100_000 {
            counts[z.sample(&mut rng) as usize] += 1;
        }
        assert!(counts[0] > counts[10] && counts[10] > counts[500]);
        // Rank 0 of Zipf(1000, 0.99) has probability ~1/zeta(1000) ~ 13%.
        assert!((8_000..20_000).contains(&counts[0]), "{}", counts[0]);
    }

    #[test]
    fn mixes_have_their_ratios() {
        let s = stream(Workload::Read95, Distribution::Uniform, None, 1000, 0, 1, 3);
        let puts = s.iter().filter(|o| o.kind == StreamKind::Put).count() as f64 / s.len() as f64;
        assert!((0.04..0.06).contains(&puts));
        assert!(s.iter().all(|o| (o.key as usize) < 1000));
        let w = stream(Workload::WriteOnly, Distribution::Uniform, None, 1000, 0, 1, 3);
        assert!(w.iter().all(|o| o.kind == StreamKind::Put && (o.key as usize) < 1000));
        assert_eq!("store".parse::<Workload>(), Ok(Workload::WriteOnly));
        let ins = stream(Workload::Insert, Distribution::Uniform, None, 1000, 1, 2, 3);
        let fresh: Vec<u32> = ins.iter().filter(|o| o.kind == StreamKind::Insert).map(|o| o.key).collect();
        assert_eq!(fresh.len(), fresh_keys(1000) / 2);
        assert!(fresh.iter().all(|&k| k >= 1000 && k % 2 == 1));
        let absent = stream(Workload::ReadAbsent, Distribution::Uniform, None, 1000, 0, 1, 3);
        assert!(absent.iter().all(|o| o.kind == StreamKind::Get && (1000..2000).contains(&o.key)));
        assert_eq!("read-miss".parse::<Workload>(), Ok(Workload::ReadAbsent));
    }
}
