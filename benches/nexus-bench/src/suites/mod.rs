//! One module per suite. A suite joins [`ALL`] once it measures something real.

use crate::Suite;

mod exact;
mod quant;

/// Every suite, in the order `cargo xtask bench` runs them.
pub(crate) const ALL: &[Suite] = &[
    Suite {
        name: "exact",
        run: exact::run,
    },
    Suite {
        name: "quant",
        run: quant::run,
    },
];
