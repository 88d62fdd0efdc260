//! Similarity metrics. Every score is oriented so that larger is better.

use crate::error::{Error, Result};
use crate::kernels;

/// How vectors are compared. Scores returned by searches are "larger is better": the inner
/// product, the cosine, or the *negated* squared Euclidean distance.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Metric {
    /// Inner product (for L2-normalised embeddings this is the cosine).
    #[default]
    InnerProduct,
    /// Cosine: vectors and queries are normalised on the way in, then compared by inner
    /// product. Zero vectors are rejected ([`Error::ZeroVector`]).
    Cosine,
    /// Squared Euclidean distance, negated.
    L2,
}

impl Metric {
    pub(crate) fn score(self, a: &[f32], b: &[f32]) -> f32 {
        match self {
            Metric::InnerProduct | Metric::Cosine => kernels::dot(a, b),
            Metric::L2 => -kernels::l2_squared(a, b),
        }
    }

    /// Scores `query` against each row of `block` into `out`.
    pub(crate) fn score_many(self, query: &[f32], block: &[f32], out: &mut [f32]) {
        match self {
            Metric::InnerProduct | Metric::Cosine => kernels::dot_one_to_many(query, block, out),
            Metric::L2 => {
                kernels::l2_one_to_many(query, block, out);
                for o in out.iter_mut() {
                    *o = -*o;
                }
            }
        }
    }

    pub(crate) fn tag(self) -> u8 {
        match self {
            Metric::InnerProduct => 0,
            Metric::Cosine => 1,
            Metric::L2 => 2,
        }
    }

    pub(crate) fn from_tag(tag: u8) -> Option<Self> {
        match tag {
            0 => Some(Metric::InnerProduct),
            1 => Some(Metric::Cosine),
            2 => Some(Metric::L2),
            _ => None,
        }
    }
}

/// Checks dimension and finiteness of one vector; `offset` shifts the reported position.
pub(crate) fn check_vector(dim: usize, v: &[f32], offset: usize) -> Result<()> {
    if v.len() != dim {
        return Err(Error::DimensionMismatch {
            expected: dim,
            got: v.len(),
        });
    }
    check_finite(v, offset)
}

/// Every value finite and at most [`nexus_simd::MAX_ABS`] in magnitude, so no score overflows.
pub(crate) fn check_finite(v: &[f32], offset: usize) -> Result<()> {
    // The common case in one vectorized pass; the scans below only name the value at fault.
    if nexus_simd::within_max_abs(v) {
        return Ok(());
    }
    if let Some(p) = v.iter().position(|x| !x.is_finite()) {
        return Err(Error::NonFinite {
            position: offset + p,
        });
    }
    match v.iter().position(|x| x.abs() > nexus_simd::MAX_ABS) {
        Some(p) => Err(Error::TooLarge {
            position: offset + p,
        }),
        None => Ok(()),
    }
}

/// Validates a query and returns it in the form the index compares (normalised for cosine).
pub(crate) fn prepare<'a>(
    metric: Metric,
    dim: usize,
    v: &'a [f32],
) -> Result<std::borrow::Cow<'a, [f32]>> {
    check_vector(dim, v, 0)?;
    if metric == Metric::Cosine {
        let mut owned = v.to_vec();
        normalize(&mut owned)?;
        Ok(std::borrow::Cow::Owned(owned))
    } else {
        Ok(std::borrow::Cow::Borrowed(v))
    }
}

/// Scales `v` to unit length. The f32 SIMD norm serves every vector whose squared norm is a
/// normal f32 (with |x| ≤ [`nexus_simd::MAX_ABS`] it cannot overflow); a vector so small that
/// it underflows goes through [`nexus_simd::normalize`]'s f64 sum instead of being reported as
/// zero.
pub(crate) fn normalize(v: &mut [f32]) -> Result<()> {
    let norm = kernels::dot(v, v).sqrt();
    if norm.is_normal() {
        let inv = 1.0 / norm;
        v.iter_mut().for_each(|x| *x *= inv);
        return Ok(());
    }
    match nexus_simd::normalize(v) {
        Ok(_) => Ok(()),
        Err(nexus_simd::Error::NonFinite { index }) => Err(Error::NonFinite { position: index }),
        Err(_) => Err(Error::ZeroVector),
    }
}
