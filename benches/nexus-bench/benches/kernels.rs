//! Criterion benches for the cases of the `kernels` suite (`cargo bench -p nexus-bench --bench
//! kernels`): statistically careful single-kernel timings, next to the suite's interleaved,
//! bound-relative figures. `NEXUS_SIMD=scalar|avx2|avx512` selects the level, as everywhere.

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use simsimd::SpatialSimilarity;

const DIM: usize = 384;
const ROWS: usize = 100_000;

fn data(n: usize, seed: u64) -> Vec<u64> {
    let mut s = seed;
    (0..n)
        .map(|_| {
            s = s.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let z = (s ^ (s >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            let z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^ (z >> 31)
        })
        .collect()
}

fn f32s(n: usize, seed: u64) -> Vec<f32> {
    data(n, seed)
        .into_iter()
        .map(|x| (x >> 40) as f32 / (1u64 << 24) as f32 * 2.0 - 1.0)
        .collect()
}

fn kernels(c: &mut Criterion) {
    let a = f32s(DIM, 1);
    let b = f32s(DIM, 2);
    let mut g = c.benchmark_group("dot_f32/d384/one_to_one");
    g.bench_function("nexus", |bench| {
        bench.iter(|| nexus_simd::dot(black_box(&a), black_box(&b)))
    });
    g.bench_function("simsimd", |bench| {
        bench.iter(|| f32::dot(black_box(&a), black_box(&b)))
    });
    g.finish();

    let block = f32s(ROWS * DIM, 3);
    let mut out = vec![0.0f32; ROWS];
    let mut g = c.benchmark_group("dot_f32/d384");
    g.sample_size(10);
    g.throughput(Throughput::Bytes((block.len() * 4) as u64));
    g.bench_function("one_to_many_100k", |bench| {
        bench.iter(|| nexus_simd::dot_one_to_many(&a, black_box(&block), &mut out))
    });
    let queries = f32s(32 * DIM, 4);
    let mut out32 = vec![0.0f32; 32 * ROWS];
    g.throughput(Throughput::Elements((32 * ROWS) as u64));
    g.bench_function("batch32x100k", |bench| {
        bench.iter(|| nexus_simd::dot_many_to_many(&queries, black_box(&block), DIM, &mut out32))
    });
    g.bench_function("one_to_many_x32", |bench| {
        bench.iter(|| {
            for (q, o) in queries.chunks_exact(DIM).zip(out32.chunks_exact_mut(ROWS)) {
                nexus_simd::dot_one_to_many(q, black_box(&block), o);
            }
        })
    });
    g.finish();
    drop(block);

    let mut g = c.benchmark_group("hamming");
    let mut hout = vec![0u32; ROWS];
    for bits in [1024usize, 384] {
        let words = bits / 64;
        let q = data(words, 5);
        let codes = data(ROWS * words, 6);
        g.throughput(Throughput::Elements(ROWS as u64));
        g.bench_function(format!("b{bits}/one_to_many_100k"), |bench| {
            bench.iter(|| nexus_simd::hamming_one_to_many(&q, black_box(&codes), &mut hout))
        });
    }
    g.finish();

    let qi: Vec<i8> = data(DIM, 7).into_iter().map(|x| x as u8 as i8).collect();
    let bi: Vec<i8> = data(ROWS * DIM, 8)
        .into_iter()
        .map(|x| x as u8 as i8)
        .collect();
    let mut iout = vec![0i32; ROWS];
    let mut g = c.benchmark_group("dot_i8/d384");
    g.sample_size(10);
    g.throughput(Throughput::Elements(ROWS as u64));
    g.bench_function("one_to_many_100k", |bench| {
        bench.iter(|| nexus_simd::dot_i8_one_to_many(&qi, black_box(&bi), &mut iout))
    });
    g.finish();
}

criterion_group!(benches, kernels);
criterion_main!(benches);
