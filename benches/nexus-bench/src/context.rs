//! What a suite is given: the options common to every suite, the suite's own flags, and the
//! dataset, loaded on first use (the cache suite needs none).

use std::path::PathBuf;
use std::sync::OnceLock;

use clap::Args;

use nexus_dataset::Dataset;

use crate::BenchResult;

/// The suites' own flags. Every suite accepts all of them and reads its own, so that one
/// command line (`cargo xtask bench --no-anchors`) can run every suite.
#[derive(Debug, Default, Args)]
pub(crate) struct SuiteFlags {
    /// cache: the directory of the cache traces (default `../shared/traces`).
    #[arg(long, value_name = "DIR")]
    pub(crate) traces: Option<PathBuf>,
    /// cache: read at most this many accesses of each trace.
    #[arg(long, value_name = "N")]
    pub(crate) max_accesses: Option<usize>,
    /// cache: run only these implementations (for tuning and quicker A/B runs).
    #[arg(long, value_name = "A,B,…", value_delimiter = ',')]
    pub(crate) impls: Vec<String>,
    /// cache: skip the throughput part.
    #[arg(long)]
    pub(crate) no_throughput: bool,
    /// cache: seed nexus-cache's key hashing, so that its hit ratios repeat from run to run
    /// (paired A/B runs; default: a random seed per cache).
    #[arg(long, value_name = "N")]
    pub(crate) cache_seed: Option<u64>,
    /// engine: memories in the store the open rows reopen.
    #[arg(long, value_name = "N")]
    pub(crate) open_memories: Option<usize>,
    /// index: skip the usearch and hnsw_rs anchors.
    #[arg(long)]
    pub(crate) no_anchors: bool,
    /// index: only the HNSW rows (no flat and quantized ones).
    #[arg(long)]
    pub(crate) hnsw_only: bool,
    /// index: the ef values of the HNSW sweep instead of the default ones.
    #[arg(long, value_name = "EF,EF,…", value_delimiter = ',', value_parser = clap::value_parser!(usize))]
    pub(crate) efs: Vec<usize>,
}

pub(crate) struct Context {
    /// Seconds rather than minutes: small sizes, one repetition (what CI runs).
    pub(crate) quick: bool,
    dataset_dir: PathBuf,
    dataset: OnceLock<Dataset>,
    /// The suites' own flags.
    pub(crate) flags: SuiteFlags,
}

impl Context {
    pub(crate) fn new(quick: bool, dataset_dir: Option<PathBuf>, flags: SuiteFlags) -> Self {
        Self {
            quick,
            dataset_dir: dataset_dir.unwrap_or_else(nexus_dataset::bundled_dir),
            dataset: OnceLock::new(),
            flags,
        }
    }

    /// The dataset, loaded and validated on first use.
    pub(crate) fn dataset(&self) -> BenchResult<&Dataset> {
        if let Some(d) = self.dataset.get() {
            return Ok(d);
        }
        eprintln!("loading dataset {}", self.dataset_dir.display());
        let d = Dataset::load(&self.dataset_dir)?;
        Ok(self.dataset.get_or_init(|| d))
    }

    /// The dataset's id, if a suite loaded it.
    pub(crate) fn dataset_id(&self) -> Option<String> {
        self.dataset.get().map(Dataset::id)
    }
}
