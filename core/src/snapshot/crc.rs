//! CRC-32C (Castagnoli, reflected polynomial 0x82F63B78), the checksum of
//! every snapshot block: it detects every single-bit error and every burst
//! of up to 32 bits. SSE4.2's `crc32` instruction computes it where the CPU
//! has one (several GB/s), a table otherwise.

const POLY: u32 = 0x82F6_3B78;

/// The byte-at-a-time table, built at compile time.
const TABLE: [u32; 256] = {
    let mut t = [0u32; 256];
    let mut i = 0;
    while i < 256 {
        let mut c = i as u32;
        let mut k = 0;
        while k < 8 {
            c = if c & 1 != 0 { (c >> 1) ^ POLY } else { c >> 1 };
            k += 1;
        }
        t[i] = c;
        i += 1;
    }
    t
};

/// Continues a CRC-32C over `data` (start with `crc32c(0, ..)`).
pub(crate) fn crc32c(crc: u32, data: &[u8]) -> u32 {
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("sse4.2") {
            // SAFETY: the CPU supports SSE4.2 (checked just above).
            return unsafe { crc32c_sse42(crc, data) };
        }
    }
    crc32c_table(crc, data)
}

fn crc32c_table(crc: u32, data: &[u8]) -> u32 {
    let mut c = !crc;
    for &b in data {
        c = TABLE[((c ^ b as u32) & 0xff) as usize] ^ (c >> 8);
    }
    !c
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "sse4.2")]
// Newer compilers deem the intrinsics safe inside this function; older ones need the blocks.
#[allow(unused_unsafe)]
unsafe fn crc32c_sse42(crc: u32, data: &[u8]) -> u32 {
    use std::arch::x86_64::{_mm_crc32_u64, _mm_crc32_u8};
    let mut c = !crc as u64;
    let mut words = data.chunks_exact(8);
    for w in &mut words {
        let mut b = [0u8; 8];
        b.copy_from_slice(w);
        // SAFETY: SSE4.2 is enabled for this function (the caller checked the CPU).
        c = unsafe { _mm_crc32_u64(c, u64::from_le_bytes(b)) };
    }
    let mut c = c as u32;
    for &b in words.remainder() {
        // SAFETY: as above.
        c = unsafe { _mm_crc32_u8(c, b) };
    }
    !c
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_vectors_and_both_paths_agree() {
        // RFC 3720's check value.
        assert_eq!(crc32c(0, b"123456789"), 0xE306_9283);
        assert_eq!(crc32c_table(0, b"123456789"), 0xE306_9283);
        assert_eq!(crc32c(0, &[0u8; 32]), 0x8A91_36AA);
        let data: Vec<u8> = (0..1000u32).map(|i| (i * 7 + 3) as u8).collect();
        for len in [0, 1, 7, 8, 9, 63, 64, 65, 999, 1000] {
            assert_eq!(crc32c(0, &data[..len]), crc32c_table(0, &data[..len]), "len {len}");
            // Continuing over two pieces equals one pass.
            let (a, b) = data[..len].split_at(len / 3);
            assert_eq!(crc32c(crc32c(0, a), b), crc32c(0, &data[..len]));
        }
    }
}
