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
    pub(crate) k: usize,
    pub(crate) namespaces: Vec<String>,
    pub(crate) filter: Filter,
}

impl Query {
    /// The `k = 10` memories nearest to `vector`, across all namespaces.
    pub fn new(vector: Vec<f32>) -> Self {
        Self {
            vector,
            text: None,
            k: 10,
            namespaces: Vec::new(),
            filter: Filter::default(),
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
