//! RaBitQ-style 1-bit codes with an unbiased inner-product estimator (Gao & Long, SIGMOD 2024).

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::bits::pack_above;
use crate::error::{CorruptReason, Error, Result};
use crate::input::{
    MAX_ABS, MAX_DIM, check_batch, check_dim, check_out_len, check_sample, check_vector, within,
    words_for,
};
use crate::layout::{Kind, Reader, Writer, corrupt};
use crate::rotation::{ROUNDS, Rotation};
use crate::sums::dot64;

/// The `ε₀` the RaBitQ paper uses for its error bound (§3.2, "ε₀ = 1.9 …"). The estimator's
/// error is close to Gaussian with standard deviation [`Estimate::std_error`], so the bound
/// `ε₀ · std_error` holds with probability about `P(|N(0,1)| ≤ ε₀)`: ≈ 94 % for 1.9, 99.9 %
/// for 3.3 (the tests measure both).
pub const RABITQ_EPSILON0: f32 = 1.9;

/// Per-vector correction factors of a RaBitQ code (12 bytes, `repr(C)`, three little-endian
/// f32 on disk; castable from mapped bytes with `bytemuck`).
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Default,
    bytemuck::Pod,
    bytemuck::Zeroable,
    Serialize,
    Deserialize,
)]
#[repr(C)]
pub struct RabitqFactors {
    /// `‖x − c‖`, the distance of the vector from the quantizer's centroid.
    pub norm: f32,
    /// `⟨x̄, o⟩ ∈ (0, 1]`: how well the code's hypercube vertex `x̄` matches the rotated unit
    /// residual `o`; the estimator divides by it (1 when `norm` is 0).
    pub alignment: f32,
    /// `⟨x − c, c⟩`, exact.
    pub center_dot: f32,
}

/// A code and its factors, as [`RabitqQuantizer::encode`] returns them.
#[derive(Debug, Clone, PartialEq)]
pub struct RabitqCode {
    /// `words()` words of sign bits of the rotated residual.
    pub bits: Vec<u64>,
    /// Its correction factors.
    pub factors: RabitqFactors,
}

/// The codes of a batch: `rows × words()` words and one [`RabitqFactors`] per row.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct RabitqCodes {
    /// Codes back to back.
    pub bits: Vec<u64>,
    /// One entry per row.
    pub factors: Vec<RabitqFactors>,
}

/// A trained RaBitQ quantizer: centroid `c` (the training mean), a seeded random rotation `R`
/// (randomized Hadamard, padded to `padded_dim()`, a power of two ≥ 64), and one bit per
/// rotated dimension.
///
/// A vector `x` is coded as the signs of `o = R (x − c) / ‖x − c‖`, i.e. the hypercube vertex
/// `x̄ = sign(o) / √D` nearest to `o` (`D = padded_dim()`), plus [`RabitqFactors`]. For a query
/// `q`, `⟨x̄, R(q − c)⟩ / ⟨x̄, o⟩` is an unbiased estimator of `⟨(x − c)/‖x − c‖, q − c⟩`
/// (RaBitQ, Theorem 3.2), whence
/// `⟨x, q⟩ ≈ ‖x − c‖ · that + ⟨x − c, c⟩ + ⟨c, q⟩`. Its error has standard deviation about
/// `‖x − c‖ · ‖q − c‖ · √((1 − ⟨x̄,o⟩²) / ⟨x̄,o⟩²) / √(D − 1)` ([`Estimate::std_error`]);
/// `ε₀` times that bounds it with high probability ([`RABITQ_EPSILON0`]).
///
/// The padding costs bits: a 384-dimensional vector gets `D = 512` bits (64 bytes) plus
/// 12 bytes of factors, where a dense `d × d` rotation would need 384 bits. The extra bits
/// make the estimate more precise (its error scales with `1/√(D − 1)`).
///
/// ```
/// use nexus_quant::RabitqQuantizer;
///
/// let dim = 8;
/// let base: Vec<f32> = (0..64 * dim).map(|i| ((i * 7919 % 101) as f32 - 50.0) / 50.0).collect();
/// let q = RabitqQuantizer::train(&base, dim, 42)?;
/// let codes = q.encode_batch(&base)?;
/// let query = q.prepare_query(&base[..dim])?;
/// let mut est = vec![0f32; 64];
/// query.estimates(&codes.bits, &codes.factors, &mut est); // ≈ <query, row>, higher = closer
/// let e = query.estimate_with_bound(&codes.bits[..q.words()], codes.factors[0]);
/// let exact: f32 = base[..dim].iter().map(|x| x * x).sum();
/// assert!((e.value - exact).abs() <= e.bound(3.3) + 1e-4);
/// # Ok::<(), nexus_quant::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "RabitqParams", into = "RabitqParams")]
pub struct RabitqQuantizer {
    seed: u64,
    centroid: Vec<f32>,
    rotation: Rotation,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct RabitqParams {
    seed: u64,
    centroid: Vec<f32>,
}

impl TryFrom<RabitqParams> for RabitqQuantizer {
    type Error = Error;
    fn try_from(p: RabitqParams) -> Result<Self> {
        if p.centroid.is_empty() {
            return Err(Error::NotTrained { what: "centroid" });
        }
        if !p.centroid.iter().all(|&c| within(c, MAX_ABS)) {
            return Err(corrupt(CorruptReason::InvalidField("centroid")));
        }
        if p.centroid.len() > MAX_DIM {
            return Err(corrupt(CorruptReason::InvalidField("dim")));
        }
        Ok(Self {
            rotation: Rotation::new(p.centroid.len(), p.seed),
            seed: p.seed,
            centroid: p.centroid,
        })
    }
}

impl From<RabitqQuantizer> for RabitqParams {
    fn from(q: RabitqQuantizer) -> Self {
        Self {
            seed: q.seed,
            centroid: q.centroid,
        }
    }
}

impl RabitqQuantizer {
    /// Trains on `sample` (row-major, `dim` per row): the centroid is the sample mean; the
    /// rotation comes from `seed`.
    ///
    /// # Errors
    /// [`Error::ZeroDimension`], [`Error::InvalidParameter`] above [`MAX_DIM`](crate::MAX_DIM),
    /// [`Error::RaggedBatch`], [`Error::NonFinite`], [`Error::OutOfRange`],
    /// [`Error::EmptyTrainingSet`].
    pub fn train(sample: &[f32], dim: usize, seed: u64) -> Result<Self> {
        check_dim(dim)?;
        let n = check_sample(sample, dim)?;
        let mut sum = vec![0.0f64; dim];
        for row in sample.chunks_exact(dim) {
            for (s, &x) in sum.iter_mut().zip(row) {
                *s += f64::from(x);
            }
        }
        let centroid = sum.iter().map(|s| (s / n as f64) as f32).collect();
        Ok(Self {
            rotation: Rotation::new(dim, seed),
            seed,
            centroid,
        })
    }

    /// The input dimension.
    pub fn dim(&self) -> usize {
        self.centroid.len()
    }

    /// The rotated (padded) dimension `D`: bits per code.
    pub fn padded_dim(&self) -> usize {
        self.rotation.padded_dim()
    }

    /// `u64` words per code: `padded_dim() / 64`.
    pub fn words(&self) -> usize {
        words_for(self.padded_dim())
    }

    /// The rotation seed.
    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// The centroid `c`.
    pub fn centroid(&self) -> &[f32] {
        &self.centroid
    }

    /// Encodes one vector: bits into `out` (`words()` long), factors returned.
    ///
    /// # Errors
    /// [`Error::DimensionMismatch`] for a vector or `out` of the wrong length,
    /// [`Error::NonFinite`], [`Error::OutOfRange`].
    pub fn encode_into(&self, v: &[f32], out: &mut [u64]) -> Result<RabitqFactors> {
        check_vector(v, self.dim())?;
        check_out_len(self.words(), out.len())?;
        let mut scratch = vec![0.0f32; self.padded_dim()];
        Ok(self.encode_unchecked(v, out, &mut scratch))
    }

    /// Encodes one vector.
    ///
    /// # Errors
    /// As [`encode_into`](Self::encode_into).
    pub fn encode(&self, v: &[f32]) -> Result<RabitqCode> {
        let mut bits = vec![0; self.words()];
        let factors = self.encode_into(v, &mut bits)?;
        Ok(RabitqCode { bits, factors })
    }

    /// Encodes a row-major batch in parallel.
    ///
    /// # Errors
    /// [`Error::RaggedBatch`], [`Error::NonFinite`], [`Error::OutOfRange`]; nothing is encoded
    /// unless every row is valid.
    pub fn encode_batch(&self, flat: &[f32]) -> Result<RabitqCodes> {
        let rows = check_batch(flat, self.dim())?;
        let words = self.words();
        let mut bits = vec![0u64; rows * words];
        let mut factors = vec![RabitqFactors::default(); rows];
        bits.par_chunks_mut(words)
            .zip(factors.par_iter_mut())
            .zip(flat.par_chunks_exact(self.dim()))
            .for_each_init(
                || vec![0.0f32; self.padded_dim()],
                |scratch, ((code, f), v)| *f = self.encode_unchecked(v, code, scratch),
            );
        Ok(RabitqCodes { bits, factors })
    }

    fn encode_unchecked(&self, v: &[f32], out: &mut [u64], rotated: &mut [f32]) -> RabitqFactors {
        let dim = self.dim();
        for ((r, &x), &c) in rotated.iter_mut().zip(v).zip(&self.centroid) {
            *r = x - c;
        }
        rotated[dim..].fill(0.0);
        let residual = &rotated[..dim];
        let norm = dot64(residual, residual).sqrt();
        let center_dot = dot64(residual, &self.centroid) as f32;
        out.fill(0);
        if norm == 0.0 {
            return RabitqFactors {
                norm: 0.0,
                alignment: 1.0,
                center_dot,
            };
        }
        self.rotation.apply_in_place(rotated);
        // The padded dimension is a multiple of 64: whole words, |x| summed in 8 lanes.
        let mut l1 = [0.0f64; 8];
        for (word, chunk) in out.iter_mut().zip(rotated.as_chunks::<64>().0) {
            *word = pack_above(chunk, &[0.0; 64]);
            for x in chunk.as_chunks::<8>().0 {
                for (l, &x) in l1.iter_mut().zip(x) {
                    *l += f64::from(x.abs());
                }
            }
        }
        let l1: f64 = l1.iter().sum();
        let alignment = (l1 / (norm * (self.padded_dim() as f64).sqrt())) as f32;
        RabitqFactors {
            norm: norm as f32,
            alignment: alignment.clamp(f32::MIN_POSITIVE, 1.0),
            center_dot,
        }
    }

    /// Prepares a query: rotates `q − c` once so that each code costs one
    /// `dot_f32_bits` kernel call.
    ///
    /// # Errors
    /// [`Error::DimensionMismatch`], [`Error::NonFinite`], [`Error::OutOfRange`].
    pub fn prepare_query(&self, query: &[f32]) -> Result<RabitqQuery> {
        check_vector(query, self.dim())?;
        let residual: Vec<f32> = query
            .iter()
            .zip(&self.centroid)
            .map(|(x, c)| x - c)
            .collect();
        let mut rotated = vec![0.0f32; self.padded_dim()];
        self.rotation.apply(&residual, &mut rotated);
        let sum: f64 = rotated.iter().map(|&x| f64::from(x)).sum();
        let d = self.padded_dim() as f32;
        Ok(RabitqQuery {
            // ⟨x̄, q'⟩ = (2 Σ_{bits} q'_i − Σ q'_i) / √D: fold the 2/√D into the query.
            rotated: rotated.iter().map(|x| x * 2.0 / d.sqrt()).collect(),
            sum_over_sqrt_d: (sum / f64::from(d).sqrt()) as f32,
            center_query: dot64(query, &self.centroid) as f32,
            residual_norm: dot64(&residual, &residual).sqrt() as f32,
            std_scale: 1.0 / (d - 1.0).max(1.0).sqrt(),
        })
    }

    /// The byte layout (see the crate docs for the frame). Payload, kind 2:
    ///
    /// ```text
    /// u8 rotation scheme (1 = randomized Hadamard, 3 rounds, ChaCha8 signs) · u64 seed
    /// · f32 × dim centroid
    /// ```
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut w = Writer::default();
        w.u8(ROTATION_SCHEME);
        w.u64(self.seed);
        w.f32s(&self.centroid);
        w.finish(Kind::Rabitq, self.dim())
    }

    /// Reads and validates [`to_bytes`](Self::to_bytes) output.
    ///
    /// # Errors
    /// [`Error::Corrupt`] for anything but a valid RaBitQ quantizer.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
        let mut r = Reader::open(bytes, Kind::Rabitq)?;
        let dim = r.dim;
        if dim > MAX_DIM {
            return Err(corrupt(CorruptReason::InvalidField("dim")));
        }
        if r.u8()? != ROTATION_SCHEME {
            return Err(corrupt(CorruptReason::InvalidField("rotation scheme")));
        }
        let seed = r.u64()?;
        let centroid = r.f32s(dim)?;
        r.finish()?;
        RabitqParams { seed, centroid }.try_into()
    }
}

const ROTATION_SCHEME: u8 = {
    assert!(ROUNDS == 3);
    1
};

/// An estimate of an inner product with the scale of its error.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Estimate {
    /// The unbiased estimate of `⟨x, q⟩`.
    pub value: f32,
    /// The standard deviation of `value − ⟨x, q⟩` over the random rotation (RaBitQ's
    /// `√((1 − ⟨x̄,o⟩²) / ⟨x̄,o⟩²) / √(D − 1)`, scaled by `‖x − c‖ · ‖q − c‖`).
    pub std_error: f32,
}

impl Estimate {
    /// The error bound `ε₀ · std_error`: `|value − ⟨x, q⟩| ≤ bound(ε₀)` with probability about
    /// `P(|N(0,1)| ≤ ε₀)` (see [`RABITQ_EPSILON0`]).
    pub fn bound(&self, epsilon0: f32) -> f32 {
        epsilon0 * self.std_error
    }
}

/// A query prepared by [`RabitqQuantizer::prepare_query`].
#[derive(Debug, Clone)]
pub struct RabitqQuery {
    rotated: Vec<f32>,
    sum_over_sqrt_d: f32,
    center_query: f32,
    residual_norm: f32,
    std_scale: f32,
}

impl RabitqQuery {
    /// `⟨x̄, R(q − c)⟩` for one code.
    fn vertex_dot(&self, code: &[u64]) -> f32 {
        nexus_simd::dot_f32_bits(&self.rotated, code) - self.sum_over_sqrt_d
    }

    fn finish(&self, vertex_dot: f32, f: RabitqFactors) -> f32 {
        f.norm * (vertex_dot / f.alignment) + f.center_dot + self.center_query
    }

    /// The unbiased estimate of `⟨x, q⟩` for one code.
    ///
    /// # Panics
    /// If `code.len() != words()`.
    pub fn estimate(&self, code: &[u64], factors: RabitqFactors) -> f32 {
        self.finish(self.vertex_dot(code), factors)
    }

    /// The estimate with the scale of its error (see [`RabitqQuantizer`]).
    ///
    /// # Panics
    /// If `code.len() != words()`.
    pub fn estimate_with_bound(&self, code: &[u64], factors: RabitqFactors) -> Estimate {
        let a = factors.alignment;
        let spread = ((1.0 - a * a).max(0.0) / (a * a)).sqrt();
        Estimate {
            value: self.estimate(code, factors),
            std_error: factors.norm * self.residual_norm * spread * self.std_scale,
        }
    }

    /// Estimates of `⟨x, q⟩` for a block of codes (`words()` per row) and their factors
    /// into `out`; higher = more similar.
    ///
    /// # Panics
    /// If `codes.len() != out.len() * words()` or `factors.len() != out.len()`.
    pub fn estimates(&self, codes: &[u64], factors: &[RabitqFactors], out: &mut [f32]) {
        assert_eq!(
            factors.len(),
            out.len(),
            "nexus-quant: {} factors for {} outputs",
            factors.len(),
            out.len()
        );
        nexus_simd::dot_f32_bits_one_to_many(&self.rotated, codes, out);
        for (o, &f) in out.iter_mut().zip(factors) {
            *o = self.finish(*o - self.sum_over_sqrt_d, f);
        }
    }
}
