//! Matryoshka truncation: the first `width` dimensions, re-normalised.

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::error::{CorruptReason, Error, Result};
use crate::input::{check_batch, check_dim, check_out_len, check_vector};
use crate::layout::{Kind, Reader, Writer, corrupt};
use crate::sums::dot64;

/// Keeps the first `width` of `dim` dimensions and scales the result to unit length.
///
/// **Valid only for embeddings of models trained with Matryoshka Representation Learning
/// (MRL)**, whose leading dimensions are trained to stand alone. On other models (e.g.
/// all-MiniLM-L6-v2) truncation discards information spread over every dimension, and recall
/// drops: the `quant` bench suite measures by how much (`recall10/mrl<m>/…`). Measured on
/// all-MiniLM-L6-v2 (dev-20k, 384 dims, 500 queries), recall@10 of the truncated vectors alone
/// is 0.31 / 0.50 / 0.63 / 0.74 at m = 64 / 128 / 192 / 256, and still 0.67 / 0.91 / 0.98 /
/// 0.997 after an exact rerank of the top 100 — where int8 codes keep 0.99 alone.
///
/// ```
/// use nexus_quant::Matryoshka;
///
/// let m = Matryoshka::new(4, 2)?;
/// assert_eq!(m.encode(&[3.0, 4.0, 1.0, 1.0])?, vec![0.6, 0.8]);
/// # Ok::<(), nexus_quant::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "MatryoshkaParams", into = "MatryoshkaParams")]
pub struct Matryoshka {
    dim: usize,
    width: usize,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
struct MatryoshkaParams {
    dim: usize,
    width: usize,
}

impl TryFrom<MatryoshkaParams> for Matryoshka {
    type Error = Error;
    fn try_from(p: MatryoshkaParams) -> Result<Self> {
        Self::new(p.dim, p.width).map_err(|_| corrupt(CorruptReason::InvalidField("width")))
    }
}

impl From<Matryoshka> for MatryoshkaParams {
    fn from(m: Matryoshka) -> Self {
        Self {
            dim: m.dim,
            width: m.width,
        }
    }
}

impl Matryoshka {
    /// Truncation of `dim`-dimensional vectors to `width` (1 ≤ width ≤ dim).
    ///
    /// # Errors
    /// [`Error::ZeroDimension`], [`Error::InvalidParameter`] for a width of 0 or above `dim`.
    pub fn new(dim: usize, width: usize) -> Result<Self> {
        check_dim(dim)?;
        if width == 0 || width > dim || u32::try_from(dim).is_err() {
            return Err(Error::InvalidParameter {
                name: "width",
                reason: "must be in 1..=dim",
            });
        }
        Ok(Self { dim, width })
    }

    /// The input dimension.
    pub fn dim(&self) -> usize {
        self.dim
    }

    /// The output dimension.
    pub fn width(&self) -> usize {
        self.width
    }

    /// Truncates and re-normalises `v` into `out` (`width()` long).
    ///
    /// # Errors
    /// [`Error::DimensionMismatch`], [`Error::NonFinite`], [`Error::OutOfRange`],
    /// [`Error::ZeroNorm`] if the kept prefix is all zeros.
    pub fn encode_into(&self, v: &[f32], out: &mut [f32]) -> Result<()> {
        check_vector(v, self.dim)?;
        check_out_len(self.width, out.len())?;
        self.encode_row(v, out, 0)
    }

    /// Truncates and re-normalises one vector.
    ///
    /// # Errors
    /// As [`encode_into`](Self::encode_into).
    pub fn encode(&self, v: &[f32]) -> Result<Vec<f32>> {
        let mut out = vec![0.0; self.width];
        self.encode_into(v, &mut out)?;
        Ok(out)
    }

    /// Truncates a row-major batch in parallel into `rows × width()` values.
    ///
    /// # Errors
    /// [`Error::RaggedBatch`], [`Error::NonFinite`], [`Error::OutOfRange`], [`Error::ZeroNorm`]
    /// (naming the row).
    pub fn encode_batch(&self, flat: &[f32]) -> Result<Vec<f32>> {
        let rows = check_batch(flat, self.dim)?;
        let mut out = vec![0.0f32; rows * self.width];
        let encoded = out
            .par_chunks_mut(self.width)
            .zip(flat.par_chunks_exact(self.dim))
            .enumerate()
            .try_for_each(|(row, (o, v))| self.encode_row(v, o, row));
        if let Err(error) = encoded {
            // `try_for_each` stops at whichever failing row a thread meets first: name the
            // first in the batch (a second pass only on this path, the fast one untouched).
            let first = flat
                .chunks_exact(self.dim)
                .position(|v| self.prefix_norm(v).is_none());
            return Err(first.map_or(error, |row| Error::ZeroNorm { row }));
        }
        Ok(out)
    }

    /// `v` has been checked whole by the caller ([`check_vector`] or [`check_batch`]).
    fn encode_row(&self, v: &[f32], out: &mut [f32], row: usize) -> Result<()> {
        let norm = self.prefix_norm(v).ok_or(Error::ZeroNorm { row })?;
        // A product with the f64 reciprocal instead of a division, whose vectorized
        // divisions were a third of the time: within about an f64 ulp of x / norm, so the f32
        // differs only where x / norm lies that close to halfway between two f32s (none of
        // 6.4 M values: 20k random rows at widths 64 and 256).
        let inv = 1.0 / norm;
        for (o, &x) in out.iter_mut().zip(&v[..self.width]) {
            *o = (f64::from(x) * inv) as f32;
        }
        Ok(())
    }

    /// The L2 norm of the kept prefix of `v`, `None` if it is zero (or not finite).
    fn prefix_norm(&self, v: &[f32]) -> Option<f64> {
        let prefix = &v[..self.width];
        let norm = dot64(prefix, prefix).sqrt();
        (norm != 0.0 && norm.is_finite()).then_some(norm)
    }

    /// The byte layout (see the crate docs for the frame). Payload, kind 4: `u32 width`.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut w = Writer::default();
        w.u32(self.width as u32);
        w.finish(Kind::Matryoshka, self.dim)
    }

    /// Reads and validates [`to_bytes`](Self::to_bytes) output.
    ///
    /// # Errors
    /// [`Error::Corrupt`] for anything but a valid truncation.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
        let mut r = Reader::open(bytes, Kind::Matryoshka)?;
        let dim = r.dim;
        let width = r.u32()? as usize;
        r.finish()?;
        MatryoshkaParams { dim, width }.try_into()
    }
}
