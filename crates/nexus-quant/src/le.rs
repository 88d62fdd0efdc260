//! [`LeReader`]: the workspace's little-endian byte reader.

/// Reads little-endian numbers off the front of a byte slice, with bounds checks: every read
/// returns `None` (and consumes nothing) when fewer bytes remain than it needs. No panics, no
/// hand-indexed arrays, no fallible `try_into`: the next `N` bytes are split off as `[u8; N]`
/// (`split_first_chunk`) and decoded with `from_le_bytes`.
///
/// This crate's quantizer layout and nexus-index's index file read through it; each maps
/// `None` to its own structured error (a truncated input). nexus-storage keeps a twin
/// (`Cursor`) because it sits below this crate and depends on no other crate of the workspace.
///
/// ```
/// use nexus_quant::LeReader;
///
/// let bytes = [1u8, 0, 2, 0, 0, 0, 0, 0, 128, 63, 9];
/// let mut r = LeReader::new(&bytes);
/// assert_eq!(r.u16(), Some(1));
/// assert_eq!(r.u32(), Some(2));
/// assert_eq!(r.u64(), None); // three bytes short: nothing consumed
/// assert_eq!(r.u16(), Some(0));
/// assert_eq!(r.u16(), Some(0x3f80));
/// assert_eq!(r.remaining(), 1);
/// assert_eq!(r.take(1), Some(&[9u8][..]));
/// assert!(r.is_empty());
/// ```
#[derive(Debug, Clone)]
pub struct LeReader<'a> {
    bytes: &'a [u8],
}

impl<'a> LeReader<'a> {
    /// A reader at the start of `bytes`.
    #[inline]
    pub fn new(bytes: &'a [u8]) -> Self {
        Self { bytes }
    }

    /// The next `n` bytes.
    #[inline]
    pub fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let (head, rest) = self.bytes.split_at_checked(n)?;
        self.bytes = rest;
        Some(head)
    }

    /// The next `N` bytes as an array.
    #[inline]
    pub fn array<const N: usize>(&mut self) -> Option<[u8; N]> {
        let (head, rest) = self.bytes.split_first_chunk::<N>()?;
        self.bytes = rest;
        Some(*head)
    }

    /// The next byte.
    #[inline]
    pub fn u8(&mut self) -> Option<u8> {
        self.array().map(u8::from_le_bytes)
    }

    /// The next 2 bytes as a little-endian `u16`.
    #[inline]
    pub fn u16(&mut self) -> Option<u16> {
        self.array().map(u16::from_le_bytes)
    }

    /// The next 4 bytes as a little-endian `u32`.
    #[inline]
    pub fn u32(&mut self) -> Option<u32> {
        self.array().map(u32::from_le_bytes)
    }

    /// The next 8 bytes as a little-endian `u64`.
    #[inline]
    pub fn u64(&mut self) -> Option<u64> {
        self.array().map(u64::from_le_bytes)
    }

    /// The next 4 bytes as a little-endian IEEE-754 `f32` bit pattern.
    #[inline]
    pub fn f32(&mut self) -> Option<f32> {
        self.array().map(f32::from_le_bytes)
    }

    /// How many bytes are left.
    #[inline]
    pub fn remaining(&self) -> usize {
        self.bytes.len()
    }

    /// Whether every byte has been read.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::LeReader;

    /// Each read against `from_le_bytes` on hand-built arrays, and every truncation.
    #[test]
    fn reads_match_from_le_bytes_and_stop_at_the_end() {
        let mut bytes = Vec::new();
        bytes.push(0xab);
        bytes.extend_from_slice(&0xbeefu16.to_le_bytes());
        bytes.extend_from_slice(&0xdead_beefu32.to_le_bytes());
        bytes.extend_from_slice(&0x0123_4567_89ab_cdefu64.to_le_bytes());
        bytes.extend_from_slice(&(-1.5f32).to_le_bytes());
        let mut r = LeReader::new(&bytes);
        assert_eq!(r.u8(), Some(0xab));
        assert_eq!(r.u16(), Some(0xbeef));
        assert_eq!(r.u32(), Some(0xdead_beef));
        assert_eq!(r.u64(), Some(0x0123_4567_89ab_cdef));
        assert_eq!(r.f32(), Some(-1.5));
        assert!(r.is_empty());
        assert_eq!(r.u8(), None);
        assert_eq!(r.take(0), Some(&[][..]));
        assert_eq!(r.take(1), None);
        // A short read consumes nothing.
        for cut in 0..bytes.len() {
            let mut r = LeReader::new(&bytes[..cut]);
            assert_eq!(
                r.u64(),
                if cut >= 8 {
                    Some(u64::from_le_bytes(bytes[..8].try_into().unwrap()))
                } else {
                    None
                }
            );
            assert_eq!(r.remaining(), if cut >= 8 { cut - 8 } else { cut });
        }
    }
}
