//! Memory Nexus: an embedded long-term memory for AI agents. A *memory* is a text with its
//! embedding vector and metadata (namespace, tags, key = value metadata, event time,
//! importance); [`Nexus`] stores memories durably in a directory and recalls the most similar
//! ones for a query vector, with filters, while other threads remember and forget.
//!
//! It is not an embedding model (bring your vectors) and not a server: it runs inside your
//! process.
//!
//! # Example
//!
//! ```
//! use nexus_engine::{Filter, Memory, Nexus, Options, Query};
//!
//! # fn main() -> Result<(), nexus_engine::Error> {
//! # let dir = tempfile::tempdir().unwrap();
//! # let path = dir.path().join("memories");
//! let nexus = Nexus::open(&path, Options::new().dimension(3))?;
//! let tea = nexus.remember(
//!     Memory::new("the user prefers green tea", vec![0.9, 0.1, 0.0])
//!         .namespace("user-42")
//!         .tag("preference"),
//! )?;
//! nexus.remember(Memory::new("the meeting moved to Friday", vec![0.0, 0.2, 0.9]).namespace("user-42"))?;
//! nexus.remember(Memory::new("another user's tea order", vec![0.9, 0.1, 0.0]).namespace("user-7"))?;
//!
//! let hits = nexus.recall(&Query::new(vec![1.0, 0.0, 0.0]).k(1).namespace("user-42"))?;
//! assert_eq!(hits[0].id, tea);
//! assert_eq!(hits[0].memory.text(), "the user prefers green tea");
//!
//! let tagged = Query::new(vec![0.0, 0.0, 1.0]).filter(Filter::new().tags_any(["preference"]));
//! assert_eq!(nexus.recall(&tagged)?.len(), 1);
//!
//! nexus.forget(tea)?;
//! drop(nexus);
//! let nexus = Nexus::open(&path, Options::new())?; // the store knows its dimension
//! assert_eq!(nexus.len(), 2);
//! assert!(nexus.get(tea)?.is_none());
//! # Ok(())
//! # }
//! ```
//!
//! # For agents
//!
//! ```
//! use std::time::Duration;
//! use nexus_engine::{BlendWeights, ManualClock, Memory, Nexus, Options, Patch, Query, Scoring};
//!
//! # fn main() -> Result<(), nexus_engine::Error> {
//! let clock = ManualClock::new(1_700_000_000_000);
//! let nexus = Nexus::in_memory(Options::new().dimension(3).clock(clock.clone()))?;
//! // A key makes remember an upsert: the city is replaced, keeping its id.
//! let city = nexus.remember(Memory::new("lives in Paris", vec![1.0, 0.0, 0.0]).key("city"))?;
//! assert_eq!(nexus.remember(Memory::new("lives in Oslo", vec![0.9, 0.1, 0.0]).key("city"))?, city);
//! // The same content twice is one memory (dedup is on by default).
//! let a = nexus.remember(Memory::new("likes tea", vec![0.0, 1.0, 0.0]))?;
//! assert_eq!(nexus.remember(Memory::new("likes tea", vec![0.0, 1.0, 0.0]))?, a);
//! // A TTL: gone from recall, get and export once the clock passes it.
//! let otp = nexus.remember(Memory::new("one-time code 4471", vec![0.0, 0.0, 1.0]).ttl(Duration::from_secs(60)))?;
//! // Keyword recall (BM25), and hybrid recall fusing it with the vector side.
//! assert_eq!(nexus.recall(&Query::text("code 4471"))?[0].id, otp);
//! let hybrid = Query::new(vec![0.0, 0.2, 1.0]).keywords("tea").k(2);
//! assert_eq!(nexus.recall(&hybrid)?.len(), 2);
//! clock.advance(60_000);
//! assert!(nexus.get(otp)?.is_none());
//! // Metadata changes without re-embedding; recency and importance in the ranking.
//! nexus.update(a, &Patch::new().importance(0.9).add_tag("preference"))?;
//! let blended = Query::new(vec![0.0, 1.0, 0.0]).scoring(Scoring::Blend {
//!     recency_half_life: Duration::from_secs(7 * 86_400),
//!     weights: BlendWeights::default(),
//! });
//! assert_eq!(nexus.recall(&blended)?[0].id, a);
//! # Ok(())
//! # }
//! ```
//!
//! # How it works
//! A remember appends to the storage layer's checksummed WAL (one fsync shared by concurrent
//! callers under [`Durability::Grouped`]) and to an in-memory tail that recalls scan exactly.
//! A background thread flushes the tail to an immutable, memory-mapped segment (by size or
//! age), builds the segment's HNSW graph (int8 traversal, exact f32 rerank on the mapped
//! vectors) and stores it, with the segment's namespace and tag postings, as segment
//! attachments, so opening a store maps files instead of rebuilding. Compaction merges
//! segments in the background and drops forgotten memories. A recall searches one consistent
//! snapshot of the segments and the tail and merges their top-k. See `docs/ARCHITECTURE.md`.
//!
//! # Hard limits
//! - Vectors of one dimension per store (1..=2³²−1), finite values; cosine stores reject
//!   all-zero vectors; dot / L2 stores reject values above [`quant::MAX_ABS`].
//! - Ids are `u64`, engine-assigned from 1, never reused.
//! - One writer per directory (others get [`Error::Locked`]); read-only opens share.
//!
//! # Layers
//! The layers below are re-exported as modules so their versions never skew: [`simd`]
//! (distance kernels), [`quant`] (codes), [`index`] (flat, quantized and HNSW indexes),
//! [`cache`] (query cache) and [`storage`] (WAL, segments, manifest).
//!
//! # Crate features
//! None.

#![deny(missing_docs)]
#![doc(test(attr(deny(warnings))))]
#![forbid(unsafe_code)]

mod config;
mod error;
mod identity;
mod jsonl;
mod keyword;
mod memory;
mod nexus;
mod options;
mod part;
mod patch;
mod query;
mod search;

pub use error::{Error, Result};
pub use memory::{DEFAULT_NAMESPACE, Memory, Recalled};
pub use nexus::{Nexus, Stats, VerifyReport};
pub use options::{
    Clock, Durability, Embedder, IndexOptions, ManualClock, Metric, Options, SystemClock,
};
pub use patch::Patch;
pub use query::{BlendWeights, Filter, Fusion, Query, Scoring};

pub use nexus_cache as cache;
pub use nexus_index as index;
pub use nexus_quant as quant;
pub use nexus_simd as simd;
pub use nexus_storage as storage;
