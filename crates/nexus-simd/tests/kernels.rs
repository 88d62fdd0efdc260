//! Every kernel at every level this CPU supports, against an independent reference computed in
//! f64 (or exactly, in integers): all lengths 0..=130 and the common embedding sizes, misaligned
//! sub-slices, random and adversarial values.
//!
//! # Tolerances, and why they are right
//! - f32 sums (`dot`, `l2_squared`, `dot_f32_i8`, `dot_f32_bits`, and their one-to-many /
//!   many-to-many forms): any order of n f32 additions / FMAs is within γₙ·Σ|termᵢ| of the exact
//!   sum, γₙ ≈ n·u with u = 2⁻²⁴ (Higham, *Accuracy and Stability*, §4.2); the kernels add in
//!   different orders (lanes, accumulators, trees) so only this bound — not bit equality — holds.
//!   We allow (n + 8)·u·Σ|termᵢ| (L2 adds one rounding for the difference) plus n·2⁻¹⁴⁹ for
//!   products of denormals that underflow.
//! - `cosine`: its three sums each obey the bound above, so the quotient is within
//!   4·(n + 8)·u·(Σ|aᵢbᵢ| / (‖a‖‖b‖) + 1). Checked when both squared norms are normal f32
//!   (≥ 1e-30); below that they underflow in f32 and the kernel documents a 0 or inexact result.
//! - Integer kernels (`dot_i8`, `hamming`, `and_popcount_planes`): exact.

use nexus_simd::__levels::{self, Kernels};
use nexus_simd::Level;
use proptest::prelude::*;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

const U: f64 = 1.0 / (1u64 << 24) as f64;
const DENORMAL_SLACK: f64 = 1.401_298_464_324_817e-45; // 2^-149

fn lengths() -> Vec<usize> {
    (0..=130).chain([384, 768, 1024, 1536, 3072]).collect()
}

fn levels() -> Vec<(Level, Kernels)> {
    __levels::supported()
        .into_iter()
        .map(|l| {
            (
                l,
                __levels::kernels(l).expect("supported level has a table"),
            )
        })
        .collect()
}

/// Random f32 in [-1, 1], or adversarial: large magnitudes, denormals, zeros and ±1 mixed.
fn floats(rng: &mut ChaCha8Rng, n: usize, adversarial: bool) -> Vec<f32> {
    (0..n)
        .map(|_| {
            if !adversarial {
                return rng.random_range(-1.0f32..1.0);
            }
            let sign = if rng.random_bool(0.5) { 1.0 } else { -1.0 };
            sign * match rng.random_range(0..5) {
                0 => 0.0,
                1 => rng.random_range(1e-44f32..1e-38), // denormal
                2 => rng.random_range(1e16f32..1e17),   // squares near 1e34: no f32 overflow
                3 => 1.0,
                _ => rng.random_range(0.0f32..1.0),
            }
        })
        .collect()
}

fn bytes(rng: &mut ChaCha8Rng, n: usize, adversarial: bool) -> Vec<i8> {
    (0..n)
        .map(|_| match (adversarial, rng.random_range(0..3)) {
            (true, 0) => i8::MIN,
            (true, 1) => i8::MAX,
            _ => rng.random(),
        })
        .collect()
}

fn words(rng: &mut ChaCha8Rng, n: usize, adversarial: bool) -> Vec<u64> {
    (0..n)
        .map(|_| match (adversarial, rng.random_range(0..3)) {
            (true, 0) => u64::MAX,
            (true, 1) => 0,
            _ => rng.random(),
        })
        .collect()
}

/// `v` copied at element offset `off` inside a larger buffer, so that the slice is misaligned.
fn at_offset<T: Copy + Default>(v: &[T], off: usize) -> (Vec<T>, usize) {
    let mut buf = vec![T::default(); v.len() + off + 1];
    buf[off..off + v.len()].copy_from_slice(v);
    (buf, off)
}

// ---- references -------------------------------------------------------------------------

/// (exact-ish f64 sum, Σ|term|) for the sum of `terms`.
fn ref_sum(terms: impl Iterator<Item = f64>) -> (f64, f64) {
    terms.fold((0.0, 0.0), |(s, a), t| (s + t, a + t.abs()))
}

fn ref_dot(a: &[f32], b: &[f32]) -> (f64, f64) {
    ref_sum(a.iter().zip(b).map(|(&x, &y)| f64::from(x) * f64::from(y)))
}

fn ref_l2(a: &[f32], b: &[f32]) -> (f64, f64) {
    ref_sum(
        a.iter()
            .zip(b)
            .map(|(&x, &y)| (f64::from(x) - f64::from(y)).powi(2)),
    )
}

fn ref_dot_f32_i8(q: &[f32], c: &[i8]) -> (f64, f64) {
    ref_sum(q.iter().zip(c).map(|(&x, &y)| f64::from(x) * f64::from(y)))
}

fn ref_dot_f32_bits(q: &[f32], code: &[u64]) -> (f64, f64) {
    ref_sum(
        q.iter()
            .enumerate()
            .filter(|(i, _)| code[i / 64] >> (i % 64) & 1 == 1)
            .map(|(_, &x)| f64::from(x)),
    )
}

fn ref_dot_i8(a: &[i8], b: &[i8]) -> i64 {
    a.iter()
        .zip(b)
        .map(|(&x, &y)| i64::from(x) * i64::from(y))
        .sum()
}

fn ref_hamming(a: &[u64], b: &[u64]) -> u64 {
    a.iter()
        .zip(b)
        .map(|(x, y)| u64::from((x ^ y).count_ones()))
        .sum()
}

fn ref_planes(planes: &[u64], code: &[u64]) -> u64 {
    // Bit by bit: the query value of dimension i is Σ_j 2^j·bit_i(plane_j).
    let words = code.len();
    let bits = planes.len().checked_div(words).unwrap_or(0);
    (0..words * 64)
        .filter(|&i| code[i / 64] >> (i % 64) & 1 == 1)
        .map(|i| {
            (0..bits)
                .map(|j| (planes[j * words + i / 64] >> (i % 64) & 1) << j)
                .sum::<u64>()
        })
        .sum()
}

#[track_caller]
fn assert_close(got: f32, (exact, abs_sum): (f64, f64), n: usize, what: &str) {
    let tol = (n as f64 + 8.0) * U * abs_sum + n as f64 * DENORMAL_SLACK;
    let err = (f64::from(got) - exact).abs();
    assert!(
        err <= tol,
        "{what}: got {got}, expected {exact} (error {err:e} > tolerance {tol:e})"
    );
}

// ---- one-to-one -------------------------------------------------------------------------

#[test]
fn f32_kernels_match_the_f64_reference() {
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    for (level, k) in levels() {
        for n in lengths() {
            for adversarial in [false, true] {
                let a = floats(&mut rng, n, adversarial);
                let b = floats(&mut rng, n, adversarial);
                for off in [0, 1, 3] {
                    let (ba, o) = at_offset(&a, off);
                    let (bb, _) = at_offset(&b, (off + 1) % 4);
                    let (a, b) = (&ba[o..o + n], &bb[(off + 1) % 4..][..n]);
                    let what = format!("{level} n={n} off={off} adv={adversarial}");
                    assert_close((k.dot)(a, b), ref_dot(a, b), n, &format!("dot {what}"));
                    assert_close((k.l2_squared)(a, b), ref_l2(a, b), n, &format!("l2 {what}"));
                    let (ab, aa, bb) = (k.dot_norms)(a, b);
                    assert_close(ab, ref_dot(a, b), n, &format!("dot_norms.ab {what}"));
                    assert_close(aa, ref_dot(a, a), n, &format!("dot_norms.aa {what}"));
                    assert_close(bb, ref_dot(b, b), n, &format!("dot_norms.bb {what}"));
                }
            }
        }
    }
}

#[test]
fn cosine_matches_the_f64_reference() {
    let mut rng = ChaCha8Rng::seed_from_u64(2);
    for n in lengths() {
        for adversarial in [false, true] {
            let a = floats(&mut rng, n, adversarial);
            let b = floats(&mut rng, n, adversarial);
            let got = f64::from(nexus_simd::cosine(&a, &b));
            let (ab, abs) = ref_dot(&a, &b);
            let (aa, bb) = (ref_dot(&a, &a).0, ref_dot(&b, &b).0);
            assert!(got.is_finite() && got.abs() <= 1.0 + 1e-4, "cosine {got}");
            if aa < 1e-30 || bb < 1e-30 {
                continue;
            }
            let norms = aa.sqrt() * bb.sqrt();
            let tol = 4.0 * (n as f64 + 8.0) * U * (abs / norms + 1.0);
            assert!(
                (got - ab / norms).abs() <= tol,
                "cosine n={n}: got {got}, expected {}",
                ab / norms
            );
        }
    }
    assert_eq!(nexus_simd::cosine(&[0.0, 0.0], &[1.0, 2.0]), 0.0);
    assert_eq!(nexus_simd::cosine(&[], &[]), 0.0);
}

#[test]
fn i8_kernels_are_exact_and_f32_i8_is_within_tolerance() {
    let mut rng = ChaCha8Rng::seed_from_u64(3);
    for (level, k) in levels() {
        for n in lengths() {
            for adversarial in [false, true] {
                let a = bytes(&mut rng, n, adversarial);
                let b = bytes(&mut rng, n, adversarial);
                let q = floats(&mut rng, n, adversarial);
                for off in [0, 1, 7] {
                    let (ba, o) = at_offset(&a, off);
                    let a = &ba[o..o + n];
                    let got = (k.dot_i8)(a, &b);
                    assert_eq!(
                        i64::from(got),
                        ref_dot_i8(a, &b),
                        "dot_i8 {level} n={n} off={off}"
                    );
                    let what = format!("dot_f32_i8 {level} n={n} off={off}");
                    assert_close((k.dot_f32_i8)(&q, a), ref_dot_f32_i8(&q, a), n, &what);
                }
            }
        }
    }
}

#[test]
fn dot_i8_worst_case_magnitudes_are_exact() {
    for (level, k) in levels() {
        for n in [3072, 131_071] {
            let a = vec![i8::MIN; n];
            let b = vec![i8::MIN; n];
            assert_eq!(i64::from((k.dot_i8)(&a, &b)), ref_dot_i8(&a, &b), "{level}");
            let c = vec![i8::MAX; n];
            assert_eq!(i64::from((k.dot_i8)(&a, &c)), ref_dot_i8(&a, &c), "{level}");
        }
    }
}

#[test]
fn binary_kernels_are_exact() {
    let mut rng = ChaCha8Rng::seed_from_u64(4);
    for (level, k) in levels() {
        for w in lengths().into_iter().filter(|&w| w <= 384) {
            for adversarial in [false, true] {
                let a = words(&mut rng, w, adversarial);
                let b = words(&mut rng, w, adversarial);
                let (ba, o) = at_offset(&a, 1);
                let a = &ba[o..o + w];
                assert_eq!(
                    u64::from((k.hamming)(a, &b)),
                    ref_hamming(a, &b),
                    "hamming {level} words={w}"
                );
                for bits in [1, 2, 4, 8, 16] {
                    let planes = words(&mut rng, w * bits, adversarial);
                    assert_eq!(
                        u64::from((k.and_popcount_planes)(&planes, a)),
                        ref_planes(&planes, a),
                        "planes {level} words={w} bits={bits}"
                    );
                }
            }
        }
    }
}

#[test]
fn dot_f32_bits_matches_the_f64_reference() {
    let mut rng = ChaCha8Rng::seed_from_u64(5);
    for (level, k) in levels() {
        for n in lengths() {
            for adversarial in [false, true] {
                let q = floats(&mut rng, n, adversarial);
                // Random bits, including stray bits past the query (they must be ignored).
                let code = words(&mut rng, n.div_ceil(64), adversarial);
                let (bq, o) = at_offset(&q, 3);
                let q = &bq[o..o + n];
                let what = format!("dot_f32_bits {level} n={n}");
                assert_close(
                    (k.dot_f32_bits)(q, &code),
                    ref_dot_f32_bits(q, &code),
                    n,
                    &what,
                );
            }
        }
    }
}

// ---- one-to-many and many-to-many -------------------------------------------------------

const ROWS: usize = 13; // two groups of 4 (f32, i8) / one of 8 (binary), and a remainder

#[test]
fn one_to_many_kernels_match_one_to_one_references() {
    let mut rng = ChaCha8Rng::seed_from_u64(6);
    for (level, k) in levels() {
        for n in lengths() {
            let adversarial = n % 2 == 1;
            // Query and block both at element offsets that break every vector alignment.
            let (bq, oq) = at_offset(&floats(&mut rng, n, adversarial), 3);
            let q = &bq[oq..oq + n];
            let (bb, o) = at_offset(&floats(&mut rng, n * ROWS, adversarial), 1);
            let block = &bb[o..o + n * ROWS];
            let rows = || block.chunks_exact(n.max(1)).take(ROWS);
            let mut out = vec![f32::NAN; ROWS];
            if n > 0 {
                (k.dot_one_to_many)(q, block, &mut out);
                for (r, row) in rows().enumerate() {
                    assert_close(
                        out[r],
                        ref_dot(q, row),
                        n,
                        &format!("dot 1:n {level} n={n} r={r}"),
                    );
                }
                (k.l2_squared_one_to_many)(q, block, &mut out);
                for (r, row) in rows().enumerate() {
                    assert_close(
                        out[r],
                        ref_l2(q, row),
                        n,
                        &format!("l2 1:n {level} n={n} r={r}"),
                    );
                }
            }

            let (bqi, oqi) = at_offset(&bytes(&mut rng, n, adversarial), 5);
            let qi = &bqi[oqi..oqi + n];
            let (bbi, obi) = at_offset(&bytes(&mut rng, n * ROWS, adversarial), 7);
            let bi = &bbi[obi..obi + n * ROWS];
            if n > 0 {
                let mut out = vec![i32::MIN; ROWS];
                (k.dot_i8_one_to_many)(qi, bi, &mut out);
                for (r, row) in bi.chunks_exact(n).enumerate() {
                    assert_eq!(
                        i64::from(out[r]),
                        ref_dot_i8(qi, row),
                        "i8 1:n {level} n={n} r={r}"
                    );
                }
                let mut out = vec![f32::NAN; ROWS];
                (k.dot_f32_i8_one_to_many)(q, bi, &mut out);
                for (r, row) in bi.chunks_exact(n).enumerate() {
                    let what = format!("f32xi8 1:n {level} n={n} r={r}");
                    assert_close(out[r], ref_dot_f32_i8(q, row), n, &what);
                }
            }

            let words_n = n.div_ceil(64);
            let (bc, oc) = at_offset(&words(&mut rng, words_n * ROWS, adversarial), 1);
            let codes = &bc[oc..oc + words_n * ROWS];
            if words_n > 0 {
                let mut out = vec![f32::NAN; ROWS];
                (k.dot_f32_bits_one_to_many)(q, codes, &mut out);
                for (r, c) in codes.chunks_exact(words_n).enumerate() {
                    let what = format!("bits 1:n {level} n={n} r={r}");
                    assert_close(out[r], ref_dot_f32_bits(q, c), n, &what);
                }
            }
        }
    }
}

#[test]
fn binary_one_to_many_kernels_are_exact() {
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    for (level, k) in levels() {
        // Code lengths in 64-bit words: 1..=130 words and the common sizes up to 384 words.
        for w in lengths().into_iter().filter(|&w| (1..=384).contains(&w)) {
            let adversarial = w % 3 == 0;
            let (bq, oq) = at_offset(&words(&mut rng, w, adversarial), 1);
            let q = &bq[oq..oq + w];
            let (bc, oc) = at_offset(&words(&mut rng, w * ROWS, adversarial), 3);
            let codes = &bc[oc..oc + w * ROWS];
            let mut out = vec![u32::MAX; ROWS];
            (k.hamming_one_to_many)(q, codes, &mut out);
            for (r, c) in codes.chunks_exact(w).enumerate() {
                assert_eq!(
                    u64::from(out[r]),
                    ref_hamming(q, c),
                    "hamming 1:n {level} w={w} r={r}"
                );
            }
            for bits in [1, 3, 4, 8] {
                let (bp, op) = at_offset(&words(&mut rng, w * bits, adversarial), 5);
                let planes = &bp[op..op + w * bits];
                out.fill(u32::MAX);
                (k.and_popcount_planes_one_to_many)(planes, bits, codes, &mut out);
                for (r, c) in codes.chunks_exact(w).enumerate() {
                    assert_eq!(
                        u64::from(out[r]),
                        ref_planes(planes, c),
                        "planes 1:n {level} w={w} bits={bits} r={r}"
                    );
                }
            }
        }
    }
}

/// Many groups of codes per call at every code length the binary scans special-case (128-bit
/// pairs; 4-, 6-, 8-, 12-, 16-, 24-, 32-word codes with the query in registers and the last
/// words on scalar `popcnt`) and at lengths in between (the generic path), with all-ones and
/// all-zeros words so that every byte count reaches its maximum.
#[test]
fn hamming_one_to_many_is_exact_over_many_groups() {
    let mut rng = ChaCha8Rng::seed_from_u64(11);
    // Five groups of 8 and a remainder; and for the 6-code groups of 384-bit codes, whole
    // groups only and a remainder of 3.
    for (level, k) in levels() {
        for w in (1..=34).chain([48, 64, 100]) {
            for (adversarial, n) in [(false, 47), (true, 47), (false, 48), (true, 51)] {
                let (bq, oq) = at_offset(&words(&mut rng, w, adversarial), 1);
                let q = &bq[oq..oq + w];
                let (bc, oc) = at_offset(&words(&mut rng, w * n, adversarial), 3);
                let mut codes = bc[oc..oc + w * n].to_vec();
                // One code the exact complement of the query: every bit differs.
                codes[..w].iter_mut().zip(q).for_each(|(c, q)| *c = !q);
                let mut out = vec![u32::MAX; n];
                (k.hamming_one_to_many)(q, &codes, &mut out);
                for (r, c) in codes.chunks_exact(w).enumerate() {
                    assert_eq!(
                        u64::from(out[r]),
                        ref_hamming(q, c),
                        "hamming 1:n {level} w={w} r={r} n={n} adversarial={adversarial}"
                    );
                }
            }
        }
    }
}

/// Blocks of several 4 KiB pages and a partial group (the scans touch a page far ahead once
/// per page-long run of groups, so these blocks go through several runs), at every code
/// length the scans special-case and at a generic one: the same distances as the reference,
/// and nothing written past the scores (the stores are `unsafe`).
#[test]
fn hamming_one_to_many_is_exact_over_several_pages() {
    let mut rng = ChaCha8Rng::seed_from_u64(12);
    for (level, k) in levels() {
        for w in [1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 33] {
            // Three pages of codes and a partial group more.
            let n = 3 * 4096 / (8 * w) + 13;
            let q = words(&mut rng, w, false);
            let codes = words(&mut rng, w * n, true);
            let mut out = vec![u32::MAX; n + 1];
            (k.hamming_one_to_many)(&q, &codes, &mut out[..n]);
            for (r, c) in codes.chunks_exact(w).enumerate() {
                assert_eq!(
                    u64::from(out[r]),
                    ref_hamming(&q, c),
                    "hamming 1:n {level} w={w} r={r} n={n}"
                );
            }
            assert_eq!(out[n], u32::MAX, "{level} w={w}: wrote past the scores");
        }
    }
}

/// The i8 scans take a `vpmaddubsw` sign-trick path when the query holds no −128 (exact there,
/// see the AVX2 backend) and widen otherwise: both, at the extreme products (−128 rows against
/// ±127 queries), over many groups of rows and every tail length.
#[test]
fn dot_i8_one_to_many_is_exact_with_and_without_minus_128_in_the_query() {
    let mut rng = ChaCha8Rng::seed_from_u64(12);
    const N: usize = 4 * 6 + 3;
    for (level, k) in levels() {
        for n in lengths().into_iter().filter(|&n| n > 0) {
            let extreme = |rng: &mut ChaCha8Rng, len: usize, min: i8| -> Vec<i8> {
                (0..len)
                    .map(|_| match rng.random_range(0..4) {
                        0 => min,
                        1 => i8::MAX,
                        _ => rng.random_range(min..=i8::MAX),
                    })
                    .collect()
            };
            let block = extreme(&mut rng, n * N, i8::MIN);
            for query_min in [-127, i8::MIN] {
                let mut q = extreme(&mut rng, n, query_min);
                if query_min == i8::MIN {
                    q[n / 2] = i8::MIN;
                }
                let mut out = vec![i32::MIN; N];
                (k.dot_i8_one_to_many)(&q, &block, &mut out);
                for (r, row) in block.chunks_exact(n).enumerate() {
                    assert_eq!(
                        i64::from(out[r]),
                        ref_dot_i8(&q, row),
                        "i8 1:n {level} n={n} r={r} query_min={query_min}"
                    );
                }
            }
            // All products at their extreme: Σ (−128)·(−127) and Σ (−128)·127.
            for v in [-127i8, 127] {
                let q = vec![v; n];
                let rows = vec![i8::MIN; n * N];
                let mut out = vec![0i32; N];
                (k.dot_i8_one_to_many)(&q, &rows, &mut out);
                let want = ref_dot_i8(&q, &rows[..n]);
                assert!(
                    out.iter().all(|&o| i64::from(o) == want),
                    "i8 1:n {level} n={n} extreme {v}"
                );
            }
        }
    }
}

/// nexus-quant scores a block with `dot_f32_i8_one_to_many` and single codes with `dot_f32_i8`,
/// and expects the same bits from both: every level keeps the one-to-many form row by row.
#[test]
fn dot_f32_i8_one_to_many_is_bitwise_the_one_to_one_kernel() {
    let mut rng = ChaCha8Rng::seed_from_u64(13);
    const N: usize = 4 * 3 + 3;
    for (level, k) in levels() {
        for n in lengths().into_iter().filter(|&n| n > 0) {
            let q = floats(&mut rng, n, false);
            let block = bytes(&mut rng, n * N, n % 2 == 1);
            let mut out = vec![f32::NAN; N];
            (k.dot_f32_i8_one_to_many)(&q, &block, &mut out);
            for (r, row) in block.chunks_exact(n).enumerate() {
                assert_eq!(
                    out[r].to_bits(),
                    (k.dot_f32_i8)(&q, row).to_bits(),
                    "f32xi8 1:n vs 1:1 {level} n={n} r={r}"
                );
            }
        }
    }
}

/// The dispatched public functions (not only the per-level tables) against the references,
/// at the lengths of the scans above them.
#[test]
fn dispatched_one_to_many_and_many_to_many_match_the_reference() {
    let mut rng = ChaCha8Rng::seed_from_u64(10);
    for dim in [1, 7, 8, 16, 24, 100, 384, 1536] {
        let n_rows = 300;
        let q = floats(&mut rng, dim, false);
        let block = floats(&mut rng, dim * n_rows, false);
        let mut out = vec![f32::NAN; n_rows];
        nexus_simd::dot_one_to_many(&q, &block, &mut out);
        for (r, row) in block.chunks_exact(dim).enumerate() {
            assert_close(out[r], ref_dot(&q, row), dim, &format!("dot d={dim} r={r}"));
        }
        nexus_simd::l2_squared_one_to_many(&q, &block, &mut out);
        for (r, row) in block.chunks_exact(dim).enumerate() {
            assert_close(out[r], ref_l2(&q, row), dim, &format!("l2 d={dim} r={r}"));
        }
        let queries = floats(&mut rng, dim * 7, false);
        let mut out = vec![f32::NAN; 7 * n_rows];
        nexus_simd::dot_many_to_many(&queries, &block, dim, &mut out);
        for (qi, q) in queries.chunks_exact(dim).enumerate() {
            for (r, row) in block.chunks_exact(dim).enumerate() {
                let what = format!("n:m d={dim} q={qi} r={r}");
                assert_close(out[qi * n_rows + r], ref_dot(q, row), dim, &what);
            }
        }
        let qi = bytes(&mut rng, dim, true);
        let bi = bytes(&mut rng, dim * n_rows, true);
        let mut out = vec![0i32; n_rows];
        nexus_simd::dot_i8_one_to_many(&qi, &bi, &mut out);
        for (r, row) in bi.chunks_exact(dim).enumerate() {
            assert_eq!(i64::from(out[r]), ref_dot_i8(&qi, row), "i8 d={dim} r={r}");
        }
        let mut out = vec![f32::NAN; n_rows];
        nexus_simd::dot_f32_i8_one_to_many(&q, &bi, &mut out);
        for (r, row) in bi.chunks_exact(dim).enumerate() {
            let what = format!("f32xi8 d={dim} r={r}");
            assert_close(out[r], ref_dot_f32_i8(&q, row), dim, &what);
        }
    }
    for w in [1, 6, 16, 24] {
        let q = words(&mut rng, w, false);
        let codes = words(&mut rng, w * 300, false);
        let mut out = vec![u32::MAX; 300];
        nexus_simd::hamming_one_to_many(&q, &codes, &mut out);
        for (r, c) in codes.chunks_exact(w).enumerate() {
            assert_eq!(u64::from(out[r]), ref_hamming(&q, c), "hamming w={w} r={r}");
        }
    }
}

#[test]
fn many_to_many_matches_the_reference() {
    let mut rng = ChaCha8Rng::seed_from_u64(8);
    // Small shapes at every length, plus shapes that cross the kernels' row blocks.
    let mut shapes: Vec<(usize, usize, usize)> = lengths()
        .into_iter()
        .filter(|&d| d > 0)
        .map(|d| (d, 9, ROWS))
        .collect();
    shapes.extend([(1536, 6, 100), (384, 33, 1400), (17, 5, 20_000)]);
    for (level, k) in levels() {
        for &(dim, n_q, n_rows) in &shapes {
            let queries = floats(&mut rng, dim * n_q, false);
            let block = floats(&mut rng, dim * n_rows, dim % 2 == 1);
            let mut out = vec![f32::NAN; n_q * n_rows];
            (k.dot_many_to_many)(&queries, &block, dim, &mut out);
            for (qi, q) in queries.chunks_exact(dim).enumerate() {
                for (r, row) in block.chunks_exact(dim).enumerate() {
                    let what = format!("n:m {level} dim={dim} q={qi} r={r}");
                    assert_close(out[qi * n_rows + r], ref_dot(q, row), dim, &what);
                }
            }
        }
    }
}

// ---- the public API ---------------------------------------------------------------------

#[test]
fn public_api_handles_empty_inputs() {
    assert_eq!(nexus_simd::dot(&[], &[]), 0.0);
    let mut out = [f32::NAN; 3];
    nexus_simd::dot_one_to_many(&[], &[], &mut out);
    assert_eq!(out, [0.0; 3]);
    let mut out = [7u32; 2];
    nexus_simd::hamming_one_to_many(&[], &[], &mut out);
    assert_eq!(out, [0; 2]);
    assert_eq!(nexus_simd::and_popcount_planes(&[], &[]), 0);
    assert_eq!(nexus_simd::dot_f32_bits(&[], &[]), 0.0);
    let mut out: [f32; 0] = [];
    nexus_simd::dot_many_to_many(&[1.0; 4], &[], 4, &mut out);
}

#[test]
fn normalize_scales_to_unit_norm_or_reports_errors() {
    let mut rng = ChaCha8Rng::seed_from_u64(9);
    for n in lengths().into_iter().filter(|&n| n > 0) {
        let mut v = floats(&mut rng, n, true);
        v[0] = 1.0; // never all zero
        let before = v.clone();
        let norm = nexus_simd::normalize(&mut v).expect("non-zero finite vector");
        let exact = ref_dot(&before, &before).0.sqrt();
        assert!((f64::from(norm) - exact).abs() <= 1e-6 * exact);
        let unit = ref_dot(&v, &v).0.sqrt();
        assert!((unit - 1.0).abs() <= 1e-6, "norm after normalize {unit}");
    }
    let mut zero = vec![0.0f32; 5];
    assert_eq!(
        nexus_simd::normalize(&mut zero),
        Err(nexus_simd::Error::ZeroVector)
    );
    assert_eq!(
        nexus_simd::normalize(&mut []),
        Err(nexus_simd::Error::ZeroVector)
    );
    let mut bad = vec![1.0, 2.0, f32::NAN, f32::INFINITY];
    assert_eq!(
        nexus_simd::normalize(&mut bad),
        Err(nexus_simd::Error::NonFinite { index: 2 })
    );
    assert_eq!(bad[0], 1.0, "untouched on error");
    // Denormals alone: the f64 norm does not underflow.
    let mut tiny = vec![1e-40f32; 8];
    nexus_simd::normalize(&mut tiny).expect("denormal vector has a norm");
    assert!((tiny[0] - 8f32.sqrt().recip()).abs() < 1e-6);
}

/// `within_max_abs` against a value-by-value reference: every length 0..=130 and the common
/// sizes, one bad value (NaN, ±∞, just above `MAX_ABS`) at every position in turn, including
/// the positions past the last whole chunk of 16.
#[test]
fn within_max_abs_matches_a_value_by_value_check() {
    use nexus_simd::MAX_ABS;
    let reference = |v: &[f32]| v.iter().all(|x| x.is_finite() && x.abs() <= MAX_ABS);
    let above = f32::from_bits(MAX_ABS.to_bits() + 1);
    let mut rng = ChaCha8Rng::seed_from_u64(12);
    for n in lengths() {
        // Denormals, zeros, ones and large values, clamped: the limit itself is accepted.
        let mut v: Vec<f32> = floats(&mut rng, n, true)
            .into_iter()
            .map(|x| x.clamp(-MAX_ABS, MAX_ABS))
            .collect();
        assert!(nexus_simd::within_max_abs(&v), "n={n}");
        assert_eq!(nexus_simd::within_max_abs(&v), reference(&v));
        for bad in [f32::NAN, f32::INFINITY, f32::NEG_INFINITY, above, -above] {
            for i in 0..n {
                let kept = std::mem::replace(&mut v[i], bad);
                assert!(!nexus_simd::within_max_abs(&v), "n={n} i={i} bad={bad}");
                assert_eq!(nexus_simd::within_max_abs(&v), reference(&v));
                v[i] = kept;
            }
        }
    }
}

#[test]
#[should_panic(expected = "different lengths")]
fn mismatched_lengths_panic() {
    nexus_simd::dot(&[1.0, 2.0], &[1.0]);
}

#[test]
#[should_panic(expected = "not 3 rows")]
fn mismatched_block_panics() {
    let mut out = [0.0; 3];
    nexus_simd::dot_one_to_many(&[1.0, 2.0], &[0.0; 5], &mut out);
}

/// Every public kernel rejects mismatched lengths with a panic (before any SIMD code runs),
/// never by reading or writing out of bounds.
#[test]
fn every_kernel_panics_on_mismatched_lengths() {
    use std::panic::{AssertUnwindSafe, catch_unwind};
    let (f2, f3, i2, i3, w1, w2) = (
        [1.0f32; 2],
        [1.0f32; 3],
        [1i8; 2],
        [1i8; 3],
        [1u64; 1],
        [1u64; 2],
    );
    type Case<'a> = (&'static str, Box<dyn FnOnce() + 'a>);
    let cases: Vec<Case<'_>> = vec![
        (
            "dot",
            Box::new(|| {
                let _ = nexus_simd::dot(&f2, &f3);
            }),
        ),
        (
            "cosine",
            Box::new(|| {
                let _ = nexus_simd::cosine(&f2, &f3);
            }),
        ),
        (
            "l2_squared",
            Box::new(|| {
                let _ = nexus_simd::l2_squared(&f2, &f3);
            }),
        ),
        (
            "dot_i8",
            Box::new(|| {
                let _ = nexus_simd::dot_i8(&i2, &i3);
            }),
        ),
        (
            "dot_f32_i8",
            Box::new(|| {
                let _ = nexus_simd::dot_f32_i8(&f2, &i3);
            }),
        ),
        (
            "hamming",
            Box::new(|| {
                let _ = nexus_simd::hamming(&w1, &w2);
            }),
        ),
        (
            "dot_f32_bits",
            Box::new(|| {
                let _ = nexus_simd::dot_f32_bits(&f2, &w2);
            }),
        ),
        (
            "and_popcount_planes",
            Box::new(|| {
                let _ = nexus_simd::and_popcount_planes(&[0; 3], &w2);
            }),
        ),
        (
            "dot_one_to_many",
            Box::new(|| nexus_simd::dot_one_to_many(&f2, &f3, &mut [0.0f32; 2])),
        ),
        (
            "l2_squared_one_to_many",
            Box::new(|| nexus_simd::l2_squared_one_to_many(&f2, &f3, &mut [0.0f32; 2])),
        ),
        (
            "dot_many_to_many",
            Box::new(|| nexus_simd::dot_many_to_many(&f2, &f3, 2, &mut [0.0f32; 2])),
        ),
        (
            "dot_i8_one_to_many",
            Box::new(|| nexus_simd::dot_i8_one_to_many(&i2, &i3, &mut [0i32; 2])),
        ),
        (
            "dot_f32_i8_one_to_many",
            Box::new(|| {
                let mut o = [0.0f32; 1];
                nexus_simd::dot_f32_i8_one_to_many(&f2, &i3, &mut o)
            }),
        ),
        (
            "hamming_one_to_many",
            Box::new(|| nexus_simd::hamming_one_to_many(&w2, &[0; 3], &mut [0u32; 2])),
        ),
        (
            "and_popcount_planes_one_to_many",
            Box::new(|| {
                nexus_simd::and_popcount_planes_one_to_many(&[0; 3], 2, &w2, &mut [0u32; 2])
            }),
        ),
        (
            "dot_f32_bits_one_to_many",
            Box::new(|| nexus_simd::dot_f32_bits_one_to_many(&f2, &[0; 3], &mut [0.0; 2])),
        ),
    ];
    for (name, case) in cases {
        assert!(
            catch_unwind(AssertUnwindSafe(case)).is_err(),
            "{name} accepted mismatched lengths"
        );
    }
}

#[test]
#[should_panic(expected = "planes")]
fn too_many_planes_panic() {
    nexus_simd::and_popcount_planes(&[0; 17], &[0]);
}

#[test]
fn dispatch_reports_a_supported_level_for_every_kernel() {
    let cap = nexus_simd::level();
    assert!(cap.is_supported());
    assert_eq!(nexus_simd::backend(), cap.as_str());
    assert_eq!(nexus_simd::kernel_levels().len(), 16);
    for &(name, l) in nexus_simd::kernel_levels() {
        assert!(l <= cap && l.is_supported(), "{name} at {l}");
    }
}

// ---- properties -------------------------------------------------------------------------

proptest! {
    #[test]
    fn dispatched_dot_and_l2_are_within_tolerance(
        pair in (0usize..300).prop_flat_map(|n| (
            prop::collection::vec(-1e3f32..1e3, n),
            prop::collection::vec(-1e3f32..1e3, n),
        ))
    ) {
        let (a, b) = pair;
        assert_close(nexus_simd::dot(&a, &b), ref_dot(&a, &b), a.len(), "dot");
        assert_close(nexus_simd::l2_squared(&a, &b), ref_l2(&a, &b), a.len(), "l2");
        prop_assert!(nexus_simd::l2_squared(&a, &a) == 0.0);
    }

    #[test]
    fn hamming_is_a_metric(
        (a, b, c) in (0usize..40).prop_flat_map(|w| (
            prop::collection::vec(any::<u64>(), w),
            prop::collection::vec(any::<u64>(), w),
            prop::collection::vec(any::<u64>(), w),
        ))
    ) {
        let h = nexus_simd::hamming;
        prop_assert_eq!(h(&a, &a), 0);
        prop_assert_eq!(h(&a, &b), h(&b, &a));
        prop_assert!(h(&a, &c) <= h(&a, &b) + h(&b, &c));
    }

    /// The bit-plane kernel is the inner product of a B-bit integer query with a 0/1 code.
    #[test]
    fn planes_compute_the_integer_inner_product(
        (bits, q, code) in (1usize..=8, 1usize..200).prop_flat_map(|(bits, n)| (
            Just(bits),
            prop::collection::vec(0u32..(1 << bits), n),
            prop::collection::vec(any::<bool>(), n),
        ))
    ) {
        let n = q.len();
        let words = n.div_ceil(64);
        let mut planes = vec![0u64; bits * words];
        let mut packed = vec![0u64; words];
        for i in 0..n {
            for j in 0..bits {
                planes[j * words + i / 64] |= u64::from(q[i] >> j & 1) << (i % 64);
            }
            packed[i / 64] |= u64::from(code[i]) << (i % 64);
        }
        let expected: u32 = (0..n).filter(|&i| code[i]).map(|i| q[i]).sum();
        prop_assert_eq!(nexus_simd::and_popcount_planes(&planes, &packed), expected);
        let mut out = [0u32; 2];
        let codes = [packed.clone(), packed].concat();
        nexus_simd::and_popcount_planes_one_to_many(&planes, bits, &codes, &mut out);
        prop_assert_eq!(out, [expected; 2]);
    }

    #[test]
    fn cosine_is_bounded_and_symmetric(
        (a, b) in (1usize..200).prop_flat_map(|n| (
            prop::collection::vec(-1e3f32..1e3, n),
            prop::collection::vec(-1e3f32..1e3, n),
        ))
    ) {
        let c = nexus_simd::cosine(&a, &b);
        prop_assert!(c.abs() <= 1.0 + 1e-4);
        prop_assert!((c - nexus_simd::cosine(&b, &a)).abs() <= 1e-5);
    }
}

/// The gather forms score exactly the rows they name, in the order given (bit-equal to the
/// one-to-one kernels, which are checked against the f64 reference above).
#[test]
fn gather_scores_the_named_rows() {
    for dim in [1usize, 7, 16, 384] {
        let n = 50;
        let block: Vec<f32> = (0..n * dim)
            .map(|i| ((i * 7919) % 1013) as f32 / 1013.0 - 0.5)
            .collect();
        let query: Vec<f32> = (0..dim)
            .map(|i| ((i * 31) % 17) as f32 / 17.0 - 0.3)
            .collect();
        let rows: Vec<u32> = vec![49, 0, 3, 3, 17, 48, 1, 25, 25, 2];
        let mut out = vec![0.0; rows.len()];
        nexus_simd::dot_gather(&query, &block, &rows, &mut out);
        let mut l2 = vec![0.0; rows.len()];
        nexus_simd::l2_squared_gather(&query, &block, &rows, &mut l2);
        for (i, &r) in rows.iter().enumerate() {
            let row = &block[r as usize * dim..(r as usize + 1) * dim];
            assert_eq!(out[i].to_bits(), nexus_simd::dot(&query, row).to_bits());
            assert_eq!(
                l2[i].to_bits(),
                nexus_simd::l2_squared(&query, row).to_bits()
            );
            let exact: f64 = query
                .iter()
                .zip(row)
                .map(|(&a, &b)| f64::from(a) * f64::from(b))
                .sum();
            assert!((f64::from(out[i]) - exact).abs() < 1e-4 * dim as f64);
        }
        nexus_simd::dot_gather(&query, &block, &[], &mut []);
    }
}

#[test]
#[should_panic(expected = "row 5 of a block of 5 rows")]
fn gather_rejects_a_row_out_of_range() {
    let block = vec![0.0f32; 5 * 4];
    nexus_simd::dot_gather(&[1.0; 4], &block, &[0, 5], &mut [0.0; 2]);
}
