//! Every kind of malformed input gives a typed error naming the file and the row — never a panic.

use std::path::Path;

use nexus_dataset::{Dataset, Error, MAX_DIM, Vectors};

fn row_f32(dim: i32, values: &[f32]) -> Vec<u8> {
    let mut b = dim.to_le_bytes().to_vec();
    for v in values {
        b.extend_from_slice(&v.to_le_bytes());
    }
    b
}

fn row_i32(values: &[i32]) -> Vec<u8> {
    let mut b = (values.len() as i32).to_le_bytes().to_vec();
    for v in values {
        b.extend_from_slice(&v.to_le_bytes());
    }
    b
}

fn parse(bytes: &[u8]) -> Result<Vectors<f32>, Error> {
    Vectors::<f32>::parse(bytes, "test.fvecs")
}

#[test]
fn empty_file() {
    assert!(matches!(parse(&[]), Err(Error::Empty { path }) if path == Path::new("test.fvecs")));
}

#[test]
fn truncated_header() {
    let mut b = row_f32(2, &[1.0, 2.0]);
    b.extend_from_slice(&[3, 0]); // half a header
    match parse(&b) {
        Err(Error::Truncated {
            row: 1,
            offset: 12,
            needed: 4,
            available: 2,
            ..
        }) => {}
        other => panic!("{other:?}"),
    }
}

#[test]
fn truncated_row() {
    let mut b = row_f32(3, &[1.0, 2.0, 3.0]);
    b.extend_from_slice(&row_f32(3, &[1.0, 2.0, 3.0])[..14]);
    match parse(&b) {
        Err(
            e @ Error::Truncated {
                row: 1,
                offset: 16,
                needed: 16,
                available: 14,
                ..
            },
        ) => {
            let msg = e.to_string();
            assert!(msg.contains("test.fvecs") && msg.contains("row 1"), "{msg}");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn zero_negative_and_absurd_dimensions() {
    for dim in [0, -1, i32::MIN, MAX_DIM as i32 + 1, i32::MAX] {
        // The file is tiny: an absurd header must not make us allocate for it.
        let b = row_f32(dim, &[1.0]);
        match parse(&b) {
            Err(Error::BadDimension {
                row: 0,
                offset: 0,
                dim: got,
                max,
                ..
            }) => {
                assert_eq!(got, i64::from(dim));
                assert_eq!(max, MAX_DIM);
            }
            other => panic!("dim {dim}: {other:?}"),
        }
    }
    // The largest legal dimension with too few bytes is truncation, not an allocation.
    let b = row_f32(MAX_DIM as i32, &[1.0]);
    assert!(matches!(parse(&b), Err(Error::Truncated { row: 0, .. })));
}

#[test]
fn dimension_changes_between_rows() {
    let mut b = row_f32(2, &[1.0, 2.0]);
    b.extend(row_f32(2, &[3.0, 4.0]));
    b.extend(row_f32(3, &[1.0, 2.0, 3.0]));
    match parse(&b) {
        Err(Error::DimensionChanged {
            row: 2,
            offset: 24,
            expected: 2,
            got: 3,
            ..
        }) => {}
        other => panic!("{other:?}"),
    }
}

#[test]
fn non_finite_values() {
    for bad in [f32::NAN, f32::INFINITY, f32::NEG_INFINITY] {
        let mut b = row_f32(2, &[1.0, 2.0]);
        b.extend(row_f32(2, &[0.5, bad]));
        match parse(&b) {
            Err(Error::NonFinite {
                row: 1, column: 1, ..
            }) => {}
            other => panic!("{bad}: {other:?}"),
        }
    }
}

#[test]
fn missing_file_and_directory() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nope.fvecs");
    match Vectors::<f32>::read(&missing) {
        Err(Error::Io { path, .. }) => assert_eq!(path, missing),
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        Dataset::load(dir.path().join("absent")),
        Err(Error::Io { .. })
    ));
    // A directory without base.fvecs names that file.
    match Dataset::load(dir.path()) {
        Err(Error::Io { path, .. }) => assert!(path.ends_with("base.fvecs")),
        other => panic!("{other:?}"),
    }
}

/// A valid three-file dataset: 4 base rows, 2 queries, top-2 ground truth.
fn write_dataset(dir: &Path) {
    let base = Vectors::from_rows(&[[1.0f32, 0.0], [0.0, 1.0], [0.6, 0.8], [-1.0, 0.0]]).unwrap();
    let queries = Vectors::from_rows(&[[1.0f32, 0.0], [0.0, 1.0]]).unwrap();
    base.write(dir.join("base.fvecs")).unwrap();
    queries.write(dir.join("query.fvecs")).unwrap();
    let truth = nexus_dataset::exact_top_k(&base, &queries, 2, nexus_dataset::Metric::InnerProduct)
        .unwrap();
    truth.write(dir.join("groundtruth.ivecs")).unwrap();
}

#[test]
fn a_bundle_larger_than_its_source_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    write_dataset(dir.path());
    let out = dir.path().join("out");
    let opts = |n_base, n_query| nexus_dataset::BundleOptions {
        n_base,
        n_query,
        k: 1,
    };
    let e = nexus_dataset::bundle(dir.path(), &out, opts(5, 1)).unwrap_err();
    assert!(
        matches!(
            e,
            Error::SourceTooSmall {
                what: "base vectors",
                asked: 5,
                available: 4
            }
        ),
        "{e}"
    );
    let e = nexus_dataset::bundle(dir.path(), &out, opts(4, 3)).unwrap_err();
    assert!(
        matches!(
            e,
            Error::SourceTooSmall {
                what: "queries",
                asked: 3,
                available: 2
            }
        ),
        "{e}"
    );
    assert!(!out.exists(), "nothing is written for a refused bundle");
}

#[test]
fn valid_dataset_loads() {
    let dir = tempfile::tempdir().unwrap();
    write_dataset(dir.path());
    std::fs::write(dir.path().join("base.txt"), "a\nb\nc\nd\n").unwrap();
    std::fs::write(
        dir.path().join("meta.json"),
        r#"{"metric":"cosine","normalized":true,"dim":2,"x":1}"#,
    )
    .unwrap();
    let d = Dataset::load(dir.path()).unwrap();
    assert_eq!(d.ground_truth.row(0), &[0, 2]);
    assert_eq!(d.base_texts.as_deref().unwrap()[3], "d");
    assert_eq!(d.search_metric(), nexus_dataset::Metric::InnerProduct);
    assert_eq!(d.meta.extra["x"], 1);
}

#[test]
fn ground_truth_ids_out_of_range() {
    for bad in [4, -1, i32::MAX] {
        let dir = tempfile::tempdir().unwrap();
        write_dataset(dir.path());
        let mut b = row_i32(&[0, 2]);
        b.extend(row_i32(&[1, bad]));
        std::fs::write(dir.path().join("groundtruth.ivecs"), b).unwrap();
        match Dataset::load(dir.path()) {
            Err(Error::IdOutOfRange {
                path,
                row: 1,
                column: 1,
                id,
                n_base: 4,
            }) => {
                assert!(path.ends_with("groundtruth.ivecs"));
                assert_eq!(id, i64::from(bad));
            }
            other => panic!("{bad}: {other:?}"),
        }
    }
}

#[test]
fn files_that_disagree() {
    let dir = tempfile::tempdir().unwrap();
    write_dataset(dir.path());
    // One ground-truth row for two queries.
    std::fs::write(dir.path().join("groundtruth.ivecs"), row_i32(&[0, 1])).unwrap();
    assert!(matches!(
        Dataset::load(dir.path()),
        Err(Error::Mismatch {
            what: "number of rows",
            expected: 2,
            got: 1,
            ..
        })
    ));
    write_dataset(dir.path());
    // Queries of another dimension.
    Vectors::from_rows(&[[1.0f32, 0.0, 0.0]])
        .unwrap()
        .write(dir.path().join("query.fvecs"))
        .unwrap();
    assert!(matches!(
        Dataset::load(dir.path()),
        Err(Error::Mismatch {
            what: "dimension",
            expected: 2,
            got: 3,
            ..
        })
    ));
    write_dataset(dir.path());
    std::fs::write(dir.path().join("query.txt"), "only one line\n").unwrap();
    assert!(matches!(
        Dataset::load(dir.path()),
        Err(Error::Mismatch {
            what: "number of text lines",
            expected: 2,
            got: 1,
            ..
        })
    ));
    std::fs::remove_file(dir.path().join("query.txt")).unwrap();
    std::fs::write(dir.path().join("meta.json"), r#"{"n_base": 5}"#).unwrap();
    assert!(matches!(
        Dataset::load(dir.path()),
        Err(Error::Mismatch {
            what: "n_base",
            expected: 4,
            got: 5,
            ..
        })
    ));
    std::fs::write(dir.path().join("meta.json"), r#"{"dim": "three"}"#).unwrap();
    assert!(matches!(Dataset::load(dir.path()), Err(Error::Meta { .. })));
    std::fs::write(dir.path().join("meta.json"), r#"{"metric": "hamming"}"#).unwrap();
    assert!(matches!(
        Dataset::load(dir.path()),
        Err(Error::UnknownMetric { name }) if name == "hamming"
    ));
}

#[test]
fn arbitrary_bytes_never_panic() {
    // A cheap deterministic fuzz: every prefix and many byte flips of a valid file.
    let mut valid = Vec::new();
    for i in 0..6 {
        valid.extend(row_f32(3, &[i as f32, 1.5, -2.0]));
    }
    for len in 0..=valid.len() {
        let _ = parse(&valid[..len]);
    }
    for pos in 0..valid.len() {
        for bit in 0..8 {
            let mut b = valid.clone();
            b[pos] ^= 1 << bit;
            let _ = parse(&b);
            let _ = Vectors::<i32>::parse(&b, "x.ivecs");
        }
    }
}
