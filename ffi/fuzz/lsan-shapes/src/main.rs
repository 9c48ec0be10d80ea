//! LeakSanitizer against the engine's states at exit.
//!
//! `lsan-shapes SHAPE open|close [N]` opens two maps as the fuzz target does
//! (2 shards each; one unlimited on the real machine, one with a memory
//! limit on a synthetic two-node topology), puts them in one shape, then
//! calls `exit` with both still open (`open`, as the fuzz target did before
//! it closed its maps at exit) or after closing and freeing them (`close`).
//! LeakSanitizer's exit check then reports whatever it finds unreachable.
//!
//! Engine shapes (each must end clean either way):
//! - `empty`: nothing stored.
//! - `filled N`: N entries per map (200000: tables grown, several chunks).
//! - `retired N`: filled, then cleared just before exit: the old slot
//!   arrays and chunks wait in the gate for their grace period.
//! - `replaced N`: `ns_replace_all` of N entries just before exit.
//! - `ttl N`: N entries with deadlines (half already due): the expiry wheel.
//! - `iter N`: N entries and an iterator left open.
//! - `batch N`: N batches of 64 puts.
//! - `busy MS`: other threads fill and clear both maps for MS ms, still at
//!   it when `exit` runs with the maps open (owner threads mid-reclaim when
//!   the check stops them); stopped and joined before a close.
//! - `stress-check N`: the same churn, and LeakSanitizer's recoverable check
//!   run N times meanwhile (each a snapshot taken while owner threads
//!   unlink, retire and free); prints how many reported a leak.
//!
//! - `tid-reuse`: the cause of the 12,704-byte report. Threads are spawned
//!   and joined, and both maps opened, started and closed, until the four
//!   owner threads of a freshly opened pair of maps all have kernel thread
//!   ids that earlier (joined) threads of this process had (a few tens of
//!   thousands of threads: the ids wrap at `/proc/sys/kernel/pid_max`); each
//!   owner then runs a `replace_all` job, as the fuzz target's inputs do.
//!   LeakSanitizer finds a stopped thread's stack and TLS by its kernel id
//!   and takes the first matching entry of its registry, the finished
//!   thread's, so the live owners are not scanned and everything only they
//!   point to is reported: with the maps left `open` it must report a leak
//!   (on the engine of `082621e`: 12,704 bytes in 24 allocations, the
//!   original report to the byte); `close` joins the owners first and must
//!   be clean.
//!
//! - `thread-reuse`: the mechanism without the engine: threads are spawned
//!   and joined one after another, each holding the only pointer to a heap
//!   block on its stack, until one gets the kernel id of a joined one; exit
//!   while it holds its block: must report it (checks on threads with fresh
//!   ids, every 5,000th, must be clean).
//!
//! Controls (they show the check can fail):
//! - `owned-leak N`: N values from `ns_get_owned` never freed, a real leak
//!   of the library's memory: must be reported.
//! - `region-only`: a heap block whose only pointer is stored in an
//!   anonymous mapping (as the engine's regions are mapped): must be
//!   reported, since LeakSanitizer does not scan such mappings.
//! - `region-root`: the same mapping registered with
//!   `__lsan_register_root_region`: must be clean.
//! - `value-ptr`: a value whose bytes are the address of a live heap block;
//!   only for the region scan (`--features scan`), which must find it.
//!
//! With `--features scan` (engine copy patched by `scripts/lsan-shapes.sh`)
//! the program also scans every live region of the engine for words that
//! point into a heap block before it exits, and prints the count.

use numashard::*;
use std::ffi::c_int;
use std::ptr::{null, null_mut};
use std::time::Duration;

extern "C" {
    fn __lsan_do_recoverable_leak_check() -> c_int;
    fn __lsan_register_root_region(p: *const libc::c_void, size: usize);
    #[cfg(feature = "scan")]
    fn numashard_lsan_scan_regions(out: *mut [u64; 3]);
}

fn open(limited: bool) -> *mut ns_map {
    let mut cfg = std::mem::MaybeUninit::<ns_config>::uninit();
    // SAFETY: ns_config_init_sized with the struct's own size fills all of it.
    let mut cfg = unsafe {
        assert_eq!(ns_config_init_sized(cfg.as_mut_ptr(), std::mem::size_of::<ns_config>()), ns_status::NS_OK);
        cfg.assume_init()
    };
    cfg.shards = 2;
    cfg.max_key_len = 32;
    cfg.max_value_len = 4096;
    cfg.memory_limit = if limited { 1 << 20 } else { 0 };
    cfg.topology = if limited { c"pack:2 [numa] core:1 pu:1".as_ptr() } else { null() };
    let mut m = null_mut();
    // SAFETY: a valid config and output.
    assert_eq!(unsafe { ns_map_new(&cfg, &mut m) }, ns_status::NS_OK);
    m
}

/// Stores keys `0..n` (8 bytes) with values of `vlen` equal bytes; FULL is
/// fine (the limited map).
fn fill(m: *mut ns_map, n: u64, vlen: usize) {
    for i in 0..n {
        let k = i.to_le_bytes();
        let v = vec![(i & 0x7f) as u8 | 1; vlen];
        // SAFETY: valid buffers of the stated lengths.
        let s = unsafe { ns_put(m, k.as_ptr(), 8, v.as_ptr(), vlen) };
        assert!(s == ns_status::NS_OK || s == ns_status::NS_ERR_FULL, "put: {s:?}");
    }
}

/// Set to stop the churning threads.
static STOP: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Spawns a thread per handle that churns its map (fill, clear,
/// replace_all) until [`STOP`].
fn churn(maps: &[*mut ns_map]) -> Vec<std::thread::JoinHandle<()>> {
    maps.iter()
        .enumerate()
        .map(|(t, &m)| {
            let m = m as usize;
            std::thread::spawn(move || {
                let m = m as *mut ns_map;
                let v = [3u8; 16];
                let keys: Vec<[u8; 8]> = (0..50u64).map(|i| (i + 7_000_000).to_le_bytes()).collect();
                let entries: Vec<ns_entry> = keys
                    .iter()
                    .map(|k| ns_entry { key: k.as_ptr(), key_len: 8, value: v.as_ptr(), value_len: 16 })
                    .collect();
                let mut round = t as u64;
                while !STOP.load(std::sync::atomic::Ordering::Relaxed) {
                    fill(m, 100 + round % 300, 16);
                    // SAFETY: a live map (closed only after this thread is
                    // joined) and valid entries.
                    unsafe {
                        if round.is_multiple_of(3) {
                            ns_replace_all(m, entries.as_ptr(), entries.len());
                        } else {
                            ns_clear(m);
                        }
                    }
                    round += 1;
                }
            })
        })
        .collect()
}

/// Kernel thread ids of this process's live owner threads (named `numashard-<shard>`).
fn owner_tids() -> Vec<i64> {
    let mut tids = Vec::new();
    for task in std::fs::read_dir("/proc/self/task").expect("read /proc/self/task").flatten() {
        let comm = std::fs::read_to_string(task.path().join("comm")).unwrap_or_default();
        if let (true, Some(Ok(tid))) = (comm.starts_with("numashard-"), task.file_name().to_str().map(str::parse)) {
            tids.push(tid);
        }
    }
    tids
}

/// Spawns and joins threads, and opens, starts and closes pairs of maps,
/// until the four owners of an open pair all have thread ids an earlier
/// thread of this process had; returns that pair and how many threads it took.
fn owners_with_reused_ids() -> ((*mut ns_map, *mut ns_map), usize) {
    let mut seen = std::collections::HashSet::new();
    let t0 = std::time::Instant::now();
    loop {
        for _ in 0..50 {
            // SAFETY: gettid has no preconditions.
            let t = std::thread::spawn(|| unsafe { libc::syscall(libc::SYS_gettid) });
            seen.insert(t.join().unwrap());
        }
        let pair = (open(false), open(true));
        for h in [pair.0, pair.1] {
            fill(h, 10, 16);
            // SAFETY: a live map. Clearing retires memory: owners start (if not yet).
            unsafe { assert_eq!(ns_clear(h), ns_status::NS_OK) };
        }
        let mut owners = owner_tids();
        for _ in 0..1000 {
            if owners.len() == 4 {
                break;
            }
            std::thread::sleep(Duration::from_millis(1));
            owners = owner_tids();
        }
        assert_eq!(owners.len(), 4, "four owner threads");
        if owners.iter().all(|t| seen.contains(t)) {
            return (pair, seen.len());
        }
        seen.extend(owners);
        for h in [pair.0, pair.1] {
            // SAFETY: live maps, each freed once.
            unsafe {
                assert_eq!(ns_map_close(h), ns_status::NS_OK);
                ns_map_free(h);
            }
        }
        assert!(t0.elapsed() < Duration::from_secs(1200), "no reused thread ids in 20 minutes");
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let shape = args.get(1).map_or("empty", String::as_str);
    let close = match args.get(2).map(String::as_str) {
        Some("close") => true,
        Some("open") | None => false,
        Some(other) => panic!("open or close, not {other}"),
    };
    let n: u64 = args.get(3).map_or(20, |s| s.parse().expect("N: a number"));
    let (mut m, mut l) = (open(false), open(true));
    let mut churners = Vec::new();
    match shape {
        "empty" => {}
        "filled" => {
            fill(m, n, 16);
            fill(l, n, 16);
        }
        "retired" => {
            fill(m, n, 16);
            fill(l, n, 16);
            // SAFETY: live maps.
            unsafe {
                assert_eq!(ns_clear(m), ns_status::NS_OK);
                assert_eq!(ns_clear(l), ns_status::NS_OK);
            }
        }
        "replaced" => {
            fill(m, n, 16);
            let keys: Vec<[u8; 8]> = (0..n).map(|i| (i + 1_000_000).to_le_bytes()).collect();
            let v = [7u8; 16];
            let entries: Vec<ns_entry> = keys
                .iter()
                .map(|k| ns_entry { key: k.as_ptr(), key_len: 8, value: v.as_ptr(), value_len: 16 })
                .collect();
            // SAFETY: a live map and valid entries.
            unsafe { assert_eq!(ns_replace_all(m, entries.as_ptr(), entries.len()), ns_status::NS_OK) };
        }
        "ttl" => {
            for i in 0..n {
                let k = i.to_le_bytes();
                let ttl_ms = if i % 2 == 0 { 1 } else { 3_600_000 };
                // SAFETY: valid buffers.
                unsafe { assert_eq!(ns_put_ttl(m, k.as_ptr(), 8, k.as_ptr(), 8, ttl_ms), ns_status::NS_OK) };
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        "iter" => {
            fill(m, n, 16);
            let mut it = null_mut();
            // SAFETY: a live map and a valid output; the iterator is left open on purpose.
            unsafe { assert_eq!(ns_iter_new(m, &mut it), ns_status::NS_OK) };
            std::hint::black_box(it);
        }
        "batch" => {
            let keys: Vec<[u8; 8]> = (0..64u64).map(|i| i.to_le_bytes()).collect();
            let mut ops: Vec<ns_op> = keys
                .iter()
                .map(|k| ns_op {
                    kind: 1,
                    status: 0,
                    key: k.as_ptr(),
                    key_len: 8,
                    value: k.as_ptr(),
                    value_len: 8,
                    expected: null(),
                    expected_len: 0,
                    delta: 0,
                    out: null_mut(),
                    out_cap: 0,
                    out_len: 0,
                    out_counter: 0,
                    ttl_ms: 0,
                })
                .collect();
            for _ in 0..n {
                // SAFETY: 64 valid ops.
                unsafe { assert_eq!(ns_batch(m, ops.as_mut_ptr(), ops.len()), ns_status::NS_OK) };
            }
        }
        "busy" => {
            churners = churn(&[m, l]);
            std::thread::sleep(Duration::from_millis(n));
        }
        "stress-check" => {
            churners = churn(&[m, l, m]);
            let mut reports = 0;
            for i in 0..n {
                std::thread::sleep(Duration::from_micros((i * 7919) % 3000));
                // SAFETY: the sanitizer's check takes no arguments.
                if unsafe { __lsan_do_recoverable_leak_check() } != 0 {
                    reports += 1;
                }
            }
            eprintln!("lsan-shapes: stress-check: {n} checks with owner threads at work, {reports} reported a leak");
        }
        "owned-leak" => {
            fill(m, 1, 100);
            // In a thread that ends, so no stale copy of a pointer stays on a live stack.
            let mm = m as usize;
            std::thread::spawn(move || {
                for _ in 0..n {
                    let (mut p, mut len) = (null_mut(), 0usize);
                    let k = 0u64.to_le_bytes();
                    // SAFETY: a live map and valid outputs; the value is not freed on purpose.
                    unsafe {
                        assert_eq!(ns_get_owned(mm as *mut ns_map, k.as_ptr(), 8, &mut p, &mut len), ns_status::NS_OK)
                    };
                }
            })
            .join()
            .unwrap();
        }
        "region-only" | "region-root" => {
            // SAFETY: a new private anonymous mapping; it aliases nothing.
            let region = unsafe {
                libc::mmap(
                    null_mut(),
                    4096,
                    libc::PROT_READ | libc::PROT_WRITE,
                    libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                    -1,
                    0,
                )
            };
            assert_ne!(region, libc::MAP_FAILED);
            if shape == "region-root" {
                // SAFETY: a mapping of ours that stays mapped until exit.
                unsafe { __lsan_register_root_region(region, 4096) };
            }
            let at = region as usize;
            std::thread::spawn(move || {
                let block = Box::into_raw(Box::new([0x5au8; 200]));
                // SAFETY: the first word of the mapping made above.
                unsafe { (at as *mut usize).write(block as usize) };
            })
            .join()
            .unwrap();
        }
        "value-ptr" => {
            static KEEP: std::sync::Mutex<Vec<usize>> = std::sync::Mutex::new(Vec::new());
            let block = Box::into_raw(Box::new([0x5au8; 64])) as usize;
            KEEP.lock().unwrap().push(block);
            let (k, v) = (1u64.to_le_bytes(), block.to_le_bytes());
            // SAFETY: valid buffers.
            unsafe { assert_eq!(ns_put(m, k.as_ptr(), 8, v.as_ptr(), 8), ns_status::NS_OK) };
        }
        "tid-reuse" => {
            for h in [m, l] {
                // SAFETY: live maps, each freed once; replaced below.
                unsafe {
                    assert_eq!(ns_map_close(h), ns_status::NS_OK);
                    ns_map_free(h);
                }
            }
            let (pair, burned) = owners_with_reused_ids();
            (m, l) = pair;
            let keys: Vec<[u8; 8]> = (0..16u64).map(|i| i.to_le_bytes()).collect();
            let entries: Vec<ns_entry> = keys
                .iter()
                .map(|k| ns_entry { key: k.as_ptr(), key_len: 8, value: k.as_ptr(), value_len: 8 })
                .collect();
            for h in [m, l] {
                // SAFETY: a live map and valid entries.
                unsafe { assert_eq!(ns_replace_all(h, entries.as_ptr(), entries.len()), ns_status::NS_OK) };
            }
            eprintln!("lsan-shapes: tid-reuse: {burned} threads before the four owners all had reused thread ids");
        }
        "thread-reuse" => {
            let mut seen = std::collections::HashSet::new();
            for spawned in 1u64.. {
                let (tid_tx, tid_rx) = std::sync::mpsc::channel::<i64>();
                let (go_tx, go_rx) = std::sync::mpsc::channel::<bool>();
                let t = std::thread::spawn(move || {
                    // The only pointer to this block is on this thread's stack.
                    let block = std::hint::black_box(Box::new([0x77u8; 333]));
                    // SAFETY: gettid has no preconditions.
                    tid_tx.send(unsafe { libc::syscall(libc::SYS_gettid) }).unwrap();
                    if go_rx.recv().unwrap() {
                        drop(std::hint::black_box(block));
                    } else {
                        // Hold the block until the process exits.
                        loop {
                            std::thread::park();
                        }
                    }
                });
                let tid = tid_rx.recv().unwrap();
                if !seen.insert(tid) {
                    eprintln!("lsan-shapes: thread-reuse: thread {spawned} got the id {tid} of a joined one");
                    std::mem::forget(t);
                    break;
                }
                if spawned % 5000 == 1 {
                    // SAFETY: the sanitizer's check takes no arguments.
                    let leaked = unsafe { __lsan_do_recoverable_leak_check() } != 0;
                    eprintln!(
                        "lsan-shapes: thread-reuse: thread {spawned}, fresh id {tid}: {}",
                        if leaked { "LEAK" } else { "clean" }
                    );
                    assert!(!leaked, "a thread with a fresh id reported");
                }
                go_tx.send(true).unwrap();
                t.join().unwrap();
            }
        }
        other => panic!("unknown shape {other}"),
    }
    #[cfg(feature = "scan")]
    {
        let mut r = [0u64; 3];
        // SAFETY: a valid output.
        unsafe { numashard_lsan_scan_regions(&mut r) };
        eprintln!(
            "lsan-shapes: scan: {shape}: {} live regions, {} bytes, {} words point into a heap block",
            r[0], r[1], r[2]
        );
    }
    if close {
        // The churning threads stop first: no call may race ns_map_free.
        STOP.store(true, std::sync::atomic::Ordering::Relaxed);
        churners.into_iter().for_each(|t| t.join().unwrap());
        for h in [m, l] {
            // SAFETY: live maps, each freed once.
            unsafe {
                assert_eq!(ns_map_close(h), ns_status::NS_OK);
                ns_map_free(h);
            }
        }
    }
    eprintln!("lsan-shapes: {shape} {n}: exit with the maps {}", if close { "closed and freed" } else { "open" });
    // SAFETY: ends the process (LeakSanitizer's check runs in its exit handler).
    unsafe { libc::exit(0) };
}
