//! AVX-512 kernels (F, BW, VL, VNNI, VPOPCNTDQ; AVX2 + FMA are implied on every such CPU).
//!
//! Every kernel is a safe `#[target_feature]` function; the only `unsafe` are the loads and
//! stores (from fixed-size array references, or masked to a slice's length) and the calls
//! from the plain-`fn` wrappers in [`table`], which is the single place that checks the CPU.
//!
//! The f32 one-to-one, one-to-many and many-to-many kernels are the shared skeletons of
//! `vector.rs` over `__m512` (the `F32Vector` impl below).
//!
//! Shapes: one-to-many kernels score 4 rows (f32, i8) or 8 codes (binary) per iteration and
//! reduce their accumulators together with a transpose-and-add tree, so the horizontal
//! reduction costs a fraction of a shuffle per score; the multi-query kernel keeps a
//! 4-query × 4-row tile of accumulators in registers, so each loaded row chunk feeds 4 FMAs.

use std::arch::x86_64::*;

use super::vector::{
    PF_LINES, PREFETCH_I8_BYTES, PREFETCH_I8_HINT, PageTouches, ahead_offsets, prefetch,
};
use crate::dispatch::Kernels;

// ---- loads ---------------------------------------------------------------------------------

#[inline]
#[target_feature(enable = "avx512f")]
fn ld(c: &[f32; 16]) -> __m512 {
    // SAFETY: `c` is 16 readable f32; an unaligned load has no alignment requirement.
    unsafe { _mm512_loadu_ps(c.as_ptr()) }
}

#[inline]
#[target_feature(enable = "avx512f")]
fn ld_tail(t: &[f32]) -> __m512 {
    let n = t.len().min(16);
    let mask = ((1u32 << n) - 1) as __mmask16;
    // SAFETY: the mask selects the first n <= t.len() lanes; masked-off lanes are not read (a
    // masked load does not fault on them).
    unsafe { _mm512_maskz_loadu_ps(mask, t.as_ptr()) }
}

#[inline]
#[target_feature(enable = "avx512f")]
fn ld_i(c: &[u64; 8]) -> __m512i {
    // SAFETY: `c` is 64 readable bytes; an unaligned load has no alignment requirement.
    unsafe { _mm512_loadu_si512(c.as_ptr().cast()) }
}

#[inline]
#[target_feature(enable = "avx512f")]
fn ld_i_tail(t: &[u64]) -> __m512i {
    let n = t.len().min(8);
    let mask = ((1u32 << n) - 1) as __mmask8;
    // SAFETY: the mask selects the first n <= t.len() words; masked-off lanes are not read.
    unsafe { _mm512_maskz_loadu_epi64(mask, t.as_ptr().cast()) }
}

#[inline]
#[target_feature(enable = "avx512f")]
fn ld_b(c: &[i8; 64]) -> __m512i {
    // SAFETY: `c` is 64 readable bytes; an unaligned load has no alignment requirement.
    unsafe { _mm512_loadu_si512(c.as_ptr().cast()) }
}

#[inline]
#[target_feature(enable = "avx512f,avx512bw")]
fn ld_b_tail(t: &[i8]) -> __m512i {
    let n = t.len().min(64);
    let mask: __mmask64 = if n == 64 { u64::MAX } else { (1u64 << n) - 1 };
    // SAFETY: the mask selects the first n <= t.len() bytes; masked-off lanes are not read.
    unsafe { _mm512_maskz_loadu_epi8(mask, t.as_ptr()) }
}

#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx512vl")]
fn ld_b16_as_ps(c: &[i8]) -> __m512 {
    let n = c.len().min(16);
    let mask = ((1u32 << n) - 1) as __mmask16;
    // SAFETY: the mask selects the first n <= c.len() bytes; masked-off lanes are not read.
    let b = unsafe { _mm_maskz_loadu_epi8(mask, c.as_ptr()) };
    _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(b))
}

// ---- horizontal reductions ------------------------------------------------------------------

/// The sums of four vectors, as the four lanes of one `__m128`.
#[inline]
#[target_feature(enable = "avx512f")]
fn reduce4(a: __m512, b: __m512, c: __m512, d: __m512) -> __m128 {
    // Per 128-bit lane: (a0+a2, b0+b2, a1+a3, b1+b3) and likewise for c, d.
    let ab = _mm512_add_ps(_mm512_unpacklo_ps(a, b), _mm512_unpackhi_ps(a, b));
    let cd = _mm512_add_ps(_mm512_unpacklo_ps(c, d), _mm512_unpackhi_ps(c, d));
    // Per 128-bit lane: (a, b, c, d) partial sums.
    let (abd, cdd) = (_mm512_castps_pd(ab), _mm512_castps_pd(cd));
    let abcd = _mm512_add_ps(
        _mm512_castpd_ps(_mm512_unpacklo_pd(abd, cdd)),
        _mm512_castpd_ps(_mm512_unpackhi_pd(abd, cdd)),
    );
    let half = _mm256_add_ps(
        _mm512_castps512_ps256(abcd),
        _mm256_castpd_ps(_mm512_extractf64x4_pd::<1>(_mm512_castps_pd(abcd))),
    );
    _mm_add_ps(
        _mm256_castps256_ps128(half),
        _mm256_extractf128_ps::<1>(half),
    )
}

/// The sums of eight vectors of u64, as the eight lanes of one vector.
#[inline]
#[target_feature(enable = "avx512f")]
fn reduce8_epi64(v: &[__m512i; 8]) -> __m512i {
    let pair = |a: __m512i, b: __m512i| {
        _mm512_add_epi64(_mm512_unpacklo_epi64(a, b), _mm512_unpackhi_epi64(a, b))
    };
    let (s01, s23, s45, s67) = (
        pair(v[0], v[1]),
        pair(v[2], v[3]),
        pair(v[4], v[5]),
        pair(v[6], v[7]),
    );
    let quad = |a: __m512i, b: __m512i| {
        _mm512_add_epi64(
            _mm512_shuffle_i64x2::<0x88>(a, b),
            _mm512_shuffle_i64x2::<0xDD>(a, b),
        )
    };
    let (e0, e1) = (quad(s01, s23), quad(s45, s67));
    quad(e0, e1)
}

#[inline]
#[target_feature(enable = "avx512f")]
fn store8_u32(out: &mut [u32; 8], v: __m512i) {
    let narrow = _mm512_cvtepi64_epi32(v);
    // SAFETY: `out` is 8 writable u32 (32 bytes); an unaligned store has no alignment requirement.
    unsafe { _mm256_storeu_si256(out.as_mut_ptr().cast(), narrow) }
}

// ---- f32 ------------------------------------------------------------------------------------

// Prefetch as in the AVX2 scans (see `vector::PREFETCH_F32_BYTES` and `PREFETCH_PAGE_BYTES`).
f32_backend! {
    __m512, 16, "avx512f,avx512bw,avx512vl,avx2,fma", tile: 4, prefetch: PF_LINES,
    zero: _mm512_setzero_ps, load: ld, load_tail: ld_tail, add: _mm512_add_ps,
    sub: _mm512_sub_ps, mul_add: _mm512_fmadd_ps, sum: _mm512_reduce_add_ps, sum4: reduce4,
}

// ---- i8 -------------------------------------------------------------------------------------

/// Σ (x ^ 0x80)·y over the bytes, i.e. Σ (x + 128)·y with x read as u8: one VNNI instruction
/// per 64 bytes (VNNI multiplies u8 by i8, so the signed side is shifted by 128 and corrected).
#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx512vnni")]
fn dpbusd_shifted(acc: __m512i, x: __m512i, y: __m512i) -> __m512i {
    let flip = _mm512_set1_epi8(i8::MIN);
    _mm512_dpbusd_epi32(acc, _mm512_xor_si512(x, flip), y)
}

fn sum_i8(v: &[i8]) -> i32 {
    v.iter().map(|&x| i32::from(x)).sum()
}

#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vnni")]
fn dot_i8(a: &[i8], b: &[i8]) -> i32 {
    // Σ a·b = Σ (a + 128)·b − 128·Σ b.
    let mut acc = [_mm512_setzero_si512(); 2];
    let (ca, ta) = a.as_chunks::<64>();
    let (cb, tb) = b.as_chunks::<64>();
    for (k, (x, y)) in ca.iter().zip(cb).enumerate() {
        acc[k & 1] = dpbusd_shifted(acc[k & 1], ld_b(x), ld_b(y));
    }
    // Masked-off lanes load 0: (0 ^ 0x80)·0 = 0.
    acc[0] = dpbusd_shifted(acc[0], ld_b_tail(ta), ld_b_tail(tb));
    let s = _mm512_reduce_add_epi32(_mm512_add_epi32(acc[0], acc[1]));
    s.wrapping_sub(sum_i8(&b[..a.len().min(b.len())]).wrapping_mul(128))
}

#[inline]
#[target_feature(enable = "avx512f")]
fn reduce4_epi32(a: __m512i, b: __m512i, c: __m512i, d: __m512i) -> __m128i {
    let ab = _mm512_add_epi32(_mm512_unpacklo_epi32(a, b), _mm512_unpackhi_epi32(a, b));
    let cd = _mm512_add_epi32(_mm512_unpacklo_epi32(c, d), _mm512_unpackhi_epi32(c, d));
    let abcd = _mm512_add_epi32(_mm512_unpacklo_epi64(ab, cd), _mm512_unpackhi_epi64(ab, cd));
    let half = _mm256_add_epi32(
        _mm512_castsi512_si256(abcd),
        _mm512_extracti64x4_epi64::<1>(abcd),
    );
    _mm_add_epi32(
        _mm256_castsi256_si128(half),
        _mm256_extracti128_si256::<1>(half),
    )
}

/// Σ (row + 128)·query over one row, as 16 unreduced i32 lane sums.
#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vnni")]
fn i8_lanes(qc: &[[i8; 64]], qt: __m512i, row: &[i8]) -> __m512i {
    let (rc, rt) = row.as_chunks::<64>();
    let mut acc = [_mm512_setzero_si512(); 2];
    for (k, (x, y)) in rc.iter().zip(qc).enumerate() {
        acc[k & 1] = dpbusd_shifted(acc[k & 1], ld_b(x), ld_b(y));
    }
    if !rt.is_empty() {
        // Masked-off row bytes load 0 and meet query bytes that are 0 too.
        acc[0] = dpbusd_shifted(acc[0], ld_b_tail(rt), qt);
    }
    _mm512_add_epi32(acc[0], acc[1])
}

#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vnni,avx2")]
fn dot_i8_one_to_many(query: &[i8], block: &[i8], out: &mut [i32]) {
    // Here the *rows* are shifted: Σ q·c = Σ (c + 128)·q − 128·Σ q, and Σ q is paid once.
    let dim = query.len().max(1);
    let correction = _mm_set1_epi32(sum_i8(query).wrapping_mul(128));
    let (qc, qt) = query.as_chunks::<64>();
    let qt = ld_b_tail(qt);
    let groups = block.chunks_exact(4 * dim);
    let rest = groups.remainder();
    // Each group of four rows prefetches the group PREFETCH_I8_BYTES on (as the AVX2 scan).
    let ahead = ahead_offsets(block.len(), 4 * dim, PREFETCH_I8_BYTES);
    let mut outs = out.chunks_exact_mut(4);
    for ((g, o), ahead) in groups.zip(&mut outs).zip(ahead) {
        let ahead = block.as_ptr().wrapping_add(ahead);
        for line in 0..(4 * dim).div_ceil(64) {
            // SAFETY: SSE is part of x86_64 (a prefetch never faults, see `prefetch`).
            unsafe { prefetch::<PREFETCH_I8_HINT, _>(ahead.wrapping_add(64 * line)) };
        }
        let (r0, g) = g.split_at(dim);
        let (r1, g) = g.split_at(dim);
        let (r2, r3) = g.split_at(dim);
        let s = reduce4_epi32(
            i8_lanes(qc, qt, r0),
            i8_lanes(qc, qt, r1),
            i8_lanes(qc, qt, r2),
            i8_lanes(qc, qt, r3),
        );
        let s = _mm_sub_epi32(s, correction);
        let o: &mut [i32; 4] = o.try_into().expect("chunks of 4");
        // SAFETY: `o` is 4 writable i32; an unaligned store has no alignment requirement.
        unsafe { _mm_storeu_si128(o.as_mut_ptr().cast(), s) };
    }
    for (o, row) in outs.into_remainder().iter_mut().zip(rest.chunks_exact(dim)) {
        *o = dot_i8(query, row);
    }
}

#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx2,fma")]
fn dot_f32_i8(query: &[f32], code: &[i8]) -> f32 {
    let mut acc = [_mm512_setzero_ps(); 4];
    let (cq, tq) = query.as_chunks::<16>();
    let (cc, tc) = code.as_chunks::<16>();
    for (k, (q, c)) in cq.iter().zip(cc).enumerate() {
        acc[k & 3] = _mm512_fmadd_ps(ld(q), ld_b16_as_ps(c), acc[k & 3]);
    }
    acc[0] = _mm512_fmadd_ps(ld_tail(tq), ld_b16_as_ps(tc), acc[0]);
    let s = _mm512_add_ps(_mm512_add_ps(acc[0], acc[1]), _mm512_add_ps(acc[2], acc[3]));
    _mm512_reduce_add_ps(s)
}

#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx2,fma")]
fn dot_f32_i8_one_to_many(query: &[f32], block: &[i8], out: &mut [f32]) {
    for (o, row) in out.iter_mut().zip(block.chunks_exact(query.len().max(1))) {
        *o = dot_f32_i8(query, row);
    }
}

// ---- binary ---------------------------------------------------------------------------------

#[target_feature(enable = "avx512f,avx512vpopcntdq")]
fn hamming(a: &[u64], b: &[u64]) -> u32 {
    let mut acc = [_mm512_setzero_si512(); 4];
    let (ca, ta) = a.as_chunks::<8>();
    let (cb, tb) = b.as_chunks::<8>();
    for (k, (x, y)) in ca.iter().zip(cb).enumerate() {
        let d = _mm512_popcnt_epi64(_mm512_xor_si512(ld_i(x), ld_i(y)));
        acc[k & 3] = _mm512_add_epi64(acc[k & 3], d);
    }
    let d = _mm512_popcnt_epi64(_mm512_xor_si512(ld_i_tail(ta), ld_i_tail(tb)));
    acc[0] = _mm512_add_epi64(acc[0], d);
    let s = _mm512_add_epi64(
        _mm512_add_epi64(acc[0], acc[1]),
        _mm512_add_epi64(acc[2], acc[3]),
    );
    _mm512_reduce_add_epi64(s) as u32
}

/// popcount(code ^ query) of one code, as 8 unreduced u64 lane sums.
#[inline]
#[target_feature(enable = "avx512f,avx512vpopcntdq")]
fn xor_pop_lanes(qc: &[[u64; 8]], qt: __m512i, code: &[u64]) -> __m512i {
    let (cc, ct) = code.as_chunks::<8>();
    let mut acc = _mm512_setzero_si512();
    for (x, y) in cc.iter().zip(qc) {
        acc = _mm512_add_epi64(acc, _mm512_popcnt_epi64(_mm512_xor_si512(ld_i(x), ld_i(y))));
    }
    if !ct.is_empty() {
        // Masked-off words load 0 on both sides: 0 ^ 0 adds nothing.
        let d = _mm512_popcnt_epi64(_mm512_xor_si512(ld_i_tail(ct), qt));
        acc = _mm512_add_epi64(acc, d);
    }
    acc
}

/// The skeleton of the binary one-to-many kernels: codes of `words` words one after the other
/// (a linear stream), eight at a time by `eight` (the eight codes' u64 lane sums, reduced
/// together by one transpose-and-add tree), the last `out.len() % 8` by `one`. Each run of
/// groups about a page long first touches the page far ahead ([`PageTouches`]), for the
/// Hamming and the bit-plane scans alike.
///
/// # Safety
/// The CPU must support AVX-512 F.
#[inline(always)]
unsafe fn by_eights(
    codes: &[u64],
    words: usize,
    out: &mut [u32],
    mut eight: impl FnMut(&[u64]) -> [__m512i; 8],
    mut one: impl FnMut(&[u64]) -> u32,
) {
    let groups = codes.chunks_exact(8 * words);
    let rest = groups.remainder();
    let mut outs = out.chunks_exact_mut(8);
    let mut pages = PageTouches::new(codes, 64 * words);
    for (g, o) in groups.zip(&mut outs) {
        // SAFETY: SSE is part of x86_64.
        unsafe { pages.before(g.as_ptr()) };
        let o = o.try_into().expect("chunks of 8");
        // SAFETY: AVX-512 F is available (this function's contract).
        unsafe { store8_u32(o, reduce8_epi64(&eight(g))) };
    }
    let outs = outs.into_remainder();
    for (o, c) in outs.iter_mut().zip(rest.chunks_exact(words)) {
        *o = one(c);
    }
}

/// [`hamming_one_to_many`] for codes of exactly `8 * N` words: the query stays in `N`
/// registers, so each code costs `N` loads, XORs, popcounts and adds.
#[inline]
#[target_feature(enable = "avx512f,avx512vpopcntdq")]
fn hamming_one_to_many_fixed<const N: usize>(query: &[u64], codes: &[u64], out: &mut [u32]) {
    let mut q = [_mm512_setzero_si512(); N];
    for (v, c) in q.iter_mut().zip(query.as_chunks::<8>().0) {
        *v = ld_i(c);
    }
    let eight = |g: &[u64]| {
        let mut acc = [_mm512_setzero_si512(); 8];
        for (a, c) in acc.iter_mut().zip(g.as_chunks::<8>().0.chunks_exact(N)) {
            let mut s = _mm512_setzero_si512();
            for (x, y) in c.iter().zip(&q) {
                s = _mm512_add_epi64(s, _mm512_popcnt_epi64(_mm512_xor_si512(ld_i(x), *y)));
            }
            *a = s;
        }
        acc
    };
    // SAFETY: AVX-512 F is enabled on this function, so on the CPU running it.
    unsafe { by_eights(codes, 8 * N, out, eight, |c| hamming(query, c)) }
}

/// [`hamming_one_to_many`] for 384-bit codes: each code one masked 6-word load (the mask a
/// constant), XORed with the query held in a register, one `VPOPCNTQ`; eight codes reduced
/// together.
#[inline]
#[target_feature(enable = "avx512f,avx512vpopcntdq")]
fn hamming_one_to_many_w6(query: &[u64], codes: &[u64], out: &mut [u32]) {
    let q = ld_i_tail(query);
    let eight = |g: &[u64]| {
        let mut acc = [_mm512_setzero_si512(); 8];
        for (a, c) in acc.iter_mut().zip(g.as_chunks::<6>().0) {
            // SAFETY: the mask selects the 6 words of `c`; masked-off lanes are not read (a
            // masked load does not fault on them) and load as 0, as in `q`.
            let x = unsafe { _mm512_maskz_loadu_epi64(0x3F, c.as_ptr().cast()) };
            *a = _mm512_popcnt_epi64(_mm512_xor_si512(x, q));
        }
        acc
    };
    // SAFETY: AVX-512 F is enabled on this function, so on the CPU running it.
    unsafe { by_eights(codes, 6, out, eight, |c| hamming(query, c)) }
}

#[target_feature(enable = "avx512f,avx512vpopcntdq")]
fn hamming_one_to_many(query: &[u64], codes: &[u64], out: &mut [u32]) {
    match query.len() {
        6 => return hamming_one_to_many_w6(query, codes, out),
        8 => return hamming_one_to_many_fixed::<1>(query, codes, out),
        16 => return hamming_one_to_many_fixed::<2>(query, codes, out),
        24 => return hamming_one_to_many_fixed::<3>(query, codes, out),
        32 => return hamming_one_to_many_fixed::<4>(query, codes, out),
        _ => {}
    }
    let words = query.len().max(1);
    let (qc, qt) = query.as_chunks::<8>();
    let qt = ld_i_tail(qt);
    let eight = |g: &[u64]| {
        let mut acc = [_mm512_setzero_si512(); 8];
        for (a, c) in acc.iter_mut().zip(g.chunks_exact(words)) {
            *a = xor_pop_lanes(qc, qt, c);
        }
        acc
    };
    // SAFETY: AVX-512 F is enabled on this function, so on the CPU running it.
    unsafe { by_eights(codes, words, out, eight, |c| hamming(query, c)) }
}

#[target_feature(enable = "avx512f,avx512vpopcntdq")]
fn and_popcount_planes(planes: &[u64], code: &[u64]) -> u32 {
    let words = code.len().max(1);
    let mut total = 0u32;
    for (j, plane) in planes.chunks_exact(words).enumerate() {
        let mut acc = _mm512_setzero_si512();
        let (cp, tp) = plane.as_chunks::<8>();
        let (cc, tc) = code.as_chunks::<8>();
        for (p, c) in cp.iter().zip(cc) {
            acc = _mm512_add_epi64(acc, _mm512_popcnt_epi64(_mm512_and_si512(ld_i(p), ld_i(c))));
        }
        let d = _mm512_popcnt_epi64(_mm512_and_si512(ld_i_tail(tp), ld_i_tail(tc)));
        let ones = _mm512_reduce_add_epi64(_mm512_add_epi64(acc, d)) as u32;
        total = total.wrapping_add(ones.wrapping_shl(j as u32));
    }
    total
}

#[target_feature(enable = "avx512f,avx512vpopcntdq")]
fn and_popcount_planes_one_to_many(planes: &[u64], bits: usize, codes: &[u64], out: &mut [u32]) {
    let words = (planes.len() / bits.max(1)).max(1);
    let n = words / 8;
    let plane: Vec<&[u64]> = planes.chunks_exact(words).collect();
    let eight = |g: &[u64]| {
        let cs: [&[u64]; 8] = std::array::from_fn(|i| &g[i * words..][..words]);
        let mut acc = [_mm512_setzero_si512(); 8];
        for i in 0..=n {
            let load = |s: &[u64]| {
                if i < n {
                    ld_i(s[i * 8..][..8].try_into().expect("8 words"))
                } else {
                    ld_i_tail(&s[n * 8..])
                }
            };
            let c = cs.map(load);
            for (j, p) in plane.iter().enumerate() {
                let p = load(p);
                let shift = _mm_cvtsi64_si128(j as i64);
                for k in 0..8 {
                    let ones = _mm512_popcnt_epi64(_mm512_and_si512(p, c[k]));
                    acc[k] = _mm512_add_epi64(acc[k], _mm512_sll_epi64(ones, shift));
                }
            }
        }
        acc
    };
    // SAFETY: AVX-512 F is enabled on this function, so on the CPU running it.
    unsafe { by_eights(codes, words, out, eight, |c| and_popcount_planes(planes, c)) }
}

#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx2,fma")]
fn dot_f32_bits(query: &[f32], code: &[u64]) -> f32 {
    let mut acc = [_mm512_setzero_ps(); 4];
    let (cq, tq) = query.as_chunks::<16>();
    for (m, q) in cq.iter().enumerate() {
        let Some(&w) = code.get(m / 4) else { break };
        let mask = (w >> (16 * (m % 4))) as __mmask16;
        acc[m % 4] = _mm512_mask_add_ps(acc[m % 4], mask, acc[m % 4], ld(q));
    }
    if let Some(&w) = code.get(cq.len() / 4) {
        let m = cq.len();
        let mask = (w >> (16 * (m % 4))) as __mmask16;
        // Lanes past the query load as 0, so stray code bits there add nothing.
        acc[0] = _mm512_mask_add_ps(acc[0], mask, acc[0], ld_tail(tq));
    }
    let s = _mm512_add_ps(_mm512_add_ps(acc[0], acc[1]), _mm512_add_ps(acc[2], acc[3]));
    _mm512_reduce_add_ps(s)
}

#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx2,fma")]
fn dot_f32_bits_one_to_many(query: &[f32], codes: &[u64], out: &mut [f32]) {
    let words = query.len().div_ceil(64).max(1);
    for (o, code) in out.iter_mut().zip(codes.chunks_exact(words)) {
        *o = dot_f32_bits(query, code);
    }
}

// ---- the table ------------------------------------------------------------------------------

backend_table!(Avx512);
