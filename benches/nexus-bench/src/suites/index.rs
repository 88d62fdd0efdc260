//! The `index` suite: nexus-index's flat, quantized and HNSW indexes side by side with the
//! HNSW anchors that run in this process (`usearch` and `hnsw_rs` crates), on one dataset.
//!
//! Rows (literal names from issue 7):
//! - `flat/exact/gbps_1t` (GB/s; `impl: nexus` and a `bound` row: one timed read of a buffer
//!   of the same footprint, interleaved with the scans), `flat/exact/qps_1t`,
//!   `flat/exact/qps_batch_1t` (qps; `search_batch` on a 1-thread rayon pool).
//! - For every index and every point of its sweep, `<index>/<build-params>/ef<N>/<metric>` with
//!   metrics `recall10` (recall), `qps_1t`, `qps_2t` (qps), `build_s` (s, built on 2 threads),
//!   `bytes_per_vector` (B, resident heap) and `mapped_bytes_per_vector` (B, on a mapping).
//!   Indexes: `hnsw` (f32 traversal, vectors owned; `impl` nexus, usearch, hnsw_rs),
//!   `hnsw-int8` (int8-code traversal + f32 rerank, f32 vectors on a memory mapping; nexus)
//!   and `quantized/int8` (int8 scan + f32 rerank; `ef<N>` is the candidate count k·r).
//! - `hnsw-int8/<build>/ef<N>/filter1pct_recall10` and `.../filter1pct_qps_1t`: search with
//!   a filter that passes 1% of the ids, against the exact filtered top 10.
//!
//! `--quick`: the bundled data cut to 2,000 vectors, 50 queries, two ef points, one rep, no
//! anchors. `--no-anchors`: no usearch / hnsw_rs. `--hnsw-only`: no flat and quantized rows.
//! `--efs 32,64,…`: the ef sweep instead of the default one.
//!
//! An anchor that fails (an error, or a panic inside the crate) is reported as one line on
//! stderr and its rows are left out; our rows and the other anchor's are kept. The matched-recall table (best single-thread QPS among the sweep points with
//! recall@10 ≥ 0.90 / 0.95 / 0.99) goes to stderr.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

use hnsw_rs::prelude::{DistCosine, DistL2, Distance, Hnsw};
use nexus_dataset::{Metric as DsMetric, Vectors, recall_at_k};
use nexus_index::{
    FlatIndex, HnswIndex, HnswParams, IdSet, Index, MappedVectors, Metric, QuantizedIndex,
    Traversal,
};
use rayon::prelude::*;

use crate::BenchResult;
use crate::bound::ReadBound;
use crate::context::Context;
use crate::report::{Row, median, progress};

const SUITE: &str = "index";
const K: usize = 10;
const M: usize = 16;

/// The data one run uses: the base (possibly cut), the timed queries and their truth.
struct Data {
    base: Vectors<f32>,
    queries: Vectors<f32>,
    truth: Vectors<i32>,
    metric: DsMetric,
}

/// One searchable HNSW-like index under test.
trait Ann: Sync {
    fn set_ef(&mut self, ef: usize);
    fn search(&self, q: &[f32], k: usize) -> Vec<u64>;
}

struct Nexus(HnswIndex);
impl Ann for Nexus {
    fn set_ef(&mut self, ef: usize) {
        self.0.set_ef_search(ef);
    }
    fn search(&self, q: &[f32], k: usize) -> Vec<u64> {
        self.0
            .search(q, k, None)
            .expect("valid query")
            .into_iter()
            .map(|h| h.0)
            .collect()
    }
}

struct Usearch(usearch::Index);
impl Ann for Usearch {
    fn set_ef(&mut self, ef: usize) {
        self.0.change_expansion_search(ef);
    }
    fn search(&self, q: &[f32], k: usize) -> Vec<u64> {
        self.0.search(q, k).expect("usearch search").keys
    }
}

struct HnswRs<D: Distance<f32> + Send + Sync + 'static> {
    index: Hnsw<'static, f32, D>,
    ef: usize,
}
impl<D: Distance<f32> + Send + Sync + 'static> Ann for HnswRs<D> {
    fn set_ef(&mut self, ef: usize) {
        self.ef = ef;
    }
    fn search(&self, q: &[f32], k: usize) -> Vec<u64> {
        self.index
            .search(q, k, self.ef)
            .into_iter()
            .map(|n| n.d_id as u64)
            .collect()
    }
}

/// hnsw_rs distance for inner-product data: `max(0, 1 − a·b)`, summed in f32 like hnsw_rs's
/// own `DistDot` without `simdeez`. `DistDot` asserts `1 − a·b ≥ 0`, which rounding breaks on
/// L2-normalized vectors (a 256-d dataset had a dot of 1 + 1 ulp and took the suite down), and
/// hnsw_rs itself asserts that distances are ≥ 0. Clamped, the distance cannot fail: exact on
/// normalized data (what inner-product datasets here are); on unnormalized data, dots above 1
/// tie at 0; a NaN becomes 0.
#[derive(Clone, Copy, Debug, Default)]
struct ClampedDot;

impl Distance<f32> for ClampedDot {
    fn eval(&self, va: &[f32], vb: &[f32]) -> f32 {
        let dot: f32 = va.iter().zip(vb).map(|(a, b)| a * b).sum();
        (1.0 - dot).max(0.0)
    }
}

/// Runs one step of an anchor (build or measure): an error or a panic inside the anchor
/// becomes a message, so the suite can report it and go on without the anchor's rows.
fn anchor_step<T>(step: impl FnOnce() -> BenchResult<T>) -> Result<T, String> {
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(step)) {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(e.to_string()),
        Err(payload) => Err(payload
            .downcast_ref::<&str>()
            .map(|s| (*s).to_owned())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .map_or_else(|| "panicked".to_owned(), |m| format!("panicked: {m}"))),
    }
}

fn nexus_metric(m: DsMetric) -> Metric {
    match m {
        DsMetric::InnerProduct => Metric::InnerProduct,
        DsMetric::Cosine => Metric::Cosine,
        DsMetric::L2 => Metric::L2,
        m => panic!("no index metric for the dataset's {m:?}"),
    }
}

/// What one sweep point measured.
struct Point {
    recall: f64,
    qps_1t: Vec<f64>,
    qps_2t: Vec<f64>,
}

/// Runs every query once for recall, then `reps` timed passes on 1 and on 2 threads.
fn measure(ann: &dyn Ann, ds: &Data, nq: usize, reps: usize) -> BenchResult<Point> {
    let queries: Vec<&[f32]> = ds.queries.rows().take(nq).collect();
    let found: Vec<Vec<u64>> = queries.iter().map(|q| ann.search(q, K)).collect();
    let truth = ds.truth.truncated(nq);
    let recall = recall_at_k(&truth, &found, K)?;
    let mut qps_1t = Vec::new();
    let mut qps_2t = Vec::new();
    for _ in 0..reps {
        let t = Instant::now();
        for q in &queries {
            std::hint::black_box(ann.search(q, K));
        }
        qps_1t.push(nq as f64 / t.elapsed().as_secs_f64());
        let t = Instant::now();
        std::thread::scope(|s| {
            for half in queries.chunks(nq.div_ceil(2)) {
                s.spawn(move || {
                    for q in half {
                        std::hint::black_box(ann.search(q, K));
                    }
                });
            }
        });
        qps_2t.push(nq as f64 / t.elapsed().as_secs_f64());
    }
    Ok(Point {
        recall,
        qps_1t,
        qps_2t,
    })
}

struct Built {
    name: String,
    imp: &'static str,
    /// Set when an anchor failed: its rows are removed and it is measured no more.
    failed: bool,
    ann: Box<dyn Ann>,
    build_s: f64,
    bytes: Option<(f64, f64)>,
}

fn build_nexus(
    ds: &Data,
    n: usize,
    efc: usize,
    traversal: Traversal,
    mapped: Option<Arc<MappedVectors>>,
) -> BenchResult<(HnswIndex, f64)> {
    let params = HnswParams {
        m: M,
        ef_construction: efc,
        metric: nexus_metric(ds.metric),
        traversal,
        ..HnswParams::default()
    };
    let ids: Vec<u64> = (0..n as u64).collect();
    let t = Instant::now();
    let index = match mapped {
        Some(source) => {
            let index = HnswIndex::with_source(source, params)?;
            index.add_rows(&ids, &(0..n).collect::<Vec<_>>())?;
            index
        }
        None => {
            let index = HnswIndex::new(ds.base.dim(), params)?;
            index.add_batch(&ids, &ds.base.as_flat()[..n * ds.base.dim()])?;
            index
        }
    };
    Ok((index, t.elapsed().as_secs_f64()))
}

fn build_usearch(ds: &Data, n: usize, efc: usize) -> BenchResult<(usearch::Index, f64)> {
    let metric = match ds.metric {
        DsMetric::InnerProduct => usearch::MetricKind::IP,
        DsMetric::Cosine => usearch::MetricKind::Cos,
        DsMetric::L2 => usearch::MetricKind::L2sq,
        m => return Err(format!("no usearch metric for the dataset's {m:?}").into()),
    };
    let options = usearch::IndexOptions {
        dimensions: ds.base.dim(),
        metric,
        quantization: usearch::ScalarKind::F32,
        connectivity: M,
        expansion_add: efc,
        expansion_search: 64,
        multi: false,
    };
    let index = usearch::Index::new(&options)?;
    let t = Instant::now();
    index.reserve_capacity_and_threads(n, rayon::current_num_threads())?;
    (0..n).into_par_iter().for_each(|i| {
        index.add(i as u64, ds.base.row(i)).expect("usearch add");
    });
    Ok((index, t.elapsed().as_secs_f64()))
}

fn build_hnsw_rs(ds: &Data, n: usize, efc: usize) -> (Box<dyn Ann>, f64) {
    fn go<D: Distance<f32> + Send + Sync + 'static>(
        ds: &Data,
        n: usize,
        efc: usize,
        d: D,
    ) -> (Box<dyn Ann>, f64) {
        let t = Instant::now();
        let index = Hnsw::<f32, D>::new(M, n, 16, efc, d);
        let data: Vec<(&[f32], usize)> = (0..n).map(|i| (ds.base.row(i), i)).collect();
        index.parallel_insert_slice(&data);
        let s = t.elapsed().as_secs_f64();
        (Box::new(HnswRs { index, ef: 64 }), s)
    }
    match ds.metric {
        DsMetric::InnerProduct => go(ds, n, efc, ClampedDot),
        DsMetric::Cosine => go(ds, n, efc, DistCosine),
        DsMetric::L2 => go(ds, n, efc, DistL2),
        m => panic!("no hnsw_rs distance for the dataset's {m:?}"),
    }
}

/// The flat rows: GB/s with its interleaved bound, single and batched QPS.
fn flat_rows(ds: &Data, n: usize, nq: usize, reps: usize, rows: &mut Vec<Row>) -> BenchResult<()> {
    let dim = ds.base.dim();
    let flat = FlatIndex::new(dim, nexus_metric(ds.metric))?;
    let ids: Vec<u64> = (0..n as u64).collect();
    flat.add_batch(&ids, &ds.base.as_flat()[..n * dim])?;
    let queries = &ds.queries.as_flat()[..nq * dim];
    let footprint = n * dim * 4;
    let bound = ReadBound::new(footprint);
    let pool = rayon::ThreadPoolBuilder::new().num_threads(1).build()?;
    let (mut gbps, mut bound_gbps, mut qps, mut qps_batch) = (vec![], vec![], vec![], vec![]);
    for _ in 0..reps {
        let t = Instant::now();
        for q in queries.chunks_exact(dim) {
            std::hint::black_box(flat.search(q, K, None)?);
        }
        let s = t.elapsed().as_secs_f64();
        qps.push(nq as f64 / s);
        gbps.push(footprint as f64 * nq as f64 / s / 1e9);
        let mut pass = 0.0;
        for _ in 0..3 {
            pass += bound.pass();
        }
        bound_gbps.push(footprint as f64 * 3.0 / pass / 1e9);
        let t = Instant::now();
        pool.install(|| flat.search_batch(queries, K, None))?;
        qps_batch.push(nq as f64 / t.elapsed().as_secs_f64());
    }
    eprintln!(
        "flat: {:.1} GB/s (bound {:.1}), {:.0} qps, batched {:.0} qps (1 thread)",
        median(&gbps),
        median(&bound_gbps),
        median(&qps),
        median(&qps_batch)
    );
    rows.push(Row::from_samples(
        SUITE,
        "flat/exact/gbps_1t",
        "nexus",
        &gbps,
        "GB/s",
    ));
    rows.push(Row::from_samples(
        SUITE,
        "flat/exact/gbps_1t",
        "bound",
        &bound_gbps,
        "GB/s",
    ));
    rows.push(Row::from_samples(
        SUITE,
        "flat/exact/qps_1t",
        "nexus",
        &qps,
        "qps",
    ));
    rows.push(Row::from_samples(
        SUITE,
        "flat/exact/qps_batch_1t",
        "nexus",
        &qps_batch,
        "qps",
    ));
    Ok(())
}

fn quantized_rows(
    ds: &Data,
    n: usize,
    nq: usize,
    reps: usize,
    rows: &mut Vec<Row>,
) -> BenchResult<()> {
    let dim = ds.base.dim();
    let metric = nexus_metric(ds.metric);
    let ids: Vec<u64> = (0..n as u64).collect();
    let truth = ds.truth.truncated(nq);
    for r in [2usize, 4, 8] {
        let t = Instant::now();
        let index = QuantizedIndex::new(dim, metric, r)?;
        index.add_batch(&ids, &ds.base.as_flat()[..n * dim])?;
        let build_s = t.elapsed().as_secs_f64();
        let queries: Vec<&[f32]> = ds.queries.rows().take(nq).collect();
        let found: Vec<Vec<u64>> = queries
            .iter()
            .map(|q| {
                index
                    .search(q, K, None)
                    .map(|h| h.into_iter().map(|x| x.0).collect())
            })
            .collect::<Result<_, _>>()?;
        let recall = recall_at_k(&truth, &found, K)?;
        let mut qps = vec![];
        let mut qps2 = vec![];
        for _ in 0..reps {
            let t = Instant::now();
            for q in &queries {
                std::hint::black_box(index.search(q, K, None)?);
            }
            qps.push(nq as f64 / t.elapsed().as_secs_f64());
            let t = Instant::now();
            queries.par_iter().for_each(|q| {
                std::hint::black_box(index.search(q, K, None).expect("valid"));
            });
            qps2.push(nq as f64 / t.elapsed().as_secs_f64());
        }
        let mem = index.memory();
        let name = |m: &str| format!("quantized/int8/ef{}/{m}", K * r);
        rows.push(Row::new(SUITE, name("recall10"), "nexus", recall, "recall"));
        rows.push(Row::from_samples(
            SUITE,
            name("qps_1t"),
            "nexus",
            &qps,
            "qps",
        ));
        rows.push(Row::from_samples(
            SUITE,
            name("qps_2t"),
            "nexus",
            &qps2,
            "qps",
        ));
        rows.push(Row::new(SUITE, name("build_s"), "nexus", build_s, "s"));
        rows.push(Row::new(
            SUITE,
            name("bytes_per_vector"),
            "nexus",
            mem.heap_bytes as f64 / n as f64,
            "B",
        ));
        rows.push(Row::new(
            SUITE,
            name("mapped_bytes_per_vector"),
            "nexus",
            mem.mapped_bytes as f64 / n as f64,
            "B",
        ));
        eprintln!(
            "quantized int8 r={r}: recall@10 {recall:.4}, {:.0} qps",
            median(&qps)
        );
    }
    Ok(())
}

/// Filtered search passing 1% of the ids, against the exact filtered top 10.
fn filtered_rows(
    index: &HnswIndex,
    prefix: &str,
    ds: &Data,
    n: usize,
    nq: usize,
    reps: usize,
    rows: &mut Vec<Row>,
) -> BenchResult<()> {
    let allowed: IdSet = (0..n as u64).filter(|i| i % 100 == 42).collect();
    let exact = FlatIndex::new(ds.base.dim(), nexus_metric(ds.metric))?;
    let ids: Vec<u64> = allowed_ids(&allowed, n);
    let mut sub = Vec::with_capacity(ids.len() * ds.base.dim());
    for &id in &ids {
        sub.extend_from_slice(ds.base.row(id as usize));
    }
    exact.add_batch(&ids, &sub)?;
    let queries: Vec<&[f32]> = ds.queries.rows().take(nq).collect();
    let (mut hit, mut total) = (0usize, 0usize);
    for q in &queries {
        let want: Vec<u64> = exact.search(q, K, None)?.into_iter().map(|h| h.0).collect();
        let got: Vec<u64> = index
            .search(q, K, Some(&allowed))?
            .into_iter()
            .map(|h| h.0)
            .collect();
        total += want.len();
        hit += want.iter().filter(|id| got.contains(id)).count();
    }
    let recall = hit as f64 / total.max(1) as f64;
    let mut qps = vec![];
    for _ in 0..reps {
        let t = Instant::now();
        for q in &queries {
            std::hint::black_box(index.search(q, K, Some(&allowed))?);
        }
        qps.push(nq as f64 / t.elapsed().as_secs_f64());
    }
    eprintln!(
        "{prefix} filter 1%: recall@10 {recall:.4}, {:.0} qps",
        median(&qps)
    );
    rows.push(Row::new(
        SUITE,
        format!("{prefix}/filter1pct_recall10"),
        "nexus",
        recall,
        "recall",
    ));
    rows.push(Row::from_samples(
        SUITE,
        format!("{prefix}/filter1pct_qps_1t"),
        "nexus",
        &qps,
        "qps",
    ));
    Ok(())
}

fn allowed_ids(set: &IdSet, n: usize) -> Vec<u64> {
    use nexus_index::Filter;
    (0..n as u64).filter(|&i| set.allows(i)).collect()
}

/// Writes the first `n` base rows as raw little-endian f32 and maps them.
fn mapped_base(ds: &Data, n: usize) -> BenchResult<(Arc<MappedVectors>, std::path::PathBuf)> {
    let path = std::env::temp_dir().join(format!("nexus-bench-index-{}.f32", std::process::id()));
    let bytes: Vec<u8> = ds.base.as_flat()[..n * ds.base.dim()]
        .iter()
        .flat_map(|x| x.to_le_bytes())
        .collect();
    std::fs::write(&path, bytes)?;
    Ok((Arc::new(MappedVectors::open(&path, ds.base.dim())?), path))
}

pub(crate) fn run(ctx: &Context) -> BenchResult<Vec<Row>> {
    let ds = ctx.dataset()?;
    let quick = ctx.quick;
    let n = if quick {
        ds.base.len().min(2000)
    } else {
        ds.base.len()
    };
    let nq = if quick {
        ds.queries.len().min(50)
    } else {
        ds.queries.len()
    };
    let reps = if quick { 1 } else { 5 };
    let efc = if quick { 64 } else { 200 };
    let default_efs: &[usize] = if quick {
        &[32, 64]
    } else {
        &[16, 24, 32, 40, 48, 64, 80, 96, 128, 192]
    };
    if ctx.flags.efs.contains(&0) {
        return Err("--efs: every ef must be at least 1".into());
    }
    let efs: &[usize] = if ctx.flags.efs.is_empty() {
        default_efs
    } else {
        &ctx.flags.efs
    };
    let hnsw_only = ctx.flags.hnsw_only;
    let anchors = !quick && !ctx.flags.no_anchors;
    let mut rows = Vec::new();
    // The timed subset, with its ground truth recomputed when the base is cut.
    let base = ds.base.truncated(n);
    let queries = ds.queries.truncated(nq);
    let truth = if n < ds.base.len() {
        nexus_dataset::exact_top_k(&base, &queries, K, ds.search_metric())?
    } else {
        ds.ground_truth.truncated(nq)
    };
    let data = Data {
        base,
        queries,
        truth,
        metric: ds.search_metric(),
    };
    let ds = &data;

    if !hnsw_only {
        flat_rows(ds, n, nq, reps, &mut rows)?;
        quantized_rows(ds, n, nq, reps, &mut rows)?;
    }

    let build = format!("m{M}-efc{efc}");
    let bar = progress(if anchors { 4 } else { 2 }, "index: building");
    let mut built: Vec<Built> = Vec::new();
    let (index, build_s) = build_nexus(ds, n, efc, Traversal::F32, None)?;
    let mem = index.memory();
    built.push(Built {
        name: format!("hnsw/{build}"),
        imp: "nexus",
        failed: false,
        ann: Box::new(Nexus(index)),
        build_s,
        bytes: Some((
            mem.heap_bytes as f64 / n as f64,
            mem.mapped_bytes as f64 / n as f64,
        )),
    });
    bar.inc(1);
    let (source, mapped_path) = mapped_base(ds, n)?;
    let (index, build_s) = build_nexus(ds, n, efc, Traversal::Int8, Some(source))?;
    let mem = index.memory();
    filtered_rows(
        &index,
        &format!("hnsw-int8/{build}/ef64"),
        ds,
        n,
        nq,
        reps,
        &mut rows,
    )?;
    built.push(Built {
        name: format!("hnsw-int8/{build}"),
        imp: "nexus",
        failed: false,
        ann: Box::new(Nexus(index)),
        build_s,
        bytes: Some((
            mem.heap_bytes as f64 / n as f64,
            mem.mapped_bytes as f64 / n as f64,
        )),
    });
    bar.inc(1);
    if anchors {
        match anchor_step(|| build_usearch(ds, n, efc)) {
            Ok((index, build_s)) => {
                let bytes = index.memory_usage() as f64 / n as f64;
                built.push(Built {
                    name: format!("hnsw/{build}"),
                    imp: "usearch",
                    failed: false,
                    ann: Box::new(Usearch(index)),
                    build_s,
                    bytes: Some((bytes, 0.0)),
                });
            }
            Err(e) => {
                eprintln!("index: anchor usearch failed to build ({e}); its rows are left out")
            }
        }
        bar.inc(1);
        match anchor_step(|| Ok(build_hnsw_rs(ds, n, efc))) {
            Ok((ann, build_s)) => built.push(Built {
                name: format!("hnsw/{build}"),
                imp: "hnsw_rs",
                failed: false,
                ann,
                build_s,
                bytes: None,
            }),
            Err(e) => {
                eprintln!("index: anchor hnsw_rs failed to build ({e}); its rows are left out")
            }
        }
        bar.inc(1);
    }
    bar.finish_and_clear();
    for b in &built {
        eprintln!(
            "{} [{}]: build {:.2} s on {} threads",
            b.name,
            b.imp,
            b.build_s,
            rayon::current_num_threads()
        );
    }

    // Sweep: every ef point measures every index in turn (interleaved).
    let bar = progress((efs.len() * built.len()) as u64, "index: ef sweep");
    for &ef in efs {
        for b in built.iter_mut() {
            bar.inc(1);
            if b.failed {
                continue;
            }
            let p = if b.imp == "nexus" {
                b.ann.set_ef(ef);
                measure(b.ann.as_ref(), ds, nq, reps)?
            } else {
                let ann = &mut b.ann;
                match anchor_step(|| {
                    ann.set_ef(ef);
                    measure(ann.as_ref(), ds, nq, reps)
                }) {
                    Ok(p) => p,
                    Err(e) => {
                        eprintln!(
                            "index: anchor {} failed at ef {ef} ({e}); its rows are left out",
                            b.imp
                        );
                        b.failed = true;
                        rows.retain(|r| {
                            !(r.implementation == b.imp && r.name.starts_with(&b.name))
                        });
                        continue;
                    }
                }
            };
            let name = |m: &str| format!("{}/ef{ef}/{m}", b.name);
            rows.push(Row::new(SUITE, name("recall10"), b.imp, p.recall, "recall"));
            rows.push(Row::from_samples(
                SUITE,
                name("qps_1t"),
                b.imp,
                &p.qps_1t,
                "qps",
            ));
            rows.push(Row::from_samples(
                SUITE,
                name("qps_2t"),
                b.imp,
                &p.qps_2t,
                "qps",
            ));
            rows.push(Row::new(SUITE, name("build_s"), b.imp, b.build_s, "s"));
            if let Some((heap, mapped)) = b.bytes {
                rows.push(Row::new(SUITE, name("bytes_per_vector"), b.imp, heap, "B"));
                rows.push(Row::new(
                    SUITE,
                    name("mapped_bytes_per_vector"),
                    b.imp,
                    mapped,
                    "B",
                ));
            }
        }
    }
    bar.finish_and_clear();
    drop(built);
    let _ = std::fs::remove_file(mapped_path);
    print_matched_recall(&rows);
    Ok(rows)
}

/// Best single-thread QPS among sweep points with recall@10 ≥ r, per index and impl.
fn print_matched_recall(rows: &[Row]) {
    // (index/build, impl) → ef point → (recall, qps)
    let mut points: BTreeMap<(String, String), BTreeMap<String, (f64, f64)>> = BTreeMap::new();
    for r in rows {
        let Some((prefix, metric)) = r.name.rsplit_once('/') else {
            continue;
        };
        let Some((index, ef)) = prefix.rsplit_once('/') else {
            continue;
        };
        if !ef.starts_with("ef") {
            continue;
        }
        let e = points
            .entry((index.to_owned(), r.implementation.clone()))
            .or_default()
            .entry(ef.to_owned())
            .or_insert((f64::NAN, f64::NAN));
        match metric {
            "recall10" => e.0 = r.value,
            "qps_1t" => e.1 = r.value,
            _ => {}
        }
    }
    eprintln!("\nmatched recall: best 1-thread QPS at recall@10 ≥ r (no interpolation)");
    eprintln!(
        "{:<28} {:<10} {:>10} {:>10} {:>10}",
        "index", "impl", "≥0.90", "≥0.95", "≥0.99"
    );
    for ((index, imp), pts) in &points {
        let best = |r: f64| {
            pts.values()
                .filter(|p| p.0 >= r)
                .map(|p| p.1)
                .fold(None, |a: Option<f64>, q| Some(a.map_or(q, |a| a.max(q))))
                .map_or("—".to_owned(), |q| format!("{q:.0}"))
        };
        eprintln!(
            "{index:<28} {imp:<10} {:>10} {:>10} {:>10}",
            best(0.90),
            best(0.95),
            best(0.99)
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Normalized vectors whose f32 dot with themselves rounds above 1: `1 − dot` is negative
    /// (what made `DistDot` panic); the clamped distance stays ≥ 0 on every pair.
    #[test]
    fn clamped_dot_cannot_go_negative_on_normalized_data() {
        let mut state = 7u64;
        let mut next = || {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            (state >> 40) as f32 / (1u64 << 24) as f32 - 0.5
        };
        let vectors: Vec<Vec<f32>> = (0..200)
            .map(|_| {
                let v: Vec<f32> = (0..256).map(|_| next()).collect();
                let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
                v.iter().map(|x| x / norm).collect()
            })
            .collect();
        let mut raw_negative = 0;
        for a in &vectors {
            for b in vectors.iter().take(20) {
                let raw = 1.0 - a.iter().zip(b).map(|(x, y)| x * y).sum::<f32>();
                raw_negative += usize::from(raw < 0.0);
                assert!(ClampedDot.eval(a, b) >= 0.0);
            }
            assert!(ClampedDot.eval(a, a) >= 0.0);
        }
        let self_negative = vectors
            .iter()
            .filter(|a| 1.0 - a.iter().map(|x| x * x).sum::<f32>() < 0.0)
            .count();
        assert!(
            raw_negative + self_negative > 0,
            "the test data must contain the case DistDot rejects"
        );
        assert_eq!(ClampedDot.eval(&[f32::NAN], &[1.0]), 0.0);
    }

    #[test]
    fn a_failing_anchor_becomes_a_message() {
        let panicked = anchor_step::<()>(|| panic!("assertion failed: dot <= 1."));
        assert_eq!(
            panicked,
            Err("panicked: assertion failed: dot <= 1.".to_owned())
        );
        let formatted = anchor_step::<()>(|| panic!("{} > 1", 1.0000001_f32));
        assert_eq!(formatted, Err("panicked: 1.0000001 > 1".to_owned()));
        let failed = anchor_step::<()>(|| Err("usearch: out of memory".into()));
        assert_eq!(failed, Err("usearch: out of memory".to_owned()));
        assert_eq!(anchor_step(|| Ok(3)), Ok(3));
    }
}
