//! Byte copies made of relaxed atomic accesses.
//!
//! Readers of a shard read its table and records without the ownership lock
//! while the owner may be writing them (a seqlock validates what they read
//! afterwards). Such concurrent accesses are only defined behaviour when
//! both sides are atomic, so every write a lock-free reader may observe goes
//! through these functions, and so does every lock-free read. On x86-64 a
//! relaxed atomic load or store of a word is an ordinary `mov`.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

/// Copies `src` to `dst` with relaxed atomic stores of whole aligned words.
///
/// A word that `src` covers only in part is loaded, merged and stored back
/// whole, so record memory is only ever accessed atomically as aligned
/// `u64`s: racing atomic accesses of different sizes to the same bytes have
/// no defined meaning in Rust's memory model (and Miri rejects them).
///
/// # Safety
/// The aligned words covering `[dst, dst + src.len())` must be mapped,
/// writable memory of which the caller (the shard's lock holder) is the only
/// writer, only ever accessed atomically by others: a record block
/// (8-aligned, a multiple of 8 bytes long). Bytes of those words outside the
/// range are rewritten with their current values.
#[inline]
pub(crate) unsafe fn store(dst: *mut u8, src: &[u8]) {
    let n = src.len();
    if n == 0 {
        return;
    }
    let at = dst as usize % 8;
    let words = dst.wrapping_sub(at) as *const AtomicU64;
    // Stores src[from..from + len] into word `w` at byte `off`, keeping its other bytes.
    // SAFETY: every call below passes a word `w` that covers bytes of the
    // range, so it lies in the caller's block (aligned, mapped) where only the
    // caller writes and others access words only atomically (the contract).
    let merge = |w: usize, off: usize, from: usize, len: usize| unsafe {
        let word = &*words.add(w);
        let mut bytes = word.load(Relaxed).to_ne_bytes();
        bytes[off..off + len].copy_from_slice(&src[from..from + len]);
        word.store(u64::from_ne_bytes(bytes), Relaxed);
    };
    let (mut i, mut w) = (0, 0);
    if at != 0 || n < 8 {
        let head = (8 - at).min(n);
        merge(0, at, 0, head);
        (i, w) = (head, 1);
    }
    while i + 8 <= n {
        // SAFETY: i + 8 <= n = src.len().
        let v = unsafe { (src.as_ptr().add(i) as *const u64).read_unaligned() };
        // SAFETY: an aligned word inside the range (caller's contract).
        unsafe { (*words.add(w)).store(v, Relaxed) };
        (i, w) = (i + 8, w + 1);
    }
    if i < n {
        merge(w, 0, i, n - i);
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
    if n > 8 && n <= 16 {
        // Keys of 9 to 16 bytes (the common size) in four loads and no
        // loop: the first word on both sides, then the key's last 8 bytes
        // against the same bytes of the record's first two words.
        // SAFETY: n > 8, so the two words at src lie in the block (its end
        // is 8-aligned and at or past src + n); 8 <= n for the key's loads.
        let (w0, w1, k0, k1) = unsafe {
            (
                (*(src as *const AtomicU64)).load(Relaxed),
                (*(src.add(8) as *const AtomicU64)).load(Relaxed),
                (key.as_ptr() as *const u64).read_unaligned(),
                (key.as_ptr().add(n - 8) as *const u64).read_unaligned(),
            )
        };
        // Byte j of memory is bits 8j.. of the little-endian values.
        let both = (u64::from_le(w1) as u128) << 64 | u64::from_le(w0) as u128;
        return w0 == k0 && (both >> (8 * (n - 8))) as u64 == u64::from_le(k1);
    }
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
    // SAFETY: each branch calls `two::<N>` only with N <= n <= 2N (`two`'s
    // contract); the others copy exactly `n` bytes; `src` is readable and
    // `dst` writable for `n` bytes, not overlapping (the caller's contract).
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
    // SAFETY: word w covers bytes of the range (caller's contract); every
    // w below is < words <= n.div_ceil(8) + 1.
    let copy = |w: usize| unsafe { dst.add(w).write((*first.add(w)).load(Relaxed)) };
    // Values up to 32 bytes at any offset (the common sizes) in straight
    // copies, longer ones in a loop.
    match words {
        0 => {}
        1 => copy(0),
        2 => (0..2).for_each(copy),
        3 => (0..3).for_each(copy),
        4 => (0..4).for_each(copy),
        5 => (0..5).for_each(copy),
        _ => (0..words).for_each(copy),
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

#[cfg(test)]
mod tests {
    use super::*;

    /// key_eq at an aligned block start, every key length, every differing byte.
    #[test]
    fn key_eq_reads_whole_words_and_masks_the_tail() {
        let mut block = vec![0u64; 16];
        let base = block.as_mut_ptr() as *mut u8;
        // Miri: every length up to three words and a few longer ones.
        let lens = (0..=100usize).filter(|&l| !cfg!(miri) || l <= 24 || l % 17 == 0);
        for len in lens {
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
            for len in (0..100).filter(|&l| !cfg!(miri) || l <= 17 || l % 23 == 0) {
                let src: Vec<u8> = (0..len).map(|i| (i * 7 + off) as u8).collect();
                // SAFETY: off + len < 512 bytes of backing.
                unsafe {
                    store(base.add(off), &src);
                    let mut words = vec![0u64; len / 8 + 2];
                    let at = load_words(words.as_mut_ptr(), base.add(off), len);
                    assert_eq!(&std::slice::from_raw_parts(words.as_ptr() as *const u8, at + len)[at..], &src[..]);
                    assert!(bytes_eq(&src, &src.clone()));
                    // (bytes_eq reads at most 16 bytes unchecked: Miri needs no longer keys.)
                    for j in (0..len).filter(|_| !cfg!(miri) || len <= 17) {
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

    /// `store` writes exactly its range: the bytes around it, in the words it
    /// merges into, keep their values, at every alignment and length.
    #[test]
    fn store_leaves_the_bytes_around_its_range_alone() {
        let mut block = vec![0u64; 6];
        let base = block.as_mut_ptr() as *mut u8;
        let lens: &[usize] = if cfg!(miri) {
            &[0, 1, 3, 7, 8, 9, 15, 16, 17, 25]
        } else {
            &[0, 1, 2, 3, 5, 7, 8, 9, 15, 16, 17, 23, 24, 25, 31]
        };
        for off in 0..8 {
            for &len in lens {
                let noise: Vec<u8> = (0..48).map(|i| (i * 29 + 3) as u8).collect();
                let src: Vec<u8> = (0..len).map(|i| !(i as u8)).collect();
                // SAFETY: off + len <= 33 < 48 bytes of the block, which this
                // thread alone uses.
                let after = unsafe {
                    store(base, &noise);
                    store(base.add(off), &src);
                    std::slice::from_raw_parts(base as *const u8, 48).to_vec()
                };
                assert_eq!(&after[off..off + len], &src[..], "off {off} len {len}");
                assert_eq!(&after[..off], &noise[..off], "off {off} len {len}");
                assert_eq!(&after[off + len..], &noise[off + len..], "off {off} len {len}");
            }
        }
    }

    /// The lock-free read protocol on these copies: a writer rewrites a value
    /// (at an unaligned offset, as a record's value after its key) inside a
    /// seqlock write section while a reader copies it with `load_words` and
    /// keeps the copy only if the sequence did not move. A kept copy is
    /// never torn. Under Miri this also checks that every racing access is
    /// atomic and of one size.
    #[test]
    fn a_validated_lock_free_copy_is_never_torn() {
        use std::sync::atomic::{
            fence,
            Ordering::{Acquire, Release},
        };
        const OFF: usize = 13;
        const LEN: usize = 21;
        let rounds: u64 = if cfg!(miri) { 40 } else { 20_000 };
        let block: std::sync::Arc<[AtomicU64]> = (0..8).map(|_| AtomicU64::new(0)).collect();
        let seq = std::sync::Arc::new(AtomicU64::new(0));
        let base = block.as_ptr() as *mut u8;
        let value = |r: u64| vec![(r % 251) as u8; LEN];
        // SAFETY: the block is 64 bytes, 8-aligned; OFF + LEN <= 64; this
        // thread is its only writer until the writer below starts.
        unsafe { store(base.add(OFF), &value(0)) };
        let writer = std::thread::spawn({
            let (block, seq) = (block.clone(), seq.clone());
            move || {
                let base = block.as_ptr() as *mut u8;
                for r in 1..=rounds {
                    let s = seq.load(Relaxed);
                    seq.store(s + 1, Relaxed);
                    fence(Release);
                    // SAFETY: as above; the writer is now the block's only writer.
                    unsafe { store(base.add(OFF), &value(r)) };
                    seq.store(s + 2, Release);
                }
            }
        });
        let mut kept = 0u64;
        let mut stage = [0u64; LEN / 8 + 2];
        while !writer.is_finished() || kept == 0 {
            let s1 = seq.load(Acquire);
            if s1 & 1 == 1 {
                std::hint::spin_loop();
                continue;
            }
            // SAFETY: the words covering the value lie in the block, only
            // accessed atomically; the stage has room for LEN / 8 + 2 words.
            let at = unsafe { load_words(stage.as_mut_ptr(), base.add(OFF), LEN) };
            fence(Acquire);
            if seq.load(Relaxed) != s1 {
                continue;
            }
            // SAFETY: the stage holds at + LEN initialised bytes.
            let got = unsafe { std::slice::from_raw_parts((stage.as_ptr() as *const u8).add(at), LEN) };
            assert!(got.iter().all(|&b| b == got[0]), "torn copy {got:?}");
            kept += 1;
        }
        writer.join().unwrap();
        assert!(kept > 0);
    }
}
