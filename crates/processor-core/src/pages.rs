//! Large buffers on 2 MiB pages where Linux offers them on request (transparent huge pages in
//! `madvise` mode, the usual default).
//!
//! A batch of a million events fills a few hundred MB of fresh buffers (the columns, the
//! deduplication index) and probes the index at random. On 4 KiB pages that costs a page fault
//! per 4 KiB written and, in a virtual machine, a nested page walk on most probes: profiled on
//! the 2-core development VM, the probes alone took a tenth of the fused path. Asking for huge
//! pages before the buffer is first written turns both into one per 2 MiB. The request is a
//! hint: a kernel without transparent huge pages ignores it, and nothing else changes.

const HUGE_PAGE: usize = 2 << 20;

/// Below this a buffer is not worth a system call (it holds at most one whole huge page).
const MIN_BYTES: usize = 2 * HUGE_PAGE;

/// Ask for huge pages under the whole 2 MiB pages of `vec`'s allocation (its capacity, not
/// just its length). Call it before the memory is written: pages already touched stay small.
pub fn advise_huge_pages<T>(vec: &Vec<T>) {
    let bytes = vec.capacity() * std::mem::size_of::<T>();
    if bytes < MIN_BYTES {
        return;
    }
    let start = vec.as_ptr() as usize;
    let aligned_start = start.next_multiple_of(HUGE_PAGE);
    let aligned_end = (start + bytes) / HUGE_PAGE * HUGE_PAGE;
    if aligned_end > aligned_start {
        advise(aligned_start, aligned_end - aligned_start);
    }
}

#[cfg(target_os = "linux")]
fn advise(start: usize, len: usize) {
    // SAFETY: the range lies inside a live allocation the caller owns, and MADV_HUGEPAGE
    // neither moves nor frees memory nor changes its contents; an error only means no huge
    // pages, so it is ignored.
    unsafe {
        libc::madvise(start as *mut libc::c_void, len, libc::MADV_HUGEPAGE);
    }
}

#[cfg(not(target_os = "linux"))]
fn advise(start: usize, len: usize) {
    let _ = (start, len);
}

/// A table of `u64` zeros that stays one size (an index probed at random): mapped straight
/// from the kernel, which hands out zeroed pages, on 2 MiB-aligned huge pages where offered.
/// A vector would do the same the first time, but once the allocator has seen a large block
/// freed it serves the next from memory it keeps (small pages it writes zeros over, and
/// whose random probes then miss the TLB); a mapping is fresh every time.
pub struct ZeroedTable {
    storage: TableStorage,
}

enum TableStorage {
    /// A small table, or where no mapping could be had.
    Heap(Vec<u64>),
    #[cfg(target_os = "linux")]
    Mapped { base: *mut libc::c_void, map_len: usize, table: *mut u64, len: usize },
}

// SAFETY: a `ZeroedTable` owns its mapping alone, as a `Vec` owns its buffer: nothing else
// points into it, and shared access only reads.
unsafe impl Send for ZeroedTable {}
// SAFETY: as above; `&ZeroedTable` only gives out `&[u64]`.
unsafe impl Sync for ZeroedTable {}

impl ZeroedTable {
    pub fn new(len: usize) -> ZeroedTable {
        let bytes = len.saturating_mul(std::mem::size_of::<u64>());
        #[cfg(target_os = "linux")]
        if bytes >= MIN_BYTES && bytes <= isize::MAX as usize - HUGE_PAGE {
            // Room to start the table on a huge-page boundary.
            let map_len = bytes + HUGE_PAGE;
            // SAFETY: a fresh private anonymous mapping, placed by the kernel (a null hint), so
            // it overlaps no memory of ours; the result is checked before use.
            let base = unsafe {
                libc::mmap(
                    std::ptr::null_mut(),
                    map_len,
                    libc::PROT_READ | libc::PROT_WRITE,
                    libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                    -1,
                    0,
                )
            };
            if base != libc::MAP_FAILED {
                let start = (base as usize).next_multiple_of(HUGE_PAGE);
                advise(start, bytes / HUGE_PAGE * HUGE_PAGE);
                let table = start as *mut u64;
                return ZeroedTable { storage: TableStorage::Mapped { base, map_len, table, len } };
            }
        }
        ZeroedTable { storage: TableStorage::Heap(vec![0; len]) }
    }
}

impl std::ops::Deref for ZeroedTable {
    type Target = [u64];

    #[inline]
    fn deref(&self) -> &[u64] {
        match &self.storage {
            TableStorage::Heap(vec) => vec,
            // SAFETY: `table` is 8-byte aligned (on a huge-page boundary) and `len` u64s from it
            // lie inside the mapping (`start - base < HUGE_PAGE`, and `map_len` is the table's
            // bytes plus HUGE_PAGE), readable, zero-filled by the kernel or written since (any
            // bits are a valid u64), alive until drop, and mutated only through `&mut self`.
            #[cfg(target_os = "linux")]
            TableStorage::Mapped { table, len, .. } => unsafe { std::slice::from_raw_parts(*table, *len) },
        }
    }
}

impl std::ops::DerefMut for ZeroedTable {
    #[inline]
    fn deref_mut(&mut self) -> &mut [u64] {
        match &mut self.storage {
            TableStorage::Heap(vec) => vec,
            // SAFETY: as in `deref`, and `&mut self` makes this the only reference into it.
            #[cfg(target_os = "linux")]
            TableStorage::Mapped { table, len, .. } => unsafe { std::slice::from_raw_parts_mut(*table, *len) },
        }
    }
}

impl Drop for ZeroedTable {
    fn drop(&mut self) {
        #[cfg(target_os = "linux")]
        if let TableStorage::Mapped { base, map_len, .. } = self.storage {
            // SAFETY: the whole mapping made in `new`, unmapped once; no slice into it outlives
            // `self`. An error would only leak the mapping, so it is ignored.
            unsafe {
                libc::munmap(base, map_len);
            }
        }
    }
}

/// Room for at least `capacity` elements more than `vec` holds, on huge pages where offered
/// when a new allocation is needed: `vec` is moved into it. False (and `vec` unchanged) when
/// the memory cannot be had.
pub fn try_reserve<T: Copy>(vec: &mut Vec<T>, additional: usize) -> bool {
    if vec.capacity() - vec.len() >= additional {
        return true;
    }
    let mut bigger = Vec::new();
    if bigger.try_reserve_exact(vec.len().saturating_add(additional)).is_err() {
        return false;
    }
    advise_huge_pages(&bigger);
    bigger.extend_from_slice(vec);
    *vec = bigger;
    true
}

/// An empty vector with room for `capacity` elements, on huge pages where offered.
pub fn with_capacity<T>(capacity: usize) -> Vec<T> {
    let vec = Vec::with_capacity(capacity);
    advise_huge_pages(&vec);
    vec
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buffers_keep_their_length_capacity_and_contents() {
        let mut room: Vec<u8> = with_capacity(5 << 20);
        assert!(room.is_empty() && room.capacity() >= 5 << 20);
        room.extend_from_slice(b"kept");
        assert_eq!(room, b"kept");
        assert!(try_reserve(&mut room, 9 << 20));
        assert!(room.capacity() >= (9 << 20) + 4);
        assert_eq!(room, b"kept");
        assert!(!try_reserve(&mut room, usize::MAX / 2), "more than can be had is refused");
        assert_eq!(room, b"kept");
        let small: Vec<u8> = with_capacity(16);
        assert!(small.capacity() >= 16);
    }

    #[test]
    fn zeroed_tables_start_zero_and_keep_what_is_written() {
        for len in [0, 5, 3 << 20] {
            let mut table = ZeroedTable::new(len);
            assert_eq!(table.len(), len);
            assert!(table.iter().all(|&x| x == 0));
            if len > 0 {
                table[0] = 7;
                table[len - 1] = u64::MAX;
                assert_eq!((table[0], table[len - 1]), (7, u64::MAX));
            }
        }
    }
}
