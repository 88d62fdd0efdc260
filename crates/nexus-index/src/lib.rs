//! Vector indexes for Memory Nexus: an exact `FlatIndex`, a `QuantizedIndex` (binary or int8
//! prefilter, exact f32 rerank) and an `HnswIndex`, behind one `Index` trait with filters and
//! deletes.
//!
//! # Example
//!
//! ```
//! let e = nexus_index::Error::NotYet { what: "everything" };
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
