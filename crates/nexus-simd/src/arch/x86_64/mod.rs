//! x86_64 backends: AVX2 + FMA and AVX-512.
//!
//! The f32 kernels of both (one-to-one, the one-to-many scan, the many-to-many tiles) are
//! written once in `vector.rs` over a small vector trait that each backend implements; the
//! backends keep what differs: i8 (VNNI against `vpmaddubsw`), binary (`VPOPCNTDQ` against
//! nibble tables and scalar `popcnt`) and the f32 × i8 / f32 × bits kernels.
//!
//! The one-to-many scans read rows in memory order. How the f32 scans prefetch is chosen once
//! per CPU ([`scan_prefetch`]): every line 4 KiB ahead on Zen 5 (1.2–1.3× faster than none
//! there), one line a page 8 KiB ahead on Zen 4 (where the per-line prefetch was slower than
//! none at every distance tried, 1–4 KiB, and the per-page one faster).

use crate::ScanPrefetch;

/// How the f32 one-to-many scans prefetch on this CPU (see [`ScanPrefetch`]):
/// [`ScanPrefetch::Pages`] on AMD family 19h (Zen 4, measured; Zen 3 shares the family and is
/// assumed alike), whose hardware prefetchers keep up within a page, so that per-line hints
/// only cost (`kernels` suite on a Zen 4 EPYC, 100k × 384 rows, ratios to the read bound, 5
/// interleaved pairs each: at avx2 0.86–1.04 without against 0.66–0.87 with, at avx512
/// 0.70–1.09 against 0.65–0.96), but which start every 4 KiB page cold (see
/// `vector::PREFETCH_PAGE_BYTES`); [`ScanPrefetch::Lines`] everywhere else, as measured on
/// Zen 5 (see `vector::PREFETCH_F32_BYTES`). The i8 scans prefetch every line everywhere: on
/// Zen 4 too they run 1.5–1.9× faster with it.
pub(crate) fn scan_prefetch() -> ScanPrefetch {
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
    if amd && family == 0x19 {
        ScanPrefetch::Pages
    } else {
        ScanPrefetch::Lines
    }
}

/// The signature of the f32 one-to-many scans in the kernel table.
type ScanFn = fn(&[f32], &[f32], &mut [f32]);

/// Plain `fn` wrappers of `super::$name` (or `super::$kernel` with its const arguments).
macro_rules! wrap_kernels {
    ($($name:ident $(= $kernel:ident::<$($c:tt),+>)? ($($arg:ident: $ty:ty),*) $(-> $ret:ty)?;)*) => {$(
        pub(super) fn $name($($arg: $ty),*) $(-> $ret)? {
            // SAFETY: only `table_with()` hands these wrappers out, and only after
            // `Level::is_supported` found every feature the backend's kernels enable on this
            // CPU.
            unsafe { wrap_kernels!(@call $name $(= $kernel::<$($c),+>)?)($($arg),*) }
        }
    )*};
    (@call $name:ident) => { super::$name };
    (@call $name:ident = $kernel:ident::<$($c:tt),+>) => { super::$kernel::<$($c),+> };
}

/// A backend's `table()`, and the plain-`fn` wrappers of its `#[target_feature]` kernels that
/// only `table()` hands out, after checking that this CPU supports `$level`. Both backends
/// name their kernels alike (`dot_or_l2::<L2>`, `one_to_many::<L2>`, then one function per
/// table entry).
macro_rules! backend_table {
    ($level:ident) => {
        /// Plain `fn` wrappers with the table's signatures, private to this module.
        mod safe {
            use crate::arch::x86_64::vector::{PF_LINES, PF_NONE, PF_PAGES};

            wrap_kernels! {
                dot = dot_or_l2::<false>(a: &[f32], b: &[f32]) -> f32;
                l2_squared = dot_or_l2::<true>(a: &[f32], b: &[f32]) -> f32;
                dot_one_to_many_none =
                    one_to_many::<false, { PF_NONE }>(q: &[f32], b: &[f32], o: &mut [f32]);
                l2_squared_one_to_many_none =
                    one_to_many::<true, { PF_NONE }>(q: &[f32], b: &[f32], o: &mut [f32]);
                dot_one_to_many_lines =
                    one_to_many::<false, { PF_LINES }>(q: &[f32], b: &[f32], o: &mut [f32]);
                l2_squared_one_to_many_lines =
                    one_to_many::<true, { PF_LINES }>(q: &[f32], b: &[f32], o: &mut [f32]);
                dot_one_to_many_pages =
                    one_to_many::<false, { PF_PAGES }>(q: &[f32], b: &[f32], o: &mut [f32]);
                l2_squared_one_to_many_pages =
                    one_to_many::<true, { PF_PAGES }>(q: &[f32], b: &[f32], o: &mut [f32]);
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

        /// [`table`], with f32 one-to-many scans that prefetch as `prefetch` says (tests run
        /// every way).
        pub(crate) fn table_with(prefetch: crate::ScanPrefetch) -> Option<Kernels> {
            use crate::ScanPrefetch;
            if !crate::Level::$level.is_supported() {
                return None;
            }
            let (dot_one_to_many, l2_squared_one_to_many): (super::ScanFn, super::ScanFn) = match prefetch {
                ScanPrefetch::None => (
                    safe::dot_one_to_many_none,
                    safe::l2_squared_one_to_many_none,
                ),
                ScanPrefetch::Lines => (
                    safe::dot_one_to_many_lines,
                    safe::l2_squared_one_to_many_lines,
                ),
                ScanPrefetch::Pages => (
                    safe::dot_one_to_many_pages,
                    safe::l2_squared_one_to_many_pages,
                ),
            };
            Some(Kernels {
                dot: safe::dot,
                dot_norms: safe::dot_norms,
                l2_squared: safe::l2_squared,
                dot_one_to_many,
                l2_squared_one_to_many,
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
    use crate::ScanPrefetch;
    use crate::dispatch::Kernels;
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    /// The f32 scans of one level differ only in their prefetch instructions: their scores
    /// must be equal bit for bit, at every level this CPU runs. (`tests/kernels.rs` checks the
    /// one this CPU dispatches to against the f64 reference; this extends that check to the
    /// others.)
    #[test]
    fn scans_score_bit_for_bit_alike_however_they_prefetch() {
        let mut rng = ChaCha8Rng::seed_from_u64(18);
        let tables: [fn(ScanPrefetch) -> Option<Kernels>; 2] =
            [super::avx2::table_with, super::avx512::table_with];
        let ways = [ScanPrefetch::None, ScanPrefetch::Lines, ScanPrefetch::Pages];
        for table in tables {
            let Some(reference) = table(ScanPrefetch::None) else {
                continue;
            };
            // Up to 3 000 rows of 384 (4.6 MB, over a thousand pages): the prefetch addresses
            // run past the block's end, where they are clamped or stop.
            for (dim, rows) in [
                (1, 9),
                (7, 13),
                (16, 13),
                (33, 6),
                (384, 13),
                (384, 100),
                (1000, 9),
                (384, 3000),
            ] {
                let query: Vec<f32> = (0..dim).map(|_| rng.random_range(-1.0..1.0)).collect();
                let block: Vec<f32> = (0..dim * rows)
                    .map(|_| rng.random_range(-1.0..1.0))
                    .collect();
                let bits = |v: &[f32]| v.iter().map(|s| s.to_bits()).collect::<Vec<_>>();
                for way in ways {
                    let kernels = table(way).expect("the level is supported");
                    let pairs: [(super::ScanFn, super::ScanFn); 2] = [
                        (kernels.dot_one_to_many, reference.dot_one_to_many),
                        (
                            kernels.l2_squared_one_to_many,
                            reference.l2_squared_one_to_many,
                        ),
                    ];
                    for (a, b) in pairs {
                        let (mut x, mut y) = (vec![f32::NAN; rows], vec![f32::NAN; rows]);
                        a(&query, &block, &mut x);
                        b(&query, &block, &mut y);
                        assert_eq!(bits(&x), bits(&y), "{way:?}, dim {dim}, rows {rows}");
                        assert!(x.iter().all(|s| s.is_finite()), "dim {dim}, rows {rows}");
                    }
                }
            }
        }
    }
}
