//! The one error type of this crate.

/// Everything that can go wrong when training, encoding, scoring or loading a quantizer.
///
/// Every bad input gives one of these, never a panic and never a garbage code. (Slices of the
/// wrong length handed to the block scorers are caller bugs and panic; see their `# Panics`.)
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A dimension of zero was asked for.
    #[error("dimension must be at least 1")]
    ZeroDimension,
    /// A vector (or output buffer) has the wrong length.
    #[error("dimension mismatch: expected {expected}, got {got}")]
    DimensionMismatch {
        /// The quantizer's dimension (or the buffer length it needs).
        expected: usize,
        /// The length that was given.
        got: usize,
    },
    /// A flat batch whose length is not a multiple of the dimension.
    #[error("a batch of {len} values is not a whole number of {dim}-dimensional rows")]
    RaggedBatch {
        /// Length of the flat batch.
        len: usize,
        /// The quantizer's dimension.
        dim: usize,
    },
    /// NaN or ±∞ in an input vector.
    #[error("non-finite value at row {row}, index {index}")]
    NonFinite {
        /// Row of the batch (0 for a single vector).
        row: usize,
        /// Index inside the row.
        index: usize,
    },
    /// A finite value larger in magnitude than [`MAX_ABS`](crate::MAX_ABS).
    #[error("value at row {row}, index {index} exceeds nexus_quant::MAX_ABS in magnitude")]
    OutOfRange {
        /// Row of the batch (0 for a single vector).
        row: usize,
        /// Index inside the row.
        index: usize,
    },
    /// A vector of norm zero where a direction is needed (Matryoshka re-normalisation).
    #[error("row {row} has zero norm and cannot be normalised")]
    ZeroNorm {
        /// Row of the batch (0 for a single vector).
        row: usize,
    },
    /// Training was given no vectors.
    #[error("empty training set")]
    EmptyTrainingSet,
    /// A training parameter out of its range (a percentile outside (50, 100], a Matryoshka
    /// width larger than the dimension, …).
    #[error("invalid parameter {name}: {reason}")]
    InvalidParameter {
        /// The parameter.
        name: &'static str,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A serialized quantizer that carries no trained parameters.
    #[error("the quantizer is not trained (no {what})")]
    NotTrained {
        /// The missing parameters.
        what: &'static str,
    },
    /// The operation does not exist for this kind of quantizer (e.g. symmetric i8·i8 scoring of
    /// per-dimension affine codes).
    #[error("unsupported: {what}")]
    Unsupported {
        /// What was asked for.
        what: &'static str,
    },
    /// Serialized bytes that are not a valid quantizer of the expected kind.
    #[error("corrupt serialized quantizer: {reason}")]
    Corrupt {
        /// What the validation found.
        reason: CorruptReason,
    },
}

/// Why a serialized quantizer was rejected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum CorruptReason {
    /// Fewer bytes than the layout needs.
    Truncated,
    /// Bytes after the end of the layout.
    TrailingBytes,
    /// The magic number is not `NXQUANT\0`.
    BadMagic,
    /// A format version this build does not read (version 1, with an FNV-1a checksum, is no
    /// longer read: serialize the quantizer again).
    UnsupportedVersion(u16),
    /// The kind tag names another quantizer (or none).
    WrongKind(u16),
    /// The stored checksum does not match the bytes.
    ChecksumMismatch,
    /// A field holds a value that no trained quantizer has (bad tag, non-finite or
    /// non-positive scale, inconsistent dimensions).
    InvalidField(&'static str),
}

impl std::fmt::Display for CorruptReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Truncated => f.write_str("truncated"),
            Self::TrailingBytes => f.write_str("trailing bytes"),
            Self::BadMagic => f.write_str("bad magic number"),
            Self::UnsupportedVersion(1) => f.write_str(
                "format version 1 (FNV-1a checksum) is no longer read: serialize the quantizer again",
            ),
            Self::UnsupportedVersion(v) => write!(f, "unsupported format version {v}"),
            Self::WrongKind(k) => write!(f, "wrong quantizer kind tag {k}"),
            Self::ChecksumMismatch => f.write_str("checksum mismatch"),
            Self::InvalidField(name) => write!(f, "invalid field {name}"),
        }
    }
}

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
