//! The kernel table of each level, and the one table the public functions call through,
//! resolved once (on first use) kernel by kernel.

use std::sync::OnceLock;

use crate::Level;
use crate::scalar;

macro_rules! kernel_table {
    ($($name:ident: $ty:ty = $preferred:ident;)*) => {
        /// One function pointer per kernel, all of one level (or, for the dispatched table,
        /// each kernel from its chosen level).
        ///
        /// The pointers take already-checked lengths: given mismatched lengths they return
        /// meaningless values, but never read or write out of bounds.
        #[derive(Debug, Clone, Copy)]
        #[allow(missing_docs)]
        pub struct Kernels {
            $(pub $name: $ty,)*
        }

        /// Takes each kernel from the widest table that is at most `want(kernel)`.
        fn compose(tables: &[(Level, Kernels)], cap: Level) -> (Kernels, Vec<(&'static str, Level)>) {
            let pick = |preferred: Level| -> (Level, &Kernels) {
                let want = preferred.min(cap);
                let (l, t) = tables
                    .iter()
                    .rev()
                    .find(|(l, _)| *l <= want)
                    .expect("the scalar table is always present");
                (*l, t)
            };
            let mut chosen = Vec::new();
            let table = Kernels {
                $($name: {
                    let (l, t) = pick(Level::$preferred);
                    chosen.push((stringify!($name), l));
                    t.$name
                },)*
            };
            (table, chosen)
        }
    };
}

// The preferred (widest useful) level of each kernel: every kernel prefers AVX-512 today, as
// measured with the `kernels` bench suite at both levels (see "Which level each kernel uses"
// in lib.rs). A kernel that measured faster at AVX2 would say `= Avx2` here.
kernel_table! {
    dot: fn(&[f32], &[f32]) -> f32 = Avx512;
    dot_norms: fn(&[f32], &[f32]) -> (f32, f32, f32) = Avx512;
    l2_squared: fn(&[f32], &[f32]) -> f32 = Avx512;
    dot_one_to_many: fn(&[f32], &[f32], &mut [f32]) = Avx512;
    l2_squared_one_to_many: fn(&[f32], &[f32], &mut [f32]) = Avx512;
    dot_many_to_many: fn(&[f32], &[f32], usize, &mut [f32]) = Avx512;
    dot_i8: fn(&[i8], &[i8]) -> i32 = Avx512;
    dot_i8_one_to_many: fn(&[i8], &[i8], &mut [i32]) = Avx512;
    dot_f32_i8: fn(&[f32], &[i8]) -> f32 = Avx512;
    dot_f32_i8_one_to_many: fn(&[f32], &[i8], &mut [f32]) = Avx512;
    hamming: fn(&[u64], &[u64]) -> u32 = Avx512;
    hamming_one_to_many: fn(&[u64], &[u64], &mut [u32]) = Avx512;
    and_popcount_planes: fn(&[u64], &[u64]) -> u32 = Avx512;
    and_popcount_planes_one_to_many: fn(&[u64], usize, &[u64], &mut [u32]) = Avx512;
    dot_f32_bits: fn(&[f32], &[u64]) -> f32 = Avx512;
    dot_f32_bits_one_to_many: fn(&[f32], &[u64], &mut [f32]) = Avx512;
}

/// The scalar table: always available.
pub(crate) const SCALAR: Kernels = Kernels {
    dot: scalar::dot,
    dot_norms: scalar::dot_norms,
    l2_squared: scalar::l2_squared,
    dot_one_to_many: scalar::dot_one_to_many,
    l2_squared_one_to_many: scalar::l2_squared_one_to_many,
    dot_many_to_many: scalar::dot_many_to_many,
    dot_i8: scalar::dot_i8,
    dot_i8_one_to_many: scalar::dot_i8_one_to_many,
    dot_f32_i8: scalar::dot_f32_i8,
    dot_f32_i8_one_to_many: scalar::dot_f32_i8_one_to_many,
    hamming: scalar::hamming,
    hamming_one_to_many: scalar::hamming_one_to_many,
    and_popcount_planes: scalar::and_popcount_planes,
    and_popcount_planes_one_to_many: scalar::and_popcount_planes_one_to_many,
    dot_f32_bits: scalar::dot_f32_bits,
    dot_f32_bits_one_to_many: scalar::dot_f32_bits_one_to_many,
};

/// The table of one level, or `None` if this CPU cannot run it.
pub(crate) fn table(level: Level) -> Option<Kernels> {
    match level {
        Level::Scalar => Some(SCALAR),
        #[cfg(target_arch = "x86_64")]
        Level::Avx2 => crate::arch::x86_64::avx2::table(),
        #[cfg(target_arch = "x86_64")]
        Level::Avx512 => crate::arch::x86_64::avx512::table(),
        #[cfg(not(target_arch = "x86_64"))]
        _ => None,
    }
}

struct Active {
    kernels: Kernels,
    cap: Level,
    chosen: Vec<(&'static str, Level)>,
}

static ACTIVE: OnceLock<Active> = OnceLock::new();

fn active() -> &'static Active {
    ACTIVE.get_or_init(|| {
        let cap = crate::level::resolve_cap();
        let tables: Vec<(Level, Kernels)> = Level::ALL
            .into_iter()
            .filter(|&l| l <= cap)
            .filter_map(|l| table(l).map(|t| (l, t)))
            .collect();
        let (kernels, chosen) = compose(&tables, cap);
        Active {
            kernels,
            cap,
            chosen,
        }
    })
}

/// The dispatched table.
#[inline]
pub(crate) fn kernels() -> &'static Kernels {
    &active().kernels
}

/// The level cap in force (the detected level, or `NEXUS_SIMD`).
pub(crate) fn cap() -> Level {
    active().cap
}

/// The level each kernel runs at.
pub(crate) fn chosen() -> &'static [(&'static str, Level)] {
    &active().chosen
}
