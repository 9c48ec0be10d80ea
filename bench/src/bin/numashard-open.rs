//! `numashard-open`: what opening many maps in one process costs — time per
//! `Map::new`, threads the process has after the opens, after a light load
//! of every map, and time per close — for the default mode (`Auto`) beside
//! `Delegate` (whose owner threads must exist from the start), in one run.
//!
//! ```text
//! cargo run --release -p numashard-bench --bin numashard-open -- [MAPS] [ROUNDS] [PUTS]
//! ```
//!
//! Defaults: 50 maps, 5 rounds (each opens and closes every map once per
//! mode, modes alternating; the median round is reported), 100 puts of
//! 16-byte keys and 32-byte values per map for the load column.

use numashard::{Config, ExecMode, Map};
use std::time::{Duration, Instant};

fn threads() -> usize {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| s.lines().find_map(|l| l.strip_prefix("Threads:").and_then(|n| n.trim().parse().ok())))
        .unwrap_or(0)
}

struct Round {
    open: Duration,
    threads_open: usize,
    threads_loaded: usize,
    close: Duration,
}

fn round(mode: ExecMode, maps: usize, puts: usize) -> Round {
    let base = threads();
    let t = Instant::now();
    let open: Vec<Map> =
        (0..maps).map(|_| Map::new(Config { exec_mode: mode, ..Config::default() }).expect("open a map")).collect();
    let open_time = t.elapsed();
    let threads_open = threads() - base;
    for m in &open {
        for i in 0..puts as u64 {
            m.put(&[i.to_le_bytes(), (!i).to_le_bytes()].concat(), &[7u8; 32]).expect("put");
        }
    }
    // Background work (reclaiming the tables the load outgrew) may start threads.
    std::thread::sleep(Duration::from_millis(20));
    let threads_loaded = threads() - base;
    let t = Instant::now();
    drop(open);
    Round { open: open_time, threads_open, threads_loaded, close: t.elapsed() }
}

fn main() {
    let arg = |i: usize, d: usize| std::env::args().nth(i).and_then(|a| a.parse().ok()).unwrap_or(d);
    let (maps, rounds, puts) = (arg(1, 50), arg(2, 5).max(1), arg(3, 100));
    println!(
        "{maps} maps per round, {rounds} rounds (median shown), {puts} puts per map; Config::default() but exec_mode"
    );
    println!("{:<9} {:>11} {:>15} {:>17} {:>12}", "mode", "ms/open", "threads open", "threads loaded", "ms/close");
    let mut results: Vec<(ExecMode, Vec<Round>)> = vec![(ExecMode::Auto, Vec::new()), (ExecMode::Delegate, Vec::new())];
    for r in 0..rounds {
        for i in 0..results.len() {
            let k = (i + r) % results.len();
            let mode = results[k].0;
            results[k].1.push(round(mode, maps, puts));
        }
    }
    let mut medians = Vec::new();
    for (mode, mut rs) in results {
        rs.sort_by_key(|r| r.open);
        let m = &rs[rs.len() / 2];
        let per = |d: Duration| d.as_secs_f64() * 1e3 / maps as f64;
        println!(
            "{:<9} {:>11.3} {:>15} {:>17} {:>12.3}",
            format!("{mode:?}"),
            per(m.open),
            m.threads_open,
            m.threads_loaded,
            per(m.close)
        );
        medians.push(per(m.open));
    }
    println!("open time, Auto / Delegate: {:.3}", medians[0] / medians[1]);
}
