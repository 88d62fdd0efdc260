//! A count-min sketch of 4-bit counters that estimates how often each key was seen recently
//! (TinyLFU's frequency filter). As in Caffeine, a key's four counters all lie in one 64-byte
//! block (one cache line, one memory access), each in a different word of it. All counters are
//! halved every `sample_size` increments, so old popularity fades; the halving is O(table) once
//! per O(table) increments: O(1) amortized. A sketch may also be *unallocated*: it then holds
//! no table, counts nothing and estimates every key at 0 (the policy allocates it once its
//! shard is half full).

/// Odd multipliers: the high bits of `hash × BLOCK_MIX` choose the block, those of
/// `hash × COUNTER_MIX` the counters inside it (the high bits of a product depend on every bit
/// of the hash, so neither the cache's shard bits nor hashbrown's bits bias the choice).
const BLOCK_MIX: u64 = 0x9E37_79B9_7F4A_7C15;
const COUNTER_MIX: u64 = 0xC2B2_AE3D_27D4_EB4F;

/// Counters saturate at 15 (4 bits).
const MAX_COUNT: u64 = 15;

/// One key's counters' block: 8 words of 16 four-bit counters, aligned to a cache line. (A
/// `Vec<u64>` of this size starts 16 bytes into a line, so every block straddled two lines
/// and each increment or estimate loaded both: aligned, callgrind's cache model counts 15 %
/// fewer L2 misses, Zipf 1.1 get-or-insert with a 1 MiB L2.)
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[repr(align(64))]
struct Block([u64; 8]);

#[derive(Debug, Clone)]
pub(crate) struct Sketch {
    table: Vec<Block>,
    mask: usize,
    /// Increments since the last halving.
    additions: u64,
    /// Halve when `additions` reaches this (10 × the expected number of entries).
    sample_size: u64,
}

impl Sketch {
    /// A sketch for about `entries` distinct live keys.
    pub(crate) fn new(entries: u64) -> Self {
        let words = entries.clamp(16, 1 << 26).next_power_of_two() as usize;
        Self {
            table: vec![Block::default(); words / 8],
            mask: words / 8 - 1,
            additions: 0,
            sample_size: 10 * words as u64,
        }
    }

    /// A sketch without a table: it ignores increments and estimates 0 for every key.
    pub(crate) const fn unallocated() -> Self {
        Self {
            table: Vec::new(),
            mask: 0,
            additions: 0,
            sample_size: 0,
        }
    }

    /// Whether the sketch has a table (is not [`unallocated`](Self::unallocated)).
    #[inline]
    pub(crate) fn is_allocated(&self) -> bool {
        !self.table.is_empty()
    }

    /// How many keys the sketch is sized for (0 when unallocated).
    pub(crate) fn entries(&self) -> u64 {
        self.table.len() as u64 * 8
    }

    /// The increments between two halvings.
    #[cfg(test)]
    pub(crate) fn sample_size(&self) -> u64 {
        self.sample_size
    }

    /// The index of the block of `hash`'s counters.
    #[inline]
    fn block(&self, hash: u64) -> usize {
        (hash.wrapping_mul(BLOCK_MIX) >> 32) as usize & self.mask
    }

    /// Word index inside the block (`< 8`) and bit shift of each of `hash`'s four counters.
    #[inline]
    fn offsets(hash: u64) -> [(usize, u32); 4] {
        let h = hash.wrapping_mul(COUNTER_MIX) >> 32;
        // Counter i lives in word 2i or 2i+1 of the block, at one of its 16 nibbles: 5 bits of
        // the top 32 of the product each.
        std::array::from_fn(|i| {
            let b = h >> (5 * i);
            (2 * i + (b & 1) as usize, ((b >> 1) & 15) as u32 * 4)
        })
    }

    /// Asks for the block of `hash`'s counters ahead of an increment or an estimate.
    #[inline]
    pub(crate) fn prefetch(&self, hash: u64) {
        if let Some(block) = self.table.get(self.block(hash)) {
            crate::prefetch::prefetch(block);
        }
    }

    /// Records one access to the key of `hash`.
    #[inline]
    pub(crate) fn increment(&mut self, hash: u64) {
        let mut added = false;
        let block = self.block(hash);
        let Some(Block(words)) = self.table.get_mut(block) else {
            return;
        };
        for (w, s) in Self::offsets(hash) {
            if (words[w] >> s) & 0xF < MAX_COUNT {
                words[w] += 1 << s;
                added = true;
            }
        }
        if added {
            self.additions += 1;
            if self.additions >= self.sample_size {
                self.halve();
            }
        }
    }

    /// Records `n` accesses to the key of `hash`: exactly what `n` calls of
    /// [`increment`](Self::increment) do (halving included), with one pass over the counters
    /// per halving instead of one per access.
    #[inline]
    pub(crate) fn add(&mut self, hash: u64, mut n: u8) {
        if !self.is_allocated() {
            return;
        }
        let block = self.block(hash);
        let slots = Self::offsets(hash);
        while n > 0 {
            // Each increment adds to every counter below the cap and counts as an addition
            // while any is below it: that is the smallest counter's distance to the cap.
            let least = slots
                .iter()
                .map(|&(w, s)| (self.table[block].0[w] >> s) & 0xF)
                .min()
                .unwrap_or(MAX_COUNT);
            let until_halving = self.sample_size.saturating_sub(self.additions).max(1);
            let steps = u64::from(n).min(MAX_COUNT - least).min(until_halving);
            if steps == 0 {
                return;
            }
            let words = &mut self.table[block].0;
            for &(w, s) in &slots {
                let c = (words[w] >> s) & 0xF;
                words[w] += (steps.min(MAX_COUNT - c)) << s;
            }
            self.additions += steps;
            if self.additions >= self.sample_size {
                self.halve();
            }
            // `steps <= n`, so this fits in a byte.
            n -= steps as u8;
        }
    }

    /// The estimated recent access count of the key of `hash` (never below the true count
    /// since the last halving, capped at 15).
    #[inline]
    pub(crate) fn frequency(&self, hash: u64) -> u8 {
        let Some(Block(words)) = self.table.get(self.block(hash)) else {
            return 0;
        };
        let mut f = MAX_COUNT;
        for (w, s) in Self::offsets(hash) {
            f = f.min((words[w] >> s) & 0xF);
        }
        f as u8
    }

    fn halve(&mut self) {
        for w in self.table.iter_mut().flat_map(|b| &mut b.0) {
            *w = (*w >> 1) & 0x7777_7777_7777_7777;
        }
        self.additions /= 2;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn mix(k: u64) -> u64 {
        // splitmix64 finalizer: an independent stand-in for the cache's hasher.
        let mut z = k.wrapping_add(0x9E37_79B9_7F4A_7C15);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    #[test]
    fn never_underestimates_before_halving() {
        let mut s = Sketch::new(1024);
        let mut truth: HashMap<u64, u64> = HashMap::new();
        // Fewer increments than the sample size: no halving happens.
        for i in 0..5_000u64 {
            let k = (i * 7919) % 700;
            s.increment(mix(k));
            *truth.entry(k).or_default() += 1;
        }
        assert!(s.additions < s.sample_size);
        for (k, n) in truth {
            assert!(u64::from(s.frequency(mix(k))) >= n.min(15), "key {k}");
        }
    }

    #[test]
    fn halving_fades_old_counts() {
        let mut s = Sketch::new(16);
        for _ in 0..12 {
            s.increment(mix(1));
        }
        assert_eq!(s.frequency(mix(1)), 12);
        // Enough other traffic to trigger at least one halving.
        for i in 0..s.sample_size() {
            s.increment(mix(1000 + i));
        }
        assert!(s.frequency(mix(1)) <= 6 + 1, "{}", s.frequency(mix(1)));
    }

    /// `add(h, n)` leaves the table and the addition count exactly as `n` increments do,
    /// across halvings and saturated counters.
    #[test]
    fn add_is_repeated_increment() {
        let mut batched = Sketch::new(16);
        let mut single = Sketch::new(16);
        let mut x = 99u64;
        for step in 0..20_000u64 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let h = mix(x % 40);
            let n = (x >> 40) as u8 % 17;
            batched.add(h, n);
            for _ in 0..n {
                single.increment(h);
            }
            assert_eq!(batched.table, single.table, "step {step}");
            assert_eq!(batched.additions, single.additions, "step {step}");
        }
    }

    #[test]
    fn unseen_keys_are_mostly_zero() {
        let mut s = Sketch::new(4096);
        for k in 0..1000 {
            s.increment(mix(k));
        }
        let nonzero = (1_000_000..1_001_000)
            .filter(|&k| s.frequency(mix(k)) > 0)
            .count();
        assert!(nonzero < 50, "{nonzero} false positives of 1000");
    }

    #[test]
    fn an_unallocated_sketch_counts_nothing() {
        let mut s = Sketch::unallocated();
        assert!(!s.is_allocated());
        assert_eq!(s.entries(), 0);
        for k in 0..100 {
            s.increment(mix(k));
            s.add(mix(k), 15);
            s.prefetch(mix(k));
        }
        assert!((0..100).all(|k| s.frequency(mix(k)) == 0));
        assert_eq!(s.additions, 0);
        assert!(Sketch::new(16).is_allocated());
    }
}
