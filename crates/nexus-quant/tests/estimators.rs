//! Estimators against exact inner products (f64), on random data and on the bundled real
//! embeddings, with the error bounds stated on each test.

use nexus_dataset::{Dataset, bundled_dir};
use nexus_quant::{
    BinaryQuantizer, Clip, Int8Quantizer, Int8Range, Matryoshka, RABITQ_EPSILON0, RabitqQuantizer,
    Threshold,
};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

fn dot64(a: &[f32], b: &[f32]) -> f64 {
    a.iter()
        .zip(b)
        .map(|(&x, &y)| f64::from(x) * f64::from(y))
        .sum()
}

/// Roughly Gaussian values (a sum of four uniforms) with a shared offset, like embeddings.
fn random(rows: usize, dim: usize, seed: u64) -> Vec<f32> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    (0..rows * dim)
        .map(|i| {
            let g: f32 = (0..4).map(|_| rng.random_range(-1.0f32..1.0)).sum::<f32>() / 2.0;
            g + 0.3 * ((i % dim) as f32 / dim as f32)
        })
        .collect()
}

fn bundled() -> Dataset {
    Dataset::load(bundled_dir()).expect("the bundled dataset")
}

/// int8: every coordinate is within half a step of its code's value (all of the data lies in
/// the min/max range it was trained on), so `|score − ⟨q,x⟩| ≤ Σ |q_i| · step_i / 2`.
fn check_int8(base: &[f32], queries: &[f32], dim: usize) {
    for range in [Int8Range::PerDimension, Int8Range::Global] {
        let q = Int8Quantizer::train(range, Clip::MinMax, base, dim).unwrap();
        let codes = q.encode_batch(base).unwrap();
        let n = base.len() / dim;
        let mut scores = vec![0f32; n];
        for query in queries.chunks(dim) {
            let prepared = q.prepare_query(query).unwrap();
            prepared.scores(&codes, &mut scores);
            let bound: f64 = query
                .iter()
                .zip(q.step())
                .map(|(&x, &s)| f64::from(x.abs()) * f64::from(s) / 2.0)
                .sum();
            for (i, x) in base.chunks(dim).enumerate() {
                let exact = dot64(query, x);
                let err = (f64::from(scores[i]) - exact).abs();
                assert!(err <= bound * 1.001 + 1e-4, "{range:?}: {err} > {bound}");
                let code = &codes[i * dim..(i + 1) * dim];
                assert_eq!(scores[i], prepared.score(code));
                // The score is the inner product with the decoded vector.
                let decoded = dot64(query, &q.decode(code).unwrap());
                assert!((f64::from(scores[i]) - decoded).abs() < 1e-3);
            }
        }
    }
}

#[test]
fn int8_error_is_within_half_a_step_random() {
    let dim = 96;
    check_int8(&random(500, dim, 1), &random(10, dim, 2), dim);
}

#[test]
fn int8_error_is_within_half_a_step_real() {
    let d = bundled();
    let dim = d.base.dim();
    let base = &d.base.as_flat()[..2000 * dim];
    check_int8(base, &d.queries.as_flat()[..10 * dim], dim);
}

#[test]
fn int8_symmetric_equals_decoded_inner_product() {
    let d = bundled();
    let dim = d.base.dim();
    let base = &d.base.as_flat()[..500 * dim];
    let q = Int8Quantizer::train(Int8Range::Global, Clip::Percentile(99.9), base, dim).unwrap();
    let codes = q.encode_batch(base).unwrap();
    for (a, b) in codes.chunks(dim).zip(codes.chunks(dim).skip(1)).take(100) {
        let exact = dot64(&q.decode(a).unwrap(), &q.decode(b).unwrap());
        let got = f64::from(q.dot_codes(a, b).unwrap());
        assert!((got - exact).abs() < 1e-4, "{got} vs {exact}");
    }
}

/// Plain binary: Hamming against a popcount written here; the asymmetric score equals the
/// inner product with the decoded vector.
#[test]
fn binary_scores_match_definitions() {
    let d = bundled();
    let dim = d.base.dim();
    let base = &d.base.as_flat()[..300 * dim];
    for t in [Threshold::Sign, Threshold::Mean, Threshold::Median] {
        let q = BinaryQuantizer::train(t, base, dim).unwrap();
        let codes = q.encode_batch(base).unwrap();
        let w = q.words();
        let mut ham = vec![0u32; 300];
        let mut asym = vec![0f32; 300];
        for query in d.queries.rows().take(5) {
            let p = q.prepare_query(query).unwrap();
            p.hamming(&codes, &mut ham);
            p.scores(&codes, &mut asym);
            for (i, code) in codes.chunks(w).enumerate() {
                let mut differ = 0;
                for j in 0..dim {
                    let a = (p.code()[j / 64] >> (j % 64)) & 1;
                    let b = (code[j / 64] >> (j % 64)) & 1;
                    differ += u32::from(a != b);
                }
                assert_eq!(ham[i], differ);
                let decoded = dot64(query, &q.decode(code).unwrap());
                assert!((f64::from(asym[i]) - decoded).abs() < 1e-4);
            }
        }
    }
}

/// RaBitQ's error `est − ⟨x,q⟩` is close to Gaussian with standard deviation
/// `‖x−c‖·‖q−c‖·√((1−a²)/a²)/√(D−1)`. Over many pairs, the bound with the paper's ε₀ = 1.9
/// must fail for 2–9 % of pairs (≈ 5.7 % for a Gaussian: calibrated, neither loose nor
/// optimistic), and the bound with ε₀ = 3.3 for at most 0.5 % (≈ 0.1 %). Returns the mean
/// error relative to `‖x−c‖·‖q−c‖`.
fn check_rabitq_bound(base: &[f32], queries: &[f32], dim: usize, seed: u64) -> f64 {
    let q = RabitqQuantizer::train(base, dim, seed).unwrap();
    let codes = q.encode_batch(base).unwrap();
    let n = base.len() / dim;
    let w = q.words();
    let (mut outside_19, mut outside_33, mut pairs, mut abs_err) = (0usize, 0usize, 0usize, 0.0);
    let mut est = vec![0f32; n];
    for query in queries.chunks(dim) {
        let p = q.prepare_query(query).unwrap();
        p.estimates(&codes.bits, &codes.factors, &mut est);
        for (i, x) in base.chunks(dim).enumerate() {
            let e = p.estimate_with_bound(&codes.bits[i * w..(i + 1) * w], codes.factors[i]);
            assert!((e.value - est[i]).abs() <= 1e-5 * e.value.abs().max(1.0));
            let err = (f64::from(e.value) - dot64(query, x)).abs();
            let qc: Vec<f32> = query.iter().zip(q.centroid()).map(|(a, c)| a - c).collect();
            abs_err += err / (f64::from(codes.factors[i].norm) * dot64(&qc, &qc).sqrt());
            pairs += 1;
            outside_19 += usize::from(err > f64::from(e.bound(RABITQ_EPSILON0)) + 1e-6);
            outside_33 += usize::from(err > f64::from(e.bound(3.3)) + 1e-6);
        }
    }
    let (r19, r33) = (
        outside_19 as f64 / pairs as f64,
        outside_33 as f64 / pairs as f64,
    );
    assert!(
        (0.02..=0.09).contains(&r19),
        "ε₀ = 1.9: {r19} of {pairs} pairs outside"
    );
    assert!(r33 <= 0.005, "ε₀ = 3.3: {r33} of {pairs} pairs outside");
    abs_err / pairs as f64
}

#[test]
fn rabitq_error_bound_holds_random() {
    let dim = 128;
    let rel_err = check_rabitq_bound(&random(1000, dim, 5), &random(20, dim, 6), dim, 77);
    // ≈ E|N(0,1)| · √((1−a²)/a²) / √(D−1) with a ≈ 0.8: 0.8 · 0.75 / 11.3 ≈ 0.05.
    assert!(rel_err < 0.08, "mean relative error {rel_err}");
}

#[test]
fn rabitq_error_bound_holds_real() {
    let d = bundled();
    let dim = d.base.dim();
    let base = &d.base.as_flat()[..2000 * dim];
    let rel_err = check_rabitq_bound(base, &d.queries.as_flat()[..20 * dim], dim, 1);
    // D = 512 here: ≈ 0.8 · 0.75 / 22.6 ≈ 0.027.
    assert!(rel_err < 0.05, "mean relative error {rel_err}");
}

/// Unbiasedness over the random rotation: the mean of the estimates over many seeds is the
/// exact inner product within 4 standard errors.
#[test]
fn rabitq_is_unbiased_over_rotations() {
    let dim = 64;
    let base = random(50, dim, 9);
    let x = &base[..dim];
    let query = random(1, dim, 10);
    let exact = dot64(&query, x);
    let seeds = 400;
    let ests: Vec<f64> = (0..seeds)
        .map(|s| {
            let q = RabitqQuantizer::train(&base, dim, s).unwrap();
            let code = q.encode(x).unwrap();
            f64::from(
                q.prepare_query(&query)
                    .unwrap()
                    .estimate(&code.bits, code.factors),
            )
        })
        .collect();
    let mean = ests.iter().sum::<f64>() / seeds as f64;
    let var = ests.iter().map(|e| (e - mean).powi(2)).sum::<f64>() / (seeds - 1) as f64;
    let se = (var / seeds as f64).sqrt();
    assert!(var > 0.0);
    assert!(
        (mean - exact).abs() <= 4.0 * se,
        "mean {mean} vs exact {exact} (se {se})"
    );
}

/// Ranking quality on real data: top-100 by the RaBitQ estimate, reranked exactly, finds the
/// true top-10 (recall@10 ≥ 0.97 on the bundled queries; the bench measures the full table).
#[test]
fn rabitq_prefilter_recall_real() {
    let d = bundled();
    let dim = d.base.dim();
    let q = RabitqQuantizer::train(d.base.as_flat(), dim, 1).unwrap();
    let codes = q.encode_batch(d.base.as_flat()).unwrap();
    let mut est = vec![0f32; d.base.len()];
    let mut found = Vec::new();
    for query in d.queries.rows() {
        q.prepare_query(query)
            .unwrap()
            .estimates(&codes.bits, &codes.factors, &mut est);
        let mut ids: Vec<usize> = (0..est.len()).collect();
        ids.sort_by(|&a, &b| est[b].total_cmp(&est[a]));
        let mut top: Vec<(f64, u64)> = ids[..100]
            .iter()
            .map(|&i| (dot64(query, d.base.row(i)), i as u64))
            .collect();
        top.sort_by(|a, b| b.0.total_cmp(&a.0));
        found.push(top.iter().map(|t| t.1).collect::<Vec<_>>());
    }
    let recall = nexus_dataset::recall_at_k(&d.ground_truth, &found, 10).unwrap();
    assert!(recall >= 0.97, "recall@10 {recall}");
}

#[test]
fn matryoshka_truncates_and_renormalises() {
    let d = bundled();
    let dim = d.base.dim();
    let base = &d.base.as_flat()[..50 * dim];
    let m = Matryoshka::new(dim, 128).unwrap();
    let out = m.encode_batch(base).unwrap();
    for (x, t) in base.chunks(dim).zip(out.chunks(128)) {
        let norm = dot64(&x[..128], &x[..128]).sqrt();
        for (a, b) in x[..128].iter().zip(t) {
            assert!((f64::from(*a) / norm - f64::from(*b)).abs() < 1e-6);
        }
    }
    // Full width on unit vectors is the identity.
    let full = Matryoshka::new(dim, dim)
        .unwrap()
        .encode_batch(base)
        .unwrap();
    for (a, b) in base.iter().zip(&full) {
        assert!((a - b).abs() < 1e-6);
    }
}
