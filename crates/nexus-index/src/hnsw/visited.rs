//! A visited set as a bitset sized to the node count (n/8 bytes: 125 KB at a million nodes,
//! so it stays in L2 while a walk touches it at random). Clearing resets only the words the
//! last search touched, not the whole set.

#[derive(Debug, Default)]
pub(crate) struct Visited {
    bits: Vec<u64>,
    /// Indices of the words of `bits` that are non-zero.
    touched: Vec<u32>,
}

impl Visited {
    /// Starts a new search over `n` nodes.
    pub(crate) fn reset(&mut self, n: usize) {
        for &w in &self.touched {
            self.bits[w as usize] = 0;
        }
        self.touched.clear();
        let words = n.div_ceil(64);
        if self.bits.len() < words {
            self.bits.resize(words, 0);
        }
    }

    /// Marks `node`; returns whether it was unvisited.
    #[inline]
    pub(crate) fn insert(&mut self, node: u32) -> bool {
        let w = (node >> 6) as usize;
        let bit = 1u64 << (node & 63);
        let word = &mut self.bits[w];
        if *word & bit != 0 {
            return false;
        }
        if *word == 0 {
            self.touched.push(w as u32);
        }
        *word |= bit;
        true
    }

    pub(crate) fn bytes(&self) -> usize {
        self.bits.capacity() * 8 + self.touched.capacity() * 4
    }
}

#[cfg(test)]
mod tests {
    use super::Visited;

    #[test]
    fn marks_once_and_clears_between_searches() {
        let mut v = Visited::default();
        v.reset(200);
        assert!(v.insert(3));
        assert!(v.insert(130));
        assert!(!v.insert(3));
        assert!(v.insert(199));
        v.reset(300);
        assert!(v.insert(3));
        assert!(v.insert(299));
        assert!(!v.insert(299));
    }
}
