//! The versioned, checksummed byte layout shared by every quantizer.
//!
//! ```text
//! offset  size  field
//!      0     8  magic  b"NXQUANT\0"
//!      8     2  format version, u16 LE (= 2)
//!     10     2  kind, u16 LE (1 binary, 2 RaBitQ, 3 int8, 4 Matryoshka)
//!     12     4  dim, u32 LE
//!     16     8  payload length in bytes, u64 LE
//!     24     n  payload (per kind, documented on each quantizer's `to_bytes`)
//!   24+n     4  CRC32C of bytes [0, 24+n), u32 LE
//! ```
//! All numbers are little-endian; f32 are IEEE-754 bit patterns. Readers check the magic, the
//! version, the kind, the lengths and the checksum, then validate every field. Version 1 (the
//! same frame with an 8-byte FNV-1a 64 trailer) is rejected as
//! [`CorruptReason::UnsupportedVersion`]`(1)`: re-serialize with this build.
//!
//! Every multi-byte field is read the same way as in nexus-storage: split the next `N` bytes
//! off as `[u8; N]` (`split_first_chunk`) and decode with `from_le_bytes`.

use crate::error::{CorruptReason, Error, Result};

pub(crate) const MAGIC: [u8; 8] = *b"NXQUANT\0";
pub(crate) const VERSION: u16 = 2;
const HEADER: usize = 24;
const TRAILER: usize = 4;

/// The quantizer kinds of the layout's kind field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Binary = 1,
    Rabitq = 2,
    Int8 = 3,
    Matryoshka = 4,
}

/// CRC32C (Castagnoli), the checksum of every file format of the workspace.
fn checksum(bytes: &[u8]) -> u32 {
    crc32c::crc32c(bytes)
}

pub(crate) fn corrupt(reason: CorruptReason) -> Error {
    Error::Corrupt { reason }
}

/// Builds a payload, then frames it with header and checksum.
#[derive(Debug, Default)]
pub(crate) struct Writer {
    payload: Vec<u8>,
}

impl Writer {
    pub(crate) fn u8(&mut self, v: u8) {
        self.payload.push(v);
    }
    pub(crate) fn u32(&mut self, v: u32) {
        self.payload.extend_from_slice(&v.to_le_bytes());
    }
    pub(crate) fn u64(&mut self, v: u64) {
        self.payload.extend_from_slice(&v.to_le_bytes());
    }
    pub(crate) fn f32(&mut self, v: f32) {
        self.payload.extend_from_slice(&v.to_le_bytes());
    }
    pub(crate) fn f32s(&mut self, vs: &[f32]) {
        for &v in vs {
            self.f32(v);
        }
    }

    pub(crate) fn finish(self, kind: Kind, dim: usize) -> Vec<u8> {
        let dim = u32::try_from(dim).expect("quantizer dimensions are validated to fit u32");
        let mut out = Vec::with_capacity(HEADER + self.payload.len() + TRAILER);
        out.extend_from_slice(&MAGIC);
        out.extend_from_slice(&VERSION.to_le_bytes());
        out.extend_from_slice(&(kind as u16).to_le_bytes());
        out.extend_from_slice(&dim.to_le_bytes());
        out.extend_from_slice(&(self.payload.len() as u64).to_le_bytes());
        out.extend_from_slice(&self.payload);
        let sum = checksum(&out);
        out.extend_from_slice(&sum.to_le_bytes());
        out
    }
}

/// Checks the frame and reads the payload field by field.
#[derive(Debug)]
pub(crate) struct Reader<'a> {
    payload: &'a [u8],
    pub(crate) dim: usize,
}

/// The `N` bytes at `at`, or `Truncated`.
fn take<const N: usize>(bytes: &[u8], at: usize) -> Result<[u8; N]> {
    bytes
        .get(at..)
        .and_then(<[u8]>::first_chunk::<N>)
        .copied()
        .ok_or(corrupt(CorruptReason::Truncated))
}

impl<'a> Reader<'a> {
    pub(crate) fn open(bytes: &'a [u8], kind: Kind) -> Result<Self> {
        if bytes.len() < HEADER + TRAILER {
            return Err(corrupt(CorruptReason::Truncated));
        }
        if take::<8>(bytes, 0)? != MAGIC {
            return Err(corrupt(CorruptReason::BadMagic));
        }
        let version = u16::from_le_bytes(take(bytes, 8)?);
        if version != VERSION {
            return Err(corrupt(CorruptReason::UnsupportedVersion(version)));
        }
        let got_kind = u16::from_le_bytes(take(bytes, 10)?);
        if got_kind != kind as u16 {
            return Err(corrupt(CorruptReason::WrongKind(got_kind)));
        }
        let dim = u32::from_le_bytes(take(bytes, 12)?) as usize;
        let len = u64::from_le_bytes(take(bytes, 16)?);
        let available = (bytes.len() - HEADER - TRAILER) as u64;
        if len > available {
            return Err(corrupt(CorruptReason::Truncated));
        }
        if len < available {
            return Err(corrupt(CorruptReason::TrailingBytes));
        }
        let end = HEADER + len as usize;
        let stored = u32::from_le_bytes(take(bytes, end)?);
        if stored != checksum(&bytes[..end]) {
            return Err(corrupt(CorruptReason::ChecksumMismatch));
        }
        if crate::input::check_dim(dim).is_err() {
            return Err(corrupt(CorruptReason::InvalidField("dim")));
        }
        Ok(Self {
            payload: &bytes[HEADER..end],
            dim,
        })
    }

    fn bytes<const N: usize>(&mut self) -> Result<[u8; N]> {
        let (head, rest) = self
            .payload
            .split_first_chunk::<N>()
            .ok_or(corrupt(CorruptReason::Truncated))?;
        self.payload = rest;
        Ok(*head)
    }
    pub(crate) fn u8(&mut self) -> Result<u8> {
        Ok(self.bytes::<1>()?[0])
    }
    pub(crate) fn u32(&mut self) -> Result<u32> {
        Ok(u32::from_le_bytes(self.bytes()?))
    }
    pub(crate) fn u64(&mut self) -> Result<u64> {
        Ok(u64::from_le_bytes(self.bytes()?))
    }
    pub(crate) fn f32(&mut self) -> Result<f32> {
        Ok(f32::from_le_bytes(self.bytes()?))
    }
    /// `n` f32 values; checks the length before allocating anything.
    pub(crate) fn f32s(&mut self, n: usize) -> Result<Vec<f32>> {
        if n.checked_mul(4).is_none_or(|b| b > self.payload.len()) {
            return Err(corrupt(CorruptReason::Truncated));
        }
        (0..n).map(|_| self.f32()).collect()
    }
    pub(crate) fn finish(self) -> Result<()> {
        if self.payload.is_empty() {
            Ok(())
        } else {
            Err(corrupt(CorruptReason::TrailingBytes))
        }
    }
}
