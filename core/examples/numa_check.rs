//! numa_check: proves, on the machine it runs on, that every shard of a
//! numashard map runs on a CPU of its NUMA node and that its memory lives on
//! that node — using only what the map itself reports (`Map::placements`,
//! `ShardStats`: node, memory_node, cpu, binding_applied, pages_on_node,
//! pages_total) cross-checked against the kernel (`/proc/self/task`,
//! `/sys/devices/system/node`). Users can run it on their own machines:
//!
//! ```text
//! cargo run --release -p numashard --example numa_check -- [options] SCENARIO...
//! ```
//!
//! Scenarios (each opens a map, loads it, checks, grows it so the tables
//! resize, checks again, closes it):
//!
//! * `default`          — `Config::default()`
//! * `per-node:A,B,...` — `Config::shards_per_node = [A, B, ...]`
//! * `misplace`         — `Config::misplace_memory`: memory on the next node (must still be
//!   reported truthfully: pages counted against `memory_node`)
//! * `delegate`         — `ExecMode::Delegate`: the owner threads do every allocation
//! * `placed`           — `Config::place_records_by_hash`, sized for half of `--entries`: the
//!   records' lines are one more region per shard, on its node like the rest
//! * `synthetic:DESC`   — an hwloc synthetic topology (e.g. `pack:2 [numa] core:2 pu:1`):
//!   binding cannot be applied, and every shard must say so
//! * `mbind-race`       — no map: a thread per allowed CPU maps, binds and fills regions
//!   at once (as a snapshot load's threads do); every region's pages must be on its node
//!
//! On a real multi-node machine every run first checks the measurement
//! itself (a region bound to each node is found there and only there) and
//! `NodeRegion::settle` (pages pushed off a region's node are found and moved
//! back). When a locality check fails it prints what the kernel says: the
//! node-bound mappings holding pages off their nodes (`/proc/self/numa_maps`),
//! each node's free memory, and the kernel's migration and huge page counters.
//!
//! Options:
//!
//! * `--entries N` (200000) entries loaded first; `--grow N` (200000) added afterwards
//! * `--expect-nodes N` the kernel must show exactly N NUMA nodes with CPUs
//! * `--expect-node N`  every shard (CPU and memory) must be on node N (e.g. under
//!   `numactl --cpunodebind=N --membind=N`)
//! * `--min-local PCT`  (99) least share of a shard's resident pages on its memory node
//! * `--lenient`        on the real machine, accept `binding_applied = false` (containers
//!   may forbid mbind); it is reported, and a shard claiming a binding is still checked
//!
//! Exit status 0 when every check held, 1 on any violation, 2 on bad usage.

use numashard::{Config, ExecMode, Map, MapStats};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::Instant;

const LARGE_EVERY: u64 = 5000;

struct Options {
    entries: u64,
    grow: u64,
    expect_nodes: Option<u32>,
    expect_node: Option<u32>,
    min_local: f64,
    lenient: bool,
    scenarios: Vec<String>,
}

fn usage() -> ! {
    eprintln!(
        "usage: numa_check [--entries N] [--grow N] [--expect-nodes N] [--expect-node N] [--min-local PCT] \
         [--lenient] SCENARIO...\n  scenarios: default | per-node:A,B,.. | misplace | delegate | placed | synthetic:DESC | mbind-race"
    );
    std::process::exit(2)
}

fn parse_args() -> Options {
    let mut o = Options {
        entries: 200_000,
        grow: 200_000,
        expect_nodes: None,
        expect_node: None,
        min_local: 99.0,
        lenient: false,
        scenarios: Vec::new(),
    };
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut num = |name: &str| -> u64 {
            args.next().and_then(|v| v.parse().ok()).unwrap_or_else(|| {
                eprintln!("numa_check: {name} needs a number");
                usage()
            })
        };
        match a.as_str() {
            "--entries" => o.entries = num("--entries"),
            "--grow" => o.grow = num("--grow"),
            "--expect-nodes" => o.expect_nodes = Some(num("--expect-nodes") as u32),
            "--expect-node" => o.expect_node = Some(num("--expect-node") as u32),
            "--min-local" => o.min_local = num("--min-local") as f64,
            "--lenient" => o.lenient = true,
            "-h" | "--help" => usage(),
            s if s.starts_with('-') => usage(),
            s => o.scenarios.push(s.to_string()),
        }
    }
    if o.scenarios.is_empty() {
        o.scenarios.push("default".into());
    }
    o
}

// ---- the kernel's view -------------------------------------------------------------------

/// Parses a kernel CPU/node list such as "0-3,8".
fn parse_list(s: &str) -> Vec<u32> {
    let mut out = Vec::new();
    for part in s.trim().split(',').filter(|p| !p.is_empty()) {
        match part.split_once('-') {
            Some((a, b)) => {
                if let (Ok(a), Ok(b)) = (a.trim().parse::<u32>(), b.trim().parse::<u32>()) {
                    out.extend(a..=b);
                }
            }
            None => out.extend(part.trim().parse::<u32>().ok()),
        }
    }
    out
}

fn list_string(v: &[u32]) -> String {
    let mut out = String::new();
    let mut i = 0;
    while i < v.len() {
        let mut j = i;
        while j + 1 < v.len() && v[j + 1] == v[j] + 1 {
            j += 1;
        }
        if !out.is_empty() {
            out.push(',');
        }
        if j > i {
            let _ = write!(out, "{}-{}", v[i], v[j]);
        } else {
            let _ = write!(out, "{}", v[i]);
        }
        i = j + 1;
    }
    out
}

/// NUMA node -> its CPUs, as the kernel reports them (nodes without CPUs omitted).
fn kernel_nodes() -> BTreeMap<u32, Vec<u32>> {
    let mut nodes = BTreeMap::new();
    if let Ok(dir) = std::fs::read_dir("/sys/devices/system/node") {
        for e in dir.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            let Some(n) = name.strip_prefix("node").and_then(|n| n.parse::<u32>().ok()) else { continue };
            let cpus = std::fs::read_to_string(e.path().join("cpulist")).map(|s| parse_list(&s)).unwrap_or_default();
            if !cpus.is_empty() {
                nodes.insert(n, cpus);
            }
        }
    }
    nodes
}

/// What the kernel says about one of this process's threads.
#[derive(Clone, Debug)]
struct TaskView {
    tid: u32,
    /// CPU the thread last ran on (field 39 of /proc/self/task/TID/stat).
    processor: u32,
    /// Its affinity mask (Cpus_allowed_list of /proc/self/task/TID/status).
    allowed: Vec<u32>,
}

/// Threads of this process by name (comm).
fn tasks_by_name() -> BTreeMap<String, Vec<TaskView>> {
    let mut out: BTreeMap<String, Vec<TaskView>> = BTreeMap::new();
    let Ok(dir) = std::fs::read_dir("/proc/self/task") else { return out };
    for e in dir.flatten() {
        let Ok(tid) = e.file_name().to_string_lossy().parse::<u32>() else { continue };
        let base = e.path();
        let comm = std::fs::read_to_string(base.join("comm")).unwrap_or_default().trim_end().to_string();
        let stat = std::fs::read_to_string(base.join("stat")).unwrap_or_default();
        // Fields after the parenthesised comm start at field 3 (state); 39 is processor.
        let processor = stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().nth(39 - 3))
            .and_then(|f| f.parse().ok())
            .unwrap_or(u32::MAX);
        let status = std::fs::read_to_string(base.join("status")).unwrap_or_default();
        let allowed =
            status.lines().find_map(|l| l.strip_prefix("Cpus_allowed_list:")).map(parse_list).unwrap_or_default();
        out.entry(comm).or_default().push(TaskView { tid, processor, allowed });
    }
    out
}

/// The calling thread's memory policy, e.g. "default", "bind 1", "interleave 0-3".
fn memory_policy() -> String {
    let mut mode: libc::c_int = -1;
    let mut mask = [0 as libc::c_ulong; 16];
    // SAFETY: the kernel writes one int to `mode` and at most 1024 bits into
    // `mask`, which holds 16 * 64 bits; no address is looked up (flags 0).
    let rc = unsafe {
        libc::syscall(
            libc::SYS_get_mempolicy,
            &mut mode as *mut libc::c_int,
            mask.as_mut_ptr(),
            1024 as libc::c_ulong,
            std::ptr::null::<libc::c_void>(),
            0 as libc::c_ulong,
        )
    };
    if rc != 0 {
        return format!("unknown ({})", std::io::Error::last_os_error());
    }
    let nodes: Vec<u32> = (0..1024u32).filter(|&n| mask[(n / 64) as usize] & (1 << (n % 64)) != 0).collect();
    let name = match mode & 0xff {
        0 => return "default".into(),
        1 => "preferred",
        2 => "bind",
        3 => "interleave",
        4 => "local",
        5 => "preferred-many",
        6 => "weighted-interleave",
        _ => "mode?",
    };
    format!("{name} {}", list_string(&nodes))
}

// ---- the data ----------------------------------------------------------------------------

fn key(i: u64) -> [u8; 16] {
    let mut k = [0u8; 16];
    k[..8].copy_from_slice(&i.to_le_bytes());
    k[8..].copy_from_slice(&(i.wrapping_mul(0x9e37_79b9_7f4a_7c15)).to_le_bytes());
    k
}

/// Value sizes: 60% 16 B, 30% 200 B, 10% 3 KiB, and every 5000th a large record of 100–220 KiB
/// (above the arena's 64 KiB threshold, so it gets a region of its own).
fn value_len(i: u64) -> usize {
    if i % LARGE_EVERY == LARGE_EVERY - 1 {
        return 100 * 1024 + (i / LARGE_EVERY % 7) as usize * 20 * 1024;
    }
    match i % 10 {
        0..=5 => 16,
        6..=8 => 200,
        _ => 3 * 1024,
    }
}

fn fill_value(i: u64, buf: &mut Vec<u8>) {
    let len = value_len(i);
    buf.clear();
    buf.extend_from_slice(&i.to_le_bytes());
    buf.resize(len.max(8), (i as u8) ^ 0x5a);
    buf.truncate(len);
}

struct Loaded {
    count: u64,
    value_bytes: u64,
    large: u64,
}

fn load(map: &Map, range: std::ops::Range<u64>, loaded: &mut Loaded) -> Result<(), String> {
    let mut v = Vec::new();
    for i in range {
        fill_value(i, &mut v);
        map.put(&key(i), &v).map_err(|e| format!("put {i}: {e}"))?;
        loaded.count += 1;
        loaded.value_bytes += v.len() as u64;
        loaded.large += (v.len() > 64 * 1024) as u64;
    }
    Ok(())
}

/// Reads back a sample (every 991st key and every large record) and compares.
fn verify(map: &Map, n: u64) -> Result<(), String> {
    let mut want = Vec::new();
    for i in (0..n).filter(|i| i % 991 == 0 || i % LARGE_EVERY == LARGE_EVERY - 1) {
        fill_value(i, &mut want);
        match map.get(&key(i)) {
            Ok(Some(got)) if got == want => {}
            Ok(Some(got)) => {
                return Err(format!("key {i}: value of {} bytes differs (want {})", got.len(), want.len()))
            }
            Ok(None) => return Err(format!("key {i} missing")),
            Err(e) => return Err(format!("get {i}: {e}")),
        }
    }
    match map.len() {
        Ok(len) if len == n => Ok(()),
        Ok(len) => Err(format!("len {len}, expected {n}")),
        Err(e) => Err(format!("len: {e}")),
    }
}

// ---- the checks --------------------------------------------------------------------------

enum Expect {
    /// Real topology: every shard bound, on its node, its pages there.
    Bound { misplace: bool },
    /// Real topology, binding possibly refused (e.g. a container): report; check what is claimed.
    Lenient,
    /// Synthetic topology: binding cannot be applied, every shard must say so.
    Unbound,
}

struct Checker<'a> {
    opts: &'a Options,
    kernel: BTreeMap<u32, Vec<u32>>,
    violations: Vec<String>,
    shards_checked: usize,
}

impl Checker<'_> {
    fn fail(&mut self, what: String) {
        println!("  VIOLATION: {what}");
        self.violations.push(what);
    }

    fn kernel_node_of(&self, cpu: u32) -> Option<u32> {
        self.kernel.iter().find(|(_, cpus)| cpus.contains(&cpu)).map(|(&n, _)| n)
    }

    /// Checks every shard after one phase and prints one line per shard.
    fn phase(&mut self, tag: &str, map: &Map, expect: &Expect, want_per_node: Option<&[usize]>) -> Option<MapStats> {
        let stats = match map.stats() {
            Ok(s) => s,
            Err(e) => {
                self.fail(format!("{tag}: stats failed: {e}"));
                return None;
            }
        };
        let tasks = tasks_by_name();
        let page = page_size();
        let (mut on, mut total) = (0u64, 0u64);
        println!(
            "  {tag}: entries={} shards={} mapped={:.1}MiB binding_applied={}",
            stats.entries,
            stats.shards,
            stats.mapped_bytes as f64 / 1048576.0,
            stats.binding_applied
        );
        let placements = map.placements();
        let mut per_node: BTreeMap<u32, usize> = BTreeMap::new();
        for s in &stats.per_shard {
            let i = s.shard as usize;
            *per_node.entry(s.node).or_default() += 1;
            let name = format!("numashard-{i}");
            let task = tasks.get(&name).and_then(|v| if v.len() == 1 { v.first().cloned() } else { None });
            let local = if s.pages_total == 0 { 0.0 } else { 100.0 * s.pages_on_node as f64 / s.pages_total as f64 };
            on += s.pages_on_node;
            total += s.pages_total;
            println!(
                "    shard={i} node={} cpu={} memory_node={} thread_cpu={} thread_allowed={} binding_applied={} \
                 pages_on_node={} pages_total={} local={local:.2}% pages_moved={} entries={} mapped={:.1}MiB",
                s.node,
                s.cpu,
                s.memory_node,
                task.as_ref().map_or("?".into(), |t| t.processor.to_string()),
                task.as_ref().map_or("?".into(), |t| list_string(&t.allowed)),
                s.binding_applied,
                s.pages_on_node,
                s.pages_total,
                s.pages_moved,
                s.entries,
                s.mapped_bytes as f64 / 1048576.0
            );
            self.shards_checked += 1;
            // The stats must describe the placement the map was planned with.
            if let Some(p) = placements.get(i) {
                if (p.node, p.cpu, p.memory_node) != (s.node, s.cpu, s.memory_node) {
                    self.fail(format!("{tag} shard {i}: stats {s:?} disagree with placement {p:?}"));
                }
            }
            let claimed_or_required = match expect {
                Expect::Unbound => {
                    if s.binding_applied {
                        self.fail(format!("{tag} shard {i}: binding_applied=true on a synthetic topology"));
                    }
                    continue;
                }
                Expect::Lenient => s.binding_applied,
                Expect::Bound { .. } => true,
            };
            if !claimed_or_required {
                continue;
            }
            if !s.binding_applied {
                self.fail(format!("{tag} shard {i}: binding_applied=false"));
            }
            match &task {
                None => self.fail(format!("{tag} shard {i}: no single thread named {name}")),
                Some(t) => {
                    if t.allowed != [s.cpu] {
                        self.fail(format!(
                            "{tag} shard {i}: thread {} may run on cpus {}, not only cpu {}",
                            t.tid,
                            list_string(&t.allowed),
                            s.cpu
                        ));
                    }
                    if t.processor != s.cpu {
                        self.fail(format!(
                            "{tag} shard {i}: thread {} last ran on cpu {}, not {}",
                            t.tid, t.processor, s.cpu
                        ));
                    }
                }
            }
            match self.kernel_node_of(s.cpu) {
                Some(n) if n == s.node => {}
                other => {
                    self.fail(format!("{tag} shard {i}: cpu {} is on kernel node {other:?}, not {}", s.cpu, s.node))
                }
            }
            if let Expect::Bound { misplace } = expect {
                let more_nodes = self.kernel.len() > 1 && self.opts.expect_node.is_none();
                if !misplace && s.memory_node != s.node {
                    self.fail(format!("{tag} shard {i}: memory_node {} != node {}", s.memory_node, s.node));
                }
                if *misplace && more_nodes && s.memory_node == s.node {
                    self.fail(format!("{tag} shard {i}: misplace asked, memory_node == node {}", s.node));
                }
            }
            if let Some(n) = self.opts.expect_node {
                if s.node != n || s.memory_node != n {
                    self.fail(format!("{tag} shard {i}: node {} memory_node {}, expected {n}", s.node, s.memory_node));
                }
            }
            if s.pages_total == 0 {
                self.fail(format!("{tag} shard {i}: no resident pages reported"));
            } else if local < self.opts.min_local {
                self.fail(format!(
                    "{tag} shard {i}: only {}/{} pages ({local:.2}%) on node {}",
                    s.pages_on_node, s.pages_total, s.memory_node
                ));
                explain_misplaced_pages();
            }
            // The pages counted must be the shard's data: at least half of what its entries are charged.
            if s.pages_total * page < s.bytes / 2 {
                self.fail(format!(
                    "{tag} shard {i}: {} resident pages cannot hold the {} bytes of its entries",
                    s.pages_total, s.bytes
                ));
            }
        }
        if let Some(want) = want_per_node {
            let got: Vec<usize> = per_node.values().copied().collect();
            if got != want {
                self.fail(format!("{tag}: shards per node {got:?}, asked {want:?}"));
            }
        } else if matches!(expect, Expect::Bound { .. }) && self.opts.expect_node.is_none() {
            // The default placement uses every node that has CPUs this process may use.
            let allowed = numashard::placement::allowed_cpus();
            let usable: Vec<u32> =
                self.kernel.iter().filter(|(_, c)| c.iter().any(|c| allowed.contains(c))).map(|(&n, _)| n).collect();
            let used: Vec<u32> = per_node.keys().copied().collect();
            if used != usable {
                self.fail(format!("{tag}: shards on nodes {used:?}, usable nodes {usable:?}"));
            }
        }
        if matches!(expect, Expect::Bound { .. }) && !stats.binding_applied {
            self.fail(format!("{tag}: MapStats.binding_applied=false"));
        }
        if matches!(expect, Expect::Unbound) && stats.binding_applied {
            self.fail(format!("{tag}: MapStats.binding_applied=true on a synthetic topology"));
        }
        let moved: Vec<String> = stats
            .per_shard
            .iter()
            .filter(|s| s.pages_moved > 0)
            .map(|s| format!("shard {}: {}", s.shard, s.pages_moved))
            .collect();
        if !moved.is_empty() {
            // Not a failure: the engine found them and moved them (the
            // locality check above is of the pages as they are now).
            println!("  settle: {tag}: pages the engine found off their shard's node and moved: {}", moved.join(", "));
        }
        let pct = if total == 0 { 0.0 } else { 100.0 * on as f64 / total as f64 };
        println!("  {tag}: pages on their shard's node: {on}/{total} ({pct:.2}%)");
        Some(stats)
    }

    /// Warm restart, first half: the map saved into a temporary directory.
    fn snapshot_save(&mut self, name: &str, map: &Map) -> Option<std::path::PathBuf> {
        let dir = std::env::temp_dir().join(format!("numa-check-snapshot-{}", std::process::id()));
        let t = Instant::now();
        match map.save(&dir) {
            Ok(r) => {
                let secs = t.elapsed().as_secs_f64();
                println!("  snapshot: {} entries saved ({:.1} MB) in {secs:.2}s", r.entries, r.bytes as f64 / 1e6);
                Some(dir)
            }
            Err(e) => {
                self.fail(format!("{name} snapshot: save failed: {e}"));
                None
            }
        }
    }

    /// Warm restart, second half: a new map with the same settings loaded
    /// from the snapshot holds every entry, and every shard's pages are on
    /// its node (each shard's part is built by a thread on that node).
    fn snapshot_load(
        &mut self,
        name: &str,
        cfg: &Config,
        dir: &std::path::Path,
        loaded: &Loaded,
        expect: &Expect,
        want: Option<&[usize]>,
    ) {
        let t = Instant::now();
        match Map::open_snapshot(cfg.clone(), dir) {
            Ok(m) => {
                println!("  snapshot: loaded in {:.2}s", t.elapsed().as_secs_f64());
                if let Err(e) = verify(&m, loaded.count) {
                    self.fail(format!("{name} snapshot: {e}"));
                }
                self.phase(&format!("{name}/snapshot-load"), &m, expect, want);
                let _ = m.close();
            }
            Err(e) => self.fail(format!("{name} snapshot: load failed: {e}")),
        }
        let _ = std::fs::remove_dir_all(dir);
    }

    fn scenario(&mut self, name: &str) {
        if name == "mbind-race" {
            return self.mbind_race();
        }
        let mut cfg = Config::default();
        let mut expect = if self.opts.lenient { Expect::Lenient } else { Expect::Bound { misplace: false } };
        let mut want_per_node: Option<Vec<usize>> = None;
        if name == "default" {
        } else if name == "misplace" {
            cfg.misplace_memory = true;
            if !self.opts.lenient {
                expect = Expect::Bound { misplace: true };
            }
        } else if name == "delegate" {
            cfg.exec_mode = ExecMode::Delegate;
        } else if name == "placed" {
            // Small records placed by hash: their lines are one more region
            // per shard, which must be on the shard's node like the rest.
            // Sized for half the load, so that the load doubles indexes
            // (which starts the owners the checks look for) and places
            // records past the capacity too.
            cfg.initial_capacity = (self.opts.entries as usize / 2).max(1);
            cfg.place_records_by_hash = true;
        } else if let Some(list) = name.strip_prefix("per-node:") {
            let counts: Vec<usize> = list.split(',').filter_map(|c| c.trim().parse().ok()).collect();
            cfg.shards_per_node = Some(counts.clone());
            want_per_node = Some(counts);
        } else if let Some(desc) = name.strip_prefix("synthetic:") {
            cfg.topology = Some(desc.to_string());
            expect = Expect::Unbound;
        } else {
            eprintln!("numa_check: unknown scenario {name:?}");
            usage();
        }
        println!("== scenario {name} (process memory policy: {})", memory_policy());
        let t0 = Instant::now();
        let map = match Map::new(cfg) {
            Ok(m) => m,
            Err(e) => {
                self.fail(format!("{name}: Map::new failed: {e}"));
                return;
            }
        };
        println!("  topology: {}", map.topology().describe());
        let mut loaded = Loaded { count: 0, value_bytes: 0, large: 0 };
        let n0 = self.opts.entries;
        let n1 = n0 + self.opts.grow;
        let step = |c: &mut Self, tag: &str, r: std::ops::Range<u64>, l: &mut Loaded| -> bool {
            let t = Instant::now();
            if let Err(e) = load(&map, r, l).and_then(|_| verify(&map, l.count)) {
                c.fail(format!("{name} {tag}: {e}"));
                return false;
            }
            println!(
                "  {tag}: {} entries ({:.1} MiB of values, {} large records) in {:.2}s",
                l.count,
                l.value_bytes as f64 / 1048576.0,
                l.large,
                t.elapsed().as_secs_f64()
            );
            true
        };
        let phase_tag = |p: &str| format!("{name}/{p}");
        if step(self, "load", 0..n0, &mut loaded) {
            let before = self.phase(&phase_tag("load"), &map, &expect, want_per_node.as_deref());
            if self.opts.grow > 0 && step(self, "grow", n0..n1, &mut loaded) {
                let after = self.phase(&phase_tag("grow"), &map, &expect, want_per_node.as_deref());
                if let (Some(b), Some(a)) = (before, after) {
                    // Growth must have made the shards map more (their tables resized, arenas grew).
                    let grew = a.per_shard.iter().zip(&b.per_shard).filter(|(a, b)| a.mapped_bytes > b.mapped_bytes);
                    let grew = grew.count();
                    println!("  growth: {grew}/{} shards mapped more memory", a.shards);
                    if grew == 0 {
                        self.fail(format!("{name}: growth did not enlarge any shard"));
                    }
                }
            }
        }
        // Warm restart (default scenario): saved before the close, loaded after it
        // (so that each shard's owner thread name is unique again).
        let saved = (name == "default" && loaded.count > 0).then(|| self.snapshot_save(name, &map)).flatten();
        if let Err(e) = map.close() {
            self.fail(format!("{name}: close failed: {e}"));
        }
        if let Some(dir) = saved {
            self.snapshot_load(name, map.config(), &dir, &loaded, &expect, want_per_node.as_deref());
        }
        println!("  scenario {name} done in {:.2}s", t0.elapsed().as_secs_f64());
    }
}

/// A control for the ruler itself: a region bound to each node in turn must
/// be found entirely on that node and not at all on another, so a locality of
/// 100% below cannot come from a measurement that sees every page everywhere.
fn control(c: &mut Checker<'_>) {
    let nodes: Vec<u32> = c.kernel.keys().copied().collect();
    if nodes.len() < 2 {
        return;
    }
    const LEN: usize = 4 << 20;
    let mut line = String::new();
    for (k, &n) in nodes.iter().enumerate() {
        let other = nodes[(k + 1) % nodes.len()];
        let region = match numashard::numa::NodeRegion::new(LEN, Some(n), false) {
            Ok(r) if r.bound() => r,
            Ok(_) => return c.fail(format!("control: mbind of a region to node {n} refused")),
            Err(e) => return c.fail(format!("control: mapping a region failed: {e}")),
        };
        // SAFETY: the region is LEN bytes, mapped and writable until dropped below.
        let (on, off) = unsafe {
            std::ptr::write_bytes(region.as_ptr(), 1, region.len());
            (
                numashard::numa::page_nodes(region.as_ptr(), region.len(), n),
                numashard::numa::page_nodes(region.as_ptr(), region.len(), other),
            )
        };
        let pages = (region.len() as u64) / page_size();
        let _ = write!(line, " node{n}: {}/{} on {n}, {} on {other};", on.on_node, on.total, off.on_node);
        if on.total != pages || on.on_node != pages || off.on_node != 0 {
            c.fail(format!(
                "control: a region bound to node {n}: {}/{} pages on it, {} on node {other} (expected {pages}, {pages}, 0)",
                on.on_node, on.total, off.on_node
            ));
        }
    }
    println!("control (4 MiB bound per node, pages found on it / on the next node):{line}");
    settle_control(c, nodes[0], nodes[1]);
}

/// `NodeRegion::settle`, which a snapshot load runs on every region it
/// built: pages pushed off a region's node (move_pages) are found, counted
/// and moved back.
fn settle_control(c: &mut Checker<'_>, node: u32, other: u32) {
    use numashard::numa::{page_nodes, NodeRegion};
    const PAGES: usize = 256;
    let page = page_size() as usize;
    let region = match NodeRegion::new(PAGES * page, Some(node), false) {
        Ok(r) if r.bound() => r,
        Ok(_) => return c.fail(format!("settle control: mbind of a region to node {node} refused")),
        Err(e) => return c.fail(format!("settle control: mapping a region failed: {e}")),
    };
    // SAFETY: the region is PAGES pages, mapped and writable until dropped.
    unsafe { std::ptr::write_bytes(region.as_ptr(), 7, region.len()) };
    // Every other page to the other node.
    let addrs: Vec<*mut libc::c_void> =
        (0..PAGES).step_by(2).map(|i| region.as_ptr().wrapping_add(i * page).cast()).collect();
    let nodes = vec![other as libc::c_int; addrs.len()];
    let mut status = vec![0 as libc::c_int; addrs.len()];
    // SAFETY: move_pages reads `addrs.len()` addresses and nodes and writes
    // as many statuses, all three that long; the pages are this process's.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_move_pages,
            0 as libc::c_int,
            addrs.len() as libc::c_ulong,
            addrs.as_ptr(),
            nodes.as_ptr(),
            status.as_mut_ptr(),
            0 as libc::c_int,
        )
    };
    // SAFETY: the region is mapped while `region` lives.
    let before = unsafe { page_nodes(region.as_ptr(), region.len(), node) };
    let pushed = before.total - before.on_node;
    let moved = region.settle();
    // SAFETY: as above.
    let after = unsafe { page_nodes(region.as_ptr(), region.len(), node) };
    // SAFETY: every offset read is inside the mapped, filled region.
    let sample = (0..PAGES).all(|i| unsafe { *region.as_ptr().add(i * page) } == 7);
    println!(
        "settle control: {} of {PAGES} pages pushed to node {other} (move_pages rc {rc}); on node {node}: {} before, \
         settle moved {moved}, {} after; contents kept: {sample}",
        pushed, before.on_node, after.on_node
    );
    if rc < 0 || pushed == 0 {
        c.fail(format!("settle control: move_pages pushed no page to node {other} (rc {rc})"));
    } else if moved != pushed || after.on_node != PAGES as u64 || after.total != PAGES as u64 || !sample {
        c.fail(format!(
            "settle control: {pushed} pages off node {node}, settle reported {moved}; after: {}/{} on node {node}, \
             contents kept: {sample}",
            after.on_node, after.total
        ));
    }
}

impl Checker<'_> {
    /// Regions made at once on every node, as a snapshot load makes them:
    /// one thread per allowed CPU, pinned there with its memory policy bound
    /// to the CPU's node, maps, binds and fills regions of assorted sizes
    /// (one page to 2 MiB), keeps some and unmaps others so new mappings
    /// land beside other threads' ones. Each region's pages are checked
    /// right after its thread filled it, and every kept one again at the
    /// end: all must be on the region's node.
    fn mbind_race(&mut self) {
        use numashard::numa::{self, NodeRegion};
        const ROUNDS: u64 = 800;
        const KEEP: usize = 48;
        println!("== scenario mbind-race (process memory policy: {})", memory_policy());
        let t0 = Instant::now();
        let allowed = numashard::placement::allowed_cpus();
        let cpus: Vec<(u32, u32)> =
            allowed.iter().filter_map(|&cpu| self.kernel_node_of(cpu).map(|node| (cpu, node))).collect();
        let page = page_size() as usize;
        let results: Vec<Result<(u64, u64), String>> = std::thread::scope(|scope| {
            let handles: Vec<_> = cpus
                .iter()
                .map(|&(cpu, node)| {
                    scope.spawn(move || -> Result<(u64, u64), String> {
                        if !numa::pin_thread(cpu) || !numa::bind_thread_memory(node) {
                            return Err(format!("cpu {cpu}: pinning or binding the thread failed"));
                        }
                        let mut rng = 0x9e37_79b9_7f4a_7c15u64 ^ (cpu as u64 + 1).wrapping_mul(0xbf58_476d_1ce4_e5b9);
                        let mut next = move || {
                            rng ^= rng << 13;
                            rng ^= rng >> 7;
                            rng ^= rng << 17;
                            rng
                        };
                        let mut kept: Vec<NodeRegion> = Vec::new();
                        let (mut made, mut off) = (0u64, 0u64);
                        let check = |r: &NodeRegion, when: &str| -> Result<u64, String> {
                            // SAFETY: the region is mapped for as long as `r` lives.
                            let p = unsafe { numa::page_nodes(r.as_ptr(), r.len(), node) };
                            if p.on_node != p.total || p.total == 0 {
                                return Err(format!(
                                    "cpu {cpu}: a {}-page region bound to node {node} ({:p}, bound={}) has {}/{} \
                                     pages on it {when}",
                                    r.len() / page,
                                    r.as_ptr(),
                                    r.bound(),
                                    p.on_node,
                                    p.total
                                ));
                            }
                            Ok(p.total)
                        };
                        for _ in 0..ROUNDS {
                            let len = match next() % 16 {
                                0 => 2 << 20,
                                n => page * (1 + (next() % (8 << (n % 4))) as usize),
                            };
                            let r = NodeRegion::new(len, Some(node), len == 2 << 20).map_err(|e| e.to_string())?;
                            if !r.bound() {
                                return Err(format!("cpu {cpu}: mbind to node {node} refused"));
                            }
                            // SAFETY: the region is r.len() bytes, mapped and writable.
                            unsafe {
                                for at in (0..r.len()).step_by(page) {
                                    r.as_ptr().add(at).write(1);
                                }
                            }
                            if let Err(e) = check(&r, "after its thread filled it") {
                                off += 1;
                                println!("  VIOLATION: {e}");
                            }
                            made += 1;
                            kept.push(r);
                            if kept.len() > KEEP {
                                let i = (next() % kept.len() as u64) as usize;
                                kept.swap_remove(i);
                            }
                        }
                        for r in &kept {
                            if let Err(e) = check(r, "at the end") {
                                off += 1;
                                println!("  VIOLATION: {e}");
                            }
                        }
                        Ok((made, off))
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap_or_else(|_| Err("a thread panicked".into()))).collect()
        });
        let (mut made, mut off) = (0, 0);
        for r in results {
            match r {
                Ok((m, o)) => {
                    made += m;
                    off += o;
                }
                Err(e) => self.fail(format!("mbind-race: {e}")),
            }
        }
        if off > 0 {
            self.fail(format!("mbind-race: {off} region checks found pages off the region's node"));
            explain_misplaced_pages();
        }
        println!(
            "  mbind-race: {made} regions on {} CPUs, {off} with pages off their node; scenario mbind-race done in {:.2}s",
            cpus.len(),
            t0.elapsed().as_secs_f64()
        );
    }
}

/// After a locality violation: what the kernel says about it. Every
/// node-bound mapping of this process that holds pages outside its bound
/// nodes (`/proc/self/numa_maps`), each node's free memory, and the kernel's
/// counters of page moves and huge page work since boot.
fn explain_misplaced_pages() {
    let maps = std::fs::read_to_string("/proc/self/numa_maps").unwrap_or_default();
    let mut bound = 0;
    let mut off = 0;
    for line in maps.lines() {
        let mut words = line.split_whitespace();
        let (Some(_addr), Some(policy)) = (words.next(), words.next()) else { continue };
        let Some(nodes) = policy.strip_prefix("bind:").or_else(|| policy.strip_prefix("bind=static:")) else {
            continue;
        };
        bound += 1;
        let allowed = parse_list(nodes);
        let stray = line.split_whitespace().filter_map(|w| w.strip_prefix('N')?.split_once('=')).any(|(n, c)| {
            n.parse::<u32>().is_ok_and(|n| !allowed.contains(&n)) && c.parse::<u64>().is_ok_and(|c| c > 0)
        });
        if stray {
            off += 1;
            println!("    numa_maps, pages off the bound node: {line}");
        }
    }
    println!("    numa_maps: {off} of {bound} node-bound mappings hold pages off their nodes");
    // The whole table, for the log (the test's summary filters these lines out).
    for line in maps.lines().filter(|l| l.contains(" anon=")) {
        println!("    numa_maps| {line}");
    }
    for (node, _) in kernel_nodes() {
        let info = std::fs::read_to_string(format!("/sys/devices/system/node/node{node}/meminfo")).unwrap_or_default();
        let free: Vec<&str> = info
            .lines()
            .filter(|l| l.contains("MemFree") || l.contains("MemUsed") || l.contains("AnonHugePages"))
            .map(|l| l.split_once(':').map_or(l, |(_, v)| v).trim())
            .collect();
        println!("    node {node} MemFree/MemUsed/AnonHugePages: {}", free.join(" / "));
    }
    let vmstat = std::fs::read_to_string("/proc/vmstat").unwrap_or_default();
    let counters: Vec<&str> = vmstat
        .lines()
        .filter(|l| {
            ["thp_fault", "thp_collapse", "numa_", "pgmigrate", "compact_migrate", "compact_success", "pgsteal", "pswp"]
                .iter()
                .any(|p| l.starts_with(p))
        })
        .collect();
    println!("    vmstat: {}", counters.join(", "));
}

fn page_size() -> u64 {
    // SAFETY: sysconf has no memory-safety preconditions.
    let p = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    if p > 0 {
        p as u64
    } else {
        4096
    }
}

fn main() {
    let opts = parse_args();
    let kernel = kernel_nodes();
    let mut c = Checker { opts: &opts, kernel, violations: Vec::new(), shards_checked: 0 };
    let desc: Vec<String> = c.kernel.iter().map(|(n, cpus)| format!("node{n} cpus {}", list_string(cpus))).collect();
    println!(
        "numa_check: kernel: {} NUMA node(s) with CPUs ({}); allowed cpus {}",
        c.kernel.len(),
        desc.join("; "),
        list_string(&numashard::placement::allowed_cpus())
    );
    if let Some(n) = opts.expect_nodes {
        if c.kernel.len() != n as usize {
            c.fail(format!("kernel shows {} NUMA nodes with CPUs, expected {n}", c.kernel.len()));
        }
    }
    if !opts.lenient && !opts.scenarios.iter().all(|s| s.starts_with("synthetic:")) {
        control(&mut c);
    }
    for s in &opts.scenarios {
        c.scenario(s);
    }
    if c.violations.is_empty() {
        println!("numa_check: PASS ({} scenario(s), {} shard checks)", opts.scenarios.len(), c.shards_checked);
    } else {
        println!("numa_check: FAIL: {} violation(s)", c.violations.len());
        for v in c.violations.iter().take(20) {
            println!("  - {v}");
        }
        std::process::exit(1);
    }
}
