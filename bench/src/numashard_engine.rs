//! numashard behind the [`Engine`] trait: single calls use the map's single
//! operations, batches of gets only [`Map::get_many_into`], other batches
//! [`Map::batch`].

use crate::engine::{Engine, Op, Reply};
use numashard::{BatchOp, CasOutcome, Config, ExecMode, Map, Status};
use serde_json::json;
use std::sync::atomic::{AtomicBool, Ordering};

/// Set by `--misplace-memory` before any map opens: every map then binds each
/// shard's memory to another node than its CPU's ([`Config::misplace_memory`]),
/// to measure what wrong placement costs.
pub static MISPLACE_MEMORY: AtomicBool = AtomicBool::new(false);

/// A numashard map in one execution mode.
pub struct NumashardEngine {
    map: Map,
}

impl NumashardEngine {
    /// A map with `shards` shards (0 = one per allowed CPU) in `mode`.
    pub fn new(mode: ExecMode, shards: usize) -> numashard::Result<NumashardEngine> {
        NumashardEngine::with_capacity(mode, shards, 0)
    }

    /// A map sized up front for `capacity` entries (`Config::initial_capacity`).
    pub fn with_capacity(mode: ExecMode, shards: usize, capacity: usize) -> numashard::Result<NumashardEngine> {
        NumashardEngine::open(Config { exec_mode: mode, shards, initial_capacity: capacity, ..Config::default() })
    }

    /// A map (`Auto`) sized for `capacity` entries whose small records are
    /// placed by hash (`Config::place_records_by_hash`).
    pub fn placed(shards: usize, capacity: usize) -> numashard::Result<NumashardEngine> {
        let cfg = Config { shards, initial_capacity: capacity, place_records_by_hash: true, ..Config::default() };
        NumashardEngine::open(cfg)
    }

    /// A map of `cfg`, its memory misplaced when the run asks (`--misplace-memory`).
    fn open(cfg: Config) -> numashard::Result<NumashardEngine> {
        let misplace_memory = MISPLACE_MEMORY.load(Ordering::Relaxed);
        Ok(NumashardEngine { map: Map::new(Config { misplace_memory, ..cfg })? })
    }

    /// The map.
    pub fn map(&self) -> &Map {
        &self.map
    }
}

fn reply_of(result: numashard::Result<Reply>) -> Reply {
    result.unwrap_or_else(|e| Reply::status(e.status()))
}

fn batch_op<'a>(op: &Op<'a>, out: &'a mut [u8]) -> BatchOp<'a> {
    match *op {
        Op::Get(k) => BatchOp::get(k, out),
        Op::Put(k, v) => BatchOp::put(k, v),
        Op::PutIfAbsent(k, v) => BatchOp::put_if_absent(k, v),
        Op::Delete(k) => BatchOp::delete(k),
        Op::Take(k) => BatchOp::take(k, out),
        Op::Cas { key, expected, value } => BatchOp::cas(key, expected, value),
        Op::Add(k, d) => BatchOp::add(k, d),
    }
}

impl Engine for NumashardEngine {
    fn execute(&self, op: &Op<'_>, out: &mut [u8]) -> Reply {
        let m = &self.map;
        reply_of(match *op {
            Op::Get(k) => m.get_into(k, out).map(|r| r.map_or(Reply::status(Status::NotFound), Reply::value)),
            Op::Put(k, v) => m.put(k, v).map(|()| Reply::status(Status::Ok)),
            Op::PutIfAbsent(k, v) => {
                m.put_if_absent(k, v).map(|ok| Reply::status(if ok { Status::Ok } else { Status::Exists }))
            }
            Op::Delete(k) => m.delete(k).map(|ok| Reply::status(if ok { Status::Ok } else { Status::NotFound })),
            Op::Take(k) => m.take_into(k, out).map(|r| r.map_or(Reply::status(Status::NotFound), Reply::value)),
            Op::Cas { key, expected, value } => m.compare_and_swap(key, expected, value).map(|c| {
                Reply::status(match c {
                    CasOutcome::Swapped => Status::Ok,
                    CasOutcome::Mismatch => Status::Mismatch,
                    CasOutcome::NotFound => Status::NotFound,
                })
            }),
            Op::Add(k, d) => m.add(k, d).map(Reply::counter),
        })
    }

    fn execute_batch(&self, ops: &[Op<'_>], outs: &mut [u8], stride: usize, replies: &mut [Reply]) {
        if ops.iter().all(|op| matches!(op, Op::Get(_))) {
            // A batch of gets only: `Map::get_many_into`, no op per key.
            let keys = ops.iter().map(|op| match *op {
                Op::Get(k) => k,
                _ => unreachable!("checked above: gets only"),
            });
            let done = |i: usize, status: Status, len: usize| replies[i] = Reply { status, len, counter: 0 };
            if let Err(e) = self.map.get_many_into(keys, outs, stride, done) {
                replies.iter_mut().for_each(|r| *r = Reply::status(e.status()));
            }
            return;
        }
        let mut batch: Vec<BatchOp<'_>> =
            ops.iter().zip(outs.chunks_mut(stride)).map(|(op, out)| batch_op(op, out)).collect();
        if let Err(e) = self.map.batch(&mut batch) {
            replies.iter_mut().for_each(|r| *r = Reply::status(e.status()));
            return;
        }
        // Only get/take report a length and only add a counter (numashard also
        // reports the present value's length on put_if_absent), as in `Reply`.
        for ((b, op), r) in batch.iter().zip(ops).zip(replies.iter_mut()) {
            let len = if matches!(op, Op::Get(_) | Op::Take(_)) { b.out_len } else { 0 };
            let counter = if matches!(op, Op::Add(..)) { b.out_counter } else { 0 };
            *r = Reply { status: b.status, len, counter };
        }
    }

    fn len(&self) -> u64 {
        self.map.len().unwrap_or(0)
    }

    fn for_each(&self, f: &mut dyn FnMut(&[u8], &[u8])) {
        self.map
            .range(|k, v| {
                f(k, v);
                true
            })
            .expect("iterate an open map");
    }

    fn mapped_bytes(&self) -> Option<u64> {
        self.map.stats().ok().map(|s| s.mapped_bytes)
    }

    fn grow_hold_max_ns(&self) -> Option<u64> {
        self.map.stats().ok()?.per_shard.iter().map(|s| s.grow_hold_max_ns).max()
    }

    fn placement(&self) -> Option<serde_json::Value> {
        let stats = self.map.stats().ok()?;
        let (on_node, total): (u64, u64) =
            stats.per_shard.iter().fold((0, 0), |(a, b), s| (a + s.pages_on_node, b + s.pages_total));
        Some(json!({
            "exec_mode": format!("{:?}", self.map.config().exec_mode),
            "shards": stats.shards,
            "binding_applied": stats.binding_applied,
            "pages_on_node": on_node,
            "pages_total": total,
            "per_shard": stats.per_shard.iter().map(|s| json!({
                "shard": s.shard, "node": s.node, "memory_node": s.memory_node, "cpu": s.cpu,
                "entries": s.entries, "mapped_bytes": s.mapped_bytes,
                "binding_applied": s.binding_applied, "pages_on_node": s.pages_on_node, "pages_total": s.pages_total,
            })).collect::<Vec<_>>(),
        }))
    }
}
