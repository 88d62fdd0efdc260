//! A TEXMEX-style dataset directory: `base.fvecs`, `query.fvecs`, `groundtruth.ivecs`, and
//! optionally `meta.json`, `base.txt` and `query.txt` (one text a line, in row order).

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result, io_error};
use crate::truth::Metric;
use crate::vecs::Vectors;

/// The metadata of `meta.json`. Every field is optional; unknown fields are kept in `extra`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Meta {
    /// `"cosine"`, `"inner_product"` (or `"ip"`) or `"l2"`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metric: Option<String>,
    /// Dimension of every vector.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dim: Option<usize>,
    /// Number of base vectors.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub n_base: Option<usize>,
    /// Number of queries.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub n_query: Option<usize>,
    /// The embedding model.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// Whether the vectors are L2-normalised.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub normalized: Option<bool>,
    /// Number of neighbours per ground-truth row.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub groundtruth_k: Option<usize>,
    /// Every other field, preserved as read.
    #[serde(flatten)]
    pub extra: serde_json::Map<String, serde_json::Value>,
}

impl Meta {
    /// The metric named by `metric`; TEXMEX datasets without one (SIFT, GIST) use L2.
    ///
    /// # Errors
    /// [`Error::UnknownMetric`] for an unknown metric name.
    pub fn metric(&self) -> Result<Metric> {
        match self
            .metric
            .as_deref()
            .map(str::to_ascii_lowercase)
            .as_deref()
        {
            None | Some("l2" | "euclidean") => Ok(Metric::L2),
            Some("cosine" | "angular") => Ok(Metric::Cosine),
            Some("ip" | "inner_product" | "dot") => Ok(Metric::InnerProduct),
            Some(_) => Err(Error::UnknownMetric {
                name: self.metric.clone().unwrap_or_default(),
            }),
        }
    }
}

/// A loaded, validated dataset.
#[derive(Clone, Debug)]
pub struct Dataset {
    /// The directory it was read from.
    pub dir: PathBuf,
    /// Vectors to index.
    pub base: Vectors<f32>,
    /// Vectors to search with.
    pub queries: Vectors<f32>,
    /// For each query, the ids of its exact nearest base vectors, best first.
    pub ground_truth: Vectors<i32>,
    /// `base.txt`, if present: the text of each base vector.
    pub base_texts: Option<Vec<String>>,
    /// `query.txt`, if present: the text of each query.
    pub query_texts: Option<Vec<String>>,
    /// `meta.json`, or defaults if absent.
    pub meta: Meta,
}

impl Dataset {
    /// Loads and cross-checks a dataset directory: dimensions agree, one ground-truth row per
    /// query, every id names a base row, text files have one line per vector, and `meta.json`
    /// agrees with the files.
    ///
    /// # Errors
    /// Any [`Error`] variant, naming the file at fault.
    pub fn load(dir: impl AsRef<Path>) -> Result<Self> {
        let dir = dir.as_ref();
        if !dir.is_dir() {
            return Err(Error::Io {
                path: dir.into(),
                source: std::io::Error::new(std::io::ErrorKind::NotFound, "not a directory"),
            });
        }
        let meta_path = dir.join("meta.json");
        let meta: Meta = match std::fs::read(&meta_path) {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|source| Error::Meta {
                path: meta_path.clone(),
                source,
            })?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Meta::default(),
            Err(e) => return Err(io_error(&meta_path)(e)),
        };
        meta.metric()?;

        let base_path = dir.join("base.fvecs");
        let query_path = dir.join("query.fvecs");
        let truth_path = dir.join("groundtruth.ivecs");
        let base = Vectors::<f32>::read(&base_path)?;
        let queries = Vectors::<f32>::read(&query_path)?;
        let ground_truth = Vectors::<i32>::read(&truth_path)?;

        let check = |path: &Path, what, expected: usize, got: usize| {
            if expected == got {
                Ok(())
            } else {
                Err(Error::Mismatch {
                    path: path.into(),
                    what,
                    expected,
                    got,
                })
            }
        };
        check(&query_path, "dimension", base.dim(), queries.dim())?;
        check(
            &truth_path,
            "number of rows",
            queries.len(),
            ground_truth.len(),
        )?;
        if let Some(dim) = meta.dim {
            check(&meta_path, "dim", base.dim(), dim)?;
        }
        if let Some(n) = meta.n_base {
            check(&meta_path, "n_base", base.len(), n)?;
        }
        if let Some(n) = meta.n_query {
            check(&meta_path, "n_query", queries.len(), n)?;
        }
        for (row, ids) in ground_truth.rows().enumerate() {
            for (column, &id) in ids.iter().enumerate() {
                if id < 0 || id as usize >= base.len() {
                    return Err(Error::IdOutOfRange {
                        path: truth_path,
                        row,
                        column,
                        id: id.into(),
                        n_base: base.len(),
                    });
                }
            }
        }
        let base_texts = read_texts(&dir.join("base.txt"), base.len())?;
        let query_texts = read_texts(&dir.join("query.txt"), queries.len())?;
        Ok(Self {
            dir: dir.into(),
            base,
            queries,
            ground_truth,
            base_texts,
            query_texts,
            meta,
        })
    }

    /// The metric to rank with: cosine on data marked `normalized` is ranked by inner product,
    /// exactly as its ground truth was computed.
    pub fn search_metric(&self) -> Metric {
        match self.meta.metric().unwrap_or(Metric::L2) {
            Metric::Cosine if self.meta.normalized == Some(true) => Metric::InnerProduct,
            m => m,
        }
    }

    /// A short identifier for reports: directory name, sizes and dimension,
    /// e.g. `bundled (5000 x 384, 200 queries)`.
    pub fn id(&self) -> String {
        let name = self.dir.file_name().map_or_else(
            || self.dir.display().to_string(),
            |n| n.to_string_lossy().into_owned(),
        );
        format!(
            "{name} ({} x {}, {} queries)",
            self.base.len(),
            self.base.dim(),
            self.queries.len()
        )
    }
}

fn read_texts(path: &Path, expected: usize) -> Result<Option<Vec<String>>> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io_error(path)(e)),
    };
    let lines: Vec<String> = text.lines().map(str::to_owned).collect();
    if lines.len() != expected {
        return Err(Error::Mismatch {
            path: path.into(),
            what: "number of text lines",
            expected,
            got: lines.len(),
        });
    }
    Ok(Some(lines))
}

/// The directory of the dataset bundled with this repository (`data/bundled`), located from
/// this crate's source directory. It exists in a checkout of the Memory Nexus workspace; a
/// crate downloaded on its own does not carry it.
pub fn bundled_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../data/bundled")
}
