//! Recall of every index against brute force, on random and real data.

mod common;
use common::*;
use nexus_index::{FlatIndex, HnswIndex, HnswParams, Index, Metric, QuantizedIndex, Traversal};

fn check_recall(
    index: &dyn Index,
    base: &[f32],
    ids: &[u64],
    queries: &[f32],
    dim: usize,
    metric: Metric,
    min: f64,
) -> f64 {
    let k = 10;
    let truth: Vec<Vec<u64>> = queries
        .chunks_exact(dim)
        .map(|q| brute_force(base, ids, dim, q, k, metric, &|_| true))
        .collect();
    let found: Vec<Vec<u64>> = queries
        .chunks_exact(dim)
        .map(|q| ids_of(&index.search(q, k, None).unwrap()))
        .collect();
    let r = recall(&truth, &found);
    assert!(r >= min, "recall {r} < {min}");
    r
}

#[test]
fn flat_is_exact_on_random_data() {
    let dim = 24;
    let base = random_vectors(3000, dim, 1);
    let ids: Vec<u64> = (0..3000).map(|i| i * 3 + 7).collect();
    let queries = random_vectors(30, dim, 2);
    for metric in [Metric::InnerProduct, Metric::L2] {
        let flat = flat_model(dim, metric, &ids, &base);
        assert_eq!(
            check_recall(&flat, &base, &ids, &queries, dim, metric, 1.0),
            1.0
        );
        // search_batch agrees with single searches.
        let batch = flat.search_batch(&queries, 10, None).unwrap();
        for (q, b) in queries.chunks_exact(dim).zip(&batch) {
            assert_eq!(ids_of(&flat.search(q, 10, None).unwrap()), ids_of(b));
        }
    }
}

#[test]
fn every_index_on_random_data() {
    let dim = 32;
    let n = 4000;
    let base = random_vectors(n, dim, 3);
    let ids: Vec<u64> = (0..n as u64).collect();
    let queries = random_vectors(50, dim, 4);
    for metric in [Metric::InnerProduct, Metric::L2] {
        let q = QuantizedIndex::new(dim, metric, 8).unwrap();
        q.add_batch(&ids, &base).unwrap();
        check_recall(&q, &base, &ids, &queries, dim, metric, 0.97);
        for traversal in [Traversal::F32, Traversal::Int8] {
            let h = HnswIndex::new(
                dim,
                HnswParams {
                    metric,
                    traversal,
                    ef_search: 128,
                    ..HnswParams::default()
                },
            )
            .unwrap();
            h.add_batch(&ids, &base).unwrap();
            check_recall(&h, &base, &ids, &queries, dim, metric, 0.9);
        }
    }
}

#[test]
fn every_index_on_real_data() {
    let ds = bundled();
    let dim = ds.base.dim();
    let n = 3000.min(ds.base.len());
    let base = &ds.base.as_flat()[..n * dim];
    let ids: Vec<u64> = (0..n as u64).collect();
    let queries = &ds.queries.as_flat()[..50 * dim];
    let metric = Metric::InnerProduct;
    let flat = FlatIndex::new(dim, metric).unwrap();
    flat.add_batch(&ids, base).unwrap();
    assert_eq!(
        check_recall(&flat, base, &ids, queries, dim, metric, 1.0),
        1.0
    );
    let q = QuantizedIndex::new(dim, metric, 4).unwrap();
    q.add_batch(&ids, base).unwrap();
    check_recall(&q, base, &ids, queries, dim, metric, 0.98);
    for traversal in [Traversal::F32, Traversal::Int8] {
        let h = HnswIndex::new(
            dim,
            HnswParams {
                traversal,
                ef_search: 100,
                ..HnswParams::default()
            },
        )
        .unwrap();
        h.add_batch(&ids, base).unwrap();
        check_recall(&h, base, &ids, queries, dim, metric, 0.95);
    }
}
