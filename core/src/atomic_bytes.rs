//! Byte copies made of relaxed atomic accesses.
//!
//! Readers of a shard read its table and records without the ownership lock
//! while the owner may be writing them (a seqlock validates what they read
//! afterwards). Such concurrent accesses are only defined behaviour when
//! both sides are atomic, so every write a lock-free reader may observe goes
//! through these functions, and so does every lock-free read. On x86-64 a
//! relaxed atomic load or store of a word is an ordinary `mov`.

use std::sync::atomic::{AtomicU64, AtomicU8, Ordering::Relaxed};

/// Copies `n` bytes from `src` to `dst` (possibly uninitialised memory)
/// with relaxed atomic loads of the source.
///
/// # Safety
/// `[src, src + n)` must be mapped memory that is only ever accessed
/// atomically while this runs; `dst` must be valid for `n` bytes of writes.
#[inline]
pub(crate) unsafe fn load_raw(dst: *mut u8, n: usize, src: *const u8) {
    let mut i = 0;
    while i < n && (src as usize + i) % 8 != 0 {
        // SAFETY: in range (caller's contract).
        unsafe { dst.add(i).write((*(src.add(i) as *const AtomicU8)).load(Relaxed)) };
        i += 1;
    }
    while i + 8 <= n {
        // SAFETY: in range, source 8-aligned; the destination may be unaligned.
        unsafe { (dst.add(i) as *mut u64).write_unaligned((*(src.add(i) as *const AtomicU64)).load(Relaxed)) };
        i += 8;
    }
    while i < n {
        // SAFETY: in range.
        unsafe { dst.add(i).write((*(src.add(i) as *const AtomicU8)).load(Relaxed)) };
        i += 1;
    }
}

/// Copies `src` to `dst` with relaxed atomic stores.
///
/// # Safety
/// `[dst, dst + src.len())` must be mapped, writable memory owned by the
/// caller (the shard's lock holder), only ever accessed atomically by others.
#[inline]
pub(crate) unsafe fn store(dst: *mut u8, src: &[u8]) {
    let n = src.len();
    let mut i = 0;
    while i < n && (dst as usize + i) % 8 != 0 {
        // SAFETY: in range (caller's contract).
        unsafe { (*(dst.add(i) as *const AtomicU8)).store(src[i], Relaxed) };
        i += 1;
    }
    while i + 8 <= n {
        let w = u64::from_ne_bytes(src[i..i + 8].try_into().expect("8 bytes"));
        // SAFETY: in range and 8-aligned.
        unsafe { (*(dst.add(i) as *const AtomicU64)).store(w, Relaxed) };
        i += 8;
    }
    while i < n {
        // SAFETY: in range.
        unsafe { (*(dst.add(i) as *const AtomicU8)).store(src[i], Relaxed) };
        i += 1;
    }
}

/// Compares `len(other)` bytes at `src` with `other`, with relaxed atomic loads.
///
/// # Safety
/// As for [`load_raw`], for `other.len()` bytes.
#[inline]
pub(crate) unsafe fn eq(src: *const u8, other: &[u8]) -> bool {
    let n = other.len();
    let mut i = 0;
    while i < n && (src as usize + i) % 8 != 0 {
        // SAFETY: in range (caller's contract).
        if unsafe { (*(src.add(i) as *const AtomicU8)).load(Relaxed) } != other[i] {
            return false;
        }
        i += 1;
    }
    while i + 8 <= n {
        // SAFETY: in range and 8-aligned.
        let w = unsafe { (*(src.add(i) as *const AtomicU64)).load(Relaxed) };
        if w.to_ne_bytes() != other[i..i + 8] {
            return false;
        }
        i += 8;
    }
    while i < n {
        // SAFETY: in range.
        if unsafe { (*(src.add(i) as *const AtomicU8)).load(Relaxed) } != other[i] {
            return false;
        }
        i += 1;
    }
    true
}

/// Loads an aligned u32 atomically.
///
/// # Safety
/// `p` must be 4-aligned, mapped, and only accessed atomically by others.
#[inline]
pub(crate) unsafe fn load_u32(p: *const u8) -> u32 {
    // SAFETY: caller's contract.
    unsafe { (*(p as *const std::sync::atomic::AtomicU32)).load(Relaxed) }
}

/// Stores an aligned u32 atomically.
///
/// # Safety
/// As for [`load_u32`], and writable by the caller.
#[inline]
pub(crate) unsafe fn store_u32(p: *mut u8, v: u32) {
    // SAFETY: caller's contract.
    unsafe { (*(p as *const std::sync::atomic::AtomicU32)).store(v, Relaxed) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_at_every_alignment_and_length() {
        let mut backing = vec![0u64; 64];
        let base = backing.as_mut_ptr() as *mut u8;
        for off in 0..9 {
            for len in 0..40 {
                let src: Vec<u8> = (0..len).map(|i| (i * 7 + off) as u8).collect();
                // SAFETY: off + len < 512 bytes of backing.
                unsafe {
                    store(base.add(off), &src);
                    let mut out = vec![0u8; len];
                    load_raw(out.as_mut_ptr(), len, base.add(off));
                    assert_eq!(out, src);
                    assert!(eq(base.add(off), &src));
                    if len > 0 {
                        let mut other = src.clone();
                        other[len - 1] ^= 1;
                        assert!(!eq(base.add(off), &other));
                    }
                }
            }
        }
    }
}
