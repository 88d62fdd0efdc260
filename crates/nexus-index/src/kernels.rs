//! The kernels this crate uses, in one place: `nexus-simd` where it provides them, and
//! small portable loops for the few forms it does not (yet).

pub(crate) fn dot(a: &[f32], b: &[f32]) -> f32 {
    nexus_simd::dot(a, b)
}

pub(crate) fn l2_squared(a: &[f32], b: &[f32]) -> f32 {
    nexus_simd::l2_squared(a, b)
}

// The f32 one-to-many and many-to-many forms of nexus-simd score row by row here: their
// AVX-512 bodies in the working tree returned wrong values when this was written (see
// docs/ARCHITECTURE.md); switch back once they are fixed.
pub(crate) fn dot_one_to_many(query: &[f32], block: &[f32], out: &mut [f32]) {
    for (o, row) in out.iter_mut().zip(block.chunks_exact(query.len())) {
        *o = nexus_simd::dot(query, row);
    }
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
        dot_one_to_many(q, block, o);
    }
}

/// Σ q·c with an f32 query and an i8 code.
pub(crate) fn dot_f32_i8(q: &[f32], code: &[i8]) -> f32 {
    nexus_simd::dot_f32_i8(q, code)
}

/// [`dot_f32_i8`] against each `q.len()`-long code of `block`.
pub(crate) fn dot_f32_i8_one_to_many(q: &[f32], block: &[i8], out: &mut [f32]) {
    nexus_simd::dot_f32_i8_one_to_many(q, block, out);
}
