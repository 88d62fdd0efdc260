//! One recall over one part: the namespace and tag postings become an id bitmap, row
//! conditions (times, metadata) a predicate; then the part's graph is walked with that filter,
//! or its rows are scanned exactly (no graph yet, a small part, or few allowed ids).

use nexus_index::{Filter as IndexFilter, Index};
use roaring::RoaringTreemap;

use crate::error::Result;
use crate::memory::StoredMeta;
use crate::options::Metric;
use crate::part::{Postings, SegView, Tail};
use crate::query::{Filter, in_range};

/// Below this fraction of a part's live rows, an allowed-id set is scored row by row.
const SPARSE_FRACTION: u64 = 20;

/// What a query asks of every part.
#[derive(Debug)]
pub(crate) struct Plan<'a> {
    pub(crate) query: &'a [f32],
    pub(crate) k: usize,
    pub(crate) namespaces: &'a [String],
    pub(crate) filter: &'a Filter,
    pub(crate) metric: Metric,
}

/// The ids of `postings` that pass the namespace and tag conditions; `None` when there are
/// none of those conditions (every live id passes them).
pub(crate) fn allowed_set(
    postings: &Postings,
    namespaces: &[String],
    filter: &Filter,
) -> Option<RoaringTreemap> {
    let mut set: Option<RoaringTreemap> = None;
    if !namespaces.is_empty() {
        let mut s = RoaringTreemap::new();
        for ns in namespaces {
            if let Some(p) = postings.by_namespace.get(ns) {
                s |= p;
            }
        }
        set = Some(s);
    }
    if !filter.tags_any.is_empty() {
        let mut s = RoaringTreemap::new();
        for t in &filter.tags_any {
            if let Some(p) = postings.by_tag.get(t) {
                s |= p;
            }
        }
        set = Some(match set {
            Some(x) => x & s,
            None => s,
        });
    }
    for t in &filter.tags_all {
        let p = postings.by_tag.get(t).cloned().unwrap_or_default();
        set = Some(match set {
            Some(x) => x & p,
            None => p,
        });
    }
    set
}

/// The row-level conditions of `filter` on one row.
pub(crate) fn row_passes(
    filter: &Filter,
    event_time: i64,
    created_at: i64,
    meta: impl FnOnce() -> Option<StoredMeta>,
) -> bool {
    if filter
        .event_time
        .as_ref()
        .is_some_and(|r| !in_range(r, event_time))
        || filter
            .created_at
            .as_ref()
            .is_some_and(|r| !in_range(r, created_at))
    {
        return false;
    }
    if filter.meta_eq.is_empty() {
        return true;
    }
    let Some(meta) = meta() else { return false };
    let Ok(serde_json::Value::Object(map)) = serde_json::from_str(&meta.metadata) else {
        return false;
    };
    filter
        .meta_eq
        .iter()
        .all(|(k, v)| map.get(k).is_some_and(|x| x == v))
}

/// A bitmap as an index filter that can list its ids (so a selective one is scanned exactly).
struct SetFilter<'a>(&'a RoaringTreemap);

impl IndexFilter for SetFilter<'_> {
    fn allows(&self, id: u64) -> bool {
        self.0.contains(id)
    }
    fn allowed_ids(&self) -> Option<Box<dyn Iterator<Item = u64> + '_>> {
        Some(Box::new(self.0.iter()))
    }
    fn allowed_count(&self) -> Option<u64> {
        Some(self.0.len())
    }
}

/// Scores `rows` (row numbers into `vectors`) and keeps the best `k`.
fn score_rows(
    plan: &Plan<'_>,
    vectors: &[f32],
    dim: usize,
    rows: impl Iterator<Item = (usize, u64)>,
) -> Vec<(u64, f32)> {
    let mut top = TopK::new(plan.k);
    for (row, id) in rows {
        let v = &vectors[row * dim..(row + 1) * dim];
        let s = match plan.metric {
            Metric::L2 => -nexus_simd::l2_squared(plan.query, v),
            _ => nexus_simd::dot(plan.query, v),
        };
        top.push(s, id);
    }
    top.into_sorted()
}

/// Scores every row of `vectors` with the one-to-many kernel, keeping those `keep` allows.
fn scan_all(
    plan: &Plan<'_>,
    vectors: &[f32],
    ids: &[u64],
    keep: impl Fn(usize, u64) -> bool,
) -> Vec<(u64, f32)> {
    const BLOCK: usize = 1024;
    let dim = plan.query.len();
    let mut top = TopK::new(plan.k);
    let mut scores = vec![0.0f32; BLOCK];
    for (b, chunk) in vectors.chunks(BLOCK * dim).enumerate() {
        let n = chunk.len() / dim;
        let out = &mut scores[..n];
        match plan.metric {
            Metric::L2 => {
                nexus_simd::l2_squared_one_to_many(plan.query, chunk, out);
                out.iter_mut().for_each(|s| *s = -*s);
            }
            _ => nexus_simd::dot_one_to_many(plan.query, chunk, out),
        }
        for (i, &s) in out.iter().enumerate() {
            let row = b * BLOCK + i;
            if top.would_take(s) && keep(row, ids[row]) {
                top.push(s, ids[row]);
            }
        }
    }
    top.into_sorted()
}

/// The best `k` of a segment view.
pub(crate) fn search_view(view: &SegView, plan: &Plan<'_>) -> Result<Vec<(u64, f32)>> {
    let st = view.state.read();
    let set = allowed_set(&st.postings, plan.namespaces, plan.filter);
    if set.as_ref().is_some_and(RoaringTreemap::is_empty) || st.postings.live.is_empty() {
        return Ok(Vec::new());
    }
    let row_conditions = plan.filter.has_row_conditions();
    let row_ok = |row: usize| {
        row_passes(
            plan.filter,
            view.event_time[row],
            view.created_at[row],
            || view.meta(row).ok(),
        )
    };
    let seg = &view.seg;
    // A set with row conditions is narrowed to the exact allowed ids first.
    let set = match set {
        Some(s) if row_conditions => Some(
            s.iter()
                .filter(|&id| seg.find(id).is_some_and(row_ok))
                .collect::<RoaringTreemap>(),
        ),
        s => s,
    };
    let live = &st.postings.live;
    if let Some(s) = &set
        && (st.index.is_none() || s.len() * SPARSE_FRACTION < live.len())
    {
        let rows = s.iter().filter_map(|id| seg.find(id).map(|r| (r, id)));
        return Ok(score_rows(plan, seg.vectors(), seg.dim(), rows));
    }
    match &st.index {
        Some(index) => {
            let hits = match &set {
                Some(s) => index.search(plan.query, plan.k, Some(&SetFilter(s)))?,
                None if row_conditions => {
                    let pred = |id: u64| seg.find(id).is_some_and(row_ok);
                    index.search(plan.query, plan.k, Some(&pred))?
                }
                None => index.search(plan.query, plan.k, None)?,
            };
            Ok(hits)
        }
        None => Ok(scan_all(plan, seg.vectors(), seg.ids(), |row, id| {
            live.contains(id) && (!row_conditions || row_ok(row))
        })),
    }
}

/// The best `k` of the tail.
pub(crate) fn search_tail(tail: &Tail, plan: &Plan<'_>) -> Vec<(u64, f32)> {
    if tail.postings.live.is_empty() {
        return Vec::new();
    }
    let set = allowed_set(&tail.postings, plan.namespaces, plan.filter);
    let row_ok = |row: usize| {
        let m = &tail.metas[row];
        row_passes(plan.filter, m.event_time, m.created_at, || Some(m.clone()))
    };
    let dim = plan.query.len();
    match set {
        Some(s) => {
            let rows = s
                .iter()
                .filter_map(|id| tail.ids.binary_search(&id).ok().map(|r| (r, id)))
                .filter(|&(r, _)| row_ok(r));
            score_rows(plan, &tail.vectors, dim, rows)
        }
        None => {
            let live = &tail.postings.live;
            let conditions = plan.filter.has_row_conditions();
            scan_all(plan, &tail.vectors, &tail.ids, |row, id| {
                live.contains(id) && (!conditions || row_ok(row))
            })
        }
    }
}

/// A bounded min-heap of the best `k` (score, id); ties go to the lower id.
pub(crate) struct TopK {
    k: usize,
    heap: std::collections::BinaryHeap<std::cmp::Reverse<(Score, u64)>>,
}

/// An f32 score ordered totally (NaN never occurs: inputs are validated finite).
#[derive(Debug, Clone, Copy, PartialEq)]
struct Score(f32);
impl Eq for Score {}
impl PartialOrd for Score {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Score {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.0.total_cmp(&other.0)
    }
}

impl TopK {
    pub(crate) fn new(k: usize) -> Self {
        Self {
            k,
            heap: std::collections::BinaryHeap::with_capacity(k + 1),
        }
    }

    fn would_take(&self, score: f32) -> bool {
        self.heap.len() < self.k || self.heap.peek().is_some_and(|w| score >= w.0.0.0)
    }

    pub(crate) fn push(&mut self, score: f32, id: u64) {
        if self.k == 0 {
            return;
        }
        // Lower id wins a tie: order by (score, reversed id).
        let item = std::cmp::Reverse((Score(score), u64::MAX - id));
        if self.heap.len() < self.k {
            self.heap.push(item);
        } else if self.heap.peek().is_some_and(|w| item < *w) {
            self.heap.pop();
            self.heap.push(item);
        }
    }

    /// Best first.
    pub(crate) fn into_sorted(self) -> Vec<(u64, f32)> {
        let mut v: Vec<(u64, f32)> = self
            .heap
            .into_iter()
            .map(|std::cmp::Reverse((s, id))| (u64::MAX - id, s.0))
            .collect();
        v.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        v
    }
}
