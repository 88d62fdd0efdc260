//! The store: open / recover, commit with a durability policy (grouped fsyncs across
//! threads), flush, compaction, attachments, verify.

use std::collections::BTreeMap;
use std::fmt;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use parking_lot::{Condvar, Mutex};

use crate::backend::real::RealFs;
use crate::backend::{Backend, FileWriter, LockGuard, LockMode, Mapping};
use crate::codec::crc;
use crate::error::{Error, Result};
use crate::manifest::{self, AttachmentEntry, Manifest, SegmentEntry};
use crate::segment::{self, PutRef, RowRef, Segment};
use crate::wal::{self, Op};

const LOCK_FILE: &str = "LOCK";

/// When a commit is durable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Durability {
    /// fsync the WAL before `commit` returns, once per commit.
    Always,
    /// fsync before `commit` returns, but one fsync covers every commit that arrived while the
    /// previous one ran (group commit across threads).
    Grouped,
    /// No fsync: the commit survives a process crash (it is in the OS page cache) but not a
    /// power cut, until a later durable commit, `flush` or `sync`.
    Never,
}

/// How to open a store.
#[derive(Debug, Clone)]
pub struct Options {
    dim: usize,
    code_bytes: usize,
    create_if_missing: bool,
    read_only: bool,
}

impl Options {
    /// A store of `dim`-dimensional vectors, no codes, created if missing, writable.
    pub fn new(dim: usize) -> Self {
        Options {
            dim,
            code_bytes: 0,
            create_if_missing: true,
            read_only: false,
        }
    }

    /// Every record carries a code of this many bytes (e.g. a binary or int8 code).
    pub fn code_bytes(mut self, code_bytes: usize) -> Self {
        self.code_bytes = code_bytes;
        self
    }

    /// Whether to create the store when the directory holds none (default `true`).
    pub fn create_if_missing(mut self, yes: bool) -> Self {
        self.create_if_missing = yes;
        self
    }

    /// Open read-only: a shared lock, no recovery writes, no commits.
    pub fn read_only(mut self, yes: bool) -> Self {
        self.read_only = yes;
        self
    }
}

/// A group of puts and deletes committed atomically (one WAL record).
#[derive(Debug, Clone, Default)]
pub struct Batch {
    ops: Vec<Op>,
}

impl Batch {
    /// An empty batch.
    pub fn new() -> Self {
        Self::default()
    }

    /// Stores `vector`, `code` and `meta` under `id` (replacing any earlier record).
    pub fn put(&mut self, id: u64, vector: &[f32], code: &[u8], meta: &[u8]) -> &mut Self {
        self.ops.push(Op::Put {
            id,
            vector: vector.to_vec(),
            code: code.to_vec(),
            meta: meta.to_vec(),
        });
        self
    }

    /// Deletes `id`.
    pub fn delete(&mut self, id: u64) -> &mut Self {
        self.ops.push(Op::Delete { id });
        self
    }

    /// Number of operations.
    pub fn len(&self) -> usize {
        self.ops.len()
    }

    /// Whether the batch has no operations.
    pub fn is_empty(&self) -> bool {
        self.ops.is_empty()
    }
}

/// A stored record (an owned copy).
#[derive(Debug, Clone, PartialEq)]
pub struct Record {
    /// Its id.
    pub id: u64,
    /// Its vector.
    pub vector: Vec<f32>,
    /// Its code.
    pub code: Vec<u8>,
    /// Its metadata.
    pub meta: Vec<u8>,
}

/// A torn WAL tail found and cut on open.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TailCut {
    /// The WAL file.
    pub path: PathBuf,
    /// The offset of the first byte dropped.
    pub offset: u64,
    /// How many bytes were dropped.
    pub dropped_bytes: u64,
}

/// What `open` found and repaired.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Recovery {
    /// WAL files replayed.
    pub wal_files: usize,
    /// Committed batches replayed from them.
    pub batches_replayed: usize,
    /// Torn tails cut (normally at most one, from the last crash).
    pub tail_cuts: Vec<TailCut>,
    /// Files no manifest names (left by an interrupted flush or compaction) that were deleted.
    pub orphans_removed: usize,
}

/// What `verify` checked (it returns the first problem as an error).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VerifyReport {
    /// Segments whose every block checksum and structure checked out.
    pub segments: usize,
    /// Checksummed blocks read.
    pub blocks: usize,
    /// Attachments whose checksum checked out.
    pub attachments: usize,
    /// WAL batches re-read and checked.
    pub wal_batches: usize,
}

/// A file attached to a segment, read from a mapping. Deleted once it is replaced (or its
/// segment compacted away) and the last clone is dropped.
pub struct Attachment {
    path: PathBuf,
    map: Mapping,
    obsolete: AtomicBool,
    backend: Arc<dyn Backend>,
}

impl Attachment {
    /// The file's bytes.
    pub fn as_bytes(&self) -> &[u8] {
        self.map.as_bytes()
    }
}

impl fmt::Debug for Attachment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Attachment")
            .field("path", &self.path)
            .field("len", &self.as_bytes().len())
            .finish()
    }
}

impl Drop for Attachment {
    fn drop(&mut self) {
        if self.obsolete.load(Ordering::SeqCst) {
            // Best effort: a leftover file is deleted by the next writable open.
            let _ = self.backend.remove(&self.path);
        }
    }
}

#[derive(Debug, Clone)]
struct PutData {
    vector: Vec<f32>,
    code: Vec<u8>,
    meta: Vec<u8>,
}

struct State {
    manifest: Manifest,
    segments: Vec<Arc<Segment>>,
    attachments: BTreeMap<(u64, String), Arc<Attachment>>,
    /// Records not yet in a segment (`None`: a delete).
    memtable: BTreeMap<u64, Option<PutData>>,
    wal: Option<(Arc<dyn FileWriter>, PathBuf)>,
    /// Bytes appended to WALs since open (the log sequence number of group commit).
    appended: u64,
}

#[derive(Default)]
struct SyncState {
    synced: u64,
    leader: bool,
    failed: bool,
}

/// A durable store of vectors, codes and metadata by `u64` id, in one directory.
///
/// `Store` is `Send + Sync`: commits from many threads are serialized on the WAL and their
/// fsyncs grouped under [`Durability::Grouped`]. Flush and compaction run under the same
/// lock as commits (writers wait meanwhile); readers of [`Store::segments`] never wait.
pub struct Store {
    backend: Arc<dyn Backend>,
    dir: PathBuf,
    read_only: bool,
    dim: usize,
    code_bytes: usize,
    state: Mutex<State>,
    sync: Mutex<SyncState>,
    synced_cv: Condvar,
    poisoned: AtomicBool,
    recovery: Recovery,
    _lock: LockGuard,
}

impl fmt::Debug for Store {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Store")
            .field("dir", &self.dir)
            .field("dim", &self.dim)
            .field("read_only", &self.read_only)
            .finish()
    }
}

fn apply(memtable: &mut BTreeMap<u64, Option<PutData>>, ops: Vec<Op>) {
    for op in ops {
        match op {
            Op::Put {
                id,
                vector,
                code,
                meta,
            } => memtable.insert(id, Some(PutData { vector, code, meta })),
            Op::Delete { id } => memtable.insert(id, None),
        };
    }
}

fn map_segment(backend: &Arc<dyn Backend>, dir: &Path, e: &SegmentEntry) -> Result<Segment> {
    let path = dir.join(manifest::segment_name(e.id));
    let map = backend.map(&path).map_err(|err| Error::io(&path, err))?;
    if map.as_bytes().len() as u64 != e.file_len {
        return Err(Error::corrupt(
            &path,
            0,
            "segment length differs from the manifest's",
        ));
    }
    Segment::open(&path, map, e.id, Some(backend.clone()))
}

fn map_attachment(
    backend: &Arc<dyn Backend>,
    dir: &Path,
    a: &AttachmentEntry,
) -> Result<Attachment> {
    let path = dir.join(manifest::attachment_name(a.file));
    let map = backend.map(&path).map_err(|err| Error::io(&path, err))?;
    if map.as_bytes().len() as u64 != a.len {
        return Err(Error::corrupt(
            &path,
            0,
            "attachment length differs from the manifest's",
        ));
    }
    Ok(Attachment {
        path,
        map,
        obsolete: AtomicBool::new(false),
        backend: backend.clone(),
    })
}

/// Whether `name` is a WAL, segment or attachment file.
fn is_store_file(name: &str) -> bool {
    manifest::parse_name(name, "wal-", ".log").is_some()
        || manifest::parse_name(name, "seg-", ".seg").is_some()
        || manifest::parse_name(name, "att-", ".bin").is_some()
}

fn valid_role(role: &str) -> bool {
    (1..=32).contains(&role.len())
        && role
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
}

impl Store {
    /// Opens (or creates) the store in `dir` on the real file system.
    pub fn open(dir: impl AsRef<Path>, options: Options) -> Result<Store> {
        Self::open_with(Arc::new(RealFs), dir, options)
    }

    /// Opens (or creates) the store in `dir` through `backend`, recovering from a crash:
    /// replays the WAL (cutting and reporting a torn tail); a writable open then writes the
    /// replayed records to a segment, starts a fresh WAL and deletes files no manifest names.
    pub fn open_with(
        backend: Arc<dyn Backend>,
        dir: impl AsRef<Path>,
        options: Options,
    ) -> Result<Store> {
        let dir = dir.as_ref().to_path_buf();
        let ro = options.read_only;
        let exists = backend.exists(&dir).map_err(|e| Error::io(&dir, e))?;
        if !exists {
            if ro || !options.create_if_missing {
                return Err(Error::NotFound { path: dir });
            }
            backend
                .create_dir_all(&dir)
                .map_err(|e| Error::io(&dir, e))?;
            // The new directory's own name must be durable too.
            if let Some(parent) = dir.parent().filter(|p| !p.as_os_str().is_empty()) {
                backend.sync_dir(parent).map_err(|e| Error::io(parent, e))?;
            }
        }
        let lock_path = dir.join(LOCK_FILE);
        let mode = if ro {
            LockMode::Shared
        } else {
            LockMode::Exclusive
        };
        let lock = backend.lock(&lock_path, mode).map_err(|e| {
            if e.kind() == io::ErrorKind::WouldBlock {
                Error::Locked {
                    path: lock_path.clone(),
                }
            } else {
                Error::io(&lock_path, e)
            }
        })?;

        let manifest_path = dir.join(manifest::FILE);
        let has_manifest = backend
            .exists(&manifest_path)
            .map_err(|e| Error::io(&manifest_path, e))?;
        let manifest = if has_manifest {
            let bytes = backend
                .read(&manifest_path)
                .map_err(|e| Error::io(&manifest_path, e))?;
            let m = manifest::decode(&manifest_path, &bytes)?;
            if m.dim as usize != options.dim || m.code_bytes as usize != options.code_bytes {
                return Err(Error::ShapeMismatch {
                    dim: options.dim,
                    code_bytes: options.code_bytes,
                    found_dim: m.dim as usize,
                    found_code: m.code_bytes as usize,
                });
            }
            m
        } else {
            // A store's first durable file is its manifest; WALs, segments and attachments
            // come later. Without a manifest they are not orphans to delete but a lost
            // manifest: refuse rather than start an empty store over them.
            let names = backend.list(&dir).map_err(|e| Error::io(&dir, e))?;
            if names.iter().any(|n| is_store_file(n)) {
                return Err(Error::corrupt(
                    &manifest_path,
                    0,
                    "manifest missing but the directory holds store files",
                ));
            }
            if ro || !options.create_if_missing {
                return Err(Error::NotFound { path: dir });
            }
            let (Ok(dim), Ok(code_bytes)) = (
                u32::try_from(options.dim),
                u32::try_from(options.code_bytes),
            ) else {
                return Err(Error::ShapeMismatch {
                    dim: options.dim,
                    code_bytes: options.code_bytes,
                    found_dim: u32::MAX as usize,
                    found_code: u32::MAX as usize,
                });
            };
            let m = Manifest {
                dim,
                code_bytes,
                next_file: 1,
                wal_start: 1,
                segments: Vec::new(),
            };
            manifest::store(&*backend, &dir, &m)?;
            m
        };

        let mut segments = Vec::with_capacity(manifest.segments.len());
        let mut attachments = BTreeMap::new();
        for e in &manifest.segments {
            segments.push(Arc::new(map_segment(&backend, &dir, e)?));
            for a in &e.attachments {
                let att = map_attachment(&backend, &dir, a)?;
                attachments.insert((e.id, a.role.clone()), Arc::new(att));
            }
        }

        let names = backend.list(&dir).map_err(|e| Error::io(&dir, e))?;
        // The manifest's WAL was created (and named durably) before the manifest; only a
        // brand-new store's first manifest (`wal_start == next_file`) precedes its WAL.
        let first_wal = manifest::wal_name(manifest.wal_start);
        if manifest.wal_start < manifest.next_file && !names.contains(&first_wal) {
            return Err(Error::corrupt(
                dir.join(first_wal),
                0,
                "the WAL the manifest names is missing",
            ));
        }
        let mut wals: Vec<u64> = names
            .iter()
            .filter_map(|n| manifest::parse_name(n, "wal-", ".log"))
            .filter(|&n| n >= manifest.wal_start)
            .collect();
        wals.sort_unstable();
        let mut recovery = Recovery {
            wal_files: wals.len(),
            ..Recovery::default()
        };
        let mut memtable = BTreeMap::new();
        for &n in &wals {
            let path = dir.join(manifest::wal_name(n));
            let bytes = backend.read(&path).map_err(|e| Error::io(&path, e))?;
            let contents = wal::read(&path, &bytes, options.dim, options.code_bytes)?;
            if let Some((offset, dropped_bytes)) = contents.tail_cut {
                recovery.tail_cuts.push(TailCut {
                    path: path.clone(),
                    offset,
                    dropped_bytes,
                });
            }
            recovery.batches_replayed += contents.batches.len();
            for batch in contents.batches {
                apply(&mut memtable, batch);
            }
        }

        let store = Store {
            backend,
            dir,
            read_only: ro,
            dim: options.dim,
            code_bytes: options.code_bytes,
            state: Mutex::new(State {
                manifest,
                segments,
                attachments,
                memtable,
                wal: None,
                appended: 0,
            }),
            sync: Mutex::default(),
            synced_cv: Condvar::new(),
            poisoned: AtomicBool::new(false),
            recovery,
            _lock: lock,
        };
        if !ro {
            // Recovered records go to a segment and a fresh WAL starts: a torn tail is then
            // never appended after, and old WALs are deleted.
            let mut st = store.state.lock();
            store.flush_locked(&mut st)?;
            drop(st);
            let removed = store.remove_orphans();
            let mut store = store;
            store.recovery.orphans_removed = removed;
            return Ok(store);
        }
        Ok(store)
    }

    /// What `open` found and repaired.
    pub fn recovery(&self) -> &Recovery {
        &self.recovery
    }

    /// The vector dimension.
    pub fn dim(&self) -> usize {
        self.dim
    }

    /// The code length in bytes.
    pub fn code_bytes(&self) -> usize {
        self.code_bytes
    }

    /// The store's directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn check_writable(&self) -> Result<()> {
        if self.read_only {
            return Err(Error::ReadOnly);
        }
        if self.poisoned.load(Ordering::SeqCst) {
            return Err(Error::Poisoned);
        }
        Ok(())
    }

    /// Marks the store failed: no write is retried after a failed write or fsync (the kernel
    /// may have dropped the dirty pages — PostgreSQL's "fsyncgate").
    fn poison(&self) {
        self.poisoned.store(true, Ordering::SeqCst);
        self.sync.lock().failed = true;
        self.synced_cv.notify_all();
    }

    fn failed<T>(&self, e: Error) -> Result<T> {
        self.poison();
        Err(e)
    }

    /// Commits `batch` atomically: it is appended to the WAL as one checksummed record and is
    /// visible to reads when this returns; it is durable when this returns unless
    /// `durability` is [`Durability::Never`]. After an error the batch is all or nothing on
    /// disk (a reopen finds it whole or not at all), and after an I/O error the store refuses
    /// writes until reopened ([`Error::Poisoned`]; fsync errors are not retried).
    pub fn commit(&self, batch: Batch, durability: Durability) -> Result<()> {
        self.check_writable()?;
        for op in &batch.ops {
            if let Op::Put { vector, code, .. } = op {
                if vector.len() != self.dim {
                    return Err(Error::DimensionMismatch {
                        expected: self.dim,
                        got: vector.len(),
                    });
                }
                if code.len() != self.code_bytes {
                    return Err(Error::CodeLengthMismatch {
                        expected: self.code_bytes,
                        got: code.len(),
                    });
                }
            }
        }
        if batch.ops.is_empty() {
            return Ok(());
        }
        let payload = wal::encode_payload(&batch.ops);
        if payload.len() > wal::MAX_PAYLOAD {
            return Err(Error::RecordTooLarge {
                bytes: payload.len(),
                limit: wal::MAX_PAYLOAD,
            });
        }
        let record = wal::encode_record(&payload);
        let lsn = {
            let mut st = self.state.lock();
            self.check_writable()?;
            let Some((wal, path)) = st.wal.clone() else {
                return Err(Error::Poisoned);
            };
            if let Err(e) = wal.write_all(&record) {
                return self.failed(Error::io(&path, e));
            }
            st.appended += record.len() as u64;
            let lsn = st.appended;
            if durability == Durability::Always {
                if let Err(e) = wal.sync() {
                    return self.failed(Error::io(&path, e));
                }
                let mut s = self.sync.lock();
                s.synced = s.synced.max(lsn);
            }
            apply(&mut st.memtable, batch.ops);
            lsn
        };
        if durability == Durability::Grouped {
            self.wait_durable(lsn)?;
        }
        Ok(())
    }

    /// Makes every commit so far durable (one fsync of the WAL).
    pub fn sync(&self) -> Result<()> {
        self.check_writable()?;
        let lsn = self.state.lock().appended;
        self.wait_durable(lsn)
    }

    /// Group commit: wait until the WAL is synced past `lsn`, or become the one thread that
    /// syncs it for everyone waiting.
    fn wait_durable(&self, lsn: u64) -> Result<()> {
        let mut s = self.sync.lock();
        loop {
            if s.failed {
                return Err(Error::Poisoned);
            }
            if s.synced >= lsn {
                return Ok(());
            }
            if !s.leader {
                break;
            }
            self.synced_cv.wait(&mut s);
        }
        s.leader = true;
        drop(s);
        // Everything appended up to now rides on this fsync.
        let (target, wal) = {
            let st = self.state.lock();
            (st.appended, st.wal.clone())
        };
        let result = match &wal {
            Some((file, path)) => file.sync().map_err(|e| Error::io(path, e)),
            None => Err(Error::Poisoned),
        };
        let mut s = self.sync.lock();
        s.leader = false;
        match result {
            Ok(()) => s.synced = s.synced.max(target),
            Err(_) => {
                s.failed = true;
                self.poisoned.store(true, Ordering::SeqCst);
            }
        }
        drop(s);
        self.synced_cv.notify_all();
        result
    }

    /// Writes the in-memory records to a new segment, starts a fresh WAL and swaps the
    /// manifest; returns the new segment's id (`None` if there was nothing to write). Every
    /// earlier commit is durable afterwards.
    pub fn flush(&self) -> Result<Option<u64>> {
        self.check_writable()?;
        let mut st = self.state.lock();
        self.check_writable()?;
        self.flush_locked(&mut st)
    }

    fn flush_locked(&self, st: &mut State) -> Result<Option<u64>> {
        let mut m = st.manifest.clone();
        let mut new_seg = None;
        if !st.memtable.is_empty() {
            let id = m.next_file;
            m.next_file += 1;
            let path = self.dir.join(manifest::segment_name(id));
            let rows: Vec<RowRef<'_>> = st
                .memtable
                .iter()
                .map(|(&id, e)| RowRef {
                    id,
                    put: e.as_ref().map(|p| PutRef {
                        vector: &p.vector,
                        code: &p.code,
                        meta: &p.meta,
                    }),
                })
                .collect();
            let file_len = match self.write_file(&path, |f| {
                segment::write(f, id, self.dim, self.code_bytes, &rows)
            }) {
                Ok(len) => len,
                Err(e) => return self.failed(e),
            };
            m.segments.push(SegmentEntry {
                id,
                file_len,
                attachments: Vec::new(),
            });
            new_seg = Some(id);
        }
        let wal_n = m.next_file;
        m.next_file += 1;
        let wal_path = self.dir.join(manifest::wal_name(wal_n));
        let header = wal::encode_header(self.dim as u32, self.code_bytes as u32);
        let wal = match self.backend.create(&wal_path).and_then(|f| {
            f.write_all(&header)?;
            f.sync()?;
            Ok(f)
        }) {
            Ok(f) => f,
            Err(e) => return self.failed(Error::io(&wal_path, e)),
        };
        m.wal_start = wal_n;
        if let Err(e) = manifest::store(&*self.backend, &self.dir, &m) {
            return self.failed(e);
        }
        // The new manifest is durable: install it.
        if let Some(id) = new_seg {
            let entry = m.segments.last().expect("just pushed");
            match map_segment(&self.backend, &self.dir, entry) {
                Ok(seg) => st.segments.push(Arc::new(seg)),
                Err(e) => return self.failed(e),
            }
            debug_assert_eq!(st.segments.last().map(|s| s.id()), Some(id));
        }
        st.manifest = m;
        st.memtable.clear();
        st.wal = Some((wal, wal_path));
        {
            let mut s = self.sync.lock();
            s.synced = s.synced.max(st.appended);
        }
        self.synced_cv.notify_all();
        self.remove_old_wals(wal_n);
        Ok(new_seg)
    }

    /// Creates `path`, fills it with `write`, fsyncs it.
    fn write_file(
        &self,
        path: &Path,
        write: impl FnOnce(&dyn FileWriter) -> io::Result<u64>,
    ) -> Result<u64> {
        let f = self.backend.create(path).map_err(|e| Error::io(path, e))?;
        let len = write(&*f).map_err(|e| Error::io(path, e))?;
        f.sync().map_err(|e| Error::io(path, e))?;
        Ok(len)
    }

    fn remove_old_wals(&self, keep_from: u64) {
        let Ok(names) = self.backend.list(&self.dir) else {
            return;
        };
        for n in names {
            if manifest::parse_name(&n, "wal-", ".log").is_some_and(|x| x < keep_from) {
                // Best effort: the manifest already marks it obsolete.
                let _ = self.backend.remove(&self.dir.join(n));
            }
        }
    }

    /// Deletes files that no manifest names: segments and attachments of an interrupted flush,
    /// compaction or attach, obsolete WALs, a stale temporary manifest.
    fn remove_orphans(&self) -> usize {
        let st = self.state.lock();
        let Ok(names) = self.backend.list(&self.dir) else {
            return 0;
        };
        let live_segments: Vec<u64> = st.manifest.segments.iter().map(|s| s.id).collect();
        let live_files: Vec<u64> = st
            .manifest
            .segments
            .iter()
            .flat_map(|s| s.attachments.iter().map(|a| a.file))
            .collect();
        let mut removed = 0;
        for n in names {
            let orphan = n == manifest::TEMP
                || manifest::parse_name(&n, "seg-", ".seg")
                    .is_some_and(|x| !live_segments.contains(&x))
                || manifest::parse_name(&n, "att-", ".bin")
                    .is_some_and(|x| !live_files.contains(&x))
                || manifest::parse_name(&n, "wal-", ".log")
                    .is_some_and(|x| x < st.manifest.wal_start);
            if orphan && self.backend.remove(&self.dir.join(&n)).is_ok() {
                removed += 1;
            }
        }
        removed
    }

    /// Merges every segment into one, dropping deleted and superseded records (records not yet
    /// flushed stay in memory and the WAL). Checks every segment's checksums first, so
    /// corruption is reported, not copied. Old files are deleted once no reader holds them.
    pub fn compact(&self) -> Result<()> {
        self.compact_newest(usize::MAX).map(|_| ())
    }

    /// Merges the newest `count` segments (all of them if `count` is larger) into one, in
    /// their place; returns the merged segment's id (`None` if nothing was merged or nothing
    /// survived). Superseded records are dropped; deletes are dropped too when the merge
    /// reaches the oldest segment, and otherwise kept as delete rows, since an older segment
    /// may still hold the id. Attachments of the merged segments are dropped with them.
    /// Checks the merged segments' checksums first.
    pub fn compact_newest(&self, count: usize) -> Result<Option<u64>> {
        self.check_writable()?;
        let mut st = self.state.lock();
        self.check_writable()?;
        let n = st.segments.len();
        let count = count.min(n);
        if count == 0 || (count == 1 && n > 1) {
            return Ok(None);
        }
        let first = n - count;
        let keep_deletes = first > 0;
        for seg in &st.segments[first..] {
            seg.verify()?;
        }
        // The newest row of each id among the merged segments.
        let mut winners: BTreeMap<u64, (usize, usize)> = BTreeMap::new();
        for (si, seg) in st.segments.iter().enumerate().skip(first).rev() {
            for (row, &id) in seg.ids().iter().enumerate() {
                winners.entry(id).or_insert((si, row));
            }
        }
        let mut rows = Vec::with_capacity(winners.len());
        for (&id, &(si, row)) in &winners {
            let seg = &st.segments[si];
            if seg.is_live(row) {
                rows.push(RowRef {
                    id,
                    put: Some(PutRef {
                        vector: seg.vector(row),
                        code: seg.code(row),
                        meta: seg.meta(row)?,
                    }),
                });
            } else if keep_deletes {
                rows.push(RowRef { id, put: None });
            }
        }
        let mut m = st.manifest.clone();
        let merged_ids: Vec<u64> = st.segments[first..].iter().map(|s| s.id()).collect();
        m.segments.retain(|e| !merged_ids.contains(&e.id));
        let mut new_id = None;
        if !rows.is_empty() {
            let id = m.next_file;
            m.next_file += 1;
            let path = self.dir.join(manifest::segment_name(id));
            let file_len = match self.write_file(&path, |f| {
                segment::write(f, id, self.dim, self.code_bytes, &rows)
            }) {
                Ok(len) => len,
                Err(e) => return self.failed(e),
            };
            m.segments.push(SegmentEntry {
                id,
                file_len,
                attachments: Vec::new(),
            });
            new_id = Some(id);
        }
        drop(rows);
        if let Err(e) = manifest::store(&*self.backend, &self.dir, &m) {
            return self.failed(e);
        }
        let new = match m
            .segments
            .last()
            .filter(|e| Some(e.id) == new_id)
            .map(|e| map_segment(&self.backend, &self.dir, e))
        {
            Some(Ok(seg)) => Some(Arc::new(seg)),
            Some(Err(e)) => return self.failed(e),
            None => None,
        };
        for seg in st.segments.drain(first..) {
            seg.set_obsolete();
        }
        st.segments.extend(new);
        let dropped: Vec<(u64, String)> = st
            .attachments
            .keys()
            .filter(|(seg, _)| merged_ids.contains(seg))
            .cloned()
            .collect();
        for key in dropped {
            if let Some(att) = st.attachments.remove(&key) {
                att.obsolete.store(true, Ordering::SeqCst);
            }
        }
        st.manifest = m;
        Ok(new_id)
    }

    /// Writes `bytes` as the `role` file of live segment `segment` (e.g. an index built over
    /// it), replacing any earlier file of that role, atomically with a manifest swap. The file
    /// is deleted with its segment.
    pub fn attach(&self, segment: u64, role: &str, bytes: &[u8]) -> Result<()> {
        if !valid_role(role) {
            return Err(Error::InvalidRole { role: role.into() });
        }
        self.check_writable()?;
        let mut st = self.state.lock();
        self.check_writable()?;
        let mut m = st.manifest.clone();
        let Some(entry) = m.segments.iter_mut().find(|s| s.id == segment) else {
            return Err(Error::UnknownSegment { id: segment });
        };
        let n = m.next_file;
        m.next_file += 1;
        let path = self.dir.join(manifest::attachment_name(n));
        let written = self.write_file(&path, |f| f.write_all(bytes).map(|()| bytes.len() as u64));
        if let Err(e) = written {
            return self.failed(e);
        }
        let a = AttachmentEntry {
            role: role.into(),
            file: n,
            len: bytes.len() as u64,
            crc: crc(bytes),
        };
        entry.attachments.retain(|x| x.role != role);
        entry.attachments.push(a.clone());
        if let Err(e) = manifest::store(&*self.backend, &self.dir, &m) {
            return self.failed(e);
        }
        let att = match map_attachment(&self.backend, &self.dir, &a) {
            Ok(att) => att,
            Err(e) => return self.failed(e),
        };
        if let Some(old) = st.attachments.insert((segment, role.into()), Arc::new(att)) {
            old.obsolete.store(true, Ordering::SeqCst);
        }
        st.manifest = m;
        Ok(())
    }

    /// The `role` file attached to segment `segment`, if any.
    pub fn attachment(&self, segment: u64, role: &str) -> Option<Arc<Attachment>> {
        self.state
            .lock()
            .attachments
            .get(&(segment, role.to_owned()))
            .cloned()
    }

    /// The live segments, oldest first (a later segment's row wins over an earlier one's for
    /// the same id; records not yet flushed are not in any segment).
    pub fn segments(&self) -> Vec<Arc<Segment>> {
        self.state.lock().segments.clone()
    }

    /// The record stored under `id`.
    pub fn get(&self, id: u64) -> Result<Option<Record>> {
        let segments = {
            let st = self.state.lock();
            if let Some(e) = st.memtable.get(&id) {
                return Ok(e.as_ref().map(|p| Record {
                    id,
                    vector: p.vector.clone(),
                    code: p.code.clone(),
                    meta: p.meta.clone(),
                }));
            }
            st.segments.clone()
        };
        for seg in segments.iter().rev() {
            if let Some(row) = seg.find(id) {
                if !seg.is_live(row) {
                    return Ok(None);
                }
                return Ok(Some(Record {
                    id,
                    vector: seg.vector(row).to_vec(),
                    code: seg.code(row).to_vec(),
                    meta: seg.meta(row)?.to_vec(),
                }));
            }
        }
        Ok(None)
    }

    /// The operations not yet flushed to a segment, by ascending id: `Some` for a put, `None`
    /// for a delete (a copy). A writable open flushes what it recovers, so this is what was
    /// committed since the last flush; a read-only open also sees the WAL it replayed.
    pub fn pending(&self) -> Vec<(u64, Option<Record>)> {
        let st = self.state.lock();
        st.memtable
            .iter()
            .map(|(&id, e)| {
                let rec = e.as_ref().map(|p| Record {
                    id,
                    vector: p.vector.clone(),
                    code: p.code.clone(),
                    meta: p.meta.clone(),
                });
                (id, rec)
            })
            .collect()
    }

    /// Every record, by ascending id (a full copy: for tests and tools, not for hot paths).
    pub fn records(&self) -> Result<Vec<Record>> {
        let st = self.state.lock();
        let mut all: BTreeMap<u64, Option<Record>> = BTreeMap::new();
        for seg in &st.segments {
            for (row, &id) in seg.ids().iter().enumerate() {
                let rec = if seg.is_live(row) {
                    Some(Record {
                        id,
                        vector: seg.vector(row).to_vec(),
                        code: seg.code(row).to_vec(),
                        meta: seg.meta(row)?.to_vec(),
                    })
                } else {
                    None
                };
                all.insert(id, rec);
            }
        }
        for (&id, e) in &st.memtable {
            all.insert(
                id,
                e.as_ref().map(|p| Record {
                    id,
                    vector: p.vector.clone(),
                    code: p.code.clone(),
                    meta: p.meta.clone(),
                }),
            );
        }
        Ok(all.into_values().flatten().collect())
    }

    /// Checks every checksum: each segment's blocks and structure, each attachment, the
    /// manifest on disk and the current WAL files. Returns the first problem found as an
    /// error naming the file and byte offset.
    pub fn verify(&self) -> Result<VerifyReport> {
        let st = self.state.lock();
        let mut report = VerifyReport::default();
        let manifest_path = self.dir.join(manifest::FILE);
        let bytes = self
            .backend
            .read(&manifest_path)
            .map_err(|e| Error::io(&manifest_path, e))?;
        if manifest::decode(&manifest_path, &bytes)? != st.manifest {
            return Err(Error::corrupt(
                &manifest_path,
                0,
                "manifest on disk differs from the open store's",
            ));
        }
        for seg in &st.segments {
            report.blocks += seg.verify()?;
            report.segments += 1;
        }
        for e in &st.manifest.segments {
            for a in &e.attachments {
                if let Some(att) = st.attachments.get(&(e.id, a.role.clone())) {
                    if crc(att.as_bytes()) != a.crc {
                        return Err(Error::corrupt(&att.path, 0, "bad attachment checksum"));
                    }
                    report.attachments += 1;
                }
            }
        }
        let names = self
            .backend
            .list(&self.dir)
            .map_err(|e| Error::io(&self.dir, e))?;
        for n in names {
            if manifest::parse_name(&n, "wal-", ".log").is_some_and(|x| x >= st.manifest.wal_start)
            {
                let path = self.dir.join(&n);
                let bytes = self.backend.read(&path).map_err(|e| Error::io(&path, e))?;
                let contents = wal::read(&path, &bytes, self.dim, self.code_bytes)?;
                report.wal_batches += contents.batches.len();
            }
        }
        Ok(report)
    }
}
