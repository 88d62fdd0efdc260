//! Portable scalar kernels: the fallback on CPUs without AVX2 (and on other architectures), and
//! the baseline the SIMD backends are benchmarked against.
//!
//! They use several independent accumulators so that even the fallback is not bound by one
//! serial add chain. The *test* reference is a separate f64 implementation in `tests/`.
//!
//! Every function assumes the caller (the public API in `lib.rs`) has checked the lengths; with
//! mismatched lengths they return a meaningless value but never touch memory out of bounds.

/// Σ a·b.
pub(crate) fn dot(a: &[f32], b: &[f32]) -> f32 {
    let mut acc = [0.0f32; 8];
    let (ca, ta) = a.as_chunks::<8>();
    let (cb, tb) = b.as_chunks::<8>();
    for (x, y) in ca.iter().zip(cb) {
        for i in 0..8 {
            acc[i] += x[i] * y[i];
        }
    }
    let tail: f32 = ta.iter().zip(tb).map(|(x, y)| x * y).sum();
    acc.iter().sum::<f32>() + tail
}

/// Σ (a−b)².
pub(crate) fn l2_squared(a: &[f32], b: &[f32]) -> f32 {
    let mut acc = [0.0f32; 8];
    let (ca, ta) = a.as_chunks::<8>();
    let (cb, tb) = b.as_chunks::<8>();
    for (x, y) in ca.iter().zip(cb) {
        for i in 0..8 {
            let d = x[i] - y[i];
            acc[i] += d * d;
        }
    }
    let tail: f32 = ta.iter().zip(tb).map(|(x, y)| (x - y) * (x - y)).sum();
    acc.iter().sum::<f32>() + tail
}

/// (Σ a·b, Σ a², Σ b²) in one pass, for cosine.
pub(crate) fn dot_norms(a: &[f32], b: &[f32]) -> (f32, f32, f32) {
    let (mut ab, mut aa, mut bb) = ([0.0f32; 8], [0.0f32; 8], [0.0f32; 8]);
    let (ca, ta) = a.as_chunks::<8>();
    let (cb, tb) = b.as_chunks::<8>();
    for (x, y) in ca.iter().zip(cb) {
        for i in 0..8 {
            ab[i] += x[i] * y[i];
            aa[i] += x[i] * x[i];
            bb[i] += y[i] * y[i];
        }
    }
    let (mut s_ab, mut s_aa, mut s_bb) = (
        ab.iter().sum::<f32>(),
        aa.iter().sum::<f32>(),
        bb.iter().sum::<f32>(),
    );
    for (x, y) in ta.iter().zip(tb) {
        s_ab += x * y;
        s_aa += x * x;
        s_bb += y * y;
    }
    (s_ab, s_aa, s_bb)
}

/// Cosine from (Σ a·b, Σ a², Σ b²), in f64 so that the norms cannot underflow to 0 twice.
pub(crate) fn cosine_from((ab, aa, bb): (f32, f32, f32)) -> f32 {
    if aa == 0.0 || bb == 0.0 {
        return 0.0;
    }
    (f64::from(ab) / (f64::from(aa).sqrt() * f64::from(bb).sqrt())) as f32
}

/// One query against each row of `block`.
pub(crate) fn dot_one_to_many(query: &[f32], block: &[f32], out: &mut [f32]) {
    for (o, row) in out.iter_mut().zip(block.chunks_exact(query.len().max(1))) {
        *o = dot(query, row);
    }
}

/// One query against each row of `block`.
pub(crate) fn l2_squared_one_to_many(query: &[f32], block: &[f32], out: &mut [f32]) {
    for (o, row) in out.iter_mut().zip(block.chunks_exact(query.len().max(1))) {
        *o = l2_squared(query, row);
    }
}

/// Every query against every row: `out[q * n_rows + r]`.
pub(crate) fn dot_many_to_many(queries: &[f32], block: &[f32], dim: usize, out: &mut [f32]) {
    let n_rows = block.len() / dim.max(1);
    for (q, out_q) in queries
        .chunks_exact(dim.max(1))
        .zip(out.chunks_exact_mut(n_rows.max(1)))
    {
        dot_one_to_many(q, block, out_q);
    }
}

/// Σ a·b over i8 with wrapping i32 arithmetic (exact when the true sum fits in i32).
pub(crate) fn dot_i8(a: &[i8], b: &[i8]) -> i32 {
    a.iter().zip(b).fold(0i32, |s, (&x, &y)| {
        s.wrapping_add(i32::from(x) * i32::from(y))
    })
}

/// One i8 query against each row of `block`.
pub(crate) fn dot_i8_one_to_many(query: &[i8], block: &[i8], out: &mut [i32]) {
    for (o, row) in out.iter_mut().zip(block.chunks_exact(query.len().max(1))) {
        *o = dot_i8(query, row);
    }
}

/// Σ q·c with an f32 query and i8 codes.
pub(crate) fn dot_f32_i8(query: &[f32], code: &[i8]) -> f32 {
    let mut acc = [0.0f32; 8];
    let (cq, tq) = query.as_chunks::<8>();
    let (cc, tc) = code.as_chunks::<8>();
    for (x, y) in cq.iter().zip(cc) {
        for i in 0..8 {
            acc[i] += x[i] * f32::from(y[i]);
        }
    }
    let tail: f32 = tq.iter().zip(tc).map(|(x, &y)| x * f32::from(y)).sum();
    acc.iter().sum::<f32>() + tail
}

/// One f32 query against each i8 row of `block`.
pub(crate) fn dot_f32_i8_one_to_many(query: &[f32], block: &[i8], out: &mut [f32]) {
    for (o, row) in out.iter_mut().zip(block.chunks_exact(query.len().max(1))) {
        *o = dot_f32_i8(query, row);
    }
}

/// Number of differing bits.
pub(crate) fn hamming(a: &[u64], b: &[u64]) -> u32 {
    a.iter().zip(b).map(|(x, y)| (x ^ y).count_ones()).sum()
}

/// One code against each `query.len()`-word code of `codes`.
pub(crate) fn hamming_one_to_many(query: &[u64], codes: &[u64], out: &mut [u32]) {
    for (o, code) in out.iter_mut().zip(codes.chunks_exact(query.len().max(1))) {
        *o = hamming(query, code);
    }
}

/// Σ_j 2^j · popcount(plane_j & code) for `planes.len() / code.len()` bit planes. (Inlined
/// into the AVX2 backend too, which compiles it with `popcnt`.)
#[inline(always)]
pub(crate) fn and_popcount_planes(planes: &[u64], code: &[u64]) -> u32 {
    planes
        .chunks_exact(code.len().max(1))
        .enumerate()
        .fold(0u32, |s, (j, plane)| {
            let ones: u32 = plane
                .iter()
                .zip(code)
                .map(|(p, c)| (p & c).count_ones())
                .sum();
            s.wrapping_add(ones.wrapping_shl(j as u32))
        })
}

/// The bit-plane query against each code of `codes`.
#[inline(always)]
pub(crate) fn and_popcount_planes_one_to_many(
    planes: &[u64],
    bits: usize,
    codes: &[u64],
    out: &mut [u32],
) {
    let words = planes.len() / bits.max(1);
    for (o, code) in out.iter_mut().zip(codes.chunks_exact(words.max(1))) {
        *o = and_popcount_planes(planes, code);
    }
}

/// Σ query[i] over the set bits i of `code` (bit i is bit i % 64 of word i / 64).
pub(crate) fn dot_f32_bits(query: &[f32], code: &[u64]) -> f32 {
    let mut acc = [0.0f32; 8];
    let (chunks, tail) = query.as_chunks::<64>();
    for (q, &w) in chunks.iter().zip(code) {
        for (i, &x) in q.iter().enumerate() {
            // A select, not a multiply by the bit: 0 · inf would be NaN.
            acc[i % 8] += if (w >> i) & 1 == 1 { x } else { 0.0 };
        }
    }
    let mut s: f32 = acc.iter().sum();
    if let Some(&w) = code.get(chunks.len()) {
        for (i, &x) in tail.iter().enumerate() {
            if (w >> i) & 1 == 1 {
                s += x;
            }
        }
    }
    s
}

/// The f32 query against each `ceil(query.len() / 64)`-word code of `codes`.
pub(crate) fn dot_f32_bits_one_to_many(query: &[f32], codes: &[u64], out: &mut [f32]) {
    let words = query.len().div_ceil(64);
    for (o, code) in out.iter_mut().zip(codes.chunks_exact(words.max(1))) {
        *o = dot_f32_bits(query, code);
    }
}
