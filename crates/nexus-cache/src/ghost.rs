//! Ghosts: the hashes of recently dropped keys, remembered without their entries (ARC's ghost
//! lists). A key that comes back while its ghost is remembered shows which side of the policy
//! dropped it too early; the window size follows that evidence.

use std::collections::VecDeque;

use hashbrown::HashTable;

/// A bounded set of hashes, oldest forgotten first. O(1) per push and lookup.
#[derive(Debug, Default)]
pub(crate) struct Ghosts {
    /// Pushed hashes, oldest first (a hash pushed twice appears twice).
    order: VecDeque<u64>,
    /// `(hash, copies of it in order)`.
    members: HashTable<(u64, u32)>,
}

impl Ghosts {
    /// How many hashes are remembered (counting each distinct hash once).
    pub(crate) fn len(&self) -> usize {
        self.members.len()
    }

    /// Remembers `hash`, then forgets the oldest pushes beyond `limit` (at least one is kept).
    pub(crate) fn push(&mut self, hash: u64, limit: usize) {
        match self.members.find_mut(hash, |e| e.0 == hash) {
            Some(e) => e.1 += 1,
            None => {
                self.members.insert_unique(hash, (hash, 1), |e| e.0);
            }
        }
        self.order.push_back(hash);
        while self.order.len() > limit.max(1) {
            let Some(old) = self.order.pop_front() else {
                break;
            };
            if let Ok(e) = self.members.find_entry(old, |e| e.0 == old) {
                if e.get().1 > 1 {
                    e.into_mut().1 -= 1;
                } else {
                    e.remove();
                }
            }
        }
    }

    /// Whether `hash` is remembered.
    pub(crate) fn contains(&self, hash: u64) -> bool {
        self.members.find(hash, |e| e.0 == hash).is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Against a plain model: the last `limit` pushes, searched linearly.
    #[test]
    fn remembers_exactly_the_last_pushes() {
        let mut g = Ghosts::default();
        let mut model: VecDeque<u64> = VecDeque::new();
        let mut x = 12345u64;
        for step in 0..20_000u64 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let limit = 1 + (step / 1000) as usize % 40;
            let h = x % 60;
            g.push(h, limit);
            model.push_back(h);
            while model.len() > limit {
                model.pop_front();
            }
            for probe in 0..60 {
                assert_eq!(g.contains(probe), model.contains(&probe), "step {step}");
            }
            let mut distinct: Vec<u64> = model.iter().copied().collect();
            distinct.sort_unstable();
            distinct.dedup();
            assert_eq!(g.len(), distinct.len());
        }
    }
}
