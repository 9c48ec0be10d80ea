//! Prints reference vectors of the engine's key hash: foldhash 0.1.5's
//! `fast::FixedState::with_seed(seed)` hashing a key as `<[u8] as Hash>`
//! does, spelled out as the engine's `KeyHasher::hash` spells it.
//!
//! One line per vector: `seed len pattern hash`, all hexadecimal but len
//! (decimal). The key of (len, pattern) is `key_bytes` below, which the Go
//! test rebuilds the same way.

use std::hash::{BuildHasher, Hash, Hasher};

/// The same as core/src/routing.rs `KeyHasher::hash`.
fn key_hash(seed: u64, key: &[u8]) -> u64 {
    let mut h = foldhash::fast::FixedState::with_seed(seed).build_hasher();
    key.hash(&mut h);
    h.finish()
}

/// Pattern 0: byte j is the top byte of ((len << 32 | j) + 1) times a
/// 64-bit odd constant; pattern 1: every byte 0xff; pattern 2: every byte 0.
fn key_bytes(len: usize, pattern: u32) -> Vec<u8> {
    (0..len)
        .map(|j| match pattern {
            0 => ((((len as u64) << 32 | j as u64) + 1).wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 56) as u8,
            1 => 0xff,
            _ => 0,
        })
        .collect()
}

fn main() {
    // 0, 1, the engine's default seed ("numashar"), all ones, a mixed one.
    let seeds = [0u64, 1, 0x6e75_6d61_7368_6172, u64::MAX, 0x0123_4567_89ab_cdef];
    for seed in seeds {
        for len in (0..=300).chain([511, 512, 513, 1000, 4096]) {
            for pattern in 0..3 {
                if pattern > 0 && len % 7 != 0 && ![0, 1, 8, 16, 17, 255, 256, 257].contains(&len) {
                    continue;
                }
                let key = key_bytes(len, pattern);
                println!("{seed:x} {len} {pattern} {:x}", key_hash(seed, &key));
            }
        }
    }
}
