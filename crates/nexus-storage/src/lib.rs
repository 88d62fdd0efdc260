//! The durable store of Memory Nexus: vectors, their codes and metadata by `u64` id, kept in one
//! directory through a checksummed write-ahead log, immutable memory-mapped segments read
//! zero-copy, and an atomically replaced manifest — with crash recovery, compaction and
//! verification.
//!
//! It is not an index (`nexus-index` builds those over [`Segment::vectors`] and may store them
//! as segment [attachments](Store::attach)) and not a database: no queries, no secondary keys.
//!
//! # Guarantees
//! - A commit acknowledged under [`Durability::Always`] or [`Durability::Grouped`] survives a
//!   process crash and a power cut; under [`Durability::Never`] it survives a process crash.
//!   A batch is all or nothing, and recovery yields the state after a prefix of the commits.
//! - Bytes read from disk are untrusted: every file is checksummed (CRC32C) and validated
//!   before use; corruption gives [`Error::Corrupt`] with the path and byte offset, never a
//!   panic or wrong data. A torn WAL tail (the last 512-byte sector) is cut on open and
//!   reported in [`Store::recovery`]; a bad record before it is corruption. Open checks every
//!   header, the manifest and small sections; [`Store::verify`] checks the large ones.
//! - After a failed write or fsync the store refuses writes ([`Error::Poisoned`]) until it is
//!   reopened: fsync errors are never retried (the kernel may have dropped the dirty pages —
//!   PostgreSQL's "fsyncgate").
//! - One writer per directory (an exclusive lock on `LOCK`; a second writer gets
//!   [`Error::Locked`]); read-only opens share the lock with each other.
//!
//! # Hard limits
//! - Vector dimension and code length up to `u32::MAX`; one committed batch up to 1 GiB.
//! - Little-endian hosts only (the files are little-endian and mapped without copying).
//! - `flush`, `compact` and `attach` hold the commit lock while they write (commits wait).
//! - **Mapped files**: the store never truncates or rewrites a file it has mapped — segments
//!   are written once and replaced by new files plus a manifest swap, and an old file is
//!   deleted only when the last [`Segment`] or [`Attachment`] clone is dropped. A file changed
//!   underneath a mapping by *someone else* (another program, a truncating backup tool) can
//!   still raise `SIGBUS`, as with every mmap-based store.
//!
//! # Testing the hard cases
//! All file I/O goes through [`Backend`]: [`RealFs`]; [`MemFs`], an in-memory file system that
//! is also a power-loss simulator ([`MemFs::crash_image`]); and, behind the `testing` feature
//! (test scaffolding, not stable API), `testing::FaultFs`, which fails, short-writes or fails
//! an fsync at the n-th call. The byte format of every file is in [`mod@format`].
//!
//! # Example
//!
//! ```
//! use std::sync::Arc;
//! use nexus_storage::{Batch, Durability, MemFs, Options, Store};
//!
//! # fn main() -> Result<(), nexus_storage::Error> {
//! let fs = Arc::new(MemFs::new());
//! let store = Store::open_with(fs.clone(), "/db", Options::new(3))?;
//! let mut batch = Batch::new();
//! batch.put(7, &[1.0, 2.0, 3.0], &[], b"hello").put(8, &[0.0; 3], &[], b"");
//! store.commit(batch, Durability::Always)?;
//! store.flush()?; // now in a segment, read zero-copy
//! let mut batch = Batch::new();
//! batch.delete(8);
//! store.commit(batch, Durability::Grouped)?;
//! drop(store);
//!
//! let store = Store::open_with(fs, "/db", Options::new(3))?;
//! assert_eq!(store.get(7)?.unwrap().meta, b"hello");
//! assert!(store.get(8)?.is_none());
//! let seg = &store.segments()[0];
//! let mut scores = vec![0.0; seg.len()];
//! nexus_simd::dot_one_to_many(&[1.0, 0.0, 0.0], seg.vectors(), &mut scores);
//! assert_eq!(scores[seg.find(7).unwrap()], 1.0);
//! store.verify()?;
//! # Ok(())
//! # }
//! ```

#![deny(missing_docs)]
#![doc(test(attr(deny(warnings))))]

mod backend;
mod codec;
mod error;
mod manifest;
mod segment;
mod store;
mod wal;

pub use backend::mem::MemFs;
pub use backend::real::RealFs;
pub use backend::{Backend, FileWriter, LockGuard, LockMode, Mapping};
pub use error::{Error, Result};
pub use segment::Segment;
pub use store::{
    Attachment, Batch, Durability, Options, Record, Recovery, Store, TailCut, VerifyReport,
};

#[doc = include_str!("../../../docs/format.md")]
pub mod format {}

/// Test scaffolding, behind the `testing` feature (this crate's tests and the `fuzz/` crate
/// enable it): fault injection, the simulated sector size, and the fuzz targets' entry points.
/// Not part of the stable API: it may change in any release.
#[cfg(feature = "testing")]
pub mod testing {
    pub use crate::backend::fault::{Fault, FaultFs};

    /// The sector of [`MemFs`](crate::MemFs)'s simulated disk: un-synced data survives a power
    /// cut in whole sectors, and the last surviving sector may be torn.
    pub const SECTOR: usize = crate::backend::mem::SECTOR;

    /// Entry points for the fuzz targets and their replayed corpus: each parses untrusted bytes
    /// as one file kind, exactly as `open` does, and must return (an error or a value), never
    /// panic.
    pub mod parse {
        use std::path::Path;

        use crate::backend::Mapping;
        use crate::error::Result;

        /// Parses `bytes` as a WAL file of a store of shape `dim` × `code_bytes`; returns the number
        /// of batches and whether a torn tail was cut.
        pub fn wal(bytes: &[u8], dim: usize, code_bytes: usize) -> Result<(usize, bool)> {
            let c = crate::wal::read(Path::new("fuzz.wal"), bytes, dim, code_bytes)?;
            Ok((c.batches.len(), c.tail_cut.is_some()))
        }

        /// Parses `bytes` as segment `id`, then verifies it and reads every row; returns the
        /// number of rows.
        pub fn segment(bytes: &[u8], id: u64) -> Result<usize> {
            let seg = crate::segment::Segment::open(
                Path::new("fuzz.seg"),
                Mapping::from_bytes(bytes),
                id,
                None,
            )?;
            for i in 0..seg.len() {
                let _ = (seg.vector(i), seg.code(i), seg.is_live(i), seg.meta(i)?);
            }
            seg.verify()?;
            Ok(seg.len())
        }

        /// Parses `bytes` as a manifest; returns the number of live segments.
        pub fn manifest(bytes: &[u8]) -> Result<usize> {
            Ok(crate::manifest::decode(Path::new("MANIFEST"), bytes)?
                .segments
                .len())
        }
    }
}
