//! Fixed small workloads for instruction counting (`cargo xtask bench --icount`).
//!
//! `nexus-bench --icount-workload NAME` prepares the workload's data (not counted), then runs
//! it once inside [`icount_measured`]; xtask runs the binary under
//! `valgrind --tool=callgrind --collect-atstart=no --toggle-collect=*icount_measured*`, so
//! only the workload itself is counted, to the instruction, whatever else runs on the machine.
//!
//! Everything here is deterministic: synthetic data from a fixed seed, or the bundled dataset;
//! single-threaded builds (nexus-index builds are deterministic only on one thread); a fixed
//! shard count for the cache. A workload must stay small: callgrind runs ~50× slower than
//! native, and the whole `--icount` run should take well under two minutes.
//!
//! To add a workload (the engine's recall, for instance), add an entry to [`WORKLOADS`]:
//! xtask asks the binary for the list (`--icount-list`) and needs no change; then record its
//! count on purpose with `cargo xtask bench --icount --save`.

use std::hint::black_box;

use nexus_cache::Cache;
use nexus_index::{FlatIndex, HnswIndex, HnswParams, Index, Metric};

use crate::BenchResult;
use crate::synthetic::Gen;

/// The measured part of a workload, prepared by its setup.
pub(crate) type Measured = Box<dyn FnMut()>;

/// One counted workload: its name and its (uncounted) setup.
pub(crate) struct Workload {
    pub(crate) name: &'static str,
    pub(crate) setup: fn() -> BenchResult<Measured>,
}

/// Every workload, in the order xtask runs them.
pub(crate) const WORKLOADS: &[Workload] = &[
    Workload {
        name: "kernels/dot_f32_d384_one_to_one",
        setup: kernels_one_to_one,
    },
    Workload {
        name: "kernels/dot_f32_d384_one_to_many_2k",
        setup: kernels_scan,
    },
    Workload {
        name: "kernels/dot_f32_d384_batch8x1k",
        setup: kernels_batch,
    },
    Workload {
        name: "kernels/hamming_b1024_one_to_many_10k",
        setup: kernels_hamming,
    },
    Workload {
        name: "kernels/dot_i8_d384_one_to_many_2k",
        setup: kernels_i8,
    },
    Workload {
        name: "index/flat_search_1k_x20",
        setup: index_flat,
    },
    Workload {
        name: "index/hnsw_search_1k_x50_ef64",
        setup: index_hnsw,
    },
    Workload {
        name: "cache/zipf0.9_replay_100k",
        setup: cache_replay,
    },
];

/// Runs one workload: setup, then the measured part inside [`icount_measured`].
pub(crate) fn run(name: &str) -> BenchResult<()> {
    let w = WORKLOADS.iter().find(|w| w.name == name).ok_or_else(|| {
        let names: Vec<_> = WORKLOADS.iter().map(|w| w.name).collect();
        format!("unknown workload {name:?}; workloads: {}", names.join(", "))
    })?;
    let mut measured = (w.setup)()?;
    icount_measured(&mut *measured);
    eprintln!(
        "icount workload {name}: done (nexus-simd {})",
        nexus_simd::backend()
    );
    Ok(())
}

/// The counted region: callgrind turns collection on when this function is entered and off
/// when it returns (`--toggle-collect=*icount_measured*`). Never inlined, never generic, so the
/// symbol exists once.
#[inline(never)]
fn icount_measured(f: &mut dyn FnMut()) {
    f();
}

const DIM: usize = 384;

fn kernels_one_to_one() -> BenchResult<Measured> {
    const PAIRS: usize = 4;
    let mut g = Gen(1);
    let (a, b) = (g.f32s(PAIRS * DIM), g.f32s(PAIRS * DIM));
    Ok(Box::new(move || {
        let mut s = 0.0;
        for i in 0..2000 {
            let p = i % PAIRS;
            s += nexus_simd::dot(
                black_box(&a[p * DIM..][..DIM]),
                black_box(&b[p * DIM..][..DIM]),
            );
        }
        black_box(s);
    }))
}

fn kernels_scan() -> BenchResult<Measured> {
    const ROWS: usize = 2000;
    let mut g = Gen(2);
    let (q, block) = (g.f32s(DIM), g.f32s(ROWS * DIM));
    let mut out = vec![0.0f32; ROWS];
    Ok(Box::new(move || {
        nexus_simd::dot_one_to_many(&q, black_box(&block), &mut out);
        black_box(&out);
    }))
}

fn kernels_batch() -> BenchResult<Measured> {
    const ROWS: usize = 1000;
    const QUERIES: usize = 8;
    let mut g = Gen(3);
    let (q, block) = (g.f32s(QUERIES * DIM), g.f32s(ROWS * DIM));
    let mut out = vec![0.0f32; QUERIES * ROWS];
    Ok(Box::new(move || {
        nexus_simd::dot_many_to_many(&q, black_box(&block), DIM, &mut out);
        black_box(&out);
    }))
}

fn kernels_hamming() -> BenchResult<Measured> {
    const ROWS: usize = 10_000;
    const WORDS: usize = 1024 / 64;
    let mut g = Gen(4);
    let q: Vec<u64> = (0..WORDS).map(|_| g.next()).collect();
    let codes: Vec<u64> = (0..ROWS * WORDS).map(|_| g.next()).collect();
    let mut out = vec![0u32; ROWS];
    Ok(Box::new(move || {
        nexus_simd::hamming_one_to_many(&q, black_box(&codes), &mut out);
        black_box(&out);
    }))
}

fn kernels_i8() -> BenchResult<Measured> {
    const ROWS: usize = 2000;
    let mut g = Gen(5);
    let q: Vec<i8> = (0..DIM).map(|_| (g.next() >> 56) as u8 as i8).collect();
    let block: Vec<i8> = (0..ROWS * DIM)
        .map(|_| (g.next() >> 56) as u8 as i8)
        .collect();
    let mut out = vec![0i32; ROWS];
    Ok(Box::new(move || {
        nexus_simd::dot_i8_one_to_many(&q, black_box(&block), &mut out);
        black_box(&out);
    }))
}

/// The first `n` base vectors and `nq` queries of the bundled dataset.
fn bundled(n: usize, nq: usize) -> BenchResult<(Vec<f32>, Vec<f32>, usize, Metric)> {
    let ds = nexus_dataset::Dataset::load(nexus_dataset::bundled_dir())?;
    let dim = ds.base.dim();
    let n = n.min(ds.base.len());
    let nq = nq.min(ds.queries.len());
    let metric = match ds.search_metric() {
        nexus_dataset::Metric::InnerProduct => Metric::InnerProduct,
        nexus_dataset::Metric::Cosine => Metric::Cosine,
        nexus_dataset::Metric::L2 => Metric::L2,
        m => return Err(format!("no index metric for the dataset's {m:?}").into()),
    };
    Ok((
        ds.base.as_flat()[..n * dim].to_vec(),
        ds.queries.as_flat()[..nq * dim].to_vec(),
        dim,
        metric,
    ))
}

/// Runs `f` on a one-thread rayon pool (deterministic builds).
fn one_thread<T: Send>(f: impl FnOnce() -> T + Send) -> BenchResult<T> {
    Ok(rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()?
        .install(f))
}

fn index_flat() -> BenchResult<Measured> {
    let (base, queries, dim, metric) = bundled(1000, 20)?;
    let index = FlatIndex::new(dim, metric)?;
    let ids: Vec<u64> = (0..(base.len() / dim) as u64).collect();
    index.add_batch(&ids, &base)?;
    Ok(Box::new(move || {
        for q in queries.chunks_exact(dim) {
            black_box(index.search(q, 10, None).expect("valid query"));
        }
    }))
}

fn index_hnsw() -> BenchResult<Measured> {
    let (base, queries, dim, metric) = bundled(1000, 50)?;
    let params = HnswParams {
        ef_construction: 64,
        ef_search: 64,
        metric,
        ..HnswParams::default()
    };
    let index = HnswIndex::new(dim, params)?;
    let ids: Vec<u64> = (0..(base.len() / dim) as u64).collect();
    one_thread(|| index.add_batch(&ids, &base))??;
    Ok(Box::new(move || {
        for q in queries.chunks_exact(dim) {
            black_box(index.search(q, 10, None).expect("valid query"));
        }
    }))
}

fn cache_replay() -> BenchResult<Measured> {
    const KEYS: usize = 100_000;
    const ACCESSES: usize = 100_000;
    // Zipf(0.9) ranks by inverse CDF, scrambled (as the cache suite's throughput rows).
    let mut acc = 0.0;
    let cdf: Vec<f64> = (1..=KEYS)
        .map(|r| {
            acc += (r as f64).powf(-0.9);
            acc
        })
        .collect();
    let mut g = Gen(6);
    let keys: Vec<u64> = (0..ACCESSES)
        .map(|_| {
            let u = (g.next() >> 11) as f64 / (1u64 << 53) as f64 * acc;
            let rank = cdf.partition_point(|&c| c < u).min(KEYS - 1) as u64;
            Gen(rank).next()
        })
        .collect();
    // A fixed shard count: the default depends on the machine's threads.
    let cache: Cache<u64, u64> = Cache::builder(10_000).shards(2).build()?;
    Ok(Box::new(move || {
        let mut hits = 0u64;
        for &k in &keys {
            hits += u64::from(cache.get_or_insert_with(k, || !k) == !k);
        }
        black_box(hits);
    }))
}
