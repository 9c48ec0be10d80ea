//! `numashard-bench`: runs the same workloads, on the same pre-generated keys
//! and operation streams, against numashard (in each of its modes) and its
//! peers, in one run; prints a table with ratios against the best peer and
//! writes JSON and SVG plots. `numashard-bench --help` lists the options.

use clap::Parser;
use hdrhistogram::Histogram;
use indicatif::{ProgressBar, ProgressStyle};
use numashard_bench::engine::{Engine, EngineKind};
use numashard_bench::memory::CountingAllocator;
use numashard_bench::report::{self, Row, NAMED_TABLES};
use numashard_bench::runner::{self, latency_histogram, LoadReport, RowSpec};
use numashard_bench::workload::{self, Distribution, KeySet, StreamOp, Workload, Zipf};
use numashard_bench::{grow, plot, snapshot, stall, system};
use serde_json::json;
use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

#[global_allocator]
static ALLOCATOR: CountingAllocator = CountingAllocator;

/// Compare numashard with dashmap, scc, papaya and a sharded RwLock<HashMap>
/// on the same keys and operation streams.
#[derive(Parser, Debug)]
#[command(name = "numashard-bench", version)]
struct Args {
    /// Engines to run (numashard, numashard-delegate, dashmap, scc, papaya, rwlock16; also
    /// numashard-x4: four times the shards, for comparing shard counts in one run; ceiling:
    /// the memory system's limit for gets, no concurrency control, read-only rows only; and
    /// ceiling-inline: the same with entries of up to 48 bytes inline in the index, the gain an
    /// engine redesign could at best deliver).
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "numashard,numashard-delegate,dashmap,scc,papaya,rwlock16,ceiling"
    )]
    engines: Vec<EngineKind>,
    /// Workloads: read-only, read-absent (every get misses), read-95, update-50, write-only (every op an overwrite), rmw, insert;
    /// `stall` measures writer stalls during
    /// iteration and replace_all (numashard only); `grow` fills each engine from empty, one put at a time, while a reader
    /// reads stored keys, and reports both sides' waits while tables resize; `snapshot` times save and load against the disk's
    /// bandwidth (and Redis with --redis) and the writer stall during a save; `idle` measures the CPU an open, loaded map uses
    /// with no traffic (every engine, `--duration` seconds).
    #[arg(
        long = "workload",
        alias = "workloads",
        value_delimiter = ',',
        default_value = "read-only,read-95,update-50"
    )]
    workloads: Vec<String>,
    /// Key distributions: uniform, zipf.
    #[arg(long, value_delimiter = ',', default_value = "uniform")]
    dist: Vec<String>,
    /// Zipf exponent, in (0, 1).
    #[arg(long, default_value_t = 0.99)]
    theta: f64,
    /// Table sizes: tiny (20k), small (100k), large (10M), or an entry count.
    #[arg(long = "table", alias = "tables", value_delimiter = ',', default_value = "tiny,small")]
    tables: Vec<String>,
    /// Key size in bytes (at least 8).
    #[arg(long, default_value_t = 16)]
    key_size: usize,
    /// Value size in bytes (rmw uses 8-byte counters).
    #[arg(long, default_value_t = 32)]
    value_size: usize,
    /// Client thread counts.
    #[arg(long, value_delimiter = ',', default_value = "1,2")]
    threads: Vec<usize>,
    /// Modes: `single` (one call per op) and/or batch sizes.
    #[arg(long, value_delimiter = ',', default_value = "single,64")]
    batch: Vec<String>,
    /// Measured seconds per row.
    #[arg(long, default_value_t = 1.0)]
    duration: f64,
    /// Unmeasured warm-up seconds per row (default: a fifth of --duration).
    #[arg(long)]
    warmup: Option<f64>,
    /// Stop each thread after this many ops (besides --duration).
    #[arg(long)]
    ops: Option<u64>,
    /// Repeat the whole sequence this many times (rows report the median).
    #[arg(long, default_value_t = 1)]
    repeat: usize,
    /// Time one op in this many (batches: one batch per 4x this many ops).
    #[arg(long, default_value_t = 32)]
    sample_every: u64,
    /// numashard shards (0 = one per allowed CPU).
    #[arg(long, default_value_t = 0)]
    shards: usize,
    /// Make every engine with room for the table's entries (numashard's
    /// `initial_capacity`, the peers' `with_capacity`) instead of empty,
    /// before loading it (`grow`: before the fill it measures).
    /// `numashard-placed` is always made so.
    #[arg(long)]
    presize: bool,
    /// Bind every numashard shard's memory to another node than its CPU's (wrong placement, on purpose).
    #[arg(long)]
    misplace_memory: bool,
    /// Seed of keys and streams.
    #[arg(long, default_value_t = 0x6e75_6d61)]
    seed: u64,
    /// Seconds the stall workload's writer runs alone as a baseline.
    #[arg(long, default_value_t = 1.0)]
    stall_baseline: f64,
    /// Directory the `snapshot` workload saves into (emptied first, removed after).
    #[arg(long, default_value = "target/snapshot-bench")]
    snapshot_dir: PathBuf,
    /// The `snapshot` workload also times Redis restarting from its RDB of the same keys.
    #[arg(long)]
    redis: bool,
    /// Loopback port of the `snapshot` workload's redis-server.
    #[arg(long, default_value_t = 16379)]
    redis_port: u16,
    /// Tables up to this many entries are loaded into every engine at once, so that each row runs
    /// the engines in turn (rotating every round) and changes in the machine's load hit all alike;
    /// larger tables hold one engine in memory at a time.
    #[arg(long, default_value_t = 1_000_000)]
    interleave_max: usize,
    /// Directory for the JSON and SVG files.
    #[arg(long, default_value = "target/bench-results")]
    out_dir: PathBuf,
    /// File stem: <out-dir>/<name>.json, <name>-threads.svg, <name>-batch.svg.
    #[arg(long, default_value = "bench")]
    name: String,
    /// Write no SVG.
    #[arg(long)]
    no_plot: bool,
}

fn parse_table(s: &str) -> Result<usize, String> {
    NAMED_TABLES
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(s))
        .map(|&(_, e)| e)
        .or_else(|| s.replace('_', "").parse().ok())
        .filter(|&e| e >= 2)
        .ok_or_else(|| format!("bad table size {s:?} (tiny, small, large or a count >= 2)"))
}

fn parse_batch(s: &str) -> Result<usize, String> {
    if s == "single" {
        return Ok(0);
    }
    s.parse().ok().filter(|&b| b > 0).ok_or_else(|| format!("bad batch {s:?} (single or a size >= 1)"))
}

/// The run, validated.
struct Plan {
    engines: Vec<EngineKind>,
    workloads: Vec<Workload>,
    stall: bool,
    grow: bool,
    snapshot: bool,
    idle: bool,
    dists: Vec<Distribution>,
    tables: Vec<usize>,
    threads: Vec<usize>,
    batches: Vec<usize>,
}

impl Plan {
    fn from_args(a: &Args) -> Result<Plan, String> {
        let mut workloads = Vec::new();
        let mut stall = false;
        let mut grow = false;
        let mut snapshot = false;
        let mut idle = false;
        for w in &a.workloads {
            if w == "stall" {
                stall = true;
            } else if w == "grow" {
                grow = true;
            } else if w == "snapshot" {
                snapshot = true;
            } else if w == "idle" {
                idle = true;
            } else {
                workloads.push(w.parse::<Workload>()?);
            }
        }
        let dists = a
            .dist
            .iter()
            .map(|d| match d.as_str() {
                "uniform" => Ok(Distribution::Uniform),
                "zipf" if a.theta > 0.0 && a.theta < 1.0 => Ok(Distribution::Zipf(a.theta)),
                "zipf" => Err(format!("--theta must be in (0, 1), got {}", a.theta)),
                _ => Err(format!("unknown distribution {d:?} (uniform, zipf)")),
            })
            .collect::<Result<_, _>>()?;
        if a.key_size < KeySet::MIN_KEY_SIZE {
            return Err(format!("--key-size must be at least {}", KeySet::MIN_KEY_SIZE));
        }
        if a.threads.contains(&0) {
            return Err("--threads must be at least 1".into());
        }
        Ok(Plan {
            engines: a.engines.clone(),
            workloads,
            stall,
            grow,
            snapshot,
            idle,
            dists,
            tables: a.tables.iter().map(|t| parse_table(t)).collect::<Result<_, _>>()?,
            threads: a.threads.clone(),
            batches: a.batch.iter().map(|b| parse_batch(b)).collect::<Result<_, _>>()?,
        })
    }

    fn rows_per_round(&self) -> u64 {
        let pairs = self.engines.iter().flat_map(|e| self.workloads.iter().filter(|&&w| e.supports(w))).count();
        let per_table = pairs * self.dists.len() * self.threads.len() * self.batches.len();
        let idle = if self.idle { self.engines.len() } else { 0 };
        let idle = idle + if self.grow { self.engines.iter().filter(|e| !e.is_ceiling()).count() } else { 0 };
        (self.tables.len() * (per_table + self.stall as usize + self.snapshot as usize + idle)) as u64
    }
}

/// Identifies a row across repeats.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord)]
struct RowKey {
    entries: usize,
    workload: Workload,
    dist: usize,
    threads: usize,
    batch: usize,
    engine: EngineKind,
}

/// A row's measurements over the repeats.
struct Acc {
    mops_runs: Vec<f64>,
    ops: u64,
    seconds: f64,
    latency: Histogram<u64>,
    not_ok: u64,
    load: LoadReport,
    placement: Option<serde_json::Value>,
}

fn median(xs: &[f64]) -> f64 {
    let mut v = xs.to_vec();
    v.sort_by(f64::total_cmp);
    if v.is_empty() {
        0.0
    } else if v.len() % 2 == 1 {
        v[v.len() / 2]
    } else {
        (v[v.len() / 2 - 1] + v[v.len() / 2]) / 2.0
    }
}

/// One row of a table: workload, distribution index, threads, batch (0 = single).
#[derive(Clone, Copy)]
struct RowConfig {
    workload: Workload,
    dist: usize,
    threads: usize,
    batch: usize,
}

/// Rows that share a loaded table: every workload that keeps the key set
/// (counter workloads apart), then each insert row alone on a fresh table.
fn row_groups(plan: &Plan) -> Vec<Vec<RowConfig>> {
    let rows_of = |w: Workload| {
        let mut rows = Vec::new();
        for dist in 0..plan.dists.len() {
            for &threads in &plan.threads {
                for &batch in &plan.batches {
                    rows.push(RowConfig { workload: w, dist, threads, batch });
                }
            }
        }
        rows
    };
    let mut groups = Vec::new();
    for counters in [false, true] {
        let group: Vec<RowConfig> = plan
            .workloads
            .iter()
            .filter(|w| !w.grows_table() && w.uses_counters() == counters)
            .flat_map(|&w| rows_of(w))
            .collect();
        if !group.is_empty() {
            groups.push(group);
        }
    }
    for &w in plan.workloads.iter().filter(|w| w.grows_table()) {
        groups.extend(rows_of(w).into_iter().map(|r| vec![r]));
    }
    groups
}

/// An engine with its table loaded.
struct Loaded {
    kind: EngineKind,
    engine: Box<dyn Engine>,
    load: LoadReport,
    placement: Option<serde_json::Value>,
}

/// Everything the rows of one table share.
struct TableRun<'a> {
    args: &'a Args,
    plan: &'a Plan,
    entries: usize,
    table: String,
    keys: &'a KeySet,
    zipfs: &'a [Option<Zipf>],
    streams: HashMap<(Workload, usize, usize), Vec<Vec<StreamOp>>>,
    accs: &'a mut BTreeMap<RowKey, Acc>,
    progress: &'a ProgressBar,
    duration: Duration,
    warmup: Duration,
}

impl TableRun<'_> {
    /// Measures one row on one loaded engine and adds it to the row's repeats.
    fn run_row(&mut self, loaded: &Loaded, row: &RowConfig, round: usize) {
        let RowConfig { workload: w, dist: d, threads, batch } = *row;
        if !loaded.kind.supports(w) {
            return;
        }
        let (args, entries) = (self.args, self.entries);
        let dist = self.plan.dists[d];
        let zipf = self.zipfs[d].as_ref();
        let streams = self.streams.entry((w, d, threads)).or_insert_with(|| {
            (0..threads).map(|t| workload::stream(w, dist, zipf, entries, t, threads, args.seed)).collect()
        });
        let value_size = if w.uses_counters() { 8 } else { args.value_size };
        let values: Vec<Vec<u8>> = (0..threads).map(|t| workload::value_bytes(value_size, 100 + t as u64)).collect();
        let mode = if batch == 0 { "single".to_string() } else { format!("batch {batch}") };
        self.progress.set_message(format!(
            "{} {w} {} {threads}t {mode} · {} (round {}/{})",
            self.table,
            dist.name(),
            loaded.kind,
            round + 1,
            args.repeat
        ));
        let spec = RowSpec {
            batch,
            threads,
            duration: self.duration,
            warmup: if w.grows_table() { Duration::ZERO } else { self.warmup },
            max_ops: args.ops,
            sample_every: args.sample_every,
            play_once: w.grows_table(),
            max_value: value_size,
        };
        let m = runner::measure(loaded.engine.as_ref(), self.keys, streams, &values, &spec);
        let key = RowKey { entries, workload: w, dist: d, threads, batch, engine: loaded.kind };
        let acc = self.accs.entry(key).or_insert_with(|| Acc {
            mops_runs: Vec::new(),
            ops: 0,
            seconds: 0.0,
            latency: latency_histogram(),
            not_ok: 0,
            load: loaded.load.clone(),
            placement: loaded.placement.clone(),
        });
        acc.mops_runs.push(m.mops());
        acc.ops += m.ops;
        acc.seconds += m.seconds;
        acc.not_ok += m.not_ok;
        acc.latency.add(&m.latency).expect("same histogram bounds");
        self.progress.inc(1);
    }
}

fn main() -> ExitCode {
    let args = Args::parse();
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("numashard-bench: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: &Args) -> Result<(), String> {
    let plan = Plan::from_args(args)?;
    numashard_bench::numashard_engine::MISPLACE_MEMORY
        .store(args.misplace_memory, std::sync::atomic::Ordering::Relaxed);
    let started = Instant::now();
    let started_unix = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let env = system::describe(args.shards);
    for line in &env.lines {
        println!("{line}");
    }
    println!();

    let total = plan.rows_per_round() * args.repeat as u64;
    let progress = ProgressBar::new(total).with_style(
        ProgressStyle::with_template("{elapsed_precise} [{bar:30}] {pos}/{len} rows · {msg}")
            .expect("valid template")
            .progress_chars("=> "),
    );
    let duration = Duration::from_secs_f64(args.duration);
    let warmup = Duration::from_secs_f64(args.warmup.unwrap_or(args.duration / 5.0));
    let load_threads = std::thread::available_parallelism().map_or(2, |n| n.get());

    let mut accs: BTreeMap<RowKey, Acc> = BTreeMap::new();
    let mut stall_rows: Vec<Row> = Vec::new();
    let sizes = (args.key_size, args.value_size);
    for &entries in &plan.tables {
        let table = report::table_name(entries as u64);
        let needs_fresh = plan.workloads.iter().any(|w| w.needs_fresh_keys());
        let key_count = entries + if needs_fresh { workload::fresh_keys(entries) } else { 0 };
        progress.set_message(format!("{table}: generating {key_count} keys"));
        let keys = KeySet::generate(key_count, args.key_size, args.seed);
        let zipfs: Vec<Option<Zipf>> =
            plan.dists.iter().map(|d| d.theta().map(|t| Zipf::new(entries as u64, t))).collect();
        let mut table_run = TableRun {
            args,
            plan: &plan,
            entries,
            table: table.clone(),
            keys: &keys,
            zipfs: &zipfs,
            streams: HashMap::new(),
            accs: &mut accs,
            progress: &progress,
            duration,
            warmup,
        };
        for group in row_groups(&plan) {
            let counters = group[0].workload.uses_counters();
            let load_value =
                if counters { 0i64.to_le_bytes().to_vec() } else { workload::value_bytes(args.value_size, 0) };
            let load_engine = |kind: EngineKind| -> Result<Loaded, String> {
                progress.set_message(format!("{table}: loading {entries} entries into {kind}"));
                let engine = kind
                    .build_for_table(entries, args.presize, args.shards)
                    .map_err(|e| format!("cannot open {kind}: {e}"))?;
                let load = runner::load(engine.as_ref(), &keys, entries, &load_value, load_threads)
                    .map_err(|e| format!("{kind}, {table}: {e}"))?;
                let placement = engine.placement();
                Ok(Loaded { kind, engine, load, placement })
            };
            if !group[0].workload.grows_table() && entries <= args.interleave_max {
                // Every engine loaded at once; each row runs on each engine in
                // turn (the order rotating every round), so that changes in the
                // machine's background load hit all engines alike.
                let loaded = plan.engines.iter().map(|&k| load_engine(k)).collect::<Result<Vec<_>, _>>()?;
                for round in 0..args.repeat {
                    for row in &group {
                        for i in 0..loaded.len() {
                            table_run.run_row(&loaded[(i + round) % loaded.len()], row, round);
                        }
                    }
                }
            } else {
                // One engine in memory at a time (LARGE), or a fresh table per row (inserts).
                for round in 0..args.repeat {
                    for &kind in plan.engines.iter().filter(|k| group.iter().any(|r| k.supports(r.workload))) {
                        let loaded = load_engine(kind)?;
                        for row in &group {
                            table_run.run_row(&loaded, row, round);
                        }
                    }
                }
            }
        }
        drop(table_run);

        if plan.stall {
            progress.set_message(format!("{table}: stall (writer during iteration and replace_all)"));
            let report =
                stall::run(&keys, entries, args.value_size, args.shards, Duration::from_secs_f64(args.stall_baseline))
                    .map_err(|e| format!("stall, {table}: {e}"))?;
            for p in &report.phases {
                let lat = &p.latency;
                stall_rows.push(Row {
                    ops: p.writer_puts,
                    seconds: p.phase_seconds,
                    mops: p.writer_puts as f64 / p.phase_seconds.max(1e-9) / 1e6,
                    p50_ns: lat.value_at_quantile(0.5),
                    p99_ns: lat.value_at_quantile(0.99),
                    p999_ns: lat.value_at_quantile(0.999),
                    max_ns: lat.max(),
                    latency_samples: lat.len(),
                    stall: Some(json!({
                        "phase_seconds": p.phase_seconds,
                        "iterated_entries": p.iterated,
                        "max_stall_ns": lat.max(),
                        "replace_stall_max_ns_from_stats": report.replace_stall_max_ns,
                    })),
                    ..Row::special("numashard", p.phase, "stall", &table, entries as u64, sizes)
                });
            }
            progress.inc(1);
        }

        if plan.grow {
            for &kind in plan.engines.iter().filter(|k| !k.is_ceiling()) {
                progress.set_message(format!("{table}: {kind} grow (a fill from empty with a reader)"));
                let r = grow::run(kind, &keys, entries, args.value_size, args.shards, args.presize)
                    .map_err(|e| format!("grow, {kind}, {table}: {e}"))?;
                stall_rows.push(Row {
                    ops: r.puts.len(),
                    seconds: r.fill_seconds,
                    mops: r.puts.len() as f64 / r.fill_seconds.max(1e-9) / 1e6,
                    p50_ns: r.puts.value_at_quantile(0.5),
                    p99_ns: r.puts.value_at_quantile(0.99),
                    p999_ns: r.puts.value_at_quantile(0.999),
                    max_ns: r.puts.max(),
                    latency_samples: r.puts.len(),
                    not_ok: r.missing,
                    stall: Some(json!({
                        "grow": true,
                        "presized": args.presize,
                        "fill_seconds": r.fill_seconds,
                        "gets": r.gets.len(),
                        "get_p50_ns": r.gets.value_at_quantile(0.5),
                        "get_p999_ns": r.gets.value_at_quantile(0.999),
                        "get_max_ns": r.gets.max(),
                        "gets_missing": r.missing,
                        "grow_hold_max_ns": r.grow_hold_max_ns,
                    })),
                    ..Row::special(kind.name(), "grow", "grow", &table, entries as u64, sizes)
                });
                progress.inc(1);
            }
        }

        if plan.snapshot {
            progress.set_message(format!(
                "{table}: snapshot (save, load, writer stall{})",
                if args.redis { ", redis" } else { "" }
            ));
            let opts = snapshot::SnapshotOptions {
                dir: args.snapshot_dir.clone(),
                shards: args.shards,
                redis: args.redis,
                redis_port: args.redis_port,
                baseline: Duration::from_secs_f64(args.stall_baseline),
            };
            let result =
                snapshot::run(&keys, entries, args.value_size, &opts).map_err(|e| format!("snapshot, {table}: {e}"))?;
            let path = args.out_dir.join(format!("{}-snapshot-{table}.json", args.name));
            std::fs::create_dir_all(&args.out_dir).map_err(|e| e.to_string())?;
            std::fs::write(&path, serde_json::to_string_pretty(&result).unwrap_or_default())
                .map_err(|e| e.to_string())?;
            progress.inc(1);
        }

        if plan.idle {
            for &kind in &plan.engines {
                progress.set_message(format!("{table}: {kind} idle"));
                let engine = kind
                    .build_for_table(entries, args.presize, args.shards)
                    .map_err(|e| format!("cannot open {kind}: {e}"))?;
                let load = runner::load(
                    engine.as_ref(),
                    &keys,
                    entries,
                    &workload::value_bytes(args.value_size, 0),
                    load_threads,
                )
                .map_err(|e| format!("{kind}, {table}: {e}"))?;
                // Let the load's aftermath (owners reclaiming, parking) settle first.
                std::thread::sleep(Duration::from_millis(200));
                let (cpu, wall) = system::idle_cpu(duration);
                stall_rows.push(Row {
                    threads: 0,
                    seconds: wall,
                    bytes_per_entry: load.bytes_per_entry(),
                    load_seconds: load.seconds,
                    placement: engine.placement(),
                    stall: Some(json!({
                        "idle": true,
                        "process_cpu_seconds": cpu,
                        "wall_seconds": wall,
                        "core_percent": 100.0 * cpu / wall.max(1e-9),
                    })),
                    ..Row::special(kind.name(), "idle", "idle", &table, entries as u64, sizes)
                });
                progress.inc(1);
            }
        }
    }
    progress.finish_and_clear();

    let mut rows: Vec<Row> = accs
        .into_iter()
        .map(|(k, a)| {
            let dist = plan.dists[k.dist];
            let lat = &a.latency;
            Row {
                engine: k.engine.name().into(),
                mode: if k.batch == 0 { "single" } else { "batch" }.into(),
                workload: k.workload.name().into(),
                distribution: dist.name().into(),
                theta: dist.theta(),
                table: report::table_name(k.entries as u64),
                entries: k.entries as u64,
                key_size: args.key_size,
                value_size: if k.workload.uses_counters() { 8 } else { args.value_size },
                threads: k.threads,
                batch: k.batch.max(1),
                ops: a.ops,
                seconds: a.seconds,
                mops: median(&a.mops_runs),
                mops_runs: a.mops_runs,
                latency_unit: if k.batch == 0 { "op" } else { "batch" }.into(),
                p50_ns: lat.value_at_quantile(0.5),
                p99_ns: lat.value_at_quantile(0.99),
                p999_ns: lat.value_at_quantile(0.999),
                max_ns: lat.max(),
                latency_samples: lat.len(),
                not_ok: a.not_ok,
                bytes_per_entry: a.load.bytes_per_entry(),
                heap_bytes_per_entry: a.load.per_entry(a.load.heap_bytes.map(|b| b as f64)),
                mapped_bytes_per_entry: a.load.per_entry(a.load.mapped_bytes.map(|b| b as f64)),
                rss_bytes_per_entry: a.load.per_entry(a.load.rss_bytes.map(|b| b as f64)),
                load_seconds: a.load.seconds,
                best_peer: None,
                best_peer_mops: None,
                ratio_vs_best_peer: None,
                ratio_vs_ceiling: None,
                placement: a.placement,
                stall: None,
            }
        })
        .collect();
    report::attach_ratios(&mut rows);
    rows.extend(stall_rows);

    println!("{}", report::table(&rows));
    println!("{}", report::summary(&rows));
    let ceiling = report::ceiling_summary(&rows);
    if !ceiling.is_empty() {
        println!("{ceiling}");
    }
    let stalls = report::stall_table(&rows);
    if !stalls.is_empty() {
        println!("{stalls}");
    }
    let idle = report::idle_table(&rows);
    if !idle.is_empty() {
        println!("{idle}");
    }
    let grows = report::grow_table(&rows);
    if !grows.is_empty() {
        println!("{grows}");
    }
    println!(
        "Mops/s: all threads together. ×best: against the fastest peer (dashmap, scc, papaya, rwlock16) in the same row group; \
         peers run batches as loops of single calls.\nLatency: sampled (1 op in {} / 1 batch per {} ops), per op or per batch (lat column). \
         B/entry: heap bytes (counting allocator) + numashard's mapped bytes, over entries.",
        args.sample_every,
        4 * args.sample_every
    );

    std::fs::create_dir_all(&args.out_dir).map_err(|e| format!("create {}: {e}", args.out_dir.display()))?;
    let mut doc = env.json;
    doc["tool"] = json!("numashard-bench");
    doc["version"] = json!(env!("CARGO_PKG_VERSION"));
    doc["command_line"] = json!(std::env::args().collect::<Vec<_>>());
    doc["started_unix"] = json!(started_unix);
    doc["wall_seconds"] = json!(started.elapsed().as_secs_f64());
    doc["settings"] = json!({
        "duration_s": args.duration, "warmup_s": warmup.as_secs_f64(), "repeat": args.repeat, "sample_every": args.sample_every,
        "ops_per_thread": args.ops, "theta": args.theta, "seed": args.seed, "numashard_shards": args.shards,
        "peer_storage": "Box<[u8]> keys and values, foldhash; batches run as loops of single calls",
        "memory": "bytes_per_entry = net heap bytes of the load (counting global allocator) + numashard stats().mapped_bytes",
    });
    doc["rows"] = serde_json::to_value(&rows).map_err(|e| e.to_string())?;
    let json_path = args.out_dir.join(format!("{}.json", args.name));
    std::fs::write(&json_path, serde_json::to_string_pretty(&doc).map_err(|e| e.to_string())? + "\n")
        .map_err(|e| format!("write {}: {e}", json_path.display()))?;
    println!("wrote {}", json_path.display());
    if !args.no_plot {
        for (suffix, f) in [
            ("threads", plot::by_threads as fn(&[Row], &std::path::Path) -> Result<(), String>),
            ("batch", plot::by_batch),
        ] {
            let path = args.out_dir.join(format!("{}-{suffix}.svg", args.name));
            let _ = std::fs::remove_file(&path);
            f(&rows, &path).map_err(|e| format!("plot {}: {e}", path.display()))?;
            if path.exists() {
                println!("wrote {}", path.display());
            }
        }
    }
    Ok(())
}
