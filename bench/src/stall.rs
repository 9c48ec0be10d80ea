//! The iteration / hot-reload question: how long does a writer stall while
//! another thread iterates the whole map, or swaps its whole contents with
//! `replace_all`? numashard only: the peers have no iteration that is safe
//! under concurrent writes with a stated guarantee, and no atomic
//! whole-map swap.

use crate::runner::latency_histogram;
use crate::workload::{value_bytes, KeySet, SplitMix64};
use hdrhistogram::Histogram;
use numashard::{Config, Map};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// What the writer saw during one phase.
#[derive(Clone, Debug)]
pub struct StallPhase {
    /// `baseline` (writer alone), `iterate` or `replace_all`.
    pub phase: &'static str,
    /// Wall time of the phase (the iteration, the replace_all call, or the baseline window).
    pub phase_seconds: f64,
    /// Puts the writer completed during the phase.
    pub writer_puts: u64,
    /// Latency of each of those puts.
    pub latency: Histogram<u64>,
    /// Entries the iteration returned (iterate phase).
    pub iterated: Option<u64>,
}

/// The stall measurement and the map's own view of it.
#[derive(Clone, Debug)]
pub struct StallReport {
    /// One entry per phase.
    pub phases: Vec<StallPhase>,
    /// numashard's `stats().replace_stall_max_ns` after the run.
    pub replace_stall_max_ns: u64,
}

const PHASES: [&str; 3] = ["baseline", "iterate", "replace_all"];
const IDLE: usize = usize::MAX;

/// Loads `entries` keys into a numashard map, then runs a writer thread doing
/// puts on random loaded keys (timing every put) through three phases: alone
/// for `baseline`, during one full iteration, during one `replace_all` with
/// new values for the same keys.
pub fn run(
    keys: &KeySet,
    entries: usize,
    value_size: usize,
    shards: usize,
    baseline: Duration,
) -> numashard::Result<StallReport> {
    let map = Map::new(Config { shards, ..Config::default() })?;
    let old = value_bytes(value_size, 1);
    for start in (0..entries).step_by(1024) {
        let mut ops: Vec<numashard::BatchOp<'_>> =
            (start..entries.min(start + 1024)).map(|i| numashard::BatchOp::put(keys.key(i), &old)).collect();
        map.batch(&mut ops)?;
    }
    let new = value_bytes(value_size, 2);
    let replacement: Vec<(&[u8], &[u8])> = (0..entries).map(|i| (keys.key(i), new.as_slice())).collect();

    let phase = AtomicUsize::new(IDLE);
    let stop = AtomicBool::new(false);
    let mut timings: Vec<(f64, Option<u64>)> = Vec::new();
    let per_phase = std::thread::scope(|s| -> numashard::Result<Vec<(u64, Histogram<u64>)>> {
        let writer = s.spawn(|| {
            let mut hists: Vec<(u64, Histogram<u64>)> = PHASES.iter().map(|_| (0, latency_histogram())).collect();
            let mut rng = SplitMix64::new(0x57a1);
            let value = value_bytes(value_size, 3);
            while !stop.load(Ordering::Relaxed) {
                let key = keys.key(rng.below(entries as u64) as usize);
                let p = phase.load(Ordering::Acquire);
                let t = Instant::now();
                let ok = map.put(key, &value).is_ok();
                let ns = t.elapsed().as_nanos() as u64;
                if ok && p != IDLE {
                    hists[p].0 += 1;
                    hists[p].1.saturating_record(ns.max(1));
                }
            }
            hists
        });
        let mut timed = |index: usize, f: &mut dyn FnMut() -> numashard::Result<Option<u64>>| {
            phase.store(index, Ordering::Release);
            let t = Instant::now();
            let result = f();
            let secs = t.elapsed().as_secs_f64();
            phase.store(IDLE, Ordering::Release);
            result.map(|n| timings.push((secs, n)))
        };
        let outcome = (|| {
            std::thread::sleep(Duration::from_millis(50));
            timed(0, &mut || {
                std::thread::sleep(baseline);
                Ok(None)
            })?;
            timed(1, &mut || {
                let mut it = map.iter()?;
                let mut n = 0u64;
                while it.next_entry()?.is_some() {
                    n += 1;
                }
                Ok(Some(n))
            })?;
            timed(2, &mut || map.replace_all(&replacement).map(|()| None))
        })();
        stop.store(true, Ordering::Relaxed);
        let hists = writer.join().expect("writer thread");
        outcome.map(|()| hists)
    })?;
    let phases = PHASES
        .iter()
        .zip(per_phase)
        .zip(timings)
        .map(|((&phase, (writer_puts, latency)), (phase_seconds, iterated))| StallPhase {
            phase,
            phase_seconds,
            writer_puts,
            latency,
            iterated,
        })
        .collect();
    Ok(StallReport { phases, replace_stall_max_ns: map.stats()?.replace_stall_max_ns })
}
