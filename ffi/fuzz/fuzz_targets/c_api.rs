//! Random call sequences with arbitrary bytes through the C ABI (the
//! `extern "C"` functions, called from Rust exactly as C calls them),
//! checked against a model map (`std::collections::HashMap`).
//!
//! Two maps live across inputs (creating one starts threads): one without a
//! memory limit on the real machine, whose small records are placed by hash
//! in 4 lines per shard, one with a small limit (so that
//! `NS_ERR_FULL` happens) on a synthetic two-node topology. Each
//! input clears the map it picked, runs its calls, and ends with a full
//! comparison of the map's contents with the model. An input that closes its
//! map checks that every call then answers `NS_ERR_CLOSED`, frees the map
//! (checking the freed handle too), and the next input opens a new one.
//!
//! At process exit (`atexit`, which runs before LeakSanitizer's own exit
//! check) the maps still open are closed and freed: their owner threads are
//! joined and all their memory is released, so the leak check then runs
//! with no thread of the library alive and nothing of it allocated but the
//! map handles the library keeps reachable on purpose. Any leak it reports
//! is memory the library lost. The handler prints one line saying so; the
//! script checks for it.
//!
//! Every `NUMASHARD_FUZZ_LEAK_CHECK_EVERY` inputs (default 4096; 0 = never)
//! the target also closes and frees its maps (the next input opens new
//! ones) and runs LeakSanitizer's check in the middle of the run, and keeps
//! a copy of every input since the previous check. When the check reports lost memory, those inputs are
//! written to `$NUMASHARD_FUZZ_ARTIFACTS/leak-window/` (the script's
//! artifact directory; else the current directory) in the order they ran,
//! and the target stops: a leak is then reported with its stacks within a
//! few thousand inputs of where it happened, and those inputs replay it
//! (see `ffi/fuzz/README.md`). `NUMASHARD_FUZZ_CANARY_LEAK=1` makes the
//! target leak on purpose (it drops the values `ns_get_owned` and
//! `ns_take_owned` return without freeing them) so the script can check
//! that a leak is caught this way.
#![no_main]
// Weak linkage to the sanitizer runtime (the fuzz build runs on nightly features).
#![feature(linkage)]

use libfuzzer_sys::fuzz_target;
use numashard::*;
use std::collections::HashMap;
use std::ptr::{null, null_mut};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Mutex;

const MAX_KEY: usize = 32;
const MAX_VALUE: usize = 64;
const LIMIT: u64 = 4096;

struct Handle(*mut ns_map);
// SAFETY: a map handle may be used from any thread.
unsafe impl Send for Handle {}

static MAPS: Mutex<[Option<Handle>; 2]> = Mutex::new([None, None]);

extern "C" {
    /// The C library's `atexit`: handlers run in reverse order of
    /// registration, so one registered after the sanitizer runtime started
    /// runs before its leak check.
    fn atexit(handler: extern "C" fn()) -> std::ffi::c_int;
}

/// Closes and frees the maps still open (the next input opens new ones);
/// returns how many. Their owner threads are joined when this returns.
fn close_maps(maps: &mut [Option<Handle>; 2]) -> usize {
    let mut closed = 0;
    for slot in maps.iter_mut() {
        if let Some(Handle(m)) = slot.take() {
            // SAFETY: a live map handle; no other call runs (the caller
            // holds MAPS between inputs), and it is freed once.
            unsafe {
                assert_eq!(ns_map_close(m), ns_status::NS_OK);
                ns_map_free(m);
            }
            closed += 1;
        }
    }
    closed
}

/// Closes and frees the maps still open (see the module docs).
extern "C" fn close_maps_at_exit() {
    let closed = close_maps(&mut MAPS.lock().unwrap_or_else(|e| e.into_inner()));
    let checks = CHECKS.load(Relaxed);
    eprintln!("c_api: {checks} periodic leak check(s) during the run (maps closed and freed first), all clean");
    eprintln!("c_api: closed and freed {closed} open map(s) before the exit leak check");
}

/// The inputs run since the last periodic leak check, in order.
static WINDOW: Mutex<Vec<Vec<u8>>> = Mutex::new(Vec::new());
/// Inputs run in all (the window's first is `RUNS - len + 1`).
static RUNS: AtomicU64 = AtomicU64::new(0);
/// Periodic leak checks that found nothing.
static CHECKS: AtomicU64 = AtomicU64::new(0);

/// Settings read once from the environment.
struct Settings {
    /// Inputs between two periodic leak checks (0 = none).
    check_every: usize,
    /// LeakSanitizer's recoverable check, when this process has it (an ASan build).
    leak_check: Option<unsafe extern "C" fn() -> std::ffi::c_int>,
    /// Drop owned values without freeing them (see the module docs).
    canary_leak: bool,
}

fn settings() -> &'static Settings {
    static S: std::sync::OnceLock<Settings> = std::sync::OnceLock::new();
    S.get_or_init(|| {
        extern "C" {
            /// The sanitizer runtime's check, a weak reference: None when
            /// the target is built without LeakSanitizer.
            #[linkage = "extern_weak"]
            static __lsan_do_recoverable_leak_check: Option<unsafe extern "C" fn() -> std::ffi::c_int>;
        }
        // SAFETY: reading the address the linker resolved (or None).
        let leak_check = unsafe { __lsan_do_recoverable_leak_check };
        let env = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
        Settings {
            check_every: env("NUMASHARD_FUZZ_LEAK_CHECK_EVERY")
                .map_or(4096, |v| v.parse().expect("NUMASHARD_FUZZ_LEAK_CHECK_EVERY: a number")),
            leak_check,
            canary_leak: env("NUMASHARD_FUZZ_CANARY_LEAK").is_some_and(|v| v != "0"),
        }
    })
}

/// Before each input: every `check_every` inputs, LeakSanitizer's check
/// (stopping the run with the window saved when it finds lost memory);
/// then the input joins the window.
fn leak_window(data: &[u8]) {
    let s = settings();
    let Some(check) = s.leak_check.filter(|_| s.check_every > 0) else { return };
    let mut window = WINDOW.lock().unwrap_or_else(|e| e.into_inner());
    if window.len() >= s.check_every {
        // No thread of the library may be alive during the check: LeakSanitizer
        // finds a stopped thread's stack and TLS by its kernel thread id, and a
        // live owner thread whose id an earlier (joined) thread of this process
        // had is skipped, so all it alone points to is reported lost (see
        // ffi/fuzz/README.md). Closing joins the owners; memory lost stays lost.
        close_maps(&mut MAPS.lock().unwrap_or_else(|e| e.into_inner()));
        // SAFETY: the sanitizer's check takes no arguments; no input runs.
        if unsafe { check() } != 0 {
            let runs = RUNS.load(Relaxed);
            let dir = std::path::Path::new(&std::env::var_os("NUMASHARD_FUZZ_ARTIFACTS").unwrap_or_else(|| ".".into()))
                .join("leak-window");
            std::fs::create_dir_all(&dir).expect("create the leak window directory");
            for (i, input) in window.iter().enumerate() {
                std::fs::write(dir.join(format!("input-{:06}", i + 1)), input).expect("write a window input");
            }
            panic!(
                "c_api: LeakSanitizer found memory lost within the last {} inputs (runs {}..={}); they are in {}",
                window.len(),
                runs + 1 - window.len() as u64,
                runs,
                dir.display()
            );
        }
        CHECKS.fetch_add(1, Relaxed);
        window.clear();
    }
    window.push(data.to_vec());
    RUNS.fetch_add(1, Relaxed);
}

type Model = HashMap<Vec<u8>, Vec<u8>>;

#[path = "input.rs"]
mod input;
use input::Input;

impl Input<'_> {
    fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.byte()).collect()
    }
    /// A key: few distinct short keys (so operations meet), the empty key,
    /// the longest key, and one byte too long.
    fn key(&mut self) -> Vec<u8> {
        let b = self.byte();
        match b % 8 {
            0 => vec![],
            1..=3 => vec![(b >> 3) % 8],
            4 | 5 => vec![(b >> 3) % 4, 0],
            6 => vec![b >> 6; MAX_KEY],
            _ => vec![b >> 6; MAX_KEY + 1],
        }
    }
    /// A value: empty, short arbitrary bytes, an 8-byte counter, the
    /// longest value, one byte too long.
    fn value(&mut self) -> Vec<u8> {
        let b = self.byte();
        let len = match b % 8 {
            0 => 0,
            1..=4 => (b >> 3) as usize % 12,
            5 => 8,
            6 => MAX_VALUE,
            _ => MAX_VALUE + 1,
        };
        self.bytes(len)
    }
}

fn ptr(v: &[u8]) -> *const u8 {
    if v.is_empty() {
        null()
    } else {
        v.as_ptr()
    }
}

/// The argument error a key (and value) must produce, if any.
fn arg_error(k: &[u8], v: Option<&[u8]>) -> Option<ns_status> {
    if k.len() > MAX_KEY {
        Some(ns_status::NS_ERR_KEY_TOO_LARGE)
    } else if v.is_some_and(|v| v.len() > MAX_VALUE) {
        Some(ns_status::NS_ERR_VALUE_TOO_LARGE)
    } else {
        None
    }
}

/// A write that stores `v` under `k` when it succeeds; FULL (only with a
/// limit) changes nothing.
fn expect_store(s: ns_status, limited: bool, model: &mut Model, k: &[u8], v: &[u8]) {
    if s == ns_status::NS_ERR_FULL {
        assert!(limited, "FULL without a memory limit");
    } else {
        assert_eq!(s, ns_status::NS_OK);
        model.insert(k.to_vec(), v.to_vec());
    }
}

struct Fuzz<'a> {
    m: *mut ns_map,
    limited: bool,
    model: Model,
    inp: Input<'a>,
}

impl Fuzz<'_> {
    fn get_like(&mut self, take: bool) {
        let k = self.inp.key();
        let cap = self.inp.byte() as usize % 80;
        let mut buf = vec![0xEEu8; cap];
        let bp = if cap == 0 { null_mut() } else { buf.as_mut_ptr() };
        let mut len = usize::MAX;
        // SAFETY: valid buffers of the stated lengths.
        let s = unsafe {
            if take {
                ns_take(self.m, ptr(&k), k.len(), bp, cap, &mut len)
            } else {
                ns_get(self.m, ptr(&k), k.len(), bp, cap, &mut len)
            }
        };
        if let Some(e) = arg_error(&k, None) {
            assert_eq!(s, e);
            return;
        }
        match self.model.get(&k) {
            None => {
                assert_eq!(s, ns_status::NS_NOT_FOUND);
                assert_eq!(len, usize::MAX, "output written on NOT_FOUND");
            }
            Some(v) if v.len() > cap => {
                assert_eq!((s, len), (ns_status::NS_BUFFER_TOO_SMALL, v.len()));
                assert!(buf.iter().all(|&b| b == 0xEE), "buffer touched");
            }
            Some(v) => {
                assert_eq!((s, len), (ns_status::NS_OK, v.len()));
                assert_eq!(&buf[..len], &v[..]);
                assert!(buf[len..].iter().all(|&b| b == 0xEE), "wrote past the value");
                if take {
                    self.model.remove(&k);
                }
            }
        }
    }

    /// `ns_get_many` of up to 16 keys with a random stride (0 = lengths
    /// only): each key's status, length and copied bytes against the model,
    /// the room past each value and the too-small ones untouched, and the
    /// call's status (BUFFER_TOO_SMALL iff some key's value did not fit).
    fn get_many(&mut self) {
        let n = self.inp.byte() as usize % 17;
        let keys: Vec<Vec<u8>> = (0..n).map(|_| self.inp.key()).collect();
        let stride = self.inp.byte() as usize % 80;
        let flat: Vec<u8> = keys.concat();
        let lens: Vec<usize> = keys.iter().map(Vec::len).collect();
        let mut out = vec![0xEEu8; n * stride];
        let mut vlens = vec![usize::MAX; n];
        let mut sts = vec![-1i32; n];
        let op = if out.is_empty() { null_mut() } else { out.as_mut_ptr() };
        // SAFETY: every array has the length the call is told.
        let s = unsafe {
            ns_get_many(
                self.m,
                n,
                ptr(&flat),
                if n == 0 { null() } else { lens.as_ptr() },
                op,
                stride,
                if n == 0 { null_mut() } else { vlens.as_mut_ptr() },
                if n == 0 { null_mut() } else { sts.as_mut_ptr() },
            )
        };
        let mut any_small = false;
        for (i, k) in keys.iter().enumerate() {
            let room = &out[i * stride..(i + 1) * stride];
            let (want, wlen) = match (arg_error(k, None), self.model.get(k)) {
                (Some(e), _) => (e, 0),
                (None, None) => (ns_status::NS_NOT_FOUND, 0),
                (None, Some(v)) if v.len() > stride => {
                    any_small = true;
                    (ns_status::NS_BUFFER_TOO_SMALL, v.len())
                }
                (None, Some(v)) => {
                    assert_eq!(&room[..v.len()], &v[..], "key {i}: wrong bytes");
                    (ns_status::NS_OK, v.len())
                }
            };
            assert_eq!((ns_status_from(sts[i]), vlens[i]), (want, wlen), "key {i} of {n}");
            let copied = if want == ns_status::NS_OK { wlen } else { 0 };
            assert!(room[copied..].iter().all(|&b| b == 0xEE), "key {i}: wrote past the value");
        }
        let want = if any_small { ns_status::NS_BUFFER_TOO_SMALL } else { ns_status::NS_OK };
        assert_eq!(s, want);
    }

    fn swap(&mut self) {
        let k = self.inp.key();
        let v = self.inp.value();
        let cap = self.inp.byte() as usize % 80;
        let mut buf = vec![0xEEu8; cap];
        let bp = if cap == 0 { null_mut() } else { buf.as_mut_ptr() };
        let mut len = usize::MAX;
        // SAFETY: valid buffers of the stated lengths.
        let s = unsafe { ns_swap(self.m, ptr(&k), k.len(), ptr(&v), v.len(), bp, cap, &mut len) };
        if let Some(e) = arg_error(&k, Some(&v)) {
            return assert_eq!(s, e);
        }
        match self.model.get(&k).cloned() {
            None => {
                assert_eq!(len, usize::MAX, "output written without a previous value");
                if s == ns_status::NS_ERR_FULL {
                    assert!(self.limited, "FULL without a memory limit");
                } else {
                    assert_eq!(s, ns_status::NS_NOT_FOUND);
                    self.model.insert(k, v);
                }
            }
            Some(old) if old.len() > cap => {
                assert_eq!((s, len), (ns_status::NS_BUFFER_TOO_SMALL, old.len()));
                assert!(buf.iter().all(|&b| b == 0xEE), "buffer touched");
            }
            Some(old) => {
                assert_eq!(len, old.len());
                assert_eq!(&buf[..len], &old[..]);
                expect_store(s, self.limited, &mut self.model, &k, &v);
            }
        }
    }

    fn owned(&mut self, take: bool) {
        let k = self.inp.key();
        let (mut p, mut len) = (null_mut::<u8>(), 0usize);
        // SAFETY: valid outputs.
        let s = unsafe {
            if take {
                ns_take_owned(self.m, ptr(&k), k.len(), &mut p, &mut len)
            } else {
                ns_get_owned(self.m, ptr(&k), k.len(), &mut p, &mut len)
            }
        };
        if let Some(e) = arg_error(&k, None) {
            assert_eq!(s, e);
            return;
        }
        match self.model.get(&k) {
            None => assert_eq!((s, p), (ns_status::NS_NOT_FOUND, null_mut())),
            Some(v) => {
                assert_eq!(s, ns_status::NS_OK);
                assert!(!p.is_null());
                // SAFETY: the library returned `len` bytes at `p`.
                assert_eq!(unsafe { std::slice::from_raw_parts(p, len) }, &v[..]);
                if !settings().canary_leak {
                    // SAFETY: returned by ns_*_owned with this length.
                    unsafe { ns_bytes_free(p, len) };
                }
                if take {
                    self.model.remove(&k);
                }
            }
        }
    }

    fn put_like(&mut self, which: u8) {
        let (k, v) = (self.inp.key(), self.inp.value());
        let cap = self.inp.byte() as usize % 16;
        let mut buf = vec![0xEEu8; cap];
        let mut len = usize::MAX;
        // SAFETY: valid buffers of the stated lengths.
        let s = unsafe {
            match which {
                0 => ns_put(self.m, ptr(&k), k.len(), ptr(&v), v.len()),
                1 => ns_put_if_absent(self.m, ptr(&k), k.len(), ptr(&v), v.len()),
                _ => ns_get_or_put(self.m, ptr(&k), k.len(), ptr(&v), v.len(), buf.as_mut_ptr(), cap, &mut len),
            }
        };
        if let Some(e) = arg_error(&k, Some(&v)) {
            assert_eq!(s, e);
            return;
        }
        match (which, self.model.get(&k)) {
            (1, Some(_)) => assert_eq!(s, ns_status::NS_EXISTS),
            (2, Some(old)) if old.len() > cap => {
                assert_eq!((s, len), (ns_status::NS_BUFFER_TOO_SMALL, old.len()));
                assert!(buf.iter().all(|&b| b == 0xEE));
            }
            (2, Some(old)) => {
                assert_eq!((s, len), (ns_status::NS_EXISTS, old.len()));
                assert_eq!(&buf[..len], &old[..]);
            }
            _ => {
                expect_store(s, self.limited, &mut self.model, &k, &v);
                assert_eq!(len, usize::MAX);
            }
        }
    }

    fn delete(&mut self) {
        let k = self.inp.key();
        // SAFETY: a valid key.
        let s = unsafe { ns_delete(self.m, ptr(&k), k.len()) };
        if let Some(e) = arg_error(&k, None) {
            return assert_eq!(s, e);
        }
        let want = if self.model.remove(&k).is_some() { ns_status::NS_OK } else { ns_status::NS_NOT_FOUND };
        assert_eq!(s, want);
    }

    fn compare_and_delete(&mut self) {
        let k = self.inp.key();
        let use_current = self.inp.byte() & 1 == 1;
        let e = match self.model.get(&k) {
            Some(cur) if use_current => cur.clone(),
            _ => self.inp.value(),
        };
        // SAFETY: valid buffers.
        let s = unsafe { ns_compare_and_delete(self.m, ptr(&k), k.len(), ptr(&e), e.len()) };
        if let Some(err) = arg_error(&k, None) {
            return assert_eq!(s, err);
        }
        match self.model.get(&k) {
            None => assert_eq!(s, ns_status::NS_NOT_FOUND),
            Some(cur) if *cur != e => assert_eq!(s, ns_status::NS_MISMATCH),
            Some(_) => {
                assert_eq!(s, ns_status::NS_OK);
                self.model.remove(&k);
            }
        }
    }

    fn cas(&mut self) {
        let k = self.inp.key();
        let use_current = self.inp.byte() & 1 == 1;
        let e = match self.model.get(&k) {
            Some(cur) if use_current => cur.clone(),
            _ => self.inp.value(),
        };
        let v = self.inp.value();
        // SAFETY: valid buffers.
        let s = unsafe { ns_compare_and_swap(self.m, ptr(&k), k.len(), ptr(&e), e.len(), ptr(&v), v.len()) };
        if let Some(err) = arg_error(&k, Some(&v)) {
            return assert_eq!(s, err);
        }
        match self.model.get(&k) {
            None => assert_eq!(s, ns_status::NS_NOT_FOUND),
            Some(cur) if *cur != e => assert_eq!(s, ns_status::NS_MISMATCH),
            Some(_) => expect_store(s, self.limited, &mut self.model, &k, &v),
        }
    }

    fn add(&mut self) {
        let k = self.inp.key();
        let delta = i64::from_le_bytes(self.inp.bytes(8).try_into().unwrap());
        let mut n = 0i64;
        // SAFETY: valid key and output.
        let s = unsafe { ns_add(self.m, ptr(&k), k.len(), delta, &mut n) };
        if let Some(e) = arg_error(&k, None) {
            return assert_eq!(s, e);
        }
        match self.model.get(&k) {
            None => {
                expect_store(s, self.limited, &mut self.model, &k, &delta.to_le_bytes());
                if s == ns_status::NS_OK {
                    assert_eq!(n, delta);
                }
            }
            Some(v) if v.len() != 8 => assert_eq!(s, ns_status::NS_ERR_NOT_A_COUNTER),
            Some(v) => {
                let new = i64::from_le_bytes(v[..].try_into().unwrap()).wrapping_add(delta);
                assert_eq!((s, n), (ns_status::NS_OK, new));
                self.model.insert(k, new.to_le_bytes().to_vec());
            }
        }
    }

    fn batch(&mut self) {
        let n = self.inp.byte() as usize % 17;
        let mut keys = Vec::with_capacity(n);
        let mut vals = Vec::with_capacity(n);
        let mut exps = Vec::with_capacity(n);
        let mut outs: Vec<Vec<u8>> = Vec::with_capacity(n);
        let mut kinds = Vec::with_capacity(n);
        let mut nulls = Vec::with_capacity(n);
        for _ in 0..n {
            let raw = self.inp.byte();
            kinds.push(if raw >= 0xF8 {
                raw as i32 - 0x100
            } else if raw >= 0xF0 {
                raw as i32
            } else {
                (raw % 7) as i32
            });
            keys.push(self.inp.key());
            vals.push(self.inp.value());
            exps.push(if self.inp.byte() & 1 == 1 { vals.last().unwrap().clone() } else { self.inp.value() });
            outs.push(vec![0xEE; self.inp.byte() as usize % 24]);
            // Rarely, a NULL key with a length.
            nulls.push(self.inp.byte() == 0xAA);
        }
        let delta = self.inp.byte() as i64 - 100;
        let mut ops: Vec<ns_op> = (0..n)
            .map(|i| ns_op {
                kind: kinds[i],
                status: -99,
                key: if nulls[i] { null() } else { ptr(&keys[i]) },
                key_len: if nulls[i] { 3 } else { keys[i].len() },
                value: ptr(&vals[i]),
                value_len: vals[i].len(),
                expected: ptr(&exps[i]),
                expected_len: exps[i].len(),
                delta,
                out: if outs[i].is_empty() { null_mut() } else { outs[i].as_mut_ptr() },
                out_cap: outs[i].len(),
                out_len: 12345,
                out_counter: 12345,
                // Both mean "never expires" in a map without a default TTL.
                ttl_ms: if i % 2 == 0 { 0 } else { u64::MAX },
            })
            .collect();
        let ops_ptr = if n == 0 { null_mut() } else { ops.as_mut_ptr() };
        // SAFETY: every pointer is valid for its length (or NULL with the
        // lengths the API rejects); out buffers are distinct.
        let s = unsafe { ns_batch(self.m, ops_ptr, n) };
        assert_eq!(s, ns_status::NS_OK);
        for i in 0..n {
            let op = &ops[i];
            let (k, v, e, out) = (&keys[i], &vals[i], &exps[i], &outs[i]);
            let st = op.status;
            if nulls[i] || !(0..7).contains(&kinds[i]) {
                assert_eq!((st, op.out_len, op.out_counter), (ns_status::NS_ERR_INVALID_ARGUMENT as i32, 0, 0));
                continue;
            }
            let uses_value = matches!(kinds[i], 1 | 2 | 5);
            if let Some(err) = arg_error(k, uses_value.then_some(&v[..])) {
                assert_eq!(st, err as i32, "op {i} kind {}", kinds[i]);
                continue;
            }
            let st = ns_status_from(st);
            let cap = out.len();
            match kinds[i] {
                0 | 4 => match self.model.get(k) {
                    None => assert_eq!((st, op.out_len), (ns_status::NS_NOT_FOUND, 0)),
                    Some(cur) if cur.len() > cap => {
                        assert_eq!((st, op.out_len), (ns_status::NS_BUFFER_TOO_SMALL, cur.len()));
                        assert!(out.iter().all(|&b| b == 0xEE));
                    }
                    Some(cur) => {
                        assert_eq!((st, op.out_len), (ns_status::NS_OK, cur.len()));
                        assert_eq!(&out[..cur.len()], &cur[..]);
                        if kinds[i] == 4 {
                            self.model.remove(k);
                        }
                    }
                },
                1 => expect_store(st, self.limited, &mut self.model, k, v),
                2 => match self.model.get(k) {
                    Some(cur) => {
                        assert_eq!((st, op.out_len), (ns_status::NS_EXISTS, cur.len()));
                        if cur.len() <= cap {
                            assert_eq!(&out[..cur.len()], &cur[..]);
                        } else {
                            assert!(out.iter().all(|&b| b == 0xEE));
                        }
                    }
                    None => expect_store(st, self.limited, &mut self.model, k, v),
                },
                3 => {
                    let want = if self.model.remove(k).is_some() { ns_status::NS_OK } else { ns_status::NS_NOT_FOUND };
                    assert_eq!(st, want);
                }
                5 => match self.model.get(k) {
                    None => assert_eq!(st, ns_status::NS_NOT_FOUND),
                    Some(cur) if cur != e => assert_eq!(st, ns_status::NS_MISMATCH),
                    Some(_) => expect_store(st, self.limited, &mut self.model, k, v),
                },
                _ => match self.model.get(k) {
                    None => {
                        expect_store(st, self.limited, &mut self.model, k, &delta.to_le_bytes());
                        if st == ns_status::NS_OK {
                            assert_eq!(op.out_counter, delta);
                        }
                    }
                    Some(cur) if cur.len() != 8 => assert_eq!(st, ns_status::NS_ERR_NOT_A_COUNTER),
                    Some(cur) => {
                        let new = i64::from_le_bytes(cur[..].try_into().unwrap()).wrapping_add(delta);
                        assert_eq!((st, op.out_counter), (ns_status::NS_OK, new));
                        self.model.insert(k.clone(), new.to_le_bytes().to_vec());
                    }
                },
            }
        }
    }

    fn replace_all(&mut self) {
        let n = self.inp.byte() as usize % 8;
        let entries: Vec<(Vec<u8>, Vec<u8>)> = (0..n).map(|_| (self.inp.key(), self.inp.value())).collect();
        let c: Vec<ns_entry> = entries
            .iter()
            .map(|(k, v)| ns_entry { key: ptr(k), key_len: k.len(), value: ptr(v), value_len: v.len() })
            .collect();
        // SAFETY: valid entries.
        let s = unsafe { ns_replace_all(self.m, if n == 0 { null() } else { c.as_ptr() }, n) };
        if let Some(e) = entries.iter().find_map(|(k, v)| arg_error(k, Some(v))) {
            return assert_eq!(s, e);
        }
        if s == ns_status::NS_ERR_FULL {
            assert!(self.limited);
            return;
        }
        assert_eq!(s, ns_status::NS_OK);
        self.model = entries.into_iter().collect();
    }

    /// Iterates the whole map: every entry exactly once, equal to the model.
    /// One byte of input picks how: `ns_iter_next` alone (0), or
    /// `ns_iter_next_many` into a buffer of 0..=127 bytes (entries take up
    /// to 104: sometimes too small, then one of the size it reports),
    /// alone or alternated with `ns_iter_next` (the low bit).
    fn compare_all(&mut self) {
        let how = self.inp.byte();
        let (cap, mixed) = ((how >> 1) as usize, how & 1 == 1);
        let mut it = null_mut();
        // SAFETY: valid outputs and buffers of the stated sizes; the
        // iterator is freed below.
        unsafe {
            assert_eq!(ns_iter_new(self.m, &mut it), ns_status::NS_OK);
            let mut seen = Model::new();
            let (mut k, mut kl, mut v, mut vl) = (null(), 0usize, null(), 0usize);
            let mut buf = vec![0xEEu8; cap];
            for step in 0usize.. {
                if how == 0 || (mixed && step % 2 == 0) {
                    match ns_iter_next(it, &mut k, &mut kl, &mut v, &mut vl) {
                        ns_status::NS_OK => {
                            let key = std::slice::from_raw_parts(k, kl).to_vec();
                            let val = std::slice::from_raw_parts(v, vl).to_vec();
                            assert!(seen.insert(key, val).is_none(), "entry seen twice");
                        }
                        s => {
                            assert_eq!(s, ns_status::NS_NOT_FOUND);
                            break;
                        }
                    }
                    continue;
                }
                buf.fill(0xEE);
                let bp = if cap == 0 { null_mut() } else { buf.as_mut_ptr() };
                let (mut n, mut used) = (usize::MAX, usize::MAX);
                match ns_iter_next_many(it, bp, cap, &mut n, &mut used) {
                    ns_status::NS_OK => {
                        assert!(n >= 1 && used <= cap);
                        assert!(buf[used..].iter().all(|&b| b == 0xEE), "wrote past the entries");
                        decode_many(&buf[..used], n, &mut seen);
                    }
                    ns_status::NS_BUFFER_TOO_SMALL => {
                        assert!(used > cap && n == usize::MAX);
                        assert!(buf.iter().all(|&b| b == 0xEE), "buffer touched");
                        let need = used;
                        let mut big = vec![0u8; need];
                        assert_eq!(ns_iter_next_many(it, big.as_mut_ptr(), need, &mut n, &mut used), ns_status::NS_OK);
                        assert_eq!((n, used), (1, need));
                        decode_many(&big, n, &mut seen);
                    }
                    s => {
                        assert_eq!((s, n, used), (ns_status::NS_NOT_FOUND, usize::MAX, usize::MAX));
                        break;
                    }
                }
            }
            ns_iter_free(it);
            assert_eq!(seen, self.model);
            let mut n = 0u64;
            assert_eq!(ns_len(self.m, &mut n), ns_status::NS_OK);
            assert_eq!(n as usize, self.model.len());
        }
    }

    fn stats(&mut self) {
        // SAFETY: valid outputs and buffers.
        unsafe {
            let mut st = ns_stats::default();
            assert_eq!(ns_stats_get(self.m, &mut st), ns_status::NS_OK);
            assert_eq!((st.shards, st.entries as usize), (2, self.model.len()));
            let shard = self.inp.byte() as u32 % 3;
            let mut ss = ns_shard_stats::default();
            let want = if shard < 2 { ns_status::NS_OK } else { ns_status::NS_ERR_INVALID_ARGUMENT };
            assert_eq!(ns_shard_stats_get(self.m, shard, &mut ss), want);
            // The sized getter: the whole struct, a size below version 1's
            // (refused), or more than the struct (capped to it).
            let (size, sized_want) = match self.inp.byte() % 3 {
                0 => (std::mem::size_of::<ns_shard_stats>(), want),
                1 => (8, ns_status::NS_ERR_INVALID_ARGUMENT),
                _ => (usize::MAX, want),
            };
            let mut whole = ns_shard_stats::default();
            assert_eq!(ns_shard_stats_get_sized(self.m, shard, &mut whole, size), sized_want);
            if sized_want == ns_status::NS_OK {
                assert!(whole.index_slots >= 64 && whole.entries == ss.entries);
            }
            let cap = self.inp.byte() as usize * 64;
            let mut buf = vec![b'#' as std::ffi::c_char; cap];
            let bp = if cap == 0 { null_mut() } else { buf.as_mut_ptr() };
            let mut len = 0usize;
            let s = if self.inp.byte() & 1 == 0 {
                ns_stats_prometheus(self.m, bp, cap, &mut len)
            } else {
                ns_topology_describe(self.m, bp, cap, &mut len)
            };
            if len > cap {
                assert_eq!(s, ns_status::NS_BUFFER_TOO_SMALL);
                assert!(buf.iter().all(|&b| b == b'#' as std::ffi::c_char));
            } else {
                assert_eq!(s, ns_status::NS_OK);
                assert_eq!(buf[len - 1], 0);
                assert!(buf[..len - 1].iter().all(|&b| b != 0));
            }
        }
    }

    /// Calls with NULL pointers and lengths, NULL outputs, or a buffer the
    /// call writes overlapping one it reads: each is
    /// NS_ERR_INVALID_ARGUMENT and changes nothing (the final comparison
    /// checks that).
    fn bad_args(&mut self) {
        let k = self.inp.key();
        let len = 1 + self.inp.byte() as usize;
        let mut out = [0u8; 4];
        let mut n = 0usize;
        let inv = ns_status::NS_ERR_INVALID_ARGUMENT;
        // A key (at least a byte) at the start of `mem`, and a buffer from
        // inside it: they overlap.
        let mut mem = [0u8; 2 * MAX_KEY + 64];
        let kl = k.len().clamp(1, MAX_KEY);
        mem[..k.len().min(kl)].copy_from_slice(&k[..k.len().min(kl)]);
        let at = self.inp.byte() as usize % kl;
        let m0 = mem.as_mut_ptr();
        // SAFETY: only NULL pointers with lengths, valid buffers, and
        // overlapping ones, which the calls refuse before using them.
        unsafe {
            let s = match self.inp.byte() % 13 {
                10 => ns_get(self.m, m0, kl, m0.add(at), 16, &mut n),
                11 => ns_swap(self.m, ptr(&k), k.len().min(MAX_KEY), m0, kl, m0.add(at), 16, &mut n),
                12 => {
                    let st = m0.add(kl + 8) as *mut i32;
                    ns_get_many(self.m, 1, m0, &kl, m0.add(kl + at % 8), 16, &mut n, st)
                }
                0 => ns_put(self.m, null(), len, ptr(&k), k.len()),
                1 => ns_put(self.m, ptr(&k), k.len().min(MAX_KEY), null(), len.min(MAX_VALUE)),
                2 => ns_get(self.m, ptr(&k), k.len().min(MAX_KEY), null_mut(), len, &mut n),
                3 => ns_get(self.m, ptr(&k), k.len().min(MAX_KEY), out.as_mut_ptr(), 4, null_mut()),
                4 => ns_take(self.m, ptr(&k), k.len().min(MAX_KEY), out.as_mut_ptr(), 4, null_mut()),
                5 => ns_batch(self.m, null_mut(), len),
                6 => ns_add(self.m, ptr(&k), k.len().min(MAX_KEY), 1, null_mut()),
                7 => ns_replace_all(self.m, null(), len),
                8 => {
                    let mut st = [0i32; 1];
                    ns_get_many(self.m, 1, ptr(&k), null(), out.as_mut_ptr(), 4, &mut n, st.as_mut_ptr())
                }
                _ => ns_compare_and_swap(self.m, ptr(&k), k.len().min(MAX_KEY), null(), len, null(), 0),
            };
            assert_eq!(s, inv);
            let status_text = ns_status_str(i32::from_le_bytes([k.len() as u8, len as u8, 0, 0]));
            assert!(!status_text.is_null());
        }
    }

    /// Closes the map: every call then answers NS_ERR_CLOSED, also after free.
    fn close_and_free(&mut self) {
        // SAFETY: valid arguments throughout; the map is freed once.
        unsafe {
            assert_eq!(ns_map_close(self.m), ns_status::NS_OK);
            for _ in 0..2 {
                let mut buf = [0u8; 8];
                let (mut n, mut c, mut it) = (0usize, 0i64, null_mut());
                assert_eq!(ns_put(self.m, null(), 0, null(), 0), ns_status::NS_ERR_CLOSED);
                assert_eq!(ns_get(self.m, null(), 0, buf.as_mut_ptr(), 8, &mut n), ns_status::NS_ERR_CLOSED);
                assert_eq!(ns_add(self.m, null(), 0, 1, &mut c), ns_status::NS_ERR_CLOSED);
                assert_eq!(ns_clear(self.m), ns_status::NS_ERR_CLOSED);
                assert_eq!(ns_iter_new(self.m, &mut it), ns_status::NS_ERR_CLOSED);
                assert_eq!(ns_map_close(self.m), ns_status::NS_ERR_CLOSED);
                ns_map_free(self.m);
            }
        }
    }
}

/// Adds the `n` entries `ns_iter_next_many` wrote (they tile `buf`) to `seen`.
fn decode_many(mut buf: &[u8], n: usize, seen: &mut Model) {
    let u32_at = |b: &[u8], i: usize| u32::from_le_bytes(b[i..i + 4].try_into().unwrap()) as usize;
    for _ in 0..n {
        let (kl, vl) = (u32_at(buf, 0), u32_at(buf, 4));
        let (k, rest) = buf[NS_ITER_ENTRY_HEADER_SIZE..].split_at(kl);
        let (v, rest) = rest.split_at(vl);
        assert!(seen.insert(k.to_vec(), v.to_vec()).is_none(), "entry seen twice");
        buf = rest;
    }
    assert!(buf.is_empty(), "bytes past the last entry");
}

fn ns_status_from(v: i32) -> ns_status {
    use ns_status::*;
    [
        NS_OK,
        NS_NOT_FOUND,
        NS_EXISTS,
        NS_MISMATCH,
        NS_BUFFER_TOO_SMALL,
        NS_ERR_INVALID_ARGUMENT,
        NS_ERR_KEY_TOO_LARGE,
        NS_ERR_VALUE_TOO_LARGE,
        NS_ERR_FULL,
        NS_ERR_CLOSED,
        NS_ERR_NOT_A_COUNTER,
        NS_ERR_TOPOLOGY,
        NS_ERR_PANIC,
        NS_ERR_RESOURCE,
    ]
    .into_iter()
    .find(|s| *s as i32 == v)
    .unwrap_or_else(|| panic!("status {v} is not an ns_status"))
}

fn open(limited: bool) -> *mut ns_map {
    let mut cfg = std::mem::MaybeUninit::<ns_config>::uninit();
    // SAFETY: ns_config_init_sized fills the whole struct.
    let mut cfg = unsafe {
        assert_eq!(ns_config_init_sized(cfg.as_mut_ptr(), std::mem::size_of::<ns_config>()), ns_status::NS_OK);
        cfg.assume_init()
    };
    cfg.shards = 2;
    cfg.max_key_len = MAX_KEY;
    cfg.max_value_len = MAX_VALUE;
    cfg.memory_limit = if limited { LIMIT } else { 0 };
    // The limited map is placed on a synthetic two-node machine (cheaper to
    // load than the real one, and a different placement path).
    cfg.topology = if limited { c"pack:2 [numa] core:1 pu:1".as_ptr() } else { null() };
    if !limited {
        // The other map places its small records by hash, in 4 lines per
        // shard for the inputs' ~20 keys: they share lines, fill them,
        // fall back past them and free them.
        cfg.initial_capacity = 8;
        cfg.place_records_by_hash = true;
    }
    let mut m = null_mut();
    // SAFETY: a valid config and output.
    assert_eq!(unsafe { ns_map_new(&cfg, &mut m) }, ns_status::NS_OK);
    m
}

fuzz_target!(|data: &[u8]| {
    static AT_EXIT: std::sync::Once = std::sync::Once::new();
    AT_EXIT.call_once(|| {
        // SAFETY: registers a handler with no preconditions.
        assert_eq!(unsafe { atexit(close_maps_at_exit) }, 0, "atexit refused the handler");
    });
    leak_window(data);
    let mut maps = MAPS.lock().unwrap_or_else(|e| e.into_inner());
    let Some((&first, rest)) = data.split_first() else { return };
    let which = (first & 1) as usize;
    let limited = which == 1;
    let m = maps[which].get_or_insert_with(|| Handle(open(limited))).0;
    // SAFETY: a live map.
    assert_eq!(unsafe { ns_clear(m) }, ns_status::NS_OK);
    let mut f = Fuzz { m, limited, model: Model::new(), inp: Input { data: rest, pos: 0 } };
    while !f.inp.done() {
        match f.inp.byte() % 18 {
            0 | 1 => f.put_like(0),
            2 => f.put_like(1),
            3 => f.put_like(2),
            4 => f.get_like(false),
            5 => {
                if f.inp.byte() & 1 == 0 {
                    f.get_like(false)
                } else {
                    f.get_many()
                }
            }
            6 => f.get_like(true),
            7 => f.owned(false),
            8 => f.owned(true),
            9 => {
                if f.inp.byte() & 1 == 0 {
                    f.delete()
                } else {
                    f.compare_and_delete()
                }
            }
            10 => {
                if f.inp.byte() & 1 == 0 {
                    f.cas()
                } else {
                    f.swap()
                }
            }
            11 => f.add(),
            12 => f.batch(),
            13 => f.replace_all(),
            14 => f.compare_all(),
            15 => f.stats(),
            16 => f.bad_args(),
            _ => {
                if f.inp.byte() == 0xC1 {
                    f.compare_all();
                    f.close_and_free();
                    maps[which] = None;
                    return;
                }
                // SAFETY: a live map.
                assert_eq!(unsafe { ns_clear(m) }, ns_status::NS_OK);
                f.model.clear();
            }
        }
    }
    f.compare_all();
});
