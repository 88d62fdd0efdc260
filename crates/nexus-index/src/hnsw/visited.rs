//! A visited set with epoch stamps: clearing is one increment, not a memset.

#[derive(Debug, Default)]
pub(crate) struct Visited {
    epoch: u16,
    stamps: Vec<u16>,
}

impl Visited {
    /// Starts a new search over `n` nodes.
    pub(crate) fn reset(&mut self, n: usize) {
        if self.stamps.len() < n {
            self.stamps.resize(n, 0);
        }
        self.epoch = self.epoch.wrapping_add(1);
        if self.epoch == 0 {
            self.stamps.fill(0);
            self.epoch = 1;
        }
    }

    /// Marks `node`; returns whether it was unvisited.
    #[inline]
    pub(crate) fn insert(&mut self, node: u32) -> bool {
        let s = &mut self.stamps[node as usize];
        let fresh = *s != self.epoch;
        *s = self.epoch;
        fresh
    }

    pub(crate) fn bytes(&self) -> usize {
        self.stamps.capacity() * 2
    }
}
