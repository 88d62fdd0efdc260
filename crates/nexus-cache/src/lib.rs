//! A concurrent, sharded, weight-bounded cache with W-TinyLFU admission and an adaptive window,
//! per-entry time to live, an eviction listener and statistics. Memory Nexus keeps query results
//! in it; it depends on no other Memory Nexus crate and is usable alone.
//!
//! **What it is for:** in-process caching of values that are expensive to compute and cheap to
//! clone (`Arc<…>` for big ones), read by many threads. **What it is not:** a persistent or
//! distributed cache, or a map: the policy may refuse to keep a new entry that is less popular
//! than what it holds.
//!
//! # Policy
//! Each shard runs W-TinyLFU: new entries enter a small LRU window; when they leave it, a
//! count-min sketch of recent access frequencies (4-bit counters, halved periodically) decides
//! whether they displace the main space's least valuable entry (an SLRU of probation and
//! protected). The window's size adapts as ARC's target does, from *ghosts* (the hashes of
//! recently refused candidates and of recently evicted main-space entries): a key that comes
//! back soon after the window let it go grows the window, one that comes back soon after the
//! main space let it go shrinks it, down to nothing (plain TinyLFU: a new key then contests
//! the main space's victim on arrival, and may be dropped at once). So recency-heavy workloads
//! get an LRU-like cache and frequency-heavy ones a TinyLFU-like one. Hits only count an
//! entry's accesses; the sketch and the lists take them when the entry reaches a list's back
//! (a small window is a FIFO; probation, protected and a window above a quarter of the
//! capacity give an accessed entry a second chance, CLOCK-style). The ghosts (a 32-bit
//! fingerprint of the hash each, in a ring and a table) cost about 20 bytes each, for 10 %
//! (refused) plus 5 % (evicted) of the entries held; shards of 4 096 entries or more keep
//! ghosts of one key in four (by hash), a quarter as many, and move the window four times as
//! far on each return. The sketch is allocated, and counts, from when a shard is first half
//! full (as in Caffeine and moka): the warm-up's accesses are not counted, and a cache that
//! stays small pays no sketch memory.
//! Every operation is O(1) amortized, except entries with a time to live (O(log n) each) and the
//! explicit bulk operations [`Cache::invalidate_if`] and [`Cache::clear`] (O(entries)).
//!
//! # Concurrency
//! Keys are hashed once (ahash) and spread over independently locked, cache-padded shards
//! (reader-writer locks). A hit takes its shard's lock *shared*, notes the access in the entry
//! itself (a saturating count, not written once at its cap) and counts the hit in a counter
//! cell of its thread's own (no read-modify-write; a [`Cache::get`] that misses is counted the
//! same way and takes no exclusive lock): concurrent hits never wait for each other,
//! and a hit writes no shared line but its shard's lock word (and, below the cap, its entry). The policy applies noted accesses lazily, when
//! an entry reaches a list's back under the exclusive lock (see the policy above: window FIFO,
//! CLOCK-like probation and protected). [`Cache::get_or_insert_with`] is
//! single-flight; a panicking loader (or weigher) neither poisons the cache nor wedges the
//! threads waiting for it: one of them loads instead.
//!
//! # Hard limits
//! - The total weight never exceeds the capacity when a call returns (not even transiently
//!   visible to other threads: each shard is bounded by its share under its lock).
//! - Each shard holds `capacity / shards` weight; no entry may weigh more
//!   ([`Cache::max_entry_weight`], [`Error::WeightTooLarge`]). Use
//!   [`CacheBuilder::shards`]`(1)` to accept entries up to the whole capacity.
//! - At most 2^32 − 1 entries per shard; times to live up to the clock's range (about 584 years,
//!   [`Error::TtlOverflow`] beyond).
//! - Expired entries are removed when looked up, on the next insert into their shard, or by
//!   [`Cache::purge_expired`]; until then they count in the weight (never above capacity).
//!
//! # Example
//! ```
//! use std::sync::{Arc, Mutex};
//! use std::time::Duration;
//! use nexus_cache::{Cache, ManualClock, RemovalCause};
//!
//! let clock = ManualClock::new();
//! let evicted = Arc::new(Mutex::new(Vec::new()));
//! let log = Arc::clone(&evicted);
//! let cache: Cache<String, Arc<str>> = Cache::builder(100)
//!     .weigher(|_k, v: &Arc<str>| v.len() as u64)
//!     .clock(clock.clone())
//!     .eviction_listener(move |k, _v, cause| log.lock().unwrap().push((k, cause)))
//!     .build()?;
//!
//! // Single-flight get-or-insert: the closure runs only on a miss.
//! let v = cache.get_or_insert_with("q1".to_string(), || Arc::from("answer one"));
//! assert_eq!(&*v, "answer one");
//! assert_eq!(cache.get("q1").as_deref(), Some("answer one"));
//!
//! // Entries with a time to live expire on the injected clock.
//! cache.insert_with_ttl("q2".to_string(), Arc::from("short-lived"), Duration::from_secs(5))?;
//! clock.advance(Duration::from_secs(6));
//! assert_eq!(cache.get("q2"), None);
//! assert_eq!(evicted.lock().unwrap()[0], ("q2".to_string(), RemovalCause::Expired));
//!
//! // Too heavy for the cache: refused, with the limit in the error.
//! let big: Arc<str> = Arc::from("x".repeat(500));
//! assert!(matches!(
//!     cache.insert("big".to_string(), big),
//!     Err(nexus_cache::Error::WeightTooLarge { weight: 500, max: 100 })
//! ));
//! let s = cache.stats();
//! assert_eq!((s.hits, s.misses, s.rejected), (1, 2, 1));
//! assert!(s.weight <= cache.capacity());
//! # Ok::<(), nexus_cache::Error>(())
//! ```

// `unsafe` only in `prefetch` (a hint that cannot fault); denied everywhere else.
#![deny(unsafe_code)]
#![deny(missing_docs)]
#![doc(test(attr(deny(warnings))))]

mod cache;
mod clock;
mod counter;
mod deque;
mod error;
mod flight;
mod ghost;
mod index;
mod policy;
#[allow(unsafe_code)]
mod prefetch;
mod sketch;
mod stats;

#[cfg(test)]
mod model_tests;

pub use cache::{Cache, CacheBuilder};
pub use clock::{Clock, ManualClock, SystemClock};
pub use error::Error;
pub use stats::{RemovalCause, Stats};
