//! Ghosts: the hashes of recently dropped keys, remembered without their entries (ARC's ghost
//! lists). A key that comes back while its ghost is remembered shows which side of the policy
//! dropped it too early; the window size follows that evidence.

use std::collections::VecDeque;

use hashbrown::HashTable;

/// Multiplier whose product's high half is a hash's fingerprint (every bit of the hash counts,
/// while the cache's shard bits are the same for every hash of a shard).
const FINGERPRINT_MIX: u64 = 0x9E6C_63D0_676A_9A99;
/// Spreads a fingerprint over 64 bits again for hashbrown (which uses the top 7 bits too).
const SPREAD_MIX: u64 = 0x9E37_79B9_7F4A_7C15;

/// What a ghost remembers of a key's hash: 32 bits of it, mixed. A ghost then takes 8 bytes in
/// the table and 4 in the ring instead of 16 and 8, and the ghosts of a 100k-entry cache about
/// 300 KB instead of 600 KB: on every miss they are read and written, and they share the CPU's
/// caches with the hot entries that hits read (measured at Zipf 1.1, 100k entries, one
/// thread: 4–10 % more throughput while the host's other tenants loaded it, the same when they
/// did not). Two keys are taken for one another once in 2^32.
#[inline]
fn fingerprint(hash: u64) -> u32 {
    (hash.wrapping_mul(FINGERPRINT_MIX) >> 32) as u32
}

/// hashbrown's hash of a fingerprint.
#[inline]
fn spread(fingerprint: u32) -> u64 {
    u64::from(fingerprint).wrapping_mul(SPREAD_MIX)
}

/// A bounded set of hashes (by [`fingerprint`]), oldest forgotten first. O(1) per push and
/// lookup.
#[derive(Debug, Default)]
pub(crate) struct Ghosts {
    /// Pushed fingerprints, oldest first (one pushed twice appears twice).
    order: VecDeque<u32>,
    /// `(fingerprint, copies of it in order)`.
    members: HashTable<(u32, u32)>,
}

impl Ghosts {
    /// How many hashes are remembered (counting each distinct hash once).
    pub(crate) fn len(&self) -> usize {
        self.members.len()
    }

    /// Remembers `hash`, then forgets the oldest pushes beyond `limit` (at least one is kept).
    pub(crate) fn push(&mut self, hash: u64, limit: usize) {
        let f = fingerprint(hash);
        let spread_f = spread(f);
        match self.members.find_mut(spread_f, |e| e.0 == f) {
            Some(e) => e.1 += 1,
            None => {
                self.members
                    .insert_unique(spread_f, (f, 1), |e| spread(e.0));
            }
        }
        self.order.push_back(f);
        while self.order.len() > limit.max(1) {
            let Some(old) = self.order.pop_front() else {
                break;
            };
            if let Ok(e) = self.members.find_entry(spread(old), |e| e.0 == old) {
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
        let f = fingerprint(hash);
        self.members.find(spread(f), |e| e.0 == f).is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Hashes that differ only in their high half (where the cache takes a shard's bits, the
    /// same for every key of a shard) or only in their low half are still told apart.
    #[test]
    fn hashes_differing_in_either_half_are_distinct_ghosts() {
        for shift in [0, 32] {
            let mut g = Ghosts::default();
            // The other half fixed to a non-zero pattern.
            let other = if shift == 0 {
                0x5A5A_5A5A << 32
            } else {
                0x5A5A_5A5A
            };
            let hashes: Vec<u64> = (0..2_000u64).map(|i| (i << shift) | other).collect();
            for &h in hashes.iter().step_by(2) {
                g.push(h, usize::MAX);
            }
            for (i, &h) in hashes.iter().enumerate() {
                assert_eq!(g.contains(h), i % 2 == 0, "shift {shift}, hash {h:#x}");
            }
            assert_eq!(g.len(), 1_000);
        }
    }

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
