//! Hit ratio on real traces: every access is a get-or-insert of unit weight, for nexus-cache,
//! moka (held to capacity: `run_pending_tasks()` after every miss), quick_cache, LRU and OPT.

use std::convert::Infallible;
use std::num::NonZeroUsize;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use super::opt;
use super::traces::Trace;
use crate::BenchResult;
use crate::report::progress;

/// Capacities as a share of the trace's distinct keys, with their row-name spelling.
pub(super) const PERCENTS: [(f64, &str); 5] = [
    (0.001, "0.1"),
    (0.01, "1"),
    (0.05, "5"),
    (0.10, "10"),
    (0.25, "25"),
];

/// The implementations of a cell, in row order.
pub(super) const IMPLS: [&str; 5] = ["nexus", "moka", "quick_cache", "lru", "opt"];

/// One (trace, capacity) cell: the hit ratio of each of [`IMPLS`].
#[derive(Debug, Clone)]
pub(super) struct Cell {
    pub(super) trace: String,
    pub(super) dir: String,
    pub(super) pct: &'static str,
    pub(super) capacity: usize,
    pub(super) ratios: [f64; 5],
}

/// `max(10, round(p · distinct))`.
pub(super) fn capacity(p: f64, distinct: usize) -> usize {
    ((p * distinct as f64).round() as usize).max(10)
}

/// `seed`: nexus-cache's hash seed (random when `None`).
fn hits_of(
    which: usize,
    keys: &[u32],
    distinct: usize,
    cap: usize,
    seed: Option<u64>,
) -> BenchResult<u64> {
    let mut hits = 0u64;
    match IMPLS[which] {
        "nexus" => {
            let builder = nexus_cache::Cache::builder(cap as u64);
            let c: nexus_cache::Cache<u32, ()> = match seed {
                Some(s) => builder.hash_seed(s).build()?,
                None => builder.build()?,
            };
            for &k in keys {
                let mut miss = false;
                c.get_or_insert_with(k, || miss = true);
                hits += u64::from(!miss);
            }
        }
        "moka" => {
            let c: moka::sync::Cache<u32, ()> = moka::sync::Cache::new(cap as u64);
            for &k in keys {
                let mut miss = false;
                c.get_with(k, || miss = true);
                if miss {
                    c.run_pending_tasks();
                } else {
                    hits += 1;
                }
            }
        }
        "quick_cache" => {
            let mut c: quick_cache::unsync::Cache<u32, ()> = quick_cache::unsync::Cache::new(cap);
            for &k in keys {
                let mut miss = false;
                let _ = c.get_or_insert_with(&k, || {
                    miss = true;
                    Ok::<(), Infallible>(())
                });
                hits += u64::from(!miss);
            }
        }
        "lru" => {
            let mut c = lru::LruCache::new(NonZeroUsize::new(cap).ok_or("capacity 0")?);
            for &k in keys {
                if c.get(&k).is_some() {
                    hits += 1;
                } else {
                    c.put(k, ());
                }
            }
        }
        _ => hits = opt::hits(keys, distinct, cap),
    }
    Ok(hits)
}

/// Every cell of every trace, two worker threads pulling cells (largest traces first).
/// `only`: the impls to run (others are NaN), or all when empty; `seed`: nexus-cache's hash
/// seed (random when `None`).
pub(super) fn run(traces: &[Trace], only: &[String], seed: Option<u64>) -> BenchResult<Vec<Cell>> {
    let mut jobs: Vec<(usize, usize)> = (0..traces.len())
        .flat_map(|t| (0..PERCENTS.len()).map(move |p| (t, p)))
        .collect();
    jobs.sort_by_key(|&(t, p)| (std::cmp::Reverse(traces[t].keys.len()), p));
    let next = AtomicUsize::new(0);
    let cells = Mutex::new(Vec::new());
    let errors = Mutex::new(Vec::new());
    let bar = progress(jobs.len() as u64, "hit ratio cells");
    std::thread::scope(|s| {
        for _ in 0..2 {
            s.spawn(|| {
                loop {
                    let j = next.fetch_add(1, Ordering::Relaxed);
                    let Some(&(t, p)) = jobs.get(j) else { break };
                    let tr = &traces[t];
                    let (frac, pct) = PERCENTS[p];
                    let cap = capacity(frac, tr.distinct);
                    let mut ratios = [f64::NAN; 5];
                    for (i, r) in ratios.iter_mut().enumerate() {
                        if !only.is_empty() && !only.iter().any(|o| o == IMPLS[i]) {
                            continue;
                        }
                        match hits_of(i, &tr.keys, tr.distinct, cap, seed) {
                            Ok(h) => *r = h as f64 / tr.keys.len().max(1) as f64,
                            Err(e) => errors.lock().expect("no panics").push(e.to_string()),
                        }
                    }
                    cells.lock().expect("no panics").push(Cell {
                        trace: tr.name.clone(),
                        dir: tr.dir.clone(),
                        pct,
                        capacity: cap,
                        ratios,
                    });
                    bar.inc(1);
                }
            });
        }
    });
    bar.finish_and_clear();
    if let Some(e) = errors.into_inner().expect("no panics").into_iter().next() {
        return Err(e.into());
    }
    let mut cells = cells.into_inner().expect("no panics");
    let order = |c: &Cell| {
        let p = PERCENTS.iter().position(|x| x.1 == c.pct).unwrap_or(0);
        (c.dir.clone(), c.trace.clone(), p)
    };
    cells.sort_by_key(order);
    Ok(cells)
}
