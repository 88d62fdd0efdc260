//! The f32 kernels that both x86_64 backends share, written once over a small vector trait
//! (as memchr's `Vector`): one-to-one dot / squared L2 / dot-and-norms, the one-to-many scan
//! (four rows per pass in memory order, prefetched ahead) and the register-blocked
//! many-to-many tiles. `avx2.rs` implements [`F32Vector`] for `__m256`, `avx512.rs` for
//! `__m512`; each backend's `#[target_feature]` entry points call the skeletons here.
//!
//! Everything here is `#[inline(always)] unsafe fn` without a `#[target_feature]` of its own:
//! it is inlined into the entry point, which has the features, and its `# Safety` contract is
//! that the CPU supports the features of the vector type (what [`F32Vector`] promises).

use std::arch::x86_64::*;

/// One SIMD vector of f32 lanes.
///
/// # Safety
/// Every `unsafe` method may only be called on a CPU that supports the instructions the
/// implementation uses (AVX2 + FMA for `__m256`, AVX-512 F for `__m512`); each backend's
/// `table()` checks that before it hands out a kernel built on them.
pub(super) trait F32Vector: Copy {
    /// f32 lanes in a vector.
    const LANES: usize;
    /// `[f32; LANES]`.
    type Chunk;
    /// The whole vectors of `s`, and the rest.
    fn chunks(s: &[f32]) -> (&[Self::Chunk], &[f32]);
    unsafe fn zero() -> Self;
    unsafe fn load(c: &Self::Chunk) -> Self;
    /// The first `min(t.len(), LANES)` values of `t`, zeros after.
    ///
    unsafe fn load_tail(t: &[f32]) -> Self;
    unsafe fn add(self, b: Self) -> Self;
    unsafe fn sub(self, b: Self) -> Self;
    /// `self · b + acc`, fused.
    ///
    unsafe fn mul_add(self, b: Self, acc: Self) -> Self;
    /// The sum of the lanes.
    ///
    unsafe fn sum(self) -> f32;
    /// The sums of four vectors, as the four lanes of one `__m128`.
    ///
    unsafe fn sum4(a: Self, b: Self, c: Self, d: Self) -> __m128;
}

/// A backend's [`F32Vector`] impl and its `#[target_feature]` f32 entry points (`dot_or_l2`,
/// `dot_norms`, `one_to_many`, `dot_many_to_many`, as the backend table names them), from the
/// vector type, its lane count, the features the entry points enable, and the intrinsics or
/// helpers each trait method maps to. `tile` is the number of queries per many-to-many tile
/// (4 × `tile` accumulators must fit the register file with the rows and a query).
macro_rules! f32_backend {
    (
        $v:ty, $lanes:literal, $features:literal, tile: $nq:literal, prefetch: $pf:expr,
        zero: $zero:path, load: $load:path, load_tail: $load_tail:path, add: $add:path,
        sub: $sub:path, mul_add: $fma:path, sum: $sum:path, sum4: $sum4:path $(,)?
    ) => {
        /// The `F32Vector` methods need the features of the entry points below.
        impl $crate::arch::x86_64::vector::F32Vector for $v {
            const LANES: usize = $lanes;
            type Chunk = [f32; $lanes];
            #[inline(always)]
            fn chunks(s: &[f32]) -> (&[[f32; $lanes]], &[f32]) {
                s.as_chunks::<$lanes>()
            }
            #[inline(always)]
            unsafe fn zero() -> Self {
                // SAFETY: the CPU has the features (the trait's contract); no memory is touched.
                unsafe { $zero() }
            }
            #[inline(always)]
            unsafe fn load(c: &[f32; $lanes]) -> Self {
                // SAFETY: the CPU has the features (the trait's contract); the helper loads
                // from a fixed-size array.
                unsafe { $load(c) }
            }
            #[inline(always)]
            unsafe fn load_tail(t: &[f32]) -> Self {
                // SAFETY: the CPU has the features (the trait's contract); the helper masks the
                // load to `t`'s length.
                unsafe { $load_tail(t) }
            }
            #[inline(always)]
            unsafe fn add(self, b: Self) -> Self {
                // SAFETY: the CPU has the features (the trait's contract); no memory is touched.
                unsafe { $add(self, b) }
            }
            #[inline(always)]
            unsafe fn sub(self, b: Self) -> Self {
                // SAFETY: the CPU has the features (the trait's contract); no memory is touched.
                unsafe { $sub(self, b) }
            }
            #[inline(always)]
            unsafe fn mul_add(self, b: Self, acc: Self) -> Self {
                // SAFETY: the CPU has the features (the trait's contract); no memory is touched.
                unsafe { $fma(self, b, acc) }
            }
            #[inline(always)]
            unsafe fn sum(self) -> f32 {
                // SAFETY: the CPU has the features (the trait's contract); no memory is touched.
                unsafe { $sum(self) }
            }
            #[inline(always)]
            unsafe fn sum4(a: Self, b: Self, c: Self, d: Self) -> __m128 {
                // SAFETY: the CPU has the features (the trait's contract); no memory is touched.
                unsafe { $sum4(a, b, c, d) }
            }
        }

        #[target_feature(enable = $features)]
        fn dot_or_l2<const L2: bool>(a: &[f32], b: &[f32]) -> f32 {
            // SAFETY: the features are enabled on this function, so on the CPU running it.
            unsafe { $crate::arch::x86_64::vector::dot_or_l2::<$v, L2>(a, b) }
        }

        #[target_feature(enable = $features)]
        fn dot_norms(a: &[f32], b: &[f32]) -> (f32, f32, f32) {
            // SAFETY: as for `dot_or_l2`.
            unsafe { $crate::arch::x86_64::vector::dot_norms::<$v>(a, b) }
        }

        #[target_feature(enable = $features)]
        fn one_to_many<const L2: bool, const PF: u8>(
            query: &[f32],
            block: &[f32],
            out: &mut [f32],
        ) {
            // SAFETY: as for `dot_or_l2`.
            unsafe { $crate::arch::x86_64::vector::one_to_many::<$v, L2, PF>(query, block, out) }
        }

        #[target_feature(enable = $features)]
        fn dot_many_to_many(queries: &[f32], block: &[f32], dim: usize, out: &mut [f32]) {
            // SAFETY: as for `dot_or_l2`.
            unsafe {
                $crate::arch::x86_64::vector::dot_many_to_many::<$v, $nq, { $pf }>(
                    queries, block, dim, out,
                )
            }
        }
    };
}

// ---- prefetch -------------------------------------------------------------------------------

/// How far ahead of the rows being read the f32 one-to-many scans prefetch, and how, on the
/// CPUs where they prefetch at all (see [`super::scan_prefetch`]). A scan outruns the hardware
/// prefetchers on Zen 5 (measured at `NEXUS_SIMD=avx2`, 100k × 384 f32 rows, ratios to the
/// plain read bound): no prefetch 0.85–0.93; `prefetchnta` 4 KiB ahead 1.18–1.28, 8 KiB
/// 1.08–1.19, 16 KiB 1.06–1.14; `prefetcht0` 4 KiB 1.23–1.26, 8 KiB 1.10–1.21.
pub(super) const PREFETCH_F32_BYTES: usize = 4 * 1024;
pub(super) const PREFETCH_F32_HINT: i32 = _MM_HINT_T0;

/// The `PF` parameter of the f32 [`one_to_many`] scan: no software prefetch.
pub(super) const PF_NONE: u8 = 0;
/// `PF`: every line [`PREFETCH_F32_BYTES`] ahead.
pub(super) const PF_LINES: u8 = 1;
/// `PF`: the first line of each 4 KiB page [`PREFETCH_PAGE_BYTES`] ahead (see there).
pub(super) const PF_PAGES: u8 = 2;

/// How far ahead a [`PF_PAGES`] scan touches the next pages. The hardware prefetchers stop at
/// 4 KiB page boundaries, so a linear scan that does not prefetch starts every page cold (a
/// TLB walk, then a stream to train again); one hint per page, ahead, starts both early for
/// the cost of one instruction per 4 KiB. Measured on Zen 4 (100k × 384 f32 rows at
/// `NEXUS_SIMD=avx2`, ratios to the plain read bound, interleaved, 3 runs): none 0.79–0.81,
/// every line 4 KiB ahead 0.67; one line a page 4 KiB ahead 0.92–0.96, 8 KiB 0.95–0.97,
/// 16 KiB 0.93–0.99, 32 KiB 0.92–0.99; `prefetchnta` 8 KiB 0.91–0.97, `prefetcht2` 0.87–0.91.
pub(super) const PREFETCH_PAGE_BYTES: usize = 8 * 1024;
/// The page size that [`PF_PAGES`] steps by (the smallest x86_64 page: larger ones only get
/// a few redundant hints).
const PAGE_BYTES: usize = 4096;

/// How far ahead the i8 one-to-many scans prefetch, and how (the f32 ones:
/// [`PREFETCH_F32_BYTES`]). i8 rows are read at a higher byte rate and so need a longer
/// lead (distance ≈ latency × bandwidth): on 100k × 384 i8 rows, `prefetchnta` 16 KiB ahead
/// measured 1.6–1.7 of the read bound, against 1.4 at 8 KiB, 1.2 with `prefetcht0` 4 KiB and
/// 0.8–0.9 with no prefetch.
pub(super) const PREFETCH_I8_BYTES: usize = 16 * 1024;
pub(super) const PREFETCH_I8_HINT: i32 = _MM_HINT_NTA;

/// Hints the line at `p` into the caches for a streaming read, with `_MM_HINT_T0` or
/// `_MM_HINT_NTA` (non-temporal: keeps the line out of the outer caches where it can).
///
/// # Safety
/// The CPU must support SSE (every x86_64 CPU does).
#[inline(always)]
pub(super) unsafe fn prefetch<const HINT: i32, T>(p: *const T) {
    // SAFETY: a prefetch is a hint: it never faults and changes no architectural state, so
    // any address will do (the callers compute theirs with wrapping arithmetic).
    unsafe { _mm_prefetch::<HINT>(p.cast()) }
}

/// For each group of `group` elements of a block of `len`, the offset to prefetch from while
/// reading it: `distance` elements on, clamped so that it never leaves the block (the last
/// groups then re-hint lines already read, instead of pulling in memory past the block).
pub(super) fn ahead_offsets(
    len: usize,
    group: usize,
    distance: usize,
) -> impl Iterator<Item = usize> {
    let last = len.saturating_sub(group);
    (0..).map(move |k: usize| (k * group + distance).min(last))
}

/// Hints the first line of every page that begins in `group`'s span moved
/// [`PREFETCH_PAGE_BYTES`] on, up to `end` (the block's end, not hinted past).
///
/// # Safety
/// The CPU must support SSE (every x86_64 CPU does).
#[inline(always)]
unsafe fn touch_pages_ahead(group: &[f32], end: usize) {
    let start = group.as_ptr().addr();
    let from = start + PREFETCH_PAGE_BYTES;
    let to = (from + size_of_val(group)).min(end);
    let mut page = from.next_multiple_of(PAGE_BYTES);
    while page < to {
        // SAFETY: SSE is available (this function's contract); the address is computed with
        // wrapping arithmetic and a prefetch never faults.
        unsafe { prefetch::<PREFETCH_F32_HINT, _>(group.as_ptr().wrapping_byte_add(page - start)) };
        page += PAGE_BYTES;
    }
}

/// How far ahead the binary one-to-many scans touch the pages they are about to read: one
/// hint a page ([`PageTouches`]), for the reason given at [`PREFETCH_PAGE_BYTES`]; they
/// compute so much per byte that the loads in flight alone do not reach the next page early.
/// They want it much further ahead than the f32 scans. Measured on Zen 4 at avx2 over codes
/// read from DRAM (128 MB; ratios to an AVX2 read of a buffer as large, interleaved; a probe
/// that hinted each page once, 16 KiB of codes at a time): 1024-bit codes 0.80–0.86 with no
/// hints, 0.84 at 32 KiB ahead, 0.88–0.93 at 64 KiB, 0.91–0.98 at 128 KiB, 0.93–1.00 at
/// 256 KiB, 1.00 at 512 KiB and 1 MiB; 384-bit codes 0.65–0.75, 0.74–0.78, 0.79–0.81,
/// 0.84–0.85, 0.85–0.88, 0.88, 0.90. Codes that stay in L2 or L3 gain nothing and pay the
/// countdown, 1–3 % (docs/ARCHITECTURE.md).
pub(super) const PREFETCH_BINARY_PAGE_BYTES: usize = 512 * 1024;

/// The page touches of one binary scan: before each run of groups about one 4 KiB page long,
/// [`touch_ahead`]. Once per run, not once per group, which for short codes would cost a few
/// instructions every few hundred bytes (measured −3 % on 384-bit codes in L2 and L3 at
/// avx2): a countdown, one decrement and branch a group.
pub(super) struct PageTouches {
    /// The block's end address (not hinted past).
    end: usize,
    /// Groups per run: a page's worth, at least one.
    per_run: usize,
    /// Groups left in the current run; 0 when the next group starts one.
    left: usize,
}

impl PageTouches {
    /// The touches for a scan of `codes` in groups of `group_bytes` bytes.
    #[inline(always)]
    pub(super) fn new(codes: &[u64], group_bytes: usize) -> Self {
        Self {
            end: codes.as_ptr_range().end.addr(),
            per_run: (PAGE_BYTES / group_bytes.max(1)).max(1),
            left: 0,
        }
    }

    /// Called before reading each group, `at` its first byte: touches ahead if a run begins.
    ///
    /// # Safety
    /// The CPU must support SSE (every x86_64 CPU does).
    #[inline(always)]
    pub(super) unsafe fn before<T>(&mut self, at: *const T) {
        if self.left == 0 {
            // SAFETY: SSE is available (this function's contract).
            unsafe { touch_ahead(at, self.end) };
            self.left = self.per_run;
        }
        self.left -= 1;
    }
}

/// Hints the first line of the page [`PREFETCH_BINARY_PAGE_BYTES`] after the one `at` is in
/// (or the last line before `end`, the block's end, not hinted past). Called by
/// [`PageTouches`] at the start of each run, it hints about one page in every page read
/// (groups longer than a page get one hint each). Nothing is read.
///
/// In `asm!` so that the address is computed only when a run starts: as Rust, LLVM computed it
/// for every group, ahead of the branch (five instructions a group, −3.5 % on 384-bit codes in
/// L2 at avx2).
///
/// # Safety
/// The CPU must support SSE (every x86_64 CPU does).
#[inline(always)]
unsafe fn touch_ahead<T>(at: *const T, end: usize) {
    // SAFETY: SSE is available (this function's contract); `prefetcht0` is a hint that never
    // faults and changes no architectural state, whatever the address; the block writes one
    // scratch register and the flags.
    unsafe {
        std::arch::asm!(
            "and {t}, {mask}",
            "add {t}, {ahead}",
            "cmp {t}, {last}",
            "cmova {t}, {last}",
            "prefetcht0 byte ptr [{t}]",
            t = inout(reg) at.addr() => _,
            last = in(reg) end.saturating_sub(1),
            mask = const !(PAGE_BYTES - 1),
            ahead = const PREFETCH_BINARY_PAGE_BYTES,
            options(nostack, nomem),
        );
    }
}

/// Stores four scores.
#[inline(always)]
fn store4(out: &mut [f32; 4], v: __m128) {
    // SAFETY: SSE is part of x86_64; `out` is 4 writable f32 and an unaligned store has no
    // alignment requirement.
    unsafe { _mm_storeu_ps(out.as_mut_ptr(), v) }
}

// ---- one-to-one -----------------------------------------------------------------------------

/// # Safety
/// The CPU supports `V` (see [`F32Vector`]).
#[inline(always)]
unsafe fn step<V: F32Vector, const L2: bool>(acc: V, x: V, y: V) -> V {
    // SAFETY: the CPU supports `V` (this function's contract).
    unsafe {
        if L2 {
            let d = x.sub(y);
            d.mul_add(d, acc)
        } else {
            x.mul_add(y, acc)
        }
    }
}

/// Σ over `a`, `b` of the dot / squared-difference terms, as unreduced lane sums. With `PF`
/// [`PF_LINES`], each four vectors of `b` read also prefetch as many bytes at `ahead` onwards
/// (other `PF` values prefetch nothing here).
///
/// # Safety
/// The CPU supports `V` (see [`F32Vector`]).
#[inline(always)]
unsafe fn lanes<V: F32Vector, const L2: bool, const PF: u8>(
    a: &[f32],
    b: &[f32],
    ahead: *const f32,
) -> V {
    let (ca, ta) = V::chunks(a);
    let (cb, tb) = V::chunks(b);
    let (ca4, ca) = ca.as_chunks::<4>();
    let (cb4, cb) = cb.as_chunks::<4>();
    // SAFETY: the CPU supports `V` (this function's contract); SSE (prefetch) is part of
    // x86_64, and a prefetch never faults.
    unsafe {
        let mut acc = [V::zero(); 4];
        for (i, (x, y)) in ca4.iter().zip(cb4).enumerate() {
            if PF == PF_LINES {
                let p = ahead.wrapping_add(4 * V::LANES * i);
                for line in 0..V::LANES / 4 {
                    prefetch::<PREFETCH_F32_HINT, _>(p.wrapping_add(16 * line));
                }
            }
            for k in 0..4 {
                acc[k] = step::<V, L2>(acc[k], V::load(&x[k]), V::load(&y[k]));
            }
        }
        for (k, (x, y)) in ca.iter().zip(cb).enumerate() {
            acc[k] = step::<V, L2>(acc[k], V::load(x), V::load(y));
        }
        if !ta.is_empty() {
            acc[3] = step::<V, L2>(acc[3], V::load_tail(ta), V::load_tail(tb));
        }
        acc[0].add(acc[1]).add(acc[2].add(acc[3]))
    }
}

/// Σ a·b, or Σ (a−b)² with `L2`.
///
/// # Safety
/// The CPU supports `V` (see [`F32Vector`]).
#[inline(always)]
pub(super) unsafe fn dot_or_l2<V: F32Vector, const L2: bool>(a: &[f32], b: &[f32]) -> f32 {
    // SAFETY: the CPU supports `V` (this function's contract).
    unsafe { lanes::<V, L2, PF_NONE>(a, b, std::ptr::null()).sum() }
}

/// (Σ a·b, Σ a², Σ b²) in one pass.
///
/// # Safety
/// The CPU supports `V` (see [`F32Vector`]).
#[inline(always)]
pub(super) unsafe fn dot_norms<V: F32Vector>(a: &[f32], b: &[f32]) -> (f32, f32, f32) {
    let (ca, ta) = V::chunks(a);
    let (cb, tb) = V::chunks(b);
    let (ca2, ca) = ca.as_chunks::<2>();
    let (cb2, cb) = cb.as_chunks::<2>();
    // SAFETY: the CPU supports `V` (this function's contract).
    unsafe {
        let z = V::zero();
        let (mut ab, mut aa, mut bb) = ([z; 2], [z; 2], [z; 2]);
        for (x, y) in ca2.iter().zip(cb2) {
            for k in 0..2 {
                let (x, y) = (V::load(&x[k]), V::load(&y[k]));
                ab[k] = x.mul_add(y, ab[k]);
                aa[k] = x.mul_add(x, aa[k]);
                bb[k] = y.mul_add(y, bb[k]);
            }
        }
        let mut tail = |x: V, y: V| {
            ab[1] = x.mul_add(y, ab[1]);
            aa[1] = x.mul_add(x, aa[1]);
            bb[1] = y.mul_add(y, bb[1]);
        };
        for (x, y) in ca.iter().zip(cb) {
            tail(V::load(x), V::load(y));
        }
        tail(V::load_tail(ta), V::load_tail(tb));
        (
            ab[0].add(ab[1]).sum(),
            aa[0].add(aa[1]).sum(),
            bb[0].add(bb[1]).sum(),
        )
    }
}

// ---- one-to-many ----------------------------------------------------------------------------

/// One query against each row of `block`: rows in memory order (one linear stream), four
/// rows' lane sums reduced together by one transpose-and-add tree. `PF` says how it
/// prefetches: [`PF_NONE`]; [`PF_LINES`], each row also the bytes [`PREFETCH_F32_BYTES`]
/// further on (clamped to the block); [`PF_PAGES`], each four rows the pages that begin
/// [`PREFETCH_PAGE_BYTES`] further on.
///
/// # Safety
/// The CPU supports `V` (see [`F32Vector`]).
#[inline(always)]
pub(super) unsafe fn one_to_many<V: F32Vector, const L2: bool, const PF: u8>(
    query: &[f32],
    block: &[f32],
    out: &mut [f32],
) {
    let dim = query.len().max(1);
    let groups = block.chunks_exact(4 * dim);
    let rest = groups.remainder();
    let ahead = ahead_offsets(block.len(), 4 * dim, PREFETCH_F32_BYTES / 4);
    let end = block.as_ptr_range().end.addr();
    let mut outs = out.chunks_exact_mut(4);
    // SAFETY: the CPU supports `V` (this function's contract); SSE (prefetch) is part of
    // x86_64.
    unsafe {
        for ((g, o), ahead) in groups.zip(&mut outs).zip(ahead) {
            if PF == PF_PAGES {
                touch_pages_ahead(g, end);
            }
            let ahead = block.as_ptr().wrapping_add(ahead);
            let (r0, g) = g.split_at(dim);
            let (r1, g) = g.split_at(dim);
            let (r2, r3) = g.split_at(dim);
            let s = V::sum4(
                lanes::<V, L2, PF>(query, r0, ahead),
                lanes::<V, L2, PF>(query, r1, ahead.wrapping_add(dim)),
                lanes::<V, L2, PF>(query, r2, ahead.wrapping_add(2 * dim)),
                lanes::<V, L2, PF>(query, r3, ahead.wrapping_add(3 * dim)),
            );
            store4(o.try_into().expect("chunks of 4"), s);
        }
        for (o, row) in outs.into_remainder().iter_mut().zip(rest.chunks_exact(dim)) {
            *o = dot_or_l2::<V, L2>(query, row);
        }
    }
}

/// An `NQ` queries × 4 rows tile: returns `scores[q]` as 4 lanes. All slices have one length.
///
/// # Safety
/// The CPU supports `V` (see [`F32Vector`]).
#[inline(always)]
unsafe fn tile<V: F32Vector, const NQ: usize>(qs: [&[f32]; NQ], rows: [&[f32]; 4]) -> [__m128; NQ] {
    let dim = rows[0].len();
    let n = dim / V::LANES;
    let qc = qs.map(|q| &V::chunks(q).0[..n]);
    let rc = rows.map(|r| &V::chunks(r).0[..n]);
    // SAFETY: the CPU supports `V` (this function's contract).
    unsafe {
        let mut acc = [[V::zero(); 4]; NQ];
        for i in 0..n {
            let x = [
                V::load(&rc[0][i]),
                V::load(&rc[1][i]),
                V::load(&rc[2][i]),
                V::load(&rc[3][i]),
            ];
            for (a, q) in acc.iter_mut().zip(&qc) {
                let y = V::load(&q[i]);
                for r in 0..4 {
                    a[r] = x[r].mul_add(y, a[r]);
                }
            }
        }
        if !dim.is_multiple_of(V::LANES) {
            let x = rows.map(|r| V::load_tail(&r[n * V::LANES..]));
            for (a, q) in acc.iter_mut().zip(&qs) {
                let y = V::load_tail(&q[n * V::LANES..]);
                for r in 0..4 {
                    a[r] = x[r].mul_add(y, a[r]);
                }
            }
        }
        acc.map(|a| V::sum4(a[0], a[1], a[2], a[3]))
    }
}

/// Every query against every row, `out[q * n_rows + r]`: `NQ` queries × 4 rows per tile, rows
/// in L2-sized blocks (~256 KiB) that every query visits, so the block is read from memory
/// once, not once per query.
///
/// # Safety
/// The CPU supports `V` (see [`F32Vector`]).
#[inline(always)]
pub(super) unsafe fn dot_many_to_many<V: F32Vector, const NQ: usize, const PF: u8>(
    queries: &[f32],
    block: &[f32],
    dim: usize,
    out: &mut [f32],
) {
    let dim = dim.max(1);
    let n_rows = block.len() / dim;
    let n_q = queries.len() / dim;
    let rows_per_block = ((256 * 1024) / (dim * 4)).max(4) & !3;
    let mut r0 = 0;
    // SAFETY: the CPU supports `V` (this function's contract).
    unsafe {
        while r0 < n_rows {
            let r_end = (r0 + rows_per_block).min(n_rows);
            let mut q = 0;
            while q + NQ <= n_q {
                let qs: [&[f32]; NQ] = std::array::from_fn(|i| &queries[(q + i) * dim..][..dim]);
                let mut r = r0;
                while r + 4 <= r_end {
                    let rows: [&[f32]; 4] = std::array::from_fn(|i| &block[(r + i) * dim..][..dim]);
                    let s = tile::<V, NQ>(qs, rows);
                    for (i, v) in s.into_iter().enumerate() {
                        let o = &mut out[(q + i) * n_rows + r..][..4];
                        store4(o.try_into().expect("4 scores"), v);
                    }
                    r += 4;
                }
                for r in r..r_end {
                    let row = &block[r * dim..][..dim];
                    for (i, qv) in qs.iter().enumerate() {
                        out[(q + i) * n_rows + r] = dot_or_l2::<V, false>(qv, row);
                    }
                }
                q += NQ;
            }
            for q in q..n_q {
                let qv = &queries[q * dim..][..dim];
                one_to_many::<V, false, PF>(
                    qv,
                    &block[r0 * dim..r_end * dim],
                    &mut out[q * n_rows + r0..q * n_rows + r_end],
                );
            }
            r0 = r_end;
        }
    }
}
