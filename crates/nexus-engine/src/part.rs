//! The two kinds of part a recall searches: immutable segments (mapped from the store, with
//! their postings and, once built, an HNSW graph) and the mutable tail of memories not yet
//! flushed (scanned exactly). Both keep the same [`Postings`]: the live ids and, per namespace
//! and tag, the live ids that carry it.

use std::collections::HashMap;
use std::sync::Arc;

use nexus_index::{HnswIndex, HnswParams, Index, Traversal, VectorSource};
use nexus_storage::Segment;
use parking_lot::RwLock;
use roaring::RoaringTreemap;

use crate::error::{Error, Result};
use crate::keyword::TermIndex;
use crate::memory::{NEVER, StoredMeta};
use crate::options::{IndexOptions, Metric};

/// Attachment role of a segment's per-row columns and postings.
pub(crate) const ROWS_ROLE: &str = "nexus-rows";
/// Attachment role of a segment's HNSW graph.
pub(crate) const HNSW_ROLE: &str = "hnsw";
/// 2: importance, expiry, content hash and key columns (a version-1 file is rebuilt).
const ROWS_VERSION: u32 = 2;

/// Live ids, and the live ids of each namespace and tag.
#[derive(Debug, Default)]
pub(crate) struct Postings {
    pub(crate) live: RoaringTreemap,
    pub(crate) by_namespace: HashMap<String, RoaringTreemap>,
    pub(crate) by_tag: HashMap<String, RoaringTreemap>,
}

impl Postings {
    pub(crate) fn add(&mut self, id: u64, meta: &StoredMeta) {
        self.live.insert(id);
        self.by_namespace
            .entry(meta.namespace.clone())
            .or_default()
            .insert(id);
        for t in &meta.tags {
            self.by_tag.entry(t.clone()).or_default().insert(id);
        }
    }

    pub(crate) fn remove(&mut self, id: u64, meta: &StoredMeta) {
        self.live.remove(id);
        if let Some(set) = self.by_namespace.get_mut(&meta.namespace) {
            set.remove(id);
            if set.is_empty() {
                self.by_namespace.remove(&meta.namespace);
            }
        }
        for t in &meta.tags {
            if let Some(set) = self.by_tag.get_mut(t) {
                set.remove(id);
                if set.is_empty() {
                    self.by_tag.remove(t);
                }
            }
        }
    }

    pub(crate) fn heap_bytes(&self) -> usize {
        let sets = |m: &HashMap<String, RoaringTreemap>| -> usize {
            m.iter()
                .map(|(k, v)| k.capacity() + v.serialized_size() + 48)
                .sum()
        };
        self.live.serialized_size() + sets(&self.by_namespace) + sets(&self.by_tag)
    }
}

/// The per-row values a filter reads without decoding a record, and the postings by row, as
/// archived in a segment's `nexus-rows` attachment.
#[derive(rkyv::Archive, rkyv::Serialize, rkyv::Deserialize, Debug, Default)]
pub(crate) struct RowsFile {
    pub(crate) version: u32,
    pub(crate) event_time: Vec<i64>,
    pub(crate) created_at: Vec<i64>,
    pub(crate) importance: Vec<f32>,
    /// Ms since the epoch; `NEVER` for none.
    pub(crate) expires_at: Vec<i64>,
    /// [`StoredMeta::content_hash`] of each row (dedup without decoding records).
    pub(crate) content_hash: Vec<u64>,
    /// Row, namespace and caller key of the rows that have a key.
    pub(crate) keys: Vec<(u32, String, String)>,
    /// Namespace name and the rows (live when written) that carry it.
    pub(crate) namespaces: Vec<(String, Vec<u32>)>,
    /// Tag name and its rows.
    pub(crate) tags: Vec<(String, Vec<u32>)>,
}

impl RowsFile {
    /// From a segment, with each live row's metadata given by `meta(row)`.
    pub(crate) fn build(
        seg: &Segment,
        mut meta: impl FnMut(usize) -> Result<StoredMeta>,
    ) -> Result<Self> {
        let n = seg.len();
        let mut f = RowsFile {
            version: ROWS_VERSION,
            event_time: vec![0; n],
            created_at: vec![0; n],
            importance: vec![0.0; n],
            expires_at: vec![NEVER; n],
            content_hash: vec![0; n],
            ..RowsFile::default()
        };
        let mut ns: HashMap<String, Vec<u32>> = HashMap::new();
        let mut tags: HashMap<String, Vec<u32>> = HashMap::new();
        for row in 0..n {
            if !seg.is_live(row) {
                continue;
            }
            let m = meta(row)?;
            f.event_time[row] = m.event_time;
            f.created_at[row] = m.created_at;
            f.importance[row] = m.importance;
            f.expires_at[row] = m.expires_at;
            f.content_hash[row] = m.content_hash(seg.vector(row));
            if let Some(key) = m.key {
                f.keys.push((row as u32, m.namespace.clone(), key));
            }
            ns.entry(m.namespace).or_default().push(row as u32);
            for t in m.tags {
                tags.entry(t).or_default().push(row as u32);
            }
        }
        f.namespaces = ns.into_iter().collect();
        f.tags = tags.into_iter().collect();
        Ok(f)
    }

    pub(crate) fn encode(&self) -> Vec<u8> {
        rkyv::to_bytes::<rkyv::rancor::Error>(self)
            .expect("archiving vectors of numbers and strings cannot fail")
            .to_vec()
    }

    /// Decodes and checks it against its segment (`what` names it in errors); `None` for a
    /// file of an older version, to be rebuilt from the records.
    pub(crate) fn decode(
        bytes: &[u8],
        seg: &Segment,
        what: &std::path::Path,
    ) -> Result<Option<Self>> {
        let mut aligned = rkyv::util::AlignedVec::<16>::with_capacity(bytes.len());
        aligned.extend_from_slice(bytes);
        let f = match rkyv::from_bytes::<RowsFile, rkyv::rancor::Error>(&aligned) {
            Ok(f) => f,
            // A file of an older layout is rebuilt; anything else is damage.
            Err(_) if old_version(&aligned).is_some() => return Ok(None),
            Err(e) => return Err(Error::corrupt(what, format!("rows attachment: {e}"))),
        };
        if f.version > ROWS_VERSION {
            return Err(Error::NewerFormat {
                path: what.into(),
                found: f.version,
                supported: ROWS_VERSION,
            });
        }
        let n = seg.len();
        let rows_ok = |lists: &[(String, Vec<u32>)]| {
            lists
                .iter()
                .all(|(_, rows)| rows.iter().all(|&r| (r as usize) < n))
        };
        if f.event_time.len() != n
            || f.created_at.len() != n
            || f.importance.len() != n
            || f.expires_at.len() != n
            || f.content_hash.len() != n
            || f.keys.iter().any(|k| k.0 as usize >= n)
            || !rows_ok(&f.namespaces)
            || !rows_ok(&f.tags)
        {
            return Err(Error::corrupt(
                what,
                "rows attachment does not match its segment",
            ));
        }
        Ok(Some(f))
    }
}

/// The version of a rows file written before version 2 (whose layout is [`RowsFileV1`]), or
/// `None` if `bytes` is not one.
fn old_version(bytes: &[u8]) -> Option<u32> {
    rkyv::access::<ArchivedRowsFileV1, rkyv::rancor::Error>(bytes)
        .ok()
        .map(|f| f.version.to_native())
        .filter(|&v| v < ROWS_VERSION)
}

/// The layout of version 1, kept to recognise (and rebuild) such files.
#[derive(rkyv::Archive, rkyv::Serialize, rkyv::Deserialize, Debug, Default)]
struct RowsFileV1 {
    version: u32,
    event_time: Vec<i64>,
    created_at: Vec<i64>,
    namespaces: Vec<(String, Vec<u32>)>,
    tags: Vec<(String, Vec<u32>)>,
}

/// A segment's vectors as an index's [`VectorSource`] (read from the mapping, never copied).
#[derive(Debug)]
pub(crate) struct SegmentVectors(pub(crate) Arc<Segment>);

impl VectorSource for SegmentVectors {
    fn dim(&self) -> usize {
        self.0.dim()
    }
    fn len(&self) -> usize {
        self.0.len()
    }
    fn row(&self, row: usize) -> &[f32] {
        self.0.vector(row)
    }
    fn heap_bytes(&self) -> usize {
        if self.0.is_mapped() {
            0
        } else {
            self.0.vectors().len() * 4
        }
    }
    fn mapped_bytes(&self) -> usize {
        if self.0.is_mapped() {
            self.0.vectors().len() * 4
        } else {
            0
        }
    }
}

/// The mutable state of a segment view: postings and the graph once built.
#[derive(Debug, Default)]
pub(crate) struct ViewState {
    pub(crate) postings: Postings,
    pub(crate) index: Option<Arc<HnswIndex>>,
    /// A graph build was tried (and either installed or failed), or a stored graph waits
    /// in `stored_graph`: do not build one.
    pub(crate) index_tried: bool,
    /// The stored graph, loaded on the segment's first search (open maps, it does not load).
    pub(crate) stored_graph: Option<StoredGraph>,
}

/// A graph attachment not yet loaded.
#[derive(Debug)]
pub(crate) struct StoredGraph {
    pub(crate) bytes: Arc<nexus_storage::Attachment>,
    /// Names the attachment in errors.
    pub(crate) what: std::path::PathBuf,
    pub(crate) ef_search: usize,
}

/// An immutable segment as the engine searches it.
#[derive(Debug)]
pub(crate) struct SegView {
    pub(crate) seg: Arc<Segment>,
    pub(crate) event_time: Vec<i64>,
    pub(crate) created_at: Vec<i64>,
    pub(crate) importance: Vec<f32>,
    pub(crate) expires_at: Vec<i64>,
    pub(crate) content_hash: Vec<u64>,
    /// Row, namespace and key of the keyed rows.
    pub(crate) keys: Vec<(u32, String, String)>,
    pub(crate) state: RwLock<ViewState>,
    /// The keyword index: its stored attachment until the first keyword query loads it.
    pub(crate) terms: RwLock<Terms>,
}

/// A segment's keyword index, loaded on first use.
#[derive(Debug)]
pub(crate) enum Terms {
    /// Not loaded: the stored attachment, or `None` (none stored: built from the records).
    Stored(Option<Arc<nexus_storage::Attachment>>),
    Loaded(Arc<TermIndex>),
}

impl SegView {
    /// A view of `seg` from its rows file, with the live ids `live` (rows the store holds as
    /// live, minus ids deleted by newer parts).
    pub(crate) fn new(seg: Arc<Segment>, rows: RowsFile, live: &RoaringTreemap) -> Self {
        let ids = seg.ids();
        let to_set = |rows: &[u32]| -> RoaringTreemap {
            rows.iter()
                .map(|&r| ids[r as usize])
                .filter(|id| live.contains(*id))
                .collect()
        };
        let mut postings = Postings {
            live: live.clone(),
            ..Postings::default()
        };
        for (name, r) in &rows.namespaces {
            let s = to_set(r);
            if !s.is_empty() {
                postings.by_namespace.insert(name.clone(), s);
            }
        }
        for (name, r) in &rows.tags {
            let s = to_set(r);
            if !s.is_empty() {
                postings.by_tag.insert(name.clone(), s);
            }
        }
        Self {
            seg,
            event_time: rows.event_time,
            created_at: rows.created_at,
            importance: rows.importance,
            expires_at: rows.expires_at,
            content_hash: rows.content_hash,
            keys: rows.keys,
            state: RwLock::new(ViewState {
                postings,
                ..ViewState::default()
            }),
            terms: RwLock::new(Terms::Stored(None)),
        }
    }

    /// The keyword index; the second value holds its encoding when it had to be built from
    /// the records (for the caller to store).
    pub(crate) fn term_index(&self) -> Result<(Arc<TermIndex>, Option<Vec<u8>>)> {
        if let Terms::Loaded(t) = &*self.terms.read() {
            return Ok((Arc::clone(t), None));
        }
        let mut terms = self.terms.write();
        let (index, built) = match &*terms {
            Terms::Loaded(t) => return Ok((Arc::clone(t), None)),
            Terms::Stored(Some(a)) => {
                let what = format!("segment {} keyword attachment", self.id());
                (
                    TermIndex::decode(a.as_bytes(), self.seg.len(), what.as_ref())?,
                    false,
                )
            }
            Terms::Stored(None) => {
                let mut texts = Vec::with_capacity(self.seg.len());
                for row in 0..self.seg.len() {
                    texts.push(if self.seg.is_live(row) {
                        Some(self.meta(row)?.text)
                    } else {
                        None
                    });
                }
                (TermIndex::build(texts.len(), |r| texts[r].as_deref()), true)
            }
        };
        let index = Arc::new(index);
        let bytes = built.then(|| index.encode());
        *terms = Terms::Loaded(Arc::clone(&index));
        Ok((index, bytes))
    }

    pub(crate) fn id(&self) -> u64 {
        self.seg.id()
    }

    /// The record's metadata at `row`.
    pub(crate) fn meta(&self, row: usize) -> Result<StoredMeta> {
        let bytes = self.seg.meta(row)?;
        StoredMeta::decode(bytes).map_err(|e| {
            Error::corrupt(
                format!("segment {} row {row}", self.seg.id()),
                format!("memory record: {e}"),
            )
        })
    }

    /// The row of live memory `id`, if this view holds it.
    pub(crate) fn live_row(&self, id: u64) -> Option<usize> {
        if !self.state.read().postings.live.contains(id) {
            return None;
        }
        self.seg.find(id)
    }

    /// Forgets `id` (a live row of this view, whose metadata is `meta`): postings and graph.
    pub(crate) fn forget(&self, id: u64, meta: &StoredMeta) {
        let mut st = self.state.write();
        st.postings.remove(id, meta);
        if let Some(index) = &st.index {
            // The graph may already have dropped it (an id absent from the build).
            let _ = index.remove(id);
        }
    }

    /// Builds an HNSW graph over the live rows (no lock held while it runs).
    pub(crate) fn build_index(&self, metric: Metric, opts: &IndexOptions) -> Result<HnswIndex> {
        let live = self.state.read().postings.live.clone();
        let index = HnswIndex::with_source(
            Arc::new(SegmentVectors(Arc::clone(&self.seg))),
            hnsw_params(metric, opts),
        )?;
        let ids = self.seg.ids();
        let (ids, rows): (Vec<u64>, Vec<usize>) = ids
            .iter()
            .enumerate()
            .filter(|(_, id)| live.contains(**id))
            .map(|(row, &id)| (id, row))
            .unzip();
        index.add_rows(&ids, &rows)?;
        Ok(index)
    }

    /// Notes a stored graph, loaded on first use by [`load_stored_graph`](Self::load_stored_graph).
    pub(crate) fn defer_graph(&self, graph: StoredGraph) {
        let mut st = self.state.write();
        st.stored_graph = Some(graph);
        st.index_tried = true;
    }

    /// Loads the stored graph if one waits (the first search of the segment pays for it).
    pub(crate) fn load_stored_graph(&self) -> Result<()> {
        if self.state.read().stored_graph.is_none() {
            return Ok(());
        }
        let mut st = self.state.write();
        let Some(g) = st.stored_graph.take() else {
            return Ok(());
        };
        let source = Arc::new(SegmentVectors(Arc::clone(&self.seg)));
        match HnswIndex::from_bytes(g.bytes.as_bytes(), Some(source)) {
            Ok(index) => {
                index.set_ef_search(g.ef_search);
                self.install_locked(&mut st, index);
                Ok(())
            }
            Err(e) => {
                let err = Error::corrupt(&g.what, e.to_string());
                st.stored_graph = Some(g);
                Err(err)
            }
        }
    }

    /// Installs a graph, first removing every id that is no longer live.
    pub(crate) fn install_index(&self, index: HnswIndex) {
        let mut st = self.state.write();
        self.install_locked(&mut st, index);
    }

    fn install_locked(&self, st: &mut ViewState, index: HnswIndex) {
        for &id in self.seg.ids() {
            if !st.postings.live.contains(id) {
                let _ = index.remove(id);
            }
        }
        st.index = Some(Arc::new(index));
        st.index_tried = true;
    }

    pub(crate) fn heap_bytes(&self) -> usize {
        let st = self.state.read();
        let index = st.index.as_ref().map_or(0, |i| i.memory().heap_bytes);
        (self.event_time.capacity()
            + self.created_at.capacity()
            + self.expires_at.capacity()
            + self.content_hash.capacity())
            * 8
            + self.importance.capacity() * 4
            + self
                .keys
                .iter()
                .map(|k| 32 + k.1.capacity() + k.2.capacity())
                .sum::<usize>()
            + st.postings.heap_bytes()
            + index
            + match &*self.terms.read() {
                Terms::Loaded(t) => t.heap_bytes(),
                Terms::Stored(_) => 0,
            }
    }
}

pub(crate) fn hnsw_params(metric: Metric, opts: &IndexOptions) -> HnswParams {
    HnswParams {
        m: opts.m,
        ef_construction: opts.ef_construction,
        ef_search: opts.ef_search,
        metric: metric.index_metric(),
        traversal: Traversal::Int8,
        compact_ratio: 0.0,
        ..HnswParams::default()
    }
}

/// Memories not yet flushed: appended under the engine's write lock, scanned exactly. Rows
/// are in arrival order; a replaced memory (same id, by key upsert or update) leaves a dead
/// row behind, and `row_of` points at the id's current row.
#[derive(Debug, Default)]
pub(crate) struct Tail {
    pub(crate) ids: Vec<u64>,
    pub(crate) row_of: HashMap<u64, usize>,
    pub(crate) vectors: Vec<f32>,
    pub(crate) metas: Vec<StoredMeta>,
    pub(crate) content_hash: Vec<u64>,
    pub(crate) postings: Postings,
    /// The keyword index of rows `0..doc count`, caught up by the first keyword query that
    /// needs it (a remember does not pay for tokenizing).
    pub(crate) terms: parking_lot::Mutex<TermIndex>,
    /// When the first memory arrived (monotonic time), for the age-based flush.
    pub(crate) since: Option<std::time::Instant>,
}

impl Tail {
    /// Appends `id` with its content hash (the caller has forgotten its earlier row, if any).
    pub(crate) fn push(&mut self, id: u64, vector: &[f32], meta: StoredMeta, hash: u64) {
        self.postings.add(id, &meta);
        self.row_of.insert(id, self.ids.len());
        self.ids.push(id);
        self.content_hash.push(hash);
        self.vectors.extend_from_slice(vector);
        self.metas.push(meta);
        self.since.get_or_insert_with(std::time::Instant::now);
    }

    /// The row of live memory `id`.
    pub(crate) fn live_row(&self, id: u64) -> Option<usize> {
        if !self.postings.live.contains(id) {
            return None;
        }
        self.row_of.get(&id).copied()
    }

    /// Whether `row` holds its id's current, live version.
    pub(crate) fn is_current(&self, row: usize) -> bool {
        let id = self.ids[row];
        self.row_of.get(&id) == Some(&row) && self.postings.live.contains(id)
    }

    /// The rows of the ids of `set` (which must be live ids of this tail), in id order.
    pub(crate) fn rows_of(&self, set: &RoaringTreemap) -> Vec<u32> {
        set.iter()
            .filter_map(|id| self.row_of.get(&id).map(|&r| r as u32))
            .collect()
    }

    pub(crate) fn vector(&self, row: usize) -> &[f32] {
        let dim = self.vectors.len() / self.ids.len().max(1);
        &self.vectors[row * dim..(row + 1) * dim]
    }

    pub(crate) fn forget(&mut self, id: u64, row: usize) {
        let meta = self.metas[row].clone();
        self.postings.remove(id, &meta);
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    pub(crate) fn heap_bytes(&self) -> usize {
        self.ids.capacity() * 8
            + self.row_of.capacity() * 24
            + self.content_hash.capacity() * 8
            + self.vectors.capacity() * 4
            + self
                .metas
                .iter()
                .map(|m| {
                    std::mem::size_of::<StoredMeta>()
                        + m.text.capacity()
                        + m.metadata.capacity()
                        + m.namespace.capacity()
                })
                .sum::<usize>()
            + self.postings.heap_bytes()
            + self.terms.lock().heap_bytes()
    }

    /// The keyword index, caught up with every row.
    pub(crate) fn term_index(&self) -> parking_lot::MutexGuard<'_, TermIndex> {
        let mut terms = self.terms.lock();
        for row in terms.rows()..self.metas.len() {
            terms.push(row, &self.metas[row].text);
        }
        terms
    }
}
