//! Cosine-metric recall of every index against an exact brute force computed here, in f64,
//! from the raw (unnormalised) vectors: `a·b / (|a| |b|)`.
//!
//! The vectors get norms spread over six orders of magnitude, so the cosine ranking is far
//! from the inner-product ranking (checked below): an index that skipped normalisation, or
//! normalised only one side, fails these tests.

use nexus_index::{
    Error, FlatIndex, HnswIndex, HnswParams, IdSet, Index, Metric, QuantizedIndex, Traversal,
};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

const K: usize = 10;

/// `n` vectors of `dim` values in [-1, 1), each scaled by 10^u with u uniform in [-3, 3).
fn scaled_vectors(n: usize, dim: usize, seed: u64) -> Vec<f32> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut out = Vec::with_capacity(n * dim);
    for _ in 0..n {
        let scale = 10f32.powf(rng.random_range(-3.0f32..3.0));
        out.extend((0..dim).map(|_| rng.random_range(-1.0f32..1.0) * scale));
    }
    out
}

/// Clustered data (as embeddings are): 40 random centres, each point a centre plus noise, then
/// scaled as in [`scaled_vectors`].
fn clustered_vectors(n: usize, dim: usize, seed: u64) -> Vec<f32> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let centres: Vec<Vec<f32>> = (0..40)
        .map(|_| (0..dim).map(|_| rng.random_range(-1.0f32..1.0)).collect())
        .collect();
    let mut out = Vec::with_capacity(n * dim);
    for _ in 0..n {
        let c = &centres[rng.random_range(0..centres.len())];
        let scale = 10f32.powf(rng.random_range(-3.0f32..3.0));
        out.extend(
            c.iter()
                .map(|&x| (x + rng.random_range(-0.3f32..0.3)) * scale),
        );
    }
    out
}

fn norm(v: &[f32]) -> f64 {
    v.iter().map(|&x| f64::from(x).powi(2)).sum::<f64>().sqrt()
}

fn dot(a: &[f32], b: &[f32]) -> f64 {
    a.iter()
        .zip(b)
        .map(|(&x, &y)| f64::from(x) * f64::from(y))
        .sum()
}

fn cosine(a: &[f32], b: &[f32]) -> f64 {
    dot(a, b) / (norm(a) * norm(b))
}

/// The exact top-`k` `(id, score)` by `score` among allowed ids, best first, ties to the lower id.
fn brute_force(
    base: &[f32],
    ids: &[u64],
    dim: usize,
    q: &[f32],
    score: fn(&[f32], &[f32]) -> f64,
    allow: &dyn Fn(u64) -> bool,
) -> Vec<(u64, f64)> {
    let mut all: Vec<(u64, f64)> = base
        .chunks_exact(dim)
        .zip(ids)
        .filter(|(_, id)| allow(**id))
        .map(|(v, &id)| (id, score(q, v)))
        .collect();
    all.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    all.truncate(K);
    all
}

/// Mean share of the true top-`K` ids found in `found`'s top-`K`.
fn recall(truth: &[Vec<(u64, f64)>], found: &[Vec<(u64, f32)>]) -> f64 {
    let (mut hit, mut total) = (0, 0);
    for (t, f) in truth.iter().zip(found) {
        total += t.len();
        hit += t
            .iter()
            .filter(|(id, _)| f.iter().any(|h| h.0 == *id))
            .count();
    }
    hit as f64 / total as f64
}

struct Case {
    dim: usize,
    base: Vec<f32>,
    ids: Vec<u64>,
    queries: Vec<f32>,
}

impl Case {
    fn new(base: Vec<f32>, queries: Vec<f32>, dim: usize) -> Self {
        // Ids that are not row numbers, so a row/id mix-up shows.
        let ids = (0..(base.len() / dim) as u64).map(|i| i * 5 + 3).collect();
        Self {
            dim,
            base,
            ids,
            queries,
        }
    }

    fn truth(&self, allow: &dyn Fn(u64) -> bool) -> Vec<Vec<(u64, f64)>> {
        self.queries
            .chunks_exact(self.dim)
            .map(|q| brute_force(&self.base, &self.ids, self.dim, q, cosine, allow))
            .collect()
    }

    fn search(
        &self,
        index: &dyn Index,
        filter: Option<&dyn nexus_index::Filter>,
    ) -> Vec<Vec<(u64, f32)>> {
        self.queries
            .chunks_exact(self.dim)
            .map(|q| index.search(q, K, filter).unwrap())
            .collect()
    }

    fn hnsw(&self, traversal: Traversal) -> HnswIndex {
        let h = HnswIndex::new(
            self.dim,
            HnswParams {
                metric: Metric::Cosine,
                traversal,
                ef_search: 128,
                ..HnswParams::default()
            },
        )
        .unwrap();
        h.add_batch(&self.ids, &self.base).unwrap();
        h
    }
}

/// Recall of every index on `case`, with the floors the other recall tests use.
fn every_index(case: &Case) {
    let truth = case.truth(&|_| true);

    let flat = FlatIndex::new(case.dim, Metric::Cosine).unwrap();
    flat.add_batch(&case.ids, &case.base).unwrap();
    let found = case.search(&flat, None);
    assert_eq!(recall(&truth, &found), 1.0, "flat");
    // The scores are the cosines.
    for (t, f) in truth.iter().zip(&found) {
        for ((_, want), (_, got)) in t.iter().zip(f) {
            assert!(
                (f64::from(*got) - want).abs() < 1e-4,
                "score {got} vs cosine {want}"
            );
        }
    }

    let quantized = QuantizedIndex::new(case.dim, Metric::Cosine, 8).unwrap();
    quantized.add_batch(&case.ids, &case.base).unwrap();
    let r = recall(&truth, &case.search(&quantized, None));
    assert!(r >= 0.97, "quantized: recall {r}");

    for traversal in [Traversal::F32, Traversal::Int8] {
        let r = recall(&truth, &case.search(&case.hnsw(traversal), None));
        assert!(r >= 0.9, "hnsw {traversal:?}: recall {r}");
    }
}

#[test]
fn the_data_separates_cosine_from_inner_product() {
    // Without this, an index that ranked by raw inner product could pass the tests below.
    let dim = 32;
    let case = Case::new(
        scaled_vectors(4000, dim, 11),
        scaled_vectors(50, dim, 12),
        dim,
    );
    let by_cosine = case.truth(&|_| true);
    let by_dot: Vec<Vec<(u64, f32)>> = case
        .queries
        .chunks_exact(dim)
        .map(|q| {
            brute_force(&case.base, &case.ids, dim, q, dot, &|_| true)
                .into_iter()
                .map(|(id, s)| (id, s as f32))
                .collect()
        })
        .collect();
    let overlap = recall(&by_cosine, &by_dot);
    assert!(
        overlap < 0.3,
        "inner product already finds {overlap} of the cosine top-k"
    );

    // And an inner-product index on the same data misses the cosine neighbours.
    let ip = FlatIndex::new(dim, Metric::InnerProduct).unwrap();
    ip.add_batch(&case.ids, &case.base).unwrap();
    let r = recall(&by_cosine, &case.search(&ip, None));
    assert!(
        r < 0.3,
        "an inner-product index recalls {r} of the cosine top-k"
    );
}

#[test]
fn every_index_on_scaled_random_data() {
    let dim = 32;
    every_index(&Case::new(
        scaled_vectors(4000, dim, 1),
        scaled_vectors(50, dim, 2),
        dim,
    ));
}

#[test]
fn every_index_on_scaled_clustered_data() {
    let dim = 48;
    every_index(&Case::new(
        clustered_vectors(5000, dim, 3),
        clustered_vectors(50, dim, 4),
        dim,
    ));
}

#[test]
fn filtered_cosine_search_against_brute_force() {
    let dim = 32;
    let case = Case::new(
        clustered_vectors(4000, dim, 5),
        clustered_vectors(40, dim, 6),
        dim,
    );
    // A broad filter (half the ids, walked in the graph) and a narrow one (1 %, an exact scan
    // of the allowed ids).
    let half = |id: u64| id.is_multiple_of(2);
    let narrow: IdSet = case
        .ids
        .iter()
        .copied()
        .filter(|id| id % 100 == 3)
        .collect();
    for traversal in [Traversal::F32, Traversal::Int8] {
        let h = case.hnsw(traversal);
        let r = recall(&case.truth(&half), &case.search(&h, Some(&half)));
        assert!(r >= 0.9, "hnsw {traversal:?}, half: recall {r}");
        let found = case.search(&h, Some(&narrow));
        assert!(found.iter().flatten().all(|(id, _)| narrow.contains(*id)));
        let r = recall(&case.truth(&|id| narrow.contains(id)), &found);
        assert_eq!(r, 1.0, "hnsw {traversal:?}, 1 % filter: recall {r}");
    }
}

#[test]
fn zero_vectors_are_rejected_under_cosine() {
    let dim = 4;
    let flat = FlatIndex::new(dim, Metric::Cosine).unwrap();
    let hnsw = HnswIndex::new(
        dim,
        HnswParams {
            metric: Metric::Cosine,
            ..HnswParams::default()
        },
    )
    .unwrap();
    for index in [&flat as &dyn Index, &hnsw] {
        assert!(matches!(index.add(1, &[0.0; 4]), Err(Error::ZeroVector)));
        index.add(2, &[1.0, 0.0, 0.0, 0.0]).unwrap();
        assert!(matches!(
            index.search(&[0.0; 4], 1, None),
            Err(Error::ZeroVector)
        ));
        assert_eq!(index.len(), 1);
    }
}
