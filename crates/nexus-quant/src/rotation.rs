//! The seeded random orthogonal rotation of RaBitQ: a randomized Hadamard transform.
//!
//! The input is zero-padded to `n`, the next power of two (at least 64), then `ROUNDS` times
//! multiplied by a random ±1 diagonal and by the normalised Walsh–Hadamard matrix `H / √n`.
//! Every step is orthogonal, so the whole map preserves inner products exactly (up to f32
//! rounding). The signs come from ChaCha8 seeded with the stored seed, so a quantizer is
//! reproduced from `(dim, seed)` alone on any platform.

use rand::{RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Rounds of sign flip + Hadamard; three make the result close to a uniformly random rotation
/// for the purposes of the estimator.
pub(crate) const ROUNDS: usize = 3;

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Rotation {
    n: usize,
    /// `ROUNDS × n` factors of ±1.
    signs: Vec<f32>,
}

impl Rotation {
    pub(crate) fn new(dim: usize, seed: u64) -> Self {
        let n = dim.next_power_of_two().max(64);
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut signs = Vec::with_capacity(ROUNDS * n);
        while signs.len() < ROUNDS * n {
            let bits = rng.next_u64();
            signs.extend((0..64).map(|b| if (bits >> b) & 1 == 1 { -1.0f32 } else { 1.0 }));
        }
        Self { n, signs }
    }

    /// The padded dimension: the length of rotated vectors and the number of code bits.
    pub(crate) fn padded_dim(&self) -> usize {
        self.n
    }

    /// `out = R · [x, 0…]` where `out.len() == padded_dim()`.
    pub(crate) fn apply(&self, x: &[f32], out: &mut [f32]) {
        debug_assert_eq!(out.len(), self.n);
        out[..x.len()].copy_from_slice(x);
        out[x.len()..].fill(0.0);
        self.apply_in_place(out);
    }

    /// `buf = R · buf` where `buf.len() == padded_dim()` (the caller zero-pads).
    pub(crate) fn apply_in_place(&self, out: &mut [f32]) {
        debug_assert_eq!(out.len(), self.n);
        let scale = 1.0 / (self.n as f32).sqrt();
        // Each round's 1/√n is folded into the next round's signs: for s = ±1,
        // (x · scale) · s == x · (s · scale) bit for bit, and one pass over the data is saved.
        for (round, signs) in self.signs.chunks_exact(self.n).enumerate() {
            let carried = if round == 0 { 1.0 } else { scale };
            for (o, s) in out.iter_mut().zip(signs) {
                *o *= s * carried;
            }
            fwht(out);
        }
        for o in out.iter_mut() {
            *o *= scale;
        }
    }
}

/// In-place unnormalised fast Walsh–Hadamard transform of a power-of-two length slice.
///
/// The first three levels (butterflies 1, 2 and 4 apart) run within each run of 8 values as
/// `y[i] = x[i ^ h] ± x[i]` ([`butterflies8`]), which LLVM turns into shuffles and vector adds
/// (below 8 values, all levels go the general way); the later levels go two at a time over four
/// quarters of each block, which it vectorizes as they are, and a last single level where
/// their number is odd. Every value gets the same sums and differences in the same order as from the
/// plain butterflies, one level and one value at a time (`tests::fwht_reference`, checked bit
/// for bit), whose first levels stayed scalar. RaBitQ encoding of 384 dimensions, one core,
/// SSE2: the runs of 8 took it from 0.28 to 0.44 M vectors/s, two levels a pass (after the
/// factors' sums in `rabitq.rs` were split into lanes) from 0.58 to 0.66.
fn fwht(x: &mut [f32]) {
    let n = x.len();
    debug_assert!(n.is_power_of_two());
    let mut h = 1;
    if n >= 8 {
        let (runs, _) = x.as_chunks_mut::<8>();
        for run in runs {
            *run = butterflies8::<4>(butterflies8::<2>(butterflies8::<1>(*run)));
        }
        h = 8;
    }
    // Two levels per pass over the data where two are left: half the loads and stores.
    while 4 * h <= n {
        for block in x.chunks_exact_mut(4 * h) {
            let (a, rest) = block.split_at_mut(h);
            let (b, rest) = rest.split_at_mut(h);
            let (c, d) = rest.split_at_mut(h);
            let quads = a
                .iter_mut()
                .zip(b.iter_mut())
                .zip(c.iter_mut().zip(d.iter_mut()));
            for ((a, b), (c, d)) in quads {
                let (s0, d0, s1, d1) = (*a + *b, *a - *b, *c + *d, *c - *d);
                (*a, *b, *c, *d) = (s0 + s1, d0 + d1, s0 - s1, d0 - d1);
            }
        }
        h *= 4;
    }
    if h < n {
        let (a, b) = x.split_at_mut(h);
        for (u, v) in a.iter_mut().zip(b.iter_mut()) {
            let (s, d) = (*u + *v, *u - *v);
            *u = s;
            *v = d;
        }
    }
}

/// One butterfly level, `H` apart, within 8 values: `x[i] + x[i + H]` at `i`, `x[i] − x[i + H]`
/// at `i + H`. Written as `x[i ^ H] ± x[i]`: `a + b == b + a` and `a + (−b) == a − b` exactly
/// in IEEE arithmetic, so the results are those of the plain butterfly.
#[inline(always)]
fn butterflies8<const H: usize>(x: [f32; 8]) -> [f32; 8] {
    std::array::from_fn(|i| {
        let sign = if i & H == 0 { 1.0 } else { -1.0 };
        x[i ^ H] + sign * x[i]
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dot64(a: &[f32], b: &[f32]) -> f64 {
        a.iter()
            .zip(b)
            .map(|(&x, &y)| f64::from(x) * f64::from(y))
            .sum()
    }

    #[test]
    fn preserves_inner_products_and_norms() {
        let dim = 100;
        let r = Rotation::new(dim, 7);
        assert_eq!(r.padded_dim(), 128);
        let a: Vec<f32> = (0..dim)
            .map(|i| ((i * 37 % 11) as f32 - 5.0) / 7.0)
            .collect();
        let b: Vec<f32> = (0..dim)
            .map(|i| ((i * 13 % 17) as f32 - 8.0) / 9.0)
            .collect();
        let (mut ra, mut rb) = (vec![0.0; 128], vec![0.0; 128]);
        r.apply(&a, &mut ra);
        r.apply(&b, &mut rb);
        assert!((dot64(&ra, &rb) - dot64(&a, &b)).abs() < 1e-4);
        assert!((dot64(&ra, &ra) - dot64(&a, &a)).abs() < 1e-4);
        // A rotation, not the identity: the mass spreads over the padding too.
        assert!(ra[dim..].iter().any(|x| x.abs() > 1e-3));
    }

    /// The butterflies one value at a time, as [`fwht`] computed them before its first levels
    /// were vectorized.
    fn fwht_reference(x: &mut [f32]) {
        let n = x.len();
        let mut h = 1;
        while h < n {
            for block in x.chunks_exact_mut(2 * h) {
                let (a, b) = block.split_at_mut(h);
                for (u, v) in a.iter_mut().zip(b.iter_mut()) {
                    let (s, d) = (*u + *v, *u - *v);
                    *u = s;
                    *v = d;
                }
            }
            h *= 2;
        }
    }

    #[test]
    fn fwht_matches_the_plain_butterflies_bit_for_bit() {
        let mut state = 0x2545_F491_4F6C_DD1Du64;
        for n in [1, 2, 4, 8, 16, 64, 512, 4096] {
            for _ in 0..4 {
                let x: Vec<f32> = (0..n)
                    .map(|_| {
                        state ^= state << 13;
                        state ^= state >> 7;
                        state ^= state << 17;
                        // Mixed magnitudes and signs, so that rounding differs between orders.
                        let m = (state >> 40) as f32 / (1u64 << 24) as f32 - 0.5;
                        m * f32::powi(2.0, (state % 40) as i32 - 20)
                    })
                    .collect();
                let (mut fast, mut plain) = (x.clone(), x);
                fwht(&mut fast);
                fwht_reference(&mut plain);
                let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
                assert_eq!(bits(&fast), bits(&plain), "n = {n}");
            }
        }
    }

    #[test]
    fn rotation_matches_the_round_by_round_form_bit_for_bit() {
        for dim in [5, 100, 384, 1000] {
            let r = Rotation::new(dim, 0xC0FFEE + dim as u64);
            let n = r.padded_dim();
            let x: Vec<f32> = (0..dim)
                .map(|i| ((i * 7919 % 1013) as f32 - 506.0) / 97.0)
                .collect();
            let mut fast = vec![0.0; n];
            r.apply(&x, &mut fast);
            // Sign, transform, scale, round after round, as before the scales were folded.
            let mut plain = x.clone();
            plain.resize(n, 0.0);
            let scale = 1.0 / (n as f32).sqrt();
            for signs in r.signs.chunks_exact(n) {
                for (o, s) in plain.iter_mut().zip(signs) {
                    *o *= s;
                }
                fwht_reference(&mut plain);
                for o in plain.iter_mut() {
                    *o *= scale;
                }
            }
            let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
            assert_eq!(bits(&fast), bits(&plain), "dim = {dim}");
        }
    }

    #[test]
    fn seeded_and_deterministic() {
        assert_eq!(Rotation::new(50, 1), Rotation::new(50, 1));
        assert_ne!(Rotation::new(50, 1), Rotation::new(50, 2));
    }
}
