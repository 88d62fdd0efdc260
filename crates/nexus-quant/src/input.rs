//! Validation of caller-supplied vectors: the one place that turns bad input into [`Error`]s.

use rayon::prelude::*;

use crate::error::{Error, Result};

/// Number of `u64` words of a `bits`-bit code.
pub(crate) fn words_for(bits: usize) -> usize {
    bits.div_ceil(64)
}

/// The largest dimension any quantizer accepts: bounds what a corrupt serialized quantizer can
/// make us allocate (a RaBitQ rotation holds `3 × padded_dim` signs).
pub const MAX_DIM: usize = 1 << 16;

/// The largest magnitude of any input value (the workspace-wide bound, defined once in
/// nexus-simd): it keeps every intermediate result finite (residuals and rotations, steps
/// folded into queries, f32 inner products over up to [`MAX_DIM`] dimensions), so that a
/// finite input can never produce a garbage code or score.
pub use nexus_simd::MAX_ABS;

pub(crate) fn check_dim(dim: usize) -> Result<()> {
    if dim == 0 {
        Err(Error::ZeroDimension)
    } else if dim > MAX_DIM {
        Err(Error::InvalidParameter {
            name: "dim",
            reason: "above nexus_quant::MAX_DIM",
        })
    } else {
        Ok(())
    }
}

/// A single vector of `dim` finite values.
pub(crate) fn check_vector(v: &[f32], dim: usize) -> Result<()> {
    if v.len() != dim {
        return Err(Error::DimensionMismatch {
            expected: dim,
            got: v.len(),
        });
    }
    check_finite(v, 0)
}

/// Every value finite ([`Error::NonFinite`]) and at most [`MAX_ABS`] in magnitude
/// ([`Error::OutOfRange`]).
pub(crate) fn check_finite(row: &[f32], row_index: usize) -> Result<()> {
    // The common case in one vectorized pass; the scans below only name the value at fault.
    if nexus_simd::within_max_abs(row) {
        return Ok(());
    }
    if let Some(index) = row.iter().position(|x| !x.is_finite()) {
        return Err(Error::NonFinite {
            row: row_index,
            index,
        });
    }
    match row.iter().position(|x| x.abs() > MAX_ABS) {
        Some(index) => Err(Error::OutOfRange {
            row: row_index,
            index,
        }),
        None => Ok(()),
    }
}

/// `|x| ≤ limit` (false for NaN): validation of deserialized parameters.
pub(crate) fn within(x: f32, limit: f32) -> bool {
    x.abs() <= limit
}

/// Values a task of [`check_batch`] checks at least (rows of 384 values: 171), so that small
/// batches stay on one thread.
const CHECK_VALUES_PER_TASK: usize = 64 * 1024;

/// A flat row-major batch of finite `dim`-dimensional rows; returns the row count.
pub(crate) fn check_batch(flat: &[f32], dim: usize) -> Result<usize> {
    check_dim(dim)?;
    if !flat.len().is_multiple_of(dim) {
        return Err(Error::RaggedBatch {
            len: flat.len(),
            dim,
        });
    }
    // On all threads, as the encoding that follows: on one, the check took a third of
    // `encode_batch` for the faster codes. `position_first` keeps the error the first bad
    // row's, whatever the thread timing.
    let bad = flat
        .par_chunks_exact(dim)
        .with_min_len(CHECK_VALUES_PER_TASK.div_ceil(dim))
        .position_first(|row| !nexus_simd::within_max_abs(row));
    if let Some(first) = bad {
        // `check_finite` tests what `within_max_abs` does and returns at `first`; the rows
        // after it are checked as well should the two ever disagree.
        for (i, row) in flat.chunks_exact(dim).enumerate().skip(first) {
            check_finite(row, i)?;
        }
    }
    Ok(flat.len() / dim)
}

/// A non-empty training sample; returns the row count.
pub(crate) fn check_sample(flat: &[f32], dim: usize) -> Result<usize> {
    let n = check_batch(flat, dim)?;
    if n == 0 {
        return Err(Error::EmptyTrainingSet);
    }
    Ok(n)
}

pub(crate) fn check_out_len(expected: usize, got: usize) -> Result<()> {
    if expected == got {
        Ok(())
    } else {
        Err(Error::DimensionMismatch { expected, got })
    }
}

/// Column `j` of a row-major sample.
pub(crate) fn column(flat: &[f32], dim: usize, j: usize) -> Vec<f32> {
    flat.chunks_exact(dim).map(|row| row[j]).collect()
}

/// The `q`-quantile (0 ≤ q ≤ 1, nearest rank) of `values`, reordering them.
pub(crate) fn quantile(values: &mut [f32], q: f64) -> f32 {
    debug_assert!(!values.is_empty());
    let last = values.len() - 1;
    // Nearest rank, rounded half to even is not needed: ties do not matter for a threshold.
    let k = ((q * last as f64).round() as usize).min(last);
    *values.select_nth_unstable_by(k, f32::total_cmp).1
}
