//! Distance kernels for Memory Nexus: f32 dot / cosine / squared L2, i8 dot, binary Hamming and
//! bit-plane kernels, each one-to-one and one-to-many, with runtime CPU dispatch.
//!
//! This is the bottom layer: every scan, index and rerank above it spends its time here. It
//! knows nothing of indexes, codes or storage; it only scores slices.
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
//! ```
//!
//! # Panics
//! Mismatched lengths are a caller bug: every kernel checks them (before any `unsafe` code)
//! and panics with a message.

#![deny(missing_docs)]
#![doc(test(attr(deny(warnings))))]

pub mod scalar;

fn check_len(a: usize, b: usize) {
    assert_eq!(a, b, "nexus-simd: slices of different lengths ({a} vs {b})");
}

fn check_block(dim: usize, block: usize, out: usize) {
    assert_eq!(
        Some(block),
        dim.checked_mul(out),
        "nexus-simd: a block of {block} values is not {out} rows of dimension {dim}"
    );
}

/// Σ a·b.
///
/// # Panics
/// If the lengths differ.
pub fn dot(a: &[f32], b: &[f32]) -> f32 {
    check_len(a.len(), b.len());
    scalar::dot(a, b)
}

/// Σ (a−b)².
///
/// # Panics
/// If the lengths differ.
pub fn l2_squared(a: &[f32], b: &[f32]) -> f32 {
    check_len(a.len(), b.len());
    scalar::l2_squared(a, b)
}

/// Scores `query` against each `query.len()`-long row of `block`, writing one dot product per
/// row into `out`.
///
/// # Panics
/// If `block.len() != query.len() * out.len()`.
pub fn dot_one_to_many(query: &[f32], block: &[f32], out: &mut [f32]) {
    check_block(query.len(), block.len(), out.len());
    if query.is_empty() {
        out.fill(0.0);
        return;
    }
    for (o, row) in out.iter_mut().zip(block.chunks_exact(query.len())) {
        *o = scalar::dot(query, row);
    }
}
