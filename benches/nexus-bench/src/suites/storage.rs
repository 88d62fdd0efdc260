//! The `storage` suite: nexus-storage on the real file system, `impl: nexus`.
//!
//! - `append/always`, `append/grouped` (records/s): commits of one 384-d record with 64 bytes
//!   of metadata; `always` from one thread with an fsync per commit, `grouped` from four
//!   threads whose fsyncs are batched (group commit). fsync latency dominates both: the figure
//!   is the disk's, on this VM as measured.
//! - `open/1m` (ms; `--quick`: `open/100k`): open a store of 1M (100k) vectors read-only —
//!   lock, manifest, segment footers, checksum tables and mappings; no rebuild. The store is
//!   built once and cached under `target/bench/`.
//! - `scan/mapped` vs `scan/heap` (GB/s): `nexus_simd::dot_one_to_many` of one query over
//!   segment vectors read zero-copy from the mapping, against the same vectors copied to the
//!   heap, interleaved per segment in alternating order, medians of 11 (`--quick`: 3).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use nexus_storage::{Batch, Durability, Options, Store};

use crate::BenchResult;
use crate::context::Context;
use crate::report::{Row, median, progress};

const SUITE: &str = "storage";
const DIM: usize = 384;
const META: usize = 64;

fn bench_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/bench")
}

/// Row `i` of the store: a dataset vector (cycled) with its id mixed in, so rows differ.
fn row(base: &[f32], n_base: usize, i: usize) -> Vec<f32> {
    let r = &base[(i % n_base) * DIM..(i % n_base + 1) * DIM];
    let mut v = r.to_vec();
    v[0] += (i / n_base) as f32 * 1e-3;
    v
}

fn meta(i: usize) -> Vec<u8> {
    let mut m = format!("{{\"id\":{i},\"ns\":\"bench\"}}").into_bytes();
    m.resize(META, b' ');
    m
}

/// Records per second of `threads` threads committing `per_thread` single-record batches.
fn append_rate(
    dir: &Path,
    base: &[f32],
    n_base: usize,
    threads: usize,
    per_thread: usize,
    durability: Durability,
) -> BenchResult<f64> {
    let _ = std::fs::remove_dir_all(dir);
    let store = Arc::new(Store::open(dir, Options::new(DIM))?);
    let start = Instant::now();
    std::thread::scope(|s| -> BenchResult<()> {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                let store = store.clone();
                s.spawn(move || -> Result<(), nexus_storage::Error> {
                    for k in 0..per_thread {
                        let i = t * per_thread + k;
                        let mut b = Batch::new();
                        b.put(i as u64, &row(base, n_base, i), &[], &meta(i));
                        store.commit(b, durability)?;
                    }
                    Ok(())
                })
            })
            .collect();
        for h in handles {
            h.join().map_err(|_| "append thread panicked")??;
        }
        Ok(())
    })?;
    let secs = start.elapsed().as_secs_f64();
    drop(store);
    let _ = std::fs::remove_dir_all(dir);
    Ok((threads * per_thread) as f64 / secs)
}

/// Whether `dir` holds a complete store of `n` rows that this build reads.
fn cache_is_usable(dir: &Path, n: usize) -> bool {
    dir.join("COMPLETE").exists()
        && Store::open(dir, Options::new(DIM).read_only(true))
            .is_ok_and(|s| s.segments().iter().map(|g| g.len()).sum::<usize>() == n)
}

/// The cached store of `n` vectors (built once: batches of 10k, a segment per 100k; rebuilt
/// when missing, incomplete or of another format version).
fn cached_store(n: usize, base: &[f32], n_base: usize) -> BenchResult<PathBuf> {
    let dir = bench_dir().join(format!("storage-{n}"));
    let done = dir.join("COMPLETE");
    if cache_is_usable(&dir, n) {
        return Ok(dir);
    }
    let _ = std::fs::remove_dir_all(&dir);
    let store = Store::open(&dir, Options::new(DIM))?;
    let bar = progress(n as u64, "building store");
    let mut i = 0;
    while i < n {
        let mut b = Batch::new();
        for _ in 0..10_000.min(n - i) {
            b.put(i as u64, &row(base, n_base, i), &[], &meta(i));
            i += 1;
        }
        store.commit(b, Durability::Never)?;
        if i % 100_000 == 0 || i == n {
            store.flush()?;
        }
        bar.set_position(i as u64);
    }
    bar.finish_and_clear();
    drop(store);
    std::fs::write(&done, b"")?;
    Ok(dir)
}

pub(crate) fn run(ctx: &Context) -> BenchResult<Vec<Row>> {
    let ds = ctx.dataset()?;
    if ds.base.dim() != DIM {
        return Err(format!(
            "storage suite needs {DIM}-d vectors, dataset has {}",
            ds.base.dim()
        )
        .into());
    }
    let base = ds.base.as_flat();
    let n_base = ds.base.len();
    let reps = if ctx.quick { 1 } else { 5 };
    let mut rows = Vec::new();

    // Appends.
    let tmp = bench_dir().join("storage-append");
    let (always_n, grouped_n) = if ctx.quick { (50, 50) } else { (500, 500) };
    let mut always = Vec::new();
    let mut grouped = Vec::new();
    for _ in 0..reps {
        always.push(append_rate(
            &tmp,
            base,
            n_base,
            1,
            always_n,
            Durability::Always,
        )?);
        grouped.push(append_rate(
            &tmp,
            base,
            n_base,
            4,
            grouped_n,
            Durability::Grouped,
        )?);
    }
    eprintln!(
        "storage: append always {:.0} records/s (1 thread), grouped {:.0} records/s (4 threads)",
        median(&always),
        median(&grouped)
    );
    rows.push(Row::from_samples(
        SUITE,
        "append/grouped",
        "nexus",
        &grouped,
        "records/s",
    ));
    rows.push(Row::from_samples(
        SUITE,
        "append/always",
        "nexus",
        &always,
        "records/s",
    ));

    // Open.
    let (n, open_name) = if ctx.quick {
        (100_000, "open/100k")
    } else {
        (1_000_000, "open/1m")
    };
    let dir = cached_store(n, base, n_base)?;
    let opts = Options::new(DIM).read_only(true);
    let mut open_ms = Vec::new();
    for _ in 0..reps.max(3) {
        let start = Instant::now();
        let store = Store::open(&dir, opts.clone())?;
        open_ms.push(start.elapsed().as_secs_f64() * 1e3);
        drop(store);
    }
    let store = Store::open(&dir, opts)?;
    let rows_in: usize = store.segments().iter().map(|s| s.len()).sum();
    if rows_in != n {
        return Err(format!(
            "cached store holds {rows_in} rows, expected {n}: delete {}",
            dir.display()
        )
        .into());
    }
    eprintln!(
        "storage: {open_name} {:.2} ms ({} segments, read-only, page cache warm)",
        median(&open_ms),
        store.segments().len()
    );
    rows.push(Row::from_samples(SUITE, open_name, "nexus", &open_ms, "ms"));

    // Scan: mapped segments against heap copies of the same vectors (up to 300k rows).
    let segs: Vec<_> = store.segments().into_iter().take(3).collect();
    let heap: Vec<Vec<f32>> = segs.iter().map(|s| s.vectors().to_vec()).collect();
    let query = row(base, n_base, 12345);
    let mut out: Vec<Vec<f32>> = segs.iter().map(|s| vec![0.0; s.len()]).collect();
    let bytes: usize = segs.iter().map(|s| s.vectors().len() * 4).sum();
    // Interleaved per segment (about 150 MB, some 15 ms), alternating which goes first, so
    // that the other engineers' load on this shared machine hits both alike; 11 repetitions.
    let scan_reps = if ctx.quick { 3 } else { 11 };
    let mut mapped_s = Vec::new();
    let mut heap_s = Vec::new();
    for rep in 0..scan_reps + 1 {
        let (mut m, mut h) = (0.0, 0.0);
        for (i, ((s, hv), o)) in segs.iter().zip(&heap).zip(&mut out).enumerate() {
            for mapped_turn in [(rep + i) % 2 == 0, (rep + i) % 2 == 1] {
                let start = Instant::now();
                if mapped_turn {
                    nexus_simd::dot_one_to_many(&query, s.vectors(), o);
                    m += start.elapsed().as_secs_f64();
                } else {
                    nexus_simd::dot_one_to_many(&query, hv, o);
                    h += start.elapsed().as_secs_f64();
                }
            }
        }
        if rep > 0 {
            // The first pass faults the pages in.
            mapped_s.push(bytes as f64 / m / 1e9);
            heap_s.push(bytes as f64 / h / 1e9);
        }
    }
    std::hint::black_box(&out);
    eprintln!(
        "storage: scan {:.1} MB: mapped {:.2} GB/s, heap {:.2} GB/s, ratio {:.3}",
        bytes as f64 / 1e6,
        median(&mapped_s),
        median(&heap_s),
        median(&mapped_s) / median(&heap_s)
    );
    rows.push(Row::from_samples(
        SUITE,
        "scan/mapped",
        "nexus",
        &mapped_s,
        "GB/s",
    ));
    rows.push(Row::from_samples(
        SUITE,
        "scan/heap",
        "nexus",
        &heap_s,
        "GB/s",
    ));
    Ok(rows)
}
