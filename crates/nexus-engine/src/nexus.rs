//! `Nexus`: open / remember / recall / get / forget over the storage layer, with the
//! in-memory tail, the segment views and the background worker.

use std::collections::BTreeMap;
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
use crate::memory::{Memory, Recalled, StoredMeta};
use crate::options::{Durability, Metric, Options};
use crate::part::{HNSW_ROLE, ROWS_ROLE, RowsFile, SegView, StoredGraph, Tail};
use crate::query::{Filter, Query};
use crate::search::{Plan, allowed_set, row_passes, search_tail, search_view};

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
}

type CachedRecall = Arc<(Query, Vec<Recalled>)>;

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
            .chain(tail.ids.last().copied())
            .max();
        let next_id = max_id.map_or(1, |m| m + 1).max(config.id_floor).max(1);
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
            }),
            compacting: Mutex::new(None),
            compaction: Mutex::new(()),
            indexing: Mutex::new(()),
            epoch: AtomicU64::new(0),
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

    /// Remembers one memory; returns its id (engine-assigned, never reused). Durable on
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
        for chunk in prepared.chunks(BATCH_CHUNK) {
            ids.extend(inner.commit_puts(chunk)?);
        }
        if inner.options.durability == Durability::Grouped && !ids.is_empty() {
            inner.store.sync()?;
        }
        inner.after_write();
        Ok(ids)
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
        let snap = self.inner.snapshot();
        {
            let t = snap.tail.read();
            if let Some(row) = t.live_row(id) {
                return Ok(Some(tail_memory(&t, row)));
            }
        }
        for v in snap.views.iter().rev() {
            if let Some(row) = v.live_row(id) {
                return Ok(Some(view_memory(v, row)?));
            }
        }
        Ok(None)
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
                        let row = t.ids.binary_search(&id).expect("postings hold tail ids");
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
        let snap = self.inner.snapshot();
        for v in &snap.views {
            let live = v.state.read().postings.live.clone();
            for id in live {
                let row = v.seg.find(id).expect("live ids are the segment's");
                f(id, view_memory(v, row)?)?;
            }
        }
        let t = snap.tail.read();
        for id in t.postings.live.iter() {
            let row = t.ids.binary_search(&id).expect("live ids are the tail's");
            f(id, tail_memory(&t, row))?;
        }
        Ok(())
    }

    /// Live memories.
    pub fn len(&self) -> u64 {
        let snap = self.inner.snapshot();
        let tail = snap.tail.read().postings.live.len();
        tail + snap
            .views
            .iter()
            .map(|v| v.state.read().postings.live.len())
            .sum::<u64>()
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
    let dim = t.vectors.len() / t.ids.len().max(1);
    t.metas[row]
        .clone()
        .into_memory(t.vectors[row * dim..(row + 1) * dim].to_vec())
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
            tail.push(id, &r.vector, meta);
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
    let rows = match store.attachment(seg.id(), ROWS_ROLE) {
        Some(a) => RowsFile::decode(a.as_bytes(), seg, &what)?,
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
        if let Some((index, &value)) = v.iter().enumerate().find(|(_, x)| !x.is_finite()) {
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
                if let Some((index, &value)) = v.iter().enumerate().find(|(_, x)| x.abs() > max) {
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

    /// Appends `items` to the WAL as one commit and to the tail, under the write lock.
    fn commit_puts(&self, items: &[(Vec<f32>, StoredMeta)]) -> Result<Vec<u64>> {
        let mut w = self.writer.lock();
        let first = w.next_id;
        let mut batch = Batch::new();
        for (i, (v, meta)) in items.iter().enumerate() {
            batch.put(first + i as u64, v, &[], &meta.encode());
        }
        self.store.commit(batch, self.durability())?;
        w.next_id += items.len() as u64;
        let snap = self.snapshot();
        let mut t = snap.tail.write();
        for (i, (v, meta)) in items.iter().enumerate() {
            t.push(first + i as u64, v, meta.clone());
        }
        drop(t);
        self.epoch.fetch_add(1, Ordering::SeqCst);
        Ok((first..first + items.len() as u64).collect())
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
        enum At {
            Tail(usize),
            View(Arc<SegView>, usize),
        }
        let mut found: Vec<(u64, Vec<At>)> = Vec::with_capacity(ids.len());
        for id in ids {
            let mut at = Vec::new();
            if let Some(row) = snap.tail.read().live_row(id) {
                at.push(At::Tail(row));
            }
            for v in snap.views.iter().chain(compacting.as_ref()) {
                if let Some(row) = v.live_row(id) {
                    at.push(At::View(Arc::clone(v), row));
                }
            }
            if at.is_empty() {
                if exact {
                    return Err(Error::UnknownId { id });
                }
                continue;
            }
            found.push((id, at));
        }
        if found.is_empty() {
            return Ok(0);
        }
        let mut batch = Batch::new();
        for (id, _) in &found {
            batch.delete(*id);
        }
        self.store.commit(batch, self.durability())?;
        for (id, at) in &found {
            for a in at {
                match a {
                    At::Tail(row) => snap.tail.write().forget(*id, *row),
                    At::View(v, row) => v.forget(*id, *row)?,
                }
            }
        }
        w.pending_deletes += found.len();
        self.epoch.fetch_add(1, Ordering::SeqCst);
        drop(w);
        if self.options.durability == Durability::Grouped {
            self.store.sync()?;
        }
        Ok(found.len() as u64)
    }

    fn recall(&self, query: &Query) -> Result<Vec<Recalled>> {
        let _span = tracing::debug_span!("nexus.recall", k = query.k).entered();
        if query.k == 0 {
            return Err(Error::ZeroK);
        }
        let vector = match &query.text {
            Some(text) if query.vector.is_empty() => {
                let mut v = self.embed(&[text.as_str()])?;
                self.prepare_vector(&v.swap_remove(0))?
            }
            _ => self.prepare_vector(&query.vector)?,
        };
        let epoch = self.epoch.load(Ordering::SeqCst);
        let key = self.cache.as_ref().map(|_| cache_key(query, epoch));
        if let (Some(cache), Some(key)) = (&self.cache, key)
            && let Some(hit) = cache.get(&key)
            && hit.0 == *query
        {
            return Ok(hit.1.clone());
        }
        let snap = self.snapshot();
        // No part holds more than the live memories: a huge k allocates no more than they need.
        let live = snap.tail.read().postings.live.len()
            + snap
                .views
                .iter()
                .map(|v| v.state.read().postings.live.len())
                .sum::<u64>();
        let k = query
            .k
            .min(usize::try_from(live).unwrap_or(usize::MAX))
            .max(1);
        let plan = Plan {
            query: &vector,
            k,
            namespaces: &query.namespaces,
            filter: &query.filter,
            metric: self.metric,
        };
        // (score, id, part): part = views.len() for the tail.
        let mut hits: Vec<(f32, u64, usize)> = Vec::new();
        for (i, v) in snap.views.iter().enumerate() {
            hits.extend(search_view(v, &plan)?.into_iter().map(|(id, s)| (s, id, i)));
        }
        let tail = snap.tail.read();
        let tail_part = snap.views.len();
        hits.extend(
            search_tail(&tail, &plan)
                .into_iter()
                .map(|(id, s)| (s, id, tail_part)),
        );
        hits.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
        hits.truncate(k);
        let mut out = Vec::with_capacity(hits.len());
        for (score, id, part) in hits {
            let memory = if part == tail_part {
                let row = tail.ids.binary_search(&id).expect("hit from the tail");
                tail_memory(&tail, row)
            } else {
                let v = &snap.views[part];
                let row = v.seg.find(id).expect("hit from the segment");
                view_memory(v, row)?
            };
            out.push(Recalled { id, score, memory });
        }
        drop(tail);
        if let (Some(cache), Some(key)) = (&self.cache, key)
            && self.epoch.load(Ordering::SeqCst) == epoch
        {
            let _ = cache.insert(key, Arc::new((query.clone(), out.clone())));
        }
        Ok(out)
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
            let rows = RowsFile::build(&seg, |row| {
                let id = seg.ids()[row];
                let r = t.ids.binary_search(&id).map_err(|_| {
                    Error::corrupt(&self.dir, format!("flushed id {id} is not in the tail"))
                })?;
                Ok(t.metas[r].clone())
            })?;
            self.store.attach(seg_id, ROWS_ROLE, &rows.encode())?;
            views.push(Arc::new(SegView::new(seg, rows, &t.postings.live)));
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
                    let rows = RowsFile::build(&seg, |row| {
                        StoredMeta::decode(seg.meta(row)?).map_err(|e| Error::corrupt(&what, e))
                    })?;
                    self.store.attach(id, ROWS_ROLE, &rows.encode())?;
                    let view = Arc::new(SegView::new(seg, rows, &live));
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
    query.namespaces.hash(&mut h);
    format!("{:?}", query.filter).hash(&mut h);
    h.finish()
}
