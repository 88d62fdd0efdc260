//! `Nexus`: open / remember / recall / get / forget over the storage layer, with the
//! in-memory tail, the segment views and the background worker.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use nexus_cache::Cache;
use nexus_storage::{Backend, Batch, MemFs, RealFs, Segment, Store};
use parking_lot::{Condvar, Mutex, RwLock};
use roaring::RoaringTreemap;

use crate::config::Config;
use crate::error::{Error, Result};
use crate::identity::Identity;
use crate::keyword::{Bm25, TERMS_ROLE, TermIndex};
use crate::memory::{Memory, NEVER, Recalled, StoredMeta};
use crate::options::{Durability, Metric, Options};
use crate::part::{HNSW_ROLE, ROWS_ROLE, RowsFile, SegView, StoredGraph, Tail, Terms};
use crate::patch::Patch;
use crate::query::{Filter, Fusion, Query, Scoring};
use crate::search::{
    Plan, allowed_set, keyword_tail, keyword_view, row_passes, search_tail, search_view,
};

/// Memories per storage commit in `remember_batch` (the storage layer caps one record at 1 GiB).
const BATCH_CHUNK: usize = 8192;
/// A tail this many times `flush_rows` is flushed by the writer itself (backpressure when the
/// background worker falls behind).
const BACKPRESSURE: usize = 4;
/// Compact once this fraction of the segments' rows is dead (forgotten or superseded).
const DEAD_FRACTION: f64 = 0.3;

/// One consistent generation of the searchable parts, kept for a whole query.
#[derive(Debug)]
struct Snapshot {
    /// Segment views, oldest first.
    views: Vec<Arc<SegView>>,
    /// Memories not yet flushed.
    tail: Arc<RwLock<Tail>>,
}

/// State changed only under the write lock (which orders remembers, forgets and flushes).
#[derive(Debug)]
struct Writer {
    next_id: u64,
    /// Deletes committed since the last flush (a flush is due even with an empty tail).
    pending_deletes: usize,
    last_flush: std::time::Instant,
    /// Keys and content hashes of the live memories, built by the first write that needs it.
    identity: Option<Identity>,
}

/// A cached recall: the query, its result, and when the result's first memory expires.
type CachedRecall = Arc<(Query, Vec<Recalled>, i64)>;

/// Where a live id is held: a tail row, or a row of a segment view.
enum At {
    Tail(usize),
    View(Arc<SegView>, usize),
}

/// A write after dedup: id, vector, metadata, content hash.
type Write = (u64, Vec<f32>, StoredMeta, u64);

struct Inner {
    dir: PathBuf,
    backend: Arc<dyn Backend>,
    /// The backend is the real file system (disk usage comes from file metadata).
    real_fs: bool,
    read_only: bool,
    store: Store,
    config: Mutex<Config>,
    options: Options,
    metric: Metric,
    dim: usize,
    snapshot: RwLock<Arc<Snapshot>>,
    writer: Mutex<Writer>,
    /// A merged segment whose graph is being built: forgets apply to it too.
    compacting: Mutex<Option<Arc<SegView>>>,
    /// One compaction, and one graph build, at a time.
    compaction: Mutex<()>,
    indexing: Mutex<()>,
    /// Bumped by every change a recall could see: part of the cache key, so a cached result
    /// is never served after a change.
    epoch: AtomicU64,
    /// (expires_at, id) of every live memory that expires.
    expiry: Mutex<BTreeSet<(i64, u64)>>,
    /// The earliest `expires_at` in `expiry` (`NEVER` when empty): a recall before it skips
    /// the lock.
    next_expiry: std::sync::atomic::AtomicI64,
    cache: Option<Cache<u64, CachedRecall>>,
    stop: Mutex<bool>,
    wake: Condvar,
    background_error: Mutex<Option<String>>,
}

/// An embedded long-term memory: remember memories, recall the most relevant ones.
///
/// `Nexus` is `Send + Sync`: share it (`Arc<Nexus>`) between threads; recalls run while
/// others remember, forget, flush or compact. See the [crate docs](crate) for an example.
///
/// Dropping it stops the background worker (waiting for a flush, graph build or compaction in
/// progress to finish) and releases the store's lock; it does not flush: what is not in a
/// segment is in the WAL and comes back on the next open.
pub struct Nexus {
    inner: Arc<Inner>,
    worker: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for Nexus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Nexus")
            .field("dir", &self.inner.dir)
            .field("dimension", &self.inner.dim)
            .field("metric", &self.inner.metric)
            .field("read_only", &self.inner.read_only)
            .finish_non_exhaustive()
    }
}

/// Counts and sizes reported by [`Nexus::stats`].
#[derive(Debug, Clone, Default, PartialEq)]
#[non_exhaustive]
pub struct Stats {
    /// Live memories.
    pub memories: u64,
    /// Live memories per namespace.
    pub namespaces: BTreeMap<String, u64>,
    /// Immutable segments.
    pub segments: usize,
    /// Segments searched through an HNSW graph (loaded, or stored and loaded on first use);
    /// the others are scanned exactly.
    pub indexed_segments: usize,
    /// Memories in the in-memory tail (not yet flushed to a segment).
    pub tail_memories: u64,
    /// Heap bytes of the engine's structures (graphs, postings, columns, tail); mapped
    /// vectors are not counted.
    pub resident_bytes: u64,
    /// Bytes the store's files occupy on disk (allocated blocks).
    pub disk_bytes: u64,
    /// Query-cache hits.
    pub cache_hits: u64,
    /// Query-cache misses.
    pub cache_misses: u64,
    /// The last error of the background worker, if any.
    pub background_error: Option<String>,
}

impl Stats {
    /// Query-cache hit rate (0 before the first lookup).
    pub fn cache_hit_rate(&self) -> f64 {
        let n = self.cache_hits + self.cache_misses;
        if n == 0 {
            0.0
        } else {
            self.cache_hits as f64 / n as f64
        }
    }
}

/// What [`Nexus::verify`] checked.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct VerifyReport {
    /// Segments whose every checksum and structure checked out.
    pub segments: usize,
    /// Attachments (postings, graphs) whose checksum checked out.
    pub attachments: usize,
    /// WAL batches re-read.
    pub wal_batches: usize,
    /// Live memories, each found in exactly one part.
    pub memories: u64,
}

fn to_io(path: &Path, source: std::io::Error) -> Error {
    Error::Io {
        path: path.to_path_buf(),
        source,
    }
}

impl Nexus {
    /// Opens the store in `dir`, creating it (with [`Options::dimension`]) if it does not
    /// exist, and recovering from a crash if it was not closed cleanly.
    ///
    /// # Errors
    /// [`Error::MissingDimension`] for a new store without a dimension,
    /// [`Error::OptionMismatch`] if the options contradict the store's, [`Error::Locked`] if
    /// another writer has it open, [`Error::Corrupt`] / [`Error::NewerFormat`] naming the file.
    pub fn open(dir: impl AsRef<Path>, options: Options) -> Result<Nexus> {
        Self::open_impl(Arc::new(RealFs), dir.as_ref(), options, false, true)
    }

    /// Opens an existing store for reading only: a shared lock (many readers, no writer),
    /// no recovery writes, no background work. Writes return [`Error::ReadOnly`].
    ///
    /// # Errors
    /// [`Error::NotFound`] if `dir` holds no store, [`Error::Locked`] while a writer has it.
    pub fn open_read_only(dir: impl AsRef<Path>) -> Result<Nexus> {
        let options = Options::new().background(false);
        Self::open_impl(Arc::new(RealFs), dir.as_ref(), options, true, true)
    }

    /// A store that lives in memory only (gone when dropped); same behaviour otherwise.
    ///
    /// # Errors
    /// [`Error::MissingDimension`] without [`Options::dimension`].
    pub fn in_memory(options: Options) -> Result<Nexus> {
        Self::open_impl(
            Arc::new(MemFs::new()),
            Path::new("/nexus"),
            options,
            false,
            false,
        )
    }

    /// Opens through a storage [`Backend`] of your choice (e.g. [`MemFs`] with its power-loss
    /// simulator, for tests).
    ///
    /// # Errors
    /// As [`open`](Self::open) (and [`open_read_only`](Self::open_read_only) if `read_only`).
    pub fn open_on(
        backend: Arc<dyn Backend>,
        dir: impl AsRef<Path>,
        options: Options,
        read_only: bool,
    ) -> Result<Nexus> {
        Self::open_impl(backend, dir.as_ref(), options, read_only, false)
    }

    /// `real_fs`: the backend is the real file system (disk usage is read from it).
    fn open_impl(
        backend: Arc<dyn Backend>,
        dir: &Path,
        options: Options,
        read_only: bool,
        real_fs: bool,
    ) -> Result<Nexus> {
        let dir = dir.to_path_buf();
        let _span = tracing::info_span!("nexus.open", dir = %dir.display(), read_only).entered();
        let config = Self::open_config(&backend, &dir, &options, read_only)?;
        if let Some(e) = options
            .embedder
            .as_ref()
            .filter(|e| e.dim() != config.dimension)
        {
            return Err(Error::OptionMismatch {
                path: dir,
                name: "embedder dimension",
                found: config.dimension.to_string(),
                asked: e.dim().to_string(),
            });
        }
        // The graph shape is the store's own (it was chosen when the store was created);
        // `ef_search` and `exact_below` stay per open.
        let mut options = options;
        options.index.m = config.m;
        options.index.ef_construction = config.ef_construction;
        let store = Store::open_with(
            Arc::clone(&backend),
            &dir,
            nexus_storage::Options::new(config.dimension).read_only(read_only),
        )?;
        let (views, tail) = load_parts(&store, &dir, &options, read_only)?;
        let max_id = views
            .iter()
            .filter_map(|v| v.seg.ids().last().copied())
            .chain(tail.ids.iter().copied())
            .max();
        let next_id = max_id.map_or(1, |m| m + 1).max(config.id_floor).max(1);
        let expiry = expiry_of(&views, &tail);
        let cache = (options.cache_bytes > 0)
            .then(|| {
                Cache::builder(options.cache_bytes)
                    .weigher(|_k: &u64, v: &CachedRecall| recall_weight(&v.1))
                    .build()
            })
            .transpose()
            .map_err(|e| Error::invalid("cache_bytes", e.to_string()))?;
        let inner = Arc::new(Inner {
            dir,
            backend,
            real_fs,
            read_only,
            store,
            metric: config.metric,
            dim: config.dimension,
            config: Mutex::new(config),
            snapshot: RwLock::new(Arc::new(Snapshot {
                views,
                tail: Arc::new(RwLock::new(tail)),
            })),
            writer: Mutex::new(Writer {
                next_id,
                pending_deletes: 0,
                last_flush: std::time::Instant::now(),
                identity: None,
            }),
            compacting: Mutex::new(None),
            compaction: Mutex::new(()),
            indexing: Mutex::new(()),
            epoch: AtomicU64::new(0),
            next_expiry: std::sync::atomic::AtomicI64::new(expiry.first().map_or(NEVER, |e| e.0)),
            expiry: Mutex::new(expiry),
            cache,
            stop: Mutex::new(false),
            wake: Condvar::new(),
            background_error: Mutex::new(None),
            options,
        });
        let worker = if !read_only && inner.options.background {
            let w = Arc::clone(&inner);
            Some(
                std::thread::Builder::new()
                    .name("nexus-worker".into())
                    .spawn(move || w.run_worker())
                    .map_err(|e| to_io(&inner.dir, e))?,
            )
        } else {
            None
        };
        Ok(Nexus { inner, worker })
    }

    fn open_config(
        backend: &Arc<dyn Backend>,
        dir: &Path,
        options: &Options,
        read_only: bool,
    ) -> Result<Config> {
        if let Some(c) = Config::read(backend, dir)? {
            if let Some(d) = options.dimension.filter(|&d| d != c.dimension) {
                return Err(Error::OptionMismatch {
                    path: dir.into(),
                    name: "dimension",
                    found: c.dimension.to_string(),
                    asked: d.to_string(),
                });
            }
            if let Some(m) = options.metric.filter(|&m| m != c.metric) {
                return Err(Error::OptionMismatch {
                    path: dir.into(),
                    name: "metric",
                    found: c.metric.name().into(),
                    asked: m.name().into(),
                });
            }
            return Ok(c);
        }
        if read_only {
            return Err(Error::NotFound { path: dir.into() });
        }
        let manifest = dir.join("MANIFEST");
        if backend.exists(&manifest).map_err(|e| to_io(&manifest, e))? {
            return Err(Error::corrupt(
                dir.join(crate::config::FILE),
                "missing, but the directory holds a store",
            ));
        }
        let dimension = options
            .dimension
            .or_else(|| options.embedder.as_ref().map(|e| e.dim()))
            .ok_or_else(|| Error::MissingDimension { path: dir.into() })?;
        if dimension == 0 || u32::try_from(dimension).is_err() {
            return Err(Error::invalid("dimension", "must be in 1..=u32::MAX"));
        }
        if !(2..=128).contains(&options.index.m) || options.index.ef_construction == 0 {
            return Err(Error::invalid(
                "index",
                "m must be in 2..=128 and ef_construction at least 1",
            ));
        }
        backend.create_dir_all(dir).map_err(|e| to_io(dir, e))?;
        if let Some(parent) = dir.parent().filter(|p| !p.as_os_str().is_empty()) {
            backend.sync_dir(parent).map_err(|e| to_io(parent, e))?;
        }
        let c = Config::new(
            dimension,
            options.metric.unwrap_or_default(),
            &options.index,
        );
        c.write(backend, dir)?;
        Ok(c)
    }

    /// The vector dimension.
    pub fn dimension(&self) -> usize {
        self.inner.dim
    }

    /// The metric.
    pub fn metric(&self) -> Metric {
        self.inner.metric
    }

    /// The store's directory.
    pub fn dir(&self) -> &Path {
        &self.inner.dir
    }

    /// Remembers one memory; returns its id: a new one (engine-assigned, never reused), or
    /// the existing memory's when its [`key`](Memory::key) is live in its namespace (the
    /// memory is replaced: an upsert) or, with [`Options::dedup`] on (the default), when a
    /// live memory has the same namespace, text and vector (nothing is written). Durable on
    /// return under [`Durability::Grouped`] (the default) or `Always`.
    ///
    /// # Errors
    /// [`Error::DimensionMismatch`], [`Error::NonFinite`], [`Error::ZeroVector`] (cosine),
    /// [`Error::EmptyText`], [`Error::InvalidArgument`] (importance outside 0..=1, an empty
    /// namespace or tag), [`Error::ReadOnly`], storage errors.
    pub fn remember(&self, memory: Memory) -> Result<u64> {
        let ids = self.remember_batch([memory])?;
        Ok(ids[0])
    }

    /// Remembers many memories with one fsync; returns their ids in order. Every memory is
    /// validated before anything is written; batches of up to 8,192 memories are atomic.
    ///
    /// # Errors
    /// As [`remember`](Self::remember), for the first bad memory.
    pub fn remember_batch(&self, memories: impl IntoIterator<Item = Memory>) -> Result<Vec<u64>> {
        let inner = &*self.inner;
        let _span = tracing::debug_span!("nexus.remember").entered();
        if inner.read_only {
            return Err(Error::ReadOnly);
        }
        let started = std::time::Instant::now();
        let now = inner.options.clock.now_ms();
        let mut memories: Vec<Memory> = memories.into_iter().collect();
        inner.embed_missing(&mut memories)?;
        let mut prepared = Vec::new();
        for m in memories {
            m.check_fields()?;
            let v = inner.prepare_vector(&m.vector)?;
            prepared.push((v, StoredMeta::from_memory(&m, now)));
        }
        let mut ids = Vec::with_capacity(prepared.len());
        while !prepared.is_empty() {
            let rest = prepared.split_off(prepared.len().min(BATCH_CHUNK));
            ids.extend(inner.commit_memories(prepared)?);
            prepared = rest;
        }
        metrics::counter!("nexus_remembered_total").increment(ids.len() as u64);
        metrics::histogram!("nexus_remember_seconds").record(started.elapsed().as_secs_f64());
        if inner.options.durability == Durability::Grouped && !ids.is_empty() {
            inner.store.sync()?;
        }
        inner.after_write();
        Ok(ids)
    }

    /// Remembers `text` in the default namespace, embedded by the store's
    /// [`Embedder`](crate::Embedder) (shorthand for `remember(Memory::from_text(text))`).
    ///
    /// # Errors
    /// [`Error::Embedder`] without an embedder or when it fails, and those of
    /// [`remember`](Self::remember).
    pub fn remember_text(&self, text: impl Into<String>) -> Result<u64> {
        self.remember(Memory::from_text(text))
    }

    /// The `k` memories nearest to `text` as the store's embedder embeds it (shorthand for
    /// `recall(&Query::for_text(text).k(k))`).
    ///
    /// # Errors
    /// [`Error::Embedder`], and those of [`recall`](Self::recall).
    pub fn recall_text(&self, text: impl Into<String>, k: usize) -> Result<Vec<Recalled>> {
        self.recall(&Query::for_text(text).k(k))
    }

    /// The (up to) `k` memories most similar to the query that pass its namespaces and
    /// filter, best first. A filter that matches `k` or more memories returns `k`.
    ///
    /// # Errors
    /// [`Error::ZeroK`], and the vector errors of [`remember`](Self::remember).
    pub fn recall(&self, query: &Query) -> Result<Vec<Recalled>> {
        self.inner.recall(query)
    }

    /// The memory `id`, if it is live.
    ///
    /// # Errors
    /// [`Error::Corrupt`] if its record cannot be read.
    pub fn get(&self, id: u64) -> Result<Option<Memory>> {
        let now = self.inner.options.clock.now_ms();
        let snap = self.inner.snapshot();
        {
            let t = snap.tail.read();
            if let Some(row) = t.live_row(id) {
                if t.metas[row].expired(now) {
                    return Ok(None);
                }
                return Ok(Some(tail_memory(&t, row)));
            }
        }
        for v in snap.views.iter().rev() {
            if let Some(row) = v.live_row(id) {
                if v.expires_at[row] <= now {
                    return Ok(None);
                }
                return Ok(Some(view_memory(v, row)?));
            }
        }
        Ok(None)
    }

    /// Changes memory `id`'s tags, metadata, importance, event time or expiry as `patch`
    /// says, keeping its text, vector and id (nothing is re-embedded).
    ///
    /// ```
    /// use nexus_engine::{Memory, Nexus, Options, Patch};
    /// # fn main() -> Result<(), nexus_engine::Error> {
    /// let nexus = Nexus::in_memory(Options::new().dimension(2))?;
    /// let id = nexus.remember(Memory::new("buy milk", vec![1.0, 0.0]).tag("todo"))?;
    /// nexus.update(id, &Patch::new().remove_tag("todo").add_tag("done").importance(0.1))?;
    /// let m = nexus.get(id)?.unwrap();
    /// assert_eq!(m.tag_list(), ["done"]);
    /// assert_eq!(m.text(), "buy milk");
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// # Errors
    /// [`Error::UnknownId`] if no live memory has this id (or it has expired),
    /// [`Error::InvalidArgument`] for a bad importance or tag, [`Error::ReadOnly`], storage
    /// errors.
    pub fn update(&self, id: u64, patch: &Patch) -> Result<()> {
        let inner = &*self.inner;
        if inner.read_only {
            return Err(Error::ReadOnly);
        }
        let now = inner.options.clock.now_ms();
        let mut w = inner.writer.lock();
        let snap = inner.snapshot();
        let compacting = inner.compacting.lock().clone();
        let at = locate(&snap, compacting.as_ref(), id);
        let Some(first) = at.first() else {
            return Err(Error::UnknownId { id });
        };
        let (meta, hash) = held(&snap, first)?;
        let vector = held_vector(&snap, first);
        if meta.expired(now) {
            return Err(Error::UnknownId { id });
        }
        let new = patch.apply(&meta, now)?;
        let mut batch = Batch::new();
        batch.put(id, &vector, &[], &new.encode());
        inner.store.commit(batch, inner.durability())?;
        inner.drop_held(&mut w, &snap, id, &at, &meta, hash);
        inner.install(&mut w, &snap, vec![(id, vector, new, hash)]);
        drop(w);
        if inner.options.durability == Durability::Grouped {
            inner.store.sync()?;
        }
        inner.after_write();
        Ok(())
    }

    /// Forgets memory `id`: no recall or get returns it once this returns; its bytes leave
    /// the files at the next compaction.
    ///
    /// # Errors
    /// [`Error::UnknownId`] if no live memory has this id, [`Error::ReadOnly`], storage errors.
    pub fn forget(&self, id: u64) -> Result<()> {
        let n = self.inner.forget_ids(|_| Ok(vec![id]), true)?;
        debug_assert_eq!(n, 1);
        Ok(())
    }

    /// Forgets every memory of `namespace` that passes `filter`; returns how many.
    ///
    /// # Errors
    /// [`Error::ReadOnly`], storage errors.
    pub fn forget_where(&self, namespace: &str, filter: &Filter) -> Result<u64> {
        let namespaces = [namespace.to_owned()];
        self.inner.forget_ids(
            |snap| {
                let mut ids = Vec::new();
                let t = snap.tail.read();
                if let Some(set) = allowed_set(&t.postings, &namespaces, filter) {
                    for id in set {
                        let row = t.row_of[&id];
                        let m = &t.metas[row];
                        if row_passes(filter, m.event_time, m.created_at, || Some(m.clone())) {
                            ids.push(id);
                        }
                    }
                }
                drop(t);
                for v in &snap.views {
                    let set = allowed_set(&v.state.read().postings, &namespaces, filter);
                    for id in set.into_iter().flatten() {
                        let Some(row) = v.seg.find(id) else { continue };
                        if row_passes(filter, v.event_time[row], v.created_at[row], || {
                            v.meta(row).ok()
                        }) {
                            ids.push(id);
                        }
                    }
                }
                Ok(ids)
            },
            false,
        )
    }

    /// Calls `f` with every live memory: segments oldest first, then the unflushed tail,
    /// each by ascending id.
    pub(crate) fn for_each_memory(
        &self,
        mut f: impl FnMut(u64, Memory) -> Result<()>,
    ) -> Result<()> {
        let now = self.inner.options.clock.now_ms();
        let snap = self.inner.snapshot();
        for v in &snap.views {
            let live = v.state.read().postings.live.clone();
            for id in live {
                let row = v.seg.find(id).expect("live ids are the segment's");
                if v.expires_at[row] > now {
                    f(id, view_memory(v, row)?)?;
                }
            }
        }
        let t = snap.tail.read();
        for id in t.postings.live.iter() {
            let row = t.row_of[&id];
            if !t.metas[row].expired(now) {
                f(id, tail_memory(&t, row))?;
            }
        }
        Ok(())
    }

    /// Live memories.
    pub fn len(&self) -> u64 {
        let snap = self.inner.snapshot();
        let tail = snap.tail.read().postings.live.len();
        let held = tail
            + snap
                .views
                .iter()
                .map(|v| v.state.read().postings.live.len())
                .sum::<u64>();
        held.saturating_sub(self.inner.expired_count())
    }

    /// Whether no memory is live.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Counts and sizes.
    pub fn stats(&self) -> Stats {
        let inner = &*self.inner;
        let snap = inner.snapshot();
        let mut s = Stats {
            segments: snap.views.len(),
            ..Stats::default()
        };
        let mut add = |postings: &crate::part::Postings| {
            s.memories += postings.live.len();
            for (ns, set) in &postings.by_namespace {
                *s.namespaces.entry(ns.clone()).or_default() += set.len();
            }
        };
        {
            let t = snap.tail.read();
            add(&t.postings);
            s.tail_memories = t.postings.live.len();
            s.resident_bytes += t.heap_bytes() as u64;
        }
        for v in &snap.views {
            add(&v.state.read().postings);
            s.resident_bytes += v.heap_bytes() as u64;
            let st = v.state.read();
            if st.index.is_some() || st.stored_graph.is_some() {
                s.indexed_segments += 1;
            }
        }
        s.memories = s.memories.saturating_sub(inner.expired_count());
        if let Some(ident) = &inner.writer.lock().identity {
            s.resident_bytes += ident.heap_bytes() as u64;
        }
        s.disk_bytes = inner.disk_bytes();
        if let Some(c) = &inner.cache {
            let cs = c.stats();
            s.cache_hits = cs.hits;
            s.cache_misses = cs.misses;
        }
        s.background_error = inner.background_error.lock().clone();
        s
    }

    /// Writes the in-memory tail to a segment (making every earlier remember durable), and
    /// builds the graphs of segments that need one.
    ///
    /// # Errors
    /// [`Error::ReadOnly`], storage and index errors.
    pub fn flush(&self) -> Result<()> {
        if self.inner.read_only {
            return Err(Error::ReadOnly);
        }
        self.inner.flush_tail()?;
        self.inner.index_segments()
    }

    /// Flushes, then merges every segment into one, dropping forgotten memories (their bytes
    /// leave the files) and rebuilding the merged segment's graph. Recalls keep running on
    /// the old segments meanwhile.
    ///
    /// # Errors
    /// [`Error::ReadOnly`], storage and index errors.
    pub fn compact(&self) -> Result<()> {
        if self.inner.read_only {
            return Err(Error::ReadOnly);
        }
        self.inner.expire_due()?;
        self.inner.flush_tail()?;
        self.inner.compact(usize::MAX)
    }

    /// Writes a consistent copy of the store to `dir` (which must not exist, or be empty)
    /// while the store stays open: segments and attachments are immutable and hard-linked
    /// (copied where a link is impossible); the WAL, manifest and settings are copied. It runs
    /// under the write lock, so writers wait only while files are linked and the WAL copied;
    /// recalls never wait. The copy opens as an equal store (same ids); returns the files
    /// written.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] if `dir` holds files, [`Error::Io`].
    pub fn backup_to(&self, dir: impl AsRef<Path>) -> Result<usize> {
        let inner = &*self.inner;
        let target = dir.as_ref();
        let _span = tracing::info_span!("nexus.backup", to = %target.display()).entered();
        let backend = &inner.backend;
        if backend.exists(target).map_err(|e| to_io(target, e))?
            && !backend
                .list(target)
                .map_err(|e| to_io(target, e))?
                .is_empty()
        {
            return Err(Error::invalid(
                "backup directory",
                format!("{} is not empty", target.display()),
            ));
        }
        backend
            .create_dir_all(target)
            .map_err(|e| to_io(target, e))?;
        // No graph attachment, flush, compaction or commit changes the files meanwhile.
        let _indexing = inner.indexing.lock();
        let _writer = inner.writer.lock();
        let names = backend.list(&inner.dir).map_err(|e| to_io(&inner.dir, e))?;
        let mut written = 0;
        for name in names {
            if name == "LOCK" || name.ends_with(".tmp") {
                continue;
            }
            let (from, to) = (inner.dir.join(&name), target.join(&name));
            let immutable = name.ends_with(".seg") || name.ends_with(".bin");
            if inner.real_fs && immutable && std::fs::hard_link(&from, &to).is_ok() {
                written += 1;
                continue;
            }
            let bytes = match backend.read(&from) {
                Ok(b) => b,
                // An obsolete segment deleted as its last reader let go: not part of the store.
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => return Err(to_io(&from, e)),
            };
            let f = backend.create(&to).map_err(|e| to_io(&to, e))?;
            f.write_all(&bytes).map_err(|e| to_io(&to, e))?;
            f.sync().map_err(|e| to_io(&to, e))?;
            written += 1;
        }
        backend.sync_dir(target).map_err(|e| to_io(target, e))?;
        Ok(written)
    }

    /// Checks every checksum of the store (segments, attachments, WAL, manifest) and that
    /// every part agrees with its graph; returns what was checked or the first problem.
    ///
    /// # Errors
    /// [`Error::Corrupt`] naming the file.
    pub fn verify(&self) -> Result<VerifyReport> {
        let inner = &*self.inner;
        let r = inner.store.verify()?;
        let snap = inner.snapshot();
        let mut memories = snap.tail.read().postings.live.len();
        for v in &snap.views {
            v.load_stored_graph()?;
            let st = v.state.read();
            memories += st.postings.live.len();
            if let Some(index) = &st.index
                && nexus_index::Index::len(&**index) as u64 != st.postings.live.len()
            {
                return Err(Error::corrupt(
                    inner.dir.join(format!("segment {}", v.id())),
                    format!(
                        "graph holds {} memories, the segment {}",
                        nexus_index::Index::len(&**index),
                        st.postings.live.len()
                    ),
                ));
            }
        }
        Ok(VerifyReport {
            segments: r.segments,
            attachments: r.attachments,
            wal_batches: r.wal_batches,
            memories,
        })
    }
}

impl Drop for Nexus {
    fn drop(&mut self) {
        *self.inner.stop.lock() = true;
        self.inner.wake.notify_all();
        if let Some(w) = self.worker.take() {
            let _ = w.join();
        }
    }
}

fn tail_memory(t: &Tail, row: usize) -> Memory {
    t.metas[row].clone().into_memory(t.vector(row).to_vec())
}

/// Every place the current snapshot (and a segment being compacted) holds live `id`.
fn locate(snap: &Snapshot, compacting: Option<&Arc<SegView>>, id: u64) -> Vec<At> {
    let mut at = Vec::new();
    if let Some(row) = snap.tail.read().live_row(id) {
        at.push(At::Tail(row));
    }
    for v in snap.views.iter().chain(compacting) {
        if let Some(row) = v.live_row(id) {
            at.push(At::View(Arc::clone(v), row));
        }
    }
    at
}

/// The metadata and content hash held at `at`.
fn held(snap: &Snapshot, at: &At) -> Result<(StoredMeta, u64)> {
    Ok(match at {
        At::Tail(row) => {
            let t = snap.tail.read();
            (t.metas[*row].clone(), t.content_hash[*row])
        }
        At::View(v, row) => (v.meta(*row)?, v.content_hash[*row]),
    })
}

/// The vector held at `at` (only update and dedup need it: forgets and replacements don't).
fn held_vector(snap: &Snapshot, at: &At) -> Vec<f32> {
    match at {
        At::Tail(row) => snap.tail.read().vector(*row).to_vec(),
        At::View(v, row) => v.seg.vector(*row).to_vec(),
    }
}

/// (expires_at, id) of every live memory of the parts that expires.
fn expiry_of(views: &[Arc<SegView>], tail: &Tail) -> BTreeSet<(i64, u64)> {
    let mut set = BTreeSet::new();
    for v in views {
        let st = v.state.read();
        for (row, &id) in v.seg.ids().iter().enumerate() {
            if v.expires_at[row] != NEVER && st.postings.live.contains(id) {
                set.insert((v.expires_at[row], id));
            }
        }
    }
    for id in tail.postings.live.iter() {
        let m = &tail.metas[tail.row_of[&id]];
        if m.expires_at != NEVER {
            set.insert((m.expires_at, id));
        }
    }
    set
}

fn view_memory(v: &SegView, row: usize) -> Result<Memory> {
    Ok(v.meta(row)?.into_memory(v.seg.vector(row).to_vec()))
}

/// Maps every segment with its postings and graph, and rebuilds the tail of a read-only open
/// from the replayed WAL. Liveness: a row is live unless a newer part holds its id.
fn load_parts(
    store: &Store,
    dir: &Path,
    options: &Options,
    read_only: bool,
) -> Result<(Vec<Arc<SegView>>, Tail)> {
    let mut superseded = RoaringTreemap::new();
    let mut tail = Tail::default();
    for (id, rec) in store.pending() {
        superseded.insert(id);
        if let Some(r) = rec {
            let meta = StoredMeta::decode(&r.meta)
                .map_err(|e| Error::corrupt(dir.join("wal"), format!("memory record: {e}")))?;
            let hash = meta.content_hash(&r.vector);
            tail.push(id, &r.vector, meta, hash);
        }
    }
    let segments = store.segments();
    let mut views = Vec::with_capacity(segments.len());
    for (i, seg) in segments.iter().enumerate().rev() {
        let live = RoaringTreemap::from_sorted_iter(
            seg.ids()
                .iter()
                .enumerate()
                .filter(|&(row, id)| seg.is_live(row) && !superseded.contains(*id))
                .map(|(_, &id)| id),
        )
        .map_err(|_| Error::corrupt(dir.join(format!("segment {}", seg.id())), "ids not sorted"))?;
        if i > 0 {
            superseded.extend(seg.ids().iter().copied());
        }
        views.push(Arc::new(load_view(
            store, dir, seg, live, options, read_only,
        )?));
    }
    views.reverse();
    Ok((views, tail))
}

fn load_view(
    store: &Store,
    dir: &Path,
    seg: &Arc<Segment>,
    live: RoaringTreemap,
    options: &Options,
    read_only: bool,
) -> Result<SegView> {
    let what = dir.join(format!("segment {} rows attachment", seg.id()));
    let stored = match store.attachment(seg.id(), ROWS_ROLE) {
        Some(a) => RowsFile::decode(a.as_bytes(), seg, &what)?,
        None => None,
    };
    let rows = match stored {
        Some(rows) => rows,
        None => {
            // Flushed (or compacted) but the engine's attachment never landed: rebuild it.
            let rows = RowsFile::build(seg, |row| {
                StoredMeta::decode(seg.meta(row)?).map_err(|e| Error::corrupt(&what, e))
            })?;
            if !read_only {
                store.attach(seg.id(), ROWS_ROLE, &rows.encode())?;
            }
            rows
        }
    };
    let view = SegView::new(Arc::clone(seg), rows, &live);
    *view.terms.write() = Terms::Stored(store.attachment(seg.id(), TERMS_ROLE));
    if let Some(bytes) = store.attachment(seg.id(), HNSW_ROLE) {
        // Mapped now, loaded on the segment's first search: open stays a map.
        view.defer_graph(StoredGraph {
            bytes,
            what: dir.join(format!("segment {} graph attachment", seg.id())),
            ef_search: options.index.ef_search,
        });
    }
    Ok(view)
}

impl Inner {
    fn snapshot(&self) -> Arc<Snapshot> {
        Arc::clone(&self.snapshot.read())
    }

    fn publish(&self, snap: Snapshot) {
        *self.snapshot.write() = Arc::new(snap);
        self.epoch.fetch_add(1, Ordering::SeqCst);
    }

    fn prepare_vector(&self, v: &[f32]) -> Result<Vec<f32>> {
        if v.len() != self.dim {
            return Err(Error::DimensionMismatch {
                expected: self.dim,
                got: v.len(),
            });
        }
        // One vectorized pass for the common case; the scans below only name the value at fault.
        let in_range = nexus_simd::within_max_abs(v);
        if !in_range
            && let Some((index, &value)) = v.iter().enumerate().find(|(_, x)| !x.is_finite())
        {
            return Err(Error::NonFinite { index, value });
        }
        let mut out = v.to_vec();
        match self.metric {
            Metric::Cosine => {
                nexus_simd::normalize(&mut out).map_err(|_| Error::ZeroVector)?;
            }
            Metric::Dot | Metric::L2 => {
                // Bounded so no score can overflow to ±∞.
                let max = nexus_quant::MAX_ABS;
                if !in_range
                    && let Some((index, &value)) = v.iter().enumerate().find(|(_, x)| x.abs() > max)
                {
                    return Err(Error::invalid(
                        "vector",
                        format!("value {index} is {value}, above the limit {max:e}"),
                    ));
                }
            }
        }
        Ok(out)
    }

    /// Vectors for `texts` from the embedder, checked for count and length.
    fn embed(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>> {
        let Some(embedder) = &self.options.embedder else {
            return Err(Error::Embedder {
                reason: "a text without a vector needs Options::embedder".into(),
            });
        };
        let vectors = embedder.embed(texts).map_err(|e| Error::Embedder {
            reason: e.to_string(),
        })?;
        if vectors.len() != texts.len() {
            return Err(Error::Embedder {
                reason: format!("{} vectors for {} texts", vectors.len(), texts.len()),
            });
        }
        Ok(vectors)
    }

    /// Fills the vector of every memory that has none, in one embedder call.
    fn embed_missing(&self, memories: &mut [Memory]) -> Result<()> {
        let missing: Vec<usize> = (0..memories.len())
            .filter(|&i| memories[i].vector.is_empty())
            .collect();
        if missing.is_empty() {
            return Ok(());
        }
        let texts: Vec<&str> = missing.iter().map(|&i| memories[i].text.as_str()).collect();
        let vectors = self.embed(&texts)?;
        for (&i, v) in missing.iter().zip(vectors) {
            memories[i].vector = v;
        }
        Ok(())
    }

    fn durability(&self) -> nexus_storage::Durability {
        match self.options.durability {
            Durability::Always => Durability::Always,
            _ => Durability::Never,
        }
    }

    /// Remembers `items` as one commit under the write lock: a keyed memory replaces the live
    /// memory of its key (keeping its id); with dedup on, an unkeyed memory equal to a live one
    /// (namespace, text, vector) returns that one's id and writes nothing. Returns the ids in
    /// order.
    fn commit_memories(&self, items: Vec<(Vec<f32>, StoredMeta)>) -> Result<Vec<u64>> {
        let mut w = self.writer.lock();
        let snap = self.snapshot();
        let keyed = items.iter().any(|(_, m)| m.key.is_some());
        if w.identity.is_none() && (keyed || self.options.dedup) {
            let t = snap.tail.read();
            w.identity = Some(Identity::build(&snap.views, &t));
        }
        let first_new = w.next_id;
        let mut next = first_new;
        let mut ids = Vec::with_capacity(items.len());
        let mut writes: Vec<Write> = Vec::with_capacity(items.len());
        // Within this batch: the write of an id, of a key, of a content hash.
        let mut write_of: HashMap<u64, usize> = HashMap::new();
        let mut by_key: HashMap<(String, String), u64> = HashMap::new();
        let mut by_content: HashMap<u64, usize> = HashMap::new();
        let now = self.options.clock.now_ms();
        for (v, meta) in items {
            let hash = meta.content_hash(&v);
            let ident = w.identity.as_ref();
            let existing = match &meta.key {
                Some(key) => {
                    let k = (meta.namespace.clone(), key.clone());
                    by_key
                        .get(&k)
                        .copied()
                        .or_else(|| ident.and_then(|i| i.by_key(&k.0, &k.1)))
                }
                None if self.options.dedup => {
                    if let Some(&wi) = by_content.get(&hash)
                        && same_content(&writes[wi].2, &writes[wi].1, &meta, &v)
                    {
                        ids.push(writes[wi].0);
                        continue;
                    }
                    if let Some(x) = ident.and_then(|i| i.by_content(hash))
                        && self.holds_same(&snap, x, &meta, &v, now)?
                    {
                        ids.push(x);
                        continue;
                    }
                    None
                }
                None => None,
            };
            let id = existing.unwrap_or_else(|| {
                next += 1;
                next - 1
            });
            if let Some(key) = &meta.key {
                by_key.insert((meta.namespace.clone(), key.clone()), id);
            } else {
                by_content.insert(hash, writes.len());
            }
            ids.push(id);
            match write_of.get(&id) {
                // The same key twice in one batch: the later memory wins.
                Some(&wi) => writes[wi] = (id, v, meta, hash),
                None => {
                    write_of.insert(id, writes.len());
                    writes.push((id, v, meta, hash));
                }
            }
        }
        if writes.is_empty() {
            return Ok(ids);
        }
        // The memories replaced, read before the commit (a record that cannot be read
        // changes nothing).
        let compacting = self.compacting.lock().clone();
        let mut replaced = Vec::new();
        for (id, ..) in writes.iter().filter(|x| x.0 < first_new) {
            let at = locate(&snap, compacting.as_ref(), *id);
            if let Some(first) = at.first() {
                let (meta, hash) = held(&snap, first)?;
                replaced.push((*id, at, meta, hash));
            }
        }
        let mut batch = Batch::new();
        for (id, v, meta, _) in &writes {
            batch.put(*id, v, &[], &meta.encode());
        }
        self.store.commit(batch, self.durability())?;
        w.next_id = next;
        for (id, at, meta, hash) in &replaced {
            self.drop_held(&mut w, &snap, *id, at, meta, *hash);
        }
        self.install(&mut w, &snap, writes);
        Ok(ids)
    }

    /// Whether live memory `id` has `meta`'s namespace and text and the vector `v`, and has
    /// not expired.
    fn holds_same(
        &self,
        snap: &Snapshot,
        id: u64,
        meta: &StoredMeta,
        v: &[f32],
        now: i64,
    ) -> Result<bool> {
        let at = locate(snap, None, id);
        let Some(first) = at.first() else {
            return Ok(false);
        };
        let (m, _) = held(snap, first)?;
        Ok(!m.expired(now) && same_content(&m, &held_vector(snap, first), meta, v))
    }

    /// Puts committed writes into the tail and the identity and expiry maps.
    fn install(&self, w: &mut Writer, snap: &Snapshot, writes: Vec<Write>) {
        {
            let mut expiry = self.expiry.lock();
            for (id, _, meta, hash) in &writes {
                if meta.expires_at != NEVER {
                    expiry.insert((meta.expires_at, *id));
                }
                if let Some(ident) = &mut w.identity {
                    ident.add(*id, &meta.namespace, meta.key.as_deref(), *hash);
                }
            }
            self.set_next_expiry(&expiry);
        }
        let mut t = snap.tail.write();
        for (id, v, meta, hash) in writes {
            t.push(id, &v, meta, hash);
        }
        drop(t);
        self.epoch.fetch_add(1, Ordering::SeqCst);
    }

    /// Removes live `id` (held at `at`, with `meta` and content `hash`) from the parts and
    /// the identity and expiry maps; its record is already superseded or deleted in the store.
    fn drop_held(
        &self,
        w: &mut Writer,
        snap: &Snapshot,
        id: u64,
        at: &[At],
        meta: &StoredMeta,
        hash: u64,
    ) {
        for a in at {
            match a {
                At::Tail(row) => snap.tail.write().forget(id, *row),
                At::View(v, _) => v.forget(id, meta),
            }
        }
        if let Some(ident) = &mut w.identity {
            ident.remove(id, &meta.namespace, meta.key.as_deref(), hash);
        }
        if meta.expires_at != NEVER {
            let mut expiry = self.expiry.lock();
            expiry.remove(&(meta.expires_at, id));
            self.set_next_expiry(&expiry);
        }
        self.epoch.fetch_add(1, Ordering::SeqCst);
    }

    fn set_next_expiry(&self, expiry: &BTreeSet<(i64, u64)>) {
        self.next_expiry
            .store(expiry.first().map_or(NEVER, |e| e.0), Ordering::SeqCst);
    }

    /// Live memories that have expired but are still held (the worker drops them).
    fn expired_count(&self) -> u64 {
        let now = self.options.clock.now_ms();
        if now < self.next_expiry.load(Ordering::SeqCst) {
            return 0;
        }
        self.expiry.lock().range(..=(now, u64::MAX)).count() as u64
    }

    /// The ids expired at `now`, if any.
    fn expired_ids(&self, now: i64) -> Option<RoaringTreemap> {
        if now < self.next_expiry.load(Ordering::SeqCst) {
            return None;
        }
        let e = self.expiry.lock();
        let set: RoaringTreemap = e.range(..=(now, u64::MAX)).map(|&(_, id)| id).collect();
        (!set.is_empty()).then_some(set)
    }

    /// Forgets every expired memory (durably, so compaction drops its bytes).
    fn expire_due(&self) -> Result<u64> {
        let now = self.options.clock.now_ms();
        let Some(ids) = self.expired_ids(now) else {
            return Ok(0);
        };
        let n = self.forget_ids(|_| Ok(ids.iter().collect()), false)?;
        metrics::counter!("nexus_expired_total").increment(n);
        Ok(n)
    }

    /// Wakes the worker when the tail is due, or flushes here when the worker is behind.
    fn after_write(&self) {
        let len = self.snapshot().tail.read().ids.len();
        let inline = !self.options.background && len >= self.options.flush_rows;
        if len >= BACKPRESSURE * self.options.flush_rows || inline {
            let flushed = self.flush_tail().and_then(|()| {
                if inline {
                    self.index_segments()
                } else {
                    Ok(())
                }
            });
            if let Err(e) = flushed {
                tracing::warn!(error = %e, "flush on the writer's thread failed");
                *self.background_error.lock() = Some(e.to_string());
            }
        } else if len >= self.options.flush_rows {
            self.wake.notify_all();
        }
    }

    /// Forgets the ids `select` picks from the current parts (all must be live when
    /// `exact`), as one commit.
    fn forget_ids(
        &self,
        select: impl FnOnce(&Snapshot) -> Result<Vec<u64>>,
        exact: bool,
    ) -> Result<u64> {
        if self.read_only {
            return Err(Error::ReadOnly);
        }
        let mut w = self.writer.lock();
        let snap = self.snapshot();
        let compacting = self.compacting.lock().clone();
        let ids = select(&snap)?;
        // Read before the commit, so a record that cannot be read changes nothing.
        let mut found: Vec<(u64, Vec<At>, StoredMeta, u64)> = Vec::with_capacity(ids.len());
        for id in ids {
            let at = locate(&snap, compacting.as_ref(), id);
            let Some(first) = at.first() else {
                if exact {
                    return Err(Error::UnknownId { id });
                }
                continue;
            };
            let (meta, hash) = held(&snap, first)?;
            found.push((id, at, meta, hash));
        }
        if found.is_empty() {
            return Ok(0);
        }
        let mut batch = Batch::new();
        for (id, ..) in &found {
            batch.delete(*id);
        }
        self.store.commit(batch, self.durability())?;
        for (id, at, meta, hash) in &found {
            self.drop_held(&mut w, &snap, *id, at, meta, *hash);
        }
        w.pending_deletes += found.len();
        drop(w);
        metrics::counter!("nexus_forgotten_total").increment(found.len() as u64);
        if self.options.durability == Durability::Grouped {
            self.store.sync()?;
        }
        Ok(found.len() as u64)
    }

    fn recall(&self, query: &Query) -> Result<Vec<Recalled>> {
        let started = std::time::Instant::now();
        let _span = tracing::debug_span!("nexus.recall", k = query.k).entered();
        if query.k == 0 {
            return Err(Error::ZeroK);
        }
        let vector = match &query.text {
            Some(text) if query.vector.is_empty() => {
                let mut v = self.embed(&[text.as_str()])?;
                Some(self.prepare_vector(&v.swap_remove(0))?)
            }
            _ if query.vector.is_empty() && query.keywords.is_some() => None,
            _ => Some(self.prepare_vector(&query.vector)?),
        };
        if let Scoring::Blend {
            recency_half_life,
            weights,
        } = query.scoring
        {
            let w = [weights.relevance, weights.recency, weights.importance];
            if recency_half_life.is_zero() || w.iter().any(|x| !x.is_finite()) {
                return Err(Error::invalid(
                    "scoring",
                    "the half-life must be positive and the weights finite",
                ));
            }
        }
        let now = self.options.clock.now_ms();
        // A blended ranking moves with the clock: never cached.
        let cacheable = matches!(query.scoring, Scoring::Relevance);
        let epoch = self.epoch.load(Ordering::SeqCst);
        let key = (cacheable && self.cache.is_some()).then(|| cache_key(query, epoch));
        if let (Some(cache), Some(key)) = (&self.cache, key) {
            // Stale entries cannot match: the epoch is in the key, and an entry is kept only
            // until its first memory expires.
            if let Some(hit) = cache.get(&key)
                && hit.0 == *query
                && now < hit.2
            {
                metrics::counter!("nexus_recall_cache_hits_total").increment(1);
                return Ok(hit.1.clone());
            }
            metrics::counter!("nexus_recall_cache_misses_total").increment(1);
        }
        let snap = self.snapshot();
        // No part holds more than the live memories: a huge k allocates no more than they need.
        let live = snap.tail.read().postings.live.len()
            + snap
                .views
                .iter()
                .map(|v| v.state.read().postings.live.len())
                .sum::<u64>();
        let live = usize::try_from(live).unwrap_or(usize::MAX);
        let k = query.k.min(live).max(1);
        let rescored = !cacheable || (vector.is_some() && query.keywords.is_some());
        let fetch = if rescored {
            query.candidate_count().min(live).max(k)
        } else {
            k
        };
        let exclude = self.expired_ids(now);
        let plan = Plan {
            query: vector.as_deref().unwrap_or(&[]),
            k: fetch,
            namespaces: &query.namespaces,
            filter: &query.filter,
            metric: self.metric,
            exclude: exclude.as_ref(),
        };
        let tail = snap.tail.read();
        let tail_part = snap.views.len();
        // (score, id, part): part = views.len() for the tail.
        let vector_hits = match vector {
            Some(_) => {
                let mut hits: Vec<(f32, u64, usize)> = Vec::new();
                for (i, v) in snap.views.iter().enumerate() {
                    hits.extend(search_view(v, &plan)?.into_iter().map(|(id, s)| (s, id, i)));
                }
                hits.extend(
                    search_tail(&tail, &plan)
                        .into_iter()
                        .map(|(id, s)| (s, id, tail_part)),
                );
                Some(best_first(hits, fetch))
            }
            None => None,
        };
        let keyword_hits = match &query.keywords {
            Some(text) => Some(self.keyword_hits(&snap, &tail, text, &plan)?),
            None => None,
        };
        let mut hits = match (vector_hits, keyword_hits) {
            (Some(v), Some(kw)) => fuse(&v, &kw, query.fusion),
            (Some(h), None) | (None, Some(h)) => h,
            (None, None) => Vec::new(),
        };
        if let Scoring::Blend {
            recency_half_life,
            weights,
        } = query.scoring
        {
            let half_life = recency_half_life.as_secs_f64() * 1000.0;
            for h in &mut hits {
                let (event_time, importance) = if h.2 == tail_part {
                    let m = &tail.metas[tail.row_of[&h.1]];
                    (m.event_time, m.importance)
                } else {
                    let v = &snap.views[h.2];
                    let row = v.seg.find(h.1).expect("hit from the segment");
                    (v.event_time[row], v.importance[row])
                };
                h.0 = blend(h.0, now, event_time, importance, half_life, &weights);
            }
        }
        let hits = best_first(hits, k);
        let mut out = Vec::with_capacity(hits.len());
        let mut valid_until = NEVER;
        for (score, id, part) in hits {
            let memory = if part == tail_part {
                tail_memory(&tail, tail.row_of[&id])
            } else {
                let v = &snap.views[part];
                let row = v.seg.find(id).expect("hit from the segment");
                view_memory(v, row)?
            };
            valid_until = valid_until.min(memory.expires_at_ms().unwrap_or(NEVER));
            out.push(Recalled { id, score, memory });
        }
        drop(tail);
        if let (Some(cache), Some(key)) = (&self.cache, key)
            && self.epoch.load(Ordering::SeqCst) == epoch
        {
            let _ = cache.insert(key, Arc::new((query.clone(), out.clone(), valid_until)));
        }
        metrics::histogram!("nexus_recall_seconds").record(started.elapsed().as_secs_f64());
        Ok(out)
    }

    /// The best `plan.k` of every part by BM25 of `text`, best first.
    fn keyword_hits(
        &self,
        snap: &Snapshot,
        tail: &Tail,
        text: &str,
        plan: &Plan<'_>,
    ) -> Result<Vec<(f32, u64, usize)>> {
        let mut indexes: Vec<Arc<TermIndex>> = Vec::with_capacity(snap.views.len());
        for v in &snap.views {
            let (index, built) = v.term_index()?;
            if let Some(bytes) = built.filter(|_| !self.read_only) {
                match self.store.attach(v.id(), TERMS_ROLE, &bytes) {
                    // Compacted away meanwhile: the merged segment has its own.
                    Err(nexus_storage::Error::UnknownSegment { .. }) => {}
                    r => r?,
                }
            }
            indexes.push(index);
        }
        let tail_index = tail.term_index();
        let mut parts: Vec<&TermIndex> = indexes.iter().map(|i| &**i).collect();
        parts.push(&tail_index);
        let Some(bm) = Bm25::new(text, &parts) else {
            return Ok(Vec::new());
        };
        let mut hits = Vec::new();
        for (i, (v, index)) in snap.views.iter().zip(&indexes).enumerate() {
            hits.extend(
                keyword_view(v, index, &bm, plan)
                    .into_iter()
                    .map(|(id, s)| (s, id, i)),
            );
        }
        let tail_part = snap.views.len();
        hits.extend(
            keyword_tail(tail, &tail_index, &bm, plan)
                .into_iter()
                .map(|(id, s)| (s, id, tail_part)),
        );
        Ok(best_first(hits, plan.k))
    }

    /// Writes the tail (and pending deletes) to a new segment with its rows attachment.
    fn flush_tail(&self) -> Result<()> {
        let _span = tracing::info_span!("nexus.flush").entered();
        let mut w = self.writer.lock();
        let snap = self.snapshot();
        if snap.tail.read().is_empty() && w.pending_deletes == 0 {
            return Ok(());
        }
        let seg_id = self.store.flush()?;
        metrics::counter!("nexus_flushes_total").increment(1);
        w.pending_deletes = 0;
        w.last_flush = std::time::Instant::now();
        let mut views = snap.views.clone();
        if let Some(seg_id) = seg_id {
            let seg = self
                .store
                .segments()
                .into_iter()
                .find(|s| s.id() == seg_id)
                .expect("the flushed segment is live");
            let t = snap.tail.read();
            let tail_row = |row: usize| {
                let id = seg.ids()[row];
                t.row_of.get(&id).copied().ok_or_else(|| {
                    Error::corrupt(&self.dir, format!("flushed id {id} is not in the tail"))
                })
            };
            let rows = RowsFile::build(&seg, |row| Ok(t.metas[tail_row(row)?].clone()))?;
            self.store.attach(seg_id, ROWS_ROLE, &rows.encode())?;
            let mut texts = Vec::with_capacity(seg.len());
            for row in 0..seg.len() {
                texts.push(if seg.is_live(row) {
                    Some(t.metas[tail_row(row)?].text.as_str())
                } else {
                    None
                });
            }
            let terms = TermIndex::build(seg.len(), |row| texts[row]);
            self.store.attach(seg_id, TERMS_ROLE, &terms.encode())?;
            let view = SegView::new(seg, rows, &t.postings.live);
            *view.terms.write() = Terms::Loaded(Arc::new(terms));
            views.push(Arc::new(view));
        }
        self.publish(Snapshot {
            views,
            tail: Arc::new(RwLock::new(Tail::default())),
        });
        drop(w);
        self.wake.notify_all();
        Ok(())
    }

    /// Builds (and persists) the graph of every segment big enough that has none.
    fn index_segments(&self) -> Result<()> {
        let _guard = self.indexing.lock();
        let snap = self.snapshot();
        for v in &snap.views {
            self.index_view(v)?;
        }
        Ok(())
    }

    fn index_view(&self, v: &SegView) -> Result<()> {
        {
            let st = v.state.read();
            if st.index_tried || (st.postings.live.len() as usize) < self.options.index.exact_below
            {
                return Ok(());
            }
        }
        let _span = tracing::info_span!("nexus.index", segment = v.id()).entered();
        let index = v.build_index(self.metric, &self.options.index)?;
        if !self.read_only {
            match self.store.attach(v.id(), HNSW_ROLE, &index.to_bytes()) {
                // Compacted away meanwhile: the merged segment gets its own graph.
                Err(nexus_storage::Error::UnknownSegment { .. }) => return Ok(()),
                r => r?,
            }
        }
        v.install_index(index);
        Ok(())
    }

    fn dead_fraction(snap: &Snapshot) -> f64 {
        let (mut rows, mut live) = (0u64, 0u64);
        for v in &snap.views {
            rows += v.seg.len() as u64;
            live += v.state.read().postings.live.len();
        }
        if rows == 0 {
            0.0
        } else {
            1.0 - live as f64 / rows as f64
        }
    }

    /// How many of the newest segments a background compaction merges (size-tiered): the
    /// newest ones while each is at most twice the rows gathered so far, at least two. A big
    /// old segment is merged only once the newer ones add up to half its size, so each row is
    /// rewritten O(log n) times.
    fn tiered_count(views: &[Arc<SegView>]) -> usize {
        let (mut rows, mut count) = (0usize, 0usize);
        for v in views.iter().rev() {
            let len = v.seg.len();
            if count >= 2 && len > 2 * rows {
                break;
            }
            rows += len;
            count += 1;
        }
        count
    }

    /// Merges the newest `count` segments into one: the merge under the write lock, the graph
    /// build with no lock (recalls use the old segments, forgets apply to both), then the swap.
    fn compact(&self, count: usize) -> Result<()> {
        let _one = self.compaction.lock();
        metrics::counter!("nexus_compactions_total").increment(1);
        let _span = tracing::info_span!("nexus.compact", count).entered();
        let (merged, old): (Option<Arc<SegView>>, Vec<u64>) = {
            let w = self.writer.lock();
            let snap = self.snapshot();
            let count = count.min(snap.views.len());
            if count == 0 {
                return Ok(());
            }
            {
                let mut c = self.config.lock();
                if c.id_floor < w.next_id {
                    c.id_floor = w.next_id;
                    c.write(&self.backend, &self.dir)?;
                }
            }
            let suffix = &snap.views[snap.views.len() - count..];
            let mut live = RoaringTreemap::new();
            for v in suffix {
                live |= &v.state.read().postings.live;
            }
            let merged_id = self.store.compact_newest(count)?;
            let old = suffix.iter().map(|v| v.id()).collect();
            let merged = match merged_id {
                None => None,
                Some(id) => {
                    let seg = self
                        .store
                        .segments()
                        .into_iter()
                        .find(|s| s.id() == id)
                        .expect("the merged segment is live");
                    let what = self.dir.join(format!("segment {id}"));
                    let mut texts: Vec<Option<String>> = vec![None; seg.len()];
                    let rows = RowsFile::build(&seg, |row| {
                        let m = StoredMeta::decode(seg.meta(row)?)
                            .map_err(|e| Error::corrupt(&what, e))?;
                        texts[row] = Some(m.text.clone());
                        Ok(m)
                    })?;
                    self.store.attach(id, ROWS_ROLE, &rows.encode())?;
                    let terms = TermIndex::build(seg.len(), |row| texts[row].as_deref());
                    self.store.attach(id, TERMS_ROLE, &terms.encode())?;
                    let view = SegView::new(seg, rows, &live);
                    *view.terms.write() = Terms::Loaded(Arc::new(terms));
                    let view = Arc::new(view);
                    *self.compacting.lock() = Some(Arc::clone(&view));
                    Some(view)
                }
            };
            drop(w);
            (merged, old)
        };
        let built = match &merged {
            Some(v) => {
                let _guard = self.indexing.lock();
                self.index_view(v)
            }
            None => Ok(()),
        };
        let _w = self.writer.lock();
        let snap = self.snapshot();
        // The merged segment takes the place of the run it replaces; later flushes stay after.
        let mut views: Vec<Arc<SegView>> = Vec::with_capacity(snap.views.len());
        let mut merged = merged;
        for v in &snap.views {
            if old.contains(&v.id()) {
                views.extend(merged.take());
            } else {
                views.push(Arc::clone(v));
            }
        }
        views.extend(merged);
        self.publish(Snapshot {
            views,
            tail: Arc::clone(&snap.tail),
        });
        *self.compacting.lock() = None;
        built
    }

    fn disk_bytes(&self) -> u64 {
        let Ok(names) = self.backend.list(&self.dir) else {
            return 0;
        };
        names
            .iter()
            .map(|n| {
                let path = self.dir.join(n);
                if self.real_fs {
                    allocated_bytes(&path)
                } else {
                    self.backend.read(&path).map_or(0, |b| b.len() as u64)
                }
            })
            .sum()
    }

    fn run_worker(self: Arc<Self>) {
        let tick = (self.options.flush_interval / 4)
            .clamp(Duration::from_millis(10), Duration::from_millis(250));
        loop {
            {
                let mut stop = self.stop.lock();
                if *stop {
                    return;
                }
                self.wake.wait_for(&mut stop, tick);
                if *stop {
                    return;
                }
            }
            if let Err(e) = self.background_step() {
                tracing::error!(error = %e, "background flush / index / compaction failed");
                *self.background_error.lock() = Some(e.to_string());
                // Do not spin on a persistent failure (a poisoned store).
                std::thread::sleep(Duration::from_millis(200));
            }
        }
    }

    fn background_step(&self) -> Result<()> {
        self.expire_due()?;
        let (len, age) = {
            let snap = self.snapshot();
            let t = snap.tail.read();
            (t.ids.len(), t.since.map(|s| s.elapsed()))
        };
        let deletes_due = {
            let w = self.writer.lock();
            w.pending_deletes > 0 && w.last_flush.elapsed() >= self.options.flush_interval
        };
        if len >= self.options.flush_rows
            || age.is_some_and(|a| a >= self.options.flush_interval)
            || deletes_due
        {
            self.flush_tail()?;
        }
        self.index_segments()?;
        let snap = self.snapshot();
        if Self::dead_fraction(&snap) > DEAD_FRACTION {
            self.compact(usize::MAX)?;
        } else if snap.views.len() > self.options.max_segments {
            self.compact(Self::tiered_count(&snap.views))?;
        }
        Ok(())
    }
}

#[cfg(unix)]
fn allocated_bytes(path: &Path) -> u64 {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata(path).map_or(0, |m| m.blocks() * 512)
}

#[cfg(not(unix))]
fn allocated_bytes(path: &Path) -> u64 {
    std::fs::metadata(path).map_or(0, |m| m.len())
}

/// Whether two memories are the same content (dedup): namespace, text and vector bits.
fn same_content(a: &StoredMeta, av: &[f32], b: &StoredMeta, bv: &[f32]) -> bool {
    a.namespace == b.namespace
        && a.text == b.text
        && av.len() == bv.len()
        && av.iter().zip(bv).all(|(x, y)| x.to_bits() == y.to_bits())
}

/// `hits` sorted best first (ties to the lower id), the first `k`.
fn best_first(mut hits: Vec<(f32, u64, usize)>, k: usize) -> Vec<(f32, u64, usize)> {
    hits.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
    hits.truncate(k);
    hits
}

/// Reciprocal-rank fusion's damping constant (Cormack et al.).
const RRF_K: f32 = 60.0;

/// Fuses two rankings (each best first) as [`Fusion`] says; best first.
fn fuse(
    vector: &[(f32, u64, usize)],
    keyword: &[(f32, u64, usize)],
    fusion: Fusion,
) -> Vec<(f32, u64, usize)> {
    let mut fused: HashMap<u64, (f32, usize)> = HashMap::new();
    let mut add = |side: &[(f32, u64, usize)], weight: f32, rank_based: bool| {
        let (lo, hi) = side
            .iter()
            .fold((f32::INFINITY, f32::NEG_INFINITY), |(lo, hi), h| {
                (lo.min(h.0), hi.max(h.0))
            });
        for (rank, &(score, id, part)) in side.iter().enumerate() {
            let s = if rank_based {
                1.0 / (RRF_K + rank as f32 + 1.0)
            } else if hi > lo {
                weight * (score - lo) / (hi - lo)
            } else {
                weight
            };
            fused.entry(id).or_insert((0.0, part)).0 += s;
        }
    };
    match fusion {
        Fusion::Weighted { vector_weight } => {
            let w = vector_weight.clamp(0.0, 1.0);
            add(vector, w, false);
            add(keyword, 1.0 - w, false);
        }
        _ => {
            add(vector, 1.0, true);
            add(keyword, 1.0, true);
        }
    }
    let all: Vec<(f32, u64, usize)> = fused
        .into_iter()
        .map(|(id, (s, part))| (s, id, part))
        .collect();
    let n = all.len();
    best_first(all, n)
}

/// [`Scoring::Blend`]'s formula (`half_life_ms` > 0).
fn blend(
    relevance: f32,
    now: i64,
    event_time: i64,
    importance: f32,
    half_life_ms: f64,
    w: &crate::query::BlendWeights,
) -> f32 {
    let age = now.saturating_sub(event_time).max(0) as f64;
    let recency = (-age / half_life_ms).exp2() as f32;
    w.relevance * relevance + w.recency * recency + w.importance * importance
}

/// What a cached recall weighs: its memories' texts, vectors and metadata, roughly.
fn recall_weight(hits: &[Recalled]) -> u64 {
    hits.iter()
        .map(|r| {
            let m = &r.memory;
            128 + m.text().len()
                + m.vector().len() * 4
                + m.namespace_name().len()
                + 64 * m.metadata().len()
        })
        .sum::<usize>() as u64
        + 64
}

fn cache_key(query: &Query, epoch: u64) -> u64 {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    epoch.hash(&mut h);
    query.k.hash(&mut h);
    for x in &query.vector {
        x.to_bits().hash(&mut h);
    }
    query.text.hash(&mut h);
    query.keywords.hash(&mut h);
    query.namespaces.hash(&mut h);
    format!("{:?} {:?} {}", query.filter, query.fusion, query.candidates).hash(&mut h);
    h.finish()
}
