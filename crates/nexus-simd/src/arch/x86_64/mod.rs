//! x86_64 backends: AVX2 + FMA and AVX-512.
//!
//! The f32 kernels of both (one-to-one, the one-to-many scan, the many-to-many tiles) are
//! written once in `vector.rs` over a small vector trait that each backend implements; the
//! backends keep what differs: i8 (VNNI against `vpmaddubsw`), binary (`VPOPCNTDQ` against
//! nibble tables and scalar `popcnt`) and the f32 × i8 / f32 × bits kernels.
//!
//! The one-to-many scans read rows in memory order. The f32 scans prefetch 4 KiB ahead or not
//! at all, chosen once per CPU ([`scan_prefetch`]): on Zen 5 the prefetch measured 1.2–1.3×
//! faster than none, on Zen 4 slower at every distance tried (1–4 KiB).

/// Whether the f32 one-to-many scans issue software prefetches on this CPU: not on AMD family
/// 19h (Zen 4, measured; Zen 3 shares the family and is assumed alike), where the hardware
/// prefetchers keep up and the extra instructions only cost (`kernels` suite on a Zen 4 EPYC,
/// 100k × 384 rows, ratios to the read bound, 5 interleaved pairs each: at avx2 0.86–1.04
/// without against 0.66–0.87 with, at avx512 0.70–1.09 against 0.65–0.96; median 1.02 against
/// 0.73–0.83); everywhere else, as measured on Zen 5 (see `vector::PREFETCH_F32_BYTES`). The
/// i8 scans prefetch everywhere: on Zen 4 too they run 1.5–1.9× faster with it.
pub(crate) fn scan_prefetch() -> bool {
    // CPUID leaves 0 and 1 exist on every x86_64 CPU.
    let vendor = std::arch::x86_64::__cpuid(0);
    let amd = (vendor.ebx, vendor.edx, vendor.ecx) == (0x6874_7541, 0x6974_6E65, 0x444D_4163);
    let eax = std::arch::x86_64::__cpuid(1).eax;
    // The displayed family: the base family, plus the extended one when the base is 0xF.
    let base = (eax >> 8) & 0xF;
    let family = if base == 0xF {
        base + ((eax >> 20) & 0xFF)
    } else {
        base
    };
    !(amd && family == 0x19)
}

/// Plain `fn` wrappers of `super::$name` (or `super::$kernel` with its const arguments).
macro_rules! wrap_kernels {
    ($($name:ident $(= $kernel:ident::<$($c:literal),+>)? ($($arg:ident: $ty:ty),*) $(-> $ret:ty)?;)*) => {$(
        pub(super) fn $name($($arg: $ty),*) $(-> $ret)? {
            // SAFETY: only `table_with()` hands these wrappers out, and only after
            // `Level::is_supported` found every feature the backend's kernels enable on this
            // CPU.
            unsafe { wrap_kernels!(@call $name $(= $kernel::<$($c),+>)?)($($arg),*) }
        }
    )*};
    (@call $name:ident) => { super::$name };
    (@call $name:ident = $kernel:ident::<$($c:literal),+>) => { super::$kernel::<$($c),+> };
}

/// A backend's `table()`, and the plain-`fn` wrappers of its `#[target_feature]` kernels that
/// only `table()` hands out, after checking that this CPU supports `$level`. Both backends
/// name their kernels alike (`dot_or_l2::<L2>`, `one_to_many::<L2>`, then one function per
/// table entry).
macro_rules! backend_table {
    ($level:ident) => {
        /// Plain `fn` wrappers with the table's signatures, private to this module.
        mod safe {
            wrap_kernels! {
                dot = dot_or_l2::<false>(a: &[f32], b: &[f32]) -> f32;
                l2_squared = dot_or_l2::<true>(a: &[f32], b: &[f32]) -> f32;
                dot_one_to_many = one_to_many::<false, true>(q: &[f32], b: &[f32], o: &mut [f32]);
                l2_squared_one_to_many =
                    one_to_many::<true, true>(q: &[f32], b: &[f32], o: &mut [f32]);
                dot_one_to_many_no_prefetch =
                    one_to_many::<false, false>(q: &[f32], b: &[f32], o: &mut [f32]);
                l2_squared_one_to_many_no_prefetch =
                    one_to_many::<true, false>(q: &[f32], b: &[f32], o: &mut [f32]);
                dot_norms(a: &[f32], b: &[f32]) -> (f32, f32, f32);
                dot_many_to_many(q: &[f32], b: &[f32], dim: usize, o: &mut [f32]);
                dot_i8(a: &[i8], b: &[i8]) -> i32;
                dot_i8_one_to_many(q: &[i8], b: &[i8], o: &mut [i32]);
                dot_f32_i8(q: &[f32], c: &[i8]) -> f32;
                dot_f32_i8_one_to_many(q: &[f32], b: &[i8], o: &mut [f32]);
                hamming(a: &[u64], b: &[u64]) -> u32;
                hamming_one_to_many(q: &[u64], c: &[u64], o: &mut [u32]);
                and_popcount_planes(p: &[u64], c: &[u64]) -> u32;
                and_popcount_planes_one_to_many(p: &[u64], bits: usize, c: &[u64], o: &mut [u32]);
                dot_f32_bits(q: &[f32], c: &[u64]) -> f32;
                dot_f32_bits_one_to_many(q: &[f32], c: &[u64], o: &mut [f32]);
            }
        }

        #[doc = concat!("The table of [`Level::", stringify!($level), "`](crate::Level::", stringify!($level), "), if this CPU supports it.")]
        pub(crate) fn table() -> Option<Kernels> {
            table_with(super::scan_prefetch())
        }

        /// [`table`], with f32 one-to-many scans that prefetch or not (tests run both).
        pub(crate) fn table_with(prefetch: bool) -> Option<Kernels> {
            if !crate::Level::$level.is_supported() {
                return None;
            }
            Some(Kernels {
                dot: safe::dot,
                dot_norms: safe::dot_norms,
                l2_squared: safe::l2_squared,
                dot_one_to_many: if prefetch {
                    safe::dot_one_to_many
                } else {
                    safe::dot_one_to_many_no_prefetch
                },
                l2_squared_one_to_many: if prefetch {
                    safe::l2_squared_one_to_many
                } else {
                    safe::l2_squared_one_to_many_no_prefetch
                },
                dot_many_to_many: safe::dot_many_to_many,
                dot_i8: safe::dot_i8,
                dot_i8_one_to_many: safe::dot_i8_one_to_many,
                dot_f32_i8: safe::dot_f32_i8,
                dot_f32_i8_one_to_many: safe::dot_f32_i8_one_to_many,
                hamming: safe::hamming,
                hamming_one_to_many: safe::hamming_one_to_many,
                and_popcount_planes: safe::and_popcount_planes,
                and_popcount_planes_one_to_many: safe::and_popcount_planes_one_to_many,
                dot_f32_bits: safe::dot_f32_bits,
                dot_f32_bits_one_to_many: safe::dot_f32_bits_one_to_many,
            })
        }
    };
}

#[macro_use]
mod vector;

pub(crate) mod avx2;
pub(crate) mod avx512;

#[cfg(test)]
mod tests {
    use crate::dispatch::Kernels;
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    /// The two f32 scans differ only in their prefetch instructions: their scores must be equal
    /// bit for bit, at every level this CPU runs. (`tests/kernels.rs` checks the one this CPU
    /// dispatches to against the f64 reference; this extends that check to the other.)
    #[test]
    fn scans_with_and_without_prefetch_score_bit_for_bit_alike() {
        let mut rng = ChaCha8Rng::seed_from_u64(18);
        let tables: [fn(bool) -> Option<Kernels>; 2] =
            [super::avx2::table_with, super::avx512::table_with];
        for table in tables {
            let (Some(with), Some(without)) = (table(true), table(false)) else {
                continue;
            };
            // Up to 100 rows of 384: the prefetch address runs past the block and is clamped.
            for (dim, rows) in [(1, 9), (7, 13), (16, 13), (33, 6), (384, 13), (384, 100)] {
                let query: Vec<f32> = (0..dim).map(|_| rng.random_range(-1.0..1.0)).collect();
                let block: Vec<f32> = (0..dim * rows)
                    .map(|_| rng.random_range(-1.0..1.0))
                    .collect();
                type Scan = fn(&[f32], &[f32], &mut [f32]);
                let pairs: [(Scan, Scan); 2] = [
                    (with.dot_one_to_many, without.dot_one_to_many),
                    (with.l2_squared_one_to_many, without.l2_squared_one_to_many),
                ];
                for (a, b) in pairs {
                    let (mut x, mut y) = (vec![f32::NAN; rows], vec![f32::NAN; rows]);
                    a(&query, &block, &mut x);
                    b(&query, &block, &mut y);
                    let bits = |v: &[f32]| v.iter().map(|s| s.to_bits()).collect::<Vec<_>>();
                    assert_eq!(bits(&x), bits(&y), "dim {dim}, rows {rows}");
                    assert!(x.iter().all(|s| s.is_finite()), "dim {dim}, rows {rows}");
                }
            }
        }
    }
}
