//! The crate's one error type.

use std::time::Duration;

/// Why the cache refused a request.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A cache of capacity zero would hold nothing.
    #[error("capacity must be at least 1")]
    ZeroCapacity,
    /// The shard count must be a power of two, at least 1 and at most the capacity.
    #[error("shard count {shards} must be a power of two between 1 and the capacity {capacity}")]
    BadShardCount {
        /// The shard count asked for.
        shards: usize,
        /// The cache's capacity.
        capacity: u64,
    },
    /// An entry heavier than one shard's capacity can never be held, so it is refused.
    #[error("entry weight {weight} exceeds the largest storable weight {max}")]
    WeightTooLarge {
        /// The entry's weight.
        weight: u64,
        /// The largest weight this cache stores: its capacity divided among its shards.
        max: u64,
    },
    /// The entry would expire beyond the clock's range (about 584 years of nanoseconds).
    #[error("time to live {ttl:?} overflows the clock")]
    TtlOverflow {
        /// The time to live asked for.
        ttl: Duration,
    },
}
