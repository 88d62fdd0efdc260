//! Zipf-distributed keys for the throughput runs: rank r in 1..=n drawn with probability
//! proportional to r^-s (inverse CDF by binary search), scrambled so hot keys are not adjacent.

/// splitmix64: the generator's step and the key scrambler.
pub(super) fn splitmix(x: &mut u64) -> u64 {
    *x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *x;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// The cumulative distribution over `n` ranks with exponent `s`.
pub(super) struct Zipf {
    cdf: Vec<f64>,
}

impl Zipf {
    pub(super) fn new(n: usize, s: f64) -> Self {
        let mut acc = 0.0;
        let mut cdf: Vec<f64> = (1..=n)
            .map(|r| {
                acc += (r as f64).powf(-s);
                acc
            })
            .collect();
        for c in &mut cdf {
            *c /= acc;
        }
        Self { cdf }
    }

    /// `len` keys drawn with the generator seeded by `seed`.
    pub(super) fn keys(&self, len: usize, seed: u64) -> Vec<u64> {
        let mut state = seed;
        (0..len)
            .map(|_| {
                let u = (splitmix(&mut state) >> 11) as f64 / (1u64 << 53) as f64;
                let rank = self.cdf.partition_point(|&c| c < u).min(self.cdf.len() - 1);
                let mut r = rank as u64;
                splitmix(&mut r)
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    #[test]
    fn frequencies_follow_the_power_law() {
        let z = Zipf::new(1000, 1.0);
        let keys = z.keys(200_000, 1);
        let mut counts: HashMap<u64, usize> = HashMap::new();
        for k in keys {
            *counts.entry(k).or_default() += 1;
        }
        let mut by_rank: Vec<usize> = counts.into_values().collect();
        by_rank.sort_unstable_by(|a, b| b.cmp(a));
        // Rank 1 is drawn about twice as often as rank 2 and ten times as often as rank 10.
        let r12 = by_rank[0] as f64 / by_rank[1] as f64;
        let r110 = by_rank[0] as f64 / by_rank[9] as f64;
        assert!((1.8..2.2).contains(&r12), "{r12}");
        assert!((8.5..11.5).contains(&r110), "{r110}");
    }
}
