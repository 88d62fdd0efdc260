//! The durable store of Memory Nexus: a checksummed write-ahead log, immutable memory-mapped
//! segments read zero-copy, an atomically replaced manifest, crash recovery, compaction and
//! verification.
//!
//! # Example
//!
//! ```
//! let e = nexus_storage::Error::NotYet { what: "everything" };
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
