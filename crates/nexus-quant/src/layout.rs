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
//! Every field is read through [`LeReader`], the workspace's little-endian reader (nexus-index
//! reads its index file through it too); running out of bytes is
//! [`CorruptReason::Truncated`].

use crate::error::{CorruptReason, Error, Result};
use crate::le::LeReader;

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
    payload: LeReader<'a>,
    pub(crate) dim: usize,
}

/// A read that ran out of bytes is a truncated frame.
fn field<T>(value: Option<T>) -> Result<T> {
    value.ok_or(corrupt(CorruptReason::Truncated))
}

impl<'a> Reader<'a> {
    pub(crate) fn open(bytes: &'a [u8], kind: Kind) -> Result<Self> {
        if bytes.len() < HEADER + TRAILER {
            return Err(corrupt(CorruptReason::Truncated));
        }
        let mut header = LeReader::new(bytes);
        if field(header.array::<8>())? != MAGIC {
            return Err(corrupt(CorruptReason::BadMagic));
        }
        let version = field(header.u16())?;
        if version != VERSION {
            return Err(corrupt(CorruptReason::UnsupportedVersion(version)));
        }
        let got_kind = field(header.u16())?;
        if got_kind != kind as u16 {
            return Err(corrupt(CorruptReason::WrongKind(got_kind)));
        }
        let dim = field(header.u32())? as usize;
        let len = field(header.u64())?;
        let available = (bytes.len() - HEADER - TRAILER) as u64;
        if len > available {
            return Err(corrupt(CorruptReason::Truncated));
        }
        if len < available {
            return Err(corrupt(CorruptReason::TrailingBytes));
        }
        let end = HEADER + len as usize;
        let stored = field(LeReader::new(&bytes[end..]).u32())?;
        if stored != checksum(&bytes[..end]) {
            return Err(corrupt(CorruptReason::ChecksumMismatch));
        }
        if crate::input::check_dim(dim).is_err() {
            return Err(corrupt(CorruptReason::InvalidField("dim")));
        }
        Ok(Self {
            payload: LeReader::new(&bytes[HEADER..end]),
            dim,
        })
    }

    pub(crate) fn u8(&mut self) -> Result<u8> {
        field(self.payload.u8())
    }
    pub(crate) fn u32(&mut self) -> Result<u32> {
        field(self.payload.u32())
    }
    pub(crate) fn u64(&mut self) -> Result<u64> {
        field(self.payload.u64())
    }
    pub(crate) fn f32(&mut self) -> Result<f32> {
        field(self.payload.f32())
    }
    /// `n` f32 values; checks the length before allocating anything.
    pub(crate) fn f32s(&mut self, n: usize) -> Result<Vec<f32>> {
        if n.checked_mul(4)
            .is_none_or(|b| b > self.payload.remaining())
        {
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
