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

/// A zeroed vector of `len` elements, on huge pages where offered (see the module docs).
pub fn zeroed<T: Clone + Default>(len: usize) -> Vec<T> {
    let mut vec = Vec::with_capacity(len);
    advise_huge_pages(&vec);
    vec.resize(len, T::default());
    vec
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
        let zeros: Vec<u64> = zeroed(3 << 20);
        assert_eq!(zeros.len(), 3 << 20);
        assert!(zeros.iter().all(|&x| x == 0));
        let mut room: Vec<u8> = with_capacity(5 << 20);
        assert!(room.is_empty() && room.capacity() >= 5 << 20);
        room.extend_from_slice(b"kept");
        assert_eq!(room, b"kept");
        let small: Vec<u8> = with_capacity(16);
        assert!(small.capacity() >= 16);
    }
}
