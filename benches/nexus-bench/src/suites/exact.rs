//! The `exact` suite: brute-force top-10 with plain scalar code (f64 scores, a bounded heap),
//! checked against the dataset's independently computed ground truth. On dev-20k its recall
//! must be exactly 1.0: a real check of the reader and the scan.
//!
//! Rows: `exact/recall10` (recall) and `exact/qps_1t` (qps), `impl: nexus-scalar`.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use nexus_dataset::{Metric, Vectors, recall_at_k};

use crate::BenchResult;
use crate::context::Context;
use crate::report::{Row, median, progress, time_reps};

const SUITE: &str = "exact";
const K: usize = 10;

/// A score ordered totally, then by id (lower id wins ties).
struct Scored(f64, Reverse<u64>);
impl PartialEq for Scored {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other).is_eq()
    }
}
impl Eq for Scored {}
impl PartialOrd for Scored {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Scored {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.0.total_cmp(&other.0).then(self.1.cmp(&other.1))
    }
}

/// Top-`k` ids by `metric`, best first, keeping a heap of only `k` entries.
fn top_k(base: &Vectors<f32>, query: &[f32], k: usize, metric: Metric) -> Vec<u64> {
    // Min-heap of the best k so far: its top is the worst kept.
    let mut heap: BinaryHeap<Reverse<Scored>> = BinaryHeap::with_capacity(k + 1);
    for (i, row) in base.rows().enumerate() {
        let s = Scored(metric.score(query, row), Reverse(i as u64));
        if heap.len() < k {
            heap.push(Reverse(s));
        } else if heap.peek().is_some_and(|worst| s > worst.0) {
            heap.pop();
            heap.push(Reverse(s));
        }
    }
    heap.into_sorted_vec()
        .into_iter()
        .map(|Reverse(s)| s.1.0)
        .collect()
}

pub(crate) fn run(ctx: &Context) -> BenchResult<Vec<Row>> {
    let ds = ctx.dataset()?;
    let metric = ds.search_metric();
    let bar = progress(ds.queries.len() as u64, "exact top-10 (recall)");
    let found: Vec<Vec<u64>> = ds
        .queries
        .rows()
        .map(|q| {
            bar.inc(1);
            top_k(&ds.base, q, K, metric)
        })
        .collect();
    bar.finish_and_clear();
    let recall = recall_at_k(&ds.ground_truth, &found, K)?;

    // Throughput on one thread: the full query set, or a slice of it when quick.
    let n_timed = if ctx.quick {
        ds.queries.len().min(50)
    } else {
        ds.queries.len()
    };
    let reps = if ctx.quick { 1 } else { 5 };
    let bar = progress(reps as u64, "exact top-10 (timing)");
    let secs = time_reps(reps, || {
        for q in ds.queries.rows().take(n_timed) {
            std::hint::black_box(top_k(&ds.base, std::hint::black_box(q), K, metric));
        }
        bar.inc(1);
    });
    bar.finish_and_clear();
    let qps: Vec<f64> = secs.iter().map(|s| n_timed as f64 / s).collect();
    eprintln!(
        "exact: recall@10 {recall:.4}, {:.1} qps (1 thread, scalar f64)",
        median(&qps)
    );
    Ok(vec![
        Row::new(SUITE, "exact/recall10", "nexus-scalar", recall, "recall"),
        Row::from_samples(SUITE, "exact/qps_1t", "nexus-scalar", &qps, "qps"),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounded_heap_matches_full_sort() {
        let rows: Vec<Vec<f32>> = (0..200)
            .map(|i| {
                (0..8)
                    .map(|j| (((i * 31 + j * 17) % 23) as f32) - 11.0)
                    .collect()
            })
            .collect();
        let base = Vectors::from_rows(&rows).unwrap();
        let query = [0.5f32, -1.0, 2.0, 0.0, 1.0, -0.5, 0.25, 3.0];
        for metric in [Metric::InnerProduct, Metric::L2] {
            let truth = nexus_dataset::exact_top_k(
                &base,
                &Vectors::from_rows(&[query]).unwrap(),
                10,
                metric,
            )
            .unwrap();
            let got = top_k(&base, &query, 10, metric);
            let want: Vec<u64> = truth.row(0).iter().map(|&i| i as u64).collect();
            assert_eq!(got, want, "{metric:?}");
        }
    }
}
