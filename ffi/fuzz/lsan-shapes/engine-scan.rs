/// Appended to a copy of `core/src/numa.rs` by `scripts/lsan-shapes.sh`
/// when `NUMASHARD_LSAN_SCAN=1` (never part of the engine): keeps the live
/// mapped regions and scans them for words that point into a heap block.
pub mod lsan_scan {
    static LIVE: std::sync::Mutex<Vec<(usize, usize)>> = std::sync::Mutex::new(Vec::new());

    /// A region was mapped.
    pub fn register(addr: usize, len: usize) {
        LIVE.lock().unwrap_or_else(|e| e.into_inner()).push((addr, len));
    }

    /// A region is about to be unmapped.
    pub fn unregister(addr: usize) {
        LIVE.lock().unwrap_or_else(|e| e.into_inner()).retain(|&(a, _)| a != addr);
    }

    extern "C" {
        fn __asan_locate_address(
            addr: *mut libc::c_void,
            name: *mut libc::c_char,
            name_size: usize,
            region_address: *mut *mut libc::c_void,
            region_size: *mut usize,
        ) -> *const libc::c_char;
    }

    /// Scans every aligned word of every live region (holding the list, so
    /// none is unmapped meanwhile): `[regions, bytes, words pointing into a heap block]`.
    #[no_mangle]
    pub extern "C" fn numashard_lsan_scan_regions(out: *mut [u64; 3]) {
        let live = LIVE.lock().unwrap_or_else(|e| e.into_inner());
        let (mut bytes, mut hits) = (0u64, 0u64);
        for &(addr, len) in live.iter() {
            bytes += len as u64;
            for i in 0..len / 8 {
                // SAFETY: a word inside a live mapping (it is not unmapped
                // while listed, and the list is held).
                let w = unsafe { ((addr + i * 8) as *const usize).read_volatile() };
                if !(1 << 32..=0x7fff_ffff_ffff).contains(&w) {
                    continue;
                }
                let mut name = [0 as libc::c_char; 64];
                let (mut block, mut size) = (std::ptr::null_mut(), 0usize);
                // SAFETY: the sanitizer's lookup only reads its own metadata
                // for the address; the outputs are valid.
                let kind = unsafe {
                    std::ffi::CStr::from_ptr(__asan_locate_address(
                        w as *mut _,
                        name.as_mut_ptr(),
                        64,
                        &mut block,
                        &mut size,
                    ))
                };
                if kind.to_bytes() == b"heap" {
                    hits += 1;
                    eprintln!(
                        "scan: the word at {:#x} points into the heap block {block:?} ({size} bytes)",
                        addr + i * 8
                    );
                }
            }
        }
        // SAFETY: the caller passes a valid output.
        unsafe { *out = [live.len() as u64, bytes, hits] };
    }
}
