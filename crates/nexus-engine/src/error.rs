//! The one error type of the engine: every variant says what went wrong and what to do.

use std::path::PathBuf;

/// Everything that can go wrong in [`Nexus`](crate::Nexus).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A vector's length is not the store's dimension.
    #[error(
        "vector of dimension {got}, the store holds dimension {expected}: embed with the same model"
    )]
    DimensionMismatch {
        /// The store's dimension.
        expected: usize,
        /// The vector's length.
        got: usize,
    },
    /// A vector holds NaN or ±∞.
    #[error("vector value {index} is {value} (not finite): check the embedding model's output")]
    NonFinite {
        /// Position of the first bad value.
        index: usize,
        /// The value.
        value: f32,
    },
    /// A cosine store was given an all-zero vector (it has no direction).
    #[error("the vector is all zeros: a cosine store cannot score it")]
    ZeroVector,
    /// A memory without text.
    #[error("a memory needs a non-empty text")]
    EmptyText,
    /// A recall asking for no results.
    #[error("k must be at least 1")]
    ZeroK,
    /// An option or field out of its range.
    #[error("invalid {name}: {reason}")]
    InvalidArgument {
        /// The option or field.
        name: &'static str,
        /// What it must be.
        reason: String,
    },
    /// No memory has this id (never assigned, or forgotten).
    #[error("no memory with id {id}")]
    UnknownId {
        /// The id.
        id: u64,
    },
    /// A new store was opened without a dimension.
    #[error("no store at {}: set Options::dimension to create one", path.display())]
    MissingDimension {
        /// The store's directory.
        path: PathBuf,
    },
    /// `open_read_only` on a directory that holds no store.
    #[error("no store at {}", path.display())]
    NotFound {
        /// The directory.
        path: PathBuf,
    },
    /// Another handle or process writes this store.
    #[error("{} is locked by another writer: close it, or open this one read-only", path.display())]
    Locked {
        /// The lock file.
        path: PathBuf,
    },
    /// The store was written by a newer version of Memory Nexus.
    #[error("{}: format version {found}, this build reads up to {supported}: upgrade Memory Nexus", path.display())]
    NewerFormat {
        /// The file.
        path: PathBuf,
        /// Its version.
        found: u32,
        /// The newest this build reads.
        supported: u32,
    },
    /// A file of the store is damaged.
    #[error("corrupt {}: {detail} (restore from a backup; `verify` names every damaged file)", path.display())]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        detail: String,
    },
    /// The options given to `open` contradict the store's own.
    #[error("the store at {} has {name} {found}, the options ask {asked}", path.display())]
    OptionMismatch {
        /// The store's directory.
        path: PathBuf,
        /// Which option.
        name: &'static str,
        /// The store's value.
        found: String,
        /// The options' value.
        asked: String,
    },
    /// A text needs embedding but no embedder is set, or the embedder failed or returned
    /// vectors of the wrong number or length.
    #[error("embedder: {reason}")]
    Embedder {
        /// What went wrong.
        reason: String,
    },
    /// A write on a store opened read-only.
    #[error("the store is open read-only")]
    ReadOnly,
    /// A file could not be read or written.
    #[error("I/O error on {}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// An error of the storage layer not covered above.
    #[error(transparent)]
    Storage(nexus_storage::Error),
    /// An error of the index layer not covered above.
    #[error(transparent)]
    Index(#[from] nexus_index::Error),
}

/// The engine's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl From<nexus_storage::Error> for Error {
    fn from(e: nexus_storage::Error) -> Self {
        use nexus_storage::Error as S;
        match e {
            S::Locked { path } => Error::Locked { path },
            S::Version {
                path,
                found,
                supported,
            } => Error::NewerFormat {
                path,
                found,
                supported,
            },
            S::Corrupt { path, offset, what } => Error::Corrupt {
                path,
                detail: format!("{what} (byte {offset})"),
            },
            S::NotFound { path } => Error::NotFound { path },
            S::ReadOnly => Error::ReadOnly,
            S::DimensionMismatch { expected, got } => Error::DimensionMismatch { expected, got },
            S::Io { path, source } => Error::Io { path, source },
            other => Error::Storage(other),
        }
    }
}

impl Error {
    /// Whether the error means a damaged store (as opposed to bad input or a busy lock).
    pub fn is_corruption(&self) -> bool {
        matches!(self, Error::Corrupt { .. } | Error::NewerFormat { .. })
    }

    pub(crate) fn corrupt(path: impl Into<PathBuf>, detail: impl Into<String>) -> Self {
        Error::Corrupt {
            path: path.into(),
            detail: detail.into(),
        }
    }

    pub(crate) fn invalid(name: &'static str, reason: impl Into<String>) -> Self {
        Error::InvalidArgument {
            name,
            reason: reason.into(),
        }
    }
}
