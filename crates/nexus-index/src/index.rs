//! The trait every index implements.

use crate::error::Result;
use crate::filter::Filter;

/// Memory an index uses, in bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct MemoryUsage {
    /// Resident heap: graph, codes, id maps, and vectors the index owns.
    pub heap_bytes: usize,
    /// Bytes read from a memory mapping (vectors in a caller's mapped source): not heap.
    pub mapped_bytes: usize,
}

/// A vector index: caller ids (`u64`) to f32 vectors, searched for the nearest.
///
/// Every method takes `&self`: indexes are `Send + Sync` and may be written while searched.
/// Scores are "larger is better" (see [`Metric`](crate::Metric)).
///
/// Behaviour on bad input, shared by every index:
/// - wrong dimension → [`Error::DimensionMismatch`](crate::Error::DimensionMismatch);
///   NaN / ∞ → [`Error::NonFinite`](crate::Error::NonFinite); `k = 0` →
///   [`Error::ZeroK`](crate::Error::ZeroK);
/// - adding an id that is present **replaces** its vector (within one batch, the last wins);
/// - removing an unknown id → [`Error::UnknownId`](crate::Error::UnknownId);
/// - a search returns fewer than `k` hits only when fewer than `k` ids are present and allowed.
pub trait Index: Send + Sync {
    /// The dimension of every vector.
    fn dim(&self) -> usize;

    /// Adds (or replaces) `id` with `vector`.
    ///
    /// # Errors
    /// See the trait documentation.
    fn add(&self, id: u64, vector: &[f32]) -> Result<()>;

    /// Adds `ids[i]` with row `i` of `vectors` (row-major, `dim` values a row). Validates the
    /// whole batch before changing anything.
    ///
    /// # Errors
    /// See the trait documentation; [`Error::BatchShape`](crate::Error::BatchShape) when
    /// `vectors.len() != ids.len() * dim`.
    fn add_batch(&self, ids: &[u64], vectors: &[f32]) -> Result<()>;

    /// Removes `id`: it is never returned by a search that starts after this returns.
    ///
    /// # Errors
    /// [`Error::UnknownId`](crate::Error::UnknownId).
    fn remove(&self, id: u64) -> Result<()>;

    /// The (up to) `k` best `(id, score)` pairs for `query` among the ids `filter` allows,
    /// best first.
    ///
    /// # Errors
    /// See the trait documentation.
    fn search(
        &self,
        query: &[f32],
        k: usize,
        filter: Option<&dyn Filter>,
    ) -> Result<Vec<(u64, f32)>>;

    /// Number of ids present.
    fn len(&self) -> usize;

    /// Whether the index holds no ids.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Memory in use.
    fn memory(&self) -> MemoryUsage;
}

/// Checks a batch's shape and values; returns the number of rows.
pub(crate) fn check_batch(dim: usize, ids: &[u64], vectors: &[f32]) -> Result<()> {
    if Some(vectors.len()) != ids.len().checked_mul(dim) {
        return Err(crate::Error::BatchShape {
            ids: ids.len(),
            values: vectors.len(),
            dim,
        });
    }
    crate::metric::check_finite(vectors, 0)
}
