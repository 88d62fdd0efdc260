//! The store's own settings (`NEXUS` file, JSON): format version, dimension, metric, index
//! parameters and the id floor (ids are never reused, even after the highest one is forgotten
//! and compacted away). Replaced atomically: temporary file, fsync, rename, fsync directory.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use nexus_storage::Backend;
use serde_json::{Value, json};

use crate::error::{Error, Result};
use crate::options::{IndexOptions, Metric};

pub(crate) const FILE: &str = "NEXUS";
const TEMP: &str = "NEXUS.tmp";
/// The engine format this build writes and the newest it reads.
pub(crate) const FORMAT: u32 = 1;

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Config {
    pub(crate) dimension: usize,
    pub(crate) metric: Metric,
    pub(crate) m: usize,
    pub(crate) ef_construction: usize,
    /// Every id below this was assigned at some point.
    pub(crate) id_floor: u64,
}

impl Config {
    pub(crate) fn new(dimension: usize, metric: Metric, index: &IndexOptions) -> Self {
        Self {
            dimension,
            metric,
            m: index.m,
            ef_construction: index.ef_construction,
            id_floor: 0,
        }
    }

    fn to_json(&self) -> Value {
        json!({
            "format": FORMAT,
            "dimension": self.dimension,
            "metric": self.metric.name(),
            "m": self.m,
            "ef_construction": self.ef_construction,
            "id_floor": self.id_floor,
        })
    }

    fn from_json(path: &Path, bytes: &[u8]) -> Result<Self> {
        let bad = |what: &str| Error::corrupt(path, what.to_owned());
        let v: Value = serde_json::from_slice(bytes).map_err(|e| bad(&e.to_string()))?;
        let num = |k: &str| {
            v[k].as_u64()
                .ok_or_else(|| bad(&format!("no number {k:?}")))
        };
        let format = num("format")?;
        if format > u64::from(FORMAT) {
            return Err(Error::NewerFormat {
                path: path.into(),
                found: u32::try_from(format).unwrap_or(u32::MAX),
                supported: FORMAT,
            });
        }
        let metric = v["metric"]
            .as_str()
            .and_then(Metric::from_name)
            .ok_or_else(|| bad("unknown metric"))?;
        let usize_of = |k: &str| -> Result<usize> {
            usize::try_from(num(k)?).map_err(|_| bad(&format!("{k} out of range")))
        };
        let c = Config {
            dimension: usize_of("dimension")?,
            metric,
            m: usize_of("m")?,
            ef_construction: usize_of("ef_construction")?,
            id_floor: num("id_floor")?,
        };
        if c.dimension == 0 || !(2..=128).contains(&c.m) || c.ef_construction == 0 {
            return Err(bad("settings out of range"));
        }
        Ok(c)
    }

    /// Reads the settings of the store in `dir`, `None` if it has none.
    pub(crate) fn read(backend: &Arc<dyn Backend>, dir: &Path) -> Result<Option<Self>> {
        let path = dir.join(FILE);
        if !backend.exists(&path).map_err(|e| io(&path, e))? {
            return Ok(None);
        }
        let bytes = backend.read(&path).map_err(|e| io(&path, e))?;
        Self::from_json(&path, &bytes).map(Some)
    }

    /// Writes the settings durably, replacing the old file atomically.
    pub(crate) fn write(&self, backend: &Arc<dyn Backend>, dir: &Path) -> Result<()> {
        let temp = dir.join(TEMP);
        let path = dir.join(FILE);
        let text = serde_json::to_vec_pretty(&self.to_json()).expect("JSON values serialize");
        let f = backend.create(&temp).map_err(|e| io(&temp, e))?;
        f.write_all(&text).map_err(|e| io(&temp, e))?;
        f.sync().map_err(|e| io(&temp, e))?;
        drop(f);
        backend.rename(&temp, &path).map_err(|e| io(&path, e))?;
        backend.sync_dir(dir).map_err(|e| io(dir, e))?;
        Ok(())
    }
}

fn io(path: &Path, source: std::io::Error) -> Error {
    Error::Io {
        path: PathBuf::from(path),
        source,
    }
}
