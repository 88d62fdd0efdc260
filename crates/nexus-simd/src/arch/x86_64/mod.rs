//! x86_64 backends: AVX2 + FMA and AVX-512, and what they share.

use std::arch::x86_64::{_MM_HINT_T0, _mm_prefetch};

pub(crate) mod avx2;
pub(crate) mod avx512;

/// How far ahead of the rows being scored a one-to-many scan prefetches, in bytes. On Zen 4
/// the hardware prefetchers alone left a DRAM-bound 100k × 384 f32 scan at ~0.5–0.6 of the
/// read bound in our runs, a software prefetch 1–2 KiB ahead at ~0.9 (see ARCHITECTURE.md;
/// the machine was shared, so these are ranges, not figures).
const PREFETCH_BYTES: usize = 1024;

/// Prefetches (into L1) the bytes of `group`, [`PREFETCH_BYTES`] further on. Prefetches are
/// hints: an address past the end of the block is never read and cannot fault.
#[inline]
#[target_feature(enable = "sse")]
pub(super) fn prefetch_ahead<T>(group: &[T]) {
    let base = group.as_ptr().cast::<i8>().wrapping_add(PREFETCH_BYTES);
    for off in (0..std::mem::size_of_val(group)).step_by(64) {
        _mm_prefetch::<_MM_HINT_T0>(base.wrapping_add(off));
    }
}
