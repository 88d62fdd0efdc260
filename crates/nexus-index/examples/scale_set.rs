//! Builds a larger TEXMEX dataset from a smaller one, for scale trends: the base vectors
//! repeated until `N` rows, every copy after the first perturbed with seeded Gaussian noise
//! and re-normalised; the same queries; exact top-100 ground truth by brute force.
//!
//! `cargo run --release -p nexus-index --example scale_set -- SRC DST N [NOISE_NORM] [SEED]`
//!
//! `NOISE_NORM` (default 0.3) is the expected norm of the noise added to a unit vector
//! (per-dimension sigma `NOISE_NORM / sqrt(dim)`). Only for normalised (cosine / inner
//! product) sets.

use std::path::PathBuf;

use nexus_dataset::{Dataset, Vectors};
use nexus_index::{FlatIndex, Metric};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;

const GT_K: usize = 100;

/// A standard normal draw (Box–Muller).
fn gauss(rng: &mut ChaCha8Rng) -> f32 {
    use rand::Rng;
    let u1: f64 = rng.random_range(f64::EPSILON..1.0);
    let u2: f64 = rng.random_range(0.0..1.0);
    ((-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()) as f32
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    if args.len() < 4 {
        return Err("usage: scale_set SRC DST N [NOISE_NORM] [SEED]".into());
    }
    let src = PathBuf::from(&args[1]);
    let dst = PathBuf::from(&args[2]);
    let n: usize = args[3].parse()?;
    let noise: f32 = args.get(4).map_or(Ok(0.3), |a| a.parse())?;
    let seed: u64 = args.get(5).map_or(Ok(20_261_204), |a| a.parse())?;
    let ds = Dataset::load(&src)?;
    let (n_src, dim) = (ds.base.len(), ds.base.dim());
    let sigma = noise / (dim as f32).sqrt();
    let mut flat = vec![0.0f32; n * dim];
    flat.par_chunks_mut(dim).enumerate().for_each(|(i, out)| {
        out.copy_from_slice(ds.base.row(i % n_src));
        if i >= n_src {
            let mut rng =
                ChaCha8Rng::seed_from_u64(seed ^ (i as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15));
            for x in out.iter_mut() {
                *x += sigma * gauss(&mut rng);
            }
            let norm = out.iter().map(|x| x * x).sum::<f32>().sqrt();
            out.iter_mut().for_each(|x| *x /= norm);
        }
    });
    eprintln!("base: {n} × {dim}; ground truth …");
    let exact = FlatIndex::new(dim, Metric::InnerProduct)?;
    let ids: Vec<u64> = (0..n as u64).collect();
    nexus_index::Index::add_batch(&exact, &ids, &flat)?;
    let truth = exact.search_batch(ds.queries.as_flat(), GT_K, None)?;
    let rows: Vec<Vec<i32>> = truth
        .iter()
        .map(|hits| hits.iter().map(|h| h.0 as i32).collect())
        .collect();
    std::fs::create_dir_all(&dst)?;
    Vectors::from_flat(dim, flat)?.write(dst.join("base.fvecs"))?;
    ds.queries.write(dst.join("query.fvecs"))?;
    Vectors::from_rows(&rows)?.write(dst.join("groundtruth.ivecs"))?;
    let meta = format!(
        "{{\n  \"metric\": \"cosine\",\n  \"dim\": {dim},\n  \"n_base\": {n},\n  \"n_query\": {},\n  \"groundtruth_k\": {GT_K},\n  \"normalized\": true,\n  \"how\": \"{} base vectors repeated to {n}, every copy after the first perturbed with Gaussian noise of expected norm {noise} (seed {seed}) and re-normalised; the same queries; exact top-{GT_K} by inner product (f32 scan)\"\n}}\n",
        ds.queries.len(),
        src.display()
    );
    std::fs::write(dst.join("meta.json"), meta)?;
    eprintln!("wrote {}", dst.display());
    Ok(())
}
