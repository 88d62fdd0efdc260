//! `nexus demo`: Memory Nexus doing its job on real sentence embeddings, through the public
//! engine API only.

use std::path::Path;
use std::time::Instant;

use indicatif::{ProgressBar, ProgressStyle};
use nexus_dataset::Dataset;
use nexus_engine::{Memory, Nexus, Options, Query};

use crate::{Failure, bytes, short};

/// Namespaces the demo spreads memories over (one per simulated user).
const USERS: usize = 10;

/// A progress bar on stderr (drawn only on a terminal).
pub(crate) fn bar(len: u64, what: &str) -> ProgressBar {
    let bar = ProgressBar::new(len);
    bar.set_style(
        ProgressStyle::with_template("{msg:>12} [{bar:40}] {pos}/{len} {elapsed}")
            .expect("static template")
            .progress_chars("=> "),
    );
    bar.set_message(what.to_owned());
    bar
}

pub(crate) fn run(dataset: Option<&Path>, keep: Option<&Path>) -> Result<(), Failure> {
    let dir = dataset.map_or_else(nexus_dataset::bundled_dir, Path::to_path_buf);
    let ds = Dataset::load(&dir)?;
    println!("Memory Nexus demo — dataset {}", ds.id());
    let temp;
    let store = match keep {
        Some(k) => {
            if k.join("NEXUS").exists() {
                return Err(Failure(format!(
                    "{} already holds a store: give --keep a new directory",
                    k.display()
                )));
            }
            k.to_path_buf()
        }
        None => {
            temp = std::env::temp_dir().join(format!("nexus-demo-{}", std::process::id()));
            let _ = std::fs::remove_dir_all(&temp);
            temp.clone()
        }
    };
    let result = demo(&ds, &store);
    if keep.is_none() {
        let _ = std::fs::remove_dir_all(&store);
    } else if result.is_ok() {
        println!("\nthe store is kept in {}", store.display());
    }
    result
}

fn text_of(ds: &Dataset, i: usize) -> String {
    ds.base_texts
        .as_ref()
        .map(|t| t[i].clone())
        .filter(|t| !t.is_empty())
        .unwrap_or_else(|| format!("memory {i}"))
}

fn demo(ds: &Dataset, store: &Path) -> Result<(), Failure> {
    let n = ds.base.len();
    let t = Instant::now();
    {
        let nexus = Nexus::open(
            store,
            Options::new()
                .dimension(ds.base.dim())
                .background(false)
                .flush_rows(n + 1),
        )?;
        let b = bar(n as u64, "remember");
        for start in (0..n).step_by(1024) {
            let end = (start + 1024).min(n);
            nexus.remember_batch((start..end).map(|i| {
                Memory::new(text_of(ds, i), ds.base.row(i).to_vec())
                    .namespace(format!("user-{}", i % USERS))
            }))?;
            b.set_position(end as u64);
        }
        b.set_message("indexing");
        nexus.flush()?;
        b.finish_and_clear();
    }
    println!(
        "remembered {n} memories in {USERS} namespaces, flushed and indexed: {:.2} s",
        t.elapsed().as_secs_f64()
    );

    let t = Instant::now();
    let nexus = Nexus::open(store, Options::new().cache_bytes(0))?;
    println!(
        "reopened (segments and graphs mapped; a graph loads on its first search): {:.1} ms",
        t.elapsed().as_secs_f64() * 1e3
    );

    let nq = ds.queries.len();
    let b = bar(nq as u64, "recall");
    let mut lat = Vec::with_capacity(nq);
    let (mut hit, mut total) = (0usize, 0usize);
    let start = Instant::now();
    for q in 0..nq {
        let t = Instant::now();
        let got = nexus.recall(&Query::new(ds.queries.row(q).to_vec()).k(10))?;
        lat.push(t.elapsed().as_secs_f64() * 1e3);
        let want: Vec<u64> = ds.ground_truth.row(q)[..10.min(ds.ground_truth.dim())]
            .iter()
            .map(|&i| i as u64 + 1)
            .collect();
        hit += got.iter().filter(|r| want.contains(&r.id)).count();
        total += want.len();
        b.inc(1);
    }
    let wall = start.elapsed().as_secs_f64();
    b.finish_and_clear();
    lat.sort_by(f64::total_cmp);
    let pct = |p: f64| lat[((lat.len() - 1) as f64 * p).round() as usize];
    let stats = nexus.stats();
    println!(
        "recall@10 against exact search: {:.4}   ({nq} queries, one at a time, 1 thread)",
        hit as f64 / total.max(1) as f64
    );
    println!(
        "latency p50 {:.3} ms, p99 {:.3} ms; {:.0} queries/s",
        pct(0.5),
        pct(0.99),
        nq as f64 / wall
    );
    println!(
        "memory: {} resident ({:.0} B per memory; vectors stay on the mapping), {} on disk ({:.0} B per memory)",
        bytes(stats.resident_bytes),
        stats.resident_bytes as f64 / n as f64,
        bytes(stats.disk_bytes),
        stats.disk_bytes as f64 / n as f64
    );

    let query_text = |q: usize| {
        ds.query_texts
            .as_ref()
            .map_or_else(|| format!("query {q}"), |t| t[q].clone())
    };
    let show = |title: &str, q: usize, query: Query| -> Result<(), Failure> {
        println!("\n{title}\n  query: {}", short(&query_text(q), 100));
        for r in nexus.recall(&query)? {
            println!(
                "  {:.3}  [{}] {}",
                r.score,
                r.memory.namespace_name(),
                short(r.memory.text(), 100)
            );
        }
        Ok(())
    };
    show(
        "Example recall (all namespaces):",
        0,
        Query::new(ds.queries.row(0).to_vec()).k(3),
    )?;
    let q = 1.min(nq - 1);
    show(
        "Example recall within one namespace (user-3):",
        q,
        Query::new(ds.queries.row(q).to_vec())
            .k(3)
            .namespace("user-3"),
    )?;
    let q = 2.min(nq - 1);
    show(
        "Example recall (another query):",
        q,
        Query::new(ds.queries.row(q).to_vec()).k(3),
    )?;
    Ok(())
}
