//! One module per suite. A suite joins [`ALL`] once it measures something real.

use crate::Suite;

mod cache;
mod engine;
mod exact;
mod index;
mod kernels;
mod quant;
mod storage;

/// Every suite, in the order `cargo xtask bench` runs them.
pub(crate) const ALL: &[Suite] = &[
    Suite {
        name: "exact",
        run: exact::run,
    },
    Suite {
        name: "kernels",
        run: kernels::run,
    },
    Suite {
        name: "quant",
        run: quant::run,
    },
    Suite {
        name: "cache",
        run: cache::run,
    },
    Suite {
        name: "storage",
        run: storage::run,
    },
    Suite {
        name: "index",
        run: index::run,
    },
    Suite {
        name: "engine",
        run: engine::run,
    },
];
