//! The manifest: which segments (and files attached to them) are live, and where the WAL
//! starts. Archived with rkyv, checksummed, replaced by write-temp → fsync → rename → fsync dir.

use std::path::Path;

use crate::backend::Backend;
use crate::codec::{Cursor, crc};
use crate::error::{Error, Result};

pub(crate) const MAGIC: &[u8; 8] = b"NEXUSMAN";
pub(crate) const VERSION: u32 = 1;
pub(crate) const HEADER_LEN: usize = 24;
pub(crate) const FILE: &str = "MANIFEST";
pub(crate) const TEMP: &str = "MANIFEST.tmp";

/// The live state of a store.
#[derive(rkyv::Archive, rkyv::Serialize, rkyv::Deserialize, Debug, Clone, PartialEq, Eq)]
pub(crate) struct Manifest {
    pub(crate) dim: u32,
    pub(crate) code_bytes: u32,
    /// The next file number to hand out (segments, WALs and attachments share the counter).
    pub(crate) next_file: u64,
    /// WAL files numbered at least this are replayed; older ones are obsolete.
    pub(crate) wal_start: u64,
    /// Live segments, oldest first (later segments win for the same id).
    pub(crate) segments: Vec<SegmentEntry>,
}

/// A live segment and the files attached to it.
#[derive(rkyv::Archive, rkyv::Serialize, rkyv::Deserialize, Debug, Clone, PartialEq, Eq)]
pub(crate) struct SegmentEntry {
    pub(crate) id: u64,
    pub(crate) file_len: u64,
    pub(crate) attachments: Vec<AttachmentEntry>,
}

/// A file a higher layer attached to a segment (e.g. an index over it).
#[derive(rkyv::Archive, rkyv::Serialize, rkyv::Deserialize, Debug, Clone, PartialEq, Eq)]
pub(crate) struct AttachmentEntry {
    pub(crate) role: String,
    pub(crate) file: u64,
    pub(crate) len: u64,
    pub(crate) crc: u32,
}

pub(crate) fn segment_name(id: u64) -> String {
    format!("seg-{id:08}.seg")
}

pub(crate) fn wal_name(n: u64) -> String {
    format!("wal-{n:08}.log")
}

pub(crate) fn attachment_name(n: u64) -> String {
    format!("att-{n:08}.bin")
}

/// The number in a file name `<prefix>-<digits><suffix>`.
pub(crate) fn parse_name(name: &str, prefix: &str, suffix: &str) -> Option<u64> {
    let digits = name.strip_prefix(prefix)?.strip_suffix(suffix)?;
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

pub(crate) fn encode(m: &Manifest) -> Vec<u8> {
    let payload = rkyv::to_bytes::<rkyv::rancor::Error>(m)
        .expect("serializing plain data to memory cannot fail");
    let mut out = Vec::with_capacity(HEADER_LEN + payload.len());
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&VERSION.to_le_bytes());
    out.extend_from_slice(&(payload.len() as u32).to_le_bytes());
    out.extend_from_slice(&crc(&payload).to_le_bytes());
    let hc = crc(&out);
    out.extend_from_slice(&hc.to_le_bytes());
    out.extend_from_slice(&payload);
    out
}

pub(crate) fn decode(path: &Path, bytes: &[u8]) -> Result<Manifest> {
    let bad = |offset, what| Error::corrupt(path, offset, what);
    if bytes.len() < HEADER_LEN || &bytes[..8] != MAGIC {
        return Err(bad(0, "bad manifest header"));
    }
    let mut c = Cursor::new(&bytes[8..HEADER_LEN]);
    let (version, len, pcrc, hcrc) = (c.u32(), c.u32(), c.u32(), c.u32());
    let (Some(version), Some(len), Some(pcrc), Some(hcrc)) = (version, len, pcrc, hcrc) else {
        return Err(bad(0, "bad manifest header"));
    };
    if crc(&bytes[..20]) != hcrc {
        return Err(bad(0, "bad manifest header checksum"));
    }
    if version != VERSION {
        return Err(Error::Version {
            path: path.into(),
            found: version,
            supported: VERSION,
        });
    }
    let payload = &bytes[HEADER_LEN..];
    if payload.len() != len as usize {
        return Err(bad(
            HEADER_LEN as u64,
            "manifest length disagrees with its header",
        ));
    }
    if crc(payload) != pcrc {
        return Err(bad(HEADER_LEN as u64, "bad manifest checksum"));
    }
    let mut aligned = rkyv::util::AlignedVec::<16>::new();
    aligned.extend_from_slice(payload);
    let m = rkyv::from_bytes::<Manifest, rkyv::rancor::Error>(&aligned)
        .map_err(|_| bad(HEADER_LEN as u64, "manifest does not validate"))?;
    let mut ids = m.segments.iter().map(|s| s.id).collect::<Vec<_>>();
    ids.sort_unstable();
    if ids.windows(2).any(|w| w[0] == w[1])
        || m.segments.iter().any(|s| s.id >= m.next_file)
        || m.wal_start > m.next_file
    {
        return Err(bad(
            HEADER_LEN as u64,
            "manifest names files inconsistently",
        ));
    }
    Ok(m)
}

/// Replaces the manifest atomically: write a temporary file, fsync it, fsync the directory
/// (so that every file the new manifest names — created since the last directory fsync — is
/// durably named before the manifest can be: a file system need not keep directory
/// operations in order), rename it over the manifest, fsync the directory.
pub(crate) fn store(backend: &dyn Backend, dir: &Path, m: &Manifest) -> Result<()> {
    let temp = dir.join(TEMP);
    let file = backend.create(&temp).map_err(|e| Error::io(&temp, e))?;
    file.write_all(&encode(m))
        .map_err(|e| Error::io(&temp, e))?;
    file.sync().map_err(|e| Error::io(&temp, e))?;
    drop(file);
    backend.sync_dir(dir).map_err(|e| Error::io(dir, e))?;
    let path = dir.join(FILE);
    backend
        .rename(&temp, &path)
        .map_err(|e| Error::io(&path, e))?;
    backend.sync_dir(dir).map_err(|e| Error::io(dir, e))
}
