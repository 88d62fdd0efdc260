//! A shard's read buffer: hits found under the shard's *shared* lock are appended here and
//! applied to the policy later, by the next holder of the *exclusive* lock, before it changes
//! anything (Caffeine's read buffer, without loss). Concurrent hits on one shard thus never
//! wait for each other; a hit writes only the shard's own lock word and this buffer.
//!
//! Pushes happen under the shared lock (`&self`) and drains under the exclusive one (`&mut
//! self`), so the lock orders every slot write before its read: relaxed atomics suffice.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

/// Hits a shard buffers before a reader must take the exclusive lock to apply them.
pub(crate) const READ_BUFFER_LEN: usize = 32;

/// Buffered hits: `(low 32 bits of the hash) << 32 | slab index` each.
#[derive(Debug)]
pub(crate) struct ReadBuffer {
    /// Pushes claimed since the last drain (may run past the end while the buffer is full).
    len: AtomicUsize,
    slots: [AtomicU64; READ_BUFFER_LEN],
}

impl ReadBuffer {
    pub(crate) fn new() -> Self {
        Self {
            len: AtomicUsize::new(0),
            slots: std::array::from_fn(|_| AtomicU64::new(0)),
        }
    }

    /// Records a hit on slab index `i` (call under the shard's shared lock). False when the
    /// buffer is full: the caller must then take the exclusive lock, drain, and redo its access.
    #[inline]
    pub(crate) fn push(&self, i: u32, hash: u64) -> bool {
        let t = self.len.fetch_add(1, Ordering::Relaxed);
        match self.slots.get(t) {
            Some(slot) => {
                slot.store((hash << 32) | u64::from(i), Ordering::Relaxed);
                true
            }
            None => false,
        }
    }

    /// The slab indices of the buffered hits, oldest first, without removing them.
    #[inline]
    pub(crate) fn pending(&mut self) -> impl Iterator<Item = u32> + '_ {
        let len = (*self.len.get_mut()).min(READ_BUFFER_LEN);
        self.slots[..len]
            .iter_mut()
            .map(|slot| *slot.get_mut() as u32)
    }

    /// Hands every buffered hit, oldest first, to `apply` as `(slab index, low hash bits)` and
    /// empties the buffer. The buffer lives inside the shard's lock: `&mut` access proves the
    /// exclusive lock is held, so no push is in progress.
    #[inline]
    pub(crate) fn drain(&mut self, mut apply: impl FnMut(u32, u32)) {
        let len = std::mem::take(self.len.get_mut()).min(READ_BUFFER_LEN);
        for slot in &mut self.slots[..len] {
            let v = *slot.get_mut();
            apply(v as u32, (v >> 32) as u32);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn drains_in_push_order_and_refuses_when_full() {
        let mut b = ReadBuffer::new();
        for i in 0..READ_BUFFER_LEN as u32 {
            assert!(b.push(i, u64::from(i) * 0x1_0000_0001));
        }
        assert!(!b.push(99, 0));
        assert!(!b.push(100, 0));
        let mut seen = Vec::new();
        b.drain(|i, h| seen.push((i, h)));
        let expected: Vec<(u32, u32)> = (0..READ_BUFFER_LEN as u32).map(|i| (i, i)).collect();
        assert_eq!(seen, expected);
        seen.clear();
        b.drain(|i, h| seen.push((i, h)));
        assert!(seen.is_empty());
        assert!(b.push(7, 5));
        b.drain(|i, h| seen.push((i, h)));
        assert_eq!(seen, vec![(7, 5)]);
    }
}
