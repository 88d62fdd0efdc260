//! TEXMEX `fvecs` / `ivecs`: each row is a little-endian `i32` dimension followed by that many
//! little-endian `f32` (fvecs) or `i32` (ivecs) values.
//!
//! Reading is validated row by row. Memory grows only as rows are actually read, never by a
//! count taken from the file, so a corrupt header cannot make us allocate gigabytes.

use std::fs::File;
use std::io::{BufReader, BufWriter, Read, Write};
use std::path::Path;

use crate::error::{Error, Result, io_error};

/// The largest dimension a row may declare. Real embeddings stay far below it; a larger value
/// is taken as corruption rather than an instruction to allocate.
pub const MAX_DIM: usize = 1 << 16;

mod sealed {
    pub trait Sealed {}
    impl Sealed for f32 {}
    impl Sealed for i32 {}
}

/// An element type of a TEXMEX file: `f32` (fvecs) or `i32` (ivecs). Sealed.
pub trait Element:
    sealed::Sealed + Copy + Default + std::fmt::Debug + Send + Sync + 'static
{
    /// Decodes one little-endian element.
    fn from_le(bytes: [u8; 4]) -> Self;
    /// Encodes one element little-endian.
    fn to_le(self) -> [u8; 4];
    /// `Some(value)` when the element is a non-finite float (rejected on read).
    fn non_finite(self) -> Option<f32>;
}

impl Element for f32 {
    fn from_le(bytes: [u8; 4]) -> Self {
        f32::from_le_bytes(bytes)
    }
    fn to_le(self) -> [u8; 4] {
        self.to_le_bytes()
    }
    fn non_finite(self) -> Option<f32> {
        (!self.is_finite()).then_some(self)
    }
}

impl Element for i32 {
    fn from_le(bytes: [u8; 4]) -> Self {
        i32::from_le_bytes(bytes)
    }
    fn to_le(self) -> [u8; 4] {
        self.to_le_bytes()
    }
    fn non_finite(self) -> Option<f32> {
        None
    }
}

/// A set of equal-length vectors stored row-major in one contiguous buffer.
#[derive(Clone, Debug, PartialEq)]
pub struct Vectors<T> {
    dim: usize,
    data: Vec<T>,
}

impl<T: Element> Vectors<T> {
    /// Wraps a row-major buffer of `data.len() / dim` rows.
    ///
    /// # Errors
    /// [`Error::NotRows`] if `dim` is zero or does not divide `data.len()`.
    pub fn from_flat(dim: usize, data: Vec<T>) -> Result<Self> {
        if dim == 0 || !data.len().is_multiple_of(dim) {
            return Err(Error::NotRows {
                len: data.len(),
                dim,
            });
        }
        Ok(Self { dim, data })
    }

    /// Builds a set from rows, which must all have the same non-zero length.
    ///
    /// # Errors
    /// [`Error::NotRows`] if there are no rows or the first is empty, [`Error::RowLength`]
    /// if a row's length differs from the first's.
    pub fn from_rows<R: AsRef<[T]>>(rows: &[R]) -> Result<Self> {
        let dim = rows.first().map_or(0, |r| r.as_ref().len());
        if dim == 0 {
            return Err(Error::NotRows { len: 0, dim });
        }
        let mut data = Vec::with_capacity(dim * rows.len());
        for (i, row) in rows.iter().enumerate() {
            let row = row.as_ref();
            if row.len() != dim {
                return Err(Error::RowLength {
                    row: i,
                    expected: dim,
                    got: row.len(),
                });
            }
            data.extend_from_slice(row);
        }
        Ok(Self { dim, data })
    }

    /// Number of values per row.
    pub fn dim(&self) -> usize {
        self.dim
    }

    /// Number of rows.
    pub fn len(&self) -> usize {
        self.data.len() / self.dim
    }

    /// True if there are no rows.
    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }

    /// Row `i`.
    ///
    /// # Panics
    /// If `i >= self.len()`.
    pub fn row(&self, i: usize) -> &[T] {
        &self.data[i * self.dim..(i + 1) * self.dim]
    }

    /// All rows in order.
    pub fn rows(&self) -> std::slice::ChunksExact<'_, T> {
        self.data.chunks_exact(self.dim)
    }

    /// The row-major buffer (`len() * dim()` values).
    pub fn as_flat(&self) -> &[T] {
        &self.data
    }

    /// Consumes the set, returning the row-major buffer.
    pub fn into_flat(self) -> Vec<T> {
        self.data
    }

    /// The first `n` rows (all of them if `n >= len()`).
    pub fn truncated(&self, n: usize) -> Self {
        let n = n.min(self.len());
        Self {
            dim: self.dim,
            data: self.data[..n * self.dim].to_vec(),
        }
    }

    /// Reads a whole file, validating every row (see the module docs).
    ///
    /// # Errors
    /// [`Error::Io`], [`Error::Empty`], [`Error::Truncated`], [`Error::BadDimension`],
    /// [`Error::DimensionChanged`], and for floats [`Error::NonFinite`].
    pub fn read(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let file = File::open(path).map_err(io_error(path))?;
        let file_len = file.metadata().map_err(io_error(path))?.len();
        Self::read_from(BufReader::with_capacity(1 << 20, file), file_len, path)
    }

    /// Parses an in-memory file image; `path` only names it in errors.
    ///
    /// # Errors
    /// As [`Vectors::read`].
    pub fn parse(bytes: &[u8], path: impl AsRef<Path>) -> Result<Self> {
        Self::read_from(bytes, bytes.len() as u64, path.as_ref())
    }

    fn read_from(mut reader: impl Read, file_len: u64, path: &Path) -> Result<Self> {
        let mut dim = 0usize;
        // Bounded by the real file length, never by a header.
        let mut data: Vec<T> = Vec::with_capacity((file_len / 4).min(1 << 28) as usize);
        let mut offset = 0u64;
        let mut row = 0usize;
        let mut buf = Vec::new();
        while offset < file_len {
            let available = file_len - offset;
            if available < 4 {
                return Err(Error::Truncated {
                    path: path.into(),
                    row,
                    offset,
                    needed: 4,
                    available,
                });
            }
            let mut header = [0u8; 4];
            reader.read_exact(&mut header).map_err(io_error(path))?;
            let declared = i64::from(i32::from_le_bytes(header));
            if declared <= 0 || declared as u64 > MAX_DIM as u64 {
                return Err(Error::BadDimension {
                    path: path.into(),
                    row,
                    offset,
                    dim: declared,
                    max: MAX_DIM,
                });
            }
            let this_dim = declared as usize;
            if row == 0 {
                dim = this_dim;
            } else if this_dim != dim {
                return Err(Error::DimensionChanged {
                    path: path.into(),
                    row,
                    offset,
                    expected: dim,
                    got: this_dim,
                });
            }
            let needed = 4 + 4 * this_dim as u64;
            if available < needed {
                return Err(Error::Truncated {
                    path: path.into(),
                    row,
                    offset,
                    needed,
                    available,
                });
            }
            buf.resize(4 * this_dim, 0);
            reader.read_exact(&mut buf).map_err(io_error(path))?;
            for (column, chunk) in buf.chunks_exact(4).enumerate() {
                let value = T::from_le([chunk[0], chunk[1], chunk[2], chunk[3]]);
                if let Some(value) = value.non_finite() {
                    return Err(Error::NonFinite {
                        path: path.into(),
                        row,
                        column,
                        value,
                    });
                }
                data.push(value);
            }
            offset += needed;
            row += 1;
        }
        if row == 0 {
            return Err(Error::Empty { path: path.into() });
        }
        Ok(Self { dim, data })
    }

    /// Writes the set in TEXMEX format, replacing `path`.
    ///
    /// # Errors
    /// [`Error::Io`].
    pub fn write(&self, path: impl AsRef<Path>) -> Result<()> {
        let path = path.as_ref();
        let file = File::create(path).map_err(io_error(path))?;
        let mut out = BufWriter::with_capacity(1 << 20, file);
        let header = i32::try_from(self.dim)
            .map_err(|_| Error::TooLarge {
                what: "dimension",
                value: self.dim,
                max: i32::MAX as usize,
            })?
            .to_le_bytes();
        for row in self.rows() {
            out.write_all(&header).map_err(io_error(path))?;
            for &v in row {
                out.write_all(&v.to_le()).map_err(io_error(path))?;
            }
        }
        out.flush().map_err(io_error(path))
    }
}

/// Reads an `fvecs` file (see [`Vectors::read`]).
///
/// # Errors
/// As [`Vectors::read`].
pub fn read_fvecs(path: impl AsRef<Path>) -> Result<Vectors<f32>> {
    Vectors::read(path)
}

/// Reads an `ivecs` file (see [`Vectors::read`]).
///
/// # Errors
/// As [`Vectors::read`].
pub fn read_ivecs(path: impl AsRef<Path>) -> Result<Vectors<i32>> {
    Vectors::read(path)
}
