//! Distance kernels for Memory Nexus: f32 dot / cosine / squared L2, i8 dot, binary Hamming and
//! bit-plane kernels, each one-to-one and one-to-many, with runtime CPU dispatch.
//!
//! This is the bottom layer: every scan, index and rerank above it spends its time here. It
//! knows nothing of indexes, codes or storage; it only scores slices. It is not a BLAS: there
//! is no general matrix product, only the scoring shapes a vector search needs.
//!
//! # Example
//!
//! ```
//! let a = [1.0f32, 2.0, 3.0];
//! let b = [4.0f32, 5.0, 6.0];
//! assert_eq!(nexus_simd::dot(&a, &b), 32.0);
//!
//! // One query against a row-major block of two rows.
//! let block = [1.0f32, 0.0, 0.0, 0.0, 1.0, 0.0];
//! let mut out = [0.0f32; 2];
//! nexus_simd::dot_one_to_many(&a, &block, &mut out);
//! assert_eq!(out, [1.0, 2.0]);
//!
//! // Binary codes: one 64-bit word each.
//! assert_eq!(nexus_simd::hamming(&[0b1011], &[0b0001]), 2);
//!
//! let mut v = [3.0f32, 4.0];
//! assert_eq!(nexus_simd::normalize(&mut v), Ok(5.0));
//! assert_eq!(v, [0.6, 0.8]);
//! ```
//!
//! # Dispatch
//! On first use each kernel is bound once to a function pointer of the widest level the CPU
//! supports and the kernel benefits from ([`Level`]); later calls are one indirect call.
//! `NEXUS_SIMD=scalar|avx2|avx512` caps the level (to test or benchmark every path on one
//! machine). An unknown or unsupported value is reported on stderr and by [`requested_level`],
//! and the dispatcher falls back to the detected level — never undefined behaviour.
//!
//! ## Which level each kernel uses, and why
//! Every kernel runs at the widest level available ([`kernel_levels`] lists them), chosen from
//! the `kernels` bench suite run at both levels on the same Zen 4 machine (`NEXUS_SIMD=avx2`
//! against the default; figures in `docs/ARCHITECTURE.md`):
//! - Hamming and bit-plane kernels: AVX-512 (`VPOPCNTDQ`, one vector popcount per 64 bytes)
//!   scanned 1024-bit codes 3.7× as fast as AVX2's scalar `popcnt` loop (301 vs 81 Mcodes/s).
//! - i8 kernels: AVX-512 VNNI (`VPDPBUSD`, 64 products per instruction) against AVX2's
//!   sign-extend + `vpmaddwd`: 55.5 vs 42.1 Mscores/s over 100k × 384 codes.
//! - f32 one-to-many scans are memory-bound, so width barely matters (on Zen 4 512-bit FMAs
//!   are split in two 256-bit halves anyway): what mattered was reading rows in memory order
//!   with no per-group overhead. Both levels then reach 0.98–1.0 of the DRAM read bound, within
//!   noise of each other; AVX-512 is kept for the Xeon case below.
//! - f32 one-to-one: AVX-512 15.7 ns vs AVX2 16.6 ns per 384-d dot (L1-resident, best of 30
//!   on Zen 4); many-to-many within noise. On the Intel Xeons we target (Ice Lake-SP /
//!   Sapphire Rapids: two 512-bit FMA ports, no heavy frequency licence for FMA-only code)
//!   AVX-512 doubles the FMA throughput, so it is the default there too.
//!
//! An Intel Xeon without VNNI or VPOPCNTDQ (Skylake-SP, Cascade Lake) runs the AVX2 backend.
//! (The AVX2 figures above predate the AVX2 work below.)
//!
//! ## The AVX2 level (most AMD before Zen 4, most Intel client CPUs)
//! Measured with the `kernels` suite at `NEXUS_SIMD=avx2` on an AVX-512 Zen 5 host (2-core
//! AMD EPYC VM, 2026-12-04; its `bound` reads with AVX-512), medians of interleaved
//! repetitions, ratios from the same run, 6–12 runs on a shared, noisy host:
//! - Hamming one-to-many: no vector popcount, so the work is split between the nibble-table
//!   popcount (`vpshufb` + `vpsadbw`, three vectors at a time through a Harley–Seal adder, the
//!   query in registers) on the vector ports and scalar `popcnt` on the integer ports, which run
//!   at the same time: for 384-bit codes four of every six codes go to the vector ports and two
//!   to `popcnt`; for other fixed lengths the last four words of each code go to `popcnt` (loaded
//!   and XORed on the integer ports: on Zen 4, 1.2–1.3× faster on 1024-bit codes than XORing them
//!   in a vector register and reading them back from the stack). 384-bit codes: 0.53–0.55 of the
//!   read bound, 1.31–1.44 Gcodes/s (was 0.26 originally, 0.46–0.50 in the same runs before this
//!   form); 1024-bit codes: 0.67–0.77 of the bound, 440–500 Mcodes/s, in runs where the 12.8 MB
//!   of codes stay in L3 (0.36–0.46 where a neighbour evicts them). Both short of 0.8: the bound
//!   reads L3 with AVX-512 at ≈ 120 GB/s and these kernels are compute-bound (same speed on
//!   L1-resident codes). The AVX-512 `VPOPCNTDQ` kernel measures 0.46–0.51 on 384-bit codes.
//! - i8 one-to-many: four rows per pass, `vpmaddubsw` with the sign trick (exact when the query
//!   holds no −128, as symmetric int8 codes never do; otherwise widened to i16), rows
//!   prefetched 16 KiB ahead: 98–155 Mscores/s over 100k × 384 codes, 6–12× the scalar path
//!   (was 59–60, 2.9–5.2×). f32 × i8 one-to-many prefetches the same way but stays row by
//!   row with the one-to-one kernel: nexus-quant expects its scores bit for bit equal to
//!   [`dot_f32_i8`]'s (a four-row form summed in another order and broke that).
//! - f32 one-to-many: on Zen 5, rows prefetched 4 KiB ahead (`prefetcht0`), which its hardware
//!   prefetchers did not do by themselves: 1.07–1.2 of the read bound when the bound itself was
//!   undisturbed (33–37 GB/s), 33–40 GB/s in absolute terms (was 0.88–0.95 of a bound of
//!   16–18 GB/s, 15.5–16.1 GB/s). Like every DRAM row on this host, some runs halve (≈ 20 GB/s).
//!   On Zen 4 the same prefetch made the scan slower (0.73 of the bound against 0.83 without at
//!   this level, median of 5), while one hint per 4 KiB page, 8 KiB ahead, made it faster
//!   (26.0–27.0 GB/s against 18.0–22.3 without, 1.08 of the bound, median of 5): the hardware
//!   prefetchers stop at page boundaries. So how the scans prefetch is chosen per CPU family
//!   ([`scan_prefetch`]).
//!
//! ## Other architectures
//! Only x86_64 has SIMD backends. No aarch64 target is installed where this was built, so a
//! NEON path could be neither built nor tested; aarch64 (and everything else) runs the scalar
//! kernels, which use 8 independent accumulators that the compiler vectorises to the baseline
//! instruction set. A NEON backend is future work.
//!
//! # Hard limits
//! - Float kernels accumulate in f32 (see the tolerances in `tests/`); `normalize` and the final
//!   cosine division work in f64.
//! - `dot_i8` accumulates in wrapping i32: exact for any length below 131 072 (|a·b| ≤ 2^14).
//! - Bit-plane kernels take at most 16 planes and wrap in u32.
//!
//! # Panics
//! Mismatched lengths are a caller bug: every kernel checks them (before any `unsafe` code)
//! and panics with a message.

#![deny(missing_docs)]
#![deny(unsafe_op_in_unsafe_fn)]
#![doc(test(attr(deny(warnings))))]

mod arch;
mod dispatch;
mod error;
mod level;
mod scalar;

pub use error::Error;

/// The largest magnitude of an input value that the layers above accept (nexus-quant's codes,
/// nexus-index's vectors and queries, the engine's dot / L2 stores). Real embeddings are many
/// orders of magnitude smaller; the limit keeps every intermediate result finite: an f32 inner
/// product over 65,536 dimensions of such values is at most 6.6·10³⁴, below `f32::MAX`.
pub const MAX_ABS: f32 = 1e15;

/// Whether every value of `v` is finite and at most [`MAX_ABS`] in magnitude: the check the
/// layers above run on every caller-supplied vector before they look for the value at fault.
///
/// One pass without an early exit, so that it vectorizes (a NaN fails the `<=` too): about
/// 16 M vectors of 384 values a second on one core, against 2.8 M for two `position` scans
/// (`is_finite`, then the magnitude), which held `encode_batch` up.
///
/// ```
/// use nexus_simd::{MAX_ABS, within_max_abs};
/// assert!(within_max_abs(&[0.5, -MAX_ABS, MAX_ABS]));
/// assert!(!within_max_abs(&[0.5, f32::NAN]));
/// assert!(!within_max_abs(&[f32::INFINITY]));
/// assert!(!within_max_abs(&[2.0 * MAX_ABS]));
/// ```
pub fn within_max_abs(v: &[f32]) -> bool {
    let (chunks, tail) = v.as_chunks::<16>();
    let mut ok = true;
    for c in chunks {
        ok &= c.iter().fold(true, |all, x| all & (x.abs() <= MAX_ABS));
    }
    ok && tail.iter().all(|x| x.abs() <= MAX_ABS)
}

pub use level::{ENV_VAR, Level};

use dispatch::kernels;

/// Per-level kernel tables, for this crate's tests and benches. **Not a stable API**: it may
/// change in any release.
#[doc(hidden)]
pub mod __levels {
    use crate::Level;
    pub use crate::dispatch::Kernels;

    /// The table of one level, or `None` if this CPU cannot run it. The pointers do not check
    /// lengths (they stay in bounds, but return meaningless values on a mismatch).
    pub fn kernels(level: Level) -> Option<Kernels> {
        crate::dispatch::table(level)
    }

    /// The levels this CPU can run, narrowest first.
    pub fn supported() -> Vec<Level> {
        Level::ALL
            .into_iter()
            .filter(|l| l.is_supported())
            .collect()
    }
}

/// The level cap in force: the widest level the CPU supports, or the `NEXUS_SIMD` cap.
pub fn level() -> Level {
    dispatch::cap()
}

/// The name of [`level`] (`"scalar"`, `"avx2"` or `"avx512"`).
pub fn backend() -> &'static str {
    level().as_str()
}

/// The level each kernel actually runs at (a kernel may use a narrower level than [`level`]
/// when that measured faster; see the crate's ARCHITECTURE notes).
pub fn kernel_levels() -> &'static [(&'static str, Level)] {
    dispatch::chosen()
}

/// How the f32 one-to-many scans (`dot_one_to_many`, `l2_squared_one_to_many`) prefetch the
/// rows ahead of those they read, as [`scan_prefetch`] reports it. Chosen once per CPU by what
/// measured fastest; the scores are the same bit for bit whichever way.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ScanPrefetch {
    /// No software prefetch (the scalar kernels).
    None,
    /// Every line, 4 KiB ahead (`prefetcht0`): on CPUs whose hardware prefetchers fall behind a
    /// scan (measured on Zen 5), and where nothing else was measured.
    Lines,
    /// The first line of each 4 KiB page, 8 KiB ahead: on AMD family 19h (measured on Zen 4),
    /// whose hardware prefetchers keep up within a page but stop at its end.
    Pages,
}

impl ScanPrefetch {
    /// `"none"`, `"lines"` or `"pages"`.
    pub fn as_str(self) -> &'static str {
        match self {
            ScanPrefetch::None => "none",
            ScanPrefetch::Lines => "lines",
            ScanPrefetch::Pages => "pages",
        }
    }
}

impl std::fmt::Display for ScanPrefetch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How the f32 one-to-many scans prefetch on this CPU (see [`ScanPrefetch`]): chosen once per
/// CPU family by what measured faster. [`ScanPrefetch::None`] where the scans run the scalar
/// kernel (no SIMD backend, or `NEXUS_SIMD` capped at `scalar`). Benchmarks print it with the
/// level.
///
/// ```
/// let way = nexus_simd::scan_prefetch();
/// if nexus_simd::level() == nexus_simd::Level::Scalar {
///     assert_eq!(way, nexus_simd::ScanPrefetch::None);
/// }
/// println!("f32 scans prefetch: {way}");
/// ```
pub fn scan_prefetch() -> ScanPrefetch {
    #[cfg(target_arch = "x86_64")]
    {
        let simd = kernel_levels()
            .iter()
            .any(|&(k, l)| k == "dot_one_to_many" && l != Level::Scalar);
        if simd {
            arch::x86_64::scan_prefetch()
        } else {
            ScanPrefetch::None
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        ScanPrefetch::None
    }
}

/// What `NEXUS_SIMD` asks for: `Ok(None)` if it is unset or empty, the level if this CPU can
/// run it, otherwise [`Error::UnknownLevel`] or [`Error::UnsupportedLevel`].
///
/// # Errors
/// As above; the dispatcher itself never fails (it warns on stderr and uses the detected level).
pub fn requested_level() -> Result<Option<Level>, Error> {
    let value = std::env::var(ENV_VAR).ok();
    level::parse_request(value.as_deref())
}

#[track_caller]
fn check_len(a: usize, b: usize) {
    assert_eq!(a, b, "nexus-simd: slices of different lengths ({a} vs {b})");
}

#[track_caller]
fn check_block(row_len: usize, block: usize, out: usize) {
    assert_eq!(
        Some(block),
        row_len.checked_mul(out),
        "nexus-simd: a block of {block} values is not {out} rows of {row_len}"
    );
}

const MAX_PLANES: usize = 16;

/// Σ a·b.
///
/// # Panics
/// If the lengths differ.
#[inline]
pub fn dot(a: &[f32], b: &[f32]) -> f32 {
    check_len(a.len(), b.len());
    (kernels().dot)(a, b)
}

/// Cosine similarity a·b / (‖a‖·‖b‖); `0.0` if either norm is 0.
///
/// # Panics
/// If the lengths differ.
#[inline]
pub fn cosine(a: &[f32], b: &[f32]) -> f32 {
    check_len(a.len(), b.len());
    scalar::cosine_from((kernels().dot_norms)(a, b))
}

/// Σ (a−b)².
///
/// # Panics
/// If the lengths differ.
#[inline]
pub fn l2_squared(a: &[f32], b: &[f32]) -> f32 {
    check_len(a.len(), b.len());
    (kernels().l2_squared)(a, b)
}

/// Scales `v` to unit L2 norm in place and returns its former norm.
///
/// The norm is computed in f64, so neither large magnitudes (whose squares overflow f32) nor
/// denormals (whose squares underflow) are lost. A norm above `f32::MAX` is returned as `inf`.
///
/// # Errors
/// [`Error::NonFinite`] if any value is NaN or infinite, [`Error::ZeroVector`] if every value
/// is 0 (including the empty vector). On error `v` is left untouched.
pub fn normalize(v: &mut [f32]) -> Result<f32, Error> {
    let mut sum = 0.0f64;
    for (index, &x) in v.iter().enumerate() {
        if !x.is_finite() {
            return Err(Error::NonFinite { index });
        }
        sum += f64::from(x) * f64::from(x);
    }
    if sum == 0.0 {
        return Err(Error::ZeroVector);
    }
    let norm = sum.sqrt();
    for x in v.iter_mut() {
        *x = (f64::from(*x) / norm) as f32;
    }
    Ok(norm as f32)
}

/// Dot product of `query` with each `query.len()`-long row of the row-major `block`:
/// `out[r] = dot(query, row r)`.
///
/// # Panics
/// If `block.len() != query.len() * out.len()`.
#[inline]
pub fn dot_one_to_many(query: &[f32], block: &[f32], out: &mut [f32]) {
    check_block(query.len(), block.len(), out.len());
    if query.is_empty() {
        out.fill(0.0);
        return;
    }
    (kernels().dot_one_to_many)(query, block, out);
}

/// How many rows ahead [`dot_gather`] and [`l2_squared_gather`] prefetch.
const GATHER_AHEAD: usize = 4;

/// Hints the CPU to bring `row` into cache (a no-op off x86_64).
#[inline(always)]
fn prefetch_row(row: &[f32]) {
    #[cfg(target_arch = "x86_64")]
    for line in (0..row.len()).step_by(16) {
        // `wrapping_add` keeps the address computation free of UB; it stays inside `row`.
        let p = row.as_ptr().wrapping_add(line).cast::<i8>();
        // SAFETY: a prefetch is a hint: it never faults and has no architectural effect,
        // whatever the address; `p` points into `row` anyway.
        unsafe { std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(p) };
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = row;
}

fn gather(
    query: &[f32],
    block: &[f32],
    rows: &[u32],
    out: &mut [f32],
    kernel: fn(&[f32], &[f32]) -> f32,
) {
    assert_eq!(
        rows.len(),
        out.len(),
        "nexus-simd: {} rows, {} outputs",
        rows.len(),
        out.len()
    );
    let dim = query.len();
    if dim == 0 {
        out.fill(0.0);
        return;
    }
    assert!(
        block.len().is_multiple_of(dim),
        "nexus-simd: a block of {} values is not rows of {dim}",
        block.len()
    );
    let n = block.len() / dim;
    if let Some(&bad) = rows.iter().find(|&&r| r as usize >= n) {
        panic!("nexus-simd: row {bad} of a block of {n} rows");
    }
    let row = |r: u32| &block[r as usize * dim..(r as usize + 1) * dim];
    for &r in rows.iter().take(GATHER_AHEAD) {
        prefetch_row(row(r));
    }
    for (i, (&r, o)) in rows.iter().zip(out.iter_mut()).enumerate() {
        if let Some(&ahead) = rows.get(i + GATHER_AHEAD) {
            prefetch_row(row(ahead));
        }
        *o = kernel(query, row(r));
    }
}

/// Dot product of `query` with the rows `rows` (row numbers, any order) of the row-major
/// `block`: `out[i] = dot(query, row rows[i])`. Rows are prefetched a few ahead, so scattered
/// rows — the matches of a filter — are read with overlapping cache misses.
///
/// # Panics
/// If `rows.len() != out.len()`, `block` is not whole rows of `query.len()`, or a row number
/// is out of range.
pub fn dot_gather(query: &[f32], block: &[f32], rows: &[u32], out: &mut [f32]) {
    gather(query, block, rows, out, kernels().dot);
}

/// Squared L2 distance of `query` to the rows `rows` of `block`, as [`dot_gather`].
///
/// # Panics
/// As [`dot_gather`].
pub fn l2_squared_gather(query: &[f32], block: &[f32], rows: &[u32], out: &mut [f32]) {
    gather(query, block, rows, out, kernels().l2_squared);
}

/// Squared L2 distance of `query` to each `query.len()`-long row of the row-major `block`.
///
/// # Panics
/// If `block.len() != query.len() * out.len()`.
#[inline]
pub fn l2_squared_one_to_many(query: &[f32], block: &[f32], out: &mut [f32]) {
    check_block(query.len(), block.len(), out.len());
    if query.is_empty() {
        out.fill(0.0);
        return;
    }
    (kernels().l2_squared_one_to_many)(query, block, out);
}

/// Every query against every row: `out[q * n_rows + r] = dot(query q, row r)`, where the
/// `queries` and the `block` are row-major with rows of `dim` values and
/// `n_rows = block.len() / dim`. Register-blocked: each loaded row is reused across several
/// queries, so it is several times faster than one [`dot_one_to_many`] per query.
///
/// # Panics
/// If `dim == 0`, if `queries.len()` or `block.len()` is not a multiple of `dim`, or if
/// `out.len() != (queries.len() / dim) * (block.len() / dim)`.
#[inline]
pub fn dot_many_to_many(queries: &[f32], block: &[f32], dim: usize, out: &mut [f32]) {
    assert!(dim > 0, "nexus-simd: dot_many_to_many with dim 0");
    assert!(
        queries.len().is_multiple_of(dim) && block.len().is_multiple_of(dim),
        "nexus-simd: {} query values and {} block values are not rows of {dim}",
        queries.len(),
        block.len()
    );
    let (n_q, n_rows) = (queries.len() / dim, block.len() / dim);
    assert_eq!(
        Some(out.len()),
        n_q.checked_mul(n_rows),
        "nexus-simd: out holds {} scores, not {n_q} queries × {n_rows} rows",
        out.len()
    );
    if n_q == 0 || n_rows == 0 {
        return;
    }
    (kernels().dot_many_to_many)(queries, block, dim, out);
}

/// Σ a·b over i8, accumulated in wrapping i32 (exact for lengths below 131 072).
///
/// # Panics
/// If the lengths differ.
#[inline]
pub fn dot_i8(a: &[i8], b: &[i8]) -> i32 {
    check_len(a.len(), b.len());
    (kernels().dot_i8)(a, b)
}

/// [`dot_i8`] of `query` with each `query.len()`-long row of `block`.
///
/// # Panics
/// If `block.len() != query.len() * out.len()`.
#[inline]
pub fn dot_i8_one_to_many(query: &[i8], block: &[i8], out: &mut [i32]) {
    check_block(query.len(), block.len(), out.len());
    if query.is_empty() {
        out.fill(0);
        return;
    }
    (kernels().dot_i8_one_to_many)(query, block, out);
}

/// `Σ query[i]·code[i]` with an f32 query and i8 codes. A per-vector or per-dimension scale is
/// the caller's to fold into the query beforehand (`query[i] * scale[i]`), so the kernel is one
/// multiply-add per value.
///
/// # Panics
/// If the lengths differ.
#[inline]
pub fn dot_f32_i8(query: &[f32], code: &[i8]) -> f32 {
    check_len(query.len(), code.len());
    (kernels().dot_f32_i8)(query, code)
}

/// [`dot_f32_i8`] of `query` with each `query.len()`-long i8 row of `block`.
///
/// # Panics
/// If `block.len() != query.len() * out.len()`.
#[inline]
pub fn dot_f32_i8_one_to_many(query: &[f32], block: &[i8], out: &mut [f32]) {
    check_block(query.len(), block.len(), out.len());
    if query.is_empty() {
        out.fill(0.0);
        return;
    }
    (kernels().dot_f32_i8_one_to_many)(query, block, out);
}

/// Number of differing bits between two packed codes.
///
/// # Panics
/// If the lengths differ.
#[inline]
pub fn hamming(a: &[u64], b: &[u64]) -> u32 {
    check_len(a.len(), b.len());
    (kernels().hamming)(a, b)
}

/// [`hamming`] of `query` with each `query.len()`-word code of `codes`.
///
/// # Panics
/// If `codes.len() != query.len() * out.len()`.
#[inline]
pub fn hamming_one_to_many(query: &[u64], codes: &[u64], out: &mut [u32]) {
    check_block(query.len(), codes.len(), out.len());
    if query.is_empty() {
        out.fill(0);
        return;
    }
    (kernels().hamming_one_to_many)(query, codes, out);
}

/// The asymmetric binary kernel: Σ_j 2^j · popcount(plane_j & code), where `planes` holds
/// B = `planes.len() / code.len()` bit planes of `code.len()` words each (plane 0 = least
/// significant bit of the quantized query). This is ⟨q, c⟩ for a B-bit query q and a 1-bit code.
///
/// # Panics
/// If `planes.len()` is not a multiple of `code.len()` (an empty `code` needs empty `planes`),
/// or if there are more than 16 planes.
#[inline]
pub fn and_popcount_planes(planes: &[u64], code: &[u64]) -> u32 {
    if code.is_empty() {
        assert!(
            planes.is_empty(),
            "nexus-simd: {} plane words for an empty code",
            planes.len()
        );
        return 0;
    }
    assert!(
        planes.len().is_multiple_of(code.len()) && planes.len() / code.len() <= MAX_PLANES,
        "nexus-simd: {} plane words are not at most {MAX_PLANES} planes of {} words",
        planes.len(),
        code.len()
    );
    (kernels().and_popcount_planes)(planes, code)
}

/// [`and_popcount_planes`] of one `bits`-plane query with each code of `codes`; each code has
/// `planes.len() / bits` words.
///
/// # Panics
/// If `bits` is 0 or above 16, if `planes.len()` is not a multiple of `bits`, or if
/// `codes.len() != (planes.len() / bits) * out.len()`.
#[inline]
pub fn and_popcount_planes_one_to_many(
    planes: &[u64],
    bits: usize,
    codes: &[u64],
    out: &mut [u32],
) {
    assert!(
        (1..=MAX_PLANES).contains(&bits) && planes.len().is_multiple_of(bits),
        "nexus-simd: {} plane words are not {bits} planes (1..=16)",
        planes.len()
    );
    let words = planes.len() / bits;
    check_block(words, codes.len(), out.len());
    if words == 0 {
        out.fill(0);
        return;
    }
    (kernels().and_popcount_planes_one_to_many)(planes, bits, codes, out);
}

/// `Σ query[i]` over the set bits i of a 1-bit `code` (bit i is bit `i % 64` of word `i / 64`);
/// bits at or beyond `query.len()` are ignored.
///
/// # Panics
/// If `code.len() != query.len().div_ceil(64)`.
#[inline]
pub fn dot_f32_bits(query: &[f32], code: &[u64]) -> f32 {
    check_len(query.len().div_ceil(64), code.len());
    (kernels().dot_f32_bits)(query, code)
}

/// [`dot_f32_bits`] of `query` with each `query.len().div_ceil(64)`-word code of `codes`.
///
/// # Panics
/// If `codes.len() != query.len().div_ceil(64) * out.len()`.
#[inline]
pub fn dot_f32_bits_one_to_many(query: &[f32], codes: &[u64], out: &mut [f32]) {
    let words = query.len().div_ceil(64);
    check_block(words, codes.len(), out.len());
    if words == 0 {
        out.fill(0.0);
        return;
    }
    (kernels().dot_f32_bits_one_to_many)(query, codes, out);
}
