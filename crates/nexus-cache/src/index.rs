//! A shard's index: from a key's hash to its slab slot. Open addressing with linear probing
//! over 8-byte buckets, each holding the slot beside 32 bits of the hash, so that a lookup
//! reads one cache line of the index (rarely two) before the slab node. It replaced hashbrown's
//! `HashTable<u32>`, which keeps control bytes and slots in two arrays: a hit read a line of
//! each, one after the other, then the node. Measured with get-or-insert over 100k entries,
//! one thread, both with the prefetches of `prefetch.rs`: L1d read misses 8.7 M → 6.5 M and
//! instructions −5.5 % over 3M operations (callgrind, Zipf 1.1); in-process about +5 % at
//! Zipf 1.1 but −1 to −4 % at Zipf 0.9, where a removal's first bucket is a cold line: once
//! the victim's bucket was prefetched as well, +2 to +9 % there. A hit's time is mostly these
//! dependent loads.
//!
//! Tried and not kept (in-process get-or-insert A/B, one thread, also with another process
//! streaming over 256 MiB on the other core to squeeze the caches; and the cache suite, 5
//! interleaved process pairs): growing at 4/5 full instead of 1/2 (a smaller table, longer
//! probes) made one thread 6–10 % slower, faster only when squeezed; 4-byte buckets (16-bit tag
//! and slot, widened on demand) gained 5–20 % squeezed but lost 2–13 % against quick_cache in
//! the 2- and 4-thread rows (likely because a line written by an insert then holds twice the
//! keys that other threads read) and cost 6 % more instructions a get-or-insert, for the
//! layout's dispatch.
//!
//! The key itself is compared by the caller (on the slab node) when the 32 bits match. Removal
//! shifts the following buckets back (no tombstones), so a lookup stops at the first empty
//! bucket and the table never degrades under churn.

/// A bucket's `slot` when it is empty.
const EMPTY: u32 = u32::MAX;

/// The fewest buckets a table has.
const MIN_BUCKETS: usize = 8;

/// The most buckets a table has: the tag's 32 bits address them all, and at half full they
/// hold more keys than a shard's `u32` slots can number (2^32 on 64-bit targets).
const MAX_BUCKETS: usize = match 1usize.checked_shl(32) {
    Some(n) => n,
    None => 1 << (usize::BITS - 1),
};

/// One bucket: the low 32 bits of a key's hash and its slab slot ([`EMPTY`] if none).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Bucket {
    tag: u32,
    slot: u32,
}

impl Bucket {
    const VACANT: Self = Self {
        tag: 0,
        slot: EMPTY,
    };
}

/// The tag of `hash`: its low 32 bits, which also choose the home bucket. (The cache chooses
/// the shard from bits 32 and up, so these vary within a shard.)
#[inline]
fn tag(hash: u64) -> u32 {
    hash as u32
}

/// Hash → slab slot, at most half full (it doubles beyond).
#[derive(Debug)]
pub(crate) struct Index {
    buckets: Box<[Bucket]>,
    /// `buckets.len() - 1` (the length is a power of two).
    mask: usize,
    len: usize,
}

impl Index {
    /// A table holding `keys` keys before it grows.
    pub(crate) fn with_capacity(keys: usize) -> Self {
        let buckets = keys
            .saturating_mul(2)
            .clamp(MIN_BUCKETS, MAX_BUCKETS)
            .next_power_of_two();
        Self {
            buckets: vec![Bucket::VACANT; buckets].into_boxed_slice(),
            mask: buckets - 1,
            len: 0,
        }
    }

    /// The number of keys held.
    #[inline]
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// The home bucket of `tag`: its low bits.
    #[inline]
    fn home(&self, tag: u32) -> usize {
        tag as usize & self.mask
    }

    /// The slot of `hash` for which `is_key(slot)` holds (the caller compares the keys).
    #[inline]
    pub(crate) fn find(&self, hash: u64, mut is_key: impl FnMut(u32) -> bool) -> Option<u32> {
        let t = tag(hash);
        let mut i = self.home(t);
        loop {
            let b = self.buckets[i];
            if b.slot == EMPTY {
                return None;
            }
            if b.tag == t && is_key(b.slot) {
                return Some(b.slot);
            }
            i = (i + 1) & self.mask;
        }
    }

    /// Asks for the home bucket of `hash` ahead of a lookup or removal.
    #[inline]
    pub(crate) fn prefetch(&self, hash: u64) {
        crate::prefetch::prefetch(&self.buckets[self.home(tag(hash))]);
    }

    /// Adds `slot` under `hash`; the key must not be held already.
    pub(crate) fn insert_unique(&mut self, hash: u64, slot: u32) {
        debug_assert_ne!(slot, EMPTY);
        if (self.len + 1) * 2 > self.buckets.len() {
            self.grow();
        }
        self.place(Bucket {
            tag: tag(hash),
            slot,
        });
        self.len += 1;
    }

    /// Puts `bucket` in the first empty bucket from its home on (there is one: the table is
    /// at most half full).
    fn place(&mut self, bucket: Bucket) {
        let mut i = self.home(bucket.tag);
        while self.buckets[i].slot != EMPTY {
            i = (i + 1) & self.mask;
        }
        self.buckets[i] = bucket;
    }

    /// Doubles the buckets and places every key again (from its tag: no hash is recomputed).
    #[cold]
    fn grow(&mut self) {
        let buckets = self.buckets.len() * 2;
        assert!(
            buckets <= MAX_BUCKETS,
            "a shard's index holds at most {} keys",
            MAX_BUCKETS / 2
        );
        let old = std::mem::replace(
            &mut self.buckets,
            vec![Bucket::VACANT; buckets].into_boxed_slice(),
        );
        self.mask = buckets - 1;
        for b in old.iter().filter(|b| b.slot != EMPTY) {
            self.place(*b);
        }
    }

    /// Removes `slot`, held under `hash`; returns whether it was there.
    pub(crate) fn remove(&mut self, hash: u64, slot: u32) -> bool {
        // `find`'s probe, written out again: one probe shared through a closure made the
        // get-or-insert loop 1.4 % more instructions and 1-3 % slower (callgrind, in-process).
        let t = tag(hash);
        let mut i = self.home(t);
        loop {
            let b = self.buckets[i];
            if b.slot == EMPTY {
                return false;
            }
            if b.slot == slot {
                break;
            }
            i = (i + 1) & self.mask;
        }
        // Backward shift: a later bucket of the run moves into the hole when the hole lies
        // between its home and it (cyclically); the run's end leaves the last hole empty.
        let mut hole = i;
        let mut j = (i + 1) & self.mask;
        loop {
            let b = self.buckets[j];
            if b.slot == EMPTY {
                break;
            }
            let from_home = j.wrapping_sub(self.home(b.tag)) & self.mask;
            let from_hole = j.wrapping_sub(hole) & self.mask;
            if from_home >= from_hole {
                self.buckets[hole] = b;
                hole = j;
            }
            j = (j + 1) & self.mask;
        }
        self.buckets[hole] = Bucket::VACANT;
        self.len -= 1;
        true
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use proptest::prelude::*;

    use super::*;

    /// Hashes with few distinct low bits, so that keys collide, runs grow long and wrap
    /// around the table's end.
    fn crowded_hash(key: u16) -> u64 {
        u64::from(key).wrapping_mul(0x9E37_79B9_7F4A_7C15) & 0xFFFF_FFFF_0000_001F
    }

    #[derive(Debug, Clone)]
    enum Op {
        Insert(u16),
        Remove(u16),
        Find(u16),
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            3 => (0u16..300).prop_map(Op::Insert),
            2 => (0u16..300).prop_map(Op::Remove),
            2 => (0u16..300).prop_map(Op::Find),
        ]
    }

    proptest! {
        /// Against a `HashMap` of key → slot: every key's slot is found, no other key is,
        /// across growth, wrap-around and backward-shift removals.
        #[test]
        fn matches_a_map(ops in prop::collection::vec(op(), 1..600), start in 0usize..40) {
            let mut index = Index::with_capacity(start);
            let mut model: HashMap<u16, u32> = HashMap::new();
            // The caller's key comparison: a slot's key is the model's key of that slot.
            let mut keys: HashMap<u32, u16> = HashMap::new();
            let mut next_slot = 0u32;
            for op in ops {
                match op {
                    Op::Insert(k) if !model.contains_key(&k) => {
                        index.insert_unique(crowded_hash(k), next_slot);
                        model.insert(k, next_slot);
                        keys.insert(next_slot, k);
                        next_slot += 1;
                    }
                    Op::Insert(_) => {}
                    Op::Remove(k) => {
                        let slot = model.remove(&k);
                        let removed = slot.is_some_and(|s| index.remove(crowded_hash(k), s));
                        prop_assert_eq!(removed, slot.is_some());
                    }
                    Op::Find(k) => {
                        let found = index.find(crowded_hash(k), |s| keys.get(&s) == Some(&k));
                        prop_assert_eq!(found, model.get(&k).copied());
                    }
                }
                prop_assert_eq!(index.len(), model.len());
            }
            for (&k, &s) in &model {
                prop_assert_eq!(index.find(crowded_hash(k), |x| keys.get(&x) == Some(&k)), Some(s));
            }
            // Removing a slot that is not held changes nothing.
            prop_assert!(!index.remove(crowded_hash(7), EMPTY - 1));
            prop_assert_eq!(index.len(), model.len());
        }
    }

    #[test]
    fn stays_at_most_half_full() {
        let mut index = Index::with_capacity(0);
        for s in 0..1000u32 {
            index.insert_unique(u64::from(s).wrapping_mul(0xC2B2_AE3D_27D4_EB4F), s);
            assert!(index.len() * 2 <= index.buckets.len());
        }
        assert_eq!(Index::with_capacity(1000).buckets.len(), 2048);
    }
}
