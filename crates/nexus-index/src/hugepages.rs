//! Transparent huge pages for the graph's node blocks.
//!
//! A walk visits nodes at random across the whole block array (170 MB at 100k × 384-d f32),
//! so with 4 KiB pages nearly every visited node costs a TLB miss and a page walk on top of
//! its cache misses. Many Linux systems run transparent huge pages in `madvise` mode (only
//! regions that ask get 2 MiB pages), so the index asks for its large arrays. Elsewhere, or
//! when the kernel refuses, this is a no-op: it is advice, never a requirement.

/// The huge page size the advice is rounded to (x86-64 and aarch64 with 4 KiB base pages).
#[cfg(target_os = "linux")]
const HUGE: usize = 2 << 20;

/// Asks the kernel to back the whole 2 MiB pages inside `buf`'s allocation (its capacity,
/// so rows pushed later are covered too) with huge pages. Call it after the vector grows;
/// buffers smaller than one huge page are left alone.
pub(crate) fn advise<T>(buf: &Vec<T>) {
    #[cfg(target_os = "linux")]
    {
        let start = buf.as_ptr() as usize;
        let end = start + buf.capacity() * std::mem::size_of::<T>();
        let (lo, hi) = (start.next_multiple_of(HUGE), end / HUGE * HUGE);
        if hi > lo {
            // SAFETY: `lo..hi` lies inside `buf`'s allocation of `capacity` elements (rounded
            // inwards to whole huge pages), which the borrow keeps alive for the call.
            // MADV_HUGEPAGE only changes how the kernel backs the range, never its contents,
            // so no Rust reference into it is invalidated. A failure (e.g. THP disabled) is
            // ignored: it is advice.
            unsafe {
                libc::madvise(lo as *mut libc::c_void, hi - lo, libc::MADV_HUGEPAGE);
            }
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = buf;
}
