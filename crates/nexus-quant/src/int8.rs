//! int8 scalar codes: an affine map of each dimension onto 256 levels.

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::error::{CorruptReason, Error, Result};
use crate::input::{
    MAX_ABS, check_batch, check_dim, check_out_len, check_sample, check_vector, column, within,
};
use crate::layout::{Kind, Reader, Writer, corrupt};

/// Whether an [`Int8Quantizer`] has one range per dimension or one for all.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub enum Int8Range {
    /// A range per dimension (best recall).
    PerDimension,
    /// One range over every value of the sample: codes of two vectors can then be compared
    /// symmetrically ([`Int8Quantizer::dot_codes`]).
    Global,
}

/// How the range is taken from the training sample.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub enum Clip {
    /// From the minimum to the maximum.
    MinMax,
    /// From the `(100 − p)`-th to the `p`-th percentile (nearest rank), `50 < p ≤ 100`:
    /// outliers beyond are clamped, the rest gets finer steps.
    Percentile(f32),
}

/// A trained int8 quantizer: `code[i] = clamp(round((x[i] − lo[i]) / step[i]), 0, 255) − 128`,
/// standing for `lo[i] + step[i] · (code[i] + 128)`.
///
/// Codes are `dim` `i8` per vector, back to back in a batch.
///
/// ```
/// use nexus_quant::{Clip, Int8Quantizer, Int8Range};
///
/// let dim = 4;
/// let base = [0.1f32, -0.5, 0.3, 0.9, -0.2, 0.4, 0.0, -0.7, 0.6, 0.2, -0.1, 0.3];
/// let q = Int8Quantizer::train(Int8Range::PerDimension, Clip::MinMax, &base, dim)?;
/// let codes: Vec<i8> = q.encode_batch(&base)?;
/// let query = q.prepare_query(&[0.1, -0.5, 0.3, 0.9])?;
/// let mut scores = [0f32; 3];
/// query.scores(&codes, &mut scores); // ≈ <query, row>, higher = more similar
/// assert!((scores[0] - 1.16).abs() < 0.01);
/// # Ok::<(), nexus_quant::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "Int8Params", into = "Int8Params")]
pub struct Int8Quantizer {
    range: Int8Range,
    clip: Clip,
    lo: Vec<f32>,
    step: Vec<f32>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Int8Params {
    range: Int8Range,
    clip: Clip,
    lo: Vec<f32>,
    step: Vec<f32>,
}

fn check_clip(clip: Clip) -> Result<()> {
    match clip {
        Clip::Percentile(p) if !(p > 50.0 && p <= 100.0) => Err(Error::InvalidParameter {
            name: "percentile",
            reason: "must be in (50, 100]",
        }),
        _ => Ok(()),
    }
}

impl TryFrom<Int8Params> for Int8Quantizer {
    type Error = Error;
    fn try_from(p: Int8Params) -> Result<Self> {
        let bad = |name| corrupt(CorruptReason::InvalidField(name));
        if p.lo.is_empty() {
            return Err(Error::NotTrained { what: "ranges" });
        }
        check_dim(p.lo.len()).map_err(|_| bad("dim"))?;
        check_clip(p.clip).map_err(|_| bad("clip"))?;
        if p.step.len() != p.lo.len() {
            return Err(bad("step"));
        }
        if !p.lo.iter().all(|&l| within(l, MAX_ABS)) {
            return Err(bad("lo"));
        }
        // A trained step is at most 2 · MAX_ABS / 255 (or 1 for a degenerate range).
        if !p.step.iter().all(|&s| within(s, MAX_ABS) && s > 0.0) {
            return Err(bad("step"));
        }
        if p.range == Int8Range::Global
            && (p.lo.iter().any(|&l| l != p.lo[0]) || p.step.iter().any(|&s| s != p.step[0]))
        {
            return Err(bad("range"));
        }
        Ok(Self {
            range: p.range,
            clip: p.clip,
            lo: p.lo,
            step: p.step,
        })
    }
}

impl From<Int8Quantizer> for Int8Params {
    fn from(q: Int8Quantizer) -> Self {
        Self {
            range: q.range,
            clip: q.clip,
            lo: q.lo,
            step: q.step,
        }
    }
}

/// `(lo, step)` of a range; a degenerate range gets step 1 (every value codes to `lo`).
fn lo_step(lo: f32, hi: f32) -> (f32, f32) {
    let step = (hi - lo) / 255.0;
    if step > 0.0 && step.is_finite() {
        (lo, step)
    } else {
        (lo, 1.0)
    }
}

fn range_of(values: &mut [f32], clip: Clip) -> (f32, f32) {
    match clip {
        Clip::MinMax => values
            .iter()
            .fold((f32::INFINITY, f32::NEG_INFINITY), |(lo, hi), &x| {
                (lo.min(x), hi.max(x))
            }),
        Clip::Percentile(p) => {
            let p = f64::from(p) / 100.0;
            let hi = crate::input::quantile(values, p);
            let lo = crate::input::quantile(values, 1.0 - p);
            (lo, hi)
        }
    }
}

impl Int8Quantizer {
    /// Trains the ranges on `sample` (row-major, `dim` per row).
    ///
    /// # Errors
    /// [`Error::ZeroDimension`], [`Error::RaggedBatch`], [`Error::NonFinite`],
    /// [`Error::OutOfRange`], [`Error::EmptyTrainingSet`], [`Error::InvalidParameter`] for a
    /// percentile outside (50, 100].
    pub fn train(range: Int8Range, clip: Clip, sample: &[f32], dim: usize) -> Result<Self> {
        check_dim(dim)?;
        check_clip(clip)?;
        check_sample(sample, dim)?;
        let (lo, step) = match range {
            Int8Range::PerDimension => (0..dim)
                .into_par_iter()
                .map(|j| {
                    let (lo, hi) = range_of(&mut column(sample, dim, j), clip);
                    lo_step(lo, hi)
                })
                .unzip(),
            Int8Range::Global => {
                let (lo, hi) = range_of(&mut sample.to_vec(), clip);
                let (lo, step) = lo_step(lo, hi);
                (vec![lo; dim], vec![step; dim])
            }
        };
        Ok(Self {
            range,
            clip,
            lo,
            step,
        })
    }

    /// The dimension (= bytes per code).
    pub fn dim(&self) -> usize {
        self.lo.len()
    }

    /// Per-dimension or global.
    pub fn range(&self) -> Int8Range {
        self.range
    }

    /// The clipping it was trained with.
    pub fn clip(&self) -> Clip {
        self.clip
    }

    /// The lower end of each dimension's range (the value of code −128).
    pub fn lo(&self) -> &[f32] {
        &self.lo
    }

    /// Each dimension's step between adjacent codes.
    pub fn step(&self) -> &[f32] {
        &self.step
    }

    /// Encodes one vector into `out` (`dim()` long).
    ///
    /// # Errors
    /// [`Error::DimensionMismatch`] for a vector or `out` of the wrong length,
    /// [`Error::NonFinite`], [`Error::OutOfRange`].
    pub fn encode_into(&self, v: &[f32], out: &mut [i8]) -> Result<()> {
        check_vector(v, self.dim())?;
        check_out_len(self.dim(), out.len())?;
        self.encode_unchecked(v, out);
        Ok(())
    }

    /// Encodes one vector.
    ///
    /// # Errors
    /// As [`encode_into`](Self::encode_into).
    pub fn encode(&self, v: &[f32]) -> Result<Vec<i8>> {
        let mut out = vec![0; self.dim()];
        self.encode_into(v, &mut out)?;
        Ok(out)
    }

    /// Encodes a row-major batch in parallel into `rows × dim()` codes.
    ///
    /// # Errors
    /// [`Error::RaggedBatch`], [`Error::NonFinite`], [`Error::OutOfRange`]; nothing is encoded
    /// unless every row is valid.
    pub fn encode_batch(&self, flat: &[f32]) -> Result<Vec<i8>> {
        let rows = check_batch(flat, self.dim())?;
        let mut out = vec![0i8; rows * self.dim()];
        out.par_chunks_mut(self.dim())
            .zip(flat.par_chunks_exact(self.dim()))
            .for_each(|(code, v)| self.encode_unchecked(v, code));
        Ok(out)
    }

    fn encode_unchecked(&self, v: &[f32], out: &mut [i8]) {
        for (((o, &x), &lo), &step) in out.iter_mut().zip(v).zip(&self.lo).zip(&self.step) {
            let level = round_half_away(bound((x - lo) / step, 0.0, 255.0));
            *o = (level - 128) as i8;
        }
    }

    /// The vector a code stands for.
    ///
    /// # Errors
    /// [`Error::DimensionMismatch`] for a code of the wrong length.
    pub fn decode(&self, code: &[i8]) -> Result<Vec<f32>> {
        check_out_len(self.dim(), code.len())?;
        Ok(code
            .iter()
            .zip(&self.lo)
            .zip(&self.step)
            .map(|((&c, &lo), &step)| lo + step * (f32::from(c) + 128.0))
            .collect())
    }

    /// Prepares a query for the asymmetric f32 · i8 scorer: the steps are folded into the
    /// query and the offsets into one constant, so a code costs one `dot_f32_i8`.
    ///
    /// # Errors
    /// [`Error::DimensionMismatch`], [`Error::NonFinite`], [`Error::OutOfRange`].
    pub fn prepare_query(&self, query: &[f32]) -> Result<Int8Query> {
        check_vector(query, self.dim())?;
        let mut bias = 0.0f64;
        let weights = (0..self.dim())
            .map(|i| {
                let (q, lo, step) = (query[i], self.lo[i], self.step[i]);
                bias += f64::from(q) * (f64::from(lo) + 128.0 * f64::from(step));
                q * step
            })
            .collect();
        Ok(Int8Query {
            weights,
            bias: bias as f32,
        })
    }

    /// Symmetric estimate of the inner product of the vectors two codes stand for, through
    /// the integer kernel `nexus_simd::dot_i8`:
    /// `Σ (m + s·a)(m + s·b) = d·m² + m·s·(Σa + Σb) + s²·Σ a·b` with `m = lo + 128·s`.
    ///
    /// # Errors
    /// [`Error::Unsupported`] for a [`Int8Range::PerDimension`] quantizer (its codes live
    /// on different scales per dimension), [`Error::DimensionMismatch`].
    pub fn dot_codes(&self, a: &[i8], b: &[i8]) -> Result<f32> {
        if self.range != Int8Range::Global {
            return Err(Error::Unsupported {
                what: "symmetric i8·i8 scoring of per-dimension int8 codes",
            });
        }
        check_out_len(self.dim(), a.len())?;
        check_out_len(self.dim(), b.len())?;
        let (s, m) = (
            f64::from(self.step[0]),
            f64::from(self.lo[0]) + 128.0 * f64::from(self.step[0]),
        );
        let sum = |c: &[i8]| c.iter().map(|&x| i64::from(x)).sum::<i64>() as f64;
        let ab = f64::from(nexus_simd::dot_i8(a, b));
        Ok((self.dim() as f64 * m * m + m * s * (sum(a) + sum(b)) + s * s * ab) as f32)
    }

    /// The byte layout (see the crate docs for the frame). Payload, kind 3:
    ///
    /// ```text
    /// u8 range (0 per-dimension, 1 global) · u8 clip (0 min/max, 1 percentile)
    /// · f32 percentile (0 for min/max) · f32 × dim lo · f32 × dim step
    /// ```
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut w = Writer::default();
        w.u8(match self.range {
            Int8Range::PerDimension => 0,
            Int8Range::Global => 1,
        });
        match self.clip {
            Clip::MinMax => {
                w.u8(0);
                w.f32(0.0);
            }
            Clip::Percentile(p) => {
                w.u8(1);
                w.f32(p);
            }
        }
        w.f32s(&self.lo);
        w.f32s(&self.step);
        w.finish(Kind::Int8, self.dim())
    }

    /// Reads and validates [`to_bytes`](Self::to_bytes) output.
    ///
    /// # Errors
    /// [`Error::Corrupt`] for anything but a valid int8 quantizer.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
        let mut r = Reader::open(bytes, Kind::Int8)?;
        let dim = r.dim;
        let range = match r.u8()? {
            0 => Int8Range::PerDimension,
            1 => Int8Range::Global,
            _ => return Err(corrupt(CorruptReason::InvalidField("range"))),
        };
        let clip_tag = r.u8()?;
        let p = r.f32()?;
        let clip = match clip_tag {
            0 => Clip::MinMax,
            1 => Clip::Percentile(p),
            _ => return Err(corrupt(CorruptReason::InvalidField("clip"))),
        };
        let lo = r.f32s(dim)?;
        let step = r.f32s(dim)?;
        r.finish()?;
        Int8Params {
            range,
            clip,
            lo,
            step,
        }
        .try_into()
    }
}

/// A query prepared by [`Int8Quantizer::prepare_query`].
#[derive(Debug, Clone)]
pub struct Int8Query {
    weights: Vec<f32>,
    bias: f32,
}

impl Int8Query {
    /// Estimates of `⟨q, x⟩` for a block of codes (`dim()` per row) into `out`; higher =
    /// more similar.
    ///
    /// # Panics
    /// If `codes.len() != out.len() * dim()`.
    pub fn scores(&self, codes: &[i8], out: &mut [f32]) {
        nexus_simd::dot_f32_i8_one_to_many(&self.weights, codes, out);
        for o in out.iter_mut() {
            *o += self.bias;
        }
    }

    /// [`scores`](Self::scores) for one code.
    ///
    /// # Panics
    /// If `code.len() != dim()`.
    pub fn score(&self, code: &[i8]) -> f32 {
        nexus_simd::dot_f32_i8(&self.weights, code) + self.bias
    }
}

/// A symmetric int8 codec: one signed byte per dimension with a per-dimension scale and no
/// offset, `code[i] = clamp(round(x[i] / scale[i]), −127, 127)`, standing for
/// `scale[i] · code[i]`. The scale of a dimension is its largest magnitude in the training
/// sample over 127 (1 for a dimension that is zero throughout).
///
/// Beside the affine [`Int8Quantizer`] (whose codes carry an offset per dimension), symmetric
/// codes keep zero at code 0, so a query can fold the scales into itself and be quantized to
/// i8 with one scale of its own ([`prepare_query`](Self::prepare_query)): an inner-product
/// estimate is then one integer `i8 · i8` dot product (`nexus_simd::dot_i8`, VNNI where the
/// CPU has it) times one f32. nexus-index walks its HNSW graph and scans its quantized index
/// on these codes and reranks exactly on f32.
///
/// The codec keeps no byte layout of its own: [`scales`](Self::scales) and
/// [`from_scales`](Self::from_scales) are the whole state (nexus-index stores the scales in its
/// index file).
///
/// ```
/// use nexus_quant::Int8Symmetric;
///
/// let dim = 4;
/// let base = [0.1f32, -0.5, 0.3, 0.9, -0.2, 0.4, 0.0, -0.7, 0.6, 0.2, -0.1, 0.3];
/// let codec = Int8Symmetric::train(&base, dim)?;
/// assert_eq!(codec.encode(&base[..dim])?, [21, -127, 127, 127]);
/// let query = codec.prepare_query(&[0.1, -0.5, 0.3, 0.9])?;
/// let code = codec.encode(&base[..dim])?;
/// assert!((query.score(&code) - 1.16).abs() < 0.02); // ≈ <query, row>
/// # Ok::<(), nexus_quant::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Int8Symmetric {
    scales: Vec<f32>,
}

/// The largest code magnitude: −128 is never produced, so codes are symmetric around zero.
const SYMMETRIC_MAX: f32 = 127.0;

/// `round(x / scale)` clamped to ±127: the one quantization step of the symmetric codes (and
/// of a query prepared for them).
#[inline(always)]
fn symmetric_level(x: f32, scale: f32) -> i8 {
    round_half_away(bound(x / scale, -SYMMETRIC_MAX, SYMMETRIC_MAX)) as i8
}

/// `y` clamped to `lo..=hi`, a NaN (which validated input cannot produce) to `lo`. Not
/// `f32::clamp`, which keeps a NaN: the int8 encoding loop measured 17 % slower with it.
#[inline(always)]
fn bound(y: f32, lo: f32, hi: f32) -> f32 {
    y.max(lo).min(hi)
}

/// `y.round() as i32` (halves away from zero) for |y| ≤ 2²², which the codecs [`bound`] to
/// first (clamping and rounding commute: the bounds are integers).
///
/// `f32::round` is a call into libm on x86-64 without SSE4.1, and `as i32` a saturating
/// conversion that LLVM does not vectorize either: the encoding loops ran one value at a time.
/// Here adding 2²³ leaves no fraction bits, so the float rounds |y| to an integer (halves to
/// even) and its bits hold that integer; a half rounded down to even is then put right. Int8
/// encoding 6.6× faster on one core (0.76 → 5.0 M vectors of 384 dimensions a second).
#[inline(always)]
fn round_half_away(y: f32) -> i32 {
    const SHIFT: f32 = 8_388_608.0; // 2²³
    let m = y.abs();
    let big = m + SHIFT;
    let even = big - SHIFT; // exact
    let r = (big.to_bits() - SHIFT.to_bits()) as i32 + i32::from(m - even == 0.5);
    if y < 0.0 { -r } else { r }
}

/// The scale that maps a largest magnitude `max_abs` onto code 127 (1 when it is zero).
#[inline(always)]
fn symmetric_scale(max_abs: f32) -> f32 {
    if max_abs > 0.0 {
        max_abs / SYMMETRIC_MAX
    } else {
        1.0
    }
}

impl Int8Symmetric {
    /// Trains the per-dimension scales on `sample` (row-major, `dim` per row).
    ///
    /// # Errors
    /// [`Error::ZeroDimension`], [`Error::InvalidParameter`] for a dimension above
    /// [`MAX_DIM`](crate::MAX_DIM), [`Error::RaggedBatch`], [`Error::NonFinite`],
    /// [`Error::OutOfRange`], [`Error::EmptyTrainingSet`].
    pub fn train(sample: &[f32], dim: usize) -> Result<Self> {
        check_dim(dim)?;
        check_sample(sample, dim)?;
        let mut max_abs = vec![0.0f32; dim];
        for row in sample.chunks_exact(dim) {
            for (m, &x) in max_abs.iter_mut().zip(row) {
                *m = m.max(x.abs());
            }
        }
        let scales = max_abs.into_iter().map(symmetric_scale).collect();
        Ok(Self { scales })
    }

    /// A codec with the given per-dimension scales (as [`scales`](Self::scales) returned them),
    /// for instance read back from a file.
    ///
    /// # Errors
    /// [`Error::ZeroDimension`] for no scales, [`Error::InvalidParameter`] for more than
    /// [`MAX_DIM`](crate::MAX_DIM) of them or a scale that is not a finite value in
    /// `(0, MAX_ABS / 127]` (a trained scale always is; larger ones could overflow scores).
    pub fn from_scales(scales: Vec<f32>) -> Result<Self> {
        check_dim(scales.len())?;
        if !scales
            .iter()
            .all(|&s| s > 0.0 && s <= MAX_ABS / SYMMETRIC_MAX)
        {
            return Err(Error::InvalidParameter {
                name: "scales",
                reason: "must be finite, positive and at most MAX_ABS / 127",
            });
        }
        Ok(Self { scales })
    }

    /// The dimension (= bytes per code).
    #[inline]
    pub fn dim(&self) -> usize {
        self.scales.len()
    }

    /// Each dimension's scale: code `c` stands for `scale · c`.
    #[inline]
    pub fn scales(&self) -> &[f32] {
        &self.scales
    }

    /// Encodes one vector into `out` (`dim()` long); values beyond the trained range clamp
    /// to ±127.
    ///
    /// # Errors
    /// [`Error::DimensionMismatch`] for a vector or `out` of the wrong length,
    /// [`Error::NonFinite`], [`Error::OutOfRange`].
    #[inline]
    pub fn encode_into(&self, v: &[f32], out: &mut [i8]) -> Result<()> {
        check_vector(v, self.dim())?;
        check_out_len(self.dim(), out.len())?;
        for ((o, &x), &s) in out.iter_mut().zip(v).zip(&self.scales) {
            *o = symmetric_level(x, s);
        }
        Ok(())
    }

    /// Encodes one vector.
    ///
    /// # Errors
    /// As [`encode_into`](Self::encode_into).
    pub fn encode(&self, v: &[f32]) -> Result<Vec<i8>> {
        let mut out = vec![0; self.dim()];
        self.encode_into(v, &mut out)?;
        Ok(out)
    }

    /// The vector a code stands for, `scale[i] · code[i]`.
    ///
    /// # Errors
    /// [`Error::DimensionMismatch`] for a code of the wrong length.
    pub fn decode(&self, code: &[i8]) -> Result<Vec<f32>> {
        check_out_len(self.dim(), code.len())?;
        Ok(code
            .iter()
            .zip(&self.scales)
            .map(|(&c, &s)| f32::from(c) * s)
            .collect())
    }

    /// The squared norm of the vector a code stands for (summed in f32, dimension by
    /// dimension): with it, `−‖q − x‖²` ranks like `2⟨q, x⟩ − ‖x‖²`.
    ///
    /// # Errors
    /// [`Error::DimensionMismatch`] for a code of the wrong length.
    #[inline]
    pub fn decoded_norm2(&self, code: &[i8]) -> Result<f32> {
        check_out_len(self.dim(), code.len())?;
        Ok(code
            .iter()
            .zip(&self.scales)
            .map(|(&c, &s)| {
                let x = f32::from(c) * s;
                x * x
            })
            .sum())
    }

    /// Prepares a query: the scales are folded into it (`w[i] = q[i] · scale[i]`, so that
    /// `⟨w, code⟩ ≈ ⟨q, x⟩`) and `w` is quantized symmetrically with one scale of its own,
    /// its largest magnitude over 127. A score is then `scale · Σ q8[i] · code[i]`.
    ///
    /// # Errors
    /// [`Error::DimensionMismatch`], [`Error::NonFinite`], [`Error::OutOfRange`].
    #[inline]
    pub fn prepare_query(&self, query: &[f32]) -> Result<Int8SymmetricQuery> {
        check_vector(query, self.dim())?;
        let weights: Vec<f32> = query.iter().zip(&self.scales).map(|(q, s)| q * s).collect();
        let max = weights.iter().fold(0.0f32, |m, w| m.max(w.abs()));
        let scale = symmetric_scale(max);
        let codes = weights.iter().map(|&w| symmetric_level(w, scale)).collect();
        Ok(Int8SymmetricQuery { codes, scale })
    }
}

/// A query prepared by [`Int8Symmetric::prepare_query`]: i8 codes and one scale, so that
/// `scale() · Σ codes()[i] · code[i]` estimates `⟨query, x⟩` for the vector `x` a code
/// stands for.
#[derive(Debug, Clone, PartialEq)]
pub struct Int8SymmetricQuery {
    codes: Vec<i8>,
    scale: f32,
}

impl Int8SymmetricQuery {
    /// The query's i8 codes, for an integer kernel (`nexus_simd::dot_i8_one_to_many`).
    #[inline]
    pub fn codes(&self) -> &[i8] {
        &self.codes
    }

    /// The factor from an integer dot product with [`codes`](Self::codes) to an estimate of
    /// the inner product.
    #[inline]
    pub fn scale(&self) -> f32 {
        self.scale
    }

    /// The estimate of `⟨query, x⟩` for one code; higher = more similar.
    ///
    /// # Panics
    /// If `code.len() != codes().len()`.
    #[inline]
    pub fn score(&self, code: &[i8]) -> f32 {
        self.scale * nexus_simd::dot_i8(&self.codes, code) as f32
    }

    /// [`score`](Self::score) for a block of codes (`codes().len()` per row) into `out`.
    ///
    /// # Panics
    /// If `codes.len() != out.len() * self.codes().len()`.
    pub fn scores(&self, codes: &[i8], out: &mut [f32]) {
        let mut raw = vec![0i32; out.len()];
        nexus_simd::dot_i8_one_to_many(&self.codes, codes, &mut raw);
        for (o, r) in out.iter_mut().zip(raw) {
            *o = self.scale * r as f32;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::round_half_away;

    /// Against `f32::round` at every half-integer of the codecs' range and the floats
    /// around it, the largest float below one half, and a stride through all floats of the
    /// range (both signs).
    #[test]
    fn round_half_away_matches_f32_round() {
        let check = |y: f32| assert_eq!(round_half_away(y), y.round() as i32, "{y:e}");
        for k in -300..300 {
            let half = k as f32 + 0.5;
            let mut y = f32::from_bits(half.to_bits().saturating_sub(4));
            for _ in 0..9 {
                check(y);
                check(-y);
                y = y.next_up();
            }
        }
        check(0.5f32.next_down());
        check(-0.5f32.next_down());
        for bits in (0..300.0f32.to_bits()).step_by(997) {
            let y = f32::from_bits(bits);
            check(y);
            check(-y);
        }
    }
}
