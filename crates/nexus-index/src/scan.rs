//! `FlatIndex` (exact scan) and `QuantizedIndex` (int8 code scan + exact f32 rerank): both
//! keep rows contiguous and scan them block by block.

use std::collections::HashMap;

use nexus_quant::Int8Symmetric;
use parking_lot::RwLock;
use rayon::prelude::*;

use crate::error::{Error, Result};
use crate::filter::Filter;
use crate::index::{Index, MemoryUsage, check_batch};
use crate::int8_codes::{self, TRAIN_MAX};
use crate::kernels;
use crate::metric::{Metric, normalize, prepare};
use crate::topk::TopK;

/// Rows scored per kernel call: 256 × 384 f32 = 384 KiB stays in L2 while it is ranked.
const BLOCK: usize = 256;
/// Queries scored together by `search_batch` (each block row is reused this many times).
const QUERY_GROUP: usize = 8;
/// A filter that allows fewer than 1/SELECTIVE of the rows is served by looking up its ids.
const SELECTIVE: u64 = 16;

#[derive(Debug, Default)]
struct Codes {
    codec: Option<Int8Symmetric>,
    trained_on: usize,
    codes: Vec<i8>,
    norms: Vec<f32>,
}

#[derive(Debug)]
struct Rows {
    dim: usize,
    metric: Metric,
    data: Vec<f32>,
    ids: Vec<u64>,
    row_of: HashMap<u64, usize>,
    codes: Option<Codes>,
}

impl Rows {
    fn new(dim: usize, metric: Metric, with_codes: bool) -> Self {
        Self {
            dim,
            metric,
            data: Vec::new(),
            ids: Vec::new(),
            row_of: HashMap::new(),
            codes: with_codes.then(Codes::default),
        }
    }

    fn row(&self, r: usize) -> &[f32] {
        &self.data[r * self.dim..(r + 1) * self.dim]
    }

    /// Inserts validated (and, for cosine, normalised) rows; an existing id is overwritten.
    fn insert(&mut self, ids: &[u64], vectors: &[f32]) {
        let dim = self.dim;
        // Exact reservations: memory reports stay honest and no doubling slack is left.
        self.data.reserve_exact(vectors.len());
        self.ids.reserve_exact(ids.len());
        let mut touched = Vec::with_capacity(ids.len());
        for (&id, v) in ids.iter().zip(vectors.chunks_exact(dim)) {
            let r = match self.row_of.get(&id) {
                Some(&r) => {
                    self.data[r * dim..(r + 1) * dim].copy_from_slice(v);
                    r
                }
                None => {
                    let r = self.ids.len();
                    self.ids.push(id);
                    self.data.extend_from_slice(v);
                    self.row_of.insert(id, r);
                    r
                }
            };
            touched.push(r);
        }
        let n = self.ids.len();
        let Some(codes) = self.codes.as_mut() else {
            return;
        };
        codes
            .codes
            .reserve_exact((n * dim).saturating_sub(codes.codes.len()));
        codes
            .norms
            .reserve_exact(n.saturating_sub(codes.norms.len()));
        codes.codes.resize(n * dim, 0);
        codes.norms.resize(n, 0.0);
        if int8_codes::needs_training(codes.codec.as_ref(), codes.trained_on, n) {
            // Retrain on (a prefix of) everything and re-encode every row: amortised O(1).
            let sample = &self.data[..n.min(TRAIN_MAX) * dim];
            // The rows are validated (finite, at most MAX_ABS, dim at most MAX_DIM): training
            // succeeds. Were it to fail, the search serves exact results until one trains.
            if let Ok(codec) = Int8Symmetric::train(sample, dim) {
                codes.codec = Some(codec);
                codes.trained_on = n;
                touched = (0..n).collect();
            }
        }
        let Some(codec) = codes.codec.as_ref() else {
            return;
        };
        for r in touched {
            let code = &mut codes.codes[r * dim..(r + 1) * dim];
            codes.norms[r] =
                int8_codes::encode_row(codec, &self.data[r * dim..(r + 1) * dim], code);
        }
    }

    fn remove(&mut self, id: u64) -> Result<()> {
        let r = self.row_of.remove(&id).ok_or(Error::UnknownId { id })?;
        let dim = self.dim;
        let last = self.ids.len() - 1;
        self.ids.swap_remove(r);
        if r != last {
            self.data.copy_within(last * dim..(last + 1) * dim, r * dim);
            self.row_of.insert(self.ids[r], r);
        }
        self.data.truncate(last * dim);
        if let Some(c) = self.codes.as_mut() {
            if r != last {
                c.codes.copy_within(last * dim..(last + 1) * dim, r * dim);
                c.norms[r] = c.norms[last];
            }
            c.codes.truncate(last * dim);
            c.norms.truncate(last);
        }
        // Give memory back once it is mostly unused.
        if self.data.capacity() > 2 * self.data.len() + 1024 {
            self.data.shrink_to_fit();
            self.ids.shrink_to_fit();
            if let Some(c) = self.codes.as_mut() {
                c.codes.shrink_to_fit();
                c.norms.shrink_to_fit();
            }
        }
        Ok(())
    }

    fn heap_bytes(&self) -> usize {
        let codes = self
            .codes
            .as_ref()
            .map_or(0, |c| c.codes.capacity() + c.norms.capacity() * 4);
        self.data.capacity() * 4
            + self.ids.capacity() * 8
            + self.row_of.capacity() * (8 + 8 + 1)
            + codes
    }

    /// Rows of the ids a selective filter allows, if it can list them and they are few.
    fn selective_rows(&self, filter: Option<&dyn Filter>) -> Option<Vec<usize>> {
        let f = filter?;
        let count = f.allowed_count()?;
        if count.saturating_mul(SELECTIVE) >= self.ids.len() as u64 {
            return None;
        }
        let ids = f.allowed_ids()?;
        Some(ids.filter_map(|id| self.row_of.get(&id).copied()).collect())
    }

    /// Exact top-k by scanning (or looking up the rows of a selective filter).
    fn exact(&self, query: &[f32], k: usize, filter: Option<&dyn Filter>) -> Vec<(u64, f32)> {
        let mut top = TopK::new(k);
        if let Some(rows) = self.selective_rows(filter) {
            for r in rows {
                top.push(self.metric.score(query, self.row(r)), self.ids[r]);
            }
            return top.into_sorted();
        }
        let mut scores = vec![0.0f32; BLOCK];
        for (b, block) in self.data.chunks(BLOCK * self.dim).enumerate() {
            let out = &mut scores[..block.len() / self.dim];
            self.metric.score_many(query, block, out);
            let base = b * BLOCK;
            for (i, &s) in out.iter().enumerate() {
                if s >= top.threshold() {
                    let id = self.ids[base + i];
                    if filter.is_none_or(|f| f.allows(id)) {
                        top.push(s, id);
                    }
                }
            }
        }
        top.into_sorted()
    }

    /// Code scan keeping `candidates` rows, then exact rerank to `k`.
    fn prefiltered(
        &self,
        query: &[f32],
        k: usize,
        candidates: usize,
        filter: Option<&dyn Filter>,
    ) -> Vec<(u64, f32)> {
        let Some(codes) = self.codes.as_ref() else {
            return self.exact(query, k, filter);
        };
        // No codec yet (nothing inserted) or a query it refuses (never, once validated): exact.
        let Some(query8) = codes
            .codec
            .as_ref()
            .and_then(|c| c.prepare_query(query).ok())
        else {
            return self.exact(query, k, filter);
        };
        if let Some(rows) = self.selective_rows(filter) {
            let mut top = TopK::new(k);
            for r in rows {
                top.push(self.metric.score(query, self.row(r)), self.ids[r]);
            }
            return top.into_sorted();
        }
        let dim = self.dim;
        let l2 = self.metric == Metric::L2;
        let (q8, scale) = (query8.codes(), query8.scale());
        let mut cand: TopK<u32> = TopK::new(candidates);
        let mut scores = vec![0i32; BLOCK];
        for (b, block) in codes.codes.chunks(BLOCK * dim).enumerate() {
            let out = &mut scores[..block.len() / dim];
            kernels::dot_i8_one_to_many(q8, block, out);
            let base = b * BLOCK;
            for (i, &raw) in out.iter().enumerate() {
                let r = base + i;
                let s = scale * raw as f32;
                // L2: −‖q − x‖² ranks like 2<q,x> − ‖x‖².
                let s = if l2 { 2.0 * s - codes.norms[r] } else { s };
                if s >= cand.threshold() && filter.is_none_or(|f| f.allows(self.ids[r])) {
                    cand.push(s, r as u32);
                }
            }
        }
        let mut top = TopK::new(k);
        for (r, _) in cand.into_sorted() {
            let r = r as usize;
            top.push(self.metric.score(query, self.row(r)), self.ids[r]);
        }
        top.into_sorted()
    }
}

fn new_rows(dim: usize, metric: Metric, codes: bool) -> Result<Rows> {
    if dim == 0 {
        return Err(Error::ZeroDimension);
    }
    if codes && dim > nexus_quant::MAX_DIM {
        return Err(Error::InvalidParameter {
            name: "dim",
            reason: "int8 codes take at most nexus_quant::MAX_DIM dimensions",
        });
    }
    Ok(Rows::new(dim, metric, codes))
}

fn prepared_batch(metric: Metric, dim: usize, ids: &[u64], vectors: &[f32]) -> Result<Vec<f32>> {
    check_batch(dim, ids, vectors)?;
    let mut owned = vectors.to_vec();
    if metric == Metric::Cosine {
        for v in owned.chunks_exact_mut(dim) {
            normalize(v)?;
        }
    }
    Ok(owned)
}

macro_rules! scan_index_common {
    () => {
        fn dim(&self) -> usize {
            self.rows.read().dim
        }

        fn add(&self, id: u64, vector: &[f32]) -> Result<()> {
            crate::metric::check_vector(self.dim, vector, 0)?;
            self.add_batch(std::slice::from_ref(&id), vector)
        }

        fn add_batch(&self, ids: &[u64], vectors: &[f32]) -> Result<()> {
            let (dim, metric) = (self.dim, self.metric);
            let owned = prepared_batch(metric, dim, ids, vectors)?;
            self.rows.write().insert(ids, &owned);
            Ok(())
        }

        fn remove(&self, id: u64) -> Result<()> {
            self.rows.write().remove(id)
        }

        fn len(&self) -> usize {
            self.rows.read().ids.len()
        }

        fn memory(&self) -> MemoryUsage {
            MemoryUsage {
                heap_bytes: self.rows.read().heap_bytes(),
                mapped_bytes: 0,
            }
        }
    };
}

/// Exact search: every query is scored against every vector with the one-to-many kernel and
/// ranked with a bounded heap of `k` (never a full sort). The model every other index is
/// tested against.
///
/// Removing an id moves the last row into its place, so memory is reclaimed at once.
///
/// ```
/// use nexus_index::{FlatIndex, Index, Metric};
/// let index = FlatIndex::new(2, Metric::InnerProduct)?;
/// index.add_batch(&[10, 20, 30], &[1.0, 0.0, 0.0, 1.0, 0.7, 0.7])?;
/// let hits = index.search(&[1.0, 0.1], 2, None)?;
/// assert_eq!(hits[0].0, 10);
/// assert_eq!(hits[1].0, 30);
/// # Ok::<(), nexus_index::Error>(())
/// ```
#[derive(Debug)]
pub struct FlatIndex {
    dim: usize,
    metric: Metric,
    rows: RwLock<Rows>,
}

impl FlatIndex {
    /// An empty index of dimension `dim`.
    ///
    /// # Errors
    /// [`Error::ZeroDimension`].
    pub fn new(dim: usize, metric: Metric) -> Result<Self> {
        Ok(Self {
            dim,
            metric,
            rows: RwLock::new(new_rows(dim, metric, false)?),
        })
    }

    /// The metric.
    pub fn metric(&self) -> Metric {
        self.metric
    }

    /// Exact top-`k` for each query of `queries` (row-major), best first, in parallel with
    /// rayon; groups of queries share each block of rows through the multi-query kernel.
    ///
    /// # Errors
    /// As [`Index::search`], for any query.
    pub fn search_batch(
        &self,
        queries: &[f32],
        k: usize,
        filter: Option<&dyn Filter>,
    ) -> Result<Vec<Vec<(u64, f32)>>> {
        let dim = self.dim;
        if k == 0 {
            return Err(Error::ZeroK);
        }
        let prepared = prepared_batch(self.metric, dim, &vec![0; queries.len() / dim], queries)
            .map_err(|e| match e {
                Error::BatchShape { values, .. } => Error::DimensionMismatch {
                    expected: dim,
                    got: values % dim,
                },
                e => e,
            })?;
        let rows = self.rows.read();
        let rows = &*rows;
        let selective = filter.is_some_and(|f| {
            f.allowed_count()
                .is_some_and(|c| c.saturating_mul(SELECTIVE) < rows.ids.len() as u64)
        });
        if self.metric == Metric::L2 || selective {
            return Ok(prepared
                .par_chunks(dim)
                .map(|q| rows.exact(q, k, filter))
                .collect());
        }
        let groups: Vec<Vec<Vec<(u64, f32)>>> = prepared
            .par_chunks(QUERY_GROUP * dim)
            .map(|group| {
                let nq = group.len() / dim;
                let mut tops: Vec<TopK<u64>> = (0..nq).map(|_| TopK::new(k)).collect();
                let mut scores = vec![0.0f32; nq * BLOCK];
                for (b, block) in rows.data.chunks(BLOCK * dim).enumerate() {
                    let n = block.len() / dim;
                    let out = &mut scores[..nq * n];
                    kernels::dot_many_to_many(group, block, dim, out);
                    for (top, s_q) in tops.iter_mut().zip(out.chunks_exact(n)) {
                        for (i, &s) in s_q.iter().enumerate() {
                            if s >= top.threshold() {
                                let id = rows.ids[b * BLOCK + i];
                                if filter.is_none_or(|f| f.allows(id)) {
                                    top.push(s, id);
                                }
                            }
                        }
                    }
                }
                tops.into_iter().map(TopK::into_sorted).collect()
            })
            .collect();
        Ok(groups.into_iter().flatten().collect())
    }
}

impl Index for FlatIndex {
    scan_index_common!();

    fn search(
        &self,
        query: &[f32],
        k: usize,
        filter: Option<&dyn Filter>,
    ) -> Result<Vec<(u64, f32)>> {
        if k == 0 {
            return Err(Error::ZeroK);
        }
        let q = prepare(self.metric, self.dim, query)?;
        Ok(self.rows.read().exact(&q, k, filter))
    }
}

/// Prefilter + rerank: scans int8 codes (one byte per dimension, a quarter of the f32
/// bytes) against the query quantized to i8 (one VNNI dot product per code), keeps the best `k · rerank` candidates, and ranks those exactly on f32.
///
/// The int8 scales are trained on the data seen so far and retrained (with every code
/// re-encoded) each time the index doubles, up to 16,384 vectors; values outside the
/// trained range are clamped, which only costs recall that the rerank mostly restores.
///
/// ```
/// use nexus_index::{Index, Metric, QuantizedIndex};
/// let index = QuantizedIndex::new(2, Metric::InnerProduct, 4)?;
/// index.add_batch(&[1, 2, 3], &[1.0, 0.0, 0.0, 1.0, 0.7, 0.7])?;
/// assert_eq!(index.search(&[0.0, 1.0], 1, None)?[0].0, 2);
/// # Ok::<(), nexus_index::Error>(())
/// ```
#[derive(Debug)]
pub struct QuantizedIndex {
    dim: usize,
    metric: Metric,
    rerank: usize,
    rows: RwLock<Rows>,
}

impl QuantizedIndex {
    /// An empty index of dimension `dim` that reranks `k · rerank` candidates.
    ///
    /// # Errors
    /// [`Error::ZeroDimension`]; [`Error::InvalidParameter`] if `rerank` is 0.
    pub fn new(dim: usize, metric: Metric, rerank: usize) -> Result<Self> {
        if rerank == 0 {
            return Err(Error::InvalidParameter {
                name: "rerank",
                reason: "must be at least 1",
            });
        }
        Ok(Self {
            dim,
            metric,
            rerank,
            rows: RwLock::new(new_rows(dim, metric, true)?),
        })
    }

    /// The exact top-`k` (a full f32 scan), for checking recall.
    ///
    /// # Errors
    /// As [`Index::search`].
    pub fn exact_search(
        &self,
        query: &[f32],
        k: usize,
        filter: Option<&dyn Filter>,
    ) -> Result<Vec<(u64, f32)>> {
        if k == 0 {
            return Err(Error::ZeroK);
        }
        let q = prepare(self.metric, self.dim, query)?;
        Ok(self.rows.read().exact(&q, k, filter))
    }
}

impl Index for QuantizedIndex {
    scan_index_common!();

    fn search(
        &self,
        query: &[f32],
        k: usize,
        filter: Option<&dyn Filter>,
    ) -> Result<Vec<(u64, f32)>> {
        if k == 0 {
            return Err(Error::ZeroK);
        }
        let q = prepare(self.metric, self.dim, query)?;
        let candidates = k.saturating_mul(self.rerank);
        Ok(self.rows.read().prefiltered(&q, k, candidates, filter))
    }
}
