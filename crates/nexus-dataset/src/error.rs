//! The one error type of this crate.

use std::path::PathBuf;

/// Everything that can go wrong reading, validating or writing a dataset.
///
/// Every variant that comes from a file names the file, and where the fault is inside it the
/// zero-based row (vector) and the byte offset of that row.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The operating system refused a read or write.
    #[error("{path}: {source}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The file ends in the middle of a row.
    #[error(
        "{path}: row {row} at byte {offset} is truncated: it needs {needed} bytes but the file \
         has {available} left"
    )]
    Truncated {
        /// The file.
        path: PathBuf,
        /// Zero-based row index.
        row: usize,
        /// Byte offset of the row's dimension header.
        offset: u64,
        /// Bytes the row needs (header included).
        needed: u64,
        /// Bytes left in the file from `offset`.
        available: u64,
    },
    /// A row header holds a dimension that is zero, negative or larger than [`MAX_DIM`](crate::MAX_DIM).
    #[error("{path}: row {row} at byte {offset} declares dimension {dim}, outside 1..={max}")]
    BadDimension {
        /// The file.
        path: PathBuf,
        /// Zero-based row index.
        row: usize,
        /// Byte offset of the row's dimension header.
        offset: u64,
        /// The dimension read from the header.
        dim: i64,
        /// The largest dimension accepted.
        max: usize,
    },
    /// A row's dimension differs from the first row's.
    #[error("{path}: row {row} at byte {offset} has dimension {got}, but row 0 has {expected}")]
    DimensionChanged {
        /// The file.
        path: PathBuf,
        /// Zero-based row index.
        row: usize,
        /// Byte offset of the row's dimension header.
        offset: u64,
        /// The dimension of row 0.
        expected: usize,
        /// The dimension of this row.
        got: usize,
    },
    /// A float that is NaN or infinite.
    #[error("{path}: row {row}, column {column}: value {value} is not finite")]
    NonFinite {
        /// The file.
        path: PathBuf,
        /// Zero-based row index.
        row: usize,
        /// Zero-based column index.
        column: usize,
        /// The value read.
        value: f32,
    },
    /// A ground-truth id that does not name a base vector.
    #[error("{path}: row {row}, column {column}: id {id} is outside 0..{n_base}")]
    IdOutOfRange {
        /// The file.
        path: PathBuf,
        /// Zero-based row index.
        row: usize,
        /// Zero-based column index.
        column: usize,
        /// The id read.
        id: i64,
        /// Number of base vectors.
        n_base: usize,
    },
    /// A file holds no rows at all.
    #[error("{path}: the file holds no vectors")]
    Empty {
        /// The file.
        path: PathBuf,
    },
    /// Two files of one dataset disagree (dimensions, row counts, text lines).
    #[error("{path}: {what} is {got}, expected {expected}")]
    Mismatch {
        /// The file that disagrees.
        path: PathBuf,
        /// What is being compared, e.g. "dimension" or "number of text lines".
        what: &'static str,
        /// What the rest of the dataset implies.
        expected: usize,
        /// What the file holds.
        got: usize,
    },
    /// `meta.json` is not valid JSON or has a field of the wrong type.
    #[error("{path}: {source}")]
    Meta {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: serde_json::Error,
    },
    /// A `k` of zero, or larger than what it is taken from (the base vectors for ground
    /// truth, the ground truth's width for recall).
    #[error("k = {k} is outside 1..={max}")]
    InvalidK {
        /// The `k` asked for.
        k: usize,
        /// The largest `k` possible.
        max: usize,
    },
    /// Two arguments that must agree in size do not.
    #[error("{what} is {got}, expected {expected}")]
    SizeMismatch {
        /// What is compared, e.g. "query dimension" or "number of result lists".
        what: &'static str,
        /// What the other argument implies.
        expected: usize,
        /// What this one has.
        got: usize,
    },
    /// Values that do not form rows: a dimension of zero, no values, or a count that the
    /// dimension does not divide.
    #[error("{len} values do not form non-empty rows of dimension {dim}")]
    NotRows {
        /// The number of values.
        len: usize,
        /// The dimension (row length) asked for.
        dim: usize,
    },
    /// A row handed to [`Vectors::from_rows`](crate::Vectors::from_rows) whose length differs
    /// from the first row's.
    #[error("row {row} has length {got}, row 0 has {expected}")]
    RowLength {
        /// Zero-based row index.
        row: usize,
        /// The first row's length.
        expected: usize,
        /// This row's length.
        got: usize,
    },
    /// A size the file formats cannot hold (they store dimensions and ids as `i32`).
    #[error("{what} {value} exceeds the format's limit {max}")]
    TooLarge {
        /// What is too large, e.g. "dimension" or "number of base vectors".
        what: &'static str,
        /// Its value.
        value: usize,
        /// The largest value the format holds.
        max: usize,
    },
    /// `meta.json` names a metric this crate does not know.
    #[error(
        "unknown metric {name:?} (known: l2, euclidean, cosine, angular, ip, inner_product, dot)"
    )]
    UnknownMetric {
        /// The name as written.
        name: String,
    },
    /// A bundle asked for more rows than its source has.
    #[error("asked for {asked} {what}, the source has {available}")]
    SourceTooSmall {
        /// "base vectors" or "queries".
        what: &'static str,
        /// How many were asked for.
        asked: usize,
        /// How many the source has.
        available: usize,
    },
}

/// Shorthand for results of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

pub(crate) fn io_error(path: &std::path::Path) -> impl FnOnce(std::io::Error) -> Error + '_ {
    move |source| Error::Io {
        path: path.to_path_buf(),
        source,
    }
}
