//! Portable scalar kernels: the reference every SIMD backend is tested against, and the
//! fallback on CPUs without AVX2.
//!
//! They use several independent accumulators so that even the fallback is not bound by one
//! serial add chain.

/// Σ a·b.
pub fn dot(a: &[f32], b: &[f32]) -> f32 {
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
pub fn l2_squared(a: &[f32], b: &[f32]) -> f32 {
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

/// Σ a·b over i8, exact in i32 for any length below 2^17.
pub fn dot_i8(a: &[i8], b: &[i8]) -> i32 {
    a.iter()
        .zip(b)
        .map(|(&x, &y)| i32::from(x) * i32::from(y))
        .sum()
}

/// Σ q·c with an f32 query and i8 codes.
pub fn dot_f32_i8(query: &[f32], code: &[i8]) -> f32 {
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

/// Number of differing bits.
pub fn hamming(a: &[u64], b: &[u64]) -> u32 {
    a.iter().zip(b).map(|(x, y)| (x ^ y).count_ones()).sum()
}

/// Σ_j 2^j · popcount(plane_j & code) for `planes.len() / code.len()` bit planes.
pub fn and_popcount_planes(planes: &[u64], code: &[u64]) -> u32 {
    planes
        .chunks_exact(code.len().max(1))
        .enumerate()
        .map(|(j, plane)| {
            let ones: u32 = plane
                .iter()
                .zip(code)
                .map(|(p, c)| (p & c).count_ones())
                .sum();
            ones << j
        })
        .sum()
}
