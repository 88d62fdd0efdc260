//! What the cache reports: removal causes for the listener, and counters.

/// Why an entry left the cache (given to the eviction listener).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum RemovalCause {
    /// Evicted by the policy to keep the total weight within capacity.
    Capacity,
    /// Its time to live passed.
    Expired,
    /// Removed explicitly (`remove`, `invalidate_if`, `clear`).
    Removed,
    /// Overwritten by an `insert` of the same key (the listener gets the old key and value).
    Replaced,
}

/// A snapshot of the cache's counters, summed over its shards.
///
/// Every lookup (`get`, and the lookup inside `get_or_insert_with`) counts exactly one hit or
/// one miss, so `hits + misses` is the number of lookups.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Stats {
    /// Lookups that found a live entry.
    pub hits: u64,
    /// Lookups that found nothing (or an expired entry).
    pub misses: u64,
    /// Entries evicted to respect the capacity.
    pub evictions: u64,
    /// Entries removed because their time to live passed.
    pub expirations: u64,
    /// Values not stored because their weight exceeded what a shard can hold.
    pub rejected: u64,
    /// Entries currently held.
    pub entries: u64,
    /// Total weight currently held (never above the capacity).
    pub weight: u64,
}

impl Stats {
    /// `hits / (hits + misses)`, or 0 before the first lookup.
    pub fn hit_ratio(&self) -> f64 {
        let n = self.hits + self.misses;
        if n == 0 {
            0.0
        } else {
            self.hits as f64 / n as f64
        }
    }
}
