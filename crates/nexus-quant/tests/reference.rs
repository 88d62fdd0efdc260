//! Codes bit for bit equal to a straightforward scalar implementation written here, apart from
//! the library (sorting instead of selection, a dense Hadamard matrix in f64 instead of the
//! fast transform, one bit at a time).

use nexus_quant::{
    BinaryQuantizer, Clip, Int8Quantizer, Int8Range, Int8Symmetric, RabitqQuantizer, Threshold,
};
use rand::{Rng, RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;

fn random(rows: usize, dim: usize, seed: u64) -> Vec<f32> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    (0..rows * dim)
        .map(|i| rng.random_range(-1.0f32..1.0) + if i % dim < 3 { 0.4 } else { 0.0 })
        .collect()
}

fn col(flat: &[f32], dim: usize, j: usize) -> Vec<f32> {
    flat.chunks(dim).map(|r| r[j]).collect()
}

fn sorted(mut v: Vec<f32>) -> Vec<f32> {
    v.sort_by(f32::total_cmp);
    v
}

fn pack(bits: &[bool]) -> Vec<u64> {
    let mut words = vec![0u64; bits.len().div_ceil(64)];
    for (i, &b) in bits.iter().enumerate() {
        if b {
            words[i / 64] += 1u64 << (i % 64);
        }
    }
    words
}

#[test]
fn binary_codes_match_reference() {
    for dim in [1, 63, 64, 65, 130] {
        let rows = 41;
        let data = random(rows, dim, dim as u64);
        for t in [Threshold::Sign, Threshold::Mean, Threshold::Median] {
            let q = BinaryQuantizer::train(t, &data, dim).unwrap();
            let thresholds: Vec<f32> = (0..dim)
                .map(|j| {
                    let c = col(&data, dim, j);
                    match t {
                        Threshold::Sign => 0.0,
                        Threshold::Mean => {
                            (c.iter().map(|&x| f64::from(x)).sum::<f64>() / rows as f64) as f32
                        }
                        // rank round((n − 1) / 2) = 20 of 41
                        Threshold::Median => sorted(c)[20],
                        other => panic!("no reference for {other:?}"),
                    }
                })
                .collect();
            assert_eq!(q.thresholds(), &thresholds[..], "{t:?} {dim}");
            let codes = q.encode_batch(&data).unwrap();
            assert_eq!(codes.len(), rows * dim.div_ceil(64));
            let expected: Vec<u64> = data
                .chunks(dim)
                .flat_map(|r| {
                    pack(
                        &r.iter()
                            .zip(&thresholds)
                            .map(|(x, t)| x > t)
                            .collect::<Vec<_>>(),
                    )
                })
                .collect();
            assert_eq!(codes, expected, "{t:?} {dim}");
            // encode and encode_batch agree.
            for (r, code) in data.chunks(dim).zip(codes.chunks(q.words())) {
                assert_eq!(q.encode(r).unwrap(), code);
            }
            // Padding bits are zero.
            if dim % 64 != 0 {
                for code in codes.chunks(q.words()) {
                    assert_eq!(code[code.len() - 1] >> (dim % 64), 0);
                }
            }
        }
    }
}

#[test]
fn median_of_an_even_sample_is_the_upper_middle() {
    let data = [4.0f32, 1.0, 3.0, 2.0];
    let q = BinaryQuantizer::train(Threshold::Median, &data, 1).unwrap();
    assert_eq!(q.thresholds(), &[3.0]); // sorted [1, 2, 3, 4], rank round(1.5) = 2
}

fn int8_reference(data: &[f32], dim: usize, lo: &[f32], hi: &[f32]) -> Vec<i8> {
    let mut out = Vec::new();
    for r in data.chunks(dim) {
        for j in 0..dim {
            let step = if hi[j] > lo[j] {
                (hi[j] - lo[j]) / 255.0
            } else {
                1.0
            };
            let level = ((r[j] - lo[j]) / step).round();
            let level = if level < 0.0 {
                0
            } else if level > 255.0 {
                255
            } else {
                level as i32
            };
            out.push((level - 128) as i8);
        }
    }
    out
}

#[test]
fn int8_codes_match_reference() {
    let dim = 37;
    let rows = 101;
    let data = random(rows, dim, 11);
    let queries = random(20, dim, 12); // partly outside the trained range: clamped
    for clip in [Clip::MinMax, Clip::Percentile(99.0), Clip::Percentile(90.0)] {
        // Nearest-rank percentiles of 101 values: rank round(p · 100).
        let rank = |p: f32| (f64::from(p) / 100.0 * 100.0).round() as usize;
        let (lo, hi): (Vec<f32>, Vec<f32>) = (0..dim)
            .map(|j| {
                let c = sorted(col(&data, dim, j));
                match clip {
                    Clip::MinMax => (c[0], c[rows - 1]),
                    Clip::Percentile(p) => (c[rank(100.0 - p)], c[rank(p)]),
                    other => panic!("no reference for {other:?}"),
                }
            })
            .unzip();
        let q = Int8Quantizer::train(Int8Range::PerDimension, clip, &data, dim).unwrap();
        assert_eq!(q.lo(), &lo[..]);
        for set in [&data, &queries] {
            assert_eq!(
                q.encode_batch(set).unwrap(),
                int8_reference(set, dim, &lo, &hi),
                "{clip:?}"
            );
        }

        let all = sorted(data.clone());
        let (glo, ghi) = match clip {
            Clip::MinMax => (all[0], all[all.len() - 1]),
            Clip::Percentile(p) => {
                let last = (all.len() - 1) as f64;
                let at = |q: f64| all[(q * last).round() as usize];
                (at(1.0 - f64::from(p) / 100.0), at(f64::from(p) / 100.0))
            }
            other => panic!("no reference for {other:?}"),
        };
        let g = Int8Quantizer::train(Int8Range::Global, clip, &data, dim).unwrap();
        assert_eq!(
            g.encode_batch(&queries).unwrap(),
            int8_reference(&queries, dim, &vec![glo; dim], &vec![ghi; dim])
        );
    }
}

/// The symmetric codec in f64: scale = max |x| / 127 per dimension (1 for an all-zero one),
/// code = round(x / scale) clamped to ±127, with the quotient taken to f32 precision first
/// (an f64 quotient rounded to f32 is the correctly rounded f32 quotient) so that ties at .5
/// fall the same way.
fn symmetric_scales_reference(data: &[f32], dim: usize) -> Vec<f32> {
    (0..dim)
        .map(|j| {
            let m = col(data, dim, j)
                .iter()
                .map(|&x| f64::from(x).abs())
                .fold(0.0f64, f64::max);
            if m > 0.0 { (m / 127.0) as f32 } else { 1.0 }
        })
        .collect()
}

fn symmetric_code_reference(x: f32, scale: f32) -> i8 {
    let q = f64::from((f64::from(x) / f64::from(scale)) as f32).round();
    q.clamp(-127.0, 127.0) as i8
}

#[test]
fn int8_symmetric_codes_match_reference() {
    for dim in [1, 7, 37, 64, 100] {
        let rows = 53;
        let mut data = random(rows, dim, 21 + dim as u64);
        // One dimension zero throughout (scale 1), when there is more than one.
        if dim > 1 {
            for r in data.chunks_mut(dim) {
                r[dim - 1] = 0.0;
            }
        }
        let queries: Vec<f32> = random(20, dim, 22).iter().map(|x| 1.5 * x).collect(); // partly clamped
        let codec = Int8Symmetric::train(&data, dim).unwrap();
        let scales = symmetric_scales_reference(&data, dim);
        assert_eq!(codec.scales(), &scales[..], "dim {dim}");
        assert_eq!(codec.dim(), dim);
        for set in [&data, &queries] {
            for v in set.chunks(dim) {
                let code = codec.encode(v).unwrap();
                let expected: Vec<i8> = v
                    .iter()
                    .zip(&scales)
                    .map(|(&x, &s)| symmetric_code_reference(x, s))
                    .collect();
                assert_eq!(code, expected, "dim {dim}");
                assert!(code.iter().all(|&c| c != -128));
                // Decoding: scale · code, and its squared norm (f32 sum vs f64).
                let decoded = codec.decode(&code).unwrap();
                let exact: Vec<f64> = code
                    .iter()
                    .zip(&scales)
                    .map(|(&c, &s)| f64::from(c) * f64::from(s))
                    .collect();
                for (d, e) in decoded.iter().zip(&exact) {
                    assert!((f64::from(*d) - e).abs() <= e.abs() * 1e-6);
                }
                let norm2: f64 = exact.iter().map(|x| x * x).sum();
                let got = f64::from(codec.decoded_norm2(&code).unwrap());
                assert!(
                    (got - norm2).abs() <= 1e-5 * norm2.max(1e-30),
                    "{got} {norm2}"
                );
                // In range, decoding is within half a step of the input.
                if std::ptr::eq(set, &data) {
                    for ((&x, &d), &s) in v.iter().zip(&decoded).zip(&scales) {
                        assert!((f64::from(x) - f64::from(d)).abs() <= f64::from(s) * 0.5001);
                    }
                }
            }
        }
        // Queries: the scales folded in, quantized with one scale of their own, and the
        // estimate close to the f64 inner product with the vector a code stands for.
        for q in queries.chunks(dim) {
            let prepared = codec.prepare_query(q).unwrap();
            let w: Vec<f64> = q
                .iter()
                .zip(&scales)
                .map(|(&x, &s)| f64::from((f64::from(x) * f64::from(s)) as f32))
                .collect();
            let m = w.iter().fold(0.0f64, |m, x| m.max(x.abs()));
            let qs = if m > 0.0 { (m / 127.0) as f32 } else { 1.0 };
            assert_eq!(prepared.scale(), qs);
            let q8: Vec<i8> = w
                .iter()
                .map(|&x| symmetric_code_reference(x as f32, qs))
                .collect();
            assert_eq!(prepared.codes(), &q8[..]);
            let codes: Vec<i8> = data
                .chunks(dim)
                .flat_map(|v| codec.encode(v).unwrap())
                .collect();
            let mut scores = vec![0f32; rows];
            prepared.scores(&codes, &mut scores);
            for (i, (v, code)) in data.chunks(dim).zip(codes.chunks(dim)).enumerate() {
                let exact: f64 = q
                    .iter()
                    .zip(v)
                    .map(|(&a, &b)| f64::from(a) * f64::from(b))
                    .sum();
                // Half a step of the code times |q|, plus half a step of the query times |code|.
                let bound: f64 = (0..dim)
                    .map(|j| {
                        0.5 * f64::from(q[j]).abs() * f64::from(scales[j])
                            + 0.5 * f64::from(qs) * f64::from(code[j]).abs()
                    })
                    .sum::<f64>()
                    * 1.001
                    + 1e-6;
                assert!(
                    (f64::from(scores[i]) - exact).abs() <= bound,
                    "dim {dim} row {i}"
                );
                assert_eq!(scores[i], prepared.score(code));
            }
        }
    }
}

#[test]
fn int8_symmetric_rejects_bad_input() {
    use nexus_quant::Error;
    assert_eq!(Int8Symmetric::train(&[], 3), Err(Error::EmptyTrainingSet));
    assert_eq!(Int8Symmetric::train(&[1.0], 0), Err(Error::ZeroDimension));
    assert!(matches!(
        Int8Symmetric::train(&[1.0, 2.0, 3.0], 2),
        Err(Error::RaggedBatch { .. })
    ));
    assert!(matches!(
        Int8Symmetric::train(&[1.0, f32::NAN], 2),
        Err(Error::NonFinite { row: 0, index: 1 })
    ));
    assert!(matches!(
        Int8Symmetric::train(&[1.0, 2e15], 2),
        Err(Error::OutOfRange { row: 0, index: 1 })
    ));
    let codec = Int8Symmetric::train(&[1.0, -2.0], 2).unwrap();
    assert!(matches!(
        codec.encode(&[1.0]),
        Err(Error::DimensionMismatch {
            expected: 2,
            got: 1
        })
    ));
    assert!(codec.encode_into(&[1.0, 1.0], &mut [0i8; 3]).is_err());
    assert!(codec.encode(&[f32::INFINITY, 0.0]).is_err());
    assert!(codec.prepare_query(&[f32::NAN, 0.0]).is_err());
    assert!(codec.decoded_norm2(&[1]).is_err());
    assert!(codec.decode(&[1, 2, 3]).is_err());
    for bad in [
        vec![],
        vec![1.0, 0.0],
        vec![-1.0],
        vec![f32::NAN],
        vec![f32::INFINITY],
        vec![1e14],
    ] {
        assert!(Int8Symmetric::from_scales(bad.clone()).is_err(), "{bad:?}");
    }
    let back = Int8Symmetric::from_scales(codec.scales().to_vec()).unwrap();
    assert_eq!(back, codec);
}

/// The rotation written out: signs from ChaCha8 (bit b of the k-th u64 → −1), the dense
/// Sylvester Hadamard matrix, three rounds, in f64.
fn rotate_reference(x: &[f64], n: usize, seed: u64) -> Vec<f64> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut signs = Vec::new();
    while signs.len() < 3 * n {
        let w = rng.next_u64();
        for b in 0..64 {
            signs.push(if (w >> b) & 1 == 1 { -1.0 } else { 1.0 });
        }
    }
    let mut v = x.to_vec();
    v.resize(n, 0.0);
    for round in 0..3 {
        let flipped: Vec<f64> = (0..n).map(|i| v[i] * signs[round * n + i]).collect();
        v = (0..n)
            .map(|i| {
                (0..n)
                    .map(|j| {
                        let h = if (i & j).count_ones() % 2 == 0 {
                            1.0
                        } else {
                            -1.0
                        };
                        h * flipped[j]
                    })
                    .sum::<f64>()
                    / (n as f64).sqrt()
            })
            .collect();
    }
    v
}

#[test]
fn rabitq_codes_match_reference() {
    for (dim, n) in [(5, 64), (100, 128), (128, 128), (384, 512)] {
        let rows = 30;
        let data = random(rows, dim, 3 + dim as u64);
        let seed = 0x5EED + dim as u64;
        let q = RabitqQuantizer::train(&data, dim, seed).unwrap();
        assert_eq!(q.padded_dim(), n);
        let centroid: Vec<f64> = (0..dim)
            .map(|j| {
                col(&data, dim, j)
                    .iter()
                    .map(|&x| f64::from(x))
                    .sum::<f64>()
                    / rows as f64
            })
            .collect();
        for (a, b) in q.centroid().iter().zip(&centroid) {
            assert_eq!(*a, *b as f32);
        }
        let codes = q.encode_batch(&data).unwrap();
        let mut near_zero = 0;
        for (i, r) in data.chunks(dim).enumerate() {
            let c: Vec<f32> = q.centroid().to_vec();
            let residual: Vec<f64> = r.iter().zip(&c).map(|(&x, &c)| f64::from(x - c)).collect();
            let rotated = rotate_reference(&residual, n, seed);
            let code = &codes.bits[i * q.words()..(i + 1) * q.words()];
            for (k, &y) in rotated.iter().enumerate() {
                let bit = (code[k / 64] >> (k % 64)) & 1 == 1;
                if y.abs() < 1e-5 {
                    near_zero += 1; // f32 rounding may decide either way
                } else {
                    assert_eq!(bit, y > 0.0, "dim {dim} row {i} bit {k}");
                }
            }
            let norm = residual.iter().map(|x| x * x).sum::<f64>().sqrt();
            let alignment =
                rotated.iter().map(|y| y.abs()).sum::<f64>() / (norm * (n as f64).sqrt());
            let center_dot: f64 = residual
                .iter()
                .zip(&c)
                .map(|(r, &c)| r * f64::from(c))
                .sum();
            let f = codes.factors[i];
            assert!((f64::from(f.norm) - norm).abs() <= 1e-5 * norm.max(1.0));
            assert!((f64::from(f.alignment) - alignment).abs() <= 1e-5);
            assert!((f64::from(f.center_dot) - center_dot).abs() <= 1e-5);
        }
        assert!(near_zero <= 2, "{near_zero} coordinates near zero");
    }
}
