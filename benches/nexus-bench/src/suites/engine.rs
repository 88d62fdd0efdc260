//! The `engine` suite: `nexus_engine::Nexus` end to end on one dataset, with the `usearch`
//! index alone (f32 and i8) as the in-process anchor for the `dev/` rows.
//!
//! Rows (`impl: nexus` unless said):
//! - `dev/recall10`, `dev/latency_p50_1t`, `dev/latency_p99_1t` (ms), `dev/qps_1t`: every query
//!   through `Nexus::recall` (default options, query cache off so every query is searched), one
//!   at a time on one thread, on a store that was flushed and reopened. usearch rows at the
//!   smallest `ef` whose recall reaches ours (or its best).
//! - `filtered/qps_1t`, `filtered/recall10`: memories spread over 100 namespaces, recall within
//!   one (ground truth: exact search within that namespace).
//! - `keyword/qps_1t`, `keyword/recall10`: `Query::text` with each query's text (BM25);
//!   `hybrid/qps_1t`, `hybrid/recall10`: its vector and text, reciprocal-rank fusion. Recall is
//!   agreement with the exact vector top-10 (the only ground truth); needs the dataset's texts.
//! - `mixed/qps_2t`, `mixed/latency_p99_2t` (ms): 2 threads, 90 % recall (half in one random
//!   namespace of 5,000, half across all) and 10 % remember, `Durability::Grouped`.
//! - `ingest/grouped` (memories/s: 4 threads of single `remember`, durable; `bound`: 4 per
//!   measured fsync, since each caller waits for one), `ingest/batch1024` (durable
//!   `remember_batch` of 1,024), `ingest/index_build_s` (s: flushing the whole dataset and
//!   building its graph).
//! - `open/1m` (ms; `--quick`: `open/10k`; `--open-memories N` for another size): opening a
//!   cached store of that many memories (the dataset's vectors repeated with seeded
//!   perturbations), built once under `target/bench/`.
//! - `bytes_per_memory` (heap after open and warm-up, from the counting allocator; mapped
//!   pages not counted), `disk_bytes_per_memory` (allocated blocks less the texts' bytes).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use nexus_dataset::Dataset;
use nexus_engine::{Durability, Memory, Nexus, Options, Query};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::BenchResult;
use crate::context::Context;
use crate::report::{Row, median, progress};

const SUITE: &str = "engine";

fn row(name: &str, imp: &str, value: f64, unit: &str) -> Row {
    Row::new(SUITE, name, imp, value, unit)
}

/// A scratch directory under the target dir, removed when dropped.
struct Scratch(PathBuf);

impl Scratch {
    fn new(what: &str) -> BenchResult<Self> {
        let dir = bench_dir().join(format!("engine-{what}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir)?;
        Ok(Self(dir))
    }
    fn path(&self) -> PathBuf {
        self.0.join("store")
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn bench_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map_or_else(|| PathBuf::from("target"), PathBuf::from)
        .join("bench")
}

fn memory(ds: &Dataset, i: usize, namespaces: usize) -> Memory {
    let text = ds
        .base_texts
        .as_ref()
        .map_or_else(|| format!("memory {i}"), |t| t[i].clone());
    let text = if text.is_empty() {
        format!("memory {i}")
    } else {
        text
    };
    Memory::new(text, ds.base.row(i).to_vec()).namespace(format!("ns{}", i % namespaces))
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i]
}

/// Exact top-10 of query `q` among base rows `i` with `keep(i)` (inner product in f64; the
/// dataset's vectors are normalised, so this is cosine).
fn exact_top10(ds: &Dataset, q: &[f32], keep: impl Fn(usize) -> bool) -> Vec<u64> {
    let mut scored: Vec<(f64, u64)> = (0..ds.base.len())
        .filter(|&i| keep(i))
        .map(|i| {
            let s: f64 = ds
                .base
                .row(i)
                .iter()
                .zip(q)
                .map(|(&a, &b)| f64::from(a) * f64::from(b))
                .sum();
            (s, i as u64 + 1)
        })
        .collect();
    scored.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
    scored.into_iter().take(10).map(|(_, id)| id).collect()
}

/// Runs every query once through `search`; returns (recall@10, per-query seconds).
fn run_queries(
    nq: usize,
    truth: impl Fn(usize) -> Vec<u64>,
    mut search: impl FnMut(usize) -> Vec<u64>,
) -> (f64, Vec<f64>) {
    let (mut hit, mut total) = (0usize, 0usize);
    let mut lat = Vec::with_capacity(nq);
    for q in 0..nq {
        let t = Instant::now();
        let got = search(q);
        lat.push(t.elapsed().as_secs_f64());
        let want = truth(q);
        hit += got.iter().filter(|id| want.contains(id)).count();
        total += want.len();
    }
    (hit as f64 / total.max(1) as f64, lat)
}

/// `reps` passes of the `nq` queries `query(q).k(10)` through `Nexus::recall`: recall@10
/// against `truth`, and the per-query seconds of each pass.
fn recall_reps(
    nexus: &Nexus,
    nq: usize,
    reps: usize,
    truth: impl Fn(usize) -> Vec<u64>,
    query: impl Fn(usize) -> Query,
) -> (f64, Vec<Vec<f64>>) {
    let mut lat = Vec::with_capacity(reps);
    let mut recall = 0.0;
    for _ in 0..reps {
        let (r, l) = run_queries(nq, &truth, |q| {
            nexus
                .recall(&query(q).k(10))
                .expect("recall")
                .iter()
                .map(|r| r.id)
                .collect()
        });
        recall = r;
        lat.push(l);
    }
    (recall, lat)
}

fn latency_rows(rows: &mut Vec<Row>, prefix: &str, imp: &str, recall: f64, lat: &[Vec<f64>]) {
    let qps: Vec<f64> = lat
        .iter()
        .map(|l| l.len() as f64 / l.iter().sum::<f64>())
        .collect();
    let mut all: Vec<f64> = lat.iter().flatten().copied().collect();
    all.sort_by(f64::total_cmp);
    rows.push(row(&format!("{prefix}/recall10"), imp, recall, "recall"));
    rows.push(Row::from_samples(
        SUITE,
        format!("{prefix}/qps_1t"),
        imp,
        &qps,
        "qps",
    ));
    if prefix == "dev" {
        rows.push(row(
            &format!("{prefix}/latency_p50_1t"),
            imp,
            percentile(&all, 0.50) * 1e3,
            "ms",
        ));
        rows.push(row(
            &format!("{prefix}/latency_p99_1t"),
            imp,
            percentile(&all, 0.99) * 1e3,
            "ms",
        ));
    }
}

pub(crate) fn run(ctx: &Context) -> BenchResult<Vec<Row>> {
    let ds = ctx.dataset()?;
    let quick = ctx.quick;
    let n = ds.base.len();
    let nq = if quick {
        ds.queries.len().min(50)
    } else {
        ds.queries.len()
    };
    let reps = if quick { 1 } else { 5 };
    let dim = ds.base.dim();
    let mut rows = Vec::new();

    // Build the dev store (100 namespaces), timing the flush that builds the graph.
    let scratch = Scratch::new("dev")?;
    let path = scratch.path();
    {
        let nexus = Nexus::open(
            &path,
            Options::new()
                .dimension(dim)
                .background(false)
                .flush_rows(n + 1),
        )?;
        let bar = progress(n as u64, "remember");
        for start in (0..n).step_by(4096) {
            let end = (start + 4096).min(n);
            nexus.remember_batch((start..end).map(|i| memory(ds, i, 100)))?;
            bar.set_position(end as u64);
        }
        bar.finish_and_clear();
        let t = Instant::now();
        nexus.flush()?;
        rows.push(row(
            "ingest/index_build_s",
            "nexus",
            t.elapsed().as_secs_f64(),
            "s",
        ));
        // Texts excluded: they are the user's payload, whatever the engine.
        let text_bytes: usize = (0..n).map(|i| memory(ds, i, 100).text().len()).sum();
        let disk = nexus.stats().disk_bytes.saturating_sub(text_bytes as u64) as f64 / n as f64;
        rows.push(row("disk_bytes_per_memory", "nexus", disk, "B"));
    }

    // Reopen (segments and graphs read from their files), measuring the heap it holds.
    crate::alloc::start();
    let nexus = Nexus::open(&path, Options::new().cache_bytes(0))?;
    for q in 0..nq.min(50) {
        nexus.recall(&Query::new(ds.queries.row(q).to_vec()))?;
    }
    let heap = crate::alloc::stop();
    rows.push(row(
        "bytes_per_memory",
        "nexus",
        heap as f64 / n as f64,
        "B",
    ));

    let truth = |q: usize| -> Vec<u64> {
        ds.ground_truth.row(q)[..10]
            .iter()
            .map(|&i| i as u64 + 1)
            .collect()
    };
    let (recall, lat) = recall_reps(&nexus, nq, reps, truth, |q| {
        Query::new(ds.queries.row(q).to_vec())
    });
    latency_rows(&mut rows, "dev", "nexus", recall, &lat);
    let our_recall = recall;

    // Filtered: one namespace of 100 (1 % of the memories).
    let ns_of = |q: usize| q % 100;
    let ftruth: Vec<Vec<u64>> = (0..nq)
        .map(|q| exact_top10(ds, ds.queries.row(q), |i| i % 100 == ns_of(q)))
        .collect();
    let (recall, flat) = recall_reps(
        &nexus,
        nq,
        reps,
        |q| ftruth[q].clone(),
        |q| Query::new(ds.queries.row(q).to_vec()).namespace(format!("ns{}", ns_of(q))),
    );
    latency_rows(&mut rows, "filtered", "nexus", recall, &flat);
    if let Some(texts) = &ds.query_texts {
        text_rows(&nexus, ds, texts, nq, reps, &mut rows)?;
    }
    drop(nexus);

    usearch_rows(ds, nq, reps, our_recall, &mut rows)?;

    ingest_and_mixed(ds, quick, &mut rows)?;
    let open_count = match ctx.flags.open_memories {
        Some(n) => n,
        None if quick => 10_000,
        None => 1_000_000,
    };
    open_rows(ds, open_count, &mut rows)?;
    Ok(rows)
}

/// Keyword (BM25 on the query's text) and hybrid (its vector and its text, reciprocal-rank
/// fusion) recall. Their `recall10` is agreement with the exact vector top-10, the only ground
/// truth the dataset has: how much of the embedding's answer the texts' words alone find, and
/// how much of it fusion keeps.
fn text_rows(
    nexus: &Nexus,
    ds: &Dataset,
    texts: &[String],
    nq: usize,
    reps: usize,
    rows: &mut Vec<Row>,
) -> BenchResult<()> {
    let truth = |q: usize| -> Vec<u64> {
        ds.ground_truth.row(q)[..10]
            .iter()
            .map(|&i| i as u64 + 1)
            .collect()
    };
    // The first keyword query loads each segment's stored keyword index.
    nexus.recall(&Query::text(texts[0].clone()))?;
    for (prefix, hybrid) in [("keyword", false), ("hybrid", true)] {
        let (recall, lat) = recall_reps(nexus, nq, reps, truth, |q| {
            if hybrid {
                Query::new(ds.queries.row(q).to_vec()).keywords(texts[q].clone())
            } else {
                Query::text(texts[q].clone())
            }
        });
        latency_rows(rows, prefix, "nexus", recall, &lat);
    }
    Ok(())
}

/// The usearch index alone (f32, then i8), at the smallest `ef` reaching `target` recall.
fn usearch_rows(
    ds: &Dataset,
    nq: usize,
    reps: usize,
    target: f64,
    rows: &mut Vec<Row>,
) -> BenchResult<()> {
    let n = ds.base.len();
    for (imp, kind) in [
        ("usearch", usearch::ScalarKind::F32),
        ("usearch-i8", usearch::ScalarKind::I8),
    ] {
        let options = usearch::IndexOptions {
            dimensions: ds.base.dim(),
            metric: usearch::MetricKind::IP,
            quantization: kind,
            connectivity: 16,
            expansion_add: 200,
            expansion_search: 64,
            multi: false,
        };
        let index = usearch::Index::new(&options)?;
        index.reserve(n)?;
        for i in 0..n {
            index.add(i as u64 + 1, ds.base.row(i))?;
        }
        let truth = |q: usize| -> Vec<u64> {
            ds.ground_truth.row(q)[..10]
                .iter()
                .map(|&i| i as u64 + 1)
                .collect()
        };
        let mut best = None;
        for ef in [16, 32, 48, 64, 96, 128, 192, 256, 384] {
            index.change_expansion_search(ef);
            let mut lat = Vec::new();
            let mut recall = 0.0;
            for _ in 0..reps {
                let (r, l) = run_queries(nq, truth, |q| {
                    index
                        .search(ds.queries.row(q), 10)
                        .map(|m| m.keys)
                        .unwrap_or_default()
                });
                recall = r;
                lat.push(l);
            }
            best = Some((recall, lat));
            if recall >= target {
                break;
            }
        }
        if let Some((recall, lat)) = best {
            latency_rows(rows, "dev", imp, recall, &lat);
        }
    }
    Ok(())
}

/// `ingest/grouped` on a fresh store of 5,000 namespaces, then `mixed/` on it.
fn ingest_and_mixed(ds: &Dataset, quick: bool, rows: &mut Vec<Row>) -> BenchResult<()> {
    let n = ds.base.len();
    let dim = ds.base.dim();
    let scratch = Scratch::new("ingest")?;
    let nexus = Arc::new(Nexus::open(
        scratch.path(),
        Options::new()
            .dimension(dim)
            .durability(Durability::Grouped)
            .cache_bytes(0),
    )?);
    let threads = 4;
    let t = Instant::now();
    std::thread::scope(|s| {
        for th in 0..threads {
            let nexus = Arc::clone(&nexus);
            s.spawn(move || {
                for i in (th..n).step_by(threads) {
                    nexus.remember(memory(ds, i, 5000)).expect("remember");
                }
            });
        }
    });
    rows.push(row(
        "ingest/grouped",
        "nexus",
        n as f64 / t.elapsed().as_secs_f64(),
        "memories/s",
    ));
    // The bound: each of the threads waits for one fsync per remember, so at most `threads`
    // remembers share one, whatever the engine does.
    let fsync = fsync_seconds(&scratch.0)?;
    rows.push(row(
        "ingest/grouped",
        "bound",
        threads as f64 / fsync,
        "memories/s",
    ));
    // Batched: one commit and one fsync per 1,024 memories.
    let t = Instant::now();
    let batch = n.min(8192);
    for start in (0..batch).step_by(1024) {
        nexus.remember_batch((start..(start + 1024).min(batch)).map(|i| memory(ds, i, 5000)))?;
    }
    rows.push(row(
        "ingest/batch1024",
        "nexus",
        batch as f64 / t.elapsed().as_secs_f64(),
        "memories/s",
    ));
    nexus.flush()?;

    let ops = if quick { 300 } else { 5000 };
    let t = Instant::now();
    let lat: Vec<Vec<f64>> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..2u64)
            .map(|th| {
                let nexus = Arc::clone(&nexus);
                s.spawn(move || {
                    let mut rng = ChaCha8Rng::seed_from_u64(th);
                    let mut lat = Vec::with_capacity(ops);
                    for _ in 0..ops {
                        let q = ds.queries.row(rng.random_range(0..ds.queries.len()));
                        let t = Instant::now();
                        if rng.random_bool(0.1) {
                            let i = rng.random_range(0..n);
                            let v: Vec<f32> = ds
                                .base
                                .row(i)
                                .iter()
                                .map(|x| x + rng.random_range(-0.01f32..0.01))
                                .collect();
                            let m = Memory::new(format!("new memory {i}"), v)
                                .namespace(format!("ns{}", rng.random_range(0..5000)));
                            nexus.remember(m).expect("remember");
                        } else {
                            let mut query = Query::new(q.to_vec()).k(10);
                            if rng.random_bool(0.5) {
                                query = query.namespace(format!("ns{}", rng.random_range(0..5000)));
                            }
                            nexus.recall(&query).expect("recall");
                        }
                        lat.push(t.elapsed().as_secs_f64());
                    }
                    lat
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("thread"))
            .collect()
    });
    let wall = t.elapsed().as_secs_f64();
    let mut all: Vec<f64> = lat.into_iter().flatten().collect();
    all.sort_by(f64::total_cmp);
    rows.push(row("mixed/qps_2t", "nexus", all.len() as f64 / wall, "qps"));
    rows.push(row(
        "mixed/latency_p99_2t",
        "nexus",
        percentile(&all, 0.99) * 1e3,
        "ms",
    ));
    Ok(())
}

/// The median time of one small append + `fdatasync` on the store's disk.
fn fsync_seconds(dir: &Path) -> BenchResult<f64> {
    use std::io::Write;
    let path = dir.join("fsync-probe");
    let mut f = std::fs::File::create(&path)?;
    let mut times = Vec::with_capacity(100);
    for _ in 0..100 {
        let t = Instant::now();
        f.write_all(&[0u8; 512])?;
        f.sync_data()?;
        times.push(t.elapsed().as_secs_f64());
    }
    drop(f);
    std::fs::remove_file(&path)?;
    Ok(median(&times))
}

/// Opens a cached store of many memories (built once, rebuilt when its marker is stale).
fn open_rows(ds: &Dataset, count: usize, rows: &mut Vec<Row>) -> BenchResult<()> {
    let name = match count {
        1_000_000 => "open/1m".to_owned(),
        c if c % 1000 == 0 => format!("open/{}k", c / 1000),
        c => format!("open/{c}"),
    };
    let dir = bench_dir().join(format!("engine-open-{count}"));
    let marker = dir.join("built-by");
    // The store's layout version too (rows attachment v2), so a format change rebuilds it.
    let tag = format!(
        "nexus-engine {} rows-v2 {}",
        env!("CARGO_PKG_VERSION"),
        ds.id()
    );
    if std::fs::read_to_string(&marker).ok().as_deref() != Some(tag.as_str()) {
        build_open_store(ds, &dir, count)?;
        std::fs::write(&marker, &tag)?;
    }
    let store = dir.join("store");
    let mut ms = Vec::new();
    for _ in 0..5 {
        let t = Instant::now();
        let nexus = Nexus::open(&store, Options::new())?;
        ms.push(t.elapsed().as_secs_f64() * 1e3);
        drop(nexus);
    }
    rows.push(Row::from_samples(SUITE, name, "nexus", &ms, "ms"));
    Ok(())
}

fn build_open_store(ds: &Dataset, dir: &Path, count: usize) -> BenchResult<()> {
    let _ = std::fs::remove_dir_all(dir);
    std::fs::create_dir_all(dir)?;
    let dim = ds.base.dim();
    let nexus = Nexus::open(
        dir.join("store"),
        Options::new().dimension(dim).background(false),
    )?;
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    let bar = progress(count as u64, "build open store");
    for start in (0..count).step_by(4096) {
        let end = (start + 4096).min(count);
        let batch: Vec<Memory> = (start..end)
            .map(|i| {
                let src = ds.base.row(i % ds.base.len());
                let v: Vec<f32> = src
                    .iter()
                    .map(|x| x + rng.random_range(-0.02f32..0.02))
                    .collect();
                Memory::new(format!("memory {i}"), v).namespace(format!("ns{}", i % 1000))
            })
            .collect();
        nexus.remember_batch(batch)?;
        bar.set_position(end as u64);
    }
    bar.finish_and_clear();
    nexus.flush()?;
    Ok(())
}
