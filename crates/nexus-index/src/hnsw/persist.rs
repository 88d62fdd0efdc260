//! The index file: a versioned, checksummed, little-endian layout of aligned arrays (see the
//! crate docs), and its validating reader. Bytes from disk are untrusted: every length is
//! checked against the file size before anything is allocated or indexed.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;

use nexus_quant::{Int8Symmetric, LeReader};

use super::graph::{MAX_LEVEL, NONE, Store, Vectors};
use super::{HnswIndex, HnswParams, Traversal};
use crate::error::{Corrupt, Error, Result, corrupt};
use crate::metric::Metric;
use crate::source::VectorSource;

const MAGIC: &[u8; 8] = b"NXHNSW01";
/// The format version this build writes and reads.
pub(crate) const VERSION: u32 = 1;
const HEADER: usize = 128;
const ALIGN: usize = 64;
const TRAILER: usize = 8;

fn pad(buf: &mut Vec<u8>) {
    while !buf.len().is_multiple_of(ALIGN) {
        buf.push(0);
    }
}

impl HnswIndex {
    /// The index as bytes in the file format (a consistent snapshot: writers wait).
    pub fn to_bytes(&self) -> Vec<u8> {
        let store = self.store.write();
        let n = store.len();
        let (entry, entry_level) = *store.entry.lock();
        let codec = store
            .codes
            .as_ref()
            .and_then(|c| c.codec.as_ref().map(|k| (c, k)));
        let mut b = Vec::with_capacity(HEADER + n * (64 + store.dim * 5));
        b.extend_from_slice(MAGIC);
        b.extend_from_slice(&VERSION.to_le_bytes());
        b.extend_from_slice(&(self.dim as u32).to_le_bytes());
        b.extend_from_slice(&(self.params.m as u32).to_le_bytes());
        b.extend_from_slice(&(self.params.ef_construction as u32).to_le_bytes());
        b.extend_from_slice(&(self.ef_search.load(Relaxed) as u32).to_le_bytes());
        b.push(self.params.metric.tag());
        b.push(u8::from(self.params.traversal == Traversal::Int8));
        b.push(u8::from(matches!(store.vectors, Vectors::Source { .. })));
        b.push(u8::from(codec.is_some()));
        b.extend_from_slice(&(n as u64).to_le_bytes());
        b.extend_from_slice(&entry.to_le_bytes());
        b.extend_from_slice(&u32::from(entry_level).to_le_bytes());
        b.extend_from_slice(&self.params.seed.to_le_bytes());
        b.extend_from_slice(&self.params.compact_ratio.to_le_bytes());
        let trained = codec.map_or(0, |(c, _)| c.trained_on as u64);
        b.extend_from_slice(&trained.to_le_bytes());
        b.resize(HEADER, 0);
        for id in &store.ids {
            b.extend_from_slice(&id.to_le_bytes());
        }
        pad(&mut b);
        b.extend_from_slice(&store.levels);
        pad(&mut b);
        b.extend(store.deleted.iter().map(|d| u8::from(d.load(Relaxed))));
        pad(&mut b);
        let mut list = Vec::with_capacity(store.m0);
        for u in 0..n as u32 {
            store.neighbours_into(u, 0, &mut list);
            b.extend_from_slice(&(list.len() as u32).to_le_bytes());
            for i in 0..store.m0 {
                b.extend_from_slice(&list.get(i).copied().unwrap_or(0).to_le_bytes());
            }
        }
        pad(&mut b);
        for list in &store.upper {
            for w in list.iter() {
                b.extend_from_slice(&w.load(Relaxed).to_le_bytes());
            }
        }
        pad(&mut b);
        match &store.vectors {
            Vectors::Owned(_) | Vectors::Inline => {
                for u in 0..n as u32 {
                    for x in store.vector(u) {
                        b.extend_from_slice(&x.to_le_bytes());
                    }
                }
            }
            Vectors::Source { rows, .. } => rows
                .iter()
                .for_each(|x| b.extend_from_slice(&x.to_le_bytes())),
        }
        pad(&mut b);
        if let Some((_, k)) = codec {
            k.scales()
                .iter()
                .for_each(|x| b.extend_from_slice(&x.to_le_bytes()));
            pad(&mut b);
            for u in 0..n as u32 {
                b.extend(store.code(u).iter().map(|&x| x as u8));
            }
            pad(&mut b);
        }
        let crc = crc32c::crc32c(&b);
        b.extend_from_slice(&crc.to_le_bytes());
        b.extend_from_slice(&[0; 4]);
        b
    }

    /// Writes the index to `path` (to a temporary file first, then renamed into place).
    ///
    /// # Errors
    /// [`Error::Io`].
    pub fn save(&self, path: impl AsRef<Path>) -> Result<()> {
        let path = path.as_ref();
        let bytes = self.to_bytes();
        let tmp = path.with_extension("tmp");
        let io = |source| Error::Io {
            path: path.to_owned(),
            source,
        };
        std::fs::write(&tmp, &bytes).map_err(io)?;
        std::fs::rename(&tmp, path).map_err(io)
    }

    /// Loads an index that owns its vectors from `path`.
    ///
    /// # Errors
    /// [`Error::Io`], [`Error::Corrupt`], [`Error::UnsupportedVersion`].
    pub fn load(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let bytes = std::fs::read(path).map_err(|source| Error::Io {
            path: path.to_owned(),
            source,
        })?;
        Self::from_bytes(&bytes, None)
    }

    /// Loads an index saved with a [`VectorSource`], reading vectors from `source` again.
    ///
    /// # Errors
    /// As [`load`](Self::load); [`Error::SourceRow`] if a stored row is beyond `source`.
    pub fn load_with_source(path: impl AsRef<Path>, source: Arc<dyn VectorSource>) -> Result<Self> {
        let path = path.as_ref();
        let bytes = std::fs::read(path).map_err(|source| Error::Io {
            path: path.to_owned(),
            source,
        })?;
        Self::from_bytes(&bytes, Some(source))
    }

    /// Parses and validates the file format (see [`to_bytes`](Self::to_bytes)).
    ///
    /// # Errors
    /// As [`load_with_source`](Self::load_with_source).
    pub fn from_bytes(bytes: &[u8], source: Option<Arc<dyn VectorSource>>) -> Result<Self> {
        let len = bytes.len();
        if len < HEADER + TRAILER {
            return Err(corrupt(Corrupt::Truncated {
                needed: (HEADER + TRAILER) as u64,
                len: len as u64,
            }));
        }
        if &bytes[..8] != MAGIC {
            return Err(corrupt(Corrupt::Magic));
        }
        // Header fields through the workspace's little-endian reader; the length is checked
        // above, so a read that ran out would mean a truncated file.
        let short = || {
            corrupt(Corrupt::Truncated {
                needed: (HEADER + TRAILER) as u64,
                len: len as u64,
            })
        };
        let mut r = LeReader::new(&bytes[8..HEADER]);
        let version = r.u32().ok_or_else(short)?;
        if version != VERSION {
            return Err(Error::UnsupportedVersion {
                found: version,
                supported: VERSION,
            });
        }
        let body = &bytes[..len - TRAILER];
        let stored = LeReader::new(&bytes[len - TRAILER..])
            .u32()
            .ok_or_else(short)?;
        if crc32c::crc32c(body) != stored {
            return Err(corrupt(Corrupt::Checksum));
        }
        let header = |field| corrupt(Corrupt::Header { field });
        let dim = r.u32().ok_or_else(short)? as usize;
        let m = r.u32().ok_or_else(short)? as usize;
        let ef_construction = r.u32().ok_or_else(short)? as usize;
        let ef_search = r.u32().ok_or_else(short)? as usize;
        let metric = Metric::from_tag(r.u8().ok_or_else(short)?).ok_or_else(|| header("metric"))?;
        let traversal = match r.u8().ok_or_else(short)? {
            0 => Traversal::F32,
            1 => Traversal::Int8,
            _ => return Err(header("traversal")),
        };
        let sourced = match r.u8().ok_or_else(short)? {
            0 => false,
            1 => true,
            _ => return Err(header("storage")),
        };
        let has_codec = match r.u8().ok_or_else(short)? {
            0 => false,
            1 => true,
            _ => return Err(header("codec")),
        };
        let n = r.u64().ok_or_else(short)?;
        let entry = r.u32().ok_or_else(short)?;
        let entry_level = r.u32().ok_or_else(short)?;
        let seed = r.u64().ok_or_else(short)?;
        let compact_ratio = r.f32().ok_or_else(short)?;
        let trained_on = r.u64().ok_or_else(short)?;
        if !(1..=nexus_quant::MAX_DIM).contains(&dim) {
            return Err(header("dim"));
        }
        let params = HnswParams {
            m,
            ef_construction,
            ef_search,
            metric,
            traversal,
            seed,
            compact_ratio,
        };
        params.validate().map_err(|_| header("params"))?;
        if n >= u64::from(NONE) || trained_on > n {
            return Err(header("n"));
        }
        if has_codec && traversal != Traversal::Int8 {
            return Err(header("codec"));
        }
        if sourced != source.is_some() {
            return Err(header("storage"));
        }
        let n = n as usize;
        let m0 = 2 * m;
        // Sections in order; each is checked against the file before it is read.
        let mut sec = Sections { body, pos: HEADER };
        let ids = decode(sec.take(n, 8)?, u64::from_le_bytes);
        let levels = sec.take(n, 1)?.to_vec();
        if let Some(u) = levels.iter().position(|&l| l > MAX_LEVEL) {
            return Err(corrupt(Corrupt::Graph { node: u as u64 }));
        }
        let deleted_raw = sec.take(n, 1)?;
        if deleted_raw.iter().any(|&d| d > 1) {
            return Err(header("deleted"));
        }
        let level0 = decode(sec.take(n * (1 + m0), 4)?, u32::from_le_bytes);
        let upper_words: usize = levels.iter().map(|&l| usize::from(l) * (1 + m)).sum();
        let upper_flat = decode(sec.take(upper_words, 4)?, u32::from_le_bytes);
        // f32 vectors (owned) or source rows.
        let (flat, rows): (Vec<f32>, Vec<u32>) = match &source {
            None => {
                let v = decode(sec.take(n * dim, 4)?, f32::from_le_bytes);
                if crate::metric::check_finite(&v, 0).is_err() {
                    return Err(corrupt(Corrupt::NonFinite));
                }
                (v, Vec::new())
            }
            Some(s) => {
                if s.dim() != dim {
                    return Err(Error::DimensionMismatch {
                        expected: dim,
                        got: s.dim(),
                    });
                }
                let rows = decode(sec.take(n, 4)?, u32::from_le_bytes);
                if let Some(&row) = rows.iter().find(|&&r| r as usize >= s.len()) {
                    return Err(Error::SourceRow {
                        row: u64::from(row),
                        len: s.len(),
                    });
                }
                (Vec::new(), rows)
            }
        };
        let (codec, codes): (Option<Int8Symmetric>, &[u8]) =
            if traversal == Traversal::Int8 && has_codec {
                let scales = decode(sec.take(dim, 4)?, f32::from_le_bytes);
                let codec =
                    Int8Symmetric::from_scales(scales).map_err(|_| corrupt(Corrupt::NonFinite))?;
                (Some(codec), sec.take(n * dim, 1)?)
            } else {
                (None, &[])
            };
        if sec.pos != body.len() {
            return Err(corrupt(Corrupt::Trailing {
                extra: (body.len() - sec.pos) as u64,
            }));
        }

        // Graph structure: counts, neighbour numbers and their levels, entry point.
        for u in 0..n {
            let list = &level0[u * (1 + m0)..(u + 1) * (1 + m0)];
            if list[0] as usize > m0 || list[1..=list[0] as usize].iter().any(|&v| v as usize >= n)
            {
                return Err(corrupt(Corrupt::Graph { node: u as u64 }));
            }
        }
        let mut off = 0;
        for u in 0..n {
            let l = usize::from(levels[u]);
            let w = l * (1 + m);
            let block = &upper_flat[off..off + w];
            off += w;
            for (li, list) in block.chunks_exact(1 + m).enumerate() {
                let count = list[0] as usize;
                let bad = count > m
                    || list[1..=count.min(m)]
                        .iter()
                        .any(|&v| v as usize >= n || usize::from(levels[v as usize]) < li + 1);
                if bad {
                    return Err(corrupt(Corrupt::Graph { node: u as u64 }));
                }
            }
        }
        let entry_ok = if n == 0 {
            entry == NONE
        } else {
            (entry as usize) < n && u32::from(levels[entry as usize]) == entry_level
        };
        if !entry_ok {
            return Err(corrupt(Corrupt::Graph {
                node: u64::from(entry),
            }));
        }
        let mut map = HashMap::with_capacity(n);
        let mut n_deleted = 0;
        for (u, (&id, &d)) in ids.iter().zip(deleted_raw).enumerate() {
            if d == 1 {
                n_deleted += 1;
            } else if map.insert(id, u as u32).is_some() {
                return Err(corrupt(Corrupt::DuplicateId { id }));
            }
        }
        // Everything checked: lay the nodes out.
        let mut store = Store::new(dim, m, metric, traversal == Traversal::Int8, source);
        store.reserve(n);
        for u in 0..n {
            let vector = (!flat.is_empty()).then(|| &flat[u * dim..(u + 1) * dim]);
            let row = rows.get(u).copied().unwrap_or(0);
            store.push_node(ids[u], levels[u], vector, row);
        }
        drop(flat);
        let mut off = 0;
        for u in 0..n {
            let node = u as u32;
            let list = &level0[u * (1 + m0)..(u + 1) * (1 + m0)];
            store.set_links(node, 0, &list[1..=list[0] as usize]);
            for l in 1..=levels[u] {
                let list = &upper_flat[off..off + 1 + m];
                off += 1 + m;
                store.set_links(node, l, &list[1..=list[0] as usize]);
            }
            if deleted_raw[u] == 1 {
                store.deleted[u].store(true, Relaxed);
            }
        }
        store.n_deleted.store(n_deleted, Relaxed);
        *store.entry.lock() = (entry, entry_level as u8);
        if let Some(c) = store.codes.as_mut() {
            c.trained_on = trained_on as usize;
        }
        if let Some(codec) = codec {
            for u in 0..n {
                let code: &[i8] = bytemuck::cast_slice(&codes[u * dim..(u + 1) * dim]);
                let norm = codec.decoded_norm2(code).unwrap_or(0.0); // `code` is `dim` long
                store.set_code(u as u32, code, norm);
            }
            if let Some(c) = store.codes.as_mut() {
                c.codec = Some(codec);
            }
        }
        Ok(Self::from_parts(dim, params, store, map))
    }
}

/// A section of little-endian numbers of `N` bytes each, decoded with `from_le` (for example
/// `u32::from_le_bytes`); its length is a multiple of `N` ([`Sections::take`]).
fn decode<const N: usize, T>(bytes: &[u8], from_le: fn([u8; N]) -> T) -> Vec<T> {
    bytes
        .as_chunks::<N>()
        .0
        .iter()
        .map(|&c| from_le(c))
        .collect()
}

/// The aligned sections after the header.
struct Sections<'a> {
    body: &'a [u8],
    pos: usize,
}

impl<'a> Sections<'a> {
    /// `count` elements of `size` bytes, then padding to the alignment.
    fn take(&mut self, count: usize, size: usize) -> Result<&'a [u8]> {
        let bytes = count.checked_mul(size);
        let end = bytes.and_then(|b| self.pos.checked_add(b));
        let truncated = || {
            corrupt(Corrupt::Truncated {
                needed: end.map_or(u64::MAX, |e| (e + TRAILER) as u64),
                len: (self.body.len() + TRAILER) as u64,
            })
        };
        let end = end
            .filter(|&e| e <= self.body.len())
            .ok_or_else(truncated)?;
        let s = &self.body[self.pos..end];
        self.pos = end.next_multiple_of(ALIGN).min(self.body.len().max(end));
        if self.pos > self.body.len() {
            return Err(truncated());
        }
        Ok(s)
    }
}
