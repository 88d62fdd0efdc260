//! The int8 codes that both `QuantizedIndex` and int8-traversal HNSW keep beside their f32
//! rows (nexus-quant's symmetric codec): when the codec is (re)trained, and how one row is
//! encoded with its decoded norm.

use nexus_quant::Int8Symmetric;

/// Codes are retrained until this many vectors have been seen.
pub(crate) const TRAIN_MAX: usize = 16_384;

/// Whether `n` rows call for (re)training: there is no codec yet, or the index has doubled
/// since a codec trained on fewer than [`TRAIN_MAX`] rows (so re-encoding stays amortised
/// O(1) per row).
pub(crate) fn needs_training(codec: Option<&Int8Symmetric>, trained_on: usize, n: usize) -> bool {
    n > 0 && (codec.is_none() || (n >= 2 * trained_on && trained_on < TRAIN_MAX))
}

/// Encodes `row` into `code` and returns the squared norm of what the code stands for.
/// Validated rows (finite, at most `MAX_ABS`, the codec's dimension) always encode; a row the
/// codec refuses (only a caller's source whose rows changed can give one) gets the zero code:
/// the code scan may miss it, the exact f32 rerank still scores it truly.
#[inline]
pub(crate) fn encode_row(codec: &Int8Symmetric, row: &[f32], code: &mut [i8]) -> f32 {
    if codec.encode_into(row, code).is_err() {
        code.fill(0);
    }
    codec.decoded_norm2(code).unwrap_or(0.0)
}
