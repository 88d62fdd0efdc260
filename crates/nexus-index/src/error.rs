//! The crate's one error type.

use std::path::PathBuf;

/// Errors of this crate.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A vector or query of the wrong dimension.
    #[error("dimension mismatch: expected {expected}, got {got}")]
    DimensionMismatch {
        /// The index's dimension.
        expected: usize,
        /// The length given.
        got: usize,
    },
    /// An index cannot have dimension 0.
    #[error("dimension must be at least 1")]
    ZeroDimension,
    /// A NaN or infinite value in a vector or query.
    #[error("non-finite value at position {position}")]
    NonFinite {
        /// Index of the first non-finite value (in the flat batch for batch calls).
        position: usize,
    },
    /// A value larger in magnitude than [`nexus_simd::MAX_ABS`] (scores could overflow to ±∞).
    #[error("value at position {position} exceeds the input bound nexus_simd::MAX_ABS (1e15)")]
    TooLarge {
        /// Index of the first such value (in the flat batch for batch calls).
        position: usize,
    },
    /// A zero vector under the cosine metric (it has no direction).
    #[error("zero vector cannot be normalised for cosine")]
    ZeroVector,
    /// `k = 0` asked of a search.
    #[error("k must be at least 1")]
    ZeroK,
    /// A batch whose ids and values disagree.
    #[error("batch of {ids} ids but {values} values (dimension {dim})")]
    BatchShape {
        /// Number of ids.
        ids: usize,
        /// Number of f32 values.
        values: usize,
        /// The index's dimension.
        dim: usize,
    },
    /// `remove` of an id the index does not hold.
    #[error("unknown id {id}")]
    UnknownId {
        /// The id.
        id: u64,
    },
    /// A parameter outside its range.
    #[error("invalid parameter {name}: {reason}")]
    InvalidParameter {
        /// The parameter.
        name: &'static str,
        /// Why it is invalid.
        reason: &'static str,
    },
    /// A vector-source row the source does not have.
    #[error("source row {row} out of range (source has {len} rows)")]
    SourceRow {
        /// The row asked for.
        row: u64,
        /// The source's length.
        len: usize,
    },
    /// The index is full (internal ids are `u32`).
    #[error("index is full ({max} vectors)")]
    Full {
        /// The maximum number of vectors.
        max: usize,
    },
    /// Reading or writing a file failed.
    #[error("I/O error on {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// A file that is not a valid index file (bad magic, checksum, or structure).
    #[error("corrupt index file: {reason}")]
    Corrupt {
        /// What is wrong.
        reason: Corrupt,
    },
    /// An index file of a version this build cannot read.
    #[error("unsupported index file version {found} (this build reads {supported})")]
    UnsupportedVersion {
        /// The version in the file.
        found: u32,
        /// The version this build reads.
        supported: u32,
    },
}

/// What is wrong with a corrupt index file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Corrupt {
    /// The file does not start with the magic bytes.
    #[error("bad magic")]
    Magic,
    /// The file ends before a section it declares.
    #[error("truncated: {needed} bytes needed, {len} present")]
    Truncated {
        /// Bytes the header implies.
        needed: u64,
        /// Bytes present.
        len: u64,
    },
    /// The file is longer than its header says.
    #[error("{extra} trailing bytes")]
    Trailing {
        /// Extra bytes.
        extra: u64,
    },
    /// The stored checksum does not match the contents.
    #[error("checksum mismatch")]
    Checksum,
    /// A header field outside its range.
    #[error("bad header field {field}")]
    Header {
        /// The field.
        field: &'static str,
    },
    /// A neighbour, level or entry point that points outside the graph.
    #[error("bad graph structure at node {node}")]
    Graph {
        /// The node.
        node: u64,
    },
    /// Two live nodes with the same id.
    #[error("duplicate id {id}")]
    DuplicateId {
        /// The id.
        id: u64,
    },
    /// A stored vector that is NaN, infinite or above [`nexus_simd::MAX_ABS`] in magnitude,
    /// or an int8 scale that is not positive, finite and at most `MAX_ABS / 127`.
    #[error("non-finite or out-of-range stored value")]
    NonFinite,
}

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

pub(crate) fn corrupt(reason: Corrupt) -> Error {
    Error::Corrupt { reason }
}
