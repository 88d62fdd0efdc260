//! Immutable segment files: sorted ids, row flags, aligned f32 vectors and codes read zero-copy
//! from a mapping, record metadata archived with rkyv (validated with bytecheck on open, then
//! read zero-copy); a checksummed footer, block checksum table and rkyv-archived info checked
//! on open; per-block checksums of the large sections checked by `verify`.

use std::fmt;
use std::io;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use crate::backend::{Backend, FileWriter, Mapping};
use crate::codec::{Cursor, crc};
use crate::error::{Error, Result};

#[cfg(target_endian = "big")]
compile_error!(
    "nexus-storage maps little-endian files zero-copy: big-endian hosts are unsupported"
);

pub(crate) const MAGIC: &[u8; 8] = b"NEXUSSEG";
pub(crate) const VERSION: u32 = 2;
pub(crate) const FOOTER_LEN: usize = 68;
/// Bytes covered by one checksum of the large region.
pub(crate) const BLOCK: usize = 64 * 1024;
const ALIGN: usize = 64;

const FLAG_TOMBSTONE: u8 = 0;
const FLAG_PUT: u8 = 1;

/// The small archived section of a segment (rkyv, validated with bytecheck on open).
#[derive(rkyv::Archive, rkyv::Serialize, rkyv::Deserialize, Debug, Clone, PartialEq, Eq)]
pub(crate) struct SegmentInfo {
    /// The segment's id, as the manifest names it.
    pub(crate) id: u64,
    /// Rows that hold a record.
    pub(crate) live: u64,
    /// Rows that record a delete.
    pub(crate) tombstones: u64,
}

/// The records' metadata, archived with rkyv: row `i`'s bytes are
/// `blob[offsets[i]..offsets[i + 1]]`. Validating the archive (bytecheck) is O(1) in the row
/// count — two vectors of plain bytes and integers — so `open` does it; the offsets' values are
/// checked on every read and by `verify`.
#[derive(rkyv::Archive, rkyv::Serialize)]
pub(crate) struct RecordMeta {
    offsets: Vec<u64>,
    blob: Vec<u8>,
}

/// Where every section lies, derived from the footer's counts with checked arithmetic.
#[derive(Debug, Clone, Copy)]
struct Layout {
    count: usize,
    dim: usize,
    code_bytes: usize,
    /// Length of the archived [`RecordMeta`].
    meta_len: usize,
    flags: usize,
    vectors: usize,
    codes: usize,
    meta: usize,
    large_len: usize,
    table: usize,
    blocks: usize,
    info: usize,
    footer: usize,
    file_len: usize,
}

fn pad(x: usize) -> Option<usize> {
    x.checked_next_multiple_of(ALIGN)
}

impl Layout {
    fn new(
        count: usize,
        dim: usize,
        code_bytes: usize,
        meta_len: usize,
        info_len: usize,
    ) -> Option<Self> {
        let flags = count.checked_mul(8)?;
        let vectors = pad(flags.checked_add(count)?)?;
        let codes = pad(vectors.checked_add(count.checked_mul(dim)?.checked_mul(4)?)?)?;
        let meta = pad(codes.checked_add(count.checked_mul(code_bytes)?)?)?;
        let large_len = pad(meta.checked_add(meta_len)?)?;
        let blocks = large_len.div_ceil(BLOCK);
        let table = large_len;
        let info = table.checked_add(blocks.checked_mul(4)?)?;
        let footer = info.checked_add(info_len)?;
        let file_len = footer.checked_add(FOOTER_LEN)?;
        Some(Layout {
            count,
            dim,
            code_bytes,
            meta_len,
            flags,
            vectors,
            codes,
            meta,
            large_len,
            table,
            blocks,
            info,
            footer,
            file_len,
        })
    }
}

/// One row to write: an id and its record, or `None` for a delete (a tombstone).
#[derive(Debug, Clone, Copy)]
pub(crate) struct RowRef<'a> {
    pub(crate) id: u64,
    pub(crate) put: Option<PutRef<'a>>,
}

/// A record's parts, borrowed.
#[derive(Debug, Clone, Copy)]
pub(crate) struct PutRef<'a> {
    pub(crate) vector: &'a [f32],
    pub(crate) code: &'a [u8],
    pub(crate) meta: &'a [u8],
}

/// Streams the large region to a file, computing its block checksums on the way.
struct BlockWriter<'f> {
    file: &'f dyn FileWriter,
    buf: Vec<u8>,
    pos: usize,
    block_crc: u32,
    crcs: Vec<u32>,
}

impl BlockWriter<'_> {
    fn write(&mut self, mut bytes: &[u8]) -> io::Result<()> {
        while !bytes.is_empty() {
            let room = BLOCK - self.pos % BLOCK;
            let n = room.min(bytes.len());
            self.block_crc = crc32c::crc32c_append(self.block_crc, &bytes[..n]);
            self.buf.extend_from_slice(&bytes[..n]);
            self.pos += n;
            bytes = &bytes[n..];
            if self.pos.is_multiple_of(BLOCK) {
                self.crcs.push(self.block_crc);
                self.block_crc = 0;
            }
            if self.buf.len() >= 1 << 20 {
                self.file.write_all(&self.buf)?;
                self.buf.clear();
            }
        }
        Ok(())
    }

    fn pad_to(&mut self, at: usize) -> io::Result<()> {
        let zeros = [0u8; ALIGN];
        while self.pos < at {
            let n = (at - self.pos).min(ALIGN);
            self.write(&zeros[..n])?;
        }
        Ok(())
    }
}

/// Writes a segment (rows sorted by id, ids unique) to `file`; returns its length. The caller
/// syncs the file.
pub(crate) fn write(
    file: &dyn FileWriter,
    id: u64,
    dim: usize,
    code_bytes: usize,
    rows: &[RowRef<'_>],
) -> io::Result<u64> {
    let too_big = || io::Error::other("segment too large");
    let blob_len = rows
        .iter()
        .try_fold(0usize, |a, r| {
            a.checked_add(r.put.map_or(0, |p| p.meta.len()))
        })
        .ok_or_else(too_big)?;
    let mut record_meta = RecordMeta {
        offsets: Vec::with_capacity(rows.len() + 1),
        blob: Vec::with_capacity(blob_len),
    };
    record_meta.offsets.push(0);
    for r in rows {
        if let Some(p) = r.put {
            record_meta.blob.extend_from_slice(p.meta);
        }
        record_meta.offsets.push(record_meta.blob.len() as u64);
    }
    let meta_bytes =
        rkyv::to_bytes::<rkyv::rancor::Error>(&record_meta).map_err(io::Error::other)?;
    drop(record_meta);
    let meta_len = meta_bytes.len();
    let live = rows.iter().filter(|r| r.put.is_some()).count() as u64;
    let info = SegmentInfo {
        id,
        live,
        tombstones: rows.len() as u64 - live,
    };
    let info_bytes = rkyv::to_bytes::<rkyv::rancor::Error>(&info).map_err(io::Error::other)?;
    let l =
        Layout::new(rows.len(), dim, code_bytes, meta_len, info_bytes.len()).ok_or_else(too_big)?;

    let mut w = BlockWriter {
        file,
        buf: Vec::with_capacity(1 << 20),
        pos: 0,
        block_crc: 0,
        crcs: Vec::with_capacity(l.blocks),
    };
    for r in rows {
        w.write(&r.id.to_le_bytes())?;
    }
    for r in rows {
        w.write(&[if r.put.is_some() {
            FLAG_PUT
        } else {
            FLAG_TOMBSTONE
        }])?;
    }
    w.pad_to(l.vectors)?;
    let zero_row = vec![0u8; dim * 4];
    let mut row_bytes = Vec::with_capacity(dim * 4);
    for r in rows {
        match r.put {
            Some(p) => {
                row_bytes.clear();
                for x in p.vector {
                    row_bytes.extend_from_slice(&x.to_le_bytes());
                }
                w.write(&row_bytes)?;
            }
            None => w.write(&zero_row)?,
        }
    }
    w.pad_to(l.codes)?;
    let zero_code = vec![0u8; code_bytes];
    for r in rows {
        w.write(r.put.map_or(&zero_code[..], |p| p.code))?;
    }
    w.pad_to(l.meta)?;
    w.write(&meta_bytes)?;
    w.pad_to(l.large_len)?;
    if !w.pos.is_multiple_of(BLOCK) {
        w.crcs.push(w.block_crc);
    }
    let BlockWriter { mut buf, crcs, .. } = w;
    let table: Vec<u8> = crcs.iter().flat_map(|c| c.to_le_bytes()).collect();
    buf.extend_from_slice(&table);
    buf.extend_from_slice(&info_bytes);
    let mut footer = Vec::with_capacity(FOOTER_LEN);
    footer.extend_from_slice(MAGIC);
    footer.extend_from_slice(&VERSION.to_le_bytes());
    footer.extend_from_slice(&(dim as u32).to_le_bytes());
    footer.extend_from_slice(&(code_bytes as u32).to_le_bytes());
    footer.extend_from_slice(&(BLOCK as u32).to_le_bytes());
    footer.extend_from_slice(&(rows.len() as u64).to_le_bytes());
    footer.extend_from_slice(&(meta_len as u64).to_le_bytes());
    footer.extend_from_slice(&(info_bytes.len() as u64).to_le_bytes());
    footer.extend_from_slice(&crc(&table).to_le_bytes());
    footer.extend_from_slice(&crc(&info_bytes).to_le_bytes());
    footer.extend_from_slice(&(l.file_len as u64).to_le_bytes());
    let fc = crc(&footer);
    footer.extend_from_slice(&fc.to_le_bytes());
    debug_assert_eq!(footer.len(), FOOTER_LEN);
    buf.extend_from_slice(&footer);
    file.write_all(&buf)?;
    Ok(l.file_len as u64)
}

/// An immutable segment, read zero-copy from its file. Cheap to share (`Arc<Segment>`); the
/// file is deleted only once the store dropped it and no clone is left.
pub struct Segment {
    id: u64,
    path: PathBuf,
    map: Mapping,
    layout: Layout,
    info: SegmentInfo,
    /// Byte ranges in the file of the validated metadata archive's offsets (`count + 1` × u64)
    /// and blob.
    meta_offsets: Range<usize>,
    meta_blob: Range<usize>,
    /// Set when a manifest no longer names the file: delete it when the last clone drops.
    obsolete: AtomicBool,
    backend: Option<Arc<dyn Backend>>,
}

impl fmt::Debug for Segment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Segment")
            .field("id", &self.id)
            .field("path", &self.path)
            .field("rows", &self.layout.count)
            .field("live", &self.info.live)
            .finish()
    }
}

impl Drop for Segment {
    fn drop(&mut self) {
        if self.obsolete.load(Ordering::SeqCst)
            && let Some(b) = &self.backend
        {
            // Best effort: a leftover file is deleted by the next writable open.
            let _ = b.remove(&self.path);
        }
    }
}

impl Segment {
    /// Checks the footer, the block-checksum table and the archived info of `map` (the bytes
    /// of `path`), which must name segment `id`. The large sections are checked by
    /// [`Segment::verify`], not here, so that opening stays fast.
    pub(crate) fn open(
        path: &Path,
        map: Mapping,
        id: u64,
        backend: Option<Arc<dyn Backend>>,
    ) -> Result<Segment> {
        let bytes = map.as_bytes();
        let bad = |offset: usize, what| Error::corrupt(path, offset as u64, what);
        let Some(footer_at) = bytes.len().checked_sub(FOOTER_LEN) else {
            return Err(bad(0, "segment shorter than its footer"));
        };
        let footer = &bytes[footer_at..];
        if &footer[..8] != MAGIC {
            return Err(bad(footer_at, "bad segment magic"));
        }
        let mut c = Cursor::new(&footer[8..]);
        let ok = || bad(footer_at, "segment footer truncated");
        let version = c.u32().ok_or_else(ok)?;
        let dim = c.u32().ok_or_else(ok)? as usize;
        let code_bytes = c.u32().ok_or_else(ok)? as usize;
        let block = c.u32().ok_or_else(ok)? as usize;
        let count = c.u64().ok_or_else(ok)?;
        let meta_len = c.u64().ok_or_else(ok)?;
        let info_len = c.u64().ok_or_else(ok)?;
        let table_crc = c.u32().ok_or_else(ok)?;
        let info_crc = c.u32().ok_or_else(ok)?;
        let file_len = c.u64().ok_or_else(ok)?;
        let footer_crc = c.u32().ok_or_else(ok)?;
        if crc(&footer[..FOOTER_LEN - 4]) != footer_crc {
            return Err(bad(footer_at, "bad segment footer checksum"));
        }
        if version != VERSION {
            return Err(Error::Version {
                path: path.into(),
                found: version,
                supported: VERSION,
            });
        }
        if block != BLOCK || file_len != bytes.len() as u64 {
            return Err(bad(footer_at, "segment footer disagrees with the file"));
        }
        let layout = usize::try_from(count)
            .ok()
            .zip(usize::try_from(meta_len).ok())
            .zip(usize::try_from(info_len).ok())
            .and_then(|((n, m), i)| Layout::new(n, dim, code_bytes, m, i))
            .filter(|l| l.file_len == bytes.len())
            .ok_or_else(|| bad(footer_at, "segment sizes are inconsistent"))?;
        let table = &bytes[layout.table..layout.info];
        if crc(table) != table_crc {
            return Err(bad(layout.table, "bad block-checksum table checksum"));
        }
        let info_bytes = &bytes[layout.info..layout.footer];
        if crc(info_bytes) != info_crc {
            return Err(bad(layout.info, "bad segment info checksum"));
        }
        let mut aligned = rkyv::util::AlignedVec::<16>::new();
        aligned.extend_from_slice(info_bytes);
        let info = rkyv::from_bytes::<SegmentInfo, rkyv::rancor::Error>(&aligned)
            .map_err(|_| bad(layout.info, "segment info does not validate"))?;
        if info.id != id {
            return Err(bad(layout.info, "segment file names another segment id"));
        }
        if info.live.checked_add(info.tombstones) != Some(count) {
            return Err(bad(
                layout.info,
                "segment info counts disagree with the footer",
            ));
        }
        let (meta_offsets, meta_blob) = Self::validate_meta(path, bytes, &layout)?;
        // The casts below cannot fail for a mapping (page-aligned) or a heap copy (64-aligned);
        // checking once here lets the accessors use the panicking forms safely.
        let casts_ok = bytemuck::try_cast_slice::<u8, u64>(&bytes[..layout.flags]).is_ok()
            && bytemuck::try_cast_slice::<u8, f32>(&bytes[layout.vectors..layout.codes]).is_ok()
            && bytemuck::try_cast_slice::<u8, u64>(&bytes[meta_offsets.clone()]).is_ok();
        if !casts_ok {
            return Err(bad(0, "segment bytes are not aligned"));
        }
        Ok(Segment {
            id,
            path: path.into(),
            map,
            layout,
            info,
            meta_offsets,
            meta_blob,
            obsolete: AtomicBool::new(false),
            backend,
        })
    }

    /// Validates the archived [`RecordMeta`] with bytecheck (its root, vector headers and their
    /// bounds: O(1) in the row count) and returns where its offsets and blob lie in `bytes`.
    fn validate_meta(
        path: &Path,
        bytes: &[u8],
        l: &Layout,
    ) -> Result<(Range<usize>, Range<usize>)> {
        let bad = |what| Error::corrupt(path, l.meta as u64, what);
        let archive = &bytes[l.meta..l.meta + l.meta_len];
        let meta = rkyv::access::<ArchivedRecordMeta, rkyv::rancor::Error>(archive)
            .map_err(|_| bad("record metadata does not validate"))?;
        let (offsets, blob) = (meta.offsets.as_slice(), meta.blob.as_slice());
        if offsets.len() != l.count + 1 {
            return Err(bad("record metadata has the wrong row count"));
        }
        if offsets[0].to_native() != 0 || offsets[l.count].to_native() != blob.len() as u64 {
            return Err(bad("record metadata offsets do not span its blob"));
        }
        // Both slices lie inside `archive` (bytecheck checked their bounds).
        let at = |p: *const u8| p.addr() - bytes.as_ptr().addr();
        let offsets_at = at(offsets.as_ptr().cast());
        let blob_at = at(blob.as_ptr());
        Ok((
            offsets_at..offsets_at + offsets.len() * 8,
            blob_at..blob_at + blob.len(),
        ))
    }

    pub(crate) fn set_obsolete(&self) {
        self.obsolete.store(true, Ordering::SeqCst);
    }

    fn bytes(&self) -> &[u8] {
        self.map.as_bytes()
    }

    /// The segment's id.
    pub fn id(&self) -> u64 {
        self.id
    }

    /// Rows (records and deletes).
    pub fn len(&self) -> usize {
        self.layout.count
    }

    /// Whether the segment has no rows.
    pub fn is_empty(&self) -> bool {
        self.layout.count == 0
    }

    /// Rows holding a record (not a delete).
    pub fn live(&self) -> u64 {
        self.info.live
    }

    /// The vector dimension.
    pub fn dim(&self) -> usize {
        self.layout.dim
    }

    /// Whether the bytes are memory-mapped (a real file) rather than a heap copy.
    pub fn is_mapped(&self) -> bool {
        self.map.is_mapped()
    }

    /// The row ids, ascending.
    pub fn ids(&self) -> &[u64] {
        bytemuck::cast_slice(&self.bytes()[..self.layout.flags])
    }

    /// Whether row `i` holds a record (`false`: it records a delete).
    ///
    /// # Panics
    /// If `i >= self.len()`.
    pub fn is_live(&self, i: usize) -> bool {
        self.bytes()[self.layout.flags + i] == FLAG_PUT
    }

    /// All vectors, row-major (`len() * dim()` values; deleted rows are zeros), 64-byte aligned:
    /// the block a one-to-many scan reads.
    pub fn vectors(&self) -> &[f32] {
        bytemuck::cast_slice(&self.bytes()[self.layout.vectors..self.layout.codes])
            .get(..self.layout.count * self.layout.dim)
            .unwrap_or_default()
    }

    /// Row `i`'s vector.
    ///
    /// # Panics
    /// If `i >= self.len()`.
    pub fn vector(&self, i: usize) -> &[f32] {
        let d = self.layout.dim;
        &self.vectors()[i * d..(i + 1) * d]
    }

    /// Row `i`'s code.
    ///
    /// # Panics
    /// If `i >= self.len()`.
    pub fn code(&self, i: usize) -> &[u8] {
        let (at, cb) = (self.layout.codes, self.layout.code_bytes);
        &self.bytes()[at + i * cb..at + (i + 1) * cb]
    }

    /// Row `i`'s metadata, or a corruption error if its offsets are out of bounds.
    ///
    /// # Panics
    /// If `i >= self.len()`.
    pub fn meta(&self, i: usize) -> Result<&[u8]> {
        let offsets: &[u64] = bytemuck::cast_slice(&self.bytes()[self.meta_offsets.clone()]);
        let blob = &self.bytes()[self.meta_blob.clone()];
        let (a, b) = (offsets[i], offsets[i + 1]);
        if a > b || b > blob.len() as u64 {
            return Err(Error::corrupt(
                &self.path,
                (self.meta_offsets.start + i * 8) as u64,
                "metadata offsets out of bounds",
            ));
        }
        Ok(&blob[a as usize..b as usize])
    }

    /// The row of `id`, if the segment has one (binary search over the sorted ids).
    pub fn find(&self, id: u64) -> Option<usize> {
        self.ids().binary_search(&id).ok()
    }

    /// Checks every block checksum and the structure of the large sections; returns the number
    /// of blocks checked.
    pub fn verify(&self) -> Result<usize> {
        let l = &self.layout;
        let bytes = self.bytes();
        let table = &bytes[l.table..l.info];
        for (b, &stored) in table.as_chunks::<4>().0.iter().enumerate() {
            let start = b * BLOCK;
            let end = (start + BLOCK).min(l.large_len);
            let stored = u32::from_le_bytes(stored);
            if crc(&bytes[start..end]) != stored {
                return Err(Error::corrupt(
                    &self.path,
                    start as u64,
                    "bad block checksum",
                ));
            }
        }
        let bad = |offset: usize, what| Error::corrupt(&self.path, offset as u64, what);
        if self.ids().windows(2).any(|w| w[0] >= w[1]) {
            return Err(bad(0, "segment ids not strictly ascending"));
        }
        let flags = &bytes[l.flags..l.flags + l.count];
        if let Some(i) = flags.iter().position(|&f| f > FLAG_PUT) {
            return Err(bad(l.flags + i, "bad row flag"));
        }
        if flags.iter().filter(|&&f| f == FLAG_PUT).count() as u64 != self.info.live {
            return Err(bad(l.flags, "row flags disagree with the live count"));
        }
        let offsets: &[u64] = bytemuck::cast_slice(&bytes[self.meta_offsets.clone()]);
        if offsets.first() != Some(&0)
            || offsets.last() != Some(&(self.meta_blob.len() as u64))
            || offsets.windows(2).any(|w| w[0] > w[1])
        {
            return Err(bad(
                self.meta_offsets.start,
                "metadata offsets are not monotone",
            ));
        }
        Ok(l.blocks)
    }
}
