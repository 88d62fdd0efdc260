//! Every bad input gives a typed error, never a panic or a code.

use nexus_quant::{
    BinaryQuantizer, Clip, Error, Int8Quantizer, Int8Range, MAX_ABS, MAX_DIM, Matryoshka,
    RabitqQuantizer, Threshold,
};

const DIM: usize = 8;

fn sample() -> Vec<f32> {
    (0..20 * DIM)
        .map(|i| ((i * 31 % 17) as f32 - 8.0) / 8.0)
        .collect()
}

/// Trains one of every quantizer on `flat` and collects the results.
fn train_all(flat: &[f32], dim: usize) -> Vec<Result<(), Error>> {
    vec![
        BinaryQuantizer::train(Threshold::Sign, flat, dim).map(drop),
        BinaryQuantizer::train(Threshold::Mean, flat, dim).map(drop),
        BinaryQuantizer::train(Threshold::Median, flat, dim).map(drop),
        RabitqQuantizer::train(flat, dim, 1).map(drop),
        Int8Quantizer::train(Int8Range::PerDimension, Clip::MinMax, flat, dim).map(drop),
        Int8Quantizer::train(Int8Range::Global, Clip::Percentile(99.0), flat, dim).map(drop),
    ]
}

#[test]
fn empty_training_set() {
    for r in train_all(&[], DIM) {
        assert_eq!(r, Err(Error::EmptyTrainingSet));
    }
}

#[test]
fn zero_and_huge_dimension() {
    for r in train_all(&[], 0) {
        assert_eq!(r, Err(Error::ZeroDimension));
    }
    for r in train_all(&[], MAX_DIM + 1) {
        assert!(matches!(
            r,
            Err(Error::InvalidParameter { name: "dim", .. })
        ));
    }
    assert_eq!(Matryoshka::new(0, 1), Err(Error::ZeroDimension));
}

#[test]
fn ragged_training_set() {
    let s = sample();
    for r in train_all(&s[..s.len() - 1], DIM) {
        assert_eq!(
            r,
            Err(Error::RaggedBatch {
                len: s.len() - 1,
                dim: DIM
            })
        );
    }
}

#[test]
fn non_finite_training_values() {
    for bad in [f32::NAN, f32::INFINITY, f32::NEG_INFINITY] {
        let mut s = sample();
        s[3 * DIM + 5] = bad;
        for r in train_all(&s, DIM) {
            assert_eq!(r, Err(Error::NonFinite { row: 3, index: 5 }));
        }
    }
}

#[test]
fn bad_percentile() {
    for p in [50.0, 20.0, 100.5, f32::NAN] {
        let r = Int8Quantizer::train(Int8Range::PerDimension, Clip::Percentile(p), &sample(), DIM);
        assert!(
            matches!(
                r,
                Err(Error::InvalidParameter {
                    name: "percentile",
                    ..
                })
            ),
            "{p}"
        );
    }
}

#[test]
fn encoding_rejects_wrong_dimension_and_non_finite() {
    let s = sample();
    let b = BinaryQuantizer::train(Threshold::Mean, &s, DIM).unwrap();
    let r = RabitqQuantizer::train(&s, DIM, 3).unwrap();
    let q = Int8Quantizer::train(Int8Range::PerDimension, Clip::MinMax, &s, DIM).unwrap();
    let m = Matryoshka::new(DIM, 4).unwrap();
    let mismatch = Error::DimensionMismatch {
        expected: DIM,
        got: DIM - 1,
    };
    let short = vec![0.5f32; DIM - 1];
    assert_eq!(b.encode(&short), Err(mismatch.clone()));
    assert_eq!(r.encode(&short).map(drop), Err(mismatch.clone()));
    assert_eq!(q.encode(&short), Err(mismatch.clone()));
    assert_eq!(m.encode(&short), Err(mismatch.clone()));
    assert_eq!(b.prepare_query(&short).map(drop), Err(mismatch.clone()));
    assert_eq!(r.prepare_query(&short).map(drop), Err(mismatch.clone()));
    assert_eq!(q.prepare_query(&short).map(drop), Err(mismatch.clone()));

    let mut nan = vec![0.5f32; DIM];
    nan[2] = f32::NAN;
    let e = Error::NonFinite { row: 0, index: 2 };
    assert_eq!(b.encode(&nan), Err(e.clone()));
    assert_eq!(r.encode(&nan).map(drop), Err(e.clone()));
    assert_eq!(q.encode(&nan), Err(e.clone()));
    assert_eq!(m.encode(&nan), Err(e.clone()));
    assert_eq!(b.prepare_query(&nan).map(drop), Err(e.clone()));
    assert_eq!(r.prepare_query(&nan).map(drop), Err(e.clone()));
    assert_eq!(q.prepare_query(&nan).map(drop), Err(e.clone()));

    // Batches name the bad row, and encode nothing.
    let mut batch = s.clone();
    batch[4 * DIM + 1] = f32::INFINITY;
    let e = Error::NonFinite { row: 4, index: 1 };
    assert_eq!(b.encode_batch(&batch), Err(e.clone()));
    assert_eq!(r.encode_batch(&batch), Err(e.clone()));
    assert_eq!(q.encode_batch(&batch), Err(e.clone()));
    assert_eq!(m.encode_batch(&batch), Err(e.clone()));
    let ragged = Error::RaggedBatch {
        len: DIM + 1,
        dim: DIM,
    };
    assert_eq!(b.encode_batch(&s[..DIM + 1]), Err(ragged.clone()));
    assert_eq!(r.encode_batch(&s[..DIM + 1]), Err(ragged.clone()));
    assert_eq!(q.encode_batch(&s[..DIM + 1]), Err(ragged.clone()));
    assert_eq!(m.encode_batch(&s[..DIM + 1]), Err(ragged));

    // Output buffers of the wrong length.
    let v = vec![0.5f32; DIM];
    assert_eq!(
        b.encode_into(&v, &mut [0u64; 2]),
        Err(Error::DimensionMismatch {
            expected: 1,
            got: 2
        })
    );
    assert_eq!(
        r.encode_into(&v, &mut [0u64; 2]),
        Err(Error::DimensionMismatch {
            expected: 1,
            got: 2
        })
    );
    assert!(matches!(
        q.encode_into(&v, &mut [0i8; 3]),
        Err(Error::DimensionMismatch { .. })
    ));
    assert!(matches!(
        m.encode_into(&v, &mut [0f32; 3]),
        Err(Error::DimensionMismatch { .. })
    ));
    assert!(matches!(
        b.decode(&[0, 0]),
        Err(Error::DimensionMismatch { .. })
    ));
    assert!(matches!(
        q.decode(&[0; 3]),
        Err(Error::DimensionMismatch { .. })
    ));
}

/// Large batches are checked on all threads; the error is still the first bad row's.
///
/// Rayon splits the rows in halves: one thread walks the first half from its start, another
/// takes the second half and walks it from its start too. The first bad row sits at the end
/// of the first half and others at the start of the second, so a check that returned the
/// first bad row any thread finds would, on two or more threads, mostly name a later one.
#[test]
fn large_batches_name_the_first_bad_row() {
    let rows = 100_000;
    let good: Vec<f32> = (0..rows * DIM)
        .map(|i| ((i * 31 % 17) as f32 - 8.0) / 8.0)
        .collect();
    let b = BinaryQuantizer::train(Threshold::Mean, &good[..20 * DIM], DIM).unwrap();
    let m = Matryoshka::new(DIM, 4).unwrap();
    assert_eq!(b.encode_batch(&good).map(|c| c.len()), Ok(rows * b.words()));
    let later = [50_001, 50_002, 75_001, rows - 1];
    let cases = [
        (
            49_990,
            f32::NAN,
            Error::NonFinite {
                row: 49_990,
                index: 3,
            },
        ),
        (
            49_999,
            2.0 * MAX_ABS,
            Error::OutOfRange {
                row: 49_999,
                index: 3,
            },
        ),
        (
            rows - 1,
            f32::NAN,
            Error::NonFinite {
                row: rows - 1,
                index: 3,
            },
        ),
    ];
    for (first, value, error) in cases {
        let mut batch = good.clone();
        for row in later.into_iter().filter(|&r| r > first) {
            batch[row * DIM + 3] = f32::INFINITY;
        }
        batch[first * DIM + 3] = value;
        let context = format!("first bad row {first}");
        assert_eq!(b.encode_batch(&batch), Err(error.clone()), "{context}");
        assert_eq!(m.encode_batch(&batch), Err(error.clone()), "{context}");
        let trained = BinaryQuantizer::train(Threshold::Mean, &batch, DIM).map(drop);
        assert_eq!(trained, Err(error), "{context}");
    }
    // Zero prefixes, found while encoding on all threads, likewise.
    let mut batch = good.clone();
    for row in [49_990, 50_001, 75_001] {
        batch[row * DIM..row * DIM + 4].fill(0.0);
    }
    assert_eq!(m.encode_batch(&batch), Err(Error::ZeroNorm { row: 49_990 }));
}

#[test]
fn matryoshka_bad_width_and_zero_prefix() {
    assert!(matches!(
        Matryoshka::new(8, 0),
        Err(Error::InvalidParameter { name: "width", .. })
    ));
    assert!(matches!(
        Matryoshka::new(8, 9),
        Err(Error::InvalidParameter { name: "width", .. })
    ));
    let m = Matryoshka::new(4, 2).unwrap();
    assert_eq!(
        m.encode(&[0.0, 0.0, 1.0, 1.0]),
        Err(Error::ZeroNorm { row: 0 })
    );
    assert_eq!(
        m.encode_batch(&[1.0, 0.0, 1.0, 1.0, 0.0, 0.0, 1.0, 1.0]),
        Err(Error::ZeroNorm { row: 1 })
    );
}

#[test]
fn symmetric_int8_needs_a_global_range() {
    let s = sample();
    let per_dim = Int8Quantizer::train(Int8Range::PerDimension, Clip::MinMax, &s, DIM).unwrap();
    let code = per_dim.encode(&s[..DIM]).unwrap();
    assert!(matches!(
        per_dim.dot_codes(&code, &code),
        Err(Error::Unsupported { .. })
    ));
    let global = Int8Quantizer::train(Int8Range::Global, Clip::MinMax, &s, DIM).unwrap();
    assert!(matches!(
        global.dot_codes(&code, &code[1..]),
        Err(Error::DimensionMismatch { .. })
    ));
}

#[test]
fn values_above_max_abs_are_rejected() {
    let mut s = sample();
    s[2 * DIM + 6] = MAX_ABS * 2.0;
    for r in train_all(&s, DIM) {
        assert_eq!(r, Err(Error::OutOfRange { row: 2, index: 6 }));
    }
    let good = sample();
    let b = BinaryQuantizer::train(Threshold::Median, &good, DIM).unwrap();
    let r = RabitqQuantizer::train(&good, DIM, 3).unwrap();
    let q = Int8Quantizer::train(Int8Range::PerDimension, Clip::MinMax, &good, DIM).unwrap();
    let m = Matryoshka::new(DIM, 8).unwrap();
    let mut v = vec![0.5f32; DIM];
    v[1] = -1e30;
    let e = Error::OutOfRange { row: 0, index: 1 };
    assert_eq!(b.encode(&v), Err(e.clone()));
    assert_eq!(r.encode(&v).map(drop), Err(e.clone()));
    assert_eq!(q.encode(&v), Err(e.clone()));
    assert_eq!(m.encode(&v), Err(e.clone()));
    assert_eq!(b.prepare_query(&v).map(drop), Err(e.clone()));
    assert_eq!(r.prepare_query(&v).map(drop), Err(e.clone()));
    assert_eq!(q.prepare_query(&v).map(drop), Err(e.clone()));
    assert_eq!(
        q.encode_batch(&s),
        Err(Error::OutOfRange { row: 2, index: 6 })
    );
}

/// Values right at the limit, trained and queried with, give finite codes, factors and scores:
/// no intermediate result overflows.
#[test]
fn values_at_max_abs_give_finite_results() {
    let dim = 64;
    let s: Vec<f32> = (0..10 * dim)
        .map(|i| match i % 3 {
            0 => MAX_ABS,
            1 => -MAX_ABS,
            _ => 0.25,
        })
        .collect();
    let query = &s[dim..2 * dim];
    let n = s.len() / dim;
    let mut scores = vec![0f32; n];

    let r = RabitqQuantizer::train(&s, dim, 11).unwrap();
    let codes = r.encode_batch(&s).unwrap();
    for f in &codes.factors {
        assert!(f.norm.is_finite() && f.center_dot.is_finite());
        assert!(f.alignment > 0.0 && f.alignment <= 1.0);
    }
    r.prepare_query(query)
        .unwrap()
        .estimates(&codes.bits, &codes.factors, &mut scores);
    assert!(scores.iter().all(|x| x.is_finite()), "{scores:?}");

    for range in [Int8Range::PerDimension, Int8Range::Global] {
        let q = Int8Quantizer::train(range, Clip::MinMax, &s, dim).unwrap();
        let codes = q.encode_batch(&s).unwrap();
        q.prepare_query(query).unwrap().scores(&codes, &mut scores);
        assert!(scores.iter().all(|x| x.is_finite()), "{scores:?}");
        assert_eq!(Int8Quantizer::from_bytes(&q.to_bytes()).unwrap(), q);
    }
    for t in [Threshold::Sign, Threshold::Mean, Threshold::Median] {
        let b = BinaryQuantizer::train(t, &s, dim).unwrap();
        let codes = b.encode_batch(&s).unwrap();
        b.prepare_query(query).unwrap().scores(&codes, &mut scores);
        assert!(scores.iter().all(|x| x.is_finite()), "{scores:?}");
        assert_eq!(BinaryQuantizer::from_bytes(&b.to_bytes()).unwrap(), b);
    }
    assert_eq!(RabitqQuantizer::from_bytes(&r.to_bytes()).unwrap(), r);
}
