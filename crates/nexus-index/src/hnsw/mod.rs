//! `HnswIndex`: a hierarchical navigable small-world graph.

mod graph;
mod persist;
mod scorer;
mod visited;

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};

use parking_lot::{Mutex, RwLock};
use rayon::prelude::*;

use self::graph::{MAX_LEVEL, NONE, Store};
use self::scorer::{F32Scorer, Int8Scorer, Scorer};
use self::visited::Visited;
use crate::error::{Error, Result};
use crate::filter::Filter;
use crate::index::{Index, MemoryUsage, check_batch};
use crate::metric::{Metric, normalize, prepare};
use crate::source::VectorSource;
use crate::topk::TopK;

/// How the graph is walked at search time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Traversal {
    /// Score with the f32 vectors all the way.
    #[default]
    F32,
    /// Score with int8 codes (a quarter of the bytes; the f32 vectors may stay on a mapping)
    /// and rerank the final `ef` candidates exactly on f32.
    Int8,
}

/// Parameters of an [`HnswIndex`].
/// Build it with struct-update syntax: `HnswParams { m: 32, ..HnswParams::default() }`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct HnswParams {
    /// Links per node on the upper levels (level 0 has `2·m`). 2..=128; default 16.
    pub m: usize,
    /// Candidate list size while inserting. Default 200.
    pub ef_construction: usize,
    /// Candidate list size while searching (at least `k` is used). Default 64.
    pub ef_search: usize,
    /// The metric. Default inner product.
    pub metric: Metric,
    /// How searches walk the graph. Default f32.
    pub traversal: Traversal,
    /// Seed of the level draw (builds are deterministic given the insertion order of a
    /// single-threaded build). Default 0.
    pub seed: u64,
    /// Rebuild (reclaiming memory) once this fraction of nodes is deleted; 0 never does it
    /// automatically (call [`HnswIndex::compact`]). Default 0.5.
    pub compact_ratio: f32,
}

impl Default for HnswParams {
    fn default() -> Self {
        Self {
            m: 16,
            ef_construction: 200,
            ef_search: 64,
            metric: Metric::InnerProduct,
            traversal: Traversal::F32,
            seed: 0,
            compact_ratio: 0.5,
        }
    }
}

impl HnswParams {
    fn validate(&self) -> Result<()> {
        let bad = |name, reason| Err(Error::InvalidParameter { name, reason });
        if !(2..=128).contains(&self.m) {
            return bad("m", "must be in 2..=128");
        }
        if self.ef_construction == 0 {
            return bad("ef_construction", "must be at least 1");
        }
        if self.ef_search == 0 {
            return bad("ef_search", "must be at least 1");
        }
        if !(0.0..1.0).contains(&self.compact_ratio) {
            return bad("compact_ratio", "must be in [0, 1)");
        }
        Ok(())
    }
}

/// A filter that allows at most this fraction of the live nodes is served by an exact scan
/// of the allowed ids (as Qdrant does): a graph walk would have to visit most of the graph to
/// find `k` of them.
const EXACT_FRACTION: f64 = 0.05;
/// With int8 traversal, how many of the walk's best candidates are reranked on f32:
/// Half the walk's list (at least `2k`): the int8 order is good enough that the lower half
/// never held a top-10 hit on dev-20k or a 100k set (recall@10 equal to reranking all `ef` at
/// ef 32–128), and each reranked node is a random read of a whole f32 vector.
fn rerank_count(k: usize, ef: usize) -> usize {
    (ef / 2).max(2 * k).min(ef.max(k))
}

/// Nodes sampled to estimate a closure filter's selectivity.
const SELECTIVITY_SAMPLE: usize = 256;

/// Approximate nearest-neighbour search on an HNSW graph.
///
/// - **Concurrency**: every method takes `&self`; inserts, removes and searches run
///   concurrently (neighbour lists are arrays of atomics read without locks; writers take a
///   per-node `parking_lot` lock). [`Index::add_batch`] builds in parallel with rayon.
/// - **Deletes** are excluded from results at once; the node stays in the graph as a
///   waypoint until a rebuild ([`compact`](Self::compact), automatic past
///   [`HnswParams::compact_ratio`]) reclaims its memory.
/// - **Filters**: a filter that passes few ids (estimated from the bitmap's count or by
///   sampling) is answered by an exact scan of the allowed ids, so it still returns `k`; a
///   graph search that finds fewer than `k` allowed ids falls back to the same scan.
/// - **Int8 traversal** ([`Traversal::Int8`]): the walk scores int8 codes (scales trained on
///   the data, retrained each time the index doubles up to 16,384 vectors) against the query
///   quantized to i8, and the best half of the final `ef` candidates (at least `2k`) is
///   reranked on f32. Inserts walk the
///   codes too and choose neighbours on exact f32 scores.
/// - **Layout**: one 64-byte-aligned block per node holds its level-0 neighbour list and what
///   the walk scores it by (its int8 code, or its f32 vector when the index owns the vectors
///   and walks on f32), so one visit touches one block; the walk prefetches the next
///   candidate's list and the unvisited neighbours' codes or vectors; the visited set is a
///   bitset (n/8 bytes) cleared word by word.
/// - **Vectors outside the index**: [`with_source`](Self::with_source) reads f32 vectors
///   from the caller's [`VectorSource`] (e.g. a mapping); the index keeps only row numbers.
/// - **Files**: [`save`](Self::save) / [`load`](Self::load), see the crate docs.
///
/// ```
/// use nexus_index::{HnswIndex, HnswParams, Index};
/// let index = HnswIndex::new(2, HnswParams::default())?;
/// index.add_batch(&[1, 2, 3], &[1.0, 0.0, 0.0, 1.0, 0.7, 0.7])?;
/// assert_eq!(index.search(&[0.0, 1.0], 1, None)?[0].0, 2);
/// index.remove(2)?;
/// assert_eq!(index.search(&[0.0, 1.0], 1, None)?[0].0, 3);
/// # Ok::<(), nexus_index::Error>(())
/// ```
pub struct HnswIndex {
    dim: usize,
    params: HnswParams,
    ef_search: AtomicUsize,
    store: RwLock<Store>,
    id_map: RwLock<HashMap<u64, u32>>,
    visited: Mutex<Vec<Visited>>,
}

impl std::fmt::Debug for HnswIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HnswIndex")
            .field("dim", &self.dim)
            .field("params", &self.params)
            .field("len", &self.len())
            .finish_non_exhaustive()
    }
}

/// splitmix64: a well-mixed hash of the node number for the level draw.
fn mix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

impl HnswIndex {
    /// An empty index of dimension `dim` that owns its vectors.
    ///
    /// # Errors
    /// [`Error::ZeroDimension`], [`Error::InvalidParameter`].
    pub fn new(dim: usize, params: HnswParams) -> Result<Self> {
        Self::build(dim, params, None)
    }

    /// An empty index that reads f32 vectors from `source` instead of owning them; insert
    /// with [`add_row`](Self::add_row). With [`Metric::Cosine`] the source's rows must
    /// already be normalised.
    ///
    /// # Errors
    /// [`Error::ZeroDimension`], [`Error::InvalidParameter`].
    pub fn with_source(source: Arc<dyn VectorSource>, params: HnswParams) -> Result<Self> {
        Self::build(source.dim(), params, Some(source))
    }

    fn build(
        dim: usize,
        params: HnswParams,
        source: Option<Arc<dyn VectorSource>>,
    ) -> Result<Self> {
        if dim == 0 {
            return Err(Error::ZeroDimension);
        }
        params.validate()?;
        if params.traversal == Traversal::Int8 && dim > nexus_quant::MAX_DIM {
            return Err(Error::InvalidParameter {
                name: "dim",
                reason: "int8 traversal takes at most nexus_quant::MAX_DIM dimensions",
            });
        }
        let store = Store::new(
            dim,
            params.m,
            params.metric,
            params.traversal == Traversal::Int8,
            source,
        );
        Ok(Self::from_parts(dim, params, store, HashMap::new()))
    }

    fn from_parts(dim: usize, params: HnswParams, store: Store, id_map: HashMap<u64, u32>) -> Self {
        Self {
            dim,
            params,
            ef_search: AtomicUsize::new(params.ef_search),
            store: RwLock::new(store),
            id_map: RwLock::new(id_map),
            visited: Mutex::new(Vec::new()),
        }
    }

    /// The parameters (with the current `ef_search`).
    pub fn params(&self) -> HnswParams {
        HnswParams {
            ef_search: self.ef_search.load(Relaxed),
            ..self.params
        }
    }

    /// Sets `ef_search` for later searches (0 is raised to 1).
    pub fn set_ef_search(&self, ef: usize) {
        self.ef_search.store(ef.max(1), Relaxed);
    }

    fn level_for(&self, node: usize) -> u8 {
        let bits = mix(self.params.seed ^ (node as u64).wrapping_mul(0xA24B_AED4_963E_E407));
        // A uniform draw in (0, 1].
        let u = ((bits >> 11) as f64 + 1.0) / (1u64 << 53) as f64;
        let ml = 1.0 / (self.params.m as f64).ln();
        ((-u.ln() * ml) as u64).min(u64::from(MAX_LEVEL)) as u8
    }

    fn take_visited(&self) -> Visited {
        self.visited.lock().pop().unwrap_or_default()
    }

    fn give_visited(&self, v: Visited) {
        self.visited.lock().push(v);
    }

    /// Phase one under the write lock: allocate nodes (replacing duplicate ids), encode.
    /// Returns the first new node; the new nodes are `first..store.len()`.
    fn allocate(
        &self,
        store: &mut Store,
        ids: &[u64],
        vectors: Option<&[f32]>,
        rows: &[u32],
    ) -> Result<usize> {
        let first = store.len();
        if first + ids.len() >= NONE as usize {
            return Err(Error::Full {
                max: NONE as usize - 1,
            });
        }
        store.reserve(ids.len());
        let mut map = self.id_map.write();
        map.reserve(ids.len());
        for (i, &id) in ids.iter().enumerate() {
            let node = store.len();
            let level = self.level_for(node);
            let v = vectors.map(|v| &v[i * self.dim..(i + 1) * self.dim]);
            let row = rows.get(i).copied().unwrap_or(0);
            let node = store.push_node(id, level, v, row);
            if let Some(old) = map.insert(id, node) {
                store.deleted[old as usize].store(true, Relaxed);
                store.n_deleted.fetch_add(1, Relaxed);
            }
        }
        drop(map);
        store.encode_from(first);
        Ok(first)
    }

    fn insert(&self, ids: &[u64], vectors: Option<&[f32]>, rows: &[u32]) -> Result<()> {
        let (first, end) = {
            let mut store = self.store.write();
            let first = self.allocate(&mut store, ids, vectors, rows)?;
            (first, store.len())
        };
        let store = self.store.read();
        let efc = self.params.ef_construction;
        if end - first > 1 {
            // The first node of an empty index becomes the entry point before the rest.
            let mut start = first;
            if store.entry.lock().0 == NONE {
                let mut v = self.take_visited();
                store.link(first as u32, efc, &mut v);
                self.give_visited(v);
                start += 1;
            }
            (start..end).into_par_iter().for_each_init(
                || self.take_visited(),
                |v, node| store.link(node as u32, efc, v),
            );
            store.repair_reachability();
        } else {
            let mut v = self.take_visited();
            for node in first..end {
                store.link(node as u32, efc, &mut v);
            }
            self.give_visited(v);
        }
        Ok(())
    }

    /// Inserts `id` as row `row` of the index's [`VectorSource`] (see
    /// [`with_source`](Self::with_source)); replaces `id` if present.
    ///
    /// # Errors
    /// [`Error::SourceRow`] if the source has no such row, [`Error::InvalidParameter`] if the
    /// index owns its vectors.
    pub fn add_row(&self, id: u64, row: usize) -> Result<()> {
        self.add_rows(&[id], &[row])
    }

    /// [`add_row`](Self::add_row) for many rows, built in parallel.
    ///
    /// # Errors
    /// As [`add_row`](Self::add_row); [`Error::BatchShape`] if the lengths differ.
    pub fn add_rows(&self, ids: &[u64], rows: &[usize]) -> Result<()> {
        if ids.len() != rows.len() {
            return Err(Error::BatchShape {
                ids: ids.len(),
                values: rows.len(),
                dim: 1,
            });
        }
        let rows32 = {
            let store = self.store.read();
            let graph::Vectors::Source { source, .. } = &store.vectors else {
                return Err(Error::InvalidParameter {
                    name: "add_row",
                    reason: "the index owns its vectors: use add",
                });
            };
            let len = source.len();
            let mut out = Vec::with_capacity(rows.len());
            for &r in rows {
                if r >= len || r >= NONE as usize {
                    return Err(Error::SourceRow { row: r as u64, len });
                }
                crate::metric::check_finite(source.row(r), 0)?;
                out.push(r as u32);
            }
            out
        };
        self.insert(ids, None, &rows32)
    }

    /// Rebuilds the graph from the live nodes, reclaiming the memory of deleted ones.
    /// Blocks other calls while it runs.
    pub fn compact(&self) {
        let mut store = self.store.write();
        let mut map = self.id_map.write();
        let live: Vec<u32> = (0..store.len() as u32)
            .filter(|&u| !store.is_deleted(u))
            .collect();
        let source = match &store.vectors {
            graph::Vectors::Owned(_) | graph::Vectors::Inline => None,
            graph::Vectors::Source { source, .. } => Some(Arc::clone(source)),
        };
        let mut fresh = Store::new(
            self.dim,
            self.params.m,
            self.params.metric,
            self.params.traversal == Traversal::Int8,
            source,
        );
        fresh.reserve(live.len());
        map.clear();
        map.shrink_to(live.len());
        for (i, &u) in live.iter().enumerate() {
            let level = self.level_for(i);
            let row = match &store.vectors {
                graph::Vectors::Source { rows, .. } => rows[u as usize],
                graph::Vectors::Owned(_) | graph::Vectors::Inline => 0,
            };
            let v =
                (!matches!(store.vectors, graph::Vectors::Source { .. })).then(|| store.vector(u));
            let node = fresh.push_node(store.ids[u as usize], level, v, row);
            map.insert(store.ids[u as usize], node);
        }
        fresh.encode_from(0);
        let efc = self.params.ef_construction;
        if !live.is_empty() {
            let mut v = self.take_visited();
            fresh.link(0, efc, &mut v);
            self.give_visited(v);
            (1..live.len()).into_par_iter().for_each_init(
                || self.take_visited(),
                |v, node| fresh.link(node as u32, efc, v),
            );
            fresh.repair_reachability();
        }
        *store = fresh;
        self.visited.lock().clear();
    }

    /// Exact top-`k` by scanning every live node (the reference for recall, and the path
    /// very selective filters take).
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
        let q = prepare(self.params.metric, self.dim, query)?;
        let store = self.store.read();
        Ok(self.exact_scan(&store, &q, k, filter))
    }

    fn exact_scan(
        &self,
        store: &Store,
        q: &[f32],
        k: usize,
        filter: Option<&dyn Filter>,
    ) -> Vec<(u64, f32)> {
        let mut top = TopK::new(k);
        let metric = self.params.metric;
        if let Some(ids) = filter.and_then(|f| {
            f.allowed_count()
                .filter(|&c| (c as f64) < EXACT_FRACTION * store.len() as f64)
                .and_then(|_| f.allowed_ids())
        }) {
            let map = self.id_map.read();
            for id in ids {
                if let Some(&u) = map.get(&id)
                    && !store.is_deleted(u)
                {
                    top.push(metric.score(q, store.vector(u)), id);
                }
            }
            return top.into_sorted();
        }
        for u in 0..store.len() as u32 {
            let id = store.ids[u as usize];
            if !store.is_deleted(u) && filter.is_none_or(|f| f.allows(id)) {
                top.push(metric.score(q, store.vector(u)), id);
            }
        }
        top.into_sorted()
    }

    /// The estimated number of live nodes `filter` allows.
    fn estimate_allowed(store: &Store, filter: &dyn Filter) -> f64 {
        let live = store.live() as f64;
        if let Some(c) = filter.allowed_count() {
            return (c as f64).min(live);
        }
        let n = store.len();
        let step = (n / SELECTIVITY_SAMPLE).max(1);
        let (mut seen, mut allowed) = (0usize, 0usize);
        for u in (0..n).step_by(step) {
            if !store.is_deleted(u as u32) {
                seen += 1;
                allowed += usize::from(filter.allows(store.ids[u]));
            }
        }
        if seen == 0 {
            0.0
        } else {
            live * allowed as f64 / seen as f64
        }
    }

    fn graph_search(
        &self,
        store: &Store,
        q: &[f32],
        k: usize,
        filter: Option<&dyn Filter>,
    ) -> Vec<(u64, f32)> {
        let (entry, top_level) = *store.entry.lock();
        if entry == NONE {
            return Vec::new();
        }
        let ef = self.ef_search.load(Relaxed).max(k);
        // Without deletes or a filter every node is accepted: no per-node lookups.
        let check = filter.is_some() || store.n_deleted.load(Relaxed) > 0;
        let accept = |u: u32| {
            !check
                || (!store.is_deleted(u) && filter.is_none_or(|f| f.allows(store.ids[u as usize])))
        };
        let mut visited = self.take_visited();
        let int8 = match (&store.codes, self.params.traversal) {
            (Some(codes), Traversal::Int8) => codes
                .codec
                .as_ref()
                .and_then(|codec| Int8Scorer::new(store, codes, codec, q)),
            _ => None,
        };
        let found = match int8 {
            Some(mut scorer) => {
                let found = Self::walk(
                    store,
                    &mut scorer,
                    entry,
                    top_level,
                    ef,
                    &mut visited,
                    &accept,
                );
                // Exact rerank of the best candidates.
                let mut exact = F32Scorer::new(store, q);
                let nodes: Vec<u32> = found
                    .iter()
                    .take(rerank_count(k, ef))
                    .map(|c| c.1)
                    .collect();
                let mut scores = Vec::with_capacity(nodes.len());
                exact.score_many(&nodes, &mut scores);
                let mut top = TopK::new(k);
                for (&u, &s) in nodes.iter().zip(&scores) {
                    top.push(s, store.ids[u as usize]);
                }
                top.into_sorted()
            }
            None => {
                let mut scorer = F32Scorer::new(store, q);
                let found = Self::walk(
                    store,
                    &mut scorer,
                    entry,
                    top_level,
                    ef,
                    &mut visited,
                    &accept,
                );
                found
                    .into_iter()
                    .take(k)
                    .map(|(s, u)| (store.ids[u as usize], s))
                    .collect()
            }
        };
        self.give_visited(visited);
        found
    }

    fn walk(
        store: &Store,
        scorer: &mut impl Scorer,
        entry: u32,
        top_level: u8,
        ef: usize,
        visited: &mut Visited,
        accept: &impl Fn(u32) -> bool,
    ) -> Vec<(f32, u32)> {
        let mut cur = (scorer.score(entry), entry);
        for l in (1..=top_level).rev() {
            cur = store.greedy(scorer, cur, l);
        }
        store.search_level(scorer, &[cur], ef, 0, visited, accept)
    }
}

impl Index for HnswIndex {
    fn dim(&self) -> usize {
        self.dim
    }

    fn add(&self, id: u64, vector: &[f32]) -> Result<()> {
        crate::metric::check_vector(self.dim, vector, 0)?;
        self.add_batch(std::slice::from_ref(&id), vector)
    }

    fn add_batch(&self, ids: &[u64], vectors: &[f32]) -> Result<()> {
        check_batch(self.dim, ids, vectors)?;
        if matches!(self.store.read().vectors, graph::Vectors::Source { .. }) {
            return Err(Error::InvalidParameter {
                name: "add",
                reason: "the index reads vectors from a source: use add_row",
            });
        }
        let mut owned = vectors.to_vec();
        if self.params.metric == Metric::Cosine {
            for v in owned.chunks_exact_mut(self.dim) {
                normalize(v)?;
            }
        }
        self.insert(ids, Some(&owned), &[])
    }

    fn remove(&self, id: u64) -> Result<()> {
        let compact = {
            let store = self.store.read();
            let mut map = self.id_map.write();
            let node = map.remove(&id).ok_or(Error::UnknownId { id })?;
            store.deleted[node as usize].store(true, Relaxed);
            let deleted = store.n_deleted.fetch_add(1, Relaxed) + 1;
            let ratio = self.params.compact_ratio;
            ratio > 0.0 && deleted as f64 > f64::from(ratio) * store.len() as f64
        };
        if compact {
            self.compact();
        }
        Ok(())
    }

    fn search(
        &self,
        query: &[f32],
        k: usize,
        filter: Option<&dyn Filter>,
    ) -> Result<Vec<(u64, f32)>> {
        if k == 0 {
            return Err(Error::ZeroK);
        }
        let q = prepare(self.params.metric, self.dim, query)?;
        let store = self.store.read();
        if let Some(f) = filter {
            let allowed = Self::estimate_allowed(&store, f);
            let ef = self.ef_search.load(Relaxed).max(k) as f64;
            if allowed < EXACT_FRACTION * store.live() as f64 || allowed < 2.0 * ef {
                return Ok(self.exact_scan(&store, &q, k, filter));
            }
        }
        let hits = self.graph_search(&store, &q, k, filter);
        if hits.len() < k && hits.len() < store.live() {
            // Too few reachable allowed nodes: answer exactly rather than short.
            return Ok(self.exact_scan(&store, &q, k, filter));
        }
        Ok(hits)
    }

    fn len(&self) -> usize {
        self.store.read().live()
    }

    fn memory(&self) -> MemoryUsage {
        let store = self.store.read();
        let map = self.id_map.read();
        // hashbrown: one control byte plus the (u64, u32) slot per bucket.
        let map_bytes = map.capacity() * (1 + 16);
        let visited: usize = self.visited.lock().iter().map(Visited::bytes).sum();
        MemoryUsage {
            heap_bytes: store.heap_bytes() + map_bytes + visited,
            mapped_bytes: store.mapped_bytes(),
        }
    }
}
