//! `ns_batch`: any mix of operations in one call, each with its own status.

use crate::boundary::{apart, buffer, bytes, guard, key, value, Outcome, Span};
use crate::handle::ns_map;
use crate::status::{ns_status, ns_status_in};
use numashard::{BatchOp, Map, OpKind};
use std::cell::Cell;

/// The kind of one operation in a batch (`ns_op.kind`).
#[repr(i32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ns_op_kind {
    /// Copy the value into `out` (`out_len` = its length, also when `out` is
    /// too small: then `NS_BUFFER_TOO_SMALL` and nothing is copied).
    NS_OP_GET = 0,
    /// Insert or overwrite `value`.
    NS_OP_PUT = 1,
    /// Insert `value` only if absent; `NS_EXISTS` otherwise, and then the
    /// present value is copied into `out` if `out_cap` > 0 and it fits
    /// (`out_len` = its length either way; it fitted iff `out_len <= out_cap`).
    NS_OP_PUT_IF_ABSENT = 2,
    /// Remove (`NS_NOT_FOUND` if absent).
    NS_OP_DELETE = 3,
    /// Remove and copy the old value into `out`; too small a buffer removes
    /// nothing (`NS_BUFFER_TOO_SMALL`, `out_len` = the length needed).
    NS_OP_TAKE = 4,
    /// Replace with `value` only if the current value equals `expected`
    /// (`NS_MISMATCH` / `NS_NOT_FOUND` otherwise).
    NS_OP_CAS = 5,
    /// Add `delta` to the 8-byte little-endian counter (missing = 0);
    /// `out_counter` = the new value.
    NS_OP_ADD = 6,
    /// Remove only if the current value equals `expected`
    /// (`NS_MISMATCH` / `NS_NOT_FOUND` otherwise; nothing changes then).
    NS_OP_COMPARE_AND_DELETE = 7,
    /// Store `value` and copy the previous value into `out`: `NS_OK`
    /// (replaced), `NS_NOT_FOUND` (there was none: inserted); too small a
    /// buffer stores nothing (`NS_BUFFER_TOO_SMALL`, `out_len` = the length
    /// needed).
    NS_OP_SWAP = 8,
    /// Set the entry's time to live to `ttl_ms` from now (0 = expire now,
    /// `NS_NO_EXPIRY` = never: "persist"); `NS_NOT_FOUND` if absent.
    NS_OP_EXPIRE = 9,
    /// The entry's remaining time to live in `out_counter`, in milliseconds
    /// rounded up (-1 = never expires); `NS_NOT_FOUND` if absent.
    NS_OP_TTL = 10,
}

/// An `ns_op_kind` as C passes it in: read as a plain integer; unknown
/// values give the op `NS_ERR_INVALID_ARGUMENT`.
pub type ns_op_kind_in = i32;

// The C kinds are the engine's kinds, value for value.
const _: () = {
    assert!(ns_op_kind::NS_OP_GET as i32 == OpKind::Get as i32);
    assert!(ns_op_kind::NS_OP_PUT as i32 == OpKind::Put as i32);
    assert!(ns_op_kind::NS_OP_PUT_IF_ABSENT as i32 == OpKind::PutIfAbsent as i32);
    assert!(ns_op_kind::NS_OP_DELETE as i32 == OpKind::Delete as i32);
    assert!(ns_op_kind::NS_OP_TAKE as i32 == OpKind::Take as i32);
    assert!(ns_op_kind::NS_OP_CAS as i32 == OpKind::Cas as i32);
    assert!(ns_op_kind::NS_OP_ADD as i32 == OpKind::Add as i32);
    assert!(ns_op_kind::NS_OP_COMPARE_AND_DELETE as i32 == OpKind::CompareAndDelete as i32);
    assert!(ns_op_kind::NS_OP_SWAP as i32 == OpKind::Swap as i32);
};

/// One operation of a batch: inputs set by the caller, results written by
/// `ns_batch`. Fields a kind does not use are ignored (neither read nor checked).
#[repr(C)]
#[derive(Debug)]
pub struct ns_op {
    /// Input: an `ns_op_kind` value.
    pub kind: ns_op_kind_in,
    /// Result: this op's status (always written).
    pub status: ns_status_in,
    /// Input: the key (NULL with `key_len` 0 = the empty key).
    pub key: *const u8,
    /// Input: the key's length.
    pub key_len: usize,
    /// Input: the value to store (PUT, PUT_IF_ABSENT, CAS).
    pub value: *const u8,
    /// Input: the value's length.
    pub value_len: usize,
    /// Input: the expected current value (CAS).
    pub expected: *const u8,
    /// Input: the expected value's length.
    pub expected_len: usize,
    /// Input: the counter delta (ADD).
    pub delta: i64,
    /// Input: where GET / TAKE / PUT_IF_ABSENT copy a value (NULL with
    /// `out_cap` 0 = only report the length).
    pub out: *mut u8,
    /// Input: the capacity of `out`.
    pub out_cap: usize,
    /// Result: the value's length (GET, TAKE, PUT_IF_ABSENT when present),
    /// else 0 (always written).
    pub out_len: usize,
    /// Result: the counter's new value (ADD), the remaining time to live in
    /// milliseconds (TTL; -1 = never expires), else 0 (always written).
    pub out_counter: i64,
    /// Input: time to live in milliseconds of what PUT, PUT_IF_ABSENT and
    /// SWAP store (0 = the map's default, `NS_NO_EXPIRY` = never); for
    /// EXPIRE the new time to live (0 = expire now, `NS_NO_EXPIRY` = persist).
    pub ttl_ms: u64,
}

/// Turns one C op into an engine op, or the status that rejects it.
///
/// # Safety
/// The op's pointers obey the `ns_batch` contract.
unsafe fn decode<'a>(map: &Map, op: &ns_op) -> Result<BatchOp<'a>, ns_status> {
    let kind = OpKind::from_i32(op.kind).ok_or(ns_status::NS_ERR_INVALID_ARGUMENT)?;
    // Only the fields this kind uses are read (the others may hold anything).
    // SAFETY: `op.key` points to `op.key_len` readable bytes or is NULL with 0 (the field docs,
    // which `ns_batch`'s contract holds every op to), outside the `ops` array and every `out`
    // buffer, the only memory the call writes (the contract); `key()` rejects NULL with a length,
    // and an oversized length before any read.
    let k = unsafe { key(map, op.key, op.key_len) }?;
    Ok(match kind {
        OpKind::Get => BatchOp::get(
            k,
            // SAFETY: `op.out` points to `op.out_cap` writable bytes or is NULL with 0 (the field docs),
            // and overlaps no other buffer of the batch nor the `ops` array (`ns_batch`'s contract): nothing
            // else uses it during the call. `buffer` rejects NULL with a capacity.
            unsafe { buffer(op.out, op.out_cap) }?,
        ),
        OpKind::Take => BatchOp::take(
            k,
            // SAFETY: `op.out` points to `op.out_cap` writable bytes or is NULL with 0 (the field docs),
            // and overlaps no other buffer of the batch nor the `ops` array (`ns_batch`'s contract): nothing
            // else uses it during the call. `buffer` rejects NULL with a capacity.
            unsafe { buffer(op.out, op.out_cap) }?,
        ),
        OpKind::Put => BatchOp::put(
            k,
            // SAFETY: `op.value` points to `op.value_len` readable bytes or is NULL with 0 (the field
            // docs), outside the memory the call writes (as `key`); `value()` rejects NULL with a
            // length, and an oversized length before any read.
            unsafe { value(map, op.value, op.value_len) }?,
        ),
        OpKind::PutIfAbsent => {
            let mut b = BatchOp::put_if_absent(
                k,
                // SAFETY: `op.value` points to `op.value_len` readable bytes or is NULL with 0 (the field
                // docs), outside the memory the call writes (as `key`); `value()` rejects NULL with a
                // length, and an oversized length before any read.
                unsafe { value(map, op.value, op.value_len) }?,
            );
            // SAFETY: `op.out` points to `op.out_cap` writable bytes or is NULL with 0 (the field docs),
            // and overlaps no other buffer of the batch nor the `ops` array (`ns_batch`'s contract): nothing
            // else uses it during the call. `buffer` rejects NULL with a capacity.
            b.out = unsafe { buffer(op.out, op.out_cap) }?;
            b
        }
        OpKind::Delete => BatchOp::delete(k),
        OpKind::Cas => {
            // SAFETY: `op.expected` points to `op.expected_len` readable bytes or is NULL with 0 (the
            // field docs), outside the memory the call writes (as `key`); `bytes` rejects NULL with a
            // length.
            let e = unsafe { bytes(op.expected, op.expected_len) }?;
            BatchOp::cas(
                k,
                e,
                // SAFETY: `op.value` points to `op.value_len` readable bytes or is NULL with 0 (the field
                // docs), outside the memory the call writes (as `key`); `value()` rejects NULL with a
                // length, and an oversized length before any read.
                unsafe { value(map, op.value, op.value_len) }?,
            )
        }
        OpKind::Add => BatchOp::add(k, op.delta),
        OpKind::CompareAndDelete => BatchOp::compare_and_delete(
            k,
            // SAFETY: `op.expected` points to `op.expected_len` readable bytes or is NULL with 0 (the
            // field docs), outside the memory the call writes (as `key`); `bytes` rejects NULL with a
            // length.
            unsafe { bytes(op.expected, op.expected_len) }?,
        ),
        OpKind::Swap => {
            // SAFETY: `op.value` points to `op.value_len` readable bytes or is NULL with 0 (the field
            // docs), outside the memory the call writes (as `key`); `value()` rejects NULL with a
            // length, and an oversized length before any read.
            let v = unsafe { value(map, op.value, op.value_len) }?;
            BatchOp::swap(
                k,
                v,
                // SAFETY: `op.out` points to `op.out_cap` writable bytes or is NULL with 0 (the field docs),
                // and overlaps no other buffer of the batch nor the `ops` array (`ns_batch`'s contract): nothing
                // else uses it during the call. `buffer` rejects NULL with a capacity.
                unsafe { buffer(op.out, op.out_cap) }?,
            )
        }
        OpKind::Expire => BatchOp::expire(k, std::time::Duration::ZERO),
        OpKind::Ttl => BatchOp::ttl(k),
    })
    .map(|mut b| {
        if matches!(kind, OpKind::Put | OpKind::PutIfAbsent | OpKind::Swap | OpKind::Expire) {
            b.ttl_ns = crate::ttl::ttl_ns(op.ttl_ms);
        }
        b
    })
}

/// The two arrays `ns_batch` builds per call (engine ops, and the index of
/// each one's C op), kept per thread and reused, so a batch allocates
/// nothing once a thread's arrays are large enough.
#[derive(Default)]
struct Scratch {
    ops: Vec<BatchOp<'static>>,
    origin: Vec<usize>,
}

/// Capacity (in ops) a thread keeps between calls; a larger batch's arrays
/// are shrunk back to it, so one huge batch does not pin memory forever.
const SCRATCH_KEEP: usize = 4096;

thread_local! {
    // Taken out for the call and put back after (a `Cell`, no borrow held
    // across the engine call): a nested or failed call finds it empty and
    // simply allocates.
    static SCRATCH: Cell<Scratch> = const { Cell::new(Scratch { ops: Vec::new(), origin: Vec::new() }) };
}

impl Scratch {
    /// This thread's arrays (empty, maybe with capacity), or new ones when
    /// the thread-local is already gone (thread exit).
    fn take() -> Scratch {
        SCRATCH.try_with(Cell::take).unwrap_or_default()
    }

    /// Empties `ops` (ending the borrows of the call's C buffers) and gives
    /// the arrays back to this thread.
    fn put_back(mut ops: Vec<BatchOp<'_>>, mut origin: Vec<usize>) {
        ops.clear();
        origin.clear();
        ops.shrink_to(SCRATCH_KEEP);
        origin.shrink_to(SCRATCH_KEEP);
        let ops: Vec<BatchOp<'static>> = if ops.capacity() == 0 {
            Vec::new()
        } else {
            let mut ops = std::mem::ManuallyDrop::new(ops);
            // SAFETY: a live allocation of the global allocator for
            // `capacity` elements of the same type but for the lifetime,
            // which has no effect on layout; the vector is empty, so no
            // `BatchOp` outlives the buffers it borrowed; the allocation
            // moves from the ManuallyDrop to the new vector, which frees it
            // (once) with the same layout.
            unsafe { Vec::from_raw_parts(ops.as_mut_ptr().cast::<BatchOp<'static>>(), 0, ops.capacity()) }
        };
        // If the thread-local is gone, the arrays are simply dropped.
        let _ = SCRATCH.try_with(|s| s.set(Scratch { ops, origin }));
    }
}

fn set_result(op: &mut ns_op, status: ns_status, out_len: usize, out_counter: i64) {
    op.status = status as i32;
    op.out_len = out_len;
    op.out_counter = out_counter;
}

/// Runs `n` operations in one call: split by shard, all shards working at
/// once; operations on the same key take effect in array order. Every op's
/// `status`, `out_len` and `out_counter` are written, also when the call as
/// a whole fails (then every op gets the call's status).
///
/// Ownership: `ops` and every buffer they point to stay the caller's; values
/// are copied; nothing is allocated for the caller.
///
/// # Safety
/// `m` must be NULL or a handle from `ns_map_new`; `ops` must point to `n`
/// writable `ns_op`s (or be NULL with `n` 0); every op's pointers must obey
/// the field docs; no `out` buffer may overlap another buffer of the batch,
/// and no buffer an op points to (`key`, `value`, `expected`, `out`) may
/// overlap the `ops` array (results are written into it while the buffers
/// are in use). Unlike the single calls and `ns_get_many`, this is not
/// checked: a check costs ~60 instructions per op, a fifth of the call's.
///
/// Returns `NS_OK` (every op has its own status: `NS_OK`, `NS_NOT_FOUND`,
/// `NS_EXISTS`, `NS_MISMATCH`, `NS_BUFFER_TOO_SMALL`, or an error such as
/// `NS_ERR_INVALID_ARGUMENT` for an unknown kind or a NULL pointer with a
/// length, `NS_ERR_KEY_TOO_LARGE`, `NS_ERR_VALUE_TOO_LARGE`, `NS_ERR_FULL`,
/// `NS_ERR_NOT_A_COUNTER`), or for the call as a whole
/// `NS_ERR_INVALID_ARGUMENT` (`m` NULL, `ops` NULL with `n` > 0, `n` over
/// 2^32 - 1), `NS_ERR_RESOURCE` (no memory for the call's own copy of the
/// ops), `NS_ERR_CLOSED`. With `ops` NULL, `n` over 2^32 - 1 or
/// `NS_ERR_RESOURCE` no op is written.
#[no_mangle]
pub unsafe extern "C" fn ns_batch(m: *mut ns_map, ops: *mut ns_op, n: usize) -> ns_status {
    guard(|| -> Outcome {
        // The engine runs at most 2^32 - 1 ops per batch: refused before
        // anything is allocated for them.
        if n > 0 && (ops.is_null() || n > u32::MAX as usize) {
            return Err(ns_status::NS_ERR_INVALID_ARGUMENT);
        }
        let c_ops: &mut [ns_op] = if n == 0 {
            &mut []
        } else {
            // SAFETY: non-NULL; `n` writable ops by the caller's contract, overlapping no
            // buffer the ops point to (the contract), so the engine ops' borrows of those
            // buffers never alias this slice while `set_result` writes it. Every field of
            // ns_op is valid for any bit pattern (integers, raw pointers).
            unsafe { std::slice::from_raw_parts_mut(ops, n) }
        };
        // SAFETY: the caller's contract.
        let map = match unsafe { ns_map::get(m) } {
            Ok(map) => map,
            Err(s) => {
                c_ops.iter_mut().for_each(|op| set_result(op, s, 0, 0));
                return Err(s);
            }
        };
        let scratch = Scratch::take();
        // `Vec<BatchOp<'static>>` is a `Vec<BatchOp<'a>>` (covariance).
        let (mut engine_ops, mut origin): (Vec<BatchOp<'_>>, Vec<usize>) = (scratch.ops, scratch.origin);
        if engine_ops.try_reserve(n).is_err() || origin.try_reserve(n).is_err() {
            // Nothing decoded, nothing written: a batch too large for this
            // memory would be as large to fill with statuses.
            return Err(ns_status::NS_ERR_RESOURCE);
        }
        for (i, op) in c_ops.iter_mut().enumerate() {
            // SAFETY: the caller's contract.
            match unsafe { decode(map, op) } {
                Ok(b) => {
                    engine_ops.push(b);
                    origin.push(i);
                }
                Err(s) => set_result(op, s, 0, 0),
            }
        }
        let result = match map.batch(&mut engine_ops) {
            Err(e) => {
                let s = ns_status::from(e);
                origin.iter().for_each(|&i| set_result(&mut c_ops[i], s, 0, 0));
                Err(s)
            }
            Ok(()) => {
                for (b, &i) in engine_ops.iter().zip(&origin) {
                    let out_len = match b.kind {
                        OpKind::Get | OpKind::Take | OpKind::PutIfAbsent | OpKind::Swap => b.out_len,
                        _ => 0,
                    };
                    let counter = match b.kind {
                        OpKind::Add => b.out_counter,
                        OpKind::Ttl => crate::ttl::ttl_ms_out(b.out_counter),
                        _ => 0,
                    };
                    set_result(&mut c_ops[i], b.status.into(), out_len, counter);
                }
                Ok(ns_status::NS_OK)
            }
        };
        Scratch::put_back(engine_ops, origin);
        result
    })
}

/// Gets `n` keys in one call, without an `ns_op` per key: the all-get
/// batch of `ns_batch` (the same reads, each key's own status), taking and
/// returning plain arrays, so a binding passes its own memory and builds
/// nothing per key.
///
/// Layout: the keys are concatenated in `keys`, key `i` being `key_lens[i]`
/// bytes. The value of key `i` is copied to `out + i * out_stride` when it
/// fits in `out_stride` bytes (every key's room is reserved before any key is
/// read: the reads run together). Per key, `statuses[i]` is `NS_OK`
/// (`value_lens[i]` bytes copied), `NS_NOT_FOUND`, `NS_BUFFER_TOO_SMALL`
/// (`value_lens[i]` = the value's length; nothing copied: read it again with
/// room, for example with `ns_get`), `NS_ERR_KEY_TOO_LARGE`, or possibly
/// `NS_ERR_PANIC` (the key's shard was poisoned by an earlier panic);
/// `value_lens[i]` is 0 unless `NS_OK` or `NS_BUFFER_TOO_SMALL`. A key's
/// room is written only for `NS_OK` (its `value_lens[i]` bytes, the rest
/// of the room untouched); for any other status it is left as it was.
///
/// Ownership: all arrays stay the caller's; nothing is allocated for the caller.
///
/// # Safety
/// `m` must be NULL or a handle from `ns_map_new`; `key_lens` must point to
/// `n` readable lengths and `keys` to as many readable bytes as they add up
/// to (or be NULL when that is 0); `out` must point to `n * out_stride`
/// writable bytes (or be NULL with `out_stride` 0: lengths only);
/// `value_lens` and `statuses` must point to `n` writable elements. `keys`
/// and `key_lens` are only read; should `out`, `value_lens` or `statuses`
/// overlap another argument (or each other), the call returns
/// `NS_ERR_INVALID_ARGUMENT` and writes nothing.
///
/// Returns `NS_OK` (every key has its status, none `NS_BUFFER_TOO_SMALL`),
/// `NS_BUFFER_TOO_SMALL` (every key has its status, some of them that one:
/// only then need the caller look for them), or for the call as a whole
/// `NS_ERR_INVALID_ARGUMENT` (`m` NULL; with `n` > 0, `key_lens`,
/// `value_lens` or `statuses` NULL, `keys` NULL with a key longer than 0,
/// `out` NULL with `out_stride` > 0, `n * out_stride` or the sum of the key
/// lengths beyond the address space; overlapping arrays, above) or
/// `NS_ERR_CLOSED`; then, but for overlapping arrays, every `statuses[i]`
/// is that status too, when `statuses` is not NULL, and `value_lens[i]` 0
/// when `value_lens` is not NULL.
#[no_mangle]
pub unsafe extern "C" fn ns_get_many(
    m: *mut ns_map,
    n: usize,
    keys: *const u8,
    key_lens: *const usize,
    out: *mut u8,
    out_stride: usize,
    value_lens: *mut usize,
    statuses: *mut ns_status_in,
) -> ns_status {
    guard(|| -> Outcome {
        if n == 0 {
            // SAFETY: the caller's contract.
            let map = unsafe { ns_map::get(m) }?;
            // Nothing to read, but a closed map says so (as `ns_batch`).
            return map.batch(&mut []).map(|()| ns_status::NS_OK).map_err(ns_status::from);
        }
        let fits = n <= isize::MAX as usize / std::mem::size_of::<usize>();
        // Whole-call failures are written to every key that can receive them.
        let fail = |s: ns_status| -> Outcome {
            if fits {
                for i in 0..n {
                    // SAFETY: each pointer is written only when non-NULL, and then points to `n`
                    // writable elements by the contract; `i < n`. Written element by element, so no
                    // reference is made that another argument could alias.
                    unsafe {
                        if !statuses.is_null() {
                            statuses.add(i).write(s as i32);
                        }
                        if !value_lens.is_null() {
                            value_lens.add(i).write(0);
                        }
                    }
                }
            }
            Err(s)
        };
        let stride_total = n.checked_mul(out_stride).filter(|&t| t <= isize::MAX as usize);
        if !fits
            || key_lens.is_null()
            || value_lens.is_null()
            || statuses.is_null()
            || stride_total.is_none()
            || (out.is_null() && out_stride > 0)
        {
            return fail(ns_status::NS_ERR_INVALID_ARGUMENT);
        }
        // SAFETY: the caller's contract.
        let map = match unsafe { ns_map::get(m) } {
            Ok(map) => map,
            Err(s) => return fail(s),
        };
        // The lengths are read one at a time through the raw pointer, and the results written the
        // same way, so no reference over `key_lens`, `value_lens` or `statuses` is ever made: one
        // aliasing another (which the contract rules out) could garble results, never be UB here.
        // SAFETY: `key_lens` is non-NULL (checked above) and points to `n` readable lengths by the
        // contract (`fits`: within the address space); every call below passes an `i < n`.
        let key_len = |i: usize| unsafe { key_lens.add(i).read() };
        let total = (0..n).try_fold(0usize, |t, i| t.checked_add(key_len(i)).filter(|&t| t <= isize::MAX as usize));
        let Some(total) = total else {
            return fail(ns_status::NS_ERR_INVALID_ARGUMENT);
        };
        // The arrays the call writes share no byte with any other argument:
        // else refused, writing nothing (a status written into a key would
        // change it while it is read).
        let (out_span, lens_span, sts_span) =
            (Span::new(out, stride_total.unwrap_or(0)), Span::of(value_lens, n), Span::of(statuses, n));
        let read = [Span::new(keys, total), Span::of(key_lens, n)];
        if apart(out_span, &[read[0], read[1], lens_span, sts_span]).is_err()
            || apart(lens_span, &[read[0], read[1], sts_span]).is_err()
            || apart(sts_span, &read).is_err()
        {
            return Err(ns_status::NS_ERR_INVALID_ARGUMENT);
        }
        // SAFETY: the caller's contract: `total` readable bytes at `keys`, which no argument the call
        // writes overlaps.
        let all_keys = match unsafe { bytes(keys, total) } {
            Ok(k) => k,
            Err(s) => return fail(s),
        };
        // SAFETY: checked above: `n * out_stride` writable bytes, or empty, overlapping no other
        // argument (the contract).
        let all_out = match unsafe { buffer(out, stride_total.unwrap_or(0)) } {
            Ok(o) => o,
            Err(s) => return fail(s),
        };
        // Each key from its length, back to back (`total` bounds them all).
        let mut at = 0;
        let keys = (0..n).map(|i| {
            let l = key_len(i);
            at += l;
            &all_keys[at - l..at]
        });
        // One get per key (a key over the map's limit gets its
        // NS_ERR_KEY_TOO_LARGE from the engine's own validation); each
        // outcome is written as it comes.
        let mut result = ns_status::NS_OK;
        let done = |i: usize, st: numashard::Status, len: usize| {
            let s = ns_status::from(st);
            if s == ns_status::NS_BUFFER_TOO_SMALL {
                result = s;
            }
            // SAFETY: `statuses` and `value_lens` are non-NULL (checked above) and point to `n`
            // writable elements by the contract, overlapping nothing else the call reads or writes
            // (checked above); `i < n` (`get_many_into` reports each key once); `ns_status_in` is
            // a plain `i32`.
            unsafe {
                statuses.add(i).write(s as i32);
                value_lens.add(i).write(len);
            }
        };
        match map.get_many_into(keys, all_out, out_stride, done) {
            Ok(()) => Ok(result),
            Err(e) => fail(ns_status::from(e)),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use numashard::Config;

    fn add_op(key: &[u8], delta: i64) -> ns_op {
        ns_op {
            kind: ns_op_kind::NS_OP_ADD as i32,
            status: -1,
            key: key.as_ptr(),
            key_len: key.len(),
            value: std::ptr::null(),
            value_len: 0,
            expected: std::ptr::null(),
            expected_len: 0,
            delta,
            out: std::ptr::null_mut(),
            out_cap: 0,
            out_len: 0,
            out_counter: 0,
            ttl_ms: 0,
        }
    }

    /// This thread's arrays: (ops capacity, origin capacity, ops address).
    fn scratch() -> (usize, usize, usize) {
        let s = Scratch::take();
        let seen = (s.ops.capacity(), s.origin.capacity(), s.ops.as_ptr() as usize);
        SCRATCH.with(|c| c.set(s));
        seen
    }

    /// Counts past the engine's 2^32 - 1 are refused before the library
    /// allocates anything for them (it used to reserve 120 bytes per op
    /// first: an abort when that memory was refused) or reads an op.
    #[test]
    fn counts_past_the_engines_limit_are_refused_before_any_allocation() {
        let m = ns_map::register(Map::new(Config { shards: 2, ..Config::default() }).unwrap());
        let mut ops = vec![add_op(b"k", 1), add_op(b"k", 1)];
        let entries = [crate::iter::ns_entry { key: b"k".as_ptr(), key_len: 1, value: b"v".as_ptr(), value_len: 1 }];
        for n in [u32::MAX as usize + 1, usize::MAX] {
            // SAFETY: a live handle; both calls refuse `n` before reading any element.
            unsafe {
                assert_eq!(ns_batch(m, ops.as_mut_ptr(), n), ns_status::NS_ERR_INVALID_ARGUMENT);
                assert_eq!(crate::iter::ns_replace_all(m, entries.as_ptr(), n), ns_status::NS_ERR_INVALID_ARGUMENT);
            }
            assert!(ops.iter().all(|o| o.status == -1), "no op written");
        }
        // SAFETY: a live handle; two valid ops.
        assert_eq!(unsafe { ns_batch(m, ops.as_mut_ptr(), 2) }, ns_status::NS_OK);
        // SAFETY: a live handle.
        assert_eq!(unsafe { ns_map::get(m) }.unwrap().len().unwrap(), 1);
    }

    #[test]
    fn batches_reuse_this_threads_arrays_and_shrink_after_a_huge_one() {
        let m = ns_map::register(Map::new(Config { shards: 2, ..Config::default() }).unwrap());
        let keys: Vec<[u8; 4]> = (0..10_000u32).map(|i| i.to_le_bytes()).collect();
        let mut ops: Vec<ns_op> = keys.iter().map(|k| add_op(k, 1)).collect();
        // SAFETY: a live handle; every op points at live keys.
        unsafe {
            assert_eq!(ns_batch(m, ops.as_mut_ptr(), 100), ns_status::NS_OK);
            let (ops_cap, origin_cap, first) = scratch();
            assert!(ops_cap >= 100 && origin_cap >= 100);
            // The same allocation serves the next batch of at most as many ops.
            assert_eq!(ns_batch(m, ops.as_mut_ptr(), 100), ns_status::NS_OK);
            assert_eq!(scratch().2, first);
            // A huge batch works and is not kept whole.
            assert_eq!(ns_batch(m, ops.as_mut_ptr(), ops.len()), ns_status::NS_OK);
            assert!(ops.iter().all(|o| o.status == ns_status::NS_OK as i32));
            assert!(ops[..100].iter().all(|o| o.out_counter == 3));
            let (ops_cap, origin_cap, _) = scratch();
            assert!(ops_cap <= SCRATCH_KEEP && origin_cap <= SCRATCH_KEEP);
            // A failing call (bad kind on one op, then a closed map) leaves
            // the arrays usable.
            ops[0].kind = 99;
            assert_eq!(ns_batch(m, ops.as_mut_ptr(), 2), ns_status::NS_OK);
            assert_eq!(ops[0].status, ns_status::NS_ERR_INVALID_ARGUMENT as i32);
            assert_eq!(ops[1].out_counter, 4);
            assert!(ns_map::release(m));
            assert_eq!(ns_batch(m, ops.as_mut_ptr(), 2), ns_status::NS_ERR_CLOSED);
            assert_eq!(ops[1].status, ns_status::NS_ERR_CLOSED as i32);
        }
    }
}
