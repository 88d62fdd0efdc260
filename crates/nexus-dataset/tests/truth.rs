//! Ground truth and recall against independent computations.

use nexus_dataset::{Error, Metric, Vectors, exact_top_k, recall_at_k, recall_one};
use proptest::prelude::*;

/// The straightforward reference: score everything, sort everything.
fn sorted_reference(base: &[Vec<f32>], q: &[f32], k: usize, metric: Metric) -> Vec<i32> {
    let mut all: Vec<(f64, usize)> = base
        .iter()
        .enumerate()
        .map(|(i, b)| (metric.score(q, b), i))
        .collect();
    all.sort_by(|a, b| b.0.partial_cmp(&a.0).unwrap().then(a.1.cmp(&b.1)));
    all.into_iter().take(k).map(|(_, i)| i as i32).collect()
}

proptest! {
    #[test]
    fn top_k_equals_full_sort(
        base in prop::collection::vec(prop::collection::vec(-4i8..4, 5), 1..60),
        q in prop::collection::vec(-4i8..4, 5),
        k in 1usize..10,
        m in 0usize..3,
    ) {
        // Small integers make exact ties common: ties must go to the lower id.
        let base: Vec<Vec<f32>> = base.iter().map(|r| r.iter().map(|&x| f32::from(x)).collect()).collect();
        let q: Vec<f32> = q.iter().map(|&x| f32::from(x)).collect();
        let k = k.min(base.len());
        let metric = [Metric::InnerProduct, Metric::L2, Metric::Cosine][m];
        let set = Vectors::from_rows(&base).unwrap();
        let got = exact_top_k(&set, &Vectors::from_rows(std::slice::from_ref(&q)).unwrap(), k, metric).unwrap();
        prop_assert_eq!(got.row(0).to_vec(), sorted_reference(&base, &q, k, metric));
    }

    #[test]
    fn write_then_read_is_identity(rows in prop::collection::vec(prop::collection::vec(-1e6f32..1e6, 7), 1..20)) {
        let dir = tempfile::tempdir().unwrap();
        let v = Vectors::from_rows(&rows).unwrap();
        v.write(dir.path().join("x.fvecs")).unwrap();
        prop_assert_eq!(nexus_dataset::read_fvecs(dir.path().join("x.fvecs")).unwrap(), v);
    }
}

#[test]
fn recall_counts_hits_among_first_k() {
    let truth = [3, 1, 4, 0];
    assert_eq!(recall_one(&truth, &[3, 1], 2), 1.0);
    assert_eq!(recall_one(&truth, &[1, 9], 2), 0.5);
    // Only the first k results count, duplicates count once, missing ones are misses.
    assert_eq!(recall_one(&truth, &[9, 9, 3, 1], 2), 0.0);
    assert_eq!(recall_one(&truth, &[3, 3], 2), 0.5);
    assert_eq!(recall_one(&truth, &[], 2), 0.0);
    let gt = Vectors::from_rows(&[[0, 1], [2, 3]]).unwrap();
    assert_eq!(
        recall_at_k(&gt, &[vec![0u64, 1], vec![3, 5]], 2).unwrap(),
        0.75
    );
    assert!(matches!(
        recall_at_k(&gt, &[vec![0u64]], 2),
        Err(Error::SizeMismatch {
            what: "number of result lists",
            expected: 2,
            got: 1
        })
    ));
    assert!(matches!(
        recall_at_k(&gt, &[vec![0u64], vec![1]], 3),
        Err(Error::InvalidK { k: 3, max: 2 })
    ));
    assert!(matches!(
        recall_at_k(&gt, &[vec![0u64], vec![1]], 0),
        Err(Error::InvalidK { k: 0, max: 2 })
    ));
}

#[test]
fn bad_arguments_are_typed_errors() {
    let base = Vectors::from_rows(&[[1.0f32, 0.0], [0.0, 1.0], [0.6, 0.8]]).unwrap();
    let q3 = Vectors::from_rows(&[[1.0f32, 0.0, 0.0]]).unwrap();
    let q2 = Vectors::from_rows(&[[1.0f32, 0.0]]).unwrap();
    for k in [0, 4] {
        let e = exact_top_k(&base, &q2, k, Metric::L2).unwrap_err();
        assert!(
            matches!(e, Error::InvalidK { k: got, max: 3 } if got == k),
            "{e}"
        );
    }
    let e = exact_top_k(&base, &q3, 1, Metric::L2).unwrap_err();
    assert!(
        matches!(
            e,
            Error::SizeMismatch {
                what: "query dimension",
                expected: 2,
                got: 3
            }
        ),
        "{e}"
    );
    assert_eq!(e.to_string(), "query dimension is 3, expected 2");

    assert!(matches!(
        Vectors::from_flat(3, vec![0.0f32; 7]),
        Err(Error::NotRows { len: 7, dim: 3 })
    ));
    assert!(matches!(
        Vectors::from_flat(0, Vec::<f32>::new()),
        Err(Error::NotRows { len: 0, dim: 0 })
    ));
    assert!(matches!(
        Vectors::<f32>::from_rows(&[] as &[[f32; 2]]),
        Err(Error::NotRows { .. })
    ));
    assert!(matches!(
        Vectors::from_rows(&[vec![1.0f32, 2.0], vec![3.0]]),
        Err(Error::RowLength {
            row: 1,
            expected: 2,
            got: 1
        })
    ));
}

#[test]
fn bundled_dataset_ground_truth_is_exact() {
    let d = nexus_dataset::Dataset::load(nexus_dataset::bundled_dir()).unwrap();
    assert_eq!(
        (d.base.len(), d.base.dim(), d.queries.len()),
        (5000, 384, 200)
    );
    // Recompute a slice of the shipped ground truth independently.
    let queries = d.queries.truncated(10);
    let truth = exact_top_k(&d.base, &queries, 100, d.search_metric()).unwrap();
    for i in 0..10 {
        assert_eq!(truth.row(i), d.ground_truth.row(i), "query {i}");
    }
    // Every vector is L2-normalised, as meta.json says.
    for row in d.base.rows() {
        let n: f64 = row.iter().map(|&x| f64::from(x) * f64::from(x)).sum();
        assert!((n - 1.0).abs() < 1e-4);
    }
}
