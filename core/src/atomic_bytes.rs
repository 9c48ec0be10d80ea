//! Byte copies made of relaxed atomic accesses.
//!
//! Readers of a shard read its table and records without the ownership lock
//! while the owner may be writing them (a seqlock validates what they read
//! afterwards). Such concurrent accesses are only defined behaviour when
//! both sides are atomic, so every write a lock-free reader may observe goes
//! through these functions, and so does every lock-free read. On x86-64 a
//! relaxed atomic load or store of a word is an ordinary `mov`.

use std::sync::atomic::{AtomicU64, AtomicU8, Ordering::Relaxed};

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
        // SAFETY: i + 8 <= n = src.len().
        let w = unsafe { (src.as_ptr().add(i) as *const u64).read_unaligned() };
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

/// Compares the key at `src` (8-aligned, inside a block that is a
/// multiple of 8 bytes long) with `key`, a word at a time: the last,
/// partial word is read whole and masked.
///
/// # Safety
/// `src` must be 8-aligned and `[src, src + key.len())` inside a mapped
/// block whose end is 8-aligned; only ever accessed atomically meanwhile.
#[inline(always)]
pub(crate) unsafe fn key_eq(src: *const u8, key: &[u8]) -> bool {
    let n = key.len();
    let mut i = 0;
    while i + 8 <= n {
        // SAFETY: in range and 8-aligned (caller's contract).
        let w = unsafe { (*(src.add(i) as *const AtomicU64)).load(Relaxed) };
        // SAFETY: i + 8 <= key.len().
        let k = unsafe { (key.as_ptr().add(i) as *const u64).read_unaligned() };
        if w != k {
            return false;
        }
        i += 8;
    }
    if i < n {
        // SAFETY: the aligned word holding src[i..n] lies in the block.
        let w = unsafe { (*(src.add(i) as *const AtomicU64)).load(Relaxed) };
        let mut tail = [0u8; 8];
        tail[..n - i].copy_from_slice(&key[i..]);
        // Byte j of memory is bits 8j.. of the little-endian value.
        let mask = (1u64 << (8 * (n - i))) - 1;
        return u64::from_le(w) & mask == u64::from_le_bytes(tail);
    }
    true
}

/// Whether two byte strings are equal, without a `memcmp` call for the
/// short ones (keys, mostly): up to 16 bytes, two loads per side that
/// overlap in the middle.
#[inline(always)]
pub(crate) fn bytes_eq(a: &[u8], b: &[u8]) -> bool {
    let n = a.len();
    if n != b.len() {
        return false;
    }
    /// [0, N) and [n - N, n) equal, for N <= n.
    #[inline(always)]
    fn two<const N: usize>(a: &[u8], b: &[u8]) -> bool {
        let n = a.len();
        // SAFETY: N <= n = a.len() = b.len(), so both ranges are in bounds.
        unsafe {
            let r = |p: *const u8| (p as *const [u8; N]).read_unaligned();
            r(a.as_ptr()) == r(b.as_ptr()) && r(a.as_ptr().add(n - N)) == r(b.as_ptr().add(n - N))
        }
    }
    match n {
        8..=16 => two::<8>(a, b),
        4..=7 => two::<4>(a, b),
        _ => a == b,
    }
}

/// Copies `n` bytes between non-overlapping buffers without calling
/// `memcpy` for small sizes: two fixed-size copies that overlap in the
/// middle (fixed sizes compile to plain moves; a loop would be turned back
/// into a `memcpy` call).
///
/// # Safety
/// `src` valid for `n` initialised bytes of reads, `dst` for `n` bytes of
/// writes, not overlapping.
#[inline(always)]
pub(crate) unsafe fn copy_small(dst: *mut u8, src: *const u8, n: usize) {
    /// Copies [0, N) and [n - N, n) for N <= n <= 2N.
    #[inline(always)]
    unsafe fn two<const N: usize>(dst: *mut u8, src: *const u8, n: usize) {
        // SAFETY: N <= n, so both ranges lie in [0, n) (caller's contract).
        unsafe {
            let head = (src as *const [u8; N]).read_unaligned();
            let tail = (src.add(n - N) as *const [u8; N]).read_unaligned();
            (dst as *mut [u8; N]).write_unaligned(head);
            (dst.add(n - N) as *mut [u8; N]).write_unaligned(tail);
        }
    }
    // SAFETY (all branches): each branch's size bounds satisfy `two`'s contract.
    unsafe {
        if n >= 16 {
            if n <= 32 {
                two::<16>(dst, src, n)
            } else if n <= 64 {
                two::<32>(dst, src, n)
            } else {
                std::ptr::copy_nonoverlapping(src, dst, n)
            }
        } else if n >= 8 {
            two::<8>(dst, src, n)
        } else if n >= 4 {
            two::<4>(dst, src, n)
        } else if n >= 2 {
            two::<2>(dst, src, n)
        } else if n == 1 {
            *dst = *src
        }
    }
}

/// Copies the aligned words that cover `[src, src + n)` into `dst` with
/// relaxed atomic loads; returns where the first byte landed (`src % 8`).
///
/// # Safety
/// The aligned words covering the range must be mapped memory only ever
/// accessed atomically meanwhile (a record block: 8-aligned, a multiple of
/// 8 bytes long); `dst` must have room for `n.div_ceil(8) + 1` words.
#[inline(always)]
pub(crate) unsafe fn load_words(dst: *mut u64, src: *const u8, n: usize) -> usize {
    let at = src as usize % 8;
    let first = src.wrapping_sub(at) as *const AtomicU64;
    let words = (at + n).div_ceil(8);
    for w in 0..words {
        // SAFETY: word w covers bytes of the range (caller's contract);
        // w < words <= n.div_ceil(8) + 1.
        unsafe { dst.add(w).write((*first.add(w)).load(Relaxed)) };
    }
    at
}

/// Loads an aligned u64 atomically.
///
/// # Safety
/// `p` must be 8-aligned, mapped, and only accessed atomically by others.
#[inline]
pub(crate) unsafe fn load_u64(p: *const u8) -> u64 {
    // SAFETY: caller's contract.
    unsafe { (*(p as *const AtomicU64)).load(Relaxed) }
}

/// Stores an aligned u64 atomically.
///
/// # Safety
/// As for [`load_u64`], and writable by the caller.
#[inline]
pub(crate) unsafe fn store_u64(p: *mut u8, v: u64) {
    // SAFETY: caller's contract.
    unsafe { (*(p as *const AtomicU64)).store(v, Relaxed) }
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

    /// key_eq at an aligned block start, every key length, every differing byte.
    #[test]
    fn key_eq_reads_whole_words_and_masks_the_tail() {
        let mut block = vec![0u64; 16];
        let base = block.as_mut_ptr() as *mut u8;
        for len in 0..=100usize {
            let key: Vec<u8> = (0..len).map(|i| (i * 13 + 5) as u8).collect();
            // SAFETY: len <= 100 < 128 bytes of the block; the bytes after the
            // key are filled with noise that must be ignored.
            unsafe {
                store(base, &key);
                store(base.add(len), &vec![0xA5u8; 128 - len]);
                assert!(key_eq(base, &key), "len {len}");
                for j in 0..len {
                    let mut other = key.clone();
                    other[j] ^= 0x40;
                    assert!(!key_eq(base, &other), "len {len} byte {j}");
                }
            }
        }
    }

    #[test]
    fn round_trips_at_every_alignment_and_length() {
        let mut backing = vec![0u64; 64];
        let base = backing.as_mut_ptr() as *mut u8;
        for off in 0..9 {
            for len in 0..100 {
                let src: Vec<u8> = (0..len).map(|i| (i * 7 + off) as u8).collect();
                // SAFETY: off + len < 512 bytes of backing.
                unsafe {
                    store(base.add(off), &src);
                    let mut words = vec![0u64; len / 8 + 2];
                    let at = load_words(words.as_mut_ptr(), base.add(off), len);
                    assert_eq!(&std::slice::from_raw_parts(words.as_ptr() as *const u8, at + len)[at..], &src[..]);
                    assert!(bytes_eq(&src, &src.clone()));
                    for j in 0..len {
                        let mut other = src.clone();
                        other[j] ^= 1;
                        assert!(!bytes_eq(&src, &other), "len {len} byte {j}");
                    }
                    assert!(!bytes_eq(&src, &src[..len.saturating_sub(1)]) || len == 0);
                    let mut copy = vec![0u8; len];
                    copy_small(copy.as_mut_ptr(), src.as_ptr(), len);
                    assert_eq!(copy, src);
                }
            }
        }
    }
}
