//! What a suite is given: the options common to every suite, the suite's own flags, and the
//! dataset, loaded on first use (the cache suite needs none).

use std::path::PathBuf;
use std::sync::OnceLock;

use nexus_dataset::Dataset;

use crate::BenchResult;

pub(crate) struct Context {
    /// Seconds rather than minutes: small sizes, one repetition (what CI runs).
    pub(crate) quick: bool,
    dataset_dir: PathBuf,
    dataset: OnceLock<Dataset>,
    /// Flags not understood by the harness, for the suite (e.g. `--traces DIR`).
    extra: Vec<String>,
}

impl Context {
    pub(crate) fn new(quick: bool, dataset_dir: Option<PathBuf>, extra: Vec<String>) -> Self {
        Self {
            quick,
            dataset_dir: dataset_dir.unwrap_or_else(nexus_dataset::bundled_dir),
            dataset: OnceLock::new(),
            extra,
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

    /// The value given to a suite flag (`--name VALUE` or `--name=VALUE`).
    pub(crate) fn flag(&self, name: &str) -> Option<&str> {
        let mut args = self.extra.iter();
        while let Some(arg) = args.next() {
            if arg == name {
                return args.next().map(String::as_str);
            }
            if let Some(v) = arg
                .strip_prefix(name)
                .and_then(|rest| rest.strip_prefix('='))
            {
                return Some(v);
            }
        }
        None
    }

    /// Whether a boolean suite flag is present.
    pub(crate) fn has_flag(&self, name: &str) -> bool {
        self.extra.iter().any(|a| a == name)
    }
}
