//! Exact ground truth by brute force, and recall@k against it.
//!
//! Scores are accumulated in `f64` so that the reference does not inherit the rounding of the
//! `f32` kernels it is used to check; ties are broken towards the lower id.

use rayon::prelude::*;

use crate::error::{Error, Result};
use crate::vecs::Vectors;

/// How similarity is measured.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Metric {
    /// Larger inner product is better.
    InnerProduct,
    /// Larger cosine similarity is better (for L2-normalised data this equals inner product).
    Cosine,
    /// Smaller squared Euclidean distance is better.
    L2,
}

impl Metric {
    /// The score of `a` against `b` in `f64`, oriented so that larger is always better
    /// (L2 is negated).
    ///
    /// # Panics
    /// If the lengths differ.
    pub fn score(self, a: &[f32], b: &[f32]) -> f64 {
        assert_eq!(a.len(), b.len(), "vectors of different lengths");
        match self {
            Metric::InnerProduct => dot(a, b),
            Metric::Cosine => {
                let norms = (dot(a, a) * dot(b, b)).sqrt();
                if norms == 0.0 { 0.0 } else { dot(a, b) / norms }
            }
            Metric::L2 => -a
                .iter()
                .zip(b)
                .map(|(&x, &y)| {
                    let d = f64::from(x) - f64::from(y);
                    d * d
                })
                .sum::<f64>(),
        }
    }
}

fn dot(a: &[f32], b: &[f32]) -> f64 {
    a.iter()
        .zip(b)
        .map(|(&x, &y)| f64::from(x) * f64::from(y))
        .sum()
}

/// The exact `k` best base rows for every query, best first, ties to the lower id, as an
/// `ivecs`-shaped set (one row of `k` ids per query). Runs queries in parallel (rayon).
///
/// # Errors
/// [`Error::InvalidK`] if `k` is zero or larger than the base, [`Error::SizeMismatch`] if the
/// dimensions differ, [`Error::TooLarge`] if the base has more rows than `ivecs` ids can name.
pub fn exact_top_k(
    base: &Vectors<f32>,
    queries: &Vectors<f32>,
    k: usize,
    metric: Metric,
) -> Result<Vectors<i32>> {
    if k == 0 || k > base.len() {
        return Err(Error::InvalidK { k, max: base.len() });
    }
    if base.dim() != queries.dim() {
        return Err(Error::SizeMismatch {
            what: "query dimension",
            expected: base.dim(),
            got: queries.dim(),
        });
    }
    if base.len() > i32::MAX as usize {
        return Err(Error::TooLarge {
            what: "number of base vectors",
            value: base.len(),
            max: i32::MAX as usize,
        });
    }
    let rows: Vec<Vec<i32>> = queries
        .rows()
        .collect::<Vec<_>>()
        .into_par_iter()
        .map(|q| {
            let mut scored: Vec<(f64, u32)> = base
                .rows()
                .enumerate()
                .map(|(i, b)| (metric.score(q, b), i as u32))
                .collect();
            // Best first: higher score, then lower id.
            let order = |a: &(f64, u32), b: &(f64, u32)| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1));
            scored.select_nth_unstable_by(k - 1, order);
            scored.truncate(k);
            scored.sort_unstable_by(order);
            scored.into_iter().map(|(_, id)| id as i32).collect()
        })
        .collect();
    Vectors::from_rows(&rows)
}

/// Recall@k of one result list: the share of the first `k` true neighbours found among the
/// first `k` results. Missing results count as misses; duplicates count once.
///
/// # Panics
/// If `k` is zero or `truth` has fewer than `k` ids.
pub fn recall_one(truth: &[i32], found: &[u64], k: usize) -> f64 {
    assert!(
        k > 0 && truth.len() >= k,
        "k = {k} with {} true neighbours",
        truth.len()
    );
    let truth = &truth[..k];
    let mut seen: Vec<u64> = Vec::with_capacity(k);
    let mut hits = 0usize;
    for &id in found.iter().take(k) {
        if seen.contains(&id) {
            continue;
        }
        seen.push(id);
        if truth.iter().any(|&t| t as u64 == id) {
            hits += 1;
        }
    }
    hits as f64 / k as f64
}

/// Mean recall@k over all queries (see [`recall_one`]).
///
/// # Errors
/// [`Error::InvalidK`] if `k` is zero or exceeds the ground truth's width,
/// [`Error::SizeMismatch`] if the number of result lists differs from the number of
/// ground-truth rows.
pub fn recall_at_k<R: AsRef<[u64]>>(
    ground_truth: &Vectors<i32>,
    results: &[R],
    k: usize,
) -> Result<f64> {
    if k == 0 || k > ground_truth.dim() {
        return Err(Error::InvalidK {
            k,
            max: ground_truth.dim(),
        });
    }
    if results.len() != ground_truth.len() {
        return Err(Error::SizeMismatch {
            what: "number of result lists",
            expected: ground_truth.len(),
            got: results.len(),
        });
    }
    let total: f64 = ground_truth
        .rows()
        .zip(results)
        .map(|(t, r)| recall_one(t, r.as_ref(), k))
        .sum();
    Ok(total / results.len() as f64)
}
