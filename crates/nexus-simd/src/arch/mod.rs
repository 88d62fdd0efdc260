//! Architecture-specific backends. Only x86_64 has SIMD kernels today: no aarch64 target is
//! installed on the machines this was built on, so a NEON path could be neither built nor
//! tested; other architectures run the scalar kernels.

#[cfg(target_arch = "x86_64")]
pub(crate) mod x86_64;
