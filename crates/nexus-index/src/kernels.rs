//! The kernels this crate uses, in one place: `nexus-simd` where it provides them, and
//! small portable loops for the few forms it does not (yet).

pub(crate) fn dot(a: &[f32], b: &[f32]) -> f32 {
    nexus_simd::dot(a, b)
}

pub(crate) fn l2_squared(a: &[f32], b: &[f32]) -> f32 {
    nexus_simd::l2_squared(a, b)
}

pub(crate) fn dot_one_to_many(query: &[f32], block: &[f32], out: &mut [f32]) {
    nexus_simd::dot_one_to_many(query, block, out);
}

pub(crate) fn l2_one_to_many(query: &[f32], block: &[f32], out: &mut [f32]) {
    for (o, row) in out.iter_mut().zip(block.chunks_exact(query.len())) {
        *o = nexus_simd::l2_squared(query, row);
    }
}

/// `out[q * rows + r] = <queries[q], block[r]>`.
pub(crate) fn dot_many_to_many(queries: &[f32], block: &[f32], dim: usize, out: &mut [f32]) {
    let rows = block.len() / dim;
    for (q, o) in queries.chunks_exact(dim).zip(out.chunks_exact_mut(rows)) {
        nexus_simd::dot_one_to_many(q, block, o);
    }
}

/// Σ q·c with an f32 query and an i8 code.
pub(crate) fn dot_f32_i8(q: &[f32], code: &[i8]) -> f32 {
    let mut acc = [0.0f32; 16];
    let (cq, tq) = q.as_chunks::<16>();
    let (cc, tc) = code.as_chunks::<16>();
    for (x, y) in cq.iter().zip(cc) {
        for i in 0..16 {
            acc[i] += x[i] * f32::from(y[i]);
        }
    }
    let tail: f32 = tq.iter().zip(tc).map(|(x, &y)| x * f32::from(y)).sum();
    acc.iter().sum::<f32>() + tail
}

/// [`dot_f32_i8`] against each `q.len()`-long code of `block`.
pub(crate) fn dot_f32_i8_one_to_many(q: &[f32], block: &[i8], out: &mut [f32]) {
    for (o, code) in out.iter_mut().zip(block.chunks_exact(q.len())) {
        *o = dot_f32_i8(q, code);
    }
}
