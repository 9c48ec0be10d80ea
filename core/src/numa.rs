//! The Linux calls that put threads and memory where placement says
//! (sched_setaffinity, mbind, set_mempolicy), and those that prove afterwards
//! where they ended up (getcpu, move_pages).
//!
//! hwloc2 2.2.0 offers no memory binding, so memory policy goes straight to
//! the kernel. Every call here fails soft: it reports whether it worked, and
//! the caller decides what a missing binding means (containers often forbid
//! these calls, and a 1-node machine makes them moot).

use std::ptr::NonNull;

use libc::{c_int, c_long, c_uint, c_ulong, c_void};

use crate::error::{Error, Result, Status};

// Memory policy modes and flags from <linux/mempolicy.h>, not exported by libc.
const MPOL_PREFERRED: c_int = 1;
const MPOL_BIND: c_int = 2;
/// mbind flag: move the range's pages that are not on the policy's nodes.
const MPOL_MF_MOVE: c_uint = 1 << 1;

/// The kernel rejects node masks longer than one page of bits, so larger
/// node numbers cannot be named at all.
const MAX_NODE_BITS: usize = 4096 * 8;

/// A node-bound anonymous memory region: mmap + mbind(MPOL_BIND, node). Drop unmaps.
#[derive(Debug)]
pub struct NodeRegion {
    ptr: NonNull<u8>,
    len: usize,
    node: Option<u32>,
    bound: bool,
}

// SAFETY: a NodeRegion owns its mapping outright and holds no thread-affine
// state (mmap, mbind and munmap act on the process address space, whichever
// thread calls them), so it may be dropped on any thread. Through `&self` it
// only gives out a raw pointer; synchronising accesses made through that
// pointer is the caller's job, as with any raw pointer.
unsafe impl Send for NodeRegion {}
// SAFETY: see Send; no method mutates the region through `&self`.
unsafe impl Sync for NodeRegion {}

impl NodeRegion {
    /// Maps `len` bytes (rounded up to the page size) zero-filled; when `node` is Some, binds them
    /// with mbind(MPOL_BIND); if mbind fails the region is still returned with bound() == false.
    /// `huge`: madvise(MADV_HUGEPAGE) (ignore failure). Errors: Status::Resource when mmap fails.
    ///
    /// `len == 0` gives an empty region that maps nothing (and is not bound).
    /// Pages are allocated by the kernel on first touch, on the bound node.
    pub fn new(len: usize, node: Option<u32>, huge: bool) -> Result<NodeRegion> {
        if len == 0 {
            return Ok(NodeRegion { ptr: NonNull::dangling(), len: 0, node, bound: false });
        }
        let len = len.checked_next_multiple_of(page_size()).ok_or_else(|| too_large(len))?;
        #[cfg(miri)]
        {
            // Miri cannot run mmap or mbind: a zeroed, page-aligned heap
            // block stands in (same contract: `len` zeroed bytes, never bound),
            // so Miri checks every access the arena and table make to it.
            let _ = huge;
            let layout = std::alloc::Layout::from_size_align(len, page_size())
                .map_err(|e| Error::with_detail(Status::Resource, format!("cannot map {len} bytes: {e}")))?;
            // SAFETY: the layout has a non-zero size (len > 0 here).
            let ptr = NonNull::new(unsafe { std::alloc::alloc_zeroed(layout) })
                .ok_or_else(|| Error::with_detail(Status::Resource, format!("allocating {len} bytes failed")))?;
            Ok(NodeRegion { ptr, len, node, bound: false })
        }
        #[cfg(not(miri))]
        {
            Self::map(len, node, huge)
        }
    }

    /// The real region (`len` is a positive multiple of the page size):
    /// mapped inaccessible, bound, advised, then made readable and writable.
    ///
    /// Until it is bound, a fresh mapping has no policy, and the kernel may
    /// merge it with a neighbouring mapping that has none either (another
    /// thread's heap, say). Should that thread fault a transparent huge
    /// page there, the page covers the whole aligned 2 MiB block, part of
    /// this region included, on that thread's node: the NUMA test guests
    /// caught exactly that during snapshot loads (430 of a region's 512 pages
    /// in a huge page shared with such a neighbour; `bench/numa-vm/README.md`).
    /// Mapped `PROT_NONE` the region cannot merge with any writable mapping,
    /// and nobody can fault in it, until `mprotect` opens it, bound; from
    /// then on it merges only with mappings bound like it.
    ///
    /// A huge region also starts on a huge page boundary (one huge page
    /// more is reserved and the rest unmapped), so that the huge pages
    /// backing it lie inside it and cover all of it.
    #[cfg(not(miri))]
    fn map(len: usize, node: Option<u32>, huge: bool) -> Result<NodeRegion> {
        let align = if huge { huge_page_size() } else { page_size() };
        let reserve = len.checked_add(align - page_size()).ok_or_else(|| too_large(len))?;
        // SAFETY: a new private anonymous mapping at an address the kernel
        // picks; it cannot alias any existing Rust object.
        let addr = unsafe {
            libc::mmap(std::ptr::null_mut(), reserve, libc::PROT_NONE, libc::MAP_PRIVATE | libc::MAP_ANONYMOUS, -1, 0)
        };
        if addr == libc::MAP_FAILED {
            let err = std::io::Error::last_os_error();
            return Err(Error::with_detail(Status::Resource, format!("mmap of {len} bytes failed: {err}")));
        }
        let head = (addr as usize).next_multiple_of(align) - addr as usize;
        let tail = reserve - head - len;
        // SAFETY: both ranges lie inside the mapping just made, outside
        // [addr + head, addr + head + len), and nothing refers to them.
        unsafe {
            if head > 0 {
                libc::munmap(addr, head);
            }
            if tail > 0 {
                libc::munmap(addr.cast::<u8>().add(head + len).cast(), tail);
            }
        }
        let start = addr.cast::<u8>().wrapping_add(head);
        let ptr = NonNull::new(start).ok_or_else(|| Error::with_detail(Status::Resource, "mmap returned address 0"))?;
        // From here on Drop unmaps on every path.
        let mut region = NodeRegion { ptr, len, node, bound: false };
        if let Some(node) = node {
            region.bound = mbind(start.cast(), len, node, 0);
        }
        if huge {
            // SAFETY: advice on a range we mapped; it changes no contents.
            // Failure (THP disabled or unsupported) only costs TLB misses.
            let _ = unsafe { libc::madvise(start.cast(), len, libc::MADV_HUGEPAGE) };
        }
        // SAFETY: opens exactly the range this region owns; no page of it
        // exists yet, so nothing is exposed but zero-fill.
        if unsafe { libc::mprotect(start.cast(), len, libc::PROT_READ | libc::PROT_WRITE) } != 0 {
            let err = std::io::Error::last_os_error();
            return Err(Error::with_detail(Status::Resource, format!("mprotect of {len} bytes failed: {err}")));
        }
        Ok(region)
    }

    /// The first byte of the region (dangling but non-null when empty).
    /// Valid for reads and writes of [`len`](Self::len) bytes until the region is dropped.
    pub fn as_ptr(&self) -> *mut u8 {
        self.ptr.as_ptr()
    }

    /// The mapped length in bytes: the requested length rounded up to whole pages.
    pub fn len(&self) -> usize {
        self.len
    }

    /// True when nothing is mapped.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// True when the kernel accepted binding the region to its node.
    pub fn bound(&self) -> bool {
        self.bound
    }

    /// The node the region was asked to live on.
    pub fn node(&self) -> Option<u32> {
        self.node
    }

    /// Finds the region's resident pages that are not on its node, and if
    /// there are any, binds the region again with `MPOL_MF_MOVE`, which
    /// has the kernel migrate them there. Returns how many it moved (0 for
    /// an unbound or empty region); pages the kernel would not move stay
    /// where they are, and `page_nodes` shows them.
    ///
    /// Migration is transparent to other threads' accesses, but it costs a
    /// page walk and a copy per page moved: call it on regions being built,
    /// not on a hot path.
    pub fn settle(&self) -> u64 {
        let Some(node) = self.node.filter(|_| self.bound && self.len > 0) else { return 0 };
        // SAFETY: the region is mapped while `self` lives.
        let found = unsafe { page_nodes(self.ptr.as_ptr(), self.len, node) };
        let off = found.total - found.on_node;
        if off == 0 {
            return 0;
        }
        mbind(self.ptr.as_ptr().cast(), self.len, node, MPOL_MF_MOVE);
        // SAFETY: as above.
        let after = unsafe { page_nodes(self.ptr.as_ptr(), self.len, node) };
        off.saturating_sub(after.total - after.on_node)
    }
}

impl Drop for NodeRegion {
    fn drop(&mut self) {
        if self.len == 0 {
            return;
        }
        // SAFETY: exactly the block allocated in `new` with this layout
        // (checked there), freed only here. The pointers handed out by
        // `as_ptr` are documented to die with the region.
        #[cfg(miri)]
        unsafe {
            std::alloc::dealloc(self.ptr.as_ptr(), std::alloc::Layout::from_size_align_unchecked(self.len, page_size()))
        };
        // SAFETY: exactly the mapping made in `new`, unmapped only here. The
        // pointers handed out by `as_ptr` are documented to die with the region.
        #[cfg(not(miri))]
        let _ = unsafe { libc::munmap(self.ptr.as_ptr().cast(), self.len) };
    }
}

/// The error for a region whose size, rounded up, overflows.
fn too_large(len: usize) -> Error {
    Error::with_detail(Status::Resource, format!("cannot map {len} bytes: the size overflows"))
}

/// The size of a transparent huge page (a PMD mapping): what the kernel
/// says, 2 MiB if it does not; at most 32 MiB is honoured, so that aligning
/// a region never reserves much more address space than it maps.
#[cfg(miri)]
#[allow(dead_code)] // only `map` (not built under Miri) and the tests ask
fn huge_page_size() -> usize {
    2 << 20
}

#[cfg(not(miri))]
fn huge_page_size() -> usize {
    static SIZE: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    *SIZE.get_or_init(|| {
        std::fs::read_to_string("/sys/kernel/mm/transparent_hugepage/hpage_pmd_size")
            .ok()
            .and_then(|s| s.trim().parse::<usize>().ok())
            .filter(|&s| s.is_power_of_two() && s >= page_size() && s <= 32 << 20)
            .unwrap_or(2 << 20)
            .max(page_size())
    })
}

#[cfg(miri)]
fn page_size() -> usize {
    4096
}

#[cfg(not(miri))]
fn page_size() -> usize {
    // SAFETY: sysconf reads a constant of the running system.
    let size = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    usize::try_from(size).ok().filter(|s| s.is_power_of_two()).unwrap_or(4096)
}

/// A node mask holding only `node`, and the `maxnode` argument that goes with it.
fn node_mask(node: u32) -> Option<(Vec<c_ulong>, c_ulong)> {
    let node = node as usize;
    if node >= MAX_NODE_BITS - 1 {
        return None;
    }
    let bits = c_ulong::BITS as usize;
    let mut mask = vec![0; node / bits + 1];
    mask[node / bits] |= 1 << (node % bits);
    // The kernel reads one bit fewer than `maxnode` says (a historical
    // off-by-one that libnuma compensates for the same way).
    let maxnode = (mask.len() * bits + 1) as c_ulong;
    Some((mask, maxnode))
}

#[cfg_attr(miri, allow(dead_code))]
fn mbind(addr: *mut c_void, len: usize, node: u32, flags: c_uint) -> bool {
    let Some((mask, maxnode)) = node_mask(node) else { return false };
    // SAFETY: `addr..addr+len` is a mapping the caller owns, so changing its
    // policy (and, with MPOL_MF_MOVE, where its pages live: migration keeps
    // their contents and addresses) affects nobody else; the kernel only
    // reads `maxnode - 1` bits of `mask`, which holds that many.
    let rc = unsafe {
        libc::syscall(libc::SYS_mbind, addr, len as c_ulong, MPOL_BIND as c_long, mask.as_ptr(), maxnode, flags)
    };
    rc == 0
}

/// Sets the calling thread's memory policy to MPOL_BIND on `node` (fallback MPOL_PREFERRED); true on success.
///
/// It applies to pages the thread allocates from now on; call it before the
/// thread touches its memory.
pub fn bind_thread_memory(node: u32) -> bool {
    let Some((mask, maxnode)) = node_mask(node) else { return false };
    [MPOL_BIND, MPOL_PREFERRED].into_iter().any(|mode| {
        // SAFETY: the policy belongs to the calling thread only; the kernel
        // reads `maxnode - 1` bits of `mask`, which holds that many.
        let rc = unsafe { libc::syscall(libc::SYS_set_mempolicy, mode as c_long, mask.as_ptr(), maxnode) };
        rc == 0
    })
}

/// Pins the calling thread to `cpu` (core_affinity); true on success (and verify with sched_getaffinity / getcpu that it took).
pub fn pin_thread(cpu: u32) -> bool {
    // core_affinity builds a fixed cpu_set_t and would index past its end.
    if cpu as usize >= libc::CPU_SETSIZE as usize {
        return false;
    }
    if !core_affinity::set_for_current(core_affinity::CoreId { id: cpu as usize }) {
        return false;
    }
    // Setting the affinity of the calling thread migrates it before the call
    // returns, so both checks must agree at once.
    crate::placement::allowed_cpus() == [cpu] && running_on() == Some(cpu)
}

/// The CPU the calling thread runs on now (SYS_getcpu / sched_getcpu); 0 if unknown.
pub fn current_cpu() -> u32 {
    running_on().unwrap_or(0)
}

fn running_on() -> Option<u32> {
    // SAFETY: no arguments; it reads the CPU the thread runs on.
    let cpu = unsafe { libc::sched_getcpu() };
    u32::try_from(cpu).ok()
}

/// Like current_cpu but also the node: (cpu, node).
///
/// `(current_cpu(), 0)` if the kernel does not say.
pub fn current_cpu_node() -> (u32, u32) {
    let mut cpu: c_uint = 0;
    let mut node: c_uint = 0;
    // SAFETY: getcpu writes one unsigned int through each of the first two
    // pointers, both to live locals; the third (a cache unused since Linux
    // 2.6.24) may be NULL.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_getcpu,
            &mut cpu as *mut c_uint,
            &mut node as *mut c_uint,
            std::ptr::null_mut::<c_void>(),
        )
    };
    if rc == 0 {
        (cpu, node)
    } else {
        (current_cpu(), 0)
    }
}

/// Where a range's pages live: how many are on the intended node, out of all resident ones.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PageCount {
    /// Resident pages on the intended node.
    pub on_node: u64,
    /// All resident pages.
    pub total: u64,
}

impl PageCount {
    /// Adds another count to this one (to sum over several regions).
    pub fn add(&mut self, other: PageCount) {
        self.on_node += other.on_node;
        self.total += other.total;
    }
}

/// Asks the kernel (move_pages with NULL nodes, in chunks of e.g. 4096 pages) where each resident page
/// of [ptr, ptr+len) lives; counts pages on `node` and all resident pages (pages never touched, -ENOENT, are not counted in total).
///
/// Pages that only map the shared zero page (read but never written) are
/// not counted either. If the kernel refuses the call (e.g. a seccomp
/// filter), the pages it could not report are simply missing from `total`.
///
/// # Safety
/// The range must be mapped for the duration of the call.
pub unsafe fn page_nodes(ptr: *const u8, len: usize, node: u32) -> PageCount {
    const CHUNK: usize = 4096;
    let mut count = PageCount::default();
    if len == 0 || ptr.is_null() {
        return count;
    }
    let page = page_size();
    let first = ptr as usize & !(page - 1);
    let end = (ptr as usize).saturating_add(len);
    let pages = (end - first).div_ceil(page);

    let mut addrs: Vec<*mut c_void> = Vec::with_capacity(pages.min(CHUNK));
    let mut status: Vec<c_int> = vec![0; pages.min(CHUNK)];
    let mut done = 0;
    while done < pages {
        let n = (pages - done).min(CHUNK);
        addrs.clear();
        addrs.extend((done..done + n).map(|i| (first + i * page) as *mut c_void));
        // SAFETY: with a NULL node array move_pages moves nothing and only
        // reports: it reads `n` addresses from `addrs` and writes `n` statuses
        // into `status`, both at least `n` long. The caller keeps the range
        // mapped, so the statuses describe its pages.
        let rc = unsafe {
            libc::syscall(
                libc::SYS_move_pages,
                0 as c_int,
                n as c_ulong,
                addrs.as_ptr(),
                std::ptr::null::<c_int>(),
                status.as_mut_ptr(),
                0 as c_int,
            )
        };
        if rc < 0 {
            break;
        }
        for &s in &status[..n] {
            // Negative statuses are errors: -ENOENT (never touched), -EFAULT (zero page, unmapped).
            if s >= 0 {
                count.total += 1;
                if s as u32 == node {
                    count.on_node += 1;
                }
            }
        }
        done += n;
    }
    count
}

/// Number of NUMA nodes the kernel knows (max node + 1, from /sys/devices/system/node or get_mempolicy); at least 1.
pub fn kernel_node_count() -> u32 {
    const NODE_DIR: &str = "/sys/devices/system/node";
    if let Some(max) = std::fs::read_to_string(format!("{NODE_DIR}/online")).ok().and_then(|l| max_in_list(&l)) {
        return max + 1;
    }
    // Without the summary file, the node directories themselves.
    let max_dir = std::fs::read_dir(NODE_DIR).ok().and_then(|dir| {
        dir.filter_map(|e| e.ok()?.file_name().to_str()?.strip_prefix("node")?.parse::<u32>().ok()).max()
    });
    max_dir.map_or(1, |max| max + 1)
}

/// The largest number in a kernel list such as `"0-3,8,10-11\n"`.
fn max_in_list(list: &str) -> Option<u32> {
    list.trim().split(',').filter_map(|part| part.rsplit('-').next()?.trim().parse::<u32>().ok()).max()
}

#[cfg(test)]
mod tests {
    use super::*;

    const MPOL_F_ADDR: c_ulong = 2;

    /// The policy mode and node mask (first word) of the calling thread or,
    /// with `addr`, of the page range containing it.
    fn mempolicy(addr: Option<*const u8>) -> Option<(c_int, c_ulong)> {
        let mut mode: c_int = -1;
        let mut mask: [c_ulong; 16] = [0; 16];
        let (flags, addr) = match addr {
            Some(a) => (MPOL_F_ADDR, a as *const c_void),
            None => (0, std::ptr::null()),
        };
        // SAFETY: the kernel writes one int to `mode` and at most 1024 bits to
        // `mask`, which holds 16 * 64; `addr` is only looked up, not accessed.
        let rc = unsafe {
            libc::syscall(
                libc::SYS_get_mempolicy,
                &mut mode as *mut c_int,
                mask.as_mut_ptr(),
                1025 as c_ulong,
                addr,
                flags,
            )
        };
        (rc == 0).then_some((mode, mask[0]))
    }

    fn touch(region: &NodeRegion) -> u64 {
        let page = page_size();
        let mut touched = 0;
        for offset in (0..region.len()).step_by(page) {
            // SAFETY: offset < len, inside the region's mapping.
            unsafe { region.as_ptr().add(offset).write_volatile(1) };
            touched += 1;
        }
        touched
    }

    #[test]
    fn region_on_node_zero_has_all_its_pages_there() {
        let region = NodeRegion::new(4 << 20, Some(0), false).unwrap();
        assert_eq!(region.len(), 4 << 20);
        assert!(region.bound(), "mbind to node 0 failed");
        assert_eq!(region.node(), Some(0));
        assert_eq!(mempolicy(Some(region.as_ptr())), Some((MPOL_BIND, 1)));

        // SAFETY: the region is mapped for the whole call.
        let before = unsafe { page_nodes(region.as_ptr(), region.len(), 0) };
        assert_eq!(before, PageCount::default(), "untouched pages are not resident");

        let touched = touch(&region);
        assert_eq!(touched, (4 << 20) / page_size() as u64);
        // SAFETY: as above.
        let after = unsafe { page_nodes(region.as_ptr(), region.len(), 0) };
        assert_eq!(after, PageCount { on_node: touched, total: touched });

        // Another node's count sees the same pages, none of them its own.
        // SAFETY: as above.
        let elsewhere = unsafe { page_nodes(region.as_ptr(), region.len(), 1) };
        assert_eq!(elsewhere, PageCount { on_node: 0, total: touched });
    }

    /// On one node nothing can be off it: settle finds nothing, moves
    /// nothing and leaves the policy and contents as they were. (Pages
    /// pushed to another node and moved back: numa_check's settle control,
    /// in the 2- and 4-node guests.)
    #[test]
    fn settle_finds_nothing_off_node_zero_and_changes_nothing() {
        let region = NodeRegion::new(32 * page_size(), Some(0), false).unwrap();
        assert!(region.bound());
        assert_eq!(region.settle(), 0, "nothing resident yet");
        let touched = touch(&region);
        assert_eq!(region.settle(), 0);
        // SAFETY: the region is mapped for the whole call.
        let after = unsafe { page_nodes(region.as_ptr(), region.len(), 0) };
        assert_eq!(after, PageCount { on_node: touched, total: touched });
        assert_eq!(mempolicy(Some(region.as_ptr())), Some((MPOL_BIND, 1)));
        // SAFETY: offset 0 is inside the region.
        assert_eq!(unsafe { region.as_ptr().read_volatile() }, 1);
        let unbound = NodeRegion::new(4 * page_size(), None, false).unwrap();
        touch(&unbound);
        assert_eq!(unbound.settle(), 0, "an unbound region has no node to be off");
    }

    /// A huge region starts on a huge page boundary, whatever its length,
    /// and is usable and bound over exactly that length; a small one is not
    /// padded.
    #[test]
    fn huge_regions_start_on_a_huge_page_boundary() {
        let huge = huge_page_size();
        assert!(huge.is_power_of_two() && huge >= page_size());
        for pages in [1, 3, 512, 1024] {
            let len = pages * page_size();
            let region = NodeRegion::new(len, Some(0), true).unwrap();
            assert_eq!(region.as_ptr() as usize % huge, 0, "{pages} pages");
            assert_eq!(region.len(), len);
            assert!(region.bound());
            assert_eq!(mempolicy(Some(region.as_ptr())), Some((MPOL_BIND, 1)));
            assert_eq!(touch(&region), pages as u64);
            // SAFETY: the region is mapped for the whole call.
            let p = unsafe { page_nodes(region.as_ptr(), region.len(), 0) };
            assert_eq!(p.total, pages as u64);
        }
        let small = NodeRegion::new(3 * page_size(), Some(0), false).unwrap();
        assert_eq!(small.len(), 3 * page_size());
        assert_eq!(touch(&small), 3);
    }

    #[test]
    fn page_nodes_counts_only_the_range_asked() {
        let region = NodeRegion::new(64 * page_size(), Some(0), false).unwrap();
        touch(&region);
        let page = page_size();
        // An unaligned start and end still cover whole pages: 1.5 pages from
        // the middle of page 3 span pages 3 and 4.
        // SAFETY: inside the mapped region.
        let count = unsafe { page_nodes(region.as_ptr().add(3 * page + page / 2), page + page / 2, 0) };
        assert_eq!(count, PageCount { on_node: 2, total: 2 });
        // More than one chunk of 4096 pages.
        let big = NodeRegion::new(4097 * page, None, false).unwrap();
        touch(&big);
        // SAFETY: as above.
        let count = unsafe { page_nodes(big.as_ptr(), big.len(), 0) };
        assert_eq!(count.total, 4097);
    }

    #[test]
    fn region_is_zeroed_rounded_and_huge_is_harmless() {
        let region = NodeRegion::new(10, None, true).unwrap();
        assert_eq!(region.len(), page_size());
        assert!(!region.bound());
        assert!(!region.is_empty());
        // SAFETY: the whole mapped length, freshly mapped and so initialised to zero.
        let bytes = unsafe { std::slice::from_raw_parts(region.as_ptr(), region.len()) };
        assert!(bytes.iter().all(|&b| b == 0));
    }

    #[test]
    fn empty_region_maps_nothing() {
        let region = NodeRegion::new(0, Some(0), false).unwrap();
        assert!(region.is_empty());
        assert_eq!(region.len(), 0);
        assert!(!region.bound());
        // SAFETY: an empty range is trivially mapped.
        assert_eq!(unsafe { page_nodes(region.as_ptr(), 0, 0) }, PageCount::default());
    }

    #[test]
    fn region_on_a_missing_node_is_usable_but_unbound() {
        for node in [kernel_node_count() + 7, 1000, u32::MAX] {
            let region = NodeRegion::new(page_size(), Some(node), false).unwrap();
            assert!(!region.bound(), "node {node}");
            touch(&region);
        }
    }

    #[test]
    fn impossible_size_is_a_resource_error() {
        for len in [usize::MAX, usize::MAX / 2] {
            let err = NodeRegion::new(len, None, false).unwrap_err();
            assert_eq!(err.status(), Status::Resource, "{len}");
        }
    }

    #[test]
    fn region_moves_between_threads() {
        let region = NodeRegion::new(page_size(), Some(0), false).unwrap();
        let region = std::thread::spawn(move || {
            touch(&region);
            region
        })
        .join()
        .unwrap();
        // SAFETY: mapped until `region` drops.
        assert_eq!(unsafe { page_nodes(region.as_ptr(), region.len(), 0) }.total, 1);
    }

    #[test]
    fn thread_memory_binds_to_an_existing_node_only() {
        std::thread::spawn(|| {
            assert!(bind_thread_memory(0));
            assert_eq!(mempolicy(None), Some((MPOL_BIND, 1)));
            assert!(!bind_thread_memory(kernel_node_count() + 7));
            assert!(!bind_thread_memory(u32::MAX));
            // Memory the thread allocates now comes from node 0.
            let data = vec![1u8; 1 << 20];
            // SAFETY: the vector's buffer is mapped while `data` lives.
            let count = unsafe { page_nodes(data.as_ptr(), data.len(), 0) };
            assert!(count.total > 0);
            assert_eq!(count.on_node, count.total);
        })
        .join()
        .unwrap();
    }

    #[test]
    fn pinning_moves_the_thread_to_each_allowed_cpu() {
        let allowed = crate::placement::allowed_cpus();
        assert!(!allowed.is_empty());
        std::thread::spawn(move || {
            for &cpu in &allowed {
                assert!(pin_thread(cpu), "pin to {cpu}");
                assert_eq!(current_cpu(), cpu);
                let (on, node) = current_cpu_node();
                assert_eq!(on, cpu);
                assert!(node < kernel_node_count());
            }
        })
        .join()
        .unwrap();
    }

    #[test]
    fn pinning_to_a_missing_cpu_fails() {
        std::thread::spawn(|| {
            let before = crate::placement::allowed_cpus();
            assert!(!pin_thread(u32::MAX));
            assert!(!pin_thread(libc::CPU_SETSIZE as u32));
            let absent = (0..libc::CPU_SETSIZE as u32).rev().find(|c| !before.contains(c)).unwrap();
            assert!(!pin_thread(absent));
            assert_eq!(crate::placement::allowed_cpus(), before, "a failed pin changes nothing");
        })
        .join()
        .unwrap();
    }

    #[test]
    fn kernel_node_count_covers_this_machine() {
        let count = kernel_node_count();
        assert!(count >= 1);
        let (_, node) = current_cpu_node();
        assert!(node < count);
        assert_eq!(max_in_list("0-3,8,10-11\n"), Some(11));
        assert_eq!(max_in_list("0\n"), Some(0));
        assert_eq!(max_in_list(""), None);
    }

    #[test]
    fn page_counts_add_up() {
        let mut sum = PageCount { on_node: 1, total: 2 };
        sum.add(PageCount { on_node: 3, total: 5 });
        assert_eq!(sum, PageCount { on_node: 4, total: 7 });
    }
}
