//! The `kernels` suite: `nexus-simd` against `simsimd`, its own scalar reference, and the
//! machine's measured read bandwidth (`bound`, see `crate::bound`) over the same footprint.
//!
//! Rows (name — unit — impls):
//! - `dot_f32/d384/one_to_one` — ns — nexus, nexus-scalar, simsimd
//! - `dot_f32/d384/one_to_many_100k` — GB/s of vectors read — nexus, bound
//! - `hamming/b1024/one_to_many_100k`, `hamming/b384/one_to_many_100k` — Mcodes/s — nexus, bound
//! - `dot_f32/d384/batch32x100k` — Mscores/s — nexus
//! - `dot_f32/d384/one_to_many_x32` — Mscores/s — nexus, bound
//! - `dot_i8/d384/one_to_many_100k` — Mscores/s — nexus, nexus-scalar
//!
//! `bound` reads at the kernels' level (`NEXUS_SIMD=avx2` on an AVX-512 machine: with AVX2, as
//! an AVX2 machine would). When `NEXUS_SIMD` caps the level below the CPU's,
//! `dot_f32/d384/one_to_many_100k` and both Hamming rows also get a `bound-<widest>` row: the
//! same buffer, in the same interleaved loop, read with the widest loads the CPU has (the bound
//! the rows had before it followed the cap).
//!
//! Every figure is the median of interleaved repetitions (1 thread); `--quick` keeps the same
//! footprints with fewer repetitions and calls (at least 5 samples per row but the batch rows,
//! so that `spread` is a usable noise estimate). Synthetic data (uniform random): speed does not
//! depend on the values.

use std::hint::black_box;
use std::time::Instant;

use nexus_simd::__levels;
use nexus_simd::Level;
use simsimd::SpatialSimilarity;

use crate::BenchResult;
use crate::bound::ReadBound;
use crate::context::Context;
use crate::report::{Row, median};
use crate::synthetic::Gen;

const SUITE: &str = "kernels";
const DIM: usize = 384;
const ROWS: usize = 100_000;
const QUERIES: usize = 32;

fn secs(f: impl FnOnce()) -> f64 {
    let start = Instant::now();
    f();
    start.elapsed().as_secs_f64()
}

pub(crate) fn run(ctx: &Context) -> BenchResult<Vec<Row>> {
    // Quick runs keep 5 samples: a MAD of 3 samples is the smaller of two deviations and
    // understates the noise, which `cargo xtask bench --baseline` relies on.
    let reps = if ctx.quick { 5 } else { 11 };
    let levels: Vec<String> = nexus_simd::kernel_levels()
        .iter()
        .map(|(k, l)| format!("{k}={l}"))
        .collect();
    eprintln!(
        "kernels: nexus-simd cap {} ({}); f32 scans prefetch: {}; bound: {} sum{}; {reps} interleaved reps, medians",
        nexus_simd::backend(),
        levels.join(" "),
        nexus_simd::scan_prefetch(),
        ReadBound::backend(),
        if ReadBound::capped() {
            format!(", bound-{0}: {0} sum", ReadBound::widest())
        } else {
            String::new()
        }
    );
    let mut rng = Gen(42);
    let mut rows = Vec::new();
    let one_to_one = one_to_one(ctx, &mut rng, &mut rows);
    let scan = f32_scan(reps, &mut rng, &mut rows);
    let ham = hamming(reps, &mut rng, &mut rows);
    let batch = batch(ctx, &mut rng, &mut rows);
    i8_scan(reps, &mut rng, &mut rows);
    eprintln!(
        "kernels: targets — one_to_one simsimd/nexus {one_to_one:.2}x (≥ 1.3), \
         one_to_many_100k nexus/bound {scan:.2} (≥ 0.9), hamming b1024 nexus/bound {ham:.2} \
         (≥ 0.8), batch32 / one_to_many_x32 {batch:.2}x (≥ 3)"
    );
    Ok(rows)
}

/// `dot_f32/d384/one_to_one`: ns per call, cycling over 4 L1-resident pairs (12 KiB; 31
/// interleaved samples in a full run). Returns simsimd / nexus.
///
/// L1-resident on purpose: this row measures the kernel (latency chains, reduction, call
/// overhead). With 64 pairs (192 KiB, L2-resident) every implementation waits on L2 bandwidth
/// and the row measured the cache instead (nexus 28.0 ns, simsimd 30.8 ns on Zen 4).
fn one_to_one(ctx: &Context, rng: &mut Gen, rows: &mut Vec<Row>) -> f64 {
    const PAIRS: usize = 4;
    let data = rng.f32s(2 * PAIRS * DIM);
    let (a, b) = data.split_at(PAIRS * DIM);
    // Many short samples (~5 ms each) rather than a few long ones: on a shared machine a short
    // sample is often not preempted at all, so the median tracks the kernel, not the neighbours.
    let calls = if ctx.quick { 20_000 } else { 200_000 };
    // Quick: 11 samples of ~0.3 ms (a few ms in all), so the spread means something.
    let reps = if ctx.quick { 11 } else { 31 };
    let scalar = __levels::kernels(Level::Scalar)
        .expect("scalar always exists")
        .dot;
    let time = |f: &dyn Fn(&[f32], &[f32]) -> f64| {
        secs(|| {
            let mut s = 0.0;
            for i in 0..calls {
                let p = i % PAIRS;
                s += f(
                    black_box(&a[p * DIM..][..DIM]),
                    black_box(&b[p * DIM..][..DIM]),
                );
            }
            black_box(s);
        }) * 1e9
            / calls as f64
    };
    let nexus = |x: &[f32], y: &[f32]| f64::from(nexus_simd::dot(x, y));
    let reference = |x: &[f32], y: &[f32]| f64::from(scalar(x, y));
    let simsimd = |x: &[f32], y: &[f32]| f32::dot(x, y).unwrap_or(f64::NAN);
    let (mut n, mut r, mut s) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..reps {
        n.push(time(&nexus));
        r.push(time(&reference));
        s.push(time(&simsimd));
    }
    let name = "dot_f32/d384/one_to_one";
    rows.push(Row::from_samples(SUITE, name, "nexus", &n, "ns"));
    rows.push(Row::from_samples(SUITE, name, "nexus-scalar", &r, "ns"));
    rows.push(Row::from_samples(SUITE, name, "simsimd", &s, "ns"));
    eprintln!(
        "{name}: nexus {:.1} ns, nexus-scalar {:.1} ns, simsimd {:.1} ns",
        median(&n),
        median(&r),
        median(&s)
    );
    median(&s) / median(&n)
}

/// `dot_f32/d384/one_to_many_100k`: GB/s over a 154 MB block, with its bound. Returns the ratio.
fn f32_scan(reps: usize, rng: &mut Gen, rows: &mut Vec<Row>) -> f64 {
    let query = rng.f32s(DIM);
    let block = rng.f32s(ROWS * DIM);
    let mut out = vec![0.0f32; ROWS];
    let bytes = std::mem::size_of_val(&block[..]) as f64;
    let bound = ReadBound::new(block.len() * 4);
    let (mut n, mut b, mut w) = (Vec::new(), Vec::new(), Vec::new());
    nexus_simd::dot_one_to_many(&query, &block, &mut out); // warm-up
    for _ in 0..reps {
        n.push(
            bytes / secs(|| nexus_simd::dot_one_to_many(&query, black_box(&block), &mut out)) / 1e9,
        );
        b.push(bound.bytes() as f64 / bound.pass() / 1e9);
        if ReadBound::capped() {
            w.push(bound.bytes() as f64 / bound.pass_widest() / 1e9);
        }
    }
    black_box(&out);
    let name = "dot_f32/d384/one_to_many_100k";
    rows.push(Row::from_samples(SUITE, name, "nexus", &n, "GB/s"));
    rows.push(Row::from_samples(SUITE, name, "bound", &b, "GB/s"));
    widest_row(name, &w, "GB/s", rows);
    eprintln!(
        "{name}: nexus {:.1} GB/s, bound {:.1} GB/s",
        median(&n),
        median(&b)
    );
    median(&n) / median(&b)
}

/// `hamming/b{1024,384}/one_to_many_100k`: Mcodes/s with bounds. Returns the b1024 ratio.
fn hamming(reps: usize, rng: &mut Gen, rows: &mut Vec<Row>) -> f64 {
    let mut ratio = f64::NAN;
    for (bits, name) in [
        (1024, "hamming/b1024/one_to_many_100k"),
        (384, "hamming/b384/one_to_many_100k"),
    ] {
        let words = bits / 64;
        let query = rng.u64s(words);
        let codes = rng.u64s(ROWS * words);
        let mut out = vec![0u32; ROWS];
        let bound = ReadBound::new(codes.len() * 8);
        let code_bytes = (words * 8) as f64;
        let (mut n, mut b, mut w) = (Vec::new(), Vec::new(), Vec::new());
        // Codes are small: several scans per sample so that a sample is ≥ 1 ms.
        let inner = 20;
        nexus_simd::hamming_one_to_many(&query, &codes, &mut out);
        for _ in 0..reps {
            let t = secs(|| {
                for _ in 0..inner {
                    nexus_simd::hamming_one_to_many(&query, black_box(&codes), &mut out);
                }
            });
            n.push((ROWS * inner) as f64 / t / 1e6);
            let t = secs(|| {
                for _ in 0..inner {
                    bound.pass();
                }
            });
            b.push(bound.bytes() as f64 * inner as f64 / t / code_bytes / 1e6);
            if ReadBound::capped() {
                let t: f64 = (0..inner).map(|_| bound.pass_widest()).sum();
                w.push(bound.bytes() as f64 * inner as f64 / t / code_bytes / 1e6);
            }
        }
        black_box(&out);
        rows.push(Row::from_samples(SUITE, name, "nexus", &n, "Mcodes/s"));
        rows.push(Row::from_samples(SUITE, name, "bound", &b, "Mcodes/s"));
        widest_row(name, &w, "Mcodes/s", rows);
        eprintln!(
            "{name}: nexus {:.0} Mcodes/s, bound {:.0} Mcodes/s",
            median(&n),
            median(&b)
        );
        if bits == 1024 {
            ratio = median(&n) / median(&b);
        }
    }
    ratio
}

/// The `bound-<widest>` row of `name`, if the level is capped (`samples` is then not empty).
fn widest_row(name: &str, samples: &[f64], unit: &str, rows: &mut Vec<Row>) {
    if !samples.is_empty() {
        let imp = format!("bound-{}", ReadBound::widest());
        rows.push(Row::from_samples(SUITE, name, &imp, samples, unit));
        eprintln!("{name}: {imp} {:.1} {unit}", median(samples));
    }
}

/// `dot_f32/d384/batch32x100k` vs `dot_f32/d384/one_to_many_x32`: Mscores/s, the latter with
/// its `bound` (32 reads of the block, interleaved: 32 memory-bound scans move with the
/// machine's bandwidth, which a neighbour process takes). Returns the ratio.
fn batch(ctx: &Context, rng: &mut Gen, rows: &mut Vec<Row>) -> f64 {
    let reps = if ctx.quick { 2 } else { 5 };
    let queries = rng.f32s(QUERIES * DIM);
    let block = rng.f32s(ROWS * DIM);
    let mut out = vec![0.0f32; QUERIES * ROWS];
    let scores = (QUERIES * ROWS) as f64;
    let bound = ReadBound::new(block.len() * 4);
    let (mut m, mut s, mut b) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..reps {
        let t = secs(|| nexus_simd::dot_many_to_many(&queries, black_box(&block), DIM, &mut out));
        m.push(scores / t / 1e6);
        let t = secs(|| {
            for (q, o) in queries.chunks_exact(DIM).zip(out.chunks_exact_mut(ROWS)) {
                nexus_simd::dot_one_to_many(q, black_box(&block), o);
            }
        });
        s.push(scores / t / 1e6);
        let t: f64 = (0..QUERIES).map(|_| bound.pass()).sum();
        b.push(scores / t / 1e6);
    }
    black_box(&out);
    let (batch, single) = ("dot_f32/d384/batch32x100k", "dot_f32/d384/one_to_many_x32");
    rows.push(Row::from_samples(SUITE, batch, "nexus", &m, "Mscores/s"));
    rows.push(Row::from_samples(SUITE, single, "nexus", &s, "Mscores/s"));
    rows.push(Row::from_samples(SUITE, single, "bound", &b, "Mscores/s"));
    eprintln!(
        "{batch}: {:.0} Mscores/s; {single}: {:.0} Mscores/s (bound {:.0})",
        median(&m),
        median(&s),
        median(&b)
    );
    median(&m) / median(&s)
}

/// `dot_i8/d384/one_to_many_100k`: Mscores/s, nexus and its scalar reference.
fn i8_scan(reps: usize, rng: &mut Gen, rows: &mut Vec<Row>) {
    let query = rng.i8s(DIM);
    let block = rng.i8s(ROWS * DIM);
    let mut out = vec![0i32; ROWS];
    let scalar = __levels::kernels(Level::Scalar)
        .expect("scalar always exists")
        .dot_i8_one_to_many;
    let (mut n, mut r) = (Vec::new(), Vec::new());
    for _ in 0..reps {
        let t = secs(|| nexus_simd::dot_i8_one_to_many(&query, black_box(&block), &mut out));
        n.push(ROWS as f64 / t / 1e6);
        let t = secs(|| scalar(&query, black_box(&block), &mut out));
        r.push(ROWS as f64 / t / 1e6);
    }
    black_box(&out);
    let name = "dot_i8/d384/one_to_many_100k";
    rows.push(Row::from_samples(SUITE, name, "nexus", &n, "Mscores/s"));
    rows.push(Row::from_samples(
        SUITE,
        name,
        "nexus-scalar",
        &r,
        "Mscores/s",
    ));
    eprintln!(
        "{name}: nexus {:.0} Mscores/s, nexus-scalar {:.0} Mscores/s",
        median(&n),
        median(&r)
    );
}
