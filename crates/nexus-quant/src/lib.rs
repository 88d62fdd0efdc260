//! Compact codes for embeddings: binary (1 bit per dimension, including a RaBitQ-style rotated
//! code with an unbiased inner-product estimator), int8 scalar codes and Matryoshka truncation.
//! Codes are plain `u64` / `i8` slices that indexes scan and storage maps from disk.
//!
//! # Example
//!
//! ```
//! let e = nexus_quant::Error::NotYet { what: "everything" };
//! assert!(e.to_string().contains("everything"));
//! ```

#![deny(missing_docs)]
#![doc(test(attr(deny(warnings))))]

/// Errors of this crate.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A part of this crate that is not built yet.
    #[error("not built yet: {what}")]
    NotYet {
        /// What is missing.
        what: &'static str,
    },
}
