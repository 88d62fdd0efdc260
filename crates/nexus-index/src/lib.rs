//! Vector indexes for Memory Nexus: given vectors, return the top-k nearest to a query, with
//! filters, deletes and concurrent writers.
//!
//! - [`FlatIndex`]: exact (one-to-many kernel + bounded top-k heap; `search_batch` with the
//!   multi-query kernel and rayon). The model the others are tested against.
//! - [`QuantizedIndex`]: scans int8 codes, keeps `k · rerank` candidates, reranks on f32.
//! - [`HnswIndex`]: an HNSW graph with concurrent `&self` inserts, parallel build, deletes,
//!   filtered search that stays exact when the filter is very selective, optional int8
//!   traversal, vectors read from a caller's [`VectorSource`], and checksummed save / load.
//!
//! All three implement [`Index`]: `add` / `add_batch` / `remove` / `search(query, k, filter)` /
//! `len` / `memory`. Ids are the caller's `u64`; scores are "larger is better" (inner
//! product, cosine, or negated squared L2). A [`Filter`] is a closure `Fn(u64) -> bool` or an
//! [`IdSet`] bitmap.
//!
//! This crate is *not* a storage engine: it persists only an HNSW graph file on request, and
//! it does not compute embeddings.
//!
//! # Hard limits
//! - At most `u32::MAX − 1` vectors per index (internal node numbers are `u32`).
//! - HNSW `m` in 2..=128; node levels are capped at 15.
//! - Bad input gives a typed [`Error`], never a panic (see [`Index`] for the rules: duplicate
//!   ids replace, unknown ids on remove are an error).
//!
//! # Index file format ([`HnswIndex::save`])
//! Little-endian. A 128-byte header (magic `NXHNSW01`, version, dimension, parameters, counts,
//! entry point), then sections each starting at a 64-byte-aligned offset: ids (`u64`), levels
//! (`u8`), deleted flags (`u8`), level-0 lists (`u32`, `1 + 2m` words a node), upper-slot
//! numbers (`u32`), upper lists (`u32`), vectors (`f32`) or source rows (`u32`), int8 scales
//! (`f32`) and codes (`i8`). The last 8 bytes hold a CRC32C of everything before them.
//! Loading checks the checksum, every length against the file size, every neighbour and
//! entry point against the node count, and ids for duplicates: a corrupt or truncated file
//! gives [`Error::Corrupt`], never undefined behaviour or a panic.
//!
//! # Example
//!
//! ```
//! use nexus_index::{FlatIndex, HnswIndex, HnswParams, IdSet, Index, Metric};
//!
//! let dim = 4;
//! let vectors: Vec<f32> = (0..400).map(|i| ((i * 7919) % 101) as f32 / 101.0).collect();
//! let ids: Vec<u64> = (0..100).collect();
//!
//! let hnsw = HnswIndex::new(dim, HnswParams { metric: Metric::L2, ..HnswParams::default() })?;
//! hnsw.add_batch(&ids, &vectors)?;
//! let exact = FlatIndex::new(dim, Metric::L2)?;
//! exact.add_batch(&ids, &vectors)?;
//!
//! let query = [0.5, 0.5, 0.5, 0.5];
//! let best = exact.search(&query, 1, None)?;
//! assert_eq!(hnsw.search(&query, 1, None)?[0].0, best[0].0);
//!
//! // Only even ids, as a closure or as a bitmap.
//! let even = |id: u64| id.is_multiple_of(2);
//! assert!(hnsw.search(&query, 5, Some(&even))?.iter().all(|(id, _)| id.is_multiple_of(2)));
//! let set: IdSet = [3u64, 5].into_iter().collect();
//! assert_eq!(hnsw.search(&query, 5, Some(&set))?.len(), 2);
//! # Ok::<(), nexus_index::Error>(())
//! ```
//!
//! # Crate features
//! None.

#![deny(missing_docs)]
#![doc(test(attr(deny(warnings))))]

mod error;
mod filter;
mod hnsw;
mod hugepages;
mod index;
mod int8_codes;
mod kernels;
mod metric;
mod scan;
mod source;
mod topk;

pub use error::{Corrupt, Error, Result};
pub use filter::{AllowAll, Filter, IdSet};
pub use hnsw::{HnswIndex, HnswParams, Traversal};
pub use index::{Index, MemoryUsage};
pub use metric::Metric;
pub use scan::{FlatIndex, QuantizedIndex};
pub use source::{HeapVectors, MappedVectors, VectorSource};
