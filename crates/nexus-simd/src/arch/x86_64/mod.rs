//! x86_64 backends: AVX2 + FMA and AVX-512.
//!
//! The f32 kernels of both (one-to-one, the one-to-many scan, the many-to-many tiles) are
//! written once in `vector.rs` over a small vector trait that each backend implements; the
//! backends keep what differs: i8 (VNNI against `vpmaddubsw`), binary (`VPOPCNTDQ` against
//! nibble tables and scalar `popcnt`) and the f32 × i8 / f32 × bits kernels.
//!
//! The one-to-many scans read rows in memory order and prefetch a few KiB ahead: on Zen 4 a
//! software prefetch 1–2 KiB ahead measured slower than none, on Zen 5 4 KiB ahead measured
//! 1.2–1.3× faster than none (see `vector::PREFETCH_F32_BYTES`).

/// Plain `fn` wrappers of `super::$name` (or `super::$kernel` with its const argument).
macro_rules! wrap_kernels {
    ($($name:ident $(= $kernel:ident::<$c:literal>)? ($($arg:ident: $ty:ty),*) $(-> $ret:ty)?;)*) => {$(
        pub(super) fn $name($($arg: $ty),*) $(-> $ret)? {
            // SAFETY: only `table()` hands these wrappers out, and only after
            // `Level::is_supported` found every feature the backend's kernels enable on this
            // CPU.
            unsafe { wrap_kernels!(@call $name $(= $kernel::<$c>)?)($($arg),*) }
        }
    )*};
    (@call $name:ident) => { super::$name };
    (@call $name:ident = $kernel:ident::<$c:literal>) => { super::$kernel::<$c> };
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
                dot_one_to_many = one_to_many::<false>(q: &[f32], b: &[f32], o: &mut [f32]);
                l2_squared_one_to_many = one_to_many::<true>(q: &[f32], b: &[f32], o: &mut [f32]);
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
            if !crate::Level::$level.is_supported() {
                return None;
            }
            Some(Kernels {
                dot: safe::dot,
                dot_norms: safe::dot_norms,
                l2_squared: safe::l2_squared,
                dot_one_to_many: safe::dot_one_to_many,
                l2_squared_one_to_many: safe::l2_squared_one_to_many,
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
