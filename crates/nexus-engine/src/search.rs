//! One recall over one part: the namespace and tag postings become an id bitmap, row
//! conditions (times, metadata) a predicate; then the part's graph is walked with that filter,
//! or its rows are scanned exactly (no graph yet, a small part, or few allowed ids).

use nexus_index::{Filter as IndexFilter, Index};
use roaring::RoaringTreemap;

use crate::error::Result;
use crate::keyword::{Bm25, TermIndex};
use crate::memory::StoredMeta;
use crate::options::Metric;
use crate::part::{Postings, SegView, Tail};
use crate::query::{Filter, in_range};

/// An allowed-id set of `s` ids in a part of `n` live rows is scored row by row when
/// `s² < EXACT_COST_RATIO · n`. Scoring costs ~`s` dot products; a filtered graph walk costs
/// about an unfiltered walk (~2,000 dot products at ef ≈ 100) divided by the selectivity
/// `s / n`. They break even at `s² ≈ 2,000 · n` (measured on dev-20k: a 10 % namespace ran
/// at 2.6k QPS through the graph, ~10k QPS scored row by row).
const EXACT_COST_RATIO: u64 = 2000;

/// What a query asks of every part.
#[derive(Debug)]
pub(crate) struct Plan<'a> {
    pub(crate) query: &'a [f32],
    pub(crate) k: usize,
    pub(crate) namespaces: &'a [String],
    pub(crate) filter: &'a Filter,
    pub(crate) metric: Metric,
    /// Ids never to return (expired, not yet dropped).
    pub(crate) exclude: Option<&'a RoaringTreemap>,
}

impl Plan<'_> {
    fn excluded(&self, id: u64) -> bool {
        self.exclude.is_some_and(|e| e.contains(id))
    }
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

/// Scores `rows` (row numbers into `vectors`, whose ids are `ids`) and keeps the best `k`.
fn score_rows(plan: &Plan<'_>, vectors: &[f32], ids: &[u64], rows: &[u32]) -> Vec<(u64, f32)> {
    let mut scores = vec![0.0f32; rows.len()];
    match plan.metric {
        Metric::L2 => {
            nexus_simd::l2_squared_gather(plan.query, vectors, rows, &mut scores);
            scores.iter_mut().for_each(|s| *s = -*s);
        }
        _ => nexus_simd::dot_gather(plan.query, vectors, rows, &mut scores),
    }
    let mut top = TopK::new(plan.k);
    for (&r, &s) in rows.iter().zip(&scores) {
        top.push(s, ids[r as usize]);
    }
    top.into_sorted()
}

/// The rows of `set`'s ids in the ascending `ids` (ids absent from `ids` are skipped): one
/// merge walk with galloping, not a binary search per id.
fn rows_of(ids: &[u64], set: &RoaringTreemap) -> Vec<u32> {
    let mut rows = Vec::with_capacity(set.len() as usize);
    let mut pos = 0usize;
    for id in set {
        // Gallop from `pos` to bracket `id`, then binary search inside the bracket.
        let mut step = 1;
        while pos + step < ids.len() && ids[pos + step] < id {
            step *= 2;
        }
        let end = (pos + step + 1).min(ids.len());
        pos += ids[pos..end].partition_point(|&x| x < id);
        if pos == ids.len() {
            break;
        }
        if ids[pos] == id {
            rows.push(pos as u32);
        }
    }
    rows
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
    view.load_stored_graph()?;
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
            rows_of(seg.ids(), &s)
                .into_iter()
                .filter(|&r| row_ok(r as usize))
                .map(|r| seg.ids()[r as usize])
                .collect::<RoaringTreemap>(),
        ),
        s => s,
    };
    let set = match (set, plan.exclude) {
        (Some(s), Some(e)) => Some(s - e),
        (s, _) => s,
    };
    let live = &st.postings.live;
    if let Some(s) = &set
        && (st.index.is_none() || s.len().saturating_mul(s.len()) < EXACT_COST_RATIO * live.len())
    {
        return Ok(score_rows(
            plan,
            seg.vectors(),
            seg.ids(),
            &rows_of(seg.ids(), s),
        ));
    }
    match &st.index {
        Some(index) => {
            let hits = match &set {
                Some(s) => index.search(plan.query, plan.k, Some(&SetFilter(s)))?,
                None if row_conditions || plan.exclude.is_some() => {
                    let pred = |id: u64| {
                        !plan.excluded(id) && (!row_conditions || seg.find(id).is_some_and(row_ok))
                    };
                    index.search(plan.query, plan.k, Some(&pred))?
                }
                None => index.search(plan.query, plan.k, None)?,
            };
            Ok(hits)
        }
        None => Ok(scan_all(plan, seg.vectors(), seg.ids(), |row, id| {
            live.contains(id) && !plan.excluded(id) && (!row_conditions || row_ok(row))
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
    match set {
        Some(s) => {
            let mut rows = tail.rows_of(&s);
            rows.retain(|&r| !plan.excluded(tail.ids[r as usize]) && row_ok(r as usize));
            score_rows(plan, &tail.vectors, &tail.ids, &rows)
        }
        None => {
            let conditions = plan.filter.has_row_conditions();
            scan_all(plan, &tail.vectors, &tail.ids, |row, id| {
                tail.is_current(row) && !plan.excluded(id) && (!conditions || row_ok(row))
            })
        }
    }
}

/// The best `k` of a segment view by BM25 (`index` is the view's keyword index).
pub(crate) fn keyword_view(
    view: &SegView,
    index: &TermIndex,
    bm: &Bm25,
    plan: &Plan<'_>,
) -> Vec<(u64, f32)> {
    let st = view.state.read();
    let set = allowed_set(&st.postings, plan.namespaces, plan.filter);
    let conditions = plan.filter.has_row_conditions();
    let ids = view.seg.ids();
    let allowed = |row: usize| {
        let id = ids[row];
        st.postings.live.contains(id)
            && set.as_ref().is_none_or(|s| s.contains(id))
            && !plan.excluded(id)
            && (!conditions
                || row_passes(
                    plan.filter,
                    view.event_time[row],
                    view.created_at[row],
                    || view.meta(row).ok(),
                ))
    };
    let mut top = TopK::new(plan.k);
    for (row, score) in bm.score(index, allowed) {
        top.push(score, ids[row as usize]);
    }
    top.into_sorted()
}

/// The best `k` of the tail by BM25.
pub(crate) fn keyword_tail(
    tail: &Tail,
    index: &TermIndex,
    bm: &Bm25,
    plan: &Plan<'_>,
) -> Vec<(u64, f32)> {
    let set = allowed_set(&tail.postings, plan.namespaces, plan.filter);
    let allowed = |row: usize| {
        let id = tail.ids[row];
        let m = &tail.metas[row];
        tail.is_current(row)
            && set.as_ref().is_none_or(|s| s.contains(id))
            && !plan.excluded(id)
            && row_passes(plan.filter, m.event_time, m.created_at, || Some(m.clone()))
    };
    let mut top = TopK::new(plan.k);
    for (row, score) in bm.score(index, allowed) {
        top.push(score, tail.ids[row as usize]);
    }
    top.into_sorted()
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_of_matches_a_binary_search_per_id() {
        let ids: Vec<u64> = (0..500u64).map(|i| i * 3 + (i % 3)).collect();
        for stride in [1u64, 2, 5, 97, 400] {
            let set: RoaringTreemap = (0..1600u64).step_by(stride as usize).collect();
            let want: Vec<u32> = set
                .iter()
                .filter_map(|id| ids.binary_search(&id).ok().map(|r| r as u32))
                .collect();
            assert_eq!(rows_of(&ids, &set), want, "stride {stride}");
        }
        assert!(rows_of(&[], &(0..10u64).collect()).is_empty());
    }

    #[test]
    fn top_k_keeps_the_best_with_ties_to_the_lower_id() {
        let mut top = TopK::new(3);
        for (s, id) in [(0.5, 9), (0.9, 4), (0.5, 2), (0.1, 1), (0.9, 7), (0.5, 3)] {
            top.push(s, id);
        }
        assert_eq!(top.into_sorted(), vec![(4, 0.9), (7, 0.9), (2, 0.5)]);
    }
}
