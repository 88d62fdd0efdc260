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
        for signs in self.signs.chunks_exact(self.n) {
            for (o, s) in out.iter_mut().zip(signs) {
                *o *= s;
            }
            fwht(out);
            for o in out.iter_mut() {
                *o *= scale;
            }
        }
    }
}

/// In-place unnormalised fast Walsh–Hadamard transform of a power-of-two length slice.
fn fwht(x: &mut [f32]) {
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

    #[test]
    fn seeded_and_deterministic() {
        assert_eq!(Rotation::new(50, 1), Rotation::new(50, 1));
        assert_ne!(Rotation::new(50, 1), Rotation::new(50, 2));
    }
}
