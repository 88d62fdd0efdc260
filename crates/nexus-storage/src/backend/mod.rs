//! The file-system interface every byte of the store goes through, so that tests can swap the
//! real file system for an in-memory one, inject faults, or simulate a power cut.

use std::any::Any;
use std::fmt;
use std::io;
use std::path::Path;
use std::sync::Arc;

#[cfg(feature = "testing")]
pub(crate) mod fault;
pub(crate) mod mem;
pub(crate) mod real;

/// How a lock is taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum LockMode {
    /// One writer; fails if anyone else holds the lock.
    Exclusive,
    /// Any number of readers; fails if a writer holds the lock.
    Shared,
}

/// A held lock; dropping it releases the lock.
pub struct LockGuard(#[allow(dead_code)] Box<dyn Any + Send + Sync>);

impl LockGuard {
    /// Wraps whatever keeps the lock held until dropped.
    pub fn new(holder: impl Any + Send + Sync) -> Self {
        LockGuard(Box::new(holder))
    }
}

impl fmt::Debug for LockGuard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("LockGuard")
    }
}

/// A file open for appending. Writes go to the end; `sync` makes them durable.
pub trait FileWriter: Send + Sync + fmt::Debug {
    /// Appends all of `buf`, or fails (possibly after writing a prefix of it).
    fn write_all(&self, buf: &[u8]) -> io::Result<()>;
    /// Makes every byte written so far durable (`fdatasync`).
    fn sync(&self) -> io::Result<()>;
}

/// Read-only bytes of a whole file: a memory mapping, or a heap copy aligned to 64 bytes.
pub struct Mapping {
    inner: MappingInner,
}

enum MappingInner {
    Mapped(memmap2::Mmap),
    Heap { chunks: Vec<Chunk>, len: usize },
}

/// 64 bytes aligned to 64, so that a heap copy gives the same alignment as a mapping.
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
#[repr(C, align(64))]
struct Chunk([u8; 64]);

impl Mapping {
    /// A heap copy of `bytes`, aligned to 64 bytes (what in-memory backends return).
    pub fn from_bytes(bytes: &[u8]) -> Self {
        let mut chunks = vec![Chunk([0; 64]); bytes.len().div_ceil(64)];
        bytemuck::cast_slice_mut::<Chunk, u8>(&mut chunks)[..bytes.len()].copy_from_slice(bytes);
        Mapping {
            inner: MappingInner::Heap {
                chunks,
                len: bytes.len(),
            },
        }
    }

    pub(crate) fn from_mmap(map: memmap2::Mmap) -> Self {
        Mapping {
            inner: MappingInner::Mapped(map),
        }
    }

    /// The file's bytes.
    pub fn as_bytes(&self) -> &[u8] {
        match &self.inner {
            MappingInner::Mapped(m) => m,
            MappingInner::Heap { chunks, len } => &bytemuck::cast_slice(chunks)[..*len],
        }
    }

    /// Whether the bytes are a memory mapping (not a heap copy).
    pub fn is_mapped(&self) -> bool {
        matches!(self.inner, MappingInner::Mapped(_))
    }
}

impl fmt::Debug for Mapping {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Mapping")
            .field("len", &self.as_bytes().len())
            .field("mapped", &self.is_mapped())
            .finish()
    }
}

/// Every file-system call the store makes. Paths are absolute or relative to the process; the
/// store only ever touches files directly inside its own directory.
pub trait Backend: Send + Sync + fmt::Debug {
    /// Creates a directory and its parents (no error if it exists).
    fn create_dir_all(&self, dir: &Path) -> io::Result<()>;
    /// Creates `path` empty (replacing any file there) and opens it for appending.
    fn create(&self, path: &Path) -> io::Result<Arc<dyn FileWriter>>;
    /// Reads a whole file.
    fn read(&self, path: &Path) -> io::Result<Vec<u8>>;
    /// Maps a whole file read-only. The store never writes a file after it maps it.
    fn map(&self, path: &Path) -> io::Result<Mapping>;
    /// Renames `from` to `to`, replacing `to` atomically.
    fn rename(&self, from: &Path, to: &Path) -> io::Result<()>;
    /// Deletes a file.
    fn remove(&self, path: &Path) -> io::Result<()>;
    /// The names of the entries of a directory.
    fn list(&self, dir: &Path) -> io::Result<Vec<String>>;
    /// Makes the directory's entries (creates, renames, deletes) durable.
    fn sync_dir(&self, dir: &Path) -> io::Result<()>;
    /// Whether a file exists.
    fn exists(&self, path: &Path) -> io::Result<bool>;
    /// Takes the lock on `path` (creating the file if needed) without blocking.
    /// Fails with [`io::ErrorKind::WouldBlock`] when someone else holds it.
    fn lock(&self, path: &Path, mode: LockMode) -> io::Result<LockGuard>;
}
