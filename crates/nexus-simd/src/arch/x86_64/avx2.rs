//! avx2 kernels (work in progress: not yet available).

use crate::dispatch::Kernels;

/// The avx2 table, if this CPU supports it.
pub(crate) fn table() -> Option<Kernels> {
    None
}
