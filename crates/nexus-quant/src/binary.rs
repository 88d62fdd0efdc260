//! Plain 1-bit codes: one bit per dimension against a per-dimension threshold.

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::bits::pack_above;
use crate::error::{CorruptReason, Error, Result};
use crate::input::{
    MAX_ABS, check_batch, check_dim, check_out_len, check_sample, check_vector, column, quantile,
    within, words_for,
};
use crate::layout::{Kind, Reader, Writer, corrupt};

/// Where a [`BinaryQuantizer`] puts the boundary between a 0 bit and a 1 bit of each dimension.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub enum Threshold {
    /// Zero: the bit is the sign (1 for `x > 0`).
    Sign,
    /// The per-dimension mean of the training sample.
    Mean,
    /// The per-dimension median of the training sample (the element of rank
    /// `round((n − 1) / 2)` of the sorted column).
    Median,
}

impl Threshold {
    fn tag(self) -> u8 {
        match self {
            Self::Sign => 0,
            Self::Mean => 1,
            Self::Median => 2,
        }
    }
    fn from_tag(tag: u8) -> Option<Self> {
        match tag {
            0 => Some(Self::Sign),
            1 => Some(Self::Mean),
            2 => Some(Self::Median),
            _ => None,
        }
    }
}

/// A trained 1-bit quantizer: bit `i` of a code is 1 iff `x[i] > threshold[i]`.
///
/// Codes are `ceil(dim / 64)` little-endian-ordered `u64` words: dimension `i` is bit `i % 64`
/// of word `i / 64`; padding bits are zero. A batch is the codes of its rows back to back.
///
/// Besides the thresholds, training records for every dimension the mean offset from the
/// threshold of the sample values on each side (`low[i] ≤ 0 ≤ high[i]`): a code then
/// reconstructs to `threshold[i] + (bit ? high[i] : low[i])`, which is what the asymmetric
/// scorer ([`BinaryQuery::scores`]) takes the inner product with.
///
/// ```
/// use nexus_quant::{BinaryQuantizer, Threshold};
///
/// let dim = 3;
/// let sample = [0.5f32, -0.2, 0.1, -0.4, 0.3, 0.2, 0.1, 0.1, -0.9];
/// let q = BinaryQuantizer::train(Threshold::Median, &sample, dim)?;
/// assert_eq!(q.words(), 1);
/// let codes = q.encode_batch(&sample)?; // 3 rows → 3 words
/// let query = q.prepare_query(&[0.5, -0.2, 0.1])?;
/// let mut hamming = [0u32; 3];
/// query.hamming(&codes, &mut hamming);
/// assert_eq!(hamming[0], 0); // the query is row 0
/// let mut ip = [0f32; 3];
/// query.scores(&codes, &mut ip); // estimates of <query, row>, higher = more similar
/// # Ok::<(), nexus_quant::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "BinaryParams", into = "BinaryParams")]
pub struct BinaryQuantizer {
    threshold: Threshold,
    thresholds: Vec<f32>,
    low: Vec<f32>,
    high: Vec<f32>,
}

/// The serde form; validated into a [`BinaryQuantizer`].
#[derive(Debug, Clone, Serialize, Deserialize)]
struct BinaryParams {
    threshold: Threshold,
    thresholds: Vec<f32>,
    low: Vec<f32>,
    high: Vec<f32>,
}

impl TryFrom<BinaryParams> for BinaryQuantizer {
    type Error = Error;
    fn try_from(p: BinaryParams) -> Result<Self> {
        let dim = p.thresholds.len();
        if dim == 0 {
            return Err(Error::NotTrained { what: "thresholds" });
        }
        let bad = |name| corrupt(CorruptReason::InvalidField(name));
        check_dim(dim).map_err(|_| bad("dim"))?;
        if p.low.len() != dim || p.high.len() != dim {
            return Err(bad("levels"));
        }
        if !p.thresholds.iter().all(|&t| within(t, MAX_ABS)) {
            return Err(bad("thresholds"));
        }
        if p.threshold == Threshold::Sign && p.thresholds.iter().any(|&t| t != 0.0) {
            return Err(bad("thresholds"));
        }
        // Offsets of in-range values from an in-range threshold: at most 2 · MAX_ABS.
        if !p.low.iter().all(|&l| within(l, 2.0 * MAX_ABS) && l <= 0.0)
            || !p.high.iter().all(|&h| within(h, 2.0 * MAX_ABS) && h >= 0.0)
        {
            return Err(bad("levels"));
        }
        Ok(Self {
            threshold: p.threshold,
            thresholds: p.thresholds,
            low: p.low,
            high: p.high,
        })
    }
}

impl From<BinaryQuantizer> for BinaryParams {
    fn from(q: BinaryQuantizer) -> Self {
        Self {
            threshold: q.threshold,
            thresholds: q.thresholds,
            low: q.low,
            high: q.high,
        }
    }
}

impl BinaryQuantizer {
    /// Trains thresholds and reconstruction levels on `sample`, a row-major batch of
    /// `dim`-dimensional rows.
    ///
    /// # Errors
    /// [`Error::ZeroDimension`], [`Error::RaggedBatch`], [`Error::NonFinite`],
    /// [`Error::OutOfRange`], [`Error::EmptyTrainingSet`].
    pub fn train(threshold: Threshold, sample: &[f32], dim: usize) -> Result<Self> {
        check_dim(dim)?;
        check_sample(sample, dim)?;
        let thresholds: Vec<f32> = (0..dim)
            .into_par_iter()
            .map(|j| match threshold {
                Threshold::Sign => 0.0,
                Threshold::Mean => {
                    let col = column(sample, dim, j);
                    (col.iter().map(|&x| f64::from(x)).sum::<f64>() / col.len() as f64) as f32
                }
                Threshold::Median => quantile(&mut column(sample, dim, j), 0.5),
            })
            .collect();
        let (low, high) = (0..dim)
            .into_par_iter()
            .map(|j| {
                let t = thresholds[j];
                let (mut lo, mut nlo, mut hi, mut nhi) = (0.0f64, 0usize, 0.0f64, 0usize);
                for row in sample.chunks_exact(dim) {
                    let off = f64::from(row[j]) - f64::from(t);
                    if row[j] > t {
                        hi += off;
                        nhi += 1;
                    } else {
                        lo += off;
                        nlo += 1;
                    }
                }
                let mean = |s: f64, n: usize| if n == 0 { 0.0 } else { (s / n as f64) as f32 };
                (mean(lo, nlo).min(0.0), mean(hi, nhi).max(0.0))
            })
            .unzip();
        Ok(Self {
            threshold,
            thresholds,
            low,
            high,
        })
    }

    /// The input dimension.
    pub fn dim(&self) -> usize {
        self.thresholds.len()
    }

    /// `u64` words per code: `ceil(dim / 64)`.
    pub fn words(&self) -> usize {
        words_for(self.dim())
    }

    /// The threshold rule this quantizer was trained with.
    pub fn threshold(&self) -> Threshold {
        self.threshold
    }

    /// The per-dimension thresholds.
    pub fn thresholds(&self) -> &[f32] {
        &self.thresholds
    }

    /// Encodes one vector into `out` (`words()` long).
    ///
    /// # Errors
    /// [`Error::DimensionMismatch`] for a vector or `out` of the wrong length,
    /// [`Error::NonFinite`], [`Error::OutOfRange`].
    pub fn encode_into(&self, v: &[f32], out: &mut [u64]) -> Result<()> {
        check_vector(v, self.dim())?;
        check_out_len(self.words(), out.len())?;
        self.encode_unchecked(v, out);
        Ok(())
    }

    /// Encodes one vector into a new code of `words()` words.
    ///
    /// # Errors
    /// As [`encode_into`](Self::encode_into).
    pub fn encode(&self, v: &[f32]) -> Result<Vec<u64>> {
        let mut out = vec![0; self.words()];
        self.encode_into(v, &mut out)?;
        Ok(out)
    }

    /// Encodes a row-major batch (in parallel) into `rows × words()` words.
    ///
    /// # Errors
    /// [`Error::RaggedBatch`], [`Error::NonFinite`], [`Error::OutOfRange`] (naming the row).
    /// Nothing is encoded unless every row is valid.
    pub fn encode_batch(&self, flat: &[f32]) -> Result<Vec<u64>> {
        let rows = check_batch(flat, self.dim())?;
        let words = self.words();
        let mut out = vec![0u64; rows * words];
        out.par_chunks_mut(words)
            .zip(flat.par_chunks_exact(self.dim()))
            .for_each(|(code, v)| self.encode_unchecked(v, code));
        Ok(out)
    }

    fn encode_unchecked(&self, v: &[f32], out: &mut [u64]) {
        let words = v.chunks(64).zip(self.thresholds.chunks(64));
        for (word, (v, t)) in out.iter_mut().zip(words) {
            *word = pack_above(v, t);
        }
    }

    /// Prepares a query for scoring against codes of this quantizer: its own code (for
    /// [`BinaryQuery::hamming`]) and the weights of the asymmetric inner-product estimate
    /// ([`BinaryQuery::scores`]).
    ///
    /// # Errors
    /// [`Error::DimensionMismatch`], [`Error::NonFinite`], [`Error::OutOfRange`].
    pub fn prepare_query(&self, query: &[f32]) -> Result<BinaryQuery> {
        let code = self.encode(query)?;
        let mut weights = vec![0.0f32; self.dim()];
        let mut bias = 0.0f64;
        for i in 0..self.dim() {
            let q = query[i];
            weights[i] = q * (self.high[i] - self.low[i]);
            bias += f64::from(q) * f64::from(self.thresholds[i] + self.low[i]);
        }
        Ok(BinaryQuery {
            code,
            weights,
            bias: bias as f32,
        })
    }

    /// The vector a code stands for: `threshold[i] + (bit ? high[i] : low[i])`.
    ///
    /// # Errors
    /// [`Error::DimensionMismatch`] for a code of the wrong length.
    pub fn decode(&self, code: &[u64]) -> Result<Vec<f32>> {
        check_out_len(self.words(), code.len())?;
        Ok((0..self.dim())
            .map(|i| {
                let bit = (code[i / 64] >> (i % 64)) & 1 == 1;
                self.thresholds[i] + if bit { self.high[i] } else { self.low[i] }
            })
            .collect())
    }

    /// The byte layout (see the crate docs for the frame). Payload, kind 1:
    ///
    /// ```text
    /// u8 threshold (0 sign, 1 mean, 2 median) · f32 × dim thresholds · f32 × dim low
    /// · f32 × dim high
    /// ```
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut w = Writer::default();
        w.u8(self.threshold.tag());
        w.f32s(&self.thresholds);
        w.f32s(&self.low);
        w.f32s(&self.high);
        w.finish(Kind::Binary, self.dim())
    }

    /// Reads and validates [`to_bytes`](Self::to_bytes) output.
    ///
    /// # Errors
    /// [`Error::Corrupt`] for anything but a valid binary quantizer.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
        let mut r = Reader::open(bytes, Kind::Binary)?;
        let dim = r.dim;
        let threshold = Threshold::from_tag(r.u8()?)
            .ok_or(corrupt(CorruptReason::InvalidField("threshold")))?;
        let thresholds = r.f32s(dim)?;
        let low = r.f32s(dim)?;
        let high = r.f32s(dim)?;
        r.finish()?;
        BinaryParams {
            threshold,
            thresholds,
            low,
            high,
        }
        .try_into()
    }
}

/// A query prepared by [`BinaryQuantizer::prepare_query`].
#[derive(Debug, Clone)]
pub struct BinaryQuery {
    code: Vec<u64>,
    weights: Vec<f32>,
    bias: f32,
}

impl BinaryQuery {
    /// The query's own code.
    pub fn code(&self) -> &[u64] {
        &self.code
    }

    /// Hamming distance (lower = more similar) from the query's code to each code of
    /// `codes` (row-major, `words()` per code) into `out`.
    ///
    /// # Panics
    /// If `codes.len() != out.len() * words()`.
    pub fn hamming(&self, codes: &[u64], out: &mut [u32]) {
        nexus_simd::hamming_one_to_many(&self.code, codes, out);
    }

    /// Asymmetric estimate of the inner product of the f32 query with the vector each code
    /// stands for (see [`BinaryQuantizer::decode`]); higher = more similar.
    ///
    /// # Panics
    /// If `codes.len() != out.len() * words()`.
    pub fn scores(&self, codes: &[u64], out: &mut [f32]) {
        nexus_simd::dot_f32_bits_one_to_many(&self.weights, codes, out);
        for o in out.iter_mut() {
            *o += self.bias;
        }
    }

    /// [`scores`](Self::scores) for one code.
    ///
    /// # Panics
    /// If `code.len() != words()`.
    pub fn score(&self, code: &[u64]) -> f32 {
        nexus_simd::dot_f32_bits(&self.weights, code) + self.bias
    }
}
