//! `Map::typed`: every call against a model map with random operations,
//! the codecs' encodings (shared with the Go and Java bindings and with
//! `Map::add`), values that do not decode, and reads of fixed-size values
//! that allocate nothing.

use numashard::{CasOutcome, Codec, Config, Encode, Map, Status};
use proptest::prelude::*;
use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::collections::HashMap;

/// Counts this thread's allocations while `COUNTING` is set.
struct Counting;

thread_local! {
    static COUNTING: Cell<bool> = const { Cell::new(false) };
    static ALLOCS: Cell<u64> = const { Cell::new(0) };
}

// SAFETY: every call is passed to the system allocator unchanged; the
// counters are thread-local cells (no allocation, no reentrancy).
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if COUNTING.with(Cell::get) {
            ALLOCS.with(|a| a.set(a.get() + 1));
        }
        // SAFETY: the caller's contract, passed on.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: the caller's contract, passed on.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

fn allocations(f: impl FnOnce()) -> u64 {
    ALLOCS.with(|a| a.set(0));
    COUNTING.with(|c| c.set(true));
    f();
    COUNTING.with(|c| c.set(false));
    ALLOCS.with(Cell::get)
}

fn map() -> Map {
    Map::new(Config { shards: 2, ..Config::default() }).unwrap()
}

#[test]
fn the_codecs_store_what_the_other_bindings_store() {
    let m = map();
    m.typed::<String, u64>().put("n", &0x0102_0304_0506_0708).unwrap();
    assert_eq!(m.get(b"n").unwrap().unwrap(), [8, 7, 6, 5, 4, 3, 2, 1]);
    m.typed::<u32, i16>().put(&7, &-2).unwrap();
    assert_eq!(m.get(&[7, 0, 0, 0]).unwrap().unwrap(), [0xfe, 0xff]);
    m.typed::<[u8; 3], Vec<u8>>().put(b"abc", &[1u8, 2][..]).unwrap();
    assert_eq!(m.get(b"abc").unwrap().unwrap(), [1, 2]);
    // Counters of Map::add are i64 values.
    assert_eq!(m.add(b"hits", 5).unwrap(), 5);
    let counters = m.typed::<Vec<u8>, i64>();
    assert_eq!(counters.get(&b"hits"[..]).unwrap(), Some(5));
    counters.put(&b"hits"[..], &-10).unwrap();
    assert_eq!(m.add(b"hits", 1).unwrap(), -9);
}

#[test]
fn every_call_of_the_view() {
    let m = map();
    let t = m.typed::<String, String>();
    let long = "x".repeat(1000); // past the stack buffer of a get
    assert_eq!(t.get("a").unwrap(), None);
    assert!(!t.contains_key("a").unwrap());
    assert!(t.put_if_absent("a", long.as_str()).unwrap());
    assert!(!t.put_if_absent("a", "no").unwrap());
    assert!(t.contains_key(&"a".to_string()).unwrap()); // the owned form too
    assert_eq!(t.get("a").unwrap(), Some(long.clone()));
    assert_eq!(t.get_or_put("a", "no").unwrap(), Some(long.clone()));
    assert_eq!(t.get_or_put("b", "1").unwrap(), None);
    assert_eq!(t.swap("b", "2").unwrap(), Some("1".into()));
    assert_eq!(t.compare_and_swap("b", "1", "3").unwrap(), CasOutcome::Mismatch);
    assert_eq!(t.compare_and_swap("b", "2", "3").unwrap(), CasOutcome::Swapped);
    assert_eq!(t.compare_and_delete("b", "2").unwrap(), CasOutcome::Mismatch);
    assert_eq!(t.compare_and_delete("b", "3").unwrap(), CasOutcome::Swapped);
    assert_eq!(t.len().unwrap(), 1);
    assert_eq!(t.take("a").unwrap(), Some(long));
    assert!(t.is_empty().unwrap());
    t.put_with_ttl("a", "soon", std::time::Duration::from_secs(3600)).unwrap();
    assert!(m.ttl(b"a").unwrap().unwrap().is_some());
    assert!(t.delete("a").unwrap());
    assert!(!t.delete("a").unwrap());

    let entries: Vec<(u64, String)> = (0..300).map(|i| (i, format!("v{i}"))).collect();
    let n = m.typed::<u64, String>();
    n.put_many(&entries).unwrap();
    let got = n.get_many(&[5, 1000, 299]).unwrap();
    assert_eq!(got, [Some("v5".to_string()), None, Some("v299".to_string())]);
    let mut seen = Vec::new();
    n.range(|k, v| {
        seen.push((k, v));
        true
    })
    .unwrap();
    seen.sort();
    assert_eq!(seen, entries);
    // A batch whose pair fails reports it after trying the others.
    let small = Map::new(Config { shards: 1, max_value_len: 4, ..Config::default() }).unwrap();
    let s = small.typed::<u8, String>();
    let e = s.put_many(&[(1, "ok".into()), (2, "too long".into()), (3, "ok".into())]).unwrap_err();
    assert_eq!(e.status(), Status::ValueTooLarge);
    assert_eq!(s.get_many(&[1, 2, 3]).unwrap(), [Some("ok".into()), None, Some("ok".into())]);
}

#[test]
fn a_value_that_does_not_decode_is_an_error() {
    let m = map();
    m.put(b"k", &[1, 2, 3]).unwrap();
    m.put(b"bad utf-8", &[0xff, 0xfe]).unwrap();
    let t = m.typed::<Vec<u8>, u64>();
    let e = t.get(&b"k"[..]).unwrap_err();
    assert_eq!(e.status(), Status::InvalidArgument);
    assert!(e.to_string().contains("3 bytes") && e.to_string().contains("u64"), "{e}");
    assert!(t.range(|_, _| true).is_err());
    let s = m.typed::<Vec<u8>, String>();
    assert_eq!(s.take(&b"bad utf-8"[..]).unwrap_err().status(), Status::InvalidArgument);
    // The take happened, as documented; only its value could not be returned.
    assert_eq!(m.get(b"bad utf-8").unwrap(), None);
    // The failed reads changed nothing.
    assert_eq!(m.get(b"k").unwrap().unwrap(), [1, 2, 3]);
    let keys = m.typed::<String, Vec<u8>>();
    m.put(&[0xc3], b"v").unwrap(); // a key that is not UTF-8
    assert_eq!(keys.range(|_, _| true).unwrap_err().status(), Status::InvalidArgument);
    // The iterator reports each undecodable entry and goes on: "k" and the
    // UTF-8 key decode, the 0xc3 key does not.
    let items: Vec<_> = keys.iter().unwrap().collect();
    assert_eq!(items.len(), 2);
    assert_eq!(items.iter().filter(|i| i.is_err()).count(), 1);
    assert!(items.iter().any(|i| matches!(i, Ok((k, v)) if k == "k" && v == &[1, 2, 3])));
    // A closed map's error is the last item.
    let walk = keys.iter().unwrap();
    m.close().unwrap();
    let after: Vec<_> = walk.collect();
    assert!(after.len() <= 3 && after.last().is_some_and(|i| i.as_ref().is_err_and(|e| e.status() == Status::Closed)));
}

#[test]
fn fixed_size_reads_and_writes_allocate_nothing() {
    let m = map();
    let t = m.typed::<u64, u64>();
    for i in 0..1000 {
        t.put(&i, &(i * 2)).unwrap();
    }
    let mut sum = 0;
    let n = allocations(|| {
        for i in 0..1000 {
            sum += t.get(&i).unwrap().unwrap();
            t.put(&i, &(i * 3)).unwrap();
            assert!(t.contains_key(&i).unwrap());
        }
    });
    assert_eq!(sum, 999 * 1000);
    assert_eq!(n, 0, "allocations in 1000 gets, puts and contains_key of u64 entries");
}

#[derive(Clone, Debug)]
enum Op {
    Get(u16),
    Put(u16, String),
    PutIfAbsent(u16, String),
    GetOrPut(u16, String),
    Swap(u16, String),
    Delete(u16),
    Take(u16),
    Cas(u16, String, String),
    Cad(u16, String),
    GetMany(Vec<u16>),
}

fn value() -> impl Strategy<Value = String> {
    prop_oneof![Just(String::new()), "[a-c]{1,3}", ".{60,70}", "[a-z]{200,300}"]
}

fn op() -> impl Strategy<Value = Op> {
    let k = 0u16..24;
    prop_oneof![
        k.clone().prop_map(Op::Get),
        (k.clone(), value()).prop_map(|(k, v)| Op::Put(k, v)),
        (k.clone(), value()).prop_map(|(k, v)| Op::PutIfAbsent(k, v)),
        (k.clone(), value()).prop_map(|(k, v)| Op::GetOrPut(k, v)),
        (k.clone(), value()).prop_map(|(k, v)| Op::Swap(k, v)),
        k.clone().prop_map(Op::Delete),
        k.clone().prop_map(Op::Take),
        (k.clone(), "[a-c]{1,3}", value()).prop_map(|(k, e, v)| Op::Cas(k, e, v)),
        (k.clone(), "[a-c]{1,3}").prop_map(|(k, e)| Op::Cad(k, e)),
        proptest::collection::vec(k, 0..10).prop_map(Op::GetMany),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]
    #[test]
    fn the_view_behaves_like_a_hash_map(ops in proptest::collection::vec(op(), 1..120)) {
        let m = map();
        let t = m.typed::<u16, String>();
        let mut model: HashMap<u16, String> = HashMap::new();
        for op in ops {
            match op {
                Op::Get(k) => prop_assert_eq!(t.get(&k).unwrap(), model.get(&k).cloned()),
                Op::Put(k, v) => {
                    t.put(&k, &v).unwrap();
                    model.insert(k, v);
                }
                Op::PutIfAbsent(k, v) => {
                    let absent = !model.contains_key(&k);
                    prop_assert_eq!(t.put_if_absent(&k, &v).unwrap(), absent);
                    model.entry(k).or_insert(v);
                }
                Op::GetOrPut(k, v) => {
                    let before = model.get(&k).cloned();
                    prop_assert_eq!(t.get_or_put(&k, &v).unwrap(), before);
                    model.entry(k).or_insert(v);
                }
                Op::Swap(k, v) => prop_assert_eq!(t.swap(&k, &v).unwrap(), model.insert(k, v)),
                Op::Delete(k) => prop_assert_eq!(t.delete(&k).unwrap(), model.remove(&k).is_some()),
                Op::Take(k) => prop_assert_eq!(t.take(&k).unwrap(), model.remove(&k)),
                Op::Cas(k, e, v) => {
                    let want = match model.get(&k) {
                        None => CasOutcome::NotFound,
                        Some(cur) if *cur == e => CasOutcome::Swapped,
                        Some(_) => CasOutcome::Mismatch,
                    };
                    prop_assert_eq!(t.compare_and_swap(&k, &e, &v).unwrap(), want);
                    if want == CasOutcome::Swapped {
                        model.insert(k, v);
                    }
                }
                Op::Cad(k, e) => {
                    let want = match model.get(&k) {
                        None => CasOutcome::NotFound,
                        Some(cur) if *cur == e => CasOutcome::Swapped,
                        Some(_) => CasOutcome::Mismatch,
                    };
                    prop_assert_eq!(t.compare_and_delete(&k, &e).unwrap(), want);
                    if want == CasOutcome::Swapped {
                        model.remove(&k);
                    }
                }
                Op::GetMany(keys) => {
                    let want: Vec<Option<String>> = keys.iter().map(|k| model.get(k).cloned()).collect();
                    prop_assert_eq!(t.get_many(&keys).unwrap(), want);
                }
            }
        }
        prop_assert_eq!(t.len().unwrap(), model.len() as u64);
        let mut seen = HashMap::new();
        t.range(|k, v| seen.insert(k, v).is_none()).unwrap();
        prop_assert_eq!(&seen, &model);
        let iterated: Vec<(u16, String)> = t.iter().unwrap().collect::<Result<_, _>>().unwrap();
        prop_assert_eq!(iterated.len(), model.len());
        prop_assert_eq!(iterated.into_iter().collect::<HashMap<_, _>>(), model);
    }
}

/// A codec of the user's own: a point as two little-endian i32.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Point {
    x: i32,
    y: i32,
}

impl Encode for Point {
    fn with_bytes<R>(&self, f: impl FnOnce(&[u8]) -> R) -> R {
        let mut b = [0u8; 8];
        b[..4].copy_from_slice(&self.x.to_le_bytes());
        b[4..].copy_from_slice(&self.y.to_le_bytes());
        f(&b)
    }
}

impl Codec for Point {
    fn decode(bytes: &[u8]) -> Option<Self> {
        let b: [u8; 8] = bytes.try_into().ok()?;
        Some(Point { x: i32::from_le_bytes(b[..4].try_into().ok()?), y: i32::from_le_bytes(b[4..].try_into().ok()?) })
    }
}

#[test]
fn a_codec_of_ones_own() {
    let m = map();
    let places = m.typed::<String, Point>();
    places.put("home", &Point { x: 3, y: -4 }).unwrap();
    assert_eq!(places.get("home").unwrap(), Some(Point { x: 3, y: -4 }));
    assert_eq!(m.typed::<String, u64>().get("home").unwrap(), Some(0xffff_fffc_0000_0003));
}
