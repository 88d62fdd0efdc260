//! Real embedding datasets for Memory Nexus: validated TEXMEX `fvecs` / `ivecs` I/O, a
//! [`Dataset`] (base, queries, ground truth, texts, `meta.json`), exact ground truth by brute
//! force and recall@k.
//!
//! Benches, tests and the command-line tool of every other Memory Nexus crate read their data
//! through this crate, and it depends on none of them. It is *not* a vector store: it loads
//! whole files into memory.
//!
//! Reading never trusts the bytes: a truncated file, a dimension that is zero, negative,
//! absurd (above [`MAX_DIM`]) or changes between rows, a non-finite float or a ground-truth
//! id out of range gives a typed [`Error`] naming the file and the row, never a panic, and
//! nothing is allocated from a size read out of the file.
//!
//! # Example
//!
//! ```
//! use nexus_dataset::{Metric, Vectors, exact_top_k, recall_at_k};
//!
//! let base = Vectors::from_rows(&[[1.0f32, 0.0], [0.0, 1.0], [0.6, 0.8]])?;
//! let queries = Vectors::from_rows(&[[0.8f32, 0.6]])?;
//! let truth = exact_top_k(&base, &queries, 2, Metric::InnerProduct)?;
//! assert_eq!(truth.row(0), &[2, 0]);
//!
//! // Round trip through the TEXMEX format.
//! let dir = tempfile::tempdir()?;
//! base.write(dir.path().join("base.fvecs"))?;
//! assert_eq!(nexus_dataset::read_fvecs(dir.path().join("base.fvecs"))?, base);
//!
//! // A search that found ids 2 and 1 has recall@2 of 0.5.
//! assert_eq!(recall_at_k(&truth, &[vec![2u64, 1]], 2)?, 0.5);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! The bundled dataset (5,000 × 384 MiniLM embeddings with texts) lives in `data/bundled/` of
//! the workspace; [`bundled_dir`] locates it.
//!
//! # Crate features
//! - `cli` (off by default): the `nexus-dataset` binary (`bundle`, `truth`, `info`).

#![deny(missing_docs)]
#![doc(test(attr(deny(warnings))))]
#![forbid(unsafe_code)]

mod bundle;
mod dataset;
mod error;
mod truth;
mod vecs;

pub use bundle::{BundleOptions, bundle};
pub use dataset::{Dataset, Meta, bundled_dir};
pub use error::{Error, Result};
pub use truth::{Metric, exact_top_k, recall_at_k, recall_one};
pub use vecs::{Element, MAX_DIM, Vectors, read_fvecs, read_ivecs};
