//! Cutting a small dataset out of a larger one: the first `n_base` base rows and the first
//! `n_query` queries, with their texts, and ground truth recomputed exactly for the subset.

use std::path::Path;

use crate::dataset::Dataset;
use crate::error::{Error, Result, io_error};
use crate::truth::exact_top_k;

/// What [`bundle`] keeps.
#[derive(Clone, Copy, Debug)]
pub struct BundleOptions {
    /// Base rows to keep (the first ones).
    pub n_base: usize,
    /// Queries to keep (the first ones).
    pub n_query: usize,
    /// Ground-truth neighbours per query.
    pub k: usize,
}

impl Default for BundleOptions {
    fn default() -> Self {
        Self {
            n_base: 5_000,
            n_query: 200,
            k: 100,
        }
    }
}

/// Writes a subset of the dataset in `from` into `to` (created if needed): `base.fvecs`,
/// `query.fvecs`, `groundtruth.ivecs` (recomputed in `f64`, ties to the lower id), the texts
/// if the source has them, `meta.json` (the source's, with counts updated and the origin
/// recorded) and a `README.md`.
///
/// # Errors
/// Any error of loading the source, an [`Error::SourceTooSmall`] if the source is smaller
/// than asked, or an [`Error::Io`] writing.
pub fn bundle(from: &Path, to: &Path, opts: BundleOptions) -> Result<()> {
    let source = Dataset::load(from)?;
    for (what, asked, available) in [
        ("base vectors", opts.n_base, source.base.len()),
        ("queries", opts.n_query, source.queries.len()),
    ] {
        if asked > available {
            return Err(Error::SourceTooSmall {
                what,
                asked,
                available,
            });
        }
    }
    std::fs::create_dir_all(to).map_err(io_error(to))?;
    let base = source.base.truncated(opts.n_base);
    let queries = source.queries.truncated(opts.n_query);
    let truth = exact_top_k(&base, &queries, opts.k, source.search_metric())?;
    base.write(to.join("base.fvecs"))?;
    queries.write(to.join("query.fvecs"))?;
    truth.write(to.join("groundtruth.ivecs"))?;
    for (texts, name, n) in [
        (&source.base_texts, "base.txt", opts.n_base),
        (&source.query_texts, "query.txt", opts.n_query),
    ] {
        if let Some(texts) = texts {
            let mut body = texts[..n].join("\n");
            body.push('\n');
            let path = to.join(name);
            std::fs::write(&path, body).map_err(io_error(&path))?;
        }
    }

    let mut meta = source.meta.clone();
    meta.n_base = Some(opts.n_base);
    meta.n_query = Some(opts.n_query);
    meta.groundtruth_k = Some(opts.k);
    meta.extra.remove("groundtruth_stats");
    meta.extra.remove("groundtruth_seconds");
    meta.extra.insert(
        "subset_of".into(),
        format!(
            "the first {} base rows and first {} queries of {}; ground truth recomputed for the \
             subset (f64 scores, ties to the lower id) by `cargo xtask bundle-data`",
            opts.n_base,
            opts.n_query,
            source.id()
        )
        .into(),
    );
    let meta_path = to.join("meta.json");
    let json = serde_json::to_string_pretty(&meta).map_err(|source| Error::Meta {
        path: meta_path.clone(),
        source,
    })?;
    std::fs::write(&meta_path, json + "\n").map_err(io_error(&meta_path))?;

    let readme_path = to.join("README.md");
    let readme = format!(
        "# Bundled dataset\n\n\
         A small real dataset shipped with Memory Nexus so that benches, tests and the demo run \
         anywhere.\n\n\
         - Origin: the first {nb} base vectors and first {nq} queries of `dev-20k`, \
         {model} sentence embeddings ({dim}-d, L2-normalised) of GCIDE dictionary texts \
         (see `meta.json` for the corpus and how it was embedded).\n\
         - `groundtruth.ivecs`: the exact top-{k} of every query within this subset, recomputed \
         with `f64` scores, ties to the lower id.\n\
         - `base.txt` / `query.txt`: the texts, one a line, in row order.\n\n\
         Regenerate it with\n\n```sh\ncargo xtask bundle-data --from ../shared/data/dev-20k\n```\n",
        nb = opts.n_base,
        nq = opts.n_query,
        k = opts.k,
        dim = base.dim(),
        model = meta.model.as_deref().unwrap_or("unknown-model"),
    );
    std::fs::write(&readme_path, readme).map_err(io_error(&readme_path))
}
