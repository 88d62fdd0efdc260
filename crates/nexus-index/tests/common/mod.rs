//! Shared helpers for the integration tests.
#![allow(dead_code, unreachable_pub)]

use nexus_index::{FlatIndex, Index, Metric};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

pub fn random_vectors(n: usize, dim: usize, seed: u64) -> Vec<f32> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    (0..n * dim)
        .map(|_| rng.random_range(-1.0f32..1.0))
        .collect()
}

/// Exact top-k ids in f64 with ties to the lower id: the independent reference.
pub fn brute_force(
    base: &[f32],
    ids: &[u64],
    dim: usize,
    q: &[f32],
    k: usize,
    metric: Metric,
    allow: &dyn Fn(u64) -> bool,
) -> Vec<u64> {
    let mut scored: Vec<(f64, u64)> = base
        .chunks_exact(dim)
        .zip(ids)
        .filter(|(_, id)| allow(**id))
        .map(|(v, &id)| {
            let s = match metric {
                Metric::L2 => -v
                    .iter()
                    .zip(q)
                    .map(|(a, b)| (f64::from(*a) - f64::from(*b)).powi(2))
                    .sum::<f64>(),
                _ => v
                    .iter()
                    .zip(q)
                    .map(|(a, b)| f64::from(*a) * f64::from(*b))
                    .sum::<f64>(),
            };
            (s, id)
        })
        .collect();
    scored.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
    scored.into_iter().take(k).map(|(_, id)| id).collect()
}

pub fn recall(truth: &[Vec<u64>], found: &[Vec<u64>]) -> f64 {
    let mut hit = 0usize;
    let mut total = 0usize;
    for (t, f) in truth.iter().zip(found) {
        total += t.len();
        hit += t.iter().filter(|id| f.contains(id)).count();
    }
    hit as f64 / total.max(1) as f64
}

pub fn ids_of(hits: &[(u64, f32)]) -> Vec<u64> {
    hits.iter().map(|h| h.0).collect()
}

pub fn flat_model(dim: usize, metric: Metric, ids: &[u64], base: &[f32]) -> FlatIndex {
    let f = FlatIndex::new(dim, metric).unwrap();
    f.add_batch(ids, base).unwrap();
    f
}

pub fn bundled() -> nexus_dataset::Dataset {
    nexus_dataset::Dataset::load(nexus_dataset::bundled_dir()).expect("bundled dataset")
}
