//! A concurrent, sharded cache with per-entry weights, TTL, an eviction listener and statistics,
//! under an adaptive admission / eviction policy. It depends on no other Memory Nexus crate.
//!
//! # Example
//!
//! ```
//! let e = nexus_cache::Error::NotYet { what: "everything" };
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
