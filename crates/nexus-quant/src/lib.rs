//! Compact codes for embeddings: binary (1 bit per dimension, including a RaBitQ-style rotated
//! code with an unbiased inner-product estimator), int8 scalar codes and Matryoshka truncation.
//!
//! Indexes scan these codes to shortlist candidates and storage maps them from disk, so codes
//! are plain `u64` / `i8` slices (and RaBitQ's [`RabitqFactors`], a `repr(C)` triple of f32).
//! This crate is *not* an index: it trains, encodes and scores; the caller keeps the codes and
//! reranks with exact f32 vectors. Scores estimate inner products (higher = more similar);
//! Hamming distances are the exception (lower = more similar).
//!
//! | quantizer | code per vector | query-side scorer |
//! |---|---|---|
//! | [`BinaryQuantizer`] (sign / mean / median thresholds) | `ceil(d/64)` `u64` | [`BinaryQuery::hamming`], [`BinaryQuery::scores`] (f32 · bits) |
//! | [`RabitqQuantizer`] | `D/64` `u64` (`D` = next power of two ≥ max(d, 64)) + [`RabitqFactors`] | [`RabitqQuery::estimates`] (unbiased, with [`Estimate::bound`]) |
//! | [`Int8Quantizer`] (affine: per-dimension or global; min/max or percentile) | `d` `i8` | [`Int8Query::scores`] (f32 · i8); [`Int8Quantizer::dot_codes`] (i8 · i8, global) |
//! | [`Int8Symmetric`] (symmetric: a max-abs scale per dimension, no offset) | `d` `i8` | [`Int8SymmetricQuery`] (query quantized too: i8 · i8 with one f32 scale) |
//! | [`Matryoshka`] | `m` `f32`, re-normalised | any f32 kernel |
//!
//! The life of a quantizer: `train` on a sample → a plain value (serde, and the byte layout
//! below) → `encode` / `encode_into` / `encode_batch` (parallel) → `prepare_query` once per
//! query → score blocks of codes.
//!
//! # Hard limits
//! - Dimensions from 1 to [`MAX_DIM`]; every input value finite and at most [`MAX_ABS`] in
//!   magnitude (so that no intermediate result can overflow).
//! - Bad input — a wrong dimension, NaN or ±∞ or a value above [`MAX_ABS`], an empty training sample, bytes of a corrupt or
//!   untrained quantizer — gives a typed [`Error`], never a panic and never garbage codes.
//!   Block scorers take slices whose lengths are the caller's responsibility and panic on a
//!   mismatch (documented on each).
//! - Matryoshka truncation is only meaningful for models trained with MRL.
//!
//! # Byte layout (format version 2)
//! Every quantizer's `to_bytes` writes one frame; `from_bytes` checks all of it and validates
//! every field before building the value.
//!
//! ```text
//! offset  size  field
//!      0     8  magic  b"NXQUANT\0"
//!      8     2  format version, u16 LE (= 2)
//!     10     2  kind, u16 LE (1 binary, 2 RaBitQ, 3 int8, 4 Matryoshka)
//!     12     4  dim, u32 LE
//!     16     8  payload length n, u64 LE
//!     24     n  payload (per kind; see each `to_bytes`)
//!   24+n     4  CRC32C checksum of bytes [0, 24+n), u32 LE
//! ```
//! Version 1 frames (an FNV-1a 64 trailer instead of CRC32C) are rejected with
//! [`CorruptReason::UnsupportedVersion`]`(1)`: serialize the quantizer again with this build.
//! All numbers are little-endian; f32 fields are IEEE-754 bit patterns. Codes themselves are
//! native slices: `u64` words with dimension `i` at bit `i % 64` of word `i / 64` (padding bits
//! zero), `i8` bytes, and for RaBitQ three f32 per vector (`norm`, `alignment`, `center_dot`);
//! on disk they are little-endian, which maps directly on little-endian hosts.
//!
//! # Example
//!
//! ```
//! use nexus_quant::{BinaryQuantizer, Clip, Int8Quantizer, Int8Range, RabitqQuantizer, Threshold};
//!
//! // 200 vectors of dimension 16 (a row-major batch).
//! let dim = 16;
//! let base: Vec<f32> = (0..200 * dim).map(|i| ((i * 7919 % 211) as f32 - 105.0) / 105.0).collect();
//! let query = &base[..dim];
//! let n = base.len() / dim;
//!
//! // int8: asymmetric f32 · i8 scores estimate inner products.
//! let sq = Int8Quantizer::train(Int8Range::PerDimension, Clip::MinMax, &base, dim)?;
//! let codes: Vec<i8> = sq.encode_batch(&base)?;
//! let mut scores = vec![0f32; n];
//! sq.prepare_query(query)?.scores(&codes, &mut scores);
//! let exact: f32 = query.iter().map(|x| x * x).sum();
//! assert!((scores[0] - exact).abs() < 0.05);
//!
//! // RaBitQ: 1 bit per (rotated) dimension plus three factors; unbiased estimates.
//! let rq = RabitqQuantizer::train(&base, dim, 7)?;
//! let codes = rq.encode_batch(&base)?;
//! rq.prepare_query(query)?.estimates(&codes.bits, &codes.factors, &mut scores);
//!
//! // Sign bits: Hamming distance between query and base codes.
//! let bq = BinaryQuantizer::train(Threshold::Sign, &base, dim)?;
//! let bits: Vec<u64> = bq.encode_batch(&base)?;
//! let mut hamming = vec![0u32; n];
//! bq.prepare_query(query)?.hamming(&bits, &mut hamming);
//! assert_eq!(hamming[0], 0);
//!
//! // Quantizers are plain data with a checked byte layout.
//! assert_eq!(Int8Quantizer::from_bytes(&sq.to_bytes())?, sq);
//! assert!(RabitqQuantizer::from_bytes(&sq.to_bytes()).is_err()); // wrong kind
//! # Ok::<(), nexus_quant::Error>(())
//! ```

#![deny(missing_docs)]
#![doc(test(attr(deny(warnings))))]
#![forbid(unsafe_code)]

mod binary;
mod bits;
mod error;
mod input;
mod int8;
mod layout;
mod le;
mod matryoshka;
mod rabitq;
mod rotation;
mod sums;

pub use binary::{BinaryQuantizer, BinaryQuery, Threshold};
pub use error::{CorruptReason, Error, Result};
pub use input::{MAX_ABS, MAX_DIM};
pub use int8::{Clip, Int8Quantizer, Int8Query, Int8Range, Int8Symmetric, Int8SymmetricQuery};
pub use le::LeReader;
pub use matryoshka::Matryoshka;
pub use rabitq::{
    Estimate, RABITQ_EPSILON0, RabitqCode, RabitqCodes, RabitqFactors, RabitqQuantizer, RabitqQuery,
};
