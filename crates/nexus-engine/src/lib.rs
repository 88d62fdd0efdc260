//! Memory Nexus: an embedded long-term memory for AI agents. A memory is a text with its
//! embedding and metadata; the engine stores memories durably and recalls the most relevant
//! ones for a query vector.
//!
//! The `Nexus` facade (open / remember / recall / get / forget) is built on the layers below,
//! which this crate re-exports as modules so that their versions never skew:
//! [`simd`] (distance kernels), [`quant`] (codes), [`index`] (flat, quantized and HNSW indexes),
//! [`cache`] (query cache) and [`storage`] (WAL, segments, manifest).
//!
//! # Example
//!
//! ```
//! let a = [0.6f32, 0.8];
//! assert!((nexus_engine::simd::dot(&a, &a) - 1.0).abs() < 1e-6);
//! ```

#![deny(missing_docs)]
#![doc(test(attr(deny(warnings))))]
#![forbid(unsafe_code)]

pub use nexus_cache as cache;
pub use nexus_index as index;
pub use nexus_quant as quant;
pub use nexus_simd as simd;
pub use nexus_storage as storage;
