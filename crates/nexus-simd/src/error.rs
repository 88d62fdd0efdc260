//! The crate's one error type.

use crate::Level;

/// Everything that can go wrong in `nexus-simd` that is not a caller bug.
///
/// Length mismatches between kernel slices are caller bugs and panic (see each function's
/// `# Panics`); these variants are the data- and environment-dependent failures.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// [`normalize`](crate::normalize) was given a vector whose norm is 0 (or underflows to 0).
    #[error("cannot normalize a zero vector")]
    ZeroVector,
    /// A value that is NaN or infinite where only finite values make sense.
    #[error("non-finite value at index {index}")]
    NonFinite {
        /// Position of the first non-finite value.
        index: usize,
    },
    /// `NEXUS_SIMD` holds something other than `scalar`, `avx2` or `avx512`.
    #[error("NEXUS_SIMD={value:?} is not one of \"scalar\", \"avx2\", \"avx512\"")]
    UnknownLevel {
        /// The value found in the environment.
        value: String,
    },
    /// `NEXUS_SIMD` asks for a level this CPU (or this build's architecture) cannot run.
    #[error("NEXUS_SIMD={requested} is not supported by this CPU (best available: {available})")]
    UnsupportedLevel {
        /// The level asked for.
        requested: Level,
        /// The best level this CPU supports.
        available: Level,
    },
}
