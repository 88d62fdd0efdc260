//! The one error type of this crate.

use std::io;
use std::path::PathBuf;

/// Errors of this crate.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// An I/O call failed.
    #[error("I/O error on {}: {source}", path.display())]
    Io {
        /// The file or directory the call was about.
        path: PathBuf,
        /// What the operating system (or a test backend) said.
        #[source]
        source: io::Error,
    },
    /// Bytes on disk do not check out (checksum, magic, size or structure).
    #[error("corrupt {} at byte {offset}: {what}", path.display())]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// The byte offset in the file where the bad data starts.
        offset: u64,
        /// What is wrong.
        what: &'static str,
    },
    /// A file written by another format version.
    #[error("{}: format version {found}, this build reads version {supported}", path.display())]
    Version {
        /// The file.
        path: PathBuf,
        /// The version the file declares.
        found: u32,
        /// The version this build reads and writes.
        supported: u32,
    },
    /// Another writer holds the store's lock (or a writer holds it and this is a reader).
    #[error("{} is locked by another process or handle", path.display())]
    Locked {
        /// The lock file.
        path: PathBuf,
    },
    /// There is no store at the path and the options did not ask to create one.
    #[error("no store at {}", path.display())]
    NotFound {
        /// The store directory.
        path: PathBuf,
    },
    /// An earlier write or fsync failed; the store refuses writes until it is reopened.
    #[error("the store refuses writes after a failed write or fsync; reopen it to recover")]
    Poisoned,
    /// A write on a store opened read-only.
    #[error("the store is open read-only")]
    ReadOnly,
    /// A vector whose length is not the store's dimension.
    #[error("vector of dimension {got}, the store holds dimension {expected}")]
    DimensionMismatch {
        /// The store's dimension.
        expected: usize,
        /// The vector's length.
        got: usize,
    },
    /// A code whose length is not the store's code length.
    #[error("code of {got} bytes, the store holds {expected}-byte codes")]
    CodeLengthMismatch {
        /// The store's code length in bytes.
        expected: usize,
        /// The code's length.
        got: usize,
    },
    /// The options name a shape (dimension, code length) other than the existing store's.
    #[error(
        "store has dimension {found_dim} and {found_code}-byte codes; options ask {dim} and {code_bytes}"
    )]
    ShapeMismatch {
        /// Dimension asked for.
        dim: usize,
        /// Code length asked for.
        code_bytes: usize,
        /// Dimension of the store on disk.
        found_dim: usize,
        /// Code length of the store on disk.
        found_code: usize,
    },
    /// A batch whose encoded WAL record exceeds the limit.
    #[error("a batch of {bytes} bytes exceeds the {limit}-byte record limit")]
    RecordTooLarge {
        /// Encoded size of the batch.
        bytes: usize,
        /// The limit.
        limit: usize,
    },
    /// A segment id that is not live.
    #[error("no live segment {id}")]
    UnknownSegment {
        /// The id asked for.
        id: u64,
    },
    /// An attachment role that is not 1–32 characters of `[a-z0-9_-]`.
    #[error("attachment role {role:?} is not 1-32 characters of [a-z0-9_-]")]
    InvalidRole {
        /// The role given.
        role: String,
    },
}

/// The result type of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub(crate) fn io(path: impl Into<PathBuf>, source: io::Error) -> Self {
        Error::Io {
            path: path.into(),
            source,
        }
    }

    pub(crate) fn corrupt(path: impl Into<PathBuf>, offset: u64, what: &'static str) -> Self {
        Error::Corrupt {
            path: path.into(),
            offset,
            what,
        }
    }

    /// Whether this error reports bad bytes on disk (corruption or a foreign format version).
    pub fn is_corruption(&self) -> bool {
        matches!(self, Error::Corrupt { .. } | Error::Version { .. })
    }
}
