//! Loading a table into an engine and driving an operation stream through
//! it from several threads, timing a sample of the operations.

use crate::engine::{Engine, Op, Reply};
use crate::memory::{resident_bytes, HeapCounter};
use crate::workload::{KeySet, StreamKind, StreamOp};
use hdrhistogram::Histogram;
use numashard::Status;
use std::hint::black_box;
use std::sync::Barrier;
use std::time::{Duration, Instant};

/// Ops per batch while loading.
const LOAD_BATCH: usize = 256;
/// Ops between two looks at the clock in the measured loop.
const CLOCK_EVERY: usize = 256;

/// What loading a table cost.
#[derive(Clone, Debug, Default)]
pub struct LoadReport {
    /// Entries in the engine after the load.
    pub entries: u64,
    /// Wall time of the load.
    pub seconds: f64,
    /// Net heap bytes allocated by the load (counting allocator), if installed.
    pub heap_bytes: Option<i64>,
    /// Bytes the engine mapped outside the heap (numashard), if any.
    pub mapped_bytes: Option<u64>,
    /// Growth of the resident set during the load.
    pub rss_bytes: Option<i64>,
}

impl LoadReport {
    /// Memory per entry: heap bytes plus mapped bytes, over entries.
    pub fn bytes_per_entry(&self) -> Option<f64> {
        let heap = self.heap_bytes?;
        Some((heap as f64 + self.mapped_bytes.unwrap_or(0) as f64) / self.entries.max(1) as f64)
    }

    /// A per-entry figure of `bytes`.
    pub fn per_entry(&self, bytes: Option<f64>) -> Option<f64> {
        bytes.map(|b| b / self.entries.max(1) as f64)
    }
}

/// Loads keys `0..entries` with `value`, from `threads` threads in batches.
///
/// Errors when an insert fails or the engine does not end up holding exactly `entries` entries.
pub fn load(
    engine: &dyn Engine,
    keys: &KeySet,
    entries: usize,
    value: &[u8],
    threads: usize,
) -> Result<LoadReport, String> {
    let rss_before = resident_bytes();
    let heap = HeapCounter::start();
    let started = Instant::now();
    let threads = threads.max(1);
    let failures: usize = std::thread::scope(|s| {
        let workers: Vec<_> = (0..threads)
            .map(|t| {
                s.spawn(move || {
                    let (lo, hi) = (entries * t / threads, entries * (t + 1) / threads);
                    let mut failed = 0;
                    let mut replies = vec![Reply::default(); LOAD_BATCH];
                    let mut outs = vec![0u8; LOAD_BATCH];
                    for start in (lo..hi).step_by(LOAD_BATCH) {
                        let ops: Vec<Op<'_>> =
                            (start..hi.min(start + LOAD_BATCH)).map(|i| Op::Put(keys.key(i), value)).collect();
                        engine.execute_batch(&ops, &mut outs, 1, &mut replies[..ops.len()]);
                        failed += replies[..ops.len()].iter().filter(|r| r.status != Status::Ok).count();
                    }
                    failed
                })
            })
            .collect();
        workers.into_iter().map(|w| w.join().expect("loader thread")).sum()
    });
    let seconds = started.elapsed().as_secs_f64();
    let heap_bytes = heap.finish();
    let rss_bytes = match (rss_before, resident_bytes()) {
        (Some(a), Some(b)) => Some(b as i64 - a as i64),
        _ => None,
    };
    let held = engine.len();
    if failures > 0 || held != entries as u64 {
        return Err(format!("load failed: {failures} inserts failed, engine holds {held} of {entries} entries"));
    }
    Ok(LoadReport { entries: held, seconds, heap_bytes, mapped_bytes: engine.mapped_bytes(), rss_bytes })
}

/// How one row is driven.
#[derive(Clone, Debug)]
pub struct RowSpec {
    /// Ops per batch; 0 = single calls.
    pub batch: usize,
    /// Client threads (one stream each).
    pub threads: usize,
    /// Measured time, unless the stream or `max_ops` ends first.
    pub duration: Duration,
    /// Unmeasured time before, on the same stream.
    pub warmup: Duration,
    /// Stop a thread after this many ops (in addition to the duration).
    pub max_ops: Option<u64>,
    /// Time one op in this many (single calls) or one batch per this many ops.
    pub sample_every: u64,
    /// Play each stream once instead of cycling (inserts of fresh keys).
    pub play_once: bool,
    /// Largest value the engine holds (output buffer size).
    pub max_value: usize,
}

/// What one row measured.
pub struct Measurement {
    /// Operations completed by all threads.
    pub ops: u64,
    /// The longest thread's measured time.
    pub seconds: f64,
    /// Sampled latencies in ns, per op (single calls) or per batch.
    pub latency: Histogram<u64>,
    /// Replies whose status was not `Ok` (misses, failures): 0 for every all-hit workload.
    pub not_ok: u64,
}

impl Measurement {
    /// Throughput in millions of operations per second.
    pub fn mops(&self) -> f64 {
        self.ops as f64 / self.seconds.max(1e-9) / 1e6
    }
}

/// A histogram for latencies from 1 ns to 100 s at 3 significant digits.
pub fn latency_histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 100_000_000_000, 3).expect("valid histogram bounds")
}

fn record(hist: &mut Histogram<u64>, since: Instant) {
    let ns = since.elapsed().as_nanos().min(u64::MAX as u128) as u64;
    hist.saturating_record(ns.max(1));
}

/// One thread's view of the run.
struct Driver<'a> {
    engine: &'a dyn Engine,
    keys: &'a KeySet,
    stream: &'a [StreamOp],
    value: &'a [u8],
    spec: &'a RowSpec,
    pos: usize,
    finished: bool,
}

impl<'a> Driver<'a> {
    /// The next op of the stream, or `None` when a play-once stream is done.
    #[inline]
    fn next_op(&mut self) -> Option<Op<'a>> {
        if self.pos == self.stream.len() {
            if self.spec.play_once || self.stream.is_empty() {
                self.finished = true;
                return None;
            }
            self.pos = 0;
        }
        let s = self.stream[self.pos];
        self.pos += 1;
        let key = self.keys.key(s.key as usize);
        Some(match s.kind {
            StreamKind::Get => Op::Get(key),
            StreamKind::Put | StreamKind::Insert => Op::Put(key, self.value),
            StreamKind::Add => Op::Add(key, 1),
        })
    }

    /// Runs until `until` (or the stream or op budget ends); returns (ops, not_ok).
    fn run(&mut self, until: Instant, max_ops: u64, mut hist: Option<&mut Histogram<u64>>) -> (u64, u64) {
        let (mut ops, mut not_ok) = (0u64, 0u64);
        let sample = self.spec.sample_every.max(1);
        let mut out = vec![0u8; self.spec.max_value.max(8)];
        let stride = out.len();
        if self.spec.batch == 0 {
            let mut countdown = sample;
            'outer: while !self.finished && ops < max_ops {
                for _ in 0..CLOCK_EVERY {
                    let Some(op) = self.next_op() else { break 'outer };
                    countdown -= 1;
                    let reply = match hist.as_deref_mut() {
                        Some(h) if countdown == 0 => {
                            countdown = sample;
                            let t = Instant::now();
                            let r = self.engine.execute(&op, &mut out);
                            record(h, t);
                            r
                        }
                        _ => self.engine.execute(&op, &mut out),
                    };
                    not_ok += (black_box(reply).status != Status::Ok) as u64;
                    ops += 1;
                }
                if Instant::now() >= until {
                    break;
                }
            }
        } else {
            let b = self.spec.batch;
            let mut batch: Vec<Op<'a>> = Vec::with_capacity(b);
            let mut outs = vec![0u8; b * stride];
            let mut replies = vec![Reply::default(); b];
            let sample_batches = (4 * sample).div_ceil(b as u64).max(1);
            let clock_batches = CLOCK_EVERY.div_ceil(b);
            let mut countdown = sample_batches;
            'outer: while !self.finished && ops < max_ops {
                for _ in 0..clock_batches {
                    batch.clear();
                    while batch.len() < b {
                        match self.next_op() {
                            Some(op) => batch.push(op),
                            None => break,
                        }
                    }
                    if batch.is_empty() {
                        break 'outer;
                    }
                    let n = batch.len();
                    countdown -= 1;
                    match hist.as_deref_mut() {
                        Some(h) if countdown == 0 => {
                            countdown = sample_batches;
                            let t = Instant::now();
                            self.engine.execute_batch(&batch, &mut outs, stride, &mut replies[..n]);
                            record(h, t);
                        }
                        _ => self.engine.execute_batch(&batch, &mut outs, stride, &mut replies[..n]),
                    }
                    not_ok += black_box(&replies[..n]).iter().filter(|r| r.status != Status::Ok).count() as u64;
                    ops += n as u64;
                }
                if Instant::now() >= until {
                    break;
                }
            }
        }
        (ops, not_ok)
    }
}

/// Drives `streams[t]` through `engine` from thread `t`, for each of
/// `spec.threads` threads (threads beyond the streams reuse them cyclically),
/// each writing `values[t % values.len()]` on puts.
pub fn measure(
    engine: &dyn Engine,
    keys: &KeySet,
    streams: &[Vec<StreamOp>],
    values: &[Vec<u8>],
    spec: &RowSpec,
) -> Measurement {
    let threads = spec.threads.max(1);
    let barrier = Barrier::new(threads);
    let results: Vec<(u64, u64, f64, Histogram<u64>)> = std::thread::scope(|s| {
        let workers: Vec<_> = (0..threads)
            .map(|t| {
                let barrier = &barrier;
                s.spawn(move || {
                    let mut driver = Driver {
                        engine,
                        keys,
                        stream: &streams[t % streams.len()],
                        value: &values[t % values.len()],
                        spec,
                        pos: 0,
                        finished: false,
                    };
                    if !spec.warmup.is_zero() {
                        driver.run(Instant::now() + spec.warmup, u64::MAX, None);
                    }
                    let mut hist = latency_histogram();
                    barrier.wait();
                    let start = Instant::now();
                    let (ops, not_ok) =
                        driver.run(start + spec.duration, spec.max_ops.unwrap_or(u64::MAX), Some(&mut hist));
                    (ops, not_ok, start.elapsed().as_secs_f64(), hist)
                })
            })
            .collect();
        workers.into_iter().map(|w| w.join().expect("driver thread")).collect()
    });
    let mut latency = latency_histogram();
    let (mut ops, mut not_ok, mut seconds) = (0, 0, 0f64);
    for (o, n, secs, h) in results {
        ops += o;
        not_ok += n;
        seconds = seconds.max(secs);
        latency.add(&h).expect("same histogram bounds");
    }
    Measurement { ops, seconds, latency, not_ok }
}
