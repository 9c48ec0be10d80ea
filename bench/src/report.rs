//! Rows of results: how they are keyed, compared with the best peer,
//! printed as tables and written as JSON.

use serde::Serialize;
use std::collections::BTreeMap;
use std::fmt::Write as _;

/// Table sizes with names: TINY fits this VM's caches, SMALL is memory-bound, LARGE is 10M.
pub const NAMED_TABLES: [(&str, usize); 3] = [("TINY", 20_000), ("SMALL", 100_000), ("LARGE", 10_000_000)];

/// The name of a table size, or its entry count.
pub fn table_name(entries: u64) -> String {
    NAMED_TABLES.iter().find(|(_, n)| *n as u64 == entries).map_or_else(|| entries.to_string(), |(n, _)| n.to_string())
}

/// One measured row (one engine, one configuration), as written to JSON.
#[derive(Clone, Debug, Serialize)]
pub struct Row {
    /// Engine name.
    pub engine: String,
    /// `single` or `batch` (stall rows: the phase).
    pub mode: String,
    /// Workload name.
    pub workload: String,
    /// `uniform` or `zipf`.
    pub distribution: String,
    /// Zipf exponent, when Zipf.
    pub theta: Option<f64>,
    /// Table name (TINY, SMALL, LARGE or the entry count).
    pub table: String,
    /// Entries loaded before the run.
    pub entries: u64,
    /// Key bytes.
    pub key_size: usize,
    /// Value bytes (8 for counter workloads).
    pub value_size: usize,
    /// Client threads.
    pub threads: usize,
    /// Ops per batch (1 for single calls).
    pub batch: usize,
    /// Ops completed (all repeats).
    pub ops: u64,
    /// Measured seconds (all repeats).
    pub seconds: f64,
    /// Throughput, median over repeats.
    pub mops: f64,
    /// Throughput of each repeat.
    pub mops_runs: Vec<f64>,
    /// What one latency sample covers: `op` or `batch`.
    pub latency_unit: String,
    /// Median sampled latency.
    pub p50_ns: u64,
    /// 99th percentile.
    pub p99_ns: u64,
    /// 99.9th percentile.
    pub p999_ns: u64,
    /// Largest sample.
    pub max_ns: u64,
    /// Number of latency samples.
    pub latency_samples: u64,
    /// Replies that were not `Ok` (0 for all-hit workloads).
    pub not_ok: u64,
    /// Memory per entry: heap bytes (counting allocator) plus mapped bytes (numashard), over entries.
    pub bytes_per_entry: Option<f64>,
    /// Heap part of `bytes_per_entry`.
    pub heap_bytes_per_entry: Option<f64>,
    /// Mapped part of `bytes_per_entry` (numashard's `stats().mapped_bytes`).
    pub mapped_bytes_per_entry: Option<f64>,
    /// Growth of the resident set during the load, per entry (a cross-check; freed memory reused from an earlier engine hides some).
    pub rss_bytes_per_entry: Option<f64>,
    /// Seconds the load took.
    pub load_seconds: f64,
    /// The fastest peer of the same group.
    pub best_peer: Option<String>,
    /// Its throughput.
    pub best_peer_mops: Option<f64>,
    /// `mops / best_peer_mops`.
    pub ratio_vs_best_peer: Option<f64>,
    /// `mops` over the ceiling engine's of the same group (read-only rows with a
    /// ceiling row; for `ceiling-inline`, the gain of the inline layout).
    pub ratio_vs_ceiling: Option<f64>,
    /// numashard's placement after the load (numashard rows).
    pub placement: Option<serde_json::Value>,
    /// Stall and idle rows: extra figures (idle rows: `"idle": true`,
    /// `process_cpu_seconds`, `wall_seconds`, `core_percent`).
    pub stall: Option<serde_json::Value>,
}

impl Row {
    /// A row of a special workload (stall phases, idle) with every figure
    /// empty: the caller sets what it measured with struct update syntax.
    pub fn special(engine: &str, mode: &str, workload: &str, table: &str, entries: u64, sizes: (usize, usize)) -> Row {
        Row {
            engine: engine.into(),
            mode: mode.into(),
            workload: workload.into(),
            distribution: "uniform".into(),
            theta: None,
            table: table.into(),
            entries,
            key_size: sizes.0,
            value_size: sizes.1,
            threads: 1,
            batch: 1,
            ops: 0,
            seconds: 0.0,
            mops: 0.0,
            mops_runs: vec![],
            latency_unit: "op".into(),
            p50_ns: 0,
            p99_ns: 0,
            p999_ns: 0,
            max_ns: 0,
            latency_samples: 0,
            not_ok: 0,
            bytes_per_entry: None,
            heap_bytes_per_entry: None,
            mapped_bytes_per_entry: None,
            rss_bytes_per_entry: None,
            load_seconds: 0.0,
            best_peer: None,
            best_peer_mops: None,
            ratio_vs_best_peer: None,
            ratio_vs_ceiling: None,
            placement: None,
            stall: None,
        }
    }

    /// An `idle` workload row (its figures are in `stall`, marked `"idle": true`).
    pub fn is_idle(&self) -> bool {
        self.stall.as_ref().is_some_and(|v| v["idle"] == true)
    }

    /// A row of the `grow` measurement (a fill from empty with a reader).
    pub fn is_grow(&self) -> bool {
        self.stall.as_ref().is_some_and(|v| v["grow"] == true)
    }

    /// The configuration rows are compared within: same table, workload, distribution, sizes, threads, mode and batch.
    pub fn group(&self) -> (u64, String, String, usize, usize, usize, String, usize) {
        (
            self.entries,
            self.workload.clone(),
            self.distribution.clone(),
            self.key_size,
            self.value_size,
            self.threads,
            self.mode.clone(),
            self.batch,
        )
    }

    /// `single` or `batch N`.
    pub fn mode_label(&self) -> String {
        if self.mode == "batch" {
            format!("batch {}", self.batch)
        } else {
            self.mode.clone()
        }
    }
}

/// The name of the ceiling engine's rows.
pub const CEILING: &str = "ceiling";

/// True for the engines numashard is compared against (the ceilings, `ceiling`
/// and `ceiling-inline`, are not: they are no maps).
pub fn is_peer(engine: &str) -> bool {
    !engine.starts_with("numashard") && !engine.starts_with(CEILING)
}

/// Fills `best_peer`, `best_peer_mops`, `ratio_vs_best_peer` and `ratio_vs_ceiling` of every row.
pub fn attach_ratios(rows: &mut [Row]) {
    let ceilings: BTreeMap<_, f64> =
        rows.iter().filter(|r| r.engine == CEILING && r.stall.is_none()).map(|r| (r.group(), r.mops)).collect();
    for r in rows.iter_mut().filter(|r| r.engine != CEILING) {
        r.ratio_vs_ceiling = ceilings.get(&r.group()).filter(|&&c| c > 0.0).map(|c| r.mops / c);
    }
    let mut best: BTreeMap<_, (String, f64)> = BTreeMap::new();
    for r in rows.iter().filter(|r| is_peer(&r.engine) && r.stall.is_none()) {
        let e = best.entry(r.group()).or_insert((r.engine.clone(), r.mops));
        if r.mops > e.1 {
            *e = (r.engine.clone(), r.mops);
        }
    }
    for r in rows.iter_mut() {
        if let Some((name, mops)) = best.get(&r.group()) {
            r.best_peer = Some(name.clone());
            r.best_peer_mops = Some(*mops);
            r.ratio_vs_best_peer = (*mops > 0.0).then(|| r.mops / mops);
        }
    }
}

fn ns(v: u64) -> String {
    match v {
        0..=9_999 => format!("{v}"),
        10_000..=9_999_999 => format!("{:.1}µ", v as f64 / 1e3),
        _ => format!("{:.1}m", v as f64 / 1e6),
    }
}

fn opt(v: Option<f64>, digits: usize) -> String {
    v.map_or_else(|| "-".into(), |x| format!("{x:.digits$}"))
}

/// The full table: one line per row, groups separated by a blank line, fastest first.
pub fn table(rows: &[Row]) -> String {
    let mut sorted: Vec<&Row> = rows.iter().filter(|r| r.stall.is_none()).collect();
    sorted.sort_by(|a, b| a.group().cmp(&b.group()).then(b.mops.total_cmp(&a.mops)));
    let mut s = String::new();
    let _ = writeln!(
        s,
        "{:<6} {:<9} {:<7} {:>3} {:<9} {:<18} {:>8} {:>7} {:>7} {:>7} {:>7} {:>7}  {:<5}",
        "table",
        "workload",
        "dist",
        "thr",
        "mode",
        "engine",
        "Mops/s",
        "×best",
        "p50",
        "p99",
        "p99.9",
        "B/entry",
        "lat"
    );
    let mut last = None;
    for r in sorted {
        if last.is_some() && last != Some(r.group()) {
            s.push('\n');
        }
        last = Some(r.group());
        let _ = writeln!(
            s,
            "{:<6} {:<9} {:<7} {:>3} {:<9} {:<18} {:>8.2} {:>7} {:>7} {:>7} {:>7} {:>7}  {:<5}{}",
            table_name(r.entries),
            r.workload,
            r.distribution,
            r.threads,
            r.mode_label(),
            r.engine,
            r.mops,
            opt(r.ratio_vs_best_peer, 2),
            ns(r.p50_ns),
            ns(r.p99_ns),
            ns(r.p999_ns),
            opt(r.bytes_per_entry, 0),
            r.latency_unit,
            if r.not_ok > 0 { format!("  ({} not ok)", r.not_ok) } else { String::new() }
        );
    }
    s
}

/// A summary line's cells, by (mode, batch).
type ModeCells = BTreeMap<(String, usize), String>;

/// The summary: for each numashard variant and configuration, its ratio against the best peer, one column per mode.
pub fn summary(rows: &[Row]) -> String {
    let mut modes: Vec<(String, usize)> = Vec::new();
    let mut cells: BTreeMap<(String, u64, String, String, usize), ModeCells> = BTreeMap::new();
    for r in rows.iter().filter(|r| r.engine.starts_with("numashard") && r.stall.is_none()) {
        let mode = (r.mode.clone(), r.batch);
        if !modes.contains(&mode) {
            modes.push(mode.clone());
        }
        let cell = match (&r.ratio_vs_best_peer, &r.best_peer) {
            (Some(x), Some(p)) => format!("{x:.2} ({p})"),
            _ => "-".into(),
        };
        cells
            .entry((r.engine.clone(), r.entries, r.workload.clone(), r.distribution.clone(), r.threads))
            .or_default()
            .insert(mode, cell);
    }
    modes.sort_by_key(|(m, b)| (m != "single", *b));
    let mut s = String::from("numashard vs the best peer of the same run (throughput ratio; > 1 = numashard faster)\n");
    let _ = write!(s, "{:<18} {:<6} {:<9} {:<7} {:>3}", "engine", "table", "workload", "dist", "thr");
    for (m, b) in &modes {
        let label = if m == "batch" { format!("batch {b}") } else { m.clone() };
        let _ = write!(s, "  {label:<20}");
    }
    s.push('\n');
    let mut keys: Vec<_> = cells.keys().cloned().collect();
    keys.sort_by(|a, b| (&a.0, a.1, &a.2, &a.3, a.4).cmp(&(&b.0, b.1, &b.2, &b.3, b.4)));
    for key in keys {
        let (engine, entries, workload, dist, threads) = &key;
        let _ = write!(s, "{:<18} {:<6} {:<9} {:<7} {:>3}", engine, table_name(*entries), workload, dist, threads);
        for m in &modes {
            let _ = write!(s, "  {:<20}", cells[&key].get(m).map_or("-", String::as_str));
        }
        s.push('\n');
    }
    s
}

/// Every engine's throughput over the ceiling engine's in the same row group
/// (read-only rows of a run that includes `ceiling`; `ceiling-inline`'s is the
/// inline layout's gain); empty without such rows.
pub fn ceiling_summary(rows: &[Row]) -> String {
    let mut with: Vec<&Row> = rows.iter().filter(|r| r.ratio_vs_ceiling.is_some()).collect();
    if with.is_empty() {
        return String::new();
    }
    with.sort_by(|a, b| a.group().cmp(&b.group()).then(b.mops.total_cmp(&a.mops)));
    let mut s = String::from(
        "against the ceiling (the probe's layout with no concurrency control, same keys and stream; 1 = the memory system's limit)\n",
    );
    let _ = writeln!(
        s,
        "{:<6} {:<9} {:<7} {:>3} {:<9} {:<18} {:>8} {:>9} {:>7}",
        "table", "workload", "dist", "thr", "mode", "engine", "Mops/s", "ceiling", "×ceil"
    );
    for r in with {
        let _ = writeln!(
            s,
            "{:<6} {:<9} {:<7} {:>3} {:<9} {:<18} {:>8.2} {:>9.2} {:>7.2}",
            table_name(r.entries),
            r.workload,
            r.distribution,
            r.threads,
            r.mode_label(),
            r.engine,
            r.mops,
            r.mops / r.ratio_vs_ceiling.unwrap_or(1.0),
            r.ratio_vs_ceiling.unwrap_or(0.0)
        );
    }
    s
}

/// The `grow` rows: each engine filled from empty by one writer, one put at a
/// time, while one reader reads keys already stored; the writer's and the
/// reader's latencies, the worst of each being a resize's wait; and, where
/// the engine says (numashard), the longest hold of a shard's lock to
/// double its index ("lock held").
pub fn grow_table(rows: &[Row]) -> String {
    let mut s = String::new();
    let grow: Vec<&Row> = rows.iter().filter(|r| r.is_grow()).collect();
    if grow.is_empty() {
        return s;
    }
    let presized = grow.iter().any(|r| r.stall.as_ref().is_some_and(|v| v["presized"] == true));
    let _ = writeln!(
        s,
        "growth: a fill from empty (one writer, single puts) with one reader of stored keys{}\n{:<6} {:<19} {:>9} {:>8} {:>9} {:>10} {:>10} {:>9} {:>10} {:>8} {:>10}",
        if presized { "; every engine sized for the fill up front" } else { "" },
        "table",
        "engine",
        "fill ms",
        "put p50",
        "put p99.9",
        "worst put",
        "gets",
        "get p99.9",
        "worst get",
        "missing",
        "lock held"
    );
    for r in grow {
        let v = r.stall.as_ref().expect("grow rows carry their numbers");
        let get = |k: &str| v[k].as_u64().unwrap_or(0);
        let _ = writeln!(
            s,
            "{:<6} {:<19} {:>9.1} {:>8} {:>9} {:>10} {:>10} {:>9} {:>10} {:>8} {:>10}",
            table_name(r.entries),
            r.engine,
            r.seconds * 1e3,
            ns(r.p50_ns),
            ns(r.p999_ns),
            ns(r.max_ns),
            get("gets"),
            ns(get("get_p999_ns")),
            ns(get("get_max_ns")),
            get("gets_missing"),
            v["grow_hold_max_ns"].as_u64().map_or_else(|| "-".to_string(), ns)
        );
    }
    s
}

/// The idle rows: process CPU time while each loaded engine sat unused.
pub fn idle_table(rows: &[Row]) -> String {
    let mut s = String::new();
    let idle: Vec<&Row> = rows.iter().filter(|r| r.is_idle()).collect();
    if idle.is_empty() {
        return s;
    }
    let _ = writeln!(
        s,
        "idle: process CPU while a loaded map sits unused (the bench process itself included)\n{:<6} {:<20} {:>10} {:>12} {:>8}",
        "table", "engine", "wall s", "cpu ms", "% core"
    );
    for r in idle {
        let v = r.stall.as_ref().expect("idle rows carry figures");
        let _ = writeln!(
            s,
            "{:<6} {:<20} {:>10.2} {:>12.2} {:>8.3}",
            table_name(r.entries),
            r.engine,
            v["wall_seconds"].as_f64().unwrap_or(0.0),
            v["process_cpu_seconds"].as_f64().unwrap_or(0.0) * 1e3,
            v["core_percent"].as_f64().unwrap_or(0.0)
        );
    }
    s
}

/// The stall rows as a small table.
pub fn stall_table(rows: &[Row]) -> String {
    let mut s = String::new();
    let stall: Vec<&Row> = rows.iter().filter(|r| r.stall.is_some() && !r.is_idle() && !r.is_grow()).collect();
    if stall.is_empty() {
        return s;
    }
    let _ = writeln!(
        s,
        "writer stalls (numashard only; peers have no safe full iteration or atomic whole-map swap)\n{:<6} {:<12} {:>10} {:>10} {:>8} {:>8} {:>9} {:>10}",
        "table", "phase", "phase ms", "puts", "p50", "p99", "p99.9", "max stall"
    );
    for r in stall {
        let phase_ms = r.stall.as_ref().and_then(|v| v["phase_seconds"].as_f64()).unwrap_or(0.0) * 1e3;
        let _ = writeln!(
            s,
            "{:<6} {:<12} {:>10.1} {:>10} {:>8} {:>8} {:>9} {:>10}",
            table_name(r.entries),
            r.mode,
            phase_ms,
            r.ops,
            ns(r.p50_ns),
            ns(r.p99_ns),
            ns(r.p999_ns),
            ns(r.max_ns)
        );
    }
    s
}
