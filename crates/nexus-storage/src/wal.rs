//! The write-ahead log: a header, then records of length, CRC32C and payload.
//! Reading tells a torn tail (cut and reported) from corruption before the tail (an error).

use std::path::Path;

use crate::codec::{Cursor, crc};
use crate::error::{Error, Result};

pub(crate) const MAGIC: &[u8; 8] = b"NEXUSWAL";
pub(crate) const VERSION: u32 = 1;
pub(crate) const HEADER_LEN: usize = 24;
pub(crate) const RECORD_HEADER_LEN: usize = 12;
/// Upper bound of one record's payload (one committed batch).
pub(crate) const MAX_PAYLOAD: usize = 1 << 30;
/// Corruption this close to the end of the file may be a torn write (the last sector).
const TAIL_WINDOW: u64 = 512;

const TAG_PUT: u8 = 1;
const TAG_DELETE: u8 = 2;

/// One operation of a committed batch.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Op {
    Put {
        id: u64,
        vector: Vec<f32>,
        code: Vec<u8>,
        meta: Vec<u8>,
    },
    Delete {
        id: u64,
    },
}

/// What a WAL file holds.
#[derive(Debug, Default)]
pub(crate) struct WalContents {
    /// Committed batches, oldest first.
    pub(crate) batches: Vec<Vec<Op>>,
    /// A torn tail that was cut: (offset of the first byte dropped, bytes dropped).
    pub(crate) tail_cut: Option<(u64, u64)>,
}

pub(crate) fn encode_header(dim: u32, code_bytes: u32) -> Vec<u8> {
    let mut h = Vec::with_capacity(HEADER_LEN);
    h.extend_from_slice(MAGIC);
    h.extend_from_slice(&VERSION.to_le_bytes());
    h.extend_from_slice(&dim.to_le_bytes());
    h.extend_from_slice(&code_bytes.to_le_bytes());
    let c = crc(&h);
    h.extend_from_slice(&c.to_le_bytes());
    h
}

/// Encodes a batch's payload (the caller checked the shapes).
pub(crate) fn encode_payload(ops: &[Op]) -> Vec<u8> {
    let mut p = Vec::new();
    p.extend_from_slice(&(ops.len() as u32).to_le_bytes());
    for op in ops {
        match op {
            Op::Put {
                id,
                vector,
                code,
                meta,
            } => {
                p.push(TAG_PUT);
                p.extend_from_slice(&id.to_le_bytes());
                p.extend_from_slice(&(meta.len() as u32).to_le_bytes());
                for x in vector {
                    p.extend_from_slice(&x.to_le_bytes());
                }
                p.extend_from_slice(code);
                p.extend_from_slice(meta);
            }
            Op::Delete { id } => {
                p.push(TAG_DELETE);
                p.extend_from_slice(&id.to_le_bytes());
            }
        }
    }
    p
}

/// Frames a payload as a record: length, payload CRC, header CRC, payload.
pub(crate) fn encode_record(payload: &[u8]) -> Vec<u8> {
    let mut r = Vec::with_capacity(RECORD_HEADER_LEN + payload.len());
    r.extend_from_slice(&(payload.len() as u32).to_le_bytes());
    r.extend_from_slice(&crc(payload).to_le_bytes());
    let hc = crc(&r[..8]);
    r.extend_from_slice(&hc.to_le_bytes());
    r.extend_from_slice(payload);
    r
}

fn decode_payload(
    path: &Path,
    offset: u64,
    payload: &[u8],
    dim: usize,
    code_bytes: usize,
) -> Result<Vec<Op>> {
    let bad = |what| Error::corrupt(path, offset, what);
    let mut c = Cursor::new(payload);
    let n = c.u32().ok_or_else(|| bad("WAL record too short"))?;
    let mut ops = Vec::new();
    for _ in 0..n {
        let tag = c.u8().ok_or_else(|| bad("WAL record truncated"))?;
        let id = c.u64().ok_or_else(|| bad("WAL record truncated"))?;
        match tag {
            TAG_PUT => {
                let meta_len = c.u32().ok_or_else(|| bad("WAL record truncated"))? as usize;
                let vector = c
                    .take(
                        dim.checked_mul(4)
                            .ok_or_else(|| bad("WAL dimension overflow"))?,
                    )
                    .ok_or_else(|| bad("WAL record truncated"))?
                    .as_chunks::<4>()
                    .0
                    .iter()
                    .map(|&b| f32::from_le_bytes(b))
                    .collect();
                let code = c
                    .take(code_bytes)
                    .ok_or_else(|| bad("WAL record truncated"))?
                    .to_vec();
                let meta = c
                    .take(meta_len)
                    .ok_or_else(|| bad("WAL record truncated"))?
                    .to_vec();
                ops.push(Op::Put {
                    id,
                    vector,
                    code,
                    meta,
                });
            }
            TAG_DELETE => ops.push(Op::Delete { id }),
            _ => return Err(bad("unknown WAL operation")),
        }
    }
    if !c.is_empty() {
        return Err(bad("trailing bytes in WAL record"));
    }
    Ok(ops)
}

/// Whether a complete record that checks out (header and payload checksums) starts at `pos`.
fn valid_record_at(bytes: &[u8], pos: usize) -> bool {
    let Some(rest) = bytes.get(pos..) else {
        return false;
    };
    let mut c = Cursor::new(rest);
    let (Some(len), Some(pcrc), Some(hcrc)) = (c.u32(), c.u32(), c.u32()) else {
        return false;
    };
    hcrc == crc(&rest[..8])
        && (len as usize) <= MAX_PAYLOAD
        && c.take(len as usize).is_some_and(|p| crc(p) == pcrc)
}

/// Reads a WAL file of a store of the given shape. A failed record is a torn tail (cut and
/// reported) when its bytes reach into the last [`TAIL_WINDOW`] bytes of the file and no
/// record that checks out follows it (a power cut tears the end of the file, so nothing valid
/// can follow a torn record); anything else is corruption.
pub(crate) fn read(
    path: &Path,
    bytes: &[u8],
    dim: usize,
    code_bytes: usize,
) -> Result<WalContents> {
    let eof = bytes.len() as u64;
    let tail_start = eof.saturating_sub(1) / TAIL_WINDOW * TAIL_WINDOW;
    let in_tail = |end: u64| end > tail_start;
    let mut out = WalContents::default();
    let cut = |out: &mut WalContents, at: u64| out.tail_cut = Some((at, eof - at));

    // The header: torn only if the file is that short (it is synced before any record).
    let header_ok = bytes.len() >= HEADER_LEN
        && &bytes[..8] == MAGIC
        && Cursor::new(&bytes[20..24]).u32() == Some(crc(&bytes[..20]));
    if !header_ok {
        if bytes.len() < HEADER_LEN || in_tail(HEADER_LEN as u64) {
            if eof > 0 {
                cut(&mut out, 0);
            }
            return Ok(out);
        }
        return Err(Error::corrupt(path, 0, "bad WAL header"));
    }
    let mut h = Cursor::new(&bytes[8..20]);
    let (version, d, cb) = (h.u32(), h.u32(), h.u32());
    if version != Some(VERSION) {
        return Err(Error::Version {
            path: path.into(),
            found: version.unwrap_or(0),
            supported: VERSION,
        });
    }
    if d != Some(dim as u32) || cb != Some(code_bytes as u32) {
        return Err(Error::corrupt(
            path,
            12,
            "WAL shape differs from the store's",
        ));
    }

    let mut pos = HEADER_LEN;
    while pos < bytes.len() {
        let at = pos as u64;
        let rest = &bytes[pos..];
        if rest.len() < RECORD_HEADER_LEN {
            cut(&mut out, at);
            break;
        }
        let mut c = Cursor::new(rest);
        let (len, pcrc, hcrc) = (c.u32(), c.u32(), c.u32());
        let (Some(len), Some(pcrc), Some(hcrc)) = (len, pcrc, hcrc) else {
            cut(&mut out, at);
            break;
        };
        if hcrc != crc(&rest[..8]) || len as usize > MAX_PAYLOAD {
            // The length is unknown: look for a valid record anywhere after this one (at
            // most a sector's worth of positions, as this one reaches into the last sector).
            if in_tail(at + RECORD_HEADER_LEN as u64)
                && !(pos + 1..bytes.len()).any(|p| valid_record_at(bytes, p))
            {
                cut(&mut out, at);
                break;
            }
            return Err(Error::corrupt(path, at, "bad WAL record header checksum"));
        }
        let end = RECORD_HEADER_LEN + len as usize;
        if rest.len() < end {
            // The header checks out, so the record was cut short: a torn tail.
            cut(&mut out, at);
            break;
        }
        let payload = &rest[RECORD_HEADER_LEN..end];
        if crc(payload) != pcrc {
            if in_tail(at + end as u64) && !valid_record_at(bytes, pos + end) {
                cut(&mut out, at);
                break;
            }
            return Err(Error::corrupt(path, at, "bad WAL record checksum"));
        }
        out.batches
            .push(decode_payload(path, at, payload, dim, code_bytes)?);
        pos += end;
    }
    Ok(out)
}
