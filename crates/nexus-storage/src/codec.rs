//! Little-endian decoding with bounds checks, and the checksum.
//!
//! One way to read a little-endian number in the workspace: split the next `N` bytes off as
//! `[u8; N]` (`split_first_chunk`, or `as_chunks` for a run of them) and decode with
//! `from_le_bytes` — no hand-indexed arrays, no fallible `try_into`. The shared reader is
//! `nexus_quant::LeReader` (nexus-quant's layout and nexus-index's file reader use it);
//! [`Cursor`] is its twin here because this crate depends on no crate of the workspace (a
//! dependency on nexus-quant for thirty lines would bring its rayon, rand and serde along).

/// CRC32C (Castagnoli) of `bytes`.
pub(crate) fn crc(bytes: &[u8]) -> u32 {
    crc32c::crc32c(bytes)
}

/// Reads little-endian values from a slice; every read returns `None` past the end.
pub(crate) struct Cursor<'a> {
    bytes: &'a [u8],
}

impl<'a> Cursor<'a> {
    pub(crate) fn new(bytes: &'a [u8]) -> Self {
        Cursor { bytes }
    }

    pub(crate) fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if n > self.bytes.len() {
            return None;
        }
        let (head, rest) = self.bytes.split_at(n);
        self.bytes = rest;
        Some(head)
    }

    /// The next `N` bytes as an array.
    fn array<const N: usize>(&mut self) -> Option<[u8; N]> {
        let (head, rest) = self.bytes.split_first_chunk::<N>()?;
        self.bytes = rest;
        Some(*head)
    }

    pub(crate) fn u8(&mut self) -> Option<u8> {
        self.array().map(u8::from_le_bytes)
    }

    pub(crate) fn u32(&mut self) -> Option<u32> {
        self.array().map(u32::from_le_bytes)
    }

    pub(crate) fn u64(&mut self) -> Option<u64> {
        self.array().map(u64::from_le_bytes)
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }
}
