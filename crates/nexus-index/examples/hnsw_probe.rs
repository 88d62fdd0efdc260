//! A quick HNSW probe for tuning: build on a TEXMEX dataset directory, then recall@10 and
//! single-thread QPS over an ef sweep (the bench suite `index` is the reference measurement).
//!
//! `cargo run --release -p nexus-index --example hnsw_probe -- DIR [f32|int8] [EF,EF,...]`

use std::sync::Arc;
use std::time::Instant;

use nexus_dataset::{Dataset, recall_at_k};
use nexus_index::{HnswIndex, HnswParams, Index, MappedVectors, Metric, Traversal};

/// This thread's CPU time (user + system) from `/proc`, in seconds (10 ms ticks): timings
/// that other processes on a shared machine disturb less than wall time.
fn thread_cpu_s() -> f64 {
    cpu_s("/proc/thread-self/stat")
}

/// The process's CPU time, all threads.
fn process_cpu_s() -> f64 {
    cpu_s("/proc/self/stat")
}

fn cpu_s(path: &str) -> f64 {
    let stat = std::fs::read_to_string(path).unwrap_or_default();
    let after = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<f64> = after
        .split_whitespace()
        .filter_map(|x| x.parse().ok())
        .collect();
    // After the command name: state (not a number, skipped), then fields 4.. ; utime and
    // stime are fields 14 and 15, i.e. the 11th and 12th numbers here.
    (f.get(10).copied().unwrap_or(0.0) + f.get(11).copied().unwrap_or(0.0)) / 100.0
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let dir = args
        .get(1)
        .map_or_else(nexus_dataset::bundled_dir, Into::into);
    let int8 = args.get(2).is_some_and(|a| a == "int8");
    let efs: Vec<usize> = args
        .get(3)
        .map_or("16,32,64,128", String::as_str)
        .split(',')
        .map(str::parse)
        .collect::<Result<_, _>>()?;
    let ds = Dataset::load(&dir)?;
    let (n, dim) = (ds.base.len(), ds.base.dim());
    let metric = match ds.search_metric() {
        nexus_dataset::Metric::InnerProduct => Metric::InnerProduct,
        nexus_dataset::Metric::Cosine => Metric::Cosine,
        nexus_dataset::Metric::L2 => Metric::L2,
        m => return Err(format!("no index metric for {m:?}").into()),
    };
    let params = HnswParams {
        metric,
        traversal: if int8 {
            Traversal::Int8
        } else {
            Traversal::F32
        },
        ..HnswParams::default()
    };
    let ids: Vec<u64> = (0..n as u64).collect();
    let path = std::env::temp_dir().join(format!("hnsw-probe-{}.f32", std::process::id()));
    let t = Instant::now();
    let index = if int8 {
        let bytes: Vec<u8> = ds
            .base
            .as_flat()
            .iter()
            .flat_map(|x| x.to_le_bytes())
            .collect();
        std::fs::write(&path, bytes)?;
        let source = Arc::new(MappedVectors::open(&path, dim)?);
        let t = Instant::now();
        let cpu0 = process_cpu_s();
        // HNSW_PROBE_CACHE=FILE: load the graph from FILE if it exists, else build and save it
        // there (to profile searches without rebuilding).
        let cache = std::env::var_os("HNSW_PROBE_CACHE").map(std::path::PathBuf::from);
        let index = match &cache {
            Some(file) if file.exists() => HnswIndex::load_with_source(file, source)?,
            _ => {
                let index = HnswIndex::with_source(source, params)?;
                index.add_rows(&ids, &(0..n).collect::<Vec<_>>())?;
                if let Some(file) = &cache {
                    index.save(file)?;
                }
                index
            }
        };
        eprintln!(
            "build {:.2} s ({:.2} CPU-s)",
            t.elapsed().as_secs_f64(),
            process_cpu_s() - cpu0
        );
        index
    } else {
        let cpu0 = process_cpu_s();
        let cache = std::env::var_os("HNSW_PROBE_CACHE").map(std::path::PathBuf::from);
        let index = match &cache {
            Some(file) if file.exists() => HnswIndex::load(file)?,
            _ => {
                let index = HnswIndex::new(dim, params)?;
                index.add_batch(&ids, ds.base.as_flat())?;
                if let Some(file) = &cache {
                    index.save(file)?;
                }
                index
            }
        };
        eprintln!(
            "build {:.2} s ({:.2} CPU-s)",
            t.elapsed().as_secs_f64(),
            process_cpu_s() - cpu0
        );
        index
    };
    let mem = index.memory();
    eprintln!(
        "heap {:.0} B/vector, mapped {:.0} B/vector",
        mem.heap_bytes as f64 / n as f64,
        mem.mapped_bytes as f64 / n as f64
    );
    let queries: Vec<&[f32]> = ds.queries.rows().collect();
    for ef in efs {
        index.set_ef_search(ef);
        let found: Vec<Vec<u64>> = queries
            .iter()
            .map(|q| {
                index
                    .search(q, 10, None)
                    .map(|h| h.into_iter().map(|x| x.0).collect())
            })
            .collect::<Result<_, _>>()?;
        let recall = recall_at_k(&ds.ground_truth, &found, 10)?;
        let mut best = 0.0f64;
        let cpu0 = thread_cpu_s();
        let mut passes = 0;
        while thread_cpu_s() - cpu0 < 1.0 {
            let t = Instant::now();
            for q in &queries {
                std::hint::black_box(index.search(q, 10, None)?);
            }
            best = best.max(queries.len() as f64 / t.elapsed().as_secs_f64());
            passes += 1;
        }
        let cpu_qps = (passes * queries.len()) as f64 / (thread_cpu_s() - cpu0);
        eprintln!(
            "ef {ef:>4}: recall@10 {recall:.4}  {best:>8.0} qps wall (best of {passes}), {cpu_qps:>8.0} qps per CPU-second"
        );
    }
    let _ = std::fs::remove_file(path);
    Ok(())
}
