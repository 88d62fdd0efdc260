//! How a store is opened: dimension, metric, index parameters, durability, cache, clock.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

pub use nexus_storage::Durability;

/// How vectors are compared. The store remembers its metric; scores are "larger is better".
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Metric {
    /// Cosine similarity (vectors are normalised on the way in; score in [-1, 1]). The default,
    /// right for sentence embeddings.
    #[default]
    Cosine,
    /// Inner product of the vectors as given.
    Dot,
    /// Negated squared Euclidean distance (0 is identical).
    L2,
}

impl Metric {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Metric::Cosine => "cosine",
            Metric::Dot => "dot",
            Metric::L2 => "l2",
        }
    }

    pub(crate) fn from_name(name: &str) -> Option<Self> {
        match name {
            "cosine" => Some(Metric::Cosine),
            "dot" => Some(Metric::Dot),
            "l2" => Some(Metric::L2),
            _ => None,
        }
    }

    /// The metric the index layer scores with (cosine vectors are normalised first).
    pub(crate) fn index_metric(self) -> nexus_index::Metric {
        match self {
            Metric::Cosine | Metric::Dot => nexus_index::Metric::InnerProduct,
            Metric::L2 => nexus_index::Metric::L2,
        }
    }
}

/// Where "now" comes from: the system clock by default, a [`ManualClock`] in tests.
pub trait Clock: Send + Sync + fmt::Debug + 'static {
    /// Milliseconds since the Unix epoch.
    fn now_ms(&self) -> i64;
}

/// The system's wall clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_ms(&self) -> i64 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
    }
}

/// A clock that moves only when told to (for tests). Clones share one time.
#[derive(Debug, Clone, Default)]
pub struct ManualClock(Arc<AtomicI64>);

impl ManualClock {
    /// A clock reading `start_ms`.
    pub fn new(start_ms: i64) -> Self {
        Self(Arc::new(AtomicI64::new(start_ms)))
    }

    /// Moves the clock forward by `ms`.
    pub fn advance(&self, ms: i64) {
        self.0.fetch_add(ms, Ordering::SeqCst);
    }

    /// Sets the clock to `ms`.
    pub fn set(&self, ms: i64) {
        self.0.store(ms, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now_ms(&self) -> i64 {
        self.0.load(Ordering::SeqCst)
    }
}

/// Turns texts into vectors: plug in any embedding model (the engine ships none and downloads
/// nothing). Used by [`Memory::from_text`](crate::Memory::from_text) memories and
/// [`Query::for_text`](crate::Query::for_text) queries.
///
/// ```
/// use nexus_engine::Embedder;
/// /// A toy embedder: letter counts.
/// #[derive(Debug)]
/// struct Letters;
/// impl Embedder for Letters {
///     fn dim(&self) -> usize { 26 }
///     fn embed(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>, Box<dyn std::error::Error + Send + Sync>> {
///         Ok(texts.iter().map(|t| {
///             let mut v = vec![0.0; 26];
///             for c in t.bytes().filter(u8::is_ascii_lowercase) { v[(c - b'a') as usize] += 1.0; }
///             v
///         }).collect())
///     }
/// }
/// assert_eq!(Letters.embed(&["abba"]).unwrap()[0][1], 2.0);
/// ```
pub trait Embedder: Send + Sync + fmt::Debug + 'static {
    /// The length of every vector it returns (must equal the store's dimension).
    fn dim(&self) -> usize;
    /// One vector per text, in order.
    ///
    /// # Errors
    /// Whatever the model reports; the engine passes it on as
    /// [`Error::Embedder`](crate::Error::Embedder).
    fn embed(
        &self,
        texts: &[&str],
    ) -> std::result::Result<Vec<Vec<f32>>, Box<dyn std::error::Error + Send + Sync>>;
}

/// Parameters of the per-segment HNSW graphs.
#[derive(Debug, Clone, Copy, PartialEq)]
#[non_exhaustive]
pub struct IndexOptions {
    /// Links per node (level 0 has twice as many). Default 16.
    pub m: usize,
    /// Candidate list while building. Default 200.
    pub ef_construction: usize,
    /// Candidate list while searching (at least `k`). Default 96.
    pub ef_search: usize,
    /// Segments with fewer rows than this are scanned exactly, not indexed. Default 2,048.
    pub exact_below: usize,
}

impl Default for IndexOptions {
    fn default() -> Self {
        Self {
            m: 16,
            ef_construction: 200,
            ef_search: 96,
            exact_below: 2048,
        }
    }
}

/// Options of [`Nexus::open`](crate::Nexus::open) and [`Nexus::in_memory`](crate::Nexus::in_memory),
/// by builder:
///
/// ```
/// use nexus_engine::{Durability, Metric, Options};
/// let options = Options::new().dimension(384).metric(Metric::Cosine).durability(Durability::Grouped);
/// # let _ = options;
/// ```
///
/// A store remembers its dimension, metric and index parameters: reopening needs no
/// dimension, and a contradicting one is an error.
#[derive(Debug, Clone)]
pub struct Options {
    pub(crate) dimension: Option<usize>,
    pub(crate) metric: Option<Metric>,
    pub(crate) index: IndexOptions,
    pub(crate) durability: Durability,
    pub(crate) cache_bytes: u64,
    pub(crate) dedup: bool,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) embedder: Option<Arc<dyn Embedder>>,
    pub(crate) flush_rows: usize,
    pub(crate) flush_interval: Duration,
    pub(crate) max_segments: usize,
    pub(crate) background: bool,
}

impl Default for Options {
    fn default() -> Self {
        Self::new()
    }
}

impl Options {
    /// Defaults: dimension taken from the store (required for a new one), cosine,
    /// [`IndexOptions::default`], [`Durability::Grouped`], a 32 MiB query cache, the
    /// system clock, flush every 16,384 memories or 1 s, at most 8 segments before a
    /// background compaction.
    pub fn new() -> Self {
        Self {
            dimension: None,
            metric: None,
            index: IndexOptions::default(),
            durability: Durability::Grouped,
            cache_bytes: 32 << 20,
            dedup: true,
            clock: Arc::new(SystemClock),
            embedder: None,
            flush_rows: 16_384,
            flush_interval: Duration::from_secs(1),
            max_segments: 8,
            background: true,
        }
    }

    /// The vector dimension (needed to create a store; checked against an existing one).
    pub fn dimension(mut self, dimension: usize) -> Self {
        self.dimension = Some(dimension);
        self
    }

    /// The metric (default cosine; checked against an existing store).
    pub fn metric(mut self, metric: Metric) -> Self {
        self.metric = Some(metric);
        self
    }

    /// HNSW parameters. `m` and `ef_construction` are fixed when the store is created (a
    /// reopened store keeps its own); `ef_search` and `exact_below` apply per open.
    pub fn index(mut self, index: IndexOptions) -> Self {
        self.index = index;
        self
    }

    /// When a `remember` is durable (default [`Durability::Grouped`]: on return, with one
    /// fsync shared by concurrent callers).
    pub fn durability(mut self, durability: Durability) -> Self {
        self.durability = durability;
        self
    }

    /// Bytes of recalled memories the query-result cache may hold (default 32 MiB; 0 turns it
    /// off). A result is weighed by its texts, vectors and metadata.
    pub fn cache_bytes(mut self, bytes: u64) -> Self {
        self.cache_bytes = bytes;
        self
    }

    /// Content dedup (default on): remembering a memory without a key whose namespace, text
    /// and vector equal a live memory's returns that memory's id and writes nothing, so an
    /// agent re-reading a conversation does not double it. Memories with a
    /// [`key`](crate::Memory::key) are upserts instead.
    pub fn dedup(mut self, on: bool) -> Self {
        self.dedup = on;
        self
    }

    /// The clock ("now" for `created_at`, `event_time` defaults and time filters).
    pub fn clock(mut self, clock: impl Clock) -> Self {
        self.clock = Arc::new(clock);
        self
    }

    /// The embedding model for text-only memories and queries (default none: memories and
    /// queries must carry vectors). Its dimension must be the store's (a new store without
    /// [`dimension`](Self::dimension) takes it).
    pub fn embedder(mut self, embedder: impl Embedder) -> Self {
        self.embedder = Some(Arc::new(embedder));
        self
    }

    /// Flush the in-memory tail to a segment once it holds this many memories (default 16,384).
    pub fn flush_rows(mut self, rows: usize) -> Self {
        self.flush_rows = rows.max(1);
        self
    }

    /// Flush a non-empty tail at least this often (default 1 s).
    pub fn flush_interval(mut self, interval: Duration) -> Self {
        self.flush_interval = interval;
        self
    }

    /// Compact in the background once there are more segments than this (default 8).
    pub fn max_segments(mut self, segments: usize) -> Self {
        self.max_segments = segments.max(1);
        self
    }

    /// Whether a background thread flushes, indexes and compacts (default `true`). Without it
    /// call [`Nexus::flush`](crate::Nexus::flush) and [`Nexus::compact`](crate::Nexus::compact)
    /// yourself; flushed segments are then indexed on the calling thread.
    pub fn background(mut self, yes: bool) -> Self {
        self.background = yes;
        self
    }
}
