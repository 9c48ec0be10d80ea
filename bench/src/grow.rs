//! The growth question: while a map fills from empty, one key at a time,
//! how long do its writer and a concurrent reader wait when the table
//! resizes? Every engine starts with no capacity reserved, so each grows as
//! it would in a program that did not size it up front; with `presize`,
//! every engine is made with room for the whole fill instead (numashard's
//! `initial_capacity`, the peers' `with_capacity`). The reader reads
//! random keys among those already stored; every one must be found.

use crate::engine::{Engine, EngineKind, Op};
use crate::runner::latency_histogram;
use crate::workload::{value_bytes, KeySet, SplitMix64};
use hdrhistogram::Histogram;
use numashard::Status;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Instant;

/// What one engine's fill looked like.
#[derive(Clone, Debug)]
pub struct GrowReport {
    /// Wall time of the whole fill.
    pub fill_seconds: f64,
    /// Latency of every put of the fill.
    pub puts: Histogram<u64>,
    /// Latency of the reader's gets during the fill.
    pub gets: Histogram<u64>,
    /// Gets of a stored key that did not find it (must be 0).
    pub missing: u64,
    /// The longest hold of a shard's lock to double its index, when the
    /// engine says (numashard).
    pub grow_hold_max_ns: Option<u64>,
}

/// Fills a new `kind` engine (sized for `entries` up front when `presize`)
/// with `entries` keys from one thread while another reads.
pub fn run(
    kind: EngineKind,
    keys: &KeySet,
    entries: usize,
    value_size: usize,
    shards: usize,
    presize: bool,
) -> numashard::Result<GrowReport> {
    let engine: Box<dyn Engine> = kind.build(if presize { entries } else { 0 }, shards)?;
    let engine = engine.as_ref();
    let value = value_bytes(value_size, 1);
    let stored = AtomicUsize::new(0);
    let done = AtomicBool::new(false);
    let (fill_seconds, puts, (gets, missing)) = std::thread::scope(|s| {
        let reader = s.spawn(|| {
            let mut hist = latency_histogram();
            let mut rng = SplitMix64::new(0x9a0e);
            let mut out = vec![0u8; value_size.max(8)];
            let mut missing = 0u64;
            while !done.load(Ordering::Acquire) {
                let upto = stored.load(Ordering::Acquire);
                if upto == 0 {
                    std::hint::spin_loop();
                    continue;
                }
                let key = keys.key(rng.below(upto as u64) as usize);
                let t = Instant::now();
                let reply = engine.execute(&Op::Get(key), &mut out);
                hist.saturating_record((t.elapsed().as_nanos() as u64).max(1));
                if reply.status != Status::Ok {
                    missing += 1;
                }
            }
            (hist, missing)
        });
        let mut puts = latency_histogram();
        let mut out = vec![0u8; 8];
        let start = Instant::now();
        for i in 0..entries {
            let t = Instant::now();
            let reply = engine.execute(&Op::Put(keys.key(i), &value), &mut out);
            puts.saturating_record((t.elapsed().as_nanos() as u64).max(1));
            assert_eq!(reply.status, Status::Ok, "{kind}: put {i}");
            stored.store(i + 1, Ordering::Release);
        }
        let fill = start.elapsed().as_secs_f64();
        done.store(true, Ordering::Release);
        (fill, puts, reader.join().expect("reader thread"))
    });
    Ok(GrowReport { fill_seconds, puts, gets, missing, grow_hold_max_ns: engine.grow_hold_max_ns() })
}
