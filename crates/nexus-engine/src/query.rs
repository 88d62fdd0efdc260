//! What to recall: a query vector, `k`, namespaces and a [`Filter`].

use std::ops::{Bound, RangeBounds};

use serde_json::Value;

/// Conditions a memory must meet (all of them) to be recalled or forgotten by
/// [`Nexus::forget_where`](crate::Nexus::forget_where).
///
/// ```
/// use nexus_engine::Filter;
/// let f = Filter::new().tags_any(["todo", "idea"]).meta_eq("project", "nexus").event_time(1_000..2_000);
/// # let _ = f;
/// ```
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Filter {
    pub(crate) tags_any: Vec<String>,
    pub(crate) tags_all: Vec<String>,
    pub(crate) meta_eq: Vec<(String, Value)>,
    pub(crate) event_time: Option<(Bound<i64>, Bound<i64>)>,
    pub(crate) created_at: Option<(Bound<i64>, Bound<i64>)>,
}

fn bounds(r: impl RangeBounds<i64>) -> (Bound<i64>, Bound<i64>) {
    (r.start_bound().cloned(), r.end_bound().cloned())
}

pub(crate) fn in_range(range: &(Bound<i64>, Bound<i64>), t: i64) -> bool {
    range.contains(&t)
}

impl Filter {
    /// No conditions: every memory passes.
    pub fn new() -> Self {
        Self::default()
    }

    /// The memory carries at least one of `tags` (repeated calls add tags).
    pub fn tags_any<I, S>(mut self, tags: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.tags_any.extend(tags.into_iter().map(Into::into));
        self
    }

    /// The memory carries every one of `tags`.
    pub fn tags_all<I, S>(mut self, tags: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.tags_all.extend(tags.into_iter().map(Into::into));
        self
    }

    /// Metadata `key` equals `value` (JSON equality).
    pub fn meta_eq(mut self, key: impl Into<String>, value: impl Into<Value>) -> Self {
        self.meta_eq.push((key.into(), value.into()));
        self
    }

    /// `event_time` (ms since the epoch) lies in `range`.
    pub fn event_time(mut self, range: impl RangeBounds<i64>) -> Self {
        self.event_time = Some(bounds(range));
        self
    }

    /// `created_at` (ms since the epoch) lies in `range`.
    pub fn created_at(mut self, range: impl RangeBounds<i64>) -> Self {
        self.created_at = Some(bounds(range));
        self
    }

    /// Whether the filter has no condition.
    pub fn is_empty(&self) -> bool {
        *self == Filter::default()
    }

    /// Whether conditions need per-row values (times, metadata) beyond the tag postings.
    pub(crate) fn has_row_conditions(&self) -> bool {
        self.event_time.is_some() || self.created_at.is_some() || !self.meta_eq.is_empty()
    }
}

/// How recalled memories are ranked.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
#[non_exhaustive]
pub enum Scoring {
    /// By relevance alone: vector similarity under the store's metric, the BM25 score of a
    /// keyword query, or the fused score of a hybrid one.
    #[default]
    Relevance,
    /// Relevance mixed with recency and importance:
    ///
    /// `score = w.relevance · relevance + w.recency · 2^(−age / recency_half_life) + w.importance · importance`
    ///
    /// where `age = max(0, now − event_time)` by the store's clock, and `importance` is the
    /// memory's (0..=1). The recall fetches [`Query::candidates`] memories by relevance, rescores
    /// them and keeps the best `k`, so a memory far from the query cannot be lifted in by
    /// recency alone. Blended results are never served from the query cache (they change as
    /// time passes).
    Blend {
        /// The age at which the recency term halves.
        recency_half_life: std::time::Duration,
        /// The weights of the three terms.
        weights: BlendWeights,
    },
}

/// The weights of [`Scoring::Blend`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BlendWeights {
    /// Weight of relevance (vector similarity, BM25 or fused score).
    pub relevance: f32,
    /// Weight of recency (1 for a memory that happened now, ½ one half-life ago).
    pub recency: f32,
    /// Weight of importance.
    pub importance: f32,
}

impl Default for BlendWeights {
    /// Relevance 1.0, recency 0.2, importance 0.1.
    fn default() -> Self {
        Self {
            relevance: 1.0,
            recency: 0.2,
            importance: 0.1,
        }
    }
}

/// How a hybrid (vector + keyword) recall fuses its two rankings.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
#[non_exhaustive]
pub enum Fusion {
    /// Reciprocal-rank fusion: `score = Σ 1 / (60 + rank)` over the rankings a memory is in
    /// (rank from 1). Needs no score calibration.
    #[default]
    ReciprocalRank,
    /// A weighted sum of scores min-max normalised to 0..=1 within each side's candidates:
    /// `score = vector_weight · v̂ + (1 − vector_weight) · k̂` (a side a memory is absent from
    /// counts 0).
    Weighted {
        /// Weight of the vector side, 0..=1.
        vector_weight: f32,
    },
}

/// A recall request. Built by chaining:
///
/// ```
/// use nexus_engine::{Filter, Query};
/// let q = Query::new(vec![0.1, 0.9, 0.0]).k(5).namespace("user-42").filter(Filter::new().tags_any(["preference"]));
/// # let _ = q;
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Query {
    pub(crate) vector: Vec<f32>,
    /// Embedded by the store's embedder when `vector` is empty.
    pub(crate) text: Option<String>,
    /// Matched against memory texts (BM25).
    pub(crate) keywords: Option<String>,
    pub(crate) k: usize,
    pub(crate) namespaces: Vec<String>,
    pub(crate) filter: Filter,
    pub(crate) scoring: Scoring,
    pub(crate) fusion: Fusion,
    /// Candidates fetched per side before fusion or blending; 0: automatic.
    pub(crate) candidates: usize,
}

impl Query {
    /// The `k = 10` memories nearest to `vector`, across all namespaces.
    pub fn new(vector: Vec<f32>) -> Self {
        Self {
            vector,
            text: None,
            keywords: None,
            k: 10,
            namespaces: Vec::new(),
            filter: Filter::default(),
            scoring: Scoring::Relevance,
            fusion: Fusion::ReciprocalRank,
            candidates: 0,
        }
    }

    /// Keyword recall: the `k = 10` memories whose texts match `text` best by BM25 (k1 = 1.2,
    /// b = 0.75; words lower-cased and stemmed, common English words ignored). No vector is
    /// involved; add one with [`vector`](Self::vector) for hybrid recall.
    ///
    /// ```
    /// use nexus_engine::Query;
    /// let q = Query::text("green tea").k(3);
    /// # let _ = q;
    /// ```
    pub fn text(text: impl Into<String>) -> Self {
        Self {
            keywords: Some(text.into()),
            ..Self::new(Vec::new())
        }
    }

    /// Sets the query vector: with [`Query::text`] this makes a hybrid recall.
    pub fn vector(mut self, vector: Vec<f32>) -> Self {
        self.vector = vector;
        self
    }

    /// Adds keyword matching on `text` to a vector query: hybrid recall, fused by
    /// [`fusion`](Self::fusion) (reciprocal-rank fusion by default).
    pub fn keywords(mut self, text: impl Into<String>) -> Self {
        self.keywords = Some(text.into());
        self
    }

    /// How a hybrid recall fuses its vector and keyword rankings.
    pub fn fusion(mut self, fusion: Fusion) -> Self {
        self.fusion = fusion;
        self
    }

    /// How results are ranked (default: relevance).
    pub fn scoring(mut self, scoring: Scoring) -> Self {
        self.scoring = scoring;
        self
    }

    /// How many candidates each side fetches before fusion or blended rescoring (default:
    /// `max(4·k, 64)`; never fewer than `k`).
    pub fn candidates(mut self, n: usize) -> Self {
        self.candidates = n;
        self
    }

    /// The candidate count this query fetches per side.
    pub(crate) fn candidate_count(&self) -> usize {
        if self.candidates == 0 {
            (4 * self.k).max(64)
        } else {
            self.candidates.max(self.k)
        }
    }

    /// The `k = 10` memories nearest to `text` as the store's [`Embedder`](crate::Embedder)
    /// embeds it.
    pub fn for_text(text: impl Into<String>) -> Self {
        Self {
            text: Some(text.into()),
            ..Self::new(Vec::new())
        }
    }

    /// How many memories to return at most (default 10).
    pub fn k(mut self, k: usize) -> Self {
        self.k = k;
        self
    }

    /// Recall within `namespace` (repeat to recall within several). None: every namespace.
    pub fn namespace(mut self, namespace: impl Into<String>) -> Self {
        self.namespaces.push(namespace.into());
        self
    }

    /// Recall within these namespaces.
    pub fn namespaces<I, S>(mut self, namespaces: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.namespaces
            .extend(namespaces.into_iter().map(Into::into));
        self
    }

    /// Only memories that pass `filter`.
    pub fn filter(mut self, filter: Filter) -> Self {
        self.filter = filter;
        self
    }
}
