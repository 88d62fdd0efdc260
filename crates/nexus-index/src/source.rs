//! Where an index reads f32 vectors from: its own heap, or a source owned by the caller
//! (for instance the memory-mapped segments of `nexus-storage`).

use std::path::Path;

use crate::error::{Error, Result};

/// Rows of f32 vectors that an index reads without copying.
///
/// Implementors promise that a row, once readable, never changes and stays readable for as
/// long as the source lives (append-only): indexes keep only row numbers.
pub trait VectorSource: Send + Sync {
    /// The dimension of every row.
    fn dim(&self) -> usize;
    /// The number of rows.
    fn len(&self) -> usize;
    /// Whether the source has no rows.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// Row `row` (`dim` values).
    ///
    /// # Panics
    /// May panic if `row >= len()`; indexes check before calling.
    fn row(&self, row: usize) -> &[f32];
    /// Bytes of this source on the heap.
    fn heap_bytes(&self) -> usize;
    /// Bytes of this source on a memory mapping (not resident heap).
    fn mapped_bytes(&self) -> usize;
}

/// Vectors in a `Vec<f32>` on the heap.
#[derive(Debug, Clone)]
pub struct HeapVectors {
    dim: usize,
    data: Vec<f32>,
}

impl HeapVectors {
    /// Wraps row-major `data` of dimension `dim`.
    ///
    /// # Errors
    /// [`Error::ZeroDimension`], or [`Error::BatchShape`] if `data` is not whole rows.
    pub fn new(dim: usize, data: Vec<f32>) -> Result<Self> {
        if dim == 0 {
            return Err(Error::ZeroDimension);
        }
        if !data.len().is_multiple_of(dim) {
            return Err(Error::BatchShape {
                ids: data.len() / dim,
                values: data.len(),
                dim,
            });
        }
        Ok(Self { dim, data })
    }
}

impl VectorSource for HeapVectors {
    fn dim(&self) -> usize {
        self.dim
    }
    fn len(&self) -> usize {
        self.data.len() / self.dim
    }
    fn row(&self, row: usize) -> &[f32] {
        &self.data[row * self.dim..(row + 1) * self.dim]
    }
    fn heap_bytes(&self) -> usize {
        self.data.capacity() * 4
    }
    fn mapped_bytes(&self) -> usize {
        0
    }
}

/// Vectors in a file of raw little-endian f32 rows, memory-mapped read-only.
#[derive(Debug)]
pub struct MappedVectors {
    dim: usize,
    map: memmap2::Mmap,
}

impl MappedVectors {
    /// Maps `path`, a file of whole rows of `dim` little-endian f32 values.
    ///
    /// The file must not be modified or truncated while mapped (as with every mapping: a
    /// writer elsewhere changes what readers see).
    ///
    /// # Errors
    /// I/O errors, [`Error::ZeroDimension`], [`Error::BatchShape`] if the length is not whole
    /// rows, [`Error::NonFinite`] for NaN / ∞ values.
    pub fn open(path: impl AsRef<Path>, dim: usize) -> Result<Self> {
        let path = path.as_ref();
        if dim == 0 {
            return Err(Error::ZeroDimension);
        }
        let io = |source| Error::Io {
            path: path.to_owned(),
            source,
        };
        let file = std::fs::File::open(path).map_err(io)?;
        // SAFETY: the mapping is read-only and we only read it as bytes/f32 after checking
        // length and alignment; the documented contract is that the file is not modified
        // while mapped (the standard condition of every file mapping).
        let map = unsafe { memmap2::Mmap::map(&file) }.map_err(io)?;
        if !map.len().is_multiple_of(4 * dim) || !cfg!(target_endian = "little") {
            return Err(Error::BatchShape {
                ids: map.len() / (4 * dim),
                values: map.len() / 4,
                dim,
            });
        }
        let this = Self { dim, map };
        crate::metric::check_finite(this.floats(), 0)?;
        Ok(this)
    }

    fn floats(&self) -> &[f32] {
        // A page-aligned mapping of whole f32s: the cast cannot fail.
        bytemuck::cast_slice(&self.map[..])
    }
}

impl VectorSource for MappedVectors {
    fn dim(&self) -> usize {
        self.dim
    }
    fn len(&self) -> usize {
        self.map.len() / (4 * self.dim)
    }
    fn row(&self, row: usize) -> &[f32] {
        &self.floats()[row * self.dim..(row + 1) * self.dim]
    }
    fn heap_bytes(&self) -> usize {
        0
    }
    fn mapped_bytes(&self) -> usize {
        self.map.len()
    }
}
