//! The kernels this crate uses, in one place (all from `nexus-simd`), so the index code names
//! one small set of forms and a test here checks them against an f64 reference.

pub(crate) fn dot(a: &[f32], b: &[f32]) -> f32 {
    nexus_simd::dot(a, b)
}

pub(crate) fn l2_squared(a: &[f32], b: &[f32]) -> f32 {
    nexus_simd::l2_squared(a, b)
}

/// `out[r] = <query, row r of block>`.
pub(crate) fn dot_one_to_many(query: &[f32], block: &[f32], out: &mut [f32]) {
    nexus_simd::dot_one_to_many(query, block, out);
}

/// `out[r] = ‖query − row r of block‖²`.
pub(crate) fn l2_one_to_many(query: &[f32], block: &[f32], out: &mut [f32]) {
    nexus_simd::l2_squared_one_to_many(query, block, out);
}

/// `out[q * rows + r] = <queries[q], block[r]>`.
pub(crate) fn dot_many_to_many(queries: &[f32], block: &[f32], dim: usize, out: &mut [f32]) {
    nexus_simd::dot_many_to_many(queries, block, dim, out);
}

/// `out[r] = Σ query·(row r of block)` over i8, exact in i32.
pub(crate) fn dot_i8_one_to_many(query: &[i8], block: &[i8], out: &mut [i32]) {
    nexus_simd::dot_i8_one_to_many(query, block, out);
}

/// Asks the CPU to start loading the cache lines of `data` (at most `max_lines` of them) into
/// L1, so that a graph walk's next random reads overlap instead of stalling one by one.
#[inline(always)]
pub(crate) fn prefetch<T>(data: &[T], max_lines: usize) {
    #[cfg(target_arch = "x86_64")]
    {
        let bytes = std::mem::size_of_val(data);
        let ptr = data.as_ptr().cast::<i8>();
        for line in 0..bytes.div_ceil(64).min(max_lines) {
            // `wrapping_add` keeps the address computation free of UB; it stays inside `data`.
            let p = ptr.wrapping_add(line * 64);
            // SAFETY: a prefetch is a hint: it never faults and has no architectural effect,
            // whatever the address; `p` points into `data` anyway.
            unsafe { std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(p) };
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = (data, max_lines);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values(n: usize, seed: u32) -> Vec<f32> {
        // A small LCG: deterministic values in [-1, 1).
        let mut s = seed.wrapping_mul(2_654_435_761).wrapping_add(1);
        (0..n)
            .map(|_| {
                s = s.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                (s >> 8) as f32 / (1u32 << 23) as f32 - 1.0
            })
            .collect()
    }

    fn dot64(a: &[f32], b: &[f32]) -> f64 {
        a.iter()
            .zip(b)
            .map(|(x, y)| f64::from(*x) * f64::from(*y))
            .sum()
    }

    fn l2_64(a: &[f32], b: &[f32]) -> f64 {
        a.iter()
            .zip(b)
            .map(|(x, y)| (f64::from(*x) - f64::from(*y)).powi(2))
            .sum()
    }

    fn close(got: f32, want: f64, dim: usize) -> bool {
        (f64::from(got) - want).abs() <= 1e-5 * (dim as f64 + want.abs())
    }

    /// The block forms the scans use agree with an f64 reference for odd dimensions and row
    /// counts (remainder paths) as well as the 384 of the real data.
    #[test]
    fn block_kernels_match_an_f64_reference() {
        for dim in [1, 3, 8, 15, 16, 17, 33, 384] {
            for rows in [1, 3, 4, 5, 8, 9, 17, 67] {
                let block = values(rows * dim, (dim * 1000 + rows) as u32);
                let queries = values(5 * dim, dim as u32);
                let mut out = vec![0.0; rows];
                for q in queries.chunks_exact(dim) {
                    dot_one_to_many(q, &block, &mut out);
                    for (o, row) in out.iter().zip(block.chunks_exact(dim)) {
                        assert!(close(*o, dot64(q, row), dim), "dot dim {dim} rows {rows}");
                    }
                    l2_one_to_many(q, &block, &mut out);
                    for (o, row) in out.iter().zip(block.chunks_exact(dim)) {
                        assert!(close(*o, l2_64(q, row), dim), "l2 dim {dim} rows {rows}");
                    }
                }
                let mut all = vec![0.0; 5 * rows];
                dot_many_to_many(&queries, &block, dim, &mut all);
                for (q, o) in queries.chunks_exact(dim).zip(all.chunks_exact(rows)) {
                    for (o, row) in o.iter().zip(block.chunks_exact(dim)) {
                        assert!(close(*o, dot64(q, row), dim), "m2m dim {dim} rows {rows}");
                    }
                }
            }
        }
    }
}
