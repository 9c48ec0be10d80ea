//! Every engine must return the same results for the same operation stream,
//! or the benchmark would compare unequal work. A mixed stream of every op
//! kind runs through each engine (single calls, and batches of 64 where the
//! engine has its own batch call) and is compared op by op with a plain
//! model, then the final contents are compared.

use numashard::Status;
use numashard_bench::engine::{add_counter, Engine, EngineKind, Op, Reply};
use numashard_bench::workload::{KeySet, SplitMix64};
use std::collections::BTreeMap;

const KEYS: usize = 200;
const OPS: usize = 12_000;
const BATCH: usize = 64;
const OUT: usize = 64;

/// The values ops write: an empty one, counters, odd sizes; few enough that cas often matches.
fn value_pool() -> Vec<Vec<u8>> {
    vec![
        Vec::new(),
        7i64.to_le_bytes().to_vec(),
        (-3i64).to_le_bytes().to_vec(),
        b"abc".to_vec(),
        vec![0x5a; 32],
        vec![0xa5; OUT],
    ]
}

/// An owned operation of the stream.
enum Planned {
    Get(usize),
    Put(usize, usize),
    PutIfAbsent(usize, usize),
    Delete(usize),
    Take(usize),
    Cas(usize, usize, usize),
    Add(usize, i64),
}

fn plan(seed: u64) -> Vec<Planned> {
    let mut rng = SplitMix64::new(seed);
    let pool = value_pool().len() as u64;
    (0..OPS)
        .map(|_| {
            let k = rng.below(KEYS as u64) as usize;
            let v = rng.below(pool) as usize;
            match rng.below(20) {
                0..=4 => Planned::Get(k),
                5..=7 => Planned::Put(k, v),
                8..=9 => Planned::PutIfAbsent(k, v),
                10..=11 => Planned::Delete(k),
                12 => Planned::Take(k),
                13..=15 => Planned::Cas(k, rng.below(pool) as usize, v),
                _ => Planned::Add(k, rng.below(11) as i64 - 5),
            }
        })
        .collect()
}

fn ops<'a>(planned: &[Planned], keys: &'a KeySet, pool: &'a [Vec<u8>]) -> Vec<Op<'a>> {
    planned
        .iter()
        .map(|p| match *p {
            Planned::Get(k) => Op::Get(keys.key(k)),
            Planned::Put(k, v) => Op::Put(keys.key(k), &pool[v]),
            Planned::PutIfAbsent(k, v) => Op::PutIfAbsent(keys.key(k), &pool[v]),
            Planned::Delete(k) => Op::Delete(keys.key(k)),
            Planned::Take(k) => Op::Take(keys.key(k)),
            Planned::Cas(k, e, v) => Op::Cas { key: keys.key(k), expected: &pool[e], value: &pool[v] },
            Planned::Add(k, d) => Op::Add(keys.key(k), d),
        })
        .collect()
}

/// One op's reply and the value it returned (get/take).
type Outcome = (Reply, Vec<u8>);
/// A map's entries.
type Contents = BTreeMap<Vec<u8>, Vec<u8>>;

/// The reference: a `BTreeMap` applying each op sequentially.
fn model(ops: &[Op<'_>]) -> (Vec<Outcome>, Contents) {
    let mut m: BTreeMap<Vec<u8>, Vec<u8>> = BTreeMap::new();
    let results = ops
        .iter()
        .map(|op| match *op {
            Op::Get(k) => {
                m.get(k).map_or((Reply::status(Status::NotFound), vec![]), |v| (Reply::value(v.len()), v.clone()))
            }
            Op::Put(k, v) => {
                m.insert(k.to_vec(), v.to_vec());
                (Reply::status(Status::Ok), vec![])
            }
            Op::PutIfAbsent(k, v) => {
                if m.contains_key(k) {
                    (Reply::status(Status::Exists), vec![])
                } else {
                    m.insert(k.to_vec(), v.to_vec());
                    (Reply::status(Status::Ok), vec![])
                }
            }
            Op::Delete(k) => (Reply::status(if m.remove(k).is_some() { Status::Ok } else { Status::NotFound }), vec![]),
            Op::Take(k) => {
                m.remove(k).map_or((Reply::status(Status::NotFound), vec![]), |v| (Reply::value(v.len()), v))
            }
            Op::Cas { key, expected, value } => match m.get_mut(key) {
                None => (Reply::status(Status::NotFound), vec![]),
                Some(cur) if cur.as_slice() != expected => (Reply::status(Status::Mismatch), vec![]),
                Some(cur) => {
                    *cur = value.to_vec();
                    (Reply::status(Status::Ok), vec![])
                }
            },
            Op::Add(k, d) => match add_counter(m.get(k).map(Vec::as_slice), d) {
                Some(n) => {
                    m.insert(k.to_vec(), n.to_le_bytes().to_vec());
                    (Reply::counter(n), vec![])
                }
                None => (Reply::status(Status::NotACounter), vec![]),
            },
        })
        .collect();
    (results, m)
}

/// Runs `ops` through `engine`, in batches of `batch` (0 = single calls).
fn run(engine: &dyn Engine, ops: &[Op<'_>], batch: usize) -> Vec<Outcome> {
    let value_of = |op: &Op<'_>, r: &Reply, out: &[u8]| match op {
        Op::Get(_) | Op::Take(_) if r.status == Status::Ok => out[..r.len].to_vec(),
        _ => vec![],
    };
    if batch == 0 {
        let mut out = [0u8; OUT];
        return ops
            .iter()
            .map(|op| {
                let r = engine.execute(op, &mut out);
                (r, value_of(op, &r, &out))
            })
            .collect();
    }
    let mut results = Vec::new();
    for chunk in ops.chunks(batch) {
        let mut outs = vec![0u8; chunk.len() * OUT];
        let mut replies = vec![Reply::default(); chunk.len()];
        engine.execute_batch(chunk, &mut outs, OUT, &mut replies);
        for ((op, r), out) in chunk.iter().zip(&replies).zip(outs.chunks(OUT)) {
            results.push((*r, value_of(op, r, out)));
        }
    }
    results
}

#[test]
fn every_engine_matches_the_model_op_by_op() {
    let keys = KeySet::generate(KEYS, 16, 11);
    let pool = value_pool();
    let planned = plan(0xe9);
    let ops = ops(&planned, &keys, &pool);
    let (expected, expected_contents) = model(&ops);
    let kinds_seen: std::collections::HashSet<Status> = expected.iter().map(|(r, _)| r.status).collect();
    for s in [Status::Ok, Status::NotFound, Status::Exists, Status::Mismatch, Status::NotACounter] {
        assert!(kinds_seen.contains(&s), "the stream never produces {s:?}");
    }

    for kind in EngineKind::ALL {
        for batch in [0, BATCH] {
            let engine = kind.build(0, 2).expect("open engine");
            let got = run(engine.as_ref(), &ops, batch);
            for (i, (g, e)) in got.iter().zip(&expected).enumerate() {
                assert_eq!(g, e, "{kind} (batch {batch}) differs from the model at op {i}: {:?}", ops[i]);
            }
            let mut contents = BTreeMap::new();
            engine.for_each(&mut |k, v| {
                assert!(contents.insert(k.to_vec(), v.to_vec()).is_none(), "{kind}: key returned twice");
            });
            assert_eq!(contents, expected_contents, "{kind} (batch {batch}): final contents differ");
            assert_eq!(engine.len(), expected_contents.len() as u64, "{kind} (batch {batch}): len");
        }
    }
}
