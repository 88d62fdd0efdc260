//! The `bound` anchor: the machine's measured read bandwidth over a buffer of a given size.
//!
//! A scan cannot be faster than reading its bytes once, so suites report a `bound` row next to
//! a scan row: the same footprint (hence the same cache level — L2, L3 or DRAM — on this
//! machine) read by a ≥ 8-accumulator SIMD sum, timed interleaved with the scan so that both
//! see the same noise from other processes. Convert the seconds into the row's unit yourself
//! (GB/s, Mcodes/s, …).
//!
//! The sum reads at the level the kernels run at: AVX-512 at `nexus_simd::level()` avx512,
//! AVX2 at avx2, scalar below. So with `NEXUS_SIMD=avx2` on an AVX-512 machine, standing in for
//! an AVX2 machine, the bound is the one an AVX2 machine would measure: an AVX2 core cannot
//! issue 64-byte loads, whatever the cache behind it delivers. [`ReadBound::pass_widest`] reads
//! the same buffer with the widest sum this CPU has, for a comparison row when the level is
//! capped ([`ReadBound::capped`]).
//!
//! ```ignore
//! let bound = bound::ReadBound::new(block_bytes);
//! let mut scan_s = Vec::new();
//! let mut bound_s = Vec::new();
//! for _ in 0..reps {
//!     scan_s.push(time_one_scan());
//!     bound_s.push(bound.pass());
//! }
//! // median(bound_s) → bound.bytes() / median / 1e9 GB/s, or rows / median for rows/s.
//! ```

use std::hint::black_box;
use std::time::Instant;

use nexus_simd::Level;

/// The width of a read-bound sum.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Width {
    Scalar,
    Avx2,
    Avx512,
}

impl Width {
    /// The sum for kernels running at `level` (on this CPU: a level the CPU cannot run is
    /// never `nexus_simd::level()`).
    fn at(level: Level) -> Width {
        match level {
            Level::Scalar => Width::Scalar,
            Level::Avx2 => Width::Avx2,
            _ => Width::Avx512,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Width::Scalar => "scalar",
            Width::Avx2 => "avx2",
            Width::Avx512 => "avx512",
        }
    }
}

/// A buffer of a fixed footprint whose read time is the bound.
pub(crate) struct ReadBound {
    buf: Vec<f32>,
}

impl ReadBound {
    /// A buffer of `bytes` bytes (rounded up to whole f32), every page written once so the
    /// first pass does not measure page faults.
    pub(crate) fn new(bytes: usize) -> Self {
        let buf = vec![1.0f32; bytes.div_ceil(4).max(1)];
        let bound = Self { buf };
        black_box(bound.sum(Width::at(Level::detect())));
        bound
    }

    /// The buffer's size in bytes.
    pub(crate) fn bytes(&self) -> usize {
        self.buf.len() * 4
    }

    /// One timed read of the whole buffer at the kernels' level, in seconds.
    pub(crate) fn pass(&self) -> f64 {
        self.pass_with(Width::at(nexus_simd::level()))
    }

    /// One timed read of the whole buffer with the widest sum this CPU has, in seconds (the
    /// same as [`Self::pass`] unless [`Self::capped`]).
    pub(crate) fn pass_widest(&self) -> f64 {
        self.pass_with(Width::at(Level::detect()))
    }

    /// Whether `NEXUS_SIMD` capped the kernels below this CPU's widest level, so that
    /// [`Self::pass`] and [`Self::pass_widest`] read with different widths.
    pub(crate) fn capped() -> bool {
        Width::at(nexus_simd::level()) != Width::at(Level::detect())
    }

    fn pass_with(&self, width: Width) -> f64 {
        let start = Instant::now();
        black_box(self.sum(width));
        start.elapsed().as_secs_f64()
    }

    /// The median over `reps` passes of the read bandwidth in bytes per second (for a bound
    /// measured on its own; interleave [`Self::pass`] with the scan when you can).
    #[allow(dead_code)] // Offered to suites with no scan loop to interleave with.
    pub(crate) fn bytes_per_sec(&self, reps: usize) -> f64 {
        let mut secs: Vec<f64> = (0..reps.max(1)).map(|_| self.pass()).collect();
        secs.sort_by(f64::total_cmp);
        self.bytes() as f64 / secs[secs.len() / 2]
    }

    /// Which SIMD width [`Self::pass`] reads with (for the suite's notes).
    pub(crate) fn backend() -> &'static str {
        Width::at(nexus_simd::level()).name()
    }

    /// Which SIMD width [`Self::pass_widest`] reads with.
    pub(crate) fn widest() -> &'static str {
        Width::at(Level::detect()).name()
    }

    fn sum(&self, width: Width) -> f32 {
        let buf = black_box(&self.buf[..]);
        #[cfg(target_arch = "x86_64")]
        {
            if width == Width::Avx512 && std::arch::is_x86_feature_detected!("avx512f") {
                // SAFETY: the CPU supports AVX-512F (checked just above).
                return unsafe { x86::sum_avx512(buf) };
            }
            if width != Width::Scalar && std::arch::is_x86_feature_detected!("avx2") {
                // SAFETY: the CPU supports AVX2 (checked just above).
                return unsafe { x86::sum_avx2(buf) };
            }
        }
        buf.iter().sum()
    }
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use std::arch::x86_64::*;

    /// Sum with 8 independent zmm accumulators: 512 bytes per iteration.
    ///
    /// # Safety
    /// The CPU must support AVX-512F.
    #[target_feature(enable = "avx512f")]
    pub(super) unsafe fn sum_avx512(buf: &[f32]) -> f32 {
        let mut acc = [_mm512_setzero_ps(); 8];
        let (chunks, tail) = buf.as_chunks::<128>();
        for c in chunks {
            for (k, a) in acc.iter_mut().enumerate() {
                // SAFETY: `c` is 128 readable f32 and k * 16 + 16 <= 128; loadu has no alignment
                // requirement.
                let v = unsafe { _mm512_loadu_ps(c.as_ptr().add(k * 16)) };
                *a = _mm512_add_ps(*a, v);
            }
        }
        let mut s = _mm512_setzero_ps();
        for a in acc {
            s = _mm512_add_ps(s, a);
        }
        _mm512_reduce_add_ps(s) + tail.iter().sum::<f32>()
    }

    /// Sum with 8 independent ymm accumulators: 256 bytes per iteration.
    ///
    /// # Safety
    /// The CPU must support AVX2.
    #[target_feature(enable = "avx2")]
    pub(super) unsafe fn sum_avx2(buf: &[f32]) -> f32 {
        let mut acc = [_mm256_setzero_ps(); 8];
        let (chunks, tail) = buf.as_chunks::<64>();
        for c in chunks {
            for (k, a) in acc.iter_mut().enumerate() {
                // SAFETY: `c` is 64 readable f32 and k * 8 + 8 <= 64; loadu has no alignment
                // requirement.
                let v = unsafe { _mm256_loadu_ps(c.as_ptr().add(k * 8)) };
                *a = _mm256_add_ps(*a, v);
            }
        }
        let mut s = _mm256_setzero_ps();
        for a in acc {
            s = _mm256_add_ps(s, a);
        }
        let mut lanes = [0.0f32; 8];
        // SAFETY: `lanes` is 8 writable f32; storeu has no alignment requirement.
        unsafe { _mm256_storeu_ps(lanes.as_mut_ptr(), s) };
        lanes.iter().sum::<f32>() + tail.iter().sum::<f32>()
    }
}
