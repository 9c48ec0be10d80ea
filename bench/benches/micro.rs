//! Micro-operations of every engine: single get, single put (overwrite) and a
//! batch get of 64, on SMALL (100k entries); LARGE (10M) too when
//! `NUMASHARD_BENCH_LARGE=1` (its loads take a while). One engine is loaded
//! at a time and dropped before the next.
//!
//! `cargo bench -p numashard-bench [-- <filter>]`

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use numashard_bench::engine::{Engine, EngineKind, Op, Reply};
use numashard_bench::runner;
use numashard_bench::workload::{value_bytes, KeySet, SplitMix64};
use std::hint::black_box;
use std::time::Duration;

const BATCH: usize = 64;
const OUT: usize = 64;
/// Random key indexes, cycled through (a power of two).
const PICKS: usize = 1 << 16;

fn tables() -> Vec<(&'static str, usize)> {
    let mut t = vec![("SMALL", 100_000)];
    if std::env::var_os("NUMASHARD_BENCH_LARGE").is_some_and(|v| v == "1") {
        t.push(("LARGE", 10_000_000));
    }
    t
}

fn bench_engine(c: &mut Criterion, table: &str, keys: &KeySet, picks: &[usize], engine: &dyn Engine, name: &str) {
    let value = value_bytes(32, 9);
    let key = |i: usize| keys.key(picks[i & (PICKS - 1)]);

    let mut group = c.benchmark_group(format!("{table}/get"));
    group.throughput(Throughput::Elements(1));
    group.bench_function(name, |b| {
        let (mut i, mut out) = (0, [0u8; OUT]);
        b.iter(|| {
            i += 1;
            black_box(engine.execute(&Op::Get(key(i)), &mut out))
        })
    });
    group.finish();

    let mut group = c.benchmark_group(format!("{table}/put"));
    group.throughput(Throughput::Elements(1));
    group.bench_function(name, |b| {
        let (mut i, mut out) = (0, [0u8; OUT]);
        b.iter(|| {
            i += 1;
            black_box(engine.execute(&Op::Put(key(i), &value), &mut out))
        })
    });
    group.finish();

    let mut group = c.benchmark_group(format!("{table}/batch_get_{BATCH}"));
    group.throughput(Throughput::Elements(BATCH as u64));
    group.bench_function(name, |b| {
        let mut i = 0;
        let mut ops: Vec<Op<'_>> = Vec::with_capacity(BATCH);
        let mut outs = vec![0u8; BATCH * OUT];
        let mut replies = vec![Reply::default(); BATCH];
        b.iter(|| {
            ops.clear();
            ops.extend((0..BATCH).map(|j| Op::Get(key(i + j))));
            i += BATCH;
            engine.execute_batch(&ops, &mut outs, OUT, &mut replies);
            black_box(&replies);
        })
    });
    group.finish();
}

fn micro(c: &mut Criterion) {
    for (table, entries) in tables() {
        let keys = KeySet::generate(entries, 16, 0x6e73);
        let mut rng = SplitMix64::new(5);
        let picks: Vec<usize> = (0..PICKS).map(|_| rng.below(entries as u64) as usize).collect();
        let value = value_bytes(32, 0);
        for kind in EngineKind::ALL {
            let engine = kind.build(0, 0).expect("open engine");
            runner::load(engine.as_ref(), &keys, entries, &value, 2).expect("load");
            bench_engine(c, table, &keys, &picks, engine.as_ref(), kind.name());
        }
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(20).warm_up_time(Duration::from_millis(300)).measurement_time(Duration::from_secs(1));
    targets = micro
}
criterion_main!(benches);
